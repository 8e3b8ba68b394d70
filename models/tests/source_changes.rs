//! Source changes during a run (what a scenario's `load` does): the arrival rate follows them.

use models::queueing::{
    QNet, QNetConfig, QNetError, Route, SourceChange, SourceConfig, StationConfig, Target,
};
use simcore::{Dist, RunResult, SimConfig, SimTime, Simulation, StopAt};

const SEC: u64 = 1_000_000_000;

fn rate(per_s: f64) -> Dist {
    Dist::exponential(1e9 / per_s).unwrap()
}

fn config(changes: Vec<SourceChange>) -> QNetConfig {
    QNetConfig {
        sources: vec![SourceConfig {
            name: "arrivals".into(),
            interarrival: rate(1.0),
            customers: None,
            route: Route::to(Target::Station("server".into())),
        }],
        stations: vec![StationConfig {
            name: "server".into(),
            servers: 100,
            service: Dist::constant(1e6).unwrap(),
            route: Route::to(Target::Exit),
            queue_limit: None,
        }],
        changes,
        ..Default::default()
    }
}

fn arrivals(changes: Vec<SourceChange>, seed: u64, secs: u64) -> (u64, RunResult) {
    let sim = Simulation::new(QNet::new(config(changes)).unwrap(), SimConfig::new(seed));
    let stop = StopAt {
        time: Some(SimTime::from_nanos(secs * SEC)),
        events: None,
    };
    let r = sim.run(stop).unwrap().0;
    let n = r
        .metrics
        .get("arrivals.arrivals")
        .unwrap()
        .stat("value")
        .unwrap() as u64;
    (n, r)
}

fn change(at_s: u64, per_s: f64) -> SourceChange {
    SourceChange {
        at: SimTime::from_nanos(at_s * SEC),
        source: "arrivals".into(),
        interarrival: rate(per_s),
    }
}

/// Poisson counts: the count over a window with mean m is within 5 standard deviations of m.
fn poisson_close(count: u64, mean: f64, what: &str) {
    let sd = mean.sqrt();
    assert!(
        (count as f64 - mean).abs() <= 5.0 * sd,
        "{what}: {count} arrivals, expected {mean} +- {:.0}",
        5.0 * sd
    );
}

#[test]
fn a_rate_change_applies_from_its_time_and_an_undo_restores_it() {
    // 1/s for 2000s, 4/s for 2000s, 1/s again for 2000s: 2000 + 8000 + 2000 expected.
    let (n, r) = arrivals(vec![change(2000, 4.0), change(4000, 1.0)], 11, 6000);
    poisson_close(n, 12_000.0, "1/s, 4/s, 1/s");
    let (base, _) = arrivals(vec![], 11, 6000);
    poisson_close(base, 6000.0, "no change");
    // The change is in the trace: the hash differs from the unchanged run's.
    let (_, r2) = arrivals(vec![], 11, 6000);
    assert_ne!(r.trace_hash, r2.trace_hash);
    // And the run is deterministic.
    let (n2, r3) = arrivals(vec![change(2000, 4.0), change(4000, 1.0)], 11, 6000);
    assert_eq!((n, r.trace_hash), (n2, r3.trace_hash));
}

#[test]
fn changes_may_come_in_any_order_and_name_a_real_source() {
    let (a, ra) = arrivals(vec![change(2000, 4.0), change(4000, 1.0)], 3, 6000);
    let (b, rb) = arrivals(vec![change(4000, 1.0), change(2000, 4.0)], 3, 6000);
    assert_eq!(
        a, b,
        "the same changes in another order give the same arrivals"
    );
    assert_ne!(
        ra.trace_hash, rb.trace_hash,
        "but the trace records which change fired"
    );
    let mut bad = config(vec![change(1, 2.0)]);
    bad.changes[0].source = "nobody".into();
    assert!(matches!(QNet::new(bad), Err(QNetError::UnknownSource(s)) if s == "nobody"));
}

//! `native run FILE.scn --compare N`: the scenario N times on the machine and over N seeds in the
//! simulator, and how far apart they are, metric by metric.
//!
//! Both sides measure the same things the same way: the time from a leader's crash to the next
//! leader, a leader's time from appending an entry to knowing it committed (the same
//! `models::raft::latency::CommitClock` in the simulated cluster and in the node process), the
//! clients' operation latency (the same client code), and messages sent per committed entry
//! (Raft messages, client requests and replies on both sides). Each latency's samples are pooled
//! over the runs; messages per entry is one value per run. The error is the measured median's
//! distance from the simulated one, relative to the simulated one.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use models::raft::cluster::Cluster;
use simcore::{Dist, MetricValue, SimConfig, Simulation, StopAt};

use crate::run::{NativeReport, RunArgs, RunError, load_cluster, run};

/// One metric on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    /// Whether values are nanoseconds.
    pub is_duration: bool,
    pub sim: Option<Stats>,
    pub native: Option<Stats>,
    /// The simulator with the network calibrated on this machine (`--calibration`).
    pub calibrated: Option<Stats>,
}

/// (measured median - simulated median) / simulated median, when both were measured.
fn error_of(sim: Option<Stats>, native: Option<Stats>) -> Option<f64> {
    let (s, n) = (sim?, native?);
    (s.median != 0.0).then(|| (n.median - s.median) / s.median)
}

impl Row {
    /// The measured median's error against the simulator as the scenario says.
    pub fn error(&self) -> Option<f64> {
        error_of(self.sim, self.native)
    }

    /// The measured median's error against the calibrated simulator.
    pub fn calibrated_error(&self) -> Option<f64> {
        error_of(self.calibrated, self.native)
    }
}

/// Median and 99th percentile of a sample set, and its size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub p99: f64,
    pub n: usize,
}

/// Nearest-rank percentiles of `values`; None when there are none.
pub fn stats(values: &[f64]) -> Option<Stats> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Stats {
        median: at(0.5),
        p99: at(0.99),
        n: v.len(),
    })
}

/// What one side measured, pooled over its runs.
#[derive(Debug, Default)]
struct Side {
    election: Vec<f64>,
    commit: Vec<f64>,
    op: Vec<f64>,
    per_entry: Vec<f64>,
}

impl Side {
    fn rows(sim: &Side, native: &Side, calibrated: Option<&Side>) -> Vec<Row> {
        let row = |metric, is_duration, f: fn(&Side) -> &Vec<f64>| Row {
            metric,
            is_duration,
            sim: stats(f(sim)),
            native: stats(f(native)),
            calibrated: calibrated.and_then(|c| stats(f(c))),
        };
        vec![
            row("time to elect a leader after a leader crash", true, |s| {
                &s.election
            }),
            row("commit latency (leader append to commit)", true, |s| {
                &s.commit
            }),
            row("client operation latency", true, |s| &s.op),
            row("messages per committed entry", false, |s| &s.per_entry),
        ]
    }
}

/// Runs the comparison: `runs` native runs (seeds from the scenario's, or `--seed`, on), then
/// the simulator over the same seeds, as the scenario says and, with `calibrated`, with that
/// network latency instead.
pub fn compare(
    args: &RunArgs,
    runs: usize,
    calibrated: Option<Dist>,
    stop: Arc<AtomicBool>,
) -> Result<Vec<Row>, RunError> {
    let (_, seed, _, _) = load_cluster(&args.scenario, args.seed)?;
    let mut native = Side::default();
    for k in 0..runs as u64 {
        let one = RunArgs {
            seed: Some(seed + k),
            keep: false,
            ..args.clone()
        };
        let r = run(&one, Arc::clone(&stop))?;
        add_native(&mut native, &r);
    }
    let sim = sim_side(args, seed, runs, None)?;
    let cal = match calibrated {
        Some(d) => Some(sim_side(args, seed, runs, Some(d))?),
        None => None,
    };
    Ok(Side::rows(&sim, &native, cal.as_ref()))
}

/// The simulator over `runs` seeds from `seed`, recording, with the network latency replaced
/// by `latency` when given.
fn sim_side(
    args: &RunArgs,
    seed: u64,
    runs: usize,
    latency: Option<Dist>,
) -> Result<Side, RunError> {
    let mut sim = Side::default();
    for k in 0..runs as u64 {
        let (mut cfg, seed, _, duration) = load_cluster(&args.scenario, Some(seed + k))?;
        if let Some(d) = &latency {
            cfg.link.latency = d.clone();
        }
        let (raft, network) = (cfg.name.clone(), cfg.network.clone());
        let load = cfg
            .load
            .as_ref()
            .map(|l| l.name.clone())
            .unwrap_or_default();
        let model = Cluster::new(cfg).map_err(RunError::Scenario)?;
        let config = SimConfig {
            record: true,
            ..SimConfig::new(seed)
        };
        let stop = StopAt {
            time: args.until.or(duration),
            events: None,
        };
        let (r, _) = Simulation::new(model, config)
            .run(stop)
            .map_err(|e| RunError::Scenario(e.to_string()))?;
        // Every value recorded (at its histogram bucket, within 0.1%), so `n` is the true count.
        let dist = |name: String| -> Vec<f64> {
            r.distributions
                .get(&name)
                .map(|h| {
                    h.counted()
                        .flat_map(|(v, c)| std::iter::repeat_n(v as f64, c as usize))
                        .collect()
                })
                .unwrap_or_default()
        };
        sim.election.extend(dist(format!("{raft}.election_time")));
        sim.commit.extend(dist(format!("{raft}.commit_latency")));
        sim.op.extend(dist(format!("{load}.latency")));
        let counter = |name: String| match r.metrics.get(&name) {
            Some(MetricValue::Counter { value }) => *value as f64,
            _ => 0.0,
        };
        let commits = counter(format!("{raft}.commits"));
        if commits > 0.0 {
            sim.per_entry
                .push(counter(format!("{network}.sent")) / commits);
        }
    }
    Ok(sim)
}

fn add_native(side: &mut Side, r: &NativeReport) {
    let f = |v: &[u64]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    side.election.extend(f(&r.election_times_ns));
    side.commit.extend(f(&r.commit_latencies_ns));
    side.op.extend(f(&r.latencies_ns));
    if r.committed > 0 {
        side.per_entry.push(r.messages as f64 / r.committed as f64);
    }
}

/// The comparison as a table for people.
pub fn table(rows: &[Row], runs: usize) -> Vec<String> {
    let show = |s: Option<Stats>, d: bool| match s {
        Some(s) => (
            reports::text::show(s.median, d),
            reports::text::show(s.p99, d),
            s.n.to_string(),
        ),
        None => ("-".into(), "-".into(), "0".into()),
    };
    let pct = |e: Option<f64>| e.map_or("-".to_string(), |e| format!("{:+.1}%", e * 100.0));
    let calibrated = rows.iter().any(|r| r.calibrated.is_some());
    let mut head = format!(
        "{:<44} {:>9} {:>9} {:>6}   {:>9} {:>9} {:>6}   {:>8}",
        "metric", "sim p50", "sim p99", "n", "real p50", "real p99", "n", "error"
    );
    if calibrated {
        head.push_str(&format!(
            "   {:>9} {:>9} {:>8}",
            "cal p50", "cal p99", "cal err"
        ));
    }
    let mut out = vec![
        format!("{runs} run(s) on this machine, {runs} seed(s) in the simulator"),
        head,
    ];
    for r in rows {
        let (sm, sp, sn) = show(r.sim, r.is_duration);
        let (nm, np, nn) = show(r.native, r.is_duration);
        let mut line = format!(
            "{:<44} {sm:>9} {sp:>9} {sn:>6}   {nm:>9} {np:>9} {nn:>6}   {:>8}",
            r.metric,
            pct(r.error())
        );
        if calibrated {
            let (cm, cp, _) = show(r.calibrated, r.is_duration);
            line.push_str(&format!(
                "   {cm:>9} {cp:>9} {:>8}",
                pct(r.calibrated_error())
            ));
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_errors() {
        let s = stats(&[5.0, 1.0, 3.0, f64::NAN]).unwrap();
        assert_eq!((s.median, s.p99, s.n), (3.0, 5.0, 3));
        assert_eq!(stats(&[]), None);
        let row = Row {
            metric: "x",
            is_duration: false,
            sim: Some(Stats {
                median: 2.0,
                p99: 4.0,
                n: 1,
            }),
            native: Some(Stats {
                median: 3.0,
                p99: 5.0,
                n: 1,
            }),
            calibrated: Some(Stats {
                median: 4.0,
                p99: 5.0,
                n: 1,
            }),
        };
        assert_eq!(row.calibrated_error(), Some(-0.25));
        let lines = table(std::slice::from_ref(&row), 1);
        assert!(
            lines[1].contains("cal err") && lines[2].contains("+50.0%"),
            "{lines:?}"
        );
        assert_eq!(row.error(), Some(0.5));
        assert_eq!(
            Row {
                native: None,
                ..row
            }
            .error(),
            None
        );
    }
}

//! Queueing stations on hosts across a network: latency, partitions and their heal, loss with
//! retransmission, and client timeouts.
//!
//! The network is composed the way the world composes it: a small model here owns the [`Links`]
//! and the [`QNet`], its events carry the network's [`QEvent`]s, and it cuts and heals a
//! partition between host 0 and host 1.

use models::network::{LinkConfig, Links, Partition, Shape};
use models::queueing::{
    Placement, QEvent, QNet, QNetConfig, QNetError, Route, SourceConfig, StationConfig, Target,
};
use simcore::{
    Ctx, Dist, Encoder, Model, RngStream, RunResult, SimConfig, SimDuration, SimError, SimTime,
    Simulation, StopAt, TraceEvent,
};

const MS: f64 = 1e6;
const SEC: f64 = 1e9;

fn constant(ns: f64) -> Dist {
    Dist::constant(ns).unwrap()
}

fn exp(mean_ns: f64) -> Dist {
    Dist::exponential(mean_ns).unwrap()
}

fn at(secs: f64) -> SimTime {
    SimTime::from_nanos((secs * SEC).round() as u64)
}

fn source(name: &str, interarrival: Dist, customers: Option<u64>, to: &str) -> SourceConfig {
    SourceConfig {
        name: name.into(),
        interarrival,
        customers,
        route: Route::to(Target::Station(to.into())),
    }
}

fn station(name: &str, servers: u32, service: Dist, next: Target) -> StationConfig {
    StationConfig {
        name: name.into(),
        servers,
        service,
        route: Route::to(next),
        queue_limit: None,
    }
}

/// `users` (outside every host) -> `frontend` on host 0 -> `backend` on host 1 -> out.
fn two_tiers(users: SourceConfig, frontend: StationConfig, backend: StationConfig) -> QNetConfig {
    QNetConfig {
        sources: vec![users],
        stations: vec![frontend, backend],
        placement: Placement {
            stations: vec![Some(0), Some(1)],
            ..Placement::default()
        },
        ..QNetConfig::default()
    }
}

const BACKEND: u32 = 1;

#[derive(Clone, Copy, Debug)]
enum Ev {
    Q(QEvent),
    Split,
    Heal,
    Look(u32),
}

impl From<QEvent> for Ev {
    fn from(q: QEvent) -> Ev {
        Ev::Q(q)
    }
}

impl TraceEvent for Ev {
    fn encode(&self, enc: &mut Encoder<'_>) {
        match self {
            Ev::Q(q) => q.encode(enc),
            Ev::Split => {
                enc.u8(100);
            }
            Ev::Heal => {
                enc.u8(101);
            }
            Ev::Look(i) => {
                enc.u8(102).u32(*i);
            }
        }
    }
}

/// What station `watch` looked like at one instant.
#[derive(Debug, Clone, PartialEq)]
struct Look {
    busy: u32,
    /// Ids of the customers waiting, oldest first.
    waiting: Vec<u64>,
    in_flight: u64,
}

/// A world of two or more hosts: the queueing network, the links between the hosts, and a
/// partition between host 0 and host 1 over `window`.
struct OnHosts {
    qnet: QNet,
    links: Links,
    window: Option<(SimTime, SimTime)>,
    looks_at: Vec<SimTime>,
    watch: u32,
    looks: Vec<Look>,
}

impl Model for OnHosts {
    type Event = Ev;

    fn start(&mut self, ctx: &mut Ctx<'_, Ev>) -> Result<(), SimError> {
        self.qnet.start_in(ctx)?;
        if let Some((from, to)) = self.window {
            ctx.schedule_at(from, Ev::Split);
            ctx.schedule_at(to, Ev::Heal);
        }
        for (i, &t) in self.looks_at.iter().enumerate() {
            ctx.schedule_at(t, Ev::Look(i as u32));
        }
        Ok(())
    }

    fn handle(&mut self, event: Ev, ctx: &mut Ctx<'_, Ev>) {
        match event {
            Ev::Q(q) => self.qnet.handle_in(q, ctx, Some(&mut self.links)),
            Ev::Split => {
                let groups = Shape::Groups(vec![vec![0], vec![1]]);
                self.links.partition = Partition::shape(2, &groups, &mut RngStream::derive(0, "-"));
            }
            Ev::Heal => self.links.partition = Partition::none(),
            Ev::Look(_) => self.looks.push(Look {
                busy: self.qnet.busy(self.watch),
                waiting: self.qnet.waiting(self.watch).map(|c| c.id).collect(),
                in_flight: self.qnet.in_flight(),
            }),
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Ev>) {
        self.qnet.finish_in(ctx);
    }
}

struct Run {
    result: RunResult,
    looks: Vec<Look>,
}

fn run_on(
    config: QNetConfig,
    link: LinkConfig,
    window: Option<(f64, f64)>,
    looks_at: &[f64],
    seed: u64,
    until: Option<f64>,
) -> Run {
    let world = OnHosts {
        qnet: QNet::new(config).unwrap(),
        links: Links::full_mesh(2, link),
        window: window.map(|(a, b)| (at(a), at(b))),
        looks_at: looks_at.iter().map(|&t| at(t)).collect(),
        watch: BACKEND,
        looks: Vec::new(),
    };
    let stop = StopAt {
        time: until.map(at),
        events: None,
    };
    let (result, world) = Simulation::new(world, SimConfig::new(seed))
        .run(stop)
        .unwrap();
    Run {
        result,
        looks: world.looks,
    }
}

fn stat(r: &RunResult, metric: &str, stat: &str) -> f64 {
    r.metrics
        .get(metric)
        .unwrap_or_else(|| panic!("no metric {metric}"))
        .stat(stat)
        .unwrap_or_else(|| panic!("no {stat} of {metric}"))
}

/// Customers are conserved: every arrival has left after service, been dropped, or is still in
/// the network (in a queue, in service, or between hosts).
fn assert_conserved(r: &RunResult) {
    let arrivals = stat(r, "users.arrivals", "value");
    let exited = stat(r, "system.exited", "value");
    let dropped = stat(r, "frontend.dropped", "value") + stat(r, "backend.dropped", "value");
    let inside = stat(r, "system.in_system", "last");
    assert_eq!(
        arrivals,
        exited + dropped + inside,
        "customers not conserved"
    );
}

#[test]
fn a_customer_across_hosts_arrives_after_exactly_the_latency() {
    // One customer from a client on host 0 to a server on host 1 (3 ms away), served in 10 ms.
    let config = |server_host| QNetConfig {
        sources: vec![source("users", constant(SEC), Some(1), "server")],
        stations: vec![station("server", 1, constant(10.0 * MS), Target::Exit)],
        placement: Placement {
            sources: vec![Some(0)],
            stations: vec![Some(server_host)],
            ..Placement::default()
        },
        ..QNetConfig::default()
    };
    let link = LinkConfig::constant(SimDuration::from_millis(3));
    let across = run_on(config(1), link.clone(), None, &[], 1, None).result;
    for s in ["min", "max"] {
        assert_eq!(stat(&across, "system.response", s), 13.0 * MS, "{s}");
    }
    // Its sojourn at the server starts when it arrives there: the service alone.
    assert_eq!(stat(&across, "server.sojourn", "max"), 10.0 * MS);
    assert_eq!(stat(&across, "server.in_flight", "max"), 1.0);
    assert_eq!(stat(&across, "server.in_flight", "last"), 0.0);
    assert_eq!(stat(&across, "system.retransmits", "value"), 0.0);
    assert_eq!(across.events, 3, "arrival, delivery, departure");

    // On the same host, or with no network passed in, the hop is instant, as before.
    let same = run_on(config(0), link, None, &[], 1, None).result;
    assert_eq!(stat(&same, "system.response", "max"), 10.0 * MS);
    assert!(same.metrics.get("server.in_flight").is_none());
    let alone = Simulation::new(QNet::new(config(1)).unwrap(), SimConfig::new(1))
        .run(StopAt::default())
        .unwrap()
        .0;
    assert_eq!(stat(&alone, "system.response", "max"), 10.0 * MS);
}

#[test]
fn an_unplaced_network_reports_only_what_it_always_did() {
    let mut config = two_tiers(
        source("users", exp(SEC), Some(100), "frontend"),
        station(
            "frontend",
            1,
            exp(0.1 * SEC),
            Target::Station("backend".into()),
        ),
        station("backend", 1, exp(0.1 * SEC), Target::Exit),
    );
    config.placement = Placement::default();
    let r = run_on(
        config,
        LinkConfig::constant(SimDuration::from_millis(1)),
        None,
        &[],
        3,
        None,
    )
    .result;
    let names: Vec<&str> = r.metrics.0.keys().map(String::as_str).collect();
    for new in [
        "users.timeouts",
        "frontend.in_flight",
        "backend.in_flight",
        "system.retransmits",
    ] {
        assert!(!names.contains(&new), "{new} in {names:?}");
    }
    assert_eq!(stat(&r, "system.exited", "value"), 100.0);
}

/// A client every 110 ms; the frontend (host 0) takes 1 ms, the backend (host 1, 1 ms away)
/// 50 ms; host 0 and host 1 are cut apart from 10.05 s to 20.05 s.
fn partitioned(looks_at: &[f64]) -> Run {
    let config = two_tiers(
        source("users", constant(110.0 * MS), None, "frontend"),
        station(
            "frontend",
            1,
            constant(MS),
            Target::Station("backend".into()),
        ),
        station("backend", 1, constant(50.0 * MS), Target::Exit),
    );
    let link = LinkConfig::constant(SimDuration::from_millis(1));
    run_on(config, link, Some((10.05, 20.05)), looks_at, 1, Some(60.0))
}

#[test]
fn a_partition_holds_customers_until_the_heal_then_delivers_them_in_order() {
    let run = partitioned(&[15.0, 22.7, 22.73, 59.99]);
    let r = &run.result;
    // Customer k (from 1) arrives at 110k ms and leaves the frontend 1 ms later. The first sent
    // into the partition is k = 92 (10.121 s); it is sent again 200 ms later, then after 400,
    // 800, 1600 and 3200 ms, and 3200 ms twice more (the cap): 7 retransmissions, the last at
    // 22.721 s, after the heal, gets through. Until then the connection holds the customers
    // behind it, k = 93..206, so 115 reach the backend at 22.722 s, in a burst.
    assert_eq!(stat(r, "system.retransmits", "value"), 7.0);
    assert_eq!(stat(r, "backend.in_flight", "max"), 115.0);
    // During the partition, nothing reaches the backend: idle, nothing waiting, and the
    // customers pile up on the network (k = 92..136 by 15 s, 92..206 by 22.7 s).
    let idle = |in_flight| Look {
        busy: 0,
        waiting: vec![],
        in_flight,
    };
    assert_eq!(run.looks[0], idle(45));
    assert_eq!(run.looks[1], idle(115));
    // Just after the burst: the first (id 91) in service, the other 114 waiting in the order
    // they were sent, and nothing left on the network.
    assert_eq!(run.looks[2].busy, 1);
    assert_eq!(run.looks[2].waiting, (92..206).collect::<Vec<u64>>());
    assert_eq!(run.looks[2].in_flight, 0);
    // The backend's queue rose to 114 and drained (it serves 20/s against 9.1/s arriving).
    assert_eq!(stat(r, "backend.queue_len", "max"), 114.0);
    assert_eq!(stat(r, "backend.queue_len", "last"), 0.0);
    assert_eq!(run.looks[3].waiting.len(), 0);
    assert_eq!(stat(r, "backend.in_flight", "last"), 0.0);
    assert_conserved(r);
}

#[test]
fn a_connection_hands_customers_over_in_the_order_they_were_sent() {
    // Latencies from 1 to 50 ms, a customer sent every 10 ms: later messages often arrive
    // first, and wait for the earlier ones, as TCP's receiver holds them. The backend (50/s
    // against 100/s arriving) builds a queue, which must be in the order of sending.
    let mut link = LinkConfig::constant(SimDuration::ZERO);
    link.latency = Dist::uniform(MS, 50.0 * MS).unwrap();
    let config = two_tiers(
        source("users", constant(10.0 * MS), Some(200), "frontend"),
        station(
            "frontend",
            1,
            constant(MS),
            Target::Station("backend".into()),
        ),
        station("backend", 1, constant(20.0 * MS), Target::Exit),
    );
    let run = run_on(config, link, None, &[0.5, 1.0, 1.5, 2.0], 11, None);
    for look in &run.looks {
        assert!(look.waiting.len() > 10, "{look:?}");
        assert!(
            look.waiting.windows(2).all(|w| w[0] + 1 == w[1]),
            "out of order: {:?}",
            look.waiting
        );
    }
    assert_eq!(stat(&run.result, "system.exited", "value"), 200.0);
}

#[test]
fn loss_with_retransmission_delivers_every_customer_exactly_once() {
    // 20% of messages lost and 10% duplicated, latencies from 1 to 5 ms (so messages overtake
    // each other): 20,000 customers, each must leave exactly once.
    let mut link = LinkConfig::constant(SimDuration::ZERO);
    link.latency = Dist::uniform(MS, 5.0 * MS).unwrap();
    link.loss = 0.2;
    link.duplicate = 0.1;
    let config = || {
        two_tiers(
            source("users", exp(10.0 * MS), Some(20_000), "frontend"),
            station(
                "frontend",
                2,
                exp(5.0 * MS),
                Target::Station("backend".into()),
            ),
            station("backend", 2, exp(5.0 * MS), Target::Exit),
        )
    };
    let drained = run_on(config(), link.clone(), None, &[], 7, None).result;
    assert_eq!(stat(&drained, "system.exited", "value"), 20_000.0);
    assert_eq!(stat(&drained, "backend.served", "value"), 20_000.0);
    assert_eq!(stat(&drained, "system.in_system", "last"), 0.0);
    assert_eq!(stat(&drained, "backend.in_flight", "last"), 0.0);
    // Each loss costs one retransmission: r = 0.2 (20,000 + r), so r = 5,000 (sd about 80).
    let r = stat(&drained, "system.retransmits", "value");
    assert!((4_600.0..=5_400.0).contains(&r), "retransmits {r}");
    // A lost message waits at least 200 ms, so some responses take that long.
    assert!(stat(&drained, "system.response", "max") > 200.0 * MS);

    // Stopped half way, with customers on the network: still conserved.
    let half = run_on(config(), link, None, &[], 7, Some(100.0)).result;
    assert!(stat(&half, "system.in_system", "last") > 0.0);
    assert_conserved(&half);
}

/// A client every second, 10 in all, with a 5 s timeout, at one server taking 2.5 s each:
/// customer i (from 0) arrives at i + 1 s and leaves at 3.5 + 2.5 i s, so its response takes
/// 2.5 + 1.5 i s, beyond 5 s from i = 2 on.
fn slow_server(until: Option<f64>) -> RunResult {
    let config = QNetConfig {
        sources: vec![source("users", constant(SEC), Some(10), "server")],
        stations: vec![station("server", 1, constant(2.5 * SEC), Target::Exit)],
        timeouts: vec![Some(SimDuration::from_secs(5))],
        ..QNetConfig::default()
    };
    let sim = Simulation::new(QNet::new(config).unwrap(), SimConfig::new(1));
    let stop = StopAt {
        time: until.map(at),
        events: None,
    };
    sim.run(stop).unwrap().0
}

#[test]
fn a_timed_out_request_is_still_served_and_counted_once() {
    let r = slow_server(None);
    // Every request is served (the work is wasted on 8 of them), and 8 count as timed out.
    assert_eq!(stat(&r, "server.served", "value"), 10.0);
    assert_eq!(stat(&r, "system.exited", "value"), 10.0);
    assert_eq!(stat(&r, "users.timeouts", "value"), 8.0);
    // Stopped at 15 s: i = 2, 3, 4 answered late (5.5, 7 and 8.5 s), and i = 5..8 still
    // inside past their deadline (ages 9, 8, 7, 6 s); i = 9 is exactly 5 s old, not beyond.
    let r = slow_server(Some(15.0));
    assert_eq!(stat(&r, "system.exited", "value"), 5.0);
    assert_eq!(stat(&r, "users.timeouts", "value"), 7.0);
}

#[test]
fn placement_is_checked() {
    let base = || {
        two_tiers(
            source("users", exp(SEC), None, "frontend"),
            station("frontend", 1, exp(SEC), Target::Station("backend".into())),
            station("backend", 1, exp(SEC), Target::Exit),
        )
    };
    let mut three = base();
    three.placement.stations.push(Some(2));
    assert!(matches!(
        QNet::new(three),
        Err(QNetError::TooManyEntries {
            given: 3,
            have: 2,
            ..
        })
    ));
    let mut zero = base();
    zero.placement.retransmit = SimDuration::ZERO;
    assert!(matches!(QNet::new(zero), Err(QNetError::ZeroRetransmit)));
    let mut timeouts = base();
    timeouts.timeouts = vec![None, None];
    assert!(QNet::new(timeouts).is_err());
}

/// `scenarios/queue-partition.scn`, built directly: clients at 40/s with a 2 s timeout, a
/// frontend on host `fe` (0), a backend on host `be` (1), a LAN between them, and `fe` and `be`
/// cut apart from 30 s to 45 s.
fn queue_partition(seed: u64, partition: bool) -> Run {
    let mut config = two_tiers(
        source("users", exp(25.0 * MS), None, "frontend"),
        station(
            "frontend",
            4,
            exp(20.0 * MS),
            Target::Station("backend".into()),
        ),
        station("backend", 2, exp(20.0 * MS), Target::Exit),
    );
    config.timeouts = vec![Some(SimDuration::from_secs(2))];
    let mut lan = LinkConfig::constant(SimDuration::ZERO);
    lan.latency = Dist::uniform(0.2 * MS, 0.6 * MS).unwrap();
    let window = partition.then_some((30.0, 45.0));
    run_on(config, lan, window, &[40.0], seed, Some(120.0))
}

#[test]
fn the_queue_partition_scenario_teaches_its_lesson() {
    for seed in 1..=4 {
        let cut = queue_partition(seed, true);
        let r = &cut.result;
        // 15 s of clients (about 600) wait on the network; their responses come too late.
        assert!(stat(r, "backend.in_flight", "max") > 450.0, "seed {seed}");
        assert!(stat(r, "users.timeouts", "value") > 450.0, "seed {seed}");
        // Nothing reaches the backend during the partition...
        assert_eq!((cut.looks[0].busy, cut.looks[0].waiting.len()), (0, 0));
        // ... and after the heal they all do at once: its queue peaks, then drains by the end.
        assert!(stat(r, "backend.queue_len", "max") > 400.0, "seed {seed}");
        assert!(stat(r, "backend.queue_len", "last") < 10.0, "seed {seed}");
        assert!(stat(r, "system.retransmits", "value") > 0.0, "seed {seed}");
        assert_conserved(r);

        // Without the partition, the same load never waits that long.
        let calm = queue_partition(seed, false).result;
        assert_eq!(stat(&calm, "users.timeouts", "value"), 0.0, "seed {seed}");
        assert!(
            stat(&calm, "backend.queue_len", "max") < 40.0,
            "seed {seed}"
        );
        assert_eq!(
            stat(&calm, "system.retransmits", "value"),
            0.0,
            "seed {seed}"
        );
    }
}

//! An open queueing network: sources, FIFO stations with k servers, and probabilistic routing.
//!
//! Customers arrive from each source with its interarrival distribution, are routed to a station,
//! wait in that station's FIFO queue until one of its `servers` is free, are served for a time
//! drawn from the station's service distribution, and are then routed to another station or out.
//! With exponential interarrival and service times this is a Jackson network, whose closed forms
//! ([`super::theory`]) the tests check the model against.
//!
//! Random streams, one per purpose so that changing one never shifts another:
//! `<source>.interarrival`, `<source>.route`, `<station>.service`, `<station>.route`.
//!
//! Metrics (durations in ns): per station `wait` (time in queue), `sojourn` (queue + service),
//! `served`, `queue_len` and `busy` (time-weighted); per source `arrivals`; for the whole network
//! `system.response` (entry to exit), `system.in_system` (time-weighted) and `system.exited`.

use std::collections::VecDeque;

use simcore::metrics::{CounterId, GaugeId, HistogramId};
use simcore::{
    Ctx, Dist, Encoder, Model, SimDuration, SimError, SimTime, StreamId, TraceEvent, Unit,
};

/// Where a customer goes next.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// To the station with this name.
    Station(String),
    /// Out of the network.
    Exit,
}

/// A routing choice: `(target, weight)` pairs; weights are relative (they need not sum to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Route(pub Vec<(Target, f64)>);

impl Route {
    pub fn to(target: Target) -> Route {
        Route(vec![(target, 1.0)])
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SourceConfig {
    pub name: String,
    /// Time between arrivals, in nanoseconds.
    pub interarrival: Dist,
    /// Stop after this many customers (none: arrive until the run stops).
    pub customers: Option<u64>,
    pub route: Route,
}

/// The most servers a station may have (each has a slot in memory).
pub const MAX_SERVERS: u32 = 1_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct StationConfig {
    pub name: String,
    pub servers: u32,
    /// Service time, in nanoseconds.
    pub service: Dist,
    /// Where customers go after service (default: out of the network).
    pub route: Route,
    /// The most customers that may wait (not counting those in service). An arrival to a full
    /// queue is dropped and counted as `dropped`. Unbounded networks are still bounded by the
    /// simulation's pending-event limit through their sources.
    pub queue_limit: Option<u64>,
}

/// A change to a source during a run (what `load` does in a scenario): from `at` on, the source
/// draws its interarrival times from `interarrival`. The arrival already scheduled keeps its time.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceChange {
    pub at: SimTime,
    pub source: String,
    pub interarrival: Dist,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct QNetConfig {
    pub sources: Vec<SourceConfig>,
    pub stations: Vec<StationConfig>,
    /// Changes to sources during the run, in any order.
    pub changes: Vec<SourceChange>,
}

/// A configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QNetError {
    #[error("the network needs at least one source and one station")]
    Empty,
    #[error("\"{0}\" is the name of two components; names must be unique")]
    DuplicateName(String),
    #[error("{from} routes to \"{to}\", which is not a station")]
    UnknownStation { from: String, to: String },
    #[error("{0}: a route needs at least one target with a positive weight")]
    EmptyRoute(String),
    #[error("{0}: route weights must be finite and not negative")]
    BadWeight(String),
    #[error("station {0}: needs at least one server")]
    NoServers(String),
    #[error("station {0}: at most {MAX_SERVERS} servers")]
    TooManyServers(String),
    #[error("a change names \"{0}\", which is not a source")]
    UnknownSource(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    Station(u32),
    Exit,
}

/// A resolved route: cumulative weights, so a choice is one uniform draw and a short scan.
#[derive(Clone, Debug)]
struct Router {
    cumulative: Vec<(f64, Dest)>,
}

impl Router {
    #[inline]
    fn choose(&self, rng: &mut simcore::RngStream) -> Dest {
        if let [(_, only)] = self.cumulative.as_slice() {
            return *only; // no draw for a fixed route
        }
        let total = self.cumulative.last().map_or(0.0, |c| c.0);
        let u = rng.next_f64() * total;
        self.cumulative
            .iter()
            .find(|(c, _)| u < *c)
            .or(self.cumulative.last())
            .map_or(Dest::Exit, |c| c.1)
    }
}

/// One customer: an identity and the times needed for its metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Customer {
    pub id: u64,
    pub entered: SimTime,
    pub arrived_here: SimTime,
}

/// The network's events.
///
/// Kept small (12 bytes) because every pending event is moved through the event queue's heap: the
/// customer in service stays in its station's server slot, and the departure names the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QEvent {
    /// The next customer of a source arrives.
    Arrival { source: u32 },
    /// The customer served by server `slot` of a station finishes service.
    Departure { station: u32, slot: u32 },
    /// Change number `index` of the configuration takes effect.
    Change { index: u32 },
}

impl TraceEvent for QEvent {
    /// Inlined into the event loop, so the writes land at known offsets (see `simcore::Encoder`).
    #[inline(always)]
    fn encode(&self, enc: &mut Encoder<'_>) {
        match *self {
            QEvent::Arrival { source } => enc.u8(0).u32(source),
            QEvent::Departure { station, slot } => enc.u8(1).u32(station).u32(slot),
            QEvent::Change { index } => enc.u8(2).u32(index),
        };
    }
}

struct Source {
    cfg: SourceConfig,
    router: Router,
    left: Option<u64>,
    interarrival: StreamId,
    route: StreamId,
    arrivals: CounterId,
}

struct Station {
    cfg: StationConfig,
    router: Router,
    queue: VecDeque<Customer>,
    /// The customer each server is serving, if any (`servers` slots).
    slots: Vec<Option<Customer>>,
    /// Idle servers' slots; the top is the next to take work.
    idle: Vec<u32>,
    busy: u32,
    service: StreamId,
    route: StreamId,
    wait: HistogramId,
    sojourn: HistogramId,
    served: CounterId,
    dropped: CounterId,
    queue_len: GaugeId,
    busy_gauge: GaugeId,
}

struct SystemMetrics {
    response: HistogramId,
    in_system: GaugeId,
    exited: CounterId,
}

/// The queueing network model. Build with [`QNet::new`], run with [`simcore::Simulation`].
pub struct QNet {
    /// The validated configuration, until `start` registers its streams and metrics.
    unstarted: Option<(QNetConfig, Vec<Router>, Vec<Router>)>,
    /// Source changes: which source, and its new interarrival distribution.
    changes: Vec<(u32, Dist)>,
    sources: Vec<Source>,
    stations: Vec<Station>,
    system: Option<SystemMetrics>,
    in_system: u64,
    next_customer: u64,
}

fn resolve(route: &Route, from: &str, names: &[&str]) -> Result<Router, QNetError> {
    let mut cumulative = Vec::with_capacity(route.0.len());
    let mut total = 0.0;
    for (target, weight) in &route.0 {
        if !weight.is_finite() || *weight < 0.0 {
            return Err(QNetError::BadWeight(from.to_string()));
        }
        let dest = match target {
            Target::Exit => Dest::Exit,
            Target::Station(name) => match names.iter().position(|n| n == name) {
                Some(i) => Dest::Station(i as u32),
                None => {
                    return Err(QNetError::UnknownStation {
                        from: from.to_string(),
                        to: name.clone(),
                    });
                }
            },
        };
        if *weight > 0.0 {
            total += weight;
            cumulative.push((total, dest));
        }
    }
    if cumulative.is_empty() {
        return Err(QNetError::EmptyRoute(from.to_string()));
    }
    Ok(Router { cumulative })
}

impl QNet {
    pub fn new(config: QNetConfig) -> Result<QNet, QNetError> {
        if config.sources.is_empty() || config.stations.is_empty() {
            return Err(QNetError::Empty);
        }
        let station_names: Vec<&str> = config.stations.iter().map(|s| s.name.as_str()).collect();
        let mut all: Vec<&str> = station_names.clone();
        all.extend(config.sources.iter().map(|s| s.name.as_str()));
        all.push("system");
        let mut sorted = all.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(QNetError::DuplicateName(w[0].to_string()));
        }
        let mut source_routers = Vec::new();
        for cfg in &config.sources {
            source_routers.push(resolve(
                &cfg.route,
                &format!("source {}", cfg.name),
                &station_names,
            )?);
        }
        let mut station_routers = Vec::new();
        for cfg in &config.stations {
            if cfg.servers == 0 {
                return Err(QNetError::NoServers(cfg.name.clone()));
            }
            if cfg.servers > MAX_SERVERS {
                return Err(QNetError::TooManyServers(cfg.name.clone()));
            }
            station_routers.push(resolve(
                &cfg.route,
                &format!("station {}", cfg.name),
                &station_names,
            )?);
        }
        let mut changes = Vec::with_capacity(config.changes.len());
        for c in &config.changes {
            match config.sources.iter().position(|s| s.name == c.source) {
                Some(i) => changes.push((i as u32, c.interarrival.clone())),
                None => return Err(QNetError::UnknownSource(c.source.clone())),
            }
        }
        if u32::try_from(changes.len()).is_err() {
            return Err(QNetError::UnknownSource("(too many changes)".into()));
        }
        Ok(QNet {
            unstarted: Some((config, source_routers, station_routers)),
            changes,
            sources: Vec::new(),
            stations: Vec::new(),
            system: None,
            in_system: 0,
            next_customer: 0,
        })
    }

    /// A customer enters station `s` at `now`: straight into service if a server is free.
    #[inline]
    fn enter(&mut self, s: u32, mut customer: Customer, ctx: &mut Ctx<'_, QEvent>) {
        let now = ctx.now();
        customer.arrived_here = now;
        let st = &mut self.stations[s as usize];
        if let Some(slot) = st.idle.pop() {
            debug_assert!(
                st.slots[slot as usize].is_none(),
                "an idle server was serving"
            );
            st.slots[slot as usize] = Some(customer);
            st.busy += 1;
            let busy = st.busy as f64;
            let (wait, busy_gauge, service) = (st.wait, st.busy_gauge, st.service);
            let d = SimDuration::from_nanos_f64(st.cfg.service.sample(ctx.rng(service)));
            let m = ctx.metrics();
            m.record(wait, 0);
            m.set(busy_gauge, now, busy);
            ctx.schedule_in(d, QEvent::Departure { station: s, slot });
        } else if st
            .cfg
            .queue_limit
            .is_some_and(|limit| st.queue.len() as u64 >= limit)
        {
            let dropped = st.dropped;
            tracing::debug!(station = %st.cfg.name, customer = customer.id, "queue full, customer dropped");
            ctx.metrics().add(dropped, 1);
            self.leave_system(customer, false, ctx);
        } else {
            st.queue.push_back(customer);
            let (len, gauge) = (st.queue.len() as f64, st.queue_len);
            ctx.metrics().set(gauge, now, len);
        }
    }

    /// Sends a customer along `dest`.
    #[inline]
    fn forward(&mut self, dest: Dest, customer: Customer, ctx: &mut Ctx<'_, QEvent>) {
        match dest {
            Dest::Station(s) => self.enter(s, customer, ctx),
            Dest::Exit => self.leave_system(customer, true, ctx),
        }
    }

    fn leave_system(&mut self, customer: Customer, served: bool, ctx: &mut Ctx<'_, QEvent>) {
        let now = ctx.now();
        debug_assert!(self.in_system > 0, "a customer left an empty network");
        self.in_system -= 1;
        let in_system = self.in_system as f64;
        let sys = self.system.as_ref().expect("metrics registered at start");
        let (response, gauge, exited) = (sys.response, sys.in_system, sys.exited);
        let m = ctx.metrics();
        if served {
            m.record_duration(response, now.saturating_since(customer.entered));
            m.add(exited, 1);
        }
        m.set(gauge, now, in_system);
    }

    fn arrival(&mut self, source: u32, ctx: &mut Ctx<'_, QEvent>) {
        let now = ctx.now();
        let src = &mut self.sources[source as usize];
        if let Some(left) = &mut src.left {
            debug_assert!(*left > 0, "an exhausted source fired");
            *left -= 1;
        }
        let more = src.left != Some(0);
        let (ia_stream, route_stream, arrivals) = (src.interarrival, src.route, src.arrivals);
        if more {
            let gap = SimDuration::from_nanos_f64(src.cfg.interarrival.sample(ctx.rng(ia_stream)));
            ctx.schedule_in(gap, QEvent::Arrival { source });
        }
        let dest = self.sources[source as usize]
            .router
            .choose(ctx.rng(route_stream));
        let customer = Customer {
            id: self.next_customer,
            entered: now,
            arrived_here: now,
        };
        self.next_customer += 1;
        self.in_system += 1;
        let gauge = self
            .system
            .as_ref()
            .expect("metrics registered at start")
            .in_system;
        let in_system = self.in_system as f64;
        let m = ctx.metrics();
        m.add(arrivals, 1);
        m.set(gauge, now, in_system);
        self.forward(dest, customer, ctx);
    }

    fn departure(&mut self, s: u32, slot: u32, ctx: &mut Ctx<'_, QEvent>) {
        let now = ctx.now();
        let st = &mut self.stations[s as usize];
        debug_assert!(
            st.busy > 0 && st.busy <= st.cfg.servers,
            "busy servers out of range"
        );
        let Some(customer) = st.slots.get_mut(slot as usize).and_then(Option::take) else {
            ctx.fail(format!(
                "station {}: departure from server {slot}, which is idle",
                st.cfg.name
            ));
            return;
        };
        let (sojourn, served, route) = (st.sojourn, st.served, st.route);
        if let Some(next) = st.queue.pop_front() {
            // The freed server takes the head of the queue at once.
            st.slots[slot as usize] = Some(next);
            let (wait, len, gauge, service) =
                (st.wait, st.queue.len() as f64, st.queue_len, st.service);
            let d = SimDuration::from_nanos_f64(st.cfg.service.sample(ctx.rng(service)));
            let m = ctx.metrics();
            m.record_duration(wait, now.saturating_since(next.arrived_here));
            m.set(gauge, now, len);
            ctx.schedule_in(d, QEvent::Departure { station: s, slot });
        } else {
            st.busy -= 1;
            st.idle.push(slot);
            let (busy, gauge) = (st.busy as f64, st.busy_gauge);
            ctx.metrics().set(gauge, now, busy);
        }
        let m = ctx.metrics();
        m.record_duration(sojourn, now.saturating_since(customer.arrived_here));
        m.add(served, 1);
        let dest = self.stations[s as usize].router.choose(ctx.rng(route));
        self.forward(dest, customer, ctx);
    }

    /// Customers currently in the network (waiting or in service).
    pub fn in_system(&self) -> u64 {
        self.in_system
    }
}

fn setup(e: impl std::fmt::Display) -> SimError {
    SimError::Setup(e.to_string())
}

impl Model for QNet {
    type Event = QEvent;

    fn start(&mut self, ctx: &mut Ctx<'_, QEvent>) -> Result<(), SimError> {
        let (config, source_routers, station_routers) = self
            .unstarted
            .take()
            .ok_or_else(|| SimError::Setup("the network was already started".into()))?;
        let m = ctx.metrics();
        self.system = Some(SystemMetrics {
            response: m.histogram("system", "response", Unit::Ns).map_err(setup)?,
            in_system: m.gauge("system", "in_system").map_err(setup)?,
            exited: m.counter("system", "exited").map_err(setup)?,
        });
        for (cfg, router) in config.stations.into_iter().zip(station_routers) {
            let n = cfg.name.as_str();
            let m = ctx.metrics();
            let station = Station {
                wait: m.histogram(n, "wait", Unit::Ns).map_err(setup)?,
                sojourn: m.histogram(n, "sojourn", Unit::Ns).map_err(setup)?,
                served: m.counter(n, "served").map_err(setup)?,
                dropped: m.counter(n, "dropped").map_err(setup)?,
                queue_len: m.gauge(n, "queue_len").map_err(setup)?,
                busy_gauge: m.gauge(n, "busy").map_err(setup)?,
                service: ctx.stream(&format!("{n}.service"))?,
                route: ctx.stream(&format!("{n}.route"))?,
                queue: VecDeque::new(),
                slots: vec![None; cfg.servers as usize],
                // Reversed, so that server 0 takes work first.
                idle: (0..cfg.servers).rev().collect(),
                busy: 0,
                router,
                cfg,
            };
            self.stations.push(station);
        }
        for (i, (cfg, router)) in config.sources.into_iter().zip(source_routers).enumerate() {
            let n = cfg.name.as_str();
            let src = Source {
                arrivals: ctx.metrics().counter(n, "arrivals").map_err(setup)?,
                interarrival: ctx.stream(&format!("{n}.interarrival"))?,
                route: ctx.stream(&format!("{n}.route"))?,
                left: cfg.customers,
                router,
                cfg,
            };
            if src.left != Some(0) {
                // The first customer arrives one interarrival time after the start.
                let gap = SimDuration::from_nanos_f64(
                    src.cfg.interarrival.sample(ctx.rng(src.interarrival)),
                );
                ctx.schedule_in(gap, QEvent::Arrival { source: i as u32 });
            }
            self.sources.push(src);
        }
        for (index, change) in config.changes.iter().enumerate() {
            ctx.schedule_at(
                change.at,
                QEvent::Change {
                    index: index as u32,
                },
            );
        }
        Ok(())
    }

    #[inline]
    fn handle(&mut self, event: QEvent, ctx: &mut Ctx<'_, QEvent>) {
        match event {
            QEvent::Arrival { source } => self.arrival(source, ctx),
            QEvent::Departure { station, slot } => self.departure(station, slot, ctx),
            QEvent::Change { index } => {
                let (source, dist) = &self.changes[index as usize];
                tracing::debug!(source = %self.sources[*source as usize].cfg.name, ?dist, "source changed");
                self.sources[*source as usize].cfg.interarrival = dist.clone();
            }
        }
    }
}

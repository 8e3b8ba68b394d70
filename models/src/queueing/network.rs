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
//!
//! # On hosts, across a network
//!
//! Sources and stations may be placed on hosts ([`Placement`]). A customer routed from one
//! host to a station on another crosses the network the caller passes in ([`QNet::handle_in`]):
//! it is a message of [`Placement::request_size`] bytes through [`Links::send`], drawn from the
//! stream `queueing.network`, and reaches the station after the network's latency. Each sending
//! host keeps one connection per destination station, which behaves like TCP: messages are
//! handed to the station in the order they were sent (one that arrives early waits for those
//! before it), and a lost message (loss, a full link queue, a partition) is sent again after a
//! retransmission timeout, [`Placement::retransmit`] (200 ms, Linux's minimum RTO, what a LAN
//! connection settles at), doubling after each loss of the same message up to 16 times that
//! (3.2 s: Linux lets it grow to 120 s, which would hide a healed partition for minutes in a
//! scenario that lasts one). While a message waits to be retransmitted the messages behind it
//! are held back, as TCP's congestion window holds them, and go out once it gets through. So a
//! partition piles customers up on the network (`STATION.in_flight`), and after the heal they
//! reach the station in a burst, in order, and its queue drains. Only the request path is
//! modelled: leaving the network (`exit`) is the response reaching the client.
//!
//! A source may have a timeout ([`QNetConfig::timeouts`]): its clients give up on a request
//! older than that. The request is still served (the work is wasted, as a server does not know
//! that its client left), and when it leaves the network later than its deadline it counts in
//! `SOURCE.timeouts` (and, being served, in `system.response` and `system.exited` too). Requests
//! still in the network past their deadline when the run ends are counted then, so at the end
//! `timeouts` is every request whose response did not come back in time. Customers dropped by a
//! full queue count in `STATION.dropped`, not as timeouts.
//!
//! Metrics of placed networks, registered only when some route crosses hosts (and `timeouts`
//! only for a source with a timeout), so an unplaced network reports what it always did:
//! `STATION.in_flight` (gauge: customers on the network towards the station),
//! `system.retransmits` (counter) and `SOURCE.timeouts` (counter).

use std::collections::VecDeque;

use simcore::metrics::{CounterId, GaugeId, HistogramId};
use simcore::{
    Ctx, Dist, Encoder, Model, SimDuration, SimError, SimTime, StreamId, TraceEvent, Unit,
};

use crate::network::{Fate, Host, Links};

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
    /// How long each source's clients wait for a response, by index in `sources` (a missing
    /// entry or `None`: forever). See the module's documentation for what counts.
    pub timeouts: Vec<Option<SimDuration>>,
    /// Where sources and stations run (default: nowhere, every route is instant).
    pub placement: Placement,
}

/// The size of a customer's message between hosts unless the configuration says otherwise.
pub const DEFAULT_REQUEST_SIZE: u64 = 1024;

/// The first retransmission timeout unless the configuration says otherwise (Linux's minimum RTO).
pub const DEFAULT_RETRANSMIT: SimDuration = SimDuration::from_millis(200);

/// A retransmission timeout doubles up to this many times its first value.
pub const RETRANSMIT_CAP_FACTOR: u64 = 16;

/// Where sources and stations run, and what crossing between hosts costs. Hosts are the
/// indices of the [`Links`] the caller passes to [`QNet::handle_in`].
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// The host of each station, by index in [`QNetConfig::stations`] (a missing entry or
    /// `None`: unplaced).
    pub stations: Vec<Option<Host>>,
    /// The host of each source's clients, by index in [`QNetConfig::sources`] (a missing entry
    /// or `None`: unplaced, outside every host, so its customers reach their first station at
    /// once).
    pub sources: Vec<Option<Host>>,
    /// Bytes of the message that carries a customer between hosts.
    pub request_size: u64,
    /// The first retransmission timeout of a lost message; it doubles after each loss of the
    /// same message, up to [`RETRANSMIT_CAP_FACTOR`] times this.
    pub retransmit: SimDuration,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            stations: Vec::new(),
            sources: Vec::new(),
            request_size: DEFAULT_REQUEST_SIZE,
            retransmit: DEFAULT_RETRANSMIT,
        }
    }
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
    #[error("{given} {what} given for a network of {have}")]
    TooManyEntries {
        what: &'static str,
        given: usize,
        have: usize,
    },
    #[error("the retransmission timeout must be positive")]
    ZeroRetransmit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    /// A station on the same host, or unplaced: reached at once.
    Station(u32),
    /// A station on another host, reached through connection `conn`.
    Remote {
        station: u32,
        conn: u32,
    },
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

/// One customer: an identity, the source it came from and the times needed for its metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Customer {
    pub id: u64,
    pub entered: SimTime,
    pub arrived_here: SimTime,
    /// Index of its source (for the source's timeout).
    pub source: u32,
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
    /// The message carrying the customer in transfer slot `slot` reaches its host.
    Deliver { slot: u32 },
    /// The lost message of transfer slot `slot` is sent again.
    Resend { slot: u32 },
}

impl TraceEvent for QEvent {
    /// Inlined into the event loop, so the writes land at known offsets (see `simcore::Encoder`).
    #[inline(always)]
    fn encode(&self, enc: &mut Encoder<'_>) {
        match *self {
            QEvent::Arrival { source } => enc.u8(0).u32(source),
            QEvent::Departure { station, slot } => enc.u8(1).u32(station).u32(slot),
            QEvent::Change { index } => enc.u8(2).u32(index),
            QEvent::Deliver { slot } => enc.u8(3).u32(slot),
            QEvent::Resend { slot } => enc.u8(4).u32(slot),
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
    /// The clients' timeout, and the counter of requests answered later than it.
    timeout: Option<(SimDuration, CounterId)>,
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

/// A customer on its way between hosts. Transfers live in a slab so that an event names a slot
/// (events stay 12 bytes) and the steady state allocates nothing.
#[derive(Clone, Copy, Debug)]
struct Transit {
    customer: Customer,
    conn: u32,
    /// Reached the destination host. It may still wait there for a message sent before it: a
    /// connection hands customers to its station in the order they were sent.
    arrived: bool,
}

/// A sending host's connection to a station on another host, behaving like TCP (see the
/// module's documentation).
#[derive(Clone, Debug)]
struct Conn {
    from: Host,
    to: Host,
    station: u32,
    /// Transfer slots sent or waiting to be sent, oldest first, not yet handed to the station.
    pending: VecDeque<u32>,
    /// How many at the back of `pending` are held back, unsent, behind a retransmission.
    unsent: usize,
    /// While a lost message waits to be sent again: its current retransmission timeout.
    backoff: Option<SimDuration>,
}

/// Everything about crossing hosts; exists only when some route crosses hosts.
struct Transfers {
    conns: Vec<Conn>,
    slab: Vec<Transit>,
    /// Free slots of `slab`.
    free: Vec<u32>,
    request_size: u64,
    retransmit: SimDuration,
    stream: StreamId,
    retransmits: CounterId,
    /// Per station: customers on the network towards it, and their gauge.
    in_flight: Vec<(u64, GaugeId)>,
}

impl Transfers {
    fn alloc(&mut self, transit: Transit) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = transit;
                slot
            }
            None => {
                self.slab.push(transit);
                (self.slab.len() - 1) as u32
            }
        }
    }

    /// Moves a station's count of customers on the network by one, up or down.
    fn count_in_flight<W: From<QEvent> + TraceEvent>(
        &mut self,
        station: u32,
        up: bool,
        ctx: &mut Ctx<'_, W>,
    ) {
        let (n, gauge) = &mut self.in_flight[station as usize];
        if up {
            *n += 1;
        } else {
            *n -= 1;
        }
        let now = ctx.now();
        ctx.metrics().set(*gauge, now, *n as f64);
    }

    /// Puts `customer` on connection `conn`: sent at once, unless the connection is holding
    /// messages back behind a retransmission.
    fn put<W: From<QEvent> + TraceEvent>(
        &mut self,
        conn: u32,
        customer: Customer,
        ctx: &mut Ctx<'_, W>,
        links: &mut Links,
    ) {
        let slot = self.alloc(Transit {
            customer,
            conn,
            arrived: false,
        });
        let c = &mut self.conns[conn as usize];
        c.pending.push_back(slot);
        let (station, held) = (c.station, c.backoff.is_some());
        if held {
            c.unsent += 1;
        }
        self.count_in_flight(station, true, ctx);
        if !held && !self.send(slot, ctx, links) {
            self.stall(slot, self.retransmit, ctx);
        }
    }

    /// Sends the message of `slot` once. True when it will arrive (its delivery is scheduled);
    /// false when it was lost.
    fn send<W: From<QEvent> + TraceEvent>(
        &mut self,
        slot: u32,
        ctx: &mut Ctx<'_, W>,
        links: &mut Links,
    ) -> bool {
        let c = &self.conns[self.slab[slot as usize].conn as usize];
        let now = ctx.now();
        match links.send(now, c.from, c.to, self.request_size, ctx.rng(self.stream)) {
            Fate::Delivered(at) => {
                // The receiver discards a duplicate, as TCP does: the first copy counts.
                let first = at.iter().copied().min().unwrap_or(now);
                ctx.schedule_at(first, QEvent::Deliver { slot }.into());
                true
            }
            Fate::Dropped(_) => false,
        }
    }

    /// The message of `slot` was lost: it goes again after `rto`, and its connection holds the
    /// messages put after it until it gets through.
    fn stall<W: From<QEvent> + TraceEvent>(
        &mut self,
        slot: u32,
        rto: SimDuration,
        ctx: &mut Ctx<'_, W>,
    ) {
        let conn = self.slab[slot as usize].conn;
        self.conns[conn as usize].backoff = Some(rto);
        ctx.schedule_in(rto, QEvent::Resend { slot }.into());
    }

    /// The retransmission timeout of `slot` expired: send it again, and when it gets through,
    /// what was held back behind it; when lost again, wait twice as long (up to the cap).
    fn resend<W: From<QEvent> + TraceEvent>(
        &mut self,
        slot: u32,
        ctx: &mut Ctx<'_, W>,
        links: &mut Links,
    ) {
        let retransmits = self.retransmits;
        ctx.metrics().add(retransmits, 1);
        let conn = self.slab[slot as usize].conn as usize;
        let backoff = self.conns[conn].backoff.unwrap_or(self.retransmit);
        if self.send(slot, ctx, links) {
            self.conns[conn].backoff = None;
            self.flush(conn, ctx, links);
        } else {
            let cap = self
                .retransmit
                .as_nanos()
                .saturating_mul(RETRANSMIT_CAP_FACTOR);
            let rto = SimDuration::from_nanos(backoff.as_nanos().saturating_mul(2).min(cap));
            self.stall(slot, rto, ctx);
        }
    }

    /// Sends the messages held back behind a retransmission, oldest first, until one is lost.
    fn flush<W: From<QEvent> + TraceEvent>(
        &mut self,
        conn: usize,
        ctx: &mut Ctx<'_, W>,
        links: &mut Links,
    ) {
        while self.conns[conn].unsent > 0 {
            let c = &mut self.conns[conn];
            let slot = c.pending[c.pending.len() - c.unsent];
            c.unsent -= 1;
            if !self.send(slot, ctx, links) {
                self.stall(slot, self.retransmit, ctx);
                return;
            }
        }
    }

    /// The oldest customer of connection `conn`, when it has reached the host: taken off the
    /// network, with the station it goes to.
    fn take_arrived<W: From<QEvent> + TraceEvent>(
        &mut self,
        conn: usize,
        ctx: &mut Ctx<'_, W>,
    ) -> Option<(u32, Customer)> {
        let c = &mut self.conns[conn];
        let slot = *c.pending.front()?;
        let transit = self.slab[slot as usize];
        if !transit.arrived {
            return None;
        }
        c.pending.pop_front();
        let station = c.station;
        self.free.push(slot);
        self.count_in_flight(station, false, ctx);
        Some((station, transit.customer))
    }

    /// Customers on the network now (sent, held back, or waiting for an earlier one).
    fn customers(&self) -> impl Iterator<Item = &Customer> {
        self.conns
            .iter()
            .flat_map(|c| c.pending.iter())
            .map(|&slot| &self.slab[slot as usize].customer)
    }
}

/// The validated configuration, kept until `start` registers its streams and metrics.
struct Unstarted {
    config: QNetConfig,
    source_routers: Vec<Router>,
    station_routers: Vec<Router>,
    conns: Vec<Conn>,
}

/// The queueing network model. Build with [`QNet::new`]; run it alone with
/// [`simcore::Simulation`] (every route is then instant), or inside a bigger model through
/// [`QNet::start_in`], [`QNet::handle_in`] and [`QNet::finish_in`].
pub struct QNet {
    unstarted: Option<Unstarted>,
    /// Source changes: which source, and its new interarrival distribution.
    changes: Vec<(u32, Dist)>,
    sources: Vec<Source>,
    stations: Vec<Station>,
    system: Option<SystemMetrics>,
    /// Transfers between hosts, when some route crosses hosts.
    transfers: Option<Transfers>,
    /// Whether some source has a timeout: the one branch a served customer's exit pays for them.
    timeouts: bool,
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

/// Turns the hops of a router on host `from` to stations on other hosts into hops through a
/// connection, one per sending host and destination station (made here when new).
fn place(
    router: &mut Router,
    from: Option<Host>,
    station_hosts: &[Option<Host>],
    conns: &mut Vec<Conn>,
) {
    let Some(from) = from else {
        return; // unplaced: outside every host, so its hops are instant
    };
    for (_, dest) in &mut router.cumulative {
        let Dest::Station(station) = *dest else {
            continue;
        };
        let Some(to) = station_hosts.get(station as usize).copied().flatten() else {
            continue;
        };
        if to == from {
            continue;
        }
        let existing = conns
            .iter()
            .position(|c| c.from == from && c.station == station);
        let conn = existing.unwrap_or_else(|| {
            conns.push(Conn {
                from,
                to,
                station,
                pending: VecDeque::new(),
                unsent: 0,
                backoff: None,
            });
            conns.len() - 1
        });
        *dest = Dest::Remote {
            station,
            conn: conn as u32,
        };
    }
}

/// Checks that a per-component list is no longer than the components it describes.
fn at_most(what: &'static str, given: usize, have: usize) -> Result<(), QNetError> {
    if given > have {
        return Err(QNetError::TooManyEntries { what, given, have });
    }
    Ok(())
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
        let conns = Self::connect(&config, &mut source_routers, &mut station_routers)?;
        Ok(QNet {
            unstarted: Some(Unstarted {
                config,
                source_routers,
                station_routers,
                conns,
            }),
            changes,
            sources: Vec::new(),
            stations: Vec::new(),
            system: None,
            transfers: None,
            timeouts: false,
            in_system: 0,
            next_customer: 0,
        })
    }

    /// Checks the placement and the timeouts, and routes hops between hosts through
    /// connections, which it returns.
    fn connect(
        config: &QNetConfig,
        source_routers: &mut [Router],
        station_routers: &mut [Router],
    ) -> Result<Vec<Conn>, QNetError> {
        let p = &config.placement;
        at_most("station hosts", p.stations.len(), config.stations.len())?;
        at_most("source hosts", p.sources.len(), config.sources.len())?;
        at_most("timeouts", config.timeouts.len(), config.sources.len())?;
        if p.retransmit == SimDuration::ZERO {
            return Err(QNetError::ZeroRetransmit);
        }
        let host = |hosts: &[Option<Host>], i: usize| hosts.get(i).copied().flatten();
        let mut conns = Vec::new();
        for (i, router) in source_routers.iter_mut().enumerate() {
            place(router, host(&p.sources, i), &p.stations, &mut conns);
        }
        for (i, router) in station_routers.iter_mut().enumerate() {
            place(router, host(&p.stations, i), &p.stations, &mut conns);
        }
        Ok(conns)
    }

    /// A customer enters station `s` at `now`: straight into service if a server is free.
    #[inline]
    fn enter<W: From<QEvent> + TraceEvent>(
        &mut self,
        s: u32,
        mut customer: Customer,
        ctx: &mut Ctx<'_, W>,
    ) {
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
            ctx.schedule_in(d, QEvent::Departure { station: s, slot }.into());
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

    /// Sends a customer along `dest`: across the network when `dest` is on another host and
    /// the caller gave one, at once otherwise.
    #[inline]
    fn forward<W: From<QEvent> + TraceEvent>(
        &mut self,
        dest: Dest,
        customer: Customer,
        ctx: &mut Ctx<'_, W>,
        net: Option<&mut Links>,
    ) {
        match dest {
            Dest::Station(s) => self.enter(s, customer, ctx),
            Dest::Remote { station, conn } => match (net, self.transfers.as_mut()) {
                (Some(links), Some(t)) => t.put(conn, customer, ctx, links),
                _ => self.enter(station, customer, ctx),
            },
            Dest::Exit => self.leave_system(customer, true, ctx),
        }
    }

    fn leave_system<W: From<QEvent> + TraceEvent>(
        &mut self,
        customer: Customer,
        served: bool,
        ctx: &mut Ctx<'_, W>,
    ) {
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
            if self.timeouts {
                self.count_if_late(&customer, now, m);
            }
        }
        m.set(gauge, now, in_system);
    }

    /// Counts `customer` in its source's `timeouts` when, at `now`, it is older than the
    /// source's timeout.
    fn count_if_late(&self, customer: &Customer, now: SimTime, m: &mut simcore::Metrics) {
        if let Some((limit, counter)) = self.sources[customer.source as usize].timeout
            && now.saturating_since(customer.entered) > limit
        {
            m.add(counter, 1);
        }
    }

    fn arrival<W: From<QEvent> + TraceEvent>(
        &mut self,
        source: u32,
        ctx: &mut Ctx<'_, W>,
        net: Option<&mut Links>,
    ) {
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
            ctx.schedule_in(gap, QEvent::Arrival { source }.into());
        }
        let dest = self.sources[source as usize]
            .router
            .choose(ctx.rng(route_stream));
        let customer = Customer {
            id: self.next_customer,
            entered: now,
            arrived_here: now,
            source,
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
        self.forward(dest, customer, ctx, net);
    }

    fn departure<W: From<QEvent> + TraceEvent>(
        &mut self,
        s: u32,
        slot: u32,
        ctx: &mut Ctx<'_, W>,
        net: Option<&mut Links>,
    ) {
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
            ctx.schedule_in(d, QEvent::Departure { station: s, slot }.into());
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
        self.forward(dest, customer, ctx, net);
    }

    /// The message of transfer `slot` reached its host: hand its connection's customers that
    /// have arrived, oldest first, to their station, up to the first still on its way.
    fn deliver<W: From<QEvent> + TraceEvent>(&mut self, slot: u32, ctx: &mut Ctx<'_, W>) {
        let Some(t) = self.transfers.as_mut() else {
            ctx.fail("a delivery, but no route crosses hosts");
            return;
        };
        let transit = &mut t.slab[slot as usize];
        transit.arrived = true;
        let conn = transit.conn as usize;
        while let Some((station, customer)) = self
            .transfers
            .as_mut()
            .and_then(|t| t.take_arrived(conn, ctx))
        {
            self.enter(station, customer, ctx);
        }
    }

    /// Customers currently in the network (waiting, in service, or between hosts).
    pub fn in_system(&self) -> u64 {
        self.in_system
    }

    /// Customers now between hosts.
    pub fn in_flight(&self) -> u64 {
        self.transfers
            .as_ref()
            .map_or(0, |t| t.in_flight.iter().map(|(n, _)| n).sum())
    }

    /// The customers waiting (not in service) at station `station`, by index in the
    /// configuration, oldest first.
    pub fn waiting(&self, station: u32) -> impl Iterator<Item = &Customer> {
        self.stations
            .get(station as usize)
            .into_iter()
            .flat_map(|s| s.queue.iter())
    }

    /// Servers busy at station `station`, by index in the configuration.
    pub fn busy(&self, station: u32) -> u32 {
        self.stations.get(station as usize).map_or(0, |s| s.busy)
    }

    /// Registers streams and metrics and schedules the first events, inside a model whose
    /// events `W` carry [`QEvent`]s (alone, `W` is `QEvent`). The caller hands each `QEvent`
    /// back to [`QNet::handle_in`].
    pub fn start_in<W: From<QEvent> + TraceEvent>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
    ) -> Result<(), SimError> {
        let Unstarted {
            config,
            source_routers,
            station_routers,
            conns,
        } = self
            .unstarted
            .take()
            .ok_or_else(|| SimError::Setup("the network was already started".into()))?;
        let m = ctx.metrics();
        self.system = Some(SystemMetrics {
            response: m.histogram("system", "response", Unit::Ns).map_err(setup)?,
            in_system: m.gauge("system", "in_system").map_err(setup)?,
            exited: m.counter("system", "exited").map_err(setup)?,
        });
        // Only when some route crosses hosts, so that an unplaced network registers what it
        // always did.
        if !conns.is_empty() {
            self.transfers = Some(Self::start_transfers(
                conns,
                &config.stations,
                &config.placement,
                ctx,
            )?);
        }
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
            let timeout = match config.timeouts.get(i).copied().flatten() {
                Some(limit) => Some((limit, ctx.metrics().counter(n, "timeouts").map_err(setup)?)),
                None => None,
            };
            self.timeouts |= timeout.is_some();
            let src = Source {
                arrivals: ctx.metrics().counter(n, "arrivals").map_err(setup)?,
                interarrival: ctx.stream(&format!("{n}.interarrival"))?,
                route: ctx.stream(&format!("{n}.route"))?,
                left: cfg.customers,
                timeout,
                router,
                cfg,
            };
            if src.left != Some(0) {
                // The first customer arrives one interarrival time after the start.
                let gap = SimDuration::from_nanos_f64(
                    src.cfg.interarrival.sample(ctx.rng(src.interarrival)),
                );
                ctx.schedule_in(gap, QEvent::Arrival { source: i as u32 }.into());
            }
            self.sources.push(src);
        }
        for (index, change) in config.changes.iter().enumerate() {
            ctx.schedule_at(
                change.at,
                QEvent::Change {
                    index: index as u32,
                }
                .into(),
            );
        }
        Ok(())
    }

    /// Registers the stream and metrics of transfers between hosts.
    fn start_transfers<W: From<QEvent> + TraceEvent>(
        conns: Vec<Conn>,
        stations: &[StationConfig],
        placement: &Placement,
        ctx: &mut Ctx<'_, W>,
    ) -> Result<Transfers, SimError> {
        let mut in_flight = Vec::with_capacity(stations.len());
        for cfg in stations {
            in_flight.push((
                0,
                ctx.metrics().gauge(&cfg.name, "in_flight").map_err(setup)?,
            ));
        }
        Ok(Transfers {
            conns,
            slab: Vec::new(),
            free: Vec::new(),
            request_size: placement.request_size,
            retransmit: placement.retransmit,
            stream: ctx.stream("queueing.network")?,
            retransmits: ctx
                .metrics()
                .counter("system", "retransmits")
                .map_err(setup)?,
            in_flight,
        })
    }

    /// Handles one of its events inside a model whose events `W` carry [`QEvent`]s. `net` is the
    /// network between the hosts of [`Placement`], when the caller has one: with `None`, every
    /// route is instant, as when the network runs alone. A caller that passed a network once
    /// passes it for every later event, since a retransmission needs it.
    #[inline]
    pub fn handle_in<W: From<QEvent> + TraceEvent>(
        &mut self,
        event: QEvent,
        ctx: &mut Ctx<'_, W>,
        net: Option<&mut Links>,
    ) {
        match event {
            QEvent::Arrival { source } => self.arrival(source, ctx, net),
            QEvent::Departure { station, slot } => self.departure(station, slot, ctx, net),
            QEvent::Change { index } => {
                let (source, dist) = &self.changes[index as usize];
                tracing::debug!(source = %self.sources[*source as usize].cfg.name, ?dist, "source changed");
                self.sources[*source as usize].cfg.interarrival = dist.clone();
            }
            QEvent::Deliver { slot } => self.deliver(slot, ctx),
            QEvent::Resend { slot } => match (self.transfers.as_mut(), net) {
                (Some(t), Some(links)) => t.resend(slot, ctx, links),
                _ => ctx.fail("a retransmission, but no network was passed in"),
            },
        }
    }

    /// Ends the run at `ctx.now()`: requests still in the network past their deadline count as
    /// timed out (their clients gave up on them).
    pub fn finish_in<W: From<QEvent> + TraceEvent>(&mut self, ctx: &mut Ctx<'_, W>) {
        if !self.timeouts {
            return;
        }
        let now = ctx.now();
        let m = ctx.metrics();
        let waiting = self.stations.iter().flat_map(|s| s.queue.iter());
        let served = self.stations.iter().flat_map(|s| s.slots.iter().flatten());
        let on_network = self.transfers.iter().flat_map(Transfers::customers);
        for customer in waiting.chain(served).chain(on_network) {
            self.count_if_late(customer, now, m);
        }
    }
}

fn setup(e: impl std::fmt::Display) -> SimError {
    SimError::Setup(e.to_string())
}

impl Model for QNet {
    type Event = QEvent;

    fn start(&mut self, ctx: &mut Ctx<'_, QEvent>) -> Result<(), SimError> {
        self.start_in(ctx)
    }

    #[inline]
    fn handle(&mut self, event: QEvent, ctx: &mut Ctx<'_, QEvent>) {
        self.handle_in(event, ctx, None);
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, QEvent>) {
        self.finish_in(ctx);
    }
}

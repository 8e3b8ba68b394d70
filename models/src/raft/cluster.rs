//! The Raft cluster as one simulation model: servers, their disks, the network between them,
//! the clients and their load, the scenario's faults, and the checkers.
//!
//! Hosts `0..n` are the servers and `n..n+c` the clients, and any cache tiers the clients go
//! through ([`tiers`]) are on hosts past those; every message between them goes through the
//! network model ([`Links`]), which decides if and when it arrives. Partitions
//! apply between servers only (clients stand for Jepsen's control node). A server's writes
//! reach its [`SimStorage`]; an fsync completes after the disk's latency, disks working one
//! fsync at a time; a server's messages wait until the writes made before them are durable.
//!
//! After every event that touched a server, the [`SafetyChecker`] looks at it, and open
//! liveness expectations are re-evaluated. At the end the client history is checked for
//! linearizability (per key) and, if asked, that no acknowledged write was lost.

use std::collections::VecDeque;

use simcore::metrics::{CounterId, GaugeId, HistogramId};
use simcore::{
    Ctx, Dist, Encoder, RngStream, SimDuration, SimError, SimTime, StreamId, TraceEvent, Unit,
};

use crate::cpu::{ProcConfig, ProcId, Step};
use crate::disk::workload::IoOp;
use crate::network::{Fate, Host, Shape};
use crate::world::Parts;
use crate::world::cache::CacheConfig;
use crate::world::disk::{DiskFault, DiskStep, Owner};
use crate::world::store::{stack_fault, timed};

use super::client::{Answer, Client, ClientAction, ClientConfig, HistoryEvent, history_text};
use super::kv::KvOp;
use super::latency::CommitClock;
use super::record::{NodeState, Recorder};
use super::safety::{Broken, SafetyChecker};
use super::server::{Action, Reply, Request, Server};
use super::storage::SimStorage;
use super::types::{Config, Message, NodeId, Output, Role, Term, Timer};
use super::wal_log::{BASE_CAPACITY, WalLog};
use super::workload::Workload;
use crate::world::load::Pacer;

mod tiers;

pub use crate::world::faults::{Fault, Targets};
pub use crate::world::liveness::{LiveEvent, Liveness};

/// The client load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// The component's name (metrics are `NAME.latency`, ...).
    pub name: String,
    pub clients: u32,
    /// Total operations per second offered by all clients together.
    pub rate: f64,
    /// Keys, drawn from this distribution of whole numbers.
    pub keys: Dist,
    /// Weights of get, put and cas.
    pub mix: [f64; 3],
    pub attempt_timeout: SimDuration,
    pub op_timeout: SimDuration,
}

impl LoadConfig {
    /// How each client of `load` (if any) behaves towards a cluster of `nodes`: the one
    /// translation for the simulated cluster and `native run`.
    pub fn client_config(load: Option<&LoadConfig>, nodes: u32) -> ClientConfig {
        ClientConfig {
            nodes,
            attempt_timeout: load.map_or(SimDuration::ZERO, |l| l.attempt_timeout),
            op_timeout: load.map_or(SimDuration::ZERO, |l| l.op_timeout),
        }
    }
}

/// Everything the cluster model needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The Raft component's name (metrics are `NAME.elections`, ...).
    pub name: String,
    pub nodes: Vec<String>,
    pub raft: Config,
    /// How late a host's timer fires after its due time, nanoseconds (timer slack and wake-up
    /// latency): each firing is late by its own draw, from the host's own stream.
    pub timer_jitter: Dist,
    /// CPU time each message a server receives costs on its host's CPU before the server
    /// handles it (zero: not modelled, handled at once). Only hosts with a modelled CPU charge.
    pub cpu_per_message: SimDuration,
    pub snapshot_every: Option<u64>,
    pub load: Option<LoadConfig>,
    /// Cache tiers in front of the cluster, on hosts of their own.
    pub caches: Vec<CacheConfig>,
    /// The tier the clients' requests go through (an index into `caches`), if any.
    pub via: Option<usize>,
    pub check_linearizable: bool,
    pub check_durable: bool,
    /// Search steps per key for the linearizability check.
    pub lincheck_budget: u64,
    /// Seeds the nodes' own random streams (election timeouts).
    pub seed: u64,
}

/// An event type the cluster's events can become: its own ([`Ev`]) when it runs alone, the
/// world's when it is a part of one.
pub trait Sink: From<Ev> + From<Step> + From<DiskStep> + TraceEvent {}
impl<T: From<Ev> + From<Step> + From<DiskStep> + TraceEvent> Sink for T {}

/// The cluster's events. Messages in flight live in a slab; events carry their slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    Deliver {
        slot: u32,
    },
    Timer {
        node: u32,
        timer: Timer,
        generation: u32,
    },
    Synced {
        node: u32,
        epoch: u32,
    },
    ClientWake {
        client: u32,
        generation: u32,
    },
    Invoke {
        client: u32,
        generation: u32,
    },
}

impl TraceEvent for Ev {
    /// Inlined into the event loop (through the world's event, which is one more match), as the
    /// cluster's own model had it: a call per event cost 1.2% of raft-bench's instructions.
    #[inline(always)]
    fn encode(&self, e: &mut Encoder<'_>) {
        match *self {
            Ev::Deliver { slot } => e.u8(0).u32(slot),
            Ev::Timer {
                node,
                timer,
                generation,
            } => e.u8(1).u32(node).u8(timer as u8).u32(generation),
            Ev::Synced { node, epoch } => e.u8(2).u32(node).u32(epoch),
            Ev::ClientWake { client, generation } => e.u8(3).u32(client).u32(generation),
            Ev::Invoke { client, generation } => e.u8(4).u32(client).u32(generation),
        };
    }
}

#[derive(Debug, Clone)]
enum Body {
    Raft(Message),
    Request(Request),
    Reply(Reply),
    /// A request on its way through a cache tier, for the server its client chose.
    Via {
        server: NodeId,
        req: Request,
    },
}

#[derive(Debug)]
struct Envelope {
    from: Host,
    to: Host,
    body: Body,
}

/// Work a paused server has not done yet, in arrival order.
#[derive(Debug)]
enum Deferred {
    Deliver(Host, Body),
    /// A message whose CPU work is done, to be handled at once.
    Handle(Host, Body),
    Timer(Timer),
    Synced,
}

/// One server: the process (absent while crashed), what its host's page cache and disk hold
/// ([`SimStorage`]), and its queues. The host's clock and disk device are the world's
/// ([`crate::world::host::Host`]).
#[derive(Debug)]
struct Slot {
    server: Option<Server>,
    storage: SimStorage,
    /// Bumped at each crash, so events of an earlier life are ignored.
    epoch: u32,
    incarnation: u32,
    paused: bool,
    deferred: Vec<Deferred>,
    /// Per timer kind: the generation of the one event in the queue that counts, when the
    /// node wants the timer to fire, and when that event is due. Re-arming a timer later (a
    /// follower does it on every AppendEntries) only moves `timer_due`; the queued event then
    /// re-queues itself once for the new time, instead of each re-arm adding an event.
    timer_gen: [u32; 2],
    timer_due: [Option<SimTime>; 2],
    timer_queued: [Option<SimTime>; 2],
    syncs_requested: u64,
    syncs_done: u64,
    writes_since_sync: bool,
    /// Messages waiting for an fsync: (the fsync number they need, to, message).
    outbox: VecDeque<(u64, NodeId, Message)>,
    /// Role and term at the last look, to see elections happen.
    role: Role,
    term: Term,
    /// Times this node's appends to their commit while it leads.
    commit_clock: CommitClock,
    /// On a modelled disk: the log as a write-ahead log on the host's storage stack
    /// ([`WalLog`]), whose content `storage` is the reference for.
    wal: Option<WalLog>,
    /// On a modelled disk, the node's syncs not completed, oldest first, grouped as the log's
    /// fsyncs serve them (see [`Chain`]).
    chains: VecDeque<Chain>,
    /// Whether one of the log's requests is on the disk (or a chain without any is waiting
    /// for its event).
    log_busy: bool,
    /// Whether a content fault (`corrupt`, `errors`, `fail-fsync`, `full`, `fail`) ever hit
    /// the disk: then the log may recover less than `storage` holds.
    faulted: bool,
}

impl Slot {
    /// What a restart recovers: on a modelled disk, what the log's records on the device
    /// replay to (None when the disk refuses the reads); else what `storage` holds.
    fn recover(&mut self) -> Option<super::types::Restored> {
        let Some(wal) = self.wal.as_mut() else {
            return Some(self.storage.restore());
        };
        let got = wal.recover().ok()?;
        debug_assert!(
            self.faulted || self.storage.admits(&got.image),
            "without content faults the log replays what SimStorage holds"
        );
        if got.image != *self.storage.durable() {
            self.storage.reset_to(got.image.clone());
        }
        Some(got.image.restored())
    }
}

/// One fsync of a log on a modelled disk, serving `syncs` of the node's syncs: the log is
/// fsynced (on the stack) when the fsync before it has completed, covering every write made
/// by then, so syncs requested meanwhile wait for it together (a group commit). Its block
/// requests, and those of the writes before it, go to the disk one after another; it
/// completes when the last does, failed if the stack said so.
#[derive(Debug)]
struct Chain {
    syncs: u32,
    ios: VecDeque<IoOp>,
    ok: bool,
    started: bool,
}

#[derive(Debug, Clone, Copy)]
struct Metrics {
    elections: CounterId,
    election_time: HistogramId,
    commit_latency: HistogramId,
    commits: CounterId,
    term: GaugeId,
    crashes: CounterId,
    /// On modelled disks: restarts whose log replayed fewer entries than the node had
    /// synced, and the entries so lost.
    short_logs: Option<(CounterId, CounterId)>,
    ok: Option<CounterId>,
    fail: Option<CounterId>,
    info: Option<CounterId>,
    latency: Option<HistogramId>,
}

#[derive(Debug, Clone, Copy)]
struct Streams {
    net: StreamId,
    load: StreamId,
    disk: StreamId,
}

/// The whole cluster.
#[derive(Debug)]
pub struct Cluster {
    config: ClusterConfig,
    n: u32,
    slots: Vec<Slot>,
    clients: Vec<Client>,
    client_gen: Vec<u32>,
    /// When each client calls next (a rate change supersedes the call queued).
    pacer: Pacer,
    /// The clients' operations (unique values, cas expectations).
    workload: Workload,
    history: Vec<HistoryEvent>,
    /// Acknowledged writes: (session, seq).
    acked: Vec<(u64, u64)>,
    messages: Vec<Option<Envelope>>,
    free: Vec<u32>,
    checker: SafetyChecker,
    broken: Vec<Broken>,
    /// Since when the cluster has had no leader after its leader crashed, and that term.
    leaderless: Option<(SimTime, Term)>,
    max_term: Term,
    actions: Vec<Action>,
    client_actions: Vec<ClientAction>,
    /// Per server, its process on its host's CPU (when messages cost CPU there).
    procs: Vec<Option<ProcId>>,
    /// Messages whose handling waits for the CPU, by the index a token carries.
    parked: Vec<Option<(Host, Body)>>,
    parked_free: Vec<u32>,
    m: Option<Metrics>,
    s: Option<Streams>,
    /// The timeline and series of a recorded run (idle otherwise).
    rec: Recorder,
    /// Cache tiers between the clients and the servers.
    tiers: tiers::Tiers,
}

/// The most messages a paused server holds (its socket buffer); later ones are dropped.
pub const MAX_DEFERRED: usize = 100_000;

/// The most servers a cluster may have (the network keeps a little state per pair of hosts).
pub const MAX_NODES: usize = 1000;

impl Cluster {
    pub fn new(config: ClusterConfig) -> Result<Self, String> {
        let n = config.nodes.len();
        if n == 0 || n > MAX_NODES {
            return Err(format!("a cluster needs 1 to {MAX_NODES} nodes, not {n}"));
        }
        let clients = config.load.as_ref().map_or(0, |l| l.clients);
        let client_config = LoadConfig::client_config(config.load.as_ref(), n as u32);
        let slots = (0..n)
            .map(|_| Slot {
                server: None,
                storage: SimStorage::new(),
                epoch: 0,
                incarnation: 0,
                paused: false,
                deferred: Vec::new(),
                timer_gen: [0; 2],
                timer_due: [None; 2],
                timer_queued: [None; 2],
                syncs_requested: 0,
                syncs_done: 0,
                writes_since_sync: false,
                outbox: VecDeque::new(),
                role: Role::Follower,
                term: 0,
                commit_clock: CommitClock::new(),
                wal: None,
                chains: VecDeque::new(),
                log_busy: false,
                faulted: false,
            })
            .collect();
        Ok(Cluster {
            n: n as u32,
            slots,
            clients: (0..clients)
                .map(|i| Client::new(i, clients, client_config))
                .collect(),
            client_gen: vec![0; clients as usize],
            pacer: Pacer::new(
                clients as usize,
                config.load.as_ref().map_or(0.0, |l| l.rate),
            ),
            workload: Workload::new(),
            history: Vec::new(),
            acked: Vec::new(),
            messages: Vec::new(),
            free: Vec::new(),
            checker: SafetyChecker::new(n).with_names(config.nodes.clone()),
            broken: Vec::new(),
            leaderless: None,
            max_term: 0,
            actions: Vec::new(),
            client_actions: Vec::new(),
            procs: vec![None; n],
            parked: Vec::new(),
            parked_free: Vec::new(),
            m: None,
            s: None,
            rec: Recorder::new(&config.name, &config.nodes),
            tiers: tiers::Tiers::new(&config.caches, config.via, clients)?,
            config,
        })
    }

    /// The clients' history so far, in the text format of `sim lincheck`.
    pub fn history_text(&self) -> String {
        history_text(&self.history)
    }

    /// The history events so far.
    pub fn history(&self) -> &[HistoryEvent] {
        &self.history
    }

    /// The current leader: a live, running node that leads in the highest term among live
    /// nodes.
    pub fn leader(&self) -> Option<NodeId> {
        let mut top: Option<(Term, NodeId, bool)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(srv) = &s.server {
                let node = srv.node();
                let lead = node.role() == Role::Leader && !s.paused;
                if top.is_none_or(|(t, _, _)| node.term() > t || (node.term() == t && lead)) {
                    top = Some((node.term(), i as NodeId, lead));
                }
            }
        }
        top.filter(|t| t.2).map(|t| t.1)
    }

    /// The server of node `id`, if it is up.
    pub fn server(&self, id: NodeId) -> Option<&Server> {
        self.slots.get(id as usize).and_then(|s| s.server.as_ref())
    }

    fn m(&self) -> Metrics {
        self.m.expect("metrics are registered in start")
    }

    fn s(&self) -> Streams {
        self.s.expect("streams are registered in start")
    }

    fn node_rng(&self, id: NodeId) -> RngStream {
        let inc = self.slots[id as usize].incarnation;
        RngStream::derive(self.config.seed, &format!("raft.node.{id}.{inc}"))
    }

    fn boot<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        let rng = self.node_rng(id);
        let slot = &mut self.slots[id as usize];
        let synced = slot.storage.durable_last_index();
        let Some(restored) = slot.recover() else {
            // The disk refuses the log's reads: the node cannot start, and stays down until
            // it is restarted again.
            return;
        };
        let server = Server::new(
            id,
            self.n,
            self.config.raft.clone(),
            restored,
            rng,
            self.config.snapshot_every,
        );
        slot.server = Some(server);
        slot.role = Role::Follower;
        let recovered = slot.storage.durable_last_index();
        if let Some((short, lost)) = self.m.and_then(|m| m.short_logs)
            && recovered < synced
        {
            ctx.metrics().add(short, 1);
            ctx.metrics().add(lost, synced - recovered);
        }
        self.checker.restarted(id);
        let mut actions = std::mem::take(&mut self.actions);
        if let Some(srv) = self.slots[id as usize].server.as_mut() {
            srv.start(&mut actions);
        }
        self.perform(id, &mut actions, ctx, p);
        self.actions = actions;
        self.after_node(id, ctx, p);
    }

    fn crash<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>) {
        let leader = self.leader();
        let slot = &mut self.slots[id as usize];
        let Some(srv) = slot.server.take() else {
            return;
        };
        if leader == Some(id) && self.leaderless.is_none() {
            self.leaderless = Some((ctx.now(), srv.node().term()));
        }
        slot.storage.crash();
        if let Some(wal) = slot.wal.as_mut() {
            wal.crash();
        }
        slot.chains.clear();
        slot.log_busy = false;
        slot.epoch += 1;
        slot.timer_gen = [
            slot.timer_gen[0].wrapping_add(1),
            slot.timer_gen[1].wrapping_add(1),
        ];
        slot.timer_due = [None; 2];
        slot.timer_queued = [None; 2];
        slot.incarnation += 1;
        slot.paused = false;
        slot.deferred.clear();
        slot.outbox.clear();
        slot.syncs_requested = 0;
        slot.syncs_done = 0;
        slot.writes_since_sync = false;
        let m = self.m();
        ctx.metrics().add(m.crashes, 1);
        self.rec.node(id as usize, NodeState::Down, ctx);
    }

    /// Puts a message on the network.
    fn transmit<W: Sink>(
        &mut self,
        from: Host,
        to: Host,
        body: Body,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
    ) {
        let s = self.s();
        let net = p.net_metrics();
        ctx.metrics().add(net.sent, 1);
        let bytes = match &body {
            Body::Raft(msg) => msg.wire_bytes(),
            _ => 64,
        };
        let now = ctx.now();
        match p.links.send(now, from, to, bytes, ctx.rng(s.net)) {
            Fate::Dropped(_) => ctx.metrics().add(net.dropped, 1),
            Fate::Delivered(times) => {
                let last = times.len() - 1;
                let mut body = Some(body);
                for (k, &at) in times.iter().enumerate() {
                    let b = if k == last { body.take() } else { body.clone() };
                    let Some(b) = b else { break };
                    let env = Envelope { from, to, body: b };
                    let slot = match self.free.pop() {
                        Some(i) => {
                            self.messages[i as usize] = Some(env);
                            i
                        }
                        None => {
                            self.messages.push(Some(env));
                            (self.messages.len() - 1) as u32
                        }
                    };
                    ctx.schedule_at(at, Ev::Deliver { slot }.into());
                }
            }
        }
    }

    /// Performs a server's actions.
    fn perform<W: Sink>(
        &mut self,
        id: NodeId,
        actions: &mut Vec<Action>,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
    ) {
        for a in actions.drain(..) {
            match a {
                Action::Reply { to, reply } => {
                    let host = self.tiers.answer_to(to).unwrap_or(self.n + to);
                    self.transmit(id, host, Body::Reply(reply), ctx, p)
                }
                Action::Raft(Output::Send { to, msg }) => {
                    let slot = &mut self.slots[id as usize];
                    let need = slot.syncs_requested + u64::from(slot.writes_since_sync);
                    if need <= slot.syncs_done && slot.outbox.is_empty() {
                        self.transmit(id, to, Body::Raft(msg), ctx, p);
                    } else {
                        slot.outbox.push_back((need, to, msg));
                    }
                }
                Action::Raft(Output::Write(w)) => {
                    let slot = &mut self.slots[id as usize];
                    if let Some(wal) = slot.wal.as_mut() {
                        wal.write(&w);
                    }
                    slot.storage.write(w);
                    slot.writes_since_sync = true;
                }
                Action::Raft(Output::Sync) => {
                    let slot = &mut self.slots[id as usize];
                    slot.storage.begin_sync();
                    slot.syncs_requested += 1;
                    slot.writes_since_sync = false;
                    let epoch = slot.epoch;
                    if slot.wal.is_some() {
                        // A modelled disk: the log's next fsync serves this sync.
                        match slot.chains.back_mut() {
                            Some(c) if !c.started => c.syncs += 1,
                            _ => slot.chains.push_back(Chain {
                                syncs: 1,
                                ios: VecDeque::new(),
                                ok: true,
                                started: false,
                            }),
                        }
                        self.pump_log(id, ctx, p);
                    } else {
                        // One fsync at a time: each starts when the disk is free.
                        let s = self.s();
                        let done = p.hosts[id as usize].disk.sync(ctx.now(), ctx.rng(s.disk));
                        ctx.schedule_at(done, Ev::Synced { node: id, epoch }.into());
                    }
                }
                Action::Raft(Output::SetTimer { timer, after }) => {
                    let due =
                        p.hosts[id as usize].timer_due(ctx.now(), after, &self.config.timer_jitter);
                    let slot = &mut self.slots[id as usize];
                    let k = timer as usize;
                    slot.timer_due[k] = Some(due);
                    if slot.timer_queued[k].is_none_or(|q| q > due) {
                        Self::queue_timer(slot, id, timer, due, ctx);
                    }
                }
                Action::Raft(Output::Commit(_) | Output::Restore(_)) => {
                    debug_assert!(false, "the server handles commits and snapshots");
                }
            }
        }
    }

    /// Queues the event for `timer` at `due`, superseding any queued before.
    fn queue_timer<W: Sink>(
        slot: &mut Slot,
        id: NodeId,
        timer: Timer,
        due: SimTime,
        ctx: &mut Ctx<'_, W>,
    ) {
        let k = timer as usize;
        slot.timer_gen[k] = slot.timer_gen[k].wrapping_add(1);
        slot.timer_queued[k] = Some(due);
        let generation = slot.timer_gen[k];
        ctx.schedule_at(
            due,
            Ev::Timer {
                node: id,
                timer,
                generation,
            }
            .into(),
        );
    }

    /// Runs `f` on node `id`'s server (if it is up) and performs what it asks.
    fn with_server<W: Sink>(
        &mut self,
        id: NodeId,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
        f: impl FnOnce(&mut Server, &mut Vec<Action>),
    ) {
        let mut actions = std::mem::take(&mut self.actions);
        match self.slots[id as usize].server.as_mut() {
            Some(srv) => f(srv, &mut actions),
            None => return,
        }
        self.perform(id, &mut actions, ctx, p);
        self.actions = actions;
        self.after_node(id, ctx, p);
    }

    /// Checks a server after it changed: safety, elections, liveness.
    fn after_node<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        let Some(srv) = self.slots[id as usize].server.as_mut() else {
            return;
        };
        let before = self.checker.committed_index();
        self.checker.observe(srv.node_mut(), &mut self.broken);
        let (role, term) = (srv.node().role(), srv.node().term());
        let commit_index = srv.node().commit_index();
        let last_index = srv.node().log().last_index();
        let m = self.m();
        let committed = self.checker.committed_index();
        if committed > before {
            ctx.metrics().add(m.commits, committed - before);
        }
        let slot = &mut self.slots[id as usize];
        let became_leader =
            role == Role::Leader && (slot.role != Role::Leader || slot.term != term);
        slot.role = role;
        slot.term = term;
        let now = ctx.now();
        slot.commit_clock
            .observe(now.as_nanos(), role, term, last_index, commit_index, |d| {
                ctx.metrics()
                    .record_duration(m.commit_latency, SimDuration::from_nanos(d));
            });
        let slot = &mut self.slots[id as usize];
        if ctx.recording() {
            let state = if slot.paused {
                NodeState::Paused
            } else {
                NodeState::Up(role, term)
            };
            self.rec.node(id as usize, state, ctx);
            self.rec.commit(id as usize, commit_index, ctx);
        }
        if term > self.max_term {
            self.max_term = term;
            let now = ctx.now();
            ctx.metrics().set(m.term, now, term as f64);
        }
        if became_leader {
            ctx.metrics().add(m.elections, 1);
            if let Some((since, old)) = self.leaderless {
                if term > old {
                    let d = ctx.now().saturating_since(since);
                    ctx.metrics().record_duration(m.election_time, d);
                    self.leaderless = None;
                }
            }
        }
        for b in self.broken.drain(..) {
            ctx.violation(b.property, b.detail);
        }
        if p.live.any_open() {
            let leader = self.leader().is_some();
            p.live.evaluate(leader, self.checker.committed_index());
        }
    }

    /// The highest index known committed (by the safety checker's account of every node).
    pub fn committed_index(&self) -> u64 {
        self.checker.committed_index()
    }

    /// Puts step `fault` of the fault `plan` (which hit the nodes `hit`) on the timeline: an
    /// instant on the faults track, partitions and their sides, paused nodes.
    pub fn record_fault<W: Sink>(
        &mut self,
        plan: &[(SimTime, Fault)],
        fault: &Fault,
        hit: &[NodeId],
        ctx: &mut Ctx<'_, W>,
        p: &Parts,
    ) {
        let names = |ids: &[NodeId]| -> String {
            let names: Vec<&str> = ids
                .iter()
                .map(|&i| self.config.nodes[i as usize].as_str())
                .collect();
            if names.is_empty() {
                "(no node)".to_string()
            } else {
                names.join(" ")
            }
        };
        let what = match fault {
            Fault::Partition(shape) => {
                let shape = shape_name(shape);
                let sides = p.links.partition.sides(self.n);
                self.rec.partition(Some((shape.clone(), &sides)), ctx);
                format!("partition {shape}")
            }
            Fault::Heal => {
                self.rec.partition(None, ctx);
                "heal".to_string()
            }
            Fault::Crash(_) => format!("crash {}", names(hit)),
            Fault::Restart(_) => format!("restart {}", names(hit)),
            Fault::Pause(_) => {
                for &id in hit {
                    self.rec.node(id as usize, NodeState::Paused, ctx);
                }
                format!("pause {}", names(hit))
            }
            Fault::Resume(_) => format!("resume {}", names(hit)),
            Fault::ClockSkew(..) => format!("clock skew {}", names(hit)),
            Fault::ClockDrift(..) => format!("clock drift {}", names(hit)),
            Fault::DiskSlow(..) => format!("disk slow {}", names(hit)),
            Fault::Disk(_, f) => format!("disk {} {}", names(hit), f.name()),
            Fault::Rate(r) => format!("load rate {r}/s"),
            Fault::Undo(j) => {
                if matches!(plan.get(*j), Some((_, Fault::Partition(_)))) {
                    self.rec.partition(None, ctx);
                }
                let undone = plan.get(*j).map_or("", |(_, f)| f.verb());
                format!("end of {undone} window")
            }
        };
        self.rec.fault(what, ctx);
    }

    fn resume<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        let slot = &mut self.slots[id as usize];
        slot.paused = false;
        if ctx.recording() {
            let state = NodeState::Up(slot.role, slot.term);
            self.rec.node(id as usize, state, ctx);
        }
        let slot = &mut self.slots[id as usize];
        let work = std::mem::take(&mut slot.deferred);
        for w in work {
            match w {
                Deferred::Deliver(from, body) => self.receive(id, from, body, ctx, p),
                Deferred::Handle(from, body) => self.deliver_to_server(id, from, body, ctx, p),
                Deferred::Timer(t) => self.with_server(id, ctx, p, |srv, out| srv.tick(t, out)),
                Deferred::Synced => self.synced(id, ctx, p),
            }
        }
    }

    fn synced<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        let slot = &mut self.slots[id as usize];
        slot.syncs_done += 1;
        let done = slot.syncs_done;
        let mut ready = Vec::new();
        while slot
            .outbox
            .front()
            .is_some_and(|(need, _, _)| *need <= done)
        {
            if let Some((_, to, msg)) = slot.outbox.pop_front() {
                ready.push((to, msg));
            }
        }
        for (to, msg) in ready {
            self.transmit(id, to, Body::Raft(msg), ctx, p);
        }
        self.with_server(id, ctx, p, |srv, out| srv.synced(out));
    }

    /// A message reaches server `id`'s process: where messages cost CPU, it waits for its piece
    /// of the host's CPU (behind the process's earlier ones, beside the host's other work)
    /// before the server handles it; elsewhere it is handled at once.
    #[inline]
    fn receive<W: Sink>(
        &mut self,
        id: NodeId,
        from: Host,
        body: Body,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
    ) {
        let Some(proc) = self.procs[id as usize] else {
            return self.deliver_to_server(id, from, body, ctx, p);
        };
        let index = match self.parked_free.pop() {
            Some(i) => {
                self.parked[i as usize] = Some((from, body));
                i
            }
            None => {
                self.parked.push(Some((from, body)));
                (self.parked.len() - 1) as u32
            }
        };
        let epoch = u64::from(self.slots[id as usize].epoch & 0xffff);
        let token = (u64::from(id) << 48) | (epoch << 32) | u64::from(index);
        let cost = self.config.cpu_per_message.as_nanos();
        let submitted = p.cpu(id).map(|cpu| cpu.submit(proc, cost, token, ctx));
        debug_assert!(
            matches!(submitted, Some(Ok(()))),
            "a server's process is on its host's CPU"
        );
    }

    /// A piece of CPU work the cluster gave ended: the message it was for is handled now, if
    /// the server that received it is still the same incarnation (a crash loses what its
    /// process had not handled) and not paused (then it waits, as a paused process's input).
    pub fn computed<W: Sink>(&mut self, token: u64, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        let id = (token >> 48) as NodeId;
        let epoch = ((token >> 32) & 0xffff) as u32;
        let index = token as u32;
        let Some((from, body)) = self.parked.get_mut(index as usize).and_then(Option::take) else {
            return;
        };
        self.parked_free.push(index);
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if slot.server.is_none() || slot.epoch & 0xffff != epoch {
            return;
        }
        if slot.paused {
            slot.deferred.push(Deferred::Handle(from, body));
            return;
        }
        self.deliver_to_server(id, from, body, ctx, p);
    }

    fn deliver_to_server<W: Sink>(
        &mut self,
        id: NodeId,
        from: Host,
        body: Body,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
    ) {
        match body {
            Body::Raft(msg) => self.with_server(id, ctx, p, |srv, out| srv.receive(from, msg, out)),
            Body::Request(req) => self.with_server(id, ctx, p, |srv, out| srv.request(req, out)),
            Body::Reply(_) | Body::Via { .. } => {
                debug_assert!(
                    false,
                    "servers get no replies, nor requests meant for a cache"
                )
            }
        }
    }

    fn client_do<W: Sink>(&mut self, c: u32, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        let mut acts = std::mem::take(&mut self.client_actions);
        for a in acts.drain(..) {
            match a {
                ClientAction::Send { to, req } => match self.tiers.entry(c) {
                    Some(cache) => {
                        self.transmit(self.n + c, cache, Body::Via { server: to, req }, ctx, p)
                    }
                    None => self.transmit(self.n + c, to, Body::Request(req), ctx, p),
                },
                ClientAction::WakeAt(at) => {
                    let g = &mut self.client_gen[c as usize];
                    *g = g.wrapping_add(1);
                    let generation = *g;
                    ctx.schedule_at(
                        at.max(ctx.now()),
                        Ev::ClientWake {
                            client: c,
                            generation,
                        }
                        .into(),
                    );
                }
                ClientAction::Record(e) => {
                    self.record(c, e, ctx);
                }
            }
        }
        self.client_actions = acts;
    }

    fn record<W: Sink>(&mut self, c: u32, e: HistoryEvent, ctx: &mut Ctx<'_, W>) {
        let m = self.m();
        let now = ctx.now();
        match e.answer() {
            None => self.pacer.invoked(c as usize, now),
            Some(answer) => {
                let counter = match answer {
                    Answer::Ok => m.ok,
                    Answer::CasFalse => m.fail,
                    Answer::Info => m.info,
                };
                if let Some(id) = counter {
                    ctx.metrics().add(id, 1);
                }
                if answer != Answer::Info {
                    if let Some(h) = m.latency {
                        let d = now.saturating_since(self.pacer.invoked_at(c as usize));
                        ctx.metrics().record_duration(h, d);
                    }
                }
                if e.wrote() {
                    self.acked.push((e.session, e.seq));
                }
                if ctx.recording() {
                    let op = match e.op {
                        KvOp::Get { .. } => "get",
                        KvOp::Put { .. } => "put",
                        KvOp::Cas { .. } => "cas",
                    };
                    let outcome = match answer {
                        Answer::Ok => "ok",
                        Answer::CasFalse => "false",
                        Answer::Info => "info",
                    };
                    let start = self.pacer.invoked_at(c as usize);
                    self.rec.op(
                        &format!("c{}", c + 1),
                        &format!("{op} {outcome}"),
                        start,
                        ctx,
                    );
                }
                self.schedule_invoke(c, ctx);
            }
        }
        self.history.push(e);
    }

    /// The offered rate changed: idle clients draw their next call again at the new rate, from
    /// now (the call each had queued is superseded), so a burst starts at once.
    fn rate_changed<W: Sink>(&mut self, ctx: &mut Ctx<'_, W>) {
        let s = self.s();
        let now = ctx.now();
        let clients = &self.clients;
        let mut calls = Vec::new();
        self.pacer.restart_idle(
            now,
            |c| clients[c].busy(),
            ctx.rng(s.load),
            |c, at, g| calls.push((c as u32, at, g)),
        );
        for (client, at, generation) in calls {
            ctx.schedule_at(at, Ev::Invoke { client, generation }.into());
        }
    }

    /// Schedules client `c`'s next call (see [`Pacer`]).
    fn schedule_invoke<W: Sink>(&mut self, c: u32, ctx: &mut Ctx<'_, W>) {
        let s = self.s();
        let now = ctx.now();
        if let Some((at, generation)) = self.pacer.next(c as usize, now, ctx.rng(s.load)) {
            ctx.schedule_at(
                at,
                Ev::Invoke {
                    client: c,
                    generation,
                }
                .into(),
            );
        }
    }

    fn invoke<W: Sink>(&mut self, c: u32, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        let Some(load) = &self.config.load else {
            return;
        };
        let s = self.s();
        let op = self.workload.next_op(load, ctx.rng(s.load));
        let now = ctx.now();
        let mut acts = std::mem::take(&mut self.client_actions);
        self.clients[c as usize].invoke(op, now, &mut acts);
        self.client_actions = acts;
        self.client_do(c, ctx, p);
    }

    fn check_history<W: Sink>(&mut self, ctx: &mut Ctx<'_, W>) {
        let budget = self.config.lincheck_budget;
        for problem in super::client::linearizability_problems(&self.history, budget) {
            ctx.violation("linearizable", problem);
        }
    }

    fn check_durable<W: Sink>(&mut self, ctx: &mut Ctx<'_, W>) {
        let best = self
            .slots
            .iter()
            .filter_map(|s| s.server.as_ref())
            .max_by_key(|s| s.applied());
        let Some(best) = best else {
            ctx.violation(
                "durable",
                "no node is up at the end to hold the acknowledged writes",
            );
            return;
        };
        let lost: Vec<&(u64, u64)> = self
            .acked
            .iter()
            .filter(|(session, seq)| best.kv().last_seq(*session).is_none_or(|l| l < *seq))
            .collect();
        if let Some((session, seq)) = lost.first() {
            ctx.violation(
                "durable",
                format!(
                    "{} acknowledged writes are missing from the most advanced node {} (applied up to {}), the first: session {session:#x} request {seq}",
                    lost.len(),
                    best.node().id(),
                    best.applied()
                ),
            );
        }
    }
}

/// What the world asks of the cluster: to start, to handle its events, to finish, and to
/// carry out the fault plan's steps on its nodes (see [`crate::world::faults::Nemesis`]).
impl Cluster {
    /// Registers the cluster's metrics and streams, boots every node and schedules the
    /// clients' first calls.
    pub fn start<W: Sink>(&mut self, ctx: &mut Ctx<'_, W>, p: &mut Parts) -> Result<(), SimError> {
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        let raft = self.config.name.clone();
        let metrics = ctx.metrics();
        let mut m = Metrics {
            elections: metrics.counter(&raft, "elections").map_err(setup)?,
            election_time: metrics
                .histogram(&raft, "election_time", Unit::Ns)
                .map_err(setup)?,
            commit_latency: metrics
                .histogram(&raft, "commit_latency", Unit::Ns)
                .map_err(setup)?,
            commits: metrics.counter(&raft, "commits").map_err(setup)?,
            term: metrics.gauge(&raft, "term").map_err(setup)?,
            crashes: metrics.counter(&raft, "crashes").map_err(setup)?,
            short_logs: None,
            ok: None,
            fail: None,
            info: None,
            latency: None,
        };
        if let Some(load) = &self.config.load {
            let name = load.name.clone();
            m.ok = Some(metrics.counter(&name, "ok").map_err(setup)?);
            m.fail = Some(metrics.counter(&name, "fail").map_err(setup)?);
            m.info = Some(metrics.counter(&name, "info").map_err(setup)?);
            m.latency = Some(
                metrics
                    .histogram(&name, "latency", Unit::Ns)
                    .map_err(setup)?,
            );
        }
        self.m = Some(m);
        self.s = Some(Streams {
            net: ctx.stream("raft.network")?,
            load: ctx.stream("raft.load")?,
            disk: ctx.stream("raft.disk")?,
        });
        if self.config.cpu_per_message > SimDuration::ZERO {
            let now = ctx.now().as_nanos();
            for id in 0..self.n {
                if let Some(cpu) = p.cpu(id) {
                    let proc = ProcConfig::new(self.config.name.clone());
                    self.procs[id as usize] = Some(cpu.add_process(&proc, now));
                }
            }
        }
        for id in 0..self.n {
            if let Some(disk) = p.disk(id) {
                let rng = RngStream::derive(self.config.seed, &format!("raft.node.{id}.device"));
                let wal = WalLog::format(disk.sectors(), rng, BASE_CAPACITY).map_err(|e| {
                    SimError::Setup(format!(
                        "raft `{}`: the log does not fit on disk `{}` of node {}: {e}",
                        self.config.name,
                        disk.name(),
                        self.config.nodes[id as usize]
                    ))
                })?;
                self.slots[id as usize].wal = Some(wal);
            }
        }
        if self.slots.iter().any(|s| s.wal.is_some()) {
            let metrics = ctx.metrics();
            let short = metrics.counter(&raft, "short_logs").map_err(setup)?;
            let lost = metrics.counter(&raft, "entries_lost").map_err(setup)?;
            if let Some(m) = self.m.as_mut() {
                m.short_logs = Some((short, lost));
            }
        }
        self.tiers.start(ctx)?;
        for id in 0..self.n {
            self.boot(id, ctx, p);
        }
        for c in 0..self.clients.len() as u32 {
            self.schedule_invoke(c, ctx);
        }
        Ok(())
    }

    /// Handles one of the cluster's events.
    #[inline]
    pub fn handle<W: Sink>(&mut self, ev: Ev, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        match ev {
            Ev::Deliver { slot } => {
                let Some(env) = self.messages.get_mut(slot as usize).and_then(Option::take) else {
                    return;
                };
                self.free.push(slot);
                ctx.metrics().add(p.net_metrics().delivered, 1);
                if env.to >= self.n {
                    let c = env.to - self.n;
                    if c as usize >= self.clients.len() {
                        return self.cache_deliver(env, ctx, p);
                    }
                    if let Body::Reply(r) = env.body {
                        let now = ctx.now();
                        let mut acts = std::mem::take(&mut self.client_actions);
                        self.clients[c as usize].reply(r, now, &mut acts);
                        self.client_actions = acts;
                        self.client_do(c, ctx, p);
                    }
                    return;
                }
                let id = env.to;
                let slot = &mut self.slots[id as usize];
                if slot.server.is_none() {
                    return;
                }
                if slot.paused {
                    // A paused process reads nothing; its socket buffer fills and then drops.
                    if slot.deferred.len() >= MAX_DEFERRED {
                        ctx.metrics().add(p.net_metrics().dropped, 1);
                        return;
                    }
                    slot.deferred.push(Deferred::Deliver(env.from, env.body));
                    return;
                }
                self.receive(id, env.from, env.body, ctx, p);
            }
            Ev::Timer {
                node,
                timer,
                generation,
            } => {
                let slot = &mut self.slots[node as usize];
                let k = timer as usize;
                if slot.server.is_none() || slot.timer_gen[k] != generation {
                    return;
                }
                slot.timer_queued[k] = None;
                match slot.timer_due[k] {
                    Some(due) if due > ctx.now() => {
                        // Re-armed since this event was queued: wait for the new time.
                        Self::queue_timer(slot, node, timer, due, ctx);
                        return;
                    }
                    Some(_) => slot.timer_due[k] = None,
                    None => return,
                }
                if slot.paused {
                    // One firing per timer kind is enough: it has fired once it resumes.
                    if !slot
                        .deferred
                        .iter()
                        .any(|d| matches!(d, Deferred::Timer(t) if *t == timer))
                    {
                        slot.deferred.push(Deferred::Timer(timer));
                    }
                    return;
                }
                self.with_server(node, ctx, p, |srv, out| srv.tick(timer, out));
            }
            Ev::Synced { node, epoch } => {
                if self.slots[node as usize].wal.is_some() {
                    self.log_io_done(node, epoch, ctx, p);
                } else {
                    self.sync_done(node, epoch, ctx, p);
                }
            }
            Ev::ClientWake { client, generation } => {
                if self.client_gen[client as usize] != generation {
                    return;
                }
                let now = ctx.now();
                let mut acts = std::mem::take(&mut self.client_actions);
                self.clients[client as usize].wake(now, &mut acts);
                self.client_actions = acts;
                self.client_do(client, ctx, p);
            }
            Ev::Invoke { client, generation } => {
                if self.pacer.is_current(client as usize, generation)
                    && !self.clients[client as usize].busy()
                {
                    self.invoke(client, ctx, p);
                }
            }
        }
    }

    /// The run ended: closes what the timeline still has open.
    pub fn finish<W: Sink>(&mut self, ctx: &mut Ctx<'_, W>) {
        self.rec.finish(ctx);
        self.tiers.finish(ctx);
    }

    /// The end-of-run checks the scenario asked for: the history is linearizable, no
    /// acknowledged write was lost.
    pub fn final_checks<W: Sink>(&mut self, ctx: &mut Ctx<'_, W>) {
        if self.config.check_linearizable {
            self.check_history(ctx);
        }
        if self.config.check_durable {
            self.check_durable(ctx);
        }
    }

    /// Whether node `id` is up (its process runs, perhaps paused).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.slots
            .get(id as usize)
            .is_some_and(|s| s.server.is_some())
    }

    /// Whether node `id` is paused.
    pub fn is_paused(&self, id: NodeId) -> bool {
        self.slots.get(id as usize).is_some_and(|s| s.paused)
    }

    /// The number of servers.
    pub fn nodes(&self) -> u32 {
        self.n
    }

    /// One of node `node`'s log requests ended on its modelled disk (in the node's life
    /// `epoch`). Whether it failed is the storage stack's to say (the disk's faults reach the
    /// stack's device): the sync it belongs to completes when its last request does.
    pub fn disk_synced<W: Sink>(
        &mut self,
        node: NodeId,
        epoch: u32,
        _ok: bool,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
    ) {
        self.log_io_done(node, epoch, ctx, p);
    }

    fn log_io_done<W: Sink>(
        &mut self,
        node: NodeId,
        epoch: u32,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
    ) {
        let Some(slot) = self.slots.get_mut(node as usize) else {
            return;
        };
        if slot.epoch != epoch {
            return;
        }
        slot.log_busy = false;
        self.pump_log(node, ctx, p);
    }

    /// Sends the log's next request to the disk; completes each sync whose requests are all
    /// done, in order. A failed sync stops the node as a power loss would: after a failed
    /// fsync, Linux may have dropped the dirty pages and a later fsync may succeed without
    /// them (the "fsyncgate" behaviour), so the one safe answer is to crash and recover from
    /// what is durable, as PostgreSQL and etcd do.
    fn pump_log<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        loop {
            let slot = &mut self.slots[id as usize];
            let epoch = slot.epoch;
            if slot.log_busy || slot.server.is_none() {
                return;
            }
            let Some(chain) = slot.chains.front_mut() else {
                return;
            };
            let first = !chain.started;
            if first {
                chain.started = true;
                if let Some(wal) = slot.wal.as_mut() {
                    chain.ok = wal.sync().is_ok();
                    chain.ios = wal.take_io().iter().filter_map(timed).collect();
                }
            }
            let next = chain.ios.pop_front();
            if next.is_some() || first {
                slot.log_busy = true;
                match (next, p.disk(id)) {
                    (Some(op), Some(disk)) => disk.submit(op, Owner::Raft { node: id, epoch }, ctx),
                    // No request to time: the fsync ends at once, in an event of its own.
                    _ => {
                        let now = ctx.now();
                        ctx.schedule_at(now, Ev::Synced { node: id, epoch }.into());
                    }
                }
                return;
            }
            let (ok, syncs) = (chain.ok, chain.syncs);
            slot.chains.pop_front();
            if !ok {
                self.crash(id, ctx);
                return;
            }
            for _ in 0..syncs {
                self.sync_done(id, epoch, ctx, p);
            }
        }
    }

    /// A disk fault reaches node `id`'s log on a modelled disk (`None`: the faults end).
    pub fn disk_fault(&mut self, id: NodeId, fault: Option<&DiskFault>) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        let Some(wal) = slot.wal.as_mut() else {
            return;
        };
        stack_fault(wal.fs_mut(), fault);
        slot.faulted |= fault.is_some_and(|f| {
            !matches!(
                f,
                DiskFault::Slow(_) | DiskFault::FailMember(_) | DiskFault::Rebuild
            )
        });
    }

    fn sync_done<W: Sink>(
        &mut self,
        node: NodeId,
        epoch: u32,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
    ) {
        let slot = &mut self.slots[node as usize];
        if slot.epoch != epoch || slot.server.is_none() {
            return;
        }
        slot.storage.complete_sync();
        if slot.paused {
            slot.deferred.push(Deferred::Synced);
            return;
        }
        self.synced(node, ctx, p);
    }

    pub fn crash_node<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>) {
        self.crash(id, ctx);
    }

    /// Boots node `id` from what its disk holds.
    pub fn restart_node<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        self.boot(id, ctx, p);
    }

    /// Pauses node `id` (SIGSTOP): it holds what arrives until it resumes.
    pub fn pause_node(&mut self, id: NodeId) {
        self.slots[id as usize].paused = true;
    }

    /// Resumes node `id`, which then does the work it held, in order.
    pub fn resume_node<W: Sink>(&mut self, id: NodeId, ctx: &mut Ctx<'_, W>, p: &mut Parts) {
        self.resume(id, ctx, p);
    }

    /// The clients' total offered load.
    pub fn rate(&self) -> f64 {
        self.pacer.rate()
    }

    /// Sets the clients' total offered load; idle clients draw their next call again.
    pub fn set_rate<W: Sink>(&mut self, rate: f64, ctx: &mut Ctx<'_, W>) {
        self.pacer.set_rate(rate);
        self.rate_changed(ctx);
    }
}

/// A partition shape as a scenario writes it.
fn shape_name(shape: &Shape) -> String {
    match shape {
        Shape::Halves => "halves".into(),
        Shape::One => "one".into(),
        Shape::Bridge => "bridge".into(),
        Shape::MajoritiesRing => "majorities-ring".into(),
        Shape::OneWay => "one-way".into(),
        Shape::Groups(g) => format!("{} groups", g.len()),
    }
}

//! The world: hosts with their resources, the network between them, and the services placed on
//! them, run as one simulation model.
//!
//! A scenario is wired into a [`WorldConfig`]: hosts by dense id, the network's links over
//! them, the services (a Raft cluster and its clients, queueing stations, CPU jobs, `io` loads
//! and key-value stores on the hosts' disks), the fault plan and the liveness expectations.
//! [`World`] is the one [`Model`] the runner runs. It owns what services share ([`Parts`]: the
//! network's links and counters, the hosts' CPUs and disks, the liveness book) and
//! hands it to each service with every event, so a service reaches the network and the host
//! resources it runs on without owning them. Services are not boxed: each family's component is
//! a field and its events a variant of [`Ev`], written generically over the world's event type
//! (a family's code schedules `E::X.into()`), so a scenario that uses one family runs nearly the
//! same instructions as that family alone did (BENCHMARKS.md, issue 17).
//!
//! Parts of the world that `native run` drives on the machine as well live here too: the fault
//! plan ([`faults`]), the liveness book ([`liveness`]) and the clients' pace ([`load`]).

pub mod cache;
pub mod cloud;
pub mod disk;
pub mod faults;
pub mod host;
pub mod liveness;
pub mod load;
pub mod replay;
pub mod schema;
pub mod store;

use simcore::metrics::CounterId;
use simcore::{Ctx, Encoder, Model, RngStream, SimError, SimTime, TraceEvent};

use crate::cpu::{CpuConfig, HostCpu, ProcId, Step};
use crate::network::{LinkConfig, Links, Partition, Shape, Topology};
use crate::queueing::network::{QEvent, QNet, QNetConfig};
use crate::raft::cluster::{self, Cluster, ClusterConfig};

use self::cloud::{Cloud, CloudConfig, CloudEv};
use self::disk::{DiskConfig, DiskFault, DiskStep, Done, HostDisk, IoConfig, IoLoad, Owner};
use self::faults::{Fault, FaultState, Nemesis, NodeId};
use self::host::{Host, HostConfig};
use self::liveness::{Liveness, Obligations};
use self::replay::{Replay, ReplayConfig, ReplayEv};
use self::store::{Store, StoreConfig, StoreEv};

/// The network between the hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// The `network` block's name (its metrics are `NAME.sent`, `NAME.delivered`,
    /// `NAME.dropped`).
    pub name: String,
    pub link: LinkConfig,
    /// How the fault domain's hosts (a Raft cluster's servers) are wired; every other host
    /// reaches every host in one hop.
    pub topology: Topology,
    /// Each host's (zone, region), by host id (a missing entry or `None`: in no zone, every
    /// link to it behaves as `link`).
    pub zones: Vec<Option<(u32, u32)>>,
    /// One-way latency between hosts in different zones of one region, and in different
    /// regions (nanoseconds; `None`: `link`'s).
    pub cross_zone: Option<simcore::Dist>,
    pub cross_region: Option<simcore::Dist>,
}

impl NetworkConfig {
    /// The link between hosts `a` and `b` where it differs from `link`: across zones or
    /// regions.
    fn link_between(&self, a: usize, b: usize) -> Option<LinkConfig> {
        let (Some(Some((za, ra))), Some(Some((zb, rb)))) = (self.zones.get(a), self.zones.get(b))
        else {
            return None;
        };
        let latency = if ra != rb {
            self.cross_region.as_ref().or(self.cross_zone.as_ref())
        } else if za != zb {
            self.cross_zone.as_ref()
        } else {
            None
        }?;
        Some(LinkConfig {
            latency: latency.clone(),
            ..self.link.clone()
        })
    }
}

/// A scenario, wired: everything the world needs to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    pub seed: u64,
    /// The hosts, by id. A Raft cluster's servers are hosts `0..n` and its clients the next
    /// ones; other hosts follow.
    pub hosts: Vec<HostConfig>,
    pub network: NetworkConfig,
    /// The hosts faults can target by number (`0..fault_domain`): a Raft cluster's servers.
    pub fault_domain: u32,
    /// The fault plan: steps at their times, in order of time and then as written.
    pub plan: Vec<(SimTime, Fault)>,
    pub liveness: Vec<Liveness>,
    pub raft: Option<ClusterConfig>,
    /// Queueing stations and sources (placed on hosts in its `placement`, or not at all).
    pub qnet: Option<QNetConfig>,
    /// The hosts that have a modelled CPU, each with its host id: their policy, CPUs and batch
    /// jobs. Services on those hosts run their work on them.
    pub cpus: Vec<(u32, CpuConfig)>,
    /// The hosts that have a modelled disk, each with its host id.
    pub disks: Vec<(u32, DiskConfig)>,
    /// Block workloads on the hosts' disks.
    pub io: Vec<IoConfig>,
    /// Key-value storage engines on the hosts' disks.
    pub stores: Vec<StoreConfig>,
    /// Caches replaying traces.
    pub replays: Vec<ReplayConfig>,
    /// Request/response services and their clients.
    pub cloud: Option<CloudConfig>,
}

impl WorldConfig {
    /// Whether the world is a queueing network alone: no cluster, no CPU, no fault, no
    /// liveness check, no station placed on a host. Such a world is exactly the network's own
    /// model (the same events, draws and trace), which the runner then runs directly: through
    /// the world's dispatch an M/M/1 run took 36% longer in wall time (the event loop's body
    /// grew: 19% of samples in `run_loop` against 5%) for only 3.6% more instructions.
    pub fn is_lone_queueing_network(&self) -> bool {
        self.raft.is_none()
            && self.cpus.is_empty()
            && self.disks.is_empty()
            && self.io.is_empty()
            && self.stores.is_empty()
            && self.replays.is_empty()
            && self.cloud.is_none()
            && self.plan.is_empty()
            && self.liveness.is_empty()
            && self.qnet.as_ref().is_some_and(|q| {
                q.placement.stations.iter().all(Option::is_none)
                    && q.placement.sources.iter().all(Option::is_none)
            })
    }
}

/// The network's counters.
#[derive(Debug, Clone, Copy)]
pub struct NetMetrics {
    pub sent: CounterId,
    pub delivered: CounterId,
    pub dropped: CounterId,
}

/// What the world's services share, handed to each with every event.
#[derive(Debug)]
pub struct Parts {
    /// Each host's clock and disk, by host id.
    pub hosts: Vec<Host>,
    pub links: Links,
    net: Option<NetMetrics>,
    /// The liveness expectations: services that make their events happen evaluate them.
    pub live: Obligations,
    /// The modelled CPUs, and per host id the index of its CPU in `cpus`.
    pub cpus: Vec<HostCpu>,
    cpu_of: Vec<Option<u32>>,
    /// The modelled disks, and per host id the index of its disk in `disks`.
    pub disks: Vec<HostDisk>,
    disk_of: Vec<Option<u32>>,
}

impl Parts {
    /// The network's counters (registered when the world starts).
    #[inline]
    pub fn net_metrics(&self) -> NetMetrics {
        self.net
            .expect("the world registers the network's metrics in start")
    }

    /// Host `host`'s modelled CPU, if it has one.
    #[inline]
    pub fn cpu(&mut self, host: u32) -> Option<&mut HostCpu> {
        let i = (*self.cpu_of.get(host as usize)?)?;
        self.cpus.get_mut(i as usize)
    }

    /// Host `host`'s modelled disk, if it has one (else its disk is the fsync latency of
    /// [`host::Disk`]).
    #[inline]
    pub fn disk(&mut self, host: u32) -> Option<&mut HostDisk> {
        let i = (*self.disk_of.get(host as usize)?)?;
        self.disks.get_mut(i as usize)
    }
}

/// The world's events: each service's own, and the world's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    Raft(cluster::Ev),
    Queue(QEvent),
    /// A host's CPU has something to do.
    Cpu(Step),
    /// A host's disk completes a request.
    Disk(DiskStep),
    /// A key-value store's client or restart.
    Store(StoreEv),
    /// A replaying cache's next batch of requests.
    Replay(ReplayEv),
    /// A request/response service's or client's event.
    Cloud(CloudEv),
    /// Step `index` of the fault plan.
    Fault {
        index: u32,
    },
    /// Liveness obligation `index`'s deadline.
    Deadline {
        index: u32,
    },
}

impl From<cluster::Ev> for Ev {
    #[inline]
    fn from(e: cluster::Ev) -> Self {
        Ev::Raft(e)
    }
}

impl From<QEvent> for Ev {
    #[inline]
    fn from(e: QEvent) -> Self {
        Ev::Queue(e)
    }
}

impl From<Step> for Ev {
    #[inline]
    fn from(e: Step) -> Self {
        Ev::Cpu(e)
    }
}

impl From<DiskStep> for Ev {
    #[inline]
    fn from(e: DiskStep) -> Self {
        Ev::Disk(e)
    }
}

impl From<StoreEv> for Ev {
    #[inline]
    fn from(e: StoreEv) -> Self {
        Ev::Store(e)
    }
}

impl From<ReplayEv> for Ev {
    #[inline]
    fn from(e: ReplayEv) -> Self {
        Ev::Replay(e)
    }
}

impl From<CloudEv> for Ev {
    #[inline]
    fn from(e: CloudEv) -> Self {
        Ev::Cloud(e)
    }
}

impl TraceEvent for Ev {
    /// A service's event encodes as that service alone encodes it, so a scenario of one family
    /// hashes as it did before the world existed; the world's own take the tags the Raft
    /// cluster gave them (5 and 6) when it owned faults and deadlines.
    #[inline(always)]
    fn encode(&self, e: &mut Encoder<'_>) {
        match self {
            Ev::Raft(r) => r.encode(e),
            Ev::Queue(q) => q.encode(e),
            Ev::Cpu(c) => c.encode(e),
            Ev::Disk(d) => d.encode(e),
            Ev::Store(d) => d.encode(e),
            Ev::Replay(r) => r.encode(e),
            Ev::Cloud(c) => c.encode(e),
            Ev::Fault { index } => {
                e.u8(5).u32(*index);
            }
            Ev::Deadline { index } => {
                e.u8(6).u32(*index);
            }
        }
    }
}

/// The world as one simulation model.
pub struct World {
    config: WorldConfig,
    parts: Parts,
    raft: Option<Cluster>,
    qnet: Option<QNet>,
    /// Whether the queueing network's routes cross hosts (then it is given the network).
    qnet_on_network: bool,
    /// Pieces of CPU work that ended at a step, as (process, token): reused.
    done: Vec<(ProcId, u64)>,
    /// Block workloads, in the order of `WorldConfig::io`.
    io: Vec<IoLoad>,
    /// Disk requests that ended at a step: reused.
    disk_done: Vec<Done>,
    /// Key-value stores, in the order of `WorldConfig::stores`.
    stores: Vec<Store>,
    /// Replaying caches, in the order of `WorldConfig::replays`.
    replays: Vec<Replay>,
    cloud: Option<Cloud>,
    faults: FaultState,
    /// The fault plan's draws (whom a random target hits, partition shapes, clock skews).
    fault_rng: RngStream,
}

impl World {
    pub fn new(mut config: WorldConfig) -> Result<Self, String> {
        let raft = config.raft.take().map(Cluster::new).transpose()?;
        let qnet_on_network = config.qnet.as_ref().is_some_and(|q| {
            q.placement.stations.iter().any(Option::is_some)
                || q.placement.sources.iter().any(Option::is_some)
        });
        let qnet = config
            .qnet
            .take()
            .map(QNet::new)
            .transpose()
            .map_err(|e| e.to_string())?;
        let mut cpu_of = vec![None; config.hosts.len()];
        let mut cpus = Vec::with_capacity(config.cpus.len());
        for (host, cpu) in std::mem::take(&mut config.cpus) {
            let slot = cpu_of
                .get_mut(host as usize)
                .ok_or_else(|| format!("a CPU on host {host}, which does not exist"))?;
            *slot = Some(cpus.len() as u32);
            let mut c = HostCpu::new(cpu, host)?;
            if config.hosts.len() > 1 {
                c.set_track_prefix(format!("{} ", config.hosts[host as usize].name));
            }
            cpus.push(c);
        }
        let mut disk_of = vec![None; config.hosts.len()];
        let mut disks = Vec::with_capacity(config.disks.len());
        for (host, disk) in std::mem::take(&mut config.disks) {
            let slot = disk_of
                .get_mut(host as usize)
                .ok_or_else(|| format!("a disk on host {host}, which does not exist"))?;
            *slot = Some(disks.len() as u32);
            disks.push(HostDisk::new(&disk, host)?);
        }
        let io: Vec<IoLoad> = std::mem::take(&mut config.io)
            .into_iter()
            .enumerate()
            .map(|(i, c)| IoLoad::new(c, i as u32))
            .collect();
        for load in &io {
            let disk = disk_of
                .get(load.host() as usize)
                .copied()
                .flatten()
                .and_then(|i| disks.get(i as usize))
                .ok_or_else(|| format!("io `{}` is on a host without a disk", load.name()))?;
            let extent = load.workload().extent();
            if extent > disk.bytes() {
                return Err(format!(
                    "io `{}` reaches byte {extent}, past the end of disk `{}` ({} bytes)",
                    load.name(),
                    disk.name(),
                    disk.bytes()
                ));
            }
        }
        let mut stores = Vec::with_capacity(config.stores.len());
        let crash_times: Vec<SimTime> = config
            .plan
            .iter()
            .filter(|(_, f)| matches!(f, Fault::Crash(_)))
            .map(|(t, _)| *t)
            .collect();
        for (i, mut c) in std::mem::take(&mut config.stores).into_iter().enumerate() {
            c.crash_times.clone_from(&crash_times);
            let disk = disk_of
                .get(c.host as usize)
                .copied()
                .flatten()
                .and_then(|d| disks.get(d as usize))
                .ok_or_else(|| format!("kvstore `{}` is on a host without a disk", c.name))?;
            let sectors = disk.sectors();
            stores.push(Store::new(c, i as u32, sectors, config.seed));
        }
        let replays = std::mem::take(&mut config.replays)
            .into_iter()
            .enumerate()
            .map(|(i, c)| Replay::new(c, i as u32))
            .collect();
        let cloud = config
            .cloud
            .take()
            .map(|c| Cloud::new(c, config.seed))
            .transpose()?;
        let hosts = config.hosts.len() as u32;
        let (servers, edge) = match &raft {
            Some(r) => (r.nodes(), hosts - r.nodes()),
            None => (0, hosts),
        };
        let mut links = Links::full_mesh(hosts, config.network.link.clone());
        // Links across zones differ (a scenario without zones has none to look at).
        let zoned = if config.network.zones.is_empty() {
            0
        } else {
            hosts as usize
        };
        for a in 0..zoned {
            for b in 0..zoned {
                if let Some(link) = config.network.link_between(a, b) {
                    links.set(a as u32, b as u32, link);
                }
            }
        }
        if servers > 0 {
            let mut hops = config.network.topology.hops(servers, edge);
            // Hosts outside the fault domain reach each other directly.
            let h = hosts as usize;
            for a in servers as usize..h {
                for b in servers as usize..h {
                    hops[a * h + b] = u32::from(a != b);
                }
            }
            links.set_topology(hops);
        }
        Ok(World {
            parts: Parts {
                hosts: (0..hosts)
                    .zip(&config.hosts)
                    .map(|(id, h)| Host::new(id, h, config.seed))
                    .collect(),
                links,
                net: None,
                live: Obligations::new(config.liveness.clone()),
                cpus,
                cpu_of,
                disks,
                disk_of,
            },
            raft,
            qnet,
            qnet_on_network,
            done: Vec::new(),
            io,
            disk_done: Vec::new(),
            stores,
            replays,
            cloud,
            faults: FaultState::new(config.plan.len()),
            // The stream keeps the name it had when the Raft cluster owned the plan, so seeds
            // replay as before.
            fault_rng: RngStream::derive(config.seed, "raft.faults"),
            config,
        })
    }

    /// The Raft cluster, if the world has one (for its history after a run).
    pub fn raft(&self) -> Option<&Cluster> {
        self.raft.as_ref()
    }

    #[inline(never)]
    fn queue_event(&mut self, q: QEvent, ctx: &mut Ctx<'_, Ev>) {
        if let Some(qnet) = self.qnet.as_mut() {
            let links = self.qnet_on_network.then_some(&mut self.parts.links);
            qnet.handle_in(q, ctx, links);
        }
    }

    #[inline(never)]
    fn raft_event(&mut self, e: cluster::Ev, ctx: &mut Ctx<'_, Ev>) {
        if let Some(raft) = self.raft.as_mut() {
            raft.handle(e, ctx, &mut self.parts);
        }
    }

    /// A host's CPU steps: the pieces of work that ended go back to the services that gave
    /// them (the Raft servers' processes are the only ones so far).
    #[inline(never)]
    fn cpu_step(&mut self, step: Step, ctx: &mut Ctx<'_, Ev>) {
        let mut done = std::mem::take(&mut self.done);
        if let Some(cpu) = self.parts.cpu(step.host) {
            cpu.handle(step, ctx, &mut done);
        }
        for (_, token) in done.drain(..) {
            if let Some(raft) = self.raft.as_mut() {
                raft.computed(token, ctx, &mut self.parts);
            }
        }
        self.done = done;
    }

    /// A host's disk steps: the requests that ended go back to the services that made them.
    #[inline(never)]
    fn disk_step(&mut self, step: DiskStep, ctx: &mut Ctx<'_, Ev>) {
        let mut done = std::mem::take(&mut self.disk_done);
        if let Some(disk) = self.parts.disk(step.host) {
            disk.step(ctx, &mut done);
        }
        for d in done.drain(..) {
            match d.owner {
                Owner::Io { load, .. } => {
                    if let Some(l) = self.io.get_mut(load as usize)
                        && let Some(disk) = self.parts.disk(l.host())
                    {
                        l.done(&d, ctx, disk);
                    }
                }
                Owner::Raft { node, epoch } => {
                    if let Some(raft) = self.raft.as_mut() {
                        raft.disk_synced(node, epoch, d.ok, ctx, &mut self.parts);
                    }
                }
                Owner::Store { store, epoch } => {
                    if let Some(s) = self.stores.get_mut(store as usize)
                        && let Some(disk) = self.parts.disk(s.host())
                    {
                        s.io_done(epoch, ctx, disk);
                    }
                }
            }
        }
        self.disk_done = done;
    }

    #[inline(never)]
    fn replay_event(&mut self, e: ReplayEv, ctx: &mut Ctx<'_, Ev>) {
        if let Some(r) = self.replays.get_mut(e.replay as usize) {
            r.handle(ctx);
        }
    }

    #[inline(never)]
    fn cloud_event(&mut self, e: CloudEv, ctx: &mut Ctx<'_, Ev>) {
        if let Some(c) = self.cloud.as_mut() {
            c.handle(e, ctx, &mut self.parts.links);
        }
    }

    #[inline(never)]
    fn store_event(&mut self, e: StoreEv, ctx: &mut Ctx<'_, Ev>) {
        if let Some(s) = self.stores.get_mut(e.store as usize)
            && let Some(disk) = self.parts.disk(s.host())
        {
            s.handle(e, ctx, disk);
        }
    }

    /// Whether there is a leader, and the committed index, as liveness sees them.
    fn progress(&self) -> (bool, u64) {
        self.raft
            .as_ref()
            .map_or((false, 0), |r| (r.leader().is_some(), r.committed_index()))
    }

    fn open_obligations(&mut self, verb: Option<&str>, ctx: &mut Ctx<'_, Ev>) {
        let (leader, committed) = self.progress();
        let now = ctx.now();
        self.parts
            .live
            .open(verb, now, leader, committed, |index, at| {
                ctx.schedule_at(at, Ev::Deadline { index });
            });
    }

    fn fault(&mut self, index: usize, ctx: &mut Ctx<'_, Ev>) {
        let mut nemesis = WorldNemesis {
            raft: self.raft.as_mut(),
            cloud: self.cloud.as_mut(),
            stores: &mut self.stores,
            parts: &mut self.parts,
            domain: self.config.fault_domain,
            ctx,
        };
        let Ok(applied) =
            self.faults
                .apply(&self.config.plan, index, &mut nemesis, &mut self.fault_rng);
        if ctx.recording() {
            match (self.raft.as_mut(), self.config.plan.get(index)) {
                (Some(raft), Some((_, fault))) => {
                    raft.record_fault(&self.config.plan, fault, &applied.hit, ctx, &self.parts);
                }
                (None, Some((_, fault))) => {
                    // Without a cluster (whose recorder names nodes and partition sides), the
                    // step as an instant on the same faults track.
                    let what = match fault {
                        Fault::Undo(j) => {
                            let verb = self.config.plan.get(*j).map_or("", |(_, f)| f.verb());
                            format!("end of {verb} window")
                        }
                        f => f.verb().to_string(),
                    };
                    let now = ctx.now();
                    if let Some(tl) = ctx.timeline() {
                        let track = tl.track("faults", "faults");
                        tl.instant(track, "fault", what, now);
                    }
                }
                _ => {}
            }
        }
        self.open_obligations(Some(applied.verb), ctx);
    }
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("hosts", &self.config.hosts.len())
            .field("raft", &self.raft.is_some())
            .field("qnet", &self.qnet.is_some())
            .field("cpus", &self.parts.cpus.len())
            .finish_non_exhaustive()
    }
}

/// The fault plan's view of the world: partitions cut the network, node faults hit the Raft
/// cluster's servers.
struct WorldNemesis<'a, 'c, 'b> {
    raft: Option<&'a mut Cluster>,
    cloud: Option<&'a mut Cloud>,
    stores: &'a mut [Store],
    parts: &'a mut Parts,
    domain: u32,
    ctx: &'c mut Ctx<'b, Ev>,
}

impl Nemesis for WorldNemesis<'_, '_, '_> {
    type Error = std::convert::Infallible;

    fn nodes(&self) -> u32 {
        self.domain
    }
    fn leader(&self) -> Option<NodeId> {
        self.raft.as_ref().and_then(|r| r.leader())
    }
    fn is_up(&self, id: NodeId) -> bool {
        self.raft.as_ref().is_some_and(|r| r.is_up(id))
            || self.stores.iter().any(|s| s.host() == id && s.is_up())
            || self.cloud.as_ref().is_some_and(|c| c.host_is_up(id))
    }
    fn is_paused(&self, id: NodeId) -> bool {
        self.raft.as_ref().is_some_and(|r| r.is_paused(id))
    }
    fn partition(&mut self, cut: Option<(&Shape, &mut RngStream)>) -> Result<(), Self::Error> {
        self.parts.links.partition = match cut {
            Some((shape, rng)) => Partition::shape(self.domain, shape, rng),
            None => Partition::none(),
        };
        Ok(())
    }
    fn crash(&mut self, id: NodeId) -> Result<(), Self::Error> {
        if let Some(r) = self.raft.as_mut() {
            r.crash_node(id, self.ctx);
        }
        if let Some(h) = self.parts.hosts.get_mut(id as usize) {
            h.disk.forget_queue(self.ctx.now());
        }
        if let Some(d) = self.parts.disk(id) {
            d.forget_queue();
        }
        for s in self.stores.iter_mut().filter(|s| s.host() == id) {
            s.crash(self.ctx);
        }
        if let Some(c) = self.cloud.as_mut() {
            c.crash(id, self.ctx);
        }
        Ok(())
    }
    fn restart(&mut self, id: NodeId) -> Result<(), Self::Error> {
        if let Some(r) = self.raft.as_mut() {
            r.restart_node(id, self.ctx, self.parts);
        }
        for s in self.stores.iter_mut().filter(|s| s.host() == id) {
            if let Some(disk) = self.parts.disk(id) {
                s.recover(self.ctx, disk);
            }
        }
        if let Some(c) = self.cloud.as_mut() {
            c.restart(id, self.ctx);
        }
        Ok(())
    }
    fn pause(&mut self, id: NodeId) -> Result<(), Self::Error> {
        if let Some(r) = self.raft.as_mut() {
            r.pause_node(id);
        }
        Ok(())
    }
    fn resume(&mut self, id: NodeId) -> Result<(), Self::Error> {
        if let Some(r) = self.raft.as_mut() {
            r.resume_node(id, self.ctx, self.parts);
        }
        Ok(())
    }
    fn clock_offset(&mut self, id: NodeId, offset_ns: i64) -> Result<(), Self::Error> {
        if let Some(h) = self.parts.hosts.get_mut(id as usize) {
            h.clock.offset_ns = offset_ns;
        }
        Ok(())
    }
    fn clock_drift(&mut self, id: NodeId, drift: f64) -> Result<(), Self::Error> {
        if let Some(h) = self.parts.hosts.get_mut(id as usize) {
            h.clock.drift = drift;
        }
        Ok(())
    }
    fn disk_slow(&mut self, id: NodeId, fsync: Option<&simcore::Dist>) -> Result<(), Self::Error> {
        if let Some(h) = self.parts.hosts.get_mut(id as usize) {
            h.disk.set_slow(fsync);
        }
        if let Some(d) = self.parts.disk(id) {
            let slow = fsync.map(|f| DiskFault::Slow(f.clone()));
            d.fault(slow.as_ref(), self.ctx);
        }
        Ok(())
    }
    fn disk_fault(&mut self, id: NodeId, fault: Option<&DiskFault>) -> Result<(), Self::Error> {
        if let Some(d) = self.parts.disk(id) {
            d.fault(fault, self.ctx);
        }
        if let Some(r) = self.raft.as_mut() {
            r.disk_fault(id, fault);
        }
        for s in self.stores.iter_mut().filter(|s| s.host() == id) {
            s.fault(fault);
        }
        Ok(())
    }
    fn rate(&self) -> f64 {
        self.raft.as_ref().map_or(0.0, |r| r.rate())
    }
    fn set_rate(&mut self, rate: f64) -> Result<(), Self::Error> {
        if let Some(r) = self.raft.as_mut() {
            r.set_rate(rate, self.ctx);
        }
        Ok(())
    }
}

impl Model for World {
    type Event = Ev;

    fn start(&mut self, ctx: &mut Ctx<'_, Ev>) -> Result<(), SimError> {
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        if self.raft.is_some() {
            // The network's own counters count the Raft cluster's messages (a queueing
            // network counts its transfers in its own metrics).
            let net = self.config.network.name.clone();
            let metrics = ctx.metrics();
            self.parts.net = Some(NetMetrics {
                sent: metrics.counter(&net, "sent").map_err(setup)?,
                delivered: metrics.counter(&net, "delivered").map_err(setup)?,
                dropped: metrics.counter(&net, "dropped").map_err(setup)?,
            });
        }
        // Registered so that no component's stream can collide with it; the draws come from
        // `fault_rng`, the same stream.
        ctx.stream("raft.faults")?;
        for (i, (at, _)) in self.config.plan.iter().enumerate() {
            ctx.schedule_at(*at, Ev::Fault { index: i as u32 });
        }
        for cpu in &mut self.parts.cpus {
            cpu.start(ctx)?;
        }
        for disk in &mut self.parts.disks {
            disk.start(ctx)?;
        }
        for load in &mut self.io {
            if let Some(disk) = self.parts.disk(load.host()) {
                load.start(ctx, disk)?;
            }
        }
        for s in &mut self.stores {
            s.start(ctx)?;
        }
        for r in &mut self.replays {
            r.start(ctx)?;
        }
        if let Some(c) = self.cloud.as_mut() {
            c.start(ctx)?;
        }
        if let Some(q) = self.qnet.as_mut() {
            q.start_in(ctx)?;
        }
        if let Some(raft) = self.raft.as_mut() {
            raft.start(ctx, &mut self.parts)?;
        }
        self.open_obligations(None, ctx);
        Ok(())
    }

    /// Dispatches to the service whose event it is. Each service's handling is a function of
    /// its own (not inlined here), so the compiler lays out and optimises each family's hot
    /// path as it did when that family was the whole model: inlining them all into one body
    /// made an M/M/1 run 36% slower in wall time for 3.6% more instructions.
    #[inline]
    fn handle(&mut self, ev: Ev, ctx: &mut Ctx<'_, Ev>) {
        match ev {
            Ev::Queue(q) => self.queue_event(q, ctx),
            Ev::Raft(e) => self.raft_event(e, ctx),
            Ev::Cpu(step) => self.cpu_step(step, ctx),
            Ev::Disk(step) => self.disk_step(step, ctx),
            Ev::Store(e) => self.store_event(e, ctx),
            Ev::Replay(e) => self.replay_event(e, ctx),
            Ev::Cloud(e) => self.cloud_event(e, ctx),
            Ev::Fault { index } => self.fault(index as usize, ctx),
            Ev::Deadline { index } => {
                if let Some(detail) = self.parts.live.deadline(index) {
                    ctx.violation("liveness", detail);
                }
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Ev>) {
        for r in &mut self.replays {
            r.finish(ctx);
        }
        for s in &mut self.stores {
            if let Some(disk) = self.parts.disk(s.host()) {
                s.finish(ctx, disk);
            }
        }
        for cpu in &mut self.parts.cpus {
            cpu.finish(ctx);
        }
        if let Some(c) = self.cloud.as_mut() {
            c.finish(ctx);
        }
        if let Some(q) = self.qnet.as_mut() {
            q.finish_in(ctx);
        }
        if let Some(raft) = self.raft.as_mut() {
            raft.finish(ctx);
        }
        // Expectations whose deadline lies past the end: the run ended before they were met.
        for detail in self.parts.live.finish() {
            ctx.violation("liveness", detail);
        }
        if let Some(raft) = self.raft.as_mut() {
            raft.final_checks(ctx);
        }
    }
}

//! A key-value storage engine as a world service: the [`crate::storage`] stack (block device
//! contents, file system and page cache, write-ahead log, LSM engine) on a host, its block I/O
//! timed on the host's modelled disk, driven by one client, crashed by the fault plan and
//! recovered, with every recovery checked against what was acknowledged.
//!
//! An operation runs on the storage stack when the client issues it, which reports the block
//! requests it makes; those go to the host's disk one after another, and the operation is
//! answered when the last completes. A write is acknowledged then, if the engine said it is
//! durable. A crash while an operation's requests are still on the disk answers nothing: the
//! operation is not acknowledged, and what it wrote may or may not survive, as the checker
//! allows for any write in flight.
//!
//! The stack has by then applied all of that operation's requests, so to crash it between two
//! of them the store keeps a copy of the stack from before an operation that starts shortly
//! before a crash in the fault plan ([`StoreConfig::crash_times`]): at the crash it goes back to
//! the copy and runs the operation again with the power cut at the request the disk was on, so
//! the request in flight is torn or lost and the ones after it never happen. Copies cost; only
//! operations that start within [`SNAPSHOT_WINDOW`] before a planned crash get one (an
//! operation still on the disk when a crash comes without a copy is crashed at its last
//! request).
//!
//! Content faults (`disk errors`, `corrupt`, `fail-fsync`, `full`, `fail`) act on the stack's
//! device, which decides what an operation gets; the host's disk gives its requests their time.

use std::collections::VecDeque;

use simcore::metrics::{CounterId, HistogramId, Unit};
use simcore::{Ctx, Encoder, RngStream, SimDuration, SimError, SimTime, StreamId, TraceEvent};

use crate::disk::workload::{IoKind, IoOp};
use crate::storage::block::BlockDevice;
use crate::storage::check::{Model, value};
use crate::storage::fs::{Fs, FsConfig};
use crate::storage::kv::{Kv, KvOptions};
use crate::storage::{BlockIo, IoKind as StoreIo};

use super::disk::{DiskFault, DiskStep, HostDisk, Owner};

/// A `kvstore` block on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    pub name: String,
    pub host: u32,
    pub ops: u64,
    pub keys: u64,
    pub reads: f64,
    pub think: SimDuration,
    pub value_size: usize,
    pub restart_after: SimDuration,
    pub kv: KvOptions,
    /// Check a crash at the end of the run too (`expect durable`).
    pub check_at_end: bool,
    /// When the fault plan crashes hosts (any target), in order: operations starting shortly
    /// before one keep a copy of the stack to crash in their middle. Filled by the world.
    pub crash_times: Vec<SimTime>,
}

/// How long before a planned crash an operation keeps a copy of the stack, until operations
/// have been timed: then twice the longest so far (an operation still on the disk at a crash
/// started less than its own length before it).
pub const SNAPSHOT_WINDOW: SimDuration = SimDuration::from_millis(50);

/// A store's own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreEv {
    pub store: u32,
    /// The store's life it belongs to (bumped at each crash).
    pub epoch: u32,
    pub what: StoreStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStep {
    /// The client issues its next operation.
    Next,
    /// The host is back: the engine recovers.
    Restart,
}

impl TraceEvent for StoreEv {
    #[inline(always)]
    fn encode(&self, e: &mut Encoder<'_>) {
        e.u8(8).u32(self.store).u32(self.epoch).u8(self.what as u8);
    }
}

/// An operation whose requests are on the disk.
#[derive(Debug)]
struct InFlight {
    ios: VecDeque<IoOp>,
    /// For each timed request in `ios` order, its index among the stack's requests (flushes
    /// included), and how many timed requests have been sent to the disk.
    raw_index: Vec<usize>,
    sent: usize,
    op: Op,
    write: Option<crate::storage::check::WriteId>,
    ok: bool,
    started: SimTime,
    /// The stack before the operation, to crash in its middle.
    before: Option<Box<(Fs, Kv, Model)>>,
}

/// An operation's inputs, to run it again after going back to the copy.
#[derive(Debug, Clone)]
enum Op {
    Get(Vec<u8>),
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

#[derive(Debug, Clone, Copy)]
struct Metrics {
    put: HistogramId,
    get: HistogramId,
    acknowledged: CounterId,
    failed: CounterId,
    recoveries: CounterId,
}

/// One engine on one host.
#[derive(Debug)]
pub struct Store {
    config: StoreConfig,
    index: u32,
    fs: Fs,
    kv: Option<Kv>,
    model: Model,
    epoch: u32,
    up: bool,
    issued: u64,
    inflight: Option<InFlight>,
    io: Vec<BlockIo>,
    rng: Option<StreamId>,
    metrics: Option<Metrics>,
    /// The longest an operation has taken so far.
    longest: Option<SimDuration>,
}

/// What a store needs from the world for an event: its host's disk.
pub trait StoreSink: From<StoreEv> + From<DiskStep> + TraceEvent {}
impl<T: From<StoreEv> + From<DiskStep> + TraceEvent> StoreSink for T {}

impl Store {
    /// A store on a disk of `sectors` sectors; the device's crash draws come from the run's
    /// seed.
    pub fn new(config: StoreConfig, index: u32, sectors: u64, seed: u64) -> Self {
        let rng = RngStream::derive(seed, &format!("{}.{}.device", config.name, config.host));
        Store {
            fs: crashable_stack(sectors, rng),
            kv: None,
            model: Model::new(),
            epoch: 0,
            up: false,
            issued: 0,
            inflight: None,
            io: Vec::new(),
            rng: None,
            metrics: None,
            longest: None,
            index,
            config,
        }
    }

    pub fn host(&self) -> u32 {
        self.config.host
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    pub fn start<E: StoreSink>(&mut self, ctx: &mut Ctx<'_, E>) -> Result<(), SimError> {
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        let name = self.config.name.clone();
        let m = ctx.metrics();
        self.metrics = Some(Metrics {
            put: m.histogram(&name, "put_latency", Unit::Ns).map_err(setup)?,
            get: m.histogram(&name, "get_latency", Unit::Ns).map_err(setup)?,
            acknowledged: m.counter(&name, "acknowledged").map_err(setup)?,
            failed: m.counter(&name, "failed").map_err(setup)?,
            recoveries: m.counter(&name, "recoveries").map_err(setup)?,
        });
        self.rng = Some(ctx.stream(&format!("{name}.{}.client", self.config.host))?);
        self.io.clear();
        match Kv::open(&mut self.fs, self.config.kv, &mut self.io) {
            Ok(kv) => self.kv = Some(kv),
            Err(e) => return Err(SimError::Setup(format!("kvstore `{name}`: {e}"))),
        }
        self.up = true;
        self.schedule(StoreStep::Next, SimDuration::ZERO, ctx);
        Ok(())
    }

    fn schedule<E: StoreSink>(&self, what: StoreStep, after: SimDuration, ctx: &mut Ctx<'_, E>) {
        let at = ctx.now().saturating_add(after);
        ctx.schedule_at(
            at,
            StoreEv {
                store: self.index,
                epoch: self.epoch,
                what,
            }
            .into(),
        );
    }

    /// One of its events.
    pub fn handle<E: StoreSink>(&mut self, ev: StoreEv, ctx: &mut Ctx<'_, E>, disk: &mut HostDisk) {
        if ev.epoch != self.epoch {
            return;
        }
        match ev.what {
            StoreStep::Next => self.next(ctx, disk),
            StoreStep::Restart => self.recover(ctx, disk),
        }
    }

    /// The client's next operation: run on the stack, its requests to the disk.
    fn next<E: StoreSink>(&mut self, ctx: &mut Ctx<'_, E>, disk: &mut HostDisk) {
        if !self.up || self.inflight.is_some() || self.issued >= self.config.ops {
            return;
        }
        let Some(id) = self.rng else { return };
        let Some(kv) = self.kv.as_mut() else { return };
        let i = self.issued;
        self.issued += 1;
        let rng = ctx.rng(id);
        let key = format!("key{}", rng.below(self.config.keys)).into_bytes();
        let op = if rng.chance(self.config.reads) {
            Op::Get(key)
        } else if rng.below(8) == 0 {
            Op::Delete(key)
        } else {
            let v = value(u64::from(self.config.host), i, rng, self.config.value_size);
            Op::Put(key, v)
        };
        let now = ctx.now();
        let window = self.longest.map_or(SNAPSHOT_WINDOW, |l| {
            SimDuration::from_nanos(l.as_nanos().saturating_mul(2))
        });
        let soon = now.saturating_add(window);
        let first = self.config.crash_times.partition_point(|&t| t < now);
        let before = self
            .config
            .crash_times
            .get(first)
            .is_some_and(|&t| t <= soon)
            .then(|| Box::new((self.fs.clone(), kv.clone(), self.model.clone())));
        let write = match &op {
            Op::Get(_) => None,
            Op::Put(k, v) => Some(self.model.attempt(k, Some(v))),
            Op::Delete(k) => Some(self.model.attempt(k, None)),
        };
        self.io.clear();
        let ok = run(kv, &mut self.fs, &op, &mut self.io);
        let mut ios = VecDeque::new();
        let mut raw_index = Vec::new();
        for (j, b) in self.io.iter().enumerate() {
            if let Some(t) = timed(b) {
                ios.push_back(t);
                raw_index.push(j);
            }
        }
        self.inflight = Some(InFlight {
            ios,
            raw_index,
            sent: 0,
            op,
            write,
            ok,
            started: now,
            before,
        });
        self.advance(ctx, disk);
    }

    /// Sends the operation's next request to the disk, or answers it when none is left.
    fn advance<E: StoreSink>(&mut self, ctx: &mut Ctx<'_, E>, disk: &mut HostDisk) {
        let Some(f) = self.inflight.as_mut() else {
            return;
        };
        if let Some(op) = f.ios.pop_front() {
            f.sent += 1;
            let owner = Owner::Store {
                store: self.index,
                epoch: self.epoch,
            };
            disk.submit(op, owner, ctx);
            return;
        }
        let Some(f) = self.inflight.take() else {
            return;
        };
        let took = ctx.now().saturating_since(f.started);
        self.longest = Some(self.longest.map_or(took, |l| l.max(took)));
        let latency = took.as_nanos();
        if let Some(m) = self.metrics {
            let metrics = ctx.metrics();
            match (&f.write, f.ok) {
                (Some(id), true) => {
                    self.model.acknowledge(id);
                    metrics.add(m.acknowledged, 1);
                    metrics.record(m.put, latency);
                }
                (None, true) => metrics.record(m.get, latency),
                (_, false) => metrics.add(m.failed, 1),
            }
        }
        if self.kv.as_ref().is_some_and(Kv::poisoned) {
            // The engine stopped on a failed fsync: the process exits and is restarted.
            self.crash(ctx);
            return;
        }
        self.schedule(StoreStep::Next, self.config.think, ctx);
    }

    /// One of its requests completed on the disk (its outcome is the stack's, not the disk's).
    pub fn io_done<E: StoreSink>(&mut self, epoch: u32, ctx: &mut Ctx<'_, E>, disk: &mut HostDisk) {
        if epoch == self.epoch {
            self.advance(ctx, disk);
        }
    }

    /// The host lost power: what was not durable is gone, the operation in flight is never
    /// answered, and the engine comes back `restart_after` later.
    pub fn crash<E: StoreSink>(&mut self, ctx: &mut Ctx<'_, E>) {
        if !self.up {
            return;
        }
        self.up = false;
        self.epoch = self.epoch.wrapping_add(1);
        if let Some(f) = self.inflight.take()
            && let Some(before) = f.before
        {
            // Back to before the operation, and again with the power failing during the
            // request the disk was on: the ones before it happened, the ones after never did.
            let (fs, mut kv, model) = *before;
            self.fs = fs;
            self.model = model;
            let done = f.sent.saturating_sub(1);
            let cut = f.raw_index.get(done).copied().unwrap_or(usize::MAX);
            self.fs.device_mut().cut_power_after(cut as u64);
            match &f.op {
                Op::Put(k, v) => {
                    self.model.attempt(k, Some(v));
                }
                Op::Delete(k) => {
                    self.model.attempt(k, None);
                }
                Op::Get(_) => {}
            }
            self.io.clear();
            run(&mut kv, &mut self.fs, &f.op, &mut self.io);
        }
        self.kv = None;
        self.fs.crash();
        self.schedule(StoreStep::Restart, self.config.restart_after, ctx);
    }

    /// The host is back: recover the file system and the engine, check what they hold against
    /// what was acknowledged, and go on.
    pub fn recover<E: StoreSink>(&mut self, ctx: &mut Ctx<'_, E>, _disk: &mut HostDisk) {
        if self.up {
            return;
        }
        self.epoch = self.epoch.wrapping_add(1);
        if let Some(m) = self.metrics {
            ctx.metrics().add(m.recoveries, 1);
        }
        let name = self.config.name.clone();
        match self.recovered_state() {
            Ok((kv, store)) => {
                for v in self.model.check(&store) {
                    ctx.violation(
                        "recovered",
                        format!("{name} on host {}: {v}", self.config.host),
                    );
                }
                self.model.reset_to(&store);
                self.kv = Some(kv);
                self.up = true;
                self.schedule(StoreStep::Next, SimDuration::ZERO, ctx);
            }
            Err(e) if self.disk_failing() => {
                // The disk refuses I/O now: recovery cannot run, and is tried again later, as a
                // supervisor restarts a process that exits at startup.
                let _ = e;
                self.fs.crash();
                self.schedule(StoreStep::Restart, self.config.restart_after, ctx);
            }
            Err(e) => {
                ctx.violation(
                    "recovered",
                    format!("{name} on host {}: recovery failed: {e}", self.config.host),
                );
            }
        }
    }

    fn recovered_state(
        &mut self,
    ) -> Result<(Kv, std::collections::BTreeMap<Vec<u8>, Vec<u8>>), String> {
        self.io.clear();
        self.fs.recover(&mut self.io).map_err(|e| e.to_string())?;
        let mut kv =
            Kv::open(&mut self.fs, self.config.kv, &mut self.io).map_err(|e| e.to_string())?;
        let store = kv
            .scan(&mut self.fs, &mut self.io)
            .map_err(|e| e.to_string())?;
        Ok((kv, store))
    }

    /// Whether a fault makes the disk refuse I/O at the moment.
    fn disk_failing(&self) -> bool {
        let f = self.fs.device().faults();
        f.fail_writes || f.failed || f.error_rate > 0.0
    }

    /// The end of the run: with `expect durable`, a crash now must keep every acknowledged write.
    pub fn finish<E: StoreSink>(&mut self, ctx: &mut Ctx<'_, E>, disk: &mut HostDisk) {
        if !self.config.check_at_end {
            return;
        }
        if self.up {
            self.crash(ctx);
        }
        self.recover(ctx, disk);
    }

    /// A disk fault reaches the stack's device (`None`: they end).
    pub fn fault(&mut self, fault: Option<&DiskFault>) {
        stack_fault(&mut self.fs, fault);
    }
}

/// A disk fault reaches a storage stack's device (`None`: they end): the content faults set
/// the device's, `full` the file system's; time faults are the host disk's alone. Every
/// service that keeps a stack on a host's disk (a store, a Raft server's log) applies them so.
pub fn stack_fault(fs: &mut Fs, fault: Option<&DiskFault>) {
    let f = fs.device_mut().faults_mut();
    match fault {
        None => {
            f.error_rate = 0.0;
            f.corrupt_rate = 0.0;
            f.misdirect_rate = 0.0;
            f.fail_writes = false;
            f.failed = false;
            fs.set_full(false);
        }
        Some(DiskFault::Errors(p)) => f.error_rate = *p,
        Some(DiskFault::Corrupt(p)) => f.corrupt_rate = *p,
        Some(DiskFault::Misdirect(p)) => f.misdirect_rate = *p,
        Some(DiskFault::Latent(p)) => {
            fs.device_mut().add_latent_share(*p);
        }
        Some(DiskFault::FailFsync) => f.fail_writes = true,
        Some(DiskFault::Fail) => f.failed = true,
        Some(DiskFault::Full) => fs.set_full(true),
        Some(DiskFault::Slow(_) | DiskFault::FailMember(_) | DiskFault::Rebuild) => {}
    }
}

/// Runs `op` on the engine: whether it succeeded (for a write: is durable).
fn run(kv: &mut Kv, fs: &mut Fs, op: &Op, io: &mut Vec<BlockIo>) -> bool {
    match op {
        Op::Get(k) => kv.get(fs, k, io).is_ok(),
        Op::Put(k, v) => kv.put(fs, k, v, io).is_ok(),
        Op::Delete(k) => kv.delete(fs, k, io).is_ok(),
    }
}

/// A freshly formatted file system over a device of `sectors` whose crashes tear unflushed
/// writes at sector boundaries and keep each one with even odds, its draws from `rng`: the stack
/// a store keeps on its host's disk, and the one `native crashtest` mounts.
pub fn crashable_stack(sectors: u64, rng: RngStream) -> Fs {
    let mut dev = BlockDevice::new(sectors, rng);
    dev.faults_mut().torn = true;
    dev.faults_mut().unflushed_survive = 0.5;
    Fs::format(dev, FsConfig::default())
}

/// A stack request as a timed disk request (a flush of a drive without a volatile cache costs
/// nothing more: every write is on the media when it completes).
pub fn timed(b: &BlockIo) -> Option<IoOp> {
    let kind = match b.kind {
        StoreIo::Read => IoKind::Read,
        StoreIo::Write => IoKind::Write,
        StoreIo::Flush => return None,
    };
    (b.sectors > 0).then_some(IoOp {
        kind,
        lba: b.lba,
        sectors: u64::from(b.sectors),
    })
}

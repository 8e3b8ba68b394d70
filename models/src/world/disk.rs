//! A host's modelled disk in the world, and the `io` load that runs a block workload on it.
//!
//! [`HostDisk`] is the host's resource: a [`DiskQueue`] (the device and its scheduler) that any
//! service submits requests to, each with a token; when the device completes one, the world
//! hands the token back to the service that owns it ([`Owner`]). The disk's faults live here
//! too, because they belong to the machine: a failed disk refuses every request, a full one
//! every write, `errors(p)` fails each request with probability `p` after its service (the drive
//! reports an I/O error). What a write carries, and whether a sync makes it durable, is the
//! storage stack's business (`crate::storage`), so `fail-fsync`, `corrupt`, `misdirect` and
//! `latent` act on a stack's device, not here; here a request is its time and its outcome.

use std::collections::VecDeque;

use simcore::metrics::{CounterId, GaugeId, HistogramId, Unit};
use simcore::{Ctx, Dist, Encoder, SimDuration, SimError, SimTime, StreamId, TraceEvent};

use crate::disk::device::{Device, DeviceError};
use crate::disk::hdd::{Hdd, HddSpec, SECTOR_BYTES};
use crate::disk::queue::{Completion, DiskQueue};
use crate::disk::raid::Level;
use crate::disk::sched::IoPolicy;
use crate::disk::ssd::{Ssd, SsdSpec};
use crate::disk::workload::{IoKind, IoOp, IoWorkload, stream_name};

/// A device as a scenario describes it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceSpec {
    Hdd(HddSpec),
    Ssd(SsdSpec),
    /// `members` drives alike at `level`, striped in chunks of `chunk` sectors.
    Array {
        level: Level,
        chunk: u64,
        members: u32,
        member: Box<DeviceSpec>,
    },
}

impl DeviceSpec {
    pub fn build(&self) -> Result<Device, String> {
        match self {
            DeviceSpec::Hdd(spec) => Hdd::new(spec.clone())
                .map(Device::Hdd)
                .map_err(|e| e.to_string()),
            DeviceSpec::Ssd(spec) => Ssd::new(spec.clone())
                .map(|s| Device::Ssd(Box::new(s)))
                .map_err(|e| e.to_string()),
            DeviceSpec::Array {
                level,
                chunk,
                members,
                member,
            } => {
                let m = (0..*members)
                    .map(|_| member.build())
                    .collect::<Result<Vec<_>, _>>()?;
                Device::array(*level, *chunk, m).map_err(|e| e.to_string())
            }
        }
    }
}

/// A `disk` block on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskConfig {
    /// The block's name: its metrics are `NAME.requests` and so on, pooled over its hosts.
    pub name: String,
    pub device: DeviceSpec,
    pub policy: IoPolicy,
}

/// An `io` block on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct IoConfig {
    pub name: String,
    pub host: u32,
    pub workload: IoWorkload,
}

/// A disk fault, as the `disk` verb's forms give it.
#[derive(Debug, Clone, PartialEq)]
pub enum DiskFault {
    /// Each request takes a draw of this longer (nanoseconds).
    Slow(Dist),
    Full,
    FailFsync,
    Errors(f64),
    Corrupt(f64),
    /// Each write lands at another address with this probability, silently.
    Misdirect(f64),
    /// This share of the sectors holding data become unreadable (latent sector errors).
    Latent(f64),
    /// The whole disk fails.
    Fail,
    /// One member of an array fails.
    FailMember(u32),
    /// An array rebuilds its failed member onto a spare.
    Rebuild,
}

impl DiskFault {
    /// The form as a scenario writes it.
    pub fn name(&self) -> &'static str {
        match self {
            DiskFault::Slow(_) => "slow",
            DiskFault::Full => "full",
            DiskFault::FailFsync => "fail-fsync",
            DiskFault::Errors(_) => "errors",
            DiskFault::Corrupt(_) => "corrupt",
            DiskFault::Misdirect(_) => "misdirect",
            DiskFault::Latent(_) => "latent",
            DiskFault::Fail => "fail",
            DiskFault::FailMember(_) => "fail-member",
            DiskFault::Rebuild => "rebuild",
        }
    }
}

/// A host's disk has a request to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskStep {
    pub host: u32,
}

impl TraceEvent for DiskStep {
    #[inline(always)]
    fn encode(&self, e: &mut Encoder<'_>) {
        e.u8(7).u32(self.host);
    }
}

/// Whose a request is: the world routes its completion by this (the token's top byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Request `seq` of `io` load `load`.
    Io { load: u32, seq: u32 },
    /// An fsync of a Raft server's log, in its server's `epoch`.
    Raft { node: u32, epoch: u32 },
    /// A request of key-value store `store`'s operation, in the store's `epoch`.
    Store { store: u32, epoch: u32 },
}

impl Owner {
    pub fn token(self) -> u64 {
        match self {
            Owner::Io { load, seq } => 1 << 56 | u64::from(load) << 32 | u64::from(seq),
            Owner::Raft { node, epoch } => 2 << 56 | u64::from(node) << 32 | u64::from(epoch),
            Owner::Store { store, epoch } => 3 << 56 | u64::from(store) << 32 | u64::from(epoch),
        }
    }

    pub fn of(token: u64) -> Option<Owner> {
        let a = ((token >> 32) & 0xff_ffff) as u32;
        let b = token as u32;
        match token >> 56 {
            1 => Some(Owner::Io { load: a, seq: b }),
            2 => Some(Owner::Raft { node: a, epoch: b }),
            3 => Some(Owner::Store { store: a, epoch: b }),
            _ => None,
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub owner: Owner,
    pub kind: IoKind,
    /// From submission to completion.
    pub latency: SimDuration,
    /// False when the disk failed it: the requester sees an I/O error.
    pub ok: bool,
}

#[derive(Debug, Clone, Copy)]
struct DiskMetrics {
    requests: CounterId,
    service: HistogramId,
    seek_time: HistogramId,
    queue_depth: GaugeId,
    /// An SSD's only.
    write_amplification: Option<GaugeId>,
    /// A drive with an arm's: the last request's seek distance (cylinders) and seek time (ns),
    /// set together, so their histories pair up into seek time against distance.
    seek_distance: Option<GaugeId>,
    seek: Option<GaugeId>,
}

/// The faults in force on one disk.
#[derive(Debug, Clone, Default)]
struct Faults {
    failed: bool,
    full: bool,
    errors: f64,
}

/// A host's modelled disk.
#[derive(Debug)]
pub struct HostDisk {
    name: String,
    host: u32,
    queue: DiskQueue,
    /// Requests refused at once (a failed disk, a full one): completed at the next step.
    refused: VecDeque<(u64, IoOp, SimTime)>,
    /// [`DiskStep`]s queued for this disk: one per request in service, and one for the refused.
    steps: usize,
    /// Whether a step for the refused requests is queued.
    refusing: bool,
    faults: Faults,
    rng: Option<StreamId>,
    metrics: Option<DiskMetrics>,
}

impl HostDisk {
    pub fn new(config: &DiskConfig, host: u32) -> Result<Self, String> {
        let device = config
            .device
            .build()
            .map_err(|e| format!("disk `{}`: {e}", config.name))?;
        Ok(HostDisk {
            name: config.name.clone(),
            host,
            queue: DiskQueue::new(device, config.policy),
            refused: VecDeque::new(),
            steps: 0,
            refusing: false,
            faults: Faults::default(),
            rng: None,
            metrics: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device's capacity in bytes.
    pub fn bytes(&self) -> u64 {
        self.queue.device().sectors() * SECTOR_BYTES
    }

    /// The device's capacity in sectors.
    pub fn sectors(&self) -> u64 {
        self.queue.device().sectors()
    }

    /// Registers the disk's metrics (pooled under its block's name) and its fault stream.
    pub fn start<E: TraceEvent>(&mut self, ctx: &mut Ctx<'_, E>) -> Result<(), SimError> {
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        let armed = self.queue.device().write_amplification().is_none();
        let m = ctx.metrics();
        self.metrics = Some(DiskMetrics {
            requests: m.counter(&self.name, "requests").map_err(setup)?,
            service: m
                .histogram(&self.name, "service", Unit::Ns)
                .map_err(setup)?,
            seek_time: m
                .histogram(&self.name, "seek_time", Unit::Ns)
                .map_err(setup)?,
            queue_depth: m.gauge(&self.name, "queue_depth").map_err(setup)?,
            write_amplification: match self.queue.device().write_amplification() {
                Some(_) => Some(m.gauge(&self.name, "write_amplification").map_err(setup)?),
                None => None,
            },
            seek_distance: match armed {
                true => Some(m.gauge(&self.name, "seek_distance").map_err(setup)?),
                false => None,
            },
            seek: match armed {
                true => Some(m.gauge(&self.name, "seek").map_err(setup)?),
                false => None,
            },
        });
        self.rng = Some(ctx.stream(&format!("{}.host.{}.faults", self.name, self.host))?);
        Ok(())
    }

    /// Queues `op` for `owner`.
    pub fn submit<E: From<DiskStep> + TraceEvent>(
        &mut self,
        op: IoOp,
        owner: Owner,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        if self.faults.failed || (self.faults.full && op.kind == IoKind::Write) {
            self.refused.push_back((owner.token(), op, now));
        } else {
            self.queue.submit(now.as_nanos(), op, owner.token());
        }
        self.gauge(now, ctx);
        self.kick(ctx);
    }

    fn gauge<E: TraceEvent>(&self, now: SimTime, ctx: &mut Ctx<'_, E>) {
        if let Some(m) = self.metrics {
            let depth = self.queue.depth() + self.refused.len();
            ctx.metrics().set(m.queue_depth, now, depth as f64);
        }
    }

    /// Queues a step for each request the device can start now, and one for refused ones.
    fn kick<E: From<DiskStep> + TraceEvent>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let step = DiskStep { host: self.host };
        if !self.refused.is_empty() && !self.refusing {
            self.refusing = true;
            ctx.schedule_at(now, step.into());
        }
        let Some(id) = self.rng else { return };
        while let Some(done) = self.queue.start(now.as_nanos(), ctx.rng(id)) {
            self.steps += 1;
            ctx.schedule_at(SimTime::from_nanos(done), step.into());
        }
    }

    /// The step: what completed goes to `done`, and the next requests start.
    pub fn step<E: From<DiskStep> + TraceEvent>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        done: &mut Vec<Done>,
    ) {
        let now = ctx.now();
        if self.refusing {
            self.refusing = false;
            for (token, op, at) in self.refused.drain(..) {
                if let Some(owner) = Owner::of(token) {
                    done.push(Done {
                        owner,
                        kind: op.kind,
                        latency: now.saturating_since(at),
                        ok: false,
                    });
                }
            }
        } else if self.steps > 0 {
            self.steps -= 1;
            if let Some(c) = self.queue.complete() {
                debug_assert_eq!(c.done, now.as_nanos(), "steps come in completion order");
                self.completed(c, ctx, done);
            }
        }
        self.gauge(now, ctx);
        self.kick(ctx);
    }

    fn completed<E: TraceEvent>(
        &mut self,
        c: Completion,
        ctx: &mut Ctx<'_, E>,
        done: &mut Vec<Done>,
    ) {
        let Some(owner) = c.token.and_then(Owner::of) else {
            return; // a rebuild stripe, or a request whose owner crashed
        };
        // A request in service when the disk died dies with it.
        let mut ok = c.result.is_ok() && !self.faults.failed;
        if let (Ok(s), Some(m)) = (&c.result, self.metrics) {
            let metrics = ctx.metrics();
            metrics.add(m.requests, 1);
            metrics.record(m.service, s.total);
            if s.seek > 0 {
                metrics.record(m.seek_time, s.seek);
            }
            if let (Some(d), Some(t)) = (m.seek_distance, m.seek) {
                // At the completion, which is now: a disk on several hosts pools its gauges,
                // and one host's request may have started before another's last set.
                let at = SimTime::from_nanos(c.done);
                metrics.set(d, at, f64::from(s.seek_distance));
                metrics.set(t, at, s.seek as f64);
            }
            if let (Some(g), Some(wa)) = (
                m.write_amplification,
                self.queue.device().write_amplification(),
            ) && c.op.kind == IoKind::Write
            {
                metrics.set(g, SimTime::from_nanos(c.done), wa);
            }
        }
        if let Some(id) = self.rng {
            let rng = ctx.rng(id);
            if ok && self.faults.errors > 0.0 && rng.chance(self.faults.errors) {
                ok = false;
            }
        }
        if let Err(DeviceError::OutOfRange { .. }) = c.result {
            debug_assert!(
                false,
                "services keep their requests on the disk: {:?}",
                c.op
            );
        }
        done.push(Done {
            owner,
            kind: c.op.kind,
            latency: SimDuration::from_nanos(c.done.saturating_sub(c.arrived)),
            ok,
        });
    }

    /// Applies a fault (`None`: every fault of this disk ends, as at the end of a `during`
    /// window; an array's failed member stays failed until it is rebuilt).
    pub fn fault<E: From<DiskStep> + TraceEvent>(
        &mut self,
        fault: Option<&DiskFault>,
        ctx: &mut Ctx<'_, E>,
    ) {
        match fault {
            None => {
                self.faults = Faults::default();
                self.queue.set_slow(None);
            }
            Some(DiskFault::Slow(d)) => self.queue.set_slow(Some(d)),
            Some(DiskFault::Full) => self.faults.full = true,
            Some(DiskFault::Errors(p)) => self.faults.errors = *p,
            Some(DiskFault::Fail) => self.faults.failed = true,
            // What a request carries is the storage stack's: these act on its device only.
            Some(
                DiskFault::FailFsync
                | DiskFault::Corrupt(_)
                | DiskFault::Misdirect(_)
                | DiskFault::Latent(_),
            ) => {}
            Some(DiskFault::FailMember(m)) => {
                self.queue.device_mut().fail_member(*m);
            }
            Some(DiskFault::Rebuild) => {
                self.queue.device_mut().start_rebuild();
                self.kick(ctx);
            }
        }
    }

    /// The host crashed: its queued requests are gone.
    pub fn forget_queue(&mut self) {
        self.queue.forget_queue();
        self.refused.clear();
    }
}

#[derive(Debug, Clone, Copy)]
struct IoMetrics {
    read: HistogramId,
    write: HistogramId,
    completed: CounterId,
    errors: CounterId,
}

/// An `io` load: a closed loop of block requests on its host's disk.
#[derive(Debug)]
pub struct IoLoad {
    config: IoConfig,
    index: u32,
    issued: u64,
    rng: Option<StreamId>,
    metrics: Option<IoMetrics>,
}

impl IoLoad {
    pub fn new(config: IoConfig, index: u32) -> Self {
        IoLoad {
            config,
            index,
            issued: 0,
            rng: None,
            metrics: None,
        }
    }

    pub fn host(&self) -> u32 {
        self.config.host
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn workload(&self) -> &IoWorkload {
        &self.config.workload
    }

    /// Registers its metrics and stream, and issues its first `queue_depth` requests.
    pub fn start<E: From<DiskStep> + TraceEvent>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        disk: &mut HostDisk,
    ) -> Result<(), SimError> {
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        let name = self.config.name.clone();
        let m = ctx.metrics();
        self.metrics = Some(IoMetrics {
            read: m
                .histogram(&name, "read_latency", Unit::Ns)
                .map_err(setup)?,
            write: m
                .histogram(&name, "write_latency", Unit::Ns)
                .map_err(setup)?,
            completed: m.counter(&name, "completed").map_err(setup)?,
            errors: m.counter(&name, "errors").map_err(setup)?,
        });
        // One stream per load and host, so that copies on several hosts draw apart; the first
        // copy's is the name `native run` draws from.
        let stream = if self.index == 0 {
            stream_name(&name)
        } else {
            format!("{}.{}", stream_name(&name), self.config.host)
        };
        self.rng = Some(ctx.stream(&stream)?);
        for _ in 0..self.config.workload.queue_depth {
            self.issue(ctx, disk);
        }
        Ok(())
    }

    fn issue<E: From<DiskStep> + TraceEvent>(&mut self, ctx: &mut Ctx<'_, E>, disk: &mut HostDisk) {
        let Some(rng) = self.rng else { return };
        if self.issued >= self.config.workload.requests {
            return;
        }
        let op = self.config.workload.op(self.issued, ctx.rng(rng));
        let owner = Owner::Io {
            load: self.index,
            seq: self.issued as u32,
        };
        self.issued += 1;
        disk.submit(op, owner, ctx);
    }

    /// One of its requests ended: count it and issue the next.
    pub fn done<E: From<DiskStep> + TraceEvent>(
        &mut self,
        d: &Done,
        ctx: &mut Ctx<'_, E>,
        disk: &mut HostDisk,
    ) {
        if let Some(m) = self.metrics {
            let metrics = ctx.metrics();
            if d.ok {
                metrics.add(m.completed, 1);
                let h = match d.kind {
                    IoKind::Read => m.read,
                    IoKind::Write => m.write,
                };
                metrics.record(h, d.latency.as_nanos());
            } else {
                metrics.add(m.errors, 1);
            }
        }
        self.issue(ctx, disk);
    }
}

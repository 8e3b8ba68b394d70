//! The CPU scheduling model on its own: a scenario's `cpu` block as one machine with its batch
//! of jobs ([`CpuConfig`]), driven from the simulator's clock by a [`HostCpu`] (the same code
//! that runs a host's CPUs inside a bigger model): one event per instant at which the machine
//! has something to do ([`Machine::next_time`]). Every stretch of a job on a CPU goes into the
//! trace as a note, so the trace hash covers the whole schedule. At the end, per-job and
//! machine-wide metrics are recorded.

use sched::machine::{JobSpec, Machine, MachineConfig};
use sched::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};
use simcore::{Ctx, Model, SimError};

use super::bandwidth::Bandwidth;
pub use super::bandwidth::{BandwidthConfig, ThrottleStats};
pub use super::host::Step;
use super::host::{HostCpu, set_shares};

pub use sched::spec::PolicyConfig;

/// One job as a scenario gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobConfig {
    pub name: String,
    /// Whether the job has its own metrics (`NAME.turnaround`, ...): jobs of `job` blocks do,
    /// jobs drawn by a `jobs` block count only in the machine-wide ones.
    pub report: bool,
    pub arrival: u64,
    pub cpu: u64,
    /// I/O after every this much CPU time, lasting `io`.
    pub io_every: Option<u64>,
    pub io: u64,
    pub tickets: u32,
    pub nice: i8,
    pub pin: Option<u32>,
}

/// The machine and its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuConfig {
    /// The `cpu` block's name (machine-wide metrics are `NAME.turnaround`, ...).
    pub name: String,
    pub policy: PolicyConfig,
    pub cpus: u32,
    pub per_cpu_queues: bool,
    pub steal: bool,
    pub machine: MachineConfig,
    pub jobs: Vec<JobConfig>,
    /// CFS bandwidth control over the whole machine (every job and process on it, as a
    /// container's cgroup holds all its processes); `None` when the block sets neither `quota`
    /// nor `period` (then no throttling figures are reported either).
    pub bandwidth: Option<BandwidthConfig>,
    /// Requests made of several jobs (a `jobs` block's threads), for their latency.
    pub requests: Vec<RequestGroup>,
}

/// A `jobs` block's requests: `count` of them, each `threads` jobs numbered consecutively from
/// job `first`, all arriving together. A request's latency is its last thread's completion
/// minus its arrival (`NAME.latency`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestGroup {
    pub name: String,
    pub first: u32,
    pub count: u32,
    pub threads: u32,
}

impl JobConfig {
    /// Its bursts: CPU in pieces of `io_every`, each followed by `io` (none after the last),
    /// and its shares and pin.
    pub fn spec(&self) -> JobSpec {
        let mut spec = JobSpec::periodic_io(self.arrival, self.cpu, self.io_every, self.io);
        set_shares(&mut spec.job, self.tickets, self.nice, self.pin);
        spec
    }
}

/// A policy chosen at run time, under the machine's CFS bandwidth control when it has a quota:
/// while throttled nothing is picked, and when the runtime runs out every running job is
/// preempted (see [`super::bandwidth`]). Without a quota every call goes straight to the
/// policy, past one branch on an `Option`.
pub struct AnyPolicy {
    policy: Box<dyn Policy>,
    bandwidth: Option<Bandwidth>,
}

impl AnyPolicy {
    fn new(policy: Box<dyn Policy>) -> Self {
        AnyPolicy {
            policy,
            bandwidth: None,
        }
    }

    /// Whether a quota limits the machine (and [`AnyPolicy::sync`] must follow every step).
    pub fn limited(&self) -> bool {
        self.bandwidth.is_some()
    }

    /// After the Machine stepped at `now`, its CPUs running a job and when each job started:
    /// what the quota's accounting needs (see [`super::bandwidth::Bandwidth::sync`]).
    pub fn sync(&mut self, now: Time, runs: impl Iterator<Item = (CpuId, Time)>) {
        if let Some(b) = &mut self.bandwidth {
            b.sync(now, runs);
        }
    }

    /// The throttling figures up to `now`, with a quota.
    pub fn throttle_stats(&mut self, now: Time) -> Option<ThrottleStats> {
        self.bandwidth.as_mut().map(|b| b.stats(now))
    }
}

impl std::fmt::Debug for AnyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.policy.name())
    }
}

impl Policy for AnyPolicy {
    fn name(&self) -> &'static str {
        self.policy.name()
    }
    fn enqueue(&mut self, job: &Job, now: Time, wake: Wake) {
        if let Some(b) = &mut self.bandwidth {
            b.enqueued(now);
        }
        self.policy.enqueue(job, now, wake)
    }
    fn pick(&mut self, cpu: CpuId, now: Time) -> Option<Dispatch> {
        if let Some(b) = &mut self.bandwidth {
            if b.refuses_pick(now, self.policy.runnable() > 0) {
                return None;
            }
        }
        self.policy.pick(cpu, now)
    }
    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, now: Time, stop: Stop) {
        if let Some(b) = &mut self.bandwidth {
            b.stopped(cpu, now);
        }
        self.policy.stopped(job, cpu, ran, now, stop)
    }
    fn preempt(&mut self, running: &Job, cpu: CpuId, ran: Time, now: Time) -> bool {
        if let Some(b) = &self.bandwidth {
            if b.throttled() {
                return true;
            }
            // Asked only because the quota's timer ran: the policy has nothing new to weigh.
            if !b.inner_due(now) {
                return false;
            }
        }
        self.policy.preempt(running, cpu, ran, now)
    }
    fn wake_at(&self) -> Option<Time> {
        let own = self.policy.wake_at();
        match &self.bandwidth {
            None => own,
            Some(b) => match (own, b.wake_at()) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            },
        }
    }
    fn timer(&mut self, now: Time) {
        let Some(b) = &mut self.bandwidth else {
            return self.policy.timer(now);
        };
        if self.policy.wake_at().is_some_and(|t| t <= now) {
            self.policy.timer(now);
            b.inner_timer(now);
        }
        b.timer(now);
    }
    fn runnable(&self) -> usize {
        self.policy.runnable()
    }
    fn steal(&mut self, cpu: CpuId, now: Time) -> Option<JobId> {
        self.policy.steal(cpu, now)
    }
}

/// Builds the policy a configuration names: one shared run queue, or one per CPU (with or
/// without work stealing), under the machine's quota if it has one.
pub fn build_policy(config: &CpuConfig) -> Result<AnyPolicy, String> {
    let mut policy = AnyPolicy::new(build_queues(config)?);
    policy.bandwidth = config
        .bandwidth
        .filter(BandwidthConfig::limits)
        .map(Bandwidth::new);
    Ok(policy)
}

/// The policy's run queues: one shared, or one per CPU.
fn build_queues(config: &CpuConfig) -> Result<Box<dyn Policy>, String> {
    if !config.per_cpu_queues {
        return config.policy.build(0).map_err(|e| e.0);
    }
    // Check once, so that the per-CPU closure below cannot fail.
    config.policy.build(0).map_err(|e| e.0)?;
    let stealing = if config.steal {
        sched::Stealing::On
    } else {
        sched::Stealing::Off
    };
    let policy = config.policy.clone();
    let per_cpu = sched::PerCpu::new(config.cpus, stealing, move |cpu| {
        policy
            .build(cpu)
            .unwrap_or_else(|_| Box::new(sched::Fifo::new()))
    });
    Ok(Box::new(per_cpu))
}

/// The machine a configuration describes, its policy built and its jobs loaded, not yet run:
/// what [`CpuModel`] steps from the simulator's clock (and `native` runs to the end beside the
/// kernel's schedule).
pub fn build_machine(config: &CpuConfig) -> Result<Machine<AnyPolicy>, String> {
    let policy = build_policy(config)?;
    let jobs = config.jobs.iter().map(JobConfig::spec).collect();
    let mut machine_config = config.machine;
    machine_config.cpus = config.cpus;
    Machine::new(policy, machine_config, jobs)
        .map_err(|e| format!("the job list cannot run: {e:?}"))
}

/// The CPU scheduling model: one machine, host 0, with no processes.
#[derive(Debug)]
pub struct CpuModel {
    host: HostCpu,
}

impl CpuModel {
    pub fn new(config: CpuConfig) -> Result<Self, String> {
        Ok(CpuModel {
            host: HostCpu::new(config, 0)?,
        })
    }

    pub fn machine(&self) -> &Machine<AnyPolicy> {
        self.host.machine()
    }
}

impl Model for CpuModel {
    type Event = Step;

    fn start(&mut self, ctx: &mut Ctx<'_, Step>) -> Result<(), SimError> {
        self.host.start(ctx)
    }

    fn handle(&mut self, step: Step, ctx: &mut Ctx<'_, Step>) {
        // No processes: no piece of work ever ends (and an empty Vec does not allocate).
        self.host.handle(step, ctx, &mut Vec::new());
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Step>) {
        self.host.finish(ctx);
    }
}

//! The CPU scheduling model on its own: a scenario's `cpu` block as one machine with its batch
//! of jobs ([`CpuConfig`]), driven from the simulator's clock by a [`HostCpu`] (the same code
//! that runs a host's CPUs inside a bigger model): one event per instant at which the machine
//! has something to do ([`Machine::next_time`]). Every stretch of a job on a CPU goes into the
//! trace as a note, so the trace hash covers the whole schedule. At the end, per-job and
//! machine-wide metrics are recorded.

use sched::machine::{JobSpec, Machine, MachineConfig};
use sched::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};
use simcore::{Ctx, Model, SimError};

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

/// A policy chosen at run time.
pub struct AnyPolicy(Box<dyn Policy>);

impl std::fmt::Debug for AnyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

impl Policy for AnyPolicy {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn enqueue(&mut self, job: &Job, now: Time, wake: Wake) {
        self.0.enqueue(job, now, wake)
    }
    fn pick(&mut self, cpu: CpuId, now: Time) -> Option<Dispatch> {
        self.0.pick(cpu, now)
    }
    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, now: Time, stop: Stop) {
        self.0.stopped(job, cpu, ran, now, stop)
    }
    fn preempt(&mut self, running: &Job, cpu: CpuId, ran: Time, now: Time) -> bool {
        self.0.preempt(running, cpu, ran, now)
    }
    fn wake_at(&self) -> Option<Time> {
        self.0.wake_at()
    }
    fn timer(&mut self, now: Time) {
        self.0.timer(now)
    }
    fn runnable(&self) -> usize {
        self.0.runnable()
    }
    fn steal(&mut self, cpu: CpuId, now: Time) -> Option<JobId> {
        self.0.steal(cpu, now)
    }
}

/// Builds the policy a configuration names: one shared run queue, or one per CPU (with or
/// without work stealing).
pub fn build_policy(config: &CpuConfig) -> Result<AnyPolicy, String> {
    if !config.per_cpu_queues {
        return config.policy.build(0).map(AnyPolicy).map_err(|e| e.0);
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
        AnyPolicy(
            policy
                .build(cpu)
                .unwrap_or_else(|_| Box::new(sched::Fifo::new())),
        )
    });
    Ok(AnyPolicy(Box::new(per_cpu)))
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

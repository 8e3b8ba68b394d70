//! Drives a [`Machine`] from the simulator: one event per instant at which the machine has
//! something to do ([`Machine::next_time`]). Every stretch of a job on a CPU goes into the trace
//! as a note, so the trace hash covers the whole schedule. At the end, per-job and machine-wide
//! metrics are recorded.

use sched::machine::{JobSpec, Machine, MachineConfig, Segment};
use sched::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};
use simcore::{Ctx, Encoder, Model, SimDuration, SimError, SimTime, TraceEvent, Unit};

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
        spec.job.tickets = self.tickets;
        spec.job.nice = self.nice;
        spec.job.affinity = self.pin.map_or(0, |c| 1u64 << c.min(63));
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

/// The model's one event: the machine has something to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step;

impl TraceEvent for Step {
    fn encode(&self, e: &mut Encoder<'_>) {
        e.u8(0);
    }
}

/// A stretch of a job on a CPU, as a trace note.
#[derive(Debug)]
struct Ran<'a>(&'a Segment);

impl TraceEvent for Ran<'_> {
    fn encode(&self, e: &mut Encoder<'_>) {
        e.u32(self.0.cpu)
            .u32(self.0.job)
            .u64(self.0.start)
            .u64(self.0.end);
    }
}

/// The CPU scheduling model.
#[derive(Debug)]
pub struct CpuModel {
    config: CpuConfig,
    machine: Machine<AnyPolicy>,
    noted: usize,
}

impl CpuModel {
    pub fn new(config: CpuConfig) -> Result<Self, String> {
        let machine = build_machine(&config)?;
        Ok(CpuModel {
            config,
            machine,
            noted: 0,
        })
    }

    pub fn machine(&self) -> &Machine<AnyPolicy> {
        &self.machine
    }

    fn schedule_next(&mut self, ctx: &mut Ctx<'_, Step>) {
        if self.machine.finished() {
            return;
        }
        if let Some(t) = self.machine.next_time() {
            let at = SimTime::from_nanos(t).max(ctx.now());
            ctx.schedule_at(at, Step);
        }
    }

    /// Notes the segments run since the last call in the trace and, when the run records, on
    /// the timeline.
    fn note_segments(&mut self, ctx: &mut Ctx<'_, Step>) {
        let segments = self.machine.segments();
        for s in &segments[self.noted..] {
            ctx.note(&Ran(s));
            self.record(s, ctx);
        }
        self.noted = segments.len();
    }

    /// Puts a segment on the timeline, when the run records: group `cpus`, one track per CPU
    /// (`cpu0`, ...), a `run` span named after its job.
    fn record(&self, s: &Segment, ctx: &mut Ctx<'_, Step>) {
        if let Some(tl) = ctx.timeline() {
            let track = tl.track("cpus", &format!("cpu{}", s.cpu));
            let job = self
                .config
                .jobs
                .get(s.job as usize)
                .map_or("?", |j| j.name.as_str());
            let (start, end) = (SimTime::from_nanos(s.start), SimTime::from_nanos(s.end));
            tl.span(track, "run", job, start, end);
        }
    }
}

impl Model for CpuModel {
    type Event = Step;

    fn start(&mut self, ctx: &mut Ctx<'_, Step>) -> Result<(), SimError> {
        // Register every metric up front so that a run that ends early still reports them.
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        let name = self.config.name.clone();
        let m = ctx.metrics();
        for stat in ["response", "turnaround", "wait"] {
            m.histogram(&name, stat, Unit::Ns).map_err(setup)?;
        }
        m.gauge(&name, "utilisation").map_err(setup)?;
        m.gauge(&name, "fairness").map_err(setup)?;
        m.gauge(&name, "completion_ratio").map_err(setup)?;
        m.counter(&name, "decisions").map_err(setup)?;
        m.counter(&name, "unfinished").map_err(setup)?;
        for j in self.config.jobs.iter().filter(|j| j.report) {
            for stat in ["response", "turnaround", "wait"] {
                m.histogram(&j.name, stat, Unit::Ns).map_err(setup)?;
            }
        }
        self.schedule_next(ctx);
        Ok(())
    }

    fn handle(&mut self, _: Step, ctx: &mut Ctx<'_, Step>) {
        let now = ctx.now().as_nanos();
        // Several events may land on one instant (a timer and a burst end); step once.
        if self.machine.next_time().is_some_and(|t| t <= now) {
            self.machine.step(now);
            self.note_segments(ctx);
        }
        self.schedule_next(ctx);
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Step>) {
        let name = self.config.name.clone();
        let end = ctx.now();
        // A run stopped early (--until) still shows what was on the CPUs when it stopped.
        if ctx.recording() {
            let running: Vec<Segment> = self.machine.running(end.as_nanos()).collect();
            for s in &running {
                self.record(s, ctx);
            }
        }
        let m = ctx.metrics();
        let mut unfinished = 0;
        for (j, s) in self.config.jobs.iter().zip(self.machine.stats()) {
            let (Some(response), Some(turnaround)) = (s.response(), s.turnaround()) else {
                unfinished += 1;
                continue;
            };
            for (stat, v) in [
                ("response", response),
                ("turnaround", turnaround),
                ("wait", s.wait),
            ] {
                let own = j.report.then_some(j.name.as_str());
                for component in std::iter::once(name.as_str()).chain(own) {
                    if let Ok(h) = m.histogram(component, stat, Unit::Ns) {
                        m.record_duration(h, SimDuration::from_nanos(v));
                    }
                }
            }
        }
        let summary = self.machine.summary();
        let util = if summary.utilisation.is_empty() {
            0.0
        } else {
            summary.utilisation.iter().sum::<f64>() / summary.utilisation.len() as f64
        };
        if let Ok(g) = m.gauge(&name, "utilisation") {
            m.set(g, end, util);
        }
        // Per CPU too (not in the schema, so `expect` cannot name them; reports and --json show
        // them): `NAME.utilisation_cpuK`.
        for (k, u) in summary.utilisation.iter().enumerate() {
            if let Ok(g) = m.gauge(&name, &format!("utilisation_cpu{k}")) {
                m.set(g, end, *u);
            }
        }
        if let Ok(g) = m.gauge(&name, "fairness") {
            m.set(g, end, summary.jain);
        }
        let first_arrival = self.machine.stats().map(|s| s.arrival).min().unwrap_or(0);
        let done: Vec<u64> = self
            .machine
            .stats()
            .filter_map(|s| s.completion)
            .map(|c| c - first_arrival)
            .collect();
        if let (Some(&first), Some(&last)) = (done.iter().min(), done.iter().max()) {
            if let Ok(g) = m.gauge(&name, "completion_ratio") {
                m.set(
                    g,
                    end,
                    if last > 0 {
                        first as f64 / last as f64
                    } else {
                        1.0
                    },
                );
            }
        }
        if let Ok(c) = m.counter(&name, "decisions") {
            m.add(c, self.machine.decisions());
        }
        if let Ok(c) = m.counter(&name, "unfinished") {
            m.add(c, unfinished);
        }
    }
}

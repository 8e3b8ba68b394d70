//! A host's CPUs as a resource that services share with batch jobs under one policy.
//!
//! [`HostCpu`] owns a [`Machine`] (its policy, CPUs and batch jobs, from a [`CpuConfig`]) and
//! drives it from the simulator's clock inside any model: a service adds a process
//! ([`HostCpu::add_process`]), like a server's thread, and submits pieces of CPU work to it
//! ([`HostCpu::submit`]), each with an opaque `u64` token of its choosing and a cost. A process
//! runs its pieces in the order submitted, competing with the batch jobs and the other
//! processes under the host's policy (see [`sched::machine`] for how a process wakes, runs on
//! and sleeps); each piece's end comes back from [`HostCpu::handle`] as `(process, token)` at
//! the instant it ends.
//!
//! The simulator event stays the enclosing model's: every method that schedules is generic over
//! the model's event type `W: From<Step>`, so the same code runs alone ([`super::CpuModel`],
//! `W = Step`) and inside a bigger model, monomorphised. [`Step`] carries the host's index so
//! that a model with several hosts can route it. At most one `Step` per host is pending in the
//! simulator's queue: when new work needs an earlier step, the later one is cancelled.
//!
//! Every stretch a job or process ran goes into the trace as a note and, when the run records,
//! onto the timeline (track `{prefix}cpu{k}` in group `cpus`, a `run` span named after the job
//! or process; the prefix is empty unless set, see [`HostCpu::set_track_prefix`]).

use sched::machine::{Machine, MachineError, Segment};
use sched::{Job, JobId, Time};
use simcore::{Ctx, Encoder, EventKey, SimDuration, SimError, SimTime, TraceEvent, Unit};

use super::model::{AnyPolicy, CpuConfig, ThrottleStats, build_machine};

/// `cpu.stat`'s counts, as the machine's counters `NAME.nr_periods` and `NAME.nr_throttled`;
/// its `throttled_time` is `NAME.throttled_time`, a latency of one value (the total), so that
/// `expect` compares it with a duration. Registered when the machine has `quota` or `period`.
pub const THROTTLE_COUNTS: [&str; 2] = ["nr_periods", "nr_throttled"];
pub const THROTTLED_TIME: &str = "throttled_time";

/// A process on one host, numbered from 0 in the order added.
pub type ProcId = u32;

/// The event that steps one host's machine: it has something to do now.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The host's index in the enclosing model (0 for a model with one machine).
    pub host: u32,
}

/// `Step` for host 0, as the single-machine model always printed it.
impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host {
            0 => f.write_str("Step"),
            h => write!(f, "Step {{ host: {h} }}"),
        }
    }
}

/// Host 0's step encodes as the single-machine model's always did (a tag 0 alone), so its
/// trace hashes are unchanged; another host's adds its index.
impl TraceEvent for Step {
    #[inline(always)]
    fn encode(&self, e: &mut Encoder<'_>) {
        e.u8(0);
        if self.host != 0 {
            e.u32(self.host);
        }
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

/// A process as a service declares it: its name (for the timeline) and its shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcConfig {
    pub name: String,
    /// Lottery and stride shares.
    pub tickets: u32,
    /// CFS niceness, -20 to 19.
    pub nice: i8,
    /// The one CPU it may run on, if pinned.
    pub pin: Option<u32>,
}

impl ProcConfig {
    /// A process with a job's default shares: 100 tickets, nice 0, any CPU.
    pub fn new(name: impl Into<String>) -> Self {
        ProcConfig {
            name: name.into(),
            tickets: 100,
            nice: 0,
            pin: None,
        }
    }
}

/// Sets a job's shares and affinity (`pin`: CPU k alone; none: any CPU): one rule for the
/// jobs of a scenario and for processes.
pub(super) fn set_shares(job: &mut Job, tickets: u32, nice: i8, pin: Option<u32>) {
    job.tickets = tickets;
    job.nice = nice;
    job.affinity = pin.map_or(0, |c| 1u64 << c.min(63));
}

/// A host's CPUs, shared by its batch jobs and its services' processes.
#[derive(Debug)]
pub struct HostCpu {
    host: u32,
    config: CpuConfig,
    machine: Machine<AnyPolicy>,
    /// Process `p` is the machine's job `base + p`.
    base: JobId,
    proc_names: Vec<String>,
    track_prefix: String,
    /// Segments already noted.
    noted: usize,
    /// The step pending in the simulator's queue, if any: its time and key.
    queued: Option<(SimTime, EventKey)>,
    /// Pieces of work that ended at a step, as (job, token): reused.
    ended: Vec<(JobId, u64)>,
    /// The runs after a step, for the quota's accounting: reused.
    runs: Vec<(sched::CpuId, Time)>,
}

impl HostCpu {
    /// The machine `config` describes (its policy, CPUs and batch jobs) as host number `host`.
    pub fn new(config: CpuConfig, host: u32) -> Result<Self, String> {
        let machine = build_machine(&config)?;
        Ok(HostCpu {
            host,
            base: config.jobs.len() as JobId,
            config,
            machine,
            proc_names: Vec::new(),
            track_prefix: String::new(),
            noted: 0,
            queued: None,
            ended: Vec::new(),
            runs: Vec::new(),
        })
    }

    pub fn host(&self) -> u32 {
        self.host
    }

    pub fn config(&self) -> &CpuConfig {
        &self.config
    }

    pub fn machine(&self) -> &Machine<AnyPolicy> {
        &self.machine
    }

    /// Puts `prefix` before every timeline track name (`{prefix}cpu0`, ...), so that several
    /// hosts' CPUs can share one timeline.
    pub fn set_track_prefix(&mut self, prefix: impl Into<String>) {
        self.track_prefix = prefix.into();
    }

    /// Adds a process at `now`, asleep until it is given work.
    pub fn add_process(&mut self, proc: &ProcConfig, now: Time) -> ProcId {
        let mut job = Job::new(0, now, 0);
        set_shares(&mut job, proc.tickets, proc.nice, proc.pin);
        let id = self.machine.add_process(job, now);
        self.proc_names.push(proc.name.clone());
        id - self.base
    }

    /// The machine's job behind a process.
    pub fn job_of(&self, proc: ProcId) -> JobId {
        self.base + proc
    }

    /// A process's CPU time so far (counted when its runs stop).
    pub fn cpu_time(&self, proc: ProcId) -> Option<Time> {
        self.machine
            .job_stats(self.job_of(proc))
            .map(|s| s.cpu_time)
    }

    /// Gives `proc` a piece of work costing `cost` of CPU time, tagged `token`, at `now`; it
    /// runs after the process's earlier pieces. Then a step is due at [`HostCpu::next_time`].
    /// An unknown `proc` is [`MachineError::NotAProcess`] (with the job it would be).
    pub fn submit_at(
        &mut self,
        proc: ProcId,
        cost: Time,
        token: u64,
        now: Time,
    ) -> Result<(), MachineError> {
        let job = self.base.saturating_add(proc);
        self.machine.submit(job, cost, token, now)
    }

    /// When the host next has something to do.
    pub fn next_time(&self) -> Option<Time> {
        self.machine.next_time()
    }

    /// Steps the machine at `now` (not before its last step) and appends the pieces of work
    /// that ended, as `(process, token)` in the order they ended, to `done`.
    pub fn step_at(&mut self, now: Time, done: &mut Vec<(ProcId, u64)>) {
        self.machine.step(now);
        if self.machine.policy().limited() {
            self.sync_bandwidth(now);
        }
        self.machine.take_completed(&mut self.ended);
        let base = self.base;
        done.extend(self.ended.drain(..).map(|(job, token)| (job - base, token)));
    }

    /// Tells the quota's accounting which CPUs run a job after a step, and since when (a job
    /// still in its context switch starts after `now`; `running(Time::MAX)` lists every run).
    #[inline(never)]
    fn sync_bandwidth(&mut self, now: Time) {
        self.runs.clear();
        self.runs
            .extend(self.machine.running(Time::MAX).map(|s| (s.cpu, s.start)));
        let runs = self.runs.iter().copied();
        self.machine.policy_mut().sync(now, runs);
    }

    /// The machine's throttling figures up to `now` (`cpu.stat`'s), if it has a quota.
    pub fn throttle_stats(&mut self, now: Time) -> Option<ThrottleStats> {
        self.machine.policy_mut().throttle_stats(now)
    }

    /// Registers the machine-wide and the reported jobs' metrics under their names, then
    /// schedules the first step: what a model does at its start.
    pub fn start<W: From<Step> + TraceEvent>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
    ) -> Result<(), SimError> {
        self.register_metrics(ctx)?;
        self.arm(ctx);
        Ok(())
    }

    /// [`HostCpu::submit_at`] at the simulator's now, and a step scheduled for it.
    pub fn submit<W: From<Step> + TraceEvent>(
        &mut self,
        proc: ProcId,
        cost: Time,
        token: u64,
        ctx: &mut Ctx<'_, W>,
    ) -> Result<(), MachineError> {
        self.submit_at(proc, cost, token, ctx.now().as_nanos())?;
        self.arm(ctx);
        Ok(())
    }

    /// Handles this host's [`Step`]: steps the machine if it has something to do now, notes
    /// what ran, appends the pieces of work that ended to `done`, and schedules the next step.
    pub fn handle<W: From<Step> + TraceEvent>(
        &mut self,
        step: Step,
        ctx: &mut Ctx<'_, W>,
        done: &mut Vec<(ProcId, u64)>,
    ) {
        debug_assert_eq!(step.host, self.host, "a step for another host");
        // The one pending step (see `arm`) is this one.
        self.queued = None;
        let now = ctx.now().as_nanos();
        if self.machine.next_time().is_some_and(|t| t <= now) {
            self.step_at(now, done);
            self.note_segments(ctx);
        }
        self.arm(ctx);
    }

    /// Schedules a step at the machine's next time, unless one is pending at or before it; a
    /// pending later one is cancelled, so that at most one is pending.
    pub fn arm<W: From<Step> + TraceEvent>(&mut self, ctx: &mut Ctx<'_, W>) {
        let Some(t) = self.machine.next_time() else {
            return;
        };
        let at = SimTime::from_nanos(t).max(ctx.now());
        if let Some((pending, key)) = self.queued {
            if pending <= at {
                return;
            }
            ctx.cancel(key);
        }
        let step = Step { host: self.host };
        self.queued = ctx.schedule_at(at, step.into()).map(|key| (at, key));
    }

    /// Notes the segments run since the last call in the trace and, when the run records, on
    /// the timeline.
    fn note_segments<W: TraceEvent>(&mut self, ctx: &mut Ctx<'_, W>) {
        let segments = self.machine.segments();
        for s in &segments[self.noted..] {
            ctx.note(&Ran(s));
            self.record(s, ctx);
        }
        self.noted = segments.len();
    }

    /// The name a job or process goes by on the timeline.
    fn name_of(&self, job: JobId) -> &str {
        match job.checked_sub(self.base) {
            None => self.config.jobs.get(job as usize).map(|j| j.name.as_str()),
            Some(p) => self.proc_names.get(p as usize).map(String::as_str),
        }
        .unwrap_or("?")
    }

    /// Puts a segment on the timeline, when the run records: group `cpus`, one track per CPU
    /// (`{prefix}cpu0`, ...), a `run` span named after its job or process.
    fn record<W: TraceEvent>(&self, s: &Segment, ctx: &mut Ctx<'_, W>) {
        if let Some(tl) = ctx.timeline() {
            let track = tl.track("cpus", &format!("{}cpu{}", self.track_prefix, s.cpu));
            let (start, end) = (SimTime::from_nanos(s.start), SimTime::from_nanos(s.end));
            tl.span(track, "run", self.name_of(s.job), start, end);
        }
    }

    /// Registers every metric up front, so that a run that ends early still reports them.
    pub fn register_metrics<W: TraceEvent>(&self, ctx: &mut Ctx<'_, W>) -> Result<(), SimError> {
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        let name = self.config.name.as_str();
        let m = ctx.metrics();
        for stat in ["response", "turnaround", "wait"] {
            m.histogram(name, stat, Unit::Ns).map_err(setup)?;
        }
        m.gauge(name, "utilisation").map_err(setup)?;
        m.gauge(name, "fairness").map_err(setup)?;
        m.gauge(name, "completion_ratio").map_err(setup)?;
        m.counter(name, "decisions").map_err(setup)?;
        m.counter(name, "unfinished").map_err(setup)?;
        for j in self.config.jobs.iter().filter(|j| j.report) {
            for stat in ["response", "turnaround", "wait"] {
                m.histogram(&j.name, stat, Unit::Ns).map_err(setup)?;
            }
        }
        for g in &self.config.requests {
            m.histogram(&g.name, "latency", Unit::Ns).map_err(setup)?;
        }
        if self.config.bandwidth.is_some() {
            for stat in THROTTLE_COUNTS {
                m.counter(name, stat).map_err(setup)?;
            }
            m.histogram(name, THROTTLED_TIME, Unit::Ns).map_err(setup)?;
        }
        Ok(())
    }

    /// At the end of a run: the stretches still running onto the timeline (a run stopped early
    /// still shows what was on the CPUs), and the batch's and machine's metrics.
    pub fn finish<W: TraceEvent>(&mut self, ctx: &mut Ctx<'_, W>) {
        let end = ctx.now();
        if ctx.recording() {
            let running: Vec<Segment> = self.machine.running(end.as_nanos()).collect();
            for s in &running {
                self.record(s, ctx);
            }
        }
        self.record_metrics(end, ctx);
        self.record_requests(ctx);
        if self.config.bandwidth.is_some() {
            let stats = self.throttle_stats(end.as_nanos()).unwrap_or_default();
            let (m, name) = (ctx.metrics(), self.config.name.as_str());
            for (stat, v) in THROTTLE_COUNTS
                .into_iter()
                .zip([stats.nr_periods, stats.nr_throttled])
            {
                if let Ok(c) = m.counter(name, stat) {
                    m.add(c, v);
                }
            }
            if let Ok(h) = m.histogram(name, THROTTLED_TIME, Unit::Ns) {
                m.record_duration(h, SimDuration::from_nanos(stats.throttled_time));
            }
        }
    }

    /// Each request whose threads all finished: its last thread's completion minus its arrival,
    /// into `NAME.latency` of its `jobs` block.
    fn record_requests<W: TraceEvent>(&self, ctx: &mut Ctx<'_, W>) {
        let m = ctx.metrics();
        for g in &self.config.requests {
            let Ok(h) = m.histogram(&g.name, "latency", Unit::Ns) else {
                continue;
            };
            for k in 0..g.count {
                let first = g.first + k * g.threads;
                let threads = (first..first + g.threads).map(|j| self.machine.job_stats(j));
                let done: Option<Vec<(Time, Time)>> = threads
                    .map(|s| s.and_then(|s| s.completion.map(|c| (s.arrival, c))))
                    .collect();
                let Some(done) = done else { continue };
                let arrival = done.iter().map(|d| d.0).min().unwrap_or(0);
                let last = done.iter().map(|d| d.1).max().unwrap_or(arrival);
                m.record_duration(h, SimDuration::from_nanos(last - arrival));
            }
        }
    }

    /// Per job (finished ones) and machine-wide figures, into the metrics registered by
    /// [`HostCpu::register_metrics`].
    fn record_metrics<W: TraceEvent>(&self, end: SimTime, ctx: &mut Ctx<'_, W>) {
        let name = self.config.name.as_str();
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
                for component in std::iter::once(name).chain(own) {
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
        if let Ok(g) = m.gauge(name, "utilisation") {
            m.set(g, end, util);
        }
        // Per CPU too (not in the schema, so `expect` cannot name them; reports and --json show
        // them): `NAME.utilisation_cpuK`.
        for (k, u) in summary.utilisation.iter().enumerate() {
            if let Ok(g) = m.gauge(name, &format!("utilisation_cpu{k}")) {
                m.set(g, end, *u);
            }
        }
        if let Ok(g) = m.gauge(name, "fairness") {
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
            if let Ok(g) = m.gauge(name, "completion_ratio") {
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
        if let Ok(c) = m.counter(name, "decisions") {
            m.add(c, self.machine.decisions());
        }
        if let Ok(c) = m.counter(name, "unfinished") {
            m.add(c, unfinished);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::model::JobConfig;
    use sched::machine::MachineConfig;
    use sched::spec::PolicyConfig;
    use simcore::{Model, SimConfig, Simulation, StopAt};

    const MS: Time = 1_000_000;

    fn job(name: &str, arrival: Time, cpu: Time, nice: i8) -> JobConfig {
        JobConfig {
            name: name.into(),
            report: true,
            arrival,
            cpu,
            io_every: None,
            io: 0,
            tickets: 100,
            nice,
            pin: None,
        }
    }

    fn host(policy: PolicyConfig, jobs: Vec<JobConfig>) -> HostCpu {
        let config = CpuConfig {
            name: "h".into(),
            policy,
            cpus: 1,
            per_cpu_queues: false,
            steal: false,
            machine: MachineConfig::default(),
            jobs,
            bandwidth: None,
            requests: Vec::new(),
        };
        HostCpu::new(config, 0).unwrap()
    }

    /// A piece of work to submit: when, to which process, its cost and token.
    type Submission = (Time, ProcId, Time, u64);

    /// Drives `h` without a simulator up to `until`: the submissions at their instants (each
    /// before a step at the same instant), and `more` after each piece of work ends (it may
    /// submit). Returns the pieces that ended, with the instant.
    fn drive(
        h: &mut HostCpu,
        submissions: &[Submission],
        until: Time,
        more: &mut dyn FnMut(&mut HostCpu, Time, ProcId, u64),
    ) -> Vec<(Time, ProcId, u64)> {
        let mut next = submissions.iter().peekable();
        let mut done = Vec::new();
        let mut out = Vec::new();
        loop {
            let step = h.next_time().filter(|&t| t <= until);
            match (next.peek(), step) {
                (Some(&&(at, p, cost, token)), s) if s.is_none_or(|t| at <= t) => {
                    h.submit_at(p, cost, token, at).unwrap();
                    next.next();
                }
                (_, Some(t)) => {
                    h.step_at(t, &mut done);
                    for (p, token) in done.drain(..) {
                        out.push((t, p, token));
                        more(h, t, p, token);
                    }
                }
                (_, None) => return out,
            }
        }
    }

    fn schedule(h: &HostCpu) -> Vec<(JobId, Time, Time)> {
        h.machine()
            .segments()
            .iter()
            .map(|s| (s.job, s.start, s.end))
            .collect()
    }

    /// CPU time per job from the segments, cut at `until` (running ones included).
    fn cpu_by_job(h: &HostCpu, until: Time) -> Vec<Time> {
        let mut v = vec![0; h.machine().stats().count() + h.proc_names.len()];
        let segments = h.machine().segments().iter().copied();
        for s in segments.chain(h.machine().running(until)) {
            v[s.job as usize] += s.end.min(until) - s.start.min(until);
        }
        v
    }

    /// CFS: a process that always has work queued, beside a CPU-bound job: its share of the one
    /// CPU over `secs` seconds.
    fn cfs_share(proc_nice: i8, job_nice: i8, secs: u64) -> f64 {
        let cfs = PolicyConfig::Cfs {
            target_latency: 6 * MS,
            min_granularity: MS * 3 / 4,
        };
        let until = secs * 1000 * MS;
        let mut h = host(cfs, vec![job("batch", 0, 10 * until, job_nice)]);
        let mut proc = ProcConfig::new("server");
        proc.nice = proc_nice;
        let p = h.add_process(&proc, 0);
        // Two pieces queued at 0; each that ends is replaced, so one always waits.
        let start = [(0, p, MS, 0), (0, p, MS, 1)];
        let mut token = 2;
        let mut more = |h: &mut HostCpu, t: Time, p: ProcId, _| {
            h.submit_at(p, MS, token, t).unwrap();
            token += 1;
        };
        let ended = drive(&mut h, &start, until, &mut more);
        let cpu = cpu_by_job(&h, until);
        assert_eq!(cpu[0] + cpu[1], until, "the CPU never idles");
        // Every piece but those in progress ended, in order.
        assert!(ended.iter().enumerate().all(|(k, e)| e.2 == k as u64));
        assert_eq!(ended.len() as u64, cpu[1] / MS);
        cpu[1] as f64 / until as f64
    }

    #[test]
    fn under_cfs_a_busy_process_gets_the_share_its_weight_says() {
        // Linux's weights: nice 0 is 1024, nice 5 is 335: 1024 / 1359 = 0.7535.
        let busy = cfs_share(0, 5, 10);
        assert!((busy - 0.7535).abs() < 0.001, "nice 0 against 5: {busy}");
        let meek = cfs_share(5, 0, 10);
        assert!((meek - 0.2465).abs() < 0.001, "nice 5 against 0: {meek}");
        let even = cfs_share(0, 0, 10);
        assert!((even - 0.5).abs() < 0.001, "nice 0 against 0: {even}");
    }

    #[test]
    fn under_fifo_work_submitted_while_a_job_runs_waits_for_it() {
        let mut h = host(PolicyConfig::Fifo, vec![job("batch", 0, 50 * MS, 0)]);
        let p = h.add_process(&ProcConfig::new("server"), 0);
        let script = [(5 * MS, p, 2 * MS, 11), (20 * MS, p, 3 * MS, 12)];
        let ended = drive(&mut h, &script, Time::MAX, &mut |_, _, _, _| {});
        assert_eq!(ended, [(52 * MS, p, 11), (55 * MS, p, 12)]);
        assert_eq!(schedule(&h), [(0, 0, 50 * MS), (1, 50 * MS, 55 * MS)]);
        assert_eq!(h.cpu_time(p), Some(5 * MS));
        let batch = h.machine().job_stats(0).unwrap();
        assert_eq!(batch.turnaround(), Some(50 * MS), "the job never waited");
        assert_eq!(
            h.submit_at(1, MS, 0, 60 * MS),
            Err(MachineError::NotAProcess(2)),
            "no process 1"
        );
    }

    /// Round robin, 10 ms quantum, one CPU. `batch` needs 30 ms; the server is given pieces of
    /// 4, 8 and 3 ms at 0, after `batch` arrived: `batch` 0-10; the server 10-20 (piece 1 ends
    /// at 14, piece 2 is cut by the quantum at 20 with 2 ms left); `batch` 20-30; the server
    /// 30-35 (piece 2 ends at 32, piece 3 at 35, then it sleeps); `batch` 35-45.
    fn rr_script() -> (HostCpu, [Submission; 3]) {
        let rr = PolicyConfig::RoundRobin { quantum: 10 * MS };
        let mut h = host(rr, vec![job("batch", 0, 30 * MS, 0)]);
        let p = h.add_process(&ProcConfig::new("server"), 0);
        (h, [(0, p, 4 * MS, 1), (0, p, 8 * MS, 2), (0, p, 3 * MS, 3)])
    }

    #[test]
    fn completions_come_back_in_order_with_their_tokens_when_round_robin_says() {
        let (mut h, script) = rr_script();
        let ended = drive(&mut h, &script, Time::MAX, &mut |_, _, _, _| {});
        assert_eq!(ended, [(14 * MS, 0, 1), (32 * MS, 0, 2), (35 * MS, 0, 3)]);
        assert_eq!(
            schedule(&h),
            [
                (0, 0, 10 * MS),
                (1, 10 * MS, 20 * MS),
                (0, 20 * MS, 30 * MS),
                (1, 30 * MS, 35 * MS),
                (0, 35 * MS, 45 * MS),
            ]
        );
        assert!(h.machine().settled());
        assert_eq!(h.next_time(), None);
    }

    /// Every policy, with one shared queue and per-CPU queues with stealing: random work for
    /// three processes, beside two jobs with I/O on two CPUs, keeps the policies' contract (their
    /// debug checks hold) and every piece ends once, in the order given, the CPU time adding up.
    #[test]
    fn under_every_policy_each_piece_ends_once_in_order() {
        let policies = [
            PolicyConfig::Fifo,
            PolicyConfig::Sjf,
            PolicyConfig::Stcf,
            PolicyConfig::RoundRobin { quantum: 2 * MS },
            PolicyConfig::Mlfq {
                levels: 3,
                quantum: MS,
                allotment: 2 * MS,
                factor: 2,
                boost: Some(50 * MS),
                io_resets_allotment: false,
            },
            PolicyConfig::Lottery {
                quantum: MS,
                seed: 7,
            },
            PolicyConfig::Stride { quantum: MS },
            PolicyConfig::Cfs {
                target_latency: 6 * MS,
                min_granularity: MS * 3 / 4,
            },
        ];
        for policy in policies {
            // SJF and STCF with stealing are left out: a job stolen after it has run is seen
            // by the thief as needing its whole length, which their debug check of a finished
            // job's remaining demand refuses, batch jobs alone too (oracle.rs).
            let oracle = matches!(policy, PolicyConfig::Sjf | PolicyConfig::Stcf);
            for (per_cpu, migration_cost) in [(false, 0), (true, 0), (false, MS / 10)] {
                if per_cpu && oracle {
                    continue;
                }
                let what = format!("{policy:?}, per-CPU {per_cpu}, migration {migration_cost}");
                let mut rng = sched::rng::SplitMix64::new(17);
                let mut jobs = vec![job("a", 0, 40 * MS, 0), job("b", 3 * MS, 30 * MS, 5)];
                jobs[0].io_every = Some(4 * MS);
                jobs[0].io = 2 * MS;
                let config = CpuConfig {
                    name: "h".into(),
                    policy: policy.clone(),
                    cpus: 2,
                    per_cpu_queues: per_cpu,
                    steal: per_cpu,
                    machine: MachineConfig {
                        cpus: 2,
                        context_switch: MS / 20,
                        migration_cost,
                        warm_window: MS,
                    },
                    jobs,
                    bandwidth: None,
                    requests: Vec::new(),
                };
                let mut h = HostCpu::new(config, 0).unwrap();
                let procs: Vec<ProcId> = (0..3)
                    .map(|k| h.add_process(&ProcConfig::new(format!("p{k}")), 0))
                    .collect();
                let mut script: Vec<Submission> = (0..60)
                    .map(|token| {
                        let at = rng.below(200 * MS);
                        let p = procs[rng.below(3) as usize];
                        (at, p, rng.below(3 * MS), token)
                    })
                    .collect();
                script.sort_by_key(|s| s.0);
                let ended = drive(&mut h, &script, Time::MAX, &mut |_, _, _, _| {});
                assert!(h.machine().settled() && h.next_time().is_none(), "{what}");
                for &p in &procs {
                    let given: Vec<u64> = script.iter().filter(|s| s.1 == p).map(|s| s.3).collect();
                    let got: Vec<u64> = ended.iter().filter(|e| e.1 == p).map(|e| e.2).collect();
                    assert_eq!(got, given, "{what}: process {p}");
                    let cost: Time = script.iter().filter(|s| s.1 == p).map(|s| s.2).sum();
                    let cpu = h.cpu_time(p).unwrap();
                    if migration_cost == 0 {
                        assert_eq!(cpu, cost, "{what}: process {p}");
                    } else {
                        assert!(cpu >= cost, "{what}: process {p}");
                    }
                }
                // Each piece ends no earlier than it was given plus its cost.
                for e in &ended {
                    let s = script.iter().find(|s| s.3 == e.2).unwrap();
                    assert!(e.0 >= s.0 + s.2, "{what}: piece {} at {}", e.2, e.0);
                }
                assert!(h.machine().finished(), "{what}");
            }
        }
    }

    /// A model with a host at index 2 and a service that submits work on it at given
    /// instants: the host's step travels inside the model's own event.
    struct World {
        cpu: HostCpu,
        script: Vec<Submission>,
        ended: Vec<(Time, ProcId, u64)>,
        done: Vec<(ProcId, u64)>,
        submitted: usize,
        /// The most events pending at once beyond the submissions still to come.
        most_pending: usize,
    }

    #[derive(Debug, Clone, Copy)]
    enum Ev {
        Cpu(Step),
        Submit(usize),
    }

    impl From<Step> for Ev {
        fn from(s: Step) -> Self {
            Ev::Cpu(s)
        }
    }

    impl TraceEvent for Ev {
        fn encode(&self, e: &mut Encoder<'_>) {
            match self {
                Ev::Cpu(s) => {
                    e.u8(0);
                    s.encode(e);
                }
                Ev::Submit(k) => {
                    e.u8(1).u64(*k as u64);
                }
            }
        }
    }

    impl Model for World {
        type Event = Ev;

        fn start(&mut self, ctx: &mut Ctx<'_, Ev>) -> Result<(), SimError> {
            self.cpu.start(ctx)?;
            for (k, s) in self.script.iter().enumerate() {
                ctx.schedule_at(SimTime::from_nanos(s.0), Ev::Submit(k));
            }
            Ok(())
        }

        fn handle(&mut self, ev: Ev, ctx: &mut Ctx<'_, Ev>) {
            match ev {
                Ev::Submit(k) => {
                    let (_, p, cost, token) = self.script[k];
                    self.submitted += 1;
                    self.cpu.submit(p, cost, token, ctx).unwrap();
                }
                Ev::Cpu(step) => {
                    self.cpu.handle(step, ctx, &mut self.done);
                    let now = ctx.now().as_nanos();
                    self.ended
                        .extend(self.done.drain(..).map(|(p, token)| (now, p, token)));
                }
            }
            let beyond = ctx.pending() - (self.script.len() - self.submitted);
            self.most_pending = self.most_pending.max(beyond);
        }

        fn finish(&mut self, ctx: &mut Ctx<'_, Ev>) {
            self.cpu.finish(ctx);
        }
    }

    /// The round-robin script, with the pieces submitted at 0, 12 and 13 ms instead (between
    /// the host's steps), inside a model: (pieces ended, trace hash, most steps pending).
    fn run_world() -> (
        Vec<(Time, ProcId, u64)>,
        u64,
        usize,
        Vec<(JobId, Time, Time)>,
    ) {
        let (h, mut script) = rr_script();
        let config = h.config().clone();
        let mut cpu = HostCpu::new(config, 2).unwrap();
        cpu.add_process(&ProcConfig::new("server"), 0);
        script[1].0 = 12 * MS;
        script[2].0 = 13 * MS;
        let world = World {
            cpu,
            script: script.to_vec(),
            ended: Vec::new(),
            done: Vec::new(),
            submitted: 0,
            most_pending: 0,
        };
        let (result, world) = Simulation::new(world, SimConfig::new(1))
            .run(StopAt::default())
            .unwrap();
        let segments = schedule(&world.cpu);
        (world.ended, result.trace_hash, world.most_pending, segments)
    }

    #[test]
    fn inside_a_model_the_same_submissions_give_the_same_schedule_and_one_step_is_pending() {
        let (ended, hash, most_pending, segments) = run_world();
        // As in the round-robin script: the server's pieces 2 and 3 come while it runs piece 1
        // (10 to 14), so it runs on into them just the same.
        assert_eq!(ended, [(14 * MS, 0, 1), (32 * MS, 0, 2), (35 * MS, 0, 3)]);
        let (mut h, mut script) = rr_script();
        script[1].0 = 12 * MS;
        script[2].0 = 13 * MS;
        drive(&mut h, &script, Time::MAX, &mut |_, _, _, _| {});
        assert_eq!(
            segments,
            schedule(&h),
            "the simulator and the plain loop agree"
        );
        assert_eq!(most_pending, 1, "at most one step pending for the host");
        assert_eq!(
            run_world(),
            (ended, hash, most_pending, segments),
            "deterministic"
        );
    }

    #[test]
    fn a_submission_between_steps_moves_the_hosts_step_earlier() {
        // FIFO: `batch` runs 0 to 50 ms, so the host's step is pending at 50 ms when the
        // server is given work at 5 ms; the step must come at 5 ms (and the one at 50 ms be
        // cancelled): the wake-up is the policy's to see then, not at 50 ms.
        let mut h = host(PolicyConfig::Fifo, vec![job("batch", 0, 50 * MS, 0)]);
        h.host = 2;
        h.add_process(&ProcConfig::new("server"), 0);
        let world = World {
            cpu: h,
            script: vec![(5 * MS, 0, 2 * MS, 7)],
            ended: Vec::new(),
            done: Vec::new(),
            submitted: 0,
            most_pending: 0,
        };
        let (result, world) = Simulation::new(world, SimConfig::new(1))
            .run(StopAt::default())
            .unwrap();
        assert_eq!(world.ended, [(52 * MS, 0, 7)]);
        // Steps at 0, 5, 50 and 52 ms, and the submission: five events, none stale.
        assert_eq!(result.events, 5);
        assert_eq!(world.most_pending, 1);
    }

    /// `host` with `cpus` CPUs under `quota` per `period`.
    fn limited(policy: PolicyConfig, cpus: u32, jobs: Vec<JobConfig>, quota: Time) -> HostCpu {
        let mut h = host(policy, jobs);
        let mut config = h.config().clone();
        config.cpus = cpus;
        config.bandwidth = Some(crate::cpu::model::BandwidthConfig {
            quota,
            period: 100 * MS,
        });
        h = HostCpu::new(config, 0).unwrap();
        h
    }

    /// Worked by hand: one process that always has work, on one CPU with 20 ms of each 100 ms
    /// period. In each period it runs 20 ms and is throttled 80 ms; over 1 s it runs exactly
    /// 200 ms, is throttled in all 10 periods, 800 ms in all.
    #[test]
    fn a_busy_process_with_a_fifth_of_a_cpu_runs_exactly_its_quota() {
        for policy in [
            PolicyConfig::Fifo,
            PolicyConfig::RoundRobin { quantum: 7 * MS },
        ] {
            let mut h = limited(policy.clone(), 1, Vec::new(), 20 * MS);
            let p = h.add_process(&ProcConfig::new("busy"), 0);
            let start = [(0, p, 3 * MS, 0), (0, p, 3 * MS, 1)];
            let mut token = 2;
            let mut more = |h: &mut HostCpu, t: Time, p: ProcId, _| {
                h.submit_at(p, 3 * MS, token, t).unwrap();
                token += 1;
            };
            let until = 1000 * MS;
            drive(&mut h, &start, until, &mut more);
            assert_eq!(cpu_by_job(&h, until)[0], 200 * MS, "{policy:?}");
            let stats = h.throttle_stats(until).unwrap();
            assert_eq!(
                stats,
                ThrottleStats {
                    nr_periods: 10,
                    nr_throttled: 10,
                    throttled_time: 800 * MS
                },
                "{policy:?}"
            );
            // Every run lies within the first 20 ms of its period.
            for s in h.machine().segments() {
                assert!(s.start % (100 * MS) < 20 * MS && s.end - s.start <= 20 * MS);
            }
        }
    }

    /// The classic lesson in miniature: four threads of 30 ms on four CPUs, with a quota of one
    /// CPU (100 ms per 100 ms). They spend the quota in 25 ms, wait 75 ms for the next period
    /// and finish at 105 ms instead of 30 ms.
    #[test]
    fn a_parallel_burst_spends_the_quota_early_and_waits_for_the_next_period() {
        let jobs: Vec<JobConfig> = (0..4)
            .map(|k| job(&format!("t{k}"), 0, 30 * MS, 0))
            .collect();
        let cfs = PolicyConfig::Cfs {
            target_latency: 48 * MS,
            min_granularity: 6 * MS,
        };
        let mut free = limited(cfs.clone(), 4, jobs.clone(), 0);
        drive(&mut free, &[], Time::MAX, &mut |_, _, _, _| {});
        assert!(
            free.machine()
                .stats()
                .all(|s| s.turnaround() == Some(30 * MS))
        );
        assert_eq!(
            free.throttle_stats(30 * MS),
            None,
            "a quota of 0 limits nothing"
        );
        let mut h = limited(cfs, 4, jobs, 100 * MS);
        drive(&mut h, &[], Time::MAX, &mut |_, _, _, _| {});
        for s in h.machine().stats() {
            assert_eq!(s.turnaround(), Some(105 * MS));
            assert_eq!(s.cpu_time, 30 * MS);
        }
        let stats = h.throttle_stats(105 * MS).unwrap();
        assert_eq!(
            stats,
            ThrottleStats {
                nr_periods: 2,
                nr_throttled: 1,
                throttled_time: 75 * MS
            }
        );
    }

    /// Through the simulator: a 1 s job on one CPU with 20 ms per 100 ms needs 50 periods; it
    /// finishes at 4.92 s, throttled in the first 49 (80 ms each, the first 1 ms less after a
    /// 1 ms switch), and the metrics say so. A
    /// context switch is not CPU time: with 1 ms of it before the first run, that run still gets
    /// its whole 20 ms, from 1 to 21 ms (later periods take the same job back, with no switch).
    #[test]
    fn the_model_reports_cpu_stat_and_a_switch_does_not_spend_the_quota() {
        use simcore::metrics::MetricValue;
        for switch in [0, MS] {
            let h = limited(PolicyConfig::Fifo, 1, vec![job("long", 0, 1000 * MS, 0)], 0);
            let mut config = h.config().clone();
            config.bandwidth = Some(crate::cpu::model::BandwidthConfig {
                quota: 20 * MS,
                period: 100 * MS,
            });
            config.machine.context_switch = switch;
            let model = crate::cpu::CpuModel::new(config).unwrap();
            let (result, model) = Simulation::new(model, SimConfig::new(1))
                .run(StopAt::default())
                .unwrap();
            let stats = model.machine().stats().next().copied().unwrap();
            assert_eq!(stats.completion, Some(4920 * MS), "switch {switch}");
            let first = model.machine().segments()[0];
            assert_eq!((first.start, first.end), (switch, switch + 20 * MS));
            let counter = |name: &str| match result.metrics.get(name) {
                Some(MetricValue::Counter { value }) => *value,
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(counter("h.nr_periods"), 50);
            assert_eq!(counter("h.nr_throttled"), 49);
            match result.metrics.get("h.throttled_time") {
                Some(MetricValue::Histogram { count, max, .. }) => {
                    assert_eq!(*count, 1);
                    assert_eq!(*max, 49 * 80 * MS - switch);
                }
                other => panic!("throttled_time: {other:?}"),
            }
        }
    }

    /// An event encoded by `f`.
    #[derive(Debug)]
    struct Raw(fn(&mut Encoder<'_>));

    impl TraceEvent for Raw {
        fn encode(&self, e: &mut Encoder<'_>) {
            (self.0)(e)
        }
    }

    fn hash_of(event: &dyn TraceEvent) -> u64 {
        let mut trace = simcore::trace::Trace::new();
        trace.record(simcore::trace::RecordKind::Event, SimTime::ZERO, event);
        trace.hash()
    }

    #[test]
    fn a_step_encodes_as_the_single_machine_model_did_on_host_0() {
        // The unit `Step` the model had wrote a tag 0 alone.
        let unit = hash_of(&Raw(|e| {
            e.u8(0);
        }));
        assert_eq!(hash_of(&Step { host: 0 }), unit);
        let host3 = hash_of(&Raw(|e| {
            e.u8(0).u32(3);
        }));
        assert_eq!(hash_of(&Step { host: 3 }), host3);
        assert_ne!(host3, unit);
        assert_eq!(format!("{:?}", Step { host: 0 }), "Step");
        assert_eq!(format!("{:?}", Step { host: 3 }), "Step { host: 3 }");
    }
}

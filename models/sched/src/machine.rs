//! A machine that runs jobs under any [`Policy`]: CPUs, jobs made of CPU and I/O bursts, a
//! context-switch cost, and a cache-warmth model. Sans-IO like the policies: a driver asks
//! [`Machine::next_time`] when something next happens and calls [`Machine::step`] at that
//! time; the simulator schedules those instants as events, and [`Machine::run_to_end`] does the
//! same in a plain loop (tests, benchmarks).
//!
//! # Jobs and processes
//! The jobs given to [`Machine::new`] are a batch: each arrives once, runs its bursts and
//! finishes. A *process* ([`Machine::add_process`]) is long-lived, like a server's thread: it
//! arrives at run time, asleep, and runs only the CPU work it is given
//! ([`Machine::submit`]), piece by piece in the order given, each piece with a tag the driver
//! chooses. Given work while asleep, it wakes: the policy sees it enqueued as a job whose I/O
//! completed ([`Wake::IoDone`]; the very first time, [`Wake::Arrived`]), at the next step.
//! When a piece ends and another is waiting, it runs on into it without leaving the CPU, as a
//! thread that finds another request queued does not block: the policy sees one longer run,
//! stopped by its slice, a preemption or the end of the last piece. When the last piece ends it
//! blocks ([`Stop::Blocked`]) and sleeps until it is given more. Each piece's end is reported
//! with its tag ([`Machine::take_completed`]). A process never finishes: [`Machine::finished`]
//! and the batch's figures ([`Machine::summary`], [`Machine::stats`]) leave processes out.
//!
//! # What happens at one instant, in order
//! 1. I/O completions and processes' wake-ups (by time, then job number), then arrivals
//!    (likewise): jobs are enqueued.
//! 2. Running jobs whose burst or slice ends now stop (by CPU): `Finished`, `Blocked` (their
//!    next burst is I/O, or a process's work is done) or `Expired`; a process with more work
//!    runs on. So a job arriving at the instant another's quantum expires is queued ahead of
//!    it, the usual textbook convention for round robin.
//! 3. The policy's timer, if it asked for this instant ([`Policy::wake_at`]).
//! 4. Idle CPUs pick (by CPU number).
//! 5. If runnable jobs remain, or the policy's timer ran, busy CPUs are asked in turn whether
//!    to preempt (by CPU number); a preempted CPU picks at once.
//!
//! # Costs
//! - **Context switch**: when a CPU starts a job other than the last one it ran, it spends
//!   `context_switch` first; that time is neither the job's CPU time nor useful work.
//! - **Cache warmth**: a job that last ran on another CPU, or on this one more than
//!   `warm_window` ago, runs cold: its burst needs `migration_cost` more CPU time. A job's first
//!   run is not a migration.
//!
//! # Metrics (as *Operating Systems: Three Easy Pieces* defines them)
//! Response = first run − arrival; turnaround = completion − arrival; wait = time runnable but
//! not running (including context switches into it). Utilisation per CPU = time running jobs /
//! the makespan. Jain's fairness index is over each job's CPU rate while it was in the system
//! (CPU time / turnaround): 1 when all got the same rate, 1/n when one got everything.

use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;

use crate::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};

/// Takes the earliest of `due` (a set of `(time, job)`) if its time has come: by time, then by
/// job number, the order in which every driver (this machine, the kernel) wakes jobs.
pub fn pop_due(due: &mut BTreeSet<(Time, JobId)>, now: Time) -> Option<JobId> {
    let &(t, job) = due.first()?;
    (t <= now).then(|| {
        due.pop_first();
        job
    })
}

/// A job's work: CPU bursts separated by I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Burst {
    Cpu(Time),
    Io(Time),
}

/// A job to run: its attributes (id and length are set by [`Machine::new`]) and its bursts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub job: Job,
    pub bursts: Vec<Burst>,
}

impl JobSpec {
    /// A job that arrives at `arrival` and needs `cpu` of CPU time, with no I/O.
    pub fn cpu(arrival: Time, cpu: Time) -> Self {
        JobSpec {
            job: Job::new(0, arrival, cpu),
            bursts: alloc::vec![Burst::Cpu(cpu)],
        }
    }

    /// A job that arrives at `arrival` and needs `cpu` of CPU time in pieces of `io_every`,
    /// each piece but the last followed by `io` of I/O. `io_every` of `None` or 0, or `io` of
    /// 0, means no I/O: one CPU burst. Default shares (100 tickets, nice 0, any CPU).
    pub fn periodic_io(arrival: Time, cpu: Time, io_every: Option<Time>, io: Time) -> Self {
        let mut bursts = Vec::new();
        match io_every.filter(|&e| e > 0 && io > 0) {
            Some(every) => {
                let mut left = cpu;
                while left > 0 {
                    let d = left.min(every);
                    bursts.push(Burst::Cpu(d));
                    left -= d;
                    if left > 0 {
                        bursts.push(Burst::Io(io));
                    }
                }
            }
            None => bursts.push(Burst::Cpu(cpu)),
        }
        JobSpec {
            job: Job::new(0, arrival, cpu),
            bursts,
        }
    }
}

/// The machine's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MachineConfig {
    pub cpus: u32,
    pub context_switch: Time,
    pub migration_cost: Time,
    pub warm_window: Time,
}

/// A stretch of time a CPU ran a job (context switches excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub cpu: CpuId,
    pub job: JobId,
    pub start: Time,
    pub end: Time,
}

/// One job's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobStats {
    pub arrival: Time,
    pub first_run: Option<Time>,
    pub completion: Option<Time>,
    pub cpu_time: Time,
    pub io_time: Time,
    pub wait: Time,
}

impl JobStats {
    pub fn response(&self) -> Option<Time> {
        self.first_run.map(|t| t - self.arrival)
    }

    pub fn turnaround(&self) -> Option<Time> {
        self.completion.map(|t| t - self.arrival)
    }
}

/// What is wrong with a job list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineError {
    NoCpus,
    /// A job needs no CPU time at all.
    EmptyBurst(JobId),
    /// Work was given to a job that is not a process ([`Machine::add_process`]).
    NotAProcess(JobId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotArrived,
    Ready {
        since: Time,
    },
    Running {
        cpu: CpuId,
    },
    Io {
        until: Time,
    },
    /// A process with no work.
    Asleep,
    Done,
}

#[derive(Debug, Clone)]
struct JobState {
    spec: JobSpec,
    /// The burst in progress and what is left of it (CPU time, including any cold-cache cost).
    burst: usize,
    left: Time,
    state: State,
    /// Where and when the job last left a CPU.
    last: Option<(CpuId, Time)>,
    stats: JobStats,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    job: JobId,
    /// Whether this dispatch is the job's first (so set its first run).
    first: bool,
    /// When the job itself starts running (after a context switch).
    start: Time,
    /// When it stops unless preempted: the end of its burst or of its slice.
    stop: Time,
    expires: bool,
    /// When its slice ends (`Time::MAX`: it has none): where a process that runs on into its
    /// next piece of work stops at the latest.
    slice_end: Time,
}

#[derive(Debug, Clone, Default)]
struct Cpu {
    run: Option<Run>,
    last_job: Option<JobId>,
    /// When the last switch (into `last_job`) ends; after now only if a preemption took the
    /// CPU from a job still being switched in (see [`Machine::dispatch`]).
    switch_end: Time,
    busy: Time,
    switching: Time,
}

/// A process's work beyond the piece in progress.
#[derive(Debug, Clone, Default)]
struct Process {
    /// The tag of the piece in progress (or the last one, while asleep).
    tag: u64,
    /// The pieces after it, in the order given: CPU time and tag.
    queue: VecDeque<(Time, u64)>,
}

/// CPUs running jobs under a policy.
#[derive(Debug)]
pub struct Machine<P> {
    policy: P,
    config: MachineConfig,
    /// The batch (jobs `0..batch`), then the processes.
    jobs: Vec<JobState>,
    batch: usize,
    /// Process `k` is job `batch + k`.
    procs: Vec<Process>,
    /// Processes with work (woken or running or runnable).
    awake: usize,
    /// Pieces of processes' work that ended, as (job, tag), until the driver takes them.
    completed: Vec<(JobId, u64)>,
    cpus: Vec<Cpu>,
    /// Arrivals not yet due, as (time, job), and I/O completions.
    arrivals: BTreeSet<(Time, JobId)>,
    io: BTreeSet<(Time, JobId)>,
    segments: Vec<Segment>,
    decisions: u64,
    now: Time,
    done: usize,
}

impl<P: Policy> Machine<P> {
    /// A machine with `jobs` (numbered by their position; each job's `length` becomes the sum
    /// of its CPU bursts).
    pub fn new(policy: P, config: MachineConfig, jobs: Vec<JobSpec>) -> Result<Self, MachineError> {
        if config.cpus == 0 {
            return Err(MachineError::NoCpus);
        }
        let mut states = Vec::with_capacity(jobs.len());
        let mut arrivals = BTreeSet::new();
        for (i, mut spec) in jobs.into_iter().enumerate() {
            let id = i as JobId;
            spec.job.id = id;
            // Empty bursts are dropped, then adjacent bursts of one kind are one burst.
            let mut bursts: Vec<Burst> = Vec::with_capacity(spec.bursts.len());
            for b in spec
                .bursts
                .iter()
                .filter(|b| !matches!(b, Burst::Cpu(0) | Burst::Io(0)))
            {
                match (bursts.last_mut(), *b) {
                    (Some(Burst::Cpu(a)), Burst::Cpu(d)) => *a += d,
                    (Some(Burst::Io(a)), Burst::Io(d)) => *a += d,
                    (_, b) => bursts.push(b),
                }
            }
            // A job ends with its last CPU burst: I/O after it changes no schedule.
            while matches!(bursts.last(), Some(Burst::Io(_))) {
                bursts.pop();
            }
            let cpu: Time = bursts
                .iter()
                .map(|b| if let Burst::Cpu(d) = b { *d } else { 0 })
                .sum();
            if cpu == 0 {
                return Err(MachineError::EmptyBurst(id));
            }
            spec.bursts = bursts;
            spec.job.length = cpu;
            let first = match spec.bursts.first() {
                Some(Burst::Cpu(d)) => *d,
                _ => 0,
            };
            arrivals.insert((spec.job.arrival, id));
            states.push(JobState {
                stats: JobStats {
                    arrival: spec.job.arrival,
                    ..JobStats::default()
                },
                spec,
                burst: 0,
                left: first,
                state: State::NotArrived,
                last: None,
            });
        }
        Ok(Machine {
            policy,
            cpus: alloc::vec![Cpu::default(); config.cpus as usize],
            config,
            batch: states.len(),
            jobs: states,
            procs: Vec::new(),
            awake: 0,
            completed: Vec::new(),
            arrivals,
            io: BTreeSet::new(),
            segments: Vec::new(),
            decisions: 0,
            now: 0,
            done: 0,
        })
    }

    /// Adds a process at `now` (its id, arrival and length are set here; its shares and
    /// affinity are `job`'s), asleep until it is given work. Its id follows every job before
    /// it.
    pub fn add_process(&mut self, job: Job, now: Time) -> JobId {
        let now = now.max(self.now);
        let id = self.jobs.len() as JobId;
        let mut job = job;
        job.id = id;
        job.arrival = now;
        job.length = 0;
        self.jobs.push(JobState {
            spec: JobSpec {
                job,
                bursts: Vec::new(),
            },
            burst: 0,
            left: 0,
            state: State::NotArrived,
            last: None,
            stats: JobStats {
                arrival: now,
                ..JobStats::default()
            },
        });
        self.procs.push(Process::default());
        id
    }

    /// Gives process `job` a piece of work of `cpu` CPU time, tagged `tag`, at `now`, which
    /// becomes the machine's time: every instant before it must have been stepped (an earlier
    /// `now` is taken as the last step's). Asleep, the process wakes at the next step, which
    /// [`Machine::next_time`] then says is `now`; otherwise the piece waits behind the work it
    /// has. A piece of no CPU time still waits for a CPU and ends the instant it gets one. The
    /// process's `length`, which SJF and STCF read when it first arrives, is the CPU time it
    /// has been given.
    pub fn submit(
        &mut self,
        job: JobId,
        cpu: Time,
        tag: u64,
        now: Time,
    ) -> Result<(), MachineError> {
        if !self.is_process(job) {
            return Err(MachineError::NotAProcess(job));
        }
        let now = now.max(self.now);
        debug_assert!(
            self.next_time().is_none_or(|t| t >= now),
            "an instant before {now} was not stepped"
        );
        // A policy timer that came due while nothing had work runs at this step, not before.
        self.now = now;
        let p = &mut self.procs[job as usize - self.batch];
        let j = &mut self.jobs[job as usize];
        j.spec.job.length = j.spec.job.length.saturating_add(cpu);
        let due = match j.state {
            State::NotArrived => &mut self.arrivals,
            State::Asleep => &mut self.io,
            _ => {
                p.queue.push_back((cpu, tag));
                return Ok(());
            }
        };
        due.insert((now, job));
        j.state = State::Io { until: now };
        j.left = cpu;
        p.tag = tag;
        self.awake += 1;
        Ok(())
    }

    /// Moves the pieces of processes' work that ended, as (job, tag), in the order they ended
    /// (by instant, then by CPU), onto `out`.
    pub fn take_completed(&mut self, out: &mut Vec<(JobId, u64)>) {
        out.append(&mut self.completed);
    }

    /// Whether `job` is a process.
    pub fn is_process(&self, job: JobId) -> bool {
        (job as usize) >= self.batch && (job as usize) < self.jobs.len()
    }

    /// Each process's figures, with its id: its CPU time and wait (runnable, not running);
    /// `completion` stays `None`.
    pub fn process_stats(&self) -> impl Iterator<Item = (JobId, &JobStats)> {
        (self.batch as JobId..).zip(self.jobs[self.batch..].iter().map(|j| &j.stats))
    }

    pub fn policy(&self) -> &P {
        &self.policy
    }

    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The stretches running at `now` and not yet in [`Machine::segments`] (a job is added
    /// there only when it stops), cut at `now`: what a run that ends now had on its CPUs. A job
    /// still in its context switch at `now` has no stretch yet.
    pub fn running(&self, now: Time) -> impl Iterator<Item = Segment> + '_ {
        self.cpus.iter().enumerate().filter_map(move |(cpu, c)| {
            let r = c.run?;
            (r.start < now).then_some(Segment {
                cpu: cpu as CpuId,
                job: r.job,
                start: r.start,
                end: now,
            })
        })
    }

    /// The batch's figures, by job number (processes: [`Machine::process_stats`]).
    pub fn stats(&self) -> impl Iterator<Item = &JobStats> {
        self.jobs[..self.batch].iter().map(|j| &j.stats)
    }

    pub fn job_stats(&self, job: JobId) -> Option<&JobStats> {
        self.jobs.get(job as usize).map(|j| &j.stats)
    }

    /// How many times a CPU asked the policy what to run.
    pub fn decisions(&self) -> u64 {
        self.decisions
    }

    /// Whether every job of the batch finished (processes never do).
    pub fn finished(&self) -> bool {
        self.done == self.batch
    }

    /// Whether nothing is left to do: the batch finished and no process has work.
    pub fn settled(&self) -> bool {
        self.finished() && self.awake == 0
    }

    pub fn now(&self) -> Time {
        self.now
    }

    /// Per CPU: time running jobs, and time switching between them.
    pub fn cpu_times(&self) -> impl Iterator<Item = (Time, Time)> + '_ {
        self.cpus.iter().map(|c| (c.busy, c.switching))
    }

    /// The next instant something happens, if anything ever does.
    pub fn next_time(&self) -> Option<Time> {
        let mut t = self.arrivals.first().map(|a| a.0);
        let mut at = |x: Time| t = Some(t.map_or(x, |y: Time| y.min(x)));
        if let Some(&(x, _)) = self.io.first() {
            at(x);
        }
        for c in &self.cpus {
            if let Some(r) = c.run {
                at(r.stop);
            }
        }
        if let Some(x) = self.policy.wake_at() {
            // With nothing left to do the timer waits: it runs at the next step there is.
            if !self.settled() {
                at(x.max(self.now));
            }
        }
        t
    }

    /// Runs until nothing is left to happen; returns the time of the last event.
    pub fn run_to_end(&mut self) -> Time {
        while let Some(t) = self.next_time() {
            self.step(t);
            if self.settled() {
                break;
            }
        }
        self.now
    }

    /// Processes everything that happens at `now` (which must not be before the last step).
    pub fn step(&mut self, now: Time) {
        debug_assert!(now >= self.now, "time never goes back");
        self.now = now;
        let mut woke = false;
        // 1. I/O completions and wake-ups, then arrivals.
        while let Some(job) = pop_due(&mut self.io, now) {
            self.make_ready(job, now, Wake::IoDone);
            woke = true;
        }
        while let Some(job) = pop_due(&mut self.arrivals, now) {
            let j = &mut self.jobs[job as usize];
            if let Some(&Burst::Io(d)) = j.spec.bursts.first() {
                // A job that starts with I/O is in the system, waiting for its disk.
                j.stats.io_time += d;
                j.burst = 1;
                j.left = match j.spec.bursts.get(1) {
                    Some(Burst::Cpu(c)) => *c,
                    _ => 0,
                };
                j.state = State::Io { until: now + d };
                self.io.insert((now + d, job));
                continue;
            }
            self.make_ready(job, now, Wake::Arrived);
            woke = true;
        }
        // 2. Running jobs whose burst or slice ends now.
        for cpu in 0..self.cpus.len() {
            if self.cpus[cpu].run.is_some_and(|r| r.stop <= now)
                && (self.procs.is_empty() || !self.run_on(cpu, now))
            {
                self.stop(cpu as CpuId, now, None);
            }
        }
        // 3. The policy's timer.
        let timer = self.policy.wake_at().is_some_and(|t| t <= now);
        if timer {
            self.policy.timer(now);
        }
        // 4. Idle CPUs pick.
        for cpu in 0..self.cpus.len() {
            if self.cpus[cpu].run.is_none() {
                self.dispatch(cpu as CpuId, now);
            }
        }
        // 5. Preemption: for jobs that became runnable and found no idle CPU, and after the
        // timer, which may have ended running jobs' slices (MLFQ's boost).
        if timer || (woke && self.policy.runnable() > 0) {
            for cpu in 0..self.cpus.len() {
                let Some(r) = self.cpus[cpu].run else {
                    continue;
                };
                let ran = now.saturating_sub(r.start);
                let job = self.jobs[r.job as usize].spec.job;
                if self.policy.preempt(&job, cpu as CpuId, ran, now) {
                    self.stop(cpu as CpuId, now, Some(Stop::Preempted));
                    self.dispatch(cpu as CpuId, now);
                }
                if !timer && self.policy.runnable() == 0 {
                    break;
                }
            }
        }
    }

    /// The run on `cpu` ended its piece of work at `now`: if it is a process with more, it runs
    /// on into it (each piece that ends is reported) until its slice ends or work remains past
    /// `now`. Returns whether it still runs after `now`.
    #[inline(never)]
    fn run_on(&mut self, cpu: usize, now: Time) -> bool {
        let Some(r) = self.cpus[cpu].run.as_mut() else {
            return false;
        };
        let Some(p) = (r.job as usize)
            .checked_sub(self.batch)
            .and_then(|k| self.procs.get_mut(k))
        else {
            return false;
        };
        let j = &mut self.jobs[r.job as usize];
        while r.stop <= now && !r.expires {
            let Some((cpu_time, tag)) = p.queue.pop_front() else {
                return false;
            };
            self.completed
                .push((r.job, core::mem::replace(&mut p.tag, tag)));
            // `left` counts from the run's start, like the CPU time `stop` takes from it.
            j.left = j.left.saturating_add(cpu_time);
            let end = r.start.saturating_add(j.left);
            (r.stop, r.expires) = if r.slice_end < end {
                (r.slice_end, true)
            } else {
                (end, false)
            };
        }
        r.stop > now
    }

    fn make_ready(&mut self, job: JobId, now: Time, wake: Wake) {
        let j = &mut self.jobs[job as usize];
        debug_assert!(matches!(j.state, State::NotArrived | State::Io { .. }));
        j.state = State::Ready { since: now };
        let spec = j.spec.job;
        self.policy.enqueue(&spec, now, wake);
    }

    /// Stops the job on `cpu` at `now`: because its burst or slice ended (`forced` None), or
    /// because it is preempted.
    fn stop(&mut self, cpu: CpuId, now: Time, forced: Option<Stop>) {
        let c = &mut self.cpus[cpu as usize];
        let Some(r) = c.run.take() else { return };
        if now < r.start {
            // Preempted while still switching to it: the job never ran. Take back what the
            // dispatch counted ahead for the job (its first run, its wait); the switch itself
            // is settled by the next dispatch on this CPU.
            let unspent = r.start - now;
            let j = &mut self.jobs[r.job as usize];
            j.stats.wait -= unspent;
            if r.first {
                j.stats.first_run = None;
            }
            j.state = State::Ready { since: now };
            let spec = j.spec.job;
            self.policy
                .stopped(&spec, cpu, 0, now, forced.unwrap_or(Stop::Preempted));
            return;
        }
        let ran = now.saturating_sub(r.start);
        c.busy += ran;
        if now > r.start {
            self.segments.push(Segment {
                cpu,
                job: r.job,
                start: r.start,
                end: now,
            });
        }
        let j = &mut self.jobs[r.job as usize];
        debug_assert!(ran <= j.left, "a job never runs past its burst");
        j.left -= ran.min(j.left);
        j.stats.cpu_time += ran;
        j.last = Some((cpu, now));
        let stop = match forced {
            Some(s) => s,
            None if j.left > 0 => {
                debug_assert!(r.expires, "a run stops early only when its slice ends");
                Stop::Expired
            }
            // A process's work is done: it sleeps until it is given more.
            None if (r.job as usize) >= self.batch => Stop::Blocked,
            None => {
                // The burst is done: on to the next one.
                j.burst += 1;
                match j.spec.bursts.get(j.burst).copied() {
                    None => Stop::Finished,
                    Some(Burst::Io(d)) => {
                        j.stats.io_time += d;
                        j.burst += 1;
                        j.left = match j.spec.bursts.get(j.burst) {
                            Some(Burst::Cpu(c)) => *c,
                            _ => 0,
                        };
                        Stop::Blocked
                    }
                    Some(Burst::Cpu(d)) => {
                        // Two CPU bursts are merged in `new`; kept for safety.
                        j.left = d;
                        Stop::Expired
                    }
                }
            }
        };
        j.state = match stop {
            Stop::Finished => {
                j.stats.completion = Some(now);
                self.done += 1;
                State::Done
            }
            Stop::Blocked if (r.job as usize) >= self.batch => {
                let tag = self.procs[r.job as usize - self.batch].tag;
                self.completed.push((r.job, tag));
                self.awake -= 1;
                State::Asleep
            }
            Stop::Blocked => {
                let d = match j.spec.bursts.get(j.burst - 1) {
                    Some(Burst::Io(d)) => *d,
                    _ => 0,
                };
                self.io.insert((now + d, r.job));
                State::Io { until: now + d }
            }
            Stop::Expired | Stop::Preempted => State::Ready { since: now },
        };
        let spec = j.spec.job;
        self.policy.stopped(&spec, cpu, ran, now, stop);
    }

    fn dispatch(&mut self, cpu: CpuId, now: Time) {
        self.decisions += 1;
        let picked = self.policy.pick(cpu, now);
        let c = &mut self.cpus[cpu as usize];
        if c.switch_end > now && picked.map(|d| d.job) != c.last_job {
            // A switch cut short by a preemption, to a job not picked again: the time it had
            // still to run was never spent.
            c.switching -= c.switch_end - now;
            c.switch_end = now;
            c.last_job = None;
        }
        let Some(Dispatch { job, slice }) = picked else {
            return;
        };
        // The job this CPU last switched to starts when that switch ends (at once if it ran
        // before; a switch a preemption interrupted goes on, as when MLFQ's boost preempts a
        // job to give it a fresh slice); any other job after a whole switch.
        if c.last_job != Some(job) {
            c.switching += self.config.context_switch;
            c.switch_end = now + self.config.context_switch;
            c.last_job = Some(job);
        }
        let start = c.switch_end.max(now);
        let j = &mut self.jobs[job as usize];
        debug_assert!(
            matches!(j.state, State::Ready { .. }),
            "the policy picks only runnable jobs"
        );
        if let State::Ready { since } = j.state {
            j.stats.wait += start - since;
        }
        let first = j.stats.first_run.is_none();
        if first {
            j.stats.first_run = Some(start);
        }
        let cold = match j.last {
            Some((last_cpu, left_at)) => {
                last_cpu != cpu || now.saturating_sub(left_at) > self.config.warm_window
            }
            None => false,
        };
        if cold {
            j.left += self.config.migration_cost;
        }
        j.state = State::Running { cpu };
        let slice_end = match slice {
            Some(s) => start.saturating_add(s.max(1)),
            None => Time::MAX,
        };
        let end = start + j.left;
        let (stop, expires) = if slice_end < end {
            (slice_end, true)
        } else {
            (end, false)
        };
        c.run = Some(Run {
            job,
            first,
            start,
            stop,
            expires,
            slice_end,
        });
    }

    /// The batch's figures and machine-wide ones so far. Utilisation counts processes' runs
    /// too: with processes, it is over the time to now.
    pub fn summary(&self) -> Summary {
        let batch = &self.jobs[..self.batch];
        let mean = |f: &dyn Fn(&JobStats) -> Option<Time>| {
            let v: Vec<Time> = batch.iter().filter_map(|j| f(&j.stats)).collect();
            if v.is_empty() {
                0.0
            } else {
                v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
            }
        };
        // The span the figures cover: to the last completion, or to now if jobs remain.
        let makespan = if self.finished() && self.procs.is_empty() {
            batch
                .iter()
                .filter_map(|j| j.stats.completion)
                .max()
                .unwrap_or(self.now)
        } else {
            self.now
        };
        let rates: Vec<f64> = batch
            .iter()
            .filter_map(|j| {
                j.stats
                    .turnaround()
                    .filter(|&t| t > 0)
                    .map(|t| j.stats.cpu_time as f64 / t as f64)
            })
            .collect();
        let sum: f64 = rates.iter().sum();
        let sq: f64 = rates.iter().map(|x| x * x).sum();
        let jain = if sq > 0.0 {
            sum * sum / (rates.len() as f64 * sq)
        } else {
            1.0
        };
        Summary {
            response: mean(&|s| s.response()),
            turnaround: mean(&|s| s.turnaround()),
            wait: mean(&|s| s.completion.map(|_| s.wait)),
            utilisation: self
                .cpus
                .iter()
                .map(|c| {
                    // Count the job in progress up to now.
                    let running = c.run.map_or(0, |r| self.now.saturating_sub(r.start));
                    if makespan > 0 {
                        ((c.busy + running) as f64 / makespan as f64).min(1.0)
                    } else {
                        0.0
                    }
                })
                .collect(),
            jain,
            makespan,
        }
    }
}

/// Averages over finished jobs (nanoseconds), utilisation per CPU, Jain's index.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub response: f64,
    pub turnaround: f64,
    pub wait: f64,
    pub utilisation: Vec<f64>,
    pub jain: f64,
    pub makespan: Time,
}

/// A boxed policy is a policy, so a driver can choose one at run time.
impl<T: Policy + ?Sized> Policy for alloc::boxed::Box<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn enqueue(&mut self, job: &Job, now: Time, wake: Wake) {
        (**self).enqueue(job, now, wake)
    }
    fn pick(&mut self, cpu: CpuId, now: Time) -> Option<Dispatch> {
        (**self).pick(cpu, now)
    }
    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, now: Time, stop: Stop) {
        (**self).stopped(job, cpu, ran, now, stop)
    }
    fn preempt(&mut self, running: &Job, cpu: CpuId, ran: Time, now: Time) -> bool {
        (**self).preempt(running, cpu, ran, now)
    }
    fn wake_at(&self) -> Option<Time> {
        (**self).wake_at()
    }
    fn timer(&mut self, now: Time) {
        (**self).timer(now)
    }
    fn runnable(&self) -> usize {
        (**self).runnable()
    }
    fn steal(&mut self, cpu: CpuId, now: Time) -> Option<JobId> {
        (**self).steal(cpu, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Fifo, Mlfq, MlfqConfig, RoundRobin};
    use alloc::vec;

    #[test]
    fn periodic_io_splits_cpu_time_around_io() {
        use Burst::{Cpu, Io};
        let exact = JobSpec::periodic_io(5, 30, Some(10), 4);
        assert_eq!(exact.bursts, vec![Cpu(10), Io(4), Cpu(10), Io(4), Cpu(10)]);
        assert_eq!(exact.job, Job::new(0, 5, 30));
        let remainder = JobSpec::periodic_io(0, 25, Some(10), 3);
        assert_eq!(
            remainder.bursts,
            vec![Cpu(10), Io(3), Cpu(10), Io(3), Cpu(5)]
        );
        assert_eq!(remainder.job.length, 25);
        let shorter = JobSpec::periodic_io(0, 7, Some(10), 3);
        assert_eq!(shorter.bursts, vec![Cpu(7)]);
        for (every, io) in [(Some(10), 0), (Some(0), 3), (None, 3), (None, 0)] {
            let spec = JobSpec::periodic_io(2, 25, every, io);
            assert_eq!(spec, JobSpec::cpu(2, 25), "io_every {every:?}, io {io}");
        }
    }

    fn one_cpu() -> MachineConfig {
        MachineConfig {
            cpus: 1,
            ..MachineConfig::default()
        }
    }

    fn schedule<P: Policy>(m: &Machine<P>) -> Vec<(JobId, Time, Time)> {
        m.segments()
            .iter()
            .map(|s| (s.job, s.start, s.end))
            .collect()
    }

    #[test]
    fn fifo_three_equal_jobs_average_turnaround_20() {
        // OSTEP figure 7.1: A, B, C of 10 s each arrive at 0: turnarounds 10, 20, 30.
        let jobs = vec![
            JobSpec::cpu(0, 10),
            JobSpec::cpu(0, 10),
            JobSpec::cpu(0, 10),
        ];
        let mut m = Machine::new(Fifo::new(), one_cpu(), jobs).unwrap();
        assert_eq!(m.run_to_end(), 30);
        assert_eq!(schedule(&m), [(0, 0, 10), (1, 10, 20), (2, 20, 30)]);
        let s = m.summary();
        assert_eq!(s.turnaround, 20.0);
        assert_eq!(s.response, 10.0);
        assert_eq!(s.wait, 10.0);
        assert_eq!(s.utilisation, [1.0]);
    }

    #[test]
    fn round_robin_interleaves_and_new_arrivals_go_before_the_expired_job() {
        // OSTEP figure 7.7: A, B, C of 5 at 0, quantum 1: response 0, 1, 2 (average 1).
        let jobs = vec![JobSpec::cpu(0, 5), JobSpec::cpu(0, 5), JobSpec::cpu(0, 5)];
        let mut m = Machine::new(RoundRobin::new(1), one_cpu(), jobs).unwrap();
        m.run_to_end();
        let s = m.summary();
        assert_eq!(s.response, 1.0);
        assert_eq!(s.turnaround, 14.0, "13, 14, 15");
        // B arrives at 2, when A's quantum ends: B runs before A again.
        let jobs = vec![JobSpec::cpu(0, 4), JobSpec::cpu(2, 2)];
        let mut m = Machine::new(RoundRobin::new(2), one_cpu(), jobs).unwrap();
        m.run_to_end();
        assert_eq!(schedule(&m), [(0, 0, 2), (1, 2, 4), (0, 4, 6)]);
    }

    #[test]
    fn io_overlaps_with_another_job() {
        // OSTEP figure 7.9: A does 10 ms CPU then 10 ms I/O, five times; B needs 50 ms CPU.
        // Under RR with a 10 ms quantum, B runs while A waits for its disk.
        let mut bursts = Vec::new();
        for k in 0..5 {
            bursts.push(Burst::Cpu(10));
            if k < 4 {
                bursts.push(Burst::Io(10));
            }
        }
        let a = JobSpec {
            job: Job::new(0, 0, 0),
            bursts,
        };
        let jobs = vec![a, JobSpec::cpu(0, 50)];
        let mut m = Machine::new(RoundRobin::new(10), one_cpu(), jobs).unwrap();
        assert_eq!(m.run_to_end(), 100);
        let s = m.summary();
        assert_eq!(s.utilisation, [1.0], "the CPU is never idle");
        assert_eq!(m.job_stats(0).unwrap().io_time, 40);
    }

    #[test]
    fn context_switches_cost_time_and_cold_caches_cost_work() {
        let jobs = vec![JobSpec::cpu(0, 4), JobSpec::cpu(0, 4)];
        let config = MachineConfig {
            cpus: 1,
            context_switch: 1,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(RoundRobin::new(2), config, jobs).unwrap();
        // A: switch 0-1, run 1-3; B: switch 3-4, run 4-6; A: 6-7, 7-9; B: 9-10, 10-12.
        assert_eq!(m.run_to_end(), 12);
        assert_eq!(m.cpu_times().next(), Some((8, 4)));
        // Two CPUs, RR: a job that moves to the other CPU pays the migration cost.
        let jobs = vec![JobSpec::cpu(0, 4), JobSpec::cpu(0, 4), JobSpec::cpu(0, 4)];
        let config = MachineConfig {
            cpus: 2,
            migration_cost: 1,
            warm_window: 100,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(RoundRobin::new(2), config, jobs).unwrap();
        m.run_to_end();
        let cpu: Time = m.stats().map(|s| s.cpu_time).sum();
        assert!(cpu > 12, "some runs were cold: {cpu}");
    }

    #[test]
    fn a_job_preempted_while_switching_to_it_never_ran() {
        // STCF, switches cost 2: `a` (10) is being switched in at 0 when `b` (2) arrives at 1
        // and preempts it. `a` never ran then: its first run is at 7, after `b` (3 to 5) and
        // another switch; its wait is 7, not 7 plus the abandoned switch.
        let jobs = vec![JobSpec::cpu(0, 10), JobSpec::cpu(1, 2)];
        let config = MachineConfig {
            cpus: 1,
            context_switch: 2,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(crate::Stcf::new(), config, jobs).unwrap();
        assert_eq!(m.run_to_end(), 17);
        assert_eq!(schedule(&m), [(1, 3, 5), (0, 7, 17)]);
        let a = m.job_stats(0).unwrap();
        assert_eq!((a.response(), a.wait), (Some(7), 7));
        let b = m.job_stats(1).unwrap();
        assert_eq!((b.response(), b.wait), (Some(2), 2));
        assert_eq!(
            m.cpu_times().next(),
            Some((12, 5)),
            "one switch abandoned after 1 unit"
        );
        assert!(m.summary().utilisation[0] <= 1.0);
    }

    #[test]
    fn empty_bursts_vanish_and_their_neighbours_merge() {
        let job = JobSpec {
            job: Job::new(0, 0, 0),
            bursts: vec![Burst::Cpu(3), Burst::Io(0), Burst::Cpu(4), Burst::Io(5)],
        };
        let mut m = Machine::new(Fifo::new(), one_cpu(), vec![job]).unwrap();
        assert_eq!(
            m.run_to_end(),
            7,
            "one CPU burst of 7; the trailing I/O is dropped"
        );
        assert_eq!(schedule(&m), [(0, 0, 7)]);
    }

    /// Passes every call to `P` and logs enqueues and stops: (job, what, ran, now).
    struct Spy<P> {
        inner: P,
        log: Vec<(JobId, &'static str, Time, Time)>,
    }

    impl<P: Policy> Policy for Spy<P> {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        fn enqueue(&mut self, job: &Job, now: Time, wake: Wake) {
            let what = match wake {
                Wake::Arrived => "arrived",
                Wake::IoDone => "io done",
            };
            self.log.push((job.id, what, 0, now));
            self.inner.enqueue(job, now, wake)
        }
        fn pick(&mut self, cpu: CpuId, now: Time) -> Option<Dispatch> {
            self.inner.pick(cpu, now)
        }
        fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, now: Time, stop: Stop) {
            let what = match stop {
                Stop::Expired => "expired",
                Stop::Preempted => "preempted",
                Stop::Blocked => "blocked",
                Stop::Finished => "finished",
            };
            self.log.push((job.id, what, ran, now));
            self.inner.stopped(job, cpu, ran, now, stop)
        }
        fn preempt(&mut self, running: &Job, cpu: CpuId, ran: Time, now: Time) -> bool {
            self.inner.preempt(running, cpu, ran, now)
        }
        fn wake_at(&self) -> Option<Time> {
            self.inner.wake_at()
        }
        fn timer(&mut self, now: Time) {
            self.inner.timer(now)
        }
        fn runnable(&self) -> usize {
            self.inner.runnable()
        }
    }

    /// Steps `m` at each instant it names up to `until`; the pieces of work that ended, with
    /// the instant.
    fn run_until<P: Policy>(m: &mut Machine<P>, until: Time) -> Vec<(Time, JobId, u64)> {
        let mut ended = Vec::new();
        let mut out = Vec::new();
        while let Some(t) = m.next_time().filter(|&t| t <= until) {
            m.step(t);
            m.take_completed(&mut ended);
            out.extend(ended.drain(..).map(|(job, tag)| (t, job, tag)));
        }
        out
    }

    #[test]
    fn a_process_arrives_then_wakes_as_from_io_and_runs_on_through_queued_work() {
        let spy = Spy {
            inner: RoundRobin::new(10),
            log: Vec::new(),
        };
        let mut m = Machine::new(spy, one_cpu(), vec![]).unwrap();
        let p = m.add_process(Job::new(0, 0, 0), 0);
        assert_eq!(p, 0);
        assert!(m.settled() && m.finished());
        assert_eq!(m.next_time(), None, "asleep, it asks for nothing");
        m.submit(p, 4, 1, 0).unwrap();
        m.submit(p, 3, 2, 0).unwrap();
        assert_eq!(m.next_time(), Some(0));
        assert!(
            !m.settled() && m.finished(),
            "a process never holds up finished()"
        );
        // Piece 1 ends at 4 and the process runs on into piece 2 (one run, 0 to 7).
        assert_eq!(run_until(&mut m, 100), [(4, p, 1), (7, p, 2)]);
        assert!(m.settled());
        m.submit(p, 5, 3, 20).unwrap();
        assert_eq!(m.next_time(), Some(20));
        assert_eq!(run_until(&mut m, 100), [(25, p, 3)]);
        assert_eq!(schedule(&m), [(p, 0, 7), (p, 20, 25)]);
        assert_eq!(
            m.policy().log,
            [
                (p, "arrived", 0, 0),
                (p, "blocked", 7, 7),
                (p, "io done", 0, 20),
                (p, "blocked", 5, 25),
            ]
        );
        let (id, stats) = m.process_stats().next().unwrap();
        assert_eq!((id, stats.cpu_time, stats.completion), (p, 12, None));
        assert_eq!(
            m.stats().count(),
            0,
            "processes are not in the batch's figures"
        );
    }

    #[test]
    fn work_given_between_steps_waits_behind_a_fifo_job_and_leaves_its_figures_alone() {
        let mut m = Machine::new(Fifo::new(), one_cpu(), vec![JobSpec::cpu(0, 100)]).unwrap();
        let p = m.add_process(Job::new(0, 0, 0), 0);
        assert_eq!(p, 1, "processes follow the batch");
        m.step(0);
        assert_eq!(m.next_time(), Some(100));
        // The driver wakes the process at 35, between the machine's steps, and steps there.
        m.submit(p, 10, 7, 35).unwrap();
        assert_eq!(m.next_time(), Some(35));
        assert_eq!(run_until(&mut m, 1000), [(110, p, 7)]);
        assert_eq!(schedule(&m), [(0, 0, 100), (p, 100, 110)]);
        assert_eq!(m.job_stats(p).unwrap().wait, 65);
        let s = m.summary();
        assert_eq!((s.turnaround, s.response, s.jain), (100.0, 0.0, 1.0));
        assert_eq!(
            m.submit(0, 5, 0, 110),
            Err(MachineError::NotAProcess(0)),
            "a batch job is given no work"
        );
    }

    #[test]
    fn run_to_end_waits_for_processes_and_their_timer_rests_while_they_sleep() {
        // MLFQ with a boost every 100: its timer keeps the machine going only while a job or a
        // process has something to do.
        let mut config = MlfqConfig::geometric(2, 10, 20, 2);
        config.boost_period = Some(100);
        let mut m = Machine::new(Mlfq::new(config), one_cpu(), vec![JobSpec::cpu(0, 5)]).unwrap();
        let p = m.add_process(Job::new(0, 0, 0), 0);
        m.submit(p, 30, 9, 0).unwrap();
        // The batch job finishes at 5; the process's work goes on to 35.
        assert_eq!(m.run_to_end(), 35);
        assert!(m.settled());
        let mut ended = Vec::new();
        m.take_completed(&mut ended);
        assert_eq!(ended, [(p, 9)]);
        assert_eq!(m.policy().wake_at(), Some(100));
        assert_eq!(m.next_time(), None, "nothing to do: no boost");
        m.submit(p, 5, 10, 250).unwrap();
        assert_eq!(run_until(&mut m, 1000), [(255, p, 10)]);
        assert_eq!(
            m.policy().wake_at(),
            Some(300),
            "the overdue boost ran at 250, on the grid"
        );
    }

    #[test]
    fn bad_job_lists_are_refused() {
        let none = MachineConfig::default();
        assert_eq!(
            Machine::new(Fifo::new(), none, vec![]).err(),
            Some(MachineError::NoCpus)
        );
        let empty = vec![JobSpec::cpu(0, 0)];
        assert_eq!(
            Machine::new(Fifo::new(), one_cpu(), empty).err(),
            Some(MachineError::EmptyBurst(0))
        );
    }
}

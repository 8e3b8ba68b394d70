//! The two policies of *Operating Systems: Three Easy Pieces* (ch. 7) that know each job's CPU
//! demand in advance: shortest job first (SJF, non-preemptive) and shortest time to completion
//! first (STCF, preemptive). Both order runnable jobs by remaining demand: [`Job::length`]
//! minus the CPU time the job has had, counted from [`Policy::stopped`]'s `ran`.
//!
//! A job's history stays with the policy that ran it: a job given up by [`Policy::steal`] is
//! forgotten, and the policy that receives it sees its whole `length` as still to run.

use alloc::collections::{BTreeMap, BTreeSet};

use crate::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};

/// Where a job the policy knows is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Runnable,
    Running {
        cpu: CpuId,
    },
    /// Waiting for I/O; it comes back with [`Wake::IoDone`].
    Blocked,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// CPU demand not yet met. Saturates at 0: a driver may charge more than `length` (a cold
    /// cache makes work), and a job with nothing left still runs until the driver says it
    /// finished.
    remaining: Time,
    affinity: u64,
    /// Enqueue order, the tie-break between equal remaining demands; kept while the job is
    /// preempted or expired, renewed when it wakes from I/O.
    seq: u64,
    state: State,
}

impl Entry {
    fn key(&self, id: JobId) -> (Time, u64, JobId) {
        (self.remaining, self.seq, id)
    }

    fn allows(&self, cpu: CpuId) -> bool {
        self.affinity == 0 || (cpu < 64 && self.affinity & (1 << cpu) != 0)
    }
}

/// The state both policies share: every known job, and the runnable ones shortest first.
#[derive(Debug, Clone, Default)]
struct ShortestFirst {
    jobs: BTreeMap<JobId, Entry>,
    /// (remaining, seq, job) of each runnable job: the first allowed on a CPU runs there next.
    runnable: BTreeSet<(Time, u64, JobId)>,
    seq_next: u64,
}

impl ShortestFirst {
    fn enqueue(&mut self, job: &Job, wake: Wake) {
        let seq = self.seq_next;
        self.seq_next += 1;
        let entry = match self.jobs.get_mut(&job.id) {
            Some(e) => {
                // Contract 1: never enqueued twice without a pick in between.
                debug_assert_eq!(e.state, State::Blocked, "job {} enqueued twice", job.id);
                debug_assert_eq!(wake, Wake::IoDone, "job {} arrived twice", job.id);
                e.state = State::Runnable;
                e.seq = seq;
                e.affinity = job.affinity;
                *e
            }
            None => {
                // A new job, or one stolen from another policy (whose history is lost).
                let e = Entry {
                    remaining: job.length,
                    affinity: job.affinity,
                    seq,
                    state: State::Runnable,
                };
                self.jobs.insert(job.id, e);
                e
            }
        };
        let inserted = self.runnable.insert(entry.key(job.id));
        debug_assert!(inserted);
        self.check();
    }

    /// The shortest runnable job allowed on `cpu` (ties: earliest enqueued), if any.
    fn shortest(&self, cpu: CpuId) -> Option<(Time, u64, JobId)> {
        self.runnable
            .iter()
            .find(|&&(_, _, id)| self.jobs[&id].allows(cpu))
            .copied()
    }

    fn pick(&mut self, cpu: CpuId) -> Option<Dispatch> {
        let key = self.shortest(cpu)?;
        let removed = self.runnable.remove(&key);
        debug_assert!(removed);
        let e = self.jobs.get_mut(&key.2).expect("a runnable job is known");
        debug_assert_eq!(e.state, State::Runnable);
        debug_assert!(e.allows(cpu));
        e.state = State::Running { cpu };
        self.check();
        Some(Dispatch {
            job: key.2,
            slice: None,
        })
    }

    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, stop: Stop) {
        let Some(e) = self.jobs.get_mut(&job.id) else {
            debug_assert!(false, "job {} stopped but was never picked", job.id);
            return;
        };
        debug_assert_eq!(e.state, State::Running { cpu }, "job {} stopped", job.id);
        e.remaining = e.remaining.saturating_sub(ran);
        match stop {
            Stop::Finished => {
                debug_assert_eq!(
                    e.remaining, 0,
                    "job {} finished short of its length",
                    job.id
                );
                self.jobs.remove(&job.id);
            }
            Stop::Blocked => e.state = State::Blocked,
            Stop::Expired | Stop::Preempted => {
                // Contract 2: still runnable, and the policy keeps it (same seq: it was
                // enqueued no later than it was).
                e.state = State::Runnable;
                let key = e.key(job.id);
                let inserted = self.runnable.insert(key);
                debug_assert!(inserted);
            }
        }
        self.check();
    }

    /// STCF's test: does a runnable job allowed on `cpu` need strictly less than `running`,
    /// which has run `ran` of its current dispatch?
    fn shorter_waiting(&self, running: &Job, cpu: CpuId, ran: Time) -> bool {
        let Some(e) = self.jobs.get(&running.id) else {
            debug_assert!(false, "job {} is running but unknown", running.id);
            return false;
        };
        debug_assert_eq!(e.state, State::Running { cpu });
        let left = e.remaining.saturating_sub(ran);
        self.shortest(cpu).is_some_and(|(r, _, _)| r < left)
    }

    /// Gives up the longest runnable job allowed on `cpu` (ties: the latest enqueued): the one
    /// this CPU would run last.
    fn steal(&mut self, cpu: CpuId) -> Option<JobId> {
        let key = self
            .runnable
            .iter()
            .rev()
            .find(|&&(_, _, id)| self.jobs[&id].allows(cpu))
            .copied()?;
        self.runnable.remove(&key);
        let e = self.jobs.remove(&key.2);
        debug_assert!(e.is_some_and(|e| e.state == State::Runnable));
        self.check();
        Some(key.2)
    }

    /// Cheap invariants, after every change.
    fn check(&self) {
        debug_assert!(self.runnable.len() <= self.jobs.len());
        debug_assert!(
            self.runnable
                .last()
                .is_none_or(|&(_, seq, _)| seq < self.seq_next)
        );
    }
}

/// Shortest job first (OSTEP §7.4): the runnable job with the least remaining CPU demand runs,
/// until it blocks or finishes (no slice, no preemption). Ties go to the earlier enqueued.
#[derive(Debug, Clone, Default)]
pub struct Sjf {
    inner: ShortestFirst,
}

impl Sjf {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Policy for Sjf {
    fn name(&self) -> &'static str {
        "sjf"
    }

    fn enqueue(&mut self, job: &Job, _now: Time, wake: Wake) {
        self.inner.enqueue(job, wake);
    }

    fn pick(&mut self, cpu: CpuId, _now: Time) -> Option<Dispatch> {
        self.inner.pick(cpu)
    }

    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, _now: Time, stop: Stop) {
        self.inner.stopped(job, cpu, ran, stop);
    }

    fn runnable(&self) -> usize {
        self.inner.runnable.len()
    }

    fn steal(&mut self, cpu: CpuId, _now: Time) -> Option<JobId> {
        self.inner.steal(cpu)
    }
}

/// Shortest time to completion first (OSTEP §7.5): SJF, and when a job becomes runnable
/// needing strictly less than what the running job has left, the running job is preempted
/// (and stays runnable with what it has left).
#[derive(Debug, Clone, Default)]
pub struct Stcf {
    inner: ShortestFirst,
}

impl Stcf {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Policy for Stcf {
    fn name(&self) -> &'static str {
        "stcf"
    }

    fn enqueue(&mut self, job: &Job, _now: Time, wake: Wake) {
        self.inner.enqueue(job, wake);
    }

    fn pick(&mut self, cpu: CpuId, _now: Time) -> Option<Dispatch> {
        self.inner.pick(cpu)
    }

    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, _now: Time, stop: Stop) {
        self.inner.stopped(job, cpu, ran, stop);
    }

    fn preempt(&mut self, running: &Job, cpu: CpuId, ran: Time, _now: Time) -> bool {
        self.inner.shorter_waiting(running, cpu, ran)
    }

    fn runnable(&self) -> usize {
        self.inner.runnable.len()
    }

    fn steal(&mut self, cpu: CpuId, _now: Time) -> Option<JobId> {
        self.inner.steal(cpu)
    }
}

/// A one-CPU driver for unit tests of any policy, written to the crate's contract and nothing
/// more (no context switches, no caches), so that schedules can be worked out by hand.
#[cfg(test)]
pub(crate) mod testing {
    use alloc::collections::{BTreeMap, BTreeSet};
    use alloc::vec::Vec;

    use crate::{Job, JobId, Policy, Stop, Time, Wake};

    /// A job and its bursts: CPU, I/O, CPU, ... (even places CPU, odd places I/O), ending with
    /// CPU. `job.length` is the sum of the CPU bursts.
    #[derive(Debug, Clone)]
    pub(crate) struct Spec {
        pub job: Job,
        pub bursts: Vec<Time>,
    }

    impl Spec {
        pub fn cpu(id: JobId, arrival: Time, length: Time) -> Self {
            Spec {
                job: Job::new(id, arrival, length),
                bursts: alloc::vec![length],
            }
        }

        pub fn bursts(id: JobId, arrival: Time, bursts: &[Time]) -> Self {
            assert!(bursts.len() % 2 == 1, "bursts end with CPU");
            let length = bursts.iter().step_by(2).sum();
            Spec {
                job: Job::new(id, arrival, length),
                bursts: bursts.to_vec(),
            }
        }
    }

    /// One dispatch: the job, the `tag` the caller computed when it was picked, when it ran,
    /// and why it stopped.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Seg {
        pub job: JobId,
        pub tag: usize,
        pub start: Time,
        pub end: Time,
        pub stop: Stop,
    }

    #[derive(Debug, Clone, Default)]
    pub(crate) struct Trace {
        pub segs: Vec<Seg>,
        pub arrival: BTreeMap<JobId, Time>,
        pub first_run: BTreeMap<JobId, Time>,
        pub finish: BTreeMap<JobId, Time>,
    }

    impl Trace {
        /// (job, start, end) of every dispatch.
        pub fn schedule(&self) -> Vec<(JobId, Time, Time)> {
            self.segs.iter().map(|s| (s.job, s.start, s.end)).collect()
        }

        pub fn turnaround(&self, job: JobId) -> Time {
            self.finish[&job] - self.arrival[&job]
        }

        pub fn response(&self, job: JobId) -> Time {
            self.first_run[&job] - self.arrival[&job]
        }

        pub fn turnaround_avg(&self) -> f64 {
            let sum: Time = self.arrival.keys().map(|&j| self.turnaround(j)).sum();
            sum as f64 / self.arrival.len() as f64
        }

        pub fn response_avg(&self) -> f64 {
            let sum: Time = self.arrival.keys().map(|&j| self.response(j)).sum();
            sum as f64 / self.arrival.len() as f64
        }

        /// CPU time `job` got in `from..to`.
        pub fn cpu_in(&self, job: JobId, from: Time, to: Time) -> Time {
            self.segs
                .iter()
                .filter(|s| s.job == job)
                .map(|s| s.end.min(to).saturating_sub(s.start.max(from)))
                .sum()
        }
    }

    const STEPS_MAX: usize = 100_000;

    struct Running {
        at: usize,
        start: Time,
        /// The end of its burst or of its slice, whichever is first.
        stop: Time,
        tag: usize,
    }

    /// Asks `preempt` about the running job, if there is one, and stops it if the policy says so.
    fn preempt<P: Policy>(
        p: &mut P,
        specs: &[Spec],
        running: &mut Option<Running>,
        progress: &mut [(usize, Time)],
        trace: &mut Trace,
        now: Time,
    ) {
        let Some(r) = running.as_ref() else { return };
        let ran = now - r.start;
        if !p.preempt(&specs[r.at].job, 0, ran, now) {
            return;
        }
        let r = running.take().expect("checked above");
        progress[r.at].1 -= ran;
        if ran > 0 {
            trace.segs.push(Seg {
                job: specs[r.at].job.id,
                tag: r.tag,
                start: r.start,
                end: now,
                stop: Stop::Preempted,
            });
        }
        p.stopped(&specs[r.at].job, 0, ran, now, Stop::Preempted);
    }

    /// Runs `specs` on CPU 0 until all finish. At each instant, in order: I/O completions
    /// then arrivals (by job id) are enqueued, each followed by `preempt` for the running job
    /// (unless it stops at this instant anyway); the running job stops if its burst or slice
    /// ends now; the policy's timer runs if due, followed by `preempt` for the running job; an
    /// idle CPU picks. `tag` is called at each pick, to record something of the policy's
    /// (MLFQ's level).
    pub(crate) fn run<P: Policy>(
        p: &mut P,
        specs: &[Spec],
        mut tag: impl FnMut(&P, JobId) -> usize,
    ) -> Trace {
        let mut trace = Trace::default();
        let mut arrivals: BTreeSet<(Time, JobId, usize)> = BTreeSet::new();
        for (at, s) in specs.iter().enumerate() {
            arrivals.insert((s.job.arrival, s.job.id, at));
            trace.arrival.insert(s.job.id, s.job.arrival);
        }
        let mut io: BTreeSet<(Time, JobId, usize)> = BTreeSet::new();
        // Per job: the burst in progress and what is left of it.
        let mut progress: Vec<(usize, Time)> = specs.iter().map(|s| (0, s.bursts[0])).collect();
        let mut running: Option<Running> = None;
        let mut now: Time = 0;
        for _ in 0..STEPS_MAX {
            if trace.finish.len() == specs.len() {
                return trace;
            }
            let next = [
                arrivals.first().map(|a| a.0),
                io.first().map(|a| a.0),
                running.as_ref().map(|r| r.stop),
                p.wake_at(),
            ]
            .into_iter()
            .flatten()
            .min()
            .expect("nothing left to happen, but jobs are unfinished");
            assert!(next >= now, "time went back: {next} < {now}");
            now = next;
            // 1. I/O completions, then arrivals.
            let mut woken = Vec::new();
            while io.first().is_some_and(|a| a.0 == now) {
                let (_, _, at) = io.pop_first().unwrap();
                woken.push((at, Wake::IoDone));
            }
            while arrivals.first().is_some_and(|a| a.0 == now) {
                let (_, _, at) = arrivals.pop_first().unwrap();
                woken.push((at, Wake::Arrived));
            }
            for (at, wake) in woken {
                p.enqueue(&specs[at].job, now, wake);
                if running.as_ref().is_some_and(|r| r.stop > now) {
                    preempt(p, specs, &mut running, &mut progress, &mut trace, now);
                }
            }
            // 2. The running job's burst or slice ends.
            if let Some(r) = running.take_if(|r| r.stop == now) {
                let s = &specs[r.at];
                let ran = now - r.start;
                let (burst, left) = &mut progress[r.at];
                *left -= ran;
                let stop = if *left > 0 {
                    Stop::Expired
                } else if *burst + 1 == s.bursts.len() {
                    trace.finish.insert(s.job.id, now);
                    Stop::Finished
                } else {
                    io.insert((now + s.bursts[*burst + 1], s.job.id, r.at));
                    *burst += 2;
                    *left = s.bursts[*burst];
                    Stop::Blocked
                };
                trace.segs.push(Seg {
                    job: s.job.id,
                    tag: r.tag,
                    start: r.start,
                    end: now,
                    stop,
                });
                p.stopped(&s.job, 0, ran, now, stop);
            }
            // 3. The policy's timer, and then `preempt` for the running job.
            if p.wake_at().is_some_and(|t| t <= now) {
                p.timer(now);
                preempt(p, specs, &mut running, &mut progress, &mut trace, now);
            }
            // 4. An idle CPU picks.
            if running.is_none() {
                match p.pick(0, now) {
                    Some(d) => {
                        let at = specs
                            .iter()
                            .position(|s| s.job.id == d.job)
                            .expect("the policy picks a known job");
                        let left = progress[at].1;
                        let run = d.slice.map_or(left, |s| s.min(left));
                        assert!(run > 0, "a dispatch of no time");
                        trace.first_run.entry(d.job).or_insert(now);
                        running = Some(Running {
                            at,
                            start: now,
                            stop: now + run,
                            tag: tag(p, d.job),
                        });
                    }
                    None => assert_eq!(p.runnable(), 0, "idle with runnable jobs"),
                }
            }
        }
        panic!("more than {STEPS_MAX} steps");
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Spec, run};
    use super::*;
    use crate::Fifo;
    use crate::machine::{Machine, MachineConfig};
    use alloc::vec;
    use alloc::vec::Vec;

    const A: JobId = 1;
    const B: JobId = 2;
    const C: JobId = 3;

    fn untagged<P>(_: &P, _: JobId) -> usize {
        0
    }

    /// OSTEP figures 7.2 and 7.3: A=100, B=10, C=10, all at 0.
    fn one_long_two_short_at_once() -> Vec<Spec> {
        vec![
            Spec::cpu(A, 0, 100),
            Spec::cpu(B, 0, 10),
            Spec::cpu(C, 0, 10),
        ]
    }

    /// OSTEP figures 7.4 and 7.5: A=100 at 0, B=10 and C=10 at 10.
    fn short_ones_arrive_late() -> Vec<Spec> {
        vec![
            Spec::cpu(A, 0, 100),
            Spec::cpu(B, 10, 10),
            Spec::cpu(C, 10, 10),
        ]
    }

    #[test]
    fn fifo_convoy_then_sjf_runs_the_short_jobs_first() {
        let jobs = one_long_two_short_at_once();
        let fifo = run(&mut Fifo::new(), &jobs, untagged);
        assert_eq!(fifo.schedule(), [(A, 0, 100), (B, 100, 110), (C, 110, 120)]);
        assert_eq!(fifo.turnaround_avg(), 110.0);

        let sjf = run(&mut Sjf::new(), &jobs, untagged);
        assert_eq!(sjf.schedule(), [(B, 0, 10), (C, 10, 20), (A, 20, 120)]);
        assert_eq!(sjf.turnaround_avg(), 50.0);
        assert!(sjf.segs.iter().all(|s| s.stop == Stop::Finished));
    }

    #[test]
    fn sjf_cannot_help_short_jobs_that_arrive_after_a_long_one_starts() {
        let sjf = run(&mut Sjf::new(), &short_ones_arrive_late(), untagged);
        assert_eq!(sjf.schedule(), [(A, 0, 100), (B, 100, 110), (C, 110, 120)]);
        // Turnarounds 100, 100, 110.
        assert_eq!(sjf.turnaround_avg(), 310.0 / 3.0);
        assert!((sjf.turnaround_avg() - 103.333).abs() < 0.001);
    }

    #[test]
    fn stcf_preempts_the_long_job_when_short_ones_arrive() {
        let stcf = run(&mut Stcf::new(), &short_ones_arrive_late(), untagged);
        assert_eq!(
            stcf.schedule(),
            [(A, 0, 10), (B, 10, 20), (C, 20, 30), (A, 30, 120)]
        );
        assert_eq!(stcf.segs[0].stop, Stop::Preempted);
        // Turnarounds 120, 10, 20.
        assert_eq!(stcf.turnaround_avg(), 50.0);
        // Responses 0, 0, 10.
        assert_eq!(
            (stcf.response(A), stcf.response(B), stcf.response(C)),
            (0, 0, 10)
        );
        assert_eq!(stcf.response_avg(), 10.0 / 3.0);
    }

    #[test]
    fn stcf_preempts_only_for_strictly_less_remaining() {
        let mut p = Stcf::new();
        let a = Job::new(A, 0, 30);
        let b = Job::new(B, 10, 20);
        let c = Job::new(C, 10, 19);
        p.enqueue(&a, 0, Wake::Arrived);
        assert_eq!(p.pick(0, 0).map(|d| d.job), Some(A));
        p.enqueue(&b, 10, Wake::Arrived);
        assert!(!p.preempt(&a, 0, 10, 10), "A has 30 - 10 = 20 left: a tie");
        p.enqueue(&c, 10, Wake::Arrived);
        assert!(p.preempt(&a, 0, 10, 10), "19 < 20");
        // Preempted, A keeps its progress and its place in enqueue order.
        p.stopped(&a, 0, 10, 10, Stop::Preempted);
        assert_eq!(p.runnable(), 3);
        let order: Vec<JobId> = core::iter::from_fn(|| p.pick(0, 10).map(|d| d.job)).collect();
        assert_eq!(order, [C, A, B], "A and B tie at 20; A was enqueued first");
    }

    #[test]
    fn remaining_demand_counts_cpu_across_io() {
        // A: 30 CPU in all but blocks after 25; B: 10. After A's I/O, A has 5 left < B's 10.
        let jobs = vec![Spec::bursts(A, 0, &[25, 10, 5]), Spec::cpu(B, 1, 10)];
        let sjf = run(&mut Sjf::new(), &jobs, untagged);
        assert_eq!(sjf.schedule(), [(A, 0, 25), (B, 25, 35), (A, 35, 40)]);
        let stcf = run(&mut Stcf::new(), &jobs, untagged);
        // B arrives at 1 with 10 < A's 29: B runs; A blocks at 35, back at 45.
        assert_eq!(
            stcf.schedule(),
            [(A, 0, 1), (B, 1, 11), (A, 11, 35), (A, 45, 50)]
        );
    }

    #[test]
    fn affinity_and_stealing() {
        for p in [&mut Sjf::new() as &mut dyn Policy, &mut Stcf::new()] {
            let mut long = Job::new(A, 0, 100);
            long.affinity = 0b10; // CPU 1 only
            let mid = Job::new(B, 0, 50);
            let short = Job::new(C, 0, 10);
            for j in [&long, &mid, &short] {
                p.enqueue(j, 0, Wake::Arrived);
            }
            assert_eq!(p.runnable(), 3);
            // A thief on CPU 0 takes the longest it may run: B, not A.
            assert_eq!(p.steal(0, 0), Some(B));
            assert_eq!(p.pick(0, 0).map(|d| d.job), Some(C));
            assert_eq!(p.pick(0, 0), None, "A may not run on CPU 0");
            assert_eq!(p.runnable(), 1);
            assert_eq!(p.steal(1, 0), Some(A));
            assert_eq!(p.runnable(), 0);
            p.stopped(&short, 0, 10, 10, Stop::Finished);
        }
    }

    #[test]
    fn ties_go_to_the_earlier_enqueued() {
        let mut p = Sjf::new();
        for id in [5, 3, 4] {
            p.enqueue(&Job::new(id, 0, 10), 0, Wake::Arrived);
        }
        let order: Vec<JobId> = core::iter::from_fn(|| p.pick(0, 0).map(|d| d.job)).collect();
        assert_eq!(order, [5, 3, 4]);
    }

    fn schedule<P: Policy>(m: &Machine<P>) -> Vec<(JobId, Time, Time)> {
        m.segments()
            .iter()
            .map(|s| (s.job, s.start, s.end))
            .collect()
    }

    #[test]
    fn through_the_machine() {
        // The crate's driver, jobs numbered 0, 1, 2: OSTEP figure 7.5 again.
        let jobs = || {
            vec![
                crate::machine::JobSpec::cpu(0, 100),
                crate::machine::JobSpec::cpu(10, 10),
                crate::machine::JobSpec::cpu(10, 10),
            ]
        };
        let config = MachineConfig {
            cpus: 1,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(Sjf::new(), config, jobs()).unwrap();
        m.run_to_end();
        assert_eq!(schedule(&m), [(0, 0, 100), (1, 100, 110), (2, 110, 120)]);
        assert_eq!(m.summary().turnaround, 310.0 / 3.0);
        let mut m = Machine::new(Stcf::new(), config, jobs()).unwrap();
        m.run_to_end();
        assert_eq!(
            schedule(&m),
            [(0, 0, 10), (1, 10, 20), (2, 20, 30), (0, 30, 120)]
        );
        assert_eq!(m.summary().turnaround, 50.0);
    }
}

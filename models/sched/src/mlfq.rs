//! The multi-level feedback queue of *Operating Systems: Three Easy Pieces* (ch. 8): priority
//! levels, each a round-robin queue with its own quantum, where a job's level is learnt from
//! how it used the CPU. Level 0 is the top (highest priority).
//!
//! The rules, as OSTEP numbers them:
//! - **Rule 1**: if Priority(A) > Priority(B), A runs (B doesn't): [`Policy::pick`] takes from
//!   the highest non-empty queue, and [`Policy::preempt`] takes the CPU from a job when one in
//!   a strictly higher queue becomes runnable.
//! - **Rule 2**: if Priority(A) = Priority(B), A and B run in round robin with the level's
//!   quantum: an expired job goes to the back of its queue.
//! - **Rule 3**: a job that enters the system goes to the top queue.
//! - **Rule 4** (with `io_resets_allotment: false`): once a job has used up its allotment at a
//!   level, however many times it gave up the CPU, it moves down one level (the bottom level
//!   keeps it, with a fresh allotment). A slice is never longer than the allotment left.
//! - **Rules 4a and 4b** (with `io_resets_allotment: true`, the first version of the rules):
//!   a job that uses up its allotment while running moves down (4a); a job that gives up the
//!   CPU before that (it blocks for I/O) stays at its level with a fresh allotment (4b). With
//!   the allotment equal to the quantum this is OSTEP's "uses up an entire time slice". A job
//!   can game it by blocking just before its slice ends, and so stay at the top for ever.
//! - **Rule 5**: every `boost_period` S, all jobs in the system move to the top queue with
//!   fresh allotments, so that long jobs are not starved and a job whose behaviour changed is
//!   judged again. Boosts fall at the multiples of S, through [`Policy::wake_at`] and
//!   [`Policy::timer`]. *All* jobs includes the one running: from the boost on it is at the
//!   top with a fresh allotment and a fresh top-level slice, as in OSTEP's `mlfq.py` (which
//!   resets every job's level, ticks left and allotment at a boost). The driver asks
//!   [`Policy::preempt`] right after the timer; for a job that was running at the boost the
//!   answer is yes: it goes back to the front of the top queue, charged nothing, and is
//!   picked again at once with a slice of the top level. Its old level's longer slice does not
//!   run on.
//!
//! Not in OSTEP's rules, and chosen here: a job preempted by a higher-priority one goes back
//! to the *front* of its queue (its turn was interrupted, not over), charged the CPU time it
//! had; a job stolen by another CPU's policy takes none of its history with it. At a boost the
//! queued jobs keep their order, higher levels first, behind the running ones (`mlfq.py`
//! appends the lowest level's first, an accident of its loop).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};

/// At most this many priority levels.
pub const LEVELS_MAX: usize = 64;

/// One priority level's parameters (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// The longest a job at this level runs at a time (rule 2's time slice).
    pub quantum: Time,
    /// The CPU time a job may use at this level before it moves down (rule 4).
    pub allotment: Time,
}

/// MLFQ's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlfqConfig {
    /// The levels, top (highest priority) first: 1 to [`LEVELS_MAX`].
    pub levels: Vec<Level>,
    /// Rule 5's period S; `None`: no boost.
    pub boost_period: Option<Time>,
    /// `true`: rules 4a/4b (gameable); `false`: rule 4 (allotment kept across I/O).
    pub io_resets_allotment: bool,
}

impl MlfqConfig {
    /// `levels` levels, the top one with `quantum` and `allotment`, each lower one with both
    /// `factor` times those of the level above (OSTEP's longer slices for lower queues), no
    /// boost, rule 4. A factor of 0 is taken as 1; products saturate.
    pub fn geometric(levels: usize, quantum: Time, allotment: Time, factor: u64) -> Self {
        let factor = factor.max(1);
        let mut at = Level { quantum, allotment };
        let mut v = Vec::with_capacity(levels);
        for _ in 0..levels {
            v.push(at);
            at.quantum = at.quantum.saturating_mul(factor);
            at.allotment = at.allotment.saturating_mul(factor);
        }
        MlfqConfig {
            levels: v,
            boost_period: None,
            io_resets_allotment: false,
        }
    }

    /// What is wrong with it, if anything.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.levels.is_empty() || self.levels.len() > LEVELS_MAX {
            return Err("MLFQ needs 1 to 64 levels");
        }
        if self.levels.iter().any(|l| l.quantum == 0) {
            return Err("an MLFQ quantum must be positive");
        }
        if self.levels.iter().any(|l| l.allotment == 0) {
            return Err("an MLFQ allotment must be positive");
        }
        if self.boost_period == Some(0) {
            return Err("MLFQ's boost period must be positive");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Runnable,
    /// `boosted`: when rule 5 moved it up while it ran, if it did: its slice is of its old
    /// level, so [`Policy::preempt`] ends it, and only CPU time after the boost counts
    /// against its new allotment (all of it, when the driver preempts at the boost itself).
    Running {
        cpu: CpuId,
        boosted: Option<Time>,
    },
    Blocked,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    level: usize,
    /// Allotment used at `level`; always below the level's allotment.
    used: Time,
    affinity: u64,
    state: State,
}

fn allows(affinity: u64, cpu: CpuId) -> bool {
    affinity == 0 || (cpu < 64 && affinity & (1 << cpu) != 0)
}

/// The multi-level feedback queue. See the module docs for its rules.
#[derive(Debug, Clone)]
pub struct Mlfq {
    levels: Vec<Level>,
    boost_period: Option<Time>,
    io_resets_allotment: bool,
    /// Runnable jobs, one queue per level, each job with its affinity.
    queues: Vec<VecDeque<(JobId, u64)>>,
    /// Every job in the system: runnable, running or blocked.
    jobs: BTreeMap<JobId, Entry>,
    /// The next boost (meaningful with a boost period).
    boost_next: Time,
}

impl Mlfq {
    /// Panics if the configuration is invalid ([`MlfqConfig::check`]).
    pub fn new(config: MlfqConfig) -> Self {
        if let Err(e) = config.check() {
            panic!("{e}");
        }
        Mlfq {
            queues: alloc::vec![VecDeque::new(); config.levels.len()],
            boost_next: config.boost_period.unwrap_or(0),
            levels: config.levels,
            boost_period: config.boost_period,
            io_resets_allotment: config.io_resets_allotment,
            jobs: BTreeMap::new(),
        }
    }

    /// The level `job` is at (0 is the top), if the policy knows it.
    pub fn level(&self, job: JobId) -> Option<usize> {
        self.jobs.get(&job).map(|e| e.level)
    }

    fn bottom(&self) -> usize {
        self.levels.len() - 1
    }

    /// The highest level with a runnable job allowed on `cpu`, and the job's place there.
    fn first_allowed(&self, cpu: CpuId) -> Option<(usize, usize)> {
        self.queues.iter().enumerate().find_map(|(level, q)| {
            q.iter()
                .position(|&(_, mask)| allows(mask, cpu))
                .map(|i| (level, i))
        })
    }

    /// The boost after `now`: the next multiple of the period.
    fn boost_after(&self, now: Time) -> Time {
        let s = self.boost_period.unwrap_or(Time::MAX).max(1);
        (now / s).saturating_add(1).saturating_mul(s)
    }

    /// Cheap invariants, after every change.
    fn check(&self) {
        debug_assert_eq!(self.queues.len(), self.levels.len());
        debug_assert!(self.runnable() <= self.jobs.len());
    }
}

impl Policy for Mlfq {
    fn name(&self) -> &'static str {
        "mlfq"
    }

    fn enqueue(&mut self, job: &Job, now: Time, wake: Wake) {
        if self.boost_period.is_some() && self.jobs.is_empty() && self.boost_next <= now {
            // No job was in the system to boost: boosts resume on the grid from here.
            self.boost_next = self.boost_after(now);
        }
        let level = match self.jobs.get_mut(&job.id) {
            Some(e) => {
                // Contract 1: never enqueued twice without a pick in between.
                debug_assert_eq!(e.state, State::Blocked, "job {} enqueued twice", job.id);
                debug_assert_eq!(wake, Wake::IoDone, "job {} arrived twice", job.id);
                e.state = State::Runnable;
                e.affinity = job.affinity;
                e.level
            }
            None => {
                // Rule 3: a new job (or one stolen from elsewhere) starts at the top.
                self.jobs.insert(
                    job.id,
                    Entry {
                        level: 0,
                        used: 0,
                        affinity: job.affinity,
                        state: State::Runnable,
                    },
                );
                0
            }
        };
        // Rule 2: the back of its level's queue.
        self.queues[level].push_back((job.id, job.affinity));
        self.check();
    }

    fn pick(&mut self, cpu: CpuId, _now: Time) -> Option<Dispatch> {
        // Rule 1: the highest non-empty queue, first job allowed on this CPU.
        let (level, i) = self.first_allowed(cpu)?;
        let (id, _) = self.queues[level].remove(i).expect("found above");
        let e = self.jobs.get_mut(&id).expect("a queued job is known");
        debug_assert_eq!(e.state, State::Runnable);
        debug_assert_eq!(e.level, level);
        let l = self.levels[level];
        debug_assert!(e.used < l.allotment, "job {id} should have moved down");
        e.state = State::Running { cpu, boosted: None };
        // Rule 4: a slice never runs past the allotment.
        let slice = l.quantum.min(l.allotment.saturating_sub(e.used)).max(1);
        self.check();
        Some(Dispatch {
            job: id,
            slice: Some(slice),
        })
    }

    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, now: Time, stop: Stop) {
        let bottom = self.bottom();
        let Some(e) = self.jobs.get_mut(&job.id) else {
            debug_assert!(false, "job {} stopped but was never picked", job.id);
            return;
        };
        let State::Running { cpu: on, boosted } = e.state else {
            debug_assert!(false, "job {} stopped but is not running", job.id);
            return;
        };
        debug_assert_eq!(on, cpu);
        if stop == Stop::Finished {
            self.jobs.remove(&job.id);
            self.check();
            return;
        }
        // CPU time since a boost during this run, if there was one (ran excludes the
        // driver's overhead, so this is exact unless the boost fell in a context switch).
        let charged = match boosted {
            Some(at) => ran.min(now.saturating_sub(at)),
            None => ran,
        };
        let allotment = self.levels[e.level].allotment;
        e.used = e.used.saturating_add(charged);
        let demoted = e.used >= allotment;
        if demoted {
            // Rule 4 (and 4a): the allotment is used up: down a level, fresh allotment.
            e.level = (e.level + 1).min(bottom);
            e.used = 0;
        } else if stop == Stop::Blocked && self.io_resets_allotment {
            // Rule 4b: gave up the CPU before its allotment ran out: same level, afresh.
            e.used = 0;
        }
        debug_assert!(e.used < self.levels[e.level].allotment);
        match stop {
            Stop::Blocked => e.state = State::Blocked,
            Stop::Expired => {
                // Rule 2: round robin, to the back.
                e.state = State::Runnable;
                self.queues[e.level].push_back((job.id, e.affinity));
            }
            Stop::Preempted => {
                e.state = State::Runnable;
                if demoted {
                    self.queues[e.level].push_back((job.id, e.affinity));
                } else {
                    // Its turn was interrupted: it resumes first at its level.
                    self.queues[e.level].push_front((job.id, e.affinity));
                }
            }
            Stop::Finished => unreachable!("handled above"),
        }
        self.check();
    }

    fn preempt(&mut self, running: &Job, cpu: CpuId, _ran: Time, _now: Time) -> bool {
        let Some(e) = self.jobs.get(&running.id) else {
            debug_assert!(false, "job {} is running but unknown", running.id);
            return false;
        };
        let State::Running { cpu: on, boosted } = e.state else {
            debug_assert!(false, "job {} is preempted but not running", running.id);
            return false;
        };
        debug_assert_eq!(on, cpu);
        // Rule 5: a boost while it ran ends its slice, of its old level; it gets a top-level
        // one. Rule 1: a job in a strictly higher queue that may run here.
        boosted.is_some()
            || self.queues[..e.level]
                .iter()
                .any(|q| q.iter().any(|&(_, mask)| allows(mask, cpu)))
    }

    fn wake_at(&self) -> Option<Time> {
        // No jobs, nothing to boost: no timer, so an idle machine can come to rest.
        self.boost_period
            .filter(|_| !self.jobs.is_empty())
            .map(|_| self.boost_next)
    }

    fn timer(&mut self, now: Time) {
        if self.boost_period.is_none() {
            return;
        }
        debug_assert!(now >= self.boost_next, "boost timer early: {now}");
        if now < self.boost_next {
            return;
        }
        // Rule 5: every job to the top queue, fresh allotments. Queued jobs keep their order,
        // higher levels first.
        let runnable_before = self.runnable();
        let mut top = core::mem::take(&mut self.queues[0]);
        for q in &mut self.queues[1..] {
            top.append(q);
        }
        self.queues[0] = top;
        for e in self.jobs.values_mut() {
            e.level = 0;
            e.used = 0;
            if let State::Running { boosted, .. } = &mut e.state {
                *boosted = Some(now);
            }
        }
        debug_assert_eq!(self.runnable(), runnable_before);
        self.boost_next = self.boost_after(now);
        debug_assert!(self.boost_next > now || self.boost_next == Time::MAX);
        self.check();
    }

    fn runnable(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    fn steal(&mut self, cpu: CpuId, _now: Time) -> Option<JobId> {
        // The lowest-priority job allowed on `cpu`: the last of the lowest queue that has one.
        let (level, i) = self
            .queues
            .iter()
            .enumerate()
            .rev()
            .find_map(|(level, q)| {
                q.iter()
                    .rposition(|&(_, mask)| allows(mask, cpu))
                    .map(|i| (level, i))
            })?;
        let (id, _) = self.queues[level].remove(i).expect("found above");
        let e = self.jobs.remove(&id);
        debug_assert!(e.is_some_and(|e| e.state == State::Runnable));
        self.check();
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{JobSpec, Machine, MachineConfig};
    use crate::oracle::testing::{Spec, Trace, run};
    use alloc::vec;

    const A: JobId = 1;
    const B: JobId = 2;
    const C: JobId = 3;

    /// Quanta 10, 20, 40; allotments 10, 40, 40.
    fn three_levels() -> MlfqConfig {
        MlfqConfig {
            levels: vec![
                Level {
                    quantum: 10,
                    allotment: 10,
                },
                Level {
                    quantum: 20,
                    allotment: 40,
                },
                Level {
                    quantum: 40,
                    allotment: 40,
                },
            ],
            boost_period: None,
            io_resets_allotment: false,
        }
    }

    fn level_of(p: &Mlfq, job: JobId) -> usize {
        p.level(job).expect("a picked job is known")
    }

    /// (job, level, start, end) of each dispatch.
    fn levels(t: &Trace) -> Vec<(JobId, usize, Time, Time)> {
        t.segs
            .iter()
            .map(|s| (s.job, s.tag, s.start, s.end))
            .collect()
    }

    /// `n` rounds of `cpu` then `io`, ending with CPU.
    fn interactive(id: JobId, arrival: Time, n: usize, cpu: Time, io: Time) -> Spec {
        let mut bursts = Vec::new();
        for k in 0..n {
            bursts.push(cpu);
            if k + 1 < n {
                bursts.push(io);
            }
        }
        Spec::bursts(id, arrival, &bursts)
    }

    #[test]
    fn a_long_job_alone_sinks_level_by_level() {
        // Rules 3 and 4: top for 10 (its allotment), level 1 for 40 in slices of 20, then the
        // bottom in slices of 40 for good.
        let t = run(
            &mut Mlfq::new(three_levels()),
            &[Spec::cpu(A, 0, 200)],
            level_of,
        );
        assert_eq!(
            levels(&t),
            [
                (A, 0, 0, 10),
                (A, 1, 10, 30),
                (A, 1, 30, 50),
                (A, 2, 50, 90),
                (A, 2, 90, 130),
                (A, 2, 130, 170),
                (A, 2, 170, 200),
            ]
        );
    }

    #[test]
    fn a_short_job_arriving_later_runs_at_once_at_the_top() {
        // OSTEP figure 8.3 (left): B arrives at 60 while A runs at the bottom; rule 1 preempts
        // A, B runs at the top and finishes; A resumes with what is left of its allotment.
        let jobs = [Spec::cpu(A, 0, 200), Spec::cpu(B, 60, 5)];
        let t = run(&mut Mlfq::new(three_levels()), &jobs, level_of);
        assert_eq!(
            levels(&t),
            [
                (A, 0, 0, 10),
                (A, 1, 10, 30),
                (A, 1, 30, 50),
                (A, 2, 50, 60),
                (B, 0, 60, 65),
                (A, 2, 65, 95),
                (A, 2, 95, 135),
                (A, 2, 135, 175),
                (A, 2, 175, 205),
            ]
        );
        assert_eq!(t.segs[3].stop, Stop::Preempted);
        assert_eq!((t.response(B), t.turnaround(B)), (0, 5));
    }

    /// A long job and two interactive ones (5 CPU, 5 I/O, 60 times) that between them keep
    /// the top queue busy, under rules 4a/4b so that they stay there.
    fn starvation(boost_period: Option<Time>) -> Trace {
        let mut config = MlfqConfig::geometric(3, 10, 10, 2);
        config.boost_period = boost_period;
        config.io_resets_allotment = true;
        let jobs = [
            Spec::cpu(A, 0, 50),
            interactive(B, 0, 60, 5, 5),
            interactive(C, 0, 60, 5, 5),
        ];
        run(&mut Mlfq::new(config), &jobs, level_of)
    }

    #[test]
    fn without_boosts_the_long_job_starves() {
        // OSTEP figure 8.5 (left): A gets its first slice, then nothing until B and C finish.
        let t = starvation(None);
        let a: Vec<_> = levels(&t).into_iter().filter(|s| s.0 == A).collect();
        assert_eq!(a, [(A, 0, 0, 10), (A, 1, 610, 630), (A, 2, 630, 650)]);
        assert_eq!(t.finish[&B], 605);
        assert_eq!(t.finish[&C], 610);
    }

    #[test]
    fn boosts_give_the_long_job_the_cpu_once_per_period() {
        // OSTEP figure 8.5 (right), S = 100. At each boost A joins the top queue behind the
        // interactive job that is runnable then, and runs a top-level slice.
        let t = starvation(Some(100));
        let a: Vec<_> = levels(&t).into_iter().filter(|s| s.0 == A).collect();
        assert_eq!(
            a,
            [
                (A, 0, 0, 10),
                (A, 0, 105, 115),
                (A, 0, 205, 215),
                (A, 0, 305, 315),
                (A, 0, 405, 415),
            ]
        );
        for k in 0..5 {
            assert_eq!(t.cpu_in(A, k * 100, (k + 1) * 100), 10, "period {k}");
        }
        // The interactive jobs never left the top.
        assert!(t.segs.iter().filter(|s| s.job != A).all(|s| s.tag == 0));
    }

    /// A long job, and a gaming one (99 CPU, 1 I/O, 20 times) under a 100 ns quantum and
    /// allotment at every level.
    fn gaming(io_resets_allotment: bool) -> Trace {
        let mut config = MlfqConfig::geometric(3, 100, 100, 1);
        config.io_resets_allotment = io_resets_allotment;
        let jobs = [Spec::cpu(A, 0, 1000), interactive(B, 0, 20, 99, 1)];
        run(&mut Mlfq::new(config), &jobs, level_of)
    }

    #[test]
    fn rules_4a_and_4b_can_be_gamed() {
        // OSTEP figure 8.6 (left): B blocks 1 ns before its slice ends, keeps the top level
        // and a fresh allotment every time, and preempts A each time its I/O completes.
        let t = gaming(true);
        assert_eq!(
            levels(&t)[..5],
            [
                (A, 0, 0, 100),
                (B, 0, 100, 199),
                (A, 1, 199, 200),
                (B, 0, 200, 299),
                (A, 1, 299, 300),
            ]
        );
        assert!(t.segs.iter().filter(|s| s.job == B).all(|s| s.tag == 0));
        let end = t.finish[&B];
        assert_eq!(end, 2099);
        // Once A is down a level, B takes 99% of the CPU.
        assert_eq!(t.cpu_in(B, 100, end), 1980);
        assert_eq!(t.cpu_in(A, 100, end), 19);
    }

    #[test]
    fn rule_4_counts_the_allotment_across_io() {
        // OSTEP figure 8.6 (right): B's 99 + 1 use up its top allotment; it goes down like A.
        let t = gaming(false);
        assert_eq!(
            levels(&t)[..13],
            [
                (A, 0, 0, 100),
                (B, 0, 100, 199),
                (A, 1, 199, 200),
                // 99 + 1: B's top allotment is used up.
                (B, 0, 200, 201),
                (A, 1, 201, 300),
                // The rest of B's second burst (98), then I/O.
                (B, 1, 300, 398),
                (A, 2, 398, 399),
                (B, 1, 399, 401),
                (A, 2, 401, 500),
                (B, 2, 500, 597),
                // Both at the bottom: B's wake-up no longer preempts A.
                (A, 2, 597, 697),
                (B, 2, 697, 700),
                (A, 2, 700, 800),
            ]
        );
        // At the bottom, until A finishes, B no longer takes most of the CPU: each time it
        // blocks it goes behind A, and A's turns are full quanta (A 100, B 97, A 100, B 3).
        let end = t.finish[&A];
        let (a, b) = (t.cpu_in(A, 500, end), t.cpu_in(B, 500, end));
        assert_eq!((end, a, b), (1594, 700, 394));
        assert!(a > b);
    }

    #[test]
    fn a_boost_gives_the_running_job_a_fresh_top_level_slice() {
        // Worked by hand from OSTEP's rules. A sinks: 10 at the top, 2 x 20 at level 1, then
        // level 2's slice of 40 from 90. The boost at 100 moves A, running, to the top with a
        // fresh allotment and a fresh slice of 10: A runs 100-110 at the top and moves down.
        // B, which arrived at 105 at the top level, runs 110-115. A goes on at level 1 (2 x
        // 20), then level 2 from 155 (40); the next slice of 40 would run to 235, but A needs
        // 10 more and the boost at 200 cuts it to a top-level slice again: A ends at 205.
        // OSTEP's mlfq.py (`-Q 10,20,40 -A 1,2,1 -B 100 -l 0,200,0:105,5,0 -c`) gives the same
        // turnarounds, 205 and 10. Were A left on its level-2 slice until 130, B would end at
        // 135.
        let mut config = three_levels();
        config.boost_period = Some(100);
        let jobs = [Spec::cpu(A, 0, 200), Spec::cpu(B, 105, 5)];
        let t = run(&mut Mlfq::new(config), &jobs, level_of);
        assert_eq!(
            levels(&t),
            [
                (A, 0, 0, 10),
                (A, 1, 10, 30),
                (A, 1, 30, 50),
                (A, 2, 50, 90),
                (A, 2, 90, 100),
                (A, 0, 100, 110),
                (B, 0, 110, 115),
                (A, 1, 115, 135),
                (A, 1, 135, 155),
                (A, 2, 155, 195),
                (A, 2, 195, 200),
                (A, 0, 200, 205),
            ]
        );
        assert_eq!((t.finish[&A], t.finish[&B]), (205, 115));
        assert_eq!((t.response(B), t.turnaround(B)), (5, 10));
        assert_eq!(t.turnaround(A), 205);
    }

    #[test]
    fn a_boost_gives_the_running_job_a_fresh_slice_on_the_machine() {
        // The case above on the crate's driver (jobs numbered 0 and 1), where a switch costs 1:
        // the three switches (to A at 0, to B at 110, back to A at 116) delay everything after
        // them; the boosts at 100 and 200 cost none (A stays on its CPU).
        let jobs = vec![JobSpec::cpu(0, 200), JobSpec::cpu(105, 5)];
        let config = MachineConfig {
            cpus: 1,
            context_switch: 1,
            ..MachineConfig::default()
        };
        let mut policy = three_levels();
        policy.boost_period = Some(100);
        let mut m = Machine::new(Mlfq::new(policy), config, jobs).unwrap();
        assert_eq!(m.run_to_end(), 208);
        assert_eq!(
            schedule(&m),
            [
                (0, 1, 11),
                (0, 11, 31),
                (0, 31, 51),
                (0, 51, 91),
                (0, 91, 100),
                (0, 100, 110),
                (1, 111, 116),
                (0, 117, 137),
                (0, 137, 157),
                (0, 157, 197),
                (0, 197, 200),
                (0, 200, 208),
            ]
        );
        assert_eq!(m.job_stats(1).unwrap().completion, Some(116));
        assert_eq!(m.cpu_times().next(), Some((205, 3)));
    }

    #[test]
    fn a_boost_during_a_switch_lets_the_switch_finish() {
        // One level (quantum and allotment 10), a switch costs 4, a boost every 100: A and B
        // (50 each) alternate, each slice after a switch. The switch to B that starts at 98 is
        // under way at the boost: B is preempted before it ran and picked again at once, and
        // the switch goes on to 102 (it does not start over at 100).
        let config = MachineConfig {
            cpus: 1,
            context_switch: 4,
            ..MachineConfig::default()
        };
        let mut policy = MlfqConfig::geometric(1, 10, 10, 1);
        policy.boost_period = Some(100);
        let jobs = vec![JobSpec::cpu(0, 50), JobSpec::cpu(0, 50)];
        let mut m = Machine::new(Mlfq::new(policy), config, jobs).unwrap();
        assert_eq!(m.run_to_end(), 140);
        assert_eq!(
            schedule(&m)[6..],
            [(0, 88, 98), (1, 102, 112), (0, 116, 126), (1, 130, 140)]
        );
        assert_eq!(m.cpu_times().next(), Some((100, 40)), "ten whole switches");
    }

    fn schedule(m: &Machine<Mlfq>) -> Vec<(JobId, Time, Time)> {
        m.segments()
            .iter()
            .map(|s| (s.job, s.start, s.end))
            .collect()
    }

    #[test]
    fn a_boost_while_running_charges_only_the_time_after_it() {
        let mut config = three_levels();
        config.boost_period = Some(100);
        let mut p = Mlfq::new(config);
        let a = Job::new(A, 0, 1000);
        p.enqueue(&a, 0, Wake::Arrived);
        assert_eq!(p.wake_at(), Some(100));
        assert_eq!(p.pick(0, 0).unwrap().slice, Some(10));
        p.stopped(&a, 0, 10, 10, Stop::Expired);
        assert_eq!(p.level(A), Some(1));
        assert_eq!(p.pick(0, 95).unwrap().slice, Some(20));
        p.timer(100);
        assert_eq!(p.level(A), Some(0));
        assert_eq!(p.wake_at(), Some(200));
        // 20 ran, 15 of it after the boost: more than the top allotment of 10.
        p.stopped(&a, 0, 20, 115, Stop::Expired);
        assert_eq!(p.level(A), Some(1));
        // And 5 after it would not have been.
        assert_eq!(p.pick(0, 115).unwrap().slice, Some(20));
        p.timer(200);
        p.stopped(&a, 0, 20, 205, Stop::Blocked);
        assert_eq!(p.level(A), Some(0));
        assert_eq!(p.runnable(), 0);
        p.enqueue(&a, 210, Wake::IoDone);
        assert_eq!(
            p.pick(0, 210).unwrap().slice,
            Some(5),
            "10 - 5 left at the top"
        );
        p.stopped(&a, 0, 5, 215, Stop::Finished);
        assert_eq!(p.wake_at(), None, "no jobs, no timer");
        // Boosts resume on the grid of multiples of S.
        p.enqueue(&Job::new(B, 450, 10), 450, Wake::Arrived);
        assert_eq!(p.wake_at(), Some(500));
    }

    #[test]
    fn affinity_preemption_and_stealing() {
        let mut p = Mlfq::new(three_levels());
        let mut pinned = Job::new(A, 0, 100);
        pinned.affinity = 0b10; // CPU 1 only
        let free = Job::new(B, 0, 100);
        let other = Job::new(C, 0, 100);
        p.enqueue(&pinned, 0, Wake::Arrived);
        p.enqueue(&free, 0, Wake::Arrived);
        assert_eq!(
            p.pick(0, 0).map(|d| d.job),
            Some(B),
            "A may not run on CPU 0"
        );
        p.stopped(&free, 0, 10, 10, Stop::Expired);
        assert_eq!(p.level(B), Some(1));
        assert_eq!(p.pick(0, 10).map(|d| d.job), Some(B));
        // A at the top may not run on CPU 0: no reason to preempt B there.
        assert!(!p.preempt(&free, 0, 5, 15));
        p.enqueue(&other, 15, Wake::Arrived);
        assert!(p.preempt(&free, 0, 5, 15));
        p.stopped(&free, 0, 5, 15, Stop::Preempted);
        // B goes back to the front of level 1; a thief on CPU 0 takes the lowest: B.
        assert_eq!(p.runnable(), 3);
        assert_eq!(p.steal(0, 15), Some(B));
        assert_eq!(p.level(B), None, "forgotten");
        assert_eq!(p.steal(0, 15), Some(C));
        assert_eq!(p.steal(0, 15), None);
        assert_eq!(p.pick(1, 15).map(|d| d.job), Some(A));
    }

    #[test]
    fn configurations_are_checked() {
        let c = MlfqConfig::geometric(4, 10, 20, 3);
        assert_eq!(
            c.levels[3],
            Level {
                quantum: 270,
                allotment: 540
            }
        );
        assert_eq!(c.check(), Ok(()));
        assert!(MlfqConfig::geometric(0, 10, 10, 2).check().is_err());
        assert!(MlfqConfig::geometric(65, 10, 10, 2).check().is_err());
        assert!(MlfqConfig::geometric(2, 0, 10, 2).check().is_err());
        assert!(MlfqConfig::geometric(2, 10, 0, 2).check().is_err());
        let mut c = MlfqConfig::geometric(2, 10, 10, 2);
        c.boost_period = Some(0);
        assert!(c.check().is_err());
    }

    #[test]
    fn through_the_machine() {
        // The short-job scenario above on the crate's driver (jobs numbered 0 and 1).
        let jobs = vec![JobSpec::cpu(0, 200), JobSpec::cpu(60, 5)];
        let config = MachineConfig {
            cpus: 1,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(Mlfq::new(three_levels()), config, jobs).unwrap();
        m.run_to_end();
        let schedule: Vec<_> = m
            .segments()
            .iter()
            .map(|s| (s.job, s.start, s.end))
            .collect();
        assert_eq!(
            schedule,
            [
                (0, 0, 10),
                (0, 10, 30),
                (0, 30, 50),
                (0, 50, 60),
                (1, 60, 65),
                (0, 65, 95),
                (0, 95, 135),
                (0, 135, 175),
                (0, 175, 205),
            ]
        );
        assert_eq!(m.job_stats(1).unwrap().response(), Some(0));
    }
}

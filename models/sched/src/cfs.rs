//! A CFS-like policy, after Linux's Completely Fair Scheduler: each job's virtual runtime grows
//! with its CPU time scaled by its weight (from its nice value), and the runnable job with the
//! smallest virtual runtime runs next.

use alloc::collections::{BTreeMap, BTreeSet};

use crate::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};

/// The weight of a nice-0 job: a nice-0 job's virtual runtime grows as fast as real time.
pub const NICE_0_WEIGHT: u64 = 1024;

/// Linux's `sched_prio_to_weight` (kernel/sched/core.c), nice -20 to 19: each step of nice is
/// about 10% more or less CPU against a job one step away (a factor of about 1.25).
pub const SCHED_PRIO_TO_WEIGHT: [u32; 40] = [
    /* -20 */ 88761, 71755, 56483, 46273, 36291, //
    /* -15 */ 29154, 23254, 18705, 14949, 11916, //
    /* -10 */ 9548, 7620, 6100, 4904, 3906, //
    /*  -5 */ 3121, 2501, 1991, 1586, 1277, //
    /*   0 */ 1024, 820, 655, 526, 423, //
    /*   5 */ 335, 272, 215, 172, 137, //
    /*  10 */ 110, 87, 70, 56, 45, //
    /*  15 */ 36, 29, 23, 18, 15,
];

/// The weight of `nice`, clamped to -20..=19 as `setpriority` clamps it.
pub fn nice_to_weight(nice: i8) -> u64 {
    let index = (i32::from(nice).clamp(-20, 19) + 20) as usize;
    u64::from(SCHED_PRIO_TO_WEIGHT[index])
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Runnable,
    Running,
    Blocked,
}

/// A job as CFS sees it (Linux's `sched_entity`).
#[derive(Debug, Clone, Copy)]
struct Entity {
    vruntime: u64,
    /// What `ran × 1024` left over after division by the weight: always below the weight, so
    /// that virtual runtime never drifts however the CPU time is cut up.
    vruntime_remainder: u64,
    weight: u64,
    affinity: u64,
    state: State,
}

impl Entity {
    /// The virtual runtime after `ran` more nanoseconds of CPU, and the new remainder.
    fn charged(&self, ran: Time) -> (u64, u64) {
        let owed =
            u128::from(ran) * u128::from(NICE_0_WEIGHT) + u128::from(self.vruntime_remainder);
        // Saturates rather than panics: only absurd inputs (centuries of CPU at nice 19)
        // reach u64::MAX nanoseconds of virtual time.
        let advance = u64::try_from(owed / u128::from(self.weight)).unwrap_or(u64::MAX);
        let vruntime = self.vruntime.saturating_add(advance);
        (vruntime, (owed % u128::from(self.weight)) as u64)
    }
}

/// CFS-like scheduling.
///
/// - A job's weight comes from its nice value ([`SCHED_PRIO_TO_WEIGHT`]); its virtual runtime
///   grows by `ran × 1024 / weight` (exactly: the remainder is carried).
/// - The runnable jobs are ordered by (virtual runtime, job id); a CPU runs the first one that
///   may run on it, for a slice of `target_latency × weight / total weight` of the runnable
///   jobs, the picked one included (jobs running on other CPUs are not counted), and never less
///   than `min_granularity`: with many jobs the latency target gives way to switch overhead.
/// - `min_vruntime` follows the smallest virtual runtime of the runnable and running jobs and
///   never decreases.
/// - A job that arrives or wakes from I/O is placed at `max(its own virtual runtime,
///   min_vruntime − target_latency / 2)` (the idea of Linux's `place_entity`): a sleeper gets
///   at most half a latency period of catch-up, however long it slept, and an arriving job
///   (whose own virtual runtime is 0) gets the same bounded head start.
/// - Wake-up preemption: [`Policy::preempt`] says yes when the job just enqueued may run on the
///   CPU and its virtual runtime is smaller than the running job's (counting what the running
///   job has run so far) by more than `min_granularity` (the wake-up granularity; Linux scales
///   it by the woken job's weight, this does not). The driver asks for each busy CPU, so one
///   wake-up may preempt several CPUs; only the first to pick will run it.
#[derive(Debug, Clone)]
pub struct Cfs {
    target_latency: Time,
    min_granularity: Time,
    entities: BTreeMap<JobId, Entity>,
    /// The runnable jobs by (vruntime, id): Linux's red-black tree.
    queue: BTreeSet<(u64, JobId)>,
    /// The sum of the weights of the jobs in `queue`.
    queue_weight: u64,
    /// The running jobs by (vruntime when picked, id).
    running: BTreeSet<(u64, JobId)>,
    min_vruntime: u64,
    /// The job enqueued last, which [`Policy::preempt`] weighs against running jobs.
    woken: Option<JobId>,
}

impl Cfs {
    /// Linux's defaults (before EEVDF) were a 6 ms target latency and a 0.75 ms minimum
    /// granularity. A `min_granularity` of 0 is taken as 1 ns.
    pub fn new(target_latency: Time, min_granularity: Time) -> Self {
        Cfs {
            target_latency,
            min_granularity: min_granularity.max(1),
            entities: BTreeMap::new(),
            queue: BTreeSet::new(),
            queue_weight: 0,
            running: BTreeSet::new(),
            min_vruntime: 0,
            woken: None,
        }
    }

    /// `job`'s virtual runtime (as of its last stop), if the policy knows it.
    pub fn vruntime(&self, job: JobId) -> Option<u64> {
        self.entities.get(&job).map(|e| e.vruntime)
    }

    pub fn min_vruntime(&self) -> u64 {
        self.min_vruntime
    }

    /// Brings `min_vruntime` up to the smallest virtual runtime of a runnable or running job,
    /// if there is one (Linux's `update_min_vruntime`).
    fn update_min_vruntime(&mut self) {
        let queued = self.queue.first().map(|&(v, _)| v);
        let running = self.running.first().map(|&(v, _)| v);
        let smallest = match (queued, running) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(v) = smallest {
            self.min_vruntime = self.min_vruntime.max(v);
        }
    }

    /// The invariants that tie the collections together (costly: debug builds only).
    fn debug_check(&self) {
        if cfg!(debug_assertions) {
            let queued: u64 = self
                .queue
                .iter()
                .map(|(_, id)| self.entities[id].weight)
                .sum();
            assert_eq!(
                queued, self.queue_weight,
                "queue weight is the sum of queued weights"
            );
            for (&id, e) in &self.entities {
                assert!(e.weight > 0 && e.vruntime_remainder < e.weight);
                let key = (e.vruntime, id);
                assert_eq!(self.queue.contains(&key), e.state == State::Runnable);
                assert_eq!(self.running.contains(&key), e.state == State::Running);
            }
        }
    }

    fn queue_insert(&mut self, id: JobId) {
        let e = self.entities.get_mut(&id).expect("known job");
        e.state = State::Runnable;
        self.queue.insert((e.vruntime, id));
        self.queue_weight += e.weight;
    }
}

impl Policy for Cfs {
    fn name(&self) -> &'static str {
        "cfs"
    }

    fn enqueue(&mut self, job: &Job, _now: Time, _wake: Wake) {
        self.update_min_vruntime();
        let floor = self.min_vruntime.saturating_sub(self.target_latency / 2);
        let e = self.entities.entry(job.id).or_insert(Entity {
            vruntime: 0,
            vruntime_remainder: 0,
            weight: NICE_0_WEIGHT,
            affinity: 0,
            state: State::Blocked,
        });
        assert!(
            e.state == State::Blocked,
            "job {} enqueued while runnable or running",
            job.id
        );
        // Nice and affinity are read again at each wake-up: they may have changed.
        let weight = nice_to_weight(job.nice);
        if weight != e.weight {
            // The remainder was in units of the old weight.
            e.weight = weight;
            e.vruntime_remainder = 0;
        }
        e.affinity = job.affinity;
        if e.vruntime < floor {
            e.vruntime = floor;
            e.vruntime_remainder = 0;
        }
        debug_assert!(e.weight > 0);
        self.queue_insert(job.id);
        self.woken = Some(job.id);
        self.debug_check();
    }

    fn pick(&mut self, cpu: CpuId, _now: Time) -> Option<Dispatch> {
        let &(vruntime, id) = self
            .queue
            .iter()
            .find(|(_, id)| allows(self.entities[id].affinity, cpu))?;
        self.queue.remove(&(vruntime, id));
        let e = self.entities.get_mut(&id).expect("queued jobs are known");
        self.queue_weight -= e.weight;
        e.state = State::Running;
        self.running.insert((vruntime, id));
        // The picked job's share of the latency period, among itself and the queued jobs.
        let weight_total = self.queue_weight + e.weight;
        let share =
            u128::from(self.target_latency) * u128::from(e.weight) / u128::from(weight_total);
        let slice = (share as Time).max(self.min_granularity);
        debug_assert!(slice <= self.target_latency.max(self.min_granularity));
        self.debug_check();
        Some(Dispatch {
            job: id,
            slice: Some(slice),
        })
    }

    fn stopped(&mut self, job: &Job, _cpu: CpuId, ran: Time, _now: Time, stop: Stop) {
        let e = self
            .entities
            .get_mut(&job.id)
            .filter(|e| e.state == State::Running)
            .unwrap_or_else(|| panic!("job {} stopped but was not running", job.id));
        let removed = self.running.remove(&(e.vruntime, job.id));
        debug_assert!(removed);
        (e.vruntime, e.vruntime_remainder) = e.charged(ran);
        match stop {
            Stop::Expired | Stop::Preempted => self.queue_insert(job.id),
            Stop::Blocked => e.state = State::Blocked,
            Stop::Finished => {
                self.entities.remove(&job.id);
                if self.woken == Some(job.id) {
                    self.woken = None;
                }
            }
        }
        let before = self.min_vruntime;
        self.update_min_vruntime();
        debug_assert!(self.min_vruntime >= before, "min_vruntime never decreases");
        self.debug_check();
    }

    fn preempt(&mut self, running: &Job, cpu: CpuId, ran: Time, _now: Time) -> bool {
        let Some(woken) = self.woken.and_then(|id| self.entities.get(&id)) else {
            return false;
        };
        if woken.state != State::Runnable || !allows(woken.affinity, cpu) {
            return false;
        }
        let Some(current) = self
            .entities
            .get(&running.id)
            .filter(|e| e.state == State::Running)
        else {
            return false;
        };
        let (current_vruntime, _) = current.charged(ran);
        current_vruntime > woken.vruntime.saturating_add(self.min_granularity)
    }

    fn runnable(&self) -> usize {
        self.queue.len()
    }

    /// Gives up the runnable job with the largest virtual runtime that may run on `cpu` (the
    /// one that would run last here). Its virtual runtime is forgotten: the receiving policy
    /// places it as an arriving job.
    fn steal(&mut self, cpu: CpuId, _now: Time) -> Option<JobId> {
        let &(vruntime, id) = self
            .queue
            .iter()
            .rev()
            .find(|(_, id)| allows(self.entities[id].affinity, cpu))?;
        self.queue.remove(&(vruntime, id));
        let e = self.entities.remove(&id).expect("queued jobs are known");
        self.queue_weight -= e.weight;
        self.debug_check();
        Some(id)
    }
}

/// Whether a job with affinity `mask` may run on `cpu` (as [`Job::allows`]).
fn allows(mask: u64, cpu: CpuId) -> bool {
    mask == 0 || (cpu < 64 && mask & (1 << cpu) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    const MS: Time = 1_000_000;
    const LATENCY: Time = 6 * MS;
    const GRANULARITY: Time = 750_000;

    fn endless(id: JobId, nice: i8) -> Job {
        Job {
            nice,
            ..Job::new(id, 0, Time::MAX)
        }
    }

    /// A single-CPU driver for always-runnable jobs (ids 0..n): pick, run the whole slice,
    /// expire.
    struct Tally {
        now: Time,
        cpu: Vec<Time>,
        /// (job, slice) of each pick.
        picks: Vec<(JobId, Time)>,
    }

    impl Tally {
        fn new(jobs: usize) -> Self {
            Tally {
                now: 0,
                cpu: vec![0; jobs],
                picks: Vec::new(),
            }
        }

        fn start(p: &mut Cfs, jobs: &[Job]) -> Self {
            for j in jobs {
                p.enqueue(j, 0, Wake::Arrived);
            }
            Self::new(jobs.len())
        }

        /// Runs one slice; returns the job that ran.
        fn step(&mut self, p: &mut Cfs, jobs: &[Job], stop: Stop) -> JobId {
            let d = p.pick(0, self.now).expect("a runnable job");
            let slice = d.slice.expect("CFS always gives a slice");
            self.now += slice;
            self.cpu[d.job as usize] += slice;
            self.picks.push((d.job, slice));
            p.stopped(&jobs[d.job as usize], 0, slice, self.now, stop);
            d.job
        }

        fn run(&mut self, p: &mut Cfs, jobs: &[Job], picks: usize) {
            for _ in 0..picks {
                self.step(p, jobs, Stop::Expired);
            }
        }
    }

    #[test]
    fn weights_are_linux_table() {
        assert_eq!(nice_to_weight(-20), 88761);
        assert_eq!(nice_to_weight(0), NICE_0_WEIGHT);
        assert_eq!(nice_to_weight(5), 335);
        assert_eq!(nice_to_weight(19), 15);
        assert_eq!(nice_to_weight(-128), 88761, "clamped");
        assert_eq!(nice_to_weight(127), 15, "clamped");
        assert!(SCHED_PRIO_TO_WEIGHT.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn cpu_follows_weights_nice_0_against_nice_5() {
        let jobs = [endless(0, 0), endless(1, 5)];
        let mut p = Cfs::new(LATENCY, GRANULARITY);
        let mut t = Tally::start(&mut p, &jobs);
        t.run(&mut p, &jobs, 100_000);
        // 1024 : 335, that is 753,495 ppm for nice 0; within 1% (10,000 ppm).
        let total: Time = t.cpu.iter().sum();
        let share_ppm = t.cpu[0] * 1_000_000 / total;
        let want_ppm = 1_000_000 * 1024 / (1024 + 335);
        assert!(
            share_ppm.abs_diff(want_ppm) <= 10_000,
            "nice 0 got {share_ppm} ppm, want {want_ppm}"
        );
        // Their virtual runtimes stay within a slice of each other.
        let [a, b] = [0, 1].map(|id| p.vruntime(id).unwrap());
        assert!(a.abs_diff(b) <= LATENCY, "{a} vs {b}");
    }

    #[test]
    fn equal_nice_jobs_alternate_with_half_the_latency_each() {
        let jobs = [endless(0, 0), endless(1, 0)];
        let mut p = Cfs::new(LATENCY, GRANULARITY);
        let mut t = Tally::start(&mut p, &jobs);
        t.run(&mut p, &jobs, 1_000);
        for (i, &(job, slice)) in t.picks.iter().enumerate() {
            assert_eq!(job, (i % 2) as JobId, "pick {i}");
            assert_eq!(slice, LATENCY / 2);
        }
        assert_eq!(t.cpu[0], t.cpu[1]);
    }

    #[test]
    fn slices_honour_the_minimum_granularity() {
        for (n, slice) in [
            (1, LATENCY),
            (2, 3 * MS),
            (4, 1_500_000),
            (8, GRANULARITY),
            (20, GRANULARITY),
        ] {
            let jobs: Vec<Job> = (0..n).map(|id| endless(id, 0)).collect();
            let mut p = Cfs::new(LATENCY, GRANULARITY);
            let mut t = Tally::start(&mut p, &jobs);
            t.run(&mut p, &jobs, 10 * n as usize);
            assert!(
                t.picks.iter().all(|&(_, s)| s == slice),
                "{n} jobs: {:?}",
                &t.picks[..4.min(t.picks.len())]
            );
            // Round robin in id order, all equal.
            assert!(
                t.cpu.iter().all(|&c| c == 10 * slice),
                "{n} jobs: {:?}",
                t.cpu
            );
        }
    }

    #[test]
    fn a_sleeper_gets_at_most_half_a_latency_of_catch_up() {
        let jobs = [endless(0, 0), endless(1, 0)];
        let mut p = Cfs::new(LATENCY, GRANULARITY);
        let mut t = Tally::start(&mut p, &jobs);
        t.run(&mut p, &jobs, 10);
        // Job 1 runs once more, then blocks; job 0 runs alone for a second.
        while t.step(&mut p, &jobs, Stop::Expired) != 0 {}
        assert_eq!(t.step(&mut p, &jobs, Stop::Blocked), 1);
        assert_eq!(p.runnable(), 1);
        t.run(&mut p, &jobs, 1_000 / 6);
        assert!(
            t.picks
                .iter()
                .rev()
                .take(1_000 / 6)
                .all(|&(j, s)| j == 0 && s == LATENCY)
        );
        let slept_vruntime = p.vruntime(1).unwrap();
        p.enqueue(&jobs[1], t.now, Wake::IoDone);
        let placed = p.vruntime(1).unwrap();
        assert_eq!(placed, p.min_vruntime() - LATENCY / 2);
        assert!(
            placed > slept_vruntime + 900 * MS,
            "not where it fell asleep"
        );

        // Over the next second, job 1's CPU time never leads job 0's by more than LATENCY / 2,
        // and ends there: it got its bounded bonus, not a second of catch-up.
        let base = t.cpu.clone();
        let mut lead_max = 0;
        for _ in 0..1_000 / 3 {
            t.step(&mut p, &jobs, Stop::Expired);
            let lead = (t.cpu[1] - base[1]) as i64 - (t.cpu[0] - base[0]) as i64;
            lead_max = lead_max.max(lead);
        }
        assert_eq!(lead_max, (LATENCY / 2) as i64);
    }

    #[test]
    fn a_waking_job_preempts_only_beyond_the_wake_up_granularity() {
        let mut pinned = endless(2, 0);
        pinned.affinity = 0b10;
        let jobs = [endless(0, 0), endless(1, 0), pinned];
        let mut p = Cfs::new(LATENCY, GRANULARITY);
        p.enqueue(&jobs[0], 0, Wake::Arrived);
        assert_eq!(
            p.pick(0, 0),
            Some(Dispatch {
                job: 0,
                slice: Some(LATENCY)
            })
        );
        assert!(!p.preempt(&jobs[0], 0, MS, MS), "nothing was woken");
        p.enqueue(&jobs[1], MS / 2, Wake::Arrived);
        assert_eq!(p.vruntime(1), Some(0));
        assert!(
            !p.preempt(&jobs[0], 0, MS / 2, MS / 2),
            "0.5 ms ahead: within 0.75 ms"
        );
        assert!(p.preempt(&jobs[0], 0, MS, MS), "1 ms ahead: beyond 0.75 ms");
        p.enqueue(&jobs[2], MS, Wake::Arrived);
        assert!(
            !p.preempt(&jobs[0], 0, MS, MS),
            "the woken job may not run on CPU 0"
        );
        assert!(p.preempt(&jobs[0], 1, MS, MS), "but may on CPU 1");
    }

    #[test]
    fn min_vruntime_never_decreases() {
        let jobs = [endless(0, -5), endless(1, 0), endless(2, 10)];
        let mut p = Cfs::new(LATENCY, GRANULARITY);
        let mut t = Tally::start(&mut p, &jobs);
        let mut last = p.min_vruntime();
        for i in 0..3_000 {
            let stop = if i % 7 == 3 {
                Stop::Blocked
            } else {
                Stop::Expired
            };
            let job = t.step(&mut p, &jobs, stop);
            if stop == Stop::Blocked {
                p.enqueue(&jobs[job as usize], t.now, Wake::IoDone);
            }
            assert!(p.min_vruntime() >= last);
            last = p.min_vruntime();
        }
        assert!(last > 0);
    }

    #[test]
    fn respects_affinity_and_steals_the_largest_vruntime() {
        let mut pinned = endless(0, 0);
        pinned.affinity = 0b10;
        let jobs = [pinned, endless(1, 0), endless(2, 0)];
        let mut p = Cfs::new(LATENCY, GRANULARITY);
        for j in &jobs {
            p.enqueue(j, 0, Wake::Arrived);
        }
        let d = p.pick(0, 0).unwrap();
        assert_eq!(d.job, 1, "job 0 is pinned to CPU 1");
        p.stopped(&jobs[1], 0, MS, MS, Stop::Expired);
        assert_eq!(p.steal(0, MS), Some(1), "the largest vruntime");
        assert_eq!(p.steal(0, MS), Some(2));
        assert_eq!(p.steal(0, MS), None, "job 0 may not go to CPU 0");
        assert_eq!(p.runnable(), 1);
        assert_eq!(p.pick(0, MS), None);
        assert_eq!(p.pick(1, MS).map(|d| d.job), Some(0));
    }

    /// Wait of an interactive job (1 ms of CPU, then 9 ms of I/O, 50 times) beside a CPU hog.
    fn interactive_wait(policy: impl Policy) -> (Time, Time) {
        use crate::machine::{Burst, JobSpec, Machine, MachineConfig};
        let hog = JobSpec::cpu(0, 1_000 * MS);
        let mut bursts = Vec::new();
        for _ in 0..50 {
            bursts.extend([Burst::Cpu(MS), Burst::Io(9 * MS)]);
        }
        bursts.push(Burst::Cpu(MS));
        let interactive = JobSpec {
            job: Job::new(0, 0, 0),
            bursts,
        };
        let config = MachineConfig {
            cpus: 1,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(policy, config, vec![hog, interactive]).unwrap();
        m.run_to_end();
        assert!(m.finished());
        let stats = m.job_stats(1).unwrap();
        (stats.wait, stats.completion.unwrap())
    }

    #[test]
    fn through_the_machine_wake_up_preemption_serves_the_interactive_job() {
        // Each time its I/O completes, the interactive job's vruntime is placed half a latency
        // behind the hog's, more than the wake-up granularity: it preempts the hog at once.
        // It waits only once, at arrival, behind the hog's first slice (ties go to job 0).
        let (cfs_wait, cfs_done) = interactive_wait(Cfs::new(LATENCY, GRANULARITY));
        assert_eq!(cfs_wait, LATENCY / 2);
        assert_eq!(cfs_done, LATENCY / 2 + 50 * 10 * MS + MS);
        // Round robin with the same 6 ms makes it wait behind the hog's quantum.
        let (rr_wait, _) = interactive_wait(crate::RoundRobin::new(LATENCY));
        assert!(rr_wait > 50 * MS, "round robin wait {rr_wait}");
    }
}

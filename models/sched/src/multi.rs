//! Multi-queue multiprocessor scheduling (*Operating Systems: Three Easy Pieces*, ch. 10): one
//! run queue per CPU, each its own instance of an inner [`Policy`], with cache affinity and,
//! optionally, work stealing.
//!
//! [`PerCpu`] is itself a [`Policy`], so the [`Machine`](crate::machine::Machine) drives it like
//! any other. Its rules:
//! - **Placement** ([`Policy::enqueue`]): a job that ran before goes back to the CPU it last ran
//!   on, if its affinity still allows that CPU (its cache may still be warm there: the Machine
//!   charges `migration_cost` to a job that changes CPU, or that was away longer than
//!   `warm_window`). Otherwise it goes to the allowed CPU
//!   with the least load, ties to the lowest CPU number. A CPU's load is its queued jobs plus the
//!   one it is running: a CPU busy with one job is not as free as an idle one, even though both
//!   have an empty queue. (So a job that arrives at the very instant another's burst ends sees
//!   that CPU as still busy: the Machine enqueues before it stops running jobs.) Affinity is
//!   strict: a job that no CPU of this machine may run is a configuration error, and panics.
//! - **Picking** ([`Policy::pick`]): `cpu` asks its own queue. If that yields nothing and
//!   stealing is [`Stealing::On`], `cpu` steals one job (see below), puts it into its own queue
//!   and asks again.
//! - **Stealing**: the victim is the queue with the most jobs still waiting for their CPU (its
//!   queued jobs, less one if its CPU is idle, since that CPU will run one of them at this same
//!   instant), ties to the lowest CPU number; queues with none are never robbed. The victim's
//!   inner policy chooses the job ([`Policy::steal`]), which must be one allowed on `cpu`; if it
//!   has none, the next fullest queue is tried. The stolen job enters the thief's inner policy
//!   as [`Wake::Arrived`]: that policy has never seen it, and a newcomer is what `Arrived` tells
//!   a policy. (`IoDone` would make policies that keep per-job history, such as a sleeper credit,
//!   look for history they do not have.) The price: whatever the victim's policy had learned about
//!   the job (an MLFQ level, a virtual runtime) does not move with it.
//! - Everything else goes to the queue concerned: [`Policy::stopped`] and [`Policy::preempt`] to
//!   the queue of the CPU the job ran on (the one it was picked from), [`Policy::timer`] to each
//!   queue whose [`Policy::wake_at`] has come; `wake_at` is the earliest of the queues',
//!   [`Policy::runnable`] their sum.
//!
//! Per job it keeps the job's attributes (to move it on a steal), where it is, and the CPU it last
//! ran on, from entering until it finishes (or is stolen away by an outer policy); so memory is
//! bounded by the jobs in the system. All maps are ordered and every choice has a stated
//! tie-break: the same calls give the same decisions.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};

/// The most CPUs: [`Job::affinity`] is a 64-bit mask.
pub const CPUS_MAX: u32 = 64;

/// Whether an idle CPU with an empty queue takes work from another CPU's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stealing {
    Off,
    On,
}

/// Where a job known to [`PerCpu`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Runnable, in this CPU's queue.
    Queued(CpuId),
    Running(CpuId),
    /// Waiting for I/O.
    Blocked,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    job: Job,
    place: Place,
    /// The CPU it last ran on, if it ran.
    cpu_last: Option<CpuId>,
}

/// One run queue per CPU, each an instance of the inner policy `P`. See the module docs.
#[derive(Debug, Clone)]
pub struct PerCpu<P> {
    queues: Vec<P>,
    /// The job each CPU is running, as far as the driver told us.
    running: Vec<Option<JobId>>,
    jobs: BTreeMap<JobId, Entry>,
    stealing: Stealing,
    steals: u64,
}

impl<P: Policy> PerCpu<P> {
    /// `cpus` queues (1 to [`CPUS_MAX`]), queue `k` made by `make(k)`; `cpus` must be the
    /// driver's CPU count.
    pub fn new(cpus: u32, stealing: Stealing, mut make: impl FnMut(CpuId) -> P) -> Self {
        assert!(
            (1..=CPUS_MAX).contains(&cpus),
            "per-CPU queues need 1 to {CPUS_MAX} CPUs, not {cpus}"
        );
        let queues: Vec<P> = (0..cpus).map(&mut make).collect();
        assert!(
            queues.iter().all(|q| q.runnable() == 0),
            "new queues hold no jobs"
        );
        PerCpu {
            queues,
            running: alloc::vec![None; cpus as usize],
            jobs: BTreeMap::new(),
            stealing,
            steals: 0,
        }
    }

    /// The queue of `cpu`.
    pub fn queue(&self, cpu: CpuId) -> &P {
        &self.queues[cpu as usize]
    }

    /// How many jobs moved from one CPU's queue to another's by stealing.
    pub fn steals(&self) -> u64 {
        self.steals
    }

    fn cpus(&self) -> u32 {
        self.queues.len() as u32
    }

    fn check_cpu(&self, cpu: CpuId) {
        assert!(
            cpu < self.cpus(),
            "CPU {cpu} asked, but there are {} per-CPU queues",
            self.cpus()
        );
    }

    /// Queued jobs plus the running one.
    fn load(&self, cpu: CpuId) -> usize {
        self.queues[cpu as usize].runnable() + usize::from(self.running[cpu as usize].is_some())
    }

    /// Jobs in `cpu`'s queue that its CPU will not start at once.
    fn waiting(&self, cpu: CpuId) -> usize {
        let idle = self.running[cpu as usize].is_none();
        self.queues[cpu as usize]
            .runnable()
            .saturating_sub(usize::from(idle))
    }

    /// Takes one job allowed on `thief` from the fullest other queue that has one. The job leaves
    /// its queue and is marked nowhere; the caller places it.
    fn take_from_fullest(&mut self, thief: CpuId, now: Time) -> Option<(CpuId, JobId)> {
        let mut victims: Vec<(usize, CpuId)> = (0..self.cpus())
            .filter(|&v| v != thief)
            .map(|v| (self.waiting(v), v))
            .filter(|&(waiting, _)| waiting > 0)
            .collect();
        // Most waiting first, then lowest CPU number.
        victims.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, victim) in victims {
            let queue = &mut self.queues[victim as usize];
            let before = queue.runnable();
            let Some(id) = queue.steal(thief, now) else {
                continue;
            };
            assert_eq!(
                queue.runnable() + 1,
                before,
                "a stolen job leaves its queue"
            );
            let entry = self
                .jobs
                .get(&id)
                .unwrap_or_else(|| panic!("CPU {victim}'s queue gave up job {id}, never enqueued"));
            assert_eq!(
                entry.place,
                Place::Queued(victim),
                "job {id} was stolen from CPU {victim}'s queue"
            );
            assert!(
                entry.job.allows(thief),
                "CPU {victim}'s queue gave up job {id}, which may not run on CPU {thief}"
            );
            return Some((victim, id));
        }
        None
    }
}

impl<P: Policy> Policy for PerCpu<P> {
    fn name(&self) -> &'static str {
        "per-cpu"
    }

    fn enqueue(&mut self, job: &Job, now: Time, wake: Wake) {
        let cpu_last = match self.jobs.get(&job.id) {
            Some(e) => {
                assert_eq!(
                    e.place,
                    Place::Blocked,
                    "job {} enqueued while runnable or running",
                    job.id
                );
                e.cpu_last
            }
            None => None,
        };
        let sticky = cpu_last.filter(|&c| c < self.cpus() && job.allows(c));
        let cpu = sticky
            .or_else(|| {
                (0..self.cpus())
                    .filter(|&c| job.allows(c))
                    .min_by_key(|&c| (self.load(c), c))
            })
            .unwrap_or_else(|| {
                panic!(
                    "job {} may run on none of the {} CPUs (affinity {:#x})",
                    job.id,
                    self.cpus(),
                    job.affinity
                )
            });
        self.queues[cpu as usize].enqueue(job, now, wake);
        self.jobs.insert(
            job.id,
            Entry {
                job: *job,
                place: Place::Queued(cpu),
                cpu_last,
            },
        );
    }

    fn pick(&mut self, cpu: CpuId, now: Time) -> Option<Dispatch> {
        self.check_cpu(cpu);
        assert!(
            self.running[cpu as usize].is_none(),
            "CPU {cpu} picks while running a job"
        );
        let mut dispatch = self.queues[cpu as usize].pick(cpu, now);
        if dispatch.is_none() && self.stealing == Stealing::On {
            if let Some((_, id)) = self.take_from_fullest(cpu, now) {
                let entry = self.jobs.get_mut(&id).expect("checked by the steal");
                entry.place = Place::Queued(cpu);
                let job = entry.job;
                self.queues[cpu as usize].enqueue(&job, now, Wake::Arrived);
                self.steals += 1;
                dispatch = self.queues[cpu as usize].pick(cpu, now);
            }
        }
        let d = dispatch?;
        let entry = self
            .jobs
            .get_mut(&d.job)
            .unwrap_or_else(|| panic!("CPU {cpu}'s queue picked job {}, never enqueued", d.job));
        assert_eq!(
            entry.place,
            Place::Queued(cpu),
            "CPU {cpu}'s queue picked job {}, which it did not hold",
            d.job
        );
        assert!(
            entry.job.allows(cpu),
            "job {} may not run on CPU {cpu}",
            d.job
        );
        entry.place = Place::Running(cpu);
        self.running[cpu as usize] = Some(d.job);
        Some(d)
    }

    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, now: Time, stop: Stop) {
        self.check_cpu(cpu);
        assert_eq!(
            self.running[cpu as usize],
            Some(job.id),
            "job {} stopped on CPU {cpu}, which was not running it",
            job.id
        );
        self.running[cpu as usize] = None;
        self.queues[cpu as usize].stopped(job, cpu, ran, now, stop);
        let entry = self.jobs.get_mut(&job.id).expect("a running job is known");
        entry.cpu_last = Some(cpu);
        entry.job = *job;
        match stop {
            Stop::Expired | Stop::Preempted => entry.place = Place::Queued(cpu),
            Stop::Blocked => entry.place = Place::Blocked,
            Stop::Finished => {
                self.jobs.remove(&job.id);
            }
        }
    }

    fn preempt(&mut self, running: &Job, cpu: CpuId, ran: Time, now: Time) -> bool {
        self.check_cpu(cpu);
        self.queues[cpu as usize].preempt(running, cpu, ran, now)
    }

    fn wake_at(&self) -> Option<Time> {
        self.queues.iter().filter_map(|q| q.wake_at()).min()
    }

    fn timer(&mut self, now: Time) {
        for q in &mut self.queues {
            if q.wake_at().is_some_and(|t| t <= now) {
                q.timer(now);
            }
        }
    }

    fn runnable(&self) -> usize {
        self.queues.iter().map(|q| q.runnable()).sum()
    }

    /// From the fullest queue (the same choice as a steal between our own CPUs); the job is
    /// forgotten here, since another policy now holds it.
    fn steal(&mut self, cpu: CpuId, now: Time) -> Option<JobId> {
        // Queue `cpu` itself is skipped, as in a steal between our own CPUs: what it holds,
        // CPU `cpu` would run by picking from us.
        let (_, id) = self.take_from_fullest(cpu, now)?;
        self.jobs.remove(&id);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoundRobin;
    use crate::machine::{Burst, JobSpec, Machine, MachineConfig, Segment};
    use alloc::vec;

    fn four_cpus(migration_cost: Time) -> MachineConfig {
        MachineConfig {
            cpus: 4,
            migration_cost,
            warm_window: 1_000,
            ..MachineConfig::default()
        }
    }

    fn per_cpu_rr(stealing: Stealing) -> PerCpu<RoundRobin> {
        PerCpu::new(4, stealing, |_| RoundRobin::new(10))
    }

    fn pinned(arrival: Time, cpu: Time, to: CpuId) -> JobSpec {
        let mut spec = JobSpec::cpu(arrival, cpu);
        spec.job.affinity = 1 << to;
        spec
    }

    fn busy(m: &Machine<impl Policy>) -> Vec<Time> {
        m.cpu_times().map(|(busy, _)| busy).collect()
    }

    fn cpus_of(segments: &[Segment], job: JobId) -> Vec<CpuId> {
        let mut cpus: Vec<CpuId> = segments
            .iter()
            .filter(|s| s.job == job)
            .map(|s| s.cpu)
            .collect();
        cpus.dedup();
        cpus
    }

    #[test]
    fn placement_prefers_the_last_cpu_then_the_least_loaded() {
        let mut p = per_cpu_rr(Stealing::Off);
        let jobs: Vec<Job> = (0..5).map(|id| Job::new(id, 0, 100)).collect();
        for j in &jobs {
            p.enqueue(j, 0, Wake::Arrived);
        }
        // 0..3 one per CPU, then 4 to the lowest of the tied CPUs.
        let queued: Vec<usize> = (0..4).map(|c| p.queue(c).runnable()).collect();
        assert_eq!(queued, [2, 1, 1, 1]);
        assert_eq!(p.pick(3, 0).map(|d| d.job), Some(3));
        p.stopped(&jobs[3], 3, 10, 10, Stop::Blocked);
        // While job 3 waits for I/O, a newcomer goes to CPU 3, now the least loaded.
        let newcomer = Job::new(5, 15, 10);
        p.enqueue(&newcomer, 15, Wake::Arrived);
        assert_eq!(p.queue(3).runnable(), 1);
        // Job 3 goes home to CPU 3, though CPU 1 is as loaded and numbered lower.
        p.enqueue(&jobs[3], 20, Wake::IoDone);
        assert_eq!(p.queue(3).runnable(), 2);
        assert_eq!(p.pick(3, 20).map(|d| d.job), Some(5));
        p.stopped(&newcomer, 3, 10, 30, Stop::Finished);
        assert_eq!(p.pick(3, 30).map(|d| d.job), Some(3));
        // If its affinity no longer allows its last CPU, it goes where it may.
        let mut moved = jobs[3];
        moved.affinity = 0b10;
        p.stopped(&moved, 3, 10, 40, Stop::Blocked);
        p.enqueue(&moved, 50, Wake::IoDone);
        let queued: Vec<usize> = (0..4).map(|c| p.queue(c).runnable()).collect();
        assert_eq!(queued, [2, 2, 1, 0]);
        assert_eq!(p.runnable(), 5);
    }

    #[test]
    #[should_panic(expected = "may run on none of the 4 CPUs")]
    fn a_job_no_cpu_may_run_is_refused() {
        let mut p = per_cpu_rr(Stealing::On);
        let mut j = Job::new(0, 0, 10);
        j.affinity = 1 << 7;
        p.enqueue(&j, 0, Wake::Arrived);
    }

    /// OSTEP's lesson on multi-queue scheduling: five equal jobs on four CPUs leave one queue
    /// with two, so without stealing three CPUs idle while CPU 0 still has both to run.
    #[test]
    fn without_stealing_load_imbalance_idles_cpus() {
        // Five jobs of 100 at 0, RR with a quantum of 10. Jobs 0..3 go one to each CPU and job 4
        // to CPU 0 (all tied at one, lowest number).
        let jobs = || (0..5).map(|_| JobSpec::cpu(0, 100)).collect::<Vec<_>>();

        // Off: CPU 0 alternates jobs 0 and 4 until 200; CPUs 1..3 finish at 100 and idle.
        let mut m = Machine::new(per_cpu_rr(Stealing::Off), four_cpus(5), jobs()).unwrap();
        assert_eq!(m.run_to_end(), 200);
        assert_eq!(busy(&m), [200, 100, 100, 100], "no migration: no cost");
        let s = m.summary();
        assert_eq!(s.makespan, 200);
        assert_eq!(s.utilisation, [1.0, 0.5, 0.5, 0.5]);
        assert_eq!(m.policy().steals(), 0);
        assert_eq!(cpus_of(m.segments(), 4), [0]);

        // On: at 100 each of jobs 0 and 4 has had 50 on CPU 0. Job 4's quantum ends at 100,
        // CPU 0 picks job 0 again and CPU 1, now empty, steals job 4 (the only job waiting
        // anywhere). It runs cold on CPU 1: its 50 left become 55. Job 0 ends at 150, job 4 at
        // 155; CPUs 2 and 3 find nothing to steal (one job per busy CPU is no surplus).
        let mut m = Machine::new(per_cpu_rr(Stealing::On), four_cpus(5), jobs()).unwrap();
        assert_eq!(m.run_to_end(), 155);
        assert_eq!(busy(&m), [150, 155, 100, 100]);
        let s = m.summary();
        assert_eq!(s.makespan, 155);
        let u: Vec<f64> = [150.0, 155.0, 100.0, 100.0]
            .iter()
            .map(|b| b / 155.0)
            .collect();
        assert_eq!(s.utilisation, u);
        assert_eq!(m.policy().steals(), 1);
        assert_eq!(cpus_of(m.segments(), 4), [0, 1]);
        let after: Vec<(CpuId, Time, Time)> = m
            .segments()
            .iter()
            .filter(|s| s.job == 4 && s.start >= 100)
            .map(|s| (s.cpu, s.start, s.end))
            .collect();
        let slices = [
            (100, 110),
            (110, 120),
            (120, 130),
            (130, 140),
            (140, 150),
            (150, 155),
        ];
        assert_eq!(after, slices.map(|(start, end)| (1, start, end)));
        // The utilisation evens out: the spread between busiest and idlest CPU shrinks from
        // 100 to 55, even after paying for the migration.
        assert_eq!(m.stats().map(|j| j.cpu_time).sum::<Time>(), 505);
    }

    #[test]
    fn a_pinned_job_runs_only_on_its_cpu_even_with_stealing() {
        // Jobs 0..3 (unpinned) go one to each CPU; 4 and 5, pinned to CPU 2, queue behind job 2.
        // Jobs 0, 1 and 3 end at 10, and CPUs 0, 1 and 3 try to steal at every instant after.
        let jobs = vec![
            JobSpec::cpu(0, 10),
            JobSpec::cpu(0, 10),
            JobSpec::cpu(0, 30),
            JobSpec::cpu(0, 10),
            pinned(0, 30, 2),
            pinned(0, 30, 2),
        ];
        let mut m = Machine::new(per_cpu_rr(Stealing::On), four_cpus(0), jobs).unwrap();
        // At 10 job 2's quantum ends: CPU 2's queue is 4, 5, 2 and CPU 2 picks 4. CPU 0 steals
        // job 2, the only one it may take; CPUs 1 and 3 find only job 5, pinned, and stay idle.
        // CPU 2 then alternates 4 and 5 until 70.
        assert_eq!(m.run_to_end(), 70);
        assert_eq!(m.policy().steals(), 1);
        assert_eq!(cpus_of(m.segments(), 2), [2, 0]);
        for job in [4, 5] {
            assert_eq!(
                cpus_of(m.segments(), job),
                [2],
                "job {job} is pinned to CPU 2"
            );
        }
        assert_eq!(busy(&m), [30, 10, 70, 10]);
    }

    /// OSTEP's argument for per-CPU queues: one shared queue moves jobs from CPU to CPU, and each
    /// move costs a cold cache; per-CPU queues keep jobs where their caches are.
    #[test]
    fn per_cpu_queues_keep_caches_warm_a_shared_queue_does_not() {
        // Six jobs of 60 on four CPUs, RR with a quantum of 10, a migration costing 5.
        let jobs = || (0..6).map(|_| JobSpec::cpu(0, 60)).collect::<Vec<_>>();
        let demand: Time = 6 * 60;

        let mut m = Machine::new(per_cpu_rr(Stealing::Off), four_cpus(5), jobs()).unwrap();
        m.run_to_end();
        assert!(m.finished());
        for job in 0..6 {
            assert_eq!(cpus_of(m.segments(), job).len(), 1, "job {job} never moves");
        }
        assert_eq!(m.stats().map(|j| j.cpu_time).sum::<Time>(), demand);
        // The price: CPUs 0 and 1 hold two jobs each, 2 and 3 one.
        assert_eq!(busy(&m), [120, 120, 60, 60]);

        // One shared queue over four CPUs: at 10, CPUs 0..3 take jobs 4, 5, 0, 1; jobs 0 and 1
        // have moved. Every move is cold (the window is longer than the run) and costs 5.
        let mut m = Machine::new(RoundRobin::new(10), four_cpus(5), jobs()).unwrap();
        m.run_to_end();
        assert!(m.finished());
        let mut moves = 0;
        for job in 0..6 {
            let cpus = cpus_of(m.segments(), job);
            moves += cpus.len() as Time - 1;
        }
        // Here every run after a job's first is on another CPU than the run before it.
        assert_eq!(moves, 60);
        assert_eq!(m.segments().len() as Time, 6 + moves);
        let total: Time = m.stats().map(|j| j.cpu_time).sum();
        assert_eq!(total, demand + 5 * moves, "each move paid once");
        assert!(total > demand);
    }

    #[test]
    fn same_inputs_same_schedule() {
        // I/O, affinity, stealing and migration costs together, run twice.
        let jobs = || {
            let mut jobs = Vec::new();
            for k in 0..9u64 {
                let mut bursts = Vec::new();
                for r in 0..3 {
                    bursts.push(Burst::Cpu(5 + (k * 7 + r * 3) % 20));
                    bursts.push(Burst::Io(3 + (k * 5 + r) % 11));
                }
                let mut spec = JobSpec {
                    job: Job::new(0, k * 4, 0),
                    bursts,
                };
                if k % 4 == 1 {
                    spec.job.affinity = 0b0110;
                }
                jobs.push(spec);
            }
            jobs
        };
        let config = MachineConfig {
            context_switch: 1,
            warm_window: 15,
            ..four_cpus(3)
        };
        let run = || {
            let mut m = Machine::new(per_cpu_rr(Stealing::On), config, jobs()).unwrap();
            m.run_to_end();
            assert!(m.finished());
            for s in m.segments() {
                if s.job % 4 == 1 {
                    assert!(matches!(s.cpu, 1 | 2), "{s:?} breaks its affinity");
                }
            }
            (m.segments().to_vec(), m.policy().steals())
        };
        let (a, steals) = run();
        assert_eq!(run(), (a.clone(), steals));
        assert!(steals > 0, "the case exercises stealing");
    }
}

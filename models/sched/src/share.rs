//! Proportional-share policies (*Operating Systems: Three Easy Pieces*, ch. 9): lottery, which
//! draws a winning ticket at each pick, and stride, its deterministic counterpart.
//!
//! Both keep their own per-job state (ticket counts, passes) from a job's first enqueue until
//! it finishes or is stolen; a stolen job starts afresh, from its [`Job`], in the policy that
//! receives it.

use alloc::collections::{BTreeMap, BTreeSet};

use crate::rng::SplitMix64;
use crate::{CpuId, Dispatch, Job, JobId, Policy, Stop, Time, Wake};

/// Whether a job with affinity `mask` may run on `cpu` (as [`Job::allows`]).
fn allows(mask: u64, cpu: CpuId) -> bool {
    mask == 0 || (cpu < 64 && mask & (1 << cpu) != 0)
}

/// A job as lottery sees it.
#[derive(Debug, Clone, Copy)]
struct Holder {
    /// Starts as [`Job::tickets`]; [`Lottery::transfer`] moves tickets between holders.
    tickets: u32,
    affinity: u64,
}

/// Lottery scheduling: each pick draws a ticket uniformly among the tickets of the runnable jobs
/// that may run on the CPU, walking them in job id order, and the job holding it runs for one
/// quantum; an expired job stays runnable.
///
/// A job with 0 tickets never wins while a job it competes with holds any; when none of the
/// candidates holds a ticket, one of them is drawn uniformly, so a CPU is never left idle.
/// Tickets can be lent ([`Lottery::transfer`]), e.g. by a client to the server it waits on.
#[derive(Debug, Clone)]
pub struct Lottery {
    quantum: Time,
    rng: SplitMix64,
    /// Every job known: runnable, running or blocked.
    holders: BTreeMap<JobId, Holder>,
    /// The runnable ones, in the order a draw walks them.
    runnable: BTreeSet<JobId>,
}

impl Lottery {
    /// A quantum of 0 is taken as 1 ns. Equal seeds give equal schedules.
    pub fn new(quantum: Time, seed: u64) -> Self {
        Lottery {
            quantum: quantum.max(1),
            rng: SplitMix64::new(seed),
            holders: BTreeMap::new(),
            runnable: BTreeSet::new(),
        }
    }

    /// The tickets `job` holds now, if the policy knows it (enqueued, not finished or stolen).
    pub fn tickets(&self, job: JobId) -> Option<u32> {
        self.holders.get(&job).map(|h| h.tickets)
    }

    /// Moves up to `tickets` tickets from `from` to `to`; returns how many moved. Both jobs must
    /// be known to the policy (enqueued at least once, neither finished nor stolen), in any
    /// state: a blocked client may lend to a running server. At most what `from` holds moves,
    /// and no more than `to` can hold. Tickets a job holds when it finishes leave with it, so a
    /// lender should take its tickets back (a transfer the other way) first.
    pub fn transfer(&mut self, from: JobId, to: JobId, tickets: u32) -> u32 {
        if from == to {
            return 0;
        }
        let (Some(giver), Some(taker)) = (self.holders.get(&from), self.holders.get(&to)) else {
            return 0;
        };
        let moved = tickets.min(giver.tickets).min(u32::MAX - taker.tickets);
        let total_before = u64::from(giver.tickets) + u64::from(taker.tickets);
        self.holders.get_mut(&from).expect("known").tickets -= moved;
        self.holders.get_mut(&to).expect("known").tickets += moved;
        debug_assert_eq!(
            u64::from(self.holders[&from].tickets) + u64::from(self.holders[&to].tickets),
            total_before,
            "a transfer neither makes nor destroys tickets"
        );
        moved
    }
}

impl Policy for Lottery {
    fn name(&self) -> &'static str {
        "lottery"
    }

    fn enqueue(&mut self, job: &Job, _now: Time, _wake: Wake) {
        let holder = self.holders.entry(job.id).or_insert(Holder {
            tickets: job.tickets,
            affinity: job.affinity,
        });
        holder.affinity = job.affinity;
        assert!(
            self.runnable.insert(job.id),
            "job {} enqueued while runnable",
            job.id
        );
    }

    fn pick(&mut self, cpu: CpuId, _now: Time) -> Option<Dispatch> {
        let candidates = || {
            self.runnable
                .iter()
                .map(|id| (*id, self.holders[id]))
                .filter(|(_, h)| allows(h.affinity, cpu))
        };
        // Sums of u32 over at most 2^32 jobs fit a u64.
        let (count, tickets_total) = candidates().fold((0u64, 0u64), |(n, t), (_, h)| {
            (n + 1, t + u64::from(h.tickets))
        });
        if count == 0 {
            return None;
        }
        let winner = if tickets_total > 0 {
            let mut ticket = self.rng.below(tickets_total);
            let mut winner = None;
            for (id, h) in candidates() {
                let held = u64::from(h.tickets);
                if ticket < held {
                    winner = Some(id);
                    break;
                }
                ticket -= held;
            }
            winner.expect("the winning ticket is below the total")
        } else {
            let k = self.rng.below(count);
            let (id, _) = candidates().nth(k as usize).expect("k < count");
            id
        };
        let removed = self.runnable.remove(&winner);
        debug_assert!(removed);
        Some(Dispatch {
            job: winner,
            slice: Some(self.quantum),
        })
    }

    fn stopped(&mut self, job: &Job, _cpu: CpuId, _ran: Time, _now: Time, stop: Stop) {
        assert!(
            self.holders.contains_key(&job.id) && !self.runnable.contains(&job.id),
            "job {} stopped but was not running",
            job.id
        );
        match stop {
            Stop::Expired | Stop::Preempted => {
                self.runnable.insert(job.id);
            }
            Stop::Blocked => {}
            Stop::Finished => {
                self.holders.remove(&job.id);
            }
        }
    }

    fn runnable(&self) -> usize {
        self.runnable.len()
    }

    /// Gives up the runnable job with the highest id that may run on `cpu` (the last a draw
    /// walks), forgetting its tickets, lent ones included.
    fn steal(&mut self, cpu: CpuId, _now: Time) -> Option<JobId> {
        let id = *self
            .runnable
            .iter()
            .rev()
            .find(|id| allows(self.holders[*id].affinity, cpu))?;
        self.runnable.remove(&id);
        self.holders.remove(&id);
        Some(id)
    }
}

/// The default `BIG` of [`Stride`]: 2^20. Strides are `BIG / tickets` rounded down, so with
/// tickets up to about 1,000 each stride is off its exact ratio by at most 0.1%, while passes
/// (which grow by at most `BIG` per quantum of CPU) take 2^44 quanta to overflow a `u64`.
pub const STRIDE_BIG_DEFAULT: u64 = 1 << 20;

/// Where a stride job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Runnable,
    Running,
    Blocked,
}

/// A job as stride sees it.
#[derive(Debug, Clone, Copy)]
struct Strider {
    stride: u64,
    pass: u64,
    /// What `stride × ran` left over after division by the quantum, so that passes never drift:
    /// always below the quantum.
    pass_remainder: u64,
    affinity: u64,
    state: State,
}

/// Stride scheduling: each job has a stride `BIG / tickets` and a pass; the runnable job with
/// the smallest pass (ties: smallest job id) runs for one quantum, then its pass grows by
/// `stride × ran / quantum`, in proportion to the CPU time it actually got (exact integer
/// arithmetic: the remainder is carried, so many short runs add up to what one long run would).
///
/// A job that arrives starts at the smallest pass among the runnable and running jobs: starting
/// at 0 it would monopolise the CPU until it caught up. A job whose I/O completes likewise
/// resumes at no less than that minimum: time spent blocked earns no credit. A job with 0
/// tickets is given the stride of 1 ticket (`BIG`), and one with more tickets than `BIG` the
/// stride 1.
#[derive(Debug, Clone)]
pub struct Stride {
    quantum: Time,
    big: u64,
    striders: BTreeMap<JobId, Strider>,
    /// The runnable jobs by (pass, id).
    queue: BTreeSet<(u64, JobId)>,
    /// The running jobs by (pass, id), so the smallest active pass is two lookups away.
    running: BTreeSet<(u64, JobId)>,
    /// The smallest pass of a runnable or running job, last time there was one; never decreases.
    pass_min: u64,
}

impl Stride {
    /// Stride with [`STRIDE_BIG_DEFAULT`]. A quantum of 0 is taken as 1 ns.
    pub fn new(quantum: Time) -> Self {
        Self::with_big(quantum, STRIDE_BIG_DEFAULT)
    }

    /// Stride with strides `big / tickets` (OSTEP's example uses 10,000). `big` of 0 is taken
    /// as 1.
    pub fn with_big(quantum: Time, big: u64) -> Self {
        Stride {
            quantum: quantum.max(1),
            big: big.max(1),
            striders: BTreeMap::new(),
            queue: BTreeSet::new(),
            running: BTreeSet::new(),
            pass_min: 0,
        }
    }

    /// `job`'s stride for `tickets` tickets.
    pub fn stride_for(&self, tickets: u32) -> u64 {
        (self.big / u64::from(tickets.max(1))).max(1)
    }

    /// `job`'s pass, if the policy knows it.
    pub fn pass(&self, job: JobId) -> Option<u64> {
        self.striders.get(&job).map(|s| s.pass)
    }

    /// Brings `pass_min` up to the smallest pass of a runnable or running job, if any.
    fn update_pass_min(&mut self) {
        let first = |set: &BTreeSet<(u64, JobId)>| set.first().map(|&(pass, _)| pass);
        let active_min = match (first(&self.queue), first(&self.running)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        debug_assert_eq!(
            active_min,
            self.striders
                .values()
                .filter(|s| s.state != State::Blocked)
                .map(|s| s.pass)
                .min(),
            "the sets hold every active job's pass"
        );
        if let Some(pass) = active_min {
            debug_assert!(pass >= self.pass_min, "the minimum pass never decreases");
            self.pass_min = pass;
        }
    }
}

impl Policy for Stride {
    fn name(&self) -> &'static str {
        "stride"
    }

    fn enqueue(&mut self, job: &Job, _now: Time, _wake: Wake) {
        self.update_pass_min();
        let stride = self.stride_for(job.tickets);
        let pass_min = self.pass_min;
        let s = self.striders.entry(job.id).or_insert(Strider {
            stride,
            pass: pass_min,
            pass_remainder: 0,
            affinity: job.affinity,
            state: State::Blocked,
        });
        assert!(
            s.state == State::Blocked,
            "job {} enqueued while runnable or running",
            job.id
        );
        // Tickets and affinity are read again at each wake-up: they may have changed.
        s.stride = stride;
        s.affinity = job.affinity;
        s.state = State::Runnable;
        if s.pass < pass_min {
            s.pass = pass_min;
            s.pass_remainder = 0;
        }
        self.queue.insert((s.pass, job.id));
    }

    fn pick(&mut self, cpu: CpuId, _now: Time) -> Option<Dispatch> {
        let &(pass, id) = self
            .queue
            .iter()
            .find(|(_, id)| allows(self.striders[id].affinity, cpu))?;
        self.queue.remove(&(pass, id));
        let s = self.striders.get_mut(&id).expect("queued jobs are known");
        debug_assert_eq!((s.pass, s.state), (pass, State::Runnable));
        s.state = State::Running;
        self.running.insert((pass, id));
        Some(Dispatch {
            job: id,
            slice: Some(self.quantum),
        })
    }

    fn stopped(&mut self, job: &Job, _cpu: CpuId, ran: Time, _now: Time, stop: Stop) {
        let quantum = self.quantum;
        let s = self
            .striders
            .get_mut(&job.id)
            .filter(|s| s.state == State::Running)
            .unwrap_or_else(|| panic!("job {} stopped but was not running", job.id));
        let was_running = self.running.remove(&(s.pass, job.id));
        debug_assert!(was_running, "a running job is in the running set");
        let owed = u128::from(s.stride) * u128::from(ran) + u128::from(s.pass_remainder);
        let advance = u64::try_from(owed / u128::from(quantum)).expect("pass advance fits a u64");
        s.pass = s.pass.checked_add(advance).expect("pass overflow");
        s.pass_remainder = (owed % u128::from(quantum)) as u64;
        debug_assert!(s.pass_remainder < quantum);
        match stop {
            Stop::Expired | Stop::Preempted => {
                s.state = State::Runnable;
                self.queue.insert((s.pass, job.id));
            }
            Stop::Blocked => s.state = State::Blocked,
            Stop::Finished => {
                self.striders.remove(&job.id);
            }
        }
        self.update_pass_min();
    }

    fn runnable(&self) -> usize {
        self.queue.len()
    }

    /// Gives up the runnable job with the largest pass that may run on `cpu` (the one that
    /// would run last here), forgetting its pass.
    fn steal(&mut self, cpu: CpuId, _now: Time) -> Option<JobId> {
        let &(pass, id) = self
            .queue
            .iter()
            .rev()
            .find(|(_, id)| allows(self.striders[id].affinity, cpu))?;
        self.queue.remove(&(pass, id));
        self.striders.remove(&id);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    const QUANTUM: Time = 1_000_000;

    /// A job with `tickets`, id = its index in the test's job list.
    fn job(id: JobId, length: Time, tickets: u32) -> Job {
        Job {
            tickets,
            ..Job::new(id, 0, length)
        }
    }

    /// A job that never finishes within a test.
    fn endless(id: JobId, tickets: u32) -> Job {
        job(id, Time::MAX, tickets)
    }

    /// A single-CPU driver: pick, run for the slice (or what is left of the job), stop.
    struct Tally {
        now: Time,
        remaining: Vec<Time>,
        cpu: Vec<Time>,
        finished_at: Vec<Option<Time>>,
        picks: Vec<JobId>,
    }

    impl Tally {
        /// Enqueues all `jobs` (ids 0..n) at time 0.
        fn start(p: &mut impl Policy, jobs: &[Job]) -> Self {
            for (i, j) in jobs.iter().enumerate() {
                assert_eq!(j.id as usize, i);
                p.enqueue(j, 0, Wake::Arrived);
            }
            Tally {
                now: 0,
                remaining: jobs.iter().map(|j| j.length).collect(),
                cpu: vec![0; jobs.len()],
                finished_at: vec![None; jobs.len()],
                picks: Vec::new(),
            }
        }

        /// Runs up to `picks_max` slices, fewer if the CPU goes idle.
        fn run(&mut self, p: &mut impl Policy, jobs: &[Job], picks_max: usize) {
            for _ in 0..picks_max {
                let Some(d) = p.pick(0, self.now) else { return };
                let i = d.job as usize;
                let ran = d.slice.unwrap_or(Time::MAX).min(self.remaining[i]);
                self.now += ran;
                self.remaining[i] -= ran;
                self.cpu[i] += ran;
                self.picks.push(d.job);
                let stop = if self.remaining[i] == 0 {
                    self.finished_at[i] = Some(self.now);
                    Stop::Finished
                } else {
                    Stop::Expired
                };
                p.stopped(&jobs[i], 0, ran, self.now, stop);
            }
        }

        /// CPU shares in parts per million.
        fn shares_ppm(&self) -> Vec<u64> {
            let total: Time = self.cpu.iter().sum();
            self.cpu.iter().map(|c| c * 1_000_000 / total).collect()
        }
    }

    fn assert_within_ppm(got: &[u64], want: &[u64], tolerance: u64) {
        for (g, w) in got.iter().zip(want) {
            assert!(g.abs_diff(*w) <= tolerance, "shares {got:?}, want {want:?}");
        }
    }

    #[test]
    fn lottery_shares_follow_tickets_over_a_long_run() {
        let jobs = [endless(0, 100), endless(1, 200), endless(2, 300)];
        let mut p = Lottery::new(QUANTUM, 42);
        let mut t = Tally::start(&mut p, &jobs);
        t.run(&mut p, &jobs, 100_000);
        assert_eq!(t.picks.len(), 100_000);
        // Within 1% (absolute, 10,000 ppm) of 1/6, 2/6, 3/6.
        assert_within_ppm(&t.shares_ppm(), &[166_667, 333_333, 500_000], 10_000);
        assert_eq!(p.runnable(), 3, "expired jobs stay runnable");
    }

    #[test]
    fn lottery_is_reproducible_from_its_seed() {
        let jobs = [endless(0, 100), endless(1, 200), endless(2, 300)];
        let schedule = |seed| {
            let mut p = Lottery::new(QUANTUM, seed);
            let mut t = Tally::start(&mut p, &jobs);
            t.run(&mut p, &jobs, 1_000);
            t.picks
        };
        assert_eq!(schedule(7), schedule(7));
        assert_ne!(schedule(7), schedule(8));
    }

    #[test]
    fn lottery_ticket_transfer_moves_the_shares() {
        let jobs = [endless(0, 100), endless(1, 200), endless(2, 300)];
        let mut p = Lottery::new(QUANTUM, 3);
        let mut t = Tally::start(&mut p, &jobs);
        // Job 0 lends all its tickets to job 2: 0 / 200 / 400.
        assert_eq!(p.transfer(0, 2, 100), 100);
        assert_eq!((p.tickets(0), p.tickets(2)), (Some(0), Some(400)));
        t.run(&mut p, &jobs, 30_000);
        assert_eq!(
            t.cpu[0], 0,
            "a job with 0 tickets never wins against ticket holders"
        );
        assert_within_ppm(&t.shares_ppm(), &[0, 333_333, 666_667], 10_000);

        // It takes 50 back (and cannot take more than job 2 holds): 50 / 200 / 350.
        assert_eq!(p.transfer(2, 0, 50), 50);
        assert_eq!(p.transfer(1, 0, 1_000), 200, "at most what the giver holds");
        assert_eq!(p.transfer(0, 1, 200), 200);
        assert_eq!(p.transfer(0, 9, 1), 0, "unknown jobs take nothing");
        let before = t.cpu.clone();
        t.run(&mut p, &jobs, 60_000);
        let total: Time = t.cpu.iter().zip(&before).map(|(a, b)| a - b).sum();
        let shares: Vec<u64> = t
            .cpu
            .iter()
            .zip(&before)
            .map(|(a, b)| (a - b) * 1_000_000 / total)
            .collect();
        assert_within_ppm(&shares, &[83_333, 333_333, 583_333], 10_000);
    }

    #[test]
    fn lottery_with_no_tickets_among_the_candidates_still_runs_one() {
        let jobs = [endless(0, 0), endless(1, 0)];
        let mut p = Lottery::new(QUANTUM, 1);
        let mut t = Tally::start(&mut p, &jobs);
        t.run(&mut p, &jobs, 1_000);
        assert!(t.cpu.iter().all(|&c| c > 0), "{:?}", t.cpu);
    }

    /// OSTEP's unfairness metric U = (first completion) / (second completion), in per mille,
    /// of two equal jobs of `quanta` quanta each, averaged over 20 seeds.
    fn lottery_unfairness_per_mille(quanta: Time) -> u64 {
        let jobs = [job(0, quanta * QUANTUM, 100), job(1, quanta * QUANTUM, 100)];
        let seeds = 20;
        let mut sum = 0;
        for seed in 0..seeds {
            let mut p = Lottery::new(QUANTUM, seed);
            let mut t = Tally::start(&mut p, &jobs);
            t.run(&mut p, &jobs, usize::MAX);
            let [a, b] = [t.finished_at[0].unwrap(), t.finished_at[1].unwrap()];
            sum += a.min(b) * 1_000 / a.max(b);
        }
        sum / seeds
    }

    #[test]
    fn lottery_is_fairer_for_longer_jobs() {
        // OSTEP figure 9.2: U is near 0.5 for jobs of one quantum and approaches 1 as jobs grow.
        let one = lottery_unfairness_per_mille(1);
        let short = lottery_unfairness_per_mille(10);
        let long = lottery_unfairness_per_mille(1_000);
        assert_eq!(one, 500);
        assert!(short < 900, "U for 10 quanta: {short}‰");
        assert!(long > 950, "U for 1,000 quanta: {long}‰");
        assert!(one < short && short < long);
    }

    #[test]
    fn lottery_respects_affinity_and_steals_the_last_job() {
        let mut pinned = endless(0, 1_000);
        pinned.affinity = 0b10;
        let jobs = [pinned, endless(1, 1), endless(2, 1)];
        let mut p = Lottery::new(QUANTUM, 5);
        for j in &jobs {
            p.enqueue(j, 0, Wake::Arrived);
        }
        for _ in 0..100 {
            let d = p.pick(0, 0).unwrap();
            assert_ne!(d.job, 0, "job 0 may only run on CPU 1");
            p.stopped(&jobs[d.job as usize], 0, QUANTUM, 0, Stop::Expired);
        }
        assert_eq!(p.steal(0, 0), Some(2));
        assert_eq!(p.steal(0, 0), Some(1));
        assert_eq!(p.steal(0, 0), None, "job 0 may not go to CPU 0");
        assert_eq!(p.pick(1, 0).map(|d| d.job), Some(0));
        assert_eq!(p.runnable(), 0);
    }

    #[test]
    fn stride_follows_ostep_figure_9_3() {
        // A, B, C with 100, 50 and 250 tickets and BIG = 10,000: strides 100, 200 and 40.
        let jobs = [endless(0, 100), endless(1, 50), endless(2, 250)];
        let mut p = Stride::with_big(QUANTUM, 10_000);
        assert_eq!(jobs.map(|j| p.stride_for(j.tickets)), [100, 200, 40]);
        let mut t = Tally::start(&mut p, &jobs);
        t.run(&mut p, &jobs, 8);
        // Passes (A, B, C) before each pick, ties to the lowest id:
        // (0,0,0) A; (100,0,0) B; (100,200,0) C; (100,200,40) C; (100,200,80) C;
        // (100,200,120) A; (200,200,120) C; (200,200,160) C; then (200,200,200).
        let [a, b, c] = [0, 1, 2];
        assert_eq!(t.picks, [a, b, c, c, c, a, c, c]);
        assert_eq!(jobs.map(|j| p.pass(j.id).unwrap()), [200; 3]);
        // All passes tie again at 200: the next round starts as the first did, with A.
        t.run(&mut p, &jobs, 8);
        assert_eq!(t.picks[8..], [a, b, c, c, c, a, c, c]);
    }

    #[test]
    fn stride_shares_are_exact_over_a_long_run() {
        // With BIG = 10,000 the strides are exact and every 8 quanta give A 2, B 1 and C 5.
        let jobs = [endless(0, 100), endless(1, 50), endless(2, 250)];
        let mut p = Stride::with_big(QUANTUM, 10_000);
        let mut t = Tally::start(&mut p, &jobs);
        for round in 1..=1_000u64 {
            t.run(&mut p, &jobs, 97);
            // Ideal CPU time after n quanta: n × tickets / 400 quanta each.
            let n = round * 97;
            for (j, cpu) in jobs.iter().zip(&t.cpu) {
                let ideal = u128::from(n * QUANTUM) * u128::from(j.tickets) / 400;
                let error = (u128::from(*cpu)).abs_diff(ideal);
                // A job's pass is never more than one of the largest stride (200, B's) ahead
                // of another's, that is B's quantum, which is C's 5 quanta: the bound at any
                // instant; at the end of each 8-quantum round the shares are exact.
                assert!(
                    error <= u128::from(QUANTUM) * 200 / u128::from(p.stride_for(j.tickets)),
                    "after {n} quanta job {} has {cpu} ns, ideal {ideal}",
                    j.id
                );
            }
        }
        let to_round_end = (8 - t.picks.len() % 8) % 8;
        t.run(&mut p, &jobs, to_round_end);
        assert_eq!(t.picks.len() % 8, 0);
        let rounds = (t.picks.len() / 8) as u64;
        assert_eq!(
            t.cpu,
            [2 * rounds * QUANTUM, rounds * QUANTUM, 5 * rounds * QUANTUM]
        );
    }

    #[test]
    fn stride_with_the_default_big_is_within_a_quantum_over_a_long_run() {
        // 2^20 / tickets rounds the strides down (10485, 20971, 4194), about 1e-4 off the
        // ticket ratios: after 10,000 quanta that is still less than a quantum per job.
        let jobs = [endless(0, 100), endless(1, 50), endless(2, 250)];
        let mut p = Stride::new(QUANTUM);
        let mut t = Tally::start(&mut p, &jobs);
        t.run(&mut p, &jobs, 10_000);
        for (j, cpu) in jobs.iter().zip(&t.cpu) {
            let ideal = 10_000 * QUANTUM * Time::from(j.tickets) / 400;
            assert!(
                cpu.abs_diff(ideal) <= QUANTUM,
                "job {}: {cpu} ns, ideal {ideal}",
                j.id
            );
        }
    }

    #[test]
    fn stride_charges_the_time_actually_run_without_drift() {
        let a = endless(0, 100);
        let mut p = Stride::with_big(3, 10_000);
        p.enqueue(&a, 0, Wake::Arrived);
        // Three runs of 1 ns under a 3 ns quantum add up to one stride (100), exactly, though
        // each alone is 33.3.
        for now in 1..=3 {
            assert_eq!(p.pick(0, now).map(|d| d.job), Some(0));
            p.stopped(&a, 0, 1, now, Stop::Expired);
        }
        assert_eq!(p.pass(0), Some(100));
        // Blocking charges too.
        assert_eq!(p.pick(0, 4).map(|d| d.job), Some(0));
        p.stopped(&a, 0, 6, 10, Stop::Blocked);
        assert_eq!(p.pass(0), Some(300));
        assert_eq!(p.runnable(), 0);
    }

    #[test]
    fn stride_newcomers_start_at_the_minimum_pass() {
        let jobs = [endless(0, 100), endless(1, 100), endless(2, 100)];
        let mut p = Stride::with_big(QUANTUM, 10_000);
        for j in &jobs[..2] {
            p.enqueue(j, 0, Wake::Arrived);
        }
        let mut t = Tally {
            now: 0,
            remaining: vec![Time::MAX; 3],
            cpu: vec![0; 3],
            finished_at: vec![None; 3],
            picks: Vec::new(),
        };
        t.run(&mut p, &jobs, 1_000);
        assert_eq!(p.pass(0), Some(50_000));
        p.enqueue(&jobs[2], t.now, Wake::Arrived);
        assert_eq!(
            p.pass(2),
            Some(50_000),
            "not 0: it would run 500 quanta in a row"
        );
        t.run(&mut p, &jobs, 3_000);
        assert_eq!(t.cpu, [1_500 * QUANTUM, 1_500 * QUANTUM, 1_000 * QUANTUM]);
    }

    #[test]
    fn stride_sleepers_earn_no_credit() {
        let jobs = [endless(0, 100), endless(1, 100)];
        let mut p = Stride::with_big(QUANTUM, 10_000);
        let mut t = Tally::start(&mut p, &jobs);
        // Job 1 runs once, then blocks while job 0 runs 100 quanta alone.
        t.run(&mut p, &jobs, 1);
        assert_eq!(p.pick(0, t.now).map(|d| d.job), Some(1));
        p.stopped(&jobs[1], 0, QUANTUM, t.now + QUANTUM, Stop::Blocked);
        t.now += QUANTUM;
        t.run(&mut p, &jobs, 100);
        p.enqueue(&jobs[1], t.now, Wake::IoDone);
        assert_eq!(
            p.pass(1),
            p.pass(0),
            "resumes at the minimum pass, not at 100"
        );
    }

    #[test]
    fn stride_respects_affinity_and_steals_the_largest_pass() {
        let mut pinned = endless(0, 100);
        pinned.affinity = 0b10;
        let jobs = [pinned, endless(1, 100), endless(2, 10)];
        let mut p = Stride::with_big(QUANTUM, 10_000);
        for j in &jobs {
            p.enqueue(j, 0, Wake::Arrived);
        }
        let d = p.pick(0, 0).unwrap();
        assert_eq!(
            d,
            Dispatch {
                job: 1,
                slice: Some(QUANTUM)
            },
            "job 0 is pinned to CPU 1"
        );
        p.stopped(&jobs[1], 0, QUANTUM, QUANTUM, Stop::Expired);
        // Passes: 0 (pinned), 100, 0 (job 2).
        assert_eq!(p.steal(0, QUANTUM), Some(1));
        assert_eq!(p.steal(0, QUANTUM), Some(2));
        assert_eq!(p.steal(0, QUANTUM), None);
        assert_eq!(p.runnable(), 1);
    }

    /// Jobs for [`crate::machine::Machine`], numbered by position, all arriving at 0.
    fn machine_jobs(tickets: &[u32], length: Time) -> Vec<crate::machine::JobSpec> {
        tickets
            .iter()
            .map(|&t| {
                let mut spec = crate::machine::JobSpec::cpu(0, length);
                spec.job.tickets = t;
                spec
            })
            .collect()
    }

    fn one_cpu() -> crate::machine::MachineConfig {
        crate::machine::MachineConfig {
            cpus: 1,
            ..Default::default()
        }
    }

    #[test]
    fn lottery_through_the_machine() {
        use crate::machine::Machine;
        // Three jobs of 3,000 quanta; until the first finishes, CPU follows the tickets.
        let jobs = machine_jobs(&[100, 200, 300], 3_000 * QUANTUM);
        let mut m = Machine::new(Lottery::new(QUANTUM, 11), one_cpu(), jobs).unwrap();
        m.run_to_end();
        assert!(m.finished());
        let first_done = m.stats().filter_map(|s| s.completion).min().unwrap();
        let mut cpu = [0; 3];
        for seg in m.segments().iter().filter(|s| s.end <= first_done) {
            cpu[seg.job as usize] += seg.end - seg.start;
        }
        let total: Time = cpu.iter().sum();
        let shares: Vec<u64> = cpu.iter().map(|c| c * 1_000_000 / total).collect();
        assert_within_ppm(&shares, &[166_667, 333_333, 500_000], 20_000);
    }

    #[test]
    fn stride_through_the_machine() {
        use crate::machine::Machine;
        let jobs = machine_jobs(&[100, 50, 250], 100 * QUANTUM);
        let mut m = Machine::new(Stride::with_big(QUANTUM, 10_000), one_cpu(), jobs).unwrap();
        m.run_to_end();
        let order: Vec<JobId> = m.segments().iter().take(8).map(|s| s.job).collect();
        assert_eq!(order, [0, 1, 2, 2, 2, 0, 2, 2], "OSTEP figure 9.3");
        // C (250 tickets) finishes first, at 160 quanta: 5 of every 8 quanta are its.
        let done: Vec<Time> = m.stats().map(|s| s.completion.unwrap()).collect();
        assert_eq!(done[2], 160 * QUANTUM);
        assert_eq!(m.now(), 300 * QUANTUM);
    }
}

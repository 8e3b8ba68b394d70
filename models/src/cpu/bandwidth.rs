//! CFS bandwidth control, as Linux's `cpu` controller does it (`cpu.cfs_quota_us` and
//! `cpu.cfs_period_us` in cgroup v1, `cpu.max` in v2): within each period a machine's jobs and
//! processes together may run at most `quota` of CPU time, summed over all its CPUs. Once that
//! is spent the machine is *throttled*: nothing of it runs until the next period boundary, where
//! the runtime is refilled to `quota` (no carry-over, as without `cpu.cfs_burst_us`). Periods
//! are the multiples of `period` from 0.
//!
//! [`Bandwidth`] is the accounting, kept by the policy wrapper ([`super::model::AnyPolicy`])
//! so that the `sched` crate's `Machine` and policies stay as they are: it refuses picks while
//! throttled, asks the Machine (through the policy's timer) to step at the instant the runtime
//! runs out, answers yes to `preempt` for every running job then, and wakes again at the next
//! boundary. It learns which CPUs run and since when from the Machine itself after each step
//! ([`Bandwidth::sync`], from `HostCpu::step_at`): the start of a run is after its context
//! switch, which only the Machine knows. Between two steps the runs do not change, so the
//! runtime spent is exact: the time each CPU ran a job, as the Machine's busy time counts it.
//!
//! The figures are cgroup's `cpu.stat`: `nr_periods` (here: periods in which the machine ran or
//! was throttled), `nr_throttled` (periods in which it was throttled) and `throttled_time` (the
//! time from each throttling to its period's end).

use sched::{CpuId, Time};

/// A machine's quota: `quota` of CPU time per `period` (`quota` 0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandwidthConfig {
    pub quota: Time,
    pub period: Time,
}

impl BandwidthConfig {
    /// Linux's default period, 100 ms (`cpu.cfs_period_us` 100000).
    pub const DEFAULT_PERIOD: Time = 100_000_000;

    /// Whether it limits anything (a quota of 0 is none, as `cpu.cfs_quota_us` -1 or `cpu.max`
    /// `max`).
    pub fn limits(&self) -> bool {
        self.quota > 0 && self.period > 0
    }
}

/// `cpu.stat`'s figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleStats {
    /// Periods in which the machine ran something or was throttled.
    pub nr_periods: u64,
    /// Periods in which it was throttled.
    pub nr_throttled: u64,
    /// Nanoseconds it spent throttled.
    pub throttled_time: Time,
}

/// The runtime left in the current period, the runs that spend it, and the figures.
#[derive(Debug, Clone)]
pub struct Bandwidth {
    quota: Time,
    period: Time,
    /// Runtime left in the current period; below 0 by less than a nanosecond per CPU when the
    /// instant it ran out fell between two nanoseconds.
    left: i64,
    /// The instant up to which `left` and the figures are counted.
    synced: Time,
    /// Each CPU running a job, with when the job started (after its context switch; possibly
    /// after `synced`), by start.
    runs: Vec<(CpuId, Time)>,
    /// Since when the machine is throttled, if it is.
    throttled: Option<Time>,
    /// The last period counted in `nr_periods`.
    counted: Option<Time>,
    /// The instant the wrapped policy was last given reason to preempt (an enqueue, its timer):
    /// only then is it asked.
    inner_due: Option<Time>,
    /// When the Machine should next step for the quota's sake.
    wake: Option<Time>,
    stats: ThrottleStats,
}

impl Bandwidth {
    /// The accounting of `config`, which must limit ([`BandwidthConfig::limits`]).
    pub fn new(config: BandwidthConfig) -> Self {
        Bandwidth {
            quota: config.quota,
            period: config.period.max(1),
            left: config.quota.min(i64::MAX as Time) as i64,
            synced: 0,
            runs: Vec::new(),
            throttled: None,
            counted: None,
            inner_due: None,
            wake: None,
            stats: ThrottleStats::default(),
        }
    }

    /// The figures up to `now`, a throttling in progress counted to `now`.
    pub fn stats(&mut self, now: Time) -> ThrottleStats {
        self.advance(now);
        let mut s = self.stats;
        if let Some(since) = self.throttled {
            s.throttled_time += now.saturating_sub(since);
        }
        s
    }

    /// Whether the machine is throttled.
    pub fn throttled(&self) -> bool {
        self.throttled.is_some()
    }

    /// When the Machine should step next for the quota: the instant the runtime runs out, or
    /// the period boundary that ends a throttling.
    pub fn wake_at(&self) -> Option<Time> {
        self.wake
    }

    /// A job became runnable at `now` (the wrapped policy may want to preempt).
    pub fn enqueued(&mut self, now: Time) {
        self.advance(now);
        self.inner_due = Some(now);
    }

    /// The wrapped policy's timer ran at `now`.
    pub fn inner_timer(&mut self, now: Time) {
        self.inner_due = Some(now);
    }

    /// Whether the wrapped policy has reason to be asked about preemption at `now`.
    pub fn inner_due(&self, now: Time) -> bool {
        self.inner_due == Some(now)
    }

    /// The job on `cpu` stopped at `now`.
    pub fn stopped(&mut self, cpu: CpuId, now: Time) {
        self.advance(now);
        self.runs.retain(|r| r.0 != cpu);
    }

    /// A CPU is about to pick at `now`: whether the machine is throttled (it must not), which
    /// it becomes now if its runtime is spent and a job `wants` to run.
    pub fn refuses_pick(&mut self, now: Time, wants: bool) -> bool {
        self.advance(now);
        if self.throttled.is_none() && self.left <= 0 && wants {
            self.throttle(now);
        }
        self.throttled.is_some()
    }

    /// The timer at `now`: a boundary refills (in [`Bandwidth::advance`]); runs that spent the
    /// runtime throttle the machine, and the Machine then preempts them.
    pub fn timer(&mut self, now: Time) {
        self.advance(now);
        if self.throttled.is_none() && self.left <= 0 && !self.runs.is_empty() {
            self.throttle(now);
        }
    }

    /// After the Machine stepped at `now`: `runs` are its CPUs running a job and when each
    /// started. Counts the runtime up to `now` and works out the next instant to step.
    pub fn sync(&mut self, now: Time, runs: impl Iterator<Item = (CpuId, Time)>) {
        self.advance(now);
        self.runs.clear();
        self.runs.extend(runs);
        self.runs.sort_unstable_by_key(|r| (r.1, r.0));
        self.wake = self.next_wake(now);
    }

    fn throttle(&mut self, now: Time) {
        self.throttled = Some(now);
        self.stats.nr_throttled += 1;
        self.count_period(now / self.period);
    }

    fn count_period(&mut self, index: Time) {
        if self.counted != Some(index) {
            self.counted = Some(index);
            self.stats.nr_periods += 1;
        }
    }

    /// The runtime the runs spent from `from` to `to`.
    fn spent(&self, from: Time, to: Time) -> Time {
        self.runs
            .iter()
            .map(|r| to.saturating_sub(r.1.max(from)))
            .sum()
    }

    /// The end of the period that holds `t`.
    fn boundary(&self, t: Time) -> Time {
        (t / self.period)
            .saturating_add(1)
            .saturating_mul(self.period)
    }

    /// Counts the runtime spent up to `t`, period by period: at each boundary the runtime is
    /// refilled and a throttling ends. Whole periods in which the runs go on unthrottled are
    /// counted at once, so a long run costs no loop per period.
    fn advance(&mut self, t: Time) {
        while self.synced < t {
            let boundary = self.boundary(self.synced);
            let end = t.min(boundary);
            let used = self.spent(self.synced, end);
            if used > 0 {
                self.left = self.left.saturating_sub(used.min(i64::MAX as Time) as i64);
                self.count_period(self.synced / self.period);
            }
            self.synced = end;
            if end < boundary {
                break;
            }
            self.left = self.quota.min(i64::MAX as Time) as i64;
            if let Some(since) = self.throttled.take() {
                self.stats.throttled_time += boundary - since;
            }
            let whole = (t - end) / self.period;
            let steady = self.runs.iter().all(|r| r.1 <= end)
                && (self.runs.len() as Time).saturating_mul(self.period) < self.quota;
            if whole > 0 && steady {
                if !self.runs.is_empty() {
                    self.stats.nr_periods += whole;
                    self.counted = Some(end / self.period + whole - 1);
                }
                self.synced = end + whole * self.period;
            }
        }
    }

    /// The first instant at or after `from` by which the runs have spent `budget` (from
    /// `from`), if they ever do.
    fn exhausted(&self, from: Time, budget: i64) -> Option<Time> {
        if budget <= 0 {
            return Some(from);
        }
        let budget = budget as Time;
        let (mut t, mut spent) = (from, 0 as Time);
        for (k, r) in self.runs.iter().enumerate() {
            let start = r.1.max(from);
            // Between t and this run's start, the k runs before it spend together.
            let can = (start - t).saturating_mul(k as Time);
            if k > 0 && spent.saturating_add(can) >= budget {
                return Some(t + (budget - spent).div_ceil(k as Time));
            }
            spent = spent.saturating_add(can);
            t = start;
        }
        let k = self.runs.len() as Time;
        (k > 0).then(|| t.saturating_add((budget - spent).div_ceil(k)))
    }

    /// When to step next: the boundary that ends a throttling, or when the runs spend what is
    /// left of this period's runtime, or of the next one's; `None` when they never will.
    fn next_wake(&self, now: Time) -> Option<Time> {
        let boundary = self.boundary(now);
        if self.throttled.is_some() {
            return Some(boundary);
        }
        if self.runs.is_empty() {
            return None;
        }
        if let Some(t) = self.exhausted(now, self.left).filter(|&t| t < boundary) {
            return Some(t);
        }
        let quota = self.quota.min(i64::MAX as Time) as i64;
        match self.exhausted(boundary, quota) {
            Some(t) if t < boundary.saturating_add(self.period) => Some(t),
            // Every run is under way by the boundary and a whole period does not spend the
            // quota: no later one will either.
            _ if self.runs.iter().all(|r| r.1 <= boundary) => None,
            _ => Some(boundary),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Time = 1_000_000;

    fn bw(quota: Time, period: Time) -> Bandwidth {
        Bandwidth::new(BandwidthConfig { quota, period })
    }

    #[test]
    fn the_runtime_runs_out_when_the_runs_have_spent_it() {
        let mut b = bw(100 * MS, 100 * MS);
        // Four CPUs from 0: 100 ms spent by 25 ms.
        b.sync(0, (0..4).map(|c| (c, 0)));
        assert_eq!(b.wake_at(), Some(25 * MS));
        // Two from 0, two from 10 ms: 2 × 10 = 20 by 10 ms, then 80 at 4 per ms: 30 ms.
        b = bw(100 * MS, 100 * MS);
        b.sync(0, [(0, 0), (1, 0), (2, 10 * MS), (3, 10 * MS)].into_iter());
        assert_eq!(b.wake_at(), Some(30 * MS));
        // 10 ns among 3 CPUs: 4 ns each is the first instant by which it is spent.
        b = bw(10, 100 * MS);
        b.sync(0, (0..3).map(|c| (c, 0)));
        assert_eq!(b.wake_at(), Some(4));
    }

    #[test]
    fn one_busy_cpu_with_a_fifth_of_each_period_is_throttled_every_period() {
        let mut b = bw(20 * MS, 100 * MS);
        for p in 0..10 {
            let start = p * 100 * MS;
            assert!(
                !b.refuses_pick(start, true),
                "period {p} starts unthrottled"
            );
            b.sync(start, std::iter::once((0, start)));
            assert_eq!(b.wake_at(), Some(start + 20 * MS));
            b.timer(start + 20 * MS);
            assert!(b.throttled());
            b.stopped(0, start + 20 * MS);
            b.sync(start + 20 * MS, std::iter::empty());
            assert_eq!(b.wake_at(), Some(start + 100 * MS));
        }
        b.timer(1000 * MS);
        assert!(!b.throttled());
        let s = b.stats(1000 * MS);
        assert_eq!(
            s,
            ThrottleStats {
                nr_periods: 10,
                nr_throttled: 10,
                throttled_time: 800 * MS
            }
        );
    }

    #[test]
    fn a_run_under_its_quota_needs_no_step_and_long_stretches_count_every_period() {
        // One CPU with 150 ms of each 100: never throttled, no wake-up.
        let mut b = bw(150 * MS, 100 * MS);
        b.sync(0, std::iter::once((0, 0)));
        assert_eq!(b.wake_at(), None);
        // Half a million periods later, each counted, none throttled.
        let s = b.stats(50_000_000 * MS + 5 * MS);
        assert_eq!(s.nr_periods, 500_001);
        assert_eq!((s.nr_throttled, s.throttled_time), (0, 0));
        // Two CPUs with 60 ms of each 100 spend it in 30 ms; starting mid-period at 90 ms,
        // 20 of 60 are spent by the boundary, and the next period's 60 by 130 ms.
        let mut b = bw(60 * MS, 100 * MS);
        b.sync(90 * MS, [(0, 90 * MS), (1, 90 * MS)].into_iter());
        assert_eq!(b.wake_at(), Some(130 * MS));
    }
}

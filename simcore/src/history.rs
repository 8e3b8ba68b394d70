//! A value's history over a run, bounded: time-weighted means over at most [`BUCKETS_MAX`] equal
//! buckets of simulated time, for charts of gauges (queue length, busy servers, commit index).
//!
//! Why means over buckets rather than kept samples: keeping every k-th change aliases. A gauge
//! that alternates 0, 1, 0, 1 keeps only one parity and draws a flat line at 1 however rarely it
//! is 1. A bucket's time-weighted mean is what the value was on average over that stretch of
//! time, so the chart's area is right whatever the rate of change (an M/M/1 server busy 1% of
//! the time draws near 0.01). Buckets start 1 ns wide and double (merging neighbours) whenever
//! the run outgrows them, so a run of any length ends with between 2048 and 4096 buckets.
//!
//! The value before the first change is 0 from time 0, as a gauge's is.

/// The most buckets a history has.
pub const BUCKETS_MAX: usize = 4096;

#[derive(Debug, Clone)]
pub struct StepHistory {
    /// Bucket width, ns (a power of two).
    width: u64,
    /// Integral of the value over each bucket (value × ns), bucket `i` covering
    /// `[i·width, (i+1)·width)`.
    areas: Vec<f64>,
    value: f64,
    since: u64,
}

impl Default for StepHistory {
    fn default() -> Self {
        StepHistory {
            width: 1,
            areas: Vec::new(),
            value: 0.0,
            since: 0,
        }
    }
}

impl StepHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value is `value` from `now` on. A time before the last change counts as that change's
    /// time (time never runs backwards in a run).
    pub fn set(&mut self, now: u64, value: f64) {
        let now = now.max(self.since);
        self.accumulate(now);
        self.value = if value.is_finite() { value } else { 0.0 };
    }

    /// Adds the current value's area from `since` to `to`.
    fn accumulate(&mut self, to: u64) {
        while to > self.width.saturating_mul(BUCKETS_MAX as u64) && self.width < u64::MAX / 2 {
            self.merge();
        }
        let mut t = self.since;
        while t < to {
            let i = (t / self.width) as usize;
            let bucket_end = (i as u64 + 1).saturating_mul(self.width).min(to);
            if self.areas.len() <= i {
                self.areas.resize(i + 1, 0.0);
            }
            self.areas[i] += self.value * (bucket_end - t) as f64;
            t = bucket_end;
        }
        self.since = to;
        debug_assert!(self.areas.len() <= BUCKETS_MAX);
    }

    /// Doubles the bucket width, summing neighbours.
    fn merge(&mut self) {
        let merged: Vec<f64> = self.areas.chunks(2).map(|pair| pair.iter().sum()).collect();
        self.areas = merged;
        self.width *= 2;
    }

    /// The history up to `end`: one point per bucket, `(bucket start ns, mean value over the part
    /// of the bucket before end)`.
    pub fn points(&self, end: u64) -> Vec<(u64, f64)> {
        let mut h = self.clone();
        h.accumulate(end.max(h.since));
        let end = h.since;
        h.areas
            .iter()
            .enumerate()
            .map(|(i, &area)| {
                let start = i as u64 * h.width;
                let covered = (start + h.width).min(end).saturating_sub(start).max(1);
                (start, area / covered as f64)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rarely_busy_server_draws_near_its_true_mean() {
        // Busy for 1 ns in every 100 ns, 100,000 times: the mean is 0.01 everywhere.
        let mut h = StepHistory::new();
        for k in 0..100_000u64 {
            h.set(k * 100, 1.0);
            h.set(k * 100 + 1, 0.0);
        }
        let pts = h.points(10_000_000);
        assert!(
            pts.len() <= BUCKETS_MAX && pts.len() > BUCKETS_MAX / 4,
            "{}",
            pts.len()
        );
        for &(t, v) in &pts {
            assert!((v - 0.01).abs() < 0.002, "at {t}: {v}");
        }
    }

    #[test]
    fn steps_are_exact_while_the_buckets_are_fine() {
        let mut h = StepHistory::new();
        h.set(10, 2.0);
        h.set(20, 5.0);
        let pts = h.points(30);
        assert_eq!(pts[0], (0, 0.0));
        assert_eq!(pts[15], (15, 2.0));
        assert_eq!(pts[25], (25, 5.0));
        assert_eq!(pts.len(), 30);
    }

    #[test]
    fn the_area_is_kept_through_merges() {
        let mut h = StepHistory::new();
        h.set(0, 3.0);
        h.set(1_000_000_007, 1.0);
        let pts = h.points(2_000_000_000);
        let width = pts[1].0 - pts[0].0;
        let end = 2_000_000_000u64;
        // The last bucket's mean is over the part of it before the end.
        let area: f64 = pts
            .iter()
            .map(|&(t, v)| v * ((t + width).min(end) - t) as f64)
            .sum();
        let exact = 3.0 * 1_000_000_007.0 + (2_000_000_000.0 - 1_000_000_007.0);
        assert!((area - exact).abs() / exact < 1e-9, "{area} vs {exact}");
    }
}

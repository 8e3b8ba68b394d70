//! How the benches print and summarise what they measured: one rule each, shared by the mm1,
//! raft, disk and cloud benches.

use simcore::MetricsSnapshot;

/// 12345678.9 -> "12.35M".
pub fn si(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.2}G", x / 1e9),
        x if x >= 1e6 => format!("{:.2}M", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.1}"),
    }
}

/// The median of `xs` (the upper one of an even count); what a bench reports of several runs,
/// robust to one run that shared its core with something else on a 2-core machine.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs of `(count, wall seconds)` as "3 runs, 4.20M..4.42M" (their lowest and highest rate), or
/// "1 run".
pub fn rate_spread(runs: impl ExactSizeIterator<Item = (u64, f64)>) -> String {
    let n = runs.len();
    if n < 2 {
        return "1 run".into();
    }
    let (lo, hi) = runs
        .map(|(count, wall)| count as f64 / wall)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        });
    format!("{n} runs, {}..{}", si(lo), si(hi))
}

/// A timed run: how many items (customers, requests, calls) it got through, in how many wall
/// seconds.
pub trait Counted {
    fn count(&self) -> u64;
    fn wall_s(&self) -> f64;
}

/// Several runs of the same thing; the median wall time is what is reported (robust to one run
/// that shared its core with something else, on a 2-core machine).
pub struct Measured<R> {
    pub label: String,
    pub runs: Vec<R>,
}

impl<R: Counted> Measured<R> {
    pub fn median_wall(&self) -> f64 {
        median(self.runs.iter().map(Counted::wall_s).collect())
    }

    /// The items of one run (every run gets through the same).
    pub fn count(&self) -> u64 {
        self.runs[0].count()
    }

    /// Items per wall second, at the median.
    pub fn rate(&self) -> f64 {
        self.count() as f64 / self.median_wall()
    }

    pub fn spread(&self) -> String {
        rate_spread(self.runs.iter().map(|r| (r.count(), r.wall_s())))
    }
}

/// Statistic `stat` of metric `name` in a run's metrics.
pub fn metric_stat(metrics: &MetricsSnapshot, name: &str, stat: &str) -> Result<f64, String> {
    metrics
        .get(name)
        .and_then(|m| m.stat(stat))
        .ok_or_else(|| format!("the run has no {stat}({name})"))
}

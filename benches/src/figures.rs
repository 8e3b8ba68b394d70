//! How the benches print and summarise what they measured: one rule each, shared by the mm1,
//! raft and disk benches.

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

/// Statistic `stat` of metric `name` in a run's metrics.
pub fn metric_stat(metrics: &MetricsSnapshot, name: &str, stat: &str) -> Result<f64, String> {
    metrics
        .get(name)
        .and_then(|m| m.stat(stat))
        .ok_or_else(|| format!("the run has no {stat}({name})"))
}

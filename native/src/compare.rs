//! `native run FILE.scn --compare N`: the scenario N times on the machine and over N seeds in the
//! simulator, and how far apart they are, metric by metric.
//!
//! Both sides measure the same things the same way: the time from a leader's crash to the next
//! leader, a leader's time from appending an entry to knowing it committed (the same
//! `models::raft::latency::CommitClock` in the simulated cluster and in the node process), the
//! clients' operation latency (the same client code), and messages sent per committed entry
//! (Raft messages, client requests and replies on both sides). Each latency's samples are pooled
//! over the runs; messages per entry is one value per run. The error is the measured median's
//! distance from the simulated one, relative to the simulated one.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use scenarios::runner::{RunOptions, run_scenario};
use simcore::MetricValue;

use crate::run::{NativeReport, RunArgs, RunError, load_cluster, run};

/// One metric on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    /// Whether values are nanoseconds.
    pub is_duration: bool,
    pub sim: Option<Stats>,
    pub native: Option<Stats>,
}

impl Row {
    /// (measured median - simulated median) / simulated median, when both were measured.
    pub fn error(&self) -> Option<f64> {
        let (s, n) = (self.sim?, self.native?);
        (s.median != 0.0).then(|| (n.median - s.median) / s.median)
    }
}

/// Median and 99th percentile of a sample set, and its size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub p99: f64,
    pub n: usize,
}

/// Nearest-rank percentiles of `values`; None when there are none.
pub fn stats(values: &[f64]) -> Option<Stats> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Stats {
        median: at(0.5),
        p99: at(0.99),
        n: v.len(),
    })
}

/// What one side measured, pooled over its runs.
#[derive(Debug, Default)]
struct Side {
    election: Vec<f64>,
    commit: Vec<f64>,
    op: Vec<f64>,
    per_entry: Vec<f64>,
}

impl Side {
    fn rows(sim: &Side, native: &Side) -> Vec<Row> {
        let row = |metric, is_duration, f: fn(&Side) -> &Vec<f64>| Row {
            metric,
            is_duration,
            sim: stats(f(sim)),
            native: stats(f(native)),
        };
        vec![
            row("time to elect a leader after a leader crash", true, |s| {
                &s.election
            }),
            row("commit latency (leader append to commit)", true, |s| {
                &s.commit
            }),
            row("client operation latency", true, |s| &s.op),
            row("messages per committed entry", false, |s| &s.per_entry),
        ]
    }
}

/// Runs the comparison: `runs` native runs (seeds from the scenario's, or `--seed`, on), then
/// the simulator over the same seeds.
pub fn compare(args: &RunArgs, runs: usize, stop: Arc<AtomicBool>) -> Result<Vec<Row>, RunError> {
    let (cfg, seed, _, _) = load_cluster(&args.scenario, args.seed)?;
    let mut native = Side::default();
    for k in 0..runs as u64 {
        let one = RunArgs {
            seed: Some(seed + k),
            keep: false,
            ..args.clone()
        };
        let r = run(&one, Arc::clone(&stop))?;
        add_native(&mut native, &r);
    }
    let scenario =
        scenarios::load(&args.scenario).map_err(|e| RunError::Scenario(e.to_string()))?;
    let mut sim = Side::default();
    let load = cfg
        .load
        .as_ref()
        .map(|l| l.name.clone())
        .unwrap_or_default();
    for k in 0..runs as u64 {
        let opts = RunOptions {
            seed: Some(seed + k),
            until: args.until,
            record: true,
            ..RunOptions::default()
        };
        let r = run_scenario(&scenario, &opts).map_err(|e| RunError::Scenario(e.to_string()))?;
        let dist = |name: String| -> Vec<f64> {
            r.result
                .distributions
                .get(&name)
                .map(|v| v.iter().map(|&x| x as f64).collect())
                .unwrap_or_default()
        };
        sim.election
            .extend(dist(format!("{}.election_time", cfg.name)));
        sim.commit
            .extend(dist(format!("{}.commit_latency", cfg.name)));
        sim.op.extend(dist(format!("{load}.latency")));
        let counter = |name: String| match r.result.metrics.get(&name) {
            Some(MetricValue::Counter { value }) => *value as f64,
            _ => 0.0,
        };
        let commits = counter(format!("{}.commits", cfg.name));
        if commits > 0.0 {
            sim.per_entry
                .push(counter(format!("{}.sent", cfg.network)) / commits);
        }
    }
    Ok(Side::rows(&sim, &native))
}

fn add_native(side: &mut Side, r: &NativeReport) {
    let f = |v: &[u64]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    side.election.extend(f(&r.election_times_ns));
    side.commit.extend(f(&r.commit_latencies_ns));
    side.op.extend(f(&r.latencies_ns));
    if r.committed > 0 {
        side.per_entry.push(r.messages as f64 / r.committed as f64);
    }
}

/// The comparison as a table for people.
pub fn table(rows: &[Row], runs: usize) -> Vec<String> {
    let show = |s: Option<Stats>, d: bool| match s {
        Some(s) => (
            reports::text::show(s.median, d),
            reports::text::show(s.p99, d),
            s.n.to_string(),
        ),
        None => ("-".into(), "-".into(), "0".into()),
    };
    let mut out = vec![
        format!("{runs} run(s) on this machine, {runs} seed(s) in the simulator"),
        format!(
            "{:<44} {:>10} {:>10} {:>7}   {:>10} {:>10} {:>7}   {:>8}",
            "metric", "sim p50", "sim p99", "n", "real p50", "real p99", "n", "error"
        ),
    ];
    for r in rows {
        let (sm, sp, sn) = show(r.sim, r.is_duration);
        let (nm, np, nn) = show(r.native, r.is_duration);
        let err = r
            .error()
            .map_or("-".to_string(), |e| format!("{:+.1}%", e * 100.0));
        out.push(format!(
            "{:<44} {sm:>10} {sp:>10} {sn:>7}   {nm:>10} {np:>10} {nn:>7}   {err:>8}",
            r.metric
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_errors() {
        let s = stats(&[5.0, 1.0, 3.0, f64::NAN]).unwrap();
        assert_eq!((s.median, s.p99, s.n), (3.0, 5.0, 3));
        assert_eq!(stats(&[]), None);
        let row = Row {
            metric: "x",
            is_duration: false,
            sim: Some(Stats {
                median: 2.0,
                p99: 4.0,
                n: 1,
            }),
            native: Some(Stats {
                median: 3.0,
                p99: 5.0,
                n: 1,
            }),
        };
        assert_eq!(row.error(), Some(0.5));
        assert_eq!(
            Row {
                native: None,
                ..row
            }
            .error(),
            None
        );
    }
}

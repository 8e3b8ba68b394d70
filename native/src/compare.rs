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
//!
//! Every run is also judged, as `native run` and `sim run` judge one: the native runs by their
//! end-of-run checks, the simulated ones by the models' checks and the scenario's metric
//! expectations. A comparison in which a run broke a check is a failed comparison, whatever its
//! figures say.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use models::world::{World, WorldConfig};
use simcore::{Dist, MetricValue, RunResult, SimConfig, Simulation, StopAt};

use crate::run::{NativeReport, RunArgs, RunError, load_cluster, run};

/// One metric on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    /// Whether values are nanoseconds.
    pub is_duration: bool,
    pub sim: Option<Stats>,
    pub native: Option<Stats>,
    /// The simulator with the network calibrated on this machine (`--calibration`).
    pub calibrated: Option<Stats>,
}

/// (measured median - simulated median) / simulated median, when both were measured.
fn error_of(sim: Option<Stats>, native: Option<Stats>) -> Option<f64> {
    let (s, n) = (sim?, native?);
    (s.median != 0.0).then(|| (n.median - s.median) / s.median)
}

impl Row {
    /// The measured median's error against the simulator as the scenario says.
    pub fn error(&self) -> Option<f64> {
        error_of(self.sim, self.native)
    }

    /// The measured median's error against the calibrated simulator.
    pub fn calibrated_error(&self) -> Option<f64> {
        error_of(self.calibrated, self.native)
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
    let mut pool = Pool::default();
    pool.add(values.iter().copied());
    pool.stats()
}

/// One metric's values pooled over runs. A value may stand for many: a simulated run keeps at
/// most 4,096 evenly spaced quantiles of a histogram (`RunResult::distributions`), and each then
/// weighs the histogram's true count over the quantiles kept, so percentiles weigh every run by
/// what it measured and `n` is the true number of values.
#[derive(Debug, Default)]
struct Pool {
    /// (value, how many values it stands for)
    weighted: Vec<(f64, f64)>,
    count: u64,
}

impl Pool {
    /// Values measured one by one.
    fn add(&mut self, values: impl IntoIterator<Item = f64>) {
        for v in values.into_iter().filter(|v| v.is_finite()) {
            self.weighted.push((v, 1.0));
            self.count += 1;
        }
    }

    /// `(value, count)` pairs, each value standing for `count` values (a histogram's buckets).
    fn add_counted(&mut self, counted: impl IntoIterator<Item = (u64, u64)>) {
        for (v, c) in counted.into_iter().filter(|&(_, c)| c > 0) {
            self.weighted.push((v as f64, c as f64));
            self.count += c;
        }
    }

    /// Weighted nearest-rank percentiles (with every weight 1: the plain nearest rank).
    fn stats(&self) -> Option<Stats> {
        let mut v = self.weighted.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = v.iter().map(|x| x.1).sum();
        let at = |q: f64| {
            let rank = (q * total).ceil().max(1.0);
            let mut seen = 0.0;
            v.iter()
                .find(|x| {
                    seen += x.1;
                    seen >= rank
                })
                .map_or(v[v.len() - 1].0, |x| x.0)
        };
        Some(Stats {
            median: at(0.5),
            p99: at(0.99),
            n: self.count as usize,
        })
    }
}

/// What one side measured, pooled over its runs.
#[derive(Debug, Default)]
struct Side {
    election: Pool,
    commit: Pool,
    op: Pool,
    per_entry: Pool,
}

impl Side {
    fn rows(sim: &Side, native: &Side, calibrated: Option<&Side>) -> Vec<Row> {
        let row = |metric, is_duration, f: fn(&Side) -> &Pool| Row {
            metric,
            is_duration,
            sim: f(sim).stats(),
            native: f(native).stats(),
            calibrated: calibrated.and_then(|c| f(c).stats()),
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

/// The network latency measured by `native calibrate net`, and the file it came from (for the
/// replay of a calibrated simulated run).
#[derive(Debug, Clone)]
pub struct Calibrated {
    pub file: PathBuf,
    pub latency: Dist,
}

/// How one run of a comparison fared against its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct RunChecks {
    /// Which run: `native seed 3`, `sim seed 3`, `calibrated sim seed 3`.
    pub run: String,
    /// What was checked.
    pub checked: Vec<String>,
    /// (check, detail) for each violation shown (a simulated run keeps the first 100).
    pub violations: Vec<(String, String)>,
    /// Every violation, shown or not.
    pub violations_total: u64,
    /// The command that replays a simulated run (a native run cannot be replayed: its detail
    /// is the evidence).
    pub replay: Option<String>,
}

impl RunChecks {
    pub fn ok(&self) -> bool {
        self.violations_total == 0
    }
}

/// A whole comparison: the figures, and every run's checks.
#[derive(Debug)]
pub struct Comparison {
    pub rows: Vec<Row>,
    pub runs: Vec<RunChecks>,
}

impl Comparison {
    /// Every check of every run held.
    pub fn ok(&self) -> bool {
        self.runs.iter().all(RunChecks::ok)
    }
}

/// Runs the comparison: `runs` native runs (seeds from the scenario's, or `--seed`, on), then
/// the simulator over the same seeds, as the scenario says and, with `calibrated`, with that
/// network latency instead. Every run is judged; a run that breaks a check does not stop the
/// others.
pub fn compare(
    args: &RunArgs,
    runs: usize,
    calibrated: Option<&Calibrated>,
    stop: Arc<AtomicBool>,
) -> Result<Comparison, RunError> {
    let seed = load_cluster(&args.scenario, args.seed, &args.variant)?.seed;
    let mut native = Side::default();
    let mut checks = Vec::new();
    for k in 0..runs as u64 {
        let one = RunArgs {
            seed: Some(seed + k),
            keep: false,
            ..args.clone()
        };
        let r = run(&one, Arc::clone(&stop))?;
        add_native(&mut native, &r);
        checks.push(native_checks(&r));
    }
    let sim = sim_side(args, seed, runs, None, &mut checks)?;
    let cal = match calibrated {
        Some(c) => Some(sim_side(args, seed, runs, Some(c), &mut checks)?),
        None => None,
    };
    Ok(Comparison {
        rows: Side::rows(&sim, &native, cal.as_ref()),
        runs: checks,
    })
}

fn native_checks(r: &NativeReport) -> RunChecks {
    RunChecks {
        run: format!("native seed {}", r.seed),
        checked: r
            .held
            .iter()
            .cloned()
            .chain(r.violations.iter().map(|v| v.0.clone()))
            .collect(),
        violations: r.violations.clone(),
        violations_total: r.violations.len() as u64,
        replay: None,
    }
}

/// The simulator over `runs` seeds from `seed`, recording, with the network latency replaced
/// by `calibrated`'s when given; each run's checks go to `checks`.
fn sim_side(
    args: &RunArgs,
    seed: u64,
    runs: usize,
    calibrated: Option<&Calibrated>,
    checks: &mut Vec<RunChecks>,
) -> Result<Side, RunError> {
    let mut sim = Side::default();
    for k in 0..runs as u64 {
        let loaded = load_cluster(&args.scenario, Some(seed + k), &args.variant)?;
        let mut cfg = loaded.world();
        let (seed, duration, scenario) = (loaded.seed, loaded.duration, loaded.scenario);
        if let Some(c) = calibrated {
            cfg.network.link.latency = c.latency.clone();
        }
        let cluster = &loaded.cluster;
        let (raft, network) = (cluster.name.clone(), cfg.network.name.clone());
        let load = cluster
            .load
            .as_ref()
            .map(|l| l.name.clone())
            .unwrap_or_default();
        let checked = sim_checked(&cfg, &scenario);
        let model = World::new(cfg).map_err(RunError::Scenario)?;
        let config = SimConfig {
            record: true,
            ..SimConfig::new(seed)
        };
        let stop = StopAt {
            time: args.until.or(duration),
            events: None,
        };
        let (mut r, _) = Simulation::new(model, config)
            .run(stop)
            .map_err(|e| RunError::Scenario(e.to_string()))?;
        // The scenario's metric expectations, as `sim run` judges them.
        scenarios::runner::judge(&scenario, &mut r)
            .map_err(|e| RunError::Scenario(e.to_string()))?;
        let replay = sim_replay(args, seed, &loaded.variant_flags, calibrated);
        checks.push(sim_checks(seed, calibrated, checked, replay, &r));
        // Every value recorded (at its histogram bucket's middle, within 0.1%), each bucket
        // weighing its count, so `n` is the true count.
        let pool = |pool: &mut Pool, name: String| {
            if let Some(h) = r.distributions.get(&name) {
                pool.add_counted(h.counted());
            }
        };
        pool(&mut sim.election, format!("{raft}.election_time"));
        pool(&mut sim.commit, format!("{raft}.commit_latency"));
        pool(&mut sim.op, format!("{load}.latency"));
        let counter = |name: String| match r.metrics.get(&name) {
            Some(MetricValue::Counter { value }) => *value as f64,
            _ => 0.0,
        };
        let commits = counter(format!("{raft}.commits"));
        if commits > 0.0 {
            sim.per_entry
                .add([counter(format!("{network}.sent")) / commits]);
        }
    }
    Ok(sim)
}

/// What a simulated run of `cfg` checks: Raft's safety properties after every event, then what
/// the scenario expects.
fn sim_checked(cfg: &WorldConfig, scenario: &scenarios::ast::Scenario) -> Vec<String> {
    let mut checked = vec!["safety (Raft's properties after every event)".to_string()];
    let raft = cfg.raft.as_ref();
    if raft.is_some_and(|r| r.check_linearizable) {
        checked.push("linearizable".into());
    }
    if raft.is_some_and(|r| r.check_durable) {
        checked.push("durable".into());
    }
    if !cfg.liveness.is_empty() {
        checked.push("liveness".into());
    }
    let metric =
        |e: &&scenarios::ast::Expect| matches!(e.check, scenarios::ast::Check::Metric { .. });
    checked.extend(
        scenario
            .expects
            .iter()
            .filter(metric)
            .map(|e| e.text.trim_start_matches("expect ").to_string()),
    );
    checked
}

/// The command that replays simulated run `seed`: the chosen variant's flags and `--until`, as
/// `sim run` prints them, and how to use the calibrated network when there is one.
fn sim_replay(
    args: &RunArgs,
    seed: u64,
    variant_flags: &str,
    calibrated: Option<&Calibrated>,
) -> String {
    let flags = scenarios::runner::replay_flags(&scenarios::runner::RunOptions {
        until: args.until,
        ..Default::default()
    });
    let file = args.scenario.display().to_string();
    let mut replay =
        scenarios::runner::replay_command(&file, seed, &format!("{variant_flags}{flags}"));
    if let Some(c) = calibrated {
        replay.push_str(&calibrated_replay(&c.file));
    }
    replay
}

fn sim_checks(
    seed: u64,
    calibrated: Option<&Calibrated>,
    checked: Vec<String>,
    replay: String,
    r: &RunResult,
) -> RunChecks {
    RunChecks {
        run: match calibrated {
            Some(_) => format!("calibrated sim seed {seed}"),
            None => format!("sim seed {seed}"),
        },
        checked,
        violations: r
            .violations
            .iter()
            .map(|v| (v.check.clone(), v.detail.clone()))
            .collect(),
        violations_total: r.violations_total,
        replay: Some(replay),
    }
}

/// How to replay a run with the calibrated network: `sim run` has no flag for it, the scenario
/// takes the calibration in place of its `network` block.
fn calibrated_replay(file: &Path) -> String {
    format!(
        " (with the scenario's `network` block replaced by `include \"{}\"`)",
        file.display()
    )
}

fn add_native(side: &mut Side, r: &NativeReport) {
    let f = |v: &[u64]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    side.election.add(f(&r.election_times_ns));
    side.commit.add(f(&r.commit_latencies_ns));
    side.op.add(f(&r.latencies_ns));
    if r.committed > 0 {
        side.per_entry.add([r.messages as f64 / r.committed as f64]);
    }
}

/// Every run's checks for people: a line per run, and under a failed one its violations and,
/// for a simulated one, the command that replays it; then the verdict.
pub fn checks_report(runs: &[RunChecks]) -> Vec<String> {
    let mut out = vec!["checks".to_string()];
    for r in runs {
        if r.ok() {
            out.push(format!("  ok    {}: {}", r.run, r.checked.join(", ")));
            continue;
        }
        out.push(format!(
            "  FAIL  {}: {} violation(s) of {}",
            r.run,
            r.violations_total,
            r.checked.join(", ")
        ));
        for (check, detail) in &r.violations {
            out.push(format!("          {check}: {detail}"));
        }
        let hidden = r.violations_total.saturating_sub(r.violations.len() as u64);
        if hidden > 0 {
            out.push(format!("          ... and {hidden} more"));
        }
        if let Some(replay) = &r.replay {
            out.push(format!("          replay: {replay}"));
        }
    }
    let failed = runs.iter().filter(|r| !r.ok()).count();
    out.push(match failed {
        0 => format!("result     ok: every check held in all {} runs", runs.len()),
        n => format!(
            "result     FAILED: {n} of {} runs broke a check",
            runs.len()
        ),
    });
    out
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
    let pct = |e: Option<f64>| e.map_or("-".to_string(), |e| format!("{:+.1}%", e * 100.0));
    let calibrated = rows.iter().any(|r| r.calibrated.is_some());
    let mut head = format!(
        "{:<44} {:>9} {:>9} {:>6}   {:>9} {:>9} {:>6}   {:>8}",
        "metric", "sim p50", "sim p99", "n", "real p50", "real p99", "n", "error"
    );
    if calibrated {
        head.push_str(&format!(
            "   {:>9} {:>9} {:>8}",
            "cal p50", "cal p99", "cal err"
        ));
    }
    let mut out = vec![
        format!("{runs} run(s) on this machine, {runs} seed(s) in the simulator"),
        head,
    ];
    for r in rows {
        let (sm, sp, sn) = show(r.sim, r.is_duration);
        let (nm, np, nn) = show(r.native, r.is_duration);
        let mut line = format!(
            "{:<44} {sm:>9} {sp:>9} {sn:>6}   {nm:>9} {np:>9} {nn:>6}   {:>8}",
            r.metric,
            pct(r.error())
        );
        if calibrated {
            let (cm, cp, _) = show(r.calibrated, r.is_duration);
            line.push_str(&format!(
                "   {cm:>9} {cp:>9} {:>8}",
                pct(r.calibrated_error())
            ));
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket standing for 1,000 values outweighs three of one value each: the pooled median
    /// is the first's, and `n` counts every value.
    #[test]
    fn counted_values_weigh_what_they_stand_for() {
        let mut p = Pool::default();
        p.add_counted([(100, 1_000)]);
        p.add_counted([(1, 1), (2, 1), (3, 1), (4, 0)]);
        let s = p.stats().unwrap();
        assert_eq!((s.median, s.n), (100.0, 1_003));
        p.add([7.0]);
        assert_eq!(p.stats().unwrap().n, 1_004);
    }

    /// The simulated side's `n` is the histograms' true count, not the 4,096 quantiles a run
    /// keeps of each: 64 clients over a fast network make many thousand operations in 3 s.
    #[test]
    fn the_simulated_side_counts_every_value_not_the_kept_ones() {
        let dir = tempfile::tempdir().unwrap();
        let scn = dir.path().join("busy.scn");
        std::fs::write(
            &scn,
            r#"scenario "busy" {
  seed 1
  duration 3s
  network { latency uniform(50us, 100us) }
  raft cluster { nodes n1..n3 }
  load kv { clients 64  rate 20000/s  keys uniform(1, 50) }
}
"#,
        )
        .unwrap();
        let args = RunArgs {
            scenario: scn,
            seed: None,
            until: None,
            keep: false,
            emulate_latency: false,
            netns: false,
            variant: Vec::new(),
        };
        let mut checks = Vec::new();
        let side = sim_side(&args, 1, 1, None, &mut checks).unwrap();
        let op = side.op.stats().unwrap();
        assert!(op.n > 4_096, "client operations counted: {}", op.n);
        // The true count is the ok and failed operations the run reported.
        let loaded = load_cluster(&args.scenario, Some(1), &[]).unwrap();
        let load = loaded.cluster.load.as_ref().unwrap().name.clone();
        let (r, _) = Simulation::new(World::new(loaded.world()).unwrap(), SimConfig::new(1))
            .run(StopAt {
                time: Some(simcore::SimTime::from_nanos(3_000_000_000)),
                events: None,
            })
            .unwrap();
        let counter = |n: &str| match r.metrics.get(&format!("{load}.{n}")) {
            Some(MetricValue::Counter { value }) => *value,
            _ => 0,
        };
        assert_eq!(op.n as u64, counter("ok") + counter("fail"), "{op:?}");
        assert_eq!(checks.len(), 1);
        assert!(checks[0].ok(), "{:?}", checks[0]);
    }

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
            calibrated: Some(Stats {
                median: 4.0,
                p99: 5.0,
                n: 1,
            }),
        };
        assert_eq!(row.calibrated_error(), Some(-0.25));
        let lines = table(std::slice::from_ref(&row), 1);
        assert!(
            lines[1].contains("cal err") && lines[2].contains("+50.0%"),
            "{lines:?}"
        );
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

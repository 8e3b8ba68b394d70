//! Raft: how fast the flagship model runs, two ways, in one run:
//!
//! 1. **Simulated over wall time, one core.** `scenarios::run_file("scenarios/raft-bench.scn")`
//!    (a healthy 5-node cluster, 4 clients at 100 operations/s, 300 s simulated, `expect
//!    linearizable`) on the calling thread: the whole `sim run` path, timed from outside the call,
//!    median of 3 runs after one warm-up. Reported as simulated seconds per wall second, events/s
//!    and ns per event. The same file with its `expect linearizable` line removed (an edited copy
//!    in a temporary file, through the same `run_file` path) runs alternately with it, so the
//!    difference is what the end-of-run linearizability check costs. Target: 10,000x real time.
//! 2. **Seeds per hour on 2 cores.** `scenarios/raft-partition.scn` (30 s simulated, partitions,
//!    a crash, clock skew, four checks) loaded once and run with seeds 1..=N through
//!    `run_scenario` in a rayon pool of exactly 2 threads, then again in a pool of 1 thread, so
//!    the scaling shows. Every seed should pass; failures are listed with their replay commands
//!    and make the bench exit non-zero (timings never do). Target: 1,000,000 seeds per hour.
//!
//! Run: `cargo bench -p sim-benches --bench raft` (about 15 s on 2 cores, after the build).
//! Smoke run: `cargo bench -p sim-benches --bench raft -- --quick` (raft-bench cut to 30 s
//! simulated with `RunOptions::until`, one timed run, 20 seeds).
//! Environment: `SIM_BENCH_SEEDS` (N, default 400; 20 with `--quick`), `SIM_BENCH_REPS` (timed
//! runs of part 1, median reported; default 3, 1 with `--quick`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;
use scenarios::{RunOptions, RunReport, load, run_file, run_scenario};
use sim_benches::figures::{median, si};
use sim_benches::{cpu_seconds, env_number};
use simcore::SimTime;

/// Simulated seconds per wall second on one core, at least.
const SPEEDUP_TARGET: f64 = 10_000.0;
/// Seeds of raft-partition.scn per hour on 2 cores, at least.
const SEEDS_PER_HOUR_TARGET: f64 = 1_000_000.0;

const DEFAULT_SEEDS: u64 = 400;
const QUICK_SEEDS: u64 = 20;
const DEFAULT_REPS: usize = 3;
/// `--quick` stops raft-bench.scn here instead of at its 300 s.
const QUICK_UNTIL_S: u64 = 30;
/// The line removed from raft-bench.scn for the run without the linearizability check.
const LINEARIZABLE_LINE: &str = "expect linearizable";

struct Settings {
    quick: bool,
    seeds: u64,
    reps: usize,
}

fn settings() -> Result<Settings, String> {
    // cargo passes `--bench` (and any filter) to a harness-less bench: ignore what we don't know.
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    let seeds = env_number::<u64>("SIM_BENCH_SEEDS")?.unwrap_or(if quick {
        QUICK_SEEDS
    } else {
        DEFAULT_SEEDS
    });
    if seeds == 0 {
        return Err("SIM_BENCH_SEEDS must be at least 1".into());
    }
    let reps =
        env_number::<usize>("SIM_BENCH_REPS")?.unwrap_or(if quick { 1 } else { DEFAULT_REPS });
    if reps == 0 {
        return Err("SIM_BENCH_REPS must be at least 1".into());
    }
    Ok(Settings { quick, seeds, reps })
}

/// One timed `run_file`: wall seconds from outside the call, and what the run reported.
struct Run {
    wall_s: f64,
    /// `RunReport::wall_time_s`: the engine's run alone, end-of-run model checks included.
    loop_s: f64,
    sim_s: f64,
    events: u64,
}

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Runs `path` through the whole `sim run` path; the run must be one run and must pass.
fn timed_run_file(path: &Path, opts: &RunOptions) -> Result<Run, String> {
    let started = Instant::now();
    let reports = run_file(path, opts).map_err(|e| e.to_string())?;
    let wall_s = started.elapsed().as_secs_f64();
    let [report] = reports.as_slice() else {
        return Err(format!("{}: expected one run, not a sweep", path.display()));
    };
    if !report.ok() {
        return Err(format!(
            "{}: the run FAILED: {}",
            path.display(),
            first_violation(report)
        ));
    }
    Ok(Run {
        wall_s,
        loop_s: report.wall_time_s,
        sim_s: report.result.end_time.as_secs_f64(),
        events: report.events,
    })
}

fn first_violation(r: &RunReport) -> String {
    match r.violations().first() {
        Some(v) => format!(
            "{}: {} ({} violations; replay: {})",
            v.check,
            v.detail,
            r.result.violations_total,
            r.replay_command()
        ),
        None => format!("no violation recorded; replay: {}", r.replay_command()),
    }
}

/// Several runs of the same thing; medians are reported (robust to one run that shared its core
/// with something else, on a 2-core machine).
struct Measured {
    label: String,
    runs: Vec<Run>,
}

impl Measured {
    fn wall(&self) -> f64 {
        median(self.runs.iter().map(|r| r.wall_s).collect())
    }
    fn loop_wall(&self) -> f64 {
        median(self.runs.iter().map(|r| r.loop_s).collect())
    }
    fn sim_s(&self) -> f64 {
        self.runs[0].sim_s
    }
    fn events(&self) -> u64 {
        self.runs[0].events
    }
    fn speedup(&self) -> f64 {
        self.sim_s() / self.wall()
    }
    fn spread(&self) -> String {
        if self.runs.len() < 2 {
            return "1 run".into();
        }
        let (lo, hi) = self
            .runs
            .iter()
            .map(|r| r.sim_s / r.wall_s)
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            });
        format!("{} runs, {lo:.0}x..{hi:.0}x", self.runs.len())
    }
}

fn print_speed_header() {
    println!(
        "{:<44} {:>6} {:>8} {:>9} {:>8} {:>9} {:>9}  spread of sim/wall",
        "", "sim s", "wall s", "sim/wall", "events", "events/s", "ns/event"
    );
}

fn print_speed_row(label: &str, m: &Measured, wall: f64) {
    println!(
        "{:<44} {:>6.0} {:>8.4} {:>8.0}x {:>8} {:>9} {:>9.1}  {}",
        label,
        m.sim_s(),
        wall,
        m.sim_s() / wall,
        m.events(),
        si(m.events() as f64 / wall),
        wall * 1e9 / m.events() as f64,
        m.spread()
    );
}

fn verdict(value: f64, target: f64) -> String {
    let ratio = value / target;
    if ratio >= 1.0 {
        format!("met ({ratio:.2}x the target)")
    } else {
        format!(
            "NOT met ({ratio:.2}x the target; {:.1}x short)",
            target / value
        )
    }
}

/// Part 1: raft-bench.scn with and without `expect linearizable`, alternating.
fn speed(s: &Settings) -> Result<(Measured, Measured), String> {
    let path = scenario_dir().join("raft-bench.scn");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let without: String = text
        .lines()
        .filter(|l| l.trim() != LINEARIZABLE_LINE)
        .map(|l| format!("{l}\n"))
        .collect();
    if without.lines().count() + 1 != text.lines().count() {
        return Err(format!(
            "{}: expected exactly one `{LINEARIZABLE_LINE}` line to remove",
            path.display()
        ));
    }
    let tmp = std::env::temp_dir().join(format!(
        "sim-raft-bench-no-lincheck-{}.scn",
        std::process::id()
    ));
    std::fs::write(&tmp, without).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let result = speed_runs(s, &path, &tmp);
    let _ = std::fs::remove_file(&tmp);
    result
}

fn speed_runs(s: &Settings, with: &Path, without: &Path) -> Result<(Measured, Measured), String> {
    let opts = RunOptions {
        until: s
            .quick
            .then(|| SimTime::from_nanos(QUICK_UNTIL_S * 1_000_000_000)),
        ..RunOptions::default()
    };
    // Warm-up: page cache, allocator, branch predictors.
    timed_run_file(with, &opts)?;
    timed_run_file(without, &opts)?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..s.reps {
        a.push(timed_run_file(with, &opts)?);
        b.push(timed_run_file(without, &opts)?);
    }
    Ok((
        Measured {
            label: "run_file raft-bench.scn (whole path)".into(),
            runs: a,
        },
        Measured {
            label: format!("  same, without `{LINEARIZABLE_LINE}`"),
            runs: b,
        },
    ))
}

/// Part 2's result for one pool.
struct Seeds {
    threads: usize,
    seeds: u64,
    passed: u64,
    failed: Vec<(u64, String)>,
    wall_s: f64,
    /// CPU seconds the process used during the pool's run, if known.
    cpu_s: Option<f64>,
    hashes: Vec<u64>,
}

impl Seeds {
    fn per_s(&self) -> f64 {
        self.seeds as f64 / self.wall_s
    }
}

/// Part 2: raft-partition.scn, seeds 1..=n, in a pool of `threads` threads.
fn seeds(scenario: &scenarios::ast::Scenario, n: u64, threads: usize) -> Result<Seeds, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("a pool of {threads} threads: {e}"))?;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let outcomes: Vec<(u64, Result<RunReport, String>)> = pool.install(|| {
        (1..=n)
            .into_par_iter()
            .map(|seed| {
                let opts = RunOptions {
                    seed: Some(seed),
                    ..Default::default()
                };
                (
                    seed,
                    run_scenario(scenario, &opts).map_err(|e| e.to_string()),
                )
            })
            .collect()
    });
    let wall_s = started.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let mut out = Seeds {
        threads,
        seeds: n,
        passed: 0,
        failed: Vec::new(),
        wall_s,
        cpu_s,
        hashes: Vec::with_capacity(n as usize),
    };
    for (seed, r) in outcomes {
        match r {
            Ok(r) => {
                out.hashes.push(r.result.trace_hash);
                if r.ok() {
                    out.passed += 1;
                } else {
                    out.failed.push((seed, first_violation(&r)));
                }
            }
            Err(e) => {
                out.hashes.push(0);
                out.failed
                    .push((seed, format!("the run could not go on: {e}")));
            }
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("raft bench: {e}");
            return ExitCode::from(2);
        }
    };

    // Part 1.
    let until = if s.quick {
        format!(", cut to {QUICK_UNTIL_S} s simulated (--quick)")
    } else {
        String::new()
    };
    println!(
        "1. raft-bench.scn: 5 nodes, 4 clients at 100 ops/s, seed 1{until}; one core (this \
         thread); median of {} run(s) after a warm-up, with and without the check alternating",
        s.reps
    );
    let (with, without) = match speed(&s) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("raft bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!();
    print_speed_header();
    print_speed_row(&with.label, &with, with.wall());
    print_speed_row(
        "  of which the run (RunReport::wall_time_s)",
        &with,
        with.loop_wall(),
    );
    print_speed_row(&without.label, &without, without.wall());
    let check_s = with.wall() - without.wall();
    println!(
        "the end-of-run linearizability check: {:+.1} ms of {:.1} ms ({:+.1}%); without it, {:.0}x",
        check_s * 1e3,
        with.wall() * 1e3,
        100.0 * check_s / with.wall(),
        without.speedup()
    );

    // Part 2.
    let path = scenario_dir().join("raft-partition.scn");
    let scenario = match load(&path) {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("raft bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!();
    println!(
        "2. raft-partition.scn (30 s simulated each), seeds 1..={} through run_scenario, in \
         rayon pools of 2 threads and of 1",
        s.seeds
    );
    println!();
    println!(
        "{:<10} {:>6} {:>7} {:>7} {:>8} {:>9} {:>11} {:>10} {:>11}",
        "pool",
        "seeds",
        "passed",
        "failed",
        "wall s",
        "seeds/s",
        "seeds/hour",
        "cores used",
        "CPU ms/seed"
    );
    let mut pools = Vec::new();
    for threads in [2, 1] {
        match seeds(&scenario, s.seeds, threads) {
            Ok(r) => {
                // Cores the pool really got, and CPU time per seed ("?" without /proc).
                let (cores, cpu_ms) = match r.cpu_s {
                    Some(c) => (
                        format!("{:.2}", c / r.wall_s),
                        format!("{:.1}", c * 1e3 / r.seeds as f64),
                    ),
                    None => ("?".into(), "?".into()),
                };
                println!(
                    "{:<10} {:>6} {:>7} {:>7} {:>8.3} {:>9.1} {:>11} {:>10} {:>11}",
                    format!("{threads} thread{}", if threads == 1 { "" } else { "s" }),
                    r.seeds,
                    r.passed,
                    r.failed.len(),
                    r.wall_s,
                    r.per_s(),
                    si(r.per_s() * 3600.0),
                    cores,
                    cpu_ms,
                );
                pools.push(r);
            }
            Err(e) => {
                eprintln!("raft bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let (two, one) = (&pools[0], &pools[1]);
    println!(
        "2 threads / 1 thread: {:.2}x; trace hashes the same on both pools: {}",
        two.per_s() / one.per_s(),
        if two.hashes == one.hashes {
            "yes"
        } else {
            "NO"
        }
    );

    // Targets.
    println!();
    println!(
        "simulated/wall, one core: {:.0}x (target >= {SPEEDUP_TARGET:.0}x): {}",
        with.speedup(),
        verdict(with.speedup(), SPEEDUP_TARGET)
    );
    let per_hour = two.per_s() * 3600.0;
    println!(
        "seeds per hour, 2 cores: {} (target >= {}): {}",
        si(per_hour),
        si(SEEDS_PER_HOUR_TARGET),
        verdict(per_hour, SEEDS_PER_HOUR_TARGET)
    );

    // Correctness, loudly: every seed should pass, and the same on both pools.
    let mut bad = false;
    for r in &pools {
        if !r.failed.is_empty() {
            bad = true;
            eprintln!();
            eprintln!(
                "raft bench: {} of {} seeds FAILED on {} thread(s):",
                r.failed.len(),
                r.seeds,
                r.threads
            );
            for (seed, why) in r.failed.iter().take(20) {
                eprintln!("  seed {seed}: {why}");
            }
            if r.failed.len() > 20 {
                eprintln!("  ... and {} more", r.failed.len() - 20);
            }
        }
    }
    if two.hashes != one.hashes {
        bad = true;
        eprintln!("raft bench: the same seeds gave DIFFERENT trace hashes on 1 and 2 threads");
    }
    if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

//! Calls through a cloud service per second of wall time, sim against SimPy, in one run.
//!
//! The model (`scenarios/cloud-bench.scn`): 8 unplaced instances of one service, each serving
//! one request at a time for exp(1ms); one Poisson client at 6,400 calls a second (80% load)
//! whose own balancer takes the power of two choices on its outstanding counts; each attempt
//! given up after 20ms (the instance serves it all the same), up to 2 retries after a backoff of
//! 1ms x 2^(k-1) with full jitter.
//!
//! - **sim**: the whole `sim run` path, `scenarios::run_file("scenarios/cloud-bench.scn")`: read,
//!   parse and check the file, build the world, run 3·10^6 calls through the engine (trace hash,
//!   metrics and all), evaluate the `expect`s. Timed from outside the call.
//! - **SimPy**: `benches/peers/cloud_simpy.py`, the same model written the idiomatic SimPy way
//!   (a `simpy.Resource` per instance, a process per call and per attempt, a timeout as
//!   `env.any_of([served, env.timeout(t)])`), with 10^5 calls. Rates are per call, so they
//!   compare directly.
//!
//! Both print calls, mean latency, the share of calls that succeeded and the attempts that timed
//! out, so a reader sees the same model (statistically: the random numbers differ). sim's row also gives events per call.
//! sim and SimPy alternate, `SIM_BENCH_REPS` runs each, and the medians are reported.
//!
//! Run: `cargo bench -p sim-benches --bench cloud` (about 15 s).
//! Smoke run: `cargo bench -p sim-benches --bench cloud -- --quick` (10^5 and 10^4 calls, one
//! run each). Environment: `SIM_BENCH_CALLS` (sim; at most 3·10^6, the scenario's count: fewer
//! stop the run at the simulated time they take), `SIM_BENCH_SIMPY_CALLS`, `SIM_BENCH_REPS`
//! (default 3), `SIM_BENCH_PYTHON` (default `python3`).
//!
//! A missing python3 or simpy is a "skipped" line, not a failure: sim's row still prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use scenarios::RunOptions;
use sim_benches::figures::{Counted, Measured, metric_stat, si};
use sim_benches::{env_number, python_peer};
use simcore::SimTime;

/// Calls in `scenarios/cloud-bench.scn`.
const SCENARIO_CALLS: u64 = 3_000_000;
/// The client's rate in the scenario (calls per second): a smaller run stops at the simulated
/// time its calls take.
const RATE: f64 = 6_400.0;
/// The scenario's seed; SimPy gets it too (its own streams from it).
const SEED: u64 = 1;
const DEFAULT_SIMPY_CALLS: u64 = 100_000;
const QUICK_CALLS: u64 = 100_000;
const QUICK_SIMPY_CALLS: u64 = 10_000;
const DEFAULT_REPS: usize = 3;

struct Settings {
    calls: u64,
    simpy_calls: u64,
    reps: usize,
    python: String,
}

fn settings() -> Result<Settings, String> {
    // cargo passes `--bench` (and any filter) to a harness-less bench: ignore what we don't know.
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    let (default_n, default_simpy) = if quick {
        (QUICK_CALLS, QUICK_SIMPY_CALLS)
    } else {
        (SCENARIO_CALLS, DEFAULT_SIMPY_CALLS)
    };
    let calls = env_number::<u64>("SIM_BENCH_CALLS")?.unwrap_or(default_n);
    if calls == 0 || calls > SCENARIO_CALLS {
        return Err(format!(
            "SIM_BENCH_CALLS must be between 1 and {SCENARIO_CALLS} (the count in \
             cloud-bench.scn), got {calls}"
        ));
    }
    let simpy_calls =
        env_number::<u64>("SIM_BENCH_SIMPY_CALLS")?.unwrap_or(default_simpy.min(calls));
    if simpy_calls == 0 {
        return Err("SIM_BENCH_SIMPY_CALLS must be at least 1".into());
    }
    let reps =
        env_number::<usize>("SIM_BENCH_REPS")?.unwrap_or(if quick { 1 } else { DEFAULT_REPS });
    if reps == 0 {
        return Err("SIM_BENCH_REPS must be at least 1".into());
    }
    let python = std::env::var("SIM_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    Ok(Settings {
        calls,
        simpy_calls,
        reps,
        python,
    })
}

/// One timed run: what the client counted, and the wall seconds it took.
#[derive(Clone, Copy)]
struct Run {
    /// Calls ended (succeeded or failed).
    calls: u64,
    ok: u64,
    timeouts: u64,
    /// Of successful calls, retries included.
    mean_latency_s: f64,
    wall_s: f64,
    /// Events the engine ran (sim only).
    events: Option<u64>,
}

impl Counted for Run {
    fn count(&self) -> u64 {
        self.calls
    }
    fn wall_s(&self) -> f64 {
        self.wall_s
    }
}

/// The whole `sim run` path. Returns the run timed from outside and, separately, the event loop
/// alone as `RunReport::wall_time_s` measures it.
fn sim_run(path: &Path, calls: u64) -> Result<(Run, Run), String> {
    let whole_file = calls >= SCENARIO_CALLS;
    // Fewer calls than the file says (a smoke run): stop at the simulated time they take.
    let opts = RunOptions {
        until: (!whole_file).then(|| SimTime::from_nanos((calls as f64 / RATE * 1e9) as u64)),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let reports = scenarios::run_file(path, &opts).map_err(|e| e.to_string())?;
    let wall_s = started.elapsed().as_secs_f64();
    let [report] = reports.as_slice() else {
        return Err(format!("{}: expected one run, not a sweep", path.display()));
    };
    // The `expect`s hold the model to what it should do (no retry storm); a cut-short run
    // cannot meet the count of successes, so only a whole run is held to them.
    if whole_file && !report.ok() {
        let why: Vec<String> = report
            .violations()
            .iter()
            .map(|v| format!("{}: {}", v.check, v.detail))
            .collect();
        return Err(format!("the run failed its checks: {}", why.join("; ")));
    }
    let m = &report.result.metrics;
    let count = |name: &str| metric_stat(m, name, "value").map(|v| v as u64);
    let ok = count("users.ok")?;
    let whole = Run {
        calls: ok + count("users.failed")?,
        ok,
        timeouts: count("users.timeouts")?,
        mean_latency_s: metric_stat(m, "users.latency", "mean")? / 1e9,
        wall_s,
        events: Some(report.events),
    };
    let loop_only = Run {
        wall_s: report.wall_time_s,
        ..whole
    };
    Ok((whole, loop_only))
}

/// One run of the SimPy peer and its SimPy version, or why it cannot run (a "skipped" line).
fn simpy(python: &str, calls: u64) -> Result<(Run, String), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/cloud_simpy.py");
    let args = [calls.to_string(), SEED.to_string()];
    let v = python_peer::run_json_line(python, &script, &args, "simpy")?;
    let n = |k: &str| python_peer::number(&v, k);
    let version = v
        .get("simpy_version")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?")
        .to_string();
    let run = Run {
        calls: (n("ok")? + n("failed")?) as u64,
        ok: n("ok")? as u64,
        timeouts: n("timeouts")? as u64,
        mean_latency_s: n("mean_latency_s")?,
        wall_s: n("wall_s")?,
        events: None,
    };
    Ok((run, version))
}

fn print_header() {
    println!(
        "{:<36} {:>8} {:>8} {:>9} {:>8} {:>9} {:>7} {:>9}  spread of calls/s",
        "", "calls", "wall s", "calls/s", "ns/call", "mean lat", "ok", "timeouts"
    );
}

fn print_row(m: &Measured<Run>) {
    let r = &m.runs[0];
    println!(
        "{:<36} {:>8} {:>8.3} {:>9} {:>8.1} {:>7.3}ms {:>6.2}% {:>9}  {}",
        m.label,
        m.count(),
        m.median_wall(),
        si(m.rate()),
        m.median_wall() * 1e9 / m.count() as f64,
        r.mean_latency_s * 1e3,
        100.0 * r.ok as f64 / r.calls as f64,
        r.timeouts,
        m.spread()
    );
}

fn main() -> ExitCode {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cloud bench: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cloud-bench.scn");
    println!(
        "cloud: 8 instances x concurrency 1, exp(1ms); one Poisson client at 6,400/s (80% load), \
         p2c, timeout 20ms, 2 retries, full jitter; seed {SEED}; median of {} run(s) each, sim \
         and SimPy alternating",
        s.reps
    );

    // sim and SimPy alternate, so a slow spell on the machine hits both alike. A SimPy that
    // cannot run is skipped after its first try.
    let (mut whole, mut loop_only, mut py) = (Vec::new(), Vec::new(), Vec::new());
    let mut py_status: Result<String, String> = Ok(String::new());
    for _ in 0..s.reps {
        match sim_run(&scenario, s.calls) {
            Ok((w, l)) => {
                whole.push(w);
                loop_only.push(l);
            }
            Err(e) => {
                eprintln!("cloud bench: sim run {}: {e}", scenario.display());
                return ExitCode::FAILURE;
            }
        }
        if py_status.is_ok() {
            py_status = simpy(&s.python, s.simpy_calls).map(|(run, version)| {
                py.push(run);
                version
            });
        }
    }
    let sim = Measured {
        label: "sim run cloud-bench.scn (whole path)".into(),
        runs: whole,
    };
    let sim_loop = Measured {
        label: "  of which the event loop".into(),
        runs: loop_only,
    };

    println!();
    print_header();
    print_row(&sim);
    print_row(&sim_loop);
    let simpy_measured = match py_status {
        Ok(version) => {
            let m = Measured {
                label: format!("SimPy {version} (Resource, any_of)"),
                runs: py,
            };
            print_row(&m);
            Some(m)
        }
        Err(why) => {
            println!("{:<36} skipped: {why}", "SimPy");
            None
        }
    };

    println!();
    if let Some(events) = sim.runs[0].events {
        println!(
            "sim: {events} events, {:.2} per call, {:.1} ns per event",
            events as f64 / sim.count() as f64,
            sim.median_wall() * 1e9 / events as f64
        );
    }
    match &simpy_measured {
        Some(py) => {
            println!(
                "sim / SimPy: sim is {:.1}x faster than SimPy",
                sim.rate() / py.rate()
            );
            if py.count() != sim.count() {
                println!(
                    "             (SimPy ran {} calls, sim {}: rates are per call, so they \
                     compare directly)",
                    py.count(),
                    sim.count()
                );
            }
        }
        None => println!("sim / SimPy: skipped (no SimPy result)"),
    }
    ExitCode::SUCCESS
}

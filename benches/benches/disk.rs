//! Disk requests per second, two ways, in one run:
//!
//! - **sim**: the whole `sim run` path, `scenarios::run_file("scenarios/disk-bench.scn")`: read
//!   and parse the file, check it, build the world with its disk (a datasheet 7,200 rpm HDD behind
//!   a FIFO scheduler) and its `io` load, run 3·10^6 random 4 KiB reads at queue depth 1 through
//!   the engine (trace hash, metrics and all), evaluate the `expect`s. Timed from outside the call.
//! - **floor**: `sim_benches::disk_floor::run_disk`, a hand-written loop that draws the same
//!   requests and serves them one after another with `Hdd::access` on the same drive, no event
//!   queue; what the engine and the world cost is the distance to it.
//!
//! Both compute the same latencies (the mean is printed for each, and checked equal); the
//! ratio floor / sim is printed.
//!
//! Run: `cargo bench -p sim-benches --bench disk`.
//! Smoke run: `cargo bench -p sim-benches --bench disk -- --quick` (10^5 requests, one run each).
//! Environment: `SIM_BENCH_REQUESTS` (sim and floor; at most 3·10^6, the scenario's count),
//! `SIM_BENCH_REPS` (runs of sim and floor, median reported; default 3).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use scenarios::RunOptions;
use sim_benches::figures::{Counted, Measured, metric_stat, si};
use sim_benches::{disk_floor, env_number};

/// Requests in `scenarios/disk-bench.scn`.
const SCENARIO_REQUESTS: u64 = 3_000_000;
/// The scenario's seed; the floor uses it too, so both serve the same requests.
const SEED: u64 = 1;
const QUICK_REQUESTS: u64 = 100_000;
const DEFAULT_REPS: usize = 3;

struct Settings {
    requests: u64,
    reps: usize,
}

fn settings() -> Result<Settings, String> {
    // cargo passes `--bench` (and any filter) to a harness-less bench: ignore what we don't know.
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    let default_n = if quick {
        QUICK_REQUESTS
    } else {
        SCENARIO_REQUESTS
    };
    let requests = env_number::<u64>("SIM_BENCH_REQUESTS")?.unwrap_or(default_n);
    if requests == 0 || requests > SCENARIO_REQUESTS {
        return Err(format!(
            "SIM_BENCH_REQUESTS must be between 1 and {SCENARIO_REQUESTS} (the count in \
             disk-bench.scn), got {requests}"
        ));
    }
    let reps =
        env_number::<usize>("SIM_BENCH_REPS")?.unwrap_or(if quick { 1 } else { DEFAULT_REPS });
    if reps == 0 {
        return Err("SIM_BENCH_REPS must be at least 1".into());
    }
    Ok(Settings { requests, reps })
}

/// One timed run: requests served, mean latency, wall seconds.
#[derive(Clone, Copy)]
struct Run {
    requests: u64,
    mean_latency_s: f64,
    wall_s: f64,
}

impl Counted for Run {
    fn count(&self) -> u64 {
        self.requests
    }
    fn wall_s(&self) -> f64 {
        self.wall_s
    }
}

/// The whole `sim run` path. Returns the run timed from outside and, separately, the event loop
/// alone as `RunReport::wall_time_s` measures it.
fn sim_run(path: &Path, requests: u64) -> Result<(Run, Run), String> {
    // Fewer requests than the file says (a smoke run): stop after their one event each.
    let opts = RunOptions {
        max_events: (requests < SCENARIO_REQUESTS).then_some(requests),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let reports = scenarios::run_file(path, &opts).map_err(|e| e.to_string())?;
    let wall_s = started.elapsed().as_secs_f64();
    let [report] = reports.as_slice() else {
        return Err(format!("{}: expected one run, not a sweep", path.display()));
    };
    let m = &report.result.metrics;
    let whole = Run {
        requests: metric_stat(m, "reads.completed", "value")? as u64,
        mean_latency_s: metric_stat(m, "reads.read_latency", "mean")? / 1e9,
        wall_s,
    };
    let loop_only = Run {
        wall_s: report.wall_time_s,
        ..whole
    };
    Ok((whole, loop_only))
}

fn floor_run(requests: u64) -> Result<Run, String> {
    let started = Instant::now();
    let r = disk_floor::run_disk(requests, SEED)?;
    Ok(Run {
        requests: r.requests,
        mean_latency_s: r.mean_latency_s(),
        wall_s: started.elapsed().as_secs_f64(),
    })
}

fn print_header() {
    println!(
        "{:<36} {:>10} {:>9} {:>11} {:>8} {:>13}  spread of requests/s",
        "", "requests", "wall s", "requests/s", "ns/req", "mean latency"
    );
}

fn print_row(m: &Measured<Run>) {
    let ns = m.median_wall() * 1e9 / m.count() as f64;
    println!(
        "{:<36} {:>10} {:>9.3} {:>11} {:>8.1} {:>11.4}ms  {}",
        m.label,
        m.count(),
        m.median_wall(),
        si(m.rate()),
        ns,
        m.runs[0].mean_latency_s * 1e3,
        m.spread()
    );
}

fn main() -> ExitCode {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("disk bench: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/disk-bench.scn");
    println!(
        "Random 4 KiB reads at queue depth 1 on a 7,200 rpm HDD (9 ms average seek, 105 MiB/s, \
         100 GiB), seed {SEED}; median of {} run(s) for sim and the floor",
        s.reps
    );

    // sim and floor alternate, so a slow spell on the machine hits both alike.
    let (mut sim_whole, mut sim_loop, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..s.reps {
        match sim_run(&scenario, s.requests) {
            Ok((whole, loop_only)) => {
                sim_whole.push(whole);
                sim_loop.push(loop_only);
            }
            Err(e) => {
                eprintln!("disk bench: sim run {}: {e}", scenario.display());
                return ExitCode::FAILURE;
            }
        }
        match floor_run(s.requests) {
            Ok(r) => floor.push(r),
            Err(e) => {
                eprintln!("disk bench: floor: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let sim = Measured {
        label: "sim run disk-bench.scn (whole path)".into(),
        runs: sim_whole,
    };
    let sim_loop = Measured {
        label: "  of which the event loop".into(),
        runs: sim_loop,
    };
    let floor = Measured {
        label: "floor (hand-written, Hdd::access)".into(),
        runs: floor,
    };

    println!();
    print_header();
    print_row(&sim);
    print_row(&sim_loop);
    print_row(&floor);

    println!();
    println!(
        "floor / sim: the floor is {:.2}x faster than sim",
        floor.rate() / sim.rate()
    );
    println!(
        "             event loop alone: {:.2}x",
        floor.rate() / sim_loop.rate()
    );
    // Both sides served the same requests: the same count and the same mean latency (the
    // engine's histogram mean is exact). A difference means the floor measures other work.
    let (a, b) = (sim.runs[0], floor.runs[0]);
    if a.requests != b.requests || a.mean_latency_s != b.mean_latency_s {
        eprintln!(
            "disk bench: sim and the floor served different requests: {} at {} s against {} at \
             {} s",
            a.requests, a.mean_latency_s, b.requests, b.mean_latency_s
        );
        return ExitCode::FAILURE;
    }
    println!("same requests: sim and the floor served the same reads with the same mean latency");
    ExitCode::SUCCESS
}

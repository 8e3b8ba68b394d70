//! M/M/1 customers per second, three ways, in one run:
//!
//! - **sim**: the whole `sim run` path, `scenarios::run_file("scenarios/mm1-bench.scn")`: read and
//!   parse the file, check it, build the queueing network, run 10^7 customers through the engine
//!   (trace hash, metrics and all), evaluate the `expect`s. Timed from outside the call.
//! - **floor**: `sim_benches::mm1_floor::run_mm1`, a hand-written M/M/1-only loop on a
//!   `BinaryHeap` that draws the same random numbers (and serves the same customers at the same
//!   instants); what the engine's generality costs is the distance to it. Target: within 2x.
//! - **SimPy**: `benches/peers/mm1_simpy.py`, the same M/M/1 written the idiomatic SimPy way, with
//!   10^6 customers (10^7 would take minutes). Rates are per customer, so they compare directly.
//!   Target: sim at least 70x faster.
//!
//! With `--breakdown` it also times the steps between the floor and the engine (see
//! `sim_benches::breakdown`), which shows where the engine's time goes without a profiler.
//!
//! Run: `cargo bench -p sim-benches --bench mm1` (about 20 s; 35 s with `-- --breakdown`).
//! Smoke run: `cargo bench -p sim-benches --bench mm1 -- --quick` (2·10^5 and 2·10^4 customers).
//! Environment: `SIM_BENCH_CUSTOMERS` (sim and floor; at most 10^7, the scenario's count),
//! `SIM_BENCH_SIMPY_CUSTOMERS`, `SIM_BENCH_REPS` (runs of sim and floor, median reported; default
//! 3), `SIM_BENCH_PYTHON` (default `python3`).
//!
//! A missing python3 or simpy is a "skipped" line, not a failure: the Rust rows still print.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use scenarios::RunOptions;
use sim_benches::figures::{Counted, Measured, metric_stat, si};
use sim_benches::{breakdown, env_number, mm1_floor, python_peer};

/// Customers in `scenarios/mm1-bench.scn`.
const SCENARIO_CUSTOMERS: u64 = 10_000_000;
/// The scenario's seed; the floor and the breakdown steps use it too, so all serve the same
/// customers.
const SEED: u64 = 1;
const DEFAULT_SIMPY_CUSTOMERS: u64 = 1_000_000;
const QUICK_CUSTOMERS: u64 = 200_000;
const QUICK_SIMPY_CUSTOMERS: u64 = 20_000;
const DEFAULT_REPS: usize = 3;

/// The floor may be at most this many times faster than sim.
const FLOOR_TARGET: f64 = 2.0;
/// sim must be at least this many times faster than SimPy.
const SIMPY_TARGET: f64 = 70.0;

struct Settings {
    customers: u64,
    simpy_customers: u64,
    reps: usize,
    breakdown: bool,
    python: String,
}

fn settings() -> Result<Settings, String> {
    // cargo passes `--bench` (and any filter) to a harness-less bench: ignore what we don't know.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let breakdown = args.iter().any(|a| a == "--breakdown");
    let (default_n, default_simpy) = if quick {
        (QUICK_CUSTOMERS, QUICK_SIMPY_CUSTOMERS)
    } else {
        (SCENARIO_CUSTOMERS, DEFAULT_SIMPY_CUSTOMERS)
    };
    let customers = env_number::<u64>("SIM_BENCH_CUSTOMERS")?.unwrap_or(default_n);
    if customers == 0 || customers > SCENARIO_CUSTOMERS {
        return Err(format!(
            "SIM_BENCH_CUSTOMERS must be between 1 and {SCENARIO_CUSTOMERS} (the count in \
             mm1-bench.scn), got {customers}"
        ));
    }
    let simpy_customers =
        env_number::<u64>("SIM_BENCH_SIMPY_CUSTOMERS")?.unwrap_or(default_simpy.min(customers));
    if simpy_customers == 0 {
        return Err("SIM_BENCH_SIMPY_CUSTOMERS must be at least 1".into());
    }
    let reps =
        env_number::<usize>("SIM_BENCH_REPS")?.unwrap_or(if quick { 1 } else { DEFAULT_REPS });
    if reps == 0 {
        return Err("SIM_BENCH_REPS must be at least 1".into());
    }
    let python = std::env::var("SIM_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    Ok(Settings {
        customers,
        simpy_customers,
        reps,
        breakdown,
        python,
    })
}

/// One timed run: customers served, mean wait, wall seconds.
#[derive(Clone, Copy)]
struct Run {
    customers: u64,
    mean_wait_s: f64,
    wall_s: f64,
}

impl Counted for Run {
    fn count(&self) -> u64 {
        self.customers
    }
    fn wall_s(&self) -> f64 {
        self.wall_s
    }
}

fn repeat(
    label: &str,
    reps: usize,
    mut f: impl FnMut() -> Result<Run, String>,
) -> Result<Measured<Run>, String> {
    let mut runs = Vec::with_capacity(reps);
    for _ in 0..reps {
        runs.push(f().map_err(|e| format!("{label}: {e}"))?);
    }
    Ok(Measured {
        label: label.into(),
        runs,
    })
}

fn timed(f: impl FnOnce() -> Result<mm1_floor::Mm1Floor, String>) -> Result<Run, String> {
    let started = Instant::now();
    let r = f()?;
    Ok(Run {
        customers: r.customers,
        mean_wait_s: r.mean_wait_s,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// The whole `sim run` path. Returns the run timed from outside and, separately, the event loop
/// alone as `RunReport::wall_time_s` measures it.
fn sim_run(path: &Path, customers: u64) -> Result<(Run, Run), String> {
    // Fewer customers than the file says (a smoke run): stop after their two events each.
    let opts = RunOptions {
        max_events: (customers < SCENARIO_CUSTOMERS).then_some(2 * customers),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let reports = scenarios::run_file(path, &opts).map_err(|e| e.to_string())?;
    let wall_s = started.elapsed().as_secs_f64();
    let [report] = reports.as_slice() else {
        return Err(format!("{}: expected one run, not a sweep", path.display()));
    };
    let m = &report.result.metrics;
    let served = metric_stat(m, "system.exited", "value")? as u64;
    let mean_wait_s = metric_stat(m, "server.wait", "mean")? / 1e9;
    let whole = Run {
        customers: served,
        mean_wait_s,
        wall_s,
    };
    let loop_only = Run {
        wall_s: report.wall_time_s,
        ..whole
    };
    Ok((whole, loop_only))
}

/// The SimPy peer: `Ok(run)`, or `Err(reason)` for a "skipped" line.
fn simpy(python: &str, customers: u64) -> Result<(Run, String), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/mm1_simpy.py");
    let args = [customers.to_string(), SEED.to_string()];
    let v = python_peer::run_json_line(python, &script, &args, "simpy")?;
    let version = v
        .get("simpy_version")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?")
        .to_string();
    Ok((
        Run {
            customers: python_peer::number(&v, "customers")? as u64,
            mean_wait_s: python_peer::number(&v, "mean_wait_s")?,
            wall_s: python_peer::number(&v, "wall_s")?,
        },
        version,
    ))
}

fn print_header() {
    println!(
        "{:<36} {:>10} {:>9} {:>12} {:>9} {:>10}  spread of customers/s",
        "", "customers", "wall s", "customers/s", "ns/cust", "mean wait"
    );
}

fn print_row(m: &Measured<Run>) {
    let ns = m.median_wall() * 1e9 / m.count() as f64;
    println!(
        "{:<36} {:>10} {:>9.3} {:>12} {:>9.1} {:>9.4}s  {}",
        m.label,
        m.count(),
        m.median_wall(),
        si(m.rate()),
        ns,
        m.runs[0].mean_wait_s,
        m.spread()
    );
}

/// One step of the breakdown: a whole M/M/1 run of (customers, seed).
type Step = fn(u64, u64) -> Result<mm1_floor::Mm1Floor, String>;

/// The steps from the floor to the engine (see `sim_benches::breakdown`), then two isolated
/// costs, all in nanoseconds per customer.
fn print_breakdown(s: &Settings, sim: &Measured<Run>) {
    let n = s.customers;
    println!();
    println!(
        "Where the time goes ({n} customers; each step adds one thing to the step above, all \
         serve the same customers)"
    );
    println!(
        "{:<40} {:>12} {:>10} {:>12}",
        "step", "customers/s", "ns/cust", "added ns"
    );
    let steps: [(&str, Step); 4] = [
        ("1 floor (BinaryHeap)", |n, seed| {
            Ok(mm1_floor::run_mm1(n, seed))
        }),
        ("2 + simcore EventQueue", |n, seed| {
            Ok(breakdown::floor_on_event_queue(n, seed))
        }),
        ("3 + engine loop (lean model)", |n, seed| {
            breakdown::lean_model_on_engine(n, seed).map_err(|e| e.to_string())
        }),
        ("4 + QNet model (metrics, records)", |n, seed| {
            breakdown::qnet_on_engine(n, seed).map_err(|e| e.to_string())
        }),
    ];
    let mut prev: Option<f64> = None;
    let mut row = |label: &str, ns: f64| {
        let added = prev.map_or(String::new(), |p| format!("{:+.1}", ns - p));
        println!("{label:<40} {:>12} {ns:>10.1} {added:>12}", si(1e9 / ns));
        prev = Some(ns);
    };
    for (label, f) in &steps {
        match repeat(label, s.reps, || timed(|| f(n, SEED))) {
            Ok(m) => row(label, m.median_wall() * 1e9 / m.count() as f64),
            Err(e) => println!("{e}"),
        }
    }
    row(
        "5 + scenario file (= sim, table above)",
        sim.median_wall() * 1e9 / sim.count() as f64,
    );

    println!("isolated costs, same work with nothing else:");
    let isolated = |label: &str, f: &dyn Fn() -> u64| {
        let mut walls: Vec<f64> = (0..s.reps)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(f());
                started.elapsed().as_secs_f64()
            })
            .collect();
        walls.sort_by(f64::total_cmp);
        let ns = walls[walls.len() / 2] * 1e9 / n as f64;
        println!("{label:<40} {:>12} {ns:>10.1}", si(1e9 / ns));
    };
    isolated("  trace hash (2 records per customer)", &|| {
        breakdown::trace_hash_only(n)
    });
    isolated("  QNet's metric updates per customer", &|| {
        breakdown::metrics_only(n) as u64
    });
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn main() -> ExitCode {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mm1 bench: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/mm1-bench.scn");
    println!(
        "M/M/1, lambda = 0.9/s, mu = 1/s (theory: mean wait 9 s), seed {SEED}; median of {} run(s) \
         for sim and the floor",
        s.reps
    );

    // sim and floor alternate, so a slow spell on the machine hits both alike.
    let (mut sim_whole, mut sim_loop, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..s.reps {
        match sim_run(&scenario, s.customers) {
            Ok((whole, loop_only)) => {
                sim_whole.push(whole);
                sim_loop.push(loop_only);
            }
            Err(e) => {
                eprintln!("mm1 bench: sim run {}: {e}", scenario.display());
                return ExitCode::FAILURE;
            }
        }
        match timed(|| Ok(mm1_floor::run_mm1(s.customers, SEED))) {
            Ok(r) => floor.push(r),
            Err(e) => {
                eprintln!("mm1 bench: floor: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let sim = Measured {
        label: "sim run mm1-bench.scn (whole path)".into(),
        runs: sim_whole,
    };
    let sim_loop = Measured {
        label: "  of which the event loop".into(),
        runs: sim_loop,
    };
    let floor = Measured {
        label: "floor (hand-written, BinaryHeap)".into(),
        runs: floor,
    };

    let simpy_result = simpy(&s.python, s.simpy_customers);

    println!();
    print_header();
    print_row(&sim);
    print_row(&sim_loop);
    print_row(&floor);
    let simpy_measured = match &simpy_result {
        Ok((run, version)) => {
            let m = Measured {
                label: format!("SimPy {version} (Resource, processes)"),
                runs: vec![*run],
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
    let floor_ratio = floor.rate() / sim.rate();
    println!(
        "floor / sim: the floor is {floor_ratio:.2}x faster than sim (target <= {FLOOR_TARGET}x): {}",
        verdict(floor_ratio <= FLOOR_TARGET)
    );
    println!(
        "             event loop alone: {:.2}x",
        floor.rate() / sim_loop.rate()
    );
    match &simpy_measured {
        Some(py) => {
            let ratio = sim.rate() / py.rate();
            println!(
                "sim / SimPy: sim is {ratio:.1}x faster than SimPy (target >= {SIMPY_TARGET}x): {}",
                verdict(ratio >= SIMPY_TARGET)
            );
            if py.count() != sim.count() {
                println!(
                    "             (SimPy ran {} customers, sim {}: rates are per customer, so they \
                     compare directly)",
                    py.count(),
                    sim.count()
                );
            }
        }
        None => println!("sim / SimPy: skipped (no SimPy result)"),
    }

    if s.breakdown {
        print_breakdown(&s, &sim);
    }
    ExitCode::SUCCESS
}

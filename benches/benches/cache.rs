//! Cache requests per second: sim's policies against libCacheSim's, in one run, on the same
//! trace file.
//!
//! The trace: Zipf alpha 1 over 10^6 objects of size 1, 10^7 requests, made by sim's workload
//! generator and written as libCacheSim's oracleGeneral binary (240 MB) in the temporary
//! directory, removed at the end. The cache holds 10^5 objects (10%).
//!
//! - **sim**: each policy replays the file from disk through `OracleReader` (a 1 MiB
//!   `BufReader`), as libCacheSim does through its reader: parsing is timed on both sides. The
//!   loop is generic over the policy's type (no `dyn` call per request). Belady's OPT, offline,
//!   reads the whole file first (timed) and computes each request's next use itself.
//! - **libCacheSim**: `benches/peers/libcachesim_run.py`, which times only the C simulation
//!   loop (`process_trace` with the C reader), right after sim's runs of the same policy.
//!
//! Every policy both have, in `sim_benches::cache_peer::POLICIES`' order; each side's figure is
//! the median of `SIM_BENCH_REPS` runs (default 3). Both sides' miss counts are printed; where
//! the agreement test (benches/tests/libcachesim.rs) requires them equal (every policy but LIRS
//! and W-TinyLFU, whose differences their docs explain) the bench exits 1 when they are not;
//! for the other two it prints sim's count and the difference, `(+601)`.
//!
//! Run: `cargo bench -p sim-benches --bench cache`.
//! Smoke run: `cargo bench -p sim-benches --bench cache -- --quick` (10^5 objects, 10^6 requests,
//! one run).
//! Environment: `SIM_BENCH_REPS`, `SIM_BENCH_POLICIES` (a comma-separated subset, e.g.
//! `lru,arc`), `SIM_BENCH_PYTHON` (default `python3`). A missing python3 or libcachesim is a
//! "skipped" line; sim's rows still print.

use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use models::cache::trace::{OracleReader, write_oracle};
use models::cache::workload::{Generator, Spec, Workload};
use models::cache::{
    Arc, Clock, Fifo, Kind, Lfu, Lirs, Lru, Policy, Request, S3Fifo, Sieve, TinyLfu, TwoQ, opt,
};
use sim_benches::cache_peer::{self, Agree};
use sim_benches::env_number;
use sim_benches::figures::{median, rate_spread, si};

const SEED: u64 = 1;

/// One replay: requests, misses, wall seconds.
type Run = (u64, u64, f64);

fn records(path: &Path) -> std::io::Result<impl Iterator<Item = std::io::Result<Request>>> {
    let file = std::fs::File::open(path)?;
    Ok(OracleReader::new(BufReader::with_capacity(1 << 20, file))
        .map(|r| r.map(|r| r.request).map_err(std::io::Error::other)))
}

/// sim's replay of `path` through the policy `make` builds, timed from opening the file to the
/// last request. Generic, so the loop calls the policy's `access` directly (no `dyn`).
fn replay_file<P: Policy>(path: &Path, make: impl FnOnce() -> P) -> std::io::Result<Run> {
    let start = Instant::now();
    let mut cache = make();
    let (mut requests, mut misses) = (0u64, 0u64);
    for r in records(path)? {
        let r = r?;
        requests += 1;
        misses += !cache.access(r.key, r.size) as u64;
    }
    Ok((requests, misses, start.elapsed().as_secs_f64()))
}

/// Belady's OPT, offline: the whole file is read first (timed too), then replayed.
fn replay_opt(path: &Path, capacity: u64) -> std::io::Result<Run> {
    let start = Instant::now();
    let trace = records(path)?
        .map(|r| r.map(|r| (r.key, r.size)))
        .collect::<std::io::Result<Vec<_>>>()?;
    let misses = opt::hits(&trace, capacity).iter().filter(|&&h| !h).count() as u64;
    Ok((trace.len() as u64, misses, start.elapsed().as_secs_f64()))
}

/// sim's run of policy `name` (a [`Kind`] name or `opt`) at `capacity`.
fn replay(path: &Path, name: &str, capacity: u64) -> std::io::Result<Run> {
    let c = capacity;
    let Some(kind) = Kind::from_name(name) else {
        return replay_opt(path, c);
    };
    match kind {
        Kind::Fifo => replay_file(path, || Fifo::new(c)),
        Kind::Lru => replay_file(path, || Lru::new(c)),
        Kind::Clock => replay_file(path, || Clock::new(c)),
        Kind::Sieve => replay_file(path, || Sieve::new(c)),
        Kind::Lfu => replay_file(path, || Lfu::new(c)),
        Kind::TwoQ => replay_file(path, || TwoQ::new(c)),
        Kind::Arc => replay_file(path, || Arc::new(c)),
        Kind::Lirs => replay_file(path, || Lirs::new(c)),
        Kind::TinyLfu => replay_file(path, || TinyLfu::new(c)),
        Kind::S3Fifo => replay_file(path, || S3Fifo::new(c)),
    }
}

/// libCacheSim's (misses, median requests per second, runs) for `name`, or why it did not run.
fn peer(path: &Path, name: &str, capacity: u64, reps: usize) -> Result<(u64, f64, String), String> {
    let rows = cache_peer::run(path, "oracle", &[name], &[capacity], reps)?;
    let row = rows.first().ok_or("libCacheSim printed nothing")?;
    if row["missing"] == true {
        return Err(format!("libCacheSim has no {name}"));
    }
    let requests = row["requests"].as_u64().unwrap_or(0);
    let walls: Vec<f64> = row["walls"]
        .as_array()
        .map(|w| w.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default();
    let spread = rate_spread(
        walls
            .iter()
            .map(|&w| (requests, w))
            .collect::<Vec<_>>()
            .into_iter(),
    );
    Ok((
        row["misses"].as_u64().unwrap_or(0),
        row["requests_per_s"].as_f64().unwrap_or(0.0),
        spread,
    ))
}

fn main() -> ExitCode {
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    let (objects, requests) = if quick {
        (100_000u64, 1_000_000u64)
    } else {
        (1_000_000, 10_000_000)
    };
    let reps = match env_number::<usize>("SIM_BENCH_REPS") {
        Ok(r) => r.unwrap_or(if quick { 1 } else { 3 }).max(1),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let capacity = objects / 10;
    let spec = Spec::new(Workload::Zipf {
        objects,
        alpha: 1.0,
    });
    let reqs: Vec<Request> = match Generator::new(spec, SEED) {
        Ok(g) => g.take(requests as usize).collect(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let path = std::env::temp_dir().join(format!(
        "sim-bench-cache-{}.oracleGeneral",
        std::process::id()
    ));
    let written = std::fs::File::create(&path)
        .map_err(|e| e.to_string())
        .and_then(|f| write_oracle(f, &reqs).map_err(|e| e.to_string()));
    drop(reqs);
    if let Err(e) = written {
        eprintln!("error: {}: {e}", path.display());
        let _ = std::fs::remove_file(&path);
        return ExitCode::from(2);
    }
    println!(
        "cache: Zipf alpha 1, {} objects of size 1, {} requests, cache of {} objects",
        si(objects as f64),
        si(requests as f64),
        si(capacity as f64)
    );
    let wanted = std::env::var("SIM_BENCH_POLICIES").ok();
    let names: Vec<&str> = match &wanted {
        Some(list) => list.split(',').map(str::trim).collect(),
        None => cache_peer::POLICIES.iter().map(|p| p.0).collect(),
    };
    if let Some(bad) = names.iter().find(|n| cache_peer::agreement(n).is_none()) {
        eprintln!(
            "error: SIM_BENCH_POLICIES: no policy {bad:?}\nhint: one of {}",
            cache_peer::POLICIES
                .iter()
                .map(|p| p.0)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = std::fs::remove_file(&path);
        return ExitCode::from(2);
    }
    println!(
        "{:<8} {:>9} {:>22} {:>12} {:>22} {:>6} {:>18}",
        "policy", "sim req/s", "(spread)", "libCacheSim", "(spread)", "ratio", "misses"
    );
    let mut failed = false;
    for name in names {
        let mut runs = Vec::new();
        let mut misses = 0;
        for _ in 0..reps {
            match replay(&path, name, capacity) {
                Ok((n, m, wall)) => {
                    misses = m;
                    runs.push((n, wall));
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    let _ = std::fs::remove_file(&path);
                    return ExitCode::from(2);
                }
            }
        }
        let ours = median(runs.iter().map(|&(n, w)| n as f64 / w).collect());
        let (peer_rate, peer_spread, ratio, miss_note) = match peer(&path, name, capacity, reps) {
            Ok((m, rate, spread)) => {
                let exact = cache_peer::agreement(name) == Some(Agree::Exact);
                failed |= exact && m != misses;
                let note = match (m == misses, exact) {
                    (true, _) => format!("{misses} ="),
                    (false, true) => format!("{misses} != {m}"),
                    (false, false) => format!("{misses} ({:+})", misses as i64 - m as i64),
                };
                (si(rate), spread, format!("{:.2}x", ours / rate), note)
            }
            Err(why) => {
                println!("libCacheSim skipped for {name}: {why}");
                ("-".into(), "-".into(), "-".into(), misses.to_string())
            }
        };
        println!(
            "{name:<8} {:>9} {:>22} {peer_rate:>12} {peer_spread:>22} {ratio:>6} {miss_note:>18}",
            si(ours),
            rate_spread(runs.into_iter())
        );
    }
    let _ = std::fs::remove_file(&path);
    if failed {
        eprintln!("error: a policy's miss count differs from libCacheSim's where they must agree");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

//! Cache requests per second: sim's policies against libCacheSim's, in one run, on the same
//! trace file.
//!
//! The trace: Zipf alpha 1 over 10^6 objects of size 1, 10^7 requests, made by sim's workload
//! generator and written as libCacheSim's oracleGeneral binary (240 MB) in the temporary
//! directory, removed at the end. The cache holds 10^5 objects (10%).
//!
//! - **sim**: each policy replays the file from disk through `OracleReader` (a 1 MiB
//!   `BufReader`), as libCacheSim does through its reader: parsing is timed on both sides.
//!   Median of `SIM_BENCH_REPS` runs (default 3).
//! - **libCacheSim**: `benches/peers/libcachesim_run.py`, which times only the C simulation
//!   loop (`process_trace` with the C reader), one run per policy.
//!
//! Both sides' miss counts are printed; they must be equal (the test benches/tests/libcachesim.rs
//! requires it on the shipped traces).
//!
//! Run: `cargo bench -p sim-benches --bench cache`.
//! Smoke run: `cargo bench -p sim-benches --bench cache -- --quick` (10^5 objects, 10^6 requests,
//! one run).
//! Environment: `SIM_BENCH_REPS`, `SIM_BENCH_PYTHON` (default `python3`). A missing python3 or
//! libcachesim is a "skipped" line; sim's rows still print.

use std::io::BufReader;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use models::cache::trace::{OracleReader, write_oracle};
use models::cache::workload::{Generator, Spec, Workload};
use models::cache::{Kind, Request};
use sim_benches::env_number;
use sim_benches::figures::{median, rate_spread, si};

const SEED: u64 = 1;

/// sim's misses and wall seconds replaying `path` through `kind` at `capacity`.
fn replay_file(path: &Path, kind: Kind, capacity: u64) -> std::io::Result<(u64, u64, f64)> {
    let file = std::fs::File::open(path)?;
    let start = Instant::now();
    let mut cache = kind.build(capacity);
    let (mut requests, mut misses) = (0u64, 0u64);
    for rec in OracleReader::new(BufReader::with_capacity(1 << 20, file)) {
        let r = rec.map_err(std::io::Error::other)?.request;
        requests += 1;
        misses += !cache.access(r.key, r.size) as u64;
    }
    Ok((requests, misses, start.elapsed().as_secs_f64()))
}

/// libCacheSim's (misses, requests per second) per policy, or why it did not run.
fn peer(path: &Path, names: &[&str], capacity: u64) -> Result<Vec<(String, u64, f64)>, String> {
    let python = std::env::var("SIM_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/libcachesim_run.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(path)
        .arg("oracle")
        .arg(names.join(","))
        .arg(capacity.to_string())
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).map_err(|e| e.to_string())?;
            Ok((
                v["policy"].as_str().unwrap_or("?").to_string(),
                v["misses"].as_u64().unwrap_or(0),
                v["requests_per_s"].as_f64().unwrap_or(0.0),
            ))
        })
        .collect()
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
    let peers = peer(&path, Kind::NAMES, capacity);
    if let Err(why) = &peers {
        println!("libCacheSim skipped: {why}");
    }
    println!(
        "{:<8} {:>12} {:>22} {:>14} {:>8} {:>12}",
        "policy", "sim req/s", "(spread)", "libCacheSim", "ratio", "misses"
    );
    let mut failed = false;
    for &name in Kind::NAMES {
        let kind = Kind::from_name(name).expect("a listed policy");
        let mut runs = Vec::new();
        let mut misses = 0;
        for _ in 0..reps {
            match replay_file(&path, kind, capacity) {
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
        let theirs = peers
            .as_ref()
            .ok()
            .and_then(|p| p.iter().find(|(n, _, _)| n == name).cloned());
        let (peer_rate, ratio, miss_note) = match theirs {
            Some((_, m, rate)) => {
                failed |= m != misses;
                (
                    si(rate),
                    format!("{:.2}x", ours / rate),
                    if m == misses {
                        format!("{misses} =")
                    } else {
                        format!("{misses} != {m}")
                    },
                )
            }
            None => ("-".into(), "-".into(), misses.to_string()),
        };
        println!(
            "{name:<8} {:>12} {:>22} {peer_rate:>14} {ratio:>8} {miss_note:>12}",
            si(ours),
            rate_spread(runs.into_iter())
        );
    }
    let _ = std::fs::remove_file(&path);
    if failed {
        eprintln!("error: a policy's miss count differs from libCacheSim's");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

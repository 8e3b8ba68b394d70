//! libCacheSim as the cache policies' peer: which of sim's policies must miss exactly as often
//! as libCacheSim's, and a call into `benches/peers/libcachesim_run.py` (its PyPI package's C
//! library). The agreement test (`benches/tests/libcachesim.rs`) and the cache bench
//! (`benches/benches/cache.rs`) share both, so they hold each policy to the same standard.

use std::path::Path;
use std::process::Command;

/// What is required of a policy's miss count against libCacheSim's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agree {
    /// Equal miss counts at every size.
    Exact,
    /// Print both; the policy's doc says why they differ.
    Report,
}

/// sim's policy names (`opt`: Belady's), and what is required of each against libCacheSim.
pub const POLICIES: &[(&str, Agree)] = &[
    ("fifo", Agree::Exact),
    ("lru", Agree::Exact),
    ("clock", Agree::Exact),
    ("sieve", Agree::Exact),
    ("lfu", Agree::Exact),
    ("twoq", Agree::Exact),
    ("arc", Agree::Exact),
    ("lirs", Agree::Report),
    ("tinylfu", Agree::Report),
    ("s3fifo", Agree::Exact),
    ("opt", Agree::Exact),
];

/// What is required of policy `name`, `None` for a name not in [`POLICIES`].
pub fn agreement(name: &str) -> Option<Agree> {
    POLICIES.iter().find(|p| p.0 == name).map(|p| p.1)
}

/// libCacheSim's rows (one JSON object per policy and size, as the script prints them) for
/// `trace` in `format` (`oracle` or `csv`), timing `reps` runs of each; or why it cannot run
/// (no python3, no libcachesim). `SIM_BENCH_PYTHON` names the interpreter (default `python3`).
pub fn run(
    trace: &Path,
    format: &str,
    names: &[&str],
    sizes: &[u64],
    reps: usize,
) -> Result<Vec<serde_json::Value>, String> {
    let python = std::env::var("SIM_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/libcachesim_run.py");
    let sizes: Vec<String> = sizes.iter().map(u64::to_string).collect();
    let out = Command::new(&python)
        .arg(script)
        .arg(trace)
        .arg(format)
        .arg(names.join(","))
        .arg(sizes.join(","))
        .arg(reps.to_string())
        .output()
        .map_err(|e| format!("{python} cannot run: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
        .collect()
}

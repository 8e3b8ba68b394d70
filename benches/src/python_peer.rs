//! Running a peer written in Python (`benches/peers/*.py`) that prints its result as one JSON
//! line, the protocol the SimPy peers share: exit 0 and the result as the last line of stdout,
//! exit 3 when the package it needs is not installed, anything else a failure. Every error is a
//! sentence for a bench's "skipped: ..." line, never a panic: a missing interpreter or package
//! skips the peer, it does not fail the bench.

use std::path::Path;
use std::process::Command;

/// Runs `python script args...` and returns the JSON object on the last line of its output, or
/// why not: `python` missing, `package` not installed (exit 3), another failure (with the last
/// line of stderr), or output that is not JSON.
pub fn run_json_line(
    python: &str,
    script: &Path,
    args: &[String],
    package: &str,
) -> Result<serde_json::Value, String> {
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{python} not found (set SIM_BENCH_PYTHON)"),
            _ => format!("could not start {python}: {e}"),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        let why = last.map_or(String::new(), |l| format!(": {}", l.trim()));
        return Err(match out.status.code() {
            Some(3) => format!("{package} is not installed for {python} (pip install {package})"),
            _ => format!("{python} {} failed ({}){why}", script.display(), out.status),
        });
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line)
        .map_err(|e| format!("unexpected output from {}: {e}: {line}", script.display()))
}

/// Number `key` of a peer's JSON result, or an error naming it and the output.
pub fn number(v: &serde_json::Value, key: &str) -> Result<f64, String> {
    v.get(key)
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| format!("no number `{key}` in the peer's output: {v}"))
}

//! A run's trace hash as the `sim` binary prints it, from a process of its own, for the tests
//! that check one process against another (`determinism.rs`, `world.rs`).

use std::path::Path;
use std::process::Command;

/// `sim run FILE --seed SEED [--variant V] --json`'s trace hash; the run must pass.
pub fn hash_in_new_process(file: &Path, seed: u64, variant: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sim"));
    cmd.args([
        "run",
        file.to_str().expect("a UTF-8 path"),
        "--seed",
        &seed.to_string(),
        "--json",
    ]);
    if let Some(v) = variant {
        cmd.args(["--variant", v]);
    }
    let out = cmd.output().expect("sim runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // A chosen sweep variant prints the sweep's form, a plain run its own.
    let run = if v["runs"].is_array() {
        &v["runs"][0]
    } else {
        &v
    };
    run["trace_hash"]
        .as_str()
        .expect("a trace hash")
        .to_string()
}

//! Running scenarios from a test: a shipped scenario's path, a metric's statistic, and a
//! scenario given as text (written to a file of its own first, removed after).

use std::path::{Path, PathBuf};

use scenarios::{RunOptions, RunReport, run_file};

/// `name` under the scenarios crate (`raft-disks.scn`, `failing/raft-corrupt-log.scn`).
pub fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Statistic `stat` of `metric` in a run (the test fails if the run has none).
pub fn stat(r: &RunReport, metric: &str, stat: &str) -> f64 {
    r.result
        .metrics
        .get(metric)
        .and_then(|m| m.stat(stat))
        .unwrap_or_else(|| panic!("no {stat}({metric})"))
}

/// The runs of `text` (a scenario, perhaps sweeping), or what refused it.
pub fn run_text(name: &str, text: &str) -> Result<Vec<RunReport>, String> {
    let dir = std::env::temp_dir().join(format!("sim-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join(format!("{name}.scn"));
    std::fs::write(&path, text).expect("the scenario written");
    let runs = run_file(&path, &RunOptions::default()).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    runs
}

//! `native run --compare`: the table's shape, never a timing. Both sides measure every metric
//! (the scenario crashes its leader, so election time has samples on both), and every error is
//! computed; with `--calibration` the calibrated simulator is a third column.

use std::process::Command;

const SCENARIO: &str = r#"scenario "compare-shape" {
  seed 3
  duration 4s
  network { latency uniform(1ms, 3ms) }
  raft cluster { nodes n1..n3  election_timeout 150ms..300ms  heartbeat 50ms }
  load kv { clients 2  rate 40/s  keys zipf(10, 0.99)  mix [get 50%, put 40%, cas 10%] }
  at 1500ms crash leader
  at 2500ms restart all
}
"#;

fn native() -> Command {
    Command::new(env!("CARGO_BIN_EXE_native"))
}

/// The rows of the table: (metric, the numbers after it).
fn rows(stdout: &str) -> Vec<(String, Vec<String>)> {
    stdout
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // The metric is the text before the first run of two spaces.
            let (metric, rest) = l.split_once("  ").unwrap_or((l, ""));
            let cells = rest.split_whitespace().map(str::to_string).collect();
            (metric.trim().to_string(), cells)
        })
        .collect()
}

#[test]
fn both_sides_are_measured_and_every_error_computed() {
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("c.scn");
    std::fs::write(&scn, SCENARIO).unwrap();
    let cal = dir.path().join("net.scn");
    let o = native()
        .args(["calibrate", "net", "--samples", "500", "--out"])
        .arg(&cal)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = native()
        .arg("run")
        .arg(&scn)
        .args(["--compare", "1", "--calibration"])
        .arg(cal.with_extension("ron"))
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let table = rows(&stdout);
    let metrics: Vec<&str> = table.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        metrics,
        [
            "time to elect a leader after a leader crash",
            "commit latency (leader append to commit)",
            "client operation latency",
            "messages per committed entry"
        ],
        "{stdout}"
    );
    for (metric, cells) in &table {
        // sim p50, sim p99, n, real p50, real p99, n, error, cal p50, cal p99, cal error
        assert_eq!(cells.len(), 10, "{metric}: {cells:?}");
        let n_sim: u64 = cells[2].parse().unwrap();
        let n_real: u64 = cells[5].parse().unwrap();
        assert!(n_sim > 0 && n_real > 0, "{metric}: {cells:?}");
        for k in [6, 9] {
            assert!(
                cells[k].ends_with('%') && cells[k].parse::<f64>().is_err(),
                "{metric}: error {k} {:?}",
                cells[k]
            );
            let v: f64 = cells[k].trim_end_matches('%').parse().unwrap();
            assert!(v.is_finite(), "{metric}: {v}");
        }
    }
    // Nothing left in the run's temporary directory but the test's own files.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sim-native-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

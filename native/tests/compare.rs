//! `native run --compare`: the table's shape, never a timing. Both sides measure every metric
//! (the scenario crashes its leader, so election time has samples on both), and every error is
//! computed; with `--calibration` the calibrated simulator is a third column. Every run's checks
//! are reported, and a comparison in which a run broke one exits 1 with the evidence.

use std::process::Command;

const SCENARIO: &str = r#"scenario "compare-shape" {
  seed 3
  duration 4s
  network { latency uniform(1ms, 3ms) }
  raft cluster { nodes n1..n3  election_timeout 150ms..300ms  heartbeat 50ms }
  load kv { clients 2  rate 40/s  keys zipf(10, 0.99)  mix [get 50%, put 40%, cas 10%] }
  at 1500ms crash leader
  at 2500ms restart all
  expect linearizable
}
"#;

fn native() -> Command {
    Command::new(env!("CARGO_BIN_EXE_native"))
}

/// The rows of the table (up to the first blank line): (metric, the numbers after it).
fn rows(stdout: &str) -> Vec<(String, Vec<String>)> {
    stdout
        .lines()
        .skip(2)
        .take_while(|l| !l.trim().is_empty())
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
    // Every run's checks, each of which held.
    for run in ["native seed 3", "sim seed 3", "calibrated sim seed 3"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("  ok    {run}: ")) && l.contains("linearizable")),
            "no checks of {run}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("result     ok: every check held in all 3 runs"),
        "{stdout}"
    );
    // Nothing left in the run's temporary directory but the test's own files.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sim-native-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A scenario whose liveness expectation no run can meet (a leader within 1 ms of the start,
/// where an election takes at least 150 ms) and a metric expectation the simulator judges: the
/// comparison still prints its table, then each run's failed checks, the replay command of the
/// simulated one, and exits 1.
#[test]
fn a_broken_check_in_any_run_fails_the_comparison_and_says_how_to_see_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("broken.scn");
    std::fs::write(
        &scn,
        r#"scenario "compare-broken" {
  seed 5
  duration 1s
  raft cluster { nodes n1..n3  election_timeout 150ms..300ms  heartbeat 50ms }
  load kv { clients 1  rate 20/s  keys uniform(1, 5) }
  expect leader within 1ms
  expect value(kv.ok) > 1000000
  expect linearizable
}
"#,
    )
    .unwrap();
    let o = native()
        .arg("run")
        .arg(&scn)
        .args(["--compare", "1"])
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let shown = format!("{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{shown}");
    assert_eq!(rows(&stdout).len(), 4, "the table is still there: {shown}");
    let line = |prefix: &str| {
        stdout
            .lines()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?}: {shown}"))
    };
    let native_at = line("  FAIL  native seed 5: ");
    let sim_at = line("  FAIL  sim seed 5: ");
    let lines: Vec<&str> = stdout.lines().collect();
    // The native run's violation, with its detail, in the simulator's words: both runs start
    // at time zero, so the deadline is the same.
    let broken = "liveness: `expect leader within 1ms` did not happen by 1ms";
    assert_eq!(lines[native_at + 1].trim(), broken, "{shown}");
    // The simulated run's: the same liveness violation and the scenario's metric expectation,
    // then the command that replays it.
    let sim_lines = &lines[sim_at..];
    assert!(sim_lines.iter().any(|l| l.trim() == broken), "{shown}");
    assert!(
        sim_lines.iter().any(|l| l
            .trim_start()
            .starts_with("value(kv.ok) > 1_000_000: actual")),
        "{shown}"
    );
    let replay = format!("replay: sim run {} --seed 5", scn.display());
    assert!(
        sim_lines.iter().any(|l| l.trim() == replay),
        "wanted {replay:?}: {shown}"
    );
    assert!(
        stdout.contains("result     FAILED: 2 of 2 runs broke a check"),
        "{shown}"
    );
}

//! CFS bandwidth control end to end through the `sim` binary: a hand-worked throttling case
//! gives its exact figures, `threads` makes requests whose latency is their last thread's, and
//! `scenarios/cpu-quota.scn` shows the lesson (a quota the service is well within on average
//! still adds tens of milliseconds to its p99).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Every run's JSON report (one per variant) of `file`, which must pass its checks.
fn runs(file: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("run")
        .arg(file)
        .arg("--json")
        .output()
        .expect("sim runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A scenario written to a temporary file.
fn written(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let file = dir.path().join("t.scn");
    std::fs::write(&file, text).expect("write");
    file
}

/// A metric's statistic, in milliseconds for durations.
fn get(r: &Value, metric: &str, stat: &str) -> f64 {
    let v = r["metrics"][metric][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("no {stat} of {metric}: {}", r["metrics"]));
    if r["metrics"][metric]["unit"] == "ns" && stat != "count" {
        v / 1e6
    } else {
        v
    }
}

/// Worked by hand: a 1 s job on one CPU with 20 ms per 100 ms period runs 20 ms of each period,
/// so it needs 50 periods and finishes at 4.92 s, throttled in the first 49 for 80 ms each.
#[test]
fn one_busy_job_under_a_fifth_of_a_cpu_is_throttled_exactly_as_worked_by_hand() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = written(
        &dir,
        "scenario \"t\" {\n  cpu m { policy fifo  quota 20ms  period 100ms }\n  job long { cpu 1s }\n}\n",
    );
    let r = &runs(&file)[0];
    assert_eq!(get(r, "long.turnaround", "max"), 4920.0);
    assert_eq!(get(r, "m.nr_periods", "value"), 50.0);
    assert_eq!(get(r, "m.nr_throttled", "value"), 49.0);
    assert_eq!(get(r, "m.throttled_time", "max"), 49.0 * 80.0);
}

/// `threads 2` makes each arrival two jobs; a request's latency is its slower thread's. With a
/// quota of 10 ms per 100 ms over two CPUs, each 10 ms thread pair takes two periods' runtime:
/// 5 ms each in the first period, throttled, 5 ms each in the second.
#[test]
fn a_requests_latency_is_its_last_threads_and_a_quota_of_0_limits_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = |quota: &str| {
        format!(
            "scenario \"t\" {{\n  cpu m {{ policy fifo  cpus 2  quota {quota} }}\n  jobs r {{ count 1  cpu constant(10ms)  threads 2 }}\n}}\n"
        )
    };
    let limited = &runs(&written(&dir, &text("10ms")))[0];
    assert_eq!(get(limited, "m.turnaround", "count"), 2.0);
    assert_eq!(get(limited, "r.latency", "count"), 1.0);
    assert_eq!(get(limited, "r.latency", "max"), 105.0);
    assert_eq!(get(limited, "m.nr_throttled", "value"), 1.0);
    assert_eq!(get(limited, "m.throttled_time", "max"), 95.0);
    let free = &runs(&written(&dir, &text("0s")))[0];
    assert_eq!(get(free, "r.latency", "max"), 10.0);
    assert_eq!(get(free, "m.nr_throttled", "value"), 0.0);
    assert_eq!(get(free, "m.nr_periods", "value"), 0.0);
}

/// The lesson: the same requests with and without a quota of one CPU. Both use about 0.3 CPUs
/// on average, far below the quota, and their medians agree; with the quota, the service is
/// throttled whenever two requests share a period, and the p99 grows by tens of milliseconds.
#[test]
fn a_quota_well_above_the_mean_still_raises_the_p99() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cpu-quota.scn");
    let variants = runs(&file);
    assert_eq!(variants.len(), 2);
    let (free, limited) = (&variants[0], &variants[1]);
    assert_eq!(free["variant"], "box.quota=0s");
    assert_eq!(limited["variant"], "box.quota=100ms");
    for r in [free, limited] {
        // A quota of one CPU is half of two: the service uses under a third of it.
        assert!(get(r, "box.utilisation", "value") < 0.5 / 3.0);
    }
    assert_eq!(
        get(free, "requests.latency", "p50"),
        get(limited, "requests.latency", "p50")
    );
    let (p99_free, p99_limited) = (
        get(free, "requests.latency", "p99"),
        get(limited, "requests.latency", "p99"),
    );
    assert!(
        p99_limited > p99_free + 50.0,
        "{p99_free} ms, {p99_limited} ms"
    );
    assert_eq!(get(free, "box.nr_throttled", "value"), 0.0);
    assert!(get(limited, "box.nr_throttled", "value") > 10.0);
    assert!(get(limited, "box.throttled_time", "max") > 0.0);
}

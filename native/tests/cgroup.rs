//! `native run` on a CPU scenario: its jobs as threads of a worker in a cgroup with the
//! scenario's CPU limit, beside the simulator's run; throttling measured with a quota and not
//! without one, and the cgroup removed however the run ends (a normal end, Ctrl-C, SIGTERM,
//! SIGHUP; after a SIGKILL, at the next start). Needs root and a cgroup cpu controller: without
//! them each test prints why it skipped. No timing is asserted: counts and clean-up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs look for what dead runs left: one at a time, so that one test's leftover is its own
/// next run's to remove.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Where cgroups with the `cpu` controller are made here (v2's unified root or v1's `cpu`).
fn cgroup_root() -> Option<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    match std::fs::read_to_string(base.join("cgroup.controllers")) {
        Ok(c) => c
            .split_whitespace()
            .any(|w| w == "cpu")
            .then(|| base.to_path_buf()),
        Err(_) => Some(base.join("cpu")).filter(|p| p.join("cpu.cfs_quota_us").exists()),
    }
}

fn skip_reason() -> Option<String> {
    let Some(root) = cgroup_root() else {
        return Some("no cgroup cpu controller under /sys/fs/cgroup".into());
    };
    // Really make (and remove) one: being root is not always enough (a container).
    let probe = root.join(format!("sim-native-probe-{}", std::process::id()));
    match std::fs::create_dir(&probe) {
        Ok(()) => {
            let _ = std::fs::remove_dir(&probe);
            None
        }
        Err(e) => Some(format!("cannot make {}: {e}", probe.display())),
    }
}

macro_rules! skip_without_cgroups {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("skipped: native run on a CPU scenario needs cgroups ({why})");
            return;
        }
    };
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// The cgroups of runner `pid` that exist.
fn cgroups_of(pid: u32) -> Vec<PathBuf> {
    let Some(root) = cgroup_root() else {
        return Vec::new();
    };
    let prefix = format!("sim-native-{pid}-");
    std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn native() -> Command {
    Command::new(env!("CARGO_BIN_EXE_native"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The figure's two values (sim, real) from the table's second part.
fn figure(stdout: &str, name: &str) -> (String, String) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} row: {stdout}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    (w[w.len() - 2].to_string(), w[w.len() - 1].to_string())
}

/// A latency row's counts: (sim n, real n).
fn counts(stdout: &str, name: &str) -> (u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} row: {stdout}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    (w[1].parse().unwrap(), w[5].parse().unwrap())
}

/// Runs variant `variant` of the short scenario: its output, after checking it ran, every
/// job ended on both sides, and its cgroup is gone.
fn run_short(variant: &str) -> String {
    let child = native()
        .arg("run")
        .arg(scenario("cpu-quota.scn"))
        .args(["--variant", variant])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("cgroup     /sys/fs/cgroup/"), "{stdout}");
    assert_eq!(counts(&stdout, "box.turnaround"), (16, 16), "{stdout}");
    assert_eq!(counts(&stdout, "requests.latency"), (8, 8), "{stdout}");
    assert_eq!(
        cgroups_of(pid),
        Vec::<PathBuf>::new(),
        "the run's cgroup is gone"
    );
    stdout
}

/// With a quota of 20 ms per 100 ms, two threads of 30 ms every 50 ms are throttled in the
/// cgroup as in the simulator; without a quota, in neither. The cgroup goes with the run.
#[test]
fn a_quota_throttles_the_threads_and_no_quota_does_not() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    skip_without_cgroups!();
    let limited = run_short("box.quota=20ms");
    assert!(limited.contains("quota 20ms per 100ms"), "{limited}");
    let (sim, real) = figure(&limited, "nr_throttled");
    let (sim, real): (u64, u64) = (sim.parse().unwrap(), real.parse().unwrap());
    assert!(sim > 0 && real > 0, "{limited}");
    let free = run_short("box.quota=0s");
    assert!(free.contains("quota none"), "{free}");
    assert_eq!(
        figure(&free, "nr_throttled"),
        ("0".into(), "0".into()),
        "{free}"
    );
}

/// Starts the long scenario and waits until its cgroup exists and its worker is in it.
fn start_long() -> std::process::Child {
    let child = native()
        .arg("run")
        .arg(scenario("cpu-long.scn"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let working = cgroups_of(child.id()).iter().any(|g| {
            std::fs::read_to_string(g.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty())
        });
        if working {
            std::thread::sleep(Duration::from_millis(300));
            return child;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no cgroup with a worker appeared in 60 s");
}

/// Ctrl-C, SIGTERM and SIGHUP to the runner: the run stops as interrupted (exit 2), its worker
/// is killed and its cgroup removed.
#[test]
fn an_interrupted_run_removes_its_cgroup() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    skip_without_cgroups!();
    for signal in ["INT", "TERM", "HUP"] {
        let child = start_long();
        let pid = child.id();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "SIG{signal}: {stderr}");
        assert_eq!(cgroups_of(pid), Vec::<PathBuf>::new(), "SIG{signal}");
    }
}

/// A SIGKILLed runner cannot clean up: its worker dies with it (a parent-death signal) and its
/// empty cgroup stays. The next run removes it before it starts, and says so.
#[test]
fn what_a_killed_run_left_is_removed_by_the_next() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    skip_without_cgroups!();
    let mut child = start_long();
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let left = cgroups_of(pid);
    assert_eq!(left.len(), 1, "a SIGKILLed run leaves its cgroup: {left:?}");
    // Its worker is gone soon after its runner.
    let procs = left[0].join("cgroup.procs");
    let started = Instant::now();
    while std::fs::read_to_string(&procs).is_ok_and(|p| !p.trim().is_empty()) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the worker outlived its runner"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stdout = run_short("box.quota=0s");
    assert!(
        stdout.contains(&format!(
            "cleaned    removed what process {pid} left: {}",
            left[0].display()
        )),
        "{stdout}"
    );
    assert_eq!(cgroups_of(pid), Vec::<PathBuf>::new());
}

/// Flags of Raft runs are refused on a CPU scenario, naming the flag, before anything starts.
#[test]
fn raft_flags_are_refused_on_a_cpu_scenario() {
    let out = native()
        .arg("run")
        .arg(scenario("cpu-quota.scn"))
        .args(["--variant", "1", "--netns"])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--netns is for Raft scenarios") && stderr.contains("CPU scenario"),
        "{stderr}"
    );
}

//! `native run --netns`: a network namespace per node, joined by veth pairs and a bridge, made
//! for the run and removed after it, also when the run is interrupted. Needs root and iproute2:
//! without them each test prints why it skipped.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"scenario "netns" {
  seed 2
  duration 3s
  raft cluster { nodes n1..n3  election_timeout 150ms..300ms  heartbeat 50ms }
  load kv { clients 2  rate 40/s  keys zipf(10, 0.99)  mix [get 50%, put 40%, cas 10%] }
  at 1s partition one
  at 2s heal
  expect linearizable
  expect durable
}
"#;

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid takes no arguments and cannot fail.
    if unsafe { libc_geteuid() } != 0 {
        return Some("not root".into());
    }
    // Really make (and remove) a namespace: being root is not always enough (a container).
    // A name of its own per probe: the tests of this file run as threads of one process.
    static PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let k = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = format!("sim-probe-{}-{k}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &probe])
        .output()
        .map_err(|e| format!("`ip` cannot run: {e}"))
        .and_then(|o| {
            if o.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
            }
        });
    let _ = Command::new("ip").args(["netns", "del", &probe]).output();
    made.err()
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// This run's namespaces (`sim-PID-nK`), bridge (`sbPID`) and host-side veths (`svPIDnK`)
/// that still exist.
fn leftovers(pid: u32) -> Vec<String> {
    let mut left = Vec::new();
    if let Ok(o) = Command::new("ip").args(["-o", "link", "show"]).output() {
        let veth = format!("sv{}n", pid % 100_000);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        left.extend(
            text.lines()
                .filter_map(|l| l.split(": ").nth(1))
                .map(|name| name.split('@').next().unwrap_or(name))
                .filter(|name| name.starts_with(&veth))
                .map(str::to_string),
        );
    }
    if let Ok(o) = Command::new("ip").args(["netns", "list"]).output() {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        left.extend(
            text.lines()
                .filter(|l| l.starts_with(&format!("sim-{pid}-")))
                .map(str::to_string),
        );
    }
    let bridge = format!("sb{}", pid % 10_000_000);
    if Command::new("ip")
        .args(["link", "show", &bridge])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        left.push(bridge);
    }
    left
}

/// One run at a time: two runs making namespaces at once would still work (each finds a free
/// subnet), but the leftover checks look at the whole machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn scenario() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("netns.scn");
    std::fs::write(&scn, SCENARIO).unwrap();
    (dir, scn)
}

#[test]
fn a_run_between_namespaces_holds_its_checks_and_removes_them() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = skip_reason() {
        eprintln!("skipped: --netns needs root and iproute2 ({why})");
        return;
    }
    let (dir, scn) = scenario();
    let child = Command::new(env!("CARGO_BIN_EXE_native"))
        .arg("run")
        .arg(&scn)
        .arg("--netns")
        .env("TMPDIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // While it runs, its three namespaces and its bridge exist.
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < Duration::from_secs(3) && seen.len() < 7 {
        seen = leftovers(pid);
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert!(stdout.contains("between network namespaces"), "{stdout}");
    for check in ["linearizable", "durable", "state-machine-safety"] {
        assert!(stdout.contains(&format!("ok    {check}")), "{stdout}");
    }
    assert!(leftovers(pid).is_empty(), "{:?}", leftovers(pid));
}

/// Ctrl-C, SIGTERM and SIGHUP to the runner: each removes the namespaces, the bridge and the
/// veths.
#[test]
fn an_interrupted_run_removes_its_namespaces_too() {
    for signal in ["INT", "TERM", "HUP"] {
        interrupted_run_leaves_nothing(signal);
    }
}

fn interrupted_run_leaves_nothing(signal: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = skip_reason() {
        eprintln!("skipped: --netns needs root and iproute2 ({why})");
        return;
    }
    let (dir, scn) = scenario();
    let child = Command::new(env!("CARGO_BIN_EXE_native"))
        .arg("run")
        .arg(&scn)
        .args(["--netns", "--until", "20s"])
        .env("TMPDIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    // Three namespaces, three veths and the bridge.
    while leftovers(pid).len() < 7 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(leftovers(pid).len(), 7, "{:?}", leftovers(pid));
    std::thread::sleep(Duration::from_millis(500));
    Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "SIG{signal}: {stderr}");
    assert!(stderr.contains("interrupted"), "SIG{signal}: {stderr}");
    assert!(
        leftovers(pid).is_empty(),
        "SIG{signal}: {:?}",
        leftovers(pid)
    );
    let dirs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sim-native-"))
        .collect();
    assert!(dirs.is_empty(), "SIG{signal}: left {dirs:?}");
}

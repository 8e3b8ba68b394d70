//! `native run` on a disk scenario: the workload on a loop device beside the simulator and fio,
//! and the loop device and its file removed however the run ends (a normal end, Ctrl-C,
//! SIGTERM, SIGHUP; after a SIGKILL, at the next start). Needs root and loop devices: without
//! them each test prints why it skipped. No timing is asserted: shapes, counts and clean-up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Loop devices are machine-wide: one run at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn skip_reason() -> Option<String> {
    if !Path::new("/dev/loop-control").exists() {
        return Some("no /dev/loop-control".into());
    }
    // Really make (and remove) one: being root is not always enough (a container).
    let dir = tempfile::tempdir().ok()?;
    let file = dir.path().join("probe.img");
    std::fs::write(&file, vec![0u8; 1 << 16]).ok()?;
    let out = Command::new("losetup")
        .args(["--find", "--show"])
        .arg(&file)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let dev = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let _ = Command::new("losetup").args(["--detach", &dev]).output();
            None
        }
        Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Some(format!("`losetup` cannot run: {e}")),
    }
}

macro_rules! skip_without_loop_devices {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("skipped: native run on a disk scenario needs loop devices ({why})");
            return;
        }
    };
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// A run's state directory under its own TMPDIR.
fn state(tmp: &Path) -> PathBuf {
    tmp.join("sim-native-disk")
}

/// What is left of runs under `tmp`: files in the state directory, and loop devices over them.
fn leftovers(tmp: &Path) -> Vec<String> {
    let mut left: Vec<String> = std::fs::read_dir(state(tmp))
        .map(|d| {
            d.flatten()
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let all = Command::new("losetup")
        .arg("--list")
        .args(["--noheadings", "--output", "NAME,BACK-FILE"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let here = tmp.display().to_string();
    left.extend(
        all.lines()
            .filter(|l| l.contains(&here))
            .map(str::to_string),
    );
    left
}

fn native(tmp: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_native"));
    c.env("TMPDIR", tmp);
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The table's rows: (class, side, n).
fn rows(stdout: &str) -> Vec<(String, String, u64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (class, side, n) = (w.next()?, w.next()?, w.next()?);
            (["read", "write"].contains(&class)).then(|| {
                (
                    class.to_string(),
                    side.to_string(),
                    n.parse().unwrap_or(u64::MAX),
                )
            })
        })
        .collect()
}

/// The run prints, per class, the simulator's, the measurement's and fio's figures (or why fio
/// did not run); both sides issued the same requests, so the same count per class; fio issued
/// as many in all. Nothing is left behind.
#[test]
fn a_disk_scenario_runs_beside_the_simulator_and_fio_and_leaves_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    skip_without_loop_devices!();
    let tmp = tempfile::tempdir().unwrap();
    let out = native(tmp.path())
        .arg("run")
        .arg(scenario("disk.scn"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for want in [
        "scenario   disk-native",
        "io         mixed: 4 KiB random, 70% reads, queue depth 4, 2000 requests over 64 MiB",
        "simulated  disk `d`: hdd 7200 rpm",
        "O_DIRECT",
        "class  side        n       p50       p90       p99       max      IOPS  demerit",
    ] {
        assert!(stdout.contains(want), "{want:?} not in\n{stdout}");
    }
    let rows = rows(&stdout);
    let n = |class: &str, side: &str| {
        rows.iter()
            .find(|r| r.0 == class && r.1 == side)
            .map(|r| r.2)
    };
    for class in ["read", "write"] {
        assert_eq!(n(class, "sim"), n(class, "real"), "{class}:\n{stdout}");
        assert!(n(class, "real").is_some_and(|n| n > 0), "{stdout}");
    }
    assert_eq!(
        n("read", "real").unwrap() + n("write", "real").unwrap(),
        2000
    );
    if stdout.contains("fio        skipped") {
        eprintln!("fio did not run: {stdout}");
    } else {
        let fio = n("read", "fio").unwrap() + n("write", "fio").unwrap();
        assert_eq!(fio, 2000, "{stdout}");
    }
    // The simulator's rows carry the demerit against the measurement.
    let sim_row = stdout
        .lines()
        .find(|l| l.starts_with("read   sim"))
        .unwrap();
    assert!(sim_row.trim_end().ends_with('%'), "{sim_row}");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

/// Without fio (not on PATH), the run still runs, and says why fio's rows are missing.
#[test]
fn without_fio_its_rows_are_skipped_with_the_reason() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    skip_without_loop_devices!();
    let tmp = tempfile::tempdir().unwrap();
    // losetup is in the sbin directories; fio is not.
    let out = native(tmp.path())
        .env("PATH", "/usr/sbin:/sbin")
        .arg("run")
        .arg(scenario("disk.scn"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    if Path::new("/usr/sbin/fio").exists() || Path::new("/sbin/fio").exists() {
        eprintln!("skipped: fio is in an sbin directory here");
        return;
    }
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("fio        skipped: fio is not installed (apt-get install fio)"),
        "{stdout}"
    );
    assert!(!rows(&stdout).iter().any(|r| r.1 == "fio"), "{stdout}");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

/// Starts the long scenario and waits until its loop device is attached.
fn start_long(tmp: &Path) -> std::process::Child {
    let child = native(tmp)
        .arg("run")
        .arg(scenario("disk-long.scn"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let attached = leftovers(tmp).iter().any(|l| l.starts_with("/dev/loop"));
        if attached {
            // Into the workload (the file is written before the device is attached).
            std::thread::sleep(Duration::from_millis(300));
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no loop device appeared in 60 s: {:?}", leftovers(tmp));
}

/// Ctrl-C, SIGTERM and SIGHUP to the runner: the run stops as interrupted (exit 2) and its
/// loop device, file and record are gone.
#[test]
fn an_interrupted_run_removes_its_loop_device() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    skip_without_loop_devices!();
    for signal in ["INT", "TERM", "HUP"] {
        let tmp = tempfile::tempdir().unwrap();
        let child = start_long(tmp.path());
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "SIG{signal}: {stderr}");
        assert_eq!(leftovers(tmp.path()), Vec::<String>::new(), "SIG{signal}");
    }
}

/// A SIGKILLed runner cannot clean up: its loop device and file stay, with the record of them.
/// The next run removes them before it starts, and says so.
#[test]
fn what_a_killed_run_left_is_removed_by_the_next() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    skip_without_loop_devices!();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = start_long(tmp.path());
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let left = leftovers(tmp.path());
    assert!(
        left.iter().any(|l| l.starts_with("/dev/loop"))
            && left.iter().any(|l| l.ends_with(".img"))
            && left.iter().any(|l| l.ends_with(".loop")),
        "a SIGKILLed run leaves its device, file and record: {left:?}"
    );
    let out = native(tmp.path())
        .arg("run")
        .arg(scenario("disk.scn"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "cleaned    removed what process {pid} left: /dev/loop"
        )),
        "{stdout}"
    );
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

/// Flags of Raft runs are refused on a disk scenario, naming the flag.
#[test]
fn raft_flags_are_refused_on_a_disk_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let out = native(tmp.path())
        .arg("run")
        .arg(scenario("disk.scn"))
        .arg("--netns")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--netns is for Raft scenarios") && stderr.contains("disk scenario"),
        "{stderr}"
    );
}

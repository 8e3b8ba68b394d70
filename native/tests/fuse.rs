//! `native crashtest`: real programs (sqlite3, a shell's rename, Python's fsync) on the
//! simulated storage stack mounted with FUSE, crashed at their operations; its errors; and the
//! mount removed on every exit path (a normal end, an error, SIGTERM, SIGINT, and a SIGKILLed
//! runner's at the next start). Needs /dev/fuse and fusermount3 (Debian's fuse3): without them
//! each test says so and skips, unless SIM_REQUIRE_FUSE=1 (set by .ci/run) makes it fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn native() -> Command {
    Command::new(env!("CARGO_BIN_EXE_native"))
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/fuse")
        .join(name)
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether FUSE can mount here and the programs `needs` are installed; else why not, printed
/// (or, with SIM_REQUIRE_FUSE=1 as CI sets it, a failure).
fn ready(needs: &[&str]) -> bool {
    let skip = |why: String| {
        if std::env::var_os("SIM_REQUIRE_FUSE").is_some_and(|v| v == "1") {
            panic!("SIM_REQUIRE_FUSE=1 but {why}");
        }
        eprintln!("skipped: {why}");
        false
    };
    if !Path::new("/dev/fuse").exists() {
        return skip("no /dev/fuse".into());
    }
    for program in std::iter::once(&"fusermount3").chain(needs) {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return skip(format!("no {program} here"));
        }
    }
    true
}

/// Runs `native crashtest ARGS` to its end (at most two minutes).
fn crashtest(args: &[&str]) -> Output {
    let mut child = native()
        .arg("crashtest")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("native starts");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("native crashtest {args:?} ran for two minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id();
    let out = child.wait_with_output().expect("output");
    assert_eq!(mounts_of(pid), Vec::<String>::new(), "every mount is gone");
    assert_eq!(
        state_files_of(pid),
        Vec::<String>::new(),
        "every file is gone"
    );
    out
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// A scenario written to a file of its own.
fn scenario(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".scn").tempfile().unwrap();
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    f
}

/// The simfs mount points a process with this pid owns.
fn mounts_of(pid: u32) -> Vec<String> {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split(' ').nth(2).is_some_and(|t| t.starts_with("fuse"))
                && l.starts_with(&format!("simfs-{pid}-"))
        })
        .map(|l| l.split(' ').nth(1).unwrap_or("").to_string())
        .collect()
}

/// The files and directories a process with this pid keeps in native's state directory.
fn state_files_of(pid: u32) -> Vec<String> {
    let dir = std::env::temp_dir().join("sim-native-fuse");
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.split('-').nth(1) == Some(&pid.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The replay command a report gives for its first failing point, as arguments after
/// `native crashtest`.
fn first_replay(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.contains("(replay: native crashtest "))
        .unwrap_or_else(|| panic!("no replay command: {stdout}"));
    let command = &line[line.find("(replay: ").unwrap() + "(replay: ".len()..line.len() - 1];
    command
        .split_whitespace()
        .skip(2)
        .map(str::to_string)
        .collect()
}

/// The report's last line: "F of N crash points lost acknowledged data ...": (F, N).
fn tally(stdout: &str) -> (u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.contains(" crash points lost acknowledged data"))
        .unwrap_or_else(|| panic!("no tally: {stdout}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    (w[0].parse().unwrap(), w[2].parse().unwrap())
}

/// SQLite in WAL mode keeps every acknowledged commit at every crash point with
/// synchronous=FULL; with synchronous=OFF some crash point loses acknowledged commits, the
/// report names it, and its replay command fails again the same way.
#[test]
fn sqlite_keeps_acknowledged_commits_only_when_it_syncs() {
    if !ready(&["sqlite3"]) {
        return;
    }
    let full = crashtest(&[path(&shipped("sqlite-wal.scn"))]);
    let (stdout, stderr) = text(&full);
    assert_eq!(full.status.code(), Some(0), "{stdout}{stderr}");
    let (lost, tried) = tally(&stdout);
    assert_eq!(lost, 0);
    assert!(tried >= 20, "every operation a crash point: {stdout}");

    let off = crashtest(&[path(&shipped("sqlite-nosync.scn"))]);
    let (stdout, stderr) = text(&off);
    assert_eq!(off.status.code(), Some(1), "{stdout}{stderr}");
    let (lost, tried) = tally(&stdout);
    assert!(lost >= 1 && lost <= tried, "{stdout}");
    assert!(
        stdout.contains("lost acknowledged data: 0 rows, 1 acknowledged"),
        "{stdout}"
    );

    let replay = first_replay(&stdout);
    let args: Vec<&str> = replay.iter().map(String::as_str).collect();
    let again = crashtest(&args);
    let (once, stderr) = text(&again);
    assert_eq!(again.status.code(), Some(1), "{once}{stderr}");
    assert!(once.contains("the check FAILED"), "{once}");
    let twice = text(&crashtest(&args)).0;
    assert_eq!(once, twice, "a replay is the same run");
}

/// Replacing a file by a rename without fsyncs loses it at a crash (ALICE, OSDI 2014): with
/// the scenario's seed the directory keeps the rename and loses the data. With an fsync of the
/// file before the rename and of the directory after, no crash point loses it, whatever the
/// seed.
#[test]
fn a_rename_without_fsyncs_loses_the_file_and_with_them_does_not() {
    if !ready(&["python3"]) {
        return;
    }
    let unsafe_run = crashtest(&[path(&shipped("rename.scn"))]);
    let (stdout, stderr) = text(&unsafe_run);
    assert_eq!(unsafe_run.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("config holds ''"), "{stdout}");
    for seed in 1..=6 {
        let safe = crashtest(&[
            path(&shipped("rename-fsync.scn")),
            "--seed",
            &seed.to_string(),
        ]);
        let (stdout, stderr) = text(&safe);
        assert_eq!(safe.status.code(), Some(0), "seed {seed}: {stdout}{stderr}");
        assert_eq!(tally(&stdout).0, 0);
    }
}

/// A failed fsync retried: the retry succeeds without the data (Linux's semantics), the
/// program acknowledges it, and a crash loses it.
#[test]
fn a_retried_fsync_after_a_failed_one_loses_acknowledged_data() {
    if !ready(&["python3"]) {
        return;
    }
    let run = crashtest(&[path(&shipped("fsync-retry.scn"))]);
    let (stdout, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(1), "{stdout}{stderr}");
    let replay = first_replay(&stdout);
    assert_eq!(replay.last().map(String::as_str), Some("end"), "{stdout}");
    let args: Vec<&str> = replay.iter().map(String::as_str).collect();
    let (stdout, _) = text(&crashtest(&args));
    assert!(
        stdout.contains("fsync failed: Input/output error - retrying")
            && stdout.contains("fsync: ok"),
        "{stdout}"
    );
    assert!(stdout.contains("record holds ''"), "{stdout}");
}

/// A full disk refuses the program's write with ENOSPC.
#[test]
fn a_full_disk_refuses_writes() {
    if !ready(&["python3"]) {
        return;
    }
    let f = scenario(
        r#"scenario "full" {
  host db { }
  disk ssd { on db  model ssd  capacity 16MiB }
  mount data {
    on db
    program "python3 -c \"f = open('f', 'w'); f.write('data'); f.close()\""
    check "true"
  }
  at 0s disk db full
}
"#,
    );
    // The last point is a power cut after the program exits; a replay prints its output.
    let dry = crashtest(&[path(f.path())]);
    let (stdout, stderr) = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{stdout}{stderr}");
    let last = tally(&stdout).1;
    let replay = crashtest(&[path(f.path()), "--point", &last.to_string()]);
    let (stdout, stderr) = text(&replay);
    assert!(
        stdout.contains("No space left on device"),
        "{stdout}{stderr}"
    );
}

/// Bad scenarios and programs: a clear error, exit 2, and no mount left.
#[test]
fn bad_scenarios_and_programs_are_refused_clearly() {
    let disk = "host db { }\n  disk ssd { on db  model ssd  capacity 16MiB }\n";
    let cases: [(String, &str); 5] = [
        (
            format!("scenario \"x\" {{\n  {disk}}}\n"),
            "this one has none",
        ),
        (
            format!(
                "scenario \"x\" {{\n  {disk}  mount m {{ on db  program \"true\"  check \"true\" }}\n  at 1s crash db\n}}\n"
            ),
            ":5:3: `crash` in a scenario with a mount",
        ),
        (
            "scenario \"x\" {\n  host db { }\n  mount m { on db  program \"true\"  check \"true\" }\n}\n".to_string(),
            "which has no disk",
        ),
        (
            format!(
                "scenario \"x\" {{\n  {disk}  mount m {{ on db  program \"no-such-program-here\"  check \"true\" }}\n}}\n"
            ),
            "the program fails without any crash: sh: 1: no-such-program-here: not found",
        ),
        (
            format!(
                "scenario \"x\" {{\n  {disk}  mount m {{ on db  program \"true\"  check \"echo nothing to see; false\" }}\n}}\n"
            ),
            "the check fails without any crash (it must pass on what the program leaves): nothing to see",
        ),
    ];
    let can_mount = ready(&[]);
    for (i, (text_of, expected)) in cases.iter().enumerate() {
        // The last two need a mount to find the problem.
        if i >= 3 && !can_mount {
            continue;
        }
        let f = scenario(text_of);
        let out = crashtest(&[path(f.path())]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{text_of}: {stdout}{stderr}");
        assert!(
            stderr.contains(expected),
            "{text_of}: expected {expected:?} in {stderr}"
        );
    }
    // `native run` and `sim run` name the command that runs a mount.
    let run = native()
        .args(["run", path(&shipped("rename.scn"))])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run).1.contains("native crashtest"),
        "{:?}",
        text(&run)
    );
    let missing = crashtest(&["no-such-file.scn"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).1.contains("no-such-file.scn"));
    if can_mount {
        let out = crashtest(&[path(&shipped("rename-fsync.scn")), "--point", "999"]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--point 999: the program makes"),
            "{stderr}"
        );
    }
}

/// A scenario whose program runs for a long time (until it is stopped).
fn sleeper() -> tempfile::NamedTempFile {
    scenario(
        "scenario \"sleeper\" {\n  host db { }\n  disk ssd { on db  model ssd  capacity 16MiB }\n  mount m { on db  program \"exec sleep 60\"  check \"true\" }\n}\n",
    )
}

/// Starts `native crashtest` on a sleeping program and waits until its mount is up.
fn started(f: &Path) -> std::process::Child {
    let mut child = native()
        .arg("crashtest")
        .arg(f)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("native starts");
    let t = Instant::now();
    while mounts_of(child.id()).is_empty() {
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the mount never came up");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// SIGTERM and SIGINT stop the test: the program is killed, the mount and its directory are
/// gone, and the exit says it was interrupted.
#[test]
fn sigterm_and_sigint_remove_the_mount() {
    if !ready(&[]) {
        return;
    }
    let f = sleeper();
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let child = started(f.path());
        let pid = child.id();
        let at = mounts_of(pid);
        // SAFETY: kill(2) with a child's pid and a signal number touches no memory.
        unsafe {
            libc::kill(pid as i32, signal);
        }
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(mounts_of(pid).is_empty(), "the mount is gone");
        assert!(
            !Path::new(&at[0]).exists(),
            "its directory is gone: {}",
            at[0]
        );
        assert_eq!(
            state_files_of(pid),
            Vec::<String>::new(),
            "its files are gone"
        );
    }
}

/// A SIGKILLed runner cannot unmount: its mount stays, dead. The next crash test detaches it
/// and removes its directory before it mounts its own.
#[test]
fn a_killed_runners_mount_is_removed_at_the_next_start() {
    if !ready(&[]) {
        return;
    }
    let f = sleeper();
    let mut child = started(f.path());
    let pid = child.id();
    let at = mounts_of(pid);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(mounts_of(pid), at, "a SIGKILLed runner leaves its mount");
    assert_eq!(
        state_files_of(pid).len(),
        2,
        "and its mount point and acknowledgements"
    );
    let quick = crashtest(&[path(&shipped("rename-fsync.scn"))]);
    assert_eq!(quick.status.code(), Some(0), "{:?}", text(&quick));
    assert!(mounts_of(pid).is_empty(), "the next start removed it");
    assert!(!Path::new(&at[0]).exists(), "and its directory");
    assert_eq!(state_files_of(pid), Vec::<String>::new(), "and its files");
}

//! `native run` end to end: real node processes, real UDP on loopback, real fsyncs, in real
//! time. Each test runs the binary on a small three-node scenario (native/tests/scenarios/) and
//! checks what it prints, what it exits with, and that nothing is left behind: no `native node`
//! process and no run directory.
//!
//! Every run gets its own TMPDIR (a fresh temporary directory): the runner makes its
//! `sim-native-*` run directory there (tempfile honours TMPDIR), so the test knows which
//! directory and which node processes (their `--dir` argument) are its own, even with other
//! tests running beside it, and can require TMPDIR to be empty when the run is over.
//!
//! The runs that start nodes are serialised (a lock): on a machine of two cores, runs side by
//! side would compete for the CPU and the disk and make the liveness bounds a matter of luck.

#[path = "common/procs.rs"]
mod procs;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

/// One run at a time (a failed test poisons the lock; the next one goes on regardless).
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long the nodes of a run may take to be up (their logs on disk).
const UP_TIMEOUT: Duration = Duration::from_secs(20);

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

fn repo_scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

/// A TMPDIR of its own for one run of `native`.
struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            tmp: tempfile::Builder::new()
                .prefix("native-run-test-")
                .tempdir()
                .expect("a temporary directory"),
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// `native ARGS...` with TMPDIR set to the sandbox.
    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = Command::new(env!("CARGO_BIN_EXE_native"));
        c.args(args)
            .env("TMPDIR", self.path())
            .env_remove("SIM_NATIVE_PANIC_AFTER_START")
            .stdin(Stdio::null());
        c
    }

    /// The live (not zombie) `native node` processes of runs in this sandbox.
    fn nodes(&self) -> Vec<u32> {
        let needle = self.path().to_string_lossy().into_owned();
        procs::live_matching(|args| {
            let is_node = args.windows(2).any(|w| {
                Path::new(&w[0]).file_name().is_some_and(|f| f == "native") && w[1] == "node"
            });
            is_node && args.iter().any(|a| a.contains(&needle))
        })
    }

    fn entries(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.path())
            .expect("the sandbox is readable")
            .flatten()
            .map(|e| e.path())
            .collect()
    }

    /// Nothing of the run is left: no node process, and TMPDIR empty (no run directory).
    fn assert_clean(&self, what: &str) {
        let nodes = self.nodes();
        assert!(
            nodes.is_empty(),
            "{what}: node processes left running: {nodes:?}"
        );
        let left = self.entries();
        assert!(left.is_empty(), "{what}: left in TMPDIR: {left:?}");
    }

    /// Waits until a run directory holds `n` node logs (every node has its peers and opened
    /// its log), then until `n` node processes are seen; panics after `UP_TIMEOUT`.
    fn wait_until_up(&self, n: usize, runner: &mut Child) {
        let deadline = Instant::now() + UP_TIMEOUT;
        loop {
            let logs = self
                .entries()
                .iter()
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|f| f.to_string_lossy().starts_with("sim-native-"))
                })
                .filter_map(|d| std::fs::read_dir(d).ok())
                .flat_map(|d| d.flatten())
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .count();
            if logs >= n && self.nodes().len() == n {
                return;
            }
            if let Ok(Some(status)) = runner.try_wait() {
                panic!("the runner exited ({status}) before its nodes were up");
            }
            if Instant::now() > deadline {
                let _ = runner.kill();
                panic!(
                    "the nodes were not up within {UP_TIMEOUT:?}: {logs} logs, node processes {:?}",
                    self.nodes()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Waits for `child` at most `limit`; kills it (and panics) if it is still running then.
fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for the runner") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the runner had not exited {limit:?} later");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_all(r: Option<impl Read>) -> String {
    let mut s = String::new();
    if let Some(mut r) = r {
        let _ = r.read_to_string(&mut s);
    }
    s
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The checks the summary lists as held (`  ok    NAME ...`).
fn held(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("ok "))
        .map(|l| l.trim().to_string())
        .collect()
}

/// The number just before the word `word` (ignoring `,` and `;`) on the line starting `line`.
fn number_before(stdout: &str, line: &str, word: &str) -> u64 {
    let l = stdout
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no `{line}` line in:\n{stdout}"));
    let toks: Vec<&str> = l.split_whitespace().collect();
    let i = toks
        .iter()
        .position(|t| t.trim_end_matches([',', ';']) == word)
        .filter(|&i| i > 0)
        .unwrap_or_else(|| panic!("no number before `{word}` in `{l}`"));
    toks[i - 1]
        .trim_end_matches([',', ';', ':'])
        .parse()
        .unwrap_or_else(|_| panic!("`{}` before `{word}` is not a number in `{l}`", toks[i - 1]))
}

/// A run that must succeed: exit 0, every check held, among them `expected`, no FAIL line, and
/// nothing left behind. Returns stdout.
fn run_ok(args: &[&std::ffi::OsStr], expected: &[&str]) -> String {
    let _one = serial();
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let out = sandbox.command(args).output().expect("running native");
    let (stdout, stderr) = text(&out);
    eprintln!(
        "native {args:?}: {:?} in {:.1?}\n{stdout}{stderr}",
        out.status,
        started.elapsed()
    );
    // Whatever the run's result, it must leave nothing behind.
    sandbox.assert_clean("after a run to its end");
    assert_eq!(
        out.status.code(),
        Some(0),
        "native run did not succeed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let held = held(&stdout);
    for name in expected {
        assert!(
            held.iter()
                .any(|h| h == name || h.starts_with(&format!("{name} "))),
            "`{name}` is not listed as ok; held: {held:?}\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAIL"), "a check failed:\n{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("result") && l.contains("ok")),
        "no `result ... ok` line:\n{stdout}"
    );
    stdout
}

const ALL_CHECKS: [&str; 5] = [
    "election-safety",
    "state-machine-safety",
    "durable",
    "linearizable",
    "liveness",
];

/// Load, a leader crash and restart, a partition and heal: every check holds, operations got
/// through, the crash happened and a new leader took over, and `--history` writes a history in
/// `sim lincheck`'s format with as many `ok` events as the summary reports.
#[test]
fn crash_restart_partition_heal_holds_every_check() {
    let out_dir = tempfile::tempdir().unwrap();
    let history = out_dir.path().join("history.txt");
    let file = scenario("crash-partition.scn");
    let stdout = run_ok(
        &[
            "run".as_ref(),
            file.as_os_str(),
            "--history".as_ref(),
            history.as_os_str(),
        ],
        &ALL_CHECKS,
    );
    let ok = number_before(&stdout, "clients", "ok");
    assert!(ok > 0, "no operation succeeded:\n{stdout}");
    assert_eq!(
        number_before(&stdout, "raft", "crashes"),
        1,
        "the leader crash did not happen (once):\n{stdout}"
    );
    assert!(
        number_before(&stdout, "raft", "leaders") >= 2,
        "no new leader after the leader's crash:\n{stdout}"
    );
    assert!(
        number_before(&stdout, "raft", "entries") > 0,
        "nothing committed:\n{stdout}"
    );

    let text = std::fs::read_to_string(&history).expect("--history wrote its file");
    let ops = models::lincheck::parse_history(&text)
        .unwrap_or_else(|e| panic!("the history is not in the `sim lincheck` format: {e}"));
    assert!(!ops.is_empty(), "an empty history");
    let kind = |k: &str| {
        text.lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(k))
            .count()
    };
    assert!(kind("invoke") > 0, "no invoke lines:\n{text}");
    // A cas answered "the value differed" is an `ok` event with a false result, which the
    // summary counts as `fail`.
    let fail = number_before(&stdout, "clients", "fail");
    let cas_false = text
        .lines()
        .filter(|l| l.contains(" ok cas ") && l.contains(" false key="))
        .count();
    assert_eq!(
        (kind("ok") as u64, cas_false as u64),
        (ok + fail, fail),
        "the history's ok events and the summary's ok and fail counts differ"
    );
    assert!(
        ops.iter()
            .any(|o| o.outcome == models::lincheck::Outcome::Ok),
        "no completed operation in the parsed history"
    );
}

/// The leader is paused (SIGSTOP) at 1 s and resumed (SIGCONT) at 2 s: the others elect a
/// leader meanwhile, the resumed node carries on, and every check holds.
#[test]
fn pause_and_resume_hold_every_check() {
    let file = scenario("pause.scn");
    let stdout = run_ok(&["run".as_ref(), file.as_os_str()], &ALL_CHECKS);
    assert!(
        number_before(&stdout, "raft", "leaders") >= 2,
        "no second leader while the first was paused (did the pause happen?):\n{stdout}"
    );
    assert!(number_before(&stdout, "clients", "ok") > 0, "{stdout}");
}

/// A scenario without `duration` runs for `--until`.
#[test]
fn until_stands_in_for_a_missing_duration() {
    let file = scenario("no-duration.scn");
    let stdout = run_ok(
        &[
            "run".as_ref(),
            file.as_os_str(),
            "--until".as_ref(),
            "2s".as_ref(),
        ],
        &["election-safety", "state-machine-safety", "linearizable"],
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("real time") && l.trim_end().ends_with(" 2s")),
        "the run was not 2 s long:\n{stdout}"
    );
}

/// Ctrl-C, as `kill -INT` to the runner alone: it stops within a few seconds with status 2 and
/// says it was interrupted; no node process and no run directory remain.
#[test]
fn sigint_to_the_runner_stops_the_run_and_leaves_nothing() {
    interrupt("INT", false);
}

/// Ctrl-C at a terminal: SIGINT to the runner's whole process group, its nodes included. The
/// run must still end as interrupted (status 2, "interrupted"), with nothing left behind.
#[test]
fn sigint_to_the_process_group_stops_the_run_and_leaves_nothing() {
    interrupt("INT", true);
}

/// SIGTERM (what `timeout`, systemd, Kubernetes and Slurm send) cleans up as Ctrl-C does.
#[test]
fn sigterm_to_the_runner_stops_the_run_and_leaves_nothing() {
    interrupt("TERM", false);
}

/// A service manager stopping the whole group: the nodes get SIGTERM too, and the run still
/// ends as interrupted, not as a node that died by itself.
#[test]
fn sigterm_to_the_process_group_stops_the_run_and_leaves_nothing() {
    interrupt("TERM", true);
}

/// SIGHUP (the terminal went away) cleans up as Ctrl-C does.
#[test]
fn sighup_to_the_runner_stops_the_run_and_leaves_nothing() {
    interrupt("HUP", false);
}

/// `kill -SIGNAL` to the runner (or its whole group) once its nodes are up: status 2 (the run is
/// far longer than the wait, so only the signal can end it), "interrupted", and nothing left
/// behind. How long stopping took is printed, never asserted.
fn interrupt(signal: &str, group: bool) {
    let _one = serial();
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.command(["run".as_ref(), scenario("long.scn").as_os_str()]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if group {
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().expect("starting native run");
    sandbox.wait_until_up(3, &mut child);
    let target = if group {
        format!("-{}", child.id())
    } else {
        child.id().to_string()
    };
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), "--", &target])
        .status()
        .expect("running kill");
    assert!(kill.success(), "kill -{signal} {target} failed");
    let what = format!("after SIG{signal}");
    let status = wait_within(&mut child, Duration::from_secs(10), &what);
    let took = sent.elapsed();
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    eprintln!("SIG{signal} (group: {group}): {status} after {took:.1?}\n{stdout}{stderr}");
    sandbox.assert_clean(&what);
    assert_eq!(
        status.code(),
        Some(2),
        "exit status {what}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("interrupted") || stdout.contains("interrupted"),
        "the runner did not say it was interrupted\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

/// A panic in the runner with every node running (planted with SIM_NATIVE_PANIC_AFTER_START):
/// a non-zero exit, and unwinding kills and reaps every node and removes the run's directory.
#[test]
fn a_panic_with_every_node_running_leaves_nothing() {
    let _one = serial();
    let sandbox = Sandbox::new();
    let out = sandbox
        .command(["run".as_ref(), scenario("long.scn").as_os_str()])
        .env("SIM_NATIVE_PANIC_AFTER_START", "1")
        .output()
        .expect("running native");
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success() && out.status.code().is_some(),
        "status {:?} after the planted panic\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("SIM_NATIVE_PANIC_AFTER_START"),
        "the planted panic did not happen\nstderr:\n{stderr}"
    );
    // The run stopped at the panic: no end-of-run summary (its `result` line) was printed.
    assert!(
        !stdout.lines().any(|l| l.starts_with("result")),
        "the run went on after the panic\nstdout:\n{stdout}"
    );
    sandbox.assert_clean("after a panic");
}

/// SIGKILL of the runner: it cannot clean up, but each node has a parent-death signal
/// (SIGKILL), so every node dies with it. The run's directory does stay behind in this case
/// (nothing is left to remove it; that is expected and documented): only the processes are
/// checked here, and the sandbox's own clean-up removes the directory.
#[test]
fn sigkill_of_the_runner_takes_its_nodes_down() {
    let _one = serial();
    let sandbox = Sandbox::new();
    let mut child = sandbox
        .command(["run".as_ref(), scenario("long.scn").as_os_str()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting native run");
    sandbox.wait_until_up(3, &mut child);
    child.kill().expect("SIGKILL to the runner");
    child.wait().expect("reaping the runner");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let nodes = sandbox.nodes();
        if nodes.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node processes {nodes:?} outlived their SIGKILLed runner by 3 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Input `native run` cannot run: status 2 and an `error:` line naming the file; no node is
/// started and no directory made.
#[test]
fn bad_input_exits_2_naming_the_file() {
    let missing = scenario("no-such-scenario.scn");
    let cases: [(&str, PathBuf); 4] = [
        ("a missing file", missing),
        ("a scenario without a raft block", repo_scenario("mm1.scn")),
        ("no duration and no --until", scenario("no-duration.scn")),
        ("a sweep", scenario("sweep.scn")),
    ];
    for (what, file) in &cases {
        let sandbox = Sandbox::new();
        let out = sandbox
            .command(["run".as_ref(), file.as_os_str()])
            .output()
            .expect("running native");
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: exit status\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        let name = file.display().to_string();
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("error: ") && l.contains(&name)),
            "{what}: no `error:` line naming {name}\nstderr:\n{stderr}"
        );
        sandbox.assert_clean(what);
    }

    let sandbox = Sandbox::new();
    let file = scenario("crash-partition.scn");
    let out = sandbox
        .command(["run".as_ref(), "--no-such-flag".as_ref(), file.as_os_str()])
        .output()
        .expect("running native");
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown flag: exit status\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with("error:")),
        "an unknown flag: no `error:` line\nstderr:\n{stderr}"
    );
    sandbox.assert_clean("an unknown flag");
}

/// A sweeping scenario runs one variant at a time: `--variant` chooses it (by number or by the
/// swept values, as `sim run` reads it), its nodes run that variant, and the summary names it.
/// Without `--variant` the run is refused with a message naming the flag and every variant.
#[test]
fn a_sweep_runs_the_variant_chosen() {
    let file = scenario("sweep.scn");
    let stdout = run_ok(
        &[
            "run".as_ref(),
            file.as_os_str(),
            "--variant".as_ref(),
            "election_timeout=150ms..300ms".as_ref(),
        ],
        &["election-safety"],
    );
    assert!(
        stdout.contains("variant    cluster.election_timeout=150ms..300ms"),
        "{stdout}"
    );

    let sandbox = Sandbox::new();
    let out = sandbox
        .command(["run".as_ref(), file.as_os_str()])
        .output()
        .expect("running native");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for wanted in [
        "--variant",
        "1: cluster.election_timeout=150ms..200ms",
        "2: cluster.election_timeout=150ms..300ms",
    ] {
        assert!(stderr.contains(wanted), "{wanted:?} not in {stderr}");
    }
    let out = sandbox
        .command([
            "run".as_ref(),
            file.as_os_str(),
            "--variant".as_ref(),
            "3".as_ref(),
        ])
        .output()
        .expect("running native");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--variant 3") && stderr.contains("2 variants"),
        "{stderr}"
    );
    sandbox.assert_clean("a refused variant");
}

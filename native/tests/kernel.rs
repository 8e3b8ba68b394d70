//! The kernel target end to end: `native run --target kernel` builds kernel/, boots it in QEMU
//! with a scenario's job mix, and the tests read the schedule the kernel printed over the
//! serial port (`--save-trace`). They check what the kernel did, not what the simulator says:
//! every job ran its whole demand, FIFO ran jobs in arrival order, RR interleaved them a
//! quantum at a time, and a fault made the run fail (a hang too, at the timeout).
//!
//! QEMU (`qemu-system-x86_64`, Debian's `qemu-system-x86`) is needed; without it each test prints
//! why it skipped, unless SIM_REQUIRE_QEMU=1 (set by .ci/run), which makes them fail instead.

#[path = "common/procs.rs"]
mod procs;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sched::Stop;
use sched::ktrace::{self, Record};

fn qemu_missing() -> Option<String> {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()));
    if found {
        return None;
    }
    let why = "no qemu-system-x86_64 on PATH (apt-get install qemu-system-x86)".to_string();
    if std::env::var_os("SIM_REQUIRE_QEMU").is_some_and(|v| v == "1") {
        panic!("SIM_REQUIRE_QEMU=1 but {why}");
    }
    eprintln!("skipped: {why}");
    Some(why)
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn native(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_native"))
        .args(args)
        .output()
        .expect("native runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a scenario on the kernel and returns the output and the kernel's records (of the
/// first variant, for a sweep).
fn boot(scenario: &Path, extra: &[&str]) -> (Output, Vec<Record>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("serial.txt");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "run".as_ref(),
        scenario.as_os_str(),
        "--target".as_ref(),
        "kernel".as_ref(),
        "--save-trace".as_ref(),
        trace.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let out = native(&args);
    // A sweep writes one trace per variant (serial-1.txt, ...): these tests read the first.
    let first = dir.path().join("serial-1.txt");
    let serial = std::fs::read_to_string(&trace)
        .or_else(|_| std::fs::read_to_string(&first))
        .unwrap_or_else(|e| panic!("no trace was saved ({e})\n{}", text(&out)));
    let records = serial
        .lines()
        .filter_map(ktrace::parse_line)
        .map(|r| r.expect("every trace line parses"))
        .collect();
    (out, records)
}

fn scenario_file(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("mix.scn");
    std::fs::write(&p, body).expect("write scenario");
    p
}

fn runs(records: &[Record]) -> Vec<(u32, u64, u64, Stop)> {
    records
        .iter()
        .filter_map(|r| match *r {
            Record::Run {
                job,
                start,
                end,
                stop,
            } => Some((job, start, end, stop)),
            _ => None,
        })
        .collect()
}

/// (job, arrival, first run, completion, cpu) per job record.
fn jobs(records: &[Record]) -> Vec<(u32, u64, u64, u64, u64)> {
    records
        .iter()
        .filter_map(|r| match *r {
            Record::Job {
                job,
                arrival,
                first_run,
                completion,
                cpu,
                ..
            } => Some((job, arrival, first_run, completion, cpu)),
            _ => None,
        })
        .collect()
}

const MS: u64 = 1_000_000;

/// Every job finished with at least its demand and a little over it (the job notices its burst
/// is done within microseconds).
fn assert_every_job_ran_its_demand(records: &[Record], demands: &[u64], out: &Output) {
    let jobs = jobs(records);
    assert_eq!(jobs.len(), demands.len(), "{}", text(out));
    for (&(job, _, _, _, cpu), &demand) in jobs.iter().zip(demands) {
        assert!(
            cpu >= demand && cpu < demand + MS,
            "job {job} got {cpu} ns of CPU for a demand of {demand}\n{}",
            text(out)
        );
    }
    assert!(records.contains(&Record::Pass), "{}", text(out));
}

#[test]
fn fifo_runs_the_jobs_in_arrival_order_each_to_the_end() {
    if qemu_missing().is_some() {
        return;
    }
    let (out, records) = boot(&repo("scenarios/sched-fifo.scn"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_every_job_ran_its_demand(&records, &[100 * MS, 10 * MS, 10 * MS], &out);
    let runs = runs(&records);
    // One stretch per job, in the order they arrived, each to its finish.
    assert_eq!(
        runs.iter().map(|r| (r.0, r.3)).collect::<Vec<_>>(),
        [
            (0, Stop::Finished),
            (1, Stop::Finished),
            (2, Stop::Finished)
        ],
        "{}",
        text(&out)
    );
    // The convoy: the short jobs finish just after 110 and 120 ms.
    let done: Vec<u64> = jobs(&records).iter().map(|j| j.3).collect();
    for (got, want) in done.iter().zip([100 * MS, 110 * MS, 120 * MS]) {
        assert!(*got >= want && *got < want + MS, "{done:?}\n{}", text(&out));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("the same order of jobs"), "{}", text(&out));
}

#[test]
fn round_robin_interleaves_the_jobs_a_quantum_at_a_time() {
    if qemu_missing().is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let scn = scenario_file(
        dir.path(),
        r#"scenario "rr-kernel" {
  cpu machine { policy rr  quantum 10ms }
  job a { cpu 30ms }
  job b { cpu 30ms }
  job c { cpu 30ms }
}
"#,
    );
    let (out, records) = boot(&scn, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_every_job_ran_its_demand(&records, &[30 * MS; 3], &out);
    let runs = runs(&records);
    assert_eq!(
        runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        [0, 1, 2, 0, 1, 2, 0, 1, 2],
        "{}",
        text(&out)
    );
    for (i, &(job, start, end, stop)) in runs.iter().enumerate() {
        let len = end - start;
        // A slice ends on the tick nearest to its end: within one tick of the quantum.
        assert!(
            len > 9 * MS && len < 11 * MS,
            "stretch {i} of job {job} lasted {len} ns\n{}",
            text(&out)
        );
        let want = if i >= 6 {
            Stop::Finished
        } else {
            Stop::Expired
        };
        assert_eq!(stop, want, "stretch {i}\n{}", text(&out));
    }
}

#[test]
fn every_policy_runs_every_job_to_completion() {
    if qemu_missing().is_some() {
        return;
    }
    for (file, demands) in [
        ("sched-sjf.scn", vec![100 * MS, 10 * MS, 10 * MS]),
        ("sched-stcf.scn", vec![100 * MS, 10 * MS, 10 * MS]),
        ("sched-mlfq.scn", vec![500 * MS, 60 * MS, 60 * MS]),
        ("sched-lottery.scn", vec![400 * MS, 400 * MS]),
        ("sched-stride.scn", vec![200 * MS; 3]),
        ("sched-cfs.scn", vec![300 * MS, 300 * MS, 20 * MS]),
    ] {
        let (out, records) = boot(&repo(&format!("scenarios/{file}")), &[]);
        assert_eq!(out.status.code(), Some(0), "{file}\n{}", text(&out));
        assert_every_job_ran_its_demand(&records, &demands, &out);
        let policy = records.iter().find_map(|r| match r {
            Record::Boot { policy, .. } => Some(policy.clone()),
            _ => None,
        });
        let want = file.trim_start_matches("sched-").trim_end_matches(".scn");
        assert_eq!(policy.as_deref(), Some(want), "{file}\n{}", text(&out));
    }
}

#[test]
fn sjf_and_stcf_give_the_simulators_order() {
    if qemu_missing().is_some() {
        return;
    }
    for file in ["sched-sjf.scn", "sched-stcf.scn"] {
        let (out, _) = boot(&repo(&format!("scenarios/{file}")), &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("the same order of jobs on the CPU"),
            "{file}\n{}",
            text(&out)
        );
    }
}

#[test]
fn an_injected_exception_or_panic_fails_the_run_and_says_what_happened() {
    if qemu_missing().is_some() {
        return;
    }
    for (fault, says) in [
        ("ud", "#6 (UD, invalid opcode)"),
        ("pagefault", "#14 (PF, page fault)"),
        ("divide", "#0 (DE, divide error)"),
        ("panic", "kernel panic"),
    ] {
        let (out, records) = boot(
            &repo("scenarios/sched-fifo.scn"),
            &["--inject-fault", fault, "--timeout", "60"],
        );
        assert_eq!(out.status.code(), Some(1), "{fault}\n{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("FAILED"), "{fault}\n{}", text(&out));
        assert!(
            stdout.contains(says),
            "{fault}: wanted {says:?}\n{}",
            text(&out)
        );
        assert!(!records.contains(&Record::Pass), "{fault}\n{}", text(&out));
        assert!(
            records.iter().any(|r| matches!(r, Record::Fail { .. })),
            "{fault}\n{}",
            text(&out)
        );
        // Reported by the kernel, not found by the timeout.
        assert!(
            !text(&out).contains("the kernel hung"),
            "{fault}\n{}",
            text(&out)
        );
    }
}

#[test]
fn a_context_switch_that_loses_the_fpu_state_is_caught_by_the_jobs() {
    if qemu_missing().is_some() {
        return;
    }
    // The jobs count in SSE registers; with the FPU state no longer switched, one job resumes
    // with another's registers and its float count stops matching its integer count.
    let (out, records) = boot(
        &repo("scenarios/sched-rr.scn"),
        &["--inject-fault", "fpu", "--timeout", "60"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("its FPU state was lost in a context switch"),
        "{}",
        text(&out)
    );
    assert!(!records.contains(&Record::Pass), "{}", text(&out));
}

#[test]
fn a_triple_fault_is_a_failure_although_qemu_exits_0() {
    if qemu_missing().is_some() {
        return;
    }
    let (out, records) = boot(
        &repo("scenarios/sched-fifo.scn"),
        &["--inject-fault", "triple", "--timeout", "60"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("triple-faulted"), "{}", text(&out));
    assert!(!records.contains(&Record::Pass), "{}", text(&out));
}

#[test]
fn a_failing_kernel_prints_what_it_ran_before_the_failure() {
    if qemu_missing().is_some() {
        return;
    }
    // RR, 10 ms slices: job a faults halfway through its 50 ms, after two slices of each job.
    let (out, records) = boot(
        &repo("scenarios/sched-rr.scn"),
        &["--inject-fault", "ud", "--timeout", "60"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The sweep's first variant (1 ms slices): the fault comes after 25 slices of a.
    let runs = runs(&records);
    assert!(runs.len() >= 70, "{}", text(&out));
    assert!(runs.iter().all(|r| r.3 == Stop::Expired), "{}", text(&out));
    let fail = records
        .iter()
        .position(|r| matches!(r, Record::Fail { .. }))
        .expect("a fail record");
    let last_run = records
        .iter()
        .rposition(|r| matches!(r, Record::Run { .. }))
        .expect("runs");
    assert!(last_run < fail, "the stretches come before the failure");
    assert!(String::from_utf8_lossy(&out.stdout).contains("stretches it ran before"));
}

#[test]
fn a_hung_kernel_is_killed_at_the_timeout_and_fails() {
    if qemu_missing().is_some() {
        return;
    }
    let started = Instant::now();
    let (out, records) = boot(
        &repo("scenarios/sched-fifo.scn"),
        &["--inject-fault", "hang", "--timeout", "5"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("the kernel hung"), "{}", text(&out));
    assert!(!records.contains(&Record::Pass));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(5),
        "killed before the timeout: {took:?}"
    );
}

#[test]
fn the_same_mix_gives_the_same_kernel_trace_every_run() {
    if qemu_missing().is_some() {
        return;
    }
    let scn = repo("scenarios/sched-mlfq.scn");
    let (a_out, a) = boot(&scn, &[]);
    let (b_out, b) = boot(&scn, &[]);
    assert_eq!(a_out.status.code(), Some(0), "{}", text(&a_out));
    assert!(!a.is_empty());
    assert_eq!(a, b, "{}\n{}", text(&a_out), text(&b_out));
}

#[test]
fn a_malformed_command_line_is_reported_by_the_kernel_with_its_column() {
    if qemu_missing().is_some() {
        return;
    }
    // Build (or find) the image through a passing run, then boot it by hand.
    let (out, _) = boot(&repo("scenarios/sched-sjf.scn"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let image = repo("kernel/target/release/simkernel");
    let out = Command::new("qemu-system-x86_64")
        .arg("-kernel")
        .arg(&image)
        .args(["-append", "policy=rr quantum=10xs job=cpu:5ms"])
        .args([
            "-m",
            "128M",
            "-display",
            "none",
            "-no-reboot",
            "-monitor",
            "none",
        ])
        .args([
            "-serial",
            "stdio",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ])
        .output()
        .expect("qemu runs");
    let serial = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(35), "{serial}");
    let fail = serial
        .lines()
        .find_map(|l| match ktrace::parse_line(l) {
            Some(Ok(Record::Fail { message })) => Some(message),
            _ => None,
        })
        .expect("a fail record");
    assert!(fail.contains("column 19: `quantum`"), "{fail}");
}

#[test]
fn a_machine_the_kernel_cannot_be_is_refused_before_booting() {
    let out = native(&[
        "run".as_ref(),
        repo("scenarios/sched-multi.scn").as_os_str(),
        "--target".as_ref(),
        "kernel".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the kernel runs one CPU"), "{}", text(&out));

    let out = native(&[
        "run".as_ref(),
        repo("scenarios/sched-fifo.scn").as_os_str(),
        "--target".as_ref(),
        "kernel".as_ref(),
        "--netns".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--netns is for --target processes"),
        "{}",
        text(&out)
    );
}

/// The kernel image, built once for the tests that boot it under a name of their own (through
/// a passing run, which builds kernel/ as `native run` does).
fn built_image() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let (out, _) = boot(&repo("scenarios/sched-sjf.scn"), &[]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            repo("kernel/target/release/simkernel")
        })
        .clone()
}

/// The live (not zombie) QEMU processes whose command line holds `marker`.
fn qemus_with(marker: &Path) -> Vec<u32> {
    let needle = marker.to_string_lossy().into_owned();
    procs::live_matching(|args| {
        let qemu = args
            .first()
            .is_some_and(|a| a.ends_with("qemu-system-x86_64"));
        qemu && args.iter().any(|a| a.contains(&needle))
    })
}

/// Starts a run that hangs in QEMU (the kernel's `hang` fault, a long timeout) on a copy of the
/// image named for this test, and waits until its QEMU is running. Returns the runner, the
/// image's copy (the marker in QEMU's command line) and its directory.
fn hung_run(name: &str) -> (std::process::Child, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let image = dir.path().join(format!("simkernel-{name}"));
    std::fs::copy(built_image(), &image).expect("copy the kernel image");
    let mut runner = Command::new(env!("CARGO_BIN_EXE_native"))
        .arg("run")
        .arg(repo("scenarios/sched-fifo.scn"))
        .args([
            "--target",
            "kernel",
            "--inject-fault",
            "hang",
            "--timeout",
            "600",
        ])
        .arg("--kernel-image")
        .arg(&image)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("native runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while qemus_with(&image).is_empty() {
        if let Ok(Some(status)) = runner.try_wait() {
            panic!("{name}: the runner exited ({status}) before QEMU was up");
        }
        if Instant::now() > deadline {
            let _ = runner.kill();
            panic!("{name}: no QEMU within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (runner, image, dir)
}

/// Waits up to 10 s for every QEMU of `image` to be gone; kills the survivors (so a failing
/// test leaves none either) and panics.
fn assert_no_qemu_survives(image: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = qemus_with(image);
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            for pid in &left {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            panic!("{what}: QEMU {left:?} outlived its runner");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ctrl-C (`kill -INT` to the runner alone, not to QEMU), SIGTERM and SIGHUP: the runner kills
/// QEMU, says it was interrupted and exits 2 (as the Raft target does).
#[test]
fn a_signal_to_the_runner_stops_qemu_and_says_so() {
    if qemu_missing().is_some() {
        return;
    }
    for signal in ["INT", "TERM", "HUP"] {
        let (mut runner, image, _dir) = hung_run(signal);
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &runner.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = runner.try_wait().expect("waiting for the runner") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = runner.kill();
                panic!("SIG{signal}: the runner had not exited 30 s later");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = runner.wait_with_output().expect("the runner's output");
        assert_no_qemu_survives(&image, &format!("SIG{signal}"));
        let shown = format!("SIG{signal}: {status}\n{}", text(&out));
        assert_eq!(status.code(), Some(2), "{shown}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("interrupted"),
            "{shown}"
        );
    }
}

/// SIGKILL of the runner: it cannot clean up, but QEMU has a parent-death signal and dies with
/// it.
#[test]
fn sigkill_of_the_runner_takes_qemu_down() {
    if qemu_missing().is_some() {
        return;
    }
    let (mut runner, image, _dir) = hung_run("KILL");
    runner.kill().expect("SIGKILL to the runner");
    runner.wait().expect("reaping the runner");
    assert_no_qemu_survives(&image, "SIGKILL of the runner");
}

#[test]
fn a_variant_of_a_sweep_boots_alone_and_keeps_its_number() {
    if qemu_missing().is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("rr.txt");
    let out = native(&[
        "run".as_ref(),
        repo("scenarios/sched-rr.scn").as_os_str(),
        "--target".as_ref(),
        "kernel".as_ref(),
        "--variant".as_ref(),
        "quantum=10ms".as_ref(),
        "--save-trace".as_ref(),
        trace.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let booted: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("scenario   "))
        .collect();
    assert_eq!(booted.len(), 1, "{}", text(&out));
    assert!(
        booted[0].ends_with("(machine.quantum=10ms)"),
        "{}",
        text(&out)
    );
    // The third variant of four: its trace is rr-3.txt, where `sim report` looks for it.
    let saved: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(saved, ["rr-3.txt"], "{}", text(&out));
}

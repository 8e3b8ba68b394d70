//! The QEMU target: builds `kernel/`, boots it with a job mix on its command line, and reads the
//! schedule it prints over the serial port (`sched::ktrace`).
//!
//! A run's verdict comes from QEMU's exit status, and only the kernel's own pass counts: the
//! kernel writes 0x10 to the `isa-debug-exit` port (QEMU exits 33) when every job finished, and
//! 0x11 (35) after printing a `fail` record for a panic, a CPU exception or a stuck mix. A triple
//! fault under `-no-reboot` exits 0, QEMU's own errors exit 1, and a kernel that neither passes
//! nor fails is killed at the timeout: each is a failure with its own message.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sched::Time;

use crate::child::ChildError;
use sched::ktrace::{self, Record};
pub use sched::ktrace::{JobFigures, Run};

/// QEMU's exit status when the kernel passes (`(0x10 << 1) | 1`) and fails (`(0x11 << 1) | 1`).
pub const PASS_STATUS: i32 = 33;
pub const FAIL_STATUS: i32 = 35;

/// The kernel's source directory: `SIM_KERNEL_DIR`, else `kernel/` beside this crate.
pub fn kernel_dir() -> PathBuf {
    match std::env::var_os("SIM_KERNEL_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernel");
            beside.canonicalize().unwrap_or(beside)
        }
    }
}

/// Builds the kernel (release) with cargo and returns the image's path. The environment of an
/// enclosing cargo (a test run's `CARGO_*`, `RUSTFLAGS`) is removed so it cannot reach the
/// kernel's build.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!(
            "no kernel sources at {} (set SIM_KERNEL_DIR, or pass --kernel-image)",
            dir.display()
        ));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(&manifest)
        .current_dir(dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let inherited = k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_NET_OFFLINE";
        if inherited || k.starts_with("RUSTFLAGS") || k == "RUSTC_WRAPPER" || k == "RUSTDOC" {
            cmd.env_remove(&k);
        }
    }
    cmd.env("CARGO_TARGET_DIR", dir.join("target"));
    let out = cmd
        .output()
        .map_err(|e| {
            format!("running cargo to build the kernel: {e} (or boot a built image with --kernel-image FILE)")
        })?;
    if !out.status.success() {
        return Err(format!(
            "building the kernel failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    let image = dir.join("target/release/simkernel");
    if !image.is_file() {
        return Err(format!(
            "the kernel build left no image at {}",
            image.display()
        ));
    }
    Ok(image)
}

/// The Multiboot (v1) header's magic, and how far into the image a loader looks for it.
const MULTIBOOT_MAGIC: u32 = 0x1BAD_B002;
const MULTIBOOT_SEARCH: usize = 8192;

/// Whether `bytes` (an image's start) hold a Multiboot header: the magic at a 4-byte boundary
/// within the first 8 KiB, followed by flags and a checksum that sum with it to zero.
fn has_multiboot_header(bytes: &[u8]) -> bool {
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    (0..bytes.len().min(MULTIBOOT_SEARCH)).step_by(4).any(|at| {
        match (word(at), word(at + 4), word(at + 8)) {
            (Some(MULTIBOOT_MAGIC), Some(flags), Some(sum)) => {
                MULTIBOOT_MAGIC.wrapping_add(flags).wrapping_add(sum) == 0
            }
            _ => false,
        }
    })
}

/// Checks that `path` is a kernel QEMU's `-kernel` can boot as ours is booted (a Multiboot
/// image), so a wrong file is refused with a reason before QEMU starts.
pub fn check_image(path: &Path) -> Result<(), String> {
    let mut start = Vec::with_capacity(MULTIBOOT_SEARCH);
    std::fs::File::open(path)
        .and_then(|f| f.take(MULTIBOOT_SEARCH as u64).read_to_end(&mut start))
        .map_err(|e| format!("--kernel-image {}: {e}", path.display()))?;
    if has_multiboot_header(&start) {
        Ok(())
    } else {
        Err(format!(
            "--kernel-image {}: not a Multiboot kernel image (no Multiboot header in its first 8 KiB); \
             build one with `cd kernel && cargo build --release` (kernel/target/release/simkernel), \
             or leave out --kernel-image to have it built",
            path.display()
        ))
    }
}

/// How QEMU keeps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// `-icount shift=3,sleep=off`: virtual time advances 8 ns per guest instruction and skips
    /// idle stretches, so a run is the same bit for bit every time, on any host.
    Instructions,
    /// The host's clock: real timer jitter, different every run.
    Host,
}

/// The QEMU command that boots `image` with `cmdline`.
pub fn qemu_command(image: &Path, cmdline: &str, clock: Clock) -> Command {
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.arg("-kernel")
        .arg(image)
        .arg("-append")
        .arg(cmdline)
        .args([
            "-m",
            "128M",
            "-display",
            "none",
            "-no-reboot",
            "-monitor",
            "none",
        ])
        .args(["-serial", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    if clock == Clock::Instructions {
        cmd.args(["-icount", "shift=3,sleep=off"]);
    }
    cmd
}

/// [`qemu_command`] as one shell line (arguments with spaces or quotes single-quoted).
pub fn command_line(image: &Path, cmdline: &str, clock: Clock) -> String {
    let cmd = qemu_command(image, cmdline, clock);
    let quote = |s: &std::ffi::OsStr| {
        let s = s.to_string_lossy();
        if s.is_empty() || s.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
            format!("'{}'", s.replace('\'', "'\\''"))
        } else {
            s.into_owned()
        }
    };
    std::iter::once(quote(cmd.get_program()))
        .chain(cmd.get_args().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What became of a boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel passed: its trace.
    Pass(KernelTrace),
    /// The kernel printed a failure and exited with its fail status.
    Fail { message: String },
    /// The CPU reset (a triple fault; `-no-reboot` made it an exit with status 0).
    TripleFault,
    /// Neither pass nor fail within the timeout: QEMU was killed.
    Hang { timeout: Duration },
    /// QEMU itself failed, or exited with a status the kernel never writes.
    Qemu { status: Option<i32>, stderr: String },
    /// The kernel said it passed but its trace does not parse or is incomplete.
    BadTrace { error: String },
}

/// A boot's outcome and everything it printed.
#[derive(Debug, Clone)]
pub struct Boot {
    pub outcome: Outcome,
    pub serial: String,
    pub wall: Duration,
}

impl Outcome {
    /// One line for a person.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Pass(_) => "passed".into(),
            Outcome::Fail { message } => format!("the kernel failed: {message}"),
            Outcome::TripleFault => {
                "the CPU triple-faulted and reset (QEMU exited 0 under -no-reboot)".into()
            }
            Outcome::Hang { timeout } => format!(
                "the kernel hung: QEMU neither passed nor failed within {} s and was killed",
                timeout.as_secs()
            ),
            Outcome::Qemu { status, stderr } => format!(
                "QEMU exited with {}: {}",
                status.map_or("a signal".into(), |s| format!("status {s}")),
                stderr.trim()
            ),
            Outcome::BadTrace { error } => format!("the kernel's trace is unusable: {error}"),
        }
    }
}

/// Why a boot did not give an outcome.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("{0}")]
    Setup(String),
    /// The runner was told to stop (Ctrl-C, SIGTERM, SIGHUP): QEMU was killed.
    #[error("interrupted: QEMU was stopped")]
    Interrupted,
}

/// Boots `image` with `cmdline`, waits at most `timeout`, and judges the outcome. `stop` (set by
/// Ctrl-C, SIGTERM or SIGHUP) kills QEMU and ends the boot as interrupted.
pub fn boot(
    image: &Path,
    cmdline: &str,
    clock: Clock,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<Boot, BootError> {
    let cmd = qemu_command(image, cmdline, clock);
    // QEMU runs as every helper program does: in its own process group, dying with the runner.
    let finished = crate::child::run(cmd, timeout, stop).map_err(|e| match e {
        ChildError::Interrupted => BootError::Interrupted,
        ChildError::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => {
            BootError::Setup("no qemu-system-x86_64 (apt-get install qemu-system-x86)".into())
        }
        ChildError::Spawn(e) => BootError::Setup(format!("starting qemu-system-x86_64: {e}")),
        ChildError::Wait(e) => BootError::Setup(format!("waiting for QEMU: {e}")),
    })?;
    let (status, wall) = (finished.status, finished.wall);
    let (serial, stderr) = (finished.stdout, finished.stderr);
    let outcome = match status.map(|s| s.code()) {
        None => Outcome::Hang { timeout },
        Some(Some(PASS_STATUS)) => match parse(&serial) {
            Ok(t) => Outcome::Pass(t),
            Err(error) => Outcome::BadTrace { error },
        },
        Some(Some(FAIL_STATUS)) => Outcome::Fail {
            message: fail_message(&serial)
                .unwrap_or_else(|| "it exited with its fail status but printed no reason".into()),
        },
        Some(Some(0)) => Outcome::TripleFault,
        Some(code) => Outcome::Qemu {
            status: code,
            stderr,
        },
    };
    Ok(Boot {
        outcome,
        serial,
        wall,
    })
}

/// How many stretches a kernel printed before it failed (it prints what ran so far).
pub fn runs_printed(serial: &str) -> usize {
    serial
        .lines()
        .filter(|l| matches!(ktrace::parse_line(l), Some(Ok(Record::Run { .. }))))
        .count()
}

/// The message of the first `fail` record, if any.
fn fail_message(serial: &str) -> Option<String> {
    serial.lines().find_map(|l| match ktrace::parse_line(l) {
        Some(Ok(Record::Fail { message })) => Some(message),
        _ => None,
    })
}

/// A passing kernel's whole trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelTrace {
    pub policy: String,
    pub tick: Time,
    pub tsc_hz: u64,
    pub runs: Vec<Run>,
    pub jobs: Vec<JobFigures>,
    pub end: Time,
    pub ticks: u64,
    pub switches: u64,
    pub decisions: u64,
}

/// Reads a passing kernel's trace from its serial output (`ktrace::read`, which skips the other
/// lines, `simk-log` ones): it must have a boot record, a job record for every job, an end and a
/// pass, and no failure.
pub fn parse(serial: &str) -> Result<KernelTrace, String> {
    let t = ktrace::read(serial).map_err(|e| format!("line {}: {}", e.line, e.message))?;
    if let Some(m) = t.fail {
        return Err(format!("the kernel failed: {m}"));
    }
    let boot = t.boot.ok_or("no boot record")?;
    let end = t.end.ok_or("no end record")?;
    if !t.pass {
        return Err("no pass record".into());
    }
    let jobs = t
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, j)| j.ok_or_else(|| format!("no figures for job {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KernelTrace {
        policy: boot.policy,
        tick: boot.tick,
        tsc_hz: boot.tsc_hz,
        runs: t.runs,
        jobs,
        end: end.at,
        ticks: end.ticks,
        switches: end.switches,
        decisions: end.decisions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sched::Stop;

    fn trace_text() -> String {
        [
            "simk-log booted".to_string(),
            Record::Boot {
                policy: "rr".into(),
                jobs: 2,
                tick: 1_000_000,
                tsc_hz: 1_000_000_000,
            }
            .to_string(),
            Record::Run {
                job: 0,
                start: 0,
                end: 10,
                stop: Stop::Expired,
            }
            .to_string(),
            Record::Run {
                job: 1,
                start: 10,
                end: 20,
                stop: Stop::Finished,
            }
            .to_string(),
            "some other output".into(),
            Record::Run {
                job: 0,
                start: 20,
                end: 25,
                stop: Stop::Finished,
            }
            .to_string(),
            Record::Job {
                job: 0,
                arrival: 0,
                first_run: 0,
                completion: 25,
                cpu: 15,
                wait: 10,
                work: 7,
            }
            .to_string(),
            Record::Job {
                job: 1,
                arrival: 0,
                first_run: 10,
                completion: 20,
                cpu: 10,
                wait: 10,
                work: 5,
            }
            .to_string(),
            Record::End {
                at: 25,
                ticks: 1,
                switches: 3,
                decisions: 3,
            }
            .to_string(),
            Record::Pass.to_string(),
        ]
        .join("\n")
    }

    #[test]
    fn a_whole_trace_parses_and_other_lines_are_skipped() {
        let t = parse(&trace_text()).unwrap();
        assert_eq!(t.policy, "rr");
        assert_eq!(t.runs.len(), 3);
        assert_eq!(t.runs[2].stop, Stop::Finished);
        assert_eq!(t.jobs[0].turnaround(), 25);
        assert_eq!(t.jobs[1].response(), 10);
        assert_eq!((t.end, t.switches), (25, 3));
    }

    #[test]
    fn an_incomplete_or_inconsistent_trace_is_an_error() {
        let text = trace_text();
        let without = |what: &str| {
            text.lines()
                .filter(|l| !l.starts_with(what))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(parse(&without("simk pass")).unwrap_err(), "no pass record");
        assert_eq!(parse(&without("simk end")).unwrap_err(), "no end record");
        assert_eq!(
            parse(&without("simk boot")).unwrap_err(),
            "line 6: a job record before the boot record"
        );
        let only_boot: String = text.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(parse(&only_boot).unwrap_err(), "no end record");
        assert_eq!(parse("").unwrap_err(), "no boot record");
        assert!(
            parse(&without("simk job job=1"))
                .unwrap_err()
                .contains("no figures for job 1")
        );
        let stray = format!(
            "{text}\n{}",
            Record::Run {
                job: 5,
                start: 0,
                end: 1,
                stop: Stop::Expired
            }
        );
        assert!(parse(&stray).unwrap_err().contains("job 5"));
        let backwards = text.replace("start=20 end=25", "start=25 end=20");
        assert!(
            parse(&backwards)
                .unwrap_err()
                .contains("ends before it starts")
        );
        let broken = text.replace("simk run job=1", "simk run jab=1");
        assert!(parse(&broken).unwrap_err().starts_with("line 4:"));
        let failed = format!("{text}\nsimk fail message=it broke");
        assert!(parse(&failed).unwrap_err().contains("it broke"));
    }

    #[test]
    fn a_multiboot_header_is_found_only_aligned_and_with_its_checksum() {
        let header = |flags: u32, sum: u32| {
            [MULTIBOOT_MAGIC, flags, sum]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect::<Vec<u8>>()
        };
        let flags = 0x0001_0003u32;
        let good = header(
            flags,
            0u32.wrapping_sub(MULTIBOOT_MAGIC).wrapping_sub(flags),
        );
        let at = |offset: usize, h: &[u8]| {
            let mut image = vec![0u8; offset];
            image.extend_from_slice(h);
            image.resize(offset + 64, 0);
            image
        };
        assert!(has_multiboot_header(&at(0, &good)));
        assert!(has_multiboot_header(&at(4096, &good)));
        assert!(!has_multiboot_header(&at(2, &good)), "unaligned");
        assert!(
            !has_multiboot_header(&at(MULTIBOOT_SEARCH, &good)),
            "too far in"
        );
        assert!(
            !has_multiboot_header(&at(0, &header(flags, 7))),
            "bad checksum"
        );
        assert!(!has_multiboot_header(b"root:x:0:0:root:/root:/bin/bash\n"));
    }

    #[test]
    fn the_qemu_command_quotes_what_a_shell_would_split() {
        let line = command_line(
            Path::new("/tmp/a b/simkernel"),
            "policy=rr job=cpu:5ms",
            Clock::Instructions,
        );
        assert!(
            line.starts_with(
                "qemu-system-x86_64 -kernel '/tmp/a b/simkernel' -append 'policy=rr job=cpu:5ms' "
            ),
            "{line}"
        );
        assert!(line.ends_with("-icount shift=3,sleep=off"), "{line}");
        let host = command_line(Path::new("/k"), "policy=fifo job=cpu:1ms", Clock::Host);
        assert!(!host.contains("icount"), "{host}");
    }
}

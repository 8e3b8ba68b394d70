//! What `native` says when it is called wrongly: a usage error names what is missing or what
//! to do instead, and exits 2, before anything is started.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn native(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_native"))
        .args(args)
        .output()
        .expect("native runs")
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Exit 2 and stderr, which must contain every one of `wanted` and none of `unwanted`; stdout
/// must not contain `unwanted` either.
fn usage_error(args: &[&std::ffi::OsStr], wanted: &[&str], unwanted: &[&str]) {
    let out = native(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("native {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(stderr.starts_with("error: "), "{shown}");
    for w in wanted {
        assert!(stderr.contains(w), "wanted {w:?}: {shown}");
    }
    for u in unwanted {
        assert!(
            !stderr.contains(u) && !stdout.contains(u),
            "did not want {u:?}: {shown}"
        );
    }
}

#[test]
fn run_without_a_file_names_the_missing_argument() {
    usage_error(&["run".as_ref()], &["<FILE>"], &[]);
}

#[test]
fn calibration_without_compare_says_it_needs_compare() {
    let scn = repo("scenarios/raft-partition.scn");
    usage_error(
        &[
            "run".as_ref(),
            scn.as_os_str(),
            "--calibration".as_ref(),
            "calibration/net.ron".as_ref(),
        ],
        &["--compare"],
        &[],
    );
}

/// Not the subcommand's about text as an error: a usage error that lists the subcommands.
#[test]
fn calibrate_without_a_subcommand_names_the_subcommands() {
    usage_error(
        &["calibrate".as_ref()],
        &["subcommand", "net"],
        &["Measure this machine"],
    );
    usage_error(
        &[],
        &["subcommand", "probe", "run", "calibrate"],
        &["Run sim's models against"],
    );
}

/// A CPU scheduling scenario runs in a cgroup, one variant at a time: one that sweeps needs
/// `--variant`, and the message also points to the kernel target, which runs every variant.
/// Nothing is started (no cgroup, no worker) before the refusal.
#[test]
fn a_sweeping_cpu_scenario_asks_for_a_variant_or_the_kernel_target() {
    let scn = repo("scenarios/sched-rr.scn");
    usage_error(
        &["run".as_ref(), scn.as_os_str()],
        &[
            "--variant",
            "machine.quantum=5ms",
            "--target kernel",
            "sched-rr.scn",
        ],
        &["Raft", "worker"],
    );
}

/// A file that is not a kernel image is refused before QEMU starts, and nothing says it booted.
#[test]
fn a_kernel_image_that_is_not_one_is_refused_before_booting() {
    let scn = repo("scenarios/sched-fifo.scn");
    usage_error(
        &[
            "run".as_ref(),
            scn.as_os_str(),
            "--target".as_ref(),
            "kernel".as_ref(),
            "--kernel-image".as_ref(),
            "/etc/passwd".as_ref(),
        ],
        &["/etc/passwd", "not a Multiboot kernel image"],
        &["booted"],
    );
}

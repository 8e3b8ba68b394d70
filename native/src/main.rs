//! `native`: run sim's model code against the real machine and compare it with the simulator.
//!
//! `native run FILE.scn` runs a Raft scenario on this machine: one process per node over real
//! UDP on loopback, each with a log file fsynced on disk, the scenario's clients and faults
//! driven with the monotonic clock, and the simulator's checkers on what happened
//! (docs/native.md). On a CPU scheduling scenario, `native run FILE.scn` runs its jobs as
//! threads of a worker process in a cgroup with the scenario's CPU quota and prints their
//! latencies and the cgroup's throttling beside the simulator's (docs/native.md); with
//! `--target kernel` it boots the job mix in the bare-metal kernel (kernel/) under QEMU and
//! compares its schedule with the simulator's (docs/kernel.md). `native probe` tells, without
//! changing anything, which machine features the native targets need are present here (network
//! namespaces, cgroups, loop devices, FUSE, QEMU); native tests use the same checks to skip
//! with a printed reason.

mod blockdev;
mod calibrate;
mod calibrate_disk;
mod cgroup;
mod child;
mod compare;
mod control;
mod cpurun;
mod crashtest;
#[cfg_attr(not(test), allow(dead_code))]
mod disk;
mod diskrun;
mod fio;
mod fusefs;
mod kernel;
mod mount;
mod netns;
mod node;
mod probe;
mod run;
mod schedule;
mod target_kernel;
#[cfg_attr(not(test), allow(dead_code))]
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "native",
    version,
    about = "Run sim's models against the real machine.",
    // Without a subcommand: a usage error that names the subcommands, not the help as an error.
    arg_required_else_help = false
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report which machine features native runs can use here (read-only).
    Probe {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario on this machine. A Raft scenario (the default target, `processes`): a
    /// process per node, UDP on loopback, logs fsynced on disk, the scenario's load and faults,
    /// then the simulator's checks on what happened. A disk scenario (an `io` block): its
    /// workload on a loop device with O_DIRECT, beside the simulator's disk model and fio. A
    /// CPU scheduling scenario (a `cpu` block): its jobs as threads in a cgroup with its CPU
    /// quota, beside the simulator's latencies and throttling (root); with `--target kernel`,
    /// its job mix in the bare-metal kernel under QEMU, beside the simulator's schedule.
    /// Exits 0 when every check held (the kernel passed), 1 when one did not (the kernel failed
    /// or hung), 2 when the run could not run or was interrupted (Ctrl-C, SIGTERM, SIGHUP).
    Run {
        /// A scenario, e.g. scenarios/raft-partition.scn (or scenarios/sched-rr.scn with
        /// --target kernel).
        file: PathBuf,
        /// Where to run it: `processes` (Raft nodes as processes) or `kernel` (a CPU scheduling
        /// mix in the QEMU-booted kernel, compared with the simulator).
        #[arg(long, value_enum, default_value_t = Target::Processes)]
        target: Target,
        /// With --target kernel: boot this image instead of building kernel/.
        #[arg(long, value_name = "FILE")]
        kernel_image: Option<PathBuf>,
        /// With --target kernel: kill QEMU and fail after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 120,
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
        /// With --target kernel: make the kernel fault on purpose in its first job: ud,
        /// pagefault, divide, panic, hang, triple (a triple fault) or fpu (context switches stop
        /// switching the FPU state, which the jobs' own checks catch).
        #[arg(long, value_name = "FAULT", value_parser = parse_fault)]
        inject_fault: Option<sched::boot::Fault>,
        /// With --target kernel: QEMU keeps the host's time (real timer jitter, a different
        /// schedule every run) instead of counting instructions (the same run every time).
        #[arg(long)]
        host_clock: bool,
        /// With --target kernel: write the kernel's serial output here (with a sweep, FILE-1,
        /// FILE-2, ...); `sim report --kernel-traces DIR` draws it beside the simulator's.
        #[arg(long, value_name = "FILE")]
        save_trace: Option<PathBuf>,
        /// The seed for the load and the fault choices (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Which variant of the scenario's sweeps to run, as `sim run --variant` reads it: its
        /// number (from 1) or one NAME=VALUE per sweep (repeat the flag). A sweeping scenario
        /// needs one (with --target kernel, each variant runs in turn without it).
        #[arg(long, value_name = "N | NAME=VALUE")]
        variant: Vec<String>,
        /// Stop after this much real time (e.g. 10s) instead of the scenario's duration.
        #[arg(long, value_parser = parse_time)]
        until: Option<simcore::SimTime>,
        /// Keep the run's directory (node logs, their stdout and stderr) and print its path.
        #[arg(long)]
        keep: bool,
        /// Delay each message between nodes by a draw from the scenario's network latency, in
        /// user space, on top of the real network's (default: the real network alone).
        #[arg(long)]
        emulate_latency: bool,
        /// One network namespace per node, joined by veth pairs and a bridge, made and removed
        /// by the run (needs root and iproute2; without them the run stops and says why).
        #[arg(long)]
        netns: bool,
        /// Write the clients' history (the `sim lincheck` format) to this file.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Run N times here and over N seeds in the simulator, and print how far apart they
        /// are: election time after a leader crash, commit latency, client operation latency,
        /// messages per committed entry (docs/native.md); then every run's checks, exiting 1 if
        /// any run broke one.
        #[arg(long, value_name = "N", conflicts_with_all = ["history", "keep"],
              value_parser = clap::value_parser!(u32).range(1..=100))]
        compare: Option<u32>,
        /// With --compare: also run the simulator with the network latency measured by
        /// `native calibrate net` (its .ron file), and show that comparison too.
        #[arg(long, value_name = "FILE.ron", requires = "compare")]
        calibration: Option<PathBuf>,
    },
    /// Run a real program on the simulated storage stack, mounted with FUSE, and crash the
    /// stack at its operations. The scenario's `mount` block gives a setup, the program and a
    /// check (shell commands run in the mount); its host's `disk` the size, the timing and the
    /// faults. A dry run counts the program's operations; then for each crash point the program
    /// runs on a fresh stack that loses power at that operation (unsynced data lost, unflushed
    /// writes torn at sector boundaries), the stack recovers, and the check runs on a new mount.
    /// Prints each point whose check failed with the command that replays it. Exits 0 when
    /// every point's check passed, 1 when one failed, 2 when the test could not run or was
    /// interrupted. Needs /dev/fuse and fusermount3 (Debian's fuse3).
    Crashtest {
        /// A scenario with a `mount` block, e.g. scenarios/fuse/sqlite-wal.scn.
        file: PathBuf,
        /// The seed for the stack's crash draws and the points chosen (default: the
        /// scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Replay one crash point (a number from the report, or `end`: a power cut after the
        /// program exits) and print what the program and the check printed.
        #[arg(long, value_name = "K | end")]
        point: Option<crashtest::Point>,
    },
    /// Measure this machine and write a model of it.
    #[command(subcommand)]
    #[command(arg_required_else_help = false)]
    Calibrate(CalibrateCommand),
    /// The worker of a CPU scenario's run (started by `native run` in its cgroup, not by
    /// hand): reads the jobs on its standard input and runs each as a thread.
    #[command(hide = true)]
    CpuWorker,
    /// One node of a run (started by `native run`, not by hand).
    #[command(hide = true)]
    Node {
        #[arg(long)]
        scenario: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        variant: Vec<String>,
        #[arg(long)]
        id: u32,
        #[arg(long)]
        incarnation: u32,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        runner: std::net::SocketAddr,
        #[arg(long)]
        bind: std::net::Ipv4Addr,
        #[arg(long)]
        emulate_latency: bool,
    },
}

#[derive(Subcommand)]
enum CalibrateCommand {
    /// A block device: a loop device over a file, measured with O_DIRECT by six workloads (random
    /// reads and writes of 4 KiB and 64 KiB, sequential ones of 256 KiB, one request at a time);
    /// the SSD model's read latency, write latency and transfer rate fitted to them. Writes a
    /// scenario fragment (a `disk` block, to `include`) and the measurements in RON beside it,
    /// and reports the demerit figure before and after calibration. Needs root.
    Disk {
        /// Requests per workload.
        #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
        requests: u64,
        /// The fragment to write (the RON goes beside it, with the extension .ron).
        #[arg(long, default_value = "calibration/disk.scn")]
        out: PathBuf,
    },
    /// Loopback UDP latency and the cost of handling a message: writes a scenario fragment
    /// (`network { latency lognormal(..) }`, to `include`) and the measurements in RON beside it.
    Net {
        /// Round trips to measure.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(100..=10_000_000))]
        samples: u32,
        /// The fragment to write (the RON goes beside it, with the extension .ron).
        #[arg(long, default_value = "calibration/net.scn")]
        out: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    Processes,
    Kernel,
}

/// Clap's message as one line: everything before its usage (the first blank line), so a message
/// that names its arguments on the lines after the first ("the following required arguments
/// were not provided:" then `<FILE>`) keeps them.
fn usage_error(text: &str) -> String {
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

/// For a command called without its subcommand (`native calibrate`): the subcommands a person
/// can give it (clap's own list has the hidden ones too).
fn missing_subcommand(e: &clap::Error) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue};
    if e.kind() != clap::error::ErrorKind::MissingSubcommand {
        return None;
    }
    let Some(ContextValue::String(path)) = e.get(ContextKind::InvalidSubcommand) else {
        return None;
    };
    let mut command = Cli::command();
    for name in path.split_whitespace().skip(1) {
        command = command.find_subcommand(name)?.clone();
    }
    let names: Vec<&str> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name())
        .collect();
    Some(format!("`{path}` needs a subcommand: {}", names.join(", ")))
}

fn parse_fault(s: &str) -> Result<sched::boot::Fault, String> {
    sched::boot::Fault::from_name(s).ok_or_else(|| {
        format!(
            "unknown fault `{s}`; one of {}",
            sched::boot::Fault::ALL.map(|f| f.name()).join(", ")
        )
    })
}

fn parse_time(s: &str) -> Result<simcore::SimTime, String> {
    s.parse::<simcore::SimTime>().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let message = missing_subcommand(&e).unwrap_or_else(|| usage_error(&e.to_string()));
            eprintln!("error: {message} (see `native --help`)");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Crashtest { file, seed, point } => crashtest_command(&file, seed, point),
        Command::Run {
            file,
            target,
            kernel_image,
            timeout,
            inject_fault,
            host_clock,
            save_trace,
            seed,
            variant,
            until,
            keep,
            emulate_latency,
            netns,
            history,
            compare,
            calibration,
        } => {
            let processes_only = [
                ("--until", until.is_some()),
                ("--keep", keep),
                ("--emulate-latency", emulate_latency),
                ("--netns", netns),
                ("--history", history.is_some()),
                ("--compare", compare.is_some()),
            ];
            let kernel_only = [
                ("--kernel-image", kernel_image.is_some()),
                ("--inject-fault", inject_fault.is_some()),
                ("--host-clock", host_clock),
                ("--save-trace", save_trace.is_some()),
            ];
            let (wrong, other) = match target {
                Target::Kernel => (&processes_only[..], "processes"),
                Target::Processes => (&kernel_only[..], "kernel"),
            };
            if let Some((flag, _)) = wrong.iter().find(|(_, set)| *set) {
                eprintln!("error: {flag} is for --target {other} (see `native run --help`)");
                return ExitCode::from(2);
            }
            if target == Target::Kernel {
                return native_kernel(&target_kernel::KernelArgs {
                    scenario: file,
                    seed,
                    image: kernel_image,
                    timeout: std::time::Duration::from_secs(timeout),
                    clock: if host_clock {
                        kernel::Clock::Host
                    } else {
                        kernel::Clock::Instructions
                    },
                    fault: inject_fault,
                    save_trace,
                    variant,
                });
            }
            match diskrun::load(&file, seed, &variant) {
                Ok(Some(disk)) => {
                    let raft_only = [
                        ("--until", until.is_some()),
                        ("--keep", keep),
                        ("--emulate-latency", emulate_latency),
                        ("--netns", netns),
                        ("--history", history.is_some()),
                        ("--compare", compare.is_some()),
                    ];
                    if let Some((flag, _)) = raft_only.iter().find(|(_, set)| *set) {
                        eprintln!(
                            "error: {flag} is for Raft scenarios; {} is a disk scenario (see `native run --help`)",
                            file.display()
                        );
                        return ExitCode::from(2);
                    }
                    return native_disk(&file, &disk);
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
            match cpurun::load(&file, seed, &variant) {
                Ok(Some(cpu)) => {
                    let raft_only = [
                        ("--until", until.is_some()),
                        ("--keep", keep),
                        ("--emulate-latency", emulate_latency),
                        ("--netns", netns),
                        ("--history", history.is_some()),
                        ("--compare", compare.is_some()),
                    ];
                    if let Some((flag, _)) = raft_only.iter().find(|(_, set)| *set) {
                        eprintln!(
                            "error: {flag} is for Raft scenarios; {} is a CPU scenario (see `native run --help`)",
                            file.display()
                        );
                        return ExitCode::from(2);
                    }
                    return native_cpu(&file, &cpu);
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("error: {}", run_error(&file, &e));
                    return ExitCode::from(2);
                }
            }
            let args = run::RunArgs {
                scenario: file,
                seed,
                until,
                keep,
                emulate_latency,
                netns,
                variant,
            };
            match compare {
                Some(n) => native_compare(&args, n as usize, calibration.as_deref()),
                None => native_run(args, history),
            }
        }
        Command::CpuWorker => match cpurun::worker() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cpu-worker: {e}");
                ExitCode::from(2)
            }
        },
        Command::Node {
            scenario,
            seed,
            variant,
            id,
            incarnation,
            dir,
            runner,
            bind,
            emulate_latency,
        } => {
            let args = node::NodeArgs {
                bind,
                scenario,
                seed,
                variant,
                id,
                incarnation,
                dir,
                runner,
                emulate_latency,
            };
            match node::run(&args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: node {id}: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Calibrate(CalibrateCommand::Net { samples, out }) => {
            match calibrate::calibrate(samples as usize).and_then(|c| {
                calibrate::write(&c, &out)?;
                Ok(c)
            }) {
                Ok(c) => {
                    print!("{}", c.fragment());
                    println!(
                        "wrote {} and {}",
                        out.display(),
                        out.with_extension("ron").display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: calibrate net: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Calibrate(CalibrateCommand::Disk { requests, out }) => {
            let stop = interrupt_flag();
            let (cal, cleaned) = match calibrate_disk::run(requests, &stop) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: calibrate disk: {e}");
                    return ExitCode::from(2);
                }
            };
            for line in cleaned {
                println!("cleaned    {line}");
            }
            println!("device     {}", cal.device);
            println!();
            for line in cal.table() {
                println!("{line}");
            }
            println!();
            print!("{}", cal.fragment());
            match calibrate_disk::write(&cal, &out) {
                Ok(()) => {
                    println!(
                        "wrote {} and {}",
                        out.display(),
                        out.with_extension("ron").display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: calibrate disk: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Probe { json } => {
            let results = probe::all();
            if json {
                let map: serde_json::Map<String, serde_json::Value> = results
                    .iter()
                    .map(|f| {
                        (
                            f.name.to_string(),
                            serde_json::json!({ "available": f.available, "detail": f.detail }),
                        )
                    })
                    .collect();
                println!("{}", serde_json::Value::Object(map));
            } else {
                for f in &results {
                    let status = if f.available {
                        "available"
                    } else {
                        "missing  "
                    };
                    println!("{:<14} {status}  {}", f.name, f.detail);
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// `native crashtest`: the report, a line per crash point that lost data and its replay
/// command; with `--point`, that one point and the check's whole output.
fn crashtest_command(
    file: &std::path::Path,
    seed: Option<u64>,
    point: Option<crashtest::Point>,
) -> ExitCode {
    let (config, seed, name) = match crashtest::load(file, seed) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(why) = mount::unavailable() {
        eprintln!("error: FUSE cannot mount here: {why}");
        return ExitCode::from(2);
    }
    let stop = interrupt_flag();
    let timing = if config.latency {
        "each operation taking the disk model's time"
    } else {
        "untimed"
    };
    println!(
        "crashtest {name} (seed {seed}): mount `{}` on {}'s disk ({}, {}), {timing}",
        config.name,
        config.host,
        diskrun::device_words(&config.device),
        diskrun::size(crashtest::bytes(&config)),
    );
    if !config.faults.is_empty() {
        println!(
            "disk faults: {} change(s), at the program's real time",
            config.faults.len()
        );
    }
    let replay = |k: crashtest::Point| {
        format!(
            "native crashtest {} --seed {seed} --point {k}",
            file.display()
        )
    };
    let mut report = |o: &crashtest::PointOutcome, i: usize, n: usize| {
        if point.is_some() {
            return;
        }
        if !o.ok {
            println!(
                "  point {}{}: lost acknowledged data: {}  (replay: {})",
                o.point,
                if o.after_exit { " (after exit)" } else { "" },
                crashtest::shown(&o.output),
                replay(o.replay())
            );
        } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprint!("\r  {i} of {n} crash points tried\r");
        }
    };
    let outcome = crashtest::run(&config, seed, point, &stop, &mut report);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprint!("\r{:40}\r", ""); // the progress line, cleared
    }
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let failed: Vec<&crashtest::PointOutcome> = outcome.tried.iter().filter(|o| !o.ok).collect();
    if point.is_some() {
        let o = &outcome.tried[0];
        let at = if o.after_exit {
            "a power cut after the program exited".to_string()
        } else {
            format!("a crash at operation {}", o.point)
        };
        println!(
            "point {} ({at}; the program makes {} operations without a crash): the check {}",
            o.replay(),
            outcome.ops,
            if o.ok { "passed" } else { "FAILED" }
        );
        println!("--- the program printed:");
        print!("{}", o.program);
        println!("--- the check printed:");
        print!("{}", o.output);
        return if o.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    println!(
        "{} of {} crash points lost acknowledged data (the program makes {} operations; point {} is a power cut after it exits)",
        failed.len(),
        outcome.tried.len(),
        outcome.ops,
        outcome.ops + 1
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A flag that Ctrl-C, SIGTERM and SIGHUP set (ctrlc's `termination` feature: what `timeout`,
/// systemd, a closed terminal send must clean up as Ctrl-C does). The run loop sees it and
/// returns, and the guards' Drops do the rest: the fleet kills and reaps every node and removes
/// the run's directory and namespaces; the kernel target kills QEMU. Either way the run exits
/// 2 and says it was interrupted.
fn interrupt_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) =
        ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::Relaxed))
    {
        eprintln!("warning: Ctrl-C, SIGTERM and SIGHUP will not stop the run cleanly: {e}");
    }
    stop
}

/// `native run --compare N`: the table and every run's checks; exit 0 when every check of
/// every run held, 1 when one did not, 2 when a run could not run.
fn native_compare(
    args: &run::RunArgs,
    n: usize,
    calibration: Option<&std::path::Path>,
) -> ExitCode {
    let calibrated = match calibration
        .map(|p| calibrate::read(p).map(|c| (p, c)))
        .transpose()
    {
        Ok(c) => c.map(|(p, c)| compare::Calibrated {
            file: p.to_path_buf(),
            latency: c.latency(),
        }),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = interrupt_flag();
    match compare::compare(args, n, calibrated.as_ref(), stop) {
        Ok(c) => {
            for line in compare::table(&c.rows, n) {
                println!("{line}");
            }
            println!();
            for line in compare::checks_report(&c.runs) {
                println!("{line}");
            }
            if c.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {}", run_error(&args.scenario, &e));
            ExitCode::from(2)
        }
    }
}

/// `native run --target kernel`: each variant's comparison as it finishes; exit 0 when the
/// kernel passed every variant, 1 when it failed one, 2 when it could not run.
fn native_kernel(args: &target_kernel::KernelArgs) -> ExitCode {
    let clock = match args.clock {
        kernel::Clock::Instructions => {
            "virtual time from instruction counts (-icount), the same every run"
        }
        kernel::Clock::Host => "the host's time (--host-clock), different every run",
    };
    let print = |v: &target_kernel::VariantRun| {
        let name = args.scenario.display();
        match v.label.as_str() {
            "" => println!("scenario   {name}"),
            l => println!("scenario   {name} ({l})"),
        }
        // QEMU that refused to start the image never booted it.
        let booted = if v.could_not_run() {
            "not booted: QEMU did not run the image"
        } else {
            "booted in QEMU (TCG)"
        };
        println!(
            "kernel     {booted}, {clock}; {:.2} s",
            v.boot.wall.as_secs_f64()
        );
        println!("qemu       {}", v.qemu);
        if let kernel::Outcome::Pass(t) = &v.boot.outcome {
            println!(
                "policy     {} on one CPU, tick {} ms, TSC {:.0} MHz",
                t.policy,
                t.tick as f64 / 1e6,
                t.tsc_hz as f64 / 1e6
            );
            println!();
            for line in &v.lines {
                println!("{line}");
            }
        } else {
            println!("FAILED     {}", v.boot.outcome.describe());
            let ran = kernel::runs_printed(&v.boot.serial);
            if ran > 0 {
                println!(
                    "           it printed the {ran} stretches it ran before (--save-trace keeps them)"
                );
            }
            let tail: Vec<&str> = v.boot.serial.lines().rev().take(10).collect();
            if !tail.is_empty() {
                println!("serial (last {} lines):", tail.len());
                for l in tail.iter().rev() {
                    println!("  {l}");
                }
            }
        }
        println!();
    };
    let stop = interrupt_flag();
    match target_kernel::run(args, &stop, print) {
        Ok(runs) if runs.iter().all(target_kernel::VariantRun::passed) => ExitCode::SUCCESS,
        Ok(runs) if runs.iter().any(target_kernel::VariantRun::could_not_run) => ExitCode::from(2),
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `native run` on a disk scenario: each `io` load simulated, measured on a loop device and run
/// by fio, as a table per load; exit 0 when it ran, 2 when it could not or was interrupted
/// (the loop device is removed either way).
fn native_disk(file: &std::path::Path, disk: &diskrun::DiskScenario) -> ExitCode {
    let stop = interrupt_flag();
    println!("scenario   {} ({})", disk.name, file.display());
    if !disk.variant.is_empty() {
        println!("variant    {}", disk.variant);
    }
    println!("seed       {}", disk.seed);
    let mut progress = |what: &str, line: &str| println!("{what:<10} {line}");
    let loads = match diskrun::run(disk, &stop, true, &mut progress) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    for l in &loads {
        println!();
        println!(
            "io         {}: {}",
            l.io.name,
            diskrun::describe(&l.io.workload)
        );
        println!(
            "simulated  disk `{}`: {}, scheduler {}",
            l.disk.name,
            diskrun::device_words(&l.disk.device),
            format!("{:?}", l.disk.policy).to_lowercase()
        );
        println!(
            "measured   {} over a {} file, O_DIRECT{}",
            l.device,
            diskrun::size(l.device_bytes),
            if l.direct_io {
                ", the loop driver's direct I/O on"
            } else {
                "; the loop driver could not use direct I/O on its file (its page cache serves it)"
            }
        );
        if let fio::Fio::Skipped(why) = &l.fio {
            println!("fio        skipped: {why}");
        }
        println!();
        for line in diskrun::table(&diskrun::rows(&l.sim, &l.real, &l.fio)) {
            println!("{line}");
        }
    }
    ExitCode::SUCCESS
}

/// `native run` on a CPU scenario: its jobs as threads in a cgroup beside the simulator's run,
/// as a table; exit 0 when it ran and the simulated run's checks held, 1 when one did not, 2
/// when it could not run or was interrupted (the cgroup is removed either way).
fn native_cpu(file: &std::path::Path, cpu: &cpurun::CpuScenario) -> ExitCode {
    let stop = interrupt_flag();
    println!("scenario   {} ({})", cpu.name, file.display());
    if !cpu.variant.is_empty() {
        println!("variant    {}", cpu.variant);
    }
    println!("seed       {}", cpu.seed);
    let run = match cpurun::run(cpu, &stop) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", run_error(file, &e));
            return ExitCode::from(2);
        }
    };
    for line in &run.cleaned {
        println!("cleaned    {line}");
    }
    let limit = cpurun::limit(&cpu.config);
    let quota = limit.quota.map_or("none".to_string(), |q| {
        format!("{} per {}", show_duration(q), show_duration(limit.period))
    });
    println!(
        "cgroup     {} ({}): quota {quota}, shares {}",
        run.cgroup, run.version, limit.shares
    );
    println!(
        "machine    {} CPUs online; simulated: {} CPUs under {} (natively, Linux's scheduler)",
        run.online_cpus,
        cpu.config.cpus,
        cpu.config.policy.name()
    );
    if run.real.unfinished > 0 {
        println!("unfinished {} job(s) did not end", run.real.unfinished);
    }
    println!();
    for line in cpurun::table(&run) {
        println!("{line}");
    }
    println!();
    println!("checks (simulated run)");
    for (held, check) in &run.sim_checks {
        println!("  {}  {check}", if *held { "ok  " } else { "FAIL" });
    }
    if run.sim_checks.iter().all(|c| c.0) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn show_duration(d: std::time::Duration) -> String {
    reports::text::show(d.as_nanos() as f64, true)
}

/// `native run`: the run, its summary, and the exit code.
fn native_run(args: run::RunArgs, history: Option<PathBuf>) -> ExitCode {
    let stop = interrupt_flag();
    let report = match run::run(&args, stop) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", run_error(&args.scenario, &e));
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &history {
        if let Err(e) = std::fs::write(path, report.history_text()) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    print_native(&report);
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_native(r: &run::NativeReport) {
    let pct = |v: &[u64], q: f64| -> String {
        if v.is_empty() {
            return "-".into();
        }
        let mut s = v.to_vec();
        s.sort_unstable();
        let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
        reports::text::show(s[i] as f64, true)
    };
    println!(
        "scenario   {} (native: {} node processes, UDP {}, logs fsynced)",
        r.scenario, r.nodes, r.network
    );
    if !r.variant.is_empty() {
        println!("variant    {}", r.variant);
    }
    println!("seed       {}", r.seed);
    println!(
        "real time  {}",
        reports::text::show(r.duration.as_nanos() as f64, true)
    );
    println!(
        "clients    {}: {} ok, {} fail, {} info; latency p50 {} p99 {}",
        r.clients,
        r.ok,
        r.fail,
        r.info,
        pct(&r.latencies_ns, 0.5),
        pct(&r.latencies_ns, 0.99)
    );
    println!(
        "raft       {} entries committed, {} leaders, {} crashes; election after a leader crash p50 {} ({} measured)",
        r.committed,
        r.leaders,
        r.crashes,
        pct(&r.election_times_ns, 0.5),
        r.election_times_ns.len()
    );
    for s in &r.skipped {
        println!("skipped    {s}");
    }
    for h in &r.held {
        println!("  ok    {h}");
    }
    for (check, detail) in &r.violations {
        println!("  FAIL  {check}: {detail}");
    }
    if let Some(k) = &r.kept {
        println!("kept       {}", k.display());
    }
    if r.ok() {
        println!("result     ok: every check held");
    } else {
        println!("result     FAILED: {} violation(s)", r.violations.len());
    }
}

/// A run's error as one line naming the scenario file once (scenario errors name it already).
fn run_error(file: &std::path::Path, e: &run::RunError) -> String {
    match e {
        run::RunError::Scenario(m) => m.clone(),
        other => format!("{}: {other}", file.display()),
    }
}

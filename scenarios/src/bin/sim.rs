//! `sim`: run and check scenarios, format them, read trace files, list models.
//!
//! Exit codes: 0 every check held; 1 a check or invariant was violated (or, for `sim check`, a
//! file is invalid, and for `sim fmt --check`, a file is not canonical); 2 bad input (a missing or malformed
//! file, an unknown flag, a run that could not go on). Every error starts with one line naming
//! the file, line and column where there is one; for scenario files the source line follows with
//! the problem underlined.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use models::MODELS;
use reports::text::{metrics_table, show};
use scenarios::ScenarioError;
use scenarios::render::{DiskSources, render};
use scenarios::runner::{RunOptions, RunReport, stop_reason_name};
use scenarios::seeds::{Batch, BatchError, Json, Outcome, SeedRange, Shard, Table};
use simcore::tracefile::read_trace;
use simcore::{SimTime, format_hash};

#[path = "sim/cache_trace.rs"]
mod cache_trace;

#[derive(Parser)]
#[command(name = "sim", version, about = "A deterministic discrete-event simulator.", long_about = None)]
struct Cli {
    /// More log output on stderr, stamped with simulated time (-v info, -vv debug, -vvv trace).
    /// RUST_LOG, when set, takes precedence (for example RUST_LOG=debug; the simulated time is
    /// on the `simcore` target's spans, so keep `simcore` in any filter).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario file and print a summary; exits 1 if a check fails.
    Run(RunArgs),
    /// Read trace files written by `sim run --trace`; generate cache request traces.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Check scenario files without running them; exits 1 if any is invalid.
    Check {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a scenario file in canonical form (comments kept); with --check or --write, any
    /// number of files.
    Fmt {
        /// Scenario files (one, unless --check or --write).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print nothing but the files not in canonical form, each on stderr; exit 1 if any is
        /// not.
        #[arg(long)]
        check: bool,
        /// Rewrite each file not in canonical form in place (through a temporary file, then a
        /// rename).
        #[arg(long, conflicts_with = "check")]
        write: bool,
    },
    /// List every model: its component kinds, their properties, metrics, actions and checks.
    Models,
    /// Run every scenario (in parallel) and write each chart as SVG and PNG, a JSON summary per
    /// scenario and an index.html gallery that opens from file:// (docs/report.md). Exits 1 if a
    /// scenario's checks failed, 2 if one could not run (its page says why).
    Report {
        /// Scenario files (default: every scenarios/*.scn under the current directory).
        files: Vec<PathBuf>,
        /// The directory to write into (made if missing; files already there are replaced one
        /// by one, index.html last).
        #[arg(long, default_value = "report")]
        out: PathBuf,
        /// A directory of kernel traces (`native run FILE.scn --target kernel --save-trace
        /// DIR/ID.txt`, which writes DIR/ID-N.txt per run of a sweep): each CPU scheduling
        /// scenario with one gets a chart of the kernel's schedule above the simulator's.
        #[arg(long, value_name = "DIR")]
        kernel_traces: Option<PathBuf>,
    },
    /// Join the parts of a sharded batch (`sim run FILE --seeds A..B --shard K/N --json`, one
    /// file per K) into what one machine running the whole batch prints: the same rows, summary
    /// and replay commands (only the measured wall time differs: the parts' sum). Exits 0 when
    /// every run passed, 1 when one failed, 2 when the parts do not make one batch (one missing,
    /// repeated, cut short or from another batch).
    Merge {
        /// The parts' JSON files, in any order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the merged JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Cut a failing run down to a small scenario that still fails the same check, and print it
    /// (docs/shrink.md). Exits 0 when done (even if nothing could be removed), 2 on bad input or
    /// a run that passes.
    Shrink(ShrinkArgs),
    /// Check a key-value history for linearizability (format: docs/lincheck.md); exits 1 if
    /// it is not linearizable, printing the shortest failing prefix.
    Lincheck {
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Search steps allowed per key before giving up (exit 2).
        #[arg(long, default_value_t = models::lincheck::DEFAULT_BUDGET)]
        budget: u64,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The scenario file, e.g. scenarios/mm1.scn.
    file: PathBuf,
    /// The seed (default: the scenario's `seed`, else 0). Same seed, same run, bit for bit.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop at this simulated time (e.g. 10s, 5m), instead of the scenario's duration.
    #[arg(long, value_parser = parse_time)]
    until: Option<SimTime>,
    /// Stop after this many events.
    #[arg(long)]
    max_events: Option<u64>,
    /// The most events that may be pending at once; beyond it the run stops with an error.
    #[arg(long)]
    max_pending: Option<usize>,
    /// Also write every event to this trace file (read it with `sim trace show`). With a sweep,
    /// run N writes FILE-N (run.simtrace -> run-1.simtrace, run-2.simtrace, ...).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write the clients' operation history (Raft scenarios with a `load`) to this file, in the
    /// format `sim lincheck` reads. With a sweep, run N writes FILE-N.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Write the run's timeline (roles per node, jobs on CPUs, faults, client operations, gauges
    /// as counters) in the Chrome Trace Event format, for Perfetto (ui.perfetto.dev) or
    /// chrome://tracing. With a sweep, run N writes FILE-N.
    #[arg(long, value_name = "FILE")]
    export_trace: Option<PathBuf>,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    json: bool,
    /// Run only this variant of the scenario's sweeps: its number (from 1, in the order `sim
    /// run` runs them; the first sweep varies slowest) or the swept values, one NAME=VALUE per
    /// sweep (repeat the flag: --variant server.servers=2 --variant server.service='exp(1s)';
    /// NAME may drop the component when no other sweep has the property). A sweep left out
    /// keeps all its values. Every replay command of a sweep's run carries its values.
    #[arg(long, value_name = "N | NAME=VALUE")]
    variant: Vec<String>,
    /// With --seeds and --json: each run also has `metrics`, a bounded summary of these metrics
    /// (comma-separated names, `PREFIX*`, or `all`): counters' value; gauges' value, mean, min,
    /// max; histograms' count, mean, min, p50, p90, p99, p999, max; series' count, last, min,
    /// max.
    #[arg(long, value_name = "NAMES")]
    metrics: Option<String>,
    /// Run once per seed from A to B, both ends included (like `n1..n5` in a scenario), in
    /// parallel (RAYON_NUM_THREADS threads), and print one row per run in seed order, a summary,
    /// and the command that replays each failing run. Passing runs get rows only when there are
    /// at most 50 runs. With a sweep, every variant runs for every seed. Not with --seed or
    /// --trace (replay one seed with --trace instead).
    #[arg(long, value_name = "A..B", value_parser = parse_seeds)]
    seeds: Option<SeedRange>,
    /// With --seeds: run only the K-th of N disjoint parts of the runs (run i of the batch, in
    /// seed and variant order, is in part i mod N + 1), e.g. one per task of a Slurm job array
    /// or a Kubernetes Indexed Job. `sim merge` joins the parts' --json output into what one
    /// machine running the whole batch prints.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<Shard>,
}

#[derive(Args)]
struct ShrinkArgs {
    /// The scenario file of the failing run (or give --replay).
    file: Option<PathBuf>,
    /// The failing run's seed (default: the scenario's `seed`, else 0); the shrunk scenario keeps
    /// it.
    #[arg(long)]
    seed: Option<u64>,
    /// The variant of the scenario's sweeps that failed, as for `sim run`.
    #[arg(long, value_name = "N | NAME=VALUE")]
    variant: Vec<String>,
    /// The failing run's replay command, as `sim run` prints it (quote it: --replay "sim run
    /// FILE --seed S ..."), instead of FILE, --seed and --variant.
    #[arg(long, value_name = "COMMAND", conflicts_with_all = ["file", "seed", "variant", "until", "max_events", "max_pending"])]
    replay: Option<String>,
    /// Stop the failing run at this simulated time (it becomes the scenario's duration).
    #[arg(long, value_parser = parse_time)]
    until: Option<SimTime>,
    /// Stop each run after this many events (kept in the replay command).
    #[arg(long)]
    max_events: Option<u64>,
    /// The most events that may be pending at once (kept in the replay command).
    #[arg(long)]
    max_pending: Option<usize>,
    /// The most runs the search may make; when they are used up, the smallest failing scenario
    /// found so far is printed and the summary says the search was cut short.
    #[arg(long, value_name = "N", default_value_t = scenarios::shrink::DEFAULT_MAX_RUNS as u64, value_parser = parse_max_runs)]
    max_runs: u64,
    /// A wall-time budget (e.g. 30s, 5m); when it is spent, the smallest failing scenario found
    /// so far is printed and the summary says the search was cut short.
    #[arg(long, value_name = "DURATION", value_parser = parse_time)]
    time_limit: Option<SimTime>,
    /// Write the shrunk scenario to this file (through a temporary file, then a rename) instead
    /// of printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum TraceCommand {
    /// Check a trace file and print its records.
    Show {
        file: PathBuf,
        /// Print at most this many records.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Write a cache request trace from a synthetic workload, in libCacheSim's CSV or
    /// oracleGeneral format or Twitter's cache-trace format.
    Generate(cache_trace::GenerateArgs),
}

fn parse_time(s: &str) -> Result<SimTime, String> {
    s.parse::<SimTime>().map_err(|e| e.to_string())
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse::<Shard>()
}

fn parse_max_runs(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("the search needs at least 1 run".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}; expected a number of runs")),
    }
}

fn parse_seeds(s: &str) -> Result<SeedRange, String> {
    s.parse::<SeedRange>().map_err(|e| e.to_string())
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
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            // clap's own message spans several lines; keep its first, which names the problem.
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            eprintln!("error: {first} (see `sim --help`)");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(cli.verbose) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Run(args) => run(args),
        Command::Check { files } => check_files(&files),
        Command::Fmt {
            files,
            check,
            write,
        } => fmt_files(&files, check, write),
        Command::Trace(TraceCommand::Show { file, limit }) => trace_show(file, limit),
        Command::Trace(TraceCommand::Generate(args)) => cache_trace::generate(args),
        Command::Lincheck { file, json, budget } => lincheck(&file, json, budget),
        Command::Merge { files, json } => merge(&files, json),
        Command::Shrink(args) => shrink(args),
        Command::Report {
            files,
            out,
            kernel_traces,
        } => report(files, &out, kernel_traces.as_deref()),
        Command::Models => {
            print_models();
            ExitCode::SUCCESS
        }
    }
}

/// Logs go to stderr without a wall-clock stamp: each event's span carries its simulated time.
fn init_logging(verbose: u8) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => {
            EnvFilter::try_new(&spec).map_err(|e| format!("RUST_LOG={spec}: {e}"))?
        }
        _ => EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|e| e.to_string())
}

fn run(args: RunArgs) -> ExitCode {
    if let Some(seeds) = args.seeds {
        return run_seeds(&args, seeds);
    }
    if let Some(shard) = args.shard {
        eprintln!(
            "error: --shard {shard} splits a batch of seeds: add --seeds A..B (each part then runs its share of the range)"
        );
        return ExitCode::from(2);
    }
    if args.metrics.is_some() {
        eprintln!(
            "error: --metrics is for --seeds with --json (sim run --json prints every metric of a run in full)"
        );
        return ExitCode::from(2);
    }
    let opts = RunOptions {
        variant: args.variant.clone(),
        seed: args.seed,
        until: args.until,
        max_events: args.max_events,
        trace: args.trace.clone(),
        max_pending: args.max_pending,
        history: args.history.clone(),
        export_trace: args.export_trace.clone(),
        ..RunOptions::default()
    };
    let bar = run_progress(&args);
    let opts = RunOptions {
        progress: bar.as_ref().map(|b| b.hook()),
        ..opts
    };
    let reports = scenarios::run_file(&args.file, &opts);
    if let Some(b) = &bar {
        b.bar.finish_and_clear();
    }
    let reports = match reports {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut written = Ok(());
    for (i, report) in reports.iter().enumerate() {
        if written.is_err() {
            break;
        }
        written = if args.json {
            print_json(&mut out, report)
        } else {
            if i > 0 {
                written = writeln!(out);
            }
            written.and_then(|_| print_human(&mut out, report))
        };
    }
    if let Err(e) = written.and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the summary: {e}");
            return ExitCode::from(2);
        }
    }
    if reports.iter().all(|r| r.ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `sim run FILE --seeds A..B`: every seed (and sweep variant) in parallel, rows in seed order,
/// a progress bar on stderr when it is a terminal. The work is in `scenarios::seeds`.
fn run_seeds(args: &RunArgs, seeds: SeedRange) -> ExitCode {
    if args.seed.is_some() {
        eprintln!(
            "error: --seeds cannot be used with --seed; --seeds {seeds} runs each seed from {} to {} (for one seed, drop --seeds)",
            seeds.first, seeds.last
        );
        return ExitCode::from(2);
    }
    if args.trace.is_some() || args.history.is_some() || args.export_trace.is_some() {
        let flag = if args.trace.is_some() {
            "trace"
        } else if args.history.is_some() {
            "history"
        } else {
            "export-trace"
        };
        eprintln!(
            "error: --seeds cannot be used with --{flag} (one file per seed); run the seeds, then replay one with `sim run {} --seed N --{flag} FILE`",
            args.file.display()
        );
        return ExitCode::from(2);
    }
    if args.metrics.is_some() && !args.json {
        eprintln!(
            "error: --metrics adds metrics to the --json output; add --json (the table has no room for them)"
        );
        return ExitCode::from(2);
    }
    // No seed (each run gets its own) and no trace file: only what changes every run.
    let opts = RunOptions {
        variant: args.variant.clone(),
        until: args.until,
        max_events: args.max_events,
        max_pending: args.max_pending,
        ..RunOptions::default()
    };
    let batch = match scenarios::load(&args.file)
        .map_err(BatchError::from)
        .and_then(|s| Batch::new(&s, seeds, &opts))
        .and_then(|b| match &args.metrics {
            Some(spec) => b.with_metrics(spec),
            None => Ok(b),
        })
        .map(|b| match args.shard {
            Some(shard) => b.with_shard(shard),
            None => b,
        }) {
        Ok(b) => b,
        Err(BatchError::Scenario(e)) => {
            report_error(&e);
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Failures are counted here and read when the bar is drawn, so it never shows a stale count.
    let failed = Arc::new(AtomicU64::new(0));
    let bar = if std::io::stderr().is_terminal() {
        let template = "[{wide_bar}] {pos}/{len} runs, {failed} failed, {rate}, eta {eta}";
        let counted = Arc::clone(&failed);
        let failures = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", counted.load(Ordering::Relaxed));
        };
        let rate = |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1} runs/s", s.per_sec());
        };
        let style = ProgressStyle::with_template(template)
            .map(|s| {
                s.progress_chars("=> ")
                    .with_key("failed", failures)
                    .with_key("rate", rate)
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        ProgressBar::new(batch.runs()).with_style(style)
    } else {
        ProgressBar::hidden()
    };
    let on_done = |o: &Outcome| {
        if !o.ok() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
        bar.inc(1);
    };
    let mut out = std::io::stdout().lock();
    let mut table = Table::new(&batch);
    let mut json = Json::new(&batch);
    let started = if args.json {
        json.header(&mut out)
    } else {
        table.header(&mut out)
    };
    let ran = started.and_then(|_| {
        batch.run(on_done, |chunk| {
            bar.suspend(|| {
                if args.json {
                    json.rows(&mut out, chunk)?;
                } else {
                    table.rows(&mut out, chunk)?;
                }
                out.flush()
            })
        })
    });
    bar.finish_and_clear();
    let written = ran.and_then(|totals| {
        if args.json {
            json.finish(&mut out, &totals)?;
        } else {
            table.finish(&mut out, &totals)?;
        }
        out.flush()
    });
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the results: {e}");
            return ExitCode::from(2);
        }
    }
    // After a closed pipe the batch stops early; its exit code still tells of the runs it ran.
    if failed.load(Ordering::Relaxed) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `sim merge`: the work is in `scenarios::merge`.
fn merge(files: &[PathBuf], json: bool) -> ExitCode {
    let merged = match scenarios::merge::merge_files(files) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let written = scenarios::merge::write(&merged, json, &mut out).and_then(|_| out.flush());
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the merged results: {e}");
            return ExitCode::from(2);
        }
    }
    if merged.totals.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A progress bar over a run's simulated time, on stderr when it is a terminal.
struct RunBar {
    bar: ProgressBar,
    /// The stop time of each run, in ms (the bar's unit).
    until_ms: Option<u64>,
}

impl RunBar {
    /// Callbacks that move the bar: each run of a sweep is one stretch of `until_ms`.
    fn hook(&self) -> scenarios::runner::ProgressHook {
        let (bar, until) = (self.bar.clone(), self.until_ms);
        let bar2 = self.bar.clone();
        let base = Arc::new(AtomicU64::new(0));
        let base2 = Arc::clone(&base);
        scenarios::runner::ProgressHook {
            run: Arc::new(move |k, n| {
                if let Some(u) = until {
                    bar.set_length(u.saturating_mul(n as u64).max(1));
                    base.store(u.saturating_mul(k as u64), Ordering::Relaxed);
                    bar.set_position(u.saturating_mul(k as u64));
                }
                if n > 1 {
                    bar.set_message(format!("run {}/{n}", k + 1));
                }
            }),
            time: Arc::new(move |t, events| {
                if until.is_some() {
                    let ms = t.as_nanos() / 1_000_000;
                    bar2.set_position(base2.load(Ordering::Relaxed) + ms);
                } else {
                    bar2.set_position(events);
                }
            }),
        }
    }
}

/// The bar for `sim run` (None when stderr is not a terminal, so logs and pipes stay clean).
fn run_progress(args: &RunArgs) -> Option<RunBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let until_ms = args
        .until
        .map(|t| t.as_nanos() / 1_000_000)
        .or_else(|| {
            let s = scenarios::load(&args.file).ok()?;
            let d = scenarios::check::check(&s).ok()?.duration?;
            Some(d.as_nanos() / 1_000_000)
        })
        .filter(|&ms| ms > 0);
    let template = match until_ms {
        Some(_) => "[{wide_bar}] {pos}/{len} ms simulated {msg}, eta {eta}",
        None => "{spinner} {pos} events {msg}",
    };
    let style = ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(until_ms.unwrap_or(0)).with_style(style);
    Some(RunBar { bar, until_ms })
}

/// `sim report`: runs the scenarios with recording on and writes the gallery.
fn report(
    files: Vec<PathBuf>,
    out: &std::path::Path,
    kernel_traces: Option<&std::path::Path>,
) -> ExitCode {
    let defaulted = files.is_empty();
    let files = if defaulted {
        let dir = std::path::Path::new("scenarios");
        let listed = std::fs::read_dir(dir).map(|rd| {
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "scn"))
                .collect();
            v.sort();
            v
        });
        match listed {
            Ok(v) if !v.is_empty() => v,
            Ok(_) | Err(_) => {
                eprintln!(
                    "error: no scenario files given and no scenarios/*.scn here; run from the repository root or name files (sim report FILE.scn ...)"
                );
                return ExitCode::from(2);
            }
        }
    } else {
        files
    };
    // The command that regenerates this gallery, as the user typed it (every file only when
    // they were named).
    let mut command = format!("sim report --out {}", out.display());
    if let Some(dir) = kernel_traces {
        command.push_str(&format!(" --kernel-traces {}", dir.display()));
    }
    for f in files.iter().filter(|_| !defaulted) {
        command.push(' ');
        command.push_str(&f.display().to_string());
    }
    // First the scenarios to run, then the charts to draw.
    let bar = scenarios::progress::PhaseBar::stderr(
        std::io::stderr().is_terminal(),
        &["scenarios run", "charts drawn"],
    );
    let planned = |n: u64| bar.start(n);
    let tick = || bar.inc();
    let outcome =
        scenarios::report::write_report_with(&files, out, &command, &tick, &planned, kernel_traces);
    bar.finish();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = 0;
    let mut broken = 0;
    let mut charts = 0;
    for s in &outcome.scenarios {
        charts += s.charts;
        match &s.runs {
            Ok(runs) => {
                let ok = s.ok();
                if !ok {
                    failed += 1;
                }
                let verdict = if ok { "ok  " } else { "FAIL" };
                println!(
                    "{verdict}  {:<28} {} run(s), {} chart(s)",
                    s.id,
                    runs.len(),
                    s.charts
                );
            }
            Err(e) => {
                broken += 1;
                println!("ERR   {:<28} could not run", s.id);
                report_error(e);
            }
        }
    }
    let shown = std::fs::canonicalize(&outcome.index).unwrap_or(outcome.index.clone());
    println!(
        "wrote {} ({} scenarios, {charts} charts); open file://{}",
        outcome.index.display(),
        outcome.scenarios.len(),
        shown.display()
    );
    exit_code(broken, failed)
}

/// The run `sim shrink` is asked to shrink: its file and the flags of `sim run` that chose it.
struct ShrinkTarget {
    file: PathBuf,
    seed: Option<u64>,
    variant: Vec<String>,
    until: Option<SimTime>,
    max_events: Option<u64>,
    max_pending: Option<usize>,
}

/// `sim shrink`'s target: from its own flags, or from a pasted replay command, read by the same
/// parser as `sim run` (a leading `replay` or `replay:` label, as `sim run` prints it, is
/// skipped).
fn shrink_target(args: &ShrinkArgs) -> Result<ShrinkTarget, String> {
    let Some(line) = &args.replay else {
        let Some(file) = &args.file else {
            return Err(
                "sim shrink needs a scenario file (sim shrink FILE.scn --seed S) or a replay command (sim shrink --replay \"sim run FILE.scn --seed S\")".into(),
            );
        };
        return Ok(ShrinkTarget {
            file: file.clone(),
            seed: args.seed,
            variant: args.variant.clone(),
            until: args.until,
            max_events: args.max_events,
            max_pending: args.max_pending,
        });
    };
    let words = scenarios::shrink::shell_words(line).map_err(|e| format!("--replay: {e}"))?;
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let start = match words.first() {
        Some(&("replay" | "replay:")) => 1,
        _ => 0,
    };
    let words = &words[start..];
    let is_sim = |w: &str| {
        std::path::Path::new(w)
            .file_name()
            .is_some_and(|n| n == "sim")
    };
    if !(words.len() >= 3 && is_sim(words[0]) && words[1] == "run") {
        return Err(format!(
            "--replay takes a replay command as `sim run` prints it (sim run FILE --seed S ...), not `{line}`"
        ));
    }
    let run = match Cli::try_parse_from(words) {
        Ok(Cli {
            command: Command::Run(run),
            ..
        }) => run,
        Ok(_) => return Err(format!("--replay takes a `sim run` command, not `{line}`")),
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            return Err(format!("--replay: {}", first.trim_start_matches("error: ")));
        }
    };
    if run.seeds.is_some() {
        return Err("--replay: shrink takes one run; give its --seed rather than --seeds".into());
    }
    if run.trace.is_some() || run.history.is_some() || run.export_trace.is_some() {
        return Err(
            "--replay: --trace, --history and --export-trace write files of a run; drop them (replay the shrunk run with them instead)".into(),
        );
    }
    Ok(ShrinkTarget {
        file: run.file,
        seed: run.seed,
        variant: run.variant,
        until: run.until,
        max_events: run.max_events,
        max_pending: run.max_pending,
    })
}

/// `sim shrink`: finds the failing run's check, shrinks the scenario against it, and prints (or
/// writes) the result, its replay command, and a summary on stderr. The work is in
/// `scenarios::shrink`.
fn shrink(args: ShrinkArgs) -> ExitCode {
    use scenarios::shrink::{Cut, ShrinkError, shrink_run};
    let target = match shrink_target(&args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let chosen = scenarios::load(&target.file).and_then(|s| {
        scenarios::runner::validate(&s).map_err(ScenarioError::Invalid)?;
        let variants = scenarios::sweep::variants(&s).map_err(ScenarioError::Invalid)?;
        let i = variants.select_one(&target.variant)?;
        Ok(variants.get(i).scenario)
    });
    let mut scenario = match chosen {
        Ok(s) => s,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(2);
        }
    };
    if let Some(t) = target.until {
        let span = scenario.duration.map(|d| d.1).unwrap_or_default();
        scenario.duration = Some((simcore::SimDuration::from_nanos(t.as_nanos()), span));
    }
    let seed = target.seed.or(scenario.seed.map(|s| s.0)).unwrap_or(0);
    let opts = RunOptions {
        max_events: target.max_events,
        max_pending: target.max_pending,
        ..RunOptions::default()
    };
    let deadline = args
        .time_limit
        .map(|t| std::time::Instant::now() + std::time::Duration::from_nanos(t.as_nanos()));
    let mut out_of_time = || deadline.is_some_and(|d| std::time::Instant::now() >= d);
    let bar = scenarios::progress::PhaseBar::stderr(
        std::io::stderr().is_terminal(),
        &["runs of the search's budget"],
    );
    bar.start(args.max_runs);
    let max_runs = usize::try_from(args.max_runs).unwrap_or(usize::MAX);
    let result = shrink_run(&scenario, seed, &opts, max_runs, &mut out_of_time, &|| {
        bar.inc()
    });
    bar.finish();
    let shrunk = match result {
        Ok(s) => s,
        Err(ShrinkError::Scenario(e)) => {
            report_error(&e);
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let flags = scenarios::runner::replay_flags(&opts);
    let replay = |file: &str| scenarios::runner::replay_command(file, seed, &flags);
    match &args.out {
        Some(path) => {
            if let Err(e) = scenarios::runner::write_atomically(path, shrunk.text.as_bytes()) {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(2);
            }
            println!("wrote {}", path.display());
            println!(
                "replay: {}",
                replay(&scenarios::sweep::shell_word(&path.display().to_string()))
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(shrunk.text.as_bytes())
                .and_then(|_| stdout.flush())
            {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("error: writing: {e}");
                    return ExitCode::from(2);
                }
            }
            eprintln!(
                "replay: {}  (save the scenario above as SHRUNK.scn, or pass --out FILE)",
                replay("SHRUNK.scn")
            );
        }
    }
    let (lines_before, lines_after) = shrunk.lines;
    let (sched_before, sched_after) = shrunk.schedule;
    eprintln!(
        "shrunk in {} runs: schedule lines {sched_before} -> {sched_after}, scenario lines {lines_before} -> {lines_after}",
        shrunk.runs
    );
    match shrunk.cut {
        Some(Cut::Runs) => eprintln!(
            "cut short: the {} runs of --max-runs were used up; this is the smallest failing scenario found so far (raise --max-runs to go on)",
            args.max_runs
        ),
        Some(Cut::Time) => eprintln!(
            "cut short: the --time-limit of {} was spent; this is the smallest failing scenario found so far",
            args.time_limit.map(|t| t.to_string()).unwrap_or_default()
        ),
        None => {}
    }
    ExitCode::SUCCESS
}

/// Prints an error on stderr: scenario problems with their source lines, others on one line.
fn report_error(e: &ScenarioError) {
    match e {
        ScenarioError::Invalid(diags) => {
            let color = std::io::stderr().is_terminal();
            eprint!("{}", render(diags, &mut DiskSources::default(), color));
            if diags.len() > 1 {
                eprintln!("{} problems found", diags.len());
            }
        }
        other => eprintln!("error: {other}"),
    }
}

fn check_files(files: &[PathBuf]) -> ExitCode {
    let mut bad = 0;
    for f in files {
        let result = scenarios::load(f)
            .and_then(|s| scenarios::runner::validate(&s).map_err(ScenarioError::Invalid));
        match result {
            Ok(runs) if runs > 1 => println!("{}: ok ({runs} runs)", f.display()),
            Ok(_) => println!("{}: ok", f.display()),
            Err(e) => {
                bad += 1;
                report_error(&e);
            }
        }
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `sim fmt`: prints one file in canonical form, or with `--check` or `--write` goes through
/// every file (a problem with one does not stop the others). Exit 2 if a file could not be read,
/// parsed or written, else 1 if `--check` found one not canonical, else 0.
fn fmt_files(files: &[PathBuf], check: bool, write: bool) -> ExitCode {
    if !check && !write && files.len() > 1 {
        eprintln!(
            "error: sim fmt prints one file; for {} files use --check (list those not in canonical form) or --write (rewrite them)",
            files.len()
        );
        return ExitCode::from(2);
    }
    let (mut broken, mut unformatted) = (0, 0);
    for file in files {
        let shown = file.display().to_string();
        let (text, formatted) = match formatted(file) {
            Ok(pair) => pair,
            Err(e) => {
                broken += 1;
                report_error(&e);
                continue;
            }
        };
        if check {
            if formatted != text {
                unformatted += 1;
                eprintln!("{shown}: not in canonical form (run `sim fmt --write {shown}`)");
            }
        } else if write {
            if formatted != text {
                if let Err(e) = scenarios::runner::write_atomically(file, formatted.as_bytes()) {
                    broken += 1;
                    eprintln!("error: {shown}: {e}");
                }
            }
        } else {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(formatted.as_bytes())
                .and_then(|_| out.flush())
            {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: writing: {e}");
                    broken += 1;
                }
                _ => {}
            }
        }
    }
    if check && unformatted > 0 && files.len() > 1 {
        eprintln!(
            "{unformatted} of {} files not in canonical form",
            files.len()
        );
    }
    exit_code(broken, unformatted)
}

/// A scenario file's text and its canonical form.
fn formatted(file: &std::path::Path) -> Result<(String, String), ScenarioError> {
    let text = scenarios::source::read_text(file)?;
    let scenario = scenarios::parse::parse(&file.display().to_string(), &text)
        .map_err(ScenarioError::Invalid)?;
    let formatted = scenarios::fmt::format(&scenario, &text);
    Ok((text, formatted))
}

fn print_json(out: &mut impl Write, r: &RunReport) -> std::io::Result<()> {
    let value = serde_json::json!({
        "scenario": r.scenario,
        "file": r.file,
        "variant": r.variant,
        "seed": r.seed,
        "events": r.events,
        "sim_time_ns": r.result.end_time.as_nanos(),
        "wall_time_s": r.wall_time_s,
        "speedup": if r.speedup().is_finite() { serde_json::json!(r.speedup()) } else { serde_json::Value::Null },
        "stop_reason": stop_reason_name(r.result.stop_reason),
        "trace_hash": format_hash(r.result.trace_hash),
        "metrics": r.result.metrics,
        "checks": r.checks,
        "violations": r.result.violations,
        "violations_total": r.result.violations_total,
        "replay": r.replay_command(),
    });
    writeln!(out, "{value}")
}

fn print_human(out: &mut impl Write, r: &RunReport) -> std::io::Result<()> {
    let res = &r.result;
    writeln!(out, "scenario   {} ({})", r.scenario, r.file)?;
    if !r.variant.is_empty() {
        writeln!(out, "variant    {}", r.variant)?;
    }
    writeln!(out, "seed       {}", r.seed)?;
    writeln!(out, "events     {} ({})", res.events, res.stop_reason)?;
    writeln!(
        out,
        "sim time   {} ({})",
        res.end_time,
        show(res.end_time.as_nanos() as f64, true)
    )?;
    writeln!(
        out,
        "wall time  {:.3}s  (speed-up {:.3e}x real time, {:.2e} events/s)",
        r.wall_time_s,
        r.speedup(),
        res.events as f64 / r.wall_time_s.max(1e-9)
    )?;
    writeln!(out, "trace hash {}", format_hash(res.trace_hash))?;
    if let Some(t) = &r.trace_file {
        writeln!(
            out,
            "trace file {} ({} records)",
            t.display(),
            res.trace_records
        )?;
    }
    writeln!(out, "metrics")?;
    for line in metrics_table(&res.metrics) {
        writeln!(out, "  {line}")?;
    }
    if !r.checks.is_empty() {
        writeln!(out, "checks")?;
        for c in &r.checks {
            let verdict = if c.held { "ok  " } else { "FAIL" };
            writeln!(
                out,
                "  {verdict}  {}  (actual {})",
                c.check,
                show(c.actual, c.is_duration)
            )?;
        }
    }
    let model_violations = res
        .violations
        .iter()
        .filter(|v| !r.checks.iter().any(|c| c.check == v.check))
        .count();
    if model_violations > 0 {
        writeln!(out, "violations")?;
        for v in res.violations.iter().take(model_violations) {
            writeln!(
                out,
                "  {} at {}: {}",
                v.check,
                show(v.time_ns as f64, true),
                v.detail
            )?;
        }
    }
    if r.ok() {
        writeln!(out, "result     ok: every check held")?;
    } else {
        writeln!(
            out,
            "result     FAILED: {} violation(s)",
            res.violations_total
        )?;
    }
    writeln!(out, "replay     {}", r.replay_command())
}

fn trace_show(file: PathBuf, limit: Option<u64>) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let limit = limit.unwrap_or(u64::MAX);
    let mut write_error = None;
    let summary = read_trace(&file, |rec| {
        if rec.index >= limit {
            return false;
        }
        let kind = match rec.kind {
            simcore::trace::RecordKind::Event => "event",
            simcore::trace::RecordKind::Note => "note ",
        };
        if let Err(e) = writeln!(
            out,
            "{:>10}  {:>16}  {kind}  {}",
            rec.index,
            rec.time.to_string(),
            rec.label
        ) {
            write_error = Some(e);
            return false;
        }
        true
    });
    match summary {
        Ok(s) => {
            let _ = writeln!(
                out,
                "-- {} records, scenario {}, seed {}, trace hash {}, written by {}",
                s.records,
                s.scenario,
                s.seed,
                format_hash(s.trace_hash),
                s.producer
            );
            match write_error {
                Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: writing: {e}");
                    ExitCode::from(2)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn print_models() {
    for (i, m) in MODELS.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("model {}: {}", m.name, m.doc);
        for k in m.kinds {
            println!();
            println!("  {} NAME {{ ... }}  {}", k.kind, k.doc);
            for p in k.props {
                let need = p.need_text();
                let live = if p.live {
                    ", can change during a run (load)"
                } else {
                    ""
                };
                println!("    {:<13} {}", p.name, p.doc);
                println!("    {:<13} takes {} [{need}{live}]", "", p.ty.describe());
            }
            let refs: Vec<String> = k
                .props
                .iter()
                .filter_map(|p| p.ty.refers_to().map(|r| format!("{}: {r}", p.name)))
                .collect();
            if !refs.is_empty() {
                println!("    references: {}", refs.join("; "));
            }
            if !k.metrics.is_empty() {
                println!("    metrics:");
                for x in k.metrics {
                    println!("      NAME.{:<11} {:?}: {}", x.name, x.kind, x.doc);
                }
            }
        }
        if !m.global_metrics.is_empty() {
            println!();
            println!("  model metrics:");
            for x in m.global_metrics {
                println!("    {:<18} {:?}: {}", x.name, x.kind, x.doc);
            }
        }
        let verbs = if m.verbs.is_empty() {
            "none".to_string()
        } else {
            m.verbs
                .iter()
                .map(|v| v.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!();
        println!("  actions: {verbs}");
        for v in m.verbs {
            println!("    {}", v.usage());
            println!("      {}", v.doc);
        }
        for (name, doc) in m.properties {
            println!("  expect {name}: {doc}");
        }
        for (name, doc) in m.events {
            println!("  expect {name} within T: {doc}");
        }
        if !m.charts.is_empty() {
            println!();
            println!("  charts (sim report):");
            for c in m.charts {
                println!("    {:<20} {}", c.id, c.title);
            }
        }
    }
}

fn lincheck(file: &std::path::Path, json: bool, budget: u64) -> ExitCode {
    use models::lincheck::{Outcome, Verdict, check, parse_history};
    let shown = file.display().to_string();
    let text = match std::fs::File::open(file).and_then(|f| {
        use std::io::Read;
        let mut s = String::new();
        // Histories can be large, but not without bound: 1 GiB.
        f.take(1 << 30).read_to_string(&mut s).map(|_| s)
    }) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {shown}: {e}");
            return ExitCode::from(2);
        }
    };
    let ops = match parse_history(&text) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{shown}:{e}");
            return ExitCode::from(2);
        }
    };
    let reports = check(&ops, budget);
    let bad = reports
        .iter()
        .filter(|r| r.verdict == Verdict::NotLinearizable)
        .count();
    let unknown = reports
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Unknown { .. }))
        .count();
    let outcome = |o: Outcome| match o {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    };
    let mut out = std::io::stdout().lock();
    let written = if json {
        let keys: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                serde_json::json!({
                    "key": r.key,
                    "operations": r.operations,
                    "verdict": match r.verdict {
                        Verdict::Linearizable => "linearizable",
                        Verdict::NotLinearizable => "not_linearizable",
                        Verdict::Unknown { .. } => "unknown",
                    },
                    "counterexample": r.counterexample.iter().map(|o| serde_json::json!({
                        "process": o.process,
                        "op": o.op_text(),
                        "outcome": outcome(o.outcome),
                        "call_line": o.call_line,
                        "return_line": o.ret_line,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = serde_json::json!({
            "file": shown,
            "operations": ops.len(),
            "linearizable": bad == 0 && unknown == 0,
            "keys": keys,
        });
        writeln!(out, "{v}")
    } else {
        let mut w = Ok(());
        for r in &reports {
            let key = if r.key.is_empty() {
                "(no key)".to_string()
            } else {
                format!("key {}", r.key)
            };
            let v = match r.verdict {
                Verdict::Linearizable => "linearizable".to_string(),
                Verdict::NotLinearizable => "NOT linearizable".to_string(),
                Verdict::Unknown { steps } => {
                    format!("unknown (gave up after {steps} steps; raise --budget)")
                }
            };
            w = w.and_then(|_| writeln!(out, "{key}: {} operations, {v}", r.operations));
            if !r.counterexample.is_empty() {
                w = w.and_then(|_| {
                    writeln!(
                        out,
                        "  shortest failing prefix ({} operations):",
                        r.counterexample.len()
                    )
                });
                for o in &r.counterexample {
                    // Not completed by the end of the prefix (or at all): still open.
                    let ret = o
                        .ret_line
                        .map_or("still open".to_string(), |l| format!("completed line {l}"));
                    w = w.and_then(|_| {
                        writeln!(
                            out,
                            "    {:<8} {:<20} {:<5} called line {}, {ret}",
                            o.process,
                            o.op_text(),
                            outcome(o.outcome),
                            o.call_line
                        )
                    });
                }
            }
        }
        w.and_then(|_| {
            writeln!(
                out,
                "{}: {} operations, {} key(s), {}",
                shown,
                ops.len(),
                reports.len(),
                if bad > 0 {
                    "NOT linearizable"
                } else if unknown > 0 {
                    "undecided"
                } else {
                    "linearizable"
                }
            )
        })
    };
    if let Err(e) = written.and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing: {e}");
            return ExitCode::from(2);
        }
    }
    if bad > 0 {
        ExitCode::from(1)
    } else if unknown > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// The documented exit code of a command over many inputs: 2 when any could not be handled
/// (bad input, a run that could not go on), else 1 when any failed its check, else 0.
fn exit_code(broken: usize, failed: usize) -> ExitCode {
    if broken > 0 {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

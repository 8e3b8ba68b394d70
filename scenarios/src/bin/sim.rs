//! `sim`: run scenarios, read trace files, list models.
//!
//! Exit codes: 0 every check held; 1 a check or invariant was violated; 2 bad input (a missing or
//! malformed file, an unknown flag, a run that could not go on). Errors are one line each on
//! stderr, naming the file, line and column where there is one.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use reports::text::{metrics_table, show};
use scenarios::build::KINDS;
use scenarios::runner::{RunOptions, RunReport, stop_reason_name};
use simcore::tracefile::read_trace;
use simcore::{SimTime, format_hash};

#[derive(Parser)]
#[command(name = "sim", version, about = "A deterministic discrete-event simulator.", long_about = None)]
struct Cli {
    /// More log output on stderr, stamped with simulated time (-v info, -vv debug, -vvv trace).
    /// RUST_LOG, when set, takes precedence (for example RUST_LOG=models=debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario file and print a summary; exits 1 if a check fails.
    Run(RunArgs),
    /// Read trace files written by `sim run --trace`.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// List every model's component kinds and their properties.
    Models,
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
    /// Also write every event to this trace file (read it with `sim trace show`).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    json: bool,
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
}

fn parse_time(s: &str) -> Result<SimTime, String> {
    s.parse::<SimTime>().map_err(|e| e.to_string())
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
        Command::Trace(TraceCommand::Show { file, limit }) => trace_show(file, limit),
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
    let opts = RunOptions {
        seed: args.seed,
        until: args.until,
        max_events: args.max_events,
        trace: args.trace.clone(),
        max_pending: args.max_pending,
    };
    let report = match scenarios::run_file(&args.file, &opts) {
        Ok(r) => r,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("error: {line}");
            }
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        print_json(&mut out, &report)
    } else {
        print_human(&mut out, &report, args.trace.as_deref())
    };
    if let Err(e) = written.and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the summary: {e}");
            return ExitCode::from(2);
        }
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_json(out: &mut impl Write, r: &RunReport) -> std::io::Result<()> {
    let value = serde_json::json!({
        "scenario": r.scenario,
        "file": r.file,
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

fn print_human(
    out: &mut impl Write,
    r: &RunReport,
    trace: Option<&std::path::Path>,
) -> std::io::Result<()> {
    let res = &r.result;
    writeln!(out, "scenario   {} ({})", r.scenario, r.file)?;
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
    if let Some(t) = trace {
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
    let mut model = "";
    for k in KINDS {
        if k.model != model {
            model = k.model;
            println!("model {model}");
        }
        println!("  {} NAME {{ ... }}  {}", k.kind, k.doc);
        for p in k.props {
            let req = if p.required {
                "required".to_string()
            } else {
                format!("default {}", p.default.unwrap_or("none"))
            };
            println!("    {:<13} {}  [{req}]", p.name, p.doc);
            println!("    {:<13} takes {}", "", p.ty.describe());
        }
    }
}

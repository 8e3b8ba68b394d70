//! Runs a checked scenario: wires its models into a `simcore::Simulation`, runs it, evaluates the
//! scenario's checks, and reports.
//!
//! The wall clock is read here, around the run, only to report speed; nothing inside the
//! simulation sees it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use models::queueing::QNet;
use models::world::World;
use serde::Serialize;
use simcore::trace::Trace;
use simcore::{
    MetricsSnapshot, Model, RunResult, SimConfig, SimError, SimTime, Simulation, StopAt,
    StopReason, Violation,
};

use crate::ast::{Check, Scenario, ValueKind};
use crate::check::check as check_scenario;
use crate::diag::Diagnostic;
use crate::sweep::{Variant, variants};
use crate::wire::{Wired, wire};
use reports::text::show;

/// Why a scenario could not be run. Every variant reads as one line per problem.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    #[error("{file}: the run stopped: {source}")]
    Run { file: String, source: SimError },
    #[error(transparent)]
    Variant(#[from] crate::sweep::VariantError),
}

/// Overrides of what the scenario file says, from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub seed: Option<u64>,
    /// Stop at this time instead of the scenario's `duration`.
    pub until: Option<SimTime>,
    pub max_events: Option<u64>,
    /// Write the full event trace to this file.
    pub trace: Option<PathBuf>,
    pub max_pending: Option<usize>,
    /// Write the clients' history (the `sim lincheck` format) to this file.
    pub history: Option<PathBuf>,
    /// Keep the run's timeline, gauge histories and distributions (for charts); never changes
    /// the run or its trace hash.
    pub record: bool,
    /// Write the run's timeline in the Chrome Trace Event format to this file (implies
    /// `record`).
    pub export_trace: Option<PathBuf>,
    /// Told of the simulated time every 65,536 events (a progress bar).
    pub progress: Option<ProgressHook>,
    /// The runs of a sweep to make (`--variant`: a number, or `NAME=VALUE` per sweep; see
    /// [`crate::sweep::Variants::select`]); empty for every run. Read by [`run_file`] and
    /// [`crate::seeds::Batch`], which expand sweeps.
    pub variant: Vec<String>,
}

/// Progress callbacks, shared by the runs of a sweep: `run(k, n)` before run k (from 0) of n,
/// then `time(t, events)` every 65,536 events of it.
#[derive(Clone)]
pub struct ProgressHook {
    pub run: std::sync::Arc<dyn Fn(usize, usize) + Send + Sync>,
    pub time: std::sync::Arc<dyn Fn(SimTime, u64) + Send + Sync>,
}

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// The outcome of one check at the end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub check: String,
    pub held: bool,
    /// The metric's value, in its unit (nanoseconds for durations).
    pub actual: f64,
    pub bound: f64,
    pub is_duration: bool,
}

/// Everything a run produced, for the human summary and `--json`.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub scenario: String,
    pub file: String,
    /// The swept values of this run (`server.servers=2`), empty when nothing is swept.
    pub variant: String,
    pub seed: u64,
    pub events: u64,
    pub wall_time_s: f64,
    pub checks: Vec<CheckOutcome>,
    /// The model families whose blocks the scenario has (`queueing`, `raft`, `cpu`:
    /// [`models::schema::ModelSpec`] names, in `MODELS` order).
    pub models: Vec<&'static str>,
    /// The scenario's blocks as (kind, name), in file order (for charts that pick metrics of
    /// components of one kind).
    pub blocks: Vec<(&'static str, String)>,
    pub result: RunResult,
    /// The command-line flags that chose or changed this run (` --variant server.servers=2
    /// --until 10s`), for the replay command.
    pub replay_flags: String,
    /// The trace file the run wrote (`--trace`; numbered in a sweep), if any.
    pub trace_file: Option<PathBuf>,
}

impl RunReport {
    /// Every violation: those the models reported during the run, then the failed checks.
    pub fn violations(&self) -> &[Violation] {
        &self.result.violations
    }
    pub fn ok(&self) -> bool {
        self.result.violations_total == 0
    }
    /// How many times faster than real time the run went.
    pub fn speedup(&self) -> f64 {
        if self.wall_time_s > 0.0 {
            self.result.end_time.as_secs_f64() / self.wall_time_s
        } else {
            f64::INFINITY
        }
    }
    /// The one command that replays this run exactly (with the flags that chose its variant
    /// and changed it).
    pub fn replay_command(&self) -> String {
        replay_command(&self.file, self.seed, &self.replay_flags)
    }
}

/// `sim run FILE --seed N` and `flags` (which begin with a space): the command that replays a
/// run.
pub fn replay_command(file: &str, seed: u64, flags: &str) -> String {
    format!("sim run {file} --seed {seed}{flags}")
}

/// Reads and parses a scenario file, following its includes (does not check its models).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    crate::source::load(path)
}

/// Everything `sim run` would refuse before running, for every run of the scenario's sweeps:
/// the checker's findings, then the wiring's (a schedule too large, a source that would stop
/// time), each distinct problem once. The number of runs when there is none.
pub fn validate(scenario: &Scenario) -> Result<usize, Vec<Diagnostic>> {
    let variants = variants(scenario)?;
    let mut diags = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for v in &variants {
        // With a `nemesis`, the lines it draws for the scenario's seed are checked too.
        let seed = v.scenario.seed.map_or(0, |s| s.0);
        let found = crate::generate::expand(&v.scenario, seed).and_then(|g| {
            let s = g.as_ref().unwrap_or(&v.scenario);
            check_scenario(s).and_then(|c| wire(&c, seed).map(|_| ()))
        });
        if let Err(d) = found {
            // Each distinct problem once, however many runs share it.
            diags.extend(d.into_iter().filter(|x| seen.insert(x.to_string())));
        }
    }
    if diags.is_empty() {
        Ok(variants.len())
    } else {
        Err(diags)
    }
}

/// Loads, checks and runs the scenario at `path`: one run, or one per combination of its sweeps
/// (those `opts.variant` chooses).
pub fn run_file(path: &Path, opts: &RunOptions) -> Result<Vec<RunReport>, ScenarioError> {
    let scenario = load(path)?;
    // Every run is checked before any starts, so a bad sweep value fails fast.
    validate(&scenario).map_err(ScenarioError::Invalid)?;
    let variants = variants(&scenario).map_err(ScenarioError::Invalid)?;
    let chosen = variants.select(&opts.variant)?;
    let many = variants.len() > 1;
    chosen
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            if let Some(p) = &opts.progress {
                (p.run)(k, chosen.len());
            }
            run_variant(&variants.get(i), opts, many)
        })
        .collect()
}

/// Runs one variant of a scenario's sweeps: its report carries the variant's label and the
/// flags that choose it again, and when the scenario has several runs, its files are numbered
/// with the variant's number (run.simtrace -> run-2.simtrace), whichever runs were chosen.
pub fn run_variant(v: &Variant, opts: &RunOptions, many: bool) -> Result<RunReport, ScenarioError> {
    let mut o = opts.clone();
    if many {
        let number = |p: &Option<PathBuf>| p.as_ref().map(|p| numbered(p, v.number));
        o.trace = number(&opts.trace);
        o.history = number(&opts.history);
        o.export_trace = number(&opts.export_trace);
    }
    run_labelled(&v.scenario, &o, &v.label, &v.flags)
}

/// `dir/run.simtrace` with `n` → `dir/run-n.simtrace`.
pub fn numbered(path: &Path, n: usize) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    path.with_file_name(name)
}

/// Checks and runs a parsed scenario without sweeps. Safe to call from many threads at once.
pub fn run_scenario(scenario: &Scenario, opts: &RunOptions) -> Result<RunReport, ScenarioError> {
    run_labelled(scenario, opts, "", "")
}

/// [`run_scenario`] for a variant of a sweep: its `label` and the `flags` that choose it go
/// into the report (and the replay command and trace export it writes).
fn run_labelled(
    scenario: &Scenario,
    opts: &RunOptions,
    label: &str,
    flags: &str,
) -> Result<RunReport, ScenarioError> {
    if let Some(s) = scenario.sweeps.first() {
        return Err(ScenarioError::Invalid(vec![
            Diagnostic::at(
                &s.file,
                s.span,
                "this scenario sweeps; run its variants one by one",
            )
            .hint("`run_file` (and `sim run`) expand sweeps into runs"),
        ]));
    }
    // A `nemesis` draws its faults from the run's seed: the scenario that runs has its lines.
    let seed = opts.seed.or(scenario.seed.map(|s| s.0)).unwrap_or(0);
    let generated = crate::generate::expand(scenario, seed).map_err(ScenarioError::Invalid)?;
    let scenario = generated.as_ref().unwrap_or(scenario);
    let checked = check_scenario(scenario).map_err(ScenarioError::Invalid)?;
    let wired = wire(&checked, seed).map_err(ScenarioError::Invalid)?;
    ends(&wired, &checked, opts)?;
    let stop = StopAt {
        time: opts
            .until
            .or(checked.duration.map(|d| SimTime::from_nanos(d.as_nanos()))),
        events: opts.max_events,
    };
    let mut config = SimConfig::new(seed);
    if let Some(limit) = opts.max_pending {
        config.max_pending = limit;
    }
    config.record = opts.record || opts.export_trace.is_some();
    let run_err = |source| ScenarioError::Run {
        file: scenario.file.clone(),
        source,
    };
    let trace = match &opts.trace {
        Some(path) => Some(
            Trace::with_file(path, &checked.name, seed)
                .map_err(|e| run_err(SimError::TraceFile(e)))?,
        ),
        None => None,
    };
    let started = Instant::now();
    let mut history = None;
    let progress = opts.progress.clone();
    let world = wired.world;
    let mut result = match world.qnet {
        // A queueing network alone is its own model: the same run, without the world's
        // dispatch in the event loop (see `WorldConfig::is_lone_queueing_network`).
        Some(qnet) if world.is_lone_queueing_network() => {
            let model = QNet::new(qnet).map_err(|e| run_err(SimError::Setup(e.to_string())))?;
            simulate(model, config, trace, stop, progress)
                .map_err(run_err)?
                .0
        }
        _ => {
            let model = World::new(world).map_err(|e| run_err(SimError::Setup(e)))?;
            let (result, model) =
                simulate(model, config, trace, stop, progress).map_err(run_err)?;
            if opts.history.is_some() {
                history = model.raft().map(|r| r.history_text());
            }
            result
        }
    };
    let wall_time_s = started.elapsed().as_secs_f64();
    if let Some(path) = &opts.history {
        let text = history.as_deref().ok_or_else(|| {
            ScenarioError::Invalid(vec![
                Diagnostic::at(
                    &scenario.file,
                    crate::ast::Span::default(),
                    "this scenario's models record no client history",
                )
                .hint("--history works with scenarios that have a raft `load` block"),
            ])
        })?;
        write_atomically(path, text.as_bytes()).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    let checks = judge(scenario, &mut result)?;
    let report = RunReport {
        scenario: checked.name.clone(),
        file: scenario.file.clone(),
        variant: label.to_string(),
        seed,
        events: result.events,
        wall_time_s,
        checks,
        models: checked.models.iter().map(|m| m.name).collect(),
        blocks: checked
            .blocks
            .iter()
            .map(|b| (b.spec.kind, b.name.clone()))
            .collect(),
        result,
        replay_flags: format!("{flags}{}", replay_flags(opts)),
        trace_file: opts.trace.clone(),
    };
    if let Some(path) = &opts.export_trace {
        let json = crate::report::chrome_json(&report);
        reports::chrome::write_chrome_trace(path, &json).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(report)
}

/// The flags of `opts` that change a run, as they are written on a command line
/// (` --until 10s --max-events 5`), so a replay command reproduces the run exactly.
pub fn replay_flags(opts: &RunOptions) -> String {
    let mut flags = String::new();
    if let Some(t) = opts.until {
        flags.push_str(&format!(" --until {}", time_flag(t)));
    }
    if let Some(n) = opts.max_events {
        flags.push_str(&format!(" --max-events {n}"));
    }
    if let Some(n) = opts.max_pending {
        flags.push_str(&format!(" --max-pending {n}"));
    }
    flags
}

/// `t` as `--until` reads it back to the same instant: the exact unit form, else nanoseconds.
pub(crate) fn time_flag(t: SimTime) -> String {
    let text = t.to_string();
    if text.parse::<SimTime>() == Ok(t) {
        text
    } else {
        format!("{}ns", t.as_nanos())
    }
}

/// Runs one model to its end.
fn simulate<M: Model>(
    model: M,
    config: SimConfig,
    trace: Option<Trace>,
    stop: StopAt,
    progress: Option<ProgressHook>,
) -> Result<(RunResult, M), SimError> {
    let mut sim = Simulation::new(model, config);
    if let Some(t) = trace {
        sim = sim.with_trace(t);
    }
    if let Some(p) = progress {
        sim = sim.with_progress(Box::new(move |t, n| (p.time)(t, n)));
    }
    sim.run(stop)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: a reader never
/// sees half a file, and an old file survives a failed write. The temporary name is unique to
/// this process and call (`.NAME.PID.N.tmp`, created exclusively), so two writers never share
/// one, and it is removed when anything fails.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| std::io::Error::other("not a file path"))?;
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The run must end: a source that never stops, or a Raft cluster, needs a duration, `--until` or
/// `--max-events`. And the simulator must be able to run it: a `mount` runs a real program
/// (`native crashtest`).
pub(crate) fn ends(
    wired: &Wired,
    checked: &crate::check::Checked,
    opts: &RunOptions,
) -> Result<(), ScenarioError> {
    if let Some(b) = checked.blocks.iter().find(|b| b.spec.kind == "mount") {
        return Err(ScenarioError::Invalid(vec![
            Diagnostic::at(
                &b.file,
                b.span,
                format!(
                    "mount `{}` runs a real program on a FUSE mount, which the simulator cannot run",
                    b.name
                ),
            )
            .hint(format!("run it on this machine: native crashtest {}", checked.file)),
        ]));
    }
    let limited = checked.duration.is_some() || opts.until.is_some() || opts.max_events.is_some();
    match &wired.endless {
        Some(e) if !limited => Err(ScenarioError::Invalid(vec![
            Diagnostic::at(&e.file, e.span, e.message).hint(e.hint),
        ])),
        _ => Ok(()),
    }
}

/// Evaluates the scenario's metric expectations on a finished run and adds each that failed to
/// its violations, after those the models reported: what `sim run` judges a run by (also for
/// `native run --compare`'s simulated runs). Every expectation's outcome, in file order.
pub fn judge(
    scenario: &Scenario,
    result: &mut RunResult,
) -> Result<Vec<CheckOutcome>, ScenarioError> {
    let checks = evaluate(scenario, &result.metrics)?;
    for c in checks.iter().filter(|c| !c.held) {
        result.violations_total += 1;
        result.violations.push(Violation {
            check: c.check.clone(),
            time_ns: result.end_time.as_nanos(),
            detail: format!("actual {}", show(c.actual, c.is_duration)),
        });
    }
    Ok(checks)
}

fn evaluate(
    scenario: &Scenario,
    metrics: &MetricsSnapshot,
) -> Result<Vec<CheckOutcome>, ScenarioError> {
    let mut out = Vec::new();
    for e in &scenario.expects {
        let Check::Metric {
            stat,
            metric,
            op,
            bound,
        } = &e.check
        else {
            // Named properties and liveness are checked by the models that define them.
            continue;
        };
        let value = metrics.get(&metric.text);
        let Some(actual) = value.and_then(|m| m.stat(&stat.text)) else {
            let d = Diagnostic::at(
                &e.file,
                metric.span,
                format!("no value for {}({})", stat.text, metric.text),
            );
            return Err(ScenarioError::Invalid(vec![d]));
        };
        let (bound, is_duration) = match bound.kind {
            ValueKind::Duration(d) => (d.as_nanos() as f64, true),
            ValueKind::Integer(n) => (n as f64, false),
            ValueKind::Float(f) => (f, false),
            ValueKind::Percent(p) => (p / 100.0, false),
            _ => unreachable!("the checker accepts only numeric bounds"),
        };
        let is_duration =
            is_duration || value.is_some_and(|m| m.is_duration() && stat.text != "count");
        let text = e.text.trim_start_matches("expect ").to_string();
        out.push(CheckOutcome {
            check: text,
            held: op.holds(actual, bound),
            actual,
            bound,
            is_duration,
        });
    }
    Ok(out)
}

/// The stop reason as `--json` prints it.
pub fn stop_reason_name(r: StopReason) -> &'static str {
    match r {
        StopReason::Drained => "drained",
        StopReason::TimeLimit => "time_limit",
        StopReason::EventLimit => "event_limit",
        StopReason::ModelStopped => "model_stopped",
    }
}

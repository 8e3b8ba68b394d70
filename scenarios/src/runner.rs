//! Runs a checked scenario: wires its models into a `simcore::Simulation`, runs it, evaluates the
//! scenario's checks, and reports.
//!
//! The wall clock is read here, around the run, only to report speed; nothing inside the
//! simulation sees it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use models::queueing::QNet;
use serde::Serialize;
use simcore::trace::Trace;
use simcore::{
    MetricsSnapshot, RunResult, SimConfig, SimError, SimTime, Simulation, StopAt, StopReason,
    Violation,
};

use crate::ast::{Scenario, ValueKind};
use crate::build::{Built, build};
use crate::diag::{Diagnostic, did_you_mean};
use crate::parse::{MAX_SOURCE_BYTES, parse};
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
    pub seed: u64,
    pub events: u64,
    pub wall_time_s: f64,
    pub checks: Vec<CheckOutcome>,
    pub result: RunResult,
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
    /// The one command that replays this run exactly.
    pub fn replay_command(&self) -> String {
        format!("sim run {} --seed {}", self.file, self.seed)
    }
}

/// Reads and parses a scenario file (does not check its models).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let shown = path.display().to_string();
    let io = |source| ScenarioError::Io {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::other(
            "is a directory, not a scenario file",
        )));
    }
    if meta.len() > MAX_SOURCE_BYTES as u64 {
        return Err(io(std::io::Error::other(format!(
            "larger than {} MiB; not a scenario file",
            MAX_SOURCE_BYTES >> 20
        ))));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = upto.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        ScenarioError::Invalid(vec![Diagnostic {
            file: shown.clone(),
            line,
            col,
            message: "the file is not valid UTF-8".into(),
            hint: None,
        }])
    })?;
    parse(&shown, &text).map_err(ScenarioError::Invalid)
}

/// Loads, checks and runs the scenario at `path`.
pub fn run_file(path: &Path, opts: &RunOptions) -> Result<RunReport, ScenarioError> {
    let scenario = load(path)?;
    run_scenario(&scenario, opts)
}

/// Checks and runs a parsed scenario. Safe to call from many threads at once.
pub fn run_scenario(scenario: &Scenario, opts: &RunOptions) -> Result<RunReport, ScenarioError> {
    let built = build(scenario).map_err(ScenarioError::Invalid)?;
    check(scenario, &built, opts)?;
    let seed = opts.seed.or(scenario.seed).unwrap_or(0);
    let stop = StopAt {
        time: opts.until.or(scenario
            .duration
            .map(|(d, _)| SimTime::from_nanos(d.as_nanos()))),
        events: opts.max_events,
    };
    let mut config = SimConfig::new(seed);
    if let Some(limit) = opts.max_pending {
        config.max_pending = limit;
    }
    let run_err = |source| ScenarioError::Run {
        file: scenario.file.clone(),
        source,
    };
    let model = QNet::new(built.qnet).map_err(|e| run_err(SimError::Setup(e.to_string())))?;
    let mut sim = Simulation::new(model, config);
    if let Some(path) = &opts.trace {
        let trace = Trace::with_file(path, &scenario.name, seed)
            .map_err(|e| run_err(SimError::TraceFile(e)))?;
        sim = sim.with_trace(trace);
    }
    let started = Instant::now();
    let (mut result, _model) = sim.run(stop).map_err(run_err)?;
    let wall_time_s = started.elapsed().as_secs_f64();
    let checks = evaluate(scenario, &result.metrics)?;
    for c in checks.iter().filter(|c| !c.held) {
        result.violations_total += 1;
        result.violations.push(Violation {
            check: c.check.clone(),
            time_ns: result.end_time.as_nanos(),
            detail: format!("actual {}", show(c.actual, c.is_duration)),
        });
    }
    Ok(RunReport {
        scenario: scenario.name.clone(),
        file: scenario.file.clone(),
        seed,
        events: result.events,
        wall_time_s,
        checks,
        result,
    })
}

/// Checks that need the wired models: the run must end, and every checked metric must exist.
fn check(scenario: &Scenario, built: &Built, opts: &RunOptions) -> Result<(), ScenarioError> {
    let file = scenario.file.as_str();
    let mut errors = Vec::new();
    if let Some(span) = built.endless_source {
        if scenario.duration.is_none() && opts.until.is_none() && opts.max_events.is_none() {
            errors.push(
                Diagnostic::at(file, span, "this source never stops and the scenario has no duration, so the run would never end")
                    .hint("add `customers N` to the source or `duration 10s` to the scenario (or pass --until)"),
            );
        }
    }
    if !scenario.expects.is_empty() {
        let names = metric_names(built)?;
        for e in &scenario.expects {
            if names.get(&e.metric.text).is_none() {
                let hint = did_you_mean(&e.metric.text, names.0.keys().map(|k| k.as_str()))
                    .unwrap_or_else(|| {
                        "`sim run` lists the metrics this scenario produces".to_string()
                    });
                errors.push(
                    Diagnostic::at(
                        file,
                        e.metric.span,
                        format!("no model produces a metric `{}`", e.metric.text),
                    )
                    .hint(hint),
                );
            } else if names
                .get(&e.metric.text)
                .and_then(|m| m.stat(&e.stat.text))
                .is_none()
            {
                errors.push(Diagnostic::at(
                    file,
                    e.stat.span,
                    format!("`{}` has no statistic `{}`", e.metric.text, e.stat.text),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(errors))
    }
}

/// The metrics the models register, found by starting them and processing no event.
fn metric_names(built: &Built) -> Result<MetricsSnapshot, ScenarioError> {
    let model = QNet::new(built.qnet.clone()).map_err(|e| ScenarioError::Run {
        file: String::new(),
        source: SimError::Setup(e.to_string()),
    })?;
    let (r, _) = Simulation::new(model, SimConfig::new(0))
        .run(StopAt {
            events: Some(0),
            time: None,
        })
        .map_err(|source| ScenarioError::Run {
            file: String::new(),
            source,
        })?;
    Ok(r.metrics)
}

fn evaluate(
    scenario: &Scenario,
    metrics: &MetricsSnapshot,
) -> Result<Vec<CheckOutcome>, ScenarioError> {
    let mut out = Vec::new();
    for e in &scenario.expects {
        let metric = metrics.get(&e.metric.text);
        let actual = metric.and_then(|m| m.stat(&e.stat.text));
        let Some(actual) = actual else {
            let d = Diagnostic::at(
                &scenario.file,
                e.metric.span,
                format!("no value for {}({})", e.stat.text, e.metric.text),
            );
            return Err(ScenarioError::Invalid(vec![d]));
        };
        let (bound, is_duration) = match e.bound.kind {
            ValueKind::Duration(d) => (d.as_nanos() as f64, true),
            ValueKind::Integer(n) => (n as f64, false),
            ValueKind::Float(f) => (f, false),
            ValueKind::Percent(p) => (p / 100.0, false),
            _ => unreachable!("build() accepts only numeric bounds"),
        };
        let is_duration =
            is_duration || metric.is_some_and(|m| m.is_duration() && e.stat.text != "count");
        let text = e.text.trim_start_matches("expect ").to_string();
        out.push(CheckOutcome {
            check: text,
            held: e.op.holds(actual, bound),
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

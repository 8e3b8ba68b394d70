//! `sim run FILE --seeds A..B`: one run per seed from A to B inclusive (and per sweep variant),
//! in parallel, reported in seed order. The range's syntax and bounds, the batch runner, and the
//! table and JSON that `sim` prints; the binary adds only the flags and the progress bar.
//!
//! Runs go in chunks of [`CHUNK_RUNS`]: a chunk runs in parallel (rayon), is collected and sorted
//! by (seed, variant), and is handed to the caller before the next chunk starts. So the output is
//! in seed order whatever the thread count, the rows of a long range appear as it goes, and
//! memory stays bounded by one chunk (each run's metrics are dropped as soon as it ends) however
//! long the range. The wall clock is read here only around the whole batch, to report speed.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;
use std::time::Instant;

use rayon::prelude::*;
use reports::text::show;
use simcore::format_hash;

use std::collections::BTreeSet;

use simcore::{MetricValue, MetricsSnapshot};

use crate::ast::Scenario;
use crate::check::{check, metrics_of};
use crate::runner::{
    RunOptions, RunReport, ScenarioError, run_variant, stop_reason_name, validate,
};
use crate::sweep::{Variants, variants};
use crate::wire::wire;

/// The most runs (seeds times sweep variants) one command may ask for.
pub const MAX_RUNS: u64 = 100_000_000;

/// Passing runs get a row of the table only when the batch has at most this many runs; failing
/// runs always get one.
pub const PASSED_ROWS_MAX: u64 = 50;

/// The most replay commands printed after the table; the seeds of the rest are in the table.
pub const REPLAYS_MAX: usize = 100;

/// Runs per chunk: run in parallel, then sorted and printed before the next chunk starts.
pub const CHUNK_RUNS: usize = 4096;

/// The first-violation column is cut to this many characters.
const VIOLATION_CHARS_MAX: usize = 100;

/// The variant column is cut to this many characters.
const VARIANT_CHARS_MAX: usize = 40;

/// Seeds `first..last`, both included (like the scenario language's `n1..n5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

impl SeedRange {
    /// How many seeds; at least 1 and at most [`MAX_RUNS`] for a range that parsed.
    pub fn count(&self) -> u64 {
        assert!(self.first <= self.last, "{self} runs backwards");
        (self.last - self.first)
            .checked_add(1)
            .expect("a parsed range holds at most MAX_RUNS seeds")
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

/// Why a `--seeds` value is not a range. Each reads as one line with a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedRangeError {
    #[error("the range is empty; write A..B, such as 1..100 (both ends included)")]
    Empty,
    #[error(
        "`{0}` is not a range; write A..B, such as 1..100 (both ends included; for one seed use --seed)"
    )]
    NotARange(String),
    #[error("`{range}`: write {first}..{last}; the range includes both ends already")]
    Inclusive {
        range: String,
        first: String,
        last: String,
    },
    #[error("`{text}` in `{range}` is not a seed; seeds are whole numbers such as 1..100")]
    NotANumber { text: String, range: String },
    #[error("`{text}` in `{range}` is larger than the largest seed, {}", u64::MAX)]
    TooLarge { text: String, range: String },
    #[error("{first}..{last} runs backwards; write the smaller seed first ({last}..{first})")]
    Backwards { first: u64, last: u64 },
    #[error("{range} is {count} seeds; at most {MAX_RUNS} in one command (split the range)")]
    TooMany { range: String, count: u128 },
}

impl FromStr for SeedRange {
    type Err = SeedRangeError;

    /// `A..B` with whole numbers A <= B (underscores allowed between digits, as in scenarios:
    /// `1..1_000_000`), at most [`MAX_RUNS`] seeds.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let range = s.trim();
        if range.is_empty() {
            return Err(SeedRangeError::Empty);
        }
        let Some((a, b)) = range.split_once("..") else {
            return Err(SeedRangeError::NotARange(range.to_string()));
        };
        let end = |text: &str| -> Result<u64, SeedRangeError> {
            let digits_only = text.starts_with(|c: char| c.is_ascii_digit())
                && text.chars().all(|c| c.is_ascii_digit() || c == '_');
            if !digits_only {
                return Err(SeedRangeError::NotANumber {
                    text: text.to_string(),
                    range: range.to_string(),
                });
            }
            text.replace('_', "")
                .parse::<u64>()
                .map_err(|_| SeedRangeError::TooLarge {
                    text: text.to_string(),
                    range: range.to_string(),
                })
        };
        if let Some(b) = b.strip_prefix('=') {
            // Rust's inclusive range: the same range here.
            return Err(SeedRangeError::Inclusive {
                range: range.to_string(),
                first: a.to_string(),
                last: b.to_string(),
            });
        }
        let (first, last) = (end(a)?, end(b)?);
        if first > last {
            return Err(SeedRangeError::Backwards { first, last });
        }
        let count = u128::from(last - first) + 1;
        if count > u128::from(MAX_RUNS) {
            return Err(SeedRangeError::TooMany {
                range: range.to_string(),
                count,
            });
        }
        Ok(SeedRange { first, last })
    }
}

/// Why a batch cannot start. Each reads as one line (a scenario's problems, one line each).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(
        "--seeds {seeds} with {variants} sweep variants makes {runs} runs; at most {MAX_RUNS} in one command (split the range)"
    )]
    TooManyRuns {
        seeds: SeedRange,
        variants: usize,
        runs: u128,
    },
    #[error("{0}")]
    Metrics(String),
}

/// One run of a batch: its seed, its variant (an index into the batch's chosen variants,
/// [`Batch::variant_label`]), and what it gave. The report has no metrics (they are dropped when
/// the run ends, to bound memory); `metrics` holds the summaries of those `--metrics` asked for
/// (empty without it). An error (the run could not go on) is kept as its message.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seed: u64,
    pub variant: usize,
    pub report: Result<RunReport, String>,
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

impl Outcome {
    /// Every check held and the run went to its end.
    pub fn ok(&self) -> bool {
        self.report.as_ref().is_ok_and(|r| r.ok())
    }
}

/// Runs, passes and failures of a batch, and how long it took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub runs: u64,
    pub passed: u64,
    pub failed: u64,
    pub wall_time_s: f64,
}

/// `--metrics`: the metrics whose summaries each run of a batch reports. Each is a metric's
/// name (`cluster.election_time`), or a prefix ending in `*` (`client.*`); `all` is every
/// metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricPick {
    names: Vec<String>,
    prefixes: Vec<String>,
}

impl MetricPick {
    /// Reads a comma-separated list, refusing names no run of the scenario can have: `known`
    /// is the metrics its models declare (a declared name followed by `_` and more, such as
    /// `machine.utilisation_cpu0`, is a declared metric's per-instance part).
    pub fn parse(spec: &str, known: &BTreeSet<String>) -> Result<Self, String> {
        let mut pick = MetricPick {
            names: Vec::new(),
            prefixes: Vec::new(),
        };
        for item in spec.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(format!(
                    "--metrics {spec}: an empty name; write names separated by commas, such as {}",
                    example(known)
                ));
            }
            if item == "all" || item == "*" {
                pick.prefixes.push(String::new());
            } else if let Some(prefix) = item.strip_suffix('*') {
                if !known.iter().any(|k| k.starts_with(prefix)) {
                    return Err(format!(
                        "--metrics {spec}: no metric of this scenario starts with `{prefix}`; it has {}",
                        list(known)
                    ));
                }
                pick.prefixes.push(prefix.to_string());
            } else {
                let per_instance = |k: &String| {
                    item.strip_prefix(k.as_str())
                        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('_'))
                };
                if !known.contains(item) && !known.iter().any(per_instance) {
                    let hint = crate::diag::did_you_mean(item, known.iter().map(String::as_str))
                        .map_or(String::new(), |h| format!(" ({h})"));
                    return Err(format!(
                        "--metrics {spec}: this scenario has no metric `{item}`{hint}; it has {}",
                        list(known)
                    ));
                }
                pick.names.push(item.to_string());
            }
        }
        Ok(pick)
    }

    fn wants(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name) || self.prefixes.iter().any(|p| name.starts_with(p))
    }

    /// The summaries of the metrics picked from `metrics`, by name.
    pub fn summaries(
        &self,
        metrics: &MetricsSnapshot,
    ) -> serde_json::Map<String, serde_json::Value> {
        metrics
            .0
            .iter()
            .filter(|(name, _)| self.wants(name))
            .map(|(name, m)| (name.clone(), summary(m)))
            .collect()
    }
}

fn list(known: &BTreeSet<String>) -> String {
    known.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn example(known: &BTreeSet<String>) -> String {
    known.iter().take(2).cloned().collect::<Vec<_>>().join(",")
}

/// A metric's summary, bounded whatever the run's length: a counter's value, a gauge's last,
/// time-weighted mean, min and max, a histogram's count, mean, min, quantiles and max (as
/// `sim run --json` prints them), a curve's points (which its model sets once, at most
/// `simcore::metrics::CURVE_LIMIT` of them); a series' count, last, min and max instead of its
/// points.
pub fn summary(m: &MetricValue) -> serde_json::Value {
    match m {
        MetricValue::Series { offered, points } => serde_json::json!({
            "kind": "series",
            "count": offered,
            "last": points.last().map(|p| p.1),
            "min": m.stat("min"),
            "max": m.stat("max"),
        }),
        other => serde_json::to_value(other).unwrap_or(serde_json::Value::Null),
    }
}

/// A scenario, loaded and validated once, to run for every seed of a range and every chosen
/// variant of its sweeps.
#[derive(Debug)]
pub struct Batch {
    /// What the outputs say about the batch (also what `sim merge` reads back).
    info: Info,
    variants: Variants,
    /// The variants `--variant` chose (indices into `variants`; all without it).
    chosen: Vec<usize>,
    opts: RunOptions,
    metrics: Option<MetricPick>,
}

/// What a batch's outputs say about it: the scenario, the range, the chosen variants' labels
/// and replay flags, and which shard of the runs this is. A [`Batch`] has one, and `sim merge`
/// rebuilds one from the parts' JSON, so both print through the same [`Table`] and [`Json`].
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub file: String,
    pub name: String,
    pub seeds: SeedRange,
    /// Each chosen variant's swept values (`server.servers=2`; one empty label without sweeps).
    pub labels: Vec<String>,
    /// Each chosen variant's `--variant` flags for a replay.
    pub variant_flags: Vec<String>,
    /// The flags after `--seed N` and the variant's that make a replay the same run:
    /// `--until`, `--max-events`, `--max-pending`.
    pub replay_flags: String,
    /// The scenario sweeps, so each run has a variant.
    pub swept: bool,
    /// The part of the runs this batch runs (`--shard K/N`); `None`: all of them.
    pub shard: Option<Shard>,
}

impl Info {
    /// Runs in the whole batch: seeds times chosen variants (every shard's together).
    pub fn total_runs(&self) -> u64 {
        self.seeds.count() * self.labels.len() as u64
    }

    /// Runs in this shard (all of them without one).
    pub fn runs(&self) -> u64 {
        match self.shard {
            Some(s) => s.len(self.total_runs()),
            None => self.total_runs(),
        }
    }

    /// The command that replays the run of `seed` and chosen variant `variant` exactly:
    /// `sim run FILE --seed N`, the variant's `--variant` flags, and the flags that changed the
    /// run.
    pub fn replay(&self, seed: u64, variant: usize) -> String {
        let flags = format!("{}{}", self.variant_flags[variant], self.replay_flags);
        crate::runner::replay_command(&self.file, seed, &flags)
    }

    /// The seed and variant of run `index` of the whole batch: seeds vary slowest, so a seed's
    /// variants are neighbours.
    pub fn run_at(&self, index: u64) -> (u64, usize) {
        let per_seed = self.labels.len() as u64;
        (
            self.seeds.first + index / per_seed,
            (index % per_seed) as usize,
        )
    }
}

/// `--shard K/N`: the K-th of N disjoint parts of a batch's runs, K from 1. Run `i` of the
/// whole batch (in (seed, variant) order) is in part `i mod N + 1`, so every part gets seeds from
/// all along the range (slow stretches of seeds are shared out) and the parts together are the
/// batch, each run once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    /// How many of `total` runs are in this part.
    pub fn len(&self, total: u64) -> u64 {
        if total < self.k {
            0
        } else {
            (total - self.k) / self.n + 1
        }
    }

    /// The index in the whole batch of this part's `j`-th run.
    pub fn index(&self, j: u64) -> u64 {
        self.k - 1 + j * self.n
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!("`{s}` is not a shard: write K/N, the K-th of N parts (1 <= K <= N), e.g. 3/8")
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        if n > MAX_RUNS {
            return Err(format!(
                "`{s}`: at most {MAX_RUNS} shards (one run each at the most)"
            ));
        }
        Ok(Shard { k, n })
    }
}

impl Batch {
    /// Validates `scenario` (every variant, as `sim run` does) for a run of every seed in
    /// `seeds` and every variant `opts.variant` chooses, with `opts` for everything but the
    /// seed. `opts` must not set a seed or a trace file (the caller refuses those flags).
    pub fn new(
        scenario: &Scenario,
        seeds: SeedRange,
        opts: &RunOptions,
    ) -> Result<Self, BatchError> {
        assert!(opts.seed.is_none(), "a batch sets the seed of each run");
        assert!(opts.trace.is_none(), "a batch writes no trace files");
        validate(scenario).map_err(ScenarioError::Invalid)?;
        let variants = variants(scenario).map_err(ScenarioError::Invalid)?;
        let chosen = variants
            .select(&opts.variant)
            .map_err(ScenarioError::from)?;
        let runs = u128::from(seeds.count()) * chosen.len() as u128;
        if runs > u128::from(MAX_RUNS) {
            return Err(BatchError::TooManyRuns {
                seeds,
                variants: chosen.len(),
                runs,
            });
        }
        let (mut labels, mut variant_flags) = (Vec::new(), Vec::new());
        for &i in &chosen {
            let v = variants.get(i);
            ends(&v.scenario, seeds.first, opts)?;
            labels.push(v.label);
            variant_flags.push(v.flags);
        }
        let replay_flags = crate::runner::replay_flags(opts);
        Ok(Batch {
            info: Info {
                file: scenario.file.clone(),
                name: scenario.name.clone().unwrap_or_default(),
                seeds,
                labels,
                variant_flags,
                replay_flags,
                swept: variants.swept(),
                shard: None,
            },
            variants,
            chosen,
            opts: opts.clone(),
            metrics: None,
        })
    }

    /// Runs only the part `shard` names (`--shard K/N`).
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.info.shard = Some(shard);
        self
    }

    /// What the outputs say about this batch.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// Each run also reports the summaries of the metrics `spec` names (`--metrics`, read by
    /// [`MetricPick::parse`] against the metrics the chosen variants declare).
    pub fn with_metrics(mut self, spec: &str) -> Result<Self, BatchError> {
        let mut known = BTreeSet::new();
        for &i in &self.chosen {
            let checked = check(&self.variants.get(i).scenario).map_err(ScenarioError::Invalid)?;
            known.extend(metrics_of(&checked.blocks, &checked.models).into_keys());
        }
        self.metrics = Some(MetricPick::parse(spec, &known).map_err(BatchError::Metrics)?);
        Ok(self)
    }

    /// How many runs this batch runs: seeds times chosen variants, or its shard's share.
    pub fn runs(&self) -> u64 {
        self.info.runs()
    }

    pub fn seeds(&self) -> SeedRange {
        self.info.seeds
    }

    /// The swept values of chosen variant `i` (`server.servers=2`), empty without sweeps.
    pub fn variant_label(&self, i: usize) -> &str {
        &self.info.labels[i]
    }

    /// The scenario sweeps, so each run has a variant.
    pub fn swept(&self) -> bool {
        self.info.swept
    }

    /// The command that replays the run of `seed` and chosen variant `variant` exactly.
    pub fn replay(&self, seed: u64, variant: usize) -> String {
        self.info.replay(seed, variant)
    }

    /// Runs every (seed, variant) pair on rayon's pool, chunk by chunk. `on_done` sees each run
    /// as it ends, in any order and from any thread (for progress); `sink` gets each chunk in
    /// (seed, variant) order, chunks in order. Stops at the first error of `sink`.
    pub fn run<E>(
        &self,
        on_done: impl Fn(&Outcome) + Sync,
        mut sink: impl FnMut(&[Outcome]) -> Result<(), E>,
    ) -> Result<Totals, E> {
        let started = Instant::now();
        let total = self.runs();
        let mut totals = Totals::default();
        let mut start = 0u64;
        while start < total {
            let len = (total - start).min(CHUNK_RUNS as u64) as usize;
            let mut chunk: Vec<Outcome> = (0..len)
                .into_par_iter()
                .map(|k| {
                    let j = start + k as u64;
                    let o = self.run_one(self.info.shard.map_or(j, |s| s.index(j)));
                    on_done(&o);
                    o
                })
                .collect();
            chunk.sort_by_key(|o| (o.seed, o.variant));
            let passed = chunk.iter().filter(|o| o.ok()).count() as u64;
            totals.runs += len as u64;
            totals.passed += passed;
            totals.failed += len as u64 - passed;
            sink(&chunk)?;
            start += len as u64;
        }
        assert_eq!(totals.runs, total);
        totals.wall_time_s = started.elapsed().as_secs_f64();
        Ok(totals)
    }

    /// Run `index` of the whole batch.
    fn run_one(&self, index: u64) -> Outcome {
        let (seed, variant) = self.info.run_at(index);
        assert!(
            seed <= self.info.seeds.last,
            "run {index} is past the range"
        );
        let v = self.variants.get(self.chosen[variant]);
        let opts = RunOptions {
            seed: Some(seed),
            ..self.opts.clone()
        };
        let mut metrics = serde_json::Map::new();
        let report = run_variant(&v, &opts, self.variants.len() > 1)
            .map(|mut r| {
                let all = std::mem::take(&mut r.result.metrics);
                if let Some(pick) = &self.metrics {
                    metrics = pick.summaries(&all);
                }
                r
            })
            .map_err(|e| e.to_string());
        Outcome {
            seed,
            variant,
            report,
            metrics,
        }
    }
}

/// The run must end; `runner::run_scenario` refuses each run of a scenario that would never end,
/// and the same refusal up front saves a row of errors per seed.
fn ends(scenario: &Scenario, seed: u64, opts: &RunOptions) -> Result<(), ScenarioError> {
    let checked = check(scenario).map_err(ScenarioError::Invalid)?;
    let wired = wire(&checked, seed).map_err(ScenarioError::Invalid)?;
    crate::runner::ends(&wired, &checked, opts)
}

/// At most `max` characters of `text` on one line (control characters as spaces), with `…`
/// where it was cut.
fn clip(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The first-violation column: `check: detail`, and how many more, of a run's first violation
/// and its count; for a run that could not go on, its error.
fn first_problem(error: Option<&str>, first: Option<(&str, &str)>, total: u64) -> String {
    if let Some(e) = error {
        return clip(&format!("error: {e}"), VIOLATION_CHARS_MAX);
    }
    match first {
        None => String::new(),
        Some((check, detail)) => {
            let first = clip(&format!("{check}: {detail}"), VIOLATION_CHARS_MAX);
            match total {
                0 | 1 => first,
                n => format!("{first} (+{} more)", n - 1),
            }
        }
    }
}

/// One run as the outputs show it: from an [`Outcome`] as it ends, or read back from a part's
/// JSON by `sim merge`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub seed: u64,
    /// An index into the batch's chosen variants.
    pub variant: usize,
    pub ok: bool,
    pub events: Option<u64>,
    pub sim_time_ns: Option<u64>,
    /// 16 hex digits.
    pub trace_hash: Option<String>,
    /// The first-violation column.
    pub problem: String,
    pub replay: String,
}

impl Row {
    pub fn of(info: &Info, o: &Outcome) -> Row {
        let (events, sim_time_ns, trace_hash, problem) = match &o.report {
            Ok(r) => {
                let first = r.violations().first();
                (
                    Some(r.events),
                    Some(r.result.end_time.as_nanos()),
                    Some(format_hash(r.result.trace_hash)),
                    first_problem(
                        None,
                        first.map(|v| (v.check.as_str(), v.detail.as_str())),
                        r.result.violations_total,
                    ),
                )
            }
            Err(e) => (None, None, None, first_problem(Some(e), None, 0)),
        };
        Row {
            seed: o.seed,
            variant: o.variant,
            ok: o.ok(),
            events,
            sim_time_ns,
            trace_hash,
            problem,
            replay: info.replay(o.seed, o.variant),
        }
    }

    /// A run object of the `--json` output ([`Json`]), its variant found among `info`'s.
    pub fn from_json(info: &Info, v: &serde_json::Value) -> Result<Row, String> {
        let field = |name: &str| v.get(name).ok_or_else(|| format!("a run has no `{name}`"));
        let seed = field("seed")?
            .as_u64()
            .ok_or("a run's `seed` is not a whole number")?;
        let label = field("variant")?
            .as_str()
            .ok_or("a run's `variant` is not text")?;
        let variant = if info.swept {
            info.labels.iter().position(|l| l == label).ok_or_else(|| {
                format!("run of seed {seed}: variant `{label}` is not one of the part's")
            })?
        } else {
            0
        };
        let violations = field("violations")?
            .as_array()
            .ok_or("`violations` is not a list")?;
        let first = violations
            .first()
            .and_then(|x| Some((x.get("check")?.as_str()?, x.get("detail")?.as_str()?)));
        Ok(Row {
            seed,
            variant,
            ok: field("ok")?
                .as_bool()
                .ok_or("a run's `ok` is not true or false")?,
            events: field("events")?.as_u64(),
            sim_time_ns: field("sim_time_ns")?.as_u64(),
            trace_hash: field("trace_hash")?.as_str().map(str::to_string),
            problem: first_problem(
                field("error")?.as_str(),
                first,
                field("violations_total")?.as_u64().unwrap_or(0),
            ),
            replay: field("replay")?
                .as_str()
                .ok_or("a run's `replay` is not text")?
                .to_string(),
        })
    }
}

/// The human output: a header, a row per run (failing runs always, passing runs only in a batch
/// of at most [`PASSED_ROWS_MAX`] runs), then [`Table::finish`] with the summary and a replay
/// command per failing run.
#[derive(Debug)]
pub struct Table {
    info: Info,
    show_passed: bool,
    seed_width: usize,
    variant_width: usize,
    passed_hidden: u64,
    replays: Vec<String>,
    replays_dropped: u64,
}

impl Table {
    pub fn new(batch: &Batch) -> Self {
        Table::of(batch.info().clone())
    }

    /// The table of the batch `info` describes. Whether passing runs get rows depends on the
    /// whole batch, not a shard of it, so a shard's rows are the merged table's.
    pub fn of(info: Info) -> Self {
        let seed_width = info.seeds.last.to_string().len().max("seed".len());
        let variant_width = if info.swept {
            info.labels
                .iter()
                .map(|l| l.chars().count().min(VARIANT_CHARS_MAX))
                .max()
                .unwrap_or(0)
                .max("variant".len())
        } else {
            0
        };
        Table {
            show_passed: info.total_runs() <= PASSED_ROWS_MAX,
            info,
            seed_width,
            variant_width,
            passed_hidden: 0,
            replays: Vec::new(),
            replays_dropped: 0,
        }
    }

    /// The scenario, the range, the shard, and the column titles.
    pub fn header(&self, out: &mut impl Write) -> io::Result<()> {
        let b = &self.info;
        writeln!(out, "scenario   {} ({})", b.name, b.file)?;
        let seeds = b.seeds.count();
        let plural = |n: u64, one: &str, many: &str| {
            if n == 1 {
                one.to_string()
            } else {
                many.to_string()
            }
        };
        let variants = b.labels.len() as u64;
        let runs = if b.swept {
            format!(
                "{seeds} {} x {variants} {} = {} runs",
                plural(seeds, "seed", "seeds"),
                plural(variants, "variant", "variants"),
                b.total_runs()
            )
        } else {
            format!("{seeds} {}", plural(seeds, "run", "runs"))
        };
        writeln!(out, "seeds      {} (both ends included: {runs})", b.seeds)?;
        if let Some(shard) = b.shard {
            writeln!(
                out,
                "shard      {} of {}: {} of the {} runs (every {}th from run {}; `sim merge` joins the parts)",
                shard.k,
                shard.n,
                b.runs(),
                b.total_runs(),
                shard.n,
                shard.k
            )?;
        }
        self.row(
            out,
            "seed",
            "variant",
            "result",
            "events",
            "sim time",
            "trace hash",
            "first violation",
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        out: &mut impl Write,
        seed: &str,
        variant: &str,
        result: &str,
        events: &str,
        time: &str,
        hash: &str,
        problem: &str,
    ) -> io::Result<()> {
        let mut line = format!("{seed:>w$}  ", w = self.seed_width);
        if self.variant_width > 0 {
            line.push_str(&format!(
                "{:<w$}  ",
                clip(variant, VARIANT_CHARS_MAX),
                w = self.variant_width
            ));
        }
        line.push_str(&format!(
            "{result:<6}  {events:>12}  {time:>10}  {hash:<16}  {problem}"
        ));
        writeln!(out, "{}", line.trim_end())
    }

    /// The rows of one chunk, in the order given (the batch gives them in seed order).
    pub fn rows(&mut self, out: &mut impl Write, chunk: &[Outcome]) -> io::Result<()> {
        let rows: Vec<Row> = chunk.iter().map(|o| Row::of(&self.info, o)).collect();
        self.rows_of(out, &rows)
    }

    /// Rows, in the order given.
    pub fn rows_of(&mut self, out: &mut impl Write, rows: &[Row]) -> io::Result<()> {
        for r in rows {
            if !r.ok {
                if self.replays.len() < REPLAYS_MAX {
                    self.replays.push(r.replay.clone());
                } else {
                    self.replays_dropped += 1;
                }
            } else if !self.show_passed {
                self.passed_hidden += 1;
                continue;
            }
            let dash = || "-".to_string();
            self.row(
                out,
                &r.seed.to_string(),
                &self.info.labels[r.variant],
                if r.ok { "ok" } else { "FAIL" },
                &r.events.map_or_else(dash, |e| e.to_string()),
                &r.sim_time_ns.map_or_else(dash, |t| show(t as f64, true)),
                r.trace_hash.as_deref().unwrap_or("-"),
                &r.problem,
            )?;
        }
        Ok(())
    }

    /// What was left out, the summary, and the replay commands.
    pub fn finish(&self, out: &mut impl Write, totals: &Totals) -> io::Result<()> {
        let b = &self.info;
        if self.passed_hidden > 0 {
            writeln!(
                out,
                "({} passing rows not shown: a batch over {PASSED_ROWS_MAX} runs lists only failing runs; --json lists every run)",
                self.passed_hidden
            )?;
        }
        writeln!(
            out,
            "runs       {}: {} passed, {} failed",
            totals.runs, totals.passed, totals.failed
        )?;
        let wall = totals.wall_time_s.max(1e-9);
        let seeds_per_s = totals.runs as f64 / b.labels.len() as f64 / wall;
        let mut speed = format!(
            "{seeds_per_s:.1} seeds/s, {:.0} seeds/h",
            seeds_per_s * 3600.0
        );
        if b.swept {
            speed.push_str(&format!(", {:.1} runs/s", totals.runs as f64 / wall));
        }
        writeln!(out, "{WALL_TIME}{:.3}s  ({speed})", totals.wall_time_s)?;
        if totals.failed == 0 {
            writeln!(out, "result     ok: every check held in every run")?;
            return Ok(());
        }
        writeln!(
            out,
            "result     FAILED: {} of {} runs",
            totals.failed, totals.runs
        )?;
        writeln!(out, "replay")?;
        for cmd in &self.replays {
            writeln!(out, "  {cmd}")?;
        }
        if self.replays_dropped > 0 {
            writeln!(
                out,
                "  ... and {} more failing runs (their seeds are in the table)",
                self.replays_dropped
            )?;
        }
        Ok(())
    }
}

/// How the table's one line of measured time starts: the only line that differs between runs of
/// the same batch (and between a merged batch and the same batch run on one machine).
pub const WALL_TIME: &str = "wall time  ";

/// The `--json` output: one object on one line, `{"scenario", "file", "seeds": {"first",
/// "last"}, "variants" (the labels of the sweep's chosen variants, empty without one), "shard"
/// (`{"k", "n"}`, only for a shard), "runs": [...], "summary": {...}}`. Each run has the fields
/// of `sim run --json` but `metrics` (with `--metrics`, `metrics` holds the summaries asked for),
/// plus `ok` and `error`; `replay` carries the flags that chose and changed the run. Written as
/// the runs come, so a long range never sits in memory. Measured time is in the fields
/// [`WALL_TIME_FIELDS`] name, and nowhere else.
#[derive(Debug)]
pub struct Json {
    info: Info,
    /// `--metrics`: each run has `metrics`.
    metrics: bool,
    written: u64,
}

/// The fields of the JSON output that hold measured time (in each run, and in the summary).
pub const WALL_TIME_FIELDS: [&str; 5] = [
    "wall_time_s",
    "speedup",
    "seeds_per_s",
    "seeds_per_h",
    "runs_per_s",
];

impl Json {
    pub fn new(batch: &Batch) -> Self {
        Json {
            info: batch.info().clone(),
            metrics: batch.metrics.is_some(),
            written: 0,
        }
    }

    /// The JSON of the batch `info` describes, for runs already written as JSON (`sim merge`).
    pub fn of(info: Info) -> Self {
        Json {
            info,
            metrics: false,
            written: 0,
        }
    }

    pub fn header(&self, out: &mut impl Write) -> io::Result<()> {
        let b = &self.info;
        write!(
            out,
            "{{\"scenario\":{},\"file\":{},\"seeds\":{},\"variants\":{},",
            serde_json::json!(b.name),
            serde_json::json!(b.file),
            serde_json::json!({"first": b.seeds.first, "last": b.seeds.last}),
            serde_json::json!(if b.swept { &b.labels[..] } else { &[] }),
        )?;
        if let Some(shard) = b.shard {
            write!(
                out,
                "\"shard\":{},",
                serde_json::json!({"k": shard.k, "n": shard.n})
            )?;
        }
        write!(out, "\"runs\":[")
    }

    pub fn rows(&mut self, out: &mut impl Write, chunk: &[Outcome]) -> io::Result<()> {
        for o in chunk {
            let run = self.run(o).to_string();
            self.raw(out, &run)?;
        }
        Ok(())
    }

    /// One run, already written as JSON.
    pub fn raw(&mut self, out: &mut impl Write, run: &str) -> io::Result<()> {
        if self.written > 0 {
            out.write_all(b",")?;
        }
        out.write_all(run.as_bytes())?;
        self.written += 1;
        Ok(())
    }

    /// One run's object.
    pub fn run(&self, o: &Outcome) -> serde_json::Value {
        let b = &self.info;
        let mut value = match &o.report {
            Ok(r) => serde_json::json!({
                "scenario": r.scenario,
                "file": r.file,
                "variant": r.variant,
                "seed": r.seed,
                "ok": r.ok(),
                "error": null,
                "events": r.events,
                "sim_time_ns": r.result.end_time.as_nanos(),
                "wall_time_s": r.wall_time_s,
                "speedup": if r.speedup().is_finite() { serde_json::json!(r.speedup()) } else { serde_json::Value::Null },
                "stop_reason": stop_reason_name(r.result.stop_reason),
                "trace_hash": format_hash(r.result.trace_hash),
                "checks": r.checks,
                "violations": r.result.violations,
                "violations_total": r.result.violations_total,
                "replay": b.replay(o.seed, o.variant),
            }),
            Err(e) => serde_json::json!({
                "scenario": b.name,
                "file": b.file,
                "variant": b.labels[o.variant],
                "seed": o.seed,
                "ok": false,
                "error": e,
                "events": null,
                "sim_time_ns": null,
                "wall_time_s": null,
                "speedup": null,
                "stop_reason": null,
                "trace_hash": null,
                "checks": [],
                "violations": [],
                "violations_total": 0,
                "replay": b.replay(o.seed, o.variant),
            }),
        };
        if let (true, Some(fields)) = (self.metrics, value.as_object_mut()) {
            let metrics = match &o.report {
                Ok(_) => serde_json::Value::Object(o.metrics.clone()),
                Err(_) => serde_json::Value::Null,
            };
            fields.insert("metrics".into(), metrics);
        }
        value
    }

    pub fn finish(&self, out: &mut impl Write, totals: &Totals) -> io::Result<()> {
        let b = &self.info;
        let wall = totals.wall_time_s.max(1e-9);
        let seeds_per_s = totals.runs as f64 / b.labels.len() as f64 / wall;
        let summary = serde_json::json!({
            "runs": totals.runs,
            "passed": totals.passed,
            "failed": totals.failed,
            "wall_time_s": totals.wall_time_s,
            "seeds_per_s": seeds_per_s,
            "seeds_per_h": seeds_per_s * 3600.0,
            "runs_per_s": totals.runs as f64 / wall,
        });
        writeln!(out, "],\"summary\":{summary}}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{run_scenario, time_flag};
    use simcore::SimTime;

    fn range(s: &str) -> Result<SeedRange, SeedRangeError> {
        s.parse()
    }

    #[test]
    fn a_range_includes_both_ends() {
        assert_eq!(range("1..8"), Ok(SeedRange { first: 1, last: 8 }));
        assert_eq!(range("1..8").unwrap().count(), 8);
        assert_eq!(range("7..7").unwrap().count(), 1);
        assert_eq!(range("0..0").unwrap().count(), 1);
        assert_eq!(range(" 3..5 ").unwrap(), SeedRange { first: 3, last: 5 });
        assert_eq!(range("1..1_000").unwrap().count(), 1000);
        let top = format!("{}..{}", u64::MAX - 9, u64::MAX);
        assert_eq!(range(&top).unwrap().count(), 10);
        assert_eq!(range("1..8").unwrap().to_string(), "1..8");
    }

    #[test]
    fn malformed_ranges_say_what_is_wrong() {
        assert_eq!(range(""), Err(SeedRangeError::Empty));
        assert_eq!(range("  "), Err(SeedRangeError::Empty));
        assert_eq!(range("3"), Err(SeedRangeError::NotARange("3".into())));
        assert_eq!(
            range("5..2"),
            Err(SeedRangeError::Backwards { first: 5, last: 2 })
        );
        for bad in [
            "a..b", "1..", "..5", "-1..5", "1...5", "1.5..2", "_1..2", "1..0x10",
        ] {
            assert!(
                matches!(range(bad), Err(SeedRangeError::NotANumber { .. })),
                "{bad}: {:?}",
                range(bad)
            );
        }
        assert!(matches!(
            range("1..18446744073709551616"),
            Err(SeedRangeError::TooLarge { .. })
        ));
        assert!(matches!(
            range(&format!("0..{}", u64::MAX)),
            Err(SeedRangeError::TooMany { count, .. }) if count == 1u128 << 64
        ));
        assert!(range(&format!("1..{MAX_RUNS}")).is_ok());
        assert!(matches!(
            range(&format!("0..{MAX_RUNS}")),
            Err(SeedRangeError::TooMany { .. })
        ));
        assert!(matches!(
            range("1..=5"),
            Err(SeedRangeError::Inclusive { .. })
        ));
        assert!(
            range("1..=5")
                .unwrap_err()
                .to_string()
                .contains("write 1..5")
        );
        let text = range("5..2").unwrap_err().to_string();
        assert!(text.contains("2..5"), "{text}");
    }

    #[test]
    fn clipping_keeps_one_line_and_whole_characters() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("a\nb", 10), "a b");
        assert_eq!(clip("abcdefghij", 5), "abcd…");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("ééé", 3), "ééé");
    }

    #[test]
    fn until_is_written_so_that_it_reads_back() {
        for ns in [
            1,
            999,
            1_500_000_000,
            10_000_000_000,
            3_600_000_000_000,
            123_456_789_012,
        ] {
            let t = SimTime::from_nanos(ns);
            assert_eq!(time_flag(t).parse::<SimTime>(), Ok(t), "{ns}");
        }
        assert_eq!(time_flag(SimTime::from_nanos(10_000_000_000)), "10s");
    }

    const FLAKY: &str = r#"scenario "flaky" {
  source a { rate 0.9/s  customers 200  to s }
  station s { servers 1  service exp(1s) }
  expect mean(s.wait) < 5s
}
"#;

    fn batch(text: &str, seeds: &str, opts: &RunOptions) -> Result<Batch, BatchError> {
        let scenario = crate::parse::parse("flaky.scn", text).unwrap();
        Batch::new(&scenario, seeds.parse().unwrap(), opts)
    }

    fn run_all(b: &Batch) -> (Vec<Outcome>, Totals) {
        let mut all = Vec::new();
        let totals = b
            .run(
                |_| {},
                |chunk| {
                    all.extend_from_slice(chunk);
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
        (all, totals)
    }

    #[test]
    fn every_seed_runs_once_in_order_and_matches_a_single_run() {
        let b = batch(FLAKY, "10..29", &RunOptions::default()).unwrap();
        let (all, totals) = run_all(&b);
        assert_eq!(all.len(), 20);
        assert_eq!(
            all.iter().map(|o| o.seed).collect::<Vec<_>>(),
            (10..=29).collect::<Vec<_>>()
        );
        assert_eq!(totals.runs, 20);
        assert_eq!(totals.passed + totals.failed, 20);
        assert_eq!(totals.passed, all.iter().filter(|o| o.ok()).count() as u64);
        // A bound near the mean: some seeds pass and some fail (the test's premise).
        assert!(totals.passed > 0 && totals.failed > 0, "{totals:?}");
        let scenario = crate::parse::parse("flaky.scn", FLAKY).unwrap();
        for o in &all {
            let one = run_scenario(
                &scenario,
                &RunOptions {
                    seed: Some(o.seed),
                    ..RunOptions::default()
                },
            )
            .unwrap();
            let r = o.report.as_ref().unwrap();
            assert_eq!(
                r.result.trace_hash, one.result.trace_hash,
                "seed {}",
                o.seed
            );
            assert_eq!(
                r.result.violations, one.result.violations,
                "seed {}",
                o.seed
            );
            assert_eq!(b.replay(o.seed, o.variant), one.replay_command());
            assert!(r.result.metrics.0.is_empty(), "metrics are dropped");
        }
    }

    #[test]
    fn a_sweep_runs_every_variant_for_every_seed() {
        let swept = FLAKY.replace("expect", "sweep s.servers in [1, 2]\n  expect");
        let b = batch(&swept, "1..3", &RunOptions::default()).unwrap();
        assert!(b.swept());
        assert_eq!(b.runs(), 6);
        let (all, _) = run_all(&b);
        let order: Vec<(u64, &str)> = all
            .iter()
            .map(|o| (o.seed, b.variant_label(o.variant)))
            .collect();
        assert_eq!(
            order,
            [
                (1, "s.servers=1"),
                (1, "s.servers=2"),
                (2, "s.servers=1"),
                (2, "s.servers=2"),
                (3, "s.servers=1"),
                (3, "s.servers=2")
            ]
        );
        for o in &all {
            assert_eq!(
                o.report.as_ref().unwrap().variant,
                b.variant_label(o.variant)
            );
        }
    }

    #[test]
    fn replays_carry_the_flags_that_change_the_run() {
        let opts = RunOptions {
            until: Some("90s".parse().unwrap()),
            max_events: Some(5000),
            max_pending: Some(64),
            ..RunOptions::default()
        };
        let b = batch(FLAKY, "1..2", &opts).unwrap();
        assert_eq!(
            b.replay(2, 0),
            "sim run flaky.scn --seed 2 --until 90s --max-events 5000 --max-pending 64"
        );
    }

    #[test]
    fn a_run_that_cannot_go_on_is_a_failed_row_not_the_end_of_the_batch() {
        // One pending event at most: every run stops with an error, and each is reported.
        let opts = RunOptions {
            max_pending: Some(1),
            ..RunOptions::default()
        };
        let b = batch(FLAKY, "1..3", &opts).unwrap();
        let (all, totals) = run_all(&b);
        assert_eq!(totals.failed, 3);
        for o in &all {
            let e = o.report.as_ref().unwrap_err();
            assert!(e.contains("the run stopped"), "{e}");
        }
        let mut out = Vec::new();
        let mut t = Table::new(&b);
        t.rows(&mut out, &all).unwrap();
        t.finish(&mut out, &totals).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.matches("FAIL").count(),
            4,
            "three rows and the result: {text}"
        );
        assert!(text.contains("error: "), "{text}");
        assert!(
            text.contains("  sim run flaky.scn --seed 3 --max-pending 1\n"),
            "{text}"
        );
    }

    #[test]
    fn an_endless_source_is_refused_before_any_run() {
        let endless = FLAKY.replace("customers 200  ", "");
        match batch(&endless, "1..3", &RunOptions::default()) {
            Err(BatchError::Scenario(ScenarioError::Invalid(d))) => {
                assert!(d[0].message.contains("never stops"), "{d:?}")
            }
            other => panic!("{other:?}"),
        }
        let opts = RunOptions {
            until: Some("10s".parse().unwrap()),
            ..RunOptions::default()
        };
        assert!(batch(&endless, "1..3", &opts).is_ok());
    }

    #[test]
    fn too_many_runs_with_sweeps_are_refused() {
        let swept = FLAKY.replace("expect", "sweep s.servers in [1, 2]\n  expect");
        let seeds = format!("1..{MAX_RUNS}");
        assert!(matches!(
            batch(&swept, &seeds, &RunOptions::default()),
            Err(BatchError::TooManyRuns { runs, .. }) if runs == 2 * u128::from(MAX_RUNS)
        ));
    }

    #[test]
    fn the_table_lists_passing_rows_only_for_small_batches() {
        let b = batch(FLAKY, "1..60", &RunOptions::default()).unwrap();
        let (all, totals) = run_all(&b);
        assert!(totals.passed > 0 && totals.failed > 0, "{totals:?}");
        let mut out = Vec::new();
        let mut t = Table::new(&b);
        t.header(&mut out).unwrap();
        t.rows(&mut out, &all).unwrap();
        t.finish(&mut out, &totals).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("  FAIL  ") || l.contains("  ok  "))
            .collect();
        assert_eq!(rows.len() as u64, totals.failed, "{text}");
        assert!(
            text.contains(&format!("({} passing rows not shown", totals.passed)),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("  sim run ")).count() as u64,
            totals.failed
        );

        let small = batch(FLAKY, "1..10", &RunOptions::default()).unwrap();
        let (all, totals) = run_all(&small);
        let mut out = Vec::new();
        let mut t = Table::new(&small);
        t.rows(&mut out, &all).unwrap();
        t.finish(&mut out, &totals).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines()
                .filter(|l| l.contains("  FAIL  ") || l.contains("  ok  "))
                .count(),
            10,
            "{text}"
        );
        assert!(!text.contains("not shown"), "{text}");
    }

    #[test]
    fn the_json_is_one_valid_object_with_every_run() {
        let b = batch(FLAKY, "1..5", &RunOptions::default()).unwrap();
        let (all, totals) = run_all(&b);
        let mut out = Vec::new();
        let mut j = Json::new(&b);
        j.header(&mut out).unwrap();
        j.rows(&mut out, &all[..2]).unwrap();
        j.rows(&mut out, &all[2..]).unwrap();
        j.finish(&mut out, &totals).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 5);
        for (k, r) in runs.iter().enumerate() {
            assert_eq!(r["seed"], k as u64 + 1);
            assert_eq!(r["ok"], all[k].ok());
            assert_eq!(r["trace_hash"].as_str().unwrap().len(), 16);
        }
        assert_eq!(v["summary"]["runs"], 5);
        assert_eq!(v["summary"]["failed"], totals.failed);
        assert_eq!(v["seeds"]["first"], 1);
        assert_eq!(v["seeds"]["last"], 5);
    }

    #[test]
    fn a_series_is_summarised_not_listed() {
        let m = MetricValue::Series {
            offered: 5,
            points: vec![(1, 3.0), (2, 1.0), (3, 7.0), (4, 2.0)],
        };
        assert_eq!(
            summary(&m),
            serde_json::json!({"kind": "series", "count": 5, "last": 2.0, "min": 1.0, "max": 7.0})
        );
        let c = MetricValue::Counter { value: 9 };
        assert_eq!(
            summary(&c),
            serde_json::json!({"kind": "counter", "value": 9})
        );
    }

    #[test]
    fn a_curve_is_summarised_with_its_points() {
        let m = MetricValue::Curve {
            points: vec![(1024.0, 0.9), (65536.0, 0.25)],
        };
        assert_eq!(
            summary(&m),
            serde_json::json!({"kind": "curve", "points": [[1024.0, 0.9], [65536.0, 0.25]]})
        );
    }

    #[test]
    fn metric_picks_take_names_prefixes_and_per_instance_names() {
        let known: BTreeSet<String> = ["machine.utilisation", "machine.wait", "a.response"]
            .map(String::from)
            .into();
        let pick =
            MetricPick::parse("machine.*, a.response,machine.utilisation_cpu0", &known).unwrap();
        assert!(pick.wants("machine.wait") && pick.wants("machine.utilisation_cpu1"));
        assert!(pick.wants("a.response") && !pick.wants("a.wait"));
        let all = MetricPick::parse("all", &known).unwrap();
        assert!(all.wants("anything"));
        for bad in [
            "",
            "a.response,,machine.wait",
            "machine.utilisation_",
            "b.*",
            "a.respons",
        ] {
            assert!(MetricPick::parse(bad, &known).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_batch_of_one_variant_runs_it_alone_with_its_replay() {
        let swept = FLAKY.replace("expect", "sweep s.servers in [1, 2]\n  expect");
        let opts = RunOptions {
            variant: vec!["s.servers=2".into()],
            ..RunOptions::default()
        };
        let b = batch(&swept, "1..2", &opts).unwrap();
        assert_eq!(b.runs(), 2);
        let (all, _) = run_all(&b);
        for o in &all {
            assert_eq!(o.report.as_ref().unwrap().variant, "s.servers=2");
            assert_eq!(
                b.replay(o.seed, o.variant),
                format!("sim run flaky.scn --seed {} --variant s.servers=2", o.seed)
            );
            assert_eq!(
                b.replay(o.seed, o.variant),
                o.report.as_ref().unwrap().replay_command()
            );
        }
    }
}

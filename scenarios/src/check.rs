//! AST to a checked scenario: every block validated against its model's schema
//! ([`models::schema`]), every value typed, every action, target, time and check verified.
//!
//! Nothing here knows a particular model: kinds, properties, metrics, verbs (with the arguments
//! each takes) and checkable properties all come from [`models::MODELS`]. The one vocabulary it
//! names is the faults' and `load`'s, to hand the wiring typed [`ActionKind`]s; a verb outside it
//! is checked all the same and handed on as [`ActionKind::Other`]. Every problem found becomes a
//! [`Diagnostic`] with its place and, where one helps, a hint; all are reported in one pass.

use std::collections::BTreeMap;

use models::MODELS;
use models::schema::{
    ArgSpec, FormSpec, KindSpec, MetricKind, ModelSpec, Need, PropSpec, PropType, VerbSpec,
    article, one_of,
};
use models::world::schema::HOST;
use simcore::{Dist, SimDuration};

use crate::ast::{
    Action, Block, Check, Expect, FileName, Ident, Scenario, Span, Timed, Value, ValueKind, When,
};
use crate::diag::{Diagnostic, did_you_mean};
use crate::parse::split_args;

/// The statistics a metric check may take, by metric kind.
pub fn stats_of(kind: MetricKind) -> &'static [&'static str] {
    match kind {
        MetricKind::Latency => &["mean", "min", "max", "count", "p50", "p90", "p99", "p999"],
        MetricKind::Counter => &["value", "count"],
        MetricKind::Gauge => &["mean", "min", "max", "value", "last"],
        MetricKind::Curve => &["count", "min", "max", "last"],
        MetricKind::Heatmap => &["count", "min", "max", "mean"],
    }
}

/// Every statistic of any metric kind.
pub const STATS: &[&str] = &[
    "mean", "min", "max", "count", "p50", "p90", "p99", "p999", "value", "last",
];

/// Targets every model with nodes understands.
pub use models::schema::TARGET_WORDS;

/// The most nodes a range such as `n1..n5` may expand to.
pub const MAX_NODES: u64 = 10_000;

/// A property value after checking, in the unit the model wants.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Duration(SimDuration),
    DurationRange(SimDuration, SimDuration),
    /// A distribution: of durations in nanoseconds, or of whole numbers.
    Dist(Dist),
    Size(u64),
    /// Per second.
    Rate(f64),
    /// From 0 to 1.
    Probability(f64),
    Count(u64),
    Float(f64),
    Bool(bool),
    Str(String),
    Choice(String),
    Nodes(Vec<String>),
    /// Where a block is placed: the hosts, one per server (one in all for a one-host service).
    Hosts(Vec<String>),
    /// The name of the block a reference names (given, or the only block of its kind).
    Ref(String),
    /// A route or a mix: names with weights (1 when not given).
    Weighted(Vec<(String, f64)>),
}

/// One checked block.
#[derive(Debug, Clone)]
pub struct CheckedBlock {
    pub model: &'static ModelSpec,
    pub spec: &'static KindSpec,
    pub name: String,
    pub props: BTreeMap<&'static str, (Typed, Span)>,
    /// The hosts the block is placed on (`on`), in order; empty when unplaced (no `on`: the
    /// scenario declares no hosts, or the block stands outside them, as a `load` may).
    pub placement: Vec<String>,
    pub span: Span,
    pub file: FileName,
}

/// A host the scenario declares: one per name of a `host` block (`host db1..db3` declares
/// three), so the wiring resolves placement without expanding ranges again.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedHost {
    pub name: String,
    /// The index in [`Checked::blocks`] of the `host` block that declares it.
    pub block: usize,
    /// The block's name, where the host is declared.
    pub span: Span,
}

impl CheckedBlock {
    pub fn get(&self, prop: &str) -> Option<&Typed> {
        self.props.get(prop).map(|p| &p.0)
    }

    // Typed getters, one set for every model's wiring: each is `None` (or false) when the
    // property is absent, which the checker allows only where the schema gives a default.

    pub fn count(&self, prop: &str) -> Option<u64> {
        match self.get(prop) {
            Some(Typed::Count(n)) => Some(*n),
            _ => None,
        }
    }

    /// The name of the block a reference names.
    pub fn reference(&self, prop: &str) -> Option<&str> {
        match self.get(prop) {
            Some(Typed::Ref(name)) => Some(name.as_str()),
            _ => None,
        }
    }

    /// A string property's text.
    pub fn text(&self, prop: &str) -> Option<&str> {
        match self.get(prop) {
            Some(Typed::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// A diagnostic at `prop`'s value (or at the block when the property is not given), for
    /// what the wiring refuses.
    pub fn error_at(&self, prop: &str, message: String, hint: &str) -> Diagnostic {
        let span = self.props.get(prop).map_or(self.span, |p| p.1);
        Diagnostic::at(&self.file, span, message).hint(hint.to_string())
    }

    pub fn flag(&self, prop: &str) -> bool {
        matches!(self.get(prop), Some(Typed::Bool(true)))
    }

    pub fn duration(&self, prop: &str) -> Option<SimDuration> {
        match self.get(prop) {
            Some(Typed::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    /// A duration in nanoseconds.
    pub fn nanos(&self, prop: &str) -> Option<u64> {
        self.duration(prop).map(|d| d.as_nanos())
    }

    pub fn dist(&self, prop: &str) -> Option<&Dist> {
        match self.get(prop) {
            Some(Typed::Dist(d)) => Some(d),
            _ => None,
        }
    }

    /// A float property's value (an integer written for a float reads as one).
    pub fn float(&self, prop: &str) -> Option<f64> {
        match self.get(prop) {
            Some(Typed::Float(x)) => Some(*x),
            Some(Typed::Count(n)) => Some(*n as f64),
            _ => None,
        }
    }

    pub fn probability(&self, prop: &str) -> Option<f64> {
        match self.get(prop) {
            Some(Typed::Probability(p)) => Some(*p),
            _ => None,
        }
    }

    pub fn size(&self, prop: &str) -> Option<u64> {
        match self.get(prop) {
            Some(Typed::Size(n)) => Some(*n),
            _ => None,
        }
    }

    /// A choice's word.
    pub fn choice(&self, prop: &str) -> Option<&str> {
        match self.get(prop) {
            Some(Typed::Choice(w)) => Some(w),
            _ => None,
        }
    }
}

/// A checked action.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckedAction {
    /// Set `property` of `component` to `value` from then on.
    Load {
        component: String,
        property: &'static str,
        value: Typed,
    },
    /// A fault for a model with nodes, validated (verb known to a model, nodes known).
    Fault(ActionKind),
}

/// Whom a fault hits, as checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A named node, or one of `leader`, `random-node`, `minority`, `majority`, `all`.
    Name(Ident),
    /// `random(k)`: k nodes picked at random.
    Random(u64, Span),
    /// `[n1, n2]` or `[n1..n3]`.
    Nodes(Value),
}

/// What a partition looks like, as checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Partition {
    /// A shape the verb declares: `halves`, `one`, `bridge`, `majorities-ring`, `one-way`.
    Shape(Ident),
    /// Explicit groups: `[n1, n2] [n3, n4, n5]`.
    Groups(Vec<Value>),
}

/// One argument of an action, checked and typed by its [`ArgSpec`] (a `Keyword` leaves none).
#[derive(Debug, Clone, PartialEq)]
pub enum CheckedArg {
    Target(Target),
    Shape(Partition),
    Word(&'static str),
    Value(Typed),
    /// A form of an [`ArgSpec::Form`]: its name and, for a call, its typed argument.
    Form {
        name: &'static str,
        arg: Option<Typed>,
    },
    Component(String),
    Property(&'static str),
}

/// A checked fault. The verbs the Raft cluster reacts to have their own variants, the typed
/// vocabulary the wiring reads; a verb of another family (declared in its schema, with no
/// grammar or checker change) is [`ActionKind::Other`].
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    Partition(Partition),
    Heal,
    Crash(Target),
    Restart(Target),
    Pause(Target),
    Resume(Target),
    /// `clock skew TARGET by VALUE` or `clock drift TARGET by VALUE`.
    Clock {
        drift: bool,
        target: Target,
        by: Value,
    },
    /// `disk TARGET fault`: `disk n1 slow(5ms)`, `disk n1 full`.
    Disk {
        target: Target,
        fault: Value,
    },
    /// Any other verb, with its checked arguments in the order its spec declares them.
    Other {
        verb: &'static str,
        args: Vec<CheckedArg>,
    },
}

impl ActionKind {
    /// The verb as written.
    pub fn verb(&self) -> &'static str {
        match self {
            ActionKind::Partition(_) => "partition",
            ActionKind::Heal => "heal",
            ActionKind::Crash(_) => "crash",
            ActionKind::Restart(_) => "restart",
            ActionKind::Pause(_) => "pause",
            ActionKind::Resume(_) => "resume",
            ActionKind::Clock { .. } => "clock",
            ActionKind::Disk { .. } => "disk",
            ActionKind::Other { verb, .. } => verb,
        }
    }
}

/// Actions at their times.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedTimed {
    /// The file the line is in (the scenario's, or an included fragment's).
    pub file: FileName,
    pub when: When,
    pub actions: Vec<CheckedAction>,
    pub span: Span,
}

/// A scenario that passed every check.
#[derive(Debug, Clone)]
pub struct Checked {
    pub name: String,
    pub file: String,
    pub seed: Option<u64>,
    pub duration: Option<SimDuration>,
    pub blocks: Vec<CheckedBlock>,
    /// The fault domain, whom faults target by name: every node named by a `Nodes` property, in
    /// order, or without any the declared hosts.
    pub nodes: Vec<String>,
    /// The hosts the scenario declares, in order; empty when it declares none (then every
    /// service runs on an implicit host of its own).
    pub hosts: Vec<CheckedHost>,
    pub schedule: Vec<CheckedTimed>,
    pub expects: Vec<Expect>,
    /// The model families the blocks belong to, in `MODELS` order.
    pub models: Vec<&'static ModelSpec>,
}

/// Every metric the scenario's components produce, with its kind.
pub fn metrics_of(
    blocks: &[CheckedBlock],
    models: &[&'static ModelSpec],
) -> BTreeMap<String, MetricKind> {
    let mut out = BTreeMap::new();
    for b in blocks {
        for m in b.spec.metrics {
            out.insert(format!("{}.{}", b.name, m.name), m.kind);
        }
    }
    for model in models {
        for m in model.global_metrics {
            out.insert(m.name.to_string(), m.kind);
        }
    }
    out
}

/// A problem found while typing a value.
struct Problem {
    span: Span,
    message: String,
    hint: Option<String>,
}

impl Problem {
    fn new(span: Span, message: impl Into<String>) -> Self {
        Problem {
            span,
            message: message.into(),
            hint: None,
        }
    }
    fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    fn into_diag(self, file: &str) -> Diagnostic {
        let d = Diagnostic::at(file, self.span, self.message);
        match self.hint {
            Some(h) => d.hint(h),
            None => d,
        }
    }
}

/// Finds a kind among all models.
fn find_kind(
    all: &[&'static ModelSpec],
    kind: &str,
) -> Option<(&'static ModelSpec, &'static KindSpec)> {
    all.iter().find_map(|m| m.kind(kind).map(|k| (*m, k)))
}

fn all_kinds<'a>(all: &'a [&'static ModelSpec]) -> impl Iterator<Item = &'static str> + 'a {
    all.iter().flat_map(|m| m.kinds.iter().map(|k| k.kind))
}

/// Component names by kind (hosts by their own names, ranges expanded), for references.
struct Names<'a> {
    /// `(kind, name)`, ordered, so a lookup is a search and not a scan.
    by_kind: std::collections::BTreeSet<(&'a str, &'a str)>,
    /// The kind of each name (the first block's, should two share one).
    kind_of: BTreeMap<&'a str, &'a str>,
    /// Whether any `host` block is written (even one whose name is wrong): placement is then
    /// required where a schema says so, and allowed at all.
    hosts_declared: bool,
}

impl<'a> Names<'a> {
    /// The names of `scenario`'s blocks, with `hosts` standing for the `host` blocks' names.
    fn new(scenario: &'a Scenario, hosts: &'a [CheckedHost]) -> Self {
        let mut by_kind = std::collections::BTreeSet::new();
        let mut kind_of = BTreeMap::new();
        for (b, name) in component_names(scenario, hosts) {
            let kind = scenario.blocks[b].kind.text.as_str();
            by_kind.insert((kind, name));
            kind_of.entry(name).or_insert(kind);
        }
        Names {
            by_kind,
            kind_of,
            hosts_declared: scenario.blocks.iter().any(|b| b.kind.text == HOST),
        }
    }
}

impl Names<'_> {
    fn of_kind<'b>(&'b self, kind: &'b str) -> impl Iterator<Item = &'b str> + 'b {
        self.by_kind
            .range((kind, "")..)
            .take_while(move |(k, _)| *k == kind)
            .map(|(_, n)| *n)
    }
    fn has(&self, kind: &str, name: &str) -> bool {
        self.by_kind.contains(&(kind, name))
    }

    /// Checks that `n` names a block of one of `kinds` or is one of `also`; else says what it
    /// is instead (`` `db1` is a host, not a raft ``) or that nothing has that name, with the
    /// names that would do.
    fn resolve(&self, n: &str, span: Span, kinds: &[&str], also: &[&str]) -> Result<(), Problem> {
        if also.contains(&n) || kinds.iter().any(|k| self.has(k, n)) {
            return Ok(());
        }
        let wanted = one_of(kinds, also);
        let fitting: Vec<&str> = kinds
            .iter()
            .flat_map(|k| self.of_kind(k))
            .chain(also.iter().copied())
            .collect();
        let message = match self.kind_of.get(n) {
            Some(kind) => format!("`{n}` is {} {kind}, not {wanted}", article(kind)),
            None => format!("there is no {} named `{n}`", kinds.join(" or ")),
        };
        let hint = did_you_mean(n, fitting.iter().copied()).unwrap_or_else(|| {
            if fitting.is_empty() {
                format!("the scenario has no {}", kinds.join(" or "))
            } else {
                format!("this scenario has: {}", some_of(&fitting))
            }
        });
        Err(Problem::new(span, message).hint(hint))
    }
}

/// The hosts `scenario`'s `host` blocks declare, ranges expanded, each with the index of its
/// block in the scenario (which is its index in [`Checked::blocks`] once every block checks). A
/// range that does not expand, or a range naming a block of another kind, is reported.
fn declared_hosts(scenario: &Scenario, errors: &mut Vec<Diagnostic>) -> Vec<CheckedHost> {
    let mut out = Vec::new();
    for (i, b) in scenario.blocks.iter().enumerate() {
        let name = b.name();
        let range = name.text.split_once("..");
        let is_host = b.kind.text == HOST;
        match range {
            Some(_) if !is_host => errors.push(
                Diagnostic::at(
                    &b.file,
                    name.span,
                    format!("a {} block has one name, not a range", b.kind.text),
                )
                .hint(format!(
                    "name it with one word; only `{HOST}` blocks declare several at once (`{HOST} db1..db3 {{ }}`)"
                )),
            ),
            Some((lo, hi)) => match expand_names(lo, hi, name.span, HOST) {
                Ok(names) => out.extend(names.into_iter().map(|n| CheckedHost {
                    name: n,
                    block: i,
                    span: name.span,
                })),
                Err(p) => errors.push(p.into_diag(&b.file)),
            },
            None if is_host => out.push(CheckedHost {
                name: name.text.clone(),
                block: i,
                span: name.span,
            }),
            None => {}
        }
    }
    out
}

fn wrong_type(v: &Value, ty: &PropType) -> Problem {
    Problem::new(
        v.span,
        format!("expected {}, found {}", ty.describe(), v.kind.describe()),
    )
    .hint(format!("write {}", ty.describe()))
}

fn ns(v: &Value) -> Option<f64> {
    match v.kind {
        ValueKind::Duration(d) => Some(d.as_nanos() as f64),
        _ => None,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v.kind {
        ValueKind::Integer(n) => Some(n as f64),
        ValueKind::Float(f) => Some(f),
        _ => None,
    }
}

fn dist_example(name: &str) -> &'static str {
    match name {
        "constant" => "constant(10ms)",
        "exp" => "exp(1s) for the mean or exp(0.9/s) for the rate",
        "uniform" => "uniform(1ms, 5ms) for low and high",
        "normal" => "normal(10ms, 2ms) for the mean and standard deviation",
        "lognormal" => "lognormal(10ms, 0.5) for the median and sigma",
        "pareto" => "pareto(1ms, 2.5) for the scale and shape",
        "zipf" => "zipf(1000, 0.99) for n and the exponent",
        _ => "exp(1s)",
    }
}

const DURATION_DISTS: &[&str] = &[
    "constant",
    "exp",
    "uniform",
    "normal",
    "lognormal",
    "pareto",
];
const COUNT_DISTS: &[&str] = &["constant", "uniform", "zipf"];

/// A distribution of durations (nanoseconds) or of whole numbers.
fn dist(v: &Value, durations: bool) -> Result<Dist, Problem> {
    let ty = if durations {
        PropType::DurationDist
    } else {
        PropType::CountDist
    };
    let (name, args) = match &v.kind {
        ValueKind::Duration(d) if durations => {
            return Dist::constant(d.as_nanos() as f64)
                .map_err(|e| Problem::new(v.span, e.to_string()));
        }
        ValueKind::Integer(n) if !durations && *n >= 0 => {
            return Dist::constant(*n as f64).map_err(|e| Problem::new(v.span, e.to_string()));
        }
        ValueKind::Call { name, args } => (name.as_str(), args.as_slice()),
        _ => return Err(wrong_type(v, &ty)),
    };
    let known = if durations {
        DURATION_DISTS
    } else {
        COUNT_DISTS
    };
    if !known.contains(&name) {
        let other_kind = if durations {
            COUNT_DISTS
        } else {
            DURATION_DISTS
        };
        let p = Problem::new(v.span, format!("unknown distribution `{name}`"));
        return Err(if other_kind.contains(&name) {
            p.hint(format!(
                "{name} draws {}; here write one of {}",
                if durations {
                    "whole numbers"
                } else {
                    "durations"
                },
                known.join(", ")
            ))
        } else {
            p.hint(
                did_you_mean(name, known.iter().copied())
                    .unwrap_or_else(|| format!("known: {}", known.join(", "))),
            )
        });
    }
    if durations {
        if let ("uniform", [a, b]) = (name, args) {
            if let (ValueKind::Duration(lo), ValueKind::Duration(hi)) = (&a.kind, &b.kind) {
                if lo > hi {
                    return Err(Problem::new(
                        v.span,
                        format!("uniform({lo}, {hi}): the low end is above the high end"),
                    )
                    .hint(format!("write uniform({hi}, {lo})")));
                }
            }
        }
        if let ("exp", [a]) = (name, args) {
            if a.kind == ValueKind::Duration(SimDuration::ZERO) {
                return Err(Problem::new(v.span, "exp(0s): the mean must be above zero")
                    .hint("for no delay at all write 0s"));
            }
        }
    }
    let made = if durations {
        match (name, args) {
            ("constant", [a]) => ns(a).map(Dist::constant),
            ("exp", [a]) => match a.kind {
                ValueKind::Duration(_) => ns(a).map(Dist::exponential),
                ValueKind::Rate { per_sec } if per_sec > 0.0 => {
                    Some(Dist::exponential(1e9 / per_sec))
                }
                _ => None,
            },
            ("uniform", [a, b]) => ns(a).zip(ns(b)).map(|(a, b)| Dist::uniform(a, b)),
            ("normal", [a, b]) => ns(a).zip(ns(b)).map(|(a, b)| Dist::normal(a, b)),
            ("lognormal", [a, b]) => ns(a)
                .zip(number(b))
                .map(|(median, sigma)| Dist::lognormal_median(median, sigma)),
            ("pareto", [a, b]) => ns(a)
                .zip(number(b))
                .map(|(scale, shape)| Dist::pareto(scale, shape)),
            _ => None,
        }
    } else {
        match (name, args) {
            ("constant", [a]) => number(a).map(Dist::constant),
            ("uniform", [a, b]) => number(a).zip(number(b)).map(|(a, b)| Dist::uniform(a, b)),
            ("zipf", [a, b]) => match (&a.kind, number(b)) {
                (ValueKind::Integer(n), Some(s)) if *n >= 1 => Some(Dist::zipf(*n as u64, s)),
                _ => None,
            },
            _ => None,
        }
    };
    match made {
        Some(Ok(d)) => Ok(d),
        Some(Err(e)) => Err(Problem::new(v.span, e.to_string()).hint("check the parameters")),
        None => Err(
            Problem::new(v.span, format!("wrong arguments for `{name}`"))
                .hint(format!("write {}", dist_example(name))),
        ),
    }
}

/// `n1..n5` to `[n1, n2, n3, n4, n5]`; `what` names what the names are (`node`, `host`).
fn expand_range(lo: &Value, hi: &Value, span: Span, what: &str) -> Result<Vec<String>, Problem> {
    let (ValueKind::Ident(a), ValueKind::Ident(b)) = (&lo.kind, &hi.kind) else {
        return Err(Problem::new(
            span,
            format!("a {what} range joins two names such as n1..n5"),
        ));
    };
    expand_names(a, b, span, what)
}

/// `a..b` of two names with a common prefix and numbered ends, expanded.
fn expand_names(a: &str, b: &str, span: Span, what: &str) -> Result<Vec<String>, Problem> {
    let split = |s: &str| {
        let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (p, n) = s.split_at(s.len() - digits);
        (p.to_string(), n.parse::<u64>().ok(), digits)
    };
    let (pa, na, da) = split(a);
    let (pb, nb, _) = split(b);
    let (Some(na), Some(nb)) = (na, nb) else {
        return Err(Problem::new(
            span,
            format!("both ends of a {what} range end in a number, as in n1..n5"),
        ));
    };
    if pa != pb {
        return Err(Problem::new(
            span,
            format!("the ends of a {what} range share a prefix; found `{pa}` and `{pb}`"),
        ));
    }
    if na > nb {
        return Err(Problem::new(
            span,
            format!("the range {a}..{b} runs backwards"),
        ));
    }
    if nb - na >= MAX_NODES {
        return Err(Problem::new(
            span,
            format!("more than {MAX_NODES} {what}s in one range"),
        ));
    }
    // Keep zero padding: n01..n10 gives n01, n02, ..., n10.
    let width = if a.len() == b.len() && a[pa.len()..].starts_with('0') {
        da
    } else {
        0
    };
    Ok((na..=nb).map(|i| format!("{pa}{i:0width$}")).collect())
}

/// The node names a checked node value (`n1..n3`, `[a, b]`, `a`) stands for.
pub(crate) fn node_names(v: &Value) -> Option<Vec<String>> {
    nodes(v).ok()
}

/// The distribution of durations (in nanoseconds) a checked value stands for: a duration is a
/// constant.
pub(crate) fn duration_dist(v: &Value) -> Option<Dist> {
    dist(v, true).ok()
}

fn nodes(v: &Value) -> Result<Vec<String>, Problem> {
    Ok(spanned_names(v, &PropType::Nodes, "node")?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// The names a value of names (`a`, `n1..n5`, `[a, n1..n3]`) stands for, each with the span of
/// what wrote it, so an error points at the one name that is wrong.
fn spanned_names(v: &Value, ty: &PropType, what: &str) -> Result<Vec<(String, Span)>, Problem> {
    match &v.kind {
        ValueKind::Ident(n) => Ok(vec![(n.clone(), v.span)]),
        ValueKind::Range(lo, hi) => Ok(expand_range(lo, hi, v.span, what)?
            .into_iter()
            .map(|n| (n, v.span))
            .collect()),
        ValueKind::List(entries) => {
            let mut out = Vec::new();
            for e in entries {
                if let Some(w) = &e.weight {
                    return Err(Problem::new(
                        w.span,
                        format!("{what} lists take no weights"),
                    ));
                }
                out.extend(spanned_names(&e.value, ty, what)?);
            }
            Ok(out)
        }
        _ => Err(wrong_type(v, ty)),
    }
}

/// Types a placement (`on`): declared hosts, each once; one in all for a [`PropType::Host`].
fn hosts(v: &Value, ty: &PropType, names: &Names<'_>) -> Result<Typed, Problem> {
    if !names.hosts_declared {
        return Err(Problem::new(v.span, "the scenario declares no hosts to place on").hint(
            format!(
                "declare one, such as `{HOST} db1 {{ }}`; or leave out `on`: without hosts, each service runs on an implicit host of its own"
            ),
        ));
    }
    let list = spanned_names(v, ty, HOST)?;
    if list.is_empty() {
        return Err(Problem::new(v.span, "this places on no host")
            .hint("name a host, such as `on db1`, or several, such as `on [db1, db2]`"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (n, span) in &list {
        names.resolve(n, *span, &[HOST], &[])?;
        if !seen.insert(n.as_str()) {
            return Err(Problem::new(*span, format!("host `{n}` is listed twice"))
                .hint("each server runs on a host of its own: list each host once"));
        }
    }
    if *ty == PropType::Host && list.len() > 1 {
        let all: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Problem::new(
            v.span,
            format!(
                "this runs on one host; found {}: {}",
                all.len(),
                some_of(&all)
            ),
        )
        .hint(format!("write one host, such as `on {}`", all[0])));
    }
    Ok(Typed::Hosts(list.into_iter().map(|(n, _)| n).collect()))
}

/// Names with weights: one name, or `[a 30%, b 70%]`.
fn weighted(
    v: &Value,
    ty: &PropType,
    allowed: &dyn Fn(&str, Span) -> Result<(), Problem>,
) -> Result<Vec<(String, f64)>, Problem> {
    match &v.kind {
        ValueKind::Ident(n) => {
            allowed(n, v.span)?;
            Ok(vec![(n.clone(), 1.0)])
        }
        ValueKind::List(entries) if !entries.is_empty() => {
            let mut out = Vec::new();
            let mut seen = std::collections::BTreeSet::new();
            for e in entries {
                let ValueKind::Ident(n) = &e.value.kind else {
                    return Err(wrong_type(&e.value, ty));
                };
                allowed(n, e.value.span)?;
                let w = match &e.weight {
                    None => 1.0,
                    Some(w) => match w.kind {
                        ValueKind::Percent(p) if p >= 0.0 && p.is_finite() => p,
                        ValueKind::Integer(n) if n >= 0 => n as f64,
                        ValueKind::Float(f) if f >= 0.0 && f.is_finite() => f,
                        _ => {
                            return Err(Problem::new(
                                w.span,
                                "a weight is a percentage or a number, not negative",
                            ));
                        }
                    },
                };
                if !seen.insert(n.as_str()) {
                    return Err(Problem::new(e.value.span, format!("`{n}` is listed twice")));
                }
                out.push((n.clone(), w));
            }
            if out.iter().all(|(_, w)| *w == 0.0) {
                return Err(Problem::new(v.span, "every weight in this list is zero"));
            }
            if !out.iter().map(|(_, w)| w).sum::<f64>().is_finite() {
                return Err(Problem::new(
                    v.span,
                    "these weights add up to more than a number can hold",
                )
                .hint("weights are relative: scale them down"));
            }
            Ok(out)
        }
        _ => Err(wrong_type(v, ty)),
    }
}

/// Types `v` as `ty`, or says why it is not one.
fn typed(ty: &PropType, v: &Value, names: &Names<'_>) -> Result<Typed, Problem> {
    let t = match (ty, &v.kind) {
        (PropType::Duration, ValueKind::Duration(d)) => Typed::Duration(*d),
        (PropType::DurationRange, ValueKind::Duration(d)) => Typed::DurationRange(*d, *d),
        (PropType::DurationRange, ValueKind::Range(lo, hi)) => match (&lo.kind, &hi.kind) {
            (ValueKind::Duration(a), ValueKind::Duration(b)) if a <= b => {
                Typed::DurationRange(*a, *b)
            }
            (ValueKind::Duration(_), ValueKind::Duration(_)) => {
                return Err(Problem::new(v.span, "this range runs backwards")
                    .hint("write the smaller duration first"));
            }
            _ => return Err(wrong_type(v, ty)),
        },
        (PropType::DurationDist, _) => Typed::Dist(dist(v, true)?),
        (PropType::CountDist, _) => Typed::Dist(dist(v, false)?),
        (PropType::Size, ValueKind::Size(b)) => Typed::Size(*b),
        (PropType::Rate, ValueKind::Rate { per_sec }) => {
            if !(*per_sec > 0.0 && per_sec.is_finite()) {
                return Err(Problem::new(v.span, "a rate must be positive"));
            }
            if *per_sec > 1e9 {
                return Err(Problem::new(
                    v.span,
                    "a rate above 1/ns is below the simulator's resolution (1ns)",
                ));
            }
            if 1e9 / per_sec > u64::MAX as f64 {
                return Err(Problem::new(v.span, "this rate is too small to ever fire"));
            }
            Typed::Rate(*per_sec)
        }
        (PropType::Probability, ValueKind::Percent(p)) if (0.0..=100.0).contains(p) => {
            Typed::Probability(p / 100.0)
        }
        (PropType::Probability, ValueKind::Float(f)) if (0.0..=1.0).contains(f) => {
            Typed::Probability(*f)
        }
        (PropType::Probability, ValueKind::Integer(n)) if (0..=1).contains(n) => {
            Typed::Probability(*n as f64)
        }
        (
            PropType::Probability,
            ValueKind::Percent(_) | ValueKind::Float(_) | ValueKind::Integer(_),
        ) => {
            return Err(Problem::new(
                v.span,
                "a probability is from 0% to 100% (or 0 to 1)",
            ));
        }
        (PropType::Count { min, max }, ValueKind::Integer(n)) => {
            let n = u64::try_from(*n).map_err(|_| {
                Problem::new(v.span, format!("expected {}, found {n}", ty.describe()))
            })?;
            if n < *min || n > *max {
                return Err(Problem::new(
                    v.span,
                    format!("expected {}, found {n}", ty.describe()),
                ));
            }
            Typed::Count(n)
        }
        (PropType::Float { min, max }, ValueKind::Float(_) | ValueKind::Integer(_)) => {
            let f = number(v).unwrap_or(f64::NAN);
            if !(f >= *min && f <= *max) {
                return Err(Problem::new(
                    v.span,
                    format!("expected {}, found {f}", ty.describe()),
                ));
            }
            Typed::Float(f)
        }
        (PropType::Fraction, ValueKind::Percent(p)) => Typed::Float(p / 100.0),
        (PropType::Fraction, ValueKind::Float(_) | ValueKind::Integer(_)) => {
            Typed::Float(number(v).unwrap_or(f64::NAN))
        }
        (PropType::Bool, ValueKind::Bool(b)) => Typed::Bool(*b),
        (PropType::Str, ValueKind::Str(s)) => Typed::Str(s.clone()),
        (PropType::Choice(words), ValueKind::Ident(w)) => {
            if !words.contains(&w.as_str()) {
                return Err(Problem::new(
                    v.span,
                    format!("`{w}` is not one of {}", words.join(", ")),
                )
                .hint(
                    did_you_mean(w, words.iter().copied())
                        .unwrap_or_else(|| format!("write one of {}", words.join(", "))),
                ));
            }
            Typed::Choice(w.clone())
        }
        (PropType::Nodes, _) => {
            let list = nodes(v)?;
            let mut seen = std::collections::BTreeSet::new();
            if let Some(dup) = list.iter().find(|n| !seen.insert(n.as_str())) {
                return Err(Problem::new(
                    v.span,
                    format!("node `{dup}` is listed twice"),
                ));
            }
            Typed::Nodes(list)
        }
        (PropType::Hosts | PropType::Host, _) => hosts(v, ty, names)?,
        (PropType::Ref { kinds, also }, ValueKind::Ident(n)) => {
            names.resolve(n, v.span, kinds, also)?;
            Typed::Ref(n.clone())
        }
        (PropType::Route { kind, also }, _) => {
            let allowed =
                |n: &str, span: Span| names.resolve(n, span, std::slice::from_ref(kind), also);
            Typed::Weighted(weighted(v, ty, &allowed)?)
        }
        (PropType::Mix(words), _) => {
            let allowed = |n: &str, span: Span| {
                if words.contains(&n) {
                    Ok(())
                } else {
                    let p = Problem::new(span, format!("`{n}` is not one of {}", words.join(", ")));
                    Err(match did_you_mean(n, words.iter().copied()) {
                        Some(h) => p.hint(h),
                        None => p,
                    })
                }
            };
            Typed::Weighted(weighted(v, ty, &allowed)?)
        }
        _ => return Err(wrong_type(v, ty)),
    };
    Ok(t)
}

/// Checks `scenario` against the models' schemas. `Ok` only when nothing is wrong.
pub fn check(scenario: &Scenario) -> Result<Checked, Vec<Diagnostic>> {
    check_with(scenario, MODELS)
}

/// Checks `scenario` against the given model families (the tests use made-up ones).
pub fn check_with(
    scenario: &Scenario,
    all: &[&'static ModelSpec],
) -> Result<Checked, Vec<Diagnostic>> {
    let mut errors: Vec<Diagnostic> = Vec::new();
    let declared = declared_hosts(scenario, &mut errors);
    let names = Names::new(scenario, &declared);
    unique_names(scenario, &declared, &mut errors);
    let mut blocks = Vec::new();
    for b in &scenario.blocks {
        if let Some(cb) = check_block(b, all, &names, &mut errors) {
            blocks.push(cb);
        }
    }
    let mut models: Vec<&'static ModelSpec> = Vec::new();
    for m in all {
        if blocks.iter().any(|b| std::ptr::eq(b.model, *m)) {
            models.push(m);
        }
    }
    for m in &models {
        for g in m.global_metrics {
            let prefix = g.name.split('.').next().unwrap_or(g.name);
            if let Some(b) = scenario.blocks.iter().find(|b| b.name().text == prefix) {
                errors.push(
                    Diagnostic::at(
                        &b.file,
                        b.name().span,
                        format!(
                            "`{prefix}` is reserved for the {} model's own metrics",
                            m.name
                        ),
                    )
                    .hint("choose another name"),
                );
            }
        }
    }
    // Faults target the fault domain: a cluster's servers, or without one the declared hosts.
    let mut nodes: Vec<String> = blocks
        .iter()
        .flat_map(|b| b.props.values())
        .filter_map(|(t, _)| match t {
            Typed::Nodes(n) => Some(n.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    if nodes.is_empty() {
        nodes = declared.iter().map(|h| h.name.clone()).collect();
    }
    let duration = scenario.duration.map(|(d, _)| d);
    let known: std::collections::BTreeSet<&str> = nodes.iter().map(|n| n.as_str()).collect();
    let mut schedule = Vec::new();
    for t in &scenario.schedule {
        if let Some(ct) = check_timed(
            t,
            duration,
            all,
            &blocks,
            &models,
            &nodes,
            &known,
            &names,
            &mut errors,
        ) {
            schedule.push(ct);
        }
    }
    let metrics = metrics_of(&blocks, &models);
    for e in &scenario.expects {
        check_expect(e, &metrics, &models, &mut errors);
    }
    if scenario.blocks.is_empty() && scenario.name.is_some() {
        errors.push(
            Diagnostic::at(
                &scenario.file,
                Span {
                    start: 0,
                    end: 0,
                    line: 1,
                    col: 1,
                },
                "the scenario has no components",
            )
            .hint(
                "add a block such as `station server { service exp(1s) }`; `sim models` lists them",
            ),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // A fragment run on its own is named after its file.
    let name = scenario.name.clone().unwrap_or_else(|| {
        std::path::Path::new(&scenario.file)
            .file_stem()
            .map_or_else(
                || scenario.file.clone(),
                |s| s.to_string_lossy().into_owned(),
            )
    });
    Ok(Checked {
        name,
        file: scenario.file.clone(),
        seed: scenario.seed.map(|s| s.0),
        duration,
        blocks,
        nodes,
        hosts: declared,
        schedule,
        expects: scenario.expects.clone(),
        models,
    })
}

/// Names are unique across components, hosts included (each of a range by itself).
fn unique_names(scenario: &Scenario, hosts: &[CheckedHost], errors: &mut Vec<Diagnostic>) {
    let mut first_of: BTreeMap<&str, &Block> = BTreeMap::new();
    for (i, name) in component_names(scenario, hosts) {
        let b = &scenario.blocks[i];
        if let Some(first) = first_of.get(name) {
            let d = Diagnostic::at(
                &b.file,
                b.name().span,
                format!("`{name}` is already the name of another component"),
            )
            .hint(format!(
                "first defined at {}:{}; name each component",
                first.file,
                first.name().span.line
            ));
            errors.push(d);
        } else {
            first_of.insert(name, b);
        }
    }
}

/// The first few of `names`, joined, for a hint: a hint stays short however many there are.
fn some_of(names: &[&str]) -> String {
    const SHOWN: usize = 8;
    let mut s = names[..names.len().min(SHOWN)].join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(", ... ({} in all)", names.len()));
    }
    s
}

/// Every component name in the order written, with the index of its block: a `host` block's
/// hosts one by one (`hosts` is in block order), any other block's own name. One pass over
/// both, so a scenario of many hosts is checked in linear time.
fn component_names<'a>(scenario: &'a Scenario, hosts: &'a [CheckedHost]) -> Vec<(usize, &'a str)> {
    let mut out = Vec::with_capacity(scenario.blocks.len() + hosts.len());
    let mut rest = hosts;
    for (i, b) in scenario.blocks.iter().enumerate() {
        if b.kind.text == HOST {
            let (mine, after) = rest.split_at(rest.iter().take_while(|h| h.block == i).count());
            out.extend(mine.iter().map(|h| (i, h.name.as_str())));
            rest = after;
        } else {
            out.push((i, b.name().text.as_str()));
        }
    }
    out
}

fn check_block(
    b: &Block,
    all: &[&'static ModelSpec],
    names: &Names<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Option<CheckedBlock> {
    let Some((model, spec)) = find_kind(all, &b.kind.text) else {
        let hint = did_you_mean(&b.kind.text, all_kinds(all)).unwrap_or_else(|| {
            format!(
                "known kinds: {} (`sim models` describes them)",
                all_kinds(all).collect::<Vec<_>>().join(", ")
            )
        });
        errors.push(
            Diagnostic::at(
                &b.file,
                b.kind.span,
                format!("unknown component kind `{}`", b.kind.text),
            )
            .hint(hint),
        );
        return None;
    };
    let name = b.name();
    // A route's extra words (`exit`) cannot also name a component the route could reach.
    let reserved = all
        .iter()
        .flat_map(|m| m.kinds.iter())
        .flat_map(|k| k.props.iter())
        .find_map(|p| match p.ty {
            PropType::Route { kind, also }
                if kind == spec.kind && also.contains(&name.text.as_str()) =>
            {
                Some(kind)
            }
            _ => None,
        });
    if let Some(kind) = reserved {
        errors.push(
            Diagnostic::at(
                &b.file,
                name.span,
                format!("`{}` is a reserved word in routes to a {kind}", name.text),
            )
            .hint("choose another name"),
        );
    }
    let mut props = BTreeMap::new();
    let mut given_once = std::collections::BTreeSet::new();
    for p in &b.props {
        let Some(ps) = spec.prop(&p.key.text) else {
            let hint =
                did_you_mean(&p.key.text, spec.props.iter().map(|s| s.name)).unwrap_or_else(|| {
                    format!(
                        "{} takes: {}",
                        spec.kind,
                        spec.props
                            .iter()
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            errors.push(
                Diagnostic::at(
                    &b.file,
                    p.key.span,
                    format!("{} has no property `{}`", spec.kind, p.key.text),
                )
                .hint(hint),
            );
            continue;
        };
        if !given_once.insert(p.key.text.as_str()) {
            errors.push(Diagnostic::at(
                &b.file,
                p.key.span,
                format!("`{}` is given twice", p.key.text),
            ));
            continue;
        }
        match typed(&ps.ty, &p.value, names) {
            Ok(t) => {
                props.insert(ps.name, (t, p.value.span));
            }
            Err(problem) => {
                let mut d = problem.into_diag(&b.file);
                d.message = format!("`{}`: {}", ps.name, d.message);
                errors.push(d);
            }
        }
    }
    let given = |n: &str| b.props.iter().find(|p| p.key.text == n);
    // Where hosts are declared, a block that must be placed and is not says so, rather than
    // asking for either of a pair (`nodes` or `on`).
    let unplaced = unplaced(b, spec, names, errors);
    for ps in spec.props {
        if let Need::OneOf(other) = ps.need {
            // Reported once, from the first of the pair in the schema.
            let first = spec.props.iter().position(|p| p.name == ps.name)
                < spec.props.iter().position(|p| p.name == other);
            match (given(ps.name), given(other)) {
                (None, None) if first && !unplaced => errors.push(
                    Diagnostic::at(
                        &b.file,
                        name.span,
                        format!(
                            "{} {} needs `{}` or `{other}`",
                            spec.kind, name.text, ps.name
                        ),
                    )
                    .hint(format!(
                        "add `{}` followed by {}",
                        ps.name,
                        ps.ty.describe()
                    )),
                ),
                (Some(_), Some(second)) if first => errors.push(Diagnostic::at(
                    &b.file,
                    second.key.span,
                    format!("give either `{}` or `{other}`, not both", ps.name),
                )),
                _ => {}
            }
        }
        if ps.need == Need::Required && given(ps.name).is_none() {
            errors.push(
                Diagnostic::at(
                    &b.file,
                    name.span,
                    format!(
                        "{} {} needs the property `{}`",
                        spec.kind, name.text, ps.name
                    ),
                )
                .hint(format!(
                    "add `{}` followed by {}",
                    ps.name,
                    ps.ty.describe()
                )),
            );
        }
    }
    sole_references(b, spec, names, &mut props, errors);
    let placement = placed(spec, &mut props);
    // Returned even when some property is wrong (the caller has the errors): the block's kind
    // still tells which model is in use and which metrics exist, and its good properties (its
    // nodes, say) let later checks run without a cascade of follow-on errors.
    Some(CheckedBlock {
        model,
        spec,
        name: name.text.clone(),
        props,
        placement,
        span: b.span,
        file: b.file.clone(),
    })
}

/// Reports a block that must be placed (its placement's need is not a default) but is not,
/// where the scenario declares hosts. True when it reported one.
fn unplaced(b: &Block, spec: &KindSpec, names: &Names<'_>, errors: &mut Vec<Diagnostic>) -> bool {
    let Some(on) = spec.placement() else {
        return false;
    };
    let given = |n: &str| b.props.iter().any(|p| p.key.text == n);
    if !names.hosts_declared || matches!(on.need, Need::Default(_)) || given(on.name) {
        return false;
    }
    let example = names.of_kind(HOST).next().unwrap_or("HOST");
    let hint = match on.need {
        Need::OneOf(other) if given(other) => format!(
            "the scenario declares hosts: replace `{other}` with `{} {example}..`; the servers are named after their hosts",
            on.name
        ),
        _ => format!("add `{} {example}`", on.name),
    };
    errors.push(
        Diagnostic::at(
            &b.file,
            b.name().span,
            format!(
                "{} {} is placed nowhere, and the scenario declares hosts",
                spec.kind,
                b.name().text
            ),
        )
        .hint(hint),
    );
    true
}

/// Fills in each reference left out that may be (`Need::Sole`): the scenario's only block of
/// the kind it takes. With none or several, says which to write.
fn sole_references(
    b: &Block,
    spec: &KindSpec,
    names: &Names<'_>,
    props: &mut BTreeMap<&'static str, (Typed, Span)>,
    errors: &mut Vec<Diagnostic>,
) {
    let name = b.name();
    for ps in spec.props.iter().filter(|p| p.need == Need::Sole) {
        if b.props.iter().any(|p| p.key.text == ps.name) {
            continue;
        }
        let kinds = ps.ty.ref_kinds();
        let fitting: Vec<&str> = kinds.iter().flat_map(|k| names.of_kind(k)).collect();
        let wanted = one_of(kinds, &[]);
        match fitting.as_slice() {
            [only] => {
                props.insert(ps.name, (Typed::Ref(only.to_string()), name.span));
            }
            [] => errors.push(
                Diagnostic::at(
                    &b.file,
                    name.span,
                    format!(
                        "{} {} needs {wanted} for `{}`, and the scenario has none",
                        spec.kind, name.text, ps.name
                    ),
                )
                .hint(format!("add {wanted} block")),
            ),
            several => errors.push(
                Diagnostic::at(
                    &b.file,
                    name.span,
                    format!(
                        "{} {} needs `{}`: the scenario has {} blocks of that kind ({})",
                        spec.kind,
                        name.text,
                        ps.name,
                        several.len(),
                        some_of(several)
                    ),
                )
                .hint(format!("add `{} {}`", ps.name, several[0])),
            ),
        }
    }
}

/// The hosts a block is placed on, from its placement property. A block whose nodes may be
/// left out for its placement (`raft kv { on db1..db3 }`) gets nodes named after its hosts.
fn placed(spec: &KindSpec, props: &mut BTreeMap<&'static str, (Typed, Span)>) -> Vec<String> {
    let Some(on) = spec.placement() else {
        return Vec::new();
    };
    let Some((Typed::Hosts(hosts), span)) = props.get(on.name).cloned() else {
        return Vec::new();
    };
    let nodes_for = |p: &&PropSpec| p.ty == PropType::Nodes && p.need == Need::OneOf(on.name);
    if let Some(nodes) = spec.props.iter().find(nodes_for) {
        props
            .entry(nodes.name)
            .or_insert((Typed::Nodes(hosts.clone()), span));
    }
    hosts
}

fn time_within(
    file: &str,
    at: SimDuration,
    span: Span,
    duration: Option<SimDuration>,
    errors: &mut Vec<Diagnostic>,
) {
    if let Some(d) = duration {
        if at > d {
            errors.push(
                Diagnostic::at(
                    file,
                    span,
                    format!("{at} is after the end of the scenario ({d})"),
                )
                .hint("move it inside the duration, or lengthen `duration`"),
            );
        }
    }
}

/// What an action's arguments are checked against: the scenario's components and nodes.
struct ActionCx<'a> {
    file: &'a str,
    blocks: &'a [CheckedBlock],
    nodes: &'a [String],
    known: &'a std::collections::BTreeSet<&'a str>,
    names: &'a Names<'a>,
}

#[allow(clippy::too_many_arguments)]
fn check_timed(
    t: &Timed,
    duration: Option<SimDuration>,
    all: &[&'static ModelSpec],
    blocks: &[CheckedBlock],
    models: &[&'static ModelSpec],
    nodes: &[String],
    known: &std::collections::BTreeSet<&str>,
    names: &Names<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Option<CheckedTimed> {
    let before = errors.len();
    let file = &*t.file;
    check_when(t, duration, errors);
    if t.actions.is_empty() {
        errors.push(
            Diagnostic::at(file, t.span, "no actions here")
                .hint("put actions in the braces, such as `{ heal }`"),
        );
    }
    let cx = ActionCx {
        file,
        blocks,
        nodes,
        known,
        names,
    };
    let mut actions = Vec::new();
    for a in &t.actions {
        let verb = a.verb.text.as_str();
        // The verb as the first of the scenario's families that reacts to it declares it.
        let Some(spec) = models.iter().find_map(|m| m.verb(verb)) else {
            errors.push(refused(file, a, all, models));
            continue;
        };
        actions.extend(check_action(a, spec, &cx, errors));
    }
    (errors.len() == before).then(|| CheckedTimed {
        file: t.file.clone(),
        when: t.when.clone(),
        actions,
        span: t.span,
    })
}

/// Checks a statement's times: within the duration, periods above zero, ranges forwards.
fn check_when(t: &Timed, duration: Option<SimDuration>, errors: &mut Vec<Diagnostic>) {
    let file = &*t.file;
    match t.when {
        When::At(at) => time_within(file, at, t.span, duration, errors),
        When::Every { min, max, from, to } => {
            if min == SimDuration::ZERO {
                errors.push(Diagnostic::at(
                    file,
                    t.span,
                    "`every` needs a period above zero",
                ));
            }
            if min > max {
                errors.push(
                    Diagnostic::at(file, t.span, "this period range runs backwards")
                        .hint("write the smaller duration first"),
                );
            }
            if let (Some(f), Some(u)) = (from, to) {
                if f > u {
                    errors.push(Diagnostic::at(
                        file,
                        t.span,
                        format!("`from {f}` is after `to {u}`"),
                    ));
                }
            }
            if to.is_none() && duration.is_none() {
                errors.push(
                    Diagnostic::at(
                        file,
                        t.span,
                        "`every` without `to` in a scenario without a duration would never end",
                    )
                    .hint("add `to T`, or `duration` to the scenario"),
                );
            }
            for x in [from, to].into_iter().flatten() {
                time_within(file, x, t.span, duration, errors);
            }
        }
        When::During { from, to } => {
            if from >= to {
                errors.push(Diagnostic::at(
                    file,
                    t.span,
                    format!("`during {from}..{to}` ends before it starts"),
                ));
            }
            time_within(file, to, t.span, duration, errors);
        }
    }
}

/// Why an action whose verb none of the scenario's families reacts to is refused, naming the
/// families that would.
fn refused(
    file: &str,
    a: &Action,
    all: &[&'static ModelSpec],
    models: &[&'static ModelSpec],
) -> Diagnostic {
    let verb = a.verb.text.as_str();
    let supporters: Vec<&str> = all
        .iter()
        .filter(|m| m.verb(verb).is_some())
        .map(|m| m.name)
        .collect();
    let in_use: Vec<&str> = models.iter().map(|m| m.name).collect();
    let hint = if supporters.is_empty() {
        format!("no model reacts to `{verb}` yet (`sim models` lists what each model supports)")
    } else {
        format!("models that react to it: {}", supporters.join(", "))
    };
    let message = if in_use.is_empty() {
        format!("`{verb}`: the scenario has no components, so nothing reacts to it")
    } else {
        format!(
            "`{verb}`: none of this scenario's models ({}) reacts to it",
            in_use.join(", ")
        )
    };
    Diagnostic::at(file, a.span, message).hint(hint)
}

/// Checks an action's values against its verb's arguments, and types them.
fn check_action(
    a: &Action,
    spec: &'static VerbSpec,
    cx: &ActionCx<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Option<CheckedAction> {
    let before = errors.len();
    let file = cx.file;
    let verb = spec.name;
    let parts = split_args(spec, &a.args);
    let given: usize = parts.iter().map(|p| p.len()).sum();
    if let Some(extra) = a.args.get(given) {
        errors.push(
            Diagnostic::at(file, extra.span, format!("`{verb}` takes no more values"))
                .hint(format!("write `{}`", spec.usage())),
        );
        return None;
    }
    let mut args = Vec::new();
    // What later arguments depend on: the word given, the component and its property.
    let mut word: Option<&'static str> = None;
    let mut block: Option<&CheckedBlock> = None;
    let mut live: Option<&'static PropSpec> = None;
    // A typed value's problem, named by the verb (and its word: `clock drift`).
    let named = |p: Problem, word: Option<&str>| {
        let mut d = p.into_diag(file);
        d.message = match word {
            Some(w) => format!("`{verb} {w}`: {}", d.message),
            None => format!("`{verb}`: {}", d.message),
        };
        d
    };
    for (arg, values) in spec.args.iter().zip(parts) {
        let Some(v) = values.first() else {
            errors.push(
                Diagnostic::at(file, a.span, format!("`{verb}` needs {}", arg.describe()))
                    .hint(format!("write `{}`", spec.usage())),
            );
            return None;
        };
        match arg {
            ArgSpec::Target => args.extend(target(v, cx, errors).map(CheckedArg::Target)),
            ArgSpec::Shape(shapes) => {
                args.extend(partition(values, shapes, cx, errors).map(CheckedArg::Shape))
            }
            ArgSpec::Word(words) => match words.iter().find(|w| is_word(v, w)) {
                Some(w) => {
                    word = Some(w);
                    args.push(CheckedArg::Word(w));
                }
                None => {
                    let written = crate::fmt::value_text(v);
                    let hint = did_you_mean(&written, words.iter().copied())
                        .unwrap_or_else(|| format!("write `{}`", spec.usage()));
                    errors.push(
                        Diagnostic::at(
                            file,
                            v.span,
                            format!("`{verb}`: `{written}` is not one of {}", words.join(", ")),
                        )
                        .hint(hint),
                    );
                }
            },
            ArgSpec::Keyword(k) => {
                if !is_word(v, k) {
                    errors.push(
                        Diagnostic::at(
                            file,
                            v.span,
                            format!("`{verb}`: expected `{k}`, found {}", v.kind.describe()),
                        )
                        .hint(format!("write `{}`", spec.usage())),
                    );
                }
            }
            ArgSpec::Value(ty) => match typed(ty, v, cx.names) {
                Ok(t) => args.push(CheckedArg::Value(t)),
                Err(p) => errors.push(named(p, word)),
            },
            ArgSpec::ValueOf(types) => {
                // Without a good word, its error is reported and the type is unknown.
                let ty = word.and_then(|w| types.iter().find(|(t, _)| *t == w));
                if let Some((_, ty)) = ty {
                    match typed(ty, v, cx.names) {
                        Ok(t) => args.push(CheckedArg::Value(t)),
                        Err(p) => errors.push(named(p, word)),
                    }
                }
            }
            ArgSpec::Form { name, forms } => match form(v, name, forms, cx.names) {
                Ok(f) => args.push(f),
                Err(p) => errors.push(p.into_diag(file)),
            },
            ArgSpec::Component => {
                block = component(v, cx, errors);
                args.extend(block.map(|b| CheckedArg::Component(b.name.clone())));
            }
            ArgSpec::Property => {
                live = block.and_then(|b| live_property(verb, b, v, file, errors));
                args.extend(live.map(|p| CheckedArg::Property(p.name)));
            }
            ArgSpec::PropertyValue => {
                if let Some(p) = live {
                    match typed(&p.ty, v, cx.names) {
                        Ok(t) => args.push(CheckedArg::Value(t)),
                        Err(p) => errors.push(p.into_diag(file)),
                    }
                }
            }
        }
    }
    (errors.len() == before).then(|| typed_action(spec, a, args))
}

/// Whether `v` is the bare word `w`.
fn is_word(v: &Value, w: &str) -> bool {
    matches!(&v.kind, ValueKind::Ident(x) if x == w)
}

/// The shared vocabulary of faults and `load`, typed for the wiring: a verb of one of these
/// names and arguments becomes its [`ActionKind`] (or [`CheckedAction::Load`]); any other verb
/// a family declares stays [`ActionKind::Other`], its checked arguments in order.
fn typed_action(spec: &'static VerbSpec, a: &Action, args: Vec<CheckedArg>) -> CheckedAction {
    use CheckedArg as A;
    // The value as written, for the kinds that keep it (`by`, a disk fault).
    let last = || a.args.last().cloned().expect("an action with a value");
    let kind = match (spec.name, args.as_slice()) {
        ("load", [A::Component(c), A::Property(p), A::Value(v)]) => {
            return CheckedAction::Load {
                component: c.clone(),
                property: p,
                value: v.clone(),
            };
        }
        ("partition", [A::Shape(p)]) => ActionKind::Partition(p.clone()),
        ("heal", []) => ActionKind::Heal,
        ("crash", [A::Target(t)]) => ActionKind::Crash(t.clone()),
        ("restart", [A::Target(t)]) => ActionKind::Restart(t.clone()),
        ("pause", [A::Target(t)]) => ActionKind::Pause(t.clone()),
        ("resume", [A::Target(t)]) => ActionKind::Resume(t.clone()),
        ("clock", [A::Word(w), A::Target(t), A::Value(_)]) => ActionKind::Clock {
            drift: *w == "drift",
            target: t.clone(),
            by: last(),
        },
        ("disk", [A::Target(t), A::Form { .. }]) => ActionKind::Disk {
            target: t.clone(),
            fault: last(),
        },
        _ => ActionKind::Other {
            verb: spec.name,
            args,
        },
    };
    CheckedAction::Fault(kind)
}

/// A target: a node, one of [`TARGET_WORDS`], `random(k)` or a list of nodes.
fn target(v: &Value, cx: &ActionCx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Target> {
    let file = cx.file;
    let before = errors.len();
    let t = match &v.kind {
        ValueKind::Ident(n) => {
            if !TARGET_WORDS.contains(&n.as_str()) && !cx.known.contains(n.as_str()) {
                let candidates = cx
                    .nodes
                    .iter()
                    .map(|s| s.as_str())
                    .chain(TARGET_WORDS.iter().copied());
                let hint = did_you_mean(n, candidates).unwrap_or_else(|| {
                    format!(
                        "a node ({}) or one of {}",
                        cx.nodes.join(", "),
                        TARGET_WORDS.join(", ")
                    )
                });
                errors.push(Diagnostic::at(file, v.span, format!("unknown node `{n}`")).hint(hint));
            }
            Target::Name(Ident {
                text: n.clone(),
                span: v.span,
            })
        }
        ValueKind::Call { name, args } if name == "random" => match args.as_slice() {
            [
                Value {
                    kind: ValueKind::Integer(k),
                    ..
                },
            ] if *k >= 1 => {
                let k = *k as u64;
                if k > cx.nodes.len() as u64 {
                    errors.push(Diagnostic::at(
                        file,
                        v.span,
                        format!(
                            "random({k}) picks more nodes than the {} there are",
                            cx.nodes.len()
                        ),
                    ));
                }
                Target::Random(k, v.span)
            }
            _ => {
                errors.push(Diagnostic::at(
                    file,
                    v.span,
                    "random(k) takes a whole number of nodes, at least 1",
                ));
                return None;
            }
        },
        ValueKind::List(_) => {
            match nodes(v) {
                Ok(list) => {
                    for n in list {
                        if !cx.known.contains(n.as_str()) {
                            errors.push(Diagnostic::at(
                                file,
                                v.span,
                                format!("unknown node `{n}`"),
                            ));
                        }
                    }
                }
                Err(p) => errors.push(p.into_diag(file)),
            }
            Target::Nodes(v.clone())
        }
        _ => {
            errors.push(Diagnostic::at(file, v.span, "not a target").hint(format!(
                "a node name, {}, random(k), or a list [n1, n2]",
                TARGET_WORDS.join(", ")
            )));
            return None;
        }
    };
    (errors.len() == before).then_some(t)
}

/// A partition: one of `shapes`, or two or more groups of known nodes, none in two groups.
fn partition(
    values: &[Value],
    shapes: &[&str],
    cx: &ActionCx<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Option<Partition> {
    let file = cx.file;
    let first = values.first()?;
    match &first.kind {
        ValueKind::Ident(s) => {
            if !shapes.contains(&s.as_str()) {
                let hint = did_you_mean(s, shapes.iter().copied()).unwrap_or_else(|| {
                    format!(
                        "shapes: {}, or explicit groups such as [n1, n2] [n3, n4, n5]",
                        shapes.join(", ")
                    )
                });
                errors.push(
                    Diagnostic::at(file, first.span, format!("unknown partition shape `{s}`"))
                        .hint(hint),
                );
                return None;
            }
            Some(Partition::Shape(Ident {
                text: s.clone(),
                span: first.span,
            }))
        }
        ValueKind::List(_) if values.len() < 2 => {
            errors.push(
                Diagnostic::at(
                    file,
                    first.span,
                    "a partition into groups needs two or more",
                )
                .hint("write the groups one after another: `partition [n1, n2] [n3, n4, n5]`"),
            );
            None
        }
        ValueKind::List(_) => {
            let before = errors.len();
            let mut seen = std::collections::BTreeSet::new();
            for g in values {
                match nodes(g) {
                    Ok(list) => {
                        for n in list {
                            if !cx.known.contains(n.as_str()) {
                                errors.push(Diagnostic::at(
                                    file,
                                    g.span,
                                    format!("unknown node `{n}`"),
                                ));
                            } else if !seen.insert(n.clone()) {
                                errors.push(Diagnostic::at(
                                    file,
                                    g.span,
                                    format!("node `{n}` is in two groups"),
                                ));
                            }
                        }
                    }
                    Err(p) => errors.push(p.into_diag(file)),
                }
            }
            (errors.len() == before).then(|| Partition::Groups(values.to_vec()))
        }
        other => {
            errors.push(
                Diagnostic::at(
                    file,
                    first.span,
                    format!(
                        "expected a partition shape or groups, found {}",
                        other.describe()
                    ),
                )
                .hint(format!(
                    "shapes: {}, or explicit groups such as [n1, n2] [n3, n4, n5]",
                    shapes.join(", ")
                )),
            );
            None
        }
    }
}

/// One of `forms`: a bare word, or a call with one argument of the form's type.
fn form(
    v: &Value,
    what: &str,
    forms: &'static [FormSpec],
    names: &Names<'_>,
) -> Result<CheckedArg, Problem> {
    let examples = forms.iter().map(|f| f.example).collect::<Vec<_>>();
    let examples = match examples.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => examples.join(""),
    };
    let (name, arg) = match &v.kind {
        ValueKind::Ident(w) => (w.as_str(), None),
        ValueKind::Call { name, args } => (name.as_str(), args.first().filter(|_| args.len() == 1)),
        _ => ("", None),
    };
    let unknown = || {
        let written = crate::fmt::value_text(v);
        Problem::new(v.span, format!("unknown {what} `{written}`"))
            .hint(format!("write {examples}"))
    };
    let f = forms.iter().find(|f| f.name == name).ok_or_else(unknown)?;
    let arg = match (f.arg, arg, &v.kind) {
        (None, None, ValueKind::Ident(_)) => None,
        (Some(ty), Some(a), _) => Some(typed(&ty, a, names).map_err(|p| Problem {
            message: format!("`{name}`: {}", p.message),
            ..p
        })?),
        _ => return Err(unknown()),
    };
    Ok(CheckedArg::Form { name: f.name, arg })
}

/// The component an action names.
fn component<'b>(
    v: &Value,
    cx: &ActionCx<'b>,
    errors: &mut Vec<Diagnostic>,
) -> Option<&'b CheckedBlock> {
    let name = match &v.kind {
        ValueKind::Ident(n) => n.as_str(),
        _ => "",
    };
    let found = cx.blocks.iter().find(|b| b.name == name);
    if found.is_none() {
        let hint = did_you_mean(name, cx.blocks.iter().map(|b| b.name.as_str()))
            .unwrap_or_else(|| "name a component of this scenario".into());
        let written = crate::fmt::value_text(v);
        errors.push(
            Diagnostic::at(
                cx.file,
                v.span,
                format!("there is no component `{written}`"),
            )
            .hint(hint),
        );
    }
    found
}

/// A property of `b` that may change during a run, as `verb` names it.
fn live_property(
    verb: &str,
    b: &CheckedBlock,
    v: &Value,
    file: &str,
    errors: &mut Vec<Diagnostic>,
) -> Option<&'static PropSpec> {
    let written = crate::fmt::value_text(v);
    let found = match &v.kind {
        ValueKind::Ident(n) => b.spec.prop(n).filter(|p| p.live),
        _ => None,
    };
    if found.is_none() {
        let live: Vec<&str> = b
            .spec
            .props
            .iter()
            .filter(|p| p.live)
            .map(|p| p.name)
            .collect();
        let hint = if live.is_empty() {
            format!("no property of a {} can change during a run", b.spec.kind)
        } else {
            did_you_mean(&written, live.iter().copied())
                .unwrap_or_else(|| format!("a {} can change: {}", b.spec.kind, live.join(", ")))
        };
        errors.push(
            Diagnostic::at(
                file,
                v.span,
                format!("`{verb}` cannot change `{written}` of a {}", b.spec.kind),
            )
            .hint(hint),
        );
    }
    found
}

fn check_expect(
    e: &Expect,
    metrics: &BTreeMap<String, MetricKind>,
    models: &[&'static ModelSpec],
    errors: &mut Vec<Diagnostic>,
) {
    let file = &*e.file;
    match &e.check {
        Check::Metric {
            stat,
            metric,
            bound,
            ..
        } => {
            let Some(kind) = metrics.get(&metric.text) else {
                let hint = did_you_mean(&metric.text, metrics.keys().map(|k| k.as_str()))
                    .unwrap_or_else(|| {
                        format!(
                            "this scenario's metrics: {}",
                            metrics.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    });
                errors.push(
                    Diagnostic::at(
                        file,
                        metric.span,
                        format!("no model produces a metric `{}`", metric.text),
                    )
                    .hint(hint),
                );
                return;
            };
            let stats = stats_of(*kind);
            if !stats.contains(&stat.text.as_str()) {
                let hint = did_you_mean(&stat.text, stats.iter().copied())
                    .unwrap_or_else(|| format!("`{}` has: {}", metric.text, stats.join(", ")));
                errors.push(
                    Diagnostic::at(
                        file,
                        stat.span,
                        format!("`{}` has no statistic `{}`", metric.text, stat.text),
                    )
                    .hint(hint),
                );
            }
            let is_latency_value = *kind == MetricKind::Latency && stat.text != "count";
            let ok = match bound.kind {
                ValueKind::Duration(_) => is_latency_value,
                ValueKind::Integer(_) | ValueKind::Float(_) | ValueKind::Percent(_) => {
                    !is_latency_value
                }
                _ => false,
            };
            if !ok {
                let want = if is_latency_value {
                    "a duration such as 50ms"
                } else {
                    "a number such as 0.9"
                };
                errors.push(
                    Diagnostic::at(
                        file,
                        bound.span,
                        format!(
                            "{}({}) compares with {want}, found {}",
                            stat.text,
                            metric.text,
                            bound.kind.describe()
                        ),
                    )
                    .hint(format!(
                        "for example `expect {}({}) < {}`",
                        stat.text,
                        metric.text,
                        if is_latency_value { "50ms" } else { "100" }
                    )),
                );
            }
        }
        Check::Liveness { event, after, .. } => {
            let events: Vec<&str> = models
                .iter()
                .flat_map(|m| m.events.iter().map(|e| e.0))
                .collect();
            if !events.contains(&event.text.as_str()) {
                let hint = did_you_mean(&event.text, events.iter().copied()).unwrap_or_else(|| {
                    if events.is_empty() {
                        "none of this scenario's models reports events to wait for".into()
                    } else {
                        format!("events: {}", events.join(", "))
                    }
                });
                errors.push(
                    Diagnostic::at(
                        file,
                        event.span,
                        format!(
                            "no model in this scenario reports the event `{}`",
                            event.text
                        ),
                    )
                    .hint(hint),
                );
            }
            if let Some(a) = after {
                let anchors = [
                    "start",
                    "heal",
                    "partition",
                    "crash",
                    "restart",
                    "pause",
                    "resume",
                ];
                if !anchors.contains(&a.text.as_str()) {
                    let hint = did_you_mean(&a.text, anchors.iter().copied())
                        .unwrap_or_else(|| format!("one of {}", anchors.join(", ")));
                    errors.push(
                        Diagnostic::at(
                            file,
                            a.span,
                            format!("`after {}`: not an action or start", a.text),
                        )
                        .hint(hint),
                    );
                }
            }
        }
        Check::Property(p) => {
            let props: Vec<&str> = models
                .iter()
                .flat_map(|m| m.properties.iter().map(|x| x.0))
                .collect();
            if !props.contains(&p.text.as_str()) {
                let hint = did_you_mean(&p.text, props.iter().copied()).unwrap_or_else(|| {
                    if props.is_empty() {
                        "none of this scenario's models checks named properties; use a metric bound such as `expect mean(server.wait) < 10s`".into()
                    } else {
                        format!("properties: {}", props.join(", "))
                    }
                });
                errors.push(
                    Diagnostic::at(
                        file,
                        p.span,
                        format!("no model in this scenario checks `{}`", p.text),
                    )
                    .hint(hint),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use std::collections::BTreeSet;

    use models::schema::{
        ArgSpec, KindSpec, MetricKind, ModelSpec, Need, PropType, VerbSpec, live_prop, metric, prop,
    };

    /// A made-up model with nodes, every action and every property type, so the checker's
    /// generic parts are tested without waiting for a real model that has them all.
    const TOY: ModelSpec = ModelSpec {
        name: "toy",
        doc: "a model for tests",
        kinds: &[KindSpec {
            kind: "cluster",
            doc: "",
            props: &[
                prop("nodes", PropType::Nodes, Need::Required, ""),
                prop("timeout", PropType::DurationRange, Need::Default("1s"), ""),
                prop("buffer", PropType::Size, Need::Default("1KiB"), ""),
                prop("loss", PropType::Probability, Need::Default("0"), ""),
                prop(
                    "mode",
                    PropType::Choice(&["fast", "safe"]),
                    Need::Default("safe"),
                    "",
                ),
                prop(
                    "mix",
                    PropType::Mix(&["get", "put"]),
                    Need::Default("get"),
                    "",
                ),
                prop("keys", PropType::CountDist, Need::Default("1"), ""),
                prop(
                    "replicas",
                    PropType::Count { min: 1, max: 7 },
                    Need::Default("3"),
                    "",
                ),
                prop("name", PropType::Str, Need::Default(""), ""),
                live_prop("rate", PropType::Rate, Need::Default("1/s"), ""),
            ],
            metrics: &[
                metric("latency", MetricKind::Latency, ""),
                metric("commits", MetricKind::Counter, ""),
            ],
        }],
        global_metrics: &[],
        verbs: models::raft::schema::VERBS,
        properties: &[("linearizable", "")],
        events: &[("leader", "")],
        charts: &[],
    };
    const ALL: &[&ModelSpec] = &[&TOY, &models::queueing::schema::SCHEMA];

    fn checked(text: &str) -> Result<Checked, Vec<Diagnostic>> {
        check_with(&parse("t.scn", text).expect("parses"), ALL)
    }

    #[test]
    fn a_scenario_using_every_type_and_action_checks() {
        let c = checked(
            r#"scenario "ok" {
  duration 30s
  cluster c { nodes n01..n05  timeout 150ms..300ms  buffer 64KiB  loss 0.5%  mode fast
              mix [get 70%, put 30%]  keys zipf(1000, 0.99)  replicas 5  name "x"  rate 10/s }
  at 5s partition majorities-ring
  at 6s partition [n01, n02] [n03..n05]
  at 7s { heal  crash leader  restart random(2)  resume n01 }
  every 2s..4s from 10s to 20s clock skew random-node by normal(0ms, 50ms)
  during 21s..25s disk n03 slow(5ms)
  at 22s pause [n01, n02]
  at 23s clock drift n04 by 0.01%
  at 24s load c rate 20/s
  expect linearizable
  expect leader within 3s after heal
  expect p99(c.latency) < 50ms
  expect count(c.commits) > 10
}"#,
        )
        .unwrap();
        assert_eq!(c.nodes, ["n01", "n02", "n03", "n04", "n05"]);
        // The scenario uses every verb, each typed into its own kind (none is `Other`).
        let used: BTreeSet<&str> = c
            .schedule
            .iter()
            .flat_map(|t| &t.actions)
            .map(|a| match a {
                CheckedAction::Load { .. } => "load",
                CheckedAction::Fault(ActionKind::Other { verb, .. }) => panic!("{verb} untyped"),
                CheckedAction::Fault(k) => k.verb(),
            })
            .collect();
        assert_eq!(
            used,
            TOY.verbs.iter().map(|v| v.name).collect::<BTreeSet<_>>()
        );
        let b = &c.blocks[0];
        assert_eq!(b.get("buffer"), Some(&Typed::Size(64 << 10)));
        assert_eq!(b.get("loss"), Some(&Typed::Probability(0.005)));
        assert_eq!(
            b.get("mix"),
            Some(&Typed::Weighted(vec![
                ("get".into(), 70.0),
                ("put".into(), 30.0)
            ]))
        );
        assert_eq!(c.schedule.len(), 8);
        assert!(matches!(
            &c.schedule[7].actions[0],
            CheckedAction::Load { property: "rate", value: Typed::Rate(r), .. } if *r == 20.0
        ));
    }

    #[test]
    fn every_semantic_error_is_found_in_one_pass() {
        let errs = checked(
            r#"scenario "bad" {
  duration 30s
  cluster c { nodes n1..n3  timout 1s  timeout 5/s  replicas 9  mode quick  loss 150% }
  clustr d { }
  at 40s heal
  at 5s crash n9
  at 6s partition triangle
  at 7s load c replicas 4
  every 0s to 10s heal
  during 9s..8s heal
  expect p99(c.latncy) < 5ms
  expect p99(c.commits) > 5
  expect mean(c.latency) < 5
  expect serializable
  expect follower within 1s
}"#,
        )
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        let want = [
            "t.scn:3:29: cluster has no property `timout` (hint: did you mean \"timeout\"?)",
            "t.scn:3:48: `timeout`: expected a duration range such as 150ms..300ms, found a rate",
            "t.scn:3:62: `replicas`: expected a whole number from 1 to 7, found 9",
            "t.scn:3:70: `mode`: `quick` is not one of fast, safe",
            "t.scn:3:82: `loss`: a probability is from 0% to 100% (or 0 to 1)",
            "t.scn:4:3: unknown component kind `clustr` (hint: did you mean \"cluster\"?)",
            "t.scn:5:3: 40s is after the end of the scenario (30s)",
            "t.scn:6:15: unknown node `n9` (hint: did you mean \"n1\"?)",
            "t.scn:7:19: unknown partition shape `triangle`",
            "t.scn:8:16: `load` cannot change `replicas` of a cluster (hint: a cluster can change: rate)",
            "t.scn:9:3: `every` needs a period above zero",
            "t.scn:10:3: `during 9s..8s` ends before it starts",
            "t.scn:11:14: no model produces a metric `c.latncy` (hint: did you mean \"c.latency\"?)",
            "t.scn:12:10: `c.commits` has no statistic `p99`",
            "t.scn:13:28: mean(c.latency) compares with a duration such as 50ms, found an integer",
            "t.scn:14:10: no model in this scenario checks `serializable`",
            "t.scn:15:10: no model in this scenario reports the event `follower`",
        ];
        for w in want {
            assert!(
                text.iter().any(|t| t.starts_with(w)),
                "missing {w:?} in\n{}",
                text.join("\n")
            );
        }
        assert_eq!(errs.len(), want.len(), "{}", text.join("\n"));
    }

    #[test]
    fn a_verb_no_model_in_the_scenario_handles_is_named() {
        let errs = check(
            &parse(
                "q.scn",
                "scenario \"q\" {\n  source a { rate 1/s  to s }\n  station s { service exp(1s) }\n  at 1s crash all\n}",
            )
            .unwrap(),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].to_string().starts_with(
                "q.scn:4:9: `crash`: none of this scenario's models (queueing) reacts to it (hint: models that react to it: raft"
            ),
            "{}",
            errs[0]
        );
    }

    /// A made-up family that reacts to a verb of its own. Its schema is all it takes: the
    /// scenario parses (the group is split by the verb's declared argument), checks, and the
    /// action comes out typed, with no grammar or checker change.
    const ZONES: ModelSpec = ModelSpec {
        name: "zones",
        doc: "regions of a cloud, for tests",
        kinds: &[KindSpec {
            kind: "region",
            doc: "",
            props: &[prop("zones", PropType::Nodes, Need::Required, "")],
            metrics: &[],
        }],
        global_metrics: &[],
        verbs: &[
            VerbSpec {
                name: "zone-outage",
                doc: "Takes zones offline.",
                args: &[ArgSpec::Target],
            },
            VerbSpec {
                name: "throttle",
                doc: "Caps a zone's API calls.",
                args: &[
                    ArgSpec::Target,
                    ArgSpec::Keyword("to"),
                    ArgSpec::Value(PropType::Rate),
                ],
            },
        ],
        properties: &[],
        events: &[],
        charts: &[],
    };

    #[test]
    fn a_family_declares_a_verb_and_scenarios_use_it_with_no_grammar_change() {
        let families: &[&ModelSpec] = &[&ZONES, &models::queueing::schema::SCHEMA];
        let good = "scenario \"z\" {\n  duration 1m\n  region eu { zones [a, b, c] }\n  \
                    at 5s { zone-outage a  throttle [b, c] to 10/s  zone-outage random(2) }\n  \
                    during 10s..20s zone-outage all\n}";
        let s = crate::parse::parse_with("z.scn", good, families).unwrap();
        let c = check_with(&s, families).unwrap_or_else(|e| panic!("{e:?}"));
        let kinds: Vec<&ActionKind> = c
            .schedule
            .iter()
            .flat_map(|t| &t.actions)
            .map(|a| match a {
                CheckedAction::Fault(k) => k,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds.len(), 4);
        assert!(matches!(
            kinds[0],
            ActionKind::Other { verb: "zone-outage", args } if matches!(&args[..], [CheckedArg::Target(Target::Name(n))] if n.text == "a")
        ));
        assert!(matches!(
            kinds[1],
            ActionKind::Other { verb: "throttle", args } if matches!(&args[..], [CheckedArg::Target(Target::Nodes(_)), CheckedArg::Value(Typed::Rate(r))] if *r == 10.0)
        ));
        assert!(matches!(
            kinds[2],
            ActionKind::Other { args, .. } if matches!(&args[..], [CheckedArg::Target(Target::Random(2, _))])
        ));
        // The verb's arguments are checked as any other's.
        let bad = "scenario \"z\" {\n  region eu { zones [a, b] }\n  \
                   at 5s { zone-outage d  throttle a by 10/s }\n}";
        let s = crate::parse::parse_with("z.scn", bad, families).unwrap();
        let text: Vec<String> = check_with(&s, families)
            .unwrap_err()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            text,
            [
                "z.scn:3:23: unknown node `d` (hint: a node (a, b) or one of leader, random-node, minority, majority, all)",
                "z.scn:3:37: `throttle`: expected `to`, found a name (hint: write `throttle TARGET to VALUE`)"
            ]
        );
        // A scenario of another family refuses the verb, naming the family that reacts to it.
        let queue = "scenario \"q\" {\n  station s { service exp(1s) }\n  at 1s zone-outage all\n}";
        let s = crate::parse::parse_with("q.scn", queue, families).unwrap();
        let errs = check_with(&s, families).unwrap_err();
        assert!(
            errs[0].to_string().starts_with("q.scn:3:9: `zone-outage`: none of this scenario's models (queueing) reacts to it (hint: models that react to it: zones)"),
            "{errs:?}"
        );
        // Where no family declares it, the verb is not an action at all.
        let errs = crate::parse::parse("z.scn", good).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "z.scn:4:11: unknown action `zone-outage` (hint: actions: partition, heal, clock, disk, outage, load, crash, restart, pause, resume (`sim models` says which model reacts to which))"
        );
    }

    #[test]
    fn each_argument_is_checked_by_its_shape() {
        let errs = checked(
            r#"scenario "args" {
  duration 30s
  cluster c { nodes n1..n3 }
  at 1s clock skw n1 by 5ms
  at 2s clock skew n1 with 5ms
  at 3s clock drift n1 by 5ms
  at 4s clock skew n1 by exp(0s)
  at 5s disk n1 slw(5ms)
  at 6s disk n1 slow(x)
  at 7s disk n1 errors(150%)
  at 8s partition [n1]
  at 9s partition [n1] [n1, n2]
  at 10s crash random(0)
  at 11s crash random(4)
  at 12s crash exp(1s)
  at 13s load d rate 1/s
  at 14s load c rate 5s
}"#,
        )
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        let want = [
            "t.scn:4:15: `clock`: `skw` is not one of skew, drift (hint: did you mean \"skew\"?)",
            "t.scn:5:23: `clock`: expected `by`, found a name",
            "t.scn:6:27: `clock drift`: expected a fraction such as 0.01% or -0.0001, found a duration",
            "t.scn:7:26: `clock skew`: exp(0s): the mean must be above zero",
            "t.scn:8:17: unknown disk fault `slw(5ms)` (hint: write full, fail-fsync, slow(5ms), errors(1%), corrupt(0.1%), misdirect(0.1%), latent(1%), fail, fail-member(1) or rebuild)",
            "t.scn:9:22: `slow`: expected a duration such as 150ms, found a name",
            "t.scn:10:24: `errors`: a probability is from 0% to 100% (or 0 to 1)",
            "t.scn:11:19: a partition into groups needs two or more",
            "t.scn:12:24: node `n1` is in two groups",
            "t.scn:13:16: random(k) takes a whole number of nodes, at least 1",
            "t.scn:14:16: random(4) picks more nodes than the 3 there are",
            "t.scn:15:16: not a target",
            "t.scn:16:15: there is no component `d` (hint: name a component of this scenario)",
            "t.scn:17:22: expected a rate such as 200/s, found a duration",
        ];
        for w in want {
            assert!(
                text.iter().any(|t| t.starts_with(w)),
                "missing {w:?} in\n{}",
                text.join("\n")
            );
        }
        assert_eq!(errs.len(), want.len(), "{}", text.join("\n"));
    }

    // ---- the world: hosts, placement, references -----------------------------------------

    /// Checks `items` inside a scenario against every real model; each diagnostic as one line.
    fn world(items: &str) -> Result<Checked, Vec<String>> {
        let text = format!("scenario \"w\" {{\n{items}}}\n");
        check(&parse("w.scn", &text).expect("parses"))
            .map_err(|e| e.iter().map(|d| d.to_string()).collect())
    }

    /// The one diagnostic `items` gets, as a line.
    fn one_error(items: &str) -> String {
        let errs = world(items).expect_err("refused");
        assert_eq!(errs.len(), 1, "{}", errs.join("\n"));
        errs.into_iter().next().unwrap_or_default()
    }

    #[test]
    fn the_world_sketch_checks_clean() {
        // WORLD.md's sketch, with the bandwidth written as the language writes a size.
        let c = world(
            "  network lan { latency uniform(100us, 300us)  bandwidth 1GiB }
  host db1..db5 { cpus 2  policy cfs }
  raft kv { on db1..db5  election_timeout 150ms..300ms  cpu_per_message 20us }
  job batch { on db1  cpu 30s  nice -5 }
  load clients { clients 16  rate 2000/s  to kv }
",
        )
        .unwrap_or_else(|e| panic!("{}", e.join("\n")));
        let hosts: Vec<(&str, usize, usize)> = c
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), h.block, h.span.line))
            .collect();
        assert_eq!(
            hosts,
            [
                ("db1", 1, 3),
                ("db2", 1, 3),
                ("db3", 1, 3),
                ("db4", 1, 3),
                ("db5", 1, 3)
            ]
        );
        assert_eq!(c.blocks[1].spec.kind, "host");
        let placement = |name: &str| {
            c.blocks
                .iter()
                .find(|b| b.name == name)
                .map(|b| b.placement.clone())
        };
        let five: Vec<String> = (1..=5).map(|i| format!("db{i}")).collect();
        assert_eq!(placement("kv"), Some(five.clone()));
        assert_eq!(placement("batch"), Some(vec!["db1".to_string()]));
        assert_eq!(placement("clients"), Some(vec![]));
        // The servers are named after their hosts, and so are the fault targets.
        assert_eq!(c.blocks[2].get("nodes"), Some(&Typed::Nodes(five.clone())));
        assert_eq!(c.nodes, five);
        assert_eq!(
            c.blocks[2].get("cpu_per_message"),
            Some(&Typed::Duration(SimDuration::from_micros(20)))
        );
        assert_eq!(c.blocks[4].get("to"), Some(&Typed::Ref("kv".into())));
        assert_eq!(c.models[0].name, "world");
    }

    #[test]
    fn a_load_with_one_raft_refers_to_it_without_to() {
        let c = world("  raft kv { nodes n1..n3 }\n  load c { rate 1/s }\n").expect("checks");
        let load = c.blocks.iter().find(|b| b.name == "c").expect("the load");
        assert_eq!(load.get("to"), Some(&Typed::Ref("kv".into())));
        assert!(c.hosts.is_empty() && load.placement.is_empty());
    }

    #[test]
    fn an_unknown_host_is_named_with_the_nearest() {
        assert_eq!(
            one_error("  host db1..db3 { }\n  raft kv { on [db1, db2, dbb3] }\n"),
            "w.scn:3:27: `on`: there is no host named `dbb3` (hint: did you mean \"db3\"?)"
        );
        assert_eq!(
            one_error("  host db1 { }\n  station s { service exp(1s)  on zzz }\n"),
            "w.scn:3:35: `on`: there is no host named `zzz` (hint: this scenario has: db1)"
        );
    }

    #[test]
    fn a_host_listed_twice_is_refused_where_it_repeats() {
        assert_eq!(
            one_error("  host db1..db3 { }\n  raft kv { on [db1..db3, db2] }\n"),
            "w.scn:3:27: `on`: host `db2` is listed twice (hint: each server runs on a host of its own: list each host once)"
        );
    }

    #[test]
    fn an_empty_placement_is_refused() {
        assert_eq!(
            one_error("  host db1 { }\n  raft kv { on [] }\n"),
            "w.scn:3:16: `on`: this places on no host (hint: name a host, such as `on db1`, or several, such as `on [db1, db2]`)"
        );
    }

    #[test]
    fn a_one_host_service_given_several_is_refused() {
        assert_eq!(
            one_error("  host db1..db2 { }\n  station s { on db1..db2  service exp(1s) }\n"),
            "w.scn:3:18: `on`: this runs on one host; found 2: db1, db2 (hint: write one host, such as `on db1`)"
        );
    }

    #[test]
    fn a_service_placed_nowhere_among_declared_hosts_is_named() {
        assert_eq!(
            one_error("  host db1 { }\n  job batch { cpu 1s }\n"),
            "w.scn:3:7: job batch is placed nowhere, and the scenario declares hosts (hint: add `on db1`)"
        );
        assert_eq!(
            one_error("  host db1 { }\n  station s { service exp(1s) }\n"),
            "w.scn:3:11: station s is placed nowhere, and the scenario declares hosts (hint: add `on db1`)"
        );
        // Not also "needs `nodes` or `on`": placement is what is missing.
        assert_eq!(
            one_error("  host a1..a3 { }\n  raft kv { }\n"),
            "w.scn:3:8: raft kv is placed nowhere, and the scenario declares hosts (hint: add `on a1`)"
        );
        assert_eq!(
            one_error("  host a1..a3 { }\n  raft kv { nodes n1..n3 }\n"),
            "w.scn:3:8: raft kv is placed nowhere, and the scenario declares hosts (hint: the scenario declares hosts: replace `nodes` with `on a1..`; the servers are named after their hosts)"
        );
        // A load and a source may stand outside every host.
        world("  host a1 { }\n  raft kv { on a1 }\n  load c { rate 1/s }\n").expect("checks");
        world("  host a1 { }\n  source x { rate 1/s  to s }\n  station s { service exp(1s)  on a1 }\n")
            .expect("checks");
    }

    #[test]
    fn placing_without_hosts_asks_for_a_host_block() {
        assert_eq!(
            one_error("  cpu m { policy fifo }\n  job b { on m  cpu 1s }\n"),
            "w.scn:3:14: `on`: the scenario declares no hosts to place on (hint: declare one, such as `host db1 { }`; or leave out `on`: without hosts, each service runs on an implicit host of its own)"
        );
    }

    #[test]
    fn host_names_are_component_names() {
        assert_eq!(
            one_error("  host kv { }\n  raft kv { on kv }\n"),
            "w.scn:3:8: `kv` is already the name of another component (hint: first defined at w.scn:2; name each component)"
        );
        let errs = world("  host s1..s3 { }\n  station s2 { service exp(1s)  on s1 }\n")
            .expect_err("refused");
        assert!(
            errs.iter()
                .any(|e| e.starts_with("w.scn:3:11: `s2` is already the name of another component")),
            "{}",
            errs.join("\n")
        );
    }

    #[test]
    fn a_reference_to_the_wrong_kind_says_what_it_names() {
        assert_eq!(
            one_error("  host db1 { }\n  raft kv { on db1 }\n  load c { rate 1/s  to db1 }\n"),
            "w.scn:4:25: `to`: `db1` is a host, not a raft or a cache (hint: this scenario has: kv)"
        );
        assert_eq!(
            one_error("  raft kv { nodes n1..n3 }\n  load c { rate 1/s  to kvv }\n"),
            "w.scn:3:25: `to`: there is no raft or cache named `kvv` (hint: did you mean \"kv\"?)"
        );
        assert_eq!(
            one_error("  host db1 { }\n  raft kv { on kv }\n"),
            "w.scn:3:16: `on`: `kv` is a raft, not a host (hint: this scenario has: db1)"
        );
        // Routes are references too.
        assert_eq!(
            one_error(
                "  host db1 { }\n  source a { rate 1/s  to db1 }\n  station s { service exp(1s)  on db1 }\n"
            ),
            "w.scn:3:27: `to`: `db1` is a host, not a station or exit (hint: this scenario has: s, exit)"
        );
    }

    #[test]
    fn a_load_without_to_needs_exactly_one_raft() {
        assert_eq!(
            one_error(
                "  raft a { nodes n1..n3 }\n  raft b { nodes m1..m3 }\n  load c { rate 1/s }\n"
            ),
            "w.scn:4:8: load c needs `to`: the scenario has 2 blocks of that kind (a, b) (hint: add `to a`)"
        );
        assert_eq!(
            one_error("  load c { rate 1/s }\n"),
            "w.scn:2:8: load c needs a raft or a cache for `to`, and the scenario has none (hint: add a raft or a cache block)"
        );
    }

    #[test]
    fn only_a_host_block_names_a_range_and_the_range_must_expand() {
        assert_eq!(
            one_error("  station s1..s3 { service exp(1s) }\n"),
            "w.scn:2:11: a station block has one name, not a range (hint: name it with one word; only `host` blocks declare several at once (`host db1..db3 { }`))"
        );
        assert_eq!(
            one_error("  host db5..db1 { }\n"),
            "w.scn:2:8: the range db5..db1 runs backwards"
        );
        assert_eq!(
            one_error("  host db1..web3 { }\n"),
            "w.scn:2:8: the ends of a host range share a prefix; found `db` and `web`"
        );
    }

    /// The checker offers a heatmap's bounds on exactly the statistics its value has: every
    /// stat `stats_of` names is answered, and no other stat is.
    #[test]
    fn a_heatmaps_checkable_stats_are_the_ones_its_value_has() {
        let v = simcore::MetricValue::Heatmap {
            rows: vec![("p0".into(), vec![1, 9]), ("p1".into(), vec![4, 2])],
            bucket_ns: 1_000_000_000,
        };
        let offered = stats_of(MetricKind::Heatmap);
        for stat in STATS {
            assert_eq!(
                v.stat(stat).is_some(),
                offered.contains(stat),
                "{stat}: {:?}",
                v.stat(stat)
            );
        }
        assert_eq!((v.stat("count"), v.stat("max")), (Some(2.0), Some(9.0)));
    }
}

//! The parsed form of a `.scn` file: every node keeps its source span for diagnostics.

use std::fmt;
use std::sync::Arc;

use simcore::SimDuration;

/// The file an item came from (the scenario itself or an included file), for messages.
pub type FileName = Arc<str>;

/// Where a node sits in its file: byte offsets and the 1-based line and column of its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub col: usize,
}

/// A name with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

/// A whole scenario file (after `include`s are resolved, their items are in place).
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file as the user named it, for messages.
    pub file: String,
    /// `None` for a fragment (a file meant to be included, with no `scenario` header).
    pub name: Option<String>,
    pub seed: Option<(u64, Span)>,
    pub duration: Option<(SimDuration, Span)>,
    pub blocks: Vec<Block>,
    pub expects: Vec<Expect>,
    pub schedule: Vec<Timed>,
    pub sweeps: Vec<Sweep>,
    pub includes: Vec<Include>,
}

/// `include "common.scn"`: the items of another file, in place.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    pub path: String,
    pub span: Span,
}

/// `sweep component.property in [a, b, c]`: one run per value (per combination, with several).
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub file: FileName,
    pub path: Ident,
    pub values: Vec<Value>,
    pub span: Span,
}

/// `kind name { key value ... }`: one component of a model. The name may be left out when a
/// scenario has one component of that kind (`network { ... }`); it then defaults to the kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub file: FileName,
    pub kind: Ident,
    pub name: Option<Ident>,
    pub props: Vec<Property>,
    pub span: Span,
}

impl Block {
    /// The component's name: the one given, or the kind.
    pub fn name(&self) -> &Ident {
        self.name.as_ref().unwrap_or(&self.kind)
    }
}

/// When an action happens.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// `at 5s`
    At(SimDuration),
    /// `every 2s..4s from 20s to 26s`: a period (fixed, or drawn uniformly from a range each
    /// time), with optional first and last times.
    Every {
        min: SimDuration,
        max: SimDuration,
        from: Option<SimDuration>,
        to: Option<SimDuration>,
    },
    /// `during 5s..9s`: the action holds from the first time and is undone at the second.
    During { from: SimDuration, to: SimDuration },
}

/// Actions scheduled in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub file: FileName,
    pub when: When,
    pub actions: Vec<Action>,
    pub span: Span,
}

/// One action: a verb and its arguments, as written (`crash leader`, `clock skew n1 by 50ms`).
/// The verb is one a model declares ([`models::schema::VerbSpec`]); the parser has split the
/// arguments by the verb's declared shape, and the checker types them.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub verb: Ident,
    pub args: Vec<Value>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub key: Ident,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

/// A typed literal. Units are resolved while parsing: durations to nanoseconds, rates to events
/// per second, sizes to bytes, percentages to their number (`30%` is `30.0`).
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    Integer(i64),
    Float(f64),
    Duration(SimDuration),
    Rate {
        per_sec: f64,
    },
    /// Bytes.
    Size(u64),
    Percent(f64),
    Str(String),
    Bool(bool),
    Ident(String),
    List(Vec<Entry>),
    /// `150ms..300ms`, `n1..n5`, `0.1..0.5`: both ends are scalars.
    Range(Box<Value>, Box<Value>),
    /// A distribution or other function-like value: `exp(1s)`, `uniform(1ms, 5ms)`.
    Call {
        name: String,
        args: Vec<Value>,
    },
}

/// A list entry: a value, optionally followed by a weight (`[left 30%, right 70%]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    pub weight: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            CmpOp::Lt => actual < bound,
            CmpOp::Le => actual <= bound,
            CmpOp::Gt => actual > bound,
            CmpOp::Ge => actual >= bound,
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

/// What an `expect` line states.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// `expect p99(kv.latency) < 50ms`: a bound on a metric at the end of the run.
    Metric {
        stat: Ident,
        metric: Ident,
        op: CmpOp,
        bound: Value,
    },
    /// `expect leader within 3s after heal`: an event must follow another within a time.
    Liveness {
        event: Ident,
        within: SimDuration,
        after: Option<Ident>,
    },
    /// `expect linearizable`: a named property that a model checks.
    Property(Ident),
}

/// One `expect` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub file: FileName,
    pub check: Check,
    /// The check as written (whitespace normalised), for reports.
    pub text: String,
    pub span: Span,
}

impl ValueKind {
    /// What the user wrote, as a noun phrase for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::Integer(_) => "an integer",
            ValueKind::Float(_) => "a number",
            ValueKind::Duration(_) => "a duration",
            ValueKind::Rate { .. } => "a rate",
            ValueKind::Size(_) => "a size",
            ValueKind::Percent(_) => "a percentage",
            ValueKind::Str(_) => "a string",
            ValueKind::Bool(_) => "a boolean",
            ValueKind::Ident(_) => "a name",
            ValueKind::List(_) => "a list",
            ValueKind::Range(..) => "a range",
            ValueKind::Call { .. } => "a distribution",
        }
    }
}

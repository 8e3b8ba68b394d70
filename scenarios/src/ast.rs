//! The parsed form of a `.scn` file: every node keeps its source span for diagnostics.

use std::fmt;

use simcore::SimDuration;

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

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file as the user named it, for messages.
    pub file: String,
    pub name: String,
    pub seed: Option<u64>,
    pub duration: Option<(SimDuration, Span)>,
    pub blocks: Vec<Block>,
    pub expects: Vec<Expect>,
}

/// `kind name { key value ... }`: one component of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: Ident,
    pub name: Ident,
    pub props: Vec<Property>,
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
/// per second, percentages to their number (`30%` is `30.0`).
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    Integer(i64),
    Float(f64),
    Duration(SimDuration),
    Rate {
        per_sec: f64,
    },
    Percent(f64),
    Str(String),
    Bool(bool),
    Ident(String),
    List(Vec<Entry>),
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

/// `expect stat(component.metric) op value`: a bound on a metric at the end of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub stat: Ident,
    pub metric: Ident,
    pub op: CmpOp,
    pub bound: Value,
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
            ValueKind::Percent(_) => "a percentage",
            ValueKind::Str(_) => "a string",
            ValueKind::Bool(_) => "a boolean",
            ValueKind::Ident(_) => "a name",
            ValueKind::List(_) => "a list",
            ValueKind::Call { .. } => "a distribution",
        }
    }
}

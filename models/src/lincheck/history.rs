//! KV operation histories: what clients did, as a sequence of events, and its text format.
//!
//! # Text format
//! One event per line, in the order they happened; `#` starts a comment; blank lines are ignored.
//!
//! ```text
//! PROCESS TYPE FUNCTION ARGS... [key=KEY]
//! ```
//!
//! - PROCESS: any word naming the client (`p1`, `0`); each has at most one operation in flight.
//! - TYPE: `invoke` (the call), then one of `ok` (it happened, with this result), `fail` (it
//!   certainly did not happen) or `info` (unknown: it may or may not have happened).
//! - FUNCTION and ARGS: `read V` (V is the value read, `nil` for none; `_` where there is no value:
//!   at invoke, and for a `fail` or `info` read), `write V`, `cas OLD NEW` (compare-and-set).
//!   Values are 64-bit integers.
//! - A completed cas may add its result: `ok cas OLD NEW false` says the cas completed and
//!   answered that the register did not hold OLD (an observation, like a read: it changed
//!   nothing); `ok cas OLD NEW` and `ok cas OLD NEW true` say it swapped. This is not `fail`: a
//!   `fail` operation certainly did not happen and is dropped, so a server that wrongly answers
//!   "the value differed" is caught only when the answer is recorded as `ok ... false`.
//! - `key=KEY` (optional, default the empty key): operations on different keys are checked
//!   separately.
//!
//! An `invoke` with no completion by the end of the history counts as `info`.

use std::fmt;

/// One operation's function and arguments (and, for a read, the value it returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A read that returned this value (`None`: no value), or `None` while unknown.
    Read(Option<i64>),
    Write(i64),
    /// A compare-and-set from OLD to NEW that swapped (`ok`), or may have (`info`, or not yet
    /// completed).
    Cas(i64, i64),
    /// A compare-and-set that completed with a false result: the register did not hold OLD at
    /// its instant, and it changed nothing.
    CasFalse(i64, i64),
}

impl Op {
    /// Whether `self` and `other` are the same call, whatever their results: how a completion
    /// is matched with its invoke.
    pub fn same_call(self, other: Op) -> bool {
        match (self, other) {
            (Op::Read(_), Op::Read(_)) => true,
            (Op::Write(a), Op::Write(b)) => a == b,
            (Op::Cas(a, b) | Op::CasFalse(a, b), Op::Cas(c, d) | Op::CasFalse(c, d)) => {
                (a, b) == (c, d)
            }
            _ => false,
        }
    }

    /// Whether the operation only observes the register (a read, a cas answered false): one
    /// whose outcome is unknown then says nothing and can be dropped.
    pub fn observes_only(self) -> bool {
        matches!(self, Op::Read(_) | Op::CasFalse(..))
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Read(Some(v)) => write!(f, "read {v}"),
            Op::Read(None) => write!(f, "read nil"),
            Op::Write(v) => write!(f, "write {v}"),
            Op::Cas(a, b) => write!(f, "cas {a} {b}"),
            Op::CasFalse(a, b) => write!(f, "cas {a} {b} false"),
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Fail,
    /// Unknown: it may have taken effect at any time after its call, or never.
    Info,
}

/// A whole operation: its call and its completion, as positions in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub process: String,
    pub key: String,
    pub op: Op,
    pub outcome: Outcome,
    /// Index of the invoke event, and of the completion (`None` if it never came).
    pub call: usize,
    pub ret: Option<usize>,
    /// The lines of the invoke and of the completion, for messages.
    pub call_line: usize,
    pub ret_line: Option<usize>,
}

impl Operation {
    /// The operation as the history writes it: a read that did not complete `ok` has no value
    /// (`read _`), rather than the `nil` of a read that found none.
    pub fn op_text(&self) -> String {
        match (&self.op, self.outcome) {
            (Op::Read(_), Outcome::Fail | Outcome::Info) => "read _".to_string(),
            (op, _) => op.to_string(),
        }
    }
}

/// A problem in a history file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct HistoryError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// The most events a history may hold.
pub const MAX_EVENTS: usize = 10_000_000;

fn value(tok: &str, line: usize, col: usize) -> Result<Option<i64>, HistoryError> {
    if tok == "nil" {
        return Ok(None);
    }
    tok.parse::<i64>().map(Some).map_err(|_| HistoryError {
        line,
        col,
        message: format!("`{tok}` is not a value (a 64-bit integer, or nil)"),
    })
}

/// Parses one event's FUNCTION and ARGS (`f` with its column) for an event of type `ty`.
fn parse_op(
    ty: &str,
    (fcol, f): (usize, &str),
    args: &[(usize, &str)],
    line: usize,
) -> Result<Op, HistoryError> {
    let err = |col: usize, message: String| HistoryError { line, col, message };
    let arity = match f {
        "read" | "write" => 1,
        "cas" => 2,
        other => {
            return Err(err(
                fcol,
                format!("unknown function `{other}`: read, write or cas"),
            ));
        }
    };
    // A completed cas may say its result after its arguments.
    let result = (f == "cas" && args.len() == arity + 1).then(|| args[arity]);
    if args.len() != arity && result.is_none() {
        let also = if f == "cas" {
            " (and a completed one its result, true or false)"
        } else {
            ""
        };
        return Err(err(
            fcol,
            format!("`{f}` takes {arity} value(s){also}, found {}", args.len()),
        ));
    }
    let parsed = |k: usize| -> Result<Option<i64>, HistoryError> {
        let (c, t) = args[k];
        if f == "read" && t == "_" {
            // A call, and a read that failed or whose outcome is unknown, have no value; a read
            // that completed (ok) says what it read.
            return if ty == "ok" {
                Err(err(
                    c,
                    "a read that completed (ok) says the value it read (or nil), not `_`".into(),
                ))
            } else {
                Ok(None)
            };
        }
        value(t, line, c)
    };
    let need = |k: usize| -> Result<i64, HistoryError> {
        parsed(k)?.ok_or_else(|| err(args[k].0, format!("`{f}` needs a number here, not nil")))
    };
    Ok(match f {
        "read" => Op::Read(parsed(0)?),
        "write" => Op::Write(need(0)?),
        _ => {
            let (old, new) = (need(0)?, need(1)?);
            match result {
                None => Op::Cas(old, new),
                Some((c, _)) if ty != "ok" => {
                    return Err(err(
                        c,
                        format!("only a completed (ok) cas says its result; a `{ty}` cas has none"),
                    ));
                }
                Some((_, "true")) => Op::Cas(old, new),
                Some((_, "false")) => Op::CasFalse(old, new),
                Some((c, other)) => {
                    return Err(err(
                        c,
                        format!("`{other}` is not a cas result: true or false"),
                    ));
                }
            }
        }
    })
}

/// Parses a history in the text format above into its operations, in call order.
pub fn parse_history(text: &str) -> Result<Vec<Operation>, HistoryError> {
    let mut ops: Vec<Operation> = Vec::new();
    // Per process, the operation in flight.
    let mut open: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut event = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("");
        // Tokens with their 1-based columns.
        let mut toks: Vec<(usize, &str)> = Vec::new();
        let mut start = None;
        for (j, c) in content
            .char_indices()
            .chain(std::iter::once((content.len(), ' ')))
        {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some(j),
                (true, Some(s)) => {
                    toks.push((s + 1, &content[s..j]));
                    start = None;
                }
                _ => {}
            }
        }
        if toks.is_empty() {
            continue;
        }
        let err = |col: usize, message: String| HistoryError { line, col, message };
        if event >= MAX_EVENTS {
            return Err(err(1, format!("more than {MAX_EVENTS} events")));
        }
        let mut key = String::new();
        if let Some((_, last)) = toks.last() {
            if let Some(k) = last.strip_prefix("key=") {
                key = k.to_string();
                toks.pop();
            }
        }
        if toks.len() < 3 {
            return Err(err(
                1,
                "expected `PROCESS TYPE FUNCTION ARGS...`, such as `p1 invoke write 3`".into(),
            ));
        }
        let (_, process) = toks[0];
        let (tcol, ty) = toks[1];
        let (fcol, f) = toks[2];
        // `None` for a call, else how the operation ended.
        let completion = match ty {
            "invoke" => None,
            "ok" => Some(Outcome::Ok),
            "fail" => Some(Outcome::Fail),
            "info" => Some(Outcome::Info),
            other => {
                return Err(err(
                    tcol,
                    format!("unknown event type `{other}`: invoke, ok, fail or info"),
                ));
            }
        };
        let op = parse_op(ty, (fcol, f), &toks[3..], line)?;
        match completion {
            None => {
                if let Some(&o) = open.get(process) {
                    return Err(err(
                        tcol,
                        format!(
                            "process `{process}` invokes while its operation from line {} is still open",
                            ops[o].call_line
                        ),
                    ));
                }
                open.insert(process.to_string(), ops.len());
                ops.push(Operation {
                    process: process.to_string(),
                    key,
                    op,
                    outcome: Outcome::Info,
                    call: event,
                    ret: None,
                    call_line: line,
                    ret_line: None,
                });
            }
            Some(outcome) => {
                let Some(o) = open.remove(process) else {
                    return Err(err(
                        tcol,
                        format!("process `{process}` completes an operation it never invoked"),
                    ));
                };
                let called = &mut ops[o];
                if !called.op.same_call(op) || called.key != key {
                    return Err(err(
                        fcol,
                        format!(
                            "this completes `{}` (line {}) but says `{op}`",
                            called.op, called.call_line
                        ),
                    ));
                }
                called.outcome = outcome;
                if outcome == Outcome::Ok {
                    called.op = op; // a read's or a cas's result is known at completion
                }
                called.ret = Some(event);
                called.ret_line = Some(line);
            }
        }
        event += 1;
    }
    Ok(ops)
}

//! Linearizability of key-value histories: is there an order of the operations, each taking
//! effect at one instant between its call and its completion, that a single register per key
//! explains? `info` operations (outcome unknown) may take effect or not.
//!
//! [`history`] reads the text format; [`search`] decides one key; [`check`] runs every key and,
//! for a key that fails, finds the shortest prefix of its history that already fails, which is
//! what a person wants to read.

pub mod generate;
pub mod history;
pub mod search;

use std::collections::BTreeMap;

pub use history::{HistoryError, Op, Operation, Outcome, parse_history};
pub use search::Verdict;

/// The default search budget per key (steps of the backtracking search).
pub const DEFAULT_BUDGET: u64 = 50_000_000;

/// The verdict on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReport {
    pub key: String,
    pub operations: usize,
    pub verdict: Verdict,
    /// For a key that is not linearizable: the operations of the shortest prefix of its history
    /// (by events) that is already not linearizable, in call order.
    pub counterexample: Vec<Operation>,
}

impl KeyReport {
    /// What is wrong with this key for a person, as a run's `linearizable` violation reads:
    /// for a key that is not linearizable, the end of its shortest failing prefix (the window
    /// ends with the operation that cannot be placed; its last few operations show the
    /// conflict); for one undecided within `budget` steps, that. None when it is linearizable.
    /// Shared by the simulated cluster and `native run`.
    pub fn problem(&self, budget: u64) -> Option<String> {
        match self.verdict {
            Verdict::Linearizable => None,
            Verdict::NotLinearizable => {
                let w = &self.counterexample;
                let shown: Vec<String> = w[w.len().saturating_sub(6)..]
                    .iter()
                    .map(|o| {
                        let outcome = match o.outcome {
                            Outcome::Ok => "ok",
                            Outcome::Fail => "fail",
                            Outcome::Info => "info",
                        };
                        format!("p{} {} {outcome}", o.process, o.op_text())
                    })
                    .collect();
                Some(format!(
                    "key {}: not linearizable ({} operations); the shortest failing prefix has {} operations, ending: {}",
                    self.key,
                    self.operations,
                    w.len(),
                    shown.join("; ")
                ))
            }
            Verdict::Unknown { .. } => Some(format!(
                "key {}: undecided within {budget} search steps ({} operations)",
                self.key, self.operations
            )),
        }
    }
}

/// Checks every key of `ops`, each within `budget` search steps.
pub fn check(ops: &[Operation], budget: u64) -> Vec<KeyReport> {
    let mut by_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for o in ops {
        by_key.entry(o.key.as_str()).or_default().push(o);
    }
    by_key
        .into_iter()
        .map(|(key, list)| {
            let verdict = search::check_key(&list, budget);
            let counterexample = if verdict == Verdict::NotLinearizable {
                shortest_failing_prefix(&list, budget)
            } else {
                Vec::new()
            };
            KeyReport {
                key: key.to_string(),
                operations: list.len(),
                verdict,
                counterexample,
            }
        })
        .collect()
}

/// The operations as they stood after event `cut`: later completions become unknown (`info`),
/// later calls disappear.
fn prefix(ops: &[&Operation], cut: usize) -> Vec<Operation> {
    ops.iter()
        .filter(|o| o.call <= cut)
        .map(|o| {
            let mut o = (*o).clone();
            if o.ret.is_some_and(|r| r > cut) {
                o.ret = None;
                o.ret_line = None;
                o.outcome = Outcome::Info;
            }
            o
        })
        .collect()
}

/// Binary search for the first event after which the history is no longer linearizable
/// (a prefix of a linearizable history is linearizable, so the property is monotone).
fn shortest_failing_prefix(ops: &[&Operation], budget: u64) -> Vec<Operation> {
    let last = ops
        .iter()
        .map(|o| o.ret.unwrap_or(o.call))
        .max()
        .unwrap_or(0);
    let fails = |cut: usize| {
        let p = prefix(ops, cut);
        let refs: Vec<&Operation> = p.iter().collect();
        search::check_key(&refs, budget) == Verdict::NotLinearizable
    };
    let (mut lo, mut hi) = (0usize, last);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if fails(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    prefix(ops, lo)
}

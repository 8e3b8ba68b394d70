//! The linearizability search: Wing & Gong's backtracking over a history, with Lowe's
//! memoisation of (set of linearized operations, model state) pairs, as Porcupine and Knossos do.
//!
//! The history is a list of call and return entries in time order. The search walks it: at a
//! call, it tries to linearize that operation now (apply it to the model; if the model accepts
//! and the resulting configuration was not seen before, remove the operation's two entries and
//! start again from the front); at a return, the operation should already have been linearized,
//! so it backtracks to the last choice and tries the next call instead. It succeeds when every
//! `ok` operation is linearized. `info` operations have no return entry: they may take effect at
//! any point after their call, or never. `fail` operations and unknown observations (`info`
//! reads) are dropped first (they changed nothing and said nothing). A cas answered false is an
//! observation, as in Porcupine's etcd model: at its instant the register did not hold the
//! expected value, and it stays as it was.
//!
//! An observation that fits the register where the search stands is linearized there, and the
//! alternative of skipping it is never tried: if an order with the observation later existed,
//! moving it to here would give another (it changes nothing, and every operation that returned
//! before its call is already linearized, or the search would not have reached its call). So
//! when taking it fails, the search backtracks past it at once. Without this, each set of
//! pending observations taken or skipped is a configuration of its own, and a history with many
//! concurrent reads and cas answered false takes exponential time.

use std::collections::BTreeSet;

use super::history::{Op, Operation, Outcome};

/// The register a key holds: `None` until the first write.
pub type State = Option<i64>;

/// Applies `op` to `state`: the new state if the operation could have happened there.
fn step(state: State, op: Op, outcome: Outcome) -> Option<State> {
    match op {
        Op::Read(v) => (outcome != Outcome::Ok || v == state).then_some(state),
        Op::Write(v) => Some(Some(v)),
        // An unknown (info) cas either succeeded, which needs `old`, or did nothing, which the
        // search covers by never linearizing it: so the same rule serves both.
        Op::Cas(old, new) => (state == Some(old)).then_some(Some(new)),
        Op::CasFalse(old, _) => (state != Some(old)).then_some(state),
    }
}

/// The verdict on one key's operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// The search gave up after this many steps (the problem is NP-complete in general).
    Unknown {
        steps: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    op: usize,
    is_call: bool,
}

/// The memo's key for a set of linearized operations: the XOR of a 128-bit pseudo-random tag per
/// operation, kept up to date as operations are linearized and taken back (Zobrist hashing).
/// Comparing sets by tag instead of element by element keeps each search step O(1) instead of
/// O(n); two different sets share a tag with probability about 2^-128 per pair, so over even
/// 10^12 memo entries the chance that a branch is wrongly pruned is below 10^-14.
fn tag(op: usize) -> u128 {
    // SplitMix64 twice, from the operation's index: fixed, so verdicts are reproducible.
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let a = mix(op as u64);
    (u128::from(a) << 64) | u128::from(mix(a ^ 0x5851_F42D_4C95_7F2D))
}

/// Checks the operations of one key (all of `ops` are taken to be on the same key), within a
/// budget of search steps.
pub fn check_key(ops: &[&Operation], budget: u64) -> Verdict {
    let ops: Vec<&Operation> = ops
        .iter()
        .copied()
        .filter(|o| match o.outcome {
            Outcome::Ok => true,
            Outcome::Fail => false,
            Outcome::Info => !o.op.observes_only(),
        })
        .collect();
    if ops.is_empty() {
        return Verdict::Linearizable;
    }
    // Entries in time order; an `info` operation has a call only.
    let mut timeline: Vec<(usize, Entry)> = Vec::with_capacity(2 * ops.len());
    for (i, o) in ops.iter().enumerate() {
        timeline.push((
            o.call,
            Entry {
                op: i,
                is_call: true,
            },
        ));
        if o.outcome == Outcome::Ok {
            let ret = o.ret.expect("an ok operation has a completion");
            timeline.push((
                ret,
                Entry {
                    op: i,
                    is_call: false,
                },
            ));
        }
    }
    timeline.sort_by_key(|(t, _)| *t);
    let entries: Vec<Entry> = timeline.into_iter().map(|(_, e)| e).collect();
    let mut list = List::new(entries.len());
    let head = list.head;
    let mut ret_of = vec![None; ops.len()];
    for (i, e) in entries.iter().enumerate() {
        if !e.is_call {
            ret_of[e.op] = Some(i);
        }
    }
    let mut ok_left = ops.iter().filter(|o| o.outcome == Outcome::Ok).count();
    let mut state: State = None;
    let mut linearized: u128 = 0;
    let mut seen: BTreeSet<(u128, State)> = BTreeSet::new();
    // The choices made: (entry index of the call, state before it).
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut cursor = list.next[head];
    let mut steps = 0u64;
    loop {
        if ok_left == 0 {
            return Verdict::Linearizable;
        }
        steps += 1;
        if steps > budget {
            return Verdict::Unknown { steps };
        }
        // At the end (only `info` calls remain and an `ok` operation is still open), or at a
        // return whose operation is not linearized yet: undo the last choice, and past an
        // observation the one before it too (skipping an observation that fit is never needed).
        if cursor == END || !entries[cursor].is_call {
            loop {
                let Some((call, before)) = stack.pop() else {
                    return Verdict::NotLinearizable;
                };
                cursor = undo(
                    call,
                    before,
                    &entries,
                    &ops,
                    &ret_of,
                    &mut list,
                    &mut state,
                    &mut linearized,
                    &mut ok_left,
                );
                if !ops[entries[call].op].op.observes_only() {
                    break;
                }
            }
            continue;
        }
        let e = entries[cursor];
        let o = ops[e.op];
        if let Some(after) = step(state, o.op, o.outcome) {
            let bits = linearized ^ tag(e.op);
            if seen.insert((bits, after)) {
                stack.push((cursor, state));
                state = after;
                linearized = bits;
                if o.outcome == Outcome::Ok {
                    ok_left -= 1;
                }
                list.unlink(cursor);
                if let Some(r) = ret_of[e.op] {
                    list.unlink(r);
                }
                cursor = list.next[head];
                continue;
            }
            if o.op.observes_only() {
                // Taking this observation here was already tried and failed, so skipping it
                // cannot succeed either: backtrack.
                cursor = END;
                continue;
            }
        }
        cursor = list.next[cursor];
    }
}

const END: usize = usize::MAX;

/// A doubly linked list over entry indices `0..n`, with a sentinel head at `n`. Unlinking keeps
/// an entry's own links, so relinking in reverse order restores the list exactly (dancing links).
struct List {
    next: Vec<usize>,
    prev: Vec<usize>,
    head: usize,
}

impl List {
    fn new(n: usize) -> Self {
        let mut next: Vec<usize> = (1..n).collect();
        next.push(END);
        next.push(if n > 0 { 0 } else { END }); // head
        let mut prev = vec![n];
        prev.extend(0..n.saturating_sub(1));
        prev.push(END); // head has no predecessor
        List {
            next,
            prev,
            head: n,
        }
    }
    fn unlink(&mut self, i: usize) {
        let (p, q) = (self.prev[i], self.next[i]);
        self.next[p] = q;
        if q != END {
            self.prev[q] = p;
        }
    }
    fn relink(&mut self, i: usize) {
        let (p, q) = (self.prev[i], self.next[i]);
        self.next[p] = i;
        if q != END {
            self.prev[q] = i;
        }
    }
}

/// Takes back the choice of linearizing the operation called at entry `call`; returns where the
/// search goes on: the entry after that call.
#[allow(clippy::too_many_arguments)]
fn undo(
    call: usize,
    before: State,
    entries: &[Entry],
    ops: &[&Operation],
    ret_of: &[Option<usize>],
    list: &mut List,
    state: &mut State,
    linearized: &mut u128,
    ok_left: &mut usize,
) -> usize {
    let op = entries[call].op;
    // Relink in the reverse order of unlinking: the return first, then the call.
    if let Some(r) = ret_of[op] {
        list.relink(r);
    }
    list.relink(call);
    *state = before;
    *linearized ^= tag(op);
    if ops[op].outcome == Outcome::Ok {
        *ok_left += 1;
    }
    list.next[call]
}

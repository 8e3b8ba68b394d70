//! Raft's safety properties (Raft paper figure 3), checked after every event.
//!
//! - **Election safety**: at most one leader per term.
//! - **Leader append-only**: a leader never overwrites or deletes entries of its own log.
//! - **Log matching**: two logs that hold an entry with the same index and term are identical up
//!   to that index.
//! - **Leader completeness**: a leader holds every entry committed before its term.
//! - **State-machine safety**: no two nodes commit (and so apply) different entries at one index.
//!
//! Checking after every event must cost little, so the checker keeps for each node a *shadow*:
//! the prefix hash of its log at every index (`h(i) = mix(h(i-1), entry i)`, so equal hashes
//! mean equal prefixes, up to 64-bit collisions), updated only from the lowest index the node's
//! log changed since the last look ([`Log::take_dirty_from`]). A global table maps each
//! (index, term) ever seen to its prefix hash (log matching), and the committed prefix is kept
//! as hashes too. Each look is O(1) plus the entries that changed.
//!
//! [`Log::take_dirty_from`]: super::log::Log::take_dirty_from

use std::collections::BTreeMap;

use super::kv::KvOp;
use super::node::RaftNode;
use super::types::{Entry, Index, NodeId, Payload, Role, Term};

/// A broken property: its name and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub property: &'static str,
    pub detail: String,
}

/// The property names, as violations report them.
pub const PROPERTIES: &[&str] = &[
    "election-safety",
    "leader-append-only",
    "log-matching",
    "leader-completeness",
    "state-machine-safety",
];

/// Unknown hash (a committed index never seen by the checker, under a snapshot).
const UNKNOWN: u64 = 0;

/// The prefix hash of the empty log (index 0).
const ROOT: u64 = 0x6a09_e667_f3bc_c908;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The prefix hash after `entry`, given the prefix hash before it. Never [`UNKNOWN`] (a
/// collision with it is nudged away).
fn chain(prev: u64, entry: &Entry) -> u64 {
    let mut h = mix(prev ^ entry.term.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    match &entry.payload {
        Payload::Noop => h = mix(h ^ 1),
        Payload::Command(c) => {
            h = mix(h ^ c.session ^ c.seq.rotate_left(32));
            let (kind, a, b, k) = match c.op {
                KvOp::Get { key } => (2, 0, 0, key),
                KvOp::Put { key, value } => (3, value, 0, key),
                KvOp::Cas { key, expect, new } => (4, expect, new, key),
            };
            h = mix(h ^ kind ^ (u64::from(k) << 8));
            h = mix(h ^ a as u64);
            h = mix(h ^ (b as u64).rotate_left(17));
        }
    }
    h.max(1)
}

/// The checker's copy of one node's log, as prefix hashes.
#[derive(Debug, Clone, Default)]
struct Shadow {
    /// `hashes[k]` is the prefix hash at index `base + k` (index `base` is the snapshot's).
    base: Index,
    hashes: Vec<u64>,
    role: Option<Role>,
    term: Term,
    commit: Index,
}

impl Shadow {
    fn last(&self) -> Index {
        self.base + self.hashes.len() as Index - 1
    }

    fn at(&self, i: Index) -> Option<u64> {
        if i < self.base {
            return None;
        }
        self.hashes.get((i - self.base) as usize).copied()
    }
}

/// Checks the safety properties of a cluster as its nodes change.
#[derive(Debug, Clone)]
pub struct SafetyChecker {
    shadows: Vec<Shadow>,
    /// Every (index, term) seen in any log, with its prefix hash.
    seen: BTreeMap<(Index, Term), u64>,
    /// `committed[i]`: the prefix hash at committed index `i` (`committed[0]` for the empty log).
    committed: Vec<u64>,
    /// The leader of each term seen.
    leaders: BTreeMap<Term, NodeId>,
    /// (property, node) pairs already reported: once a log diverged, every later commit of
    /// that node differs too, so each node breaks each property once in the report.
    reported: std::collections::BTreeSet<(&'static str, NodeId)>,
    found: Vec<Broken>,
}

impl SafetyChecker {
    pub fn new(nodes: usize) -> Self {
        let empty = Shadow {
            hashes: vec![ROOT],
            ..Shadow::default()
        };
        SafetyChecker {
            shadows: vec![empty; nodes],
            seen: BTreeMap::new(),
            committed: vec![ROOT],
            leaders: BTreeMap::new(),
            reported: Default::default(),
            found: Vec::new(),
        }
    }

    /// The highest index known committed.
    pub fn committed_index(&self) -> Index {
        self.committed.len() as Index - 1
    }

    /// The node with this id restarted: its volatile state is new (its log is re-read whole,
    /// since a new node reports every index as changed).
    pub fn restarted(&mut self, id: NodeId) {
        let s = &mut self.shadows[id as usize];
        s.role = None;
        s.commit = 0;
    }

    /// Looks at `node` after it handled an event; pushes what broke to `out` (each property
    /// once per node).
    pub fn observe(&mut self, node: &mut RaftNode, out: &mut Vec<Broken>) {
        let mut found = std::mem::take(&mut self.found);
        self.look(node, &mut found);
        let id = node.id();
        for b in found.drain(..) {
            if self.reported.insert((b.property, id)) {
                out.push(b);
            }
        }
        self.found = found;
    }

    fn look(&mut self, node: &mut RaftNode, out: &mut Vec<Broken>) {
        let id = node.id();
        let role = node.role();
        let term = node.term();
        let prev = self.shadows[id as usize].clone_meta();
        let was_leader_here = prev.role == Some(Role::Leader) && prev.term == term;
        if let Some(dirty) = node.take_dirty_from() {
            self.reread(node, dirty, was_leader_here, out);
        }
        let s = &self.shadows[id as usize];
        if role == Role::Leader {
            match self.leaders.get(&term) {
                Some(&other) if other != id => out.push(Broken {
                    property: "election-safety",
                    detail: format!("nodes {other} and {id} are both leaders of term {term}"),
                }),
                Some(_) => {}
                None => {
                    self.leaders.insert(term, id);
                }
            }
            if !was_leader_here {
                // A new leader must hold every entry committed so far (all in earlier terms).
                let c = self.committed_index();
                let holds = match (s.at(c), self.committed[c as usize]) {
                    (_, UNKNOWN) => true,
                    (Some(h), want) => h == want,
                    // Its snapshot covers `c`: compare at the snapshot if that is committed.
                    (None, _) if c < s.base => self
                        .committed
                        .get(s.base as usize)
                        .is_none_or(|&w| w == UNKNOWN || s.at(s.base) == Some(w)),
                    (None, _) => false,
                };
                if !holds {
                    out.push(Broken {
                        property: "leader-completeness",
                        detail: format!(
                            "node {id} became leader of term {term} without the committed entries up to index {c} (its log ends at {})",
                            s.last()
                        ),
                    });
                }
            }
        }
        let commit = node.commit_index();
        if commit > prev.commit {
            self.commit(id, commit, out);
        }
        let s = &mut self.shadows[id as usize];
        s.role = Some(role);
        s.term = term;
        s.commit = commit;
    }

    /// Re-reads the node's log from index `dirty` on.
    fn reread(&mut self, node: &RaftNode, dirty: Index, was_leader: bool, out: &mut Vec<Broken>) {
        let id = node.id();
        let log = node.log();
        let base = log.snapshot_index();
        let old = std::mem::take(&mut self.shadows[id as usize].hashes);
        let old_base = self.shadows[id as usize].base;
        let old_shadow = Shadow {
            base: old_base,
            hashes: old,
            ..Shadow::default()
        };
        let from = dirty.max(base + 1);
        // The hash just before `from`: from the old shadow where it is still valid, else from
        // the table of everything seen (a snapshot's last entry was seen in some log).
        let before = from - 1;
        let start = if before == base {
            if base == 0 {
                Some(ROOT)
            } else {
                old_shadow
                    .at(base)
                    .filter(|_| old_base <= base)
                    .or_else(|| self.seen.get(&(base, log.snapshot_term())).copied())
            }
        } else {
            old_shadow.at(before)
        };
        let mut hashes = Vec::with_capacity((log.last_index() - base + 1) as usize);
        let Some(start) = start else {
            // Nothing known below: hash the log afresh from its snapshot, with the snapshot's
            // own hash unknown (comparisons at and below it are skipped).
            hashes.push(UNKNOWN);
            self.extend(id, log, base + 1, &mut hashes, out);
            self.shadows[id as usize].base = base;
            self.shadows[id as usize].hashes = hashes;
            return;
        };
        for i in base..before {
            hashes.push(old_shadow.at(i).unwrap_or(UNKNOWN));
        }
        hashes.push(start);
        self.extend(id, log, from, &mut hashes, out);
        if was_leader {
            let old_last = old_shadow.last();
            let new_last = base + hashes.len() as Index - 1;
            let changed = (from..=old_last.min(new_last))
                .find(|&i| old_shadow.at(i) != Some(hashes[(i - base) as usize]));
            if let Some(i) = changed.or((new_last < old_last).then_some(new_last + 1)) {
                out.push(Broken {
                    property: "leader-append-only",
                    detail: format!(
                        "leader {id} of term {} changed or removed its own entry at index {i}",
                        node.term()
                    ),
                });
            }
        }
        self.shadows[id as usize].base = base;
        self.shadows[id as usize].hashes = hashes;
    }

    /// Hashes the log's entries from `from` onto `hashes`, checking each against the table.
    fn extend(
        &mut self,
        id: NodeId,
        log: &super::log::Log,
        from: Index,
        hashes: &mut Vec<u64>,
        out: &mut Vec<Broken>,
    ) {
        let mut prev = *hashes.last().unwrap_or(&UNKNOWN);
        for i in from..=log.last_index() {
            let Some(e) = log.get(i) else { break };
            let h = if prev == UNKNOWN {
                UNKNOWN
            } else {
                chain(prev, e)
            };
            if h != UNKNOWN {
                match self.seen.get(&(i, e.term)) {
                    Some(&other) if other != h => out.push(Broken {
                        property: "log-matching",
                        detail: format!(
                            "node {id} holds an entry of term {} at index {i} like another log, but the logs differ before it",
                            e.term
                        ),
                    }),
                    Some(_) => {}
                    None => {
                        self.seen.insert((i, e.term), h);
                    }
                }
            }
            hashes.push(h);
            prev = h;
        }
    }

    /// Node `id` moved its commit index to `commit`.
    fn commit(&mut self, id: NodeId, commit: Index, out: &mut Vec<Broken>) {
        let s = &self.shadows[id as usize];
        let known = self.committed_index();
        let check = |i: Index, out: &mut Vec<Broken>| {
            let want = self.committed[i as usize];
            match s.at(i) {
                Some(h) if h != UNKNOWN && want != UNKNOWN && h != want => {
                    out.push(Broken {
                        property: "state-machine-safety",
                        detail: format!(
                            "node {id} committed an entry at index {i} that differs from the one committed before"
                        ),
                    });
                    false
                }
                _ => true,
            }
        };
        if commit <= known {
            check(commit, out);
            return;
        }
        if known >= s.base && !check(known, out) {
            return;
        }
        let hashes: Vec<u64> = (known + 1..=commit)
            .map(|i| s.at(i).unwrap_or(UNKNOWN))
            .collect();
        self.committed.extend(hashes);
    }
}

impl Shadow {
    fn clone_meta(&self) -> Shadow {
        Shadow {
            base: self.base,
            hashes: Vec::new(),
            role: self.role,
            term: self.term,
            commit: self.commit,
        }
    }
}

//! Raft's safety properties (Raft paper figure 3), checked after every event.
//!
//! - **Election safety**: at most one leader per term.
//! - **Leader append-only**: a leader never overwrites or deletes entries of its own log.
//! - **Log matching**: two logs that hold an entry with the same index and term are identical up
//!   to that index.
//! - **Leader completeness**: a leader holds every entry committed in an earlier term.
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

/// Every (index, term) seen in any log, with the prefix hash there. Almost every index only
/// ever holds one term, so the first is kept in a vector by index and the others (entries that
/// were later overwritten) in a map.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// `first[i]`: (term, hash) of the first entry seen at index `i`; term 0 for none.
    first: Vec<(Term, u64)>,
    more: BTreeMap<(Index, Term), u64>,
}

impl Seen {
    fn get(&self, i: Index, term: Term) -> Option<u64> {
        match self.first.get(i as usize) {
            Some(&(t, h)) if t == term && t != 0 => Some(h),
            Some(&(t, _)) if t != 0 => self.more.get(&(i, term)).copied(),
            _ => None,
        }
    }

    fn insert(&mut self, i: Index, term: Term, hash: u64) {
        debug_assert!(term > 0, "entries have terms from 1");
        let k = i as usize;
        if k >= self.first.len() {
            self.first.resize(k + 1, (0, UNKNOWN));
        }
        if self.first[k].0 == 0 {
            self.first[k] = (term, hash);
        } else {
            self.more.insert((i, term), hash);
        }
    }
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
    seen: Seen,
    /// `committed[i]`: the prefix hash at committed index `i` (`committed[0]` for the empty log).
    committed: Vec<u64>,
    /// `commit_term[i]`: the term of the node that first saw index `i` committed, an upper
    /// bound on the term in which it was committed (`commit_term[0]` = 0). Never decreases.
    commit_term: Vec<Term>,
    /// The leader of each term seen.
    leaders: BTreeMap<Term, NodeId>,
    /// (property, node) pairs already reported: once a log diverged, every later commit of
    /// that node differs too, so each node breaks each property once in the report.
    reported: std::collections::BTreeSet<(&'static str, NodeId)>,
    found: Vec<Broken>,
    names: Vec<String>,
}

impl SafetyChecker {
    pub fn new(nodes: usize) -> Self {
        let empty = Shadow {
            hashes: vec![ROOT],
            ..Shadow::default()
        };
        SafetyChecker {
            shadows: vec![empty; nodes],
            seen: Seen::default(),
            committed: vec![ROOT],
            commit_term: vec![0],
            leaders: BTreeMap::new(),
            reported: Default::default(),
            found: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Names the nodes in violations (`n1` rather than `node 0`).
    pub fn with_names(mut self, names: Vec<String>) -> Self {
        self.names = names;
        self
    }

    fn name(&self, id: NodeId) -> String {
        match self.names.get(id as usize) {
            Some(n) => n.clone(),
            None => format!("node {id}"),
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
        self.observe_as(node.id(), node, out);
    }

    /// [`SafetyChecker::observe`], with the node known to the checker as `id` (tests run
    /// separate one-node clusters, whose nodes are all number 0, side by side).
    fn observe_as(&mut self, id: NodeId, node: &mut RaftNode, out: &mut Vec<Broken>) {
        let mut found = std::mem::take(&mut self.found);
        self.look(id, node, &mut found);
        for b in found.drain(..) {
            if self.reported.insert((b.property, id)) {
                out.push(b);
            }
        }
        self.found = found;
    }

    fn look(&mut self, id: NodeId, node: &mut RaftNode, out: &mut Vec<Broken>) {
        let role = node.role();
        let term = node.term();
        let prev = self.shadows[id as usize].clone_meta();
        let was_leader_here = prev.role == Some(Role::Leader) && prev.term == term;
        if let Some(dirty) = node.take_dirty_from() {
            self.reread(id, node, dirty, was_leader_here, out);
        }
        let s = &self.shadows[id as usize];
        if role == Role::Leader && !was_leader_here {
            match self.leaders.get(&term) {
                Some(&other) if other != id => out.push(Broken {
                    property: "election-safety",
                    detail: format!(
                        "{} and {} are both leaders of term {term}",
                        self.name(other),
                        self.name(id)
                    ),
                }),
                Some(_) => {}
                None => {
                    self.leaders.insert(term, id);
                }
            }
            {
                // A new leader must hold every entry committed in an earlier term (a leader of
                // an old term may win late, after a later term committed more).
                let c = self
                    .commit_term
                    .partition_point(|&t| t < term)
                    .saturating_sub(1) as Index;
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
                            "{} became leader of term {term} without the committed entries up to index {c} (its log ends at {})",
                            self.name(id),
                            s.last()
                        ),
                    });
                }
            }
        }
        let commit = node.commit_index();
        if commit > prev.commit {
            self.commit(id, term, commit, out);
        }
        let s = &mut self.shadows[id as usize];
        s.role = Some(role);
        s.term = term;
        s.commit = commit;
    }

    /// Re-reads the node's log from index `dirty` on.
    fn reread(
        &mut self,
        id: NodeId,
        node: &RaftNode,
        dirty: Index,
        was_leader: bool,
        out: &mut Vec<Broken>,
    ) {
        let log = node.log();
        let base = log.snapshot_index();
        let shadow = &mut self.shadows[id as usize];
        let old_base = shadow.base;
        let mut hashes = std::mem::take(&mut shadow.hashes);
        let old_last = old_base + hashes.len() as Index - 1;
        let at = |v: &[u64], i: Index| -> Option<u64> {
            i.checked_sub(old_base)
                .and_then(|k| v.get(k as usize).copied())
        };
        let from = dirty.max(base + 1);
        let before = from - 1;
        // What a leader held from `from` on, to check that it only appended.
        let old_tail: Vec<u64> = if was_leader && from <= old_last {
            hashes[(from - old_base) as usize..].to_vec()
        } else {
            Vec::new()
        };
        if base == old_base && before <= old_last {
            // The usual case: the log changed from `from` on; keep the hashes before it.
            hashes.truncate((before - base + 1) as usize);
        } else {
            // The snapshot moved (or the log is new): the hash just before `from` comes from the
            // table of everything seen (a snapshot's last entry was seen in some log), else it
            // is unknown.
            let start = if before == base {
                if base == 0 {
                    Some(ROOT)
                } else {
                    // Not the old shadow's hash at `base`: the entry the node held there may
                    // have been a stale one that the snapshot replaced.
                    self.seen.get(base, log.snapshot_term())
                }
            } else {
                at(&hashes, before)
            };
            let mut fresh = Vec::with_capacity((log.last_index() - base + 1) as usize);
            match start {
                Some(start) => {
                    for i in base..before {
                        fresh.push(at(&hashes, i).unwrap_or(UNKNOWN));
                    }
                    fresh.push(start);
                }
                None => {
                    // Nothing known below: hash afresh from the snapshot, whose own hash is
                    // unknown (comparisons at and below it are skipped).
                    fresh.resize((before - base + 1) as usize, UNKNOWN);
                }
            }
            hashes = fresh;
        }
        self.extend(id, log, from, &mut hashes, out);
        if was_leader {
            let new_last = base + hashes.len() as Index - 1;
            let changed = (from..=old_last.min(new_last))
                .find(|&i| old_tail.get((i - from) as usize) != Some(&hashes[(i - base) as usize]));
            if let Some(i) = changed.or((new_last < old_last).then_some(new_last + 1)) {
                out.push(Broken {
                    property: "leader-append-only",
                    detail: format!(
                        "leader {} of term {} changed or removed its own entry at index {i}",
                        self.name(id),
                        node.term()
                    ),
                });
            }
        }
        let shadow = &mut self.shadows[id as usize];
        shadow.base = base;
        shadow.hashes = hashes;
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
                match self.seen.get(i, e.term) {
                    Some(other) if other != h => out.push(Broken {
                        property: "log-matching",
                        detail: format!(
                            "{} holds an entry of term {} at index {i} like another log, but the logs differ before it",
                            self.name(id),
                            e.term
                        ),
                    }),
                    Some(_) => {}
                    None => {
                        self.seen.insert(i, e.term, h);
                    }
                }
            }
            hashes.push(h);
            prev = h;
        }
    }

    /// Node `id`, in `term`, moved its commit index to `commit`.
    fn commit(&mut self, id: NodeId, term: Term, commit: Index, out: &mut Vec<Broken>) {
        let name = self.name(id);
        let s = &self.shadows[id as usize];
        let known = self.committed_index();
        let check = |i: Index, out: &mut Vec<Broken>| {
            let want = self.committed[i as usize];
            match s.at(i) {
                Some(h) if h != UNKNOWN && want != UNKNOWN && h != want => {
                    out.push(Broken {
                        property: "state-machine-safety",
                        detail: format!(
                            "{} committed an entry at index {i} that differs from the one committed before",
                            name
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
        let last = *self.commit_term.last().unwrap_or(&0);
        self.commit_term
            .resize(self.committed.len(), term.max(last));
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

#[cfg(test)]
mod tests {
    use simcore::RngStream;

    use super::super::kv::{Command, KvOp};
    use super::super::types::{Config, Output, Restored, Timer};
    use super::*;

    /// A node that is a cluster of one: it elects itself and commits alone, so two of them are
    /// two leaders that never talk, the simplest way to break every property on purpose.
    /// A one-node cluster numbers its node 0; tests show it to the checker under another id.
    fn solo(seed: u64, restored: Restored) -> RaftNode {
        RaftNode::new(
            0,
            1,
            Config::default(),
            restored,
            RngStream::derive(seed, "t"),
        )
    }

    fn run(node: &mut RaftNode, f: impl FnOnce(&mut RaftNode, &mut Vec<Output>)) {
        let mut out = Vec::new();
        f(node, &mut out);
        // Complete every fsync asked for, repeatedly, as a perfect disk would.
        loop {
            let syncs = out.iter().filter(|o| matches!(o, Output::Sync)).count();
            if syncs == 0 {
                break;
            }
            out.clear();
            for _ in 0..syncs {
                node.synced(&mut out);
            }
        }
    }

    fn put(session: u64, value: i64) -> Command {
        Command {
            session,
            seq: 1,
            op: KvOp::Put { key: 1, value },
        }
    }

    fn lead(node: &mut RaftNode) {
        run(node, |n, out| n.start(out));
        run(node, |n, out| n.tick(Timer::Election, out));
        assert_eq!(node.role(), Role::Leader);
    }

    fn names(found: &[Broken]) -> Vec<&'static str> {
        found.iter().map(|b| b.property).collect()
    }

    /// Two checkers' views: node `a` observed as id 0 and node `b` as id 1.
    struct Pair {
        checker: SafetyChecker,
    }

    impl Pair {
        fn observe(&mut self, id: NodeId, node: &mut RaftNode) -> Vec<Broken> {
            let mut out = Vec::new();
            self.checker.observe_as(id, node, &mut out);
            out
        }
    }

    #[test]
    fn a_healthy_single_leader_breaks_nothing() {
        let mut pair = Pair {
            checker: SafetyChecker::new(2),
        };
        let mut a = solo(0, Restored::default());
        lead(&mut a);
        assert!(pair.observe(0, &mut a).is_empty());
        for v in 0..5 {
            run(&mut a, |n, out| {
                n.propose(put(1, v), out).expect("leader");
            });
            assert!(pair.observe(0, &mut a).is_empty());
        }
        assert_eq!(pair.checker.committed_index(), 6);
    }

    #[test]
    fn two_leaders_of_one_term_with_different_commits_are_caught() {
        let mut pair = Pair {
            checker: SafetyChecker::new(2),
        };
        let mut a = solo(0, Restored::default());
        let mut b = solo(1, Restored::default());
        lead(&mut a);
        lead(&mut b);
        assert_eq!((a.term(), b.term()), (1, 1));
        assert!(pair.observe(0, &mut a).is_empty());
        let found = pair.observe(1, &mut b);
        assert_eq!(names(&found), ["election-safety"], "{found:?}");
        run(&mut a, |n, out| {
            n.propose(put(1, 1), out).expect("leader");
        });
        run(&mut b, |n, out| {
            n.propose(put(2, 2), out).expect("leader");
        });
        assert!(pair.observe(0, &mut a).is_empty());
        let found = pair.observe(1, &mut b);
        // Same index and term (2, 1), different entries: the logs break log matching, and b
        // commits a different entry where a committed.
        assert!(names(&found).contains(&"log-matching"), "{found:?}");
        assert!(names(&found).contains(&"state-machine-safety"), "{found:?}");
    }

    #[test]
    fn a_leader_without_committed_entries_is_caught() {
        let mut pair = Pair {
            checker: SafetyChecker::new(2),
        };
        let mut a = solo(0, Restored::default());
        lead(&mut a);
        for v in 0..3 {
            run(&mut a, |n, out| {
                n.propose(put(1, v), out).expect("leader");
            });
        }
        assert!(pair.observe(0, &mut a).is_empty());
        // b restarts from an empty disk at a later term and leads alone: it lacks index 1..4.
        let mut b = solo(
            1,
            Restored {
                term: 5,
                ..Restored::default()
            },
        );
        lead(&mut b);
        let found = pair.observe(1, &mut b);
        assert!(names(&found).contains(&"leader-completeness"), "{found:?}");
    }
}

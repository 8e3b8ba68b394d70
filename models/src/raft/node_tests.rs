//! Tests for [`RaftNode`] through a small synchronous driver: N nodes, a FIFO of messages in
//! flight (or random picks from it), page-cache storage ([`SimStorage`]), Sends held until the
//! writes before them are durable, timers fired on demand, and cuts between chosen pairs.
//!
//! The driver checks, after every call: the output contract (a Sync after the last write, a
//! granted vote written before its reply), election safety (one leader per term), that all
//! nodes commit the same entry at each index, that a new leader holds every committed entry,
//! and that storage replays to exactly the node's log once every Sync has completed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use simcore::RngStream;

use super::super::kv::{Command, KvOp, KvState};
use super::super::storage::SimStorage;
use super::super::types::{
    Bugs, Config, Entry, Index, Message, NodeId, Output, Payload, Restored, Role, Term, Timer,
    Write,
};
use super::RaftNode;

// ---- the driver ---------------------------------------------------------------------------

struct Node {
    raft: RaftNode,
    storage: SimStorage,
    up: bool,
    incarnation: u64,
    /// Syncs complete only when the test says so.
    manual_sync: bool,
    syncs_issued: u64,
    syncs_done: u64,
    /// A write was pushed after the last Sync.
    write_unsynced: bool,
    /// The number of the Sync that covers the latest write.
    last_write_sync: u64,
    /// Sends waiting for a Sync: (the Sync they need, to, message).
    held: VecDeque<(u64, NodeId, Message)>,
    /// The term and vote of the last HardState written (durable or not).
    written_hard_state: (Term, Option<NodeId>),
    timers: BTreeMap<Timer, simcore::SimDuration>,
    /// Commit outputs of this incarnation.
    commits: Vec<Index>,
    last_commit: Index,
    restores: Vec<Index>,
    applied: Index,
    kv: KvState,
    /// Every output, in order.
    outputs: Vec<Output>,
}

struct Harness {
    n: u32,
    config: Config,
    seed: u64,
    nodes: Vec<Node>,
    net: VecDeque<(NodeId, NodeId, Message)>,
    /// Directed pairs whose messages are dropped.
    cut: BTreeSet<(NodeId, NodeId)>,
    committed: BTreeMap<Index, Entry>,
    leaders: BTreeMap<Term, NodeId>,
    violations: Vec<String>,
    delivered: Vec<(NodeId, NodeId, Message)>,
}

impl Harness {
    fn new(n: u32, config: Config) -> Self {
        Self::with_restored(config, vec![Restored::default(); n as usize], 7)
    }

    fn with_restored(config: Config, restored: Vec<Restored>, seed: u64) -> Self {
        let n = restored.len() as u32;
        let mut h = Harness {
            n,
            config,
            seed,
            nodes: Vec::new(),
            net: VecDeque::new(),
            cut: BTreeSet::new(),
            committed: BTreeMap::new(),
            leaders: BTreeMap::new(),
            violations: Vec::new(),
            delivered: Vec::new(),
        };
        for (id, r) in restored.into_iter().enumerate() {
            let mut storage = SimStorage::new();
            // Seed the disk with the restored state so that restarts recover it.
            storage.write(Write::HardState {
                term: r.term,
                vote: r.vote,
            });
            if let Some(s) = &r.snapshot {
                storage.write(Write::Snapshot(s.clone()));
            }
            let first = r.snapshot.as_ref().map_or(0, |s| s.last_index) + 1;
            storage.write(Write::Append {
                first,
                entries: r.entries.clone(),
            });
            storage.begin_sync();
            storage.complete_sync();
            let node = h.boot(id as NodeId, r, storage, 0);
            h.nodes.push(node);
        }
        for id in 0..n {
            h.call(id, |r, o| r.start(o));
        }
        h
    }

    fn boot(&self, id: NodeId, r: Restored, storage: SimStorage, incarnation: u64) -> Node {
        let (applied, kv) = r
            .snapshot
            .as_ref()
            .map_or((0, KvState::new()), |s| (s.last_index, s.data.clone()));
        let rng = RngStream::derive(self.seed, &format!("raft-{id}-{incarnation}"));
        Node {
            written_hard_state: (r.term, r.vote),
            raft: RaftNode::new(id, self.n, self.config.clone(), r, rng),
            storage,
            up: true,
            incarnation,
            manual_sync: false,
            syncs_issued: 0,
            syncs_done: 0,
            write_unsynced: false,
            last_write_sync: 0,
            held: VecDeque::new(),
            timers: BTreeMap::new(),
            commits: Vec::new(),
            last_commit: applied,
            restores: Vec::new(),
            applied,
            kv,
            outputs: Vec::new(),
        }
    }

    fn raft(&self, id: NodeId) -> &RaftNode {
        &self.nodes[id as usize].raft
    }

    fn violation(&mut self, what: String) {
        self.violations.push(what);
    }

    /// Calls into node `id` and performs what it asks.
    fn call<R>(&mut self, id: NodeId, f: impl FnOnce(&mut RaftNode, &mut Vec<Output>) -> R) -> R {
        let i = id as usize;
        assert!(self.nodes[i].up, "node {id} is down");
        let was_leader = self.nodes[i].raft.role() == Role::Leader;
        let mut out = Vec::new();
        let result = f(&mut self.nodes[i].raft, &mut out);
        self.perform(id, out);
        if !self.nodes[i].manual_sync {
            while self.nodes[i].syncs_done < self.nodes[i].syncs_issued {
                self.complete_sync(id);
            }
        }
        self.check(id, was_leader);
        result
    }

    fn perform(&mut self, id: NodeId, out: Vec<Output>) {
        if let Some(last_write) = out.iter().rposition(|o| matches!(o, Output::Write(_))) {
            if !out[last_write..].contains(&Output::Sync) {
                self.violation(format!(
                    "node {id}: a write without a Sync after it: {out:?}"
                ));
            }
        }
        for o in out {
            self.nodes[id as usize].outputs.push(o.clone());
            self.output(id, o);
        }
    }

    fn output(&mut self, id: NodeId, o: Output) {
        let node = &mut self.nodes[id as usize];
        match o {
            Output::Send { to, msg } => {
                if let Message::Vote {
                    term,
                    granted: true,
                    pre_vote: false,
                } = msg
                {
                    if node.written_hard_state != (term, Some(to)) {
                        let w = node.written_hard_state;
                        self.violation(format!(
                            "node {id}: vote for {to} in term {term} sent before it was written \
                             (written: {w:?})"
                        ));
                    }
                }
                let node = &mut self.nodes[id as usize];
                let need = if node.write_unsynced {
                    node.syncs_issued + 1
                } else {
                    node.last_write_sync
                };
                if need <= node.syncs_done {
                    self.transmit(id, to, msg);
                } else {
                    node.held.push_back((need, to, msg));
                }
            }
            Output::Write(w) => {
                if let Write::HardState { term, vote } = w {
                    node.written_hard_state = (term, vote);
                }
                node.storage.write(w);
                node.write_unsynced = true;
            }
            Output::Sync => {
                node.storage.begin_sync();
                node.syncs_issued += 1;
                if node.write_unsynced {
                    node.last_write_sync = node.syncs_issued;
                    node.write_unsynced = false;
                }
            }
            Output::SetTimer { timer, after } => {
                node.timers.insert(timer, after);
            }
            Output::Commit(c) => self.apply_commit(id, c),
            Output::Restore(s) => {
                if s.last_index <= node.applied {
                    let a = node.applied;
                    self.violation(format!("node {id}: restore to {} at {a}", s.last_index));
                    return;
                }
                node.applied = s.last_index;
                node.kv = s.data.clone();
                node.restores.push(s.last_index);
            }
        }
    }

    fn apply_commit(&mut self, id: NodeId, commit: Index) {
        let node = &mut self.nodes[id as usize];
        if commit <= node.last_commit {
            let last = node.last_commit;
            self.violation(format!("node {id}: Commit({commit}) after Commit({last})"));
            return;
        }
        node.last_commit = commit;
        node.commits.push(commit);
        let mut problems = Vec::new();
        for index in node.applied + 1..=commit {
            let Some(entry) = node.raft.log().get(index).cloned() else {
                problems.push(format!(
                    "node {id}: committed entry {index} is not in its log"
                ));
                break;
            };
            match self.committed.get(&index) {
                Some(e) if *e != entry => problems.push(format!(
                    "node {id} committed {entry:?} at {index}, another node {e:?}"
                )),
                Some(_) => {}
                None => {
                    self.committed.insert(index, entry.clone());
                }
            }
            if let Payload::Command(cmd) = &entry.payload {
                node.kv.apply(cmd);
            }
            node.applied = index;
        }
        self.violations.extend(problems);
    }

    fn complete_sync(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize];
        assert!(
            node.syncs_done < node.syncs_issued,
            "no Sync outstanding on {id}"
        );
        assert!(node.storage.complete_sync());
        node.syncs_done += 1;
        let done = node.syncs_done;
        let mut ready = Vec::new();
        while node.held.front().is_some_and(|h| h.0 <= done) {
            let (_, to, msg) = node.held.pop_front().expect("checked");
            ready.push((to, msg));
        }
        for (to, msg) in ready {
            self.transmit(id, to, msg);
        }
        let mut out = Vec::new();
        self.nodes[id as usize].raft.synced(&mut out);
        self.perform(id, out);
    }

    fn transmit(&mut self, from: NodeId, to: NodeId, msg: Message) {
        if !self.cut.contains(&(from, to)) {
            self.net.push_back((from, to, msg));
        }
    }

    fn check(&mut self, id: NodeId, was_leader: bool) {
        let node = &self.nodes[id as usize];
        let raft = &node.raft;
        let mut problems = Vec::new();
        if raft.role() == Role::Leader {
            let term = raft.term();
            let first = *self.leaders.entry(term).or_insert(id);
            if first != id {
                problems.push(format!("two leaders in term {term}: {first} and {id}"));
            }
            if !was_leader {
                for (&index, entry) in self.committed.range(raft.log().first_index()..) {
                    if raft.log().get(index) != Some(entry) {
                        problems.push(format!("new leader {id} lacks committed entry {index}"));
                    }
                }
            }
        }
        if node.syncs_done == node.syncs_issued {
            // Everything written is durable: the disk must replay to exactly this node.
            let r = node.storage.restore();
            let log = raft.log();
            let snap = r.snapshot.as_ref().map_or(0, |s| s.last_index);
            let entries = log.entries_from(log.first_index(), usize::MAX);
            if snap != log.snapshot_index() || r.entries != entries {
                problems.push(format!("node {id}: storage does not replay to its log"));
            }
            let vote_ok = r.vote == raft.voted_for() || self.config.bugs.vote_not_persisted;
            if r.term != raft.term() || !vote_ok {
                problems.push(format!(
                    "node {id}: storage holds term/vote {:?}",
                    (r.term, r.vote)
                ));
            }
        }
        self.violations.extend(problems);
    }

    // ---- what tests do ----

    fn fire(&mut self, id: NodeId, timer: Timer) {
        self.call(id, |r, o| r.tick(timer, o));
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: Message) {
        if !self.nodes[to as usize].up || self.cut.contains(&(from, to)) {
            return;
        }
        self.delivered.push((from, to, msg.clone()));
        self.call(to, |r, o| r.receive(from, msg, o));
    }

    fn deliver_all(&mut self) {
        for _ in 0..1_000_000 {
            let Some((from, to, msg)) = self.net.pop_front() else {
                return;
            };
            self.deliver(from, to, msg);
        }
        panic!("messages never stopped");
    }

    fn elect(&mut self, id: NodeId) {
        self.fire(id, Timer::Election);
        self.deliver_all();
        assert_eq!(
            self.raft(id).role(),
            Role::Leader,
            "node {id} was not elected"
        );
    }

    /// Every leader sends a heartbeat; everything is delivered.
    fn heartbeat(&mut self) {
        for id in 0..self.n {
            if self.nodes[id as usize].up && self.raft(id).role() == Role::Leader {
                self.fire(id, Timer::Heartbeat);
            }
        }
        self.deliver_all();
    }

    fn propose(&mut self, id: NodeId, seq: u64) -> Result<Index, Option<NodeId>> {
        self.call(id, |r, o| r.propose(cmd(seq), o))
    }

    fn leaders_now(&self) -> Vec<NodeId> {
        (0..self.n)
            .filter(|&i| self.nodes[i as usize].up && self.raft(i).role() == Role::Leader)
            .collect()
    }

    fn isolate(&mut self, id: NodeId) {
        for other in 0..self.n {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn compact(&mut self, id: NodeId) {
        let node = &self.nodes[id as usize];
        let (index, kv) = (node.applied, node.kv.clone());
        self.call(id, |r, o| r.compact(index, kv, o));
    }

    fn crash(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize];
        node.up = false;
        node.storage.crash();
        node.held.clear();
    }

    fn restart(&mut self, id: NodeId) {
        let old = &self.nodes[id as usize];
        assert!(!old.up);
        let storage = old.storage.clone();
        let incarnation = old.incarnation + 1;
        let manual_sync = old.manual_sync;
        let mut node = self.boot(id, storage.restore(), storage, incarnation);
        node.manual_sync = manual_sync;
        self.nodes[id as usize] = node;
        self.call(id, |r, o| r.start(o));
    }

    /// The terms of the entries of `id`'s log after its snapshot.
    fn log_terms(&self, id: NodeId) -> Vec<Term> {
        let log = self.raft(id).log();
        log.entries_from(log.first_index(), usize::MAX)
            .iter()
            .map(|e| e.term)
            .collect()
    }

    fn assert_clean(&self) {
        assert!(
            self.violations.is_empty(),
            "violations: {:#?}",
            self.violations
        );
    }

    /// Every node holds the same log (past each one's snapshot) and commit index.
    fn assert_converged(&self) {
        let reference = self.raft(0);
        for id in 1..self.n {
            let r = self.raft(id);
            assert_eq!(
                r.log().last_index(),
                reference.log().last_index(),
                "node {id}"
            );
            assert_eq!(r.commit_index(), reference.commit_index(), "node {id}");
            let from = r.log().first_index().max(reference.log().first_index());
            for i in from..=r.log().last_index() {
                assert_eq!(
                    r.log().get(i),
                    reference.log().get(i),
                    "node {id} index {i}"
                );
            }
        }
    }
}

fn cmd(seq: u64) -> Command {
    Command {
        session: 1,
        seq,
        op: KvOp::Put {
            key: (seq % 7) as u32,
            value: seq as i64,
        },
    }
}

fn noops(terms: &[Term]) -> Vec<Entry> {
    terms
        .iter()
        .map(|&term| Entry {
            term,
            payload: Payload::Noop,
        })
        .collect()
}

fn sends(outputs: &[Output]) -> impl Iterator<Item = (NodeId, &Message)> {
    outputs.iter().filter_map(|o| match o {
        Output::Send { to, msg } => Some((*to, msg)),
        _ => None,
    })
}

fn with(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::default();
    f(&mut c);
    c
}

// ---- 1. elections ------------------------------------------------------------------------

#[test]
fn three_and_five_nodes_elect_exactly_one_leader() {
    for n in [3, 5] {
        for pre_vote in [false, true] {
            let mut h = Harness::new(n, with(|c| c.pre_vote = pre_vote));
            h.elect(1);
            assert_eq!(h.leaders_now(), vec![1]);
            for id in 0..n {
                let r = h.raft(id);
                assert_eq!(r.term(), 1, "node {id}: terms agree");
                assert_eq!(r.leader(), Some(1), "node {id} learned the leader");
                if id != 1 {
                    assert_eq!(r.role(), Role::Follower);
                    assert_eq!(r.voted_for(), Some(1));
                }
            }
            h.heartbeat();
            assert!(h.raft(1).commit_index() >= 1, "the leader's no-op commits");
            h.assert_converged();
            h.assert_clean();
        }
    }
}

#[test]
fn competing_candidates_still_give_one_leader_per_term() {
    let mut h = Harness::new(5, Config::default());
    for id in [0, 1, 2] {
        h.fire(id, Timer::Election);
    }
    h.deliver_all();
    for round in 0..10 {
        if h.leaders_now().len() == 1 {
            break;
        }
        h.fire(round % 5, Timer::Election);
        h.deliver_all();
    }
    h.heartbeat();
    let leaders = h.leaders_now();
    assert_eq!(leaders.len(), 1);
    for id in 0..5 {
        assert_eq!(h.raft(id).leader(), Some(leaders[0]));
        assert_eq!(h.raft(id).term(), h.raft(leaders[0]).term());
    }
    h.assert_clean();
}

#[test]
fn a_single_node_leads_at_once_and_commits_after_its_sync() {
    let mut out = Vec::new();
    let rng = RngStream::derive(1, "solo");
    let mut node = RaftNode::new(0, 1, Config::default(), Restored::default(), rng);
    node.start(&mut out);
    assert!(matches!(
        out[..],
        [Output::SetTimer {
            timer: Timer::Election,
            ..
        }]
    ));
    out.clear();
    node.tick(Timer::Election, &mut out);
    assert_eq!((node.role(), node.term()), (Role::Leader, 1));
    let index = node.propose(cmd(1), &mut out).unwrap();
    assert_eq!(index, 2);
    assert_eq!(node.commit_index(), 0, "nothing is durable yet");
    assert!(!out.iter().any(|o| matches!(o, Output::Commit(_))));
    let syncs = out.iter().filter(|o| **o == Output::Sync).count();
    let mut after = Vec::new();
    for _ in 0..syncs {
        node.synced(&mut after);
    }
    assert_eq!(node.commit_index(), 2);
    assert_eq!(after.last(), Some(&Output::Commit(2)));
}

#[test]
fn election_timeouts_are_drawn_from_the_configured_range() {
    let config = with(|c| {
        c.election_timeout = (
            simcore::SimDuration::from_millis(10),
            simcore::SimDuration::from_millis(12),
        )
    });
    let rng = RngStream::derive(3, "timeouts");
    let mut node = RaftNode::new(0, 3, config, Restored::default(), rng);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        node.tick(Timer::Election, &mut out);
    }
    for o in &out {
        if let Output::SetTimer {
            timer: Timer::Election,
            after,
        } = o
        {
            let ns = after.as_nanos();
            assert!((10_000_000..=12_000_000).contains(&ns));
            seen.insert(ns);
        }
    }
    assert!(seen.len() > 150, "re-drawn each time it is armed");
}

// ---- 2. replication ----------------------------------------------------------------------

#[test]
fn proposals_commit_on_every_node_in_the_same_order() {
    let mut h = Harness::new(3, Config::default());
    h.elect(0);
    let mut indexes = Vec::new();
    for seq in 1..=20 {
        indexes.push(h.propose(0, seq).unwrap());
        if seq % 3 == 0 {
            h.deliver_all();
        }
    }
    assert_eq!(indexes, (2..=21).collect::<Vec<_>>());
    h.deliver_all();
    h.heartbeat();
    assert_eq!(
        h.propose(1, 99),
        Err(Some(0)),
        "a follower points at the leader"
    );
    assert_eq!(h.propose(2, 99), Err(Some(0)));
    for id in 0..3 {
        let node = &h.nodes[id as usize];
        assert_eq!(node.raft.commit_index(), 21, "node {id}");
        assert!(
            node.commits.windows(2).all(|w| w[0] < w[1]),
            "commits advance"
        );
        assert_eq!(node.commits.last(), Some(&21));
        assert_eq!(node.kv, h.nodes[0].kv, "same state machine");
    }
    let order: Vec<u64> = h
        .committed
        .values()
        .filter_map(|e| match &e.payload {
            Payload::Command(c) => Some(c.seq),
            Payload::Noop => None,
        })
        .collect();
    assert_eq!(order, (1..=20).collect::<Vec<_>>());
    h.assert_converged();
    h.assert_clean();
}

#[test]
fn messages_carry_at_most_max_entries() {
    let mut h = Harness::new(3, with(|c| c.max_entries_per_message = 4));
    h.elect(0);
    h.isolate(2);
    for seq in 1..=30 {
        h.propose(0, seq).unwrap();
    }
    h.deliver_all();
    h.heal();
    h.heartbeat();
    h.heartbeat();
    for (_, _, msg) in &h.delivered {
        if let Message::AppendEntries { entries, .. } = msg {
            assert!(entries.len() <= 4);
        }
    }
    h.assert_converged();
    h.assert_clean();
}

// ---- 3. partitions -----------------------------------------------------------------------

#[test]
fn a_partitioned_leader_is_replaced_and_its_uncommitted_entries_are_dropped() {
    let mut h = Harness::new(5, Config::default());
    h.elect(0);
    h.propose(0, 1).unwrap();
    h.propose(0, 2).unwrap();
    h.deliver_all();
    h.heartbeat();
    let committed_before = h.raft(0).commit_index();
    assert_eq!(committed_before, 3);

    h.isolate(0);
    for seq in 100..103 {
        h.propose(0, seq).unwrap();
    }
    h.heartbeat();
    assert_eq!(
        h.raft(0).commit_index(),
        committed_before,
        "no quorum, no commit"
    );

    h.elect(1);
    assert!(h.raft(1).term() > h.raft(0).term());
    h.propose(1, 3).unwrap();
    h.propose(1, 4).unwrap();
    h.deliver_all();
    h.fire(1, Timer::Heartbeat);
    h.deliver_all();
    assert_eq!(h.raft(1).commit_index(), 6);
    assert_eq!(
        h.raft(0).role(),
        Role::Leader,
        "the old leader does not know yet"
    );

    h.heal();
    h.heartbeat();
    h.heartbeat();
    assert_eq!(h.leaders_now(), vec![1]);
    assert_eq!(h.raft(0).role(), Role::Follower);
    assert_eq!(h.raft(0).leader(), Some(1));
    assert_eq!(h.nodes[0].last_commit, 6);
    assert!(h.committed.values().all(|e| match &e.payload {
        Payload::Command(c) => c.seq < 100,
        Payload::Noop => true,
    }));
    h.assert_converged();
    h.assert_clean();
}

// ---- 4. fast backtracking ----------------------------------------------------------------

#[test]
fn a_long_divergent_log_converges_in_one_round_trip_per_term() {
    // The leader-to-be: [1, 2 x10, 5 x60]; the divergent follower: [1, 2 x30, 3 x30, 4 x30].
    let mut leader_terms = vec![1];
    leader_terms.extend([2; 10]);
    leader_terms.extend([5; 60]);
    let mut follower_terms = vec![1];
    follower_terms.extend([2; 30]);
    follower_terms.extend([3; 30]);
    follower_terms.extend([4; 30]);
    let restored = |term, terms: &[Term]| Restored {
        term,
        vote: None,
        snapshot: None,
        entries: noops(terms),
    };
    let mut h = Harness::with_restored(
        with(|c| c.max_entries_per_message = 1000),
        vec![
            restored(5, &leader_terms),
            restored(4, &follower_terms),
            restored(5, &leader_terms),
        ],
        7,
    );
    h.elect(0);
    h.deliver_all();
    let failures = h
        .delivered
        .iter()
        .filter(|(from, to, m)| {
            *from == 1 && *to == 0 && matches!(m, Message::AppendResult { success: false, .. })
        })
        .count();
    // Three divergent terms (2 beyond the common prefix, 3, 4): one rejection each at most,
    // where one entry at a time would take about 80.
    assert!((1..=3).contains(&failures), "{failures} rejections");
    let mut expected = leader_terms.clone();
    expected.push(6);
    assert_eq!(h.log_terms(1), expected);
    h.heartbeat();
    h.assert_converged();
    h.assert_clean();
}

#[test]
fn the_conflict_hint_names_the_first_index_of_the_conflicting_term() {
    let restored = Restored {
        term: 4,
        vote: None,
        snapshot: None,
        entries: noops(&[1, 2, 2, 2, 4]),
    };
    let mut node = RaftNode::new(1, 3, Config::default(), restored, RngStream::derive(1, "f"));
    let mut out = Vec::new();
    let ae = |prev_index, prev_term| Message::AppendEntries {
        term: 5,
        prev_index,
        prev_term,
        entries: vec![],
        commit: 0,
    };
    node.receive(0, ae(4, 3), &mut out);
    let reply = |out: &[Output]| sends(out).last().unwrap().1.clone();
    assert_eq!(
        reply(&out),
        Message::AppendResult {
            term: 5,
            success: false,
            match_index: 0,
            conflict_index: 2,
            conflict_term: Some(2),
        }
    );
    out.clear();
    node.receive(0, ae(9, 5), &mut out);
    assert!(matches!(
        reply(&out),
        Message::AppendResult {
            success: false,
            conflict_index: 6,
            conflict_term: None,
            ..
        }
    ));
}

#[test]
fn a_stale_append_never_truncates_matching_entries() {
    let restored = Restored {
        term: 2,
        vote: None,
        snapshot: None,
        entries: noops(&[1, 1, 2, 2, 2]),
    };
    let mut node = RaftNode::new(1, 3, Config::default(), restored, RngStream::derive(1, "f"));
    let mut out = Vec::new();
    // A duplicate of an old message that carried entries 2..=3.
    let msg = Message::AppendEntries {
        term: 2,
        prev_index: 1,
        prev_term: 1,
        entries: noops(&[1, 2]),
        commit: 2,
    };
    node.receive(0, msg, &mut out);
    assert_eq!(node.log().last_index(), 5, "later entries stay");
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Write(Write::Append { .. })))
    );
    assert!(matches!(
        sends(&out).last().unwrap().1,
        Message::AppendResult {
            success: true,
            match_index: 3,
            ..
        }
    ));
    assert_eq!(node.commit_index(), 2);
    // A conflict at 4 replaces exactly the suffix from 4.
    out.clear();
    let msg = Message::AppendEntries {
        term: 3,
        prev_index: 2,
        prev_term: 1,
        entries: noops(&[2, 3]),
        commit: 2,
    };
    node.receive(0, msg, &mut out);
    let appends: Vec<&Output> = out
        .iter()
        .filter(|o| matches!(o, Output::Write(Write::Append { .. })))
        .collect();
    assert_eq!(
        appends,
        vec![&Output::Write(Write::Append {
            first: 4,
            entries: noops(&[3]),
        })]
    );
    assert_eq!(node.log().last_index(), 4);
}

#[test]
fn a_follower_commits_only_what_the_leader_vouched_for() {
    // Stale entries of term 2 at 3..=4; the term-3 leader's log matches only up to 2.
    let restored = Restored {
        term: 2,
        vote: None,
        snapshot: None,
        entries: noops(&[1, 1, 2, 2]),
    };
    let mut node = RaftNode::new(1, 3, Config::default(), restored, RngStream::derive(1, "f"));
    let mut out = Vec::new();
    let heartbeat = Message::AppendEntries {
        term: 3,
        prev_index: 2,
        prev_term: 1,
        entries: vec![],
        commit: 4,
    };
    node.receive(0, heartbeat, &mut out);
    assert_eq!(
        node.commit_index(),
        2,
        "entries 3..=4 are not known to match"
    );
    assert_eq!(
        node.log().last_index(),
        4,
        "an empty append truncates nothing"
    );
}

#[test]
fn a_leader_ignores_answers_from_earlier_terms() {
    let mut h = Harness::new(3, Config::default());
    h.elect(0);
    h.heartbeat();
    h.fire(1, Timer::Election);
    h.deliver_all();
    let leader = h.leaders_now()[0];
    assert_eq!(h.raft(leader).term(), 2);
    let index = h.propose(leader, 1).unwrap();
    let commit = h.raft(leader).commit_index();
    let old_term_ack = Message::AppendResult {
        term: 1,
        success: true,
        match_index: index,
        conflict_index: 0,
        conflict_term: None,
    };
    let other = (leader + 1) % 3;
    h.cut.insert((leader, other));
    h.cut.insert((leader, (leader + 2) % 3));
    h.call(leader, |r, o| r.receive(other, old_term_ack, o));
    assert_eq!(h.raft(leader).match_index_of(other), commit);
    assert_eq!(h.raft(leader).commit_index(), commit);
    h.assert_clean();
}

// ---- 5. snapshots ------------------------------------------------------------------------

#[test]
fn a_far_behind_follower_gets_the_snapshot_then_entries() {
    let mut h = Harness::new(3, Config::default());
    h.elect(0);
    h.isolate(2);
    for seq in 1..=100 {
        h.propose(0, seq).unwrap();
        if seq % 10 == 0 {
            h.deliver_all();
        }
    }
    h.heartbeat();
    assert_eq!(h.raft(0).commit_index(), 101);
    h.compact(0);
    assert_eq!(h.raft(0).log().snapshot_index(), 101);
    assert_eq!(h.raft(0).snapshot().map(|s| s.last_index), Some(101));
    for seq in 101..=105 {
        h.propose(0, seq).unwrap();
    }
    h.deliver_all();

    h.heal();
    h.delivered.clear();
    h.heartbeat();
    h.heartbeat();
    assert_eq!(
        h.nodes[2].restores,
        vec![101],
        "node 2 restored the snapshot"
    );
    let to_2: Vec<&Message> = h
        .delivered
        .iter()
        .filter(|(f, t, _)| (*f, *t) == (0, 2))
        .map(|(_, _, m)| m)
        .collect();
    let snap_at = to_2
        .iter()
        .position(|m| matches!(m, Message::InstallSnapshot { .. }))
        .expect("an InstallSnapshot was sent");
    assert!(
        to_2[snap_at..].iter().any(|m| matches!(
            m,
            Message::AppendEntries { prev_index: 101, entries, .. } if entries.len() == 5
        )),
        "entries after the snapshot follow by AppendEntries"
    );
    assert_eq!(h.raft(2).log().snapshot_index(), 101);
    assert_eq!(h.raft(2).commit_index(), 106);
    assert_eq!(h.nodes[2].kv, h.nodes[0].kv);
    h.assert_converged();
    h.assert_clean();
}

#[test]
fn append_entries_below_the_follower_snapshot_are_skipped() {
    let mut h = Harness::new(3, Config::default());
    h.elect(0);
    for seq in 1..=10 {
        h.propose(0, seq).unwrap();
    }
    h.deliver_all();
    h.heartbeat();
    h.compact(1);
    assert_eq!(h.raft(1).log().snapshot_index(), 11);
    let last_reply = |h: &Harness| {
        h.nodes[1].outputs.iter().rev().find_map(|o| match o {
            Output::Send { msg, .. } => Some(msg.clone()),
            _ => None,
        })
    };
    // A delayed copy of the first AppendEntries (the no-op at 1) reaches the compacted follower.
    let early = h
        .delivered
        .iter()
        .find(|(f, t, m)| {
            (*f, *t) == (0, 1)
                && matches!(m, Message::AppendEntries { entries, .. } if !entries.is_empty())
        })
        .cloned()
        .unwrap();
    h.deliver(early.0, early.1, early.2);
    assert_eq!(h.raft(1).log().last_index(), 11);
    assert!(matches!(
        last_reply(&h),
        Some(Message::AppendResult {
            success: true,
            match_index: 1,
            ..
        })
    ));
    // One that straddles the snapshot: 10..=12, where 12 is new to node 1.
    h.cut.insert((0, 1));
    let index = h.propose(0, 11).unwrap();
    h.deliver_all();
    let straddling = Message::AppendEntries {
        term: 1,
        prev_index: 9,
        prev_term: 1,
        entries: h.raft(0).log().entries_from(10, 3).to_vec(),
        commit: index,
    };
    h.cut.clear();
    h.deliver(0, 1, straddling);
    assert_eq!(h.raft(1).log().last_index(), index);
    assert_eq!(h.raft(1).commit_index(), index);
    assert!(matches!(
        last_reply(&h),
        Some(Message::AppendResult {
            success: true,
            match_index: 12,
            ..
        })
    ));
    h.deliver_all();
    h.heartbeat();
    h.assert_converged();
    h.assert_clean();
}

// ---- 6. restart --------------------------------------------------------------------------

#[test]
fn a_restart_keeps_term_vote_log_and_starts_at_the_snapshot() {
    let mut h = Harness::new(3, Config::default());
    h.elect(0);
    for seq in 1..=10 {
        h.propose(0, seq).unwrap();
    }
    h.deliver_all();
    h.heartbeat();
    h.compact(1);
    h.propose(0, 11).unwrap();
    h.deliver_all();
    for id in [0, 1] {
        let before = h.raft(id).clone();
        h.crash(id);
        h.restart(id);
        let after = h.raft(id);
        assert_eq!(after.term(), before.term());
        assert_eq!(after.voted_for(), before.voted_for());
        assert_eq!(after.role(), Role::Follower);
        assert_eq!(after.log().last_index(), before.log().last_index());
        assert_eq!(after.log().snapshot_index(), before.log().snapshot_index());
        assert_eq!(after.commit_index(), before.log().snapshot_index());
        assert_eq!(after.snapshot(), before.snapshot());
        for i in after.log().first_index()..=after.log().last_index() {
            assert_eq!(after.log().get(i), before.log().get(i));
        }
    }
    assert_eq!(
        h.raft(1).commit_index(),
        11,
        "node 1 restarts at its snapshot"
    );
    assert_eq!(h.raft(0).commit_index(), 0, "node 0 has no snapshot");
    h.elect(1);
    h.heartbeat();
    assert_eq!(h.raft(0).commit_index(), 13);
    h.assert_converged();
    h.assert_clean();
}

// ---- 7. PreVote --------------------------------------------------------------------------

#[test]
fn with_prevote_an_isolated_node_does_not_disrupt_the_leader() {
    let mut h = Harness::new(3, with(|c| c.pre_vote = true));
    h.elect(0);
    h.heartbeat();
    h.isolate(2);
    for _ in 0..5 {
        h.fire(2, Timer::Election);
        h.deliver_all();
    }
    assert_eq!(h.raft(2).term(), 1, "pre-votes do not raise the term");
    assert_eq!(h.raft(2).role(), Role::PreCandidate);
    h.heal();
    h.fire(2, Timer::Election);
    h.deliver_all();
    assert_eq!(
        h.raft(2).role(),
        Role::PreCandidate,
        "nobody grants: 0 and 1 have a leader"
    );
    h.heartbeat();
    assert_eq!(h.leaders_now(), vec![0]);
    assert_eq!(h.raft(0).term(), 1);
    assert_eq!(h.raft(2).role(), Role::Follower);
    assert_eq!(h.raft(2).leader(), Some(0));
    h.assert_clean();
}

#[test]
fn without_prevote_an_isolated_node_raises_its_term_and_deposes_the_leader() {
    let mut h = Harness::new(3, Config::default());
    h.elect(0);
    h.heartbeat();
    h.isolate(2);
    for _ in 0..5 {
        h.fire(2, Timer::Election);
        h.deliver_all();
    }
    assert_eq!(h.raft(2).term(), 6);
    h.heal();
    h.heartbeat();
    assert_ne!(h.raft(0).role(), Role::Leader, "the leader stepped down");
    assert_eq!(h.raft(0).term(), 6);
    h.assert_clean();
}

#[test]
fn prevote_is_granted_only_without_a_live_leader() {
    let mut h = Harness::new(3, with(|c| c.pre_vote = true));
    h.elect(0);
    h.heartbeat();
    // The leader goes quiet. Node 1's timer fires first: it forgets the leader and asks for
    // pre-votes, but node 2 still follows a leader it heard from since its own timer fired.
    h.isolate(0);
    h.fire(1, Timer::Election);
    h.deliver_all();
    assert_eq!(
        h.raft(1).role(),
        Role::PreCandidate,
        "node 2 still follows 0"
    );
    // Then node 2's fires: node 1 no longer follows anyone and grants; 2 wins term 2.
    h.fire(2, Timer::Election);
    h.deliver_all();
    assert_eq!(
        h.leaders_now(),
        vec![0, 2],
        "0 (cut off, term 1) and the new leader"
    );
    assert_eq!((h.raft(2).term(), h.raft(0).term()), (2, 1));
    h.assert_clean();
}

// ---- 8. CheckQuorum ----------------------------------------------------------------------

#[test]
fn check_quorum_makes_a_cut_off_leader_step_down() {
    for check_quorum in [true, false] {
        let mut h = Harness::new(3, with(|c| c.check_quorum = check_quorum));
        h.elect(0);
        h.heartbeat();
        h.fire(0, Timer::Election);
        assert_eq!(h.raft(0).role(), Role::Leader, "heard from both");
        // Cut off one follower only: still a majority.
        h.isolate(2);
        h.heartbeat();
        h.fire(0, Timer::Election);
        assert_eq!(h.raft(0).role(), Role::Leader, "heard from a majority");
        h.isolate(0);
        h.heartbeat();
        h.fire(0, Timer::Election);
        if check_quorum {
            assert_eq!(h.raft(0).role(), Role::Follower);
            assert_eq!(h.raft(0).term(), 1, "stepping down keeps the term");
            assert_eq!(h.raft(0).leader(), None);
        } else {
            assert_eq!(h.raft(0).role(), Role::Leader);
        }
        h.assert_clean();
    }
}

// ---- 9. durability -----------------------------------------------------------------------

/// In `outputs`, the granted vote for `candidate`: whether a HardState write naming the
/// candidate and then a Sync come before it.
fn vote_reply_is_persisted_first(outputs: &[Output], candidate: NodeId) -> bool {
    let reply = outputs
        .iter()
        .position(|o| {
            matches!(o, Output::Send { to, msg: Message::Vote { granted: true, pre_vote: false, .. } }
                if *to == candidate)
        })
        .expect("a granted vote");
    let write = outputs[..reply].iter().rposition(
        |o| matches!(o, Output::Write(Write::HardState { vote: Some(v), .. }) if *v == candidate),
    );
    write.is_some_and(|w| outputs[w..reply].contains(&Output::Sync))
}

#[test]
fn a_vote_reply_follows_its_write_and_a_sync() {
    let mut h = Harness::new(3, Config::default());
    h.elect(0);
    for id in [1, 2] {
        assert!(vote_reply_is_persisted_first(&h.nodes[id].outputs, 0));
    }
    // The candidate too: its own vote is written and synced before it asks.
    let outs = &h.nodes[0].outputs;
    let ask = outs
        .iter()
        .position(|o| {
            matches!(
                o,
                Output::Send {
                    msg: Message::RequestVote { .. },
                    ..
                }
            )
        })
        .unwrap();
    assert!(outs[..ask].contains(&Output::Write(Write::HardState {
        term: 1,
        vote: Some(0)
    })));
    assert!(outs[..ask].contains(&Output::Sync));
    h.assert_clean();
}

#[test]
fn a_leader_counts_itself_only_once_its_entries_are_durable() {
    let mut h = Harness::new(3, Config::default());
    h.elect(0);
    h.heartbeat();
    h.nodes[0].manual_sync = true;
    let index = h.propose(0, 1).unwrap();
    assert_eq!(h.raft(0).durable_index(), index - 1);
    // Node 1 acknowledges (as if the leader's send had not been held for its sync).
    let ack = Message::AppendResult {
        term: 1,
        success: true,
        match_index: index,
        conflict_index: 0,
        conflict_term: None,
    };
    h.call(0, |r, o| r.receive(1, ack, o));
    assert_eq!(
        h.raft(0).commit_index(),
        index - 1,
        "1 of 3 durable: no commit"
    );
    h.complete_sync(0);
    assert_eq!(h.raft(0).durable_index(), index);
    assert_eq!(h.raft(0).commit_index(), index, "2 of 3 durable: commit");
    assert_eq!(h.nodes[0].commits.last(), Some(&index));
}

#[test]
fn a_truncation_forgets_durability_of_the_removed_entries() {
    // A follower with [1, 1, 1] writes, gets its suffix replaced before its Sync completes:
    // the pending Sync must not vouch for the new entries it never covered.
    let restored = Restored {
        term: 1,
        vote: None,
        snapshot: None,
        entries: noops(&[1]),
    };
    let mut node = RaftNode::new(1, 3, Config::default(), restored, RngStream::derive(1, "f"));
    let mut out = Vec::new();
    let ae = |term, prev_index, entries: &[Term]| Message::AppendEntries {
        term,
        prev_index,
        prev_term: 1,
        entries: noops(entries),
        commit: 0,
    };
    node.receive(0, ae(1, 1, &[1, 1]), &mut out);
    assert_eq!(node.durable_index(), 1);
    node.receive(2, ae(2, 1, &[2]), &mut out);
    assert_eq!(node.log().last_index(), 2);
    node.synced(&mut out);
    assert_eq!(
        node.durable_index(),
        1,
        "the first Sync covered only index 1 of this log"
    );
    node.synced(&mut out);
    assert_eq!(node.durable_index(), 2);
}

// ---- 10. planted bugs --------------------------------------------------------------------

#[test]
fn bug_commit_without_quorum_commits_with_two_of_five() {
    for bug in [false, true] {
        let mut h = Harness::new(5, with(|c| c.bugs.commit_without_quorum = bug));
        h.elect(0);
        h.heartbeat();
        for id in [2, 3, 4] {
            h.isolate(id);
        }
        let index = h.propose(0, 1).unwrap();
        h.deliver_all();
        h.heartbeat();
        let committed = h.raft(0).commit_index() >= index;
        assert_eq!(committed, bug, "bug {bug}: committed with 2 of 5");
    }
}

#[test]
fn bug_vote_ignores_log_elects_a_stale_leader_that_loses_committed_entries() {
    for bug in [false, true] {
        let mut h = Harness::new(3, with(|c| c.bugs.vote_ignores_log = bug));
        h.elect(0);
        h.heartbeat();
        h.isolate(2);
        for seq in 1..=3 {
            h.propose(0, seq).unwrap();
        }
        h.deliver_all();
        h.heartbeat();
        assert_eq!(h.raft(1).commit_index(), 4);
        // Node 2 (log: the no-op only) asks node 1 while the leader is away.
        h.heal();
        h.isolate(0);
        h.fire(2, Timer::Election);
        h.deliver_all();
        let granted = h.delivered.iter().any(|(f, t, m)| {
            (*f, *t) == (1, 2) && matches!(m, Message::Vote { granted: true, .. })
        });
        assert_eq!(granted, bug);
        if bug {
            assert_eq!(h.raft(2).role(), Role::Leader);
            h.heartbeat();
            assert!(
                h.violations
                    .iter()
                    .any(|v| v.contains("lacks committed entry")),
                "{:?}",
                h.violations
            );
        } else {
            assert_ne!(h.raft(2).role(), Role::Leader);
            h.assert_clean();
        }
    }
}

#[test]
fn bug_vote_not_persisted_sends_the_vote_before_writing_it_and_forgets_it() {
    for bug in [false, true] {
        let mut h = Harness::new(3, with(|c| c.bugs.vote_not_persisted = bug));
        // Node 0 is elected with node 1's vote; neither node 2 nor (after the vote) node 1
        // hears from it again, so both keep empty logs.
        h.cut.insert((0, 2));
        h.fire(0, Timer::Election);
        let (from, to, ask) = h.net.pop_front().unwrap();
        h.deliver(from, to, ask);
        h.cut.insert((0, 1));
        h.deliver_all();
        assert_eq!(h.raft(0).role(), Role::Leader);
        assert_eq!(vote_reply_is_persisted_first(&h.nodes[1].outputs, 0), !bug);
        assert_eq!(
            h.violations
                .iter()
                .any(|v| v.contains("before it was written")),
            bug
        );
        h.crash(1);
        h.restart(1);
        let vote = h.raft(1).voted_for();
        assert_eq!(vote, if bug { None } else { Some(0) });
        // Node 2 never heard of term 1 and now stands in it: a node that forgot its vote
        // grants it again, and term 1 gets two leaders.
        h.fire(2, Timer::Election);
        h.deliver_all();
        assert_eq!(h.raft(2).term(), 1);
        assert_eq!(h.raft(2).role() == Role::Leader, bug);
        assert_eq!(
            h.violations
                .iter()
                .any(|v| v.contains("two leaders in term 1")),
            bug
        );
    }
}

// ---- randomised schedules ----------------------------------------------------------------

/// Random interleavings: reordered, dropped and duplicated messages, timers firing anywhere,
/// slow disks, crashes, restarts, partitions and compaction, checked after every step. Stops
/// at the first violation; without one, heals everything and requires the cluster to converge.
fn random_run(seed: u64, n: u32, config: Config, steps: usize) -> Harness {
    let mut h = Harness::with_restored(config, vec![Restored::default(); n as usize], seed);
    for node in &mut h.nodes {
        node.manual_sync = true;
    }
    let mut rng = RngStream::derive(seed, "schedule");
    let mut seq = 0;
    for _ in 0..steps {
        let id = rng.below(n as u64) as NodeId;
        let up = h.nodes[id as usize].up;
        let sync_owed = h.nodes[id as usize].syncs_done < h.nodes[id as usize].syncs_issued;
        match rng.below(1000) {
            0..500 if !h.net.is_empty() => {
                let k = rng.below(h.net.len() as u64) as usize;
                let (from, to, msg) = h.net.remove(k).expect("in range");
                h.deliver(from, to, msg);
            }
            500..530 if !h.net.is_empty() => {
                let k = rng.below(h.net.len() as u64) as usize;
                if rng.chance(0.5) {
                    h.net.remove(k);
                } else {
                    let dup = h.net[k].clone();
                    h.net.push_back(dup);
                }
            }
            530..545 if up => h.fire(id, Timer::Election),
            545..625 if up => h.fire(id, Timer::Heartbeat),
            625..745 if up => {
                seq += 1;
                let _ = h.propose(id, seq);
            }
            745..925 if up && sync_owed => h.complete_sync(id),
            925..930 if up => h.crash(id),
            930..960 if !up => h.restart(id),
            960..965 => {
                h.heal();
                if rng.chance(0.5) {
                    h.isolate(id);
                }
            }
            965..985 if up => h.compact(id),
            _ => {}
        }
        if !h.violations.is_empty() {
            return h;
        }
    }

    // Heal everything and let the cluster settle.
    h.heal();
    for id in 0..n {
        if !h.nodes[id as usize].up {
            h.restart(id);
        }
        h.nodes[id as usize].manual_sync = false;
        while h.nodes[id as usize].syncs_done < h.nodes[id as usize].syncs_issued {
            h.complete_sync(id);
        }
    }
    for round in 0..20 {
        h.deliver_all();
        if h.leaders_now().len() != 1 {
            h.fire(round % n, Timer::Election);
            h.deliver_all();
        }
        h.heartbeat();
    }
    if !h.violations.is_empty() {
        return h;
    }
    let leaders = h.leaders_now();
    assert_eq!(leaders.len(), 1, "seed {seed}: one leader after healing");
    h.propose(leaders[0], 1_000_000).unwrap();
    h.deliver_all();
    h.heartbeat();
    h.heartbeat();
    h.assert_converged();
    assert_eq!(
        h.raft(0).commit_index(),
        h.raft(leaders[0]).log().last_index()
    );
    h
}

#[test]
fn random_schedules_keep_raft_safe_and_live() {
    let mut snapshots_installed = 0;
    for seed in 0..500 {
        let config = with(|c| {
            c.pre_vote = seed % 2 == 1;
            c.check_quorum = seed % 4 >= 2;
            c.max_entries_per_message = 1 + (seed as usize % 5);
        });
        let n = [5, 3, 1][(seed / 4 % 3) as usize];
        let h = random_run(seed, n, config, 12000);
        assert!(h.violations.is_empty(), "seed {seed}: {:#?}", h.violations);
        assert!(h.committed.len() > 10, "seed {seed}: progress");
        snapshots_installed += h.nodes.iter().map(|n| n.restores.len()).sum::<usize>();
    }
    assert!(
        snapshots_installed > 0,
        "the schedules exercise InstallSnapshot"
    );
}

#[test]
fn random_schedules_find_every_planted_bug() {
    // `cas-reports-mismatch` is in the server's answers to clients, which a node alone does not
    // have: scenarios/tests/raft.rs catches it through the clients' history.
    let node_bugs = Bugs::NAMES
        .iter()
        .filter(|n| !matches!(**n, "none" | "cas-reports-mismatch"));
    for name in node_bugs {
        let mut config = Config::default();
        assert!(config.bugs.enable(name));
        let found = (0..200).find(|&seed| {
            !random_run(seed, 5, config.clone(), 6000)
                .violations
                .is_empty()
        });
        assert!(found.is_some(), "{name} went unnoticed");
    }
}

#[test]
fn random_schedules_are_deterministic() {
    let a = random_run(5, 5, Config::default(), 3000);
    let b = random_run(5, 5, Config::default(), 3000);
    for id in 0..5 {
        assert_eq!(a.nodes[id].outputs, b.nodes[id].outputs);
    }
}

//! One Raft node as a sans-IO state machine: elections (with PreVote and CheckQuorum as
//! options), replication with fast backtracking, commitment, snapshots.
//!
//! The node never reads a clock, a socket or thread-local randomness. A driver calls
//! [`RaftNode::start`], [`RaftNode::tick`], [`RaftNode::receive`], [`RaftNode::propose`],
//! [`RaftNode::synced`] and [`RaftNode::compact`], and performs the [`Output`]s each call pushes,
//! in order. The same code runs under the simulator and natively; every collection it iterates
//! is a `Vec` indexed by [`NodeId`], so a run is a function of the calls made and the seed of the
//! node's random stream (used only for election timeouts).
//!
//! # What the driver can rely on
//!
//! 1. **Writes are followed by a Sync.** Every call that pushes an [`Output::Write`] pushes an
//!    [`Output::Sync`] after its last write before returning. The node pushes a `Sync` before
//!    any `Send` that follows an unsynced write, so a reply always comes after the write it
//!    depends on and a `Sync` covering it: write, Sync, Send. The driver must hold every `Send`
//!    until all writes pushed before it are durable.
//! 2. **`synced()` once per Sync, in order.** The node remembers, for each outstanding `Sync`,
//!    the last log index at the time it was pushed; when the driver reports it done, that
//!    prefix is durable. A leader counts itself toward a commit quorum only up to its durable
//!    index, so a leader crash cannot lose an entry it reported committed.
//! 3. **Timers.** `SetTimer { timer, after }` replaces the pending timer of that kind. The node
//!    ignores ticks that no longer apply (a `Heartbeat` when not leader; an `Election` for a
//!    leader without CheckQuorum).
//! 4. **Commit and Restore.** `Output::Commit(i)` whenever the commit index increases: apply
//!    entries up to `i` in order. `Output::Restore(snapshot)` when a follower installs a snapshot
//!    from its leader, always before the `Commit` that covers it.
//!
//! # Choices the Raft papers leave open
//!
//! - The leader pipelines: after sending entries to a follower it moves that follower's
//!   `next_index` past them, so new proposals go out at once and each entry is sent once in the
//!   common case. A lost message shows up as a rejected heartbeat, which resets `next_index`
//!   (with the follower's conflict hint) and resends at once.
//! - While a follower is owed a snapshot, only heartbeats (re)send it; proposals do not.
//! - A pre-vote rejection carries the responder's real term; a pre-candidate that sees a higher
//!   term in one adopts it like any other higher term. Pre-vote requests and granted pre-votes
//!   never change anyone's term.
//! - With CheckQuorum the leader's quorum-check period is a freshly drawn election timeout.
//!
//! Assertions that planted bugs ([`Bugs`]) can break (a leader meeting another leader of its
//! term, a follower truncating a committed entry) are skipped when any bug is on, so the
//! simulator's checkers, not a panic, report the damage.

use std::collections::VecDeque;

use simcore::{RngStream, SimDuration};

use super::kv::{Command, KvState};
use super::log::Log;
use super::types::{
    Config, Entry, Index, Message, NodeId, Output, Payload, Restored, Role, Snapshot, Term, Timer,
    Write,
};

/// One Raft node. See the module documentation for the contract with its driver.
#[derive(Debug, Clone)]
pub struct RaftNode {
    id: NodeId,
    cluster_size: u32,
    config: Config,
    rng: RngStream,

    // Persistent state (mirrored to storage through `Write`s).
    term: Term,
    vote: Option<NodeId>,
    log: Log,
    snapshot: Option<Snapshot>,

    // Volatile state.
    role: Role,
    leader: Option<NodeId>,
    commit_index: Index,
    /// The last log index known durable (everything up to it survived a `Sync`).
    durable_index: Index,
    /// Per outstanding `Sync`, oldest first: the last log index when it was pushed.
    syncs_pending: VecDeque<Index>,
    /// A write was pushed since the last `Sync`.
    unsynced: bool,

    /// Candidates and pre-candidates: who granted their (pre-)vote in this round.
    votes: Vec<bool>,

    // Leader state, indexed by peer.
    next_index: Vec<Index>,
    match_index: Vec<Index>,
    /// CheckQuorum: which peers sent a message of this term since the last check.
    heard: Vec<bool>,
    /// The peer was sent an InstallSnapshot and has not answered yet.
    snapshot_owed: Vec<bool>,
}

impl RaftNode {
    /// A node recovering `restored` from its storage (all of it durable). `rng` is the node's
    /// own seeded stream, used only for election timeouts.
    pub fn new(
        id: NodeId,
        cluster_size: u32,
        config: Config,
        restored: Restored,
        rng: RngStream,
    ) -> Self {
        assert!(cluster_size >= 1, "a cluster has at least one node");
        assert!(
            id < cluster_size,
            "node {id} outside a cluster of {cluster_size}"
        );
        let Restored {
            term,
            vote,
            snapshot,
            entries,
        } = restored;
        let (snapshot_index, snapshot_term) = snapshot
            .as_ref()
            .map_or((0, 0), |s| (s.last_index, s.last_term));
        let log = Log::new(snapshot_index, snapshot_term, entries);
        debug_assert!(
            log.last_term() <= term,
            "a log never holds a term ahead of the node"
        );
        debug_assert!(vote.is_none_or(|v| v < cluster_size));
        let n = cluster_size as usize;
        RaftNode {
            id,
            cluster_size,
            config,
            rng,
            term,
            vote,
            durable_index: log.last_index(),
            log,
            snapshot,
            role: Role::Follower,
            leader: None,
            commit_index: snapshot_index,
            syncs_pending: VecDeque::new(),
            unsynced: false,
            votes: vec![false; n],
            next_index: vec![0; n],
            match_index: vec![0; n],
            heard: vec![false; n],
            snapshot_owed: vec![false; n],
        }
    }

    /// Arms the election timer.
    pub fn start(&mut self, out: &mut Vec<Output>) {
        self.arm_election_timer(out);
    }

    /// A timer fired.
    pub fn tick(&mut self, timer: Timer, out: &mut Vec<Output>) {
        match (timer, self.role) {
            (Timer::Heartbeat, Role::Leader) => {
                for peer in self.peers() {
                    self.send_append(peer, out);
                }
                out.push(Output::SetTimer {
                    timer: Timer::Heartbeat,
                    after: self.config.heartbeat,
                });
            }
            (Timer::Heartbeat, _) => {}
            (Timer::Election, Role::Leader) => {
                if self.config.check_quorum {
                    self.check_quorum(out);
                }
            }
            (Timer::Election, _) => {
                // Whoever we followed has been silent for a whole timeout.
                self.leader = None;
                if self.config.pre_vote {
                    self.start_pre_election(out);
                } else {
                    self.start_election(out);
                }
            }
        }
        self.finish(out);
    }

    /// A message arrived from `from`.
    pub fn receive(&mut self, from: NodeId, msg: Message, out: &mut Vec<Output>) {
        debug_assert!(from < self.cluster_size && from != self.id);
        if from >= self.cluster_size || from == self.id {
            return;
        }
        let msg_term = msg.term();
        // Pre-vote requests carry a term nobody holds yet and granted pre-votes echo it:
        // neither makes anyone change term (thesis §9.6).
        let term_is_hypothetical = matches!(
            msg,
            Message::RequestVote { pre_vote: true, .. }
                | Message::Vote {
                    pre_vote: true,
                    granted: true,
                    ..
                }
        );
        if msg_term > self.term && !term_is_hypothetical {
            let leader = match msg {
                Message::AppendEntries { .. } | Message::InstallSnapshot { .. } => Some(from),
                _ => None,
            };
            self.become_follower(msg_term, leader, out);
        }
        if self.role == Role::Leader && msg_term == self.term {
            self.heard[from as usize] = true;
        }
        match msg {
            Message::RequestVote {
                term,
                last_log_index,
                last_log_term,
                pre_vote,
            } => self.on_request_vote(from, term, last_log_index, last_log_term, pre_vote, out),
            Message::Vote {
                term,
                granted,
                pre_vote,
            } => self.on_vote(from, term, granted, pre_vote, out),
            Message::AppendEntries {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => self.on_append(from, term, prev_index, prev_term, entries, commit, out),
            Message::AppendResult {
                term,
                success,
                match_index,
                conflict_index,
                conflict_term,
            } => self.on_append_result(
                from,
                term,
                success,
                match_index,
                conflict_index,
                conflict_term,
                out,
            ),
            Message::InstallSnapshot { term, snapshot } => {
                self.on_install_snapshot(from, term, snapshot, out)
            }
            Message::SnapshotResult { term, last_index } => {
                self.on_snapshot_result(from, term, last_index, out)
            }
        }
        self.finish(out);
    }

    /// Leader: appends the command, starts replicating it and returns its index. Others:
    /// `Err` with the leader they know of, if any.
    pub fn propose(
        &mut self,
        cmd: Command,
        out: &mut Vec<Output>,
    ) -> Result<Index, Option<NodeId>> {
        if self.role != Role::Leader {
            return Err(self.leader);
        }
        let index = self.append_own(Payload::Command(cmd), out);
        for peer in self.peers() {
            if !self.snapshot_owed[peer as usize] {
                self.send_append(peer, out);
            }
        }
        // A single node commits once the entry is durable (in `synced`).
        self.finish(out);
        Ok(index)
    }

    /// The driver finished the oldest outstanding [`Output::Sync`].
    pub fn synced(&mut self, out: &mut Vec<Output>) {
        let index = self
            .syncs_pending
            .pop_front()
            .expect("synced() called once per Output::Sync, never more");
        debug_assert!(index <= self.log.last_index() || self.config.bugs.any());
        self.durable_index = self.durable_index.max(index);
        if self.role == Role::Leader {
            self.advance_commit(out);
        }
        self.finish(out);
    }

    /// The driver applied everything up to `index` (at most the commit index) and hands over
    /// the state machine at that point: the log prefix up to `index` becomes a snapshot
    /// (`Write::Snapshot`, then `Sync`). An index at or below the current snapshot is ignored.
    pub fn compact(&mut self, index: Index, data: KvState, out: &mut Vec<Output>) {
        assert!(
            index <= self.commit_index,
            "compact({index}) past the commit index {}",
            self.commit_index
        );
        if index <= self.log.snapshot_index() {
            return;
        }
        let Some(term) = self.log.term_at(index) else {
            debug_assert!(
                self.config.bugs.any(),
                "committed index {index} not in the log"
            );
            return;
        };
        self.log.compact_to(index, term);
        debug_assert_eq!(self.log.snapshot_index(), index);
        let snapshot = Snapshot {
            last_index: index,
            last_term: term,
            data,
        };
        self.write(Write::Snapshot(snapshot.clone()), out);
        self.snapshot = Some(snapshot);
        self.finish(out);
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn term(&self) -> Term {
        self.term
    }

    pub fn voted_for(&self) -> Option<NodeId> {
        self.vote
    }

    /// The leader this node knows of in its term (itself when leading), if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    pub fn commit_index(&self) -> Index {
        self.commit_index
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The last log index known to be durable.
    pub fn durable_index(&self) -> Index {
        self.durable_index
    }

    pub fn cluster_size(&self) -> u32 {
        self.cluster_size
    }

    /// The lowest log index changed since the last call (see [`Log::take_dirty_from`]).
    pub fn take_dirty_from(&mut self) -> Option<Index> {
        self.log.take_dirty_from()
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Leader: the next index to send to `peer` (0 for itself or when not leader).
    pub fn next_index_of(&self, peer: NodeId) -> Index {
        if self.role == Role::Leader {
            self.next_index[peer as usize]
        } else {
            0
        }
    }

    /// Leader: the highest index known to match on `peer` (0 when not leader).
    pub fn match_index_of(&self, peer: NodeId) -> Index {
        if self.role == Role::Leader {
            self.match_index[peer as usize]
        } else {
            0
        }
    }

    // ---- elections ----------------------------------------------------------------------

    fn majority(&self) -> usize {
        self.cluster_size as usize / 2 + 1
    }

    fn peers(&self) -> impl Iterator<Item = NodeId> + use<> {
        let id = self.id;
        (0..self.cluster_size).filter(move |&p| p != id)
    }

    fn election_timeout(&mut self) -> SimDuration {
        let (low, high) = self.config.election_timeout;
        let span = high.as_nanos().saturating_sub(low.as_nanos());
        let jitter = match span.checked_add(1) {
            Some(choices) => self.rng.below(choices),
            None => self.rng.next_u64(),
        };
        SimDuration::from_nanos(low.as_nanos().saturating_add(jitter))
    }

    fn arm_election_timer(&mut self, out: &mut Vec<Output>) {
        let after = self.election_timeout();
        out.push(Output::SetTimer {
            timer: Timer::Election,
            after,
        });
    }

    fn reset_votes(&mut self) {
        self.votes.fill(false);
        self.votes[self.id as usize] = true;
    }

    fn votes_granted(&self) -> usize {
        self.votes.iter().filter(|&&v| v).count()
    }

    /// PreVote: ask whether we could win in the next term, without changing our own.
    fn start_pre_election(&mut self, out: &mut Vec<Output>) {
        self.role = Role::PreCandidate;
        self.reset_votes();
        if self.votes_granted() >= self.majority() {
            self.start_election(out);
            return;
        }
        self.arm_election_timer(out);
        let msg = Message::RequestVote {
            term: self.term + 1,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            pre_vote: true,
        };
        for peer in self.peers() {
            self.send(peer, msg.clone(), out);
        }
    }

    fn start_election(&mut self, out: &mut Vec<Output>) {
        self.role = Role::Candidate;
        self.term += 1;
        self.vote = Some(self.id);
        self.leader = None;
        self.persist_hard_state(out);
        self.reset_votes();
        if self.votes_granted() >= self.majority() {
            self.become_leader(out);
            return;
        }
        self.arm_election_timer(out);
        let msg = Message::RequestVote {
            term: self.term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            pre_vote: false,
        };
        // `send` pushes the Sync for the HardState write before the first request.
        for peer in self.peers() {
            self.send(peer, msg.clone(), out);
        }
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>, out: &mut Vec<Output>) {
        debug_assert!(term >= self.term, "terms never decrease");
        let was_leader = self.role == Role::Leader;
        if term > self.term {
            self.term = term;
            self.vote = None;
            self.persist_hard_state(out);
        }
        self.role = Role::Follower;
        self.leader = leader;
        if was_leader {
            // The leader's timers were heartbeat and (maybe) quorum check; a follower needs an
            // election timer.
            self.arm_election_timer(out);
        }
    }

    fn become_leader(&mut self, out: &mut Vec<Output>) {
        debug_assert!(self.role == Role::Candidate);
        debug_assert_eq!(self.vote, Some(self.id));
        self.role = Role::Leader;
        self.leader = Some(self.id);
        let first_new = self.log.last_index() + 1;
        self.next_index.fill(first_new);
        self.match_index.fill(0);
        self.heard.fill(false);
        self.snapshot_owed.fill(false);
        // The no-op lets the new leader commit entries of earlier terms (§5.4.2); the first
        // AppendEntries carries it.
        self.append_own(Payload::Noop, out);
        for peer in self.peers() {
            self.send_append(peer, out);
        }
        out.push(Output::SetTimer {
            timer: Timer::Heartbeat,
            after: self.config.heartbeat,
        });
        if self.config.check_quorum {
            self.arm_election_timer(out);
        }
    }

    /// CheckQuorum (thesis §6.2): step down unless a majority was heard since the last check.
    fn check_quorum(&mut self, out: &mut Vec<Output>) {
        let id = self.id as usize;
        let heard = self
            .heard
            .iter()
            .enumerate()
            .filter(|&(p, &h)| h || p == id)
            .count();
        if heard >= self.majority() {
            self.heard.fill(false);
            self.arm_election_timer(out);
        } else {
            let term = self.term;
            self.become_follower(term, None, out);
        }
    }

    fn on_request_vote(
        &mut self,
        from: NodeId,
        term: Term,
        last_log_index: Index,
        last_log_term: Term,
        pre_vote: bool,
        out: &mut Vec<Output>,
    ) {
        let log_ok = self.log.is_up_to_date(last_log_index, last_log_term);
        if pre_vote {
            // Grant only if a real election could be needed: the candidate is ahead of us, its
            // log is good enough, and we are not following a leader we heard from since our
            // election timer last fired (a leader follows itself).
            let granted = term > self.term && log_ok && self.leader.is_none();
            let reply_term = if granted { term } else { self.term };
            self.send(
                from,
                Message::Vote {
                    term: reply_term,
                    granted,
                    pre_vote: true,
                },
                out,
            );
            return;
        }
        // A higher term was adopted in `receive`.
        debug_assert!(term <= self.term);
        let free = self.vote.is_none() || self.vote == Some(from);
        let log_ok = log_ok || self.config.bugs.vote_ignores_log;
        let granted = term == self.term && free && log_ok;
        if granted {
            // A candidate or leader of this term voted for itself, so only a follower or a
            // pre-candidate gets here; the latter gives way to the candidate it voted for.
            debug_assert!(matches!(self.role, Role::Follower | Role::PreCandidate));
            if self.role == Role::PreCandidate {
                let term = self.term;
                self.become_follower(term, None, out);
            }
            self.vote = Some(from);
            if !self.config.bugs.vote_not_persisted {
                self.persist_hard_state(out);
            }
            self.arm_election_timer(out);
        }
        self.send(
            from,
            Message::Vote {
                term: self.term,
                granted,
                pre_vote: false,
            },
            out,
        );
    }

    fn on_vote(
        &mut self,
        from: NodeId,
        term: Term,
        granted: bool,
        pre_vote: bool,
        out: &mut Vec<Output>,
    ) {
        if !granted {
            return;
        }
        if pre_vote {
            if self.role == Role::PreCandidate && term == self.term + 1 {
                self.votes[from as usize] = true;
                if self.votes_granted() >= self.majority() {
                    self.start_election(out);
                }
            }
        } else if self.role == Role::Candidate && term == self.term {
            self.votes[from as usize] = true;
            if self.votes_granted() >= self.majority() {
                self.become_leader(out);
            }
        }
    }

    // ---- replication: follower side -----------------------------------------------------

    /// Accepts `from` as the leader of the current term (the caller checked the term).
    fn follow(&mut self, from: NodeId, out: &mut Vec<Output>) {
        if self.role == Role::Leader {
            // Two leaders in one term: only planted bugs get here.
            debug_assert!(self.config.bugs.any(), "two leaders in term {}", self.term);
            return;
        }
        if self.role != Role::Follower {
            let term = self.term;
            self.become_follower(term, Some(from), out);
        }
        self.leader = Some(from);
        self.arm_election_timer(out);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        from: NodeId,
        term: Term,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
        out: &mut Vec<Output>,
    ) {
        if term < self.term {
            let reply = self.append_result(false, 0, 0, None);
            self.send(from, reply, out);
            return;
        }
        debug_assert_eq!(term, self.term);
        self.follow(from, out);
        if self.role == Role::Leader {
            return;
        }
        let match_index = prev_index + entries.len() as Index;

        // Entries up to the snapshot are committed and so match the leader's: skip them.
        let snapshot_index = self.log.snapshot_index();
        let (prev_index, prev_term, entries) = if prev_index < snapshot_index {
            let skip = (snapshot_index - prev_index) as usize;
            if skip >= entries.len() {
                let reply = self.append_result(true, match_index, 0, None);
                self.send(from, reply, out);
                return;
            }
            debug_assert!(
                entries[skip - 1].term == self.log.snapshot_term() || self.config.bugs.any(),
                "a snapshot covers only committed entries"
            );
            let mut entries = entries;
            entries.drain(..skip);
            (snapshot_index, self.log.snapshot_term(), entries)
        } else {
            (prev_index, prev_term, entries)
        };

        // Consistency check, with the hint for fast backtracking.
        if prev_index > self.log.last_index() {
            let reply = self.append_result(false, 0, self.log.last_index() + 1, None);
            self.send(from, reply, out);
            return;
        }
        let ours = self
            .log
            .term_at(prev_index)
            .expect("prev_index is within the log");
        if ours != prev_term {
            debug_assert!(prev_index > snapshot_index || self.config.bugs.any());
            let first = self.log.first_index_of_term(ours, prev_index);
            let reply = self.append_result(false, 0, first, Some(ours));
            self.send(from, reply, out);
            return;
        }

        // Skip what matches; truncate only from the first conflict; append the rest.
        let mut changed_from = None;
        for (k, entry) in entries.iter().enumerate() {
            let index = prev_index + 1 + k as Index;
            match self.log.term_at(index) {
                Some(t) if t == entry.term => continue,
                Some(_) => {
                    debug_assert!(
                        index > self.commit_index || self.config.bugs.any(),
                        "truncating committed entry {index}"
                    );
                    self.log.truncate_from(index);
                    self.forget_durable_from(index);
                }
                None => {}
            }
            changed_from = Some((index, k));
            break;
        }
        if let Some((first, k)) = changed_from {
            let suffix = entries[k..].to_vec();
            for entry in &suffix {
                self.log.append(entry.clone());
            }
            self.write(
                Write::Append {
                    first,
                    entries: suffix,
                },
                out,
            );
        }
        debug_assert!(self.log.last_index() >= match_index);

        let commit = leader_commit.min(match_index);
        if commit > self.commit_index {
            self.set_commit(commit, out);
        }
        let reply = self.append_result(true, match_index, 0, None);
        self.send(from, reply, out);
    }

    fn append_result(
        &self,
        success: bool,
        match_index: Index,
        conflict_index: Index,
        conflict_term: Option<Term>,
    ) -> Message {
        Message::AppendResult {
            term: self.term,
            success,
            match_index,
            conflict_index,
            conflict_term,
        }
    }

    fn on_install_snapshot(
        &mut self,
        from: NodeId,
        term: Term,
        snapshot: Snapshot,
        out: &mut Vec<Output>,
    ) {
        if term < self.term {
            let reply = Message::SnapshotResult {
                term: self.term,
                last_index: 0,
            };
            self.send(from, reply, out);
            return;
        }
        self.follow(from, out);
        if self.role == Role::Leader {
            return;
        }
        let last_index = snapshot.last_index;
        if last_index > self.commit_index {
            if self.log.term_at(last_index) != Some(snapshot.last_term) {
                // `compact_to` drops the whole log: nothing past the snapshot stays durable.
                self.forget_durable_from(last_index + 1);
            }
            self.log.compact_to(last_index, snapshot.last_term);
            debug_assert_eq!(self.log.snapshot_index(), last_index);
            self.write(Write::Snapshot(snapshot.clone()), out);
            out.push(Output::Restore(snapshot.clone()));
            self.snapshot = Some(snapshot);
            self.set_commit(last_index, out);
        }
        let reply = Message::SnapshotResult {
            term: self.term,
            last_index,
        };
        self.send(from, reply, out);
    }

    // ---- replication: leader side --------------------------------------------------------

    /// Appends an entry of the current term to the leader's own log and writes it.
    fn append_own(&mut self, payload: Payload, out: &mut Vec<Output>) -> Index {
        debug_assert_eq!(self.role, Role::Leader);
        let entry = Entry {
            term: self.term,
            payload,
        };
        let index = self.log.append(entry.clone());
        self.write(
            Write::Append {
                first: index,
                entries: vec![entry],
            },
            out,
        );
        index
    }

    /// Sends `peer` what it needs next: a snapshot if its next entry was compacted away, else
    /// AppendEntries with up to `max_entries_per_message` entries (empty as a heartbeat).
    fn send_append(&mut self, peer: NodeId, out: &mut Vec<Output>) {
        let p = peer as usize;
        let next = self.next_index[p];
        debug_assert!(next >= 1 && next <= self.log.last_index() + 1);
        if next <= self.log.snapshot_index() {
            let snapshot = self
                .snapshot
                .clone()
                .expect("a compacted log has a snapshot");
            self.snapshot_owed[p] = true;
            let msg = Message::InstallSnapshot {
                term: self.term,
                snapshot,
            };
            self.send(peer, msg, out);
            return;
        }
        let prev_index = next - 1;
        let prev_term = self
            .log
            .term_at(prev_index)
            .expect("next_index is past the snapshot");
        let max = self.config.max_entries_per_message.max(1);
        let entries = self.log.entries_from(next, max).to_vec();
        // Pipeline: the next message carries what follows these entries.
        self.next_index[p] = next + entries.len() as Index;
        let msg = Message::AppendEntries {
            term: self.term,
            prev_index,
            prev_term,
            entries,
            commit: self.commit_index,
        };
        self.send(peer, msg, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_result(
        &mut self,
        from: NodeId,
        term: Term,
        success: bool,
        match_index: Index,
        conflict_index: Index,
        conflict_term: Option<Term>,
        out: &mut Vec<Output>,
    ) {
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let p = from as usize;
        let last = self.log.last_index();
        if success {
            debug_assert!(match_index <= last || self.config.bugs.any());
            let match_index = match_index.min(last);
            self.match_index[p] = self.match_index[p].max(match_index);
            self.next_index[p] = self.next_index[p].max(self.match_index[p] + 1);
            self.snapshot_owed[p] = false;
            self.advance_commit(out);
            if self.next_index[p] <= self.log.last_index() {
                self.send_append(from, out);
            }
        } else {
            let hint = conflict_term
                .and_then(|t| self.log.last_index_of_term(t))
                .map_or(conflict_index, |i| i + 1);
            self.next_index[p] = hint.clamp(self.match_index[p] + 1, last + 1);
            if !self.snapshot_owed[p] {
                self.send_append(from, out);
            }
        }
    }

    fn on_snapshot_result(
        &mut self,
        from: NodeId,
        term: Term,
        last_index: Index,
        out: &mut Vec<Output>,
    ) {
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let p = from as usize;
        let last_index = last_index.min(self.log.last_index());
        self.match_index[p] = self.match_index[p].max(last_index);
        self.next_index[p] = self.next_index[p].max(self.match_index[p] + 1);
        self.snapshot_owed[p] = false;
        self.advance_commit(out);
        if self.next_index[p] <= self.log.last_index() {
            self.send_append(from, out);
        }
    }

    /// How many nodes must hold an entry before the leader commits it.
    fn commit_quorum(&self) -> usize {
        let n = self.cluster_size as usize;
        if self.config.bugs.commit_without_quorum {
            (n / 2).max(1)
        } else {
            n / 2 + 1
        }
    }

    /// Leader: commit the highest index of the current term held by a quorum, counting itself
    /// only up to its durable index (§5.3, §5.4.2).
    fn advance_commit(&mut self, out: &mut Vec<Output>) {
        debug_assert_eq!(self.role, Role::Leader);
        let id = self.id as usize;
        let mut held: Vec<Index> = (0..self.cluster_size as usize)
            .map(|p| {
                if p == id {
                    self.durable_index.min(self.log.last_index())
                } else {
                    self.match_index[p]
                }
            })
            .collect();
        held.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = held[self.commit_quorum() - 1];
        // Entries of earlier terms commit only through an entry of this term.
        if candidate > self.commit_index && self.log.term_at(candidate) == Some(self.term) {
            self.set_commit(candidate, out);
        }
    }

    // ---- shared plumbing ------------------------------------------------------------------

    fn set_commit(&mut self, commit: Index, out: &mut Vec<Output>) {
        debug_assert!(commit > self.commit_index, "the commit index only grows");
        debug_assert!(commit <= self.log.last_index(), "commit within the log");
        self.commit_index = commit;
        out.push(Output::Commit(commit));
    }

    /// Entries from `from` on were removed: they are no longer durable, and neither are the
    /// indexes pending Syncs would have covered.
    fn forget_durable_from(&mut self, from: Index) {
        debug_assert!(
            self.role != Role::Leader,
            "a leader never truncates its own log"
        );
        let keep = from.saturating_sub(1);
        self.durable_index = self.durable_index.min(keep);
        for index in &mut self.syncs_pending {
            *index = (*index).min(keep);
        }
    }

    fn persist_hard_state(&mut self, out: &mut Vec<Output>) {
        let w = Write::HardState {
            term: self.term,
            vote: self.vote,
        };
        self.write(w, out);
    }

    fn write(&mut self, w: Write, out: &mut Vec<Output>) {
        out.push(Output::Write(w));
        self.unsynced = true;
    }

    fn sync(&mut self, out: &mut Vec<Output>) {
        out.push(Output::Sync);
        self.syncs_pending.push_back(self.log.last_index());
        self.unsynced = false;
    }

    /// Sends `msg`, after a Sync if a write is pending (so a reply follows what it promises).
    fn send(&mut self, to: NodeId, msg: Message, out: &mut Vec<Output>) {
        debug_assert!(to != self.id && to < self.cluster_size);
        if self.unsynced {
            self.sync(out);
        }
        out.push(Output::Send { to, msg });
    }

    /// Ends every public call: a write is always followed by a Sync before returning.
    fn finish(&mut self, out: &mut Vec<Output>) {
        if self.unsynced {
            self.sync(out);
        }
        debug_assert!(self.commit_index <= self.log.last_index() || self.config.bugs.any());
        debug_assert!(self.durable_index <= self.log.last_index() || self.config.bugs.any());
        debug_assert!(
            self.log.last_term() <= self.term,
            "no entry is ahead of the term"
        );
        debug_assert!(self.role != Role::Leader || self.leader == Some(self.id));
        debug_assert_eq!(self.log.snapshot_index() > 0, self.snapshot.is_some());
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;

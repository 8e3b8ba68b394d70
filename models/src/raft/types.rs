//! The words Raft nodes, their storage and their driver share: entries, messages, storage
//! writes, timers, configuration and the planted bugs.
//!
//! Everything here is plain data, so the same node code runs under the simulator (which moves
//! messages through the network model) and natively (which serialises them onto sockets).

use simcore::SimDuration;

use super::kv::{Command, KvState};

/// A node's number in its cluster: `0..n`.
pub type NodeId = u32;
/// An election term; 0 before the first election.
pub type Term = u64;
/// A log position, from 1; 0 means "before the first entry".
pub type Index = u64;

/// What a log entry carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Appended by every new leader, so it can commit entries of earlier terms (Raft §5.4.2).
    Noop,
    Command(Command),
}

/// One log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub term: Term,
    pub payload: Payload,
}

/// A state-machine snapshot that replaces the log up to `last_index` (Raft §7).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub last_index: Index,
    pub last_term: Term,
    /// The state machine after applying entries `1..=last_index`; cheap to clone (shared).
    pub data: KvState,
}

/// Messages between nodes (Raft figure 2, plus PreVote from Ongaro's thesis §9.6).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A (pre-)vote request. For a pre-vote, `term` is the term the candidate would stand in;
    /// neither side changes its own term.
    RequestVote {
        term: Term,
        last_log_index: Index,
        last_log_term: Term,
        pre_vote: bool,
    },
    /// The answer to a (pre-)vote request. A granted pre-vote carries the requested term.
    Vote {
        term: Term,
        granted: bool,
        pre_vote: bool,
    },
    AppendEntries {
        term: Term,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    },
    /// The answer to AppendEntries. On success `match_index` is the last index known to match
    /// the leader's log. On failure the conflict hint lets the leader skip a whole term at a
    /// time (the "fast backtracking" of Raft §5.3 and the MIT 6.824 notes): `conflict_term` is
    /// the follower's term at `prev_index` (if it has that entry) and `conflict_index` the first
    /// index the follower holds for that term, or its last index + 1 when its log is too short.
    AppendResult {
        term: Term,
        success: bool,
        match_index: Index,
        conflict_index: Index,
        conflict_term: Option<Term>,
    },
    /// The whole snapshot in one message (no chunking: a simulated message has no size limit;
    /// its size still counts against link bandwidth).
    InstallSnapshot { term: Term, snapshot: Snapshot },
    /// The answer to InstallSnapshot: the follower's log now matches up to `last_index`.
    SnapshotResult { term: Term, last_index: Index },
}

impl Message {
    /// The sender's term.
    pub fn term(&self) -> Term {
        match self {
            Message::RequestVote { term, .. }
            | Message::Vote { term, .. }
            | Message::AppendEntries { term, .. }
            | Message::AppendResult { term, .. }
            | Message::InstallSnapshot { term, .. }
            | Message::SnapshotResult { term, .. } => *term,
        }
    }

    /// A short name, for traces and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::RequestVote { pre_vote: true, .. } => "pre-vote",
            Message::RequestVote { .. } => "request-vote",
            Message::Vote { .. } => "vote",
            Message::AppendEntries { .. } => "append-entries",
            Message::AppendResult { .. } => "append-result",
            Message::InstallSnapshot { .. } => "install-snapshot",
            Message::SnapshotResult { .. } => "snapshot-result",
        }
    }

    /// Its size on the wire, roughly: a 64-byte header, 32 bytes per entry, and 24 bytes per key
    /// of a snapshot. Only link bandwidth uses it.
    pub fn wire_bytes(&self) -> u64 {
        match self {
            Message::AppendEntries { entries, .. } => 64 + 32 * entries.len() as u64,
            Message::InstallSnapshot { snapshot, .. } => 64 + 24 * snapshot.data.len() as u64,
            _ => 64,
        }
    }
}

/// A change to a node's durable state, in the order the node makes them. The driver applies
/// them to its storage; they survive a crash only once a later [`Output::Sync`] has completed.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// The current term and the vote cast in it.
    HardState { term: Term, vote: Option<NodeId> },
    /// Drop every entry from `first` on, then append `entries` starting at `first`.
    Append { first: Index, entries: Vec<Entry> },
    /// Store the snapshot and drop the entries it covers (all of the log if the entry at
    /// `last_index` does not have `last_term`).
    Snapshot(Snapshot),
}

/// A node's timers. Setting one replaces the pending timer of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Followers and candidates: start an election when it fires. Leaders with CheckQuorum:
    /// step down unless a majority was heard from since the last firing.
    Election,
    /// Leaders: send AppendEntries (empty if nothing is new) to every follower.
    Heartbeat,
}

/// What a node asks its driver to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a message. The driver holds it until every write the node made before it is
    /// durable (a reply must never promise what a crash could take back).
    Send { to: NodeId, msg: Message },
    /// Apply to storage (see [`Write`]).
    Write(Write),
    /// Make every write so far durable; the driver answers with [`RaftNode::synced`] once done,
    /// one call per `Sync`, in order.
    ///
    /// [`RaftNode::synced`]: super::node::RaftNode::synced
    Sync,
    /// (Re)arm a timer to fire after `after` on the node's own clock.
    SetTimer { timer: Timer, after: SimDuration },
    /// The commit index advanced to this index: apply entries up to it, in order.
    Commit(Index),
    /// The node installed a snapshot from its leader: replace the state machine with it.
    Restore(Snapshot),
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Follower,
    /// Asking for pre-votes before standing (only with PreVote on).
    PreCandidate,
    Candidate,
    Leader,
}

/// Real bugs that can be switched on, so tests can prove the checkers catch them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bugs {
    /// The leader counts a quorum as `n / 2` nodes instead of `n / 2 + 1`, so it commits
    /// without a majority.
    pub commit_without_quorum: bool,
    /// A node grants its vote without writing it to storage first: after a crash and restart
    /// it may vote again in the same term.
    pub vote_not_persisted: bool,
    /// A node grants its vote without checking that the candidate's log is at least as
    /// up to date as its own (Raft §5.4.1).
    pub vote_ignores_log: bool,
    /// The server's state machine treats a cas whose expected value matches as a mismatch: it
    /// changes nothing and answers "the value differed". Only the clients' history shows it,
    /// and only because such an answer is recorded as an observation (`ok cas OLD NEW false`),
    /// not as `fail`.
    pub cas_reports_mismatch: bool,
}

impl Bugs {
    /// The bug names a scenario can switch on (`none`: no bug, the default).
    pub const NAMES: &'static [&'static str] = &[
        "none",
        "commit-without-quorum",
        "vote-not-persisted",
        "vote-ignores-log",
        "cas-reports-mismatch",
    ];

    /// Switches on the bug called `name`; false if there is none by that name.
    pub fn enable(&mut self, name: &str) -> bool {
        match name {
            "none" => {}
            "commit-without-quorum" => self.commit_without_quorum = true,
            "vote-not-persisted" => self.vote_not_persisted = true,
            "vote-ignores-log" => self.vote_ignores_log = true,
            "cas-reports-mismatch" => self.cas_reports_mismatch = true,
            _ => return false,
        }
        true
    }

    pub fn any(&self) -> bool {
        *self != Bugs::default()
    }
}

/// How a node behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Election timeouts are drawn uniformly from this range (inclusive), on the node's clock.
    pub election_timeout: (SimDuration, SimDuration),
    pub heartbeat: SimDuration,
    /// Ask for pre-votes before standing for election (thesis §9.6).
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a majority within an election timeout
    /// (thesis §6.2).
    pub check_quorum: bool,
    /// The most entries one AppendEntries carries.
    pub max_entries_per_message: usize,
    pub bugs: Bugs,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            election_timeout: (SimDuration::from_millis(150), SimDuration::from_millis(300)),
            heartbeat: SimDuration::from_millis(50),
            pre_vote: false,
            check_quorum: false,
            max_entries_per_message: 64,
            bugs: Bugs::default(),
        }
    }
}

/// What a node recovers from its storage when it (re)starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Restored {
    pub term: Term,
    pub vote: Option<NodeId>,
    pub snapshot: Option<Snapshot>,
    /// The entries after the snapshot (or from index 1 without one).
    pub entries: Vec<Entry>,
}

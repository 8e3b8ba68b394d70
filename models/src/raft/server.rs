//! A KV server: a Raft node, the state machine it feeds, and the clients waiting for answers.
//!
//! Sans-IO like the node: the driver (the simulator's cluster model, or the native runner)
//! delivers messages, timer firings, fsync completions and client requests, and performs the
//! [`Action`]s. Committed entries are applied here, in order; a client waiting on this server
//! for a command gets its answer when the command is applied. A follower answers "not the
//! leader" with its best guess, and clients retry (safely: sessions make a command apply at most
//! once).

use std::collections::BTreeMap;

use simcore::RngStream;

use super::kv::{Command, KvOp, KvResult, KvState};
use super::node::RaftNode;
use super::types::{Config, Index, Message, NodeId, Output, Payload, Restored, Timer};

/// A client's number (its host, to the driver).
pub type ClientId = u32;

/// A client's request to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub client: ClientId,
    pub cmd: Command,
}

/// A server's answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The command was applied (now or, for a retry, before) with this result.
    Done {
        session: u64,
        seq: u64,
        result: KvResult,
    },
    /// This server is not the leader; try `leader` if known.
    NotLeader {
        session: u64,
        seq: u64,
        leader: Option<NodeId>,
    },
}

impl Reply {
    pub fn id(&self) -> (u64, u64) {
        match *self {
            Reply::Done { session, seq, .. } | Reply::NotLeader { session, seq, .. } => {
                (session, seq)
            }
        }
    }
}

/// What the server asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A node output other than `Commit` and `Restore` (which the server handles itself).
    Raft(Output),
    Reply {
        to: ClientId,
        reply: Reply,
    },
}

/// One server.
#[derive(Debug)]
pub struct Server {
    node: RaftNode,
    kv: KvState,
    applied: Index,
    /// Requests proposed here, by (session, seq), with the client to answer.
    waiting: BTreeMap<(u64, u64), ClientId>,
    /// Compact the log once this many applied entries follow the last snapshot.
    snapshot_every: Option<u64>,
    /// The planted bug in the answers to clients, if switched on.
    cas_reports_mismatch: bool,
    raft_out: Vec<Output>,
    spare: Vec<Output>,
}

impl Server {
    /// A server recovering `restored` (all empty for a first start).
    pub fn new(
        id: NodeId,
        cluster_size: u32,
        config: Config,
        restored: Restored,
        rng: RngStream,
        snapshot_every: Option<u64>,
    ) -> Self {
        let (kv, applied) = match &restored.snapshot {
            Some(s) => (s.data.clone(), s.last_index),
            None => (KvState::new(), 0),
        };
        Server {
            cas_reports_mismatch: config.bugs.cas_reports_mismatch,
            node: RaftNode::new(id, cluster_size, config, restored, rng),
            kv,
            applied,
            waiting: BTreeMap::new(),
            snapshot_every,
            raft_out: Vec::new(),
            spare: Vec::new(),
        }
    }

    pub fn node(&self) -> &RaftNode {
        &self.node
    }

    pub fn node_mut(&mut self) -> &mut RaftNode {
        &mut self.node
    }

    pub fn kv(&self) -> &KvState {
        &self.kv
    }

    /// The last index applied to the state machine.
    pub fn applied(&self) -> Index {
        self.applied
    }

    pub fn start(&mut self, out: &mut Vec<Action>) {
        self.node.start(&mut self.raft_out);
        self.drain(out);
    }

    pub fn tick(&mut self, timer: Timer, out: &mut Vec<Action>) {
        self.node.tick(timer, &mut self.raft_out);
        self.drain(out);
    }

    pub fn receive(&mut self, from: NodeId, msg: Message, out: &mut Vec<Action>) {
        self.node.receive(from, msg, &mut self.raft_out);
        self.drain(out);
    }

    pub fn synced(&mut self, out: &mut Vec<Action>) {
        self.node.synced(&mut self.raft_out);
        self.drain(out);
    }

    /// A client's request: proposed if this server leads, else answered with a leader hint.
    pub fn request(&mut self, req: Request, out: &mut Vec<Action>) {
        let Request { client, cmd } = req;
        match self.node.propose(cmd, &mut self.raft_out) {
            Ok(_) => {
                // Only the newest request of a session can still be waited for.
                let stale: Vec<(u64, u64)> = self
                    .waiting
                    .range((cmd.session, 0)..(cmd.session, cmd.seq))
                    .map(|(k, _)| *k)
                    .collect();
                for k in stale {
                    self.waiting.remove(&k);
                }
                self.waiting.insert((cmd.session, cmd.seq), client);
            }
            Err(leader) => out.push(Action::Reply {
                to: client,
                reply: Reply::NotLeader {
                    session: cmd.session,
                    seq: cmd.seq,
                    leader,
                },
            }),
        }
        self.drain(out);
    }

    /// Turns the node's outputs into actions, applying commits and snapshots on the way.
    fn drain(&mut self, out: &mut Vec<Action>) {
        self.drain_outputs(out);
        // A server that no longer leads forgets who waits on it: what it proposed may never
        // commit, and its clients retry elsewhere (a retry of an applied request gets the
        // saved result). Without this the map would keep every such request forever.
        if !self.waiting.is_empty() && self.node.role() != super::types::Role::Leader {
            self.waiting.clear();
        }
    }

    fn drain_outputs(&mut self, out: &mut Vec<Action>) {
        // Two buffers swapped back and forth, so that no event allocates.
        let mut batch = std::mem::take(&mut self.spare);
        loop {
            std::mem::swap(&mut batch, &mut self.raft_out);
            if batch.is_empty() {
                self.spare = batch;
                return;
            }
            for o in batch.drain(..) {
                match o {
                    Output::Commit(upto) => self.apply(upto, out),
                    Output::Restore(s) => {
                        if s.last_index > self.applied {
                            self.kv = s.data.clone();
                            self.applied = s.last_index;
                        }
                    }
                    other => out.push(Action::Raft(other)),
                }
            }
        }
    }

    /// Applies a committed command to the state machine: its result for the client, `None` for
    /// a stale retry. The planted bug `cas-reports-mismatch` makes a cas whose expected value
    /// matches change nothing and answer "the value differed", as a wrong comparison would.
    fn apply_command(&mut self, cmd: Command) -> Option<KvResult> {
        match cmd.op {
            KvOp::Cas { key, expect, .. } if self.cas_reports_mismatch => {
                // A cas to the expected value itself: a match leaves the value as it was.
                let op = KvOp::Cas {
                    key,
                    expect,
                    new: expect,
                };
                self.kv.apply(&Command { op, ..cmd }).map(|r| match r {
                    KvResult::Swapped(true) => KvResult::Swapped(false),
                    other => other,
                })
            }
            _ => self.kv.apply(&cmd),
        }
    }

    fn apply(&mut self, upto: Index, out: &mut Vec<Action>) {
        debug_assert!(
            upto <= self.node.log().last_index(),
            "commit within the log"
        );
        while self.applied < upto {
            let i = self.applied + 1;
            let Some(entry) = self.node.log().get(i) else {
                // Compacted away without a snapshot reaching us: cannot happen, since the
                // snapshot is only taken here (after applying) or installed via Restore first.
                debug_assert!(false, "entry {i} to apply is missing");
                return;
            };
            if let Payload::Command(cmd) = &entry.payload {
                let cmd = *cmd;
                let result = self.apply_command(cmd);
                if let (Some(client), Some(result)) =
                    (self.waiting.remove(&(cmd.session, cmd.seq)), result)
                {
                    out.push(Action::Reply {
                        to: client,
                        reply: Reply::Done {
                            session: cmd.session,
                            seq: cmd.seq,
                            result,
                        },
                    });
                }
            }
            self.applied = i;
        }
        if let Some(every) = self.snapshot_every {
            if self.applied - self.node.log().snapshot_index() >= every {
                self.node
                    .compact(self.applied, self.kv.clone(), &mut self.raft_out);
            }
        }
    }
}

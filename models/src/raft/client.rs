//! A KV client, sans-IO: it sends one operation at a time to the server it believes leads,
//! follows "not the leader" hints, retries on timeout, and records every operation in a
//! history: the call, then `ok`, `fail` (certainly not applied) or `info` (unknown).
//!
//! Retries reuse the request's (session, seq), so a request that reached the log before its
//! answer was lost applies only once. When an operation runs out of time its outcome is
//! unknown; like a Jepsen process that crashed, the client then continues as a new process
//! with a new session, so the history keeps at most one operation in flight per process.

use std::fmt::Write as _;

use simcore::{SimDuration, SimTime};

use super::kv::{Command, KvOp, KvResult};
use super::server::{ClientId, Reply, Request};
use super::types::NodeId;

/// How a client behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientConfig {
    /// Servers, numbered `0..nodes`.
    pub nodes: u32,
    /// How long to wait for an answer before trying another server.
    pub attempt_timeout: SimDuration,
    /// How long an operation may take in all before its outcome is declared unknown.
    pub op_timeout: SimDuration,
}

/// How an operation ended, in a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// One line of a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryEvent {
    pub time: SimTime,
    pub process: u64,
    pub kind: HistoryKind,
    pub op: KvOp,
    /// The result, for `ok` and `fail`.
    pub result: Option<KvResult>,
    /// The request's session and number in it.
    pub session: u64,
    pub seq: u64,
}

/// What a client asks its driver to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAction {
    Send {
        to: NodeId,
        req: Request,
    },
    /// Call [`Client::wake`] at this time (an earlier wake-up request is superseded).
    WakeAt(SimTime),
    Record(HistoryEvent),
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    cmd: Command,
    /// When this attempt gives up, and when the whole operation does.
    attempt_ends: SimTime,
    op_ends: SimTime,
    /// A server answered "not the leader" in this attempt (so `target` was already moved on).
    redirected: bool,
}

/// One client.
#[derive(Debug, Clone)]
pub struct Client {
    id: ClientId,
    clients: u32,
    config: ClientConfig,
    /// How many times this client became a new process (after an unknown outcome).
    incarnation: u64,
    seq: u64,
    /// The server to try next.
    target: NodeId,
    pending: Option<Pending>,
}

impl Client {
    /// Client `id` of `clients`; its first target spreads clients over the servers.
    pub fn new(id: ClientId, clients: u32, config: ClientConfig) -> Self {
        debug_assert!(config.nodes > 0 && id < clients);
        Client {
            id,
            clients,
            config,
            incarnation: 0,
            seq: 0,
            target: id % config.nodes,
            pending: None,
        }
    }

    /// The process number in the history: `id`, then `id + clients`, ... per incarnation.
    pub fn process(&self) -> u64 {
        u64::from(self.id) + u64::from(self.clients) * self.incarnation
    }

    /// The session: unique per client and incarnation.
    fn session(&self) -> u64 {
        (u64::from(self.id) << 32) | self.incarnation
    }

    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Starts an operation (the client must not be busy).
    pub fn invoke(&mut self, op: KvOp, now: SimTime, out: &mut Vec<ClientAction>) {
        debug_assert!(self.pending.is_none(), "one operation at a time");
        self.seq += 1;
        let cmd = Command {
            session: self.session(),
            seq: self.seq,
            op,
        };
        out.push(ClientAction::Record(HistoryEvent {
            time: now,
            process: self.process(),
            kind: HistoryKind::Invoke,
            op,
            result: None,
            session: cmd.session,
            seq: cmd.seq,
        }));
        self.pending = Some(Pending {
            cmd,
            attempt_ends: now,
            redirected: false,
            op_ends: now.saturating_add(self.config.op_timeout),
        });
        self.attempt(now, out);
    }

    fn attempt(&mut self, now: SimTime, out: &mut Vec<ClientAction>) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        p.attempt_ends = now
            .saturating_add(self.config.attempt_timeout)
            .min(p.op_ends);
        p.redirected = false;
        out.push(ClientAction::Send {
            to: self.target,
            req: Request {
                client: self.id,
                cmd: p.cmd,
            },
        });
        out.push(ClientAction::WakeAt(p.attempt_ends));
    }

    /// A server answered.
    pub fn reply(&mut self, reply: Reply, now: SimTime, out: &mut Vec<ClientAction>) {
        let process = self.process();
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        if reply.id() != (p.cmd.session, p.cmd.seq) {
            return; // an answer to an earlier attempt of an operation already finished
        }
        match reply {
            Reply::Done { result, .. } => {
                let kind = match result {
                    KvResult::Swapped(false) => HistoryKind::Fail,
                    _ => HistoryKind::Ok,
                };
                out.push(ClientAction::Record(HistoryEvent {
                    time: now,
                    process,
                    kind,
                    op: p.cmd.op,
                    result: Some(result),
                    session: p.cmd.session,
                    seq: p.cmd.seq,
                }));
                self.pending = None;
            }
            Reply::NotLeader { leader, .. } => match leader {
                Some(l) if l != self.target => {
                    self.target = l;
                    self.attempt(now, out);
                }
                _ => {
                    // No better guess (an election is likely under way): try the next server
                    // after a fifth of the attempt timeout rather than spin.
                    self.target = (self.target + 1) % self.config.nodes;
                    p.redirected = true;
                    let fifth = SimDuration::from_nanos(self.config.attempt_timeout.as_nanos() / 5);
                    let retry = now.saturating_add(fifth);
                    p.attempt_ends = retry.min(p.op_ends);
                    out.push(ClientAction::WakeAt(p.attempt_ends));
                }
            },
        }
    }

    /// The wake-up time came: retry or give up, as due.
    pub fn wake(&mut self, now: SimTime, out: &mut Vec<ClientAction>) {
        let Some(p) = self.pending else { return };
        if now >= p.op_ends {
            out.push(ClientAction::Record(HistoryEvent {
                time: now,
                process: self.process(),
                kind: HistoryKind::Info,
                op: p.cmd.op,
                result: None,
                session: p.cmd.session,
                seq: p.cmd.seq,
            }));
            self.pending = None;
            self.incarnation += 1;
            self.seq = 0;
        } else if now >= p.attempt_ends {
            if !p.redirected {
                self.target = (self.target + 1) % self.config.nodes;
            }
            self.attempt(now, out);
        }
    }
}

/// A history in the text format of `sim lincheck` (see [`crate::lincheck::history`]).
pub fn history_text(events: &[HistoryEvent]) -> String {
    let mut s = String::with_capacity(events.len() * 28);
    for e in events {
        let kind = match e.kind {
            HistoryKind::Invoke => "invoke",
            HistoryKind::Ok => "ok",
            HistoryKind::Fail => "fail",
            HistoryKind::Info => "info",
        };
        let _ = write!(s, "{} {kind} ", e.process);
        let _ = match (e.op, e.result) {
            (KvOp::Get { .. }, Some(KvResult::Value(Some(v)))) => write!(s, "read {v}"),
            (KvOp::Get { .. }, Some(KvResult::Value(None))) => write!(s, "read nil"),
            (KvOp::Get { .. }, _) => write!(s, "read _"),
            (KvOp::Put { value, .. }, _) => write!(s, "write {value}"),
            (KvOp::Cas { expect, new, .. }, _) => write!(s, "cas {expect} {new}"),
        };
        let _ = writeln!(s, " key={}", e.op.key());
    }
    s
}

/// The history as the linearizability checker's operations, exactly as parsing
/// [`history_text`] would give them (lines are event numbers from 1), without the text.
pub fn operations(events: &[HistoryEvent]) -> Vec<crate::lincheck::Operation> {
    use crate::lincheck::{Op, Operation, Outcome};
    let mut ops: Vec<Operation> = Vec::with_capacity(events.len() / 2 + 1);
    let mut open: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for (event, e) in events.iter().enumerate() {
        let op = match (e.op, e.result) {
            (KvOp::Get { .. }, Some(KvResult::Value(v))) => Op::Read(v),
            (KvOp::Get { .. }, _) => Op::Read(None),
            (KvOp::Put { value, .. }, _) => Op::Write(value),
            (KvOp::Cas { expect, new, .. }, _) => Op::Cas(expect, new),
        };
        if e.kind == HistoryKind::Invoke {
            debug_assert!(!open.contains_key(&e.process), "one operation per process");
            open.insert(e.process, ops.len());
            ops.push(Operation {
                process: e.process.to_string(),
                key: e.op.key().to_string(),
                op,
                outcome: Outcome::Info,
                call: event,
                ret: None,
                call_line: event + 1,
                ret_line: None,
            });
            continue;
        }
        let Some(o) = open.remove(&e.process) else {
            debug_assert!(false, "a completion follows its call");
            continue;
        };
        let called = &mut ops[o];
        called.outcome = match e.kind {
            HistoryKind::Ok => Outcome::Ok,
            HistoryKind::Fail => Outcome::Fail,
            _ => Outcome::Info,
        };
        if e.kind == HistoryKind::Ok {
            called.op = op;
        }
        called.ret = Some(event);
        called.ret_line = Some(event + 1);
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::parse_history;

    fn ev(process: u64, kind: HistoryKind, op: KvOp, result: Option<KvResult>) -> HistoryEvent {
        HistoryEvent {
            time: SimTime::ZERO,
            process,
            kind,
            op,
            result,
            session: process,
            seq: 1,
        }
    }

    #[test]
    fn operations_match_the_parsed_text() {
        use HistoryKind::*;
        let get = KvOp::Get { key: 3 };
        let put = KvOp::Put { key: 3, value: 7 };
        let cas = KvOp::Cas {
            key: 4,
            expect: 1,
            new: 2,
        };
        let events = [
            ev(0, Invoke, put, None),
            ev(1, Invoke, get, None),
            ev(2, Invoke, cas, None),
            ev(0, Ok, put, Some(KvResult::Done)),
            ev(1, Ok, get, Some(KvResult::Value(Some(7)))),
            ev(2, Fail, cas, Some(KvResult::Swapped(false))),
            ev(0, Invoke, get, None),
            ev(0, Info, get, None),
            ev(1, Invoke, get, None),
        ];
        let parsed = parse_history(&history_text(&events)).expect("the text parses");
        assert_eq!(operations(&events), parsed);
        assert_eq!(parsed.len(), 5);
    }
}

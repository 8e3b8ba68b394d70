//! A KV client, sans-IO: it sends one operation at a time to the server it believes leads,
//! follows "not the leader" hints, retries on timeout, and records every operation in a
//! history: the call, then `ok` with the server's answer or `info` (unknown). A cas the server
//! answered "the value differed" is `ok` with a false result, not `fail` (certainly not
//! applied): the answer is an observation the checker holds the server to, so a server that
//! wrongly reports a mismatch is caught. Every answer comes from the replicated state machine,
//! so the client never records `fail`.
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

/// An event of a history: a call, or how the operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    Invoke,
    /// The server answered (for a cas, maybe "the value differed").
    Ok,
    /// No answer in time: the operation may or may not have taken effect.
    Info,
}

/// One line of a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryEvent {
    pub time: SimTime,
    pub process: u64,
    pub kind: HistoryKind,
    pub op: KvOp,
    /// The result, for `ok`.
    pub result: Option<KvResult>,
    /// The request's session and number in it.
    pub session: u64,
    pub seq: u64,
}

/// How a completed operation is counted: the load's `ok`, `fail` and `info` counters, and the
/// outcome on its timeline span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// A cas answered "the value differed" (`cas_false`), counted by the `fail` counter.
    CasFalse,
    Info,
}

impl HistoryEvent {
    /// A cas answered "the value differed": it completed and changed nothing. The load's `fail`
    /// counter counts these.
    pub fn cas_false(&self) -> bool {
        self.kind == HistoryKind::Ok && self.result == Some(KvResult::Swapped(false))
    }

    /// How a completion is counted; `None` for an invoke.
    pub fn answer(&self) -> Option<Answer> {
        match self.kind {
            HistoryKind::Invoke => None,
            HistoryKind::Info => Some(Answer::Info),
            HistoryKind::Ok if self.cas_false() => Some(Answer::CasFalse),
            HistoryKind::Ok => Some(Answer::Ok),
        }
    }

    /// A put, or a cas that swapped, answered: an acknowledged write, which must survive.
    pub fn wrote(&self) -> bool {
        self.kind == HistoryKind::Ok
            && matches!(self.result, Some(KvResult::Done | KvResult::Swapped(true)))
    }

    /// The operation as the linearizability checker sees it: a read's value and a cas's result
    /// once answered.
    fn checked_op(&self) -> crate::lincheck::Op {
        use crate::lincheck::Op;
        match (self.op, self.result) {
            (KvOp::Get { .. }, Some(KvResult::Value(v))) => Op::Read(v),
            (KvOp::Get { .. }, _) => Op::Read(None),
            (KvOp::Put { value, .. }, _) => Op::Write(value),
            (KvOp::Cas { expect, new, .. }, Some(KvResult::Swapped(false))) => {
                Op::CasFalse(expect, new)
            }
            (KvOp::Cas { expect, new, .. }, _) => Op::Cas(expect, new),
        }
    }
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
                out.push(ClientAction::Record(HistoryEvent {
                    time: now,
                    process,
                    kind: HistoryKind::Ok,
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
            HistoryKind::Info => "info",
        };
        let _ = write!(s, "{} {kind} ", e.process);
        let _ = match (e.op, e.result) {
            // A read without an answer has no value: `_`, not `nil` (an answer of none).
            (KvOp::Get { .. }, None) => write!(s, "read _"),
            _ => write!(s, "{}", e.checked_op()),
        };
        let _ = writeln!(s, " key={}", e.op.key());
    }
    s
}

/// The history as the linearizability checker's operations, exactly as parsing
/// [`history_text`] would give them (lines are event numbers from 1), without the text.
pub fn operations(events: &[HistoryEvent]) -> Vec<crate::lincheck::Operation> {
    use crate::lincheck::{Operation, Outcome};
    let mut ops: Vec<Operation> = Vec::with_capacity(events.len() / 2 + 1);
    let mut open: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for (event, e) in events.iter().enumerate() {
        let op = e.checked_op();
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
        if e.kind == HistoryKind::Ok {
            called.outcome = Outcome::Ok;
            called.op = op;
        }
        called.ret = Some(event);
        called.ret_line = Some(event + 1);
    }
    ops
}

/// What the linearizability checker finds wrong with a history, a violation's detail per key
/// that is not linearizable (the end of its shortest failing prefix: the counterexample) or that
/// it could not decide within `budget` search steps. The simulated cluster and `native run`
/// both judge their clients' history with it, so the two report a failure alike.
pub fn linearizability_problems(events: &[HistoryEvent], budget: u64) -> Vec<String> {
    crate::lincheck::check(&operations(events), budget)
        .iter()
        .filter_map(|r| r.problem(budget))
        .collect()
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
            ev(2, Ok, cas, Some(KvResult::Swapped(false))),
            ev(0, Invoke, get, None),
            ev(0, Info, get, None),
            ev(1, Invoke, get, None),
        ];
        let text = history_text(&events);
        assert!(text.contains("2 ok cas 1 2 false key=4\n"), "{text}");
        let parsed = parse_history(&text).expect("the text parses");
        assert_eq!(operations(&events), parsed);
        assert_eq!(parsed.len(), 5);
    }

    /// The events a client records for one cas on key 1 (expecting 1, setting 2) that a server
    /// answers with `swapped`.
    fn answered_cas(swapped: bool) -> Vec<HistoryEvent> {
        let config = ClientConfig {
            nodes: 3,
            attempt_timeout: SimDuration::from_millis(100),
            op_timeout: SimDuration::from_secs(1),
        };
        let mut client = Client::new(0, 1, config);
        let mut out = Vec::new();
        let op = KvOp::Cas {
            key: 1,
            expect: 1,
            new: 2,
        };
        client.invoke(op, SimTime::ZERO, &mut out);
        let Some(req) = out.iter().find_map(|a| match a {
            ClientAction::Send { req, .. } => Some(*req),
            _ => None,
        }) else {
            panic!("the client sends its request: {out:?}");
        };
        let reply = Reply::Done {
            session: req.cmd.session,
            seq: req.cmd.seq,
            result: KvResult::Swapped(swapped),
        };
        client.reply(reply, SimTime::from_nanos(5), &mut out);
        assert!(!client.busy(), "the answer ends the operation");
        out.iter()
            .filter_map(|a| match a {
                ClientAction::Record(e) => Some(*e),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_cas_answered_false_is_recorded_as_a_completed_observation() {
        let events = answered_cas(false);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[1].kind, HistoryKind::Ok);
        assert!(events[1].cas_false() && !events[1].wrote());
        let ops = operations(&events);
        assert_eq!(
            (ops[0].outcome, ops[0].op),
            (
                crate::lincheck::Outcome::Ok,
                crate::lincheck::Op::CasFalse(1, 2)
            )
        );
        let swapped = answered_cas(true);
        assert!(swapped[1].wrote() && !swapped[1].cas_false());
    }

    /// The client's events after a write of 1 to key 1 that was answered.
    fn after_write_of_1(mut cas: Vec<HistoryEvent>) -> Vec<crate::lincheck::KeyReport> {
        let put = KvOp::Put { key: 1, value: 1 };
        let mut events = vec![
            ev(9, HistoryKind::Invoke, put, None),
            ev(9, HistoryKind::Ok, put, Some(KvResult::Done)),
        ];
        events.append(&mut cas);
        crate::lincheck::check(&operations(&events), crate::lincheck::DEFAULT_BUDGET)
    }

    #[test]
    fn a_server_that_wrongly_answers_mismatch_is_caught() {
        use crate::lincheck::Verdict;
        // The register holds 1 when `cas 1 2` runs alone: "the value differed" is a lie.
        let r = after_write_of_1(answered_cas(false));
        assert_eq!(r[0].verdict, Verdict::NotLinearizable, "{r:?}");
        // The true answer passes.
        let r = after_write_of_1(answered_cas(true));
        assert_eq!(r[0].verdict, Verdict::Linearizable, "{r:?}");
    }

    #[test]
    fn a_history_that_is_not_linearizable_is_described_by_its_counterexample() {
        let put = KvOp::Put { key: 1, value: 1 };
        let mut events = vec![
            ev(9, HistoryKind::Invoke, put, None),
            ev(9, HistoryKind::Ok, put, Some(KvResult::Done)),
        ];
        events.extend(answered_cas(false));
        let problems = linearizability_problems(&events, crate::lincheck::DEFAULT_BUDGET);
        assert_eq!(
            problems,
            vec![
                "key 1: not linearizable (2 operations); the shortest failing prefix has 2 operations, ending: p9 write 1 ok; p0 cas 1 2 false ok".to_string()
            ]
        );
        events.truncate(2);
        assert!(linearizability_problems(&events, crate::lincheck::DEFAULT_BUDGET).is_empty());
    }
}

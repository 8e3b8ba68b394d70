//! The bytes a native node sends and stores: a compact, versioned binary codec for Raft
//! messages between nodes, client requests and replies, runner control messages, and the
//! storage writes of a node's log file (a native node's, and a simulated server's log on a
//! modelled disk, [`super::wal_log`]).
//!
//! Hand-written rather than derived, so the format is exactly what this file says and nothing a
//! dependency upgrade can change: every integer is fixed-width little-endian, every collection a
//! `u32` count followed by its elements, every enum a one-byte tag, every `Option` a `0`/`1`
//! byte followed by the value when present, every `bool` one byte that must be `0` or `1`. A
//! packet starts with [`WIRE_VERSION`] so that nodes of different builds refuse each other's
//! datagrams instead of misreading them; a storage write ([`encode_write`]) starts with it too,
//! so an old log file is refused rather than replayed wrongly.
//!
//! Decoding never panics, whatever the input: a datagram comes from a socket anyone on the host
//! can write to, and a log record from a disk that can tear. Each read checks the bytes left
//! first, and a count is checked against the bytes left (times the smallest size of one element)
//! before anything is allocated, so a forged count of four billion costs nothing. Encodings are
//! canonical: trailing bytes, non-`0`/`1` booleans and unsorted or repeated snapshot keys and
//! sessions are refused, so one value has exactly one encoding.

use super::kv::{Command, Key, KvOp, KvResult, KvState, Value};
use super::server::{ClientId, Reply, Request};
use super::types::{Entry, Index, Message, NodeId, Payload, Snapshot, Term, Write};

/// The format version every packet and storage write starts with. Bump it on any change to the
/// layout; decoders refuse every other version.
pub const WIRE_VERSION: u8 = 1;

/// The most bytes a datagram may carry (a UDP datagram on loopback can be ~64 KiB; larger
/// payloads, e.g. a big InstallSnapshot, are refused at encode time with an error, not
/// truncated).
pub const DATAGRAM_MAX: usize = 65_000;

/// Everything a node process sends or receives on its socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// Raft between nodes.
    Raft {
        from: NodeId,
        to: NodeId,
        msg: Message,
    },
    /// A client's request to a server (client = the ClientId inside Request).
    Request(Request),
    /// A server's answer, to client `to`.
    Reply { to: ClientId, reply: Reply },
    /// Runner <-> node control messages, opaque here (the runner defines them).
    Control(Vec<u8>),
}

/// Why bytes could not be encoded or decoded. Offsets count from the start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The encoding would not fit in one datagram.
    #[error("a packet of {bytes} bytes is over the datagram limit of {DATAGRAM_MAX} bytes")]
    TooLarge { bytes: usize },
    /// The input was written by another format version (or is not ours at all).
    #[error("wire version {found}, expected {WIRE_VERSION}")]
    Version { found: u8 },
    /// The input ends before the value does.
    #[error("truncated at byte {at}: {what} needs {need} more bytes")]
    Truncated {
        at: usize,
        what: &'static str,
        need: usize,
    },
    /// A tag (or a boolean) that names no variant.
    #[error("bad {what} tag {tag} at byte {at}")]
    BadTag {
        at: usize,
        what: &'static str,
        tag: u8,
    },
    /// A count that cannot be right: its elements would need more bytes than are left.
    #[error("{what} count {count} at byte {at} needs more than the {remaining} bytes left")]
    BadCount {
        at: usize,
        what: &'static str,
        count: u32,
        remaining: usize,
    },
    /// Bytes left over after a complete value.
    #[error("{extra} trailing bytes after the value ends at byte {at}")]
    Trailing { at: usize, extra: usize },
    /// A snapshot's state machine whose keys or sessions are not in increasing order.
    #[error("snapshot state at byte {at}: {reason}")]
    BadSnapshot { at: usize, reason: &'static str },
}

/// Appends the encoding of `p` to `out`. A packet over [`DATAGRAM_MAX`] bytes is refused with
/// [`WireError::TooLarge`] and `out` is left as it was, so a caller can reuse its buffer.
pub fn encode(p: &Packet, out: &mut Vec<u8>) -> Result<(), WireError> {
    if let Packet::Control(bytes) = p {
        // Checked before anything is written: a control message of over 4 GiB would not fit
        // its count, and is far over the limit anyway.
        if bytes.len() > DATAGRAM_MAX {
            return Err(WireError::TooLarge {
                bytes: bytes.len() + 6,
            });
        }
    }
    let start = out.len();
    out.push(WIRE_VERSION);
    match p {
        Packet::Raft { from, to, msg } => {
            out.push(0);
            put_u32(out, *from);
            put_u32(out, *to);
            put_message(out, msg);
        }
        Packet::Request(req) => {
            out.push(1);
            put_request(out, req);
        }
        Packet::Reply { to, reply } => {
            out.push(2);
            put_u32(out, *to);
            put_reply(out, reply);
        }
        Packet::Control(bytes) => {
            out.push(3);
            put_count(out, bytes.len());
            out.extend_from_slice(bytes);
        }
    }
    let bytes = out.len() - start;
    if bytes > DATAGRAM_MAX {
        out.truncate(start);
        return Err(WireError::TooLarge { bytes });
    }
    Ok(())
}

/// Decodes one whole packet: `bytes` must hold exactly one encoding, nothing more.
pub fn decode(bytes: &[u8]) -> Result<Packet, WireError> {
    let mut r = Reader::new(bytes);
    r.version()?;
    let at = r.pos;
    let p = match r.u8("packet tag")? {
        0 => Packet::Raft {
            from: r.u32("sender")?,
            to: r.u32("receiver")?,
            msg: r.message()?,
        },
        1 => Packet::Request(r.request()?),
        2 => Packet::Reply {
            to: r.u32("client")?,
            reply: r.reply()?,
        },
        3 => {
            let n = r.count("control bytes", 1)?;
            Packet::Control(r.take(n, "control bytes")?.to_vec())
        }
        tag => return Err(bad_tag(at, "packet", tag)),
    };
    r.finish()?;
    Ok(p)
}

/// Appends the encoding of a storage write to `out` (the payload of one log-file record). No
/// size limit: a record is not a datagram.
pub fn encode_write(w: &Write, out: &mut Vec<u8>) {
    out.push(WIRE_VERSION);
    match w {
        Write::HardState { term, vote } => {
            out.push(0);
            put_u64(out, *term);
            put_option(out, vote.as_ref(), |out, v| put_u32(out, *v));
        }
        Write::Append { first, entries } => {
            out.push(1);
            put_u64(out, *first);
            put_entries(out, entries);
        }
        Write::Snapshot(s) => {
            out.push(2);
            put_snapshot(out, s);
        }
    }
}

/// Decodes one whole storage write: `bytes` must hold exactly one encoding, nothing more.
pub fn decode_write(bytes: &[u8]) -> Result<Write, WireError> {
    let mut r = Reader::new(bytes);
    r.version()?;
    let at = r.pos;
    let w = match r.u8("write tag")? {
        0 => Write::HardState {
            term: r.u64("term")?,
            vote: r.option("vote", |r| r.u32("vote"))?,
        },
        1 => Write::Append {
            first: r.u64("first index")?,
            entries: r.entries()?,
        },
        2 => Write::Snapshot(r.snapshot()?),
        tag => return Err(bad_tag(at, "write", tag)),
    };
    r.finish()?;
    Ok(w)
}

// ---------------------------------------------------------------------------------------------
// Encoding.

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(u8::from(v));
}

/// A collection's length as a `u32`. Every collection here is far below 4 billion elements (an
/// entry alone takes 24 bytes of memory, so that many would need ~100 GiB); a larger one is a
/// bug in the caller, not an input, and is stopped here rather than written with a wrapped
/// count that would misparse everything after it.
fn put_count(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("a collection of over u32::MAX elements cannot be encoded");
    put_u32(out, n);
}

fn put_option<T>(out: &mut Vec<u8>, v: Option<&T>, put: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v);
        }
    }
}

fn put_message(out: &mut Vec<u8>, m: &Message) {
    match m {
        Message::RequestVote {
            term,
            last_log_index,
            last_log_term,
            pre_vote,
        } => {
            out.push(0);
            put_u64(out, *term);
            put_u64(out, *last_log_index);
            put_u64(out, *last_log_term);
            put_bool(out, *pre_vote);
        }
        Message::Vote {
            term,
            granted,
            pre_vote,
        } => {
            out.push(1);
            put_u64(out, *term);
            put_bool(out, *granted);
            put_bool(out, *pre_vote);
        }
        Message::AppendEntries {
            term,
            prev_index,
            prev_term,
            entries,
            commit,
        } => {
            out.push(2);
            put_u64(out, *term);
            put_u64(out, *prev_index);
            put_u64(out, *prev_term);
            put_u64(out, *commit);
            put_entries(out, entries);
        }
        Message::AppendResult {
            term,
            success,
            match_index,
            conflict_index,
            conflict_term,
        } => {
            out.push(3);
            put_u64(out, *term);
            put_bool(out, *success);
            put_u64(out, *match_index);
            put_u64(out, *conflict_index);
            put_option(out, conflict_term.as_ref(), |out, t| put_u64(out, *t));
        }
        Message::InstallSnapshot { term, snapshot } => {
            out.push(4);
            put_u64(out, *term);
            put_snapshot(out, snapshot);
        }
        Message::SnapshotResult { term, last_index } => {
            out.push(5);
            put_u64(out, *term);
            put_u64(out, *last_index);
        }
    }
}

fn put_entries(out: &mut Vec<u8>, entries: &[Entry]) {
    put_count(out, entries.len());
    for e in entries {
        put_u64(out, e.term);
        match &e.payload {
            Payload::Noop => out.push(0),
            Payload::Command(c) => {
                out.push(1);
                put_command(out, c);
            }
        }
    }
}

fn put_command(out: &mut Vec<u8>, c: &Command) {
    put_u64(out, c.session);
    put_u64(out, c.seq);
    match c.op {
        KvOp::Get { key } => {
            out.push(0);
            put_u32(out, key);
        }
        KvOp::Put { key, value } => {
            out.push(1);
            put_u32(out, key);
            put_i64(out, value);
        }
        KvOp::Cas { key, expect, new } => {
            out.push(2);
            put_u32(out, key);
            put_i64(out, expect);
            put_i64(out, new);
        }
    }
}

fn put_result(out: &mut Vec<u8>, r: &KvResult) {
    match r {
        KvResult::Value(v) => {
            out.push(0);
            put_option(out, v.as_ref(), |out, v| put_i64(out, *v));
        }
        KvResult::Done => out.push(1),
        KvResult::Swapped(hit) => {
            out.push(2);
            put_bool(out, *hit);
        }
    }
}

fn put_request(out: &mut Vec<u8>, r: &Request) {
    put_u32(out, r.client);
    put_command(out, &r.cmd);
}

fn put_reply(out: &mut Vec<u8>, r: &Reply) {
    match r {
        Reply::Done {
            session,
            seq,
            result,
        } => {
            out.push(0);
            put_u64(out, *session);
            put_u64(out, *seq);
            put_result(out, result);
        }
        Reply::NotLeader {
            session,
            seq,
            leader,
        } => {
            out.push(1);
            put_u64(out, *session);
            put_u64(out, *seq);
            put_option(out, leader.as_ref(), |out, l| put_u32(out, *l));
        }
    }
}

/// A snapshot: its position, then the state machine's keys in increasing order with their
/// values, then its sessions in increasing order, each with its last sequence number and the
/// result saved for it.
fn put_snapshot(out: &mut Vec<u8>, s: &Snapshot) {
    put_u64(out, s.last_index);
    put_u64(out, s.last_term);
    let data = s.data.entries();
    put_count(out, data.len());
    for (k, v) in data {
        put_u32(out, k);
        put_i64(out, v);
    }
    let sessions = s.data.sessions();
    put_count(out, sessions.len());
    for (session, seq, result) in sessions {
        put_u64(out, session);
        put_u64(out, seq);
        put_result(out, &result);
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding.

fn bad_tag(at: usize, what: &'static str, tag: u8) -> WireError {
    WireError::BadTag { at, what, tag }
}

/// A cursor over untrusted bytes: every read checks what is left first.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let left = self.remaining();
        if n > left {
            return Err(WireError::Truncated {
                at: self.pos,
                what,
                need: n - left,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    fn bool(&mut self, what: &'static str) -> Result<bool, WireError> {
        let at = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(bad_tag(at, what, tag)),
        }
    }

    /// A count of elements that take at least `min_each` bytes each, refused when they could
    /// not fit in what is left: so a caller can allocate `count` elements up front safely.
    fn count(&mut self, what: &'static str, min_each: usize) -> Result<usize, WireError> {
        let at = self.pos;
        let count = self.u32(what)?;
        let remaining = self.remaining();
        let need = u64::from(count) * min_each as u64;
        if need > remaining as u64 {
            return Err(WireError::BadCount {
                at,
                what,
                count,
                remaining,
            });
        }
        // At most `remaining`, so it fits a usize.
        Ok(count as usize)
    }

    fn option<T>(
        &mut self,
        what: &'static str,
        read: impl FnOnce(&mut Self) -> Result<T, WireError>,
    ) -> Result<Option<T>, WireError> {
        if self.bool(what)? {
            Ok(Some(read(self)?))
        } else {
            Ok(None)
        }
    }

    fn version(&mut self) -> Result<(), WireError> {
        match self.u8("version")? {
            WIRE_VERSION => Ok(()),
            found => Err(WireError::Version { found }),
        }
    }

    fn finish(self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(WireError::Trailing {
                at: self.pos,
                extra,
            }),
        }
    }

    fn term(&mut self) -> Result<Term, WireError> {
        self.u64("term")
    }

    fn index(&mut self, what: &'static str) -> Result<Index, WireError> {
        self.u64(what)
    }

    fn message(&mut self) -> Result<Message, WireError> {
        let at = self.pos;
        Ok(match self.u8("message tag")? {
            0 => Message::RequestVote {
                term: self.term()?,
                last_log_index: self.index("last log index")?,
                last_log_term: self.u64("last log term")?,
                pre_vote: self.bool("pre-vote flag")?,
            },
            1 => Message::Vote {
                term: self.term()?,
                granted: self.bool("granted flag")?,
                pre_vote: self.bool("pre-vote flag")?,
            },
            2 => {
                let term = self.term()?;
                let prev_index = self.index("previous index")?;
                let prev_term = self.u64("previous term")?;
                let commit = self.index("commit index")?;
                Message::AppendEntries {
                    term,
                    prev_index,
                    prev_term,
                    entries: self.entries()?,
                    commit,
                }
            }
            3 => Message::AppendResult {
                term: self.term()?,
                success: self.bool("success flag")?,
                match_index: self.index("match index")?,
                conflict_index: self.index("conflict index")?,
                conflict_term: self.option("conflict term", |r| r.u64("conflict term"))?,
            },
            4 => Message::InstallSnapshot {
                term: self.term()?,
                snapshot: self.snapshot()?,
            },
            5 => Message::SnapshotResult {
                term: self.term()?,
                last_index: self.index("snapshot index")?,
            },
            tag => return Err(bad_tag(at, "message", tag)),
        })
    }

    fn entries(&mut self) -> Result<Vec<Entry>, WireError> {
        // An entry is at least a term and a payload tag.
        let n = self.count("entry", 9)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let term = self.term()?;
            let at = self.pos;
            let payload = match self.u8("payload tag")? {
                0 => Payload::Noop,
                1 => Payload::Command(self.command()?),
                tag => return Err(bad_tag(at, "payload", tag)),
            };
            entries.push(Entry { term, payload });
        }
        Ok(entries)
    }

    fn command(&mut self) -> Result<Command, WireError> {
        let session = self.u64("session")?;
        let seq = self.u64("sequence number")?;
        let at = self.pos;
        let op = match self.u8("operation tag")? {
            0 => KvOp::Get {
                key: self.u32("key")?,
            },
            1 => KvOp::Put {
                key: self.u32("key")?,
                value: self.i64("value")?,
            },
            2 => KvOp::Cas {
                key: self.u32("key")?,
                expect: self.i64("expected value")?,
                new: self.i64("new value")?,
            },
            tag => return Err(bad_tag(at, "operation", tag)),
        };
        Ok(Command { session, seq, op })
    }

    fn result(&mut self) -> Result<KvResult, WireError> {
        let at = self.pos;
        Ok(match self.u8("result tag")? {
            0 => KvResult::Value(self.option("value", |r| r.i64("value"))?),
            1 => KvResult::Done,
            2 => KvResult::Swapped(self.bool("swapped flag")?),
            tag => return Err(bad_tag(at, "result", tag)),
        })
    }

    fn request(&mut self) -> Result<Request, WireError> {
        Ok(Request {
            client: self.u32("client")?,
            cmd: self.command()?,
        })
    }

    fn reply(&mut self) -> Result<Reply, WireError> {
        let at = self.pos;
        Ok(match self.u8("reply tag")? {
            0 => Reply::Done {
                session: self.u64("session")?,
                seq: self.u64("sequence number")?,
                result: self.result()?,
            },
            1 => Reply::NotLeader {
                session: self.u64("session")?,
                seq: self.u64("sequence number")?,
                leader: self.option("leader", |r| r.u32("leader"))?,
            },
            tag => return Err(bad_tag(at, "reply", tag)),
        })
    }

    /// A snapshot as [`put_snapshot`] writes it. Keys and sessions out of increasing order
    /// (or repeated) are refused, so that a state has one encoding.
    fn snapshot(&mut self) -> Result<Snapshot, WireError> {
        let last_index = self.index("snapshot index")?;
        let last_term = self.u64("snapshot term")?;
        // A key and its value: 12 bytes.
        let n = self.count("key", 12)?;
        let mut data: Vec<(Key, Value)> = Vec::with_capacity(n);
        for _ in 0..n {
            let at = self.pos;
            let k = self.u32("key")?;
            let v = self.i64("value")?;
            if data.last().is_some_and(|&(prev, _)| prev >= k) {
                return Err(WireError::BadSnapshot {
                    at,
                    reason: "keys are not in increasing order",
                });
            }
            data.push((k, v));
        }
        // A session, its sequence number and a result (at least a tag).
        let n = self.count("session", 17)?;
        let mut sessions: Vec<(u64, u64, KvResult)> = Vec::with_capacity(n);
        for _ in 0..n {
            let at = self.pos;
            let session = self.u64("session")?;
            let seq = self.u64("sequence number")?;
            let result = self.result()?;
            if sessions.last().is_some_and(|&(prev, _, _)| prev >= session) {
                return Err(WireError::BadSnapshot {
                    at,
                    reason: "sessions are not in increasing order",
                });
            }
            sessions.push((session, seq, result));
        }
        Ok(Snapshot {
            last_index,
            last_term,
            data: KvState::from_parts(data, sessions),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simcore::RngStream;

    fn cmd(session: u64, seq: u64, op: KvOp) -> Command {
        Command { session, seq, op }
    }

    fn ops() -> Vec<KvOp> {
        vec![
            KvOp::Get { key: 0 },
            KvOp::Get { key: u32::MAX },
            KvOp::Put {
                key: 7,
                value: i64::MIN,
            },
            KvOp::Put {
                key: u32::MAX,
                value: -1,
            },
            KvOp::Cas {
                key: 3,
                expect: i64::MAX,
                new: -42,
            },
            KvOp::Cas {
                key: 0,
                expect: 0,
                new: 0,
            },
        ]
    }

    fn entries(n: usize) -> Vec<Entry> {
        let ops = ops();
        (0..n)
            .map(|i| Entry {
                term: if i % 3 == 0 { u64::MAX } else { i as u64 },
                payload: if i % 4 == 0 {
                    Payload::Noop
                } else {
                    Payload::Command(cmd(u64::MAX - i as u64, i as u64, ops[i % ops.len()]))
                },
            })
            .collect()
    }

    /// A state reached the way a server reaches one: clients numbering requests from 1, retries
    /// of the last request, and new incarnations (sessions).
    fn client_state(rng: &mut RngStream, commands: usize) -> KvState {
        client_state_with(rng, commands, 8, 5)
    }

    /// As [`client_state`], over `keys` keys and `values` values.
    fn client_state_with(rng: &mut RngStream, commands: usize, keys: u64, values: u64) -> KvState {
        let mut kv = KvState::new();
        let mut seqs: Vec<(u64, u64)> = (0..1 + rng.below(6)).map(|s| (s << 32, 0)).collect();
        for _ in 0..commands {
            let c = rng.below(seqs.len() as u64) as usize;
            match rng.below(10) {
                0 => seqs[c] = (seqs[c].0 + 1, 0), // a new incarnation
                1 if seqs[c].1 > 0 => {}           // a retry: same seq below
                _ => seqs[c].1 += 1,
            }
            let (session, seq) = seqs[c];
            let seq = seq.max(1);
            let key = rng.below(keys) as u32;
            let value = rng.below(values) as i64 - 2;
            let op = match rng.below(3) {
                0 => KvOp::Get { key },
                1 => KvOp::Put { key, value },
                _ => KvOp::Cas {
                    key,
                    expect: value,
                    new: rng.below(values) as i64 - 2,
                },
            };
            kv.apply(&cmd(session, seq, op));
        }
        kv
    }

    fn snapshot(data: KvState) -> Snapshot {
        Snapshot {
            last_index: u64::MAX,
            last_term: 0,
            data,
        }
    }

    fn messages() -> Vec<Message> {
        let mut kv = KvState::new();
        kv.apply(&cmd(1, 1, KvOp::Put { key: 1, value: -9 }));
        kv.apply(&cmd(u64::MAX, u64::MAX, KvOp::Get { key: 1 }));
        kv.apply(&cmd(2, 5, KvOp::Get { key: 2 }));
        kv.apply(&cmd(
            3,
            1,
            KvOp::Cas {
                key: 1,
                expect: 0,
                new: 1,
            },
        ));
        kv.apply(&cmd(
            0,
            0,
            KvOp::Cas {
                key: 1,
                expect: -9,
                new: i64::MAX,
            },
        ));
        vec![
            Message::RequestVote {
                term: 0,
                last_log_index: u64::MAX,
                last_log_term: 1,
                pre_vote: true,
            },
            Message::RequestVote {
                term: u64::MAX,
                last_log_index: 0,
                last_log_term: 0,
                pre_vote: false,
            },
            Message::Vote {
                term: 3,
                granted: true,
                pre_vote: false,
            },
            Message::Vote {
                term: 0,
                granted: false,
                pre_vote: true,
            },
            Message::AppendEntries {
                term: 1,
                prev_index: 0,
                prev_term: 0,
                entries: vec![],
                commit: 0,
            },
            Message::AppendEntries {
                term: u64::MAX,
                prev_index: u64::MAX,
                prev_term: u64::MAX,
                entries: entries(500),
                commit: u64::MAX,
            },
            Message::AppendResult {
                term: 2,
                success: true,
                match_index: u64::MAX,
                conflict_index: 0,
                conflict_term: None,
            },
            Message::AppendResult {
                term: 2,
                success: false,
                match_index: 0,
                conflict_index: 17,
                conflict_term: Some(u64::MAX),
            },
            Message::InstallSnapshot {
                term: 9,
                snapshot: snapshot(KvState::new()),
            },
            Message::InstallSnapshot {
                term: 9,
                snapshot: snapshot(kv),
            },
            Message::InstallSnapshot {
                term: 1,
                snapshot: snapshot(client_state(&mut RngStream::derive(7, "test"), 300)),
            },
            Message::SnapshotResult {
                term: u64::MAX,
                last_index: 0,
            },
        ]
    }

    fn packets() -> Vec<Packet> {
        let mut ps: Vec<Packet> = messages()
            .into_iter()
            .enumerate()
            .map(|(i, msg)| Packet::Raft {
                from: i as u32,
                to: u32::MAX - i as u32,
                msg,
            })
            .collect();
        for (i, op) in ops().into_iter().enumerate() {
            ps.push(Packet::Request(Request {
                client: i as u32 * 1000,
                cmd: cmd(i as u64, u64::MAX - i as u64, op),
            }));
        }
        let results = [
            KvResult::Value(None),
            KvResult::Value(Some(i64::MIN)),
            KvResult::Value(Some(0)),
            KvResult::Done,
            KvResult::Swapped(true),
            KvResult::Swapped(false),
        ];
        for (i, result) in results.into_iter().enumerate() {
            ps.push(Packet::Reply {
                to: i as u32,
                reply: Reply::Done {
                    session: u64::MAX,
                    seq: i as u64,
                    result,
                },
            });
        }
        for leader in [None, Some(0), Some(u32::MAX)] {
            ps.push(Packet::Reply {
                to: u32::MAX,
                reply: Reply::NotLeader {
                    session: 0,
                    seq: u64::MAX,
                    leader,
                },
            });
        }
        ps.push(Packet::Control(vec![]));
        ps.push(Packet::Control((0..=255).collect()));
        ps
    }

    fn writes() -> Vec<Write> {
        vec![
            Write::HardState {
                term: 0,
                vote: None,
            },
            Write::HardState {
                term: u64::MAX,
                vote: Some(u32::MAX),
            },
            Write::Append {
                first: 1,
                entries: vec![],
            },
            Write::Append {
                first: u64::MAX,
                entries: entries(3000),
            },
            Write::Snapshot(snapshot(KvState::new())),
            Write::Snapshot(snapshot(client_state(
                &mut RngStream::derive(3, "test"),
                2000,
            ))),
        ]
    }

    fn encoded(p: &Packet) -> Vec<u8> {
        let mut out = Vec::new();
        encode(p, &mut out).expect("fits a datagram");
        out
    }

    fn encoded_write(w: &Write) -> Vec<u8> {
        let mut out = Vec::new();
        encode_write(w, &mut out);
        out
    }

    #[test]
    fn every_packet_round_trips() {
        for p in packets() {
            let bytes = encoded(&p);
            assert_eq!(bytes[0], WIRE_VERSION);
            assert_eq!(decode(&bytes), Ok(p.clone()), "{p:?}");
        }
    }

    #[test]
    fn every_write_round_trips() {
        for w in writes() {
            let mut bytes = Vec::new();
            encode_write(&w, &mut bytes);
            assert_eq!(decode_write(&bytes), Ok(w));
        }
    }

    #[test]
    fn encode_appends_to_what_the_buffer_holds() {
        let p = Packet::Control(vec![1, 2, 3]);
        let mut out = vec![0xaa];
        encode(&p, &mut out).expect("small");
        assert_eq!(out[0], 0xaa);
        assert_eq!(decode(&out[1..]), Ok(p));
    }

    #[test]
    fn snapshot_states_round_trip() {
        // States clients reach, and states with sequence numbers from 0, gaps and stale
        // requests: every state is encoded and decoded exactly.
        let mut rng = RngStream::derive(1, "test");
        let mut states: Vec<KvState> = (0..200)
            .map(|round| client_state(&mut rng, round % 60))
            .collect();
        for round in 0..200 {
            states.push(client_state_with(
                &mut rng,
                round % 40,
                1 + round as u64 % 3,
                50,
            ));
        }
        for _ in 0..200 {
            let mut kv = KvState::new();
            for _ in 0..rng.below(30) {
                let key = rng.below(4) as u32;
                let value = rng.below(3) as i64;
                let op = match rng.below(3) {
                    0 => KvOp::Get { key },
                    1 => KvOp::Put { key, value },
                    _ => KvOp::Cas {
                        key,
                        expect: value,
                        new: rng.below(3) as i64,
                    },
                };
                kv.apply(&cmd(rng.below(4), rng.below(4), op));
            }
            states.push(kv);
        }
        // Parts no sequence of commands leaves are still states, and encode as such.
        states.push(KvState::from_parts([(1, 1)], []));
        states.push(KvState::from_parts(
            [],
            [
                (0, 0, KvResult::Swapped(true)),
                (u64::MAX, u64::MAX, KvResult::Value(Some(i64::MIN))),
            ],
        ));
        for (i, kv) in states.into_iter().enumerate() {
            let w = Write::Snapshot(Snapshot {
                last_index: i as u64,
                last_term: 1,
                data: kv,
            });
            assert_eq!(decode_write(&encoded_write(&w)), Ok(w.clone()), "{w:?}");
        }
    }

    #[test]
    fn a_large_state_round_trips_quickly() {
        // 200,000 keys over 1,000 sessions: encoding and decoding are linear (up to the map's
        // logarithm).
        let mut kv = KvState::new();
        for i in 0..200_000u64 {
            let op = KvOp::Put {
                key: (i * 7919 % 1_000_003) as u32,
                value: -(i as i64),
            };
            kv.apply(&cmd(i % 1000, i / 1000 + 1, op));
        }
        let w = Write::Snapshot(snapshot(kv));
        let start = std::time::Instant::now();
        let bytes = encoded_write(&w);
        assert_eq!(decode_write(&bytes), Ok(w));
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn unsorted_keys_and_sessions_are_refused() {
        // A snapshot write: version, tag, index and term, then `keys` and `sessions`.
        let write = |keys: &[u32], sessions: &[u64]| {
            let mut bytes = vec![WIRE_VERSION, 2];
            bytes.extend_from_slice(&[0; 16]);
            bytes.extend_from_slice(&(keys.len() as u32).to_le_bytes());
            for k in keys {
                bytes.extend_from_slice(&k.to_le_bytes());
                bytes.extend_from_slice(&0i64.to_le_bytes());
            }
            bytes.extend_from_slice(&(sessions.len() as u32).to_le_bytes());
            for s in sessions {
                bytes.extend_from_slice(&s.to_le_bytes());
                bytes.extend_from_slice(&1u64.to_le_bytes());
                bytes.push(1); // KvResult::Done
            }
            decode_write(&bytes)
        };
        let sorted = write(&[1, 5], &[0, 9]).expect("sorted parts decode");
        let Write::Snapshot(s) = &sorted else {
            panic!("expected a snapshot, got {sorted:?}");
        };
        assert_eq!(s.data.entries().collect::<Vec<_>>(), vec![(1, 0), (5, 0)]);
        assert_eq!(
            s.data.sessions().collect::<Vec<_>>(),
            vec![(0, 1, KvResult::Done), (9, 1, KvResult::Done)]
        );
        // The second key starts at byte 34; the second session at 18 + 4 + 4 + 17 = 43.
        for keys in [&[5, 5], &[5, 1]] {
            assert!(matches!(
                write(keys, &[]),
                Err(WireError::BadSnapshot { at: 34, .. })
            ));
        }
        for sessions in [&[9, 9], &[9, 0]] {
            assert!(matches!(
                write(&[], sessions),
                Err(WireError::BadSnapshot { at: 43, .. })
            ));
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        for p in packets() {
            let bytes = encoded(&p);
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "{p:?} cut at {cut}");
            }
        }
        // (Every write but the long ones: their cuts would take seconds and prove nothing more.)
        for w in writes()
            .into_iter()
            .filter(|w| encoded_write(w).len() < 20_000)
        {
            let mut bytes = Vec::new();
            encode_write(&w, &mut bytes);
            for cut in 0..bytes.len() {
                assert!(decode_write(&bytes[..cut]).is_err(), "{w:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn trailing_bytes_and_other_versions_are_refused() {
        for p in packets() {
            let mut bytes = encoded(&p);
            let len = bytes.len();
            bytes.push(0);
            assert_eq!(
                decode(&bytes),
                Err(WireError::Trailing { at: len, extra: 1 })
            );
            bytes.pop();
            bytes[0] = WIRE_VERSION + 1;
            assert_eq!(
                decode(&bytes),
                Err(WireError::Version {
                    found: WIRE_VERSION + 1
                })
            );
        }
        let mut bytes = Vec::new();
        encode_write(&writes()[1], &mut bytes);
        bytes.push(9);
        assert!(matches!(
            decode_write(&bytes),
            Err(WireError::Trailing { .. })
        ));
        bytes[0] = 0;
        assert_eq!(decode_write(&bytes), Err(WireError::Version { found: 0 }));
        assert!(decode(&[]).is_err() && decode_write(&[]).is_err());
    }

    #[test]
    fn too_large_packets_are_refused_and_leave_the_buffer_alone() {
        let big = Packet::Raft {
            from: 0,
            to: 1,
            msg: Message::AppendEntries {
                term: 1,
                prev_index: 0,
                prev_term: 0,
                entries: entries(3000),
                commit: 0,
            },
        };
        let mut out = vec![7];
        match encode(&big, &mut out) {
            Err(WireError::TooLarge { bytes }) => assert!(bytes > DATAGRAM_MAX),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(out, vec![7]);
        // The limit is on the whole packet: version, tag and count take 6 bytes.
        let fits = Packet::Control(vec![0; DATAGRAM_MAX - 6]);
        assert_eq!(encoded(&fits).len(), DATAGRAM_MAX);
        let over = Packet::Control(vec![0; DATAGRAM_MAX - 5]);
        assert_eq!(
            encode(&over, &mut out),
            Err(WireError::TooLarge {
                bytes: DATAGRAM_MAX + 1
            })
        );
        // A snapshot of 10,000 keys (12 bytes each) does not fit either.
        let mut kv = KvState::new();
        for key in 0..10_000 {
            kv.apply(&cmd(1, u64::from(key) + 1, KvOp::Put { key, value: 1 }));
        }
        let install = Packet::Raft {
            from: 0,
            to: 1,
            msg: Message::InstallSnapshot {
                term: 1,
                snapshot: snapshot(kv),
            },
        };
        assert!(matches!(
            encode(&install, &mut out),
            Err(WireError::TooLarge { bytes }) if bytes > 120_000
        ));
        let huge = Packet::Control(vec![0; DATAGRAM_MAX * 2]);
        assert!(matches!(
            encode(&huge, &mut out),
            Err(WireError::TooLarge { .. })
        ));
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn absurd_counts_are_refused_before_allocating() {
        // An AppendEntries claiming u32::MAX entries in a few bytes.
        let mut bytes = vec![WIRE_VERSION, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2];
        bytes.extend_from_slice(&[0; 32]);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&bytes),
            Err(WireError::BadCount {
                count: u32::MAX,
                ..
            })
        ));
        let mut control = vec![WIRE_VERSION, 3];
        control.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&control), Err(WireError::BadCount { .. })));
    }

    #[test]
    fn bad_tags_and_booleans_are_refused() {
        assert!(matches!(
            decode(&[WIRE_VERSION, 4]),
            Err(WireError::BadTag { at: 1, .. })
        ));
        let mut vote = encoded(&Packet::Raft {
            from: 0,
            to: 1,
            msg: Message::Vote {
                term: 1,
                granted: true,
                pre_vote: false,
            },
        });
        let flag = vote.len() - 2;
        vote[flag] = 2;
        assert_eq!(
            decode(&vote),
            Err(WireError::BadTag {
                at: flag,
                what: "granted flag",
                tag: 2
            })
        );
    }

    #[test]
    fn garbage_never_panics_and_is_mostly_refused() {
        let mut rng = RngStream::derive(42, "test");
        let valid: Vec<Vec<u8>> = packets().iter().map(encoded).collect();
        let mut valid_writes: Vec<Vec<u8>> = Vec::new();
        for w in writes()
            .iter()
            .filter(|w| !matches!(w, Write::Append { entries, .. } if entries.len() > 100))
        {
            let mut b = Vec::new();
            encode_write(w, &mut b);
            valid_writes.push(b);
        }
        // Whatever is accepted is canonical: it encodes back to exactly the bytes it came from.
        let check = |b: &[u8]| {
            let mut accepted = 0;
            if let Ok(p) = decode(b) {
                assert_eq!(encoded(&p), b);
                accepted += 1;
            }
            if let Ok(w) = decode_write(b) {
                let mut again = Vec::new();
                encode_write(&w, &mut again);
                assert_eq!(again, b);
                accepted += 1;
            }
            accepted
        };
        let (mut noise_accepted, rounds) = (0, 10_000);
        for i in 0..rounds {
            // Pure noise, half of it with a plausible start.
            let len = rng.below(96) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if i % 2 == 0 && len >= 2 {
                b[0] = WIRE_VERSION;
                b[1] = rng.below(4) as u8;
            }
            noise_accepted += check(&b);
            // A valid packet or write with a few bytes changed: changes inside plain numbers
            // decode fine, so these are only checked not to panic and to stay canonical.
            let pool = if i % 2 == 0 { &valid } else { &valid_writes };
            let mut b = pool[rng.below(pool.len() as u64) as usize].clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(b.len() as u64) as usize;
                b[at] = rng.next_u64() as u8;
            }
            check(&b);
        }
        assert!(
            noise_accepted < rounds / 100,
            "{noise_accepted} of {rounds} noise inputs accepted"
        );
    }
}

//! A cache service in front of the Raft key-value store: a memory-bounded cache on a host,
//! through which clients (or a lower tier of caches) reach the cluster. Sans-IO: an instance
//! takes requests from below and replies from above and says what to send where
//! ([`CacheAction`]); the cluster carries the messages over the network, so a hit costs the round
//! trip to the cache's host and a miss the round trip on to the cluster as well.
//!
//! What it models, each a property of the `cache` block:
//! - **Eviction**: any policy of [`crate::cache::Kind`] over `capacity` bytes, each entry
//!   `object_size` bytes. An entry held past its `ttl` is dropped at its next request (a miss).
//! - **Writes**: `write through` forwards a put or cas and installs the new value when it is
//!   acknowledged; `around` forwards it and drops the key; `back` acknowledges a put at once,
//!   installs it, and writes it to the cluster afterwards (a put the cache cannot deliver is
//!   lost though acknowledged: `expect durable` reports it). Every forwarded write drops the key
//!   first, so a write whose outcome is unknown never leaves the old value cached.
//! - **Fills**: `fill always` installs whatever a miss brings back, the naive cache-aside that
//!   races a write (a read's reply that was overtaken by a later write's installs the old value,
//!   which then stays: the stale-cache anomaly that `expect linearizable` reports); `fill lease`
//!   installs it only if no write to the key passed through since the miss left (the leases of
//!   Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013). A lease ends when a write
//!   to the key is forwarded and again when it is acknowledged (a read that left between the
//!   two may have been ordered before the write). The same guard applies to a write-through
//!   write's own value: two writes whose acknowledgements cross would otherwise leave the
//!   older value cached.
//! - **Coalescing**: with `coalesce true`, reads of a key whose miss is already on its way wait
//!   for that one instead of each going to the cluster (a stampede on an expired hot key sends
//!   one request, not hundreds).
//!
//! Several instances of a cache (`on edge1..edge4`) each keep their own entries and see only the
//! writes that pass through them: they are not coherent with each other beyond their TTL, as CDN
//! edges are not. A tier may sit in front of another tier (`backend regional`).

use std::collections::BTreeMap;

use simcore::{SimDuration, SimTime};

use crate::cache::{Kind, Policy};
use crate::raft::kv::{Key, KvOp, KvResult, Value};
use crate::raft::server::{Reply, Request};
use crate::raft::types::NodeId;

/// How a cache treats writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Through,
    Around,
    Back,
}

impl WriteMode {
    pub const NAMES: &'static [&'static str] = &["through", "around", "back"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "through" => WriteMode::Through,
            "around" => WriteMode::Around,
            "back" => WriteMode::Back,
            _ => return None,
        })
    }
}

/// A cache tier: its instances (one per host) and how each behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// The block's name (metrics are `NAME.hits`, ...).
    pub name: String,
    /// The world host of each instance.
    pub hosts: Vec<u32>,
    /// The tier its misses and writes go to (an index into the cluster's tiers), or the cluster.
    pub upstream: Option<usize>,
    pub policy: Kind,
    /// Bytes each instance holds.
    pub capacity: u64,
    /// Bytes an entry takes.
    pub object_size: u64,
    pub write: WriteMode,
    pub ttl: Option<SimDuration>,
    pub coalesce: bool,
    /// Whether a fill needs its lease (no write to the key since the miss left).
    pub lease: bool,
    /// How long a miss on its way may gather reads before a new read sends its own (a miss
    /// whose reply was lost must not hold reads forever): the clients' attempt timeout.
    pub fetch_timeout: SimDuration,
    /// How long a write sent up without a reply counts as on its way (the clients' operation
    /// timeout: by then its client has given up on it).
    pub write_timeout: SimDuration,
}

/// What an instance asks the cluster to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheAction {
    /// Answer the host below (a client's or a lower tier's).
    Reply { to: u32, reply: Reply },
    /// Send the request up, for server `server` (the server the client chose).
    Forward { req: Request, server: NodeId },
}

/// Counts an instance adds to, summed over a tier's instances into its metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
    /// Misses on an entry whose TTL had run out.
    pub expired: u64,
    /// Reads that waited for another read's miss instead of going up.
    pub coalesced: u64,
    /// Requests sent up (misses, writes, write-back flushes, retries).
    pub upstream: u64,
    /// Fills dropped because a write passed through since their miss left.
    pub fills_dropped: u64,
}

impl std::ops::Add for CacheCounts {
    type Output = CacheCounts;

    /// Two instances' counts together (a tier's metrics sum its instances').
    fn add(self, b: CacheCounts) -> CacheCounts {
        CacheCounts {
            hits: self.hits + b.hits,
            misses: self.misses + b.misses,
            expired: self.expired + b.expired,
            coalesced: self.coalesced + b.coalesced,
            upstream: self.upstream + b.upstream,
            fills_dropped: self.fills_dropped + b.fills_dropped,
        }
    }
}

/// One cached value.
#[derive(Debug, Clone, Copy)]
struct Entry {
    value: Option<Value>,
    expires: Option<SimTime>,
}

/// A request sent up that waits for its reply.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The host below to answer (None: a write-back flush, answered already).
    from: Option<u32>,
    req: Request,
    /// For a read: the key's write epoch when it left (its lease).
    epoch: u64,
}

/// A read of a key on its way up, and the reads waiting for it.
#[derive(Debug, Clone)]
struct Fetch {
    id: (u64, u64),
    started: SimTime,
    waiters: Vec<(u32, u64, u64)>,
}

/// One instance of a cache.
pub struct CacheNode {
    policy: Box<dyn Policy>,
    entries: BTreeMap<Key, Entry>,
    /// Per key, the writes that passed through (a read's lease is the count when it left).
    epochs: BTreeMap<Key, u64>,
    pending: BTreeMap<(u64, u64), Pending>,
    fetches: BTreeMap<Key, Fetch>,
    /// Per key, the writes sent up and not answered, with when each first left.
    writing: BTreeMap<Key, Vec<((u64, u64), SimTime)>>,
    /// Per request sent up and not yet applied (answered `Done`), the key's epoch when it first
    /// left: its lease, whatever its retries. A retry's answer may report an application of an
    /// earlier attempt (the server answers a repeated request from its session table), so the
    /// lease runs from the first attempt, even after a "not the leader" answer to one of them.
    first: BTreeMap<(u64, u64), u64>,
    pub counts: CacheCounts,
}

impl std::fmt::Debug for CacheNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheNode")
            .field("entries", &self.policy.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn key_of(op: &KvOp) -> Key {
    match *op {
        KvOp::Get { key } | KvOp::Put { key, .. } | KvOp::Cas { key, .. } => key,
    }
}

impl CacheNode {
    pub fn new(config: &CacheConfig) -> Self {
        CacheNode {
            policy: config.policy.build(config.capacity),
            entries: BTreeMap::new(),
            epochs: BTreeMap::new(),
            pending: BTreeMap::new(),
            fetches: BTreeMap::new(),
            writing: BTreeMap::new(),
            first: BTreeMap::new(),
            counts: CacheCounts::default(),
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.policy.bytes()
    }

    /// The value a read of `key` finds, counting the hit or miss: an entry the policy holds,
    /// filled, and not expired.
    fn lookup(&mut self, c: &CacheConfig, key: Key, now: SimTime) -> Option<Option<Value>> {
        let held = self.policy.access(u64::from(key), c.object_size);
        if !held {
            // Evicted (or never held): what `entries` kept of it is gone with it.
            self.entries.remove(&key);
        }
        let found = match self.entries.get(&key) {
            Some(Entry {
                expires: Some(at), ..
            }) if now >= *at => {
                self.counts.expired += 1;
                self.policy.remove(u64::from(key));
                self.entries.remove(&key);
                None
            }
            // Held and filled; held without an entry is a miss whose fill is on its way.
            Some(e) => Some(e.value),
            None => None,
        };
        if found.is_some() {
            self.counts.hits += 1;
        } else {
            self.counts.misses += 1;
        }
        found
    }

    /// Installs `value` for `key` (None: known absent).
    fn install(&mut self, c: &CacheConfig, key: Key, value: Option<Value>, now: SimTime) {
        self.policy.access(u64::from(key), c.object_size);
        let expires = c.ttl.map(|t| now.saturating_add(t));
        self.entries.insert(key, Entry { value, expires });
    }

    /// Drops `key` and revokes the leases of requests for it on their way: the key's new
    /// epoch.
    fn invalidate(&mut self, key: Key) -> u64 {
        self.policy.remove(u64::from(key));
        self.entries.remove(&key);
        self.bump(key)
    }

    /// Ends the leases of requests for `key` on their way: the key's new epoch.
    fn bump(&mut self, key: Key) -> u64 {
        let epoch = self.epochs.entry(key).or_insert(0);
        *epoch += 1;
        *epoch
    }

    /// Whether a reply to a request that left at `epoch` may be installed: always with `fill
    /// always`, else only if no write to the key passed through since and none is on its way
    /// (the backend may order that write either side of the reply's value, and a read that
    /// missed may already have seen it).
    fn may_install(&self, c: &CacheConfig, key: Key, epoch: u64, now: SimTime) -> bool {
        !c.lease
            || (self.epochs.get(&key).copied().unwrap_or(0) == epoch
                && self.writing.get(&key).is_none_or(|w| {
                    w.iter()
                        .all(|(_, sent)| now.saturating_since(*sent) >= c.write_timeout)
                }))
    }

    /// A write sent up: on its way until answered (or its client has given up on it).
    fn writing(&mut self, key: Key, id: (u64, u64), now: SimTime) {
        let w = self.writing.entry(key).or_default();
        if !w.iter().any(|(i, _)| *i == id) {
            w.push((id, now));
        }
    }

    /// A write was answered: no longer on its way.
    fn written(&mut self, key: Key, id: (u64, u64)) {
        if let Some(w) = self.writing.get_mut(&key) {
            w.retain(|(i, _)| *i != id);
            if w.is_empty() {
                self.writing.remove(&key);
            }
        }
    }

    /// A request from the host `from` below, meant for server `server`. A hit's value is
    /// returned as well, for the caller to check against the cluster.
    pub fn request(
        &mut self,
        c: &CacheConfig,
        now: SimTime,
        from: u32,
        server: NodeId,
        req: Request,
        out: &mut Vec<CacheAction>,
    ) -> Option<(Key, Option<Value>)> {
        let (session, seq) = (req.cmd.session, req.cmd.seq);
        match req.cmd.op {
            KvOp::Get { key } => {
                if let Some(value) = self.lookup(c, key, now) {
                    out.push(CacheAction::Reply {
                        to: from,
                        reply: Reply::Done {
                            session,
                            seq,
                            result: KvResult::Value(value),
                        },
                    });
                    return Some((key, value));
                }
                if c.coalesce
                    && let Some(f) = self.fetches.get_mut(&key)
                    && now.saturating_since(f.started) < c.fetch_timeout
                {
                    if f.id != (session, seq)
                        && !f.waiters.iter().any(|w| (w.1, w.2) == (session, seq))
                    {
                        f.waiters.push((from, session, seq));
                        self.counts.coalesced += 1;
                    }
                    return None;
                }
                let epoch = self.epochs.get(&key).copied().unwrap_or(0);
                if c.coalesce {
                    let waiters = self
                        .fetches
                        .remove(&key)
                        .map(|f| f.waiters)
                        .unwrap_or_default();
                    self.fetches.insert(
                        key,
                        Fetch {
                            id: (session, seq),
                            started: now,
                            waiters,
                        },
                    );
                }
                self.send_up(from, req, server, epoch, out);
            }
            KvOp::Put { key, value } if c.write == WriteMode::Back => {
                self.invalidate(key);
                self.install(c, key, Some(value), now);
                out.push(CacheAction::Reply {
                    to: from,
                    reply: Reply::Done {
                        session,
                        seq,
                        result: KvResult::Done,
                    },
                });
                self.counts.upstream += 1;
                self.pending.insert(
                    (session, seq),
                    Pending {
                        from: None,
                        req,
                        epoch: 0,
                    },
                );
                out.push(CacheAction::Forward { req, server });
            }
            KvOp::Put { key, .. } | KvOp::Cas { key, .. } => {
                self.writing(key, (session, seq), now);
                let epoch = self.invalidate(key);
                self.send_up(from, req, server, epoch, out);
            }
        }
        None
    }

    fn send_up(
        &mut self,
        from: u32,
        req: Request,
        server: NodeId,
        epoch: u64,
        out: &mut Vec<CacheAction>,
    ) {
        self.counts.upstream += 1;
        let id = (req.cmd.session, req.cmd.seq);
        let epoch = *self.first.entry(id).or_insert(epoch);
        self.pending.insert(
            id,
            Pending {
                from: Some(from),
                req,
                epoch,
            },
        );
        out.push(CacheAction::Forward { req, server });
    }

    /// A reply from above. `servers` is the cluster's size (a write-back flush told the server
    /// is not the leader tries the one it names, or the next).
    pub fn reply(
        &mut self,
        c: &CacheConfig,
        now: SimTime,
        reply: Reply,
        server: NodeId,
        servers: u32,
        out: &mut Vec<CacheAction>,
    ) {
        let id = reply.id();
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        if let Reply::Done { .. } = reply {
            self.first.remove(&id);
        }
        let key = key_of(&p.req.cmd.op);
        let Some(from) = p.from else {
            // A write-back flush: done, or sent again where the leader may be.
            if let Reply::NotLeader { leader, .. } = reply {
                let next = leader.unwrap_or((server + 1) % servers.max(1));
                self.pending.insert(id, p);
                self.counts.upstream += 1;
                out.push(CacheAction::Forward {
                    req: p.req,
                    server: next,
                });
            }
            return;
        };
        let fetch = match p.req.cmd.op {
            KvOp::Get { .. } if self.fetches.get(&key).is_some_and(|f| f.id == id) => {
                self.fetches.remove(&key)
            }
            _ => None,
        };
        match (reply, p.req.cmd.op) {
            (
                Reply::Done {
                    result: KvResult::Value(v),
                    ..
                },
                KvOp::Get { .. },
            ) => {
                if self.may_install(c, key, p.epoch, now) {
                    self.install(c, key, v, now);
                } else {
                    self.counts.fills_dropped += 1;
                }
                for (to, session, seq) in fetch.map(|f| f.waiters).unwrap_or_default() {
                    out.push(CacheAction::Reply {
                        to,
                        reply: Reply::Done {
                            session,
                            seq,
                            result: KvResult::Value(v),
                        },
                    });
                }
            }
            (Reply::Done { result, .. }, KvOp::Put { .. } | KvOp::Cas { .. }) => {
                let written = match (result, p.req.cmd.op) {
                    (KvResult::Done, KvOp::Put { value, .. }) => Some(value),
                    (KvResult::Swapped(true), KvOp::Cas { new, .. }) => Some(new),
                    _ => None,
                };
                self.written(key, id);
                let fresh = self.may_install(c, key, p.epoch, now);
                // A read that left before this acknowledgement may have been ordered before the
                // write: what it installed is dropped and the leases of those on their way end.
                self.invalidate(key);
                if let Some(value) = written
                    && c.write == WriteMode::Through
                {
                    if fresh {
                        self.install(c, key, Some(value), now);
                    } else {
                        self.counts.fills_dropped += 1;
                    }
                }
            }
            (Reply::NotLeader { leader, .. }, KvOp::Get { .. }) => {
                // The reads that waited try where their leader is, as their clients would.
                for (to, session, seq) in fetch.map(|f| f.waiters).unwrap_or_default() {
                    out.push(CacheAction::Reply {
                        to,
                        reply: Reply::NotLeader {
                            session,
                            seq,
                            leader,
                        },
                    });
                }
            }
            _ => {}
        }
        out.push(CacheAction::Reply { to: from, reply });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::kv::Command;

    fn config(write: WriteMode, lease: bool, coalesce: bool) -> CacheConfig {
        CacheConfig {
            name: "c".into(),
            hosts: vec![7],
            upstream: None,
            policy: Kind::Lru,
            capacity: 10,
            object_size: 1,
            write,
            ttl: None,
            coalesce,
            lease,
            fetch_timeout: SimDuration::from_millis(100),
            write_timeout: SimDuration::from_secs(1),
        }
    }

    fn req(session: u64, seq: u64, op: KvOp) -> Request {
        Request {
            client: 0,
            cmd: Command { session, seq, op },
        }
    }

    fn done(session: u64, seq: u64, result: KvResult) -> Reply {
        Reply::Done {
            session,
            seq,
            result,
        }
    }

    fn t(ms: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_millis(ms))
    }

    /// The race of cache-aside: a read misses and goes up; a write passes through and is
    /// acknowledged first; then the read's reply, carrying the old value, arrives. Filled
    /// always, the old value replaces the acknowledged one (a stale hit); with a lease, the
    /// fill is dropped and the written value stays.
    #[test]
    fn a_late_fill_is_stale_unless_its_lease_was_revoked() {
        for lease in [false, true] {
            let c = config(WriteMode::Through, lease, false);
            let mut n = CacheNode::new(&c);
            let mut out = Vec::new();
            n.request(&c, t(0), 10, 0, req(1, 1, KvOp::Get { key: 5 }), &mut out);
            n.request(
                &c,
                t(1),
                11,
                0,
                req(2, 1, KvOp::Put { key: 5, value: 9 }),
                &mut out,
            );
            n.reply(&c, t(2), done(2, 1, KvResult::Done), 0, 3, &mut out);
            n.reply(
                &c,
                t(3),
                done(1, 1, KvResult::Value(Some(4))),
                0,
                3,
                &mut out,
            );
            out.clear();
            let hit = n.request(&c, t(4), 10, 0, req(1, 2, KvOp::Get { key: 5 }), &mut out);
            if lease {
                assert_eq!(
                    hit,
                    Some((5, Some(9))),
                    "the late fill was dropped: 9 stays"
                );
                assert_eq!(n.counts.fills_dropped, 1);
            } else {
                assert_eq!(
                    hit,
                    Some((5, Some(4))),
                    "the old value was installed over 9"
                );
            }
        }
    }

    /// A retried write keeps the lease of its first attempt. Here the first attempt of put 1000
    /// is told "not the leader" by one server but was applied by another; put 1003 goes through
    /// and is acknowledged; then the retry of put 1000 is answered from the server's session
    /// table. That answer reports the application before 1003's, so 1000 must not be cached.
    #[test]
    fn a_retried_write_keeps_its_first_lease() {
        let c = config(WriteMode::Through, true, false);
        let mut n = CacheNode::new(&c);
        let mut out = Vec::new();
        let w1000 = KvOp::Put {
            key: 3,
            value: 1000,
        };
        let w1003 = KvOp::Put {
            key: 3,
            value: 1003,
        };
        let not_leader = |session, seq| Reply::NotLeader {
            session,
            seq,
            leader: None,
        };
        n.request(&c, t(0), 10, 0, req(1, 1, w1000), &mut out);
        n.reply(&c, t(1), not_leader(1, 1), 0, 3, &mut out);
        n.request(&c, t(2), 11, 0, req(2, 1, w1003), &mut out);
        n.reply(&c, t(3), done(2, 1, KvResult::Done), 0, 3, &mut out);
        n.request(&c, t(4), 10, 1, req(1, 1, w1000), &mut out);
        n.reply(&c, t(5), done(1, 1, KvResult::Done), 1, 3, &mut out);
        assert_eq!(
            n.request(&c, t(6), 12, 0, req(3, 1, KvOp::Get { key: 3 }), &mut out),
            None,
            "1000 was not cached over 1003"
        );
    }

    /// Write-through installs an acknowledged put; write-around drops the key; write-back
    /// answers at once and sends the put up unanswered.
    #[test]
    fn write_modes() {
        let c = config(WriteMode::Through, true, false);
        let mut n = CacheNode::new(&c);
        let mut out = Vec::new();
        n.request(
            &c,
            t(0),
            10,
            0,
            req(1, 1, KvOp::Put { key: 1, value: 3 }),
            &mut out,
        );
        assert!(matches!(out[..], [CacheAction::Forward { .. }]));
        n.reply(&c, t(1), done(1, 1, KvResult::Done), 0, 3, &mut out);
        assert_eq!(
            n.request(&c, t(2), 10, 0, req(1, 2, KvOp::Get { key: 1 }), &mut out),
            Some((1, Some(3)))
        );

        let c = config(WriteMode::Around, true, false);
        let mut n = CacheNode::new(&c);
        n.request(
            &c,
            t(0),
            10,
            0,
            req(1, 1, KvOp::Put { key: 1, value: 3 }),
            &mut out,
        );
        n.reply(&c, t(1), done(1, 1, KvResult::Done), 0, 3, &mut out);
        assert_eq!(
            n.request(&c, t(2), 10, 0, req(1, 2, KvOp::Get { key: 1 }), &mut out),
            None
        );

        let c = config(WriteMode::Back, true, false);
        let mut n = CacheNode::new(&c);
        out.clear();
        n.request(
            &c,
            t(0),
            10,
            2,
            req(1, 1, KvOp::Put { key: 1, value: 3 }),
            &mut out,
        );
        assert_eq!(
            out,
            [
                CacheAction::Reply {
                    to: 10,
                    reply: done(1, 1, KvResult::Done)
                },
                CacheAction::Forward {
                    req: req(1, 1, KvOp::Put { key: 1, value: 3 }),
                    server: 2
                },
            ]
        );
        out.clear();
        // The flush told to go elsewhere goes there, and nothing is answered twice.
        n.reply(
            &c,
            t(1),
            Reply::NotLeader {
                session: 1,
                seq: 1,
                leader: None,
            },
            2,
            3,
            &mut out,
        );
        assert_eq!(
            out,
            [CacheAction::Forward {
                req: req(1, 1, KvOp::Put { key: 1, value: 3 }),
                server: 0
            }]
        );
        out.clear();
        n.reply(&c, t(2), done(1, 1, KvResult::Done), 0, 3, &mut out);
        assert!(out.is_empty());
        assert_eq!(
            n.request(&c, t(3), 10, 0, req(1, 2, KvOp::Get { key: 1 }), &mut out),
            Some((1, Some(3)))
        );
    }

    /// Coalescing: reads of a key whose miss is on its way wait for it and are all answered by
    /// its reply; without it each goes up. A miss older than the fetch timeout no longer
    /// gathers reads.
    #[test]
    fn coalescing_sends_one_read_up() {
        for coalesce in [false, true] {
            let c = config(WriteMode::Through, true, coalesce);
            let mut n = CacheNode::new(&c);
            let mut out = Vec::new();
            for s in 1..=5 {
                n.request(
                    &c,
                    t(0),
                    10 + s as u32,
                    0,
                    req(s, 1, KvOp::Get { key: 8 }),
                    &mut out,
                );
            }
            let up = out
                .iter()
                .filter(|a| matches!(a, CacheAction::Forward { .. }))
                .count();
            assert_eq!(up, if coalesce { 1 } else { 5 });
            out.clear();
            n.reply(
                &c,
                t(1),
                done(1, 1, KvResult::Value(Some(2))),
                0,
                3,
                &mut out,
            );
            let answered = out
                .iter()
                .filter(|a| matches!(a, CacheAction::Reply { .. }))
                .count();
            assert_eq!(answered, if coalesce { 5 } else { 1 });
        }
        let c = config(WriteMode::Through, true, true);
        let mut n = CacheNode::new(&c);
        let mut out = Vec::new();
        n.request(&c, t(0), 10, 0, req(1, 1, KvOp::Get { key: 8 }), &mut out);
        n.request(&c, t(150), 11, 0, req(2, 1, KvOp::Get { key: 8 }), &mut out);
        assert_eq!(out.len(), 2, "a lost miss does not hold later reads");
    }

    /// An entry past its TTL misses and is counted as expired.
    #[test]
    fn ttl_expires_entries() {
        let mut c = config(WriteMode::Through, true, false);
        c.ttl = Some(SimDuration::from_millis(10));
        let mut n = CacheNode::new(&c);
        let mut out = Vec::new();
        n.request(&c, t(0), 10, 0, req(1, 1, KvOp::Get { key: 8 }), &mut out);
        n.reply(&c, t(1), done(1, 1, KvResult::Value(None)), 0, 3, &mut out);
        assert_eq!(
            n.request(&c, t(5), 10, 0, req(1, 2, KvOp::Get { key: 8 }), &mut out),
            Some((8, None))
        );
        assert_eq!(
            n.request(&c, t(11), 10, 0, req(1, 3, KvOp::Get { key: 8 }), &mut out),
            None
        );
        assert_eq!(
            (n.counts.hits, n.counts.misses, n.counts.expired),
            (1, 2, 1)
        );
    }
}

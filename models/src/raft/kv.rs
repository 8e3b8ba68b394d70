//! The replicated state machine: a key-value store with get, put and compare-and-set, and
//! client sessions so that a retried request applies at most once (Raft thesis §6.3).
//!
//! Every node applies the same committed commands in the same order to its own [`KvState`];
//! the state is a persistent map (`imbl`), so a snapshot is a cheap clone that shares structure.

use imbl::OrdMap;

/// A key. Scenarios draw keys from a distribution of whole numbers.
pub type Key = u32;
/// A value: 64-bit integers, as the linearizability checker's history format has them.
pub type Value = i64;

/// One client operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvOp {
    Get {
        key: Key,
    },
    Put {
        key: Key,
        value: Value,
    },
    /// Set `key` to `new` if it holds `expect`.
    Cas {
        key: Key,
        expect: Value,
        new: Value,
    },
}

impl KvOp {
    pub fn key(&self) -> Key {
        match *self {
            KvOp::Get { key } | KvOp::Put { key, .. } | KvOp::Cas { key, .. } => key,
        }
    }
}

/// What applying an operation returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvResult {
    /// A get: the value, or none.
    Value(Option<Value>),
    /// A put.
    Done,
    /// A cas: whether it matched (and so wrote).
    Swapped(bool),
}

/// A request as it enters the log: the client's session and its sequence number in that session
/// identify it, so a retry of an applied request is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub session: u64,
    pub seq: u64,
    pub op: KvOp,
}

/// The state machine: data, and per session the last sequence number applied with its result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvState {
    data: OrdMap<Key, Value>,
    sessions: OrdMap<u64, (u64, KvResult)>,
}

impl KvState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `cmd` unless its session already applied it (or a later request), in which case
    /// the saved result of that request is returned again: at most once per (session, seq).
    ///
    /// A client has one request in flight per session, so only the last result per session
    /// needs keeping: an older sequence number can only be a stale duplicate whose answer the
    /// client no longer waits for (it gets `None`).
    pub fn apply(&mut self, cmd: &Command) -> Option<KvResult> {
        if let Some(&(last, result)) = self.sessions.get(&cmd.session) {
            if cmd.seq == last {
                return Some(result);
            }
            if cmd.seq < last {
                return None;
            }
        }
        let result = match cmd.op {
            KvOp::Get { key } => KvResult::Value(self.data.get(&key).copied()),
            KvOp::Put { key, value } => {
                self.data.insert(key, value);
                KvResult::Done
            }
            KvOp::Cas { key, expect, new } => {
                let hit = self.data.get(&key) == Some(&expect);
                if hit {
                    self.data.insert(key, new);
                }
                KvResult::Swapped(hit)
            }
        };
        self.sessions.insert(cmd.session, (cmd.seq, result));
        Some(result)
    }

    pub fn get(&self, key: Key) -> Option<Value> {
        self.data.get(&key).copied()
    }

    /// How many keys hold a value.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The last sequence number applied for `session`.
    pub fn last_seq(&self, session: u64) -> Option<u64> {
        self.sessions.get(&session).map(|s| s.0)
    }

    /// Every key that holds a value, with its value, in increasing key order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = (Key, Value)> + '_ {
        self.data.iter().map(|(&k, &v)| (k, v))
    }

    /// Every session that applied a request, in increasing session order, as (session, last
    /// sequence number applied, the result saved for it): what [`KvState::apply`] answers a
    /// retry of that request with.
    pub fn sessions(&self) -> impl ExactSizeIterator<Item = (u64, u64, KvResult)> + '_ {
        self.sessions
            .iter()
            .map(|(&session, &(seq, result))| (session, seq, result))
    }

    /// The state holding exactly `data` and `sessions` (as [`KvState::entries`] and
    /// [`KvState::sessions`] list them), so that `from_parts(kv.entries(), kv.sessions()) == kv`.
    /// The parts may come in any order; of two with the same key (or session) the later wins.
    pub fn from_parts(
        data: impl IntoIterator<Item = (Key, Value)>,
        sessions: impl IntoIterator<Item = (u64, u64, KvResult)>,
    ) -> KvState {
        KvState {
            data: data.into_iter().collect(),
            sessions: sessions
                .into_iter()
                .map(|(session, seq, result)| (session, (seq, result)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(session: u64, seq: u64, op: KvOp) -> Command {
        Command { session, seq, op }
    }

    #[test]
    fn get_put_cas() {
        let mut kv = KvState::new();
        assert_eq!(
            kv.apply(&cmd(1, 1, KvOp::Get { key: 7 })),
            Some(KvResult::Value(None))
        );
        kv.apply(&cmd(1, 2, KvOp::Put { key: 7, value: 3 }));
        let miss = KvOp::Cas {
            key: 7,
            expect: 4,
            new: 9,
        };
        assert_eq!(kv.apply(&cmd(1, 3, miss)), Some(KvResult::Swapped(false)));
        assert_eq!(kv.get(7), Some(3));
        let hit = KvOp::Cas {
            key: 7,
            expect: 3,
            new: 9,
        };
        assert_eq!(kv.apply(&cmd(1, 4, hit)), Some(KvResult::Swapped(true)));
        assert_eq!(kv.get(7), Some(9));
    }

    #[test]
    fn a_retried_request_applies_at_most_once() {
        let mut kv = KvState::new();
        let cas = KvOp::Cas {
            key: 1,
            expect: 0,
            new: 5,
        };
        kv.apply(&cmd(2, 1, KvOp::Put { key: 1, value: 0 }));
        assert_eq!(kv.apply(&cmd(2, 2, cas)), Some(KvResult::Swapped(true)));
        // Another session moves the value back; the retry of (2, 2) must not swap again.
        kv.apply(&cmd(3, 1, KvOp::Put { key: 1, value: 0 }));
        assert_eq!(kv.apply(&cmd(2, 2, cas)), Some(KvResult::Swapped(true)));
        assert_eq!(
            kv.get(1),
            Some(0),
            "the retry was not applied a second time"
        );
        assert_eq!(kv.apply(&cmd(2, 1, cas)), None, "an older request is stale");
    }

    #[test]
    fn a_state_taken_apart_is_rebuilt_exactly() {
        // SplitMix64, so the states are reproducible.
        let mut x = 7u64;
        let mut below = |n: u64| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % n
        };
        for round in 0..200 {
            let mut kv = KvState::new();
            for _ in 0..round % 50 {
                let key = below(6) as Key;
                let value = below(4) as Value - 1;
                let op = match below(3) {
                    0 => KvOp::Get { key },
                    1 => KvOp::Put { key, value },
                    _ => KvOp::Cas {
                        key,
                        expect: value,
                        new: below(4) as Value,
                    },
                };
                kv.apply(&cmd(below(5), below(6), op));
            }
            let data: Vec<_> = kv.entries().collect();
            let sessions: Vec<_> = kv.sessions().collect();
            assert_eq!(data.len(), kv.len());
            assert!(data.windows(2).all(|w| w[0].0 < w[1].0), "key order");
            assert!(
                sessions.windows(2).all(|w| w[0].0 < w[1].0),
                "session order"
            );
            for &(k, v) in &data {
                assert_eq!(kv.get(k), Some(v));
            }
            for &(s, seq, _) in &sessions {
                assert_eq!(kv.last_seq(s), Some(seq));
            }
            let rebuilt = KvState::from_parts(data, sessions);
            assert_eq!(rebuilt, kv, "round {round}");
            // The rebuilt state answers retries as the original does.
            for (s, seq, result) in kv.sessions() {
                let mut again = rebuilt.clone();
                let retry = cmd(s, seq, KvOp::Get { key: 0 });
                assert_eq!(again.apply(&retry), Some(result));
                assert_eq!(again, rebuilt);
            }
        }
        let empty = KvState::new();
        assert_eq!(empty.entries().len() + empty.sessions().len(), 0);
        assert_eq!(KvState::from_parts([], []), empty);
    }

    #[test]
    fn snapshots_are_independent_copies() {
        let mut kv = KvState::new();
        kv.apply(&cmd(1, 1, KvOp::Put { key: 1, value: 1 }));
        let snap = kv.clone();
        kv.apply(&cmd(1, 2, KvOp::Put { key: 1, value: 2 }));
        assert_eq!(snap.get(1), Some(1));
        assert_eq!(kv.get(1), Some(2));
    }
}

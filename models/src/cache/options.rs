//! Options around any policy: time-to-live and admission. [`Cache`] owns a policy and records
//! each admitted object's expiry; a request finding its object expired removes it through
//! [`Policy::remove`] and counts as a miss ([`Outcome::Expired`]), the object then admitted anew.
//! An [`Admission`] policy decides whether a missed object enters the cache at all; a rejected
//! object is not shown to the policy. With no TTL ever given and [`Admission::All`], a request
//! costs the policy's access plus one branch.

use std::collections::{HashMap, HashSet, VecDeque};

use super::Policy;
use super::list::FixedState;

/// What a request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
    /// The object was held but its TTL had passed: a miss.
    Expired,
}

impl Outcome {
    pub fn is_hit(self) -> bool {
        self == Outcome::Hit
    }
}

/// Which missed objects enter the cache.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Every object (that fits).
    All,
    /// Objects of at most this many bytes.
    MaxSize(u64),
    /// Each key with probability `p`, decided by a hash of the key and `seed`: the same key is
    /// always admitted or always rejected under one seed, and no random state is kept.
    Probability { p: f64, seed: u64 },
    /// Only an object requested a second time while its key is among the last `n` keys rejected
    /// (a ghost of `n` keys): one-hit wonders never enter.
    SecondHit(usize),
}

/// The ghost of [`Admission::SecondHit`]: the last keys rejected, oldest first.
#[derive(Debug, Clone, Default)]
struct Ghost {
    order: VecDeque<u64>,
    keys: HashSet<u64, FixedState>,
}

impl Ghost {
    /// Whether `key` was seen (then forgotten); otherwise it is remembered.
    fn seen(&mut self, key: u64, n: usize) -> bool {
        if self.keys.remove(&key) {
            return true;
        }
        if n == 0 {
            return false;
        }
        if self.order.len() >= n {
            // Keys forgotten on a second request leave stale entries: skip those.
            while let Some(old) = self.order.pop_front() {
                if self.keys.remove(&old) {
                    break;
                }
            }
        }
        self.order.push_back(key);
        self.keys.insert(key);
        false
    }
}

/// A uniform number in [0, 1) from `key` and `seed` (SplitMix64's finalizer).
fn unit_hash(key: u64, seed: u64) -> f64 {
    let mut z = key ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A policy with TTLs and an admission policy.
pub struct Cache {
    policy: Box<dyn Policy>,
    admission: Admission,
    ghost: Ghost,
    /// Expiry (ns) of admitted objects that were given a TTL.
    expiry: HashMap<u64, u64, FixedState>,
}

impl Cache {
    pub fn new(policy: Box<dyn Policy>, admission: Admission) -> Self {
        Cache {
            policy,
            admission,
            ghost: Ghost::default(),
            expiry: HashMap::default(),
        }
    }

    pub fn policy(&self) -> &dyn Policy {
        self.policy.as_ref()
    }

    /// A request at `now` (ns) for `key` of `size` bytes; a missed object that is admitted
    /// expires `ttl` ns later (never, with `None`).
    pub fn access_at(&mut self, now: u64, key: u64, size: u64, ttl: Option<u64>) -> Outcome {
        let mut outcome = Outcome::Miss;
        if !self.expiry.is_empty() && self.expired(now, key) {
            outcome = Outcome::Expired;
        }
        if self.admission != Admission::All && !self.policy.contains(key) {
            if !self.admits(key, size) {
                return outcome;
            }
        }
        if self.policy.access(key, size) {
            return Outcome::Hit;
        }
        match ttl {
            Some(t) => {
                self.expiry.insert(key, now.saturating_add(t));
                self.sweep(now);
            }
            None if !self.expiry.is_empty() => {
                self.expiry.remove(&key);
            }
            None => {}
        }
        outcome
    }

    /// Removes `key` if its TTL passed by `now`: whether it was held (and so expired).
    fn expired(&mut self, now: u64, key: u64) -> bool {
        match self.expiry.get(&key) {
            Some(&at) if at <= now => {
                self.expiry.remove(&key);
                self.policy.remove(key)
            }
            _ => false,
        }
    }

    /// Drops expiries of objects whose TTL passed once the map outgrows the cache twice over
    /// (evicted objects leave their expiry behind): amortized O(1) per request.
    fn sweep(&mut self, now: u64) {
        if self.expiry.len() <= 2 * self.policy.len() + 1024 {
            return;
        }
        let policy = &mut self.policy;
        // Each entry is decided on its own, so the map's order does not matter.
        self.expiry.retain(|&k, &mut at| {
            if at <= now {
                policy.remove(k);
                false
            } else {
                true
            }
        });
    }

    fn admits(&mut self, key: u64, size: u64) -> bool {
        match self.admission {
            Admission::All => true,
            Admission::MaxSize(max) => size <= max,
            Admission::Probability { p, seed } => unit_hash(key, seed) < p,
            Admission::SecondHit(n) => self.ghost.seen(key, n),
        }
    }
}

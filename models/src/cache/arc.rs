//! ARC (Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST 2003):
//! T1 holds objects requested once recently, T2 those requested at least twice; B1 and B2
//! remember (key and size only) objects evicted from T1 and T2. A request found in B1 grows the
//! target size `p` of T1, one found in B2 shrinks it, and such an object is admitted to T2;
//! REPLACE evicts from T1 when T1 is over `p` (or at `p` on a B2 request), else from T2.
//! O(1) per request.
//!
//! With sizes, as libCacheSim's `ARC` (in bytes): the lists' sizes are bytes; a B1 request adds
//! `max(|B2| / |B1|, 1)` to `p` (capped at the capacity `c`), a B2 request subtracts
//! `max(|B1| / |B2|, 1)` (floored at 0), sizes measured before the requested ghost is removed,
//! so `p` moves by the paper's deltas whatever the object's size. On a miss in every list, each
//! eviction first checks case IV: when `|T1| + |B1|` plus the new object exceeds `c`, the oldest
//! of B1 is forgotten and REPLACE runs, or, B1 being empty, T1's oldest is evicted without a
//! ghost; otherwise, when the four lists hold `2c` or more, the oldest of B2 is forgotten and
//! REPLACE runs. A ghost requested for an object larger than the cache is still consumed.
//!
//! Hit for hit equal to libCacheSim 0.3.5's `ARC` on Zipf and scan traces, with pages and with
//! sizes.

use super::Policy;
use super::list::Queues;

const T1: usize = 0;
const T2: usize = 1;
const B1: usize = 2;
const B2: usize = 3;

#[derive(Debug, Clone)]
pub struct Arc {
    queues: Queues,
    capacity: u64,
    /// T1's target size in bytes.
    p: f64,
}

impl Arc {
    pub fn new(capacity: u64) -> Self {
        Arc {
            queues: Queues::new(4),
            capacity,
            p: 0.0,
        }
    }

    /// T1's target size in bytes (the adaptation's state).
    pub fn target(&self) -> f64 {
        self.p
    }

    /// Which list holds `key`: "T1", "T2", "B1", "B2" (ghosts) or none.
    pub fn list_of(&self, key: u64) -> Option<&'static str> {
        let s = self.queues.find(key)?;
        Some(["T1", "T2", "B1", "B2"][self.queues.node(s).queue()])
    }

    fn resident(&self) -> u64 {
        self.queues.bytes(T1) + self.queues.bytes(T2)
    }

    /// The paper's REPLACE: T1's oldest to B1, or T2's oldest to B2.
    fn replace(&mut self, in_b2: bool) {
        let t1 = self.queues.bytes(T1) as f64;
        let from_t1 =
            (t1 > 0.0 && (t1 > self.p || (t1 == self.p && in_b2))) || self.queues.bytes(T2) == 0;
        let (from, to) = if from_t1 { (T1, B1) } else { (T2, B2) };
        let slot = self.queues.tail(from).expect("the cache is over capacity");
        self.queues.move_to_head(slot, to);
    }

    /// Drops the oldest ghost of `q`.
    fn forget(&mut self, q: usize) {
        let slot = self.queues.tail(q).expect("the ghost list is not empty");
        self.queues.remove(slot);
    }

    /// One eviction for a request found in no list (the paper's case IV).
    fn evict_new(&mut self, size: u64) {
        let c = self.capacity;
        let l1 = self.queues.bytes(T1) + self.queues.bytes(B1);
        if l1 + size > c {
            if self.queues.bytes(B1) > 0 {
                self.forget(B1);
                self.replace(false);
            } else {
                let slot = self.queues.tail(T1).expect("T1 fills the cache");
                self.queues.remove(slot);
            }
        } else {
            if l1 + self.queues.bytes(T2) + self.queues.bytes(B2) >= 2 * c
                && self.queues.bytes(B2) > 0
            {
                self.forget(B2);
            }
            self.replace(false);
        }
    }

    /// Adapts `p` for a request found in ghost list `q`.
    fn adapt(&mut self, q: usize) {
        let (b1, b2) = (self.queues.bytes(B1) as f64, self.queues.bytes(B2) as f64);
        if q == B1 {
            self.p = (self.p + (b2 / b1).max(1.0)).min(self.capacity as f64);
        } else {
            self.p = (self.p - (b1 / b2).max(1.0)).max(0.0);
        }
    }
}

impl Policy for Arc {
    fn access(&mut self, key: u64, size: u64) -> bool {
        if let Some(slot) = self.queues.find(key) {
            let q = self.queues.node(slot).queue();
            if q == T1 || q == T2 {
                self.queues.move_to_head(slot, T2);
                return true;
            }
            self.adapt(q);
            if size > self.capacity {
                self.queues.remove(slot);
                return false;
            }
            // The ghost leaves its list and comes back as T2's newest, keeping its index entry.
            self.queues.detach(slot);
            while self.resident() + size > self.capacity {
                self.replace(q == B2);
            }
            self.queues.attach_head(slot, T2, size);
            return false;
        }
        if size > self.capacity {
            return false;
        }
        while self.resident() + size > self.capacity {
            self.evict_new(size);
        }
        self.queues.push_head(T1, key, size);
        false
    }

    /// Drops `key` from T1 or T2, and forgets it in B1 or B2 too (as libCacheSim does).
    fn remove(&mut self, key: u64) -> bool {
        let Some(slot) = self.queues.find(key) else {
            return false;
        };
        let held = self.queues.node(slot).queue() <= T2;
        self.queues.remove(slot);
        held
    }

    fn contains(&self, key: u64) -> bool {
        self.queues
            .find(key)
            .is_some_and(|s| self.queues.node(s).queue() <= T2)
    }

    fn bytes(&self) -> u64 {
        self.resident()
    }

    fn len(&self) -> usize {
        self.queues.len(T1) + self.queues.len(T2)
    }
}

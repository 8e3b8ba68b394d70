//! 2Q (Johnson and Shasha, "2Q: A Low Overhead High Performance Buffer Management Replacement
//! Algorithm", VLDB 1994), the full version: a first request admits an object to A1in, a FIFO
//! of Kin = 25% of the capacity; objects leaving A1in are remembered (key and size only) in
//! A1out, a FIFO ghost of Kout = 50% of the capacity; a request that finds its key in A1out
//! admits the object to Am, an LRU of the rest. A hit in A1in changes nothing (correlated
//! references), a hit in Am moves the object to Am's head. O(1) per request.
//!
//! As libCacheSim's `TwoQ` (its defaults Ain-size-ratio=0.25, Aout-size-ratio=0.5), in bytes:
//! the queues' capacities are `floor(0.25 c)`, `floor(0.5 c)` and `c - floor(0.25 c)`; an
//! object larger than A1in is never admitted (so with pages of size 1 a cache of fewer than 4
//! frames admits nothing); room is made by evicting from A1in while it is over its share, else
//! from Am; an object promoted from A1out also evicts from Am while Am is over its share. An
//! object that does not fit in A1out is not remembered.
//!
//! Hit for hit equal to libCacheSim 0.3.5's `TwoQ` on Zipf and scan traces, with pages and with
//! sizes.

use super::Policy;
use super::list::Queues;

const IN: usize = 0;
const OUT: usize = 1;
const AM: usize = 2;

#[derive(Debug, Clone)]
pub struct TwoQ {
    queues: Queues,
    capacity: u64,
    kin: u64,
    kout: u64,
    am: u64,
}

impl TwoQ {
    pub fn new(capacity: u64) -> Self {
        let kin = (capacity as f64 * 0.25) as u64;
        TwoQ {
            queues: Queues::new(3),
            capacity,
            kin,
            kout: (capacity as f64 * 0.5) as u64,
            am: capacity - kin,
        }
    }

    /// Whether `key` is in Am.
    pub fn in_am(&self, key: u64) -> bool {
        self.queues
            .find(key)
            .is_some_and(|s| self.queues.node(s).queue() == AM)
    }

    fn resident(&self) -> u64 {
        self.queues.bytes(IN) + self.queues.bytes(AM)
    }

    /// One eviction: A1in's oldest to A1out while A1in is over Kin, else Am's least recent.
    fn evict(&mut self) {
        if self.queues.bytes(IN) > self.kin {
            let slot = self.queues.tail(IN).expect("A1in over its share");
            self.remember(slot);
        } else if let Some(slot) = self.queues.tail(AM) {
            self.queues.remove(slot);
        } else if let Some(slot) = self.queues.tail(IN) {
            self.remember(slot);
        }
    }

    /// Moves the object in `slot` (leaving A1in) to A1out, trimming A1out's oldest to fit.
    fn remember(&mut self, slot: u32) {
        let size = self.queues.node(slot).size;
        if size > self.kout {
            self.queues.remove(slot);
            return;
        }
        while self.queues.bytes(OUT) + size > self.kout {
            let t = self.queues.tail(OUT).expect("A1out holds bytes");
            self.queues.remove(t);
        }
        self.queues.move_to_head(slot, OUT);
    }
}

impl Policy for TwoQ {
    fn access(&mut self, key: u64, size: u64) -> bool {
        // A key found in A1out: its ghost, which leaves A1out (keeping its index entry when the
        // object is admitted, to come back as Am's newest).
        let mut ghost = None;
        if let Some(slot) = self.queues.find(key) {
            match self.queues.node(slot).queue() {
                IN => return true,
                AM => {
                    self.queues.move_to_head(slot, AM);
                    return true;
                }
                _ if size > self.kin => {
                    self.queues.remove(slot);
                    return false;
                }
                _ => {
                    self.queues.detach(slot);
                    ghost = Some(slot);
                }
            }
        }
        if size > self.kin {
            return false;
        }
        while self.resident() + size > self.capacity {
            self.evict();
        }
        match ghost {
            Some(slot) => {
                while self.queues.bytes(AM) + size > self.am {
                    let t = self.queues.tail(AM).expect("Am holds bytes");
                    self.queues.remove(t);
                }
                self.queues.attach_head(slot, AM, size);
            }
            None => {
                self.queues.push_head(IN, key, size);
            }
        }
        false
    }

    /// Drops `key` from A1in or Am, and forgets it in A1out too (as libCacheSim does).
    fn remove(&mut self, key: u64) -> bool {
        let Some(slot) = self.queues.find(key) else {
            return false;
        };
        let held = self.queues.node(slot).queue() != OUT;
        self.queues.remove(slot);
        held
    }

    fn contains(&self, key: u64) -> bool {
        self.queues
            .find(key)
            .is_some_and(|s| self.queues.node(s).queue() != OUT)
    }

    fn bytes(&self) -> u64 {
        self.resident()
    }

    fn len(&self) -> usize {
        self.queues.len(IN) + self.queues.len(AM)
    }
}

//! S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023): three
//! FIFO queues. A new object enters the small queue S (10% of the capacity); an object evicted
//! from S that was requested again while there moves to the main queue M (90%), otherwise only
//! its key is remembered in the ghost queue G; a request found in G admits the object straight
//! to M. M is a FIFO with reinsertion: its oldest object, if requested since it entered (or was
//! last reinserted), goes back to M's head with its frequency decreased, else is evicted. A
//! frequency of 2 bits, capped at 3, counts requests. One-hit wonders never reach M ("quick
//! demotion"). O(1) amortized per request (each reinsertion is paid for by a hit).
//!
//! As libCacheSim's `S3FIFO` (its defaults small-size-ratio=0.1, ghost-size-ratio=0.9,
//! move-to-main-threshold=2), in bytes: S holds `floor(0.1 c)` bytes, M the rest, G remembers
//! `floor(0.9 c)` bytes of keys (for pages of size 1, as many keys as M holds objects); an
//! object leaves S for M when it was requested at least **twice** while in S (libCacheSim's
//! threshold; the paper's Algorithm 1 moves objects requested once more, `freq > 0`), and
//! enters M with frequency 0. The queue evicted from is M when M is over its share or S is
//! empty, else S. Until the first eviction, a new object that finds S full enters M directly
//! (the cache warms up filling M). An object not smaller than S is never admitted (unless found
//! in G), so with pages of size 1 a cache of fewer than 20 frames admits nothing, as
//! libCacheSim's. Hit for hit equal to libCacheSim 0.3.5's on Zipf and scan traces, with pages
//! and with sizes.

use super::Policy;
use super::list::Queues;

const SMALL: usize = 0;
const MAIN: usize = 1;
const GHOST: usize = 2;

/// Requests in S before an object moves to M on leaving S (libCacheSim's default).
const MOVE_TO_MAIN: u8 = 2;
/// The frequency's cap (2 bits).
const MAX_FREQ: u8 = 3;

#[derive(Debug, Clone)]
pub struct S3Fifo {
    queues: Queues,
    capacity: u64,
    small: u64,
    main: u64,
    ghost: u64,
    /// Whether anything was evicted yet: until then, new objects that find S full go to M.
    evicted: bool,
}

impl S3Fifo {
    pub fn new(capacity: u64) -> Self {
        let small = (capacity as f64 * 0.1) as u64;
        S3Fifo {
            queues: Queues::new(3),
            capacity,
            small,
            main: capacity - small,
            ghost: (capacity as f64 * 0.9) as u64,
            evicted: false,
        }
    }

    /// Whether `key` is in the main queue M.
    pub fn in_main(&self, key: u64) -> bool {
        self.queues
            .find(key)
            .is_some_and(|s| self.queues.node(s).queue() == MAIN)
    }

    fn resident(&self) -> u64 {
        self.queues.bytes(SMALL) + self.queues.bytes(MAIN)
    }

    fn evict(&mut self) {
        self.evicted = true;
        if self.queues.bytes(MAIN) > self.main || self.queues.bytes(SMALL) == 0 {
            self.evict_main();
        } else {
            self.evict_small();
        }
    }

    /// Takes S's oldest objects until one is evicted (to G): those requested enough move to M.
    fn evict_small(&mut self) {
        while let Some(slot) = self.queues.tail(SMALL) {
            if self.queues.node(slot).count >= MOVE_TO_MAIN {
                self.queues.node_mut(slot).count = 0;
                self.queues.move_to_head(slot, MAIN);
            } else {
                self.remember(slot);
                return;
            }
        }
    }

    /// Takes M's oldest objects until one is evicted: those requested since are reinserted.
    fn evict_main(&mut self) {
        while let Some(slot) = self.queues.tail(MAIN) {
            let n = self.queues.node_mut(slot);
            if n.count > 0 {
                n.count -= 1;
                self.queues.move_to_head(slot, MAIN);
            } else {
                self.queues.remove(slot);
                return;
            }
        }
    }

    /// Moves the object in `slot` (leaving S) to G, trimming G's oldest to fit.
    fn remember(&mut self, slot: u32) {
        let size = self.queues.node(slot).size;
        if size > self.ghost {
            self.queues.remove(slot);
            return;
        }
        while self.queues.bytes(GHOST) + size > self.ghost {
            let t = self.queues.tail(GHOST).expect("G holds bytes");
            self.queues.remove(t);
        }
        self.queues.move_to_head(slot, GHOST);
    }
}

impl Policy for S3Fifo {
    fn access(&mut self, key: u64, size: u64) -> bool {
        // A key found in G: its ghost, which leaves G (keeping its index entry when the object
        // is admitted, to come back as M's newest).
        let mut ghost = None;
        if let Some(slot) = self.queues.find(key) {
            let n = self.queues.node_mut(slot);
            if n.queue() != GHOST {
                n.count = (n.count + 1).min(MAX_FREQ);
                return true;
            }
            if size > self.small {
                self.queues.remove(slot);
                return false;
            }
            self.queues.detach(slot);
            ghost = Some(slot);
        }
        if size > self.small {
            return false;
        }
        while self.resident() + size > self.capacity {
            self.evict();
        }
        let warming = !self.evicted && self.queues.bytes(SMALL) >= self.small;
        if let Some(slot) = ghost {
            self.queues.attach_head(slot, MAIN, size);
        } else if warming && size < self.small {
            self.queues.push_head(MAIN, key, size);
        } else if size < self.small {
            self.queues.push_head(SMALL, key, size);
        }
        false
    }

    /// Drops `key` from S or M, and forgets it in G too (as libCacheSim does).
    fn remove(&mut self, key: u64) -> bool {
        let Some(slot) = self.queues.find(key) else {
            return false;
        };
        let held = self.queues.node(slot).queue() != GHOST;
        self.queues.remove(slot);
        held
    }

    fn contains(&self, key: u64) -> bool {
        self.queues
            .find(key)
            .is_some_and(|s| self.queues.node(s).queue() != GHOST)
    }

    fn bytes(&self) -> u64 {
        self.resident()
    }

    fn len(&self) -> usize {
        self.queues.len(SMALL) + self.queues.len(MAIN)
    }
}

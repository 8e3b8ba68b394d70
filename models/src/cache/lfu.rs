//! LFU: evicts the least frequently requested object; among objects of equal frequency, the
//! least recently requested (LRU within a frequency). O(1) per request with frequency buckets
//! (Shah, Mitra and Matani, "An O(1) algorithm for implementing the LFU cache eviction scheme",
//! 2010): each frequency in use has one LRU queue, and the buckets are linked in frequency order,
//! so a hit moves its object to the next bucket up and an eviction takes the oldest object of the
//! lowest bucket. As libCacheSim's `LFU`: an admitted object starts at frequency 1, a hit adds 1,
//! and an evicted object's count is forgotten (no aging).
//!
//! Hit for hit equal to libCacheSim 0.3.5's `LFU` on Zipf and scan traces, with pages and with
//! sizes.

use super::Policy;
use super::list::Queues;

const NIL: usize = usize::MAX;

/// A frequency's bucket: its queue in [`Queues`] has the same number.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    freq: u64,
    lower: usize,
    higher: usize,
}

/// Least frequently used, LRU among equals.
#[derive(Debug, Clone)]
pub struct Lfu {
    queues: Queues,
    buckets: Vec<Bucket>,
    /// Buckets (and their empty queues) free for reuse.
    spare: Vec<usize>,
    /// The lowest frequency's bucket.
    lowest: usize,
    capacity: u64,
    bytes: u64,
}

impl Lfu {
    pub fn new(capacity: u64) -> Self {
        Lfu {
            queues: Queues::new(0),
            buckets: Vec::new(),
            spare: Vec::new(),
            lowest: NIL,
            capacity,
            bytes: 0,
        }
    }

    /// A bucket for `freq` linked between `lower` and `higher` (either may be NIL).
    fn new_bucket(&mut self, freq: u64, lower: usize, higher: usize) -> usize {
        let b = Bucket {
            freq,
            lower,
            higher,
        };
        let id = match self.spare.pop() {
            Some(id) => {
                self.buckets[id] = b;
                id
            }
            None => {
                self.buckets.push(b);
                self.queues.add_queue()
            }
        };
        if lower != NIL {
            self.buckets[lower].higher = id;
        } else {
            self.lowest = id;
        }
        if higher != NIL {
            self.buckets[higher].lower = id;
        }
        id
    }

    /// Unlinks bucket `id` if its queue is empty.
    fn drop_if_empty(&mut self, id: usize) {
        if self.queues.len(id) > 0 {
            return;
        }
        let Bucket { lower, higher, .. } = self.buckets[id];
        if lower != NIL {
            self.buckets[lower].higher = higher;
        } else {
            self.lowest = higher;
        }
        if higher != NIL {
            self.buckets[higher].lower = lower;
        }
        self.spare.push(id);
    }

    fn evict(&mut self) {
        let b = self.lowest;
        let slot = self.queues.tail(b).expect("the lowest bucket is not empty");
        let (_, size) = self.queues.remove(slot);
        self.bytes -= size;
        self.drop_if_empty(b);
    }

    fn hit(&mut self, slot: u32) {
        let b = self.queues.node(slot).queue();
        let Bucket { freq, higher, .. } = self.buckets[b];
        let up = if higher != NIL && self.buckets[higher].freq == freq + 1 {
            higher
        } else {
            self.new_bucket(freq + 1, b, higher)
        };
        self.queues.move_to_head(slot, up);
        self.drop_if_empty(b);
    }
}

impl Policy for Lfu {
    fn access(&mut self, key: u64, size: u64) -> bool {
        if let Some(slot) = self.queues.find(key) {
            self.hit(slot);
            return true;
        }
        if size > self.capacity {
            return false;
        }
        while self.bytes + size > self.capacity {
            self.evict();
        }
        let one = if self.lowest != NIL && self.buckets[self.lowest].freq == 1 {
            self.lowest
        } else {
            self.new_bucket(1, NIL, self.lowest)
        };
        self.queues.push_head(one, key, size);
        self.bytes += size;
        false
    }

    fn remove(&mut self, key: u64) -> bool {
        let Some(slot) = self.queues.find(key) else {
            return false;
        };
        let b = self.queues.node(slot).queue();
        let (_, size) = self.queues.remove(slot);
        self.bytes -= size;
        self.drop_if_empty(b);
        true
    }

    fn contains(&self, key: u64) -> bool {
        self.queues.find(key).is_some()
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }

    fn len(&self) -> usize {
        self.queues.total_len()
    }
}

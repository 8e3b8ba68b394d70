//! W-TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
//! Policy", ACM Transactions on Storage 2017), as Caffeine builds it: new objects enter a window
//! LRU of 1% of the capacity; an object leaving the window is a candidate for the main cache, an
//! SLRU of a probation segment (20% of the main cache) and a protected one (80%): when the main
//! cache has room it enters probation, else it is admitted only if a count-min sketch estimates
//! it was requested more often than the main cache's victim (probation's oldest, or protected's
//! when probation is empty), which is then evicted; otherwise the candidate is. A hit in
//! probation promotes to protected, whose oldest are demoted back to probation's head. Every
//! request is counted in the sketch: 4 rows of 4-bit counters (saturating at 15), each row
//! indexed by its own hash; every counter is halved once `10 n` requests were counted (Caffeine's
//! sample of ten times its maximum size), so old popularity fades. `n` is the objects the cache
//! can hold: its capacity (exact for pages of size 1) up to 2^16, or the most objects it has held
//! if more. Each row has 4 times a power of two at least `n` counters (16 n in all, as Caffeine's
//! table of n 64-bit words); when the cache comes to hold more objects than that, the sketch grows
//! and starts empty. No doorkeeper. O(1) per request (a sized candidate may evict several
//! victims).
//!
//! libCacheSim's `WTinyLFU` differs in ways no implementation outside it can match exactly: its
//! hashes, a conservative-update counting Bloom filter, counting only inserts, hits in the main
//! cache and candidates, and halving after 32 times the main cache's size. Above all, it admits
//! no object larger than its window (1% of the cache), so with pages of size 1 a cache of fewer
//! than 100 frames admits nothing there; Caffeine, and this one, pass any object up to the
//! capacity through the window. Expect miss ratios near libCacheSim's only for caches of
//! thousands of objects or more.

use super::Policy;
use super::list::Queues;

const WINDOW: usize = 0;
const PROBATION: usize = 1;
const PROTECTED: usize = 2;

/// A count-min sketch of 4-bit counters with periodic halving.
#[derive(Debug, Clone)]
struct Sketch {
    /// 4 rows of `width` counters, row after row.
    counters: Vec<u8>,
    width: usize,
    /// Requests counted since the last halving.
    counted: u64,
    period: u64,
}

const ROWS: usize = 4;
const SEEDS: [u64; ROWS] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x85EB_CA77_C2B2_AE63,
];

impl Sketch {
    fn new(objects: usize) -> Self {
        let width = 4 * objects.max(16).next_power_of_two();
        Sketch {
            counters: vec![0; ROWS * width],
            width,
            counted: 0,
            period: 10 * objects.max(1) as u64,
        }
    }

    fn slot(&self, row: usize, key: u64) -> usize {
        // SplitMix64's finalizer over the key and the row's seed.
        let mut z = key ^ SEEDS[row];
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        row * self.width + (z as usize & (self.width - 1))
    }

    fn estimate(&self, key: u64) -> u8 {
        (0..ROWS)
            .map(|r| self.counters[self.slot(r, key)])
            .min()
            .unwrap_or(0)
    }

    fn record(&mut self, key: u64) {
        for r in 0..ROWS {
            let s = self.slot(r, key);
            self.counters[s] = (self.counters[s] + 1).min(15);
        }
        self.counted += 1;
        if self.counted >= self.period {
            self.counters.iter_mut().for_each(|c| *c >>= 1);
            self.counted /= 2;
        }
    }
}

/// The most objects the sketch is first sized for: the capacity (objects of size 1 at most), but
/// no more than this.
const EXPECTED_MAX: u64 = 1 << 16;

#[derive(Debug, Clone)]
pub struct TinyLfu {
    queues: Queues,
    capacity: u64,
    window: u64,
    main: u64,
    protected: u64,
    sketch: Sketch,
    /// The most objects held so far.
    most: usize,
    /// The objects the sketch was first sized for.
    expected: usize,
}

impl TinyLfu {
    pub fn new(capacity: u64) -> Self {
        let window = (capacity as f64 * 0.01) as u64;
        let main = capacity - window;
        let expected = capacity.min(EXPECTED_MAX) as usize;
        TinyLfu {
            queues: Queues::new(3),
            capacity,
            window,
            main,
            protected: (main as f64 * 0.8) as u64,
            sketch: Sketch::new(expected),
            most: 0,
            expected,
        }
    }

    /// The sketch's estimate of `key`'s recent requests.
    pub fn frequency(&self, key: u64) -> u8 {
        self.sketch.estimate(key)
    }

    fn main_bytes(&self) -> u64 {
        self.queues.bytes(PROBATION) + self.queues.bytes(PROTECTED)
    }

    /// The main cache's next victim.
    fn victim(&self) -> Option<u32> {
        self.queues
            .tail(PROBATION)
            .or_else(|| self.queues.tail(PROTECTED))
    }

    /// Moves window objects over the window's share to the main cache or out.
    fn drain_window(&mut self) {
        while self.queues.bytes(WINDOW) > self.window {
            let cand = self.queues.tail(WINDOW).expect("the window holds bytes");
            let size = self.queues.node(cand).size;
            if self.admit(cand, size) {
                while self.main_bytes() + size > self.main {
                    let v = self.victim().expect("the main cache holds bytes");
                    self.queues.remove(v);
                }
                self.queues.move_to_head(cand, PROBATION);
            } else {
                self.queues.remove(cand);
            }
        }
    }

    /// Whether the candidate in `cand` enters the main cache.
    fn admit(&self, cand: u32, size: u64) -> bool {
        if size > self.main {
            return false;
        }
        if self.main_bytes() + size <= self.main {
            return true;
        }
        let v = self.victim().expect("the main cache holds bytes");
        let key = |s| self.queues.node(s).key;
        self.sketch.estimate(key(cand)) > self.sketch.estimate(key(v))
    }

    fn promote(&mut self, slot: u32) {
        self.queues.move_to_head(slot, PROTECTED);
        while self.queues.bytes(PROTECTED) > self.protected {
            let t = self.queues.tail(PROTECTED).expect("protected holds bytes");
            self.queues.move_to_head(t, PROBATION);
        }
    }

    /// Grows the sketch when the cache holds more objects than ever.
    fn track_size(&mut self) {
        let n = self.len();
        if n > self.most {
            self.most = n;
            if 4 * n > self.sketch.width {
                self.sketch = Sketch::new(n);
            } else if n > self.expected {
                self.sketch.period = 10 * n as u64;
            }
        }
    }
}

impl Policy for TinyLfu {
    fn access(&mut self, key: u64, size: u64) -> bool {
        self.sketch.record(key);
        if let Some(slot) = self.queues.find(key) {
            match self.queues.node(slot).queue() {
                PROBATION => self.promote(slot),
                q => self.queues.move_to_head(slot, q),
            }
            return true;
        }
        if size > self.capacity {
            return false;
        }
        self.queues.push_head(WINDOW, key, size);
        self.drain_window();
        self.track_size();
        false
    }

    fn remove(&mut self, key: u64) -> bool {
        self.queues
            .find(key)
            .map(|slot| self.queues.remove(slot))
            .is_some()
    }

    fn contains(&self, key: u64) -> bool {
        self.queues.find(key).is_some()
    }

    fn bytes(&self) -> u64 {
        self.queues.bytes(WINDOW) + self.main_bytes()
    }

    fn len(&self) -> usize {
        self.queues.total_len()
    }
}

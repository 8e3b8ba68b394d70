//! Miss-ratio curves: the miss ratio of a policy at every cache size, from one pass over a trace.
//!
//! - [`Mattson`]: the exact curve of LRU (Mattson, Gecsei, Slutz, Traiger, "Evaluation
//!   techniques for storage hierarchies", IBM Systems Journal, 1970). LRU is a stack algorithm:
//!   a cache of C bytes holds the most recently requested objects that fit, so a request hits iff
//!   its stack distance (the bytes of the distinct objects requested since this object's last
//!   request, plus its own) is at most C. Distances come from a Fenwick tree over last-request
//!   times: O(log n) per request, memory O(distinct objects).
//! - [`Shards`]: SHARDS (Waldspurger, Park, Garthwaite, Ahmad, "Efficient MRC Construction with
//!   SHARDS", FAST 2015): the same over the requests whose key hashes into a fraction R of the
//!   hash space (every request for a sampled object is kept, so its reuse is seen whole), with
//!   distances scaled by 1/R. Fixed-rate; optionally with the paper's SHARDS_adj correction.
//! - [`MiniSim`]: any policy by miniature simulation (Waldspurger, Saemundsson, Ahmad, Park,
//!   "Cache Modeling and Optimization using Miniature Simulations", ATC 2017): a cache of C × R
//!   bytes fed the same sampled requests stands for a cache of C.
//!
//! One definitional point: with objects of unequal size, LRU as [`super::Lru`] implements it
//! never admits an object larger than the cache, and leaves the cache as it was; the stack
//! model puts it on top of the stack, as if it had flushed everything. The two agree exactly
//! whenever every object fits in the smallest cache asked about.

use std::collections::HashMap;

use super::list::FixedState;
use super::{Kind, Policy};

/// A Fenwick (binary indexed) tree of byte counts at positions (request times).
#[derive(Debug, Clone, Default)]
struct Fenwick {
    tree: Vec<u64>,
}

impl Fenwick {
    fn with_len(n: usize) -> Self {
        Fenwick {
            tree: vec![0; n + 1],
        }
    }

    fn len(&self) -> usize {
        self.tree.len() - 1
    }

    /// Adds `delta` (wrapping: a subtraction is the addition of its negation) at `pos`.
    fn add(&mut self, pos: usize, delta: u64) {
        let mut i = pos + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// The sum over positions `0..=pos`.
    fn prefix(&self, pos: usize) -> u64 {
        let mut i = pos + 1;
        let mut s = 0u64;
        while i > 0 {
            s = s.wrapping_add(self.tree[i]);
            i &= i - 1;
        }
        s
    }
}

/// Counts of stack distances: hits at each distance, and cold (first) requests.
#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: HashMap<u64, u64, FixedState>,
    cold: u64,
}

impl Histogram {
    fn total(&self) -> u64 {
        self.cold + self.counts.values().sum::<u64>()
    }

    /// Requests at distance at most `limit` (the hits of a cache that size), for each limit in
    /// `limits` (any order).
    fn within(&self, limits: &[u64]) -> Vec<u64> {
        let mut d: Vec<(u64, u64)> = self.counts.iter().map(|(&k, &v)| (k, v)).collect();
        d.sort_unstable();
        // Cumulative counts by distance.
        let mut acc = 0;
        let cum: Vec<(u64, u64)> = d
            .iter()
            .map(|&(k, v)| {
                acc += v;
                (k, acc)
            })
            .collect();
        limits
            .iter()
            .map(|&c| {
                let i = cum.partition_point(|&(k, _)| k <= c);
                if i == 0 { 0 } else { cum[i - 1].1 }
            })
            .collect()
    }
}

/// Exact LRU miss-ratio curve by stack distances, fed one request at a time.
#[derive(Debug, Clone)]
pub struct Mattson {
    /// Per key: the position of its last request and its size then.
    last: HashMap<u64, (usize, u64), FixedState>,
    tree: Fenwick,
    /// The next position; positions are renumbered when the tree fills.
    clock: usize,
    /// Bytes of all distinct objects seen.
    total: u64,
    hist: Histogram,
}

impl Default for Mattson {
    fn default() -> Self {
        Self::new()
    }
}

impl Mattson {
    pub fn new() -> Self {
        Mattson {
            last: HashMap::default(),
            tree: Fenwick::with_len(1024),
            clock: 0,
            total: 0,
            hist: Histogram::default(),
        }
    }

    /// A request for `key` of `size` bytes: its stack distance in bytes (`None`: first request).
    /// An object's size is the one of its first request, as the policies keep it.
    pub fn access(&mut self, key: u64, size: u64) -> Option<u64> {
        if self.clock == self.tree.len() {
            self.compact();
        }
        let pos = self.clock;
        self.clock += 1;
        let distance = match self.last.get_mut(&key) {
            Some((p, s)) => {
                // Bytes requested since, then this object's own.
                let d = self
                    .total
                    .wrapping_sub(self.tree.prefix(*p))
                    .wrapping_add(*s);
                self.tree.add(*p, s.wrapping_neg());
                self.tree.add(pos, *s);
                *p = pos;
                Some(d)
            }
            None => {
                self.last.insert(key, (pos, size));
                self.tree.add(pos, size);
                self.total += size;
                None
            }
        };
        match distance {
            Some(d) => *self.hist.counts.entry(d).or_default() += 1,
            None => self.hist.cold += 1,
        }
        distance
    }

    /// Renumbers the live positions 0.. in order and rebuilds the tree with room to spare, so
    /// memory follows the distinct objects, not the requests.
    fn compact(&mut self) {
        let mut live: Vec<usize> = self.last.values().map(|&(p, _)| p).collect();
        live.sort_unstable();
        let rank: HashMap<usize, usize, FixedState> =
            live.iter().enumerate().map(|(i, &p)| (p, i)).collect();
        self.tree = Fenwick::with_len((2 * live.len()).max(1024));
        for (p, s) in self.last.values_mut() {
            *p = rank[p];
            self.tree.add(*p, *s);
        }
        self.clock = live.len();
    }

    /// Requests seen.
    pub fn requests(&self) -> u64 {
        self.hist.total()
    }

    /// The miss ratio of LRU at each of `sizes` (bytes), in the order given.
    pub fn curve(&self, sizes: &[u64]) -> Vec<(u64, f64)> {
        ratios(sizes, &self.hist.within(sizes), self.requests() as f64, 0.0)
    }
}

/// Miss ratios from the hits at each size among `requests`, `credit` more hits at every size.
fn ratios(sizes: &[u64], hits: &[u64], requests: f64, credit: f64) -> Vec<(u64, f64)> {
    sizes
        .iter()
        .zip(hits)
        .map(|(&c, &h)| {
            let r = if requests > 0.0 {
                1.0 - (h as f64 + credit) / requests
            } else {
                0.0
            };
            (c, r.clamp(0.0, 1.0))
        })
        .collect()
}

/// The requests to divide by and the hits to credit at every size, for `sampled` requests
/// taken out of `seen` at `rate`. Plain: the sampled requests, no credit. SHARDS_adj (section
/// 4.3 of the paper): the expected number, N × R, with the difference credited as hits, since
/// the error comes mostly from a very popular object that happens to be sampled or not, and
/// such an object hits at every size. Without it the estimate of a Zipf workload with a
/// thousand-odd sampled objects is off by the popular object's share (0.03 in this module's
/// tests); with it, well under 0.01.
fn normalise(sampled: u64, seen: u64, rate: f64, adjust: bool) -> (f64, f64) {
    if adjust {
        let expected = seen as f64 * rate;
        (expected, expected - sampled as f64)
    } else {
        (sampled as f64, 0.0)
    }
}

/// A sampling rate that is not in (0, 1].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the sampling rate must be in (0, 1], got {0}")]
pub struct RateError(pub f64);

/// SHARDS' spatial filter: a key is sampled iff `hash(key) mod P < T`, with `T / P` the rate.
#[derive(Debug, Clone, Copy)]
pub struct Sampler {
    threshold: u64,
    seed: u64,
    rate: f64,
}

/// P, the modulus of the hash space (2^24, as in the paper).
const MODULUS: u64 = 1 << 24;

impl Sampler {
    /// `seed` chooses which objects are sampled.
    pub fn new(rate: f64, seed: u64) -> Result<Sampler, RateError> {
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(RateError(rate));
        }
        let threshold = ((rate * MODULUS as f64).round() as u64).max(1);
        Ok(Sampler {
            threshold,
            seed,
            rate: threshold as f64 / MODULUS as f64,
        })
    }

    /// The rate actually used: T / P.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn takes(&self, key: u64) -> bool {
        super::workload::scatter(key ^ self.seed) % MODULUS < self.threshold
    }
}

/// Fixed-rate SHARDS over LRU.
#[derive(Debug, Clone)]
pub struct Shards {
    sampler: Sampler,
    mattson: Mattson,
    /// All requests, sampled or not.
    seen: u64,
    adjust: bool,
}

impl Shards {
    pub fn new(rate: f64, seed: u64) -> Result<Shards, RateError> {
        Ok(Shards {
            sampler: Sampler::new(rate, seed)?,
            mattson: Mattson::new(),
            seen: 0,
            adjust: false,
        })
    }

    /// With SHARDS_adj (see [`normalise`]).
    pub fn adjusted(mut self) -> Shards {
        self.adjust = true;
        self
    }

    pub fn access(&mut self, key: u64, size: u64) {
        self.seen += 1;
        if self.sampler.takes(key) {
            self.mattson.access(key, size);
        }
    }

    /// The estimated miss ratio of LRU at each of `sizes` (bytes).
    pub fn curve(&self, sizes: &[u64]) -> Vec<(u64, f64)> {
        let r = self.sampler.rate();
        let scaled: Vec<u64> = sizes.iter().map(|&c| (c as f64 * r) as u64).collect();
        let mut hits: Vec<f64> = self
            .mattson
            .hist
            .within(&scaled)
            .iter()
            .map(|&h| h as f64)
            .collect();
        let mut requests = self.mattson.requests() as f64;
        if self.adjust {
            let expected = self.seen as f64 * r;
            hits.iter_mut().for_each(|h| *h += expected - requests);
            requests = expected;
        }
        sizes
            .iter()
            .zip(hits)
            .map(|(&c, h)| {
                let m = if requests > 0.0 {
                    1.0 - h / requests
                } else {
                    0.0
                };
                (c, m.clamp(0.0, 1.0))
            })
            .collect()
    }
}

/// Miniature simulations: one scaled-down cache per size, fed the sampled requests.
pub struct MiniSim {
    sampler: Sampler,
    sizes: Vec<u64>,
    caches: Vec<Box<dyn Policy>>,
    /// Sampled requests, and all requests.
    requests: u64,
    seen: u64,
    misses: Vec<u64>,
    adjust: bool,
}

impl MiniSim {
    /// Caches of `kind` standing for `sizes` (bytes) at sampling `rate`: each has
    /// `size × rate` bytes (at least 1).
    pub fn new(kind: Kind, sizes: &[u64], rate: f64, seed: u64) -> Result<MiniSim, RateError> {
        let sampler = Sampler::new(rate, seed)?;
        let r = sampler.rate();
        Ok(MiniSim {
            sampler,
            sizes: sizes.to_vec(),
            caches: sizes
                .iter()
                .map(|&c| kind.build(((c as f64 * r).round() as u64).max(1)))
                .collect(),
            requests: 0,
            seen: 0,
            misses: vec![0; sizes.len()],
            adjust: false,
        })
    }

    /// With SHARDS_adj's correction (see [`normalise`]).
    pub fn adjusted(mut self) -> MiniSim {
        self.adjust = true;
        self
    }

    pub fn access(&mut self, key: u64, size: u64) {
        self.seen += 1;
        if !self.sampler.takes(key) {
            return;
        }
        self.requests += 1;
        for (c, m) in self.caches.iter_mut().zip(&mut self.misses) {
            if !c.access(key, size) {
                *m += 1;
            }
        }
    }

    /// The estimated miss ratio at each size.
    pub fn curve(&self) -> Vec<(u64, f64)> {
        let hits: Vec<u64> = self.misses.iter().map(|m| self.requests - m).collect();
        let (requests, credit) =
            normalise(self.requests, self.seen, self.sampler.rate(), self.adjust);
        ratios(&self.sizes, &hits, requests, credit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::workload::{Generator, Spec};
    use crate::cache::{Lru, Request, replay};

    fn trace(workload: &str, sizes: &str, n: usize, seed: u64) -> Vec<Request> {
        let mut spec = Spec::new(workload.parse().unwrap());
        spec.sizes = sizes.parse().unwrap();
        Generator::new(spec, seed).unwrap().take(n).collect()
    }

    fn lru_miss_ratio(reqs: &[Request], capacity: u64) -> f64 {
        let t: Vec<(u64, u64)> = reqs.iter().map(|r| (r.key, r.size)).collect();
        let hits = replay(&mut Lru::new(capacity), &t)
            .iter()
            .filter(|&&h| h)
            .count();
        1.0 - hits as f64 / t.len() as f64
    }

    /// Mattson's curve is LRU's miss ratio at every size, exactly: unit sizes (pages) and
    /// sizes up to the smallest cache, across compactions of the tree.
    #[test]
    fn mattson_equals_replaying_lru_at_every_size() {
        for (seed, workload, sizes, caps) in [
            (
                1,
                "zipf(2000, 0.8)",
                "fixed(1)",
                vec![1, 2, 10, 100, 500, 1999, 2000, 5000],
            ),
            (
                2,
                "shifting(300, 1.0, 7000)",
                "fixed(1)",
                vec![1, 50, 299, 300, 900],
            ),
            (
                3,
                "mix(1500, 0.9, 200, 3000)",
                "uniform(1, 50)",
                vec![50, 51, 1000, 9999, 40000],
            ),
            (
                4,
                "zipf(3000, 0.6)",
                "loguniform(1, 1000)",
                vec![1000, 4096, 65536, 1 << 20],
            ),
        ] {
            let reqs = trace(workload, sizes, 30_000, seed);
            let mut m = Mattson::new();
            reqs.iter().for_each(|r| {
                m.access(r.key, r.size);
            });
            for (c, ratio) in m.curve(&caps) {
                assert_eq!(ratio, lru_miss_ratio(&reqs, c), "{workload} {sizes} at {c}");
            }
        }
    }

    /// Stack distances by hand: a b c a (distance 3), b (3), b (1), with sizes 1.
    #[test]
    fn mattson_distances_by_hand() {
        let mut m = Mattson::new();
        let d: Vec<Option<u64>> = [1, 2, 3, 1, 2, 2].iter().map(|&k| m.access(k, 1)).collect();
        assert_eq!(d, [None, None, None, Some(3), Some(3), Some(1)]);
        let mut m = Mattson::new();
        let d: Vec<Option<u64>> = [(1, 10), (2, 5), (1, 10)]
            .iter()
            .map(|&(k, s)| m.access(k, s))
            .collect();
        assert_eq!(d, [None, None, Some(15)]);
    }

    fn mae(a: &[(u64, f64)], b: &[(u64, f64)]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x.1 - y.1).abs()).sum::<f64>() / a.len() as f64
    }

    /// Cache sizes from 1% to 100% of the objects.
    fn sizes(objects: u64) -> Vec<u64> {
        (1..=50).map(|i| objects * i / 50).collect()
    }

    /// SHARDS_adj's mean absolute error against the exact curve: under 0.02 at R = 0.1 for
    /// every seed, falling as R rises (averaged over seeds, so one lucky sample cannot pass it),
    /// and zero at R = 1. (The paper's 0.0026 at R = 0.001 is over traces of millions of
    /// objects; these have 20,000, so about 2,000 sampled at R = 0.1.)
    #[test]
    fn shards_error_is_small_and_falls_with_the_rate() {
        let objects = 20_000;
        let caps = sizes(objects);
        let mut mean = [0.0f64; 3];
        let seeds = 4;
        for seed in 1..=seeds {
            let reqs = trace(&format!("zipf({objects}, 0.9)"), "fixed(1)", 300_000, seed);
            let mut exact = Mattson::new();
            let mut shards: Vec<Shards> = [0.01, 0.1, 1.0]
                .iter()
                .map(|&r| Shards::new(r, seed).unwrap().adjusted())
                .collect();
            for r in &reqs {
                exact.access(r.key, r.size);
                shards.iter_mut().for_each(|s| s.access(r.key, r.size));
            }
            let exact = exact.curve(&caps);
            for (i, s) in shards.iter().enumerate() {
                let e = mae(&s.curve(&caps), &exact);
                mean[i] += e / seeds as f64;
                if i == 1 {
                    assert!(e < 0.02, "seed {seed}: MAE {e} at R = 0.1");
                }
            }
        }
        assert!(mean[0] > mean[1], "mean MAE {mean:?}");
        assert_eq!(mean[2], 0.0, "R = 1 samples everything");
    }

    /// SHARDS_adj removes the bias from the sampled share of popular objects: averaged over
    /// seeds its error is well under plain fixed-rate SHARDS'.
    #[test]
    fn shards_adj_corrects_plain_shards_bias() {
        let objects = 20_000;
        let caps = sizes(objects);
        let (mut plain, mut adj) = (0.0, 0.0);
        for seed in 1..=6 {
            let reqs = trace(&format!("zipf({objects}, 1.0)"), "fixed(1)", 200_000, seed);
            let mut exact = Mattson::new();
            let mut s = Shards::new(0.1, seed).unwrap();
            for r in &reqs {
                exact.access(r.key, r.size);
                s.access(r.key, r.size);
            }
            let exact = exact.curve(&caps);
            plain += mae(&s.curve(&caps), &exact);
            adj += mae(&s.clone().adjusted().curve(&caps), &exact);
        }
        assert!(adj < plain / 2.0, "adjusted {adj} vs plain {plain}");
    }

    /// Miniature simulations (with SHARDS_adj's correction): at R = 1 each is the full cache
    /// (exact); at R = 0.1 the error against full replays is small for every policy.
    #[test]
    fn minisim_tracks_full_replays_for_every_policy() {
        let objects = 20_000;
        let caps: Vec<u64> = (1..=10).map(|i| objects * i / 10).collect();
        let reqs = trace(&format!("zipf({objects}, 0.9)"), "fixed(1)", 300_000, 9);
        let t: Vec<(u64, u64)> = reqs.iter().map(|r| (r.key, r.size)).collect();
        for &name in Kind::NAMES {
            let kind = Kind::from_name(name).unwrap();
            let exact: Vec<(u64, f64)> = caps
                .iter()
                .map(|&c| {
                    let hits = replay(kind.build(c).as_mut(), &t)
                        .iter()
                        .filter(|&&h| h)
                        .count();
                    (c, 1.0 - hits as f64 / t.len() as f64)
                })
                .collect();
            for (rate, bound) in [(1.0, 0.0), (0.1, 0.02)] {
                let mut mini = MiniSim::new(kind, &caps, rate, 5).unwrap().adjusted();
                reqs.iter().for_each(|r| mini.access(r.key, r.size));
                let e = mae(&mini.curve(), &exact);
                assert!(e <= bound, "{name} at R = {rate}: MAE {e}");
            }
        }
    }

    #[test]
    fn rates_outside_zero_one_are_errors() {
        for r in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(Shards::new(r, 1).is_err());
            assert!(MiniSim::new(Kind::Lru, &[10], r, 1).is_err());
        }
    }
}

//! Seeded random streams: one ChaCha8 stream per component, derived from (scenario seed, name).
//!
//! Every stream shares the ChaCha key made from the scenario seed and takes its 64-bit ChaCha stream
//! number from XXH3-64 of the component's name. Streams are therefore independent of each other and
//! of the order in which components are created: adding a component never changes the draws of
//! another, which keeps a scenario's other figures stable as it grows.
//!
//! Derivation, exactly (so another implementation can reproduce it):
//! `key = rand_core::SeedableRng::seed_from_u64(seed)` (PCG32 expansion, documented as portable by
//! rand_core), `stream = XXH3_64(seed = 0, utf8(name))`, generator ChaCha with 8 rounds.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// A component's random stream. Only this type hands out randomness in a simulation.
#[derive(Clone, Debug)]
pub struct RngStream {
    inner: ChaCha8Rng,
}

impl RngStream {
    /// The stream for `name` under `seed`.
    pub fn derive(seed: u64, name: &str) -> Self {
        let mut inner = ChaCha8Rng::seed_from_u64(seed);
        inner.set_stream(stream_number(name));
        RngStream { inner }
    }

    /// The next 64 uniformly random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform float in `[0, 1)`, with 53 random bits (every value is a multiple of 2^-53).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform float in `(0, 1]`: safe to take the logarithm of.
    #[inline]
    pub fn next_f64_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` without modulo bias (Lemire's method with rejection).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "RngStream::below(0)");
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

/// The ChaCha stream number of a component name.
pub fn stream_number(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

/// Handle to a stream registered in [`RngStreams`]; cheap to copy and to index with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(u32);

/// The streams of one run, registered by name.
#[derive(Debug)]
pub struct RngStreams {
    seed: u64,
    streams: Vec<RngStream>,
    by_name: BTreeMap<String, StreamId>,
    by_number: BTreeMap<u64, String>,
}

/// Two different names hashed to the same ChaCha stream: vanishingly rare, but it would silently
/// correlate two components, so it is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("random streams \"{0}\" and \"{1}\" collide; rename one of the components")]
pub struct StreamCollision(pub String, pub String);

impl RngStreams {
    pub fn new(seed: u64) -> Self {
        RngStreams {
            seed,
            streams: Vec::new(),
            by_name: BTreeMap::new(),
            by_number: BTreeMap::new(),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream named `name`, registering it on first use. The same name gives the same handle.
    pub fn register(&mut self, name: &str) -> Result<StreamId, StreamCollision> {
        if let Some(&id) = self.by_name.get(name) {
            return Ok(id);
        }
        let number = stream_number(name);
        if let Some(other) = self.by_number.get(&number) {
            return Err(StreamCollision(other.clone(), name.to_string()));
        }
        let id = StreamId(u32::try_from(self.streams.len()).expect("fewer than 2^32 streams"));
        self.streams.push(RngStream::derive(self.seed, name));
        self.by_name.insert(name.to_string(), id);
        self.by_number.insert(number, name.to_string());
        Ok(id)
    }

    #[inline]
    pub fn get(&mut self, id: StreamId) -> &mut RngStream {
        &mut self.streams[id.0 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_name_same_draws() {
        let mut a = RngStream::derive(7, "server");
        let mut b = RngStream::derive(7, "server");
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn other_name_or_seed_other_draws() {
        let first = |seed, name| RngStream::derive(seed, name).next_u64();
        assert_ne!(first(7, "server"), first(7, "client"));
        assert_ne!(first(7, "server"), first(8, "server"));
    }

    #[test]
    fn adding_a_component_leaves_others_unchanged() {
        let mut alone = RngStreams::new(42);
        let a = alone.register("a").unwrap();
        let a_alone: Vec<u64> = (0..10).map(|_| alone.get(a).next_u64()).collect();

        let mut crowded = RngStreams::new(42);
        let z = crowded.register("z-added-first").unwrap();
        crowded.get(z).next_u64();
        let a2 = crowded.register("a").unwrap();
        let a_crowded: Vec<u64> = (0..10).map(|_| crowded.get(a2).next_u64()).collect();
        assert_eq!(a_alone, a_crowded);
    }

    #[test]
    fn register_is_idempotent() {
        let mut s = RngStreams::new(1);
        assert_eq!(s.register("x").unwrap(), s.register("x").unwrap());
        assert_ne!(s.register("x").unwrap(), s.register("y").unwrap());
    }

    #[test]
    fn floats_stay_in_range_and_below_is_unbiased() {
        let mut r = RngStream::derive(3, "t");
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            let u = r.next_f64();
            assert!((0.0..1.0).contains(&u));
            let v = r.next_f64_open0();
            assert!(v > 0.0 && v <= 1.0);
            counts[r.below(3) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }
}

//! Cache eviction policies as sans-IO structures: a request for an object (a key and its size in
//! bytes) is a hit or a miss, and a miss admits the object, evicting others until it fits. Each
//! policy costs O(1) per request (Belady's OPT, offline, O(log n)). The same policies serve the
//! operating-systems lesson of page replacement: pages of size 1 through a number of frames.
//!
//! - [`Kind::Fifo`]: evicts the oldest admitted; a hit changes nothing.
//! - [`Kind::Lru`]: evicts the least recently requested.
//! - [`Kind::Clock`]: FIFO with a second chance (the CLOCK algorithm as a queue): a hit sets the
//!   object's bit; at eviction the oldest object with its bit set has it cleared and goes to the
//!   head, the first without is evicted. New objects start with the bit clear, as libCacheSim's.
//! - [`Kind::Sieve`]: Zhang et al., "SIEVE is Simpler than LRU" (NSDI 2024): a FIFO queue with a
//!   visited bit and a hand that moves from the tail towards the head, clearing visited bits and
//!   evicting the first unvisited object; the hand stays where it stopped.
//! - [`opt`]: Belady's OPT, evicting the object whose next request is furthest away: the fewest
//!   misses possible for objects of equal size, the floor every online policy is measured from.
//!
//! An object larger than the whole cache is never admitted (a miss each time).

pub mod list;
pub mod mrc;
pub mod opt;
mod policies;
pub mod trace;
pub mod workload;

pub use policies::{Clock, Fifo, Lru, Sieve};

/// A cache eviction policy.
pub trait Policy {
    /// A request for `key` of `size` bytes: whether it hit. A miss admits the object.
    fn access(&mut self, key: u64, size: u64) -> bool;
    /// Drops `key` if held (an invalidation, or an expired TTL): whether it was held. The policy
    /// forgets it as if evicted.
    fn remove(&mut self, key: u64) -> bool;
    /// Bytes held.
    fn bytes(&self) -> u64;
    /// Objects held.
    fn len(&self) -> usize;
    /// Whether nothing is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The online policies by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Fifo,
    Lru,
    Clock,
    Sieve,
}

impl Kind {
    pub const NAMES: &'static [&'static str] = &["fifo", "lru", "clock", "sieve"];

    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "fifo" => Kind::Fifo,
            "lru" => Kind::Lru,
            "clock" => Kind::Clock,
            "sieve" => Kind::Sieve,
            _ => return None,
        })
    }

    /// A cache of `capacity` bytes under this policy.
    pub fn build(self, capacity: u64) -> Box<dyn Policy> {
        match self {
            Kind::Fifo => Box::new(Fifo::new(capacity)),
            Kind::Lru => Box::new(Lru::new(capacity)),
            Kind::Clock => Box::new(Clock::new(capacity)),
            Kind::Sieve => Box::new(Sieve::new(capacity)),
        }
    }
}

/// One request of a cache trace or workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
    /// When it is made, in nanoseconds from the trace's start.
    pub time: u64,
    pub key: u64,
    /// The object's size in bytes (1 for a page of memory).
    pub size: u64,
}

/// Hits of `policy` over `trace` (keys and sizes), in order.
pub fn replay(policy: &mut dyn Policy, trace: &[(u64, u64)]) -> Vec<bool> {
    trace.iter().map(|&(k, s)| policy.access(k, s)).collect()
}

#[cfg(test)]
mod tests;

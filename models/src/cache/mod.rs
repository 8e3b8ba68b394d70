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
//! - [`Kind::Lfu`]: least frequently used, LRU among equal frequencies, in O(1) frequency
//!   buckets (Shah, Mitra and Matani 2010); as libCacheSim's `LFU`.
//! - [`Kind::TwoQ`]: Johnson and Shasha, "2Q" (VLDB 1994), the full version: A1in FIFO (25%),
//!   A1out ghost (50%), Am LRU; as libCacheSim's `TwoQ`.
//! - [`Kind::Arc`]: Megiddo and Modha, "ARC" (FAST 2003): T1, T2, ghosts B1, B2 and the adaptive
//!   target `p`, in bytes as libCacheSim's `ARC`.
//! - [`Kind::Lirs`]: Jiang and Zhang, "LIRS" (SIGMETRICS 2002): LIR and HIR objects, stack S with
//!   pruning and queue Q; HIR share 1% (at least one page).
//! - [`Kind::TinyLfu`]: Einziger, Friedman and Manes, "TinyLFU" (ACM ToS 2017), W-TinyLFU as
//!   Caffeine: 1% window LRU, SLRU main cache (20% probation, 80% protected), admission by a
//!   count-min sketch of 4-bit counters with periodic halving.
//! - [`Kind::S3Fifo`]: Yang et al., "FIFO queues are all you need for cache eviction" (SOSP
//!   2023): small FIFO (10%), main FIFO with reinsertion (90%), ghost FIFO; as libCacheSim's
//!   `S3FIFO` (move to main after 2 requests in the small queue).
//! - [`opt`]: Belady's OPT, evicting the object whose next request is furthest away: the fewest
//!   misses possible for objects of equal size, the floor every online policy is measured from.
//! - [`WorkingSet`]: Denning's working-set policy (CACM 1968) for the page-replacement lesson:
//!   the resident set is the pages of the last τ references; no fixed capacity, so not a `Kind`.
//! - [`options`]: TTLs and admission policies ([`Admission`]) around any policy, in [`Cache`].
//!
//! Each policy's doc says where it follows libCacheSim's choices where the paper leaves them
//! open, and where it differs. An object larger than the whole cache is never admitted (a miss
//! each time); some policies admit only smaller objects, as libCacheSim's do (2Q: A1in's share;
//! S3-FIFO: the small queue's). Multi-queue policies keep their queues in one
//! [`list::Queues`]: one hash look-up per request whichever queue holds the key.

mod arc;
mod lfu;
mod lirs;
pub mod list;
pub mod mrc;
pub mod opt;
pub mod options;
mod policies;
mod s3fifo;
pub mod schema;
mod tinylfu;
pub mod trace;
mod twoq;
mod working_set;
pub mod workload;

pub use arc::Arc;
pub use lfu::Lfu;
pub use lirs::Lirs;
pub use options::{Admission, Cache, Outcome};
pub use policies::{Clock, Fifo, Lru, Sieve};
pub use s3fifo::S3Fifo;
pub use tinylfu::TinyLfu;
pub use twoq::TwoQ;
pub use working_set::WorkingSet;

/// A cache eviction policy.
pub trait Policy {
    /// A request for `key` of `size` bytes: whether it hit. A miss admits the object.
    fn access(&mut self, key: u64, size: u64) -> bool;
    /// Drops `key` if held (an invalidation, or an expired TTL): whether it was held. The policy
    /// forgets it as if evicted.
    fn remove(&mut self, key: u64) -> bool;
    /// Whether `key` is held (ghost entries are not).
    fn contains(&self, key: u64) -> bool;
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
    Lfu,
    TwoQ,
    Arc,
    Lirs,
    TinyLfu,
    S3Fifo,
}

impl Kind {
    pub const NAMES: &'static [&'static str] = &[
        "fifo", "lru", "clock", "sieve", "lfu", "twoq", "arc", "lirs", "tinylfu", "s3fifo",
    ];

    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "fifo" => Kind::Fifo,
            "lru" => Kind::Lru,
            "clock" => Kind::Clock,
            "sieve" => Kind::Sieve,
            "lfu" => Kind::Lfu,
            "twoq" => Kind::TwoQ,
            "arc" => Kind::Arc,
            "lirs" => Kind::Lirs,
            "tinylfu" => Kind::TinyLfu,
            "s3fifo" => Kind::S3Fifo,
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
            Kind::Lfu => Box::new(Lfu::new(capacity)),
            Kind::TwoQ => Box::new(TwoQ::new(capacity)),
            Kind::Arc => Box::new(Arc::new(capacity)),
            Kind::Lirs => Box::new(Lirs::new(capacity)),
            Kind::TinyLfu => Box::new(TinyLfu::new(capacity)),
            Kind::S3Fifo => Box::new(S3Fifo::new(capacity)),
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
#[cfg(test)]
mod tests_policies;

//! The network model's parts, sans-IO: partitions with Jepsen's shapes ([`partition`]), links
//! with latency, bandwidth, bounded queues, loss, duplication and reordering, and per-host clocks
//! with offset and drift ([`link`]), and which hosts are wired to which ([`topology`]). The network and Raft models build on them.

pub mod link;
pub mod partition;
pub mod topology;

pub use link::{Arrivals, Clock, Dropped, Fate, LinkConfig, Links};
pub use partition::{Host, Partition, Shape};
pub use topology::Topology;

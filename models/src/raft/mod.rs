//! Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", and
//! Ongaro's thesis) with a replicated key-value store, as sans-IO state machines.
//!
//! - [`types`]: entries, messages, storage writes, timers, configuration, planted bugs;
//! - [`log`]: a node's in-memory log;
//! - [`node`]: one Raft node: elections (with PreVote and CheckQuorum as options), replication
//!   with fast backtracking, commitment, snapshots;
//! - [`kv`]: the replicated key-value state machine with client sessions;
//! - [`wire`]: the binary codec of messages and storage writes (native nodes, log records);
//! - [`wal_log`]: a server's log as records of a write-ahead log on a modelled disk;
//! - `record`: what a recorded run's timeline and series hold (for `sim report`).

pub mod client;
pub mod cluster;
pub mod kv;
pub mod latency;
pub mod log;
pub mod node;
mod record;
pub mod safety;
pub mod schema;
pub mod server;
pub mod storage;
pub mod types;
pub mod wal_log;
pub mod wire;
pub mod workload;

pub use types::*;

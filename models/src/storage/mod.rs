//! The content side of storage: what a disk holds, and the software stack above it, as sans-IO,
//! timing-free state machines. Where `disk` says *when* a request completes, this module says
//! *what* it reads and writes, what survives a crash, and whether recovery gets back every
//! acknowledged write.
//!
//! The layers, bottom up:
//! - [`block`]: a block device's sectors, its volatile write cache, and its faults (latent sector
//!   errors, silent corruption, misdirected writes, torn and lost writes at a crash, a full or
//!   failed disk, failing writes).
//! - [`cache`] and [`fs`]: a small file system over the device with a write-back page cache,
//!   Linux's fsync error semantics and POSIX's minimal crash guarantees for directories.
//! - [`wal`]: a write-ahead log of opaque, checksummed records.
//! - [`kv`]: an LSM key-value engine (memtable, WAL, sorted runs, compaction) with planted bugs.
//! - [`check`]: the crash-recovery checker and a seeded crash sweep.
//!
//! Every operation appends the block I/O it issues to a caller's `Vec<BlockIo>`, so the world
//! can time the requests on a host's disk model. Nothing here knows about time; every random
//! choice is drawn from a [`simcore::RngStream`] the caller hands in.

pub mod block;
pub mod cache;
pub mod check;
pub mod fs;
pub mod kv;
pub mod wal;

/// Bytes per sector (the unit the device writes atomically).
pub const SECTOR_BYTES: usize = crate::disk::hdd::SECTOR_BYTES as usize;

/// What a block request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IoKind {
    Read,
    Write,
    /// Makes the device's volatile write cache durable (a FLUSH CACHE command); no sectors.
    Flush,
}

/// One request the storage stack issued to its device, in issue order: the world times it on
/// the host's disk. Requests that fail are reported too (the disk still saw them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockIo {
    pub kind: IoKind,
    pub lba: u64,
    /// 512-byte sectors; 0 for a flush.
    pub sectors: u32,
}

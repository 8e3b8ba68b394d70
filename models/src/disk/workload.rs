//! A block I/O workload: what an `io` load asks of a disk, as fio would describe it (block size,
//! random or sequential, the share of reads, how many requests are outstanding at once, how many
//! in all, over which span of the device). The same description drives the simulated disk and
//! `native run` against a real block device, and both draw the same sequence of requests from
//! the same seed ([`IoWorkload::ops`]), so a comparison sets like against like.

use simcore::RngStream;

use super::hdd::SECTOR_BYTES;

/// Reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IoKind {
    Read,
    Write,
}

impl IoKind {
    pub const ALL: [IoKind; 2] = [IoKind::Read, IoKind::Write];

    /// `read` or `write`: the operation class's name in metrics and tables.
    pub fn name(self) -> &'static str {
        match self {
            IoKind::Read => "read",
            IoKind::Write => "write",
        }
    }
}

/// Where successive requests fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Uniformly at random over the span, aligned to the block size.
    Random,
    /// One block after another from the span's start, wrapping at its end.
    Sequential,
}

impl Pattern {
    pub const NAMES: &'static [&'static str] = &["random", "sequential"];

    pub fn from_name(name: &str) -> Option<Pattern> {
        match name {
            "random" => Some(Pattern::Random),
            "sequential" => Some(Pattern::Sequential),
            _ => None,
        }
    }
}

/// One request: a kind, the first sector and the number of sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoOp {
    pub kind: IoKind,
    pub lba: u64,
    pub sectors: u64,
}

impl IoOp {
    /// The request's byte offset on the device.
    pub fn offset(&self) -> u64 {
        self.lba * SECTOR_BYTES
    }

    /// The request's length in bytes.
    pub fn bytes(&self) -> u64 {
        self.sectors * SECTOR_BYTES
    }
}

/// A workload as an `io` block describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct IoWorkload {
    /// Bytes per request: a positive multiple of the sector size.
    pub block: u64,
    pub pattern: Pattern,
    /// The share of requests that read, in [0, 1].
    pub read_fraction: f64,
    /// Requests kept outstanding at once (a closed loop: each completion issues the next).
    pub queue_depth: u32,
    /// Requests in all.
    pub requests: u64,
    /// Bytes of the device the requests fall in, from `start`: a positive multiple of `block`.
    pub span: u64,
    /// The span's first byte: a multiple of the sector size.
    pub start: u64,
}

/// What a workload cannot be.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    #[error("the block size {0} bytes is not a positive multiple of {SECTOR_BYTES}")]
    Block(u64),
    #[error("the span {span} bytes holds no whole block of {block} bytes")]
    Span { span: u64, block: u64 },
    #[error("the start {0} bytes is not a multiple of {SECTOR_BYTES}")]
    Start(u64),
    #[error("the read share {0} is not within 0 to 1")]
    Reads(f64),
    #[error("the queue depth must be at least 1")]
    Depth,
}

impl IoWorkload {
    /// Checks the fields against each other.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.block == 0 || !self.block.is_multiple_of(SECTOR_BYTES) {
            return Err(WorkloadError::Block(self.block));
        }
        if self.span < self.block {
            return Err(WorkloadError::Span {
                span: self.span,
                block: self.block,
            });
        }
        if !self.start.is_multiple_of(SECTOR_BYTES) {
            return Err(WorkloadError::Start(self.start));
        }
        if !(0.0..=1.0).contains(&self.read_fraction) {
            return Err(WorkloadError::Reads(self.read_fraction));
        }
        if self.queue_depth == 0 {
            return Err(WorkloadError::Depth);
        }
        Ok(())
    }

    /// Blocks in the span.
    pub fn blocks(&self) -> u64 {
        self.span / self.block
    }

    /// The bytes of device the workload touches, from 0: what a device must at least hold.
    pub fn extent(&self) -> u64 {
        self.start + self.blocks() * self.block
    }

    /// The requests in the order they are issued, drawn from `rng`: for each, first whether it
    /// reads (one uniform draw, skipped when every request reads or every one writes), then,
    /// for a random pattern, its block (one draw). Both sides of a comparison call this with
    /// the same stream, so they issue the same requests.
    pub fn ops<'a>(&'a self, rng: &'a mut RngStream) -> impl Iterator<Item = IoOp> + 'a {
        (0..self.requests).map(move |i| self.op(i, rng))
    }

    /// Request number `i` (from 0), drawn from `rng` as [`IoWorkload::ops`] draws it when the
    /// requests before it have been drawn from the same stream: for services that issue one
    /// at a time.
    pub fn op(&self, i: u64, rng: &mut RngStream) -> IoOp {
        let sectors = self.block / SECTOR_BYTES;
        let kind = if self.read_fraction >= 1.0 {
            IoKind::Read
        } else if self.read_fraction <= 0.0 {
            IoKind::Write
        } else if rng.next_f64() < self.read_fraction {
            IoKind::Read
        } else {
            IoKind::Write
        };
        let blocks = self.blocks().max(1);
        let block = match self.pattern {
            Pattern::Random => rng.below(blocks),
            Pattern::Sequential => i % blocks,
        };
        IoOp {
            kind,
            lba: self.start / SECTOR_BYTES + block * sectors,
            sectors,
        }
    }
}

/// The random stream an `io` load named `name` draws its requests from: the simulator's and
/// `native run`'s, so both issue the same requests for a seed.
pub fn stream_name(name: &str) -> String {
    format!("{name}.requests")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(pattern: Pattern, reads: f64) -> IoWorkload {
        IoWorkload {
            block: 4096,
            pattern,
            read_fraction: reads,
            queue_depth: 1,
            requests: 1000,
            span: 4096 * 100,
            start: 8192,
        }
    }

    #[test]
    fn sequential_requests_follow_each_other_and_wrap() {
        let wl = w(Pattern::Sequential, 1.0);
        let mut rng = RngStream::derive(1, "io");
        let ops: Vec<IoOp> = wl.ops(&mut rng).take(102).collect();
        assert_eq!(ops[0].lba, 16);
        assert_eq!(ops[1].lba, 24);
        assert_eq!(ops[99].lba, 16 + 99 * 8);
        assert_eq!(ops[100].lba, 16, "wraps at the span's end");
        assert!(ops.iter().all(|o| o.kind == IoKind::Read && o.sectors == 8));
    }

    #[test]
    fn random_requests_stay_in_the_span_and_mix_as_asked() {
        let wl = w(Pattern::Random, 0.7);
        let mut rng = RngStream::derive(7, "io");
        let ops: Vec<IoOp> = wl.ops(&mut rng).collect();
        assert!(
            ops.iter()
                .all(|o| o.offset() >= 8192 && o.offset() + o.bytes() <= wl.extent())
        );
        let reads = ops.iter().filter(|o| o.kind == IoKind::Read).count();
        assert!((640..760).contains(&reads), "{reads} reads of 1000 at 70%");
        let again: Vec<IoOp> = wl.ops(&mut RngStream::derive(7, "io")).collect();
        assert_eq!(ops, again, "the same seed issues the same requests");
    }

    #[test]
    fn bad_workloads_are_refused() {
        let mut wl = w(Pattern::Random, 0.5);
        wl.block = 1000;
        assert_eq!(wl.validate(), Err(WorkloadError::Block(1000)));
        let mut wl = w(Pattern::Random, 1.5);
        assert_eq!(wl.validate(), Err(WorkloadError::Reads(1.5)));
        wl.read_fraction = 0.5;
        wl.queue_depth = 0;
        assert_eq!(wl.validate(), Err(WorkloadError::Depth));
        wl.queue_depth = 1;
        wl.span = 100;
        assert!(matches!(wl.validate(), Err(WorkloadError::Span { .. })));
    }
}

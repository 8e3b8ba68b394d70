//! The trace: every processed event folds into a 64-bit running hash over a stable encoding.
//!
//! # Encoding (format version 1)
//! Each processed event, and each note a model adds, becomes one *record*:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | record kind: `0` = event, `1` = note |
//! | 8 | virtual time in nanoseconds, unsigned little-endian |
//! | 4 | payload length in bytes, unsigned little-endian |
//! | n | payload, written by the model's [`TraceEvent::encode`] with [`Encoder`] |
//!
//! The payload is built only from fixed-width little-endian integers, IEEE-754 bit patterns and
//! length-prefixed UTF-8 (see [`Encoder`]): no pointer, no `Debug` text, no hash-map order, nothing
//! that depends on the Rust version or the platform. The **trace hash** is XXH3-64 (seed 0) of the
//! concatenation of all records in the order they were processed; a hash of the whole stream rather
//! than of each event, so that a reordering of two events changes it too.

use std::fmt;
use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use crate::time::{SimDuration, SimTime};
use crate::tracefile::{TraceFileError, TraceWriter};

/// An event that can be folded into the trace. Implemented by every model's event type.
///
/// `encode` must write a kind tag first (so two kinds with equal fields differ) and then every
/// field that affects what happens next. `Debug` gives the human label stored in trace files.
pub trait TraceEvent: fmt::Debug {
    fn encode(&self, enc: &mut Encoder<'_>);
}

/// Writes the fixed-width, little-endian payload of a record.
pub struct Encoder<'a> {
    buf: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    #[inline]
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    #[inline]
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    #[inline]
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    #[inline]
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    #[inline]
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// The IEEE-754 bit pattern, so `-0.0` and `0.0` differ and NaNs keep their payload.
    #[inline]
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.u64(v.to_bits())
    }
    #[inline]
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(v as u8)
    }
    /// A u32 length, then the UTF-8 bytes.
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.buf
            .extend_from_slice(&v.as_bytes()[..v.len().min(u32::MAX as usize)]);
        self
    }
    #[inline]
    pub fn time(&mut self, v: SimTime) -> &mut Self {
        self.u64(v.as_nanos())
    }
    #[inline]
    pub fn duration(&mut self, v: SimDuration) -> &mut Self {
        self.u64(v.as_nanos())
    }
}

/// What a record holds: a processed event or a model's note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    Event = 0,
    Note = 1,
}

impl RecordKind {
    pub fn from_u8(v: u8) -> Option<RecordKind> {
        match v {
            0 => Some(RecordKind::Event),
            1 => Some(RecordKind::Note),
            _ => None,
        }
    }
}

const RECORD_HEADER: usize = 1 + 8 + 4;

/// The running trace hash of a run, and optionally the file that receives every record.
pub struct Trace {
    hasher: Xxh3,
    buf: Vec<u8>,
    records: u64,
    writer: Option<TraceWriter>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    pub fn new() -> Self {
        Trace {
            hasher: Xxh3::new(),
            buf: Vec::with_capacity(256),
            records: 0,
            writer: None,
        }
    }

    /// Also write every record, with its label, to a trace file at `path` (see [`crate::tracefile`]).
    pub fn with_file(path: &Path, scenario: &str, seed: u64) -> Result<Self, TraceFileError> {
        let mut t = Trace::new();
        t.writer = Some(TraceWriter::create(path, scenario, seed)?);
        Ok(t)
    }

    /// Folds one record into the hash (and the file, if any).
    #[inline]
    pub fn record(&mut self, kind: RecordKind, time: SimTime, item: &dyn TraceEvent) {
        self.record_with(kind, time, |enc| item.encode(enc), || format!("{item:?}"));
    }

    /// Folds a record whose payload `write` produces; `label` is only called when writing a file.
    #[inline]
    pub fn record_with(
        &mut self,
        kind: RecordKind,
        time: SimTime,
        write: impl FnOnce(&mut Encoder<'_>),
        label: impl FnOnce() -> String,
    ) {
        self.buf.clear();
        self.buf.push(kind as u8);
        self.buf.extend_from_slice(&time.as_nanos().to_le_bytes());
        self.buf.extend_from_slice(&[0; 4]);
        write(&mut Encoder { buf: &mut self.buf });
        let len = (self.buf.len() - RECORD_HEADER) as u32;
        self.buf[9..13].copy_from_slice(&len.to_le_bytes());
        self.hasher.update(&self.buf);
        self.records += 1;
        if let Some(w) = &mut self.writer {
            w.record(kind, time, &self.buf[RECORD_HEADER..], label());
        }
    }

    /// The hash of every record so far.
    pub fn hash(&self) -> u64 {
        self.hasher.digest()
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Finishes the trace file, if any, atomically (temp file, then rename).
    pub fn finish(self) -> Result<u64, TraceFileError> {
        let hash = self.hash();
        if let Some(w) = self.writer {
            w.finish(self.records, hash)?;
        }
        Ok(hash)
    }
}

/// Formats a trace hash the way every output shows it: 16 lowercase hex digits.
pub fn format_hash(hash: u64) -> String {
    format!("{hash:016x}")
}

/// Recomputes the hash of records (kind, time, payload), as a reader of a trace file does.
pub struct HashCheck {
    hasher: Xxh3,
}

impl Default for HashCheck {
    fn default() -> Self {
        HashCheck {
            hasher: Xxh3::new(),
        }
    }
}

impl HashCheck {
    pub fn add(&mut self, kind: u8, time_ns: u64, payload: &[u8]) {
        self.hasher.update(&[kind]);
        self.hasher.update(&time_ns.to_le_bytes());
        self.hasher.update(&(payload.len() as u32).to_le_bytes());
        self.hasher.update(payload);
    }
    pub fn hash(&self) -> u64 {
        self.hasher.digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Ping(u32);
    impl TraceEvent for Ping {
        fn encode(&self, enc: &mut Encoder<'_>) {
            enc.u8(7).u32(self.0);
        }
    }

    fn hash_of(events: &[(u64, u32)]) -> u64 {
        let mut t = Trace::new();
        for &(time, v) in events {
            t.record(RecordKind::Event, SimTime::from_nanos(time), &Ping(v));
        }
        t.hash()
    }

    #[test]
    fn hash_depends_on_content_time_and_order() {
        let base = hash_of(&[(1, 1), (2, 2)]);
        assert_eq!(base, hash_of(&[(1, 1), (2, 2)]));
        assert_ne!(base, hash_of(&[(1, 1), (2, 3)]));
        assert_ne!(base, hash_of(&[(1, 1), (3, 2)]));
        assert_ne!(base, hash_of(&[(2, 2), (1, 1)]));
        assert_ne!(base, hash_of(&[(1, 1)]));
    }

    #[test]
    fn encoding_is_pinned() {
        // The documented record layout, byte for byte; a change here is a format change.
        let mut t = Trace::new();
        t.record(
            RecordKind::Event,
            SimTime::from_nanos(0x0102),
            &Ping(0xAABBCCDD),
        );
        let mut check = HashCheck::default();
        check.add(0, 0x0102, &[7, 0xDD, 0xCC, 0xBB, 0xAA]);
        assert_eq!(t.hash(), check.hash());
        let bytes = [
            0u8, 2, 1, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 7, 0xDD, 0xCC, 0xBB, 0xAA,
        ];
        assert_eq!(t.hash(), xxhash_rust::xxh3::xxh3_64(&bytes));
        assert_eq!(format_hash(0xab), "00000000000000ab");
    }
}

//! The trace: every processed event folds into a 64-bit running hash over a stable encoding.
//!
//! # Encoding (trace format version 2)
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
//! that depends on the Rust version or the platform.
//!
//! # Hash
//! The **trace hash** is a chain of XXH3-64 hashes, one per record, each seeded with the one before:
//!
//! ```text
//! h0 = 0
//! h(i+1) = XXH3-64(record i, seed = h(i))
//! trace hash = h(n) after the last record
//! ```
//!
//! Each step depends on every record before it, so changing, dropping, adding or reordering any
//! record changes the result. Hashing each short record in one shot is about five times cheaper than
//! feeding a streaming hasher (format version 1 hashed the concatenation with streaming XXH3), and
//! the event loop pays it on every event.

use std::fmt;
use std::path::Path;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::time::{SimDuration, SimTime};
use crate::tracefile::{TraceFileError, TraceWriter};

/// An event that can be folded into the trace. Implemented by every model's event type.
///
/// `encode` must write a kind tag first (so two kinds with equal fields differ) and then every
/// field that affects what happens next. `Debug` gives the human label stored in trace files.
pub trait TraceEvent: fmt::Debug {
    fn encode(&self, enc: &mut Encoder<'_>);
}

/// Bytes of a record kept in a fixed array; longer records continue in a growable buffer.
const INLINE: usize = 128;

/// Writes one record: the header, then the fixed-width, little-endian payload.
///
/// The bytes go to a fixed array owned by the [`Trace`] while they fit (every event of the shipped
/// models does). With the model's `encode` inlined into the event loop, every write then lands at
/// an offset the compiler knows, with no capacity check and no allocation; a longer record moves to
/// a `Vec` that is kept between records.
pub struct Encoder<'a> {
    inline: &'a mut [u8; INLINE],
    len: usize,
    spill: &'a mut Vec<u8>,
    spilled: bool,
}

impl<'a> Encoder<'a> {
    /// An encoder whose first bytes are the record header, with the length still zero.
    #[inline(always)]
    fn new(
        kind: RecordKind,
        time: SimTime,
        inline: &'a mut [u8; INLINE],
        spill: &'a mut Vec<u8>,
    ) -> Self {
        inline[0] = kind as u8;
        inline[1..9].copy_from_slice(&time.as_nanos().to_le_bytes());
        Encoder {
            inline,
            len: RECORD_HEADER,
            spill,
            spilled: false,
        }
    }

    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if !self.spilled && end <= INLINE {
            self.inline[self.len..end].copy_from_slice(bytes);
            self.len = end;
        } else {
            self.put_spilled(bytes);
        }
    }

    #[cold]
    fn put_spilled(&mut self, bytes: &[u8]) {
        if !self.spilled {
            self.spill.clear();
            self.spill.extend_from_slice(&self.inline[..self.len]);
            self.spilled = true;
        }
        self.spill.extend_from_slice(bytes);
    }

    /// The finished record, with its payload length filled in.
    #[inline(always)]
    fn finish(&mut self) -> &[u8] {
        let bytes: &mut [u8] = if self.spilled {
            self.spill.as_mut_slice()
        } else {
            &mut self.inline[..self.len]
        };
        let payload = u32::try_from(bytes.len() - RECORD_HEADER).unwrap_or(u32::MAX);
        bytes[9..RECORD_HEADER].copy_from_slice(&payload.to_le_bytes());
        bytes
    }

    #[inline(always)]
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.put(&[v]);
        self
    }
    #[inline(always)]
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_le_bytes());
        self
    }
    #[inline(always)]
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_le_bytes());
        self
    }
    #[inline(always)]
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_le_bytes());
        self
    }
    #[inline(always)]
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.put(&v.to_le_bytes());
        self
    }
    /// The IEEE-754 bit pattern, so `-0.0` and `0.0` differ and NaNs keep their payload.
    #[inline(always)]
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.u64(v.to_bits())
    }
    #[inline(always)]
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(v as u8)
    }
    /// A u32 length, then the UTF-8 bytes (at most `u32::MAX` of them).
    pub fn str(&mut self, v: &str) -> &mut Self {
        let bytes = &v.as_bytes()[..v.len().min(u32::MAX as usize)];
        self.u32(bytes.len() as u32);
        self.put(bytes);
        self
    }
    #[inline(always)]
    pub fn time(&mut self, v: SimTime) -> &mut Self {
        self.u64(v.as_nanos())
    }
    #[inline(always)]
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
    hash: u64,
    /// The record being written (see [`Encoder`]).
    inline: [u8; INLINE],
    /// Reused for records longer than `inline`.
    spill: Vec<u8>,
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
            hash: 0,
            inline: [0; INLINE],
            spill: Vec::new(),
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
    #[inline(always)]
    pub fn record<T: TraceEvent + ?Sized>(&mut self, kind: RecordKind, time: SimTime, item: &T) {
        self.record_with(kind, time, |enc| item.encode(enc), || format!("{item:?}"));
    }

    /// Folds a record whose payload `write` produces; `label` is only called when writing a file.
    #[inline(always)]
    pub fn record_with(
        &mut self,
        kind: RecordKind,
        time: SimTime,
        write: impl FnOnce(&mut Encoder<'_>),
        label: impl FnOnce() -> String,
    ) {
        let mut enc = Encoder::new(kind, time, &mut self.inline, &mut self.spill);
        write(&mut enc);
        let bytes = enc.finish();
        self.hash = xxh3_64_with_seed(bytes, self.hash);
        self.records += 1;
        if let Some(w) = &mut self.writer {
            w.record(kind, time, &bytes[RECORD_HEADER..], label());
        }
    }

    /// The hash of every record so far.
    pub fn hash(&self) -> u64 {
        self.hash
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
#[derive(Default)]
pub struct HashCheck {
    hash: u64,
    buf: Vec<u8>,
}

impl HashCheck {
    pub fn add(&mut self, kind: u8, time_ns: u64, payload: &[u8]) {
        self.buf.clear();
        self.buf.push(kind);
        self.buf.extend_from_slice(&time_ns.to_le_bytes());
        self.buf.extend_from_slice(
            &u32::try_from(payload.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        self.buf.extend_from_slice(payload);
        self.hash = xxh3_64_with_seed(&self.buf, self.hash);
    }
    pub fn hash(&self) -> u64 {
        self.hash
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

    #[derive(Debug)]
    struct Text(String);
    impl TraceEvent for Text {
        fn encode(&self, enc: &mut Encoder<'_>) {
            enc.u8(9).str(&self.0).u64(42);
        }
    }

    /// A record longer than the stack array moves to the heap buffer and hashes the same as the
    /// bytes a reader rebuilds; a short record after it is back on the stack.
    #[test]
    fn long_records_hash_like_short_ones() {
        for n in [0, 100, 110, 111, 112, 500, 10_000] {
            let text = "x".repeat(n);
            let mut t = Trace::new();
            t.record(
                RecordKind::Note,
                SimTime::from_nanos(5),
                &Text(text.clone()),
            );
            t.record(RecordKind::Event, SimTime::from_nanos(6), &Ping(3));
            let mut payload = vec![9u8];
            payload.extend_from_slice(&(n as u32).to_le_bytes());
            payload.extend_from_slice(text.as_bytes());
            payload.extend_from_slice(&42u64.to_le_bytes());
            let mut check = HashCheck::default();
            check.add(1, 5, &payload);
            check.add(0, 6, &[7, 3, 0, 0, 0]);
            assert_eq!(t.hash(), check.hash(), "string of {n} bytes");
        }
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
        assert_eq!(t.hash(), xxh3_64_with_seed(&bytes, 0));
        // A second record is hashed with the first one's hash as its seed.
        t.record(RecordKind::Note, SimTime::from_nanos(3), &Ping(1));
        let second = [1u8, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 7, 1, 0, 0, 0];
        assert_eq!(
            t.hash(),
            xxh3_64_with_seed(&second, xxh3_64_with_seed(&bytes, 0))
        );
        // A published XXH3 value, so the hash is the standard XXH3 and not a look-alike:
        // XXH3_64bits("", 0, seed 0) = 0x2D06800538D394C2 (xxHash's test vectors).
        assert_eq!(xxh3_64_with_seed(&[], 0), 0x2D06_8005_38D3_94C2);
        assert_eq!(format_hash(0xab), "00000000000000ab");
    }
}

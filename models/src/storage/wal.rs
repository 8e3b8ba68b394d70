//! A write-ahead log of opaque byte records in one file of the [`Fs`].
//!
//! **Frames.** Each record is framed as `len: u32 LE` (the payload's length plus one, so an
//! all-zero header reads as "end of log"), `check: u64 LE` (XXH3-64 of the length field and
//! the payload), then the payload. A torn frame (some of its sectors old, some new) or a
//! corrupted one fails the check with overwhelming probability (2^-64 to pass by chance).
//!
//! **Preallocation.** [`Wal::create`] fills the file with zeros up to its capacity before the
//! first record, as PostgreSQL does with its WAL segments. The file's size then never changes,
//! so recovery cannot rely on it to know where the log ends and the checksum is what finds the
//! end: replay takes every intact frame from the start and stops at the first bad or empty one.
//! (A log that grew by appending would have its durable size protect it from torn tails; a
//! preallocated one is the harder, more common case.)
//!
//! **Durability** is the caller's to ask for: [`Wal::append`] writes into the page cache,
//! [`Wal::sync`] fsyncs; a record is durable once a sync after it returns `Ok`. Making a new log
//! file's name durable (an fsync of its directory) is also the caller's job.
//!
//! **Reopening.** [`Wal::replay`] only reads. [`Wal::reopen`] also scrubs the dead tail (zeros
//! from the first bad frame to the end, fsynced) so that new appends cannot be followed by a
//! stale frame from before the crash, which a later replay would otherwise take as newer.
//!
//! With `checksums: false` (a planted bug), frames carry no check and replay takes any frame
//! whose length fits, torn or not.

use xxhash_rust::xxh3::Xxh3;

use super::BlockIo;
use super::fs::{Fs, FsError};

/// Bytes of frame header before the payload.
pub const FRAME_HEADER: usize = 12;

/// Why a log operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalError {
    #[error("the log is full: a {need}-byte frame does not fit in the {left} bytes left")]
    Full { need: u64, left: u64 },
    #[error("a record of {0} bytes is larger than a frame holds")]
    TooLarge(usize),
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// How a log is written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// Bytes preallocated for the log.
    pub capacity: u64,
    /// Frames are checked (off only as a planted bug).
    pub checksums: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            capacity: 64 * 1024,
            checksums: true,
        }
    }
}

/// What a frame at the front of a buffer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An intact record, and the frame's length in bytes.
    Record(&'a [u8], usize),
    /// An all-zero header: nothing was ever written here.
    End,
    /// Torn, corrupted, or running past the buffer.
    Bad,
}

/// Appends `payload` framed to `out`.
pub fn encode_frame(payload: &[u8], checksums: bool, out: &mut Vec<u8>) -> Result<(), WalError> {
    let len = u32::try_from(payload.len())
        .ok()
        .and_then(|n| n.checked_add(1))
        .ok_or(WalError::TooLarge(payload.len()))?;
    let check = if checksums { checksum(len, payload) } else { 0 };
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&check.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Reads the frame at the front of `buf`.
pub fn decode_frame(buf: &[u8], checksums: bool) -> Frame<'_> {
    let Some(header) = buf.get(..FRAME_HEADER) else {
        return Frame::End;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let mut check = [0; 8];
    check.copy_from_slice(&header[4..12]);
    let check = u64::from_le_bytes(check);
    if len == 0 && check == 0 {
        return Frame::End;
    }
    let Some(n) = (len as usize).checked_sub(1) else {
        return Frame::Bad;
    };
    let Some(payload) = buf.get(FRAME_HEADER..FRAME_HEADER + n) else {
        return Frame::Bad;
    };
    if checksums && checksum(len, payload) != check {
        return Frame::Bad;
    }
    Frame::Record(payload, FRAME_HEADER + n)
}

/// Every intact frame from the start of `buf`, and where the first non-intact one begins.
pub fn decode_all(buf: &[u8], checksums: bool) -> (Vec<Vec<u8>>, u64) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Frame::Record(payload, n) = decode_frame(&buf[at..], checksums) {
        records.push(payload.to_vec());
        at += n;
    }
    (records, at as u64)
}

fn checksum(len: u32, payload: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&len.to_le_bytes());
    h.update(payload);
    h.digest()
}

/// An open log: where the next frame goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wal {
    path: String,
    tail: u64,
    capacity: u64,
    checksums: bool,
}

impl Wal {
    /// Creates the file and fills it with zeros up to the capacity (in the page cache: sync
    /// it, and fsync its directory, before relying on it).
    pub fn create(
        fs: &mut Fs,
        path: &str,
        opts: WalOptions,
        io: &mut Vec<BlockIo>,
    ) -> Result<Wal, WalError> {
        fs.create(path)?;
        let zeros = vec![0; usize::try_from(opts.capacity).unwrap_or(usize::MAX)];
        fs.write(path, 0, &zeros, io)?;
        Ok(Wal {
            path: path.to_string(),
            tail: 0,
            capacity: opts.capacity,
            checksums: opts.checksums,
        })
    }

    /// Reads the log at `path`: every intact record from the start, up to the first bad one.
    pub fn replay(
        fs: &mut Fs,
        path: &str,
        checksums: bool,
        io: &mut Vec<BlockIo>,
    ) -> Result<(Vec<Vec<u8>>, u64), WalError> {
        let size = fs.size(path)?;
        let bytes = fs.read(path, 0, usize::try_from(size).unwrap_or(usize::MAX), io)?;
        Ok(decode_all(&bytes, checksums))
    }

    /// Replays the log and opens it for appending after the last intact record, first
    /// scrubbing everything after it (zeros, fsynced).
    pub fn reopen(
        fs: &mut Fs,
        path: &str,
        opts: WalOptions,
        io: &mut Vec<BlockIo>,
    ) -> Result<(Wal, Vec<Vec<u8>>), WalError> {
        let (records, tail) = Wal::replay(fs, path, opts.checksums, io)?;
        let capacity = fs.size(path)?;
        let dead = usize::try_from(capacity - tail).unwrap_or(usize::MAX);
        fs.write(path, tail, &vec![0; dead], io)?;
        fs.fsync(path, io)?;
        let wal = Wal {
            path: path.to_string(),
            tail,
            capacity,
            checksums: opts.checksums,
        };
        Ok((wal, records))
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Renames the log's file within its directory, replacing any file of that name (atomic,
    /// and durable with an fsync of the directory): how a compacted log written beside the old
    /// one takes its place.
    pub fn rename(&mut self, fs: &mut Fs, to: &str) -> Result<(), WalError> {
        fs.rename(&self.path, to)?;
        self.path = to.to_string();
        Ok(())
    }

    /// Bytes used by frames.
    pub fn tail(&self) -> u64 {
        self.tail
    }

    /// Whether a record of `len` bytes still fits.
    pub fn fits(&self, len: usize) -> bool {
        self.tail + (FRAME_HEADER + len) as u64 <= self.capacity
    }

    /// Appends a record into the page cache; returns its frame's offset.
    pub fn append(
        &mut self,
        fs: &mut Fs,
        record: &[u8],
        io: &mut Vec<BlockIo>,
    ) -> Result<u64, WalError> {
        let mut frame = Vec::with_capacity(FRAME_HEADER + record.len());
        encode_frame(record, self.checksums, &mut frame)?;
        let need = frame.len() as u64;
        if self.tail + need > self.capacity {
            return Err(WalError::Full {
                need,
                left: self.capacity - self.tail,
            });
        }
        fs.write(&self.path, self.tail, &frame, io)?;
        let at = self.tail;
        self.tail += need;
        Ok(at)
    }

    /// Fsyncs the log: every record appended so far is durable when this returns `Ok`.
    pub fn sync(&mut self, fs: &mut Fs, io: &mut Vec<BlockIo>) -> Result<(), WalError> {
        Ok(fs.fsync(&self.path, io)?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use simcore::RngStream;

    use super::super::block::BlockDevice;
    use super::super::fs::FsConfig;
    use super::*;

    const OPTS: WalOptions = WalOptions {
        capacity: 16 * 1024,
        checksums: true,
    };

    fn fs(seed: u64) -> Fs {
        let dev = BlockDevice::new(2048, RngStream::derive(seed, "wal"));
        Fs::format(dev, FsConfig::default())
    }

    /// A fresh log, durable and named.
    fn wal(fs: &mut Fs, opts: WalOptions) -> Wal {
        let mut io = Vec::new();
        let mut w = Wal::create(fs, "log", opts, &mut io).unwrap();
        w.sync(fs, &mut io).unwrap();
        fs.fsync_dir("", &mut io).unwrap();
        w
    }

    fn crash_and_replay(fs: &mut Fs, checksums: bool) -> Vec<Vec<u8>> {
        let mut io = Vec::new();
        fs.crash();
        fs.recover(&mut io).unwrap();
        Wal::replay(fs, "log", checksums, &mut io).unwrap().0
    }

    #[test]
    fn frames_round_trip_and_zeros_end_the_log() {
        let mut buf = Vec::new();
        encode_frame(b"", true, &mut buf).unwrap();
        encode_frame(b"abc", true, &mut buf).unwrap();
        buf.extend_from_slice(&[0; 40]);
        let (records, tail) = decode_all(&buf, true);
        assert_eq!(records, vec![b"".to_vec(), b"abc".to_vec()]);
        assert_eq!(tail, 2 * FRAME_HEADER as u64 + 3);
        buf[FRAME_HEADER + FRAME_HEADER + 1] ^= 4;
        assert_eq!(
            decode_all(&buf, true).0.len(),
            1,
            "a flipped bit ends the log"
        );
        assert_eq!(decode_all(&buf, false).0.len(), 2, "unless nobody checks");
    }

    #[test]
    fn synced_records_survive_a_crash_and_unsynced_ones_do_not() {
        let mut f = fs(1);
        let mut w = wal(&mut f, OPTS);
        let mut io = Vec::new();
        w.append(&mut f, b"one", &mut io).unwrap();
        w.append(&mut f, b"two", &mut io).unwrap();
        w.sync(&mut f, &mut io).unwrap();
        w.append(&mut f, b"three", &mut io).unwrap();
        assert_eq!(
            crash_and_replay(&mut f, true),
            vec![b"one".to_vec(), b"two".to_vec()]
        );
    }

    /// A two-sector record torn at a power cut during its sync: with checksums, replay yields
    /// the records before it and the torn one only when it persisted whole; without, some
    /// crash replays a record that was never written.
    #[test]
    fn a_torn_record_is_dropped_only_with_checksums() {
        let first = vec![1u8; 400];
        let second = vec![2u8; 700];
        let mut garbled = 0;
        for checksums in [true, false] {
            let mut outcomes = BTreeSet::new();
            for seed in 0..64 {
                let mut f = fs(seed);
                f.device_mut().faults_mut().torn = true;
                let mut w = wal(&mut f, WalOptions { checksums, ..OPTS });
                let mut io = Vec::new();
                w.append(&mut f, &first, &mut io).unwrap();
                w.sync(&mut f, &mut io).unwrap();
                w.append(&mut f, &second, &mut io).unwrap();
                // Power fails during the sync's write of the page (sectors 0 to 7).
                f.device_mut().cut_power_after(0);
                assert!(w.sync(&mut f, &mut io).is_err());
                let got = crash_and_replay(&mut f, checksums);
                assert_eq!(got[0], first, "seed {seed}: the synced record is intact");
                match got.get(1) {
                    None => {}
                    Some(r) if *r == second => {}
                    Some(_) => {
                        assert!(!checksums, "seed {seed}: a torn record replayed");
                        garbled += 1;
                    }
                }
                outcomes.insert(got.len());
            }
            assert_eq!(outcomes, BTreeSet::from([1, 2]), "checksums {checksums}");
        }
        assert!(garbled > 0, "without checksums a torn record is replayed");
    }

    /// A write that lands with one bit flipped: replay keeps exactly the records before the
    /// frame holding the flipped bit.
    #[test]
    fn replay_stops_at_the_first_corrupted_record() {
        let records: Vec<Vec<u8>> = (1..=3).map(|i| vec![i; 1300]).collect();
        let mut counts = BTreeSet::new();
        for seed in 0..32 {
            let mut f = fs(seed);
            let mut w = wal(&mut f, OPTS);
            let mut io = Vec::new();
            let mut expected = Vec::new();
            for r in &records {
                w.append(&mut f, r, &mut io).unwrap();
                encode_frame(r, true, &mut expected).unwrap();
            }
            f.device_mut().faults_mut().corrupt_rate = 1.0;
            w.sync(&mut f, &mut io).unwrap();
            f.device_mut().faults_mut().corrupt_rate = 0.0;
            let got = crash_and_replay(&mut f, true);
            let on_disk = f.read("log", 0, expected.len(), &mut io).unwrap();
            let flipped = on_disk.iter().zip(&expected).position(|(a, b)| a != b);
            let intact = flipped.map_or(3, |at| at / (FRAME_HEADER + 1300));
            assert_eq!(got, records[..intact], "seed {seed}");
            counts.insert(intact);
        }
        assert!(
            counts.len() > 1,
            "the flip hit different records: {counts:?}"
        );
    }

    #[test]
    fn a_full_log_refuses_the_record() {
        let mut f = fs(1);
        let mut w = wal(
            &mut f,
            WalOptions {
                capacity: 64,
                ..OPTS
            },
        );
        let mut io = Vec::new();
        w.append(&mut f, &[0; 40], &mut io).unwrap();
        assert!(w.fits(0) && !w.fits(13));
        assert_eq!(
            w.append(&mut f, &[0; 13], &mut io),
            Err(WalError::Full { need: 25, left: 12 })
        );
    }

    /// A bad frame with an intact one after it: reopening scrubs the tail, so a new record of
    /// the bad one's length is not followed by the stale frame at the next replay.
    #[test]
    fn reopen_scrubs_stale_frames_after_the_tail() {
        let mut f = fs(1);
        let mut w = wal(&mut f, OPTS);
        let mut io = Vec::new();
        for r in [b"aaaa", b"bbbb", b"cccc"] {
            w.append(&mut f, r, &mut io).unwrap();
        }
        w.sync(&mut f, &mut io).unwrap();
        // Damage the second frame's payload on the device.
        let page = f.read("log", 0, 4096, &mut io).unwrap();
        let mut damaged = page.clone();
        damaged[FRAME_HEADER + 4 + FRAME_HEADER] ^= 1;
        f.write("log", 0, &damaged, &mut io).unwrap();
        f.fsync("log", &mut io).unwrap();
        assert_eq!(crash_and_replay(&mut f, true), vec![b"aaaa".to_vec()]);
        let (mut w, records) = Wal::reopen(&mut f, "log", OPTS, &mut io).unwrap();
        assert_eq!(records, vec![b"aaaa".to_vec()]);
        w.append(&mut f, b"dddd", &mut io).unwrap();
        w.sync(&mut f, &mut io).unwrap();
        assert_eq!(
            crash_and_replay(&mut f, true),
            vec![b"aaaa".to_vec(), b"dddd".to_vec()],
            "cccc is gone"
        );
    }
}

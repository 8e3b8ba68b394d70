//! The durable storage of one native node: an append-only log file of the node's
//! [`Write`]s, with the semantics of the simulator's `SimStorage` (writes reach the OS's cache
//! in order; they survive a crash only once an fsync after them has completed).
//!
//! # The file
//!
//! An 8-byte header ([`MAGIC`]: `SIMRLOG` and the file-format version), then one record per
//! write:
//!
//! ```text
//! len: u32 LE | len_check: u32 LE | checksum: u64 LE | payload: len bytes
//! ```
//!
//! where the payload is [`wire::encode_write`]'s encoding (itself versioned), `checksum` is
//! XXH3-64 of the payload and `len_check` the low 32 bits of XXH3-64 of `len`'s four bytes. The
//! length has its own check so that a damaged length in the middle of the file is reported as
//! damage, rather than read as a record running past the end of the file, which would look like
//! a torn tail and silently drop every synced record after it.
//!
//! # Recovery
//!
//! [`DiskStorage::open`] replays every record in order onto a [`DurableImage`], the image
//! `SimStorage` keeps of what is durable, so that a node recovers from the file exactly what the
//! simulator would give it from the same synced writes. A crash can only damage the tail
//! (everything after the last completed fsync), so damage there is cut off and the file truncated
//! to the last complete record, for later appends to follow valid data. The tail is: a header cut
//! short, a record cut short, or a record whose check fails with nothing but zeros after it (a file
//! the kernel had extended but not yet filled when the power went). Damage anywhere else is an
//! error naming the file and the record's offset: a node must not start from a log that silently
//! lost synced entries, since it may have promised them to its peers. So is a checksummed record
//! that does not decode, or that the image refuses as a write no node makes ([`ImageError`]).
//!
//! Writes not yet synced may or may not be found after a crash; after a clean exit, or a
//! killed process, they are (the OS has them). Both are what Raft expects: what is durable
//! survives, the rest may. One crash state is refused although it lost only unsynced writes:
//! after a power loss the kernel may have written a later page of the unsynced tail but not an
//! earlier one, so a damaged record is followed by data. Nothing in the file says whether that
//! record had been synced, and guessing "no" could silently drop a synced write, so it is
//! reported as damage for a person to decide.
//!
//! The whole file is read into memory to recover it; [`DiskStorage::compact`] keeps it near the
//! size of the live state.
//!
//! # Compaction
//!
//! The file only grows, while a snapshot makes the entries it covers dead weight.
//! [`DiskStorage::compact`] rewrites the file as the three records that rebuild the current
//! image (hard state, snapshot, entries after it), atomically: a temporary file beside it,
//! fsynced, renamed over it, and the directory fsynced, so a crash at any point leaves either
//! the old file or the new one, complete.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use models::raft::storage::{DurableImage, ImageError};
use models::raft::types::{Restored, Write};
use xxhash_rust::xxh3::xxh3_64;

use crate::wire;

/// The first bytes of every log file: a name and the file-format version (the last byte).
pub const MAGIC: [u8; 8] = *b"SIMRLOG\x01";
/// Bytes before a record's payload: length, length check, checksum.
const RECORD_HEADER: usize = 16;

/// Why the log could not be opened, written or synced. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// The file does not start with [`MAGIC`]: not a log, or another format version.
    #[error("{}: not a Raft log of format version {} (it starts {found:02x?})", path.display(), MAGIC[7])]
    Header { path: PathBuf, found: Vec<u8> },
    /// A damaged record before the tail: synced data is lost, so the node must not start.
    #[error("{}: corrupt record at byte {offset}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A write no node makes (see [`ImageError`]), refused before it reaches the file.
    #[error("{}: refused a write: {source}", path.display())]
    Refused {
        path: PathBuf,
        #[source]
        source: ImageError,
    },
    /// A write whose encoding exceeds the 4 GiB a record's length can say.
    #[error("{}: a write of {bytes} bytes does not fit one record", path.display())]
    TooLarge { path: PathBuf, bytes: usize },
    /// An earlier write or sync failed. What reached the disk is unknown then (and a failed
    /// fsync may have dropped dirty pages for good), so the log refuses everything after it
    /// rather than report later syncs as durable; reopening recovers what is there.
    #[error("{}: an earlier write or sync failed; reopen the log to recover", path.display())]
    Failed { path: PathBuf },
}

fn len_check(len: u32) -> u32 {
    // The low half of the hash; truncation intended.
    xxh3_64(&len.to_le_bytes()) as u32
}

/// Appends `w` as one record to `out`.
fn put_record(w: &Write, out: &mut Vec<u8>) -> Result<(), usize> {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER]);
    wire::encode_write(w, out);
    let payload = out.len() - start - RECORD_HEADER;
    let Ok(len) = u32::try_from(payload) else {
        out.truncate(start);
        return Err(payload);
    };
    let sum = xxh3_64(&out[start + RECORD_HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&len_check(len).to_le_bytes());
    out[start + 8..start + 16].copy_from_slice(&sum.to_le_bytes());
    Ok(())
}

/// What a scan of a file's records found.
#[derive(Debug)]
struct Scan {
    image: DurableImage,
    /// Where the last complete record ends: the file is cut here when longer.
    valid_end: u64,
}

/// Replays the records of `bytes` (a whole file, header included and already checked). The
/// error is the offset of a damaged record before the tail, and what is wrong with it.
fn scan(bytes: &[u8]) -> Result<Scan, (u64, String)> {
    let mut image = DurableImage::new();
    let mut off = MAGIC.len();
    let zeros = |b: &[u8]| b.iter().all(|&x| x == 0);
    while off < bytes.len() {
        let rest = &bytes[off..];
        let Some((header, after)) = rest.split_first_chunk::<RECORD_HEADER>() else {
            break; // a header cut short: the tail
        };
        let word = |i: usize| [header[i], header[i + 1], header[i + 2], header[i + 3]];
        let len = u32::from_le_bytes(word(0));
        if len_check(len) != u32::from_le_bytes(word(4)) {
            if zeros(rest) {
                break; // space the kernel allocated but never filled: the tail
            }
            return Err((off as u64, "its length fails its check".to_string()));
        }
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&header[8..]);
        let Some(payload) = after.get(..len as usize) else {
            break; // a record cut short: the tail
        };
        if xxh3_64(payload) != u64::from_le_bytes(sum) {
            if zeros(&after[payload.len()..]) {
                break; // the last record, half written: the tail
            }
            return Err((off as u64, "its checksum does not match".to_string()));
        }
        // Checksummed yet undecodable is not a torn write: a bug or another format.
        let w = wire::decode_write(payload).map_err(|e| (off as u64, e.to_string()))?;
        // So is a write no node makes (a term going back, a hole in the log): recovering past
        // it would hand the node a state it never had.
        image
            .apply(&w)
            .map_err(|e| (off as u64, format!("a write no node makes: {e}")))?;
        off += RECORD_HEADER + payload.len();
    }
    Ok(Scan {
        image,
        valid_end: off as u64,
    })
}

/// Makes the directory entry of `path` durable (a new or renamed file survives a crash only
/// once its directory is synced).
fn sync_dir(path: &Path) -> Result<(), DiskError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| DiskError::Io {
            path: dir.to_path_buf(),
            what: "syncing the directory",
            source,
        })
}

/// The durable storage of one native node: its log file.
#[derive(Debug)]
pub struct DiskStorage {
    path: PathBuf,
    file: BufWriter<File>,
    /// Everything written so far, synced or not (what [`DiskStorage::compact`] writes).
    image: DurableImage,
    /// The file's length, counting what is still buffered.
    len: u64,
    /// Bytes cut off the tail when the file was opened.
    cut: u64,
    /// A write or sync failed: refuse everything after it.
    failed: bool,
    /// Reused for each record, so a write does not allocate once warm.
    record: Vec<u8>,
}

impl DiskStorage {
    /// Opens (creating) the node's log file at `path` and recovers what it holds: the
    /// Restored state a restarting node starts from (term, vote, snapshot, entries after it),
    /// replaying every complete record in order onto a [`DurableImage`]. A torn or corrupt tail (a
    /// crash mid-write) is cut off at the last complete, checksummed record — and truncated on disk
    /// so later appends follow valid data; corruption before the tail is an error naming the file
    /// and offset.
    ///
    /// A new file gets its header and is synced with its directory before this returns, so a
    /// node never acknowledges writes to a file a crash could make disappear.
    pub fn open(path: &Path) -> Result<(DiskStorage, Restored), DiskError> {
        let io = |what: &'static str| {
            move |source| DiskError::Io {
                path: path.to_path_buf(),
                what,
                source,
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("opening"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("reading"))?;

        // A header cut short, or never filled, is a file created just before a crash: nothing
        // was ever written to it, so it starts over.
        let fresh =
            bytes.len() < MAGIC.len() && MAGIC.starts_with(&bytes) || bytes.iter().all(|&b| b == 0);
        let (image, cut) = if fresh {
            file.set_len(0).map_err(io("truncating"))?;
            file.seek(SeekFrom::Start(0)).map_err(io("seeking"))?;
            file.write_all(&MAGIC).map_err(io("writing the header"))?;
            file.sync_all().map_err(io("syncing"))?;
            sync_dir(path)?;
            (DurableImage::new(), bytes.len() as u64)
        } else {
            if !bytes.starts_with(&MAGIC) {
                return Err(DiskError::Header {
                    path: path.to_path_buf(),
                    found: bytes.iter().take(MAGIC.len()).copied().collect(),
                });
            }
            let scan = scan(&bytes).map_err(|(offset, reason)| DiskError::Corrupt {
                path: path.to_path_buf(),
                offset,
                reason,
            })?;
            let cut = bytes.len() as u64 - scan.valid_end;
            if cut > 0 {
                file.set_len(scan.valid_end)
                    .map_err(io("cutting the torn tail"))?;
                file.sync_all().map_err(io("syncing"))?;
            }
            (scan.image, cut)
        };
        let len = file.seek(SeekFrom::End(0)).map_err(io("seeking"))?;
        let restored = image.restored();
        let storage = DiskStorage {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(1 << 16, file),
            image,
            len,
            cut,
            failed: false,
            record: Vec::new(),
        };
        Ok((storage, restored))
    }

    /// Appends one record (length, checksum, encode_write bytes) to the file (buffered: it
    /// reaches the OS when the buffer fills or at the next [`DiskStorage::sync`]).
    ///
    /// A write no node makes ([`ImageError`]: a term going back, a hole in the log) is refused
    /// before anything reaches the file, since reopening the log would refuse the record.
    pub fn write(&mut self, w: &Write) -> Result<(), DiskError> {
        self.check()?;
        self.record.clear();
        if let Err(bytes) = put_record(w, &mut self.record) {
            return Err(DiskError::TooLarge {
                path: self.path.clone(),
                bytes,
            });
        }
        // Applied first (it changes nothing when it refuses): after a failed write to the file
        // the image may hold more than the file, but then the log refuses everything anyway.
        if let Err(source) = self.image.apply(w) {
            return Err(DiskError::Refused {
                path: self.path.clone(),
                source,
            });
        }
        if let Err(source) = self.file.write_all(&self.record) {
            self.failed = true;
            return Err(self.io("writing", source));
        }
        self.len += self.record.len() as u64;
        Ok(())
    }

    /// Makes every write so far durable: flush + File::sync_data. Returns how long it took
    /// (std::time::Duration) — the native runner reports fsync latency. `sync_data` suffices:
    /// it also syncs the file's length, the one piece of metadata appends change.
    pub fn sync(&mut self) -> Result<Duration, DiskError> {
        self.check()?;
        let start = Instant::now();
        let done = self
            .file
            .flush()
            .map_err(|e| ("flushing", e))
            .and_then(|()| self.file.get_ref().sync_data().map_err(|e| ("syncing", e)));
        if let Err((what, source)) = done {
            self.failed = true;
            return Err(self.io(what, source));
        }
        Ok(start.elapsed())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes, counting writes still buffered: for deciding when to
    /// [`DiskStorage::compact`].
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// How many bytes of torn or damaged tail [`DiskStorage::open`] cut off (0 after a clean
    /// shutdown): worth reporting, since it means a crash interrupted a write.
    pub fn cut_on_open(&self) -> u64 {
        self.cut
    }

    /// Rewrites the file as the few records that rebuild what every write so far left (hard
    /// state, snapshot, entries after it), dropping what snapshots made dead. Atomic: the new
    /// file is written beside the old one, synced, renamed over it and the directory synced, so
    /// a crash at any point leaves one complete file. Everything written so far is durable
    /// afterwards. Returns the new length.
    pub fn compact(&mut self) -> Result<u64, DiskError> {
        self.check()?;
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".compact");
        let tmp = PathBuf::from(tmp_name);
        let tmp_io = |what: &'static str| {
            let tmp = tmp.clone();
            move |source| DiskError::Io {
                path: tmp,
                what,
                source,
            }
        };
        let mut bytes = MAGIC.to_vec();
        for w in self.image.writes() {
            if let Err(n) = put_record(&w, &mut bytes) {
                return Err(DiskError::TooLarge {
                    path: self.path.clone(),
                    bytes: n,
                });
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(tmp_io("creating"))?;
        file.write_all(&bytes).map_err(tmp_io("writing"))?;
        file.sync_all().map_err(tmp_io("syncing"))?;
        // Until the rename the old file is the log: a failure up to here changes nothing.
        if let Err(source) = std::fs::rename(&tmp, &self.path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.io("renaming the compacted file over", source));
        }
        // From here the new file is the log; the old handle (and its buffer, already part of
        // the image) is dropped without writing to the old, unlinked file.
        let old = std::mem::replace(&mut self.file, BufWriter::with_capacity(1 << 16, file));
        drop(old.into_parts());
        if let Err(e) = sync_dir(&self.path) {
            self.failed = true;
            return Err(e);
        }
        self.len = bytes.len() as u64;
        Ok(self.len)
    }

    fn check(&self) -> Result<(), DiskError> {
        if self.failed {
            return Err(DiskError::Failed {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    fn io(&self, what: &'static str, source: io::Error) -> DiskError {
        DiskError::Io {
            path: self.path.clone(),
            what,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::raft::kv::{Command, KvOp, KvState};
    use models::raft::storage::SimStorage;
    use models::raft::types::{Entry, Payload, Snapshot, Term};
    use simcore::RngStream;

    fn entry(term: Term, i: u64) -> Entry {
        Entry {
            term,
            payload: if i % 3 == 0 {
                Payload::Noop
            } else {
                Payload::Command(Command {
                    session: i,
                    seq: i + 1,
                    op: KvOp::Put {
                        key: i as u32 % 7,
                        value: -(i as i64),
                    },
                })
            },
        }
    }

    fn kv(n: u64) -> KvState {
        let mut kv = KvState::new();
        for i in 1..=n {
            kv.apply(&Command {
                session: i % 3,
                seq: i,
                op: KvOp::Put {
                    key: i as u32,
                    value: i as i64 * 10,
                },
            });
        }
        kv
    }

    /// A sequence of writes a node could make: terms never go back, appends leave no hole,
    /// snapshots below, within (matching or not) and beyond the log.
    fn writes(rng: &mut RngStream, n: usize) -> Vec<Write> {
        let mut shadow = SimStorage::new();
        let (mut term, mut snap) = (0u64, 0u64);
        let mut ws = Vec::new();
        for _ in 0..n {
            let last = shadow.durable_last_index();
            let w = match rng.below(10) {
                0 | 1 => {
                    term += rng.below(2);
                    Write::HardState {
                        term,
                        vote: (rng.below(3) > 0).then(|| rng.below(5) as u32),
                    }
                }
                2 => {
                    let last_index = match rng.below(3) {
                        0 => snap.saturating_sub(rng.below(3)),
                        1 => last + rng.below(3),
                        _ => snap + 1 + rng.below(last.saturating_sub(snap) + 1),
                    };
                    if last_index > snap {
                        snap = last_index;
                    }
                    Write::Snapshot(Snapshot {
                        last_index,
                        last_term: term.saturating_sub(rng.below(2)),
                        data: kv(rng.below(6)),
                    })
                }
                _ => {
                    // From at most one past the end, sometimes from inside the snapshot.
                    let first = (last + 1).saturating_sub(rng.below(5)).max(1);
                    let count = rng.below(6);
                    Write::Append {
                        first,
                        entries: (0..count).map(|i| entry(term, first + i)).collect(),
                    }
                }
            };
            shadow.write(w.clone());
            shadow.begin_sync();
            shadow.complete_sync();
            ws.push(w);
        }
        ws
    }

    fn open(path: &Path) -> (DiskStorage, Restored) {
        match DiskStorage::open(path) {
            Ok(x) => x,
            Err(e) => panic!("open failed: {e}"),
        }
    }

    /// What SimStorage recovers after syncing all of `ws`.
    fn sim_restored(ws: &[Write]) -> Restored {
        let mut s = SimStorage::new();
        for w in ws {
            s.write(w.clone());
        }
        s.begin_sync();
        s.complete_sync();
        s.crash();
        s.restore()
    }

    fn write_all(path: &Path, ws: &[Write]) -> Vec<u64> {
        let (mut d, _) = open(path);
        let mut ends = Vec::new();
        for w in ws {
            d.write(w).expect("write");
            ends.push(d.file_len());
        }
        d.sync().expect("sync");
        ends
    }

    #[test]
    fn reopening_recovers_what_sim_storage_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rng = RngStream::derive(9, "test");
        for round in 0..40 {
            let path = dir.path().join(format!("node-{round}.log"));
            let ws = writes(&mut rng, 5 + round * 3);
            let (mut d, r) = open(&path);
            assert_eq!(r, Restored::default());
            let mut sim = SimStorage::new();
            // Sync at random points; reopen now and then to check the prefix.
            for (i, w) in ws.iter().enumerate() {
                d.write(w).expect("write");
                sim.write(w.clone());
                if rng.below(4) == 0 {
                    d.sync().expect("sync");
                    sim.begin_sync();
                    sim.complete_sync();
                }
                if rng.below(10) == 0 {
                    drop(d);
                    let (again, r) = open(&path);
                    // A clean reopen finds every write, synced or not (the OS has them).
                    assert_eq!(r, sim_restored(&ws[..=i]), "round {round} write {i}");
                    d = again;
                }
            }
            d.sync().expect("sync");
            sim.begin_sync();
            sim.complete_sync();
            sim.crash();
            drop(d);
            let (d, r) = open(&path);
            assert_eq!(r, sim.restore(), "round {round}");
            assert_eq!(d.cut_on_open(), 0);
        }
    }

    #[test]
    fn unsynced_writes_are_found_after_a_clean_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.log");
        let ws = writes(&mut RngStream::derive(4, "test"), 30);
        let (mut d, _) = open(&path);
        for w in &ws {
            d.write(w).expect("write");
        }
        drop(d); // no sync: the buffer reaches the OS on drop
        assert_eq!(open(&path).1, sim_restored(&ws));
    }

    #[test]
    fn a_torn_last_record_is_cut_at_every_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let whole = dir.path().join("whole.log");
        let mut ws = writes(&mut RngStream::derive(5, "test"), 25);
        ws.push(Write::Append {
            first: 1,
            entries: (1..=4).map(|i| entry(7, i)).collect(),
        });
        let ends = write_all(&whole, &ws);
        let bytes = std::fs::read(&whole).expect("read");
        let n = ws.len();
        let (before, after) = (ends[n - 2], ends[n - 1]);
        assert_eq!(after, bytes.len() as u64);
        let expected = sim_restored(&ws[..n - 1]);
        let extra = Write::HardState {
            term: 99,
            vote: Some(1),
        };
        for cut in before..after {
            let path = dir.path().join("cut.log");
            std::fs::write(&path, &bytes[..cut as usize]).expect("write");
            let (mut d, r) = open(&path);
            assert_eq!(r, expected, "cut at {cut}");
            assert_eq!(d.cut_on_open(), cut - before);
            assert_eq!(std::fs::metadata(&path).expect("stat").len(), before);
            // Later appends follow valid data.
            d.write(&extra).expect("write");
            d.sync().expect("sync");
            drop(d);
            let mut with_extra = ws[..n - 1].to_vec();
            with_extra.push(extra.clone());
            assert_eq!(open(&path).1, sim_restored(&with_extra), "cut at {cut}");
        }
    }

    #[test]
    fn a_damaged_or_unfilled_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.log");
        let ws = writes(&mut RngStream::derive(6, "test"), 20);
        let ends = write_all(&path, &ws);
        let bytes = std::fs::read(&path).expect("read");
        let n = ws.len();
        let expected = sim_restored(&ws[..n - 1]);
        // The last record's payload damaged, with or without zeros after it.
        for zeros in [0, 1, 4096] {
            let mut b = bytes.clone();
            let last = b.len() - 1;
            b[last] ^= 0x40;
            b.extend(std::iter::repeat_n(0, zeros));
            std::fs::write(&path, &b).expect("write");
            assert_eq!(open(&path).1, expected, "{zeros} zeros");
            assert_eq!(std::fs::metadata(&path).expect("stat").len(), ends[n - 2]);
            std::fs::write(&path, &bytes).expect("restore the file");
        }
        // Zeros after a complete log: space allocated but never written.
        let mut b = bytes.clone();
        b.extend(std::iter::repeat_n(0, 100));
        std::fs::write(&path, &b).expect("write");
        let (d, r) = open(&path);
        assert_eq!(r, sim_restored(&ws));
        assert_eq!(d.cut_on_open(), 100);
    }

    #[test]
    fn damage_before_the_tail_is_an_error_naming_the_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.log");
        let ws = writes(&mut RngStream::derive(7, "test"), 20);
        let ends = write_all(&path, &ws);
        let bytes = std::fs::read(&path).expect("read");
        let k = 10; // a record in the middle
        let start = ends[k - 1];
        let end = ends[k];
        // A byte of its payload, of its checksum, of its length check and of its length.
        for at in [end - 1, start + 8, start + 5, start] {
            let mut b = bytes.clone();
            b[at as usize] ^= 0x01;
            std::fs::write(&path, &b).expect("write");
            match DiskStorage::open(&path) {
                Err(e @ DiskError::Corrupt { offset, .. }) => {
                    assert_eq!(offset, start, "byte {at}");
                    let text = e.to_string();
                    assert!(text.contains(&path.display().to_string()), "{text}");
                    assert!(text.contains(&format!("at byte {start}")), "{text}");
                }
                other => panic!("byte {at}: expected Corrupt, got {other:?}"),
            }
            // Nothing was cut.
            assert_eq!(std::fs::read(&path).expect("read"), b);
        }
    }

    #[test]
    fn a_snapshot_then_appends_recover_right() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.log");
        let snap = |last_index, last_term| {
            Write::Snapshot(Snapshot {
                last_index,
                last_term,
                data: kv(last_index),
            })
        };
        let ws = vec![
            Write::HardState {
                term: 2,
                vote: Some(0),
            },
            Write::Append {
                first: 1,
                entries: (1..=10).map(|i| entry(1 + i / 6, i)).collect(),
            },
            snap(5, 1),
            Write::Append {
                first: 11,
                entries: (11..=12).map(|i| entry(2, i)).collect(),
            },
            // Overwrites 9..: keeps 6..8.
            Write::Append {
                first: 9,
                entries: vec![entry(3, 9)],
            },
            // Below the snapshot: ignored.
            snap(4, 1),
            // Conflicting term at 7: the whole log goes.
            snap(7, 9),
            // Starts inside the snapshot: 6..7 skipped.
            Write::Append {
                first: 6,
                entries: (6..=9).map(|i| entry(9, i)).collect(),
            },
        ];
        write_all(&path, &ws);
        let r = open(&path).1;
        assert_eq!(r, sim_restored(&ws));
        assert_eq!(
            r.snapshot.as_ref().map(|s| (s.last_index, s.last_term)),
            Some((7, 9))
        );
        assert_eq!(r.snapshot.map(|s| s.data), Some(kv(7)));
        assert_eq!(r.entries, vec![entry(9, 8), entry(9, 9)]);
        assert_eq!((r.term, r.vote), (2, Some(0)));
    }

    #[test]
    fn compaction_keeps_the_state_and_shrinks_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.log");
        let mut rng = RngStream::derive(8, "test");
        let ws = writes(&mut rng, 220);
        let (first, more) = ws.split_at(200);
        let (mut d, _) = open(&path);
        for w in first {
            d.write(w).expect("write");
        }
        let before = d.file_len();
        let after = d.compact().expect("compact");
        assert!(after < before, "{after} < {before}");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), after);
        assert!(!dir.path().join("n.log.compact").exists());
        // Writes after compaction go to the new file.
        for w in more {
            d.write(w).expect("write");
        }
        d.sync().expect("sync");
        drop(d);
        let (d, r) = open(&path);
        assert_eq!(r, sim_restored(&ws));
        assert_eq!(d.cut_on_open(), 0);
    }

    #[test]
    fn headers_new_torn_and_foreign() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.log");
        let (d, r) = open(&path);
        assert_eq!(r, Restored::default());
        assert_eq!(d.file_len(), MAGIC.len() as u64);
        drop(d);
        assert_eq!(std::fs::read(&path).expect("read"), MAGIC);
        // A header cut short, or never filled: the file was created just before a crash.
        for b in [&MAGIC[..3], &[0u8; 8][..], &[0u8; 20][..]] {
            std::fs::write(&path, b).expect("write");
            assert_eq!(open(&path).1, Restored::default());
            assert_eq!(std::fs::read(&path).expect("read"), MAGIC);
        }
        // Another file, or another format version.
        for b in [&b"hello, world"[..], &b"SIMRLOG\x02"[..]] {
            std::fs::write(&path, b).expect("write");
            match DiskStorage::open(&path) {
                Err(e @ DiskError::Header { .. }) => {
                    assert!(e.to_string().contains("n.log"), "{e}");
                }
                other => panic!("expected Header, got {other:?}"),
            }
        }
        // Opening a directory names it.
        match DiskStorage::open(dir.path()) {
            Err(e @ DiskError::Io { .. }) => {
                assert!(e.to_string().contains(&dir.path().display().to_string()));
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn writes_no_node_makes_are_refused_on_write_and_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n.log");
        let ok = [
            Write::HardState {
                term: 3,
                vote: Some(1),
            },
            Write::Append {
                first: 1,
                entries: (1..=2).map(|i| entry(3, i)).collect(),
            },
        ];
        let back = Write::HardState {
            term: 2,
            vote: None,
        };
        let hole = Write::Append {
            first: 5,
            entries: vec![entry(3, 5)],
        };
        let (mut d, _) = open(&path);
        for w in &ok {
            d.write(w).expect("write");
        }
        let len = d.file_len();
        for w in [&back, &hole] {
            match d.write(w) {
                Err(e @ DiskError::Refused { .. }) => {
                    assert!(e.to_string().contains("n.log"), "{e}");
                }
                other => panic!("{w:?}: expected Refused, got {other:?}"),
            }
        }
        // Nothing reached the file, and the log still works.
        assert_eq!(d.file_len(), len);
        d.sync().expect("sync");
        drop(d);
        assert_eq!(open(&path).1, sim_restored(&ok));
        // The same writes forged into the file, checksummed: refused on open at their offset.
        let bytes = std::fs::read(&path).expect("read");
        for w in [&back, &hole] {
            let mut b = bytes.clone();
            put_record(w, &mut b).expect("fits");
            std::fs::write(&path, &b).expect("write");
            match DiskStorage::open(&path) {
                Err(DiskError::Corrupt { offset, reason, .. }) => {
                    assert_eq!(offset, bytes.len() as u64);
                    assert!(reason.contains("no node makes"), "{reason}");
                }
                other => panic!("{w:?}: expected Corrupt, got {other:?}"),
            }
        }
    }

    #[test]
    fn sync_reports_its_duration() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut d, _) = open(&dir.path().join("n.log"));
        d.write(&Write::HardState {
            term: 1,
            vote: None,
        })
        .expect("write");
        let took = d.sync().expect("sync");
        assert!(took < Duration::from_secs(60));
        assert_eq!(d.path(), dir.path().join("n.log"));
    }
}

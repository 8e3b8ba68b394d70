//! A key-value engine: an LSM tree over the [`Fs`].
//!
//! - **Writes** go to the write-ahead log (`wal/wal-N.log`, a [`Wal`]) and then to the
//!   memtable. A put or delete is acknowledged (returns `Ok`) only after its log record is
//!   durable: the log's fsync returned `Ok`.
//! - **Flush**, when the memtable passes its size or the log is full: a new log is created,
//!   synced and its directory fsynced first (new writes go there); then the memtable is written
//!   as a sorted run to `sst/run-M.tmp`, fsynced, renamed to `sst/run-M.sst` and the `sst`
//!   directory fsynced; only then are the logs it covers deleted. A run records the number of
//!   the newest log it covers, so recovery never replays a log whose records a run holds.
//! - **Compaction**, when there are more than `max_runs` runs: all of them are merged into one
//!   (tombstones dropped: it is the bottom level), written the same way and marked as a base,
//!   then the inputs are unlinked and the directory fsynced. Recovery deletes every run older
//!   than a base, so inputs whose unlinks a crash undid never resurface.
//! - **Reads** check the memtable, then the runs newest first (an in-memory index per run,
//!   the value read from the file and its frame checked).
//! - **Files**: the live runs are the directory listing of `sst` (no manifest); runs and logs
//!   use the WAL's frames, so every entry carries a checksum.
//! - **Failed fsync**: the engine stops (every call returns [`KvError::Poisoned`]) and must be
//!   reopened after a restart, as PostgreSQL panics since "fsyncgate": retrying the fsync
//!   would report success for data that never reached the disk.
//! - **Recovery** ([`Kv::open`]): deletes leftover `.tmp` runs, loads every run (a damaged run
//!   is an error: the data it held is gone), replays the logs no run covers in order, each up to
//!   its first bad record, and starts a fresh log.
//!
//! Planted bugs ([`Bugs`]), for the checker to find: an ignored fsync error, a log without
//! checksums, and a run renamed into place without an fsync of its directory. Not modelled:
//! levels, bloom filters, block-based run files, group commit, snapshots or iterators.

use std::collections::BTreeMap;

use super::BlockIo;
use super::fs::{Fs, FsError};
use super::wal::{Frame, Wal, WalError, WalOptions, decode_frame, encode_frame};

/// The directory of the write-ahead logs.
pub const WAL_DIR: &str = "wal";
/// The directory of the sorted runs.
pub const RUN_DIR: &str = "sst";

/// Bugs to plant, each a real one storage engines have shipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bugs {
    /// A failed fsync is treated as a success (and the write acknowledged).
    pub ignore_fsync_error: bool,
    /// Log records carry no checksum; replay trusts whatever frame it finds.
    pub wal_without_checksum: bool,
    /// A flushed or compacted run is renamed into place without an fsync of its directory.
    pub rename_without_dir_fsync: bool,
}

/// Sizes and bugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvOptions {
    /// The memtable is flushed once its keys and values pass this many bytes.
    pub memtable_bytes: usize,
    /// Bytes preallocated per log file.
    pub wal_bytes: u64,
    /// More runs than this are compacted into one.
    pub max_runs: usize,
    pub bugs: Bugs,
}

impl Default for KvOptions {
    fn default() -> Self {
        KvOptions {
            memtable_bytes: 32 * 1024,
            wal_bytes: 64 * 1024,
            max_runs: 4,
            bugs: Bugs::default(),
        }
    }
}

/// Why an engine operation failed. A failed write was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("the engine stopped after a failed fsync; reopen it after a restart")]
    Poisoned,
    #[error("a record of {0} bytes does not fit in a log file")]
    TooLarge(usize),
    #[error("{path} is damaged: {why}")]
    Corrupt { path: String, why: &'static str },
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Wal(#[from] WalError),
}

/// A value, or a tombstone.
type Value = Option<Vec<u8>>;

/// A sorted run on disk, with its index in memory.
#[derive(Debug, Clone)]
struct Run {
    path: String,
    /// The newest log whose records this run holds.
    covers: u64,
    /// A merge of every run before it: those are obsolete (recovery deletes them).
    base: bool,
    /// Key to the offset and length of its frame in the file.
    index: BTreeMap<Vec<u8>, (u64, usize)>,
}

/// The first frame of a run file.
const RUN_MAGIC: &[u8; 4] = b"RUN1";

/// An LSM key-value engine.
#[derive(Debug, Clone)]
pub struct Kv {
    opts: KvOptions,
    memtable: BTreeMap<Vec<u8>, Value>,
    mem_bytes: usize,
    /// The log new writes go to (`None` only before the first one is made).
    wal: Option<Wal>,
    wal_no: u64,
    /// Oldest first.
    runs: Vec<Run>,
    next_no: u64,
    poisoned: bool,
}

impl Kv {
    /// Opens the engine on `fs`: creates its directories on a fresh file system, otherwise
    /// recovers from what is there (see the module docs).
    pub fn open(fs: &mut Fs, opts: KvOptions, io: &mut Vec<BlockIo>) -> Result<Kv, KvError> {
        for d in [RUN_DIR, WAL_DIR] {
            if !fs.dir_exists(d) {
                fs.mkdir(d, io)?;
            }
        }
        let mut kv = Kv {
            opts,
            memtable: BTreeMap::new(),
            mem_bytes: 0,
            wal: None,
            wal_no: 0,
            runs: Vec::new(),
            next_no: 1,
            poisoned: false,
        };
        let runs = numbered(fs, RUN_DIR, "run-", ".sst")?;
        for name in fs.list(RUN_DIR)? {
            if name.ends_with(".tmp") {
                fs.unlink(&format!("{RUN_DIR}/{name}"))?;
            }
        }
        for &(no, ref path) in &runs {
            let run = load_run(fs, path, io)?;
            if run.base {
                // A compaction's output: the runs it merged may linger if the crash came
                // before their unlinks were durable.
                for old in kv.runs.drain(..) {
                    fs.unlink(&old.path)?;
                }
            }
            kv.runs.push(run);
            kv.next_no = kv.next_no.max(no + 1);
        }
        let covered = kv.runs.iter().map(|r| r.covers).max().unwrap_or(0);
        for (no, path) in numbered(fs, WAL_DIR, "wal-", ".log")? {
            kv.next_no = kv.next_no.max(no + 1);
            if no <= covered {
                fs.unlink(&path)?;
                continue;
            }
            let (records, _) = Wal::replay(fs, &path, !opts.bugs.wal_without_checksum, io)?;
            for r in records {
                // Without checksums a garbled record can fail to decode: the log ends there.
                let Some((key, value)) = decode_entry(&r) else {
                    break;
                };
                kv.remember(key, value);
            }
        }
        kv.start_wal(fs, io)?;
        Ok(kv)
    }

    /// Whether a failed fsync stopped the engine.
    pub fn poisoned(&self) -> bool {
        self.poisoned
    }

    /// Live sorted runs.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Stores `value` under `key`; `Ok` means durable (acknowledged).
    pub fn put(
        &mut self,
        fs: &mut Fs,
        key: &[u8],
        value: &[u8],
        io: &mut Vec<BlockIo>,
    ) -> Result<(), KvError> {
        self.write(fs, key, Some(value), io)
    }

    /// Removes `key`; `Ok` means durable (acknowledged).
    pub fn delete(
        &mut self,
        fs: &mut Fs,
        key: &[u8],
        io: &mut Vec<BlockIo>,
    ) -> Result<(), KvError> {
        self.write(fs, key, None, io)
    }

    /// The value under `key`.
    pub fn get(
        &mut self,
        fs: &mut Fs,
        key: &[u8],
        io: &mut Vec<BlockIo>,
    ) -> Result<Option<Vec<u8>>, KvError> {
        self.usable()?;
        if let Some(v) = self.memtable.get(key) {
            return Ok(v.clone());
        }
        for run in self.runs.iter().rev() {
            let Some(&(at, len)) = run.index.get(key) else {
                continue;
            };
            let bytes = fs.read(&run.path, at, len, io)?;
            let entry = match decode_frame(&bytes, true) {
                Frame::Record(r, _) => decode_entry(r),
                _ => None,
            };
            let (_, value) = entry.ok_or_else(|| corrupt(&run.path, "a bad entry"))?;
            return Ok(value);
        }
        Ok(None)
    }

    /// Every live key and its value, read from the runs and the memtable.
    pub fn scan(
        &mut self,
        fs: &mut Fs,
        io: &mut Vec<BlockIo>,
    ) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, KvError> {
        self.usable()?;
        Ok(self
            .merged(fs, io)?
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    fn usable(&self) -> Result<(), KvError> {
        if self.poisoned {
            Err(KvError::Poisoned)
        } else {
            Ok(())
        }
    }

    fn write(
        &mut self,
        fs: &mut Fs,
        key: &[u8],
        value: Option<&[u8]>,
        io: &mut Vec<BlockIo>,
    ) -> Result<(), KvError> {
        self.usable()?;
        let record = encode_entry(key, value);
        if !self.wal.as_ref().is_some_and(|w| w.fits(record.len())) {
            self.flush(fs, io)?;
        }
        let wal = self.wal.as_mut().ok_or(KvError::Poisoned)?;
        if !wal.fits(record.len()) {
            return Err(KvError::TooLarge(record.len()));
        }
        wal.append(fs, &record, io)?;
        let synced = wal.sync(fs, io);
        self.synced(synced)?;
        self.remember(key.to_vec(), value.map(<[u8]>::to_vec));
        if self.mem_bytes >= self.opts.memtable_bytes {
            // The write is durable whatever happens to the flush; a failed fsync in it has
            // poisoned the engine, and the next call says so.
            let _ = self.flush(fs, io);
        }
        Ok(())
    }

    /// Puts a write in the memtable.
    fn remember(&mut self, key: Vec<u8>, value: Value) {
        self.mem_bytes += key.len() + value.as_ref().map_or(0, Vec::len) + 16;
        self.memtable.insert(key, value);
    }

    /// The result of an fsync: an error stops the engine, unless the bug ignores it.
    fn synced<E: Into<KvError>>(&mut self, r: Result<(), E>) -> Result<(), KvError> {
        match r {
            Ok(()) => Ok(()),
            Err(_) if self.opts.bugs.ignore_fsync_error => Ok(()),
            Err(e) => {
                self.poisoned = true;
                Err(e.into())
            }
        }
    }

    fn next_no(&mut self) -> u64 {
        let n = self.next_no;
        self.next_no += 1;
        n
    }

    /// Creates a new log, durable and named, and sends new writes to it.
    fn start_wal(&mut self, fs: &mut Fs, io: &mut Vec<BlockIo>) -> Result<(), KvError> {
        let no = self.next_no();
        let opts = WalOptions {
            capacity: self.opts.wal_bytes,
            checksums: !self.opts.bugs.wal_without_checksum,
        };
        let mut wal = Wal::create(fs, &format!("{WAL_DIR}/wal-{no}.log"), opts, io)?;
        let synced = wal.sync(fs, io);
        self.synced(synced)?;
        let synced = fs.fsync_dir(WAL_DIR, io);
        self.synced(synced)?;
        self.wal = Some(wal);
        self.wal_no = no;
        Ok(())
    }

    /// Moves the memtable into a new run (see the module docs for the order of steps).
    fn flush(&mut self, fs: &mut Fs, io: &mut Vec<BlockIo>) -> Result<(), KvError> {
        let covers = self.wal_no;
        self.start_wal(fs, io)?;
        if !self.memtable.is_empty() {
            let entries = std::mem::take(&mut self.memtable);
            match self.write_run(fs, covers, false, &entries, io) {
                Ok(run) => self.runs.push(run),
                Err(e) => {
                    self.memtable = entries;
                    return Err(e);
                }
            }
            self.mem_bytes = 0;
        }
        for (no, path) in numbered(fs, WAL_DIR, "wal-", ".log")? {
            if no <= covers {
                fs.unlink(&path)?;
            }
        }
        let synced = fs.fsync_dir(WAL_DIR, io);
        self.synced(synced)?;
        if self.runs.len() > self.opts.max_runs {
            self.compact(fs, io)?;
        }
        Ok(())
    }

    /// Merges every run into one.
    fn compact(&mut self, fs: &mut Fs, io: &mut Vec<BlockIo>) -> Result<(), KvError> {
        let mut merged = BTreeMap::new();
        for run in &self.runs {
            merged.extend(read_run(fs, run, io)?);
        }
        merged.retain(|_, v| v.is_some());
        let covers = self.runs.iter().map(|r| r.covers).max().unwrap_or(0);
        let run = self.write_run(fs, covers, true, &merged, io)?;
        for old in std::mem::replace(&mut self.runs, vec![run]) {
            fs.unlink(&old.path)?;
        }
        let synced = fs.fsync_dir(RUN_DIR, io);
        self.synced(synced)
    }

    /// Writes entries as a run: a temporary file, fsynced, renamed into place, its directory
    /// fsynced (unless the bug skips it).
    fn write_run(
        &mut self,
        fs: &mut Fs,
        covers: u64,
        base: bool,
        entries: &BTreeMap<Vec<u8>, Value>,
        io: &mut Vec<BlockIo>,
    ) -> Result<Run, KvError> {
        let no = self.next_no();
        let tmp = format!("{RUN_DIR}/run-{no}.tmp");
        let path = format!("{RUN_DIR}/run-{no}.sst");
        let mut header = RUN_MAGIC.to_vec();
        header.extend_from_slice(&covers.to_le_bytes());
        header.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        header.extend_from_slice(&u64::from(base).to_le_bytes());
        let mut bytes = Vec::new();
        encode_frame(&header, true, &mut bytes)?;
        let mut index = BTreeMap::new();
        for (k, v) in entries {
            let at = bytes.len();
            encode_frame(&encode_entry(k, v.as_deref()), true, &mut bytes)?;
            index.insert(k.clone(), (at as u64, bytes.len() - at));
        }
        fs.create(&tmp)?;
        fs.write(&tmp, 0, &bytes, io)?;
        let synced = fs.fsync(&tmp, io);
        self.synced(synced)?;
        fs.rename(&tmp, &path)?;
        if !self.opts.bugs.rename_without_dir_fsync {
            let synced = fs.fsync_dir(RUN_DIR, io);
            self.synced(synced)?;
        }
        Ok(Run {
            path,
            covers,
            base,
            index,
        })
    }

    /// The runs oldest first, then the memtable, each overriding the ones before.
    fn merged(
        &self,
        fs: &mut Fs,
        io: &mut Vec<BlockIo>,
    ) -> Result<BTreeMap<Vec<u8>, Value>, KvError> {
        let mut merged = BTreeMap::new();
        for run in &self.runs {
            merged.extend(read_run(fs, run, io)?);
        }
        merged.extend(self.memtable.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(merged)
    }
}

fn corrupt(path: &str, why: &'static str) -> KvError {
    KvError::Corrupt {
        path: path.to_string(),
        why,
    }
}

/// The files `dir/{prefix}N{suffix}`, by number.
fn numbered(fs: &Fs, dir: &str, prefix: &str, suffix: &str) -> Result<Vec<(u64, String)>, KvError> {
    let mut files: Vec<(u64, String)> = fs
        .list(dir)?
        .into_iter()
        .filter_map(|name| {
            let no = name
                .strip_prefix(prefix)?
                .strip_suffix(suffix)?
                .parse()
                .ok()?;
            Some((no, format!("{dir}/{name}")))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// A run file's header and entries, each frame checked; the index of its entries.
fn parse_run(path: &str, bytes: &[u8]) -> Result<(Run, Vec<(Vec<u8>, Value)>), KvError> {
    let (header, mut at) = match decode_frame(bytes, true) {
        Frame::Record(h, n) if h.len() == 28 && h.starts_with(RUN_MAGIC) => (h, n),
        _ => return Err(corrupt(path, "a bad header")),
    };
    let word = |i: usize| {
        let mut w = [0; 8];
        w.copy_from_slice(&header[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let (covers, count, base) = (word(4), word(12), word(20) == 1);
    let mut run = Run {
        path: path.to_string(),
        covers,
        base,
        index: BTreeMap::new(),
    };
    let mut entries = Vec::new();
    for _ in 0..count {
        let Frame::Record(r, n) = decode_frame(&bytes[at..], true) else {
            return Err(corrupt(path, "a bad entry"));
        };
        let (k, v) = decode_entry(r).ok_or_else(|| corrupt(path, "a bad entry"))?;
        run.index.insert(k.clone(), (at as u64, n));
        entries.push((k, v));
        at += n;
    }
    Ok((run, entries))
}

fn load_run(fs: &mut Fs, path: &str, io: &mut Vec<BlockIo>) -> Result<Run, KvError> {
    let size = usize::try_from(fs.size(path)?).unwrap_or(usize::MAX);
    let bytes = fs.read(path, 0, size, io)?;
    Ok(parse_run(path, &bytes)?.0)
}

fn read_run(
    fs: &mut Fs,
    run: &Run,
    io: &mut Vec<BlockIo>,
) -> Result<Vec<(Vec<u8>, Value)>, KvError> {
    let size = usize::try_from(fs.size(&run.path)?).unwrap_or(usize::MAX);
    let bytes = fs.read(&run.path, 0, size, io)?;
    Ok(parse_run(&run.path, &bytes)?.1)
}

/// A write as a record: a tag (1 put, 2 delete), the key's length (u32 LE), the key, the value.
fn encode_entry(key: &[u8], value: Option<&[u8]>) -> Vec<u8> {
    let mut r = Vec::with_capacity(5 + key.len() + value.map_or(0, <[u8]>::len));
    r.push(if value.is_some() { 1 } else { 2 });
    r.extend_from_slice(&(key.len() as u32).to_le_bytes());
    r.extend_from_slice(key);
    r.extend_from_slice(value.unwrap_or_default());
    r
}

fn decode_entry(r: &[u8]) -> Option<(Vec<u8>, Value)> {
    let (&tag, rest) = r.split_first()?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let key = rest.get(4..4 + len)?.to_vec();
    let value = rest.get(4 + len..)?;
    match tag {
        1 => Some((key, Some(value.to_vec()))),
        2 if value.is_empty() => Some((key, None)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use simcore::RngStream;

    use super::super::block::BlockDevice;
    use super::super::fs::FsConfig;
    use super::*;

    fn fs(seed: u64) -> Fs {
        let dev = BlockDevice::new(8192, RngStream::derive(seed, "kv"));
        Fs::format(dev, FsConfig::default())
    }

    const SMALL: KvOptions = KvOptions {
        memtable_bytes: 512,
        wal_bytes: 8192,
        max_runs: 2,
        bugs: Bugs {
            ignore_fsync_error: false,
            wal_without_checksum: false,
            rename_without_dir_fsync: false,
        },
    };

    fn key(i: u32) -> Vec<u8> {
        format!("k{i}").into_bytes()
    }

    #[test]
    fn entries_round_trip() {
        for (k, v) in [
            (&b"a"[..], Some(&b"xyz"[..])),
            (b"", None),
            (b"k", Some(b"")),
        ] {
            let got = decode_entry(&encode_entry(k, v)).unwrap();
            assert_eq!(got, (k.to_vec(), v.map(<[u8]>::to_vec)));
        }
        assert_eq!(decode_entry(&[2, 1, 0, 0, 0, b'a', b'b']), None);
    }

    /// Puts, overwrites and deletes through flushes and compactions read back, before and
    /// after a crash.
    #[test]
    fn acknowledged_writes_read_back_through_flushes_compactions_and_a_crash() {
        let mut f = fs(1);
        let mut io = Vec::new();
        let mut kv = Kv::open(&mut f, SMALL, &mut io).unwrap();
        let mut expected = BTreeMap::new();
        for i in 0..200u32 {
            let k = key(i % 23);
            if i % 7 == 3 {
                kv.delete(&mut f, &k, &mut io).unwrap();
                expected.remove(&k);
            } else {
                let v = format!("value {i}").into_bytes();
                kv.put(&mut f, &k, &v, &mut io).unwrap();
                expected.insert(k, v);
            }
        }
        assert!(kv.runs() >= 1 && kv.runs() <= SMALL.max_runs);
        for i in 0..23 {
            assert_eq!(
                kv.get(&mut f, &key(i), &mut io).unwrap(),
                expected.get(&key(i)).cloned()
            );
        }
        assert_eq!(kv.scan(&mut f, &mut io).unwrap(), expected);
        f.crash();
        f.recover(&mut io).unwrap();
        let mut kv = Kv::open(&mut f, SMALL, &mut io).unwrap();
        assert_eq!(kv.scan(&mut f, &mut io).unwrap(), expected);
        for i in 0..23 {
            assert_eq!(
                kv.get(&mut f, &key(i), &mut io).unwrap(),
                expected.get(&key(i)).cloned()
            );
        }
        assert!(!io.is_empty());
    }

    /// A failed fsync stops the correct engine without acknowledging; the buggy one
    /// acknowledges a write that a crash then loses.
    #[test]
    fn a_failed_fsync_poisons_the_engine_unless_the_bug_ignores_it() {
        for ignore in [false, true] {
            let opts = KvOptions {
                bugs: Bugs {
                    ignore_fsync_error: ignore,
                    ..Bugs::default()
                },
                ..SMALL
            };
            let mut f = fs(1);
            let mut io = Vec::new();
            let mut kv = Kv::open(&mut f, opts, &mut io).unwrap();
            kv.put(&mut f, b"a", b"1", &mut io).unwrap();
            f.device_mut().faults_mut().fail_writes = true;
            let r = kv.put(&mut f, b"a", b"2", &mut io);
            f.device_mut().faults_mut().fail_writes = false;
            if ignore {
                assert_eq!(r, Ok(()));
                assert_eq!(kv.get(&mut f, b"a", &mut io).unwrap(), Some(b"2".to_vec()));
            } else {
                assert!(r.is_err());
                assert!(kv.poisoned());
                assert_eq!(kv.get(&mut f, b"a", &mut io), Err(KvError::Poisoned));
            }
            f.crash();
            f.recover(&mut io).unwrap();
            let mut kv = Kv::open(&mut f, opts, &mut io).unwrap();
            assert_eq!(
                kv.get(&mut f, b"a", &mut io).unwrap(),
                Some(b"1".to_vec()),
                "the acknowledged 2 is lost when the error was ignored"
            );
        }
    }

    /// A run merged by a compaction that resurfaces (its unlink undone) is deleted at
    /// recovery rather than resurrecting a key deleted since.
    #[test]
    fn runs_older_than_a_compaction_are_obsolete() {
        let mut f = fs(1);
        let mut io = Vec::new();
        let mut kv = Kv::open(&mut f, SMALL, &mut io).unwrap();
        kv.put(&mut f, b"k", &[1; 600], &mut io).unwrap();
        let first = format!("{RUN_DIR}/{}", f.list(RUN_DIR).unwrap()[0]);
        let size = f.size(&first).unwrap() as usize;
        let bytes = f.read(&first, 0, size, &mut io).unwrap();
        kv.delete(&mut f, b"k", &mut io).unwrap();
        kv.put(&mut f, b"filler", &[2; 600], &mut io).unwrap();
        kv.put(&mut f, b"more", &[3; 600], &mut io).unwrap();
        assert_eq!(kv.runs(), 1, "compacted");
        assert!(!f.exists(&first));
        f.create(&first).unwrap();
        f.write(&first, 0, &bytes, &mut io).unwrap();
        f.fsync(&first, &mut io).unwrap();
        f.fsync_dir(RUN_DIR, &mut io).unwrap();
        f.crash();
        f.recover(&mut io).unwrap();
        let mut kv = Kv::open(&mut f, SMALL, &mut io).unwrap();
        assert_eq!(kv.get(&mut f, b"k", &mut io).unwrap(), None);
        assert!(!f.exists(&first));
    }

    /// The rename of a flushed run without an fsync of `sst`, while the log it replaced is
    /// durably deleted: some crash loses the run, and with it acknowledged writes. The correct
    /// engine keeps them after every crash.
    #[test]
    fn a_run_renamed_without_a_directory_fsync_can_be_lost() {
        let mut lost = 0;
        for bug in [false, true] {
            for seed in 0..16 {
                let opts = KvOptions {
                    bugs: Bugs {
                        rename_without_dir_fsync: bug,
                        ..Bugs::default()
                    },
                    ..SMALL
                };
                let mut f = fs(seed);
                let mut io = Vec::new();
                let mut kv = Kv::open(&mut f, opts, &mut io).unwrap();
                let mut expected = BTreeMap::new();
                for i in 0..12u32 {
                    let v = vec![b'v'; 60 + i as usize];
                    kv.put(&mut f, &key(i), &v, &mut io).unwrap();
                    expected.insert(key(i), v);
                }
                assert_eq!(kv.runs(), 1, "one flush");
                f.crash();
                f.recover(&mut io).unwrap();
                let mut kv = Kv::open(&mut f, opts, &mut io).unwrap();
                let got = kv.scan(&mut f, &mut io).unwrap();
                if bug {
                    lost += usize::from(got != expected);
                } else {
                    assert_eq!(got, expected, "seed {seed}");
                }
            }
        }
        assert!(lost > 0);
    }
}

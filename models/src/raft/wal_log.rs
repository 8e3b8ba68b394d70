//! A Raft server's log on a modelled disk: its [`Write`]s (hard state, appends, snapshots) as
//! checksummed records of a write-ahead log ([`Wal`]) in a file system ([`Fs`]) over a block
//! device the size of the host's disk ([`BlockDevice`]), so that the disk's content faults,
//! torn writes and lost unsynced writes reach the log, and a restart recovers what the records
//! on the device say.
//!
//! **Records.** Each write is one record, [`wire::encode_write`]'s encoding (the one a native
//! node's log file uses), appended in the order the node makes them. An fsync of the node
//! ([`WalLog::sync`]) fsyncs the log. A restart ([`WalLog::recover`]) recovers the file system,
//! replays the records onto a [`DurableImage`] by the rules `SimStorage` keeps, and reopens the
//! log after the last intact record (scrubbing what follows, [`Wal::reopen`]). The checksums end
//! the replay at the first torn or corrupted record: a damaged record in the middle of the log
//! loses it and every record after it, synced or not.
//!
//! **A full log is compacted.** The log file is preallocated ([`Wal`]); when a record does not
//! fit, the records from there on stay in memory and the next sync rewrites the log as the
//! fewest records that rebuild the current image ([`DurableImage::writes`]: hard state,
//! snapshot, the entries after it) in a new file beside the old one, sized to twice that (at
//! least [`BASE_CAPACITY`]), fsyncs it, renames it over the old one and fsyncs the directory.
//! A crash at any point leaves the old log or the new one, whole. This is the simplest real
//! scheme: one file, no segment list to recover; it costs a rewrite of the live state each
//! time the file fills, which snapshots keep small.
//!
//! **I/O.** Every operation appends the block requests it makes to the log's list
//! ([`WalLog::take_io`]); the cluster times them on the host's disk, one after another, as the
//! sync that follows them. The file system and log are created before the run (untimed);
//! a restart's recovery reads and the scrub of the log's tail are timed with its first sync.

use simcore::RngStream;

use crate::storage::BlockIo;
use crate::storage::block::BlockDevice;
use crate::storage::cache::PAGE_BYTES;
use crate::storage::fs::{Fs, FsConfig, FsError};
use crate::storage::wal::{FRAME_HEADER, Wal, WalError, WalOptions};

use super::storage::DurableImage;
use super::types::Write;
use super::wire;

/// The directory of the log, and the log's file.
const DIR: &str = "raft";
pub const LOG: &str = "raft/log";
/// A compacted log being written, renamed over [`LOG`] once durable.
const NEW: &str = "raft/log.new";

/// The smallest log file (bytes): about 4,000 records of a few entries each.
pub const BASE_CAPACITY: u64 = 256 * 1024;

/// Why the log could not be created, synced or recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// What a restart recovered.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub image: DurableImage,
    /// Records replayed onto the image.
    pub records: usize,
}

/// One server's log on its host's disk.
#[derive(Debug, Clone)]
pub struct WalLog {
    fs: Fs,
    wal: Wal,
    /// Every write made so far, synced or not (what a compaction writes).
    head: DurableImage,
    /// A record did not fit: the next sync compacts.
    overflow: bool,
    /// An append's error, reported by the next sync.
    error: Option<LogError>,
    /// Requests made since they were last taken.
    io: Vec<BlockIo>,
    base: u64,
    crashed: bool,
    compactions: u64,
}

fn options(capacity: u64) -> WalOptions {
    WalOptions {
        capacity,
        checksums: true,
    }
}

impl WalLog {
    /// A fresh file system on a zeroed device of `sectors` sectors, holding an empty, durable
    /// log of `base` bytes. The device tears multi-sector writes a crash catches unflushed, and
    /// loses single-sector ones; its faults draw from `rng`.
    pub fn format(sectors: u64, rng: RngStream, base: u64) -> Result<Self, LogError> {
        let mut dev = BlockDevice::new(sectors, rng);
        dev.faults_mut().torn = true;
        let mut fs = Fs::format(dev, FsConfig::default());
        let mut io = Vec::new();
        fs.mkdir(DIR, &mut io)?;
        let mut wal = Wal::create(&mut fs, LOG, options(base), &mut io)?;
        wal.sync(&mut fs, &mut io)?;
        fs.fsync_dir(DIR, &mut io)?;
        Ok(WalLog {
            fs,
            wal,
            head: DurableImage::new(),
            overflow: false,
            error: None,
            io: Vec::new(),
            base,
            crashed: false,
            compactions: 0,
        })
    }

    /// The file system, to switch its device's faults.
    pub fn fs_mut(&mut self) -> &mut Fs {
        &mut self.fs
    }

    /// Times the log was compacted.
    pub fn compactions(&self) -> u64 {
        self.compactions
    }

    /// The block requests made since the last call, in issue order.
    pub fn take_io(&mut self) -> Vec<BlockIo> {
        std::mem::take(&mut self.io)
    }

    /// Appends `w` as a record (into the page cache). A record that does not fit waits in
    /// memory for the next sync's compaction; an error waits for the next sync.
    pub fn write(&mut self, w: &Write) {
        let applied = self.head.apply(w);
        debug_assert!(
            applied.is_ok(),
            "a node's writes keep the invariants: {applied:?}"
        );
        if self.overflow {
            return;
        }
        let mut record = Vec::new();
        wire::encode_write(w, &mut record);
        if !self.wal.fits(record.len()) {
            self.overflow = true;
            return;
        }
        if let Err(e) = self.wal.append(&mut self.fs, &record, &mut self.io) {
            self.error.get_or_insert(e.into());
        }
    }

    /// Makes every write so far durable: fsyncs the log, or compacts it if it filled. Fails
    /// if the stack failed, this sync or an append since the last one.
    pub fn sync(&mut self) -> Result<(), LogError> {
        let synced = if self.overflow {
            self.compact()
        } else {
            self.wal
                .sync(&mut self.fs, &mut self.io)
                .map_err(LogError::from)
        };
        let earlier = self.error.take();
        synced?;
        earlier.map_or(Ok(()), Err)
    }

    /// Rewrites the log as the records of the current image, in a new file that replaces the
    /// old one once it is durable.
    fn compact(&mut self) -> Result<(), LogError> {
        let records: Vec<Vec<u8>> = self
            .head
            .writes()
            .iter()
            .map(|w| {
                let mut r = Vec::new();
                wire::encode_write(w, &mut r);
                r
            })
            .collect();
        let need: u64 = records
            .iter()
            .map(|r| (FRAME_HEADER + r.len()) as u64)
            .sum();
        let capacity = self
            .base
            .max(need.saturating_mul(2).next_multiple_of(PAGE_BYTES as u64));
        if self.fs.exists(NEW) {
            self.fs.unlink(NEW)?;
        }
        let mut wal = Wal::create(&mut self.fs, NEW, options(capacity), &mut self.io)?;
        for r in &records {
            wal.append(&mut self.fs, r, &mut self.io)?;
        }
        wal.sync(&mut self.fs, &mut self.io)?;
        wal.rename(&mut self.fs, LOG)?;
        self.fs.fsync_dir(DIR, &mut self.io)?;
        self.wal = wal;
        self.overflow = false;
        self.compactions += 1;
        Ok(())
    }

    /// The machine lost power: the page cache is gone, unflushed writes are lost or torn.
    pub fn crash(&mut self) {
        self.fs.crash();
        self.io.clear();
        self.overflow = false;
        self.error = None;
        self.crashed = true;
    }

    /// Recovers the file system and replays the log: the image its intact records make, up to
    /// the first torn, corrupted or unreadable one. Without a crash since the last recovery,
    /// the image of every write so far (nothing to read). On an error (the disk refuses the
    /// reads) nothing changes, and recovery can be tried again.
    pub fn recover(&mut self) -> Result<Recovered, LogError> {
        if !self.crashed {
            return Ok(Recovered {
                image: self.head.clone(),
                records: 0,
            });
        }
        self.fs.recover(&mut self.io)?;
        if self.fs.exists(NEW) {
            // A compaction the crash interrupted before its rename.
            self.fs.unlink(NEW)?;
        }
        let (wal, records) = Wal::reopen(&mut self.fs, LOG, options(self.base), &mut self.io)?;
        let mut image = DurableImage::new();
        let mut kept = 0;
        for r in &records {
            let applied = wire::decode_write(r)
                .ok()
                .and_then(|w| image.apply(&w).ok());
            if applied.is_none() {
                break;
            }
            kept += 1;
        }
        self.wal = wal;
        self.head = image.clone();
        // An intact record that is not a write a node makes ends the log too; the next sync
        // rewrites the log without it and what follows.
        self.overflow = kept < records.len();
        self.crashed = false;
        Ok(Recovered {
            image,
            records: kept,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::kv::{Command, KvOp, KvState};
    use super::super::storage::SimStorage;
    use super::super::types::{Entry, Payload, Snapshot};
    use super::*;

    fn log(seed: u64, base: u64) -> WalLog {
        WalLog::format(1 << 16, RngStream::derive(seed, "wal-log"), base).unwrap()
    }

    fn entry(term: u64, i: u64) -> Entry {
        Entry {
            term,
            payload: Payload::Command(Command {
                session: 7,
                seq: i,
                op: KvOp::Put {
                    key: (i % 5) as u32,
                    value: i as i64,
                },
            }),
        }
    }

    /// A node's writes, as a leader of term `t` makes them: its hard state, then appends of
    /// two entries each, with a snapshot every `snap` appends (0: none).
    fn writes(n: u64, snap: u64) -> Vec<Write> {
        let mut ws = vec![Write::HardState {
            term: 1,
            vote: Some(0),
        }];
        for k in 0..n {
            let first = 2 * k + 1;
            ws.push(Write::Append {
                first,
                entries: vec![entry(1, first), entry(1, first + 1)],
            });
            if snap > 0 && k % snap == snap - 1 {
                ws.push(Write::Snapshot(Snapshot {
                    last_index: first,
                    last_term: 1,
                    data: KvState::new(),
                }));
            }
        }
        ws
    }

    /// Drives a log and the reference storage alike: each write, a sync after every
    /// `per_sync` (completed), then the last `tail` writes and a sync that the power fails
    /// during (at its first request, which a crash then tears), then the crash.
    fn drive(l: &mut WalLog, s: &mut SimStorage, ws: &[Write], per_sync: usize, tail: usize) {
        let synced = ws.len() - tail;
        for (i, w) in ws.iter().enumerate() {
            l.write(w);
            s.write(w.clone());
            if i < synced && ((i + 1) % per_sync == 0 || i + 1 == synced) {
                l.sync().unwrap();
                s.begin_sync();
                s.complete_sync();
            }
        }
        if tail > 0 {
            l.fs.device_mut().cut_power_after(0);
            assert!(l.sync().is_err());
            s.begin_sync();
        }
        l.crash();
        s.crash();
    }

    /// Without content faults, what the log replays is what `SimStorage` holds: the synced
    /// writes, and of those whose sync the crash cut short none, or a prefix that a torn write
    /// kept whole.
    #[test]
    fn the_log_replays_what_sim_storage_holds() {
        let mut outcomes = std::collections::BTreeSet::new();
        for seed in 0..32 {
            let mut l = log(seed, BASE_CAPACITY);
            let mut s = SimStorage::new();
            let ws = writes(40, 0);
            drive(&mut l, &mut s, &ws, 3, 5);
            let got = l.recover().unwrap();
            assert!(s.admits(&got.image), "seed {seed}");
            outcomes.insert(got.image == *s.durable());
        }
        assert_eq!(
            outcomes.len(),
            2,
            "the torn sync loses its writes, or keeps some"
        );
        // Every sync completed: exactly the reference.
        let mut l = log(1, BASE_CAPACITY);
        let mut s = SimStorage::new();
        drive(&mut l, &mut s, &writes(40, 0), 3, 0);
        assert_eq!(l.recover().unwrap().image, *s.durable());
    }

    /// A log whose file fills is compacted into a new one and keeps working across many
    /// fills and crashes; with snapshots the file stays small.
    #[test]
    fn a_full_log_is_compacted_and_recovers_the_same() {
        for snap in [0, 10] {
            let mut l = log(3, 4096);
            let mut s = SimStorage::new();
            let ws = writes(300, snap);
            drive(&mut l, &mut s, &ws, 4, 0);
            assert!(l.compactions() >= 3, "snap {snap}: {}", l.compactions());
            let got = l.recover().unwrap();
            assert_eq!(got.image, *s.durable(), "snap {snap}");
            // And it goes on after the restart.
            let more = Write::Append {
                first: got.image.last_index() + 1,
                entries: vec![entry(2, 0)],
            };
            l.write(&more);
            l.sync().unwrap();
            l.crash();
            let again = l.recover().unwrap();
            assert_eq!(again.image.last_index(), got.image.last_index() + 1);
        }
    }

    /// A crash during a compaction (power cut at each of its requests in turn) leaves the old
    /// log or the new one, whole.
    #[test]
    fn a_crash_during_a_compaction_keeps_a_whole_log() {
        let ws = writes(40, 0);
        let mut base = log(5, 4096);
        let mut s = SimStorage::new();
        assert!(s.admits(&DurableImage::new()));
        let mut synced = DurableImage::new();
        for w in &ws {
            base.write(w);
            s.write(w.clone());
            if base.overflow {
                break;
            }
            base.sync().unwrap();
            s.begin_sync();
            s.complete_sync();
            synced = s.durable().clone();
        }
        let mut outcomes = std::collections::BTreeSet::new();
        for cut in 0..40 {
            let mut l = base.clone();
            l.fs.device_mut().cut_power_after(cut);
            let ok = l.sync().is_ok();
            l.crash();
            let got = l.recover().unwrap();
            assert!(
                got.image == synced || got.image.last_index() > synced.last_index(),
                "cut {cut}: recovered {} of {}",
                got.image.last_index(),
                synced.last_index()
            );
            if ok {
                assert!(got.image.last_index() > synced.last_index(), "cut {cut}");
            }
            outcomes.insert(got.image == synced);
        }
        assert_eq!(outcomes.len(), 2, "both the old and the new log are seen");
    }

    /// A bit flipped in a synced record ends the replay there: the log recovers fewer
    /// records than it synced, and goes on after them.
    #[test]
    fn a_corrupted_record_ends_the_replay() {
        let mut shorter = 0;
        for seed in 0..16 {
            let mut l = log(seed, BASE_CAPACITY);
            let ws = writes(20, 0);
            for w in &ws[..10] {
                l.write(w);
                l.sync().unwrap();
            }
            l.fs.device_mut().faults_mut().corrupt_rate = 1.0;
            l.write(&ws[10]);
            l.sync().unwrap();
            l.fs.device_mut().faults_mut().corrupt_rate = 0.0;
            l.crash();
            let got = l.recover().unwrap();
            assert!(got.records <= 11, "seed {seed}");
            shorter += usize::from(got.records < 10);
            l.write(&Write::HardState {
                term: 2,
                vote: None,
            });
            l.sync().unwrap();
            l.crash();
            assert_eq!(l.recover().unwrap().records, got.records + 1);
        }
        assert!(shorter > 0, "a flip in an earlier record loses synced ones");
    }
}

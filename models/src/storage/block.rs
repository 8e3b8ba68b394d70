//! A block device's contents: durable sectors, a volatile write cache, and the faults a real
//! disk shows.
//!
//! **Writes** land in the drive's volatile cache and become durable at the next successful
//! [`BlockDevice::flush`]. Reads see the cache (the newest write of a sector wins).
//!
//! **Crash** ([`BlockDevice::crash`]): each write still in the cache, oldest first, either
//! reaches the platter whole with probability [`Faults::unflushed_survive`] (the drive may have
//! destaged it on its own) or is lost. With [`Faults::torn`] on, a write of several sectors is
//! not atomic: each of its sectors independently persists with probability 1/2, so any subset
//! of them (not only a prefix: drives reorder within a request) may survive. A single sector
//! always persists whole or not at all, the one atomicity a disk promises.
//!
//! **Power cut** ([`BlockDevice::cut_power_after`]): a crash at an arbitrary instant. After the
//! given number of further requests power fails: the request at the cut is in flight (a write
//! enters the cache, to be torn or lost at the crash) and it and every later one fail with
//! [`BlockError::PowerLost`] until [`BlockDevice::crash`] restores power.
//!
//! **Faults** ([`Faults`], switchable at any time; the scenario verbs set them): transient I/O
//! errors with a probability per request; latent sector errors (a set of unreadable sectors; a
//! write to one remaps it, as drives do); silent corruption (a write lands with one bit
//! flipped); misdirected writes (a write lands at another address, the intended sectors keep
//! their old content); failing writes and flushes (`fail-fsync`: writes are refused and flushes
//! fail, leaving the cache as it was); a space limit (writes past it are refused, an ENOSPC);
//! and whole-disk failure (every request errors).
//!
//! Not modelled: the drive's own remapping table beyond clearing a latent error, partial-sector
//! writes, FUA writes, and any notion of time (the world times the [`BlockIo`]s).

use std::collections::{BTreeMap, BTreeSet};

use simcore::RngStream;

use super::{BlockIo, IoKind, SECTOR_BYTES};

/// One sector's bytes.
pub type Sector = [u8; SECTOR_BYTES];

/// Why a request failed. Every variant is a value the layers above must handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("sectors {lba}..{end} lie beyond the device's {sectors} sectors")]
    OutOfRange { lba: u64, end: u64, sectors: u64 },
    #[error("a request must cover a positive whole number of sectors")]
    Unaligned,
    #[error("sector {lba} is unreadable (a latent sector error)")]
    Unreadable { lba: u64 },
    #[error("I/O error")]
    Io,
    #[error("no space left on the device")]
    NoSpace,
    #[error("the disk has failed")]
    Failed,
    #[error("the power is off")]
    PowerLost,
}

/// The device's faults, each switchable at run time.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Probability that a read or write fails with [`BlockError::Io`] (nothing is written).
    pub error_rate: f64,
    /// Probability that a write lands with one bit flipped, silently.
    pub corrupt_rate: f64,
    /// Probability that a write lands at another, random address, silently.
    pub misdirect_rate: f64,
    /// Writes are refused and flushes fail (`disk fail-fsync`); the cache keeps what it held.
    pub fail_writes: bool,
    /// Every request fails (a dead disk).
    pub failed: bool,
    /// Writes touching a sector at or past this limit are refused with [`BlockError::NoSpace`].
    pub space_limit: Option<u64>,
    /// Multi-sector writes unflushed at a crash persist a random subset of their sectors.
    pub torn: bool,
    /// Probability that a write unflushed at a crash persists anyway (whole, unless torn).
    pub unflushed_survive: f64,
}

impl Default for Faults {
    /// A healthy disk on which a crash loses every unflushed write.
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            corrupt_rate: 0.0,
            misdirect_rate: 0.0,
            fail_writes: false,
            failed: false,
            space_limit: None,
            torn: false,
            unflushed_survive: 0.0,
        }
    }
}

/// A write in the volatile cache, where it landed (after any misdirection) and what it holds.
#[derive(Debug, Clone)]
struct Pending {
    lba: u64,
    data: Vec<u8>,
}

/// Whether the device has power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Power {
    On,
    /// On for this many more requests; the next one after is cut.
    CutAfter(u64),
    Off,
}

/// What the power lets a request do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Go,
    /// Power failed during this request: a write is in flight (enters the cache), then fails.
    Cut,
    Dead,
}

/// A block device's contents. Unwritten sectors read as zeros.
#[derive(Debug, Clone)]
pub struct BlockDevice {
    sectors: u64,
    durable: BTreeMap<u64, Box<Sector>>,
    cache: Vec<Pending>,
    latent: BTreeSet<u64>,
    faults: Faults,
    power: Power,
    rng: RngStream,
}

impl BlockDevice {
    /// A zeroed device of `sectors` sectors whose faults draw from `rng`.
    pub fn new(sectors: u64, rng: RngStream) -> Self {
        BlockDevice {
            sectors,
            durable: BTreeMap::new(),
            cache: Vec::new(),
            latent: BTreeSet::new(),
            faults: Faults::default(),
            power: Power::On,
            rng,
        }
    }

    /// Capacity in sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The faults, to switch them (the scenario verbs land here).
    pub fn faults_mut(&mut self) -> &mut Faults {
        &mut self.faults
    }

    /// Makes `lba` unreadable until it is written again.
    pub fn add_latent(&mut self, lba: u64) {
        self.latent.insert(lba);
    }

    /// Makes each sector that holds durable data unreadable with probability `p` (latent
    /// sector errors: found only when the sector is read); returns how many.
    pub fn add_latent_share(&mut self, p: f64) -> usize {
        let hit: Vec<u64> = self
            .durable
            .keys()
            .copied()
            .filter(|_| self.rng.chance(p))
            .collect();
        let n = hit.len();
        self.latent.extend(hit);
        n
    }

    /// The unreadable sectors.
    pub fn latent(&self) -> &BTreeSet<u64> {
        &self.latent
    }

    /// Power fails during the request after the next `requests` ones (0: the very next).
    pub fn cut_power_after(&mut self, requests: u64) {
        self.power = Power::CutAfter(requests);
    }

    /// False once a power cut has happened, until the crash.
    pub fn powered(&self) -> bool {
        self.power != Power::Off
    }

    /// Writes issued but not yet flushed.
    pub fn unflushed(&self) -> usize {
        self.cache.len()
    }

    /// The stream the device's faults draw from; the file system above draws its crash
    /// choices from it too, so one stream decides a whole stack.
    pub(crate) fn rng(&mut self) -> &mut RngStream {
        &mut self.rng
    }

    /// Reads `count` sectors from `lba`, as the host sees them (the cache over the platter).
    pub fn read(
        &mut self,
        lba: u64,
        count: u32,
        io: &mut Vec<BlockIo>,
    ) -> Result<Vec<u8>, BlockError> {
        io.push(BlockIo {
            kind: IoKind::Read,
            lba,
            sectors: count,
        });
        self.admit(lba, count)?;
        let end = lba + u64::from(count);
        if let Some(&bad) = self.latent.range(lba..end).next() {
            return Err(BlockError::Unreadable { lba: bad });
        }
        if self.draw(self.faults.error_rate) {
            return Err(BlockError::Io);
        }
        Ok(self.contents(lba, count))
    }

    /// Writes whole sectors at `lba` into the volatile cache.
    pub fn write(
        &mut self,
        lba: u64,
        data: &[u8],
        io: &mut Vec<BlockIo>,
    ) -> Result<(), BlockError> {
        let count = u32::try_from(data.len() / SECTOR_BYTES).unwrap_or(u32::MAX);
        io.push(BlockIo {
            kind: IoKind::Write,
            lba,
            sectors: count,
        });
        if data.len() % SECTOR_BYTES != 0 {
            return Err(BlockError::Unaligned);
        }
        let gate = self.gate();
        if gate == Gate::Dead {
            return Err(BlockError::PowerLost);
        }
        self.check(lba, count)?;
        let end = lba + u64::from(count);
        if self.faults.space_limit.is_some_and(|limit| end > limit) {
            return Err(BlockError::NoSpace);
        }
        if self.faults.fail_writes || self.draw(self.faults.error_rate) {
            return Err(BlockError::Io);
        }
        self.land(lba, data);
        match gate {
            Gate::Cut => Err(BlockError::PowerLost),
            _ => Ok(()),
        }
    }

    /// Makes every cached write durable, oldest first.
    pub fn flush(&mut self, io: &mut Vec<BlockIo>) -> Result<(), BlockError> {
        io.push(BlockIo {
            kind: IoKind::Flush,
            lba: 0,
            sectors: 0,
        });
        match self.gate() {
            Gate::Go => {}
            Gate::Cut | Gate::Dead => return Err(BlockError::PowerLost),
        }
        if self.faults.failed {
            return Err(BlockError::Failed);
        }
        if self.faults.fail_writes {
            return Err(BlockError::Io);
        }
        for p in std::mem::take(&mut self.cache) {
            self.persist(p.lba, &p.data);
        }
        Ok(())
    }

    /// The machine lost power: each cached write persists whole, in part (torn) or not at all
    /// (see the module docs), the cache empties and power comes back.
    pub fn crash(&mut self) {
        for p in std::mem::take(&mut self.cache) {
            let n = p.data.len() / SECTOR_BYTES;
            if self.faults.torn && n > 1 {
                for (i, s) in p.data.chunks_exact(SECTOR_BYTES).enumerate() {
                    if self.rng.chance(0.5) {
                        self.persist(p.lba + i as u64, s);
                    }
                }
            } else if self.draw(self.faults.unflushed_survive) {
                self.persist(p.lba, &p.data);
            }
        }
        self.power = Power::On;
    }

    /// A sector as it is on the platter (not the cache): what a crash now would leave.
    pub fn durable_sector(&self, lba: u64) -> Sector {
        self.durable.get(&lba).map_or([0; SECTOR_BYTES], |s| **s)
    }

    /// True with probability `p`, drawing only when the fault is on (so a healthy disk draws
    /// nothing and switching one fault does not shift another's draws more than it must).
    fn draw(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.chance(p)
    }

    /// The power and failure checks every read shares.
    fn admit(&mut self, lba: u64, count: u32) -> Result<(), BlockError> {
        if self.gate() != Gate::Go {
            return Err(BlockError::PowerLost);
        }
        self.check(lba, count)
    }

    /// Advances the power state by one request.
    fn gate(&mut self) -> Gate {
        match self.power {
            Power::On => Gate::Go,
            Power::Off => Gate::Dead,
            Power::CutAfter(0) => {
                self.power = Power::Off;
                Gate::Cut
            }
            Power::CutAfter(n) => {
                self.power = Power::CutAfter(n - 1);
                Gate::Go
            }
        }
    }

    /// A dead disk and requests outside it fail.
    fn check(&self, lba: u64, count: u32) -> Result<(), BlockError> {
        if self.faults.failed {
            return Err(BlockError::Failed);
        }
        if count == 0 {
            return Err(BlockError::Unaligned);
        }
        let end = lba.saturating_add(u64::from(count));
        if end > self.sectors {
            return Err(BlockError::OutOfRange {
                lba,
                end,
                sectors: self.sectors,
            });
        }
        Ok(())
    }

    /// A write enters the cache, where its faults decide what it holds and where it lands.
    fn land(&mut self, lba: u64, data: &[u8]) {
        let mut data = data.to_vec();
        let count = (data.len() / SECTOR_BYTES) as u64;
        if self.draw(self.faults.corrupt_rate) {
            let bit = self.rng.below(data.len() as u64 * 8);
            data[(bit / 8) as usize] ^= 1 << (bit % 8);
        }
        let lba = if self.draw(self.faults.misdirect_rate) {
            self.rng.below(self.sectors - count + 1)
        } else {
            lba
        };
        for s in lba..lba + count {
            self.latent.remove(&s);
        }
        self.cache.push(Pending { lba, data });
    }

    /// Puts whole sectors on the platter.
    fn persist(&mut self, lba: u64, data: &[u8]) {
        for (i, s) in data.chunks_exact(SECTOR_BYTES).enumerate() {
            let mut sector = Box::new([0; SECTOR_BYTES]);
            sector.copy_from_slice(s);
            self.durable.insert(lba + i as u64, sector);
        }
    }

    /// What the host reads: the platter, overlaid with the cached writes oldest first.
    fn contents(&self, lba: u64, count: u32) -> Vec<u8> {
        let end = lba + u64::from(count);
        let mut out = vec![0; count as usize * SECTOR_BYTES];
        for (s, bytes) in self.durable.range(lba..end) {
            let at = (s - lba) as usize * SECTOR_BYTES;
            out[at..at + SECTOR_BYTES].copy_from_slice(&bytes[..]);
        }
        for p in &self.cache {
            let p_end = p.lba + (p.data.len() / SECTOR_BYTES) as u64;
            for s in p.lba.max(lba)..p_end.min(end) {
                let from = (s - p.lba) as usize * SECTOR_BYTES;
                let at = (s - lba) as usize * SECTOR_BYTES;
                out[at..at + SECTOR_BYTES].copy_from_slice(&p.data[from..from + SECTOR_BYTES]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> BlockDevice {
        BlockDevice::new(64, RngStream::derive(7, "block"))
    }

    fn sectors(fill: &[u8]) -> Vec<u8> {
        fill.iter().flat_map(|&b| [b; SECTOR_BYTES]).collect()
    }

    #[test]
    fn writes_are_read_back_and_durable_only_after_a_flush() {
        let mut d = dev();
        let mut io = Vec::new();
        d.write(4, &sectors(&[1, 2]), &mut io).unwrap();
        assert_eq!(d.read(4, 2, &mut io).unwrap(), sectors(&[1, 2]));
        assert_eq!(d.durable_sector(4), [0; SECTOR_BYTES]);
        d.flush(&mut io).unwrap();
        assert_eq!(d.durable_sector(5), [2; SECTOR_BYTES]);
        assert_eq!(
            io,
            vec![
                BlockIo {
                    kind: IoKind::Write,
                    lba: 4,
                    sectors: 2
                },
                BlockIo {
                    kind: IoKind::Read,
                    lba: 4,
                    sectors: 2
                },
                BlockIo {
                    kind: IoKind::Flush,
                    lba: 0,
                    sectors: 0
                },
            ]
        );
    }

    #[test]
    fn a_crash_loses_unflushed_writes_by_default() {
        let mut d = dev();
        let mut io = Vec::new();
        d.write(0, &sectors(&[1]), &mut io).unwrap();
        d.flush(&mut io).unwrap();
        d.write(0, &sectors(&[2]), &mut io).unwrap();
        d.crash();
        assert_eq!(d.read(0, 1, &mut io).unwrap(), sectors(&[1]));
    }

    /// A two-sector write unflushed at a crash, torn: over many trials each of the four subsets
    /// of its sectors shows up (so a suffix can survive without its prefix), and each sector is
    /// always whole, old or new.
    #[test]
    fn a_torn_two_sector_write_persists_any_subset_of_whole_sectors() {
        let mut seen = BTreeSet::new();
        for seed in 0..64 {
            let mut d = BlockDevice::new(8, RngStream::derive(seed, "torn"));
            d.faults_mut().torn = true;
            let mut io = Vec::new();
            d.write(2, &sectors(&[1, 1]), &mut io).unwrap();
            d.flush(&mut io).unwrap();
            d.write(2, &sectors(&[2, 2]), &mut io).unwrap();
            d.crash();
            let a = d.durable_sector(2);
            let b = d.durable_sector(3);
            for s in [a, b] {
                assert!(s == [1; SECTOR_BYTES] || s == [2; SECTOR_BYTES]);
            }
            seen.insert((a[0], b[0]));
        }
        assert_eq!(seen, BTreeSet::from([(1, 1), (1, 2), (2, 1), (2, 2)]));
    }

    #[test]
    fn a_power_cut_fails_the_request_at_the_cut_and_every_later_one() {
        let mut d = dev();
        d.faults_mut().unflushed_survive = 1.0;
        let mut io = Vec::new();
        d.cut_power_after(1);
        d.write(0, &sectors(&[1]), &mut io).unwrap();
        assert_eq!(
            d.write(1, &sectors(&[2]), &mut io),
            Err(BlockError::PowerLost)
        );
        assert!(!d.powered());
        assert_eq!(d.flush(&mut io), Err(BlockError::PowerLost));
        assert_eq!(d.read(0, 1, &mut io), Err(BlockError::PowerLost));
        d.crash();
        assert!(d.powered());
        // Both writes were in the cache (the second in flight at the cut) and survived.
        assert_eq!(d.read(0, 2, &mut io).unwrap(), sectors(&[1, 2]));
        assert_eq!(io.len(), 5, "failed requests are reported too");
    }

    #[test]
    fn latent_errors_fail_reads_until_the_sector_is_rewritten() {
        let mut d = dev();
        let mut io = Vec::new();
        d.add_latent(9);
        assert_eq!(
            d.read(8, 4, &mut io),
            Err(BlockError::Unreadable { lba: 9 })
        );
        d.write(9, &sectors(&[3]), &mut io).unwrap();
        assert_eq!(d.read(9, 1, &mut io).unwrap(), sectors(&[3]));
    }

    #[test]
    fn corruption_flips_one_bit_and_misdirection_moves_the_write() {
        let mut d = dev();
        let mut io = Vec::new();
        d.faults_mut().corrupt_rate = 1.0;
        d.write(0, &sectors(&[0, 0]), &mut io).unwrap();
        let got = d.read(0, 2, &mut io).unwrap();
        let flipped: u32 = got.iter().map(|b| b.count_ones()).sum();
        assert_eq!(flipped, 1);
        d.faults_mut().corrupt_rate = 0.0;
        d.faults_mut().misdirect_rate = 1.0;
        d.write(10, &sectors(&[5]), &mut io).unwrap();
        d.flush(&mut io).unwrap();
        let landed: Vec<u64> = (0..64)
            .filter(|&s| d.durable_sector(s) == [5; SECTOR_BYTES])
            .collect();
        assert_eq!(landed.len(), 1);
        assert_ne!(landed, vec![10], "this seed moves it");
    }

    #[test]
    fn failing_writes_full_and_failed_disks_refuse_requests() {
        let mut d = dev();
        let mut io = Vec::new();
        d.write(0, &sectors(&[1]), &mut io).unwrap();
        d.faults_mut().fail_writes = true;
        assert_eq!(d.write(1, &sectors(&[1]), &mut io), Err(BlockError::Io));
        assert_eq!(d.flush(&mut io), Err(BlockError::Io));
        assert_eq!(
            d.unflushed(),
            1,
            "a failed flush leaves the cache as it was"
        );
        d.faults_mut().fail_writes = false;
        d.faults_mut().space_limit = Some(16);
        assert_eq!(
            d.write(15, &sectors(&[1, 1]), &mut io),
            Err(BlockError::NoSpace)
        );
        d.write(14, &sectors(&[1, 1]), &mut io).unwrap();
        d.faults_mut().failed = true;
        assert_eq!(d.read(0, 1, &mut io), Err(BlockError::Failed));
        assert_eq!(d.flush(&mut io), Err(BlockError::Failed));
        assert!(matches!(
            d.read(63, 2, &mut io),
            Err(BlockError::Failed | BlockError::OutOfRange { .. })
        ));
    }
}

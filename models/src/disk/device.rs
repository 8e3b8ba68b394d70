//! A host's disk as one device, whichever model it is: a drive (HDD or SSD) or a RAID array
//! over several. [`Device::serve`] times one request started at a given instant and advances
//! the device's state (head, platter, flash mapping); what is queued in front of it is
//! [`super::queue::DiskQueue`]'s.
//!
//! An array serves a request by splitting it into chunks, mapping each through its [`Raid`]
//! level into member operations, and running each member operation on its member as soon as
//! that member is free: members work in parallel, and a request is done when its last member
//! operation is. A small write to RAID 4 or 5 writes its data and parity only after reading
//! both (read-modify-write). With a member failed, reads of what it held read the survivors
//! instead, and operations aimed at it are dropped; a rebuild ([`Device::rebuild_step`])
//! recovers it stripe by stripe onto a spare, competing with the requests for the survivors.

use super::hdd::Hdd;
use super::raid::{DiskOp, Level, Raid, RaidError};
use super::sched::Positioned;
use super::ssd::{Ssd, SsdError};
use super::workload::{IoKind, IoOp};

/// What a device cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("sectors {lba}..{end} lie past the device's end at {sectors}")]
    OutOfRange { lba: u64, end: u64, sectors: u64 },
    #[error("the array lost data: member {0} failed and the level has no redundancy")]
    Lost(u32),
    #[error(transparent)]
    Raid(#[from] RaidError),
    #[error("an array needs members of one size, at least one sector each")]
    Members,
    #[error(transparent)]
    Ssd(#[from] SsdError),
}

/// How one request went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Service {
    /// From the start to the completion, nanoseconds.
    pub total: u64,
    /// The seek's share (a drive with an arm; for an array, the longest member seek).
    pub seek: u64,
    /// Cylinders the arm moved.
    pub seek_distance: u32,
}

/// A disk.
#[derive(Debug, Clone)]
pub enum Device {
    Hdd(Hdd),
    Ssd(Box<Ssd>),
    Array(Box<Array>),
}

/// A RAID array over member devices of one size.
#[derive(Debug, Clone)]
pub struct Array {
    raid: Raid,
    /// Sectors per chunk: the array's block.
    chunk: u64,
    members: Vec<Device>,
    /// When each member finishes what it was given (nanoseconds).
    free_at: Vec<u64>,
    failed: Option<u32>,
    /// The next stripe a rebuild recovers, while one runs.
    rebuilding: Option<u64>,
}

impl Device {
    /// An array of `members` at `level`, striped in chunks of `chunk` sectors.
    pub fn array(level: Level, chunk: u64, members: Vec<Device>) -> Result<Device, DeviceError> {
        let size = members.first().map_or(0, Device::sectors);
        if chunk == 0 || size < chunk || members.iter().any(|m| m.sectors() != size) {
            return Err(DeviceError::Members);
        }
        let raid = Raid::new(level, members.len() as u32, size / chunk)?;
        Ok(Device::Array(Box::new(Array {
            raid,
            chunk,
            free_at: vec![0; members.len()],
            members,
            failed: None,
            rebuilding: None,
        })))
    }

    /// Capacity in sectors.
    pub fn sectors(&self) -> u64 {
        match self {
            Device::Hdd(h) => h.sectors(),
            Device::Ssd(s) => s.sectors(),
            Device::Array(a) => a.raid.capacity() * a.chunk,
        }
    }

    /// Requests the device works on at once. A drive's arm serves one at a time (an array's
    /// members overlap inside one request); an SSD takes a native command queue's 32 and
    /// overlaps them on its dies, each request waiting only for the dies it needs.
    pub fn slots(&self) -> usize {
        match self {
            Device::Ssd(_) => 32,
            Device::Hdd(_) | Device::Array(_) => 1,
        }
    }

    /// An SSD's write amplification so far (flash pages programmed per host page written).
    pub fn write_amplification(&self) -> Option<f64> {
        match self {
            Device::Ssd(s) => Some(s.stats().write_amplification()),
            _ => None,
        }
    }

    /// Serves `op` starting at `now` (nanoseconds).
    pub fn serve(&mut self, now: u64, op: &IoOp) -> Result<Service, DeviceError> {
        let end = op.lba.saturating_add(op.sectors);
        let sectors = self.sectors();
        if op.sectors == 0 || end > sectors {
            return Err(DeviceError::OutOfRange {
                lba: op.lba,
                end,
                sectors,
            });
        }
        match self {
            Device::Hdd(h) => {
                let from = h.head_cylinder();
                let a = h
                    .serve(now, op.lba, op.sectors, op.kind == IoKind::Write)
                    .ok_or(DeviceError::OutOfRange {
                        lba: op.lba,
                        end,
                        sectors,
                    })?;
                let to = h.locate(op.lba).map_or(from, |c| c.0);
                Ok(Service {
                    total: a.total(),
                    seek: a.seek,
                    seek_distance: from.abs_diff(to),
                })
            }
            Device::Ssd(s) => {
                let a = match op.kind {
                    IoKind::Read => s.read(now, op.lba, op.sectors)?,
                    IoKind::Write => s.write(now, op.lba, op.sectors)?,
                };
                Ok(Service {
                    total: a.total(),
                    seek: 0,
                    seek_distance: 0,
                })
            }
            Device::Array(a) => a.serve(now, op),
        }
    }

    /// Fails member `member` of an array (or the whole drive, for a drive: then every request
    /// is refused by the caller). False when there is no such member or one already failed.
    pub fn fail_member(&mut self, member: u32) -> bool {
        match self {
            Device::Array(a) if member < a.raid.disks && a.failed.is_none() => {
                a.failed = Some(member);
                a.rebuilding = None;
                true
            }
            _ => false,
        }
    }

    /// Starts rebuilding the failed member onto a spare. False when nothing failed.
    pub fn start_rebuild(&mut self) -> bool {
        match self {
            Device::Array(a) if a.failed.is_some() && a.raid.level != Level::Raid0 => {
                a.rebuilding = Some(0);
                true
            }
            _ => false,
        }
    }

    /// Whether a rebuild is under way.
    pub fn rebuilding(&self) -> bool {
        matches!(self, Device::Array(a) if a.rebuilding.is_some())
    }

    /// Recovers the next stripe of a rebuild at `now`: the time it takes, or `None` when no
    /// rebuild runs. The last stripe makes the array whole again.
    pub fn rebuild_step(&mut self, now: u64) -> Option<u64> {
        let Device::Array(a) = self else { return None };
        a.rebuild_step(now)
    }
}

impl Array {
    fn serve(&mut self, now: u64, op: &IoOp) -> Result<Service, DeviceError> {
        let mut done = now;
        let mut seek = Service::default();
        let mut lba = op.lba;
        let end = op.lba + op.sectors;
        while lba < end {
            let block = lba / self.chunk;
            let within = lba % self.chunk;
            let n = (self.chunk - within).min(end - lba);
            let ops = match op.kind {
                IoKind::Read => self.raid.read(block, self.failed),
                IoKind::Write => self.raid.write(block),
            };
            if ops.is_empty() {
                return Err(DeviceError::Lost(self.failed.unwrap_or(0)));
            }
            // Reads of a read-modify-write come before its writes: the writes wait for them.
            let reads_done =
                self.run(now, ops.iter().filter(|o| !o.write), within, n, &mut seek)?;
            let writes_done = self.run(
                reads_done,
                ops.iter().filter(|o| o.write),
                within,
                n,
                &mut seek,
            )?;
            done = done.max(reads_done).max(writes_done);
            lba += n;
        }
        Ok(Service {
            total: done - now,
            ..seek
        })
    }

    /// Runs member operations, each when its member is free and not before `start`, `n`
    /// sectors from `within` of the op's chunk; returns when the last ends.
    fn run<'a>(
        &mut self,
        start: u64,
        ops: impl Iterator<Item = &'a DiskOp>,
        within: u64,
        n: u64,
        seek: &mut Service,
    ) -> Result<u64, DeviceError> {
        let mut last = start;
        for o in ops {
            if Some(o.disk) == self.failed {
                continue;
            }
            let d = o.disk as usize;
            let at = self.free_at[d].max(start);
            let kind = if o.write { IoKind::Write } else { IoKind::Read };
            let member_op = IoOp {
                kind,
                lba: o.block * self.chunk + within,
                sectors: n,
            };
            let s = self.members[d].serve(at, &member_op)?;
            if s.seek > seek.seek {
                seek.seek = s.seek;
                seek.seek_distance = s.seek_distance;
            }
            self.free_at[d] = at + s.total;
            last = last.max(at + s.total);
        }
        Ok(last)
    }

    fn rebuild_step(&mut self, now: u64) -> Option<u64> {
        let row = self.rebuilding?;
        let failed = self.failed?;
        // The stripe's survivors are read (or the mirror), then the spare, standing in the
        // failed member's place, is written.
        let mut reads: Vec<DiskOp> = match self.raid.level {
            Level::Raid0 => return None,
            Level::Raid1 => vec![DiskOp {
                disk: failed ^ 1,
                block: row,
                write: false,
            }],
            Level::Raid4 | Level::Raid5 => (0..self.raid.disks)
                .filter(|&d| d != failed)
                .map(|disk| DiskOp {
                    disk,
                    block: row,
                    write: false,
                })
                .collect(),
        };
        let mut unused = Service::default();
        let chunk = self.chunk;
        let read_done = self
            .run(now, reads.iter(), 0, chunk, &mut unused)
            .unwrap_or(now);
        reads.clear();
        // The spare is the failed member's slot, written as if whole again.
        self.failed = None;
        let write = DiskOp {
            disk: failed,
            block: row,
            write: true,
        };
        let done = self
            .run(read_done, std::iter::once(&write), 0, chunk, &mut unused)
            .unwrap_or(read_done);
        if row + 1 < self.raid.blocks {
            self.failed = Some(failed);
            self.rebuilding = Some(row + 1);
        } else {
            self.rebuilding = None;
        }
        Some(done.saturating_sub(now))
    }
}

impl Positioned for Device {
    fn head_cylinder(&self) -> u32 {
        match self {
            Device::Hdd(h) => h.head_cylinder(),
            Device::Ssd(_) | Device::Array(_) => 0,
        }
    }
    fn cylinder(&self, lba: u64) -> u32 {
        match self {
            Device::Hdd(h) => Positioned::cylinder(h, lba),
            Device::Ssd(_) => 0,
            // An array's members each have their own arm: by position in the array, a sweep
            // over logical blocks is a sweep over each member.
            Device::Array(a) => {
                (lba / a.chunk / u64::from(a.raid.disks)).min(u64::from(u32::MAX - 1)) as u32
            }
        }
    }
    fn positioning(&self, now: u64, lba: u64) -> u64 {
        match self {
            Device::Hdd(h) => h.positioning(now, lba),
            Device::Ssd(_) | Device::Array(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduler tests' drive: 6000 rpm, 200 cylinders of one 100-sector track.
    pub(crate) fn small_hdd() -> Device {
        Device::Hdd(super::super::sched::tests::disk())
    }

    fn op(kind: IoKind, lba: u64, sectors: u64) -> IoOp {
        IoOp { kind, lba, sectors }
    }

    #[test]
    fn a_drive_reports_its_seek() {
        let mut d = small_hdd();
        let s = d.serve(0, &op(IoKind::Read, 50 * 100, 1)).unwrap();
        assert_eq!(s.seek_distance, 50);
        assert_eq!(s.seek, 6_000_000, "1 ms + 0.1 ms x 50");
        assert_eq!(
            s.total,
            s.seek + 4_000_000 + 100_000,
            "rotation to sector 0, one sector"
        );
        assert!(d.serve(0, &op(IoKind::Read, 200 * 100, 1)).is_err());
        assert!(d.serve(0, &op(IoKind::Read, 0, 0)).is_err());
    }

    /// A RAID-5 small write reads data and parity and then writes both: twice one member's
    /// read time at least, on two members at once.
    #[test]
    fn raid5_small_writes_read_then_write_and_degraded_reads_read_the_stripe() {
        let members = || (0..4).map(|_| small_hdd()).collect::<Vec<_>>();
        let mut a = Device::array(Level::Raid5, 1, members()).unwrap();
        assert_eq!(a.sectors(), 3 * 20_000);
        let read = a.serve(0, &op(IoKind::Read, 0, 1)).unwrap().total;
        let mut b = Device::array(Level::Raid5, 1, members()).unwrap();
        let write = b.serve(0, &op(IoKind::Write, 0, 1)).unwrap().total;
        assert!(write > read, "write {write} ns against read {read} ns");
        // Degraded: block 0 lives on member 1 (left-symmetric, parity on member 3 in row 0).
        let mut c = Device::array(Level::Raid5, 1, members()).unwrap();
        assert!(c.fail_member(1));
        assert!(!c.fail_member(2), "one failure at a time");
        let degraded = c.serve(0, &op(IoKind::Read, 0, 1)).unwrap();
        assert!(degraded.total >= read);
        // A rebuild walks every stripe, then the array is whole.
        assert!(c.start_rebuild());
        let mut now = 0;
        let mut steps = 0;
        while let Some(t) = c.rebuild_step(now) {
            now += t;
            steps += 1;
        }
        assert_eq!(steps, 20_000, "one step per stripe");
        assert!(!c.rebuilding());
        let Device::Array(arr) = &c else {
            unreachable!()
        };
        assert_eq!(arr.failed, None);
    }

    #[test]
    fn raid0_loses_what_a_failed_member_held() {
        let members = (0..2).map(|_| small_hdd()).collect();
        let mut a = Device::array(Level::Raid0, 8, members).unwrap();
        assert!(a.fail_member(0));
        assert!(matches!(
            a.serve(0, &op(IoKind::Read, 0, 8)),
            Err(DeviceError::Lost(0))
        ));
        assert!(
            a.serve(0, &op(IoKind::Read, 8, 8)).is_ok(),
            "member 1's chunk"
        );
        assert!(!a.start_rebuild(), "nothing to rebuild from");
    }
}

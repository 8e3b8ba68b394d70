//! RAID levels 0, 1, 4 and 5 as mappings from a logical block to the disks that hold it, and the
//! disk operations each logical read and write costs (OSTEP, "Redundant Arrays of Inexpensive
//! Disks"): striping with a chunk of one block, mirroring in pairs, a parity disk, and parity
//! rotated across the disks (left-symmetric, as in OSTEP's figure). A small write to RAID 4 or 5
//! reads the old data and parity and writes both (subtractive parity): four operations, of which
//! RAID 4 puts two on its one parity disk every time.
//!
//! Degraded operation: with one disk failed, a read of a block it held reads every other disk of
//! the stripe (the data and parity it can be rebuilt from); a rebuild reads the stripe's
//! survivors and writes the spare.

/// The levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Raid0,
    Raid1,
    Raid4,
    Raid5,
}

/// One operation on one disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiskOp {
    pub disk: u32,
    pub block: u64,
    pub write: bool,
}

/// What cannot be an array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaidError {
    #[error(
        "RAID 0 needs 1 disk or more, RAID 1 an even number, RAID 4 and 5 three or more; not {0}"
    )]
    Disks(u32),
}

/// An array of `disks` disks of `blocks` blocks each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raid {
    pub level: Level,
    pub disks: u32,
    pub blocks: u64,
}

impl Raid {
    pub fn new(level: Level, disks: u32, blocks: u64) -> Result<Raid, RaidError> {
        let ok = match level {
            Level::Raid0 => disks >= 1,
            Level::Raid1 => disks >= 2 && disks % 2 == 0,
            Level::Raid4 | Level::Raid5 => disks >= 3,
        };
        if !ok {
            return Err(RaidError::Disks(disks));
        }
        Ok(Raid {
            level,
            disks,
            blocks,
        })
    }

    /// Data disks per stripe.
    fn data_disks(&self) -> u32 {
        match self.level {
            Level::Raid0 => self.disks,
            Level::Raid1 => self.disks / 2,
            Level::Raid4 | Level::Raid5 => self.disks - 1,
        }
    }

    /// Logical blocks the array holds (OSTEP: N·B, N·B/2, (N−1)·B, (N−1)·B).
    pub fn capacity(&self) -> u64 {
        u64::from(self.data_disks()) * self.blocks
    }

    /// The stripe (row) a logical block is in, the disk holding it and the disk holding its
    /// stripe's parity (or mirror copy); `None` past the end.
    pub fn locate(&self, lba: u64) -> Option<(u64, u32, Option<u32>)> {
        if lba >= self.capacity() {
            return None;
        }
        let n = u64::from(self.data_disks());
        let row = lba / n;
        let k = (lba % n) as u32;
        Some(match self.level {
            Level::Raid0 => (row, k, None),
            // Pairs: block k of a row on disk 2k, its copy on 2k + 1.
            Level::Raid1 => (row, 2 * k, Some(2 * k + 1)),
            Level::Raid4 => (row, k, Some(self.disks - 1)),
            Level::Raid5 => {
                // Left-symmetric: parity on the last disk in row 0, moving one disk left per
                // row; the row's data starts just after the parity disk and wraps.
                let d = u64::from(self.disks);
                let parity = (d - 1 - row % d) as u32;
                let disk = (parity + 1 + k) % self.disks;
                (row, disk, Some(parity))
            }
        })
    }

    /// The disk operations a read of `lba` costs, with `failed` the failed disk if any: one read,
    /// or in a degraded stripe the reads that rebuild it.
    pub fn read(&self, lba: u64, failed: Option<u32>) -> Vec<DiskOp> {
        let Some((row, disk, redundant)) = self.locate(lba) else {
            return Vec::new();
        };
        let read = |disk| DiskOp {
            disk,
            block: row,
            write: false,
        };
        if failed != Some(disk) {
            return vec![read(disk)];
        }
        match (self.level, redundant) {
            (Level::Raid1, Some(copy)) => vec![read(copy)],
            (Level::Raid4 | Level::Raid5, Some(_)) => {
                (0..self.disks).filter(|&d| d != disk).map(read).collect()
            }
            _ => Vec::new(), // RAID 0 lost it.
        }
    }

    /// The disk operations a one-block write of `lba` costs: the write; both copies; or, with
    /// parity, read old data and parity then write both.
    pub fn write(&self, lba: u64) -> Vec<DiskOp> {
        let Some((row, disk, redundant)) = self.locate(lba) else {
            return Vec::new();
        };
        let op = |disk, write| DiskOp {
            disk,
            block: row,
            write,
        };
        match (self.level, redundant) {
            (Level::Raid0, _) | (_, None) => vec![op(disk, true)],
            (Level::Raid1, Some(copy)) => vec![op(disk, true), op(copy, true)],
            (Level::Raid4 | Level::Raid5, Some(parity)) => vec![
                op(disk, false),
                op(parity, false),
                op(disk, true),
                op(parity, true),
            ],
        }
    }

    /// Rebuilding failed disk `failed` onto a spare: per stripe, the reads of its survivors
    /// (or its mirror) and one write to the spare (numbered `disks`).
    pub fn rebuild(&self, failed: u32) -> Vec<DiskOp> {
        let mut ops = Vec::new();
        for row in 0..self.blocks {
            match self.level {
                Level::Raid0 => return Vec::new(),
                Level::Raid1 => ops.push(DiskOp {
                    disk: failed ^ 1,
                    block: row,
                    write: false,
                }),
                Level::Raid4 | Level::Raid5 => {
                    ops.extend((0..self.disks).filter(|&d| d != failed).map(|disk| DiskOp {
                        disk,
                        block: row,
                        write: false,
                    }))
                }
            }
            ops.push(DiskOp {
                disk: self.disks,
                block: row,
                write: true,
            });
        }
        ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_ostep_table() {
        // N = 4 disks of B = 100 blocks: N·B, N·B/2, (N−1)·B, (N−1)·B.
        let cap = |l| Raid::new(l, 4, 100).unwrap().capacity();
        assert_eq!(
            [
                cap(Level::Raid0),
                cap(Level::Raid1),
                cap(Level::Raid4),
                cap(Level::Raid5)
            ],
            [400, 200, 300, 300]
        );
        assert!(Raid::new(Level::Raid1, 3, 1).is_err());
        assert!(Raid::new(Level::Raid5, 2, 1).is_err());
    }

    #[test]
    fn raid5_rotates_parity_as_ostep_draws_it() {
        // OSTEP's RAID-5 figure, 5 disks: row 0 is 0 1 2 3 P0, row 1 is 5 6 7 P1 4, row 2 is
        // 10 11 P2 8 9, ...
        let r = Raid::new(Level::Raid5, 5, 10).unwrap();
        let row = |n: u64| -> Vec<String> {
            let mut cells = vec![String::new(); 5];
            for lba in n * 4..n * 4 + 4 {
                let (_, disk, parity) = r.locate(lba).unwrap();
                cells[disk as usize] = lba.to_string();
                cells[parity.unwrap() as usize] = format!("P{n}");
            }
            cells
        };
        assert_eq!(row(0), ["0", "1", "2", "3", "P0"]);
        assert_eq!(row(1), ["5", "6", "7", "P1", "4"]);
        assert_eq!(row(2), ["10", "11", "P2", "8", "9"]);
        assert_eq!(row(4), ["P4", "16", "17", "18", "19"]);
    }

    /// OSTEP's throughput table for random writes, from the operations each write costs: with
    /// N disks each doing R random operations a second, the array writes N·R (RAID 0), N/2·R
    /// (RAID 1), R/2 (RAID 4: its parity disk does two operations per write) and N/4·R (RAID 5:
    /// four operations spread over all disks).
    #[test]
    fn random_write_throughput_is_ostep_table() {
        let n = 8u32;
        let writes = 80_000u64;
        for (level, want) in [
            (Level::Raid0, 8.0),
            (Level::Raid1, 4.0),
            (Level::Raid4, 0.5),
            (Level::Raid5, 2.0),
        ] {
            let r = Raid::new(level, n, 1_000_000).unwrap();
            let mut per_disk = vec![0u64; n as usize];
            let mut rng = simcore::RngStream::derive(1, "raid");
            for _ in 0..writes {
                for op in r.write(rng.below(r.capacity())) {
                    per_disk[op.disk as usize] += 1;
                }
            }
            // The busiest disk sets the pace: writes per unit of one disk's R.
            let busiest = *per_disk.iter().max().unwrap() as f64;
            let rate = writes as f64 / busiest;
            assert!(
                (rate - want).abs() / want < 0.05,
                "{level:?}: {rate:.2} R, want {want} R"
            );
        }
    }

    #[test]
    fn a_degraded_read_rebuilds_from_the_rest_of_its_stripe() {
        let r = Raid::new(Level::Raid5, 5, 10).unwrap();
        let (_, disk, _) = r.locate(6).unwrap();
        assert_eq!(r.read(6, None).len(), 1);
        let ops = r.read(6, Some(disk));
        assert_eq!(ops.len(), 4);
        assert!(
            ops.iter()
                .all(|o| o.disk != disk && !o.write && o.block == 1)
        );
        let m = Raid::new(Level::Raid1, 4, 10).unwrap();
        assert_eq!(
            m.read(0, Some(0)),
            [DiskOp {
                disk: 1,
                block: 0,
                write: false
            }]
        );
        assert!(
            Raid::new(Level::Raid0, 4, 10)
                .unwrap()
                .read(0, Some(0))
                .is_empty()
        );
        // Rebuilding disk 2 of the RAID 5: every stripe, 4 reads and a write to the spare.
        let rb = r.rebuild(2);
        assert_eq!(rb.len(), 10 * 5);
        assert_eq!(rb.iter().filter(|o| o.write && o.disk == 5).count(), 10);
    }
}

//! A hard disk drive's service time, after Ruemmler and Wilkes, "An introduction to disk drive
//! modeling" (IEEE Computer, 1994): a request's time is the seek to its cylinder, the rotational
//! latency until its first sector comes under the head, and the transfer of its sectors.
//!
//! - **Seek** time depends on the distance in cylinders: short seeks are dominated by the arm's
//!   acceleration and grow like a square root, long ones coast at full speed and grow linearly
//!   ([`SeekCurve`]; the paper fits `3.24 + 0.400 √d` ms below 383 cylinders and `8.00 + 0.008 d`
//!   ms above for the HP 97560).
//! - **Rotation** is a real angle: the platter turns at the spindle speed from angle 0 at time 0,
//!   and a sector sits at angle `sector / sectors_per_track` of its track. The wait is the angle
//!   from where the head is when the seek ends to the sector's, in time.
//! - **Transfer** reads sectors as they pass: a track's worth per rotation. Outer zones hold more
//!   sectors per track, so they transfer faster ([`Zone`]). A request that runs past the end of a
//!   track continues on the next one without a head-switch or skew delay (not modelled yet).
//!
//! - **Track buffer**: a drive that has read sectors goes on reading the rest of the track into
//!   its buffer as it passes under the head, until the next command arrives (read-ahead; Ruemmler
//!   and Wilkes' "read-ahead" caching). A read wholly within what is buffered, or arriving under
//!   the head, is served from the buffer over the interface at `track_buffer` bytes a second,
//!   without a seek or a turn; a write, or a read the buffer does not hold, ends the read-ahead.
//!
//! Not modelled yet: a volatile write-back cache (writes complete when the media has them),
//! head and track switch times. Command queueing is the scheduler's business: SATF in front of a
//! drive is what a drive's own queue reordering (NCQ) does.

/// Bytes per sector.
pub const SECTOR_BYTES: u64 = 512;

/// Seek time against distance, in the two-piece form Ruemmler and Wilkes fit: `short_a +
/// short_b·√d` up to `boundary` cylinders, `long_a + long_b·d` beyond; 0 for no move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeekCurve {
    /// Milliseconds.
    pub short_a: f64,
    /// Milliseconds per √cylinder.
    pub short_b: f64,
    /// Distances below this are short seeks.
    pub boundary: u32,
    /// Milliseconds.
    pub long_a: f64,
    /// Milliseconds per cylinder.
    pub long_b: f64,
}

impl SeekCurve {
    /// The HP 97560's curve as the paper gives it.
    pub const HP_97560: SeekCurve = SeekCurve {
        short_a: 3.24,
        short_b: 0.400,
        boundary: 383,
        long_a: 8.00,
        long_b: 0.008,
    };

    /// A straight line `a + b·d` ms for every move (both pieces the same): the simplest curve,
    /// for a drive known only by its average seek.
    pub const fn linear(a: f64, b: f64) -> SeekCurve {
        SeekCurve {
            short_a: a,
            short_b: 0.0,
            boundary: 0,
            long_a: a,
            long_b: b,
        }
    }

    /// This curve's shape stretched over a drive of `cylinders` and scaled so that its average
    /// over random seeks (two uniformly random cylinders) is `average_ns`: a drive known by
    /// its datasheet's average seek, with the square-root start and linear coast that
    /// Ruemmler and Wilkes measured. `from` is the number of cylinders the curve was fitted on.
    pub fn scaled(&self, from: u32, cylinders: u32, average_ns: u64) -> SeekCurve {
        let stretch = f64::from(from) / f64::from(cylinders.max(1));
        let shaped = SeekCurve {
            short_a: self.short_a,
            short_b: self.short_b * stretch.sqrt(),
            boundary: ((f64::from(self.boundary) / stretch).round() as u32).max(1),
            long_a: self.long_a,
            long_b: self.long_b * stretch,
        };
        // The mean over distances: d has density 2(C − d)/C² for two uniform cylinders.
        let c = u64::from(cylinders.max(2));
        let step = (c / 4096).max(1);
        let (mut sum, mut weight) = (0.0, 0.0);
        let mut d = 1;
        while d < c {
            let w = (c - d) as f64;
            sum += w * shaped.time_ns(d as u32) as f64;
            weight += w;
            d += step;
        }
        let mean = if weight > 0.0 { sum / weight } else { 1.0 };
        // Zero-distance seeks (probability 1/C) cost nothing and are left out of the mean.
        let k = average_ns as f64 / mean.max(1.0);
        SeekCurve {
            short_a: shaped.short_a * k,
            short_b: shaped.short_b * k,
            long_a: shaped.long_a * k,
            long_b: shaped.long_b * k,
            ..shaped
        }
    }

    /// The HP 97560's cylinders, over which [`SeekCurve::HP_97560`] was fitted.
    pub const HP_97560_CYLINDERS: u32 = 1962;

    /// The time to move `distance` cylinders, in nanoseconds.
    pub fn time_ns(&self, distance: u32) -> u64 {
        if distance == 0 {
            return 0;
        }
        let d = f64::from(distance);
        let ms = if distance < self.boundary {
            // IEEE 754 requires a correctly rounded square root, so this agrees on every platform.
            self.short_a + self.short_b * d.sqrt()
        } else {
            self.long_a + self.long_b * d
        };
        (ms * 1e6).round().max(0.0) as u64
    }
}

/// A band of cylinders with the same number of sectors per track (outer zones hold more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    /// The zone's first cylinder; zones are listed from cylinder 0 outward in.
    pub first_cylinder: u32,
    pub sectors_per_track: u32,
}

/// A drive's geometry and mechanics.
#[derive(Debug, Clone, PartialEq)]
pub struct HddSpec {
    pub rpm: u32,
    pub cylinders: u32,
    /// Tracks per cylinder (one per surface).
    pub heads: u32,
    /// At least one; the first starts at cylinder 0.
    pub zones: Vec<Zone>,
    pub seek: SeekCurve,
    /// The interface's bytes per second for reads served from the track buffer; `None`: no
    /// read-ahead into a track buffer.
    pub track_buffer: Option<u64>,
}

impl HddSpec {
    /// A SATA 3 interface's payload rate (6 Gb/s with 8b/10b coding): what a read from the
    /// track buffer moves at.
    pub const SATA_BYTES_PER_S: u64 = 600_000_000;

    /// Heads of a drive built from a datasheet.
    pub const DATASHEET_HEADS: u32 = 4;
    /// Zones of a drive built from a datasheet, outer to inner.
    pub const DATASHEET_ZONES: u32 = 4;
    /// The inner zone's transfer rate as a share of the outer's (about 60% on real drives:
    /// the inner tracks are shorter at the same bit density).
    pub const INNER_SHARE: f64 = 0.6;

    /// A drive from its datasheet: spindle speed, average seek, the outer zone's transfer rate
    /// (bytes per second) and capacity (bytes). Four zones step the sectors per track down to
    /// 60% of the outer's, the cylinders fill the capacity, and the seek curve has Ruemmler and
    /// Wilkes' HP 97560 shape scaled to the average seek.
    pub fn from_datasheet(
        rpm: u32,
        average_seek_ns: u64,
        transfer: u64,
        capacity: u64,
    ) -> Result<HddSpec, HddError> {
        if rpm == 0 || transfer == 0 || capacity == 0 {
            return Err(HddError::Empty);
        }
        let period_s = 60.0 / f64::from(rpm);
        let outer = (transfer as f64 * period_s / SECTOR_BYTES as f64)
            .round()
            .max(1.0);
        let zones_n = Self::DATASHEET_ZONES;
        let spts: Vec<u32> = (0..zones_n)
            .map(|z| {
                let share = 1.0 - (1.0 - Self::INNER_SHARE) * f64::from(z) / f64::from(zones_n - 1);
                (outer * share).round().max(1.0) as u32
            })
            .collect();
        let mean_spt = spts.iter().map(|&s| f64::from(s)).sum::<f64>() / f64::from(zones_n);
        let per_cylinder = mean_spt * f64::from(Self::DATASHEET_HEADS) * SECTOR_BYTES as f64;
        let cylinders = ((capacity as f64 / per_cylinder).ceil() as u64)
            .clamp(u64::from(zones_n), u64::from(u32::MAX / 2)) as u32;
        let zones = spts
            .iter()
            .enumerate()
            .map(|(z, &spt)| Zone {
                first_cylinder: (u64::from(cylinders) * z as u64 / u64::from(zones_n)) as u32,
                sectors_per_track: spt,
            })
            .collect();
        let seek =
            SeekCurve::HP_97560.scaled(SeekCurve::HP_97560_CYLINDERS, cylinders, average_seek_ns);
        Ok(HddSpec {
            rpm,
            cylinders,
            heads: Self::DATASHEET_HEADS,
            zones,
            seek,
            track_buffer: Some(Self::SATA_BYTES_PER_S),
        })
    }
}

/// What a drive cannot be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HddError {
    #[error("a drive needs a positive spindle speed, cylinders and heads")]
    Empty,
    #[error("zones must start at cylinder 0, ascend, and hold at least one sector per track")]
    BadZones,
}

/// One request's time, in nanoseconds, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub seek: u64,
    pub rotation: u64,
    pub transfer: u64,
}

impl Access {
    pub fn total(&self) -> u64 {
        self.seek + self.rotation + self.transfer
    }
}

/// A drive: its spec and where its head is.
#[derive(Debug, Clone)]
pub struct Hdd {
    spec: HddSpec,
    /// Sectors before each zone's first cylinder, by zone.
    zone_start: Vec<u64>,
    sectors: u64,
    head_cylinder: u32,
    /// The read-ahead after the last read: sectors `start..track_end` of one track, of which
    /// `start..read_end` (the read itself) were buffered at `at`, and each sector after them
    /// arrives a sector's time after the one before.
    buffer: Option<ReadAhead>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadAhead {
    start: u64,
    read_end: u64,
    track_end: u64,
    at: u64,
    /// Nanoseconds per sector on this track, times 2^16 (fixed point).
    sector_ns_x65536: u64,
}

impl Hdd {
    pub fn new(spec: HddSpec) -> Result<Hdd, HddError> {
        if spec.rpm == 0 || spec.cylinders == 0 || spec.heads == 0 {
            return Err(HddError::Empty);
        }
        let ok = spec.zones.first().is_some_and(|z| z.first_cylinder == 0)
            && spec
                .zones
                .windows(2)
                .all(|w| w[0].first_cylinder < w[1].first_cylinder)
            && spec
                .zones
                .iter()
                .all(|z| z.sectors_per_track > 0 && z.first_cylinder < spec.cylinders);
        if !ok {
            return Err(HddError::BadZones);
        }
        let mut zone_start = Vec::with_capacity(spec.zones.len());
        let mut total = 0u64;
        for (i, z) in spec.zones.iter().enumerate() {
            zone_start.push(total);
            let end = spec
                .zones
                .get(i + 1)
                .map_or(spec.cylinders, |n| n.first_cylinder);
            total += u64::from(end - z.first_cylinder)
                * u64::from(spec.heads)
                * u64::from(z.sectors_per_track);
        }
        Ok(Hdd {
            spec,
            zone_start,
            sectors: total,
            head_cylinder: 0,
            buffer: None,
        })
    }

    /// The drive's capacity in sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// One rotation, in nanoseconds.
    pub fn period_ns(&self) -> u64 {
        60_000_000_000 / u64::from(self.spec.rpm)
    }

    /// Where the head is.
    pub fn head_cylinder(&self) -> u32 {
        self.head_cylinder
    }

    /// The cylinder, sector within its track, and sectors per track of a logical block
    /// (sectors are numbered track by track, surface by surface, cylinder by cylinder, from the
    /// outer edge in); `None` past the end.
    pub fn locate(&self, lba: u64) -> Option<(u32, u32, u32)> {
        if lba >= self.sectors {
            return None;
        }
        let z = self.zone_start.partition_point(|&s| s <= lba) - 1;
        let zone = self.spec.zones[z];
        let spt = u64::from(zone.sectors_per_track);
        let per_cylinder = spt * u64::from(self.spec.heads);
        let within = lba - self.zone_start[z];
        let cylinder = zone.first_cylinder + (within / per_cylinder) as u32;
        let sector = (within % spt) as u32;
        Some((cylinder, sector, zone.sectors_per_track))
    }

    /// Serves `count` sectors from `lba`, starting at `now` (nanoseconds): the seek, the wait
    /// for the first sector, the transfer; the head is left on the cylinder of the last sector.
    /// `None` when the request runs past the end of the drive or is empty.
    pub fn access(&mut self, now: u64, lba: u64, count: u64) -> Option<Access> {
        self.serve(now, lba, count, false)
    }

    /// [`Hdd::access`] for a read (`write` false) or a write: a read may come from the track
    /// buffer and starts a read-ahead; a write drops buffered sectors it overwrites.
    pub fn serve(&mut self, now: u64, lba: u64, count: u64, write: bool) -> Option<Access> {
        if !write && let Some(a) = self.buffered(now, lba, count) {
            return Some(a);
        }
        let (access, end_cylinder) = self.estimate(now, lba, count)?;
        self.head_cylinder = end_cylinder;
        self.buffer = None;
        if !write && self.spec.track_buffer.is_some() {
            // Read on to the end of the last sector's track as it passes under the head.
            let last = lba + count - 1;
            if let Some((_, sector, spt)) = self.locate(last) {
                let period = u128::from(self.period_ns());
                self.buffer = Some(ReadAhead {
                    start: lba,
                    read_end: last + 1,
                    track_end: last - u64::from(sector) + u64::from(spt),
                    at: now + access.total(),
                    sector_ns_x65536: (period * 65_536 / u128::from(spt)) as u64,
                });
            }
        }
        Some(access)
    }

    /// A read served from the track buffer: its sectors, once buffered (or as they arrive
    /// under the head), cross the interface; `None` when they are not all in the read-ahead's
    /// range.
    fn buffered(&self, now: u64, lba: u64, count: u64) -> Option<Access> {
        let b = self.buffer?;
        let bus = self.spec.track_buffer?;
        let end = lba.checked_add(count)?;
        if count == 0 || lba < b.start || end > b.track_end {
            return None;
        }
        let ready = if end <= b.read_end {
            b.at
        } else {
            b.at + (end - b.read_end) * b.sector_ns_x65536 / 65_536
        };
        Some(Access {
            seek: 0,
            rotation: ready.saturating_sub(now),
            transfer: count * SECTOR_BYTES * 1_000_000_000 / bus.max(1),
        })
    }

    /// What [`Hdd::access`] would take, and the cylinder it would leave the head on, without
    /// moving the head (for schedulers that compare requests).
    pub fn estimate(&self, now: u64, lba: u64, count: u64) -> Option<(Access, u32)> {
        let last = lba.checked_add(count.checked_sub(1)?)?;
        let (cylinder, sector, spt) = self.locate(lba)?;
        let (end_cylinder, _, _) = self.locate(last)?;
        let seek = self
            .spec
            .seek
            .time_ns(cylinder.abs_diff(self.head_cylinder));
        let period = self.period_ns();
        // The platter's angle when the seek ends, and the sector's, as fractions of a turn.
        let at = (now + seek) % period;
        let target = u64::from(sector) * period / u64::from(spt);
        let rotation = (target + period - at) % period;
        let access = Access {
            seek,
            rotation,
            transfer: self.transfer_ns(lba, count),
        };
        Some((access, end_cylinder))
    }

    /// Reading `count` sectors from `lba` as they pass under the head, zone by zone.
    fn transfer_ns(&self, lba: u64, count: u64) -> u64 {
        let period = u128::from(self.period_ns());
        let mut ns = 0u128;
        let mut at = lba;
        let end = lba + count;
        while at < end {
            let z = self.zone_start.partition_point(|&s| s <= at) - 1;
            let zone_end = self.zone_start.get(z + 1).copied().unwrap_or(self.sectors);
            let n = end.min(zone_end) - at;
            let spt = u128::from(self.spec.zones[z].sectors_per_track);
            ns += u128::from(n) * period / spt;
            at += n;
        }
        ns as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simcore::RngStream;

    fn ms(ns: u64) -> f64 {
        ns as f64 / 1e6
    }

    #[test]
    fn the_seek_curve_is_ruemmler_and_wilkes_hp_97560() {
        let c = SeekCurve::HP_97560;
        assert_eq!(c.time_ns(0), 0);
        // 3.24 + 0.400 √d ms for short seeks.
        assert_eq!(c.time_ns(1), 3_640_000);
        assert_eq!(c.time_ns(100), 7_240_000);
        assert_eq!(c.time_ns(382), 11_057_928);
        // 8.00 + 0.008 d ms for long ones.
        assert_eq!(c.time_ns(383), 11_064_000);
        assert_eq!(c.time_ns(1000), 16_000_000);
        assert_eq!(c.time_ns(1962), 23_696_000);
        // The pieces meet: no jump of more than 0.01 ms at the boundary.
        assert!(c.time_ns(383).abs_diff(c.time_ns(382)) < 10_000);
    }

    fn drive(rpm: u32, spt: u32, seek: SeekCurve) -> Hdd {
        Hdd::new(HddSpec {
            rpm,
            cylinders: 10_000,
            heads: 4,
            zones: vec![Zone {
                first_cylinder: 0,
                sectors_per_track: spt,
            }],
            seek,
            track_buffer: None,
        })
        .unwrap()
    }

    #[test]
    fn rotation_waits_for_the_sector_to_come_round() {
        // 6000 rpm: 10 ms a turn, 100 sectors a track, so 0.1 ms a sector.
        let mut d = drive(6000, 100, SeekCurve::linear(1.0, 0.0));
        assert_eq!(d.period_ns(), 10_000_000);
        // On cylinder 0 at time 0 the head is over sector 0: sector 50 is half a turn away.
        let a = d.access(0, 50, 1).unwrap();
        assert_eq!((a.seek, a.rotation, a.transfer), (0, 5_000_000, 100_000));
        // Just missed sector 10 (we are at 10.001 of a track): nearly a full turn.
        let a = d.access(1_010_000, 10, 1).unwrap();
        assert_eq!(a.rotation, 9_990_000);
        // A seek of one cylinder (1 ms) turns the platter a tenth of a turn on the way.
        let (cyl, _, _) = d.locate(400).unwrap();
        assert_eq!(cyl, 1);
        let a = d.access(0, 400 + 30, 1).unwrap();
        assert_eq!((a.seek, a.rotation), (1_000_000, 2_000_000));
        assert_eq!(d.head_cylinder(), 1);
    }

    #[test]
    fn zones_place_sectors_and_outer_ones_transfer_faster() {
        let d = Hdd::new(HddSpec {
            rpm: 6000,
            cylinders: 10,
            heads: 2,
            zones: vec![
                Zone {
                    first_cylinder: 0,
                    sectors_per_track: 200,
                },
                Zone {
                    first_cylinder: 5,
                    sectors_per_track: 100,
                },
            ],
            seek: SeekCurve::linear(1.0, 0.0),
            track_buffer: None,
        })
        .unwrap();
        assert_eq!(d.sectors(), 5 * 2 * 200 + 5 * 2 * 100);
        assert_eq!(d.locate(0), Some((0, 0, 200)));
        assert_eq!(d.locate(1999), Some((4, 199, 200)));
        assert_eq!(d.locate(2000), Some((5, 0, 100)));
        assert_eq!(d.locate(3000), None);
        // A track's worth takes one turn in either zone: 200 sectors, then 100.
        assert_eq!(d.transfer_ns(0, 200), 10_000_000);
        assert_eq!(d.transfer_ns(2000, 100), 10_000_000);
        assert_eq!(d.transfer_ns(1900, 200), 15_000_000);
    }

    #[test]
    fn bad_drives_are_refused() {
        let mut spec = drive(6000, 100, SeekCurve::HP_97560).spec;
        spec.zones[0].first_cylinder = 1;
        assert_eq!(Hdd::new(spec.clone()).err(), Some(HddError::BadZones));
        spec.rpm = 0;
        assert_eq!(Hdd::new(spec).err(), Some(HddError::Empty));
        let mut d = drive(6000, 100, SeekCurve::HP_97560);
        assert!(d.access(0, d.sectors() - 1, 2).is_none());
        assert!(d.access(0, 0, 0).is_none());
    }

    /// OSTEP, "Hard Disk Drives", the worked example: the Cheetah 15K.5 (15,000 RPM, 4 ms
    /// average seek, 125 MB/s) and the Barracuda (7,200 RPM, 9 ms, 105 MB/s). Random 4 KB reads
    /// take 6 ms and 13.2 ms (0.66 and 0.31 MB/s); a sequential 100 MB read runs at 125 and 105
    /// MB/s. Here the drives are given a linear seek curve with that average over uniformly
    /// random moves (mean distance a third of the cylinders), and the time is measured over
    /// random requests at random instants, so the half-turn average of rotation comes from the
    /// platter's angle, not a formula.
    #[test]
    fn ostep_cheetah_and_barracuda() {
        const CYL: u32 = 10_000;
        let make = |rpm: u32, rate_mb: f64, avg_seek_ms: f64| {
            let period_s = 60.0 / f64::from(rpm);
            let spt = (rate_mb * 1e6 * period_s / SECTOR_BYTES as f64).round() as u32;
            // a + b·C/3 = average, with a = 1 ms to leave and settle.
            let b = (avg_seek_ms - 1.0) * 3.0 / f64::from(CYL);
            Hdd::new(HddSpec {
                rpm,
                cylinders: CYL,
                heads: 4,
                zones: vec![Zone {
                    first_cylinder: 0,
                    sectors_per_track: spt,
                }],
                seek: SeekCurve::linear(1.0, b),
                track_buffer: None,
            })
            .unwrap()
        };
        for (name, rpm, rate, seek, want_ms, want_rate) in [
            ("cheetah", 15_000, 125.0, 4.0, 6.0, 0.66),
            ("barracuda", 7_200, 105.0, 9.0, 13.2, 0.31),
        ] {
            let mut d = make(rpm, rate, seek);
            let mut rng = RngStream::derive(1, name);
            let n = 20_000u64;
            let mut now = 0u64;
            let mut total = 0u64;
            for _ in 0..n {
                let lba = rng.below(d.sectors() - 8);
                now += rng.below(1_000_000_000);
                total += d.access(now, lba, 8).unwrap().total();
            }
            let mean_ms = ms(total) / n as f64;
            let rate_mb = 4096.0 / (mean_ms / 1e3) / 1e6;
            assert!(
                (mean_ms - want_ms).abs() / want_ms < 0.02,
                "{name}: {mean_ms:.3} ms per random 4 KB read"
            );
            assert!(
                (rate_mb - want_rate).abs() / want_rate < 0.03,
                "{name}: {rate_mb:.3} MB/s"
            );
            // Sequential: 100 MB in one request after one seek and rotation, which the
            // chapter's table rounds to the peak rate (one positioning is 1.4% of the
            // Barracuda's 0.96 s: 100 MB at 105 MB/s plus about 13 ms reads at 103.6 MB/s).
            let sectors = 100_000_000 / SECTOR_BYTES;
            let a = d.access(now, 0, sectors).unwrap();
            let seq = 100.0 / (a.total() as f64 / 1e9);
            assert!(
                seq < rate && (rate - seq) / rate < 0.02,
                "{name}: {seq:.1} MB/s sequential"
            );
            assert_eq!(
                a.transfer,
                sectors * d.period_ns() / u64::from(d.spec.zones[0].sectors_per_track)
            );
        }
    }

    /// A datasheet drive: the capacity it was asked for, the outer zone's rate, the average
    /// seek over random pairs of cylinders, and the square-root start of the curve.
    #[test]
    fn a_drive_from_its_datasheet_keeps_its_figures() {
        let spec = HddSpec::from_datasheet(7200, 9_000_000, 105 << 20, 1 << 40).unwrap();
        let d = Hdd::new(spec.clone()).unwrap();
        let bytes = d.sectors() * SECTOR_BYTES;
        assert!(
            bytes >= 1 << 40 && bytes < (1u64 << 40) + (1 << 30),
            "{bytes}"
        );
        // Outer zone: a track per turn of 8.33 ms.
        let outer = f64::from(spec.zones[0].sectors_per_track) * 512.0 / (60.0 / 7200.0);
        assert!(
            (outer / f64::from(105u32 << 20) - 1.0).abs() < 0.001,
            "{outer}"
        );
        // The average over random seeks, by sampling pairs of cylinders.
        let mut rng = simcore::RngStream::derive(1, "seek");
        let c = u64::from(spec.cylinders);
        let n = 200_000;
        let mean = (0..n)
            .map(|_| {
                let (a, b) = (rng.below(c), rng.below(c));
                spec.seek.time_ns(a.abs_diff(b) as u32) as f64
            })
            .sum::<f64>()
            / f64::from(n);
        assert!((mean / 9e6 - 1.0).abs() < 0.01, "mean seek {mean} ns");
        // Short seeks grow like a square root: beyond the settle time, 4x the distance takes
        // 2x the time; long ones linearly.
        let settle = spec.seek.short_a * 1e6;
        let t = |d| spec.seek.time_ns(d) as f64 - settle;
        assert!(
            (t(400) / t(100) - 2.0).abs() < 0.01,
            "{} {}",
            t(400),
            t(100)
        );
        let long = |d| spec.seek.time_ns(d) as f64 - spec.seek.long_a * 1e6;
        let b = spec.seek.boundary;
        assert!((long(4 * b) / long(2 * b) - 2.0).abs() < 0.01);
        assert!(HddSpec::from_datasheet(0, 1, 1, 1).is_err());
    }

    /// The track buffer: after a read, the rest of its track arrives in the buffer a sector's
    /// time apart; a read of buffered sectors crosses only the interface, one of sectors still
    /// arriving waits for them (a sequential reader runs at the media rate, never above it); a
    /// read elsewhere or a write ends the read-ahead.
    #[test]
    fn reads_ahead_into_the_track_buffer() {
        // 6000 rpm, 100 sectors a track: a turn is 10 ms, a sector 100 us.
        let spec = |buffer| HddSpec {
            track_buffer: buffer,
            ..drive(6000, 100, SeekCurve::linear(1.0, 0.1)).spec.clone()
        };
        let mut d = Hdd::new(spec(Some(500_000_000))).unwrap();
        let first = d.serve(0, 0, 8, false).unwrap();
        let done = first.total();
        assert_eq!(first.transfer, 800_000, "8 sectors from the platter");
        // The next 8 sectors are still arriving: they are ready 8 sectors' time later.
        let next = d.serve(done, 8, 8, false).unwrap();
        assert_eq!(next.seek, 0);
        assert_eq!(next.rotation, 800_000, "waits for the platter, not a turn");
        assert_eq!(next.transfer, 4096 * 1_000_000_000 / 500_000_000);
        // Much later the whole track is buffered: only the interface.
        let later = d.serve(done + 20_000_000, 50, 8, false).unwrap();
        assert_eq!((later.seek, later.rotation), (0, 0));
        // Past the track's end: the platter again.
        let miss = d.serve(done + 30_000_000, 100, 8, false).unwrap();
        assert_eq!(miss.transfer, 800_000);
        // A write ends the read-ahead: the read after it goes to the platter.
        let t = done + 40_000_000;
        d.serve(t, 120, 8, true).unwrap();
        let after = d.serve(t + 20_000_000, 130, 8, false).unwrap();
        assert_eq!(after.transfer, 800_000);
        // Without a buffer every read comes from the platter.
        let mut plain = Hdd::new(spec(None)).unwrap();
        let f = plain.serve(0, 0, 8, false).unwrap().total();
        let n = plain.serve(f, 8, 8, false).unwrap();
        assert_eq!(n.transfer, 800_000);
    }
}

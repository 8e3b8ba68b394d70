//! I/O schedulers in front of a disk: which pending request the drive serves next. FIFO takes
//! them as they came; SSTF the nearest cylinder; SCAN sweeps the arm one way then back (the
//! elevator); C-SCAN sweeps one way only and jumps back to the start; SATF takes the request
//! whose seek and rotation, as the drive would do them now, end soonest (OSTEP, "Hard Disk
//! Drives": SPTF). SCAN and C-SCAN turn at the last pending request rather than at the disk's
//! edge (the LOOK and C-LOOK forms real elevators use). Ties go to the request that came first,
//! so every choice is deterministic. The tests check the textbook queue's head travel (FIFO 640
//! cylinders, SSTF 236).
//!
//! Deadline is Linux's `mq-deadline` in its essentials: requests are served in C-SCAN order
//! (sorted by position, one direction), except that a request waiting past its deadline
//! (reads 500 ms, writes 5 s: the kernel's `read_expire` and `write_expire`) is served first,
//! the one that expired earliest. It bounds the starvation that SSTF and SATF allow.
//!
//! The policies see a drive through [`Positioned`]: where its head is, and what positioning a
//! request would cost. A drive with no head (an SSD) is at cylinder 0 for every block, so every
//! policy but deadline serves it in arrival order.

use super::hdd::Hdd;
use super::workload::IoKind;

/// A request waiting for the drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub kind: IoKind,
    pub lba: u64,
    pub sectors: u64,
    /// When it arrived (nanoseconds): the deadline policy's clock starts here.
    pub arrived: u64,
}

impl Request {
    /// When the deadline policy serves it ahead of the sweep.
    fn deadline(&self) -> u64 {
        self.arrived.saturating_add(match self.kind {
            IoKind::Read => READ_EXPIRE_NS,
            IoKind::Write => WRITE_EXPIRE_NS,
        })
    }
}

/// Linux mq-deadline's `read_expire` (500 ms) and `write_expire` (5 s).
pub const READ_EXPIRE_NS: u64 = 500_000_000;
pub const WRITE_EXPIRE_NS: u64 = 5_000_000_000;

/// What a scheduler needs to know of a drive.
pub trait Positioned {
    /// The cylinder the head is on.
    fn head_cylinder(&self) -> u32;
    /// The cylinder holding `lba` (`u32::MAX` past the end).
    fn cylinder(&self, lba: u64) -> u32;
    /// The seek and rotation a request at `lba` would wait for if started at `now`.
    fn positioning(&self, now: u64, lba: u64) -> u64;
}

impl Positioned for Hdd {
    fn head_cylinder(&self) -> u32 {
        Hdd::head_cylinder(self)
    }
    fn cylinder(&self, lba: u64) -> u32 {
        self.locate(lba).map_or(u32::MAX, |c| c.0)
    }
    fn positioning(&self, now: u64, lba: u64) -> u64 {
        self.estimate(now, lba, 1)
            .map_or(u64::MAX, |(a, _)| a.seek + a.rotation)
    }
}

/// The policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoPolicy {
    Fifo,
    Sstf,
    Scan,
    CScan,
    Satf,
    Deadline,
}

impl IoPolicy {
    pub const NAMES: &'static [&'static str] =
        &["fifo", "sstf", "scan", "c-scan", "satf", "deadline"];

    pub fn from_name(name: &str) -> Option<IoPolicy> {
        Some(match name {
            "fifo" => IoPolicy::Fifo,
            "sstf" => IoPolicy::Sstf,
            "scan" => IoPolicy::Scan,
            "c-scan" => IoPolicy::CScan,
            "satf" => IoPolicy::Satf,
            "deadline" => IoPolicy::Deadline,
            _ => return None,
        })
    }
}

/// A scheduler: its policy and, for the sweeping ones, the arm's direction.
#[derive(Debug, Clone)]
pub struct IoScheduler {
    policy: IoPolicy,
    /// Whether the arm sweeps towards higher cylinders.
    upward: bool,
}

impl IoScheduler {
    pub fn new(policy: IoPolicy) -> Self {
        IoScheduler {
            policy,
            upward: true,
        }
    }

    /// The index in `pending` (in arrival order) of the request to serve next on `disk` at
    /// `now`, or `None` when nothing is pending.
    pub fn pick<D: Positioned + ?Sized>(
        &mut self,
        pending: &[Request],
        disk: &D,
        now: u64,
    ) -> Option<usize> {
        if pending.is_empty() {
            return None;
        }
        let head = disk.head_cylinder();
        let cyl = |r: &Request| disk.cylinder(r.lba);
        // C-SCAN's order: upward from the head; past the last, from the lowest cylinder again.
        let cscan = |r: &Request| {
            let c = cyl(r);
            if c >= head {
                u64::from(c - head)
            } else {
                (1u64 << 32) + u64::from(c)
            }
        };
        // The first index with the least key: arrival order breaks ties.
        let least = |key: &dyn Fn(&Request) -> u64| {
            (0..pending.len()).min_by_key(|&i| (key(&pending[i]), i))
        };
        match self.policy {
            IoPolicy::Fifo => Some(0),
            IoPolicy::Sstf => least(&|r| u64::from(cyl(r).abs_diff(head))),
            IoPolicy::Scan => {
                let ahead = |r: &Request, up: bool| {
                    let c = cyl(r);
                    if up { c >= head } else { c <= head }
                };
                if !pending.iter().any(|r| ahead(r, self.upward)) {
                    self.upward = !self.upward;
                }
                let up = self.upward;
                least(&|r| {
                    if ahead(r, up) {
                        u64::from(cyl(r).abs_diff(head))
                    } else {
                        u64::MAX
                    }
                })
            }
            IoPolicy::CScan => least(&cscan),
            IoPolicy::Satf => least(&|r| disk.positioning(now, r.lba)),
            IoPolicy::Deadline => {
                let expired = (0..pending.len())
                    .filter(|&i| pending[i].deadline() <= now)
                    .min_by_key(|&i| (pending[i].deadline(), i));
                expired.or_else(|| least(&cscan))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::hdd::{HddSpec, SeekCurve, Zone};
    use super::*;

    /// 100 sectors a track, 1 head, 200 cylinders, 6000 rpm (10 ms a turn), seek 1 + 0.1·d ms:
    /// a request for cylinder c is lba 100·c (+ sector). The disk module's tests share it.
    pub(crate) fn disk() -> Hdd {
        Hdd::new(HddSpec {
            rpm: 6000,
            cylinders: 200,
            heads: 1,
            zones: vec![Zone {
                first_cylinder: 0,
                sectors_per_track: 100,
            }],
            seek: SeekCurve::linear(1.0, 0.1),
            track_buffer: None,
        })
        .unwrap()
    }

    /// A one-sector read of `lba` that arrived at `arrived`.
    fn req(lba: u64, arrived: u64) -> Request {
        Request {
            kind: IoKind::Read,
            lba,
            sectors: 1,
            arrived,
        }
    }

    /// Serves every request of `cylinders` under `policy`, the head starting on `start`: the
    /// order of cylinders visited.
    fn order(policy: IoPolicy, start: u32, cylinders: &[u32]) -> Vec<u32> {
        let mut d = disk();
        d.access(0, u64::from(start) * 100, 1).unwrap();
        let mut pending: Vec<Request> = cylinders
            .iter()
            .map(|&c| req(u64::from(c) * 100, 0))
            .collect();
        let mut s = IoScheduler::new(policy);
        let mut now = 0;
        let mut out = Vec::new();
        while let Some(i) = s.pick(&pending, &d, now) {
            let r = pending.remove(i);
            now += d.access(now, r.lba, r.sectors).unwrap().total();
            out.push(d.head_cylinder());
        }
        out
    }

    // The textbook queue: the head on cylinder 53, requests for 98, 183, 37, 122, 14, 124, 65,
    // 67 (Silberschatz, Galvin and Gagne's disk-scheduling example).
    const QUEUE: &[u32] = &[98, 183, 37, 122, 14, 124, 65, 67];

    fn travel(start: u32, visits: &[u32]) -> u32 {
        let mut at = start;
        visits
            .iter()
            .map(|&c| {
                let d = c.abs_diff(at);
                at = c;
                d
            })
            .sum()
    }

    #[test]
    fn fifo_serves_in_arrival_order() {
        let o = order(IoPolicy::Fifo, 53, QUEUE);
        assert_eq!(o, QUEUE);
        assert_eq!(travel(53, &o), 640);
    }

    #[test]
    fn sstf_takes_the_nearest_cylinder() {
        let o = order(IoPolicy::Sstf, 53, QUEUE);
        assert_eq!(o, [65, 67, 37, 14, 98, 122, 124, 183]);
        assert_eq!(travel(53, &o), 236);
    }

    #[test]
    fn scan_sweeps_up_then_back() {
        let o = order(IoPolicy::Scan, 53, QUEUE);
        assert_eq!(o, [65, 67, 98, 122, 124, 183, 37, 14]);
        assert_eq!(travel(53, &o), 299);
    }

    #[test]
    fn c_scan_sweeps_up_and_starts_again_from_the_lowest() {
        let o = order(IoPolicy::CScan, 53, QUEUE);
        assert_eq!(o, [65, 67, 98, 122, 124, 183, 14, 37]);
    }

    #[test]
    fn satf_takes_what_the_platter_brings_first() {
        // OSTEP's point: the nearer track is not always sooner. The head is on cylinder 0 at
        // sector 0. Sector 90 of the same cylinder is 0.9 turns (9 ms) away; sector 30 of
        // cylinder 10 is a 2 ms seek and then 1 ms of rotation away.
        let mut d = disk();
        d.access(0, 0, 1).unwrap();
        let now = 10_000_000; // a whole turn later: the head is over sector 0 again
        let pending = [req(90, 0), req(10 * 100 + 30, 0)];
        let mut sstf = IoScheduler::new(IoPolicy::Sstf);
        assert_eq!(sstf.pick(&pending, &d, now), Some(0));
        let mut satf = IoScheduler::new(IoPolicy::Satf);
        assert_eq!(satf.pick(&pending, &d, now), Some(1));
        assert!(
            IoPolicy::NAMES
                .iter()
                .all(|n| IoPolicy::from_name(n).is_some())
        );
    }

    #[test]
    fn deadline_sweeps_like_c_scan_until_a_request_expires() {
        let o = order(IoPolicy::Deadline, 53, QUEUE);
        assert_eq!(o, order(IoPolicy::CScan, 53, QUEUE), "nothing expires");
        // The head on cylinder 100 with a stream of requests just above it: under SSTF the
        // read at cylinder 10 waits for ever; deadline serves it once it has waited 500 ms.
        let d = {
            let mut d = disk();
            d.access(0, 100 * 100, 1).unwrap();
            d
        };
        let pending = [req(10 * 100, 0), req(101 * 100, 400_000_000)];
        let mut sstf = IoScheduler::new(IoPolicy::Sstf);
        let mut deadline = IoScheduler::new(IoPolicy::Deadline);
        let before = READ_EXPIRE_NS - 1;
        assert_eq!(sstf.pick(&pending, &d, before), Some(1));
        assert_eq!(deadline.pick(&pending, &d, before), Some(1));
        assert_eq!(sstf.pick(&pending, &d, READ_EXPIRE_NS), Some(1));
        assert_eq!(deadline.pick(&pending, &d, READ_EXPIRE_NS), Some(0));
        let mut w = req(10 * 100, 0);
        w.kind = IoKind::Write;
        assert_eq!(w.deadline(), WRITE_EXPIRE_NS, "writes wait longer");
    }
}

//! A disk with its I/O scheduler in front: requests wait in arrival order, and whenever the
//! device is free the scheduler picks the next. Sans-IO: [`DiskQueue::start`] says when the
//! request it starts completes, and the caller calls [`DiskQueue::complete`] then (the world
//! schedules an event; [`simulate`] just advances its clock). A drive serves one request at a
//! time (an array's members overlap inside [`Device::serve`]); an SSD takes up to
//! [`Device::slots`] at once, its dies queueing them.
//!
//! When nothing is waiting and an array is rebuilding, the device does a stripe of the rebuild:
//! rebuilds run in the foreground's idle time, as md's does at its minimum speed.

use simcore::{Dist, RngStream};

use super::device::{Device, DeviceError, Service};
use super::sched::{IoPolicy, IoScheduler, Request};
use super::workload::{IoKind, IoOp, IoWorkload};

/// A request that finished, or the rebuild stripe that did (`token: None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub token: Option<u64>,
    pub op: IoOp,
    pub arrived: u64,
    pub started: u64,
    pub done: u64,
    pub result: Result<Service, DeviceError>,
}

impl Completion {
    /// From arrival to completion: what the requester waited.
    pub fn latency(&self) -> u64 {
        self.done - self.arrived
    }
}

/// A device, its scheduler and the requests waiting for it.
#[derive(Debug, Clone)]
pub struct DiskQueue {
    device: Device,
    sched: IoScheduler,
    pending: Vec<Request>,
    tokens: Vec<u64>,
    /// Requests in service, in the order they started (at most [`Device::slots`]).
    serving: Vec<Completion>,
    /// A `disk slow` fault: each request takes a draw of this longer.
    slow: Option<Dist>,
}

impl DiskQueue {
    pub fn new(device: Device, policy: IoPolicy) -> Self {
        DiskQueue {
            device,
            sched: IoScheduler::new(policy),
            pending: Vec::new(),
            tokens: Vec::new(),
            serving: Vec::new(),
            slow: None,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn device_mut(&mut self) -> &mut Device {
        &mut self.device
    }

    /// Requests waiting or in service.
    pub fn depth(&self) -> usize {
        self.pending.len() + self.serving.iter().filter(|c| c.token.is_some()).count()
    }

    /// Whether the device is working.
    pub fn busy(&self) -> bool {
        !self.serving.is_empty()
    }

    /// Sets the extra time a `disk slow` fault adds to every request (`None`: none).
    pub fn set_slow(&mut self, slow: Option<&Dist>) {
        self.slow = slow.cloned();
    }

    /// Queues `op` arriving at `now`, to be reported with `token`.
    pub fn submit(&mut self, now: u64, op: IoOp, token: u64) {
        self.pending.push(Request {
            kind: op.kind,
            lba: op.lba,
            sectors: op.sectors,
            arrived: now,
        });
        self.tokens.push(token);
    }

    /// If the device has a free slot, starts the request the scheduler picks (or a rebuild
    /// stripe when nothing waits): when it completes. `rng` draws a `disk slow` fault's extra
    /// time. Call it again until it returns `None` to fill every slot.
    pub fn start(&mut self, now: u64, rng: &mut RngStream) -> Option<u64> {
        if self.serving.len() >= self.device.slots() {
            return None;
        }
        let Some(i) = self.sched.pick(&self.pending, &self.device, now) else {
            if self.busy() {
                return None;
            }
            let t = self.device.rebuild_step(now)?;
            let done = now + t;
            self.serving.push(Completion {
                token: None,
                op: IoOp {
                    kind: IoKind::Write,
                    lba: 0,
                    sectors: 0,
                },
                arrived: now,
                started: now,
                done,
                result: Ok(Service {
                    total: t,
                    ..Service::default()
                }),
            });
            return Some(done);
        };
        let r = self.pending.remove(i);
        let token = self.tokens.remove(i);
        let op = IoOp {
            kind: r.kind,
            lba: r.lba,
            sectors: r.sectors,
        };
        let mut result = self.device.serve(now, &op);
        if let (Ok(s), Some(slow)) = (result.as_mut(), self.slow.as_ref()) {
            s.total += slow.sample(rng).max(0.0) as u64;
        }
        let done = now + result.as_ref().map_or(0, |s| s.total);
        self.serving.push(Completion {
            token: Some(token),
            op,
            arrived: r.arrived,
            started: now,
            done,
            result,
        });
        Some(done)
    }

    /// The request in service that completes first (the earliest started of those that end at
    /// the same instant): what it was. Call it at that instant.
    pub fn complete(&mut self) -> Option<Completion> {
        let i = (0..self.serving.len()).min_by_key(|&i| (self.serving[i].done, i))?;
        Some(self.serving.remove(i))
    }

    /// The host crashed: what was queued is gone (the request in service finishes on the
    /// device, unreported).
    pub fn forget_queue(&mut self) {
        self.pending.clear();
        self.tokens.clear();
        for c in &mut self.serving {
            c.token = None;
        }
    }
}

/// Latencies of a workload's requests by class (nanoseconds, in completion order), and when
/// the last completed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IoRun {
    pub read: Vec<u64>,
    pub write: Vec<u64>,
    pub makespan: u64,
    /// Requests the device refused (past its end, or lost by an array).
    pub errors: u64,
}

impl IoRun {
    pub fn of(&self, kind: IoKind) -> &[u64] {
        match kind {
            IoKind::Read => &self.read,
            IoKind::Write => &self.write,
        }
    }
}

/// Runs `workload` on `device` behind `policy` as a closed loop (`queue_depth` requests
/// outstanding; each completion issues the next), the requests drawn from `rng` as
/// [`IoWorkload::ops`] draws them: what `sim run` does for an `io` load alone on a host, and what
/// `native run` and `native calibrate disk` compare the machine with.
pub fn simulate(
    workload: &IoWorkload,
    device: Device,
    policy: IoPolicy,
    rng: &mut RngStream,
) -> IoRun {
    let mut q = DiskQueue::new(device, policy);
    let mut unused = RngStream::derive(0, "disk.slow");
    // Drawn one at a time as they are issued: a workload of 10^8 requests needs no list of them.
    let mut next = workload.ops(rng);
    let mut run = IoRun::default();
    let mut now = 0;
    for (i, op) in next
        .by_ref()
        .take(workload.queue_depth as usize)
        .enumerate()
    {
        q.submit(now, op, i as u64);
    }
    let mut issued = workload.queue_depth as u64;
    // Completion times of the requests in service; the device's slots filled at each instant.
    let mut due: Vec<u64> = Vec::new();
    loop {
        while let Some(done) = q.start(now, &mut unused) {
            due.push(done);
        }
        let Some(i) = (0..due.len()).min_by_key(|&i| (due[i], i)) else {
            break;
        };
        now = due.swap_remove(i);
        let Some(c) = q.complete() else { break };
        debug_assert_eq!(c.done, now, "the first to complete is the one due");
        if c.token.is_none() {
            continue;
        }
        match c.result {
            Ok(_) => match c.op.kind {
                IoKind::Read => run.read.push(c.latency()),
                IoKind::Write => run.write.push(c.latency()),
            },
            Err(_) => run.errors += 1,
        }
        if let Some(op) = next.next() {
            q.submit(now, op, issued);
            issued += 1;
        }
    }
    run.makespan = now;
    run
}

#[cfg(test)]
mod tests {
    use super::super::hdd::{Hdd, HddSpec, SeekCurve, Zone};
    use super::super::workload::Pattern;
    use super::*;

    fn hdd() -> Device {
        Device::Hdd(
            Hdd::new(HddSpec {
                rpm: 7200,
                cylinders: 10_000,
                heads: 2,
                zones: vec![Zone {
                    first_cylinder: 0,
                    sectors_per_track: 500,
                }],
                seek: SeekCurve::HP_97560,
                track_buffer: None,
            })
            .unwrap(),
        )
    }

    fn random(depth: u32) -> IoWorkload {
        IoWorkload {
            block: 4096,
            pattern: Pattern::Random,
            read_fraction: 1.0,
            queue_depth: depth,
            requests: 2_000,
            span: 4096 * 1_000_000,
            start: 0,
        }
    }

    fn mean(v: &[u64]) -> f64 {
        v.iter().sum::<u64>() as f64 / v.len() as f64
    }

    /// At queue depth 1 every policy serves the one request there is: the same latencies.
    /// Deeper queues give SSTF and SATF choices that shorten the mean service, and SATF, which
    /// counts rotation too, does best (OSTEP, "Hard Disk Drives", scheduling).
    #[test]
    fn schedulers_only_matter_with_a_queue() {
        let run = |p, depth| simulate(&random(depth), hdd(), p, &mut RngStream::derive(3, "io"));
        let fifo1 = run(IoPolicy::Fifo, 1);
        assert_eq!(fifo1.read.len(), 2_000);
        assert_eq!(fifo1, run(IoPolicy::Satf, 1));
        let fifo = run(IoPolicy::Fifo, 16).makespan as f64;
        let sstf = run(IoPolicy::Sstf, 16).makespan as f64;
        let satf = run(IoPolicy::Satf, 16).makespan as f64;
        assert!(sstf < 0.8 * fifo, "sstf {sstf} fifo {fifo}");
        assert!(satf < sstf, "satf {satf} sstf {sstf}");
    }

    #[test]
    fn sequential_reads_stream_at_the_transfer_rate() {
        let mut w = random(1);
        w.pattern = Pattern::Sequential;
        let r = simulate(&w, hdd(), IoPolicy::Fifo, &mut RngStream::derive(1, "io"));
        // 8 sectors of a 500-sector track at 7200 rpm: 8/500 of 8.33 ms, about 133 us; the
        // request after the first finds the head on its sector only if the drive kept up, so
        // the mean lies between a pure transfer and a transfer plus a turn.
        let m = mean(&r.read[1..]);
        assert!(m >= 133_000.0 && m < 8_500_000.0, "{m}");
    }

    #[test]
    fn a_crash_forgets_the_queue() {
        let mut q = DiskQueue::new(hdd(), IoPolicy::Fifo);
        let mut rng = RngStream::derive(1, "t");
        let op = IoOp {
            kind: IoKind::Read,
            lba: 0,
            sectors: 8,
        };
        q.submit(0, op, 1);
        q.submit(0, op, 2);
        assert_eq!(q.depth(), 2);
        let done = q.start(0, &mut rng).unwrap();
        assert!(q.start(0, &mut rng).is_none(), "busy");
        q.forget_queue();
        assert_eq!(q.depth(), 0);
        let c = q.complete().unwrap();
        assert_eq!((c.token, c.done), (None, done));
        assert!(q.start(done, &mut rng).is_none(), "nothing left");
    }
}

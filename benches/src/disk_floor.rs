//! The disk *floor*: a hand-written loop that serves `scenarios/disk-bench.scn`'s requests on
//! its one drive, the least work that workload can be done with. `sim run` (the world, its disk
//! queue and scheduler, the io load, the event loop) is measured against it: the ratio says what
//! the engine and the world's generality cost over calling the HDD model directly.
//!
//! To make the comparison about cost and not about different work, the floor uses the scenario's
//! drive and draws its requests: the same [`HddSpec::from_datasheet`] the `disk` block builds, the
//! same [`IoWorkload`] (random 4 KiB reads over the whole drive, queue depth 1) and the same
//! stream (`RngStream::derive(seed, &stream_name("reads"))`, what the simulator registers for an
//! `io` block's first copy). At queue depth 1 each request arrives when the one before it ends
//! and starts at once, so serving them one after another with [`Hdd::access`] gives the same
//! latencies, and the same latency sum to the nanosecond, as the engine (checked in the tests
//! below).
//!
//! What it leaves out, on purpose: the event queue (there is only ever one request in flight, so
//! the next instant is just the end of the current one), the scheduler, the trace hash, every
//! metric but the latency sum, and any indirection through a model trait or the world's parts.

use models::disk::hdd::{Hdd, HddError, HddSpec, SECTOR_BYTES};
use models::disk::workload::{IoWorkload, Pattern, stream_name};
use simcore::RngStream;

/// The drive of `scenarios/disk-bench.scn`'s `disk` block: spindle speed (rpm).
pub const RPM: u32 = 7200;
/// Its datasheet's average seek, in nanoseconds (`seek 9ms`).
pub const SEEK_NS: u64 = 9_000_000;
/// Its outer zone's transfer rate, bytes per second (`transfer 105MiB`).
pub const TRANSFER: u64 = 105 << 20;
/// Its capacity in bytes (`capacity 100GiB`).
pub const CAPACITY: u64 = 100 << 30;
/// Bytes per request (`block 4KiB`).
pub const BLOCK: u64 = 4096;
/// The scenario's `io` block: its name picks the stream the requests are drawn from.
pub const LOAD: &str = "reads";

/// What one floor run computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskFloor {
    /// Requests served (all of them).
    pub requests: u64,
    /// Sum of all latencies (arrival to completion), in nanoseconds: exact, for comparison with
    /// the engine's histogram.
    pub latency_sum_ns: u128,
    /// When the last request completed, in nanoseconds.
    pub end_time_ns: u64,
}

impl DiskFloor {
    /// Mean latency in seconds (0 without requests).
    pub fn mean_latency_s(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.latency_sum_ns as f64 / self.requests as f64 / 1e9
    }
}

/// The scenario's drive, built as `scenarios/src/wire_disk.rs` builds a `model hdd` disk block.
pub fn drive() -> Result<Hdd, HddError> {
    Hdd::new(HddSpec::from_datasheet(RPM, SEEK_NS, TRANSFER, CAPACITY)?)
}

/// The scenario's `io` block on a drive of `sectors`: random reads of [`BLOCK`] bytes over the
/// whole drive, one outstanding (the span is the drive's size, as `wire_disk` defaults it).
pub fn workload(requests: u64, sectors: u64) -> IoWorkload {
    IoWorkload {
        block: BLOCK,
        pattern: Pattern::Random,
        read_fraction: 1.0,
        queue_depth: 1,
        requests,
        span: sectors * SECTOR_BYTES,
        start: 0,
    }
}

/// `requests` random reads with `seed`, served one after another from time 0.
pub fn run_disk(requests: u64, seed: u64) -> Result<DiskFloor, String> {
    let mut hdd = drive().map_err(|e| e.to_string())?;
    let w = workload(requests, hdd.sectors());
    let mut rng = RngStream::derive(seed, &stream_name(LOAD));
    let mut now: u64 = 0;
    let mut latency_sum_ns: u128 = 0;
    for i in 0..requests {
        let op = w.op(i, &mut rng);
        let a = hdd
            .access(now, op.lba, op.sectors)
            .ok_or_else(|| format!("request {i} ({op:?}) is past the end of the drive"))?;
        // It arrived when the one before it ended and started at once: its latency is its service.
        let t = a.total();
        latency_sum_ns += u128::from(t);
        now += t;
    }
    Ok(DiskFloor {
        requests,
        latency_sum_ns,
        end_time_ns: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use scenarios::RunOptions;
    use simcore::MetricValue;

    /// The floor serves the drive it claims to: a random 4 KiB read costs a seek, half a turn
    /// and a short transfer. The seek curve is scaled so that a seek between two uniformly
    /// random cylinders averages 9 ms; requests are uniform over sectors, not cylinders, and the
    /// outer cylinders hold more, which shortens the seeks a little (8.9 ms measured). Half a turn
    /// at 7,200 rpm is 4.167 ms; eight sectors of a track of 1,792 to 1,075 take 0.04 to 0.06 ms.
    /// 13.1 ms in all; 2% allows the drive's approximations and the sample (10^5 requests, a
    /// standard error of about 0.01 ms; the seed is fixed, so it never flakes).
    #[test]
    fn mean_latency_is_a_seek_half_a_turn_and_a_transfer() {
        let r = run_disk(100_000, 1).unwrap();
        assert_eq!(r.requests, 100_000);
        assert_eq!(r.latency_sum_ns, u128::from(r.end_time_ns), "one at a time");
        let mean_ms = r.mean_latency_s() * 1e3;
        let err = (mean_ms - 13.1).abs() / 13.1;
        assert!(err <= 0.02, "mean latency {mean_ms:.3} ms");
    }

    /// The floor and the engine do the same work: `scenarios/disk-bench.scn`, stopped after as
    /// many events as the floor serves requests (one event per request at queue depth 1), has
    /// exactly the floor's latency sum, request count and end time. If this ever fails, the floor
    /// no longer measures the same thing as the bench's `sim run`.
    #[test]
    fn same_requests_as_the_engine() {
        let n = 20_000;
        let floor = run_disk(n, 1).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/disk-bench.scn");
        let opts = RunOptions {
            max_events: Some(n),
            ..RunOptions::default()
        };
        let reports = scenarios::run_file(&path, &opts).unwrap();
        let [report] = reports.as_slice() else {
            panic!("one run, not a sweep");
        };
        assert_eq!(report.seed, 1, "the floor's seed");
        let r = &report.result;
        assert_eq!(r.events, n);
        assert_eq!(r.end_time.as_nanos(), floor.end_time_ns);
        let Some(MetricValue::Histogram { count, mean, .. }) = r.metrics.get("reads.read_latency")
        else {
            panic!("no reads.read_latency histogram");
        };
        assert_eq!(*count, n);
        assert_eq!(*mean, floor.latency_sum_ns as f64 / n as f64);
    }

    #[test]
    fn no_requests_no_time() {
        let r = run_disk(0, 1).unwrap();
        assert_eq!((r.requests, r.end_time_ns, r.mean_latency_s()), (0, 0, 0.0));
    }
}

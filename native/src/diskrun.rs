//! A block I/O workload on the real device, and its figures beside the simulator's.
//!
//! [`measure`] issues exactly the requests [`IoWorkload::ops`] draws for a seed (the simulator
//! draws the same ones: [`ops_stream`]) against a [`LoopDevice`] opened with `O_DIRECT`, at the
//! workload's queue depth: one thread per outstanding request, each taking the next request as
//! soon as its last one completed (a closed loop, as the simulator's), with `pread`/`pwrite` of
//! an aligned buffer. Each request is timed from its call to its return. What comes back has the
//! simulator's own shape ([`IoRun`]: latencies per class and the makespan), so both sides are
//! summed up by the same code ([`Figures`]) and compared by the same measure ([`demerit`]).

use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use models::disk::queue::IoRun;
use models::disk::workload::{IoKind, IoOp, IoWorkload};
use simcore::RngStream;

use crate::blockdev::{AlignedBuf, DiskError, LoopDevice};

/// The stream a workload's requests are drawn from, for a seed: the same on both sides.
pub fn ops_stream(seed: u64) -> RngStream {
    RngStream::derive(seed, "io.ops")
}

/// The workload's requests for `seed`, in the order they are issued.
pub fn ops(workload: &IoWorkload, seed: u64) -> Vec<IoOp> {
    workload.ops(&mut ops_stream(seed)).collect()
}

/// One thread's share: (class, latency in ns) per request it completed, and its first error.
type Share = (Vec<(IoKind, u64)>, Option<String>);

/// Issues `ops` against `dev` with `depth` requests in flight and times each. `stop` (Ctrl-C,
/// SIGTERM, SIGHUP) ends the run between requests, as interrupted.
pub fn measure(
    dev: &LoopDevice,
    ops: &[IoOp],
    depth: u32,
    stop: &AtomicBool,
) -> Result<IoRun, DiskError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let biggest = ops.iter().map(IoOp::bytes).max().unwrap_or(0) as usize;
    let started = Instant::now();
    let shares: Vec<Share> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..depth.max(1))
            .map(|_| s.spawn(|| issue(dev, ops, &next, &failed, stop, biggest)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| (Vec::new(), Some("a request thread panicked".into())))
            })
            .collect()
    });
    let makespan = started.elapsed().as_nanos() as u64;
    if stop.load(Ordering::Relaxed) {
        return Err(DiskError::Interrupted);
    }
    let mut run = IoRun {
        makespan,
        ..IoRun::default()
    };
    for (done, error) in shares {
        if let Some(e) = error {
            return Err(DiskError::Setup(format!("{}: {e}", dev.path().display())));
        }
        for (kind, ns) in done {
            match kind {
                IoKind::Read => run.read.push(ns),
                IoKind::Write => run.write.push(ns),
            }
        }
    }
    Ok(run)
}

/// One thread of [`measure`]: takes requests in issue order until none are left, one fails, or
/// the run is stopped.
fn issue(
    dev: &LoopDevice,
    ops: &[IoOp],
    next: &AtomicUsize,
    failed: &AtomicBool,
    stop: &AtomicBool,
    biggest: usize,
) -> Share {
    let mut buf = AlignedBuf::new(biggest);
    buf.as_mut_slice().fill(0x5A);
    let mut done = Vec::with_capacity(ops.len() / 2);
    while !stop.load(Ordering::Relaxed) && !failed.load(Ordering::Relaxed) {
        let Some(op) = ops.get(next.fetch_add(1, Ordering::Relaxed)) else {
            break;
        };
        let bytes = &mut buf.as_mut_slice()[..op.bytes() as usize];
        let t = Instant::now();
        let result = match op.kind {
            IoKind::Read => dev.file().read_exact_at(bytes, op.offset()),
            IoKind::Write => dev.file().write_all_at(bytes, op.offset()),
        };
        let ns = t.elapsed().as_nanos() as u64;
        if let Err(e) = result {
            failed.store(true, Ordering::Relaxed);
            let what = format!(
                "{} of {} bytes at {}",
                op.kind.name(),
                op.bytes(),
                op.offset()
            );
            return (done, Some(format!("{what}: {e}")));
        }
        done.push((op.kind, ns));
    }
    (done, None)
}

/// One operation class's figures on one side: how many requests, latency percentiles
/// (nanoseconds) and requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub n: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub iops: f64,
}

impl Figures {
    /// Nearest-rank percentiles of `latencies`, and their count over `makespan_ns` (the whole
    /// run's, every class together: IOPS of a class in a mixed workload); None when empty.
    pub fn of(latencies: &[u64], makespan_ns: u64) -> Option<Figures> {
        let mut s = latencies.to_vec();
        s.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
            s[rank - 1] as f64
        };
        let last = *s.last()?;
        Some(Figures {
            n: s.len() as u64,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: last as f64,
            iops: if makespan_ns == 0 {
                0.0
            } else {
                s.len() as f64 * 1e9 / makespan_ns as f64
            },
        })
    }

    /// Each class's figures of a run.
    pub fn of_run(run: &IoRun) -> [(IoKind, Option<Figures>); 2] {
        IoKind::ALL.map(|k| (k, Figures::of(run.of(k), run.makespan)))
    }
}

/// The demerit figure of Ruemmler and Wilkes ("An introduction to disk drive modeling", 1994),
/// as the DiskSim validations report it: the root-mean-square horizontal distance between the
/// simulated and the measured response-time distributions (their CDFs), as a share of the
/// measured mean. Horizontal distance at each probability p is the distance between the two
/// p-quantiles, so this is the RMS of Q_sim(p) - Q_real(p) over p in (0, 1], computed exactly
/// for the two empirical (step) quantile functions. None when either side is empty or the
/// measured mean is zero.
pub fn demerit(simulated: &[u64], measured: &[u64]) -> Option<f64> {
    let (mut a, mut b) = (simulated.to_vec(), measured.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    let (n, m) = (a.len() as u128, b.len() as u128);
    if n == 0 || m == 0 {
        return None;
    }
    // Q_a steps at multiples of 1/n, Q_b at multiples of 1/m: in units of 1/(n·m), at
    // multiples of m and of n. Walk both steps at once, weighing each stretch by its length.
    let (mut i, mut j, mut at) = (0usize, 0usize, 0u128);
    let mut sum = 0.0;
    while i < a.len() && j < b.len() {
        let end_a = (i as u128 + 1) * m;
        let end_b = (j as u128 + 1) * n;
        let end = end_a.min(end_b);
        let d = a[i] as f64 - b[j] as f64;
        sum += d * d * (end - at) as f64;
        at = end;
        if end == end_a {
            i += 1;
        }
        if end == end_b {
            j += 1;
        }
    }
    let rms = (sum / (n * m) as f64).sqrt();
    let mean = b.iter().map(|&x| x as f64).sum::<f64>() / m as f64;
    (mean > 0.0).then(|| rms / mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two distributions one unit apart everywhere: RMS distance 1, over a measured mean of
    /// 2.5.
    #[test]
    fn the_demerit_of_a_shifted_distribution() {
        let d = demerit(&[2, 3, 4, 5], &[4, 1, 3, 2]).unwrap();
        assert!((d - 0.4).abs() < 1e-12, "{d}");
        assert_eq!(demerit(&[1, 2], &[2, 1]), Some(0.0));
        assert_eq!(demerit(&[], &[1]), None);
        assert_eq!(demerit(&[1], &[0, 0]), None);
    }

    /// Sizes that differ: measured {1, 3} steps at 1/2, simulated {1, 2, 3} at 1/3 and 2/3. The
    /// quantiles differ by 1 on (1/3, 2/3] and agree elsewhere: mean square 1/3, RMS 0.577,
    /// over the measured mean of 2.
    #[test]
    fn the_demerit_of_distributions_of_different_sizes() {
        let d = demerit(&[1, 2, 3], &[1, 3]).unwrap();
        let want = (1.0f64 / 3.0).sqrt() / 2.0;
        assert!((d - want).abs() < 1e-12, "{d} vs {want}");
        // A long tail weighs what it covers: one sample in ten 100 units off.
        let real = [10u64; 10];
        let mut sim = [10u64; 10];
        sim[9] = 110;
        let d = demerit(&sim, &real).unwrap();
        assert!(
            (d - (10_000.0f64 / 10.0).sqrt() / 10.0).abs() < 1e-12,
            "{d}"
        );
    }

    /// The same workload on the loop device and on a modelled drive: the same requests, so the
    /// same count of each class on both sides, every one timed.
    #[test]
    fn both_sides_issue_the_same_requests_per_class() {
        use models::disk::device::Device;
        use models::disk::hdd::{Hdd, HddSpec, SeekCurve, Zone};
        use models::disk::sched::IoPolicy;
        use models::disk::workload::Pattern;
        let _one = crate::blockdev::tests::ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(why) = LoopDevice::unavailable() {
            eprintln!("skipped: loop devices cannot be made here ({why})");
            return;
        }
        let w = IoWorkload {
            block: 4096,
            pattern: Pattern::Random,
            read_fraction: 0.7,
            queue_depth: 3,
            requests: 600,
            span: 4 << 20,
            start: 4096,
        };
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let dev = LoopDevice::create(dir.path(), w.extent(), &stop).unwrap();
        let issued = ops(&w, 9);
        let real = measure(&dev, &issued, w.queue_depth, &stop).unwrap();
        let hdd = Hdd::new(HddSpec {
            rpm: 7200,
            cylinders: 10_000,
            heads: 2,
            zones: vec![Zone {
                first_cylinder: 0,
                sectors_per_track: 500,
            }],
            seek: SeekCurve::HP_97560,
        })
        .unwrap();
        let sim =
            models::disk::queue::simulate(&w, Device::Hdd(hdd), IoPolicy::Fifo, &mut ops_stream(9));
        let reads = issued.iter().filter(|o| o.kind == IoKind::Read).count();
        assert_eq!(real.read.len(), reads);
        assert_eq!(real.write.len(), 600 - reads);
        assert_eq!(
            (sim.read.len(), sim.write.len()),
            (real.read.len(), real.write.len())
        );
        assert!(real.makespan > 0 && real.read.iter().all(|&ns| ns > 0));
        let [(_, r), (_, wr)] = Figures::of_run(&real);
        let (r, wr) = (r.unwrap(), wr.unwrap());
        assert!(r.p50 <= r.p90 && r.p90 <= r.p99 && r.p99 <= r.max && r.iops > 0.0);
        assert_eq!(r.n + wr.n, 600);
        // Interrupted before it starts: no request is issued, and the run says so.
        stop.store(true, Ordering::Relaxed);
        assert!(matches!(
            measure(&dev, &issued, 2, &stop),
            Err(DiskError::Interrupted)
        ));
    }

    #[test]
    fn figures_are_nearest_rank_percentiles_and_rates() {
        let v: Vec<u64> = (1..=100).collect();
        let f = Figures::of(&v, 2_000_000_000).unwrap();
        assert_eq!(
            (f.n, f.p50, f.p90, f.p99, f.max),
            (100, 50.0, 90.0, 99.0, 100.0)
        );
        assert!((f.iops - 50.0).abs() < 1e-9);
        assert_eq!(Figures::of(&[], 1), None);
    }
}

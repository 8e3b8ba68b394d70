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
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use models::disk::device::Device;
use models::disk::hdd::SECTOR_BYTES;
use models::disk::queue::{IoRun, simulate};
use models::disk::workload::{IoKind, IoOp, IoWorkload, Pattern, stream_name};
use models::world::disk::{DeviceSpec, DiskConfig, IoConfig};
use simcore::RngStream;

use crate::blockdev::{AlignedBuf, DiskError, LoopDevice};
use crate::fio::Fio;
use crate::run::RunError;

/// The stream the `io` load `name` draws its requests from for a seed: the simulator's own
/// ([`stream_name`]), so both sides issue the same requests.
pub fn ops_stream(seed: u64, name: &str) -> RngStream {
    RngStream::derive(seed, &stream_name(name))
}

/// The requests of the `io` load `name` for `seed`, in the order they are issued.
pub fn ops(workload: &IoWorkload, seed: u64, name: &str) -> Vec<IoOp> {
    workload.ops(&mut ops_stream(seed, name)).collect()
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

/// The largest loop device `native run` makes: its file is written through before the run.
pub const MAX_DEVICE_BYTES: u64 = 4 << 30;

/// A disk scenario: `io` loads, each on its host's modelled disk, and no Raft cluster.
#[derive(Debug)]
pub struct DiskScenario {
    pub name: String,
    /// The swept values of the variant chosen (empty without a sweep).
    pub variant: String,
    pub seed: u64,
    /// Each `io` load with its host's disk. A load placed on several hosts runs once, as its
    /// first copy (whose requests `native run` draws as the simulator's first copy does).
    pub loads: Vec<(IoConfig, DiskConfig)>,
}

/// The scenario at `path` as a disk scenario, or None when it is not one (it has a `raft`
/// block, or no `io` block): `native run` then runs it as before.
pub fn load(
    path: &Path,
    seed: Option<u64>,
    variant: &[String],
) -> Result<Option<DiskScenario>, DiskError> {
    let scenario = scenarios::load(path).map_err(|e| DiskError::Scenario(e.to_string()))?;
    let Ok(checked) = scenarios::check::check(&scenario) else {
        return Ok(None); // The Raft runner reports the scenario's errors, as it always has.
    };
    let has = |kind: &str| checked.blocks.iter().any(|b| b.spec.kind == kind);
    if has("raft") || !has("io") {
        return Ok(None);
    }
    let chosen = crate::run::choose(&scenario, seed, variant).map_err(|e| match e {
        RunError::Scenario(m) | RunError::Setup(m) => DiskError::Scenario(m),
        RunError::Interrupted => DiskError::Interrupted,
    })?;
    let world = chosen.world;
    let mut loads: Vec<(IoConfig, DiskConfig)> = Vec::new();
    for io in &world.io {
        if loads.iter().any(|(l, _)| l.name == io.name) {
            continue;
        }
        let disk = world
            .disks
            .iter()
            .find(|(h, _)| *h == io.host)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| DiskError::Scenario(format!("io `{}` has no disk", io.name)))?;
        if io.workload.extent() > MAX_DEVICE_BYTES {
            return Err(DiskError::Scenario(format!(
                "{}: io `{}` reaches byte {} ({}), and native run makes a loop device as large as \
                 that, at most {}; give the io block a smaller `span` (and `start`)",
                path.display(),
                io.name,
                io.workload.extent(),
                size(io.workload.extent()),
                size(MAX_DEVICE_BYTES)
            )));
        }
        loads.push((io.clone(), disk));
    }
    Ok(Some(DiskScenario {
        name: chosen.name,
        variant: chosen.label,
        seed: chosen.seed,
        loads,
    }))
}

/// One load's three sides.
#[derive(Debug)]
pub struct LoadReport {
    pub io: IoConfig,
    pub disk: DiskConfig,
    /// The loop device it ran on, its size, and whether the loop driver used direct I/O.
    pub device: String,
    pub device_bytes: u64,
    pub direct_io: bool,
    pub sim: IoRun,
    pub real: IoRun,
    pub fio: Fio,
}

/// Runs each load of `scenario` in the simulator ([`simulate`] on its disk's model, the requests
/// from the load's stream) and on a loop device of its extent (the same requests), then fio on
/// that device; `progress` hears of each step, with a word for what it is: `cleaned` (what a
/// killed run had left), `running`.
pub fn run(
    scenario: &DiskScenario,
    stop: &AtomicBool,
    fio: bool,
    progress: &mut dyn FnMut(&str, &str),
) -> Result<Vec<LoadReport>, DiskError> {
    let mut out = Vec::new();
    for (io, disk) in &scenario.loads {
        let w = &io.workload;
        let device = modelled(&disk.device, w.extent())
            .map_err(|e| DiskError::Scenario(format!("disk `{}`: {e}", disk.name)))?;
        let sim = simulate(
            w,
            device,
            disk.policy,
            &mut ops_stream(scenario.seed, &io.name),
        );
        let dev = LoopDevice::create(&crate::blockdev::state_dir(), w.extent(), stop)?;
        for line in dev.cleaned() {
            progress("cleaned", line);
        }
        progress(
            "running",
            &format!("io `{}` on {}", io.name, dev.path().display()),
        );
        if stop.load(Ordering::Relaxed) {
            return Err(DiskError::Interrupted);
        }
        let issued = ops(w, scenario.seed, &io.name);
        let real = measure(&dev, &issued, w.queue_depth, stop)?;
        let fio = if fio {
            crate::fio::run(w, dev.path(), scenario.seed, stop)?
        } else {
            Fio::Skipped("--no-fio".into())
        };
        out.push(LoadReport {
            io: io.clone(),
            disk: disk.clone(),
            device: dev.path().display().to_string(),
            device_bytes: dev.bytes(),
            direct_io: dev.direct_io(),
            sim,
            real,
            fio,
        });
    }
    Ok(out)
}

/// The device `spec` describes, as a loop device of `extent` bytes is when the workload starts:
/// its contents written (an SSD's pages mapped, at no time; see `Ssd::precondition`).
pub fn modelled(spec: &DeviceSpec, extent: u64) -> Result<Device, String> {
    let mut device = spec.build()?;
    if let Device::Ssd(ssd) = &mut device {
        let sectors = extent.div_ceil(SECTOR_BYTES).min(ssd.sectors());
        ssd.precondition(0, sectors).map_err(|e| e.to_string())?;
    }
    Ok(device)
}

/// A modelled device in words: `hdd 7200 rpm, 2000 cylinders`, `raid5 of 4 x (hdd ...)`.
pub fn device_words(d: &DeviceSpec) -> String {
    match d {
        DeviceSpec::Hdd(spec) => format!("hdd {} rpm, {} cylinders", spec.rpm, spec.cylinders),
        DeviceSpec::Ssd(spec) => format!(
            "ssd, flash read {}, program {}, {} dies on {} MB/s channels",
            reports::text::show(spec.read_ns as f64, true),
            reports::text::show(spec.program_ns as f64, true),
            spec.dies,
            spec.bus_bytes_per_s / 1_000_000
        ),
        DeviceSpec::Array {
            level,
            members,
            member,
            ..
        } => format!(
            "{} of {members} x ({})",
            format!("{level:?}").to_lowercase(),
            device_words(member)
        ),
    }
}

/// Bytes for people: `4 KiB`, `64 MiB`, `1.5 GiB`.
pub fn size(bytes: u64) -> String {
    let units = [
        (1u64 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (unit, name) in units {
        if bytes >= unit {
            let v = bytes as f64 / unit as f64;
            return if v.fract() == 0.0 {
                format!("{v} {name}")
            } else {
                format!("{v:.1} {name}")
            };
        }
    }
    format!("{bytes} B")
}

/// A workload in words: `4 KiB random, 70% reads, queue depth 4, 10000 requests over 64 MiB
/// from 0`.
pub fn describe(w: &IoWorkload) -> String {
    let pattern = match w.pattern {
        Pattern::Random => "random",
        Pattern::Sequential => "sequential",
    };
    format!(
        "{} {pattern}, {}% reads, queue depth {}, {} requests over {} from byte {}",
        size(w.block),
        (w.read_fraction * 100.0).round(),
        w.queue_depth,
        w.requests,
        size(w.blocks() * w.block),
        w.start
    )
}

/// One row of a comparison table: a class on one side, and that side's demerit against the
/// measurement when it has samples to compare.
#[derive(Debug, Clone)]
pub struct Row {
    pub class: IoKind,
    pub side: String,
    pub figures: Option<Figures>,
    pub demerit: Option<f64>,
}

/// The rows of a load: per class, the simulator, the measurement and fio (when it ran).
pub fn rows(sim: &IoRun, real: &IoRun, fio: &Fio) -> Vec<Row> {
    let mut out = Vec::new();
    for kind in IoKind::ALL {
        if sim.of(kind).is_empty() && real.of(kind).is_empty() {
            continue;
        }
        out.push(Row {
            class: kind,
            side: "sim".into(),
            figures: Figures::of(sim.of(kind), sim.makespan),
            demerit: demerit(sim.of(kind), real.of(kind)),
        });
        out.push(Row {
            class: kind,
            side: "real".into(),
            figures: Figures::of(real.of(kind), real.makespan),
            demerit: None,
        });
        if let Fio::Ran(classes) = fio {
            out.push(Row {
                class: kind,
                side: "fio".into(),
                figures: classes.iter().find(|(k, _)| *k == kind).and_then(|c| c.1),
                demerit: None,
            });
        }
    }
    out
}

/// Rows as a table for people: latencies in time units, IOPS, and the demerit as a percentage.
pub fn table(rows: &[Row]) -> Vec<String> {
    let mut out = vec![format!(
        "{:<6} {:<5} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "class", "side", "n", "p50", "p90", "p99", "max", "IOPS", "demerit"
    )];
    let t = |v: f64| reports::text::show(v, true);
    for r in rows {
        let figures = match r.figures {
            Some(f) => format!(
                "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9.0}",
                f.n,
                t(f.p50),
                t(f.p90),
                t(f.p99),
                t(f.max),
                f.iops
            ),
            None => format!(
                "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
                0, "-", "-", "-", "-", "-"
            ),
        };
        let demerit = r
            .demerit
            .map_or(String::new(), |d| format!("{:>7.1}%", d * 100.0));
        out.push(
            format!("{:<6} {:<5} {figures} {demerit:>8}", r.class.name(), r.side)
                .trim_end()
                .to_string(),
        );
    }
    out
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
        let issued = ops(&w, 9, "t");
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
            track_buffer: None,
        })
        .unwrap();
        let sim = models::disk::queue::simulate(
            &w,
            Device::Hdd(hdd),
            IoPolicy::Fifo,
            &mut ops_stream(9, "t"),
        );
        let reads = issued.iter().filter(|o| o.kind == IoKind::Read).count();
        assert_eq!(real.read.len(), reads);
        assert_eq!(real.write.len(), 600 - reads);
        assert_eq!(
            (sim.read.len(), sim.write.len()),
            (real.read.len(), real.write.len())
        );
        assert!(real.makespan > 0 && real.read.iter().all(|&ns| ns > 0));
        let r = Figures::of(&real.read, real.makespan).unwrap();
        let wr = Figures::of(&real.write, real.makespan).unwrap();
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

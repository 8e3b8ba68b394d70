//! `native calibrate disk`: measures a loop device with a few workloads (random and sequential
//! reads and writes at a couple of block sizes, one request at a time), fits the SSD model's
//! timing to them, and writes the fit as a `disk` block to `include` and the measurements in
//! RON (which a scenario can `include` as well: the loader turns it into the same block).
//!
//! The fit is on the model itself, not on a formula for it: for candidate parameters (the
//! flash read and program latencies and the channel's transfer rate: the `disk` block's
//! `read_latency`, `write_latency` and `transfer`), [`simulate`] runs every calibration workload
//! on the model with the very requests that were measured, and the fit keeps the parameters
//! whose simulated response times are nearest the measured ones. Nearness is the DiskSim
//! validations' measure, the demerit figure ([`demerit`]: the RMS horizontal distance between the
//! simulated and measured response-time CDFs, over the measured mean), squared and averaged over
//! the workloads and classes. The search is a coordinate search in log space: each parameter in
//! turn over a grid of a few decades around its current value, then a golden-section refinement
//! in the best cell, for a few rounds. The report gives the demerit before (the `disk { model
//! ssd }` defaults) and after (the fit), per workload and overall.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use models::disk::queue::simulate;
use models::disk::sched::IoPolicy;
use models::disk::ssd::SsdSpec;
use models::disk::workload::{IoKind, IoWorkload, Pattern};
use models::world::disk::DeviceSpec;
use serde::{Deserialize, Serialize};

use crate::blockdev::{DiskError, LoopDevice};
use crate::diskrun::{demerit, measure, ops, ops_stream, size};

/// The span every calibration workload covers (the loop device's size).
pub const SPAN: u64 = 256 << 20;
/// The seed of the calibration workloads' requests.
const SEED: u64 = 1;
/// Rounds of the coordinate search.
const ROUNDS: usize = 3;

/// The workloads measured: (name, pattern, read share, block).
const WORKLOADS: [(&str, Pattern, f64, u64); 6] = [
    ("random-read-4k", Pattern::Random, 1.0, 4 << 10),
    ("random-read-64k", Pattern::Random, 1.0, 64 << 10),
    ("random-write-4k", Pattern::Random, 0.0, 4 << 10),
    ("random-write-64k", Pattern::Random, 0.0, 64 << 10),
    ("sequential-read-256k", Pattern::Sequential, 1.0, 256 << 10),
    ("sequential-write-256k", Pattern::Sequential, 0.0, 256 << 10),
];

/// One calibration workload of `requests` requests.
fn workload(pattern: Pattern, reads: f64, block: u64, requests: u64) -> IoWorkload {
    IoWorkload {
        block,
        pattern,
        read_fraction: reads,
        queue_depth: 1,
        requests,
        span: SPAN,
        start: 0,
    }
}

/// One workload's measured response times (nanoseconds) of its one class.
#[derive(Debug, Clone)]
pub struct Measured {
    pub name: &'static str,
    pub workload: IoWorkload,
    pub class: IoKind,
    pub latencies: Vec<u64>,
}

/// Measures every calibration workload on `dev`.
pub fn measure_all(
    dev: &LoopDevice,
    requests: u64,
    stop: &AtomicBool,
) -> Result<Vec<Measured>, DiskError> {
    let mut out = Vec::new();
    for (name, pattern, reads, block) in WORKLOADS {
        let w = workload(pattern, reads, block, requests);
        let run = measure(dev, &ops(&w, SEED, name), 1, stop)?;
        let class = if reads >= 1.0 {
            IoKind::Read
        } else {
            IoKind::Write
        };
        out.push(Measured {
            name,
            workload: w,
            class,
            latencies: run.of(class).to_vec(),
        });
    }
    Ok(out)
}

/// The parameters fitted, as the `disk` block names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub read_ns: f64,
    pub program_ns: f64,
    pub transfer: f64,
}

/// Each parameter's bounds, in log10 of its unit (ns, ns, bytes per second).
const BOUNDS: [(f64, f64); 3] = [(2.0, 7.0), (2.0, 7.5), (6.0, 10.5)];

impl Params {
    fn of(spec: &SsdSpec) -> Params {
        Params {
            read_ns: spec.read_ns as f64,
            program_ns: spec.program_ns as f64,
            transfer: spec.bus_bytes_per_s as f64,
        }
    }

    /// `base` with these parameters, rounded as the `disk` block writes them.
    fn apply(&self, base: &SsdSpec) -> SsdSpec {
        SsdSpec {
            read_ns: self.read_ns.round().max(1.0) as u64,
            program_ns: self.program_ns.round().max(1.0) as u64,
            bus_bytes_per_s: self.transfer.round().max(1.0) as u64,
            ..base.clone()
        }
    }

    fn get(&self, k: usize) -> f64 {
        [self.read_ns, self.program_ns, self.transfer][k]
    }

    fn with(mut self, k: usize, v: f64) -> Params {
        match k {
            0 => self.read_ns = v,
            1 => self.program_ns = v,
            _ => self.transfer = v,
        }
        self
    }
}

/// The simulated response times of `m`'s workload on `spec`: the measured requests.
fn simulated(m: &Measured, spec: &SsdSpec, policy: IoPolicy) -> Vec<u64> {
    match crate::diskrun::modelled(&DeviceSpec::Ssd(spec.clone()), SPAN) {
        Ok(device) => simulate(&m.workload, device, policy, &mut ops_stream(SEED, m.name))
            .of(m.class)
            .to_vec(),
        Err(_) => Vec::new(),
    }
}

/// The fit's cost: the mean squared demerit over the workloads (a workload the model cannot
/// serve costs as much as a demerit of 100 times the mean).
fn cost(measured: &[Measured], spec: &SsdSpec, policy: IoPolicy) -> f64 {
    let sum: f64 = measured
        .iter()
        .map(|m| demerit(&simulated(m, spec, policy), &m.latencies).map_or(1e4, |d| d * d))
        .sum();
    sum / measured.len().max(1) as f64
}

/// The parameters that bring `base` nearest the measurements, from `base`'s own.
pub fn fit(measured: &[Measured], base: &SsdSpec, policy: IoPolicy) -> Params {
    let mut p = Params::of(base);
    let f = |p: Params| cost(measured, &p.apply(base), policy);
    let mut best = f(p);
    for _ in 0..ROUNDS {
        for (k, &(lo, hi)) in BOUNDS.iter().enumerate() {
            let cur = p;
            let at = |x: f64| cur.with(k, 10f64.powf(x));
            // A grid over a decade and a half each side of the current value.
            let now = p.get(k).max(1.0).log10().clamp(lo, hi);
            let (a, b) = ((now - 1.5).max(lo), (now + 1.5).min(hi));
            const STEPS: usize = 16;
            let step = (b - a) / STEPS as f64;
            let grid: Vec<(f64, f64)> = (0..=STEPS)
                .map(|i| a + step * i as f64)
                .map(|x| (x, f(at(x))))
                .collect();
            let (x0, c0) = grid
                .iter()
                .copied()
                .min_by(|u, v| u.1.total_cmp(&v.1))
                .unwrap_or((now, best));
            // Golden-section search in the cells beside the grid's best.
            let (mut l, mut r) = ((x0 - step).max(lo), (x0 + step).min(hi));
            let g = (5f64.sqrt() - 1.0) / 2.0;
            let (mut x1, mut x2) = (r - g * (r - l), l + g * (r - l));
            let (mut f1, mut f2) = (f(at(x1)), f(at(x2)));
            for _ in 0..12 {
                if f1 <= f2 {
                    r = x2;
                    (x2, f2) = (x1, f1);
                    x1 = r - g * (r - l);
                    f1 = f(at(x1));
                } else {
                    l = x1;
                    (x1, f1) = (x2, f2);
                    x2 = l + g * (r - l);
                    f2 = f(at(x2));
                }
            }
            for (x, c) in [(x0, c0), (x1, f1), (x2, f2)] {
                if c < best {
                    best = c;
                    p = at(x);
                }
            }
        }
    }
    p
}

/// One workload's figures before and after calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRow {
    pub workload: String,
    pub class: String,
    pub n: u64,
    pub measured_mean_ns: f64,
    pub measured_p50_ns: f64,
    pub measured_p99_ns: f64,
    pub before_p50_ns: f64,
    pub after_p50_ns: f64,
    pub demerit_before: f64,
    pub demerit_after: f64,
}

/// What `native calibrate disk` measured and fitted: the RON it writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskCalibration {
    /// The device measured, in words.
    pub device: String,
    pub requests_per_workload: u64,
    pub workloads: Vec<FitRow>,
    /// The fit: the `disk` block's `read_latency`, `write_latency` (ns) and `transfer` (B/s).
    pub read_latency_ns: u64,
    pub write_latency_ns: u64,
    pub transfer_bytes_per_s: u64,
    /// The RMS of the workloads' demerits, with the defaults and with the fit.
    pub demerit_before: f64,
    pub demerit_after: f64,
}

impl DiskCalibration {
    /// The scenario fragment: the fitted `disk` block.
    pub fn fragment(&self) -> String {
        format!(
            "# Written by `native calibrate disk`: {}, {} workloads of {} requests.\n\
             # Demerit (RMS distance between the response-time CDFs over the measured mean):\n\
             # {:.1}% with `disk {{ model ssd }}`'s defaults, {:.1}% fitted.\n\
             # Include it in place of a scenario's own `disk` block.\n{}",
            self.device,
            self.workloads.len(),
            self.requests_per_workload,
            self.demerit_before * 100.0,
            self.demerit_after * 100.0,
            scenarios::source::disk_block(
                self.read_latency_ns,
                self.write_latency_ns,
                self.transfer_bytes_per_s
            ),
        )
    }

    /// The report for people: each workload before and after, and the overall demerit.
    pub fn table(&self) -> Vec<String> {
        let t = |v: f64| reports::text::show(v, true);
        let mut out = vec![format!(
            "{:<22} {:<5} {:>6} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9}",
            "workload",
            "class",
            "n",
            "real p50",
            "real p99",
            "model p50",
            "fit p50",
            "demerit",
            "fitted"
        )];
        for r in &self.workloads {
            out.push(format!(
                "{:<22} {:<5} {:>6} {:>9} {:>9} {:>10} {:>10} {:>8.1}% {:>8.1}%",
                r.workload,
                r.class,
                r.n,
                t(r.measured_p50_ns),
                t(r.measured_p99_ns),
                t(r.before_p50_ns),
                t(r.after_p50_ns),
                r.demerit_before * 100.0,
                r.demerit_after * 100.0
            ));
        }
        out.push(format!(
            "demerit (RMS over the workloads): {:.1}% with the defaults, {:.1}% fitted",
            self.demerit_before * 100.0,
            self.demerit_after * 100.0
        ));
        out
    }
}

/// The defaults of `disk { model ssd }`, as the scenario language wires them.
pub fn default_ssd() -> Result<(SsdSpec, IoPolicy), String> {
    match wired(&scenarios::source::disk_block_default())? {
        (DeviceSpec::Ssd(spec), policy) => Ok((spec, policy)),
        (other, _) => Err(format!("`disk {{ model ssd }}` wired as {other:?}")),
    }
}

/// The device and scheduler a scenario with this `disk` block gives its disk.
pub fn wired(disk_block: &str) -> Result<(DeviceSpec, IoPolicy), String> {
    let text = format!(
        "scenario \"calibration\" {{\n  {disk_block}\n  io w {{ span {} }}\n}}\n",
        size(SPAN).replace(' ', "")
    );
    let scenario = scenarios::parse::parse("calibration", &text)
        .map_err(|d| scenarios::ScenarioError::Invalid(d).to_string())?;
    let checked = scenarios::check::check(&scenario)
        .map_err(|d| scenarios::ScenarioError::Invalid(d).to_string())?;
    let world = scenarios::wire::wire(&checked, 0)
        .map_err(|d| scenarios::ScenarioError::Invalid(d).to_string())?
        .world;
    world
        .disks
        .into_iter()
        .next()
        .map(|(_, d)| (d.device, d.policy))
        .ok_or_else(|| "no disk".to_string())
}

/// Measures, fits and sums up: the calibration of the device `dev`.
pub fn calibrate(
    dev: &LoopDevice,
    requests: u64,
    stop: &AtomicBool,
) -> Result<DiskCalibration, DiskError> {
    let measured = measure_all(dev, requests, stop)?;
    let (base, policy) = default_ssd().map_err(DiskError::Setup)?;
    let p = fit(&measured, &base, policy);
    let fitted = p.apply(&base);
    let p50 = |v: &[u64]| crate::diskrun::Figures::of(v, 1).map_or(0.0, |f| f.p50);
    let workloads: Vec<FitRow> = measured
        .iter()
        .map(|m| {
            let before = simulated(m, &base, policy);
            let after = simulated(m, &fitted, policy);
            let real = crate::diskrun::Figures::of(&m.latencies, 1);
            FitRow {
                workload: m.name.to_string(),
                class: m.class.name().to_string(),
                n: m.latencies.len() as u64,
                measured_mean_ns: m.latencies.iter().map(|&x| x as f64).sum::<f64>()
                    / m.latencies.len().max(1) as f64,
                measured_p50_ns: real.map_or(0.0, |f| f.p50),
                measured_p99_ns: real.map_or(0.0, |f| f.p99),
                before_p50_ns: p50(&before),
                after_p50_ns: p50(&after),
                demerit_before: demerit(&before, &m.latencies).unwrap_or(f64::NAN),
                demerit_after: demerit(&after, &m.latencies).unwrap_or(f64::NAN),
            }
        })
        .collect();
    let rms = |f: fn(&FitRow) -> f64| {
        (workloads.iter().map(|r| f(r).powi(2)).sum::<f64>() / workloads.len().max(1) as f64).sqrt()
    };
    Ok(DiskCalibration {
        device: format!(
            "{} over a {} file ({}), O_DIRECT",
            dev.path().display(),
            size(dev.bytes()),
            if dev.direct_io() {
                "the loop driver's direct I/O on"
            } else {
                "the loop driver's direct I/O off"
            }
        ),
        requests_per_workload: requests,
        demerit_before: rms(|r| r.demerit_before),
        demerit_after: rms(|r| r.demerit_after),
        read_latency_ns: fitted.read_ns,
        write_latency_ns: fitted.program_ns,
        transfer_bytes_per_s: fitted.bus_bytes_per_s,
        workloads,
    })
}

/// Makes the loop device, calibrates it, and removes it (however that ends).
pub fn run(requests: u64, stop: &AtomicBool) -> Result<(DiskCalibration, Vec<String>), DiskError> {
    let dev = LoopDevice::create(&crate::blockdev::state_dir(), SPAN, stop)?;
    let cleaned = dev.cleaned().to_vec();
    calibrate(&dev, requests, stop).map(|c| (c, cleaned))
}

/// Writes the fragment to `path` and the calibration in RON beside it.
pub fn write(cal: &DiskCalibration, path: &Path) -> Result<(), String> {
    crate::calibrate::write_pair(&cal.fragment(), cal, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measurements made by a known model are fitted back to that model's flash latencies
    /// (within the search's resolution), and the demerit falls to about nothing. The transfer
    /// rate is only weakly determined: each die has its own channel, so a page's crossing is a
    /// small part of any request, and a little more flash time makes up for a slower channel.
    #[test]
    fn a_fit_recovers_the_parameters_of_a_known_model() {
        let (base, policy) = default_ssd().unwrap();
        let truth = Params {
            read_ns: 80_000.0,
            program_ns: 150_000.0,
            transfer: 900_000_000.0,
        }
        .apply(&base);
        let measured: Vec<Measured> = WORKLOADS
            .iter()
            .map(|&(name, p, r, b)| {
                let w = workload(p, r, b, 200);
                let class = if r >= 1.0 {
                    IoKind::Read
                } else {
                    IoKind::Write
                };
                let mut m = Measured {
                    name,
                    workload: w,
                    class,
                    latencies: Vec::new(),
                };
                m.latencies = simulated(&m, &truth, policy);
                m
            })
            .collect();
        let before = cost(&measured, &base, policy);
        let p = fit(&measured, &base, policy);
        let after = cost(&measured, &p.apply(&base), policy);
        assert!(after < before / 100.0, "cost {before} -> {after} ({p:?})");
        assert!(after.sqrt() < 0.05, "demerit {} ({p:?})", after.sqrt());
        for (got, want) in [(p.read_ns, 80_000.0), (p.program_ns, 150_000.0)] {
            assert!((got / want - 1.0).abs() < 0.1, "{p:?}");
        }
    }

    /// The fragment is the fitted `disk` block: a scenario including it (or the RON) gets an
    /// SSD with the fitted timing.
    #[test]
    fn the_fragment_and_the_ron_stand_for_the_fitted_disk() {
        let cal = DiskCalibration {
            device: "/dev/loop0".into(),
            requests_per_workload: 10,
            workloads: Vec::new(),
            read_latency_ns: 61_234,
            write_latency_ns: 98_765,
            transfer_bytes_per_s: 812_345_678,
            demerit_before: 5.0,
            demerit_after: 0.1,
        };
        let dir = tempfile::tempdir().unwrap();
        let frag = dir.path().join("disk.scn");
        write(&cal, &frag).unwrap();
        for include in ["disk.scn", "disk.ron"] {
            let scn = dir.path().join("s.scn");
            std::fs::write(
                &scn,
                format!(
                    "scenario \"c\" {{\n  include \"{include}\"\n  io w {{ span 64MiB  requests 10 }}\n}}\n"
                ),
            )
            .unwrap();
            let s = scenarios::load(&scn).unwrap();
            let checked = scenarios::check::check(&s).unwrap();
            let world = scenarios::wire::wire(&checked, 1).unwrap().world;
            match &world.disks[0].1.device {
                DeviceSpec::Ssd(spec) => assert_eq!(
                    (spec.read_ns, spec.program_ns, spec.bus_bytes_per_s),
                    (61_234, 98_765, 812_345_678),
                    "{include}"
                ),
                other => panic!("{include}: {other:?}"),
            }
        }
        let back: DiskCalibration =
            ron::from_str(&std::fs::read_to_string(dir.path().join("disk.ron")).unwrap()).unwrap();
        assert_eq!(back, cal);
    }
}

//! fio, the reference: Debian's `fio` runs the same workload on the same loop device, and its
//! completion-latency percentiles stand beside the project's own measurement, so a reader can
//! tell the device from the measuring.
//!
//! The workload is translated into fio's terms: `--rw` from the pattern and read share
//! (`randrw` with `--rwmixread`, `randread`, `read`, ...), `--bs` the block, `--offset` and
//! `--size` the span, `--iodepth` the queue depth with the `libaio` engine (one job keeping that
//! many requests outstanding), `--number_ios` and `--io_size` the requests, `--direct=1`, and
//! `--norandommap` so that random blocks are drawn with replacement as [`IoWorkload::ops`]
//! draws them. fio draws its own requests (from `--randseed`), so its counts per class are near
//! the workload's shares, not equal to them.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use models::disk::workload::{IoKind, IoWorkload, Pattern};

use crate::blockdev::DiskError;
use crate::child::{self, ChildError};
use crate::diskrun::Figures;

/// The longest fio may run.
const TIMEOUT: Duration = Duration::from_secs(900);

/// What fio gave: each class's figures, or why there are none.
#[derive(Debug, Clone, PartialEq)]
pub enum Fio {
    Ran([(IoKind, Option<Figures>); 2]),
    Skipped(String),
}

/// fio's arguments for `workload` on `device`.
pub fn args(workload: &IoWorkload, device: &Path, seed: u64) -> Vec<String> {
    let random = workload.pattern == Pattern::Random;
    let rw = match (workload.read_fraction, random) {
        (f, true) if f >= 1.0 => "randread",
        (f, true) if f <= 0.0 => "randwrite",
        (_, true) => "randrw",
        (f, false) if f >= 1.0 => "read",
        (f, false) if f <= 0.0 => "write",
        (_, false) => "rw",
    };
    let mut a = vec![
        "--name=sim".to_string(),
        format!("--filename={}", device.display()),
        "--direct=1".into(),
        "--ioengine=libaio".into(),
        format!("--iodepth={}", workload.queue_depth),
        format!("--rw={rw}"),
        format!("--bs={}", workload.block),
        format!("--offset={}", workload.start),
        format!("--size={}", workload.blocks() * workload.block),
        format!("--number_ios={}", workload.requests),
        format!("--io_size={}", workload.requests * workload.block),
        format!("--randseed={seed}"),
        "--percentile_list=50:90:99".into(),
        "--output-format=json".into(),
    ];
    if rw.ends_with("rw") {
        a.push(format!(
            "--rwmixread={}",
            (workload.read_fraction * 100.0).round() as u32
        ));
    }
    if random {
        a.push("--norandommap".into());
    }
    a
}

/// Runs fio on `device`; fio missing or failing is a skip with its reason, not an error.
/// `stop` kills it and ends the run as interrupted.
pub fn run(
    workload: &IoWorkload,
    device: &Path,
    seed: u64,
    stop: &AtomicBool,
) -> Result<Fio, DiskError> {
    let mut cmd = Command::new("fio");
    cmd.args(args(workload, device, seed));
    let done = match child::run(cmd, TIMEOUT, stop) {
        Ok(done) => done,
        Err(ChildError::Interrupted) => return Err(DiskError::Interrupted),
        Err(ChildError::Spawn(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Fio::Skipped(
                "fio is not installed (apt-get install fio)".into(),
            ));
        }
        Err(ChildError::Spawn(e) | ChildError::Wait(e)) => {
            return Ok(Fio::Skipped(format!("fio could not run: {e}")));
        }
    };
    match done.status {
        None => Ok(Fio::Skipped(format!(
            "fio ran longer than {} s",
            TIMEOUT.as_secs()
        ))),
        Some(s) if !s.success() => Ok(Fio::Skipped(format!(
            "fio failed ({s}): {}",
            done.stderr.lines().next().unwrap_or("no message")
        ))),
        Some(_) => parse(&done.stdout)
            .map(Fio::Ran)
            .or_else(|e| Ok(Fio::Skipped(e))),
    }
}

/// Each class's figures from fio's JSON: completion latency (`clat_ns`) percentiles and
/// maximum, the I/Os it completed, and its IOPS.
pub fn parse(json: &str) -> Result<[(IoKind, Option<Figures>); 2], String> {
    // fio may print notes before its JSON.
    let start = json.find('{').ok_or("fio printed no JSON")?;
    let v: serde_json::Value =
        serde_json::from_str(&json[start..]).map_err(|e| format!("fio's JSON: {e}"))?;
    let job = v
        .get("jobs")
        .and_then(|j| j.get(0))
        .ok_or("fio's JSON has no job")?;
    let class = |kind: IoKind| -> Result<Option<Figures>, String> {
        let side = job
            .get(kind.name())
            .ok_or_else(|| format!("fio's JSON has no `{}`", kind.name()))?;
        let n = side.get("total_ios").and_then(|x| x.as_u64()).unwrap_or(0);
        if n == 0 {
            return Ok(None);
        }
        let clat = side
            .get("clat_ns")
            .ok_or_else(|| format!("fio's JSON has no {} clat_ns", kind.name()))?;
        let pct = |p: &str| {
            clat.get("percentile")
                .and_then(|m| m.get(p))
                .and_then(|x| x.as_f64())
                .ok_or_else(|| format!("fio's JSON has no {} percentile {p}", kind.name()))
        };
        Ok(Some(Figures {
            n,
            p50: pct("50.000000")?,
            p90: pct("90.000000")?,
            p99: pct("99.000000")?,
            max: clat.get("max").and_then(|x| x.as_f64()).unwrap_or(0.0),
            iops: side.get("iops").and_then(|x| x.as_f64()).unwrap_or(0.0),
        }))
    };
    Ok([
        (IoKind::Read, class(IoKind::Read)?),
        (IoKind::Write, class(IoKind::Write)?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(pattern: Pattern, reads: f64) -> IoWorkload {
        IoWorkload {
            block: 8192,
            pattern,
            read_fraction: reads,
            queue_depth: 4,
            requests: 1000,
            span: 8192 * 100,
            start: 4096,
        }
    }

    #[test]
    fn the_workload_in_fios_terms() {
        let a = args(&workload(Pattern::Random, 0.7), Path::new("/dev/loop9"), 3);
        for want in [
            "--filename=/dev/loop9",
            "--rw=randrw",
            "--rwmixread=70",
            "--bs=8192",
            "--iodepth=4",
            "--offset=4096",
            "--size=819200",
            "--number_ios=1000",
            "--io_size=8192000",
            "--randseed=3",
            "--direct=1",
            "--norandommap",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} not in {a:?}");
        }
        let a = args(
            &workload(Pattern::Sequential, 1.0),
            Path::new("/dev/loop9"),
            3,
        );
        assert!(a.iter().any(|x| x == "--rw=read"), "{a:?}");
        assert!(
            !a.iter()
                .any(|x| x.starts_with("--rwmixread") || x == "--norandommap")
        );
    }

    #[test]
    fn fios_json_gives_each_class_its_figures() {
        let json = r#"note: a line fio printed first
{ "jobs": [ {
  "read": { "total_ios": 700, "iops": 1500.5,
            "clat_ns": { "max": 900000, "percentile": { "50.000000": 50000, "90.000000": 80000, "99.000000": 200000 } } },
  "write": { "total_ios": 0, "iops": 0, "clat_ns": { "max": 0 } } } ] }"#;
        let [(r, read), (w, write)] = parse(json).unwrap();
        assert_eq!((r, w), (IoKind::Read, IoKind::Write));
        assert_eq!(
            read,
            Some(Figures {
                n: 700,
                p50: 50_000.0,
                p90: 80_000.0,
                p99: 200_000.0,
                max: 900_000.0,
                iops: 1500.5
            })
        );
        assert_eq!(write, None, "a class fio did not issue has no figures");
        assert!(parse("fio: no such file").is_err());
        assert!(parse(r#"{"jobs": [{"read": {"total_ios": 3, "clat_ns": {}}}]}"#).is_err());
    }

    /// fio on a real loop device issues the workload's requests, every one (its own mix of
    /// classes); without fio it is a skip with the reason.
    #[test]
    fn fio_on_a_loop_device_issues_every_request() {
        let _one = crate::blockdev::tests::ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(why) = crate::blockdev::LoopDevice::unavailable() {
            eprintln!("skipped: loop devices cannot be made here ({why})");
            return;
        }
        let w = IoWorkload {
            requests: 300,
            ..workload(Pattern::Random, 0.5)
        };
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let dev = crate::blockdev::LoopDevice::create(dir.path(), w.extent(), &stop).unwrap();
        match run(&w, dev.path(), 1, &stop).unwrap() {
            Fio::Skipped(why) => {
                assert!(why.contains("not installed"), "{why}");
                eprintln!("skipped: {why}");
            }
            Fio::Ran([(_, r), (_, wr)]) => {
                let (r, wr) = (r.unwrap(), wr.unwrap());
                assert_eq!(r.n + wr.n, 300);
                // fio's percentiles are its latency histogram's bucket values (64 buckets per
                // power of two: each up to 1/64 above the latencies it holds), while its max is
                // exact, so with 150 reads the p99 (the slowest read's bucket) may exceed the max
                // by that much.
                assert!(r.p50 > 0.0 && r.p50 <= r.p99, "{r:?}");
                assert!(r.p99 <= r.max * (1.0 + 1.0 / 64.0), "{r:?}");
            }
        }
    }
}

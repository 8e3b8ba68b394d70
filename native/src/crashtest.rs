//! `native crashtest`: a real program on the simulated storage stack, crashed at its operations
//! one by one, in the manner of ALICE (Pillai et al., OSDI 2014) and CrashMonkey (Mohan et al.,
//! OSDI 2018), on a mount like LazyFS's.
//!
//! A scenario's `mount` block names a setup, a program and a check (shell commands run in the
//! mount). A dry run counts the operations that change the file system (the crash points); then,
//! for each point chosen, a fresh stack (the same for every point: the seed fixes it) runs the
//! setup on a mount that does not crash, the program on one that crashes at the point (power
//! lost: unsynced data gone, writes not yet flushed lost or torn at sector boundaries, a
//! directory keeping a random prefix of its unsynced changes; every operation after fails with
//! EIO), then recovers, mounts again, and runs the check. One point more than the operations is
//! a power cut after the program exited. Every point whose check fails is reported with the
//! command that replays it.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use models::storage::fs::Fs;
use models::world::store::{crashable_stack, stack_fault};
use scenarios::wire_mount::{DiskChange, MountConfig};
use simcore::RngStream;

use crate::child::{self, ChildError};
use crate::fusefs::{DiskClock, Shared, SimFs};
use crate::mount::{Mounted, mount_point};

/// Why a crash test could not run.
#[derive(Debug, thiserror::Error)]
pub enum CrashError {
    #[error("{0}")]
    Scenario(String),
    #[error("{0}")]
    Setup(String),
    /// The program or the check is wrong without any crash (the check must pass then).
    #[error("{0}")]
    Program(String),
    #[error("interrupted: the program was stopped and the mount removed")]
    Interrupted,
}

/// One crash point's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointOutcome {
    /// The operation at which the stack crashed.
    pub point: u64,
    /// Whether the check passed on the recovered file system.
    pub ok: bool,
    /// What the check printed (stdout then stderr), for the report.
    pub output: String,
    /// What the program printed, for a replay.
    pub program: String,
    /// The point came after the program's last operation: a power cut after it exited.
    pub after_exit: bool,
}

/// A crash point as `--point` names it: an operation's number, or `end`, a power cut after
/// the program exits (whatever the number of its operations, which faults at real instants
/// can change from run to run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    At(u64),
    End,
}

impl std::str::FromStr for Point {
    type Err = String;
    fn from_str(s: &str) -> Result<Point, String> {
        match s {
            "end" => Ok(Point::End),
            _ => match s.parse::<u64>() {
                Ok(0) | Err(_) => Err(format!(
                    "`{s}`: a crash point is an operation's number (from 1) or `end`"
                )),
                Ok(k) => Ok(Point::At(k)),
            },
        }
    }
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Point::At(k) => write!(f, "{k}"),
            Point::End => write!(f, "end"),
        }
    }
}

impl PointOutcome {
    /// How `--point` names it again.
    pub fn replay(&self) -> Point {
        if self.after_exit {
            Point::End
        } else {
            Point::At(self.point)
        }
    }
}

/// The crash point that is a power cut after the program exits: past any operation it makes.
pub const AFTER_EXIT: u64 = u64::MAX;

/// How each run's stack is made and what it runs: `program` and `check` are shell commands
/// run in the mount (their working directory), each within `limit`.
pub struct CrashTest<'a> {
    /// Run first, on a mount that does not crash: the state the program starts from.
    pub setup: Option<&'a str>,
    pub program: &'a str,
    pub check: &'a str,
    pub limit: Duration,
    /// Makes each run's fresh stack (the same for every point, so runs differ only in where
    /// they crash).
    pub model: &'a dyn Fn() -> Fs,
    /// Makes the disk clock that times the program's operations (none: untimed).
    pub clock: Option<&'a dyn Fn() -> DiskClock>,
    /// The disk's faults, from the program's start.
    pub faults: &'a [DiskChange],
    /// Ctrl-C, SIGTERM, SIGHUP: the command running is killed and the test ends.
    pub stop: &'a AtomicBool,
    /// A file outside the mount, emptied before each run's program and kept for its check
    /// (`$SIM_ACKS`): where a program writes what it acknowledged, which no crash can lose.
    pub acks: &'a Path,
}

/// What a command did: whether it exited 0, and its output.
struct Ran {
    ok: bool,
    output: String,
}

impl CrashTest<'_> {
    /// Runs the program on a fresh mount without crashing: how many operations it makes (the
    /// crash points are 1 to that, and one more after it exits), and the check's outcome.
    /// The program must succeed and the check must pass here; else the error says which.
    pub fn dry_run(&self, at: &Path) -> Result<(u64, PointOutcome), CrashError> {
        let (n, program, check) = self.run(at, None)?;
        // Under disk faults a program may fail and still be right (it acknowledged nothing it
        // could not make durable); without faults, a failure is a broken program.
        if !program.ok && self.faults.is_empty() {
            return Err(CrashError::Program(format!(
                "the program fails without any crash: {}",
                shown(&program.output)
            )));
        }
        if !check.ok {
            return Err(CrashError::Program(format!(
                "the check fails without any crash (it must pass on what the program leaves): {}",
                shown(&check.output)
            )));
        }
        Ok((
            n,
            PointOutcome {
                point: 0,
                ok: true,
                output: check.output,
                program: program.output,
                after_exit: false,
            },
        ))
    }

    /// Runs the program with the stack crashing at operation `point` ([`AFTER_EXIT`]: after the
    /// program exits, however many operations it made), recovers, mounts again and runs the
    /// check.
    pub fn at(&self, at: &Path, point: u64) -> Result<PointOutcome, CrashError> {
        let (made, program, check) = self.run(at, Some(point))?;
        Ok(PointOutcome {
            point: point.min(made + 1),
            ok: check.ok,
            output: check.output,
            program: program.output,
            after_exit: point > made,
        })
    }

    fn run(&self, at: &Path, point: Option<u64>) -> Result<(u64, Ran, Ran), CrashError> {
        let fs: Shared = Arc::new(Mutex::new((self.model)()));
        let mount =
            |simfs: SimFs| Mounted::new(simfs, at).map_err(|e| CrashError::Setup(e.to_string()));
        if let Some(setup) = self.setup {
            let m = mount(SimFs::new(fs.clone(), None))?;
            let ran = self.shell(setup, at)?;
            drop(m);
            if !ran.ok {
                return Err(CrashError::Program(format!(
                    "the setup failed: {}",
                    shown(&ran.output)
                )));
            }
            // What the setup leaves is where the program starts from, whatever it synced.
            sync_all(&mut crate::fusefs::lock(&fs))
                .map_err(|e| CrashError::Setup(format!("syncing the setup's files: {e}")))?;
        }
        std::fs::write(self.acks, b"")
            .map_err(|e| CrashError::Setup(format!("{}: {e}", self.acks.display())))?;
        let ops = Arc::new(AtomicU64::new(0));
        let mut simfs = SimFs::new(fs.clone(), point).with_faults(self.faults.to_vec());
        if let Some(clock) = self.clock {
            simfs = simfs.timed(clock());
        }
        simfs.counter = Some(ops.clone());
        let m = mount(simfs)?;
        // The program may fail once the stack has crashed: that is the point.
        let program = self.shell(self.program, at)?;
        drop(m);
        let made = ops.load(Ordering::Relaxed);
        {
            let mut fs = crate::fusefs::lock(&fs);
            // The faults were the program's; the machine that comes back has a healthy disk.
            stack_fault(&mut fs, None);
            if let Some(p) = point {
                // A point past the program's last operation is a power cut after it exited.
                if p > made {
                    fs.crash();
                }
                fs.recover(&mut Vec::new())
                    .map_err(|e| CrashError::Setup(format!("recovering the stack: {e}")))?;
            }
        }
        let m = mount(SimFs::new(fs.clone(), None))?;
        let check = self.shell(self.check, at)?;
        drop(m);
        Ok((made, program, check))
    }

    /// Runs `cmd` with `sh -c` in `dir`, killed (with everything it started) after the limit
    /// or when the test is stopped.
    fn shell(&self, cmd: &str, dir: &Path) -> Result<Ran, CrashError> {
        let mut c = Command::new("sh");
        c.args(["-c", cmd])
            .current_dir(dir)
            .env("SIM_ACKS", self.acks)
            .env("SIM_MOUNT", dir);
        match child::run(c, self.limit, self.stop) {
            Ok(f) => {
                let mut output = f.stdout;
                output.push_str(&f.stderr);
                if f.status.is_none() {
                    output.push_str(&format!(
                        "(killed after the timeout, {} s)",
                        self.limit.as_secs()
                    ));
                }
                Ok(Ran {
                    ok: f.status.is_some_and(|s| s.success()),
                    output,
                })
            }
            Err(ChildError::Interrupted) => Err(CrashError::Interrupted),
            Err(ChildError::Spawn(e) | ChildError::Wait(e)) => {
                Err(CrashError::Setup(format!("running sh: {e}")))
            }
        }
    }
}

/// Makes every file and directory durable, as `sync` does.
fn sync_all(fs: &mut Fs) -> Result<(), models::storage::fs::FsError> {
    let mut io = Vec::new();
    for name in fs.list("")? {
        if fs.dir_exists(&name) {
            for file in fs.list(&name)? {
                fs.fsync(&format!("{name}/{file}"), &mut io)?;
            }
            fs.fsync_dir(&name, &mut io)?;
        } else {
            fs.fsync(&name, &mut io)?;
        }
    }
    fs.fsync_dir("", &mut io)
}

/// A command's output for one line of a report: its last non-empty line, or a note that it
/// printed nothing.
pub fn shown(output: &str) -> String {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "(it printed nothing)".into())
}

/// The crash points to try for a program of `ops` operations: all of `1..=ops + 1`, or
/// `wanted` of them drawn without replacement from `rng`, in order.
pub fn points(ops: u64, wanted: Option<u64>, rng: &mut RngStream) -> Vec<u64> {
    let all = ops + 1;
    match wanted {
        Some(k) if k < all => {
            // Floyd's algorithm: k distinct draws from 1..=all.
            let mut chosen = std::collections::BTreeSet::new();
            for j in (all - k + 1)..=all {
                let t = 1 + rng.below(j);
                if !chosen.insert(t) {
                    chosen.insert(j);
                }
            }
            chosen.into_iter().collect()
        }
        _ => (1..=all).collect(),
    }
}

/// The stack a mount serves for `seed`, on a disk of `sectors`: a file system over a block
/// device the size of the host's disk, whose crashes tear unflushed writes at sector boundaries
/// and keep each one with even odds, as a `kvstore`'s device does.
pub fn model(name: &str, sectors: u64, seed: u64) -> Fs {
    crashable_stack(sectors, RngStream::derive(seed, &format!("{name}.device")))
}

/// The size of a mount's disk in bytes, for the report.
pub fn bytes(config: &MountConfig) -> u64 {
    config
        .device
        .build()
        .map(|d| d.sectors() * models::disk::hdd::SECTOR_BYTES)
        .unwrap_or(0)
}

/// Loads `path`'s mount for `seed` (the scenario's own when None): the mount, the seed and the
/// scenario's name.
pub fn load(path: &Path, seed: Option<u64>) -> Result<(MountConfig, u64, String), CrashError> {
    let joined = |d: Vec<scenarios::Diagnostic>| scenarios::ScenarioError::Invalid(d).to_string();
    let scenario = scenarios::load(path).map_err(|e| CrashError::Scenario(e.to_string()))?;
    let checked =
        scenarios::check::check(&scenario).map_err(|d| CrashError::Scenario(joined(d)))?;
    if scenarios::sweep::variants(&scenario)
        .map_err(|d| CrashError::Scenario(joined(d)))?
        .len()
        > 1
    {
        return Err(CrashError::Scenario(format!(
            "{}: a crash test runs one configuration; this scenario sweeps (remove the sweep)",
            path.display()
        )));
    }
    let seed = seed.or(checked.seed).unwrap_or(0);
    let mount = scenarios::wire_mount::mount(&checked, seed)
        .map_err(|d| CrashError::Scenario(joined(d)))?;
    let Some(mount) = mount else {
        return Err(CrashError::Scenario(format!(
            "{}: native crashtest runs a scenario's `mount` block, and this one has none (add `mount data {{ program \"...\"  check \"...\" }}` with a disk)",
            path.display()
        )));
    };
    Ok((mount, seed, checked.name))
}

/// Everything a crash test found.
pub struct Outcome {
    pub ops: u64,
    pub tried: Vec<PointOutcome>,
}

/// Runs the crash test of `config` for `seed`: every point (or `only`, a replay), with
/// `progress` told of each point done.
pub fn run(
    config: &MountConfig,
    seed: u64,
    only: Option<Point>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&PointOutcome, usize, usize),
) -> Result<Outcome, CrashError> {
    let removed = crate::mount::remove_leftovers();
    for r in &removed {
        eprintln!("cleaned up: {r}");
    }
    // The disk was built when the scenario was checked; an error here is the scenario's.
    let device = config.device.build().map_err(CrashError::Scenario)?;
    let sectors = device.sectors();
    let fresh = || model(&config.name, sectors, seed);
    let timed = || {
        DiskClock::new(
            device.clone(),
            RngStream::derive(seed, &format!("{}.slow", config.name)),
        )
    };
    // The mount point (made first, so it is removed last: after every mount on it is gone).
    let dir = mount_point().map_err(|e| CrashError::Setup(format!("making a mount point: {e}")))?;
    let acks = crate::mount::owned_file("acks")
        .map_err(|e| CrashError::Setup(format!("making the acknowledgements' file: {e}")))?;
    let t = CrashTest {
        setup: config.setup.as_deref(),
        program: &config.program,
        check: &config.check,
        limit: Duration::from_nanos(config.timeout.as_nanos()),
        model: &fresh,
        clock: config.latency.then_some(&timed as &dyn Fn() -> DiskClock),
        faults: &config.faults,
        stop,
        acks: acks.path(),
    };
    let (ops, _) = t.dry_run(dir.path())?;
    let chosen = match only {
        Some(Point::End) => vec![AFTER_EXIT],
        Some(Point::At(k)) if k > ops + 1 => {
            return Err(CrashError::Scenario(format!(
                "--point {k}: the program makes {ops} operations, so the crash points are 1 to {} ({} or `end` is a power cut after it exits)",
                ops + 1,
                ops + 1
            )));
        }
        Some(Point::At(k)) => vec![k],
        None => points(
            ops,
            config.points,
            &mut RngStream::derive(seed, &format!("{}.points", config.name)),
        ),
    };
    // The last point is the power cut after exit, even if this run makes more operations.
    let chosen: Vec<u64> = chosen
        .into_iter()
        .map(|k| if k > ops { AFTER_EXIT } else { k })
        .collect();
    let mut tried = Vec::with_capacity(chosen.len());
    for (i, &k) in chosen.iter().enumerate() {
        let o = t.at(dir.path(), k)?;
        progress(&o, i + 1, chosen.len());
        tried.push(o);
    }
    Ok(Outcome { ops, tried })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_all_or_a_seeded_sample() {
        let mut rng = RngStream::derive(1, "t");
        assert_eq!(points(4, None, &mut rng), [1, 2, 3, 4, 5]);
        assert_eq!(points(4, Some(9), &mut rng), [1, 2, 3, 4, 5]);
        let a = points(1000, Some(20), &mut RngStream::derive(7, "p"));
        let b = points(1000, Some(20), &mut RngStream::derive(7, "p"));
        assert_eq!(a, b, "the same seed chooses the same points");
        assert_eq!(a.len(), 20);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[19] <= 1001 && a[0] >= 1);
        assert_ne!(a, points(1000, Some(20), &mut RngStream::derive(8, "p")));
    }
}

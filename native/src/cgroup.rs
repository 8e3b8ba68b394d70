//! A CPU cgroup made for one run: Linux's CFS bandwidth control (a quota per period) and CPU
//! shares, on cgroup v1's `cpu` controller (`/sys/fs/cgroup/cpu/NAME`: `cpu.cfs_quota_us`,
//! `cpu.cfs_period_us`, `cpu.shares`) or, where the machine has the unified hierarchy, on cgroup
//! v2 (`/sys/fs/cgroup/NAME`: `cpu.max`, `cpu.weight`). Its `cpu.stat` gives the throttling
//! figures (`nr_periods`, `nr_throttled`, `throttled_time`).
//!
//! Removed when the run ends, however it ends:
//!
//! - a normal end, an error, a panic (unwinding), Ctrl-C, SIGTERM and SIGHUP (the runner's stop
//!   flag ends the run, and then the same way as an error): the [`Cgroup`] guard's `Drop` kills
//!   what is left in it, waits for it to be empty and removes it;
//! - a SIGKILLed runner cannot: its worker dies with it (a parent-death signal) and the empty
//!   cgroup stays. Its name says whose it is (`sim-native-PID-START-K`: the owner's pid and start
//!   time, as the loop devices' records say it), so the next [`Cgroup::create`] removes every
//!   one whose owner is gone ([`remove_leftovers`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::blockdev::Owner;

/// Every cgroup a run makes starts with this, then `PID-START-K`.
pub const PREFIX: &str = "sim-native-";

/// Which hierarchy holds the `cpu` controller here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// cgroup v1: the `cpu` controller's own hierarchy, at this directory.
    V1(PathBuf),
    /// cgroup v2: the unified hierarchy, at this directory, with `cpu` in its subtree.
    V2(PathBuf),
}

impl Version {
    /// Where the run's cgroups are made.
    pub fn root(&self) -> &Path {
        match self {
            Version::V1(p) | Version::V2(p) => p,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Version::V1(_) => "cgroup v1",
            Version::V2(_) => "cgroup v2",
        }
    }
}

/// The `cpu` controller here: v2 where `/sys/fs/cgroup` is the unified hierarchy and offers
/// `cpu`, else v1 where `/sys/fs/cgroup/cpu` has CFS bandwidth control; why not, otherwise.
pub fn detect() -> Result<Version, String> {
    detect_at(Path::new("/sys/fs/cgroup"))
}

fn detect_at(base: &Path) -> Result<Version, String> {
    let controllers = std::fs::read_to_string(base.join("cgroup.controllers"));
    if let Ok(c) = controllers {
        return if c.split_whitespace().any(|w| w == "cpu") {
            Ok(Version::V2(base.to_path_buf()))
        } else {
            Err(format!(
                "{} is cgroup v2 without the cpu controller",
                base.display()
            ))
        };
    }
    let v1 = base.join("cpu");
    if v1.join("cpu.cfs_quota_us").exists() {
        return Ok(Version::V1(v1));
    }
    Err(format!(
        "no cgroup cpu controller: neither {} (v2) nor {} (v1)",
        base.join("cgroup.controllers").display(),
        v1.join("cpu.cfs_quota_us").display()
    ))
}

/// Why CPU cgroups cannot be made here, if they cannot.
pub fn unavailable() -> Option<String> {
    let version = match detect() {
        Ok(v) => v,
        Err(why) => return Some(why),
    };
    // SAFETY: geteuid has no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some(format!(
            "making a cgroup under {} needs root",
            version.root().display()
        ));
    }
    None
}

/// What the cgroup allows: `quota` of CPU time per `period` (`None`: no limit), and its share
/// against other cgroups (v1 `cpu.shares`, 1024 by default; v2 `cpu.weight`, 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub quota: Option<Duration>,
    pub period: Duration,
    pub shares: u64,
}

/// `cpu.stat`'s throttling figures (`throttled_time` in nanoseconds whichever the version).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStat {
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_time: u64,
}

impl CpuStat {
    /// v1's `throttled_time` (ns) or v2's `throttled_usec`.
    fn parse(text: &str) -> CpuStat {
        let mut s = CpuStat::default();
        for line in text.lines() {
            let mut w = line.split_whitespace();
            let (Some(key), Some(value)) = (w.next(), w.next().and_then(|v| v.parse::<u64>().ok()))
            else {
                continue;
            };
            match key {
                "nr_periods" => s.nr_periods = value,
                "nr_throttled" => s.nr_throttled = value,
                "throttled_time" => s.throttled_time = value,
                "throttled_usec" => s.throttled_time = value.saturating_mul(1000),
                _ => {}
            }
        }
        s
    }
}

/// A cgroup of this run's, removed when dropped.
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
    version: Version,
    /// What killed runs left and this one removed before making it.
    cleaned: Vec<String>,
}

/// Each cgroup of this process gets a number of its own.
static MADE: AtomicU32 = AtomicU32::new(0);

/// How long the removal waits for the processes it killed to leave.
const EMPTY_WITHIN: Duration = Duration::from_secs(10);

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing `{value}` to {}: {e}", path.display()))
}

impl Cgroup {
    /// Removes what killed runs left, then makes a cgroup named after this process with
    /// `limit`. On an error, what was made is removed.
    pub fn create(limit: Limit) -> Result<Cgroup, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let version = detect()?;
        if let Version::V2(root) = &version {
            enable_cpu(root)?;
        }
        let cleaned = remove_leftovers(version.root());
        let owner = Owner::me();
        let k = MADE.fetch_add(1, Ordering::Relaxed);
        let path = version
            .root()
            .join(format!("{PREFIX}{}-{}-{k}", owner.pid, owner.start));
        std::fs::create_dir(&path).map_err(|e| format!("making {}: {e}", path.display()))?;
        let made = Cgroup {
            path,
            version,
            cleaned,
        };
        made.set(limit)?;
        Ok(made)
    }

    fn set(&self, limit: Limit) -> Result<(), String> {
        let period = limit.period.as_micros().clamp(1000, 1_000_000);
        let quota = limit.quota.map(|q| q.as_micros().max(1000));
        match self.version {
            Version::V1(_) => {
                write(&self.path.join("cpu.cfs_period_us"), &period.to_string())?;
                let quota = quota.map_or("-1".to_string(), |q| q.to_string());
                write(&self.path.join("cpu.cfs_quota_us"), &quota)?;
                write(&self.path.join("cpu.shares"), &limit.shares.to_string())
            }
            Version::V2(_) => {
                let quota = quota.map_or("max".to_string(), |q| q.to_string());
                write(&self.path.join("cpu.max"), &format!("{quota} {period}"))?;
                // v1's shares (2..262144, default 1024) onto v2's weight (1..10000, default 100).
                let weight = (limit.shares.saturating_mul(100) / 1024).clamp(1, 10_000);
                write(&self.path.join("cpu.weight"), &weight.to_string())
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn version(&self) -> &Version {
        &self.version
    }

    /// What earlier, killed runs left, removed before this cgroup was made.
    pub fn cleaned(&self) -> &[String] {
        &self.cleaned
    }

    /// Moves process `pid` (with its threads) into the cgroup.
    pub fn add(&self, pid: u32) -> std::io::Result<()> {
        std::fs::write(self.path.join("cgroup.procs"), pid.to_string())
    }

    /// Its `cpu.stat` now.
    pub fn stat(&self) -> Result<CpuStat, String> {
        let file = self.path.join("cpu.stat");
        std::fs::read_to_string(&file)
            .map(|t| CpuStat::parse(&t))
            .map_err(|e| format!("{}: {e}", file.display()))
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

/// v2: a child cgroup has a `cpu.max` only if its parent's `cgroup.subtree_control` has `cpu`.
fn enable_cpu(root: &Path) -> Result<(), String> {
    let control = root.join("cgroup.subtree_control");
    let on = std::fs::read_to_string(&control)
        .map(|t| t.split_whitespace().any(|w| w == "cpu"))
        .unwrap_or(false);
    if on { Ok(()) } else { write(&control, "+cpu") }
}

/// The processes in the cgroup at `path`.
fn procs(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Kills every process in the cgroup at `path`, waits (up to [`EMPTY_WITHIN`]) until it is
/// empty, and removes it; whether it is gone.
fn remove(path: &Path) -> bool {
    let deadline = Instant::now() + EMPTY_WITHIN;
    loop {
        let left = procs(path);
        if left.is_empty() && std::fs::remove_dir(path).is_ok() {
            return true;
        }
        if !path.exists() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        for pid in left {
            // SAFETY: kill(2) with a pid read from the cgroup and a signal number touches no
            // memory. A process is stopped and continued so that a stopped one dies too.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGCONT);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The owner a cgroup's name gives (`sim-native-PID-START-K`).
fn owner_of(name: &str) -> Option<Owner> {
    let mut parts = name.strip_prefix(PREFIX)?.split('-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    Some(Owner { pid, start })
}

/// Removes the cgroups under `root` that runs no longer running left (a SIGKILLed runner's);
/// one line per cgroup, naming it.
pub fn remove_leftovers(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dead: Vec<(PathBuf, Owner)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            owner_of(&name).map(|o| (e.path(), o))
        })
        .filter(|(_, o)| !o.alive())
        .collect();
    dead.sort_by(|a, b| a.0.cmp(&b.0));
    dead.iter()
        .filter(|(path, _)| remove(path))
        .map(|(path, o)| format!("removed what process {} left: {}", o.pid, path.display()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stat_reads_v1_and_v2() {
        let v1 = "nr_periods 12\nnr_throttled 3\nthrottled_time 4500000\nnr_bursts 0\n";
        assert_eq!(
            CpuStat::parse(v1),
            CpuStat {
                nr_periods: 12,
                nr_throttled: 3,
                throttled_time: 4_500_000
            }
        );
        let v2 = "usage_usec 100\nuser_usec 90\nsystem_usec 10\nnr_periods 5\nnr_throttled 2\nthrottled_usec 7\n";
        assert_eq!(
            CpuStat::parse(v2),
            CpuStat {
                nr_periods: 5,
                nr_throttled: 2,
                throttled_time: 7000
            }
        );
    }

    #[test]
    fn a_name_says_whose_it_is() {
        assert_eq!(
            owner_of("sim-native-123-456-0"),
            Some(Owner {
                pid: 123,
                start: 456
            })
        );
        assert_eq!(owner_of("sim-native-x-456-0"), None);
        assert_eq!(owner_of("user.slice"), None);
    }

    #[test]
    fn the_version_is_read_from_the_hierarchy() {
        let dir = tempfile::tempdir().unwrap();
        assert!(detect_at(dir.path()).is_err());
        std::fs::create_dir(dir.path().join("cpu")).unwrap();
        std::fs::write(dir.path().join("cpu/cpu.cfs_quota_us"), "-1\n").unwrap();
        assert_eq!(
            detect_at(dir.path()),
            Ok(Version::V1(dir.path().join("cpu")))
        );
        std::fs::write(dir.path().join("cgroup.controllers"), "cpuset io memory\n").unwrap();
        assert!(
            detect_at(dir.path())
                .unwrap_err()
                .contains("without the cpu")
        );
        std::fs::write(dir.path().join("cgroup.controllers"), "cpuset cpu io\n").unwrap();
        assert_eq!(
            detect_at(dir.path()),
            Ok(Version::V2(dir.path().to_path_buf()))
        );
    }

    /// A cgroup with a process in it: the process is killed and the cgroup removed on drop; a
    /// dead owner's leftover is removed by the next one, a live owner's is not. Skips where
    /// cgroups cannot be made.
    #[test]
    fn a_cgroup_goes_with_its_processes_and_a_dead_owners_leftover_goes_next_time() {
        if let Some(why) = unavailable() {
            eprintln!("skipped: cgroups cannot be made here ({why})");
            return;
        }
        let limit = Limit {
            quota: Some(Duration::from_millis(10)),
            period: Duration::from_millis(100),
            shares: 1024,
        };
        let g = Cgroup::create(limit).unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        g.add(sleeper.id()).unwrap();
        assert_eq!(procs(g.path()), [sleeper.id() as i32]);
        let path = g.path().to_path_buf();
        drop(g);
        assert!(!path.exists());
        assert!(sleeper.wait().is_ok(), "killed and reaped");
        // A leftover of a process that is gone.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let pid = gone.id();
        gone.wait().unwrap();
        let root = detect().unwrap().root().to_path_buf();
        let leftover = root.join(format!("{PREFIX}{pid}-1-0"));
        std::fs::create_dir(&leftover).unwrap();
        let g = Cgroup::create(limit).unwrap();
        assert!(!leftover.exists());
        assert!(
            g.cleaned().iter().any(|l| l.contains(&pid.to_string())),
            "{:?}",
            g.cleaned()
        );
        assert!(g.path().exists(), "this one's own, live, stays");
    }
}

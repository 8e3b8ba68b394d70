//! A real block device to measure: a loop device (`losetup --direct-io=on`) over a file in a
//! state directory, opened with `O_DIRECT` so every request reaches the device, bypassing the
//! page cache. Made for one run and removed when the run ends, however it ends:
//!
//! - a normal end, an error, a panic (unwinding), Ctrl-C, SIGTERM and SIGHUP (the runner's stop
//!   flag ends the run, and then the same way as an error): the [`LoopDevice`] guard's `Drop`
//!   closes the device, detaches it and deletes its file;
//! - a SIGKILLed runner cannot clean up, so what it makes is written down first: a record per
//!   device in the state directory (its owner's pid and start time, its file, its device), and
//!   the next [`LoopDevice::create`] removes what a dead owner left ([`remove_leftovers`]).
//!
//! The guard and the leftover sweep remove a device the same way ([`Record::remove`]): detach
//! every loop device over the file (`losetup -j`), then delete the file, then the record, so
//! that a record outlives everything it describes.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Buffers and offsets of `O_DIRECT` requests are aligned to this (a page: more than any
/// device's logical block).
pub const ALIGN: usize = 4096;

/// Why a disk run could not run.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The scenario cannot run natively; the message names its file.
    #[error("{0}")]
    Scenario(String),
    #[error("{0}")]
    Setup(String),
    #[error("interrupted: the loop device was detached and its file removed")]
    Interrupted,
}

/// Where loop devices' files and records live: `$TMPDIR/sim-native-disk`.
pub fn state_dir() -> PathBuf {
    std::env::temp_dir().join("sim-native-disk")
}

/// A process, told apart from a later one with the same pid by its start time (clock ticks
/// after boot, field 22 of `/proc/PID/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) pid: u32,
    pub(crate) start: u64,
}

impl Owner {
    pub(crate) fn of(pid: u32) -> Option<Owner> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `PID (COMM) STATE ...`: COMM may hold spaces; fields resume after the last `)`, at
        // field 3, so field 22 is the 20th after it.
        let (_, rest) = stat.rsplit_once(')')?;
        let start = rest.split_whitespace().nth(19)?.parse().ok()?;
        Some(Owner { pid, start })
    }

    pub(crate) fn me() -> Owner {
        let pid = std::process::id();
        Owner::of(pid).unwrap_or(Owner { pid, start: 0 })
    }

    /// The same process is still running.
    pub(crate) fn alive(&self) -> bool {
        Owner::of(self.pid) == Some(*self)
    }
}

/// What one run made, as written in the state directory before it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    /// This record's own file.
    path: PathBuf,
    owner: Owner,
    backing: PathBuf,
    device: Option<PathBuf>,
}

impl Record {
    fn text(&self) -> String {
        let mut t = format!(
            "owner {} {}\nbacking {}\n",
            self.owner.pid,
            self.owner.start,
            self.backing.display()
        );
        if let Some(d) = &self.device {
            t.push_str(&format!("device {}\n", d.display()));
        }
        t
    }

    fn parse(path: &Path, text: &str) -> Option<Record> {
        let mut owner = None;
        let mut backing = None;
        let mut device = None;
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("owner", v)) => {
                    let (pid, start) = v.split_once(' ')?;
                    owner = Some(Owner {
                        pid: pid.parse().ok()?,
                        start: start.parse().ok()?,
                    });
                }
                Some(("backing", v)) => backing = Some(PathBuf::from(v)),
                Some(("device", v)) => device = Some(PathBuf::from(v)),
                _ => {}
            }
        }
        Some(Record {
            path: path.to_path_buf(),
            owner: owner?,
            backing: backing?,
            device,
        })
    }

    fn write(&self) -> Result<(), DiskError> {
        scenarios::runner::write_atomically(&self.path, self.text().as_bytes())
            .map_err(|e| DiskError::Setup(format!("{}: {e}", self.path.display())))
    }

    /// The loop devices over the backing file: what `losetup -j` lists, and the recorded
    /// device if the kernel still says it is over that file (`losetup -j` cannot see a device
    /// whose file is already gone).
    fn attached(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = losetup(&[
            "--associated",
            &self.backing.to_string_lossy(),
            "--noheadings",
            "--output",
            "NAME",
        ])
        .map(|out| out.lines().map(|l| PathBuf::from(l.trim())).collect())
        .unwrap_or_default();
        if let Some(d) = &self.device {
            let over = d
                .file_name()
                .map(|n| Path::new("/sys/block").join(n).join("loop/backing_file"))
                .and_then(|p| std::fs::read_to_string(p).ok());
            let backing = self.backing.to_string_lossy();
            if over.is_some_and(|o| o.trim_end().starts_with(backing.as_ref()))
                && !found.contains(d)
            {
                found.push(d.clone());
            }
        }
        found
    }

    /// Detaches every loop device over the file, deletes the file, then the record; what it
    /// removed, for people.
    fn remove(&self) -> Vec<String> {
        let mut removed = Vec::new();
        for d in self.attached() {
            if losetup(&["--detach", &d.to_string_lossy()]).is_ok() {
                removed.push(d.display().to_string());
            }
        }
        if std::fs::remove_file(&self.backing).is_ok() {
            removed.push(self.backing.display().to_string());
        }
        let _ = std::fs::remove_file(&self.path);
        removed
    }
}

/// Runs `losetup ARGS`: its stdout, or its stderr in the error.
fn losetup(args: &[&str]) -> Result<String, String> {
    let out = Command::new("losetup")
        .args(args)
        .output()
        .map_err(|e| format!("running `losetup`: {e} (install mount)"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`losetup {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Removes what runs that are no longer running left in `dir` (a SIGKILLed runner's loop
/// devices and files); one line per run, naming what was removed.
pub fn remove_leftovers(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut records: Vec<Record> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "loop"))
        .filter_map(|p| Record::parse(&p, &std::fs::read_to_string(&p).ok()?))
        .filter(|r| !r.owner.alive())
        .collect();
    records.sort_by(|a, b| a.path.cmp(&b.path));
    records
        .iter()
        .map(|r| {
            let what = r.remove();
            format!(
                "removed what process {} left: {}",
                r.owner.pid,
                if what.is_empty() {
                    "its record".to_string()
                } else {
                    what.join(", ")
                }
            )
        })
        .collect()
}

/// A loop device over a file of its own, open with `O_DIRECT`.
#[derive(Debug)]
pub struct LoopDevice {
    /// The device, open for reading and writing; closed before the device is detached.
    file: Option<File>,
    record: Record,
    bytes: u64,
    /// Whether the loop driver reads and writes its file with direct I/O (bypassing the page
    /// cache under the file too), as `--direct-io=on` asks; some file systems refuse it.
    direct_io: bool,
    /// What earlier, killed runs left and this one removed.
    cleaned: Vec<String>,
}

/// Each device of this process gets a number of its own.
static MADE: AtomicU32 = AtomicU32::new(0);

/// The file's filler: not zeros, so a device that shortcuts zero pages would not flatter itself.
const FILL: u8 = 0xA5;

impl LoopDevice {
    /// Why loop devices cannot be made here, if they cannot.
    pub fn unavailable() -> Option<String> {
        let f = crate::probe::loop_device();
        (!f.available).then_some(f.detail)
    }

    /// Removes what killed runs left in `dir`, then makes a file of `bytes` (rounded up to
    /// [`ALIGN`]) there, written through so that reads find real blocks, attaches a loop
    /// device to it and opens that with `O_DIRECT`. `stop` (Ctrl-C, SIGTERM, SIGHUP) cuts the
    /// writing of the file short. On any error, what was made is removed.
    pub fn create(dir: &Path, bytes: u64, stop: &AtomicBool) -> Result<LoopDevice, DiskError> {
        if let Some(why) = Self::unavailable() {
            return Err(DiskError::Setup(format!("a loop device {why}")));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| DiskError::Setup(format!("{}: {e}", dir.display())))?;
        let cleaned = remove_leftovers(dir);
        let owner = Owner::me();
        let k = MADE.fetch_add(1, Ordering::Relaxed);
        let stem = format!("{}-{}-{k}", owner.pid, owner.start);
        let bytes = bytes.max(1).div_ceil(ALIGN as u64) * ALIGN as u64;
        let mut made = LoopDevice {
            file: None,
            record: Record {
                path: dir.join(format!("{stem}.loop")),
                owner,
                backing: dir.join(format!("{stem}.img")),
                device: None,
            },
            bytes,
            direct_io: false,
            cleaned,
        };
        // Written down before anything is made: a kill from here on leaves a record.
        made.record.write()?;
        fill(&made.record.backing, bytes, stop)?;
        let device = losetup(&[
            "--find",
            "--show",
            "--direct-io=on",
            &made.record.backing.to_string_lossy(),
        ])
        .map_err(DiskError::Setup)?;
        made.record.device = Some(PathBuf::from(device.trim()));
        made.record.write()?;
        made.direct_io = made.sysfs("loop/dio").is_some_and(|v| v.trim() == "1");
        let path = made.path().to_path_buf();
        made.file = Some(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .map_err(|e| DiskError::Setup(format!("opening {}: {e}", path.display())))?,
        );
        Ok(made)
    }

    /// The device, open with `O_DIRECT`.
    pub fn file(&self) -> &File {
        self.file.as_ref().expect("open from create until drop")
    }

    /// `/dev/loopN`.
    pub fn path(&self) -> &Path {
        self.record.device.as_deref().unwrap_or(Path::new(""))
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn direct_io(&self) -> bool {
        self.direct_io
    }

    /// What earlier, killed runs left, removed before this device was made.
    pub fn cleaned(&self) -> &[String] {
        &self.cleaned
    }

    /// A file of the device's directory in sysfs (`/sys/block/loopN/...`).
    fn sysfs(&self, name: &str) -> Option<String> {
        let dev = self.path().file_name()?;
        std::fs::read_to_string(Path::new("/sys/block").join(dev).join(name)).ok()
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        // Closed first: a device still open would be detached only when it is closed.
        self.file.take();
        self.record.remove();
    }
}

/// Writes `bytes` of [`FILL`] to a new file at `path` and syncs it.
fn fill(path: &Path, bytes: u64, stop: &AtomicBool) -> Result<(), DiskError> {
    use std::io::Write;
    let fail = |e: std::io::Error| DiskError::Setup(format!("{}: {e}", path.display()));
    let mut f = File::create(path).map_err(fail)?;
    let chunk = vec![FILL; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        if stop.load(Ordering::Relaxed) {
            return Err(DiskError::Interrupted);
        }
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).map_err(fail)?;
        left -= n as u64;
    }
    f.sync_all().map_err(fail)
}

/// A zeroed buffer aligned to [`ALIGN`], as `O_DIRECT` requests need.
pub struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    layout: std::alloc::Layout,
}

// SAFETY: the buffer is owned memory, like a Vec<u8>; nothing else points into it.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// `len` bytes (at least one [`ALIGN`]).
    pub fn new(len: usize) -> AlignedBuf {
        let len = len.max(ALIGN).div_ceil(ALIGN) * ALIGN;
        let layout = std::alloc::Layout::from_size_align(len, ALIGN).expect("a valid layout");
        // SAFETY: the layout's size is not zero.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr =
            std::ptr::NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, layout }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` holds `layout.size()` initialised bytes owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::os::unix::fs::FileExt;

    use super::*;

    /// Loop devices are machine-wide: tests that make them take turns.
    pub(crate) static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn skip() -> bool {
        match LoopDevice::unavailable() {
            Some(why) => {
                eprintln!("skipped: loop devices cannot be made here ({why})");
                true
            }
            None => false,
        }
    }

    fn associated(backing: &Path) -> String {
        losetup(&["--associated", &backing.to_string_lossy()]).unwrap_or_default()
    }

    #[test]
    fn a_device_takes_direct_io_and_leaves_nothing_when_dropped() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        if skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let dev = LoopDevice::create(dir.path(), 1 << 20, &stop).unwrap();
        assert!(
            dev.path().to_string_lossy().starts_with("/dev/loop"),
            "{:?}",
            dev.path()
        );
        assert_eq!(dev.bytes(), 1 << 20);
        let backing = dev.record.backing.clone();
        assert!(associated(&backing).contains(&dev.path().display().to_string()));
        // An aligned write and read back through O_DIRECT; the file's filler elsewhere.
        let mut buf = AlignedBuf::new(ALIGN);
        buf.as_mut_slice().fill(7);
        dev.file().write_all_at(buf.as_mut_slice(), 8192).unwrap();
        let mut back = AlignedBuf::new(ALIGN);
        dev.file().read_exact_at(back.as_mut_slice(), 8192).unwrap();
        assert!(back.as_mut_slice().iter().all(|&b| b == 7));
        dev.file().read_exact_at(back.as_mut_slice(), 0).unwrap();
        assert!(back.as_mut_slice().iter().all(|&b| b == FILL));
        // O_DIRECT refuses a misaligned offset: the device really is open for direct I/O.
        assert!(
            dev.file()
                .read_exact_at(&mut back.as_mut_slice()[..512], 100)
                .is_err()
        );
        drop(dev);
        assert_eq!(associated(&backing), "");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    /// A record whose owner is gone: its device is detached and its file and record deleted.
    /// A record of a live owner (this test) is left alone.
    #[test]
    fn what_a_dead_owner_left_is_removed_and_a_live_ones_is_not() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        if skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut gone = Command::new("true").spawn().unwrap();
        let dead = Owner {
            pid: gone.id(),
            start: 1,
        };
        gone.wait().unwrap();
        let backing = dir.path().join("dead.img");
        std::fs::write(&backing, vec![0u8; 1 << 16]).unwrap();
        let device = losetup(&["--find", "--show", &backing.to_string_lossy()]).unwrap();
        let record = Record {
            path: dir.path().join("dead.loop"),
            owner: dead,
            backing: backing.clone(),
            device: Some(PathBuf::from(device.trim())),
        };
        record.write().unwrap();
        let live = Record {
            path: dir.path().join("live.loop"),
            owner: Owner::me(),
            backing: dir.path().join("live.img"),
            device: None,
        };
        live.write().unwrap();
        assert_eq!(
            Record::parse(&record.path, &record.text()).as_ref(),
            Some(&record)
        );
        let removed = remove_leftovers(dir.path());
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert!(removed[0].contains(device.trim()), "{removed:?}");
        assert_eq!(associated(&backing), "");
        assert!(!backing.exists() && !record.path.exists());
        assert!(live.path.exists(), "a live owner's record stays");
    }

    #[test]
    fn buffers_are_aligned_for_direct_io() {
        let mut b = AlignedBuf::new(100);
        assert_eq!(b.as_mut_slice().len(), ALIGN);
        assert_eq!(b.as_mut_slice().as_ptr() as usize % ALIGN, 0);
        assert_eq!(AlignedBuf::new(ALIGN + 1).as_mut_slice().len(), 2 * ALIGN);
    }
}

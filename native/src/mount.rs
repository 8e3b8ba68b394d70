//! Mounting the simulated stack with FUSE, and never leaving a mount behind.
//!
//! A [`Mounted`] file system is unmounted when it is dropped, whatever way its runner ends: a
//! normal end, an error, a panic (unwinding), Ctrl-C, SIGTERM and SIGHUP (the runner's stop flag
//! ends its work and the guards drop). If the ordinary unmount fails (a process still has a
//! file open there), it is detached lazily: gone from the tree at once, released when the last
//! user lets go.
//!
//! A SIGKILLed runner cannot unmount: its mount stays, dead ("Transport endpoint is not
//! connected"). Each mount's source names its owner (`simfs-PID-START`: the pid and its start
//! time, so a later process with the same pid is not taken for it), as do the names of its mount
//! point and files in [`state_dir`], and the next crash test by any runner first detaches what a
//! dead owner left and removes its directories and files ([`remove_leftovers`]).

use std::path::{Path, PathBuf};

use crate::blockdev::Owner;
use crate::fusefs::SimFs;

/// The file system's subtype (`fuse.simfs` in `/proc/mounts` where fusermount3 mounts it).
const SUBTYPE: &str = "simfs";

/// Where mount points live: `$TMPDIR/sim-native-fuse`.
pub fn state_dir() -> PathBuf {
    std::env::temp_dir().join("sim-native-fuse")
}

/// Why FUSE cannot mount here, if it cannot (`native probe` and the tests' skips say the same).
pub fn unavailable() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some(
            "no /dev/fuse (load the fuse module, or give the container the device)".into(),
        );
    }
    if std::process::Command::new("fusermount3")
        .arg("-V")
        .output()
        .is_err()
    {
        return Some("no fusermount3 (install Debian's fuse3)".into());
    }
    None
}

/// A mounted [`SimFs`]; dropping it unmounts.
pub struct Mounted {
    session: Option<fuser::BackgroundSession>,
    at: PathBuf,
}

impl Mounted {
    /// Mounts `fs` at `at` (an existing directory), serving it on a thread of its own.
    pub fn new(fs: SimFs, at: &Path) -> std::io::Result<Mounted> {
        let owner = Owner::me();
        let options = [
            fuser::MountOption::FSName(format!("simfs-{}-{}", owner.pid, owner.start)),
            fuser::MountOption::Subtype(SUBTYPE.into()),
        ];
        let session = fuser::spawn_mount2(fs, at, &options).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("mounting the stack at {}: {e}", at.display()),
            )
        })?;
        Ok(Mounted {
            session: Some(session),
            at: at.to_path_buf(),
        })
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // The session unmounts as it ends; a mount still busy is detached instead.
        drop(self.session.take());
        if mounted_at(&self.at) {
            detach(&self.at);
        }
    }
}

/// One line of `/proc/mounts` that is a simfs mount: where, and by whom.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    at: PathBuf,
    owner: Option<Owner>,
}

/// The simfs mounts in `mounts` (the text of `/proc/mounts`).
fn entries(mounts: &str) -> Vec<Entry> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            let (source, at, kind) = (f.next()?, f.next()?, f.next()?);
            // The subtype shows only where fusermount3 mounts (not as root): the source tells.
            if !(kind == "fuse" || kind == format!("fuse.{SUBTYPE}")) {
                return None;
            }
            let rest = source.strip_prefix("simfs-")?;
            let owner = Some(rest).and_then(|rest| {
                let (pid, start) = rest.split_once('-')?;
                Some(Owner {
                    pid: pid.parse().ok()?,
                    start: start.parse().ok()?,
                })
            });
            Some(Entry {
                at: PathBuf::from(unescape(at)),
                owner,
            })
        })
        .collect()
}

/// A mount point as the kernel writes it in `/proc/mounts`: space, tab, newline and backslash
/// as three octal digits after a backslash.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn proc_mounts() -> String {
    std::fs::read_to_string("/proc/mounts").unwrap_or_default()
}

/// Whether a simfs file system is mounted at `at`.
pub fn mounted_at(at: &Path) -> bool {
    entries(&proc_mounts()).iter().any(|e| e.at == at)
}

/// Detaches the mount at `at` now (a lazy unmount): with fusermount3, or as root with
/// umount2(MNT_DETACH).
fn detach(at: &Path) {
    let done = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(at)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !done {
        if let Ok(c) = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()) {
            // SAFETY: umount2 reads a NUL-terminated path that outlives the call.
            unsafe {
                libc::umount2(c.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

/// Detaches every simfs mount whose owner is gone (a runner that was SIGKILLed), then removes
/// what dead owners left in [`state_dir`]: their mount points (empty once detached) and their
/// acknowledgement files. What it removed, one line each.
pub fn remove_leftovers() -> Vec<String> {
    let mut removed = Vec::new();
    for e in entries(&proc_mounts()) {
        if e.owner.is_some_and(|o| o.alive()) {
            continue;
        }
        detach(&e.at);
        removed.push(format!(
            "a FUSE mount at {} left by a runner that died",
            e.at.display()
        ));
    }
    let Ok(dir) = std::fs::read_dir(state_dir()) else {
        return removed;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if owner_of(&name).is_none_or(|o| o.alive()) || mounted_at(&path) {
            continue;
        }
        // A directory is removed only when empty: never what a mount still shows.
        let gone = if path.is_dir() {
            std::fs::remove_dir(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if gone.is_ok() {
            removed.push(format!("{} left by a runner that died", path.display()));
        }
    }
    removed
}

/// The owner a state file's name records (`mnt-PID-START-...`, `acks-PID-START-...`).
fn owner_of(name: &str) -> Option<Owner> {
    let mut parts = name.split('-').skip(1);
    Some(Owner {
        pid: parts.next()?.parse().ok()?,
        start: parts.next()?.parse().ok()?,
    })
}

/// The prefix of this runner's files in [`state_dir`]: what it is, and its owner.
fn owned(what: &str) -> String {
    let me = Owner::me();
    format!("{what}-{}-{}-", me.pid, me.start)
}

/// A fresh, empty directory to mount on, in [`state_dir`], named by its owner; removed when
/// dropped (after the mount on it, which must be dropped first).
pub fn mount_point() -> std::io::Result<tempfile::TempDir> {
    let dir = state_dir();
    std::fs::create_dir_all(&dir)?;
    tempfile::Builder::new()
        .prefix(&owned("mnt"))
        .tempdir_in(dir)
}

/// A fresh, empty file outside any mount, in [`state_dir`], named by its owner; removed when
/// dropped.
pub fn owned_file(what: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = state_dir();
    std::fs::create_dir_all(&dir)?;
    tempfile::Builder::new()
        .prefix(&owned(what))
        .tempfile_in(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simfs_lines_are_read_with_their_owners() {
        let text = "proc /proc proc rw 0 0\n\
                    simfs-42-1234 /tmp/sim-native-fuse/mnt-a fuse.simfs rw,nosuid 0 0\n\
                    simfs-x /tmp/with\\040space fuse rw 0 0\n\
                    other /mnt fuse.sshfs rw 0 0\n\
                    sshfs /mnt fuse rw 0 0\n";
        let e = entries(text);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].at, Path::new("/tmp/sim-native-fuse/mnt-a"));
        assert_eq!(
            e[0].owner,
            Some(Owner {
                pid: 42,
                start: 1234
            })
        );
        assert_eq!(e[1].at, Path::new("/tmp/with space"));
        assert_eq!(e[1].owner, None, "an unreadable owner is no live owner");
    }

    #[test]
    fn state_files_name_their_owners() {
        assert_eq!(
            owner_of("mnt-42-1234-AbCd"),
            Some(Owner {
                pid: 42,
                start: 1234
            })
        );
        assert_eq!(owner_of("acks-7-99-x"), Some(Owner { pid: 7, start: 99 }));
        assert_eq!(owner_of("mnt-QtNOwk"), None);
        let me = Owner::me();
        assert_eq!(owner_of(&owned("mnt")), Some(me));
    }
}

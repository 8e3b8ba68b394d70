//! The simulated storage stack as a real file system (issue 21, under way): the `storage`
//! model's [`Fs`] (a page cache over a block device with faults, fsync with Linux's semantics,
//! directory operations durable only after the directory's fsync) served to the kernel over
//! FUSE (`fuser`).
//!
//! [`Fs`] names files by path (`"name"` or `"dir/name"`: one level of directories), FUSE by
//! inode number; [`Namespace`] keeps the two in step (lookups, creations, renames, unlinks), and
//! [`errno`] says which error number each of the model's errors is. [`SimFs`] is the FUSE file
//! system over both. Not yet here: the `native` command that mounts it, its clean-up on every
//! exit path, and the crash-point runner (see the issue).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::TimeOrNow;

use fuser::{
    FileAttr, FileType, Filesystem, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyWrite, Request,
};
use models::storage::BlockIo;
use models::storage::fs::{Fs, FsError};

/// The root directory's inode number (FUSE's).
pub const ROOT: u64 = 1;

/// What an inode number names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory: `""` for the root, else its name.
    Dir(String),
    /// A file, by its path in [`Fs`].
    File(String),
}

/// Inode numbers for the paths of an [`Fs`]: stable for a file's life (a rename keeps it), never
/// reused within a mount.
#[derive(Debug, Clone)]
pub struct Namespace {
    nodes: BTreeMap<u64, Node>,
    by_path: BTreeMap<String, u64>,
    next: u64,
}

impl Default for Namespace {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(ROOT, Node::Dir(String::new()));
        Namespace {
            nodes,
            by_path: BTreeMap::new(),
            next: ROOT + 1,
        }
    }
}

impl Namespace {
    pub fn node(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    /// The path of `name` in directory `parent`, if `parent` is a directory and the path is one
    /// [`Fs`] can hold (no deeper than one directory, no `/` in a name).
    pub fn child_path(&self, parent: u64, name: &str) -> Option<String> {
        if name.is_empty() || name.contains('/') {
            return None;
        }
        match self.nodes.get(&parent)? {
            Node::Dir(d) if d.is_empty() => Some(name.to_string()),
            Node::Dir(d) => Some(format!("{d}/{name}")),
            Node::File(_) => None,
        }
    }

    /// The inode number of `path`, given one if it has none yet.
    pub fn ino(&mut self, path: &str, dir: bool) -> u64 {
        if let Some(&i) = self.by_path.get(path) {
            return i;
        }
        let i = self.next;
        self.next += 1;
        let node = if dir {
            Node::Dir(path.to_string())
        } else {
            Node::File(path.to_string())
        };
        self.nodes.insert(i, node);
        self.by_path.insert(path.to_string(), i);
        i
    }

    /// `path` is gone (unlinked): its number names nothing any more.
    pub fn forget(&mut self, path: &str) {
        if let Some(i) = self.by_path.remove(path) {
            self.nodes.remove(&i);
        }
    }

    /// `from` is now `to` (a rename): the file keeps its number; what `to` named is gone.
    pub fn rename(&mut self, from: &str, to: &str) {
        self.forget(to);
        if let Some(i) = self.by_path.remove(from) {
            self.by_path.insert(to.to_string(), i);
            self.nodes.insert(i, Node::File(to.to_string()));
        }
    }
}

/// The error number the kernel is given for a model's error.
pub fn errno(e: &FsError) -> i32 {
    match e {
        FsError::NotFound(_) => libc::ENOENT,
        FsError::Exists(_) => libc::EEXIST,
        FsError::BadPath(_) => libc::EINVAL,
        FsError::CrossDirectory { .. } => libc::EXDEV,
        FsError::NoSpace => libc::ENOSPC,
        FsError::NotMounted => libc::EIO,
        FsError::Io(_) => libc::EIO,
    }
}

/// How long the kernel may cache an entry or attributes: not at all, so every operation reaches
/// the model (and a crash point counts every one).
const TTL: Duration = Duration::ZERO;

/// The FUSE file system over the model.
pub struct SimFs {
    fs: Shared,
    names: Namespace,
    /// Block requests the model reports; their timing is not applied yet.
    io: Vec<BlockIo>,
    /// Operations that changed the file system so far, and the one at which the stack crashes
    /// (power lost: unsynced data gone, directories keep a random prefix of their changes),
    /// after which every operation fails with EIO until the model is recovered and mounted
    /// again.
    ops: u64,
    crash_at: Option<u64>,
    /// Where the count of operations is published, for the runner that mounted it.
    pub counter: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// The model, shared between the mount's thread and the runner that crashes and recovers it.
pub type Shared = std::sync::Arc<std::sync::Mutex<Fs>>;

/// The model behind `fs`. A poisoned lock means a panic on the mount's thread; the model is
/// still consistent enough to answer with its own errors.
fn lock(fs: &Shared) -> std::sync::MutexGuard<'_, Fs> {
    fs.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimFs {
    pub fn new(fs: Shared, crash_at: Option<u64>) -> Self {
        SimFs {
            fs,
            names: Namespace::default(),
            io: Vec::new(),
            ops: 0,
            crash_at,
            counter: None,
        }
    }

    /// One more operation that changes the file system: the stack crashes if it is the chosen
    /// one (the operation itself then fails, as a power cut during it would leave it).
    fn step(&mut self) {
        self.ops += 1;
        if let Some(c) = &self.counter {
            c.store(self.ops, std::sync::atomic::Ordering::Relaxed);
        }
        if self.crash_at == Some(self.ops) {
            lock(&self.fs).crash();
        }
    }

    fn attr(&mut self, ino: u64) -> Option<FileAttr> {
        let (kind, size, perm, nlink) = match self.names.node(ino)? {
            Node::Dir(_) => (FileType::Directory, 0, 0o755, 2),
            Node::File(p) => (
                FileType::RegularFile,
                lock(&self.fs).size(p).ok()?,
                0o644,
                1,
            ),
        };
        Some(FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind,
            perm,
            nlink,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn file(&self, ino: u64) -> Option<String> {
        match self.names.node(ino)? {
            Node::File(p) => Some(p.clone()),
            Node::Dir(_) => None,
        }
    }
}

impl Filesystem for SimFs {
    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        let Some(path) = name.to_str().and_then(|n| self.names.child_path(parent, n)) else {
            return reply.error(libc::ENOENT);
        };
        let ino = if lock(&self.fs).dir_exists(&path) && parent == ROOT {
            self.names.ino(&path, true)
        } else if lock(&self.fs).exists(&path) {
            self.names.ino(&path, false)
        } else {
            return reply.error(libc::ENOENT);
        };
        match self.attr(ino) {
            Some(a) => reply.entry(&TTL, &a, 0),
            None => reply.error(libc::ENOENT),
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match self.attr(ino) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(libc::ENOENT),
        }
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        let Some(path) = self.file(ino) else {
            return reply.error(libc::EISDIR);
        };
        match lock(&self.fs).read(&path, offset.max(0) as u64, size as usize, &mut self.io) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno(&e)),
        }
        self.io.clear();
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        let Some(path) = self.file(ino) else {
            return reply.error(libc::EISDIR);
        };
        self.step();
        match lock(&self.fs).write(&path, offset.max(0) as u64, data, &mut self.io) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(errno(&e)),
        }
        self.io.clear();
    }

    fn create(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let Some(path) = name.to_str().and_then(|n| self.names.child_path(parent, n)) else {
            return reply.error(libc::EINVAL);
        };
        self.step();
        if let Err(e) = lock(&self.fs).create(&path) {
            return reply.error(errno(&e));
        }
        let ino = self.names.ino(&path, false);
        match self.attr(ino) {
            Some(a) => reply.created(&TTL, &a, 0, 0, 0),
            None => reply.error(libc::EIO),
        }
    }

    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        // Only a size change means anything to the model (times and modes are fixed).
        if let (Some(size), Some(path)) = (size, self.file(ino)) {
            self.step();
            if let Err(e) = lock(&self.fs).truncate(&path, size, &mut self.io) {
                self.io.clear();
                return reply.error(errno(&e));
            }
            self.io.clear();
        }
        match self.attr(ino) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(libc::ENOENT),
        }
    }

    fn mkdir(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        if parent != ROOT {
            return reply.error(libc::EPERM); // one level of directories
        }
        let Some(path) = name.to_str().and_then(|n| self.names.child_path(parent, n)) else {
            return reply.error(libc::EINVAL);
        };
        self.step();
        if let Err(e) = lock(&self.fs).mkdir(&path, &mut self.io) {
            self.io.clear();
            return reply.error(errno(&e));
        }
        self.io.clear();
        let ino = self.names.ino(&path, true);
        match self.attr(ino) {
            Some(a) => reply.entry(&TTL, &a, 0),
            None => reply.error(libc::EIO),
        }
    }

    fn unlink(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        let Some(path) = name.to_str().and_then(|n| self.names.child_path(parent, n)) else {
            return reply.error(libc::ENOENT);
        };
        self.step();
        match lock(&self.fs).unlink(&path) {
            Ok(()) => {
                self.names.forget(&path);
                reply.ok()
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn rename(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        _flags: u32,
        reply: ReplyEmpty,
    ) {
        let from = name.to_str().and_then(|n| self.names.child_path(parent, n));
        let to = newname
            .to_str()
            .and_then(|n| self.names.child_path(newparent, n));
        let (Some(from), Some(to)) = (from, to) else {
            return reply.error(libc::EINVAL);
        };
        self.step();
        match lock(&self.fs).rename(&from, &to) {
            Ok(()) => {
                self.names.rename(&from, &to);
                reply.ok()
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn fsync(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let Some(path) = self.file(ino) else {
            return reply.error(libc::EISDIR);
        };
        self.step();
        match lock(&self.fs).fsync(&path, &mut self.io) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
        self.io.clear();
    }

    fn fsyncdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let Some(Node::Dir(dir)) = self.names.node(ino).cloned() else {
            return reply.error(libc::ENOTDIR);
        };
        self.step();
        match lock(&self.fs).fsync_dir(&dir, &mut self.io) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
        self.io.clear();
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        let Some(Node::Dir(dir)) = self.names.node(ino).cloned() else {
            return reply.error(libc::ENOTDIR);
        };
        let names = match lock(&self.fs).list(&dir) {
            Ok(n) => n,
            Err(e) => return reply.error(errno(&e)),
        };
        let mut entries = vec![(ino, FileType::Directory, ".".to_string())];
        entries.push((ROOT, FileType::Directory, "..".to_string()));
        for n in names {
            let Some(path) = self.names.child_path(ino, &n) else {
                continue;
            };
            let is_dir = ino == ROOT && lock(&self.fs).dir_exists(&path);
            let child = self.names.ino(&path, is_dir);
            let kind = if is_dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            entries.push((child, kind, n));
        }
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(child, (i + 1) as i64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

/// One crash point's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointOutcome {
    /// The operation at which the stack crashed.
    pub point: u64,
    /// Whether the checker passed on the recovered file system.
    pub ok: bool,
    /// What the checker printed (stdout then stderr), for the report.
    pub output: String,
}

/// What a crash-point run does: `program` and `checker` are shell commands run in the mount
/// (the working directory), each within `limit`.
pub struct CrashTest<'a> {
    /// Run first, on a mount that does not crash: the state the program starts from.
    pub setup: Option<&'a str>,
    pub program: &'a str,
    pub checker: &'a str,
    pub limit: Duration,
    /// Makes each run's fresh model (the same for every point, so runs differ only in where
    /// they crash).
    pub model: &'a dyn Fn() -> Fs,
}

impl CrashTest<'_> {
    /// Runs `program` on a fresh mount without crashing: how many operations it makes (the
    /// crash points are 1 to that), and whether the checker passes then (it must).
    pub fn dry_run(&self, at: &std::path::Path) -> std::io::Result<(u64, PointOutcome)> {
        self.run(at, None)
    }

    /// Runs `program` with the stack crashing at operation `point`, recovers, mounts again and
    /// runs the checker.
    pub fn at(&self, at: &std::path::Path, point: u64) -> std::io::Result<PointOutcome> {
        self.run(at, Some(point)).map(|(_, o)| o)
    }

    fn run(
        &self,
        at: &std::path::Path,
        point: Option<u64>,
    ) -> std::io::Result<(u64, PointOutcome)> {
        let fs: Shared = std::sync::Arc::new(std::sync::Mutex::new((self.model)()));
        if let Some(setup) = self.setup {
            let session = fuser::spawn_mount2(
                SimFs::new(fs.clone(), None),
                at,
                &[fuser::MountOption::FSName("simfs".into())],
            )?;
            let (ok, output) = shell(setup, at, self.limit)?;
            drop(session);
            if !ok {
                return Err(std::io::Error::other(format!("the setup failed: {output}")));
            }
        }
        let ops = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut simfs = SimFs::new(fs.clone(), point);
        simfs.counter = Some(ops.clone());
        let session =
            fuser::spawn_mount2(simfs, at, &[fuser::MountOption::FSName("simfs".into())])?;
        // The program may fail once the stack has crashed: that is the point.
        let _ = shell(self.program, at, self.limit);
        drop(session);
        // A point past the program's last operation is a power cut after it exited.
        let made = ops.load(std::sync::atomic::Ordering::Relaxed);
        if point.is_some_and(|p| p > made) {
            lock(&fs).crash();
        }
        if point.is_some() {
            lock(&fs)
                .recover(&mut Vec::new())
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        let session = fuser::spawn_mount2(
            SimFs::new(fs.clone(), None),
            at,
            &[fuser::MountOption::FSName("simfs".into())],
        )?;
        let (ok, output) = shell(self.checker, at, self.limit)?;
        drop(session);
        let n = ops.load(std::sync::atomic::Ordering::Relaxed);
        Ok((
            n,
            PointOutcome {
                point: point.unwrap_or(0),
                ok,
                output,
            },
        ))
    }
}

/// Runs `cmd` with `sh -c` in `dir` within `limit` (`timeout` kills it after): whether it
/// exited 0, and its output.
fn shell(cmd: &str, dir: &std::path::Path, limit: Duration) -> std::io::Result<(bool, String)> {
    let out = std::process::Command::new("timeout")
        .arg(format!("{}", limit.as_secs().max(1)))
        .args(["sh", "-c", cmd])
        .current_dir(dir)
        .output()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_keeps_the_number_and_drops_the_target() {
        let mut n = Namespace::default();
        let a = n.ino("a", false);
        let b = n.ino("b", false);
        assert_ne!(a, b);
        n.rename("a", "b");
        assert_eq!(n.node(a), Some(&Node::File("b".into())));
        assert_eq!(n.node(b), None, "the file b named is gone");
        assert_eq!(n.ino("b", false), a);
    }

    #[test]
    fn paths_go_one_directory_deep() {
        let mut n = Namespace::default();
        assert_eq!(n.child_path(ROOT, "x").as_deref(), Some("x"));
        let d = n.ino("wal", true);
        assert_eq!(n.child_path(d, "seg1").as_deref(), Some("wal/seg1"));
        let f = n.ino("wal/seg1", false);
        assert_eq!(n.child_path(f, "y"), None, "a file has no children");
        assert_eq!(n.child_path(ROOT, "a/b"), None);
    }

    /// Whether this machine can mount (else the test says why it skips).
    fn can_mount() -> bool {
        let ok = std::path::Path::new("/dev/fuse").exists()
            && std::process::Command::new("fusermount3")
                .arg("-V")
                .output()
                .is_ok();
        if !ok {
            eprintln!("skipped: no /dev/fuse or no fusermount3 (Debian's fuse3)");
        }
        ok
    }

    fn model() -> Shared {
        use models::storage::block::BlockDevice;
        use models::storage::fs::FsConfig;
        let dev = BlockDevice::new(1 << 16, simcore::RngStream::derive(1, "fuse.test"));
        std::sync::Arc::new(std::sync::Mutex::new(Fs::format(dev, FsConfig::default())))
    }

    fn mount(fs: &Shared, at: &std::path::Path, crash_at: Option<u64>) -> fuser::BackgroundSession {
        fuser::spawn_mount2(
            SimFs::new(fs.clone(), crash_at),
            at,
            &[fuser::MountOption::FSName("simfs".into())],
        )
        .unwrap()
    }

    /// The model mounted for real: a file written through the kernel reads back, a rename
    /// keeps its content, an fsync succeeds, and the mount is gone when the session ends.
    #[test]
    fn a_mounted_model_serves_real_reads_and_writes() {
        if !can_mount() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let fs = model();
        let session = mount(&fs, dir.path(), None);
        let a = dir.path().join("a.txt");
        std::fs::write(&a, b"hello, simulated disk").unwrap();
        let f = std::fs::File::open(&a).unwrap();
        f.sync_all().unwrap();
        std::fs::rename(&a, dir.path().join("b.txt")).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("b.txt")).unwrap(),
            b"hello, simulated disk"
        );
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["b.txt"]);
        drop(f);
        drop(session);
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        assert!(!mounts.contains(dir.path().to_str().unwrap()), "unmounted");
    }

    /// A crash at a chosen operation loses what was not made durable, exactly as the model
    /// says: after recovery and a new mount, a file fsynced with its directory is there, a file
    /// never fsynced is not.
    #[test]
    fn a_crash_point_loses_what_was_not_synced() {
        if !can_mount() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let fs = model();
        let session = mount(&fs, dir.path(), Some(7));
        let kept = dir.path().join("kept");
        let f = std::fs::File::create(&kept).unwrap(); // op 1
        std::fs::write(&kept, b"durable").unwrap(); // ops 2 (truncate) and 3 (write)
        f.sync_all().unwrap(); // op 4
        std::fs::File::open(dir.path()).unwrap().sync_all().unwrap(); // op 5
        std::fs::File::create(dir.path().join("lost")).unwrap(); // op 6
        // Op 7 crashes the stack: it fails, and so does everything after.
        assert!(std::fs::write(dir.path().join("lost"), b"gone").is_err());
        drop(f);
        drop(session);
        lock(&fs).recover(&mut Vec::new()).unwrap();
        let session = mount(&fs, dir.path(), None);
        assert_eq!(std::fs::read(&kept).unwrap(), b"durable");
        assert!(!dir.path().join("lost").exists(), "never fsynced: lost");
        drop(session);
    }

    /// The ALICE pattern (Pillai et al., OSDI 2014): write a new version to a temporary file and
    /// rename it over the old one without fsyncs. Some crash point leaves the file empty or
    /// gone (the rename durable before the data, or neither); with an fsync of the file before
    /// the rename and of the directory after, no crash point does.
    #[test]
    fn replace_by_rename_without_fsync_loses_data_at_some_crash_point() {
        if !can_mount() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let check =
            "test \"$(cat data 2>/dev/null)\" = old || test \"$(cat data 2>/dev/null)\" = new";
        let setup = "printf old > data && python3 -c \"import os; os.fsync(os.open('data', os.O_RDONLY)); os.fsync(os.open('.', os.O_RDONLY))\"";
        let unsafe_update = "printf new > tmp && mv tmp data";
        let safe_update = "printf new > tmp && python3 -c \"import os; os.fsync(os.open('tmp', os.O_RDONLY))\" && mv tmp data && python3 -c \"import os; os.fsync(os.open('.', os.O_RDONLY))\"";
        // Each seed is a model whose crashes keep a different prefix of a directory's changes.
        let run = |program: &str, seed: u64| {
            let model = move || {
                use models::storage::block::BlockDevice;
                use models::storage::fs::FsConfig;
                let rng = simcore::RngStream::derive(seed, "fuse.alice");
                Fs::format(BlockDevice::new(1 << 16, rng), FsConfig::default())
            };
            let t = CrashTest {
                setup: Some(setup),
                program,
                checker: check,
                limit: Duration::from_secs(20),
                model: &model,
            };
            let (n, clean) = t.dry_run(dir.path()).unwrap();
            assert!(clean.ok, "no crash: {}", clean.output);
            (1..=n + 1)
                .filter(|&k| !t.at(dir.path(), k).unwrap().ok)
                .collect::<Vec<u64>>()
        };
        let unsafe_failures: Vec<(u64, Vec<u64>)> = (1..=8)
            .map(|seed| (seed, run(unsafe_update, seed)))
            .collect();
        assert!(
            unsafe_failures.iter().any(|(_, f)| !f.is_empty()),
            "some crash point loses the data: {unsafe_failures:?}"
        );
        for seed in 1..=8 {
            assert_eq!(run(safe_update, seed), Vec::<u64>::new(), "seed {seed}");
        }
    }

    /// SQLite in WAL mode (exclusive locking: no shared memory) keeps every acknowledged
    /// commit at every crash point with `synchronous=FULL`; with `synchronous=OFF` it does not
    /// fsync, and some crash point loses acknowledged commits.
    #[test]
    fn sqlite_keeps_acknowledged_commits_only_when_it_syncs() {
        if !can_mount()
            || std::process::Command::new("sqlite3")
                .arg("-version")
                .output()
                .is_err()
        {
            eprintln!("skipped: no sqlite3");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let acks = tempfile::tempdir().unwrap();
        let ack = acks.path().join("acked");
        let ack = ack.to_str().unwrap();
        let setup = "sqlite3 db 'PRAGMA journal_mode=WAL; CREATE TABLE t(x);' > /dev/null";
        let program = |sync: &str| {
            format!(
                ": > {ack}; for i in 1 2 3; do sqlite3 db 'PRAGMA locking_mode=EXCLUSIVE; PRAGMA synchronous={sync}; INSERT INTO t VALUES('$i');' > /dev/null && echo $i >> {ack}; done"
            )
        };
        let check = format!(
            "n=$(sqlite3 db 'PRAGMA locking_mode=EXCLUSIVE; SELECT count(*) FROM t;' | tail -1); test \"$n\" -ge $(wc -l < {ack})"
        );
        let run = |sync: &str| {
            let model = || {
                use models::storage::block::BlockDevice;
                use models::storage::fs::FsConfig;
                let rng = simcore::RngStream::derive(5, "fuse.sqlite");
                Fs::format(BlockDevice::new(1 << 16, rng), FsConfig::default())
            };
            let program = program(sync);
            let t = CrashTest {
                setup: Some(setup),
                program: &program,
                checker: &check,
                limit: Duration::from_secs(20),
                model: &model,
            };
            let (n, clean) = t.dry_run(dir.path()).unwrap();
            assert!(clean.ok, "no crash: {}", clean.output);
            let failures: Vec<u64> = (1..=n + 1)
                .filter(|&k| !t.at(dir.path(), k).unwrap().ok)
                .collect();
            eprintln!("synchronous={sync}: {n} operations, failing points {failures:?}");
            failures
        };
        assert_eq!(run("FULL"), Vec::<u64>::new());
        assert!(!run("OFF").is_empty());
    }

    #[test]
    fn errors_become_error_numbers() {
        assert_eq!(errno(&FsError::NoSpace), libc::ENOSPC);
        assert_eq!(
            errno(&FsError::CrossDirectory {
                from: "a".into(),
                to: "d/a".into()
            }),
            libc::EXDEV
        );
    }
}

//! The simulated storage stack as a real file system: the `storage` model's [`Fs`] (a page
//! cache over a block device with faults, fsync with Linux's semantics, directory operations
//! durable only after the directory's fsync) served to the kernel over FUSE (`fuser`).
//!
//! [`Fs`] names files by path (`"name"` or `"dir/name"`: one level of directories), FUSE by
//! inode number; [`Namespace`] keeps the two in step (lookups, creations, renames, unlinks), and
//! [`errno`] says which error number each of the model's errors is. [`SimFs`] is the FUSE file
//! system over both: it counts the operations that change the file system (the crash points),
//! crashes the stack at a chosen one, applies the scenario's disk faults as the program's real
//! time reaches them, and makes each operation take the time the disk model gives its block
//! requests ([`DiskClock`]). Mounting and unmounting are [`crate::mount`]'s, the crash-point
//! runner [`crate::crashtest`]'s.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::TimeOrNow;

use fuser::{
    FileAttr, FileType, Filesystem, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyWrite, Request,
};
use models::disk::device::Device;
use models::storage::BlockIo;
use models::storage::fs::{Fs, FsError};
use models::world::disk::DiskFault;
use models::world::store::{stack_fault, timed};
use scenarios::wire_mount::DiskChange;
use simcore::{Dist, RngStream};

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

/// The time the disk model gives the stack's block requests, made real: each request is served
/// by the modelled device in turn (one at a time, from when it is issued or the last one ends),
/// and the operation that made them returns when the last is done.
pub struct DiskClock {
    device: Device,
    /// When the program's run began: the instant the disk's time and the faults count from.
    started: std::time::Instant,
    /// When the device is next free, in nanoseconds from `started`.
    free_at: u64,
    /// A `slow` fault in force: each request takes a draw of this longer (nanoseconds).
    slow: Option<Dist>,
    rng: RngStream,
}

impl DiskClock {
    pub fn new(device: Device, rng: RngStream) -> Self {
        DiskClock {
            device,
            started: std::time::Instant::now(),
            free_at: 0,
            slow: None,
            rng,
        }
    }

    /// Serves `io` on the device and returns when it would be done.
    fn serve(&mut self, io: &[BlockIo]) {
        let now = self.started.elapsed().as_nanos() as u64;
        let mut t = self.free_at.max(now);
        for op in io.iter().filter_map(timed) {
            // A request past the device's end cannot happen (the stack is the disk's size); if
            // it did, it would take no time rather than stop the mount.
            if let Ok(s) = self.device.serve(t, &op) {
                t += s.total;
            }
            if let Some(d) = &self.slow {
                t += d.sample(&mut self.rng).max(0.0) as u64;
            }
        }
        self.free_at = t;
        if t > now {
            std::thread::sleep(std::time::Duration::from_nanos(t - now));
        }
    }
}

/// The FUSE file system over the model.
pub struct SimFs {
    fs: Shared,
    names: Namespace,
    /// Block requests the model reports for the operation under way.
    io: Vec<BlockIo>,
    /// Their time on the modelled disk (none: as fast as the machine).
    clock: Option<DiskClock>,
    /// The host's disk faults from the program's start, and how many are applied.
    faults: Vec<DiskChange>,
    applied: usize,
    /// When the program's run began, for the faults (the disk clock's own when there is one).
    started: std::time::Instant,
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
pub(crate) fn lock(fs: &Shared) -> std::sync::MutexGuard<'_, Fs> {
    fs.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimFs {
    pub fn new(fs: Shared, crash_at: Option<u64>) -> Self {
        SimFs {
            fs,
            names: Namespace::default(),
            io: Vec::new(),
            clock: None,
            faults: Vec::new(),
            applied: 0,
            started: std::time::Instant::now(),
            ops: 0,
            crash_at,
            counter: None,
        }
    }

    /// Operations take the time `clock`'s device gives their block requests.
    pub fn timed(mut self, clock: DiskClock) -> Self {
        self.started = clock.started;
        self.clock = Some(clock);
        self
    }

    /// The host's disk faults, each applied once the program has run as long as its instant.
    pub fn with_faults(mut self, faults: Vec<DiskChange>) -> Self {
        self.faults = faults;
        self
    }

    /// Applies the faults whose instants have come.
    fn faults_due(&mut self) {
        let now = self.started.elapsed().as_nanos() as u64;
        while let Some((at, change)) = self.faults.get(self.applied) {
            if at.as_nanos() > now {
                break;
            }
            let mut fs = lock(&self.fs);
            stack_fault(&mut fs, change.as_ref());
            if let Some(c) = &mut self.clock {
                match change {
                    Some(DiskFault::Slow(d)) => c.slow = Some(d.clone()),
                    None => c.slow = None,
                    Some(_) => {}
                }
            }
            self.applied += 1;
        }
    }

    /// Runs `op` on the model, then lets the block requests it made take their time, before
    /// the operation is answered (so the caller waits for them).
    fn on_stack<T>(
        &mut self,
        op: impl FnOnce(&mut Fs, &mut Vec<BlockIo>) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        let done = op(&mut lock(&self.fs), &mut self.io);
        if let Some(c) = &mut self.clock {
            c.serve(&self.io);
        }
        self.io.clear();
        done
    }

    /// One more operation that changes the file system: the stack crashes if it is the chosen
    /// one (the operation itself then fails, as a power cut during it would leave it).
    fn step(&mut self) {
        self.faults_due();
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
        self.faults_due();
        match self.on_stack(|fs, io| fs.read(&path, offset.max(0) as u64, size as usize, io)) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno(&e)),
        }
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
        match self.on_stack(|fs, io| fs.write(&path, offset.max(0) as u64, data, io)) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(errno(&e)),
        }
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
            if let Err(e) = self.on_stack(|fs, io| fs.truncate(&path, size, io)) {
                return reply.error(errno(&e));
            }
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
        if let Err(e) = self.on_stack(|fs, io| fs.mkdir(&path, io)) {
            return reply.error(errno(&e));
        }
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
        match self.on_stack(|fs, io| fs.fsync(&path, io)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
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
        match self.on_stack(|fs, io| fs.fsync_dir(&dir, io)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
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

#[cfg(test)]
pub(crate) mod tests {
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
    pub(crate) fn can_mount() -> bool {
        match crate::mount::unavailable() {
            Some(why) => {
                eprintln!("skipped: FUSE cannot mount here: {why}");
                false
            }
            None => true,
        }
    }

    fn model() -> Shared {
        use models::storage::block::BlockDevice;
        use models::storage::fs::FsConfig;
        let dev = BlockDevice::new(1 << 16, simcore::RngStream::derive(1, "fuse.test"));
        std::sync::Arc::new(std::sync::Mutex::new(Fs::format(dev, FsConfig::default())))
    }

    fn mount(fs: &Shared, at: &std::path::Path, crash_at: Option<u64>) -> crate::mount::Mounted {
        crate::mount::Mounted::new(SimFs::new(fs.clone(), crash_at), at).unwrap()
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

    /// An operation's block requests take the model's time: the clock's device is busy for
    /// at least what a fresh copy of the same device says they take (a flush costs nothing),
    /// and the operation returns no earlier.
    #[test]
    fn the_disk_clock_takes_the_models_time() {
        use models::disk::workload::{IoKind, IoOp};
        use models::storage::IoKind as StoreIo;
        // A flash drive: its service time does not depend on when a request comes (a hard
        // drive's rotation does), so a copy served from time 0 is the reference.
        use models::disk::ssd::{Cell, SsdSpec};
        let spec = models::world::disk::DeviceSpec::Ssd(SsdSpec::typical(Cell::Mlc, 64));
        let mut reference = spec.build().unwrap();
        let began = std::time::Instant::now();
        let mut clock = DiskClock::new(spec.build().unwrap(), RngStream::derive(1, "t"));
        let writes = [(0u64, 8u32), (1 << 12, 8)];
        let mut io: Vec<BlockIo> = writes
            .iter()
            .map(|&(lba, sectors)| BlockIo {
                kind: StoreIo::Write,
                lba,
                sectors,
            })
            .collect();
        io.insert(
            1,
            BlockIo {
                kind: StoreIo::Flush,
                lba: 0,
                sectors: 0,
            },
        );
        clock.serve(&io);
        let waited = began.elapsed().as_nanos() as u64;
        let mut t = 0;
        for (lba, sectors) in writes {
            let op = IoOp {
                kind: IoKind::Write,
                lba,
                sectors: u64::from(sectors),
            };
            t += reference.serve(t, &op).unwrap().total;
        }
        assert!(
            t >= 1_500_000,
            "two page programs of 750 us, at least: {t} ns"
        );
        assert!(clock.free_at >= t, "busy for at least the model's time");
        assert!(
            waited >= t,
            "and the operation waited for it: {waited} < {t}"
        );
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

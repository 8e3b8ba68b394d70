//! A small file system over a [`BlockDevice`], with a write-back page cache.
//!
//! **Layout.** The first `journal_sectors` sectors are a journal ring; the rest is 4 KiB data
//! blocks. A file is an inode (size, and a block map from page index to data block: an
//! ext2-like map rather than coalesced extents; allocation places a page right after the
//! file's previous one when it can, so sequential files are contiguous and their write-back
//! merges into large requests). Blocks are allocated when a page is first written (no delayed
//! allocation). Directories: the root (`""`) and named directories one level below it
//! (`mkdir("wal")`); a path is `"name"` or `"dir/name"`.
//!
//! **What is on the device and what is held logically.** File data lives in the device's
//! sectors, so every block fault applies to it. Metadata (inodes, directories) is held as data
//! structures: committing it writes one journal sector and flushes (both reported as I/O), but
//! its content is not stored in sectors, so corruption or misdirection cannot damage it (a
//! journal with its own checksums, working as designed) — except that a misdirected journal
//! write can land on, and damage, file data.
//!
//! **Page cache.** Writes go to cached pages ([`super::cache`]). When more than
//! `dirty_limit_pages` are dirty, the oldest are written back (unflushed: the device may still
//! lose them); when more than `cache_pages` are cached, the least recently used clean ones are
//! evicted. A read that starts where the previous one on the file ended (or at offset 0) is
//! sequential and reads ahead `readahead_pages` pages. Contiguous pages travel in one request.
//!
//! **fsync** writes back the file's dirty pages, writes a journal sector and flushes; only then
//! are the file's size and block map durable. It does not make the file's directory entry
//! durable. **Write-back errors have Linux's semantics** (the "fsyncgate" behaviour, Linux
//! since 4.13): a page whose write-back fails is marked clean anyway, so the new data stays
//! readable from the cache but is not on the device; the error is remembered on the file and
//! returned by the next fsync, once; a later fsync succeeds although the data never reached the
//! disk.
//!
//! **Directories** follow the weakest behaviour POSIX allows, the one "All File Systems Are Not
//! Created Equal" (Pillai et al., OSDI 2014) shows applications must be written for: create,
//! rename and unlink change the namespace at once, but become durable only with an fsync of
//! their directory. At a crash, each directory keeps a random prefix of its operations since
//! its last fsync, in order — as a journalling file system whose periodic commit (ext4's runs
//! every 5 s) happened to run part way through — so a rename is atomic (the name holds the old
//! file or the new one, never neither) but can be lost without the directory's fsync. ext4 in its
//! default mode often persists these earlier (an fsync of a new file commits its entry too);
//! this model does not, so code that is correct here is correct there. `mkdir` is durable at
//! once. Renames across directories and hard links are not supported.
//!
//! **Crash and recovery.** [`Fs::crash`] drops the page cache, crashes the device and applies
//! each directory's random prefix; the file system then refuses operations until
//! [`Fs::recover`], which rebuilds every inode and directory from durable state only (reading
//! the journal), deletes inodes no durable entry names, and rebuilds the allocator.

use std::collections::{BTreeMap, BTreeSet};

use super::block::{BlockDevice, BlockError};
use super::cache::{Ino, PAGE_BYTES, PageCache};
use super::{BlockIo, SECTOR_BYTES};

/// Sectors per page.
const PAGE_SECTORS: u64 = (PAGE_BYTES / SECTOR_BYTES) as u64;
/// The most pages one write-back or read request carries (256 KiB).
const MAX_REQUEST_PAGES: usize = 64;

/// Why a file system operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: already exists")]
    Exists(String),
    #[error("{0:?} is not a path (want \"name\" or \"dir/name\")")]
    BadPath(String),
    #[error("renaming {from} to {to} crosses directories, which this file system does not do")]
    CrossDirectory { from: String, to: String },
    #[error("no space left on the file system")]
    NoSpace,
    #[error("the file system crashed and is not mounted; call recover")]
    NotMounted,
    #[error("I/O error: {0}")]
    Io(#[from] BlockError),
}

/// Sizes of the cache and the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsConfig {
    /// Dirty pages beyond this are written back, oldest first.
    pub dirty_limit_pages: usize,
    /// Clean pages beyond this are evicted, least recently used first.
    pub cache_pages: usize,
    /// Pages read ahead on a sequential read.
    pub readahead_pages: u64,
    /// Sectors of journal at the start of the device (0: no journal writes are reported).
    pub journal_sectors: u64,
}

impl Default for FsConfig {
    /// 4 MiB of cache of which 1 MiB may be dirty, 32 KiB of read-ahead, a 32 KiB journal.
    fn default() -> Self {
        FsConfig {
            dirty_limit_pages: 256,
            cache_pages: 1024,
            readahead_pages: 8,
            journal_sectors: 64,
        }
    }
}

/// A file as the running system sees it.
#[derive(Debug, Clone, Default)]
struct Inode {
    size: u64,
    /// Page index to data block.
    blocks: BTreeMap<u64, u64>,
    /// A write-back error not yet reported by an fsync.
    wb_error: Option<BlockError>,
    /// Where the last read ended (for read-ahead).
    read_end: Option<u64>,
}

/// A file as the last successful fsync left it on the device.
#[derive(Debug, Clone, Default, PartialEq)]
struct Image {
    size: u64,
    blocks: BTreeMap<u64, u64>,
}

/// A namespace change within one directory, durable only when the directory is fsynced.
#[derive(Debug, Clone, PartialEq)]
enum DirOp {
    Link { name: String, ino: Ino },
    Unlink { name: String },
    Rename { from: String, to: String },
}

#[derive(Debug, Clone, Default)]
struct Dir {
    entries: BTreeMap<String, Ino>,
    /// Changes since the last fsync of this directory, oldest first.
    pending: Vec<DirOp>,
}

/// The data blocks: free ranges, and a count of references to each used block (the running
/// inode's map and the durable image's each hold one), so that a block the durable state still
/// names is never handed to another file before that state lets it go.
#[derive(Debug, Clone)]
struct Alloc {
    /// Free ranges, start to length.
    free: BTreeMap<u64, u64>,
    free_blocks: u64,
    refs: BTreeMap<u64, u8>,
    blocks: u64,
}

impl Alloc {
    fn new(blocks: u64) -> Self {
        let mut a = Alloc {
            free: BTreeMap::new(),
            free_blocks: 0,
            refs: BTreeMap::new(),
            blocks,
        };
        a.rebuild_free();
        a
    }

    /// A free block, at `hint` or the first free one after it if possible.
    fn alloc(&mut self, hint: u64) -> Option<u64> {
        let containing = self
            .free
            .range(..=hint)
            .next_back()
            .filter(|&(&s, &l)| hint < s + l)
            .map(|_| hint);
        let b = containing
            .or_else(|| self.free.range(hint..).next().map(|(&s, _)| s))
            .or_else(|| self.free.keys().next().copied())?;
        let (&start, &len) = self.free.range(..=b).next_back()?;
        self.free.remove(&start);
        if b > start {
            self.free.insert(start, b - start);
        }
        if b + 1 < start + len {
            self.free.insert(b + 1, start + len - b - 1);
        }
        self.free_blocks -= 1;
        self.refs.insert(b, 1);
        Some(b)
    }

    fn hold(&mut self, b: u64) {
        *self.refs.entry(b).or_insert(0) += 1;
    }

    fn release(&mut self, b: u64) {
        let Some(r) = self.refs.get_mut(&b) else {
            return;
        };
        *r -= 1;
        if *r > 0 {
            return;
        }
        self.refs.remove(&b);
        self.free_blocks += 1;
        let mut start = b;
        let mut len = 1;
        let before = self.free.range(..b).next_back().map(|(&s, &l)| (s, l));
        if let Some((s, l)) = before.filter(|&(s, l)| s + l == b) {
            self.free.remove(&s);
            start = s;
            len += l;
        }
        if let Some(l) = self.free.remove(&(b + 1)) {
            len += l;
        }
        self.free.insert(start, len);
    }

    /// The free ranges are the gaps between referenced blocks.
    fn rebuild_free(&mut self) {
        self.free.clear();
        let mut next = 0;
        for &b in self.refs.keys() {
            if b > next {
                self.free.insert(next, b - next);
            }
            next = b + 1;
        }
        if self.blocks > next {
            self.free.insert(next, self.blocks - next);
        }
        self.free_blocks = self.blocks - self.refs.len() as u64;
    }
}

/// A file system on a block device.
#[derive(Debug, Clone)]
pub struct Fs {
    dev: BlockDevice,
    cfg: FsConfig,
    cache: PageCache,
    dirs: BTreeMap<String, Dir>,
    inodes: BTreeMap<Ino, Inode>,
    durable_dirs: BTreeMap<String, BTreeMap<String, Ino>>,
    images: BTreeMap<Ino, Image>,
    alloc: Alloc,
    next_ino: u64,
    /// The first data sector.
    data_start: u64,
    journal_next: u64,
    full: bool,
    mounted: bool,
}

impl Fs {
    /// An empty file system (only the root directory) on `dev`, whatever it held.
    pub fn format(dev: BlockDevice, cfg: FsConfig) -> Self {
        let data_start = cfg.journal_sectors.div_ceil(PAGE_SECTORS) * PAGE_SECTORS;
        let blocks = dev.sectors().saturating_sub(data_start) / PAGE_SECTORS;
        Fs {
            dev,
            cfg,
            cache: PageCache::new(),
            dirs: BTreeMap::from([(String::new(), Dir::default())]),
            inodes: BTreeMap::new(),
            durable_dirs: BTreeMap::from([(String::new(), BTreeMap::new())]),
            images: BTreeMap::new(),
            alloc: Alloc::new(blocks),
            next_ino: 1,
            data_start,
            journal_next: 0,
            full: false,
            mounted: true,
        }
    }

    pub fn device(&self) -> &BlockDevice {
        &self.dev
    }

    /// The device, to switch its faults.
    pub fn device_mut(&mut self) -> &mut BlockDevice {
        &mut self.dev
    }

    /// While full, writes that need a new block fail with [`FsError::NoSpace`] (`disk full`).
    pub fn set_full(&mut self, full: bool) {
        self.full = full;
    }

    pub fn free_blocks(&self) -> u64 {
        self.alloc.free_blocks
    }

    pub fn dirty_pages(&self) -> usize {
        self.cache.dirty_pages()
    }

    pub fn cached_pages(&self) -> usize {
        self.cache.len()
    }

    /// Creates a directory under the root, durably.
    pub fn mkdir(&mut self, name: &str, io: &mut Vec<BlockIo>) -> Result<(), FsError> {
        self.mounted()?;
        if name.is_empty() || name.contains('/') {
            return Err(FsError::BadPath(name.to_string()));
        }
        if self.dirs.contains_key(name) {
            return Err(FsError::Exists(name.to_string()));
        }
        self.commit(io)?;
        self.dirs.insert(name.to_string(), Dir::default());
        self.durable_dirs.insert(name.to_string(), BTreeMap::new());
        Ok(())
    }

    pub fn dir_exists(&self, name: &str) -> bool {
        self.dirs.contains_key(name)
    }

    /// The names in a directory, sorted.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, FsError> {
        self.mounted()?;
        let d = self
            .dirs
            .get(dir)
            .ok_or_else(|| FsError::NotFound(dir.to_string()))?;
        Ok(d.entries.keys().cloned().collect())
    }

    pub fn exists(&self, path: &str) -> bool {
        self.lookup(path).is_ok()
    }

    pub fn size(&self, path: &str) -> Result<u64, FsError> {
        let ino = self.lookup(path)?;
        Ok(self.inodes.get(&ino).map_or(0, |i| i.size))
    }

    /// Creates an empty file (durable with an fsync of its directory).
    pub fn create(&mut self, path: &str) -> Result<(), FsError> {
        self.mounted()?;
        let (d, n) = split(path)?;
        let ino = Ino(self.next_ino);
        let dir = self
            .dirs
            .get_mut(d)
            .ok_or_else(|| FsError::NotFound(path.to_string()))?;
        if dir.entries.contains_key(n) {
            return Err(FsError::Exists(path.to_string()));
        }
        self.next_ino += 1;
        dir.entries.insert(n.to_string(), ino);
        dir.pending.push(DirOp::Link {
            name: n.to_string(),
            ino,
        });
        self.inodes.insert(ino, Inode::default());
        Ok(())
    }

    /// Writes `data` at `offset`, growing the file if needed. Either every page gets a block
    /// or none is written.
    pub fn write(
        &mut self,
        path: &str,
        offset: u64,
        data: &[u8],
        io: &mut Vec<BlockIo>,
    ) -> Result<(), FsError> {
        self.mounted()?;
        let ino = self.lookup(path)?;
        if data.is_empty() {
            return Ok(());
        }
        let end = offset + data.len() as u64;
        let (first, last) = (offset / PAGE as u64, (end - 1) / PAGE as u64);
        let inode = &self.inodes[&ino];
        let need = (first..=last)
            .filter(|p| !inode.blocks.contains_key(p))
            .count() as u64;
        if need > 0 && (self.full || self.alloc.free_blocks < need) {
            return Err(FsError::NoSpace);
        }
        // Pages written only in part keep the rest of their bytes: read them first.
        let partial: BTreeSet<u64> = [first, last]
            .into_iter()
            .filter(|&p| offset > p * PAGE as u64 || end < (p + 1) * PAGE as u64)
            .collect();
        self.load(ino, &partial.into_iter().collect::<Vec<_>>(), io)?;
        for p in first..=last {
            self.allocate(ino, p);
            let key = (ino, p);
            self.cache.insert_clean(key, Box::new([0; PAGE]));
            let from = (p * PAGE as u64).max(offset);
            let to = ((p + 1) * PAGE as u64).min(end);
            let bytes = &data[(from - offset) as usize..(to - offset) as usize];
            self.cache
                .write(key, (from - p * PAGE as u64) as usize, bytes);
        }
        if let Some(i) = self.inodes.get_mut(&ino) {
            i.size = i.size.max(end);
        }
        self.balance(io);
        Ok(())
    }

    /// Appends `data`; returns the offset it was written at.
    pub fn append(
        &mut self,
        path: &str,
        data: &[u8],
        io: &mut Vec<BlockIo>,
    ) -> Result<u64, FsError> {
        let at = self.size(path)?;
        self.write(path, at, data, io)?;
        Ok(at)
    }

    /// Reads up to `len` bytes at `offset` (fewer at the end of the file).
    pub fn read(
        &mut self,
        path: &str,
        offset: u64,
        len: usize,
        io: &mut Vec<BlockIo>,
    ) -> Result<Vec<u8>, FsError> {
        self.mounted()?;
        let ino = self.lookup(path)?;
        let inode = &self.inodes[&ino];
        let size = inode.size;
        let end = offset.saturating_add(len as u64).min(size);
        if offset >= end {
            return Ok(Vec::new());
        }
        let sequential = inode.read_end.unwrap_or(0) == offset;
        let (first, last) = (offset / PAGE as u64, (end - 1) / PAGE as u64);
        self.load(ino, &(first..=last).collect::<Vec<_>>(), io)?;
        let mut out = Vec::with_capacity((end - offset) as usize);
        for p in first..=last {
            let from = (p * PAGE as u64).max(offset);
            let to = ((p + 1) * PAGE as u64).min(end);
            let page = self
                .cache
                .get((ino, p))
                .ok_or(FsError::Io(BlockError::Io))?;
            out.extend_from_slice(
                &page[(from - p * PAGE as u64) as usize..(to - p * PAGE as u64) as usize],
            );
        }
        if sequential {
            self.read_ahead(ino, last + 1, size, io);
        }
        if let Some(i) = self.inodes.get_mut(&ino) {
            i.read_end = Some(end);
        }
        self.balance(io);
        Ok(out)
    }

    /// Cuts or extends (with zeros) the file to `size`.
    pub fn truncate(
        &mut self,
        path: &str,
        size: u64,
        io: &mut Vec<BlockIo>,
    ) -> Result<(), FsError> {
        self.mounted()?;
        let ino = self.lookup(path)?;
        let inode = &self.inodes[&ino];
        if size < inode.size {
            let tail = (size % PAGE as u64) as usize;
            let p = size / PAGE as u64;
            let zero_tail = tail > 0 && inode.blocks.contains_key(&p);
            if zero_tail {
                self.load(ino, &[p], io)?;
            }
            let keep = size.div_ceil(PAGE as u64);
            self.cache.remove_from(ino, keep);
            let dropped = self
                .inodes
                .get_mut(&ino)
                .map(|i| i.blocks.split_off(&keep))
                .unwrap_or_default();
            for b in dropped.into_values() {
                self.alloc.release(b);
            }
            if zero_tail {
                self.cache.write((ino, p), tail, &[0; PAGE][tail..]);
            }
        }
        if let Some(i) = self.inodes.get_mut(&ino) {
            i.size = size;
            i.read_end = None;
        }
        self.balance(io);
        Ok(())
    }

    /// Removes a file (durable with an fsync of its directory).
    pub fn unlink(&mut self, path: &str) -> Result<(), FsError> {
        self.mounted()?;
        let (d, n) = split(path)?;
        let dir = self
            .dirs
            .get_mut(d)
            .ok_or_else(|| FsError::NotFound(path.to_string()))?;
        let ino = dir
            .entries
            .remove(n)
            .ok_or_else(|| FsError::NotFound(path.to_string()))?;
        dir.pending.push(DirOp::Unlink {
            name: n.to_string(),
        });
        self.drop_inode(ino);
        Ok(())
    }

    /// Renames `from` to `to` in the same directory, atomically replacing any file at `to`
    /// (durable with an fsync of the directory).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), FsError> {
        self.mounted()?;
        let ((d, f), (d2, t)) = (split(from)?, split(to)?);
        if d != d2 {
            return Err(FsError::CrossDirectory {
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        let dir = self
            .dirs
            .get_mut(d)
            .ok_or_else(|| FsError::NotFound(from.to_string()))?;
        if !dir.entries.contains_key(f) {
            return Err(FsError::NotFound(from.to_string()));
        }
        if f == t {
            return Ok(());
        }
        let ino = dir
            .entries
            .remove(f)
            .ok_or(FsError::NotFound(from.to_string()))?;
        let replaced = dir.entries.insert(t.to_string(), ino);
        dir.pending.push(DirOp::Rename {
            from: f.to_string(),
            to: t.to_string(),
        });
        if let Some(old) = replaced {
            self.drop_inode(old);
        }
        Ok(())
    }

    /// Writes back the file's dirty pages, commits its inode and flushes. Returns a write-back
    /// error once (this fsync's, or an earlier background write-back's), Linux style.
    pub fn fsync(&mut self, path: &str, io: &mut Vec<BlockIo>) -> Result<(), FsError> {
        self.mounted()?;
        let ino = self.lookup(path)?;
        let earlier = self.inodes.get_mut(&ino).and_then(|i| i.wb_error.take());
        let dirty = self.cache.dirty_of(ino);
        let own = self
            .write_back(ino, &dirty, io)
            .and_then(|()| self.commit(io));
        if let Some(i) = self.inodes.get_mut(&ino) {
            // Reported now, by this fsync: the next one will not see it.
            i.wb_error = None;
        }
        own?;
        self.commit_inode(ino);
        earlier.map_or(Ok(()), |e| Err(FsError::Io(e)))
    }

    /// Makes the directory's creates, renames and unlinks since its last fsync durable.
    pub fn fsync_dir(&mut self, dir: &str, io: &mut Vec<BlockIo>) -> Result<(), FsError> {
        self.mounted()?;
        if !self.dirs.contains_key(dir) {
            return Err(FsError::NotFound(dir.to_string()));
        }
        self.commit(io)?;
        let ops = self
            .dirs
            .get_mut(dir)
            .map(|d| std::mem::take(&mut d.pending))
            .unwrap_or_default();
        for op in ops {
            self.apply_durable(dir, op);
        }
        Ok(())
    }

    /// The machine lost power: the page cache is gone, the device crashes, each directory
    /// keeps a random prefix of its unsynced operations. Operations fail until
    /// [`Fs::recover`].
    pub fn crash(&mut self) {
        self.dev.crash();
        self.cache.clear();
        let names: Vec<String> = self.dirs.keys().cloned().collect();
        for name in names {
            let ops = self
                .dirs
                .get_mut(&name)
                .map(|d| std::mem::take(&mut d.pending))
                .unwrap_or_default();
            let kept = self.dev.rng().below(ops.len() as u64 + 1) as usize;
            for op in ops.into_iter().take(kept) {
                self.apply_durable(&name, op);
            }
        }
        self.mounted = false;
    }

    /// Mounts after a crash: reads the journal and rebuilds every file and directory from
    /// durable state only. Nothing to do when mounted.
    pub fn recover(&mut self, io: &mut Vec<BlockIo>) -> Result<(), FsError> {
        if self.mounted {
            return Ok(());
        }
        if self.cfg.journal_sectors > 0 {
            let n = u32::try_from(self.cfg.journal_sectors).unwrap_or(u32::MAX);
            self.dev.read(0, n, io)?;
        }
        let named: BTreeSet<Ino> = self
            .durable_dirs
            .values()
            .flat_map(|d| d.values().copied())
            .collect();
        self.images.retain(|ino, _| named.contains(ino));
        self.dirs = self
            .durable_dirs
            .iter()
            .map(|(d, entries)| {
                let dir = Dir {
                    entries: entries.clone(),
                    pending: Vec::new(),
                };
                (d.clone(), dir)
            })
            .collect();
        self.inodes = self
            .images
            .iter()
            .map(|(&ino, img)| {
                let inode = Inode {
                    size: img.size,
                    blocks: img.blocks.clone(),
                    ..Inode::default()
                };
                (ino, inode)
            })
            .collect();
        // Each durable block is held twice: by its image and by the running inode.
        self.alloc.refs = self
            .images
            .values()
            .flat_map(|img| img.blocks.values().map(|&b| (b, 2)))
            .collect();
        self.alloc.rebuild_free();
        self.cache.clear();
        self.mounted = true;
        Ok(())
    }

    fn mounted(&self) -> Result<(), FsError> {
        if self.mounted {
            Ok(())
        } else {
            Err(FsError::NotMounted)
        }
    }

    fn lookup(&self, path: &str) -> Result<Ino, FsError> {
        self.mounted()?;
        let (d, n) = split(path)?;
        self.dirs
            .get(d)
            .and_then(|dir| dir.entries.get(n))
            .copied()
            .ok_or_else(|| FsError::NotFound(path.to_string()))
    }

    /// The sector of a data block.
    fn lba(&self, block: u64) -> u64 {
        self.data_start + block * PAGE_SECTORS
    }

    /// Gives page `p` a block, next to the previous page's when free (the caller checked
    /// there is space).
    fn allocate(&mut self, ino: Ino, p: u64) {
        let Some(inode) = self.inodes.get(&ino) else {
            return;
        };
        if inode.blocks.contains_key(&p) {
            return;
        }
        let hint = inode
            .blocks
            .range(..p)
            .next_back()
            .map_or(0, |(&q, &b)| b + (p - q));
        if let Some(b) = self.alloc.alloc(hint) {
            if let Some(i) = self.inodes.get_mut(&ino) {
                i.blocks.insert(p, b);
            }
        }
    }

    /// Brings pages into the cache: reads those with blocks (contiguous ones in one request),
    /// zero-fills holes.
    fn load(&mut self, ino: Ino, pages: &[u64], io: &mut Vec<BlockIo>) -> Result<(), BlockError> {
        let mut runs = Vec::new();
        for &p in pages {
            if self.cache.contains((ino, p)) {
                continue;
            }
            match self.inodes.get(&ino).and_then(|i| i.blocks.get(&p)) {
                Some(&b) => runs.push((p, self.lba(b))),
                None => self.cache.insert_clean((ino, p), Box::new([0; PAGE])),
            }
        }
        for run in contiguous(&runs) {
            let (_, lba) = run[0];
            let bytes = self
                .dev
                .read(lba, run.len() as u32 * PAGE_SECTORS as u32, io)?;
            for (&(p, _), chunk) in run.iter().zip(bytes.chunks_exact(PAGE)) {
                let mut page = Box::new([0; PAGE]);
                page.copy_from_slice(chunk);
                self.cache.insert_clean((ino, p), page);
            }
        }
        Ok(())
    }

    /// Reads the next pages of a file sequentially read, ignoring errors (nobody asked yet).
    fn read_ahead(&mut self, ino: Ino, from: u64, size: u64, io: &mut Vec<BlockIo>) {
        let pages = size.div_ceil(PAGE as u64);
        let ahead: Vec<u64> = (from..(from + self.cfg.readahead_pages).min(pages))
            .filter(|&p| {
                !self.cache.contains((ino, p))
                    && self
                        .inodes
                        .get(&ino)
                        .is_some_and(|i| i.blocks.contains_key(&p))
            })
            .collect();
        let _ = self.load(ino, &ahead, io);
    }

    /// Writes pages back (contiguous ones in one request) and marks them clean, even when the
    /// write fails: then the error is kept on the file for its next fsync. Returns the first
    /// error.
    fn write_back(
        &mut self,
        ino: Ino,
        pages: &[u64],
        io: &mut Vec<BlockIo>,
    ) -> Result<(), BlockError> {
        let Some(inode) = self.inodes.get(&ino) else {
            return Ok(());
        };
        let located: Vec<(u64, u64)> = pages
            .iter()
            .filter_map(|p| inode.blocks.get(p).map(|&b| (*p, self.lba(b))))
            .collect();
        let mut first_error = None;
        for run in contiguous(&located) {
            let mut data = Vec::with_capacity(run.len() * PAGE);
            for &(p, _) in run {
                if let Some(page) = self.cache.get((ino, p)) {
                    data.extend_from_slice(&page[..]);
                }
            }
            let result = self.dev.write(run[0].1, &data, io);
            for &(p, _) in run {
                self.cache.mark_clean((ino, p));
            }
            if let Err(e) = result {
                first_error.get_or_insert(e);
                if let Some(i) = self.inodes.get_mut(&ino) {
                    i.wb_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Keeps the cache within its limits: writes back the oldest dirty pages past the dirty
    /// limit, evicts the coldest clean ones past the size.
    fn balance(&mut self, io: &mut Vec<BlockIo>) {
        while self.cache.dirty_pages() > self.cfg.dirty_limit_pages {
            let Some((ino, p)) = self.cache.oldest_dirty() else {
                break;
            };
            // A failure is kept on the file for its next fsync.
            let _ = self.write_back(ino, &[p], io);
        }
        while self.cache.len() > self.cfg.cache_pages {
            if let Some(key) = self.cache.coldest_clean() {
                self.cache.remove(key);
            } else if let Some((ino, p)) = self.cache.oldest_dirty() {
                let _ = self.write_back(ino, &[p], io);
            } else {
                break;
            }
        }
    }

    /// A journal commit: one sector written to the ring, then a flush.
    fn commit(&mut self, io: &mut Vec<BlockIo>) -> Result<(), BlockError> {
        if self.cfg.journal_sectors > 0 {
            let lba = self.journal_next;
            self.journal_next = (lba + 1) % self.cfg.journal_sectors;
            let mut record = [0; SECTOR_BYTES];
            record[..8].copy_from_slice(&self.next_ino.to_le_bytes());
            self.dev.write(lba, &record, io)?;
        }
        self.dev.flush(io)
    }

    /// The file's size and block map become durable; blocks only the old image held are freed.
    fn commit_inode(&mut self, ino: Ino) {
        let Some(inode) = self.inodes.get(&ino) else {
            return;
        };
        let new = Image {
            size: inode.size,
            blocks: inode.blocks.clone(),
        };
        let old = self.images.insert(ino, new.clone()).unwrap_or_default();
        for (p, &b) in &new.blocks {
            if old.blocks.get(p) != Some(&b) {
                self.alloc.hold(b);
            }
        }
        for (p, &b) in &old.blocks {
            if new.blocks.get(p) != Some(&b) {
                self.alloc.release(b);
            }
        }
    }

    /// A directory operation reaches durable state.
    fn apply_durable(&mut self, dir: &str, op: DirOp) {
        let entries = self.durable_dirs.entry(dir.to_string()).or_default();
        let gone = match op {
            DirOp::Link { name, ino } => {
                self.images.entry(ino).or_default();
                entries.insert(name, ino).filter(|&old| old != ino)
            }
            DirOp::Unlink { name } => entries.remove(&name),
            DirOp::Rename { from, to } => match entries.remove(&from) {
                Some(ino) => entries.insert(to, ino).filter(|&old| old != ino),
                None => None,
            },
        };
        if let Some(img) = gone.and_then(|ino| self.images.remove(&ino)) {
            for b in img.blocks.into_values() {
                self.alloc.release(b);
            }
        }
    }

    /// A file left the running namespace: its pages and its hold on its blocks go.
    fn drop_inode(&mut self, ino: Ino) {
        self.cache.remove_from(ino, 0);
        if let Some(inode) = self.inodes.remove(&ino) {
            for b in inode.blocks.into_values() {
                self.alloc.release(b);
            }
        }
    }
}

/// Bytes per page, as a `usize`.
const PAGE: usize = PAGE_BYTES;

/// `"name"` or `"dir/name"` into its directory (`""` for the root) and name.
fn split(path: &str) -> Result<(&str, &str), FsError> {
    let (d, n) = path.split_once('/').unwrap_or(("", path));
    if n.is_empty() || n.contains('/') || (path.contains('/') && d.is_empty()) {
        return Err(FsError::BadPath(path.to_string()));
    }
    Ok((d, n))
}

/// Splits (page, lba) pairs, in page order, into runs that are contiguous on the device and
/// at most [`MAX_REQUEST_PAGES`] long: each becomes one request.
fn contiguous(pages: &[(u64, u64)]) -> Vec<&[(u64, u64)]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=pages.len() {
        let breaks = i == pages.len()
            || i - start == MAX_REQUEST_PAGES
            || pages[i].1 != pages[i - 1].1 + PAGE_SECTORS
            || pages[i].0 != pages[i - 1].0 + 1;
        if breaks {
            runs.push(&pages[start..i]);
            start = i;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use simcore::RngStream;

    use super::super::IoKind;
    use super::*;

    fn fs_with(seed: u64, cfg: FsConfig) -> Fs {
        let dev = BlockDevice::new(4096, RngStream::derive(seed, "fs"));
        Fs::format(dev, cfg)
    }

    fn fs() -> Fs {
        fs_with(1, FsConfig::default())
    }

    fn kinds(io: &[BlockIo]) -> Vec<(IoKind, u32)> {
        io.iter().map(|r| (r.kind, r.sectors)).collect()
    }

    #[test]
    fn files_read_back_what_was_written_with_holes_as_zeros() {
        let mut f = fs();
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.write("a", 5000, b"hello", &mut io).unwrap();
        assert_eq!(f.size("a").unwrap(), 5005);
        assert_eq!(f.read("a", 4998, 100, &mut io).unwrap(), b"\0\0hello");
        assert_eq!(f.append("a", b"!", &mut io).unwrap(), 5005);
        assert_eq!(f.read("a", 5000, 10, &mut io).unwrap(), b"hello!");
        assert!(io.is_empty(), "all of it in the cache: {io:?}");
        assert_eq!(f.create("a"), Err(FsError::Exists("a".into())));
        assert_eq!(
            f.read("nope/a", 0, 1, &mut io),
            Err(FsError::NotFound("nope/a".into()))
        );
        assert_eq!(f.create("/a"), Err(FsError::BadPath("/a".into())));
    }

    /// fsync writes the file's contiguous dirty pages in one request, then the journal
    /// sector, then flushes.
    #[test]
    fn fsync_writes_back_merges_and_flushes() {
        let mut f = fs();
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.write("a", 0, &[7; 3 * PAGE], &mut io).unwrap();
        f.fsync("a", &mut io).unwrap();
        assert_eq!(
            kinds(&io),
            vec![(IoKind::Write, 24), (IoKind::Write, 1), (IoKind::Flush, 0)]
        );
        assert_eq!(io[0].lba, 64, "data starts after the 64-sector journal");
        assert_eq!(f.dirty_pages(), 0);
    }

    /// Unsynced data is lost at a crash; synced data is kept; a new file's name survives
    /// only with an fsync of its directory.
    #[test]
    fn a_crash_keeps_what_was_fsynced() {
        let mut f = fs();
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.fsync_dir("", &mut io).unwrap();
        f.write("a", 0, b"synced", &mut io).unwrap();
        f.fsync("a", &mut io).unwrap();
        f.write("a", 6, b" lost", &mut io).unwrap();
        f.crash();
        assert_eq!(f.read("a", 0, 1, &mut io), Err(FsError::NotMounted));
        f.recover(&mut io).unwrap();
        assert_eq!(f.read("a", 0, 100, &mut io).unwrap(), b"synced");
    }

    /// The fsyncgate sequence, step by step.
    #[test]
    fn a_failed_fsync_is_reported_once_and_the_data_is_gone() {
        let mut f = fs();
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.fsync_dir("", &mut io).unwrap();
        f.write("a", 0, b"old", &mut io).unwrap();
        f.fsync("a", &mut io).unwrap();
        // 1. New data in the cache; the disk starts failing writes.
        f.write("a", 0, b"new", &mut io).unwrap();
        f.device_mut().faults_mut().fail_writes = true;
        // 2. The fsync's write-back fails: the error is reported...
        assert_eq!(f.fsync("a", &mut io), Err(FsError::Io(BlockError::Io)));
        // 3. ...the page is clean (nothing to retry) but the new data is still readable.
        assert_eq!(f.dirty_pages(), 0);
        assert_eq!(f.read("a", 0, 3, &mut io).unwrap(), b"new");
        // 4. The disk recovers; a second fsync reports success: nothing is dirty.
        f.device_mut().faults_mut().fail_writes = false;
        f.fsync("a", &mut io).unwrap();
        // 5. Yet the new data never reached the disk.
        f.crash();
        f.recover(&mut io).unwrap();
        assert_eq!(f.read("a", 0, 3, &mut io).unwrap(), b"old");
    }

    /// A background write-back (dirty limit) that fails is reported by the next fsync, once.
    #[test]
    fn a_background_write_back_error_waits_for_the_next_fsync() {
        let cfg = FsConfig {
            dirty_limit_pages: 1,
            ..FsConfig::default()
        };
        let mut f = fs_with(1, cfg);
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.device_mut().faults_mut().fail_writes = true;
        f.write("a", 0, &[1; 2 * PAGE], &mut io).unwrap();
        assert_eq!(kinds(&io), vec![(IoKind::Write, 8)], "the oldest page went");
        f.device_mut().faults_mut().fail_writes = false;
        assert_eq!(f.fsync("a", &mut io), Err(FsError::Io(BlockError::Io)));
        f.fsync("a", &mut io).unwrap();
    }

    /// Rename over an existing file: kept with an fsync of the directory; without one, a crash
    /// may lose it, but the name always holds the old file or the new one, whole.
    #[test]
    fn a_rename_is_atomic_and_durable_only_with_a_directory_fsync() {
        let mut lost = 0;
        for seed in 0..32 {
            for dir_fsync in [false, true] {
                let mut f = fs_with(seed, FsConfig::default());
                let mut io = Vec::new();
                f.mkdir("d", &mut io).unwrap();
                f.create("d/file").unwrap();
                f.write("d/file", 0, b"old", &mut io).unwrap();
                f.fsync("d/file", &mut io).unwrap();
                f.fsync_dir("d", &mut io).unwrap();
                f.create("d/tmp").unwrap();
                f.write("d/tmp", 0, b"new", &mut io).unwrap();
                f.fsync("d/tmp", &mut io).unwrap();
                f.rename("d/tmp", "d/file").unwrap();
                if dir_fsync {
                    f.fsync_dir("d", &mut io).unwrap();
                }
                f.crash();
                f.recover(&mut io).unwrap();
                let got = f.read("d/file", 0, 10, &mut io).unwrap();
                if dir_fsync {
                    assert_eq!(got, b"new", "seed {seed}");
                    assert_eq!(f.list("d").unwrap(), vec!["file"]);
                } else {
                    assert!(got == b"old" || got == b"new", "seed {seed}: {got:?}");
                    lost += usize::from(got == b"old");
                }
            }
        }
        assert!(lost > 0, "some crash loses the unsynced rename");
    }

    /// An unlink without a directory fsync may be undone by a crash, file and blocks intact;
    /// the blocks its durable image holds are not reused meanwhile.
    #[test]
    fn an_unlink_is_undone_by_a_crash_without_a_directory_fsync() {
        let mut outcomes = BTreeSet::new();
        for seed in 0..16 {
            let mut f = fs_with(seed, FsConfig::default());
            let mut io = Vec::new();
            f.create("a").unwrap();
            f.write("a", 0, b"x", &mut io).unwrap();
            f.fsync("a", &mut io).unwrap();
            f.fsync_dir("", &mut io).unwrap();
            let free = f.free_blocks();
            f.unlink("a").unwrap();
            assert!(!f.exists("a"));
            assert_eq!(
                f.free_blocks(),
                free,
                "the durable file still holds its block"
            );
            f.crash();
            f.recover(&mut io).unwrap();
            if f.exists("a") {
                assert_eq!(f.read("a", 0, 1, &mut io).unwrap(), b"x");
                assert_eq!(f.free_blocks(), free);
            } else {
                assert_eq!(f.free_blocks(), free + 1);
            }
            outcomes.insert(f.exists("a"));
        }
        assert_eq!(outcomes, BTreeSet::from([false, true]));
    }

    #[test]
    fn the_dirty_limit_writes_back_the_oldest_pages() {
        let cfg = FsConfig {
            dirty_limit_pages: 2,
            ..FsConfig::default()
        };
        let mut f = fs_with(1, cfg);
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.create("b").unwrap();
        f.write("a", 0, &[1; PAGE], &mut io).unwrap();
        f.write("b", 0, &[2; PAGE], &mut io).unwrap();
        assert!(io.is_empty());
        f.write("a", PAGE as u64, &[3; PAGE], &mut io).unwrap();
        assert_eq!(kinds(&io), vec![(IoKind::Write, 8)]);
        assert_eq!(io[0].lba, 64, "a's first page, the oldest");
        assert_eq!(f.dirty_pages(), 2);
    }

    #[test]
    fn sequential_reads_read_ahead_and_random_ones_do_not() {
        let cfg = FsConfig {
            cache_pages: 64,
            readahead_pages: 4,
            ..FsConfig::default()
        };
        let mut f = fs_with(1, cfg);
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.write("a", 0, &[1; 16 * PAGE], &mut io).unwrap();
        f.fsync("a", &mut io).unwrap();
        f.fsync_dir("", &mut io).unwrap();
        f.crash();
        f.recover(&mut io).unwrap();
        io.clear();
        f.read("a", 0, 100, &mut io).unwrap();
        // The page asked for, then four ahead in one request.
        assert_eq!(kinds(&io), vec![(IoKind::Read, 8), (IoKind::Read, 32)]);
        io.clear();
        f.read("a", 100, PAGE * 5, &mut io).unwrap();
        // Pages 0 to 4 are cached; page 5 is read, and four more ahead of it.
        assert_eq!(kinds(&io), vec![(IoKind::Read, 8), (IoKind::Read, 32)]);
        io.clear();
        f.read("a", 15 * PAGE as u64, 10, &mut io).unwrap();
        assert_eq!(
            kinds(&io),
            vec![(IoKind::Read, 8)],
            "a jump reads only its page"
        );
    }

    #[test]
    fn truncate_zeroes_the_tail_and_frees_blocks() {
        let mut f = fs();
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.write("a", 0, &[9; 3 * PAGE], &mut io).unwrap();
        let free = f.free_blocks();
        f.truncate("a", 10, &mut io).unwrap();
        assert_eq!(f.free_blocks(), free + 2);
        f.truncate("a", 20, &mut io).unwrap();
        assert_eq!(
            f.read("a", 0, 100, &mut io).unwrap(),
            [&[9; 10][..], &[0; 10]].concat()
        );
    }

    #[test]
    fn a_full_file_system_refuses_new_blocks() {
        let dev = BlockDevice::new(64 + 16, RngStream::derive(1, "fs"));
        let mut f = Fs::format(dev, FsConfig::default());
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.write("a", 0, &[1; 2 * PAGE], &mut io).unwrap();
        assert_eq!(f.append("a", b"x", &mut io), Err(FsError::NoSpace));
        f.write("a", 5, b"in place", &mut io).unwrap();
        f.truncate("a", PAGE as u64, &mut io).unwrap();
        f.set_full(true);
        assert_eq!(f.append("a", &[1; PAGE], &mut io), Err(FsError::NoSpace));
        f.set_full(false);
        f.append("a", &[1; PAGE], &mut io).unwrap();
    }

    #[test]
    fn a_latent_error_fails_the_read_of_an_uncached_page() {
        let mut f = fs();
        let mut io = Vec::new();
        f.create("a").unwrap();
        f.write("a", 0, b"data", &mut io).unwrap();
        f.fsync("a", &mut io).unwrap();
        f.fsync_dir("", &mut io).unwrap();
        f.crash();
        f.recover(&mut io).unwrap();
        f.device_mut().add_latent(64 + 3);
        assert_eq!(
            f.read("a", 0, 4, &mut io),
            Err(FsError::Io(BlockError::Unreadable { lba: 67 }))
        );
    }
}

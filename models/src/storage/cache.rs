//! The page cache's bookkeeping: 4 KiB pages of files, which are dirty and since when, and
//! which was used least recently. Policy (when to write back, what to evict, what a write-back
//! failure does) belongs to the file system ([`super::fs`]), which owns the device; this is the
//! data structure it drives.
//!
//! Dirty pages are kept in the order they were first dirtied (a page dirtied again keeps its
//! place, as Linux's `dirtied_when` does), so write-back under the dirty limit takes the oldest.
//! Clean pages are evicted least recently used first.

use std::collections::BTreeMap;

/// Bytes per page.
pub const PAGE_BYTES: usize = 4096;

/// An inode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ino(pub u64);

/// A page of a file: its inode and index within the file.
pub type PageKey = (Ino, u64);

#[derive(Debug, Clone)]
struct Page {
    data: Box<[u8; PAGE_BYTES]>,
    /// When it was first dirtied since it was last clean, or `None` when clean.
    dirty_since: Option<u64>,
    /// When it was last used.
    used: u64,
}

/// Cached pages of files.
#[derive(Debug, Clone, Default)]
pub struct PageCache {
    pages: BTreeMap<PageKey, Page>,
    /// Dirty pages by when they were first dirtied.
    dirty: BTreeMap<u64, PageKey>,
    /// Every page by when it was last used.
    lru: BTreeMap<u64, PageKey>,
    /// Counts uses and dirtyings; orders both maps.
    clock: u64,
}

impl PageCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    pub fn dirty_pages(&self) -> usize {
        self.dirty.len()
    }

    pub fn contains(&self, key: PageKey) -> bool {
        self.pages.contains_key(&key)
    }

    pub fn is_dirty(&self, key: PageKey) -> bool {
        self.pages
            .get(&key)
            .is_some_and(|p| p.dirty_since.is_some())
    }

    /// A cached page's bytes, marking it used.
    pub fn get(&mut self, key: PageKey) -> Option<&[u8; PAGE_BYTES]> {
        self.touch(key);
        self.pages.get(&key).map(|p| &*p.data)
    }

    /// Caches a page read from the device (or a hole's zeros), clean. Replaces nothing: a
    /// cached page is newer than the device's copy.
    pub fn insert_clean(&mut self, key: PageKey, data: Box<[u8; PAGE_BYTES]>) {
        if self.pages.contains_key(&key) {
            return;
        }
        let used = self.tick();
        self.lru.insert(used, key);
        self.pages.insert(
            key,
            Page {
                data,
                dirty_since: None,
                used,
            },
        );
    }

    /// Copies `bytes` into a cached page at `offset` and marks it dirty. False when the page
    /// is not cached (the caller fills it first).
    pub fn write(&mut self, key: PageKey, offset: usize, bytes: &[u8]) -> bool {
        self.touch(key);
        let now = self.tick();
        let Some(p) = self.pages.get_mut(&key) else {
            return false;
        };
        p.data[offset..offset + bytes.len()].copy_from_slice(bytes);
        if p.dirty_since.is_none() {
            p.dirty_since = Some(now);
            self.dirty.insert(now, key);
        }
        true
    }

    /// The page was written back (or its write-back failed: Linux marks it clean either way).
    pub fn mark_clean(&mut self, key: PageKey) {
        if let Some(since) = self.pages.get_mut(&key).and_then(|p| p.dirty_since.take()) {
            self.dirty.remove(&since);
        }
    }

    /// The oldest dirty page.
    pub fn oldest_dirty(&self) -> Option<PageKey> {
        self.dirty.values().next().copied()
    }

    /// The least recently used clean page.
    pub fn coldest_clean(&self) -> Option<PageKey> {
        self.lru
            .values()
            .find(|k| self.pages.get(k).is_some_and(|p| p.dirty_since.is_none()))
            .copied()
    }

    /// A file's dirty pages, by index.
    pub fn dirty_of(&self, ino: Ino) -> Vec<u64> {
        self.pages
            .range((ino, 0)..=(ino, u64::MAX))
            .filter(|(_, p)| p.dirty_since.is_some())
            .map(|(&(_, i), _)| i)
            .collect()
    }

    /// Drops a page, dirty or not.
    pub fn remove(&mut self, key: PageKey) {
        if let Some(p) = self.pages.remove(&key) {
            self.lru.remove(&p.used);
            if let Some(since) = p.dirty_since {
                self.dirty.remove(&since);
            }
        }
    }

    /// Drops a file's pages from index `from` on.
    pub fn remove_from(&mut self, ino: Ino, from: u64) {
        let keys: Vec<PageKey> = self
            .pages
            .range((ino, from)..=(ino, u64::MAX))
            .map(|(&k, _)| k)
            .collect();
        for k in keys {
            self.remove(k);
        }
    }

    /// Forgets everything (the machine lost power).
    pub fn clear(&mut self) {
        *self = PageCache::new();
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn touch(&mut self, key: PageKey) {
        let now = self.clock + 1;
        if let Some(p) = self.pages.get_mut(&key) {
            self.lru.remove(&p.used);
            p.used = now;
            self.lru.insert(now, key);
            self.clock = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(b: u8) -> Box<[u8; PAGE_BYTES]> {
        Box::new([b; PAGE_BYTES])
    }

    #[test]
    fn dirty_pages_keep_the_order_they_were_first_dirtied() {
        let mut c = PageCache::new();
        let (a, b) = ((Ino(1), 0), (Ino(2), 5));
        c.insert_clean(a, page(0));
        c.insert_clean(b, page(0));
        assert!(c.write(b, 0, &[1]));
        assert!(c.write(a, 0, &[1]));
        assert!(c.write(b, 1, &[1]), "dirtied again: keeps its place");
        assert_eq!(c.oldest_dirty(), Some(b));
        c.mark_clean(b);
        assert_eq!(c.oldest_dirty(), Some(a));
        assert_eq!(c.dirty_of(Ino(1)), vec![0]);
        assert_eq!(
            c.get(b).map(|p| p[1]),
            Some(1),
            "clean pages keep their bytes"
        );
        assert!(
            !c.write((Ino(3), 0), 0, &[1]),
            "an uncached page is not written"
        );
    }

    #[test]
    fn the_least_recently_used_clean_page_is_the_coldest() {
        let mut c = PageCache::new();
        for i in 0..3 {
            c.insert_clean((Ino(1), i), page(0));
        }
        c.get((Ino(1), 0));
        assert_eq!(c.coldest_clean(), Some((Ino(1), 1)));
        c.write((Ino(1), 1), 0, &[9]);
        assert_eq!(
            c.coldest_clean(),
            Some((Ino(1), 2)),
            "dirty pages are not evicted"
        );
        c.remove_from(Ino(1), 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.dirty_pages(), 0);
    }
}

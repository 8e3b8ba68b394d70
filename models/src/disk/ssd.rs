//! A flash SSD's service time and state, after OSTEP's "Flash-based SSDs" chapter: NAND flash
//! reads and programs pages but erases only whole blocks, so a page-mapped flash translation layer
//! (FTL) writes every logical page out of place, at the end of a log, and garbage collection (GC)
//! later copies a block's still-valid pages elsewhere and erases it.
//!
//! - **Mapping.** Logical sectors (512 B, [`SECTOR_BYTES`]) group into logical pages of the flash
//!   page size; a table maps each logical page to the physical page holding its newest copy. A
//!   write programs a free page of an open block and marks the old copy invalid; `trim` drops a
//!   mapping without writing. A write of part of a page that holds data reads the old page first
//!   (read-modify-write).
//! - **Parallelism.** Blocks are spread over `dies` independent dies (block `b` on die
//!   `b % dies`), each with its own channel. Host writes stripe page by page over one open block
//!   per die, so a request's pages on different dies overlap; pages on one die, and requests that
//!   follow each other, queue on that die (its busy-until time is the drive's state).
//! - **Garbage collection.** When free blocks fall below `gc_low`, the write that needs space
//!   waits while GC picks victims by [`GcPolicy`] and reclaims them (read and program each valid
//!   page, then erase) until `gc_high` blocks are free: the latency cliff of a full drive. GC's
//!   copies go to their own open block when `separate_gc_writes` is set, which keeps the cold
//!   data GC moves apart from the hot data the host writes (LFS's age sort does the same); else
//!   they are appended to the victim die's host log, as in OSTEP's example.
//! - **Over-provisioning.** `spare_blocks` are physical blocks beyond the logical capacity. They
//!   are what lets GC find a victim with an invalid page whenever it must, so a write never fails
//!   for want of space however full the logical space is.
//! - **Wear.** Each block counts its erases; a new open block is the least-worn free block of its
//!   die (dynamic wear levelling). Static wear levelling (moving cold data off young blocks) is not
//!   modelled.
//!
//! Memory: 4 bytes per logical page (the map), 4 per physical page (its reverse) and a few words
//! per block; a greedy victim is found from an index of closed blocks by valid count, a
//! cost-benefit one by a scan of the blocks.

use std::collections::BTreeSet;

use super::hdd::SECTOR_BYTES;

/// A physical or logical page number; `NONE` marks an unmapped logical or unused physical page.
type PageNo = u32;
const NONE: PageNo = PageNo::MAX;

/// A cell type's page read, page program and block erase times, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// One bit per cell.
    Slc,
    /// Two bits per cell.
    Mlc,
    /// Three bits per cell.
    Tlc,
}

impl Cell {
    /// `(read, program, erase)` in ns: OSTEP's table of raw flash performance (SLC read 25 µs,
    /// program 200–300 µs, erase 1.5–2 ms; MLC 50 µs, 600–900 µs, ~3 ms; TLC ~75 µs,
    /// 900–1350 µs, ~4.5 ms), taking the middle of each range.
    pub const fn latencies(self) -> (u64, u64, u64) {
        match self {
            Cell::Slc => (25_000, 250_000, 1_750_000),
            Cell::Mlc => (50_000, 750_000, 3_000_000),
            Cell::Tlc => (75_000, 1_125_000, 4_500_000),
        }
    }
}

/// How GC picks the block to reclaim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcPolicy {
    /// The block with the fewest valid pages: the cheapest to clean now.
    Greedy,
    /// The block with the highest benefit/cost = (1 − u)·age / (2u), u its valid fraction and age
    /// the time since its youngest data was written (Rosenblum and Ousterhout's LFS cleaner;
    /// Kawaguchi et al. for flash): a cold block is worth cleaning at a higher u, because the
    /// space it frees will stay free longer.
    CostBenefit,
}

/// A drive's geometry, timing and FTL settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SsdSpec {
    /// Bytes per flash page; a multiple of [`SECTOR_BYTES`].
    pub page_bytes: u64,
    pub pages_per_block: u32,
    /// Physical erase blocks, spare ones included.
    pub blocks: u32,
    /// Physical blocks beyond the logical capacity (over-provisioning); the spare factor is
    /// `spare_blocks / (blocks − spare_blocks)`.
    pub spare_blocks: u32,
    /// Independent dies (each with its own channel).
    pub dies: u32,
    pub read_ns: u64,
    pub program_ns: u64,
    pub erase_ns: u64,
    /// Each die's channel, bytes per second: a page crosses it after a read and before a program.
    pub bus_bytes_per_s: u64,
    pub gc: GcPolicy,
    /// Foreground GC starts when fewer blocks than this are free (at least 2, so GC always has
    /// a block to copy into).
    pub gc_low: u32,
    /// and runs until this many are.
    pub gc_high: u32,
    /// GC copies into an open block of its own rather than the host's log.
    pub separate_gc_writes: bool,
}

impl SsdSpec {
    /// A typical drive of `logical_blocks` blocks of user space: 4 KiB pages, 64 to a block
    /// (OSTEP's 256 KB blocks), 8 dies, ONFI 3's 400 MB/s channels, the 7% spare of consumer
    /// drives (flash comes in GiB and is sold in GB: 2^30 / 10^9 ≈ 1.07), greedy GC between 8
    /// and 16 free blocks into its own open block, and `cell`'s latencies.
    pub fn typical(cell: Cell, logical_blocks: u32) -> SsdSpec {
        let (read_ns, program_ns, erase_ns) = cell.latencies();
        let dies = 8;
        let gc_high = 16;
        // 7% of the user blocks, but never fewer than GC's reserve and the open blocks need.
        let seven_percent = (u64::from(logical_blocks) * 7).div_ceil(100) as u32;
        let spare_blocks = seven_percent.max(gc_high + dies + 1);
        SsdSpec {
            page_bytes: 4096,
            pages_per_block: 64,
            blocks: logical_blocks.saturating_add(spare_blocks),
            spare_blocks,
            dies,
            read_ns,
            program_ns,
            erase_ns,
            bus_bytes_per_s: 400_000_000,
            gc: GcPolicy::Greedy,
            gc_low: 8,
            gc_high,
            separate_gc_writes: true,
        }
    }

    /// Open blocks at once: one per die for the host, and GC's own.
    fn open_slots(&self) -> u32 {
        self.dies + u32::from(self.separate_gc_writes)
    }

    fn check(&self) -> Result<(), SsdError> {
        if self.page_bytes == 0 || self.page_bytes % SECTOR_BYTES != 0 {
            return Err(SsdError::PageSize(self.page_bytes));
        }
        if self.pages_per_block == 0 || self.blocks == 0 || self.dies == 0 {
            return Err(SsdError::Empty);
        }
        if self.bus_bytes_per_s == 0 {
            return Err(SsdError::Bus);
        }
        if self.gc_low < 2 || self.gc_high < self.gc_low {
            return Err(SsdError::Thresholds(self.gc_low, self.gc_high));
        }
        // GC must always find a victim with an invalid page while fewer than gc_high blocks are
        // free: the closed blocks (all but the free and the open ones) then number at least
        // blocks − gc_high + 1 − open, more than the blocks − spare the valid data can fill.
        let need = self.gc_high + self.open_slots();
        if self.spare_blocks < need || self.spare_blocks >= self.blocks {
            return Err(SsdError::Spare {
                spare: self.spare_blocks,
                need,
            });
        }
        let pages = u64::from(self.blocks) * u64::from(self.pages_per_block);
        if pages >= u64::from(NONE) {
            return Err(SsdError::TooLarge(pages));
        }
        Ok(())
    }
}

/// What a drive cannot be, and what it refuses to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsdError {
    #[error("a flash page must be a positive multiple of {SECTOR_BYTES} bytes, not {0}")]
    PageSize(u64),
    #[error("a drive needs pages per block, blocks and dies")]
    Empty,
    #[error("a drive needs a positive bus rate")]
    Bus,
    #[error("GC thresholds need 2 <= gc_low <= gc_high, not {0} and {1}")]
    Thresholds(u32, u32),
    #[error(
        "{spare} spare blocks: GC needs at least {need} (gc_high plus one open block per die and \
         one for GC) and fewer than the whole drive"
    )]
    Spare { spare: u32, need: u32 },
    #[error("{0} pages is more than the FTL's 32-bit page numbers hold")]
    TooLarge(u64),
    #[error("sectors {lba}..{lba}+{sectors} are not within the drive's {capacity} sectors")]
    OutOfRange {
        lba: u64,
        sectors: u64,
        capacity: u64,
    },
    #[error("no free page and no block to reclaim")]
    Full,
}

/// One request's time, in nanoseconds, by part, along the die that finished it last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SsdAccess {
    /// Waiting for the die to finish earlier requests (or an earlier background GC).
    pub queue: u64,
    /// Foreground GC this request waited for: copies and erases.
    pub gc: u64,
    /// Flash array time: page reads and programs (and, before a read-modify-write's program,
    /// the read of the old page on another die).
    pub flash: u64,
    /// Pages crossing the die's channel.
    pub transfer: u64,
}

impl SsdAccess {
    pub fn total(&self) -> u64 {
        self.queue + self.gc + self.flash + self.transfer
    }
}

/// Counters since the drive was made, and its wear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SsdStats {
    /// Logical pages the host wrote (a write of part of a page counts as one).
    pub host_pages_written: u64,
    pub host_pages_read: u64,
    /// Pages programmed: the host's and GC's copies.
    pub flash_programs: u64,
    /// Pages read from flash: the host's, read-modify-writes' and GC's.
    pub flash_reads: u64,
    pub gc_copies: u64,
    pub erases: u64,
    /// Logical pages unmapped by trim.
    pub trimmed_pages: u64,
    /// Time host requests spent waiting on foreground GC, summed over requests.
    pub gc_ns: u64,
    /// The most and least erased blocks' counts.
    pub erase_max: u64,
    pub erase_min: u64,
    pub blocks: u64,
}

impl SsdStats {
    /// Flash programs per host page write (1 before GC has copied anything).
    pub fn write_amplification(&self) -> f64 {
        if self.host_pages_written == 0 {
            return 1.0;
        }
        self.flash_programs as f64 / self.host_pages_written as f64
    }

    /// Erases per block.
    pub fn erase_mean(&self) -> f64 {
        self.erases as f64 / self.blocks.max(1) as f64
    }
}

/// What a physical page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    /// Erased, not yet programmed.
    Free,
    /// The newest copy of this logical page.
    Valid(u64),
    /// Programmed, but overwritten or trimmed since.
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    Free,
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy)]
struct Block {
    state: BlockState,
    erases: u64,
    /// Pages programmed since the last erase (the next page to program).
    written: u32,
    valid: u32,
    /// The logical time (host pages written) of its youngest data, for cost-benefit's age.
    stamp: u64,
}

/// Who a flash operation works for, which decides what its waits count as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    Host,
    Gc,
}

/// One die's share of the request in progress.
#[derive(Debug, Clone, Copy, Default)]
struct Lane {
    touched: bool,
    end: u64,
    part: SsdAccess,
}

/// A drive: its spec, the FTL's map, its blocks and its dies' busy times.
#[derive(Debug, Clone)]
pub struct Ssd {
    spec: SsdSpec,
    /// One page's crossing of a channel.
    xfer_ns: u64,
    logical_pages: u64,
    /// Logical page to physical page.
    map: Vec<PageNo>,
    /// Physical page to the logical page it holds, `NONE` when free or invalid.
    rmap: Vec<PageNo>,
    blocks: Vec<Block>,
    /// Free blocks per die, least worn first.
    free: Vec<BTreeSet<(u64, u32)>>,
    free_count: u32,
    /// Open blocks: one slot per die for the host, then GC's.
    open: Vec<Option<u32>>,
    /// Closed blocks by their count of valid pages, so greedy finds its victim without a scan.
    closed: Vec<BTreeSet<u32>>,
    /// The die the host's next page goes to.
    next_slot: u32,
    busy_until: Vec<u64>,
    stats: SsdStats,
    /// The request in progress: when it came, when GC lets it go on, its dies.
    now: u64,
    not_before: u64,
    lanes: Vec<Lane>,
}

impl Ssd {
    pub fn new(spec: SsdSpec) -> Result<Ssd, SsdError> {
        spec.check()?;
        let ppb = spec.pages_per_block;
        let logical_pages = u64::from(spec.blocks - spec.spare_blocks) * u64::from(ppb);
        let physical = spec.blocks as usize * ppb as usize;
        let dies = spec.dies as usize;
        let mut free = vec![BTreeSet::new(); dies];
        for b in 0..spec.blocks {
            free[(b % spec.dies) as usize].insert((0, b));
        }
        let xfer_ns = (u128::from(spec.page_bytes) * 1_000_000_000)
            .div_ceil(u128::from(spec.bus_bytes_per_s)) as u64;
        Ok(Ssd {
            xfer_ns,
            logical_pages,
            map: vec![NONE; logical_pages as usize],
            rmap: vec![NONE; physical],
            blocks: vec![
                Block {
                    state: BlockState::Free,
                    erases: 0,
                    written: 0,
                    valid: 0,
                    stamp: 0,
                };
                spec.blocks as usize
            ],
            free,
            free_count: spec.blocks,
            open: vec![None; spec.open_slots() as usize],
            closed: vec![BTreeSet::new(); ppb as usize + 1],
            next_slot: 0,
            busy_until: vec![0; dies],
            stats: SsdStats {
                blocks: u64::from(spec.blocks),
                ..SsdStats::default()
            },
            now: 0,
            not_before: 0,
            lanes: vec![Lane::default(); dies],
            spec,
        })
    }

    pub fn spec(&self) -> &SsdSpec {
        &self.spec
    }

    /// The drive's logical capacity in sectors.
    pub fn sectors(&self) -> u64 {
        self.logical_pages * self.sectors_per_page()
    }

    pub fn logical_pages(&self) -> u64 {
        self.logical_pages
    }

    /// One page's time on a channel.
    pub fn transfer_ns(&self) -> u64 {
        self.xfer_ns
    }

    /// When each die finishes the work it has been given.
    pub fn busy_until(&self) -> &[u64] {
        &self.busy_until
    }

    pub fn free_blocks(&self) -> u32 {
        self.free_count
    }

    /// Where the newest copy of a logical page is, as a physical page number.
    pub fn lookup(&self, lpn: u64) -> Option<u64> {
        let p = *self.map.get(usize::try_from(lpn).ok()?)?;
        (p != NONE).then_some(u64::from(p))
    }

    /// What a physical page holds; `None` past the end.
    pub fn page_state(&self, ppn: u64) -> Option<PageState> {
        let i = usize::try_from(ppn).ok()?;
        let lpn = *self.rmap.get(i)?;
        let block = &self.blocks[i / self.spec.pages_per_block as usize];
        let page = (i % self.spec.pages_per_block as usize) as u32;
        Some(if lpn != NONE {
            PageState::Valid(u64::from(lpn))
        } else if page < block.written {
            PageState::Invalid
        } else {
            PageState::Free
        })
    }

    /// How many times each block has been erased.
    pub fn erase_counts(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks.iter().map(|b| b.erases)
    }

    pub fn stats(&self) -> SsdStats {
        let mut s = self.stats;
        s.erase_max = self.erase_counts().max().unwrap_or(0);
        s.erase_min = self.erase_counts().min().unwrap_or(0);
        s
    }

    /// Reads `sectors` sectors from `lba`, starting at `now` (ns). A page never written (or
    /// trimmed) is answered from the map without touching flash.
    pub fn read(&mut self, now: u64, lba: u64, sectors: u64) -> Result<SsdAccess, SsdError> {
        let pages = self.pages_of(lba, sectors)?;
        self.begin(now);
        for lpn in pages {
            self.stats.host_pages_read += 1;
            let ppn = self.map[lpn as usize];
            if ppn != NONE {
                self.flash_read(ppn, self.now, Work::Host);
            }
        }
        Ok(self.finish())
    }

    /// Writes `sectors` sectors at `lba`, starting at `now` (ns), one logical page at a time,
    /// running foreground GC first whenever free blocks are short. On `Full` (which a valid
    /// spec never reaches) the pages before the failing one stay written.
    pub fn write(&mut self, now: u64, lba: u64, sectors: u64) -> Result<SsdAccess, SsdError> {
        let pages = self.pages_of(lba, sectors)?;
        let spp = self.sectors_per_page();
        self.begin(now);
        for lpn in pages {
            let start = lpn * spp;
            let whole = lba <= start && start + spp <= lba + sectors;
            if let Err(e) = self.write_page(lpn as PageNo, whole) {
                self.finish();
                return Err(e);
            }
        }
        let access = self.finish();
        self.stats.gc_ns += access.gc;
        Ok(access)
    }

    /// Writes `sectors` sectors at `lba` as the drive's history before time 0, and forgets the
    /// time it took and what it counted (the dies are idle at 0, the counters as they were): a
    /// drive whose pages hold data, as a real device does once its contents are written (`native
    /// run` and `native calibrate disk` compare against a loop device whose file was written
    /// through first; without this a read of a never-written page would take no time).
    pub fn precondition(&mut self, lba: u64, sectors: u64) -> Result<(), SsdError> {
        let stats = self.stats;
        self.write(0, lba, sectors)?;
        self.busy_until.fill(0);
        self.stats = stats;
        Ok(())
    }

    /// Drops the mappings of the whole pages within `sectors` sectors from `lba` (a page only
    /// partly covered keeps its data), so GC no longer copies them; how many were mapped.
    pub fn trim(&mut self, lba: u64, sectors: u64) -> Result<u64, SsdError> {
        let pages = self.pages_of(lba, sectors)?;
        let spp = self.sectors_per_page();
        let mut dropped = 0;
        for lpn in pages {
            let start = lpn * spp;
            let ppn = self.map[lpn as usize];
            if lba <= start && start + spp <= lba + sectors && ppn != NONE {
                self.invalidate(ppn);
                self.map[lpn as usize] = NONE;
                dropped += 1;
            }
        }
        self.stats.trimmed_pages += dropped;
        Ok(dropped)
    }

    /// One round of GC at `now` whatever the free count (for an idle drive's background GC, or
    /// to watch one round): the policy's victim reclaimed; `None` when no block has an invalid
    /// page to reclaim.
    pub fn collect(&mut self, now: u64) -> Result<Option<SsdAccess>, SsdError> {
        let Some(victim) = self.pick_victim() else {
            return Ok(None);
        };
        self.begin(now);
        let result = self.clean(victim, now);
        let access = self.finish();
        result.map(|_| Some(access))
    }

    fn sectors_per_page(&self) -> u64 {
        self.spec.page_bytes / SECTOR_BYTES
    }

    fn ppb(&self) -> u32 {
        self.spec.pages_per_block
    }

    fn die_of(&self, ppn: PageNo) -> usize {
        ((ppn / self.ppb()) % self.spec.dies) as usize
    }

    /// The logical pages a request touches, or why it cannot be served.
    fn pages_of(&self, lba: u64, sectors: u64) -> Result<std::ops::Range<u64>, SsdError> {
        let end = lba
            .checked_add(sectors)
            .filter(|&e| sectors > 0 && e <= self.sectors());
        let Some(end) = end else {
            return Err(SsdError::OutOfRange {
                lba,
                sectors,
                capacity: self.sectors(),
            });
        };
        let spp = self.sectors_per_page();
        Ok(lba / spp..end.div_ceil(spp))
    }

    fn begin(&mut self, now: u64) {
        self.now = now;
        self.not_before = now;
        self.lanes.fill(Lane::default());
    }

    /// Ends the request: each die it used is busy until its lane ends, and the request took as
    /// long as the lane that ended last (the lowest die on a tie).
    fn finish(&mut self) -> SsdAccess {
        let mut last: Option<Lane> = None;
        for (die, lane) in self.lanes.iter().enumerate() {
            if !lane.touched {
                continue;
            }
            self.busy_until[die] = lane.end;
            debug_assert_eq!(lane.part.total(), lane.end - self.now);
            if last.is_none_or(|l| lane.end > l.end) {
                last = Some(*lane);
            }
        }
        last.map_or(SsdAccess::default(), |l| l.part)
    }

    /// Puts an operation of `flash` array time and `transfer` channel time on `die`, to start
    /// no earlier than `ready`; when it ends. The die's idle time before it is GC's when GC
    /// held the request up, else the wait for this request's own earlier operation.
    fn place(&mut self, die: usize, ready: u64, work: Work, flash: u64, transfer: u64) -> u64 {
        let (now, not_before, busy) = (self.now, self.not_before, self.busy_until[die]);
        let lane = &mut self.lanes[die];
        if !lane.touched {
            lane.touched = true;
            lane.end = busy.max(now);
            lane.part.queue = busy.saturating_sub(now);
        }
        let start = lane.end.max(ready);
        let idle = start - lane.end;
        let held_by_gc = not_before.saturating_sub(lane.end).min(idle);
        match work {
            Work::Gc => lane.part.gc += idle + flash + transfer,
            Work::Host => {
                lane.part.gc += held_by_gc;
                lane.part.flash += idle - held_by_gc + flash;
                lane.part.transfer += transfer;
            }
        }
        lane.end = start + flash + transfer;
        lane.end
    }

    fn flash_read(&mut self, ppn: PageNo, ready: u64, work: Work) -> u64 {
        self.stats.flash_reads += 1;
        let (die, read, xfer) = (self.die_of(ppn), self.spec.read_ns, self.xfer_ns);
        self.place(die, ready, work, read, xfer)
    }

    fn flash_program(&mut self, ppn: PageNo, ready: u64, work: Work) -> u64 {
        self.stats.flash_programs += 1;
        let (die, program, xfer) = (self.die_of(ppn), self.spec.program_ns, self.xfer_ns);
        self.place(die, ready, work, program, xfer)
    }

    /// One host page: GC first if free blocks are short, the old page's read if only part of
    /// it is written, then a program at the end of the log of the next die in turn.
    fn write_page(&mut self, lpn: PageNo, whole: bool) -> Result<(), SsdError> {
        if self.free_count < self.spec.gc_low {
            self.collect_until(self.spec.gc_high)?;
        }
        let old = self.map[lpn as usize];
        let mut ready = self.not_before;
        if !whole && old != NONE {
            ready = self.flash_read(old, ready, Work::Host);
        }
        let slot = self.next_slot;
        self.next_slot = (slot + 1) % self.spec.dies;
        let ppn = self.log_page(slot as usize, slot)?;
        if old != NONE {
            self.invalidate(old);
        }
        let stamp = self.stats.host_pages_written;
        self.stats.host_pages_written += 1;
        self.place_data(lpn, ppn, stamp);
        self.flash_program(ppn, ready, Work::Host);
        Ok(())
    }

    /// Foreground GC: reclaims victims until `target` blocks are free (or none is left to
    /// reclaim); the request's later operations wait until the last of GC's is done.
    fn collect_until(&mut self, target: u32) -> Result<(), SsdError> {
        let mut done = self.not_before;
        while self.free_count < target {
            let Some(victim) = self.pick_victim() else {
                break;
            };
            done = done.max(self.clean(victim, self.not_before)?);
        }
        self.not_before = done;
        Ok(())
    }

    /// Copies `victim`'s valid pages to the end of a log and erases it, starting no earlier
    /// than `ready`; when the erase ends.
    fn clean(&mut self, victim: u32, ready: u64) -> Result<u64, SsdError> {
        debug_assert_eq!(self.blocks[victim as usize].state, BlockState::Closed);
        let die = (victim % self.spec.dies) as usize;
        let slot = if self.spec.separate_gc_writes {
            self.spec.dies as usize
        } else {
            die
        };
        let first = victim * self.ppb();
        let mut copied = ready;
        for ppn in first..first + self.blocks[victim as usize].written {
            let lpn = self.rmap[ppn as usize];
            if lpn == NONE {
                continue;
            }
            let read = self.flash_read(ppn, ready, Work::Gc);
            let to = self.log_page(slot, die as u32)?;
            self.invalidate(ppn);
            self.place_data(lpn, to, self.blocks[victim as usize].stamp);
            copied = copied.max(self.flash_program(to, read, Work::Gc));
            self.stats.gc_copies += 1;
        }
        debug_assert_eq!(self.blocks[victim as usize].valid, 0);
        let erased = self.place(die, copied, Work::Gc, self.spec.erase_ns, 0);
        self.erase(victim);
        Ok(erased)
    }

    /// The victim under the drive's policy among closed blocks with something to reclaim,
    /// lowest block first on a tie.
    fn pick_victim(&self) -> Option<u32> {
        match self.spec.gc {
            GcPolicy::Greedy => {
                let v = self.closed[..self.ppb() as usize]
                    .iter()
                    .find_map(|set| set.first().copied());
                debug_assert_eq!(v, self.scan_for_victim());
                v
            }
            GcPolicy::CostBenefit => self.scan_for_victim(),
        }
    }

    /// [`Ssd::pick_victim`] by looking at every block: cost-benefit's scores change with time,
    /// so it reads them all (as LFS's cleaner reads its segment usage table).
    fn scan_for_victim(&self) -> Option<u32> {
        let ppb = u128::from(self.ppb());
        let clock = self.stats.host_pages_written;
        let mut best: Option<(u32, u128, u128)> = None; // block, then a score as a fraction
        for (i, b) in self.blocks.iter().enumerate() {
            if b.state != BlockState::Closed || b.valid == self.ppb() {
                continue;
            }
            let v = u128::from(b.valid);
            // Both as num/den, higher better: greedy 1/valid, cost-benefit (1−u)·age/(2u).
            let (num, den) = match self.spec.gc {
                GcPolicy::Greedy => (1, v),
                GcPolicy::CostBenefit => ((ppb - v) * u128::from(clock - b.stamp), 2 * v),
            };
            // An empty block costs nothing to reclaim: infinitely good, first one wins.
            let better =
                best.is_none_or(|(_, bn, bd)| bd != 0 && (den == 0 || num * bd > bn * den));
            if better {
                best = Some((i as u32, num, den));
            }
        }
        best.map(|(i, _, _)| i)
    }

    /// The next free page at the end of log `slot`, opening the least-worn free block of `die`
    /// (or, with none free there, of any die) when the slot's block is full.
    fn log_page(&mut self, slot: usize, die: u32) -> Result<PageNo, SsdError> {
        let ppb = self.ppb();
        let block = match self.open[slot] {
            Some(b) if self.blocks[b as usize].written < ppb => b,
            full => {
                if let Some(b) = full {
                    let blk = &mut self.blocks[b as usize];
                    blk.state = BlockState::Closed;
                    self.closed[blk.valid as usize].insert(b);
                }
                let b = self.take_free(die as usize).ok_or(SsdError::Full)?;
                self.open[slot] = Some(b);
                b
            }
        };
        let blk = &mut self.blocks[block as usize];
        let ppn = block * ppb + blk.written;
        blk.written += 1;
        Ok(ppn)
    }

    fn take_free(&mut self, die: usize) -> Option<u32> {
        let from = if self.free[die].is_empty() {
            // The die whose least-worn free block is least worn.
            (0..self.free.len())
                .filter(|&d| !self.free[d].is_empty())
                .min_by_key(|&d| self.free[d].first())?
        } else {
            die
        };
        let (_, b) = self.free[from].pop_first()?;
        self.free_count -= 1;
        let blk = &mut self.blocks[b as usize];
        debug_assert!(blk.state == BlockState::Free && blk.written == 0 && blk.valid == 0);
        blk.state = BlockState::Open;
        blk.stamp = 0;
        Some(b)
    }

    /// Maps `lpn` to the freshly programmed `ppn`, data of logical time `stamp`.
    fn place_data(&mut self, lpn: PageNo, ppn: PageNo, stamp: u64) {
        debug_assert_eq!(self.rmap[ppn as usize], NONE);
        self.map[lpn as usize] = ppn;
        self.rmap[ppn as usize] = lpn;
        let blk = &mut self.blocks[(ppn / self.spec.pages_per_block) as usize];
        blk.valid += 1;
        blk.stamp = blk.stamp.max(stamp);
        debug_assert!(blk.valid <= blk.written);
    }

    /// Marks a physical page's data stale (its logical page now lives elsewhere, or nowhere).
    fn invalidate(&mut self, ppn: PageNo) {
        debug_assert_ne!(self.rmap[ppn as usize], NONE);
        self.rmap[ppn as usize] = NONE;
        let b = ppn / self.spec.pages_per_block;
        let blk = &mut self.blocks[b as usize];
        blk.valid -= 1;
        if blk.state == BlockState::Closed {
            let v = blk.valid as usize;
            let moved = self.closed[v + 1].remove(&b);
            debug_assert!(moved);
            self.closed[v].insert(b);
        }
    }

    fn erase(&mut self, block: u32) {
        let blk = &mut self.blocks[block as usize];
        debug_assert_eq!(blk.valid, 0);
        let was_closed = self.closed[0].remove(&block);
        debug_assert!(was_closed);
        blk.state = BlockState::Free;
        blk.written = 0;
        blk.erases += 1;
        let erases = blk.erases;
        self.free[(block % self.spec.dies) as usize].insert((erases, block));
        self.free_count += 1;
        self.stats.erases += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simcore::RngStream;

    /// A one-die MLC drive of `blocks` blocks of `ppb` 4 KiB pages, `spare` of them spare, GC
    /// from below 2 free blocks back to 2.
    fn spec(ppb: u32, blocks: u32, spare: u32, gc: GcPolicy, separate: bool) -> SsdSpec {
        let (read_ns, program_ns, erase_ns) = Cell::Mlc.latencies();
        SsdSpec {
            page_bytes: 4096,
            pages_per_block: ppb,
            blocks,
            spare_blocks: spare,
            dies: 1,
            read_ns,
            program_ns,
            erase_ns,
            bus_bytes_per_s: 400_000_000,
            gc,
            gc_low: 2,
            gc_high: 2,
            separate_gc_writes: separate,
        }
    }

    /// Writes logical page `lpn` whole at `now`.
    fn put(d: &mut Ssd, now: u64, lpn: u64) -> SsdAccess {
        let spp = d.sectors_per_page();
        d.write(now, lpn * spp, spp).unwrap()
    }

    /// Greedy GC's write amplification under uniform random page writes, in the limit of many
    /// pages per block: a block reclaimed holds the fraction u of its pages still valid, where
    /// u = e^(−α(1−u)) with α = 1 + ρ the physical/logical ratio (Xiang and Kurkoski, "An
    /// improved analytic expression for write amplification in NAND flash", 2012, whose Lambert
    /// W closed form this is the root of; Desnoyers derives the same for FIFO cleaning); WA =
    /// 1/(1 − u). Newton's method from 0 climbs to the root below 1 (f is concave there).
    fn greedy_wa(rho: f64) -> f64 {
        let a = 1.0 + rho;
        let mut u = 0.0f64;
        for _ in 0..100 {
            let e = (-a * (1.0 - u)).exp();
            u -= (u - e) / (1.0 - a * e);
        }
        1.0 / (1.0 - u)
    }

    /// Random whole-page writes: with `hot` = (share of space, share of writes), that share of
    /// writes goes to the first part of the space, the rest to the rest. Returns the WA over
    /// the last `measure` writes, after `warm` writes.
    fn churn(d: &mut Ssd, seed: u64, hot: Option<(f64, f64)>, warm: u64, measure: u64) -> f64 {
        let mut rng = RngStream::derive(seed, "ssd churn");
        let n = d.logical_pages();
        let mut now = 0;
        for lpn in 0..n {
            put(d, now, lpn);
            now += 1_000_000_000;
        }
        let pick = |rng: &mut RngStream| match hot {
            None => rng.below(n),
            Some((space, writes)) => {
                let h = (n as f64 * space) as u64;
                if rng.chance(writes) {
                    rng.below(h)
                } else {
                    h + rng.below(n - h)
                }
            }
        };
        for _ in 0..warm {
            let lpn = pick(&mut rng);
            put(d, now, lpn);
            now += 1_000_000_000;
        }
        let before = d.stats();
        for _ in 0..measure {
            let lpn = pick(&mut rng);
            put(d, now, lpn);
            now += 1_000_000_000;
        }
        let after = d.stats();
        (after.flash_programs - before.flash_programs) as f64
            / (after.host_pages_written - before.host_pages_written) as f64
    }

    /// OSTEP's worked example of a log-structured FTL: 4 KB pages, blocks of four, the client
    /// writes logical blocks 100, 101, 2000 and 2001 (they land in physical pages 0–3 of block
    /// 0, the first erased block), then overwrites 100 and 101 (pages 4 and 5 of block 1; pages
    /// 0 and 1 become garbage). The mapping table reads 100→4, 101→5, 2000→2, 2001→3. GC of
    /// block 0 then reads its live pages 2 and 3, writes them to the end of the log (pages 6
    /// and 7) and erases block 0: 2000→6, 2001→7.
    #[test]
    fn ostep_log_structured_ftl_example() {
        let mut d = Ssd::new(spec(4, 1024, 8, GcPolicy::Greedy, false)).unwrap();
        for (i, lpn) in [100, 101, 2000, 2001].into_iter().enumerate() {
            put(&mut d, i as u64 * 1_000_000_000, lpn);
        }
        put(&mut d, 10_000_000_000, 100);
        put(&mut d, 11_000_000_000, 101);
        let table: Vec<_> = [100, 101, 2000, 2001]
            .into_iter()
            .map(|l| d.lookup(l).unwrap())
            .collect();
        assert_eq!(table, [4, 5, 2, 3]);
        let pages: Vec<_> = (0..8).map(|p| d.page_state(p).unwrap()).collect();
        use PageState::*;
        assert_eq!(
            pages,
            [
                Invalid,
                Invalid,
                Valid(2000),
                Valid(2001),
                Valid(100),
                Valid(101),
                Free,
                Free
            ]
        );
        let before = d.stats();
        assert_eq!((before.erases, before.gc_copies), (0, 0));

        let gc = d.collect(20_000_000_000).unwrap().unwrap();
        let table: Vec<_> = [100, 101, 2000, 2001]
            .into_iter()
            .map(|l| d.lookup(l).unwrap())
            .collect();
        assert_eq!(table, [4, 5, 6, 7]);
        assert!((0..4).all(|p| d.page_state(p) == Some(Free)));
        let after = d.stats();
        assert_eq!((after.gc_copies, after.erases, after.erase_max), (2, 1, 1));
        // On the one die: read, move and program each live page, then erase.
        let s = d.spec();
        let copy = s.read_ns + 2 * d.transfer_ns() + s.program_ns;
        assert_eq!(gc.total(), 2 * copy + s.erase_ns);
        assert_eq!(gc.gc, gc.total());
    }

    #[test]
    fn reads_programs_and_erases_take_their_latencies() {
        let mut d = Ssd::new(spec(4, 16, 4, GcPolicy::Greedy, false)).unwrap();
        let (s, x) = (d.spec().clone(), d.transfer_ns());
        // 4 KiB over 400 MB/s.
        assert_eq!(x, 10_240);
        // A write to an erased page: the page crosses the channel and is programmed.
        let w = put(&mut d, 0, 0);
        assert_eq!(
            w,
            SsdAccess {
                queue: 0,
                gc: 0,
                flash: s.program_ns,
                transfer: x
            }
        );
        // A read right behind it waits for the die, then reads and sends the page.
        let r = d.read(1_000, 0, 8).unwrap();
        assert_eq!(r.queue, s.program_ns + x - 1_000);
        assert_eq!((r.gc, r.flash, r.transfer), (0, s.read_ns, x));
        // On an idle die: just the read. A page never written costs no flash at all.
        assert_eq!(d.read(10_000_000, 0, 1).unwrap().total(), s.read_ns + x);
        assert_eq!(d.read(20_000_000, 8, 8).unwrap().total(), 0);
        // Writing part of a page that holds data reads the old page first.
        let rmw = d.write(30_000_000, 3, 1).unwrap();
        assert_eq!(rmw.total(), s.read_ns + s.program_ns + 2 * x);

        // Fill the 48 logical pages and overwrite them: no erase until GC runs, and the write
        // that finds fewer than 2 free blocks waits for GC's erase of a block of garbage.
        let mut now = 100_000_000;
        let mut erase_seen = false;
        for round in 0..3 {
            for lpn in 0..d.logical_pages() {
                let erases = d.stats().erases;
                let a = put(&mut d, now, lpn);
                now += 100_000_000;
                if d.stats().erases == erases {
                    assert_eq!(a.total(), s.program_ns + x, "round {round} page {lpn}");
                } else {
                    // Sequential overwrites leave whole blocks of garbage: no copies.
                    assert_eq!(d.stats().gc_copies, 0);
                    assert_eq!(a.gc, s.erase_ns);
                    assert_eq!(a.total(), s.erase_ns + s.program_ns + x);
                    erase_seen = true;
                }
            }
            assert_eq!(
                d.stats().erases > 0,
                round > 0,
                "the first pass erases nothing"
            );
        }
        assert!(erase_seen);
    }

    #[test]
    fn pages_on_different_dies_overlap() {
        let mut s = spec(4, 64, 12, GcPolicy::Greedy, true);
        s.dies = 4;
        let mut d = Ssd::new(s).unwrap();
        let (s, x) = (d.spec().clone(), d.transfer_ns());
        // Four pages in one request stripe over the four dies: one program's time.
        let w = d.write(0, 0, 32).unwrap();
        assert_eq!(w.total(), s.program_ns + x);
        let dies: Vec<_> = (0..4)
            .map(|l| d.die_of(d.lookup(l).unwrap() as PageNo))
            .collect();
        assert_eq!(dies, [0, 1, 2, 3]);
        assert!(d.busy_until().iter().all(|&b| b == s.program_ns + x));
        // Reading them back overlaps too; reading eight pages puts two on each die.
        assert_eq!(d.read(10_000_000, 0, 32).unwrap().total(), s.read_ns + x);
        d.write(20_000_000, 32, 32).unwrap();
        assert_eq!(
            d.read(30_000_000, 0, 64).unwrap().total(),
            2 * (s.read_ns + x)
        );
    }

    #[test]
    fn trim_drops_pages_so_gc_does_not_copy_them() {
        let mut d = Ssd::new(spec(4, 1024, 8, GcPolicy::Greedy, false)).unwrap();
        for lpn in 0..4 {
            put(&mut d, 0, lpn);
        }
        put(&mut d, 0, 4); // block 0 closes.
        // Pages 1 and 2 whole, and half of page 3, which keeps its data.
        assert_eq!(d.trim(8, 20).unwrap(), 2);
        assert_eq!(d.lookup(1), None);
        assert_eq!(d.lookup(3), Some(3));
        assert_eq!(d.read(0, 8, 8).unwrap().total(), 0);
        d.collect(1_000_000_000).unwrap().unwrap();
        assert_eq!(d.stats().gc_copies, 2, "only pages 0 and 3 are live");
        assert_eq!(d.stats().trimmed_pages, 2);
    }

    #[test]
    fn the_next_open_block_is_the_least_worn() {
        let mut d = Ssd::new(spec(4, 1024, 8, GcPolicy::Greedy, false)).unwrap();
        for lpn in 0..4 {
            put(&mut d, 0, lpn);
        }
        for lpn in 0..4 {
            put(&mut d, 0, lpn); // block 1; block 0 is all garbage.
        }
        d.collect(0).unwrap().unwrap();
        assert_eq!(d.page_state(0), Some(PageState::Free));
        // Block 0 is free again but erased once: the log moves on to block 2, then 3.
        put(&mut d, 0, 4);
        assert_eq!(d.lookup(4), Some(8));
        for lpn in 5..9 {
            put(&mut d, 0, lpn);
        }
        assert_eq!(d.lookup(8), Some(12));
    }

    #[test]
    fn typical_drives_have_ostep_latencies_and_seven_percent_spare() {
        for cell in [Cell::Slc, Cell::Mlc, Cell::Tlc] {
            let mut d = Ssd::new(SsdSpec::typical(cell, 1000)).unwrap();
            let s = d.spec().clone();
            assert_eq!((s.blocks, s.spare_blocks), (1070, 70));
            assert_eq!(d.sectors(), 1000 * 64 * 8);
            let (read, program, _) = cell.latencies();
            assert_eq!(put(&mut d, 0, 0).total(), program + d.transfer_ns());
            assert_eq!(
                d.read(1 << 40, 0, 8).unwrap().total(),
                read + d.transfer_ns()
            );
        }
        // A small drive keeps the spare its GC needs.
        let s = SsdSpec::typical(Cell::Tlc, 10);
        assert_eq!(s.spare_blocks, 16 + 8 + 1);
        assert!(Ssd::new(s).is_ok());
    }

    #[test]
    fn bad_drives_and_requests_are_refused() {
        let good = spec(4, 16, 4, GcPolicy::Greedy, false);
        let bad = |f: &dyn Fn(&mut SsdSpec)| {
            let mut s = good.clone();
            f(&mut s);
            Ssd::new(s).err()
        };
        assert_eq!(
            bad(&|s| s.page_bytes = 1000),
            Some(SsdError::PageSize(1000))
        );
        assert_eq!(bad(&|s| s.dies = 0), Some(SsdError::Empty));
        assert_eq!(bad(&|s| s.bus_bytes_per_s = 0), Some(SsdError::Bus));
        assert_eq!(bad(&|s| s.gc_low = 1), Some(SsdError::Thresholds(1, 2)));
        assert_eq!(bad(&|s| s.gc_high = 1), Some(SsdError::Thresholds(2, 1)));
        // gc_high 2 + one open block, and GC's own when it has one.
        assert_eq!(
            bad(&|s| s.spare_blocks = 2),
            Some(SsdError::Spare { spare: 2, need: 3 })
        );
        assert_eq!(
            bad(&|s| s.separate_gc_writes = true),
            None,
            "4 spare blocks are enough for 4 open"
        );
        assert_eq!(
            bad(&|s| s.spare_blocks = 16),
            Some(SsdError::Spare { spare: 16, need: 3 })
        );
        assert_eq!(
            bad(&|s| s.blocks = 1 << 30),
            Some(SsdError::TooLarge(1 << 32))
        );
        let mut d = Ssd::new(good).unwrap();
        // 12 logical blocks of 4 pages of 8 sectors.
        assert_eq!(d.sectors(), 384);
        let out = |lba, sectors| SsdError::OutOfRange {
            lba,
            sectors,
            capacity: 384,
        };
        assert_eq!(d.write(0, 383, 2), Err(out(383, 2)));
        assert_eq!(d.read(0, 0, 0), Err(out(0, 0)));
        assert_eq!(d.trim(u64::MAX, 2), Err(out(u64::MAX, 2)));
        assert!(d.write(0, 383, 1).is_ok());
    }

    /// Greedy GC against the closed form for uniform random writes, at spare factors 0.1 and
    /// 0.3, within 3%. The closed form is the limit of many pages per block; with few, greedy
    /// does a little better (the emptiest block stands out more from the rest: 5.37 against
    /// 5.68 at ρ = 0.1 with 64 pages a block), so the drive has 128. Agarwal and Marrow's
    /// simpler (1 + ρ)/(2ρ) underestimates: Xiang and Kurkoski report 2.17 from it at ρ = 0.3
    /// where simulation gives 2.35, the value this drive measures too.
    #[test]
    fn greedy_write_amplification_matches_the_closed_form() {
        for (rho, blocks, spare) in [(0.1, 550u32, 50u32), (0.3, 520, 120)] {
            let mut d = Ssd::new(spec(128, blocks, spare, GcPolicy::Greedy, true)).unwrap();
            let r = f64::from(spare) / f64::from(blocks - spare);
            assert!((r - rho).abs() < 1e-9);
            let n = d.logical_pages();
            let wa = churn(&mut d, 1, None, 4 * n, 4 * n);
            let want = greedy_wa(rho);
            let agarwal = (1.0 + rho) / (2.0 * rho);
            println!("ρ {rho}: WA {wa:.3}, closed form {want:.3}, Agarwal {agarwal:.3}");
            assert!(
                (wa - want).abs() / want < 0.03,
                "ρ {rho}: WA {wa:.3} against {want:.3}"
            );
            assert!(
                wa > agarwal,
                "ρ {rho}: WA {wa:.3} under Agarwal's {agarwal:.3}"
            );
            if rho == 0.3 {
                assert!(
                    (wa - 2.35).abs() < 0.03,
                    "Xiang and Kurkoski's simulation: 2.35"
                );
            }
        }
    }

    /// Hot and cold data (90% of writes to 10% of the space), spare factor 0.1. Rosenblum and
    /// Ousterhout found that locality makes greedy worse than uniform writes, since cold blocks
    /// sit just above the cleaning point and tie up free space, and that cost-benefit, which
    /// cleans cold blocks at a higher utilization, does much better when cleaning separates
    /// the data it moves from new writes. Without the separation the gain disappears: every
    /// block mixes hot and cold pages again.
    #[test]
    fn cost_benefit_beats_greedy_on_hot_and_cold_data() {
        let wa = |gc, separate, hot| {
            let mut d = Ssd::new(spec(64, 550, 50, gc, separate)).unwrap();
            let n = d.logical_pages();
            churn(&mut d, 2, hot, 4 * n, 4 * n)
        };
        let skew = Some((0.1, 0.9));
        let uniform = wa(GcPolicy::Greedy, true, None);
        let greedy = wa(GcPolicy::Greedy, true, skew);
        let cb = wa(GcPolicy::CostBenefit, true, skew);
        let greedy_mixed = wa(GcPolicy::Greedy, false, skew);
        let cb_mixed = wa(GcPolicy::CostBenefit, false, skew);
        println!(
            "uniform {uniform:.3}; hot/cold greedy {greedy:.3}, cost-benefit {cb:.3}; \
             unseparated {greedy_mixed:.3}, {cb_mixed:.3}"
        );
        assert!(greedy > uniform, "locality hurts greedy");
        assert!(
            cb < 0.75 * greedy,
            "cost-benefit {cb:.3} against greedy {greedy:.3}"
        );
        assert!((cb_mixed - greedy_mixed).abs() / greedy_mixed < 0.05);
    }

    /// The cliff: on one die, with writes far enough apart not to queue, a fresh drive writes
    /// a page in one program (and its transfer). Once full and overwritten, each host page
    /// also carries (WA − 1) copies (read, transfer out and in, program) and WA/ppb erases,
    /// which over a window is an identity of the drive's counters; with greedy's closed-form
    /// WA for the drive's spare factor it predicts the ratio of the latencies.
    #[test]
    fn writes_fall_off_a_cliff_when_the_drive_is_full() {
        let mut d = Ssd::new(spec(128, 550, 50, GcPolicy::Greedy, true)).unwrap();
        let (s, x) = (d.spec().clone(), d.transfer_ns());
        let fresh = s.program_ns + x;
        let n = d.logical_pages();
        let mut rng = RngStream::derive(3, "ssd cliff");
        let mut now = 0;
        let mut total = 0;
        for lpn in 0..n {
            let a = put(&mut d, now, lpn);
            assert_eq!(a.total(), fresh);
            now += 1_000_000_000;
        }
        for _ in 0..4 * n {
            put(&mut d, now, rng.below(n));
            now += 1_000_000_000;
        }
        let before = d.stats();
        let m = 4 * n;
        for _ in 0..m {
            let a = put(&mut d, now, rng.below(n));
            assert_eq!(a.queue, 0);
            total += a.total();
            now += 1_000_000_000;
        }
        let after = d.stats();
        let copies = after.gc_copies - before.gc_copies;
        let erases = after.erases - before.erases;
        let copy = s.read_ns + 2 * x + s.program_ns;
        assert_eq!(total, m * fresh + copies * copy + erases * s.erase_ns);
        assert_eq!(
            after.gc_ns - before.gc_ns,
            copies * copy + erases * s.erase_ns
        );

        let wa = greedy_wa(0.1);
        let ppb = f64::from(s.pages_per_block);
        let predicted = 1.0
            + (wa - 1.0) * copy as f64 / fresh as f64
            + wa / ppb * s.erase_ns as f64 / fresh as f64;
        let ratio = total as f64 / m as f64 / fresh as f64;
        println!("cliff: {ratio:.2}× the fresh write, predicted {predicted:.2}×");
        assert!(predicted > 5.0);
        assert!(
            (ratio - predicted).abs() / predicted < 0.04,
            "{ratio:.2} against {predicted:.2}"
        );
    }

    #[test]
    fn wear_and_stats_are_deterministic() {
        let run = || {
            let mut s = spec(32, 256, 40, GcPolicy::CostBenefit, true);
            s.dies = 4;
            let mut d = Ssd::new(s).unwrap();
            let n = d.logical_pages();
            let wa = churn(&mut d, 7, Some((0.2, 0.8)), 2 * n, 2 * n);
            let mut rng = RngStream::derive(7, "ssd reads");
            let mut times = Vec::new();
            for i in 0..1000u64 {
                let lba = rng.below(d.sectors() - 64);
                times.push(d.read(i * 10_000, lba, 1 + rng.below(64)).unwrap());
            }
            (d.stats(), wa.to_bits(), times)
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        let s = a.0;
        println!("{s:?}");
        assert!(s.erases > 0 && s.gc_copies > 0);
        assert!(s.erase_min <= s.erase_max && s.erase_mean() > 0.0);
        assert_eq!(s.flash_programs, s.host_pages_written + s.gc_copies);
    }
}

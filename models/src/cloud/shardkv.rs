//! A sharded key-value store's routing and load (sans-IO): where a key lives, and when a
//! partition throttles while the table as a whole has capacity to spare.
//!
//! Two ways to partition:
//!
//! - [`Ring`]: consistent hashing (Karger et al., STOC 1997) with virtual nodes, as in Dynamo
//!   and Cassandra. Each node owns the arcs ending at its points on a 64-bit hash ring. Adding a
//!   node moves only the keys the new node takes, about 1/n of them for n nodes after the
//!   addition, all to the new node; with v points per node each node's share has a relative
//!   spread of about 1/sqrt(v), so virtual nodes balance what one point per node cannot (the
//!   largest of n arcs is about ln(n)/n of the ring).
//! - [`Table`]: DynamoDB-like range partitions over a 64-bit key space (the caller passes a
//!   key's position: its hash for DynamoDB's hashed partition keys, the key itself for ordered
//!   ones). Each partition has its own throughput limit, a token bucket for reads and one for
//!   writes (DynamoDB: 3000 read units and 1000 write units per second per partition), so one
//!   hot key or hot range throttles at its partition's limit whatever the table's total. With
//!   splitting on (DynamoDB's split for heat), a partition that has throttled continuously for
//!   `split_after` splits at the median of the keys it recently served, which halves a hot
//!   range's load per partition; a single hot key cannot be split and keeps throttling.
//!
//! The token buckets count in billionths of a unit, so refills are exact integers: under
//! overload a bucket of capacity C units refilled at r units/s admits exactly
//! floor(C + r·t) units by time t.
//!
//! [`Table::heatmap`] gives requests per partition per time bucket for a chart.

use std::collections::{BTreeMap, VecDeque};

use simcore::{SimDuration, SimTime};
use xxhash_rust::xxh3::xxh3_64;

/// A node of a [`Ring`].
pub type NodeId = u32;

/// The position of a key on the ring: its hash.
pub fn key_hash(key: u64) -> u64 {
    xxh3_64(&key.to_le_bytes())
}

fn point_hash(node: NodeId, vnode: u32) -> u64 {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&node.to_le_bytes());
    b[4..].copy_from_slice(&vnode.to_le_bytes());
    xxh3_64(&b)
}

/// A consistent-hash ring with `vnodes` points per node.
#[derive(Debug, Clone)]
pub struct Ring {
    vnodes: u32,
    /// (position, node), sorted.
    points: Vec<(u64, NodeId)>,
}

impl Ring {
    /// A ring with no nodes. `vnodes` is at least 1.
    pub fn new(vnodes: u32) -> Self {
        Ring {
            vnodes: vnodes.max(1),
            points: Vec::new(),
        }
    }

    /// Adds `node`'s points (no change if it is on the ring already).
    pub fn add(&mut self, node: NodeId) {
        if self.points.iter().any(|&(_, n)| n == node) {
            return;
        }
        self.points
            .extend((0..self.vnodes).map(|v| (point_hash(node, v), node)));
        self.points.sort_unstable();
    }

    pub fn remove(&mut self, node: NodeId) {
        self.points.retain(|&(_, n)| n != node);
    }

    /// The nodes on the ring, ascending.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut n: Vec<NodeId> = self.points.iter().map(|&(_, n)| n).collect();
        n.sort_unstable();
        n.dedup();
        n
    }

    /// The index of the first point at or after `hash`, wrapping.
    fn successor(&self, hash: u64) -> usize {
        let i = self.points.partition_point(|&(p, _)| p < hash);
        if i == self.points.len() { 0 } else { i }
    }

    /// The node owning `key` (hashed with [`key_hash`]); None on an empty ring.
    pub fn owner(&self, key: u64) -> Option<NodeId> {
        if self.points.is_empty() {
            return None;
        }
        Some(self.points[self.successor(key_hash(key))].1)
    }

    /// The first `n` distinct nodes clockwise from `key`: its owner and the replicas of a
    /// Dynamo-style preference list (fewer when the ring has fewer nodes).
    pub fn replicas(&self, key: u64, n: usize) -> Vec<NodeId> {
        let mut out = Vec::with_capacity(n);
        if self.points.is_empty() {
            return out;
        }
        let start = self.successor(key_hash(key));
        for k in 0..self.points.len() {
            let node = self.points[(start + k) % self.points.len()].1;
            if !out.contains(&node) {
                out.push(node);
                if out.len() == n {
                    break;
                }
            }
        }
        out
    }
}

/// A read or a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
}

/// A partition's identity: creation order, from 0 (a split retires one and creates two).
pub type PartitionId = usize;

const NANO: u128 = 1_000_000_000;

/// A token bucket in billionths of a unit.
#[derive(Debug, Clone)]
struct TokenBucket {
    /// Units per second.
    rate: u64,
    capacity: u128,
    tokens: u128,
    last: SimTime,
}

impl TokenBucket {
    /// A full bucket holding `burst` worth of `rate`.
    fn new(rate: u64, burst: SimDuration, now: SimTime) -> Self {
        let capacity = rate as u128 * burst.as_nanos() as u128;
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    fn try_take(&mut self, now: SimTime, units: u32) -> bool {
        let elapsed = now.saturating_since(self.last).as_nanos() as u128;
        self.tokens = (self.tokens + self.rate as u128 * elapsed).min(self.capacity);
        self.last = self.last.max(now);
        let cost = units as u128 * NANO;
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// A [`Table`]'s configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TableConfig {
    /// Read units per second per partition (DynamoDB: 3000).
    pub read_rate: u64,
    /// Write units per second per partition (DynamoDB: 1000).
    pub write_rate: u64,
    /// How much unused throughput a partition's bucket holds (at least 1 s, so a bucket holds a
    /// whole second's rate).
    pub burst: SimDuration,
    /// Partitions at the start, dividing the key space evenly.
    pub partitions: u32,
    /// Split a partition that has throttled continuously this long; None: never split.
    pub split_after: Option<SimDuration>,
    /// A gap without throttling this long ends a partition's throttling streak.
    pub streak_gap: SimDuration,
    /// Recent keys kept per partition to find the median to split at.
    pub sample: usize,
    /// The heatmap's time bucket.
    pub bucket: SimDuration,
}

impl TableConfig {
    /// DynamoDB's per-partition limits, a second of burst, splitting after 5 minutes of
    /// throttling, one-second heatmap buckets.
    pub fn dynamodb_like(partitions: u32) -> Self {
        TableConfig {
            read_rate: 3000,
            write_rate: 1000,
            burst: SimDuration::from_secs(1),
            partitions,
            split_after: Some(SimDuration::from_secs(300)),
            streak_gap: SimDuration::from_secs(1),
            sample: 1024,
            bucket: SimDuration::from_secs(1),
        }
    }
}

/// A configuration the table cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("table: read_rate and write_rate must be at least 1 unit per second")]
    ZeroRate,
    #[error("table: burst must be at least 1 s (a bucket must hold a whole unit), got {0}")]
    ShortBurst(SimDuration),
    #[error("table: at least one partition")]
    ZeroPartitions,
    #[error("table: the heatmap bucket must be longer than zero")]
    ZeroBucket,
    #[error("table: the split sample must hold at least 2 keys")]
    SmallSample,
}

#[derive(Debug, Clone)]
struct Partition {
    /// Inclusive key range.
    lo: u64,
    hi: u64,
    reads: TokenBucket,
    writes: TokenBucket,
    /// When the current throttling streak began, and the last throttle in it.
    streak: Option<(SimTime, SimTime)>,
    recent: VecDeque<u64>,
    retired_at: Option<SimTime>,
    /// Requests (admitted or not) and throttles per heatmap bucket.
    requests: Vec<u64>,
    throttled: Vec<u64>,
}

/// A split that happened: `parent` retired, `left` and `right` took its range at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub parent: PartitionId,
    pub left: PartitionId,
    pub right: PartitionId,
    /// The first key of `right`.
    pub at: u64,
}

/// One request's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub partition: PartitionId,
    /// False: throttled (DynamoDB's ProvisionedThroughputExceededException).
    pub admitted: bool,
    /// The split this request's throttling triggered, if any.
    pub split: Option<Split>,
}

/// A partition as listed by [`Table::partitions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    pub id: PartitionId,
    pub lo: u64,
    pub hi: u64,
    pub retired_at: Option<SimTime>,
}

/// A range-partitioned table.
#[derive(Debug, Clone)]
pub struct Table {
    config: TableConfig,
    /// Every partition ever, by id.
    partitions: Vec<Partition>,
    /// The live partitions by their first key.
    by_lo: BTreeMap<u64, PartitionId>,
}

impl Table {
    pub fn new(config: TableConfig, now: SimTime) -> Result<Self, TableError> {
        if config.read_rate == 0 || config.write_rate == 0 {
            return Err(TableError::ZeroRate);
        }
        if config.burst < SimDuration::from_secs(1) {
            return Err(TableError::ShortBurst(config.burst));
        }
        if config.partitions == 0 {
            return Err(TableError::ZeroPartitions);
        }
        if config.bucket == SimDuration::ZERO {
            return Err(TableError::ZeroBucket);
        }
        if config.sample < 2 {
            return Err(TableError::SmallSample);
        }
        let n = config.partitions as u128;
        let span = 1u128 << 64;
        let mut t = Table {
            config,
            partitions: Vec::new(),
            by_lo: BTreeMap::new(),
        };
        for i in 0..n {
            let lo = (i * span / n) as u64;
            let hi = ((i + 1) * span / n - 1) as u64;
            t.create(lo, hi, now);
        }
        Ok(t)
    }

    fn create(&mut self, lo: u64, hi: u64, now: SimTime) -> PartitionId {
        let c = &self.config;
        let id = self.partitions.len();
        self.partitions.push(Partition {
            lo,
            hi,
            reads: TokenBucket::new(c.read_rate, c.burst, now),
            writes: TokenBucket::new(c.write_rate, c.burst, now),
            streak: None,
            recent: VecDeque::new(),
            retired_at: None,
            requests: Vec::new(),
            throttled: Vec::new(),
        });
        self.by_lo.insert(lo, id);
        id
    }

    /// The live partition holding `key`.
    pub fn partition_of(&self, key: u64) -> PartitionId {
        // The lowest partition starts at 0, so a key always has one.
        self.by_lo
            .range(..=key)
            .next_back()
            .map_or(0, |(_, &id)| id)
    }

    /// A request for `units` read or write units on `key` at `now` (times must not go back).
    pub fn request(&mut self, now: SimTime, key: u64, op: Op, units: u32) -> Access {
        let id = self.partition_of(key);
        let column = (now.as_nanos() / self.config.bucket.as_nanos()) as usize;
        let sample = self.config.sample;
        let p = &mut self.partitions[id];
        debug_assert!(p.lo <= key && key <= p.hi && p.retired_at.is_none());
        let admitted = match op {
            Op::Read => p.reads.try_take(now, units),
            Op::Write => p.writes.try_take(now, units),
        };
        if p.recent.len() == sample {
            p.recent.pop_front();
        }
        p.recent.push_back(key);
        bump(&mut p.requests, column);
        let mut split = None;
        if !admitted {
            bump(&mut p.throttled, column);
            let gap = self.config.streak_gap;
            let since = match p.streak {
                Some((since, last)) if now.saturating_since(last) <= gap => since,
                _ => now,
            };
            p.streak = Some((since, now));
            if self
                .config
                .split_after
                .is_some_and(|after| now.saturating_since(since) >= after)
            {
                split = self.split(id, now);
                if split.is_none() {
                    // Unsplittable (one hot key): try again only after another full streak, so
                    // a hot key does not sort the sample on every throttled request.
                    self.partitions[id].streak = Some((now, now));
                }
            }
        }
        Access {
            partition: id,
            admitted,
            split,
        }
    }

    /// Splits partition `id` at the median of its recent keys, choosing the side the median key
    /// itself goes to so that the halves' sampled loads are closest. None when the sample holds
    /// a single distinct key: no split divides its load.
    fn split(&mut self, id: PartitionId, now: SimTime) -> Option<Split> {
        let p = &self.partitions[id];
        let mut keys: Vec<u64> = p.recent.iter().copied().collect();
        keys.sort_unstable();
        let (first, last) = (keys[0], keys[keys.len() - 1]);
        if first == last {
            return None;
        }
        let m = keys[(keys.len() - 1) / 2];
        let below = keys.partition_point(|&k| k < m);
        let through = keys.partition_point(|&k| k <= m);
        let n = keys.len();
        // Right starts at m (the median goes right) or at m + 1 (it goes left); either must
        // leave some sampled keys on each side.
        let unbalance = |left: usize| left.abs_diff(n - left);
        let at = if below > 0 && (through == n || unbalance(below) <= unbalance(through)) {
            m
        } else {
            m + 1
        };
        let (lo, hi) = (p.lo, p.hi);
        debug_assert!(lo < at && at <= hi);
        self.partitions[id].retired_at = Some(now);
        self.by_lo.remove(&lo);
        let left = self.create(lo, at - 1, now);
        let right = self.create(at, hi, now);
        Some(Split {
            parent: id,
            left,
            right,
            at,
        })
    }

    /// Every partition ever, live or retired, by id.
    pub fn partitions(&self) -> Vec<PartitionInfo> {
        self.partitions
            .iter()
            .enumerate()
            .map(|(id, p)| PartitionInfo {
                id,
                lo: p.lo,
                hi: p.hi,
                retired_at: p.retired_at,
            })
            .collect()
    }

    /// The live partitions in key order.
    pub fn live(&self) -> Vec<PartitionId> {
        self.by_lo.values().copied().collect()
    }

    /// Requests per partition (rows, by id) per time bucket (columns, all rows the same length).
    pub fn heatmap(&self) -> Vec<Vec<u64>> {
        self.grid(|p| &p.requests)
    }

    /// Throttled requests, in the heatmap's shape.
    pub fn throttle_map(&self) -> Vec<Vec<u64>> {
        self.grid(|p| &p.throttled)
    }

    fn grid(&self, row: fn(&Partition) -> &Vec<u64>) -> Vec<Vec<u64>> {
        let width = self
            .partitions
            .iter()
            .map(|p| p.requests.len())
            .max()
            .unwrap_or(0);
        self.partitions
            .iter()
            .map(|p| {
                let mut r = row(p).clone();
                r.resize(width, 0);
                r
            })
            .collect()
    }
}

fn bump(row: &mut Vec<u64>, column: usize) {
    if row.len() <= column {
        row.resize(column + 1, 0);
    }
    row[column] += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use simcore::RngStream;

    fn owners(ring: &Ring, keys: u64) -> Vec<NodeId> {
        (0..keys).map(|k| ring.owner(k).unwrap()).collect()
    }

    /// Ten nodes with 200 points each, 100 000 keys: adding an eleventh moves 1/11 of the keys
    /// (within 0.01), every moved key to the new node; removing it moves them back exactly.
    #[test]
    fn adding_a_node_moves_about_one_nth_of_the_keys() {
        let mut ring = Ring::new(200);
        for n in 0..10 {
            ring.add(n);
        }
        let before = owners(&ring, 100_000);
        ring.add(10);
        let after = owners(&ring, 100_000);
        let moved: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        let fraction = moved.len() as f64 / before.len() as f64;
        assert!((fraction - 1.0 / 11.0).abs() < 0.01, "moved {fraction:.4}");
        assert!(moved.iter().all(|&i| after[i] == 10));
        ring.remove(10);
        assert_eq!(owners(&ring, 100_000), before);
        assert_eq!(ring.nodes(), (0..10).collect::<Vec<_>>());
    }

    /// With one point per node the most loaded of ten nodes carries well over its share (the
    /// longest arc, about ln(n)/n); with 200 points each, within 20% of the mean.
    #[test]
    fn virtual_nodes_balance_the_load() {
        let peak = |vnodes| {
            let mut ring = Ring::new(vnodes);
            for n in 0..10 {
                ring.add(n);
            }
            let mut load = [0u64; 10];
            for o in owners(&ring, 100_000) {
                load[o as usize] += 1;
            }
            *load.iter().max().unwrap() as f64 / 10_000.0
        };
        let (one, many) = (peak(1), peak(200));
        assert!(one > 1.5, "one point per node: max/mean {one:.3}");
        assert!(many < 1.2, "200 points per node: max/mean {many:.3}");
    }

    #[test]
    fn replicas_are_distinct_nodes_starting_at_the_owner() {
        let mut ring = Ring::new(50);
        assert_eq!(ring.owner(1), None);
        for n in 0..5 {
            ring.add(n);
        }
        for key in 0..100 {
            let r = ring.replicas(key, 3);
            assert_eq!(r.len(), 3);
            assert_eq!(r[0], ring.owner(key).unwrap());
            assert!(r[0] != r[1] && r[1] != r[2] && r[0] != r[2]);
        }
        assert_eq!(ring.replicas(7, 9).len(), 5);
    }

    fn config() -> TableConfig {
        TableConfig {
            split_after: None,
            partitions: 4,
            ..TableConfig::dynamodb_like(4)
        }
    }

    /// One key written 2000 times a second for 10 s on a partition allowing 1000 with a second
    /// of burst: the token bucket's closed form admits floor(1000 + 1000 · 9.9995) = 10 999, and
    /// the rest are throttled, while the table's four partitions use 27% of their capacity.
    /// Splitting is on but a single key cannot be split.
    #[test]
    fn a_hot_key_throttles_at_its_partition_limit() {
        let mut t = Table::new(
            TableConfig {
                split_after: Some(SimDuration::from_secs(2)),
                ..config()
            },
            SimTime::ZERO,
        )
        .unwrap();
        let key = 42;
        let mut admitted = 0u64;
        for i in 0..20_000u64 {
            let a = t.request(SimTime::from_nanos(i * 500_000), key, Op::Write, 1);
            assert_eq!((a.partition, a.split), (0, None));
            admitted += a.admitted as u64;
        }
        assert_eq!(admitted, 10_999);
        let throttled: u64 = t.throttle_map()[0].iter().sum();
        assert_eq!(throttled, 20_000 - 10_999);
        assert_eq!(t.live(), [0, 1, 2, 3]);
        let heat = t.heatmap();
        assert_eq!(heat.len(), 4);
        assert_eq!(heat[0].len(), 10);
        assert!(heat[0].iter().all(|&c| c == 2000));
        assert!(heat[1..].iter().all(|r| r.iter().all(|&c| c == 0)));
        // Reads have their own, larger bucket: 3000 in the first second of a fresh key's burst.
        let mut reads = 0;
        for i in 0..3000u64 {
            let now = SimTime::from_nanos(20_000_000_000 + i);
            reads += t.request(now, 1 << 62, Op::Read, 1).admitted as u64;
        }
        assert_eq!(reads, 3000);
    }

    /// A hot range: writes at 1700/s spread uniformly over partition 0's keys, against its 1000/s.
    /// It throttles about 700/s until, after 5 s of it, the partition splits at the median key;
    /// then each half takes about half the load and nothing throttles.
    #[test]
    fn a_split_halves_a_hot_ranges_load() {
        let mut t = Table::new(
            TableConfig {
                split_after: Some(SimDuration::from_secs(5)),
                ..config()
            },
            SimTime::ZERO,
        )
        .unwrap();
        let mut rng = RngStream::derive(5, "hot-range");
        let hi0 = t.partitions()[0].hi;
        let mut splits = Vec::new();
        let gap = 1_000_000_000 / 1700;
        for i in 0..(1700 * 20u64) {
            let key = rng.below(hi0 + 1);
            let a = t.request(SimTime::from_nanos(i * gap), key, Op::Write, 1);
            splits.extend(a.split);
        }
        assert_eq!(splits.len(), 1, "{splits:?}");
        let s = splits[0];
        assert_eq!((s.parent, s.left, s.right), (0, 4, 5));
        let heat = t.heatmap();
        let throttled = t.throttle_map();
        // Before: the burst lasts 1000 / 700 = 1.43 s, then partition 0 throttles ~700 of 1700
        // a second.
        for (c, &n) in throttled[0].iter().enumerate().take(5).skip(2) {
            assert!(n.abs_diff(700) < 30, "second {c}: {n}");
        }
        // After the split (5 s after the first throttled request, at 6.43 s) each half takes the
        // load of its share of the range (a sample median: 0.476 of it here), within 4 binomial
        // standard deviations (~20 requests), and nothing throttles.
        let left_share = s.at as f64 / hi0 as f64;
        assert!((left_share - 0.5).abs() < 0.05, "split at {left_share:.3}");
        for c in 7..19 {
            for (p, share) in [(4, left_share), (5, 1.0 - left_share)] {
                let expected = 1700.0 * share;
                assert!(
                    (heat[p][c] as f64 - expected).abs() < 80.0,
                    "partition {p} second {c}: {} against {expected:.0}",
                    heat[p][c]
                );
                assert_eq!(throttled[p][c], 0);
            }
        }
        assert_eq!(t.live(), [4, 5, 1, 2, 3]);
        assert_eq!(t.partition_of(s.at), 5);
        assert_eq!(t.partition_of(s.at - 1), 4);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let now = SimTime::ZERO;
        let cases = [
            (
                TableConfig {
                    write_rate: 0,
                    ..config()
                },
                TableError::ZeroRate,
            ),
            (
                TableConfig {
                    burst: SimDuration::from_millis(10),
                    ..config()
                },
                TableError::ShortBurst(SimDuration::from_millis(10)),
            ),
            (
                TableConfig {
                    partitions: 0,
                    ..config()
                },
                TableError::ZeroPartitions,
            ),
            (
                TableConfig {
                    bucket: SimDuration::ZERO,
                    ..config()
                },
                TableError::ZeroBucket,
            ),
            (
                TableConfig {
                    sample: 1,
                    ..config()
                },
                TableError::SmallSample,
            ),
        ];
        for (c, e) in cases {
            assert_eq!(Table::new(c, now).unwrap_err(), e);
        }
        let t = Table::new(TableConfig::dynamodb_like(3), now).unwrap();
        let p = t.partitions();
        assert_eq!((p[0].lo, p[2].hi), (0, u64::MAX));
        assert_eq!(p[1].lo, p[0].hi + 1);
    }
}

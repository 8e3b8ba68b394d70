//! A log-linear (HDR-style) histogram of `u64` values with a relative error below 0.1%.
//!
//! The layout is HdrHistogram's with three significant digits: values below 2048 each have their
//! own bucket (exact); above that, every power-of-two range `[2^e, 2^(e+1))` is cut into 1024
//! equal sub-buckets, so a bucket is never wider than 1/1024 of the values in it. The whole `u64`
//! range needs 56,320 buckets; the counts grow only as far as the largest value recorded.
//!
//! Written here rather than taken from the `hdrhistogram` crate because recording sits on the hot
//! path of every model (three records per customer in a queueing network): this `record` is a
//! handful of instructions with no error path, against about 70 for `hdrhistogram`'s
//! auto-resizing record (see BENCHMARKS.md). The tests check it against `hdrhistogram` itself.
//!
//! ```text
//! shift = max(0, floor(log2(v)) - 10)        // 0 for v < 2048
//! index = shift * 1024 + (v >> shift)
//! ```

/// log2 of the sub-buckets per power-of-two range.
const SUB_BITS: u32 = 10;
/// Sub-buckets per power-of-two range above the exact region.
const SUB: usize = 1 << SUB_BITS;
/// Buckets needed for the whole `u64` range: the index of `u64::MAX`, plus one.
pub const MAX_BUCKETS: usize = ((63 - SUB_BITS as usize) << SUB_BITS) + 2 * SUB;

/// Counts of values, in log-linear buckets, with the exact count, sum, minimum and maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHistogram {
    counts: Vec<u64>,
    count: u64,
    /// Exact, so the mean is not subject to bucket rounding.
    sum: u128,
    /// `u64::MAX` while empty.
    min: u64,
    max: u64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            counts: Vec::new(),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

/// The bucket of `v`.
#[inline]
fn index_of(v: u64) -> usize {
    // `| SUB` pins the exponent at 10 or more, so values below 2048 get shift 0 (their own bucket).
    let shift = (63 - (v | SUB as u64).leading_zeros()) - SUB_BITS;
    ((shift as usize) << SUB_BITS) + (v >> shift) as usize
}

/// The smallest value that falls in bucket `i`.
#[inline]
fn lowest_in(i: usize) -> u64 {
    let shift = if i < 2 * SUB { 0 } else { (i >> SUB_BITS) - 1 };
    ((i - (shift << SUB_BITS)) as u64) << shift
}

/// The largest value that falls in bucket `i`.
#[inline]
fn highest_in(i: usize) -> u64 {
    let shift = if i < 2 * SUB { 0 } else { (i >> SUB_BITS) - 1 };
    lowest_in(i) + ((1u64 << shift) - 1)
}

impl LogHistogram {
    pub fn new() -> Self {
        LogHistogram::default()
    }

    /// Counts one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        let i = index_of(v);
        debug_assert!(i < MAX_BUCKETS, "bucket {i} beyond the u64 range");
        if i >= self.counts.len() {
            self.grow(i);
        }
        self.counts[i] += 1;
        // `min` starts at u64::MAX (see `new`), so no first-value branch is needed.
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.count += 1;
        self.sum += v as u128;
    }

    /// Makes room for bucket `i`, rounded up to the end of its power-of-two range so that growth
    /// happens at most once per range.
    #[cold]
    fn grow(&mut self, i: usize) {
        let end = ((i >> SUB_BITS) + 1) << SUB_BITS;
        self.counts.resize(end.min(MAX_BUCKETS), 0);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The exact mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The exact sum of all values recorded.
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// The smallest value recorded (0 when empty).
    pub fn min(&self) -> u64 {
        if self.count == 0 { 0 } else { self.min }
    }

    /// The largest value recorded (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the smallest bucket at which at least `ceil(q · n)`
    /// values (and at least one) have been counted, reported as that bucket's highest value but
    /// never above the true maximum. HdrHistogram's definition; 0 when empty.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let wanted = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                return highest_in(i).min(self.max);
            }
        }
        self.max
    }

    /// Non-empty buckets as `(lowest value, highest value, count)`, in increasing order: the
    /// data for a histogram or CDF chart.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(i, &c)| (lowest_in(i), highest_in(i), c))
    }

    /// Non-empty buckets as `(value, count)`, in increasing order, each bucket's values standing
    /// at its middle (within 0.1% of each, see the module's doc) held to the true minimum and
    /// maximum: every value recorded, counted, in as many points as there are distinct buckets.
    /// What charts are drawn from, so that their counts are the true counts.
    pub fn counted(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (min, max) = (self.min(), self.max());
        self.buckets()
            .map(move |(lo, hi, c)| ((lo + (hi - lo) / 2).clamp(min, max), c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_u64_range_without_gaps() {
        assert_eq!(index_of(0), 0);
        assert_eq!(index_of(2047), 2047);
        assert_eq!(index_of(2048), 2048);
        assert_eq!(index_of(2049), 2048);
        assert_eq!(index_of(u64::MAX), MAX_BUCKETS - 1);
        for i in [0, 1, 2047, 2048, 2049, 3071, 3072, 10_000, MAX_BUCKETS - 1] {
            assert_eq!(index_of(lowest_in(i)), i, "lowest of {i}");
            assert_eq!(index_of(highest_in(i)), i, "highest of {i}");
            if i + 1 < MAX_BUCKETS {
                assert_eq!(highest_in(i) + 1, lowest_in(i + 1), "gap after {i}");
            }
        }
        assert_eq!(highest_in(MAX_BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn a_bucket_is_never_wider_than_a_thousandth_of_its_values() {
        for i in 2048..MAX_BUCKETS {
            let (lo, hi) = (lowest_in(i), highest_in(i));
            assert!((hi - lo) as f64 / lo as f64 <= 1.0 / 1024.0, "bucket {i}");
        }
    }

    #[test]
    fn small_values_are_exact_and_extremes_are_kept() {
        let mut h = LogHistogram::new();
        for v in [5, 1, 3, 3, 2047] {
            h.record(v);
        }
        assert_eq!((h.len(), h.min(), h.max(), h.sum()), (5, 1, 2047, 2059));
        assert_eq!(h.value_at_quantile(0.0), 1);
        assert_eq!(h.value_at_quantile(0.5), 3);
        assert_eq!(h.value_at_quantile(0.8), 5);
        assert_eq!(h.value_at_quantile(1.0), 2047);
        let mut big = LogHistogram::new();
        big.record(u64::MAX);
        big.record(0);
        assert_eq!(big.value_at_quantile(1.0), u64::MAX);
        assert_eq!(big.value_at_quantile(0.5), 0);
        assert_eq!(LogHistogram::new().value_at_quantile(0.99), 0);
    }

    /// The same values in `hdrhistogram` (3 significant digits) give the same quantiles, to
    /// within one bucket of either.
    #[test]
    fn agrees_with_hdrhistogram() {
        let mut ours = LogHistogram::new();
        let mut theirs = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        // A deterministic spread over ten decades: a xorshift sequence mapped to a log scale.
        let mut x: u64 = 88_172_645_463_325_252;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = 10f64.powf((x >> 11) as f64 / (1u64 << 53) as f64 * 10.0) as u64;
            ours.record(v);
            theirs.record(v).unwrap();
        }
        assert_eq!(ours.len(), theirs.len());
        // hdrhistogram reports the extremes rounded to their buckets; ours are exact.
        assert_eq!(lowest_in(index_of(ours.min())), theirs.min());
        assert_eq!(highest_in(index_of(ours.max())), theirs.max());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            let (a, b) = (
                ours.value_at_quantile(q) as f64,
                theirs.value_at_quantile(q) as f64,
            );
            assert!(
                (a - b).abs() <= b / 1000.0 + 1.0,
                "q {q}: ours {a}, hdrhistogram {b}"
            );
        }
    }

    #[test]
    fn quantiles_are_within_a_thousandth_of_the_exact_order_statistic() {
        let mut h = LogHistogram::new();
        let values: Vec<u64> = (1..=100_000u64).map(|v| v * 1_037).collect();
        for &v in values.iter().rev() {
            h.record(v);
        }
        for q in [0.01, 0.5, 0.9, 0.99, 0.999] {
            let exact = values[((q * values.len() as f64).ceil() as usize).max(1) - 1] as f64;
            let got = h.value_at_quantile(q) as f64;
            assert!(
                got >= exact && got <= exact * (1.0 + 1.0 / 1024.0),
                "q {q}: {got} vs {exact}"
            );
        }
        let total: u64 = h.buckets().map(|b| b.2).sum();
        assert_eq!(total, 100_000);
    }

    #[test]
    fn counted_holds_every_value_at_its_bucket_within_the_extremes() {
        let mut h = LogHistogram::new();
        for v in [7, 7, 3, 1_000_003, 1_000_400, 4_998_000] {
            h.record(v);
        }
        let got: Vec<(u64, u64)> = h.counted().collect();
        // 1,000,003 and 1,000,400 share the bucket 999,936..=1,000,447 and stand at its middle;
        // 4,998,000's bucket (4,997,120..=5,001,215) has its middle above the maximum.
        assert_eq!(
            got,
            [(3, 1), (7, 2), (1_000_191, 2), (4_998_000, 1)],
            "every value counted, the maximum held"
        );
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(LogHistogram::new().counted().next().is_none());
    }
}

//! Metrics named per component: counters, time-weighted gauges, time series, HDR-style
//! histograms ([`crate::histogram`]) and curves (y against x, such as a miss-ratio curve: miss
//! ratio against cache size, which a model computes once, at the end of a run) and heatmaps
//! (counts per row and time bucket, such as requests per partition per second, set likewise).
//!
//! A model registers each metric once (at start) under `component.name` and gets a small handle;
//! recording through a handle is an index into a vector, with no string work on the hot path.
//! Everything is kept in ordered collections, so a snapshot lists metrics in name order and
//! serialises to the same bytes on every run.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::histogram::LogHistogram;
use crate::history::StepHistory;
use crate::time::{SimDuration, SimTime};

/// Handle to a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterId(u32);
/// Handle to a gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GaugeId(u32);
/// Handle to a time series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesId(u32);
/// Handle to a histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistogramId(u32);
/// Handle to a curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurveId(u32);
/// Handle to a heatmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeatmapId(u32);

/// What a histogram's values measure; durations are recorded in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Ns,
    Count,
    Bytes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Counter(u32),
    Gauge(u32),
    Series(u32),
    Histogram(u32),
    Curve(u32),
    Heatmap(u32),
}

impl Slot {
    fn kind(self) -> &'static str {
        match self {
            Slot::Counter(_) => "counter",
            Slot::Gauge(_) => "gauge",
            Slot::Series(_) => "series",
            Slot::Histogram(_) => "histogram",
            Slot::Curve(_) => "curve",
            Slot::Heatmap(_) => "heatmap",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    #[error("metric \"{name}\" is already registered as a {existing}, not a {requested}")]
    KindClash {
        name: String,
        existing: &'static str,
        requested: &'static str,
    },
    #[error("metric name \"{0}\" is not of the form component.metric (letters, digits, _ - .)")]
    BadName(String),
}

/// A value that changes over time; its mean is weighted by how long each value held.
#[derive(Debug, Clone)]
struct Gauge {
    value: f64,
    since: SimTime,
    area: f64,
    max: f64,
    min: f64,
}

/// Samples `(time, value)`, at most `limit` of them: when full, every other sample is dropped and
/// from then on only every second new sample is kept (repeatedly), so memory stays bounded and the
/// kept points still span the whole run, deterministically.
#[derive(Debug, Clone)]
struct Series {
    points: Vec<(SimTime, f64)>,
    stride: u64,
    offered: u64,
}

#[derive(Debug, Clone)]
struct Hist {
    unit: Unit,
    values: LogHistogram,
}

impl Series {
    fn new() -> Self {
        Series {
            points: Vec::new(),
            stride: 1,
            offered: 0,
        }
    }

    fn push(&mut self, now: SimTime, value: f64) {
        let s = self;
        s.offered += 1;
        if (s.offered - 1) % s.stride != 0 {
            return;
        }
        if s.points.len() == SERIES_LIMIT {
            let mut keep = false;
            s.points.retain(|_| {
                keep = !keep;
                keep
            });
            s.stride *= 2;
            if (s.offered - 1) % s.stride != 0 {
                return;
            }
        }
        s.points.push((now, value));
    }
}

/// The histories a recorded run keeps.
#[derive(Debug, Default)]
struct Histories {
    /// One per gauge, by gauge index.
    gauges: Vec<StepHistory>,
    /// Values only charts want (a node's commit index), by full name: never in a snapshot.
    extra: BTreeMap<String, StepHistory>,
}

/// The most points a time series keeps (see [`Series`]).
pub const SERIES_LIMIT: usize = 4096;

/// The most points a curve keeps: [`Metrics::set_curve`] thins a longer one to this many, evenly
/// spaced in the order given (the first and the last kept), so a snapshot stays bounded.
pub const CURVE_LIMIT: usize = 4096;

/// `points`, or [`CURVE_LIMIT`] of them evenly spaced by position when there are more.
fn thinned(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let n = points.len();
    if n <= CURVE_LIMIT {
        return points;
    }
    (0..CURVE_LIMIT)
        .map(|i| points[i * (n - 1) / (CURVE_LIMIT - 1)])
        .collect()
}

/// The most cells a heatmap keeps: [`Metrics::set_heatmap`] merges each two neighbouring time
/// buckets into one (doubling the bucket) until its rows times its buckets are at most this, so
/// a snapshot stays bounded and every count is kept (a long run at a fine bucket is coarser).
pub const HEATMAP_CELLS_LIMIT: usize = 65_536;

/// A heatmap's rows and bucket as a snapshot keeps them.
#[derive(Debug, Clone, Default)]
struct Heatmap {
    rows: Vec<(String, Vec<u64>)>,
    bucket_ns: u64,
}

/// `rows` padded with zeros to the longest, their buckets merged in twos (and `bucket_ns`
/// doubled) while there are more than [`HEATMAP_CELLS_LIMIT`] cells and more than one bucket.
fn bounded(mut rows: Vec<(String, Vec<u64>)>, mut bucket_ns: u64) -> Heatmap {
    let mut width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    while rows.len() * width > HEATMAP_CELLS_LIMIT && width > 1 {
        for (_, counts) in &mut rows {
            *counts = counts
                .chunks(2)
                .map(|c| c.iter().fold(0u64, |a, b| a.saturating_add(*b)))
                .collect();
        }
        width = width.div_ceil(2);
        bucket_ns = bucket_ns.saturating_mul(2);
    }
    for (_, counts) in &mut rows {
        counts.resize(width, 0);
    }
    Heatmap { rows, bucket_ns }
}

/// All metrics of one run.
#[derive(Debug, Default)]
pub struct Metrics {
    names: BTreeMap<String, Slot>,
    counters: Vec<u64>,
    gauges: Vec<Gauge>,
    series: Vec<Series>,
    hists: Vec<Hist>,
    curves: Vec<Vec<(f64, f64)>>,
    heatmaps: Vec<Heatmap>,
    /// When set, every gauge's history over time is kept, bounded (for charts), and so are
    /// the histories models add by name ([`Metrics::history_point`]).
    gauge_history: Option<Histories>,
}

fn full_name(component: &str, name: &str) -> Result<String, MetricError> {
    let full = format!("{component}.{name}");
    let ok_part = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    };
    if ok_part(component) && ok_part(name) {
        Ok(full)
    } else {
        Err(MetricError::BadName(full))
    }
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Metrics that also keep each gauge's changes over time ([`Metrics::gauge_histories`]),
    /// bounded like a series. Off by default: it costs a push per change.
    pub fn with_gauge_history() -> Self {
        Metrics {
            gauge_history: Some(Histories::default()),
            ..Metrics::default()
        }
    }

    fn register(
        &mut self,
        component: &str,
        name: &str,
        requested: Slot,
    ) -> Result<Slot, MetricError> {
        let full = full_name(component, name)?;
        if let Some(&existing) = self.names.get(&full) {
            if std::mem::discriminant(&existing) == std::mem::discriminant(&requested) {
                return Ok(existing);
            }
            return Err(MetricError::KindClash {
                name: full,
                existing: existing.kind(),
                requested: requested.kind(),
            });
        }
        self.names.insert(full, requested);
        Ok(requested)
    }

    /// A counter named `component.name` (the same handle if it exists).
    pub fn counter(&mut self, component: &str, name: &str) -> Result<CounterId, MetricError> {
        match self.register(component, name, Slot::Counter(self.counters.len() as u32))? {
            Slot::Counter(i) => {
                if i as usize == self.counters.len() {
                    self.counters.push(0);
                }
                Ok(CounterId(i))
            }
            _ => unreachable!("register returns the requested kind"),
        }
    }

    pub fn gauge(&mut self, component: &str, name: &str) -> Result<GaugeId, MetricError> {
        match self.register(component, name, Slot::Gauge(self.gauges.len() as u32))? {
            Slot::Gauge(i) => {
                if i as usize == self.gauges.len() {
                    if let Some(h) = self.gauge_history.as_mut() {
                        h.gauges.push(StepHistory::new());
                    }
                    self.gauges.push(Gauge {
                        value: 0.0,
                        since: SimTime::ZERO,
                        area: 0.0,
                        max: 0.0,
                        min: 0.0,
                    });
                }
                Ok(GaugeId(i))
            }
            _ => unreachable!("register returns the requested kind"),
        }
    }

    pub fn series(&mut self, component: &str, name: &str) -> Result<SeriesId, MetricError> {
        match self.register(component, name, Slot::Series(self.series.len() as u32))? {
            Slot::Series(i) => {
                if i as usize == self.series.len() {
                    self.series.push(Series::new());
                }
                Ok(SeriesId(i))
            }
            _ => unreachable!("register returns the requested kind"),
        }
    }

    pub fn histogram(
        &mut self,
        component: &str,
        name: &str,
        unit: Unit,
    ) -> Result<HistogramId, MetricError> {
        match self.register(component, name, Slot::Histogram(self.hists.len() as u32))? {
            Slot::Histogram(i) => {
                if i as usize == self.hists.len() {
                    self.hists.push(Hist {
                        unit,
                        values: LogHistogram::new(),
                    });
                }
                Ok(HistogramId(i))
            }
            _ => unreachable!("register returns the requested kind"),
        }
    }

    /// A curve named `component.name` (the same handle if it exists), with no points until
    /// [`Metrics::set_curve`].
    pub fn curve(&mut self, component: &str, name: &str) -> Result<CurveId, MetricError> {
        match self.register(component, name, Slot::Curve(self.curves.len() as u32))? {
            Slot::Curve(i) => {
                if i as usize == self.curves.len() {
                    self.curves.push(Vec::new());
                }
                Ok(CurveId(i))
            }
            _ => unreachable!("register returns the requested kind"),
        }
    }

    /// Replaces a curve's points `(x, y)`, kept in the order given (thinned past
    /// [`CURVE_LIMIT`]). A curve is a result, set once when it is known (a miss-ratio curve at
    /// the end of a run), not a value that changes with time.
    pub fn set_curve(&mut self, id: CurveId, points: Vec<(f64, f64)>) {
        self.curves[id.0 as usize] = thinned(points);
    }

    /// A heatmap named `component.name` (the same handle if it exists), with no rows until
    /// [`Metrics::set_heatmap`].
    pub fn heatmap(&mut self, component: &str, name: &str) -> Result<HeatmapId, MetricError> {
        match self.register(component, name, Slot::Heatmap(self.heatmaps.len() as u32))? {
            Slot::Heatmap(i) => {
                if i as usize == self.heatmaps.len() {
                    self.heatmaps.push(Heatmap::default());
                }
                Ok(HeatmapId(i))
            }
            _ => unreachable!("register returns the requested kind"),
        }
    }

    /// Replaces a heatmap's rows: each a label (a partition) and its counts per time bucket of
    /// `bucket`, the first from time 0. Rows keep the order given; shorter rows are padded with
    /// zeros to the longest, and past [`HEATMAP_CELLS_LIMIT`] cells neighbouring buckets are
    /// merged. Like a curve, a heatmap is a result a model sets when it is known (at the end of
    /// a run, from counts it kept itself), so recording costs nothing per event here.
    pub fn set_heatmap(
        &mut self,
        id: HeatmapId,
        rows: Vec<(String, Vec<u64>)>,
        bucket: SimDuration,
    ) {
        self.heatmaps[id.0 as usize] = bounded(rows, bucket.as_nanos());
    }

    #[inline]
    pub fn add(&mut self, id: CounterId, n: u64) {
        let c = &mut self.counters[id.0 as usize];
        *c = c.saturating_add(n);
    }

    /// Sets a gauge at `now`; the previous value is weighted by how long it held.
    #[inline]
    pub fn set(&mut self, id: GaugeId, now: SimTime, value: f64) {
        let g = &mut self.gauges[id.0 as usize];
        debug_assert!(now >= g.since, "gauge set back in time");
        let held = now.saturating_since(g.since).as_nanos();
        // Through i64: converting a signed integer to f64 is one instruction, an unsigned one
        // several. No run holds a value for 2^63 ns (292 years); past that it saturates.
        g.area += g.value * held.min(i64::MAX as u64) as i64 as f64;
        g.since = now;
        g.value = value;
        // Comparisons rather than f64::max/min, which are slower; a NaN is ignored by both.
        if value > g.max {
            g.max = value;
        }
        if value < g.min {
            g.min = value;
        }
        if let Some(h) = self.gauge_history.as_mut() {
            h.gauges[id.0 as usize].set(now.as_nanos(), value);
        }
    }

    /// Adds a change of the value `component.name` to its history, when histories are kept:
    /// for values only a chart wants, which are never metrics (so a recorded run prints the
    /// same metrics as any other).
    pub fn history_point(&mut self, component: &str, name: &str, now: SimTime, value: f64) {
        if let Some(h) = self.gauge_history.as_mut() {
            let full = format!("{component}.{name}");
            h.extra.entry(full).or_default().set(now.as_nanos(), value);
        }
    }

    /// Each gauge's history up to `end` and the extra histories, by name, as `(ns, mean over
    /// a bucket)` ([`crate::history`]), when kept ([`Metrics::with_gauge_history`]); empty
    /// otherwise.
    pub fn gauge_histories(&self, end: SimTime) -> BTreeMap<String, Vec<(u64, f64)>> {
        let mut out = BTreeMap::new();
        let Some(h) = &self.gauge_history else {
            return out;
        };
        for (name, &slot) in &self.names {
            if let Slot::Gauge(i) = slot {
                out.insert(name.clone(), h.gauges[i as usize].points(end.as_nanos()));
            }
        }
        for (name, x) in &h.extra {
            out.insert(name.clone(), x.points(end.as_nanos()));
        }
        out
    }

    /// The current value of a gauge.
    pub fn gauge_value(&self, id: GaugeId) -> f64 {
        self.gauges[id.0 as usize].value
    }

    pub fn push(&mut self, id: SeriesId, now: SimTime, value: f64) {
        self.series[id.0 as usize].push(now, value);
    }

    #[inline]
    pub fn record(&mut self, id: HistogramId, value: u64) {
        self.hists[id.0 as usize].values.record(value);
    }

    #[inline]
    pub fn record_duration(&mut self, id: HistogramId, d: SimDuration) {
        self.record(id, d.as_nanos());
    }

    /// Every histogram, by name: the true counts of all values recorded, in the histogram's
    /// buckets ([`LogHistogram::counted`]). What CDF and histogram charts are drawn from, so a
    /// chart of 10^6 values counts 10^6 (a kept sample would cap its counts at the sample's size).
    pub fn distributions(&self) -> BTreeMap<String, LogHistogram> {
        let mut out = BTreeMap::new();
        for (name, &slot) in &self.names {
            if let Slot::Histogram(i) = slot {
                out.insert(name.clone(), self.hists[i as usize].values.clone());
            }
        }
        out
    }

    /// Every metric's summary at `end` (gauges are weighted up to `end`), in name order.
    pub fn snapshot(&self, end: SimTime) -> MetricsSnapshot {
        let mut out = BTreeMap::new();
        for (name, &slot) in &self.names {
            let v = match slot {
                Slot::Counter(i) => MetricValue::Counter {
                    value: self.counters[i as usize],
                },
                Slot::Gauge(i) => {
                    let g = &self.gauges[i as usize];
                    let area = g.area + g.value * end.saturating_since(g.since).as_nanos() as f64;
                    let span = end.as_nanos() as f64;
                    let mean = if span > 0.0 { area / span } else { g.value };
                    MetricValue::Gauge {
                        value: g.value,
                        mean,
                        min: g.min,
                        max: g.max,
                    }
                }
                Slot::Series(i) => {
                    let s = &self.series[i as usize];
                    MetricValue::Series {
                        offered: s.offered,
                        points: s.points.iter().map(|&(t, v)| (t.as_nanos(), v)).collect(),
                    }
                }
                Slot::Histogram(i) => {
                    let Hist { unit, values: h } = &self.hists[i as usize];
                    MetricValue::Histogram {
                        unit: *unit,
                        count: h.len(),
                        mean: h.mean(),
                        min: h.min(),
                        p50: h.value_at_quantile(0.5),
                        p90: h.value_at_quantile(0.9),
                        p99: h.value_at_quantile(0.99),
                        p999: h.value_at_quantile(0.999),
                        max: h.max(),
                    }
                }
                Slot::Curve(i) => MetricValue::Curve {
                    points: self.curves[i as usize].clone(),
                },
                Slot::Heatmap(i) => {
                    let h = &self.heatmaps[i as usize];
                    MetricValue::Heatmap {
                        rows: h.rows.clone(),
                        bucket_ns: h.bucket_ns,
                    }
                }
            };
            out.insert(name.clone(), v);
        }
        MetricsSnapshot(out)
    }
}

/// A metric's summary at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MetricValue {
    Counter {
        value: u64,
    },
    /// `mean` is the time-weighted average over the run.
    Gauge {
        value: f64,
        mean: f64,
        min: f64,
        max: f64,
    },
    Series {
        offered: u64,
        points: Vec<(u64, f64)>,
    },
    /// Quantiles are within 0.1% (see [`crate::histogram`]); `mean`, `min` and `max` are exact.
    Histogram {
        unit: Unit,
        count: u64,
        mean: f64,
        min: u64,
        p50: u64,
        p90: u64,
        p99: u64,
        p999: u64,
        max: u64,
    },
    /// Points `(x, y)` in the order the model gave them (a miss ratio against cache size).
    Curve {
        points: Vec<(f64, f64)>,
    },
    /// Counts per row and time bucket: each row's label and its counts, bucket `i` covering
    /// `[i * bucket_ns, (i + 1) * bucket_ns)` of simulated time; every row has as many buckets.
    Heatmap {
        rows: Vec<(String, Vec<u64>)>,
        bucket_ns: u64,
    },
}

impl MetricValue {
    /// A named statistic (`mean`, `min`, `max`, `count`, `p50`, `p90`, `p99`, `p999`, `value`,
    /// `last`), where this kind of metric has it. A curve's `count` is its number of points,
    /// its `min`, `max` and `last` those of its y values (`last`: the last point's). A
    /// heatmap's `count` is its number of rows, its `max` its hottest cell, `min` its coldest and
    /// `mean` the mean of its cells (none without cells).
    pub fn stat(&self, stat: &str) -> Option<f64> {
        if let MetricValue::Heatmap { rows, .. } = self {
            return heatmap_stat(rows, stat);
        }
        match (self, stat) {
            (MetricValue::Counter { value }, "value" | "count") => Some(*value as f64),
            (MetricValue::Gauge { value, .. }, "value" | "last") => Some(*value),
            (MetricValue::Gauge { mean, .. }, "mean") => Some(*mean),
            (MetricValue::Gauge { min, .. }, "min") => Some(*min),
            (MetricValue::Gauge { max, .. }, "max") => Some(*max),
            (MetricValue::Series { points, .. }, "last") => points.last().map(|p| p.1),
            (MetricValue::Series { offered, .. }, "count") => Some(*offered as f64),
            (MetricValue::Series { points, .. }, "max") => {
                points.iter().map(|p| p.1).reduce(f64::max)
            }
            (MetricValue::Series { points, .. }, "min") => {
                points.iter().map(|p| p.1).reduce(f64::min)
            }
            (MetricValue::Curve { points }, "count") => Some(points.len() as f64),
            (MetricValue::Curve { points }, "last") => points.last().map(|p| p.1),
            (MetricValue::Curve { points }, "max") => points.iter().map(|p| p.1).reduce(f64::max),
            (MetricValue::Curve { points }, "min") => points.iter().map(|p| p.1).reduce(f64::min),
            (MetricValue::Histogram { count, .. }, "count") => Some(*count as f64),
            (MetricValue::Histogram { mean, .. }, "mean") => Some(*mean),
            (MetricValue::Histogram { min, .. }, "min") => Some(*min as f64),
            (MetricValue::Histogram { max, .. }, "max") => Some(*max as f64),
            (MetricValue::Histogram { p50, .. }, "p50") => Some(*p50 as f64),
            (MetricValue::Histogram { p90, .. }, "p90") => Some(*p90 as f64),
            (MetricValue::Histogram { p99, .. }, "p99") => Some(*p99 as f64),
            (MetricValue::Histogram { p999, .. }, "p999") => Some(*p999 as f64),
            _ => None,
        }
    }

    /// Whether values of this metric are nanoseconds (and should print as durations).
    pub fn is_duration(&self) -> bool {
        matches!(self, MetricValue::Histogram { unit: Unit::Ns, .. })
    }
}

/// A heatmap's statistic (see [`MetricValue::stat`]).
fn heatmap_stat(rows: &[(String, Vec<u64>)], stat: &str) -> Option<f64> {
    let cells = || rows.iter().flat_map(|r| r.1.iter().copied());
    match stat {
        "count" => Some(rows.len() as f64),
        "max" => cells().max().map(|v| v as f64),
        "min" => cells().min().map(|v| v as f64),
        "mean" => {
            let n = cells().count();
            (n > 0).then(|| cells().map(|v| v as f64).sum::<f64>() / n as f64)
        }
        _ => None,
    }
}

/// Every metric of a run, in name order.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(transparent)]
pub struct MetricsSnapshot(pub BTreeMap<String, MetricValue>);

impl MetricsSnapshot {
    pub fn get(&self, name: &str) -> Option<&MetricValue> {
        self.0.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::from_nanos(s * 1_000_000_000)
    }

    #[test]
    fn counters_and_names() {
        let mut m = Metrics::new();
        let c = m.counter("server", "served").unwrap();
        assert_eq!(m.counter("server", "served").unwrap(), c);
        m.add(c, 2);
        m.add(c, 3);
        assert!(matches!(
            m.gauge("server", "served"),
            Err(MetricError::KindClash { .. })
        ));
        assert!(matches!(
            m.counter("bad name", "x"),
            Err(MetricError::BadName(_))
        ));
        assert_eq!(
            m.snapshot(t(1)).get("server.served"),
            Some(&MetricValue::Counter { value: 5 })
        );
    }

    #[test]
    fn gauge_mean_is_time_weighted() {
        let mut m = Metrics::new();
        let g = m.gauge("q", "len").unwrap();
        m.set(g, t(0), 2.0); // 2 for 1s
        m.set(g, t(1), 4.0); // 4 for 3s
        let s = m.snapshot(t(4));
        let v = s.get("q.len").unwrap();
        assert_eq!(v.stat("mean"), Some((2.0 + 12.0) / 4.0));
        assert_eq!(v.stat("max"), Some(4.0));
        assert_eq!(v.stat("value"), Some(4.0));
    }

    #[test]
    fn histogram_quantiles_within_hdr_precision() {
        let mut m = Metrics::new();
        let h = m.histogram("kv", "latency", Unit::Ns).unwrap();
        for v in 1..=100_000u64 {
            m.record(h, v * 1000);
        }
        let s = m.snapshot(t(1));
        let v = s.get("kv.latency").unwrap();
        assert_eq!(v.stat("count"), Some(100_000.0));
        assert_eq!(v.stat("mean"), Some(50_000_500.0));
        let p99 = v.stat("p99").unwrap();
        assert!((p99 - 99_000_000.0).abs() <= 99_000.0, "{p99}");
        let p50 = v.stat("p50").unwrap();
        assert!((p50 - 50_000_000.0).abs() <= 50_000.0, "{p50}");
        assert!(v.is_duration());
    }

    #[test]
    fn gauge_histories_are_kept_only_when_asked() {
        let mut plain = Metrics::new();
        let mut kept = Metrics::with_gauge_history();
        for m in [&mut plain, &mut kept] {
            let g = m.gauge("q", "len").unwrap();
            m.set(g, t(1), 2.0);
            m.set(g, t(3), 5.0);
        }
        plain.history_point("n1", "commit", t(2), 7.0);
        kept.history_point("n1", "commit", t(2), 7.0);
        assert!(plain.gauge_histories(t(4)).is_empty());
        let h = kept.gauge_histories(t(4));
        // 0 until 1 s, 2 until 3 s, then 5: the bucket means say so.
        let at = |pts: &[(u64, f64)], s: f64| {
            pts.iter()
                .rev()
                .find(|p| p.0 as f64 <= s * 1e9)
                .map(|p| p.1)
                .unwrap()
        };
        assert_eq!(at(&h["q.len"], 0.5), 0.0);
        assert_eq!(at(&h["q.len"], 2.0), 2.0);
        assert_eq!(at(&h["q.len"], 3.5), 5.0);
        assert_eq!(at(&h["n1.commit"], 3.0), 7.0);
        // Histories are never metrics.
        assert_eq!(plain.snapshot(t(4)), kept.snapshot(t(4)));
        assert!(kept.snapshot(t(4)).get("n1.commit").is_none());
    }

    /// Charts are drawn from the distributions: far past any sample's size, their counts still
    /// add up to every value recorded.
    #[test]
    fn distributions_count_every_value() {
        let mut m = Metrics::new();
        let few = m.histogram("a", "few", Unit::Ns).unwrap();
        let many = m.histogram("a", "many", Unit::Ns).unwrap();
        for v in [5u64, 3, 3, 1_000_000] {
            m.record(few, v);
        }
        let n = 1_000_000u64;
        for v in 1..=n {
            m.record(many, v * 7_919 % 100_003);
        }
        let d = m.distributions();
        let f: Vec<(u64, u64)> = d["a.few"].counted().collect();
        assert_eq!(&f[..2], &[(3, 2), (5, 1)]);
        assert_eq!(f[2], (1_000_000, 1), "the maximum is held");
        let q = &d["a.many"];
        assert_eq!(q.len(), n);
        assert_eq!(q.counted().map(|p| p.1).sum::<u64>(), n);
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn series_stays_bounded_and_spans_the_run() {
        let mut m = Metrics::new();
        let s = m.series("n1", "commit").unwrap();
        let n = 100_000u64;
        for i in 0..n {
            m.push(s, SimTime::from_nanos(i), i as f64);
        }
        match m.snapshot(SimTime::from_nanos(n)).get("n1.commit").unwrap() {
            MetricValue::Series { offered, points } => {
                assert_eq!(*offered, n);
                assert!(points.len() <= SERIES_LIMIT && points.len() > SERIES_LIMIT / 4);
                assert_eq!(points[0], (0, 0.0));
                assert!(points.last().unwrap().0 > n * 9 / 10);
                assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
            }
            other => panic!("{other:?}"),
        }
    }
    #[test]
    fn a_curve_keeps_its_points_in_order_and_is_replaced_when_set_again() {
        let mut m = Metrics::new();
        let c = m.curve("lru", "mrc").unwrap();
        assert_eq!(m.curve("lru", "mrc").unwrap(), c);
        assert!(matches!(
            m.counter("lru", "mrc"),
            Err(MetricError::KindClash {
                existing: "curve",
                ..
            })
        ));
        let empty = m.snapshot(t(1));
        let v = empty.get("lru.mrc").unwrap();
        assert_eq!(v, &MetricValue::Curve { points: vec![] });
        assert_eq!(
            (v.stat("count"), v.stat("last"), v.stat("max")),
            (Some(0.0), None, None)
        );
        m.set_curve(c, vec![(1.0, 0.5), (2.0, 0.9)]);
        // Not sorted: the model's order is the curve's (a miss ratio falls as x grows; this one
        // is given backwards on purpose).
        let pts = vec![(4096.0, 0.2), (1024.0, 0.7), (2048.0, 0.4)];
        m.set_curve(c, pts.clone());
        let s = m.snapshot(t(1));
        let v = s.get("lru.mrc").unwrap();
        assert_eq!(v, &MetricValue::Curve { points: pts });
        assert_eq!(v.stat("count"), Some(3.0));
        assert_eq!(v.stat("min"), Some(0.2));
        assert_eq!(v.stat("max"), Some(0.7));
        assert_eq!(v.stat("last"), Some(0.4));
        assert_eq!(v.stat("mean"), None);
        assert!(!v.is_duration());
    }

    #[test]
    fn a_long_curve_is_thinned_evenly_keeping_both_ends() {
        let mut m = Metrics::new();
        let c = m.curve("c", "mrc").unwrap();
        let n = CURVE_LIMIT * 3 + 7;
        m.set_curve(
            c,
            (0..n).map(|i| (i as f64, 1.0 / (i + 1) as f64)).collect(),
        );
        let MetricValue::Curve { points } = m.snapshot(t(1)).get("c.mrc").unwrap().clone() else {
            panic!("not a curve")
        };
        assert_eq!(points.len(), CURVE_LIMIT);
        assert_eq!(points[0], (0.0, 1.0));
        assert_eq!(points.last().unwrap().0, (n - 1) as f64);
        let gaps: Vec<f64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
        assert!(
            gaps.iter().all(|g| (3.0..=4.0).contains(g)),
            "uneven: {gaps:?}"
        );
    }

    fn rows(r: &[(&str, &[u64])]) -> Vec<(String, Vec<u64>)> {
        r.iter().map(|(n, c)| (n.to_string(), c.to_vec())).collect()
    }

    #[test]
    fn a_heatmap_keeps_its_rows_padded_and_has_count_min_max_and_mean() {
        let mut m = Metrics::new();
        let h = m.heatmap("kv", "requests").unwrap();
        assert_eq!(m.heatmap("kv", "requests").unwrap(), h);
        assert!(matches!(
            m.curve("kv", "requests"),
            Err(MetricError::KindClash {
                existing: "heatmap",
                ..
            })
        ));
        let empty = m.snapshot(t(1));
        let v = empty.get("kv.requests").unwrap();
        assert_eq!(
            v,
            &MetricValue::Heatmap {
                rows: vec![],
                bucket_ns: 0
            }
        );
        assert_eq!(
            (v.stat("count"), v.stat("max"), v.stat("mean")),
            (Some(0.0), None, None)
        );
        // Rows in the model's order (p2 first on purpose), the short row padded with zeros.
        let given = rows(&[("p2", &[5, 0, 9]), ("p0", &[1, 2]), ("p1", &[])]);
        m.set_heatmap(h, given, SimDuration::from_millis(500));
        let s = m.snapshot(t(2));
        let v = s.get("kv.requests").unwrap();
        let want = rows(&[("p2", &[5, 0, 9]), ("p0", &[1, 2, 0]), ("p1", &[0, 0, 0])]);
        assert_eq!(
            v,
            &MetricValue::Heatmap {
                rows: want,
                bucket_ns: 500_000_000
            }
        );
        assert_eq!(v.stat("count"), Some(3.0));
        assert_eq!(v.stat("max"), Some(9.0));
        assert_eq!(v.stat("min"), Some(0.0));
        assert_eq!(v.stat("mean"), Some(17.0 / 9.0));
        assert_eq!(v.stat("last"), None);
        assert!(!v.is_duration());
    }

    #[test]
    fn a_large_heatmap_merges_neighbouring_buckets_keeping_every_count() {
        let mut m = Metrics::new();
        let h = m.heatmap("kv", "requests").unwrap();
        let width = HEATMAP_CELLS_LIMIT / 4 + 3;
        let row = |k: u64| (0..width as u64).map(|i| i % 7 + k).collect::<Vec<u64>>();
        let given: Vec<(String, Vec<u64>)> = (0..8).map(|k| (format!("p{k}"), row(k))).collect();
        let totals: Vec<u64> = given.iter().map(|r| r.1.iter().sum()).collect();
        m.set_heatmap(h, given.clone(), SimDuration::from_millis(10));
        let MetricValue::Heatmap { rows, bucket_ns } =
            m.snapshot(t(1)).get("kv.requests").unwrap().clone()
        else {
            panic!("not a heatmap")
        };
        // 8 rows of 16387 buckets: merged twice, to 4097 buckets of 40 ms.
        assert_eq!(bucket_ns, 40_000_000);
        assert!(rows.iter().all(|r| r.1.len() == width.div_ceil(4)));
        assert!(rows.len() * rows[0].1.len() <= HEATMAP_CELLS_LIMIT);
        let kept: Vec<u64> = rows.iter().map(|r| r.1.iter().sum()).collect();
        assert_eq!(kept, totals);
        assert_eq!(rows[1].1[0], given[1].1[..4].iter().sum::<u64>());
    }
}

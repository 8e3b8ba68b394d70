//! `sim report`: runs scenarios with recording on, turns each run into the charts its model
//! family declares ([`models::schema::ChartSpec`]), and writes every chart as SVG and PNG, a JSON
//! summary per scenario and the `index.html` gallery; and `sim run --export-trace`'s Chrome
//! trace. With kernel traces (`sim report --kernel-traces DIR`, written by `native run
//! --target kernel --save-trace`), a CPU scheduling scenario's page also shows the bare-metal
//! kernel's schedule above the simulator's.
//!
//! Everything written is a pure function of the scenario files: no wall time, no thread count
//! and no map order reaches a file, so the same inputs give byte-identical SVG, JSON and HTML.
//! Each file is written to a temporary name and renamed into place, and `index.html` last, so an
//! interrupted report leaves the previous gallery readable.

use std::path::{Path, PathBuf};

use models::MODELS;
use models::schema::{ChartSource, ChartSpec, ModelSpec, glob_captures, glob_matches};
use rayon::prelude::*;
use reports::chart::{
    Axis, Band, BarSeries, Chart, GanttBar, HeatRow, Marker, Samples, Series, TimelineSpan,
};
use reports::gallery::{ChartFile, CheckRow, Gallery, Page, RunSummary};
use reports::text::{metrics_table, show};
use sched::ktrace;
use simcore::{LogHistogram, MetricValue, MetricsSnapshot, format_hash};

use crate::runner::{
    RunOptions, RunReport, ScenarioError, numbered, run_file, stop_reason_name, write_atomically,
};

/// Pixel size of every chart.
pub const CHART_WIDTH_PX: u32 = 960;
pub const CHART_HEIGHT_PX: u32 = 480;
/// Per-run charts (Gantt charts, timelines) drawn for at most this many runs of a sweep.
pub const PER_RUN_CHARTS_MAX: usize = 6;
/// Lines (or CDFs, or bar series) per chart at most; a chart with more draws the first ones and
/// says so in its title.
pub const LINES_MAX: usize = 40;

/// Cuts `items` to [`LINES_MAX`]; the title notes how many were drawn.
fn at_most<T>(items: &mut Vec<T>, title: &str) -> String {
    let n = items.len();
    if n > LINES_MAX {
        items.truncate(LINES_MAX);
        format!("{title} (first {LINES_MAX} of {n})")
    } else {
        title.to_string()
    }
}

/// One chart of a scenario, before drawing.
#[derive(Debug, Clone)]
pub struct PlannedChart {
    /// File stem, unique within the scenario (`roles`, `schedule-2`).
    pub stem: String,
    pub doc: String,
    pub chart: Chart,
}

/// A time or duration unit chosen so that the numbers on an axis stay short: the largest unit
/// in which the largest value is at least 1.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TimeUnit {
    name: &'static str,
    ns: f64,
}

fn unit_for(max_ns: f64) -> TimeUnit {
    let (name, ns) = if max_ns >= 1e9 {
        ("s", 1e9)
    } else if max_ns >= 1e6 {
        ("ms", 1e6)
    } else if max_ns >= 1e3 {
        ("us", 1e3)
    } else {
        ("ns", 1.0)
    };
    TimeUnit { name, ns }
}

/// The end of a run, in ns: when it stopped.
fn end_ns(r: &RunReport) -> u64 {
    r.result.end_time.as_nanos()
}

/// The swept properties of run `r` and their values (`server.servers=2, machine.quantum=5ms`
/// → `[("server.servers", "2"), ("machine.quantum", "5ms")]`).
fn swept(r: &RunReport) -> Vec<(&str, &str)> {
    if r.variant.is_empty() {
        return Vec::new();
    }
    r.variant
        .split(", ")
        .map(|kv| kv.split_once('=').unwrap_or(("", kv)))
        .collect()
}

/// The swept properties' names as a reader needs them: the property alone (`servers`), or with
/// its block (`server.servers`) when two swept properties share a name.
fn swept_names<'a>(pairs: &[(&'a str, &str)]) -> Vec<&'a str> {
    let short = |k: &'a str| k.rsplit_once('.').map_or(k, |(_, p)| p);
    let clash = pairs
        .iter()
        .enumerate()
        .any(|(i, (a, _))| pairs[..i].iter().any(|(b, _)| short(a) == short(b)));
    pairs
        .iter()
        .map(|(k, _)| if clash { *k } else { short(k) })
        .collect()
}

/// The label that tells runs of a sweep apart ("" when there is one run): each swept property
/// named with its value (`servers = 2, quantum = 5ms`), so a title or legend says what varies.
fn variant_tag(r: &RunReport, many: bool) -> String {
    if !many {
        return String::new();
    }
    let pairs = swept(r);
    swept_names(&pairs)
        .iter()
        .zip(&pairs)
        .map(|(name, (_, v))| {
            if name.is_empty() {
                v.to_string()
            } else {
                format!("{name} = {v}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The swept values alone (`2, 5ms`): a sweep chart's categories, under an axis that names the
/// properties ([`sweep_axis`]).
fn variant_values(r: &RunReport) -> String {
    swept(r)
        .iter()
        .map(|(_, v)| *v)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether metric `name` of run `r` matches `pattern`: a glob, where a leading `{KIND}` stands
/// for the name of any block of that kind (`{cpu}.response` is the machine's, not a job's).
fn metric_matches(pattern: &str, name: &str, r: &RunReport) -> bool {
    match pattern.strip_prefix('{').and_then(|p| p.split_once('}')) {
        Some((kind, rest)) => r
            .blocks
            .iter()
            .filter(|(k, _)| *k == kind)
            .any(|(_, block)| glob_matches(&format!("{block}{rest}"), name)),
        None => glob_matches(pattern, name),
    }
}

/// What a line of metric `name` is called: what the last wildcard of `pattern` matched (`n1`
/// for `cluster.commit_index_n1` under `*.commit_index_*`, the block for `{station}.wait`), or
/// the whole name when the pattern has no wildcard.
fn metric_label(pattern: &str, name: &str, r: &RunReport) -> String {
    let last = |captures: Vec<&str>| captures.last().map(|c| c.to_string());
    let label = match pattern.strip_prefix('{').and_then(|p| p.split_once('}')) {
        Some((kind, rest)) => r
            .blocks
            .iter()
            .filter(|(k, _)| *k == kind)
            .find_map(|(_, block)| {
                let captures = glob_captures(rest, name.strip_prefix(block.as_str())?)?;
                Some(last(captures).unwrap_or_else(|| block.to_string()))
            }),
        None => glob_captures(pattern, name).and_then(last),
    };
    label
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| name.to_string())
}

/// The legend name of a line: the metric's label, and in a sweep the variant; the variant alone
/// when every run has just the one metric.
fn line_name(metric: &str, tag: &str, one_per_run: bool) -> String {
    if one_per_run && !tag.is_empty() {
        tag.to_string()
    } else {
        with_tag(metric, tag)
    }
}

fn with_tag(name: &str, tag: &str) -> String {
    if tag.is_empty() {
        name.to_string()
    } else {
        format!("{name} [{tag}]")
    }
}

fn title_with(title: &str, tag: &str) -> String {
    if tag.is_empty() {
        title.to_string()
    } else {
        format!("{title}: {tag}")
    }
}

/// The charts of one scenario's runs (one run, or one per variant of a sweep), as the family's
/// specs declare them. Specs with no data in these runs give no chart.
pub fn plan_charts(spec: &ModelSpec, runs: &[RunReport]) -> Vec<PlannedChart> {
    let mut out = Vec::new();
    if runs.is_empty() {
        return out;
    }
    let many = runs.len() > 1;
    for c in spec.charts {
        match c.source {
            ChartSource::Series { .. }
            | ChartSource::Cdf { .. }
            | ChartSource::Histogram { .. }
            | ChartSource::Rate { .. }
            | ChartSource::Scatter { .. }
            | ChartSource::Curve { .. } => {
                if let Some(chart) = overlay_chart(c, runs, many) {
                    out.push(planned(c.id.to_string(), c, chart));
                }
            }
            ChartSource::SweepBars { .. } => {
                if many {
                    if let Some(chart) = sweep_bars(c, runs) {
                        out.push(planned(c.id.to_string(), c, chart));
                    }
                }
            }
            ChartSource::Heatmap { .. } => {
                for (k, r) in runs.iter().take(PER_RUN_CHARTS_MAX).enumerate() {
                    let tag = variant_tag(r, many);
                    let charts = heatmap_charts(c, r, &tag);
                    let several = charts.len() > 1;
                    for (label, chart) in charts {
                        let mut stem = c.id.to_string();
                        if several {
                            stem = format!("{stem}-{label}");
                        }
                        if many {
                            stem = format!("{stem}-{}", k + 1);
                        }
                        out.push(planned(stem, c, chart));
                    }
                }
            }
            ChartSource::Gantt { .. } | ChartSource::Timeline { .. } | ChartSource::Bars { .. } => {
                for (k, r) in runs.iter().take(PER_RUN_CHARTS_MAX).enumerate() {
                    let tag = variant_tag(r, many);
                    if let Some(chart) = per_run_chart(c, r, &tag) {
                        let stem = if many {
                            format!("{}-{}", c.id, k + 1)
                        } else {
                            c.id.to_string()
                        };
                        out.push(planned(stem, c, chart));
                    }
                }
            }
        }
    }
    out
}

fn planned(stem: String, c: &ChartSpec, chart: Chart) -> PlannedChart {
    PlannedChart {
        stem,
        doc: c.doc.to_string(),
        chart,
    }
}

/// A step line through `points` (a gauge or series holds its value until the next point), up to
/// `end`.
fn steps(points: &[(u64, f64)], end: u64, unit: TimeUnit) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2 + 1);
    for (i, &(t, v)) in points.iter().enumerate() {
        let x = t as f64 / unit.ns;
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, v));
    }
    if let Some(&(t, v)) = points.last() {
        if end > t {
            out.push((end as f64 / unit.ns, v));
        }
    }
    out
}

/// The time series of a run whose names match `pattern`: gauge histories and series metrics.
fn matching_series<'a>(r: &'a RunReport, pattern: &str) -> Vec<(&'a str, &'a [(u64, f64)])> {
    let mut found: Vec<(&str, &[(u64, f64)])> = r
        .result
        .gauges
        .iter()
        .filter(|(n, p)| metric_matches(pattern, n, r) && !p.is_empty())
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    for (n, v) in &r.result.metrics.0 {
        if let MetricValue::Series { points, .. } = v {
            if metric_matches(pattern, n, r) && !points.is_empty() {
                found.push((n.as_str(), points.as_slice()));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(b.0));
    found
}

/// The curve metrics of a run whose names match `pattern`, with their points, in name order.
fn matching_curves<'a>(r: &'a RunReport, pattern: &str) -> Vec<(&'a str, &'a [(f64, f64)])> {
    r.result
        .metrics
        .0
        .iter()
        .filter_map(|(n, v)| match v {
            MetricValue::Curve { points } if !points.is_empty() => {
                Some((n.as_str(), points.as_slice()))
            }
            _ => None,
        })
        .filter(|(n, _)| metric_matches(pattern, n, r))
        .collect()
}

/// The heatmap metrics of a run whose names match `pattern`, with their rows and bucket (ns), in
/// name order; a heatmap without cells is left out.
fn matching_heatmaps<'a>(
    r: &'a RunReport,
    pattern: &str,
) -> Vec<(&'a str, &'a [(String, Vec<u64>)], u64)> {
    r.result
        .metrics
        .0
        .iter()
        .filter_map(|(n, v)| match v {
            MetricValue::Heatmap { rows, bucket_ns }
                if *bucket_ns > 0 && rows.iter().any(|r| !r.1.is_empty()) =>
            {
                Some((n.as_str(), rows.as_slice(), *bucket_ns))
            }
            _ => None,
        })
        .filter(|(n, ..)| metric_matches(pattern, n, r))
        .collect()
}

/// A heatmap chart per heatmap metric of run `r` matching the spec's pattern, each with its
/// label (what the pattern's last wildcard or `{KIND}` block matched: the stems and titles of
/// several charts of one spec differ by it). Time runs in the unit the heatmap's span needs.
fn heatmap_charts(c: &ChartSpec, r: &RunReport, tag: &str) -> Vec<(String, Chart)> {
    let ChartSource::Heatmap {
        metrics,
        y_name,
        x_name,
        value_name,
    } = c.source
    else {
        return Vec::new();
    };
    let found = matching_heatmaps(r, metrics);
    let several = found.len() > 1;
    found
        .into_iter()
        .map(|(name, rows, bucket_ns)| {
            let label = metric_label(metrics, name, r);
            let columns = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
            let unit = unit_for(columns as f64 * bucket_ns as f64);
            let title = if several {
                title_with(c.title, &label)
            } else {
                c.title.to_string()
            };
            let chart = Chart::Heatmap {
                title: title_with(&title, tag),
                x: Axis::new(x_name, unit.name),
                row_axis: y_name.to_string(),
                value: Axis::new(value_name, ""),
                rows: rows
                    .iter()
                    .map(|(n, cells)| HeatRow {
                        name: n.clone(),
                        cells: cells.iter().map(|v| *v as f64).collect(),
                    })
                    .collect(),
                bucket: bucket_ns as f64 / unit.ns,
            };
            (label, chart)
        })
        .collect()
}

/// The stretches of simulated time (in `unit`) during which run `r`'s timeline has a span of
/// one of `breaks` on a track named `track`: when a line of that name is not drawn.
fn gaps_of(r: &RunReport, track: &str, breaks: &[&str], unit: TimeUnit) -> Vec<(f64, f64)> {
    let Some(tl) = r.result.timeline.as_ref().filter(|_| !breaks.is_empty()) else {
        return Vec::new();
    };
    let x = |ns: u64| ns as f64 / unit.ns;
    let mut gaps: Vec<(f64, f64)> = tl
        .marks()
        .iter()
        .filter(|m| breaks.contains(&m.category))
        .filter(|m| tl.get_track(m.track).is_some_and(|t| t.name == track))
        .filter_map(|m| Some((x(m.at.as_nanos()), x(m.end?.as_nanos()))))
        .collect();
    gaps.sort_by(|a, b| a.0.total_cmp(&b.0));
    gaps
}

/// The step line `line` without its stretches inside `gaps` (sorted, apart): it holds its value
/// up to a gap's start, breaks (a NaN point), and resumes at the gap's end with the value it has
/// then, unless the line ends within the gap.
fn with_gaps(line: &[(f64, f64)], gaps: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if gaps.is_empty() {
        return line.to_vec();
    }
    let held = |x: f64| line.iter().take_while(|p| p.0 <= x).last().map(|p| p.1);
    let last_x = line.last().map_or(f64::NEG_INFINITY, |p| p.0);
    let mut out = Vec::with_capacity(line.len() + 3 * gaps.len());
    let mut next = gaps.iter().peekable();
    for &(x, y) in line {
        while let Some(&&(a, b)) = next.peek().filter(|g| g.0 < x) {
            next.next();
            if let Some(v) = held(a) {
                out.push((a, v));
            }
            out.push((a, f64::NAN));
            if b < last_x {
                if let Some(v) = held(b) {
                    out.push((b, v));
                }
            }
        }
        let inside = gaps.iter().any(|&(a, b)| a < x && x <= b);
        if !inside {
            out.push((x, y));
        }
    }
    out
}

/// The runs of a sweep that have a histogram matching `pattern` but not one sample in it, while
/// some other run has samples: what a chart of the sweep shows as `none`. None at all when
/// `none` is empty or there is one run.
fn runs_with_none<'a>(
    runs: &'a [RunReport],
    pattern: &'a str,
    none: &str,
) -> impl Iterator<Item = &'a RunReport> + 'a {
    let has_metric = move |r: &RunReport| {
        r.result.metrics.0.iter().any(|(n, v)| {
            metric_matches(pattern, n, r) && matches!(v, MetricValue::Histogram { .. })
        })
    };
    let sampled = move |r: &RunReport| {
        r.result
            .metrics
            .0
            .keys()
            .any(|n| metric_matches(pattern, n, r) && hist_count(&r.result.metrics, n) > 0)
    };
    let active = !none.is_empty() && runs.len() > 1 && runs.iter().any(sampled);
    runs.iter()
        .filter(move |r| active && has_metric(r) && !sampled(r))
}

/// A chart with one line per metric and run: time series, CDFs, rates.
fn overlay_chart(c: &ChartSpec, runs: &[RunReport], many: bool) -> Option<Chart> {
    let longest = runs.iter().map(end_ns).max().unwrap_or(0) as f64;
    let t_unit = unit_for(longest);
    match c.source {
        ChartSource::Series {
            metrics,
            y_name,
            y_unit,
            breaks,
        } => {
            let found: Vec<_> = runs.iter().map(|r| matching_series(r, metrics)).collect();
            let one = found.iter().all(|f| f.len() <= 1);
            let mut series = Vec::new();
            for (r, f) in runs.iter().zip(&found) {
                let tag = variant_tag(r, many);
                for (name, points) in f {
                    let label = metric_label(metrics, name, r);
                    let gaps = gaps_of(r, &label, breaks, t_unit);
                    series.push(Series {
                        name: line_name(&label, &tag, one),
                        points: with_gaps(&steps(points, end_ns(r), t_unit), &gaps),
                    });
                }
            }
            let title = at_most(&mut series, c.title);
            (!series.is_empty()).then(|| Chart::TimeSeries {
                title,
                x: Axis::new("simulated time", t_unit.name),
                y: Axis::new(y_name, y_unit),
                series,
            })
        }
        ChartSource::Cdf {
            metrics, x_name, ..
        }
        | ChartSource::Histogram {
            metrics, x_name, ..
        } => {
            // The histograms themselves, so that charts count every value recorded.
            let per_run: Vec<Vec<(&String, &LogHistogram)>> = runs
                .iter()
                .map(|r| {
                    r.result
                        .distributions
                        .iter()
                        .filter(|(n, h)| metric_matches(metrics, n, r) && !h.is_empty())
                        .collect()
                })
                .collect();
            let one = per_run.iter().all(|f| f.len() <= 1);
            let mut found = Vec::new();
            for (r, f) in runs.iter().zip(per_run) {
                let tag = variant_tag(r, many);
                for (name, h) in f {
                    found.push((line_name(&metric_label(metrics, name, r), &tag, one), h));
                }
            }
            let title = at_most(&mut found, c.title);
            let max = found.iter().map(|(_, h)| h.max()).max().unwrap_or(0);
            let unit = unit_for(max as f64);
            let mut samples: Vec<Samples> = found
                .into_iter()
                .map(|(name, h)| Samples {
                    name,
                    values: h.counted().map(|(v, n)| (v as f64 / unit.ns, n)).collect(),
                })
                .collect();
            if samples.is_empty() {
                return None;
            }
            if let ChartSource::Cdf { none, .. } = c.source {
                samples.extend(runs_with_none(runs, metrics, none).map(|r| Samples {
                    name: format!("{}: {none}", line_name(metrics, &variant_tag(r, many), one)),
                    values: Vec::new(),
                }));
            }
            let x = Axis::new(x_name, unit.name);
            Some(match c.source {
                ChartSource::Histogram { bins, .. } => Chart::Histogram {
                    title,
                    x,
                    samples,
                    bins,
                },
                _ => Chart::Cdf { title, x, samples },
            })
        }
        ChartSource::Scatter {
            x,
            y,
            x_name,
            x_unit,
            y_name,
            y_unit,
        } => {
            let found: Vec<_> = runs.iter().map(|r| matching_series(r, x)).collect();
            let one = found.iter().all(|f| f.len() <= 1);
            let mut series = Vec::new();
            for (r, xs) in runs.iter().zip(found) {
                let ys = matching_series(r, y);
                for (name, points) in xs {
                    let label = metric_label(x, name, r);
                    let Some((_, against)) =
                        ys.iter().find(|(n, _)| metric_label(y, n, r) == label)
                    else {
                        continue;
                    };
                    let pairs = reports::chart::paired(points, against);
                    if !pairs.is_empty() {
                        series.push(Series {
                            name: line_name(&label, &variant_tag(r, many), one),
                            points: pairs,
                        });
                    }
                }
            }
            let title = at_most(&mut series, c.title);
            let (x_axis, y_axis) = scaled_axes(&mut series, (x_name, x_unit), (y_name, y_unit));
            (!series.is_empty()).then(|| Chart::Scatter {
                title,
                x: x_axis,
                y: y_axis,
                series,
            })
        }
        ChartSource::Curve {
            metrics,
            x_name,
            x_unit,
            y_name,
            y_unit,
        } => {
            let found: Vec<_> = runs.iter().map(|r| matching_curves(r, metrics)).collect();
            let one = found.iter().all(|f| f.len() <= 1);
            let mut series = Vec::new();
            for (r, f) in runs.iter().zip(&found) {
                let tag = variant_tag(r, many);
                for (name, points) in f {
                    series.push(Series {
                        name: line_name(&metric_label(metrics, name, r), &tag, one),
                        points: points.to_vec(),
                    });
                }
            }
            let title = at_most(&mut series, c.title);
            let (x, y) = scaled_axes(&mut series, (x_name, x_unit), (y_name, y_unit));
            (!series.is_empty()).then(|| Chart::Curve {
                title,
                x,
                y,
                series,
            })
        }
        ChartSource::Rate {
            group,
            category,
            suffix,
            y_name,
        } => {
            let mut series = Vec::new();
            for r in runs {
                let Some(tl) = &r.result.timeline else {
                    continue;
                };
                let ends: Vec<u64> = tl
                    .in_group(group, category)
                    .filter(|(_, m)| m.name.ends_with(suffix))
                    .map(|(_, m)| m.end.unwrap_or(m.at).as_nanos())
                    .collect();
                if ends.is_empty() {
                    continue;
                }
                let end = end_ns(r).max(1);
                let window = (end / 100).max(1_000_000);
                let windows = end.div_ceil(window).max(1) as usize;
                let mut counts = vec![0u64; windows];
                for e in ends {
                    counts[((e / window) as usize).min(windows - 1)] += 1;
                }
                let points = counts
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| {
                        // The last window may be cut short by the end of the run.
                        let start = i as u64 * window;
                        let len = (start + window).min(end).saturating_sub(start).max(1);
                        let mid = start as f64 + len as f64 / 2.0;
                        (mid / t_unit.ns, n as f64 * 1e9 / len as f64)
                    })
                    .collect();
                series.push(Series {
                    name: line_name("completed ok", &variant_tag(r, many), true),
                    points,
                });
            }
            let title = at_most(&mut series, c.title);
            (!series.is_empty()).then(|| Chart::TimeSeries {
                title,
                x: Axis::new("simulated time", t_unit.name),
                y: Axis::new(y_name, "per second"),
                series,
            })
        }
        _ => None,
    }
}

/// The axes of `series`' x and y (each a name and a unit, as [`value_axis`] takes them), with
/// every point divided into the axes' units.
fn scaled_axes(series: &mut [Series], x: (&str, &str), y: (&str, &str)) -> (Axis, Axis) {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x_axis, x_per) = value_axis(x.0, x.1, all().map(|p| p.0));
    let (y_axis, y_per) = value_axis(y.0, y.1, all().map(|p| p.1));
    for s in series.iter_mut() {
        for p in &mut s.points {
            *p = (p.0 / x_per, p.1 / y_per);
        }
    }
    (x_axis, y_axis)
}

/// Binary size units, largest first, for an axis of bytes.
const SIZE_UNITS: [(&str, f64); 4] = [
    ("TiB", (1u64 << 40) as f64),
    ("GiB", (1u64 << 30) as f64),
    ("MiB", (1u64 << 20) as f64),
    ("KiB", 1024.0),
];

/// The axis of a quantity with these `values`, and what to divide each value by: a unit of `ns`
/// is a duration, shown in the largest unit in which the largest value is at least 1
/// ([`unit_for`]); one of `B` a size, shown likewise in B, KiB, MiB, GiB or TiB (a cache of
/// 64 MiB reads `64`, not `67.1M`); any other unit is shown as it is.
fn value_axis(name: &str, unit: &str, values: impl Iterator<Item = f64>) -> (Axis, f64) {
    let max = || values.filter(|v| v.is_finite()).fold(0.0, f64::max);
    match unit {
        "ns" => {
            let t = unit_for(max());
            (Axis::new(name, t.name), t.ns)
        }
        "B" => {
            let max = max();
            let (unit, per) = SIZE_UNITS
                .into_iter()
                .find(|(_, per)| max >= *per)
                .unwrap_or(("B", 1.0));
            (Axis::new(name, unit), per)
        }
        _ => (Axis::new(name, unit), 1.0),
    }
}

/// A chart of one run: a Gantt chart, a timeline, or bars per component.
fn per_run_chart(c: &ChartSpec, r: &RunReport, tag: &str) -> Option<Chart> {
    let t_unit = unit_for(end_ns(r) as f64);
    let x = |ns: u64| ns as f64 / t_unit.ns;
    match c.source {
        ChartSource::Gantt {
            group,
            category,
            row_axis,
        } => {
            let tl = r.result.timeline.as_ref()?;
            let mut bars: Vec<GanttBar> = tl
                .in_group(group, category)
                .map(|(row, m)| GanttBar {
                    row: row.to_string(),
                    start: x(m.at.as_nanos()),
                    end: x(m.end.unwrap_or(m.at).as_nanos()),
                    item: m.name.clone(),
                })
                .collect();
            // Rows in name order (cpu0, cpu1, ...), whatever order they first ran in.
            let mut rows: Vec<String> = tl
                .tracks()
                .iter()
                .filter(|t| t.group == group)
                .map(|t| t.name.clone())
                .collect();
            rows.sort_by(|a, b| natural(a).cmp(&natural(b)));
            bars.sort_by_key(|b| rows.iter().position(|r| *r == b.row));
            (!bars.is_empty()).then(|| Chart::Gantt {
                title: title_with(c.title, tag),
                x: Axis::new("simulated time", t_unit.name),
                row_axis: row_axis.to_string(),
                bars,
            })
        }
        ChartSource::Timeline {
            group,
            categories,
            row_bands,
            global_bands,
            markers,
            row_axis,
        } => {
            let tl = r.result.timeline.as_ref()?;
            let rows: Vec<String> = tl
                .tracks()
                .iter()
                .filter(|t| t.group == group)
                .map(|t| t.name.clone())
                .collect();
            let row_names: std::collections::BTreeSet<&str> =
                rows.iter().map(String::as_str).collect();
            let mut spans = Vec::new();
            let mut bands = Vec::new();
            let mut marks = Vec::new();
            for m in tl.marks() {
                let Some(track) = tl.get_track(m.track) else {
                    continue;
                };
                let (start, end) = (x(m.at.as_nanos()), x(m.end.unwrap_or(m.at).as_nanos()));
                let on_row = track.group == group;
                // A row's bands may come from a track of another group named as the row (a
                // node's side of a partition, on the network's track of that node).
                let names_row = || on_row || row_names.contains(track.name.as_str());
                if on_row && categories.contains(&m.category) && m.end.is_some() {
                    let (class, label) = match m.name.split_once(' ') {
                        Some((c, l)) => (c.to_string(), l.to_string()),
                        None => (m.name.clone(), String::new()),
                    };
                    spans.push(TimelineSpan {
                        row: track.name.clone(),
                        start,
                        end,
                        class,
                        label,
                    });
                } else if row_bands.contains(&m.category) && m.end.is_some() && names_row() {
                    bands.push(Band {
                        start,
                        end,
                        label: m.name.clone(),
                        row: Some(track.name.clone()),
                    });
                } else if global_bands.contains(&m.category) && m.end.is_some() {
                    // One legend entry for every band of the kind (the marker at its start
                    // names its shape).
                    bands.push(Band {
                        start,
                        end,
                        label: m.category.to_string(),
                        row: None,
                    });
                } else if m.category == markers && m.end.is_none() {
                    marks.push(Marker {
                        at: start,
                        label: m.name.clone(),
                    });
                }
            }
            (!spans.is_empty()).then(|| Chart::Timeline {
                title: title_with(c.title, tag),
                x: Axis::new("simulated time", t_unit.name),
                row_axis: row_axis.to_string(),
                rows,
                spans,
                bands,
                markers: marks,
            })
        }
        ChartSource::Bars {
            metrics,
            stat,
            y_name,
        } => {
            // Components that have every metric: `a.response`, `a.turnaround`, `a.wait`.
            let snapshot = &r.result.metrics;
            let mut components: Vec<&str> = snapshot
                .0
                .keys()
                .filter_map(|n| n.strip_suffix(&format!(".{}", metrics.first()?)))
                .filter(|c| {
                    metrics
                        .iter()
                        .all(|m| hist_count(snapshot, &format!("{c}.{m}")) > 0)
                })
                .collect();
            components.sort_by(|a, b| natural(a).cmp(&natural(b)));
            if components.is_empty() {
                return None;
            }
            let values = |m: &str| -> Vec<f64> {
                components
                    .iter()
                    .map(|c| stat_of(snapshot, &format!("{c}.{m}"), stat))
                    .collect()
            };
            let raw: Vec<(String, Vec<f64>)> = metrics
                .iter()
                .map(|m| (format!("{stat} {m}"), values(m)))
                .collect();
            let max = raw
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max);
            let unit = unit_for(max);
            Some(Chart::Bars {
                title: title_with(c.title, tag),
                x: "component".to_string(),
                y: Axis::new(y_name, unit.name),
                notes: Vec::new(),
                categories: components.iter().map(|c| c.to_string()).collect(),
                series: raw
                    .into_iter()
                    .map(|(name, v)| BarSeries {
                        name,
                        values: v.into_iter().map(|x| x / unit.ns).collect(),
                    })
                    .collect(),
            })
        }
        _ => None,
    }
}

/// Grouped bars across a sweep's variants.
fn sweep_bars(c: &ChartSpec, runs: &[RunReport]) -> Option<Chart> {
    let ChartSource::SweepBars {
        metrics,
        stats,
        y_name,
        none,
    } = c.source
    else {
        return None;
    };
    // Every metric name any run has that matches, in name order.
    let mut names: Vec<&str> = Vec::new();
    for r in runs {
        for n in r.result.metrics.0.keys() {
            if metrics.iter().any(|p| metric_matches(p, n, r)) && !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
    }
    names.sort();
    let mut series = Vec::new();
    for n in &names {
        for s in stats.iter() {
            let values: Vec<f64> = runs
                .iter()
                .map(|r| match r.result.metrics.get(n) {
                    // A histogram without a sample has no statistic to show ("never").
                    Some(MetricValue::Histogram { count: 0, .. }) | None => f64::NAN,
                    Some(_) => stat_of(&r.result.metrics, n, s),
                })
                .collect();
            if values.iter().any(|v| v.is_finite()) {
                // The statistic alone when there is one metric: `p50`, not `p50 cluster.x`.
                let name = if names.len() == 1 {
                    s.to_string()
                } else {
                    format!("{s} {n}")
                };
                series.push((name, values));
            }
        }
    }
    if series.is_empty() {
        return None;
    }
    let title = at_most(&mut series, c.title);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // Durations in the unit their largest value needs; other values (a gauge's ratio) as they are.
    let durations = names.iter().all(|n| {
        runs.iter()
            .filter_map(|r| r.result.metrics.get(n))
            .all(MetricValue::is_duration)
    });
    let unit = if durations {
        unit_for(max)
    } else {
        TimeUnit { name: "", ns: 1.0 }
    };
    // A variant with no sample at all says so in its slot: "never" is not zero.
    let mut notes = vec![String::new(); runs.len()];
    for p in metrics.iter() {
        for r in runs_with_none(runs, p, none) {
            if let Some(k) = runs.iter().position(|x| std::ptr::eq(x, r)) {
                notes[k] = format!("{none}\n(none in {})", show(end_ns(r) as f64, true));
            }
        }
    }
    Some(Chart::Bars {
        title,
        x: sweep_axis(runs),
        y: Axis::new(y_name, unit.name),
        categories: runs.iter().map(variant_values).collect(),
        notes,
        series: series
            .into_iter()
            .map(|(name, v)| BarSeries {
                name,
                values: v.into_iter().map(|x| x / unit.ns).collect(),
            })
            .collect(),
    })
}

/// What the sweep varies: the swept properties' names (`quantum`), as [`variant_tag`] names them.
fn sweep_axis(runs: &[RunReport]) -> String {
    let pairs = runs.first().map(swept).unwrap_or_default();
    let names: Vec<&str> = swept_names(&pairs)
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        "variant".to_string()
    } else {
        names.join(", ")
    }
}

fn hist_count(m: &MetricsSnapshot, name: &str) -> u64 {
    match m.get(name) {
        Some(MetricValue::Histogram { count, .. }) => *count,
        _ => 0,
    }
}

fn stat_of(m: &MetricsSnapshot, name: &str, stat: &str) -> f64 {
    m.get(name).and_then(|v| v.stat(stat)).unwrap_or(f64::NAN)
}

/// A sort key that puts `cpu2` before `cpu10` and `n2` before `n10`.
fn natural(s: &str) -> (String, u64, String) {
    let digits_at = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (head, rest) = s.split_at(digits_at);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let n = rest[..end].parse::<u64>().unwrap_or(0);
    (head.to_string(), n, rest[end..].to_string())
}

/// The stem of the chart that puts the kernel's schedule above the simulator's
/// (`kernel-vs-sim-N` for run N of a sweep).
pub const KERNEL_CHART: &str = "kernel-vs-sim";
/// Its title (with the variant's tag in a sweep).
pub const KERNEL_CHART_TITLE: &str = "kernel (QEMU) and simulator: jobs on the CPU";
/// A kernel trace larger than this is refused (the kernel's own trace of a mix is far smaller).
pub const KERNEL_TRACE_MAX_BYTES: u64 = 64 << 20;

/// Where run `n` (1-based) of `runs` runs of page `id` has its kernel trace: `DIR/ID.txt` for a
/// scenario of one run, `DIR/ID-N.txt` in a sweep; what `native run --target kernel
/// --save-trace DIR/ID.txt` writes.
pub fn kernel_trace_path(dir: &Path, id: &str, n: usize, runs: usize) -> PathBuf {
    let one = dir.join(format!("{id}.txt"));
    if runs > 1 { numbered(&one, n) } else { one }
}

/// What a kernel trace says, as far as the chart needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelTrace {
    /// Each `run` record: (job, start, end), ns since the mix started, in the trace's order.
    pub runs: Vec<(usize, u64, u64)>,
    /// The tick of the `boot` record.
    pub tick: u64,
    /// The message of a `fail` record.
    pub failed: Option<String>,
}

/// Parses the text of a kernel trace of a mix of `jobs` jobs; `path` names it in errors. Lines
/// that are not trace lines (`simk-log ...`, boot messages) are skipped. On top of what
/// `ktrace::read` checks of every trace, a chart needs the boot record's mix to be the
/// scenario's and at least one run.
pub fn parse_kernel_trace(path: &str, text: &str, jobs: usize) -> Result<KernelTrace, ReportError> {
    let at = |line: usize, message: String| ReportError::KernelTraceLine {
        path: path.to_string(),
        line,
        message,
    };
    let whole = |message: String| ReportError::KernelTrace {
        path: path.to_string(),
        message,
    };
    let t = ktrace::read(text).map_err(|e| at(e.line, e.message))?;
    let Some(boot) = t.boot else {
        return Err(whole(
            "no `simk boot` record, so nothing says which mix it ran".to_string(),
        ));
    };
    if boot.jobs as usize != jobs {
        return Err(at(
            boot.line,
            format!(
                "the kernel ran {} jobs but the scenario has {jobs} (a trace of another scenario?)",
                boot.jobs
            ),
        ));
    }
    if t.runs.is_empty() {
        let why = match &t.fail {
            Some(m) => format!(" (the kernel failed: {m})"),
            None => String::new(),
        };
        return Err(whole(format!(
            "no `simk run` records, so no kernel schedule to draw{why}"
        )));
    }
    Ok(KernelTrace {
        runs: t
            .runs
            .iter()
            .map(|r| (r.job as usize, r.start, r.end))
            .collect(),
        tick: boot.tick,
        failed: t.fail,
    })
}

/// The text of the kernel trace at `path`: `None` when there is none.
fn read_kernel_trace(path: &Path) -> Result<Option<String>, ReportError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let whole = |message: String| ReportError::KernelTrace {
        path: path.display().to_string(),
        message,
    };
    if meta.is_dir() {
        return Err(whole("is a directory, not a kernel trace".to_string()));
    }
    if meta.len() > KERNEL_TRACE_MAX_BYTES {
        return Err(whole(format!(
            "larger than {} MiB; not a kernel trace",
            KERNEL_TRACE_MAX_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    // Serial output may hold stray bytes; a trace line with one fails to parse, naming its line.
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The names of the jobs of run `index` (0-based) of a CPU scheduling scenario, by job id (the
/// order of `CpuConfig::jobs`, which the kernel's job ids follow).
fn job_names(file: &Path, index: usize, seed: u64) -> Result<Vec<String>, ReportError> {
    let problem = |message: String| ReportError::KernelTrace {
        path: file.display().to_string(),
        message,
    };
    let joined = |d: Vec<crate::Diagnostic>| {
        problem(
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    let scenario = crate::load(file).map_err(|e| problem(e.to_string()))?;
    let variants = crate::sweep::variants(&scenario).map_err(joined)?;
    if index >= variants.len() {
        return Err(problem(format!(
            "changed while the report ran: run {} of {} is gone",
            index + 1,
            variants.len()
        )));
    }
    let checked = crate::check::check(&variants.get(index).scenario).map_err(joined)?;
    let wired = crate::wire::wire(&checked, seed).map_err(joined)?;
    let cpu = wired
        .world
        .cpus
        .into_iter()
        .next()
        .ok_or_else(|| problem("changed while the report ran: it has no `cpu` block".into()))?;
    Ok(cpu.1.jobs.into_iter().map(|j| j.name).collect())
}

/// The kernel-vs-simulator charts of one CPU scheduling scenario's runs (the first
/// [`PER_RUN_CHARTS_MAX`]): one per run with a trace in `dir`, with stems unique among
/// `planned`'s.
fn kernel_charts(
    file: &Path,
    id: &str,
    runs: &[RunReport],
    dir: &Path,
    planned: &[PlannedChart],
) -> Result<Vec<PlannedChart>, ReportError> {
    let mut out: Vec<PlannedChart> = Vec::new();
    if runs.first().is_none_or(|r| r.models != ["cpu"]) {
        return Ok(out);
    }
    let many = runs.len() > 1;
    for (k, r) in runs.iter().take(PER_RUN_CHARTS_MAX).enumerate() {
        let path = kernel_trace_path(dir, id, k + 1, runs.len());
        let Some(text) = read_kernel_trace(&path)? else {
            continue;
        };
        let names = job_names(file, k, r.seed)?;
        let trace = parse_kernel_trace(&path.display().to_string(), &text, names.len())?;
        let tag = variant_tag(r, many);
        let base = if many {
            format!("{KERNEL_CHART}-{}", k + 1)
        } else {
            KERNEL_CHART.to_string()
        };
        let taken = |s: &str| planned.iter().chain(&out).any(|c| c.stem == s);
        let mut stem = base.clone();
        let mut n = 2;
        while taken(&stem) {
            stem = format!("{base}-{n}");
            n += 1;
        }
        let trace_name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        out.push(PlannedChart {
            stem,
            doc: kernel_doc(&trace_name, &trace),
            chart: kernel_chart(r, &trace, &names, &tag),
        });
    }
    Ok(out)
}

fn kernel_doc(trace_name: &str, trace: &KernelTrace) -> String {
    let tick = format!(" (every {})", show(trace.tick as f64, true));
    let mut doc = format!(
        "The same job mix twice, on one time axis from the start of the mix. On top, the \
         bare-metal kernel (kernel/) booted in QEMU with this scenario's policy and jobs: the run \
         records of {trace_name}, its serial output as saved by native run FILE.scn --target \
         kernel --save-trace. Below, the simulator's schedule of this run (as in the schedule \
         chart). The kernel's arrivals, I/O completions and slices wait for its timer tick{tick} \
         and its context switches cost real time, so its bars start and end a little later."
    );
    if let Some(m) = &trace.failed {
        doc.push_str(&format!(" The kernel reported a failure: {m}"));
    }
    doc
}

/// The Gantt chart of row `kernel` (the trace's runs) above row `simulator` (the run's
/// `cpus`/`cpu0` run spans), bars coloured by job name.
fn kernel_chart(r: &RunReport, trace: &KernelTrace, names: &[String], tag: &str) -> Chart {
    let sim: Vec<(u64, u64, &str)> = r
        .result
        .timeline
        .as_ref()
        .map(|tl| {
            tl.in_group("cpus", "run")
                .filter(|(track, _)| *track == "cpu0")
                .map(|(_, m)| {
                    (
                        m.at.as_nanos(),
                        m.end.unwrap_or(m.at).as_nanos(),
                        m.name.as_str(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let longest = trace
        .runs
        .iter()
        .map(|&(_, _, e)| e)
        .chain(sim.iter().map(|&(_, e, _)| e))
        .max()
        .unwrap_or(0);
    let unit = unit_for(longest as f64);
    let x = |ns: u64| ns as f64 / unit.ns;
    // The kernel's bars first: rows are drawn in order of first appearance, top down.
    let mut bars: Vec<GanttBar> = trace
        .runs
        .iter()
        .map(|&(job, start, end)| GanttBar {
            row: "kernel".to_string(),
            start: x(start),
            end: x(end),
            item: names[job].clone(),
        })
        .collect();
    bars.extend(sim.iter().map(|&(start, end, name)| GanttBar {
        row: "simulator".to_string(),
        start: x(start),
        end: x(end),
        item: name.to_string(),
    }));
    Chart::Gantt {
        title: title_with(KERNEL_CHART_TITLE, tag),
        x: Axis::new("time since the mix started", unit.name),
        row_axis: "schedule".to_string(),
        bars,
    }
}

/// The model families a run used, in `MODELS` order.
pub fn families(run: &RunReport) -> Vec<&'static ModelSpec> {
    MODELS
        .iter()
        .copied()
        .filter(|m| run.models.contains(&m.name))
        .collect()
}

/// The family of a run's services (its first besides the world's hosts and network), if any.
pub fn family(run: &RunReport) -> Option<&'static ModelSpec> {
    families(run).into_iter().find(|m| m.name != "world")
}

/// The charts of runs that use several families: each family's, a stem that another family's
/// chart took first prefixed with the family's name (`cpu-sweep`).
pub fn plan_all_charts(runs: &[RunReport]) -> Vec<PlannedChart> {
    let mut out: Vec<PlannedChart> = Vec::new();
    for spec in runs.first().map(families).unwrap_or_default() {
        for mut c in plan_charts(spec, runs) {
            if out.iter().any(|o| o.stem == c.stem) {
                c.stem = format!("{}-{}", spec.name, c.stem);
            }
            out.push(c);
        }
    }
    out
}

/// The Chrome Trace Event JSON of a recorded run: its timeline, and its gauges and series as
/// counters.
pub fn chrome_json(r: &RunReport) -> String {
    let mut counters = r.result.metrics.clone();
    counters
        .0
        .retain(|_, v| matches!(v, MetricValue::Series { .. }));
    for (name, points) in &r.result.gauges {
        counters.0.insert(
            name.clone(),
            MetricValue::Series {
                offered: points.len() as u64,
                points: points.clone(),
            },
        );
    }
    let empty = simcore::Timeline::new();
    let meta = reports::chrome::TraceMeta {
        scenario: r.scenario.clone(),
        file: r.file.clone(),
        seed: r.seed,
        trace_hash: format_hash(r.result.trace_hash),
        variant: r.variant.clone(),
    };
    reports::chrome::chrome_trace(
        r.result.timeline.as_ref().unwrap_or(&empty),
        &counters,
        &meta,
    )
}

/// The JSON summary of one scenario's runs: everything `sim run --json` prints but the wall
/// time and speed (which differ from run to run), and the charts drawn.
pub fn summary_json(runs: &[RunReport], charts: &[ChartFile]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "scenario": r.scenario,
                "file": r.file,
                "variant": r.variant,
                "seed": r.seed,
                "events": r.events,
                "sim_time_ns": r.result.end_time.as_nanos(),
                "stop_reason": stop_reason_name(r.result.stop_reason),
                "trace_hash": format_hash(r.result.trace_hash),
                "ok": r.ok(),
                "metrics": r.result.metrics,
                "checks": r.checks,
                "violations": r.result.violations,
                "violations_total": r.result.violations_total,
                "timeline_dropped_marks": r.result.timeline.as_ref().map_or(0, |t| t.dropped()),
                "replay": r.replay_command(),
            })
        })
        .collect();
    let charts: Vec<serde_json::Value> = charts
        .iter()
        .map(|c| serde_json::json!({"title": c.title, "kind": c.kind, "svg": c.svg, "png": c.png}))
        .collect();
    serde_json::json!({ "runs": runs, "charts": charts })
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("chart \"{title}\" of {scenario}: {source}")]
    Chart {
        scenario: String,
        title: String,
        source: reports::ReportError,
    },
    /// A line of a kernel trace that cannot be drawn: it does not parse, names a job the
    /// scenario does not have, or has a run that ends before it starts (`line` is 1-based).
    #[error("{path}:{line}: {message}")]
    KernelTraceLine {
        path: String,
        line: usize,
        message: String,
    },
    /// A kernel trace (or the directory of them) that cannot be used as a whole.
    #[error("{path}: {message}")]
    KernelTrace { path: String, message: String },
}

/// What happened to one scenario of a report.
#[derive(Debug)]
pub struct ScenarioOutcome {
    pub file: PathBuf,
    pub id: String,
    /// The runs' reports, or why the scenario could not run.
    pub runs: Result<Vec<RunReport>, ScenarioError>,
    pub charts: usize,
}

impl ScenarioOutcome {
    pub fn ok(&self) -> bool {
        self.runs.as_ref().is_ok_and(|r| r.iter().all(|r| r.ok()))
    }
}

/// A report's result: every scenario's outcome, in the order given, and the gallery's path.
#[derive(Debug)]
pub struct ReportOutcome {
    pub scenarios: Vec<ScenarioOutcome>,
    pub index: PathBuf,
}

/// Directory names for the files: each file's stem, made unique with `-2`, `-3`, ...
fn page_ids(files: &[PathBuf]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for f in files {
        let stem: String = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut id = stem.clone();
        let mut k = 2;
        while ids.contains(&id) {
            id = format!("{stem}-{k}");
            k += 1;
        }
        ids.push(id);
    }
    ids
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Runs every scenario of `files` (in parallel) with recording on and writes the report into
/// `out`: `ID/CHART.svg` and `.png` and `ID/summary.json` per scenario, then `index.html`.
/// `tick` is called once per scenario run and once per chart drawn (for a progress bar);
/// `planned` is told how many ticks to expect as soon as it is known.
pub fn write_report(
    files: &[PathBuf],
    out: &Path,
    command: &str,
    tick: &(dyn Fn() + Sync),
    planned: &(dyn Fn(u64) + Sync),
) -> Result<ReportOutcome, ReportError> {
    write_report_with(files, out, command, tick, planned, None)
}

/// [`write_report`], and with `kernel_traces` a directory of kernel traces: each CPU scheduling
/// scenario with a trace there (`DIR/ID.txt`, or `DIR/ID-N.txt` for run N of a sweep; see
/// [`kernel_trace_path`]) gets a [`KERNEL_CHART`] chart per traced run. A directory that is
/// not one, or a trace that cannot be drawn, is an error before any chart is written.
pub fn write_report_with(
    files: &[PathBuf],
    out: &Path,
    command: &str,
    tick: &(dyn Fn() + Sync),
    planned: &(dyn Fn(u64) + Sync),
    kernel_traces: Option<&Path>,
) -> Result<ReportOutcome, ReportError> {
    if let Some(dir) = kernel_traces {
        if !dir.is_dir() {
            return Err(ReportError::KernelTrace {
                path: dir.display().to_string(),
                message: "no such directory (--kernel-traces names a directory of kernel traces)"
                    .to_string(),
            });
        }
    }
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let ids = page_ids(files);
    let opts = RunOptions {
        record: true,
        ..RunOptions::default()
    };
    planned(files.len() as u64);
    let ran: Vec<Result<Vec<RunReport>, ScenarioError>> = files
        .par_iter()
        .map(|f| {
            let r = run_file(f, &opts);
            tick();
            r
        })
        .collect();
    let mut plans: Vec<Vec<PlannedChart>> = ran
        .iter()
        .map(|r| match r {
            Ok(runs) => plan_all_charts(runs),
            Err(_) => Vec::new(),
        })
        .collect();
    if let Some(dir) = kernel_traces {
        // In file order, before anything is drawn: a bad trace fails the report with nothing
        // written but the directory.
        for ((file, id), (runs, plan)) in files.iter().zip(&ids).zip(ran.iter().zip(&mut plans)) {
            if let Ok(runs) = runs {
                let extra = kernel_charts(file, id, runs, dir, plan)?;
                plan.extend(extra);
            }
        }
    }
    planned(plans.iter().map(|p| p.len() as u64).sum());
    // Draw and write every chart, all scenarios' at once.
    let jobs: Vec<(usize, &PlannedChart)> = plans
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.iter().map(move |c| (i, c)))
        .collect();
    let drawn: Vec<Result<ChartFile, ReportError>> = jobs
        .par_iter()
        .map(|(i, c)| {
            let r = draw_chart(out, &ids[*i], c);
            tick();
            r
        })
        .collect();
    let mut files_of: Vec<Vec<ChartFile>> = vec![Vec::new(); files.len()];
    for ((i, _), d) in jobs.iter().zip(drawn) {
        files_of[*i].push(d?);
    }
    let mut pages = Vec::new();
    let mut outcomes = Vec::new();
    for (((file, id), runs), charts) in files.iter().zip(&ids).zip(ran).zip(files_of) {
        // Read with the loader's size limit: the page shows what the run read.
        let source = crate::source::read_text(file).unwrap_or_else(|e| format!("({e})"));
        let page = match &runs {
            Ok(runs) => {
                let dir = out.join(id);
                std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
                let json = summary_json(runs, &charts);
                let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
                let path = dir.join("summary.json");
                write_atomically(&path, text.as_bytes()).map_err(io_err(&path))?;
                Page {
                    id: id.clone(),
                    scenario: runs.first().map(|r| r.scenario.clone()).unwrap_or_default(),
                    file: file.display().to_string(),
                    source,
                    runs: runs.iter().map(run_summary).collect(),
                    charts: charts.clone(),
                    error: None,
                }
            }
            Err(e) => Page {
                id: id.clone(),
                scenario: id.clone(),
                file: file.display().to_string(),
                source,
                runs: Vec::new(),
                charts: Vec::new(),
                error: Some(e.to_string()),
            },
        };
        pages.push(page);
        outcomes.push(ScenarioOutcome {
            file: file.clone(),
            id: id.clone(),
            runs,
            charts: charts.len(),
        });
    }
    let gallery = Gallery {
        title: "sim report".to_string(),
        command: command.to_string(),
        pages,
    };
    let index = out.join("index.html");
    let html = reports::gallery::index_html(&gallery);
    write_atomically(&index, html.as_bytes()).map_err(io_err(&index))?;
    Ok(ReportOutcome {
        scenarios: outcomes,
        index,
    })
}

fn draw_chart(out: &Path, id: &str, c: &PlannedChart) -> Result<ChartFile, ReportError> {
    let dir = out.join(id);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let err = |source| ReportError::Chart {
        scenario: id.to_string(),
        title: c.chart.title().to_string(),
        source,
    };
    let svg = reports::render_svg(&c.chart, CHART_WIDTH_PX, CHART_HEIGHT_PX).map_err(err)?;
    let png = reports::render_png(&c.chart, CHART_WIDTH_PX, CHART_HEIGHT_PX).map_err(err)?;
    let svg_path = dir.join(format!("{}.svg", c.stem));
    let png_path = dir.join(format!("{}.png", c.stem));
    write_atomically(&svg_path, svg.as_bytes()).map_err(io_err(&svg_path))?;
    write_atomically(&png_path, &png).map_err(io_err(&png_path))?;
    Ok(ChartFile {
        title: c.chart.title().to_string(),
        kind: c.chart.kind_name().to_string(),
        svg: format!("{id}/{}.svg", c.stem),
        png: format!("{id}/{}.png", c.stem),
        doc: c.doc.clone(),
    })
}

/// A row saying how many timeline marks were past the bound (charts of that run miss them).
fn dropped_row(r: &RunReport) -> Option<(String, String)> {
    let dropped = r.result.timeline.as_ref().map_or(0, |t| t.dropped());
    (dropped > 0).then(|| {
        (
            "timeline".to_string(),
            format!(
                "{dropped} marks past the bound of {} per kind were not kept; charts of this run miss them",
                simcore::timeline::MARKS_PER_CATEGORY_MAX
            ),
        )
    })
}

fn run_summary(r: &RunReport) -> RunSummary {
    RunSummary {
        variant: r.variant.clone(),
        seed: r.seed,
        ok: r.ok(),
        events: r.events,
        sim_time: show(r.result.end_time.as_nanos() as f64, true),
        trace_hash: format_hash(r.result.trace_hash),
        replay: r.replay_command(),
        metrics: metrics_table(&r.result.metrics)
            .into_iter()
            .map(|line| match line.split_once(char::is_whitespace) {
                Some((name, value)) => (name.to_string(), value.trim().to_string()),
                None => (line, String::new()),
            })
            .chain(dropped_row(r))
            .collect(),
        checks: r
            .checks
            .iter()
            .map(|c| CheckRow {
                check: c.check.clone(),
                held: c.held,
                actual: show(c.actual, c.is_duration),
            })
            .collect(),
        violations: r
            .result
            .violations
            .iter()
            .filter(|v| !r.checks.iter().any(|c| c.check == v.check))
            .map(|v| {
                format!(
                    "{} at {}: {}",
                    v.check,
                    show(v.time_ns as f64, true),
                    v.detail
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_numbers_short() {
        assert_eq!(unit_for(30e9).name, "s");
        assert_eq!(unit_for(300e9).name, "s");
        assert_eq!(unit_for(150e6).name, "ms");
        assert_eq!(unit_for(5e6).name, "ms");
        assert_eq!(unit_for(5e3).name, "us");
        assert_eq!(unit_for(500.0).name, "ns");
    }

    #[test]
    fn sizes_are_drawn_in_binary_units() {
        let axis = |unit: &str, values: &[f64]| {
            let (a, per) = value_axis("cache size", unit, values.iter().copied());
            (a.unit, per)
        };
        assert_eq!(axis("B", &[512.0, 1000.0]), ("B".to_string(), 1.0));
        assert_eq!(axis("B", &[1024.0, 4096.0]), ("KiB".to_string(), 1024.0));
        let mib = (1u64 << 20) as f64;
        assert_eq!(axis("B", &[4096.0, 64.0 * mib]), ("MiB".to_string(), mib));
        assert_eq!(axis("B", &[3.0 * 1024.0 * mib]).0, "GiB");
        assert_eq!(axis("ns", &[5e6]), ("ms".to_string(), 1e6));
        assert_eq!(axis("", &[5e6]), (String::new(), 1.0));
        assert_eq!(axis("objects", &[5e6]), ("objects".to_string(), 1.0));
    }

    #[test]
    fn steps_hold_each_value_until_the_next() {
        let u = TimeUnit {
            name: "ns",
            ns: 1.0,
        };
        let s = steps(&[(0, 1.0), (10, 3.0)], 20, u);
        assert_eq!(s, vec![(0.0, 1.0), (10.0, 1.0), (10.0, 3.0), (20.0, 3.0)]);
    }

    #[test]
    fn natural_order_and_unique_ids() {
        let mut v = vec!["cpu10", "cpu2", "cpu1"];
        v.sort_by(|a, b| natural(a).cmp(&natural(b)));
        assert_eq!(v, ["cpu1", "cpu2", "cpu10"]);
        let ids = page_ids(&[
            PathBuf::from("a/x.scn"),
            PathBuf::from("b/x.scn"),
            PathBuf::from("c/we ird.scn"),
        ]);
        assert_eq!(ids, ["x", "x-2", "we-ird"]);
    }
}

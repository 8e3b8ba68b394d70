//! `sim report`'s costs, four ways, in one run:
//!
//! 1. **Recording overhead on the hot path.** `scenarios::run_file` of `scenarios/mm1.scn` and
//!    `scenarios/raft-partition.scn` with `RunOptions { record: true, .. }` (timeline, gauge
//!    histories, distributions) against `RunOptions::default()`, interleaved, median of 7 each,
//!    as a ratio. Also checks that recording changed neither the trace hash, nor the event count,
//!    nor any metric the unrecorded run has (metrics only the recorded run has are listed).
//! 2. **Chart rendering.** `reports::render_svg` and `reports::render_png` at 960x480 px per chart
//!    kind, on data generated here deterministically: a time series of 4 lines x 4096 points, a
//!    CDF of 3 lines x 4096 samples, a Gantt chart of 1,000 bars on 4 rows, a timeline of 5 rows x
//!    2,000 spans with 20 bands and 50 markers, grouped bars of 6 categories x 3 series. Median ms
//!    of 7 per chart per format; for PNG also the time to encode the same pixels alone (decoded
//!    from the rendered PNG, encoded again as `render_png` does), and for each kind the same chart
//!    with minimal data (2 points, samples, bars or spans per series or row: title, axes and
//!    legend only, near enough).
//! 3. **Peer: matplotlib**, `benches/peers/charts_matplotlib.py`, on the same data (written to a
//!    temporary JSON file it reads): the equivalent charts to SVG and PNG at 960x480 px with the
//!    Agg backend, median of 7 each, and the ratio matplotlib / ours per kind and format.
//! 4. **Whole `sim report`.** `scenarios::report::write_report` over every `scenarios/*.scn` into
//!    a temporary directory, median of 3, seconds, with the charts written; its `planned` and
//!    `tick` callbacks split it into running the scenarios and drawing the charts, with the cores
//!    each phase used. Then each file alone, recorded, one at a time (which one the run phase
//!    waits for).
//!
//! Timings are printed, never asserted; the bench fails only when something does not run (or
//! recording changed a run).
//!
//! Run: `cargo bench -p sim-benches --bench report` (about 65 s after the build).
//! Smoke run: `cargo bench -p sim-benches --bench report -- --quick` (one iteration of each, mm1
//! cut to 400,000 events, the report over 3 scenarios).
//! Arguments pick parts (`recording`, `charts`, `matplotlib`, `report`; `matplotlib` draws ours
//! too) and chart kinds (`timeseries`, `cdf`, `gantt`, `timeline`, `bars`) by name; none: all.
//! Environment: `SIM_BENCH_REPS` (parts 1 to 3, default 7), `SIM_BENCH_REPORT_REPS` (part 4,
//! default 3), `SIM_BENCH_PYTHON` (default `python3`). A missing python3 or matplotlib is a
//! "skipped" line, not a failure.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use reports::chart::{
    Axis, Band, BarSeries, Chart, GanttBar, Marker, Samples, Series, TimelineSpan,
};
use scenarios::{RunOptions, RunReport};
use serde_json::{Value, json};
use sim_benches::{cpu_seconds, env_number};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 480;
const DEFAULT_REPS: usize = 7;
const DEFAULT_REPORT_REPS: usize = 3;
/// `--quick` stops mm1.scn after this many events (it has 2·10^6).
const QUICK_MM1_EVENTS: u64 = 400_000;
/// `--quick` reports on these scenarios only.
const QUICK_REPORT_FILES: [&str; 3] = ["mm1.scn", "raft-partition.scn", "sched-rr.scn"];

/// The parts, as named on the command line.
const PARTS: [&str; 4] = ["recording", "charts", "matplotlib", "report"];

struct Settings {
    quick: bool,
    reps: usize,
    report_reps: usize,
    python: String,
    /// Parts to run ([`PARTS`]; `matplotlib` implies `charts`) and chart kinds to draw; empty:
    /// all.
    parts: Vec<String>,
    kinds: Vec<String>,
}

impl Settings {
    fn part(&self, name: &str) -> bool {
        self.parts.is_empty()
            || self.parts.iter().any(|p| p == name)
            || (name == "charts" && self.parts.iter().any(|p| p == "matplotlib"))
    }
    fn kind(&self, name: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == name)
    }
}

fn settings() -> Result<Settings, String> {
    // cargo passes `--bench` (and any filter) to a harness-less bench: ignore what we don't know.
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    let reps =
        env_number::<usize>("SIM_BENCH_REPS")?.unwrap_or(if quick { 1 } else { DEFAULT_REPS });
    let report_reps = env_number::<usize>("SIM_BENCH_REPORT_REPS")?.unwrap_or(if quick {
        1
    } else {
        DEFAULT_REPORT_REPS
    });
    if reps == 0 || report_reps == 0 {
        return Err("SIM_BENCH_REPS and SIM_BENCH_REPORT_REPS must be at least 1".into());
    }
    let python = std::env::var("SIM_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    // Other arguments pick parts and chart kinds by name; cargo's own (`--bench`) start with `--`.
    let (mut parts, mut kinds) = (Vec::new(), Vec::new());
    for a in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
        if PARTS.contains(&a.as_str()) {
            parts.push(a);
        } else if KINDS.contains(&a.as_str()) {
            kinds.push(a);
        } else {
            return Err(format!(
                "unknown argument {a:?}: parts are {}, chart kinds {}",
                PARTS.join(", "),
                KINDS.join(", ")
            ));
        }
    }
    Ok(Settings {
        quick,
        reps,
        report_reps,
        python,
        parts,
        kinds,
    })
}

/// Several timings of one thing, in seconds; the median is reported (robust to one that shared
/// its core with something else, on a 2-core machine), with the range.
#[derive(Default, Clone)]
struct Timings(Vec<f64>);

impl Timings {
    fn median(&self) -> f64 {
        let mut w = self.0.clone();
        w.sort_by(f64::total_cmp);
        w[w.len() / 2]
    }
    fn min(&self) -> f64 {
        self.0.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.0.iter().copied().fold(0.0, f64::max)
    }
    /// "12.3 [11.9..13.0]" in milliseconds.
    fn ms(&self) -> String {
        format!(
            "{:.2} [{:.2}..{:.2}]",
            self.median() * 1e3,
            self.min() * 1e3,
            self.max() * 1e3
        )
    }
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let r = black_box(f());
    (r, started.elapsed().as_secs_f64())
}

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

// ---------------------------------------------------------------------------------------------
// Part 1: recording overhead

/// What one run recorded, for the printout.
#[derive(Default)]
struct Recorded {
    marks: usize,
    gauge_points: usize,
    /// Distinct histogram buckets kept for charts (each with its count).
    distribution_buckets: usize,
}

fn recorded(r: &RunReport) -> Recorded {
    let res = &r.result;
    Recorded {
        marks: res.timeline.as_ref().map_or(0, |t| t.marks().len()),
        gauge_points: res.gauges.values().map(Vec::len).sum(),
        distribution_buckets: res
            .distributions
            .values()
            .map(|h| h.counted().count())
            .sum(),
    }
}

struct Overhead {
    file: &'static str,
    events: u64,
    off: Timings,
    on: Timings,
    recorded: Recorded,
    /// What recording changed in the run (empty: nothing).
    same_runs: String,
    /// Metrics only the recorded run has.
    added_metrics: String,
}

fn one_run(path: &Path, opts: &RunOptions) -> Result<(RunReport, f64), String> {
    let (reports, wall) = time(|| scenarios::run_file(path, opts));
    let mut reports = reports.map_err(|e| format!("{}: {e}", path.display()))?;
    if reports.len() != 1 {
        return Err(format!("{}: expected one run, not a sweep", path.display()));
    }
    Ok((reports.remove(0), wall))
}

/// What recording changed in a run: (changes, additions). A change is the trace hash, the event
/// count or a metric both runs have (compared as JSON, where a NaN, the mean of an empty
/// histogram, equals itself), and fails the bench; an addition is a metric only the recorded run
/// has (a model's series kept only when recording), which is reported.
fn differences(off: &RunReport, on: &RunReport) -> (String, String) {
    let mut changed = Vec::new();
    if off.result.trace_hash != on.result.trace_hash {
        changed.push("trace hash".to_string());
    }
    if off.events != on.events {
        changed.push(format!("events {} vs {}", off.events, on.events));
    }
    let json = |r: &RunReport| -> std::collections::BTreeMap<String, String> {
        r.result
            .metrics
            .0
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_string(v).unwrap_or_default()))
            .collect()
    };
    let (a, b) = (json(off), json(on));
    let metrics: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .collect();
    if !metrics.is_empty() {
        changed.push(format!("metrics {}", metrics.join(", ")));
    }
    let added: Vec<&str> = b
        .keys()
        .filter(|k| !a.contains_key(*k))
        .map(String::as_str)
        .collect();
    (changed.join("; "), added.join(", "))
}

fn overhead(s: &Settings, file: &'static str) -> Result<Overhead, String> {
    let path = repo_path(&format!("scenarios/{file}"));
    let max_events = (s.quick && file == "mm1.scn").then_some(QUICK_MM1_EVENTS);
    let off_opts = RunOptions {
        max_events,
        ..RunOptions::default()
    };
    let on_opts = RunOptions {
        record: true,
        ..off_opts.clone()
    };
    // One warm-up of each (page cache, allocator, the font not involved here).
    let (off_report, _) = one_run(&path, &off_opts)?;
    let (on_report, _) = one_run(&path, &on_opts)?;
    let (same_runs, added_metrics) = differences(&off_report, &on_report);
    let (mut off, mut on) = (Timings::default(), Timings::default());
    // Interleaved, and the order flips each round, so a slow spell hits both alike.
    for k in 0..s.reps {
        let order = if k % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for record in order {
            let opts = if record { &on_opts } else { &off_opts };
            let (_, wall) = one_run(&path, opts)?;
            if record { &mut on } else { &mut off }.0.push(wall);
        }
    }
    Ok(Overhead {
        file,
        events: off_report.events,
        off,
        on,
        recorded: recorded(&on_report),
        same_runs,
        added_metrics,
    })
}

fn part1(s: &Settings) -> Result<bool, String> {
    println!(
        "1. Recording overhead: run_file with record on vs off, interleaved, median of {} each \
         (ms, [range]); same run: the same trace hash, events and metrics",
        s.reps
    );
    println!(
        "{:<20} {:>9} {:>22} {:>22} {:>8} {:>10} {:>9} {:>7} {:>9} {:>9}  same run",
        "scenario",
        "events",
        "record off ms",
        "record on ms",
        "on/off",
        "off ns/ev",
        "on +ns/ev",
        "marks",
        "gauge pts",
        "dist bkts"
    );
    let mut all_same = true;
    for file in ["mm1.scn", "raft-partition.scn"] {
        let o = overhead(s, file)?;
        all_same &= o.same_runs.is_empty();
        println!(
            "{:<20} {:>9} {:>22} {:>22} {:>7.3}x {:>10.1} {:>+9.1} {:>7} {:>9} {:>9}  {}",
            o.file,
            o.events,
            o.off.ms(),
            o.on.ms(),
            o.on.median() / o.off.median(),
            o.off.median() * 1e9 / o.events as f64,
            (o.on.median() - o.off.median()) * 1e9 / o.events as f64,
            o.recorded.marks,
            o.recorded.gauge_points,
            o.recorded.distribution_buckets,
            if o.same_runs.is_empty() {
                "yes".to_string()
            } else {
                format!("NO: recording changed the {}", o.same_runs)
            }
        );
        if !o.added_metrics.is_empty() {
            println!(
                "  {}: metrics only with recording (not a change of the run): {}",
                o.file, o.added_metrics
            );
        }
    }
    Ok(all_same)
}

// ---------------------------------------------------------------------------------------------
// Part 2: the charts' data, generated deterministically

/// SplitMix64: the same numbers on every machine, and nothing to depend on.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Every chart's data, as charts (ours) and as JSON (the peer's).
struct ChartSet {
    /// (kind, full chart, the same chart with minimal data)
    charts: Vec<(&'static str, Chart, Chart)>,
    json: Value,
}

fn axis_json(a: &Axis) -> Value {
    json!({ "name": a.name, "unit": a.unit })
}

fn time_series(rng: &mut Rng, points: usize) -> Chart {
    let series = (0..4)
        .map(|k| {
            // A birth-death walk (a queue length), sampled at jittered instants over 600 s.
            let mut q = 0.0f64;
            let mut t = 0.0;
            let step = 600.0 / points as f64;
            let up = 0.45 + 0.02 * k as f64;
            let pts = (0..points)
                .map(|_| {
                    t += step * (0.5 + rng.unit());
                    q = if rng.unit() < up {
                        q + 1.0
                    } else {
                        (q - 1.0).max(0.0)
                    };
                    (t, q)
                })
                .collect();
            Series {
                name: format!("s{}.queue_len", k + 1),
                points: pts,
            }
        })
        .collect();
    Chart::TimeSeries {
        title: "queue length per station".into(),
        x: Axis::new("time", "s"),
        y: Axis::new("queue length", "customers"),
        series,
    }
}

fn cdf(rng: &mut Rng, n: usize) -> Chart {
    let samples = [("get", 1.0, 0.5), ("put", 1.6, 0.6), ("cas", 2.0, 0.8)]
        .iter()
        .map(|(name, mu, sigma)| {
            // Log-normal latencies in ms.
            let values: Vec<f64> = (0..n).map(|_| (mu + sigma * rng.normal()).exp()).collect();
            Samples::new(name, values)
        })
        .collect();
    Chart::Cdf {
        title: "client operation latency".into(),
        x: Axis::new("latency", "ms"),
        samples,
    }
}

fn gantt(rng: &mut Rng, per_row: usize) -> Chart {
    let mut bars = Vec::new();
    for cpu in 0..4 {
        let mut t = 0.0;
        for _ in 0..per_row {
            t += rng.exp(0.5);
            let d = rng.exp(4.0);
            bars.push(GanttBar {
                row: format!("cpu{cpu}"),
                start: t,
                end: t + d,
                item: format!("job{}", rng.below(20)),
            });
            t += d;
        }
    }
    Chart::Gantt {
        title: "jobs on CPUs".into(),
        x: Axis::new("time", "ms"),
        row_axis: "CPU".into(),
        bars,
    }
}

fn timeline(rng: &mut Rng, per_row: usize, bands: usize, markers: usize) -> Chart {
    const END_S: f64 = 30.0;
    let rows: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    let mut spans = Vec::new();
    for row in &rows {
        let lens: Vec<f64> = (0..per_row).map(|_| rng.exp(1.0)).collect();
        let total: f64 = lens.iter().sum();
        let mut t = 0.0;
        for (term, len) in lens.iter().enumerate() {
            let d = len / total * END_S;
            let class = match rng.below(10) {
                0 => "leader",
                1 | 2 => "candidate",
                _ => "follower",
            };
            spans.push(TimelineSpan {
                row: row.clone(),
                start: t,
                end: t + d,
                class: class.into(),
                label: format!("{class} t{}", term + 1),
            });
            t += d;
        }
    }
    // Three in four across every row (partitions), the rest on one row (crashes).
    let bands = (0..bands)
        .map(|k| {
            let start = rng.unit() * (END_S - 1.0);
            let across = k % 4 != 3;
            Band {
                start,
                end: start + 0.2 + rng.unit() * 0.8,
                label: if across { "partition" } else { "crashed" }.into(),
                row: (!across).then(|| rows[rng.below(rows.len())].clone()),
            }
        })
        .collect();
    let mut at: Vec<f64> = (0..markers).map(|_| rng.unit() * END_S).collect();
    at.sort_by(f64::total_cmp);
    let markers = at
        .into_iter()
        .map(|at| Marker {
            at,
            label: format!("clock skew n{}", 1 + rng.below(5)),
        })
        .collect();
    Chart::Timeline {
        title: "roles over time".into(),
        x: Axis::new("time", "s"),
        row_axis: "node".into(),
        rows,
        spans,
        bands,
        markers,
    }
}

fn bars(rng: &mut Rng) -> Chart {
    let categories: Vec<String> = [1, 2, 5, 10, 20, 50]
        .iter()
        .map(|q| format!("q={q}ms"))
        .collect();
    let series = [("response", 20.0), ("turnaround", 120.0), ("wait", 60.0)]
        .iter()
        .map(|(name, scale)| BarSeries {
            name: name.to_string(),
            values: (0..categories.len())
                .map(|_| scale * (0.5 + rng.unit()))
                .collect(),
        })
        .collect();
    Chart::Bars {
        title: "mean times per quantum".into(),
        x: "variant".into(),
        y: Axis::new("time", "ms"),
        categories,
        series,
        notes: Vec::new(),
    }
}

/// The peer's JSON for one chart (same points; rows and items as indices).
fn chart_json(chart: &Chart) -> Value {
    fn index_of(names: &mut Vec<String>, n: &str) -> usize {
        names.iter().position(|x| x == n).unwrap_or_else(|| {
            names.push(n.to_string());
            names.len() - 1
        })
    }
    match chart {
        // A curve is lines as a time series is (the bench draws none).
        Chart::TimeSeries {
            title,
            x,
            y,
            series,
        }
        | Chart::Curve {
            title,
            x,
            y,
            series,
        } => json!({
            "title": title, "x": axis_json(x), "y": axis_json(y),
            "series": series.iter().map(|s| json!({
                "name": s.name,
                "x": s.points.iter().map(|p| p.0).collect::<Vec<_>>(),
                "y": s.points.iter().map(|p| p.1).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
        Chart::Cdf { title, x, samples } => json!({
            "title": title, "x": axis_json(x),
            "samples": samples.iter().map(|s| json!({
                "name": s.name,
                // Each value as often as it was counted: matplotlib's ecdf takes plain values.
                "values": s.values.iter()
                    .flat_map(|&(v, c)| std::iter::repeat_n(v, c as usize))
                    .collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
        Chart::Gantt {
            title,
            x,
            row_axis,
            bars,
        } => {
            let (mut rows, mut items) = (Vec::new(), Vec::new());
            let bars: Vec<Value> = bars
                .iter()
                .map(|b| {
                    let r = index_of(&mut rows, &b.row);
                    let i = index_of(&mut items, &b.item);
                    json!([r, b.start, b.end, i])
                })
                .collect();
            json!({ "title": title, "x": axis_json(x), "row_axis": row_axis,
                    "rows": rows, "items": items, "bars": bars })
        }
        Chart::Timeline {
            title,
            x,
            row_axis,
            rows,
            spans,
            bands,
            markers,
        } => {
            let (mut rows, mut classes) = (rows.clone(), Vec::new());
            let spans: Vec<Value> = spans
                .iter()
                .map(|s| {
                    let r = index_of(&mut rows, &s.row);
                    let c = index_of(&mut classes, &s.class);
                    json!([r, s.start, s.end, c])
                })
                .collect();
            let bands: Vec<Value> = bands
                .iter()
                .map(|b| {
                    let row = b.row.as_ref().map(|r| index_of(&mut rows, r));
                    json!({ "start": b.start, "end": b.end, "label": b.label, "row": row })
                })
                .collect();
            json!({ "title": title, "x": axis_json(x), "row_axis": row_axis, "rows": rows,
                    "classes": classes, "spans": spans, "bands": bands,
                    "markers": markers.iter().map(|m| json!({ "at": m.at, "label": m.label }))
                        .collect::<Vec<_>>() })
        }
        Chart::Bars {
            title,
            x,
            y,
            categories,
            series,
            ..
        } => json!({
            "title": title, "x": x, "y": axis_json(y), "categories": categories,
            "series": series.iter().map(|s| json!({ "name": s.name, "values": s.values }))
                .collect::<Vec<_>>(),
        }),
        Chart::Histogram { .. } | Chart::Scatter { .. } | Chart::Heatmap { .. } => Value::Null,
    }
}

/// The chart kinds, in the order drawn.
const KINDS: [&str; 5] = ["timeseries", "cdf", "gantt", "timeline", "bars"];

fn chart_set(s: &Settings) -> ChartSet {
    let mut rng = Rng(2026);
    let mut small = Rng(7);
    let mut charts = vec![
        (
            "timeseries",
            time_series(&mut rng, 4096),
            time_series(&mut small, 2),
        ),
        ("cdf", cdf(&mut rng, 4096), cdf(&mut small, 2)),
        ("gantt", gantt(&mut rng, 250), gantt(&mut small, 2)),
        (
            "timeline",
            timeline(&mut rng, 2000, 20, 50),
            timeline(&mut small, 2, 2, 2),
        ),
        ("bars", bars(&mut rng), bars(&mut small)),
    ];
    // Generated all the same, so a kind's data does not depend on which others are drawn.
    charts.retain(|(kind, _, _)| s.kind(kind));
    let json = Value::Object(
        charts
            .iter()
            .map(|(kind, c, _)| (kind.to_string(), chart_json(c)))
            .collect(),
    );
    ChartSet { charts, json }
}

fn describe(kind: &str) -> &'static str {
    match kind {
        "timeseries" => "4 lines x 4096 points",
        "cdf" => "3 lines x 4096 samples",
        "gantt" => "1,000 bars, 4 rows, 20 items",
        "timeline" => "5 rows x 2,000 spans, 20 bands, 50 markers",
        "bars" => "6 categories x 3 series",
        _ => "",
    }
}

/// Our renders of one chart kind.
struct Ours {
    kind: &'static str,
    svg: Timings,
    png: Timings,
    encode: Timings,
    svg_small: Timings,
    png_small: Timings,
    svg_bytes: usize,
    png_bytes: usize,
}

fn encode_png(rgb: &image::RgbImage) -> Result<Vec<u8>, String> {
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        rgb.as_raw(),
        rgb.width(),
        rgb.height(),
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| e.to_string())?;
    Ok(png)
}

fn render_ours(
    s: &Settings,
    kind: &'static str,
    chart: &Chart,
    small: &Chart,
) -> Result<Ours, String> {
    let svg = |c: &Chart| reports::render_svg(c, WIDTH, HEIGHT).map_err(|e| format!("{kind}: {e}"));
    let png = |c: &Chart| reports::render_png(c, WIDTH, HEIGHT).map_err(|e| format!("{kind}: {e}"));
    // A warm-up of each (the font is registered on the first render of the process).
    let (svg_bytes, png_bytes) = (svg(chart)?.len(), png(chart)?);
    let pixels = image::load_from_memory(&png_bytes)
        .map_err(|e| format!("{kind}: decoding our PNG: {e}"))?
        .to_rgb8();
    let reencoded = encode_png(&pixels)?;
    if reencoded != png_bytes {
        println!("  note: {kind}: re-encoding the decoded pixels gave other bytes than render_png");
    }
    svg(small)?;
    png(small)?;
    let mut o = Ours {
        kind,
        svg: Timings::default(),
        png: Timings::default(),
        encode: Timings::default(),
        svg_small: Timings::default(),
        png_small: Timings::default(),
        svg_bytes,
        png_bytes: png_bytes.len(),
    };
    for _ in 0..s.reps {
        o.svg.0.push(time(|| svg(chart)).1);
        o.png.0.push(time(|| png(chart)).1);
        o.encode.0.push(time(|| encode_png(&pixels)).1);
        o.svg_small.0.push(time(|| svg(small)).1);
        o.png_small.0.push(time(|| png(small)).1);
    }
    Ok(o)
}

fn part2(s: &Settings, set: &ChartSet) -> Result<Vec<Ours>, String> {
    println!();
    println!(
        "2. Chart rendering, {WIDTH}x{HEIGHT} px, median of {} (ms, [range]); PNG encode: the \
         same pixels encoded alone; minimal: the same chart with 2 points/samples/bars/spans \
         per series or row",
        s.reps
    );
    println!(
        "{:<11} {:<42} {:>21} {:>21} {:>21} {:>9} {:>9} {:>8} {:>8}",
        "chart",
        "data",
        "SVG",
        "PNG",
        "of which PNG encode",
        "minimal SVG",
        "PNG",
        "SVG KB",
        "PNG KB"
    );
    let mut out = Vec::new();
    for (kind, chart, small) in &set.charts {
        let o = render_ours(s, kind, chart, small)?;
        println!(
            "{:<11} {:<42} {:>21} {:>21} {:>21} {:>11.2} {:>9.2} {:>8.1} {:>8.1}",
            o.kind,
            describe(o.kind),
            o.svg.ms(),
            o.png.ms(),
            o.encode.ms(),
            o.svg_small.median() * 1e3,
            o.png_small.median() * 1e3,
            o.svg_bytes as f64 / 1024.0,
            o.png_bytes as f64 / 1024.0,
        );
        out.push(o);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Part 3: matplotlib

/// The peer's output, or why it was skipped.
fn matplotlib(s: &Settings, set: &ChartSet) -> Result<Value, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/charts_matplotlib.py");
    let data = std::env::temp_dir().join(format!("sim-bench-report-{}.json", std::process::id()));
    std::fs::write(&data, set.json.to_string())
        .map_err(|e| format!("writing {}: {e}", data.display()))?;
    let out = Command::new(&s.python)
        .arg(&script)
        .arg(&data)
        .arg(s.reps.to_string())
        .output();
    let _ = std::fs::remove_file(&data);
    let out = out.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{} not found (set SIM_BENCH_PYTHON)", s.python),
        _ => format!("could not start {}: {e}", s.python),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        let why = last.map_or(String::new(), |l| format!(": {}", l.trim()));
        return Err(match out.status.code() {
            Some(3) => format!(
                "matplotlib is not installed for {} (pip install matplotlib)",
                s.python
            ),
            _ => format!(
                "{} {} failed ({}){why}",
                s.python,
                script.display(),
                out.status
            ),
        });
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line)
        .map_err(|e| format!("unexpected output from {}: {e}", script.display()))
}

fn part3(s: &Settings, set: &ChartSet, ours: &[Ours]) {
    println!();
    println!(
        "3. Peer: matplotlib (Agg) on the same data, same size, median of {} (ms)",
        s.reps
    );
    let peer = match matplotlib(s, set) {
        Ok(v) => v,
        Err(why) => {
            println!("matplotlib: skipped: {why}");
            return;
        }
    };
    println!(
        "matplotlib {}, Python {}; SVG with svg.fonttype \"none\" (text as <text>, as ours), and \
         matplotlib's default \"path\" (glyphs as paths) for reference",
        peer["matplotlib_version"].as_str().unwrap_or("?"),
        peer["python_version"].as_str().unwrap_or("?"),
    );
    println!(
        "{:<11} {:<6} {:>21} {:>25} {:>10}   {:>9} {:>9}",
        "chart", "format", "ours ms", "matplotlib ms", "mpl/ours", "ours KB", "mpl KB"
    );
    for o in ours {
        let formats: [(&str, &str, &Timings, usize); 3] = [
            ("SVG", "svg", &o.svg, o.svg_bytes),
            ("PNG", "png", &o.png, o.png_bytes),
            ("SVG*", "svg_paths", &o.svg, o.svg_bytes),
        ];
        for (label, key, t, bytes) in formats {
            let m = &peer["charts"][o.kind][key];
            let (Some(med), Some(lo), Some(hi)) = (
                m["median_ms"].as_f64(),
                m["min_ms"].as_f64(),
                m["max_ms"].as_f64(),
            ) else {
                println!("{:<11} {:<6} no result from the peer", o.kind, label);
                continue;
            };
            let mpl_kb = m["bytes"].as_f64().unwrap_or(f64::NAN) / 1024.0;
            println!(
                "{:<11} {:<6} {:>21} {:>25} {:>9.1}x   {:>9.1} {:>9.1}",
                o.kind,
                label,
                t.ms(),
                format!("{med:.2} [{lo:.2}..{hi:.2}]"),
                med / (t.median() * 1e3),
                bytes as f64 / 1024.0,
                mpl_kb
            );
        }
    }
    println!("(SVG*: matplotlib's default SVG, text as paths, against our same SVG)");
}

// ---------------------------------------------------------------------------------------------
// Part 4: the whole `sim report`

fn scenario_files(quick: bool) -> Result<Vec<PathBuf>, String> {
    let dir = repo_path("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .filter(|p| {
            !quick
                || p.file_name()
                    .is_some_and(|n| QUICK_REPORT_FILES.iter().any(|q| n == *q))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// One `write_report`: the whole wall time and CPU time, and its phases as the callbacks see them
/// (`planned` is told the scenarios before they run and the charts once the runs are done;
/// `tick` is called after each run and each chart drawn).
struct ReportRun {
    wall: f64,
    cpu: Option<f64>,
    /// Running the scenarios (and planning the charts): from the start to the second `planned`.
    run: (f64, Option<f64>),
    /// Drawing and writing the charts: from there to the last tick.
    draw: (f64, Option<f64>),
}

fn report_once(files: &[PathBuf], out: &Path) -> Result<(ReportRun, ReportCounts), String> {
    use std::sync::Mutex;
    type Stamp = (Instant, Option<f64>);
    let stamp = || (Instant::now(), cpu_seconds());
    let planned_at: Mutex<Vec<Stamp>> = Mutex::new(Vec::new());
    let last_tick: Mutex<Option<Stamp>> = Mutex::new(None);
    let tick = || {
        let now = stamp();
        if let Ok(mut t) = last_tick.lock() {
            *t = Some(now);
        }
    };
    let planned = |_: u64| {
        let now = stamp();
        if let Ok(mut p) = planned_at.lock() {
            p.push(now);
        }
    };
    let start = stamp();
    let r = scenarios::report::write_report(files, out, "bench", &tick, &planned);
    let end = stamp();
    let outcome = r.map_err(|e| format!("write_report: {e}"))?;
    let between = |a: &Stamp, b: &Stamp| {
        let cpu = b.1.zip(a.1).map(|(b, a)| b - a);
        ((b.0 - a.0).as_secs_f64(), cpu)
    };
    let planned_at = planned_at.into_inner().unwrap_or_default();
    let runs_done = planned_at.get(1).unwrap_or(&end);
    let drawn = last_tick.into_inner().ok().flatten().unwrap_or(end);
    let drawn = if drawn.0 < runs_done.0 {
        *runs_done
    } else {
        drawn
    };
    let (wall, cpu) = between(&start, &end);
    let run = ReportRun {
        wall,
        cpu,
        run: between(&start, runs_done),
        draw: between(runs_done, &drawn),
    };
    let mut c = ReportCounts::default();
    for e in walkdir(out) {
        match e.extension().and_then(|x| x.to_str()) {
            Some("svg") => c.svg += 1,
            Some("png") => c.png += 1,
            _ => {}
        }
        c.bytes += std::fs::metadata(&e).map_or(0, |m| m.len());
    }
    c.charts = outcome.scenarios.iter().map(|o| o.charts).sum();
    c.runs = outcome
        .scenarios
        .iter()
        .map(|o| o.runs.as_ref().map_or(0, Vec::len))
        .sum();
    c.failed = outcome.scenarios.iter().filter(|o| !o.ok()).count();
    Ok((run, c))
}

#[derive(Default)]
struct ReportCounts {
    charts: usize,
    runs: usize,
    failed: usize,
    svg: usize,
    png: usize,
    bytes: u64,
}

fn cores(t: (f64, Option<f64>)) -> String {
    t.1.map_or("?".into(), |c| format!("{:.2}", c / t.0))
}

fn part4(s: &Settings) -> Result<(), String> {
    let files = scenario_files(s.quick)?;
    println!();
    println!(
        "4. Whole `sim report`: write_report over {} scenario files{} (rayon's global pool), \
         median of {} (s, [range])",
        files.len(),
        if s.quick { " (--quick)" } else { "" },
        s.report_reps
    );
    let base = std::env::temp_dir().join(format!("sim-bench-report-{}", std::process::id()));
    let mut runs = Vec::new();
    let mut counts = ReportCounts::default();
    for k in 0..s.report_reps {
        let out = base.join(format!("run{k}"));
        let r = report_once(&files, &out);
        let _ = std::fs::remove_dir_all(&out);
        let (run, c) = r?;
        runs.push(run);
        counts = c;
    }
    let _ = std::fs::remove_dir_all(&base);
    let pick = |f: &dyn Fn(&ReportRun) -> f64| Timings(runs.iter().map(f).collect());
    let (wall, run, draw) = (pick(&|r| r.wall), pick(&|r| r.run.0), pick(&|r| r.draw.0));
    let list = |f: &dyn Fn(&ReportRun) -> String| runs.iter().map(f).collect::<Vec<_>>().join(", ");
    let c = &counts;
    println!(
        "whole report    {:.3} s [{:.3}..{:.3}], cores used {}",
        wall.median(),
        wall.min(),
        wall.max(),
        list(&|r| cores((r.wall, r.cpu)))
    );
    println!(
        "  run scenarios {:.3} s [{:.3}..{:.3}], cores used {}",
        run.median(),
        run.min(),
        run.max(),
        list(&|r| cores(r.run))
    );
    println!(
        "  draw charts   {:.3} s [{:.3}..{:.3}], cores used {} ({} charts: {:.1} ms each on \
         average, per core)",
        draw.median(),
        draw.min(),
        draw.max(),
        list(&|r| cores(r.draw)),
        c.charts,
        runs.iter()
            .filter_map(|r| r.draw.1)
            .map(|cpu| cpu * 1e3 / c.charts.max(1) as f64)
            .sum::<f64>()
            / runs.iter().filter(|r| r.draw.1.is_some()).count().max(1) as f64,
    );
    println!(
        "  {} scenarios, {} runs ({} scenarios with a failed check), {} charts ({} SVG + {} PNG \
         files), {:.1} MB written",
        files.len(),
        c.runs,
        c.failed,
        c.charts,
        c.svg,
        c.png,
        c.bytes as f64 / 1e6
    );
    // Each scenario alone, recorded, on this thread: which ones the run phase waits for.
    let mut solo: Vec<(f64, String)> = Vec::new();
    let opts = RunOptions {
        record: true,
        ..RunOptions::default()
    };
    for f in &files {
        let (r, wall) = time(|| scenarios::run_file(f, &opts));
        r.map_err(|e| format!("{}: {e}", f.display()))?;
        let name = f
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        solo.push((wall, name));
    }
    let total: f64 = solo.iter().map(|x| x.0).sum();
    solo.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top: Vec<String> = solo
        .iter()
        .take(4)
        .map(|(w, n)| format!("{n} {w:.3}"))
        .collect();
    println!(
        "  the scenarios alone, recorded, one at a time: {total:.3} s in all; slowest (s): {}",
        top.join(", ")
    );
    Ok(())
}

/// Every file under `dir`, recursively.
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn main() -> ExitCode {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("report bench: {e}");
            return ExitCode::from(2);
        }
    };
    let same = if s.part("recording") {
        match part1(&s) {
            Ok(same) => same,
            Err(e) => {
                eprintln!("report bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        true
    };
    if s.part("charts") {
        let set = chart_set(&s);
        let ours = match part2(&s, &set) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("report bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        if s.part("matplotlib") {
            part3(&s, &set, &ours);
        }
    }
    if s.part("report") {
        if let Err(e) = part4(&s) {
            eprintln!("report bench: {e}");
            return ExitCode::FAILURE;
        }
    }
    if !same {
        eprintln!("report bench: recording changed a run (trace hash, events or metrics)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

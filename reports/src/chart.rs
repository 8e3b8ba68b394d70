//! Charts as data, drawn to SVG or PNG with plotters and the DejaVu Sans font shipped in `assets/`.
//!
//! A [`Chart`] is plain data (titles, axes with units, named series); [`render_svg`] and
//! [`render_png`] draw it. The same chart gives byte-identical SVG: every collection is a `Vec` in
//! the caller's order (lookups may use a `BTreeMap`, nothing iterates a hash), colours come from a
//! fixed palette by position, and floats are formatted by Rust's shortest round-trip `Display`.
//! Non-finite values are dropped (in a time series, a point with a non-finite value breaks the
//! line there); a chart with nothing left to draw says "no data" instead of failing.
//!
//! The gallery of `sim report` shows these charts to people, so every kind follows the same
//! readability rules:
//! - the legend has its own strip right of the plot ([`layout`]), so it never hides data;
//! - every text is measured with the shipped font before it is placed, and shortened with "…"
//!   where it would not fit, rather than clipped or overlapping its neighbours;
//! - numeric tick labels are compact ("250k", "0.3", "1.5e-5"), at most about six characters;
//! - an axis whose data spans more than [`LOG_AXIS_RATIO`] (largest over smallest, all positive)
//!   is logarithmic, so that values a hundredth of the largest do not share its first pixel;
//! - every marker of a timeline is named, in staggered lanes of labels above the plot, or, when
//!   they are too many to name, summed up as counts per stretch of time in that strip;
//! - nothing is drawn within [`BORDER_PX`] of the image's edge.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, KeyPointWeight, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::font::{FONT_BYTES, PngText};
use crate::text::group_digits;

/// The family name charts ask for (and SVG viewers fall back from if they lack it).
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// Pixels per side a chart may have, inclusive.
pub const SIZE_PX_MIN: u32 = 64;
pub const SIZE_PX_MAX: u32 = 8192;
/// Points drawn per CDF (order statistics, evenly spaced); more distinct values are thinned to
/// this.
pub const CDF_POINTS_MAX: usize = 4096;
/// Bins a histogram may have.
pub const HISTOGRAM_BINS_MAX: usize = 1000;
/// An axis whose positive data's largest value is more than this many times its smallest is drawn
/// on a logarithmic scale (CDFs' x axes, bar charts' y axes).
pub const LOG_AXIS_RATIO: f64 = 100.0;
/// Pixels along every edge of the image left white, so that nothing looks cut off when the image
/// is shown in a frame or scaled.
pub const BORDER_PX: u32 = 2;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "chart size {width}x{height} px is out of range (each side {SIZE_PX_MIN}..={SIZE_PX_MAX})"
    )]
    Size { width: u32, height: u32 },
    #[error("the shipped chart font could not be loaded")]
    Font,
    #[error("drawing chart \"{title}\": {message}")]
    Draw { title: String, message: String },
    #[error("encoding PNG: {0}")]
    Png(String),
}

/// An axis: what it measures and in which unit, shown as "name (unit)".
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub name: String,
    pub unit: String,
}

impl Axis {
    pub fn new(name: &str, unit: &str) -> Self {
        Axis {
            name: name.to_string(),
            unit: unit.to_string(),
        }
    }

    /// The axis description as drawn.
    pub fn label(&self) -> String {
        if self.unit.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.unit)
        }
    }
}

/// A named line of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// The points of a scatter of one history against another: for each time at which both `x` and
/// `y` have a point, the pair `(x value, y value)`, in time order. Both histories are sorted by
/// time, as [`simcore::Metrics::gauge_histories`] gives them; a time only one of them has gives
/// no point, so two histories that do not share their times give few points or none, never
/// points whose halves belong to different moments.
///
/// What a pair means depends on the histories. A recorded gauge's history is time-weighted
/// means over equal buckets ([`simcore::history`]); two gauges set together at every change (a
/// drive's seek distance and seek time, set as each request completes) grow their buckets at the
/// same instants and so share every bucket, and the two means of a bucket weight the same
/// changes by the same holding times: the pair is each value of that stretch, averaged with the
/// same weights. A bucket that one change spans is that change's exact pair; one over several
/// changes is their weighted mean (on the chord between them).
pub fn paired(x: &[(u64, f64)], y: &[(u64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(x.len().min(y.len()));
    let (mut i, mut j) = (0, 0);
    while let (Some(&(tx, vx)), Some(&(ty, vy))) = (x.get(i), y.get(j)) {
        match tx.cmp(&ty) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push((vx, vy));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// A named set of values (for CDFs and histograms), each with how many times it occurred: a
/// histogram metric's buckets give a million values in a few thousand pairs, and a chart of them
/// counts all million ([`simcore::LogHistogram::counted`]).
/// A CDF draws a set with no values as a dashed line along zero (none at any value) and keeps
/// its legend entry, so a run in which the thing never happened is shown rather than left out;
/// its name should say so ("…: never").
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    pub name: String,
    /// `(value, count)` pairs, in any order; a value may come more than once.
    pub values: Vec<(f64, u64)>,
}

impl Samples {
    /// Each of `values` counted once.
    pub fn new(name: &str, values: impl IntoIterator<Item = f64>) -> Self {
        Samples {
            name: name.to_string(),
            values: values.into_iter().map(|v| (v, 1)).collect(),
        }
    }

    /// How many values there are (finite ones, which are the ones drawn).
    pub fn n(&self) -> u64 {
        self.values
            .iter()
            .filter(|(v, _)| v.is_finite())
            .map(|&(_, c)| c)
            .fold(0u64, u64::saturating_add)
    }
}

/// One bar of a Gantt chart: `item` ran on `row` from `start` to `end`. Bars of the same item share
/// a colour.
#[derive(Debug, Clone, PartialEq)]
pub struct GanttBar {
    pub row: String,
    pub start: f64,
    pub end: f64,
    pub item: String,
}

/// One row of a heatmap: its name (a partition) and its cells' values (requests), one per time
/// bucket from the first. A non-finite value leaves its cell blank.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatRow {
    pub name: String,
    pub cells: Vec<f64>,
}

/// One series of a grouped bar chart: one value per category (NaN for none).
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
}

/// One span on a timeline row: `class` picks its colour (one legend entry per class, in order of
/// first appearance), `label` is drawn inside the bar when it fits.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineSpan {
    pub row: String,
    pub start: f64,
    pub end: f64,
    pub class: String,
    pub label: String,
}

/// A shaded stretch of time: across every row when `row` is None, else on that row only (a crash,
/// a pause, a node's side of a partition). Bands are tints (alpha 0.25) drawn behind the spans,
/// over the row's full height, so a span keeps its colour (a leader stays green) and the tint
/// shows around it and where the row has no span; each distinct band label gets a legend entry
/// (a translucent swatch) after the span classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub start: f64,
    pub end: f64,
    pub label: String,
    pub row: Option<String>,
}

/// An instant across all rows (a fault): a vertical dashed line at `at` with its label above the
/// plot, in the first of a few lanes where it has room. Markers too many to label that way are
/// drawn instead as a strip of counts per stretch of time above the plot, captioned with how
/// many of each kind (the label's first word) there were.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub at: f64,
    pub label: String,
}

/// A chart to draw. Every kind has a title and axes with units; a legend is drawn when there is
/// more than one entry (series, item, or a timeline's classes and bands).
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// Lines over time (throughput, queue depth, commit index per node). A point with a
    /// non-finite y breaks its line (a node that was down); a line that resumes after a break
    /// starts with a dot. The y axis starts at zero when no value is negative (counts, rates).
    /// A few lines (up to six) that run together (every node's commit index) are drawn widest
    /// first, each 3 px narrower than the one before, so each shows its colour; lines that part
    /// are drawn 2 px wide.
    TimeSeries {
        title: String,
        x: Axis,
        y: Axis,
        series: Vec<Series>,
    },
    /// Empirical CDFs of samples; the y axis is the fraction of samples at or below x. The x
    /// axis is logarithmic where the values span more than [`LOG_AXIS_RATIO`].
    Cdf {
        title: String,
        x: Axis,
        samples: Vec<Samples>,
    },
    /// Histograms of samples over `bins` equal bins spanning all series; bars of several series
    /// stand side by side in each bin. The y axis is the count per bin. Where equal bins would
    /// put most of a set's values in one bar and the values span decades, the bins are equal on
    /// a logarithmic x axis instead ([`histogram_bins`]).
    ///
    /// Like CDFs, a histogram says how many values it counts: in its legend, after each name, or
    /// in its title when it has one series (and so no legend).
    Histogram {
        title: String,
        x: Axis,
        samples: Vec<Samples>,
        bins: usize,
    },
    /// Bars on rows (jobs on CPUs); rows appear top to bottom in order of first appearance.
    Gantt {
        title: String,
        x: Axis,
        row_axis: String,
        bars: Vec<GanttBar>,
    },
    /// Event timelines across hosts (Raft roles per node), with partitions, crashes and pauses
    /// shaded as bands and instants as dashed markers. `rows` lists the rows top to bottom; rows
    /// named by spans or bands but not listed are appended in order of first appearance.
    Timeline {
        title: String,
        x: Axis,
        row_axis: String,
        rows: Vec<String>,
        spans: Vec<TimelineSpan>,
        bands: Vec<Band>,
        markers: Vec<Marker>,
    },
    /// One quantity against another, as dots (not joined): each series' points are pairs
    /// measured together (a drive's seek time against its seek distance, [`paired`]). Both
    /// axes are linear, from zero when no value is negative, so a curve's shape (a square root
    /// turning linear) is not bent by the axes. A point on the pixel of an earlier point of its
    /// series is drawn once, which keeps the SVG small when many points coincide.
    Scatter {
        title: String,
        x: Axis,
        y: Axis,
        series: Vec<Series>,
    },
    /// Lines of one quantity against another that is not time (a miss ratio against cache
    /// size), each through its points in the order given. The x axis is logarithmic where the x
    /// values span more than [`LOG_AXIS_RATIO`] (cache sizes over decades), else linear; both
    /// axes start at zero when no value is negative. Breaks, widths and legend as for
    /// [`Chart::TimeSeries`].
    Curve {
        title: String,
        x: Axis,
        y: Axis,
        series: Vec<Series>,
    },
    /// A grid of cells: a row per [`HeatRow`] (top to bottom in the order given, named on the y
    /// axis), a column per time bucket of `bucket` (in `x`'s unit, the first from zero), each
    /// cell coloured by its value on a sequential scale from light (the scale's minimum: zero,
    /// or the smallest value when one is negative) to dark (the largest value). The legend names
    /// what a cell counts (`value`) and shows the scale at five stops, its maximum first and its
    /// minimum last. Neighbouring cells of a row with the same colour are drawn as one rectangle.
    Heatmap {
        title: String,
        x: Axis,
        row_axis: String,
        value: Axis,
        rows: Vec<HeatRow>,
        bucket: f64,
    },
    /// Grouped bars: for each category, one bar per series. `notes` (one per category, "" for
    /// none) are written in their category's slot, for a category whose bars are missing for a
    /// reason a reader must see ("never" is not zero).
    Bars {
        title: String,
        x: String,
        y: Axis,
        categories: Vec<String>,
        series: Vec<BarSeries>,
        notes: Vec<String>,
    },
}

impl Chart {
    pub fn title(&self) -> &str {
        match self {
            Chart::TimeSeries { title, .. }
            | Chart::Cdf { title, .. }
            | Chart::Histogram { title, .. }
            | Chart::Scatter { title, .. }
            | Chart::Curve { title, .. }
            | Chart::Heatmap { title, .. }
            | Chart::Gantt { title, .. }
            | Chart::Timeline { title, .. }
            | Chart::Bars { title, .. } => title,
        }
    }

    /// What kind of chart this is, in words (for captions and messages).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Chart::TimeSeries { .. } => "time series",
            Chart::Cdf { .. } => "cdf",
            Chart::Histogram { .. } => "histogram",
            Chart::Scatter { .. } => "scatter",
            Chart::Curve { .. } => "curve",
            Chart::Heatmap { .. } => "heatmap",
            Chart::Gantt { .. } => "gantt",
            Chart::Timeline { .. } => "timeline",
            Chart::Bars { .. } => "bars",
        }
    }
}

/// A rectangle of pixels: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
}

/// Where a chart's parts go in its image. The title takes a strip across the top; below it, `plot`
/// is the area the plot is drawn in (axes, their labels and the data) and `legend`, when the chart
/// has one, the strip right of it. The two never overlap, which is what keeps a legend off the
/// data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub plot: Rect,
    pub legend: Option<Rect>,
}

/// The layout [`render_svg`] and [`render_png`] use for `chart` at `width` x `height` pixels. It
/// depends on the data only through the legend (its entries' measured widths), so it is cheap and
/// pure; drawing calls it rather than repeating it.
pub fn layout(chart: &Chart, width: u32, height: u32) -> Layout {
    // Without the font, text is measured by an estimate; drawing would fail anyway.
    let _ = register_font();
    layout_of(&prepare(chart), width, height)
}

/// Draws `chart` as an SVG document of `width` x `height` pixels.
pub fn render_svg(chart: &Chart, width: u32, height: u32) -> Result<String, ReportError> {
    check_size(width, height)?;
    register_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(chart, &root).map_err(|e| draw_error(chart, e))?;
        root.present().map_err(|e| draw_error(chart, e))?;
    }
    Ok(svg)
}

/// Draws `chart` as a PNG image (8-bit RGB) of `width` x `height` pixels.
pub fn render_png(chart: &Chart, width: u32, height: u32) -> Result<Vec<u8>, ReportError> {
    check_size(width, height)?;
    register_font()?;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        // Text as the SVG viewer draws it (see `crate::font`); the rest is plotters' bitmap.
        let backend = PngText(BitMapBackend::with_buffer(&mut rgb, (width, height)));
        let root = backend.into_drawing_area();
        draw(chart, &root).map_err(|e| draw_error(chart, e))?;
        root.present().map_err(|e| draw_error(chart, e))?;
    }
    // plotters' `bitmap_encoder` only writes files, so the buffer is encoded here.
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &rgb,
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| ReportError::Png(e.to_string()))?;
    Ok(png)
}

fn check_size(width: u32, height: u32) -> Result<(), ReportError> {
    let ok = |v: u32| (SIZE_PX_MIN..=SIZE_PX_MAX).contains(&v);
    if ok(width) && ok(height) {
        Ok(())
    } else {
        Err(ReportError::Size { width, height })
    }
}

/// Registers the shipped font once per process, under its own name and as `sans-serif` (the family
/// plotters falls back to for any text not given one).
fn register_font() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        [FONT_FAMILY, "sans-serif"]
            .iter()
            .all(|name| plotters::style::register_font(name, FontStyle::Normal, FONT_BYTES).is_ok())
    });
    if ok { Ok(()) } else { Err(ReportError::Font) }
}

fn draw_error<E: std::error::Error + Send + Sync>(
    chart: &Chart,
    e: DrawingAreaErrorKind<E>,
) -> ReportError {
    ReportError::Draw {
        title: chart.title().to_string(),
        message: e.to_string(),
    }
}

/// What every drawing step returns: plotters' error, turned into a [`ReportError`] once, at the top.
type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

// ---------------------------------------------------------------------------------------------
// Colours

/// Ten distinct colours (Tableau 10), taken by position so the same input gets the same colours.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Raft roles keep their colour from chart to chart (a leader is always green), whatever order
/// the spans come in, so a reader of the gallery learns them once. Indices into [`PALETTE`].
const KNOWN_CLASSES: [(&str, usize); 4] = [
    ("leader", 2),
    ("follower", 0),
    ("candidate", 1),
    ("precandidate", 9),
];

/// Colours of timeline bands, drawn at [`SHADE_ALPHA`]: dark or saturated, so that a quarter of
/// one still shows over white. Ten, so that a partition's sides (up to one per node of a
/// five-node cluster, and a bridge) besides crashes and pauses each get their own.
const BAND_PALETTE: [RGBColor; 10] = [
    RGBColor(80, 80, 80),
    RGBColor(200, 0, 0),
    RGBColor(110, 40, 170),
    RGBColor(150, 100, 0),
    RGBColor(0, 90, 160),
    RGBColor(0, 130, 90),
    RGBColor(200, 0, 140),
    RGBColor(0, 150, 160),
    RGBColor(140, 140, 0),
    RGBColor(40, 40, 120),
];

/// Partitions grey, crashes red, pauses purple, for the same reason as [`KNOWN_CLASSES`].
const KNOWN_BANDS: [(&str, usize); 5] = [
    ("partition", 0),
    ("crash", 1),
    ("crashed", 1),
    ("pause", 2),
    ("paused", 2),
];

/// How opaque a band's tint is: enough to see, little enough to read the spans through it.
const SHADE_ALPHA: f64 = 0.25;

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Colours for `names`: a name listed in `known` gets its fixed palette slot, the others take the
/// remaining slots in order (cycling when there are more names than slots).
fn assign_colours(
    names: &[String],
    known: &[(&str, usize)],
    palette: &[RGBColor],
) -> Vec<RGBColor> {
    // By the name's first word, so `partition halves` is a partition.
    let fixed = |n: &str| {
        let word = n.split_whitespace().next().unwrap_or("");
        known
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(word))
            .map(|(_, i)| *i)
    };
    let taken: BTreeSet<usize> = names.iter().filter_map(|n| fixed(n)).collect();
    let free: Vec<usize> = (0..palette.len()).filter(|i| !taken.contains(i)).collect();
    let mut free = free.into_iter().cycle();
    names
        .iter()
        .map(|n| palette[fixed(n).or_else(|| free.next()).unwrap_or(0) % palette.len()])
        .collect()
}

/// Black or white, whichever reads better on `c`.
fn ink_on(c: RGBColor) -> &'static RGBColor {
    let luma = 0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64;
    if luma < 140.0 { &WHITE } else { &BLACK }
}

// ---------------------------------------------------------------------------------------------
// Text

const TITLE_PX: u32 = 22;
const LABEL_PX: u32 = 14;
const TICK_PX: u32 = 12;
const SPAN_LABEL_PX: u32 = 11;

fn font(size: u32) -> TextStyle<'static> {
    (FONT_FAMILY, size as f64).into_font().color(&BLACK)
}

/// The width of `text` drawn at `size` px, as both formats draw it with the shipped font
/// ([`crate::font::width`], so measuring here and drawing later agree); a plain estimate if the
/// font is missing.
fn text_w(text: &str, size: u32) -> u32 {
    crate::font::width(text, size as f64)
        .map(|w| w.ceil() as u32)
        .unwrap_or_else(|| (text.chars().count() as u32).saturating_mul(size * 3 / 5))
}

/// `text` as drawn in at most `max_w` px at `size`: whole when it fits, else its longest prefix
/// that fits followed by "…", or "" when not even "…" fits. Only the first `max_w` + 1 characters
/// are looked at (a visible glyph is at least a pixel wide), so very long names cost little.
fn fit_text(text: &str, size: u32, max_w: u32) -> String {
    let cap = max_w as usize + 1;
    let mut ends: Vec<usize> = text.char_indices().map(|(i, _)| i).take(cap + 1).collect();
    if ends.len() <= cap {
        ends.push(text.len());
        if text_w(text, size) <= max_w {
            return text.to_string();
        }
    }
    let with_dots = |k: usize| format!("{}…", text[..ends[k]].trim_end());
    // The longest k-character prefix that fits with its "…"; width grows with k.
    let (mut lo, mut hi) = (0usize, ends.len() - 1);
    if text_w(&with_dots(0), size) > max_w {
        return String::new();
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if text_w(&with_dots(mid), size) <= max_w {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    with_dots(lo)
}

/// A tick label of at most about six characters, precise enough to tell ticks `step` apart:
/// k/M/G/T suffixes for thousands and up, scientific notation below 0.001 and from 10^15, and
/// never float noise such as "0.30000000000000004".
fn tick_label(v: f64, step: f64) -> String {
    let step = if step.is_finite() && step > 0.0 {
        step
    } else {
        v.abs().max(1.0)
    };
    // Snapping to the step undoes float noise, so 999.9999999 counts as 1k.
    let snapped = (v / step).round() * step;
    let a = snapped.abs();
    if a < step * 1e-6 {
        return "0".to_string();
    }
    if !(1e-3..1e15).contains(&a) {
        return exp_label(snapped, step);
    }
    let (scale, suffix) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(s, _)| a >= *s)
        .unwrap_or((1.0, ""));
    let decimals = ((scale / step).log10() - 1e-9).ceil().clamp(0.0, 6.0) as usize;
    let text = trim_zeros(&format!("{:.*}", decimals, snapped / scale));
    if text == "-0" {
        return "0".to_string();
    }
    format!("{text}{suffix}")
}

/// `v` in scientific notation ("1.5e-5"), with as many mantissa digits as `step` needs (at most 2).
fn exp_label(v: f64, step: f64) -> String {
    let digits = (v.abs().log10().floor() - step.log10().floor()).clamp(0.0, 2.0) as usize;
    let text = format!("{:.*e}", digits, v);
    match text.split_once('e') {
        Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa)),
        None => text,
    }
}

/// "1.50" as "1.5", "2.0" as "2"; integers unchanged.
fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Data ranges

/// Data beyond this magnitude is drawn at it: plotters' tick search and rasteriser work in `f64`
/// and `i32` pixels, which a range of 10^300 would overflow (or loop on, drawing a line millions
/// of pixels long).
const VALUE_ABS_MAX: f64 = 1e30;

/// `v` if finite, held to ±[`VALUE_ABS_MAX`].
fn finite(v: f64) -> Option<f64> {
    v.is_finite()
        .then(|| v.clamp(-VALUE_ABS_MAX, VALUE_ABS_MAX))
}

/// A range covering `values` (finite ones only), widened when (almost) empty of width, so that
/// ticks can be found; None when there are none.
fn span(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter_map(finite) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if hi - lo <= 1e-9 * hi.abs().max(lo.abs()) || hi == lo {
        let pad = (hi.abs() * 0.1).max(1.0);
        return Some(lo - pad..hi + pad);
    }
    Some(lo..hi)
}

/// `range` with a margin of 5% each side.
fn padded(range: Range<f64>) -> Range<f64> {
    let pad = (range.end - range.start) * 0.05;
    range.start - pad..range.end + pad
}

/// Names in order of first appearance, without repeats.
fn first_seen<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names
        .filter(|n| seen.insert(*n))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Preparing a chart: finite data, colours and legend entries, before any pixel is placed

/// How a legend entry shows its colour: like the marks it stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Swatch {
    Line,
    Dot,
    Square,
    Shade,
    /// None: a heading (what a heatmap's colours count).
    Blank,
}

#[derive(Debug, Clone)]
struct Entry {
    label: String,
    colour: RGBColor,
    swatch: Swatch,
}

/// One axis before it has pixels: a numeric range, or named bands of width 1 (band i spans
/// [i, i+1]; a horizontal axis lists them left to right, a vertical one top to bottom).
#[derive(Debug, Clone)]
enum AxisSpec {
    Linear(Range<f64>),
    /// A logarithmic axis over a positive range.
    Log(Range<f64>),
    Bands(Vec<String>),
}

#[derive(Debug, Clone)]
struct Axes {
    x: AxisSpec,
    y: AxisSpec,
    x_desc: String,
    y_desc: String,
}

/// A span or a bar on a row (`row` indexes the rows top to bottom), `start <= end`.
#[derive(Debug, Clone)]
struct RowSpan<'a> {
    row: usize,
    start: f64,
    end: f64,
    colour: RGBColor,
    label: &'a str,
}

/// A band's tint, on one row or (None) all of them.
#[derive(Debug, Clone)]
struct Shade {
    row: Option<usize>,
    start: f64,
    end: f64,
    colour: RGBColor,
}

/// One series' line, coloured by its position: the stretches between breaks, the stroke width,
/// and whether it is dashed (a set of samples with none).
#[derive(Debug, Clone)]
struct Line {
    segments: Vec<Vec<(f64, f64)>>,
    width: u32,
    dashed: bool,
}

/// A category slot's note on a bar chart: its text, centred in the slot at `(x, y)`.
#[derive(Debug, Clone)]
struct Note<'a> {
    at: (f64, f64),
    text: &'a str,
}

/// What a plot draws over its axes.
enum Marks<'a> {
    /// One line per series, coloured by position.
    Lines(Vec<Line>),
    /// One set of dots per series, coloured by position.
    Dots(Vec<Vec<(f64, f64)>>),
    /// Filled boxes (corner, corner) per series, coloured by position, and notes.
    Boxes(Vec<Vec<[(f64, f64); 2]>>, Vec<Note<'a>>),
    /// Cells filling their row's band (a heatmap's), each in its own colour, on `rows` rows.
    Cells {
        rows: usize,
        cells: Vec<RowSpan<'a>>,
    },
    /// Spans on rows, tints behind them, and markers at instants (sorted by time), whose x axis
    /// is in `unit`.
    Rows {
        rows: usize,
        spans: Vec<RowSpan<'a>>,
        shades: Vec<Shade>,
        markers: Vec<(f64, &'a str)>,
        unit: &'a str,
    },
}

/// A chart reduced to what is drawn; `plot` is None when nothing finite is left.
struct Prepared<'a> {
    title: String,
    legend: Vec<Entry>,
    plot: Option<(Axes, Marks<'a>)>,
}

fn prepare(chart: &Chart) -> Prepared<'_> {
    let prepared = match chart {
        Chart::TimeSeries { x, y, series, .. } => prepare_series(x, y, series, false),
        Chart::Curve { x, y, series, .. } => prepare_series(x, y, series, true),
        Chart::Cdf { x, samples, .. } => prepare_cdf(x, samples),
        Chart::Scatter { x, y, series, .. } => prepare_scatter(x, y, series),
        Chart::Histogram {
            x, samples, bins, ..
        } => prepare_histogram(x, samples, *bins),
        Chart::Gantt {
            x, row_axis, bars, ..
        } => prepare_gantt(x, row_axis, bars),
        Chart::Heatmap {
            x,
            row_axis,
            value,
            rows,
            bucket,
            ..
        } => prepare_heatmap(x, row_axis, value, rows, *bucket),
        Chart::Timeline {
            x,
            row_axis,
            rows,
            spans,
            bands,
            markers,
            ..
        } => prepare_timeline(x, row_axis, rows, spans, bands, markers),
        Chart::Bars {
            x,
            y,
            categories,
            series,
            notes,
            ..
        } => prepare_bars(x, y, categories, series, notes),
    };
    let (legend, plot) = match prepared {
        Some((legend, axes, marks)) => (legend, Some((axes, marks))),
        None => (Vec::new(), None),
    };
    Prepared {
        title: title_of(chart),
        legend,
        plot,
    }
}

/// The title as drawn: a CDF or histogram of one set of values (which has no legend) says there
/// how many values it counts.
fn title_of(chart: &Chart) -> String {
    match chart {
        Chart::Cdf { title, samples, .. } | Chart::Histogram { title, samples, .. }
            if samples.len() == 1 =>
        {
            format!("{title} ({})", n_label(samples[0].n()))
        }
        _ => chart.title().to_string(),
    }
}

/// "n = 28,758".
fn n_label(n: u64) -> String {
    format!("n = {}", group_digits(n))
}

/// Legend entries for sets of values: each name with how many values it has (a set with none
/// keeps its bare name, which says why: "…: never").
fn counted_entries(samples: &[Samples], swatch: Swatch) -> Vec<Entry> {
    let labels: Vec<String> = samples
        .iter()
        .map(|s| match s.n() {
            0 => s.name.clone(),
            n => format!("{} ({})", s.name, n_label(n)),
        })
        .collect();
    entries(labels.iter().map(String::as_str), swatch)
}

type PreparedPlot<'a> = Option<(Vec<Entry>, Axes, Marks<'a>)>;

fn entries<'a>(names: impl Iterator<Item = &'a str>, swatch: Swatch) -> Vec<Entry> {
    names
        .enumerate()
        .map(|(k, n)| Entry {
            label: n.to_string(),
            colour: colour(k),
            swatch,
        })
        .collect()
}

/// Lines through each series' points: over time (`curve` false: a linear x axis across the
/// data), or a [`Chart::Curve`] (an x axis from zero, or logarithmic over decades).
fn prepare_series(x: &Axis, y: &Axis, series: &[Series], curve: bool) -> PreparedPlot<'static> {
    let pieces: Vec<Vec<Vec<(f64, f64)>>> = series.iter().map(|s| segments(&s.points)).collect();
    let all = || pieces.iter().flatten().flatten();
    let xr = span(all().map(|p| p.0))?;
    let x_axis = match log_range(all().map(|p| p.0)).filter(|_| curve) {
        Some(r) => AxisSpec::Log(log_padded(r)),
        None if curve => AxisSpec::Linear(from_zero(xr.clone())),
        None => AxisSpec::Linear(xr.clone()),
    };
    let yr = span(all().map(|p| p.1))?;
    let n = if coincide(&pieces, &xr, &yr) {
        series.len()
    } else {
        1
    };
    let lines: Vec<Line> = pieces
        .into_iter()
        .enumerate()
        .map(|(k, segments)| Line {
            segments,
            width: stacked_width(k.min(n - 1), n),
            dashed: false,
        })
        .collect();
    let axes = Axes {
        x: x_axis,
        y: AxisSpec::Linear(from_zero(yr)),
        x_desc: x.label(),
        y_desc: y.label(),
    };
    let legend = entries(series.iter().map(|s| s.name.as_str()), Swatch::Line);
    Some((legend, axes, Marks::Lines(lines)))
}

/// A scatter's finite points, on linear axes from zero (for quantities that cannot be negative,
/// as for time series), legend entries showing a dot.
fn prepare_scatter(x: &Axis, y: &Axis, series: &[Series]) -> PreparedPlot<'static> {
    let dots: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            let finite_pair = |&(a, b): &(f64, f64)| Some((finite(a)?, finite(b)?));
            s.points.iter().filter_map(finite_pair).collect()
        })
        .collect();
    let all = || dots.iter().flatten();
    let axes = Axes {
        x: AxisSpec::Linear(from_zero(span(all().map(|p| p.0))?)),
        y: AxisSpec::Linear(from_zero(span(all().map(|p| p.1))?)),
        x_desc: x.label(),
        y_desc: y.label(),
    };
    let legend = entries(series.iter().map(|s| s.name.as_str()), Swatch::Dot);
    Some((legend, axes, Marks::Dots(dots)))
}

/// The stretches of `points` between points with a non-finite value, each of finite points.
fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(a, b) in points {
        match (finite(a), finite(b)) {
            (Some(a), Some(b)) => out.last_mut().map_or((), |seg| seg.push((a, b))),
            _ if out.last().is_some_and(|seg| !seg.is_empty()) => out.push(Vec::new()),
            _ => {}
        }
    }
    out.retain(|seg| !seg.is_empty());
    out
}

/// Times at which [`coincide`] compares lines.
const COINCIDE_SAMPLES: usize = 100;

/// Whether every two of these lines (each in stretches) run together: at half or more of
/// [`COINCIDE_SAMPLES`] times across `xr` at which both have a value, they are within 1% of `yr`
/// of each other (every node's commit index). Such lines get stacked widths; lines that part
/// (queue lengths of different variants) do not, as a wide one would hide the others' detail.
fn coincide(lines: &[Vec<Vec<(f64, f64)>>], xr: &Range<f64>, yr: &Range<f64>) -> bool {
    // The value a line holds at `x`: its last point at or before `x` within a stretch.
    let at = |line: &Vec<Vec<(f64, f64)>>, x: f64| {
        line.iter()
            .filter(|seg| seg.first().is_some_and(|p| p.0 <= x))
            .filter(|seg| seg.last().is_some_and(|p| p.0 >= x))
            .find_map(|seg| {
                let i = seg.partition_point(|p| p.0 <= x);
                seg.get(i.checked_sub(1)?).map(|p| p.1)
            })
    };
    let tolerance = (yr.end - yr.start) * 0.01;
    let times: Vec<f64> = (0..COINCIDE_SAMPLES)
        .map(|i| xr.start + (xr.end - xr.start) * (i as f64 + 0.5) / COINCIDE_SAMPLES as f64)
        .collect();
    let values: Vec<Vec<Option<f64>>> = lines
        .iter()
        .map(|l| times.iter().map(|&x| at(l, x)).collect())
        .collect();
    let pair = |a: &Vec<Option<f64>>, b: &Vec<Option<f64>>| {
        let both: Vec<(f64, f64)> = a
            .iter()
            .zip(b)
            .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
            .collect();
        let close = both
            .iter()
            .filter(|(a, b)| (a - b).abs() <= tolerance)
            .count();
        !both.is_empty() && 2 * close >= both.len()
    };
    (0..values.len()).all(|i| (i + 1..values.len()).all(|j| pair(&values[i], &values[j])))
}

/// Lines drawn with stacked widths at most: more would make the widest too thick to read.
const STACKED_LINES_MAX: usize = 6;

/// How much wider each line of a few is than the next.
const STACKED_STEP_PX: u32 = 3;

/// The stroke width of line `k` of `n`: with a few lines, the first widest and each next
/// [`STACKED_STEP_PX`] narrower (drawn in that order), so a line that coincides with an earlier
/// one leaves a rim of the earlier one's colour on each side; with one line or many, 2 px.
fn stacked_width(k: usize, n: usize) -> u32 {
    if (2..=STACKED_LINES_MAX).contains(&n) {
        2 + STACKED_STEP_PX * (n - 1 - k.min(n - 1)) as u32
    } else {
        2
    }
}

/// A value range for quantities that cannot be negative (counts, rates, indices) from zero, so
/// that a level is not exaggerated by a cut-off axis; padded 5% above. Other ranges padded both
/// ways.
fn from_zero(range: Range<f64>) -> Range<f64> {
    if range.start >= 0.0 {
        0.0..range.end + (range.end * 0.05).max(f64::MIN_POSITIVE)
    } else {
        padded(range)
    }
}

/// The most a logarithmic axis spans, largest over smallest (60 decades): smaller values are
/// drawn at its start, as [`VALUE_ABS_MAX`] holds the largest, so that its ticks stay few.
const LOG_SPAN_MAX: f64 = 1e60;

/// The range of `values` if they are all positive and span more than [`LOG_AXIS_RATIO`]: the
/// range of a logarithmic axis (at most [`LOG_SPAN_MAX`] wide); None for a linear one.
fn log_range(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter_map(finite) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    (lo > 0.0 && hi / lo > LOG_AXIS_RATIO).then_some(lo.max(hi / LOG_SPAN_MAX)..hi)
}

/// `range` with a margin of 5% of its decades each side (a positive range; no margin below a
/// start so small that one would round it to zero, which has no logarithm).
fn log_padded(range: Range<f64>) -> Range<f64> {
    let k = 10f64.powf((range.end / range.start).log10() * 0.05);
    let start = range.start / k;
    (if start > 0.0 { start } else { range.start })..range.end * k
}

fn prepare_cdf(x: &Axis, samples: &[Samples]) -> PreparedPlot<'static> {
    let steps: Vec<Vec<(f64, f64)>> = samples
        .iter()
        .map(|s| cdf_steps(&counted(&s.values)))
        .collect();
    let xs = || steps.iter().flatten().map(|p| p.0);
    let x_axis = match log_range(xs()) {
        Some(r) => AxisSpec::Log(log_padded(r)),
        None => AxisSpec::Linear(padded(span(xs())?)),
    };
    let (lo, hi) = match &x_axis {
        AxisSpec::Linear(r) | AxisSpec::Log(r) => (r.start, r.end),
        AxisSpec::Bands(_) => return None,
    };
    // A set with no samples: none at any value, a dashed line along zero.
    let lines = steps
        .into_iter()
        .map(|pts| Line {
            dashed: pts.is_empty(),
            segments: if pts.is_empty() {
                vec![vec![(lo, 0.0), (hi, 0.0)]]
            } else {
                vec![pts]
            },
            width: 2,
        })
        .collect();
    let axes = Axes {
        x: x_axis,
        // Below zero a little, so that a line along zero is not hidden by the axis.
        y: AxisSpec::Linear(-0.03..1.03),
        x_desc: x.label(),
        y_desc: "fraction of samples at or below".to_string(),
    };
    let legend = counted_entries(samples, Swatch::Line);
    Some((legend, axes, Marks::Lines(lines)))
}

/// The finite values of `values` with a count, in increasing order, each value once with its
/// counts summed.
fn counted(values: &[(f64, u64)]) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = values
        .iter()
        .filter(|p| p.1 > 0)
        .filter_map(|&(v, c)| Some((finite(v)?, c)))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = kept.1.saturating_add(later.1);
        }
        same
    });
    out
}

/// Where value `v` sits along a numeric axis, in the units it is equally spaced in: the value,
/// or on a log axis its logarithm.
fn axis_pos(v: f64, log: bool) -> f64 {
    if log { v.log10() } else { v }
}

/// The value at position `u` along a numeric axis ([`axis_pos`]'s inverse).
fn axis_value(u: f64, log: bool) -> f64 {
    if log { 10f64.powf(u) } else { u }
}

/// The step points of the empirical CDF of `values` (as [`counted`] gives them): a step at every
/// distinct value, or, past [`CDF_POINTS_MAX`] of them, at the last value of each group of
/// `n / CDF_POINTS_MAX` values (by rank, so the steps stay evenly spaced in probability).
fn cdf_steps(values: &[(f64, u64)]) -> Vec<(f64, f64)> {
    let n: u64 = values.iter().map(|p| p.1).fold(0, u64::saturating_add);
    let every = values.len() <= CDF_POINTS_MAX;
    let take = CDF_POINTS_MAX as u128;
    // The rank (1-based) the next kept step must reach: the end of group j.
    let group_end = |j: u128| (((j + 1) * n as u128).div_ceil(take)) as u64;
    let mut pts = Vec::with_capacity(2 * values.len().min(CDF_POINTS_MAX));
    let (mut below, mut seen, mut j) = (0.0, 0u64, 0u128);
    for &(v, c) in values {
        seen = seen.saturating_add(c);
        if every || seen >= group_end(j) || seen == n {
            let at = seen as f64 / n as f64;
            pts.push((v, below));
            pts.push((v, at));
            below = at;
            while j < take && group_end(j) <= seen {
                j += 1;
            }
        }
    }
    pts
}

/// What a histogram chart counts: the bins' edges and, per set of values (in order), the count
/// in each bin. Every finite value is counted once per its count, so the counts of a set add up
/// to its [`Samples::n`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// `counts[k].len() + 1` increasing edges, equally spaced, on a logarithmic scale when
    /// `log` (see [`Chart::Histogram`]).
    pub edges: Vec<f64>,
    pub log: bool,
    pub counts: Vec<Vec<u64>>,
}

/// The bins a [`Chart::Histogram`] of `samples` over `bins` bins draws (clamped to
/// 1..=[`HISTOGRAM_BINS_MAX`]); None when no value is finite. Bins are equal on a linear axis,
/// unless that puts more than half of a set's values in one bar (latencies with a tail of
/// retries put 97% there) and the values, all positive, span more than a decade: then they are
/// equal on a log axis, which spreads the bulk over several bars and keeps the tail in view.
pub fn histogram_bins(samples: &[Samples], bins: usize) -> Option<Bins> {
    let bins = bins.clamp(1, HISTOGRAM_BINS_MAX);
    let sets: Vec<Vec<(f64, u64)>> = samples.iter().map(|s| counted(&s.values)).collect();
    let linear = bin_sets(&sets, bins, false)?;
    let (lo, hi) = (linear.edges[0], linear.edges[bins]);
    if crowded(&linear) && lo > 0.0 && hi > 10.0 * lo {
        return bin_sets(&sets, bins, true);
    }
    Some(linear)
}

/// `sets` (as [`counted`] gives them) counted in `bins` bins spanning them all, equal in
/// position on a linear or a log axis.
fn bin_sets(sets: &[Vec<(f64, u64)>], bins: usize, log: bool) -> Option<Bins> {
    let (to, from) = (|v| axis_pos(v, log), |u| axis_value(u, log));
    let tr = span(sets.iter().flatten().map(|p| to(p.0)))?;
    let width = (tr.end - tr.start) / bins as f64;
    let counts = sets
        .iter()
        .map(|vals| {
            let mut c = vec![0u64; bins];
            for &(v, n) in vals {
                let b = (((to(v) - tr.start) / width).floor().max(0.0) as usize).min(bins - 1);
                c[b] = c[b].saturating_add(n);
            }
            c
        })
        .collect();
    let edges = (0..=bins)
        .map(|b| from(tr.start + b as f64 * width))
        .collect();
    Some(Bins { edges, log, counts })
}

/// Whether one bar of `bins` holds more than half of its set's values.
fn crowded(bins: &Bins) -> bool {
    bins.counts.iter().any(|c| {
        let n = c.iter().fold(0u64, |a, &b| a.saturating_add(b));
        c.iter().any(|&b| b > n / 2)
    })
}

fn prepare_histogram(x: &Axis, samples: &[Samples], bins: usize) -> PreparedPlot<'static> {
    let Bins { edges, log, counts } = histogram_bins(samples, bins)?;
    let count_max = counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    // Several sets stand side by side in each bin, each an equal share of its width on the axis.
    let (to, from) = (|v| axis_pos(v, log), |u| axis_value(u, log));
    let share = 1.0 / counts.len().max(1) as f64;
    let boxes = counts
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let boxes = c.iter().enumerate().filter(|(_, c)| **c > 0);
            boxes
                .map(|(b, c)| {
                    let (u0, u1) = (to(edges[b]), to(edges[b + 1]));
                    let at = |f: f64| from(u0 + (u1 - u0) * f);
                    [
                        (at(k as f64 * share), 0.0),
                        (at((k + 1) as f64 * share), *c as f64),
                    ]
                })
                .collect()
        })
        .collect();
    let xr = edges[0]..edges[edges.len() - 1];
    let axes = Axes {
        x: if log {
            AxisSpec::Log(log_padded(xr))
        } else {
            AxisSpec::Linear(padded(xr))
        },
        y: AxisSpec::Linear(0.0..count_max as f64 * 1.08),
        x_desc: x.label(),
        y_desc: "count (values per bin)".to_string(),
    };
    let legend = counted_entries(samples, Swatch::Square);
    Some((legend, axes, Marks::Boxes(boxes, Vec::new())))
}

fn prepare_bars<'a>(
    x: &str,
    y: &Axis,
    categories: &[String],
    series: &[BarSeries],
    notes: &'a [String],
) -> PreparedPlot<'a> {
    // Values past the last category have no bar to go to.
    let n = categories.len();
    let shown = || series.iter().flat_map(|s| s.values.iter().take(n).copied());
    let noted = notes.iter().take(n).any(|t| !t.is_empty());
    if !shown().any(f64::is_finite) && !noted {
        return None;
    }
    // A bar starts at zero, or on a logarithmic axis (which has none) at the axis' floor.
    let y_axis = match log_range(shown()) {
        Some(r) => AxisSpec::Log(log_padded(r)),
        None => AxisSpec::Linear(padded(span(shown().chain([0.0]))?)),
    };
    let sub = 0.8 / series.len().max(1) as f64;
    let boxes = series
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let vals = s.values.iter().take(categories.len()).enumerate();
            vals.filter_map(|(c, v)| {
                let x0 = c as f64 + 0.1 + k as f64 * sub;
                Some([(x0, 0.0), (x0 + sub, finite(*v)?)])
            })
            .collect()
        })
        .collect();
    // Notes a third of the way up their slot.
    let (lo, hi) = match &y_axis {
        AxisSpec::Linear(r) => (r.start, r.end),
        AxisSpec::Log(r) => (r.start.log10(), r.end.log10()),
        AxisSpec::Bands(_) => (0.0, 1.0),
    };
    let third = lo + (hi - lo) / 3.0;
    let note_y = if matches!(y_axis, AxisSpec::Log(_)) {
        10f64.powf(third)
    } else {
        third
    };
    let notes = notes
        .iter()
        .take(n)
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(c, t)| Note {
            at: (c as f64 + 0.5, note_y),
            text: t.as_str(),
        })
        .collect();
    let axes = Axes {
        x: AxisSpec::Bands(categories.to_vec()),
        y: y_axis,
        x_desc: x.to_string(),
        y_desc: y.label(),
    };
    let legend = entries(series.iter().map(|s| s.name.as_str()), Swatch::Square);
    Some((legend, axes, Marks::Boxes(boxes, notes)))
}

fn prepare_gantt<'a>(x: &Axis, row_axis: &str, bars: &'a [GanttBar]) -> PreparedPlot<'a> {
    let bars: Vec<&GanttBar> = bars
        .iter()
        .filter(|b| b.start.is_finite() && b.end.is_finite())
        .collect();
    let xr = span(bars.iter().flat_map(|b| [b.start, b.end]))?;
    let rows = first_seen(bars.iter().map(|b| b.row.as_str()));
    let items = first_seen(bars.iter().map(|b| b.item.as_str()));
    let row_of = index_of(&rows);
    let item_of = index_of(&items);
    let spans = bars
        .iter()
        .filter_map(|b| {
            let (s, e) = ordered(b.start, b.end)?;
            Some(RowSpan {
                row: row_of[b.row.as_str()],
                start: s,
                end: e,
                colour: colour(item_of[b.item.as_str()]),
                label: "",
            })
        })
        .collect();
    let axes = rows_axes(x, row_axis, xr, rows.clone());
    let legend = entries(items.iter().map(String::as_str), Swatch::Square);
    let marks = Marks::Rows {
        rows: rows.len(),
        spans,
        shades: Vec::new(),
        markers: Vec::new(),
        unit: "",
    };
    Some((legend, axes, marks))
}

/// The light end of a heatmap's scale, its middle and its dark end (ColorBrewer's Blues).
const HEAT_SCALE: [RGBColor; 3] = [
    RGBColor(247, 251, 255),
    RGBColor(107, 174, 214),
    RGBColor(8, 48, 107),
];

/// How many values a heatmap's legend shows its colour for, the scale's ends included.
const HEAT_STOPS: usize = 5;

/// The colour at `t` (0 light to 1 dark) along [`HEAT_SCALE`], linear between its stops.
fn heat_colour(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (a, b, u) = if t <= 0.5 {
        (HEAT_SCALE[0], HEAT_SCALE[1], t * 2.0)
    } else {
        (HEAT_SCALE[1], HEAT_SCALE[2], t * 2.0 - 1.0)
    };
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A value of a heatmap's legend: a whole number with its digits grouped (`1,234`), else short.
fn heat_label(v: f64) -> String {
    if v.fract() == 0.0 && (0.0..1e15).contains(&v) {
        group_digits(v as u64)
    } else {
        crate::text::show(v, false)
    }
}

/// A heatmap's scale: from zero (or the smallest value, when one is negative) to the largest.
fn heat_range(rows: &[HeatRow]) -> Option<Range<f64>> {
    let values = || {
        rows.iter()
            .flat_map(|r| r.cells.iter().copied().filter_map(finite))
    };
    let hi = values().reduce(f64::max)?;
    Some(values().fold(0.0, f64::min)..hi)
}

/// A row's cells as spans of columns, neighbours of the same colour joined; `scale` gives a
/// value's colour.
fn heat_spans(
    r: usize,
    cells: &[f64],
    bucket: f64,
    scale: impl Fn(f64) -> RGBColor,
) -> Vec<RowSpan<'static>> {
    let mut out: Vec<RowSpan> = Vec::new();
    for (i, v) in cells.iter().enumerate() {
        let Some(v) = finite(*v) else { continue };
        let (start, end, colour) = (i as f64 * bucket, (i + 1) as f64 * bucket, scale(v));
        match out.last_mut() {
            Some(last) if last.colour == colour && last.end == start => last.end = end,
            _ => out.push(RowSpan {
                row: r,
                start,
                end,
                colour,
                label: "",
            }),
        }
    }
    out
}

fn prepare_heatmap(
    x: &Axis,
    row_axis: &str,
    value: &Axis,
    rows: &[HeatRow],
    bucket: f64,
) -> PreparedPlot<'static> {
    let bucket = finite(bucket).filter(|b| *b > 0.0)?;
    let range = heat_range(rows)?;
    let width = range.end - range.start;
    let t = |v: f64| {
        if width > 0.0 {
            (v - range.start) / width
        } else {
            1.0
        }
    };
    let cells = rows
        .iter()
        .enumerate()
        .flat_map(|(r, row)| heat_spans(r, &row.cells, bucket, |v| heat_colour(t(v))))
        .collect();
    let columns = rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    let names = rows.iter().map(|r| r.name.clone()).collect();
    let axes = Axes {
        x: AxisSpec::Linear(0.0..(columns as f64 * bucket).min(VALUE_ABS_MAX)),
        y: AxisSpec::Bands(names),
        x_desc: x.label(),
        y_desc: row_axis.to_string(),
    };
    let stops = (0..HEAT_STOPS).rev().map(|k| {
        let u = k as f64 / (HEAT_STOPS - 1) as f64;
        let v = range.start + width * u;
        Entry {
            label: heat_label(v),
            colour: heat_colour(u),
            swatch: Swatch::Square,
        }
    });
    let heading = Entry {
        label: value.label(),
        colour: BLACK,
        swatch: Swatch::Blank,
    };
    let legend = std::iter::once(heading).chain(stops).collect();
    let marks = Marks::Cells {
        rows: rows.len(),
        cells,
    };
    Some((legend, axes, marks))
}

fn prepare_timeline<'a>(
    x: &'a Axis,
    row_axis: &str,
    listed: &[String],
    spans: &'a [TimelineSpan],
    bands: &'a [Band],
    markers: &'a [Marker],
) -> PreparedPlot<'a> {
    let spans: Vec<&TimelineSpan> = spans
        .iter()
        .filter(|s| s.start.is_finite() && s.end.is_finite())
        .collect();
    let bands: Vec<&Band> = bands
        .iter()
        .filter(|b| b.start.is_finite() && b.end.is_finite())
        .collect();
    let mut markers: Vec<(f64, &str)> = markers
        .iter()
        .filter_map(|m| Some((finite(m.at)?, m.label.as_str())))
        .collect();
    markers.sort_by(|a, b| a.0.total_cmp(&b.0));
    let times = spans.iter().flat_map(|s| [s.start, s.end]);
    let times = times.chain(bands.iter().flat_map(|b| [b.start, b.end]));
    let xr = span(times.chain(markers.iter().map(|m| m.0)))?;

    let named = listed.iter().map(String::as_str);
    let named = named.chain(spans.iter().map(|s| s.row.as_str()));
    let rows = first_seen(named.chain(bands.iter().filter_map(|b| b.row.as_deref())));
    let classes = first_seen(spans.iter().map(|s| s.class.as_str()));
    let labels = first_seen(bands.iter().map(|b| b.label.as_str()));
    let class_colours = assign_colours(&classes, &KNOWN_CLASSES, &PALETTE);
    let band_colours = assign_colours(&labels, &KNOWN_BANDS, &BAND_PALETTE);
    let (row_of, class_of, label_of) = (index_of(&rows), index_of(&classes), index_of(&labels));

    let spans = spans
        .iter()
        .filter_map(|s| {
            let (start, end) = ordered(s.start, s.end)?;
            Some(RowSpan {
                row: row_of[s.row.as_str()],
                start,
                end,
                colour: class_colours[class_of[s.class.as_str()]],
                label: s.label.as_str(),
            })
        })
        .collect();
    let shades = bands
        .iter()
        .filter_map(|b| {
            let (start, end) = ordered(b.start, b.end)?;
            Some(Shade {
                row: b.row.as_deref().map(|r| row_of[r]),
                start,
                end,
                colour: band_colours[label_of[b.label.as_str()]],
            })
        })
        .collect();

    let axes = rows_axes(x, row_axis, xr, rows.clone());
    let mut legend: Vec<Entry> = classes
        .iter()
        .zip(&class_colours)
        .map(|(c, col)| Entry {
            label: c.clone(),
            colour: *col,
            swatch: Swatch::Square,
        })
        .collect();
    legend.extend(labels.iter().zip(&band_colours).map(|(l, col)| Entry {
        label: l.clone(),
        colour: *col,
        swatch: Swatch::Shade,
    }));
    let marks = Marks::Rows {
        rows: rows.len(),
        spans,
        shades,
        markers,
        unit: x.unit.as_str(),
    };
    Some((legend, axes, marks))
}

/// Each name's position in `names` (which holds no repeats).
fn index_of(names: &[String]) -> BTreeMap<&str, usize> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect()
}

/// `(a, b)` as a finite, ordered pair (a span given end first is drawn the same).
fn ordered(a: f64, b: f64) -> Option<(f64, f64)> {
    let (a, b) = (finite(a)?, finite(b)?);
    Some((a.min(b), a.max(b)))
}

fn rows_axes(x: &Axis, row_axis: &str, xr: Range<f64>, rows: Vec<String>) -> Axes {
    Axes {
        x: AxisSpec::Linear(padded(xr)),
        y: AxisSpec::Bands(rows),
        x_desc: x.label(),
        y_desc: row_axis.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Layout

/// Height of the title strip across the top of the image.
const TITLE_STRIP: u32 = TITLE_PX + 14;
/// Space between a plot's rect and its axes' outer labels, and around the title: the white
/// border and a little air, since labels are centred on points and reach a few pixels past them.
const MARGIN: u32 = BORDER_PX + 6;
/// Room under the plotting area for the x tick labels (10 px from the axis) and the x description.
const X_AREA: u32 = 10 + TICK_PX + 8 + LABEL_PX + 4;
/// Height of one lane of marker labels above a timeline's plotting area.
const LANE_PX: u32 = TICK_PX + 6;
/// Lanes of marker labels at most; markers whose labels do not all fit are summed up instead.
const MARKER_LANES: u32 = 4;
/// Lanes the summary of dense markers takes: a caption over a strip of counts two lanes high.
const RUG_LANES: u32 = 3;
/// Width of one stretch of time in the summary of dense markers.
const RUG_BUCKET_PX: u32 = 4;
/// Free pixels kept between two marker labels in one lane.
const LABEL_GAP: i32 = 6;
/// Tick marks' length; plotters places tick labels twice this far from the axis.
const TICK_MARK: u32 = 5;
/// Light mesh lines per labelled tick: enough to read values off, few enough not to grey the plot.
const LIGHT_LINES: usize = 4;
/// Below this, a plotting area is too small to draw anything useful, and nothing is drawn.
const PLOTTING_MIN: u32 = 16;

const LEGEND_PAD: u32 = 8;
const SWATCH_W: u32 = 16;
const SWATCH_GAP: u32 = 6;
const LEGEND_ROW: u32 = LABEL_PX + 6;
/// The legend takes at most this share of the width (percent); longer names are shortened.
const LEGEND_SHARE: u32 = 35;
/// A legend narrower than this would show no readable name, so none is drawn.
const LEGEND_MIN_W: u32 = 2 * LEGEND_PAD + SWATCH_W + SWATCH_GAP + 24;
/// Row (Gantt, timeline) labels take at most this share of the width (percent).
const ROW_LABEL_SHARE: u32 = 30;

fn layout_of(p: &Prepared, w: u32, h: u32) -> Layout {
    let top = TITLE_STRIP.min(h);
    let body_h = h - top;
    let legend_w = legend_width(&p.legend, w).filter(|_| p.plot.is_some());
    let plot_w = w - legend_w.unwrap_or(0);
    Layout {
        plot: Rect {
            x: 0,
            y: top as i32,
            w: plot_w,
            h: body_h,
        },
        legend: legend_w.map(|lw| Rect {
            x: plot_w as i32,
            y: top as i32,
            w: lw,
            h: body_h,
        }),
    }
}

/// The legend strip's width: room for the widest entry (shortened to fit [`LEGEND_SHARE`] of
/// `w`) and its swatch; None for fewer than two entries, or when not even a short name would fit.
fn legend_width(entries: &[Entry], w: u32) -> Option<u32> {
    if entries.len() < 2 {
        return None;
    }
    let cap = w * LEGEND_SHARE / 100;
    let fixed = 2 * LEGEND_PAD + SWATCH_W + SWATCH_GAP;
    let text_cap = cap.checked_sub(fixed)?;
    let more = text_w(&more_label(entries.len()), LABEL_PX);
    let widest = entries
        .iter()
        .map(|e| text_w(&fit_text(&e.label, LABEL_PX, text_cap), LABEL_PX))
        .max()
        .unwrap_or(0)
        .max(more);
    let lw = (fixed + widest).min(cap);
    (lw >= LEGEND_MIN_W).then_some(lw)
}

fn more_label(n: usize) -> String {
    format!("+{n} more")
}

/// One axis as drawn: its range, the positions of its labelled ticks and their texts.
#[derive(Debug, Clone)]
struct Scale {
    range: Range<f64>,
    ticks: Vec<f64>,
    labels: Vec<String>,
    /// Numeric (mesh lines at light ticks too) rather than named bands.
    linear: bool,
    /// On a logarithmic scale (`range` is positive): the decades `range` spans, the log10 of
    /// its ends, worked out once rather than for every point mapped.
    decades: Option<Range<f64>>,
}

impl Scale {
    fn label_at(&self, v: f64) -> String {
        // plotters hands back the very values `key_points` gave it, so equality is exact.
        self.ticks
            .iter()
            .position(|t| *t == v)
            .map(|i| self.labels[i].clone())
            .unwrap_or_default()
    }

    fn widest(&self) -> u32 {
        self.labels
            .iter()
            .map(|l| text_w(l, TICK_PX))
            .max()
            .unwrap_or(0)
    }
}

impl Ranged for Scale {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        if let Some(decades) = &self.decades {
            // Zero and below (which a log axis has not) at the axis' start.
            let v = value.max(self.range.start).log10();
            RangedCoordf64::from(decades.clone()).map(&v, limit)
        } else {
            RangedCoordf64::from(self.range.clone()).map(value, limit)
        }
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.weight() {
            KeyPointWeight::Bold => self.ticks.clone(),
            KeyPointWeight::Any if self.decades.is_some() => log_light_points(&self.range),
            KeyPointWeight::Any if self.linear => {
                RangedCoordf64::from(self.range.clone()).key_points(hint)
            }
            KeyPointWeight::Any => Vec::new(),
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Ticks on a numeric axis `px` long: as many as fit with their labels apart (at most 10).
fn linear_scale(range: Range<f64>, px: u32, horizontal: bool) -> Scale {
    let spacing = if horizontal { 60 } else { 2 * TICK_PX + 8 };
    let mut n = (px / spacing).clamp(2, 10) as usize;
    loop {
        let ticks = RangedCoordf64::from(range.clone()).key_points(n);
        let step = match ticks.as_slice() {
            [a, b, ..] => b - a,
            _ => (range.end - range.start) / 10.0,
        };
        let labels = ticks.iter().map(|t| tick_label(*t, step)).collect();
        let scale = Scale {
            range: range.clone(),
            ticks,
            labels,
            linear: true,
            decades: None,
        };
        let fit = (px / (scale.widest() + 16).max(1)).max(2) as usize;
        if !horizontal || scale.ticks.len() <= fit || n <= 2 {
            return scale;
        }
        n = fit.min(n - 1);
    }
}

/// Ticks on an axis of named bands `px` long: every band labelled when labels fit, else every
/// k-th one; each label shortened to the room it has (on a vertical axis, to `max_w`).
fn band_scale(names: &[String], px: u32, horizontal: bool, max_w: u32) -> Scale {
    let n = names.len().max(1);
    let band_px = px as f64 / n as f64;
    let min_gap = if horizontal {
        28.0
    } else {
        (TICK_PX + 4) as f64
    };
    let stride = ((min_gap / band_px.max(1e-9)).ceil() as usize).clamp(1, n);
    let max_w = if horizontal {
        ((stride as f64 * band_px) as u32).saturating_sub(6)
    } else {
        max_w
    };
    let (ticks, labels) = (0..names.len())
        .step_by(stride)
        .map(|i| {
            let band = if horizontal { i } else { n - 1 - i };
            (band as f64 + 0.5, fit_text(&names[i], TICK_PX, max_w))
        })
        .unzip();
    Scale {
        range: 0.0..n as f64,
        ticks,
        labels,
        linear: false,
        decades: None,
    }
}

/// The powers of ten within a positive `range`, and when there are fewer than three, their 2x
/// and 5x multiples too.
fn log_ticks(range: &Range<f64>) -> Vec<f64> {
    let (lo, hi) = (
        range.start.log10().floor() as i32,
        range.end.log10().ceil() as i32,
    );
    let within = |v: &f64| range.start <= *v && *v <= range.end;
    let powers: Vec<f64> = (lo..=hi).map(|k| 10f64.powi(k)).filter(within).collect();
    if powers.len() >= 3 {
        return powers;
    }
    (lo..=hi)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .filter(within)
        .collect()
}

/// Light mesh lines of a log axis: every integer multiple of each power of ten in `range`, when
/// it spans at most six decades (more would grey the plot), else the powers alone.
fn log_light_points(range: &Range<f64>) -> Vec<f64> {
    let (lo, hi) = (
        range.start.log10().floor() as i32,
        range.end.log10().ceil() as i32,
    );
    let multiples: &[f64] = if hi - lo <= 6 {
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    } else {
        &[1.0]
    };
    (lo..=hi)
        .flat_map(|k| multiples.iter().map(move |m| m * 10f64.powi(k)))
        .filter(|v| range.start <= *v && *v <= range.end)
        .collect()
}

/// Ticks on a logarithmic axis `px` long: [`log_ticks`], every k-th one when their labels would
/// not fit apart.
fn log_scale(range: Range<f64>, px: u32, horizontal: bool) -> Scale {
    let all = log_ticks(&range);
    let label = |t: &f64| tick_label(*t, *t / 10.0);
    let widest = all
        .iter()
        .map(|t| text_w(&label(t), TICK_PX))
        .max()
        .unwrap_or(0);
    let room = if horizontal {
        widest + 16
    } else {
        2 * TICK_PX + 8
    };
    let fit = (px / room.max(1)).max(2) as usize;
    let stride = all.len().div_ceil(fit).max(1);
    let ticks: Vec<f64> = all.iter().copied().step_by(stride).collect();
    Scale {
        labels: ticks.iter().map(label).collect(),
        ticks,
        decades: Some(range.start.log10()..range.end.log10()),
        range,
        linear: true,
    }
}

fn scale_for(spec: &AxisSpec, px: u32, horizontal: bool, image_w: u32) -> Scale {
    match spec {
        AxisSpec::Linear(r) => linear_scale(r.clone(), px, horizontal),
        AxisSpec::Log(r) => log_scale(r.clone(), px, horizontal),
        AxisSpec::Bands(names) => {
            band_scale(names, px, horizontal, image_w * ROW_LABEL_SHARE / 100)
        }
    }
}

/// Where a plot's parts go inside its rect, with every label measured and shortened first: the
/// y label area is as wide as the widest y label, the right margin leaves room for half the last
/// x label (centred on the axis' end).
struct Frame {
    top: u32,
    bottom: u32,
    left: u32,
    right: u32,
    y_area: u32,
    x: Scale,
    y: Scale,
    x_desc: String,
    y_desc: String,
}

/// The frame of a plot in `plot`, with `top_px` more room above the plotting area (for marker
/// labels).
fn frame(axes: &Axes, plot: Rect, image_w: u32, top_px: u32) -> Option<Frame> {
    let (top, bottom, left) = (MARGIN + top_px, MARGIN, MARGIN);
    let inner_h = plot.h.checked_sub(top + bottom + X_AREA)?;
    let y = scale_for(&axes.y, inner_h, false, image_w);
    let y_area = LABEL_PX + 8 + y.widest() + 2 * TICK_MARK + 2;
    let avail_w = plot.w.checked_sub(left + y_area + MARGIN)?;
    let x = scale_for(&axes.x, avail_w, true, image_w);
    let right = if x.linear {
        MARGIN.max(x.widest() / 2 + 4)
    } else {
        MARGIN
    };
    let inner_w = plot.w.checked_sub(left + y_area + right)?;
    if inner_w < PLOTTING_MIN || inner_h < PLOTTING_MIN {
        return None;
    }
    Some(Frame {
        top,
        bottom,
        left,
        right,
        y_area,
        x_desc: fit_text(&axes.x_desc, LABEL_PX, inner_w),
        y_desc: fit_text(&axes.y_desc, LABEL_PX, inner_h),
        x,
        y,
    })
}

// ---------------------------------------------------------------------------------------------
// Drawing

fn draw<DB: DrawingBackend>(chart: &Chart, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let p = prepare(chart);
    let lay = layout_of(&p, w, h);
    let (title_area, body) = root.split_vertically(lay.plot.y);
    draw_title(&title_area, &p.title)?;
    let (plot_area, legend_area) = body.split_horizontally(lay.plot.w);
    let Some((axes, marks)) = &p.plot else {
        return no_data(&plot_area);
    };
    let markers: &[(f64, &str)] = match marks {
        Marks::Rows { markers, .. } => markers,
        _ => &[],
    };
    if let Some((frame, plan)) = frame_with_markers(axes, lay.plot, w, markers) {
        draw_plot(&plot_area, lay.plot, &frame, marks, &plan)?;
    }
    match lay.legend {
        Some(rect) => draw_legend(&legend_area, rect, &p.legend),
        None => Ok(()),
    }
}

/// The title, centred across the whole image (above plot and legend alike), shortened to fit.
fn draw_title<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str) -> Drawn<DB> {
    let (w, _) = area.dim_in_pixel();
    let text = fit_text(title, TITLE_PX, w.saturating_sub(2 * MARGIN));
    let style = font(TITLE_PX).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw(&Text::new(text, (w as i32 / 2, MARGIN as i32), style))
}

/// "no data" in the middle, for a chart with nothing finite to draw.
fn no_data<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
    let (w, h) = area.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Center);
    area.draw(&Text::new(
        "no data".to_string(),
        (w as i32 / 2, h as i32 / 2),
        font(LABEL_PX).pos(centre),
    ))
}

fn draw_plot<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rect: Rect,
    frame: &Frame,
    marks: &Marks,
    plan: &MarkerPlan,
) -> Drawn<DB> {
    let mut ctx = ChartBuilder::on(area)
        .margin_top(frame.top)
        .margin_bottom(frame.bottom)
        .margin_left(frame.left)
        .margin_right(frame.right)
        .x_label_area_size(X_AREA)
        .y_label_area_size(frame.y_area)
        .build_cartesian_2d(frame.x.clone(), frame.y.clone())?;
    let x_fmt = |v: &f64| frame.x.label_at(*v);
    let y_fmt = |v: &f64| frame.y.label_at(*v);
    let mut mesh = ctx.configure_mesh();
    mesh.x_labels(frame.x.ticks.len().max(1))
        .y_labels(frame.y.ticks.len().max(1))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc(frame.x_desc.as_str())
        .y_desc(frame.y_desc.as_str())
        .set_all_tick_mark_size(TICK_MARK)
        .max_light_lines(LIGHT_LINES)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX));
    if !frame.x.linear {
        mesh.disable_x_mesh();
    }
    if !frame.y.linear {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;
    match marks {
        Marks::Lines(lines) => draw_lines(&mut ctx, lines),
        Marks::Dots(dots) => draw_dots(&mut ctx, dots),
        Marks::Boxes(boxes, notes) => {
            draw_boxes(&mut ctx, boxes)?;
            draw_notes(&ctx, area, rect, notes)
        }
        Marks::Cells { rows, cells } => draw_cells(&mut ctx, (*rows).max(1), cells),
        Marks::Rows {
            rows,
            spans,
            shades,
            markers,
            unit,
        } => {
            let n = (*rows).max(1);
            // Tints first: a span keeps its own colour over them.
            draw_shades(&mut ctx, n, shades)?;
            draw_spans(&mut ctx, n, spans)?;
            let strip = Strip::of(&ctx, rect);
            match plan {
                MarkerPlan::Labelled(labels) => {
                    draw_marker_lines(&mut ctx, n, markers)?;
                    draw_marker_labels(area, &strip, labels)
                }
                MarkerPlan::Summed => draw_marker_counts(&ctx, area, &strip, markers, unit),
            }
        }
    }
}

type Ctx<'a, DB> = ChartContext<'a, DB, Cartesian2d<Scale, Scale>>;

fn draw_lines<DB: DrawingBackend>(ctx: &mut Ctx<DB>, lines: &[Line]) -> Drawn<DB> {
    for (k, line) in lines.iter().enumerate() {
        let c = colour(k);
        let style = c.stroke_width(line.width);
        for (i, seg) in line.segments.iter().enumerate() {
            if line.dashed {
                let dashes = DashedPathElement::new(seg.clone(), 6, 4, style);
                ctx.draw_series(std::iter::once(dashes))?;
            } else {
                ctx.draw_series(LineSeries::new(seg.iter().copied(), style))?;
            }
            // A line that resumes after a break starts with a dot.
            if let Some(&p) = seg.first().filter(|_| i > 0) {
                let dot = Circle::new(p, line.width / 2 + 3, c.filled());
                ctx.draw_series(std::iter::once(dot))?;
            }
        }
    }
    Ok(())
}

/// The radius of a scatter's dots, px.
const DOT_RADIUS: u32 = 2;

/// Each series' dots in its colour, later series over earlier ones; a dot on the pixel of an
/// earlier dot of its series is not drawn again.
fn draw_dots<DB: DrawingBackend>(ctx: &mut Ctx<DB>, dots: &[Vec<(f64, f64)>]) -> Drawn<DB> {
    for (k, set) in dots.iter().enumerate() {
        let style = colour(k).filled();
        let mut drawn = BTreeSet::new();
        let fresh: Vec<(f64, f64)> = set
            .iter()
            .copied()
            .filter(|p| drawn.insert(ctx.backend_coord(p)))
            .collect();
        ctx.draw_series(fresh.into_iter().map(|p| Circle::new(p, DOT_RADIUS, style)))?;
    }
    Ok(())
}

fn draw_boxes<DB: DrawingBackend>(ctx: &mut Ctx<DB>, boxes: &[Vec<[(f64, f64); 2]>]) -> Drawn<DB> {
    for (k, bs) in boxes.iter().enumerate() {
        let style = colour(k).filled();
        ctx.draw_series(bs.iter().map(|b| Rectangle::new(*b, style)))?;
    }
    Ok(())
}

/// Notes centred in their category's slot, a line per line of text, each shortened to the slot.
/// Drawn on `area` (the plot's rect, at `rect`) in pixels.
fn draw_notes<DB: DrawingBackend>(
    ctx: &Ctx<DB>,
    area: &DrawingArea<DB, Shift>,
    rect: Rect,
    notes: &[Note],
) -> Drawn<DB> {
    let style = font(TICK_PX)
        .color(&RGBColor(60, 60, 60))
        .pos(Pos::new(HPos::Center, VPos::Center));
    let line_h = TICK_PX as i32 + 3;
    for n in notes {
        let a = ctx.backend_coord(&(n.at.0 - 0.45, n.at.1));
        let b = ctx.backend_coord(&(n.at.0 + 0.45, n.at.1));
        let slot = (b.0 - a.0).unsigned_abs();
        let lines: Vec<&str> = n.text.lines().collect();
        let x = (a.0 + b.0) / 2 - rect.x;
        let first = a.1 - rect.y - (lines.len() as i32 - 1) * line_h / 2;
        for (i, line) in lines.iter().enumerate() {
            let at = (x, first + i as i32 * line_h);
            area.draw(&Text::new(fit_text(line, TICK_PX, slot), at, style.clone()))?;
        }
    }
    Ok(())
}

/// The y of row `r`'s band (rows run top to bottom, the axis bottom to top).
fn band_of(rows: usize, r: usize) -> f64 {
    (rows - 1 - r.min(rows - 1)) as f64
}

/// Spans as bars filling the middle 70% of their row, each with its label inside when it fits.
fn draw_spans<DB: DrawingBackend>(ctx: &mut Ctx<DB>, rows: usize, spans: &[RowSpan]) -> Drawn<DB> {
    let corners = |s: &RowSpan| {
        let band = band_of(rows, s.row);
        [(s.start, band + 0.15), (s.end, band + 0.85)]
    };
    ctx.draw_series(
        spans
            .iter()
            .map(|s| Rectangle::new(corners(s), s.colour.filled())),
    )?;
    let fits = |s: &RowSpan| {
        let [a, b] = corners(s).map(|c| ctx.backend_coord(&c));
        let (bar_w, bar_h) = ((b.0 - a.0).unsigned_abs(), (b.1 - a.1).unsigned_abs());
        !s.label.is_empty()
            && text_w(s.label, SPAN_LABEL_PX) + 6 <= bar_w
            && SPAN_LABEL_PX + 2 <= bar_h
    };
    let labels: Vec<_> = spans
        .iter()
        .filter(|s| fits(s))
        .map(|s| {
            let centre = ((s.start + s.end) / 2.0, band_of(rows, s.row) + 0.5);
            let style = font(SPAN_LABEL_PX)
                .color(ink_on(s.colour))
                .pos(Pos::new(HPos::Center, VPos::Center));
            Text::new(s.label.to_string(), centre, style)
        })
        .collect();
    ctx.draw_series(labels)?;
    Ok(())
}

/// A heatmap's cells, each filling its row's band, in its own colour.
fn draw_cells<DB: DrawingBackend>(ctx: &mut Ctx<DB>, rows: usize, cells: &[RowSpan]) -> Drawn<DB> {
    let corners = |c: &RowSpan| {
        let band = band_of(rows, c.row);
        [(c.start, band), (c.end, band + 1.0)]
    };
    ctx.draw_series(
        cells
            .iter()
            .map(|c| Rectangle::new(corners(c), c.colour.filled())),
    )?;
    Ok(())
}

/// Bands as translucent tints behind the spans, on their row's full height or across all rows.
fn draw_shades<DB: DrawingBackend>(ctx: &mut Ctx<DB>, rows: usize, shades: &[Shade]) -> Drawn<DB> {
    let corners = |s: &Shade| match s.row {
        Some(r) => {
            let band = band_of(rows, r);
            [(s.start, band), (s.end, band + 1.0)]
        }
        None => [(s.start, 0.0), (s.end, rows as f64)],
    };
    let tint = |s: &Shade| s.colour.mix(SHADE_ALPHA).filled();
    ctx.draw_series(shades.iter().map(|s| Rectangle::new(corners(s), tint(s))))?;
    Ok(())
}

/// How a timeline's markers are drawn: with their labels placed (None for an empty label), or
/// summed up as counts, when the labels do not all fit in [`MARKER_LANES`] lanes.
enum MarkerPlan {
    Labelled(Vec<Option<PlacedLabel>>),
    Summed,
}

/// A marker's label in lane `lane` (0 nearest the plot) from `x0`, for the marker at `x`; pixels
/// from the left of the plot's rect.
struct PlacedLabel {
    lane: u32,
    x: i32,
    x0: i32,
    text: String,
}

/// The frame of a plot and how its markers go: in as few lanes of labels as hold them all, or
/// summed up.
fn frame_with_markers(
    axes: &Axes,
    plot: Rect,
    image_w: u32,
    markers: &[(f64, &str)],
) -> Option<(Frame, MarkerPlan)> {
    if markers.is_empty() {
        let f = frame(axes, plot, image_w, 0)?;
        return Some((f, MarkerPlan::Labelled(Vec::new())));
    }
    for lanes in 1..=MARKER_LANES {
        let f = frame(axes, plot, image_w, lanes * LANE_PX)?;
        if let Some(labels) = place_labels(&f, plot, markers, lanes) {
            return Some((f, MarkerPlan::Labelled(labels)));
        }
    }
    let f = frame(axes, plot, image_w, RUG_LANES * LANE_PX)?;
    Some((f, MarkerPlan::Summed))
}

/// The plotting area's left and right pixels in `f`, from the left of the plot's rect.
fn x_pixels(f: &Frame, plot: Rect) -> (i32, i32) {
    ((f.left + f.y_area) as i32, plot.w as i32 - f.right as i32)
}

/// Each marker's label in `lanes` lanes above the plot: centred on its marker where there is
/// room, in the lowest lane where it keeps [`LABEL_GAP`] from the labels there. None when some
/// label has no such lane.
fn place_labels(
    f: &Frame,
    plot: Rect,
    markers: &[(f64, &str)],
    lanes: u32,
) -> Option<Vec<Option<PlacedLabel>>> {
    let (left, right) = x_pixels(f, plot);
    // A quarter of the width, but never so little that only "x…" would be left.
    let label_max = ((right - left) / 4).clamp(48, 240).min(right - left).max(0) as u32;
    let mut taken: Vec<Vec<(i32, i32)>> = vec![Vec::new(); lanes as usize];
    let mut out = Vec::with_capacity(markers.len());
    for (at, label) in markers {
        let text = fit_text(label, TICK_PX, label_max);
        if text.is_empty() {
            out.push(None);
            continue;
        }
        let x = f.x.map(at, (left, right));
        let tw = text_w(&text, TICK_PX) as i32;
        let x0 = (x - tw / 2).clamp(left, (right - tw).max(left));
        let (a, b) = (x0 - LABEL_GAP, x0 + tw + LABEL_GAP);
        let free = |l: u32| taken[l as usize].iter().all(|&(p, q)| b <= p || q <= a);
        let lane = (0..lanes).find(|&l| free(l))?;
        taken[lane as usize].push((x0, x0 + tw));
        out.push(Some(PlacedLabel { lane, x, x0, text }));
    }
    Some(out)
}

/// Where the strip above a timeline's plotting area is: the plotting area's left and right and
/// its top, in pixels from the plot rect's corner.
struct Strip {
    left: i32,
    right: i32,
    top: i32,
}

impl Strip {
    fn of<DB: DrawingBackend>(ctx: &Ctx<DB>, rect: Rect) -> Strip {
        let (xs, ys) = ctx.plotting_area().get_pixel_range();
        Strip {
            left: xs.start - rect.x,
            right: xs.end - rect.x,
            top: ys.start - rect.y,
        }
    }

    /// The baseline of lane `lane`'s text.
    fn baseline(&self, lane: u32) -> i32 {
        self.top - 4 - (lane * LANE_PX) as i32
    }
}

/// The colour of markers, their labels' risers and their counts.
const MARKER_INK: RGBColor = RGBColor(60, 60, 60);

/// Dashed vertical lines across the rows at the markers' instants.
fn draw_marker_lines<DB: DrawingBackend>(
    ctx: &mut Ctx<DB>,
    rows: usize,
    markers: &[(f64, &str)],
) -> Drawn<DB> {
    let style = MARKER_INK.stroke_width(1);
    ctx.draw_series(
        markers.iter().map(|(at, _)| {
            DashedPathElement::new(vec![(*at, 0.0), (*at, rows as f64)], 4, 3, style)
        }),
    )?;
    Ok(())
}

/// The placed labels in their lanes, each in a higher lane joined to the plot by a light riser
/// that passes behind the labels below it (each label is on white).
fn draw_marker_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    strip: &Strip,
    labels: &[Option<PlacedLabel>],
) -> Drawn<DB> {
    let riser_ink = RGBColor(160, 160, 160).stroke_width(1);
    for l in labels.iter().flatten().filter(|l| l.lane > 0) {
        let riser = vec![(l.x, strip.top), (l.x, strip.baseline(l.lane))];
        area.draw(&PathElement::new(riser, riser_ink))?;
    }
    let style = font(TICK_PX).pos(Pos::new(HPos::Left, VPos::Bottom));
    for l in labels.iter().flatten() {
        let baseline = strip.baseline(l.lane);
        let w = text_w(&l.text, TICK_PX) as i32;
        let top = baseline - LANE_PX as i32 + 3;
        area.draw(&Rectangle::new(
            [(l.x0 - 1, top), (l.x0 + w + 1, baseline)],
            WHITE.filled(),
        ))?;
        area.draw(&Text::new(l.text.clone(), (l.x0, baseline), style.clone()))?;
    }
    Ok(())
}

/// Markers too many to label, summed up above the plot: a bar per stretch of
/// [`RUG_BUCKET_PX`] pixels as tall as the markers in it (the tallest two lanes high), under a
/// caption of how many of each kind (a label's first word) there were and what a bar counts.
fn draw_marker_counts<DB: DrawingBackend>(
    ctx: &Ctx<DB>,
    area: &DrawingArea<DB, Shift>,
    strip: &Strip,
    markers: &[(f64, &str)],
    unit: &str,
) -> Drawn<DB> {
    let range = ctx.x_range();
    let width_px = (strip.right - strip.left).max(1);
    let buckets = (width_px as u32 / RUG_BUCKET_PX).max(1) as usize;
    let per = (range.end - range.start) / buckets as f64;
    let mut counts = vec![0u64; buckets];
    let mut kinds: Vec<(&str, u64)> = Vec::new();
    for (at, label) in markers {
        let b = ((at - range.start) / per)
            .floor()
            .clamp(0.0, (buckets - 1) as f64) as usize;
        counts[b] += 1;
        let kind = label.split_whitespace().next().unwrap_or("");
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let tallest = counts.iter().copied().max().unwrap_or(1).max(1);
    let (bottom, height) = (strip.baseline(0), 2 * LANE_PX as i32 - 4);
    for (i, &c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
        let x0 = strip.left + (i as i32 * width_px) / buckets as i32;
        let x1 = strip.left + ((i as i32 + 1) * width_px) / buckets as i32 - 1;
        let h = ((c as f64 / tallest as f64) * height as f64)
            .ceil()
            .max(2.0) as i32;
        area.draw(&Rectangle::new(
            [(x0, bottom - h), (x1.max(x0), bottom)],
            MARKER_INK.filled(),
        ))?;
    }
    let what: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let step = 10f64.powf(per.log10().floor() - 1.0);
    let per_text = format!("{} {unit}", tick_label(per, step));
    let caption = format!(
        "{}: a bar counts those in {}, the tallest {tallest}",
        what.join(", "),
        per_text.trim_end()
    );
    let text = fit_text(&caption, TICK_PX, width_px as u32);
    let style = font(TICK_PX).pos(Pos::new(HPos::Left, VPos::Bottom));
    area.draw(&Text::new(text, (strip.left, strip.baseline(2)), style))
}

/// The legend down the strip right of the plot, one entry per row from the top. Entries past the
/// strip's height are summed up as "+N more" on its last row.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rect: Rect,
    entries: &[Entry],
) -> Drawn<DB> {
    let fit = (rect.h.saturating_sub(2 * LEGEND_PAD) / LEGEND_ROW) as usize;
    let shown = if entries.len() <= fit {
        entries.len()
    } else {
        fit.saturating_sub(1)
    };
    let text_x = (LEGEND_PAD + SWATCH_W + SWATCH_GAP) as i32;
    let text_max = rect.w.saturating_sub(LEGEND_PAD + text_x as u32);
    let row_y = |i: usize| (LEGEND_PAD + i as u32 * LEGEND_ROW + LEGEND_ROW / 2) as i32;
    let style = font(LABEL_PX).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries[..shown].iter().enumerate() {
        draw_swatch(area, e, (LEGEND_PAD as i32, row_y(i)))?;
        let text = fit_text(&e.label, LABEL_PX, text_max);
        area.draw(&Text::new(text, (text_x, row_y(i)), style.clone()))?;
    }
    if shown < entries.len() && fit > 0 {
        let text = fit_text(&more_label(entries.len() - shown), LABEL_PX, text_max);
        area.draw(&Text::new(text, (text_x, row_y(shown)), style))?;
    }
    Ok(())
}

/// An entry's swatch with its left end at `x` and its middle at `y`: a line for a line, a filled
/// square for bars and spans, a tinted square with a solid outline for a band.
fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    e: &Entry,
    (x, y): (i32, i32),
) -> Drawn<DB> {
    let square = [(x + 2, y - 6), (x + 14, y + 6)];
    match e.swatch {
        Swatch::Line => area.draw(&PathElement::new(
            vec![(x, y), (x + SWATCH_W as i32, y)],
            e.colour.stroke_width(3),
        )),
        Swatch::Dot => area.draw(&Circle::new(
            (x + SWATCH_W as i32 / 2, y),
            DOT_RADIUS + 3,
            e.colour.filled(),
        )),
        Swatch::Square => area.draw(&Rectangle::new(square, e.colour.filled())),
        Swatch::Shade => {
            area.draw(&Rectangle::new(square, e.colour.mix(SHADE_ALPHA).filled()))?;
            area.draw(&Rectangle::new(square, e.colour.stroke_width(1)))
        }
        Swatch::Blank => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short_and_free_of_float_noise() {
        let cases = [
            (0.30000000000000004, 0.1, "0.3"),
            (0.6000000000000001, 0.2, "0.6"),
            (-1e-17, 0.1, "0"),
            (0.0, 1.0, "0"),
            (2.5, 0.5, "2.5"),
            (999.9999999, 100.0, "1k"),
            (1500.0, 500.0, "1.5k"),
            (1001.0, 1.0, "1.001k"),
            (250_000.0, 50_000.0, "250k"),
            (1e6, 2e5, "1M"),
            (-3e9, 1e9, "-3G"),
            (4e12, 1e12, "4T"),
            (2e15, 1e15, "2e15"),
            (1.5e-5, 5e-6, "1.5e-5"),
            (0.002, 0.001, "0.002"),
            (7.0, f64::NAN, "7"),
        ];
        for (v, step, want) in cases {
            assert_eq!(tick_label(v, step), want, "{v} by {step}");
        }
    }

    #[test]
    fn fit_text_keeps_what_fits_and_marks_the_cut() {
        register_font().unwrap();
        assert_eq!(fit_text("node", LABEL_PX, 500), "node");
        let cut = fit_text("a rather long node name", LABEL_PX, 60);
        assert!(cut.ends_with('…') && cut.len() < 23, "{cut:?}");
        assert!(text_w(&cut, LABEL_PX) <= 60);
        assert_eq!(fit_text("anything", LABEL_PX, 2), "");
        assert_eq!(fit_text("", LABEL_PX, 0), "");
        let huge = "W".repeat(1_000_000);
        assert!(text_w(&fit_text(&huge, LABEL_PX, 300), LABEL_PX) <= 300);
        // Cut between characters, never inside one.
        assert!(fit_text(&"é".repeat(100), LABEL_PX, 50).ends_with('…'));
    }

    #[test]
    fn known_names_keep_their_colour_and_the_rest_fill_free_slots() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = assign_colours(&names(&["x", "Leader", "y"]), &KNOWN_CLASSES, &PALETTE);
        assert_eq!(got, [PALETTE[0], PALETTE[2], PALETTE[1]]);
        let many: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        assert_eq!(
            assign_colours(&many, &KNOWN_CLASSES, &PALETTE)[10],
            PALETTE[0]
        );
    }

    #[test]
    fn band_labels_thin_out_when_rows_are_dense() {
        let rows: Vec<String> = (0..100).map(|i| format!("r{i}")).collect();
        let s = band_scale(&rows, 400, false, 200);
        assert!(
            s.ticks.len() <= 400 / (TICK_PX + 4) as usize,
            "{} labels",
            s.ticks.len()
        );
        // The first row is at the top band and always labelled.
        assert_eq!((s.ticks[0], s.labels[0].as_str()), (99.5, "r0"));
        let s = band_scale(&rows[..3], 400, false, 200);
        assert_eq!(s.labels, ["r0", "r1", "r2"]);
    }

    #[test]
    fn ranges_survive_degenerate_data() {
        assert_eq!(span([f64::NAN].into_iter()), None);
        let r = span([5.0, 5.0].into_iter()).unwrap();
        assert!(r.start < 5.0 && r.end > 5.0);
        let r = span([-f64::MAX, f64::MAX].into_iter()).unwrap();
        assert_eq!(r, -VALUE_ABS_MAX..VALUE_ABS_MAX);
        let r = span([1e-12, 2e-12].into_iter()).unwrap();
        assert_eq!(r, 1e-12..2e-12, "small but real widths stay");
    }

    /// Positive data down to the smallest float once made a log axis start at zero (its padding
    /// rounded the start away), whose -inf decades made tick finding run out of memory.
    #[test]
    fn log_ranges_stay_positive_and_bounded() {
        for lo in [f64::MIN_POSITIVE, 5e-324, 1e-40] {
            let r = log_padded(log_range([lo, 1e300].into_iter()).unwrap());
            assert!(r.start > 0.0, "{lo}: {r:?}");
            let decades = (r.end / r.start).log10();
            assert!(decades <= 66.0, "{lo}: {decades} decades");
            assert!(log_ticks(&r).len() <= 70 && log_light_points(&r).len() <= 70);
        }
        let r = log_padded(log_range([5e-324, 1e-300].into_iter()).unwrap());
        assert!(r.start > 0.0 && r.end >= 1e-300, "{r:?}");
        assert_eq!(log_range([1.0, 50.0].into_iter()), None);
    }
}

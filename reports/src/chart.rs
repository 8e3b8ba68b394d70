//! Charts as data, drawn to SVG or PNG with plotters and the DejaVu Sans font shipped in `assets/`.
//!
//! A [`Chart`] is plain data (titles, axes with units, named series); [`render_svg`] and
//! [`render_png`] draw it. The same chart gives byte-identical SVG: every collection is a `Vec` in
//! the caller's order, colours come from a fixed palette by position, and floats are formatted by
//! Rust's shortest round-trip `Display`. Non-finite values are dropped; a chart with nothing left
//! to draw says "no data" instead of failing.

use std::ops::Range;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The font every chart uses, registered with plotters under [`FONT_FAMILY`] and `sans-serif`.
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The family name charts ask for (and SVG viewers fall back from if they lack it).
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// Pixels per side a chart may have, inclusive.
pub const SIZE_PX_MIN: u32 = 64;
pub const SIZE_PX_MAX: u32 = 8192;
/// Points drawn per CDF (order statistics, evenly spaced); more samples are thinned to this.
pub const CDF_POINTS_MAX: usize = 4096;
/// Bins a histogram may have.
pub const HISTOGRAM_BINS_MAX: usize = 1000;

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

/// A named set of samples (for CDFs and histograms).
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    pub name: String,
    pub values: Vec<f64>,
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

/// One series of a grouped bar chart: one value per category (NaN for none).
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
}

/// A chart to draw. Every kind has a title and axes with units; a legend is drawn when there is
/// more than one series (or, for a Gantt chart, more than one item).
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// Lines over time (throughput, queue depth, commit index per node).
    TimeSeries {
        title: String,
        x: Axis,
        y: Axis,
        series: Vec<Series>,
    },
    /// Empirical CDFs of samples; the y axis is the fraction of samples at or below x.
    Cdf {
        title: String,
        x: Axis,
        samples: Vec<Samples>,
    },
    /// Histograms of samples over `bins` equal bins spanning all series; bars of several series
    /// stand side by side in each bin. The y axis is the count per bin.
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
    /// Grouped bars: for each category, one bar per series.
    Bars {
        title: String,
        x: String,
        y: Axis,
        categories: Vec<String>,
        series: Vec<BarSeries>,
    },
}

impl Chart {
    pub fn title(&self) -> &str {
        match self {
            Chart::TimeSeries { title, .. }
            | Chart::Cdf { title, .. }
            | Chart::Histogram { title, .. }
            | Chart::Gantt { title, .. }
            | Chart::Bars { title, .. } => title,
        }
    }
}

/// Draws `chart` as an SVG document of `width` x `height` pixels.
pub fn render_svg(chart: &Chart, width: u32, height: u32) -> Result<String, ReportError> {
    check_size(width, height)?;
    register_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(chart, &root)?;
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
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(chart, &root)?;
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

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn font(size: u32) -> TextStyle<'static> {
    (FONT_FAMILY, size as f64).into_font().color(&BLACK)
}

/// A range covering `values` (finite ones only), widened when empty of width; None when there are
/// none.
fn span(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
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

/// An axis of `n` named bands of width 1 (band i spans [i, i+1]), one tick at each band's centre.
#[derive(Clone)]
struct Bands {
    n: usize,
}

impl Ranged for Bands {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let frac = value / self.n as f64;
        limit.0 + (frac * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.n).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.n as f64
    }
}

/// The label of band `v` (a tick at a band centre) among `labels`, or "" off the bands.
fn band_label(labels: &[String], v: f64) -> String {
    let i = v.floor();
    if i >= 0.0 && (i as usize) < labels.len() {
        labels[i as usize].clone()
    } else {
        String::new()
    }
}

/// Names in order of first appearance, without repeats.
fn first_seen<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for n in names {
        if !seen.iter().any(|s| s == n) {
            seen.push(n.to_string());
        }
    }
    seen
}

const TITLE_PX: u32 = 22;
const LABEL_PX: u32 = 14;
const TICK_PX: u32 = 12;

fn draw<DB: DrawingBackend>(
    chart: &Chart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), ReportError> {
    let err = |e| draw_error(chart, e);
    root.fill(&WHITE).map_err(err)?;
    match chart {
        Chart::TimeSeries {
            title,
            x,
            y,
            series,
        } => {
            let lines: Vec<(&str, Vec<(f64, f64)>)> = series
                .iter()
                .map(|s| {
                    let pts = s
                        .points
                        .iter()
                        .copied()
                        .filter(|(a, b)| a.is_finite() && b.is_finite())
                        .collect();
                    (s.name.as_str(), pts)
                })
                .collect();
            let all = || lines.iter().flat_map(|(_, p)| p.iter());
            let (Some(xr), Some(yr)) = (span(all().map(|p| p.0)), span(all().map(|p| p.1))) else {
                return no_data(chart, root, title);
            };
            draw_lines(chart, root, title, x, y, xr, padded(yr), &lines)
        }
        Chart::Cdf { title, x, samples } => {
            let lines: Vec<(&str, Vec<(f64, f64)>)> = samples
                .iter()
                .map(|s| (s.name.as_str(), cdf_steps(&s.values)))
                .collect();
            let Some(xr) = span(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.0))) else {
                return no_data(chart, root, title);
            };
            let y = Axis::new("fraction of samples at or below", "");
            draw_lines(chart, root, title, x, &y, padded(xr), 0.0..1.02, &lines)
        }
        Chart::Histogram {
            title,
            x,
            samples,
            bins,
        } => {
            let bins = (*bins).clamp(1, HISTOGRAM_BINS_MAX);
            let finite = |s: &Samples| -> Vec<f64> {
                s.values.iter().copied().filter(|v| v.is_finite()).collect()
            };
            let sets: Vec<(&str, Vec<f64>)> = samples
                .iter()
                .map(|s| (s.name.as_str(), finite(s)))
                .collect();
            let Some(xr) = span(sets.iter().flat_map(|(_, v)| v.iter().copied())) else {
                return no_data(chart, root, title);
            };
            let width = (xr.end - xr.start) / bins as f64;
            let counts: Vec<Vec<u64>> = sets
                .iter()
                .map(|(_, vals)| {
                    let mut c = vec![0u64; bins];
                    for v in vals {
                        let b = (((v - xr.start) / width).floor() as usize).min(bins - 1);
                        c[b] += 1;
                    }
                    c
                })
                .collect();
            let count_max = counts.iter().flatten().copied().max().unwrap_or(0).max(1);
            let mut ctx = ChartBuilder::on(root)
                .caption(title, font(TITLE_PX))
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(padded(xr.clone()), 0.0..count_max as f64 * 1.08)
                .map_err(err)?;
            ctx.configure_mesh()
                .x_desc(x.label())
                .y_desc("count (samples per bin)")
                .label_style(font(TICK_PX))
                .axis_desc_style(font(LABEL_PX))
                .draw()
                .map_err(err)?;
            let n = sets.len();
            for (k, ((name, _), c)) in sets.iter().zip(&counts).enumerate() {
                let col = colour(k);
                let sub = width / n as f64;
                let bars = c.iter().enumerate().filter(|(_, c)| **c > 0).map(|(b, c)| {
                    let x0 = xr.start + b as f64 * width + k as f64 * sub;
                    Rectangle::new([(x0, 0.0), (x0 + sub, *c as f64)], col.filled())
                });
                let ann = ctx.draw_series(bars).map_err(err)?;
                if n > 1 {
                    ann.label(*name).legend(move |(px, py)| {
                        Rectangle::new([(px, py - 5), (px + 12, py + 5)], col.filled())
                    });
                }
            }
            legend(chart, &mut ctx, n, SeriesLabelPosition::UpperRight)
        }
        Chart::Gantt {
            title,
            x,
            row_axis,
            bars,
        } => {
            let bars: Vec<&GanttBar> = bars
                .iter()
                .filter(|b| b.start.is_finite() && b.end.is_finite())
                .collect();
            let Some(xr) = span(bars.iter().flat_map(|b| [b.start, b.end])) else {
                return no_data(chart, root, title);
            };
            let rows = first_seen(bars.iter().map(|b| b.row.as_str()));
            let items = first_seen(bars.iter().map(|b| b.item.as_str()));
            // Row r is drawn in band n-1-r so the first row is at the top.
            let top_down: Vec<String> = rows.iter().rev().cloned().collect();
            let label_px = rows.iter().map(|r| r.chars().count()).max().unwrap_or(1) as u32;
            let mut ctx = ChartBuilder::on(root)
                .caption(title, font(TITLE_PX))
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size((label_px * 8 + 40).min(240))
                .build_cartesian_2d(padded(xr), Bands { n: rows.len() })
                .map_err(err)?;
            ctx.configure_mesh()
                .x_desc(x.label())
                .y_desc(row_axis.as_str())
                .y_label_formatter(&|v| band_label(&top_down, *v))
                .disable_y_mesh()
                .label_style(font(TICK_PX))
                .axis_desc_style(font(LABEL_PX))
                .draw()
                .map_err(err)?;
            for (k, item) in items.iter().enumerate() {
                let col = colour(k);
                let rects = bars.iter().filter(|b| &b.item == item).map(|b| {
                    let r = rows.iter().position(|r| *r == b.row).unwrap_or(0);
                    let band = (rows.len() - 1 - r) as f64;
                    let (s, e) = (b.start.min(b.end), b.start.max(b.end));
                    Rectangle::new([(s, band + 0.15), (e, band + 0.85)], col.filled())
                });
                let ann = ctx.draw_series(rects).map_err(err)?;
                if items.len() > 1 {
                    ann.label(item.as_str()).legend(move |(px, py)| {
                        Rectangle::new([(px, py - 5), (px + 12, py + 5)], col.filled())
                    });
                }
            }
            legend(
                chart,
                &mut ctx,
                items.len(),
                SeriesLabelPosition::UpperRight,
            )
        }
        Chart::Bars {
            title,
            x,
            y,
            categories,
            series,
        } => {
            let values = series
                .iter()
                .flat_map(|s| s.values.iter().take(categories.len()));
            let Some(yr) = span(values.copied().chain([0.0])) else {
                return no_data(chart, root, title);
            };
            if categories.is_empty()
                || series
                    .iter()
                    .all(|s| s.values.iter().all(|v| !v.is_finite()))
            {
                return no_data(chart, root, title);
            }
            let mut ctx = ChartBuilder::on(root)
                .caption(title, font(TITLE_PX))
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(
                    Bands {
                        n: categories.len(),
                    },
                    padded(yr),
                )
                .map_err(err)?;
            ctx.configure_mesh()
                .x_desc(x.as_str())
                .y_desc(y.label())
                .x_label_formatter(&|v| band_label(categories, *v))
                .disable_x_mesh()
                .label_style(font(TICK_PX))
                .axis_desc_style(font(LABEL_PX))
                .draw()
                .map_err(err)?;
            let n = series.len();
            let sub = 0.8 / n as f64;
            for (k, s) in series.iter().enumerate() {
                let col = colour(k);
                let rects = s
                    .values
                    .iter()
                    .take(categories.len())
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(c, v)| {
                        let x0 = c as f64 + 0.1 + k as f64 * sub;
                        Rectangle::new([(x0, 0.0), (x0 + sub, *v)], col.filled())
                    });
                let ann = ctx.draw_series(rects).map_err(err)?;
                if n > 1 {
                    ann.label(s.name.as_str()).legend(move |(px, py)| {
                        Rectangle::new([(px, py - 5), (px + 12, py + 5)], col.filled())
                    });
                }
            }
            legend(chart, &mut ctx, n, SeriesLabelPosition::UpperRight)
        }
    }
}

/// The step points of the empirical CDF of the finite `values`, thinned to [`CDF_POINTS_MAX`]
/// order statistics.
fn cdf_steps(values: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let take = n.min(CDF_POINTS_MAX);
    let mut pts = Vec::with_capacity(take * 2);
    let mut below = 0.0;
    for j in 0..take {
        // The last of each group of order statistics (the maximum always included).
        let i = ((j + 1) * n).div_ceil(take) - 1;
        let at = (i + 1) as f64 / n as f64;
        pts.push((sorted[i], below));
        pts.push((sorted[i], at));
        below = at;
    }
    pts
}

#[allow(clippy::too_many_arguments)]
fn draw_lines<DB: DrawingBackend>(
    chart: &Chart,
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x: &Axis,
    y: &Axis,
    xr: Range<f64>,
    yr: Range<f64>,
    lines: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), ReportError> {
    let err = |e| draw_error(chart, e);
    let mut ctx = ChartBuilder::on(root)
        .caption(title, font(TITLE_PX))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(xr, yr)
        .map_err(err)?;
    ctx.configure_mesh()
        .x_desc(x.label())
        .y_desc(y.label())
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX))
        .draw()
        .map_err(err)?;
    for (k, (name, pts)) in lines.iter().enumerate() {
        let col = colour(k);
        let ann = ctx
            .draw_series(LineSeries::new(pts.iter().copied(), col.stroke_width(2)))
            .map_err(err)?;
        if lines.len() > 1 {
            ann.label(*name).legend(move |(px, py)| {
                PathElement::new(vec![(px, py), (px + 16, py)], col.stroke_width(2))
            });
        }
    }
    let at = match chart {
        Chart::Cdf { .. } => SeriesLabelPosition::LowerRight,
        _ => SeriesLabelPosition::UpperRight,
    };
    legend(chart, &mut ctx, lines.len(), at)
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &Chart,
    ctx: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    series: usize,
    at: SeriesLabelPosition,
) -> Result<(), ReportError> {
    if series <= 1 {
        return Ok(());
    }
    ctx.configure_series_labels()
        .position(at)
        .label_font(font(LABEL_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| draw_error(chart, e))
}

/// The title, and "no data" in the middle, for a chart with nothing finite to draw.
fn no_data<DB: DrawingBackend>(
    chart: &Chart,
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<(), ReportError> {
    let err = |e| draw_error(chart, e);
    let (w, h) = root.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Center);
    root.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, 24),
        font(TITLE_PX).pos(centre),
    ))
    .map_err(err)?;
    root.draw(&Text::new(
        "no data".to_string(),
        (w as i32 / 2, h as i32 / 2),
        font(LABEL_PX).pos(centre),
    ))
    .map_err(err)
}

//! reports: how sim shows a run's results to people.
//!
//! `text`: the text forms of values and metric tables that `sim run` prints. `chart`: charts as
//! plain data (time series, CDFs, histograms, scatter plots, Gantt charts, timelines, grouped
//! bars) drawn to SVG and PNG with plotters; `font`: their text, measured, and drawn into PNGs as
//! an SVG viewer draws it. `gallery`: the HTML page of `sim report`. `chrome`: a run's timeline in the Chrome
//! Trace Event format (Perfetto). `browser`: checks a gallery in headless Chromium.
//! Everything here reads simcore's results ([`simcore::MetricsSnapshot`], [`simcore::Timeline`]),
//! never the models.

pub mod browser;
pub mod chart;
pub mod chrome;
pub mod font;
pub mod gallery;
pub mod text;

pub use chart::{Chart, ReportError, render_png, render_svg};

//! reports: how sim shows a run's results to people.
//!
//! `text`: the text forms of values and metric tables that `sim run` prints. `chart`: charts as
//! plain data (time series, CDFs, histograms, Gantt charts, grouped bars) drawn to SVG and PNG with
//! plotters. The HTML gallery of `sim report` comes next and lives here too; it reads the same
//! [`simcore::MetricsSnapshot`], never the models.

pub mod chart;
pub mod text;

pub use chart::{Chart, ReportError, render_png, render_svg};

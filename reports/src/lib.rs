//! reports: how sim shows a run's results to people.
//!
//! Today: the text forms of values and metric tables that `sim run` prints. Charts (plotters) and
//! the HTML gallery of `sim report` come next and live here too; they read the same
//! [`simcore::MetricsSnapshot`], never the models.

pub mod text;

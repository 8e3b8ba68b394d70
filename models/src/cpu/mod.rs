//! CPU scheduling as a simulation model: the policies of the `sched` crate (no_std, shared with
//! the bare-metal kernel) run jobs on a [`sched::machine::Machine`], and [`model::CpuModel`]
//! drives that machine from the simulator's clock, records metrics and folds the schedule into
//! the trace.

pub mod model;
pub mod schema;

pub use model::{CpuConfig, CpuModel, PolicyConfig};

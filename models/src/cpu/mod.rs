//! CPU scheduling as a simulation model: the policies of the `sched` crate (no_std, shared with
//! the bare-metal kernel) run jobs on a [`sched::machine::Machine`]; [`host::HostCpu`] drives
//! that machine from the simulator's clock inside any model, where services' processes share
//! the CPUs with the batch jobs, and [`model::CpuModel`] is it alone, as a `cpu` block runs:
//! it records metrics and folds the schedule into the trace. A machine may have a CFS
//! bandwidth quota ([`bandwidth`]): so much CPU time per period, then throttled.

pub mod bandwidth;
pub mod host;
pub mod model;
pub mod schema;

pub use host::{HostCpu, ProcConfig, ProcId, Step};
pub use model::{CpuConfig, CpuModel, PolicyConfig};

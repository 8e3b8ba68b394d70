//! simcore: the deterministic discrete-event core that every sim model plugs into.
//!
//! It owns virtual time ([`time`]), the pending-event set ([`queue`]), seeded random streams
//! ([`rng`], [`dist`]), the trace and its hash ([`trace`], [`tracefile`]), metrics ([`metrics`], [`histogram`], [`history`]), the
//! timeline a run may keep for charts ([`timeline`]) and the event loop with its model interface ([`sim`]). It knows nothing of any model.
//!
//! Start reading at [`sim::Model`] and [`sim::Simulation::run`].

pub mod dist;
pub mod histogram;
pub mod history;
pub mod metrics;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod time;
pub mod timeline;
pub mod trace;
pub mod tracefile;

pub use dist::{Dist, DistError};
pub use histogram::LogHistogram;
pub use metrics::{CurveId, HeatmapId, MetricValue, Metrics, MetricsSnapshot, Unit};
pub use queue::EventKey;
pub use rng::{RngStream, StreamId};
pub use sim::{
    Ctx, Model, RunResult, SimConfig, SimError, Simulation, StopAt, StopReason, Violation,
};
pub use time::{SimDuration, SimTime};
pub use timeline::{Mark, Timeline, Track, TrackId};
pub use trace::{Encoder, TraceEvent, format_hash};

//! Disk models as sans-IO timing machines: given a request and the time it starts, when it
//! completes, and what the device's state (head position, platter angle) is afterwards. The
//! world's hosts hold them as their disk resource (`crate::world::disk`).

pub mod device;
pub mod hdd;
pub mod queue;
pub mod raid;
pub mod sched;
pub mod schema;
pub mod ssd;
pub mod workload;

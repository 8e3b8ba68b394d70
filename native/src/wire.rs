//! The bytes a native node sends and stores. The codec lives in `models::raft::wire`, where the
//! simulator's Raft servers on modelled disks write their log records with it too.

pub use models::raft::wire::*;

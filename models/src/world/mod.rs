//! The world: hosts with their resources, the network between them, and the services placed on
//! them (a Raft cluster, its clients, queueing stations, CPU jobs), composed in one scenario.
pub mod schema;

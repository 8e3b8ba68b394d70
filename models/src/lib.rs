//! sim's models: sans-IO state machines driven by `simcore`, one module per family, each with a
//! schema ([`schema`]) that tells the scenario checker what its blocks look like.

pub mod cpu;
pub mod lincheck;
pub mod network;
pub mod queueing;
pub mod raft;
pub mod schema;
pub mod world;

/// Every model family a scenario can use. The world comes first: its hosts and network are what
/// the other families' services are placed on and talk over.
pub const MODELS: &[&schema::ModelSpec] = &[
    &world::schema::SCHEMA,
    &queueing::schema::SCHEMA,
    &raft::schema::SCHEMA,
    &cpu::schema::SCHEMA,
];

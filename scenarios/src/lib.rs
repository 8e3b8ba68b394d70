//! Scenarios: the `.scn` language (grammar, AST, checker, formatter, diagnostics), the wiring
//! that turns a checked scenario into configured models, and the runner behind `sim run`.
//!
//! Data flows one way: text → [`parse`] (and [`source`] for files and includes) →
//! [`ast::Scenario`] → [`sweep`] (one scenario per combination of swept values) → [`check`]
//! (validated against the models' schemas, typed) → [`wire`] (model configurations) → [`runner`]
//! (a `simcore::Simulation`) → [`runner::RunReport`]. [`fmt`] prints the canonical form and
//! [`render`] shows diagnostics with the source underlined. [`report`] turns recorded runs into
//! the charts, JSON summaries and gallery of `sim report`, and into Chrome trace files.

pub mod ast;
pub mod check;
pub mod diag;
pub mod fmt;
pub mod generate;
pub mod merge;
pub mod parse;
pub mod progress;
pub mod render;
pub mod report;
pub mod runner;
pub mod seeds;
pub mod shrink;
pub mod source;
pub mod sweep;
pub mod wire;
pub mod wire_cache;
pub mod wire_cloud;
pub mod wire_cpu;
pub mod wire_disk;
pub mod wire_mount;
pub mod wire_raft;

pub use diag::Diagnostic;
pub use runner::{RunOptions, RunReport, ScenarioError, load, run_file, run_scenario};

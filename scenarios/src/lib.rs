//! Scenarios: the `.scn` language (grammar, AST, diagnostics), the builders that turn a scenario
//! into a wired model, and the runner behind `sim run`.
//!
//! Data flows one way: text → [`parse`] → [`ast::Scenario`] → [`build`] (checked, typed model
//! configuration) → [`runner`] (a `simcore::Simulation`) → [`runner::RunReport`].

pub mod ast;
pub mod build;
pub mod diag;
pub mod parse;
pub mod runner;

pub use diag::Diagnostic;
pub use runner::{RunOptions, RunReport, ScenarioError, load, run_file, run_scenario};

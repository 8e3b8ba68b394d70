//! Queueing networks: sources, FIFO multi-server stations and routing, checked against theory.

pub mod network;
pub mod schema;
pub mod theory;

pub use network::{
    Customer, MAX_SERVERS, QEvent, QNet, QNetConfig, QNetError, Route, SourceChange, SourceConfig,
    StationConfig, Target,
};

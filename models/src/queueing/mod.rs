//! Queueing networks: sources, FIFO multi-server stations and routing, checked against theory;
//! placed on hosts, their customers cross a network between them.

pub mod network;
pub mod schema;
pub mod theory;

pub use network::{
    Customer, DEFAULT_REQUEST_SIZE, DEFAULT_RETRANSMIT, MAX_SERVERS, Placement, QEvent, QNet,
    QNetConfig, QNetError, RETRANSMIT_CAP_FACTOR, Route, SourceChange, SourceConfig, StationConfig,
    Target,
};

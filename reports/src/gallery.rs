//! The HTML gallery of `sim report` (being written).

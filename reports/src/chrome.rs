//! A run's timeline in the Chrome Trace Event format (being written).

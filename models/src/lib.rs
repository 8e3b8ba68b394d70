pub mod queueing;

//! Cloud services (issue 20, under way): the pieces built so far.
//!
//! - [`balance`]: how a load balancer picks a backend: round robin, least outstanding requests,
//!   and the power of two choices (Mitzenmacher), checked against the supermarket model's closed
//!   form.
//! - [`autoscale`]: an autoscaling group's decisions: target tracking with cooldowns, boot time
//!   and draining.
//! - [`queue`]: a durable queue with SQS's semantics: visibility timeouts, receipt handles,
//!   redrive to a dead-letter queue, retention, delay, FIFO message groups.
//! - [`functions`]: functions as a service: warm and cold execution environments, keep-alive,
//!   provisioned and reserved concurrency, throttling; the cold fraction checked against e^(-λK).

pub mod autoscale;
pub mod balance;
pub mod functions;
pub mod queue;

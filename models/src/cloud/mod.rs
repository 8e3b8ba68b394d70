//! Cloud services: sans-IO models of what clouds are built from, and the `cloud` family's schema
//! (`service` and `client`, run by [`crate::world::cloud`]).
//!
//! - [`balance`]: how a load balancer picks a backend: round robin, least outstanding requests,
//!   and the power of two choices (Mitzenmacher), checked against the supermarket model's closed
//!   form.
//! - [`call`]: what a caller does about slow and failed requests: backoff with jitter, a retry
//!   budget, a circuit breaker.
//! - [`autoscale`]: an autoscaling group's decisions: target tracking with cooldowns, boot time
//!   and draining.
//! - [`queue`]: a durable queue with SQS's semantics: visibility timeouts, receipt handles,
//!   redrive to a dead-letter queue, retention, delay, FIFO message groups.
//! - [`functions`]: functions as a service: warm and cold execution environments, keep-alive,
//!   provisioned and reserved concurrency, throttling; the cold fraction checked against e^(-λK).
//! - [`objstore`]: an object store with S3's semantics: strong consistency, versions, listing,
//!   multipart upload and its errors, deterministic ETags, latency per request kind.
//! - [`shardkv`]: a sharded key-value store's routing and load: a consistent-hash ring with
//!   virtual nodes, and DynamoDB-like range partitions with per-partition token buckets, split
//!   for heat, and a request heatmap.
//! - [`placement`]: container placement onto hosts by bin packing over CPU and memory (first,
//!   best, worst fit; first fit decreasing), checked against first fit's 1.7 and FFD's 11/9
//!   bounds on their tight instances.
//! - [`pubsub`]: a topic fanning each message out to subscribed queues (SNS to SQS), with SNS's
//!   filter policies.

pub mod autoscale;
pub mod balance;
pub mod call;
pub mod functions;
pub mod objstore;
pub mod placement;
pub mod pubsub;
pub mod queue;
pub mod schema;
pub mod shardkv;

//! The cloud family's schema: `service` blocks (instances behind a load balancer, calling other
//! services) and `client` loads calling them, with what callers do about slow and failed
//! requests. The model is [`crate::world::cloud`].

use crate::schema::{
    ChartSource, ChartSpec, KindSpec, LOAD, MetricKind, MetricSpec, ModelSpec, Need, PropSpec,
    PropType, live_prop, metric, prop,
};

use crate::raft::schema::{CRASH, RESTART};

use super::balance::Balance;
use super::call::Jitter;
use super::placement::Fit;
use crate::world::cloud::ScaleOn;

const SERVICE_REF: PropType = PropType::Ref {
    kinds: &["service", "function"],
    also: &[],
};

const TIMEOUT: PropSpec = prop(
    "timeout",
    PropType::Duration,
    Need::Default("none: wait forever"),
    "How long one attempt may take before the caller gives up on it (the server may go on serving it).",
);
const RETRIES: PropSpec = prop(
    "retries",
    PropType::Count { min: 0, max: 100 },
    Need::Default("0"),
    "Attempts after the first for a request that timed out or failed.",
);
const BACKOFF: PropSpec = prop(
    "backoff",
    PropType::Duration,
    Need::Default("10ms"),
    "The wait before the first retry; it doubles for each retry after.",
);
const BACKOFF_MAX: PropSpec = prop(
    "backoff_max",
    PropType::Duration,
    Need::Default("1s"),
    "The longest wait between retries.",
);
const JITTER: PropSpec = prop(
    "jitter",
    PropType::Choice(Jitter::NAMES),
    Need::Default("full"),
    "How the wait is randomised: none, full (uniform up to it), equal (half, plus uniform up to half), decorrelated (uniform from backoff to three times the last wait).",
);
const RETRY_BUDGET: PropSpec = prop(
    "retry_budget",
    PropType::Probability,
    Need::Default("none: every failure may be retried"),
    "Retries at most this fraction of requests over the last 10 s (plus 10 a second).",
);
const BREAKER: PropSpec = prop(
    "breaker",
    PropType::Probability,
    Need::Default("none"),
    "A circuit breaker that opens when this fraction of the calls ending in its window failed (at least 20 calls); open, it fails calls at once.",
);
const BREAKER_WINDOW: PropSpec = prop(
    "breaker_window",
    PropType::Duration,
    Need::Default("10s"),
    "The rolling window over which the breaker counts outcomes.",
);
const BREAKER_COOLDOWN: PropSpec = prop(
    "breaker_cooldown",
    PropType::Duration,
    Need::Default("5s"),
    "How long the breaker stays open before one trial call goes out.",
);
const HEDGE: PropSpec = prop(
    "hedge",
    PropType::Duration,
    Need::Default("none"),
    "After this long without an answer, one copy of the request goes to another instance; the first answer wins.",
);

/// A caller's metrics: a client's, and a service's for its calls to another.
const CALLER_METRICS: &[MetricSpec] = &[
    metric("requests", MetricKind::Counter, "Calls made."),
    metric("ok", MetricKind::Counter, "Calls that succeeded."),
    metric(
        "failed",
        MetricKind::Counter,
        "Calls that failed after their retries (or were refused by the breaker or the budget).",
    ),
    metric(
        "latency",
        MetricKind::Latency,
        "Time from a call to its success, retries included.",
    ),
    metric(
        "attempts",
        MetricKind::Counter,
        "Requests sent: first attempts, retries and hedges.",
    ),
    metric("retries", MetricKind::Counter, "Retries sent."),
    metric("hedges", MetricKind::Counter, "Hedged copies sent."),
    metric("timeouts", MetricKind::Counter, "Attempts given up on."),
    metric(
        "short_circuited",
        MetricKind::Counter,
        "Attempts the open breaker refused.",
    ),
    metric(
        "budget_denied",
        MetricKind::Counter,
        "Retries the retry budget refused.",
    ),
    metric(
        "goodput",
        MetricKind::Gauge,
        "Successful calls per second, over the last whole second.",
    ),
    metric(
        "slo_attainment",
        MetricKind::Gauge,
        "Calls that succeeded within the slo, over calls ended so far (only with `slo`).",
    ),
];

/// A service's own metrics.
const SERVER_METRICS: &[MetricSpec] = &[
    metric(
        "served",
        MetricKind::Counter,
        "Requests served (whether or not their caller still waited).",
    ),
    metric(
        "rejected",
        MetricKind::Counter,
        "Requests refused by a full queue.",
    ),
    metric(
        "wasted",
        MetricKind::Counter,
        "Requests served after their caller had given up on them.",
    ),
    metric(
        "sojourn",
        MetricKind::Latency,
        "Time from a request reaching an instance to its answer.",
    ),
    metric(
        "queue_len",
        MetricKind::Gauge,
        "Requests waiting, over all instances.",
    ),
    metric(
        "busy",
        MetricKind::Gauge,
        "Requests being served, over all instances.",
    ),
    metric(
        "instances",
        MetricKind::Gauge,
        "Instances in service and up.",
    ),
    metric(
        "instance_hours",
        MetricKind::Gauge,
        "Instance-hours so far (launched instances, booting and draining included).",
    ),
    metric(
        "cost",
        MetricKind::Gauge,
        "Dollars so far: instance-hours at instance_price and requests at request_price.",
    ),
];

/// A service's metrics: its own, and a caller's for its calls to another.
const SERVICE_METRICS: [MetricSpec; SERVER_METRICS.len() + CALLER_METRICS.len()] = {
    let mut all = [SERVER_METRICS[0]; SERVER_METRICS.len() + CALLER_METRICS.len()];
    let mut i = 0;
    while i < all.len() {
        all[i] = if i < SERVER_METRICS.len() {
            SERVER_METRICS[i]
        } else {
            CALLER_METRICS[i - SERVER_METRICS.len()]
        };
        i += 1;
    }
    all
};

pub const SCHEMA: ModelSpec = ModelSpec {
    name: "cloud",
    doc: "Request/response services and durable queues: instances behind a load balancer, autoscaling groups, clients with timeouts, retries, backoff, retry budgets, circuit breakers and hedging, and services calling services.",
    kinds: &[
        KindSpec {
            kind: "service",
            doc: "A service: an instance on each host it is placed on (or `instances` unplaced), each serving `concurrency` requests at once and queueing the rest. Its callers pick an instance by `balance`. With `calls`, each request then makes `fanout` calls to another service and answers when they have all ended.",
            props: &[
                prop(
                    "on",
                    PropType::Hosts,
                    Need::Default("unplaced: `instances` of them, reached at once"),
                    "The hosts with an instance, one each.",
                ),
                prop(
                    "instances",
                    PropType::Count {
                        min: 1,
                        max: 100_000,
                    },
                    Need::Default("1"),
                    "Instances of an unplaced service.",
                ),
                prop(
                    "concurrency",
                    PropType::Count {
                        min: 1,
                        max: 100_000,
                    },
                    Need::Default("1"),
                    "Requests one instance serves at once.",
                ),
                prop(
                    "service",
                    PropType::DurationDist,
                    Need::Required,
                    "Time to serve one request.",
                ),
                prop(
                    "slow",
                    PropType::Probability,
                    Need::Default("0"),
                    "The chance that a request is served in `slow_service` instead (a pause, a noisy neighbour).",
                ),
                prop(
                    "slow_service",
                    PropType::DurationDist,
                    Need::Default("1s"),
                    "Time to serve a slow request.",
                ),
                prop(
                    "queue_limit",
                    PropType::Count {
                        min: 0,
                        max: u64::MAX,
                    },
                    Need::Default("unlimited"),
                    "Requests that may wait at one instance; more are rejected at once with an error.",
                ),
                prop(
                    "balance",
                    PropType::Choice(Balance::NAMES),
                    Need::Default("round-robin"),
                    "How callers pick an instance: round-robin, least-outstanding (fewest of the caller's requests in flight) or p2c (the less loaded of two drawn at random).",
                ),
                prop(
                    "health_check",
                    PropType::Duration,
                    Need::Default("none: crashed instances keep getting requests"),
                    "How often the balancers learn which instances are up; they offer only those.",
                ),
                prop(
                    "calls",
                    SERVICE_REF,
                    Need::Default("none"),
                    "A service each request calls after its own work.",
                ),
                prop(
                    "fanout",
                    PropType::Count {
                        min: 1,
                        max: 10_000,
                    },
                    Need::Default("1"),
                    "Calls each request makes to `calls` (a search's shards); it answers when all have ended.",
                ),
                TIMEOUT,
                RETRIES,
                BACKOFF,
                BACKOFF_MAX,
                JITTER,
                RETRY_BUDGET,
                BREAKER,
                BREAKER_WINDOW,
                BREAKER_COOLDOWN,
                HEDGE,
                prop(
                    "consumes",
                    PropType::Ref {
                        kinds: &["queue"],
                        also: &[],
                    },
                    Need::Default("none"),
                    "A queue whose messages each worker (`concurrency` per instance) receives, processes for a service time and deletes, one at a time; with `autoscale queue`, the group tracks that queue's backlog per instance.",
                ),
                prop(
                    "errors",
                    PropType::Probability,
                    Need::Default("0"),
                    "The chance that serving a request ends in an error: its caller sees a failure; a consumer does not delete the message, which comes back after its visibility timeout.",
                ),
                prop(
                    "cpu",
                    PropType::Float {
                        min: 0.001,
                        max: 1e6,
                    },
                    Need::Default("none: one instance per host, no reservation"),
                    "CPUs each instance reserves: its `instances` are then placed on the `on` hosts by bin packing (with `memory`, by `placement`), sharing the hosts' CPUs and memory with other services placed so.",
                ),
                prop(
                    "memory",
                    PropType::Size,
                    Need::Default("none"),
                    "Memory each instance reserves (bin packing, as `cpu`).",
                ),
                prop(
                    "placement",
                    PropType::Choice(Fit::NAMES),
                    Need::Default("first-fit"),
                    "How an instance's host is chosen among those with room: the first in order, the best fit (least room left) or the worst fit (most room left: spread).",
                ),
                prop(
                    "autoscale",
                    PropType::Choice(ScaleOn::NAMES),
                    Need::Default("none: a fixed number of instances"),
                    "An autoscaling group tracking cpu (busy workers over workers, averaged over the period) or queue (requests waiting per instance) at `target`.",
                ),
                prop(
                    "target",
                    PropType::Float { min: 0.0, max: 1e9 },
                    Need::Default("0.6 for cpu, 10 for queue"),
                    "The tracked metric's target: the group sizes itself to hold it there (desired = ceil(in service x metric / target)).",
                ),
                prop(
                    "min_instances",
                    PropType::Count {
                        min: 1,
                        max: 100_000,
                    },
                    Need::Default("1"),
                    "The fewest instances the group keeps.",
                ),
                prop(
                    "max_instances",
                    PropType::Count {
                        min: 1,
                        max: 100_000,
                    },
                    Need::Default("10 times min_instances"),
                    "The most instances the group launches.",
                ),
                prop(
                    "scale_period",
                    PropType::Duration,
                    Need::Default("60s"),
                    "How often the group is evaluated.",
                ),
                prop(
                    "scale_out_periods",
                    PropType::Count { min: 1, max: 1000 },
                    Need::Default("3"),
                    "Evaluations in a row above target before the group scales out (AWS's alarm: 3).",
                ),
                prop(
                    "scale_in_periods",
                    PropType::Count { min: 1, max: 1000 },
                    Need::Default("15"),
                    "Evaluations in a row below target before the group scales in (AWS's alarm: 15).",
                ),
                prop(
                    "cooldown",
                    PropType::Duration,
                    Need::Default("300s"),
                    "No scale-out within this of the last, and no scale-in within this of any scaling.",
                ),
                prop(
                    "boot",
                    PropType::Duration,
                    Need::Default("60s"),
                    "Time from launching an instance to its serving requests.",
                ),
                prop(
                    "drain_timeout",
                    PropType::Duration,
                    Need::Default("300s"),
                    "A scaled-in instance gets no new requests and leaves when idle, or after this (what it still holds is lost).",
                ),
                prop(
                    "instance_price",
                    PropType::Float { min: 0.0, max: 1e9 },
                    Need::Default("0"),
                    "Dollars per instance-hour (launched instances, booting and draining included).",
                ),
                prop(
                    "request_price",
                    PropType::Float { min: 0.0, max: 1e9 },
                    Need::Default("0"),
                    "Dollars per million requests served.",
                ),
            ],
            metrics: &SERVICE_METRICS,
        },
        KindSpec {
            kind: "function",
            doc: "A function (as AWS Lambda runs one): each invocation runs on an execution environment, a warm idle one or a new one after a cold start; environments idle for `keep_alive` are reclaimed; beyond its concurrency limit an invocation is throttled (an error at once). Clients and services call it as a service (`to`, `calls`).",
            props: &[
                prop(
                    "service",
                    PropType::DurationDist,
                    Need::Required,
                    "The handler's running time.",
                ),
                prop(
                    "cold_start",
                    PropType::DurationDist,
                    Need::Default("uniform(200ms, 800ms)"),
                    "Time to initialise a new environment before the handler runs.",
                ),
                prop(
                    "keep_alive",
                    PropType::Duration,
                    Need::Default("10m"),
                    "How long an idle environment is kept warm.",
                ),
                prop(
                    "reserved",
                    PropType::Count { min: 1, max: 1000 },
                    Need::Default("none: shares the account's 1,000 with other functions"),
                    "Reserved concurrency: invocations in progress at most (and guaranteed).",
                ),
                prop(
                    "provisioned",
                    PropType::Count { min: 0, max: 1000 },
                    Need::Default("0"),
                    "Environments kept initialised at all times: no cold start while one is idle.",
                ),
                prop(
                    "errors",
                    PropType::Probability,
                    Need::Default("0"),
                    "The chance that an invocation ends in an error.",
                ),
                prop(
                    "instance_price",
                    PropType::Float { min: 0.0, max: 1e9 },
                    Need::Default("0"),
                    "Dollars per hour of invocations running (as Lambda bills duration).",
                ),
                prop(
                    "request_price",
                    PropType::Float { min: 0.0, max: 1e9 },
                    Need::Default("0"),
                    "Dollars per million invocations.",
                ),
            ],
            metrics: &[
                metric("served", MetricKind::Counter, "Invocations that ran."),
                metric(
                    "rejected",
                    MetricKind::Counter,
                    "Invocations throttled at the concurrency limit.",
                ),
                metric(
                    "cold_starts",
                    MetricKind::Counter,
                    "Invocations that started a new environment.",
                ),
                metric(
                    "wasted",
                    MetricKind::Counter,
                    "Invocations that ran after their caller had given up.",
                ),
                metric(
                    "sojourn",
                    MetricKind::Latency,
                    "Time from an invocation reaching the platform to its answer, cold start included.",
                ),
                metric(
                    "busy",
                    MetricKind::Gauge,
                    "Invocations in progress (concurrency).",
                ),
                metric(
                    "instances",
                    MetricKind::Gauge,
                    "Execution environments, busy or idle, as of the last invocation.",
                ),
                metric(
                    "queue_len",
                    MetricKind::Gauge,
                    "Always 0: nothing waits, the platform throttles instead.",
                ),
                metric(
                    "instance_hours",
                    MetricKind::Gauge,
                    "Hours of invocations running (the billed duration).",
                ),
                metric(
                    "cost",
                    MetricKind::Gauge,
                    "Dollars so far: running hours at instance_price, invocations at request_price.",
                ),
            ],
        },
        KindSpec {
            kind: "table",
            doc: "A sharded key-value table, as DynamoDB runs one: partition keys are hashed onto range partitions, each with its own read and write throughput (token buckets with a second of burst); a request beyond its partition's rate is throttled (an error at once) however idle the rest of the table is, and a partition throttled for `split_after` splits at the median of its recent keys (split for heat). Clients name a key and an operation with `keys` and `mix`.",
            props: &[
                prop(
                    "partitions",
                    PropType::Count {
                        min: 1,
                        max: 10_000,
                    },
                    Need::Default("1"),
                    "Partitions at the start, dividing the hashed key space evenly.",
                ),
                prop(
                    "read_rate",
                    PropType::Rate,
                    Need::Default("3000/s"),
                    "Reads per second one partition serves (DynamoDB's 3,000 read units).",
                ),
                prop(
                    "write_rate",
                    PropType::Rate,
                    Need::Default("1000/s"),
                    "Writes per second one partition serves (DynamoDB's 1,000 write units).",
                ),
                prop(
                    "split_after",
                    PropType::Duration,
                    Need::Default("none: partitions never split"),
                    "Split a partition that has throttled continuously this long.",
                ),
                prop(
                    "service",
                    PropType::DurationDist,
                    Need::Default("uniform(2ms, 6ms)"),
                    "Time to serve an admitted request.",
                ),
                prop(
                    "heatmap_bucket",
                    PropType::Duration,
                    Need::Default("1s"),
                    "The time bucket of the request-distribution heatmap.",
                ),
            ],
            metrics: &[
                metric(
                    "reads",
                    MetricKind::Counter,
                    "Read requests (throttled or not).",
                ),
                metric(
                    "writes",
                    MetricKind::Counter,
                    "Write requests (throttled or not).",
                ),
                metric(
                    "throttled",
                    MetricKind::Counter,
                    "Requests over their partition's rate.",
                ),
                metric("splits", MetricKind::Counter, "Partitions split for heat."),
                metric("partitions", MetricKind::Gauge, "Live partitions."),
                metric(
                    "heatmap",
                    MetricKind::Heatmap,
                    "Requests per partition (a row each, retired ones too, labelled with their share of the hashed key space) per heatmap_bucket.",
                ),
                metric(
                    "throttle_map",
                    MetricKind::Heatmap,
                    "Throttled requests, in the heatmap's shape.",
                ),
            ],
        },
        KindSpec {
            kind: "bucket",
            doc: "An object store bucket with S3's semantics: clients get and put objects by key (`keys`, `mix`, `object_size`), each request answered after its first-byte latency plus its bytes at the per-request bandwidth; a get of a key never put answers not found (a 404, counted, not a failure); a put above the client's `part_size` is a multipart upload, its parts sent in parallel. Strongly consistent, as S3 is since 2020.",
            props: &[
                prop(
                    "first_byte",
                    PropType::DurationDist,
                    Need::Default("uniform(10ms, 30ms)"),
                    "Time to the first byte of a request's answer.",
                ),
                prop(
                    "bandwidth",
                    PropType::Size,
                    Need::Default("100MiB"),
                    "Bytes per second one request moves (a part of a multipart upload is a request).",
                ),
            ],
            metrics: &[
                metric("gets", MetricKind::Counter, "Get requests."),
                metric(
                    "puts",
                    MetricKind::Counter,
                    "Put requests (a multipart upload is one).",
                ),
                metric("not_found", MetricKind::Counter, "Gets of a key never put."),
                metric("bytes_in", MetricKind::Counter, "Bytes put."),
                metric("bytes_out", MetricKind::Counter, "Bytes got."),
                metric("stored", MetricKind::Gauge, "Bytes stored."),
            ],
        },
        KindSpec {
            kind: "topic",
            doc: "A pub/sub topic (as SNS fans out to SQS): clients publish to it with `to`, and each message is stored in every queue that `subscribes` to it before the publish is answered.",
            props: &[prop(
                "on",
                PropType::Host,
                Need::Default("unplaced: a managed topic, reached at once"),
                "The host the topic runs on (publishers cross the network to it).",
            )],
            metrics: &[
                metric("published", MetricKind::Counter, "Messages published."),
                metric(
                    "delivered",
                    MetricKind::Counter,
                    "Copies stored in the subscribed queues.",
                ),
            ],
        },
        KindSpec {
            kind: "queue",
            doc: "A durable queue with SQS's semantics: clients send to it (`to`), consumers (`consumes`) receive a message, which stays invisible for the visibility timeout, and delete it when processed; a message not deleted in time is delivered again (at least once), and after `max_receives` deliveries it goes to the dead-letter count.",
            props: &[
                prop(
                    "on",
                    PropType::Host,
                    Need::Default("unplaced: a managed queue, reached at once"),
                    "The host the queue runs on (senders cross the network to it).",
                ),
                prop(
                    "visibility",
                    PropType::Duration,
                    Need::Default("30s"),
                    "How long a received message stays invisible before it is delivered again if not deleted (at most 12h).",
                ),
                prop(
                    "max_receives",
                    PropType::Count { min: 1, max: 1000 },
                    Need::Default("none: delivered until deleted"),
                    "Deliveries after which a message moves to the dead-letter queue (SQS's maxReceiveCount).",
                ),
                prop(
                    "retention",
                    PropType::Duration,
                    Need::Default("4d"),
                    "How long a message is kept (60s to 14d).",
                ),
                prop(
                    "subscribes",
                    PropType::Ref {
                        kinds: &["topic"],
                        also: &[],
                    },
                    Need::Default("none"),
                    "A topic whose every message is stored in this queue too (SNS to SQS fan-out).",
                ),
            ],
            metrics: &[
                metric("sent", MetricKind::Counter, "Messages stored."),
                metric(
                    "received",
                    MetricKind::Counter,
                    "Deliveries to consumers (redeliveries included).",
                ),
                metric(
                    "redelivered",
                    MetricKind::Counter,
                    "Deliveries of a message delivered before (its consumer crashed, failed or was too slow).",
                ),
                metric(
                    "deleted",
                    MetricKind::Counter,
                    "Messages processed and deleted.",
                ),
                metric(
                    "dead_lettered",
                    MetricKind::Counter,
                    "Messages moved to the dead-letter queue after max_receives deliveries.",
                ),
                metric(
                    "depth",
                    MetricKind::Gauge,
                    "Messages in the queue, visible or in flight.",
                ),
                metric(
                    "age",
                    MetricKind::Latency,
                    "Time from a message's send to its deletion: how far behind the consumers are.",
                ),
            ],
        },
        KindSpec {
            kind: "client",
            doc: "Clients calling a service or sending to a queue: requests as a Poisson process at `rate` (an open loop: new requests do not wait for earlier ones), with the caller's policies for slow and failed requests. Its metrics are the caller's (a service that `calls` another has them too).",
            props: &[
                live_prop(
                    "rate",
                    PropType::Rate,
                    Need::Required,
                    "Requests per second.",
                ),
                prop(
                    "to",
                    PropType::Ref {
                        kinds: &["service", "function", "queue", "topic", "table", "bucket"],
                        also: &[],
                    },
                    Need::Sole,
                    "The service or function called, the queue or topic sent to (a send is answered once the message is stored), or the table or bucket read and written.",
                ),
                prop(
                    "keys",
                    PropType::CountDist,
                    Need::Default("uniform(1, 1000000)"),
                    "The keys a client's requests to a table or bucket name (`zipf(100000, 1.2)` makes some hot).",
                ),
                prop(
                    "mix",
                    PropType::Mix(&["get", "put"]),
                    Need::Default("[get 100%]"),
                    "The share of a client's requests to a table or bucket that read (get) and write (put).",
                ),
                prop(
                    "object_size",
                    PropType::Size,
                    Need::Default("1MiB"),
                    "The bytes of each object a client puts in a bucket.",
                ),
                prop(
                    "part_size",
                    PropType::Size,
                    Need::Default("none: one put per object"),
                    "Above this, a put is a multipart upload of parts this large, sent in parallel.",
                ),
                prop(
                    "on",
                    PropType::Host,
                    Need::Default("outside every host: reaches instances at once"),
                    "The host the requests come from.",
                ),
                prop(
                    "requests",
                    PropType::Count {
                        min: 1,
                        max: u64::MAX,
                    },
                    Need::Default("unlimited"),
                    "Stop after this many requests.",
                ),
                prop(
                    "slo",
                    PropType::Duration,
                    Need::Default("none"),
                    "A latency objective: `slo_attainment` is the share of calls that succeed within it.",
                ),
                TIMEOUT,
                RETRIES,
                BACKOFF,
                BACKOFF_MAX,
                JITTER,
                RETRY_BUDGET,
                BREAKER,
                BREAKER_WINDOW,
                BREAKER_COOLDOWN,
                HEDGE,
            ],
            metrics: CALLER_METRICS,
        },
    ],
    global_metrics: &[],
    verbs: &[LOAD, CRASH, RESTART],
    properties: &[],
    events: &[],
    charts: &[
        ChartSpec {
            id: "goodput",
            title: "Goodput per caller",
            doc: "Successful calls per second over simulated time: in a metastable failure it stays down after its trigger is gone.",
            source: ChartSource::Series {
                metrics: "{client}.goodput",
                y_name: "successful calls per second",
                y_unit: "",
                breaks: &[],
            },
        },
        ChartSpec {
            id: "service-queue",
            title: "Requests waiting per service",
            doc: "Requests queued over all of a service's instances, over simulated time.",
            source: ChartSource::Series {
                metrics: "{service}.queue_len",
                y_name: "requests waiting",
                y_unit: "",
                breaks: &[],
            },
        },
        ChartSpec {
            id: "queue-depth",
            title: "Messages in each durable queue",
            doc: "A queue's messages over simulated time: a spike absorbed, then drained by its consumers at their own pace.",
            source: ChartSource::Series {
                metrics: "{queue}.depth",
                y_name: "messages",
                y_unit: "",
                breaks: &[],
            },
        },
        ChartSpec {
            id: "partition-heatmap",
            title: "Requests per partition over time",
            doc: "A table's request distribution: a row per partition, a cell per time bucket, darker for more requests; a hot partition is a dark row, and a split ends its row and starts two.",
            source: ChartSource::Heatmap {
                metrics: "{table}.heatmap",
                y_name: "partition",
                x_name: "simulated time",
                value_name: "requests",
            },
        },
        ChartSpec {
            id: "throttle-heatmap",
            title: "Throttled requests per partition over time",
            doc: "The requests each partition throttled, per time bucket: only the hot partition's row is dark while the others have room to spare.",
            source: ChartSource::Heatmap {
                metrics: "{table}.throttle_map",
                y_name: "partition",
                x_name: "simulated time",
                value_name: "throttled requests",
            },
        },
        ChartSpec {
            id: "placement",
            title: "CPU and memory reserved per host",
            doc: "The share of each host's CPUs and memory that bin packing reserved for service instances: first fit fills the first hosts, worst fit spreads (in a sweep, a group per variant).",
            source: ChartSource::SweepBars {
                metrics: &["{host}.cpu_allocated", "{host}.memory_allocated"],
                stats: &["last"],
                y_name: "share reserved",
                none: "",
            },
        },
        ChartSpec {
            id: "instances",
            title: "Instances in service per service",
            doc: "Each service's instances in service and up over simulated time: an autoscaling group's steps, a zone's outage.",
            source: ChartSource::Series {
                metrics: "{service}.instances",
                y_name: "instances",
                y_unit: "",
                breaks: &[],
            },
        },
        ChartSpec {
            id: "client-latency",
            title: "Call latency (CDF)",
            doc: "The distribution of successful calls' latency, retries included: the tail at scale, and what hedging does to it.",
            source: ChartSource::Cdf {
                metrics: "{client}.latency",
                x_name: "latency",
                none: "none",
            },
        },
    ],
};

//! The queueing network's schema: `source` and `station` blocks, their metrics, and `load`.

use crate::schema::{
    ChartSource, ChartSpec, KindSpec, LOAD, MetricKind, ModelSpec, Need, PropType, live_prop,
    metric, prop,
};

use super::network::MAX_SERVERS;

const ROUTE: PropType = PropType::Route {
    kind: "station",
    also: &["exit"],
};

/// `source` and `station`, the queueing network's blocks.
pub const SCHEMA: ModelSpec = ModelSpec {
    name: "queueing",
    doc: "An open queueing network: sources, FIFO stations with k servers, probabilistic routing.",
    kinds: &[
        KindSpec {
            kind: "source",
            doc: "Customers arriving into the network.",
            props: &[
                live_prop(
                    "rate",
                    PropType::Rate,
                    Need::OneOf("interarrival"),
                    "Poisson arrivals at this rate (exponential interarrival times).",
                ),
                live_prop(
                    "interarrival",
                    PropType::DurationDist,
                    Need::OneOf("rate"),
                    "Time between arrivals (instead of rate).",
                ),
                prop(
                    "customers",
                    PropType::Count {
                        min: 1,
                        max: u64::MAX,
                    },
                    Need::Default("unlimited"),
                    "Stop arriving after this many customers.",
                ),
                prop(
                    "to",
                    ROUTE,
                    Need::Required,
                    "The station customers go to first.",
                ),
                prop(
                    "on",
                    PropType::Host,
                    Need::Default("outside every host"),
                    "The host the customers come from.",
                ),
                prop(
                    "timeout",
                    PropType::Duration,
                    Need::Default("none"),
                    "Clients give up on a request older than this; it is still served, and counts in timeouts.",
                ),
            ],
            metrics: &[
                metric("arrivals", MetricKind::Counter, "Customers that arrived."),
                metric(
                    "timeouts",
                    MetricKind::Counter,
                    "Requests answered later than the timeout, or unanswered past it at the end (only with a timeout).",
                ),
            ],
        },
        KindSpec {
            kind: "station",
            doc: "A FIFO queue in front of k identical servers.",
            props: &[
                prop(
                    "servers",
                    PropType::Count {
                        min: 1,
                        max: MAX_SERVERS as u64,
                    },
                    Need::Default("1"),
                    "Number of servers working in parallel.",
                ),
                prop(
                    "service",
                    PropType::DurationDist,
                    Need::Required,
                    "Service time of one customer.",
                ),
                prop(
                    "to",
                    ROUTE,
                    Need::Default("exit"),
                    "Where customers go after service.",
                ),
                prop(
                    "queue_limit",
                    PropType::Count {
                        min: 0,
                        max: u64::MAX,
                    },
                    Need::Default("unlimited"),
                    "Most customers waiting; arrivals beyond it are dropped.",
                ),
                prop(
                    "on",
                    PropType::Host,
                    Need::Placed,
                    "The host whose servers serve the customers.",
                ),
            ],
            metrics: &[
                metric(
                    "wait",
                    MetricKind::Latency,
                    "Time in queue, before service.",
                ),
                metric(
                    "sojourn",
                    MetricKind::Latency,
                    "Time in queue plus service.",
                ),
                metric("served", MetricKind::Counter, "Customers served."),
                metric(
                    "dropped",
                    MetricKind::Counter,
                    "Arrivals refused by a full queue.",
                ),
                metric("queue_len", MetricKind::Gauge, "Customers waiting."),
                metric("busy", MetricKind::Gauge, "Servers busy."),
                metric(
                    "in_flight",
                    MetricKind::Gauge,
                    "Customers on the network towards this station (only when a route crosses hosts).",
                ),
            ],
        },
    ],
    global_metrics: &[
        metric(
            "system.response",
            MetricKind::Latency,
            "Time from entering the network to leaving it.",
        ),
        metric(
            "system.in_system",
            MetricKind::Gauge,
            "Customers in the network.",
        ),
        metric(
            "system.exited",
            MetricKind::Counter,
            "Customers that left after service.",
        ),
        metric(
            "system.retransmits",
            MetricKind::Counter,
            "Customers' messages sent again after a loss (only when a route crosses hosts).",
        ),
    ],
    verbs: &[LOAD],
    properties: &[],
    events: &[],
    charts: &[
        ChartSpec {
            id: "queue-length",
            title: "Queue length per station",
            doc: "Customers waiting at each station over simulated time (sampled: at most 4096 points per line).",
            source: ChartSource::Series {
                metrics: "{station}.queue_len",
                y_name: "customers waiting",
                y_unit: "",
                breaks: &[],
            },
        },
        ChartSpec {
            id: "in-system",
            title: "Customers in the network",
            doc: "Customers anywhere in the network over simulated time (sampled: at most 4096 points).",
            source: ChartSource::Series {
                metrics: "system.in_system",
                y_name: "customers",
                y_unit: "",
                breaks: &[],
            },
        },
        ChartSpec {
            id: "response-cdf",
            title: "Response time (CDF)",
            doc: "The distribution of the time from entering the network to leaving it; for M/M/1 it is exponential with mean 1/(mu - lambda).",
            source: ChartSource::Cdf {
                metrics: "system.response",
                x_name: "response time",
                none: "none",
            },
        },
        ChartSpec {
            id: "response-histogram",
            title: "Response time (histogram)",
            doc: "How many customers took each response time, in 40 equal bins: the exponential's shape for M/M/1.",
            source: ChartSource::Histogram {
                metrics: "system.response",
                x_name: "response time",
                bins: 40,
            },
        },
        ChartSpec {
            id: "wait-cdf",
            title: "Waiting time per station (CDF)",
            doc: "The distribution of each station's time in queue before service (customers served at once wait 0).",
            source: ChartSource::Cdf {
                metrics: "{station}.wait",
                x_name: "wait",
                none: "none",
            },
        },
        ChartSpec {
            id: "sweep",
            title: "Mean wait and response per variant",
            doc: "The mean waiting time at each station and the mean response time, for each swept value.",
            source: ChartSource::SweepBars {
                metrics: &["{station}.wait", "system.response"],
                stats: &["mean"],
                y_name: "time",
                none: "none",
            },
        },
    ],
};

//! The Raft model's schema: `raft` and `load` blocks, their metrics, the fault verbs it reacts
//! to, and what `expect` can ask of it. (The `network` its servers talk over is the world's.)

use crate::schema::{
    ArgSpec, ChartSource, ChartSpec, KindSpec, LOAD, MetricKind, ModelSpec, Need, PropType,
    VerbSpec, live_prop, metric, prop,
};

use super::types::Bugs;
use crate::world::schema::{CLOCK, DISK, HEAL, PARTITION};

const COUNT: PropType = PropType::Count {
    min: 1,
    max: u64::MAX,
};

/// The partition shapes (Jepsen's nemesis shapes), as `partition` takes them.
pub const SHAPES: &[&str] = &["halves", "one", "bridge", "majorities-ring", "one-way"];

/// `crash`: a Raft cluster's servers react.
pub const CRASH: VerbSpec = VerbSpec {
    name: "crash",
    doc: "Stops servers as a power loss would: what was not fsynced is lost.",
    args: &[ArgSpec::Target],
};

/// `restart`: a Raft cluster's servers react.
pub const RESTART: VerbSpec = VerbSpec {
    name: "restart",
    doc: "Boots crashed servers from what their disks hold.",
    args: &[ArgSpec::Target],
};

/// `pause`: a Raft cluster's servers react.
pub const PAUSE: VerbSpec = VerbSpec {
    name: "pause",
    doc: "Freezes servers, as SIGSTOP would.",
    args: &[ArgSpec::Target],
};

/// `resume`: a Raft cluster's servers react.
pub const RESUME: VerbSpec = VerbSpec {
    name: "resume",
    doc: "Lets paused servers go on.",
    args: &[ArgSpec::Target],
};

/// The faults a Raft cluster reacts to (the network's and hosts' too: a cluster's scenario needs no
/// `host` or `network` block to use them), and `load` (its clients' rate).
pub const VERBS: &[VerbSpec] = &[
    PARTITION, HEAL, CRASH, RESTART, PAUSE, RESUME, CLOCK, DISK, LOAD,
];

/// `raft` and `load` blocks.
pub const SCHEMA: ModelSpec = ModelSpec {
    name: "raft",
    doc: "A Raft cluster replicating a key-value store, over a simulated network, with clients.",
    kinds: &[
        KindSpec {
            kind: "raft",
            doc: "A Raft cluster; its nodes are the targets of crash, pause, clock and disk faults.",
            props: &[
                prop(
                    "nodes",
                    PropType::Nodes,
                    Need::OneOf("on"),
                    "The servers, each on an implicit host of its own.",
                ),
                prop(
                    "on",
                    PropType::Hosts,
                    Need::OneOf("nodes"),
                    "The hosts the servers run on, one each; the servers are named after them.",
                ),
                prop(
                    "election_timeout",
                    PropType::DurationRange,
                    Need::Default("150ms..300ms"),
                    "Election timeouts are drawn uniformly from this range.",
                ),
                prop(
                    "heartbeat",
                    PropType::Duration,
                    Need::Default("50ms"),
                    "How often a leader sends AppendEntries when idle.",
                ),
                prop(
                    "pre_vote",
                    PropType::Bool,
                    Need::Default("false"),
                    "Ask for pre-votes before standing for election (thesis §9.6).",
                ),
                prop(
                    "check_quorum",
                    PropType::Bool,
                    Need::Default("false"),
                    "Leaders step down when they cannot hear a majority (thesis §6.2).",
                ),
                prop(
                    "fsync",
                    PropType::DurationDist,
                    Need::Default("uniform(100us, 500us)"),
                    "Time for the disk to make writes durable.",
                ),
                prop(
                    "timer_jitter",
                    PropType::DurationDist,
                    Need::Default("uniform(0us, 100us)"),
                    "How late a node's timer fires after it is due: Linux's default timer slack (50 us) plus wake-up latency; 0s for exact timers.",
                ),
                prop(
                    "snapshot_every",
                    COUNT,
                    Need::Default("never"),
                    "Compact the log into a snapshot every this many applied entries.",
                ),
                prop(
                    "max_entries",
                    PropType::Count {
                        min: 1,
                        max: 1_000_000,
                    },
                    Need::Default("64"),
                    "The most entries one AppendEntries carries.",
                ),
                prop(
                    "bug",
                    PropType::Choice(Bugs::NAMES),
                    Need::Default("none"),
                    "Switch on a planted bug, to see the checkers catch it.",
                ),
                prop(
                    "cpu_per_message",
                    PropType::Duration,
                    Need::Default("0s (not modelled)"),
                    "CPU time each delivered message costs on its server's host, queued with whatever else runs there.",
                ),
            ],
            metrics: &[
                metric(
                    "elections",
                    MetricKind::Counter,
                    "Times a node became leader.",
                ),
                metric(
                    "election_time",
                    MetricKind::Latency,
                    "From a leader's crash to the next leader of a later term.",
                ),
                metric(
                    "commit_latency",
                    MetricKind::Latency,
                    "From a leader appending an entry to knowing it committed.",
                ),
                metric("commits", MetricKind::Counter, "Entries committed."),
                metric(
                    "term",
                    MetricKind::Gauge,
                    "The highest term any node reached.",
                ),
                metric("crashes", MetricKind::Counter, "Nodes crashed."),
            ],
        },
        KindSpec {
            kind: "load",
            doc: "Clients that send get, put and cas operations to the cluster and record a history.",
            props: &[
                prop(
                    "clients",
                    PropType::Count {
                        min: 1,
                        max: 10_000,
                    },
                    Need::Default("1"),
                    "Clients, each with one operation in flight.",
                ),
                live_prop(
                    "rate",
                    PropType::Rate,
                    Need::Required,
                    "Operations per second offered by all clients together.",
                ),
                prop(
                    "keys",
                    PropType::CountDist,
                    Need::Default("uniform(1, 5)"),
                    "Which key an operation touches.",
                ),
                prop(
                    "mix",
                    PropType::Mix(&["get", "put", "cas"]),
                    Need::Default("[get 50%, put 30%, cas 20%]"),
                    "The share of each operation.",
                ),
                prop(
                    "timeout",
                    PropType::Duration,
                    Need::Default("100ms"),
                    "How long a client waits for an answer before trying another server.",
                ),
                prop(
                    "op_timeout",
                    PropType::Duration,
                    Need::Default("1s"),
                    "How long an operation may take in all before its outcome is unknown.",
                ),
                prop(
                    "to",
                    PropType::Ref {
                        kinds: &["raft", "cache"],
                        also: &[],
                    },
                    Need::Sole,
                    "The cluster the clients talk to, or the cache they reach it through.",
                ),
                prop(
                    "on",
                    PropType::Host,
                    Need::Default("outside every host"),
                    "The host the clients run on.",
                ),
            ],
            metrics: &[
                metric(
                    "ok",
                    MetricKind::Counter,
                    "Operations answered, except a cas answered false.",
                ),
                metric(
                    "fail",
                    MetricKind::Counter,
                    "Cas operations answered \"the value differed\" (they changed nothing).",
                ),
                metric(
                    "info",
                    MetricKind::Counter,
                    "Operations whose outcome is unknown (timed out).",
                ),
                metric(
                    "latency",
                    MetricKind::Latency,
                    "Time from call to answer of completed operations.",
                ),
            ],
        },
    ],
    global_metrics: &[],
    verbs: VERBS,
    properties: &[
        (
            "linearizable",
            "The clients' history is linearizable, per key (checked at the end).",
        ),
        (
            "durable",
            "Every acknowledged write is in the state of the most advanced node at the end.",
        ),
        (
            "safe",
            "Raft's safety properties hold after every event (always checked; naming it documents it).",
        ),
    ],
    events: &[
        (
            "leader",
            "A running node leads in the highest term of any live node.",
        ),
        ("commit", "The cluster commits a new entry."),
    ],
    charts: &[
        ChartSpec {
            id: "roles",
            title: "Raft roles and terms per node, with faults",
            doc: "Each node's role over time (labelled with its term); during a partition each node's row is tinted by its side (nodes that can talk to each other share a side), crashes and pauses are tinted on the node they hit, and every fault is a dashed line named above the plot (or, when there are too many to name, counted per stretch of time there).",
            source: ChartSource::Timeline {
                group: "hosts",
                categories: &["role"],
                row_bands: &["down", "paused", "side"],
                global_bands: &[],
                markers: "fault",
                row_axis: "node",
            },
        },
        ChartSpec {
            id: "commit-index",
            title: "Commit index per node",
            doc: "How far each node knows the log to be committed: flat stretches are the cluster (or that node) unable to commit. A node's line is broken while it is down and resumes with a dot at its restart; lines that coincide are drawn widest first, so each node's colour shows as a rim.",
            source: ChartSource::Series {
                metrics: "*.commit_index_*",
                y_name: "commit index",
                y_unit: "entries",
                breaks: &["down"],
            },
        },
        ChartSpec {
            id: "throughput",
            title: "Client throughput (successful operations)",
            doc: "Operations that completed ok per second of simulated time: dips are elections and partitions.",
            source: ChartSource::Rate {
                group: "clients",
                category: "op",
                suffix: " ok",
                y_name: "operations",
            },
        },
        ChartSpec {
            id: "latency-cdf",
            title: "Client operation latency (CDF)",
            doc: "The distribution of the time from invoking an operation to its ok or fail, retries included.",
            source: ChartSource::Cdf {
                metrics: "*.latency",
                x_name: "latency",
                none: "none",
            },
        },
        ChartSpec {
            id: "election-time-cdf",
            title: "Time to elect a new leader after a leader crash (CDF)",
            doc: "From the crash of a leader to the next leader of a higher term; in a sweep of election timeouts, the Raft paper's figure 16.",
            source: ChartSource::Cdf {
                metrics: "*.election_time",
                x_name: "election time",
                none: "never",
            },
        },
        ChartSpec {
            id: "latency-histogram",
            title: "Client operation latency (histogram)",
            doc: "How many operations took each latency, in 40 bins (equal on a log axis when most would share one bar): the long tail is retries across elections and partitions.",
            source: ChartSource::Histogram {
                metrics: "*.latency",
                x_name: "latency",
                bins: 40,
            },
        },
        ChartSpec {
            id: "election-time-sweep",
            title: "Election time per variant",
            doc: "Median and 99th percentile of the time to elect a new leader, for each swept value.",
            source: ChartSource::SweepBars {
                metrics: &["*.election_time"],
                stats: &["p50", "p99"],
                y_name: "election time",
                none: "never",
            },
        },
    ],
};

//! The CPU scheduling model's schema: a `cpu` block (the machine, its policy and its quota),
//! `job` blocks (one job each) and `jobs` blocks (drawn jobs or requests), with the metrics
//! they produce.

use crate::schema::{
    ChartSource, ChartSpec, KindSpec, MetricKind, ModelSpec, Need, PropSpec, PropType, metric, prop,
};

/// Every policy a `cpu` block can name.
pub const POLICIES: &[&str] = &[
    "fifo", "sjf", "stcf", "rr", "mlfq", "lottery", "stride", "cfs",
];

const DURATION_OR_ZERO: PropType = PropType::Duration;

// The machine's properties, one const each: the world's `host` block takes the same ones
// (`crate::world::schema`), so a host's CPUs are described, typed and defaulted in one place.

pub const POLICY: PropSpec = prop(
    "policy",
    PropType::Choice(POLICIES),
    Need::Required,
    "The scheduling policy.",
);

pub const CPUS: PropSpec = prop(
    "cpus",
    PropType::Count { min: 1, max: 64 },
    Need::Default("1"),
    "Number of CPUs.",
);

pub const PER_CPU_QUEUES: PropSpec = prop(
    "per_cpu_queues",
    PropType::Bool,
    Need::Default("false"),
    "One run queue per CPU (jobs stay where they ran) instead of one shared queue.",
);

pub const STEAL: PropSpec = prop(
    "steal",
    PropType::Bool,
    Need::Default("false"),
    "With per-CPU queues: an idle CPU steals a job from the fullest queue.",
);

pub const QUANTUM: PropSpec = prop(
    "quantum",
    DURATION_OR_ZERO,
    Need::Default("10ms"),
    "Time slice of rr, lottery and stride, and of MLFQ's top queue.",
);

pub const CONTEXT_SWITCH: PropSpec = prop(
    "context_switch",
    DURATION_OR_ZERO,
    Need::Default("0s"),
    "Time a CPU spends switching to a different job.",
);

pub const MIGRATION_COST: PropSpec = prop(
    "migration_cost",
    DURATION_OR_ZERO,
    Need::Default("0s"),
    "Extra CPU time a job needs when it runs cold (on another CPU, or after warm_window).",
);

pub const WARM_WINDOW: PropSpec = prop(
    "warm_window",
    DURATION_OR_ZERO,
    Need::Default("10ms"),
    "How long a CPU's cache stays warm for a job that left it.",
);

pub const LEVELS: PropSpec = prop(
    "levels",
    PropType::Count { min: 1, max: 64 },
    Need::Default("3"),
    "MLFQ: number of queues.",
);

pub const QUANTUM_FACTOR: PropSpec = prop(
    "quantum_factor",
    PropType::Count { min: 1, max: 1000 },
    Need::Default("2"),
    "MLFQ: each lower queue's quantum and allotment are this many times the one above.",
);

pub const ALLOTMENT: PropSpec = prop(
    "allotment",
    DURATION_OR_ZERO,
    Need::Default("2 quanta"),
    "MLFQ: CPU time a job may use in the top queue before it moves down.",
);

pub const BOOST: PropSpec = prop(
    "boost",
    DURATION_OR_ZERO,
    Need::Default("never"),
    "MLFQ: every this often, all jobs go back to the top queue.",
);

pub const IO_RESETS_ALLOTMENT: PropSpec = prop(
    "io_resets_allotment",
    PropType::Bool,
    Need::Default("false"),
    "MLFQ: a job that gives up the CPU keeps its level with a fresh allotment (gameable).",
);

pub const TARGET_LATENCY: PropSpec = prop(
    "target_latency",
    DURATION_OR_ZERO,
    Need::Default("48ms"),
    "CFS: the period in which every runnable job should run once.",
);

pub const MIN_GRANULARITY: PropSpec = prop(
    "min_granularity",
    DURATION_OR_ZERO,
    Need::Default("6ms"),
    "CFS: the shortest slice.",
);

pub const QUOTA: PropSpec = prop(
    "quota",
    DURATION_OR_ZERO,
    Need::Default("0s, no limit"),
    "CFS bandwidth: CPU time the machine's jobs may use per period, summed over its CPUs (cpu.cfs_quota_us); then throttled until the period ends.",
);

pub const PERIOD: PropSpec = prop(
    "period",
    DURATION_OR_ZERO,
    Need::Default("100ms"),
    "CFS bandwidth: the period over which the quota is counted (cpu.cfs_period_us), 1ms to 1s.",
);

/// `cpu` and `job` blocks.
pub const SCHEMA: ModelSpec = ModelSpec {
    name: "cpu",
    doc: "CPU scheduling: jobs with CPU and I/O bursts on one or more CPUs under a policy.",
    kinds: &[
        KindSpec {
            kind: "cpu",
            doc: "The machine: its CPUs, the scheduling policy and its parameters.",
            props: &[
                POLICY,
                CPUS,
                PER_CPU_QUEUES,
                STEAL,
                QUANTUM,
                CONTEXT_SWITCH,
                MIGRATION_COST,
                WARM_WINDOW,
                LEVELS,
                QUANTUM_FACTOR,
                ALLOTMENT,
                BOOST,
                IO_RESETS_ALLOTMENT,
                TARGET_LATENCY,
                MIN_GRANULARITY,
                QUOTA,
                PERIOD,
            ],
            metrics: &[
                metric(
                    "response",
                    MetricKind::Latency,
                    "First run minus arrival, per job.",
                ),
                metric(
                    "turnaround",
                    MetricKind::Latency,
                    "Completion minus arrival, per job.",
                ),
                metric(
                    "wait",
                    MetricKind::Latency,
                    "Time runnable but not running, per job.",
                ),
                metric(
                    "utilisation",
                    MetricKind::Gauge,
                    "Mean share of time the CPUs ran jobs.",
                ),
                metric(
                    "fairness",
                    MetricKind::Gauge,
                    "Jain's index over jobs' CPU rates (1 = fair).",
                ),
                metric(
                    "decisions",
                    MetricKind::Counter,
                    "Times a CPU asked the policy what to run.",
                ),
                metric(
                    "unfinished",
                    MetricKind::Counter,
                    "Jobs not finished when the run ended.",
                ),
                metric(
                    "nr_periods",
                    MetricKind::Counter,
                    "With quota or period: periods in which the machine ran or was throttled.",
                ),
                metric(
                    "nr_throttled",
                    MetricKind::Counter,
                    "With quota or period: periods in which the quota ran out.",
                ),
                metric(
                    "throttled_time",
                    MetricKind::Latency,
                    "With quota or period: the time the machine spent throttled, as one value.",
                ),
            ],
        },
        KindSpec {
            kind: "job",
            doc: "One job: when it arrives, its CPU demand, and its I/O pattern.",
            props: &[
                prop(
                    "arrival",
                    DURATION_OR_ZERO,
                    Need::Default("0s"),
                    "When the job arrives.",
                ),
                prop(
                    "cpu",
                    PropType::Duration,
                    Need::Required,
                    "Total CPU time it needs.",
                ),
                prop(
                    "io_every",
                    PropType::Duration,
                    Need::Default("never"),
                    "It does I/O after every this much CPU time.",
                ),
                prop(
                    "io",
                    PropType::Duration,
                    Need::Default("0s"),
                    "How long each I/O takes.",
                ),
                prop(
                    "tickets",
                    PropType::Count {
                        min: 0,
                        max: 1_000_000,
                    },
                    Need::Default("100"),
                    "Lottery and stride share.",
                ),
                prop(
                    "nice",
                    PropType::Float {
                        min: -20.0,
                        max: 19.0,
                    },
                    Need::Default("0"),
                    "CFS niceness: -20 (most CPU) to 19 (least).",
                ),
                prop(
                    "pin",
                    PropType::Count { min: 0, max: 63 },
                    Need::Default("any CPU"),
                    "The only CPU the job may run on.",
                ),
                prop(
                    "on",
                    PropType::Hosts,
                    Need::Placed,
                    "The hosts whose CPUs run the job: one copy on each (`on db1..db3`), its figures pooled under the job's name.",
                ),
            ],
            metrics: &[
                metric("response", MetricKind::Latency, "First run minus arrival."),
                metric(
                    "turnaround",
                    MetricKind::Latency,
                    "Completion minus arrival.",
                ),
                metric(
                    "wait",
                    MetricKind::Latency,
                    "Time runnable but not running.",
                ),
            ],
        },
        KindSpec {
            kind: "jobs",
            doc: "Many jobs drawn from distributions (seeded by the run's seed), alone or as requests of several threads; reported in the machine-wide metrics and each request's latency.",
            props: &[
                prop(
                    "count",
                    PropType::Count {
                        min: 1,
                        max: 1_000_000,
                    },
                    Need::Required,
                    "How many jobs.",
                ),
                prop(
                    "interarrival",
                    PropType::DurationDist,
                    Need::Default("0s (all at once)"),
                    "Time between arrivals; the first job arrives at 0.",
                ),
                prop(
                    "cpu",
                    PropType::DurationDist,
                    Need::Required,
                    "Total CPU time of each job.",
                ),
                prop(
                    "io_every",
                    PropType::DurationDist,
                    Need::Default("never"),
                    "Each job does I/O after every this much CPU time (drawn once per job).",
                ),
                prop(
                    "threads",
                    PropType::Count { min: 1, max: 64 },
                    Need::Default("1"),
                    "Each arrival is a request of this many jobs (threads), each needing the drawn CPU time.",
                ),
                prop(
                    "io",
                    PropType::DurationDist,
                    Need::Default("0s"),
                    "How long each I/O takes (drawn once per job).",
                ),
                prop(
                    "tickets",
                    PropType::Count {
                        min: 0,
                        max: 1_000_000,
                    },
                    Need::Default("100"),
                    "Lottery and stride share of each job.",
                ),
                prop(
                    "nice",
                    PropType::Float {
                        min: -20.0,
                        max: 19.0,
                    },
                    Need::Default("0"),
                    "CFS niceness of each job.",
                ),
                prop(
                    "on",
                    PropType::Hosts,
                    Need::Placed,
                    "The hosts whose CPUs run the jobs: the same draw of jobs on each.",
                ),
            ],
            metrics: &[metric(
                "latency",
                MetricKind::Latency,
                "Per request: its last thread's completion minus its arrival.",
            )],
        },
    ],
    global_metrics: &[],
    verbs: &[],
    properties: &[],
    events: &[],
    charts: &[
        ChartSpec {
            id: "schedule",
            title: "Schedule: jobs on CPUs",
            doc: "Which job ran on which CPU when (context switches are the gaps).",
            source: ChartSource::Gantt {
                group: "cpus",
                category: "run",
                row_axis: "CPU",
            },
        },
        ChartSpec {
            id: "per-job",
            title: "Response, turnaround and wait per job",
            doc: "OSTEP's metrics for each job (the machine's bars are the mean over all jobs).",
            source: ChartSource::Bars {
                metrics: &["response", "turnaround", "wait"],
                stat: "mean",
                y_name: "time",
            },
        },
        ChartSpec {
            id: "sweep",
            title: "Mean response and turnaround per variant",
            doc: "The machine's mean response, turnaround and wait for each swept value.",
            source: ChartSource::SweepBars {
                metrics: &["{cpu}.response", "{cpu}.turnaround", "{cpu}.wait"],
                stats: &["mean"],
                y_name: "time",
                none: "none",
            },
        },
    ],
};

//! The disk family's schema: `disk` blocks (a host's disk: a drive or a RAID array, and the I/O
//! scheduler in front of it) and `io` blocks (a block workload run against a host's disk, as
//! fio would describe it).

use crate::schema::{
    ChartSource, ChartSpec, KindSpec, MetricKind, ModelSpec, Need, PropType, metric, prop,
};

use super::sched::IoPolicy;
use super::workload::Pattern;

/// The drive models.
pub const MODELS: &[&str] = &["hdd", "ssd"];

/// The array levels (`none`: the drive alone).
pub const RAID_LEVELS: &[&str] = &["none", "raid0", "raid1", "raid4", "raid5"];

/// The SSD's garbage collection policies.
pub const GC_POLICIES: &[&str] = &["greedy", "cost-benefit"];

pub const SCHEMA: ModelSpec = ModelSpec {
    name: "disk",
    doc: "Disks as host resources (hard drives, SSDs, RAID arrays, with an I/O scheduler in front) and block workloads run on them.",
    kinds: &[
        KindSpec {
            kind: "disk",
            doc: "A host's disk: one drive, or a RAID array of `members` alike. `on` names the hosts that have it (one each); without hosts the disk is a host of its own.",
            props: &[
                prop(
                    "on",
                    PropType::Hosts,
                    Need::Placed,
                    "The hosts with this disk, one each (`on db1..db3`).",
                ),
                prop(
                    "model",
                    PropType::Choice(MODELS),
                    Need::Default("hdd"),
                    "A hard drive (seek, rotation, zoned transfer) or a flash SSD (page-mapped FTL, garbage collection).",
                ),
                prop(
                    "capacity",
                    PropType::Size,
                    Need::Default("hdd 1TiB, ssd 4GiB"),
                    "Bytes one drive holds.",
                ),
                prop(
                    "rpm",
                    PropType::Count {
                        min: 1_000,
                        max: 30_000,
                    },
                    Need::Default("7200"),
                    "A hard drive's spindle speed.",
                ),
                prop(
                    "seek",
                    PropType::Duration,
                    Need::Default("9ms"),
                    "A hard drive's average seek (over random seeks: a third of the full stroke), on Ruemmler and Wilkes' curve shape.",
                ),
                prop(
                    "transfer",
                    PropType::Size,
                    Need::Default("hdd 105MiB, ssd 400MB"),
                    "Bytes per second at the outer edge (a hard drive's inner zone gives 60% of it) or over each of an SSD's 8 dies' channels.",
                ),
                prop(
                    "read_ahead",
                    PropType::Bool,
                    Need::Default("true"),
                    "A hard drive reads on to the end of the track into its buffer after a read; reads from the buffer cross only the interface (SATA's 600 MB/s).",
                ),
                prop(
                    "read_latency",
                    PropType::Duration,
                    Need::Default("50us"),
                    "An SSD's flash page read.",
                ),
                prop(
                    "write_latency",
                    PropType::Duration,
                    Need::Default("750us"),
                    "An SSD's flash page program.",
                ),
                prop(
                    "erase_latency",
                    PropType::Duration,
                    Need::Default("3ms"),
                    "An SSD's block erase.",
                ),
                prop(
                    "over_provisioning",
                    PropType::Probability,
                    Need::Default("7%"),
                    "An SSD's flash beyond its capacity, as a share of the capacity.",
                ),
                prop(
                    "gc",
                    PropType::Choice(GC_POLICIES),
                    Need::Default("greedy"),
                    "An SSD's victim choice: fewest valid pages, or cost-benefit (age and emptiness).",
                ),
                prop(
                    "scheduler",
                    PropType::Choice(IoPolicy::NAMES),
                    Need::Default("fifo"),
                    "The I/O scheduler in front of the disk.",
                ),
                prop(
                    "raid",
                    PropType::Choice(RAID_LEVELS),
                    Need::Default("none"),
                    "An array of `members` drives alike at this level.",
                ),
                prop(
                    "members",
                    PropType::Count { min: 1, max: 64 },
                    Need::Default("4"),
                    "Drives in the array.",
                ),
                prop(
                    "chunk",
                    PropType::Size,
                    Need::Default("64KiB"),
                    "The array's stripe unit.",
                ),
            ],
            metrics: &[
                metric("requests", MetricKind::Counter, "Requests the disk served."),
                metric(
                    "service",
                    MetricKind::Latency,
                    "A request's time on the device, from its start.",
                ),
                metric(
                    "seek_time",
                    MetricKind::Latency,
                    "A hard drive's seek per request.",
                ),
                metric(
                    "queue_depth",
                    MetricKind::Gauge,
                    "Requests waiting or in service.",
                ),
                metric(
                    "seek_distance",
                    MetricKind::Gauge,
                    "A hard drive's (or array's) cylinders moved by the last request, set with `seek`.",
                ),
                metric(
                    "seek",
                    MetricKind::Gauge,
                    "A hard drive's (or array's) last seek time in nanoseconds, set with `seek_distance`.",
                ),
                metric(
                    "write_amplification",
                    MetricKind::Gauge,
                    "An SSD's flash pages programmed per page the host wrote.",
                ),
            ],
        },
        KindSpec {
            kind: "io",
            doc: "A block workload on its host's disk: a closed loop keeping `queue_depth` requests outstanding until `requests` are done.",
            props: &[
                prop(
                    "on",
                    PropType::Hosts,
                    Need::Placed,
                    "The hosts whose disks it runs on, one copy each.",
                ),
                prop(
                    "block",
                    PropType::Size,
                    Need::Default("4KiB"),
                    "Bytes per request (a multiple of 512).",
                ),
                prop(
                    "pattern",
                    PropType::Choice(Pattern::NAMES),
                    Need::Default("random"),
                    "Where requests fall: uniformly at random, or one block after another.",
                ),
                prop(
                    "reads",
                    PropType::Probability,
                    Need::Default("100%"),
                    "The share of requests that read; the rest write.",
                ),
                prop(
                    "queue_depth",
                    PropType::Count { min: 1, max: 4096 },
                    Need::Default("1"),
                    "Requests kept outstanding.",
                ),
                prop(
                    "requests",
                    PropType::Count {
                        min: 1,
                        max: 100_000_000,
                    },
                    Need::Default("10000"),
                    "Requests in all.",
                ),
                prop(
                    "span",
                    PropType::Size,
                    Need::Default("the whole disk"),
                    "Bytes of the disk the requests fall in, from `start`.",
                ),
                prop(
                    "start",
                    PropType::Size,
                    Need::Default("0"),
                    "The span's first byte.",
                ),
            ],
            metrics: &[
                metric(
                    "read_latency",
                    MetricKind::Latency,
                    "A read's time from issue to completion.",
                ),
                metric(
                    "write_latency",
                    MetricKind::Latency,
                    "A write's time from issue to completion.",
                ),
                metric("completed", MetricKind::Counter, "Requests completed."),
                metric(
                    "errors",
                    MetricKind::Counter,
                    "Requests the disk failed (a failed disk, an error fault, a full disk).",
                ),
            ],
        },
    ],
    global_metrics: &[],
    verbs: &[],
    properties: &[],
    events: &[],
    charts: &[
        ChartSpec {
            id: "read-latency-cdf",
            title: "Read latency (CDF)",
            doc: "The distribution of a read's time from issue to completion, queueing included; in a sweep of schedulers, one line each (FIFO's random seeks against SSTF's and SATF's short ones, and SATF's tail of starved requests).",
            source: ChartSource::Cdf {
                metrics: "{io}.read_latency",
                x_name: "read latency",
                none: "none",
            },
        },
        ChartSpec {
            id: "write-latency-cdf",
            title: "Write latency (CDF)",
            doc: "The distribution of a write's time from issue to completion, queueing included: on a filling SSD, the tail of writes that waited for garbage collection.",
            source: ChartSource::Cdf {
                metrics: "{io}.write_latency",
                x_name: "write latency",
                none: "none",
            },
        },
        ChartSpec {
            id: "seek-curve",
            title: "Seek time against seek distance",
            doc: "Each request's seek time against the cylinders its arm moved (means over stretches of at most 1/2048 of the run, so a dot may average a few requests): Ruemmler and Wilkes' curve, a square root for short seeks turning linear for long ones.",
            source: ChartSource::Scatter {
                x: "{disk}.seek_distance",
                y: "{disk}.seek",
                x_name: "seek distance",
                x_unit: "cylinders",
                y_name: "seek time",
                y_unit: "ns",
            },
        },
        ChartSpec {
            id: "write-amplification",
            title: "Write amplification over time",
            doc: "An SSD's flash pages programmed per page the host wrote, so far: 1 while erased blocks last, climbing once garbage collection copies live pages.",
            source: ChartSource::Series {
                metrics: "{disk}.write_amplification",
                y_name: "write amplification",
                y_unit: "",
                breaks: &[],
            },
        },
        ChartSpec {
            id: "queue-depth",
            title: "Queue depth",
            doc: "Requests waiting or in service at each disk over simulated time (means over at most 4096 stretches).",
            source: ChartSource::Series {
                metrics: "{disk}.queue_depth",
                y_name: "requests",
                y_unit: "",
                breaks: &[],
            },
        },
    ],
};

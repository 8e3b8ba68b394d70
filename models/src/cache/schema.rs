//! The cache family's schema: `cache` blocks, a memory-bounded cache on hosts in front of the
//! Raft key-value store or of another cache tier.

use crate::schema::{
    ChartSource, ChartSpec, KindSpec, MetricKind, ModelSpec, Need, PropType, metric, prop,
};
use crate::world::cache::WriteMode;

use super::trace::Format;

/// The policies a cache can have: the online ones ([`super::Kind::NAMES`]) and Belady's OPT,
/// which only a cache replaying a trace can use (it reads the whole trace first).
pub const POLICIES: &[&str] = &[
    "fifo", "lru", "clock", "sieve", "lfu", "twoq", "arc", "lirs", "tinylfu", "s3fifo", "opt",
];

/// Which missed objects a replaying cache admits.
pub const ADMISSIONS: &[&str] = &["all", "second-hit"];

/// How a miss's reply is installed.
pub const FILLS: &[&str] = &["always", "lease"];

pub const SCHEMA: ModelSpec = ModelSpec {
    name: "cache",
    doc: "Caches: eviction policies replaying traces (with miss-ratio curves), and a cache service on hosts in front of the Raft key-value store or another cache tier.",
    kinds: &[
        KindSpec {
            kind: "cache",
            doc: "A memory-bounded cache. With `replay`, it replays a trace's requests through its policy (no hosts, no network: the hit and miss counts and the miss-ratio curve). Otherwise it is a service on each host it is placed on, in front of a Raft cluster or another cache (`backend`); clients reach it by naming it in their load (`load clients { ... to edge }`): client c uses the instance on host c mod k, a hit costs the round trip to that host, a miss the round trip on to the backend as well.",
            props: &[
                prop(
                    "replay",
                    PropType::Ref {
                        kinds: &["trace"],
                        also: &[],
                    },
                    Need::Default("none: a service in front of a backend"),
                    "The trace whose requests the cache replays.",
                ),
                prop(
                    "mrc",
                    PropType::Count { min: 0, max: 1000 },
                    Need::Default("0 (none)"),
                    "A replaying cache's miss-ratio curve: the miss ratio at this many sizes, capacity × k / mrc for k = 1..mrc (`sim report` draws it). Exact for LRU (Mattson's stack distances) and OPT; miniature simulations on a sample of the objects for the others.",
                ),
                prop(
                    "mrc_sample",
                    PropType::Probability,
                    Need::Default("10%"),
                    "The share of objects the miniature simulations of the curve sample (SHARDS's spatial sampling by a hash of the key, with SHARDS_adj's correction).",
                ),
                prop(
                    "admission",
                    PropType::Choice(ADMISSIONS),
                    Need::Default("all"),
                    "Which missed objects a replaying cache admits: every one, or only one requested again while among the last rejected keys (a ghost of as many keys as the capacity has bytes, at most 2^24): one-hit wonders never enter.",
                ),
                prop(
                    "on",
                    PropType::Hosts,
                    Need::Placed,
                    "The hosts with an instance, one each (`on edge1..edge4`). Instances keep their own entries.",
                ),
                prop(
                    "backend",
                    PropType::Ref {
                        kinds: &["raft", "cache"],
                        also: &[],
                    },
                    Need::Default("the scenario's raft cluster"),
                    "Where misses and writes go: the cluster, or another cache tier (a CDN's edge in front of a regional cache).",
                ),
                prop(
                    "policy",
                    PropType::Choice(POLICIES),
                    Need::Default("lru"),
                    "The eviction policy (docs/cache.md describes each); `opt` only for a cache that replays a trace.",
                ),
                prop(
                    "capacity",
                    PropType::Size,
                    Need::Required,
                    "Bytes each instance holds.",
                ),
                prop(
                    "object_size",
                    PropType::Size,
                    Need::Default("1KiB"),
                    "Bytes one entry (a key and its value) takes.",
                ),
                prop(
                    "ttl",
                    PropType::Duration,
                    Need::Default("none: entries stay until evicted"),
                    "How long an entry may be served after it was filled; the first request after that misses. A replayed trace's own TTLs (the Twitter format's) apply where this is not given.",
                ),
                prop(
                    "write",
                    PropType::Choice(WriteMode::NAMES),
                    Need::Default("through"),
                    "through: a write goes to the backend and its value is cached once acknowledged; around: it goes to the backend and the key is dropped; back: it is acknowledged at once and written to the backend afterwards (lost if that fails).",
                ),
                prop(
                    "fill",
                    PropType::Choice(FILLS),
                    Need::Default("lease"),
                    "always: a miss's reply is cached whatever happened meanwhile (a write overtaken by an older read's reply leaves the old value cached); lease: it is cached only if no write to the key passed through since the miss left.",
                ),
                prop(
                    "coalesce",
                    PropType::Bool,
                    Need::Default("false"),
                    "Reads of a key whose miss is on its way wait for it rather than each going to the backend.",
                ),
            ],
            metrics: &[
                metric(
                    "hits",
                    MetricKind::Counter,
                    "Reads answered from the cache.",
                ),
                metric(
                    "misses",
                    MetricKind::Counter,
                    "Reads not answered from the cache (sent on, or waiting for a read sent on).",
                ),
                metric(
                    "expired",
                    MetricKind::Counter,
                    "Misses on an entry whose TTL had run out.",
                ),
                metric(
                    "coalesced",
                    MetricKind::Counter,
                    "Reads that waited for another read's miss.",
                ),
                metric(
                    "upstream",
                    MetricKind::Counter,
                    "Requests sent to the backend (misses, writes, write-back flushes).",
                ),
                metric(
                    "fills_dropped",
                    MetricKind::Counter,
                    "Miss replies not cached because a write passed through meanwhile (`fill lease`).",
                ),
                metric(
                    "stale_reads",
                    MetricKind::Counter,
                    "Hits whose value differed from the cluster's at that instant (the most advanced live server's state machine).",
                ),
                metric(
                    "requests",
                    MetricKind::Counter,
                    "A replaying cache's requests.",
                ),
                metric(
                    "bytes",
                    MetricKind::Counter,
                    "Bytes a replaying cache was asked for.",
                ),
                metric(
                    "bytes_missed",
                    MetricKind::Counter,
                    "Bytes of a replaying cache's misses.",
                ),
                metric(
                    "miss_ratio",
                    MetricKind::Gauge,
                    "A replaying cache's misses over requests so far.",
                ),
                metric(
                    "byte_miss_ratio",
                    MetricKind::Gauge,
                    "A replaying cache's missed bytes over requested bytes so far.",
                ),
                metric(
                    "hit_ratio",
                    MetricKind::Gauge,
                    "Hits over reads so far (its last value is the run's hit ratio).",
                ),
            ],
        },
        KindSpec {
            kind: "trace",
            doc: "Cache requests for a `cache` to replay: generated (`workload`) or read from a file (`file` and `format`).",
            props: &[
                prop(
                    "workload",
                    PropType::Str,
                    Need::OneOf("file"),
                    "Generated requests: \"zipf(OBJECTS, ALPHA)\", \"scan(OBJECTS)\" (0, 1, ..., OBJECTS-1 again and again), \"shifting(OBJECTS, ALPHA, EVERY)\" (a Zipf whose hot set moves to new objects every EVERY requests) or \"mix(OBJECTS, ALPHA, SCAN, EVERY)\" (a Zipf with a scan of SCAN objects requested once every EVERY requests).",
                ),
                prop(
                    "file",
                    PropType::Str,
                    Need::OneOf("workload"),
                    "A trace file, relative to the scenario's directory.",
                ),
                prop(
                    "format",
                    PropType::Choice(Format::NAMES),
                    Need::Default(
                        "from the file's name: .csv is csv unless it ends in .twitter.csv, else oracle",
                    ),
                    "csv (libCacheSim's, with a header naming time, obj_id and obj_size), oracle (libCacheSim's oracleGeneral binary) or twitter (the Twitter cache-trace CSV).",
                ),
                prop(
                    "requests",
                    PropType::Count {
                        min: 1,
                        max: 10_000_000_000,
                    },
                    Need::Default("generated: 1000000; a file: all of it"),
                    "How many requests to replay.",
                ),
                prop(
                    "sizes",
                    PropType::Str,
                    Need::Default("\"fixed(1)\""),
                    "Generated objects' sizes in bytes, by key: \"fixed(N)\", \"uniform(MIN, MAX)\" or \"loguniform(MIN, MAX)\".",
                ),
                prop(
                    "rate",
                    PropType::Rate,
                    Need::Default("1000000/s"),
                    "Generated requests per second, evenly spaced (times matter for TTLs).",
                ),
            ],
            metrics: &[],
        },
    ],
    global_metrics: &[],
    verbs: &[],
    properties: &[],
    events: &[],
    charts: &[
        ChartSpec {
            id: "miss-ratio",
            title: "Miss ratio over the trace",
            doc: "A replaying cache's misses over requests so far: the cold start, then where each policy settles (in a sweep, a line per policy).",
            source: ChartSource::Series {
                metrics: "{cache}.miss_ratio",
                y_name: "miss ratio",
                y_unit: "",
                breaks: &[],
            },
        },
        ChartSpec {
            id: "miss-ratio-by-policy",
            title: "Miss ratio by policy",
            doc: "In a sweep over a replaying cache's policy: each policy's miss ratio at the end of the trace, OPT the floor.",
            source: ChartSource::SweepBars {
                metrics: &["{cache}.miss_ratio"],
                stats: &["last"],
                y_name: "miss ratio",
                none: "",
            },
        },
        ChartSpec {
            id: "miss-ratio-curve",
            title: "Miss-ratio curve",
            doc: "A replaying cache's miss ratio against its size (`mrc`): exact for LRU and OPT, sampled miniature simulations for the other policies; in a sweep, a curve per policy, OPT the floor under them all.",
            source: ChartSource::Curve {
                metrics: "{cache}.mrc",
                x_name: "cache size",
                x_unit: "B",
                y_name: "miss ratio",
                y_unit: "",
            },
        },
        ChartSpec {
            id: "hit-ratio",
            title: "Hit ratio of each cache tier",
            doc: "A cache service's hits over reads so far, per tier: the edges of a CDN against its regional cache, or one cache with and without coalescing.",
            source: ChartSource::Series {
                metrics: "{cache}.hit_ratio",
                y_name: "hit ratio",
                y_unit: "",
                breaks: &[],
            },
        },
    ],
};

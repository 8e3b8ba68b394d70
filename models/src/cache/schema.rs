//! The cache family's schema: `cache` blocks, a memory-bounded cache on hosts in front of the
//! Raft key-value store or of another cache tier.

use crate::schema::{KindSpec, MetricKind, ModelSpec, Need, PropType, metric, prop};
use crate::world::cache::WriteMode;

/// How a miss's reply is installed.
pub const FILLS: &[&str] = &["always", "lease"];

pub const SCHEMA: ModelSpec = ModelSpec {
    name: "cache",
    doc: "Caches: eviction policies, and a cache service on hosts in front of the Raft key-value store or another cache tier.",
    kinds: &[KindSpec {
        kind: "cache",
        doc: "A memory-bounded cache on each host it is placed on, in front of a Raft cluster or another cache (`backend`). Clients reach it by naming it in their load (`load clients { ... to edge }`): client c uses the instance on host c mod k, a hit costs the round trip to that host, a miss the round trip on to the backend as well.",
        props: &[
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
                PropType::Choice(super::Kind::NAMES),
                Need::Default("lru"),
                "The eviction policy.",
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
                "How long an entry may be served after it was filled; the first request after that misses.",
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
                "hit_ratio",
                MetricKind::Gauge,
                "Hits over reads so far (its last value is the run's hit ratio).",
            ),
        ],
    }],
    global_metrics: &[],
    verbs: &[],
    properties: &[],
    events: &[],
    charts: &[],
};

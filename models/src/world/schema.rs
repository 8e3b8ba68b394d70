//! The world's schema: `host` blocks (machines with CPUs under a scheduling policy and a disk)
//! and the `network` between them. Services of the other families are placed on hosts with
//! `on`; where a scenario declares no host, each service runs on an implicit host of its own.

use crate::cpu::schema as cpu;
use crate::network::Topology;
use crate::raft::schema::SHAPES;
use crate::schema::{
    ArgSpec, FormSpec, KindSpec, MetricKind, ModelSpec, Need, PropSpec, PropType, VerbSpec, metric,
    prop,
};

/// The kind of block that declares hosts: placement (`on`) names hosts of this kind, and only a
/// block of this kind may name a range (`host db1..db5 { ... }` declares five alike).
pub const HOST: &str = "host";

/// The kind of block that declares an availability zone, which hosts name with `zone`.
pub const ZONE: &str = "zone";

/// A host's scheduling policy: as the `cpu` block's, but optional (Linux's default, CFS), so a
/// host needs no properties at all (`host db1 { }`).
const HOST_POLICY: PropSpec = PropSpec {
    need: Need::Default("cfs"),
    ..cpu::POLICY
};

/// `host` and `network`.
/// A generated fault schedule's block kind (expanded by `scenarios::generate`).
pub const NEMESIS: &str = "nemesis";

pub const SCHEMA: ModelSpec = ModelSpec {
    name: "world",
    doc: "Hosts (machines with CPUs and a disk) and the network between them, on which the other families' services are placed.",
    kinds: &[
        KindSpec {
            kind: HOST,
            doc: "A machine: its CPUs under a scheduling policy, and its disk. `host a..e` declares several alike; `on` places services on them.",
            props: &[
                cpu::CPUS,
                HOST_POLICY,
                cpu::PER_CPU_QUEUES,
                cpu::STEAL,
                cpu::QUANTUM,
                cpu::CONTEXT_SWITCH,
                cpu::MIGRATION_COST,
                cpu::WARM_WINDOW,
                cpu::LEVELS,
                cpu::QUANTUM_FACTOR,
                cpu::ALLOTMENT,
                cpu::BOOST,
                cpu::IO_RESETS_ALLOTMENT,
                cpu::TARGET_LATENCY,
                cpu::MIN_GRANULARITY,
                cpu::QUOTA,
                cpu::PERIOD,
                prop(
                    "fsync",
                    PropType::DurationDist,
                    Need::Default("the raft block's fsync, or its default"),
                    "Time for the host's disk to make writes durable.",
                ),
                prop(
                    "memory",
                    PropType::Size,
                    Need::Default("16GiB"),
                    "The host's memory, for placing services' instances by bin packing (`cpu` and `memory` on a service).",
                ),
                prop(
                    "zone",
                    PropType::Ref {
                        kinds: &[ZONE],
                        also: &[],
                    },
                    Need::Default("none"),
                    "The availability zone the host is in: messages to hosts in other zones take the network's cross_zone or cross_region latency, and `outage ZONE` crashes its hosts.",
                ),
            ],
            metrics: &[
                metric(
                    "cpu_allocated",
                    MetricKind::Gauge,
                    "The share of the host's CPUs reserved by service instances placed on it by bin packing.",
                ),
                metric(
                    "memory_allocated",
                    MetricKind::Gauge,
                    "The share of the host's memory reserved by service instances placed on it.",
                ),
            ],
        },
        KindSpec {
            kind: ZONE,
            doc: "An availability zone: a failure domain of hosts (`host web1 { zone a }`), in a region.",
            props: &[prop(
                "region",
                PropType::Str,
                Need::Default("\"\": every zone without one is in one region"),
                "The region the zone is in; zones of different regions are farther apart.",
            )],
            metrics: &[],
        },
        KindSpec {
            kind: "network",
            doc: "The links between hosts: a full mesh unless `topology` says otherwise.",
            props: &[
                prop(
                    "topology",
                    PropType::Choice(Topology::NAMES),
                    Need::Default("full-mesh"),
                    "How servers are wired: full-mesh, ring, star (around the first) or line; a message crosses one latency per hop.",
                ),
                prop(
                    "latency",
                    PropType::DurationDist,
                    Need::Default("uniform(1ms, 5ms)"),
                    "One-way latency of a message.",
                ),
                prop(
                    "cross_zone",
                    PropType::DurationDist,
                    Need::Default("latency"),
                    "One-way latency between hosts in different zones of one region.",
                ),
                prop(
                    "cross_region",
                    PropType::DurationDist,
                    Need::Default("cross_zone"),
                    "One-way latency between hosts in different regions.",
                ),
                prop(
                    "bandwidth",
                    PropType::Size,
                    Need::Default("unlimited"),
                    "Bytes per second a link carries; messages queue behind each other.",
                ),
                prop(
                    "queue_limit",
                    PropType::Size,
                    Need::Default("unlimited"),
                    "Bytes that may wait to be sent on a link; more are dropped (needs bandwidth).",
                ),
                prop(
                    "loss",
                    PropType::Probability,
                    Need::Default("0"),
                    "Probability a message is lost.",
                ),
                prop(
                    "duplicate",
                    PropType::Probability,
                    Need::Default("0"),
                    "Probability a message arrives twice.",
                ),
                prop(
                    "reorder",
                    PropType::Probability,
                    Need::Default("0"),
                    "Probability a message is held back by reorder_delay.",
                ),
                prop(
                    "reorder_delay",
                    PropType::DurationDist,
                    Need::Default("uniform(200ms, 2s)"),
                    "Extra delay of a held-back message.",
                ),
            ],
            metrics: &[
                metric("sent", MetricKind::Counter, "Messages sent."),
                metric(
                    "delivered",
                    MetricKind::Counter,
                    "Messages that arrived (copies count).",
                ),
                metric(
                    "dropped",
                    MetricKind::Counter,
                    "Messages lost, partitioned away or dropped by a full queue.",
                ),
            ],
        },
        KindSpec {
            kind: NEMESIS,
            doc: "A fault schedule drawn from the seed, in the spirit of FoundationDB's and TigerBeetle's simulators: faults one after another, each a `during` window of a verb drawn from `verbs`, on targets drawn at random; with `swarm`, each seed also switches each verb on or off (swarm testing, Groce et al., ISSTA 2012). Every run is replayable from its seed, and `sim shrink` turns its schedule into the lines it stands for.",
            props: &[
                prop(
                    "verbs",
                    PropType::Str,
                    Need::Required,
                    "The verbs it draws from, comma-separated: partition (a random shape), crash, pause (a random node), clock (a random node's clock skewed by up to `skew`).",
                ),
                prop(
                    "every",
                    PropType::DurationRange,
                    Need::Default("1s..5s"),
                    "The quiet time before each fault, drawn uniformly.",
                ),
                prop(
                    "length",
                    PropType::DurationRange,
                    Need::Default("500ms..3s"),
                    "How long each fault lasts, drawn uniformly: its `during` window, whose end heals, restarts, resumes or resets what it did.",
                ),
                prop(
                    "from",
                    PropType::Duration,
                    Need::Default("0s"),
                    "No fault starts before this.",
                ),
                prop(
                    "until",
                    PropType::Duration,
                    Need::Default("the scenario's duration"),
                    "Every fault has ended by this.",
                ),
                prop(
                    "skew",
                    PropType::Duration,
                    Need::Default("200ms"),
                    "The largest clock offset a `clock` fault sets.",
                ),
                prop(
                    "swarm",
                    PropType::Bool,
                    Need::Default("true"),
                    "Each seed switches each listed verb on with even odds (at least one stays on), so runs explore schedules of few kinds of faults as well as of all.",
                ),
            ],
            metrics: &[],
        },
    ],
    global_metrics: &[],
    verbs: &[PARTITION, HEAL, CLOCK, DISK, OUTAGE],
    properties: &[],
    events: &[],
    charts: &[],
};

/// `outage`: the hosts of a zone react, all at once.
pub const OUTAGE: VerbSpec = VerbSpec {
    name: "outage",
    doc: "Crashes every host in a zone (its end, in a `during`, restarts them): a zone outage.",
    args: &[ArgSpec::Component],
};

/// `partition`: the network reacts.
pub const PARTITION: VerbSpec = VerbSpec {
    name: "partition",
    doc: "Cuts the network between servers along a shape, or into the listed groups.",
    args: &[ArgSpec::Shape(SHAPES)],
};

/// `heal`: the network reacts.
pub const HEAL: VerbSpec = VerbSpec {
    name: "heal",
    doc: "Ends the partition.",
    args: &[],
};

/// `clock`: hosts react (their clocks).
pub const CLOCK: VerbSpec = VerbSpec {
    name: "clock",
    doc: "Sets servers' clocks off by an offset (skew) or running fast or slow (drift).",
    args: &[
        ArgSpec::Word(&["skew", "drift"]),
        ArgSpec::Target,
        ArgSpec::Keyword("by"),
        ArgSpec::ValueOf(&[
            ("skew", PropType::DurationDist),
            ("drift", PropType::Fraction),
        ]),
    ],
};

/// `disk`: hosts react (their disks).
pub const DISK: VerbSpec = VerbSpec {
    name: "disk",
    doc: "Makes hosts' disks slow, full, failing (errors, corruption, failed fsyncs) or dead; fails and rebuilds an array's member.",
    args: &[
        ArgSpec::Target,
        ArgSpec::Form {
            name: "disk fault",
            forms: &[
                FormSpec {
                    name: "full",
                    arg: None,
                    example: "full",
                },
                FormSpec {
                    name: "fail-fsync",
                    arg: None,
                    example: "fail-fsync",
                },
                FormSpec {
                    name: "slow",
                    arg: Some(PropType::Duration),
                    example: "slow(5ms)",
                },
                FormSpec {
                    name: "errors",
                    arg: Some(PropType::Probability),
                    example: "errors(1%)",
                },
                FormSpec {
                    name: "corrupt",
                    arg: Some(PropType::Probability),
                    example: "corrupt(0.1%)",
                },
                FormSpec {
                    name: "misdirect",
                    arg: Some(PropType::Probability),
                    example: "misdirect(0.1%)",
                },
                FormSpec {
                    name: "latent",
                    arg: Some(PropType::Probability),
                    example: "latent(1%)",
                },
                FormSpec {
                    name: "fail",
                    arg: None,
                    example: "fail",
                },
                FormSpec {
                    name: "fail-member",
                    arg: Some(PropType::Count { min: 0, max: 63 }),
                    example: "fail-member(1)",
                },
                FormSpec {
                    name: "rebuild",
                    arg: None,
                    example: "rebuild",
                },
            ],
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// A host's CPUs take every property the `cpu` block takes, typed alike: a policy parameter
    /// added to one and not the other would make hosts and the `cpu` block drift apart.
    #[test]
    fn a_host_takes_every_property_of_the_cpu_block() {
        let host = SCHEMA.kind(HOST).expect("world has hosts");
        let machine = cpu::SCHEMA.kind("cpu").expect("cpu has a machine");
        for p in machine.props {
            let h = host
                .prop(p.name)
                .unwrap_or_else(|| panic!("host lacks `{}`", p.name));
            assert_eq!((h.ty, h.doc), (p.ty, p.doc), "`{}`", p.name);
        }
        assert_eq!(
            host.prop("policy").map(|p| p.need),
            Some(Need::Default("cfs"))
        );
    }

    /// The network moved here from the raft family: it is the world's, for any service that
    /// sends; no other family declares it.
    #[test]
    fn the_network_is_the_worlds_alone() {
        let owners: Vec<&str> = crate::MODELS
            .iter()
            .filter(|m| m.kind("network").is_some())
            .map(|m| m.name)
            .collect();
        assert_eq!(owners, ["world"]);
    }
}

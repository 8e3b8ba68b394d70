//! A checked scenario with `raft` blocks to the Raft cluster's configuration: the network, the
//! cluster, the client load, the fault schedule (with `during` windows undone at their end),
//! and the `expect` lines the cluster checks itself.

use models::network::{LinkConfig, Shape, Topology};
use models::raft::cluster::{ClusterConfig, Fault, LiveEvent, Liveness, LoadConfig, Targets};
use models::raft::{Bugs, Config};
use models::world::disk::DiskFault;
use models::world::host::HostConfig;
use models::world::{NetworkConfig, WorldConfig};
use simcore::{Dist, SimDuration, SimTime};

use crate::ast::{Check, ValueKind};
use crate::check::{
    ActionKind, Checked, CheckedAction, CheckedArg, Partition, Target, Typed, duration_dist,
    node_names,
};
use crate::diag::Diagnostic;
use crate::wire::{Step, Window, plan};

/// Search steps per key the end-of-run linearizability check may take.
pub const LINCHECK_BUDGET: u64 = 20_000_000;

/// The value of a distribution property, or `default` where it is absent.
fn dist_or(d: Option<&Dist>, default: Dist) -> Dist {
    d.cloned().unwrap_or(default)
}

fn uniform(lo: SimDuration, hi: SimDuration) -> Dist {
    Dist::Uniform {
        low: lo.as_nanos() as f64,
        high: hi.as_nanos() as f64,
    }
}

/// The Raft cluster's configuration from a checked scenario whose blocks are all of the raft
/// model. `seed` fixes the jitter of `every` and seeds the nodes' streams.
pub fn wire_raft(checked: &Checked, seed: u64) -> Result<WorldConfig, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let of = |kind: &'static str| checked.blocks.iter().filter(move |b| b.spec.kind == kind);
    let Some(raft) = of("raft").next() else {
        let b = &checked.blocks[0];
        return Err(vec![
            Diagnostic::at(
                &b.file,
                b.span,
                "a network or load needs a `raft` block to run against",
            )
            .hint("add `raft cluster { nodes n1..n5 }`"),
        ]);
    };
    for kind in ["raft", "network", "load"] {
        for extra in of(kind).skip(1) {
            errors.push(
                Diagnostic::at(&extra.file, extra.span, format!("a second `{kind}` block"))
                    .hint("a scenario runs one cluster, one network and one load for now"),
            );
        }
    }
    let load = of("load").next();
    let nodes = match raft.get("nodes") {
        Some(Typed::Nodes(n)) => n.clone(),
        _ => Vec::new(),
    };
    if nodes.len() > models::raft::cluster::MAX_NODES {
        errors.push(Diagnostic::at(
            &raft.file,
            raft.span,
            format!(
                "{} nodes; a cluster runs at most {}",
                nodes.len(),
                models::raft::cluster::MAX_NODES
            ),
        ));
    }
    let (lo, hi) = match raft.get("election_timeout") {
        Some(Typed::DurationRange(a, b)) => (*a, *b),
        _ => (SimDuration::from_millis(150), SimDuration::from_millis(300)),
    };
    let mut bugs = Bugs::default();
    if let Some(Typed::Choice(name)) = raft.get("bug") {
        bugs.enable(name);
    }
    let config = Config {
        election_timeout: (lo, hi),
        heartbeat: raft
            .duration("heartbeat")
            .unwrap_or(SimDuration::from_millis(50)),
        pre_vote: raft.flag("pre_vote"),
        check_quorum: raft.flag("check_quorum"),
        max_entries_per_message: raft.count("max_entries").map_or(64, |n| n as usize),
        bugs,
    };
    if config.heartbeat.as_nanos() == 0 {
        let span = raft.props.get("heartbeat").map_or(raft.span, |p| p.1);
        errors.push(
            Diagnostic::at(&raft.file, span, "a zero heartbeat would stand time still")
                .hint("use a positive period such as 50ms"),
        );
    }
    if lo.as_nanos() == 0 {
        let span = raft
            .props
            .get("election_timeout")
            .map_or(raft.span, |p| p.1);
        errors.push(
            Diagnostic::at(&raft.file, span, "election timeouts must be positive")
                .hint("the Raft paper uses 150ms..300ms"),
        );
    }
    let load = load.map(|b| {
        let mix = match b.get("mix") {
            Some(Typed::Weighted(list)) => {
                let w = |name: &str| {
                    list.iter()
                        .filter(|(n, _)| n == name)
                        .map(|(_, w)| *w)
                        .sum::<f64>()
                };
                [w("get"), w("put"), w("cas")]
            }
            _ => [0.5, 0.3, 0.2],
        };
        LoadConfig {
            name: b.name.clone(),
            clients: b.count("clients").map_or(1, |n| n as u32),
            rate: match b.get("rate") {
                Some(Typed::Rate(r)) => *r,
                _ => 0.0,
            },
            keys: match b.get("keys") {
                Some(Typed::Dist(d)) => d.clone(),
                _ => Dist::Uniform {
                    low: 1.0,
                    high: 5.0,
                },
            },
            mix,
            attempt_timeout: b
                .duration("timeout")
                .unwrap_or(SimDuration::from_millis(100)),
            op_timeout: b
                .duration("op_timeout")
                .unwrap_or(SimDuration::from_secs(1)),
        }
    });
    let faults = schedule(
        checked,
        &nodes,
        load.as_ref().map(|l| l.name.as_str()),
        seed,
        &mut errors,
    );
    let mut liveness = Vec::new();
    let mut check_linearizable = false;
    let mut check_durable = false;
    for e in &checked.expects {
        match &e.check {
            Check::Liveness {
                event,
                within,
                after,
            } => liveness.push(Liveness {
                event: if event.text == "leader" {
                    LiveEvent::Leader
                } else {
                    LiveEvent::Commit
                },
                within: *within,
                after: after
                    .as_ref()
                    .map(|a| a.text.clone())
                    .filter(|a| a != "start"),
                text: e.text.clone(),
            }),
            Check::Property(p) => match p.text.as_str() {
                "linearizable" => check_linearizable = true,
                "durable" => check_durable = true,
                _ => {}
            },
            Check::Metric { .. } => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Hosts: the servers, then one per client (named as its track on the timeline).
    let clients = load.as_ref().map_or(0, |l| l.clients);
    let fsync = dist_or(
        raft.dist("fsync"),
        uniform(SimDuration::from_micros(100), SimDuration::from_micros(500)),
    );
    let hosts = nodes
        .iter()
        .cloned()
        .chain((1..=clients).map(|c| format!("c{c}")))
        .map(|name| HostConfig {
            name,
            fsync: fsync.clone(),
        })
        .collect();
    let fault_domain = nodes.len() as u32;
    let cluster = ClusterConfig {
        name: raft.name.clone(),
        nodes,
        raft: config,
        timer_jitter: dist_or(
            raft.dist("timer_jitter"),
            uniform(SimDuration::ZERO, SimDuration::from_micros(100)),
        ),
        cpu_per_message: raft
            .duration("cpu_per_message")
            .unwrap_or(SimDuration::ZERO),
        snapshot_every: raft.count("snapshot_every"),
        load,
        caches: Vec::new(),
        via: None,
        check_linearizable,
        check_durable,
        lincheck_budget: LINCHECK_BUDGET,
        seed,
    };
    Ok(WorldConfig {
        seed,
        hosts,
        network: network_config(checked),
        fault_domain,
        plan: faults,
        liveness,
        raft: Some(cluster),
        qnet: None,
        cpus: Vec::new(),
        disks: Vec::new(),
        io: Vec::new(),
        stores: Vec::new(),
        replays: Vec::new(),
        cloud: None,
    })
}

/// The `network` block (or the default network when there is none) as the world's links.
pub fn network_config(checked: &Checked) -> NetworkConfig {
    let network = checked.blocks.iter().find(|b| b.spec.kind == "network");
    let link = LinkConfig {
        latency: dist_or(
            network.and_then(|b| b.dist("latency")),
            uniform(SimDuration::from_millis(1), SimDuration::from_millis(5)),
        ),
        bandwidth: network.and_then(|b| b.size("bandwidth")),
        queue_limit: network.and_then(|b| b.size("queue_limit")),
        loss: network.and_then(|b| b.probability("loss")).unwrap_or(0.0),
        duplicate: network
            .and_then(|b| b.probability("duplicate"))
            .unwrap_or(0.0),
        reorder: network
            .and_then(|b| b.probability("reorder"))
            .unwrap_or(0.0),
        reorder_delay: dist_or(
            network.and_then(|b| b.dist("reorder_delay")),
            uniform(SimDuration::from_millis(200), SimDuration::from_secs(2)),
        ),
    };
    NetworkConfig {
        name: network.map_or_else(|| "network".to_string(), |b| b.name.clone()),
        link,
        topology: match network.and_then(|b| b.get("topology")) {
            Some(Typed::Choice(name)) => Topology::from_name(name).unwrap_or_default(),
            _ => Topology::FullMesh,
        },
        // Filled in once every host is known (`crate::wire::place_in_zones`).
        zones: Vec::new(),
        cross_zone: network.and_then(|b| b.dist("cross_zone")).cloned(),
        cross_region: network.and_then(|b| b.dist("cross_region")).cloned(),
    }
}

/// The fault plan: the schedule expanded ([`crate::wire::plan`]), each action a fault and the
/// end of a `during` window an undo of its fault. Targets name `nodes` (the fault domain);
/// `load` actions are the plan's only for the component `load` (the cluster's clients), the
/// others are another model's.
pub fn schedule(
    checked: &Checked,
    nodes: &[String],
    load: Option<&str>,
    seed: u64,
    errors: &mut Vec<Diagnostic>,
) -> Vec<(SimTime, Fault)> {
    let zones = zone_hosts(checked);
    let steps = plan(checked, seed, errors, |a| {
        if let CheckedAction::Load { component, .. } = a {
            if load != Some(component.as_str()) {
                return Ok(None);
            }
        }
        let verb = match a {
            CheckedAction::Load { .. } => "load",
            CheckedAction::Fault(kind) => kind.verb(),
        };
        let window = Window {
            what: format!("`{verb}` window"),
            hint: "windows of one verb must not overlap: what their ends undo would be ambiguous",
        };
        fault(a, nodes, &zones).map(|f| Some((f, window)))
    });
    steps
        .into_iter()
        .map(|(at, step)| match step {
            Step::Do(f) => (at, f),
            Step::Undo(place) => (at, Fault::Undo(place)),
        })
        .collect()
}

fn index_of(nodes: &[String], name: &str) -> Result<u32, String> {
    nodes
        .iter()
        .position(|n| n == name)
        .map(|i| i as u32)
        .ok_or_else(|| format!("unknown node `{name}`"))
}

fn targets(t: &Target, nodes: &[String]) -> Result<Targets, String> {
    Ok(match t {
        Target::Name(id) => match id.text.as_str() {
            "leader" => Targets::Leader,
            "random-node" => Targets::RandomNode,
            "minority" => Targets::Minority,
            "majority" => Targets::Majority,
            "all" => Targets::All,
            name => Targets::Nodes(vec![index_of(nodes, name)?]),
        },
        Target::Random(k, _) => Targets::Random(u32::try_from(*k).unwrap_or(u32::MAX)),
        Target::Nodes(v) => {
            let names = node_names(v).ok_or("not a list of nodes")?;
            Targets::Nodes(
                names
                    .iter()
                    .map(|n| index_of(nodes, n))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

/// One checked action as a cluster fault.
/// Each zone's name and the names of the hosts in it.
pub fn zone_hosts(checked: &Checked) -> Vec<(String, Vec<String>)> {
    checked
        .blocks
        .iter()
        .filter(|b| b.spec.kind == models::world::schema::ZONE)
        .map(|z| {
            let hosts = checked
                .hosts
                .iter()
                .filter(|h| {
                    checked
                        .blocks
                        .get(h.block)
                        .is_some_and(|b| b.reference("zone") == Some(z.name.as_str()))
                })
                .map(|h| h.name.clone())
                .collect();
            (z.name.clone(), hosts)
        })
        .collect()
}

fn fault(
    a: &CheckedAction,
    nodes: &[String],
    zones: &[(String, Vec<String>)],
) -> Result<Fault, String> {
    let kind = match a {
        CheckedAction::Load {
            property, value, ..
        } => {
            return match (property, value) {
                (&"rate", Typed::Rate(r)) => Ok(Fault::Rate(*r)),
                _ => Err(format!(
                    "the raft load cannot change `{property}` during a run"
                )),
            };
        }
        CheckedAction::Fault(kind) => kind,
    };
    Ok(match kind {
        ActionKind::Partition(Partition::Shape(s)) => Fault::Partition(match s.text.as_str() {
            "halves" => Shape::Halves,
            "one" => Shape::One,
            "bridge" => Shape::Bridge,
            "majorities-ring" => Shape::MajoritiesRing,
            "one-way" => Shape::OneWay,
            other => return Err(format!("unknown partition shape `{other}`")),
        }),
        ActionKind::Partition(Partition::Groups(groups)) => {
            let mut out = Vec::new();
            for g in groups {
                let names = node_names(g).ok_or("not a group of nodes")?;
                out.push(
                    names
                        .iter()
                        .map(|n| index_of(nodes, n))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            Fault::Partition(Shape::Groups(out))
        }
        ActionKind::Heal => Fault::Heal,
        ActionKind::Crash(t) => Fault::Crash(targets(t, nodes)?),
        ActionKind::Restart(t) => Fault::Restart(targets(t, nodes)?),
        ActionKind::Pause(t) => Fault::Pause(targets(t, nodes)?),
        ActionKind::Resume(t) => Fault::Resume(targets(t, nodes)?),
        ActionKind::Clock {
            drift: false,
            target,
            by,
        } => Fault::ClockSkew(
            targets(target, nodes)?,
            duration_dist(by).ok_or("clock skew takes a duration or a distribution")?,
        ),
        ActionKind::Clock {
            drift: true,
            target,
            by,
        } => {
            let d = match by.kind {
                ValueKind::Percent(p) => p / 100.0,
                ValueKind::Float(f) => f,
                ValueKind::Integer(i) => i as f64,
                _ => return Err("clock drift takes a rate such as 0.01%".into()),
            };
            if d <= -1.0 {
                return Err("a clock drift of -100% or less would stop the clock".into());
            }
            Fault::ClockDrift(targets(target, nodes)?, d)
        }
        ActionKind::Disk { target, fault } => {
            let t = targets(target, nodes)?;
            let ValueKind::Call { name, args } = &fault.kind else {
                return match &fault.kind {
                    ValueKind::Ident(w) => Ok(match w.as_str() {
                        "full" => Fault::Disk(t, DiskFault::Full),
                        "fail-fsync" => Fault::Disk(t, DiskFault::FailFsync),
                        "fail" => Fault::Disk(t, DiskFault::Fail),
                        "rebuild" => Fault::Disk(t, DiskFault::Rebuild),
                        other => return Err(format!("unknown disk fault `{other}`")),
                    }),
                    _ => Err("not a disk fault".into()),
                };
            };
            let arg = args.first().map(|v| &v.kind);
            let p = || match arg {
                Some(ValueKind::Percent(p)) => Some(p / 100.0),
                Some(ValueKind::Float(f)) => Some(*f),
                _ => None,
            };
            match name.as_str() {
                "slow" => {
                    let d = match arg {
                        Some(ValueKind::Duration(d)) => *d,
                        _ => return Err("slow takes a duration, such as slow(5ms)".into()),
                    };
                    Fault::DiskSlow(
                        t,
                        Some(Dist::Constant {
                            value: d.as_nanos() as f64,
                        }),
                    )
                }
                "errors" => Fault::Disk(
                    t,
                    DiskFault::Errors(p().ok_or("errors takes a probability, such as errors(1%)")?),
                ),
                "corrupt" => Fault::Disk(
                    t,
                    DiskFault::Corrupt(
                        p().ok_or("corrupt takes a probability, such as corrupt(0.1%)")?,
                    ),
                ),
                "misdirect" => Fault::Disk(
                    t,
                    DiskFault::Misdirect(
                        p().ok_or("misdirect takes a probability, such as misdirect(0.1%)")?,
                    ),
                ),
                "latent" => Fault::Disk(
                    t,
                    DiskFault::Latent(p().ok_or("latent takes a probability, such as latent(1%)")?),
                ),
                "fail-member" => match arg {
                    Some(ValueKind::Integer(i)) if *i >= 0 => {
                        Fault::Disk(t, DiskFault::FailMember(*i as u32))
                    }
                    _ => {
                        return Err(
                            "fail-member takes a member's number, such as fail-member(1)".into(),
                        );
                    }
                },
                other => return Err(format!("unknown disk fault `{other}`")),
            }
        }
        ActionKind::Other {
            verb: "outage",
            args,
        } => {
            let zone = match args.first() {
                Some(CheckedArg::Component(name)) => name,
                _ => return Err("`outage` names a zone, such as `outage a`".into()),
            };
            let Some((_, hosts)) = zones.iter().find(|(z, _)| z == zone) else {
                return Err(format!(
                    "`{zone}` is not a zone (hint: `outage` names a `zone` block, whose hosts name it with `zone`)"
                ));
            };
            // The hosts of the zone that faults can reach (a cluster's servers, or every host).
            let hit: Vec<u32> = hosts
                .iter()
                .filter_map(|h| index_of(nodes, h).ok())
                .collect();
            if hit.is_empty() {
                return Err(format!(
                    "zone `{zone}` has no host this scenario's faults can reach"
                ));
            }
            Fault::Crash(Targets::Nodes(hit))
        }
        ActionKind::Other { verb, .. } => {
            return Err(format!("the raft model does not run `{verb}` yet"));
        }
    })
}

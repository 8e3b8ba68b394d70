//! Wiring for the cloud family: `service` blocks on hosts (or unplaced); the managed components,
//! `queue`, `topic`, `table` and `function`, each a service of one instance that is what its
//! block says; `client` loads; and the `load` changes of the clients' rates.

use models::cloud::autoscale::AutoscaleConfig;
use models::cloud::balance::Balance;
use models::cloud::call::{Backoff, BreakerConfig, CallPolicy, Jitter};
use models::cloud::functions::{FunctionSpec, Platform};
use models::cloud::objstore::Latency as ObjectLatency;
use models::cloud::placement::{Cluster, Fit, Resources};
use models::cloud::queue::QueueConfig;
use models::cloud::shardkv::TableConfig;
use models::world::WorldConfig;
use models::world::cloud::{
    ACCOUNT_CONCURRENCY, Autoscale, ClientConfig, CloudConfig, Downstream, Prices, RateChange,
    ScaleOn, ServiceConfig,
};
use simcore::{Dist, SimDuration};

use crate::check::{Checked, CheckedAction, CheckedBlock, Typed};
use crate::diag::Diagnostic;
use crate::wire::{Endless, Window, plan, play_forward};

fn rate(b: &CheckedBlock) -> f64 {
    match b.get("rate") {
        Some(Typed::Rate(r)) => *r,
        _ => 0.0,
    }
}

/// A caller's policy from the properties a client and a service share.
fn policy(b: &CheckedBlock) -> CallPolicy {
    let d = CallPolicy::default();
    CallPolicy {
        timeout: b.duration("timeout"),
        retries: b.count("retries").map_or(0, |n| n as u32),
        backoff: Backoff {
            base: b.duration("backoff").unwrap_or(d.backoff.base),
            max: b.duration("backoff_max").unwrap_or(d.backoff.max),
            jitter: b
                .choice("jitter")
                .and_then(Jitter::from_name)
                .unwrap_or(d.backoff.jitter),
        },
        budget: b.probability("retry_budget"),
        breaker: b.probability("breaker").map(|threshold| BreakerConfig {
            threshold,
            window: b
                .duration("breaker_window")
                .unwrap_or(SimDuration::from_secs(10)),
            cooldown: b
                .duration("breaker_cooldown")
                .unwrap_or(SimDuration::from_secs(5)),
        }),
        hedge: b.duration("hedge"),
    }
}

/// A service's autoscaling group, if it has one; an impossible one is a located error.
fn autoscale(b: &CheckedBlock, errors: &mut Vec<Diagnostic>) -> Option<Autoscale> {
    let on = ScaleOn::from_name(b.choice("autoscale")?)?;
    let min = b.count("min_instances").unwrap_or(1) as u32;
    let max = b
        .count("max_instances")
        .map_or(min.saturating_mul(10), |n| n as u32);
    let initial = b.count("instances").map_or(min, |n| n as u32);
    let d = AutoscaleConfig::aws_like(min, max, 0.6, SimDuration::from_secs(60));
    let config = AutoscaleConfig {
        min,
        max,
        initial,
        target: b.float("target").unwrap_or(match on {
            ScaleOn::Cpu => 0.6,
            ScaleOn::Queue => 10.0,
        }),
        period: b.duration("scale_period").unwrap_or(d.period),
        out_periods: b
            .count("scale_out_periods")
            .map_or(d.out_periods, |n| n as u32),
        in_periods: b
            .count("scale_in_periods")
            .map_or(d.in_periods, |n| n as u32),
        out_cooldown: b.duration("cooldown").unwrap_or(d.out_cooldown),
        in_cooldown: b.duration("cooldown").unwrap_or(d.in_cooldown),
        boot: b.duration("boot").unwrap_or(d.boot),
        drain_timeout: b.duration("drain_timeout").unwrap_or(d.drain_timeout),
    };
    // The group checks itself; its message names what is wrong.
    if let Err(e) = models::cloud::autoscale::AutoScaler::new(config.clone()) {
        errors.push(b.error_at(
            "autoscale",
            format!("service `{}`: {e}", b.name),
            "min_instances <= instances <= max_instances, and a positive target",
        ));
        return None;
    }
    Some(Autoscale { on, config })
}

/// What a block's `instance_price` and `request_price` make.
fn prices(b: &CheckedBlock) -> Prices {
    Prices {
        instance_hour: b.float("instance_price").unwrap_or(0.0),
        million_requests: b.float("request_price").unwrap_or(0.0),
    }
}

/// `n` milliseconds in nanoseconds, as distributions of durations take them.
fn millis(n: u64) -> f64 {
    SimDuration::from_millis(n).as_nanos() as f64
}

/// Adds the scenario's services and clients to `world` (hosts are already there), and returns
/// the client that never stops, if any.
pub fn wire_cloud(
    checked: &Checked,
    world: &mut WorldConfig,
    seed: u64,
    errors: &mut Vec<Diagnostic>,
) -> Option<Endless> {
    // Queues first, then topics, tables, buckets, functions and services, in the order `cloud.services`
    // gets them below (an index into this list is an index into that one).
    let services: Vec<&CheckedBlock> = ["queue", "topic", "table", "bucket", "function", "service"]
        .iter()
        .flat_map(|kind| checked.blocks.iter().filter(move |b| b.spec.kind == *kind))
        .collect();
    let clients: Vec<&CheckedBlock> = checked
        .blocks
        .iter()
        .filter(|b| b.spec.kind == "client")
        .collect();
    if services.is_empty() && clients.is_empty() {
        return None;
    }
    let host_id = |name: &str| {
        world
            .hosts
            .iter()
            .position(|h| h.name == name)
            .map(|i| i as u32)
    };
    let service_index = |name: &str| {
        services
            .iter()
            .position(|s| s.name == name)
            .map(|i| i as u32)
    };
    let mut cloud = CloudConfig::default();
    for b in services.iter().filter(|b| b.spec.kind == "queue") {
        let d = QueueConfig::default();
        let config = QueueConfig {
            visibility_timeout: b.duration("visibility").unwrap_or(d.visibility_timeout),
            retention: b.duration("retention").unwrap_or(d.retention),
            max_receive_count: b.count("max_receives").map(|n| n as u32),
            ..d
        };
        // The queue checks SQS's limits itself; its message names the one broken.
        if let Err(e) = models::cloud::queue::Queue::<()>::new(config.clone()) {
            errors.push(b.error_at(
                "visibility",
                format!("queue `{}`: {e}", b.name),
                "keep to SQS's limits: visibility at most 12h, retention 60s to 14d",
            ));
        }
        cloud.services.push(ServiceConfig {
            durable: Some(config),
            ..ServiceConfig::managed(&b.name, b.placement.first().and_then(|h| host_id(h)))
        });
    }
    for b in services.iter().filter(|b| b.spec.kind == "topic") {
        let subscribers: Vec<u32> = services
            .iter()
            .enumerate()
            .filter(|(_, q)| q.spec.kind == "queue" && q.reference("subscribes") == Some(&b.name))
            .map(|(i, _)| i as u32)
            .collect();
        cloud.services.push(ServiceConfig {
            topic: Some(subscribers),
            ..ServiceConfig::managed(&b.name, b.placement.first().and_then(|h| host_id(h)))
        });
    }
    for b in services.iter().filter(|b| b.spec.kind == "table") {
        let mut config = TableConfig::dynamodb_like(b.count("partitions").map_or(1, |n| n as u32));
        config.split_after = b.duration("split_after");
        let per_sec = |prop: &str, default: u64| match b.get(prop) {
            Some(Typed::Rate(r)) => (r.round() as u64).max(1),
            _ => default,
        };
        config.read_rate = per_sec("read_rate", config.read_rate);
        config.write_rate = per_sec("write_rate", config.write_rate);
        config.bucket = b.duration("heatmap_bucket").unwrap_or(config.bucket);
        cloud.services.push(ServiceConfig {
            service: b.dist("service").cloned().unwrap_or(Dist::Uniform {
                low: millis(2),
                high: millis(6),
            }),
            table: Some(config),
            ..ServiceConfig::managed(&b.name, None)
        });
    }
    for b in services.iter().filter(|b| b.spec.kind == "bucket") {
        let first_byte = b.dist("first_byte").cloned().unwrap_or(Dist::Uniform {
            low: millis(10),
            high: millis(30),
        });
        let latency = ObjectLatency {
            bytes_per_sec: Some(b.size("bandwidth").unwrap_or(100 << 20) as f64),
            ..ObjectLatency::same(first_byte)
        };
        cloud.services.push(ServiceConfig {
            bucket: Some(latency),
            ..ServiceConfig::managed(&b.name, None)
        });
    }
    // The functions share one account: the platform checks their reservations as it takes them.
    let mut platform = Platform::new(ACCOUNT_CONCURRENCY).ok();
    for b in services.iter().filter(|b| b.spec.kind == "function") {
        let Some(Typed::Dist(service)) = b.get("service") else {
            unreachable!("service is required and typed by the checker");
        };
        let spec = FunctionSpec {
            keep_alive: b
                .duration("keep_alive")
                .unwrap_or(SimDuration::from_secs(600)),
            cold_start: b.dist("cold_start").cloned().unwrap_or(Dist::Uniform {
                low: millis(200),
                high: millis(800),
            }),
            reserved: b.count("reserved").map(|n| n as u32),
            provisioned: b.count("provisioned").map_or(0, |n| n as u32),
        };
        if let Some(Err(e)) = platform.as_mut().map(|p| p.add(spec.clone())) {
            errors.push(b.error_at("reserved",
                format!("function `{}`: {e}", b.name),
                "the functions' reservations share the account's 1,000, and provisioned environments fit within the reservation",
            ));
        }
        cloud.services.push(ServiceConfig {
            service: service.clone(),
            prices: prices(b),
            errors: b.probability("errors").unwrap_or(0.0),
            function: Some(spec),
            ..ServiceConfig::managed(&b.name, None)
        });
    }
    let mut packing = Packing::new(checked);
    for b in services.iter().filter(|b| b.spec.kind == "service") {
        let autoscale = autoscale(b, errors);
        let packed = b.get("cpu").is_some() || b.get("memory").is_some();
        let instances: Vec<Option<u32>> = if packed {
            if autoscale.is_some() {
                errors.push(b.error_at("autoscale",
                    format!("service `{}` reserves CPU or memory and autoscales", b.name),
                    "placing an autoscaling group's instances by bin packing is not supported yet: leave out `cpu` and `memory`, or `autoscale`",
                ));
            }
            packing
                .place(b, errors)
                .iter()
                .map(|h| host_id(h))
                .collect()
        } else if let Some(a) = &autoscale {
            // Room for the largest group: instance k on the k-th host, cycling.
            let hosts: Vec<Option<u32>> = b.placement.iter().map(|h| host_id(h)).collect();
            (0..a.config.max as usize)
                .map(|k| match hosts.as_slice() {
                    [] => None,
                    hs => hs[k % hs.len()],
                })
                .collect()
        } else if b.placement.is_empty() {
            vec![None; b.count("instances").unwrap_or(1) as usize]
        } else {
            if b.get("instances").is_some() {
                errors.push(b.error_at("instances",
                    format!("service `{}` is placed on hosts, one instance each, and also says how many instances it has", b.name),
                    "leave out `instances`, or `on`",
                ));
            }
            b.placement.iter().map(|h| host_id(h)).collect()
        };
        let fanout = b.count("fanout").map(|n| n as u32);
        // A service calling itself, or a cycle, is refused below.
        let calls = match b.reference("calls") {
            Some(name) => service_index(name).map(|service| Downstream {
                service,
                fanout: fanout.unwrap_or(1),
                policy: policy(b),
            }),
            None => {
                if fanout.is_some() {
                    errors.push(b.error_at(
                        "fanout",
                        format!("service `{}` has a fanout but calls no service", b.name),
                        "add `calls OTHER` to say which service the requests fan out to",
                    ));
                }
                None
            }
        };
        let Some(Typed::Dist(service)) = b.get("service") else {
            unreachable!("service is required and typed by the checker");
        };
        let slow = b.probability("slow").filter(|p| *p > 0.0).map(|p| {
            let d = b.dist("slow_service").cloned().unwrap_or(Dist::Constant {
                value: SimDuration::from_secs(1).as_nanos() as f64,
            });
            (p, d)
        });
        cloud.services.push(ServiceConfig {
            name: b.name.clone(),
            instances,
            concurrency: b.count("concurrency").map_or(1, |n| n as u32),
            service: service.clone(),
            slow,
            queue_limit: b.count("queue_limit"),
            balance: b
                .choice("balance")
                .and_then(Balance::from_name)
                .unwrap_or(Balance::RoundRobin),
            health_check: b.duration("health_check"),
            calls,
            autoscale,
            prices: prices(b),
            errors: b.probability("errors").unwrap_or(0.0),
            durable: None,
            topic: None,
            table: None,
            bucket: None,
            function: None,
            consumes: b.reference("consumes").and_then(service_index),
        });
        if b.get("consumes").is_some() && b.get("calls").is_some() {
            errors.push(b.error_at("calls",
                format!("service `{}` consumes a queue and calls a service", b.name),
                "a consumer processes each message by itself; put the calls in a service it does not consume for",
            ));
        }
    }
    debug_assert_eq!(cloud.services.len(), services.len());
    cloud.allocations = packing.shares();
    refuse_call_cycles(&services, &cloud, errors);
    let mut endless = None;
    for b in &clients {
        let Some(service) = b.reference("to").and_then(service_index) else {
            errors.push(b.error_at(
                "to",
                format!("client `{}` calls no service", b.name),
                "add `to SERVICE`",
            ));
            continue;
        };
        let requests = b.count("requests");
        if requests.is_none() && endless.is_none() {
            endless = Some(Endless {
                file: b.file.to_string(),
                span: b.span,
                message: "this client never stops and the scenario has no duration, so the run would never end",
                hint: "add `requests N` to the client or `duration 10s` to the scenario (or pass --until)",
            });
        }
        cloud.clients.push(ClientConfig {
            name: b.name.clone(),
            host: b.placement.first().and_then(|h| host_id(h)),
            rate: rate(b),
            requests,
            service,
            policy: policy(b),
            slo: b.duration("slo"),
            keys: b.dist("keys").cloned().unwrap_or(Dist::Uniform {
                low: 1.0,
                high: 1_000_001.0,
            }),
            object_size: b.size("object_size").unwrap_or(1 << 20),
            part_size: b.size("part_size"),
            writes: match b.get("mix") {
                Some(Typed::Weighted(w)) => {
                    let total: f64 = w.iter().map(|(_, x)| x).sum();
                    let puts: f64 = w.iter().filter(|(n, _)| n == "put").map(|(_, x)| x).sum();
                    if total > 0.0 { puts / total } else { 0.0 }
                }
                _ => 0.0,
            },
        });
    }
    let is_client = |name: &str| clients.iter().any(|c| c.name == name);
    let steps = plan(checked, seed, errors, |a| match a {
        CheckedAction::Load {
            component, value, ..
        } if is_client(component) => {
            let Typed::Rate(r) = value else {
                return Err("a client's `load` sets its rate, such as `rate 200/s`".to_string());
            };
            let window = Window {
                what: format!("on `{component}`"),
                hint: "windows on one component must not overlap: what to return to at the end would be ambiguous",
            };
            Ok(Some(((component.clone(), *r), window)))
        }
        _ => Ok(None),
    });
    let original = |name: &str| clients.iter().find(|c| c.name == name).map(|c| rate(c));
    for (at, client, rate) in play_forward(steps, original) {
        if let Some(i) = clients.iter().position(|c| c.name == client) {
            cloud.changes.push(RateChange {
                at,
                client: i as u32,
                rate,
            });
        }
    }
    world.cloud = Some(cloud);
    endless
}

/// The hosts' CPUs (in thousandths) and memory, and what services placed by bin packing have
/// reserved of them so far: services are placed in the order the scenario gives them.
struct Packing {
    /// Per host name: capacity, and reserved.
    hosts: std::collections::BTreeMap<String, (Resources, Resources)>,
    /// Hosts in the order they were first used (the shares' order).
    used: Vec<String>,
}

impl Packing {
    fn new(checked: &Checked) -> Self {
        let hosts = checked
            .hosts
            .iter()
            .map(|h| {
                let block = checked.blocks.get(h.block);
                let cpus = block.and_then(|b| b.count("cpus")).unwrap_or(1);
                let memory = block.and_then(|b| b.size("memory")).unwrap_or(16 << 30);
                let capacity = Resources::new(cpus * 1000, memory);
                (h.name.clone(), (capacity, Resources::default()))
            })
            .collect();
        Packing {
            hosts,
            used: Vec::new(),
        }
    }

    /// Places service `b`'s instances on its hosts by its `placement`, each reserving its `cpu`
    /// and `memory`: the host of each (an instance that fits nowhere is a located error).
    fn place(&mut self, b: &CheckedBlock, errors: &mut Vec<Diagnostic>) -> Vec<String> {
        if b.placement.is_empty() {
            errors.push(b.error_at(
                "cpu",
                format!(
                    "service `{}` reserves CPU or memory but is placed on no host",
                    b.name
                ),
                "add `on HOSTS`: bin packing chooses among them",
            ));
            return Vec::new();
        }
        let demand = Resources::new(
            (b.float("cpu").unwrap_or(0.0) * 1000.0).round() as u64,
            b.size("memory").unwrap_or(0),
        );
        let fit = b
            .choice("placement")
            .and_then(Fit::from_name)
            .unwrap_or(Fit::First);
        let candidates: Vec<&String> = b.placement.iter().collect();
        let free: Vec<Resources> = candidates
            .iter()
            .map(|h| {
                self.hosts
                    .get(*h)
                    .map_or(Resources::default(), |(cap, used)| {
                        Resources::new(
                            cap.cpu.saturating_sub(used.cpu),
                            cap.mem.saturating_sub(used.mem),
                        )
                    })
            })
            .collect();
        // A host with nothing left offers no room (the packer refuses an empty host).
        let room: Vec<Resources> = free
            .iter()
            .map(|r| {
                if r.cpu == 0 && r.mem == 0 {
                    Resources::new(0, 1)
                } else {
                    *r
                }
            })
            .collect();
        let Ok(mut cluster) = Cluster::new(&room) else {
            return Vec::new();
        };
        let count = b.count("instances").unwrap_or(candidates.len() as u64);
        let mut placed = Vec::new();
        for k in 0..count {
            match cluster.place(k, demand, fit) {
                Ok(i) => {
                    let host = candidates[i].clone();
                    if let Some((_, used)) = self.hosts.get_mut(&host) {
                        used.cpu += demand.cpu;
                        used.mem += demand.mem;
                    }
                    if !self.used.contains(&host) {
                        self.used.push(host.clone());
                    }
                    placed.push(host);
                }
                Err(_) => {
                    errors.push(b.error_at("instances",
                        format!(
                            "service `{}`: instance {} of {count} fits on none of its hosts ({} CPUs and {} bytes each)",
                            b.name,
                            k + 1,
                            demand.cpu as f64 / 1000.0,
                            demand.mem
                        ),
                        "add hosts, give them more `cpus` or `memory`, or reserve less per instance",
                    ));
                    break;
                }
            }
        }
        placed
    }

    /// Each used host's reserved shares of its CPUs and memory.
    fn shares(&self) -> Vec<(String, f64, f64)> {
        let share = |x: u64, of: u64| if of == 0 { 0.0 } else { x as f64 / of as f64 };
        self.used
            .iter()
            .filter_map(|h| {
                let (cap, used) = self.hosts.get(h)?;
                Some((
                    h.clone(),
                    share(used.cpu, cap.cpu),
                    share(used.mem, cap.mem),
                ))
            })
            .collect()
    }
}

/// Services calling each other in a cycle would fan out forever: refused, at the first `calls`
/// of the cycle.
fn refuse_call_cycles(
    services: &[&CheckedBlock],
    cloud: &CloudConfig,
    errors: &mut Vec<Diagnostic>,
) {
    for (start, b) in services.iter().enumerate() {
        let mut at = start;
        for _ in 0..services.len() {
            match cloud.services.get(at).and_then(|s| s.calls.as_ref()) {
                Some(d) if d.service as usize == start => {
                    errors.push(b.error_at(
                        "calls",
                        format!(
                            "service `{}` calls itself through others: a request would never end",
                            b.name
                        ),
                        "services must call each other without a cycle",
                    ));
                    return;
                }
                Some(d) => at = d.service as usize,
                None => break,
            }
        }
    }
}

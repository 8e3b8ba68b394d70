//! Wiring for the cache family: `cache` blocks as tiers in front of the Raft cluster, and which
//! tier the clients' load goes through.

use models::cache::Kind;
use models::world::WorldConfig;
use models::world::cache::{CacheConfig, WriteMode};
use simcore::SimDuration;

use crate::check::{Checked, CheckedBlock, Typed};
use crate::diag::Diagnostic;

fn reference<'a>(b: &'a CheckedBlock, prop: &str) -> Option<&'a str> {
    match b.get(prop) {
        Some(Typed::Ref(name)) => Some(name.as_str()),
        _ => None,
    }
}

/// Adds the scenario's caches to the world's Raft cluster (the only backend so far).
pub fn wire_caches(checked: &Checked, world: &mut WorldConfig, errors: &mut Vec<Diagnostic>) {
    let caches: Vec<&CheckedBlock> = checked
        .blocks
        .iter()
        .filter(|b| b.spec.kind == "cache")
        .collect();
    if caches.is_empty() {
        return;
    }
    let at = |b: &CheckedBlock, message: String, hint: &str| {
        Diagnostic::at(&b.file, b.span, message).hint(hint.to_string())
    };
    let servers = world.raft.as_ref().map_or(0, |r| r.nodes.len() as u32);
    let clients = world
        .raft
        .as_ref()
        .and_then(|r| r.load.as_ref())
        .map_or(0, |l| l.clients);
    let index = |name: &str| caches.iter().position(|c| c.name == name);
    let mut tiers = Vec::new();
    for b in &caches {
        if world.raft.is_none() {
            errors.push(at(
                b,
                format!("cache `{}` has no backend", b.name),
                "a cache sits in front of a Raft cluster (`raft kv { ... }`), directly or through another cache",
            ));
            continue;
        }
        if b.placement.is_empty() {
            errors.push(at(
                b,
                format!("cache `{}` is on no host", b.name),
                "declare hosts for it and place it: `host edge1..edge2 { }` and `on edge1..edge2`",
            ));
            continue;
        }
        let mut hosts = Vec::new();
        for name in &b.placement {
            match world.hosts.iter().position(|h| h.name == *name) {
                Some(i) if (i as u32) < servers + clients => errors.push(at(
                    b,
                    format!(
                        "cache `{}` is placed on `{name}`, a Raft server's host",
                        b.name
                    ),
                    "give the cache hosts of its own",
                )),
                Some(i) => hosts.push(i as u32),
                None => errors.push(at(
                    b,
                    format!(
                        "cache `{}` is placed on `{name}`, which is not a host",
                        b.name
                    ),
                    "declare it: `host NAME { }`",
                )),
            }
        }
        let upstream = reference(b, "backend").and_then(index);
        tiers.push(CacheConfig {
            name: b.name.clone(),
            hosts,
            upstream,
            policy: b
                .choice("policy")
                .and_then(Kind::from_name)
                .unwrap_or(Kind::Lru),
            capacity: b.size("capacity").unwrap_or(0),
            object_size: b.size("object_size").unwrap_or(1024).max(1),
            write: b
                .choice("write")
                .and_then(WriteMode::from_name)
                .unwrap_or(WriteMode::Through),
            ttl: b.duration("ttl").filter(|d| *d > SimDuration::ZERO),
            coalesce: b.flag("coalesce"),
            lease: b.choice("fill") != Some("always"),
            fetch_timeout: world
                .raft
                .as_ref()
                .and_then(|r| r.load.as_ref())
                .map_or(SimDuration::from_millis(100), |l| l.attempt_timeout),
            write_timeout: world
                .raft
                .as_ref()
                .and_then(|r| r.load.as_ref())
                .map_or(SimDuration::from_secs(1), |l| l.op_timeout),
        });
    }
    // A chain of backends must end at the cluster.
    for (i, b) in caches.iter().enumerate() {
        let mut t = i;
        for _ in 0..=caches.len() {
            match tiers.get(t).and_then(|c| c.upstream) {
                Some(u) => t = u,
                None => break,
            }
        }
        if tiers.get(t).and_then(|c| c.upstream).is_some() {
            errors.push(at(
                b,
                format!("cache `{}` is its own backend, through others", b.name),
                "a chain of caches must end at the Raft cluster",
            ));
        }
    }
    let via = checked
        .blocks
        .iter()
        .find(|b| b.spec.kind == "load")
        .and_then(|b| reference(b, "to"))
        .and_then(index);
    if let Some(raft) = world.raft.as_mut() {
        raft.caches = tiers;
        raft.via = via;
    }
}

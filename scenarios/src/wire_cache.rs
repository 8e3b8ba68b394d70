//! Wiring for the cache family: `cache` blocks as tiers in front of the Raft cluster, and which
//! tier the clients' load goes through.

use std::path::{Path, PathBuf};

use models::cache::Kind;
use models::cache::options::Admission;
use models::cache::trace::Format;
use models::cache::workload::{Arrivals, Sizes, Spec, Workload};
use models::world::WorldConfig;
use models::world::cache::{CacheConfig, WriteMode};
use models::world::replay::{ReplayConfig, ReplayPolicy, Source};
use simcore::SimDuration;

use crate::check::{Checked, CheckedBlock, Typed};
use crate::diag::Diagnostic;

/// A trace file's format from its name, when the block does not say.
fn format_of(path: &Path) -> Format {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".twitter.csv") {
        Format::Twitter
    } else if name.ends_with(".csv") {
        Format::Csv
    } else {
        Format::Oracle
    }
}

/// Where a `trace` block's requests come from; a file is read through once here, so a bad
/// record is refused before the run, named by its line or record.
fn source(t: &CheckedBlock, errors: &mut Vec<Diagnostic>) -> Option<Source> {
    let requests = t.count("requests");
    if let Some(w) = t.text("workload") {
        let workload: Workload = match w.parse() {
            Ok(w) => w,
            Err(e) => {
                errors.push(t.error_at(
                    "workload",
                    format!("trace `{}`: {e}", t.name),
                    "for example \"zipf(100000, 1.0)\"",
                ));
                return None;
            }
        };
        let sizes: Sizes = match t.text("sizes").unwrap_or("fixed(1)").parse() {
            Ok(s) => s,
            Err(e) => {
                errors.push(t.error_at(
                    "sizes",
                    format!("trace `{}`: {e}", t.name),
                    "for example \"loguniform(100, 100000)\"",
                ));
                return None;
            }
        };
        let rate = match t.get("rate") {
            Some(Typed::Rate(r)) => *r,
            _ => 1_000_000.0,
        };
        let spec = Spec {
            workload,
            sizes,
            arrivals: Arrivals {
                rate,
                poisson: false,
            },
        };
        return Some(Source::Generated {
            spec,
            requests: requests.unwrap_or(1_000_000),
        });
    }
    let file = t.text("file")?;
    let dir = Path::new(&*t.file).parent().unwrap_or(Path::new("."));
    let path: PathBuf = dir.join(file);
    let format = t
        .choice("format")
        .and_then(Format::from_name)
        .unwrap_or_else(|| format_of(&path));
    let source = Source::File {
        path: path.clone(),
        format,
        requests,
    };
    match models::world::replay::open(&source, 0) {
        Ok(records) => {
            for r in records {
                if let Err(e) = r {
                    errors.push(t.error_at(
                        "file",
                        format!("trace `{}`: {e}", t.name),
                        "check the file and its format (csv, oracle or twitter)",
                    ));
                    return None;
                }
            }
        }
        Err(e) => {
            errors.push(t.error_at(
                "file",
                format!("trace `{}`: {e}", t.name),
                "the path is relative to the scenario's directory",
            ));
            return None;
        }
    }
    Some(source)
}

/// The caches that replay a trace.
fn wire_replays(
    checked: &Checked,
    world: &mut WorldConfig,
    seed: u64,
    errors: &mut Vec<Diagnostic>,
) {
    for b in checked.blocks.iter().filter(|b| b.spec.kind == "cache") {
        let Some(trace) = b.reference("replay") else {
            continue;
        };
        let Some(t) = checked
            .blocks
            .iter()
            .find(|t| t.spec.kind == "trace" && t.name == trace)
        else {
            continue;
        };
        if !b.placement.is_empty() || b.get("backend").is_some() {
            errors.push(b.error_at("replay",
                format!("cache `{}` replays a trace and is also placed as a service", b.name),
                "a replaying cache has no hosts and no backend: drop `on` and `backend`, or `replay`",
            ));
            continue;
        }
        let Some(source) = source(t, errors) else {
            continue;
        };
        let policy = match b.choice("policy").unwrap_or("lru") {
            "opt" => ReplayPolicy::Opt,
            name => ReplayPolicy::Online(Kind::from_name(name).unwrap_or(Kind::Lru)),
        };
        let capacity = b.size("capacity").unwrap_or(0);
        let admission = match b.choice("admission") {
            Some("second-hit") => Admission::SecondHit(
                usize::try_from(capacity)
                    .unwrap_or(usize::MAX)
                    .clamp(1, 1 << 24),
            ),
            _ => Admission::All,
        };
        if policy == ReplayPolicy::Opt && (admission != Admission::All || b.get("ttl").is_some()) {
            errors.push(b.error_at(
                "policy",
                format!("cache `{}`: OPT takes no TTL or admission policy", b.name),
                "OPT is the floor for plain caching: drop `ttl` and `admission`",
            ));
            continue;
        }
        world.replays.push(ReplayConfig {
            name: b.name.clone(),
            trace: t.name.clone(),
            source,
            policy,
            capacity,
            ttl: b
                .duration("ttl")
                .filter(|d| *d > SimDuration::ZERO)
                .map(|d| d.as_nanos()),
            admission,
            mrc_points: b.count("mrc").unwrap_or(0) as u32,
            mrc_sample: b.probability("mrc_sample").unwrap_or(0.1),
            seed,
        });
    }
}

/// Adds the scenario's caches: those that replay a trace, and the others as tiers in front of
/// the world's Raft cluster (the only backend so far).
pub fn wire_caches(
    checked: &Checked,
    world: &mut WorldConfig,
    seed: u64,
    errors: &mut Vec<Diagnostic>,
) {
    wire_replays(checked, world, seed, errors);
    let caches: Vec<&CheckedBlock> = checked
        .blocks
        .iter()
        .filter(|b| b.spec.kind == "cache" && b.get("replay").is_none())
        .collect();
    if caches.is_empty() {
        return;
    }
    let at = |b: &CheckedBlock, message: String, hint: &str| {
        Diagnostic::at(&b.file, b.span, message).hint(hint.to_string())
    };
    let servers = world.raft.as_ref().map_or(0, |r| r.nodes.len() as u32);
    // The clients' load: its size, and the timeouts a cache's misses and writes go by.
    let load = world.raft.as_ref().and_then(|r| r.load.clone());
    let load = load.as_ref();
    let clients = load.map_or(0, |l| l.clients);
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
        let upstream = b.reference("backend").and_then(index);
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
            fetch_timeout: load.map_or(SimDuration::from_millis(100), |l| l.attempt_timeout),
            write_timeout: load.map_or(SimDuration::from_secs(1), |l| l.op_timeout),
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
        .and_then(|b| b.reference("to"))
        .and_then(index);
    if let Some(raft) = world.raft.as_mut() {
        raft.caches = tiers;
        raft.via = via;
    }
}

//! A checked scenario's `disk` and `io` blocks to the world's disks and block workloads.
//!
//! A `disk` block gives each host it is placed on a disk of its own; without declared hosts it
//! is a host of its own, named after the block. An `io` block runs on the hosts it is placed
//! on, or, without declared hosts, on the scenario's one disk.

use models::disk::hdd::{HddSpec, SECTOR_BYTES};
use models::disk::raid::Level;
use models::disk::sched::IoPolicy;
use models::disk::ssd::{Cell, GcPolicy, SsdSpec};
use models::disk::workload::{IoWorkload, Pattern};
use models::storage::kv::{Bugs, KvOptions};
use models::world::WorldConfig;
use models::world::disk::{DeviceSpec, DiskConfig, IoConfig};
use models::world::host::HostConfig;
use models::world::store::StoreConfig;
use simcore::Dist;

use crate::ast::Check;
use crate::check::{Checked, CheckedBlock};
use crate::diag::Diagnostic;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// The device a `disk` block describes.
fn device(b: &CheckedBlock) -> Result<DeviceSpec, String> {
    if b.size("capacity") == Some(0) {
        return Err("a capacity of 0 bytes holds nothing".into());
    }
    let drive = match b.choice("model").unwrap_or("hdd") {
        "hdd" => {
            let spec = HddSpec::from_datasheet(
                b.count("rpm").unwrap_or(7200) as u32,
                b.nanos("seek").unwrap_or(9_000_000),
                b.size("transfer").unwrap_or(105 * MIB),
                b.size("capacity").unwrap_or(1024 * GIB),
            )
            .map_err(|e| e.to_string())?;
            let read_ahead = !matches!(b.get("read_ahead"), Some(crate::check::Typed::Bool(false)));
            DeviceSpec::Hdd(HddSpec {
                track_buffer: spec.track_buffer.filter(|_| read_ahead),
                ..spec
            })
        }
        _ => {
            let capacity = b.size("capacity").unwrap_or(4 * GIB);
            let mut spec = SsdSpec::typical(Cell::Mlc, 1);
            let block_bytes = spec.page_bytes * u64::from(spec.pages_per_block);
            let logical = capacity.div_ceil(block_bytes);
            let logical = u32::try_from(logical).map_err(|_| {
                format!("a capacity of {capacity} bytes is too large for the SSD model")
            })?;
            let op = b.probability("over_provisioning").unwrap_or(0.07);
            let spare = ((f64::from(logical) * op).ceil() as u32).max(spec.gc_high + spec.dies + 1);
            spec.blocks = logical.saturating_add(spare);
            spec.spare_blocks = spare;
            spec.read_ns = b.nanos("read_latency").unwrap_or(spec.read_ns);
            spec.program_ns = b.nanos("write_latency").unwrap_or(spec.program_ns);
            spec.erase_ns = b.nanos("erase_latency").unwrap_or(spec.erase_ns);
            if let Some(t) = b.size("transfer") {
                spec.bus_bytes_per_s = t;
            }
            spec.gc = match b.choice("gc") {
                Some("cost-benefit") => GcPolicy::CostBenefit,
                _ => GcPolicy::Greedy,
            };
            DeviceSpec::Ssd(spec)
        }
    };
    let level = match b.choice("raid").unwrap_or("none") {
        "raid0" => Level::Raid0,
        "raid1" => Level::Raid1,
        "raid4" => Level::Raid4,
        "raid5" => Level::Raid5,
        _ => return Ok(drive),
    };
    let chunk = b.size("chunk").unwrap_or(64 << 10);
    if chunk == 0 || !chunk.is_multiple_of(SECTOR_BYTES) {
        return Err(format!(
            "the chunk of {chunk} bytes is not a positive multiple of {SECTOR_BYTES}"
        ));
    }
    Ok(DeviceSpec::Array {
        level,
        chunk: chunk / SECTOR_BYTES,
        members: b.count("members").unwrap_or(4) as u32,
        member: Box::new(drive),
    })
}

fn workload(b: &CheckedBlock, disk_bytes: u64) -> IoWorkload {
    let start = b.size("start").unwrap_or(0);
    IoWorkload {
        block: b.size("block").unwrap_or(4096),
        pattern: b
            .choice("pattern")
            .and_then(Pattern::from_name)
            .unwrap_or(Pattern::Random),
        read_fraction: b.probability("reads").unwrap_or(1.0),
        queue_depth: b.count("queue_depth").unwrap_or(1) as u32,
        requests: b.count("requests").unwrap_or(10_000),
        span: b
            .size("span")
            .unwrap_or_else(|| disk_bytes.saturating_sub(start)),
        start,
    }
}

/// The hosts a service placed with `on` runs on: its placement, or without declared hosts the
/// scenario's one disk's host (`kind` names the block kind in the error).
fn hosts_of(
    b: &CheckedBlock,
    world: &WorldConfig,
    sizes: &[(u32, u64)],
    errors: &mut Vec<Diagnostic>,
) -> Vec<(u32, u64)> {
    let ids: Vec<u32> = if b.placement.is_empty() {
        if sizes.len() == 1 {
            vec![sizes[0].0]
        } else if sizes.is_empty() && !errors.is_empty() {
            // The scenario's disk was refused already: that error is the one to fix.
            return Vec::new();
        } else {
            errors.push(
                Diagnostic::at(
                    &b.file,
                    b.span,
                    format!(
                        "{} `{}` is not placed and the scenario has {} disks",
                        b.spec.kind,
                        b.name,
                        sizes.len()
                    ),
                )
                .hint(if sizes.is_empty() {
                    "add a disk: `disk d { model hdd }`"
                } else {
                    "declare hosts, place the disks on them and this block with `on`"
                }),
            );
            return Vec::new();
        }
    } else {
        b.placement
            .iter()
            .filter_map(|n| world.hosts.iter().position(|h| h.name == *n))
            .map(|i| i as u32)
            .collect()
    };
    let mut out = Vec::new();
    for host in ids {
        match sizes.iter().find(|(h, _)| *h == host) {
            Some(&(_, bytes)) => out.push((host, bytes)),
            None => {
                let name = &world.hosts[host as usize].name;
                errors.push(
                    Diagnostic::at(
                        &b.file,
                        b.span,
                        format!(
                            "{} `{}` runs on host `{name}`, which has no disk",
                            b.spec.kind, b.name
                        ),
                    )
                    .hint("place a `disk` block on it: `disk d { on HOST }`"),
                );
            }
        }
    }
    out
}

/// Adds the scenario's disks and `io` loads to `world`, with hosts for disks that are not
/// placed on declared ones.
pub fn wire_disks(checked: &Checked, world: &mut WorldConfig, errors: &mut Vec<Diagnostic>) {
    let at = |b: &CheckedBlock, message: String, hint: &str| {
        Diagnostic::at(&b.file, b.span, message).hint(hint.to_string())
    };
    // Each disk's host ids and size, by block.
    let mut sizes: Vec<(u32, u64)> = Vec::new();
    for b in checked.blocks.iter().filter(|b| b.spec.kind == "disk") {
        let spec = match device(b) {
            Ok(s) => s,
            Err(e) => {
                errors.push(at(
                    b,
                    format!("disk `{}`: {e}", b.name),
                    "`sim models` lists the disk block's properties and their ranges",
                ));
                continue;
            }
        };
        let bytes = match spec.build() {
            Ok(d) => d.sectors() * SECTOR_BYTES,
            Err(e) => {
                errors.push(at(b, format!("disk `{}`: {e}", b.name), "an array needs members its level allows (RAID 1 an even number, RAID 4 and 5 three or more) and a chunk smaller than a drive"));
                continue;
            }
        };
        let policy = b
            .choice("scheduler")
            .and_then(IoPolicy::from_name)
            .unwrap_or(IoPolicy::Fifo);
        let hosts: Vec<String> = if b.placement.is_empty() {
            vec![b.name.clone()]
        } else {
            b.placement.clone()
        };
        for name in hosts {
            let id = match world.hosts.iter().position(|h| h.name == name) {
                Some(i) => i as u32,
                None => {
                    world.hosts.push(HostConfig {
                        name: name.clone(),
                        fsync: Dist::Constant { value: 0.0 },
                    });
                    world.hosts.len() as u32 - 1
                }
            };
            if world.disks.iter().any(|(h, _)| *h == id) {
                errors.push(at(
                    b,
                    format!("host `{name}` is given a second disk"),
                    "a host has one disk: make it an array (`raid raid5`) or place the disks on different hosts",
                ));
                continue;
            }
            world.disks.push((
                id,
                DiskConfig {
                    name: b.name.clone(),
                    device: spec.clone(),
                    policy,
                },
            ));
            sizes.push((id, bytes));
        }
    }
    for b in checked.blocks.iter().filter(|b| b.spec.kind == "io") {
        for (host, bytes) in hosts_of(b, world, &sizes, errors) {
            let w = workload(b, bytes);
            if let Err(e) = w.validate() {
                errors.push(at(
                    b,
                    format!("io `{}`: {e}", b.name),
                    "check block, span and start",
                ));
                continue;
            }
            if w.extent() > bytes {
                errors.push(at(
                    b,
                    format!(
                        "io `{}` reaches byte {}, past the end of its disk ({bytes} bytes)",
                        b.name,
                        w.extent()
                    ),
                    "make the span or start smaller, or the disk larger",
                ));
                continue;
            }
            world.io.push(IoConfig {
                name: b.name.clone(),
                host,
                workload: w,
            });
        }
    }
    let durable = checked
        .expects
        .iter()
        .any(|e| matches!(&e.check, Check::Property(p) if p.text == "durable"));
    for b in checked.blocks.iter().filter(|b| b.spec.kind == "kvstore") {
        let bug = b.choice("bug").unwrap_or("none");
        let bugs = Bugs {
            ignore_fsync_error: bug == "ignore-fsync-error",
            wal_without_checksum: bug == "no-checksum",
            rename_without_dir_fsync: bug == "rename-without-dir-fsync",
        };
        let kv = KvOptions {
            memtable_bytes: b.size("memtable").unwrap_or(32 << 10) as usize,
            bugs,
            ..KvOptions::default()
        };
        for (host, _) in hosts_of(b, world, &sizes, errors) {
            world.stores.push(StoreConfig {
                name: b.name.clone(),
                host,
                ops: b.count("ops").unwrap_or(1000),
                keys: b.count("keys").unwrap_or(100),
                reads: b.probability("reads").unwrap_or(0.2),
                think: b
                    .duration("think")
                    .unwrap_or(simcore::SimDuration::from_millis(1)),
                value_size: b.size("value_size").unwrap_or(100).clamp(12, 1 << 20) as usize,
                restart_after: b
                    .duration("restart_after")
                    .unwrap_or(simcore::SimDuration::from_millis(100)),
                kv,
                check_at_end: durable,
                crash_times: Vec::new(),
            });
        }
    }
}

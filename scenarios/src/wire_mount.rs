//! A checked scenario's `mount` blocks: the storage stack mounted for real programs, as
//! `native crashtest` runs it.
//!
//! The simulator does not run a mount (its program is a real one), so [`crate::wire::wire`]
//! only checks the blocks ([`check_mounts`]: one host with a disk, faults it can apply), and
//! [`mounts`] gives the runner each mount's configuration: its device (for the size and the
//! timing of block requests), its commands, and its host's disk faults as changes at instants of
//! the program's real time.

use models::world::WorldConfig;
use models::world::disk::{DeviceSpec, DiskFault};
use models::world::faults::{Fault, Targets};
use simcore::{SimDuration, SimTime};

use crate::check::{ActionKind, Checked, CheckedAction, CheckedBlock};
use crate::diag::Diagnostic;

/// What a `mount` block's host's disk is doing from an instant of the program's run on: healthy
/// (`None`: every fault lifted), or one fault more.
pub type DiskChange = (SimTime, Option<DiskFault>);

/// One `mount` block, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct MountConfig {
    pub name: String,
    /// The host it is on, by name.
    pub host: String,
    /// The host's disk: the file system's size, and the time its block requests take.
    pub device: DeviceSpec,
    pub setup: Option<String>,
    pub program: String,
    pub check: String,
    /// How many crash points to try (`None`: all of them).
    pub points: Option<u64>,
    /// The longest any command may run, in real time.
    pub timeout: SimDuration,
    /// Whether operations take the disk model's time.
    pub latency: bool,
    /// The host's disk faults, in time order, measured from the program's start.
    pub faults: Vec<DiskChange>,
}

fn refuse(b: &CheckedBlock, message: String, hint: &str) -> Diagnostic {
    Diagnostic::at(&b.file, b.span, message).hint(hint.to_string())
}

/// Checks the scenario's `mount` blocks and its fault lines against what a mount can do: each
/// is on one host with a disk (in `world`, wired so far), there is one, and the only faults are
/// disk faults (a crash is what `native crashtest` chooses, at every operation).
pub fn check_mounts(checked: &Checked, world: &WorldConfig, errors: &mut Vec<Diagnostic>) {
    let blocks: Vec<&CheckedBlock> = checked
        .blocks
        .iter()
        .filter(|b| b.spec.kind == "mount")
        .collect();
    if blocks.is_empty() {
        return;
    }
    for b in &blocks {
        if let Err(d) = host_of(b, world) {
            errors.push(d);
        }
    }
    if blocks.len() > 1 {
        errors.push(refuse(
            blocks[1],
            format!(
                "a second mount `{}`: a scenario mounts one file system",
                blocks[1].name
            ),
            "put each mount in a scenario of its own",
        ));
    }
    for t in &checked.schedule {
        for a in &t.actions {
            let verb = match a {
                CheckedAction::Fault(ActionKind::Disk { .. }) => continue,
                CheckedAction::Fault(k) => k.verb(),
                CheckedAction::Load { .. } => "load",
            };
            errors.push(
                Diagnostic::at(
                    &t.file,
                    t.span,
                    format!("`{verb}` in a scenario with a mount: only disk faults reach a mount"),
                )
                .hint(if verb == "crash" {
                    "native crashtest crashes the stack at every operation of the program (or at `points` of them); remove the line"
                } else {
                    "use `disk HOST FAULT` lines (full, fail-fsync, errors(1%), slow(5ms), ...), or remove the line"
                }),
            );
        }
    }
}

/// The one host `b` is on and its disk's index in `world.disks`.
fn host_of(b: &CheckedBlock, world: &WorldConfig) -> Result<(u32, usize), Diagnostic> {
    let id = match b.placement.as_slice() {
        [one] => world
            .hosts
            .iter()
            .position(|h| h.name == *one)
            .map(|i| i as u32),
        [] if world.disks.len() == 1 => Some(world.disks[0].0),
        [] => {
            return Err(refuse(
                b,
                format!(
                    "mount `{}` is not placed and the scenario has {} disks",
                    b.name,
                    world.disks.len()
                ),
                if world.disks.is_empty() {
                    "add a disk: `disk d { model ssd  capacity 64MiB }`"
                } else {
                    "place the mount on the host whose disk it uses: `on HOST`"
                },
            ));
        }
        _ => {
            return Err(refuse(
                b,
                format!(
                    "mount `{}` is placed on {} hosts: a mount is on one",
                    b.name,
                    b.placement.len()
                ),
                "name one host: `on db`",
            ));
        }
    };
    let Some(id) = id else {
        return Err(refuse(
            b,
            format!("mount `{}`: no such host", b.name),
            "declare it: `host db { }`",
        ));
    };
    match world.disks.iter().position(|(h, _)| *h == id) {
        Some(d) => Ok((id, d)),
        None => Err(refuse(
            b,
            format!(
                "mount `{}` is on host `{}`, which has no disk",
                b.name, world.hosts[id as usize].name
            ),
            "place a `disk` block on it: `disk d { on HOST  model ssd  capacity 64MiB }`",
        )),
    }
}

/// Whether `targets` hits host `id`.
fn hits(targets: &Targets, id: u32) -> bool {
    match targets {
        Targets::Nodes(ids) => ids.contains(&id),
        Targets::All => true,
        _ => false,
    }
}

/// The scenario's mount, configured for `seed` (which fixes the instants of `every` lines).
/// `None` when it has no `mount` block.
pub fn mount(checked: &Checked, seed: u64) -> Result<Option<MountConfig>, Vec<Diagnostic>> {
    let Some(b) = checked.blocks.iter().find(|b| b.spec.kind == "mount") else {
        return Ok(None);
    };
    let wired = crate::wire::wire(checked, seed)?;
    let world = &wired.world;
    let (id, disk) = host_of(b, world).map_err(|d| vec![d])?;
    // The plan's disk changes on this host, with each `during`'s end lifting its fault.
    // `active` holds the faults in force, by plan index: an undo lifts every fault and puts
    // back the others.
    let mut faults: Vec<DiskChange> = Vec::new();
    let mut active: Vec<(usize, DiskFault)> = Vec::new();
    for (i, (at, f)) in world.plan.iter().enumerate() {
        let fault = match f {
            Fault::Disk(t, d) if hits(t, id) => Some(d.clone()),
            Fault::DiskSlow(t, d) if hits(t, id) => d.clone().map(DiskFault::Slow),
            Fault::Undo(j) if active.iter().any(|(k, _)| k == j) => {
                active.retain(|(k, _)| k != j);
                faults.push((*at, None));
                faults.extend(active.iter().map(|(_, d)| (*at, Some(d.clone()))));
                continue;
            }
            _ => continue,
        };
        match fault {
            Some(d) => {
                active.push((i, d.clone()));
                faults.push((*at, Some(d)));
            }
            None => faults.push((*at, None)),
        }
    }
    Ok(Some(MountConfig {
        name: b.name.clone(),
        host: world.hosts[id as usize].name.clone(),
        device: world.disks[disk].1.device.clone(),
        setup: b.text("setup").map(str::to_string),
        program: b.text("program").unwrap_or_default().to_string(),
        check: b.text("check").unwrap_or_default().to_string(),
        points: b.count("points"),
        timeout: b.duration("timeout").unwrap_or(SimDuration::from_secs(60)),
        latency: b.choice("latency") != Some("none"),
        faults,
    }))
}

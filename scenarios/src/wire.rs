//! A checked scenario to the models' configurations: the one place that knows which model a
//! block kind belongs to and how its typed properties map onto that model's config.
//!
//! The schedule is expanded here too: `every` becomes concrete instants (with jitter drawn from
//! the stream `scenario.schedule.N` of the N-th schedule line, so a seed fixes them and one line's
//! jitter never shifts another's), `during` becomes a change and, at its end, a return to the
//! value that was in force when it began (so `at 10s load a rate 2/s` followed by
//! `during 20s..30s load a rate 5/s` is back at 2/s at 30s).

use models::queueing::{QNetConfig, Route, SourceChange, SourceConfig, StationConfig, Target};
use models::world::WorldConfig;
use models::world::host::HostConfig;
use simcore::rng::RngStream;
use simcore::{Dist, SimDuration, SimTime};

use crate::ast::When;
use crate::check::{Checked, CheckedAction, CheckedBlock, CheckedTimed, Typed};
use crate::diag::Diagnostic;

/// The most instants one `every` may expand to.
pub const MAX_OCCURRENCES: usize = 1_000_000;

/// The most changes a whole schedule may expand to (every line, every action).
pub const MAX_CHANGES: usize = 1_000_000;

/// A component that keeps a run going forever, for the "the run would never end" error.
#[derive(Debug, Clone)]
pub struct Endless {
    pub file: String,
    pub span: crate::ast::Span,
    pub message: &'static str,
    pub hint: &'static str,
}

/// A scenario, configured.
#[derive(Debug, Clone)]
pub struct Wired {
    pub world: WorldConfig,
    /// What never stops, if anything (a source without `customers`, a Raft cluster's timers):
    /// the run then needs a duration, `--until` or an event limit.
    pub endless: Option<Endless>,
}

fn route(t: Option<&Typed>, default_exit: bool) -> Route {
    match t {
        Some(Typed::Weighted(list)) => Route(
            list.iter()
                .map(|(name, w)| {
                    let target = if name == "exit" {
                        Target::Exit
                    } else {
                        Target::Station(name.clone())
                    };
                    (target, *w)
                })
                .collect(),
        ),
        _ => {
            debug_assert!(default_exit, "a required route is present after checking");
            Route::to(Target::Exit)
        }
    }
}

/// Whether draws from `d` move time forward: a mean of at least one nanosecond (or no finite
/// mean at all, as for a heavy-tailed Pareto).
fn advances(d: &Dist) -> bool {
    d.mean().is_none_or(|m| m >= 1.0)
}

/// The interarrival distribution a source's `rate` or `interarrival` gives.
fn interarrival(t: &Typed) -> Option<Dist> {
    match t {
        Typed::Rate(per_sec) => Dist::exponential(1e9 / per_sec).ok(),
        Typed::Dist(d) => Some(d.clone()),
        _ => None,
    }
}

/// The instants at which a `When` fires, within `end` (the scenario's duration, if any).
pub fn instants(
    when: &When,
    end: Option<SimDuration>,
    rng: &mut RngStream,
) -> Result<Vec<SimDuration>, String> {
    match *when {
        When::At(t) => Ok(vec![t]),
        When::During { from, to } => Ok(vec![from, to]),
        When::Every { min, max, from, to } => {
            let last = match (to, end) {
                (Some(t), Some(e)) => t.min(e),
                (Some(t), None) => t,
                (None, Some(e)) => e,
                (None, None) => return Err("`every` needs `to` or a scenario duration".into()),
            };
            let draw = |rng: &mut RngStream| {
                if min == max {
                    min
                } else {
                    let span = max.as_nanos() - min.as_nanos();
                    SimDuration::from_nanos(min.as_nanos() + rng.below(span.saturating_add(1)))
                }
            };
            let mut t = match from {
                Some(f) => f,
                None => draw(rng),
            };
            let mut out = Vec::new();
            while t <= last {
                if out.len() == MAX_OCCURRENCES {
                    return Err(format!(
                        "`every` fires more than {MAX_OCCURRENCES} times; lengthen the period"
                    ));
                }
                out.push(t);
                t = match t.checked_add(draw(rng)) {
                    Some(n) => n,
                    None => break,
                };
            }
            Ok(out)
        }
    }
}

/// Each schedule line with the instants it fires at; a line that cannot expand (an `every`
/// without an end, or too many firings) becomes an error and is skipped. Each line draws its
/// jitter from its own stream, `scenario.schedule.N`, so one `every` never shifts another's.
pub fn schedule_lines<'a>(
    checked: &'a Checked,
    seed: u64,
    errors: &mut Vec<Diagnostic>,
) -> Vec<(&'a CheckedTimed, Vec<SimDuration>)> {
    let mut out = Vec::with_capacity(checked.schedule.len());
    for (i, t) in checked.schedule.iter().enumerate() {
        let mut rng = RngStream::derive(seed, &format!("scenario.schedule.{i}"));
        match instants(&t.when, checked.duration, &mut rng) {
            Ok(times) => out.push((t, times)),
            Err(e) => errors.push(Diagnostic::at(&t.file, t.span, e)),
        }
    }
    out
}

/// One step of a schedule, expanded: an action, or the end of the `during` window of the
/// action at `place` in the expanded list (what undoing it means is the model's business).
#[derive(Debug, Clone, PartialEq)]
pub enum Step<T> {
    Do(T),
    Undo(usize),
}

/// What `during` windows must not overlap on (one verb, one component), as a diagnostic names
/// it, and why.
pub struct Window {
    /// `` `crash` window``, ``on `arrivals` ``.
    pub what: String,
    pub hint: &'static str,
}

/// The schedule expanded, the one place that does it for every model: each line fires at its
/// instants (`every` jittered from the line's own stream), each `during` becomes its action and,
/// at its end, an undo naming that action's place; sorted by time, undos before actions at one
/// instant (so `at 30s` after a window ending at 30s wins), then as written. `convert` turns an
/// action into the model's step and names the window it must not overlap, passes over an
/// action that is another model's (`None`), or says why it cannot; problems become
/// diagnostics at their lines.
pub fn plan<T: Clone>(
    checked: &Checked,
    seed: u64,
    errors: &mut Vec<Diagnostic>,
    mut convert: impl FnMut(&CheckedAction) -> Result<Option<(T, Window)>, String>,
) -> Vec<(SimTime, Step<T>)> {
    let mut steps: Vec<(SimDuration, usize, Step<T>)> = Vec::new();
    let mut written = 0usize;
    let mut windows: Vec<(String, SimDuration, SimDuration)> = Vec::new();
    for (t, times) in schedule_lines(checked, seed, errors) {
        for a in &t.actions {
            let (step, window) = match convert(a) {
                Ok(Some(x)) => x,
                Ok(None) => continue,
                Err(msg) => {
                    errors.push(Diagnostic::at(&t.file, t.span, msg));
                    continue;
                }
            };
            if steps.len() + times.len() > MAX_CHANGES {
                errors.push(
                    Diagnostic::at(
                        &t.file,
                        t.span,
                        format!("the schedule expands to more than {MAX_CHANGES} changes"),
                    )
                    .hint("lengthen the `every` periods"),
                );
                continue;
            }
            match t.when {
                When::During { from, to } => {
                    if let Some((_, a, b)) = windows
                        .iter()
                        .find(|(w, a, b)| *w == window.what && from < *b && *a < to)
                    {
                        errors.push(
                            Diagnostic::at(
                                &t.file,
                                t.span,
                                format!(
                                    "this `during` overlaps another {} ({a}..{b})",
                                    window.what
                                ),
                            )
                            .hint(window.hint),
                        );
                        continue;
                    }
                    windows.push((window.what, from, to));
                    let k = written;
                    written += 1;
                    steps.push((from, k, Step::Do(step)));
                    steps.push((to, k, Step::Undo(k)));
                }
                _ => {
                    for &at in &times {
                        steps.push((at, written, Step::Do(step.clone())));
                        written += 1;
                    }
                }
            }
        }
    }
    steps.sort_by_key(|(at, order, step)| (*at, matches!(step, Step::Do(_)), *order));
    // Actions keep their place in the sorted list; an undo names the place of its action.
    let mut place = vec![usize::MAX; written];
    let mut out = Vec::with_capacity(steps.len());
    for (at, order, step) in steps {
        let at = SimTime::from_nanos(at.as_nanos());
        match step {
            Step::Do(x) => {
                if order < place.len() {
                    place[order] = out.len();
                }
                out.push((at, Step::Do(x)));
            }
            Step::Undo(k) => out.push((at, Step::Undo(place[k]))),
        }
    }
    out
}

/// A disk fault other than `slow` acts on a modelled disk: every host it can hit must have one
/// (a `disk` block placed on it), or the fault would silently do nothing.
fn refuse_disk_faults_without_disks(
    checked: &Checked,
    world: &WorldConfig,
    errors: &mut Vec<Diagnostic>,
) {
    let bare = (0..world.fault_domain).find(|h| !world.disks.iter().any(|(d, _)| d == h));
    let Some(bare) = bare else { return };
    let uses = world
        .plan
        .iter()
        .any(|(_, f)| matches!(f, models::world::faults::Fault::Disk(..)));
    if !uses {
        return;
    }
    let line = checked.schedule.iter().find(|t| {
        t.actions.iter().any(|a| {
            matches!(a, CheckedAction::Fault(crate::check::ActionKind::Disk { fault, .. })
                if !matches!(&fault.kind, crate::ast::ValueKind::Call { name, .. } if name == "slow"))
        })
    });
    let name = world
        .hosts
        .get(bare as usize)
        .map_or("?", |h| h.name.as_str());
    let message = format!("this disk fault needs a modelled disk, and host `{name}` has none");
    let hint = "place a `disk` block on every host the fault can hit (`disk d { on HOSTS }`); only `slow` works on a bare fsync latency";
    errors.push(match line {
        Some(t) => Diagnostic::at(&t.file, t.span, message).hint(hint),
        None => Diagnostic::at(&checked.blocks[0].file, checked.blocks[0].span, message).hint(hint),
    });
}

/// Each host's zone and region, by host id, for the network's links across zones.
fn place_in_zones(checked: &Checked, world: &mut WorldConfig) {
    let zones = crate::wire_raft::zone_hosts(checked);
    if zones.is_empty() {
        return;
    }
    let mut regions: Vec<&str> = Vec::new();
    let mut place = vec![None; world.hosts.len()];
    for (z, (zone, hosts)) in zones.iter().enumerate() {
        let region = checked
            .blocks
            .iter()
            .find(|b| b.spec.kind == models::world::schema::ZONE && b.name == *zone)
            .and_then(|b| b.text("region"))
            .unwrap_or("");
        let r = match regions.iter().position(|x| *x == region) {
            Some(r) => r,
            None => {
                regions.push(region);
                regions.len() - 1
            }
        };
        for h in hosts {
            if let Some(i) = world.hosts.iter().position(|x| x.name == *h) {
                place[i] = Some((z as u32, r as u32));
            }
        }
    }
    world.network.zones = place;
}

/// Builds the world from a checked scenario, with `seed` fixing the jitter of `every`: its
/// hosts (a Raft cluster's servers and clients first, then the hosts the scenario declares, or
/// implicit ones), the network, the services placed on them, the fault plan and the checks.
pub fn wire(checked: &Checked, seed: u64) -> Result<Wired, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let has = |kind: &str| checked.blocks.iter().any(|b| b.spec.kind == kind);
    let mut world = if has("raft") {
        crate::wire_raft::wire_raft(checked, seed)?
    } else {
        WorldConfig {
            seed,
            hosts: Vec::new(),
            network: crate::wire_raft::network_config(checked),
            fault_domain: 0,
            plan: Vec::new(),
            liveness: Vec::new(),
            raft: None,
            qnet: None,
            cpus: Vec::new(),
            disks: Vec::new(),
            io: Vec::new(),
            stores: Vec::new(),
            replays: Vec::new(),
            cloud: None,
        }
    };
    // The hosts the scenario declares, after the cluster's; without any, a `cpu` block's
    // machine is a host of its own.
    let fsync = |b: Option<&CheckedBlock>| b.and_then(|b| b.dist("fsync")).cloned();
    let default_fsync = world
        .hosts
        .first()
        .map(|h| h.fsync.clone())
        .unwrap_or(Dist::Constant { value: 0.0 });
    for h in &checked.hosts {
        let block = checked.blocks.get(h.block);
        match world.hosts.iter_mut().find(|x| x.name == h.name) {
            Some(x) => {
                if let Some(d) = fsync(block) {
                    x.fsync = d;
                }
            }
            None => world.hosts.push(HostConfig {
                name: h.name.clone(),
                fsync: fsync(block).unwrap_or_else(|| default_fsync.clone()),
            }),
        }
    }
    let host_id = |world: &WorldConfig, name: &str| {
        world
            .hosts
            .iter()
            .position(|h| h.name == name)
            .map(|i| i as u32)
    };
    crate::wire_disk::wire_disks(checked, &mut world, &mut errors);
    crate::wire_cache::wire_caches(checked, &mut world, seed, &mut errors);
    let cloud_endless = crate::wire_cloud::wire_cloud(checked, &mut world, seed, &mut errors);
    if world.raft.is_none() {
        // Without a cluster, faults target the declared hosts.
        world.fault_domain = world.hosts.len() as u32;
        let names: Vec<String> = world.hosts.iter().map(|h| h.name.clone()).collect();
        world.plan = crate::wire_raft::schedule(checked, &names, None, seed, &mut errors);
    }
    refuse_disk_faults_without_disks(checked, &world, &mut errors);
    crate::wire_mount::check_mounts(checked, &world, &mut errors);
    // CPUs: a `cpu` block's machine (with the unplaced jobs), and each declared host that runs
    // jobs or a service's work.
    if let Some(cpu) = checked.blocks.iter().find(|b| b.spec.kind == "cpu") {
        let config = crate::wire_cpu::wire_cpu(checked, seed)?;
        let id = match host_id(&world, &cpu.name) {
            Some(id) => id,
            None => {
                world.hosts.push(HostConfig {
                    name: cpu.name.clone(),
                    fsync: default_fsync.clone(),
                });
                world.hosts.len() as u32 - 1
            }
        };
        world.cpus.push((id, config));
    }
    let computes = world
        .raft
        .as_ref()
        .is_some_and(|r| r.cpu_per_message > SimDuration::ZERO);
    for h in &checked.hosts {
        let Some(block) = checked.blocks.get(h.block) else {
            continue;
        };
        let on_it = |b: &CheckedBlock| b.placement.iter().any(|p| *p == h.name);
        let jobs = checked
            .blocks
            .iter()
            .any(|b| matches!(b.spec.kind, "job" | "jobs") && on_it(b));
        let serves = computes
            && checked
                .blocks
                .iter()
                .any(|b| b.spec.kind == "raft" && on_it(b));
        if !jobs && !serves {
            continue;
        }
        match crate::wire_cpu::machine(checked, block, on_it, false, seed) {
            Ok(mut config) => {
                config.name = h.name.clone();
                if let Some(id) = host_id(&world, &h.name) {
                    world.cpus.push((id, config));
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    // Queueing stations and sources, on their hosts.
    let mut endless = cloud_endless;
    if has("station") || has("source") {
        let (mut qnet, e) = wire_qnet(checked, seed, &mut errors);
        endless = endless.or(e);
        for b in &checked.blocks {
            let host = b.placement.first().and_then(|n| host_id(&world, n));
            match b.spec.kind {
                "station" => qnet.placement.stations.push(host),
                "source" => qnet.placement.sources.push(host),
                _ => {}
            }
        }
        world.qnet = Some(qnet);
    }
    if let Some(b) = checked.blocks.iter().find(|b| b.spec.kind == "raft") {
        endless = Some(Endless {
            file: b.file.to_string(),
            span: b.span,
            message: "a Raft cluster runs forever (its timers never stop) and the scenario has no duration, so the run would never end",
            hint: "add `duration 30s` to the scenario (or pass --until)",
        });
    }
    place_in_zones(checked, &mut world);
    if errors.is_empty() {
        Ok(Wired { world, endless })
    } else {
        Err(errors)
    }
}

/// A plan of changes to components' values played forward into the value each change sets:
/// a `during`'s end returns its component to the value in force when it began (the one
/// `original` gives for a component not changed before). Returns (time, component, value).
pub fn play_forward<V: Clone>(
    steps: Vec<(SimTime, Step<(String, V)>)>,
    original: impl Fn(&str) -> Option<V>,
) -> Vec<(SimTime, String, V)> {
    let mut current: Vec<(String, V)> = Vec::new();
    // Per place in `steps`: the value its action replaced, for its undo.
    let mut saved: Vec<Option<(String, V)>> = vec![None; steps.len()];
    let mut out = Vec::new();
    for (i, (at, step)) in steps.into_iter().enumerate() {
        let (component, next) = match step {
            Step::Do((component, v)) => {
                let before = match current.iter().find(|(c, _)| *c == component) {
                    Some((_, v)) => Some(v.clone()),
                    None => original(&component),
                };
                saved[i] = before.map(|b| (component.clone(), b));
                (component, v)
            }
            Step::Undo(j) => match saved.get_mut(j).and_then(Option::take) {
                Some(s) => s,
                None => continue,
            },
        };
        match current.iter_mut().find(|(c, _)| *c == component) {
            Some(slot) => slot.1 = next.clone(),
            None => current.push((component.clone(), next.clone())),
        }
        out.push((at, component, next));
    }
    out
}

/// The queueing network's stations and sources (unplaced: the caller places them), its source
/// changes from the schedule, and the source that never stops, if any.
fn wire_qnet(
    checked: &Checked,
    seed: u64,
    errors: &mut Vec<Diagnostic>,
) -> (QNetConfig, Option<Endless>) {
    let mut qnet = QNetConfig::default();
    let mut endless = None;
    for b in &checked.blocks {
        match b.spec.kind {
            "source" => {
                let ia = b
                    .get("rate")
                    .or(b.get("interarrival"))
                    .and_then(interarrival);
                let Some(ia) = ia.filter(advances) else {
                    let span = b
                        .props
                        .get("rate")
                        .or(b.props.get("interarrival"))
                        .map_or(b.span, |p| p.1);
                    errors.push(
                        Diagnostic::at(&b.file, span, "these interarrival times are zero on average, so simulated time would stand still")
                            .hint("give a positive mean, such as exp(1s) or rate 10/s"),
                    );
                    continue;
                };
                let customers = match b.get("customers") {
                    Some(Typed::Count(n)) => Some(*n),
                    _ => None,
                };
                if customers.is_none() && endless.is_none() {
                    endless = Some(Endless {
                        file: b.file.to_string(),
                        span: b.span,
                        message: "this source never stops and the scenario has no duration, so the run would never end",
                        hint: "add `customers N` to the source or `duration 10s` to the scenario (or pass --until)",
                    });
                }
                qnet.timeouts.push(b.duration("timeout"));
                qnet.sources.push(SourceConfig {
                    name: b.name.clone(),
                    interarrival: ia,
                    customers,
                    route: route(b.get("to"), false),
                });
            }
            "station" => {
                let servers = match b.get("servers") {
                    Some(Typed::Count(n)) => u32::try_from(*n).unwrap_or(u32::MAX),
                    _ => 1,
                };
                let Some(Typed::Dist(service)) = b.get("service") else {
                    unreachable!("service is required and typed by the checker");
                };
                qnet.stations.push(StationConfig {
                    name: b.name.clone(),
                    servers,
                    service: service.clone(),
                    route: route(b.get("to"), true),
                    queue_limit: match b.get("queue_limit") {
                        Some(Typed::Count(n)) => Some(*n),
                        _ => None,
                    },
                });
            }
            _ => {}
        }
    }
    let is_source = |name: &str| {
        checked
            .blocks
            .iter()
            .any(|b| b.spec.kind == "source" && b.name == name)
    };
    // Source changes: a `during` returns to the value in force when it began, played forward
    // here into concrete values. Other actions are other models'.
    let steps = plan(checked, seed, errors, |a| match a {
        CheckedAction::Load {
            component, value, ..
        } if is_source(component) => {
            let dist = interarrival(value).filter(advances).ok_or(
                "this load makes interarrival times zero on average, so simulated time would stand still",
            )?;
            let window = Window {
                what: format!("on `{component}`"),
                hint: "windows on one component must not overlap: what to return to at the end would be ambiguous",
            };
            Ok(Some(((component.clone(), dist), window)))
        }
        _ => Ok(None),
    });
    for (at, source, interarrival) in
        play_forward(steps, |s| original_interarrival(&checked.blocks, s))
    {
        qnet.changes.push(SourceChange {
            at,
            source,
            interarrival,
        });
    }
    (qnet, endless)
}

fn original_interarrival(blocks: &[CheckedBlock], name: &str) -> Option<Dist> {
    let b = blocks.iter().find(|b| b.name == name)?;
    b.get("rate")
        .or(b.get("interarrival"))
        .and_then(interarrival)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> SimDuration {
        SimDuration::from_secs(secs)
    }

    #[test]
    fn every_fires_from_its_start_within_its_bounds_with_seeded_jitter() {
        let when = When::Every {
            min: s(2),
            max: s(4),
            from: Some(s(20)),
            to: Some(s(40)),
        };
        let times = instants(&when, Some(s(60)), &mut RngStream::derive(1, "x")).unwrap();
        assert_eq!(times[0], s(20), "the first firing is at `from`");
        assert!(*times.last().unwrap() <= s(40));
        for w in times.windows(2) {
            let gap = w[1].as_nanos() - w[0].as_nanos();
            assert!(
                (s(2).as_nanos()..=s(4).as_nanos()).contains(&gap),
                "gap {gap}"
            );
        }
        // 20s of 2..4s gaps: between 5 and 10 more firings after the first.
        assert!((6..=11).contains(&times.len()), "{times:?}");
        let again = instants(&when, Some(s(60)), &mut RngStream::derive(1, "x")).unwrap();
        assert_eq!(times, again, "the same seed, the same instants");
        let other = instants(&when, Some(s(60)), &mut RngStream::derive(2, "x")).unwrap();
        assert_ne!(times, other, "another seed, other jitter");
    }

    #[test]
    fn every_without_bounds_runs_from_one_period_to_the_end() {
        let when = When::Every {
            min: s(10),
            max: s(10),
            from: None,
            to: None,
        };
        let times = instants(&when, Some(s(35)), &mut RngStream::derive(0, "x")).unwrap();
        assert_eq!(times, [s(10), s(20), s(30)]);
        assert!(instants(&when, None, &mut RngStream::derive(0, "x")).is_err());
        let tiny = When::Every {
            min: SimDuration::from_nanos(1),
            max: SimDuration::from_nanos(1),
            from: None,
            to: None,
        };
        let err = instants(&tiny, Some(s(1)), &mut RngStream::derive(0, "x")).unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn during_returns_to_the_value_in_force_when_it_began() {
        let text = r#"scenario "w" {
  duration 60s
  source a { rate 1/s  to s }
  station s { service exp(1s) }
  during 20s..30s load a rate 5/s
  at 10s load a rate 2/s
}"#;
        let scenario = crate::parse::parse("w.scn", text).unwrap();
        let checked = crate::check::check(&scenario).unwrap();
        let wired = wire(&checked, 0).unwrap();
        let qnet = wired.world.qnet.expect("the stations' network");
        let got: Vec<(u64, f64)> = qnet
            .changes
            .iter()
            .map(|c| {
                (
                    c.at.as_nanos() / 1_000_000_000,
                    c.interarrival.mean().unwrap() / 1e9,
                )
            })
            .collect();
        assert_eq!(got, [(10, 0.5), (20, 0.2), (30, 0.5)]);
    }
}

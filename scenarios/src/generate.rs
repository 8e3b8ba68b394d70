//! Fault schedules drawn from the seed: a `nemesis` block expanded into the `during` lines it
//! stands for, before a run is checked and wired, so a generated fault goes through exactly the
//! machinery of a written one (its targets drawn by the fault plan, its window's end undoing it).
//!
//! Faults come one after another (a quiet time drawn from `every`, then a fault lasting a time
//! drawn from `length`), so no two windows overlap. Each fault's verb is drawn from the verbs
//! switched on: with `swarm`, each seed switches each listed verb on with even odds and keeps at
//! least one (swarm testing, Groce et al., ISSTA 2012: runs with few kinds of faults find bugs
//! that a steady mix of all of them hides). Everything is drawn from the seed's own stream
//! (`nemesis.NAME`), so a run is replayed by its seed, and [`expand`]'s lines, printed, are a
//! scenario without the block that runs the same faults (`sim shrink` starts from them).

use models::raft::schema::SHAPES;
use models::world::schema::NEMESIS;
use simcore::{RngStream, SimDuration};

use crate::ast::{Scenario, Span, Timed};
use crate::check::{CheckedBlock, Typed};
use crate::diag::Diagnostic;

/// The most faults one block draws.
pub const FAULTS_MAX: u64 = 10_000;

/// The verbs a nemesis draws from.
pub const VERBS: &[&str] = &["partition", "crash", "pause", "clock"];

/// The partition shapes it draws (those every cluster of three or more servers can take).
const DRAWN_SHAPES: &[&str] = &["halves", "one", "majorities-ring", "bridge"];

/// `scenario` with each `nemesis` block replaced by the `during` lines it draws for `seed`, or
/// `None` when it has none (the scenario runs as written).
pub fn expand(scenario: &Scenario, seed: u64) -> Result<Option<Scenario>, Vec<Diagnostic>> {
    if !scenario.blocks.iter().any(|b| b.kind.text == NEMESIS) {
        return Ok(None);
    }
    let checked = crate::check::check(scenario)?;
    let mut out = scenario.clone();
    out.blocks.retain(|b| b.kind.text != NEMESIS);
    let mut errors = Vec::new();
    for b in checked.blocks.iter().filter(|b| b.spec.kind == NEMESIS) {
        match lines(b, checked.duration, seed).and_then(|l| parsed(b, &l)) {
            Ok(items) => out.schedule.extend(items),
            Err(d) => errors.push(d),
        }
    }
    if errors.is_empty() {
        Ok(Some(out))
    } else {
        Err(errors)
    }
}

/// The `during` lines `b` draws for `seed`, as the scenario language writes them.
pub fn lines(
    b: &CheckedBlock,
    duration: Option<SimDuration>,
    seed: u64,
) -> Result<Vec<String>, Diagnostic> {
    let verbs: Vec<&str> = b
        .text("verbs")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if verbs.is_empty() {
        return Err(b.error_at(
            "verbs",
            format!("nemesis `{}` has no verbs", b.name),
            "list some: verbs \"partition, crash, pause, clock\"",
        ));
    }
    if let Some(bad) = verbs.iter().find(|v| !VERBS.contains(v)) {
        return Err(b.error_at(
            "verbs",
            format!("nemesis `{}`: `{bad}` is not a verb it draws", b.name),
            &format!("one of {}", VERBS.join(", ")),
        ));
    }
    // Everything is drawn in whole microseconds, the resolution the lines are written in.
    let range = |prop: &str, lo: u64, hi: u64| match b.get(prop) {
        Some(Typed::DurationRange(a, z)) => (a.as_nanos() / 1_000, z.as_nanos() / 1_000),
        _ => (lo, hi),
    };
    let every = range("every", 1_000_000, 5_000_000);
    let length = range("length", 500_000, 3_000_000);
    let from = b.duration("from").map_or(0, |d| d.as_nanos() / 1_000);
    let Some(until) = b
        .duration("until")
        .or(duration)
        .map(|d| d.as_nanos() / 1_000)
    else {
        return Err(b.error_at(
            "until",
            format!(
                "nemesis `{}` has no end: the scenario has no duration and the block no `until`",
                b.name
            ),
            "add `until 30s` to the block, or `duration 30s` to the scenario",
        ));
    };
    if length.1 == 0 {
        return Err(b.error_at(
            "length",
            format!("nemesis `{}`: faults shorter than 1us do nothing", b.name),
            "give a length such as 500ms..3s",
        ));
    }
    let skew = b
        .duration("skew")
        .map_or(200_000, |d| d.as_nanos() / 1_000)
        .max(1);
    let swarm = !matches!(b.get("swarm"), Some(Typed::Bool(false)));
    let mut rng = RngStream::derive(seed, &format!("nemesis.{}", b.name));
    let mut on: Vec<&str> = if swarm {
        verbs
            .iter()
            .copied()
            .filter(|_| rng.below(2) == 1)
            .collect()
    } else {
        verbs.clone()
    };
    if on.is_empty() {
        on.push(verbs[rng.below(verbs.len() as u64) as usize]);
    }
    let draw = |rng: &mut RngStream, (lo, hi): (u64, u64)| lo + rng.below(hi - lo + 1);
    let mut out = Vec::new();
    let mut t = from + draw(&mut rng, every);
    while t < until {
        if out.len() as u64 == FAULTS_MAX {
            return Err(b.error_at(
                "every",
                format!(
                    "nemesis `{}` drew {FAULTS_MAX} faults before the end of its window: its quiet times and lengths are too short",
                    b.name
                ),
                "make `every` or `length` longer (say every 1s..5s), or the window shorter",
            ));
        }
        let end = (t + draw(&mut rng, length).max(1)).min(until);
        let action = match on[rng.below(on.len() as u64) as usize] {
            "partition" => format!(
                "partition {}",
                DRAWN_SHAPES[rng.below(DRAWN_SHAPES.len() as u64) as usize]
            ),
            "clock" => format!("clock skew random-node by {}", time(1 + rng.below(skew))),
            verb => format!("{verb} random-node"),
        };
        out.push(format!("during {}..{} {action}", time(t), time(end)));
        t = end + draw(&mut rng, every);
    }
    debug_assert!(SHAPES.iter().all(|s| !s.is_empty()));
    Ok(out)
}

/// A time in microseconds as the scenario language writes it.
fn time(us: u64) -> String {
    if us % 1_000_000 == 0 {
        format!("{}s", us / 1_000_000)
    } else if us % 1_000 == 0 {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}

/// `lines` parsed as schedule items placed at the block (a problem with one points there).
fn parsed(b: &CheckedBlock, lines: &[String]) -> Result<Vec<Timed>, Diagnostic> {
    let text = format!("scenario \"nemesis\" {{\n  {}\n}}\n", lines.join("\n  "));
    let parsed = crate::parse::parse(&b.file, &text).map_err(|d| {
        let first = d
            .into_iter()
            .next()
            .map(|d| d.to_string())
            .unwrap_or_default();
        Diagnostic::at(
            &b.file,
            b.span,
            format!(
                "nemesis `{}` drew a line that does not parse: {first}",
                b.name
            ),
        )
    })?;
    let at = |_: Span| b.span;
    Ok(parsed
        .schedule
        .into_iter()
        .map(|mut t| {
            t.file = b.file.clone();
            t.span = at(t.span);
            for a in &mut t.actions {
                a.span = b.span;
                a.verb.span = b.span;
                for v in &mut a.args {
                    v.span = b.span;
                }
            }
            t
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(nemesis: &str) -> Scenario {
        let text = format!(
            "scenario \"n\" {{\n  seed 1\n  duration 30s\n  raft cluster {{ nodes n1..n5 }}\n  load clients {{ rate 50/s }}\n  nemesis chaos {{ {nemesis} }}\n}}\n"
        );
        crate::parse::parse("n.scn", &text).unwrap()
    }

    fn drawn(s: &Scenario, seed: u64) -> Vec<Timed> {
        let e = expand(s, seed).unwrap().unwrap();
        assert!(e.blocks.iter().all(|b| b.kind.text != NEMESIS));
        e.schedule
    }

    #[test]
    fn a_seed_draws_one_schedule_and_another_seed_another() {
        let s = scenario("verbs \"partition, crash, pause, clock\"");
        assert_eq!(drawn(&s, 7), drawn(&s, 7));
        assert_ne!(drawn(&s, 7), drawn(&s, 8));
        assert!(expand(&scenario("verbs \"crash\"").clone(), 1).is_ok());
        let none = crate::parse::parse("x.scn", "scenario \"x\" { }\n").unwrap();
        assert_eq!(expand(&none, 1).unwrap(), None);
    }

    #[test]
    fn faults_follow_one_another_inside_the_window() {
        let s = scenario("verbs \"crash, pause\"  every 1s..2s  length 1s..1s  from 5s  until 20s");
        let items = drawn(&s, 3);
        assert!(items.len() >= 4 && items.len() <= 8, "{}", items.len());
        let mut last_end = 5_000_000_000;
        for t in &items {
            let crate::ast::When::During { from: a, to: z } = &t.when else {
                panic!("{t:?}");
            };
            assert!(
                a.as_nanos() >= last_end + 1_000_000_000,
                "a quiet second first"
            );
            assert!(z.as_nanos() <= 20_000_000_000);
            last_end = z.as_nanos();
        }
    }

    #[test]
    fn swarm_switches_verbs_off_per_seed_and_keeps_one() {
        let s = scenario("verbs \"partition, crash, pause, clock\"  every 100ms..200ms");
        let kinds = |seed| {
            drawn(&s, seed)
                .iter()
                .map(|t| t.actions[0].verb.text.clone())
                .collect::<std::collections::BTreeSet<_>>()
        };
        let sets: Vec<_> = (1..=20).map(kinds).collect();
        assert!(sets.iter().all(|k| !k.is_empty()));
        assert!(
            sets.iter().any(|k| k.len() < 4),
            "some seed switched a verb off"
        );
        assert!(sets.iter().any(|k| k.len() >= 3));
        let all =
            scenario("verbs \"partition, crash, pause, clock\"  every 100ms..200ms  swarm false");
        assert_eq!(
            drawn(&all, 1)
                .iter()
                .map(|t| t.actions[0].verb.text.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            4
        );
    }

    #[test]
    fn bad_blocks_are_located_errors() {
        for (props, want) in [
            ("verbs \"crash, meteor\"", "`meteor` is not a verb"),
            ("verbs \" , \"", "has no verbs"),
            ("verbs \"crash\"  length 0s", "shorter than 1us"),
            (
                "verbs \"crash\"  every 0s..0s  length 1us..1us",
                "drew 10000 faults",
            ),
        ] {
            let e = expand(&scenario(props), 1).unwrap_err();
            assert!(e[0].message.contains(want), "{props}: {e:?}");
        }
        let endless = crate::parse::parse(
            "e.scn",
            "scenario \"e\" {\n  raft cluster { nodes n1..n3 }\n  nemesis chaos { verbs \"crash\" }\n}\n",
        )
        .unwrap();
        let e = expand(&endless, 1).unwrap_err();
        assert!(e[0].message.contains("has no end"), "{e:?}");
    }
}

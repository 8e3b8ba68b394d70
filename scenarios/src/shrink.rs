//! `sim shrink`: cut a failing run's scenario down to a small one that still fails the same check.
//!
//! The search is delta debugging (Zeller and Hildebrandt's ddmin) over the scenario's parts, then
//! bisection over its numbers, with the seed held fixed:
//!
//! 1. the `expect` lines (those the failure does not need go),
//! 2. the schedule's timed items (`at`, `every` and `during` lines), then the actions within
//!    each line that has several,
//! 3. numbers, each toward smaller values by bisection: the times in the schedule (`at`,
//!    `during`'s ends, `every`'s `from` and `to`), a load's counts and rates (`load`, `client`
//!    and `io` blocks), then the scenario's `duration`.
//!
//! The rounds repeat until one changes nothing (a shorter run may let another line go), within
//! a bound on runs and an optional wall-time budget. A candidate is kept only when it fails the
//! *same* check as the original run (the first violation's check name).
//!
//! The search is sans-IO: [`shrink`] takes the scenario and a closure that runs a candidate's
//! text and says whether it fails the check; [`shrink_run`] supplies one from the runner. Each
//! candidate is judged by its canonical text (`fmt`), parsed again, so what is printed at the end
//! is exactly what was run. Nothing in the search reads the clock: the same input and budget of
//! runs give the same output, byte for byte; only the optional time budget (the `out_of_time`
//! closure) can stop it earlier, and then [`Shrunk::cut`] says so.
//!
//! The search works on a scenario whose schedule is a list of explicit timed items
//! ([`Scenario::schedule`]); a schedule drawn from the seed would be expanded into such items by
//! a step before this one.

use std::collections::BTreeMap;

use crate::ast::{Scenario, Span, Value, ValueKind, When};
use crate::runner::{RunOptions, RunReport, ScenarioError, run_scenario};
use simcore::SimDuration;

/// How many runs a shrink may make unless told otherwise.
pub const DEFAULT_MAX_RUNS: usize = 300;

/// Block kinds whose numbers are the load offered (their integer and rate properties shrink).
const LOAD_KINDS: &[&str] = &["load", "client", "io"];

/// The most rounds of the whole search (each round that changes something may enable another).
const MAX_ROUNDS: usize = 4;

/// One millisecond: the step of the bisection over times (so shrunk times read as whole ms).
const MS: u64 = 1_000_000;

/// What stopped a search before it had tried everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The bound on runs (`--max-runs`).
    Runs,
    /// The wall-time budget (`--time-limit`).
    Time,
}

/// The result of a search: the smallest scenario found that still fails the check.
#[derive(Debug, Clone)]
pub struct Shrunk {
    pub scenario: Scenario,
    /// Its canonical text (with a header comment naming the check and the seed).
    pub text: String,
    /// The runs made (candidates judged, the original's run not counted).
    pub runs: usize,
    /// Why the search stopped early, if it did; the scenario is then the best found so far.
    pub cut: Option<Cut>,
    /// Schedule lines before and after.
    pub schedule: (usize, usize),
    /// Lines of canonical text before and after.
    pub lines: (usize, usize),
}

/// Why a run cannot be shrunk.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("{file}: the run passes at seed {seed}: nothing to shrink")]
    Passes { file: String, seed: u64 },
    #[error(
        "{file}: the scenario's canonical form does not fail `{check}` at seed {seed} as the file does; it cannot be shrunk"
    )]
    NotReproduced {
        file: String,
        check: String,
        seed: u64,
    },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

/// The check a failing run fails by: its first violation's (a model's property such as
/// `election-safety`, or an `expect` line's text).
pub fn failing_check(report: &RunReport) -> Option<&str> {
    report.violations().first().map(|v| v.check.as_str())
}

/// Runs `scenario` (one run, no sweeps) at `seed` with `opts` and, if it fails, shrinks it
/// against the runner: each candidate fails when any of its violations is of the original's
/// check. `on_run` is told of each run (a progress bar).
pub fn shrink_run(
    scenario: &Scenario,
    seed: u64,
    opts: &RunOptions,
    max_runs: usize,
    out_of_time: &mut dyn FnMut() -> bool,
    on_run: &dyn Fn(),
) -> Result<Shrunk, ShrinkError> {
    let opts = RunOptions {
        seed: Some(seed),
        ..opts.clone()
    };
    let report = run_scenario(scenario, &opts)?;
    let Some(check) = failing_check(&report).map(str::to_string) else {
        return Err(ShrinkError::Passes {
            file: scenario.file.clone(),
            seed,
        });
    };
    let file = scenario.file.clone();
    let mut fails = |text: &str| {
        on_run();
        let Ok(candidate) = crate::parse::parse(&file, text) else {
            return false;
        };
        run_scenario(&candidate, &opts)
            .is_ok_and(|r| r.violations().iter().any(|v| v.check == check))
    };
    let header = format!(
        "# Shrunk by `sim shrink` from {} at seed {seed}: it still fails `{check}`.\n",
        scenario.file
    );
    // A drawn fault schedule (`nemesis`) becomes the lines it drew at this seed, which shrink
    // like written ones (and the shrunk scenario runs the same faults without the block).
    let drawn = crate::generate::expand(scenario, seed).map_err(ScenarioError::Invalid)?;
    let base = prepare(drawn.as_ref().unwrap_or(scenario), seed);
    shrink(&base, &header, max_runs, &mut fails, out_of_time).ok_or(ShrinkError::NotReproduced {
        file,
        check,
        seed,
    })
}

/// `scenario` made ready to be printed and shrunk: the seed written in, includes already in
/// place (their lines dropped), and spans renumbered in the order of the items, so that the
/// canonical form keeps the order the run used even where included items' spans collide.
pub fn prepare(scenario: &Scenario, seed: u64) -> Scenario {
    let mut s = scenario.clone();
    s.includes.clear();
    let mut k = 0;
    let mut next = || {
        k += 1;
        Span {
            start: k,
            end: k,
            line: k,
            col: 1,
        }
    };
    s.seed = Some((seed, next()));
    if let Some((d, _)) = s.duration {
        s.duration = Some((d, next()));
    }
    for b in &mut s.blocks {
        b.span = next();
    }
    for t in &mut s.schedule {
        t.span = next();
    }
    for w in &mut s.sweeps {
        w.span = next();
    }
    for e in &mut s.expects {
        e.span = next();
    }
    s
}

/// The printed form of a candidate: `header` (comment lines), then its canonical text.
pub fn render(scenario: &Scenario, header: &str) -> String {
    format!("{header}{}", crate::fmt::format(scenario, ""))
}

/// Shrinks `base` (prepared, see [`prepare`]): `fails(text)` runs a candidate's printed text and
/// says whether it fails the check; `out_of_time()` is asked before each run. At most `max_runs`
/// runs. `None` when `base` itself does not fail.
pub fn shrink(
    base: &Scenario,
    header: &str,
    max_runs: usize,
    fails: &mut dyn FnMut(&str) -> bool,
    out_of_time: &mut dyn FnMut() -> bool,
) -> Option<Shrunk> {
    let mut search = Search {
        fails,
        out_of_time,
        header,
        max_runs,
        runs: 0,
        cut: None,
        seen: BTreeMap::new(),
    };
    if !search.fails(base) {
        // Out of budget before the first run, or the base passes: nothing is known to fail.
        return search.cut.map(|cut| search.done(base, base, Some(cut)));
    }
    let mut current = base.clone();
    for _ in 0..MAX_ROUNDS {
        let before = render(&current, header);
        current = search.round(current);
        if search.cut.is_some() || render(&current, header) == before {
            break;
        }
    }
    Some(search.done(base, &current, search.cut))
}

/// The state of one search: the judge, its budget, and the verdicts already known.
struct Search<'a> {
    fails: &'a mut dyn FnMut(&str) -> bool,
    out_of_time: &'a mut dyn FnMut() -> bool,
    header: &'a str,
    max_runs: usize,
    runs: usize,
    cut: Option<Cut>,
    /// Verdicts by candidate text: a candidate met twice is run once.
    seen: BTreeMap<String, bool>,
}

impl Search<'_> {
    /// Whether `candidate` fails the check: known, or run now if the budget allows (once the
    /// budget is spent, every new candidate counts as passing, so nothing more is kept).
    fn fails(&mut self, candidate: &Scenario) -> bool {
        let text = render(candidate, self.header);
        if let Some(&v) = self.seen.get(&text) {
            return v;
        }
        if self.cut.is_none() && self.runs >= self.max_runs {
            self.cut = Some(Cut::Runs);
        }
        if self.cut.is_none() && (self.out_of_time)() {
            self.cut = Some(Cut::Time);
        }
        if self.cut.is_some() {
            return false;
        }
        self.runs += 1;
        let v = (self.fails)(&text);
        self.seen.insert(text, v);
        v
    }

    fn stopped(&self) -> bool {
        self.cut.is_some()
    }

    /// One round of every step, each starting from what the last kept.
    fn round(&mut self, s: Scenario) -> Scenario {
        let s = self.expects(s);
        let s = self.lines(s);
        let s = self.actions(s);
        let s = self.times(s);
        let s = self.loads(s);
        self.duration(s)
    }

    /// Drops the `expect` lines the failure does not need.
    fn expects(&mut self, s: Scenario) -> Scenario {
        let kept = self.ddmin(s.expects.clone(), true, &|e| Scenario {
            expects: e.to_vec(),
            ..s.clone()
        });
        Scenario { expects: kept, ..s }
    }

    /// Drops the schedule lines the failure does not need.
    fn lines(&mut self, s: Scenario) -> Scenario {
        let kept = self.ddmin(s.schedule.clone(), true, &|t| Scenario {
            schedule: t.to_vec(),
            ..s.clone()
        });
        Scenario {
            schedule: kept,
            ..s
        }
    }

    /// Drops the actions a line does not need, line by line (a line keeps at least one).
    fn actions(&mut self, mut s: Scenario) -> Scenario {
        for i in 0..s.schedule.len() {
            if s.schedule[i].actions.len() < 2 {
                continue;
            }
            let base = s.clone();
            let kept = self.ddmin(s.schedule[i].actions.clone(), false, &|a| {
                let mut c = base.clone();
                c.schedule[i].actions = a.to_vec();
                c
            });
            s.schedule[i].actions = kept;
        }
        s
    }

    /// Moves each time of the schedule as early as the failure allows, in whole milliseconds:
    /// `at`'s time, `during`'s start then its end, `every`'s `from` then its `to`.
    fn times(&mut self, mut s: Scenario) -> Scenario {
        for i in 0..s.schedule.len() {
            for slot in 0..2 {
                let Some((lo, hi)) = time_bounds(&s.schedule[i].when, slot) else {
                    continue;
                };
                let base = s.clone();
                let best = self.bisect(lo / MS, hi / MS, &|ms| {
                    let mut c = base.clone();
                    set_time(&mut c.schedule[i].when, slot, ms * MS);
                    c
                });
                set_time(&mut s.schedule[i].when, slot, best * MS);
            }
        }
        s
    }

    /// Lowers a load's integer and rate properties toward 1.
    fn loads(&mut self, mut s: Scenario) -> Scenario {
        for b in 0..s.blocks.len() {
            if !LOAD_KINDS.contains(&s.blocks[b].kind.text.as_str()) {
                continue;
            }
            for p in 0..s.blocks[b].props.len() {
                let Some(hi) = whole_number(&s.blocks[b].props[p].value.kind) else {
                    continue;
                };
                let base = s.clone();
                let best = self.bisect(1, hi, &|n| {
                    let mut c = base.clone();
                    set_whole_number(&mut c.blocks[b].props[p].value, n);
                    c
                });
                set_whole_number(&mut s.blocks[b].props[p].value, best);
            }
        }
        s
    }

    /// Shortens the run, in whole milliseconds (down to 1 ms).
    fn duration(&mut self, mut s: Scenario) -> Scenario {
        let Some((d, span)) = s.duration else {
            return s;
        };
        let hi = d.as_nanos();
        if hi <= MS || hi % MS != 0 {
            return s;
        }
        let base = s.clone();
        let best = self.bisect(1, hi / MS, &|ms| Scenario {
            duration: Some((SimDuration::from_nanos(ms * MS), span)),
            ..base.clone()
        });
        s.duration = Some((SimDuration::from_nanos(best * MS), span));
        s
    }

    /// ddmin: a smallest subset of `items` (1-minimal: no single chunk of the last split can go)
    /// for which `build` makes a failing candidate; `items` itself is known to fail. With
    /// `empty`, no items at all is tried first.
    fn ddmin<T: Clone>(
        &mut self,
        items: Vec<T>,
        empty: bool,
        build: &dyn Fn(&[T]) -> Scenario,
    ) -> Vec<T> {
        if empty && !items.is_empty() && self.fails(&build(&[])) {
            return Vec::new();
        }
        let mut cur = items;
        let mut n = 2;
        while cur.len() >= 2 && !self.stopped() {
            let chunks = split(cur.len(), n);
            let mut next = None;
            // A chunk alone, then (with more than two chunks) everything but one chunk.
            for &(a, b) in &chunks {
                if self.fails(&build(&cur[a..b])) {
                    next = Some((cur[a..b].to_vec(), 2));
                    break;
                }
            }
            if next.is_none() && n > 2 {
                for &(a, b) in &chunks {
                    let rest: Vec<T> = cur[..a].iter().chain(&cur[b..]).cloned().collect();
                    if self.fails(&build(&rest)) {
                        next = Some((rest, (n - 1).max(2)));
                        break;
                    }
                }
            }
            match next {
                Some((kept, k)) => {
                    cur = kept;
                    n = k;
                }
                None if n >= cur.len() => break,
                None => n = (2 * n).min(cur.len()),
            }
        }
        cur
    }

    /// The smallest value in `lo..=hi` found to fail, by bisection (`hi` is known to fail; the
    /// lowest is tried first, as it is the likeliest answer for a number the failure ignores).
    fn bisect(&mut self, lo: u64, hi: u64, build: &dyn Fn(u64) -> Scenario) -> u64 {
        if hi <= lo {
            return hi;
        }
        if self.fails(&build(lo)) {
            return lo;
        }
        let (mut pass, mut fail) = (lo, hi);
        while fail - pass > 1 && !self.stopped() {
            let mid = pass + (fail - pass) / 2;
            if self.fails(&build(mid)) {
                fail = mid;
            } else {
                pass = mid;
            }
        }
        fail
    }

    fn done(&self, base: &Scenario, best: &Scenario, cut: Option<Cut>) -> Shrunk {
        let text = render(best, self.header);
        let lines = |t: &str| t.lines().count();
        Shrunk {
            scenario: best.clone(),
            runs: self.runs,
            cut,
            schedule: (base.schedule.len(), best.schedule.len()),
            lines: (lines(&render(base, self.header)), lines(&text)),
            text,
        }
    }
}

/// `n` nearly equal chunks of `0..len`, as (start, end), the first ones one longer.
fn split(len: usize, n: usize) -> Vec<(usize, usize)> {
    let n = n.clamp(1, len.max(1));
    let (size, extra) = (len / n, len % n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for k in 0..n {
        let end = start + size + usize::from(k < extra);
        out.push((start, end));
        start = end;
    }
    out
}

/// The range (nanoseconds, each a whole number of ms) a time of a schedule line may take: slot 0 is `at`'s time,
/// `during`'s start or `every`'s `from`; slot 1 is `during`'s end or `every`'s `to`, which stays
/// after the start. `None` where there is no such time or it is not whole milliseconds.
fn time_bounds(when: &When, slot: usize) -> Option<(u64, u64)> {
    let whole = |d: SimDuration| Some(d.as_nanos()).filter(|n| n % MS == 0);
    match (when, slot) {
        (When::At(t), 0) => Some((0, whole(*t)?)),
        (When::During { from, .. }, 0) => Some((0, whole(*from)?)),
        (When::During { from, to }, 1) => Some((from.as_nanos() + MS, whole(*to)?)),
        (When::Every { from: Some(f), .. }, 0) => Some((0, whole(*f)?)),
        (
            When::Every {
                from, to: Some(t), ..
            },
            1,
        ) => Some((from.map_or(0, |f| f.as_nanos()) + MS, whole(*t)?)),
        _ => None,
    }
    .filter(|(lo, hi)| lo < hi)
}

fn set_time(when: &mut When, slot: usize, ns: u64) {
    let d = SimDuration::from_nanos(ns);
    match (when, slot) {
        (When::At(t), 0) => *t = d,
        (When::During { from, .. }, 0) => *from = d,
        (When::During { to, .. }, 1) => *to = d,
        (
            When::Every {
                from: f @ Some(_), ..
            },
            0,
        ) => *f = Some(d),
        (
            When::Every {
                to: t @ Some(_), ..
            },
            1,
        ) => *t = Some(d),
        _ => {}
    }
}

/// A property's value as a whole number to shrink: a positive integer, or a rate of whole
/// events per second.
fn whole_number(v: &ValueKind) -> Option<u64> {
    match *v {
        ValueKind::Integer(n) if n > 1 => Some(n as u64),
        ValueKind::Rate { per_sec } if per_sec > 1.0 && per_sec.fract() == 0.0 => {
            Some(per_sec as u64)
        }
        _ => None,
    }
}

fn set_whole_number(v: &mut Value, n: u64) {
    match &mut v.kind {
        ValueKind::Integer(x) => *x = n as i64,
        ValueKind::Rate { per_sec } => *per_sec = n as f64,
        _ => {}
    }
}

/// The words of a command line as a POSIX shell splits it (plain words, `'...'`, `"..."` with
/// `\` escapes, `\` outside quotes): what [`crate::sweep::shell_word`] writes reads back.
pub fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => w.push(x),
                        None => return Err("a ' is not closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => w.push(x),
                            Some(x) => {
                                w.push('\\');
                                w.push(x);
                            }
                            None => return Err("a \" is not closed".into()),
                        },
                        Some(x) => w.push(x),
                        None => return Err("a \" is not closed".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(x) => word.get_or_insert_with(String::new).push(x),
                None => return Err("the line ends in a \\".into()),
            },
            _ => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Scenario {
        prepare(&crate::parse::parse("t.scn", text).expect("parses"), 1)
    }

    const SCN: &str = "scenario \"t\" {\n  duration 10s\n  network { latency 1ms }\n  raft cluster { nodes n1..n3 }\n  load kv { clients 4  rate 100/s }\n  at 1s crash n1\n  at 2s crash n2\n  at 3s restart n1\n  at 4s crash n3\n  during 5s..7s partition one\n  expect safe\n  expect linearizable\n}\n";

    /// A fake judge: the "bug" needs `crash n2` at or after 1500 ms and a run of at least 2.5 s.
    fn judge(text: &str) -> bool {
        let s = crate::parse::parse("t.scn", text).expect("candidates parse");
        let crash_n2 = s.schedule.iter().any(|t| {
            matches!(t.when, When::At(at) if at.as_nanos() >= 1_500 * MS)
                && t.actions.iter().any(|a| {
                    a.verb.text == "crash"
                        && a.args
                            .iter()
                            .any(|v| v.kind == ValueKind::Ident("n2".into()))
                })
        });
        let long = s.duration.is_some_and(|(d, _)| d.as_nanos() >= 2_500 * MS);
        crash_n2 && long && s.expects.iter().any(|e| e.text == "expect safe")
    }

    #[test]
    fn keeps_only_what_the_failure_needs_and_bisects_numbers() {
        let base = parsed(SCN);
        let out = shrink(&base, "", 500, &mut judge, &mut || false).expect("fails");
        assert_eq!(out.cut, None);
        let s = &out.scenario;
        assert_eq!(s.schedule.len(), 1, "{}", out.text);
        assert_eq!(
            s.schedule[0].when,
            When::At(SimDuration::from_nanos(1_500 * MS))
        );
        assert_eq!(s.duration.map(|d| d.0.as_nanos()), Some(2_500 * MS));
        assert_eq!(s.expects.len(), 1);
        let load = &s.blocks[2].props;
        assert_eq!(load[0].value.kind, ValueKind::Integer(1), "clients");
        assert_eq!(load[1].value.kind, ValueKind::Rate { per_sec: 1.0 });
        assert_eq!(out.schedule, (5, 1));
        // The printed text parses back to the same scenario.
        assert!(judge(&out.text));
    }

    #[test]
    fn same_input_same_output_and_the_run_bound_holds() {
        let base = parsed(SCN);
        let a = shrink(&base, "", 500, &mut judge, &mut || false).expect("fails");
        let b = shrink(&base, "", 500, &mut judge, &mut || false).expect("fails");
        assert_eq!(a.text, b.text);
        assert_eq!(a.runs, b.runs);
        let mut runs = 0;
        let mut counted = |t: &str| {
            runs += 1;
            judge(t)
        };
        let cut = shrink(&base, "", 5, &mut counted, &mut || false).expect("fails");
        assert_eq!(cut.cut, Some(Cut::Runs));
        assert_eq!(runs, 5);
        assert!(judge(&cut.text), "the best so far still fails");
    }

    #[test]
    fn a_time_budget_cuts_short_and_says_so() {
        let base = parsed(SCN);
        let mut asked = 0;
        let mut clock = || {
            asked += 1;
            asked > 3
        };
        let out = shrink(&base, "", 500, &mut judge, &mut clock).expect("fails");
        assert_eq!(out.cut, Some(Cut::Time));
        assert_eq!(out.runs, 3);
    }

    #[test]
    fn a_passing_base_is_refused() {
        let base = parsed(SCN);
        assert!(shrink(&base, "", 500, &mut |_| false, &mut || false).is_none());
    }

    #[test]
    fn ddmin_finds_two_distant_items() {
        // Two lines far apart are needed together.
        let base = parsed(SCN);
        let mut judge = |t: &str| t.contains("crash n1") && t.contains("crash n3");
        let out = shrink(&base, "", 500, &mut judge, &mut || false).expect("fails");
        assert_eq!(out.scenario.schedule.len(), 2, "{}", out.text);
    }

    #[test]
    fn shell_words_read_what_shell_word_writes() {
        let w = shell_words(
            "sim run a.scn --seed 4 --variant 'server.service=exp(1s)' --variant \"x=it's\" b\\ c",
        )
        .expect("splits");
        assert_eq!(
            w,
            [
                "sim",
                "run",
                "a.scn",
                "--seed",
                "4",
                "--variant",
                "server.service=exp(1s)",
                "--variant",
                "x=it's",
                "b c"
            ]
        );
        let q = crate::sweep::shell_word("a='b c'");
        assert_eq!(shell_words(&q).expect("splits"), ["a='b c'"]);
        assert!(shell_words("sim run 'a").is_err());
    }
}

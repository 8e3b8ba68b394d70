//! docs/scn.md, the language reference, stays true: its examples are run through the parser, the
//! checker and the runner, its transcripts are compared with what `sim` prints, and its examples
//! must between them use every construct of the language.
//!
//! The conventions (also stated at the end of docs/scn.md):
//! - every ` ```scn ` block parses; its first line is a marker:
//!   `# check: ok` (it passes the checker, every sweep variant; a whole scenario also runs, and
//!   every `expect` holds), `# check: error` (the checker refuses it), `# check: error: TEXT` (and
//!   some message contains TEXT), `# check: none` or no marker (it only parses). A block that
//!   uses `include` cannot be checked here: it must be parse-only.
//! - a ` ```text ` block is free text, except lines `$ cat NAME`, `$ sim check NAME`,
//!   `$ sim fmt NAME` and `$ sim run NAME`: the output after each (up to the next `$ ` line) must
//!   be what that command prints, for the file shown by the `cat` or else for the ` ```scn `
//!   block just before. For `sim run`, only the lines of check outcomes and variants are
//!   compared (the rest has wall times in it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use models::schema::ArgSpec;
use scenarios::ast::{Check, CmpOp, Scenario, Value, ValueKind, When};
use scenarios::render::{MemorySources, render};
use scenarios::{Diagnostic, RunOptions, check, fmt, parse, run_scenario, sweep};
use simcore::StopReason;

/// The most events one example may take when the test runs it: examples stay small.
const EXAMPLE_EVENTS_MAX: u64 = 2_000_000;

/// The fewest ` ```scn ` examples the reference may have.
const SCN_BLOCKS_MIN: usize = 25;

/// A fenced block of the document.
struct Fence {
    info: String,
    /// 1-based line of the opening fence.
    line: usize,
    text: String,
}

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scn.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fences(doc: &str) -> Vec<Fence> {
    let mut out = Vec::new();
    let mut open: Option<Fence> = None;
    for (i, line) in doc.lines().enumerate() {
        match open.take() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some(Fence {
                        info: info.trim().to_string(),
                        line: i + 1,
                        text: String::new(),
                    });
                }
            }
            Some(mut f) => {
                if line.trim_end() == "```" {
                    out.push(f);
                } else {
                    f.text.push_str(line);
                    f.text.push('\n');
                    open = Some(f);
                }
            }
        }
    }
    if let Some(f) = open {
        panic!("docs/scn.md:{}: a fenced block is never closed", f.line);
    }
    out
}

#[derive(Debug, PartialEq)]
enum Marker {
    ParseOnly,
    Ok,
    /// Refused by the checker, with a message containing the text if one is given.
    Error(Option<String>),
}

fn marker(text: &str) -> Result<Marker, String> {
    let first = text.lines().next().unwrap_or("").trim();
    let Some(rest) = first.strip_prefix("# check:") else {
        return Ok(Marker::ParseOnly);
    };
    let rest = rest.trim();
    let word = rest.split_whitespace().next().unwrap_or("");
    match word {
        "ok" => Ok(Marker::Ok),
        "none" => Ok(Marker::ParseOnly),
        "error" => Ok(Marker::Error(None)),
        "error:" => Ok(Marker::Error(Some(
            rest["error:".len()..].trim().to_string(),
        ))),
        _ => Err(format!(
            "unknown marker {first:?}: write `# check: ok`, `# check: error`, \
             `# check: error: TEXT` or `# check: none`"
        )),
    }
}

fn lines_of(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("    {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `sim check` does after reading a file ([`scenarios::runner::validate`]). The variants
/// when all is well.
fn check_like_sim(s: &Scenario) -> Result<Vec<sweep::Variant>, Vec<Diagnostic>> {
    scenarios::runner::validate(s)?;
    Ok(sweep::variants(s)?.iter().collect())
}

/// Runs every variant as `sim run` would, within the example bound. Each variant's label and the
/// check lines `sim run` prints for it, or why the example does not run cleanly.
fn run_like_sim(variants: &[sweep::Variant]) -> Result<Vec<(String, Vec<String>)>, String> {
    let opts = RunOptions {
        max_events: Some(EXAMPLE_EVENTS_MAX),
        ..RunOptions::default()
    };
    let mut out = Vec::new();
    for v in variants {
        let r = run_scenario(&v.scenario, &opts).map_err(|e| format!("does not run: {e}"))?;
        if r.result.stop_reason == StopReason::EventLimit {
            return Err(format!(
                "takes more than {EXAMPLE_EVENTS_MAX} events; keep examples small"
            ));
        }
        let lines: Vec<String> = r
            .checks
            .iter()
            .map(|c| {
                format!(
                    "  {}  {}  (actual {})",
                    if c.held { "ok  " } else { "FAIL" },
                    c.check,
                    reports::text::show(c.actual, c.is_duration)
                )
            })
            .collect();
        if !r.ok() {
            return Err(format!(
                "runs, but not every check holds (variant {:?}):\n{}",
                v.label,
                lines.join("\n")
            ));
        }
        out.push((v.label.clone(), lines));
    }
    Ok(out)
}

/// Applies a block's marker; `Err` says what is wrong with the block.
fn verify_block(f: &Fence) -> Result<Scenario, String> {
    let want = marker(&f.text)?;
    let name = format!("docs/scn.md:{}", f.line);
    let s =
        parse::parse(&name, &f.text).map_err(|d| format!("does not parse:\n{}", lines_of(&d)))?;
    if want != Marker::ParseOnly && !s.includes.is_empty() {
        return Err(
            "uses `include`, which this test cannot follow: mark it `# check: none`".into(),
        );
    }
    match want {
        Marker::ParseOnly => {}
        Marker::Ok => {
            let variants =
                check_like_sim(&s).map_err(|d| format!("fails the checker:\n{}", lines_of(&d)))?;
            if s.name.is_some() {
                run_like_sim(&variants)?;
            }
        }
        Marker::Error(text) => match check_like_sim(&s) {
            Ok(_) => return Err("is marked `# check: error` but passes the checker".into()),
            Err(d) => {
                if let Some(t) = text {
                    if !d.iter().any(|x| x.to_string().contains(&t)) {
                        return Err(format!(
                            "no message contains {t:?}; the checker says:\n{}",
                            lines_of(&d)
                        ));
                    }
                }
            }
        },
    }
    Ok(s)
}

#[test]
fn every_scn_example_parses_and_checks_as_marked() {
    let doc = doc();
    let scn: Vec<Fence> = fences(&doc)
        .into_iter()
        .filter(|f| f.info == "scn")
        .collect();
    assert!(
        scn.len() >= SCN_BLOCKS_MIN,
        "docs/scn.md has {} ```scn blocks; the reference needs at least {SCN_BLOCKS_MIN}",
        scn.len()
    );
    let failures: Vec<String> = scn
        .iter()
        .filter_map(|f| {
            verify_block(f)
                .err()
                .map(|why| format!("the ```scn block at docs/scn.md:{} {why}", f.line))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n\n"));
}

/// What a command of a transcript prints, computed; `None` for commands not compared.
fn expected_output(command: &str, file: &str, source: &str) -> Result<Option<Vec<String>>, String> {
    let lines = |s: String| s.lines().map(|l| l.trim_end().to_string()).collect();
    let parsed = parse::parse(file, source);
    match command {
        "sim check" => {
            let result = match parsed {
                Ok(s) if !s.includes.is_empty() => {
                    return Err("the file uses `include`, which this test cannot follow".into());
                }
                Ok(s) => check_like_sim(&s),
                Err(d) => Err(d),
            };
            Ok(Some(match result {
                Ok(v) if v.len() > 1 => vec![format!("{file}: ok ({} runs)", v.len())],
                Ok(_) => vec![format!("{file}: ok")],
                Err(d) => {
                    let mut text = render(&d, &mut MemorySources(vec![(file, source)]), false);
                    if d.len() > 1 {
                        text.push_str(&format!("{} problems found\n", d.len()));
                    }
                    lines(text)
                }
            }))
        }
        "sim fmt" => {
            let s = parsed.map_err(|d| format!("does not parse:\n{}", lines_of(&d)))?;
            Ok(Some(lines(fmt::format(&s, source))))
        }
        _ => Ok(None),
    }
}

#[test]
fn transcripts_show_what_sim_prints() {
    let doc = doc();
    let all = fences(&doc);
    let mut failures = Vec::new();
    let mut compared = 0;
    for (i, f) in all.iter().enumerate() {
        if f.info != "text" {
            continue;
        }
        let previous_scn = i
            .checked_sub(1)
            .map(|p| &all[p])
            .filter(|p| p.info == "scn");
        // Split into commands and their output.
        let mut steps: Vec<(String, Vec<String>, usize)> = Vec::new();
        for (k, line) in f.text.lines().enumerate() {
            if let Some(cmd) = line.strip_prefix("$ ") {
                steps.push((cmd.trim().to_string(), Vec::new(), f.line + 1 + k));
            } else if let Some(step) = steps.last_mut() {
                step.1.push(line.trim_end().to_string());
            }
        }
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for (cmd, output, line) in steps {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let (command, file) = match words.as_slice() {
                ["cat", file] => {
                    let mut text = output.join("\n");
                    text.push('\n');
                    files.insert(file.to_string(), text);
                    continue;
                }
                ["sim", sub @ ("check" | "fmt" | "run"), file] => (format!("sim {sub}"), *file),
                _ => continue,
            };
            let at = format!("docs/scn.md:{line} (`{cmd}`)");
            let source = match files.get(file) {
                Some(text) => text.clone(),
                None => match previous_scn {
                    Some(p) => p.text.clone(),
                    None => {
                        failures.push(format!(
                            "{at}: no `$ cat {file}` before it and no ```scn block just before \
                             the transcript"
                        ));
                        continue;
                    }
                },
            };
            compared += 1;
            if command == "sim run" {
                if let Err(why) = compare_run(file, &source, &output) {
                    failures.push(format!("{at}: {why}"));
                }
                continue;
            }
            match expected_output(&command, file, &source) {
                Ok(Some(want)) if want != output => {
                    let k = want
                        .iter()
                        .zip(&output)
                        .position(|(a, b)| a != b)
                        .unwrap_or(want.len().min(output.len()));
                    failures.push(format!(
                        "{at}: the transcript differs from what `{cmd}` prints, first at its \
                         output line {}: printed {:?}, documented {:?}\n--- printed:\n{}",
                        k + 1,
                        want.get(k).map_or("(nothing)", |l| l.as_str()),
                        output.get(k).map_or("(nothing)", |l| l.as_str()),
                        want.join("\n"),
                    ))
                }
                Ok(_) => {}
                Err(why) => failures.push(format!("{at}: {why}")),
            }
        }
    }
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n\n"));
    assert!(compared >= 3, "only {compared} transcripts were compared");
}

/// The check and variant lines of a `sim run` transcript must be among those a run prints.
fn compare_run(file: &str, source: &str, output: &[String]) -> Result<(), String> {
    let s = parse::parse(file, source).map_err(|d| format!("does not parse:\n{}", lines_of(&d)))?;
    let variants =
        check_like_sim(&s).map_err(|d| format!("fails the checker:\n{}", lines_of(&d)))?;
    let runs = run_like_sim(&variants)?;
    for line in output {
        let known = if let Some(label) = line.strip_prefix("variant    ") {
            runs.iter().any(|(l, _)| l == label)
        } else if line.starts_with("  ok  ") || line.starts_with("  FAIL") {
            runs.iter().any(|(_, checks)| checks.contains(line))
        } else {
            true
        };
        if !known {
            let printed: Vec<String> = runs
                .iter()
                .flat_map(|(label, checks)| {
                    std::iter::once(format!("variant    {label}")).chain(checks.iter().cloned())
                })
                .collect();
            return Err(format!(
                "the line {line:?} is not what a run prints; it prints:\n{}",
                printed.join("\n")
            ));
        }
    }
    Ok(())
}

/// Every feature a parsed example shows, as tags such as `verb:crash` or `value:size`.
fn features(s: &Scenario, out: &mut BTreeSet<String>) {
    let mut tag = |t: String| {
        out.insert(t);
    };
    tag(if s.name.is_some() {
        "file:scenario"
    } else {
        "file:fragment"
    }
    .into());
    if s.seed.is_some() {
        tag("keyword:seed".into());
    }
    if s.duration.is_some() {
        tag("keyword:duration".into());
    }
    if !s.includes.is_empty() {
        tag("keyword:include".into());
    }
    if !s.sweeps.is_empty() {
        tag("keyword:sweep".into());
    }
    if !s.expects.is_empty() {
        tag("keyword:expect".into());
    }
    let mut values: Vec<&Value> = Vec::new();
    for b in &s.blocks {
        tag(if b.name.is_some() {
            "block:named"
        } else {
            "block:unnamed"
        }
        .into());
        if b.name.as_ref().is_some_and(|n| n.text.contains("..")) {
            tag("block:range".into());
        }
        values.extend(b.props.iter().map(|p| &p.value));
    }
    for sw in &s.sweeps {
        values.extend(&sw.values);
    }
    for t in &s.schedule {
        match t.when {
            When::At(_) => tag("keyword:at".into()),
            When::Every { min, max, from, to } => {
                tag("keyword:every".into());
                if min < max {
                    tag("every:jitter".into());
                }
                if from.is_some() {
                    tag("every:from".into());
                }
                if to.is_some() {
                    tag("every:to".into());
                }
            }
            When::During { .. } => tag("keyword:during".into()),
        }
        if t.actions.len() > 1 {
            tag("actions:group".into());
        }
        for a in &t.actions {
            let verb = a.verb.text.as_str();
            tag(format!("verb:{verb}"));
            let Some(spec) = models::MODELS.iter().find_map(|m| m.verb(verb)) else {
                continue;
            };
            for (arg, given) in spec.args.iter().zip(parse::split_args(spec, &a.args)) {
                let Some(first) = given.first() else { continue };
                match (arg, &first.kind) {
                    (ArgSpec::Target, ValueKind::Ident(n))
                        if check::TARGET_WORDS.contains(&n.as_str()) =>
                    {
                        tag(format!("target:{n}"))
                    }
                    (ArgSpec::Target, ValueKind::Ident(_)) => tag("target:node".into()),
                    (ArgSpec::Target, ValueKind::Call { .. }) => tag("target:random(k)".into()),
                    (ArgSpec::Target, _) => {
                        tag("target:list".into());
                        values.push(first);
                    }
                    (ArgSpec::Shape(_), ValueKind::Ident(shape)) => tag(format!("shape:{shape}")),
                    (ArgSpec::Shape(_), _) => {
                        tag("shape:groups".into());
                        values.extend(given);
                    }
                    (ArgSpec::Word(_), ValueKind::Ident(w)) => tag(format!("{verb}:{w}")),
                    (
                        ArgSpec::Form { .. },
                        ValueKind::Ident(w) | ValueKind::Call { name: w, .. },
                    ) => tag(format!("{verb}:{w}")),
                    (ArgSpec::Value(_) | ArgSpec::ValueOf(_) | ArgSpec::PropertyValue, _) => {
                        values.push(first)
                    }
                    _ => {}
                }
            }
        }
    }
    for e in &s.expects {
        match &e.check {
            Check::Metric {
                stat, op, bound, ..
            } => {
                tag("expect:metric".into());
                tag(format!("stat:{}", stat.text));
                tag(format!(
                    "op:{}",
                    match op {
                        CmpOp::Lt => "<",
                        CmpOp::Le => "<=",
                        CmpOp::Gt => ">",
                        CmpOp::Ge => ">=",
                    }
                ));
                values.push(bound);
            }
            Check::Liveness { after, .. } => {
                tag("expect:liveness".into());
                if after.is_some() {
                    tag("expect:liveness-after".into());
                }
            }
            Check::Property(_) => tag("expect:property".into()),
        }
    }
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        let kind = match &v.kind {
            ValueKind::Integer(_) => "integer",
            ValueKind::Float(_) => "float",
            ValueKind::Duration(_) => "duration",
            ValueKind::Rate { .. } => "rate",
            ValueKind::Size(_) => "size",
            ValueKind::Percent(_) => "percent",
            ValueKind::Str(_) => "string",
            ValueKind::Bool(_) => "boolean",
            ValueKind::Ident(_) => "name",
            ValueKind::List(entries) => {
                for e in entries {
                    walk(&e.value, out);
                    if let Some(w) = &e.weight {
                        out.insert("value:weighted-list".into());
                        walk(w, out);
                    }
                }
                "list"
            }
            ValueKind::Range(a, b) => {
                walk(a, out);
                walk(b, out);
                match (&a.kind, &b.kind) {
                    (ValueKind::Duration(_), ValueKind::Duration(_)) => {
                        out.insert("range:durations".into());
                    }
                    (ValueKind::Ident(_), ValueKind::Ident(_)) => {
                        out.insert("range:nodes".into());
                    }
                    _ => {}
                }
                "range"
            }
            ValueKind::Call { name, args } => {
                out.insert(format!("call:{name}"));
                for a in args {
                    walk(a, out);
                }
                "call"
            }
        };
        out.insert(format!("value:{kind}"));
    }
    for v in values {
        walk(v, out);
    }
}

#[test]
fn the_examples_use_every_construct() {
    let doc = doc();
    let mut seen = BTreeSet::new();
    for f in fences(&doc).iter().filter(|f| f.info == "scn") {
        // Unparsable blocks are reported by `every_scn_example_parses_and_checks_as_marked`.
        if let Ok(s) = parse::parse("docs/scn.md", &f.text) {
            features(&s, &mut seen);
        }
    }
    let mut want: Vec<String> = Vec::new();
    // Every verb a model declares, and every word, shape, form and kind of target its
    // arguments take.
    for spec in models::MODELS.iter().flat_map(|m| m.verbs) {
        want.push(format!("verb:{}", spec.name));
        for arg in spec.args {
            match arg {
                ArgSpec::Target => {
                    let words = check::TARGET_WORDS.iter().copied();
                    for w in words.chain(["node", "random(k)", "list"]) {
                        want.push(format!("target:{w}"));
                    }
                }
                ArgSpec::Shape(shapes) => {
                    for s in shapes.iter().copied().chain(["groups"]) {
                        want.push(format!("shape:{s}"));
                    }
                }
                ArgSpec::Word(words) => {
                    want.extend(words.iter().map(|w| format!("{}:{w}", spec.name)))
                }
                ArgSpec::Form { forms, .. } => {
                    want.extend(forms.iter().map(|f| format!("{}:{}", spec.name, f.name)))
                }
                _ => {}
            }
        }
    }
    want.sort();
    want.dedup();
    let mut add = |prefix: &str, words: &[&str]| {
        want.extend(words.iter().map(|w| format!("{prefix}:{w}")));
    };
    add(
        "keyword",
        &[
            "seed", "duration", "include", "sweep", "at", "every", "during", "expect",
        ],
    );
    add("file", &["scenario", "fragment"]);
    add("block", &["named", "unnamed", "range"]);
    add(
        "value",
        &[
            "integer",
            "float",
            "duration",
            "rate",
            "size",
            "percent",
            "string",
            "boolean",
            "name",
            "list",
            "weighted-list",
            "range",
            "call",
        ],
    );
    add("range", &["durations", "nodes"]);
    add(
        "call",
        &[
            "constant",
            "uniform",
            "normal",
            "exp",
            "lognormal",
            "pareto",
            "zipf",
        ],
    );
    add("every", &["jitter", "from", "to"]);
    add("actions", &["group"]);
    add(
        "expect",
        &["metric", "liveness", "liveness-after", "property"],
    );
    add("stat", check::STATS);
    add("op", &["<", "<=", ">", ">="]);
    let missing: Vec<&String> = want.iter().filter(|w| !seen.contains(*w)).collect();
    assert!(
        missing.is_empty(),
        "no ```scn example in docs/scn.md shows {missing:?}"
    );
}

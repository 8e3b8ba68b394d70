//! `sim fmt` keeps meaning and comments: `parse(format(x)) == parse(x)` up to source positions,
//! `format` is idempotent, and every comment of the input is in the output, for every shipped
//! scenario, a scenario using every construct, and thousands of generated ones.
//!
//! `SIM_PROPTEST_CASES` sets how many scenarios the property test generates (default 2,000).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use scenarios::ast::{
    Action, Block, Check, Entry, Expect, Ident, Scenario, Span, Timed, Value, ValueKind,
};
use scenarios::fmt::format;
use scenarios::parse::parse;

// ---- normalising ---------------------------------------------------------------------------

/// Forgets where things were written: every span zeroed, every file the same, and each
/// `expect`'s text (the check as written, kept for reports) cleared. What is left is meaning.
fn normalise(mut s: Scenario) -> Scenario {
    let file: Arc<str> = "x.scn".into();
    s.file = "x.scn".into();
    if let Some((_, span)) = &mut s.seed {
        *span = Span::default();
    }
    if let Some((_, span)) = &mut s.duration {
        *span = Span::default();
    }
    for i in &mut s.includes {
        i.span = Span::default();
    }
    for b in &mut s.blocks {
        block(b, &file);
    }
    for t in &mut s.schedule {
        timed(t, &file);
    }
    for sw in &mut s.sweeps {
        sw.file = file.clone();
        sw.span = Span::default();
        ident(&mut sw.path);
        sw.values.iter_mut().for_each(value);
    }
    for e in &mut s.expects {
        expect(e, &file);
    }
    s
}

fn ident(i: &mut Ident) {
    i.span = Span::default();
}

fn value(v: &mut Value) {
    v.span = Span::default();
    match &mut v.kind {
        ValueKind::List(entries) => entries.iter_mut().for_each(entry),
        ValueKind::Range(a, b) => {
            value(a);
            value(b);
        }
        ValueKind::Call { args, .. } => args.iter_mut().for_each(value),
        _ => {}
    }
}

fn entry(e: &mut Entry) {
    value(&mut e.value);
    if let Some(w) = &mut e.weight {
        value(w);
    }
}

fn block(b: &mut Block, file: &Arc<str>) {
    b.file = file.clone();
    b.span = Span::default();
    ident(&mut b.kind);
    if let Some(n) = &mut b.name {
        ident(n);
    }
    for p in &mut b.props {
        ident(&mut p.key);
        value(&mut p.value);
    }
}

fn action(a: &mut Action) {
    a.span = Span::default();
    ident(&mut a.verb);
    a.args.iter_mut().for_each(value);
}

fn timed(t: &mut Timed, file: &Arc<str>) {
    t.file = file.clone();
    t.span = Span::default();
    t.actions.iter_mut().for_each(action);
}

fn expect(e: &mut Expect, file: &Arc<str>) {
    e.file = file.clone();
    e.span = Span::default();
    e.text.clear();
    match &mut e.check {
        Check::Metric {
            stat,
            metric,
            bound,
            ..
        } => {
            ident(stat);
            ident(metric);
            value(bound);
        }
        Check::Liveness { event, after, .. } => {
            ident(event);
            if let Some(a) = after {
                ident(a);
            }
        }
        Check::Property(p) => ident(p),
    }
}

// ---- comments ------------------------------------------------------------------------------

/// Every `#` and `//` comment of a source that parses, outside strings, trimmed, sorted.
fn comments_of(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.split('\n') {
        let mut in_string = false;
        let mut escaped = false;
        let mut prev = '\0';
        for (i, c) in line.char_indices() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            } else if c == '#' || (c == '/' && prev == '/') {
                let start = if c == '#' { i } else { i - 1 };
                out.push(line[start..].trim_end().to_string());
                break;
            }
            prev = c;
        }
    }
    out.sort();
    out
}

// ---- the property --------------------------------------------------------------------------

/// Parses `source`, formats it, and checks the round trip, idempotence and that every comment is
/// kept. Returns the formatted text.
fn round_trip(name: &str, source: &str) -> Result<String, String> {
    let parsed = parse(name, source).map_err(|e| format!("the input does not parse: {e:?}"))?;
    let once = format(&parsed, source);
    let reparsed = parse(name, &once)
        .map_err(|e| format!("the formatted text does not parse: {e:?}\n--- formatted:\n{once}"))?;
    let (a, b) = (normalise(parsed), normalise(reparsed.clone()));
    if a != b {
        return Err(format!(
            "parse(format(x)) != parse(x)\n--- formatted:\n{once}\n--- before:\n{a:#?}\n--- after:\n{b:#?}"
        ));
    }
    let twice = format(&reparsed, &once);
    if twice != once {
        return Err(format!(
            "format is not idempotent\n--- once:\n{once}\n--- twice:\n{twice}"
        ));
    }
    let (before, after) = (comments_of(source), comments_of(&once));
    if before != after {
        return Err(format!(
            "comments differ\n--- input: {before:#?}\n--- output: {after:#?}\n--- formatted:\n{once}"
        ));
    }
    Ok(once)
}

fn shipped() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .expect("the scenarios directory lists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("a shipped scenario reads");
            (p, text)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 5, "the shipped scenarios are found: {out:?}");
    out
}

#[test]
fn shipped_scenarios_round_trip() {
    for (path, text) in shipped() {
        let name = path.display().to_string();
        if let Err(e) = round_trip(&name, &text) {
            panic!("{name}: {e}");
        }
    }
}

/// Every construct of the language, values in every spelling, and comments everywhere a comment
/// can go: before the header, trailing on lines, between properties, inside action groups and
/// lists, between a statement's words, after the last item and after the closing brace.
const EVERYTHING: &str = r#"# before the header
// the other comment style
scenario "every \"thing\" \\ \t # not a comment" { # trailing the header
  expect p99(kv.latency) < 50ms  # an expect before the blocks moves to the end
  seed 1_000_007   # trailing the seed
  duration 1.5h
  include "common.scn" // trailing an include

  # before a block
  network { latency uniform(1ms, 5ms)  loss 0.5%  buffer 64KiB }  # trailing a block
  raft cluster {
    # before the first property
    nodes n1..n5   # trailing a property
    election_timeout 150ms..300ms
    # between properties
    heartbeat 50ms
    weights [a 1, b 2.5, c 30%, d .5%,]
    neg -12_345_678
    f -1.5e3
    g 2.5E-3
    big 9_223_372_036_854_775_807
    small -9223372036854775808
    rates [2.5/ms, 1/m, 7/h, 3/us, 3/µs, 1/ns, 1_000/s, .5/s]
    sizes [1B, 2KiB, 1.5MiB, 3GiB, 1TiB, 1_024B, 0B]
    durations [7ns, 3us, 3µs, .25s, 1_000ms, 2m, 1h, 0s, 90m, 1.000_001s]
    percent 12.5%
    text "a # not a comment // nor this { [ ( \n"
    off false  on true
    nested f(g(1, [x, y 3]), h(), k (2))
    ranges [1..5, -2..-1, 0.1..0.5, 1KiB..2MiB, 5%..10%, 1/s..2/s, a..b, 1ms..1s]
    list [ # inside a list
      one,
      two 2, # trailing inside a list
    ]
    # after the last property
  }
  load kv { clients 4  rate 200/s  keys zipf(1000, 0.99)  mix [get 60%, put 30%, cas 10%] }
  crash { }  # a block whose kind is an action verb
  empty-named x-1 {}
  at 5s partition majorities-ring # trailing a timed item
  at 6s partition [n1, n2] [n3, n4, n5]
  at 12s heal
  at 14s {
    # inside an action group
    crash leader   # trailing inside a group
    restart random(2)
    pause [n1..n3]
    resume all
  }
  at 15s { }
  every 2s..4s from 20s to 26s { clock skew random-node by normal(0ms, 50ms) }
  every 1s to 10s pause [n1, n2]
  every 1s from 3s resume n1
  every # between a statement's words
    1s to 2s heal
  during 5s..9s disk n3 slow(5ms)
  during 5s .. 9s disk n3 full
  at 8s load kv rate 400/s
  at 9s clock drift n1 by 0.01%
  at 10s clock skew [n1, n2] by 5ms
  sweep cluster.election_timeout in [150ms..155ms, 150ms..300ms]
  sweep kv.rate in [1/s, 2/s,]
  sweep x in [exp(1s), "s", true] # trailing a sweep
  expect linearizable  # trailing an expect
  expect leader within 3s after heal
  expect leader within 3_000ms
  expect mean(kv.latency) <= 1s
  expect max(a.b.c) > 5
  expect min(x.y) >= -1.5
  # after the last item
}
# after the closing brace
"#;

/// A fragment (an included file: items without a header), comments first and last.
const FRAGMENT: &str = "// a fragment: this comment is the file's\n\n\
                        # this one is the station's\nstation s { service exp(1s) } # trailing\n\
                        expect mean(s.wait) < 1s\nseed 3\n# the end\n";

#[test]
fn every_construct_round_trips_with_its_comments() {
    let everything = round_trip("everything.scn", EVERYTHING).unwrap_or_else(|e| panic!("{e}"));
    let fragment = round_trip("fragment.scn", FRAGMENT).unwrap_or_else(|e| panic!("{e}"));
    // Comments stay where a reader put them.
    for (formatted, expected) in [
        (
            &everything,
            "# before the header\n// the other comment style\nscenario \"every",
        ),
        (
            &everything,
            "# not a comment\" {  # trailing the header\n  seed 1000007  # trailing the seed\n",
        ),
        (
            &everything,
            "  raft cluster {\n    # before the first property\n    nodes n1..n5  # trailing a property\n",
        ),
        (
            &everything,
            "    # inside a list\n    # trailing inside a list\n    list [one, two 2]\n    # after the last property\n  }\n",
        ),
        (
            &everything,
            "  crash { }  # a block whose kind is an action verb\n",
        ),
        (
            &everything,
            "  # inside an action group\n  # trailing inside a group\n  at 14s { crash leader  restart random(2)",
        ),
        (&everything, "  at 15s { }\n"),
        (
            &everything,
            "  # between a statement's words\n  every 1s to 2s heal\n",
        ),
        (
            &everything,
            "\n  expect p99(kv.latency) < 50ms  # an expect before the blocks moves to the end\n",
        ),
        (
            &everything,
            "  expect min(x.y) >= -1.5\n  # after the last item\n}\n# after the closing brace\n",
        ),
        (
            &fragment,
            "// a fragment: this comment is the file's\n\nseed 3\n\n# this one is the station's\nstation s",
        ),
        (&fragment, "expect mean(s.wait) < 1s\n# the end\n"),
    ] {
        assert!(
            formatted.contains(expected),
            "{expected:?} not in\n{formatted}"
        );
    }
}

/// Shipped scenarios written before `sim fmt` existed, not yet in canonical form. Run
/// `sim fmt --write` on each and take it off this list; the test below says when one is done.
const NOT_YET_CANONICAL: &[&str] = &[];

/// The shipped scenarios are in canonical form: `sim fmt --check` passes on each.
#[test]
fn shipped_scenarios_are_canonical() {
    let mut wrong = Vec::new();
    for (path, _) in shipped() {
        let o = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(["fmt", "--check"])
            .arg(&path)
            .output()
            .expect("the sim binary runs");
        let name = path.file_name().expect("a file name").to_string_lossy();
        let listed = NOT_YET_CANONICAL.contains(&name.as_ref());
        match (o.status.code(), listed) {
            (Some(0), false) | (Some(1), true) => {}
            (Some(0), true) => wrong.push(format!(
                "{name} is canonical now: take it off NOT_YET_CANONICAL"
            )),
            _ => wrong.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- generated scenarios -------------------------------------------------------------------
//
// Scenarios are generated as text, from random pieces in every spelling the grammar takes,
// with random whitespace and comments wherever whitespace may go.

mod generate {
    use proptest::prelude::*;

    type Text = BoxedStrategy<String>;

    fn pick(words: &'static [&'static str]) -> Text {
        proptest::sample::select(words)
            .prop_map(str::to_string)
            .boxed()
    }

    fn comment() -> Text {
        (
            prop_oneof![Just("#"), Just("//"), Just("# "), Just("// ")],
            prop_oneof![
                3 => "[ -~]{0,24}",
                1 => pick(&["\"", "{ [ ( unclosed", "# again", "// again", "µs 日本", "}", "\t x \r"]),
            ],
        )
            .prop_map(|(mark, text)| format!("{mark}{text}"))
            .boxed()
    }

    /// Whitespace between tokens that must be apart: never empty, sometimes with a comment.
    fn ws() -> Text {
        prop_oneof![
            10 => Just(" ".to_string()),
            3 => Just("  ".to_string()),
            3 => Just("\n  ".to_string()),
            1 => Just("\t".to_string()),
            1 => Just("\r\n".to_string()),
            1 => Just("\n\n    ".to_string()),
            2 => comment().prop_map(|c| format!("  {c}\n  ")),
            1 => comment().prop_map(|c| format!("{c}\n")),
        ]
        .boxed()
    }

    /// Whitespace where none is needed: often empty.
    fn ows() -> Text {
        prop_oneof![3 => Just(String::new()), 1 => ws()].boxed()
    }

    /// Digits with `_` anywhere after the first.
    fn spell_digits(digits: String, underscores: Vec<bool>) -> String {
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && underscores.get(i).copied().unwrap_or(false) {
                out.push('_');
            }
            out.push(ch);
        }
        out
    }

    fn digits(max_len: usize) -> Text {
        (
            proptest::string::string_regex(&format!("[0-9]{{1,{max_len}}}")).expect("a regex"),
            prop::collection::vec(prop::bool::weighted(0.15), 0..=max_len),
        )
            .prop_map(|(d, u)| spell_digits(d, u))
            .boxed()
    }

    fn integer() -> Text {
        (
            prop_oneof![3 => -1000i64..1000, 1 => any::<i64>()],
            prop::collection::vec(prop::bool::weighted(0.2), 0..20),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(n, u, zero)| {
                let d = spell_digits(n.unsigned_abs().to_string(), u);
                let d = if zero { format!("0{d}") } else { d };
                if n < 0 { format!("-{d}") } else { d }
            })
            .boxed()
    }

    fn float() -> Text {
        (
            prop::bool::ANY,
            "[0-9]{1,6}",
            "[0-9]{1,6}",
            prop::option::of((pick(&["e", "E"]), pick(&["", "+", "-"]), 0u32..100)),
        )
            .prop_map(|(neg, int, frac, exp)| {
                let exp = exp.map_or(String::new(), |(e, sign, n)| format!("{e}{sign}{n}"));
                format!("{}{int}.{frac}{exp}", if neg { "-" } else { "" })
            })
            .boxed()
    }

    // A float takes no `_`.

    /// A number as `unsigned` reads it: `12`, `1_2.5`, `.25`.
    fn unsigned() -> Text {
        prop_oneof![
            digits(8),
            (digits(6), digits(6)).prop_map(|(a, b)| format!("{a}.{b}")),
            digits(6).prop_map(|b| format!(".{b}")),
        ]
        .boxed()
    }

    const TIME_UNITS: &[&str] = &["ns", "us", "µs", "ms", "s", "m", "h"];

    /// A duration that is a whole number of nanoseconds below 2^64, in any unit and spelling.
    fn duration() -> Text {
        (
            0usize..TIME_UNITS.len(),
            0u64..1_000_000,
            digits(9),
            0usize..10,
            prop::bool::ANY,
        )
            .prop_map(|(u, whole, frac, frac_len, bare)| {
                let unit = TIME_UNITS[u];
                // Decimals a unit can take and stay whole nanoseconds.
                let max_frac = [0, 3, 3, 6, 9, 9, 9][u];
                let frac: String = frac.chars().filter(|c| c.is_ascii_digit()).collect();
                let frac = &frac[..frac.len().min(frac_len).min(max_frac)];
                match (frac.is_empty(), bare) {
                    (true, _) => format!("{whole}{unit}"),
                    (false, true) => format!(".{frac}{unit}"),
                    (false, false) => format!("{whole}.{frac}{unit}"),
                }
            })
            .boxed()
    }

    fn rate() -> Text {
        (unsigned(), pick(TIME_UNITS))
            .prop_map(|(n, u)| format!("{n}/{u}"))
            .boxed()
    }

    fn size() -> Text {
        (
            pick(&["B", "KiB", "MiB", "GiB", "TiB"]),
            0u64..1_000_000,
            pick(&["", ".5", ".25", ".75", ".125", ".0625", ".5_0"]),
        )
            .prop_map(|(unit, n, frac)| {
                let frac = if unit == "B" { "" } else { frac.as_str() };
                format!("{n}{frac}{unit}")
            })
            .boxed()
    }

    fn percent() -> Text {
        unsigned().prop_map(|n| format!("{n}%")).boxed()
    }

    fn string() -> Text {
        prop::collection::vec(
            prop_oneof![
                4 => "[a-zA-Z0-9 .,:;!?'()\\[\\]{}<>=+*/#-]{1,6}",
                1 => pick(&["\\\"", "\\\\", "\\n", "\\t", "#", "//", "µ", "日本", "é", "\t"]),
            ],
            0..6,
        )
        .prop_map(|parts| format!("\"{}\"", parts.concat()))
        .boxed()
    }

    fn name() -> Text {
        prop_oneof![
            2 => pick(&[
                "n1", "n5", "server", "a", "x-1", "_hidden", "leader", "all", "random", "halves",
                "seeds", "at_least", "every-x", "full", "exp", "true", "false", "in", "by", "from",
            ]),
            1 => "[a-z_][a-z0-9_-]{0,8}",
        ]
        .boxed()
    }

    /// An identifier that is not a statement keyword, for block kinds.
    fn kind() -> Text {
        name()
            .prop_filter("a statement keyword", |k| {
                !matches!(
                    k.as_str(),
                    "scenario"
                        | "seed"
                        | "duration"
                        | "include"
                        | "sweep"
                        | "expect"
                        | "at"
                        | "every"
                        | "during"
                )
            })
            .boxed()
    }

    fn range_end() -> Text {
        prop_oneof![
            duration(),
            rate(),
            size(),
            percent(),
            float(),
            integer(),
            name()
        ]
        .boxed()
    }

    fn scalar() -> Text {
        prop_oneof![
            integer(),
            float(),
            duration(),
            rate(),
            size(),
            percent(),
            string(),
            pick(&["true", "false"]),
            name(),
            (range_end(), range_end()).prop_map(|(a, b)| format!("{a}..{b}")),
        ]
        .boxed()
    }

    fn weight() -> Text {
        prop_oneof![percent(), float(), integer()].boxed()
    }

    fn list_of(inner: Text, weights: bool, min: usize) -> Text {
        let weight = if weights {
            prop::option::weighted(0.4, (ws(), weight())).boxed()
        } else {
            Just(None).boxed()
        };
        let entry = (inner, weight).prop_map(|(v, w)| match w {
            Some((s, w)) => format!("{v}{s}{w}"),
            None => v,
        });
        (
            prop::collection::vec((entry, ows(), ows()), min..5),
            prop::bool::weighted(0.3),
            ows(),
            ows(),
        )
            .prop_map(|(entries, trailing_comma, open, close)| {
                let n = entries.len();
                let mut s = format!("[{open}");
                for (i, (e, a, b)) in entries.into_iter().enumerate() {
                    s.push_str(&e);
                    if i + 1 < n || trailing_comma {
                        s.push_str(&format!("{a},{b}"));
                    }
                }
                format!("{s}{close}]")
            })
            .boxed()
    }

    fn call(arg: Text) -> Text {
        (
            name(),
            ows(),
            prop::collection::vec((arg, ows(), ows()), 0..4),
            ows(),
        )
            .prop_map(|(f, s, args, end)| {
                let args: Vec<String> = args
                    .into_iter()
                    .map(|(a, x, y)| format!("{x}{a}{y}"))
                    .collect();
                format!("{f}{s}({}{end})", args.join(","))
            })
            .boxed()
    }

    fn value() -> Text {
        scalar()
            .prop_recursive(3, 24, 4, |inner| {
                prop_oneof![list_of(inner.clone(), true, 0), call(inner)]
            })
            .boxed()
    }

    fn block() -> Text {
        (
            kind(),
            prop::option::of((ws(), name())),
            ows(),
            prop::collection::vec((ws(), name(), ws(), value()), 0..5),
            ws(),
        )
            .prop_map(|(kind, name, open, props, close)| {
                let name = name.map_or(String::new(), |(s, n)| format!("{s}{n}"));
                let props: String = props
                    .into_iter()
                    .map(|(a, k, b, v)| format!("{a}{k}{b}{v}"))
                    .collect();
                format!("{kind}{name}{open}{{{props}{close}}}")
            })
            .boxed()
    }

    fn target() -> Text {
        prop_oneof![
            name(),
            (ows(), 1u64..=u64::from(u32::MAX), ows(), ows())
                .prop_map(|(a, k, b, c)| format!("random{a}({b}{k}{c})")),
            list_of(value(), false, 0),
        ]
        .boxed()
    }

    fn action() -> Text {
        prop_oneof![
            (ws(), name()).prop_map(|(s, shape)| format!("partition{s}{shape}")),
            (
                ws(),
                prop::collection::vec((list_of(name(), false, 0), ows()), 2..4)
            )
                .prop_map(|(s, groups)| {
                    let groups: Vec<String> = groups
                        .into_iter()
                        .enumerate()
                        .map(|(i, (g, s))| if i == 0 { g } else { format!("{s}{g}") })
                        .collect();
                    format!("partition{s}{}", groups.concat())
                }),
            Just("heal".to_string()),
            (
                pick(&["crash", "restart", "pause", "resume"]),
                ws(),
                target()
            )
                .prop_map(|(verb, s, t)| format!("{verb}{s}{t}")),
            (
                ws(),
                pick(&["skew", "drift"]),
                ws(),
                target(),
                ws(),
                ws(),
                value()
            )
                .prop_map(|(a, kind, b, t, c, d, v)| format!("clock{a}{kind}{b}{t}{c}by{d}{v}")),
            (ws(), target(), ws(), prop_oneof![name(), call(value())])
                .prop_map(|(a, t, b, f)| format!("disk{a}{t}{b}{f}")),
            (ws(), name(), ws(), name(), ws(), value())
                .prop_map(|(a, c, b, k, d, v)| format!("load{a}{c}{b}{k}{d}{v}")),
        ]
        .boxed()
    }

    fn actions() -> Text {
        prop_oneof![
            3 => action(),
            1 => (ows(), prop::collection::vec((action(), ws()), 0..4)).prop_map(|(open, acts)| {
                let acts: String = acts.into_iter().map(|(a, s)| format!("{a}{s}")).collect();
                format!("{{{open}{acts}}}")
            }),
        ]
        .boxed()
    }

    fn timed() -> Text {
        prop_oneof![
            (ws(), duration(), ws(), actions()).prop_map(|(a, t, b, x)| format!("at{a}{t}{b}{x}")),
            (
                ws(),
                duration(),
                prop::option::of(duration()),
                prop::option::of((ws(), ws(), duration())),
                prop::option::of((ws(), ws(), duration())),
                ws(),
                actions()
            )
                .prop_map(|(a, lo, hi, from, to, b, x)| {
                    let period = hi.map_or(lo.clone(), |hi| format!("{lo}..{hi}"));
                    let from = from.map_or(String::new(), |(s, t, d)| format!("{s}from{t}{d}"));
                    let to = to.map_or(String::new(), |(s, t, d)| format!("{s}to{t}{d}"));
                    format!("every{a}{period}{from}{to}{b}{x}")
                }),
            (ws(), duration(), ows(), ows(), duration(), ws(), action())
                .prop_map(|(a, from, b, c, to, d, x)| format!("during{a}{from}{b}..{c}{to}{d}{x}")),
        ]
        .boxed()
    }

    fn sweep() -> Text {
        (
            ws(),
            prop::collection::vec(name(), 1..4),
            ws(),
            ws(),
            list_of(value(), false, 1),
        )
            .prop_map(|(a, path, b, c, list)| format!("sweep{a}{}{b}in{c}{list}", path.join(".")))
            .boxed()
    }

    fn expect_stmt() -> Text {
        prop_oneof![
            (
                ws(),
                pick(&["mean", "p99", "max", "count", "value"]),
                ows(),
                ows(),
                prop::collection::vec(name(), 2..4),
                ows(),
                ows(),
                pick(&["<", "<=", ">", ">="]),
                ows(),
                value()
            )
                .prop_map(|(a, stat, b, c, metric, d, e, cmp, f, v)| {
                    format!(
                        "expect{a}{stat}{b}({c}{}{d}){e}{cmp}{f}{v}",
                        metric.join(".")
                    )
                }),
            (
                ws(),
                name(),
                ws(),
                ws(),
                duration(),
                prop::option::of((ws(), ws(), name()))
            )
                .prop_map(|(a, event, b, c, d, after)| {
                    let after = after.map_or(String::new(), |(s, t, n)| format!("{s}after{t}{n}"));
                    format!("expect{a}{event}{b}within{c}{d}{after}")
                }),
            (ws(), name()).prop_map(|(a, p)| format!("expect{a}{p}")),
        ]
        .boxed()
    }

    pub fn scenario_text() -> Text {
        let items = (
            prop::option::of((
                ws(),
                integer().prop_filter("a seed", |n| !n.starts_with('-')),
            )),
            prop::option::of((ws(), duration())),
            prop::collection::vec((ws(), string()), 0..2),
            prop::collection::vec(block(), 0..5),
            prop::collection::vec(timed(), 0..5),
            prop::collection::vec(sweep(), 0..3),
            prop::collection::vec(expect_stmt(), 0..4),
        )
            .prop_map(|(seed, dur, includes, blocks, timed, sweeps, expects)| {
                let mut items = Vec::new();
                items.extend(seed.map(|(s, n)| format!("seed{s}{n}")));
                items.extend(dur.map(|(s, d)| format!("duration{s}{d}")));
                items.extend(includes.into_iter().map(|(s, p)| format!("include{s}{p}")));
                items.extend(blocks);
                items.extend(timed);
                items.extend(sweeps);
                items.extend(expects);
                items
            })
            .prop_shuffle();
        (
            prop::option::of(("[a-z ]{0,8}", ws(), ows())),
            prop::collection::vec(comment(), 0..3),
            items,
            prop::collection::vec(ws(), 12),
            prop::collection::vec(comment(), 0..3),
            ws(),
        )
            .prop_map(|(header, before, items, seps, after, last)| {
                let mut s: String = before.iter().map(|c| format!("{c}\n")).collect();
                if let Some((name, a, b)) = &header {
                    s.push_str(&format!("scenario{a}\"{name}\"{b}{{"));
                }
                for (i, item) in items.iter().enumerate() {
                    s.push_str(&seps[i % seps.len()]);
                    s.push_str(item);
                }
                s.push_str(&last);
                if header.is_some() {
                    s.push('}');
                }
                for c in &after {
                    s.push_str(&format!("\n{c}"));
                }
                s
            })
            .boxed()
    }
}

fn cases() -> u32 {
    std::env::var("SIM_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Generated scenarios parse, round-trip through `format`, format idempotently and keep their
/// comments. The seed is fixed, so a run is repeatable; SIM_PROPTEST_SEED varies it.
#[test]
fn generated_scenarios_round_trip() {
    let seed: u64 = std::env::var("SIM_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5c3_f0a7);
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (seed >> (8 * (i % 8))) as u8 ^ (i as u8);
    }
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let started = std::time::Instant::now();
    let result = runner.run(&generate::scenario_text(), |text| {
        round_trip("gen.scn", &text)
            .map(|_| ())
            .map_err(TestCaseError::fail)
    });
    eprintln!(
        "fmt_roundtrip: {} generated scenarios (seed {seed}) in {:.1?}",
        cases(),
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

//! Text to AST: the pest grammar (`grammar.pest`) and the conversion of its parse tree.
//!
//! Syntax errors come back as one [`Diagnostic`] with the position pest reports and the expected
//! tokens in words; literal errors (a duration below a nanosecond, an integer too large) as one
//! diagnostic each, all gathered in one pass.

use pest::Parser;
use pest::iterators::Pair;
use pest_derive::Parser;

use crate::ast::{Block, CmpOp, Entry, Expect, Ident, Property, Scenario, Span, Value, ValueKind};
use crate::diag::Diagnostic;

#[derive(Parser)]
#[grammar = "grammar.pest"]
struct ScnParser;

/// The most bytes a scenario file may have: a bound on parser work and memory.
pub const MAX_SOURCE_BYTES: usize = 4 << 20;

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    let (line, col) = s.start_pos().line_col();
    Span {
        start: s.start(),
        end: s.end(),
        line,
        col,
    }
}

fn ident(pair: Pair<'_, Rule>) -> Ident {
    Ident {
        span: span_of(&pair),
        text: pair.as_str().to_string(),
    }
}

/// A rule's name as a reader would say it, for "expected ..." messages.
fn describe_rule(rule: &Rule) -> String {
    match rule {
        Rule::EOI => "end of file",
        Rule::scenario => "`scenario \"name\" { ... }`",
        Rule::seed_stmt => "`seed`",
        Rule::duration_stmt => "`duration`",
        Rule::expect_stmt => "`expect`",
        Rule::block | Rule::kind => "a component block such as `station server { ... }`",
        Rule::name => "a component name",
        Rule::property | Rule::key => "a property name",
        Rule::value | Rule::call | Rule::call_name => "a value",
        Rule::duration => "a duration such as 150ms",
        Rule::rate => "a rate such as 200/s",
        Rule::percent => "a percentage such as 30%",
        Rule::float => "a number",
        Rule::integer => "an integer",
        Rule::string => "a string in double quotes",
        Rule::boolean => "true or false",
        Rule::ident => "a name",
        Rule::list => "a list such as [a, b]",
        Rule::stat => "a statistic such as mean or p99",
        Rule::metric => "a metric name such as server.wait",
        Rule::cmp => "a comparison (<, <=, >, >=)",
        other => return format!("{other:?}"),
    }
    .to_string()
}

/// Parses `source` (the text of `file`) into a scenario, or every problem found.
pub fn parse(file: &str, source: &str) -> Result<Scenario, Vec<Diagnostic>> {
    if source.len() > MAX_SOURCE_BYTES {
        let d = Diagnostic {
            file: file.to_string(),
            line: 1,
            col: 1,
            message: format!("the file is larger than {} MiB", MAX_SOURCE_BYTES >> 20),
            hint: None,
        };
        return Err(vec![d]);
    }
    let mut pairs =
        ScnParser::parse(Rule::file, source).map_err(|e| vec![syntax_error(file, e)])?;
    let file_pair = pairs.next().expect("the file rule always yields one pair");
    let scenario_pair = file_pair
        .into_inner()
        .next()
        .expect("a file holds one scenario");
    let mut errors = Vec::new();
    let mut inner = scenario_pair.into_inner();
    let name_pair = inner.next().expect("a scenario has a name");
    let mut scenario = Scenario {
        file: file.to_string(),
        name: string_value(name_pair),
        seed: None,
        duration: None,
        blocks: Vec::new(),
        expects: Vec::new(),
    };
    for item in inner {
        let span = span_of(&item);
        match item.as_rule() {
            Rule::seed_stmt => {
                let v = item.into_inner().next().expect("seed has a value");
                match parse_u64(v.as_str()) {
                    Some(s) if scenario.seed.is_none() => scenario.seed = Some(s),
                    Some(_) => errors.push(Diagnostic::at(file, span, "the seed is given twice")),
                    None => errors.push(Diagnostic::at(
                        file,
                        span_of(&v),
                        "the seed must be an integer from 0 to 2^64-1",
                    )),
                }
            }
            Rule::duration_stmt => {
                let v = item.into_inner().next().expect("duration has a value");
                match simcore::time::parse_duration(v.as_str()) {
                    Ok(_) if scenario.duration.is_some() => {
                        errors.push(Diagnostic::at(file, span, "the duration is given twice"))
                    }
                    Ok(d) => scenario.duration = Some((d, span_of(&v))),
                    Err(e) => errors.push(Diagnostic::at(file, span_of(&v), e.to_string())),
                }
            }
            Rule::block => {
                let mut parts = item.into_inner();
                let kind = ident(parts.next().expect("a block has a kind"));
                let name = ident(parts.next().expect("a block has a name"));
                let mut props = Vec::new();
                for p in parts {
                    let mut kv = p.into_inner();
                    let key = ident(kv.next().expect("a property has a key"));
                    match value(file, kv.next().expect("a property has a value")) {
                        Ok(value) => props.push(Property { key, value }),
                        Err(d) => errors.push(d),
                    }
                }
                scenario.blocks.push(Block { kind, name, props });
            }
            Rule::expect_stmt => {
                let text = item
                    .as_str()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut parts = item.into_inner();
                let stat = ident(parts.next().expect("expect has a statistic"));
                let metric = ident(parts.next().expect("expect has a metric"));
                let op = match parts.next().expect("expect has a comparison").as_str() {
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                match value(file, parts.next().expect("expect has a bound")) {
                    Ok(bound) => scenario.expects.push(Expect {
                        stat,
                        metric,
                        op,
                        bound,
                        text,
                        span,
                    }),
                    Err(d) => errors.push(d),
                }
            }
            other => unreachable!("the grammar allows no {other:?} in a scenario"),
        }
    }
    if errors.is_empty() {
        Ok(scenario)
    } else {
        Err(errors)
    }
}

fn syntax_error(file: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    let (line, col) = match e.line_col {
        pest::error::LineColLocation::Pos(p) => p,
        pest::error::LineColLocation::Span(p, _) => p,
    };
    let e = e.renamed_rules(describe_rule);
    let message = match &e.variant {
        pest::error::ErrorVariant::ParsingError { .. } => e.variant.message().into_owned(),
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let message = message.replacen("expected ", "syntax error: expected ", 1);
    Diagnostic {
        file: file.to_string(),
        line,
        col,
        message,
        hint: None,
    }
}

fn parse_u64(text: &str) -> Option<u64> {
    text.replace('_', "").parse().ok()
}

fn string_value(pair: Pair<'_, Rule>) -> String {
    let raw = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Seconds per time unit, for rates.
fn unit_secs(unit: &str) -> f64 {
    match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "m" => 60.0,
        "h" => 3600.0,
        _ => 1.0,
    }
}

fn value(file: &str, pair: Pair<'_, Rule>) -> Result<Value, Diagnostic> {
    let span = span_of(&pair);
    let text = pair.as_str();
    let bad = |msg: String| Diagnostic::at(file, span, msg);
    let kind = match pair.as_rule() {
        Rule::integer => ValueKind::Integer(
            text.replace('_', "")
                .parse()
                .map_err(|_| bad(format!("{text} does not fit in a 64-bit integer")))?,
        ),
        Rule::float => {
            let f: f64 = text
                .parse()
                .map_err(|_| bad(format!("{text} is not a number")))?;
            if !f.is_finite() {
                return Err(bad(format!("{text} is too large")));
            }
            ValueKind::Float(f)
        }
        Rule::duration => ValueKind::Duration(
            simcore::time::parse_duration(text).map_err(|e| bad(e.to_string()))?,
        ),
        Rule::rate => {
            let (number, unit) = text
                .split_once('/')
                .expect("the grammar puts a / in every rate");
            let n: f64 = number
                .replace('_', "")
                .parse()
                .map_err(|_| bad(format!("{number} is not a number")))?;
            ValueKind::Rate {
                per_sec: n / unit_secs(unit),
            }
        }
        Rule::percent => {
            let n: f64 = text
                .trim_end_matches('%')
                .replace('_', "")
                .parse()
                .map_err(|_| bad(format!("{text} is not a percentage")))?;
            ValueKind::Percent(n)
        }
        Rule::string => ValueKind::Str(string_value(pair)),
        Rule::boolean => ValueKind::Bool(text == "true"),
        Rule::ident => ValueKind::Ident(text.to_string()),
        Rule::call => {
            let mut parts = pair.into_inner();
            let name = parts
                .next()
                .expect("a call has a name")
                .as_str()
                .to_string();
            let args = parts
                .map(|p| value(file, p))
                .collect::<Result<Vec<_>, _>>()?;
            ValueKind::Call { name, args }
        }
        Rule::list => {
            let mut entries = Vec::new();
            for e in pair.into_inner() {
                let mut parts = e.into_inner();
                let v = value(file, parts.next().expect("an entry has a value"))?;
                let weight = parts.next().map(|w| value(file, w)).transpose()?;
                entries.push(Entry { value: v, weight });
            }
            ValueKind::List(entries)
        }
        other => unreachable!("the grammar yields no {other:?} as a value"),
    };
    Ok(Value { kind, span })
}

#[cfg(test)]
mod tests {
    use super::*;
    use simcore::SimDuration;

    const GOOD: &str = r#"
# a comment
scenario "demo" {
  seed 42
  duration 10s
  source a { rate 200/s  customers 1_000  to [left 30%, right 70%] }   // trailing comment
  station left { servers 2  service uniform(1ms, 5ms)  name "x\"y"  on true  scale -1.5 }
  expect p99(left.wait) < 50ms
}
"#;

    #[test]
    fn parses_every_construct() {
        let s = parse("demo.scn", GOOD).unwrap();
        assert_eq!((s.name.as_str(), s.seed), ("demo", Some(42)));
        assert_eq!(s.duration.unwrap().0, SimDuration::from_secs(10));
        assert_eq!(s.blocks.len(), 2);
        let a = &s.blocks[0];
        assert_eq!(
            (a.kind.text.as_str(), a.name.text.as_str()),
            ("source", "a")
        );
        assert_eq!(a.props[0].value.kind, ValueKind::Rate { per_sec: 200.0 });
        assert_eq!(a.props[1].value.kind, ValueKind::Integer(1000));
        match &a.props[2].value.kind {
            ValueKind::List(entries) => {
                assert_eq!(entries[0].value.kind, ValueKind::Ident("left".into()));
                assert_eq!(
                    entries[1].weight.as_ref().unwrap().kind,
                    ValueKind::Percent(70.0)
                );
            }
            other => panic!("{other:?}"),
        }
        let left = &s.blocks[1];
        match &left.props[1].value.kind {
            ValueKind::Call { name, args } => {
                assert_eq!(name, "uniform");
                assert_eq!(
                    args[1].kind,
                    ValueKind::Duration(SimDuration::from_millis(5))
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(left.props[2].value.kind, ValueKind::Str("x\"y".into()));
        assert_eq!(left.props[3].value.kind, ValueKind::Bool(true));
        assert_eq!(left.props[4].value.kind, ValueKind::Float(-1.5));
        let e = &s.expects[0];
        assert_eq!(
            (e.stat.text.as_str(), e.metric.text.as_str(), e.op),
            ("p99", "left.wait", CmpOp::Lt)
        );
        assert_eq!(e.text, "expect p99(left.wait) < 50ms");
        assert_eq!((a.kind.span.line, a.kind.span.col), (6, 3));
    }

    #[test]
    fn syntax_errors_name_the_place_and_what_was_expected() {
        let errs = parse("bad.scn", "scenario \"x\" {\n  station s { servers }\n}").unwrap_err();
        assert_eq!(errs.len(), 1);
        let msg = errs[0].to_string();
        assert!(
            msg.starts_with("bad.scn:2:23: syntax error: expected"),
            "{msg}"
        );
        let errs = parse(
            "bad.scn",
            "scenario \"x\" { duration 1.5ns  seed 99999999999999999999 }",
        )
        .unwrap_err();
        assert!(errs[0].to_string().contains("nanosecond"), "{errs:?}");
        assert!(
            errs.len() == 2 || errs[1].to_string().contains("seed"),
            "{errs:?}"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let samples = [
            "",
            "scenario",
            "scenario \"",
            "}}}}",
            "\u{0}\u{ffff}",
            "scenario \"a\" { x y { z [ } }",
            "scenario \"a\" { s t { k exp(((((( } }",
            "scenario \"a\" { s t { k 1e999 } }",
            "scenario \"a\" { s t { k 1.0e999 } }",
        ];
        for s in samples {
            let _ = parse("g.scn", s);
        }
        let mut x: u64 = 7;
        let bytes: Vec<u8> = GOOD.bytes().collect();
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = bytes.clone();
            let i = (x % b.len() as u64) as usize;
            b[i] = (x >> 32) as u8;
            b.truncate(((x >> 16) % (b.len() as u64 + 1)) as usize);
            let _ = parse("m.scn", &String::from_utf8_lossy(&b));
        }
    }
}

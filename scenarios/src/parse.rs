//! Text to AST: the pest grammar (`grammar.pest`) and the conversion of its parse tree.
//!
//! Syntax errors come back as one [`Diagnostic`] with the position pest reports and the expected
//! tokens in words; literal errors (a duration below a nanosecond, an integer too large) and
//! actions that are no declared verb or lack arguments as one diagnostic each, all gathered in one
//! pass. The grammar knows no verb: actions are split here by the arguments each verb declares in
//! the models' schemas ([`models::schema::VerbSpec`]), so a model's new verb needs no grammar
//! change. Input is bounded before pest sees it: at most
//! [`MAX_SOURCE_BYTES`] bytes and [`MAX_NESTING`] levels of brackets, so neither memory nor the
//! parser's recursion can run away.

use pest::Parser;
use pest::iterators::Pair;
use pest_derive::Parser;
use simcore::SimDuration;

use models::MODELS;
use models::schema::{ArgSpec, ModelSpec, VerbSpec};

use crate::ast::{
    Action, Block, Check, CmpOp, Entry, Expect, FileName, Ident, Include, Property, Scenario, Span,
    Sweep, Timed, Value, ValueKind, When,
};
use crate::diag::{Diagnostic, did_you_mean};

#[derive(Parser)]
#[grammar = "grammar.pest"]
struct ScnParser;

/// The most bytes a scenario file may have: a bound on parser work and memory.
pub const MAX_SOURCE_BYTES: usize = 4 << 20;

/// The deepest nesting of `(`, `[` and `{` a file may have: a bound on the parser's recursion.
pub const MAX_NESTING: usize = 64;

/// Line and column of byte offsets, in time linear in the input over a whole parse: line starts
/// are indexed once, and columns are counted forward from the last position asked for (the
/// parse tree is walked mostly in source order), so neither many nodes nor one long line makes
/// position-finding quadratic (pest's own `line_col` scans from the start of the input).
struct Lines<'s> {
    text: &'s str,
    starts: Vec<usize>,
    /// The last position resolved: (byte offset, line, column).
    last: std::cell::Cell<(usize, usize, usize)>,
}

impl<'s> Lines<'s> {
    fn new(text: &'s str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines {
            text,
            starts,
            last: std::cell::Cell::new((0, 1, 1)),
        }
    }

    /// 1-based line and column (in characters) of byte offset `pos`.
    fn line_col(&self, pos: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= pos);
        let line_start = self.starts[line - 1];
        let (last_pos, last_line, last_col) = self.last.get();
        let col = if last_line == line && last_pos <= pos {
            last_col + self.text[last_pos..pos].chars().count()
        } else {
            1 + self.text[line_start..pos].chars().count()
        };
        self.last.set((pos, line, col));
        (line, col)
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        self.between(s.start(), s.end())
    }

    /// The span from byte `start` to byte `end`.
    fn between(&self, start: usize, end: usize) -> Span {
        let (line, col) = self.line_col(start);
        Span {
            start,
            end,
            line,
            col,
        }
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            span: self.span(&pair),
            text: pair.as_str().to_string(),
        }
    }
}

/// A rule's name as a reader would say it, for "expected ..." messages.
fn describe_rule(rule: &Rule) -> String {
    match rule {
        Rule::EOI => "end of file",
        Rule::scenario => "`scenario \"name\" { ... }`",
        Rule::seed_stmt => "`seed`",
        Rule::duration_stmt => "`duration`",
        Rule::include_stmt => "`include`",
        Rule::sweep_stmt => "`sweep`",
        Rule::expect_stmt => "`expect`",
        Rule::at_stmt => "`at`",
        Rule::every_stmt => "`every`",
        Rule::during_stmt => "`during`",
        Rule::block | Rule::kind => "a component block such as `station server { ... }`",
        Rule::name => "a component name",
        Rule::property | Rule::key => "a property name",
        Rule::value | Rule::call | Rule::call_name | Rule::scalar => "a value",
        Rule::range => "a range such as 150ms..300ms",
        Rule::duration | Rule::time => "a duration such as 150ms",
        Rule::window | Rule::duration_range => "a time range such as 5s..9s",
        Rule::period => "a period such as 2s or 2s..4s",
        Rule::every_from => "`from`",
        Rule::every_to => "`to`",
        Rule::rate => "a rate such as 200/s",
        Rule::size => "a size such as 4KiB",
        Rule::percent | Rule::weight => "a percentage such as 30%",
        Rule::float => "a number",
        Rule::integer => "an integer",
        Rule::string => "a string in double quotes",
        Rule::boolean => "true or false",
        Rule::ident => "a name",
        Rule::list | Rule::entry => "a list such as [a, b]",
        Rule::path => "a property such as server.service",
        Rule::action_group => "actions in braces",
        Rule::words => "an action such as `heal` or `crash n1`",
        Rule::body => "`{`",
        Rule::metric_check | Rule::stat => "a statistic such as mean or p99",
        Rule::liveness | Rule::event_name => "an event such as leader",
        Rule::property_check | Rule::property_name => "a property such as linearizable",
        Rule::metric => "a metric name such as server.wait",
        Rule::cmp => "a comparison (<, <=, >, >=)",
        Rule::anchor => "an event such as heal",
        Rule::keyword => "a keyword",
        other => {
            // The whole-word keyword rules (`w_at`, `kw_at`) read as the keyword itself.
            let name = format!("{other:?}");
            return match name.strip_prefix("w_").or(name.strip_prefix("kw_")) {
                Some(word) => format!("`{word}`"),
                None => name,
            };
        }
    }
    .to_string()
}

/// Refuses input too large or too deeply nested for the parser, before it runs.
fn check_bounds(file: &str, source: &str) -> Result<(), Diagnostic> {
    let at = |line: usize, col: usize, message: String| Diagnostic {
        file: file.to_string(),
        line,
        col,
        message,
        hint: None,
        span: None,
    };
    if source.len() > MAX_SOURCE_BYTES {
        return Err(at(
            1,
            1,
            format!("the file is larger than {} MiB", MAX_SOURCE_BYTES >> 20),
        ));
    }
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let (mut in_string, mut in_comment, mut escaped) = (false, false, false);
    let mut prev = '\0';
    for c in source.chars() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
            in_comment = false;
            in_string = false;
        } else if in_comment {
        } else if in_string {
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
            in_comment = true;
        } else if matches!(c, '(' | '[' | '{') {
            depth += 1;
            if depth > MAX_NESTING {
                let d = at(
                    line,
                    col,
                    format!("brackets nested more than {MAX_NESTING} deep"),
                );
                return Err(d.hint("flatten the value; no scenario needs this depth"));
            }
        } else if matches!(c, ')' | ']' | '}') {
            depth = depth.saturating_sub(1);
        }
        prev = c;
    }
    Ok(())
}

/// Parses `source` (the text of `file`) into a scenario, or every problem found. `include`s are
/// recorded, not followed: [`crate::load`] follows them. Actions are split by the verbs of every
/// model family, [`MODELS`].
pub fn parse(file: &str, source: &str) -> Result<Scenario, Vec<Diagnostic>> {
    parse_with(file, source, MODELS)
}

/// Parses with the verbs of the given model families (the tests use made-up ones).
pub fn parse_with(
    file: &str,
    source: &str,
    models: &[&'static ModelSpec],
) -> Result<Scenario, Vec<Diagnostic>> {
    check_bounds(file, source).map_err(|d| vec![d])?;
    let mut pairs =
        ScnParser::parse(Rule::file, source).map_err(|e| vec![syntax_error(file, e)])?;
    let file_pair = pairs.next().expect("the file rule always yields one pair");
    let top = file_pair
        .into_inner()
        .next()
        .expect("a file holds a scenario or a fragment");
    let fname: FileName = file.into();
    let lines = Lines::new(source);
    let mut p = Builder {
        file: fname.clone(),
        lines: &lines,
        models,
        errors: Vec::new(),
    };
    let mut scenario = Scenario {
        file: file.to_string(),
        name: None,
        seed: None,
        duration: None,
        blocks: Vec::new(),
        expects: Vec::new(),
        schedule: Vec::new(),
        sweeps: Vec::new(),
        includes: Vec::new(),
    };
    let mut inner = top.clone().into_inner();
    if top.as_rule() == Rule::scenario {
        let name_pair = inner.next().expect("a scenario has a name");
        scenario.name = Some(string_value(name_pair));
    }
    for item in inner {
        p.item(item, &mut scenario);
    }
    if p.errors.is_empty() {
        Ok(scenario)
    } else {
        Err(p.errors)
    }
}

struct Builder<'l, 's> {
    file: FileName,
    lines: &'l Lines<'s>,
    /// Whose verbs actions may use.
    models: &'l [&'static ModelSpec],
    errors: Vec<Diagnostic>,
}

/// How many of the values `rest` the argument `arg` takes: one, but for a partition's explicit
/// groups, which are every list in a row (`[n1, n2] [n3, n4, n5]`).
pub fn arg_len(arg: &ArgSpec, rest: &[Value]) -> usize {
    let is_list = |v: &Value| matches!(v.kind, ValueKind::List(_));
    match arg {
        ArgSpec::Shape(_) if rest.first().is_some_and(is_list) => {
            rest.iter().take_while(|v| is_list(v)).count()
        }
        _ => rest.len().min(1),
    }
}

/// An action's values, one slice per argument of its verb (as [`arg_len`] splits them); an
/// argument with no value left gets an empty slice.
pub fn split_args<'v>(verb: &VerbSpec, mut args: &'v [Value]) -> Vec<&'v [Value]> {
    verb.args
        .iter()
        .map(|a| {
            let (this, rest) = args.split_at(arg_len(a, args));
            args = rest;
            this
        })
        .collect()
}

/// What follows `at T` without braces, before it is split: values, and the bodies of blocks.
enum Token<'i> {
    Word(Value),
    Body(Pair<'i, Rule>),
}

impl Builder<'_, '_> {
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.errors.push(Diagnostic::at(&self.file, span, msg));
    }

    fn value(&mut self, pair: Pair<'_, Rule>) -> Option<Value> {
        match value(&self.file, self.lines, pair) {
            Ok(v) => Some(v),
            Err(d) => {
                self.errors.push(d);
                None
            }
        }
    }

    fn duration(&mut self, pair: Pair<'_, Rule>) -> Option<SimDuration> {
        let span = self.lines.span(&pair);
        match simcore::time::parse_duration(pair.as_str()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(span, e.to_string());
                None
            }
        }
    }

    fn item(&mut self, item: Pair<'_, Rule>, scenario: &mut Scenario) {
        let span = self.lines.span(&item);
        match item.as_rule() {
            Rule::seed_stmt => {
                let v = item.into_inner().next().expect("seed has a value");
                match parse_u64(v.as_str()) {
                    Some(_) if scenario.seed.is_some() => self.err(span, "the seed is given twice"),
                    Some(s) => scenario.seed = Some((s, self.lines.span(&v))),
                    None => self.err(
                        self.lines.span(&v),
                        "the seed must be an integer from 0 to 2^64-1",
                    ),
                }
            }
            Rule::duration_stmt => {
                let v = item.into_inner().next().expect("duration has a value");
                let vspan = self.lines.span(&v);
                if let Some(d) = self.duration(v) {
                    if scenario.duration.is_some() {
                        self.err(span, "the duration is given twice");
                    } else {
                        scenario.duration = Some((d, vspan));
                    }
                }
            }
            Rule::include_stmt => {
                let v = item.into_inner().next().expect("include has a path");
                scenario.includes.push(Include {
                    path: string_value(v),
                    span,
                });
            }
            Rule::sweep_stmt => {
                let mut parts = item.into_inner();
                let path = self.lines.ident(parts.next().expect("sweep has a path"));
                let list = parts.next().expect("sweep has a list");
                let lspan = self.lines.span(&list);
                if let Some(Value {
                    kind: ValueKind::List(entries),
                    ..
                }) = self.value(list)
                {
                    if entries.is_empty() {
                        self.err(lspan, "a sweep needs at least one value");
                    }
                    if let Some(w) = entries.iter().find_map(|e| e.weight.as_ref()) {
                        self.err(w.span, "sweep values take no weights");
                    }
                    scenario.sweeps.push(Sweep {
                        file: self.file.clone(),
                        path,
                        values: entries.into_iter().map(|e| e.value).collect(),
                        span,
                    });
                }
            }
            Rule::block => {
                let mut parts = item.into_inner();
                let kind = self.lines.ident(parts.next().expect("a block has a kind"));
                let mut name = None;
                let mut props = Vec::new();
                for part in parts {
                    match part.as_rule() {
                        Rule::name => name = Some(self.lines.ident(part)),
                        Rule::property => props.extend(self.property(part)),
                        other => unreachable!("no {other:?} in a block"),
                    }
                }
                scenario.blocks.push(Block {
                    file: self.file.clone(),
                    kind,
                    name,
                    props,
                    span,
                });
            }
            Rule::expect_stmt => {
                let check = item.into_inner().next().expect("expect has a check");
                if let Some(check) = self.check(check) {
                    let mut e = Expect {
                        file: self.file.clone(),
                        check,
                        text: String::new(),
                        span,
                    };
                    // Built from the parsed parts, so comments inside the line stay out of it.
                    e.text = crate::fmt::expect_text(&e);
                    scenario.expects.push(e);
                }
            }
            Rule::at_stmt | Rule::every_stmt | Rule::during_stmt => {
                let (timed, blocks) = self.timed(item);
                scenario.schedule.extend(timed);
                scenario.blocks.extend(blocks);
            }
            other => unreachable!("the grammar allows no {other:?} as an item"),
        }
    }

    fn check(&mut self, pair: Pair<'_, Rule>) -> Option<Check> {
        match pair.as_rule() {
            Rule::metric_check => {
                let mut parts = pair.into_inner();
                let stat = self
                    .lines
                    .ident(parts.next().expect("a check has a statistic"));
                let metric = self
                    .lines
                    .ident(parts.next().expect("a check has a metric"));
                let op = match parts.next().expect("a check has a comparison").as_str() {
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                let bound = self.value(parts.next().expect("a check has a bound"))?;
                Some(Check::Metric {
                    stat,
                    metric,
                    op,
                    bound,
                })
            }
            Rule::liveness => {
                let mut parts = pair.into_inner();
                let event = self
                    .lines
                    .ident(parts.next().expect("liveness names an event"));
                let within = self.duration(parts.next().expect("liveness has a time"))?;
                let after = parts.next().map(|p| self.lines.ident(p));
                Some(Check::Liveness {
                    event,
                    within,
                    after,
                })
            }
            Rule::property_check => Some(Check::Property(
                self.lines.ident(
                    pair.into_inner()
                        .next()
                        .expect("a property check has a name"),
                ),
            )),
            other => unreachable!("no {other:?} in expect"),
        }
    }

    /// A block's property, or None when its value has a literal error (recorded).
    fn property(&mut self, pair: Pair<'_, Rule>) -> Option<Property> {
        let mut kv = pair.into_inner();
        let key = self.lines.ident(kv.next().expect("a property has a key"));
        let value = self.value(kv.next().expect("a property has a value"))?;
        Some(Property { key, value })
    }

    /// A timed statement, and the blocks written after it that the grammar could not tell from
    /// its action (see `words` in grammar.pest).
    fn timed(&mut self, item: Pair<'_, Rule>) -> (Option<Timed>, Vec<Block>) {
        let stmt = item.as_span();
        let rule = item.as_rule();
        let mut parts = item.into_inner().peekable();
        let when = match rule {
            Rule::at_stmt => {
                let t = parts.next().expect("at has a time");
                let Some(at) = self.duration(t.into_inner().next().expect("a time is a duration"))
                else {
                    return (None, Vec::new());
                };
                When::At(at)
            }
            Rule::every_stmt => {
                let period = parts
                    .next()
                    .expect("every has a period")
                    .into_inner()
                    .next()
                    .expect("a period has a value");
                let (min, max) = match period.as_rule() {
                    Rule::duration_range => {
                        let mut ends = period.into_inner();
                        let lo = self.duration(ends.next().expect("a range has a start"));
                        let hi = self.duration(ends.next().expect("a range has an end"));
                        (lo, hi)
                    }
                    _ => {
                        let d = self.duration(period);
                        (d, d)
                    }
                };
                let (Some(min), Some(max)) = (min, max) else {
                    return (None, Vec::new());
                };
                let mut from = None;
                let mut to = None;
                while let Some(p) =
                    parts.next_if(|p| matches!(p.as_rule(), Rule::every_from | Rule::every_to))
                {
                    let is_from = p.as_rule() == Rule::every_from;
                    let t = p.into_inner().next().expect("a bound has a time");
                    let Some(d) =
                        self.duration(t.into_inner().next().expect("a time is a duration"))
                    else {
                        return (None, Vec::new());
                    };
                    if is_from {
                        from = Some(d);
                    } else {
                        to = Some(d);
                    }
                }
                When::Every { min, max, from, to }
            }
            _ => {
                let w = parts.next().expect("during has a window");
                let mut ends = w.into_inner();
                let from = self.duration(ends.next().expect("a window has a start"));
                let to = self.duration(ends.next().expect("a window has an end"));
                let (Some(from), Some(to)) = (from, to) else {
                    return (None, Vec::new());
                };
                When::During { from, to }
            }
        };
        let what = parts.next().expect("a timed statement has actions");
        let (actions, end, blocks) = if what.as_rule() == Rule::action_group {
            let end = what.as_span().end();
            (self.group(what), end, Vec::new())
        } else {
            match self.words(what) {
                Some((action, blocks)) => {
                    let end = action.span.end;
                    (vec![action], end, blocks)
                }
                None => return (None, Vec::new()),
            }
        };
        let timed = Timed {
            file: self.file.clone(),
            when,
            actions,
            span: self.lines.between(stmt.start(), end),
        };
        (Some(timed), blocks)
    }

    /// The values of `pairs`, or None when one has a literal error (recorded): the values are
    /// then not split into actions, as a missing one would shift the rest.
    fn values<'i>(&mut self, pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        let mut ok = true;
        for p in pairs {
            match self.value(p) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// The actions of `{ ... }`, each as long as its verb's arguments.
    fn group(&mut self, pair: Pair<'_, Rule>) -> Vec<Action> {
        let Some(words) = self.values(pair.into_inner()) else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        let mut rest = words.as_slice();
        while !rest.is_empty() {
            let Some((action, taken)) = self.action(rest) else {
                break;
            };
            actions.push(action);
            rest = &rest[taken..];
        }
        actions
    }

    /// The one action of `at T ...` without braces (or of `during`), and the blocks after it.
    fn words(&mut self, pair: Pair<'_, Rule>) -> Option<(Action, Vec<Block>)> {
        let mut tokens = Vec::new();
        let mut ok = true;
        for p in pair.into_inner() {
            if p.as_rule() == Rule::body {
                tokens.push(Token::Body(p));
            } else if let Some(v) = self.value(p) {
                tokens.push(Token::Word(v));
            } else {
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let mut tokens = tokens.into_iter().peekable();
        let mut head = Vec::new();
        while let Some(Token::Word(v)) = tokens.next_if(|t| matches!(t, Token::Word(_))) {
            head.push(v);
        }
        let (action, taken) = self.action(&head)?;
        let mut extra = head.split_off(taken);
        let mut blocks = Vec::new();
        let mut after_action = true;
        loop {
            match tokens.next() {
                Some(Token::Body(body)) => {
                    // A block's kind and name are the one or two words before its body.
                    let kept = extra.len().min(2);
                    let words = extra.split_off(extra.len() - kept);
                    if let Some(first) = extra.first() {
                        self.stray(&action, first, after_action);
                        return None;
                    }
                    blocks.push(self.block_after(words, body)?);
                    after_action = false;
                }
                Some(Token::Word(v)) => extra.push(v),
                None => break,
            }
        }
        if let Some(first) = extra.first() {
            self.stray(&action, first, after_action);
            return None;
        }
        Some((action, blocks))
    }

    /// Reports `word`, a value that is neither the action's nor a block's kind or name: one too
    /// many for the action when it follows it, else a block's missing body.
    fn stray(&mut self, action: &Action, word: &Value, after_action: bool) {
        if after_action {
            self.too_many(action, word);
        } else {
            self.err(word.span, "syntax error: expected `{`");
        }
    }

    /// A block whose head (`KIND` or `KIND NAME`) was read as values, with its body.
    fn block_after(&mut self, head: Vec<Value>, body: Pair<'_, Rule>) -> Option<Block> {
        let brace = self.lines.span(&body);
        let mut idents = Vec::new();
        for v in head {
            // `true` and `false` read as booleans, but are names where a block's kind goes.
            let text = &self.lines.text[v.span.start..v.span.end];
            if matches!(v.kind, ValueKind::Ident(_) | ValueKind::Bool(_)) {
                idents.push(Ident {
                    text: text.to_string(),
                    span: v.span,
                });
            } else {
                self.err(
                    v.span,
                    format!(
                        "syntax error: expected a component kind, found {}",
                        v.kind.describe()
                    ),
                );
                return None;
            }
        }
        let mut idents = idents.into_iter();
        let Some(kind) = idents.next() else {
            self.err(brace, "syntax error: expected a component kind before `{`");
            return None;
        };
        let name = idents.next();
        let props = body.into_inner().filter_map(|p| self.property(p)).collect();
        Some(Block {
            file: self.file.clone(),
            span: self.lines.between(kind.span.start, brace.end),
            kind,
            name,
            props,
        })
    }

    /// Every verb of the models, once each, in their order.
    fn verbs(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for v in self.models.iter().flat_map(|m| m.verbs) {
            if !out.contains(&v.name) {
                out.push(v.name);
            }
        }
        out
    }

    /// The action that starts at `words[0]`, and how many of `words` it takes; None (with the
    /// problem recorded) when the first word is no verb or the verb's arguments are missing.
    fn action(&mut self, words: &[Value]) -> Option<(Action, usize)> {
        let first = words.first()?;
        let ValueKind::Ident(name) = &first.kind else {
            self.errors.push(
                Diagnostic::at(
                    &self.file,
                    first.span,
                    format!("expected an action, found {}", first.kind.describe()),
                )
                .hint(format!("actions: {}", self.verbs().join(", "))),
            );
            return None;
        };
        let Some(spec) = self.models.iter().find_map(|m| m.verb(name)) else {
            let verbs = self.verbs();
            let hint = did_you_mean(name, verbs.iter().copied()).unwrap_or_else(|| {
                format!(
                    "actions: {} (`sim models` says which model reacts to which)",
                    verbs.join(", ")
                )
            });
            self.errors.push(
                Diagnostic::at(&self.file, first.span, format!("unknown action `{name}`"))
                    .hint(hint),
            );
            return None;
        };
        let mut taken = 1;
        for arg in spec.args {
            let rest = &words[taken..];
            if rest.is_empty() {
                let so_far = self
                    .lines
                    .between(first.span.start, words[taken - 1].span.end);
                self.errors.push(
                    Diagnostic::at(
                        &self.file,
                        so_far,
                        format!("`{name}` needs {}", arg.describe()),
                    )
                    .hint(format!("write `{}`", spec.usage())),
                );
                return None;
            }
            taken += arg_len(arg, rest);
        }
        let action = Action {
            verb: Ident {
                text: name.clone(),
                span: first.span,
            },
            args: words[1..taken].to_vec(),
            span: self
                .lines
                .between(first.span.start, words[taken - 1].span.end),
        };
        Some((action, taken))
    }

    /// Reports `extra`, a value after a complete action written without braces.
    fn too_many(&mut self, action: &Action, extra: &Value) {
        let verb = &action.verb.text;
        let d = match &extra.kind {
            ValueKind::Ident(w) if self.verbs().contains(&w.as_str()) => Diagnostic::at(
                &self.file,
                extra.span,
                format!("`{w}` starts a second action: several actions at one time go in braces"),
            )
            .hint(format!(
                "write `{{ {}  {w} ... }}`",
                crate::fmt::action_text(action)
            )),
            _ => {
                let usage = self
                    .models
                    .iter()
                    .find_map(|m| m.verb(verb))
                    .map_or_else(|| verb.clone(), |s| s.usage());
                Diagnostic::at(
                    &self.file,
                    extra.span,
                    format!(
                        "`{}`: one value too many for `{verb}`",
                        crate::fmt::value_text(extra)
                    ),
                )
                .hint(format!("write `{usage}`"))
            }
        };
        self.errors.push(d);
    }
}

fn syntax_error(file: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    let (line, col) = match e.line_col {
        pest::error::LineColLocation::Pos(p) => p,
        pest::error::LineColLocation::Span(p, _) => p,
    };
    let at = match e.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((a, b)) => (a, b),
    };
    let message = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } if !positives.is_empty() => {
            // Many value rules can start at one place; name them once as "a value".
            let value_like = |r: &Rule| {
                matches!(
                    r,
                    Rule::value
                        | Rule::call
                        | Rule::call_name
                        | Rule::scalar
                        | Rule::range
                        | Rule::duration
                        | Rule::rate
                        | Rule::size
                        | Rule::percent
                        | Rule::float
                        | Rule::integer
                        | Rule::string
                        | Rule::boolean
                        | Rule::ident
                        | Rule::list
                )
            };
            let many_values = positives.iter().filter(|r| value_like(r)).count() > 2;
            let mut words: Vec<String> = Vec::new();
            if many_values {
                words.push(
                    "a value (such as 10ms, 200/s, 4KiB, 30%, 3, \"text\", a name or a list)"
                        .into(),
                );
            }
            for r in positives {
                let w = describe_rule(r);
                let skip = many_values && value_like(r);
                if !skip && !words.contains(&w) {
                    words.push(w);
                }
            }
            let list = match words.len() {
                1 => words[0].clone(),
                n => format!("{} or {}", words[..n - 1].join(", "), words[n - 1]),
            };
            format!("syntax error: expected {list}")
        }
        _ => {
            let e = e.clone().renamed_rules(describe_rule);
            format!("syntax error: {}", e.variant.message())
        }
    };
    Diagnostic {
        file: file.to_string(),
        line,
        col,
        message,
        hint: None,
        span: Some(at),
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

fn value(file: &str, lines: &Lines<'_>, pair: Pair<'_, Rule>) -> Result<Value, Diagnostic> {
    let span = lines.span(&pair);
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
            let per_sec = n / unit_secs(unit);
            if !per_sec.is_finite() {
                return Err(bad(format!("{text} is too large")));
            }
            ValueKind::Rate { per_sec }
        }
        Rule::size => {
            let split = text
                .find(|c: char| c.is_ascii_alphabetic())
                .expect("the grammar puts a unit in every size");
            let (number, unit) = text.split_at(split);
            let shift = match unit {
                "KiB" => 10,
                "MiB" => 20,
                "GiB" => 30,
                "TiB" => 40,
                _ => 0,
            };
            let digits = number.replace('_', "");
            let (whole, frac) = digits.split_once('.').unwrap_or((&digits, ""));
            // Exact: whole * 2^shift + frac * 2^shift / 10^len(frac), which must be whole.
            let too_big = || bad(format!("{text} is more bytes than 2^64"));
            let whole: u128 = if whole.is_empty() {
                0 // `.5KiB`
            } else {
                whole.parse().map_err(|_| too_big())?
            };
            let frac_num: u128 = if frac.is_empty() {
                0
            } else {
                frac.parse().map_err(|_| too_big())?
            };
            let frac_den = 10u128
                .checked_pow(frac.len() as u32)
                .ok_or_else(|| bad(format!("{text} has too many decimals")))?;
            let scaled_frac = frac_num
                .checked_mul(1u128 << shift)
                .ok_or_else(|| bad(format!("{text} has too many decimals")))?;
            if scaled_frac % frac_den != 0 {
                return Err(bad(format!("{text} is not a whole number of bytes")));
            }
            let bytes = whole
                .checked_mul(1u128 << shift)
                .and_then(|b| b.checked_add(scaled_frac / frac_den))
                .filter(|&b| b <= u64::MAX as u128)
                .ok_or_else(too_big)?;
            ValueKind::Size(bytes as u64)
        }
        Rule::range => {
            let mut ends = pair.into_inner();
            let lo = value(file, lines, ends.next().expect("a range has a start"))?;
            let hi = value(file, lines, ends.next().expect("a range has an end"))?;
            ValueKind::Range(Box::new(lo), Box::new(hi))
        }
        Rule::percent => {
            let n: f64 = text
                .trim_end_matches('%')
                .replace('_', "")
                .parse()
                .map_err(|_| bad(format!("{text} is not a percentage")))?;
            if !n.is_finite() {
                return Err(bad(format!("{text} is too large")));
            }
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
                .map(|p| value(file, lines, p))
                .collect::<Result<Vec<_>, _>>()?;
            ValueKind::Call { name, args }
        }
        Rule::list => {
            let mut entries = Vec::new();
            for e in pair.into_inner() {
                let mut parts = e.into_inner();
                let v = value(file, lines, parts.next().expect("an entry has a value"))?;
                let weight = parts
                    .next()
                    .map(|w| {
                        value(
                            file,
                            lines,
                            w.into_inner().next().expect("a weight has a value"),
                        )
                    })
                    .transpose()?;
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
        assert_eq!(
            (s.name.as_deref(), s.seed.map(|s| s.0)),
            (Some("demo"), Some(42))
        );
        assert_eq!(s.duration.unwrap().0, SimDuration::from_secs(10));
        assert_eq!(s.blocks.len(), 2);
        let a = &s.blocks[0];
        assert_eq!(
            (a.kind.text.as_str(), a.name().text.as_str()),
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
        match &e.check {
            Check::Metric {
                stat, metric, op, ..
            } => assert_eq!(
                (stat.text.as_str(), metric.text.as_str(), *op),
                ("p99", "left.wait", CmpOp::Lt)
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(e.text, "expect p99(left.wait) < 50ms");
        assert_eq!((a.kind.span.line, a.kind.span.col), (6, 3));
    }

    const EVERYTHING: &str = r#"
scenario "all" {
  seed 7
  duration 30s
  include "common.scn"
  network { latency uniform(1ms, 5ms)  loss 0.5%  buffer 64KiB }
  raft cluster { nodes n1..n5  election_timeout 150ms..300ms  heartbeat 50ms }
  load kv { clients 4  rate 200/s  keys zipf(1000, 0.99)  mix [get 60%, put 30%, cas 10%] }
  at 5s partition majorities-ring
  at 6s partition [n1, n2] [n3, n4, n5]
  at 12s heal
  at 14s { crash leader  restart random(2) }
  every 2s..4s from 20s to 26s { clock skew random-node by normal(0ms, 50ms) }
  every 1s pause [n1, n2]
  during 5s..9s disk n3 slow(5ms)
  at 8s load kv rate 400/s
  at 9s clock drift n1 by 0.01%
  sweep cluster.election_timeout in [150ms..155ms, 150ms..300ms]
  expect linearizable
  expect leader within 3s after heal
  expect p99(kv.latency) < 50ms
}
"#;

    #[test]
    fn parses_events_faults_sweeps_and_checks() {
        let s = parse("all.scn", EVERYTHING).unwrap();
        assert_eq!(s.includes[0].path, "common.scn");
        assert_eq!(s.blocks.len(), 3);
        assert_eq!(
            s.blocks[0].name().text,
            "network",
            "an unnamed block is named by its kind"
        );
        assert_eq!(s.blocks[0].props[2].value.kind, ValueKind::Size(64 << 10));
        match &s.blocks[1].props[0].value.kind {
            ValueKind::Range(a, b) => {
                assert_eq!(
                    (a.kind.clone(), b.kind.clone()),
                    (ValueKind::Ident("n1".into()), ValueKind::Ident("n5".into()))
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.schedule.len(), 9);
        assert_eq!(s.schedule[0].when, When::At(SimDuration::from_secs(5)));
        let text = |a: &Action| crate::fmt::action_text(a);
        let partition = &s.schedule[1].actions[0];
        assert_eq!(
            (partition.verb.text.as_str(), partition.args.len()),
            ("partition", 2)
        );
        assert_eq!(s.schedule[3].actions.len(), 2, "a group split by arity");
        assert_eq!(text(&s.schedule[3].actions[1]), "restart random(2)");
        assert_eq!(
            s.schedule[4].when,
            When::Every {
                min: SimDuration::from_secs(2),
                max: SimDuration::from_secs(4),
                from: Some(SimDuration::from_secs(20)),
                to: Some(SimDuration::from_secs(26)),
            }
        );
        assert!(matches!(
            s.schedule[5].when,
            When::Every {
                from: None,
                to: None,
                ..
            }
        ));
        assert!(matches!(s.schedule[6].when, When::During { .. }));
        assert_eq!(text(&s.schedule[7].actions[0]), "load kv rate 400/s");
        assert_eq!(text(&s.schedule[8].actions[0]), "clock drift n1 by 0.01%");
        assert_eq!(s.sweeps[0].values.len(), 2);
        assert!(matches!(&s.expects[0].check, Check::Property(p) if p.text == "linearizable"));
        assert!(
            matches!(&s.expects[1].check, Check::Liveness { after: Some(a), .. } if a.text == "heal")
        );
        assert!(matches!(&s.expects[2].check, Check::Metric { .. }));
    }

    /// Actions are split by their verbs' declared arguments: a group into actions, and the words
    /// after `at T` into one action and the blocks that follow it.
    #[test]
    fn actions_end_where_their_verbs_arguments_do() {
        let s = parse(
            "a.scn",
            "at 1s { crash n1 heal clock skew n2 by 5ms partition [n1] [n2] [n3] heal }\n\
             at 2s crash n1\nnetwork { latency 1ms }\n\
             at 3s heal\ncrash c { }\n\
             at 4s partition [n1] [n2]\nn3 x { k 1 }\n\
             during 5s..6s load kv rate 2/s  raft kv { nodes n1..n3 }",
        )
        .unwrap();
        let texts: Vec<Vec<String>> = s
            .schedule
            .iter()
            .map(|t| t.actions.iter().map(crate::fmt::action_text).collect())
            .collect();
        assert_eq!(
            texts,
            [
                vec![
                    "crash n1",
                    "heal",
                    "clock skew n2 by 5ms",
                    "partition [n1] [n2] [n3]",
                    "heal"
                ],
                vec!["crash n1"],
                vec!["heal"],
                vec!["partition [n1] [n2]"],
                vec!["load kv rate 2/s"],
            ]
        );
        let heads: Vec<(&str, Option<&str>)> = s
            .blocks
            .iter()
            .map(|b| {
                (
                    b.kind.text.as_str(),
                    b.name.as_ref().map(|n| n.text.as_str()),
                )
            })
            .collect();
        assert_eq!(
            heads,
            [
                ("network", None),
                ("crash", Some("c")),
                ("n3", Some("x")),
                ("raft", Some("kv"))
            ]
        );
        // Spans end with the action, and a block after it starts at its kind.
        let t = &s.schedule[1];
        assert_eq!(
            (t.span.line, t.span.col, t.span.end - t.span.start),
            (2, 1, 14)
        );
        let b = &s.blocks[0];
        assert_eq!((b.span.line, b.span.col), (3, 1));
        assert_eq!(&b.props[0].key.text, "latency");
    }

    #[test]
    fn an_action_that_is_no_verb_or_lacks_or_exceeds_arguments_is_located() {
        let one = |text: &str| {
            let errs = parse("v.scn", text).unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:?}");
            errs[0].to_string()
        };
        assert_eq!(
            one("at 1s crsh n1"),
            "v.scn:1:7: unknown action `crsh` (hint: did you mean \"crash\"?)"
        );
        assert_eq!(
            one("at 1s { heal\n  crash }"),
            "v.scn:2:3: `crash` needs a target: a node, leader, random-node, minority, majority, \
             all, random(k) or a list [n1, n2] (hint: write `crash TARGET`)"
        );
        assert_eq!(
            one("at 1s heal n1"),
            "v.scn:1:12: `n1`: one value too many for `heal` (hint: write `heal`)"
        );
        assert_eq!(
            one("at 1s heal crash n1"),
            "v.scn:1:12: `crash` starts a second action: several actions at one time go in braces \
             (hint: write `{ heal  crash ... }`)"
        );
        assert_eq!(
            one("at 1s { 5 }"),
            "v.scn:1:9: expected an action, found an integer (hint: actions: partition, heal, \
             clock, disk, outage, load, crash, restart, pause, resume)"
        );
        assert_eq!(
            one("at 1s heal a b c { }"),
            "v.scn:1:12: `a`: one value too many for `heal` (hint: write `heal`)"
        );
        assert!(one("during 1s..2s { heal }").contains("syntax error"));
    }

    #[test]
    fn keywords_are_whole_words_and_fragments_parse() {
        // `seeds` is a block kind, not `seed` followed by garbage; `at_least` a property.
        let s = parse("k.scn", "scenario \"k\" { seeds s { at_least 1 } }").unwrap();
        assert_eq!(s.blocks[0].kind.text, "seeds");
        let f = parse(
            "f.scn",
            "station s { service exp(1s) }\nexpect mean(s.wait) < 1s\n",
        )
        .unwrap();
        assert_eq!((f.name, f.blocks.len(), f.expects.len()), (None, 1, 1));
        // A statement keyword cannot be a block kind.
        assert!(parse("k.scn", "scenario \"k\" { expect { } }").is_err());
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = format!(
            "scenario \"d\" {{ s t {{ k {}1{} }} }}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let errs = parse("d.scn", &deep).unwrap_err();
        assert!(errs[0].message.contains("nested more than"), "{errs:?}");
        let big = "#".repeat(MAX_SOURCE_BYTES + 1);
        assert!(
            parse("b.scn", &big).unwrap_err()[0]
                .message
                .contains("larger than")
        );
        // Brackets in strings and comments do not count.
        let ok = format!(
            "scenario \"d\" {{ s t {{ k \"{}\" }} }} # {}",
            "[".repeat(200),
            "(".repeat(200)
        );
        assert!(parse("o.scn", &ok).is_ok());
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

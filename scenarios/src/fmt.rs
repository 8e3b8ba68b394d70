//! `sim fmt`: the canonical form of a scenario, comments kept.
//!
//! The canonical form groups a scenario's items (header and includes, components, schedule,
//! sweeps, checks) in that order, keeping the order of items within each group, since that order
//! can matter (two actions at the same instant run in the order written). Values are printed in
//! one spelling each: durations in their largest exact unit, sizes likewise, integers of five
//! digits or more with `_` every three, floats always with a decimal point. A block that fits on
//! one line of [`WIDTH`] columns is written on one line, and so is a schedule line (except that
//! a longer one with braces gets a line per action; `during` takes no braces). Every comment is
//! kept, next to the item (or property) it preceded or followed; see [`format`].
//!
//! `parse(format(x)) == parse(x)` up to source positions, `format` is idempotent and no comment
//! is lost, for every scenario: `tests/fmt_roundtrip.rs` checks it on the shipped scenarios and
//! on thousands of generated ones, and `tests/fuzz.rs` on mutated and random input.

use crate::ast::{
    Action, Block, Check, Entry, Expect, Scenario, Sweep, Timed, Value, ValueKind, When,
};

/// The widest line the formatter writes when it has a choice.
pub const WIDTH: usize = 100;

/// A comment in the source: where it starts and ends, and whether code precedes it on its line.
#[derive(Debug, Clone)]
struct Comment {
    pos: usize,
    /// Just past the comment's text, trailing whitespace left out.
    end: usize,
    line: usize,
    text: String,
    trailing: bool,
}

/// Every `#` and `//` comment of `source`, outside strings, in source order.
fn comments(source: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let bytes = source.as_bytes();
    let (mut i, mut line, mut line_start) = (0usize, 1usize, 0usize);
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' && bytes.get(i + 1).is_some_and(|&n| n != b'\n') {
                i += 2;
                continue;
            }
            if c == b'"' || c == b'\n' {
                in_string = false;
            }
            if c == b'\n' {
                line += 1;
                line_start = i + 1;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b'#' | b'/' if c == b'#' || bytes.get(i + 1) == Some(&b'/') => {
                let end = source[i..].find('\n').map_or(source.len(), |n| i + n);
                let text = source[i..end].trim_end();
                let trailing = !source[line_start..i].trim().is_empty();
                out.push(Comment {
                    pos: i,
                    end: i + text.len(),
                    line,
                    text: text.to_string(),
                    trailing,
                });
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The source with its comments, and where its lines start: positions to lines in O(log n).
struct Source<'a> {
    text: &'a str,
    /// The byte offset of every `\n`.
    newlines: Vec<usize>,
    comments: Vec<Comment>,
    /// The next comment not yet written: comments are consumed in source order.
    next: usize,
}

impl<'a> Source<'a> {
    fn new(text: &'a str) -> Self {
        Source {
            text,
            newlines: text.match_indices('\n').map(|(i, _)| i).collect(),
            comments: comments(text),
            next: 0,
        }
    }

    /// The 1-based line of the byte at `pos`.
    fn line_of(&self, pos: usize) -> usize {
        self.newlines.partition_point(|&n| n < pos) + 1
    }

    /// The end of the code in `start..end`: whitespace and comments at its end left out (a
    /// node's span may take in what follows it when its rule ends in an optional part).
    fn code_end(&self, start: usize, end: usize) -> usize {
        let mut e = end.min(self.text.len()).max(start);
        loop {
            let Some(t) = self.text.get(start..e) else {
                return e;
            };
            e = start + t.trim_end().len();
            match self.comments.binary_search_by_key(&e, |c| c.end) {
                Ok(i) if self.comments[i].pos >= start && self.comments[i].pos < e => {
                    e = self.comments[i].pos;
                }
                _ => return e,
            }
        }
    }

    /// The line on which the code of the node at `start..end` ends.
    fn end_line(&self, start: usize, end: usize) -> usize {
        self.line_of(self.code_end(start, end).saturating_sub(1).max(start))
    }

    /// Past the whitespace and comments from `pos` on.
    fn skip_trivia(&self, mut pos: usize) -> usize {
        let bytes = self.text.as_bytes();
        while pos < bytes.len() {
            match bytes[pos] {
                b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
                b'#' => pos = self.eol(pos),
                b'/' if bytes.get(pos + 1) == Some(&b'/') => pos = self.eol(pos),
                _ => break,
            }
        }
        pos
    }

    fn eol(&self, pos: usize) -> usize {
        self.text[pos..]
            .find('\n')
            .map_or(self.text.len(), |n| pos + n)
    }

    /// The next comment, if it starts before `pos`.
    fn peek_before(&self, pos: usize) -> Option<&Comment> {
        self.comments.get(self.next).filter(|c| c.pos < pos)
    }

    /// Comments that start before `pos`.
    fn before(&mut self, pos: usize) -> Vec<Comment> {
        let start = self.next;
        while self.peek_before(pos).is_some() {
            self.next += 1;
        }
        self.comments[start..self.next].to_vec()
    }

    /// The next comment if it trails code on `line`.
    fn trailing(&mut self, line: usize) -> Option<Comment> {
        let c = self.comments.get(self.next)?;
        if c.trailing && c.line == line {
            self.next += 1;
            Some(c.clone())
        } else {
            None
        }
    }

    /// The next comment if it trails code on `line` and starts before `pos`.
    fn trailing_before(&mut self, line: usize, pos: usize) -> Option<Comment> {
        self.peek_before(pos)?;
        self.trailing(line)
    }

    fn rest(&mut self) -> Vec<Comment> {
        self.before(usize::MAX)
    }
}

fn group_digits(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    if digits.len() < 5 {
        return n.to_string();
    }
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('_');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn float_text(f: f64) -> String {
    let s = format!("{f}");
    if s.contains('.') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// A number as the grammar's `unsigned` reads it (no exponent, no sign).
fn unsigned_text(f: f64) -> String {
    let s = format!("{f}");
    s.trim_start_matches('-').to_string()
}

fn size_text(bytes: u64) -> String {
    for (unit, scale) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= scale && bytes % scale == 0 {
            return format!("{}{unit}", bytes / scale);
        }
    }
    format!("{bytes}B")
}

fn string_text(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn entry_text(e: &Entry) -> String {
    match &e.weight {
        Some(w) => format!("{} {}", value_text(&e.value), value_text(w)),
        None => value_text(&e.value),
    }
}

/// A value in its canonical spelling.
pub fn value_text(v: &Value) -> String {
    match &v.kind {
        ValueKind::Integer(n) => group_digits(*n),
        ValueKind::Float(f) => float_text(*f),
        ValueKind::Duration(d) => d.to_string(),
        ValueKind::Rate { per_sec } => format!("{}/s", unsigned_text(*per_sec)),
        ValueKind::Size(b) => size_text(*b),
        ValueKind::Percent(p) => format!("{}%", unsigned_text(*p)),
        ValueKind::Str(s) => string_text(s),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Ident(s) => s.clone(),
        ValueKind::List(entries) => format!(
            "[{}]",
            entries
                .iter()
                .map(entry_text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ValueKind::Range(a, b) => format!("{}..{}", value_text(a), value_text(b)),
        ValueKind::Call { name, args } => format!(
            "{name}({})",
            args.iter().map(value_text).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// An action as written: its verb and its values, one space apart (`clock skew n1 by 50ms`).
pub(crate) fn action_text(a: &Action) -> String {
    let mut s = a.verb.text.clone();
    for v in &a.args {
        s.push(' ');
        s.push_str(&value_text(v));
    }
    s
}

fn when_text(w: &When) -> String {
    match w {
        When::At(t) => format!("at {t}"),
        When::Every { min, max, from, to } => {
            let mut s = if min == max {
                format!("every {min}")
            } else {
                format!("every {min}..{max}")
            };
            if let Some(f) = from {
                s.push_str(&format!(" from {f}"));
            }
            if let Some(t) = to {
                s.push_str(&format!(" to {t}"));
            }
            s
        }
        When::During { from, to } => format!("during {from}..{to}"),
    }
}

pub(crate) fn expect_text(e: &Expect) -> String {
    match &e.check {
        Check::Metric {
            stat,
            metric,
            op,
            bound,
        } => format!(
            "expect {}({}) {op} {}",
            stat.text,
            metric.text,
            value_text(bound)
        ),
        Check::Liveness {
            event,
            within,
            after,
        } => match after {
            Some(a) => format!("expect {} within {within} after {}", event.text, a.text),
            None => format!("expect {} within {within}", event.text),
        },
        Check::Property(p) => format!("expect {}", p.text),
    }
}

fn sweep_text(s: &Sweep) -> String {
    format!(
        "sweep {} in [{}]",
        s.path.text,
        s.values
            .iter()
            .map(value_text)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Writes lines at an indent.
struct Out {
    text: String,
}

impl Out {
    fn new() -> Self {
        Out {
            text: String::new(),
        }
    }
    fn line(&mut self, indent: usize, s: &str) {
        if s.is_empty() {
            self.text.push('\n');
        } else {
            self.text.push_str(&" ".repeat(indent));
            self.text.push_str(s);
            self.text.push('\n');
        }
    }
    fn comments(&mut self, indent: usize, cs: &[Comment]) {
        for c in cs {
            self.line(indent, &c.text);
        }
    }
}

fn with_trailing(s: String, c: Option<Comment>) -> String {
    match c {
        Some(c) => format!("{s}  {}", c.text),
        None => s,
    }
}

fn block(out: &mut Out, indent: usize, b: &Block, src: &mut Source<'_>) {
    let head = match &b.name {
        Some(n) => format!("{} {}", b.kind.text, n.text),
        None => b.kind.text.clone(),
    };
    let props: Vec<String> = b
        .props
        .iter()
        .map(|p| format!("{} {}", p.key.text, value_text(&p.value)))
        .collect();
    let inner_comment = src.peek_before(b.span.end).is_some();
    let one_line = if props.is_empty() {
        format!("{head} {{ }}")
    } else {
        format!("{head} {{ {} }}", props.join("  "))
    };
    if !inner_comment && indent + one_line.len() <= WIDTH {
        let t = src.trailing(src.end_line(b.span.start, b.span.end));
        out.line(indent, &with_trailing(one_line, t));
        return;
    }
    // A comment after `{` on its line stays there, unless a property comes first.
    let brace = src.skip_trivia(b.name().span.end);
    let first = b.props.first().map_or(b.span.end, |p| p.key.span.start);
    let t = src.trailing_before(src.line_of(brace), first);
    out.line(indent, &with_trailing(format!("{head} {{"), t));
    for (p, text) in b.props.iter().zip(props) {
        // Comments before the property and inside its value go above it.
        let end = src.code_end(p.value.span.start, p.value.span.end);
        let lead = src.before(end);
        out.comments(indent + 2, &lead);
        let t = src.trailing(src.line_of(end.saturating_sub(1)));
        out.line(indent + 2, &with_trailing(text, t));
    }
    let tail = src.before(b.span.end);
    out.comments(indent + 2, &tail);
    let t = src.trailing(src.end_line(b.span.start, b.span.end));
    out.line(indent, &with_trailing("}".into(), t));
}

fn timed(out: &mut Out, indent: usize, t: &Timed, src: &mut Source<'_>) {
    let head = when_text(&t.when);
    let actions: Vec<String> = t.actions.iter().map(action_text).collect();
    // Comments inside the statement (inside braces, between its words) move above it.
    let end = src.code_end(t.span.start, t.span.end);
    let inner = src.before(end);
    out.comments(indent, &inner);
    let one_line = match actions.as_slice() {
        [] => format!("{head} {{ }}"),
        [one] => format!("{head} {one}"),
        _ => format!("{head} {{ {} }}", actions.join("  ")),
    };
    let t_end = src.trailing(src.line_of(end.saturating_sub(1)));
    // `during` takes one action and no braces: its line stays whole however long.
    let during = matches!(t.when, When::During { .. }) && actions.len() == 1;
    if during || indent + one_line.len() <= WIDTH {
        out.line(indent, &with_trailing(one_line, t_end));
    } else {
        out.line(indent, &format!("{head} {{"));
        for a in &actions {
            out.line(indent + 2, a);
        }
        out.line(indent, &with_trailing("}".into(), t_end));
    }
}

/// A one-line item: comments inside it go above it, one after it on its last line stays there.
fn simple(
    out: &mut Out,
    indent: usize,
    text: String,
    start: usize,
    end: usize,
    src: &mut Source<'_>,
) {
    let end = src.code_end(start, end);
    let inner = src.before(end);
    out.comments(indent, &inner);
    let t = src.trailing(src.line_of(end.saturating_sub(1)));
    out.line(indent, &with_trailing(text, t));
}

/// The canonical text of `scenario`, parsed from `source` (whose comments it keeps).
///
/// Comments before the `scenario` header (for a fragment: before its first item and set apart
/// from it by a blank line) stay at the top; one on the header's line stays there; each other
/// comment stays before, or at the end of the line of, the item or property it was next to
/// (moving with it when items are grouped); comments inside a value or an action group move
/// above its line; comments after the last item stay last, and those after the closing brace
/// stay after it.
pub fn format(scenario: &Scenario, source: &str) -> String {
    let mut src = Source::new(source);
    let mut out = Out::new();
    // Everything in source order, so comments are met in order; written grouped.
    enum Item<'a> {
        Seed(u64),
        Duration(simcore::SimDuration),
        Include(&'a str),
        Block(&'a Block),
        Timed(&'a Timed),
        Sweep(&'a Sweep),
        Expect(&'a Expect),
    }
    // (start, end, item)
    let mut items: Vec<(usize, usize, Item<'_>)> = Vec::new();
    if let Some((s, span)) = scenario.seed {
        // The statement starts at `seed`, before its value's span.
        let start = source
            .get(..span.start)
            .and_then(|t| t.rfind("seed"))
            .unwrap_or(span.start);
        items.push((start, span.end, Item::Seed(s)));
    }
    if let Some((d, span)) = scenario.duration {
        let start = source
            .get(..span.start)
            .and_then(|t| t.rfind("duration"))
            .unwrap_or(span.start);
        items.push((start, span.end, Item::Duration(d)));
    }
    for i in &scenario.includes {
        items.push((i.span.start, i.span.end, Item::Include(&i.path)));
    }
    for b in &scenario.blocks {
        items.push((b.span.start, b.span.end, Item::Block(b)));
    }
    for t in &scenario.schedule {
        items.push((t.span.start, t.span.end, Item::Timed(t)));
    }
    for s in &scenario.sweeps {
        items.push((s.span.start, s.span.end, Item::Sweep(s)));
    }
    for e in &scenario.expects {
        items.push((e.span.start, e.span.end, Item::Expect(e)));
    }
    items.sort_by_key(|(start, _, _)| *start);
    let group = |i: &Item<'_>| match i {
        Item::Seed(..) | Item::Duration(..) | Item::Include(..) => 0,
        Item::Block(_) => 1,
        Item::Timed(_) => 2,
        Item::Sweep(_) => 3,
        Item::Expect(_) => 4,
    };
    let first_start = items.first().map(|(s, _, _)| *s);
    let indent = if scenario.name.is_some() { 2 } else { 0 };
    // Where the scenario's closing brace is: the last `}` outside comments.
    let mut close = source.len();
    if let Some(name) = &scenario.name {
        // `scenario`, its name and `{`, with whitespace or comments between.
        let keyword = src.skip_trivia(0);
        let quote = src.skip_trivia(keyword + "scenario".len());
        let brace = if source.as_bytes().get(quote) == Some(&b'"') {
            src.skip_trivia(skip_string(source, quote))
        } else {
            keyword
        };
        let in_comment = |i: usize| {
            let k = src.comments.partition_point(|c| c.pos <= i);
            k > 0 && i < src.comments[k - 1].end
        };
        close = source
            .rmatch_indices('}')
            .map(|(i, _)| i)
            .find(|&i| !in_comment(i))
            .unwrap_or(source.len());
        // Comments before the header, or between its words, go above it.
        let lead = src.before(brace);
        out.comments(0, &lead);
        let t = src.trailing_before(src.line_of(brace), first_start.unwrap_or(close).min(close));
        out.line(
            0,
            &with_trailing(format!("scenario {} {{", string_text(name)), t),
        );
    } else if let Some(first) = first_start {
        // A fragment's own comments: those before its first item, up to the last one followed
        // by a blank line.
        let upto = src.comments[..src.comments.partition_point(|c| c.pos < first)]
            .iter()
            .enumerate()
            .rev()
            .find(|(k, c)| {
                let next = src.comments.get(k + 1).map_or(first, |n| n.pos.min(first));
                source
                    .get(c.end..next)
                    .is_some_and(|gap| gap.matches('\n').count() >= 2)
            })
            .map(|(k, _)| k + 1);
        if let Some(n) = upto {
            let own = src.before(src.comments[n - 1].end);
            out.comments(0, &own);
            out.line(0, "");
        }
    }
    // Render each item with its comments, in source order, into its group.
    let mut groups: Vec<Vec<String>> = vec![Vec::new(); 5];
    for (start, end, item) in &items {
        let mut part = Out::new();
        let lead = src.before(*start);
        part.comments(indent, &lead);
        let (start, end) = (*start, *end);
        match item {
            Item::Seed(s) => simple(&mut part, indent, format!("seed {s}"), start, end, &mut src),
            Item::Duration(d) => simple(
                &mut part,
                indent,
                format!("duration {d}"),
                start,
                end,
                &mut src,
            ),
            Item::Include(p) => simple(
                &mut part,
                indent,
                format!("include {}", string_text(p)),
                start,
                end,
                &mut src,
            ),
            Item::Block(b) => block(&mut part, indent, b, &mut src),
            Item::Timed(t) => timed(&mut part, indent, t, &mut src),
            Item::Sweep(s) => simple(&mut part, indent, sweep_text(s), start, end, &mut src),
            Item::Expect(e) => simple(&mut part, indent, expect_text(e), start, end, &mut src),
        }
        groups[group(item)].push(part.text);
    }
    let mut first = true;
    for g in groups.iter().filter(|g| !g.is_empty()) {
        if !first {
            out.text.push('\n');
        }
        first = false;
        for text in g {
            out.text.push_str(text);
        }
    }
    if scenario.name.is_some() {
        let inside = src.before(close);
        out.comments(indent, &inside);
        let t = src.trailing(src.line_of(close));
        out.line(0, &with_trailing("}".into(), t));
    }
    let rest = src.rest();
    out.comments(0, &rest);
    out.text
}

/// Past the string that starts (with `"`) at `pos`.
fn skip_string(source: &str, pos: usize) -> usize {
    let bytes = source.as_bytes();
    let mut i = pos + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

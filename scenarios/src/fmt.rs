//! `sim fmt`: the canonical form of a scenario, comments kept.
//!
//! The canonical form groups a scenario's items (header and includes, components, schedule,
//! sweeps, checks) in that order, keeping the order of items within each group, since that order
//! can matter (two actions at the same instant run in the order written). Values are printed in
//! one spelling each: durations in their largest exact unit, sizes likewise, integers of five
//! digits or more with `_` every three, floats always with a decimal point. A block that fits on
//! one line of [`WIDTH`] columns is written on one line. Every comment is kept, next to the item
//! (or property) it preceded or followed.
//!
//! `parse(format(x)) == parse(x)` up to source positions, for every scenario: a property test
//! checks it.

use crate::ast::{
    Action, ActionKind, Block, Check, Entry, Expect, Partition, Scenario, Sweep, Target, Timed,
    Value, ValueKind, When,
};

/// The widest line the formatter writes when it has a choice.
pub const WIDTH: usize = 100;

/// A comment in the source: where it starts, and whether code precedes it on its line.
#[derive(Debug, Clone)]
struct Comment {
    pos: usize,
    line: usize,
    text: String,
    trailing: bool,
}

/// Every `#` and `//` comment of `source`, outside strings.
fn comments(source: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let bytes = source.as_bytes();
    let (mut i, mut line, mut line_start) = (0usize, 1usize, 0usize);
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' {
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
                let trailing = !source[line_start..i].trim().is_empty();
                out.push(Comment {
                    pos: i,
                    line,
                    text: source[i..end].trim_end().to_string(),
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

/// Comments waiting to be placed, consumed in source order.
struct Pending {
    comments: Vec<Comment>,
    next: usize,
}

impl Pending {
    /// Comments that start before `pos`.
    fn before(&mut self, pos: usize) -> Vec<Comment> {
        let start = self.next;
        while self.next < self.comments.len() && self.comments[self.next].pos < pos {
            self.next += 1;
        }
        self.comments[start..self.next].to_vec()
    }
    /// A comment that trails on `line` after `pos`, if it is next.
    fn trailing(&mut self, line: usize) -> Option<Comment> {
        let c = self.comments.get(self.next)?;
        if c.trailing && c.line == line {
            self.next += 1;
            Some(c.clone())
        } else {
            None
        }
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

fn target_text(t: &Target) -> String {
    match t {
        Target::Name(n) => n.text.clone(),
        Target::Random(k, _) => format!("random({k})"),
        Target::Nodes(v) => value_text(v),
    }
}

fn action_text(a: &Action) -> String {
    match &a.kind {
        ActionKind::Partition(Partition::Shape(s)) => format!("partition {}", s.text),
        ActionKind::Partition(Partition::Groups(g)) => format!(
            "partition {}",
            g.iter().map(value_text).collect::<Vec<_>>().join(" ")
        ),
        ActionKind::Heal => "heal".into(),
        ActionKind::Crash(t) => format!("crash {}", target_text(t)),
        ActionKind::Restart(t) => format!("restart {}", target_text(t)),
        ActionKind::Pause(t) => format!("pause {}", target_text(t)),
        ActionKind::Resume(t) => format!("resume {}", target_text(t)),
        ActionKind::Clock { drift, target, by } => format!(
            "clock {} {} by {}",
            if *drift { "drift" } else { "skew" },
            target_text(target),
            value_text(by)
        ),
        ActionKind::Disk { target, fault } => {
            format!("disk {} {}", target_text(target), value_text(fault))
        }
        ActionKind::Load {
            component,
            property,
            value,
        } => format!(
            "load {} {} {}",
            component.text,
            property.text,
            value_text(value)
        ),
    }
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

fn expect_text(e: &Expect) -> String {
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

fn end_line(source: &str, end: usize) -> usize {
    let end = end.min(source.len());
    source[..end].matches('\n').count() + 1 - usize::from(source[..end].ends_with('\n'))
}

fn block(out: &mut Out, indent: usize, b: &Block, source: &str, pending: &mut Pending) {
    let head = match &b.name {
        Some(n) => format!("{} {}", b.kind.text, n.text),
        None => b.kind.text.clone(),
    };
    let props: Vec<String> = b
        .props
        .iter()
        .map(|p| format!("{} {}", p.key.text, value_text(&p.value)))
        .collect();
    let inner_comment = pending
        .comments
        .get(pending.next)
        .is_some_and(|c| c.pos < b.span.end);
    let one_line = if props.is_empty() {
        format!("{head} {{ }}")
    } else {
        format!("{head} {{ {} }}", props.join("  "))
    };
    if !inner_comment && indent + one_line.len() <= WIDTH {
        let t = pending.trailing(end_line(source, b.span.end));
        out.line(indent, &with_trailing(one_line, t));
        return;
    }
    out.line(indent, &format!("{head} {{"));
    for (p, text) in b.props.iter().zip(props) {
        let lead = pending.before(p.key.span.start);
        out.comments(indent + 2, &lead);
        let t = pending.trailing(end_line(source, p.value.span.end));
        out.line(indent + 2, &with_trailing(text, t));
    }
    let tail = pending.before(b.span.end);
    out.comments(indent + 2, &tail);
    let t = pending.trailing(end_line(source, b.span.end));
    out.line(indent, &with_trailing("}".into(), t));
}

fn timed(out: &mut Out, indent: usize, t: &Timed, source: &str, pending: &mut Pending) {
    let head = when_text(&t.when);
    let actions: Vec<String> = t.actions.iter().map(action_text).collect();
    // Comments inside the braces move above the statement.
    let inner = pending.before(t.span.end);
    out.comments(indent, &inner);
    let one_line = match actions.as_slice() {
        [one] => format!("{head} {one}"),
        _ => format!("{head} {{ {} }}", actions.join("  ")),
    };
    let t_end = pending.trailing(end_line(source, t.span.end));
    if indent + one_line.len() <= WIDTH {
        out.line(indent, &with_trailing(one_line, t_end));
    } else {
        out.line(indent, &format!("{head} {{"));
        for a in &actions {
            out.line(indent + 2, a);
        }
        out.line(indent, &with_trailing("}".into(), t_end));
    }
}

/// The canonical text of `scenario`, parsed from `source` (whose comments it keeps).
pub fn format(scenario: &Scenario, source: &str) -> String {
    let mut pending = Pending {
        comments: comments(source),
        next: 0,
    };
    let mut out = Out {
        text: String::new(),
    };
    // Everything in source order, so comments are met in order; written grouped.
    enum Item<'a> {
        Seed(u64, usize, usize),
        Duration(simcore::SimDuration, usize, usize),
        Include(&'a str, usize, usize),
        Block(&'a Block),
        Timed(&'a Timed),
        Sweep(&'a Sweep),
        Expect(&'a Expect),
    }
    let mut items: Vec<(usize, Item<'_>)> = Vec::new();
    if let Some((s, span)) = scenario.seed {
        // The statement starts at `seed`, before its value's span.
        let start = source[..span.start].rfind("seed").unwrap_or(span.start);
        items.push((start, Item::Seed(s, start, span.end)));
    }
    if let Some((d, span)) = scenario.duration {
        let start = source[..span.start].rfind("duration").unwrap_or(span.start);
        items.push((start, Item::Duration(d, start, span.end)));
    }
    for i in &scenario.includes {
        items.push((
            i.span.start,
            Item::Include(&i.path, i.span.start, i.span.end),
        ));
    }
    for b in &scenario.blocks {
        items.push((b.span.start, Item::Block(b)));
    }
    for t in &scenario.schedule {
        items.push((t.span.start, Item::Timed(t)));
    }
    for s in &scenario.sweeps {
        items.push((s.span.start, Item::Sweep(s)));
    }
    for e in &scenario.expects {
        items.push((e.span.start, Item::Expect(e)));
    }
    items.sort_by_key(|(start, _)| *start);
    let group = |i: &Item<'_>| match i {
        Item::Seed(..) | Item::Duration(..) | Item::Include(..) => 0,
        Item::Block(_) => 1,
        Item::Timed(_) => 2,
        Item::Sweep(_) => 3,
        Item::Expect(_) => 4,
    };
    // Render each item with its comments, in source order, into its group.
    let indent = if scenario.name.is_some() { 2 } else { 0 };
    let mut groups: Vec<Vec<String>> = vec![Vec::new(); 5];
    let file_comments;
    if let Some(name) = &scenario.name {
        let scen_pos = source.find("scenario").unwrap_or(0);
        file_comments = pending.before(scen_pos);
        out.comments(0, &file_comments);
        out.line(0, &format!("scenario {} {{", string_text(name)));
    }
    for (_, item) in &items {
        let mut part = Out {
            text: String::new(),
        };
        let start = match item {
            Item::Seed(_, s, _) | Item::Duration(_, s, _) | Item::Include(_, s, _) => *s,
            Item::Block(b) => b.span.start,
            Item::Timed(t) => t.span.start,
            Item::Sweep(s) => s.span.start,
            Item::Expect(e) => e.span.start,
        };
        let lead = pending.before(start);
        part.comments(indent, &lead);
        let simple = |text: String, end: usize, pending: &mut Pending, part: &mut Out| {
            let t = pending.trailing(end_line(source, end));
            part.line(indent, &with_trailing(text, t));
        };
        match item {
            Item::Seed(s, _, end) => simple(format!("seed {s}"), *end, &mut pending, &mut part),
            Item::Duration(d, _, end) => {
                simple(format!("duration {d}"), *end, &mut pending, &mut part)
            }
            Item::Include(p, _, end) => simple(
                format!("include {}", string_text(p)),
                *end,
                &mut pending,
                &mut part,
            ),
            Item::Block(b) => block(&mut part, indent, b, source, &mut pending),
            Item::Timed(t) => timed(&mut part, indent, t, source, &mut pending),
            Item::Sweep(s) => simple(sweep_text(s), s.span.end, &mut pending, &mut part),
            Item::Expect(e) => simple(expect_text(e), e.span.end, &mut pending, &mut part),
        }
        groups[group(item)].push(part.text);
    }
    let rest = pending.rest();
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
        out.comments(indent, &rest);
        out.line(0, "}");
    } else {
        out.comments(0, &rest);
    }
    out.text
}

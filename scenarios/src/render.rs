//! Diagnostics for people: `file:line:col: message` on one line (what scripts and editors read),
//! then the source line with the span underlined and the hint, drawn by `ariadne`.

use std::collections::BTreeMap;

use ariadne::{Config, IndexType, Label, Report, ReportKind, Source};

use crate::diag::Diagnostic;

/// Where rendering finds the text of the files diagnostics name.
pub trait SourceText {
    fn text(&mut self, file: &str) -> Option<&str>;
}

/// Reads files from disk as they are needed, once each.
#[derive(Default)]
pub struct DiskSources {
    cache: BTreeMap<String, Option<String>>,
}

impl SourceText for DiskSources {
    fn text(&mut self, file: &str) -> Option<&str> {
        self.cache
            .entry(file.to_string())
            .or_insert_with(|| std::fs::read_to_string(file).ok())
            .as_deref()
    }
}

/// Sources given in memory: `(file name, text)`.
pub struct MemorySources<'a>(pub Vec<(&'a str, &'a str)>);

impl SourceText for MemorySources<'_> {
    fn text(&mut self, file: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| *f == file).map(|(_, t)| *t)
    }
}

/// The most diagnostics drawn with their source lines; later ones get the one-line form only,
/// so a file with thousands of problems is still reported quickly and readably.
pub const MAX_DRAWN: usize = 50;

/// ariadne's view of a file (its line index), built once per file per rendering.
type Drawn = BTreeMap<String, Option<(String, Source<String>)>>;

fn one_line(d: &Diagnostic) -> String {
    format!("{}:{}:{}: error: {}\n", d.file, d.line, d.col, d.message)
}

fn snippet(
    d: &Diagnostic,
    sources: &mut dyn SourceText,
    drawn: &mut Drawn,
    color: bool,
) -> Option<String> {
    let (start, end) = d.span?;
    let entry = drawn.entry(d.file.clone()).or_insert_with(|| {
        sources
            .text(&d.file)
            .map(|t| (t.to_string(), Source::from(t.to_string())))
    });
    let (text, source) = entry.as_ref()?;
    // A span that does not fit this text (a file changed since, say) gets no snippet.
    if start > end
        || end > text.len()
        || !text.is_char_boundary(start)
        || !text.is_char_boundary(end)
    {
        return None;
    }
    // An empty span (a position) underlines the character there, if any.
    let end = if end > start {
        end
    } else {
        text[start..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8())
    };
    let id = d.file.as_str();
    let mut report = Report::build(ReportKind::Error, (id, start..end))
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Byte),
        )
        .with_label(Label::new((id, start..end)).with_message("here"));
    if let Some(h) = &d.hint {
        report = report.with_help(h);
    }
    let mut buf = Vec::new();
    report.finish().write((id, source), &mut buf).ok()?;
    let out = String::from_utf8(buf).ok()?;
    // ariadne starts with its own `Error: message` line; ours is already printed.
    Some(
        out.split_once('\n')
            .map_or(String::new(), |(_, rest)| rest.to_string()),
    )
}

fn render_with(
    d: &Diagnostic,
    sources: &mut dyn SourceText,
    drawn: &mut Drawn,
    color: bool,
    draw: bool,
) -> String {
    let mut out = one_line(d);
    match draw.then(|| snippet(d, sources, drawn, color)).flatten() {
        Some(s) => out.push_str(&s),
        None => {
            if let Some(h) = &d.hint {
                out.push_str(&format!("  hint: {h}\n"));
            }
        }
    }
    out
}

/// One diagnostic: the one-line form, then (when the source is at hand) the underlined snippet.
pub fn render_one(d: &Diagnostic, sources: &mut dyn SourceText, color: bool) -> String {
    render_with(d, sources, &mut Drawn::new(), color, true)
}

/// Every diagnostic, in order: the first [`MAX_DRAWN`] with their source lines, the rest on one
/// line (with their hint) each.
pub fn render(diags: &[Diagnostic], sources: &mut dyn SourceText, color: bool) -> String {
    let mut drawn = Drawn::new();
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        out.push_str(&render_with(d, sources, &mut drawn, color, i < MAX_DRAWN));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    #[test]
    fn shows_the_line_and_underlines_the_span() {
        let text = "scenario \"x\" {\n  station s { servers 1 service exp(1s) sevrice 2 }\n}\n";
        let s = parse("x.scn", text).unwrap();
        let errs = crate::check::check(&s).unwrap_err();
        let out = render(&errs, &mut MemorySources(vec![("x.scn", text)]), false);
        assert!(
            out.starts_with("x.scn:2:41: error: station has no property `sevrice`"),
            "{out}"
        );
        assert!(
            out.contains("station s { servers 1 service exp(1s) sevrice 2 }"),
            "{out}"
        );
        assert!(out.contains("did you mean \"service\"?"), "{out}");
        // Without the source, the one-line form and the hint still come out.
        let bare = render(&errs, &mut MemorySources(vec![]), false);
        assert!(bare.contains("hint: did you mean"), "{bare}");
    }
}

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

/// One diagnostic: the one-line form, then (when the source is at hand) the underlined snippet.
pub fn render_one(d: &Diagnostic, sources: &mut dyn SourceText, color: bool) -> String {
    let mut out = format!("{}:{}:{}: error: {}\n", d.file, d.line, d.col, d.message);
    let snippet = d.span.and_then(|(start, end)| {
        let text = sources.text(&d.file)?;
        if start > text.len() || end > text.len() || !text.is_char_boundary(start) {
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
        let label = Label::new((id, start..end)).with_message("here");
        let mut report = Report::build(ReportKind::Error, (id, start..end))
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Byte),
            )
            .with_label(label);
        if let Some(h) = &d.hint {
            report = report.with_help(h);
        }
        let mut buf = Vec::new();
        report
            .finish()
            .write((id, Source::from(text)), &mut buf)
            .ok()?;
        let text = String::from_utf8(buf).ok()?;
        // ariadne starts with its own `Error: message` line; ours is already printed.
        Some(
            text.split_once('\n')
                .map_or(String::new(), |(_, rest)| rest.to_string()),
        )
    });
    match snippet {
        Some(s) => out.push_str(&s),
        None => {
            if let Some(h) = &d.hint {
                out.push_str(&format!("  hint: {h}\n"));
            }
        }
    }
    out
}

/// Every diagnostic, in order, each rendered by [`render_one`].
pub fn render(diags: &[Diagnostic], sources: &mut dyn SourceText, color: bool) -> String {
    diags
        .iter()
        .map(|d| render_one(d, sources, color))
        .collect()
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

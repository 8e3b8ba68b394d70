//! Diagnostics: what is wrong, where (file:line:col), and a hint where one helps.

use std::fmt;

use crate::ast::Span;

/// One problem found in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The byte range the message is about, for underlining the source; `None` for a position.
    pub span: Option<(usize, usize)>,
}

impl Diagnostic {
    pub fn at(file: &str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            line: span.line,
            col: span.col,
            message: message.into(),
            hint: None,
            span: Some((span.start, span.end)),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// One line: `file:line:col: message (hint: ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|&(d, c)| d <= 2.max(c.len() / 3) && d < c.len())
        .min()
        .map(|(_, c)| format!("did you mean \"{c}\"?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(
            did_you_mean("servrs", ["servers", "service"]).as_deref(),
            Some("did you mean \"servers\"?")
        );
        assert_eq!(did_you_mean("zzzzzz", ["servers", "service"]), None);
    }

    #[test]
    fn prints_on_one_line() {
        let d = Diagnostic::at(
            "a.scn",
            Span {
                start: 0,
                end: 1,
                line: 3,
                col: 7,
            },
            "bad",
        )
        .hint("try x");
        assert_eq!(d.to_string(), "a.scn:3:7: bad (hint: try x)");
    }
}

//! What the project's own documents say about themselves: the files a user reads (README,
//! ARCHITECTURE, BENCHMARKS, docs/*.md), their relative links, and the commands they show.
//! Shared by `scenarios/tests/doc_links.rs` (links, and `sim`'s commands) and
//! `native/tests/doc_commands.rs` (`native`'s commands), so both read the documents one way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The repository's root (the parent of the crate that includes this module).
pub fn repo_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.parent().unwrap_or(crate_dir);
    root.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
}

/// Every document a user of the repository reads, with its text, in a fixed order.
pub fn documents() -> Vec<(PathBuf, String)> {
    let root = repo_root();
    let mut paths: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    let docs = root.join("docs");
    let mut more: Vec<PathBuf> = std::fs::read_dir(&docs)
        .unwrap_or_else(|e| panic!("{}: {e}", docs.display()))
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    more.sort();
    paths.extend(more);
    assert!(
        paths.len() >= 8,
        "expected the README, two root documents and docs/*.md"
    );
    paths
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, text)
        })
        .collect()
}

/// Where a document shows a command: `(document, 1-based line, the command's words)`.
pub struct Mention {
    pub file: PathBuf,
    pub line: usize,
    /// The program's subcommand words as written: `["calibrate", "net"]` for
    /// `native calibrate net`; at most two, each lower-case letters and hyphens.
    pub words: Vec<String>,
}

/// Every place the documents show `program WORD...`: in inline code (`` `sim run x` ``), on lines
/// of shell blocks (` ```sh `) that start with the program, and on `$ program ...` lines of any
/// fenced block. Prose or a table that merely uses the word ("sim and the floor", a column
/// headed "sim s") is not a command and is not returned.
pub fn command_mentions(program: &str) -> Vec<Mention> {
    let mut out = Vec::new();
    for (file, text) in documents() {
        // The info string of the fenced block the line is in, if it is in one.
        let mut fence: Option<String> = None;
        for (i, line) in text.lines().enumerate() {
            if let Some(info) = line.trim_start().strip_prefix("```") {
                fence = match fence {
                    None => Some(info.trim().to_string()),
                    Some(_) => None,
                };
                continue;
            }
            let mut starts: Vec<&str> = Vec::new();
            if let Some(info) = &fence {
                let l = line.trim_start();
                if let Some(prompted) = l.strip_prefix("$ ") {
                    starts.push(prompted);
                } else if matches!(info.as_str(), "sh" | "bash" | "console" | "shell") {
                    starts.push(l);
                }
            } else {
                starts.extend(line.split('`').skip(1).step_by(2));
            }
            for s in starts {
                let Some(rest) = s.strip_prefix(program).and_then(|r| r.strip_prefix(' ')) else {
                    continue;
                };
                let words: Vec<String> = rest
                    .split_whitespace()
                    .take_while(|w| {
                        !w.is_empty()
                            && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                            && !w.starts_with('-')
                    })
                    .take(2)
                    .map(str::to_string)
                    .collect();
                if !words.is_empty() {
                    out.push(Mention {
                        file: file.clone(),
                        line: i + 1,
                        words,
                    });
                }
            }
        }
    }
    out
}

/// Checks every distinct command the documents show for `program` against the real binary:
/// `BINARY WORDS... --help` must succeed (clap refuses an unknown subcommand before it prints
/// help; a word that is a file argument is accepted, as it would be when the command ran).
/// Returns one line per mention that names a command that does not exist.
pub fn unknown_commands(program: &str, binary: &Path) -> Vec<String> {
    let mentions = command_mentions(program);
    assert!(
        !mentions.is_empty(),
        "the documents show no `{program}` command at all"
    );
    let distinct: BTreeSet<Vec<String>> = mentions.iter().map(|m| m.words.clone()).collect();
    let mut bad = BTreeSet::new();
    for words in distinct {
        let out = std::process::Command::new(binary)
            .args(&words)
            .arg("--help")
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        if !out.status.success() {
            bad.insert(words);
        }
    }
    mentions
        .iter()
        .filter(|m| bad.contains(&m.words))
        .map(|m| {
            format!(
                "{}:{}: `{program} {}` is not a command",
                m.file.display(),
                m.line,
                m.words.join(" ")
            )
        })
        .collect()
}

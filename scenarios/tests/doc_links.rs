//! The documents describe the repository alone: every relative link resolves to a file inside
//! it, no path points outside it, and every `sim` command they show exists.

mod common;

use common::doc_mentions::{documents, repo_root, unknown_commands};

/// The targets of the Markdown links `[text](target)` on one line.
fn link_targets(line: &str) -> Vec<&str> {
    line.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &line[i + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn relative_links_resolve_inside_the_repository() {
    let root = repo_root();
    let mut bad = Vec::new();
    let mut checked = 0;
    for (file, text) in documents() {
        let dir = file.parent().expect("a document has a directory");
        for (i, line) in text.lines().enumerate() {
            for target in link_targets(line) {
                if target.contains("://")
                    || target.starts_with('#')
                    || target.starts_with("mailto:")
                {
                    continue;
                }
                let path = target.split('#').next().unwrap_or(target);
                checked += 1;
                match dir.join(path).canonicalize() {
                    Ok(p) if p.starts_with(&root) => {}
                    Ok(p) => bad.push(format!(
                        "{}:{}: `{target}` is outside the repository ({})",
                        file.display(),
                        i + 1,
                        p.display()
                    )),
                    Err(e) => bad.push(format!("{}:{}: `{target}`: {e}", file.display(), i + 1)),
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} relative links found: is the link scanner broken?"
    );
    assert!(
        bad.is_empty(),
        "links a user cannot follow:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_document_names_a_path_outside_the_repository() {
    let root = repo_root();
    let mut bad = Vec::new();
    for (file, text) in documents() {
        let dir = file.parent().expect("a document has a directory");
        for (i, line) in text.lines().enumerate() {
            for code in line.split('`').skip(1).step_by(2) {
                let Some(path) = code
                    .split_whitespace()
                    .next()
                    .filter(|p| p.starts_with("../"))
                else {
                    continue;
                };
                // Lexically, since the path need not exist here: count the levels it climbs.
                let mut depth = dir
                    .strip_prefix(&root)
                    .map(|d| d.components().count())
                    .unwrap_or(0) as i64;
                let mut escapes = false;
                for part in path.split('/') {
                    match part {
                        ".." => depth -= 1,
                        "." | "" => {}
                        _ => depth += 1,
                    }
                    escapes |= depth < 0;
                }
                if escapes {
                    bad.push(format!(
                        "{}:{}: `{path}` is outside the repository",
                        file.display(),
                        i + 1
                    ));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "paths a user does not have:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_sim_command_shown_exists() {
    let bad = unknown_commands("sim", std::path::Path::new(env!("CARGO_BIN_EXE_sim")));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

//! Reading scenario files from disk, following `include`s.
//!
//! `include "common.scn"` names a *fragment*: a file of items with no `scenario` header, resolved
//! relative to the file that includes it. Its items (blocks, schedule, checks, sweeps, and a seed
//! or duration the including file does not give) join the scenario ahead of the including file's
//! own items, in include order. Includes nest up to [`MAX_INCLUDE_DEPTH`] deep; a file that
//! includes itself, directly or not, is an error.

use std::path::{Path, PathBuf};

use crate::ast::{Scenario, Span};
use crate::diag::Diagnostic;
use crate::parse::{MAX_SOURCE_BYTES, parse};
use crate::runner::ScenarioError;

/// How deep includes may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads a file as UTF-8 text, refusing directories and files over the size bound.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let shown = path.display().to_string();
    let io = |source| ScenarioError::Io {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::other(
            "is a directory, not a scenario file",
        )));
    }
    if meta.len() > MAX_SOURCE_BYTES as u64 {
        return Err(io(std::io::Error::other(format!(
            "larger than {} MiB; not a scenario file",
            MAX_SOURCE_BYTES >> 20
        ))));
    }
    // Read at most one byte past the bound: a device or a pipe reports no length.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            use std::io::Read;
            f.take(MAX_SOURCE_BYTES as u64 + 1).read_to_end(&mut bytes)
        })
        .map_err(io)?;
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(io(std::io::Error::other(format!(
            "larger than {} MiB; not a scenario file",
            MAX_SOURCE_BYTES >> 20
        ))));
    }
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = upto.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        ScenarioError::Invalid(vec![Diagnostic {
            file: shown.clone(),
            line,
            col,
            message: "the file is not valid UTF-8".into(),
            hint: None,
            span: None,
        }])
    })
}

/// The fields of a network calibration that make a network model (other fields, the raw
/// measurements, are there for people).
#[derive(serde::Deserialize)]
struct NetworkCalibration {
    model_median_ns: f64,
    model_sigma: f64,
}

/// The fields of a disk calibration (`native calibrate disk`) that make a disk model.
#[derive(serde::Deserialize)]
struct DiskCalibration {
    read_latency_ns: u64,
    write_latency_ns: u64,
    transfer_bytes_per_s: u64,
}

/// The `disk` block of an SSD with these timings: what `native calibrate disk` writes and what
/// its RON stands for.
pub fn disk_block(
    read_latency_ns: u64,
    write_latency_ns: u64,
    transfer_bytes_per_s: u64,
) -> String {
    format!(
        "disk {{ model ssd  read_latency {read_latency_ns}ns  write_latency {write_latency_ns}ns  transfer {transfer_bytes_per_s}B }}\n"
    )
}

/// The `disk` block of an SSD with the model's defaults: calibration's starting point.
pub fn disk_block_default() -> String {
    "disk { model ssd }\n".to_string()
}

/// A calibration's RON as the fragment it stands for: a disk calibration's `disk` block, or a
/// network calibration's `network { latency lognormal(MEDIANns, SIGMA) }`.
fn ron_fragment(text: &str) -> Result<String, String> {
    if let Ok(d) = ron::from_str::<DiskCalibration>(text) {
        if d.read_latency_ns == 0 || d.write_latency_ns == 0 || d.transfer_bytes_per_s == 0 {
            return Err("a disk calibration's latencies and transfer rate must be positive".into());
        }
        return Ok(disk_block(
            d.read_latency_ns,
            d.write_latency_ns,
            d.transfer_bytes_per_s,
        ));
    }
    let c: NetworkCalibration = ron::from_str(text).map_err(|e| e.to_string())?;
    if !(c.model_median_ns.is_finite() && c.model_median_ns >= 1.0) {
        return Err(format!(
            "model_median_ns {} is not a latency of at least 1 ns",
            c.model_median_ns
        ));
    }
    if !(c.model_sigma.is_finite() && c.model_sigma >= 0.0) {
        return Err(format!(
            "model_sigma {} is not a sigma (>= 0)",
            c.model_sigma
        ));
    }
    Ok(format!(
        "network {{ latency lognormal({}ns, {}) }}\n",
        c.model_median_ns.round() as u64,
        c.model_sigma
    ))
}

/// Reads, parses and resolves the includes of the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = read_text(path)?;
    let shown = path.display().to_string();
    let mut scenario = parse(&shown, &text).map_err(ScenarioError::Invalid)?;
    let mut stack = vec![canonical(path)];
    resolve(&mut scenario, path, &mut stack)?;
    Ok(scenario)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn resolve(
    scenario: &mut Scenario,
    path: &Path,
    stack: &mut Vec<PathBuf>,
) -> Result<(), ScenarioError> {
    let includes = std::mem::take(&mut scenario.includes);
    if includes.is_empty() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut errors = Vec::new();
    let mut merged_blocks = Vec::new();
    let mut merged_expects = Vec::new();
    let mut merged_schedule = Vec::new();
    let mut merged_sweeps = Vec::new();
    for inc in includes {
        let err = |msg: String, hint: Option<&str>| {
            let d = Diagnostic::at(&scenario.file, inc.span, msg);
            match hint {
                Some(h) => d.hint(h),
                None => d,
            }
        };
        if stack.len() > MAX_INCLUDE_DEPTH {
            errors.push(err(
                format!("includes nest more than {MAX_INCLUDE_DEPTH} deep"),
                None,
            ));
            continue;
        }
        let target = dir.join(&inc.path);
        let canon = canonical(&target);
        if stack.contains(&canon) {
            errors.push(err(
                format!("`{}` includes itself (through this line)", inc.path),
                Some("remove the include that closes the loop"),
            ));
            continue;
        }
        let text = match read_text(&target) {
            Ok(t) => t,
            Err(ScenarioError::Io { source, .. }) => {
                errors.push(err(
                    format!("cannot include `{}`: {source}", target.display()),
                    Some("paths are relative to the including file"),
                ));
                continue;
            }
            Err(ScenarioError::Invalid(d)) => {
                errors.extend(d);
                continue;
            }
            Err(other) => return Err(other),
        };
        let shown = target.display().to_string();
        // A calibration in RON stands for its block: `native calibrate net`'s for a `network`
        // block, `native calibrate disk`'s for a `disk` block.
        let text = if target.extension().is_some_and(|e| e == "ron") {
            match ron_fragment(&text) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(err(
                        format!("cannot include `{}`: {e}", target.display()),
                        Some("a .ron include is a calibration, as `native calibrate net` or `native calibrate disk` writes it"),
                    ));
                    continue;
                }
            }
        } else {
            text
        };
        let mut part = match parse(&shown, &text) {
            Ok(p) => p,
            Err(d) => {
                errors.extend(d);
                continue;
            }
        };
        if part.name.is_some() {
            errors.push(err(
                format!("`{}` is a whole scenario, not a fragment", inc.path),
                Some("an included file holds items only, without `scenario \"...\" { }`"),
            ));
            continue;
        }
        stack.push(canon);
        let nested = resolve(&mut part, &target, stack);
        stack.pop();
        if let Err(e) = nested {
            match e {
                ScenarioError::Invalid(d) => errors.extend(d),
                other => return Err(other),
            }
            continue;
        }
        for (field, mine, theirs) in [
            ("seed", scenario.seed.map(|s| s.1), part.seed.map(|s| s.1)),
            (
                "duration",
                scenario.duration.map(|d| d.1),
                part.duration.map(|d| d.1),
            ),
        ] {
            if let (Some(_), Some(at)) = (mine, theirs) {
                errors.push(
                    Diagnostic::at(
                        &shown,
                        at,
                        format!("the {field} is given here and in the including file"),
                    )
                    .hint("give it in one place"),
                );
            }
        }
        if scenario.seed.is_none() {
            scenario.seed = part.seed;
        }
        if scenario.duration.is_none() {
            scenario.duration = part.duration;
        }
        merged_blocks.extend(part.blocks);
        merged_expects.extend(part.expects);
        merged_schedule.extend(part.schedule);
        merged_sweeps.extend(part.sweeps);
    }
    merged_blocks.append(&mut scenario.blocks);
    scenario.blocks = merged_blocks;
    merged_expects.append(&mut scenario.expects);
    scenario.expects = merged_expects;
    merged_schedule.append(&mut scenario.schedule);
    scenario.schedule = merged_schedule;
    merged_sweeps.append(&mut scenario.sweeps);
    scenario.sweeps = merged_sweeps;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(errors))
    }
}

/// A position at the start of a file, for messages about the file as a whole.
pub fn file_start() -> Span {
    Span {
        start: 0,
        end: 0,
        line: 1,
        col: 1,
    }
}

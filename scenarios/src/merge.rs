//! `sim merge`: the parts of a sharded batch (`sim run FILE --seeds A..B --shard K/N --json`, one
//! per K), joined into what one machine running the whole batch prints: the same rows in the same
//! order, the same summary counts and the same replay commands, as the table or (`--json`) the
//! same JSON. Only measured time differs ([`crate::seeds::WALL_TIME`], the JSON's
//! [`crate::seeds::WALL_TIME_FIELDS`]): the merged wall time is the parts' sum, the machine time
//! the batch took.
//!
//! Each part is checked against the others (the same scenario, file, seed range and variants;
//! shards of the same N, each K once, all there; each part with the runs its shard has, every
//! run where its index puts it), so a part from another batch, a missing one or a truncated
//! file is an error naming the file, not a wrong summary.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::seeds::{Info, Json, Row, SeedRange, Shard, Table, Totals};

/// Why parts cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: {source}")]
    Read { path: String, source: io::Error },
    #[error(
        "{path}:{line}:{column}: {message} (a part is what `sim run FILE --seeds A..B --shard K/N --json` prints)"
    )]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Part { path: String, message: String },
    #[error("{0}")]
    Parts(String),
}

/// The JSON object a part is.
#[derive(Deserialize)]
struct PartFile {
    scenario: String,
    file: String,
    seeds: Seeds,
    variants: Vec<String>,
    #[serde(default)]
    shard: Option<ShardJson>,
    runs: Vec<Box<RawValue>>,
    summary: Summary,
}

#[derive(Deserialize)]
struct Seeds {
    first: u64,
    last: u64,
}

#[derive(Deserialize)]
struct ShardJson {
    k: u64,
    n: u64,
}

#[derive(Deserialize)]
struct Summary {
    wall_time_s: f64,
}

/// One part, read.
pub struct Part {
    path: String,
    info: Info,
    runs: Vec<Box<RawValue>>,
    wall_time_s: f64,
}

/// Reads the part at `path`.
pub fn read_part(path: &Path) -> Result<Part, MergeError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read {
        path: shown.clone(),
        source,
    })?;
    let part: PartFile = serde_json::from_str(&text).map_err(|e| MergeError::Parse {
        path: shown.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let bad = |message: String| MergeError::Part {
        path: shown.clone(),
        message,
    };
    let seeds = SeedRange {
        first: part.seeds.first,
        last: part.seeds.last,
    };
    if seeds.last < seeds.first {
        return Err(bad(format!("its seed range {seeds} is empty")));
    }
    let shard = match part.shard {
        None => None,
        Some(s) => Some(
            format!("{}/{}", s.k, s.n)
                .parse::<Shard>()
                .map_err(|e| bad(format!("its shard: {e}")))?,
        ),
    };
    let swept = !part.variants.is_empty();
    let labels = if swept {
        part.variants
    } else {
        vec![String::new()]
    };
    let info = Info {
        file: part.file,
        name: part.scenario,
        seeds,
        // The replays are read from each run; a merged batch never makes one.
        variant_flags: vec![String::new(); labels.len()],
        labels,
        replay_flags: String::new(),
        swept,
        shard,
    };
    if part.runs.len() as u64 != info.runs() {
        return Err(bad(format!(
            "it has {} runs where its {} should have {} (was it cut short?)",
            part.runs.len(),
            shard.map_or("batch".to_string(), |s| format!("shard {s}")),
            info.runs()
        )));
    }
    Ok(Part {
        path: shown,
        info,
        runs: part.runs,
        wall_time_s: part.summary.wall_time_s,
    })
}

/// Parts that make one batch, in run order.
pub struct Merged {
    /// The whole batch (no shard).
    pub info: Info,
    /// Each run's JSON text and its row, in (seed, variant) order.
    pub runs: Vec<(Box<RawValue>, Row)>,
    pub totals: Totals,
}

/// Checks that `parts` are the shards of one batch, each once, and puts their runs in order.
pub fn merge(parts: Vec<Part>) -> Result<Merged, MergeError> {
    let Some(first) = parts.first() else {
        return Err(MergeError::Parts("no parts to merge".into()));
    };
    let whole = Info {
        shard: None,
        ..first.info.clone()
    };
    let n = first.info.shard.map_or(1, |s| s.n);
    let mut by_k: Vec<Option<Part>> = (0..n).map(|_| None).collect();
    for p in parts {
        let same = Info {
            shard: None,
            ..p.info.clone()
        };
        if same != whole {
            return Err(MergeError::Part {
                path: p.path,
                message: format!(
                    "it is not a part of the same batch as {} (scenario, file, seeds and variants must all be the same)",
                    first_path(&by_k).unwrap_or("the first part")
                ),
            });
        }
        let (k, its_n) = p.info.shard.map_or((1, 1), |s| (s.k, s.n));
        if its_n != n {
            return Err(MergeError::Part {
                path: p.path,
                message: format!("it is a shard of {its_n} parts, the others of {n}"),
            });
        }
        let slot = &mut by_k[(k - 1) as usize];
        if let Some(other) = slot {
            return Err(MergeError::Part {
                path: p.path,
                message: format!("shard {k}/{n} is also {}", other.path),
            });
        }
        *slot = Some(p);
    }
    let missing: Vec<String> = by_k
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_none())
        .map(|(k, _)| format!("{}/{n}", k + 1))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Parts(format!(
            "missing {} of {n} shards: {} (run `sim run {} --seeds {} --shard K/N --json` for each)",
            missing.len(),
            missing.join(", "),
            whole.file,
            whole.seeds
        )));
    }
    let mut parts: Vec<Part> = by_k.into_iter().flatten().collect();
    let wall_time_s = parts.iter().map(|p| p.wall_time_s).sum();
    let mut iters: Vec<_> = parts
        .iter_mut()
        .map(|p| (p.path.clone(), std::mem::take(&mut p.runs).into_iter()))
        .collect();
    let total = whole.total_runs();
    let mut runs = Vec::with_capacity(total as usize);
    let mut totals = Totals {
        wall_time_s,
        ..Totals::default()
    };
    for index in 0..total {
        let (path, it) = &mut iters[(index % n) as usize];
        let bad = |message: String| MergeError::Part {
            path: path.clone(),
            message,
        };
        let raw = it
            .next()
            .ok_or_else(|| bad(format!("run {index} is missing")))?;
        let value: serde_json::Value =
            serde_json::from_str(raw.get()).map_err(|e| bad(e.to_string()))?;
        let row = Row::from_json(&whole, &value).map_err(&bad)?;
        let (seed, variant) = whole.run_at(index);
        if (row.seed, row.variant) != (seed, variant) {
            return Err(bad(format!(
                "its runs are out of order: found seed {} where run {index} (seed {seed}) belongs",
                row.seed
            )));
        }
        totals.runs += 1;
        if row.ok {
            totals.passed += 1;
        } else {
            totals.failed += 1;
        }
        runs.push((raw, row));
    }
    Ok(Merged {
        info: whole,
        runs,
        totals,
    })
}

fn first_path(parts: &[Option<Part>]) -> Option<&str> {
    parts.iter().flatten().next().map(|p| p.path.as_str())
}

/// Writes the merged batch as `sim run --seeds` would: the table, or with `json` the JSON.
pub fn write(merged: &Merged, json: bool, out: &mut impl Write) -> io::Result<()> {
    if json {
        let mut j = Json::of(merged.info.clone());
        j.header(out)?;
        for (raw, _) in &merged.runs {
            j.raw(out, raw.get())?;
        }
        j.finish(out, &merged.totals)
    } else {
        let mut t = Table::of(merged.info.clone());
        t.header(out)?;
        // In chunks, as a batch prints them (the table's state does not depend on the size).
        let rows: Vec<Row> = merged.runs.iter().map(|(_, r)| r.clone()).collect();
        t.rows_of(out, &rows)?;
        t.finish(out, &merged.totals)
    }
}

/// Reads and merges the parts at `paths`.
pub fn merge_files(paths: &[PathBuf]) -> Result<Merged, MergeError> {
    let parts = paths
        .iter()
        .map(|p| read_part(p))
        .collect::<Result<Vec<_>, _>>()?;
    merge(parts)
}

//! A run's timeline in the Chrome Trace Event format, the JSON that Perfetto (ui.perfetto.dev) and
//! chrome://tracing open: `sim run --export-trace`.
//!
//! The mapping: each track group (`hosts`, `cpus`, `faults`…) is a process, in order of first
//! appearance; each track is a thread of its group's process, `tid` = track index + 1; spans are
//! complete events (`"ph":"X"`), instants are instant events (`"ph":"i"`), every
//! [`MetricValue::Series`] is a counter (`"ph":"C"`) on one more process named `metrics`, and
//! metadata events (`"ph":"M"`) name and order every process and thread.
//!
//! # Why the JSON is written by hand
//!
//! The output must be the same bytes for the same run, and times must be exact; both are easier
//! to hold by writing the text directly than through `serde_json::Value` (whose `Map` orders keys
//! alphabetically). Key order matters in practice, not only for determinism: Perfetto's JSON
//! tokenizer scans each event's keys in order to find `ts`, and (in the versions read while
//! writing this) its fast scanner fails the whole trace on a `\u` escape or an array met before
//! `ts`, so every event starts with `ph` and `ts` and the names come after. Strings are still escaped by `serde_json` (quotes, backslashes, control characters;
//! non-ASCII stays UTF-8), numbers for counter values by `serde_json` (shortest round-trip form).
//!
//! # Why times are written as decimal text
//!
//! The format's `ts` and `dur` are microseconds; virtual time is integer nanoseconds. A time is
//! written as its integer microseconds followed, when the nanoseconds are not a whole microsecond,
//! by `.` and exactly three fraction digits (`5000 ns` is `5`, `1500 ns` is `1.500`, `1 ns` is
//! `0.001`). That text is the exact value for every `u64`, 584 years included. An `f64` of
//! microseconds could not be: most nanosecond fractions have no binary form (0.001 has none), and
//! a double resolves a nanosecond of microseconds only below 2^43 µs (about 100 days). Readers
//! that parse the text exactly get the nanosecond back (Perfetto does, for `ts`); readers that
//! parse a double get the nearest one, which rounds back to the right nanosecond for runs shorter
//! than those 100 days. (Perfetto reads `dur` as a double and truncates it to nanoseconds, so it
//! may show a span as one nanosecond shorter; the file itself is exact.)
//!
//! # Order
//!
//! Metadata comes first; then every timed event sorted by time, stably. Among events at the same
//! instant a longer span comes before a shorter one (then instants and counters), in recorded
//! order otherwise: complete events on one thread must nest, and viewers that open slices in file
//! order would otherwise put a parent that was recorded after its child (spans are usually
//! recorded when they end) inside that child.
//!
//! # Bounds
//!
//! The output holds one event per kept mark, one per kept series point and a few per track and
//! group: no more than the [`Timeline`] (bounded by [`simcore::timeline::MARKS_MAX`] and
//! [`simcore::timeline::TRACKS_MAX`]) and the snapshot (bounded by
//! [`simcore::metrics::SERIES_LIMIT`] points per series) already hold.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use simcore::{Mark, MetricValue, MetricsSnapshot, Timeline};

/// What the trace is of, carried in `otherData` so a trace file names the run that made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceMeta {
    pub scenario: String,
    pub file: String,
    pub seed: u64,
    pub trace_hash: String,
    pub variant: String,
}

/// The category of marks drawn across every track (`"s":"g"`).
const FAULT_CATEGORY: &str = "fault";
/// The name of the process that holds the counters.
const METRICS_PROCESS: &str = "metrics";

/// The Chrome Trace Event JSON of a run: one process per track group (in order of first
/// appearance), one thread per track (tid = track index + 1, named by the track), spans as
/// complete events, instants as instant events (category "fault" instants get global scope "g" so
/// Perfetto draws them across all tracks, others thread scope "t"), and every Series metric of
/// `metrics` as counter events on a process named "metrics" (one counter per series, name =
/// metric name). `otherData` carries the meta fields, `dropped_marks` (timeline.dropped()) and
/// `events_total`.
///
/// Details beyond that: pids are group index + 1 and the `metrics` process comes last (it exists
/// only when there is a series); `events_total` is the number of entries of `traceEvents`; the
/// seed is written as a decimal *string* because JavaScript viewers read JSON numbers as doubles
/// and would show a seed above 2^53 wrongly, and a seed is what one types to reproduce a run.
/// Points that JSON cannot hold (NaN, ±infinity) are left out and counted in `skipped_points`;
/// marks on a track the timeline does not know (only possible with a hand-made [`simcore::TrackId`])
/// are left out and counted in `skipped_marks`.
pub fn chrome_trace(timeline: &Timeline, metrics: &MetricsSnapshot, meta: &TraceMeta) -> String {
    let tracks = timeline.tracks();

    // Processes: groups in order of first appearance; each track's pid.
    let mut groups: Vec<&str> = Vec::new();
    let mut group_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut first_tid: Vec<u64> = Vec::new();
    let mut track_pid: Vec<u64> = Vec::with_capacity(tracks.len());
    for (i, t) in tracks.iter().enumerate() {
        let g = *group_index.entry(t.group.as_str()).or_insert_with(|| {
            groups.push(t.group.as_str());
            first_tid.push(i as u64 + 1);
            groups.len() - 1
        });
        track_pid.push(g as u64 + 1);
    }

    let series: Vec<(&str, &[(u64, f64)])> = metrics
        .0
        .iter()
        .filter_map(|(name, v)| match v {
            MetricValue::Series { points, .. } => Some((name.as_str(), points.as_slice())),
            _ => None,
        })
        .collect();
    let metrics_pid = groups.len() as u64 + 1;
    // Every (pid, tid) pair names one thread of one process: Perfetto keys threads by tid alone
    // and takes a tid seen under a second pid for a new thread, so process-level events use a tid
    // of their own process (its first track's, or for `metrics` one no track has).
    let metrics_tid = tracks.len() as u64 + 1;

    let mut out = String::with_capacity(256 + 160 * (timeline.marks().len() + 2 * tracks.len()));
    out.push_str("{\"traceEvents\":[");
    let mut events: u64 = 0;
    let mut begin_event = |out: &mut String| {
        out.push_str(if events == 0 { "\n" } else { ",\n" });
        events += 1;
    };

    // Metadata: names and order of processes and threads.
    for (g, name) in groups.iter().enumerate() {
        let (pid, tid) = (g as u64 + 1, first_tid[g]);
        begin_event(&mut out);
        metadata(&mut out, "process_name", pid, tid, "name", &json_str(name));
        begin_event(&mut out);
        metadata(
            &mut out,
            "process_sort_index",
            pid,
            tid,
            "sort_index",
            &g.to_string(),
        );
    }
    if !series.is_empty() {
        begin_event(&mut out);
        let name = json_str(METRICS_PROCESS);
        metadata(
            &mut out,
            "process_name",
            metrics_pid,
            metrics_tid,
            "name",
            &name,
        );
        begin_event(&mut out);
        let index = groups.len().to_string();
        metadata(
            &mut out,
            "process_sort_index",
            metrics_pid,
            metrics_tid,
            "sort_index",
            &index,
        );
    }
    for (i, t) in tracks.iter().enumerate() {
        let (pid, tid) = (track_pid[i], i as u64 + 1);
        begin_event(&mut out);
        metadata(
            &mut out,
            "thread_name",
            pid,
            tid,
            "name",
            &json_str(&t.name),
        );
        begin_event(&mut out);
        metadata(
            &mut out,
            "thread_sort_index",
            pid,
            tid,
            "sort_index",
            &i.to_string(),
        );
    }

    // Timed events, in the order described in the module documentation.
    enum Item<'a> {
        Mark(&'a Mark),
        Point { series: usize, at: u64, value: f64 },
    }
    let mut skipped_marks: u64 = 0;
    let mut skipped_points: u64 = 0;
    let mut items: Vec<(u64, Reverse<u64>, Item)> = Vec::with_capacity(
        timeline.marks().len() + series.iter().map(|s| s.1.len()).sum::<usize>(),
    );
    for m in timeline.marks() {
        if (m.track.0 as usize) < tracks.len() {
            items.push((m.at.as_nanos(), Reverse(m.duration_ns()), Item::Mark(m)));
        } else {
            skipped_marks += 1;
        }
    }
    for (s, (_, points)) in series.iter().enumerate() {
        for &(at, value) in points.iter() {
            if value.is_finite() {
                items.push((
                    at,
                    Reverse(0),
                    Item::Point {
                        series: s,
                        at,
                        value,
                    },
                ));
            } else {
                skipped_points += 1;
            }
        }
    }
    // Stable: equal keys keep recorded order (marks before points, points in series order).
    items.sort_by_key(|(at, dur, _)| (*at, *dur));

    for (_, _, item) in &items {
        begin_event(&mut out);
        match item {
            Item::Mark(m) => {
                let i = m.track.0 as usize;
                let (pid, tid) = (track_pid[i], i as u64 + 1);
                let at = m.at.as_nanos();
                match m.end {
                    Some(_) => {
                        let _ = write!(
                            out,
                            "{{\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{pid},\"tid\":{tid}",
                            Micros(at),
                            Micros(m.duration_ns())
                        );
                    }
                    None => {
                        let scope = if m.category == FAULT_CATEGORY {
                            "g"
                        } else {
                            "t"
                        };
                        let _ = write!(
                            out,
                            "{{\"ph\":\"i\",\"ts\":{},\"pid\":{pid},\"tid\":{tid},\"s\":\"{scope}\"",
                            Micros(at)
                        );
                    }
                }
                let _ = write!(
                    out,
                    ",\"cat\":{},\"name\":{}}}",
                    json_str(m.category),
                    json_str(&m.name)
                );
            }
            Item::Point {
                series: s,
                at,
                value,
            } => {
                let _ = write!(
                    out,
                    "{{\"ph\":\"C\",\"ts\":{},\"pid\":{metrics_pid},\"tid\":{metrics_tid},\
                     \"name\":{},\"args\":{{\"value\":{}}}}}",
                    Micros(*at),
                    json_str(series[*s].0),
                    json_f64(*value)
                );
            }
        }
    }

    out.push_str("\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{");
    let _ = write!(
        out,
        "\"scenario\":{},\"file\":{},\"seed\":\"{}\",\"trace_hash\":{},\"variant\":{},\
         \"dropped_marks\":{},\"events_total\":{events},\"skipped_marks\":{skipped_marks},\
         \"skipped_points\":{skipped_points}}}}}\n",
        json_str(&meta.scenario),
        json_str(&meta.file),
        meta.seed,
        json_str(&meta.trace_hash),
        json_str(&meta.variant),
        timeline.dropped(),
    );
    out
}

/// One metadata event; `value` is already JSON text.
fn metadata(out: &mut String, name: &str, pid: u64, tid: u64, key: &str, value: &str) {
    // `ts` is not needed by the format for metadata, but present so that readers which look for
    // `ts` first (Perfetto's tokenizer) need no special case.
    let _ = write!(
        out,
        "{{\"ph\":\"M\",\"ts\":0,\"pid\":{pid},\"tid\":{tid},\"name\":\"{name}\",\
         \"args\":{{\"{key}\":{value}}}}}"
    );
}

/// A JSON string literal: serde_json's escaping, which cannot fail for a `str`.
fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// A finite `f64` as a JSON number in serde_json's shortest round-trip form.
fn json_f64(v: f64) -> String {
    serde_json::to_string(&v).unwrap_or_else(|_| "0".to_string())
}

/// Nanoseconds shown as exact decimal microseconds: `5000` → `5`, `1500` → `1.500`,
/// `1` → `0.001`. See the module documentation for why not an `f64`.
struct Micros(u64);

impl std::fmt::Display for Micros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (us, ns) = (self.0 / 1000, self.0 % 1000);
        if ns == 0 {
            write!(f, "{us}")
        } else {
            write!(f, "{us}.{ns:03}")
        }
    }
}

/// Writes `json` to `path` atomically: into a new temporary file beside `path` (same directory,
/// so the rename cannot cross file systems), flushed to disk, then renamed over `path`. A reader
/// sees the old file or the whole new one, never half; if anything fails the temporary file is
/// removed and any old file at `path` is left as it was.
pub fn write_chrome_trace(path: &Path, json: &str) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Unique per process and call, so concurrent writers never share a temporary file; hidden
    // (leading dot) so a directory listing during the write does not show it as a trace.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (tmp, mut file) = loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp: PathBuf = dir.join(tmp_name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            // Left by a crashed earlier process with the same id: take the next number.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let written = file
        .write_all(json.as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrome_micros_are_exact_decimals() {
        let s = |ns: u64| Micros(ns).to_string();
        assert_eq!(s(0), "0");
        assert_eq!(s(1), "0.001");
        assert_eq!(s(999), "0.999");
        assert_eq!(s(1000), "1");
        assert_eq!(s(1500), "1.500");
        assert_eq!(s(1_000_010), "1000.010");
        assert_eq!(s(259_200_000_000_001), "259200000000.001");
        assert_eq!(s(u64::MAX), "18446744073709551.615");
    }

    #[test]
    fn chrome_json_str_escapes() {
        assert_eq!(json_str("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u0001é\"");
        assert_eq!(json_f64(2.5), "2.5");
    }
}

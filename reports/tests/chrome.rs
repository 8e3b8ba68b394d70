//! The Chrome trace export, read back with serde_json: every span is a complete event on its
//! track's process and thread with exact times, metadata names every process and thread, fault
//! instants are global, series become counters, the output is ordered by time and the same bytes
//! every time, odd names survive escaping, and the file is written atomically.

use std::collections::BTreeMap;

use reports::chrome::{TraceMeta, chrome_trace, write_chrome_trace};
use serde_json::Value;
use simcore::timeline::MARKS_PER_CATEGORY_MAX;
use simcore::{Metrics, MetricsSnapshot, SimTime, Timeline};

fn t(ns: u64) -> SimTime {
    SimTime::from_nanos(ns)
}

/// Two groups, interleaved on purpose (`hosts`, `faults`, `hosts`), spans of several lengths
/// including zero, a parent recorded after its child with the same start, instants including
/// faults, and a fault span.
fn timeline() -> Timeline {
    let mut tl = Timeline::new();
    let n1 = tl.track("hosts", "n1"); // tid 1
    let f = tl.track("faults", "faults"); // tid 2
    let n2 = tl.track("hosts", "n2"); // tid 3
    tl.span(n1, "role", "leader t2", t(1_500), t(2_000_001));
    tl.span(n1, "role", "follower t1", t(0), t(1_500));
    tl.span(n2, "role", "follower t1", t(0), t(2_500_000));
    tl.span(n2, "op", "zero", t(7_000), t(7_000));
    tl.span(n2, "op", "child", t(10_000), t(11_000));
    tl.span(n2, "op", "parent", t(10_000), t(20_000));
    tl.instant(n1, "op", "write x", t(1_250));
    tl.instant(f, "fault", "crash n1", t(2_000_001));
    tl.span(f, "fault", "partition n1|n2", t(500_000), t(1_500_000));
    tl
}

fn metrics() -> MetricsSnapshot {
    let mut m = Metrics::new();
    let commit = m.series("raft", "commit").unwrap();
    let len = m.series("q", "len").unwrap();
    let served = m.counter("server", "served").unwrap();
    m.push(commit, t(0), 0.0);
    m.push(commit, t(1_000), 1.0);
    m.push(commit, t(1_500), f64::NAN);
    m.push(commit, t(2_000_001), 2.5);
    m.push(len, t(3), -4.25);
    m.add(served, 7);
    m.snapshot(t(3_000_000))
}

fn meta() -> TraceMeta {
    TraceMeta {
        scenario: "raft-basic".into(),
        file: "scenarios/raft.scn".into(),
        seed: u64::MAX,
        trace_hash: "0123456789abcdef".into(),
        variant: "nodes=3".into(),
    }
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}):\n{json}"))
}

fn events(v: &Value) -> &Vec<Value> {
    v["traceEvents"]
        .as_array()
        .expect("traceEvents is an array")
}

/// A `ts`/`dur` (microseconds) back to nanoseconds; exact for the small times used here.
fn ns(v: &Value) -> u64 {
    let us = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    (us * 1000.0).round() as u64
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// Metadata events named `kind`: (pid, tid) → args value under `key`.
fn metadata(v: &Value, kind: &str, key: &str) -> BTreeMap<(u64, u64), Value> {
    events(v)
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == kind)
        .map(|e| ((u(&e["pid"]), u(&e["tid"])), e["args"][key].clone()))
        .collect()
}

/// pid of the process named `name` (exactly one).
fn pid_of(v: &Value, name: &str) -> u64 {
    let pids: Vec<u64> = metadata(v, "process_name", "name")
        .into_iter()
        .filter(|(_, n)| n == name)
        .map(|((pid, _), _)| pid)
        .collect();
    assert_eq!(pids.len(), 1, "one process named {name}: {pids:?}");
    pids[0]
}

#[test]
fn every_span_is_a_complete_event_on_its_process_and_thread() {
    let tl = timeline();
    let v = parse(&chrome_trace(&tl, &metrics(), &meta()));
    let xs: Vec<&Value> = events(&v).iter().filter(|e| e["ph"] == "X").collect();
    let spans: Vec<_> = tl.marks().iter().filter(|m| m.end.is_some()).collect();
    assert_eq!(xs.len(), spans.len());
    for m in spans {
        let track = &tl.tracks()[m.track.0 as usize];
        let tid = m.track.0 as u64 + 1;
        let found: Vec<&&Value> = xs
            .iter()
            .filter(|e| e["name"] == m.name.as_str() && u(&e["tid"]) == tid)
            .collect();
        assert_eq!(found.len(), 1, "{} on tid {tid}", m.name);
        let e = found[0];
        assert_eq!(ns(&e["ts"]), m.at.as_nanos(), "{}", m.name);
        assert_eq!(ns(&e["dur"]), m.duration_ns(), "{}", m.name);
        assert_eq!(e["cat"], m.category);
        assert_eq!(u(&e["pid"]), pid_of(&v, &track.group), "{}", m.name);
    }
    // The zero-length span is kept, with dur 0.
    let zero = xs
        .iter()
        .find(|e| e["name"] == "zero")
        .expect("zero-length span");
    assert_eq!(zero["dur"], 0);
}

#[test]
fn metadata_names_every_process_and_thread_in_order_of_first_appearance() {
    let tl = timeline();
    let v = parse(&chrome_trace(&tl, &metrics(), &meta()));
    let (hosts, faults, metrics) = (
        pid_of(&v, "hosts"),
        pid_of(&v, "faults"),
        pid_of(&v, "metrics"),
    );
    assert_eq!((hosts, faults, metrics), (1, 2, 3));

    let names = metadata(&v, "process_name", "name");
    assert_eq!(names.len(), 3, "{names:?}");
    let sort: BTreeMap<u64, Value> = metadata(&v, "process_sort_index", "sort_index")
        .into_iter()
        .map(|((pid, _), i)| (pid, i))
        .collect();
    assert_eq!(sort[&hosts], 0);
    assert_eq!(sort[&faults], 1);
    assert_eq!(sort[&metrics], 2);

    let threads = metadata(&v, "thread_name", "name");
    let thread_sort = metadata(&v, "thread_sort_index", "sort_index");
    assert_eq!(threads.len(), tl.tracks().len());
    for (i, track) in tl.tracks().iter().enumerate() {
        let key = (pid_of(&v, &track.group), i as u64 + 1);
        assert_eq!(
            threads.get(&key),
            Some(&Value::from(track.name.as_str())),
            "{key:?}"
        );
        assert_eq!(thread_sort.get(&key), Some(&Value::from(i)), "{key:?}");
    }
    // No thread id is used under two processes (Perfetto would split it).
    let mut owner: BTreeMap<u64, u64> = BTreeMap::new();
    for e in events(&v) {
        let (pid, tid) = (u(&e["pid"]), u(&e["tid"]));
        assert_eq!(
            *owner.entry(tid).or_insert(pid),
            pid,
            "tid {tid} in two processes"
        );
    }
}

#[test]
fn fault_instants_are_global_and_others_thread_scoped() {
    let tl = timeline();
    let v = parse(&chrome_trace(&tl, &metrics(), &meta()));
    let is: Vec<&Value> = events(&v).iter().filter(|e| e["ph"] == "i").collect();
    assert_eq!(
        is.len(),
        tl.marks().iter().filter(|m| m.end.is_none()).count()
    );
    let crash = is
        .iter()
        .find(|e| e["name"] == "crash n1")
        .expect("fault instant");
    assert_eq!(crash["s"], "g");
    assert_eq!(crash["cat"], "fault");
    assert_eq!(ns(&crash["ts"]), 2_000_001);
    assert_eq!(u(&crash["pid"]), pid_of(&v, "faults"));
    assert_eq!(u(&crash["tid"]), 2);
    let write = is
        .iter()
        .find(|e| e["name"] == "write x")
        .expect("op instant");
    assert_eq!(write["s"], "t");
    assert_eq!(
        (u(&write["pid"]), u(&write["tid"])),
        (pid_of(&v, "hosts"), 1)
    );
    assert_eq!(ns(&write["ts"]), 1_250);
    // A fault *span* stays a complete event on its track.
    let partition = events(&v)
        .iter()
        .find(|e| e["name"] == "partition n1|n2")
        .unwrap();
    assert_eq!(partition["ph"], "X");
}

#[test]
fn series_become_counters_on_the_metrics_process() {
    let v = parse(&chrome_trace(&timeline(), &metrics(), &meta()));
    let metrics_pid = pid_of(&v, "metrics");
    let counters = |name: &str| -> Vec<(u64, f64)> {
        events(&v)
            .iter()
            .filter(|e| e["ph"] == "C" && e["name"] == name)
            .map(|e| {
                assert_eq!(u(&e["pid"]), metrics_pid);
                (ns(&e["ts"]), e["args"]["value"].as_f64().expect("a number"))
            })
            .collect()
    };
    // The NaN point cannot be JSON: it is left out and counted.
    assert_eq!(
        counters("raft.commit"),
        vec![(0, 0.0), (1_000, 1.0), (2_000_001, 2.5)]
    );
    assert_eq!(counters("q.len"), vec![(3, -4.25)]);
    assert_eq!(v["otherData"]["skipped_points"], 1);
    // Only series are counters.
    let all: Vec<&Value> = events(&v).iter().filter(|e| e["ph"] == "C").collect();
    assert_eq!(all.len(), 4);
    assert!(!events(&v).iter().any(|e| e["name"] == "server.served"));
}

#[test]
fn events_are_ordered_by_time_with_parents_before_children() {
    let v = parse(&chrome_trace(&timeline(), &metrics(), &meta()));
    let evs = events(&v);
    let first_timed = evs.iter().position(|e| e["ph"] != "M").unwrap();
    assert!(
        evs[first_timed..].iter().all(|e| e["ph"] != "M"),
        "metadata comes first"
    );
    let times: Vec<u64> = evs[first_timed..].iter().map(|e| ns(&e["ts"])).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let at = |name: &str| evs.iter().position(|e| e["name"] == name).unwrap();
    // Recorded child first, same start: the longer span is written first so the two nest.
    assert!(at("parent") < at("child"));
    // Same start on two tracks: the longer span first, n2's (2.5 ms) before n1's (1.5 µs).
    let follower: Vec<usize> = evs
        .iter()
        .enumerate()
        .filter(|(_, e)| e["name"] == "follower t1")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(follower.len(), 2);
    assert_eq!(u(&evs[follower[0]]["tid"]), 3);
    assert_eq!(u(&evs[follower[1]]["tid"]), 1);
    // Same instant, nothing longer: recorded order, marks before counter points (the fault
    // instant and the last raft.commit point are both at 2_000_001 ns).
    let last_commit = evs
        .iter()
        .rposition(|e| e["name"] == "raft.commit")
        .unwrap();
    assert_eq!(ns(&evs[last_commit]["ts"]), 2_000_001);
    assert!(at("crash n1") < last_commit);
}

#[test]
fn the_same_run_gives_the_same_bytes() {
    let a = chrome_trace(&timeline(), &metrics(), &meta());
    let b = chrome_trace(&timeline(), &metrics(), &meta());
    assert_eq!(a, b);
    let (tl, m, me) = (timeline(), metrics(), meta());
    assert_eq!(chrome_trace(&tl, &m, &me), chrome_trace(&tl, &m, &me));
    // And different inputs give different bytes (the comparison can fail).
    let mut other = meta();
    other.seed = 1;
    assert_ne!(a, chrome_trace(&tl, &m, &other));
}

#[test]
fn times_are_exact_decimal_microseconds() {
    let mut tl = Timeline::new();
    let tr = tl.track("g", "t");
    let three_days = 3 * 24 * 3_600 * 1_000_000_000u64;
    tl.span(tr, "run", "long", t(three_days + 1), t(three_days + 2));
    tl.instant(tr, "run", "whole", t(5_000));
    tl.instant(tr, "run", "end of time", t(u64::MAX));
    let json = chrome_trace(&tl, &MetricsSnapshot::default(), &meta());
    assert!(
        json.contains("\"ph\":\"X\",\"ts\":259200000000.001,\"dur\":0.001,"),
        "{json}"
    );
    assert!(json.contains("\"ph\":\"i\",\"ts\":5,"), "{json}");
    assert!(json.contains("\"ts\":18446744073709551.615,"), "{json}");
    // serde_json reads the three-day time back to the nanosecond.
    let v = parse(&json);
    let long = events(&v).iter().find(|e| e["name"] == "long").unwrap();
    assert_eq!(ns(&long["ts"]), three_days + 1);
    assert_eq!(ns(&long["dur"]), 1);
}

#[test]
fn names_categories_and_meta_survive_escaping() {
    static CAT: &str = "c\"at\\egory\n";
    let odd = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \u{0} é ✓ 🦀 \u{2028} end";
    let mut tl = Timeline::new();
    let tr = tl.track(odd, odd);
    tl.span(tr, CAT, odd, t(1), t(2));
    tl.instant(tr, "fault", odd, t(3));
    let mut m = Metrics::new();
    let s = m.series("x", "y").unwrap();
    m.push(s, t(1), 1.0);
    let meta = TraceMeta {
        scenario: odd.into(),
        file: odd.into(),
        seed: 0,
        trace_hash: odd.into(),
        variant: odd.into(),
    };
    let json = chrome_trace(&tl, &m.snapshot(t(4)), &meta);
    assert!(
        !json.bytes().any(|b| b < 0x20 && b != b'\n'),
        "no raw control characters"
    );
    // Raw newlines only separate events, never sit inside a string: every line between the
    // first and the `]` is one whole event object.
    let lines: Vec<&str> = json.lines().collect();
    let end = lines.iter().position(|l| *l == "],").unwrap();
    for line in &lines[1..end] {
        let line = line.strip_suffix(',').unwrap_or(line);
        assert!(
            serde_json::from_str::<Value>(line).unwrap().is_object(),
            "{line}"
        );
    }
    let v = parse(&json);
    let x = events(&v).iter().find(|e| e["ph"] == "X").unwrap();
    assert_eq!(x["name"], odd);
    assert_eq!(x["cat"], CAT);
    let i = events(&v).iter().find(|e| e["ph"] == "i").unwrap();
    assert_eq!(i["name"], odd);
    assert_eq!(pid_of(&v, odd), 1);
    assert_eq!(metadata(&v, "thread_name", "name")[&(1, 1)], odd);
    for key in ["scenario", "file", "trace_hash", "variant"] {
        assert_eq!(v["otherData"][key], odd, "{key}");
    }
}

#[test]
fn other_data_carries_meta_and_counts() {
    let tl = timeline();
    let v = parse(&chrome_trace(&tl, &metrics(), &meta()));
    let other = &v["otherData"];
    assert_eq!(other["scenario"], "raft-basic");
    assert_eq!(other["file"], "scenarios/raft.scn");
    // A string, so JavaScript viewers show a seed above 2^53 exactly.
    assert_eq!(other["seed"], "18446744073709551615");
    assert_eq!(other["trace_hash"], "0123456789abcdef");
    assert_eq!(other["variant"], "nodes=3");
    assert_eq!(other["dropped_marks"], 0);
    assert_eq!(other["skipped_marks"], 0);
    assert_eq!(u(&other["events_total"]), events(&v).len() as u64);
    // 3 groups' and 3 tracks' metadata (2 each), 9 marks, 4 counter points.
    assert_eq!(events(&v).len(), 6 + 6 + 9 + 4);
    assert_eq!(v["displayTimeUnit"], "ns");
}

#[test]
fn an_empty_run_is_a_valid_empty_trace() {
    let v = parse(&chrome_trace(
        &Timeline::new(),
        &MetricsSnapshot::default(),
        &TraceMeta::default(),
    ));
    assert_eq!(events(&v).len(), 0);
    assert_eq!(v["otherData"]["events_total"], 0);
}

#[test]
fn dropped_marks_are_reported() {
    let mut tl = Timeline::new();
    let tr = tl.track("g", "t");
    // One category past its share: the rest is counted, not kept.
    for i in 0..MARKS_PER_CATEGORY_MAX as u64 + 5 {
        tl.instant(tr, "x", "", t(i));
    }
    assert_eq!(tl.dropped(), 5);
    let json = chrome_trace(&tl, &MetricsSnapshot::default(), &meta());
    // The output is bounded by what the timeline kept: one event per kept mark plus metadata.
    assert_eq!(json.matches("\"ph\":\"i\"").count(), MARKS_PER_CATEGORY_MAX);
    let tail = &json[json.rfind("\"otherData\"").unwrap()..];
    assert!(tail.contains("\"dropped_marks\":5,"), "{tail}");
    assert!(
        tail.contains(&format!("\"events_total\":{},", MARKS_PER_CATEGORY_MAX + 4)),
        "{tail}"
    );
}

fn dir_entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn write_replaces_an_old_file_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.json");
    std::fs::write(&path, "old contents").unwrap();
    let json = chrome_trace(&timeline(), &metrics(), &meta());
    write_chrome_trace(&path, &json).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), json);
    assert_eq!(dir_entries(dir.path()), vec!["trace.json"]);
    // Again, over the new file, with other contents.
    write_chrome_trace(&path, "{}").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
    assert_eq!(dir_entries(dir.path()), vec!["trace.json"]);
}

#[test]
fn a_failed_write_leaves_what_was_there_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    // The target is a directory: the temporary file is written, the rename fails.
    let target = dir.path().join("trace.json");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("inside"), "kept").unwrap();
    assert!(write_chrome_trace(&target, "{}").is_err());
    assert!(target.is_dir());
    assert_eq!(
        std::fs::read_to_string(target.join("inside")).unwrap(),
        "kept"
    );
    assert_eq!(dir_entries(dir.path()), vec!["trace.json"]);
    // The directory does not exist: nothing is created.
    let missing = dir.path().join("missing").join("trace.json");
    assert!(write_chrome_trace(&missing, "{}").is_err());
    assert_eq!(dir_entries(dir.path()), vec!["trace.json"]);
    // No file name at all.
    assert!(write_chrome_trace(std::path::Path::new("/"), "{}").is_err());
}

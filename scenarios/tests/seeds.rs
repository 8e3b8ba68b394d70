//! `sim run FILE --seeds A..B` as a user meets it: one row per seed in seed order, the same runs
//! as `--seed N` one at a time, output independent of the thread count, failing seeds with
//! replay commands that reproduce them, and malformed ranges refused.

#[path = "common/replay.rs"]
mod replay_cmd;
use replay_cmd::replay;

#[path = "common/masked.rs"]
mod masked;
use masked::masked;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn sim_with(args: &[&str], threads: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sim"));
    cmd.args(args)
        .current_dir(workspace())
        .env_remove("RUST_LOG");
    if let Some(n) = threads {
        cmd.env("RAYON_NUM_THREADS", n);
    }
    cmd.output().expect("the sim binary runs")
}

fn sim(args: &[&str]) -> Output {
    sim_with(args, None)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sim-seeds-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A row of the table: seed, result, events, sim time, trace hash, first violation (no sweep).
#[derive(Debug, PartialEq)]
struct Row {
    seed: u64,
    ok: bool,
    hash: String,
    violation: String,
}

fn rows(out: &str) -> Vec<Row> {
    out.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let seed = words.next()?.parse::<u64>().ok()?;
            let ok = match words.next()? {
                "ok" => true,
                "FAIL" => false,
                _ => return None,
            };
            let _events = words.next()?;
            let _time = words.next()?;
            let hash = words.next()?.to_string();
            let violation = words.collect::<Vec<_>>().join(" ");
            Some(Row {
                seed,
                ok,
                hash,
                violation,
            })
        })
        .collect()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// `--seeds` JSON without the fields that read the wall clock.
fn without_timing(mut v: Value) -> Value {
    for run in v["runs"].as_array_mut().unwrap() {
        let run = run.as_object_mut().unwrap();
        assert!(run.remove("wall_time_s").is_some());
        assert!(run.remove("speedup").is_some());
    }
    let summary = v["summary"].as_object_mut().unwrap();
    for k in ["wall_time_s", "seeds_per_s", "seeds_per_h", "runs_per_s"] {
        assert!(summary.remove(k).is_some(), "{k}");
    }
    v
}

#[test]
fn every_seed_gets_a_row_in_order_with_the_hash_of_its_own_run() {
    let o = sim(&[
        "run",
        "scenarios/mm1.scn",
        "--seeds",
        "1..8",
        "--until",
        "10s",
    ]);
    let out = stdout(&o);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    let rows = rows(&out);
    assert_eq!(
        rows.iter().map(|r| r.seed).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<u64>>(),
        "{out}"
    );
    for r in &rows {
        let k = r.seed.to_string();
        let one = sim(&[
            "run",
            "scenarios/mm1.scn",
            "--seed",
            &k,
            "--until",
            "10s",
            "--json",
        ]);
        let v = json(&one);
        assert_eq!(v["seed"], r.seed);
        assert_eq!(v["trace_hash"].as_str(), Some(r.hash.as_str()), "seed {k}");
        assert_eq!(v["violations"].as_array().unwrap().is_empty(), r.ok);
    }
    // Eight seeds make eight different runs.
    let hashes: std::collections::BTreeSet<_> = rows.iter().map(|r| &r.hash).collect();
    assert_eq!(hashes.len(), 8);
    // mm1.scn's checks are for 10^6 customers, so 10 simulated seconds fail them.
    assert_eq!(o.status.code(), Some(1));
    assert!(out.contains("runs       8: 0 passed, 8 failed"), "{out}");
    assert!(out.contains("seeds/s"), "{out}");
}

#[test]
fn the_thread_count_changes_nothing_but_the_timing() {
    // More runs than one chunk, so the order across chunks counts too.
    let args = [
        "run",
        "scenarios/mm1.scn",
        "--seeds",
        "1..5000",
        "--until",
        "2s",
    ];
    let text = |threads| {
        let o = sim_with(&args, Some(threads));
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .filter(|l| !l.starts_with("wall time"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (one, two) = (text("1"), text("2"));
    assert_eq!(one, two);
    assert!(one.contains("runs       5000: "), "{one}");

    let mut with_json = args.to_vec();
    with_json.push("--json");
    let v1 = without_timing(json(&sim_with(&with_json, Some("1"))));
    let v2 = without_timing(json(&sim_with(&with_json, Some("3"))));
    let seeds: Vec<u64> = v1["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, (1..=5000).collect::<Vec<u64>>());
    assert_eq!(v1, v2);
}

const FLAKY: &str = r#"# A bound near the mean wait of a short M/M/1 run: some seeds hold it, some do not.
scenario "flaky" {
  source a { rate 0.9/s  to s }
  station s { servers 1  service exp(1s) }
  expect mean(s.wait) < 3s
}
"#;

#[test]
fn failing_seeds_print_replays_that_reproduce_them() {
    let dir = tempdir("flaky");
    let file = dir.join("flaky.scn");
    std::fs::write(&file, FLAKY).unwrap();
    let file = file.to_string_lossy().into_owned();
    let o = sim(&["run", &file, "--seeds", "1..20", "--until", "100s"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    let rows = rows(&out);
    assert_eq!(rows.len(), 20, "{out}");
    let failing: Vec<&Row> = rows.iter().filter(|r| !r.ok).collect();
    assert!(!failing.is_empty() && failing.len() < 20, "{out}");
    for r in &failing {
        assert!(
            r.violation.starts_with("mean(s.wait) < 3s: actual "),
            "{r:?}"
        );
    }
    let replays: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("  sim run "))
        .collect();
    assert_eq!(replays.len(), failing.len(), "{out}");
    for (cmd, r) in replays.iter().zip(&failing) {
        assert_eq!(*cmd, format!("{file} --seed {} --until 100s", r.seed));
    }

    // The first replay, as printed, is the same run: same hash, same violation.
    let first = failing[0];
    let mut args = vec!["run"];
    args.extend(replays[0].split_whitespace());
    let again = sim(&args);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!("trace hash {}", first.hash)),
        "{}",
        stdout(&again)
    );
    args.push("--json");
    let v = json(&sim(&args));
    assert_eq!(v["trace_hash"].as_str(), Some(first.hash.as_str()));
    let violation = &v["violations"][0];
    assert_eq!(
        format!(
            "{}: {}",
            violation["check"].as_str().unwrap(),
            violation["detail"].as_str().unwrap()
        ),
        first.violation
    );

    // The same seeds in JSON: every run, with the replay and the same outcome.
    let j = json(&sim(&[
        "run", &file, "--seeds", "1..20", "--until", "100s", "--json",
    ]));
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 20);
    for (run, row) in runs.iter().zip(&rows) {
        assert_eq!(run["seed"], row.seed);
        assert_eq!(run["ok"], row.ok);
        assert_eq!(run["trace_hash"].as_str(), Some(row.hash.as_str()));
        assert_eq!(
            run["replay"].as_str().unwrap(),
            format!("sim run {file} --seed {} --until 100s", row.seed)
        );
    }
    assert_eq!(j["summary"]["failed"], failing.len() as u64);
    assert_eq!(j["summary"]["passed"], 20 - failing.len() as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_long_range_lists_failing_rows_only() {
    let dir = tempdir("long");
    let file = dir.join("flaky.scn");
    std::fs::write(&file, FLAKY).unwrap();
    let file = file.to_string_lossy().into_owned();
    let o = sim(&["run", &file, "--seeds", "1..200", "--until", "100s"]);
    let out = stdout(&o);
    let rows = rows(&out);
    assert!(!rows.is_empty() && rows.iter().all(|r| !r.ok), "{out}");
    let passed = 200 - rows.len();
    assert!(passed > 0, "{out}");
    assert!(
        out.contains(&format!("({passed} passing rows not shown")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "runs       200: {passed} passed, {} failed",
            rows.len()
        )),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_runs_every_variant_for_every_seed() {
    let o = sim(&[
        "run",
        "scenarios/mmk-sweep.scn",
        "--seeds",
        "3..4",
        "--until",
        "10s",
    ]);
    let out = stdout(&o);
    let rows: Vec<(&str, &str)> = out
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let seed = w.next().filter(|s| s.parse::<u64>().is_ok())?;
            Some((seed, w.next()?))
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("3", "server.servers=1"),
            ("3", "server.servers=2"),
            ("3", "server.servers=3"),
            ("4", "server.servers=1"),
            ("4", "server.servers=2"),
            ("4", "server.servers=3"),
        ],
        "{out}"
    );
    assert!(out.contains("2 seeds x 3 variants = 6 runs"), "{out}");
}

/// Bad input: exit 2, no panic, one first line that names the flag.
fn assert_refused(o: &Output, must_contain: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(o.stdout.is_empty(), "{}", stdout(o));
    for s in must_contain {
        assert!(err.contains(s), "{s:?} not in {err}");
    }
}

#[test]
fn malformed_ranges_are_refused_naming_the_flag() {
    for (range, says) in [
        ("5..2", "write the smaller seed first (2..5)"),
        ("a..b", "not a seed"),
        ("3", "not a range"),
        ("", "empty"),
        ("1..", "not a seed"),
        ("1..=5", "write 1..5"),
        ("1..18446744073709551616", "larger than the largest seed"),
        ("0..18446744073709551615", "at most 100000000"),
    ] {
        let o = sim(&["run", "scenarios/mm1.scn", "--seeds", range]);
        assert_refused(&o, &["--seeds", says]);
    }
    let o = sim(&["run", "scenarios/mm1.scn", "--seeds"]);
    assert_refused(&o, &["--seeds"]);
}

#[test]
fn seeds_do_not_mix_with_seed_or_trace() {
    let o = sim(&["run", "scenarios/mm1.scn", "--seeds", "1..3", "--seed", "2"]);
    assert_refused(&o, &["--seeds", "--seed;"]);
    let dir = tempdir("trace");
    let trace = dir.join("run.simtrace");
    let trace = trace.to_string_lossy();
    let o = sim(&[
        "run",
        "scenarios/mm1.scn",
        "--seeds",
        "1..3",
        "--trace",
        &trace,
    ]);
    assert_refused(&o, &["--seeds", "--trace", "--seed N --trace FILE"]);
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "no file written"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_scenario_that_cannot_run_is_refused_once_not_per_seed() {
    let dir = tempdir("endless");
    let file = dir.join("endless.scn");
    std::fs::write(&file, FLAKY).unwrap();
    let file = file.to_string_lossy().into_owned();
    // No duration and no --until: the source never stops.
    let o = sim(&["run", &file, "--seeds", "1..1000"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("never stops").count(), 1, "{err}");
    assert!(o.stdout.is_empty());
    let o = sim(&["run", "no-such-file.scn", "--seeds", "1..3"]);
    assert_refused(&o, &["no-such-file.scn"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_that_cannot_go_on_fails_its_row_and_the_others_still_run() {
    // With room for one pending event, every run stops with an error; each seed reports its own.
    let o = sim(&[
        "run",
        "scenarios/mm1.scn",
        "--seeds",
        "1..4",
        "--max-pending",
        "1",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    let failed: Vec<&str> = out.lines().filter(|l| l.contains(" FAIL ")).collect();
    assert_eq!(failed.len(), 4, "{out}");
    for l in failed {
        assert!(l.contains("error: "), "{l}");
    }
    assert!(
        out.contains("  sim run scenarios/mm1.scn --seed 4 --max-pending 1\n"),
        "{out}"
    );
}

#[test]
fn a_failing_variant_replays_alone_with_its_own_hash() {
    let args = [
        "run",
        "scenarios/mmk-sweep.scn",
        "--seeds",
        "1..6",
        "--until",
        "100s",
    ];
    let o = sim(&args);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "some variant fails: {out}");
    let replays: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| l.starts_with("sim run "))
        .collect();
    assert!(!replays.is_empty(), "{out}");
    // The JSON of the same batch says which hash each failing run had.
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let j = json(&sim(&with_json));
    let runs = j["runs"].as_array().unwrap();
    let distinct: std::collections::BTreeSet<&str> =
        runs.iter().map(|r| r["replay"].as_str().unwrap()).collect();
    assert_eq!(distinct.len(), runs.len(), "one replay per (seed, variant)");
    for cmd in &replays {
        let run = runs
            .iter()
            .find(|r| r["replay"].as_str() == Some(*cmd))
            .unwrap_or_else(|| panic!("{cmd} is a run's replay"));
        assert_eq!(run["ok"], false);
        assert!(
            cmd.contains(&format!("--variant {}", run["variant"].as_str().unwrap())),
            "{cmd}"
        );
        let again = replay(cmd);
        let text = stdout(&again);
        assert_eq!(again.status.code(), Some(1), "{cmd}: {text}");
        assert_eq!(text.matches("trace hash ").count(), 1, "one run: {text}");
        assert!(
            text.contains(&format!(
                "trace hash {}",
                run["trace_hash"].as_str().unwrap()
            )),
            "{cmd}: {text}"
        );
    }
    // --variant with --seeds runs that variant only, with the same hashes.
    let mut one = with_json.clone();
    one.extend(["--variant", "2"]);
    let chosen = json(&sim(&one));
    let chosen = chosen["runs"].as_array().unwrap();
    assert_eq!(chosen.len(), 6);
    let of_two: Vec<&Value> = runs
        .iter()
        .filter(|r| r["variant"] == "server.servers=2")
        .collect();
    for (a, b) in chosen.iter().zip(of_two) {
        assert_eq!(a["trace_hash"], b["trace_hash"]);
        assert_eq!(a["replay"], b["replay"]);
    }
}

#[test]
fn metrics_give_a_bounded_summary_per_run() {
    let j = json(&sim(&[
        "run",
        "scenarios/raft-election-timing.scn",
        "--variant",
        "6",
        "--seeds",
        "1..3",
        "--until",
        "30s",
        "--json",
        "--metrics",
        "cluster.election_time,network.*",
    ]));
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for run in runs {
        let m = run["metrics"].as_object().unwrap();
        let names: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "cluster.election_time",
                "network.delivered",
                "network.dropped",
                "network.sent"
            ]
        );
        // The same numbers as the run on its own, which prints every metric in full.
        let alone = sim(&[
            "run",
            "scenarios/raft-election-timing.scn",
            "--variant",
            "6",
            "--seed",
            &run["seed"].to_string(),
            "--until",
            "30s",
            "--json",
        ]);
        let alone: Value = serde_json::from_str(&stdout(&alone)).unwrap();
        for name in &names {
            assert_eq!(m[*name], alone["metrics"][*name], "{name}");
        }
        let election = &m["cluster.election_time"];
        assert!(election["count"].as_u64().unwrap() > 0, "{election}");
        for k in ["mean", "p50", "p99", "max"] {
            assert!(election[k].is_number(), "{k}: {election}");
        }
    }
    // Without --metrics, no metrics (the output stays small for 10^8 runs).
    let plain = json(&sim(&[
        "run",
        "scenarios/mmk-sweep.scn",
        "--seeds",
        "1..2",
        "--until",
        "10s",
        "--json",
    ]));
    assert!(plain["runs"][0].get("metrics").is_none(), "{plain}");
}

#[test]
fn metrics_are_refused_where_they_cannot_go() {
    let base = [
        "run",
        "scenarios/mmk-sweep.scn",
        "--seeds",
        "1..2",
        "--until",
        "10s",
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend(extra);
        sim(&a)
    };
    assert_refused(&with(&["--metrics", "all"]), &["--metrics", "--json"]);
    assert_refused(
        &with(&["--json", "--metrics", "server.wiat"]),
        &["no metric `server.wiat`", "server.wait"],
    );
    assert_refused(
        &with(&["--json", "--metrics", "cpu.*"]),
        &["no metric of this scenario starts with `cpu.`"],
    );
    assert_refused(
        &sim(&["run", "scenarios/mm1.scn", "--metrics", "all", "--json"]),
        &["--metrics is for --seeds"],
    );
}

/// A batch split into shards runs every (seed, variant) once, each part a disjoint slice, and
/// `sim merge` of the parts (in any order) prints, byte for byte but for measured time, what
/// one machine running the whole batch prints: the table and the JSON, rows, summary, replays.
#[test]
fn shards_partition_a_batch_and_merge_to_what_one_machine_prints() {
    let dir = tempdir("shards");
    let scn = dir.join("flaky.scn");
    std::fs::write(
        &scn,
        FLAKY.replace("expect", "sweep s.servers in [1, 2]\n  expect"),
    )
    .unwrap();
    let scn = scn.to_str().unwrap();
    let base = ["run", scn, "--seeds", "3..40", "--until", "30s"];
    let whole = sim(&base);
    assert_eq!(
        whole.status.code(),
        Some(1),
        "some runs fail: {}",
        stderr(&whole)
    );
    let mut base_json = base.to_vec();
    base_json.push("--json");
    let whole_json = sim(&base_json);
    let n = 5;
    let mut parts = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for k in 1..=n {
        let shard = format!("{k}/{n}");
        let mut args = base_json.clone();
        args.extend(["--shard", &shard]);
        let o = sim(&args);
        assert!(
            o.status.code() == Some(0) || o.status.code() == Some(1),
            "{}",
            stderr(&o)
        );
        let v = json(&o);
        assert_eq!(v["shard"], serde_json::json!({"k": k, "n": n}));
        for r in v["runs"].as_array().unwrap() {
            let run = (
                r["seed"].as_u64().unwrap(),
                r["variant"].as_str().unwrap().to_string(),
            );
            assert!(seen.insert(run.clone()), "{run:?} is in two shards");
        }
        let path = dir.join(format!("part-{k}.json"));
        std::fs::write(&path, &o.stdout).unwrap();
        parts.push(path.to_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 38 * 2, "every (seed, variant) once");
    // Any order of the parts.
    parts.reverse();
    let mut merge: Vec<&str> = vec!["merge"];
    merge.extend(parts.iter().map(String::as_str));
    let merged = sim(&merge);
    assert_eq!(merged.status.code(), Some(1), "{}", stderr(&merged));
    assert_eq!(masked(&stdout(&merged)), masked(&stdout(&whole)));
    assert!(
        stdout(&merged).contains("replay\n  sim run "),
        "{}",
        stdout(&merged)
    );
    merge.push("--json");
    let merged_json = sim(&merge);
    assert_eq!(masked(&stdout(&merged_json)), masked(&stdout(&whole_json)));
    assert_ne!(
        masked(&stdout(&merged_json)),
        stdout(&merged_json),
        "masking masked something"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Parts that do not make one batch are refused, naming the file and what is wrong.
#[test]
fn parts_that_do_not_make_one_batch_are_refused() {
    let dir = tempdir("bad-parts");
    let scn = dir.join("flaky.scn");
    std::fs::write(&scn, FLAKY).unwrap();
    let scn = scn.to_str().unwrap();
    let part = |seeds: &str, shard: &str, name: &str| {
        let o = sim(&[
            "run", scn, "--seeds", seeds, "--until", "5s", "--shard", shard, "--json",
        ]);
        let path = dir.join(name);
        std::fs::write(&path, &o.stdout).unwrap();
        path.to_str().unwrap().to_string()
    };
    let p1 = part("1..9", "1/3", "p1.json");
    let p2 = part("1..9", "2/3", "p2.json");
    let p3 = part("1..9", "3/3", "p3.json");
    let other = part("1..10", "3/3", "other.json");
    let refused = |files: &[&str], want: &str| {
        let mut args = vec!["merge"];
        args.extend(files);
        let o = sim(&args);
        assert_eq!(o.status.code(), Some(2), "{files:?}: {}", stdout(&o));
        assert!(stderr(&o).contains(want), "{files:?}: {}", stderr(&o));
    };
    refused(&[&p1, &p3], "missing 1 of 3 shards: 2/3");
    refused(&[&p1, &p2, &p2], "shard 2/3 is also");
    refused(&[&p1, &p2, &other], "is not a part of the same batch");
    // A part cut short, and one that is not JSON: the file, and where.
    let text = std::fs::read_to_string(&p3).unwrap();
    let cut = dir.join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    refused(&[&p1, &p2, cut.to_str().unwrap()], "cut.json:1:");
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{\n  \"scenario\": 3\n}\n").unwrap();
    refused(&[garbage.to_str().unwrap()], "garbage.json:2:");
    refused(&["no-such-part.json"], "no-such-part.json");
    // The flag's own mistakes.
    for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
        let o = sim(&["run", scn, "--seeds", "1..9", "--shard", bad]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains("is not a shard"),
            "{bad}: {}",
            stderr(&o)
        );
    }
    let o = sim(&["run", scn, "--shard", "1/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--seeds"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

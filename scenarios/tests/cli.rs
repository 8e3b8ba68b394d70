//! The `sim` binary as a user meets it: exit codes, one-line errors, JSON, trace files, logs.

#[path = "common/replay.rs"]
mod replay_cmd;
use replay_cmd::replay;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(workspace())
        .env_remove("RUST_LOG")
        .output()
        .expect("the sim binary runs")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sim-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Bad input: exit 2, no panic, and a first line that names the problem: `error: ...`, or
/// `file:line:col: error: ...` for a problem in a scenario (whose source lines follow).
fn assert_bad_input(o: &Output, must_contain: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    let first = err.lines().next().unwrap_or("");
    let located = first
        .split_once(": error: ")
        .is_some_and(|(place, _)| place.rsplitn(3, ':').count() == 3);
    assert!(first.starts_with("error: ") || located, "{err}");
    for s in must_contain {
        assert!(err.contains(s), "{s:?} not in {err}");
    }
}

const SMALL: &str = r#"scenario "small" {
  seed 5
  source a { rate 2/s  customers 2000  to s }
  station s { servers 1  service exp(250ms) }
  expect mean(s.wait) < 10s
}
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn a_good_run_prints_a_summary_and_exits_0() {
    let o = sim(&["run", "scenarios/mm1.scn"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    for field in [
        "scenario   mm1",
        "events     2000000 (no events remained)",
        "trace hash ",
        "ok    mean(server.wait) < 9.9s",
        "server.wait",
        "replay     sim run scenarios/mm1.scn --seed 1",
    ] {
        assert!(out.contains(field), "{field:?} not in {out}");
    }
}

#[test]
fn json_has_the_documented_fields() {
    let dir = tempdir("json");
    let f = write(&dir, "small.scn", SMALL);
    let o = sim(&["run", &f, "--json", "--seed", "9"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(v["scenario"], "small");
    assert_eq!(v["seed"], 9);
    assert!(v["events"].as_u64().unwrap() >= 4000);
    assert!(v["sim_time_ns"].as_u64().unwrap() > 0);
    assert!(v["wall_time_s"].as_f64().unwrap() >= 0.0);
    let hash = v["trace_hash"].as_str().unwrap();
    assert!(
        hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{hash}"
    );
    assert_eq!(v["metrics"]["s.served"]["value"], 2000);
    assert_eq!(v["metrics"]["s.wait"]["kind"], "histogram");
    assert_eq!(v["violations"], serde_json::json!([]));
}

#[test]
fn a_failed_check_exits_1_and_is_listed() {
    let dir = tempdir("violation");
    let f = write(
        &dir,
        "v.scn",
        &SMALL.replace("mean(s.wait) < 10s", "mean(s.wait) < 1ns"),
    );
    let o = sim(&["run", &f, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["violations"][0]["check"], "mean(s.wait) < 1ns");
    let human = sim(&["run", &f]);
    assert_eq!(human.status.code(), Some(1));
    assert!(
        stdout(&human).contains("FAIL  mean(s.wait) < 1ns"),
        "{}",
        stdout(&human)
    );
}

#[test]
fn missing_file_and_unknown_flag_are_one_line_errors() {
    assert_bad_input(
        &sim(&["run", "scenarios/nope.scn"]),
        &["scenarios/nope.scn", "No such file"],
    );
    assert_bad_input(
        &sim(&["run", "scenarios/mm1.scn", "--sed", "3"]),
        &["--sed"],
    );
    assert_bad_input(
        &sim(&["run", "scenarios/mm1.scn", "--until", "5parsecs"]),
        &["parsecs"],
    );
    assert_bad_input(&sim(&["frobnicate"]), &["frobnicate"]);
    assert_bad_input(&sim(&["run", "scenarios"]), &["directory"]);
    assert_eq!(sim(&["--help"]).status.code(), Some(0));
}

#[test]
fn syntax_errors_point_at_line_and_column() {
    let dir = tempdir("syntax");
    let f = write(
        &dir,
        "bad.scn",
        "scenario \"x\" {\n  station s { servers }\n}\n",
    );
    assert_bad_input(
        &sim(&["run", &f]),
        &["bad.scn:2:23: error: syntax error: expected a value"],
    );
    let f = write(&dir, "bin.scn", "scenario \"x\" {\n \u{0}\u{1} \n");
    assert_bad_input(&sim(&["run", &f]), &["bin.scn:2:2"]);
    let raw = dir.join("latin1.scn");
    std::fs::write(&raw, b"scenario \"x\" {\n  \xff }").unwrap();
    assert_bad_input(
        &sim(&["run", raw.to_str().unwrap()]),
        &["latin1.scn:2:3: error: the file is not valid UTF-8"],
    );
}

#[test]
fn semantic_errors_are_all_reported_with_hints() {
    let dir = tempdir("semantic");
    let text = r#"scenario "x" {
  source a { rate 1/s  customers 10  to sever }
  station server { servrs 2  service exp(1) }
  stattion other { }
  expect mean(server.wiat) < 1s
}
"#;
    let f = write(&dir, "sem.scn", text);
    let o = sim(&["run", &f]);
    assert_bad_input(
        &o,
        &[
            "sem.scn:2:41: error: `to`: there is no station named `sever`",
            "Help: did you mean \"server\"?",
            "sem.scn:3:20: error: station has no property `servrs`",
            "Help: did you mean \"servers\"?",
            "sem.scn:3:38: error: `service`: wrong arguments for `exp`",
            "Help: write exp(1s) for the mean or exp(0.9/s) for the rate",
            "sem.scn:4:3: error: unknown component kind `stattion`",
            "Help: did you mean \"station\"?",
            // The source line, with the problem underlined.
            "  source a { rate 1/s  customers 10  to sever }",
            "sem.scn:5:15: error: no model produces a metric `server.wiat`",
            "5 problems found",
        ],
    );
    let f = write(
        &dir,
        "metric.scn",
        &SMALL.replace("mean(s.wait)", "mean(s.wiat)"),
    );
    assert_bad_input(
        &sim(&["run", &f]),
        &[
            "metric.scn:5:15: error: no model produces a metric `s.wiat`",
            "did you mean \"s.wait\"?",
        ],
    );
    let f = write(&dir, "endless.scn", &SMALL.replace("customers 2000", ""));
    assert_bad_input(&sim(&["run", &f]), &["never stops"]);
    assert_eq!(sim(&["run", &f, "--until", "10s"]).status.code(), Some(0));
}

#[test]
fn a_full_event_queue_is_a_clean_error() {
    let o = sim(&["run", "scenarios/mm1.scn", "--max-pending", "1"]);
    assert_bad_input(&o, &["event queue full: 1 events pending"]);
}

#[test]
fn trace_files_round_trip_and_corruption_is_refused() {
    let dir = tempdir("trace");
    let f = write(&dir, "small.scn", SMALL);
    let trace = dir.join("run.simtrace");
    let o = sim(&["run", &f, "--json", "--trace", trace.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let hash = v["trace_hash"].as_str().unwrap().to_string();

    let shown = sim(&["trace", "show", trace.to_str().unwrap(), "--limit", "3"]);
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("Arrival { source: 0 }"), "{text}");
    assert!(text.contains(&format!("trace hash {hash}")), "{text}");

    let bytes = std::fs::read(&trace).unwrap();
    let cut = dir.join("cut.simtrace");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_bad_input(
        &sim(&["trace", "show", cut.to_str().unwrap()]),
        &["truncated"],
    );
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    let bad = dir.join("flip.simtrace");
    std::fs::write(&bad, &flipped).unwrap();
    let o = sim(&["trace", "show", bad.to_str().unwrap()]);
    assert_bad_input(&o, &["flip.simtrace"]);
    assert!(
        stdout(&o).is_empty(),
        "records of a corrupt file were printed"
    );
    assert_bad_input(&sim(&["trace", "show", &f]), &["not a sim trace file"]);
}

#[test]
fn a_failed_run_leaves_no_trace_file_behind() {
    let dir = tempdir("notrace");
    let trace = dir.join("t.simtrace");
    std::fs::write(&trace, b"the previous trace").unwrap();
    let o = sim(&[
        "run",
        "scenarios/mm1.scn",
        "--max-pending",
        "1",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read(&trace).unwrap(),
        b"the previous trace",
        "an old file was clobbered"
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary files left: {names:?}");
}

#[test]
fn logs_are_stamped_with_simulated_time() {
    let dir = tempdir("logs");
    let f = write(&dir, "small.scn", SMALL);
    let o = sim(&["-vvv", "run", &f, "--max-events", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ev{t=") && err.contains("n=3}") && err.contains("Departure"),
        "{err}"
    );
    let quiet = sim(&["run", &f, "--max-events", "3"]);
    assert!(stderr(&quiet).is_empty(), "{}", stderr(&quiet));
}

#[test]
fn models_lists_every_kind_and_property() {
    let out = stdout(&sim(&["models"]));
    for s in [
        "model queueing",
        "source NAME",
        "station NAME",
        "servers",
        "service",
        "queue_limit",
        "takes a rate such as 200/s [this or `interarrival`, can change during a run (load)]",
        "NAME.wait        Latency: Time in queue, before service.",
        "system.response",
        "actions: load",
    ] {
        assert!(out.contains(s), "{s:?} not in {out}");
    }
}

#[test]
fn models_lists_the_world_first_and_what_references_take() {
    let out = stdout(&sim(&["models"]));
    assert!(out.starts_with("model world:"), "{out}");
    for s in [
        "host NAME { ... }",
        "network NAME { ... }",
        "    references: on: host names\n",
        "    references: to: a raft or a cache; on: a host\n",
        "    references: to: a station or exit, or a weighted list of them; on: a host\n",
        "[default: the scenario's only raft or cache]",
        "[required when the scenario declares hosts; else a host of its own]",
    ] {
        assert!(out.contains(s), "{s:?} not in {out}");
    }
}

#[test]
fn a_sweep_runs_once_per_value() {
    let o = sim(&["run", "scenarios/mmk-sweep.scn", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let runs: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(runs.len(), 3);
    for (run, servers) in runs.iter().zip(1..) {
        assert_eq!(run["variant"], format!("server.servers={servers}"));
    }
    // More servers, less waiting (Erlang C): the variants really differ.
    let wait = |r: &serde_json::Value| r["metrics"]["server.wait"]["mean"].as_f64().unwrap();
    assert!(wait(&runs[0]) > 10.0 * wait(&runs[1]) && wait(&runs[1]) > wait(&runs[2]));
}

#[test]
fn check_validates_without_running() {
    let shipped: Vec<String> = std::fs::read_dir(workspace().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(shipped.len() >= 6);
    let mut args = vec!["check"];
    args.extend(shipped.iter().map(|s| s.as_str()));
    let o = sim(&args);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("mmk-sweep.scn: ok (3 runs)"),
        "{}",
        stdout(&o)
    );

    let dir = tempdir("check");
    let bad = write(
        &dir,
        "bad.scn",
        &SMALL.replace("service exp(250ms)", "service exp(250)"),
    );
    let o = sim(&["check", &bad, "scenarios/mm1.scn"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("mm1.scn: ok"),
        "the good file is still checked"
    );
    assert!(
        stderr(&o).contains("bad.scn:4:34: error: `service`: wrong arguments for `exp`"),
        "{}",
        stderr(&o)
    );
    // `check` answers 0 or 1; a file that cannot be read is not valid.
    let missing = sim(&["check", "scenarios/nope.scn"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).starts_with("error: scenarios/nope.scn: "),
        "{}",
        stderr(&missing)
    );
    // A scenario that would never end is valid; running it without a bound is the error.
    let endless = write(&dir, "endless.scn", &SMALL.replace("customers 2000", ""));
    assert_eq!(sim(&["check", &endless]).status.code(), Some(0));
}

/// Inputs a review found that once panicked, hung or misled; each is now a clean diagnostic.
#[test]
fn reviewed_edge_cases_are_clean_errors() {
    let dir = tempdir("edges");
    let cases: &[(&str, &str)] = &[
        // A fraction that overflowed the duration parser.
        (
            "scenario \"x\" { duration 340282366920938463463374607431768211.999us }",
            "too long",
        ),
        // A rate so small its mean is not a number: once reached an `unreachable!`.
        (
            &format!(
                "scenario \"x\" {{ station s {{ service exp(1s) }} source a {{ rate 0.{}1/s to s }} }}",
                "0".repeat(309)
            ),
            "too small to ever fire",
        ),
        // Zero interarrival times: simulated time would stand still while memory ran out.
        (
            "scenario \"x\" { duration 1s  station s { service exp(1s) } source a { interarrival 0s  to s } }",
            "zero on average",
        ),
        // `exit` names a station no route could reach.
        (
            "scenario \"x\" { source a { rate 1/s  customers 5  to exit } station exit { service exp(1s) } }",
            "reserved word",
        ),
        // Weights that add up to infinity.
        (
            "scenario \"x\" { source a { rate 1/s  customers 5  to [l 1.0e308, r 1.0e308] } station l { service exp(1s) } station r { service exp(1s) } }",
            "add up to more than",
        ),
        // Overlapping `during` windows on one source: what to return to would be ambiguous.
        (
            "scenario \"x\" { duration 60s  source a { rate 1/s  to s } station s { service exp(1s) }\n  during 10s..30s load a rate 5/s\n  during 20s..40s load a rate 7/s }",
            "overlaps another",
        ),
        // A rate that formats as `inf/s` would make `sim fmt` write an unreadable file.
        (
            &format!("scenario \"x\" {{ s t {{ r {}/s }} }}", "9".repeat(400)),
            "too large",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let f = write(&dir, &format!("e{i}.scn"), text);
        for cmd in ["check", "run"] {
            let o = sim(&[cmd, &f]);
            let err = stderr(&o);
            assert!(!err.contains("panicked"), "case {i}, sim {cmd}: {err}");
            assert!(
                matches!(o.status.code(), Some(1) | Some(2)),
                "case {i}, sim {cmd}: {err}"
            );
            assert!(
                err.contains(want),
                "case {i}, sim {cmd}: {want:?} not in {err}"
            );
        }
    }
    // A device reports no length: the size bound holds while reading.
    let inc = write(
        &dir,
        "dev.scn",
        "scenario \"x\" {\n  include \"/dev/zero\"\n}\n",
    );
    let o = sim(&["check", &inc]);
    assert!(stderr(&o).contains("larger than 4 MiB"), "{}", stderr(&o));
}

#[test]
fn lincheck_reads_a_history_and_reports_the_failing_prefix() {
    let dir = tempdir("lincheck");
    let good = write(
        &dir,
        "good.txt",
        "p1 invoke write 1\np1 ok write 1\np1 invoke write 2\np2 invoke read _\np2 ok read 1\np1 ok write 2\n",
    );
    let o = sim(&["lincheck", &good]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("linearizable"));
    let bad = write(
        &dir,
        "bad.txt",
        "p1 invoke write 1\np1 ok write 1\np1 invoke write 2\np1 ok write 2\np2 invoke read _\np2 ok read 1\np1 invoke write 3\np1 ok write 3\n",
    );
    let o = sim(&["lincheck", &bad, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["linearizable"], false);
    let ce = v["keys"][0]["counterexample"].as_array().unwrap();
    assert_eq!(
        ce.len(),
        3,
        "the write of 3 comes after the failure: {ce:?}"
    );
    assert_eq!(ce[2]["op"], "read 1");
    // An operation with no completion in the failing prefix is shown as still open.
    let open = write(
        &dir,
        "open.txt",
        "p1 invoke write 1\np1 ok write 1\np2 invoke write 2\np3 invoke read _\np3 ok read 7\n",
    );
    let o = sim(&["lincheck", &open]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("called line 3, still open\n"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("called line 4, completed line 5\n"));
    assert!(!stdout(&o).contains("completed never"), "{}", stdout(&o));
    // A cas answered false while the register held its expected value is caught, and a failed
    // read (no value) is accepted.
    let mismatch = write(
        &dir,
        "mismatch.txt",
        "p1 invoke write 1\np1 ok write 1\np2 invoke read _\np2 fail read _\np1 invoke cas 1 2\np1 ok cas 1 2 false\n",
    );
    let o = sim(&["lincheck", &mismatch, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let ce = v["keys"][0]["counterexample"].as_array().unwrap();
    assert_eq!(ce.last().unwrap()["op"], "cas 1 2 false", "{ce:?}");
    assert_eq!(ce.last().unwrap()["outcome"], "ok", "{ce:?}");
    let broken = write(&dir, "broken.txt", "p1 invoke write 1\np1 invoke read _\n");
    let o = sim(&["lincheck", &broken]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("broken.txt:2:4: process `p1` invokes while"),
        "{}",
        stderr(&o)
    );
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// A sweep whose values need quoting in a shell (parentheses, a space).
const SWEPT: &str = r#"scenario "swept" {
  seed 5
  source a { rate 2/s  customers 300  to s }
  station s { servers 1  service exp(250ms) }
  sweep s.servers in [1, 2]
  sweep s.service in [exp(250ms), uniform(100ms, 400ms)]
}
"#;

#[test]
fn each_variant_of_a_sweep_has_its_own_replay_that_reproduces_it() {
    let dir = tempdir("variant-replay");
    let file = write(&dir, "swept.scn", SWEPT);
    let all = json_lines(&sim(&["run", &file, "--json"]));
    assert_eq!(all.len(), 4);
    let replays: std::collections::BTreeSet<&str> =
        all.iter().map(|r| r["replay"].as_str().unwrap()).collect();
    assert_eq!(
        replays.len(),
        4,
        "one distinct replay per variant: {replays:?}"
    );
    for run in &all {
        let cmd = run["replay"].as_str().unwrap();
        assert!(cmd.contains(" --variant s.servers="), "{cmd}");
        let again = json_lines(&replay(&format!("{cmd} --json")));
        assert_eq!(again.len(), 1, "the replay runs its variant alone: {cmd}");
        assert_eq!(again[0]["variant"], run["variant"], "{cmd}");
        assert_eq!(again[0]["trace_hash"], run["trace_hash"], "{cmd}");
        assert_eq!(again[0]["replay"], run["replay"], "{cmd}");
    }
    // By number (from 1, the first sweep slowest), and by values with the short name and
    // another spelling of the same value.
    let third = &all[2];
    assert_eq!(third["variant"], "s.servers=2 s.service=exp(250ms)");
    for args in [
        vec!["--variant", "3"],
        vec!["--variant", "servers=2", "--variant", "service=exp(0.25s)"],
    ] {
        let mut cmd = vec!["run", file.as_str(), "--json"];
        cmd.extend(args.iter().copied());
        let got = json_lines(&sim(&cmd));
        assert_eq!(got.len(), 1, "{args:?}");
        assert_eq!(got[0]["trace_hash"], third["trace_hash"], "{args:?}");
    }
    // A sweep left out keeps all its values.
    let both = json_lines(&sim(&["run", &file, "--json", "--variant", "s.servers=1"]));
    let labels: Vec<&str> = both
        .iter()
        .map(|r| r["variant"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "s.servers=1 s.service=exp(250ms)",
            "s.servers=1 s.service=uniform(100ms, 400ms)"
        ]
    );
    // The human summary's replay is the same command.
    let human = stdout(&sim(&["run", &file, "--variant", "4"]));
    let line = human.lines().find(|l| l.starts_with("replay ")).unwrap();
    assert_eq!(
        line.trim_start_matches("replay").trim(),
        all[3]["replay"].as_str().unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_variant_that_is_not_there_is_refused_naming_the_choices() {
    let dir = tempdir("variant-bad");
    let file = write(&dir, "swept.scn", SWEPT);
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["--variant", "5"],
            &[
                "--variant 5",
                "4 variants",
                "1: s.servers=1 s.service=exp(250ms)",
            ],
        ),
        (&["--variant", "0"], &["--variant 0", "numbered from 1"]),
        (
            &["--variant", "servers=3"],
            &["s.servers over [1, 2]", "`3` is not one of them"],
        ),
        (
            &["--variant", "quantum=1ms"],
            &["`quantum` is not swept", "`s.servers`, `s.service`"],
        ),
        (
            &["--variant", "fast"],
            &["--variant fast", "NAME=VALUE", "1 to 4"],
        ),
        (
            &["--variant", "servers=1", "--variant", "s.servers=2"],
            &["names s.servers twice"],
        ),
        (
            &["--variant", "1", "--variant", "servers=1"],
            &["give it alone"],
        ),
    ];
    for (args, wanted) in cases {
        let mut cmd = vec!["run", file.as_str()];
        cmd.extend(args.iter().copied());
        let o = sim(&cmd);
        assert_bad_input(&o, wanted);
        assert!(o.stdout.is_empty(), "{args:?}: nothing runs");
    }
    assert_bad_input(
        &sim(&["run", "scenarios/mm1.scn", "--variant", "1"]),
        &["--variant", "has no `sweep`"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trace_files_of_a_chosen_variant_keep_its_number() {
    let dir = tempdir("variant-trace");
    let file = write(&dir, "swept.scn", SWEPT);
    let trace = dir.join("run.simtrace");
    let trace = trace.to_string_lossy();
    let o = sim(&["run", &file, "--variant", "2", "--trace", &trace]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let numbered = dir.join("run-2.simtrace");
    assert!(numbered.is_file(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("trace file {}", numbered.display())),
        "{}",
        stdout(&o)
    );
    assert!(!dir.join("run-1.simtrace").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_report_gives_each_variant_its_own_replay() {
    let dir = tempdir("variant-report");
    let out = dir.join("out");
    let o = sim(&[
        "report",
        "--out",
        &out.to_string_lossy(),
        "scenarios/mmk-sweep.scn",
    ]);
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("mmk-sweep/summary.json")).unwrap())
            .unwrap();
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for (run, servers) in runs.iter().zip(1..) {
        let cmd = run["replay"].as_str().unwrap();
        assert!(
            cmd.ends_with(&format!("--variant server.servers={servers}")),
            "{cmd}"
        );
        assert!(html.contains(cmd), "the page shows {cmd}");
        let again = json_lines(&replay(&format!("{cmd} --json")));
        assert_eq!(again.len(), 1, "{cmd}");
        assert_eq!(again[0]["trace_hash"], run["trace_hash"], "{cmd}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const CANONICAL: &str = r#"scenario "small" {
  seed 5

  source a { rate 2/s  customers 2000  to s }
  station s { servers 1  service exp(250ms) }

  expect mean(s.wait) < 10s
}
"#;

const UNFORMATTED: &str = "scenario \"u\" {\nsource a { rate 2/s customers 20 to s }\n  station s { servers 1  service exp(250ms) }\n}\n";

#[test]
fn fmt_checks_and_writes_many_files_and_reports_each() {
    let dir = tempdir("fmt-many");
    let good = write(&dir, "good.scn", CANONICAL);
    let bad1 = write(&dir, "bad1.scn", UNFORMATTED);
    let broken = write(&dir, "broken.scn", "scenario \"x\" {\n  station s {\n");
    let bad2 = write(&dir, "bad2.scn", UNFORMATTED);
    assert_eq!(sim(&["fmt", "--check", &good]).status.code(), Some(0));

    // --check: every file not canonical is named, a broken file does not stop the others.
    let o = sim(&["fmt", "--check", &good, &bad1, &broken, &bad2]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "a broken file wins: {err}");
    assert!(
        err.contains(&format!("{bad1}: not in canonical form")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{bad2}: not in canonical form")),
        "{err}"
    );
    assert!(err.contains("broken.scn:"), "{err}");
    assert!(!err.contains(&format!("{good}: not")), "{err}");
    assert!(err.contains("2 of 4 files not in canonical form"), "{err}");
    assert!(o.stdout.is_empty());
    let o = sim(&["fmt", "--check", &good, &bad1, &bad2]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // --write: each is rewritten, then every one is canonical.
    let o = sim(&["fmt", "--write", &good, &bad1, &bad2]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&good).unwrap(), CANONICAL);
    assert_ne!(std::fs::read_to_string(&bad1).unwrap(), UNFORMATTED);
    assert_eq!(
        std::fs::read_to_string(&bad1).unwrap(),
        std::fs::read_to_string(&bad2).unwrap()
    );
    assert_eq!(
        sim(&["fmt", "--check", &good, &bad1, &bad2]).status.code(),
        Some(0)
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 4, "no temporary file left: {left:?}");

    // Printing is for one file.
    assert_bad_input(
        &sim(&["fmt", &good, &bad1]),
        &["prints one file", "--check", "--write"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! `sim shrink` end to end through the binary, on the planted Raft bugs: each failing run shrinks
//! to a scenario of a few lines that parses, is in canonical form and, replayed with the printed
//! command, fails the same check; shrinking is deterministic; bad input (a passing run, a broken
//! file, a replay command that is not one) is refused with exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
        .join(name)
}

fn output(args: &[&str]) -> Output {
    sim().args(args).output().expect("sim runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of scenario `name` in `dir` with planted bug `bug` switched on.
fn with_bug(dir: &Path, name: &str, bug: &str) -> PathBuf {
    let original = std::fs::read_to_string(scenario(name)).expect("scenario exists");
    let from = "raft cluster { nodes";
    assert!(original.contains(from), "{name} has `{from}`");
    let path = dir.join(format!("{bug}.scn"));
    let edited = original.replacen(from, &format!("raft cluster {{ bug {bug}  nodes"), 1);
    std::fs::write(&path, edited).expect("write");
    path
}

/// The first failing run of `file` over seeds 1..=n: (its replay command, its first check).
fn first_failure(file: &Path, n: u64) -> (String, String) {
    let range = format!("1..{n}");
    let out = output(&["run", file.to_str().unwrap(), "--seeds", &range, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = v["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["ok"] == Value::Bool(false))
        .unwrap_or_else(|| panic!("{} fails within {n} seeds", file.display()))
        .clone();
    (
        row["replay"].as_str().expect("replay").to_string(),
        row["violations"][0]["check"]
            .as_str()
            .expect("check")
            .to_string(),
    )
}

/// The checks a replay command's run violated (it must fail).
fn violated(replay: &str) -> Vec<String> {
    let words = scenarios::shrink::shell_words(replay).expect("a command");
    assert_eq!(words[..2], ["sim", "run"], "{replay}");
    let out = sim()
        .args(&words[1..])
        .arg("--json")
        .output()
        .expect("sim runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the replay fails: {replay}\n{}",
        text(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|x| x["check"].as_str().map(String::from))
        .collect()
}

/// Each planted bug: (scenario, bug, seeds to search for a failure).
const BUGS: &[(&str, &str, u64)] = &[
    ("raft-partition.scn", "commit-without-quorum", 5),
    ("raft-partition.scn", "vote-ignores-log", 5),
    ("raft-crash-storm.scn", "vote-not-persisted", 60),
    ("raft-leader-crash.scn", "cas-reports-mismatch", 5),
];

/// The most schedule lines a shrunk planted bug may keep (the crash storm's two `every` lines
/// are its whole schedule; the others keep at most one).
const MAX_SCHEDULE_LINES: usize = 2;

#[test]
fn every_planted_bug_shrinks_to_a_few_lines_that_fail_the_same_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    for &(name, bug, n) in BUGS {
        let file = with_bug(dir.path(), name, bug);
        let (replay, check) = first_failure(&file, n);
        let out_file = dir.path().join(format!("{bug}-shrunk.scn"));
        // The replay command pasted as `sim run` prints it.
        let out = output(&[
            "shrink",
            "--replay",
            &format!("replay     {replay}"),
            "--max-runs",
            "300",
            "--out",
            out_file.to_str().unwrap(),
        ]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{bug}: {stderr}");
        let shrunk = std::fs::read_to_string(&out_file).expect("written");
        let parsed = scenarios::parse::parse("shrunk.scn", &shrunk).expect("the output parses");
        assert!(
            parsed.schedule.len() <= MAX_SCHEDULE_LINES,
            "{bug}: {} schedule lines:\n{shrunk}",
            parsed.schedule.len()
        );
        let original = scenarios::load(&file).expect("loads");
        assert!(
            parsed.schedule.len() < original.schedule.len() || original.schedule.len() <= 2,
            "{bug}: the schedule shrank:\n{shrunk}"
        );
        assert!(
            shrunk.lines().count() <= 20,
            "{bug}: a few lines a person can read:\n{shrunk}"
        );
        assert!(
            shrunk.contains(&format!("fails `{check}`")),
            "{bug}: the header names the check:\n{shrunk}"
        );
        // Canonical form, and the printed replay command fails the same check.
        let fmt = output(&["fmt", "--check", out_file.to_str().unwrap()]);
        assert_eq!(fmt.status.code(), Some(0), "{}", text(&fmt.stderr));
        let stdout = text(&out.stdout);
        let again = stdout
            .lines()
            .find_map(|l| l.strip_prefix("replay: "))
            .unwrap_or_else(|| panic!("{bug}: a replay line in {stdout}"));
        let seed = replay.split("--seed ").nth(1).expect("a seed");
        assert!(
            again.ends_with(&format!("--seed {seed}")),
            "{bug}: the same seed: {again} (from {replay})"
        );
        assert!(
            violated(again).contains(&check),
            "{bug}: the shrunk run fails {check}"
        );
        assert!(stderr.contains("shrunk in "), "{bug}: a summary: {stderr}");
        assert!(!stderr.contains("cut short"), "{bug}: finished: {stderr}");
    }
}

#[test]
fn shrinking_twice_gives_the_same_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = with_bug(dir.path(), "raft-partition.scn", "commit-without-quorum");
    let (replay, _) = first_failure(&file, 5);
    let seed = replay.split("--seed ").nth(1).expect("a seed").to_string();
    let args = [
        "shrink",
        file.to_str().unwrap(),
        "--seed",
        &seed,
        "--max-runs",
        "200",
    ];
    let a = output(&args);
    let b = output(&args);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout, "same input, same scenario");
    assert_eq!(a.stderr, b.stderr, "same runs, same summary");
    // Printed to stdout, the replay goes to stderr with a placeholder name.
    assert!(
        text(&a.stderr).contains(&format!("replay: sim run SHRUNK.scn --seed {seed}")),
        "{}",
        text(&a.stderr)
    );
}

#[test]
fn a_run_cut_short_prints_the_best_so_far_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = with_bug(dir.path(), "raft-partition.scn", "vote-ignores-log");
    let (replay, check) = first_failure(&file, 5);
    let out_file = dir.path().join("cut.scn");
    let out = output(&[
        "shrink",
        "--replay",
        &replay,
        "--max-runs",
        "3",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cut short"), "{stderr}");
    assert!(stderr.contains("shrunk in 3 runs"), "{stderr}");
    let again = text(&out.stdout);
    let again = again
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .expect("a replay line");
    assert!(violated(again).contains(&check));
}

#[test]
fn a_passing_run_is_refused() {
    // raft-partition holds at its own seed.
    let out = output(&["shrink", scenario("raft-partition.scn").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the run passes at seed 42: nothing to shrink"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("broken.scn");
    std::fs::write(&broken, "scenario \"x\" {\n  duration 1s\n  raft {\n").expect("write");
    let partition = scenario("raft-partition.scn");
    let partition = partition.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["shrink"], "needs a scenario file"),
        (vec!["shrink", "/no/such/file.scn"], "/no/such/file.scn"),
        (vec!["shrink", broken.to_str().unwrap()], "broken.scn:"),
        (vec!["shrink", "--replay", "ls -l"], "--replay takes"),
        (vec!["shrink", "--replay", "sim run 'a.scn"], "not closed"),
        (
            vec!["shrink", "--replay", "sim run a.scn --seeds 1..3"],
            "--seeds",
        ),
        (
            vec!["shrink", "--replay", "sim run a.scn --bogus"],
            "--bogus",
        ),
        (
            vec!["shrink", "--replay", "sim run x.scn", partition],
            "cannot be used",
        ),
        (vec!["shrink", partition, "--max-runs", "0"], "--max-runs"),
        (vec!["shrink", partition, "--time-limit", "soon"], "soon"),
        (
            vec!["shrink", partition, "--variant", "2"],
            "has no `sweep`",
        ),
    ];
    for (args, says) in cases {
        let out = output(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_variant_of_a_sweep_shrinks_with_its_values_written_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = with_bug(dir.path(), "raft-crash-storm.scn", "vote-not-persisted");
    let original = std::fs::read_to_string(&file).expect("read");
    let swept = original.replacen(
        "  expect safe",
        "  sweep cluster.election_timeout in [150ms..155ms, 150ms..300ms]\n  expect safe",
        1,
    );
    std::fs::write(&file, swept).expect("write");
    let (replay, check) = first_failure(&file, 60);
    let words = scenarios::shrink::shell_words(&replay).expect("a command");
    let at = |flag: &str| {
        let k = words.iter().position(|w| w == flag).expect(flag);
        words[k + 1].clone()
    };
    let (seed, variant) = (at("--seed"), at("--variant"));
    let value = variant.split('=').nth(1).expect("NAME=VALUE");
    let out = output(&[
        "shrink",
        file.to_str().unwrap(),
        "--seed",
        &seed,
        "--variant",
        &variant,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shrunk = text(&out.stdout);
    let parsed = scenarios::parse::parse("shrunk.scn", &shrunk).expect("parses");
    assert!(parsed.sweeps.is_empty(), "one run, no sweep:\n{shrunk}");
    assert!(
        shrunk.contains(&format!("election_timeout {value}")),
        "the variant's value is written in:\n{shrunk}"
    );
    let path = dir.path().join("variant-shrunk.scn");
    std::fs::write(&path, &shrunk).expect("write");
    let again = format!("sim run {} --seed {seed}", path.display());
    assert!(violated(&again).contains(&check));
}

/// A failure under a drawn fault schedule (`raft-nemesis.scn`'s `nemesis` block) shrinks to the
/// few drawn lines that matter, written out: the shrunk scenario has no `nemesis` block, its
/// schedule is explicit `during` lines, and replayed it fails the same check.
#[test]
fn a_drawn_schedule_shrinks_to_explicit_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = with_bug(dir.path(), "raft-nemesis.scn", "commit-without-quorum");
    let (replay, check) = first_failure(&file, 8);
    let drawn = {
        let words = scenarios::shrink::shell_words(&replay).expect("a command");
        let seed: u64 = words[words.iter().position(|w| w == "--seed").unwrap() + 1]
            .parse()
            .unwrap();
        let s = scenarios::load(&file).expect("loads");
        scenarios::generate::expand(&s, seed)
            .expect("expands")
            .expect("has a nemesis")
            .schedule
            .len()
    };
    let out_file = dir.path().join("shrunk.scn");
    let out = output(&[
        "shrink",
        "--replay",
        &replay,
        "--max-runs",
        "200",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shrunk = std::fs::read_to_string(&out_file).expect("written");
    assert!(!shrunk.contains("nemesis chaos"), "{shrunk}");
    let parsed = scenarios::parse::parse("shrunk.scn", &shrunk).expect("parses");
    assert!(
        !parsed.schedule.is_empty() && parsed.schedule.len() <= 3 && parsed.schedule.len() < drawn,
        "{drawn} drawn lines -> {}:\n{shrunk}",
        parsed.schedule.len()
    );
    let replay = text(&out.stdout);
    let replay = replay
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .expect("a replay line");
    assert!(violated(replay).contains(&check), "{shrunk}");
}

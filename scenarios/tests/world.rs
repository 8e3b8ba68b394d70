//! Scenarios that compose families in one world: each lesson holds only because the parts
//! interact (take the interaction away and it goes), and composed runs are as deterministic as
//! any: the same hash in two processes and on one or four threads.

use rayon::prelude::*;
use scenarios::{RunOptions, RunReport, load, run_file, run_scenario};
use simcore::format_hash;

#[path = "common/sim_hash.rs"]
mod sim_hash;
use sim_hash::hash_in_new_process;

#[path = "common/runs.rs"]
mod runs;
use runs::{scenario_path, stat};

/// The runs of `text` (a scenario, perhaps sweeping).
fn run_text(name: &str, text: &str) -> Vec<RunReport> {
    runs::run_text(name, text).expect("the scenario runs")
}

fn noisy(cpu_per_message: &str) -> String {
    let text = std::fs::read_to_string(scenario_path("raft-noisy-neighbour.scn")).unwrap();
    text.replace(
        "cpu_per_message 100us",
        &format!("cpu_per_message {cpu_per_message}"),
    )
}

#[test]
fn commit_latency_rises_with_the_noisy_neighbours_weight() {
    let runs = run_file(
        &scenario_path("raft-noisy-neighbour.scn"),
        &RunOptions::default(),
    )
    .unwrap();
    let labels: Vec<&str> = runs.iter().map(|r| r.variant.as_str()).collect();
    assert_eq!(
        labels,
        [
            "batch.nice=0",
            "batch.nice=-5",
            "batch.nice=-10",
            "batch.nice=-15"
        ]
    );
    let p99: Vec<f64> = runs
        .iter()
        .map(|r| stat(r, "kv.commit_latency", "p99"))
        .collect();
    for w in p99.windows(2) {
        assert!(w[1] > w[0], "p99 commit latency by weight: {p99:?}");
    }
    // From half the CPU to 3% of it: the tail grows by more than an order of magnitude.
    assert!(p99[3] > 10.0 * p99[0], "{p99:?}");
    for r in &runs {
        assert!(r.ok(), "{}: {:?}", r.variant, r.violations());
        // The servers took CPU time from the batch job on every host.
        assert!(stat(r, "batch.turnaround", "min") > 4e9);
    }
}

#[test]
fn without_cpu_cost_the_neighbour_changes_nothing_for_the_cluster() {
    // Messages that cost no CPU do not wait for it: every variant's cluster runs alike, and the
    // batch job has its CPU to itself (its 4s of CPU in 4s).
    let runs = run_text("free", &noisy("0us"));
    let hashes: std::collections::BTreeSet<String> = runs
        .iter()
        .map(|r| format!("{}", stat(r, "kv.commit_latency", "count")))
        .collect();
    assert_eq!(
        hashes.len(),
        1,
        "commit counts differ by variant: {hashes:?}"
    );
    for r in &runs {
        assert_eq!(stat(r, "batch.turnaround", "min"), 4e9);
    }
    // While with the cost, the cluster commits less as the neighbour weighs more.
    let costly = run_text("costly", &noisy("100us"));
    let first = stat(&costly[0], "kv.commit_latency", "count");
    let last = stat(&costly[3], "kv.commit_latency", "count");
    assert!(last < first, "{first} commits at nice 0, {last} at -15");
}

#[test]
fn requests_time_out_only_while_the_network_partitions() {
    let with = run_file(
        &scenario_path("queue-partition.scn"),
        &RunOptions::default(),
    )
    .unwrap();
    assert!(with[0].ok(), "{:?}", with[0].violations());
    assert!(stat(&with[0], "users.timeouts", "value") > 450.0);
    let text = std::fs::read_to_string(scenario_path("queue-partition.scn")).unwrap();
    let healed = text.replace("during 30s..45s partition [fe] [be]", "");
    let without = run_text("no-partition", &healed);
    assert_eq!(stat(&without[0], "users.timeouts", "value"), 0.0);
    assert!(stat(&without[0], "backend.queue_len", "max") < 50.0);
    assert_eq!(stat(&without[0], "system.retransmits", "value"), 0.0);
}

/// The composed scenarios' chosen run (`variant`), in this process.
fn hash(file: &str, seed: u64, variant: Option<&str>) -> u64 {
    let opts = RunOptions {
        seed: Some(seed),
        variant: variant.map(str::to_string).into_iter().collect(),
        ..RunOptions::default()
    };
    run_file(&scenario_path(file), &opts).unwrap()[0]
        .result
        .trace_hash
}

#[test]
fn composed_runs_hash_alike_in_two_processes() {
    for (file, variant) in [
        ("raft-noisy-neighbour.scn", Some("3")),
        ("queue-partition.scn", None),
    ] {
        let a = hash_in_new_process(&scenario_path(file), 7, variant);
        let b = hash_in_new_process(&scenario_path(file), 7, variant);
        assert_eq!(a, b, "{file}");
        assert_eq!(a, format_hash(hash(file, 7, variant)), "{file}");
    }
}

#[test]
fn composed_runs_agree_on_one_and_four_threads() {
    let scenario = load(&scenario_path("raft-noisy-neighbour.scn")).unwrap();
    let variants = scenarios::sweep::variants(&scenario).unwrap();
    let chosen = variants.get(2).scenario;
    let run_all = |threads: usize| -> Vec<(u64, u64)> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            (0..16u64)
                .into_par_iter()
                .map(|seed| {
                    let opts = RunOptions {
                        seed: Some(seed),
                        until: Some("2s".parse().unwrap()),
                        ..RunOptions::default()
                    };
                    let r = run_scenario(&chosen, &opts).unwrap();
                    (seed, r.result.trace_hash)
                })
                .collect()
        })
    };
    let one = run_all(1);
    assert_eq!(one, run_all(4));
    let distinct: std::collections::BTreeSet<u64> = one.iter().map(|x| x.1).collect();
    assert_eq!(distinct.len(), 16, "each seed its own run");
}

#[test]
fn the_trace_export_has_a_track_per_host_cpu_and_per_server() {
    let dir = std::env::temp_dir().join(format!("sim-world-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("noisy.json");
    let opts = RunOptions {
        variant: vec!["1".into()],
        until: Some("1s".parse().unwrap()),
        export_trace: Some(path.clone()),
        ..RunOptions::default()
    };
    let runs = run_file(&scenario_path("raft-noisy-neighbour.scn"), &opts).unwrap();
    let tl = runs[0].result.timeline.as_ref().expect("recorded");
    let tracks: Vec<(String, String)> = tl
        .tracks()
        .iter()
        .map(|t| (t.group.clone(), t.name.clone()))
        .collect();
    for host in ["db1", "db2", "db3"] {
        assert!(
            tracks.contains(&("cpus".into(), format!("{host} cpu0"))),
            "{tracks:?}"
        );
        assert!(
            tracks.contains(&("hosts".into(), host.into())),
            "{tracks:?}"
        );
    }
    // A sweep's files are numbered by variant.
    let json = std::fs::read_to_string(dir.join("noisy-1.json")).unwrap();
    assert!(
        json.contains("db1 cpu0") && json.contains("\"kv\""),
        "the server's runs on the CPU"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn faults_without_a_cluster_are_on_the_timeline() {
    let opts = RunOptions {
        record: true,
        ..RunOptions::default()
    };
    let runs = run_file(&scenario_path("queue-partition.scn"), &opts).unwrap();
    let tl = runs[0].result.timeline.as_ref().expect("recorded");
    let tracks: Vec<(&str, &str)> = tl
        .tracks()
        .iter()
        .map(|t| (t.group.as_str(), t.name.as_str()))
        .collect();
    assert!(tracks.contains(&("faults", "faults")), "{tracks:?}");
}

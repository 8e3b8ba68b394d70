//! The CPU scheduling scenarios end to end through the `sim` binary: hand-computable schedules
//! give their exact averages (as *Operating Systems: Three Easy Pieces* works them out), the
//! classic lessons hold in the direction the book says, and runs are deterministic.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
        .join(name)
}

/// Every run's JSON report (one per sweep variant) and the exit code.
fn runs(name: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("run")
        .arg(scenario(name))
        .arg("--json")
        .args(extra)
        .output()
        .expect("sim runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let runs = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (out.status.code().unwrap_or(-1), runs)
}

fn one(name: &str) -> Value {
    let (code, mut r) = runs(name, &[]);
    assert_eq!(code, 0, "{name}: {r:?}");
    assert_eq!(r.len(), 1);
    r.remove(0)
}

/// A metric's statistic in milliseconds (durations) or as is.
fn get(r: &Value, metric: &str, stat: &str) -> f64 {
    let v = r["metrics"][metric][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("no {stat} of {metric}: {}", r["metrics"]));
    if r["metrics"][metric]["unit"] == "ns" && stat != "count" {
        v / 1e6
    } else {
        v
    }
}

#[test]
fn fifo_sjf_and_stcf_give_the_books_averages() {
    // OSTEP figures 7.2, 7.3 and 7.5.
    let fifo = one("sched-fifo.scn");
    assert_eq!(get(&fifo, "machine.turnaround", "mean"), 110.0);
    let sjf = one("sched-sjf.scn");
    assert_eq!(get(&sjf, "machine.turnaround", "mean"), 50.0);
    let stcf = one("sched-stcf.scn");
    assert_eq!(get(&stcf, "machine.turnaround", "mean"), 50.0);
    // STCF: A runs at once, B at 10 ms (on arrival, preempting A), C at 20 ms.
    assert_eq!(get(&stcf, "a.response", "max"), 0.0);
    assert_eq!(get(&stcf, "b.response", "max"), 0.0);
    assert_eq!(get(&stcf, "c.response", "max"), 10.0);
    assert_eq!(get(&stcf, "a.turnaround", "max"), 120.0);
}

#[test]
fn a_longer_quantum_trades_response_for_turnaround() {
    let (code, variants) = runs("sched-rr.scn", &[]);
    assert_eq!(code, 0);
    let response: Vec<f64> = variants
        .iter()
        .map(|r| get(r, "machine.response", "mean"))
        .collect();
    let turnaround: Vec<f64> = variants
        .iter()
        .map(|r| get(r, "machine.turnaround", "mean"))
        .collect();
    // Quanta 1, 5, 10, 50 ms over three 50 ms jobs with a 1 ms context switch.
    assert!(response.windows(2).all(|w| w[0] < w[1]), "{response:?}");
    assert!(turnaround.windows(2).all(|w| w[0] > w[1]), "{turnaround:?}");
    // With a 50 ms quantum RR is FIFO: responses 1, 52, 103 ms (each after a 1 ms switch).
    assert_eq!(response[3], 52.0);
    // With 1 ms, every quantum pays a switch: the CPU does 150 ms of work in 300 ms.
    assert_eq!(get(&variants[0], "machine.utilisation", "value"), 0.5);
}

#[test]
fn stride_gives_exact_shares() {
    let r = one("sched-stride.scn");
    // C holds 250 of 400 tickets: 62.5% of the CPU while all run, so 200 ms take 320 ms.
    assert_eq!(get(&r, "c.turnaround", "max"), 320.0);
}

#[test]
fn lottery_converges_to_the_ticket_ratio_over_seeds() {
    // 300 vs 100 tickets, 400 ms each: `high` finishes when it got 400 ms and `low` about a
    // third of that, so near 533 ms; over 40 seeds the mean lands within 2%.
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("run")
        .arg(scenario("sched-lottery.scn"))
        .args(["--seeds", "1..40", "--json"])
        .output()
        .expect("sim runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let runs = v["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 40);
    let hashes: std::collections::BTreeSet<&str> = runs
        .iter()
        .filter_map(|r| r["trace_hash"].as_str())
        .collect();
    assert!(hashes.len() > 30, "seeds change the draws");
    // The batch JSON has no metrics; rerun a few seeds singly for the turnaround.
    let mut sum = 0.0;
    for seed in 1..=40 {
        let (_, r) = runs_with_seed(seed);
        sum += get(&r, "high.turnaround", "max");
    }
    let mean = sum / 40.0;
    assert!((mean - 533.3).abs() < 0.02 * 533.3, "mean {mean}");
}

fn runs_with_seed(seed: u64) -> (i32, Value) {
    let s = seed.to_string();
    let (code, mut r) = runs("sched-lottery.scn", &["--seed", &s]);
    (code, r.remove(0))
}

#[test]
fn mlfq_boost_and_gaming_behave_as_the_book_says() {
    let r = one("sched-mlfq.scn");
    // Interactive jobs run at once although the long job was there first.
    assert!(get(&r, "chat1.response", "max") < 10.0);
    assert_eq!(get(&r, "machine.unfinished", "value"), 0.0);
    let (code, v) = runs("sched-mlfq-gaming.scn", &[]);
    assert_eq!(code, 0);
    let (gamed, fair) = (&v[0], &v[1]);
    assert_eq!(gamed["variant"], "machine.io_resets_allotment=true");
    // Gameable rules: the gamer finishes long before its victim.
    assert!(get(gamed, "gamer.turnaround", "max") < 0.6 * get(gamed, "victim.turnaround", "max"));
    // Better accounting: the victim is no longer starved.
    assert!(get(fair, "victim.turnaround", "max") < get(fair, "gamer.turnaround", "max"));
}

#[test]
fn cfs_shares_the_cpu_by_weight() {
    let r = one("sched-cfs.scn");
    // While both run, nice 0 gets 1024 / (1024 + 335) = 75.3% of the CPU: its 300 ms take
    // about 400 ms (plus the editor's few milliseconds).
    let favoured = get(&r, "favoured.turnaround", "max");
    assert!((400.0..430.0).contains(&favoured), "{favoured}");
    assert!(get(&r, "editor.response", "max") < 10.0);
}

#[test]
fn work_stealing_evens_out_four_cpus() {
    let (code, v) = runs("sched-multi.scn", &[]);
    assert_eq!(code, 0);
    let (alone, stealing) = (&v[0], &v[1]);
    assert_eq!(get(alone, "machine.turnaround", "max"), 200.0);
    // Without stealing, CPU 0 holds two jobs and works throughout; the others idle half the time.
    assert_eq!(get(alone, "machine.utilisation_cpu0", "value"), 1.0);
    assert_eq!(get(alone, "machine.utilisation_cpu3", "value"), 0.5);
    // The stolen job runs cold: 50 ms left plus the 5 ms migration cost.
    assert_eq!(get(stealing, "machine.turnaround", "max"), 155.0);
    assert!(
        get(stealing, "machine.utilisation", "value") > get(alone, "machine.utilisation", "value")
    );
}

#[test]
fn runs_are_deterministic() {
    for name in ["sched-mlfq.scn", "sched-cfs.scn", "sched-multi.scn"] {
        let (_, a) = runs(name, &[]);
        let (_, b) = runs(name, &[]);
        let hashes = |v: &Vec<Value>| {
            v.iter()
                .map(|r| r["trace_hash"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(hashes(&a), hashes(&b), "{name}");
    }
}

#[test]
fn lottery_is_fairer_for_longer_jobs() {
    // OSTEP figure 9.2: U = first completion / second, averaged over seeds, rises with length.
    let mut mean_u = [0.0f64; 4];
    let seeds = 20;
    for seed in 1..=seeds {
        let s = seed.to_string();
        let (code, v) = runs("sched-lottery-fairness.scn", &["--seed", &s]);
        assert_eq!(code, 0);
        assert_eq!(v.len(), 4, "one run per length");
        for (k, r) in v.iter().enumerate() {
            mean_u[k] += get(r, "machine.completion_ratio", "value") / seeds as f64;
        }
    }
    assert!(mean_u.windows(2).all(|w| w[0] < w[1]), "{mean_u:?}");
    assert!(mean_u[0] < 0.95 && mean_u[3] > 0.98, "{mean_u:?}");
}

#[test]
fn drawn_jobs_follow_their_distributions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("batch.scn");
    std::fs::write(
        &file,
        "scenario \"batch\" {\n  seed 3\n  cpu machine { policy fifo }\n  jobs batch { count 50000  interarrival exp(10ms)  cpu exp(5ms) }\n}\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("run")
        .arg(&file)
        .arg("--json")
        .output()
        .expect("sim runs");
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(get(&r, "machine.turnaround", "count"), 50000.0);
    // An M/M/1 queue at rho = 0.5 under FIFO: mean time in system 1/(mu - lambda) = 10 ms
    // (seeds 1 to 3 gave 9.90, 10.04 and 10.33 ms over 50,000 jobs).
    let t = get(&r, "machine.turnaround", "mean");
    assert!((9.0..11.0).contains(&t), "mean turnaround {t} ms");
}

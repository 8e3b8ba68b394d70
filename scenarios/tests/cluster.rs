//! The shipped cluster templates run a sharded sweep for real and merge to what one machine
//! prints: a one-node Slurm cluster (Debian's `slurm-wlm` and `munge`, started and stopped by the
//! test in a directory of its own) runs `cluster/slurm/sweep.sbatch` as a job array and
//! `cluster/slurm/merge.sbatch` after it; the Kubernetes Indexed Job's command runs once per
//! index with the environment Kubernetes gives a pod. Where Slurm cannot start (not installed,
//! not root) or PyYAML is missing, the test says why and skips, unless SIM_REQUIRE_SLURM=1 (set
//! by .ci/run) makes it fail.

#[path = "common/masked.rs"]
mod masked;
use masked::masked;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Skips (printing why), or with SIM_REQUIRE_SLURM=1 fails.
fn skip(why: &str) -> bool {
    if std::env::var_os("SIM_REQUIRE_SLURM").is_some_and(|v| v == "1") {
        panic!("SIM_REQUIRE_SLURM=1 but {why}");
    }
    eprintln!("skipped: {why}");
    false
}

fn found(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

const SCENARIO: &str = r#"# A bound near the mean wait of a short M/M/1 run: some seeds hold it, some do not.
scenario "flaky" {
  source a { rate 0.9/s  customers 100  to s }
  station s { servers 1  service exp(1s) }
  sweep s.servers in [1, 2]
  expect mean(s.wait) < 3s
}
"#;

const SEEDS: &str = "1..60";

/// The sweep on one machine, as the table: what every merge must print.
fn one_machine(scn: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", scn, "--seeds", SEEDS])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "some runs fail: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// A one-node Slurm cluster in `dir`: munged, slurmctld and slurmd on ports of their own. Dropping
/// it shuts the daemons down and kills what is left of them.
struct Slurm {
    dir: PathBuf,
    conf: PathBuf,
}

impl Slurm {
    fn start(dir: &Path) -> Result<Slurm, String> {
        for d in ["state", "spool", "log", "munge"] {
            std::fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
        }
        let host = Command::new("hostname")
            .arg("-s")
            .output()
            .map_err(|e| e.to_string())?;
        let host = String::from_utf8_lossy(&host.stdout).trim().to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let port = 20_000 + (std::process::id() % 20_000) as u16 * 2;
        let d = dir.display();
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=simtest\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort={port}\nSlurmdPort={}\n\
                 SlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\nAuthInfo=socket={d}/munge/munge.socket\n\
                 CredType=cred/munge\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
                 SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nJobAcctGatherType=jobacct_gather/none\n\
                 AccountingStorageType=accounting_storage/none\nMpiDefault=none\nReturnToService=2\n\
                 StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\nSlurmctldPidFile={d}/slurmctld.pid\n\
                 SlurmdPidFile={d}/slurmd.pid\nSlurmctldLogFile={d}/log/slurmctld.log\nSlurmdLogFile={d}/log/slurmd.log\n\
                 NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
                 PartitionName=sim Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
                port + 1
            ),
        )
        .map_err(|e| e.to_string())?;
        let slurm = Slurm {
            dir: dir.to_path_buf(),
            conf,
        };
        let daemon = |cmd: &mut Command, what: &str| -> Result<(), String> {
            let o = cmd
                .env("SLURM_CONF", &slurm.conf)
                .output()
                .map_err(|e| format!("{what}: {e}"))?;
            if o.status.success() {
                Ok(())
            } else {
                Err(format!("{what} did not start: {}", text(&o)))
            }
        };
        daemon(
            Command::new("munged").args([
                &format!("--socket={d}/munge/munge.socket"),
                &format!("--pid-file={d}/munge/munged.pid"),
                &format!("--log-file={d}/munge/munged.log"),
                &format!("--seed-file={d}/munge/seed"),
                "--force",
            ]),
            "munged",
        )?;
        daemon(Command::new("slurmctld").args(["-c", "-i"]), "slurmctld")?;
        daemon(Command::new("slurmd").arg("-c"), "slurmd")?;
        let t = Instant::now();
        loop {
            let o = slurm.command("sinfo").args(["-h", "-o", "%T"]).output();
            if o.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle") {
                return Ok(slurm);
            }
            if t.elapsed() > Duration::from_secs(30) {
                let log = std::fs::read_to_string(dir.join("log/slurmd.log")).unwrap_or_default();
                return Err(format!("the node never became idle: {log}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A Slurm client command for this cluster.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let _ = self
            .command("timeout")
            .args(["20", "scontrol", "shutdown"])
            .output();
        std::thread::sleep(Duration::from_millis(500));
        for pid in ["slurmd.pid", "slurmctld.pid", "munge/munged.pid"] {
            if let Ok(p) = std::fs::read_to_string(self.dir.join(pid)) {
                let _ = Command::new("kill").arg(p.trim()).output();
            }
        }
    }
}

/// A Slurm job array runs the sweep in 4 parts (cluster/slurm/sweep.sbatch), a job that waits
/// for it merges them (cluster/slurm/merge.sbatch), and the merged table is the one machine's.
#[test]
fn a_slurm_job_array_runs_a_sharded_sweep_that_merges_to_one_machines_result() {
    for program in ["munged", "slurmctld", "slurmd", "sbatch", "sinfo"] {
        if !found(program) {
            skip(&format!("no {program} (Debian's slurm-wlm and munge)"));
            return;
        }
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if uid != "0" {
        skip("slurmd runs as root here, and this test is not root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("flaky.scn");
    std::fs::write(&scn, SCENARIO).unwrap();
    let scn = scn.to_str().unwrap();
    let slurm = match Slurm::start(&dir.path().join("slurm")) {
        Ok(s) => s,
        Err(why) => {
            skip(&format!("Slurm could not start here: {why}"));
            return;
        }
    };
    let out = dir.path().join("results");
    let out = out.to_str().unwrap();
    let sbatch = |args: &[&str]| {
        let o = slurm
            .command("timeout")
            .arg("300")
            .arg("sbatch")
            .args(args)
            .env("SIM", env!("CARGO_BIN_EXE_sim"))
            .current_dir(workspace())
            .output()
            .unwrap();
        (o.status.code(), text(&o))
    };
    let log = format!("--output={}/slurm-%A_%a.out", dir.path().display());
    let (code, job) = sbatch(&[
        "--parsable",
        "--array=1-4",
        &log,
        "cluster/slurm/sweep.sbatch",
        scn,
        SEEDS,
        out,
    ]);
    assert_eq!(code, Some(0), "{job}");
    let after = format!("--dependency=afterok:{}", job.trim());
    let merge_log = format!("--output={}/merge-%j.out", dir.path().display());
    // `sbatch --wait` exits as the job did: `sim merge`'s 1, some runs failed their checks.
    let (code, said) = sbatch(&[
        "--wait",
        &after,
        &merge_log,
        "cluster/slurm/merge.sbatch",
        out,
    ]);
    assert_eq!(code, Some(1), "{said}");
    let parts: Vec<String> = (1..=4)
        .map(|k| format!("{out}/part-{k}-of-4.json"))
        .collect();
    for p in &parts {
        assert!(Path::new(p).exists(), "{p}");
    }
    let merged = std::fs::read_to_string(format!("{out}/summary.txt")).unwrap();
    assert_eq!(masked(&merged), masked(&one_machine(scn)));
    assert!(merged.contains("result     FAILED: "), "{merged}");
    drop(slurm);
}

/// The Kubernetes Indexed Job's pod command, run once per index with the environment a pod gets
/// (JOB_COMPLETION_INDEX, the template's env) and its /results on a local directory: the parts
/// merge to the one machine's table.
#[test]
fn the_kubernetes_indexed_job_runs_each_index_and_merges_alike() {
    let template = workspace().join("cluster/k8s/sweep-job.yaml");
    // The template, as JSON: PyYAML reads it (no YAML crate is needed for one test).
    let o = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&template)
        .output();
    let job: serde_json::Value = match o {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).unwrap(),
        _ => {
            skip("no python3 with PyYAML to read the template");
            return;
        }
    };
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    let container = &spec["template"]["spec"]["containers"][0];
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let shards = env.iter().find(|(k, _)| k == "SHARDS").unwrap();
    assert_eq!(shards.1, n.to_string(), "SHARDS must be completions");
    let script = container["args"][0].as_str().unwrap();
    assert_eq!(container["command"][1], "-c");
    // The pod's command on this machine: our scenario and range, /results in a directory.
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("flaky.scn");
    std::fs::write(&scn, SCENARIO).unwrap();
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    let script = script.replace("/results", results.to_str().unwrap());
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_sim"), bin.join("sim")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for index in 0..n {
        let o = Command::new("/bin/sh")
            .args(["-c", &script])
            .env("PATH", &path)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("SCENARIO", &scn)
            .env("SEEDS", SEEDS)
            .output()
            .unwrap();
        assert!(o.status.success(), "index {index}: {}", text(&o));
    }
    let mut merge = Command::new(env!("CARGO_BIN_EXE_sim"));
    merge.arg("merge");
    for k in 1..=n {
        merge.arg(results.join(format!("part-{k}-of-{n}.json")));
    }
    let o = merge.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        masked(&String::from_utf8_lossy(&o.stdout)),
        masked(&one_machine(scn.to_str().unwrap()))
    );
}

//! `native run` on a CPU scheduling scenario (a `cpu` block): its jobs as real threads of a
//! worker process inside a cgroup with the scenario's CPU limit, beside the simulator's run of
//! the same scenario and seed.
//!
//! The worker is this binary again (`native cpu-worker`, hidden): it reads the jobs from its
//! standard input, then starts each job's thread at the job's arrival on the monotonic clock;
//! a thread spins for each CPU burst until its own CPU clock (`CLOCK_THREAD_CPUTIME_ID`) has
//! advanced by the burst, and sleeps through each I/O, so a burst is CPU time, however long the
//! thread waits for a CPU. The runner moves the worker into the cgroup before it writes the
//! jobs, so nothing of the worker runs outside it. Each job's end comes back; a job's
//! turnaround is its end minus its arrival, and a `jobs` block's request (its `threads`) ends
//! with its last thread, as the simulator's `NAME.latency` counts it. The cgroup's `cpu.stat`
//! gives the throttling figures, which the simulator's `CPU.nr_periods`, `CPU.nr_throttled`
//! and `CPU.throttled_time` model.
//!
//! Linux schedules the threads with its own scheduler: the scenario's policy is the
//! simulator's alone. A job's `nice` is its thread's (`setpriority`).

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use models::cpu::model::{CpuConfig, JobConfig};
use sched::machine::Burst;
use simcore::metrics::MetricValue;

use crate::cgroup::{Cgroup, CpuStat, Limit};
use crate::child::{self, ChildError};
use crate::run::RunError;

/// A CPU scenario's chosen variant, wired.
#[derive(Debug)]
pub struct CpuScenario {
    pub name: String,
    /// The swept values of the variant chosen (empty without a sweep).
    pub variant: String,
    pub seed: u64,
    pub config: CpuConfig,
    /// The variant alone, as the simulator runs it.
    scenario: scenarios::ast::Scenario,
}

/// The scenario at `path` as a CPU scenario, or None when it is not one (it has no `cpu`
/// block): `native run` then runs it as a Raft scenario.
pub fn load(
    path: &Path,
    seed: Option<u64>,
    variant: &[String],
) -> Result<Option<CpuScenario>, RunError> {
    let scenario = scenarios::load(path).map_err(|e| RunError::Scenario(e.to_string()))?;
    let Ok(checked) = scenarios::check::check(&scenario) else {
        return Ok(None); // The Raft runner reports the scenario's errors, as it always has.
    };
    if !checked.blocks.iter().any(|b| b.spec.kind == "cpu") {
        return Ok(None);
    }
    let chosen = crate::run::choose(&scenario, seed, variant).map_err(|e| match e {
        RunError::Scenario(m) => RunError::Scenario(format!(
            "{m}\n(or boot it in the kernel with --target kernel, which runs every variant)"
        )),
        other => other,
    })?;
    let config = chosen
        .world
        .cpus
        .into_iter()
        .next()
        .map(|(_, c)| c)
        .ok_or_else(|| RunError::Scenario(format!("{}: no machine", path.display())))?;
    Ok(Some(CpuScenario {
        name: chosen.name,
        variant: chosen.label,
        seed: chosen.seed,
        config,
        scenario: chosen.scenario,
    }))
}

/// The group's CPU shares: ten times the default (v1's 1024, v2's weight 100), so that the
/// machine's other processes, which the simulated machine does not have, take little of what
/// the scenario's jobs would get on a machine of their own. The quota still caps the group.
pub const SHARES: u64 = 10 * 1024;

/// The cgroup limit a machine's quota asks for, with [`SHARES`].
pub fn limit(config: &CpuConfig) -> Limit {
    let b = config.bandwidth.filter(|b| b.limits());
    Limit {
        quota: b.map(|b| Duration::from_nanos(b.quota)),
        period: Duration::from_nanos(
            config
                .bandwidth
                .map_or(models::cpu::model::BandwidthConfig::DEFAULT_PERIOD, |b| {
                    b.period
                }),
        ),
        shares: SHARES,
    }
}

/// One side's figures: each job's turnaround and each request's latency (nanoseconds, of
/// those that finished), the CPUs used on average, and the throttling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Side {
    pub turnaround: Vec<u64>,
    /// Per `jobs` block, by name.
    pub latency: Vec<(String, Vec<u64>)>,
    pub cpus_used: f64,
    pub stat: CpuStat,
    /// Jobs that did not finish.
    pub unfinished: usize,
}

/// What a run measured and simulated.
#[derive(Debug)]
pub struct CpuRun {
    pub real: Side,
    /// The simulator's percentiles, as its metrics give them (within 0.1%).
    pub sim: SimFigures,
    pub cgroup: String,
    pub version: &'static str,
    pub cleaned: Vec<String>,
    pub online_cpus: usize,
    /// The simulated run's checks of the scenario's `expect`s, as `sim run` prints them.
    pub sim_checks: Vec<(bool, String)>,
}

/// The simulator's figures, from its metrics.
#[derive(Debug, Clone, Default)]
pub struct SimFigures {
    /// `(name, count, p50, p99, max)`: `CPU.turnaround`, then each `jobs` block's latency.
    pub rows: Vec<(String, u64, f64, f64, f64)>,
    pub cpus_used: f64,
    pub stat: Option<CpuStat>,
}

/// The jobs as the worker reads them, one line each: `JOB ARRIVAL NICE` then its bursts,
/// `c:NS` for CPU and `i:NS` for I/O.
pub fn plan(config: &CpuConfig) -> String {
    let mut out = String::new();
    for (k, j) in config.jobs.iter().enumerate() {
        out.push_str(&format!("{k} {} {}", j.arrival, j.nice));
        for b in &JobConfig::spec(j).bursts {
            match b {
                Burst::Cpu(d) => out.push_str(&format!(" c:{d}")),
                Burst::Io(d) => out.push_str(&format!(" i:{d}")),
            }
        }
        out.push('\n');
    }
    out
}

/// A job the worker runs.
#[derive(Debug, Clone, PartialEq)]
struct Job {
    id: usize,
    arrival: u64,
    nice: i32,
    bursts: Vec<Burst>,
}

fn parse_plan(text: &str) -> Result<Vec<Job>, String> {
    let mut jobs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || {
            format!(
                "line {}: `{line}` is not `JOB ARRIVAL NICE c:NS ...`",
                n + 1
            )
        };
        let mut w = line.split_whitespace();
        let mut number = || w.next().and_then(|v| v.parse::<i64>().ok());
        let (Some(id), Some(arrival), Some(nice)) = (number(), number(), number()) else {
            return Err(bad());
        };
        let bursts = line
            .split_whitespace()
            .skip(3)
            .map(|b| match b.split_once(':') {
                Some(("c", v)) => v.parse().ok().map(Burst::Cpu),
                Some(("i", v)) => v.parse().ok().map(Burst::Io),
                _ => None,
            })
            .collect::<Option<Vec<Burst>>>()
            .ok_or_else(bad)?;
        jobs.push(Job {
            id: usize::try_from(id).map_err(|_| bad())?,
            arrival: u64::try_from(arrival).map_err(|_| bad())?,
            nice: nice.clamp(-20, 19) as i32,
            bursts,
        });
    }
    Ok(jobs)
}

/// This thread's CPU time, in nanoseconds.
fn thread_cpu() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given, which lives on this stack.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Spins until this thread has run `ns` more of CPU time.
fn spin(ns: u64) {
    let until = thread_cpu() + ns;
    let mut x = 1u64;
    while thread_cpu() < until {
        for _ in 0..2000 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
}

/// The whole process's CPU time (user and system), in nanoseconds.
fn process_cpu() -> u64 {
    // SAFETY: getrusage fills the struct it is given, zeroed and on this stack.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// `native cpu-worker`: reads the plan from standard input, runs every job's thread from its
/// arrival, and prints `done JOB END_NS` per job as it ends (from the start, once the plan is
/// read), then `cpu NS` (the process's CPU time) and `span NS` (start to last end).
pub fn worker() -> Result<(), String> {
    let mut text = String::new();
    for line in std::io::stdin().lock().lines() {
        text.push_str(&line.map_err(|e| format!("reading the plan: {e}"))?);
        text.push('\n');
    }
    let mut jobs = parse_plan(&text)?;
    jobs.sort_by_key(|j| (j.arrival, j.id));
    let start = Instant::now();
    let out = std::sync::Mutex::new(std::io::stdout());
    let last = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for job in &jobs {
            let at = start + Duration::from_nanos(job.arrival);
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let (out, last) = (&out, &last);
            s.spawn(move || {
                // SAFETY: setpriority on this thread's own id changes its nice value only.
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, job.nice);
                }
                for b in &job.bursts {
                    match *b {
                        Burst::Cpu(d) => spin(d),
                        Burst::Io(d) => std::thread::sleep(Duration::from_nanos(d)),
                    }
                }
                let end = start.elapsed().as_nanos() as u64;
                last.fetch_max(end, Ordering::Relaxed);
                if let Ok(mut o) = out.lock() {
                    let _ = writeln!(o, "done {} {end}", job.id);
                }
            });
        }
    });
    let mut o = out.lock().map_err(|_| "stdout poisoned".to_string())?;
    writeln!(o, "cpu {}", process_cpu()).map_err(|e| e.to_string())?;
    writeln!(o, "span {}", last.load(Ordering::Relaxed)).map_err(|e| e.to_string())?;
    Ok(())
}

/// The worker's output: each job's end (from the start), its CPU time and its span.
fn parse_report(text: &str, jobs: usize) -> (Vec<Option<u64>>, u64, u64) {
    let mut ends = vec![None; jobs];
    let (mut cpu, mut span) = (0, 0);
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["done", job, end] => {
                if let (Ok(j), Ok(e)) = (job.parse::<usize>(), end.parse()) {
                    if let Some(slot) = ends.get_mut(j) {
                        *slot = Some(e);
                    }
                }
            }
            ["cpu", v] => cpu = v.parse().unwrap_or(0),
            ["span", v] => span = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    (ends, cpu, span)
}

/// The real side's figures from the jobs' ends.
fn real_side(config: &CpuConfig, ends: &[Option<u64>], cpu: u64, span: u64, stat: CpuStat) -> Side {
    let arrival = |j: usize| config.jobs[j].arrival;
    let turnaround = (0..config.jobs.len())
        .filter_map(|j| ends[j].map(|e| e.saturating_sub(arrival(j))))
        .collect();
    let latency = config
        .requests
        .iter()
        .map(|g| {
            let per_request = (0..g.count).filter_map(|k| {
                let first = (g.first + k * g.threads) as usize;
                let threads = first..first + g.threads as usize;
                let last = threads
                    .map(|j| ends.get(j).copied().flatten())
                    .collect::<Option<Vec<u64>>>()?
                    .into_iter()
                    .max()?;
                Some(last.saturating_sub(arrival(first)))
            });
            (g.name.clone(), per_request.collect())
        })
        .collect();
    Side {
        turnaround,
        latency,
        cpus_used: if span > 0 {
            cpu as f64 / span as f64
        } else {
            0.0
        },
        stat,
        unfinished: ends.iter().filter(|e| e.is_none()).count(),
    }
}

/// How long the worker may take: the last arrival, plus all the CPU work at the quota's rate
/// (or at one CPU's, if that is slower), plus a minute.
fn timeout(config: &CpuConfig) -> Duration {
    let last = config.jobs.iter().map(|j| j.arrival).max().unwrap_or(0);
    let work: u64 = config
        .jobs
        .iter()
        .flat_map(|j| j.spec().bursts)
        .map(|b| match b {
            Burst::Cpu(d) | Burst::Io(d) => d,
        })
        .sum();
    let slowdown = config
        .bandwidth
        .filter(|b| b.limits())
        .map_or(1.0, |b| (b.period as f64 / b.quota as f64).max(1.0));
    Duration::from_nanos(last)
        + Duration::from_secs_f64(work as f64 * slowdown / 1e9)
        + Duration::from_secs(60)
}

/// Runs the scenario's jobs in a cgroup and the simulator on the same scenario and seed.
/// `stop` (Ctrl-C, SIGTERM, SIGHUP) kills the worker; the cgroup goes either way.
pub fn run(scenario: &CpuScenario, stop: &AtomicBool) -> Result<CpuRun, RunError> {
    let config = &scenario.config;
    let sim = simulate(scenario)?;
    let group = Cgroup::create(limit(config)).map_err(RunError::Setup)?;
    let exe = std::env::current_exe().map_err(|e| RunError::Setup(format!("this program: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("cpu-worker");
    let finished = child::run_with(
        cmd,
        Some(plan(config).into_bytes()),
        |pid| group.add(pid),
        timeout(config),
        stop,
    );
    let finished = match finished {
        Ok(f) => f,
        Err(ChildError::Interrupted) => {
            return Err(RunError::Setup(
                "interrupted: the worker was killed and its cgroup removed".into(),
            ));
        }
        Err(ChildError::Spawn(e)) | Err(ChildError::Wait(e)) => {
            return Err(RunError::Setup(format!(
                "the worker in cgroup {}: {e}",
                group.path().display()
            )));
        }
    };
    if stop.load(Ordering::Relaxed) {
        return Err(RunError::Setup(
            "interrupted: the worker was killed and its cgroup removed".into(),
        ));
    }
    match finished.status {
        None => {
            return Err(RunError::Setup(format!(
                "the worker overran {} s and was killed",
                timeout(config).as_secs()
            )));
        }
        Some(s) if !s.success() => {
            return Err(RunError::Setup(format!(
                "the worker failed ({s}): {}",
                finished.stderr.trim()
            )));
        }
        Some(_) => {}
    }
    let stat = group.stat().map_err(RunError::Setup)?;
    let (ends, cpu, span) = parse_report(&finished.stdout, config.jobs.len());
    Ok(CpuRun {
        real: real_side(config, &ends, cpu, span, stat),
        sim: sim.0,
        sim_checks: sim.1,
        cgroup: group.path().display().to_string(),
        version: group.version().name(),
        cleaned: group.cleaned().to_vec(),
        online_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

/// The simulator's run of the same variant and seed, through the scenarios crate's runner (as
/// `sim run` runs it): its figures and its checks.
fn simulate(scenario: &CpuScenario) -> Result<(SimFigures, Vec<(bool, String)>), RunError> {
    let opts = scenarios::runner::RunOptions {
        seed: Some(scenario.seed),
        ..Default::default()
    };
    let report = scenarios::runner::run_scenario(&scenario.scenario, &opts)
        .map_err(|e| RunError::Scenario(e.to_string()))?;
    let metrics = &report.result.metrics;
    let cpu = &scenario.config.name;
    let histogram = |name: &str| match metrics.get(name) {
        Some(MetricValue::Histogram {
            count,
            p50,
            p99,
            max,
            ..
        }) => Some((
            name.to_string(),
            *count,
            *p50 as f64,
            *p99 as f64,
            *max as f64,
        )),
        _ => None,
    };
    let mut rows: Vec<_> = histogram(&format!("{cpu}.turnaround"))
        .into_iter()
        .collect();
    rows.extend(
        scenario
            .config
            .requests
            .iter()
            .filter_map(|g| histogram(&format!("{}.latency", g.name))),
    );
    let value = |name: String| match metrics.get(&name) {
        Some(MetricValue::Counter { value }) => Some(*value),
        Some(MetricValue::Gauge { value, .. }) => Some(*value as u64),
        Some(MetricValue::Histogram { max, .. }) => Some(*max),
        _ => None,
    };
    let utilisation = match metrics.get(&format!("{cpu}.utilisation")) {
        Some(MetricValue::Gauge { value, .. }) => *value,
        _ => 0.0,
    };
    let stat = value(format!("{cpu}.nr_periods")).map(|nr_periods| CpuStat {
        nr_periods,
        nr_throttled: value(format!("{cpu}.nr_throttled")).unwrap_or(0),
        throttled_time: value(format!("{cpu}.throttled_time")).unwrap_or(0),
    });
    let checks = report
        .checks
        .iter()
        .map(|c| (c.held, c.check.clone()))
        .collect();
    Ok((
        SimFigures {
            rows,
            cpus_used: utilisation * scenario.config.cpus as f64,
            stat,
        },
        checks,
    ))
}

/// Nearest-rank percentile `q` of `v` (nanoseconds); None when empty.
fn percentile(v: &[u64], q: f64) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
    Some(s[i])
}

/// The side-by-side table: per latency, its count, p50, p99 and max on each side; the CPUs used
/// on average; and `cpu.stat`'s figures.
pub fn table(run: &CpuRun) -> Vec<String> {
    let show = |ns: f64| reports::text::show(ns, true);
    let mut lines = vec![format!(
        "{:<22} {:>8} {:>10} {:>10} {:>10}   {:>8} {:>10} {:>10} {:>10}",
        "figure",
        "sim n",
        "sim p50",
        "sim p99",
        "sim max",
        "real n",
        "real p50",
        "real p99",
        "real max"
    )];
    for (name, count, p50, p99, max) in &run.sim.rows {
        let real: &[u64] = if name.ends_with(".turnaround") {
            &run.real.turnaround
        } else {
            run.real
                .latency
                .iter()
                .find(|(g, _)| name.strip_suffix(".latency") == Some(g.as_str()))
                .map_or(&[], |(_, v)| v.as_slice())
        };
        let pct = |q: f64| percentile(real, q).map_or("-".into(), |v| show(v as f64));
        lines.push(format!(
            "{name:<22} {count:>8} {:>10} {:>10} {:>10}   {:>8} {:>10} {:>10} {:>10}",
            show(*p50),
            show(*p99),
            show(*max),
            real.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        ));
    }
    lines.push(String::new());
    lines.push(format!("{:<22} {:>12} {:>12}", "", "sim", "real"));
    lines.push(format!(
        "{:<22} {:>12.3} {:>12.3}",
        "CPUs used (mean)", run.sim.cpus_used, run.real.cpus_used
    ));
    let stat = run.sim.stat;
    let sim = |f: fn(&CpuStat) -> String| stat.as_ref().map_or("-".into(), f);
    let r = &run.real.stat;
    lines.push(format!(
        "{:<22} {:>12} {:>12}",
        "nr_periods",
        sim(|s| s.nr_periods.to_string()),
        r.nr_periods
    ));
    lines.push(format!(
        "{:<22} {:>12} {:>12}",
        "nr_throttled",
        sim(|s| s.nr_throttled.to_string()),
        r.nr_throttled
    ));
    lines.push(format!(
        "{:<22} {:>12} {:>12}",
        "throttled_time",
        sim(|s| reports::text::show(s.throttled_time as f64, true)),
        show(r.throttled_time as f64)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_back_as_written() {
        let text = "0 0 0 c:30000000\n1 5 -3 c:1000 i:2000 c:1000\n";
        let jobs = parse_plan(text).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[1].nice, -3);
        assert_eq!(
            jobs[1].bursts,
            [Burst::Cpu(1000), Burst::Io(2000), Burst::Cpu(1000)]
        );
        assert!(parse_plan("0 x 0 c:1\n").unwrap_err().contains("line 1"));
        assert!(parse_plan("0 0 0 q:1\n").is_err());
    }

    #[test]
    fn a_thread_spins_for_its_cpu_time() {
        let before = thread_cpu();
        spin(20_000_000);
        let ran = thread_cpu() - before;
        assert!(ran >= 20_000_000, "{ran}");
    }

    #[test]
    fn a_requests_latency_is_its_last_threads_end() {
        let mut config = CpuConfig {
            name: "m".into(),
            policy: models::cpu::PolicyConfig::Fifo,
            cpus: 2,
            per_cpu_queues: false,
            steal: false,
            machine: Default::default(),
            jobs: Vec::new(),
            bandwidth: None,
            requests: vec![models::cpu::model::RequestGroup {
                name: "r".into(),
                first: 0,
                count: 2,
                threads: 2,
            }],
        };
        for (k, arrival) in [0, 0, 100, 100].into_iter().enumerate() {
            config.jobs.push(JobConfig {
                name: format!("r-{k}"),
                report: false,
                arrival,
                cpu: 10,
                io_every: None,
                io: 0,
                tickets: 100,
                nice: 0,
                pin: None,
            });
        }
        let (ends, cpu, span) =
            parse_report("done 0 10\ndone 1 12\ndone 3 130\ncpu 40\nspan 130\n", 4);
        assert_eq!(ends, [Some(10), Some(12), None, Some(130)]);
        let side = real_side(&config, &ends, cpu, span, CpuStat::default());
        assert_eq!(side.turnaround, [10, 12, 30]);
        // The second request lost a thread: it has no latency.
        assert_eq!(side.latency, [("r".to_string(), vec![12])]);
        assert_eq!(side.unfinished, 1);
    }
}

//! The kernel target's two sides: the job mix a scenario gives, as the kernel's command line
//! (`sched::boot`), and the same mix on the simulator's machine model (`sched::machine`, what
//! `sim run` steps), compared job by job and stretch by stretch.

use models::cpu::{CpuConfig, model::build_machine};
use sched::Time;
use sched::boot::{BootConfig, BootJob, Fault};
use sched::ktrace::stop_name;
use sched::machine::{JobStats, Segment};

use crate::kernel::{JobFigures, KernelTrace, Run};

/// The kernel's command line for a scenario's machine, or why the kernel cannot run it.
pub fn boot_config(
    cfg: &CpuConfig,
    tick: Time,
    fault: Option<Fault>,
) -> Result<BootConfig, String> {
    if cfg.cpus != 1 {
        return Err(format!(
            "the kernel runs one CPU and this machine has {} (`cpus {}`); run it with `sim run`",
            cfg.cpus, cfg.cpus
        ));
    }
    if cfg.per_cpu_queues {
        return Err("the kernel runs one CPU: `per_cpu_queues` has nothing to split".into());
    }
    if cfg.bandwidth.is_some_and(|b| b.limits()) {
        return Err(
            "the kernel has no CPU bandwidth control: remove `quota` to run it there (`native run` without --target kernel runs it under a cgroup)"
                .into(),
        );
    }
    if cfg.machine.migration_cost > 0 {
        return Err(
            "the kernel does not emulate cache warmth: remove `migration_cost` to run it there"
                .into(),
        );
    }
    if cfg.jobs.len() > BootConfig::MAX_JOBS {
        return Err(format!(
            "the kernel runs at most {} jobs and this mix has {}",
            BootConfig::MAX_JOBS,
            cfg.jobs.len()
        ));
    }
    let jobs = cfg
        .jobs
        .iter()
        .map(|j| BootJob {
            arrival: j.arrival,
            cpu: j.cpu,
            io_every: j.io_every,
            io: j.io,
            tickets: j.tickets,
            nice: j.nice,
        })
        .collect();
    Ok(BootConfig {
        policy: cfg.policy.clone(),
        context_switch: cfg.machine.context_switch,
        tick,
        jobs,
        fault,
    })
}

/// The simulator's run of the same mix: its stretches and each job's figures.
pub struct Simulated {
    pub segments: Vec<Segment>,
    pub jobs: Vec<JobStats>,
}

pub fn simulate(cfg: &CpuConfig) -> Result<Simulated, String> {
    let mut m = build_machine(cfg)?;
    m.run_to_end();
    if !m.finished() {
        return Err("the simulated machine did not finish every job".into());
    }
    Ok(Simulated {
        segments: m.segments().to_vec(),
        jobs: m.stats().copied().collect(),
    })
}

/// Stretches listed side by side; the differences below cover them all.
const MAX_ROWS: usize = 60;

/// Milliseconds with microsecond digits: the kernel's differences are often microseconds.
fn ms(ns: Time) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

/// A signed difference (kernel − simulator) in ms.
fn delta(kernel: Time, sim: Time) -> String {
    let d = kernel as f64 - sim as f64;
    format!("{:+.3}", d / 1e6)
}

/// The three per-job figures, kernel and simulator.
fn figures(k: &JobFigures, s: &JobStats) -> [(Time, Time); 3] {
    [
        (k.response(), s.response().unwrap_or(0)),
        (k.turnaround(), s.turnaround().unwrap_or(0)),
        (k.wait, s.wait),
    ]
}

/// The comparison, as the lines `native run --target kernel` prints.
pub fn report(cfg: &CpuConfig, kernel: &KernelTrace, sim: &Simulated) -> Vec<String> {
    let mut out = Vec::new();
    let name_width = cfg
        .jobs
        .iter()
        .map(|j| j.name.len())
        .max()
        .unwrap_or(3)
        .max(7);
    let job_name = |id: u32| cfg.jobs.get(id as usize).map_or("?", |j| j.name.as_str());
    out.push(format!(
        "  {:<w$}  {:>26}  {:>26}  {:>26}",
        "per job (ms)",
        "response",
        "turnaround",
        "wait",
        w = name_width + 11
    ));
    let sub = format!("  {:>9} {:>7} {:>8}", "kernel", "sim", "diff");
    out.push(format!("  {:<w$}{sub}{sub}{sub}", "", w = name_width + 11));
    let mut sums = [(0u128, 0u128); 3];
    for (i, (k, s)) in kernel.jobs.iter().zip(&sim.jobs).enumerate() {
        let mut line = format!("  {:<w$}", job_name(i as u32), w = name_width + 11);
        for (f, (kv, sv)) in figures(k, s).into_iter().enumerate() {
            sums[f].0 += u128::from(kv);
            sums[f].1 += u128::from(sv);
            line.push_str(&format!(
                "  {:>9} {:>7} {:>8}",
                ms(kv),
                ms(sv),
                delta(kv, sv)
            ));
        }
        out.push(line);
    }
    let n = kernel.jobs.len().max(1) as u128;
    let mut line = format!("  {:<w$}", "mean", w = name_width + 11);
    for (k, s) in sums {
        let (k, s) = ((k / n) as Time, (s / n) as Time);
        line.push_str(&format!("  {:>9} {:>7} {:>8}", ms(k), ms(s), delta(k, s)));
    }
    out.push(line);

    out.push(String::new());
    out.push("schedule (ms)".to_string());
    out.push(format!(
        "  {:>4} {:<w$}| simulator",
        "",
        "kernel",
        w = 34 + name_width
    ));
    let rows = kernel.runs.len().max(sim.segments.len());
    for i in 0..rows.min(MAX_ROWS) {
        let left = kernel.runs.get(i).map_or(String::new(), |r| {
            format!(
                "{:>10} {:>10}  {:<w$} {:<9}",
                ms(r.start),
                ms(r.end),
                job_name(r.job),
                stop_name(r.stop),
                w = name_width
            )
        });
        let right = sim.segments.get(i).map_or(String::new(), |s| {
            format!("{:>10} {:>10}  {}", ms(s.start), ms(s.end), job_name(s.job))
        });
        out.push(format!(
            "  {:>4} {left:<w$}| {right}",
            i + 1,
            w = 34 + name_width
        ));
    }
    if rows > MAX_ROWS {
        out.push(format!(
            "  ... {} more (--save-trace FILE keeps the kernel's whole schedule)",
            rows - MAX_ROWS
        ));
    }
    out.push(String::new());
    out.extend(differences(cfg, kernel, sim));
    out
}

/// Which job ran when, with runs of one job back to back merged: the order a person compares.
fn order(runs: impl Iterator<Item = (u32, Time, Time)>) -> Vec<(u32, Time, Time)> {
    let mut merged: Vec<(u32, Time, Time)> = Vec::new();
    for (job, start, end) in runs {
        match merged.last_mut() {
            Some(last) if last.0 == job => last.2 = end,
            _ => merged.push((job, start, end)),
        }
    }
    merged
}

/// What differs between the two schedules, in words.
pub fn differences(cfg: &CpuConfig, kernel: &KernelTrace, sim: &Simulated) -> Vec<String> {
    let job_name = |id: u32| cfg.jobs.get(id as usize).map_or("?", |j| j.name.as_str());
    let k = order(kernel.runs.iter().map(|r: &Run| (r.job, r.start, r.end)));
    let s = order(sim.segments.iter().map(|g| (g.job, g.start, g.end)));
    let mut out = vec!["differences".to_string()];
    match k.iter().zip(&s).position(|(a, b)| a.0 != b.0) {
        None if k.len() == s.len() => {
            let worst = k
                .iter()
                .zip(&s)
                .map(|(a, b)| a.1.abs_diff(b.1).max(a.2.abs_diff(b.2)))
                .max()
                .unwrap_or(0);
            out.push(format!(
                "  the same order of jobs on the CPU ({} stretches); boundaries differ by at most {} ms",
                k.len(),
                ms(worst)
            ));
        }
        None => out.push(format!(
            "  the same order for the first {} stretches, then the {} has {} more",
            k.len().min(s.len()),
            if k.len() > s.len() { "kernel" } else { "simulator" },
            k.len().abs_diff(s.len())
        )),
        Some(i) => out.push(format!(
            "  the order differs from stretch {}: the kernel ran {} at {} ms, the simulator {} at {} ms",
            i + 1,
            job_name(k[i].0),
            ms(k[i].1),
            job_name(s[i].0),
            ms(s[i].1)
        )),
    }
    let mut k_first: Vec<(Time, u32)> = kernel
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.first_run, i as u32))
        .collect();
    let mut s_first: Vec<(Time, u32)> = sim
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.first_run.unwrap_or(0), i as u32))
        .collect();
    k_first.sort_unstable();
    s_first.sort_unstable();
    let names = |v: &[(Time, u32)]| {
        v.iter()
            .map(|&(_, j)| job_name(j))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if names(&k_first) == names(&s_first) {
        out.push(format!(
            "  jobs first ran in the same order: {}",
            names(&k_first)
        ));
    } else {
        out.push(format!(
            "  jobs first ran in another order: kernel {}, simulator {}",
            names(&k_first),
            names(&s_first)
        ));
    }
    let slivers = kernel
        .runs
        .iter()
        .filter(|r| r.end - r.start < kernel.tick / 10)
        .count();
    if slivers > 0 {
        out.push(format!(
            "  {slivers} kernel stretches were shorter than a tenth of a tick: a job got the CPU \
             just before a tick that took it away again (a wake-up that preempted it, a slice's end)"
        ));
    }
    let makespan_sim = sim
        .jobs
        .iter()
        .filter_map(|j| j.completion)
        .max()
        .unwrap_or(0);
    out.push(format!(
        "  makespan {} ms in the kernel, {} ms in the simulator ({} ms)",
        ms(kernel.end),
        ms(makespan_sim),
        delta(kernel.end, makespan_sim)
    ));
    out.push(format!(
        "  the kernel took {} ticks, {} context switches and {} scheduling decisions",
        kernel.ticks, kernel.switches, kernel.decisions
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::cpu::PolicyConfig;
    use models::cpu::model::JobConfig;
    use sched::Stop;
    use sched::machine::MachineConfig;

    const MS: Time = 1_000_000;

    fn job(name: &str, arrival: Time, cpu: Time) -> JobConfig {
        JobConfig {
            name: name.into(),
            report: true,
            arrival,
            cpu,
            io_every: None,
            io: 0,
            tickets: 100,
            nice: 0,
            pin: None,
        }
    }

    fn machine(policy: PolicyConfig, jobs: Vec<JobConfig>) -> CpuConfig {
        CpuConfig {
            name: "machine".into(),
            policy,
            cpus: 1,
            per_cpu_queues: false,
            steal: false,
            machine: MachineConfig {
                cpus: 1,
                ..MachineConfig::default()
            },
            jobs,
            bandwidth: None,
            requests: Vec::new(),
        }
    }

    /// OSTEP's convoy: a long job ahead of two short ones, under FIFO.
    fn convoy() -> CpuConfig {
        machine(
            PolicyConfig::Fifo,
            vec![
                job("a", 0, 100 * MS),
                job("b", 0, 10 * MS),
                job("c", 0, 10 * MS),
            ],
        )
    }

    /// A kernel trace that ran the jobs back to back, as FIFO would, with `late` added to
    /// every boundary after the first.
    fn fifo_trace(cfg: &CpuConfig, order: &[u32], late: Time) -> KernelTrace {
        let mut t = 0;
        let mut runs = Vec::new();
        let mut jobs = vec![None; cfg.jobs.len()];
        for &j in order {
            let c = &cfg.jobs[j as usize];
            let start = t;
            t += c.cpu + late;
            runs.push(Run {
                job: j,
                start,
                end: t,
                stop: Stop::Finished,
            });
            jobs[j as usize] = Some(JobFigures {
                arrival: c.arrival,
                first_run: start,
                completion: t,
                cpu: c.cpu,
                wait: start - c.arrival,
                work: 1,
            });
        }
        KernelTrace {
            policy: "fifo".into(),
            tick: MS,
            tsc_hz: 1_000_000_000,
            runs,
            jobs: jobs.into_iter().map(Option::unwrap).collect(),
            end: t,
            ticks: t / MS,
            switches: order.len() as u64,
            decisions: order.len() as u64,
        }
    }

    #[test]
    fn the_command_line_carries_the_scenarios_mix_and_parses_back() {
        let mut cfg = machine(
            PolicyConfig::RoundRobin { quantum: 10 * MS },
            vec![job("a", 0, 50 * MS), job("b", 5 * MS, 20 * MS)],
        );
        cfg.jobs[1].io_every = Some(5 * MS);
        cfg.jobs[1].io = 2 * MS;
        cfg.jobs[1].nice = -3;
        cfg.machine.context_switch = MS;
        let boot = boot_config(&cfg, BootConfig::DEFAULT_TICK, Some(Fault::Panic)).unwrap();
        assert_eq!(BootConfig::parse(&boot.to_cmdline()), Ok(boot.clone()));
        assert_eq!(boot.context_switch, MS);
        assert_eq!(boot.jobs[1].io_every, Some(5 * MS));
        assert_eq!(boot.jobs[1].nice, -3);
        // The kernel's jobs are the simulator's: the same bursts.
        for (b, j) in boot.jobs.iter().zip(&cfg.jobs) {
            assert_eq!(b.spec().bursts, j.spec().bursts);
        }
    }

    #[test]
    fn machines_the_kernel_cannot_be_are_refused_with_the_reason() {
        let base = machine(PolicyConfig::Fifo, vec![job("a", 0, MS)]);
        let mut two = base.clone();
        two.cpus = 2;
        let mut per_cpu = base.clone();
        per_cpu.per_cpu_queues = true;
        let mut warm = base.clone();
        warm.machine.migration_cost = MS;
        let mut many = base.clone();
        many.jobs = vec![job("a", 0, MS); BootConfig::MAX_JOBS + 1];
        for (cfg, says) in [
            (two, "runs one CPU and this machine has 2"),
            (per_cpu, "per_cpu_queues"),
            (warm, "cache warmth"),
            (many, "at most 256 jobs"),
        ] {
            let e = boot_config(&cfg, BootConfig::DEFAULT_TICK, None).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn the_same_schedule_is_called_the_same_and_a_late_kernel_shows_its_lateness() {
        let cfg = convoy();
        let sim = simulate(&cfg).unwrap();
        let exact = fifo_trace(&cfg, &[0, 1, 2], 0);
        let text = report(&cfg, &exact, &sim).join("\n");
        assert!(
            text.contains("the same order of jobs on the CPU (3 stretches); boundaries differ by at most 0.000 ms"),
            "{text}"
        );
        assert!(
            text.contains("jobs first ran in the same order: a b c"),
            "{text}"
        );
        let late = fifo_trace(&cfg, &[0, 1, 2], 20_000);
        let text = report(&cfg, &late, &sim).join("\n");
        assert!(text.contains("differ by at most 0.060 ms"), "{text}");
        assert!(text.contains("(+0.060 ms)"), "{text}");
        // c's turnaround: 120.060 in the kernel, 120 in the simulator.
        let c = text
            .lines()
            .find(|l| l.trim_start().starts_with("c "))
            .unwrap();
        assert!(c.contains("120.060") && c.contains("+0.060"), "{c}");
    }

    #[test]
    fn another_order_is_named_where_it_starts() {
        let cfg = convoy();
        let sim = simulate(&cfg).unwrap();
        let swapped = fifo_trace(&cfg, &[0, 2, 1], 0);
        let text = differences(&cfg, &swapped, &sim).join("\n");
        assert!(
            text.contains(
                "the order differs from stretch 2: the kernel ran c at 100.000 ms, the simulator b at 100.000 ms"
            ),
            "{text}"
        );
        assert!(
            text.contains("jobs first ran in another order: kernel a c b, simulator a b c"),
            "{text}"
        );
    }
}

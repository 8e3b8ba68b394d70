//! A checked scenario with `cpu` and `job` blocks to the CPU scheduling model's configuration.

use models::cpu::model::{BandwidthConfig, CpuConfig, JobConfig, PolicyConfig, RequestGroup};
use sched::machine::MachineConfig;

use simcore::Dist;
use simcore::rng::RngStream;

use crate::check::{Checked, CheckedBlock, Typed};
use crate::diag::Diagnostic;

const MS: u64 = 1_000_000;

/// The most CPU and I/O bursts one job, and all jobs together, may have (each is stored).
const MAX_BURSTS: u64 = 2_000_000;
const MAX_TOTAL_BURSTS: u64 = 20_000_000;

/// The longest duration (and mean of a distribution) the CPU model takes: 100 days.
const MAX_NS: u64 = 100 * 86_400 * 1_000_000_000;

/// The jobs a `jobs` block draws, from the stream `cpu.jobs.NAME` of the run's seed: arrivals
/// one interarrival apart from 0, and per arrival its CPU time, I/O period and I/O length. With
/// `threads N`, each arrival is a request of N jobs alike (one draw for all), numbered
/// together; the requests are returned for their latency.
fn drawn(b: &CheckedBlock, seed: u64, jobs: &mut Vec<JobConfig>) -> RequestGroup {
    let mut rng = RngStream::derive(seed, &format!("cpu.jobs.{}", b.name));
    let n = b.count("count").unwrap_or(1);
    let threads = b.count("threads").unwrap_or(1).max(1);
    let group = RequestGroup {
        name: b.name.clone(),
        first: jobs.len() as u32,
        count: n as u32,
        threads: threads as u32,
    };
    let mut at = 0u64;
    let draw = |d: Option<&Dist>, rng: &mut RngStream| -> Option<u64> {
        d.map(|d| d.sample(rng).clamp(0.0, MAX_NS as f64).round() as u64)
    };
    for k in 0..n {
        if k > 0 {
            at = at.saturating_add(draw(b.dist("interarrival"), &mut rng).unwrap_or(0));
        }
        let cpu = draw(b.dist("cpu"), &mut rng).unwrap_or(1).max(1);
        let io_every = draw(b.dist("io_every"), &mut rng).filter(|&e| e > 0);
        let io = draw(b.dist("io"), &mut rng).unwrap_or(0);
        for t in 0..threads {
            jobs.push(JobConfig {
                name: match threads {
                    1 => format!("{}-{}", b.name, k + 1),
                    _ => format!("{}-{}.{}", b.name, k + 1, t + 1),
                },
                report: false,
                arrival: at,
                cpu,
                io_every,
                io,
                tickets: b.count("tickets").unwrap_or(100) as u32,
                nice: match b.get("nice") {
                    Some(Typed::Float(f)) => f.round() as i8,
                    _ => 0,
                },
                pin: None,
            });
        }
    }
    group
}

/// The machine's CFS bandwidth control, if the block sets `quota` or `period`: a quota of 0 is
/// no limit (the figures are still reported, as zeros); a period is 1 ms to 1 s and a quota at
/// least 1 ms, as Linux takes them (`cpu.cfs_period_us`, `cpu.cfs_quota_us`).
fn bandwidth(cpu: &CheckedBlock, errors: &mut Vec<Diagnostic>) -> Option<BandwidthConfig> {
    let (quota, period) = (cpu.nanos("quota"), cpu.nanos("period"));
    if quota.is_none() && period.is_none() {
        return None;
    }
    let config = BandwidthConfig {
        quota: quota.unwrap_or(0),
        period: period.unwrap_or(BandwidthConfig::DEFAULT_PERIOD),
    };
    let span = |prop: &str| cpu.props.get(prop).map_or(cpu.span, |p| p.1);
    if !(MS..=1000 * MS).contains(&config.period) {
        errors.push(
            Diagnostic::at(&cpu.file, span("period"), "a period must be 1ms to 1s")
                .hint("Linux's cpu.cfs_period_us takes 1000 to 1000000; its default is 100ms"),
        );
    }
    if config.quota > 0 && config.quota < MS {
        errors.push(
            Diagnostic::at(&cpu.file, span("quota"), "a quota below 1ms")
                .hint("Linux's cpu.cfs_quota_us takes at least 1000; `quota 0s` is no limit"),
        );
    }
    Some(config)
}

/// The CPU model's configuration; `seed` seeds the lottery.
pub fn wire_cpu(checked: &Checked, seed: u64) -> Result<CpuConfig, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let cpus: Vec<&CheckedBlock> = checked
        .blocks
        .iter()
        .filter(|b| b.spec.kind == "cpu")
        .collect();
    let Some(cpu) = cpus.first() else {
        let b = &checked.blocks[0];
        return Err(vec![
            Diagnostic::at(&b.file, b.span, "jobs need a `cpu` block to run on")
                .hint("add `cpu machine { policy rr }`"),
        ]);
    };
    for extra in cpus.iter().skip(1) {
        errors.push(
            Diagnostic::at(&extra.file, extra.span, "a second `cpu` block")
                .hint("a scenario runs one machine; give it several CPUs with `cpus N`, or declare hosts (`host a..c { }`) and place jobs on them"),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    machine(checked, cpu, |b| b.placement.is_empty(), true, seed)
}

/// The machine a `cpu` or `host` block describes (its policy, CPUs and costs), with the `job`
/// and `jobs` blocks `on` accepts; `need_jobs` refuses a machine with none (a host's CPU may
/// serve only its services' processes). Named after the block.
pub fn machine(
    checked: &Checked,
    cpu: &CheckedBlock,
    on: impl Fn(&CheckedBlock) -> bool,
    need_jobs: bool,
    seed: u64,
) -> Result<CpuConfig, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let quantum = cpu.nanos("quantum").unwrap_or(10 * MS);
    if quantum == 0 {
        let span = cpu.props.get("quantum").map_or(cpu.span, |p| p.1);
        errors.push(
            Diagnostic::at(
                &cpu.file,
                span,
                "a zero quantum would never let time advance",
            )
            .hint("use a positive slice such as 10ms"),
        );
    }
    // A `cpu` block's policy defaults to FIFO (the textbook's start), a host's to CFS (Linux's).
    let default = if cpu.spec.kind == "host" {
        "cfs"
    } else {
        "fifo"
    };
    let policy = match cpu.get("policy") {
        Some(Typed::Choice(p)) => p.as_str(),
        _ => default,
    };
    let policy = match policy {
        "fifo" => PolicyConfig::Fifo,
        "sjf" => PolicyConfig::Sjf,
        "stcf" => PolicyConfig::Stcf,
        "rr" => PolicyConfig::RoundRobin { quantum },
        "mlfq" => {
            let factor = cpu.count("quantum_factor").unwrap_or(2);
            PolicyConfig::Mlfq {
                levels: cpu.count("levels").unwrap_or(3) as u32,
                quantum,
                allotment: cpu.nanos("allotment").unwrap_or(quantum.saturating_mul(2)),
                factor,
                boost: cpu.nanos("boost").filter(|&b| b > 0),
                io_resets_allotment: cpu.flag("io_resets_allotment"),
            }
        }
        "lottery" => PolicyConfig::Lottery { quantum, seed },
        "stride" => PolicyConfig::Stride { quantum },
        "cfs" => PolicyConfig::Cfs {
            target_latency: cpu.nanos("target_latency").unwrap_or(48 * MS),
            min_granularity: cpu.nanos("min_granularity").unwrap_or(6 * MS),
        },
        _ => PolicyConfig::Fifo,
    };
    if cpu.nanos("allotment") == Some(0) {
        let span = cpu.props.get("allotment").map_or(cpu.span, |p| p.1);
        errors.push(
            Diagnostic::at(&cpu.file, span, "an MLFQ allotment must be positive")
                .hint("the CPU time a job may use in the top queue, such as 20ms"),
        );
    }
    if cpu.flag("steal") && !cpu.flag("per_cpu_queues") {
        let span = cpu.props.get("steal").map_or(cpu.span, |p| p.1);
        errors.push(
            Diagnostic::at(&cpu.file, span, "stealing needs per-CPU run queues")
                .hint("add `per_cpu_queues true` (one shared queue has nothing to steal from)"),
        );
    }
    // Bounds that keep every policy's arithmetic far from overflow.
    let mine = |b: &&CheckedBlock| {
        std::ptr::eq(*b, cpu) || (matches!(b.spec.kind, "job" | "jobs") && on(b))
    };
    for b in checked.blocks.iter().filter(mine) {
        for (prop, (value, span)) in &b.props {
            let too_long = match value {
                Typed::Duration(d) => d.as_nanos() > MAX_NS,
                Typed::Dist(d) => d.mean().is_some_and(|m| m > MAX_NS as f64),
                _ => false,
            };
            if too_long {
                errors.push(
                    Diagnostic::at(&b.file, *span, format!("`{prop}` is longer than 100 days"))
                        .hint("the CPU model takes durations up to 100 days"),
                );
            }
        }
    }
    let n = cpu.count("cpus").unwrap_or(1) as u32;
    let mut jobs = Vec::new();
    for b in checked
        .blocks
        .iter()
        .filter(|b| b.spec.kind == "job" && on(b))
    {
        let pin = b.count("pin").map(|c| c as u32);
        if let Some(p) = pin.filter(|&p| p >= n) {
            let span = b.props.get("pin").map_or(b.span, |p| p.1);
            errors.push(
                Diagnostic::at(&b.file, span, format!("CPU {p} does not exist"))
                    .hint(format!("the machine has CPUs 0 to {}", n - 1)),
            );
        }
        jobs.push(JobConfig {
            name: b.name.clone(),
            report: true,
            arrival: b.nanos("arrival").unwrap_or(0),
            cpu: b.nanos("cpu").unwrap_or(0),
            io_every: b.nanos("io_every"),
            io: b.nanos("io").unwrap_or(0),
            tickets: b.count("tickets").unwrap_or(100) as u32,
            nice: match b.get("nice") {
                Some(Typed::Float(f)) => f.round() as i8,
                _ => 0,
            },
            pin,
        });
        if b.nanos("cpu") == Some(0) {
            let span = b.props.get("cpu").map_or(b.span, |p| p.1);
            errors.push(Diagnostic::at(&b.file, span, "a job needs some CPU time"));
        }
    }
    let mut requests = Vec::new();
    for b in checked
        .blocks
        .iter()
        .filter(|b| b.spec.kind == "jobs" && on(b))
    {
        requests.push(drawn(b, seed, &mut jobs));
    }
    let bandwidth = bandwidth(cpu, &mut errors);
    // Each I/O period is a stored burst: bound them, per job and in all.
    let bursts = |j: &JobConfig| j.io_every.map_or(1, |e| j.cpu.div_ceil(e.max(1)) * 2);
    let mut total = 0u64;
    for j in &jobs {
        let n = bursts(j);
        total = total.saturating_add(n);
        if n > MAX_BURSTS {
            let b = checked
                .blocks
                .iter()
                .find(|b| b.name == j.name || j.name.starts_with(&format!("{}-", b.name)))
                .unwrap_or(cpu);
            let span = b.props.get("io_every").map_or(b.span, |p| p.1);
            errors.push(
                Diagnostic::at(
                    &b.file,
                    span,
                    format!("job `{}` would do I/O {} times", j.name, n / 2),
                )
                .hint(format!(
                    "at most {} I/O periods per job: lengthen io_every or shorten cpu",
                    MAX_BURSTS / 2
                )),
            );
            break;
        }
    }
    if total > MAX_TOTAL_BURSTS && errors.is_empty() {
        errors.push(
            Diagnostic::at(
                &cpu.file,
                cpu.span,
                format!("the jobs add up to {total} CPU and I/O bursts"),
            )
            .hint(format!(
                "at most {MAX_TOTAL_BURSTS}: fewer jobs, or longer io_every"
            )),
        );
    }
    if jobs.is_empty() && need_jobs {
        errors.push(Diagnostic::at(&cpu.file, cpu.span, "no jobs to run").hint(
            "add `job a { cpu 100ms }` blocks, or `jobs batch { count 100  cpu exp(10ms) }`",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CpuConfig {
        name: cpu.name.clone(),
        policy,
        cpus: n,
        per_cpu_queues: cpu.flag("per_cpu_queues"),
        steal: cpu.flag("steal"),
        machine: MachineConfig {
            cpus: n,
            context_switch: cpu.nanos("context_switch").unwrap_or(0),
            migration_cost: cpu.nanos("migration_cost").unwrap_or(0),
            warm_window: cpu.nanos("warm_window").unwrap_or(10 * MS),
        },
        jobs,
        bandwidth,
        requests,
    })
}

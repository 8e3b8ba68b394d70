//! Scheduling decisions per second with 10^4 runnable jobs, for each policy of the `sched`
//! crate: the policy alone (the hot path a kernel runs), then the same policy through
//! `sched::machine::Machine` (the whole driver), so that the driver's overhead shows.
//!
//! - **Policy alone.** 10,000 jobs are enqueued (always runnable, far too long to finish); then
//!   a loop of N decisions is timed, each decision `pick(cpu, now)` followed by
//!   `stopped(job, cpu, ran, now, Stop::Expired)`, `now` advancing by `ran`: the slice the
//!   policy gave, or one quantum (1 ms) for the policies that give none (fifo, sjf, stcf), as if
//!   a timer tick had stopped the job. One CPU, except per-CPU round robin, whose decisions go
//!   to CPUs 0, 1, 2, 3 in turn. The enqueues are timed apart.
//! - **Through the Machine.** The same 10,000 jobs on 1 CPU (4 for per-CPU round robin), no
//!   context-switch or migration cost, run for a fixed simulated time (N quanta, divided by the
//!   CPUs); decisions counted by `Machine::decisions()`. The arrivals' instant (10,000 enqueues)
//!   is stepped before the clock starts. A policy that gives no slice is wrapped in [`Ticked`],
//!   which gives it one quantum, so that the Machine stops its jobs as the loop above does.
//!
//! Each is a warm-up, then three timed runs on fresh state; the median is reported, with the
//! spread. Lottery and stride do O(n) work per decision (see BENCHMARKS.md) and run N / 1000
//! and N / 100 decisions (at least 100), so that a run takes at most about half a second.
//! Timings are reported, never asserted; what is asserted is that every decision found a job
//! and that all 10,000 jobs are still in the system at the end.
//!
//! `cargo bench -p sim-benches --bench sched` (about 10 s after the build). `-- --quick`:
//! N = 10^4, for CI (about 1 s). `SIM_BENCH_DECISIONS` sets N (default 10^6). Other
//! arguments select policies by name (`-- cfs stride per-cpu`).

use std::time::{Duration, Instant};

use sched::machine::{JobSpec, Machine, MachineConfig};
use sched::{
    Cfs, CpuId, Dispatch, Fifo, Job, JobId, Lottery, Mlfq, MlfqConfig, PerCpu, Policy, RoundRobin,
    Sjf, Stcf, Stealing, Stop, Stride, Time, Wake,
};

const JOBS: usize = 10_000;
const QUANTUM_NS: Time = 1_000_000;
/// About 13 days of CPU each: no job finishes in any run.
const JOB_LENGTH_NS: Time = 1 << 50;
const REPS: usize = 3;
const DECISIONS_DEFAULT: u64 = 1_000_000;
const DECISIONS_QUICK: u64 = 10_000;
/// The fewest decisions a run makes when N is divided (lottery and stride, below).
const DECISIONS_MIN: u64 = 100;

/// Gives a quantum to a policy that gives no slice, as a timer tick would; otherwise passes
/// every call through.
struct Ticked<P>(P);

impl<P: Policy> Policy for Ticked<P> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn enqueue(&mut self, job: &Job, now: Time, wake: Wake) {
        self.0.enqueue(job, now, wake);
    }
    fn pick(&mut self, cpu: CpuId, now: Time) -> Option<Dispatch> {
        self.0.pick(cpu, now).map(|d| Dispatch {
            job: d.job,
            slice: Some(d.slice.unwrap_or(QUANTUM_NS)),
        })
    }
    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, now: Time, stop: Stop) {
        self.0.stopped(job, cpu, ran, now, stop);
    }
    fn preempt(&mut self, running: &Job, cpu: CpuId, ran: Time, now: Time) -> bool {
        self.0.preempt(running, cpu, ran, now)
    }
    fn wake_at(&self) -> Option<Time> {
        self.0.wake_at()
    }
    fn timer(&mut self, now: Time) {
        self.0.timer(now);
    }
    fn runnable(&self) -> usize {
        self.0.runnable()
    }
    fn steal(&mut self, cpu: CpuId, now: Time) -> Option<JobId> {
        self.0.steal(cpu, now)
    }
}

/// The jobs, id = index: 100 tickets, nice 0, any CPU, all arriving at 0.
fn jobs() -> Vec<Job> {
    (0..JOBS as JobId)
        .map(|id| Job::new(id, 0, JOB_LENGTH_NS))
        .collect()
}

/// One timed run of the policy alone: the enqueues' time, the loop's time, and the policy as
/// the loop left it. (The picked ids are summed into a black box, so the loop cannot be
/// optimised away.)
fn policy_run<P: Policy>(
    make: &dyn Fn() -> P,
    jobs: &[Job],
    cpus: u32,
    decisions: u64,
) -> (Duration, Duration, P) {
    let mut p = make();
    let started = Instant::now();
    for job in jobs {
        p.enqueue(job, 0, Wake::Arrived);
    }
    let enqueue = started.elapsed();
    assert_eq!(p.runnable(), JOBS, "{}: every job enqueued", p.name());
    let mut now: Time = 0;
    let mut ids: u64 = 0;
    let started = Instant::now();
    for i in 0..decisions {
        let cpu = (i % u64::from(cpus)) as CpuId;
        let Some(d) = p.pick(cpu, now) else {
            panic!("{}: CPU {cpu} found nothing to run", p.name());
        };
        let ran = d.slice.unwrap_or(QUANTUM_NS);
        now += ran;
        p.stopped(&jobs[d.job as usize], cpu, ran, now, Stop::Expired);
        ids = ids.wrapping_add(u64::from(d.job));
    }
    let elapsed = started.elapsed();
    std::hint::black_box(ids);
    assert_eq!(p.runnable(), JOBS, "{}: every job still runnable", p.name());
    (enqueue, elapsed, p)
}

/// One timed run through the Machine: the loop's time and the decisions it made.
fn machine_run<P: Policy>(make: &dyn Fn() -> P, cpus: u32, sim_ns: Time) -> (Duration, u64) {
    let specs: Vec<JobSpec> = (0..JOBS).map(|_| JobSpec::cpu(0, JOB_LENGTH_NS)).collect();
    let config = MachineConfig {
        cpus,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(Ticked(make()), config, specs).expect("a valid machine");
    m.step(0); // the arrivals and the first picks, untimed
    let decisions_before = m.decisions();
    // Every step is at least one decision (a slice ends), and slices are at least 1 ns.
    let steps_max = sim_ns + 1;
    let mut steps: u64 = 0;
    let started = Instant::now();
    while let Some(t) = m.next_time() {
        if t > sim_ns {
            break;
        }
        m.step(t);
        steps += 1;
        assert!(steps <= steps_max, "the machine runs past its bound");
    }
    let elapsed = started.elapsed();
    let decisions = m.decisions() - decisions_before;
    assert!(!m.finished(), "no job finishes");
    assert_eq!(
        m.policy().runnable() + cpus as usize,
        JOBS,
        "every job but the running ones runnable"
    );
    (elapsed, decisions)
}

/// Median and spread of a few runs.
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(f64::total_cmp);
    Stats {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

fn rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Measures one policy both ways, with N / `divisor` decisions, and prints its two rows;
/// returns the policy as the last timed run of the loop left it.
fn bench<P: Policy>(label: &str, cpus: u32, divisor: u64, n: u64, make: &dyn Fn() -> P) -> P {
    let decisions = if divisor > 1 {
        (n / divisor).max(DECISIONS_MIN)
    } else {
        n
    };
    let jobs = jobs();

    // The policy alone.
    let _ = policy_run(make, &jobs, cpus, decisions); // warm-up
    let mut rates = Vec::with_capacity(REPS);
    let mut enqueue_us = Vec::with_capacity(REPS);
    let mut last = None;
    for _ in 0..REPS {
        let (enqueue, elapsed, p) = policy_run(make, &jobs, cpus, decisions);
        rates.push(decisions as f64 / elapsed.as_secs_f64());
        enqueue_us.push(enqueue.as_secs_f64() * 1e6);
        last = Some(p);
    }
    let alone = stats(rates);
    let enqueue = stats(enqueue_us);
    println!(
        "{label:<14} {:<8} {decisions:>9} {:>12} {:>9.1} {:>22} {:>12.0}",
        "policy",
        rate(alone.median),
        1e9 / alone.median,
        format!("{}..{}", rate(alone.min), rate(alone.max)),
        enqueue.median,
    );

    // Through the Machine.
    let sim_ns = decisions * QUANTUM_NS / u64::from(cpus);
    let _ = machine_run(make, cpus, sim_ns); // warm-up
    let mut rates = Vec::with_capacity(REPS);
    let mut counts = Vec::with_capacity(REPS);
    for _ in 0..REPS {
        let (elapsed, count) = machine_run(make, cpus, sim_ns);
        rates.push(count as f64 / elapsed.as_secs_f64());
        counts.push(count);
    }
    assert!(
        counts.windows(2).all(|w| w[0] == w[1]),
        "{label}: the machine is deterministic"
    );
    let machine = stats(rates);
    let overhead_ns = 1e9 / machine.median - 1e9 / alone.median;
    println!(
        "{:<14} {:<8} {:>9} {:>12} {:>9.1} {:>22} {:>12} driver {overhead_ns:+.1} ns",
        "",
        "machine",
        counts[0],
        rate(machine.median),
        1e9 / machine.median,
        format!("{}..{}", rate(machine.min), rate(machine.max)),
        "",
    );
    last.expect("REPS > 0")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` asks benches to list themselves
    }
    let quick = args.iter().any(|a| a == "--quick");
    let n = match std::env::var("SIM_BENCH_DECISIONS") {
        Ok(s) => s
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("SIM_BENCH_DECISIONS={s}: expected a positive integer")),
        Err(_) if quick => DECISIONS_QUICK,
        Err(_) => DECISIONS_DEFAULT,
    };
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    // A filter names a policy: `rr` is round robin, `per-cpu` the per-CPU queues.
    let wanted = |name: &str| filters.is_empty() || filters.contains(&name);

    println!(
        "{JOBS} runnable jobs; N = {n} decisions (lottery N/1000, stride N/100, at least \
         {DECISIONS_MIN}); quantum 1 ms; median of {REPS} runs after a warm-up"
    );
    println!(
        "{:<14} {:<8} {:>9} {:>12} {:>9} {:>22} {:>12}",
        "policy",
        "path",
        "decisions",
        "decisions/s",
        "ns/dec",
        "spread of decisions/s",
        "enqueue us"
    );
    if wanted("fifo") {
        bench("fifo", 1, 1, n, &Fifo::new);
    }
    if wanted("sjf") {
        bench("sjf", 1, 1, n, &Sjf::new);
    }
    if wanted("stcf") {
        bench("stcf", 1, 1, n, &Stcf::new);
    }
    if wanted("rr") {
        bench("rr", 1, 1, n, &|| RoundRobin::new(QUANTUM_NS));
    }
    if wanted("mlfq") {
        // 3 levels: quanta 1, 2, 4 ms, allotments 2, 4, 8 ms; no boost.
        bench("mlfq", 1, 1, n, &|| {
            Mlfq::new(MlfqConfig::geometric(3, QUANTUM_NS, 2 * QUANTUM_NS, 2))
        });
    }
    if wanted("lottery") {
        bench("lottery", 1, 1000, n, &|| Lottery::new(QUANTUM_NS, 1));
    }
    if wanted("stride") {
        bench("stride", 1, 100, n, &|| Stride::new(QUANTUM_NS));
    }
    if wanted("cfs") {
        // Linux's defaults before EEVDF: 6 ms target latency, 0.75 ms minimum granularity.
        bench("cfs", 1, 1, n, &|| Cfs::new(6 * QUANTUM_NS, 750_000));
    }
    if wanted("per-cpu") {
        let p = bench("per-cpu rr x4", 4, 1, n, &|| {
            PerCpu::new(4, Stealing::On, |_| RoundRobin::new(QUANTUM_NS))
        });
        // Every queue holds 2,500 jobs and never runs dry, so no CPU ever tries to steal.
        println!("per-cpu rr x4: {} steals in the loop", p.steals());
    }
}

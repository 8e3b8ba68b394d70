//! The scheduler: the driver of `sched`'s contract on real hardware. The timer interrupt and the
//! tasks' system calls enter here with the interrupted context's [`Frame`]; the driver tells the
//! policy what happened, asks it what runs next, and switches frames when that is another task.
//!
//! # What happens at a tick (the same order as `sched::machine::Machine::step`)
//! 1. I/O completions that are due (by time, then job), then arrivals that are due: enqueued.
//!    "Due" means at or before now: a tick never wakes anything early.
//! 2. The running job's slice ends if it has run to within half a tick of the slice (slices are
//!    counted in ticks): `Stop::Expired`.
//! 3. The policy's timer, if it asked for a time that has come (MLFQ's boost).
//! 4. An idle CPU picks; a busy one, if jobs woke or the policy's timer ran and the policy says
//!    so, is preempted and picks.
//!
//! All of that happens at the tick's time (`clock::tick_now`), k × tick; a system call happens
//! at the TSC-interpolated time in between.
//!
//! A job whose burst has less than half a tick left is left running at a tick: it is about to
//! block or finish by its own system call, and stopping it as expired would send it round the
//! queue for a sliver. This is the simulator's tie rule (a burst and a slice that end at one
//! instant end as the burst) under the tick's rounding: the slice's end was rounded to this
//! tick, and the burst's end is within the same half tick.
//!
//! # System calls
//! `SYS_IO(d)`: the job stops (`Blocked`) and is woken by the first tick at or after now + d.
//! `SYS_EXIT`: the job stops (`Finished`). Either way the CPU picks at once. `SYS_START`, from the
//! boot context, starts the mix at time 0.
//!
//! # Context switch cost
//! The mix's `switch=` cost is spent on real CPU time: a job dispatched after another starts its
//! account that much later, so the time goes to no job, as in the simulator's machine. The real
//! cost of the switch (the handler, the frame copy) comes on top and is what the comparison shows.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::cell::UnsafeCell;

use sched::boot::{BootConfig, Fault};
use sched::ktrace::Record;
use sched::machine::{Burst, JobSpec, pop_due};
use sched::{JobId, Policy, Stop, Time, Wake};

use crate::interrupts::Frame;
use crate::job::{self, SYS_EXIT, SYS_IO, SYS_START};
use crate::{clock, exit, sprintln, trace};

/// Each task's stack.
const STACK_SIZE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotArrived,
    Ready { since: Time },
    Running,
    Io,
    Done,
}

struct Task {
    spec: JobSpec,
    frame: Frame,
    /// Owned here for the task's life; the frame's RSP points into it.
    _stack: Box<[u8]>,
    state: State,
    /// CPU time of the runs that have ended.
    cpu: Time,
    /// When the current run's account started (after the switch cost) and its slice.
    start: Time,
    slice: Option<Time>,
    /// The CPU time at which the job's current burst ends, as the job itself said.
    target: Time,
    first_run: Option<Time>,
    completion: Option<Time>,
    wait: Time,
    work: u64,
}

struct Kernel {
    policy: Box<dyn Policy>,
    tick: Time,
    switch_cost: Time,
    fault: Option<Fault>,
    tasks: Vec<Task>,
    /// The job on the CPU; `None` is the idle context (the boot stack, in [`run`]).
    current: Option<JobId>,
    last_job: Option<JobId>,
    idle: Frame,
    arrivals: BTreeSet<(Time, JobId)>,
    io: BTreeSet<(Time, JobId)>,
    started: bool,
    done: usize,
    deadline: Time,
    ticks: u64,
    switches: u64,
    decisions: u64,
}

struct Global(UnsafeCell<Option<Kernel>>);

// SAFETY: one CPU; the kernel state is touched only with interrupts off (in handlers, or in
// task code inside `without_interrupts`).
unsafe impl Sync for Global {}

static KERNEL: Global = Global(UnsafeCell::new(None));

/// The kernel state. Only with interrupts off, and never two of these alive at once.
fn kernel() -> Option<&'static mut Kernel> {
    // SAFETY: see `Global`: callers run with interrupts off, one at a time.
    unsafe { (*KERNEL.0.get()).as_mut() }
}

/// Sets up one task per job and runs the mix; the boot context becomes the idle loop. Reports
/// and exits QEMU when every job has finished.
pub fn run(config: BootConfig, tsc_hz: u64) -> ! {
    let policy = match config.policy.build(0) {
        Ok(p) => p,
        Err(e) => exit::fail(format_args!("the policy cannot be built: {e}")),
    };
    let mut tasks = Vec::with_capacity(config.jobs.len());
    let mut arrivals = BTreeSet::new();
    let mut horizon: Time = 0;
    for (i, j) in config.jobs.iter().enumerate() {
        let id = i as JobId;
        let mut spec = j.spec();
        spec.job.id = id;
        let stack = alloc::vec![0u8; STACK_SIZE].into_boxed_slice();
        let top = stack.as_ptr() as u64 + STACK_SIZE as u64;
        let bursts = spec.bursts.len() as u64;
        let work: Time = spec
            .bursts
            .iter()
            .map(|b| match b {
                Burst::Cpu(d) | Burst::Io(d) => *d,
            })
            .sum();
        horizon = horizon
            .max(j.arrival)
            .saturating_add(work)
            .saturating_add(bursts.saturating_mul(config.context_switch + 2 * config.tick));
        arrivals.insert((j.arrival, id));
        tasks.push(Task {
            frame: Frame::new_task(job::job_main, u64::from(id), top),
            _stack: stack,
            spec,
            state: State::NotArrived,
            cpu: 0,
            start: 0,
            slice: None,
            target: 0,
            first_run: None,
            completion: None,
            wait: 0,
            work: 0,
        });
    }
    let policy_name = policy.name();
    // Generous: a run this late is stuck, whatever the policy.
    let deadline = horizon.saturating_mul(4).saturating_add(1_000_000_000);
    trace::push(Record::Boot {
        policy: policy_name.into(),
        jobs: tasks.len() as u32,
        tick: config.tick,
        tsc_hz,
    });
    // SAFETY: interrupts are off and no task runs yet.
    unsafe {
        *KERNEL.0.get() = Some(Kernel {
            policy,
            tick: config.tick,
            switch_cost: config.context_switch,
            fault: config.fault,
            tasks,
            current: None,
            last_job: None,
            idle: Frame::new_task(idle_never, 0, 0),
            arrivals,
            io: BTreeSet::new(),
            started: false,
            done: 0,
            deadline,
            ticks: 0,
            switches: 0,
            decisions: 0,
        });
    }
    sprintln!(
        "simk-log running {} jobs under {policy_name}, deadline {} ms",
        config.jobs.len(),
        deadline / 1_000_000
    );
    clock::start();
    job::syscall(SYS_START, 0);
    // The idle loop: back here whenever no job runs.
    loop {
        x86_64::instructions::interrupts::disable();
        if kernel().is_some_and(|k| k.done == k.tasks.len()) {
            report();
        }
        x86_64::instructions::interrupts::enable_and_hlt();
    }
}

/// A placeholder entry for the idle frame, which is always overwritten before it is used.
extern "C" fn idle_never(_: u64) -> ! {
    exit::fail(format_args!(
        "the idle context was entered before it was saved"
    ))
}

/// Prints the trace and exits QEMU: pass when every job ran its whole demand.
fn report() -> ! {
    let Some(k) = kernel() else {
        exit::fail(format_args!("no kernel state at the end"))
    };
    trace::print();
    for (i, t) in k.tasks.iter().enumerate() {
        let (Some(first_run), Some(completion)) = (t.first_run, t.completion) else {
            exit::fail(format_args!("job {i} never finished"));
        };
        if t.cpu < t.spec.job.length {
            exit::fail(format_args!(
                "job {i} finished with {} ns of CPU time of the {} it needs",
                t.cpu, t.spec.job.length
            ));
        }
        let r = Record::Job {
            job: i as JobId,
            arrival: t.spec.job.arrival,
            first_run,
            completion,
            cpu: t.cpu,
            wait: t.wait,
            work: t.work,
        };
        sprintln!("{r}");
    }
    let end = Record::End {
        // The last job's completion (every job has one: checked above).
        at: k
            .tasks
            .iter()
            .filter_map(|t| t.completion)
            .max()
            .unwrap_or(0),
        ticks: k.ticks,
        switches: k.switches,
        decisions: k.decisions,
    };
    sprintln!("{end}");
    sprintln!("{}", Record::Pass);
    exit::exit(exit::PASS)
}

impl Kernel {
    /// The running job's CPU time in its current run.
    fn ran(&self, job: JobId, now: Time) -> Time {
        now.saturating_sub(self.tasks[job as usize].start)
    }

    /// Whether the job's current burst ends within half a tick (or has ended, and the job is
    /// about to say so): see the module docs.
    fn nearly_done(&self, job: JobId, now: Time) -> bool {
        let t = &self.tasks[job as usize];
        t.cpu + self.ran(job, now) + self.tick / 2 > t.target
    }

    /// Enqueues due I/O completions, then due arrivals; whether any job woke.
    fn release(&mut self, now: Time) -> bool {
        let mut woke = false;
        while let Some(job) = pop_due(&mut self.io, now) {
            self.make_ready(job, now, Wake::IoDone);
            woke = true;
        }
        while let Some(job) = pop_due(&mut self.arrivals, now) {
            self.make_ready(job, now, Wake::Arrived);
            woke = true;
        }
        woke
    }

    fn make_ready(&mut self, job: JobId, now: Time, wake: Wake) {
        let t = &mut self.tasks[job as usize];
        debug_assert!(matches!(t.state, State::NotArrived | State::Io));
        t.state = State::Ready { since: now };
        let spec = t.spec.job;
        self.policy.enqueue(&spec, now, wake);
    }

    /// Stops the running job at `now` for `stop`.
    fn stop(&mut self, now: Time, stop: Stop) {
        let Some(job) = self.current.take() else {
            return;
        };
        let t = &mut self.tasks[job as usize];
        debug_assert_eq!(t.state, State::Running);
        let ran = now.saturating_sub(t.start);
        if now < t.start {
            // Stopped while still switching to it: the unspent switch was counted as waiting.
            t.wait -= t.start - now;
        }
        t.cpu += ran;
        if ran > 0 {
            trace::push(Record::Run {
                job,
                start: t.start,
                end: now,
                stop,
            });
        }
        t.state = match stop {
            Stop::Expired | Stop::Preempted => State::Ready { since: now },
            Stop::Blocked => State::Io,
            Stop::Finished => State::Done,
        };
        let spec = t.spec.job;
        self.policy.stopped(&spec, 0, ran, now, stop);
    }

    /// Asks the policy what runs next, and starts it (or leaves the CPU idle).
    fn dispatch(&mut self, now: Time) {
        debug_assert!(self.current.is_none());
        self.decisions += 1;
        let Some(d) = self.policy.pick(0, now) else {
            return;
        };
        let switch = if self.last_job == Some(d.job) {
            0
        } else {
            self.switches += 1;
            self.switch_cost
        };
        let Some(t) = self.tasks.get_mut(d.job as usize) else {
            exit::fail(format_args!(
                "the policy picked job {}, which does not exist",
                d.job
            ));
        };
        let State::Ready { since } = t.state else {
            exit::fail(format_args!(
                "the policy picked job {}, which is not runnable ({:?})",
                d.job, t.state
            ));
        };
        let start = now + switch;
        t.wait += start - since;
        t.first_run.get_or_insert(start);
        t.start = start;
        t.slice = d.slice;
        t.state = State::Running;
        self.current = Some(d.job);
        self.last_job = Some(d.job);
    }

    /// Saves the interrupted context and loads the one that runs now, if that changed.
    fn switch(&mut self, frame: &mut Frame, prev: Option<JobId>) {
        if self.current == prev {
            return;
        }
        match prev {
            Some(j) => self.tasks[j as usize].frame = *frame,
            None => self.idle = *frame,
        }
        let fx = frame.fx;
        *frame = match self.current {
            Some(j) => self.tasks[j as usize].frame,
            None => self.idle,
        };
        if self.fault == Some(Fault::LoseFpu) {
            // The injected bug: the next context runs on with the last one's FPU registers.
            frame.fx = fx;
        }
    }
}

/// The timer's part: see the module docs for the order.
pub fn on_tick(frame: &mut Frame) {
    let Some(k) = kernel() else { return };
    if !k.started || k.done == k.tasks.len() {
        return;
    }
    // The tick's time, not the TSC's: the handler's own latency is charged to the job that was
    // running (as tick-based kernels do), and runs between ticks are whole ticks, as the
    // policy's quanta are.
    let now = clock::tick_now();
    k.ticks += 1;
    if now > k.deadline {
        exit::fail(format_args!(
            "the mix has not finished by {} ms ({} of {} jobs done): stuck",
            now / 1_000_000,
            k.done,
            k.tasks.len()
        ));
    }
    let prev = k.current;
    let woke = k.release(now);
    if let Some(j) = k.current {
        let slice_over = k.tasks[j as usize]
            .slice
            .is_some_and(|s| k.ran(j, now) + k.tick / 2 >= s);
        if slice_over && !k.nearly_done(j, now) {
            k.stop(now, Stop::Expired);
        }
    }
    let timer = k.policy.wake_at().is_some_and(|t| t <= now);
    if timer {
        k.policy.timer(now);
    }
    match k.current {
        None => k.dispatch(now),
        Some(j) => {
            let ask = timer || (woke && k.policy.runnable() > 0);
            if ask && !k.nearly_done(j, now) {
                let ran = k.ran(j, now);
                let spec = k.tasks[j as usize].spec.job;
                if k.policy.preempt(&spec, 0, ran, now) {
                    k.stop(now, Stop::Preempted);
                    k.dispatch(now);
                }
            }
        }
    }
    k.switch(frame, prev);
}

/// A system call (`int 0x80`): RDI the call, RSI its argument.
pub fn on_syscall(frame: &mut Frame) {
    let Some(k) = kernel() else {
        exit::fail(format_args!("a system call before the kernel was set up"))
    };
    let now = clock::now();
    let prev = k.current;
    match frame.rdi {
        SYS_START if !k.started && prev.is_none() => {
            // Made just after a tick: the mix starts at that tick, time 0.
            let now = clock::tick_now();
            k.started = true;
            k.release(now);
            k.dispatch(now);
        }
        SYS_IO | SYS_EXIT => {
            let Some(j) = prev else {
                exit::fail(format_args!(
                    "system call {} from the idle context",
                    frame.rdi
                ))
            };
            if frame.rdi == SYS_IO {
                k.stop(now, Stop::Blocked);
                k.io.insert((now.saturating_add(frame.rsi), j));
            } else {
                k.tasks[j as usize].work = frame.rsi;
                k.stop(now, Stop::Finished);
                k.tasks[j as usize].completion = Some(now);
                k.done += 1;
            }
            if k.done < k.tasks.len() {
                k.dispatch(now);
            }
        }
        nr => exit::fail(format_args!("unknown system call {nr}")),
    }
    frame.rax = 0;
    k.switch(frame, prev);
}

/// A job's bursts and, for job 0, the fault to inject (read by the task at its start).
pub fn job_plan(job: JobId) -> (Vec<Burst>, Option<Fault>) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let Some(k) = kernel() else {
            exit::fail(format_args!("job {job} started without a kernel"))
        };
        let bursts = k.tasks[job as usize].spec.bursts.clone();
        (bursts, k.fault.filter(|_| job == 0))
    })
}

/// The job's CPU time so far, as the kernel accounts it.
pub fn cpu_time(job: JobId) -> Time {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let Some(k) = kernel() else { return 0 };
        let now = clock::now();
        let t = &k.tasks[job as usize];
        t.cpu + now.saturating_sub(t.start)
    })
}

/// The job says where its current burst ends (cumulative CPU time).
pub fn set_cpu_target(job: JobId, target: Time) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        if let Some(k) = kernel() {
            k.tasks[job as usize].target = target;
        }
    })
}

/// A finished task ran again: a kernel bug.
pub fn fail_from_task(job: JobId) -> ! {
    exit::fail(format_args!("job {job} ran after it finished"))
}

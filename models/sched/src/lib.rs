//! CPU scheduling policies as sans-IO state machines, `no_std` with `alloc`, so that the
//! simulator (`models::sched`) and the bare-metal kernel (`kernel/`) run the very same code.
//!
//! A policy only decides; a *driver* runs jobs. The driver tells the policy when a job becomes
//! runnable ([`Policy::enqueue`]), asks it what a CPU should run next ([`Policy::pick`]), tells
//! it when the running job stops and why ([`Policy::stopped`]), and, when a job becomes
//! runnable while CPUs are busy, asks whether to preempt ([`Policy::preempt`]). Time is a
//! count of nanoseconds the driver passes in; policies never read a clock. Randomised policies
//! (lottery) draw from their own seeded generator ([`rng::SplitMix64`]).
//!
//! The driver's contract, which every policy may rely on:
//! 1. A job is enqueued when it arrives and each time its I/O completes; it is never enqueued
//!    twice without being picked in between.
//! 2. `pick(cpu)` removes the job it returns from the runnable set; the job then runs on `cpu`
//!    until the slice returned with it ends (`Stop::Expired`), it blocks for I/O
//!    (`Stop::Blocked`), it finishes (`Stop::Finished`) or the driver preempts it because
//!    `preempt` said so (`Stop::Preempted`). Then `stopped` is called exactly once, with the
//!    CPU time it got (`ran`, excluding context-switch overhead). An expired or preempted job is
//!    still runnable and the policy keeps it (it is not enqueued again).
//! 3. The driver asks `preempt` about a running job when a job became runnable while CPUs were
//!    busy, and about every running job right after [`Policy::timer`] ran: a timer can end a
//!    running job's slice (MLFQ's boost gives it a fresh top-level one).
//! 4. Calls come in time order; ties are broken by the driver, deterministically.

#![no_std]

extern crate alloc;

pub mod basic;
pub mod boot;
pub mod cfs;
pub mod ktrace;
pub mod machine;
pub mod mlfq;
pub mod multi;
pub mod oracle;
pub mod rng;
pub mod share;
pub mod spec;

pub use basic::{Fifo, RoundRobin};
pub use cfs::Cfs;
pub use mlfq::{Level, Mlfq, MlfqConfig};
pub use multi::{PerCpu, Stealing};
pub use oracle::{Sjf, Stcf};
pub use share::{Lottery, Stride};

/// Nanoseconds.
pub type Time = u64;
pub type JobId = u32;
pub type CpuId = u32;

/// What a policy may know about a job. `length` is the job's total CPU demand: SJF and STCF
/// assume it is known in advance (as *Operating Systems: Three Easy Pieces* does); other
/// policies ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub arrival: Time,
    pub length: Time,
    /// Lottery and stride shares.
    pub tickets: u32,
    /// CFS-like niceness, -20 (most CPU) to 19.
    pub nice: i8,
    /// CPUs the job may run on, as a bit mask (bit k: CPU k); 0 means any.
    pub affinity: u64,
}

impl Job {
    /// A job with default shares (100 tickets, nice 0, any CPU).
    pub fn new(id: JobId, arrival: Time, length: Time) -> Self {
        Job {
            id,
            arrival,
            length,
            tickets: 100,
            nice: 0,
            affinity: 0,
        }
    }

    /// Whether the job may run on `cpu`.
    pub fn allows(&self, cpu: CpuId) -> bool {
        self.affinity == 0 || (cpu < 64 && self.affinity & (1 << cpu) != 0)
    }
}

/// Why a job became runnable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Arrived,
    /// Its I/O completed.
    IoDone,
}

/// Why a running job stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Its slice ran out; it is still runnable.
    Expired,
    /// The driver took the CPU away because [`Policy::preempt`] said so; still runnable.
    Preempted,
    /// It started I/O; it will be enqueued again with [`Wake::IoDone`].
    Blocked,
    Finished,
}

/// What to run on a CPU, and for how long at most (`None`: until it blocks or finishes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatch {
    pub job: JobId,
    pub slice: Option<Time>,
}

/// A scheduling policy. See the crate docs for the driver's contract.
pub trait Policy {
    /// A short name, for reports.
    fn name(&self) -> &'static str;

    /// `job` became runnable at `now`.
    fn enqueue(&mut self, job: &Job, now: Time, wake: Wake);

    /// What `cpu` runs next, removed from the runnable set; `None` leaves the CPU idle.
    fn pick(&mut self, cpu: CpuId, now: Time) -> Option<Dispatch>;

    /// The job that ran on `cpu` stopped at `now` after `ran` nanoseconds of CPU time.
    fn stopped(&mut self, job: &Job, cpu: CpuId, ran: Time, now: Time, stop: Stop);

    /// A job was just enqueued, or [`Policy::timer`] just ran, while `running` has been on
    /// `cpu` for `ran`: take the CPU from it now? (Preemptive policies: STCF, MLFQ's priorities
    /// and its boost, CFS's wake-up preemption.)
    fn preempt(&mut self, _running: &Job, _cpu: CpuId, _ran: Time, _now: Time) -> bool {
        false
    }

    /// When the policy next wants [`Policy::timer`] called (MLFQ's priority boost), if ever.
    fn wake_at(&self) -> Option<Time> {
        None
    }

    /// The time asked for by [`Policy::wake_at`] has come.
    fn timer(&mut self, _now: Time) {}

    /// Runnable jobs it holds (not counting running ones).
    fn runnable(&self) -> usize;

    /// Gives up one runnable job that may run on `cpu`, for another CPU's queue to run (work
    /// stealing). `None` if it has none or does not support stealing.
    fn steal(&mut self, _cpu: CpuId, _now: Time) -> Option<JobId> {
        None
    }
}

//! The kernel's clock: timer ticks, interpolated with the TSC between them.
//!
//! `now` = (ticks since the mix started) × tick + the TSC time since the last tick, capped
//! just short of a tick; at a tick the scheduler reads [`tick_now`], the tick's own time. A tick therefore counts as exactly the configured tick (the PIT's
//! divisor makes it 999.847 us for 1 ms; the clock runs that much fast against real time, and
//! the trace says so in `tsc_hz`), the clock never goes back, and a deadline on a tick boundary
//! is met by that tick's interrupt: a job that arrives at 100 ms is released by tick 100, not
//! one tick late.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

static TICKS: AtomicU64 = AtomicU64::new(0);
static LAST_TICK_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_PER_TICK: AtomicU64 = AtomicU64::new(1);
static TICK_NS: AtomicU64 = AtomicU64::new(1_000_000);
static START_TICK: AtomicU64 = AtomicU64::new(0);

fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Counts a timer interrupt (called first thing by the timer handler).
pub fn tick() {
    TICKS.fetch_add(1, Relaxed);
    LAST_TICK_TSC.store(rdtsc(), Relaxed);
}

/// Timer interrupts since boot.
pub fn ticks() -> u64 {
    TICKS.load(Relaxed)
}

/// Waits, interrupts on, until the next tick has been counted.
fn wait_tick() {
    let t = ticks();
    while ticks() == t {
        x86_64::instructions::interrupts::enable_and_hlt();
    }
    x86_64::instructions::interrupts::disable();
}

/// Measures the TSC against `ticks` timer ticks of `tick_ns` each; returns the TSC's Hz as
/// measured against the tick's nominal length.
pub fn calibrate(tick_ns: u64, ticks: u64) -> u64 {
    TICK_NS.store(tick_ns, Relaxed);
    wait_tick();
    let a = LAST_TICK_TSC.load(Relaxed);
    for _ in 0..ticks {
        wait_tick();
    }
    let b = LAST_TICK_TSC.load(Relaxed);
    let per_tick = ((b - a) / ticks).max(1);
    TSC_PER_TICK.store(per_tick, Relaxed);
    (u128::from(per_tick) * 1_000_000_000 / u128::from(tick_ns)) as u64
}

/// Starts the mix's clock at the next tick: `now()` is 0 then.
pub fn start() {
    wait_tick();
    START_TICK.store(ticks(), Relaxed);
}

/// The time of the last tick: whole ticks since [`start`] × the tick. What the scheduler reads at
/// a tick: its decisions there happen at the tick's time, as a tick-based kernel's do.
pub fn tick_now() -> u64 {
    ticks().saturating_sub(START_TICK.load(Relaxed)) * TICK_NS.load(Relaxed)
}

/// Nanoseconds since [`start`]. Call with interrupts off (or accept a value one tick stale).
pub fn now() -> u64 {
    let tick_ns = TICK_NS.load(Relaxed);
    let whole = ticks().saturating_sub(START_TICK.load(Relaxed));
    let since = rdtsc().saturating_sub(LAST_TICK_TSC.load(Relaxed));
    let sub = u128::from(since) * u128::from(tick_ns) / u128::from(TSC_PER_TICK.load(Relaxed));
    whole * tick_ns + (sub as u64).min(tick_ns - 1)
}

//! simkernel: a bare-metal x86-64 kernel that runs sim's scheduling policies (`sched`, the same
//! code the simulator runs) on real timer interrupts and real context switches, and prints the
//! schedule it got over the serial port. docs/kernel.md has the whole picture.
//!
//! Boot: [`boot`] (Multiboot, long mode, SSE) calls [`kmain`], which sets up the CPU tables
//! ([`arch`]), the heap, the timer and clock, parses the command line into a job mix
//! (`sched::boot`), makes one task per job and starts the mix; [`driver`] is the scheduler the
//! timer and the tasks' system calls enter, [`job`] what each task runs.

#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod boot;
mod clock;
mod driver;
mod exit;
mod heap;
mod interrupts;
mod job;
mod mem;
mod serial;
mod timer;
mod trace;

use core::panic::PanicInfo;

/// Calibration length, in ticks.
const CALIBRATION_TICKS: u64 = 50;

/// The Rust entry, from the boot code in long mode: interrupts off, on the boot stack.
#[unsafe(no_mangle)]
pub extern "C" fn kmain() -> ! {
    serial::init();
    arch::init();
    heap::init();
    sprintln!("simk-log booted: long mode, GDT/TSS/IDT loaded");
    let line = match boot::cmdline() {
        Ok(l) => l,
        Err(e) => exit::fail(format_args!("{e}")),
    };
    let config = match sched::boot::BootConfig::parse(line) {
        Ok(c) => c,
        Err(e) => exit::fail(format_args!("bad command line: {e} (the line: {line})")),
    };
    timer::init_pic();
    let divisor = timer::start_pit(config.tick);
    let tsc_hz = clock::calibrate(config.tick, CALIBRATION_TICKS);
    sprintln!(
        "simk-log timer: PIT divisor {divisor}, tick {} ns nominal; TSC {} Hz",
        config.tick,
        tsc_hz
    );
    driver::run(config, tsc_hz)
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    exit::fail(format_args!("kernel panic: {info}"))
}

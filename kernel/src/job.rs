//! What a task runs: its job's bursts. A CPU burst is real work (an integer generator and a
//! floating-point counter, kept in registers) until the kernel's account of the job's CPU time
//! reaches the burst's end; an I/O burst is a system call that blocks for that long. The job, not
//! the kernel, decides when a burst is done, by reading its CPU time, as a program would.
//!
//! The floating-point counter checks the context switch: every task counts in SSE registers,
//! so if a switch lost one task's FPU state to another's, a job's float count would stop
//! matching its integer count and the job panics (which fails the run).

use core::arch::asm;
use core::hint::black_box;

use sched::JobId;
use sched::boot::Fault;
use sched::machine::Burst;

use crate::driver;

/// System call numbers (RDI; the argument in RSI).
pub const SYS_START: u64 = 0;
pub const SYS_IO: u64 = 1;
pub const SYS_EXIT: u64 = 2;

/// `int 0x80`: enters [`driver::on_syscall`]; RAX is its answer.
pub fn syscall(nr: u64, arg: u64) -> u64 {
    let ret: u64;
    // SAFETY: the handler saves and restores every register but RAX (and may run other tasks
    // before it returns here, with this task's state restored exactly).
    unsafe {
        asm!("int 0x80", inout("rdi") nr => _, inout("rsi") arg => _, lateout("rax") ret);
    }
    ret
}

/// The work a job does: counted, so the trace shows how much each job got done.
struct Work {
    x: u64,
    f: f64,
    n: u64,
}

impl Work {
    fn step(&mut self) {
        let (mut x, mut f, mut n) = (self.x, self.f, self.n);
        for _ in 0..256 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            f += 1.0;
            n += 1;
        }
        self.x = black_box(x);
        self.f = black_box(f);
        self.n = n;
    }

    /// The FPU counter must equal the integer one (exact below 2^53).
    fn check(&self, job: JobId) {
        if self.f != self.n as f64 {
            panic!(
                "job {job}: its FPU state was lost in a context switch ({} iterations, float count {})",
                self.n, self.f
            );
        }
    }
}

/// The entry of every task: `job` is its job number.
pub extern "C" fn job_main(job: u64) -> ! {
    let id = job as JobId;
    let (bursts, fault) = driver::job_plan(id);
    // Losing the FPU state is the kernel's fault to make (driver.rs), not the job's.
    let fault = fault.filter(|f| *f != Fault::LoseFpu);
    let first_burst = match bursts.first() {
        Some(Burst::Cpu(d)) => *d,
        _ => 0,
    };
    let mut work = Work {
        x: job,
        f: 0.0,
        n: 0,
    };
    let mut target = 0;
    for burst in bursts {
        match burst {
            Burst::Cpu(d) => {
                target += d;
                driver::set_cpu_target(id, target);
                while driver::cpu_time(id) < target {
                    work.step();
                    if let Some(f) = fault
                        && driver::cpu_time(id) >= first_burst / 2
                    {
                        inject(f);
                    }
                }
                work.check(id);
            }
            Burst::Io(d) => {
                syscall(SYS_IO, d);
            }
        }
    }
    work.check(id);
    syscall(SYS_EXIT, work.n);
    // The kernel never returns to a finished task.
    driver::fail_from_task(id)
}

/// A deliberate fault, for testing that failures are reported (the command line's `fault=`).
fn inject(fault: Fault) {
    crate::sprintln!("simk-log injecting fault {}", fault.name());
    match fault {
        // SAFETY (all arms): each instruction traps at once; the handlers never return here.
        Fault::InvalidOpcode => unsafe { asm!("ud2") },
        Fault::PageFault => unsafe {
            // Above the 1 GiB identity map: not present.
            core::ptr::read_volatile(0x4000_0000 as *const u64);
        },
        Fault::DivideError => unsafe {
            asm!("xor edx, edx", "xor eax, eax", "xor ecx, ecx", "div ecx",
                 out("eax") _, out("ecx") _, out("edx") _);
        },
        Fault::Panic => panic!("injected panic"),
        // An empty IDT: the exception cannot be delivered, nor the double fault that follows,
        // so the CPU shuts down; QEMU with -no-reboot exits 0, which must not read as a pass.
        Fault::TripleFault => unsafe {
            let empty = x86_64::structures::DescriptorTablePointer {
                limit: 0,
                base: x86_64::VirtAddr::new(0),
            };
            x86_64::instructions::tables::lidt(&empty);
            asm!("ud2");
        },
        Fault::LoseFpu => {}
        Fault::Hang => loop {
            x86_64::instructions::interrupts::disable();
            x86_64::instructions::hlt();
        },
    }
}

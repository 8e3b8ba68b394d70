//! The interrupt path: entry stubs, the saved [`Frame`], and where each vector goes.
//!
//! Every vector the kernel handles enters through a naked stub that makes the stack look the same
//! whatever the CPU pushed: it pushes a zero error code where the CPU pushes none, then the vector
//! number, then jumps to a common stub that pushes the 15 general registers, saves the x87/SSE
//! state with `fxsave64` and calls Rust with a pointer to the whole [`Frame`]. The timer and the
//! system call may overwrite that frame with another task's: the common stub then restores *that*
//! task's registers and FPU state and `iretq`s into it. That copy is the context switch.
//!
//! All handlers run on IST stacks (src/arch.rs): the timer and the system call on one, exceptions
//! on another, the double fault on a third. `core` is compiled for the host target, which uses the
//! 128-byte red zone below RSP, and an interrupt taken on the task's own stack would overwrite it.

use core::arch::naked_asm;

/// Everything an interrupted context needs to go on: what the stubs save, in memory order.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct Frame {
    /// `fxsave64` image: x87, MXCSR and XMM0-15.
    pub fx: [u8; 512],
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

const _: () = assert!(core::mem::size_of::<Frame>() == 688);

impl Frame {
    /// The frame of a task that has not run yet: it starts at `entry(arg)` on the stack whose
    /// top is `stack_top`, interrupts on, the FPU in its reset state.
    pub fn new_task(entry: extern "C" fn(u64) -> !, arg: u64, stack_top: u64) -> Frame {
        let mut fx = [0u8; 512];
        // FCW = 0x037F (all x87 exceptions masked), MXCSR = 0x1F80 (all SSE exceptions masked).
        fx[0..2].copy_from_slice(&0x037Fu16.to_le_bytes());
        fx[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
        Frame {
            fx,
            r15: 0,
            r14: 0,
            r13: 0,
            r12: 0,
            r11: 0,
            r10: 0,
            r9: 0,
            r8: 0,
            rbp: 0,
            rdi: arg,
            rsi: 0,
            rdx: 0,
            rcx: 0,
            rbx: 0,
            rax: 0,
            vector: 0,
            error: 0,
            rip: entry as usize as u64,
            cs: u64::from(crate::arch::KERNEL_CODE),
            // IF set; bit 1 is always one.
            rflags: 0x202,
            // As if `entry` had been called: RSP + 8 aligned to 16.
            rsp: (stack_top & !0xF).saturating_sub(8),
            ss: u64::from(crate::arch::KERNEL_DATA),
        }
    }
}

/// The vector of the timer (IRQ 0 after the PIC is remapped to 32).
pub const TIMER: u8 = 32;
/// The 8259's spurious IRQ 7.
pub const SPURIOUS: u8 = 39;
/// `int 0x80`: a task's system call.
pub const SYSCALL: u8 = 0x80;

/// Pushes the general registers and saves the FPU state below them: the low part of a
/// [`Frame`]. Both common stubs start with it, so the layout is written once.
macro_rules! save_frame {
    () => {
        concat!(
            "push rax\n push rbx\n push rcx\n push rdx\n push rsi\n push rdi\n push rbp\n",
            "push r8\n push r9\n push r10\n push r11\n push r12\n push r13\n push r14\n",
            "push r15\n sub rsp, 512\n fxsave64 [rsp]\n cld\n mov rdi, rsp"
        )
    };
}

/// The common tail of every interrupt and system call stub: save, call [`interrupt`], restore
/// (perhaps another task's context), return.
#[unsafe(naked)]
unsafe extern "C" fn interrupt_common() {
    naked_asm!(
        save_frame!(),
        "call {handler}",
        "fxrstor64 [rsp]",
        "add rsp, 512",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        // The vector and the error code.
        "add rsp, 16",
        "iretq",
        handler = sym interrupt,
    );
}

/// The common tail of exception stubs: save everything (for the report), then never return.
#[unsafe(naked)]
unsafe extern "C" fn exception_common() {
    naked_asm!(save_frame!(), "call {handler}", "ud2", handler = sym exception);
}

macro_rules! stub {
    // The CPU pushes no error code for this vector: push a zero in its place.
    ($name:ident, $vector:literal, $common:ident) => {
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name() {
            naked_asm!("push 0", "push {v}", "jmp {common}", v = const $vector, common = sym $common);
        }
    };
    ($name:ident, $vector:literal, $common:ident, error_code) => {
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name() {
            naked_asm!("push {v}", "jmp {common}", v = const $vector, common = sym $common);
        }
    };
}

stub!(timer_stub, 32, interrupt_common);
stub!(spurious_stub, 39, interrupt_common);
stub!(syscall_stub, 0x80, interrupt_common);

stub!(exc0, 0, exception_common);
stub!(exc1, 1, exception_common);
stub!(exc2, 2, exception_common);
stub!(exc3, 3, exception_common);
stub!(exc4, 4, exception_common);
stub!(exc5, 5, exception_common);
stub!(exc6, 6, exception_common);
stub!(exc7, 7, exception_common);
stub!(exc8, 8, exception_common, error_code);
stub!(exc10, 10, exception_common, error_code);
stub!(exc11, 11, exception_common, error_code);
stub!(exc12, 12, exception_common, error_code);
stub!(exc13, 13, exception_common, error_code);
stub!(exc14, 14, exception_common, error_code);
stub!(exc16, 16, exception_common);
stub!(exc17, 17, exception_common, error_code);
stub!(exc18, 18, exception_common);
stub!(exc19, 19, exception_common);
stub!(exc20, 20, exception_common);
stub!(exc21, 21, exception_common, error_code);

/// Where the interrupt stubs land, interrupts off, on the IST stack.
extern "C" fn interrupt(frame: &mut Frame) {
    match frame.vector as u8 {
        TIMER => {
            crate::timer::end_of_interrupt();
            crate::clock::tick();
            crate::driver::on_tick(frame);
        }
        SYSCALL => crate::driver::on_syscall(frame),
        // A spurious IRQ 7 wants no end-of-interrupt.
        SPURIOUS => {}
        v => crate::exit::fail(format_args!("unexpected interrupt vector {v}")),
    }
}

/// Where the exception stubs land: report and fail.
extern "C" fn exception(frame: &mut Frame) {
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    crate::exit::fail(format_args!(
        "CPU exception #{} ({}) at rip={:#x} error={:#x} cr2={:#x} rsp={:#x}",
        frame.vector,
        exception_name(frame.vector),
        frame.rip,
        frame.error,
        cr2,
        frame.rsp
    ))
}

/// The mnemonic and name of an exception vector.
pub fn exception_name(vector: u64) -> &'static str {
    match vector {
        0 => "DE, divide error",
        1 => "DB, debug",
        2 => "NMI",
        3 => "BP, breakpoint",
        4 => "OF, overflow",
        5 => "BR, bound range",
        6 => "UD, invalid opcode",
        7 => "NM, device not available",
        8 => "DF, double fault",
        10 => "TS, invalid TSS",
        11 => "NP, segment not present",
        12 => "SS, stack-segment fault",
        13 => "GP, general protection",
        14 => "PF, page fault",
        16 => "MF, x87 floating point",
        17 => "AC, alignment check",
        18 => "MC, machine check",
        19 => "XM, SIMD floating point",
        20 => "VE, virtualization",
        21 => "CP, control protection",
        _ => "reserved",
    }
}

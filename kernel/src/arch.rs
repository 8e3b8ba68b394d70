//! The CPU tables: the GDT (code, data and the TSS), the TSS's interrupt stacks, and the IDT.

use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::idt::InterruptDescriptorTable;
use x86_64::structures::tss::TaskStateSegment;

use crate::interrupts as int;

/// Selectors of the GDT built here (the same as the boot GDT's code and data).
pub const KERNEL_CODE: u16 = 0x08;
pub const KERNEL_DATA: u16 = 0x10;

/// IST slots (the TSS numbers them 1-7; the `x86_64` crate 0-6).
const IST_INTERRUPTS: u16 = 0;
const IST_EXCEPTIONS: u16 = 1;
const IST_DOUBLE_FAULT: u16 = 2;

const IST_SIZE: usize = 32 * 1024;

#[repr(C, align(16))]
struct Stack([u8; IST_SIZE]);

static mut IST_STACKS: [Stack; 3] = [const { Stack([0; IST_SIZE]) }; 3];
static mut TSS: TaskStateSegment = TaskStateSegment::new();
static mut GDT: GlobalDescriptorTable = GlobalDescriptorTable::new();
static mut IDT: InterruptDescriptorTable = InterruptDescriptorTable::new();

/// Loads the GDT with a TSS and the IDT. Called once, interrupts off, before anything else
/// that could fault.
// `&mut *(&raw mut X)` is how to borrow a `static mut` without the `static_mut_refs` lint.
#[allow(clippy::deref_addrof)]
pub fn init() {
    // SAFETY: called once at boot with interrupts off, before any other use of these statics;
    // afterwards only the CPU reads them.
    unsafe {
        let tss = &mut *(&raw mut TSS);
        let stacks = &raw mut IST_STACKS;
        for (slot, i) in [IST_INTERRUPTS, IST_EXCEPTIONS, IST_DOUBLE_FAULT]
            .into_iter()
            .zip(0..)
        {
            let base = (&raw mut (*stacks)[i]) as u64;
            tss.interrupt_stack_table[slot as usize] = VirtAddr::new(base + IST_SIZE as u64);
        }
        let gdt = &mut *(&raw mut GDT);
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss_sel = gdt.append(Descriptor::tss_segment(&*(&raw const TSS)));
        debug_assert_eq!(code.0, KERNEL_CODE);
        debug_assert_eq!(data.0, KERNEL_DATA);
        (*(&raw const GDT)).load();
        CS::set_reg(SegmentSelector(KERNEL_CODE));
        SS::set_reg(SegmentSelector(KERNEL_DATA));
        DS::set_reg(SegmentSelector(KERNEL_DATA));
        ES::set_reg(SegmentSelector(KERNEL_DATA));
        load_tss(tss_sel);

        let idt = &mut *(&raw mut IDT);
        let addr = |f: unsafe extern "C" fn()| VirtAddr::new(f as usize as u64);
        macro_rules! exception {
            ($entry:expr, $stub:path) => {
                $entry
                    .set_handler_addr(addr($stub))
                    .set_stack_index(IST_EXCEPTIONS);
            };
        }
        exception!(idt.divide_error, int::exc0);
        exception!(idt.debug, int::exc1);
        exception!(idt.non_maskable_interrupt, int::exc2);
        exception!(idt.breakpoint, int::exc3);
        exception!(idt.overflow, int::exc4);
        exception!(idt.bound_range_exceeded, int::exc5);
        exception!(idt.invalid_opcode, int::exc6);
        exception!(idt.device_not_available, int::exc7);
        idt.double_fault
            .set_handler_addr(addr(int::exc8))
            .set_stack_index(IST_DOUBLE_FAULT);
        exception!(idt.invalid_tss, int::exc10);
        exception!(idt.segment_not_present, int::exc11);
        exception!(idt.stack_segment_fault, int::exc12);
        exception!(idt.general_protection_fault, int::exc13);
        exception!(idt.page_fault, int::exc14);
        exception!(idt.x87_floating_point, int::exc16);
        exception!(idt.alignment_check, int::exc17);
        exception!(idt.machine_check, int::exc18);
        exception!(idt.simd_floating_point, int::exc19);
        exception!(idt.virtualization, int::exc20);
        exception!(idt.cp_protection_exception, int::exc21);
        for (vector, stub) in [
            (int::TIMER, int::timer_stub as unsafe extern "C" fn()),
            (int::SPURIOUS, int::spurious_stub),
            (int::SYSCALL, int::syscall_stub),
        ] {
            idt[vector]
                .set_handler_addr(addr(stub))
                .set_stack_index(IST_INTERRUPTS);
        }
        (*(&raw const IDT)).load();
    }
}

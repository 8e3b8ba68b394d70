//! From the Multiboot loader to Rust: the Multiboot v1 header, the 32-bit entry, identity-mapped
//! page tables, long mode, SSE, and the jump to [`crate::kmain`].
//!
//! QEMU's `-kernel` takes Multiboot v1 images. It refuses an ELF64 file, so the header sets the
//! a.out-kludge flag (bit 16) and gives the load addresses itself: QEMU then ignores the ELF
//! headers and copies the file from the header on to `load_addr`, zeroes up to `bss_end_addr`
//! and jumps to `entry_addr` in 32-bit protected mode, paging off, EAX = the Multiboot magic and
//! EBX = the physical address of the Multiboot information (where the command line is).
//!
//! The boot code maps the first 1 GiB 1:1 with 2 MiB pages (one PML4 entry, one PDPT entry, 512
//! PD entries), so every physical address the kernel uses is also its virtual address and
//! anything above 1 GiB faults (which the page-fault injection relies on).

use core::arch::global_asm;

/// What the loader passed: the magic in EAX and the information's address in EBX.
#[unsafe(no_mangle)]
static mut MULTIBOOT_MAGIC: u32 = 0;
#[unsafe(no_mangle)]
static mut MULTIBOOT_INFO: u32 = 0;

/// The magic a Multiboot v1 loader leaves in EAX.
pub const LOADER_MAGIC: u32 = 0x2BAD_B002;

global_asm!(
    r#"
    .set MB_MAGIC, 0x1BADB002
    /* bit 1: memory information; bit 16: the addresses below are valid (a.out kludge) */
    .set MB_FLAGS, (1 << 1) | (1 << 16)

    .section .multiboot, "a"
    .balign 4
multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long multiboot_header      /* header_addr */
    .long __image_start         /* load_addr */
    .long __load_end            /* load_end_addr */
    .long __bss_end             /* bss_end_addr */
    .long _start32              /* entry_addr */

    .section .bss.boot, "aw", @nobits
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096
boot_stack:
    .skip 65536
.global boot_stack_top
boot_stack_top:

    .section .rodata.boot, "a"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    /* 0x08: 64-bit code, ring 0 */
    .quad 0x00CF92000000FFFF    /* 0x10: data, ring 0 */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .section .text.boot, "ax"
    .code32
.global _start32
_start32:
    cli
    cld
    movl $boot_stack_top, %esp
    movl %eax, MULTIBOOT_MAGIC
    movl %ebx, MULTIBOOT_INFO

    /* Long mode needs CPUID's extended leaf 0x80000001, bit 29 of EDX. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode

    /* PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB, present | writable | huge. */
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    movl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt
    xorl %ecx, %ecx
1:
    movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, boot_pd(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    movl $boot_pml4, %eax
    movl %eax, %cr3
    /* CR4: PAE (5), OSFXSR (9: SSE and FXSAVE, which core's code uses), OSXMMEXCPT (10). */
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    /* EFER.LME */
    movl $0xC0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    /* CR0: paging (31), monitor coprocessor (1), no x87 emulation (clear 2). */
    movl %cr0, %eax
    andl $~(1 << 2), %eax
    orl $((1 << 31) | (1 << 1)), %eax
    movl %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $start64

no_long_mode:
    /* Nothing to print with yet: write "no long mode" to COM1 and stop. */
    movw $0x3F8, %dx
    movl $no_long_mode_msg, %esi
2:
    movb (%esi), %al
    testb %al, %al
    jz 3f
    outb %al, %dx
    incl %esi
    jmp 2b
3:
    hlt
    jmp 3b

    .code64
start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    call kmain
4:
    cli
    hlt
    jmp 4b

    .section .rodata.boot, "a"
no_long_mode_msg:
    .asciz "simk fail message=this CPU has no long mode\n"
    .text
"#,
    options(att_syntax)
);

/// The command line the loader passed (`-append`), without the image's path, which Multiboot
/// loaders (QEMU and GRUB alike) put first. At most 64 KiB is read, so a missing terminator
/// cannot run away.
pub fn cmdline() -> Result<&'static str, &'static str> {
    // SAFETY: written once by the boot code before any Rust ran; read-only afterwards.
    let (magic, info) = unsafe {
        (
            core::ptr::read_volatile(&raw const MULTIBOOT_MAGIC),
            core::ptr::read_volatile(&raw const MULTIBOOT_INFO),
        )
    };
    if magic != LOADER_MAGIC {
        return Err("not started by a Multiboot loader (boot with qemu-system-x86_64 -kernel)");
    }
    let info = info as usize as *const u32;
    // SAFETY: the loader's information is in low memory, inside the identity map.
    let flags = unsafe { core::ptr::read_volatile(info) };
    if flags & (1 << 2) == 0 {
        return Ok("");
    }
    // SAFETY: as above; the command line's address is at offset 16.
    let addr = unsafe { core::ptr::read_volatile(info.add(4)) } as usize as *const u8;
    const MAX: usize = 64 * 1024;
    let mut len = 0;
    // A volatile read per byte: a plain loop may be compiled to a call to `strlen`.
    // SAFETY: bounded by MAX, inside the identity-mapped first GiB.
    while len < MAX && unsafe { core::ptr::read_volatile(addr.add(len)) } != 0 {
        len += 1;
    }
    if len == MAX {
        return Err("the command line has no end within 64 KiB");
    }
    // SAFETY: `len` bytes were just read from there.
    let bytes = unsafe { core::slice::from_raw_parts(addr, len) };
    let line = core::str::from_utf8(bytes).map_err(|_| "the command line is not UTF-8")?;
    Ok(line.split_once(' ').map_or("", |(_image, rest)| rest))
}

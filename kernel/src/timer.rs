//! The timer: the 8259 PICs remapped to vectors 32-47 with only IRQ 0 unmasked, and the PIT's
//! channel 0 as a periodic rate generator.

use x86_64::instructions::port::Port;

/// The PIT's input clock, Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Remaps the PICs (IRQ 0-7 to 32-39, 8-15 to 40-47) and masks every IRQ but the timer's.
pub fn init_pic() {
    // SAFETY: the PICs' command and data ports, programmed once at boot, interrupts off.
    unsafe {
        let mut cmd1 = Port::<u8>::new(0x20);
        let mut data1 = Port::<u8>::new(0x21);
        let mut cmd2 = Port::<u8>::new(0xA0);
        let mut data2 = Port::<u8>::new(0xA1);
        cmd1.write(0x11); // ICW1: initialise, ICW4 follows
        cmd2.write(0x11);
        data1.write(32); // ICW2: vector offsets
        data2.write(40);
        data1.write(4); // ICW3: slave on IRQ 2
        data2.write(2);
        data1.write(0x01); // ICW4: 8086 mode
        data2.write(0x01);
        data1.write(0xFE); // masks: only IRQ 0
        data2.write(0xFF);
    }
}

/// Starts channel 0 at the divisor nearest to `period_ns`; returns the divisor.
pub fn start_pit(period_ns: u64) -> u16 {
    let divisor = (PIT_HZ * period_ns + 500_000_000) / 1_000_000_000;
    let divisor = divisor.clamp(1, 65535) as u16;
    // SAFETY: the PIT's mode and channel 0 ports.
    unsafe {
        Port::<u8>::new(0x43).write(0x34); // channel 0, low then high byte, mode 2
        let mut ch0 = Port::<u8>::new(0x40);
        ch0.write(divisor as u8);
        ch0.write((divisor >> 8) as u8);
    }
    divisor
}

/// Acknowledges IRQ 0 at the master PIC.
pub fn end_of_interrupt() {
    // SAFETY: the master PIC's command port.
    unsafe { Port::<u8>::new(0x20).write(0x20) };
}

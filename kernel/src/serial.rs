//! COM1, the 16550 UART at port 0x3F8: where the trace and every message go (QEMU's
//! `-serial stdio` or `-serial file:PATH`). Polled, no interrupts.

use core::fmt;
use x86_64::instructions::port::Port;

const COM1: u16 = 0x3F8;

/// Sets 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on.
pub fn init() {
    // SAFETY: COM1's registers; nothing else drives them.
    unsafe {
        Port::<u8>::new(COM1 + 1).write(0x00); // no UART interrupts
        Port::<u8>::new(COM1 + 3).write(0x80); // divisor latch on
        Port::<u8>::new(COM1).write(0x01); // divisor 1: 115200 baud
        Port::<u8>::new(COM1 + 1).write(0x00);
        Port::<u8>::new(COM1 + 3).write(0x03); // 8N1, latch off
        Port::<u8>::new(COM1 + 2).write(0xC7); // FIFOs on, cleared
        Port::<u8>::new(COM1 + 4).write(0x0B); // DTR, RTS, OUT2
    }
}

fn write_byte(b: u8) {
    // SAFETY: as in `init`.
    unsafe {
        let mut status = Port::<u8>::new(COM1 + 5);
        // Wait for the transmit holding register to empty (bounded: a missing UART reads 0xFF).
        let mut spins = 0u32;
        while status.read() & 0x20 == 0 && spins < 1_000_000 {
            spins += 1;
        }
        Port::<u8>::new(COM1).write(b);
    }
}

/// Writes to COM1 through `core::fmt`.
pub struct Serial;

impl fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            write_byte(b);
        }
        Ok(())
    }
}

/// `println!` for the serial port. Call with interrupts off or from a single context: lines
/// from an interrupt handler could otherwise cut into a task's.
#[macro_export]
macro_rules! sprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::serial::Serial, $($arg)*);
    }};
}

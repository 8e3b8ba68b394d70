//! Leaving QEMU with a verdict, through the `isa-debug-exit` device at port 0xF4: writing `v`
//! makes QEMU exit with status `(v << 1) | 1`. A triple fault under `-no-reboot` exits with 0
//! and QEMU's own errors with 1, so only the kernel's own pass (33) means the run passed.

use x86_64::instructions::port::Port;

/// Written for a pass: QEMU exits 33.
pub const PASS: u32 = 0x10;
/// Written for a failure: QEMU exits 35.
pub const FAIL: u32 = 0x11;

/// Exits QEMU; halts for good if there is no exit device (booted without it).
pub fn exit(code: u32) -> ! {
    // SAFETY: the debug-exit port; writing it ends the machine.
    unsafe { Port::<u32>::new(0xF4).write(code) };
    crate::sprintln!(
        "simk-log no isa-debug-exit device (-device isa-debug-exit,iobase=0xf4,iosize=0x04): halting"
    );
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Prints a failure as a trace record and exits with FAIL.
pub fn fail(message: core::fmt::Arguments<'_>) -> ! {
    x86_64::instructions::interrupts::disable();
    let text = alloc_free_message(message);
    // What ran before the failure, for whoever debugs it (nothing if the mix had not started).
    crate::trace::print();
    crate::sprintln!("simk fail message={}", text);
    exit(FAIL)
}

/// Formats into a fixed buffer (no heap: a failure may come from the allocator itself), with
/// newlines replaced so that the record stays one line.
fn alloc_free_message(message: core::fmt::Arguments<'_>) -> Line {
    use core::fmt::Write;
    let mut line = Line {
        buf: [0; 480],
        len: 0,
    };
    let _ = line.write_fmt(message);
    line
}

struct Line {
    buf: [u8; 480],
    len: usize,
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if self.len == self.buf.len() {
                break;
            }
            self.buf[self.len] = if b == b'\n' || b == b'\r' { b' ' } else { b };
            self.len += 1;
        }
        Ok(())
    }
}

impl core::fmt::Display for Line {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Cut at a character boundary if the buffer filled mid-character.
        let mut end = self.len;
        while core::str::from_utf8(&self.buf[..end]).is_err() {
            end -= 1;
        }
        f.write_str(core::str::from_utf8(&self.buf[..end]).unwrap_or(""))
    }
}

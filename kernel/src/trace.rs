//! The schedule trace, kept in memory while the mix runs (writing to the serial port from the
//! handlers would slow the very thing being measured) and printed at the end, or when the kernel
//! fails: then the stretches run so far come before the `fail` record, for whoever debugs it.
//!
//! The buffer lives apart from the scheduler's state so that the failure path can read it
//! without touching the state a failing handler may hold. A failure inside [`push`] itself (the
//! allocator failing as the buffer grows) finds it marked busy and prints nothing of it.

use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering::SeqCst};

use sched::ktrace::Record;

use crate::sprintln;

struct Buffer(UnsafeCell<Vec<Record>>);

// SAFETY: one CPU; `push` runs with interrupts off (in handlers), and the only other reader is
// the failure path, which checks BUSY first.
unsafe impl Sync for Buffer {}

static RECORDS: Buffer = Buffer(UnsafeCell::new(Vec::new()));
static BUSY: AtomicBool = AtomicBool::new(false);
/// Set once the trace has been printed, so that it is never printed twice.
static PRINTED: AtomicBool = AtomicBool::new(false);

/// Appends a record. Call with interrupts off.
pub fn push(record: Record) {
    BUSY.store(true, SeqCst);
    // SAFETY: interrupts are off and BUSY keeps the failure path out while the borrow lives.
    unsafe { (*RECORDS.0.get()).push(record) };
    BUSY.store(false, SeqCst);
}

/// Prints every record kept so far, once.
pub fn print() {
    if BUSY.load(SeqCst) {
        sprintln!(
            "simk-log the trace buffer was being written when the kernel failed; not printed"
        );
        return;
    }
    if PRINTED.swap(true, SeqCst) {
        return;
    }
    // SAFETY: not BUSY, so no `push` borrow is alive, and nothing pushes while this prints
    // (interrupts are off on every path that calls it).
    for r in unsafe { &*RECORDS.0.get() } {
        sprintln!("{r}");
    }
}

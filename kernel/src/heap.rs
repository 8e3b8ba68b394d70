//! The kernel heap: a first-fit free list (`linked_list_allocator`) over a static 32 MiB array
//! in the image's .bss. The policies' queues and trees, the task stacks and the trace buffer
//! live here. Every call runs with interrupts off, since the scheduler allocates inside the
//! timer handler.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::NonNull;

use linked_list_allocator::Heap;

pub const HEAP_SIZE: usize = 32 * 1024 * 1024;

#[repr(C, align(4096))]
struct Arena([u8; HEAP_SIZE]);

static mut ARENA: Arena = Arena([0; HEAP_SIZE]);

pub struct KernelHeap(UnsafeCell<Heap>);

// SAFETY: one CPU, and every access happens with interrupts off.
unsafe impl Sync for KernelHeap {}

#[global_allocator]
pub static HEAP: KernelHeap = KernelHeap(UnsafeCell::new(Heap::empty()));

/// Hands the arena to the allocator. Called once at boot before any allocation.
pub fn init() {
    x86_64::instructions::interrupts::without_interrupts(|| {
        // SAFETY: called once; the arena is used by nothing else.
        unsafe {
            (*HEAP.0.get()).init((&raw mut ARENA).cast::<u8>(), HEAP_SIZE);
        }
    });
}

unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        x86_64::instructions::interrupts::without_interrupts(|| {
            // SAFETY: interrupts are off, so nothing else holds the heap.
            unsafe { (*self.0.get()).allocate_first_fit(layout) }
                .map_or(core::ptr::null_mut(), NonNull::as_ptr)
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        x86_64::instructions::interrupts::without_interrupts(|| {
            if let Some(p) = NonNull::new(ptr) {
                // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's contract).
                unsafe { (*self.0.get()).deallocate(p, layout) }
            }
        })
    }
}

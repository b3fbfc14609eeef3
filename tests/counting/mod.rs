//! A counting global allocator for the test binaries that measure memory. A test file
//! declares it its allocator:
//!
//! ```ignore
//! mod counting;
//! #[global_allocator]
//! static GLOBAL: counting::Counting = counting::Counting;
//! ```
//!
//! It counts per thread: libtest's own threads allocate while a test runs (reporting
//! the previous test's result), and a process-wide count made the assertions flaky.
//! Only calls that succeed count; a thread being torn down has no counters left, and
//! its frees are not the test's.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Wraps the system allocator, counting this thread's allocations and live bytes.
pub struct Counting;

thread_local! {
    // `const` and without destructors: reading them never allocates, so the allocator
    // may use them.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

/// Allocations (and reallocations) made by this thread so far.
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Bytes this thread holds: allocated minus freed, reallocations by their change.
pub fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

fn count(ptr: *mut u8, allocations: usize, bytes: isize) -> *mut u8 {
    if !ptr.is_null() {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + allocations));
        let _ = LIVE_BYTES.try_with(|b| b.set(b.get() + bytes));
    }
    ptr
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(unsafe { System.alloc(layout) }, 1, layout.size() as isize)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(
            unsafe { System.alloc_zeroed(layout) },
            1,
            layout.size() as isize,
        )
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        let _ = LIVE_BYTES.try_with(|b| b.set(b.get() - layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(
            unsafe { System.realloc(ptr, layout, new_size) },
            1,
            new_size as isize - layout.size() as isize,
        )
    }
}

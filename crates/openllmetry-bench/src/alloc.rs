//! An allocation-counting global allocator for the bench binaries.
//!
//! Declare it in a binary with
//! `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;` and read
//! [`snapshot`] before and after the code under test. Counts are process-wide (every
//! thread), so measure where no background thread allocates.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting every allocation (and reallocation), its bytes, and the
/// bytes freed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are plain relaxed atomics and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as is (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        FREED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations (including reallocations) and bytes requested so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocSnapshot {
    /// Number of `alloc`, `alloc_zeroed` and `realloc` calls.
    pub allocs: u64,
    /// Bytes requested by them (a `realloc` counts its new size).
    pub bytes: u64,
}

/// The counters now (zero unless [`CountingAlloc`] is the global allocator).
pub fn snapshot() -> AllocSnapshot {
    AllocSnapshot {
        allocs: ALLOCS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
    }
}

/// Bytes currently allocated on the heap (allocated minus freed), zero unless
/// [`CountingAlloc`] is the global allocator.
pub fn live_bytes() -> u64 {
    BYTES
        .load(Ordering::Relaxed)
        .saturating_sub(FREED.load(Ordering::Relaxed))
}

/// Runs `f` `iterations` times and returns the allocations and bytes per run.
pub fn per_call(iterations: u64, mut f: impl FnMut()) -> (f64, f64) {
    let before = snapshot();
    for _ in 0..iterations {
        f();
    }
    let after = snapshot();
    let n = iterations.max(1) as f64;
    (
        (after.allocs - before.allocs) as f64 / n,
        (after.bytes - before.bytes) as f64 / n,
    )
}

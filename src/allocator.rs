//! A global allocator for the benchmarks that counts heap allocations and peak live bytes
//! while tracking is on, and otherwise only forwards to the system allocator.
//!
//! A bench binary installs it with `#[global_allocator] static A: CountingAllocator =
//! CountingAllocator;`, then wraps what it measures in [`start_tracking`] and
//! [`stop_tracking`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

/// Forwards every call to [`System`]; while tracking is on, also counts allocations and
/// live bytes (see [`start_tracking`]). When tracking is off, the only extra work is one
/// relaxed load of a flag that is rarely written, so timed runs are not slowed down.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

static TRACKING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// What was counted between [`start_tracking`] and [`stop_tracking`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// Allocations and reallocations.
    pub allocations: usize,
    /// The highest number of bytes allocated and not yet freed at any moment, counted from
    /// zero at the start.
    pub peak_bytes: usize,
}

/// Resets the counters and starts counting, in every thread.
///
/// Live bytes are counted from zero: a block allocated before and freed during tracking
/// lowers the count, so the peak can be slightly low when the measured code frees older
/// blocks (the benchmarks free only what they allocate, apart from a connection's
/// buffers). A reallocation counts as its change in size.
pub fn start_tracking() {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    CURRENT.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    TRACKING.store(true, Ordering::SeqCst);
}

/// Stops counting and returns what was counted since [`start_tracking`].
pub fn stop_tracking() -> Tracked {
    TRACKING.store(false, Ordering::SeqCst);
    Tracked {
        allocations: ALLOCATIONS.load(Ordering::SeqCst),
        peak_bytes: PEAK.load(Ordering::SeqCst).max(0).unsigned_abs(),
    }
}

fn grew(bytes: usize) {
    // Sizes of live blocks fit in `isize` (a `Layout` guarantees it).
    let bytes = bytes as isize;
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// Counts a new block of `layout` at `ptr` (none when the allocation failed).
fn allocated(ptr: *mut u8, layout: Layout) -> *mut u8 {
    if TRACKING.load(Ordering::Relaxed) && !ptr.is_null() {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grew(layout.size());
    }
    ptr
}

fn shrank(bytes: usize) {
    CURRENT.fetch_sub(bytes as isize, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly `System`'s; the counters are atomics and never
// allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        allocated(unsafe { System.alloc(layout) }, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        allocated(unsafe { System.alloc_zeroed(layout) }, layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (we allocate nothing else).
        unsafe { System.dealloc(ptr, layout) };
        if TRACKING.load(Ordering::Relaxed) {
            shrank(layout.size());
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if TRACKING.load(Ordering::Relaxed) && !new.is_null() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

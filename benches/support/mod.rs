//! Shared by the capacity benches: a counting global allocator (peak heap)
//! and a one-line memory summary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts live heap bytes and their peak.
pub struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    /// Counts only the size change: the system allocator grows and shrinks
    /// in place (or remaps) rather than holding two copies.
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new >= l.size() {
            let now = LIVE.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            LIVE.fetch_sub(l.size() - new, Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

/// Runs `f` once and returns its result with the peak heap it added.
pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let out = f();
    (out, PEAK.load(Relaxed) - before)
}

/// Prints events, changes and peak heap per mailbox and per change.
pub fn print_memory(name: &str, report: &syncsim::Report, peak: usize) {
    let mailboxes = report.simulated.mailboxes as usize;
    eprintln!(
        "{name}: {} events, {} requests, {} changes; peak heap {:.1} MB = {} bytes/mailbox ({:.1} bytes/change)",
        report.engine.events,
        report.requests.total,
        report.changes.generated,
        peak as f64 / 1e6,
        peak / mailboxes,
        peak as f64 / report.changes.generated.max(1) as f64,
    );
}

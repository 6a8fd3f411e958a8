//! Capacity benchmark: 10,000 mailboxes × 1 day of 5-minute polling
//! (2.88 million polls, ~500,000 messages), single-threaded, including
//! traffic generation and the report.
//!
//! A counting allocator reports the peak heap in bytes per mailbox, printed
//! once before the timing runs.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use syncsim::scenario::{parse, Format};

struct Counting;
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

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The benchmark scenario (also usable from the CLI: see README).
pub const SCENARIO: &str = include_str!("../scenarios/bench/poll-10k.toml");

fn poll_10k(c: &mut Criterion) {
    let scenario = parse(SCENARIO, "poll-10k.toml", Format::Toml).expect("bench scenario is valid");
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let report = syncsim::run(&scenario);
    let peak = PEAK.load(Relaxed) - before;
    let mailboxes = report.simulated.mailboxes as usize;
    eprintln!(
        "poll_10k: {} events, {} requests, {} changes; peak heap {:.1} MB = {} bytes/mailbox ({:.1} bytes/change)",
        report.engine.events,
        report.requests.total,
        report.changes.generated,
        peak as f64 / 1e6,
        peak / mailboxes,
        peak as f64 / report.changes.generated as f64,
    );
    let mut g = c.benchmark_group("poll_10k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(report.engine.events));
    g.bench_function("1d_5min", |b| {
        b.iter(|| black_box(syncsim::run(&scenario).engine.events))
    });
    g.finish();
}

criterion_group!(benches, poll_10k);
criterion_main!(benches);

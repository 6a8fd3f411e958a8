//! Capacity benchmark: 10,000 mailboxes × 1 day of 5-minute polling
//! (2.88 million polls, ~500,000 messages), single-threaded, including
//! traffic generation and the report. Prints peak heap per mailbox first.

mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use syncsim::scenario::{parse, Format};

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

/// The benchmark scenario (also runnable: `syncsim run scenarios/bench/poll-10k.toml`).
const SCENARIO: &str = include_str!("../scenarios/bench/poll-10k.toml");

fn poll_10k(c: &mut Criterion) {
    let scenario = parse(SCENARIO, "poll-10k.toml", Format::Toml).expect("bench scenario is valid");
    let (report, peak) = support::peak_of(|| syncsim::run(&scenario));
    support::print_memory("poll_10k", &report, peak);
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

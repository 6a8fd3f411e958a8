//! Event-queue throughput: the classic "hold" model. `pending` events sit in
//! the queue; each step pops the earliest and schedules one at a random
//! later time, as a simulation does. One element = one pop + one push.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::Rng;
use std::hint::black_box;
use syncsim::engine::{EventQueue, Purpose, SimTime, Streams};

const STEPS: u64 = 1_000_000;

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine/hold");
    g.throughput(Throughput::Elements(STEPS));
    g.sample_size(20);
    for pending in [1_000u32, 10_000, 100_000] {
        g.bench_with_input(
            BenchmarkId::from_parameter(pending),
            &pending,
            |b, &pending| {
                let mut rng = Streams::new(1).stream(Purpose::Arrivals, 0);
                // Increments up to 5 minutes, as a 5-minute poller produces.
                let incs: Vec<u64> = (0..4096).map(|_| rng.next_u64() % 300_000_000).collect();
                b.iter(|| {
                    let mut q = EventQueue::with_capacity(pending as usize);
                    for i in 0..pending {
                        q.push(SimTime(incs[i as usize % incs.len()]), i);
                    }
                    let mut k = 0usize;
                    for _ in 0..STEPS {
                        let (t, e) = q.pop().expect("hold keeps the queue full");
                        k = (k + 1) & 4095;
                        q.push(SimTime(t.0 + incs[k]), e);
                    }
                    black_box(q.len())
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);

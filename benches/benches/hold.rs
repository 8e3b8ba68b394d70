//! Wall-clock hold model on `simcore::queue::EventQueue`: hold operations (one pop plus one push
//! at a constant queue size) per second at N = 10^3, 10^5 and 10^6 pending events.
//!
//! Why these sizes: 10^3 fits in L1/L2 and shows the queue's intrinsic cost; 10^5 (a few MiB)
//! spills to L3; 10^6 (tens of MiB) is memory-bound, where a binary heap's cache misses on each
//! sift dominate. A scenario with many components and timers lives somewhere in that range.
//!
//! The queue is built once per size, outside the measurement, and criterion's iterations then
//! keep holding on the same queue: that is the steady state of a simulation, where the queue is
//! warm and its size constant. Throughput is reported in hold operations (elements) per second.
//!
//! Run: `cargo bench -p sim-benches --bench hold` (about a minute).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sim_benches::hold::Hold;

/// Holds per criterion iteration: enough that the timer's own cost is noise, few enough that
/// criterion still gets many iterations per sample.
const OPS_PER_ITER: u64 = 1000;

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group.throughput(Throughput::Elements(OPS_PER_ITER));
    group.sample_size(30);
    group.warm_up_time(Duration::from_secs(3));
    group.measurement_time(Duration::from_secs(15));
    for n in [1_000usize, 100_000, 1_000_000] {
        // Built once per size: filling 10^6 events is setup, not what is measured.
        let mut h = Hold::new(n, 42);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| black_box(h.run(OPS_PER_ITER)))
        });
    }
    group.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);

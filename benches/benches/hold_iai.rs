//! The hold model under Valgrind (Callgrind, via gungraun): instructions for a fixed number of
//! hold operations at N = 10^3 and 10^5 pending events.
//!
//! Why a second hold bench: instruction counts do not depend on the machine's load, frequency or
//! the other tenant on a shared core, so a regression of a few percent in the queue shows up
//! here where the wall-clock bench would drown it in noise. They do not see cache misses, which is
//! why the large N = 10^6 case stays in the wall-clock bench only (and why Callgrind would take
//! minutes to fill it).
//!
//! Filling the queue happens in the setup function, which gungraun runs outside the measured
//! region; only the [`OPS`] holds are counted. Instructions per hold = total / [`OPS`]. A third
//! benchmark counts the [`OPS`] random increments alone, so the queue's share can be read off.
//!
//! Run: `cargo bench -p sim-benches --bench hold_iai` (needs valgrind and `gungraun-runner` 0.20
//! on the PATH: `cargo install gungraun-runner --version 0.20.0`).

use std::hint::black_box;

use gungraun::{library_benchmark, library_benchmark_group, main};
use sim_benches::hold::Hold;

/// Holds measured per benchmark.
const OPS: u64 = 100_000;

/// Builds and fills the queue (not measured).
fn filled(n: usize) -> Hold {
    Hold::new(n, 42)
}

#[library_benchmark]
#[bench::n_1e3(args = (1_000), setup = filled)]
#[bench::n_1e5(args = (100_000), setup = filled)]
fn hold_100k_ops(mut h: Hold) -> Hold {
    black_box(h.run(black_box(OPS)));
    // Returned so that freeing the queue happens after the measured region.
    h
}

// The random-number share of a hold: OPS exponential draws from the same stream, no queue.
// Instructions of a hold minus this are the queue's (one pop, one push). (Plain comments: the
// `library_benchmark` attribute refuses doc attributes.)
#[library_benchmark]
#[bench::draws(args = (1_000), setup = filled)]
fn draws_100k(mut h: Hold) -> Hold {
    black_box(h.draws_only(black_box(OPS)));
    h
}

library_benchmark_group!(name = hold_group, benchmarks = [hold_100k_ops, draws_100k]);

main!(library_benchmark_groups = hold_group);

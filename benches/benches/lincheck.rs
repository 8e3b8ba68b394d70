//! The linearizability checker's time against history length: histories of a real register
//! (linearizable, so the search must find an order for every operation) with 1,000 to 100,000
//! operations and 4 or 16 concurrent clients. Wall clock, one run each after one warm-up.
//!
//! `cargo bench -p sim-benches --bench lincheck` (about 10 s).

use std::time::Instant;

use models::lincheck::generate::register_history;
use models::lincheck::{DEFAULT_BUDGET, Verdict, check, parse_history};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks benches to list themselves
    }
    println!(
        "{:>10} {:>8} {:>10} {:>12} {:>14}",
        "operations", "clients", "check s", "ops/s", "verdict"
    );
    for clients in [4usize, 16] {
        for ops in [1_000usize, 10_000, 100_000] {
            let text = register_history(7, clients, ops);
            let parsed = parse_history(&text).expect("a generated history parses");
            let _ = check(&parsed, DEFAULT_BUDGET); // warm-up
            let started = Instant::now();
            let reports = check(&parsed, DEFAULT_BUDGET);
            let secs = started.elapsed().as_secs_f64();
            let verdict = match &reports[0].verdict {
                Verdict::Linearizable => "linearizable".to_string(),
                other => format!("{other:?}"),
            };
            println!(
                "{ops:>10} {clients:>8} {secs:>10.4} {:>12.0} {verdict:>14}",
                ops as f64 / secs
            );
        }
    }
}

//! sim's benchmarks: the workloads, kept in a library so the criterion benches, the Valgrind
//! (gungraun) benches and the tests all run exactly the same code.
//!
//! - [`hold`]: the classic *hold model* on [`simcore::queue::EventQueue`] alone, the standard way to
//!   measure a pending-event set independently of any model.
//! - [`mm1_floor`]: a hand-written M/M/1 event loop, the *floor* the general engine is compared
//!   against: what an M/M/1 costs when nothing but the M/M/1 is computed.
//! - [`breakdown`]: the steps between the floor and the engine (engine queue, engine loop with a
//!   lean model, the general model), so the M/M/1 bench can say where the engine's time goes.
//! - [`disk_floor`]: `disk-bench.scn`'s random reads served straight on the HDD model, one after
//!   another: the floor the disk bench compares `sim run` against.
//!
//! - [`cache_peer`]: libCacheSim as the cache policies' peer (what must agree, and the call).
//! - [`figures`]: how the benches summarise and print runs (medians, rate spreads, `12.35M`).
//! - [`python_peer`]: running a Python peer (SimPy's) that prints one JSON line.
//!
//! The benches themselves live in `benches/benches/`; what they measure and the numbers measured
//! are in `BENCHMARKS.md` at the repository root.

pub mod breakdown;
pub mod cache_peer;
pub mod disk_floor;
pub mod figures;
pub mod hold;
pub mod mm1_floor;
pub mod python_peer;

/// The number in environment variable `name` (underscores allowed: `1_000`), `None` when it is
/// not set: how every bench takes its sizes (`SIM_BENCH_REPS`, ...).
pub fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    match std::env::var(name) {
        Ok(text) => {
            let cleaned = text.trim().replace('_', "");
            cleaned
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}={text:?} is not a positive whole number"))
        }
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// CPU seconds this process has used so far (all threads, live and ended), from
/// `/proc/self/stat` (utime + stime, in Linux's fixed USER_HZ of 100 ticks per second); `None`
/// where there is no such file. The bench runs on shared machines: CPU over wall time says how
/// many cores a pool really got.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

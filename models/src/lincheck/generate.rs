//! Histories of a real register under concurrent clients: linearizable by construction (each
//! operation takes effect at one instant between its call and its completion). For tests and
//! benchmarks of the checker, and as examples of the format.

use simcore::RngStream;

/// A history of `operations` reads, writes and cas (values 0..5) by `processes` clients on one
/// key, interleaved at random under `seed`.
pub fn register_history(seed: u64, processes: usize, operations: usize) -> String {
    let processes = processes.max(1);
    let mut rng = RngStream::derive(seed, "lincheck.history");
    let mut reg: Option<i64> = None;
    // Per process: the operation in flight, its completion line once it took effect.
    let mut inflight: Vec<Option<(String, Option<String>)>> = vec![None; processes];
    let mut out = String::new();
    let mut started = 0;
    while started < operations || inflight.iter().any(Option::is_some) {
        let p = rng.below(processes as u64) as usize;
        match inflight[p].take() {
            None if started < operations => {
                started += 1;
                let f = match rng.below(3) {
                    0 => format!("write {}", rng.below(5)),
                    1 => "read _".to_string(),
                    _ => format!("cas {} {}", rng.below(5), rng.below(5)),
                };
                out.push_str(&format!("p{p} invoke {f}\n"));
                inflight[p] = Some((f, None));
            }
            None => {}
            Some((f, None)) => {
                // The operation takes effect now, between its call and its completion.
                let done = if let Some(v) = f.strip_prefix("write ") {
                    reg = v.parse().ok();
                    format!("ok {f}")
                } else if f == "read _" {
                    format!("ok read {}", reg.map_or("nil".into(), |v| v.to_string()))
                } else {
                    let mut it = f[4..].split(' ').filter_map(|x| x.parse::<i64>().ok());
                    let (old, new) = (it.next(), it.next());
                    if reg.is_some() && reg == old {
                        reg = new;
                        format!("ok {f}")
                    } else {
                        // It answered that the register held another value: an observation.
                        format!("ok {f} false")
                    }
                };
                inflight[p] = Some((f, Some(done)));
            }
            Some((_, Some(done))) => out.push_str(&format!("p{p} {done}\n")),
        }
    }
    out
}

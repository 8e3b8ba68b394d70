//! The pace of a closed-loop client load: when each client calls next. Each of `clients`
//! clients calls at exponential intervals of mean `clients / rate` after its previous call (so
//! together they offer `rate`), but never before its previous operation ended: one operation
//! in flight per client. A rate change supersedes the call each idle client had queued, so a
//! burst starts at once. The simulated world and `native run` share it, so both offer the same
//! load from the same seed.

use simcore::{RngStream, SimDuration, SimTime};

use crate::raft::workload::next_gap_ns;

/// Per client: the generation of the one queued call that counts, and when its last call began.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: f64,
    generation: Vec<u32>,
    invoked_at: Vec<SimTime>,
}

impl Pacer {
    /// `clients` clients offering `rate` operations per second together.
    pub fn new(clients: usize, rate: f64) -> Self {
        Pacer {
            rate,
            generation: vec![0; clients],
            invoked_at: vec![SimTime::ZERO; clients],
        }
    }

    pub fn clients(&self) -> usize {
        self.generation.len()
    }

    /// Operations per second offered by all clients together.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn set_rate(&mut self, rate: f64) {
        self.rate = rate;
    }

    /// Client `c` called at `now`.
    pub fn invoked(&mut self, c: usize, now: SimTime) {
        self.invoked_at[c] = now;
    }

    /// When client `c`'s current operation began.
    pub fn invoked_at(&self, c: usize) -> SimTime {
        self.invoked_at[c]
    }

    /// Whether a queued call of client `c` with `generation` is still the one that counts.
    #[inline]
    pub fn is_current(&self, c: usize, generation: u32) -> bool {
        self.generation[c] == generation
    }

    /// Client `c`'s next call, one draw from `rng`: its time (never before `now`) and the
    /// generation that makes it the one that counts; none while the rate is not positive.
    pub fn next(&mut self, c: usize, now: SimTime, rng: &mut RngStream) -> Option<(SimTime, u32)> {
        if self.rate <= 0.0 {
            return None;
        }
        let gap = next_gap_ns(self.generation.len(), self.rate, rng);
        let at = self.invoked_at[c]
            .saturating_add(SimDuration::from_nanos_f64(gap))
            .max(now);
        let g = &mut self.generation[c];
        *g = g.wrapping_add(1);
        Some((at, *g))
    }

    /// The rate changed at `now`: each idle client (`busy` says which are not) draws its next
    /// call again from now; `schedule` gets (client, time, generation) of each, in client order.
    pub fn restart_idle(
        &mut self,
        now: SimTime,
        busy: impl Fn(usize) -> bool,
        rng: &mut RngStream,
        mut schedule: impl FnMut(usize, SimTime, u32),
    ) {
        for c in 0..self.generation.len() {
            if !busy(c) {
                self.invoked_at[c] = self.invoked_at[c].max(now);
                if let Some((at, g)) = self.next(c, now, rng) {
                    schedule(c, at, g);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_together_offer_the_rate() {
        let mut p = Pacer::new(4, 400.0);
        let mut rng = RngStream::derive(1, "t");
        let n = 20_000;
        let mut total = 0.0;
        for i in 0..n {
            let c = i % 4;
            let before = p.invoked_at(c);
            let (at, _) = p.next(c, SimTime::ZERO, &mut rng).unwrap();
            total += at.saturating_since(before).as_secs_f64();
            p.invoked(c, at);
        }
        // Each client's mean gap is 4 / 400 = 10 ms.
        let mean = total / n as f64;
        assert!((mean - 0.010).abs() < 0.0005, "mean gap {mean}");
    }

    #[test]
    fn a_rate_change_supersedes_idle_clients_calls() {
        let mut p = Pacer::new(2, 10.0);
        let mut rng = RngStream::derive(1, "t");
        let (_, g0) = p.next(0, SimTime::ZERO, &mut rng).unwrap();
        p.set_rate(0.0);
        let mut got = Vec::new();
        p.restart_idle(
            SimTime::from_nanos(5),
            |c| c == 1,
            &mut rng,
            |c, t, g| got.push((c, t, g)),
        );
        assert!(got.is_empty(), "no call at rate 0");
        p.set_rate(100.0);
        p.restart_idle(
            SimTime::from_nanos(5),
            |c| c == 1,
            &mut rng,
            |c, t, g| got.push((c, t, g)),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 0);
        assert!(!p.is_current(0, g0), "the old call no longer counts");
        assert!(p.is_current(0, got[0].2));
        assert!(got[0].1 >= SimTime::from_nanos(5));
    }
}

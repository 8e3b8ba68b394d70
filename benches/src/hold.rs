//! The hold model: the standard benchmark of a pending-event set (Jones, "An empirical comparison
//! of priority-queue and event-set implementations", CACM 1986).
//!
//! The queue is filled with `n` pending events; then each *hold* operation pops the earliest event
//! and pushes one new event at the popped time plus a random increment. The queue size stays at
//! `n`, so the cost of one hold is the cost of one pop and one push at that size, which is what an
//! event loop pays per event before any model code runs.
//!
//! Increments are exponential with mean [`MEAN_INCREMENT_NS`] (1 ms), drawn from a
//! [`simcore::RngStream`] through [`simcore::Dist`], so the random-number cost per hold is the same
//! one a model pays for one exponential draw. The payload is a `u64`, about the size of a small
//! model event.

use simcore::queue::EventQueue;
use simcore::{Dist, RngStream, SimDuration, SimTime};

/// Mean of the exponential increment, in nanoseconds (1 ms).
pub const MEAN_INCREMENT_NS: f64 = 1e6;

/// A pending-event set held at a fixed size, with the random stream that drives it.
pub struct Hold {
    queue: EventQueue<u64>,
    rng: RngStream,
    increment: Dist,
    next_id: u64,
}

impl Hold {
    /// A queue pre-filled with `n` events at exponential times from zero (seeded, so the same `n`
    /// and `seed` always give the same queue and the same sequence of holds).
    pub fn new(n: usize, seed: u64) -> Hold {
        let increment = Dist::exponential(MEAN_INCREMENT_NS)
            .unwrap_or_else(|e| unreachable!("a positive constant mean: {e}"));
        let mut hold = Hold {
            queue: EventQueue::with_capacity_limit(n.max(1)),
            rng: RngStream::derive(seed, "hold.increment"),
            increment,
            next_id: 0,
        };
        for _ in 0..n {
            let at = SimTime::from_nanos(hold.draw().as_nanos());
            hold.push(at);
        }
        hold
    }

    #[inline]
    fn draw(&mut self) -> SimDuration {
        SimDuration::from_nanos_f64(self.increment.sample(&mut self.rng))
    }

    #[inline]
    fn push(&mut self, at: SimTime) {
        // The queue never holds more than `n` (one pop precedes every push after the fill), so
        // a refusal would be a bug in this harness, not a property of the queue being measured.
        if self.queue.push(at, self.next_id).is_err() {
            unreachable!("hold model: queue refused a push below its capacity");
        }
        self.next_id += 1;
    }

    /// One hold: pop the earliest event, push one at its time plus an increment. Returns the
    /// popped event's time (so callers can `black_box` it and the work cannot be optimised away).
    #[inline]
    pub fn step(&mut self) -> SimTime {
        let Some((now, _id)) = self.queue.pop() else {
            return SimTime::ZERO; // n = 0: nothing to hold
        };
        let d = self.draw();
        self.push(now.checked_add(d).unwrap_or(SimTime::MAX));
        now
    }

    /// `ops` holds; returns the time of the last event popped.
    pub fn run(&mut self, ops: u64) -> SimTime {
        let mut last = SimTime::ZERO;
        for _ in 0..ops {
            last = self.step();
        }
        last
    }

    /// `ops` increment draws and nothing else: the share of a hold that is random-number work,
    /// so that a hold's cost minus this is the queue's. Returns the sum of the draws in ns.
    pub fn draws_only(&mut self, ops: u64) -> u64 {
        let mut sum = 0u64;
        for _ in 0..ops {
            sum = sum.wrapping_add(self.draw().as_nanos());
        }
        sum
    }

    /// Pending events (always the `n` the queue was built with).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_stays_constant_and_time_never_goes_back() {
        let mut h = Hold::new(1000, 7);
        assert_eq!(h.len(), 1000);
        let mut prev = SimTime::ZERO;
        for _ in 0..10_000 {
            let t = h.step();
            assert!(t >= prev, "{t} < {prev}");
            prev = t;
        }
        assert_eq!(h.len(), 1000);
    }

    #[test]
    fn same_seed_same_holds() {
        assert_eq!(Hold::new(100, 3).run(5000), Hold::new(100, 3).run(5000));
        assert_ne!(Hold::new(100, 3).run(5000), Hold::new(100, 4).run(5000));
    }
}

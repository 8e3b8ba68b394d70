//! What a caller does about a request that fails or is slow, sans-IO: backoff with jitter
//! between retries, a retry budget, a circuit breaker. The caller (a client load, or a service
//! calling another) keeps one [`CallPolicy`] and the state these give it, and asks them at each
//! attempt, timeout and outcome.
//!
//! - [`Backoff`]: the wait before retry k is `base * 2^(k-1)`, capped at `max`, then jittered
//!   as Marc Brooker's "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015) defines:
//!   none, *full* (uniform on `[0, d)`), *equal* (`d/2` plus uniform on `[0, d/2)`) or
//!   *decorrelated* (uniform on `[base, 3 * previous)`, capped). Jitter spreads the retries of
//!   callers that failed together, so they do not come back together.
//! - [`RetryBudget`]: retries may be at most a fraction of requests over a rolling 10 s window,
//!   plus 10 retries a second whatever the load (Finagle's `RetryBudget`: the same window and
//!   minimum, a percentage the scenario sets). A budget caps the load retries add at `1 + ratio`
//!   times the offered load, which is what keeps a retry storm from feeding itself.
//! - [`Breaker`]: a circuit breaker as Hystrix and resilience4j run one. Closed, it counts
//!   outcomes over a rolling window; when at least [`Breaker::MIN_CALLS`] calls ended in the
//!   window and the failed fraction reaches the threshold, it opens: calls fail at once, without
//!   being sent, for the cooldown. Then it is half open: one trial call goes out; its success
//!   closes the breaker (with a fresh window), its failure opens it again.

use simcore::{RngStream, SimDuration, SimTime};

/// How a retry's wait is jittered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
    Equal,
    Decorrelated,
}

impl Jitter {
    pub const NAMES: &'static [&'static str] = &["none", "full", "equal", "decorrelated"];

    pub fn from_name(name: &str) -> Option<Jitter> {
        Some(match name {
            "none" => Jitter::None,
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            _ => return None,
        })
    }
}

/// Exponential backoff between retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: SimDuration,
    pub max: SimDuration,
    pub jitter: Jitter,
}

impl Backoff {
    /// The wait before retry `retry` (1 for the first), given the previous wait (for
    /// decorrelated jitter; zero before the first retry). One draw from `rng`, none without
    /// jitter.
    pub fn delay(&self, retry: u32, previous: SimDuration, rng: &mut RngStream) -> SimDuration {
        let base = self.base.as_nanos();
        let max = self.max.as_nanos().max(base);
        let exp = retry.saturating_sub(1).min(62);
        let d = base.saturating_mul(1u64 << exp).min(max);
        let ns = match self.jitter {
            Jitter::None => d,
            Jitter::Full => (rng.next_f64() * d as f64) as u64,
            Jitter::Equal => d / 2 + (rng.next_f64() * (d / 2) as f64) as u64,
            Jitter::Decorrelated => {
                let high = previous.as_nanos().max(base).saturating_mul(3);
                let ns = base as f64 + rng.next_f64() * (high - base) as f64;
                (ns as u64).min(max)
            }
        };
        SimDuration::from_nanos(ns)
    }
}

/// A circuit breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// The failed fraction of the window's calls that opens the breaker.
    pub threshold: f64,
    /// The rolling window over which outcomes are counted.
    pub window: SimDuration,
    /// How long the breaker stays open before letting a trial call through.
    pub cooldown: SimDuration,
}

/// Everything a caller does about slow and failed requests.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPolicy {
    /// How long one attempt may take before the caller gives up on it (none: forever).
    pub timeout: Option<SimDuration>,
    /// Attempts after the first, at most.
    pub retries: u32,
    pub backoff: Backoff,
    /// Retries as a fraction of requests over the budget's window (none: no budget).
    pub budget: Option<f64>,
    pub breaker: Option<BreakerConfig>,
    /// After this long without a response, send one more copy to another instance; the first
    /// response wins.
    pub hedge: Option<SimDuration>,
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            timeout: None,
            retries: 0,
            backoff: Backoff {
                base: SimDuration::from_millis(10),
                max: SimDuration::from_secs(1),
                jitter: Jitter::Full,
            },
            budget: None,
            breaker: None,
            hedge: None,
        }
    }
}

/// Counts over a rolling window of [`BUCKETS`] equal buckets: a count older than the
/// window falls out a bucket at a time (as Hystrix's and Finagle's windows do).
#[derive(Debug, Clone)]
pub struct Rolling<const K: usize> {
    width: u64,
    /// The bucket number (time / width) the newest bucket holds.
    newest: u64,
    counts: [[u64; K]; BUCKETS],
}

/// The buckets of a [`Rolling`] window.
pub const BUCKETS: usize = 10;

impl<const K: usize> Rolling<K> {
    pub fn new(window: SimDuration) -> Self {
        Rolling {
            width: (window.as_nanos() / BUCKETS as u64).max(1),
            newest: 0,
            counts: [[0; K]; BUCKETS],
        }
    }

    /// Moves the window to `now`, clearing buckets that fell out.
    fn roll(&mut self, now: SimTime) {
        let b = now.as_nanos() / self.width;
        if b <= self.newest {
            return;
        }
        let clear = (b - self.newest).min(BUCKETS as u64);
        for i in 1..=clear {
            self.counts[((self.newest + i) % BUCKETS as u64) as usize] = [0; K];
        }
        self.newest = b;
    }

    pub fn add(&mut self, now: SimTime, kind: usize, n: u64) {
        self.roll(now);
        self.counts[(self.newest % BUCKETS as u64) as usize][kind] += n;
    }

    /// The counts of kind `kind` within the window ending at `now`.
    pub fn sum(&mut self, now: SimTime, kind: usize) -> u64 {
        self.roll(now);
        self.counts.iter().map(|c| c[kind]).sum()
    }

    pub fn clear(&mut self) {
        self.counts = [[0; K]; BUCKETS];
    }
}

/// A retry budget: retries at most `ratio` of first attempts over the last 10 s, plus
/// [`RetryBudget::MIN_PER_SEC`] a second.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    ratio: f64,
    window: Rolling<2>,
}

const REQUESTS: usize = 0;
const RETRIES: usize = 1;

impl RetryBudget {
    pub const WINDOW: SimDuration = SimDuration::from_secs(10);
    pub const MIN_PER_SEC: f64 = 10.0;

    pub fn new(ratio: f64) -> Self {
        RetryBudget {
            ratio,
            window: Rolling::new(Self::WINDOW),
        }
    }

    /// A first attempt was sent.
    pub fn request(&mut self, now: SimTime) {
        self.window.add(now, REQUESTS, 1);
    }

    /// Whether a retry may go now; if so it is counted against the budget.
    pub fn try_retry(&mut self, now: SimTime) -> bool {
        let requests = self.window.sum(now, REQUESTS) as f64;
        let retries = self.window.sum(now, RETRIES) as f64;
        let allowed = self.ratio * requests + Self::MIN_PER_SEC * Self::WINDOW.as_secs_f64();
        if retries + 1.0 <= allowed {
            self.window.add(now, RETRIES, 1);
            true
        } else {
            false
        }
    }
}

/// A circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Calls fail at once until this instant.
    Open {
        until: SimTime,
    },
    /// One trial call is out (or may go when `trial` is false).
    HalfOpen {
        trial: bool,
    },
}

/// A circuit breaker (see the module's documentation).
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    window: Rolling<2>,
    /// Times it opened.
    opened: u64,
}

const OK: usize = 0;
const FAILED: usize = 1;

impl Breaker {
    /// Calls that must have ended in the window before the breaker may open (Hystrix's
    /// `requestVolumeThreshold` default): a few failures at low load do not trip it.
    pub const MIN_CALLS: u64 = 20;

    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            state: BreakerState::Closed,
            window: Rolling::new(config.window),
            opened: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn times_opened(&self) -> u64 {
        self.opened
    }

    /// Whether a call may be sent now. A half-open breaker lets one trial through and refuses
    /// others until its outcome.
    pub fn allow(&mut self, now: SimTime) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { until } if now < until => false,
            BreakerState::Open { .. } | BreakerState::HalfOpen { trial: false } => {
                self.state = BreakerState::HalfOpen { trial: true };
                true
            }
            BreakerState::HalfOpen { trial: true } => false,
        }
    }

    /// A call that was allowed ended, well or not.
    pub fn outcome(&mut self, now: SimTime, ok: bool) {
        match self.state {
            BreakerState::HalfOpen { .. } => {
                if ok {
                    self.state = BreakerState::Closed;
                    self.window.clear();
                } else {
                    self.open(now);
                }
            }
            BreakerState::Open { .. } => {} // a call sent before it opened
            BreakerState::Closed => {
                self.window.add(now, if ok { OK } else { FAILED }, 1);
                let failed = self.window.sum(now, FAILED);
                let total = failed + self.window.sum(now, OK);
                if total >= Self::MIN_CALLS && failed as f64 >= self.config.threshold * total as f64
                {
                    self.open(now);
                }
            }
        }
    }

    fn open(&mut self, now: SimTime) {
        self.state = BreakerState::Open {
            until: now.saturating_add(self.config.cooldown),
        };
        self.opened += 1;
        self.window.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn at(ms: u64) -> SimTime {
        SimTime::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn backoff_doubles_from_base_up_to_max() {
        let b = Backoff {
            base: ms(10),
            max: ms(100),
            jitter: Jitter::None,
        };
        let mut rng = RngStream::derive(1, "t");
        let waits: Vec<u64> = (1..=6)
            .map(|k| b.delay(k, SimDuration::ZERO, &mut rng).as_nanos() / 1_000_000)
            .collect();
        assert_eq!(waits, [10, 20, 40, 80, 100, 100]);
    }

    /// Full jitter is uniform on [0, d): mean d/2; equal jitter on [d/2, d): mean 3d/4;
    /// decorrelated stays within [base, min(max, 3 * previous)).
    #[test]
    fn jitters_draw_from_their_ranges_with_their_means() {
        let mut rng = RngStream::derive(2, "t");
        let n = 20_000;
        let mean = |jitter: Jitter, rng: &mut RngStream| {
            let b = Backoff {
                base: ms(10),
                max: ms(1000),
                jitter,
            };
            let mut sum = 0.0;
            for _ in 0..n {
                let d = b.delay(3, SimDuration::ZERO, rng).as_nanos() as f64 / 1e6;
                assert!(d < 40.0);
                if jitter == Jitter::Equal {
                    assert!(d >= 20.0);
                }
                sum += d;
            }
            sum / n as f64
        };
        assert!((mean(Jitter::Full, &mut rng) - 20.0).abs() < 0.5);
        assert!((mean(Jitter::Equal, &mut rng) - 30.0).abs() < 0.5);
        let b = Backoff {
            base: ms(10),
            max: ms(50),
            jitter: Jitter::Decorrelated,
        };
        let mut prev = SimDuration::ZERO;
        for k in 1..1000 {
            let d = b.delay(k, prev, &mut rng);
            assert!(d >= ms(10) && d <= ms(50), "{d:?}");
            assert!(d.as_nanos() < prev.as_nanos().max(ms(10).as_nanos()) * 3);
            prev = d;
        }
    }

    #[test]
    fn a_budget_allows_its_ratio_of_requests_plus_the_minimum() {
        let mut b = RetryBudget::new(0.1);
        // 1000 requests within one second: 10% of them plus 10/s over the 10 s window.
        for i in 0..1000 {
            b.request(at(i));
        }
        let allowed = (0..1000).filter(|_| b.try_retry(at(999))).count();
        assert_eq!(allowed, 100 + 100);
        // Eleven seconds later everything fell out of the window: only the minimum.
        let later = (0..1000).filter(|_| b.try_retry(at(12_000))).count();
        assert_eq!(later, 100);
    }

    #[test]
    fn a_window_forgets_a_bucket_at_a_time() {
        let mut w: Rolling<1> = Rolling::new(SimDuration::from_secs(10));
        w.add(at(500), 0, 5);
        w.add(at(5_500), 0, 7);
        assert_eq!(w.sum(at(9_999), 0), 12);
        assert_eq!(
            w.sum(at(10_000), 0),
            7,
            "the first second's bucket fell out"
        );
        assert_eq!(w.sum(at(15_000), 0), 0);
    }

    #[test]
    fn a_breaker_opens_on_failures_waits_and_closes_after_a_good_trial() {
        let mut b = Breaker::new(BreakerConfig {
            threshold: 0.5,
            window: SimDuration::from_secs(10),
            cooldown: SimDuration::from_secs(5),
        });
        // 19 failures: not enough calls yet to judge.
        for i in 0..19 {
            assert!(b.allow(at(i)));
            b.outcome(at(i), false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.outcome(at(19), false);
        assert_eq!(b.state(), BreakerState::Open { until: at(5_019) });
        assert!(!b.allow(at(5_000)));
        // Half open: one trial, the others refused while it is out.
        assert!(b.allow(at(5_019)));
        assert!(!b.allow(at(5_020)));
        b.outcome(at(5_030), false);
        assert_eq!(b.state(), BreakerState::Open { until: at(10_030) });
        assert!(b.allow(at(10_030)));
        b.outcome(at(10_031), true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.times_opened(), 2);
        // Closed with a fresh window: 10 failures in 30 calls stay under 50%.
        for i in 0..30 {
            b.outcome(at(10_100 + i), i % 3 != 0);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_breaker_opens_at_its_threshold_and_not_below() {
        let mut b = Breaker::new(BreakerConfig {
            threshold: 0.5,
            window: SimDuration::from_secs(10),
            cooldown: SimDuration::from_secs(5),
        });
        for i in 0..1000 {
            b.outcome(at(i), i % 3 == 0); // two thirds fail
        }
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        let mut c = Breaker::new(BreakerConfig {
            threshold: 0.5,
            window: SimDuration::from_secs(10),
            cooldown: SimDuration::from_secs(5),
        });
        for i in 0..1000 {
            c.outcome(at(i), i % 3 != 0); // a third fail
        }
        assert_eq!(c.state(), BreakerState::Closed);
    }
}

//! The M/M/1 *floor*: a hand-written, M/M/1-only event loop, the least work a discrete-event M/M/1
//! can do in Rust. The general engine (`sim run`, [`simcore::Simulation`] with
//! [`models::queueing::QNet`]) is measured against it: the ratio says what the engine's generality
//! (the model interface, trace hashing, metrics, routing) costs over this loop.
//!
//! To make the comparison about cost and not about different work, the floor draws the *same*
//! random numbers as `scenarios/mm1-bench.scn`: the same generator ([`RngStream`], ChaCha8), the
//! same stream names (`arrivals.interarrival`, `server.service`), the same inverse transform
//! (`-mean * ln(U)`, `U` in `(0, 1]`, with `libm::log`) and the same rounding to whole
//! nanoseconds. With the same seed it therefore serves the same customers at the same instants and
//! its total wait equals the engine's to the nanosecond (checked in the tests below).
//!
//! What it leaves out, on purpose: the trace hash, metrics other than the wait sum (no histograms,
//! no time-weighted gauges), routing, customer records, and any indirection through a model trait.
//! The pending-event set is a plain `std::collections::BinaryHeap` of `(time_ns, kind)`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use simcore::RngStream;

/// Arrival rate of the benchmark M/M/1, per second (`scenarios/mm1-bench.scn`).
pub const ARRIVAL_RATE_PER_S: f64 = 0.9;
/// Service rate of the benchmark M/M/1, per second.
pub const SERVICE_RATE_PER_S: f64 = 1.0;

/// What one floor run computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mm1Floor {
    /// Mean time in queue (not counting service) over all customers, in seconds.
    pub mean_wait_s: f64,
    /// Customers served (all of them: the run drains).
    pub customers: u64,
    /// Events processed: one arrival and one departure per customer.
    pub events: u64,
    /// Sum of all waits, in nanoseconds (exact, for comparison with the engine's histogram sum).
    pub wait_sum_ns: u128,
    /// Virtual time of the last departure, in nanoseconds.
    pub end_time_ns: u64,
}

impl Mm1Floor {
    /// The result from a run's totals.
    pub fn from_totals(wait_sum_ns: u128, served: u64, events: u64, end_time_ns: u64) -> Self {
        let mean_wait_ns = if served == 0 {
            0.0
        } else {
            wait_sum_ns as f64 / served as f64
        };
        Mm1Floor {
            mean_wait_s: mean_wait_ns / 1e9,
            customers: served,
            events,
            wait_sum_ns,
            end_time_ns,
        }
    }
}

const ARRIVAL: u8 = 0;
const DEPARTURE: u8 = 1;

/// One exponential draw with mean `mean_ns`, rounded to the nearest nanosecond exactly as
/// `simcore::SimDuration::from_nanos_f64` rounds a sample (`-ln(U) >= 0`, so no sign check).
#[inline(always)]
fn exp_ns(rng: &mut RngStream, mean_ns: f64) -> u64 {
    let x = -mean_ns * libm::log(rng.next_f64_open0());
    (x + 0.5) as u64
}

/// The benchmark M/M/1 (λ = 0.9/s, μ = 1/s) with `customers` customers and `seed`.
pub fn run_mm1(customers: u64, seed: u64) -> Mm1Floor {
    run_mm1_with(customers, seed, ARRIVAL_RATE_PER_S, SERVICE_RATE_PER_S)
}

/// An M/M/1 with arrival rate `lambda` and service rate `mu` (per second): `customers` arrive,
/// the first one interarrival time after zero, and the run ends when the last one departs.
pub fn run_mm1_with(customers: u64, seed: u64, lambda: f64, mu: f64) -> Mm1Floor {
    let mean_interarrival_ns = 1e9 / lambda;
    let mean_service_ns = 1e9 / mu;
    let mut arrivals_rng = RngStream::derive(seed, "arrivals.interarrival");
    let mut service_rng = RngStream::derive(seed, "server.service");

    // At most two events are ever pending (the next arrival, the current departure).
    let mut heap: BinaryHeap<Reverse<(u64, u8)>> = BinaryHeap::with_capacity(4);
    // Arrival times of the customers waiting (not the one in service).
    let mut waiting: VecDeque<u64> = VecDeque::with_capacity(1024);
    let mut busy = false;
    let mut left = customers;
    let mut wait_sum_ns: u128 = 0;
    let mut served: u64 = 0;
    let mut events: u64 = 0;
    let mut now: u64 = 0;

    if left > 0 {
        heap.push(Reverse((
            exp_ns(&mut arrivals_rng, mean_interarrival_ns),
            ARRIVAL,
        )));
    }
    while let Some(Reverse((t, kind))) = heap.pop() {
        now = t;
        events += 1;
        if kind == ARRIVAL {
            left -= 1;
            if left > 0 {
                let gap = exp_ns(&mut arrivals_rng, mean_interarrival_ns);
                heap.push(Reverse((now.saturating_add(gap), ARRIVAL)));
            }
            if busy {
                waiting.push_back(now);
            } else {
                busy = true; // waits zero
                let s = exp_ns(&mut service_rng, mean_service_ns);
                heap.push(Reverse((now.saturating_add(s), DEPARTURE)));
            }
        } else {
            served += 1;
            if let Some(arrived) = waiting.pop_front() {
                wait_sum_ns += u128::from(now - arrived);
                let s = exp_ns(&mut service_rng, mean_service_ns);
                heap.push(Reverse((now.saturating_add(s), DEPARTURE)));
            } else {
                busy = false;
            }
        }
    }
    Mm1Floor::from_totals(wait_sum_ns, served, events, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::queueing::{QNet, QNetConfig, Route, SourceConfig, StationConfig, Target};
    use simcore::{Dist, MetricValue, SimConfig, Simulation, StopAt};

    /// The floor computes the M/M/1 it claims to: Wq = ρ / (μ - λ) = 0.9 / 0.1 = 9 s. At ρ = 0.9
    /// waits are strongly correlated; over 2·10^6 customers the standard error of the mean is
    /// about 1.6%, so 5% is a three-sigma check (and the seed is fixed, so it never flakes).
    #[test]
    fn mean_wait_is_rho_over_mu_minus_lambda() {
        let r = run_mm1(2_000_000, 1);
        assert_eq!(r.customers, 2_000_000);
        assert_eq!(r.events, 4_000_000);
        let err = (r.mean_wait_s - 9.0).abs() / 9.0;
        assert!(
            err <= 0.05,
            "mean wait {:.4} s, {:.2}% from 9 s",
            r.mean_wait_s,
            err * 100.0
        );
    }

    /// The floor and the engine do the same work: with the same seed, the same streams and the same
    /// rounding, the engine's M/M/1 (as `mm1-bench.scn` builds it) has exactly the same total wait,
    /// event count and end time. If this ever fails, the floor no longer measures the same thing.
    #[test]
    fn same_customers_as_the_engine() {
        let customers = 100_000;
        let floor = run_mm1(customers, 1);
        let config = QNetConfig {
            sources: vec![SourceConfig {
                name: "arrivals".into(),
                interarrival: Dist::exponential(1e9 / ARRIVAL_RATE_PER_S).unwrap(),
                customers: Some(customers),
                route: Route::to(Target::Station("server".into())),
            }],
            stations: vec![StationConfig {
                name: "server".into(),
                servers: 1,
                service: Dist::exponential(1e9 / SERVICE_RATE_PER_S).unwrap(),
                route: Route::to(Target::Exit),
                queue_limit: None,
            }],
            ..Default::default()
        };
        let (r, _) = Simulation::new(QNet::new(config).unwrap(), SimConfig::new(1))
            .run(StopAt::default())
            .unwrap();
        assert_eq!(r.events, floor.events);
        assert_eq!(r.end_time.as_nanos(), floor.end_time_ns);
        let Some(MetricValue::Histogram { count, mean, .. }) = r.metrics.get("server.wait") else {
            panic!("no server.wait histogram");
        };
        assert_eq!(*count, customers);
        assert_eq!(*mean, floor.wait_sum_ns as f64 / customers as f64);
    }

    #[test]
    fn no_customers_no_events() {
        let r = run_mm1(0, 1);
        assert_eq!((r.customers, r.events, r.mean_wait_s), (0, 0, 0.0));
    }
}

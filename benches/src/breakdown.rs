//! Steps between the [floor](crate::mm1_floor) and the engine, for seeing where the engine's time
//! goes without a profiler. Each step changes one thing from the previous one:
//!
//! 1. [`crate::mm1_floor::run_mm1`]: the floor, `std::collections::BinaryHeap` of `(time, kind)`.
//! 2. [`floor_on_event_queue`]: the same loop on [`simcore::queue::EventQueue`] (the engine's
//!    pending-event set: `u128` keys with an insertion sequence, a capacity check, tombstones).
//! 3. [`lean_model_on_engine`]: a minimal M/M/1 [`Model`] run by [`Simulation`]: adds the
//!    engine's loop (the trace hash over every event, the `Ctx` indirection, the stop checks,
//!    stream lookup) but keeps no metrics beyond the wait sum.
//! 4. [`qnet_on_engine`]: the general queueing-network model (`models::queueing::QNet`), as
//!    `mm1-bench.scn` builds it, run in-process: adds customer records, routing, HDR-style histograms
//!    and time-weighted gauges.
//! 5. `scenarios::run_file`: step 4 plus parsing, checking and summarising the scenario.
//!
//! Two isolated costs complete the picture: [`trace_hash_only`] (what folding a customer's two
//! events into the trace hash costs) and [`metrics_only`] (what the QNet's metric updates for one
//! customer cost), each doing that work and nothing else.
//!
//! All five steps draw the same random numbers and serve the same customers at the same instants (the
//! tests check that the first four agree to the nanosecond), so differences in speed are
//! differences in overhead only.

use simcore::metrics::Metrics;
use simcore::queue::EventQueue;
use simcore::trace::{RecordKind, Trace};
use simcore::{
    Ctx, Dist, Encoder, MetricValue, Model, RngStream, SimConfig, SimDuration, SimError, SimTime,
    Simulation, StopAt, StreamId, TraceEvent,
};

use crate::mm1_floor::{ARRIVAL_RATE_PER_S, Mm1Floor, SERVICE_RATE_PER_S};
use models::queueing::{QEvent, QNet, QNetConfig, Route, SourceConfig, StationConfig, Target};

const ARRIVAL: u8 = 0;
const DEPARTURE: u8 = 1;

#[inline(always)]
fn exp_ns(rng: &mut RngStream, mean_ns: f64) -> u64 {
    let x = -mean_ns * libm::log(rng.next_f64_open0());
    (x + 0.5) as u64
}

/// Never more than two events are pending, so the queue's capacity of 4 is never reached.
#[inline(always)]
fn push(q: &mut EventQueue<u8>, t: u64, kind: u8) {
    let _ = q.push(SimTime::from_nanos(t), kind);
}

/// Step 2: the floor's loop with the engine's [`EventQueue`] in place of `BinaryHeap`.
pub fn floor_on_event_queue(customers: u64, seed: u64) -> Mm1Floor {
    let mean_ia = 1e9 / ARRIVAL_RATE_PER_S;
    let mean_s = 1e9 / SERVICE_RATE_PER_S;
    let mut arrivals_rng = RngStream::derive(seed, "arrivals.interarrival");
    let mut service_rng = RngStream::derive(seed, "server.service");
    let mut queue: EventQueue<u8> = EventQueue::with_capacity_limit(4);
    let mut waiting = std::collections::VecDeque::with_capacity(1024);
    let (mut busy, mut left) = (false, customers);
    let (mut wait_sum_ns, mut served, mut events, mut now) = (0u128, 0u64, 0u64, 0u64);
    if left > 0 {
        push(&mut queue, exp_ns(&mut arrivals_rng, mean_ia), ARRIVAL);
    }
    while let Some((t, kind)) = queue.pop() {
        now = t.as_nanos();
        events += 1;
        if kind == ARRIVAL {
            left -= 1;
            if left > 0 {
                let gap = exp_ns(&mut arrivals_rng, mean_ia);
                push(&mut queue, now.saturating_add(gap), ARRIVAL);
            }
            if busy {
                waiting.push_back(now);
            } else {
                busy = true;
                let s = exp_ns(&mut service_rng, mean_s);
                push(&mut queue, now.saturating_add(s), DEPARTURE);
            }
        } else {
            served += 1;
            if let Some(arrived) = waiting.pop_front() {
                wait_sum_ns += u128::from(now - arrived);
                let s = exp_ns(&mut service_rng, mean_s);
                push(&mut queue, now.saturating_add(s), DEPARTURE);
            } else {
                busy = false;
            }
        }
    }
    Mm1Floor::from_totals(wait_sum_ns, served, events, now)
}

/// The lean model's events: a tag byte in the trace, like the engine's smallest real event.
#[derive(Debug, Clone, Copy)]
enum LeanEvent {
    Arrival,
    Departure,
}

impl TraceEvent for LeanEvent {
    fn encode(&self, enc: &mut Encoder<'_>) {
        enc.u8(*self as u8);
    }
}

/// An M/M/1 as small as a [`Model`] can be: no metrics, no customer records, no routing.
struct LeanMm1 {
    arrivals: Option<StreamId>,
    service: Option<StreamId>,
    interarrival: Dist,
    service_time: Dist,
    left: u64,
    busy: bool,
    waiting: std::collections::VecDeque<SimTime>,
    wait_sum_ns: u128,
    served: u64,
}

impl LeanMm1 {
    fn draw(ctx: &mut Ctx<'_, LeanEvent>, stream: Option<StreamId>, d: &Dist) -> SimDuration {
        match stream {
            Some(id) => SimDuration::from_nanos_f64(d.sample(ctx.rng(id))),
            None => unreachable!("streams are registered in start()"),
        }
    }
}

impl Model for LeanMm1 {
    type Event = LeanEvent;

    fn start(&mut self, ctx: &mut Ctx<'_, LeanEvent>) -> Result<(), SimError> {
        self.arrivals = Some(ctx.stream("arrivals.interarrival")?);
        self.service = Some(ctx.stream("server.service")?);
        if self.left > 0 {
            let gap = Self::draw(ctx, self.arrivals, &self.interarrival);
            ctx.schedule_in(gap, LeanEvent::Arrival);
        }
        Ok(())
    }

    #[inline]
    fn handle(&mut self, event: LeanEvent, ctx: &mut Ctx<'_, LeanEvent>) {
        let now = ctx.now();
        match event {
            LeanEvent::Arrival => {
                self.left -= 1;
                if self.left > 0 {
                    let gap = Self::draw(ctx, self.arrivals, &self.interarrival);
                    ctx.schedule_in(gap, LeanEvent::Arrival);
                }
                if self.busy {
                    self.waiting.push_back(now);
                } else {
                    self.busy = true;
                    let s = Self::draw(ctx, self.service, &self.service_time);
                    ctx.schedule_in(s, LeanEvent::Departure);
                }
            }
            LeanEvent::Departure => {
                self.served += 1;
                if let Some(arrived) = self.waiting.pop_front() {
                    self.wait_sum_ns += u128::from(now.saturating_since(arrived).as_nanos());
                    let s = Self::draw(ctx, self.service, &self.service_time);
                    ctx.schedule_in(s, LeanEvent::Departure);
                } else {
                    self.busy = false;
                }
            }
        }
    }
}

fn exponential(mean_ns: f64) -> Dist {
    Dist::exponential(mean_ns).unwrap_or_else(|e| unreachable!("a positive constant mean: {e}"))
}

/// Step 3: the lean M/M/1 model on the engine.
pub fn lean_model_on_engine(customers: u64, seed: u64) -> Result<Mm1Floor, SimError> {
    let model = LeanMm1 {
        arrivals: None,
        service: None,
        interarrival: exponential(1e9 / ARRIVAL_RATE_PER_S),
        service_time: exponential(1e9 / SERVICE_RATE_PER_S),
        left: customers,
        busy: false,
        waiting: std::collections::VecDeque::with_capacity(1024),
        wait_sum_ns: 0,
        served: 0,
    };
    let (r, m) = Simulation::new(model, SimConfig::new(seed)).run(StopAt::default())?;
    Ok(Mm1Floor::from_totals(
        m.wait_sum_ns,
        m.served,
        r.events,
        r.end_time.as_nanos(),
    ))
}

/// The benchmark M/M/1 as `scenarios/mm1-bench.scn` builds it (same names, so same streams).
pub fn mm1_qnet_config(customers: u64) -> QNetConfig {
    QNetConfig {
        sources: vec![SourceConfig {
            name: "arrivals".into(),
            interarrival: exponential(1e9 / ARRIVAL_RATE_PER_S),
            customers: Some(customers),
            route: Route::to(Target::Station("server".into())),
        }],
        stations: vec![StationConfig {
            name: "server".into(),
            servers: 1,
            service: exponential(1e9 / SERVICE_RATE_PER_S),
            route: Route::to(Target::Exit),
            queue_limit: None,
        }],
        ..Default::default()
    }
}

/// Step 4: the general queueing-network model on the engine, in-process (no scenario file).
/// `wait_sum_ns` is rebuilt from the histogram's exact mean, so it may differ from the floor's
/// in the last bits of the float when the sum is beyond 2^53 ns.
pub fn qnet_on_engine(customers: u64, seed: u64) -> Result<Mm1Floor, SimError> {
    let qnet = QNet::new(mm1_qnet_config(customers)).map_err(|e| SimError::Setup(e.to_string()))?;
    let (r, _) = Simulation::new(qnet, SimConfig::new(seed)).run(StopAt::default())?;
    let (count, mean) = match r.metrics.get("server.wait") {
        Some(MetricValue::Histogram { count, mean, .. }) => (*count, *mean),
        _ => (0, 0.0),
    };
    Ok(Mm1Floor {
        mean_wait_s: mean / 1e9,
        customers: count,
        events: r.events,
        wait_sum_ns: (mean * count as f64) as u128,
        end_time_ns: r.end_time.as_nanos(),
    })
}

/// The trace hash alone: per customer, the two records the engine folds in for the M/M/1 (an
/// arrival and a departure, encoded as `QNet` encodes them). Returns the hash.
pub fn trace_hash_only(customers: u64) -> u64 {
    let mut trace = Trace::new();
    for id in 0..customers {
        let now = SimTime::from_nanos(id.wrapping_mul(1_111_111_111));
        trace.record(RecordKind::Event, now, &QEvent::Arrival { source: 0 });
        let departure = QEvent::Departure {
            station: 0,
            slot: 0,
        };
        trace.record(RecordKind::Event, now, &departure);
    }
    trace.hash()
}

/// The metric updates `QNet` makes for one M/M/1 customer, alone: three histogram records (wait,
/// sojourn, response), four time-weighted gauge updates (in-system twice, busy or queue length
/// twice) and three counter increments (arrivals, served, exited). Values are spread over the
/// same magnitudes as real waits (nanoseconds up to minutes). Returns the snapshot's size, so the
/// work is observable.
pub fn metrics_only(customers: u64) -> usize {
    let mut m = Metrics::new();
    let (Ok(wait), Ok(sojourn), Ok(response)) = (
        m.histogram("server", "wait", simcore::Unit::Ns),
        m.histogram("server", "sojourn", simcore::Unit::Ns),
        m.histogram("system", "response", simcore::Unit::Ns),
    ) else {
        unreachable!("fixed, valid metric names");
    };
    let (Ok(in_system), Ok(busy), Ok(queue_len)) = (
        m.gauge("system", "in_system"),
        m.gauge("server", "busy"),
        m.gauge("server", "queue_len"),
    ) else {
        unreachable!("fixed, valid metric names");
    };
    let (Ok(arrivals), Ok(served), Ok(exited)) = (
        m.counter("arrivals", "arrivals"),
        m.counter("server", "served"),
        m.counter("system", "exited"),
    ) else {
        unreachable!("fixed, valid metric names");
    };
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut now = 0u64;
    for _ in 0..customers {
        // xorshift64: cheap, and values of every magnitude up to ~2^37 ns (about 2 minutes).
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = (x >> 27) >> (x & 15);
        now += 1_000_000_000;
        let t = SimTime::from_nanos(now);
        m.add(arrivals, 1);
        m.set(in_system, t, (x & 7) as f64);
        m.set(queue_len, t, (x & 3) as f64);
        m.record(wait, w);
        m.set(busy, t, 1.0);
        m.record(sojourn, w + 1_000_000_000);
        m.add(served, 1);
        m.record(response, w + 1_000_000_000);
        m.add(exited, 1);
        m.set(in_system, t, (x & 7) as f64);
    }
    m.snapshot(SimTime::from_nanos(now)).0.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm1_floor::run_mm1;

    /// Every step computes exactly what the floor computes, so they differ only in cost.
    #[test]
    fn every_step_serves_the_same_customers() {
        let floor = run_mm1(50_000, 3);
        let eq = floor_on_event_queue(50_000, 3);
        let lean = lean_model_on_engine(50_000, 3).unwrap();
        let qnet = qnet_on_engine(50_000, 3).unwrap();
        assert_eq!(eq, floor);
        assert_eq!(lean, floor);
        assert_eq!(
            (qnet.customers, qnet.events, qnet.end_time_ns),
            (floor.customers, floor.events, floor.end_time_ns)
        );
        assert_eq!(qnet.mean_wait_s, floor.mean_wait_s);
    }
}

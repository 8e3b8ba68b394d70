//! The event loop: pops the earliest event, folds it into the trace, hands it to the model.
//!
//! A model sees the world only through [`Ctx`]: the current virtual time, scheduling, its random
//! streams, metrics, the trace and violation reports. There is no wall clock and no global state
//! here, so the same seed gives the same run whatever the machine or thread.

use std::collections::BTreeMap;

use crate::histogram::LogHistogram;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::queue::{EventKey, EventQueue};
use crate::rng::{RngStream, RngStreams, StreamId};
use crate::time::{SimDuration, SimTime};
use crate::timeline::Timeline;
use crate::trace::{RecordKind, Trace, TraceEvent};
use crate::tracefile::TraceFileError;

/// A simulation model: a state machine driven by its own events.
///
/// One model may be a single resource (a CPU, a disk) or a whole system of components (a network
/// of stations, a Raft cluster): the core only sees one event type and one handler.
pub trait Model {
    /// The events this model schedules for itself. Their trace encoding enters the trace hash.
    type Event: TraceEvent;

    /// Registers streams and metrics and schedules the first events.
    fn start(&mut self, ctx: &mut Ctx<'_, Self::Event>) -> Result<(), SimError>;

    /// Handles one event at `ctx.now()`.
    fn handle(&mut self, event: Self::Event, ctx: &mut Ctx<'_, Self::Event>);

    /// Called once after the last event, with `ctx.now()` at the end of the run.
    fn finish(&mut self, _ctx: &mut Ctx<'_, Self::Event>) {}
}

/// When a run stops. The run also stops when no events remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StopAt {
    /// Process no event after this instant; the run ends at exactly this time.
    pub time: Option<SimTime>,
    /// Process at most this many events.
    pub events: Option<u64>,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// No events remained.
    Drained,
    /// The time limit was reached.
    TimeLimit,
    /// The event limit was reached.
    EventLimit,
    /// The model asked to stop.
    ModelStopped,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Drained => "no events remained",
            StopReason::TimeLimit => "time limit reached",
            StopReason::EventLimit => "event limit reached",
            StopReason::ModelStopped => "the model stopped the run",
        })
    }
}

/// A check that did not hold during a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Violation {
    /// The property, e.g. `election-safety` or `mean(server.wait) < 10s`.
    pub check: String,
    /// When it was seen (for end-of-run checks, the end of the run).
    pub time_ns: u64,
    pub detail: String,
}

/// The most violations a run keeps; later ones are only counted.
pub const VIOLATIONS_KEPT: usize = 100;

/// Errors that end a run early.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(
        "event queue full: {capacity} events pending at {at}; raise the limit (--max-pending) or \
         check the model for a runaway feedback loop"
    )]
    QueueFull { capacity: usize, at: SimTime },
    #[error("time overflow at {at}: an event was scheduled past the end of representable time")]
    TimeOverflow { at: SimTime },
    #[error("event scheduled in the past: at {at} for {target}")]
    PastEvent { at: SimTime, target: SimTime },
    #[error("model setup: {0}")]
    Setup(String),
    #[error("model error at {at}: {message}")]
    Model { at: SimTime, message: String },
    #[error("trace file: {0}")]
    TraceFile(#[from] TraceFileError),
}

/// Limits and seed of one run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    /// The most events that may be pending at once.
    pub max_pending: usize,
    /// Keep a [`Timeline`] and the histograms' distributions for charts and trace export (models
    /// also push their time series only then). Never changes the run or its trace hash.
    pub record: bool,
}

impl SimConfig {
    pub const DEFAULT_MAX_PENDING: usize = 10_000_000;

    pub fn new(seed: u64) -> Self {
        SimConfig {
            seed,
            max_pending: Self::DEFAULT_MAX_PENDING,
            record: false,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub events: u64,
    pub end_time: SimTime,
    pub stop_reason: StopReason,
    pub trace_hash: u64,
    pub trace_records: u64,
    pub violations: Vec<Violation>,
    /// All violations, including those beyond [`VIOLATIONS_KEPT`].
    pub violations_total: u64,
    pub metrics: MetricsSnapshot,
    /// What the run looked like over time, when [`SimConfig::record`] asked for it.
    pub timeline: Option<Timeline>,
    /// Each histogram, with the true counts of its values ([`Metrics::distributions`]), when
    /// [`SimConfig::record`] asked.
    pub distributions: BTreeMap<String, LogHistogram>,
    /// Each gauge's history and the models' extra histories ([`Metrics::gauge_histories`]),
    /// when recorded.
    pub gauges: BTreeMap<String, Vec<(u64, f64)>>,
}

/// Told of progress every [`PROGRESS_EVERY`] events: the simulated time and the events so far.
pub type ProgressFn = Box<dyn FnMut(SimTime, u64) + Send>;

/// How many events pass between calls of a [`ProgressFn`].
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// Everything the engine owns besides the model; [`Ctx`] borrows it during one event.
struct World<E> {
    now: SimTime,
    queue: EventQueue<E>,
    rngs: RngStreams,
    metrics: Metrics,
    trace: Trace,
    violations: Vec<Violation>,
    violations_total: u64,
    timeline: Option<Timeline>,
    progress: Option<ProgressFn>,
    stop_requested: bool,
    error: Option<SimError>,
    /// Set with `stop_requested` or `error`, so the loop tests one flag per event.
    interrupted: bool,
}

/// A model's view of the simulation while it handles one event.
pub struct Ctx<'a, E> {
    world: &'a mut World<E>,
}

impl<E: TraceEvent> Ctx<'_, E> {
    /// The current virtual time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.world.now
    }

    /// Schedules `event` after `delay`. Returns `None` (and ends the run with an error once the
    /// handler returns) when the queue is full or the time would overflow.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> Option<EventKey> {
        match self.world.now.checked_add(delay) {
            Some(at) => self.push(at, event),
            None => {
                self.fail_with(SimError::TimeOverflow { at: self.world.now });
                None
            }
        }
    }

    /// Schedules `event` at `at`, which must not be in the past.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> Option<EventKey> {
        if at < self.world.now {
            self.fail_with(SimError::PastEvent {
                at: self.world.now,
                target: at,
            });
            return None;
        }
        self.push(at, event)
    }

    #[inline]
    fn push(&mut self, at: SimTime, event: E) -> Option<EventKey> {
        match self.world.queue.push(at, event) {
            Ok(key) => Some(key),
            Err(full) => {
                self.fail_with(SimError::QueueFull {
                    capacity: full.capacity,
                    at: self.world.now,
                });
                None
            }
        }
    }

    /// Cancels a pending event; false if it already fired or was cancelled.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        self.world.queue.cancel(key)
    }

    /// Registers (or finds) the random stream named `name`, derived from the seed and the name.
    pub fn stream(&mut self, name: &str) -> Result<StreamId, SimError> {
        self.world
            .rngs
            .register(name)
            .map_err(|e| SimError::Setup(e.to_string()))
    }

    /// A registered random stream.
    #[inline]
    pub fn rng(&mut self, id: StreamId) -> &mut RngStream {
        self.world.rngs.get(id)
    }

    /// The run's metrics.
    #[inline]
    pub fn metrics(&mut self) -> &mut Metrics {
        &mut self.world.metrics
    }

    /// Whether this run keeps a timeline and time series ([`SimConfig::record`]).
    #[inline]
    pub fn recording(&self) -> bool {
        self.world.timeline.is_some()
    }

    /// The run's timeline, when it keeps one. Recording into it never changes the run.
    #[inline]
    pub fn timeline(&mut self) -> Option<&mut Timeline> {
        self.world.timeline.as_mut()
    }

    /// Adds a note (not an event) to the trace: it enters the hash and the trace file.
    pub fn note(&mut self, note: &dyn TraceEvent) {
        let now = self.world.now;
        self.world.trace.record(RecordKind::Note, now, note);
    }

    /// Reports that a property did not hold. The run goes on; the violation is in the result.
    pub fn violation(&mut self, check: &str, detail: impl Into<String>) {
        let detail = detail.into();
        tracing::info!(check, detail = %detail, "violation");
        self.world.violations_total += 1;
        if self.world.violations.len() < VIOLATIONS_KEPT {
            self.world.violations.push(Violation {
                check: check.to_string(),
                time_ns: self.world.now.as_nanos(),
                detail,
            });
        }
    }

    /// Ends the run after this event.
    pub fn stop(&mut self) {
        self.world.stop_requested = true;
        self.world.interrupted = true;
    }

    /// Ends the run with an error after this event.
    pub fn fail(&mut self, message: impl Into<String>) {
        let at = self.world.now;
        self.fail_with(SimError::Model {
            at,
            message: message.into(),
        });
    }

    fn fail_with(&mut self, e: SimError) {
        if self.world.error.is_none() {
            self.world.error = Some(e);
        }
        self.world.interrupted = true;
    }

    /// Live pending events.
    pub fn pending(&self) -> usize {
        self.world.queue.live()
    }
}

/// One run of one model.
pub struct Simulation<M: Model> {
    model: M,
    world: World<M::Event>,
}

impl<M: Model> Simulation<M> {
    pub fn new(model: M, config: SimConfig) -> Self {
        Simulation {
            model,
            world: World {
                now: SimTime::ZERO,
                queue: EventQueue::with_capacity_limit(config.max_pending),
                rngs: RngStreams::new(config.seed),
                metrics: if config.record {
                    Metrics::with_gauge_history()
                } else {
                    Metrics::new()
                },
                trace: Trace::new(),
                violations: Vec::new(),
                violations_total: 0,
                timeline: config.record.then(Timeline::new),
                progress: None,
                stop_requested: false,
                error: None,
                interrupted: false,
            },
        }
    }

    /// Records the run to a trace file as well as the hash.
    pub fn with_trace(mut self, trace: Trace) -> Self {
        self.world.trace = trace;
        self
    }

    /// Calls `f` every [`PROGRESS_EVERY`] events with the simulated time and the event count
    /// (for a progress bar; it sees nothing of the model and cannot change the run).
    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.world.progress = Some(f);
        self
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    /// Runs until `stop`, the model stops, an error occurs, or no events remain.
    pub fn run(mut self, stop: StopAt) -> Result<(RunResult, M), SimError> {
        let world = &mut self.world;
        self.model.start(&mut Ctx { world })?;
        if let Some(e) = world.error.take() {
            return Err(e);
        }
        let until = stop.time.unwrap_or(SimTime::MAX);
        let max_events = stop.events.unwrap_or(u64::MAX);
        // Whether per-event logging is on is decided once per run: with it off, the loop carries no
        // span or log call at all (a disabled `tracing` span still costs a few dozen instructions
        // per event, several percent of a small model's event).
        let logging = tracing::enabled!(tracing::Level::DEBUG);
        let (events, stop_reason) = if logging {
            run_loop::<M, true>(&mut self.model, world, until, max_events)
        } else {
            run_loop::<M, false>(&mut self.model, world, until, max_events)
        };
        if let Some(e) = world.error.take() {
            return Err(e);
        }
        self.model.finish(&mut Ctx { world });
        if let Some(e) = world.error.take() {
            return Err(e);
        }
        let metrics = world.metrics.snapshot(world.now);
        let (distributions, gauges) = if world.timeline.is_some() {
            (
                world.metrics.distributions(),
                world.metrics.gauge_histories(world.now),
            )
        } else {
            (BTreeMap::new(), BTreeMap::new())
        };
        let trace_records = world.trace.records();
        let World {
            now,
            trace,
            violations,
            violations_total,
            timeline,
            ..
        } = self.world;
        let trace_hash = trace.finish()?;
        Ok((
            RunResult {
                events,
                end_time: now,
                stop_reason,
                trace_hash,
                trace_records,
                violations,
                violations_total,
                metrics,
                timeline,
                distributions,
                gauges,
            },
            self.model,
        ))
    }
}

/// The event loop proper. `LOG` compiles the per-event span and log line in or out.
///
/// Returns the number of events processed and why the loop ended. An error leaves it in
/// `world.error` (checked once per event through `world.interrupted`, a plain flag).
#[inline(never)]
fn run_loop<M: Model, const LOG: bool>(
    model: &mut M,
    world: &mut World<M::Event>,
    until: SimTime,
    max_events: u64,
) -> (u64, StopReason) {
    let mut events: u64 = 0;
    let reason = loop {
        if events >= max_events {
            break StopReason::EventLimit;
        }
        let Some((time, event)) = world.queue.pop_until(until) else {
            if world.queue.is_empty() {
                break StopReason::Drained;
            }
            world.now = until;
            break StopReason::TimeLimit;
        };
        debug_assert!(time >= world.now, "time went backwards");
        world.now = time;
        events += 1;
        world.trace.record(RecordKind::Event, time, &event);
        if LOG {
            let _span = tracing::debug_span!("ev", t = %time, n = events).entered();
            tracing::trace!(?event, "handle");
            model.handle(event, &mut Ctx { world });
        } else {
            model.handle(event, &mut Ctx { world });
        }
        if world.interrupted {
            // The model stopped the run or an error occurred; the caller returns the error, if any.
            break StopReason::ModelStopped;
        }
        if events % PROGRESS_EVERY == 0 {
            if let Some(p) = world.progress.as_mut() {
                p(time, events);
            }
        }
    };
    (events, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Encoder;

    /// A ping-pong of two timers with random gaps, enough to exercise every part of the loop.
    struct PingPong {
        stream: Option<StreamId>,
        left: u32,
    }

    #[derive(Debug)]
    enum Ev {
        Ping(u32),
        Pong(u32),
    }

    impl TraceEvent for Ev {
        fn encode(&self, enc: &mut Encoder<'_>) {
            match self {
                Ev::Ping(n) => enc.u8(0).u32(*n),
                Ev::Pong(n) => enc.u8(1).u32(*n),
            };
        }
    }

    impl Model for PingPong {
        type Event = Ev;
        fn start(&mut self, ctx: &mut Ctx<'_, Ev>) -> Result<(), SimError> {
            self.stream = Some(ctx.stream("pingpong")?);
            ctx.schedule_in(SimDuration::ZERO, Ev::Ping(0));
            Ok(())
        }
        fn handle(&mut self, ev: Ev, ctx: &mut Ctx<'_, Ev>) {
            let gap = SimDuration::from_nanos(1 + ctx.rng(self.stream.unwrap()).below(1000));
            match ev {
                Ev::Ping(n) => {
                    ctx.schedule_in(gap, Ev::Pong(n));
                }
                Ev::Pong(n) if self.left > 0 => {
                    self.left -= 1;
                    ctx.schedule_in(gap, Ev::Ping(n + 1));
                }
                Ev::Pong(_) => {}
            }
        }
    }

    fn run(seed: u64, stop: StopAt) -> RunResult {
        let sim = Simulation::new(
            PingPong {
                stream: None,
                left: 1000,
            },
            SimConfig::new(seed),
        );
        sim.run(stop).unwrap().0
    }

    #[test]
    fn same_seed_same_hash_other_seed_other_hash() {
        let a = run(1, StopAt::default());
        let b = run(1, StopAt::default());
        let c = run(2, StopAt::default());
        assert_eq!(a.trace_hash, b.trace_hash);
        assert_eq!(a.end_time, b.end_time);
        assert_ne!(a.trace_hash, c.trace_hash);
        assert_eq!(a.events, 2002);
        assert_eq!(a.stop_reason, StopReason::Drained);
    }

    #[test]
    fn stops_at_time_and_event_limits() {
        let r = run(
            1,
            StopAt {
                events: Some(10),
                time: None,
            },
        );
        assert_eq!((r.events, r.stop_reason), (10, StopReason::EventLimit));
        let t = SimTime::from_nanos(5_000);
        let r = run(
            1,
            StopAt {
                time: Some(t),
                events: None,
            },
        );
        assert_eq!((r.end_time, r.stop_reason), (t, StopReason::TimeLimit));
        let full = run(1, StopAt::default());
        assert!(r.events < full.events);
    }

    #[test]
    fn recording_and_progress_never_change_the_run() {
        let plain = run(3, StopAt::default());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&seen);
        let model = PingPong {
            stream: None,
            left: 100_000,
        };
        let config = SimConfig {
            record: true,
            ..SimConfig::new(3)
        };
        let (recorded, _) = Simulation::new(model, config)
            .with_progress(Box::new(move |t, n| log.lock().unwrap().push((t, n))))
            .run(StopAt::default())
            .unwrap();
        assert!(recorded.timeline.is_some() && plain.timeline.is_none());
        let calls = seen.lock().unwrap().clone();
        assert_eq!(calls.len() as u64, recorded.events / PROGRESS_EVERY);
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
        // The same seed with recording: the same run as without (up to 2002 events).
        let short = Simulation::new(
            PingPong {
                stream: None,
                left: 1000,
            },
            SimConfig {
                record: true,
                ..SimConfig::new(3)
            },
        )
        .run(StopAt::default())
        .unwrap()
        .0;
        assert_eq!(short.trace_hash, plain.trace_hash);
    }

    #[test]
    fn a_full_queue_is_a_clean_error() {
        #[derive(Debug)]
        struct Flood;
        impl Model for Flood {
            type Event = Ev;
            fn start(&mut self, ctx: &mut Ctx<'_, Ev>) -> Result<(), SimError> {
                ctx.schedule_in(SimDuration::ZERO, Ev::Ping(0));
                Ok(())
            }
            fn handle(&mut self, _: Ev, ctx: &mut Ctx<'_, Ev>) {
                for i in 0..3 {
                    ctx.schedule_in(SimDuration::from_nanos(1), Ev::Ping(i));
                }
            }
        }
        let config = SimConfig {
            max_pending: 100,
            ..SimConfig::new(0)
        };
        let err = Simulation::new(Flood, config)
            .run(StopAt::default())
            .unwrap_err();
        assert!(
            matches!(err, SimError::QueueFull { capacity: 100, .. }),
            "{err}"
        );
    }
}

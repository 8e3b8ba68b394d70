//! A host's own resources that are not its CPU: its clock (offset and drift, with the jitter of
//! its timers) and its disk. They belong to the machine, not to the process on it: a crash
//! takes the process and what the disk had not made durable, and leaves the clock and the disk.
//!
//! The disk is an fsync device today: fsyncs run one at a time, each taking a draw of the
//! latency distribution (slowed by a `disk slow` fault). Services ask it when an fsync issued
//! now completes; what the page cache holds until then is the service's own storage model.

use simcore::{Dist, RngStream, SimDuration, SimTime};

use crate::network::Clock;

/// A host as a scenario configures it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    pub name: String,
    /// The disk's fsync latency (nanoseconds).
    pub fsync: Dist,
}

/// A disk that completes fsyncs one at a time.
#[derive(Debug, Clone)]
pub struct Disk {
    fsync: Dist,
    /// A `disk slow` fault's latency, in force instead of `fsync`.
    slow: Option<Dist>,
    /// When the disk finishes the fsyncs already queued.
    free_at: SimTime,
}

impl Disk {
    pub fn new(fsync: Dist) -> Self {
        Disk {
            fsync,
            slow: None,
            free_at: SimTime::ZERO,
        }
    }

    /// When an fsync issued at `now` completes: after those queued before it, plus one draw of
    /// the latency in force from `rng`.
    #[inline]
    pub fn sync(&mut self, now: SimTime, rng: &mut RngStream) -> SimTime {
        let latency = self.slow.as_ref().unwrap_or(&self.fsync).sample(rng);
        let done = self
            .free_at
            .max(now)
            .saturating_add(SimDuration::from_nanos_f64(latency));
        self.free_at = done;
        done
    }

    /// Sets the latency a `disk slow` fault imposes (`None`: back to the configured one).
    pub fn set_slow(&mut self, slow: Option<&Dist>) {
        self.slow = slow.cloned();
    }

    /// The host crashed at `now`: the fsyncs it had queued are gone.
    pub fn forget_queue(&mut self, now: SimTime) {
        self.free_at = now;
    }
}

/// One host's clock, its timers' jitter and its disk.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub clock: Clock,
    /// The host's own stream for its timers' jitter: kept across crashes (the machine stays),
    /// and independent of every other host's and component's draws. Named as it was when the
    /// Raft cluster owned its servers' hosts (`raft.host.N.timers`), so seeds replay as before.
    timer_rng: RngStream,
    pub disk: Disk,
}

impl Host {
    /// Host number `id` of a run seeded with `seed`.
    pub fn new(id: u32, config: &HostConfig, seed: u64) -> Self {
        Host {
            name: config.name.clone(),
            clock: Clock::default(),
            timer_rng: RngStream::derive(seed, &format!("raft.host.{id}.timers")),
            disk: Disk::new(config.fsync.clone()),
        }
    }

    /// When, in true time, a timer that a process sets at `now` for `after` fires: `after` on
    /// the host's clock (its drift), then late by a draw of `jitter`, as a real host's timers
    /// are (timer slack, scheduling). Without jitter, nodes whose timeouts are equal time out
    /// in lockstep for ever.
    #[inline]
    pub fn timer_due(&mut self, now: SimTime, after: SimDuration, jitter: &Dist) -> SimTime {
        let late = SimDuration::from_nanos_f64(jitter.sample(&mut self.timer_rng));
        now.saturating_add(self.clock.true_duration(after))
            .saturating_add(late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsyncs_run_one_at_a_time() {
        let mut d = Disk::new(Dist::Constant { value: 1_000.0 });
        let mut rng = RngStream::derive(1, "t");
        let t0 = SimTime::from_nanos(100);
        assert_eq!(d.sync(t0, &mut rng), SimTime::from_nanos(1_100));
        // Issued at the same instant, the second waits for the first.
        assert_eq!(d.sync(t0, &mut rng), SimTime::from_nanos(2_100));
        d.set_slow(Some(&Dist::Constant { value: 5_000.0 }));
        assert_eq!(d.sync(t0, &mut rng), SimTime::from_nanos(7_100));
        d.forget_queue(SimTime::from_nanos(3_000));
        d.set_slow(None);
        assert_eq!(d.sync(t0, &mut rng), SimTime::from_nanos(4_000));
    }

    #[test]
    fn a_fast_clock_fires_timers_early() {
        let config = HostConfig {
            name: "h".into(),
            fsync: Dist::Constant { value: 0.0 },
        };
        let mut h = Host::new(0, &config, 1);
        h.clock.drift = 1.0; // twice as fast
        let due = h.timer_due(
            SimTime::ZERO,
            SimDuration::from_millis(100),
            &Dist::Constant { value: 0.0 },
        );
        assert_eq!(due, SimTime::from_nanos(50_000_000));
    }
}

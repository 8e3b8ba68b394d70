//! An autoscaling group's decisions (sans-IO): target tracking on a metric the caller samples,
//! with cooldowns, instance boot time and draining on scale-in.
//!
//! The caller evaluates the group once per evaluation period with the metric it measured over
//! that period (average CPU utilisation of the in-service instances, or backlog per in-service
//! instance: any quantity that falls as instances are added) and schedules the next evaluation
//! at the time returned. Every call returns what to do as values ([`Action`]): launch an
//! instance (in service at `ready_at`), put a booted one in service, drain one, remove one.
//!
//! The rules, after AWS EC2 Auto Scaling's target tracking policies:
//!
//! - **Desired capacity** is `ceil(in_service * metric / target)` clamped to `[min, max]`: the
//!   capacity at which the metric, spread evenly, would sit at the target. Only in-service
//!   instances count as `in_service`, since only their load is in the metric; instances still
//!   booting count as capacity already on its way (AWS's instance warm-up), so a scale-out
//!   launches `desired - (in_service + booting)` and a group still booting the instances of the
//!   last decision launches nothing more for the same load.
//! - **Scale-out** needs the metric above the target for `out_periods` consecutive evaluations
//!   (AWS's scale-out alarm: 3 one-minute data points; 1 reacts fastest), and none is made
//!   within `out_cooldown` of the previous scale-out. The lag from a step in load to new
//!   capacity serving is therefore up to `out_periods` evaluation periods plus the boot time.
//! - **Scale-in is more conservative**: it needs the metric below the target for `in_periods`
//!   consecutive evaluations (AWS's scale-in alarm: 15 one-minute data points), and none is
//!   made within `in_cooldown` of any scaling action, so a scale-out is not undone by the
//!   next quiet minute, nor while any instance is still booting (as AWS does not scale in
//!   during warm-up; it also keeps the in-service count, which the desired capacity is computed
//!   from, at the desired capacity or above). An evaluation at or above target resets the
//!   scale-in streak (and one at or below target the scale-out streak).
//! - **Draining**: a scaled-in instance stops receiving new requests at once ([`Action::Drain`])
//!   and is removed when the caller reports it idle ([`AutoScaler::drained`]) or when the drain
//!   timeout passes (AWS ELB's deregistration delay), whichever comes first. The newest
//!   in-service instances are drained first (the oldest have the warmest caches); booting
//!   instances are never drained.

use std::collections::BTreeMap;

use simcore::{SimDuration, SimTime};

/// An instance's identity: launch order, from 0.
pub type InstanceId = u64;

/// A group's configuration. `target` is in the metric's unit (0.5 for 50% CPU, 10.0 for ten
/// queued messages per instance).
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscaleConfig {
    pub min: u32,
    pub max: u32,
    /// Instances in service when the group starts.
    pub initial: u32,
    pub target: f64,
    pub period: SimDuration,
    pub out_periods: u32,
    pub in_periods: u32,
    pub out_cooldown: SimDuration,
    pub in_cooldown: SimDuration,
    pub boot: SimDuration,
    pub drain_timeout: SimDuration,
}

impl AutoscaleConfig {
    /// AWS's defaults where it has them: one-minute periods, 3 periods above target to scale
    /// out and 15 below to scale in, 300 s cooldowns and deregistration delay.
    pub fn aws_like(min: u32, max: u32, target: f64, boot: SimDuration) -> Self {
        AutoscaleConfig {
            min,
            max,
            initial: min,
            target,
            period: SimDuration::from_secs(60),
            out_periods: 3,
            in_periods: 15,
            out_cooldown: SimDuration::from_secs(300),
            in_cooldown: SimDuration::from_secs(300),
            boot,
            drain_timeout: SimDuration::from_secs(300),
        }
    }

    fn validate(&self) -> Result<(), AutoscaleError> {
        if self.min == 0 {
            return Err(AutoscaleError::ZeroMin);
        }
        if self.min > self.max {
            return Err(AutoscaleError::MinAboveMax {
                min: self.min,
                max: self.max,
            });
        }
        if self.initial < self.min || self.initial > self.max {
            return Err(AutoscaleError::InitialOutOfRange {
                initial: self.initial,
                min: self.min,
                max: self.max,
            });
        }
        if !(self.target.is_finite() && self.target > 0.0) {
            return Err(AutoscaleError::BadTarget(self.target));
        }
        if self.period == SimDuration::ZERO {
            return Err(AutoscaleError::ZeroPeriod);
        }
        if self.out_periods == 0 || self.in_periods == 0 {
            return Err(AutoscaleError::ZeroPeriods);
        }
        Ok(())
    }
}

/// A configuration the group cannot run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutoscaleError {
    #[error("autoscaling: min must be at least 1 (a group of no instances measures no metric)")]
    ZeroMin,
    #[error("autoscaling: min ({min}) must not exceed max ({max})")]
    MinAboveMax { min: u32, max: u32 },
    #[error("autoscaling: initial capacity {initial} must lie in [min, max] = [{min}, {max}]")]
    InitialOutOfRange { initial: u32, min: u32, max: u32 },
    #[error("autoscaling: the target must be a positive finite number, got {0}")]
    BadTarget(f64),
    #[error("autoscaling: the evaluation period must be longer than zero")]
    ZeroPeriod,
    #[error("autoscaling: out_periods and in_periods must be at least 1")]
    ZeroPeriods,
}

/// Why an instance left the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// The caller reported no requests in flight.
    Drained,
    /// The drain timeout passed with requests still in flight (they are cut off).
    DrainTimeout,
}

/// What the caller must do, at time `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start instance `id`; it boots until `ready_at` and then comes as [`Action::InService`].
    Launch {
        id: InstanceId,
        at: SimTime,
        ready_at: SimTime,
    },
    /// Instance `id` finished booting: send it requests.
    InService { id: InstanceId, at: SimTime },
    /// Send instance `id` no new requests; it is removed by `deadline` at the latest.
    Drain {
        id: InstanceId,
        at: SimTime,
        deadline: SimTime,
    },
    /// Instance `id` is gone.
    Remove {
        id: InstanceId,
        at: SimTime,
        reason: RemoveReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Booting { ready_at: SimTime },
    InService,
    Draining { deadline: SimTime },
}

/// One evaluation's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The desired capacity computed (clamped), whether or not it was acted on.
    pub desired: u32,
    pub actions: Vec<Action>,
    /// When to evaluate next: one period on.
    pub next_at: SimTime,
}

/// An autoscaling group's state.
#[derive(Debug, Clone)]
pub struct AutoScaler {
    config: AutoscaleConfig,
    /// Instances not yet removed, by id (so in launch order).
    instances: BTreeMap<InstanceId, State>,
    next_id: InstanceId,
    above_streak: u32,
    below_streak: u32,
    last_out: Option<SimTime>,
    last_action: Option<SimTime>,
}

impl AutoScaler {
    /// A group with `config.initial` instances in service at `start`.
    pub fn new(config: AutoscaleConfig) -> Result<Self, AutoscaleError> {
        config.validate()?;
        let n = config.initial as u64;
        Ok(AutoScaler {
            instances: (0..n).map(|id| (id, State::InService)).collect(),
            next_id: n,
            config,
            above_streak: 0,
            below_streak: 0,
            last_out: None,
            last_action: None,
        })
    }

    pub fn config(&self) -> &AutoscaleConfig {
        &self.config
    }

    /// The instances that receive new requests, in id order.
    pub fn in_service(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.ids(|s| matches!(s, State::InService))
    }

    /// The instances booting, in id order.
    pub fn booting(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.ids(|s| matches!(s, State::Booting { .. }))
    }

    /// The instances draining, in id order.
    pub fn draining(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.ids(|s| matches!(s, State::Draining { .. }))
    }

    fn ids(&self, pred: fn(&State) -> bool) -> impl Iterator<Item = InstanceId> + '_ {
        self.instances
            .iter()
            .filter(move |(_, s)| pred(s))
            .map(|(&id, _)| id)
    }

    /// The desired capacity for a metric with `in_service` instances measuring it, clamped.
    /// A tiny tolerance keeps `ceil` from rounding up float noise (2 * 0.5 / 0.5 = 2, not 3).
    pub fn desired_for(&self, in_service: u32, metric: f64) -> u32 {
        let raw = in_service as f64 * metric / self.config.target;
        let desired = (raw - 1e-9).ceil().max(0.0);
        (desired.min(u32::MAX as f64) as u32).clamp(self.config.min, self.config.max)
    }

    /// Evaluate at `now` with the metric measured over the last period. A metric that is not a
    /// finite number (no sample) changes nothing and breaks no streak; a negative one counts as 0.
    pub fn evaluate(&mut self, now: SimTime, metric: f64) -> Evaluation {
        let next_at = now.saturating_add(self.config.period);
        let in_service = self.in_service().count() as u32;
        if !metric.is_finite() {
            let desired = self.capacity().clamp(self.config.min, self.config.max);
            return Evaluation {
                desired,
                actions: Vec::new(),
                next_at,
            };
        }
        let metric = metric.max(0.0);
        let desired = self.desired_for(in_service, metric);
        if metric > self.config.target {
            self.above_streak += 1;
            self.below_streak = 0;
        } else if metric < self.config.target {
            self.below_streak += 1;
            self.above_streak = 0;
        } else {
            self.above_streak = 0;
            self.below_streak = 0;
        }
        let capacity = self.capacity();
        let mut actions = Vec::new();
        if desired > capacity && self.may_scale_out(now) {
            actions = self.launch(now, desired - capacity);
            self.last_out = Some(now);
            self.last_action = Some(now);
        } else if desired < capacity && self.may_scale_in(now) {
            actions = self.drain(now, capacity - desired);
            if !actions.is_empty() {
                self.last_action = Some(now);
                self.below_streak = 0;
            }
        }
        self.check();
        Evaluation {
            desired,
            actions,
            next_at,
        }
    }

    /// In service plus booting: the capacity the group has or will have.
    fn capacity(&self) -> u32 {
        self.instances
            .values()
            .filter(|s| !matches!(s, State::Draining { .. }))
            .count() as u32
    }

    fn may_scale_out(&self, now: SimTime) -> bool {
        self.above_streak >= self.config.out_periods
            && self
                .last_out
                .is_none_or(|t| now >= t.saturating_add(self.config.out_cooldown))
    }

    fn may_scale_in(&self, now: SimTime) -> bool {
        self.below_streak >= self.config.in_periods
            && self.booting().next().is_none()
            && self
                .last_action
                .is_none_or(|t| now >= t.saturating_add(self.config.in_cooldown))
    }

    fn launch(&mut self, now: SimTime, k: u32) -> Vec<Action> {
        let ready_at = now.saturating_add(self.config.boot);
        (0..k)
            .map(|_| {
                let id = self.next_id;
                self.next_id += 1;
                self.instances.insert(id, State::Booting { ready_at });
                Action::Launch {
                    id,
                    at: now,
                    ready_at,
                }
            })
            .collect()
    }

    /// Drains up to `k` in-service instances, newest first.
    fn drain(&mut self, now: SimTime, k: u32) -> Vec<Action> {
        let deadline = now.saturating_add(self.config.drain_timeout);
        let victims: Vec<InstanceId> = self.in_service().collect();
        victims
            .into_iter()
            .rev()
            .take(k as usize)
            .map(|id| {
                self.instances.insert(id, State::Draining { deadline });
                Action::Drain {
                    id,
                    at: now,
                    deadline,
                }
            })
            .collect()
    }

    /// The caller reports that draining instance `id` has no requests in flight: it is removed.
    /// None when `id` is not draining (already removed, or never drained).
    pub fn drained(&mut self, id: InstanceId, now: SimTime) -> Option<Action> {
        match self.instances.get(&id) {
            Some(State::Draining { .. }) => {
                self.instances.remove(&id);
                Some(Action::Remove {
                    id,
                    at: now,
                    reason: RemoveReason::Drained,
                })
            }
            _ => None,
        }
    }

    /// The earliest boot completion or drain deadline still pending: when to call
    /// [`AutoScaler::advance`] next.
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.instances
            .values()
            .filter_map(|s| match *s {
                State::Booting { ready_at } => Some(ready_at),
                State::Draining { deadline } => Some(deadline),
                State::InService => None,
            })
            .min()
    }

    /// Everything due by `now`: boots completed, drains timed out; in (time, id) order.
    pub fn advance(&mut self, now: SimTime) -> Vec<Action> {
        let mut due: Vec<(SimTime, InstanceId, State)> = self
            .instances
            .iter()
            .filter_map(|(&id, &s)| match s {
                State::Booting { ready_at } if ready_at <= now => Some((ready_at, id, s)),
                State::Draining { deadline } if deadline <= now => Some((deadline, id, s)),
                _ => None,
            })
            .collect();
        due.sort_by_key(|&(t, id, _)| (t, id));
        let actions = due
            .into_iter()
            .map(|(at, id, s)| match s {
                State::Booting { .. } => {
                    self.instances.insert(id, State::InService);
                    Action::InService { id, at }
                }
                _ => {
                    self.instances.remove(&id);
                    Action::Remove {
                        id,
                        at,
                        reason: RemoveReason::DrainTimeout,
                    }
                }
            })
            .collect();
        self.check();
        actions
    }

    fn check(&self) {
        debug_assert!(self.capacity() <= self.config.max, "above max capacity");
        debug_assert!(
            self.instances.keys().all(|&id| id < self.next_id),
            "an id from the future"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::from_nanos(s * 1_000_000_000)
    }

    /// One-minute periods, 2-minute boot, react on one period above, 3 periods below.
    fn config() -> AutoscaleConfig {
        AutoscaleConfig {
            min: 2,
            max: 10,
            initial: 2,
            target: 0.5,
            period: SimDuration::from_secs(60),
            out_periods: 1,
            in_periods: 3,
            out_cooldown: SimDuration::from_secs(300),
            in_cooldown: SimDuration::from_secs(300),
            boot: SimDuration::from_secs(120),
            drain_timeout: SimDuration::from_secs(30),
        }
    }

    fn launched(actions: &[Action]) -> Vec<(InstanceId, SimTime)> {
        actions
            .iter()
            .filter_map(|a| match *a {
                Action::Launch { id, ready_at, .. } => Some((id, ready_at)),
                _ => None,
            })
            .collect()
    }

    /// A step from 50% to 90% CPU just after the evaluation at 0 s: the evaluation at 60 s sees
    /// it, wants ceil(2 * 0.9 / 0.5) = 4 and launches 2, which serve from 180 s: the lag is one
    /// period plus the boot time. Meanwhile the group, still at 90% on 2 instances, launches
    /// nothing more: the booting instances already cover the same desired capacity.
    #[test]
    fn a_spike_gets_capacity_after_one_period_plus_boot() {
        let mut g = AutoScaler::new(config()).unwrap();
        let e = g.evaluate(secs(0), 0.5);
        assert!(e.actions.is_empty());
        assert_eq!((e.desired, e.next_at), (2, secs(60)));
        let e = g.evaluate(secs(60), 0.9);
        assert_eq!(e.desired, 4);
        assert_eq!(launched(&e.actions), [(2, secs(180)), (3, secs(180))]);
        assert_eq!(g.next_deadline(), Some(secs(180)));
        let e = g.evaluate(secs(120), 0.9);
        assert!(e.actions.is_empty(), "{e:?}");
        assert!(g.advance(secs(179)).is_empty());
        assert_eq!(
            g.advance(secs(180)),
            [
                Action::InService {
                    id: 2,
                    at: secs(180)
                },
                Action::InService {
                    id: 3,
                    at: secs(180)
                }
            ]
        );
        assert_eq!(g.in_service().collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(g.next_deadline(), None);
    }

    /// The load keeps growing: at 120 s the 2 in-service instances run at 150%, so desired is
    /// ceil(2 * 1.5 / 0.5) = 6, but the scale-out cooldown (300 s from 60 s) holds it back
    /// until the evaluation at 360 s, which launches what is then missing.
    #[test]
    fn cooldown_suppresses_a_second_scale_out() {
        let mut g = AutoScaler::new(config()).unwrap();
        assert_eq!(launched(&g.evaluate(secs(60), 0.9).actions).len(), 2);
        let e = g.evaluate(secs(120), 1.5);
        assert_eq!(e.desired, 6);
        assert!(e.actions.is_empty());
        g.advance(secs(180));
        for t in [240, 300] {
            assert!(g.evaluate(secs(t), 1.5).actions.is_empty(), "at {t}");
        }
        // At 360 s four instances run at 1.5: desired ceil(4 * 3) = 12, clamped to max 10.
        let e = g.evaluate(secs(360), 1.5);
        assert_eq!(e.desired, 10);
        assert_eq!(launched(&e.actions).len(), 6);
        assert_eq!(g.booting().count(), 6);
    }

    /// With out_periods = 3 the scale-out waits for three evaluations in a row above target;
    /// one at target breaks the streak.
    #[test]
    fn scale_out_needs_consecutive_periods_above() {
        let mut g = AutoScaler::new(AutoscaleConfig {
            out_periods: 3,
            ..config()
        })
        .unwrap();
        for (t, m) in [(60, 0.9), (120, 0.9), (180, 0.5), (240, 0.9), (300, 0.9)] {
            assert!(g.evaluate(secs(t), m).actions.is_empty(), "at {t}");
        }
        assert_eq!(launched(&g.evaluate(secs(360), 0.9).actions).len(), 2);
    }

    /// Scale-in needs three periods below target in a row, a period at target resets it, then it
    /// drains the newest instances down to desired (clamped at min); a drained instance goes when
    /// the caller reports it idle, another at the drain timeout.
    #[test]
    fn scale_in_is_conservative_and_drains() {
        let mut g = AutoScaler::new(AutoscaleConfig {
            initial: 5,
            in_cooldown: SimDuration::ZERO,
            ..config()
        })
        .unwrap();
        // ceil(5 * 0.1 / 0.5) = 1, clamped to min 2.
        assert_eq!(g.desired_for(5, 0.1), 2);
        for (t, m) in [(60, 0.1), (120, 0.1), (180, 0.5), (240, 0.1), (300, 0.1)] {
            let e = g.evaluate(secs(t), m);
            assert!(e.actions.is_empty(), "at {t}: {e:?}");
        }
        let e = g.evaluate(secs(360), 0.1);
        let deadline = secs(390);
        assert_eq!(
            e.actions,
            [4, 3, 2].map(|id| Action::Drain {
                id,
                at: secs(360),
                deadline
            })
        );
        assert_eq!(g.in_service().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(
            g.drained(3, secs(365)),
            Some(Action::Remove {
                id: 3,
                at: secs(365),
                reason: RemoveReason::Drained
            })
        );
        assert_eq!(g.drained(3, secs(366)), None);
        assert_eq!(g.drained(0, secs(366)), None, "0 is in service");
        assert_eq!(g.next_deadline(), Some(deadline));
        let out = g.advance(deadline);
        assert_eq!(
            out,
            [2, 4].map(|id| Action::Remove {
                id,
                at: deadline,
                reason: RemoveReason::DrainTimeout
            })
        );
        // At min now: more quiet periods drain nothing.
        for t in [420, 480, 540, 600] {
            assert!(g.evaluate(secs(t), 0.0).actions.is_empty());
        }
    }

    /// A scale-out blocks scale-in for in_cooldown; a scale-in never blocks a scale-out.
    #[test]
    fn cooldowns_order_scale_in_after_scale_out() {
        let mut g = AutoScaler::new(AutoscaleConfig {
            in_periods: 1,
            ..config()
        })
        .unwrap();
        assert_eq!(launched(&g.evaluate(secs(60), 1.0).actions).len(), 2);
        g.advance(secs(180));
        // Quiet at 240: below target, but within 300 s of the scale-out.
        assert!(g.evaluate(secs(240), 0.1).actions.is_empty());
        let e = g.evaluate(secs(360), 0.1);
        assert_eq!(e.actions.len(), 2, "{e:?}");
        // Straight after the scale-in a spike scales out (out cooldown from 60 s has passed).
        let e = g.evaluate(secs(420), 1.0);
        assert_eq!(launched(&e.actions).len(), 2);
    }

    /// While instances boot the group does not scale in, even past the cooldown: draining the
    /// in-service ones would leave nothing serving until the boot ends.
    #[test]
    fn no_scale_in_while_booting() {
        let mut g = AutoScaler::new(AutoscaleConfig {
            min: 1,
            initial: 1,
            in_periods: 1,
            in_cooldown: SimDuration::ZERO,
            boot: SimDuration::from_secs(600),
            ..config()
        })
        .unwrap();
        assert_eq!(launched(&g.evaluate(secs(60), 1.5).actions).len(), 2);
        // The load falls at once: desired ceil(1 * 0.1 / 0.5) = 1 against a capacity of 3.
        for t in [120, 180, 600] {
            assert!(g.evaluate(secs(t), 0.1).actions.is_empty(), "at {t}");
        }
        g.advance(secs(660));
        let e = g.evaluate(secs(660), 0.1);
        assert_eq!(e.actions.len(), 2, "{e:?}");
        assert_eq!(g.in_service().collect::<Vec<_>>(), [0]);
    }

    /// No sample (NaN) changes nothing; exact target holds steady; ceil does not round float
    /// noise up.
    #[test]
    fn steady_and_missing_samples_change_nothing() {
        let mut g = AutoScaler::new(config()).unwrap();
        assert_eq!(g.desired_for(3, 0.5), 3);
        assert_eq!(g.desired_for(3, 0.1 + 0.2 + 0.2), 3);
        for t in 1..20 {
            let m = if t % 2 == 0 { f64::NAN } else { 0.5 };
            assert!(g.evaluate(secs(60 * t), m).actions.is_empty());
        }
        assert_eq!(g.in_service().count(), 2);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let bad = [
            (
                AutoscaleConfig { min: 0, ..config() },
                AutoscaleError::ZeroMin,
            ),
            (
                AutoscaleConfig { max: 1, ..config() },
                AutoscaleError::MinAboveMax { min: 2, max: 1 },
            ),
            (
                AutoscaleConfig {
                    initial: 11,
                    ..config()
                },
                AutoscaleError::InitialOutOfRange {
                    initial: 11,
                    min: 2,
                    max: 10,
                },
            ),
            (
                AutoscaleConfig {
                    target: 0.0,
                    ..config()
                },
                AutoscaleError::BadTarget(0.0),
            ),
            (
                AutoscaleConfig {
                    period: SimDuration::ZERO,
                    ..config()
                },
                AutoscaleError::ZeroPeriod,
            ),
            (
                AutoscaleConfig {
                    in_periods: 0,
                    ..config()
                },
                AutoscaleError::ZeroPeriods,
            ),
        ];
        for (c, e) in bad {
            assert_eq!(AutoScaler::new(c).unwrap_err(), e);
        }
        assert!(
            AutoScaler::new(AutoscaleConfig::aws_like(
                1,
                4,
                0.6,
                SimDuration::from_secs(90)
            ))
            .is_ok()
        );
    }
}

//! Functions as a service (AWS Lambda-like), sans-IO: which execution environment runs an
//! invocation, whether it starts cold, and when the platform throttles.
//!
//! - **Environments.** Each function has a pool of execution environments, each running one
//!   invocation at a time. An invocation takes an idle warm environment when there is one;
//!   otherwise it cold-starts a new one, which is ready after a cold-start time drawn from the
//!   function's distribution with the caller's random stream.
//! - **Keep-alive.** An on-demand environment idle for the keep-alive is reclaimed (Lambda does
//!   not publish its policy; measurements put it at 5 to 15 minutes). The most recently used
//!   idle environment is taken first, so under a falling load the extra environments go idle
//!   for good and expire, instead of all being kept barely warm.
//! - **Provisioned concurrency.** A function's provisioned environments are initialised from the
//!   start, are taken before on-demand ones (as Lambda spills over to on-demand only when they
//!   are busy) and never expire.
//! - **Concurrency limits**, as Lambda counts them: concurrency is the number of invocations in
//!   progress, cold starts included. A function with reserved concurrency has exactly that much:
//!   guaranteed, and its cap. The other functions share what the account limit leaves after all
//!   reservations. An invocation beyond its limit is throttled (Lambda's 429
//!   TooManyRequestsException); nothing is queued here, retries are the caller's.
//!
//! With one environment's worth of load (service time much shorter than the gaps between
//! invocations) and Poisson arrivals at rate λ, an invocation is cold exactly when the gap since
//! the last one exceeds the keep-alive K, so the cold-start fraction is e^(-λK); the test below
//! checks it.

use std::collections::{BTreeMap, VecDeque};

use simcore::{Dist, RngStream, SimDuration, SimTime};

/// An execution environment's identity, unique across the platform.
pub type EnvId = u64;

/// A function's index in its [`Platform`], in the order added.
pub type FunctionId = usize;

/// A function's configuration. `cold_start` samples nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub keep_alive: SimDuration,
    pub cold_start: Dist,
    /// Reserved concurrency: guaranteed and capped. None: shares the unreserved pool.
    pub reserved: Option<u32>,
    /// Environments kept initialised at all times.
    pub provisioned: u32,
}

/// A configuration the platform refuses (as Lambda's API does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    #[error("functions: the account concurrency limit must be at least 1")]
    ZeroAccountLimit,
    #[error(
        "functions: reserving {asked} more would exceed the account limit {limit} ({reserved} \
         already reserved)"
    )]
    OverReserved {
        asked: u32,
        reserved: u32,
        limit: u32,
    },
    #[error(
        "functions: provisioned concurrency {provisioned} exceeds the function's limit {limit}"
    )]
    OverProvisioned { provisioned: u32, limit: u32 },
}

/// Where an invocation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invoke {
    /// On an idle initialised environment: the handler starts now.
    Warm { env: EnvId },
    /// On a new environment: the handler starts at `ready_at`, after the cold start.
    Cold { env: EnvId, ready_at: SimTime },
    /// Over the concurrency limit: rejected (429).
    Throttled,
}

/// A function's counts (cumulative, except the current ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionStats {
    pub warm: u64,
    pub cold: u64,
    pub throttled: u64,
    pub expired: u64,
    /// Invocations in progress now.
    pub busy: u32,
    /// The most invocations in progress at once.
    pub peak_busy: u32,
    /// Environments alive now, busy or idle (provisioned included).
    pub environments: u32,
}

#[derive(Debug, Clone)]
struct Function {
    spec: FunctionSpec,
    /// Idle provisioned environments.
    idle_provisioned: Vec<EnvId>,
    /// Idle on-demand environments with the time each went idle, oldest first (times only
    /// grow, so this is also expiry order); taken from the back.
    idle: VecDeque<(EnvId, SimTime)>,
    stats: FunctionStats,
}

/// The platform: functions and the account's concurrency.
#[derive(Debug, Clone)]
pub struct Platform {
    account_limit: u32,
    reserved_total: u32,
    /// Invocations in progress of functions without a reservation.
    unreserved_busy: u32,
    functions: Vec<Function>,
    /// Busy environments: their function and whether provisioned.
    busy: BTreeMap<EnvId, (FunctionId, bool)>,
    next_env: EnvId,
}

impl Platform {
    /// A platform whose account allows `account_limit` concurrent invocations (Lambda's default
    /// is 1000 per region).
    pub fn new(account_limit: u32) -> Result<Self, FunctionError> {
        if account_limit == 0 {
            return Err(FunctionError::ZeroAccountLimit);
        }
        Ok(Platform {
            account_limit,
            reserved_total: 0,
            unreserved_busy: 0,
            functions: Vec::new(),
            busy: BTreeMap::new(),
            next_env: 0,
        })
    }

    /// Adds a function; its provisioned environments exist from now on.
    pub fn add(&mut self, spec: FunctionSpec) -> Result<FunctionId, FunctionError> {
        let reserved = spec.reserved.unwrap_or(0);
        if reserved > self.account_limit - self.reserved_total {
            return Err(FunctionError::OverReserved {
                asked: reserved,
                reserved: self.reserved_total,
                limit: self.account_limit,
            });
        }
        let limit = spec
            .reserved
            .unwrap_or(self.account_limit - self.reserved_total - reserved);
        if spec.provisioned > limit {
            return Err(FunctionError::OverProvisioned {
                provisioned: spec.provisioned,
                limit,
            });
        }
        self.reserved_total += reserved;
        let idle_provisioned: Vec<EnvId> = (0..spec.provisioned as u64)
            .map(|k| self.next_env + k)
            .collect();
        self.next_env += spec.provisioned as u64;
        let stats = FunctionStats {
            environments: spec.provisioned,
            ..FunctionStats::default()
        };
        self.functions.push(Function {
            spec,
            idle_provisioned,
            idle: VecDeque::new(),
            stats,
        });
        Ok(self.functions.len() - 1)
    }

    /// Invokes function `f` at `now`. Draws the cold-start time from `rng` only on a cold start.
    /// Panics if `f` was not returned by [`Platform::add`] (a wiring bug, not input).
    pub fn invoke(&mut self, f: FunctionId, now: SimTime, rng: &mut RngStream) -> Invoke {
        self.expire_function(f, now);
        if !self.has_room(f) {
            self.functions[f].stats.throttled += 1;
            return Invoke::Throttled;
        }
        let func = &mut self.functions[f];
        let (result, env, provisioned) = if let Some(env) = func.idle_provisioned.pop() {
            func.stats.warm += 1;
            (Invoke::Warm { env }, env, true)
        } else if let Some((env, _)) = func.idle.pop_back() {
            func.stats.warm += 1;
            (Invoke::Warm { env }, env, false)
        } else {
            let env = self.next_env;
            self.next_env += 1;
            let cold = SimDuration::from_nanos_f64(func.spec.cold_start.sample(rng));
            func.stats.cold += 1;
            func.stats.environments += 1;
            let ready_at = now.saturating_add(cold);
            (Invoke::Cold { env, ready_at }, env, false)
        };
        func.stats.busy += 1;
        func.stats.peak_busy = func.stats.peak_busy.max(func.stats.busy);
        if func.spec.reserved.is_none() {
            self.unreserved_busy += 1;
        }
        self.busy.insert(env, (f, provisioned));
        self.check();
        result
    }

    /// Whether `f` may start one more invocation.
    fn has_room(&self, f: FunctionId) -> bool {
        let func = &self.functions[f];
        match func.spec.reserved {
            Some(r) => func.stats.busy < r,
            None => self.unreserved_busy < self.account_limit - self.reserved_total,
        }
    }

    /// The invocation on `env` finished at `now`: the environment goes idle (and a provisioned
    /// one back to its pool). False when `env` was not busy (a caller's bookkeeping error).
    pub fn finish(&mut self, env: EnvId, now: SimTime) -> bool {
        let Some((f, provisioned)) = self.busy.remove(&env) else {
            debug_assert!(false, "finish of environment {env}, which is not busy");
            return false;
        };
        let func = &mut self.functions[f];
        func.stats.busy -= 1;
        if func.spec.reserved.is_none() {
            self.unreserved_busy -= 1;
        }
        if provisioned {
            func.idle_provisioned.push(env);
        } else {
            debug_assert!(func.idle.back().is_none_or(|&(_, t)| t <= now));
            func.idle.push_back((env, now));
        }
        self.check();
        true
    }

    /// Reclaims `f`'s on-demand environments idle for the keep-alive by `now`.
    fn expire_function(&mut self, f: FunctionId, now: SimTime) -> Vec<EnvId> {
        let func = &mut self.functions[f];
        let mut gone = Vec::new();
        while let Some(&(env, since)) = func.idle.front() {
            if since.saturating_add(func.spec.keep_alive) > now {
                break;
            }
            func.idle.pop_front();
            gone.push(env);
        }
        func.stats.expired += gone.len() as u64;
        func.stats.environments -= gone.len() as u32;
        gone
    }

    /// Reclaims every function's environments idle for their keep-alive by `now`, and returns
    /// them (function order, then expiry order). Invocations reclaim lazily anyway; call this to
    /// keep environment counts current for a chart.
    pub fn expire(&mut self, now: SimTime) -> Vec<EnvId> {
        (0..self.functions.len())
            .flat_map(|f| self.expire_function(f, now))
            .collect()
    }

    /// When the next idle environment expires.
    pub fn next_expiry(&self) -> Option<SimTime> {
        self.functions
            .iter()
            .filter_map(|func| {
                func.idle
                    .front()
                    .map(|&(_, since)| since.saturating_add(func.spec.keep_alive))
            })
            .min()
    }

    pub fn stats(&self, f: FunctionId) -> FunctionStats {
        self.functions[f].stats
    }

    /// The concurrency `f` may use: its reservation, or the unreserved pool.
    pub fn limit(&self, f: FunctionId) -> u32 {
        self.functions[f]
            .spec
            .reserved
            .unwrap_or(self.account_limit - self.reserved_total)
    }

    fn check(&self) {
        debug_assert_eq!(
            self.busy.len() as u32,
            self.functions.iter().map(|f| f.stats.busy).sum::<u32>()
        );
        debug_assert!(self.unreserved_busy <= self.account_limit - self.reserved_total);
        debug_assert!(self.functions.iter().all(|f| {
            f.stats.environments as usize
                == f.idle.len() + f.idle_provisioned.len() + f.stats.busy as usize
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t: u64) -> SimTime {
        SimTime::from_nanos(t * 1_000_000)
    }

    fn spec(keep_alive_ms: u64) -> FunctionSpec {
        FunctionSpec {
            keep_alive: SimDuration::from_millis(keep_alive_ms),
            cold_start: Dist::constant(250e6).unwrap(),
            reserved: None,
            provisioned: 0,
        }
    }

    /// A cold start, reuse while warm, expiry at exactly the keep-alive, and the most recently
    /// used environment taken first.
    #[test]
    fn environments_are_reused_while_warm_and_expire_after_keep_alive() {
        let mut rng = RngStream::derive(1, "fn");
        let mut p = Platform::new(1000).unwrap();
        let f = p.add(spec(1000)).unwrap();
        assert_eq!(
            p.invoke(f, ms(0), &mut rng),
            Invoke::Cold {
                env: 0,
                ready_at: ms(250)
            }
        );
        assert_eq!(
            p.invoke(f, ms(10), &mut rng),
            Invoke::Cold {
                env: 1,
                ready_at: ms(260)
            }
        );
        assert!(p.finish(0, ms(300)));
        assert!(p.finish(1, ms(400)));
        assert_eq!(p.next_expiry(), Some(ms(1300)));
        // Env 1 went idle last: it is taken first.
        assert_eq!(p.invoke(f, ms(500), &mut rng), Invoke::Warm { env: 1 });
        p.finish(1, ms(600));
        // Env 0 expires at 1300, env 1 at 1600.
        assert_eq!(p.expire(ms(1299)), Vec::<EnvId>::new());
        assert_eq!(p.expire(ms(1300)), [0]);
        assert_eq!(p.invoke(f, ms(1599), &mut rng), Invoke::Warm { env: 1 });
        p.finish(1, ms(1599));
        assert!(matches!(
            p.invoke(f, ms(2599), &mut rng),
            Invoke::Cold { env: 2, .. }
        ));
        let s = p.stats(f);
        assert_eq!(
            (s.cold, s.warm, s.expired, s.busy, s.environments),
            (3, 2, 2, 1, 1)
        );
        assert_eq!(s.peak_busy, 2);
    }

    /// One function's worth of sparse Poisson load (λ = 1/s, service 1 ms): the cold fraction is
    /// e^(-λK) for keep-alive K, within 0.005 over 200 000 invocations, for λK = 0.5, 1, 2.
    /// (The chance that an invocation finds the environment still busy, λ·1 ms = 0.001, adds
    /// a sliver of extra cold starts, inside the tolerance.)
    #[test]
    fn cold_start_fraction_follows_e_to_the_minus_lambda_k() {
        for k_ms in [500u64, 1000, 2000] {
            let mut rng = RngStream::derive(3, "poisson");
            let mut p = Platform::new(1000).unwrap();
            let f = p
                .add(FunctionSpec {
                    cold_start: Dist::constant(0.0).unwrap(),
                    ..spec(k_ms)
                })
                .unwrap();
            let gap = Dist::exponential(1e9).unwrap();
            let service = SimDuration::from_millis(1);
            let mut now = SimTime::ZERO;
            // Finishes still to come, in time order (at most a couple at once).
            let mut running: Vec<(SimTime, EnvId)> = Vec::new();
            let n = 200_000;
            for _ in 0..n {
                now = now.saturating_add(SimDuration::from_nanos_f64(gap.sample(&mut rng)));
                running.sort();
                while running.first().is_some_and(|&(t, _)| t <= now) {
                    let (t, env) = running.remove(0);
                    p.finish(env, t);
                }
                let start = match p.invoke(f, now, &mut rng) {
                    Invoke::Warm { env } => (now, env),
                    Invoke::Cold { env, ready_at } => (ready_at, env),
                    Invoke::Throttled => unreachable!("limit 1000"),
                };
                running.push((start.0.saturating_add(service), start.1));
            }
            let s = p.stats(f);
            let measured = s.cold as f64 / n as f64;
            let expected = (-(k_ms as f64) / 1000.0).exp();
            assert!(
                (measured - expected).abs() < 0.005,
                "K = {k_ms} ms: cold fraction {measured:.4}, e^(-λK) = {expected:.4}"
            );
        }
    }

    /// Reserved concurrency caps a function at its reservation even with the account idle; the
    /// others share what is left; a finish makes room again.
    #[test]
    fn throttling_at_the_concurrency_limits() {
        let mut rng = RngStream::derive(1, "fn");
        let mut p = Platform::new(10).unwrap();
        let a = p
            .add(FunctionSpec {
                reserved: Some(4),
                ..spec(1000)
            })
            .unwrap();
        let b = p.add(spec(1000)).unwrap();
        let c = p.add(spec(1000)).unwrap();
        assert_eq!((p.limit(a), p.limit(b)), (4, 6));
        let mut envs = Vec::new();
        for _ in 0..6 {
            match p.invoke(a, ms(0), &mut rng) {
                Invoke::Cold { env, .. } => envs.push(env),
                other => assert_eq!(other, Invoke::Throttled),
            }
        }
        assert_eq!((envs.len(), p.stats(a).throttled), (4, 2));
        // b and c share 6.
        let mut ok = 0;
        for i in 0..8 {
            let g = if i % 2 == 0 { b } else { c };
            if p.invoke(g, ms(1), &mut rng) != Invoke::Throttled {
                ok += 1;
            }
        }
        assert_eq!(ok, 6);
        assert_eq!(p.stats(b).throttled + p.stats(c).throttled, 2);
        p.finish(envs[0], ms(2));
        assert_eq!(p.invoke(a, ms(3), &mut rng), Invoke::Warm { env: envs[0] });
        assert_eq!(p.invoke(a, ms(3), &mut rng), Invoke::Throttled);
    }

    /// Provisioned environments are warm from the start, taken first, never expire; beyond them
    /// invocations cold-start on demand.
    #[test]
    fn provisioned_concurrency_is_always_warm() {
        let mut rng = RngStream::derive(1, "fn");
        let mut p = Platform::new(1000).unwrap();
        let f = p
            .add(FunctionSpec {
                provisioned: 2,
                ..spec(100)
            })
            .unwrap();
        assert_eq!(p.stats(f).environments, 2);
        assert!(matches!(p.invoke(f, ms(0), &mut rng), Invoke::Warm { .. }));
        assert!(matches!(p.invoke(f, ms(0), &mut rng), Invoke::Warm { .. }));
        let Invoke::Cold { env, .. } = p.invoke(f, ms(0), &mut rng) else {
            panic!("a third concurrent invocation cold-starts");
        };
        for e in [0, 1, env] {
            p.finish(e, ms(300));
        }
        // An hour later the on-demand environment is long gone, the provisioned ones are not.
        let later = ms(3_600_000);
        assert_eq!(p.expire(later), [env]);
        assert_eq!(p.stats(f).environments, 2);
        assert!(matches!(p.invoke(f, later, &mut rng), Invoke::Warm { .. }));
    }

    #[test]
    fn bad_configurations_are_refused() {
        assert_eq!(
            Platform::new(0).unwrap_err(),
            FunctionError::ZeroAccountLimit
        );
        let mut p = Platform::new(10).unwrap();
        p.add(FunctionSpec {
            reserved: Some(8),
            ..spec(1)
        })
        .unwrap();
        assert_eq!(
            p.add(FunctionSpec {
                reserved: Some(3),
                ..spec(1)
            }),
            Err(FunctionError::OverReserved {
                asked: 3,
                reserved: 8,
                limit: 10
            })
        );
        assert_eq!(
            p.add(FunctionSpec {
                provisioned: 3,
                ..spec(1)
            }),
            Err(FunctionError::OverProvisioned {
                provisioned: 3,
                limit: 2
            })
        );
    }
}

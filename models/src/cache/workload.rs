//! Synthetic cache workloads: a deterministic stream of [`Request`]s from a [`Spec`] and a seed.
//!
//! - `zipf(N, ALPHA)`: N objects, the object of rank k requested with probability ∝ k^-ALPHA.
//! - `scan(N)`: objects 0, 1, ..., N-1, then again from 0 (a loop: LRU and FIFO miss on every
//!   request once N exceeds the cache, while a policy that keeps part of the loop hits).
//! - `shifting(N, ALPHA, EVERY)`: a Zipf over N objects whose whole hot set moves to N objects
//!   never requested before every EVERY requests (a working set that changes).
//! - `mix(N, ALPHA, SCAN, EVERY)`: `zipf(N, ALPHA)` interrupted every EVERY requests by a scan
//!   of SCAN objects requested once each and never again (scan pollution).
//!
//! Keys are not ranks: each object's number goes through a bijective mix, so keys are spread
//! over all of `u64` and their order carries no meaning (a policy that, say, favoured small keys
//! would gain nothing). Sizes come from the key alone ([`Sizes`]), so an object keeps its size
//! across requests and across workloads. Times advance at a rate, evenly or as a Poisson
//! process ([`Arrivals`]).

use std::fmt;
use std::str::FromStr;

use simcore::RngStream;
use simcore::dist::Dist;

use super::Request;

/// Which objects are requested, in which order.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    Zipf {
        objects: u64,
        alpha: f64,
    },
    Scan {
        objects: u64,
    },
    Shifting {
        objects: u64,
        alpha: f64,
        shift_every: u64,
    },
    Mix {
        objects: u64,
        alpha: f64,
        scan: u64,
        every: u64,
    },
}

/// Each object's size in bytes, a function of its key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sizes {
    Fixed(u64),
    /// Uniform on `[min, max]`.
    Uniform {
        min: u64,
        max: u64,
    },
    /// Log-uniform on `[min, max]`: as many objects between 100 and 1,000 bytes as between
    /// 1,000 and 10,000, the heavy-tailed spread of real object sizes.
    LogUniform {
        min: u64,
        max: u64,
    },
}

/// When requests are made: `rate` per second, evenly spaced or as a Poisson process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrivals {
    pub rate: f64,
    pub poisson: bool,
}

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals {
            rate: 1000.0,
            poisson: false,
        }
    }
}

/// A whole workload: objects, sizes, times.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub workload: Workload,
    pub sizes: Sizes,
    pub arrivals: Arrivals,
}

impl Spec {
    /// `workload` with objects of size 1 at the default rate.
    pub fn new(workload: Workload) -> Spec {
        Spec {
            workload,
            sizes: Sizes::Fixed(1),
            arrivals: Arrivals::default(),
        }
    }
}

/// A specification that cannot be parsed or makes no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(String);

fn bad<T>(what: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(what.into()))
}

/// The key of object number `n`: a bijection (SplitMix64's finalizer), so distinct objects get
/// distinct keys, spread over all of `u64`.
pub fn scatter(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Sizes {
    /// The size of the object with `key`.
    pub fn of(&self, key: u64) -> u64 {
        // A second mix so sizes do not correlate with the key's own bits.
        let u = (scatter(key ^ 0x5bd1_e995) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        match *self {
            Sizes::Fixed(s) => s,
            Sizes::Uniform { min, max } => min + ((max - min + 1) as f64 * u) as u64,
            Sizes::LogUniform { min, max } => {
                let (lo, hi) = (libm::log(min as f64), libm::log(max as f64 + 1.0));
                (libm::exp(lo + (hi - lo) * u) as u64).clamp(min, max)
            }
        }
    }

    fn check(&self) -> Result<(), SpecError> {
        match *self {
            Sizes::Fixed(0) => bad("sizes: an object's size must be at least 1 byte"),
            Sizes::Uniform { min, max } | Sizes::LogUniform { min, max }
                if min == 0 || min > max =>
            {
                bad(format!(
                    "sizes: need 1 <= min <= max, got min {min}, max {max}"
                ))
            }
            _ => Ok(()),
        }
    }
}

impl Workload {
    fn check(&self) -> Result<(), SpecError> {
        let (objects, alpha) = match *self {
            Workload::Zipf { objects, alpha } => (objects, Some(alpha)),
            Workload::Scan { objects } => (objects, None),
            Workload::Shifting {
                objects,
                alpha,
                shift_every,
            } => {
                if shift_every == 0 {
                    return bad("shifting: EVERY must be at least 1");
                }
                (objects, Some(alpha))
            }
            Workload::Mix {
                objects,
                alpha,
                scan,
                every,
            } => {
                if scan == 0 || every == 0 {
                    return bad("mix: SCAN and EVERY must be at least 1");
                }
                (objects, Some(alpha))
            }
        };
        if objects == 0 {
            return bad("a workload needs at least 1 object");
        }
        if let Some(a) = alpha {
            Dist::zipf(objects, a).map_err(|e| SpecError(e.to_string()))?;
        }
        Ok(())
    }
}

impl Arrivals {
    fn check(&self) -> Result<(), SpecError> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return bad(format!(
                "rate: requests per second must be a positive number, got {}",
                self.rate
            ));
        }
        Ok(())
    }
}

/// Requests drawn from a [`Spec`]: the same spec and seed give the same requests.
#[derive(Debug, Clone)]
pub struct Generator {
    spec: Spec,
    /// The Zipf of ranks, for the workloads that have one.
    zipf: Option<Dist>,
    keys: RngStream,
    times: RngStream,
    /// Requests made so far.
    n: u64,
    /// The time of the last request, in (fractional) nanoseconds.
    clock: f64,
    /// Mix: objects of the scan under way still to request, and the next scan object's number.
    scan_left: u64,
    next_scan: u64,
}

impl Generator {
    pub fn new(spec: Spec, seed: u64) -> Result<Generator, SpecError> {
        spec.workload.check()?;
        spec.sizes.check()?;
        spec.arrivals.check()?;
        let zipf = match spec.workload {
            Workload::Zipf { objects, alpha }
            | Workload::Shifting { objects, alpha, .. }
            | Workload::Mix { objects, alpha, .. } => {
                Some(Dist::zipf(objects, alpha).map_err(|e| SpecError(e.to_string()))?)
            }
            Workload::Scan { .. } => None,
        };
        Ok(Generator {
            spec,
            zipf,
            keys: RngStream::derive(seed, "cache.workload.keys"),
            times: RngStream::derive(seed, "cache.workload.times"),
            n: 0,
            clock: 0.0,
            scan_left: 0,
            next_scan: 0,
        })
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// A Zipf rank from 0.
    fn rank(&mut self) -> u64 {
        let zipf = self.zipf.as_ref().expect("this workload has a Zipf");
        zipf.sample(&mut self.keys) as u64 - 1
    }

    /// The number of the object the next request is for.
    fn object(&mut self) -> u64 {
        let n = self.n;
        match self.spec.workload {
            Workload::Zipf { .. } => self.rank(),
            Workload::Scan { objects } => n % objects,
            Workload::Shifting {
                objects,
                shift_every,
                ..
            } => self.rank() + (n / shift_every) * objects,
            Workload::Mix {
                objects,
                scan,
                every,
                ..
            } => {
                if n > 0 && n % every == 0 && self.scan_left == 0 {
                    self.scan_left = scan;
                }
                if self.scan_left > 0 {
                    self.scan_left -= 1;
                    self.next_scan += 1;
                    // Scan objects are numbered after the Zipf's, so never collide with them.
                    objects + self.next_scan - 1
                } else {
                    self.rank()
                }
            }
        }
    }

    fn advance_clock(&mut self) -> u64 {
        let gap = 1e9 / self.spec.arrivals.rate;
        if self.n > 0 {
            self.clock += if self.spec.arrivals.poisson {
                -gap * libm::log(self.times.next_f64_open0())
            } else {
                gap
            };
        }
        self.clock as u64
    }
}

impl Iterator for Generator {
    type Item = Request;

    /// Never ends.
    fn next(&mut self) -> Option<Request> {
        let key = scatter(self.object());
        let time = self.advance_clock();
        self.n += 1;
        Some(Request {
            time,
            key,
            size: self.spec.sizes.of(key),
        })
    }
}

// ---- The text form, used on the command line: `zipf(10000, 1.0)`, `uniform(100, 1000)`.

/// `NAME(ARG, ...)` split into the name and its arguments.
fn call(s: &str) -> Result<(&str, Vec<&str>), SpecError> {
    let s = s.trim();
    let Some(open) = s.find('(') else {
        return bad(format!("`{s}`: expected NAME(ARGS, ...)"));
    };
    let Some(inner) = s[open + 1..].strip_suffix(')') else {
        return bad(format!("`{s}`: missing the closing `)`"));
    };
    let args = inner.split(',').map(str::trim).collect();
    Ok((s[..open].trim(), args))
}

fn arity(name: &str, args: &[&str], names: &str) -> Result<(), SpecError> {
    let want = names.split(", ").count();
    if args.len() != want {
        return bad(format!(
            "{name} takes {want} argument(s), {name}({names}); got {}",
            args.len()
        ));
    }
    Ok(())
}

fn num<T: FromStr>(name: &str, what: &str, s: &str) -> Result<T, SpecError> {
    // Underscores group digits, as in the scenario language: 1_000_000.
    s.replace('_', "")
        .parse()
        .or_else(|_| bad(format!("{name}: {what} must be a number, got `{s}`")))
}

impl FromStr for Workload {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Workload, SpecError> {
        let (name, a) = call(s)?;
        let w = match name {
            "zipf" => {
                arity(name, &a, "OBJECTS, ALPHA")?;
                Workload::Zipf {
                    objects: num(name, "OBJECTS", a[0])?,
                    alpha: num(name, "ALPHA", a[1])?,
                }
            }
            "scan" => {
                arity(name, &a, "OBJECTS")?;
                Workload::Scan {
                    objects: num(name, "OBJECTS", a[0])?,
                }
            }
            "shifting" => {
                arity(name, &a, "OBJECTS, ALPHA, EVERY")?;
                Workload::Shifting {
                    objects: num(name, "OBJECTS", a[0])?,
                    alpha: num(name, "ALPHA", a[1])?,
                    shift_every: num(name, "EVERY", a[2])?,
                }
            }
            "mix" => {
                arity(name, &a, "OBJECTS, ALPHA, SCAN, EVERY")?;
                Workload::Mix {
                    objects: num(name, "OBJECTS", a[0])?,
                    alpha: num(name, "ALPHA", a[1])?,
                    scan: num(name, "SCAN", a[2])?,
                    every: num(name, "EVERY", a[3])?,
                }
            }
            _ => {
                return bad(format!(
                    "unknown workload `{name}`: expected zipf, scan, shifting or mix"
                ));
            }
        };
        w.check()?;
        Ok(w)
    }
}

impl FromStr for Sizes {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Sizes, SpecError> {
        let (name, a) = call(s)?;
        let sizes = match name {
            "fixed" => {
                arity(name, &a, "BYTES")?;
                Sizes::Fixed(num(name, "BYTES", a[0])?)
            }
            "uniform" | "loguniform" => {
                arity(name, &a, "MIN, MAX")?;
                let (min, max) = (num(name, "MIN", a[0])?, num(name, "MAX", a[1])?);
                if name == "uniform" {
                    Sizes::Uniform { min, max }
                } else {
                    Sizes::LogUniform { min, max }
                }
            }
            _ => {
                return bad(format!(
                    "unknown sizes `{name}`: expected fixed, uniform or loguniform"
                ));
            }
        };
        sizes.check()?;
        Ok(sizes)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Workload::Zipf { objects, alpha } => write!(f, "zipf({objects}, {alpha})"),
            Workload::Scan { objects } => write!(f, "scan({objects})"),
            Workload::Shifting {
                objects,
                alpha,
                shift_every,
            } => write!(f, "shifting({objects}, {alpha}, {shift_every})"),
            Workload::Mix {
                objects,
                alpha,
                scan,
                every,
            } => write!(f, "mix({objects}, {alpha}, {scan}, {every})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn take(spec: Spec, seed: u64, n: usize) -> Vec<Request> {
        Generator::new(spec, seed).unwrap().take(n).collect()
    }

    #[test]
    fn same_seed_same_requests_and_another_seed_differs() {
        let spec = Spec::new("zipf(1000, 0.9)".parse().unwrap());
        let a = take(spec.clone(), 7, 5_000);
        assert_eq!(a, take(spec.clone(), 7, 5_000));
        assert_ne!(a, take(spec, 8, 5_000));
    }

    /// Rank 1 is requested about 1/H(N, alpha) of the time, and keys are scattered: the most
    /// requested key is not 0 or 1.
    #[test]
    fn zipf_is_skewed_and_keys_are_scattered() {
        let reqs = take(Spec::new("zipf(100, 1.0)".parse().unwrap()), 1, 200_000);
        let mut counts: HashMap<u64, u64> = HashMap::new();
        for r in &reqs {
            *counts.entry(r.key).or_default() += 1;
        }
        let top = counts.iter().max_by_key(|(_, c)| **c).unwrap();
        assert_eq!(*top.0, scatter(0));
        assert!(*top.0 > 1000, "keys are spread over u64");
        let h: f64 = (1..=100).map(|k| 1.0 / k as f64).sum();
        let share = *top.1 as f64 / reqs.len() as f64;
        assert!((share - 1.0 / h).abs() < 0.01, "rank 1's share {share}");
        assert_eq!(counts.len(), 100);
    }

    #[test]
    fn scan_loops_over_its_objects() {
        let reqs = take(Spec::new(Workload::Scan { objects: 3 }), 1, 7);
        let keys: Vec<u64> = reqs.iter().map(|r| r.key).collect();
        let k: Vec<u64> = [0, 1, 2, 0, 1, 2, 0].iter().map(|&n| scatter(n)).collect();
        assert_eq!(keys, k);
    }

    /// Shifting: the objects of one period are disjoint from the next period's.
    #[test]
    fn shifting_moves_the_whole_hot_set() {
        let reqs = take(
            Spec::new("shifting(50, 1.0, 1000)".parse().unwrap()),
            3,
            2000,
        );
        let first: std::collections::HashSet<u64> = reqs[..1000].iter().map(|r| r.key).collect();
        assert!(reqs[1000..].iter().all(|r| !first.contains(&r.key)));
    }

    /// Mix: every EVERY requests, SCAN requests for objects never seen before or after.
    #[test]
    fn mix_inserts_one_time_scans() {
        let reqs = take(Spec::new("mix(20, 1.0, 5, 100)".parse().unwrap()), 3, 1000);
        let mut counts: HashMap<u64, u64> = HashMap::new();
        for r in &reqs {
            *counts.entry(r.key).or_default() += 1;
        }
        let once: Vec<usize> = (0..reqs.len())
            .filter(|&i| counts[&reqs[i].key] == 1 && (0..20).all(|n| scatter(n) != reqs[i].key))
            .collect();
        let expected: Vec<usize> = (1..10).flat_map(|s| s * 100..s * 100 + 5).collect();
        assert_eq!(once, expected);
    }

    #[test]
    fn sizes_depend_on_the_key_alone_and_stay_in_bounds() {
        for sizes in ["uniform(100, 200)", "loguniform(10, 100000)", "fixed(4096)"] {
            let s: Sizes = sizes.parse().unwrap();
            let mut spec = Spec::new("zipf(500, 0.8)".parse().unwrap());
            spec.sizes = s;
            let reqs = take(spec, 1, 20_000);
            let mut seen: HashMap<u64, u64> = HashMap::new();
            for r in &reqs {
                assert_eq!(*seen.entry(r.key).or_insert(r.size), r.size, "{sizes}");
                assert_eq!(r.size, s.of(r.key));
            }
            let (lo, hi) = match s {
                Sizes::Fixed(b) => (b, b),
                Sizes::Uniform { min, max } | Sizes::LogUniform { min, max } => (min, max),
            };
            assert!(seen.values().all(|&v| (lo..=hi).contains(&v)), "{sizes}");
            if lo < hi {
                assert!(seen.values().any(|&v| v != seen[&reqs[0].key]), "{sizes}");
            }
        }
        // Log-uniform: about as many objects below the geometric middle as above.
        let s: Sizes = "loguniform(10, 100000)".parse().unwrap();
        let below = (0..10_000).filter(|&n| s.of(scatter(n)) < 1000).count();
        assert!((4_500..5_500).contains(&below), "{below}");
    }

    #[test]
    fn times_advance_at_the_rate() {
        let mut spec = Spec::new(Workload::Scan { objects: 10 });
        spec.arrivals = Arrivals {
            rate: 1000.0,
            poisson: false,
        };
        let reqs = take(spec.clone(), 1, 3);
        assert_eq!(
            reqs.iter().map(|r| r.time).collect::<Vec<_>>(),
            [0, 1_000_000, 2_000_000]
        );
        spec.arrivals.poisson = true;
        let reqs = take(spec, 1, 100_001);
        let mean_gap = reqs[100_000].time as f64 / 100_000.0;
        assert!((mean_gap - 1e6).abs() < 1e4, "{mean_gap}");
        assert!(reqs.windows(2).all(|w| w[0].time <= w[1].time));
    }

    #[test]
    fn bad_specs_are_errors_naming_the_problem() {
        for (text, needle) in [
            ("zipf(0, 1)", "at least 1 object"),
            ("zipf(10)", "takes 2 argument"),
            ("zipf(10, x)", "ALPHA must be a number"),
            ("zipf(10, -1)", "must not be negative"),
            ("zap(3)", "unknown workload"),
            ("scan 3", "NAME(ARGS"),
            ("mix(10, 1, 0, 5)", "SCAN and EVERY"),
            ("shifting(10, 1, 0)", "EVERY"),
        ] {
            let e = text.parse::<Workload>().unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        for (text, needle) in [("fixed(0)", "at least 1"), ("uniform(5, 2)", "min <= max")] {
            let e = text.parse::<Sizes>().unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        let mut spec = Spec::new(Workload::Scan { objects: 1 });
        spec.arrivals.rate = 0.0;
        assert!(Generator::new(spec, 1).is_err());
    }

    #[test]
    fn display_parses_back() {
        for text in [
            "zipf(10000, 1)",
            "scan(5)",
            "shifting(10, 0.5, 100)",
            "mix(10, 1.2, 3, 50)",
        ] {
            let w: Workload = text.parse().unwrap();
            assert_eq!(w.to_string(), text);
        }
    }
}

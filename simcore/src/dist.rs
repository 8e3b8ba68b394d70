//! Probability distributions, sampled reproducibly from an [`RngStream`].
//!
//! Written here rather than taken from `rand_distr` on purpose: `rand_distr` calls `f64::ln` and
//! friends, which go to the platform's C math library and may differ in the last bit between
//! platforms, and its algorithms may change between versions. Here every transcendental function
//! comes from `libm` (a pure-Rust port of musl's libm, the same bits everywhere), and each
//! algorithm is written down below, so a seed gives the same numbers on any machine.
//!
//! Values are plain `f64` in whatever unit the caller chose (the scenario layer uses nanoseconds
//! for durations); [`crate::SimDuration::from_nanos_f64`] turns a sample into time.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::rng::RngStream;

/// A distribution with validated parameters. Build one with the checked constructors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Dist {
    /// Always `value`.
    Constant { value: f64 },
    /// Uniform on `[low, high)`.
    Uniform { low: f64, high: f64 },
    /// Normal with mean and standard deviation (Box–Muller, one draw per pair of uniforms).
    Normal { mean: f64, std_dev: f64 },
    /// Exponential with the given mean (inverse transform: `-mean * ln(U)`, `U` in `(0, 1]`).
    Exponential { mean: f64 },
    /// `exp(N(mu, sigma))`: `mu` and `sigma` are those of the underlying normal.
    LogNormal { mu: f64, sigma: f64 },
    /// Pareto type I with minimum `scale` and tail index `shape` (`scale / U^(1/shape)`).
    Pareto { scale: f64, shape: f64 },
    /// Zipf on the ranks `1..=n` with exponent `s` (P(k) ∝ k^-s), by Hörmann and Derflinger's
    /// rejection-inversion, which needs no table and so works for any `n`.
    Zipf { n: u64, s: f64 },
}

/// Parameters a distribution cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    #[error("{name}: parameter {param} must be a finite number, got {value}")]
    NotFinite {
        name: &'static str,
        param: &'static str,
        value: f64,
    },
    #[error("{name}: {what}")]
    Invalid { name: &'static str, what: String },
}

fn finite(name: &'static str, param: &'static str, value: f64) -> Result<f64, DistError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DistError::NotFinite { name, param, value })
    }
}

fn invalid(name: &'static str, what: impl Into<String>) -> DistError {
    DistError::Invalid {
        name,
        what: what.into(),
    }
}

impl Dist {
    pub fn constant(value: f64) -> Result<Dist, DistError> {
        Ok(Dist::Constant {
            value: finite("constant", "value", value)?,
        })
    }
    pub fn uniform(low: f64, high: f64) -> Result<Dist, DistError> {
        let (low, high) = (
            finite("uniform", "low", low)?,
            finite("uniform", "high", high)?,
        );
        if low > high {
            return Err(invalid(
                "uniform",
                format!("low ({low}) must not exceed high ({high})"),
            ));
        }
        Ok(Dist::Uniform { low, high })
    }
    pub fn normal(mean: f64, std_dev: f64) -> Result<Dist, DistError> {
        let (mean, std_dev) = (
            finite("normal", "mean", mean)?,
            finite("normal", "std_dev", std_dev)?,
        );
        if std_dev < 0.0 {
            return Err(invalid(
                "normal",
                "the standard deviation must not be negative",
            ));
        }
        Ok(Dist::Normal { mean, std_dev })
    }
    pub fn exponential(mean: f64) -> Result<Dist, DistError> {
        let mean = finite("exp", "mean", mean)?;
        if mean <= 0.0 {
            return Err(invalid(
                "exp",
                format!("the mean must be positive, got {mean}"),
            ));
        }
        Ok(Dist::Exponential { mean })
    }
    pub fn lognormal(mu: f64, sigma: f64) -> Result<Dist, DistError> {
        let (mu, sigma) = (
            finite("lognormal", "mu", mu)?,
            finite("lognormal", "sigma", sigma)?,
        );
        if sigma < 0.0 {
            return Err(invalid("lognormal", "sigma must not be negative"));
        }
        Ok(Dist::LogNormal { mu, sigma })
    }
    /// A log-normal given by its median (`exp(mu)`) rather than `mu`: easier to state in units.
    pub fn lognormal_median(median: f64, sigma: f64) -> Result<Dist, DistError> {
        let median = finite("lognormal", "median", median)?;
        if median <= 0.0 {
            return Err(invalid("lognormal", "the median must be positive"));
        }
        Dist::lognormal(libm::log(median), sigma)
    }
    pub fn pareto(scale: f64, shape: f64) -> Result<Dist, DistError> {
        let (scale, shape) = (
            finite("pareto", "scale", scale)?,
            finite("pareto", "shape", shape)?,
        );
        if scale <= 0.0 || shape <= 0.0 {
            return Err(invalid("pareto", "scale and shape must both be positive"));
        }
        Ok(Dist::Pareto { scale, shape })
    }
    pub fn zipf(n: u64, s: f64) -> Result<Dist, DistError> {
        let s = finite("zipf", "s", s)?;
        if n == 0 {
            return Err(invalid(
                "zipf",
                "n (the number of ranks) must be at least 1",
            ));
        }
        if s < 0.0 {
            return Err(invalid("zipf", "the exponent s must not be negative"));
        }
        Ok(Dist::Zipf { n, s })
    }

    /// The distribution's mean, where it is finite.
    pub fn mean(&self) -> Option<f64> {
        match *self {
            Dist::Constant { value } => Some(value),
            Dist::Uniform { low, high } => Some((low + high) / 2.0),
            Dist::Normal { mean, .. } => Some(mean),
            Dist::Exponential { mean } => Some(mean),
            Dist::LogNormal { mu, sigma } => Some(libm::exp(mu + sigma * sigma / 2.0)),
            Dist::Pareto { scale, shape } => (shape > 1.0).then(|| shape * scale / (shape - 1.0)),
            Dist::Zipf { n, s } => {
                let (mut num, mut den) = (0.0, 0.0);
                for k in 1..=n.min(10_000_000) {
                    let w = libm::pow(k as f64, -s);
                    num += k as f64 * w;
                    den += w;
                }
                (n <= 10_000_000).then(|| num / den)
            }
        }
    }

    /// One sample. The number of uniforms consumed depends only on the parameters and the draws.
    #[inline]
    pub fn sample(&self, rng: &mut RngStream) -> f64 {
        match *self {
            Dist::Constant { value } => value,
            Dist::Uniform { low, high } => low + (high - low) * rng.next_f64(),
            Dist::Exponential { mean } => -mean * libm::log(rng.next_f64_open0()),
            Dist::Normal { mean, std_dev } => mean + std_dev * standard_normal(rng),
            Dist::LogNormal { mu, sigma } => libm::exp(mu + sigma * standard_normal(rng)),
            Dist::Pareto { scale, shape } => scale / libm::pow(rng.next_f64_open0(), 1.0 / shape),
            Dist::Zipf { n, s } => zipf_sample(n, s, rng) as f64,
        }
    }
}

/// Box–Muller: `sqrt(-2 ln U1) * cos(2π U2)`; the sine half is discarded so no state is kept.
#[inline]
fn standard_normal(rng: &mut RngStream) -> f64 {
    let u1 = rng.next_f64_open0();
    let u2 = rng.next_f64();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
}

/// Rejection-inversion sampling of Zipf (W. Hörmann, G. Derflinger, "Rejection-inversion to
/// generate variates from monotone discrete distributions", ACM TOMACS 6(3), 1996), in the form
/// used by Apache Commons RNG. `H` is an integral of the hat function `k^-s`.
fn zipf_sample(n: u64, s: f64, rng: &mut RngStream) -> u64 {
    if n == 1 {
        return 1;
    }
    let h_integral = |x: f64| -> f64 {
        let log_x = libm::log(x);
        helper2((1.0 - s) * log_x) * log_x
    };
    let h = |x: f64| -> f64 { libm::exp(-s * libm::log(x)) };
    let h_integral_inverse = |x: f64| -> f64 {
        let mut t = x * (1.0 - s);
        if t < -1.0 {
            t = -1.0; // limits the damage of rounding near the lower end
        }
        libm::exp(helper1(t) * x)
    };
    let h_integral_x1 = h_integral(1.5) - 1.0;
    let h_integral_n = h_integral(n as f64 + 0.5);
    let s_const = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
    loop {
        let u = h_integral_n + rng.next_f64() * (h_integral_x1 - h_integral_n);
        let x = h_integral_inverse(u);
        let k = (x + 0.5).floor().clamp(1.0, n as f64);
        let k_int = k as u64;
        if k - x <= s_const || u >= h_integral(k + 0.5) - h(k) {
            return k_int;
        }
    }
}

/// `ln(1 + x) / x`, accurate near zero.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        libm::log1p(x) / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(exp(x) - 1) / x`, accurate near zero.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        libm::expm1(x) / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dist::Constant { value } => write!(f, "constant({value})"),
            Dist::Uniform { low, high } => write!(f, "uniform({low}, {high})"),
            Dist::Normal { mean, std_dev } => write!(f, "normal({mean}, {std_dev})"),
            Dist::Exponential { mean } => write!(f, "exp(mean {mean})"),
            Dist::LogNormal { mu, sigma } => write!(f, "lognormal({mu}, {sigma})"),
            Dist::Pareto { scale, shape } => write!(f, "pareto({scale}, {shape})"),
            Dist::Zipf { n, s } => write!(f, "zipf({n}, {s})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(d: &Dist, n: usize) -> (f64, f64) {
        let mut rng = RngStream::derive(11, "dist-test");
        let (mut sum, mut sq) = (0.0, 0.0);
        for _ in 0..n {
            let x = d.sample(&mut rng);
            sum += x;
            sq += x * x;
        }
        let mean = sum / n as f64;
        (mean, sq / n as f64 - mean * mean)
    }

    fn close(actual: f64, expected: f64, rel: f64) {
        assert!(
            (actual - expected).abs() <= rel * expected.abs(),
            "{actual} is not within {rel} of {expected}"
        );
    }

    #[test]
    fn means_and_variances_match_closed_forms() {
        let n = 400_000;
        let (m, v) = moments(&Dist::uniform(2.0, 6.0).unwrap(), n);
        close(m, 4.0, 0.01);
        close(v, 16.0 / 12.0, 0.02);
        let (m, v) = moments(&Dist::exponential(3.0).unwrap(), n);
        close(m, 3.0, 0.01);
        close(v, 9.0, 0.03);
        let (m, v) = moments(&Dist::normal(10.0, 2.0).unwrap(), n);
        close(m, 10.0, 0.005);
        close(v, 4.0, 0.02);
        let (m, _) = moments(&Dist::lognormal(0.0, 0.5).unwrap(), n);
        close(m, libm::exp(0.125), 0.01);
        // Pareto with shape 3: mean 1.5 * scale, variance finite.
        let (m, _) = moments(&Dist::pareto(2.0, 3.0).unwrap(), n);
        close(m, 3.0, 0.02);
        assert_eq!(moments(&Dist::constant(5.0).unwrap(), 10), (5.0, 0.0));
    }

    #[test]
    fn zipf_frequencies_match_the_pmf() {
        for &(n, s) in &[(10u64, 1.0), (1000, 0.99), (50, 0.0), (5, 2.5)] {
            let d = Dist::zipf(n, s).unwrap();
            let mut rng = RngStream::derive(5, "zipf");
            let draws = 300_000;
            let mut counts = vec![0u32; n as usize + 1];
            for _ in 0..draws {
                let k = d.sample(&mut rng) as u64;
                assert!((1..=n).contains(&k));
                counts[k as usize] += 1;
            }
            let norm: f64 = (1..=n).map(|k| libm::pow(k as f64, -s)).sum();
            for k in 1..=n.min(5) {
                let p = libm::pow(k as f64, -s) / norm;
                let observed = counts[k as usize] as f64 / draws as f64;
                let sd = (p * (1.0 - p) / draws as f64).sqrt();
                assert!(
                    (observed - p).abs() < 5.0 * sd,
                    "zipf({n},{s}) rank {k}: {observed} vs {p}"
                );
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Dist::uniform(3.0, 1.0).is_err());
        assert!(Dist::exponential(0.0).is_err());
        assert!(Dist::exponential(f64::NAN).is_err());
        assert!(Dist::normal(0.0, -1.0).is_err());
        assert!(Dist::pareto(1.0, 0.0).is_err());
        assert!(Dist::zipf(0, 1.0).is_err());
        assert!(Dist::zipf(10, -1.0).is_err());
    }

    #[test]
    fn sampling_is_reproducible() {
        let d = Dist::lognormal(1.0, 0.3).unwrap();
        let run = || {
            let mut rng = RngStream::derive(99, "x");
            (0..50)
                .map(|_| d.sample(&mut rng).to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}

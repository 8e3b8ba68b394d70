//! Virtual time: an instant ([`SimTime`]) and a span ([`SimDuration`]), both in whole nanoseconds.
//!
//! Time is an integer so that it adds exactly and orders totally on every platform; floats would
//! make two runs disagree in the last bit. Both types parse from and print in human units
//! (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), and printing then parsing gives back the same value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Nanoseconds per unit, largest first; `m` and `h` are only used for exact multiples when printing.
const UNITS: [(&str, u64); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct SimDuration(u64);

/// An instant of virtual time: nanoseconds since the start of the simulation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct SimTime(u64);

/// Why a time or duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeParseError {
    #[error("empty duration; expected a number and a unit such as 150ms")]
    Empty,
    #[error("\"{0}\" has no unit; expected one of ns, us, ms, s, m, h (for example 150ms)")]
    MissingUnit(String),
    #[error("unknown time unit \"{unit}\" in \"{text}\"; expected one of ns, us, ms, s, m, h")]
    UnknownUnit { text: String, unit: String },
    #[error("\"{0}\" is not a number followed by a unit (for example 1.5s)")]
    BadNumber(String),
    #[error("\"{0}\" is finer than one nanosecond, the resolution of virtual time")]
    BelowResolution(String),
    #[error("\"{0}\" is too long: virtual time ends after about 584 years")]
    Overflow(String),
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }

    /// Rounds a (possibly fractional) count of nanoseconds to the nearest nanosecond.
    ///
    /// Distributions sample floats; this is the one place they become time. Negative values and NaN
    /// become zero (a delay cannot be negative) and values past the end of time saturate, so a
    /// heavy-tailed sample can never wrap around.
    pub fn from_nanos_f64(ns: f64) -> Self {
        if ns.is_nan() || ns <= 0.0 {
            SimDuration(0)
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration((ns + 0.5) as u64)
        }
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn checked_add(self, other: SimDuration) -> Option<SimDuration> {
        self.0.checked_add(other.0).map(SimDuration)
    }
    pub fn saturating_sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }
    /// The sum, or the longest representable duration.
    pub fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
}

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// The instant `d` after this one, or `None` past the end of representable time.
    pub fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        self.0.checked_add(d.0).map(SimTime)
    }
    /// The instant `d` after this one, or the end of representable time.
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    /// The span since the start of the simulation.
    pub const fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }
}

impl std::ops::Add<SimDuration> for SimDuration {
    type Output = SimDuration;
    /// Panics on overflow: callers adding user-controlled spans use [`SimDuration::checked_add`].
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_add(rhs.0).expect("SimDuration overflow"))
    }
}

/// Parses `<number><unit>`: an integer or decimal number, then `ns`, `us`, `µs`, `ms`, `s`, `m` or
/// `h`, with no space between (`150ms`, `1.5s`, `2m`). The value must be a whole number of
/// nanoseconds; the arithmetic is exact (no floats).
pub fn parse_duration(text: &str) -> Result<SimDuration, TimeParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(TimeParseError::Empty);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .ok_or_else(|| TimeParseError::MissingUnit(t.to_string()))?;
    let (number, unit) = t.split_at(split);
    let unit_ns: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => {
            return Err(TimeParseError::UnknownUnit {
                text: t.to_string(),
                unit: unit.to_string(),
            });
        }
    };
    let number: String = number.chars().filter(|&c| c != '_').collect();
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number.as_str(), ""),
    };
    let bad = || TimeParseError::BadNumber(t.to_string());
    if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
        return Err(bad());
    }
    let overflow = || TimeParseError::Overflow(t.to_string());
    let int: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| overflow())?
    };
    let mut total = int.checked_mul(unit_ns as u128).ok_or_else(overflow)?;
    if !frac_part.is_empty() {
        if frac_part.len() > 20 {
            return Err(TimeParseError::BelowResolution(t.to_string()));
        }
        let frac: u128 = frac_part.parse().map_err(|_| bad())?;
        let scale = 10u128.pow(frac_part.len() as u32);
        let scaled = frac * unit_ns as u128;
        if scaled % scale != 0 {
            return Err(TimeParseError::BelowResolution(t.to_string()));
        }
        total = total.checked_add(scaled / scale).ok_or_else(overflow)?;
    }
    u64::try_from(total)
        .map(SimDuration)
        .map_err(|_| overflow())
}

impl FromStr for SimDuration {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s)
    }
}

impl FromStr for SimTime {
    type Err = TimeParseError;
    /// An instant is written as the duration since the start: `at 5s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(|d| SimTime(d.0))
    }
}

/// Prints `ns` exactly in the largest unit that reads naturally: `h` and `m` only for exact
/// multiples, otherwise `s`, `ms`, `us` or `ns` with as many decimals as needed (never rounded).
fn write_nanos(f: &mut fmt::Formatter<'_>, ns: u64) -> fmt::Result {
    if ns == 0 {
        return f.write_str("0s");
    }
    for (name, unit) in UNITS {
        let exact_only = unit > 1_000_000_000;
        if ns < unit || (exact_only && ns % unit != 0) {
            continue;
        }
        let whole = ns / unit;
        let rest = ns % unit;
        if rest == 0 {
            return write!(f, "{whole}{name}");
        }
        let digits = unit.ilog10() as usize;
        let frac = format!("{rest:0digits$}");
        return write!(f, "{whole}.{}{name}", frac.trim_end_matches('0'));
    }
    unreachable!("every positive count of nanoseconds is at least 1ns")
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_nanos(f, self.0)
    }
}
impl fmt::Debug for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_nanos(f, self.0)
    }
}
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_nanos(f, self.0)
    }
}
impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("@")?;
        write_nanos(f, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("7ns").unwrap().as_nanos(), 7);
        assert_eq!(parse_duration("3us").unwrap().as_nanos(), 3_000);
        assert_eq!(parse_duration("3µs").unwrap().as_nanos(), 3_000);
        assert_eq!(parse_duration("150ms").unwrap().as_nanos(), 150_000_000);
        assert_eq!(parse_duration("1.5s").unwrap().as_nanos(), 1_500_000_000);
        assert_eq!(parse_duration("2m").unwrap().as_nanos(), 120_000_000_000);
        assert_eq!(parse_duration("1h").unwrap().as_nanos(), 3_600_000_000_000);
        assert_eq!(parse_duration(".25s").unwrap().as_nanos(), 250_000_000);
        assert_eq!(parse_duration("1_000ms").unwrap().as_nanos(), 1_000_000_000);
    }

    #[test]
    fn rejects_bad_text_with_reason() {
        assert_eq!(parse_duration(""), Err(TimeParseError::Empty));
        assert!(matches!(
            parse_duration("150"),
            Err(TimeParseError::MissingUnit(_))
        ));
        assert!(matches!(
            parse_duration("5parsecs"),
            Err(TimeParseError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("1.5ns"),
            Err(TimeParseError::BelowResolution(_))
        ));
        assert!(matches!(
            parse_duration("1.2.3s"),
            Err(TimeParseError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration(".s"),
            Err(TimeParseError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("99999999999h"),
            Err(TimeParseError::Overflow(_))
        ));
        let msg = parse_duration("150").unwrap_err().to_string();
        assert!(msg.contains("150ms"), "hint missing from: {msg}");
    }

    #[test]
    fn prints_in_natural_units() {
        let show = |ns: u64| SimDuration::from_nanos(ns).to_string();
        assert_eq!(show(0), "0s");
        assert_eq!(show(1), "1ns");
        assert_eq!(show(1_500), "1.5us");
        assert_eq!(show(150_000_000), "150ms");
        assert_eq!(show(1_500_000_000), "1.5s");
        assert_eq!(show(100_000_000_000), "100s");
        assert_eq!(show(120_000_000_000), "2m");
        assert_eq!(show(5_400_000_000_000), "90m");
        assert_eq!(show(7_200_000_000_000), "2h");
        assert_eq!(show(1_000_000_001), "1.000000001s");
    }

    #[test]
    fn print_then_parse_round_trips() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            // xorshift over a wide range of magnitudes
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ns = x >> (x % 60);
            let d = SimDuration::from_nanos(ns);
            assert_eq!(parse_duration(&d.to_string()).unwrap(), d, "{ns}");
        }
        let max = SimDuration::MAX;
        assert_eq!(parse_duration(&max.to_string()).unwrap(), max);
    }

    #[test]
    fn float_conversion_clamps() {
        assert_eq!(SimDuration::from_nanos_f64(-3.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_nanos_f64(f64::NAN), SimDuration::ZERO);
        assert_eq!(SimDuration::from_nanos_f64(1e30), SimDuration::MAX);
        assert_eq!(SimDuration::from_nanos_f64(2.5).as_nanos(), 3);
    }
}

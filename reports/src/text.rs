//! Values and metric tables as text, with about four significant digits for reading.

use simcore::{MetricValue, MetricsSnapshot};

/// A value for people, with about four significant digits: durations (nanoseconds) in s, ms, us
/// or ns, other numbers as they are. Machine-readable output keeps full precision instead.
pub fn show(v: f64, is_duration: bool) -> String {
    let (scaled, unit) = if !is_duration {
        (v, "")
    } else if v.abs() >= 1e9 {
        (v / 1e9, "s")
    } else if v.abs() >= 1e6 {
        (v / 1e6, "ms")
    } else if v.abs() >= 1e3 {
        (v / 1e3, "us")
    } else {
        (v, "ns")
    };
    if scaled.fract() == 0.0 && scaled.abs() < 1e15 {
        return format!("{scaled:.0}{unit}");
    }
    let magnitude = if scaled == 0.0 {
        0
    } else {
        scaled.abs().log10().floor() as i32
    };
    let decimals = (3 - magnitude).clamp(0, 6) as usize;
    let text = format!("{scaled:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{unit}")
}

/// A value for people in at most about five characters: [`show`]'s digits with a k, M, G or T
/// suffix from a thousand up (`1k`, `1.049M`), for an axis of sizes or counts.
pub fn show_si(v: f64) -> String {
    let (scale, suffix) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(s, _)| v.abs() >= *s && v.is_finite())
        .unwrap_or((1.0, ""));
    format!("{}{suffix}", show(v / scale, false))
}

/// A curve's extent: its number of points and where x and y go from the first point to the
/// last (`n 20  x 1k..100k  y 0.91..0.12`), which for a miss-ratio curve is its whole shape in
/// brief.
fn curve_line(points: &[(f64, f64)]) -> String {
    let n = points.len();
    match (points.first(), points.last()) {
        (Some(a), Some(b)) => format!(
            "n {n}  x {}..{}  y {}..{}",
            show_si(a.0),
            show_si(b.0),
            show(a.1, false),
            show(b.1, false)
        ),
        _ => format!("n {n}"),
    }
}

/// A heatmap's size and hottest cell (`4 rows x 60 buckets, hottest 1,234`): the grid it draws
/// and how hot it gets.
fn heatmap_line(v: &MetricValue) -> String {
    let MetricValue::Heatmap { rows, .. } = v else {
        return String::new();
    };
    let buckets = rows.first().map_or(0, |r| r.1.len());
    let shape = format!("{} rows x {buckets} buckets", rows.len());
    match v.stat("max") {
        Some(max) => format!("{shape}, hottest {}", group_digits(max as u64)),
        None => shape,
    }
}

/// 1234567 as "1,234,567": counts are long and compared by eye.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// One line per metric, names aligned: kind, then the statistics that matter for that kind.
pub fn metrics_table(metrics: &MetricsSnapshot) -> Vec<String> {
    let width = metrics.0.keys().map(|k| k.len()).max().unwrap_or(0);
    metrics
        .0
        .iter()
        .map(|(name, v)| {
            let d = v.is_duration();
            let line = match v {
                MetricValue::Counter { value } => format!("counter    {value}"),
                MetricValue::Gauge {
                    value, mean, max, ..
                } => {
                    format!(
                        "gauge      mean {}  max {}  last {}",
                        show(*mean, false),
                        show(*max, false),
                        show(*value, false)
                    )
                }
                MetricValue::Series { offered, points } => {
                    let last = points.last().map_or("-".into(), |p| show(p.1, false));
                    format!("series     {offered} samples  last {last}")
                }
                MetricValue::Curve { points } => format!("curve      {}", curve_line(points)),
                MetricValue::Heatmap { .. } => format!("heatmap    {}", heatmap_line(v)),
                MetricValue::Histogram {
                    count,
                    mean,
                    p50,
                    p99,
                    max,
                    ..
                } => format!(
                    "histogram  n {count}  mean {}  p50 {}  p99 {}  max {}",
                    show(*mean, d),
                    show(*p50 as f64, d),
                    show(*p99 as f64, d),
                    show(*max as f64, d)
                ),
            };
            format!("{name:width$}  {line}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use simcore::SimTime;
    use simcore::metrics::{Metrics, Unit};

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
        assert_eq!(group_digits(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn shows_values_for_people() {
        assert_eq!(show(9_780_512_345.0, true), "9.781s");
        assert_eq!(show(1_113_000_000_000_000.0, true), "1113000s");
        assert_eq!(show(426_812.0, true), "426.8us");
        assert_eq!(show(0.0, true), "0ns");
        assert_eq!(show(0.89861, false), "0.8986");
        assert_eq!(show(1_000_000.0, false), "1000000");
    }

    #[test]
    fn si_suffixes_keep_sizes_short() {
        assert_eq!(show_si(1000.0), "1k");
        assert_eq!(show_si(100_000.0), "100k");
        assert_eq!(show_si(1_048_576.0), "1.049M");
        assert_eq!(show_si(0.5), "0.5");
        assert_eq!(show_si(2.5e12), "2.5T");
    }

    #[test]
    fn a_curve_prints_its_points_and_extent() {
        let mut m = Metrics::new();
        let c = m.curve("cache", "mrc").unwrap();
        m.curve("cache", "none").unwrap();
        m.set_curve(
            c,
            (1..=20)
                .map(|i| (i as f64 * 5000.0 - 4000.0, 0.96 - 0.04237 * i as f64))
                .collect(),
        );
        let lines = metrics_table(&m.snapshot(SimTime::from_nanos(1)));
        assert_eq!(
            lines,
            [
                "cache.mrc   curve      n 20  x 1k..96k  y 0.9176..0.1126",
                "cache.none  curve      n 0",
            ]
        );
    }

    #[test]
    fn a_heatmap_prints_its_grid_and_hottest_cell() {
        let mut m = Metrics::new();
        let h = m.heatmap("kv", "requests").unwrap();
        m.heatmap("kv", "unset").unwrap();
        let rows = (0..4)
            .map(|k| (format!("p{k}"), (0..60).map(|i| i * k * 7).collect()))
            .collect();
        m.set_heatmap(h, rows, simcore::SimDuration::from_secs(1));
        let lines = metrics_table(&m.snapshot(SimTime::from_nanos(1)));
        assert_eq!(
            lines,
            [
                "kv.requests  heatmap    4 rows x 60 buckets, hottest 1,239",
                "kv.unset     heatmap    0 rows x 0 buckets",
            ]
        );
    }

    #[test]
    fn table_aligns_names_and_shows_each_kind() {
        let mut m = Metrics::new();
        let c = m.counter("server", "served").unwrap();
        m.add(c, 3);
        let h = m.histogram("s", "wait", Unit::Ns).unwrap();
        m.record(h, 1_500_000);
        let lines = metrics_table(&m.snapshot(SimTime::from_nanos(1)));
        // In name order, which is the order of every output.
        assert_eq!(
            lines,
            [
                "s.wait         histogram  n 1  mean 1.5ms  p50 1.5ms  p99 1.5ms  max 1.5ms",
                "server.served  counter    3"
            ]
        );
    }
}

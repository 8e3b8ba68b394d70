//! Every chart kind draws its title, axis labels with units and legend; PNGs have the asked size;
//! empty and non-finite data do not panic; the same chart gives the same SVG bytes.
//!
//! Readability, checked on the pixels of decoded PNGs: the legend's strip is beside the plot and
//! holds every series' swatch while the plot holds every series' data; nothing is drawn near the
//! border; texts are shortened and tick labels compact. Timelines: rows, classes and bands named,
//! a band on one row tints only that row.

use image::{Rgb, RgbImage};
use reports::chart::{
    Axis, Band, BarSeries, Chart, GanttBar, HeatRow, Layout, Marker, Rect, Samples, Series,
    TimelineSpan, histogram_bins, layout, paired,
};
use reports::{render_png, render_svg};

fn time_series() -> Chart {
    let line = |name: &str, k: f64| Series {
        name: name.to_string(),
        points: (0..50).map(|i| (i as f64, k * (i as f64).sqrt())).collect(),
    };
    Chart::TimeSeries {
        title: "Commit index per node".into(),
        x: Axis::new("time", "ms"),
        y: Axis::new("commit index", "entries"),
        series: vec![line("n1", 1.0), line("n2", 1.5), line("n3", 0.7)],
    }
}

fn cdf() -> Chart {
    let s = |name: &str, k: f64| Samples::new(name, (1..200).map(|i| k * (i as f64).ln()));
    Chart::Cdf {
        title: "Latency CDF".into(),
        x: Axis::new("latency", "us"),
        samples: vec![s("fifo", 1.0), s("sjf", 0.6)],
    }
}

fn histogram() -> Chart {
    let s = |name: &str, k: u64| Samples::new(name, (0..300).map(|i| ((i * k) % 97) as f64));
    Chart::Histogram {
        title: "Election time histogram".into(),
        x: Axis::new("election time", "ms"),
        samples: vec![s("3 nodes", 7), s("5 nodes", 13)],
        bins: 20,
    }
}

fn gantt() -> Chart {
    let bar = |row: &str, start: f64, end: f64, item: &str| GanttBar {
        row: row.into(),
        start,
        end,
        item: item.into(),
    };
    Chart::Gantt {
        title: "Jobs on CPUs".into(),
        x: Axis::new("time", "ms"),
        row_axis: "CPU".into(),
        bars: vec![
            bar("cpu0", 0.0, 3.0, "job A"),
            bar("cpu1", 0.0, 2.0, "job B"),
            bar("cpu0", 3.0, 5.0, "job C"),
            bar("cpu1", 2.0, 6.0, "job A"),
        ],
    }
}

fn span(row: &str, start: f64, end: f64, class: &str, label: &str) -> TimelineSpan {
    TimelineSpan {
        row: row.into(),
        start,
        end,
        class: class.into(),
        label: label.into(),
    }
}

/// Raft roles on three listed nodes and one (n4) named only by a span, a partition across all
/// rows, a crash on n3, and two markers.
fn timeline() -> Chart {
    Chart::Timeline {
        title: "Raft roles per node".into(),
        x: Axis::new("time", "ms"),
        row_axis: "node".into(),
        rows: vec!["n1".into(), "n2".into(), "n3".into()],
        spans: vec![
            span("n1", 0.0, 1200.0, "follower", "term 1"),
            span("n1", 1200.0, 1500.0, "candidate", ""),
            span("n1", 1500.0, 4000.0, "leader", "term 2"),
            span("n2", 0.0, 4000.0, "follower", "term 1"),
            span("n3", 0.0, 2000.0, "follower", ""),
            span("n4", 500.0, 3000.0, "learner", ""),
        ],
        bands: vec![
            Band {
                start: 1000.0,
                end: 1800.0,
                label: "partition".into(),
                row: None,
            },
            Band {
                start: 2500.0,
                end: 3200.0,
                label: "crash".into(),
                row: Some("n3".into()),
            },
        ],
        markers: vec![
            Marker {
                at: 600.0,
                label: "skew".into(),
            },
            Marker {
                at: 3600.0,
                label: "heal".into(),
            },
        ],
    }
}

/// Seek time against distance on a square-root-then-linear curve, two drives.
fn scatter() -> Chart {
    let dots = |name: &str, k: f64| Series {
        name: name.to_string(),
        points: (0..60)
            .map(|i| {
                let d = i as f64 * 50.0;
                let t = if d < 1000.0 {
                    1.0 + 0.1 * d.sqrt()
                } else {
                    3.2 + 0.001 * d
                };
                (d, k * t)
            })
            .collect(),
    };
    Chart::Scatter {
        title: "Seek time against seek distance".into(),
        x: Axis::new("seek distance", "cylinders"),
        y: Axis::new("seek time", "ms"),
        series: vec![dots("fifo", 1.0), dots("sstf", 1.3)],
    }
}

/// Miss ratio against cache size for two policies, sizes 1 KiB to 1 GiB (six decades).
fn curve() -> Chart {
    let mrc = |name: &str, k: f64| Series {
        name: name.to_string(),
        points: (0..=20)
            .map(|i| (2f64.powi(i), (1.0 - k * i as f64 / 20.0).max(0.0)))
            .collect(),
    };
    Chart::Curve {
        title: "Miss ratio against cache size".into(),
        x: Axis::new("cache size", "KiB"),
        y: Axis::new("miss ratio", ""),
        series: vec![mrc("lru", 0.8), mrc("s3-fifo", 0.9)],
    }
}

/// Requests per partition per second: four partitions over `buckets` seconds, partition p2 hot,
/// idle (0) every other second, so that no cell shares its neighbour's colour (and none is joined
/// to it).
fn heatmap_of(buckets: usize) -> Chart {
    let busy = |k: usize, i: usize| ((k + 1) * 100 + i + if k == 2 { 1000 } else { 0 }) as f64;
    let row = |k: usize| HeatRow {
        name: format!("p{k}"),
        cells: (0..buckets)
            .map(|i| if (i + k) % 2 == 0 { 0.0 } else { busy(k, i) })
            .collect(),
    };
    Chart::Heatmap {
        title: "Requests per partition".into(),
        x: Axis::new("simulated time", "s"),
        row_axis: "partition".into(),
        value: Axis::new("requests", ""),
        rows: (0..4).map(row).collect(),
        bucket: 1.0,
    }
}

fn heatmap() -> Chart {
    heatmap_of(30)
}

fn bars() -> Chart {
    Chart::Bars {
        notes: Vec::new(),
        title: "Mean response by policy".into(),
        x: "policy".into(),
        y: Axis::new("mean response", "ms"),
        categories: vec!["fifo".into(), "rr".into(), "cfs".into()],
        series: vec![
            BarSeries {
                name: "light load".into(),
                values: vec![1.0, 2.0, 1.5],
            },
            BarSeries {
                name: "heavy load".into(),
                values: vec![9.0, 5.0, 4.0],
            },
        ],
    }
}

/// Text in SVG is XML-escaped and on a line of its own; the labels used here need no escaping.
fn assert_has(svg: &str, what: &str, chart: &str) {
    assert!(svg.contains(what), "{chart}: SVG lacks {what:?}");
}

#[test]
fn every_kind_draws_title_axes_and_legend() {
    let cases: Vec<(Chart, Vec<&str>)> = vec![
        (
            time_series(),
            vec![
                "Commit index per node",
                "time (ms)",
                "commit index (entries)",
                "\nn1\n",
                "\nn2\n",
                "\nn3\n",
            ],
        ),
        (
            cdf(),
            vec![
                "Latency CDF",
                "latency (us)",
                "fraction of samples at or below",
                "\nfifo (n = 199)\n",
                "\nsjf (n = 199)\n",
            ],
        ),
        (
            histogram(),
            vec![
                "Election time histogram",
                "election time (ms)",
                "count (values per bin)",
                "\n3 nodes (n = 300)\n",
                "\n5 nodes (n = 300)\n",
            ],
        ),
        (
            gantt(),
            vec![
                "Jobs on CPUs",
                "time (ms)",
                "\nCPU\n",
                "\ncpu0\n",
                "\ncpu1\n",
                "job A",
                "job B",
                "job C",
            ],
        ),
        (
            scatter(),
            vec![
                "Seek time against seek distance",
                "seek distance (cylinders)",
                "seek time (ms)",
                "\nfifo\n",
                "\nsstf\n",
            ],
        ),
        (
            curve(),
            vec![
                "Miss ratio against cache size",
                "cache size (KiB)",
                "\nmiss ratio\n",
                "\nlru\n",
                "\ns3-fifo\n",
            ],
        ),
        (
            heatmap(),
            vec![
                "Requests per partition",
                "simulated time (s)",
                "\npartition\n",
                "\np0\n",
                "\np3\n",
                "\nrequests\n",
                "\n1,329\n",
                "\n0\n",
            ],
        ),
        (
            bars(),
            vec![
                "Mean response by policy",
                "\npolicy\n",
                "mean response (ms)",
                "\nfifo\n",
                "\nrr\n",
                "\ncfs\n",
                "light load",
                "heavy load",
            ],
        ),
        (
            timeline(),
            vec![
                "Raft roles per node",
                "time (ms)",
                "\nnode\n",
                "\nn1\n",
                "\nn4\n",
                "\nleader\n",
                "\npartition\n",
                "\nskew\n",
            ],
        ),
    ];
    for (chart, wanted) in cases {
        let svg = render_svg(&chart, 800, 500).unwrap();
        assert!(svg.starts_with("<svg"), "{}", chart.title());
        for w in wanted {
            assert_has(&svg, w, chart.title());
        }
    }
}

#[test]
fn one_series_has_no_legend() {
    let Chart::TimeSeries { series, .. } = time_series() else {
        unreachable!()
    };
    let chart = Chart::TimeSeries {
        title: "Queue depth".into(),
        x: Axis::new("time", "s"),
        y: Axis::new("queue depth", "jobs"),
        series: vec![series[0].clone()],
    };
    let svg = render_svg(&chart, 640, 400).unwrap();
    assert!(!svg.contains("\nn1\n"), "a lone series needs no legend");
}

/// Width and height from the IHDR chunk, which must follow the signature directly.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "IHDR first");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn png_has_signature_and_asked_size() {
    for chart in kinds() {
        let png = render_png(&chart, 720, 410).unwrap();
        assert_eq!(png_size(&png), (720, 410), "{}", chart.title());
    }
}

fn empty_and_nan_charts() -> Vec<Chart> {
    let nan = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    vec![
        Chart::TimeSeries {
            title: "empty".into(),
            x: Axis::new("time", "ms"),
            y: Axis::new("depth", "jobs"),
            series: vec![],
        },
        Chart::TimeSeries {
            title: "nan".into(),
            x: Axis::new("time", "ms"),
            y: Axis::new("depth", "jobs"),
            series: vec![Series {
                name: "a".into(),
                points: vec![(f64::NAN, 1.0), (1.0, f64::INFINITY), (2.0, 3.0)],
            }],
        },
        Chart::Cdf {
            title: "nan".into(),
            x: Axis::new("latency", "us"),
            samples: vec![Samples::new("a", nan.clone())],
        },
        Chart::Cdf {
            title: "one".into(),
            x: Axis::new("latency", "us"),
            samples: vec![Samples::new("a", [5.0])],
        },
        Chart::Scatter {
            title: "nan".into(),
            x: Axis::new("distance", "cylinders"),
            y: Axis::new("time", "ms"),
            series: vec![Series {
                name: "a".into(),
                points: vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)],
            }],
        },
        Chart::Curve {
            title: "nan".into(),
            x: Axis::new("cache size", "B"),
            y: Axis::new("miss ratio", ""),
            series: vec![Series {
                name: "a".into(),
                points: vec![
                    (f64::NAN, 1.0),
                    (0.0, 0.5),
                    (1e9, f64::INFINITY),
                    (1e6, 0.2),
                ],
            }],
        },
        Chart::Curve {
            title: "one point".into(),
            x: Axis::new("cache size", "B"),
            y: Axis::new("miss ratio", ""),
            series: vec![Series {
                name: "a".into(),
                points: vec![(4096.0, 0.5)],
            }],
        },
        Chart::Scatter {
            title: "one point".into(),
            x: Axis::new("distance", "cylinders"),
            y: Axis::new("time", "ms"),
            series: vec![Series {
                name: "a".into(),
                points: vec![(3.0, 4.0)],
            }],
        },
        Chart::Histogram {
            title: "zero bins".into(),
            x: Axis::new("latency", "us"),
            samples: vec![Samples::new("a", [1.0, 1.0, f64::NAN])],
            bins: 0,
        },
        Chart::Histogram {
            title: "empty".into(),
            x: Axis::new("latency", "us"),
            samples: vec![],
            bins: 10,
        },
        Chart::Gantt {
            title: "nan".into(),
            x: Axis::new("time", "ms"),
            row_axis: "CPU".into(),
            bars: vec![GanttBar {
                row: "c".into(),
                start: f64::NAN,
                end: 1.0,
                item: "j".into(),
            }],
        },
        Chart::Bars {
            notes: Vec::new(),
            title: "nan".into(),
            x: "policy".into(),
            y: Axis::new("mean", "ms"),
            categories: vec!["a".into(), "b".into()],
            series: vec![BarSeries {
                name: "s".into(),
                values: nan,
            }],
        },
        Chart::Bars {
            notes: Vec::new(),
            title: "ragged".into(),
            x: "policy".into(),
            y: Axis::new("mean", "ms"),
            categories: vec!["a".into(), "b".into()],
            series: vec![
                BarSeries {
                    name: "s".into(),
                    values: vec![1.0, 2.0, 3.0],
                },
                BarSeries {
                    name: "t".into(),
                    values: vec![],
                },
            ],
        },
        Chart::Heatmap {
            title: "no rows".into(),
            x: Axis::new("time", "s"),
            row_axis: "partition".into(),
            value: Axis::new("requests", ""),
            rows: vec![],
            bucket: 1.0,
        },
        Chart::Heatmap {
            title: "nan".into(),
            x: Axis::new("time", "s"),
            row_axis: "partition".into(),
            value: Axis::new("requests", ""),
            rows: vec![
                HeatRow {
                    name: "a".into(),
                    cells: vec![f64::NAN, 1.0, f64::INFINITY],
                },
                HeatRow {
                    name: "empty".into(),
                    cells: vec![],
                },
            ],
            bucket: f64::NAN,
        },
        Chart::Heatmap {
            title: "all zero".into(),
            x: Axis::new("time", "s"),
            row_axis: "partition".into(),
            value: Axis::new("requests", ""),
            rows: vec![HeatRow {
                name: "a".into(),
                cells: vec![0.0; 5],
            }],
            bucket: 0.5,
        },
        Chart::Bars {
            notes: Vec::new(),
            title: "no categories".into(),
            x: "policy".into(),
            y: Axis::new("mean", "ms"),
            categories: vec![],
            series: vec![],
        },
    ]
}

#[test]
fn empty_and_non_finite_data_do_not_panic() {
    for chart in empty_and_nan_charts() {
        let svg = render_svg(&chart, 400, 300).unwrap();
        assert!(svg.contains(chart.title()));
        render_png(&chart, 400, 300).unwrap();
    }
    let empty = &empty_and_nan_charts()[0];
    assert!(render_svg(empty, 400, 300).unwrap().contains("no data"));
}

#[test]
fn size_out_of_range_is_an_error() {
    assert!(render_svg(&bars(), 0, 300).is_err());
    assert!(render_png(&bars(), 400, 100_000).is_err());
}

#[test]
fn same_chart_same_svg_bytes() {
    for chart in kinds() {
        let a = render_svg(&chart, 800, 500).unwrap();
        let b = render_svg(&chart.clone(), 800, 500).unwrap();
        assert_eq!(a, b, "{}", chart.title());
        let p = render_png(&chart, 300, 200).unwrap();
        assert_eq!(
            p,
            render_png(&chart, 300, 200).unwrap(),
            "{}",
            chart.title()
        );
    }
}

fn kinds() -> Vec<Chart> {
    vec![
        time_series(),
        cdf(),
        histogram(),
        scatter(),
        gantt(),
        bars(),
        timeline(),
        curve(),
        heatmap(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Pixels

/// The charts' fixed palette (Tableau 10), by series position.
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];
/// The colours of the bands labelled "partition" and "crash".
const PARTITION: [u8; 3] = [80, 80, 80];
const CRASH: [u8; 3] = [200, 0, 0];
const WHITE: [u8; 3] = [255, 255, 255];

fn decode(png: &[u8]) -> RgbImage {
    image::load_from_memory(png).expect("a PNG").to_rgb8()
}

fn png(chart: &Chart, w: u32, h: u32) -> RgbImage {
    let img = decode(&render_png(chart, w, h).unwrap());
    assert_eq!(img.dimensions(), (w, h), "{}", chart.title());
    img
}

/// `over` with `c` drawn on it at opacity 0.25, as the bands are.
fn tint(c: [u8; 3], over: [u8; 3]) -> [u8; 3] {
    std::array::from_fn(|i| (0.25 * c[i] as f64 + 0.75 * over[i] as f64).round() as u8)
}

fn near(p: &Rgb<u8>, c: [u8; 3]) -> bool {
    p.0.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 2)
}

/// The pixels of `img` inside `r` whose colour is exactly `c`, as (x, y).
fn pixels_of(img: &RgbImage, r: Rect, c: [u8; 3]) -> Vec<(u32, u32)> {
    let (x0, y0) = (r.x as u32, r.y as u32);
    let mut found = Vec::new();
    for y in y0..(y0 + r.h).min(img.height()) {
        for x in x0..(x0 + r.w).min(img.width()) {
            if img.get_pixel(x, y).0 == c {
                found.push((x, y));
            }
        }
    }
    found
}

/// Every pixel within 2 px of the image's edge is white.
fn assert_white_border(img: &RgbImage, what: &str) {
    let (w, h) = img.dimensions();
    for y in 0..h {
        for x in 0..w {
            let edge = x < 2 || y < 2 || x >= w - 2 || y >= h - 2;
            let p = img.get_pixel(x, y).0;
            assert!(
                !edge || p == WHITE,
                "{what} at {w}x{h}: pixel ({x}, {y}) near the border is {p:?}"
            );
        }
    }
}

fn inside(r: Rect, w: u32, h: u32) -> bool {
    r.x >= 0 && r.y >= 0 && r.x as u32 + r.w <= w && r.y as u32 + r.h <= h
}

fn disjoint(a: Rect, b: Rect) -> bool {
    let (ax1, ay1) = (a.x + a.w as i32, a.y + a.h as i32);
    let (bx1, by1) = (b.x + b.w as i32, b.y + b.h as i32);
    ax1 <= b.x || bx1 <= a.x || ay1 <= b.y || by1 <= a.y
}

// ---------------------------------------------------------------------------------------------
// Many series of every kind

/// Series (items, classes) per chart in the many-series charts: fewer than the palette has, so
/// each colour stands for one series, and few enough for the legend to list them all at 800x500.
/// Seven, because the palette's eighth colour is a grey that anti-aliased black text makes too.
const MANY: usize = 7;

fn name(k: usize) -> String {
    format!("series {k}")
}

/// One chart per kind with [`MANY`] series, each series' data apart from the others' (so none
/// hides another's colour), and for the timeline a partition band after the classes.
fn many_series() -> Vec<Chart> {
    let ks = || 0..MANY;
    let spread = |k: usize| {
        (1..100)
            .map(move |i| i as f64 + 120.0 * k as f64)
            .collect::<Vec<f64>>()
    };
    vec![
        Chart::TimeSeries {
            title: "lines".into(),
            x: Axis::new("time", "s"),
            y: Axis::new("depth", "jobs"),
            series: ks()
                .map(|k| Series {
                    name: name(k),
                    points: (0..40)
                        .map(|i| (i as f64, 10.0 * k as f64 + i as f64 * 0.1))
                        .collect(),
                })
                .collect(),
        },
        Chart::Cdf {
            title: "cdfs".into(),
            x: Axis::new("latency", "us"),
            samples: ks().map(|k| Samples::new(&name(k), spread(k))).collect(),
        },
        Chart::Histogram {
            title: "histograms".into(),
            x: Axis::new("latency", "us"),
            samples: ks().map(|k| Samples::new(&name(k), spread(k))).collect(),
            bins: 2 * MANY,
        },
        Chart::Curve {
            title: "curves".into(),
            x: Axis::new("cache size", "B"),
            y: Axis::new("miss ratio", ""),
            series: ks()
                .map(|k| Series {
                    name: name(k),
                    points: (0..40)
                        .map(|i| (1e3 * 1.2f64.powi(i), 10.0 * k as f64 + 5.0 - i as f64 * 0.1))
                        .collect(),
                })
                .collect(),
        },
        Chart::Scatter {
            title: "scatter".into(),
            x: Axis::new("distance", "cylinders"),
            y: Axis::new("time", "ms"),
            series: ks()
                .map(|k| Series {
                    name: name(k),
                    points: (0..40)
                        .map(|i| (i as f64, 10.0 * k as f64 + (i % 5) as f64))
                        .collect(),
                })
                .collect(),
        },
        Chart::Gantt {
            title: "gantt".into(),
            x: Axis::new("time", "ms"),
            row_axis: "CPU".into(),
            bars: ks()
                .map(|k| GanttBar {
                    row: format!("cpu{}", k % 3),
                    start: k as f64,
                    end: k as f64 + 1.0,
                    item: name(k),
                })
                .collect(),
        },
        Chart::Bars {
            notes: Vec::new(),
            title: "bars".into(),
            x: "policy".into(),
            y: Axis::new("mean", "ms"),
            categories: vec!["fifo".into(), "rr".into(), "cfs".into()],
            series: ks()
                .map(|k| BarSeries {
                    name: name(k),
                    values: vec![1.0 + k as f64, 2.0, 3.0],
                })
                .collect(),
        },
        Chart::Timeline {
            title: "timeline".into(),
            x: Axis::new("time", "ms"),
            row_axis: "node".into(),
            rows: vec![],
            spans: ks()
                .map(|k| {
                    span(
                        &format!("n{}", k % 4),
                        k as f64,
                        k as f64 + 1.0,
                        &name(k),
                        "",
                    )
                })
                .collect(),
            bands: vec![Band {
                start: 7.5,
                end: 8.5,
                label: "partition".into(),
                row: None,
            }],
            markers: vec![],
        },
    ]
}

#[test]
fn layout_puts_the_legend_beside_the_plot() {
    for chart in many_series() {
        for (w, h) in [(800, 500), (400, 300), (1600, 900), (300, 800)] {
            let Layout { plot, legend } = layout(&chart, w, h);
            let what = format!("{} at {w}x{h}", chart.kind_name());
            let legend = legend.unwrap_or_else(|| panic!("{what}: no legend"));
            assert!(inside(plot, w, h), "{what}: plot {plot:?} outside");
            assert!(inside(legend, w, h), "{what}: legend {legend:?} outside");
            assert!(
                disjoint(plot, legend),
                "{what}: {plot:?} overlaps {legend:?}"
            );
            assert!(
                legend.x >= plot.x + plot.w as i32,
                "{what}: legend not right of the plot"
            );
            assert!(
                legend.w * 100 <= w * 36,
                "{what}: legend {} px wide",
                legend.w
            );
            assert!(
                plot.w * 100 >= w * 64,
                "{what}: plot only {} px wide",
                plot.w
            );
        }
    }
}

#[test]
fn legend_width_follows_the_names_and_is_capped() {
    let named = |n: &str| Chart::Bars {
        notes: Vec::new(),
        title: "t".into(),
        x: "x".into(),
        y: Axis::new("y", ""),
        categories: vec!["a".into()],
        series: ["1", "2"]
            .iter()
            .map(|k| BarSeries {
                name: format!("{n}{k}"),
                values: vec![1.0],
            })
            .collect(),
    };
    let width = |c: &Chart| layout(c, 1000, 500).legend.unwrap().w;
    let (short, long) = (
        width(&named("a")),
        width(&named("a much longer series name ")),
    );
    assert!(short < 120, "a legend of 'a1', 'a2' is {short} px wide");
    assert!(
        long > short + 100,
        "longer names, same legend width ({long} vs {short})"
    );
    let huge = width(&named(&"W".repeat(5000)));
    assert!(
        (340..=350).contains(&huge),
        "a 5000-char name gives a {huge} px legend"
    );
}

#[test]
fn one_entry_means_no_legend_and_all_the_width_for_the_plot() {
    let Chart::TimeSeries { series, .. } = time_series() else {
        unreachable!()
    };
    let lone = Chart::TimeSeries {
        title: "Queue depth".into(),
        x: Axis::new("time", "s"),
        y: Axis::new("queue depth", "jobs"),
        series: vec![series[0].clone()],
    };
    for chart in [lone, empty_and_nan_charts()[0].clone()] {
        let l = layout(&chart, 640, 400);
        assert_eq!(l.legend, None, "{}", chart.title());
        assert_eq!((l.plot.x, l.plot.w), (0, 640), "{}", chart.title());
        assert!(inside(l.plot, 640, 400));
    }
}

#[test]
fn the_legend_strip_holds_every_swatch_and_the_plot_every_series() {
    for chart in many_series() {
        let (w, h) = (800, 500);
        let img = png(&chart, w, h);
        let lay = layout(&chart, w, h);
        let legend = lay.legend.unwrap();
        // Swatches sit in a column at the strip's left, the names right of it.
        let column = Rect { w: 30, ..legend };
        for (k, c) in PALETTE.iter().take(MANY).enumerate() {
            let what = format!("{}: series {k} {c:?}", chart.kind_name());
            let swatch = pixels_of(&img, column, *c).len();
            assert!(swatch >= 20, "{what}: {swatch} px of swatch in the legend");
            // Data never reaches into the strip.
            let in_legend = pixels_of(&img, legend, *c).len();
            assert_eq!(
                in_legend, swatch,
                "{what}: colour outside the swatch column"
            );
            let in_plot = pixels_of(&img, lay.plot, *c).len();
            assert!(in_plot >= 20, "{what}: {in_plot} px of data in the plot");
        }
        if let Chart::Timeline { .. } = chart {
            // The band's swatch is outlined in its colour (a grey that text makes too, so only
            // the swatch column is looked at).
            let outline = pixels_of(&img, column, PARTITION).len();
            assert!(outline >= 20, "band swatch: {outline} px");
            let tinted = tint(PARTITION, WHITE);
            let n = img.pixels().filter(|p| near(p, tinted)).count();
            assert!(n >= 100, "partition tint: {n} px");
        }
    }
}

#[test]
fn nothing_is_drawn_near_the_border() {
    let mut charts = kinds();
    charts.extend(many_series());
    charts.extend(long_names());
    charts.extend(empty_and_nan_charts());
    for chart in &charts {
        for (w, h) in [(800, 500), (320, 200), (64, 64), (1200, 120), (120, 900)] {
            assert_white_border(&png(chart, w, h), chart.title());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Text

/// The texts of an SVG's `<text>` elements, in order, unescaped.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..t.find("</text>")?];
            Some(body.trim().replace("&amp;", "&").replace("&lt;", "<"))
        })
        .collect()
}

/// The texts of an SVG's `<text>` elements with their `y` attributes.
fn svg_texts_at(svg: &str) -> Vec<(i64, String)> {
    let texts = svg_texts(svg);
    let ys = svg.split("<text").skip(1).map(|t| {
        let after = &t[t.find(" y=\"").expect("a y attribute") + 4..];
        after[..after.find('"').unwrap()].parse::<f64>().unwrap() as i64
    });
    ys.zip(texts).collect()
}

#[test]
fn numeric_tick_labels_are_compact() {
    let line = |xs: f64, ys: f64| Chart::TimeSeries {
        title: "T".into(),
        x: Axis::new("X", ""),
        y: Axis::new("Y", ""),
        series: vec![Series {
            name: "s".into(),
            points: (0..10).map(|i| (i as f64 * xs, i as f64 * ys)).collect(),
        }],
    };
    let cases = [
        (line(5e5, 0.1), "M"),
        (line(1e3, 1e-7), "e-"),
        (line(1.0, 3e19), "e"),
        (line(0.1, 1.0), "0.6"),
    ];
    for (chart, expect) in cases {
        let svg = render_svg(&chart, 640, 400).unwrap();
        let ticks: Vec<String> = svg_texts(&svg)
            .into_iter()
            .filter(|t| !["T", "X", "Y"].contains(&t.as_str()))
            .collect();
        assert!(ticks.len() >= 6, "{ticks:?}");
        assert!(
            ticks.iter().any(|t| t.contains(expect)),
            "no {expect:?} in {ticks:?}"
        );
        for t in &ticks {
            assert!(t.chars().count() <= 6, "tick label {t:?} in {ticks:?}");
        }
        assert!(!svg.contains("0000000"), "long number in {ticks:?}");
    }
}

/// Charts whose every text is far too long for its place.
fn long_names() -> Vec<Chart> {
    let long = |s: &str| s.repeat(80);
    vec![
        Chart::TimeSeries {
            title: long("Title "),
            x: Axis::new(&long("x axis "), "ms"),
            y: Axis::new(&long("y axis "), "jobs"),
            series: vec![
                Series {
                    name: long("first series "),
                    points: vec![(0.0, 1.0), (1.0, 2.0)],
                },
                Series {
                    name: long("second series "),
                    points: vec![(0.0, 2.0), (1.0, 1.0)],
                },
            ],
        },
        Chart::Gantt {
            title: long("Gantt "),
            x: Axis::new("time", "ms"),
            row_axis: long("CPU "),
            bars: vec![
                GanttBar {
                    row: long("cpu zero "),
                    start: 0.0,
                    end: 1.0,
                    item: long("job "),
                },
                GanttBar {
                    row: "cpu1".into(),
                    start: 0.0,
                    end: 1.0,
                    item: "j".into(),
                },
            ],
        },
        Chart::Bars {
            notes: Vec::new(),
            title: "long categories".into(),
            x: "policy".into(),
            y: Axis::new("mean", "ms"),
            categories: (0..30)
                .map(|i| format!("{i} {}", long("category ")))
                .collect(),
            series: vec![BarSeries {
                name: "s".into(),
                values: (0..30).map(f64::from).collect(),
            }],
        },
        Chart::Timeline {
            title: long("Timeline "),
            x: Axis::new("time", "ms"),
            row_axis: "node".into(),
            rows: vec![long("node one ")],
            spans: vec![span(
                &long("node one "),
                0.0,
                5.0,
                &long("leader "),
                &long("t"),
            )],
            bands: vec![Band {
                start: 1.0,
                end: 2.0,
                label: long("partition "),
                row: None,
            }],
            markers: vec![Marker {
                at: 3.0,
                label: long("marker "),
            }],
        },
    ]
}

#[test]
fn long_texts_are_shortened_with_an_ellipsis() {
    for chart in long_names() {
        let svg = render_svg(&chart, 800, 500).unwrap();
        let texts = svg_texts(&svg);
        for t in &texts {
            // 800 px hold at most ~130 characters of 22 px text, ~230 of 12 px text.
            assert!(
                t.chars().count() < 240,
                "{}: {t:?} unshortened",
                chart.kind_name()
            );
        }
        let cut = texts.iter().filter(|t| t.ends_with('…')).count();
        assert!(
            cut >= 3,
            "{}: only {cut} shortened texts",
            chart.kind_name()
        );
        if chart.title().len() > 200 {
            assert!(texts[0].ends_with('…'), "title {:?}", texts[0]);
        }
    }
}

#[test]
fn a_legend_too_long_for_its_strip_ends_with_how_many_more() {
    let chart = Chart::TimeSeries {
        title: "1000 series".into(),
        x: Axis::new("time", "s"),
        y: Axis::new("v", ""),
        series: (0..1000)
            .map(|k| Series {
                name: format!("s{k:04}"),
                points: vec![(0.0, k as f64), (1.0, k as f64 + 1.0)],
            })
            .collect(),
    };
    let svg = render_svg(&chart, 800, 500).unwrap();
    let more = svg_texts(&svg)
        .into_iter()
        .find_map(|t| {
            t.strip_prefix('+')?
                .strip_suffix(" more")?
                .parse::<usize>()
                .ok()
        })
        .expect("a \"+N more\" line");
    let shown = 1000 - more;
    assert!((10..40).contains(&shown), "{shown} entries shown at 500 px");
    assert_has(&svg, &format!("\ns{:04}\n", shown - 1), "legend");
    assert!(
        !svg.contains(&format!("\ns{shown:04}\n")),
        "entry {shown} past the end"
    );
}

// ---------------------------------------------------------------------------------------------
// Timelines

#[test]
fn timeline_svg_names_every_row_class_and_band() {
    let svg = render_svg(&timeline(), 800, 500).unwrap();
    for want in [
        "n1",
        "n2",
        "n3",
        "n4",
        "follower",
        "candidate",
        "leader",
        "learner",
        "partition",
        "crash",
        "skew",
        "heal",
        "term 2",
    ] {
        assert_has(&svg, &format!("\n{want}\n"), "timeline");
    }
    assert_eq!(svg, render_svg(&timeline(), 800, 500).unwrap());
    let (a, b) = (
        render_png(&timeline(), 800, 500),
        render_png(&timeline(), 800, 500),
    );
    assert_eq!(a.unwrap(), b.unwrap());
}

#[test]
fn unlisted_rows_follow_the_listed_ones_in_order_of_first_appearance() {
    let chart = Chart::Timeline {
        title: "t".into(),
        x: Axis::new("time", "ms"),
        row_axis: "node".into(),
        rows: vec!["b".into(), "a".into(), "b".into()],
        spans: vec![span("d", 0.0, 1.0, "x", ""), span("a", 0.0, 1.0, "x", "")],
        bands: vec![Band {
            start: 0.0,
            end: 1.0,
            label: "crash".into(),
            row: Some("c".into()),
        }],
        markers: vec![],
    };
    let svg = render_svg(&chart, 600, 400).unwrap();
    let mut rows: Vec<(i64, String)> = svg_texts_at(&svg)
        .into_iter()
        .filter(|(_, t)| ["a", "b", "c", "d"].contains(&t.as_str()))
        .collect();
    rows.sort();
    let top_down: Vec<&str> = rows.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(top_down, ["b", "a", "d", "c"]);
}

/// Rows "a" (class x, blue) and "b" (class y, orange) spanning 0..10, and a crash band on 4..6.
fn crash_on(row: Option<&str>) -> Chart {
    Chart::Timeline {
        title: "crash".into(),
        x: Axis::new("time", "ms"),
        row_axis: "node".into(),
        rows: vec!["a".into(), "b".into()],
        spans: vec![span("a", 0.0, 10.0, "x", ""), span("b", 0.0, 10.0, "y", "")],
        bands: vec![Band {
            start: 4.0,
            end: 6.0,
            label: "crash".into(),
            row: row.map(str::to_string),
        }],
        markers: vec![],
    }
}

#[test]
fn a_band_on_one_row_tints_only_that_row_behind_its_spans() {
    let [blue, orange] = [PALETTE[0], PALETTE[1]];
    let on_white = tint(CRASH, WHITE);
    let count = |img: &RgbImage, c| img.pixels().filter(|p| near(p, c)).count();

    let img = png(&crash_on(Some("b")), 800, 500);
    // Behind the spans: no span's colour is mixed with the tint anywhere.
    for c in [tint(CRASH, blue), tint(CRASH, orange)] {
        assert_eq!(count(&img, c), 0, "a span tinted over");
    }
    let plot = layout(&crash_on(Some("b")), 800, 500).plot;
    let tinted = pixels_of(&img, plot, on_white);
    assert!(tinted.len() > 300, "row b: {} tinted px", tinted.len());
    let rows_of = |c| {
        let ys: Vec<u32> = pixels_of(&img, plot, c).iter().map(|p| p.1).collect();
        *ys.iter().min().unwrap()..*ys.iter().max().unwrap() + 1
    };
    let (row_a, row_b) = (rows_of(blue), rows_of(orange));
    assert!(
        row_a.end <= row_b.start,
        "row a {row_a:?} is above row b {row_b:?}"
    );
    // The tint shows around row b's bar (its row's margins), never in row a's half.
    let boundary = (row_a.end + row_b.start) / 2;
    assert!(
        tinted.iter().all(|(_, y)| *y + 1 >= boundary),
        "tint above row b's top {boundary}"
    );
    // Straight above and inside the tint, both bars keep their own colour.
    let mid_x = tinted.iter().map(|p| p.0).sum::<u32>() / tinted.len() as u32;
    assert!(
        row_a.clone().all(|y| img.get_pixel(mid_x, y).0 == blue),
        "row a at x {mid_x}"
    );
    let mid_b = (row_b.start + row_b.end) / 2;
    assert_eq!(img.get_pixel(mid_x, mid_b).0, orange, "row b at x {mid_x}");

    // The same band on no row in particular shows around both bars.
    let both = png(&crash_on(None), 800, 500);
    let ys: Vec<u32> = pixels_of(&both, plot, on_white)
        .iter()
        .map(|p| p.1)
        .collect();
    assert!(ys.iter().any(|y| *y < boundary) && ys.iter().any(|y| *y > boundary));
    assert_eq!(count(&both, tint(CRASH, blue)), 0);
}

#[test]
fn raft_roles_keep_their_colours_whatever_the_order() {
    let chart = Chart::Timeline {
        title: "roles".into(),
        x: Axis::new("time", "ms"),
        row_axis: "node".into(),
        rows: vec![],
        spans: vec![
            span("n1", 0.0, 1.0, "odd", ""),
            span("n1", 1.0, 2.0, "leader", ""),
        ],
        bands: vec![],
        markers: vec![],
    };
    let img = png(&chart, 600, 400);
    let legend = layout(&chart, 600, 400).legend.unwrap();
    let [blue, orange, green] = [PALETTE[0], PALETTE[1], PALETTE[2]];
    assert!(
        !pixels_of(&img, legend, green).is_empty(),
        "the leader is green"
    );
    assert!(
        !pixels_of(&img, legend, blue).is_empty(),
        "the next class takes blue"
    );
    assert!(
        pixels_of(&img, legend, orange).is_empty(),
        "no colour by position alone"
    );
}

#[test]
fn colliding_marker_labels_take_lanes_and_span_labels_only_where_they_fit() {
    let chart = Chart::Timeline {
        title: "markers".into(),
        x: Axis::new("time", "ms"),
        row_axis: "node".into(),
        rows: vec![],
        spans: vec![
            span("n1", 0.0, 100.0, "follower", "wide enough"),
            span("n2", 50.0, 50.2, "leader", "far too narrow"),
        ],
        bands: vec![],
        markers: vec![
            Marker {
                at: 10.0,
                label: "first".into(),
            },
            Marker {
                at: 10.5,
                label: "second".into(),
            },
            Marker {
                at: 90.0,
                label: "third".into(),
            },
        ],
    };
    let svg = render_svg(&chart, 800, 500).unwrap();
    let texts = svg_texts(&svg);
    let has = |s: &str| texts.iter().any(|t| t == s);
    // Every marker is named: the label that would run into "first" goes to a lane above it.
    assert!(has("first") && has("second") && has("third"), "{texts:?}");
    let y_of = |s: &str| {
        svg_texts_at(&svg)
            .into_iter()
            .find(|(_, t)| t == s)
            .unwrap()
            .0
    };
    assert!(y_of("second") < y_of("first"), "second is not above first");
    assert_eq!(
        y_of("third"),
        y_of("first"),
        "third has room in the first lane"
    );
    assert!(has("wide enough") && !has("far too narrow"), "{texts:?}");
}

#[test]
fn hostile_timelines_do_not_panic() {
    let t = |rows: Vec<String>, spans, bands, markers| Chart::Timeline {
        title: "hostile".into(),
        x: Axis::new("", ""),
        row_axis: String::new(),
        rows,
        spans,
        bands,
        markers,
    };
    let band = |start, end, row: Option<&str>| Band {
        start,
        end,
        label: String::new(),
        row: row.map(str::to_string),
    };
    let marker = |at| Marker {
        at,
        label: String::new(),
    };
    let many_rows: Vec<String> = (0..1000).map(|i| format!("row {i}")).collect();
    let charts = [
        t(vec![], vec![], vec![], vec![]),
        t(vec!["a".into(), String::new()], vec![], vec![], vec![]),
        t(vec![], vec![span("a", 5.0, 1.0, "", "")], vec![], vec![]),
        t(vec![], vec![span("", 3.0, 3.0, "", "x")], vec![], vec![]),
        t(
            vec![],
            vec![span("a", f64::NAN, 1.0, "c", "")],
            vec![],
            vec![],
        ),
        t(vec![], vec![], vec![band(1.0, 0.0, None)], vec![]),
        t(
            vec![],
            vec![],
            vec![band(2.0, 2.0, Some("r"))],
            vec![marker(2.0)],
        ),
        t(
            vec![],
            vec![],
            vec![],
            vec![marker(1.0), marker(f64::INFINITY)],
        ),
        t(
            vec![],
            vec![span("a", -1e300, 1e300, "c", "l")],
            vec![],
            vec![],
        ),
        t(
            many_rows.clone(),
            many_rows
                .iter()
                .enumerate()
                .map(|(i, r)| span(r, i as f64, i as f64 + 1.0, &format!("c{i}"), "l"))
                .collect(),
            vec![band(0.0, 1000.0, None)],
            (0..1000).map(|i| marker(i as f64)).collect(),
        ),
    ];
    for chart in &charts {
        for (w, h) in [(800, 500), (64, 64), (64, 8192)] {
            let svg = render_svg(chart, w, h).unwrap();
            assert!(w < 800 || svg.contains("hostile"), "the title at {w}x{h}");
            assert_white_border(&png(chart, w, h), "hostile");
        }
    }
    let svg = render_svg(&charts[0], 400, 300).unwrap();
    assert!(svg.contains("no data"));
}

#[test]
fn every_kind_survives_extreme_values_and_many_series() {
    let huge = [-1e300, 1e300, f64::MAX, f64::MIN_POSITIVE, 0.0];
    let pts: Vec<(f64, f64)> = huge.iter().flat_map(|a| huge.map(|b| (*a, b))).collect();
    let samples = |k| Samples::new(&format!("s{k}"), huge.to_vec());
    let charts = [
        Chart::TimeSeries {
            title: "extreme".into(),
            x: Axis::new("x", ""),
            y: Axis::new("y", ""),
            series: (0..1000)
                .map(|k| Series {
                    name: format!("s{k}"),
                    points: pts.clone(),
                })
                .collect(),
        },
        Chart::Curve {
            title: "extreme".into(),
            x: Axis::new("x", ""),
            y: Axis::new("y", ""),
            series: (0..1000)
                .map(|k| Series {
                    name: format!("s{k}"),
                    points: pts.clone(),
                })
                .collect(),
        },
        Chart::Curve {
            title: "extreme".into(),
            x: Axis::new("x", ""),
            y: Axis::new("y", ""),
            series: vec![Series {
                name: "decades".into(),
                points: vec![(f64::MIN_POSITIVE, 1.0), (1e300, 0.0), (f64::MAX, 0.5)],
            }],
        },
        Chart::Cdf {
            title: "extreme".into(),
            x: Axis::new("x", ""),
            samples: (0..1000).map(samples).collect(),
        },
        Chart::Heatmap {
            title: "extreme".into(),
            x: Axis::new("x", ""),
            row_axis: String::new(),
            value: Axis::new("v", ""),
            rows: (0..1000)
                .map(|k| HeatRow {
                    name: format!("r{k}"),
                    cells: huge.to_vec(),
                })
                .collect(),
            bucket: 1e300,
        },
        Chart::Heatmap {
            title: "extreme".into(),
            x: Axis::new("x", ""),
            row_axis: String::new(),
            value: Axis::new("v", ""),
            rows: vec![HeatRow {
                name: "tiny".into(),
                cells: huge.to_vec(),
            }],
            bucket: f64::MIN_POSITIVE,
        },
        Chart::Histogram {
            title: "extreme".into(),
            x: Axis::new("x", ""),
            samples: (0..1000).map(samples).collect(),
            bins: usize::MAX,
        },
        Chart::Gantt {
            title: "extreme".into(),
            x: Axis::new("x", ""),
            row_axis: String::new(),
            bars: huge
                .iter()
                .map(|v| GanttBar {
                    row: String::new(),
                    start: -*v,
                    end: *v,
                    item: String::new(),
                })
                .collect(),
        },
        Chart::Bars {
            notes: Vec::new(),
            title: "extreme".into(),
            x: String::new(),
            y: Axis::new("y", ""),
            categories: (0..1000).map(|i| i.to_string()).collect(),
            series: (0..1000)
                .map(|k| BarSeries {
                    name: format!("s{k}"),
                    values: huge.to_vec(),
                })
                .collect(),
        },
    ];
    for chart in &charts {
        assert!(render_svg(chart, 400, 300).unwrap().contains("extreme"));
        assert_white_border(&png(chart, 400, 300), chart.kind_name());
    }
}

#[test]
fn kind_names() {
    let names: Vec<&str> = kinds().iter().map(Chart::kind_name).collect();
    assert_eq!(
        names,
        [
            "time series",
            "cdf",
            "histogram",
            "scatter",
            "gantt",
            "bars",
            "timeline",
            "curve",
            "heatmap"
        ]
    );
}

/// A million values of a histogram metric, handed over as its buckets (value, count): a few
/// thousand pairs.
fn a_million_exponential() -> Samples {
    let mut h = simcore::LogHistogram::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..1_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        // Exponential, mean 1 s, in ns.
        h.record((-(1.0 - u).ln() * 1e9) as u64);
    }
    Samples {
        name: "system.response".into(),
        values: h.counted().map(|(v, c)| (v as f64 / 1e9, c)).collect(),
    }
}

/// Histograms count every value, not a kept sample of them: the bars of a million values add up
/// to a million, and the chart says so.
#[test]
fn histogram_bars_add_up_to_every_value() {
    let s = a_million_exponential();
    assert!(s.values.len() < 50_000, "{} pairs", s.values.len());
    assert_eq!(s.n(), 1_000_000);
    let bins = histogram_bins(std::slice::from_ref(&s), 40).unwrap();
    assert_eq!(bins.counts[0].iter().sum::<u64>(), 1_000_000);
    assert_eq!(bins.edges.len(), 41);
    // An exponential reads well on a linear axis: its first bin of 40 holds a fraction of it,
    // not most of it.
    assert!(!bins.log);
    let first = bins.counts[0][0] as f64 / 1e6;
    assert!((0.2..0.5).contains(&first), "{first}");
    let chart = Chart::Histogram {
        title: "Response time".into(),
        x: Axis::new("response time", "s"),
        samples: vec![s.clone()],
        bins: 40,
    };
    let svg = render_svg(&chart, 800, 500).unwrap();
    assert_has(&svg, "\nResponse time (n = 1,000,000)\n", "histogram");
    // Two sets: each counted in full, named with its n in the legend.
    let mut half = s.clone();
    half.name = "half".into();
    half.values.iter_mut().for_each(|p| p.1 = p.1.div_ceil(2));
    let bins = histogram_bins(&[s.clone(), half.clone()], 40).unwrap();
    assert_eq!(bins.counts[0].iter().sum::<u64>(), 1_000_000);
    assert_eq!(bins.counts[1].iter().sum::<u64>(), half.n());
    let chart = Chart::Histogram {
        title: "Response time".into(),
        x: Axis::new("response time", "s"),
        samples: vec![s, half],
        bins: 40,
    };
    let svg = render_svg(&chart, 800, 500).unwrap();
    assert_has(&svg, "\nsystem.response (n = 1,000,000)\n", "histogram");
}

/// A CDF of one set of values has no legend, so its title says how many values it is drawn
/// from; and a CDF of bucketed values counts them with their weights.
#[test]
fn a_cdf_of_one_set_names_its_n_in_the_title() {
    let s = a_million_exponential();
    let chart = Chart::Cdf {
        title: "Response time (CDF)".into(),
        x: Axis::new("response time", "s"),
        samples: vec![s],
    };
    let svg = render_svg(&chart, 800, 500).unwrap();
    assert_has(&svg, "\nResponse time (CDF) (n = 1,000,000)\n", "cdf");
    let few = Chart::Cdf {
        title: "Latency".into(),
        x: Axis::new("latency", "ms"),
        samples: vec![Samples::new("get", [1.0, 2.0, 2.0, 3.0])],
    };
    assert_has(
        &render_svg(&few, 640, 400).unwrap(),
        "\nLatency (n = 4)\n",
        "cdf",
    );
}

/// Latencies with a tail of retries span decades: most take a few ms, a few take seconds. On a
/// linear axis 97% of them fell in one bar; on a log axis, with bins equal in ratio and ticks at
/// powers of ten, the bulk spreads over several bars and the tail is visible.
#[test]
fn values_spanning_decades_get_a_log_axis() {
    let bulk = (0..9_700).map(|i| 1.0 + 3.0 * (i as f64 / 9_700.0));
    let tail = (0..300).map(|i| 100.0 * 30f64.powf(i as f64 / 300.0));
    let s = Samples::new("latency", bulk.chain(tail));
    let bins = histogram_bins(std::slice::from_ref(&s), 40).unwrap();
    assert!(bins.log);
    let counts = &bins.counts[0];
    assert_eq!(counts.iter().sum::<u64>(), 10_000);
    let tallest = *counts.iter().max().unwrap();
    assert!(
        tallest < 3_000,
        "no bar holds most of the values: {counts:?}"
    );
    let ratios: Vec<f64> = bins.edges.windows(2).map(|w| w[1] / w[0]).collect();
    assert!(
        ratios.windows(2).all(|r| (r[0] - r[1]).abs() < 1e-9 * r[0]),
        "{ratios:?}"
    );
    let hist = Chart::Histogram {
        title: "Latency".into(),
        x: Axis::new("latency", "ms"),
        samples: vec![s.clone()],
        bins: 40,
    };
    let cdf = Chart::Cdf {
        title: "Latency".into(),
        x: Axis::new("latency", "ms"),
        samples: vec![s],
    };
    for chart in [hist, cdf] {
        let texts = svg_texts(&render_svg(&chart, 800, 500).unwrap());
        for tick in ["1", "10", "100", "1k"] {
            assert!(
                texts.iter().any(|t| t == tick),
                "{}: tick {tick} in {texts:?}",
                chart.kind_name()
            );
        }
    }
    // Values over less than two decades keep a linear axis.
    let narrow = Samples::new("narrow", (1..=1000).map(|i| 10.0 + i as f64 / 100.0));
    assert!(!histogram_bins(&[narrow], 40).unwrap().log);
}

// ---------------------------------------------------------------------------------------------
// Charts that must show what they exist to show (issue 16)

/// The faults of a crash storm: `n` crashes and twice as many restarts over 30 s on three nodes.
fn storm(n: usize) -> Chart {
    let mut markers = Vec::new();
    for i in 0..n {
        let t = i as f64 * 30.0 / n as f64;
        markers.push(Marker {
            at: t,
            label: format!("crash n{}", i % 3 + 1),
        });
        for d in [0.01, 0.02] {
            markers.push(Marker {
                at: t + d,
                label: format!("restart n{}", i % 3 + 1),
            });
        }
    }
    Chart::Timeline {
        title: "storm".into(),
        x: Axis::new("simulated time", "s"),
        row_axis: "node".into(),
        rows: vec!["n1".into(), "n2".into(), "n3".into()],
        spans: (1..=3)
            .map(|k| span(&format!("n{k}"), 0.0, 30.0, "follower", ""))
            .collect(),
        bands: vec![],
        markers,
    }
}

/// How many drawing elements an SVG has.
fn svg_elements(svg: &str) -> usize {
    ["<polyline", "<path", "<line", "<rect", "<circle", "<text"]
        .iter()
        .map(|e| svg.matches(e).count())
        .sum()
}

#[test]
fn dense_markers_are_counted_per_stretch_of_time_not_drawn_one_by_one() {
    let svg = render_svg(&storm(350), 960, 480).unwrap();
    // 1,050 dashed lines across the plot would be some 60,000 dashes and megabytes.
    assert!(svg.len() < 100_000, "{} bytes", svg.len());
    assert!(svg_elements(&svg) < 400, "{} elements", svg_elements(&svg));
    // Still shown: what they were and how many, and bars of counts above the plot.
    let texts = svg_texts(&svg);
    let caption = texts
        .iter()
        .find(|t| t.starts_with("crash 350, restart 700"));
    assert!(caption.is_some(), "{texts:?}");
    assert!(caption.unwrap().contains("the tallest"), "{caption:?}");
    assert!(svg.matches("<rect").count() > 100, "no counts drawn");
    // A few markers are still lines with their names.
    let few = render_svg(&storm(2), 960, 480).unwrap();
    assert_eq!(
        svg_texts(&few)
            .iter()
            .filter(|t| t.starts_with("crash n"))
            .count(),
        2
    );
}

#[test]
fn every_fault_of_a_partition_schedule_is_named() {
    // raft-partition's schedule: 3 s apart at most, labels up to 25 characters long.
    let faults = [
        (3.0, "partition majorities-ring"),
        (6.0, "heal"),
        (8.0, "partition halves"),
        (11.0, "heal"),
        (13.0, "crash n3"),
        (15.0, "restart n3"),
        (17.0, "partition bridge"),
        (20.0, "heal"),
        (22.0, "partition one"),
        (24.0, "heal"),
        (25.6, "clock skew n2"),
        (27.9, "clock skew n5"),
    ];
    let chart = Chart::Timeline {
        title: "Raft roles".into(),
        x: Axis::new("simulated time", "s"),
        row_axis: "node".into(),
        rows: vec![],
        spans: (1..=5)
            .map(|k| span(&format!("n{k}"), 0.0, 30.0, "follower", ""))
            .collect(),
        bands: vec![],
        markers: faults
            .iter()
            .map(|(at, l)| Marker {
                at: *at,
                label: l.to_string(),
            })
            .collect(),
    };
    let svg = render_svg(&chart, 960, 480).unwrap();
    let texts = svg_texts(&svg);
    for (_, label) in faults {
        let want = faults.iter().filter(|(_, l)| *l == label).count();
        let got = texts.iter().filter(|t| *t == label).count();
        assert_eq!(got, want, "{label}: {texts:?}");
    }
}

#[test]
fn data_spanning_decades_gets_a_log_axis() {
    let cdf = |values: Vec<f64>, slower: f64| Chart::Cdf {
        title: "election time".into(),
        x: Axis::new("election time", "s"),
        samples: vec![
            Samples::new("fast", values.clone()),
            Samples::new("slow", values.iter().map(|v| v * slower)),
        ],
    };
    // 0.15..0.3 s and 45..90 s: on a linear axis the first is a vertical line at zero.
    let fast: Vec<f64> = (0..50).map(|i| 0.15 + i as f64 * 0.003).collect();
    let svg = render_svg(&cdf(fast.clone(), 300.0), 960, 480).unwrap();
    let texts = svg_texts(&svg);
    for decade in ["1", "10"] {
        assert!(texts.iter().any(|t| t == decade), "{decade}: {texts:?}");
    }
    assert!(
        !texts.iter().any(|t| t == "20" || t == "40"),
        "linear ticks: {texts:?}"
    );
    // Data within two decades stays linear.
    let svg = render_svg(&cdf(fast, 30.0), 960, 480).unwrap();
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "3"), "linear: {texts:?}");
}

/// A miss-ratio curve over cache sizes of six decades has its x axis in decades (on a linear
/// one, everything below the largest tenth would be squeezed against the y axis); one over less
/// than two decades keeps a linear x axis, from zero.
#[test]
fn curves_spanning_decades_get_a_log_x_axis() {
    let chart = |top: f64| Chart::Curve {
        title: "mrc".into(),
        x: Axis::new("cache size", "KiB"),
        y: Axis::new("miss ratio", ""),
        series: vec![Series {
            name: "lru".into(),
            points: (0..=30)
                .map(|i| {
                    let x = top.powf(i as f64 / 30.0);
                    (x, 1.0 / (1.0 + x.ln()))
                })
                .collect(),
        }],
    };
    let texts = svg_texts(&render_svg(&chart(1e6), 960, 480).unwrap());
    for decade in ["10", "1k", "100k"] {
        assert!(texts.iter().any(|t| t == decade), "{decade}: {texts:?}");
    }
    assert!(
        !texts.iter().any(|t| t == "200k" || t == "400k"),
        "linear ticks: {texts:?}"
    );
    let texts = svg_texts(&render_svg(&chart(50.0), 960, 480).unwrap());
    for linear in ["0", "20", "40"] {
        assert!(texts.iter().any(|t| t == linear), "{linear}: {texts:?}");
    }
}

#[test]
fn never_is_shown_in_a_cdf_and_a_bar_chart() {
    let chart = Chart::Cdf {
        title: "election time".into(),
        x: Axis::new("election time", "s"),
        samples: vec![
            Samples::new("timeout = 150..300", [0.2, 0.3, 0.4]),
            Samples::new("timeout = 150..150: never", []),
        ],
    };
    let svg = render_svg(&chart, 960, 480).unwrap();
    assert!(
        svg_texts(&svg)
            .iter()
            .any(|t| t == "timeout = 150..150: never")
    );
    // Its line runs along zero in its colour (orange, the second).
    let img = png(&chart, 960, 480);
    let plot = layout(&chart, 960, 480).plot;
    assert!(
        pixels_of(&img, plot, PALETTE[1]).len() > 100,
        "no line for never"
    );

    let bars = Chart::Bars {
        title: "election time per variant".into(),
        x: "timeout".into(),
        y: Axis::new("election time", "s"),
        categories: vec!["150..150".into(), "150..300".into()],
        series: vec![BarSeries {
            name: "p50".into(),
            values: vec![f64::NAN, 0.3],
        }],
        notes: vec!["never\n(none in 300s)".into(), String::new()],
    };
    let texts = svg_texts(&render_svg(&bars, 960, 480).unwrap());
    assert!(texts.iter().any(|t| t == "never"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "(none in 300s)"), "{texts:?}");
}

#[test]
fn time_series_break_at_gaps_start_at_zero_and_show_every_coinciding_line() {
    let line = |name: &str, gap: bool| Series {
        name: name.into(),
        points: (0..20)
            .map(|i| {
                let y = if gap && (8..12).contains(&i) {
                    f64::NAN
                } else {
                    80.0 + i as f64
                };
                (i as f64, y)
            })
            .collect(),
    };
    let chart = Chart::TimeSeries {
        title: "commit index".into(),
        x: Axis::new("time", "s"),
        y: Axis::new("commit index", "entries"),
        series: vec![line("n1", false), line("n2", false), line("n3", true)],
    };
    let svg = render_svg(&chart, 960, 480).unwrap();
    // The data's polylines (the mesh's are grey or black, the legend's swatches 3 px wide).
    let hex = |c: [u8; 3]| format!("stroke=\"#{:02X}{:02X}{:02X}\"", c[0], c[1], c[2]);
    let colours: Vec<String> = PALETTE.iter().take(3).map(|c| hex(*c)).collect();
    let lines: Vec<&str> = svg
        .split("<polyline")
        .skip(1)
        .map(|p| &p[..p.find("/>").unwrap()])
        .filter(|p| colours.iter().any(|c| p.contains(c.as_str())))
        .filter(|p| !p.contains("stroke-width=\"3\""))
        .collect();
    // n3 in two pieces, the second starting with a dot.
    assert_eq!(lines.len(), 4, "polylines: {lines:?}");
    assert_eq!(svg.matches("<circle").count(), 1, "the restart's dot");
    // Counts from zero: 80..99 is not drawn as if 80 were nothing.
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "0"), "{texts:?}");
    // The three lines coincide, and each shows: the first widest, the last narrowest on top.
    let widths: Vec<&str> = lines
        .iter()
        .map(|p| {
            let at = p.find("stroke-width=\"").unwrap() + 14;
            &p[at..at + p[at..].find('"').unwrap()]
        })
        .collect();
    assert_eq!(widths, ["8", "5", "2", "2"]);
    // Lines that part are not widened: a wide one would hide the others' detail.
    let zigzag = Chart::TimeSeries {
        title: "queue".into(),
        x: Axis::new("time", "s"),
        y: Axis::new("queue", ""),
        series: (0..3)
            .map(|k| Series {
                name: format!("q{k}"),
                points: (0..20).map(|i| (i as f64, ((i + k) % 3) as f64)).collect(),
            })
            .collect(),
    };
    let svg = render_svg(&zigzag, 960, 480).unwrap();
    assert_eq!(svg.matches("stroke-width=\"2\" points").count(), 3);
    let img = png(&chart, 960, 480);
    let plot = layout(&chart, 960, 480).plot;
    for (k, c) in PALETTE.iter().take(3).enumerate() {
        let n = pixels_of(&img, plot, *c).len();
        assert!(n > 200, "line {k} hidden: {n} px");
    }
}

// ---------------------------------------------------------------------------------------------
// Scatter plots

#[test]
fn paired_takes_the_two_values_of_each_time_both_histories_have() {
    let distance = [(0, 0.0), (10, 400.0), (20, 9.0), (30, 100.0), (50, 1.0)];
    // The same times but 20 and 50, and one (40) the other lacks.
    let time = [(0, 0.0), (10, 5.0), (30, 2.0), (40, 7.0)];
    assert_eq!(
        paired(&distance, &time),
        [(0.0, 0.0), (400.0, 5.0), (100.0, 2.0)]
    );
    assert_eq!(
        paired(&time, &distance),
        [(0.0, 0.0), (5.0, 400.0), (2.0, 100.0)]
    );
    assert!(paired(&distance, &[]).is_empty());
    assert!(paired(&[(1, 1.0)], &[(2, 1.0)]).is_empty());
}

/// Two gauges set together at the same instants keep histories of bucket means that pair up
/// point by point, through every doubling of the buckets: when the second is a linear function
/// of the first (y = 3x + 1), every paired point is on that line, since both means of a bucket
/// weight the same values by the same times. Pairing the wrong buckets, or gauges whose buckets
/// differ, would put points off it.
#[test]
fn histories_of_gauges_set_together_pair_up_point_by_point() {
    use simcore::history::StepHistory;
    let (mut x, mut y) = (StepHistory::new(), StepHistory::new());
    let mut t = 0u64;
    for i in 0..20_000u64 {
        // Irregular instants and values, over a run long enough for many doublings.
        t += 1 + (i * 7919) % 5003;
        let d = ((i * 104_729) % 997) as f64;
        x.set(t, d);
        y.set(t, 3.0 * d + 1.0);
    }
    let end = t + 1000;
    let (xs, ys) = (x.points(end), y.points(end));
    let pts = paired(&xs, &ys);
    assert_eq!(pts.len(), xs.len(), "every bucket pairs");
    assert!(pts.len() > 1000, "{} points", pts.len());
    // The first bucket holds the 0 from before the first change (y = 0 there, not 1).
    for &(d, s) in &pts[1..] {
        assert!(
            (s - (3.0 * d + 1.0)).abs() < 1e-6 * s.max(1.0),
            "({d}, {s})"
        );
    }
    // Shifting one history by a bucket breaks it: the pairing is what keeps points aligned.
    let shifted: Vec<(u64, f64)> = xs.windows(2).map(|w| (w[0].0, w[1].1)).collect();
    let off = paired(&shifted, &ys)
        .iter()
        .skip(1)
        .filter(|(d, s)| (s - (3.0 * d + 1.0)).abs() > 1.0)
        .count();
    assert!(off > pts.len() / 2, "{off} of {} off the line", pts.len());
}

#[test]
fn a_scatter_draws_dots_not_lines_and_each_pixel_once() {
    let chart = scatter();
    let svg = render_svg(&chart, 800, 500).unwrap();
    // 60 points per series, apart: one circle each (the legend's two swatches are circles too).
    assert_eq!(svg.matches("<circle").count(), 2 * 60 + 2, "circles");
    // No line in a series' colour joins them (the axes' lines are black or grey).
    for colour in ["#1F77B4", "#FF7F0E"] {
        let lines = svg
            .split("<polyline")
            .skip(1)
            .filter(|l| l.contains(&format!("stroke=\"{colour}\"")))
            .count();
        assert_eq!(lines, 0, "a line in {colour}");
    }
    // The same point a thousand times is one dot.
    let Chart::Scatter { title, x, y, .. } = chart else {
        unreachable!()
    };
    let repeated = Chart::Scatter {
        title,
        x,
        y,
        series: vec![Series {
            name: "a".into(),
            points: vec![(1.0, 2.0); 1000]
                .into_iter()
                .chain([(5.0, 6.0)])
                .collect(),
        }],
    };
    let svg = render_svg(&repeated, 800, 500).unwrap();
    assert_eq!(svg.matches("<circle").count(), 2, "one series, no legend");
}

// ---------------------------------------------------------------------------------------------
// Heatmaps

/// How many filled rectangles an SVG has.
fn svg_rects(svg: &str) -> usize {
    svg.matches("<rect").count()
}

/// A cell per row and bucket: 4 rows of 30 cells and of 60 differ by 120 rectangles (legend,
/// background and axes the same), and cells of the same colour side by side are one rectangle.
#[test]
fn a_heatmap_draws_a_cell_per_row_and_bucket() {
    let (a, b) = (
        render_svg(&heatmap_of(30), 960, 480).unwrap(),
        render_svg(&heatmap_of(60), 960, 480).unwrap(),
    );
    assert_eq!(svg_rects(&b) - svg_rects(&a), 4 * 30);
    assert_eq!(a, render_svg(&heatmap_of(30), 960, 480).unwrap());
    let flat = |cells: Vec<f64>| Chart::Heatmap {
        title: "flat".into(),
        x: Axis::new("time", "s"),
        row_axis: "partition".into(),
        value: Axis::new("requests", ""),
        rows: vec![
            HeatRow {
                name: "a".into(),
                cells: cells.clone(),
            },
            HeatRow {
                name: "b".into(),
                cells: vec![7.0; 10],
            },
        ],
        bucket: 1.0,
    };
    let joined = svg_rects(&render_svg(&flat(vec![0.0; 10]), 960, 480).unwrap());
    let split = svg_rects(&render_svg(&flat((0..10).map(f64::from).collect()), 960, 480).unwrap());
    // Row a: one rectangle when all ten are 0, ten when each differs (row b one either way).
    assert_eq!(split - joined, 9);
}

/// The hottest cell is the scale's dark end, a zero cell its light end, and the legend's
/// swatches run from dark (the maximum, first) to light (zero, last).
#[test]
fn a_heatmap_colours_cells_from_light_to_dark() {
    const LIGHT: [u8; 3] = [247, 251, 255];
    const DARK: [u8; 3] = [8, 48, 107];
    let chart = Chart::Heatmap {
        title: "hot spot".into(),
        x: Axis::new("simulated time", "s"),
        row_axis: "partition".into(),
        value: Axis::new("requests", ""),
        rows: (0..3)
            .map(|k| HeatRow {
                name: format!("p{k}"),
                cells: (0..10)
                    .map(|i| if k == 1 && i == 5 { 500.0 } else { 0.0 })
                    .collect(),
            })
            .collect(),
        bucket: 1.0,
    };
    let (w, h) = (800, 500);
    let img = png(&chart, w, h);
    let lay = layout(&chart, w, h);
    let legend = lay.legend.expect("a legend of the scale");
    let dark = pixels_of(&img, lay.plot, DARK);
    let light = pixels_of(&img, lay.plot, LIGHT);
    // One cell of thirty dark, the other 29 light.
    assert!(dark.len() > 100, "{} dark px", dark.len());
    assert!(light.len() > 20 * dark.len(), "{} light px", light.len());
    // The dark cell is the middle row's, right of the plot's middle.
    let (x0, x1) = (
        dark.iter().map(|p| p.0).min().unwrap(),
        dark.iter().map(|p| p.0).max().unwrap(),
    );
    let mid = (lay.plot.x as u32 + lay.plot.w / 2) as u32;
    assert!(x0 > mid - 20 && x1 > mid, "dark cell at x {x0}..{x1}");
    let column = Rect { w: 30, ..legend };
    let top = |c: [u8; 3]| pixels_of(&img, column, c).iter().map(|p| p.1).min();
    let (dark_y, light_y) = (
        top(DARK).expect("dark swatch"),
        top(LIGHT).expect("light swatch"),
    );
    assert!(
        dark_y < light_y,
        "dark swatch at {dark_y}, light at {light_y}"
    );
    let texts = svg_texts(&render_svg(&chart, w, h).unwrap());
    for t in [
        "requests",
        "500",
        "375",
        "250",
        "125",
        "0",
        "p0",
        "p2",
        "partition",
    ] {
        assert!(texts.iter().any(|x| x == t), "{t}: {texts:?}");
    }
}

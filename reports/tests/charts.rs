//! Every chart kind draws its title, axis labels with units and legend; PNGs have the asked size;
//! empty and non-finite data do not panic; the same chart gives the same SVG bytes.

use reports::chart::{Axis, BarSeries, Chart, GanttBar, Samples, Series};
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
    let s = |name: &str, k: f64| Samples {
        name: name.to_string(),
        values: (1..200).map(|i| k * (i as f64).ln()).collect(),
    };
    Chart::Cdf {
        title: "Latency CDF".into(),
        x: Axis::new("latency", "us"),
        samples: vec![s("fifo", 1.0), s("sjf", 0.6)],
    }
}

fn histogram() -> Chart {
    let s = |name: &str, k: u64| Samples {
        name: name.to_string(),
        values: (0..300).map(|i| ((i * k) % 97) as f64).collect(),
    };
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

fn bars() -> Chart {
    Chart::Bars {
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
                "\nfifo\n",
                "\nsjf\n",
            ],
        ),
        (
            histogram(),
            vec![
                "Election time histogram",
                "election time (ms)",
                "count (samples per bin)",
                "3 nodes",
                "5 nodes",
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
    for chart in [time_series(), cdf(), histogram(), gantt(), bars()] {
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
            samples: vec![Samples {
                name: "a".into(),
                values: nan.clone(),
            }],
        },
        Chart::Cdf {
            title: "one".into(),
            x: Axis::new("latency", "us"),
            samples: vec![Samples {
                name: "a".into(),
                values: vec![5.0],
            }],
        },
        Chart::Histogram {
            title: "zero bins".into(),
            x: Axis::new("latency", "us"),
            samples: vec![Samples {
                name: "a".into(),
                values: vec![1.0, 1.0, f64::NAN],
            }],
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
        Chart::Bars {
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
    for chart in [time_series(), cdf(), histogram(), gantt(), bars()] {
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

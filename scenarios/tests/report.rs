//! `sim report` and `sim run --export-trace`, end to end through the binary: the charts each
//! model family declares are drawn from what the run really did, the same inputs give the same
//! bytes whatever the thread count, recording never changes a run, a broken scenario gets an
//! error page without stopping the others, and the gallery loads in headless Chromium.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use reports::chart::{Chart, histogram_bins};
use reports::render_svg;
use scenarios::runner::{RunOptions, run_file};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scn(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

fn sim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sim"));
    c.current_dir(root());
    c
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

const FILES: [&str; 3] = ["sched-rr.scn", "raft-partition.scn", "mm1.scn"];

/// `sim report --out report FILES` run in `dir` (so the command the gallery shows, which names
/// the output directory, is the same for every `dir`), on `threads` threads.
fn report_into(dir: &Path, threads: &str) -> std::process::Output {
    std::fs::create_dir_all(dir).unwrap();
    let mut c = sim();
    c.current_dir(dir)
        .env("RAYON_NUM_THREADS", threads)
        .args(["report", "--out", "report"]);
    for f in FILES {
        c.arg(scn(f).canonicalize().unwrap());
    }
    c.output().unwrap()
}

#[test]
fn report_writes_every_declared_chart_and_is_byte_identical_across_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let run_a = report_into(&tmp.path().join("1"), "1");
    assert!(
        run_a.status.success(),
        "{}",
        String::from_utf8_lossy(&run_a.stderr)
    );
    let stdout = String::from_utf8_lossy(&run_a.stdout);
    assert!(
        stdout.contains("wrote ") && stdout.contains("index.html"),
        "{stdout}"
    );
    assert!(report_into(&tmp.path().join("2"), "2").status.success());
    let (a, b) = (tmp.path().join("1/report"), tmp.path().join("2/report"));
    let (ta, tb) = (tree(&a), tree(&b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (name, bytes) in &ta {
        if name.ends_with(".svg") || name.ends_with(".json") || name.ends_with(".html") {
            assert!(bytes == &tb[name], "{name} differs between 1 and 2 threads");
        }
    }
    for expected in [
        "index.html",
        "raft-partition/summary.json",
        "raft-partition/roles.svg",
        "raft-partition/roles.png",
        "raft-partition/commit-index.svg",
        "raft-partition/throughput.svg",
        "raft-partition/latency-cdf.svg",
        "raft-partition/election-time-cdf.svg",
        "sched-rr/schedule-1.svg",
        "sched-rr/schedule-4.svg",
        "sched-rr/per-job-2.svg",
        "sched-rr/sweep.svg",
        "mm1/queue-length.svg",
        "mm1/response-cdf.svg",
        "mm1/response-histogram.png",
        "raft-partition/latency-histogram.svg",
        "mm1/wait-cdf.svg",
    ] {
        assert!(
            ta.contains_key(expected),
            "{expected} missing: {:?}",
            ta.keys()
        );
    }
    // Every PNG of the real report is readable: nothing drawn within 2 px of its border, so no
    // text runs off the edge.
    for (name, bytes) in ta.iter().filter(|(n, _)| n.ends_with(".png")) {
        let img = image::load_from_memory(bytes).unwrap().to_rgb8();
        let (w, h) = img.dimensions();
        for (x, y, p) in img.enumerate_pixels() {
            let edge = x < 2 || y < 2 || x + 2 >= w || y + 2 >= h;
            assert!(
                !edge || p.0 == [255, 255, 255],
                "{name}: pixel {x},{y} is {:?}",
                p.0
            );
        }
    }
    // A sweep chart only for sweeps; no temporary files left behind.
    assert!(!ta.contains_key("mm1/sweep.svg"));
    assert!(ta.keys().all(|k| !k.contains(".tmp")), "{:?}", ta.keys());
    // The summary is what the run printed, without wall times.
    let summary: serde_json::Value =
        serde_json::from_slice(&ta["raft-partition/summary.json"]).unwrap();
    let run = &summary["runs"][0];
    assert_eq!(run["ok"], true);
    assert!(run.get("wall_time_s").is_none());
    let one = run_file(&scn("raft-partition.scn"), &RunOptions::default()).unwrap();
    assert_eq!(
        run["trace_hash"],
        simcore::format_hash(one[0].result.trace_hash)
    );
    let html = String::from_utf8_lossy(&ta["index.html"]);
    assert!(html.contains("raft-partition/roles.svg"));
    assert!(html.contains("sim run"), "replay commands are shown");
}

#[test]
fn recording_never_changes_a_run() {
    for f in FILES {
        let plain = run_file(&scn(f), &RunOptions::default()).unwrap();
        let recorded = run_file(
            &scn(f),
            &RunOptions {
                record: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
        for (p, r) in plain.iter().zip(&recorded) {
            assert_eq!(p.result.trace_hash, r.result.trace_hash, "{f}");
            assert_eq!(p.result.metrics, r.result.metrics, "{f}");
            assert!(p.result.timeline.is_none() && r.result.timeline.is_some());
            // Each gauge's history averages, over the run, to the gauge's time-weighted mean:
            // the chart of a gauge shows its real level, however often it changed.
            let end = r.result.end_time.as_nanos();
            for (name, v) in &r.result.metrics.0 {
                let simcore::MetricValue::Gauge { mean, .. } = v else {
                    continue;
                };
                let h = &r.result.gauges[name];
                let area: f64 = h
                    .iter()
                    .enumerate()
                    .map(|(i, &(t, m))| {
                        let next = h.get(i + 1).map_or(end, |p| p.0).min(end);
                        m * next.saturating_sub(t) as f64
                    })
                    .sum();
                let from_history = area / end as f64;
                assert!(
                    (from_history - mean).abs() <= 1e-6 * mean.abs().max(1.0),
                    "{f} {name}: history {from_history} vs mean {mean}"
                );
            }
        }
    }
}

#[test]
fn the_schedule_chart_shows_what_the_cpu_model_ran() {
    // Three 50 ms jobs under round robin: each job's run spans add up to its 50 ms of CPU, and
    // with a 10 ms quantum no span is longer than the quantum.
    let runs = run_file(
        &scn("sched-rr.scn"),
        &RunOptions {
            record: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(runs.len(), 4);
    for r in &runs {
        let tl = r.result.timeline.as_ref().unwrap();
        let mut per_job: BTreeMap<&str, u64> = BTreeMap::new();
        let mut longest = 0;
        for (cpu, m) in tl.in_group("cpus", "run") {
            assert_eq!(cpu, "cpu0");
            *per_job.entry(m.name.as_str()).or_default() += m.duration_ns();
            longest = longest.max(m.duration_ns());
        }
        assert_eq!(
            per_job,
            BTreeMap::from([("a", 50_000_000), ("b", 50_000_000), ("c", 50_000_000)]),
            "{}",
            r.variant
        );
        if r.variant.contains("=10ms") {
            assert_eq!(longest, 10_000_000);
        }
    }
    let spec = scenarios::report::family(&runs[0]).unwrap();
    let charts = scenarios::report::plan_charts(spec, &runs);
    let stems: Vec<&str> = charts.iter().map(|c| c.stem.as_str()).collect();
    assert!(
        stems.contains(&"schedule-1") && stems.contains(&"sweep"),
        "{stems:?}"
    );
}

/// Histogram charts count every value recorded, not a kept sample: for mm1's 10^6 customers the
/// response histogram's bars add up to the metric's count (a sample capped them at 4,096, so the
/// tallest bar read about 800), and the chart says how many values it counts; the CDF is drawn
/// from the same full counts. Raft's client latencies, a few ms with a tail of retries lasting
/// seconds, are binned on a log axis.
#[test]
fn histogram_charts_count_every_value_recorded() {
    let record = RunOptions {
        record: true,
        ..RunOptions::default()
    };
    let runs = run_file(&scn("mm1.scn"), &record).unwrap();
    let count = match runs[0].result.metrics.get("system.response") {
        Some(simcore::MetricValue::Histogram { count, .. }) => *count,
        other => panic!("{other:?}"),
    };
    assert!(count >= 1_000_000, "{count}");
    let charts =
        scenarios::report::plan_charts(scenarios::report::family(&runs[0]).unwrap(), &runs);
    let chart = |stem: &str| {
        &charts
            .iter()
            .find(|c| c.stem == stem)
            .unwrap_or_else(|| panic!("no chart {stem}"))
            .chart
    };
    let Chart::Histogram { samples, bins, .. } = chart("response-histogram") else {
        panic!("response-histogram is a histogram")
    };
    let drawn = histogram_bins(samples, *bins).unwrap();
    assert_eq!(drawn.counts.iter().flatten().sum::<u64>(), count);
    let tallest = drawn.counts.iter().flatten().max().unwrap();
    assert!(
        *tallest > 100_000,
        "the tallest bar counts customers: {tallest}"
    );
    let svg = render_svg(chart("response-histogram"), 960, 480).unwrap();
    let n = format!("(n = {})", reports::text::group_digits(count));
    assert!(svg.contains(&n), "the title says {n}");
    let Chart::Cdf { samples, .. } = chart("response-cdf") else {
        panic!("response-cdf is a CDF")
    };
    assert_eq!(samples.iter().map(|s| s.n()).sum::<u64>(), count);

    let runs = run_file(&scn("raft-partition.scn"), &record).unwrap();
    let charts =
        scenarios::report::plan_charts(scenarios::report::family(&runs[0]).unwrap(), &runs);
    let latency = charts
        .iter()
        .find(|c| c.stem == "latency-histogram")
        .unwrap();
    let Chart::Histogram { samples, bins, .. } = &latency.chart else {
        panic!("latency-histogram is a histogram")
    };
    let drawn = histogram_bins(samples, *bins).unwrap();
    let total: u64 = drawn.counts.iter().flatten().sum();
    let ops: u64 = runs[0]
        .result
        .metrics
        .0
        .iter()
        .filter(|(name, _)| name.ends_with(".latency"))
        .map(|(_, v)| v.stat("count").unwrap() as u64)
        .sum();
    assert_eq!(total, ops);
    assert!(drawn.log, "latencies over decades are binned on a log axis");
    let tallest = *drawn.counts.iter().flatten().max().unwrap();
    assert!(
        (tallest as f64) < 0.5 * total as f64,
        "no bar holds most operations: {tallest} of {total}"
    );
}

#[test]
fn the_raft_timeline_shows_the_faults_of_the_schedule() {
    let runs = run_file(
        &scn("raft-partition.scn"),
        &RunOptions {
            record: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let tl = runs[0].result.timeline.as_ref().unwrap();
    // Four partitions, each healed: four partition spans, named by their shape.
    let parts: Vec<String> = tl
        .in_group("network", "partition")
        .map(|(_, m)| m.name.clone())
        .collect();
    assert_eq!(
        parts,
        [
            "partition majorities-ring",
            "partition halves",
            "partition bridge",
            "partition one"
        ]
    );
    // The crashed leader is down from 13 s until the restart at 15 s.
    let down: Vec<_> = tl
        .in_group("hosts", "down")
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(down[0].at.as_nanos(), 13_000_000_000);
    assert_eq!(down[0].end.unwrap().as_nanos(), 15_000_000_000);
    // Every fault of the schedule is an instant: 10 `at` lines and the clock skews.
    let faults = tl.in_group("faults", "fault").count();
    assert!(faults >= 11, "{faults}");
    // Roles cover each node's whole run but the time it was down: the spans of a node tile 0..30 s.
    for node in ["n1", "n2", "n3", "n4", "n5"] {
        let covered: u64 = tl
            .marks()
            .iter()
            .filter(|m| {
                tl.get_track(m.track)
                    .is_some_and(|t| t.group == "hosts" && t.name == node)
            })
            .map(|m| m.duration_ns())
            .sum();
        assert_eq!(covered, 30_000_000_000, "{node}");
    }
    // One leader span per term at most, and the commit index series of every node.
    let leaders: Vec<&str> = tl
        .in_group("hosts", "role")
        .filter(|(_, m)| m.name.starts_with("leader"))
        .map(|(_, m)| m.name.as_str())
        .collect();
    let mut terms = leaders.clone();
    terms.dedup();
    assert!(!leaders.is_empty());
    assert_eq!(terms.len(), leaders.len(), "{leaders:?}");
    // Each node's commit index is a history for the chart, not a metric, and ends where the
    // node's commits ended.
    let committed = match runs[0].result.metrics.get("cluster.commits") {
        Some(simcore::MetricValue::Counter { value }) => *value as f64,
        other => panic!("{other:?}"),
    };
    for node in ["n1", "n2", "n3", "n4", "n5"] {
        let name = format!("cluster.commit_index_{node}");
        assert!(runs[0].result.metrics.get(&name).is_none(), "{name}");
        let h = &runs[0].result.gauges[&name];
        let last = h.last().unwrap().1;
        assert!(
            last > 0.0 && last <= committed + 1.0,
            "{name}: {last} of {committed}"
        );
    }
}

#[test]
fn export_trace_writes_chrome_trace_events() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sched.json");
    let status = sim()
        .args(["run", "scenarios/sched-fifo.scn", "--export-trace"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    let threads: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(threads.contains(&"cpu0"), "{threads:?}");
    let runs = run_file(
        &scn("sched-fifo.scn"),
        &RunOptions {
            record: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let spans = runs[0]
        .result
        .timeline
        .as_ref()
        .unwrap()
        .in_group("cpus", "run")
        .count();
    let complete = events.iter().filter(|e| e["ph"] == "X").count();
    assert_eq!(complete, spans, "one complete event per run segment");
    // A run stopped while a job runs still shows that job, up to the stop.
    let cut = tmp.path().join("cut.json");
    let status = sim()
        .args([
            "run",
            "scenarios/sched-fifo.scn",
            "--until",
            "25ms",
            "--export-trace",
        ])
        .arg(&cut)
        .output()
        .unwrap();
    // The turnaround checks fail on a cut run (exit 1); the trace is written all the same.
    assert_eq!(status.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cut).unwrap()).unwrap();
    let last_end = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| e["ts"].as_f64().unwrap() + e["dur"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(
        last_end, 25_000.0,
        "the running job's span ends at the stop (25 ms, in us)"
    );
    // A Raft run: fault instants span every track (global scope).
    let raft = tmp.path().join("raft.json");
    let status = sim()
        .args(["run", "scenarios/raft-leader-crash.scn", "--export-trace"])
        .arg(&raft)
        .output()
        .unwrap();
    assert!(status.status.success());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&raft).unwrap()).unwrap();
    let global = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "i" && e["s"] == "g")
        .count();
    assert!(global >= 1);
    // With --seeds it is refused, with a reason.
    let refused = sim()
        .args([
            "run",
            "scenarios/mm1.scn",
            "--seeds",
            "1..2",
            "--export-trace",
            "x.json",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("export-trace"));
}

#[test]
fn a_broken_scenario_gets_an_error_page_and_exit_2_while_the_others_are_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("broken.scn");
    std::fs::write(
        &bad,
        "scenario \"broken\" {\n  station s { service exp(1s) \n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = sim()
        .arg("report")
        .arg("--out")
        .arg(&out)
        .arg(&bad)
        .arg("scenarios/sched-fifo.scn")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("broken.scn:"), "{stderr}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("broken"));
    assert!(out.join("sched-fifo/schedule.svg").exists());
    // An output path that is a file: a clear error, nothing else.
    let file = tmp.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let o = sim()
        .arg("report")
        .arg("--out")
        .arg(&file)
        .arg("scenarios/sched-fifo.scn")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: "));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn the_gallery_loads_every_chart_in_headless_chromium() {
    if reports::browser::find_chromium().is_none() {
        if std::env::var("SIM_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("chromium is required (SIM_REQUIRE_CHROMIUM=1) but not installed");
        }
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = report_into(tmp.path(), "2");
    assert!(o.status.success());
    let out = tmp.path().join("report");
    let charts = tree(&out).keys().filter(|k| k.ends_with(".svg")).count() as u32;
    let shot = tmp.path().join("shot.png");
    let check = reports::browser::check_gallery(
        &out.join("index.html"),
        Some(&shot),
        std::time::Duration::from_secs(120),
    )
    .unwrap();
    assert_eq!(check.total, charts, "{check:?}");
    assert_eq!(check.loaded, charts, "{check:?}");
    assert_eq!(check.failed, 0, "{check:?}");
}

/// A kernel trace of `scenarios/sched-fifo.scn` (jobs a, b, c: 100, 10 and 10 ms) as the kernel
/// prints it, a little late on its tick, with a line for people that the parser skips.
fn fifo_kernel_trace() -> String {
    use sched::Stop;
    use sched::ktrace::Record;
    let mut lines = vec!["simk-log booted: long mode, 1 CPU".to_string()];
    let records = [
        Record::Boot {
            policy: "fifo".to_string(),
            jobs: 3,
            tick: 1_000_000,
            tsc_hz: 2_000_000_000,
        },
        Record::Run {
            job: 0,
            start: 150,
            end: 100_000_400,
            stop: Stop::Finished,
        },
        Record::Run {
            job: 1,
            start: 100_002_000,
            end: 110_002_300,
            stop: Stop::Finished,
        },
        Record::Run {
            job: 2,
            start: 110_004_000,
            end: 120_004_100,
            stop: Stop::Finished,
        },
        Record::Pass,
    ];
    lines.extend(records.iter().map(ToString::to_string));
    lines.join("\n") + "\n"
}

/// The `y` of the SVG text element whose text is `label`, if there is one.
fn text_y(svg: &str, label: &str) -> Option<f64> {
    svg.split("<text").skip(1).find_map(|el| {
        let (tag, rest) = el.split_once('>')?;
        let (text, _) = rest.split_once("</text>")?;
        if text.trim() != label {
            return None;
        }
        let y = tag.split(" y=\"").nth(1)?;
        y[..y.find('"')?].parse().ok()
    })
}

/// `sim report --out OUT --kernel-traces TRACES FILES...` from the repository root.
fn report_with_traces(
    out: &Path,
    traces: &Path,
    files: &[&str],
    threads: &str,
) -> std::process::Output {
    let mut c = sim();
    c.env("RAYON_NUM_THREADS", threads)
        .arg("report")
        .arg("--out")
        .arg(out)
        .arg("--kernel-traces")
        .arg(traces);
    for f in files {
        c.arg(format!("scenarios/{f}"));
    }
    c.output().unwrap()
}

#[test]
fn a_kernel_trace_adds_a_chart_of_the_kernel_above_the_simulator() {
    let tmp = tempfile::tempdir().unwrap();
    let traces = tmp.path().join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    std::fs::write(traces.join("sched-fifo.txt"), fifo_kernel_trace()).unwrap();
    let out = tmp.path().join("out");
    let o = report_with_traces(&out, &traces, &["sched-fifo.scn"], "2");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("3 chart(s)"), "{stdout}");
    let svg = std::fs::read_to_string(out.join("sched-fifo/kernel-vs-sim.svg")).unwrap();
    // The PNG draws nothing within 2 px of its border (no text cut off).
    let png = image::open(out.join("sched-fifo/kernel-vs-sim.png"))
        .unwrap()
        .to_rgb8();
    let (w, h) = png.dimensions();
    assert!(png.enumerate_pixels().all(|(x, y, p)| {
        let edge = x < 2 || y < 2 || x + 2 >= w || y + 2 >= h;
        !edge || p.0 == [255, 255, 255]
    }));
    // Both rows are labelled, the kernel's on top (drawn higher up).
    let (kernel_y, sim_y) = (text_y(&svg, "kernel"), text_y(&svg, "simulator"));
    assert!(kernel_y.is_some(), "the kernel row's label");
    assert!(sim_y.is_some(), "the simulator row's label");
    assert!(kernel_y < sim_y, "{kernel_y:?} {sim_y:?}");
    assert!(svg.contains("kernel (QEMU) and simulator: jobs on the CPU"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sched-fifo/summary.json")).unwrap())
            .unwrap();
    let charts = summary["charts"].as_array().unwrap();
    let kernel = charts
        .iter()
        .find(|c| c["svg"] == "sched-fifo/kernel-vs-sim.svg")
        .unwrap_or_else(|| panic!("{charts:?}"));
    assert_eq!(kernel["png"], "sched-fifo/kernel-vs-sim.png");
    assert_eq!(kernel["kind"], "gantt");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("sched-fifo/kernel-vs-sim.svg"));
    assert!(html.contains("sched-fifo.txt"), "the doc names the trace");
    assert!(
        html.contains("--kernel-traces"),
        "the regenerate command has the flag"
    );
    // The same bytes on one thread.
    let again = tmp.path().join("again");
    let o = report_with_traces(&again, &traces, &["sched-fifo.scn"], "1");
    assert!(o.status.success());
    let (a, b) = (tree(&out), tree(&again));
    for (name, bytes) in &a {
        if name.ends_with(".svg") || name.ends_with(".json") {
            assert!(bytes == &b[name], "{name} differs between 1 and 2 threads");
        }
    }
}

#[test]
fn a_malformed_kernel_trace_is_an_error_naming_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let traces = tmp.path().join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    let mut text = fifo_kernel_trace();
    // Line 4 (after the log line, the boot and the first run) loses its end.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[3] = "simk run job=1 start=100002000 stop=finished".to_string();
    text = lines.join("\n") + "\n";
    let file = traces.join("sched-fifo.txt");
    std::fs::write(&file, &text).unwrap();
    let out = tmp.path().join("out");
    let o = report_with_traces(&out, &traces, &["sched-fifo.scn"], "2");
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.starts_with(&format!("error: {}:4: ", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("lacks `end`"), "{stderr}");
    assert!(!out.join("index.html").exists(), "nothing drawn");
    // A job the scenario does not have, and a run that ends before it starts: errors too.
    let fifo = |line: &str| {
        let mut l: Vec<String> = fifo_kernel_trace().lines().map(str::to_string).collect();
        l[2] = line.to_string();
        l.join("\n")
    };
    let e = scenarios::report::parse_kernel_trace(
        "t.txt",
        &fifo("simk run job=3 start=0 end=5 stop=finished"),
        3,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("t.txt:3: job 3 is not in the scenario"),
        "{e}"
    );
    let e = scenarios::report::parse_kernel_trace(
        "t.txt",
        &fifo("simk run job=0 start=9 end=5 stop=finished"),
        3,
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("t.txt:3: the run of job 0 ends"),
        "{e}"
    );
    // A missing directory of traces is an error as well.
    let o = report_with_traces(&out, &tmp.path().join("nowhere"), &["sched-fifo.scn"], "2");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nowhere: no such directory"));
}

#[test]
fn only_the_runs_with_a_kernel_trace_get_a_kernel_chart() {
    // A trace for the second variant of sched-rr's sweep (quantum 5ms) only: that run gets
    // `kernel-vs-sim-2`, its other runs and sched-sjf (no trace) get none.
    let tmp = tempfile::tempdir().unwrap();
    let traces = tmp.path().join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    std::fs::write(traces.join("sched-rr-2.txt"), fifo_kernel_trace()).unwrap();
    let out = tmp.path().join("out");
    let o = report_with_traces(&out, &traces, &["sched-rr.scn", "sched-sjf.scn"], "2");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let files = tree(&out);
    let kernel: Vec<&String> = files
        .keys()
        .filter(|k| k.contains("kernel-vs-sim"))
        .collect();
    assert_eq!(
        kernel,
        [
            "sched-rr/kernel-vs-sim-2.png",
            "sched-rr/kernel-vs-sim-2.svg"
        ],
        "{:?}",
        files.keys()
    );
    let svg = String::from_utf8_lossy(&files["sched-rr/kernel-vs-sim-2.svg"]);
    assert!(
        svg.contains("kernel (QEMU) and simulator: jobs on the CPU: quantum = 5ms"),
        "the variant's tag in the title"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&files["sched-sjf/summary.json"]).unwrap();
    assert!(
        summary["charts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["svg"].as_str().unwrap().contains("kernel")),
        "{summary}"
    );
}

// ---------------------------------------------------------------------------------------------
// Charts a person can read (issue 16)

fn recorded(name: &str) -> Vec<scenarios::runner::RunReport> {
    let opts = RunOptions {
        record: true,
        ..RunOptions::default()
    };
    run_file(&scn(name), &opts).unwrap()
}

/// The planned chart `stem` of `runs`.
fn chart_of(runs: &[scenarios::runner::RunReport], stem: &str) -> reports::chart::Chart {
    let spec = scenarios::report::family(&runs[0]).unwrap();
    let charts = scenarios::report::plan_charts(spec, runs);
    let stems: Vec<String> = charts.iter().map(|c| c.stem.clone()).collect();
    charts
        .into_iter()
        .find(|c| c.stem == stem)
        .unwrap_or_else(|| panic!("no chart {stem}: {stems:?}"))
        .chart
}

fn svg_of(chart: &reports::chart::Chart) -> String {
    use scenarios::report::{CHART_HEIGHT_PX, CHART_WIDTH_PX};
    reports::render_svg(chart, CHART_WIDTH_PX, CHART_HEIGHT_PX).unwrap()
}

/// The texts of an SVG's `<text>` elements.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim().to_string()))
        .collect()
}

#[test]
fn the_crash_storm_roles_chart_counts_its_faults_in_a_small_svg() {
    let chart = chart_of(&recorded("raft-crash-storm.scn"), "roles");
    let reports::chart::Chart::Timeline { markers, .. } = &chart else {
        panic!("{chart:?}")
    };
    let kind = |k: &str| markers.iter().filter(|m| m.label.starts_with(k)).count();
    let (crashes, restarts) = (kind("crash "), kind("restart "));
    assert!(crashes > 200 && restarts > 200, "{crashes} {restarts}");
    let svg = svg_of(&chart);
    // Was 5.4 MB of 55,704 dashes merging into stripes.
    assert!(svg.len() < 1_500_000, "{} bytes", svg.len());
    let elements: usize = ["<polyline", "<path", "<line", "<rect", "<circle", "<text"]
        .iter()
        .map(|e| svg.matches(e).count())
        .sum();
    assert!(elements < 15_000, "{elements} elements");
    // The faults still show: counted by kind over the plot.
    let texts = svg_texts(&svg);
    let caption = texts.iter().find(|t| t.contains("a bar counts those in"));
    let caption = caption.unwrap_or_else(|| panic!("{texts:?}"));
    assert!(caption.contains(&format!("crash {crashes}")), "{caption}");
    assert!(
        caption.contains(&format!("restart {restarts}")),
        "{caption}"
    );
}

#[test]
fn the_partition_roles_chart_names_every_fault_and_shades_each_nodes_side_behind_it() {
    use reports::chart::Chart;
    let chart = chart_of(&recorded("raft-partition.scn"), "roles");
    let Chart::Timeline { markers, bands, .. } = &chart else {
        panic!("{chart:?}")
    };
    // Every fault named above the plot, as many times as it happened ("heal" four times).
    let texts = svg_texts(&svg_of(&chart));
    for m in markers {
        let want = markers.iter().filter(|o| o.label == m.label).count();
        let got = texts.iter().filter(|t| **t == m.label).count();
        assert_eq!(got, want, "{}: {texts:?}", m.label);
    }
    // Each node's side of each partition is a band on its row.
    let sides_at = |t: f64| {
        let mut sides: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for b in bands.iter().filter(|b| b.start <= t && t < b.end) {
            if b.label.starts_with("side") || b.label == "both sides" {
                sides
                    .entry(&b.label)
                    .or_default()
                    .push(b.row.as_deref().unwrap());
            }
        }
        sides
    };
    let sizes = |t: f64| {
        let mut v: Vec<usize> = sides_at(t).values().map(Vec::len).collect();
        v.sort();
        v
    };
    assert_eq!(sizes(9.0), [2, 3], "halves: {:?}", sides_at(9.0));
    assert_eq!(sizes(23.0), [1, 4], "one: {:?}", sides_at(23.0));
    assert_eq!(sides_at(18.0)["both sides"].len(), 1, "the bridge");
    assert!(sides_at(7.0).is_empty(), "healed at 6 s");
    // Shading is behind the role bars: no leader green is mixed with a band's tint.
    let png = reports::render_png(&chart, 960, 480).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    let green = [44u8, 160, 44];
    let tinted = |c: [u8; 3]| -> [u8; 3] {
        std::array::from_fn(|i| (0.25 * c[i] as f64 + 0.75 * green[i] as f64).round() as u8)
    };
    // Every colour a band may have (reports' BAND_PALETTE).
    let bands: [[u8; 3]; 10] = [
        [80, 80, 80],
        [200, 0, 0],
        [110, 40, 170],
        [150, 100, 0],
        [0, 90, 160],
        [0, 130, 90],
        [200, 0, 140],
        [0, 150, 160],
        [140, 140, 0],
        [40, 40, 120],
    ];
    let olive: Vec<[u8; 3]> = bands.iter().map(|c| tinted(*c)).collect();
    let mixed = img.pixels().filter(|p| olive.contains(&p.0)).count();
    let pure = img.pixels().filter(|p| p.0 == green).count();
    assert_eq!(mixed, 0, "leader bars tinted over");
    assert!(pure > 1000, "{pure} leader px");
}

#[test]
fn election_times_spanning_decades_get_a_log_axis_and_never_is_shown() {
    use reports::chart::Chart;
    let runs = recorded("raft-election-timing.scn");
    let count =
        |r: &scenarios::runner::RunReport| match r.result.metrics.get("cluster.election_time") {
            Some(simcore::MetricValue::Histogram { count, .. }) => *count,
            other => panic!("{other:?}"),
        };
    let cdf = chart_of(&runs, "election-time-cdf");
    let Chart::Cdf { samples, .. } = &cdf else {
        panic!("{cdf:?}")
    };
    // One line per variant, named by the parameter and its value; "never" when it never elected.
    assert_eq!(samples.len(), runs.len());
    for r in &runs {
        let value = r.variant.split_once('=').unwrap().1;
        let name = format!("election_timeout = {value}");
        let s = samples.iter().find(|s| s.name.starts_with(&name));
        let s = s.unwrap_or_else(|| panic!("{name}: {samples:?}"));
        if count(r) == 0 {
            assert_eq!(s.name, format!("{name}: never"));
            assert!(s.values.is_empty());
        } else {
            assert_eq!(s.name, name);
        }
    }
    // Election times from a fraction of a second to a minute: a log axis, powers of ten.
    let all = samples.iter().flat_map(|s| s.values.iter().map(|p| p.0));
    let (lo, hi) = all.fold((f64::MAX, 0f64), |(a, b), v| (a.min(v), b.max(v)));
    assert!(hi / lo > 100.0, "{lo}..{hi}");
    let texts = svg_texts(&svg_of(&cdf));
    let decades: Vec<&String> = texts
        .iter()
        .filter(|t| ["0.01", "0.1", "1", "10", "100", "1k"].contains(&t.as_str()))
        .collect();
    assert!(decades.len() >= 3, "{texts:?}");
    // The sweep's bars: a variant that never elected says so in its slot.
    let bars = chart_of(&runs, "election-time-sweep");
    let Chart::Bars {
        notes,
        categories,
        x,
        ..
    } = &bars
    else {
        panic!("{bars:?}")
    };
    assert_eq!(x, "election_timeout");
    for (k, r) in runs.iter().enumerate() {
        assert_eq!(
            notes[k].starts_with("never"),
            count(r) == 0,
            "{}",
            categories[k]
        );
    }
    if runs.iter().any(|r| count(r) == 0) {
        assert!(svg_texts(&svg_of(&bars)).iter().any(|t| t == "never"));
    }
}

#[test]
fn a_crashed_nodes_commit_index_breaks_while_it_is_down_and_lines_are_named_by_node() {
    use reports::chart::Chart;
    let chart = chart_of(&recorded("raft-partition.scn"), "commit-index");
    let Chart::TimeSeries { series, .. } = &chart else {
        panic!("{chart:?}")
    };
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["n1", "n2", "n3", "n4", "n5"]);
    // The leader crashed at 13 s is down until the restart at 15 s: its line breaks there.
    let broken: Vec<_> = series
        .iter()
        .filter(|s| s.points.iter().any(|p| p.1.is_nan()))
        .collect();
    assert_eq!(broken.len(), 1, "{names:?}");
    let pts = &broken[0].points;
    let gap = pts.iter().position(|p| p.1.is_nan()).unwrap();
    assert_eq!(pts[gap].0, 13.0);
    assert_eq!(pts[gap + 1].0, 15.0, "resumes at the restart");
    assert!(
        !pts.iter().any(|p| p.0 > 13.0 && p.0 < 15.0),
        "drawn while down"
    );
}

#[test]
fn sweep_variants_are_named_by_their_parameter() {
    use reports::chart::Chart;
    let runs = recorded("mmk-sweep.scn");
    let cdf = chart_of(&runs, "response-cdf");
    let Chart::Cdf { samples, .. } = &cdf else {
        panic!("{cdf:?}")
    };
    let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["servers = 1", "servers = 2", "servers = 3"]);
    let bars = chart_of(&runs, "sweep");
    let Chart::Bars { x, categories, .. } = &bars else {
        panic!("{bars:?}")
    };
    assert_eq!(
        (x.as_str(), categories.as_slice()),
        ("servers", &["1", "2", "3"].map(String::from)[..])
    );
    let mlfq = recorded("sched-mlfq-gaming.scn");
    let titles: Vec<String> = {
        let spec = scenarios::report::family(&mlfq[0]).unwrap();
        scenarios::report::plan_charts(spec, &mlfq)
            .into_iter()
            .map(|c| c.chart.title().to_string())
            .collect()
    };
    assert!(
        titles
            .iter()
            .any(|t| t.ends_with(": io_resets_allotment = false")),
        "{titles:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The disk family's charts (issue 18)

/// The chart `stem` of `runs`, among every family's ([`scenarios::report::plan_all_charts`]), or
/// None when the runs have no data for it.
fn any_chart_of(runs: &[scenarios::runner::RunReport], stem: &str) -> Option<Chart> {
    scenarios::report::plan_all_charts(runs)
        .into_iter()
        .find(|c| c.stem == stem)
        .map(|c| c.chart)
}

/// The highest seek time among points within each of `bins` equal stretches of distance up to
/// `max`: where no dot averages several requests, the drive's own curve (an average of points
/// on a concave curve lies below it).
fn upper_envelope(points: &[(f64, f64)], max: f64, bins: usize) -> Vec<Option<f64>> {
    let mut top = vec![None; bins];
    for &(d, t) in points {
        let b = ((d / max * bins as f64) as usize).min(bins - 1);
        top[b] = Some(top[b].map_or(t, |v: f64| v.max(t)));
    }
    top
}

#[test]
fn the_disk_scheduling_report_draws_a_latency_cdf_per_scheduler_and_the_seek_curve() {
    let runs = recorded("disk-scheduling.scn");
    let schedulers = [
        "scheduler = fifo",
        "scheduler = sstf",
        "scheduler = satf",
        "scheduler = deadline",
    ];
    let Some(Chart::Cdf { samples, x, .. }) = any_chart_of(&runs, "read-latency-cdf") else {
        panic!("no read latency CDF")
    };
    let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, schedulers);
    assert!(samples.iter().all(|s| s.n() == 5000), "every read counted");
    assert_eq!(x.name, "read latency");
    // Charts without data are left out: no writes, and a hard drive has no write amplification.
    assert!(any_chart_of(&runs, "write-latency-cdf").is_none());
    assert!(any_chart_of(&runs, "write-amplification").is_none());
    assert!(any_chart_of(&runs, "queue-depth").is_some());

    let Some(chart @ Chart::Scatter { .. }) = any_chart_of(&runs, "seek-curve") else {
        panic!("no seek chart")
    };
    let Chart::Scatter { series, x, y, .. } = &chart else {
        unreachable!()
    };
    assert_eq!((x.unit.as_str(), y.unit.as_str()), ("cylinders", "ms"));
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, schedulers);
    for s in series {
        assert!(
            s.points.len() >= 2048,
            "{}: {} dots",
            s.name,
            s.points.len()
        );
    }
    // FIFO's random seeks cover the stroke. Along the top of its dots, seek time rises with
    // distance, steeply at first (the square root) and then at a slope that stays put (linear).
    let fifo = &series[0].points;
    let max = fifo.iter().map(|p| p.0).fold(0.0, f64::max);
    let top = upper_envelope(fifo, max, 40);
    let at = |b: usize| top[b].unwrap_or_else(|| panic!("no dot in bin {b}: {top:?}"));
    let slope = |a: usize, b: usize| (at(b) - at(a)) / (b - a) as f64;
    let (start, middle, end) = (slope(0, 2), slope(10, 20), slope(20, 30));
    assert!(start > 2.0 * middle, "no square-root start: {top:?}");
    assert!(
        (middle - end).abs() < 0.25 * middle,
        "not linear past the bend: {top:?}"
    );
    // Drawn as dots: many circles in the SVG.
    let circles = svg_of(&chart).matches("<circle").count();
    assert!(circles > 1000, "{circles} dots");
}

// ---------------------------------------------------------------------------------------------
// Curves: miss-ratio curves (issue 19)

/// A family with nothing but a curve chart of `metrics` (sizes in bytes against a miss ratio),
/// for runs whose metrics a test adds curves to: no model sets a curve here.
fn curve_family(metrics: &'static str) -> models::schema::ModelSpec {
    use models::schema::{ChartSource, ChartSpec, ModelSpec};
    let chart: &'static [ChartSpec] = Box::leak(Box::new([ChartSpec {
        id: "miss-ratio-curve",
        title: "Miss ratio against cache size",
        doc: "",
        source: ChartSource::Curve {
            metrics,
            x_name: "cache size",
            x_unit: "B",
            y_name: "miss ratio",
            y_unit: "",
        },
    }]));
    ModelSpec {
        name: "curves",
        doc: "",
        kinds: &[],
        global_metrics: &[],
        verbs: &[],
        properties: &[],
        events: &[],
        charts: chart,
    }
}

/// A short sweep of the queueing family (three runs, `servers = 1..3`), recorded.
fn small_sweep(dir: &Path) -> Vec<scenarios::runner::RunReport> {
    let file = dir.join("curves.scn");
    std::fs::write(
        &file,
        "scenario \"curves\" {\n  seed 1\n  source arrivals { rate 0.9/s  customers 50  to server }\n  station server { servers 1  service exp(1s) }\n  sweep server.servers in [1, 2, 3]\n}\n",
    )
    .unwrap();
    let opts = RunOptions {
        record: true,
        ..RunOptions::default()
    };
    run_file(&file, &opts).unwrap()
}

/// An MRC of 1 KiB to 64 MiB whose miss ratio falls from `top`.
fn mrc(top: f64) -> Vec<(f64, f64)> {
    (0..=16)
        .map(|i| (1024.0 * 2f64.powi(i), top * (1.0 - i as f64 / 20.0)))
        .collect()
}

fn set_curve(r: &mut scenarios::runner::RunReport, name: &str, points: Vec<(f64, f64)>) {
    r.result
        .metrics
        .0
        .insert(name.to_string(), simcore::MetricValue::Curve { points });
}

fn curve_chart(spec: &models::schema::ModelSpec, runs: &[scenarios::runner::RunReport]) -> Chart {
    let charts = scenarios::report::plan_charts(spec, runs);
    assert_eq!(
        charts.len(),
        1,
        "{:?}",
        charts.iter().map(|c| &c.stem).collect::<Vec<_>>()
    );
    assert_eq!(charts[0].stem, "miss-ratio-curve");
    charts[0].chart.clone()
}

#[test]
fn a_curve_chart_draws_a_line_per_curve_named_by_its_block_in_binary_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = small_sweep(tmp.path());
    runs.truncate(1);
    let spec = curve_family("{station}.mrc");
    // No curve at all: no chart (and an empty one draws no line).
    assert!(scenarios::report::plan_charts(&spec, &runs).is_empty());
    set_curve(&mut runs[0], "server.mrc", mrc(0.9));
    // Not a station's: `{station}` leaves it out, `*` takes it.
    set_curve(&mut runs[0], "arrivals.mrc", mrc(0.5));
    set_curve(&mut runs[0], "server.empty", Vec::new());

    let Chart::Curve { x, y, series, .. } = curve_chart(&spec, &runs) else {
        panic!("not a curve chart")
    };
    assert_eq!(
        (x.label(), y.label()),
        ("cache size (MiB)".into(), "miss ratio".into())
    );
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].name, "server");
    // The model's points, in its order, x in MiB.
    let want: Vec<(f64, f64)> = mrc(0.9).iter().map(|p| (p.0 / 1048576.0, p.1)).collect();
    assert_eq!(series[0].points, want);

    let all = curve_family("*.mrc");
    let chart = curve_chart(&all, &runs);
    let Chart::Curve { series, .. } = &chart else {
        unreachable!()
    };
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["arrivals", "server"]);
    let texts = svg_texts(&svg_of(&chart));
    for t in ["cache size (MiB)", "miss ratio", "arrivals", "server"] {
        assert!(texts.iter().any(|x| x == t), "{t}: {texts:?}");
    }
    // 1 KiB to 64 MiB spans more than two decades: ticks at powers of ten of MiB.
    assert!(texts.iter().any(|x| x == "0.01"), "{texts:?}");

    // The report's JSON keeps every point; the metrics table sums the curve up.
    let json = scenarios::report::summary_json(&runs, &[]);
    let points = &json["runs"][0]["metrics"]["server.mrc"];
    assert_eq!(points["kind"], "curve");
    assert_eq!(points["points"].as_array().unwrap().len(), 17);
    assert_eq!(
        points["points"][16],
        serde_json::json!([67108864.0, mrc(0.9)[16].1])
    );
    let table = reports::text::metrics_table(&runs[0].result.metrics);
    let row = table.iter().find(|l| l.starts_with("server.mrc")).unwrap();
    assert!(
        row.ends_with("curve      n 17  x 1.024k..67.11M  y 0.9..0.18"),
        "{row}"
    );
}

#[test]
fn a_sweep_draws_a_curve_per_variant() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = small_sweep(tmp.path());
    assert_eq!(runs.len(), 3);
    for (k, r) in runs.iter_mut().enumerate() {
        set_curve(r, "server.mrc", mrc(0.9 - 0.1 * k as f64));
    }
    let Chart::Curve { series, .. } = curve_chart(&curve_family("{station}.mrc"), &runs) else {
        panic!("not a curve chart")
    };
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["servers = 1", "servers = 2", "servers = 3"]);
    assert_eq!(series[2].points[0], (1024.0 / 1048576.0, 0.7));
    // Two curves a run: each line says its curve and its variant.
    for r in runs.iter_mut() {
        set_curve(r, "arrivals.mrc", mrc(0.3));
    }
    let Chart::Curve { series, .. } = curve_chart(&curve_family("*.mrc"), &runs) else {
        panic!("not a curve chart")
    };
    assert_eq!(series.len(), 6);
    assert_eq!(series[0].name, "arrivals [servers = 1]");
    assert_eq!(series[5].name, "server [servers = 3]");
}

// ---------------------------------------------------------------------------------------------
// Heatmaps: requests per partition per time bucket (issue 20)

/// A family with nothing but a heatmap chart of `metrics`, for runs whose metrics a test adds
/// heatmaps to.
fn heatmap_family(metrics: &'static str) -> models::schema::ModelSpec {
    use models::schema::{ChartSource, ChartSpec, ModelSpec};
    let chart: &'static [ChartSpec] = Box::leak(Box::new([ChartSpec {
        id: "requests-heatmap",
        title: "Requests per partition",
        doc: "",
        source: ChartSource::Heatmap {
            metrics,
            y_name: "partition",
            x_name: "simulated time",
            value_name: "requests",
        },
    }]));
    ModelSpec {
        name: "heatmaps",
        doc: "",
        kinds: &[],
        global_metrics: &[],
        verbs: &[],
        properties: &[],
        events: &[],
        charts: chart,
    }
}

/// Four partitions over `buckets` buckets of 250 ms, partition p1 `hot` times as busy.
fn partition_rows(buckets: u64, hot: u64) -> Vec<(String, Vec<u64>)> {
    (0..4)
        .map(|k| {
            let scale = if k == 1 { hot } else { 1 };
            (
                format!("p{k}"),
                (0..buckets).map(|i| (10 + i + k) * scale).collect(),
            )
        })
        .collect()
}

/// The heatmap a model sets through `Metrics::set_heatmap`, added to run `r` as its snapshot
/// would hold it.
fn set_heatmap(r: &mut scenarios::runner::RunReport, name: &str, rows: Vec<(String, Vec<u64>)>) {
    let mut m = simcore::Metrics::new();
    let (component, metric) = name.split_once('.').unwrap();
    let h = m.heatmap(component, metric).unwrap();
    m.set_heatmap(h, rows, simcore::SimDuration::from_millis(250));
    let v = m
        .snapshot(simcore::SimTime::from_nanos(1))
        .0
        .remove(name)
        .unwrap();
    r.result.metrics.0.insert(name.to_string(), v);
}

#[test]
fn a_heatmap_metric_becomes_a_heatmap_chart_with_its_rows_and_buckets() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = small_sweep(tmp.path());
    runs.truncate(1);
    let spec = heatmap_family("{station}.requests");
    assert!(scenarios::report::plan_charts(&spec, &runs).is_empty());
    set_heatmap(&mut runs[0], "server.requests", partition_rows(40, 5));
    // Not a station's; and one without cells draws nothing.
    set_heatmap(&mut runs[0], "arrivals.requests", partition_rows(8, 1));
    set_heatmap(&mut runs[0], "server.empty", Vec::new());

    let charts = scenarios::report::plan_charts(&spec, &runs);
    assert_eq!(charts.len(), 1);
    assert_eq!(charts[0].stem, "requests-heatmap");
    let Chart::Heatmap {
        title,
        x,
        row_axis,
        value,
        rows,
        bucket,
    } = &charts[0].chart
    else {
        panic!("not a heatmap: {:?}", charts[0].chart)
    };
    assert_eq!(title, "Requests per partition");
    // 40 buckets of 250 ms: 10 s, in seconds.
    assert_eq!(x.label(), "simulated time (s)");
    assert_eq!(
        (row_axis.as_str(), value.label()),
        ("partition", "requests".into())
    );
    assert_eq!(*bucket, 0.25);
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["p0", "p1", "p2", "p3"]);
    assert_eq!(rows[1].cells.len(), 40);
    assert_eq!(rows[1].cells[39], (10.0 + 39.0 + 1.0) * 5.0);
    let svg = svg_of(&charts[0].chart);
    let texts = svg_texts(&svg);
    for t in [
        "simulated time (s)",
        "partition",
        "requests",
        "p0",
        "p3",
        "250",
    ] {
        assert!(texts.iter().any(|x| x == t), "{t}: {texts:?}");
    }

    // Two matching heatmaps: a chart each, named by their component.
    let charts = scenarios::report::plan_charts(&heatmap_family("*.requests"), &runs);
    let stems: Vec<&str> = charts.iter().map(|c| c.stem.as_str()).collect();
    assert_eq!(
        stems,
        ["requests-heatmap-arrivals", "requests-heatmap-server"]
    );
    assert_eq!(charts[0].chart.title(), "Requests per partition: arrivals");

    // The report's JSON keeps every cell; the metrics table sums the grid up; checks see count
    // and max.
    let json = scenarios::report::summary_json(&runs, &[]);
    let m = &json["runs"][0]["metrics"]["server.requests"];
    assert_eq!(m["kind"], "heatmap");
    assert_eq!(m["bucket_ns"], 250_000_000u64);
    assert_eq!(m["rows"][1][0], "p1");
    assert_eq!(m["rows"][1][1].as_array().unwrap().len(), 40);
    let table = reports::text::metrics_table(&runs[0].result.metrics);
    let row = table
        .iter()
        .find(|l| l.starts_with("server.requests"))
        .unwrap();
    assert!(
        row.ends_with("heatmap    4 rows x 40 buckets, hottest 250"),
        "{row}"
    );
    let v = runs[0].result.metrics.get("server.requests").unwrap();
    assert_eq!((v.stat("count"), v.stat("max")), (Some(4.0), Some(250.0)));
}

#[test]
fn a_sweep_draws_a_heatmap_per_variant() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = small_sweep(tmp.path());
    for (k, r) in runs.iter_mut().enumerate() {
        set_heatmap(r, "server.requests", partition_rows(12, k as u64 + 2));
    }
    let charts = scenarios::report::plan_charts(&heatmap_family("{station}.requests"), &runs);
    let stems: Vec<&str> = charts.iter().map(|c| c.stem.as_str()).collect();
    assert_eq!(
        stems,
        [
            "requests-heatmap-1",
            "requests-heatmap-2",
            "requests-heatmap-3"
        ]
    );
    assert_eq!(
        charts[2].chart.title(),
        "Requests per partition: servers = 3"
    );
    let Chart::Heatmap {
        rows, bucket, x, ..
    } = &charts[2].chart
    else {
        panic!("not a heatmap")
    };
    // 12 buckets of 250 ms: 3 s, in seconds; p1 four times as busy in the third variant.
    assert_eq!((x.unit.as_str(), *bucket), ("s", 0.25));
    assert_eq!(rows[1].cells[0], 11.0 * 4.0);
}

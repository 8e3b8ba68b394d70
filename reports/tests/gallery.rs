//! The gallery page of `sim report`.
//!
//! HTML facts, without a browser: everything a user controls is escaped, every chart has its
//! image and its PNG link, the table of contents points at the sections, the same input gives the
//! same bytes, a scenario that could not run shows its error and no charts, and nothing links
//! outside the report. Then, in headless Chromium, what a person would see: real charts drawn by
//! `render_svg`/`render_png` all load, a missing one is counted as failed, the screenshot is a
//! real image, a page that never reports and a page that hangs are errors, and nothing (no
//! process, no profile directory) is left behind.
//!
//! Without Chromium the browser test prints "skipped: chromium not installed (apt-get install
//! chromium)" and passes, unless `SIM_REQUIRE_CHROMIUM=1` (as in CI). Set
//! `SIM_GALLERY_KEEP=DIR` to keep its galleries and screenshots there for a look.

use std::path::Path;
use std::time::{Duration, Instant};

use reports::browser::{self, BrowserError};
use reports::chart::{Axis, Chart, GanttBar, HeatRow, Samples, Series};
use reports::gallery::{ChartFile, CheckRow, Gallery, Page, RunSummary, index_html};
use reports::{render_png, render_svg};

/// The escaping the page must apply, written independently of the library's.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn run(variant: &str, seed: u64, ok: bool) -> RunSummary {
    RunSummary {
        variant: variant.into(),
        seed,
        ok,
        events: 1_234_567,
        sim_time: "1h 0m 0s".into(),
        trace_hash: format!("{:016x}", seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        replay: format!("sim run scenarios/mm1.scn --seed {seed}"),
        metrics: vec![
            ("server.utilization".into(), "0.800".into()),
            ("queue<len> & \"depth\"".into(), "mean 3.2 <max 17>".into()),
        ],
        checks: vec![
            CheckRow {
                check: "response.mean < 5ms & \"p99\"".into(),
                held: ok,
                actual: "4.9ms".into(),
            },
            CheckRow {
                check: "server.utilization <= 0.9".into(),
                held: true,
                actual: "0.8".into(),
            },
        ],
        violations: if ok {
            vec![]
        } else {
            vec!["response.mean 7.1ms > 5ms & 'rising'".into()]
        },
    }
}

fn chart(id: &str, name: &str, title: &str, kind: &str) -> ChartFile {
    ChartFile {
        title: title.into(),
        kind: kind.into(),
        svg: format!("{id}/{name}.svg"),
        png: format!("{id}/{name}.png"),
        doc: format!("What {kind} shows, with 'quotes' & <angles>."),
    }
}

/// Three scenarios: one that holds, one swept with a failing run, one that could not run; names,
/// sources and metrics full of characters HTML cares about.
fn gallery() -> Gallery {
    Gallery {
        title: "Report <b>bold</b> & \"quoted\" 'single'".into(),
        command: "sim report --out report --filter '<all>'".into(),
        pages: vec![
            Page {
                id: "mm1".into(),
                scenario: "M/M/1 <fast> & \"slow\"".into(),
                file: "scenarios/mm1.scn".into(),
                source: "// a queue\nqueue q { rate = 1 }\n</pre><script>alert(\"x\")</script>\n"
                    .into(),
                runs: vec![run("", 1, true)],
                charts: vec![
                    chart(
                        "mm1",
                        "queue-length",
                        "Queue length <over time>",
                        "timeseries",
                    ),
                    chart("mm1", "response-cdf", "Response & \"latency\" CDF", "cdf"),
                ],
                error: None,
            },
            Page {
                id: "sched-mlfq".into(),
                scenario: "MLFQ gamed".into(),
                file: "scenarios/sched-mlfq-gaming.scn".into(),
                source: "sweep policy = [mlfq, rr]\n".into(),
                runs: vec![run("policy=mlfq", 7, false), run("policy=rr", 7, true)],
                charts: vec![
                    chart("sched-mlfq", "gantt", "Jobs on CPUs", "gantt"),
                    chart("sched-mlfq", "heatmap", "Requests per partition", "heatmap"),
                ],
                error: None,
            },
            Page {
                id: "broken".into(),
                scenario: "Broken".into(),
                file: "scenarios/broken.scn".into(),
                source: "queue q { rate = }\n".into(),
                runs: vec![run("", 1, true)],
                charts: vec![chart("broken", "never", "Never drawn", "cdf")],
                error: Some(
                    "scenarios/broken.scn:1:18: error: expected a value <here> & \"there\"".into(),
                ),
            },
        ],
    }
}

/// The text of the section with `id`, from its opening tag to its `</section>`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let open = format!("<section class=\"scenario\" id=\"{}\">", esc(id));
    let start = html
        .find(&open)
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = start + html[start..].find("</section>").expect("section closes");
    &html[start..end]
}

/// Every `attr="..."` value in `html`, in order.
fn attr_values(html: &str, attr: &str) -> Vec<String> {
    let key = format!("{attr}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&key) {
        rest = &rest[at + key.len()..];
        let end = rest.find('"').expect("attribute closes");
        out.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    out
}

#[test]
fn everything_a_user_controls_is_escaped() {
    let g = gallery();
    let html = index_html(&g);
    for raw in [
        "<b>bold</b>",
        "<fast>",
        "<script>alert",
        "</pre><script>",
        "queue<len>",
        "<max 17>",
        "<over time>",
        "<angles>",
        "'<all>'",
        "<here>",
    ] {
        assert!(!html.contains(raw), "unescaped {raw:?}");
    }
    for text in [
        &g.title,
        &g.command,
        &g.pages[0].scenario,
        &g.pages[0].source,
        &g.pages[0].runs[0].metrics[1].0,
        &g.pages[0].runs[0].metrics[1].1,
        &g.pages[0].runs[0].checks[0].check,
        &g.pages[0].charts[1].title,
        &g.pages[0].charts[1].doc,
        &g.pages[1].runs[0].violations[0],
        g.pages[2].error.as_ref().expect("an error"),
    ] {
        assert!(html.contains(&esc(text)), "missing escaped {text:?}");
    }
    // The page's own script is the only one.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("<script>\n"));
}

#[test]
fn every_chart_has_its_image_and_png_link() {
    let g = gallery();
    let html = index_html(&g);
    for page in g.pages.iter().filter(|p| p.error.is_none()) {
        let sec = section(&html, &page.id);
        for c in &page.charts {
            let img = format!(
                "<img src=\"{}\" alt=\"{}\" loading=\"eager\" data-chart>",
                c.svg,
                esc(&c.title)
            );
            assert!(sec.contains(&img), "{img}");
            assert!(sec.contains(&format!("<a href=\"{}\">PNG</a>", c.png)));
            assert!(sec.contains(&format!("<figcaption><strong>{}</strong>", esc(&c.title))));
            assert!(sec.contains(&esc(&c.doc)));
        }
        assert_eq!(sec.matches("<figure").count(), page.charts.len());
        // One replay command per run, in <code>.
        for r in &page.runs {
            assert!(sec.contains(&format!("<code class=\"cmd\">{}</code>", esc(&r.replay))));
        }
    }
    let all_charts: usize = g
        .pages
        .iter()
        .filter(|p| p.error.is_none())
        .map(|p| p.charts.len())
        .sum();
    assert_eq!(html.matches("data-chart>").count(), all_charts);
}

#[test]
fn toc_anchors_match_section_ids() {
    let g = gallery();
    let html = index_html(&g);
    let nav_start = html.find("<nav").expect("a table of contents");
    let nav = &html[nav_start..nav_start + html[nav_start..].find("</nav>").expect("nav closes")];
    let anchors: Vec<String> = attr_values(nav, "href")
        .into_iter()
        .map(|h| h.strip_prefix('#').expect("in-page anchor").to_string())
        .collect();
    let ids: Vec<String> = attr_values(&html, "id");
    let expected: Vec<String> = g.pages.iter().map(|p| p.id.clone()).collect();
    assert_eq!(anchors, expected);
    assert_eq!(
        ids, expected,
        "sections carry the page ids, and no other element has an id"
    );
    // Each TOC entry carries its page's badge.
    let items: Vec<&str> = nav.split("<li>").skip(1).collect();
    assert!(items[0].contains("badge pass"), "{}", items[0]);
    assert!(items[1].contains("badge fail"), "{}", items[1]);
    assert!(items[2].contains(">error<"), "{}", items[2]);
    assert!(g.pages[0].ok() && !g.pages[1].ok() && !g.pages[2].ok());
}

/// The header counts pages by outcome and shows only the counts there are: a red "0 fail" (drawn
/// "0 FAIL") reads as an alarm when nothing failed.
#[test]
fn the_header_shows_no_badge_for_a_count_of_zero() {
    let header = |g: &Gallery| {
        let html = index_html(g);
        let start = html.find("<p class=\"summary\">").expect("a summary line");
        let end = start + html[start..].find("</p>").expect("summary closes");
        html[start..end].to_string()
    };
    let mut all_pass = gallery();
    all_pass.pages.truncate(1);
    let h = header(&all_pass);
    assert!(h.contains(">1 pass<"), "{h}");
    assert!(!h.contains("badge fail") && !h.contains(" fail<"), "{h}");
    let h = header(&gallery());
    assert!(
        h.contains(">1 pass<") && h.contains(">1 fail<") && h.contains(">1 error<"),
        "{h}"
    );
    let mut none_pass = gallery();
    none_pass.pages.remove(0);
    let h = header(&none_pass);
    assert!(!h.contains("pass"), "{h}");
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let a = index_html(&gallery());
    let b = index_html(&gallery().clone());
    assert_eq!(a, b);
    // And the output depends on the input: a changed seed shows.
    let mut g = gallery();
    g.pages[0].runs[0].seed = 99;
    assert_ne!(index_html(&g), a);
}

#[test]
fn an_error_page_shows_the_error_and_no_charts() {
    let g = gallery();
    let html = index_html(&g);
    let sec = section(&html, "broken");
    let error = g.pages[2].error.as_ref().expect("an error");
    assert!(sec.contains(&format!("<pre>{}</pre>", esc(error))));
    assert!(sec.contains("Could not run"));
    for absent in ["<img", "<figure", "<table", "Replay", "broken/never"] {
        assert!(!sec.contains(absent), "error page has {absent:?}");
    }
    // The source is still there, to see what went wrong.
    assert!(sec.contains(&format!(
        "<pre><code>{}</code></pre>",
        esc(&g.pages[2].source)
    )));
}

#[test]
fn runs_show_their_checks_metrics_and_violations() {
    let g = gallery();
    let html = index_html(&g);
    let sec = section(&html, "sched-mlfq");
    assert!(sec.contains("<td>policy=mlfq</td><td class=\"num\">7</td>"));
    assert!(sec.contains("1,234,567"));
    assert!(sec.contains(&g.pages[1].runs[0].trace_hash));
    assert!(sec.contains("<span class=\"badge fail\">FAIL</span>"));
    assert!(sec.contains("<span class=\"badge pass\">ok</span>"));
    assert_eq!(sec.matches("<details class=\"metrics\">").count(), 2);
    assert!(sec.contains("Metrics: policy=mlfq, seed 7"));
    assert!(sec.contains("<h3>Violations</h3>"));
    assert!(sec.contains(&esc(&g.pages[1].runs[0].violations[0])));
    // The passing page has no violations block and shows "—" for the missing variant.
    let ok = section(&html, "mm1");
    assert!(!ok.contains("Violations"));
    assert!(ok.contains("<td>—</td>"));
    assert!(ok.contains("<details class=\"source\">"));
}

#[test]
fn nothing_links_outside_the_report() {
    let html = index_html(&gallery());
    assert!(!html.contains("<link"));
    assert!(!html.contains("@import"));
    assert!(!html.contains("url("));
    for attr in ["src", "href"] {
        for value in attr_values(&html, attr) {
            assert!(
                !value.contains("://") && !value.starts_with("//") && !value.starts_with('/'),
                "{attr}={value:?} is not relative"
            );
        }
    }
}

#[test]
fn paths_are_percent_encoded_in_links() {
    let mut g = gallery();
    g.pages[0].charts[0].svg = "mm1/queue length#1.svg".into();
    g.pages[0].charts[0].png = "mm1/q&a.png".into();
    let html = index_html(&g);
    assert!(html.contains("src=\"mm1/queue%20length%231.svg\""));
    assert!(html.contains("href=\"mm1/q%26a.png\""));
}

#[test]
fn tags_balance() {
    let html = index_html(&gallery());
    for tag in [
        "html",
        "head",
        "body",
        "header",
        "nav",
        "main",
        "section",
        "figure",
        "figcaption",
        "details",
        "summary",
        "table",
        "thead",
        "tbody",
        "tr",
        "td",
        "th",
        "ul",
        "ol",
        "li",
        "pre",
        "code",
        "p",
        "div",
        "span",
        "h1",
        "h2",
        "h3",
        "h4",
        "a",
        "style",
        "script",
        "footer",
    ] {
        let opens =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let closes = html.matches(&format!("</{tag}>")).count();
        assert_eq!(
            opens, closes,
            "<{tag}> opened {opens} times, closed {closes}"
        );
    }
}

#[test]
fn an_empty_gallery_is_still_a_page_that_reports() {
    let html = index_html(&Gallery::default());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>sim report</title>"));
    assert!(html.contains("data-charts-done"));
    assert!(!html.contains("<nav"));
}

#[test]
fn the_gallery_serializes_to_json() {
    let value = serde_json::to_value(gallery()).expect("serializes");
    assert_eq!(
        value["pages"][0]["charts"][1]["svg"],
        "mm1/response-cdf.svg"
    );
    assert_eq!(value["pages"][1]["runs"][0]["checks"][0]["held"], false);
    assert_eq!(
        value["pages"][0]["runs"][0]["metrics"][0][0],
        "server.utilization"
    );
}

// ---------------------------------------------------------------------------------------------
// In a real browser.

fn real_charts() -> Vec<(&'static str, &'static str, Chart)> {
    let line = |name: &str, k: f64| Series {
        name: name.into(),
        points: (0..200)
            .map(|i| (i as f64 * 0.5, k * (1.0 + (i as f64 / 9.0).sin()) * 3.0))
            .collect(),
    };
    let samples = |name: &str, k: f64| {
        Samples::new(name, (1..500).map(|i| k * -(1.0 - i as f64 / 500.0).ln()))
    };
    let bar = |row: &str, start: f64, end: f64, item: &str| GanttBar {
        row: row.into(),
        start,
        end,
        item: item.into(),
    };
    vec![
        (
            "mm1",
            "queue-length",
            Chart::TimeSeries {
                title: "Queue length <over time>".into(),
                x: Axis::new("time", "s"),
                y: Axis::new("customers", ""),
                series: vec![line("queue", 1.0), line("in service", 0.3)],
            },
        ),
        (
            "mm1",
            "response-cdf",
            Chart::Cdf {
                title: "Response & \"latency\" CDF".into(),
                x: Axis::new("response time", "ms"),
                samples: vec![samples("fifo", 4.0), samples("sjf", 2.5)],
            },
        ),
        (
            "sched-mlfq",
            "gantt",
            Chart::Gantt {
                title: "Jobs on CPUs".into(),
                x: Axis::new("time", "ms"),
                row_axis: "CPU".into(),
                bars: vec![
                    bar("cpu0", 0.0, 3.0, "job A"),
                    bar("cpu1", 0.0, 2.0, "job B"),
                    bar("cpu0", 3.0, 5.0, "job C"),
                    bar("cpu1", 2.0, 6.0, "job A"),
                    bar("cpu0", 5.0, 9.0, "job B"),
                ],
            },
        ),
        (
            "sched-mlfq",
            "heatmap",
            Chart::Heatmap {
                title: "Requests per partition".into(),
                x: Axis::new("simulated time", "s"),
                row_axis: "partition".into(),
                value: Axis::new("requests", ""),
                rows: (0..4)
                    .map(|k| HeatRow {
                        name: format!("p{k}"),
                        cells: (0..40).map(|i| ((i * (k + 3)) % 17) as f64).collect(),
                    })
                    .collect(),
                bucket: 0.5,
            },
        ),
    ]
}

/// Draws the four real charts under `dir` at the paths [`gallery`] names, and returns that
/// gallery (whose error page names a chart that is never drawn, and must not be shown).
fn write_real_gallery(dir: &Path) -> Gallery {
    let g = gallery();
    for (id, name, chart) in real_charts() {
        std::fs::create_dir_all(dir.join(id)).expect("chart directory");
        let svg = render_svg(&chart, 800, 480).expect("svg");
        let png = render_png(&chart, 800, 480).expect("png");
        std::fs::write(dir.join(id).join(format!("{name}.svg")), svg).expect("write svg");
        std::fs::write(dir.join(id).join(format!("{name}.png")), png).expect("write png");
        let named = g
            .pages
            .iter()
            .flat_map(|p| &p.charts)
            .any(|c| c.svg == format!("{id}/{name}.svg") && c.title == chart.title());
        assert!(named, "the gallery names {id}/{name}.svg");
    }
    g
}

/// The screenshot decodes, is the window's size, and is not blank.
fn assert_plausible_screenshot(path: &Path) {
    let bytes = std::fs::read(path).expect("screenshot written");
    let img = image::load_from_memory(&bytes)
        .expect("screenshot decodes")
        .to_rgb8();
    let (w, h) = img.dimensions();
    assert!(w >= 1000 && h >= 2000, "screenshot is {w}x{h}");
    let first = *img.get_pixel(0, 0);
    let different = img.pixels().filter(|p| **p != first).count();
    assert!(
        different > (w as usize * h as usize) / 100,
        "screenshot is nearly blank: {different} pixels differ from the corner"
    );
}

/// With `SIM_GALLERY_KEEP=DIR`, copies the files of `from` (one level of directories deep, as a
/// gallery is laid out) into DIR, for a person to open.
fn keep_for_a_look(from: &Path) {
    let Some(keep) = std::env::var_os("SIM_GALLERY_KEEP") else {
        return;
    };
    let keep = Path::new(&keep);
    for entry in std::fs::read_dir(from).expect("gallery dir").flatten() {
        let path = entry.path();
        let target = keep.join(entry.file_name());
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("keep dir");
            for file in std::fs::read_dir(&path).expect("chart dir").flatten() {
                std::fs::copy(file.path(), target.join(file.file_name())).expect("keep file");
            }
        } else {
            std::fs::create_dir_all(keep).expect("keep dir");
            std::fs::copy(&path, &target).expect("keep file");
        }
    }
}

/// Processes still naming one of this test process's Chromium profiles, and profiles left.
fn leftovers() -> (Vec<String>, Vec<String>) {
    let prefix = format!("sim-chromium-{}-", std::process::id());
    let mut procs = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&prefix) {
            procs.push(cmdline);
        }
    }
    let dirs = std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    (procs, dirs)
}

/// One test, so that its Chromium launches run one at a time (the machine may have two cores)
/// and the check for leftovers sees only finished launches.
#[test]
fn chromium_sees_what_a_person_would() {
    if browser::find_chromium().is_none() {
        assert!(
            std::env::var("SIM_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "SIM_REQUIRE_CHROMIUM=1 but chromium is not installed (apt-get install chromium)"
        );
        println!("skipped: chromium not installed (apt-get install chromium)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let timeout = Duration::from_secs(60);

    // Every real chart loads (the error page's chart is not on the page).
    let good = write_real_gallery(dir.path());
    let index = dir.path().join("index.html");
    std::fs::write(&index, index_html(&good)).expect("write index");
    let shot = dir.path().join("good.png");
    let started = Instant::now();
    let check = browser::check_gallery(&index, Some(&shot), timeout).expect("browser check");
    println!("good gallery: {check:?} in {:?}", started.elapsed());
    assert_eq!((check.total, check.loaded, check.failed), (4, 4, 0));
    assert_eq!(check.screenshot.as_deref(), Some(shot.as_path()));
    assert_plausible_screenshot(&shot);

    // A chart whose file is missing is counted as failed (and marked on the page).
    let mut bad = good.clone();
    bad.pages[0]
        .charts
        .push(chart("mm1", "missing", "Never written", "cdf"));
    let bad_index = dir.path().join("missing.html");
    std::fs::write(&bad_index, index_html(&bad)).expect("write index");
    let bad_shot = dir.path().join("missing.png");
    let started = Instant::now();
    let check = browser::check_gallery(&bad_index, Some(&bad_shot), timeout).expect("check");
    println!(
        "gallery with a missing chart: {check:?} in {:?}",
        started.elapsed()
    );
    assert_eq!((check.total, check.loaded, check.failed), (5, 4, 1));
    assert_plausible_screenshot(&bad_shot);

    // Without a screenshot, only the counts.
    let started = Instant::now();
    let check = browser::check_gallery(&index, None, timeout).expect("check");
    println!("without a screenshot: {:?}", started.elapsed());
    assert_eq!(
        (check.total, check.loaded, check.failed, check.screenshot),
        (4, 4, 0, None)
    );

    // A page that is not a gallery never reports.
    let plain = dir.path().join("plain.html");
    std::fs::write(
        &plain,
        "<!DOCTYPE html><title>x</title><p>not a gallery</p>",
    )
    .expect("write");
    match browser::check_gallery(&plain, None, timeout) {
        Err(BrowserError::Page(_)) => {}
        other => panic!("a plain page: {other:?}"),
    }

    // A page that hangs is killed at the timeout, renderer and all.
    let hang = dir.path().join("hang.html");
    std::fs::write(&hang, "<!DOCTYPE html><body><script>for (;;) {}</script>").expect("write");
    let started = Instant::now();
    match browser::check_gallery(&hang, None, Duration::from_millis(2500)) {
        Err(BrowserError::Timeout(_)) => {}
        other => panic!("a hanging page: {other:?}"),
    }
    let took = started.elapsed();
    println!("a hanging page, killed at 2.5 s: {took:?}");
    assert!(took < Duration::from_secs(10), "timeout took {took:?}");

    // A missing index is an error, not a launch.
    match browser::check_gallery(&dir.path().join("nope.html"), None, timeout) {
        Err(BrowserError::Page(_)) => {}
        other => panic!("a missing index: {other:?}"),
    }

    keep_for_a_look(dir.path());
    let (procs, dirs) = leftovers();
    assert!(procs.is_empty(), "processes left behind: {procs:#?}");
    assert!(dirs.is_empty(), "profiles left behind: {dirs:?}");
}

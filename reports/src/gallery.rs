//! The HTML gallery of `sim report`: one `index.html` with every scenario's text, summary tables,
//! charts and the commands that replay its runs.
//!
//! The page is meant to be opened straight from disk (`file://`) and mailed or archived as a
//! directory, so it has no server and nothing external: the CSS is an inline `<style>`, the only
//! script is a tiny inline `<script>`, fonts are the reader's system fonts, and every link is
//! relative (chart files live under each page's `id` directory). [`index_html`] is a pure
//! function of its input: no timestamps, no wall times, no hash-map order, so the same results
//! give byte-identical HTML and a regenerated report diffs cleanly.
//!
//! Every string that comes from a user (scenario names, sources, metric names, paths) is escaped
//! for HTML, and paths are also percent-encoded for URLs, so a name like `a <b> & "c"` or a file
//! called `p#1.svg` shows as written and links where it should.
//!
//! The inline script exists so that a machine can see what a person would: when every chart image
//! (`img[data-chart]`) has loaded or failed it sets `data-charts-total`, `data-charts-loaded`,
//! `data-charts-failed` and `data-charts-done="1"` on `<body>`, and marks each failed chart's figure
//! ("chart failed to load"). [`crate::browser::check_gallery`] reads those attributes back from
//! headless Chromium.

use std::fmt::{self, Write};

use serde::Serialize;

use crate::text::group_digits;

/// The whole report: a title, the command that regenerates it, and one page per scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Gallery {
    pub title: String,
    /// The command that regenerated the report, e.g. `sim report --out report`.
    pub command: String,
    pub pages: Vec<Page>,
}

/// One scenario: its source, its runs and its charts (or why it could not run).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Page {
    /// Unique within the gallery; the section's anchor (`#id`) and the directory of its chart
    /// files. A slug (letters, digits, `-`, `_`) keeps both simple; anything else is escaped.
    pub id: String,
    pub scenario: String,
    /// The scenario file as the user named it.
    pub file: String,
    /// The `.scn` text.
    pub source: String,
    pub runs: Vec<RunSummary>,
    pub charts: Vec<ChartFile>,
    /// Set when the scenario could not run: shown instead of runs and charts.
    pub error: Option<String>,
}

/// One run of a scenario (one seed of one variant), already formatted as text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RunSummary {
    /// The swept values, `""` when the scenario has no sweep.
    pub variant: String,
    pub seed: u64,
    pub ok: bool,
    pub events: u64,
    pub sim_time: String,
    pub trace_hash: String,
    /// The command that replays exactly this run.
    pub replay: String,
    /// (name, value as text), in the order to show.
    pub metrics: Vec<(String, String)>,
    pub checks: Vec<CheckRow>,
    pub violations: Vec<String>,
}

/// One check of a run: what was checked, whether it held, and the value seen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CheckRow {
    pub check: String,
    pub held: bool,
    pub actual: String,
}

/// A chart drawn to files beside `index.html`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ChartFile {
    pub title: String,
    /// The chart kind (`timeseries`, `cdf`, `gantt`, …), for styling and for readers of the JSON.
    pub kind: String,
    /// Paths relative to `index.html`, e.g. `mm1/response-cdf.svg`.
    pub svg: String,
    pub png: String,
    /// One sentence: what the chart shows.
    pub doc: String,
}

impl Page {
    /// Whether the scenario ran and every run held every check. A page with no runs has not
    /// shown anything to hold, so it is not `ok`.
    pub fn ok(&self) -> bool {
        self.status() == Status::Pass
    }

    fn status(&self) -> Status {
        if self.error.is_some() {
            Status::Error
        } else if self.runs.is_empty() {
            Status::Empty
        } else if self.runs.iter().all(|r| r.ok) {
            Status::Pass
        } else {
            Status::Fail
        }
    }
}

/// A page's outcome, as drawn by its badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    Error,
    Empty,
}

impl Status {
    /// (CSS class, text) of the badge.
    fn badge(self) -> (&'static str, &'static str) {
        match self {
            Status::Pass => ("pass", "pass"),
            Status::Fail => ("fail", "fail"),
            Status::Error => ("fail", "error"),
            Status::Empty => ("none", "no runs"),
        }
    }
}

/// The gallery's `index.html`. Byte-identical for equal input.
pub fn index_html(gallery: &Gallery) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail; fmt::Result only threads `?` through the helpers.
    let _ = write_index(&mut out, gallery);
    out
}

fn write_index(o: &mut String, g: &Gallery) -> fmt::Result {
    let title = if g.title.is_empty() {
        "sim report"
    } else {
        g.title.as_str()
    };
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    o.push_str("<meta name=\"generator\" content=\"sim report\">\n");
    writeln!(o, "<title>{}</title>", esc(title))?;
    o.push_str("<style>\n");
    o.push_str(STYLE);
    o.push_str("</style>\n</head>\n<body>\n");

    write_header(o, g, title)?;
    o.push_str("<main>\n");
    for page in &g.pages {
        write_page(o, page)?;
    }
    o.push_str("</main>\n");
    o.push_str("<footer><p>Made by <code>sim report</code>. Every run is deterministic: its replay command gives the same trace hash on any machine.</p></footer>\n");
    o.push_str("<script>\n");
    o.push_str(SCRIPT);
    o.push_str("</script>\n</body>\n</html>\n");
    Ok(())
}

fn write_header(o: &mut String, g: &Gallery, title: &str) -> fmt::Result {
    let count = |s: Status| g.pages.iter().filter(|p| p.status() == s).count();
    let (pass, fail, error) = (
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Error),
    );
    o.push_str("<header class=\"top\">\n");
    writeln!(o, "<h1>{}</h1>", esc(title))?;
    write!(
        o,
        "<p class=\"summary\">{} {}:",
        g.pages.len(),
        if g.pages.len() == 1 {
            "scenario"
        } else {
            "scenarios"
        },
    )?;
    // Only counts there are: a red "0 fail" reads as an alarm when nothing failed.
    for (n, class, word) in [
        (pass, "pass", "pass"),
        (fail, "fail", "fail"),
        (error, "fail", "error"),
    ] {
        if n > 0 {
            write!(o, " <span class=\"badge {class}\">{n} {word}</span>")?;
        }
    }
    o.push_str("</p>\n");
    if !g.command.is_empty() {
        writeln!(
            o,
            "<p class=\"regen\">Regenerate: <code class=\"cmd\">{}</code></p>",
            esc(&g.command)
        )?;
    }
    if !g.pages.is_empty() {
        o.push_str("<nav class=\"toc\" aria-label=\"Scenarios\">\n<ol>\n");
        for p in &g.pages {
            let (class, text) = p.status().badge();
            writeln!(
                o,
                "<li><a href=\"#{}\"><span class=\"badge {class}\">{text}</span> <span class=\"name\">{}</span></a> <span class=\"file\">{}</span></li>",
                url(&p.id),
                esc(display_name(p)),
                esc(&p.file),
            )?;
        }
        o.push_str("</ol>\n</nav>\n");
    }
    o.push_str("</header>\n");
    Ok(())
}

/// The name a page is shown under: its scenario, else its id (never an empty heading).
fn display_name(p: &Page) -> &str {
    if p.scenario.is_empty() {
        &p.id
    } else {
        &p.scenario
    }
}

fn write_page(o: &mut String, p: &Page) -> fmt::Result {
    let (class, text) = p.status().badge();
    writeln!(o, "<section class=\"scenario\" id=\"{}\">", esc(&p.id))?;
    writeln!(
        o,
        "<h2><span class=\"name\">{}</span> <span class=\"badge {class}\">{text}</span></h2>",
        esc(display_name(p))
    )?;
    if !p.file.is_empty() {
        writeln!(o, "<p class=\"file\"><code>{}</code></p>", esc(&p.file))?;
    }

    if let Some(error) = &p.error {
        o.push_str("<div class=\"error\">\n<h3>Could not run</h3>\n");
        writeln!(o, "<pre>{}</pre>\n</div>", esc(error))?;
    } else if p.runs.is_empty() {
        o.push_str("<p class=\"muted\">No runs.</p>\n");
    } else {
        write_replay(o, p)?;
        write_charts(o, p)?;
        write_runs(o, p)?;
        write_violations(o, p)?;
    }

    o.push_str("<details class=\"source\">\n");
    writeln!(
        o,
        "<summary>Scenario source{}</summary>",
        if p.file.is_empty() {
            String::new()
        } else {
            format!(" <code>{}</code>", esc(&p.file))
        }
    )?;
    writeln!(o, "<pre><code>{}</code></pre>\n</details>", esc(&p.source))?;
    o.push_str("<p class=\"up\"><a href=\"#\">back to top</a></p>\n</section>\n");
    Ok(())
}

/// "variant, seed N" (or "seed N" without a sweep): how a run is named in headings.
fn run_label(r: &RunSummary) -> String {
    if r.variant.is_empty() {
        format!("seed {}", r.seed)
    } else {
        format!("{}, seed {}", r.variant, r.seed)
    }
}

fn write_replay(o: &mut String, p: &Page) -> fmt::Result {
    o.push_str("<div class=\"replay\">\n<h3>Replay</h3>\n<ul>\n");
    for r in &p.runs {
        // `user-select: all` on .cmd: one click selects the whole command for copying.
        write!(o, "<li>")?;
        if p.runs.len() > 1 {
            write!(o, "<span class=\"label\">{}</span> ", esc(&run_label(r)))?;
        }
        writeln!(o, "<code class=\"cmd\">{}</code></li>", esc(&r.replay))?;
    }
    o.push_str("</ul>\n</div>\n");
    Ok(())
}

fn write_charts(o: &mut String, p: &Page) -> fmt::Result {
    if p.charts.is_empty() {
        return Ok(());
    }
    o.push_str("<h3>Charts</h3>\n<div class=\"charts\">\n");
    for c in &p.charts {
        // `loading="eager"`: a lazy image below the fold never loads in a headless check, and
        // the page's script would wait for it forever.
        writeln!(
            o,
            "<figure class=\"chart {}\"><img src=\"{}\" alt=\"{}\" loading=\"eager\" data-chart>",
            esc(&kind_class(&c.kind)),
            url(&c.svg),
            esc(&c.title),
        )?;
        write!(o, "<figcaption><strong>{}</strong>", esc(&c.title))?;
        if !c.doc.is_empty() {
            write!(o, " {}", esc(&c.doc))?;
        }
        write!(
            o,
            " <span class=\"links\"><a href=\"{}\">SVG</a>",
            url(&c.svg)
        )?;
        if !c.png.is_empty() {
            write!(o, " · <a href=\"{}\">PNG</a>", url(&c.png))?;
        }
        o.push_str("</span></figcaption></figure>\n");
    }
    o.push_str("</div>\n");
    Ok(())
}

/// A CSS class for a chart kind: `kind-` and the kind's ASCII letters, digits and dashes.
fn kind_class(kind: &str) -> String {
    let clean: String = kind
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("kind-{clean}")
}

fn write_runs(o: &mut String, p: &Page) -> fmt::Result {
    o.push_str("<h3>Runs</h3>\n<div class=\"table-wrap\">\n<table class=\"runs\">\n");
    o.push_str("<thead><tr><th>Variant</th><th>Seed</th><th>Result</th><th class=\"num\">Events</th><th>Sim time</th><th>Trace hash</th><th>Checks</th></tr></thead>\n<tbody>\n");
    for r in &p.runs {
        let (class, text) = if r.ok {
            ("pass", "ok")
        } else {
            ("fail", "FAIL")
        };
        write!(
            o,
            "<tr class=\"{class}\"><td>{}</td><td class=\"num\">{}</td><td><span class=\"badge {class}\">{text}</span></td><td class=\"num\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"checks\">",
            if r.variant.is_empty() {
                "—".to_string()
            } else {
                esc(&r.variant)
            },
            r.seed,
            group_digits(r.events),
            esc(&r.sim_time),
            esc(&r.trace_hash),
        )?;
        if r.checks.is_empty() {
            o.push_str("<span class=\"muted\">none</span>");
        } else {
            o.push_str("<ul class=\"checks\">");
            for c in &r.checks {
                let (class, text) = if c.held {
                    ("pass", "ok")
                } else {
                    ("fail", "FAIL")
                };
                write!(
                    o,
                    "<li class=\"{class}\"><span class=\"badge {class}\">{text}</span> <code>{}</code>",
                    esc(&c.check)
                )?;
                if !c.actual.is_empty() {
                    write!(o, " <span class=\"actual\">{}</span>", esc(&c.actual))?;
                }
                o.push_str("</li>");
            }
            o.push_str("</ul>");
        }
        o.push_str("</td></tr>\n");
    }
    o.push_str("</tbody>\n</table>\n</div>\n");

    for r in &p.runs {
        if r.metrics.is_empty() {
            continue;
        }
        writeln!(
            o,
            "<details class=\"metrics\">\n<summary>Metrics: {} ({} metrics)</summary>",
            esc(&run_label(r)),
            r.metrics.len()
        )?;
        o.push_str("<div class=\"table-wrap\">\n<table>\n<thead><tr><th>Metric</th><th>Value</th></tr></thead>\n<tbody>\n");
        for (name, value) in &r.metrics {
            writeln!(
                o,
                "<tr><td><code>{}</code></td><td class=\"mono\">{}</td></tr>",
                esc(name),
                esc(value)
            )?;
        }
        o.push_str("</tbody>\n</table>\n</div>\n</details>\n");
    }
    Ok(())
}

fn write_violations(o: &mut String, p: &Page) -> fmt::Result {
    if p.runs.iter().all(|r| r.violations.is_empty()) {
        return Ok(());
    }
    o.push_str("<div class=\"violations\">\n<h3>Violations</h3>\n");
    for r in p.runs.iter().filter(|r| !r.violations.is_empty()) {
        writeln!(o, "<h4>{}</h4>\n<ul>", esc(&run_label(r)))?;
        for v in &r.violations {
            writeln!(o, "<li>{}</li>", esc(v))?;
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</div>\n");
    Ok(())
}

/// `s` escaped for HTML text and double- or single-quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// A relative path as a URL inside an attribute: every byte but unreserved characters and `/` is
/// percent-encoded (so `#`, `?`, `%` and spaces stay part of the path, and a `:` cannot turn it
/// into a scheme like `javascript:`), which leaves nothing to HTML-escape.
fn url(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page's CSS: system fonts, one readable column, tables that scroll sideways on a phone
/// rather than squash, and charts one to a row at about the size they are drawn (two to a row
/// would halve their text), on narrow screens as wide as the screen.
const STYLE: &str = r#":root {
  --fg: #1c2330; --muted: #5d6778; --bg: #ffffff; --panel: #f5f7fa; --line: #d8dde6;
  --link: #0b5cad; --code: #eef1f5;
  --pass: #116329; --pass-bg: #dcf5e3; --fail: #a4161a; --fail-bg: #fde2e1;
  --none: #5d6778; --none-bg: #eceff3;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
header.top, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 1.25rem; }
header.top { padding-top: 1.5rem; padding-bottom: 1rem; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .5rem; }
h2 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 .25rem; }
h3 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
h4 { font-size: 1rem; margin: 1rem 0 .25rem; }
a { color: var(--link); }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .9em; }
code { background: var(--code); border-radius: 4px; padding: .05em .3em; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem;
  overflow-x: auto; line-height: 1.4; margin: .5rem 0; }
pre code { background: none; padding: 0; font-size: 1em; }
code.cmd { display: inline-block; max-width: 100%; user-select: all; -webkit-user-select: all;
  overflow-wrap: anywhere; padding: .2em .5em; border: 1px solid var(--line); }
.muted, .file { color: var(--muted); }
.summary { margin: .25rem 0; }
.regen { margin: .25rem 0 1rem; }
.badge { display: inline-block; padding: .05em .55em; border-radius: 999px; font-size: .78rem; font-weight: 700;
  letter-spacing: .02em; text-transform: uppercase; vertical-align: .12em; white-space: nowrap; }
.badge.pass { color: var(--pass); background: var(--pass-bg); }
.badge.fail { color: var(--fail); background: var(--fail-bg); }
.badge.none { color: var(--none); background: var(--none-bg); }
nav.toc ol { list-style: none; margin: 0; padding: 0; display: grid; gap: .2rem 1.5rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 340px), 1fr)); }
nav.toc li { padding: .2rem 0; overflow-wrap: anywhere; }
nav.toc a { text-decoration: none; font-weight: 600; }
nav.toc a:hover .name { text-decoration: underline; }
nav.toc .file { display: block; font-size: .82em; margin-left: .1rem; }
section.scenario { padding: 1.75rem 0 1rem; border-bottom: 1px solid var(--line); scroll-margin-top: .5rem; }
section.scenario > p.file { margin: 0 0 .5rem; }
.replay ul, .violations ul { margin: 0; padding-left: 1.25rem; }
.replay li { margin: .3rem 0; }
.replay .label { color: var(--muted); margin-right: .25rem; }
.charts { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 760px), 1fr)); }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; background: var(--panel);
  padding: .5rem; display: flex; flex-direction: column; }
figure.chart img { display: block; width: 100%; height: auto; background: #fff; border-radius: 4px; }
figure.chart figcaption { font-size: .9rem; padding: .5rem .25rem .1rem; }
figure.chart .links { white-space: nowrap; margin-left: .25rem; }
figure.chart.failed { border: 2px dashed var(--fail); background: var(--fail-bg); }
figure.chart.failed img { display: none; }
.chart-failed { margin: 0; padding: 2.5rem 1rem; text-align: center; color: var(--fail); font-weight: 700;
  overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; margin: .5rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .6rem; border-bottom: 1px solid var(--line); }
thead th { background: var(--panel); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.mono { white-space: nowrap; }
tr.fail td { background: #fff7f6; }
td.checks { min-width: 20rem; }
ul.checks { list-style: none; margin: 0; padding: 0; }
ul.checks li { margin: .1rem 0; }
ul.checks .actual { color: var(--muted); }
details { margin: .5rem 0; border: 1px solid var(--line); border-radius: 6px; padding: .4rem .75rem; }
details > summary { cursor: pointer; font-weight: 600; }
details[open] > summary { margin-bottom: .4rem; }
details table { font-size: .88rem; width: auto; min-width: min(100%, 36rem); }
.error { border-left: 4px solid var(--fail); background: var(--fail-bg); padding: .25rem 1rem; border-radius: 4px; margin: 1rem 0; }
.error h3 { margin-top: .5rem; color: var(--fail); }
.error pre { background: #fff; white-space: pre-wrap; }
.violations li { white-space: pre-wrap; overflow-wrap: anywhere; color: var(--fail); }
.up { font-size: .85rem; margin: .75rem 0 0; }
footer { color: var(--muted); font-size: .85rem; padding-top: 1rem; padding-bottom: 2rem; }
@media (max-width: 600px) {
  body { font-size: 15px; }
  header.top, main, footer { padding-left: .75rem; padding-right: .75rem; }
  h1 { font-size: 1.5rem; }
  h2 { font-size: 1.25rem; }
}
"#;

/// The page's only script. It waits for every chart image to load or fail, then reports on
/// `<body>` (for `browser::check_gallery` and any other headless reader) and marks failed figures
/// for a person. An image may have finished before this runs (it is at the end of `<body>`, and
/// cached images finish early), so `complete` is checked after listening, and a flag keeps an
/// image that both was complete and then fires its event from being counted twice.
const SCRIPT: &str = r#"(function () {
  "use strict";
  var body = document.body;
  var imgs = Array.prototype.slice.call(document.querySelectorAll("img[data-chart]"));
  var pending = imgs.length, loaded = 0, failed = 0;
  function report() {
    body.setAttribute("data-charts-total", String(imgs.length));
    body.setAttribute("data-charts-loaded", String(loaded));
    body.setAttribute("data-charts-failed", String(failed));
    body.setAttribute("data-charts-done", "1");
  }
  function settle(img) {
    if (img.simSettled) { return; }
    img.simSettled = true;
    if (img.naturalWidth > 0) {
      loaded += 1;
    } else {
      failed += 1;
      var fig = img.closest("figure");
      if (fig) {
        fig.classList.add("failed");
        var note = document.createElement("p");
        note.className = "chart-failed";
        note.textContent = "chart failed to load: " + img.getAttribute("src");
        fig.insertBefore(note, img.nextSibling);
      }
    }
    pending -= 1;
    if (pending === 0) { report(); }
  }
  imgs.forEach(function (img) {
    img.addEventListener("load", function () { settle(img); });
    img.addEventListener("error", function () { settle(img); });
    if (img.complete) { settle(img); }
  });
  if (imgs.length === 0) { report(); }
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn urls_keep_slashes_and_encode_the_rest() {
        assert_eq!(url("mm1/response-cdf.svg"), "mm1/response-cdf.svg");
        assert_eq!(url("a b/p#1?.svg"), "a%20b/p%231%3F.svg");
        assert_eq!(url("javascript:alert(1)"), "javascript%3Aalert%281%29");
        assert_eq!(url("é"), "%C3%A9");
    }
}

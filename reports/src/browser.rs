//! Checks a gallery page in headless Chromium, the way a person would see it.
//!
//! A gallery that writes fine can still show broken charts: a path relative to the wrong
//! directory, an SVG a browser refuses, a file never written. Parsing our own HTML would not
//! catch that, so [`check_gallery`] opens `index.html` from `file://` in a real browser and reads
//! back what the page's own script saw (the `data-charts-*` attributes it sets on `<body>` once
//! every chart image has loaded or failed; see [`crate::gallery`]), and can take a screenshot for
//! a human look.
//!
//! Chromium is driven only through its command line (`--dump-dom`, `--screenshot`), not the
//! DevTools protocol: one process per check, nothing to keep alive, no WebSocket client to
//! depend on. The price is that the page must report through the DOM, which it does.
//!
//! Every check is bounded and leaves nothing behind: a fresh profile in a temporary directory
//! (Chromium refuses to share one and would otherwise write to `~/.config`), a wall-clock timeout
//! after which the whole process group is killed, and a sweep for any helper process (the crash
//! handler starts its own session) still naming that directory, before the directory is removed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the page reported: chart images in total, loaded (with a non-zero natural width) and
/// failed, and where the screenshot went if one was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserCheck {
    pub total: u32,
    pub loaded: u32,
    pub failed: u32,
    pub screenshot: Option<PathBuf>,
}

/// Why a gallery could not be checked. A page that loads with broken charts is not an error: it
/// is a [`BrowserCheck`] with `failed > 0`.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error(
        "chromium is not installed: install Debian's `chromium` package (apt-get install chromium), or set SIM_CHROMIUM to a Chromium or Chrome binary"
    )]
    NotInstalled,
    #[error("could not run chromium: {0}")]
    Launch(String),
    #[error("chromium did not finish within {0:?}; it was killed")]
    Timeout(Duration),
    #[error("the page never reported its charts: {0}")]
    Page(String),
}

/// Virtual milliseconds Chromium lets the page run before it dumps the DOM. Virtual time only
/// advances while nothing is loading, so images always finish first; the budget is headroom for
/// the script's event handlers, and costs little wall time because idle virtual time is skipped.
pub const VIRTUAL_TIME_BUDGET_MS: u32 = 5_000;

/// The screenshot's window: wide enough for two charts side by side, tall enough for several
/// scenarios (the screenshot is of the window, not the whole page).
pub const SCREENSHOT_WINDOW: (u32, u32) = (1400, 3000);

/// Bytes of the dumped DOM kept; `<body>` comes first, so a large page is read on but not kept.
const DOM_KEEP_BYTES: usize = 8 << 20;
/// Bytes of Chromium's stderr kept (the end) to explain a failed launch.
const STDERR_KEEP_BYTES: usize = 16 << 10;
/// How long to wait, after Chromium's exit, for helpers to go and pipes to close.
const CLEANUP_WAIT: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(10);

/// Finds chromium: the env var `SIM_CHROMIUM` if set (as given, so that a wrong path fails
/// loudly at launch rather than quietly falling back to another browser), else
/// `/usr/bin/chromium`, else the first of `chromium`, `chromium-browser`, `google-chrome` on
/// `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SIM_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let debian = Path::new("/usr/bin/chromium");
    if is_executable(debian) {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Opens `index` (a file path) in headless Chromium with `--dump-dom` (and
/// `--virtual-time-budget` so scripts and images settle) in a fresh temporary profile, and reads
/// the `data-charts-*` attributes the page's script set on `<body>`. With `screenshot`, the same
/// launch also writes a PNG of a 1400x3000 window there (replacing any file of that name).
///
/// `timeout` bounds the whole check in wall-clock time; past it Chromium's process group is
/// killed and reaped and the check fails with [`BrowserError::Timeout`]; making sure every helper
/// is gone can add up to three seconds (half a second in practice). One check takes about two
/// seconds on a small machine, nearly all of it Chromium starting (the virtual-time budget costs
/// no wall time), with or without a screenshot.
pub fn check_gallery(
    index: &Path,
    screenshot: Option<&Path>,
    timeout: Duration,
) -> Result<BrowserCheck, BrowserError> {
    let deadline = Instant::now() + timeout;
    let chromium = find_chromium().ok_or(BrowserError::NotInstalled)?;
    let index = std::fs::canonicalize(index)
        .map_err(|e| BrowserError::Page(format!("{}: {e}", index.display())))?;
    if !index.is_file() {
        return Err(BrowserError::Page(format!(
            "{} is not a file",
            index.display()
        )));
    }
    let screenshot = match screenshot {
        Some(path) => Some(prepare_screenshot(path)?),
        None => None,
    };

    let profile = TempDir::new()
        .map_err(|e| BrowserError::Launch(format!("creating a temporary Chromium profile: {e}")))?;
    let mut cmd = Command::new(&chromium);
    cmd.args([
        // What a root user in a container needs, and what keeps Chromium off the network: it
        // hangs on connection attempts where the network is closed.
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        // Docker's default /dev/shm (64 MiB) is too small for a renderer; use /tmp.
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--mute-audio",
    ])
    .arg(format!("--user-data-dir={}", profile.path.display()))
    .arg(format!("--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"))
    .arg("--dump-dom");
    if let Some(path) = &screenshot {
        let (w, h) = SCREENSHOT_WINDOW;
        cmd.arg(format!("--screenshot={}", path.display()))
            .arg(format!("--window-size={w},{h}"));
    }
    cmd.arg(file_url(&index))
        // The crash handler's database and caches go to ~/.config and ~/.cache otherwise.
        .env("XDG_CONFIG_HOME", profile.path.join("config"))
        .env("XDG_CACHE_HOME", profile.path.join("cache"))
        .current_dir(&profile.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so that a timeout kills the renderers and zygotes too.
        cmd.process_group(0);
    }

    let mut child = cmd
        .spawn()
        .map_err(|e| BrowserError::Launch(format!("starting {}: {e}", chromium.display())))?;
    let stdout = Capture::start(child.stdout.take(), Keep::Head(DOM_KEEP_BYTES));
    let stderr = Capture::start(child.stderr.take(), Keep::Tail(STDERR_KEEP_BYTES));

    let status = wait_until(&mut child, deadline);
    // Whether it exited or not, nothing of this launch may outlive the check.
    kill_tree(&mut child, &profile.path);
    let Some(status) = status else {
        return Err(BrowserError::Timeout(timeout));
    };
    let dom = stdout.finish();
    let err = stderr.finish();
    if !status.success() {
        return Err(BrowserError::Launch(format!(
            "{} exited with {status}{}",
            chromium.display(),
            stderr_summary(&err)
        )));
    }
    let dom = String::from_utf8_lossy(&dom);
    let (total, loaded, failed) = parse_report(&dom)?;
    if let Some(path) = &screenshot {
        let written = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if written == 0 {
            return Err(BrowserError::Launch(format!(
                "chromium wrote no screenshot to {}{}",
                path.display(),
                stderr_summary(&err)
            )));
        }
    }
    Ok(BrowserCheck {
        total,
        loaded,
        failed,
        screenshot,
    })
}

/// An absolute path for the screenshot (Chromium resolves relative ones against its own working
/// directory, the temporary profile), with any old file removed so that a stale screenshot is
/// never mistaken for a new one.
fn prepare_screenshot(path: &Path) -> Result<PathBuf, BrowserError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| BrowserError::Launch(format!("current directory: {e}")))?
            .join(path)
    };
    match abs.parent() {
        Some(dir) if dir.is_dir() => {}
        _ => {
            return Err(BrowserError::Launch(format!(
                "the screenshot's directory does not exist: {}",
                abs.display()
            )));
        }
    }
    match std::fs::remove_file(&abs) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(BrowserError::Launch(format!(
                "replacing {}: {e}",
                abs.display()
            )));
        }
    }
    Ok(abs)
}

/// Polls `child` until it exits (its status) or `deadline` passes (`None`).
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            // The child can no longer be waited for; treat it as gone wrong, like a timeout.
            Err(_) => return None,
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::sleep(POLL.min(deadline - now));
    }
}

/// Kills the child's process group, the child, and any process still naming the profile
/// directory (Chromium's crash handler runs in a session of its own), and reaps the child.
fn kill_tree(child: &mut Child, profile: &Path) {
    // On a timeout the group is killed while its leader lives. After a normal exit the leader is
    // already reaped; its group id could then only name someone else's group if a new process
    // had become a group leader with that very pid in the microseconds between, which is ignored.
    sys::kill_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
    sys::kill_group(child.id());
    let needle = profile.as_os_str().as_encoded_bytes();
    let until = Instant::now() + CLEANUP_WAIT;
    loop {
        let left = sys::processes_mentioning(needle);
        if left.is_empty() || Instant::now() >= until {
            break;
        }
        for pid in left {
            sys::kill_pid(pid);
        }
        thread::sleep(POLL);
    }
}

/// The last lines of Chromium's stderr that say something (it logs many D-Bus complaints when
/// there is no session bus), for an error message.
fn stderr_summary(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("dbus") && !l.contains("unexpected operator"))
        .collect();
    let tail = &lines[lines.len().saturating_sub(8)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.join(" | "))
    }
}

/// Reads the gallery's report from the dumped DOM: the `data-charts-*` attributes of `<body>`.
fn parse_report(dom: &str) -> Result<(u32, u32, u32), BrowserError> {
    let attrs = body_attributes(dom).ok_or_else(|| {
        BrowserError::Page(format!(
            "no <body> in the DOM Chromium dumped ({} bytes)",
            dom.len()
        ))
    })?;
    let get = |name: &str| {
        attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if get("data-charts-done") != Some("1") {
        return Err(BrowserError::Page(
            "<body> has no data-charts-done=\"1\": not a sim gallery, its script did not run, or an image never settled".into(),
        ));
    }
    let number = |name: &str| -> Result<u32, BrowserError> {
        let value = get(name).ok_or_else(|| BrowserError::Page(format!("<body> has no {name}")))?;
        value
            .parse()
            .map_err(|_| BrowserError::Page(format!("{name}=\"{value}\" is not a count")))
    };
    let (total, loaded, failed) = (
        number("data-charts-total")?,
        number("data-charts-loaded")?,
        number("data-charts-failed")?,
    );
    if u64::from(loaded) + u64::from(failed) != u64::from(total) {
        return Err(BrowserError::Page(format!(
            "counts do not add up: {loaded} loaded + {failed} failed != {total} total"
        )));
    }
    Ok((total, loaded, failed))
}

/// The attributes of the first `<body>` tag (after `</head>` when there is one), as Chromium
/// serializes them: `name="value"` with `&amp;` and `&quot;` escaped, or a bare `name`.
fn body_attributes(dom: &str) -> Option<Vec<(String, String)>> {
    let lower = dom.to_ascii_lowercase();
    let from = lower.find("</head>").unwrap_or(0);
    let start = match find_tag(&lower[from..], "<body") {
        Some(at) => from + at,
        None => find_tag(&lower, "<body")?,
    };
    let bytes = dom.as_bytes();
    let mut i = start + "<body".len();
    let mut attrs = Vec::new();
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        if bytes[i] == b'>' || bytes[i] == b'/' {
            return Some(attrs);
        }
        let name_start = i;
        while i < bytes.len()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
            && !bytes[i].is_ascii_whitespace()
        {
            i += 1;
        }
        let name = dom.get(name_start..i)?.to_ascii_lowercase();
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            let quote = *bytes.get(i)?;
            if quote == b'"' || quote == b'\'' {
                let end = i + 1 + dom.get(i + 1..)?.find(char::from(quote))?;
                value = unescape(dom.get(i + 1..end)?);
                i = end + 1;
            } else {
                let value_start = i;
                while i < bytes.len() && bytes[i] != b'>' && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = unescape(dom.get(value_start..i)?);
            }
        }
        attrs.push((name, value));
    }
}

/// Where `tag` (like `<body`) starts in `s` as a whole tag name (not `<bodyx`).
fn find_tag(s: &str, tag: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = s.get(from..)?.find(tag) {
        let pos = from + at;
        match s.as_bytes().get(pos + tag.len()) {
            Some(b) if b.is_ascii_whitespace() || *b == b'>' || *b == b'/' => return Some(pos),
            None => return None,
            _ => from = pos + tag.len(),
        }
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// `file://` and the absolute path, percent-encoded but for unreserved characters and `/`.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// A directory removed (with everything in it) when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// `sim-chromium-<pid>-<n>.d` in the system's temporary directory, created fresh (never
    /// reused: a profile left by a crashed run is skipped, not shared). The `.d` ends the name so
    /// that no profile's path is a prefix of another's when looking for its processes.
    fn new() -> std::io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        let mut last_err = None;
        for _ in 0..1000 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("sim-chromium-{}-{n}.d", std::process::id()));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            match builder.create(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no free temporary directory name")))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Which part of a stream to keep.
#[derive(Clone, Copy)]
enum Keep {
    Head(usize),
    Tail(usize),
}

/// A thread draining one of the child's pipes (so Chromium never blocks on a full pipe), keeping
/// a bounded part of it.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    fn start<R: Read + Send + 'static>(pipe: Option<R>, keep: Keep) -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel();
        let shared = Arc::clone(&buf);
        thread::spawn(move || {
            if let Some(mut pipe) = pipe {
                let mut chunk = [0u8; 64 * 1024];
                loop {
                    let n = match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let Ok(mut kept) = shared.lock() else { break };
                    match keep {
                        Keep::Head(max) => {
                            let room = max.saturating_sub(kept.len());
                            kept.extend_from_slice(&chunk[..n.min(room)]);
                        }
                        Keep::Tail(max) => {
                            kept.extend_from_slice(&chunk[..n]);
                            let excess = kept.len().saturating_sub(max);
                            kept.drain(..excess);
                        }
                    }
                }
            }
            let _ = tx.send(());
        });
        Capture { buf, done }
    }

    /// What was kept, once the pipe closed or [`CLEANUP_WAIT`] passed (a helper that escaped the
    /// kill may hold the pipe open; its reader thread is then left to end with it).
    fn finish(self) -> Vec<u8> {
        let _ = self.done.recv_timeout(CLEANUP_WAIT);
        match self.buf.lock() {
            Ok(mut kept) => std::mem::take(&mut *kept),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

/// Signals, by raw `kill(2)`: std can only kill its own child, and Chromium's renderers and
/// helpers are grandchildren. Declared here rather than taking a dependency on `libc` for one
/// function std already links.
#[cfg(unix)]
mod sys {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }

    /// SIGKILL is 9 on every Unix.
    const SIGKILL: i32 = 9;

    /// SIGKILL to every process in group `pgid` (the child's pid: it was started as a group
    /// leader). Errors (no such group: all gone) are the expected case and ignored.
    pub fn kill_group(pgid: u32) {
        if let Ok(pgid) = i32::try_from(pgid) {
            // Never 0 (our own group), 1 (init) or negative (everything).
            if pgid > 1 {
                // SAFETY: kill(2) takes plain integers and touches no memory of ours.
                unsafe {
                    kill(-pgid, SIGKILL);
                }
            }
        }
    }

    pub fn kill_pid(pid: u32) {
        if let Ok(pid) = i32::try_from(pid) {
            if pid > 1 && pid != std::process::id() as i32 {
                // SAFETY: as above.
                unsafe {
                    kill(pid, SIGKILL);
                }
            }
        }
    }

    /// Live processes (not ours) whose command line contains `needle`. Zombies have an empty
    /// command line, so killed processes drop out of the list.
    #[cfg(target_os = "linux")]
    pub fn processes_mentioning(needle: &[u8]) -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let me = std::process::id();
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != me)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|cmdline| cmdline.windows(needle.len()).any(|w| w == needle))
                    .unwrap_or(false)
            })
            .collect()
    }

    #[cfg(not(target_os = "linux"))]
    pub fn processes_mentioning(_needle: &[u8]) -> Vec<u32> {
        Vec::new()
    }
}

#[cfg(not(unix))]
mod sys {
    pub fn kill_group(_pgid: u32) {}
    pub fn kill_pid(_pid: u32) {}
    pub fn processes_mentioning(_needle: &[u8]) -> Vec<u32> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_body_report() {
        let dom = "<!DOCTYPE html>\n<html><head><title>&lt;body x&gt;</title></head><body data-charts-total=\"3\" data-charts-loaded=\"2\" data-charts-failed=\"1\" data-charts-done=\"1\" class=\"a&amp;b\"><p>x</p></body></html>";
        assert_eq!(parse_report(dom).ok(), Some((3, 2, 1)));
        let attrs = body_attributes(dom).unwrap_or_default();
        assert!(attrs.contains(&("class".to_string(), "a&b".to_string())));
    }

    #[test]
    fn finds_body_without_a_head_and_skips_lookalikes() {
        let dom = "<bodyguard><body data-charts-done=\"1\" data-charts-total=\"0\" data-charts-loaded=\"0\" data-charts-failed=\"0\">";
        assert_eq!(parse_report(dom).ok(), Some((0, 0, 0)));
    }

    #[test]
    fn a_page_without_the_report_is_a_page_error() {
        for dom in [
            "<html><head></head><body><p>hi</p></body></html>",
            "<html><head></head><body data-charts-done=\"1\" data-charts-total=\"2\" data-charts-loaded=\"1\" data-charts-failed=\"0\"></body></html>",
            "<html><head></head><body data-charts-done=\"1\" data-charts-total=\"x\" data-charts-loaded=\"1\" data-charts-failed=\"0\"></body></html>",
            "",
            "<bodyguard>",
        ] {
            assert!(
                matches!(parse_report(dom), Err(BrowserError::Page(_))),
                "{dom}"
            );
        }
    }

    #[test]
    fn file_urls_are_percent_encoded() {
        assert_eq!(
            file_url(Path::new("/tmp/a b/#1/index.html")),
            "file:///tmp/a%20b/%231/index.html"
        );
    }

    #[test]
    fn stderr_summary_drops_dbus_noise() {
        let err = b"[1:2:ERROR:dbus/bus.cc:405] Failed to connect to the bus\nreal problem\n";
        assert_eq!(stderr_summary(err), ": real problem");
        assert_eq!(stderr_summary(b""), "");
    }
}

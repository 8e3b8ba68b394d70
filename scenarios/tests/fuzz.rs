//! Robustness: on any input the parser, the checker, sweeps, the formatter and the drawing of
//! diagnostics return (never
//! panic), return soon (never hang) and use memory linear in the input; what the formatter
//! writes parses again and formats to itself.
//!
//! Inputs: random bytes, random strings of `.scn` tokens, random mutations of every shipped
//! scenario and of an example of every construct, actions of random verbs (declared or not) with
//! too few, too many or the declared arguments, alone, in groups and before blocks, deep nesting,
//! and files at and past the size bound. Each test prints how many inputs it tried. `SIM_FUZZ_CASES` sets the number of random
//! inputs per generator (default 20,000); `SIM_FUZZ_SEED` changes the fixed seed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use models::schema::{ArgSpec, VerbSpec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use scenarios::parse::{MAX_NESTING, MAX_SOURCE_BYTES, parse};
use scenarios::render::{MemorySources, render};

// ---- memory accounting ---------------------------------------------------------------------

/// The system allocator, counting the bytes each thread holds and the most it held.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed on to `System` unchanged; the counting touches only
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the most bytes this thread held above what it held
/// before.
fn peak_bytes<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, (peak - base).max(0) as usize)
}

// ---- the pipeline --------------------------------------------------------------------------

/// Inputs tried by every test of this file so far.
static TOTAL: AtomicU64 = AtomicU64::new(0);

/// What one input did.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    parsed: bool,
    checked: bool,
    bytes_peak: usize,
    time: Duration,
}

/// Time allowed for one input: generous, since tests share two cores; a hang or a quadratic
/// blow-up on inputs this small is far slower.
fn time_bound(len: usize) -> Duration {
    Duration::from_secs(2) + Duration::from_micros(len as u64 * 10)
}

/// Memory allowed for one input: a fixed allowance, then a constant per input byte.
fn memory_bound(len: usize) -> usize {
    (64 << 20) + len * 2048
}

/// Draws diagnostics as `sim` does, with the source underlined.
fn show(diags: &[scenarios::Diagnostic], text: &str) {
    let mut sources = MemorySources(vec![("fuzz.scn", text)]);
    let shown = render(diags, &mut sources, false);
    assert!(shown.contains("error: "), "{shown}");
}

/// At most the first 4,000 bytes of `text`, for messages.
fn clip(text: &str) -> &str {
    let mut end = text.len().min(4_000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Parse; if that succeeds, check, expand sweeps (and check a few variants), format, and parse
/// and format the formatted text again; draw every diagnostic met. `Err` says what went wrong.
fn pipeline(text: &str) -> Result<Seen, String> {
    let started = Instant::now();
    let (result, bytes_peak) = peak_bytes(|| -> Result<Seen, String> {
        let mut seen = Seen::default();
        let s = match parse("fuzz.scn", text) {
            Ok(s) => s,
            Err(diags) => {
                show(&diags, text);
                return Ok(seen);
            }
        };
        seen.parsed = true;
        match scenarios::check::check(&s) {
            Ok(_) => seen.checked = true,
            Err(diags) => show(&diags, text),
        }
        match scenarios::sweep::variants(&s) {
            Ok(variants) => {
                for v in variants.iter().take(3) {
                    if let Err(diags) = scenarios::check::check(&v.scenario) {
                        show(&diags, text);
                    }
                }
            }
            Err(diags) => show(&diags, text),
        }
        let formatted = scenarios::fmt::format(&s, text);
        // The canonical form can be longer than the input (a final newline, `_` in numbers,
        // indentation): past the size bound it cannot be read back, by design.
        if formatted.len() > MAX_SOURCE_BYTES {
            return Ok(seen);
        }
        let again = parse("fuzz.scn", &formatted).map_err(|e| {
            format!(
                "the formatted text does not parse: {e:?}\n--- formatted:\n{}",
                clip(&formatted)
            )
        })?;
        let twice = scenarios::fmt::format(&again, &formatted);
        if twice != formatted {
            return Err(format!(
                "format is not idempotent\n--- once:\n{}\n--- twice:\n{}",
                clip(&formatted),
                clip(&twice)
            ));
        }
        Ok(seen)
    });
    let time = started.elapsed();
    let mut seen = result?;
    if time > time_bound(text.len()) {
        return Err(format!("{} bytes took {time:?}", text.len()));
    }
    if bytes_peak > memory_bound(text.len()) {
        return Err(format!(
            "{} bytes took {bytes_peak} bytes of memory",
            text.len()
        ));
    }
    seen.bytes_peak = bytes_peak;
    seen.time = time;
    Ok(seen)
}

/// Counts for one test, printed when it ends.
#[derive(Default)]
struct Tally {
    inputs: u64,
    parsed: u64,
    checked: u64,
    bytes_per_input_byte_max: f64,
    time_max: Duration,
}

impl Tally {
    fn add(&mut self, text: &str, seen: Seen) {
        self.inputs += 1;
        self.parsed += u64::from(seen.parsed);
        self.checked += u64::from(seen.checked);
        let ratio = seen.bytes_peak as f64 / text.len().max(1) as f64;
        if text.len() >= 256 {
            self.bytes_per_input_byte_max = self.bytes_per_input_byte_max.max(ratio);
        }
        self.time_max = self.time_max.max(seen.time);
    }

    fn report(&self, name: &str, started: Instant) {
        let total = TOTAL.fetch_add(self.inputs, Ordering::Relaxed) + self.inputs;
        eprintln!(
            "fuzz {name}: {} inputs, 0 panics ({} parsed, {} checked clean; slowest {:?}, \
             at most {:.0} bytes of memory per input byte) in {:.1?}; {total} inputs so far",
            self.inputs,
            self.parsed,
            self.checked,
            self.time_max,
            self.bytes_per_input_byte_max,
            started.elapsed(),
        );
    }
}

fn cases() -> u32 {
    std::env::var("SIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn runner(cases: u32, salt: u8) -> TestRunner {
    let seed: u64 = std::env::var("SIM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xf022_5eed);
    let mut bytes = [salt; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= (seed >> (8 * (i % 8))) as u8 ^ i as u8;
    }
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Runs `pipeline` on `cases` inputs drawn from `strategy`; proptest shrinks any failure (a
/// panic included) to a small input and prints it.
fn fuzz(name: &str, salt: u8, strategy: impl Strategy<Value = String>) {
    let started = Instant::now();
    let tally = std::sync::Mutex::new(Tally::default());
    let result = runner(cases(), salt).run(&strategy, |text| {
        let seen = pipeline(&text).map_err(TestCaseError::fail)?;
        tally.lock().expect("not poisoned").add(&text, seen);
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
    tally
        .into_inner()
        .expect("not poisoned")
        .report(name, started);
}

// ---- inputs --------------------------------------------------------------------------------

/// Pieces of `.scn` text: words, punctuation, literals good and bad, and whole statements.
const TOKENS: &[&str] = &[
    "scenario",
    "seed",
    "duration",
    "include",
    "sweep",
    "in",
    "expect",
    "at",
    "every",
    "from",
    "to",
    "during",
    "within",
    "after",
    "by",
    "partition",
    "heal",
    "crash",
    "restart",
    "pause",
    "resume",
    "clock",
    "skew",
    "drift",
    "disk",
    "load",
    "random",
    "station",
    "source",
    "server",
    "service",
    "servers",
    "rate",
    "customers",
    "queue_limit",
    "exp",
    "uniform",
    "normal",
    "lognormal",
    "zipf",
    "constant",
    "mean",
    "p99",
    "value",
    "count",
    "true",
    "false",
    "n1",
    "n5",
    "a",
    "s",
    "leader",
    "halves",
    "full",
    "server.wait",
    "system.exited",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "..",
    ".",
    ",",
    "%",
    "/",
    "\"",
    "\\",
    "\\\"",
    "#",
    "//",
    "<",
    "<=",
    ">",
    ">=",
    "-",
    "_",
    "0",
    "1",
    "42",
    "-7",
    "1_000",
    "3.5",
    "1.5e3",
    "1e999",
    "1.0e999",
    "99999999999999999999",
    "18446744073709551616",
    "ns",
    "us",
    "µs",
    "ms",
    "s",
    "m",
    "h",
    "B",
    "KiB",
    "MiB",
    "GiB",
    "TiB",
    "10ms",
    "1.5ns",
    ".5s",
    "0s",
    "200/s",
    "0/s",
    "1/ns",
    "4KiB",
    ".5KiB",
    "1.3B",
    "30%",
    "-1%",
    "n1..n5",
    "150ms..300ms",
    "1..0",
    "\"x\"",
    "\"#\"",
    "\"a\\\"b\"",
    " ",
    "  ",
    "\n",
    "\t",
    "\r\n",
    "\r",
    "# comment\n",
    "// comment\n",
    "\u{0}",
    "\u{feff}",
    "日本",
    "[[[[",
    "))))",
    "random(0)",
    "random(2)",
    "exp(1s)",
    "uniform(1ms, 5ms)",
    "exp(0s)",
    "uniform(5ms, 1ms)",
    "at 1s heal",
    "at 1s load a rate 2/s",
    "every 1s to 2s heal",
    "during 1s..2s heal",
    "sweep server.servers in [1, 2]",
    "expect leader within 1s after heal",
    "expect mean(server.wait) < 1s",
    "station server { service exp(1s) }",
    "source a { rate 1/s  to server }",
    "include \"x.scn\"",
    // The world: hosts (ranges as names), placement and references.
    "host",
    "on",
    "db1",
    "db1..db3",
    "kv",
    "host db1..db3 { cpus 2  policy cfs }",
    "host db1 { }",
    "raft kv { on db1..db3 }",
    "job j { on db1  cpu 1s }",
    "load c { rate 1/s  to kv }",
    "on [db1, db2]",
    "to kv",
];

fn bytes_input() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..1024)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(TOKENS).prop_map(str::to_string),
            1 => Just(" ".to_string()),
            1 => "[ -~]{1,3}",
        ],
        0..160,
    )
    .prop_map(|t| t.concat())
}

/// A `.scn` token soup that starts like a scenario, so the parser gets past the header.
fn scenario_soup() -> impl Strategy<Value = String> {
    token_soup().prop_map(|t| format!("scenario \"s\" {{\n{t}\n}}\n"))
}

/// One edit of a byte string; positions and lengths are scaled to its length when applied.
#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: u32, len: u8 },
    Insert { at: u32, bytes: Vec<u8> },
    Duplicate { from: u32, len: u8, to: u32 },
    Repeat { from: u32, len: u8, times: u8 },
    Swap { a: u32, b: u32, len: u8 },
    Splice { at: u32, token: usize },
    Replace { at: u32, token: usize },
    Truncate { at: u32 },
    Flip { at: u32, bit: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = 0..TOKENS.len();
    prop_oneof![
        (any::<u32>(), 1u8..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<u32>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<u32>(), 1u8..80, any::<u32>()).prop_map(|(from, len, to)| Mutation::Duplicate {
            from,
            len,
            to
        }),
        (any::<u32>(), 1u8..40, 2u8..60).prop_map(|(from, len, times)| Mutation::Repeat {
            from,
            len,
            times
        }),
        (any::<u32>(), any::<u32>(), 1u8..40).prop_map(|(a, b, len)| Mutation::Swap { a, b, len }),
        (any::<u32>(), token.clone()).prop_map(|(at, token)| Mutation::Splice { at, token }),
        (any::<u32>(), token).prop_map(|(at, token)| Mutation::Replace { at, token }),
        any::<u32>().prop_map(|at| Mutation::Truncate { at }),
        (any::<u32>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
    ]
}

/// `at` (any u32) as a position in `0..=len`.
fn scale(at: u32, len: usize) -> usize {
    ((at as u64 * (len as u64 + 1)) >> 32) as usize
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    let n = text.len();
    let range = |at: u32, len: u8| {
        let a = scale(at, n);
        a..(a + len as usize).min(n)
    };
    match m {
        Mutation::Delete { at, len } => {
            text.drain(range(*at, *len));
        }
        Mutation::Insert { at, bytes } => {
            let at = scale(*at, n);
            text.splice(at..at, bytes.iter().copied());
        }
        Mutation::Duplicate { from, len, to } => {
            let piece = text[range(*from, *len)].to_vec();
            let to = scale(*to, n);
            text.splice(to..to, piece);
        }
        Mutation::Repeat { from, len, times } => {
            let r = range(*from, *len);
            let piece = text[r.clone()].repeat(*times as usize);
            text.splice(r.end..r.end, piece);
        }
        Mutation::Swap { a, b, len } => {
            let (ra, rb) = (range(*a, *len), range(*b, *len));
            if ra.end <= rb.start || rb.end <= ra.start {
                let (first, second) = if ra.start < rb.start {
                    (ra, rb)
                } else {
                    (rb, ra)
                };
                let mut out = text[..first.start].to_vec();
                out.extend_from_slice(&text[second.clone()]);
                out.extend_from_slice(&text[first.end..second.start]);
                out.extend_from_slice(&text[first.clone()]);
                out.extend_from_slice(&text[second.end..]);
                *text = out;
            }
        }
        Mutation::Splice { at, token } => {
            let at = scale(*at, n);
            text.splice(at..at, TOKENS[*token].bytes());
        }
        Mutation::Replace { at, token } => {
            let t = TOKENS[*token].as_bytes();
            let r = range(*at, t.len().min(255) as u8);
            text.splice(r, t.iter().copied());
        }
        Mutation::Truncate { at } => text.truncate(scale(*at, n)),
        Mutation::Flip { at, bit } => {
            if n > 0 {
                let i = scale(*at, n - 1);
                text[i] ^= 1 << bit;
            }
        }
    }
}

/// The shipped scenarios and an example of every construct: the seeds of mutation.
fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .expect("the scenarios directory lists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .map(|p| std::fs::read_to_string(p).expect("a shipped scenario reads"))
        .collect();
    out.sort();
    assert!(out.len() >= 5, "the shipped scenarios are found");
    out.push(EVERYTHING.to_string());
    out.push(WORLD.to_string());
    for text in &out {
        assert!(
            parse("corpus.scn", text).is_ok(),
            "every seed of mutation parses:\n{text}"
        );
    }
    out
}

fn mutated(corpus: Vec<String>) -> impl Strategy<Value = String> {
    let n = corpus.len();
    (0..n, prop::collection::vec(mutation(), 1..6)).prop_map(move |(i, ms)| {
        let mut text = corpus[i].clone().into_bytes();
        for m in &ms {
            apply(&mut text, m);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// Every construct, with comments in every place (as in fmt_roundtrip.rs).
const EVERYTHING: &str = r#"# before the header
scenario "every \"thing\" \\ \t # not a comment" { # trailing the header
  expect p99(kv.latency) < 50ms
  seed 1_000_007   # trailing the seed
  duration 1.5h
  include "common.scn" // trailing an include
  network { latency uniform(1ms, 5ms)  loss 0.5%  buffer 64KiB }  # trailing a block
  raft cluster {
    # before the first property
    nodes n1..n5   # trailing a property
    election_timeout 150ms..300ms
    weights [a 1, b 2.5, c 30%, d .5%,]
    neg -12_345_678  f -1.5e3  big 9_223_372_036_854_775_807
    rates [2.5/ms, 1/m, 7/h, 3/us, 3/µs, 1/ns, 1_000/s, .5/s]
    sizes [1B, 2KiB, 1.5MiB, 3GiB, 1TiB, 0B]
    durations [7ns, 3us, .25s, 1_000ms, 2m, 1h, 0s]
    text "a # not a comment // nor this { [ ( \n"
    off false  nested f(g(1, [x, y 3]), h(), k (2))
    ranges [1..5, -2..-1, 0.1..0.5, 1KiB..2MiB, 5%..10%, 1/s..2/s, a..b]
    list [ # inside a list
      one,
    ]
  }
  source a { rate 0.5/s  to server }
  station server { servers 2  service exp(1s)  queue_limit 10 }
  at 5s partition majorities-ring
  at 6s partition [n1, n2] [n3, n4, n5]
  at 14s {
    # inside an action group
    crash leader   # trailing inside a group
    restart random(2)
  }
  every 2s..4s from 20s to 26s { clock skew random-node by normal(0ms, 50ms) }
  every 1s to 10s pause [n1, n2]
  during 5s .. 9s disk n3 slow(5ms)
  at 8s load a rate 0.9/s
  at 9s clock drift n1 by 0.01%
  sweep server.servers in [1, 2, 3]
  expect linearizable
  expect leader within 3s after heal
  expect mean(server.wait) <= 1s
  # after the last item
}
# after the closing brace
"#;

/// A composed scenario: hosts declared by a range, services placed on them, references.
const WORLD: &str = r#"scenario "world" {
  duration 10s
  network lan { latency uniform(100us, 300us)  bandwidth 1GiB }
  host db1..db5 { cpus 2  policy cfs  fsync uniform(1ms, 2ms) }
  host edge { }
  raft kv { on db1..db5  election_timeout 150ms..300ms  cpu_per_message 20us }
  job batch { on db1  cpu 30s  nice -5 }
  jobs many { on db2  count 10  cpu exp(1s) }
  load clients { clients 16  rate 2000/s  to kv  on edge }
  source a { rate 1/s  to s  on edge }
  station s { service exp(1s)  on [db3] }
  at 2s crash db1
}
"#;

// ---- actions -------------------------------------------------------------------------------

/// Every verb the models declare.
fn declared() -> Vec<&'static VerbSpec> {
    models::MODELS.iter().flat_map(|m| m.verbs).collect()
}

/// A value an action might take, good for some argument or for none.
fn arg_value() -> BoxedStrategy<String> {
    proptest::sample::select(
        &[
            "n1",
            "n2",
            "n9",
            "leader",
            "all",
            "random-node",
            "random(2)",
            "random(0)",
            "random(x)",
            "[n1, n2]",
            "[n1..n3]",
            "[n3]",
            "[]",
            "halves",
            "one-way",
            "triangle",
            "skew",
            "drift",
            "by",
            "to",
            "50ms",
            "0.01%",
            "-3",
            "normal(0ms, 50ms)",
            "exp(0s)",
            "slow(5ms)",
            "full",
            "errors(1%)",
            "corrupt(2)",
            "kv",
            "rate",
            "clients",
            "400/s",
            "1KiB",
            "\"s\"",
            "true",
            "1..2",
            "f(g(1), [a 1])",
            "crash",
            "heal",
            "load",
        ][..],
    )
    .prop_map(str::to_string)
    .boxed()
}

/// A value that suits `arg`, so an action built of them parses (and mostly checks).
fn good_value(arg: &ArgSpec) -> BoxedStrategy<String> {
    let pick = |words: &'static [&'static str]| {
        proptest::sample::select(words)
            .prop_map(str::to_string)
            .boxed()
    };
    match arg {
        ArgSpec::Target => pick(&["n1", "leader", "all", "random(2)", "[n1, n2]", "[n1..n3]"]),
        ArgSpec::Shape(shapes) => prop_oneof![
            proptest::sample::select(*shapes).prop_map(str::to_string),
            Just("[n1, n2] [n3]".to_string()),
            Just("[n1] [n2] [n3]".to_string()),
        ]
        .boxed(),
        ArgSpec::Word(words) => pick(words),
        ArgSpec::Keyword(word) => Just(word.to_string()).boxed(),
        ArgSpec::Value(_) | ArgSpec::ValueOf(_) | ArgSpec::PropertyValue => {
            pick(&["50ms", "0.01%", "normal(0ms, 50ms)", "400/s"])
        }
        ArgSpec::Form { forms, .. } => {
            let examples: Vec<&'static str> = forms.iter().map(|f| f.example).collect();
            proptest::sample::select(examples)
                .prop_map(str::to_string)
                .boxed()
        }
        ArgSpec::Component => Just("kv".to_string()).boxed(),
        ArgSpec::Property => Just("rate".to_string()).boxed(),
    }
}

/// An action of a declared verb with exactly its declared arguments.
fn good_action() -> BoxedStrategy<String> {
    proptest::sample::select(declared())
        .prop_flat_map(|verb| {
            let args: Vec<BoxedStrategy<String>> = verb.args.iter().map(good_value).collect();
            args.prop_map(move |args| {
                let mut s = verb.name.to_string();
                for a in args {
                    s.push(' ');
                    s.push_str(&a);
                }
                s
            })
        })
        .boxed()
}

/// A verb word: declared, nearly declared, or anything.
fn verb_word() -> BoxedStrategy<String> {
    let names: Vec<&'static str> = declared().iter().map(|v| v.name).collect();
    prop_oneof![
        3 => proptest::sample::select(names.clone()).prop_map(str::to_string),
        1 => proptest::sample::select(names).prop_map(|n| format!("{n}s")),
        1 => "[a-z][a-z-]{0,10}",
    ]
    .boxed()
}

/// An action of any verb with any number of values: too few, too many, or by chance right.
fn any_action() -> BoxedStrategy<String> {
    (verb_word(), prop::collection::vec(arg_value(), 0..6))
        .prop_map(|(verb, args)| {
            let mut s = verb;
            for a in args {
                s.push(' ');
                s.push_str(&a);
            }
            s
        })
        .boxed()
}

/// Timed statements of `action`s, alone, in groups, or followed by a block, in a scenario with
/// nodes and a load to act on.
fn with_actions(action: BoxedStrategy<String>) -> impl Strategy<Value = (String, usize)> {
    let timed = prop_oneof![
        (0u32..3, action.clone()).prop_map(|(how, a)| match how {
            0 => (format!("at 1s {a}"), 1),
            1 => (format!("during 1s..2s {a}"), 1),
            _ => (
                format!("every 1s to 3s {a}\nstation s{{ service exp(1s) }}"),
                1
            ),
        }),
        prop::collection::vec(action, 0..5).prop_map(|acts| {
            let n = acts.len();
            (format!("at 2s {{ {} }}", acts.join("  ")), n)
        }),
    ];
    prop::collection::vec(timed, 1..5).prop_map(|lines| {
        let count = lines.iter().map(|(_, n)| n).sum();
        let body: Vec<String> = lines.into_iter().map(|(l, _)| l).collect();
        let text = format!(
            "scenario \"a\" {{\n  duration 10s\n  raft c {{ nodes n1..n3 }}\n  load kv {{ rate 1/s }}\n  {}\n}}\n",
            body.join("\n  ")
        );
        (text, count)
    })
}

/// Actions of random verbs with random arguments never break the pipeline.
#[test]
fn random_actions() {
    fuzz(
        "random actions",
        4,
        with_actions(any_action()).prop_map(|(text, _)| text),
    );
}

/// Actions written as their verbs declare always parse, into as many actions as were written,
/// and the blocks after them stay blocks.
#[test]
fn declared_actions_parse_as_written() {
    let started = Instant::now();
    let tally = std::sync::Mutex::new(Tally::default());
    let result = runner(cases() / 4, 5).run(&with_actions(good_action()), |(text, count)| {
        let s = parse("a.scn", &text).map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
        let actions: usize = s.schedule.iter().map(|t| t.actions.len()).sum();
        prop_assert_eq!(actions, count, "{}", text);
        let stations = text.matches("station s").count();
        prop_assert_eq!(s.blocks.len(), 2 + stations, "{}", text);
        let seen = pipeline(&text).map_err(TestCaseError::fail)?;
        tally.lock().expect("not poisoned").add(&text, seen);
        Ok(())
    });
    if let Err(e) = result {
        panic!("declared actions: {e}");
    }
    tally
        .into_inner()
        .expect("not poisoned")
        .report("declared actions", started);
}

// ---- random inputs -------------------------------------------------------------------------

#[test]
fn random_bytes() {
    fuzz("random bytes", 1, bytes_input());
}

#[test]
fn random_tokens() {
    fuzz(
        "random tokens",
        2,
        prop_oneof![token_soup(), scenario_soup()],
    );
}

#[test]
fn mutated_scenarios() {
    fuzz("mutated scenarios", 3, mutated(corpus()));
}

// ---- bounds --------------------------------------------------------------------------------

/// Asserts `text` is refused within a second, with a message containing `why`.
fn refused_quickly(text: &str, why: &str, tally: &mut Tally) {
    let started = Instant::now();
    let errs = parse("deep.scn", text).expect_err("refused");
    let took = started.elapsed();
    assert!(
        errs[0].message.contains(why),
        "{why:?} not in {:?}",
        errs[0].message
    );
    assert!(took < Duration::from_secs(1), "refusing took {took:?}");
    tally.inputs += 1;
}

#[test]
fn deep_nesting_is_refused_quickly() {
    let started = Instant::now();
    let mut tally = Tally::default();
    let deep = 10_000;
    for (open, close) in [
        ("[", "]"),
        ("(", ")"),
        ("{", "}"),
        ("f(", ")"),
        ("[f(", ")]"),
    ] {
        let inner = format!("{}1{}", open.repeat(deep), close.repeat(deep));
        refused_quickly(&inner, "nested more than", &mut tally);
        let in_block = format!("scenario \"d\" {{ s t {{ k {inner} }} }}");
        refused_quickly(&in_block, "nested more than", &mut tally);
        let unclosed = format!("scenario \"d\" {{ s t {{ k {}", open.repeat(deep));
        refused_quickly(&unclosed, "nested more than", &mut tally);
    }
    // Exactly at the bound (the block's braces count), nesting parses and formats; one more is
    // refused.
    for (open, close) in [("[", "]"), ("f(", ")")] {
        let at_bound = |levels: usize| {
            format!(
                "scenario \"d\" {{ s t {{ k {}1{} }} }}",
                open.repeat(levels),
                close.repeat(levels)
            )
        };
        let ok = at_bound(MAX_NESTING - 2);
        pipeline(&ok).expect("nesting at the bound is handled");
        assert!(parse("d.scn", &ok).is_ok(), "{ok}");
        refused_quickly(&at_bound(MAX_NESTING - 1), "nested more than", &mut tally);
        tally.inputs += 1;
    }
    // Brackets in strings and comments do not count.
    let quoted = format!(
        "scenario \"d\" {{ s t {{ k \"{}\" }} }} # {}\n",
        "[(".repeat(deep),
        "{".repeat(deep)
    );
    let seen = pipeline(&quoted).expect("brackets in strings and comments are text");
    assert!(seen.parsed);
    tally.add(&quoted, seen);
    tally.report("deep nesting", started);
}

#[test]
fn the_size_bound_is_enforced() {
    let started = Instant::now();
    let mut tally = Tally::default();
    // One byte over: refused before the parser runs.
    let over = format!("#{}", "x".repeat(MAX_SOURCE_BYTES));
    assert_eq!(over.len(), MAX_SOURCE_BYTES + 1);
    refused_quickly(&over, "larger than", &mut tally);
    let over_blocks = "s t { k 1 }\n".repeat(MAX_SOURCE_BYTES / 12 + 1);
    assert!(over_blocks.len() > MAX_SOURCE_BYTES);
    refused_quickly(&over_blocks, "larger than", &mut tally);
    // At the bound: accepted.
    let at = format!("#{}", "x".repeat(MAX_SOURCE_BYTES - 1));
    let seen = pipeline(&at).expect("a file of exactly the bound is read");
    assert!(seen.parsed);
    tally.add(&at, seen);
    tally.report("size bound", started);
}

/// A scenario of `n` stations fed by one source, one per line.
fn many_blocks(n: usize) -> String {
    let mut s = String::from("scenario \"big\" {\n  source a { rate 1/s  to s0 }\n");
    for i in 0..n {
        s.push_str(&format!("  station s{i} {{ service exp(1s) }}  # {i}\n"));
    }
    s.push_str("  expect mean(s0.wait) < 1s\n}\n");
    s
}

/// A long legal file goes through parse, check, sweeps and format in bounded time and memory.
#[test]
fn a_long_legal_file_is_handled_in_bounded_time() {
    let started = Instant::now();
    let mut tally = Tally::default();
    let text = many_blocks(2_000);
    let seen = pipeline(&text).expect("a long file is handled");
    assert!(seen.parsed && seen.checked, "{seen:?}");
    assert!(seen.time < Duration::from_secs(10), "{seen:?}");
    tally.add(&text, seen);
    tally.report("long file", started);
}

/// `many_blocks(n)` without its comments, on one line.
fn one_line(n: usize) -> String {
    many_blocks(n)
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fastest of three timings of `f`, in seconds: the tests share two cores with each other,
/// and a neighbour only ever makes a run slower, so the least is the one that measures the code.
/// (The linearity checks below compare two sizes; one slow sample used to fail them.)
fn fastest(mut f: impl FnMut() -> f64) -> f64 {
    (0..3).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// Seconds to parse `text`, which must parse (the fastest of three).
fn parse_secs(text: &str) -> f64 {
    fastest(|| {
        let t = Instant::now();
        parse("big.scn", text).expect("a long file parses");
        t.elapsed().as_secs_f64()
    })
}

/// Parsing is linear: 20,000 blocks parse in bounded time, and twice the blocks take about
/// twice as long.
#[test]
fn parsing_is_linear_in_the_input() {
    let (small, big) = (
        parse_secs(&many_blocks(10_000)),
        parse_secs(&many_blocks(20_000)),
    );
    eprintln!("parse: 10,000 blocks {small:.3}s, 20,000 {big:.3}s");
    assert!(big < 5.0, "20,000 blocks took {big:.1}s");
    assert!(big < 3.0 * small + 0.05, "{small:.3}s then {big:.3}s");
}

/// The same on one line: a column is not counted from the start of its line for every node.
#[test]
fn parsing_a_long_line_is_linear() {
    let (small, big) = (parse_secs(&one_line(10_000)), parse_secs(&one_line(20_000)));
    eprintln!("parse: 10,000 blocks on one line {small:.3}s, 20,000 {big:.3}s");
    assert!(big < 5.0, "20,000 blocks on one line took {big:.1}s");
    assert!(big < 3.0 * small + 0.05, "{small:.3}s then {big:.3}s");
}

/// Checking is linear too: names, routes and sweeps are looked up, not searched.
#[test]
fn checking_is_linear_in_the_input() {
    let time = |n: usize| {
        let s = parse("big.scn", &many_blocks(n)).expect("parses");
        fastest(|| {
            let t = Instant::now();
            scenarios::check::check(&s).expect("checks");
            t.elapsed().as_secs_f64()
        })
    };
    let (small, big) = (time(10_000), time(20_000));
    eprintln!("check: 10,000 blocks {small:.3}s, 20,000 {big:.3}s");
    assert!(big < 3.0 * small + 0.05, "{small:.3}s then {big:.3}s");
}

/// Drawing diagnostics is linear: a file with thousands of problems is reported in bounded
/// time.
#[test]
fn drawing_many_diagnostics_is_linear() {
    let time = |n: usize| {
        let mut text = String::from("scenario \"s\" {\n");
        for i in 0..n {
            text.push_str(&format!("  stat s{i} {{ service exp(1s) }}\n"));
        }
        text.push_str("}\n");
        let diags = scenarios::check::check(&parse("s.scn", &text).expect("parses"))
            .expect_err("unknown kinds");
        assert_eq!(diags.len(), n);
        fastest(|| {
            let t = Instant::now();
            render(&diags, &mut MemorySources(vec![("s.scn", &text)]), false);
            t.elapsed().as_secs_f64()
        })
    };
    let (small, big) = (time(2_000), time(4_000));
    eprintln!("render: 2,000 diagnostics {small:.3}s, 4,000 {big:.3}s");
    assert!(big < 3.0 * small + 0.05, "{small:.3}s then {big:.3}s");
}

/// Memory grows linearly with the input: twice the blocks, about twice the memory.
#[test]
fn memory_is_linear_in_the_input() {
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut per_byte = Vec::new();
    for n in [500, 1_000, 2_000] {
        let text = many_blocks(n);
        let seen = pipeline(&text).expect("handled");
        per_byte.push(seen.bytes_peak as f64 / text.len() as f64);
        tally.add(&text, seen);
    }
    eprintln!("memory per input byte at 500, 1,000, 2,000 blocks: {per_byte:.0?}");
    let (lo, hi) = per_byte
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    assert!(
        hi < 1.5 * lo,
        "memory per byte grows with size: {per_byte:?}"
    );
    tally.report("linear memory", started);
}

/// Sweeps do not multiply memory: a scenario's variants are not all held at once.
#[test]
fn sweeps_do_not_multiply_memory() {
    let mut text = String::from(
        "scenario \"s\" {\n  source a { rate 1/s  to s }\n  station s { service exp(1s) ",
    );
    for i in 0..2_000 {
        text.push_str(&format!(" k{i} {i}"));
    }
    text.push_str(
        " }\n  sweep s.servers in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n  \
         sweep s.queue_limit in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n  \
         sweep a.customers in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n}\n",
    );
    let s = parse("s.scn", &text).expect("parses");
    let (_, bytes) = peak_bytes(|| scenarios::sweep::variants(&s).map(|v| v.len()));
    eprintln!(
        "variants of a {} byte file: {bytes} bytes ({:.0} per input byte)",
        text.len(),
        bytes as f64 / text.len() as f64
    );
    assert!(bytes < memory_bound(text.len()), "{bytes} bytes");
}

/// Regressions: inputs that once broke the pipeline.
#[test]
fn regressions() {
    let started = Instant::now();
    let mut tally = Tally::default();
    for text in [
        // `during` takes one action and no braces; a long one was wrapped in braces.
        "during 0ns..0ns clock skew n1 by n1([-1 10000.00001,1000000000000000000 1000000%,\
         97656.5MiB])",
        // A comment that names `scenario` before the header.
        "# the scenario below\n# more\nscenario \"x\" { station s { service exp(1s) } }",
        // A comment after `{` of the header, and after the closing brace.
        "scenario \"x\" { # header\n  station s { service exp(1s) }\n} # after\n# last\n",
        // Comments between the header's words.
        "scenario // a\n \"x\" # b\n { # c\n}",
        // A check whose span takes in the comments after it (its rule ends in an optional part).
        "expect leader within 3s # c\n\n# d\nexpect x\n",
        // No final newline.
        "station s { service exp(1s) }",
    ] {
        let seen = pipeline(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(seen.parsed, "{text:?}");
        tally.add(text, seen);
    }
    tally.report("regressions", started);
}

/// Malformed hosts, placements and references: each parses, is refused by the checker with a
/// diagnostic (never a panic), and formats back to itself.
#[test]
fn world_edge_cases_are_clean_errors() {
    let started = Instant::now();
    let mut tally = Tally::default();
    for text in [
        "host a..b { }",
        "host db1..db99999 { }",
        "host db3..db1 { }",
        "host db1..web3 { }",
        "host db1..db2 { }\nhost db2..db3 { }",
        "station s1..s3 { service exp(1s) }",
        "raft kv { on db1..db3 }",
        "host db1 { }\nraft kv { on [db1 50%] }",
        "host db1 { }\nraft kv { on 5 }",
        "host db1 { }\nraft kv { on [] }",
        "host db1 { }\nraft kv { on [db1..db3] }",
        "host db1 { }\nraft kv { nodes n1  on db1 }",
        "host db1..db2 { }\njob j { on [db1, db1]  cpu 1s }",
        "host db1..db2 { }\nstation s { on db1..db2  service exp(1s) }",
        "raft kv { nodes n1..n3 }\nload c { rate 1/s  to [kv] }",
        "raft kv { nodes n1..n3 }\nload c { rate 1/s  to kv..kw }",
        "load c { rate 1/s }",
        "host kv { }\nraft kv { on kv }",
        "host db1 { }\nsource a { rate 1/s  to db1 }",
    ] {
        let s = parse("fuzz.scn", text).unwrap_or_else(|e| panic!("{text:?} parses: {e:?}"));
        let diags = scenarios::check::check(&s).expect_err(text);
        show(&diags, text);
        let seen = pipeline(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        tally.add(text, seen);
    }
    tally.report("world edge cases", started);
}

//! Request/response services and their clients: the retry storm persists only because of the
//! retries and a budget or a breaker ends it, the tail at scale follows 1 - (1 - p)^n, a pool's
//! balancers against the closed forms of M/M/c and GI/M/1, health checks, and bad wiring as
//! located errors.

#[path = "common/sim_hash.rs"]
mod sim_hash;
use sim_hash::hash_in_new_process;

#[path = "common/runs.rs"]
mod runs;
use runs::{run_text, scenario_path, stat};

fn storm(client_extra: &str) -> String {
    format!(
        r#"scenario "storm" {{
  seed 1
  duration 60s
  service api {{ instances 2  concurrency 4  service exp(20ms) }}
  client users {{ rate 280/s  to api  timeout 100ms  backoff 10ms  {client_extra} }}
  during 10s..15s load users rate 600/s
}}"#
    )
}

/// The one run of `text` (a scenario without sweeps). Each call writes its own file, as the
/// tests run in parallel threads of one process.
fn only(text: &str) -> scenarios::RunReport {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut runs = run_text(&format!("cloud-{n}"), text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(runs.len(), 1);
    runs.remove(0)
}

/// The spike is the same in every run; what differs is what the clients do about failures.
/// Without retries the service recovers on its own once the spike is over; with three retries
/// it does not (the metastable state); a retry budget or a circuit breaker brings it back.
#[test]
fn a_retry_storm_outlives_its_trigger_and_a_budget_or_breaker_ends_it() {
    let no_retries = only(&storm(""));
    let retries = only(&storm("retries 3"));
    let budget = only(&storm("retries 3  retry_budget 10%"));
    let breaker = only(&storm("retries 3  breaker 50%"));
    let end_queue = |r| stat(r, "api.queue_len", "last");
    let end_goodput = |r| stat(r, "users.goodput", "last");
    assert!(end_queue(&no_retries) < 50.0, "{}", end_queue(&no_retries));
    assert!(end_goodput(&no_retries) > 200.0);
    assert!(end_queue(&retries) > 10_000.0, "{}", end_queue(&retries));
    assert!(end_goodput(&retries) < 50.0);
    // Every logical request becomes four attempts: the load is 4 x 280 = 1,120 a second.
    let attempts = stat(&retries, "users.attempts", "value");
    let requests = stat(&retries, "users.requests", "value");
    assert!(attempts / requests > 3.3, "{attempts} / {requests}");
    for (name, r) in [("budget", &budget), ("breaker", &breaker)] {
        assert!(end_queue(r) < 50.0, "{name}: {}", end_queue(r));
        assert!(end_goodput(r) > 200.0, "{name}: {}", end_goodput(r));
    }
    assert!(stat(&budget, "users.budget_denied", "value") > 1_000.0);
    assert!(stat(&breaker, "users.short_circuited", "value") > 100.0);
    // Work whose client had given up: nearly all of it in the storm.
    assert!(stat(&retries, "api.wasted", "value") > 0.8 * stat(&retries, "api.served", "value"));
}

/// A request fanning out to n leaves, each slow with probability p, is fast only when all are:
/// the share meeting the objective is (1 - p)^n.
#[test]
fn the_tail_at_scale_follows_the_fanout_formula() {
    for fanout in [10u32, 50, 100] {
        let text = format!(
            r#"scenario "tail" {{
  seed 3
  duration 100s
  service root {{ instances 4  concurrency 64  service 100us  calls leaf  fanout {fanout} }}
  service leaf {{ instances 100  concurrency 64  service exp(1ms)  slow 1%  slow_service 1s }}
  client users {{ rate 30/s  to root  slo 500ms }}
}}"#
        );
        let r = only(&text);
        let met = stat(&r, "users.slo_attainment", "last");
        let expected = 0.99f64.powi(fanout as i32);
        // About 3,000 requests: a standard error of at most 0.009.
        assert!(
            (met - expected).abs() < 0.035,
            "fanout {fanout}: {met} against {expected}"
        );
    }
}

/// Hedging after 10ms: a call is slow only if both copies are, so a request of 100 calls is
/// slow about 1 - (1 - 0.0001)^100 = 1% of the time, for about 1% more leaf calls.
#[test]
fn hedged_requests_cut_the_tail_for_few_extra_calls() {
    let runs = run_text(
        "cloud-hedged",
        &std::fs::read_to_string(scenario_path("hedged-requests.scn")).unwrap(),
    )
    .unwrap();
    let tail = only(&std::fs::read_to_string(scenario_path("tail-at-scale.scn")).unwrap());
    assert!(stat(&tail, "users.latency", "p99") >= 0.99e9);
    let r = &runs[1]; // hedge 10ms
    assert!(r.variant.contains("10ms"), "{}", r.variant);
    assert!(stat(r, "users.latency", "p99") < 50e6);
    let hedges = stat(r, "root.hedges", "value");
    let calls = stat(r, "root.requests", "value");
    assert!(
        hedges / calls > 0.005 && hedges / calls < 0.02,
        "{hedges} / {calls}"
    );
}

fn pool(balance: &str) -> f64 {
    let text = format!(
        r#"scenario "pool" {{
  seed 5
  duration 100000s
  service pool {{ instances 4  service exp(1s)  balance {balance} }}
  client users {{ rate 3.6/s  to pool }}
}}"#
    );
    stat(&only(&text), "pool.sojourn", "mean") / 1e9
}

/// Four single-worker instances at 90% load, Poisson arrivals, exponential service. Round
/// robin makes each instance's arrivals Erlang-4 at 0.9 a second: a GI/M/1 queue, whose mean
/// sojourn is 1 / (mu (1 - sigma)) with sigma the root of sigma = A*(mu (1 - sigma)),
/// A*(s) = (4 lambda / (4 lambda + s))^4. No dispatching to separate queues beats M/M/4's one
/// shared queue (Erlang C); least outstanding (here join the shortest queue, as the one caller
/// sees every request) comes within a few percent of it at high load, and the power of two
/// choices lies between.
#[test]
fn balancers_against_m_m_c_and_gi_m_1() {
    let (lambda, mu, k) = (3.6, 1.0, 4u32);
    let mmc = models::queueing::theory::mmk_mean_wait(lambda, mu, k).unwrap() + 1.0 / mu;
    let mut sigma: f64 = 0.5;
    for _ in 0..10_000 {
        sigma = (lambda / (lambda + mu * (1.0 - sigma))).powi(4);
    }
    let gim1 = 1.0 / (mu * (1.0 - sigma));
    let (lor, p2c, rr) = (pool("least-outstanding"), pool("p2c"), pool("round-robin"));
    assert!(
        (rr - gim1).abs() / gim1 < 0.05,
        "round robin {rr} against {gim1}"
    );
    assert!(
        lor >= mmc * 0.97 && lor < mmc * 1.12,
        "least outstanding {lor} against {mmc}"
    );
    assert!(lor < p2c && p2c < rr, "{lor} < {p2c} < {rr}");
}

fn health(check: &str) -> scenarios::RunReport {
    only(&format!(
        r#"scenario "health" {{
  seed 2
  duration 30s
  network lan {{ latency uniform(100us, 300us) }}
  host web1..web4 {{ }}
  host front {{ }}
  service api {{ on web1..web4  concurrency 4  service exp(10ms)  {check} }}
  client users {{ on front  rate 200/s  to api  timeout 200ms  retries 2  backoff 10ms }}
  at 10500ms crash web1
  at 20500ms restart web1
}}"#
    ))
}

/// A crashed instance keeps getting a quarter of the requests until a health check takes it
/// out of the balancers' pool; after its restart a check puts it back.
#[test]
fn health_checks_take_a_crashed_instance_out_of_the_pool() {
    let without = health("");
    let with = health("health_check 1s");
    let timeouts = |r| stat(r, "users.timeouts", "value");
    // 10s of a quarter of 200/s (and of their retries) without checks; half a second with
    // (the crash falls halfway between two checks).
    assert!(timeouts(&without) > 450.0, "{}", timeouts(&without));
    assert!(timeouts(&with) < 60.0, "{}", timeouts(&with));
    assert!(timeouts(&with) > 5.0, "the crash is seen before the check");
    for r in [&without, &with] {
        // Three instances up for 10s of the 30s.
        let mean = stat(r, "api.instances", "mean");
        assert!((mean - (4.0 - 10.0 / 30.0)).abs() < 0.01, "{mean}");
        assert_eq!(stat(r, "api.instances", "last"), 4.0);
        // Retries go elsewhere: hardly a request fails.
        let failed = stat(r, "users.failed", "value");
        assert!(
            failed < 0.01 * stat(r, "users.requests", "value"),
            "{failed}"
        );
    }
}

#[test]
fn cloud_runs_repeat_bit_for_bit_across_processes() {
    for file in ["retry-storm.scn", "tail-at-scale.scn"] {
        let path = scenario_path(file);
        assert_eq!(
            hash_in_new_process(&path, 7, None),
            hash_in_new_process(&path, 7, None),
            "{file}"
        );
    }
    let path = scenario_path("retry-storm.scn");
    assert_ne!(
        hash_in_new_process(&path, 1, None),
        hash_in_new_process(&path, 2, None)
    );
}

#[test]
fn bad_wiring_is_a_located_error() {
    let cases = [
        (
            r#"scenario "x" { duration 1s
  service a { service 1ms  calls b }
  service b { service 1ms  calls a }
  client c { rate 1/s  to a } }"#,
            "calls itself through others",
        ),
        (
            r#"scenario "x" { duration 1s
  service a { service 1ms  fanout 3 }
  client c { rate 1/s  to a } }"#,
            "has a fanout but calls no service",
        ),
        (
            r#"scenario "x" { duration 1s
  host h1 { }
  service a { on h1  instances 3  service 1ms }
  client c { rate 1/s  to a } }"#,
            "also says how many instances",
        ),
        (
            r#"scenario "x" {
  service a { service 1ms }
  client c { rate 1/s  to a } }"#,
            "never stops",
        ),
        (
            r#"scenario "x" { duration 1s
  function f { service 1ms  reserved 600 }
  function g { service 1ms  reserved 600 }
  client c { rate 1/s  to f } }"#,
            "would exceed the account limit",
        ),
    ];
    for (text, expected) in cases {
        let e = match run_text("bad", text) {
            Ok(_) => panic!("ran: {text}"),
            Err(e) => e,
        };
        assert!(e.contains(expected), "{e}");
        assert!(e.contains("bad.scn:"), "located: {e}");
    }
}

/// A zone outage that the other zones absorb, and the same outage at a load they cannot: the
/// overload, fed by the retries, outlives the outage.
#[test]
fn a_zone_outage_is_absorbed_with_headroom_and_is_metastable_without() {
    let text = std::fs::read_to_string(scenario_path("zone-outage.scn")).unwrap();
    let fits = only(&text);
    assert!(fits.ok(), "{:?}", fits.violations());
    assert!(
        stat(&fits, "users.timeouts", "value") > 0.0,
        "the outage is felt"
    );
    let over = only(&text.replace("rate 700/s", "rate 900/s"));
    assert!(stat(&over, "api.queue_len", "last") > 10_000.0);
    assert!(stat(&over, "users.failed", "value") > 10_000.0);
    assert_eq!(stat(&over, "api.instances", "last"), 6.0, "zone b is back");
}

/// autoscaling-lag.scn without its sweep, with `change` applied to its text.
fn lag_with(change: impl Fn(String) -> String) -> scenarios::RunReport {
    let text = std::fs::read_to_string(scenario_path("autoscaling-lag.scn"))
        .unwrap()
        .replace("\n  sweep api.boot in [10s, 90s]\n", "");
    let changed = change(text.clone());
    assert_ne!(changed, text, "the change must apply");
    only(&changed)
}

/// autoscaling-lag.scn with a boot time of `boot` (90s is the file's own).
fn lag(boot: &str) -> scenarios::RunReport {
    if boot == "90s" {
        let text = std::fs::read_to_string(scenario_path("autoscaling-lag.scn")).unwrap();
        return only(&text.replace("\n  sweep api.boot in [10s, 90s]\n", ""));
    }
    lag_with(|t| t.replace("boot 90s", &format!("boot {boot}")))
}

/// The group's capacity comes late: a faster boot loses fewer calls, tracking the queue (which
/// does not saturate as CPU does) grows the group further, and a group left alone long enough
/// scales back in. Cost is the instance-hours at their price.
#[test]
fn autoscaling_lags_by_evaluation_and_boot_and_costs_its_instance_hours() {
    let vm = lag("90s");
    let container = lag("10s");
    let failed = |r| stat(r, "users.failed", "value");
    assert!(
        failed(&container) < 0.8 * failed(&vm),
        "{} {}",
        failed(&container),
        failed(&vm)
    );
    for r in [&vm, &container] {
        let (hours, cost) = (
            stat(r, "api.instance_hours", "last"),
            stat(r, "api.cost", "last"),
        );
        assert!((cost - 0.10 * hours).abs() < 1e-9, "{cost} {hours}");
        // At least two instances for 20 minutes; more once it scaled.
        assert!(hours > 2.0 * 20.0 / 60.0 + 0.1, "{hours}");
    }
    let by_queue = lag_with(|t| {
        t.replace(
            "autoscale cpu\n    target 0.6",
            "autoscale queue\n    target 20",
        )
    });
    assert!(stat(&by_queue, "api.instances", "max") > stat(&vm, "api.instances", "max"));
    // Without a group: two instances for the whole run, exactly 2 x 20 minutes.
    let fixed = lag_with(|t| {
        let from = t.find("    autoscale cpu").unwrap();
        let to = t.find("    instance_price").unwrap();
        format!("{}    instances 2\n{}", &t[..from], &t[to..])
    });
    assert!((stat(&fixed, "api.instance_hours", "last") - 2.0 / 3.0).abs() < 1e-9);
    assert!(failed(&fixed) > failed(&vm));
    // Fifteen quiet minutes after the spike, the group scales in.
    let long = lag_with(|t| t.replace("duration 20m", "duration 45m"));
    assert!(stat(&long, "api.instances", "last") < stat(&long, "api.instances", "max"));
}

/// A durable queue levels a spike the workers could not take directly, and loses nothing
/// through a worker's crash (at least once: the crashed worker's messages come back).
#[test]
fn a_queue_levels_a_spike_and_delivers_at_least_once() {
    let text = std::fs::read_to_string(scenario_path("queue-levelling.scn")).unwrap();
    let queued = only(&text);
    assert!(queued.ok(), "{:?}", queued.violations());
    let v = |r, m| stat(r, m, "value");
    assert_eq!(
        v(&queued, "jobs.deleted") + v(&queued, "jobs.depth"),
        v(&queued, "jobs.sent"),
        "every message is processed or still queued"
    );
    assert!(v(&queued, "jobs.redelivered") >= 1.0);
    let direct = text.replace("to jobs", "to workers");
    assert_ne!(direct, text);
    let direct = only(&direct);
    assert!(
        v(&direct, "producers.failed") > 10_000.0,
        "{}",
        v(&direct, "producers.failed")
    );
}

/// A message whose processing fails with probability p is dead-lettered after k failed
/// deliveries: a share p^k of the messages.
#[test]
fn dead_letters_follow_the_failure_probability_to_the_max_receives() {
    let r = only(
        r#"scenario "dlq" {
  seed 4
  duration 160s
  queue jobs { visibility 5s  max_receives 3 }
  service workers { instances 4  concurrency 8  service exp(5ms)  errors 20%  consumes jobs }
  client producers { rate 500/s  requests 50000  to jobs }
}"#,
    );
    let v = |m| stat(&r, m, "value");
    let (sent, dead, deleted) = (v("jobs.sent"), v("jobs.dead_lettered"), v("jobs.deleted"));
    assert_eq!(sent, 50_000.0);
    let expected = sent * 0.2f64.powi(3);
    assert!(
        (dead - expected).abs() < 0.15 * expected,
        "{dead} against {expected}"
    );
    assert_eq!(dead + deleted, sent, "nothing lost, nothing doubled");
    assert!(v("jobs.redelivered") > 0.2 * sent * 0.9);
}

/// A function called as a Poisson process at rate l, with a keep-alive K and handlers much
/// shorter than the gaps, is cold exactly when the gap exceeds K: a share e^(-lK). Beyond its
/// reserved concurrency c, offered a Erlangs, it throttles as Erlang's loss system: B(c, a).
#[test]
fn functions_start_cold_as_e_to_the_minus_lk_and_throttle_as_erlang_b() {
    let cold = only(
        r#"scenario "cold" {
  seed 6
  duration 20h
  function f { service 10ms  cold_start 500ms  keep_alive 1m }
  client users { rate 0.02/s  to f }
}"#,
    );
    let share = stat(&cold, "f.cold_starts", "value") / stat(&cold, "f.served", "value");
    let expected = (-0.02f64 * 60.0).exp();
    // About 1,440 calls: a standard error of 0.012.
    assert!(
        (share - expected).abs() < 0.04,
        "{share} against {expected}"
    );
    let busy = only(
        r#"scenario "throttle" {
  seed 7
  duration 200s
  function f { service exp(50ms)  cold_start 1ms  keep_alive 10m  reserved 20 }
  client users { rate 500/s  to f }
}"#,
    );
    let (a, c) = (500.0 * 0.05, 20);
    let mut erlang_b = 1.0;
    for k in 1..=c {
        erlang_b = a * erlang_b / (k as f64 + a * erlang_b);
    }
    let blocked = stat(&busy, "f.rejected", "value") / stat(&busy, "users.requests", "value");
    assert!(
        (blocked - erlang_b).abs() < 0.02,
        "{blocked} against {erlang_b}"
    );
}

/// A topic stores every message in each subscribed queue before the publish is answered; each
/// queue drains at its own consumers' pace.
#[test]
fn a_topic_fans_every_message_out_to_each_queue() {
    let r = only(&std::fs::read_to_string(scenario_path("pubsub-fanout.scn")).unwrap());
    assert!(r.ok(), "{:?}", r.violations());
    let v = |m| stat(&r, m, "value");
    assert_eq!(v("orders.delivered"), 2.0 * v("orders.published"));
    assert_eq!(v("billing.sent"), v("orders.published"));
    assert_eq!(v("shipping.sent"), v("orders.published"));
    assert_eq!(v("shop.ok"), v("orders.published"));
    assert!(stat(&r, "shipping.age", "p99") > 100.0 * stat(&r, "billing.age", "p99"));
}

/// The same load on the same table: spread evenly over the keys it is well within every
/// partition's rate; with a hot key, one partition throttles while the table has capacity to
/// spare, and splitting for heat cannot split the key itself.
#[test]
fn a_hot_key_throttles_its_partition_while_the_table_idles() {
    let text = std::fs::read_to_string(scenario_path("hot-partition.scn")).unwrap();
    let hot = only(&text);
    assert!(hot.ok(), "{:?}", hot.violations());
    let even_text = text.replace("zipf(100_000, 1.3)", "uniform(1, 100_000)");
    assert_ne!(even_text, text);
    let even = only(&even_text);
    assert_eq!(stat(&even, "orders.throttled", "value"), 0.0);
    assert_eq!(stat(&even, "orders.splits", "value"), 0.0);
    // Writes stay at 60% of the table's 4,000 a second, on average, in both runs.
    let writes = stat(&even, "orders.writes", "value") / 300.0;
    assert!((writes - 2400.0).abs() < 50.0, "{writes}");
    assert!(stat(&hot, "orders.throttled", "value") > 10_000.0);
    // The heatmaps have a row per partition ever: four, and two more per split.
    let splits = stat(&hot, "orders.splits", "value");
    assert_eq!(stat(&hot, "orders.heatmap", "count"), 4.0 + 2.0 * splits);
    assert_eq!(stat(&even, "orders.heatmap", "count"), 4.0);
    assert_eq!(stat(&even, "orders.throttle_map", "max"), 0.0);
    assert!(stat(&hot, "orders.throttle_map", "max") > 0.0);
}

/// A put's time is its first byte plus its bytes at the per-request bandwidth; a multipart
/// upload's, the initiate, the slowest of its parallel parts and the complete.
#[test]
fn multipart_uploads_take_their_slowest_part_not_the_whole_object() {
    let runs = run_text(
        "cloud-multipart",
        &std::fs::read_to_string(scenario_path("multipart-upload.scn")).unwrap(),
    )
    .unwrap();
    let (single, parts) = (&runs[0], &runs[1]);
    assert!(single.ok() && parts.ok(), "{:?}", parts.violations());
    assert!(single.variant.contains("1GiB") && parts.variant.contains("64MiB"));
    let transfer = |bytes: f64| bytes / (100.0 * 1024.0 * 1024.0);
    // 10.24s, plus a first byte of 10ms to 30ms.
    let (lo, hi) = (
        stat(single, "uploads.latency", "min"),
        stat(single, "uploads.latency", "max"),
    );
    assert!(
        lo >= (transfer(1024.0 * 1048576.0) + 0.010) * 1e9 * 0.999,
        "{lo}"
    );
    assert!(
        hi <= (transfer(1024.0 * 1048576.0) + 0.030) * 1e9 * 1.001,
        "{hi}"
    );
    // 0.64s for the slowest part plus three first bytes (initiate, part, complete).
    let (lo, hi) = (
        stat(parts, "uploads.latency", "min"),
        stat(parts, "uploads.latency", "max"),
    );
    assert!(
        lo >= (transfer(64.0 * 1048576.0) + 0.030) * 1e9 * 0.999,
        "{lo}"
    );
    assert!(
        hi <= (transfer(64.0 * 1048576.0) + 0.090) * 1e9 * 1.001,
        "{hi}"
    );
    assert!(stat(parts, "media.not_found", "value") > 0.0);
    assert_eq!(stat(parts, "readers.failed", "value"), 0.0);
}

/// Bin packing that fills hosts saves one, and loses more instances with a host; spreading uses
/// every host and survives the same crash. An instance that fits nowhere is a located error.
#[test]
fn packing_saves_hosts_and_spreading_survives_a_host() {
    let runs = run_text(
        "cloud-placement",
        &std::fs::read_to_string(scenario_path("placement.scn")).unwrap(),
    )
    .unwrap();
    let (packed, spread) = (&runs[0], &runs[1]);
    assert!(packed.variant.contains("first-fit") && spread.variant.contains("worst-fit"));
    assert!(packed.ok() && spread.ok());
    assert_eq!(stat(packed, "h1.cpu_allocated", "last"), 1.0);
    assert!(
        packed.result.metrics.get("h4.cpu_allocated").is_none(),
        "h4 is left empty"
    );
    assert_eq!(stat(spread, "h4.cpu_allocated", "last"), 0.25);
    assert!(stat(packed, "users.failed", "value") > 1_000.0);
    assert_eq!(stat(spread, "users.failed", "value"), 0.0);
    let e = match run_text(
        "cloud-noroom",
        r#"scenario "x" { duration 1s
  host h1..h2 { cpus 2 }
  service api { on h1..h2  instances 5  cpu 1  service 1ms }
  client c { rate 1/s  to api } }"#,
    ) {
        Ok(_) => panic!("five 1-CPU instances on 4 CPUs ran"),
        Err(e) => e,
    };
    assert!(
        e.contains("instance 5 of 5 fits on none of its hosts"),
        "{e}"
    );
}

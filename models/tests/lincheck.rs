//! The linearizability checker on histories whose answer is known by hand, on histories produced
//! by a real sequential register (always linearizable), and on those with a planted anomaly.

use models::lincheck::generate::register_history;
use models::lincheck::{DEFAULT_BUDGET, Verdict, check, parse_history};

fn verdict(text: &str) -> Verdict {
    let ops = parse_history(text).unwrap();
    let reports = check(&ops, DEFAULT_BUDGET);
    assert_eq!(reports.len(), 1, "{reports:?}");
    reports[0].verdict.clone()
}

#[test]
fn sequential_and_overlapping_histories() {
    // Sequential: write 1, then read 1.
    assert_eq!(
        verdict("a invoke write 1\na ok write 1\nb invoke read _\nb ok read 1\n"),
        Verdict::Linearizable
    );
    // A read that returns a value overwritten before it began: not linearizable.
    let stale = "a invoke write 1\na ok write 1\na invoke write 2\na ok write 2\nb invoke read _\nb ok read 1\n";
    assert_eq!(verdict(stale), Verdict::NotLinearizable);
    // The same read overlapping the second write may see either value.
    let overlap = "a invoke write 1\na ok write 1\na invoke write 2\nb invoke read _\nb ok read 1\na ok write 2\n";
    assert_eq!(verdict(overlap), Verdict::Linearizable);
    // A read of nothing before any write completes.
    assert_eq!(
        verdict("b invoke read _\na invoke write 1\nb ok read nil\na ok write 1\n"),
        Verdict::Linearizable
    );
    // Reading a value nobody wrote.
    assert_eq!(
        verdict("a invoke write 1\na ok write 1\nb invoke read _\nb ok read 7\n"),
        Verdict::NotLinearizable
    );
}

#[test]
fn cas_fail_and_info() {
    // cas 1->2 succeeds after write 1; a later read of 2 is fine, of 1 is not.
    let base = "a invoke write 1\na ok write 1\na invoke cas 1 2\na ok cas 1 2\nb invoke read _\n";
    assert_eq!(
        verdict(&format!("{base}b ok read 2\n")),
        Verdict::Linearizable
    );
    assert_eq!(
        verdict(&format!("{base}b ok read 1\n")),
        Verdict::NotLinearizable
    );
    // An ok cas whose expected value was never there.
    assert_eq!(
        verdict("a invoke write 1\na ok write 1\na invoke cas 5 6\na ok cas 5 6\n"),
        Verdict::NotLinearizable
    );
    // A failed write did not happen: reading its value is an anomaly.
    assert_eq!(
        verdict("a invoke write 3\na fail write 3\nb invoke read _\nb ok read 3\n"),
        Verdict::NotLinearizable
    );
    // An info write may have happened (read 3 is fine) or not (read nil is fine too).
    let info = "a invoke write 3\na info write 3\nb invoke read _\nb ok read ";
    assert_eq!(verdict(&format!("{info}3\n")), Verdict::Linearizable);
    assert_eq!(verdict(&format!("{info}nil\n")), Verdict::Linearizable);
    // ... but once seen, it cannot be unseen.
    assert_eq!(
        verdict(&format!("{info}3\nb invoke read _\nb ok read nil\n")),
        Verdict::NotLinearizable
    );
    // An invoke without completion counts as info.
    assert_eq!(
        verdict("a invoke write 4\nb invoke read _\nb ok read 4\n"),
        Verdict::Linearizable
    );
}

#[test]
fn a_cas_answered_false_is_an_observation() {
    let after_write_1 = "a invoke write 1\na ok write 1\nb invoke cas 1 2\n";
    // (a) The register held 1 when the cas ran alone: answering "the value differed" is wrong.
    assert_eq!(
        verdict(&format!("{after_write_1}b ok cas 1 2 false\n")),
        Verdict::NotLinearizable
    );
    // ... whereas `fail` means it certainly did not happen, which is always possible.
    assert_eq!(
        verdict(&format!("{after_write_1}b fail cas 1 2\n")),
        Verdict::Linearizable
    );
    // (b) A true mismatch: the register held 1, not 5.
    assert_eq!(
        verdict("a invoke write 1\na ok write 1\nb invoke cas 5 6\nb ok cas 5 6 false\n"),
        Verdict::Linearizable
    );
    // Before any write the register holds nothing, so any cas answers false.
    assert_eq!(
        verdict("b invoke cas 1 2\nb ok cas 1 2 false\n"),
        Verdict::Linearizable
    );
    // A mismatch while a write of 3 overlaps: it may come before the write.
    assert_eq!(
        verdict(
            "a invoke write 1\na ok write 1\na invoke write 3\nb invoke cas 1 2\nb ok cas 1 2 false\na ok write 3\n"
        ),
        Verdict::Linearizable
    );
    // An answer of false changed nothing: its new value cannot be read.
    assert_eq!(
        verdict(
            "a invoke write 1\na ok write 1\nb invoke cas 5 6\nb ok cas 5 6 false\nb invoke read _\nb ok read 6\n"
        ),
        Verdict::NotLinearizable
    );
    // `true` says what a bare `ok cas` says.
    assert_eq!(
        parse_history(&format!("{after_write_1}b ok cas 1 2 true\n")).unwrap(),
        parse_history(&format!("{after_write_1}b ok cas 1 2\n")).unwrap()
    );
    assert_eq!(
        verdict(&format!("{after_write_1}b ok cas 1 2 true\n")),
        Verdict::Linearizable
    );
}

#[test]
fn keys_are_checked_separately_and_the_counterexample_is_a_short_prefix() {
    let text = "\
a invoke write 1 key=x
a ok write 1 key=x
b invoke write 9 key=y
b ok write 9 key=y
c invoke read _ key=x
c ok read 1 key=x
a invoke write 2 key=x
a ok write 2 key=x
c invoke read _ key=x
c ok read 1 key=x
b invoke read _ key=y
b ok read 9 key=y
a invoke write 3 key=x
a ok write 3 key=x
";
    let ops = parse_history(text).unwrap();
    let reports = check(&ops, DEFAULT_BUDGET);
    assert_eq!(reports.len(), 2);
    let x = &reports[0];
    assert_eq!(
        (x.key.as_str(), &x.verdict),
        ("x", &Verdict::NotLinearizable)
    );
    assert_eq!(reports[1].verdict, Verdict::Linearizable);
    // The failure is the second read of 1 (lines 9-10): the write of 3 after it is not needed.
    let lines: Vec<usize> = x.counterexample.iter().map(|o| o.call_line).collect();
    assert_eq!(lines, [1, 5, 7, 9], "{:?}", x.counterexample);
}

#[test]
fn real_registers_are_linearizable_and_a_planted_anomaly_is_caught() {
    for seed in 1..=40 {
        let h = register_history(seed, 4, 60);
        assert_eq!(verdict(&h), Verdict::Linearizable, "seed {seed}:\n{h}");
        // Plant a read of a value no one ever writes (values are 0..5): always an anomaly.
        if let Some(pos) = h.find(" ok read ") {
            let end = pos + h[pos..].find('\n').unwrap();
            let planted = format!("{} ok read 99{}", &h[..pos], &h[end..]);
            assert_eq!(
                verdict(&planted),
                Verdict::NotLinearizable,
                "seed {seed}:\n{planted}"
            );
        }
    }
}

#[test]
fn bad_histories_say_where() {
    let e = parse_history("a invoke write 1\na invoke write 2\n").unwrap_err();
    assert_eq!((e.line, e.col), (2, 3), "{e}");
    assert!(e.message.contains("still open"), "{e}");
    let e = parse_history("a ok write 1\n").unwrap_err();
    assert!(e.message.contains("never invoked"), "{e}");
    let e = parse_history("a invoke frob 1\n").unwrap_err();
    assert_eq!((e.line, e.col), (1, 10));
    let e = parse_history("a invoke write x\n").unwrap_err();
    assert!(e.message.contains("not a value"), "{e}");
    let e = parse_history("a invoke write 1\na ok write 2\n").unwrap_err();
    assert!(e.message.contains("completes `write 1`"), "{e}");
    let e = parse_history("a invoke read _\na ok read _\n").unwrap_err();
    assert!(e.message.contains("not `_`"), "{e}");
    // A read that failed, or whose outcome is unknown, has no value.
    for end in ["fail", "info"] {
        let ops = parse_history(&format!("a invoke read _\na {end} read _\n")).unwrap();
        assert_eq!(ops.len(), 1, "{end}");
        assert_eq!(
            verdict(&format!("a invoke read _\na {end} read _\n")),
            Verdict::Linearizable
        );
    }
    // Only a completed cas says its result, and only true or false.
    let e = parse_history("a invoke cas 1 2 false\n").unwrap_err();
    assert_eq!((e.line, e.col), (1, 18), "{e}");
    assert!(e.message.contains("only a completed (ok) cas"), "{e}");
    let e = parse_history("a invoke cas 1 2\na fail cas 1 2 false\n").unwrap_err();
    assert!(e.message.contains("a `fail` cas has none"), "{e}");
    let e = parse_history("a invoke cas 1 2\na ok cas 1 2 maybe\n").unwrap_err();
    assert_eq!((e.line, e.col), (2, 14), "{e}");
    assert!(e.message.contains("true or false"), "{e}");
    let e = parse_history("a invoke cas 1 2\na ok cas 1 3 false\n").unwrap_err();
    assert!(e.message.contains("completes `cas 1 2`"), "{e}");
    let e = parse_history("a invoke cas 1\n").unwrap_err();
    assert!(e.message.contains("takes 2 value(s)"), "{e}");
    assert!(parse_history("# only a comment\n\n").unwrap().is_empty());
}

#[test]
fn the_examples_in_docs_lincheck_md_have_the_verdict_their_comment_states() {
    let doc = include_str!("../../docs/lincheck.md");
    // History examples are the ```text blocks that start with a `#` comment saying the verdict.
    let examples: Vec<&str> = doc
        .split("```text\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.starts_with('#'))
        .collect();
    assert_eq!(examples.len(), 2, "{examples:?}");
    for text in examples {
        let expected = if text.lines().next().unwrap().contains("Not linearizable") {
            Verdict::NotLinearizable
        } else {
            Verdict::Linearizable
        };
        assert_eq!(verdict(text), expected, "{text}");
    }
}

/// A small random history, not necessarily linearizable: `n` operations by 3 processes, with
/// random results (values 0..3) and outcomes, from a linear congruential generator.
fn random_history(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % m
    };
    let mut open: [Option<String>; 3] = [None, None, None];
    let (mut out, mut started) = (String::new(), 0);
    while started < n || open.iter().any(Option::is_some) {
        let p = next(3) as usize;
        match open[p].take() {
            None if started < n => {
                started += 1;
                let f = match next(3) {
                    0 => format!("write {}", next(3)),
                    1 => "read _".to_string(),
                    _ => format!("cas {} {}", next(3), next(3)),
                };
                out.push_str(&format!("p{p} invoke {f}\n"));
                open[p] = Some(f);
            }
            None => {}
            Some(f) => {
                let end = match next(10) {
                    0 => "fail",
                    1 => "info",
                    _ => "ok",
                };
                let f = match (end, f.as_str()) {
                    ("ok", "read _") => match next(4) {
                        3 => "read nil".to_string(),
                        v => format!("read {v}"),
                    },
                    ("ok", c) if c.starts_with("cas") && next(2) == 0 => format!("{c} false"),
                    _ => f,
                };
                out.push_str(&format!("p{p} {end} {f}\n"));
            }
        }
    }
    out
}

/// Linearizability by brute force, independently of the search: try every order that respects
/// real time, each `info` write or cas either taking effect or not; `fail` operations and
/// unknown reads say nothing.
fn brute_force(ops: &[models::lincheck::Operation]) -> bool {
    use models::lincheck::{Op, Outcome};
    fn fits(state: Option<i64>, op: Op) -> Option<Option<i64>> {
        match op {
            Op::Read(v) => (v == state).then_some(state),
            Op::Write(v) => Some(Some(v)),
            Op::Cas(a, b) => (state == Some(a)).then_some(Some(b)),
            Op::CasFalse(a, _) => (state != Some(a)).then_some(state),
        }
    }
    fn go(ops: &[&models::lincheck::Operation], done: &mut Vec<bool>, state: Option<i64>) -> bool {
        let pending: Vec<bool> = (0..ops.len())
            .map(|i| !done[i] && ops[i].outcome == Outcome::Ok)
            .collect();
        if !pending.contains(&true) {
            return true;
        }
        // Next can be any operation not yet placed that no unplaced `ok` one precedes.
        let free: Vec<usize> = (0..ops.len())
            .filter(|&i| {
                !done[i]
                    && !(0..ops.len())
                        .any(|j| pending[j] && ops[j].ret.is_some_and(|r| r < ops[i].call))
            })
            .collect();
        for i in free {
            if let Some(after) = fits(state, ops[i].op) {
                done[i] = true;
                let found = go(ops, done, after);
                done[i] = false;
                if found {
                    return true;
                }
            }
        }
        false
    }
    let kept: Vec<&models::lincheck::Operation> = ops
        .iter()
        .filter(|o| match o.outcome {
            Outcome::Ok => true,
            Outcome::Fail => false,
            Outcome::Info => !matches!(o.op, Op::Read(_) | Op::CasFalse(..)),
        })
        .collect();
    go(&kept, &mut vec![false; kept.len()], None)
}

#[test]
fn the_search_agrees_with_brute_force_on_small_random_histories() {
    let (mut yes, mut no) = (0, 0);
    for seed in 0..5000 {
        let text = random_history(seed, 9);
        let ops = parse_history(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let expected = brute_force(&ops);
        let got = verdict(&text);
        assert_eq!(
            got == Verdict::Linearizable,
            expected,
            "seed {seed}:\n{text}"
        );
        if expected {
            yes += 1;
        } else {
            no += 1;
        }
    }
    // Both verdicts are well represented, so the comparison means something.
    assert!(yes > 300 && no > 300, "{yes} linearizable, {no} not");
}

#[test]
fn concurrent_observations_do_not_make_the_search_exponential() {
    // 16 clients: many reads and cas answered false are pending at once. Taking or skipping
    // each is not a choice the search needs to make; if it did, each subset of them would be a
    // configuration of its own, and this history would need millions of steps.
    let h = register_history(7, 16, 10_000);
    let ops = parse_history(&h).unwrap();
    let reports = check(&ops, 1_000_000);
    assert_eq!(reports[0].verdict, Verdict::Linearizable);
}

/// A read that did not complete `ok` has no value: it is shown as the history wrote it
/// (`read _`), not as a read that found nothing (`read nil`), while a completed read of nothing
/// stays `read nil`.
#[test]
fn a_read_without_a_value_is_shown_as_written() {
    let ops = parse_history(
        "p0 invoke read _\np0 fail read _\np1 invoke read _\np1 info read _\np2 invoke read _\np2 ok read nil\n",
    )
    .unwrap();
    let shown: Vec<String> = ops.iter().map(|o| o.op_text()).collect();
    assert_eq!(shown, ["read _", "read _", "read nil"]);
}

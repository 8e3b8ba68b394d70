//! Output of `sim run --seeds` and `sim merge` with measured time masked, for the tests that
//! compare a merged batch with one machine's (`seeds.rs`, `cluster.rs`).

/// `text` with every measured time masked: the table's wall-time line, and the JSON's
/// wall-clock fields' numbers (so the rest can be compared byte for byte).
pub fn masked(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("wall time") {
            out.push_str("wall time  (masked)\n");
            continue;
        }
        let mut rest = line;
        while let Some(at) = [
            "\"wall_time_s\":",
            "\"speedup\":",
            "\"seeds_per_s\":",
            "\"seeds_per_h\":",
            "\"runs_per_s\":",
        ]
        .iter()
        .filter_map(|k| rest.find(k).map(|i| (i, k.len())))
        .min()
        {
            let (i, len) = at;
            out.push_str(&rest[..i + len]);
            rest = &rest[i + len..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            out.push('#');
            rest = &rest[end..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

//! The shipped cache traces (scenarios/traces/) are what `sim trace generate` writes: each
//! command listed in scenarios/traces/README.md is run again and must give the same bytes, and
//! each file reads back without error in its format.

use std::path::{Path, PathBuf};
use std::process::Command;

use models::cache::trace::{Format, reader};

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces")
}

/// The commands of the README's block: each line's arguments after `sim`, quotes removed.
fn commands() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(traces_dir().join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|l| l.strip_prefix("sim "))
        .map(|l| {
            // Arguments are separated by spaces outside single quotes.
            let mut args = vec![String::new()];
            let mut quoted = false;
            for c in l.chars() {
                match c {
                    '\'' => quoted = !quoted,
                    ' ' if !quoted => args.push(String::new()),
                    _ => args.last_mut().unwrap().push(c),
                }
            }
            args
        })
        .collect()
}

#[test]
fn regenerating_each_shipped_trace_gives_the_same_bytes() {
    let cmds = commands();
    assert_eq!(cmds.len(), 3, "the README lists the three shipped traces");
    let tmp = std::env::temp_dir().join(format!("sim-cache-traces-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for mut args in cmds {
        let o = args.iter().position(|a| a == "-o").unwrap();
        let name = args[o + 1].clone();
        let fresh = tmp.join(&name);
        args[o + 1] = fresh.to_str().unwrap().to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shipped = std::fs::read(traces_dir().join(&name)).unwrap();
        assert!(shipped.len() < 1 << 20, "{name} is over 1 MB");
        assert!(
            shipped == std::fs::read(&fresh).unwrap(),
            "{name} differs from what its command writes"
        );
        let f = args.iter().position(|a| a == "--format").unwrap();
        let format = Format::from_name(&args[f + 1]).unwrap();
        let n = args.iter().position(|a| a == "--requests").unwrap();
        let records = reader(format, std::io::BufReader::new(shipped.as_slice()))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(records.len().to_string(), args[n + 1], "{name}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Bad arguments are one-line errors naming the problem, exit 2, and no file is left behind.
#[test]
fn bad_arguments_are_clean_errors() {
    let out = std::env::temp_dir().join(format!("sim-cache-bad-{}.csv", std::process::id()));
    for (args, needle) in [
        (
            ["--workload", "zipf(10, x)", "--format", "csv"],
            "ALPHA must be a number",
        ),
        (
            ["--workload", "zipf(0, 1)", "--format", "csv"],
            "at least 1 object",
        ),
        (
            ["--workload", "zipf(10, 1)", "--format", "cvs"],
            "unknown trace format `cvs`",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(["trace", "generate", "--requests", "5", "-o"])
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
        assert!(!out.exists());
    }
}

//! libCacheSim as the peer: the same trace, policy and cache size must give the same number of
//! misses in sim's policies and in libCacheSim's (its PyPI package's C library, driven by
//! benches/peers/libcachesim_run.py). Skips, saying why, when python3 or libcachesim is missing.
//!
//! Definitional choices, each checked by an exact row below:
//! - sizes count: a cache of C bytes holds objects whose sizes sum to at most C, and an object
//!   larger than C is never admitted (libCacheSim's `can_insert`); no per-object metadata
//!   (libCacheSim's consider_obj_metadata=False, its default).
//! - CLOCK: one reference bit, clear for a new object (libCacheSim's init_freq=0,
//!   n_bit_counter=1, its defaults).
//! - OPT: Belady's furthest-next-request with demand paging (the requested object is always
//!   admitted); with size-1 objects the fewest misses possible, so the counts must agree even
//!   where the two break ties differently; with sizes both evict the furthest-needed objects
//!   until the new one fits. libCacheSim's Belady reads each request's next_access_vtime, which
//!   only oracleGeneral carries: a CSV trace is converted to oracleGeneral (by sim's writer) for
//!   OPT, so agreement also checks that the writer's next_access_vtime is right.
//!
//! The table (`sim_benches::cache_peer::POLICIES`, shared with the cache bench) is by sim's
//! policy name; a policy not built on this branch is skipped with a
//! line saying so, and a `Report` row prints both counts without requiring agreement (for
//! policies whose parameters are still being matched).

use std::path::{Path, PathBuf};

use models::cache::Request;
use models::cache::trace::{Format, reader, write_oracle};
use models::cache::{Kind, opt, replay};
use sim_benches::cache_peer::{self, Agree, POLICIES};

/// The shipped traces, their format, and cache sizes (bytes).
const TRACES: &[(&str, Format, &str, &[u64])] = &[
    // Size-1 objects: sizes are objects, 0.1% to 50% of the 10,000.
    (
        "zipf-10k.oracleGeneral",
        Format::Oracle,
        "oracle",
        &[10, 100, 1000, 5000],
    ),
    // Sizes from 100 bytes to 100 KB, and one-time scans.
    (
        "mix-5k.csv",
        Format::Csv,
        "csv",
        &[100_000, 1_000_000, 20_000_000],
    ),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// sim's misses for `name` at `size`, or `None` when the policy is not built here.
fn ours(name: &str, trace: &[(u64, u64)], size: u64) -> Option<u64> {
    let hits = if name == "opt" {
        opt::hits(trace, size)
    } else {
        replay(Kind::from_name(name)?.build(size).as_mut(), trace)
    };
    Some(hits.iter().filter(|&&h| !h).count() as u64)
}

#[test]
fn miss_counts_agree_with_libcachesim() {
    let names: Vec<&str> = POLICIES.iter().map(|p| p.0).collect();
    let mut disagreements = Vec::new();
    for &(file, format, peer_format, sizes) in TRACES {
        let path = workspace().join("scenarios/traces").join(file);
        let bytes = std::fs::read(&path).unwrap();
        let trace: Vec<(u64, u64)> = reader(format, bytes.as_slice())
            .unwrap()
            .map(|r| r.map(|r| (r.request.key, r.request.size)))
            .collect::<Result<_, _>>()
            .unwrap();
        // OPT needs next accesses: from an oracleGeneral copy when the trace has none.
        let online: Vec<&str> = names.iter().copied().filter(|&n| n != "opt").collect();
        let oracle_copy =
            std::env::temp_dir().join(format!("sim-lcs-{}-{file}", std::process::id()));
        let runs: Vec<(&Path, &str, Vec<&str>)> = if format == Format::Oracle {
            vec![(&path, peer_format, names.clone())]
        } else {
            let reqs: Vec<Request> = trace
                .iter()
                .map(|&(key, size)| Request { time: 0, key, size })
                .collect();
            write_oracle(std::fs::File::create(&oracle_copy).unwrap(), &reqs).unwrap();
            vec![
                (&path, peer_format, online),
                (&oracle_copy, "oracle", vec!["opt"]),
            ]
        };
        let mut rows = Vec::new();
        for (p, f, names) in runs {
            match cache_peer::run(p, f, &names, sizes, 1) {
                Ok(r) => rows.extend(r),
                Err(why) => {
                    println!("skipped: libCacheSim is not available: {why}");
                    return;
                }
            }
        }
        let _ = std::fs::remove_file(&oracle_copy);
        for row in &rows {
            let name = row["policy"].as_str().unwrap();
            let agree = cache_peer::agreement(name).unwrap();
            if row["missing"] == true {
                println!("{file}: libCacheSim has no {name}");
                continue;
            }
            let size = row["size"].as_u64().unwrap();
            let theirs = row["misses"].as_u64().unwrap();
            assert_eq!(row["requests"].as_u64().unwrap(), trace.len() as u64);
            let Some(mine) = ours(name, &trace, size) else {
                println!(
                    "{file}: {name} is not built on this branch; libCacheSim misses {theirs} at {size}"
                );
                continue;
            };
            let line = format!("{file} {name} at {size}: sim {mine} misses, libCacheSim {theirs}");
            println!("{line}");
            if agree == Agree::Exact && mine != theirs {
                disagreements.push(line);
            }
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

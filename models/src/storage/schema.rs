//! The storage family's schema: `kvstore` blocks, a key-value engine (an LSM tree over a file
//! system with a page cache) on a host's disk, with a client of its own and the crash-recovery
//! check after every restart; and `mount` blocks, the same file system mounted for real programs
//! (FUSE) and crashed at their operations by `native crashtest`.

use crate::raft::schema::{CRASH, RESTART};
use crate::schema::{KindSpec, MetricKind, ModelSpec, Need, PropType, metric, prop};

/// The planted bugs a `kvstore` can carry.
pub const BUGS: &[&str] = &[
    "none",
    "ignore-fsync-error",
    "no-checksum",
    "rename-without-dir-fsync",
];

pub const SCHEMA: ModelSpec = ModelSpec {
    name: "storage",
    doc: "A key-value storage engine on a host's disk, crashed and recovered, with every recovery checked against the writes it acknowledged; and the same storage stack mounted for real programs (`native crashtest`).",
    kinds: &[
        KindSpec {
            kind: "kvstore",
            doc: "An LSM key-value engine (memtable, checksummed write-ahead log, sorted runs, compaction) over a file system with a write-back page cache, on its host's disk, driven by one client that puts, deletes and gets. A crash of the host loses what was not durable; the engine restarts, recovers, and the recovery is checked.",
            props: &[
                prop(
                    "on",
                    PropType::Hosts,
                    Need::Placed,
                    "The hosts it runs on, one copy each; a host needs a `disk`.",
                ),
                prop(
                    "ops",
                    PropType::Count {
                        min: 1,
                        max: 10_000_000,
                    },
                    Need::Default("1000"),
                    "Operations the client issues, one after another.",
                ),
                prop(
                    "keys",
                    PropType::Count {
                        min: 1,
                        max: 1_000_000,
                    },
                    Need::Default("100"),
                    "Distinct keys, chosen uniformly.",
                ),
                prop(
                    "reads",
                    PropType::Probability,
                    Need::Default("20%"),
                    "The share of operations that get; of the rest, one in eight deletes, the others put.",
                ),
                prop(
                    "think",
                    PropType::Duration,
                    Need::Default("1ms"),
                    "The client's pause between an answer and its next operation.",
                ),
                prop(
                    "value_size",
                    PropType::Size,
                    Need::Default("100B"),
                    "The largest value; each is 12 bytes to this long.",
                ),
                prop(
                    "memtable",
                    PropType::Size,
                    Need::Default("32KiB"),
                    "Bytes of keys and values the memtable holds before it is flushed to a sorted run.",
                ),
                prop(
                    "restart_after",
                    PropType::Duration,
                    Need::Default("100ms"),
                    "After a crash (or the engine stopping on a failed fsync) the host comes back and the engine recovers this much later.",
                ),
                prop(
                    "bug",
                    PropType::Choice(BUGS),
                    Need::Default("none"),
                    "A planted bug for the checker to catch: a failed fsync taken as success, a log without checksums, or a run renamed into place without an fsync of its directory.",
                ),
            ],
            metrics: &[
                metric(
                    "put_latency",
                    MetricKind::Latency,
                    "A put's or delete's time until it is acknowledged (durable).",
                ),
                metric("get_latency", MetricKind::Latency, "A get's time."),
                metric("acknowledged", MetricKind::Counter, "Writes acknowledged."),
                metric(
                    "failed",
                    MetricKind::Counter,
                    "Operations that failed (an I/O error, a full disk, the engine stopped).",
                ),
                metric(
                    "recoveries",
                    MetricKind::Counter,
                    "Restarts, each recovered and checked.",
                ),
            ],
        },
        KindSpec {
            kind: "mount",
            doc: "The storage stack (a file system with a write-back page cache over a block device with the host's disk's size, timing and faults) mounted as a real file system with FUSE, for real programs. The simulator does not run it: `native crashtest FILE` runs the program on the mount, crashes the stack at its operations one by one, recovers, mounts it again and runs the check.",
            props: &[
                prop(
                    "on",
                    PropType::Hosts,
                    Need::Placed,
                    "The host whose `disk` holds the file system (one host).",
                ),
                prop(
                    "setup",
                    PropType::Str,
                    Need::Default("none"),
                    "A shell command run first in the mount, which does not crash: the state the program starts from.",
                ),
                prop(
                    "program",
                    PropType::Str,
                    Need::Required,
                    "The shell command under test, run in the mount (its working directory).",
                ),
                prop(
                    "check",
                    PropType::Str,
                    Need::Required,
                    "The shell command run in the mount after each crash and recovery; exit 0 means nothing acknowledged was lost.",
                ),
                prop(
                    "points",
                    PropType::Count {
                        min: 1,
                        max: 1_000_000,
                    },
                    Need::Default("every operation, and after the program exits"),
                    "How many crash points to try, drawn from the seed when the program makes more operations.",
                ),
                prop(
                    "timeout",
                    PropType::Duration,
                    Need::Default("60s"),
                    "The longest the setup, the program or the check may run (real time); a command still running then is killed and fails.",
                ),
                prop(
                    "latency",
                    PropType::Choice(&["disk", "none"]),
                    Need::Default("disk"),
                    "`disk`: each operation takes as long as the disk model says its block requests take (real time, slept); `none`: as fast as the machine.",
                ),
            ],
            metrics: &[],
        },
    ],
    global_metrics: &[],
    verbs: &[CRASH, RESTART],
    properties: &[
        (
            "recovered",
            "Every recovery after a crash holds every acknowledged write and no value never written (always checked; naming it documents it).",
        ),
        (
            "durable",
            "Every acknowledged write survives a crash at the end of the run too.",
        ),
    ],
    events: &[],
    charts: &[],
};

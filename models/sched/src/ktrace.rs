//! The bare-metal kernel's schedule trace: one [`Record`] per serial line, written with
//! [`Record`]'s `Display` by the kernel and read back with [`parse_line`] by the host, which
//! skips every line that is not a trace line (boot messages, panics without the prefix).
//!
//! # Line syntax
//! `simk KIND key=value key=value ...`, KIND one of `boot`, `run`, `job`, `end`, `pass`,
//! `fail`; fields separated by one or more spaces, in any order, each exactly once; numbers are
//! plain decimal. For example:
//!
//! ```text
//! simk boot policy=rr jobs=3 tick=1000000 tsc_hz=2000000000
//! simk run job=2 start=10000000 end=20000000 stop=expired
//! simk job job=2 arrival=0 first_run=10000000 completion=40000000 cpu=30000000 wait=10000000 work=123456
//! simk end at=40000000 ticks=40 switches=5 decisions=7
//! simk pass
//! simk fail message=job 2 never ran: stuck in queue=1
//! ```
//!
//! `fail`'s message is the rest of the line after `message=`, verbatim (spaces and `=`
//! included); a trailing `\r` (or `\n`) on a line is ignored.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::boot::{NumError, parse_u64};
use crate::{JobId, Stop, Time};

/// What every trace line starts with (then a space).
pub const PREFIX: &str = "simk";

/// One line of the kernel's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The kernel booted and parsed its command line.
    Boot {
        /// The policy's name, a non-empty word without spaces (`Display` writes any whitespace
        /// in it as `_`, and an empty name as `?`).
        policy: String,
        jobs: u32,
        tick: Time,
        tsc_hz: u64,
    },
    /// Job `job` ran on the CPU from `start` to `end` (ns since the mix started) and then
    /// stopped for `stop`.
    Run {
        job: JobId,
        start: Time,
        end: Time,
        stop: Stop,
    },
    /// One job's figures as the kernel measured them.
    Job {
        job: JobId,
        arrival: Time,
        first_run: Time,
        completion: Time,
        cpu: Time,
        wait: Time,
        work: u64,
    },
    /// The mix finished at `at`.
    End {
        at: Time,
        ticks: u64,
        switches: u64,
        decisions: u64,
    },
    Pass,
    /// `Display` writes any `\n` or `\r` in the message as a space, so a record is one line.
    Fail {
        message: String,
    },
}

/// Why a trace line does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError(pub String);

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stop reason's name in the trace.
pub fn stop_name(s: Stop) -> &'static str {
    match s {
        Stop::Expired => "expired",
        Stop::Preempted => "preempted",
        Stop::Blocked => "blocked",
        Stop::Finished => "finished",
    }
}

const STOPS: [Stop; 4] = [
    Stop::Expired,
    Stop::Preempted,
    Stop::Blocked,
    Stop::Finished,
];

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Boot {
                policy,
                jobs,
                tick,
                tsc_hz,
            } => {
                write!(f, "{PREFIX} boot policy=")?;
                if policy.is_empty() {
                    f.write_str("?")?;
                }
                for c in policy.chars() {
                    fmt::Write::write_char(f, if c.is_whitespace() { '_' } else { c })?;
                }
                write!(f, " jobs={jobs} tick={tick} tsc_hz={tsc_hz}")
            }
            Record::Run {
                job,
                start,
                end,
                stop,
            } => write!(
                f,
                "{PREFIX} run job={job} start={start} end={end} stop={}",
                stop_name(*stop)
            ),
            Record::Job {
                job,
                arrival,
                first_run,
                completion,
                cpu,
                wait,
                work,
            } => write!(
                f,
                "{PREFIX} job job={job} arrival={arrival} first_run={first_run} \
                 completion={completion} cpu={cpu} wait={wait} work={work}"
            ),
            Record::End {
                at,
                ticks,
                switches,
                decisions,
            } => write!(
                f,
                "{PREFIX} end at={at} ticks={ticks} switches={switches} decisions={decisions}"
            ),
            Record::Pass => write!(f, "{PREFIX} pass"),
            Record::Fail { message } => {
                write!(f, "{PREFIX} fail message=")?;
                for c in message.chars() {
                    fmt::Write::write_char(f, if c == '\n' || c == '\r' { ' ' } else { c })?;
                }
                Ok(())
            }
        }
    }
}

fn error(message: String) -> TraceError {
    TraceError(message)
}

/// The values of `kind`'s fields `names`, each given exactly once.
fn fields<'a, const N: usize>(
    kind: &str,
    args: &'a str,
    names: [&str; N],
) -> Result<[&'a str; N], TraceError> {
    let mut values: [Option<&str>; N] = [None; N];
    for token in args.split(' ').filter(|t| !t.is_empty()) {
        let Some((key, value)) = token.split_once('=') else {
            return Err(error(format!("`{token}` is not key=value")));
        };
        let Some(slot) = names
            .iter()
            .zip(values.iter_mut())
            .find_map(|(n, v)| (*n == key).then_some(v))
        else {
            return Err(error(format!("`{kind}` has no field `{key}`")));
        };
        if slot.is_some() {
            return Err(error(format!("`{kind}` has `{key}` twice")));
        }
        *slot = Some(value);
    }
    let mut out = [""; N];
    for ((o, v), n) in out.iter_mut().zip(values).zip(names) {
        *o = v.ok_or_else(|| error(format!("`{kind}` lacks `{n}`")))?;
    }
    Ok(out)
}

fn number(key: &str, s: &str) -> Result<u64, TraceError> {
    parse_u64(s).map_err(|e| match e {
        NumError::Bad => error(format!("`{key}` of `{s}`: expected a whole number")),
        NumError::Overflow => error(format!("`{key}` of `{s}` does not fit in 64 bits")),
    })
}

fn number32(key: &str, s: &str) -> Result<u32, TraceError> {
    u32::try_from(number(key, s)?)
        .map_err(|_| error(format!("`{key}` of `{s}` does not fit in 32 bits")))
}

/// Parses one serial line: `None` if it is not a trace line (does not start with `simk `),
/// else the record or what is wrong with it. Never panics.
pub fn parse_line(line: &str) -> Option<Result<Record, TraceError>> {
    let line = line.trim_end_matches(['\r', '\n']);
    let rest = line.strip_prefix(PREFIX)?.strip_prefix(' ')?;
    Some(parse_record(rest))
}

fn parse_record(rest: &str) -> Result<Record, TraceError> {
    let rest = rest.trim_start_matches(' ');
    let (kind, args) = rest.split_once(' ').unwrap_or((rest, ""));
    match kind {
        "boot" => {
            let [policy, jobs, tick, tsc_hz] =
                fields(kind, args, ["policy", "jobs", "tick", "tsc_hz"])?;
            if policy.is_empty() || policy.chars().any(char::is_whitespace) {
                return Err(error(format!(
                    "`policy` of `{policy}`: expected a non-empty word"
                )));
            }
            Ok(Record::Boot {
                policy: String::from(policy),
                jobs: number32("jobs", jobs)?,
                tick: number("tick", tick)?,
                tsc_hz: number("tsc_hz", tsc_hz)?,
            })
        }
        "run" => {
            let [job, start, end, stop] = fields(kind, args, ["job", "start", "end", "stop"])?;
            let Some(stop) = STOPS.iter().copied().find(|s| stop_name(*s) == stop) else {
                return Err(error(format!(
                    "`stop` of `{stop}`: expected expired, preempted, blocked or finished"
                )));
            };
            Ok(Record::Run {
                job: number32("job", job)?,
                start: number("start", start)?,
                end: number("end", end)?,
                stop,
            })
        }
        "job" => {
            let [job, arrival, first_run, completion, cpu, wait, work] = fields(
                kind,
                args,
                [
                    "job",
                    "arrival",
                    "first_run",
                    "completion",
                    "cpu",
                    "wait",
                    "work",
                ],
            )?;
            Ok(Record::Job {
                job: number32("job", job)?,
                arrival: number("arrival", arrival)?,
                first_run: number("first_run", first_run)?,
                completion: number("completion", completion)?,
                cpu: number("cpu", cpu)?,
                wait: number("wait", wait)?,
                work: number("work", work)?,
            })
        }
        "end" => {
            let [at, ticks, switches, decisions] =
                fields(kind, args, ["at", "ticks", "switches", "decisions"])?;
            Ok(Record::End {
                at: number("at", at)?,
                ticks: number("ticks", ticks)?,
                switches: number("switches", switches)?,
                decisions: number("decisions", decisions)?,
            })
        }
        "pass" => {
            fields(kind, args, [])?;
            Ok(Record::Pass)
        }
        "fail" => match args.trim_start_matches(' ').strip_prefix("message=") {
            Some(message) => Ok(Record::Fail {
                message: String::from(message),
            }),
            None => Err(error(String::from(
                "`fail` needs `message=` and the message",
            ))),
        },
        "" => Err(error(String::from(
            "no record kind: expected boot, run, job, end, pass or fail",
        ))),
        _ => Err(error(format!(
            "unknown record kind `{kind}`: expected boot, run, job, end, pass or fail"
        ))),
    }
}

/// A stretch of a job on the CPU, from a `run` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub job: JobId,
    pub start: Time,
    pub end: Time,
    pub stop: Stop,
}

/// One job's figures as the kernel measured them, from a `job` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFigures {
    pub arrival: Time,
    pub first_run: Time,
    pub completion: Time,
    pub cpu: Time,
    pub wait: Time,
    pub work: u64,
}

impl JobFigures {
    pub fn response(&self) -> Time {
        self.first_run.saturating_sub(self.arrival)
    }

    pub fn turnaround(&self) -> Time {
        self.completion.saturating_sub(self.arrival)
    }
}

/// The `boot` record, and the line it was on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    pub policy: String,
    pub jobs: u32,
    pub tick: Time,
    pub tsc_hz: u64,
    pub line: usize,
}

/// The `end` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub at: Time,
    pub ticks: u64,
    pub switches: u64,
    pub decisions: u64,
}

/// A whole trace as [`read`] finds it: what each reader then requires of it is its own
/// business (the host's comparison wants it complete, a chart only wants runs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    pub boot: Option<Boot>,
    pub runs: Vec<Run>,
    /// By job id, as many as the boot record's mix; `None` for a job without a `job` record.
    pub jobs: Vec<Option<JobFigures>>,
    pub end: Option<End>,
    pub pass: bool,
    /// The message of the first `fail` record.
    pub fail: Option<String>,
}

/// What is wrong with a trace, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Reads a trace from the kernel's serial output, skipping lines that are not trace lines.
/// Every line must hold what holds in any trace: its record parses, a run ends no earlier than
/// it starts, runs and job figures name jobs of the boot record's mix (a run printed before the
/// boot record is checked when it comes), job figures come after the boot record, and there is
/// one boot record.
pub fn read(text: &str) -> Result<Trace, LineError> {
    let mut t = Trace::default();
    // Runs before the boot record, checked against its mix when it comes: (line, job).
    let mut unchecked: Vec<(usize, JobId)> = Vec::new();
    let outside = |line: usize, job: JobId, jobs: u32| LineError {
        line,
        message: format!(
            "job {job} is not in the scenario, whose jobs are 0 to {}",
            jobs.saturating_sub(1)
        ),
    };
    for (i, text_line) in text.lines().enumerate() {
        let line = i + 1;
        let fail = |message: String| LineError { line, message };
        let record = match parse_line(text_line) {
            None => continue,
            Some(Err(e)) => return Err(fail(format!("not a kernel trace record: {e}"))),
            Some(Ok(r)) => r,
        };
        match record {
            Record::Boot {
                policy,
                jobs,
                tick,
                tsc_hz,
            } => {
                if let Some(b) = &t.boot {
                    return Err(fail(format!(
                        "a second boot record (the first is on line {})",
                        b.line
                    )));
                }
                if let Some(&(l, job)) = unchecked.iter().find(|(_, job)| *job >= jobs) {
                    return Err(outside(l, job, jobs));
                }
                unchecked.clear();
                t.jobs = alloc::vec![None; jobs as usize];
                t.boot = Some(Boot {
                    policy,
                    jobs,
                    tick,
                    tsc_hz,
                    line,
                });
            }
            Record::Run {
                job,
                start,
                end,
                stop,
            } => {
                match &t.boot {
                    Some(b) if job >= b.jobs => return Err(outside(line, job, b.jobs)),
                    Some(_) => {}
                    None => unchecked.push((line, job)),
                }
                if end < start {
                    return Err(fail(format!(
                        "the run of job {job} ends before it starts (start {start} ns, end {end} ns)"
                    )));
                }
                t.runs.push(Run {
                    job,
                    start,
                    end,
                    stop,
                });
            }
            Record::Job {
                job,
                arrival,
                first_run,
                completion,
                cpu,
                wait,
                work,
            } => {
                let Some(b) = &t.boot else {
                    return Err(fail("a job record before the boot record".into()));
                };
                let jobs = b.jobs;
                let slot = t
                    .jobs
                    .get_mut(job as usize)
                    .ok_or_else(|| outside(line, job, jobs))?;
                *slot = Some(JobFigures {
                    arrival,
                    first_run,
                    completion,
                    cpu,
                    wait,
                    work,
                });
            }
            Record::End {
                at,
                ticks,
                switches,
                decisions,
            } => {
                t.end = Some(End {
                    at,
                    ticks,
                    switches,
                    decisions,
                })
            }
            Record::Pass => t.pass = true,
            Record::Fail { message } => {
                t.fail.get_or_insert(message);
            }
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    fn lines(records: &[Record]) -> String {
        let mut text = String::from("simk-log not a record\n");
        for r in records {
            text.push_str(&r.to_string());
            text.push('\n');
        }
        text
    }

    fn boot(jobs: u32) -> Record {
        Record::Boot {
            policy: String::from("rr"),
            jobs,
            tick: 1_000_000,
            tsc_hz: 1,
        }
    }

    fn run(job: JobId, start: Time, end: Time) -> Record {
        Record::Run {
            job,
            start,
            end,
            stop: Stop::Expired,
        }
    }

    #[test]
    fn a_whole_trace_reads_into_its_parts() {
        let figures = Record::Job {
            job: 1,
            arrival: 0,
            first_run: 5,
            completion: 9,
            cpu: 4,
            wait: 5,
            work: 3,
        };
        let end = Record::End {
            at: 9,
            ticks: 1,
            switches: 2,
            decisions: 2,
        };
        let t = read(&lines(&[
            run(0, 0, 5),
            boot(2),
            run(1, 5, 9),
            figures,
            end,
            Record::Pass,
            Record::Fail {
                message: String::from("first"),
            },
            Record::Fail {
                message: String::from("second"),
            },
        ]))
        .unwrap();
        let b = t.boot.unwrap();
        assert_eq!((b.jobs, b.line), (2, 3));
        assert_eq!(t.runs.len(), 2);
        assert_eq!(t.jobs[0], None);
        assert_eq!(t.jobs[1].map(|j| j.response()), Some(5));
        assert_eq!(t.end.map(|e| e.switches), Some(2));
        assert!(t.pass);
        assert_eq!(t.fail.as_deref(), Some("first"));
        assert_eq!(read("no trace here"), Ok(Trace::default()));
    }

    #[test]
    fn what_no_trace_may_hold_is_an_error_on_its_line() {
        let err = |records: &[Record]| read(&lines(records)).unwrap_err();
        // A run before the boot record is checked when the boot record comes.
        let e = err(&[run(5, 0, 1), boot(2)]);
        assert_eq!(e.line, 2);
        assert!(
            e.message
                .starts_with("job 5 is not in the scenario, whose jobs are 0 to 1")
        );
        assert_eq!(err(&[boot(2), run(2, 0, 1)]).line, 3);
        let e = err(&[boot(2), run(1, 9, 5)]);
        assert!(e.message.contains("ends before it starts"), "{}", e.message);
        let e = err(&[boot(2), boot(2)]);
        assert_eq!(
            (e.line, e.message.contains("second boot record")),
            (3, true)
        );
        let figures = Record::Job {
            job: 0,
            arrival: 0,
            first_run: 0,
            completion: 1,
            cpu: 1,
            wait: 0,
            work: 1,
        };
        let e = err(&[figures.clone(), boot(1)]);
        assert_eq!(e.message, "a job record before the boot record");
        let e = read("simk run job=x").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            e.message.starts_with("not a kernel trace record"),
            "{}",
            e.message
        );
    }

    fn examples() -> Vec<Record> {
        let mut v = vec![
            Record::Boot {
                policy: String::from("rr"),
                jobs: 3,
                tick: 1_000_000,
                tsc_hz: 2_000_000_000,
            },
            Record::Boot {
                policy: String::from("per-cpu(mlfq)=x"),
                jobs: u32::MAX,
                tick: 0,
                tsc_hz: u64::MAX,
            },
            Record::Job {
                job: 7,
                arrival: 1,
                first_run: 2,
                completion: 3,
                cpu: 4,
                wait: 5,
                work: u64::MAX,
            },
            Record::End {
                at: 40_000_000,
                ticks: 40,
                switches: 5,
                decisions: 7,
            },
            Record::Pass,
            Record::Fail {
                message: String::new(),
            },
            Record::Fail {
                message: String::from("  job 2 = never ran: queue=1 é  "),
            },
            Record::Fail {
                message: String::from("simk pass"),
            },
        ];
        for stop in STOPS {
            v.push(Record::Run {
                job: 2,
                start: 10_000_000,
                end: 20_000_000,
                stop,
            });
        }
        v
    }

    #[test]
    fn writes_the_documented_lines() {
        let run = Record::Run {
            job: 2,
            start: 10_000_000,
            end: 20_000_000,
            stop: Stop::Expired,
        };
        assert_eq!(
            run.to_string(),
            "simk run job=2 start=10000000 end=20000000 stop=expired"
        );
        assert_eq!(
            examples()[0].to_string(),
            "simk boot policy=rr jobs=3 tick=1000000 tsc_hz=2000000000"
        );
        assert_eq!(Record::Pass.to_string(), "simk pass");
        let names: Vec<&str> = STOPS.iter().map(|s| stop_name(*s)).collect();
        assert_eq!(names, ["expired", "preempted", "blocked", "finished"]);
    }

    #[test]
    fn every_record_round_trips() {
        for r in examples() {
            let line = r.to_string();
            assert!(!line.contains('\n') && !line.contains('\r'));
            assert_eq!(parse_line(&line), Some(Ok(r.clone())), "{line}");
            let crlf = alloc::format!("{line}\r");
            assert_eq!(parse_line(&crlf), Some(Ok(r.clone())), "{line}");
        }
    }

    #[test]
    fn display_keeps_a_record_on_one_line() {
        let r = Record::Fail {
            message: String::from("panicked at\r\nsrc/main.rs:3\n"),
        };
        assert_eq!(
            r.to_string(),
            "simk fail message=panicked at  src/main.rs:3 "
        );
        assert_eq!(
            parse_line(&r.to_string()),
            Some(Ok(Record::Fail {
                message: String::from("panicked at  src/main.rs:3 ")
            }))
        );
        let odd = Record::Boot {
            policy: String::from("a b\tc"),
            jobs: 1,
            tick: 1,
            tsc_hz: 1,
        };
        assert_eq!(
            odd.to_string(),
            "simk boot policy=a_b_c jobs=1 tick=1 tsc_hz=1"
        );
        let empty = Record::Boot {
            policy: String::new(),
            jobs: 1,
            tick: 1,
            tsc_hz: 1,
        };
        assert!(matches!(parse_line(&empty.to_string()), Some(Ok(_))));
    }

    #[test]
    fn other_lines_are_not_trace_lines() {
        for line in [
            "",
            "simk",
            "simkrun job=1",
            "simk-log booted: long mode",
            "Booting kernel...",
            " simk pass",
            "SIMK pass",
        ] {
            assert_eq!(parse_line(line), None, "{line}");
        }
    }

    #[test]
    fn tolerates_field_order_and_extra_spaces() {
        assert_eq!(
            parse_line("simk  run   stop=blocked end=9 job=1 start=3  "),
            Some(Ok(Record::Run {
                job: 1,
                start: 3,
                end: 9,
                stop: Stop::Blocked
            }))
        );
        assert_eq!(parse_line("simk pass \r\n"), Some(Ok(Record::Pass)));
    }

    #[test]
    fn bad_lines_are_errors() {
        let cases = [
            ("simk ", "no record kind"),
            ("simk walk", "unknown record kind `walk`"),
            ("simk run job=1 start=2 end=3", "lacks `stop`"),
            (
                "simk run job=1 start=2 end=3 stop=slept",
                "`stop` of `slept`",
            ),
            (
                "simk run job=1 start=2 end=3 stop=expired job=1",
                "`job` twice",
            ),
            (
                "simk run job=1 start=2 end=3 stop=expired cpu=0",
                "no field `cpu`",
            ),
            (
                "simk run job=4294967296 start=2 end=3 stop=expired",
                "32 bits",
            ),
            (
                "simk end at=1 ticks=2 switches=3 decisions=18446744073709551616",
                "64 bits",
            ),
            (
                "simk end at=-1 ticks=2 switches=3 decisions=4",
                "whole number",
            ),
            (
                "simk end at=1ms ticks=2 switches=3 decisions=4",
                "whole number",
            ),
            (
                "simk end at= ticks=2 switches=3 decisions=4",
                "whole number",
            ),
            (
                "simk end at ticks=2 switches=3 decisions=4",
                "not key=value",
            ),
            ("simk boot policy= jobs=1 tick=1 tsc_hz=1", "non-empty word"),
            (
                "simk boot policy=a\tb jobs=1 tick=1 tsc_hz=1",
                "non-empty word",
            ),
            ("simk pass now=1", "no field `now`"),
            ("simk fail", "needs `message=`"),
            ("simk fail oops", "needs `message=`"),
        ];
        for (line, want) in cases {
            match parse_line(line) {
                Some(Err(e)) => assert!(e.to_string().contains(want), "`{line}`: {e}"),
                other => panic!("`{line}`: {other:?}"),
            }
        }
    }

    fn check(line: &str) {
        if let Some(Ok(r)) = parse_line(line) {
            // What parses displays as a line that parses to a record displayed the same way.
            let again = parse_line(&r.to_string());
            let Some(Ok(again)) = again else {
                panic!("`{line}` gave {r:?}, which does not parse back: {again:?}")
            };
            assert_eq!(again.to_string(), r.to_string());
            if !matches!(r, Record::Fail { .. }) {
                assert_eq!(again, r);
            }
        }
    }

    #[test]
    fn never_panics_on_arbitrary_lines() {
        let mut rng = SplitMix64::new(0x7ace);
        let pieces = [
            " ",
            "=",
            "simk ",
            "run",
            "job",
            "boot",
            "end",
            "pass",
            "fail",
            "message=",
            "stop=",
            "expired",
            "0",
            "9",
            "18446744073709551615",
            "é",
            "\u{3000}",
            "\r",
            "\n",
            "\t",
            "-",
        ];
        let mut parsed = 0;
        for _ in 0..4_000 {
            let n = rng.below(60) as usize;
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            let mut line = String::from("simk ");
            line.push_str(&String::from_utf8_lossy(&bytes));
            check(&line);
            check(&String::from_utf8_lossy(&bytes));
            // Mutations of a valid line.
            let records = examples();
            let r = &records[rng.below(records.len() as u64) as usize];
            let mut chars: Vec<char> = r.to_string().chars().collect();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(chars.len() as u64 + 1) as usize;
                if rng.below(2) == 0 && at < chars.len() {
                    chars.remove(at);
                } else {
                    let piece = pieces[rng.below(pieces.len() as u64) as usize];
                    for (k, c) in piece.chars().enumerate() {
                        chars.insert(at + k, c);
                    }
                }
            }
            let line: String = chars.into_iter().collect();
            parsed += usize::from(matches!(parse_line(&line), Some(Ok(_))));
            check(&line);
        }
        assert!(parsed > 100, "some mutations still parse: {parsed}");
    }
}

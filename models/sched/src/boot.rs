//! The bare-metal kernel's command line (what QEMU's `-append` passes): the policy, the
//! machine's costs and the job mix. The host encodes a [`BootConfig`] with
//! [`BootConfig::to_cmdline`] and the kernel decodes it with [`BootConfig::parse`], so both
//! agree on the format by construction.
//!
//! # Format
//! Tokens separated by one or more spaces (any ASCII whitespace; leading and trailing
//! whitespace is ignored), each `key=value`, in any order except that jobs keep theirs:
//!
//! ```text
//! policy=rr quantum=10ms switch=0 tick=1ms job=cpu:50ms job=arrival:5ms,cpu:20ms,io_every:5ms,io:2ms
//! ```
//!
//! | key | value | default |
//! |---|---|---|
//! | `policy` | `fifo`, `sjf`, `stcf`, `rr`, `mlfq`, `lottery`, `stride` or `cfs` | required |
//! | `quantum` | duration > 0 (rr, mlfq, lottery, stride) | 10ms |
//! | `levels` | 1 to 64 (mlfq) | 3 |
//! | `allotment` | duration > 0 (mlfq) | 2 × quantum |
//! | `factor` | whole number (mlfq; 0 is taken as 1) | 2 |
//! | `boost` | duration > 0 (mlfq) | no boost |
//! | `io_resets` | `0` or `1` (mlfq: whether I/O resets a job's allotment) | 0 |
//! | `seed` | whole number (lottery) | 0 |
//! | `target_latency` | duration (cfs) | 48ms |
//! | `min_granularity` | duration (cfs) | 6ms |
//! | `switch` | duration: the context-switch cost | 0 |
//! | `tick` | duration > 0: the timer tick | 1ms |
//! | `fault` | `ud`, `pagefault`, `divide`, `panic` or `hang` (a deliberate fault) | none |
//! | `job` | `arrival:T,cpu:T,io_every:T,io:T,tickets:N,nice:N`, only `cpu` (> 0) required | arrival 0, no I/O, 100 tickets, nice 0 |
//!
//! A duration is a whole number with an optional unit `ns`, `us`, `ms` or `s` (none: ns), at
//! most [`BootConfig::MAX_DURATION`] (100 days, as in the simulator's scenarios). Nice is -20
//! to 19. There are 1 to [`BootConfig::MAX_JOBS`] jobs, with at most
//! [`BootConfig::MAX_BURSTS`] CPU and I/O bursts among them. A key may appear once, except
//! `job`; a policy parameter the chosen policy does not take is an error.
//! [`BootConfig::to_cmdline`] writes plain nanoseconds and only the parameters the policy has.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::fmt::Write as _;

use crate::Time;
use crate::machine::JobSpec;
use crate::spec::PolicyConfig;

/// One job of the mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootJob {
    pub arrival: Time,
    pub cpu: Time,
    /// I/O after every this much CPU time, lasting `io` (see [`JobSpec::periodic_io`]).
    pub io_every: Option<Time>,
    pub io: Time,
    pub tickets: u32,
    pub nice: i8,
}

impl BootJob {
    /// The job for a [`crate::machine::Machine`] or the kernel: its bursts, tickets and nice
    /// (any CPU).
    pub fn spec(&self) -> JobSpec {
        let mut spec = JobSpec::periodic_io(self.arrival, self.cpu, self.io_every, self.io);
        spec.job.tickets = self.tickets;
        spec.job.nice = self.nice;
        spec.job.affinity = 0;
        spec
    }

    /// How many bursts [`BootJob::spec`] makes, without making them.
    fn bursts(&self) -> u64 {
        match self.io_every.filter(|&e| e > 0 && self.io > 0) {
            Some(every) => self.cpu.div_ceil(every).saturating_mul(2).saturating_sub(1),
            None => 1,
        }
    }
}

/// A fault the kernel raises on purpose (to test its handlers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `ud`: an invalid opcode (`ud2`).
    InvalidOpcode,
    /// `pagefault`: a read of an unmapped page.
    PageFault,
    /// `divide`: a division by zero.
    DivideError,
    /// `panic`: a Rust panic.
    Panic,
    /// `hang`: never finishes (for the host's timeout).
    Hang,
    /// `triple`: an exception with no IDT to deliver it, so the CPU resets (a triple fault).
    TripleFault,
    /// `fpu`: context switches stop switching the FPU state (the next task gets the last one's
    /// registers), as in a kernel that forgot FXSAVE; the jobs' own checks must catch it.
    LoseFpu,
}

impl Fault {
    /// Every fault, in declaration order.
    pub const ALL: [Fault; 7] = [
        Fault::InvalidOpcode,
        Fault::PageFault,
        Fault::DivideError,
        Fault::Panic,
        Fault::Hang,
        Fault::TripleFault,
        Fault::LoseFpu,
    ];

    /// The fault with this command-line name, if any.
    pub fn from_name(name: &str) -> Option<Fault> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Its name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::InvalidOpcode => "ud",
            Fault::PageFault => "pagefault",
            Fault::DivideError => "divide",
            Fault::Panic => "panic",
            Fault::Hang => "hang",
            Fault::TripleFault => "triple",
            Fault::LoseFpu => "fpu",
        }
    }
}

/// What the kernel runs: a policy, the machine's costs, the jobs and an optional fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootConfig {
    pub policy: PolicyConfig,
    /// The context-switch cost.
    pub context_switch: Time,
    /// The timer tick.
    pub tick: Time,
    pub jobs: Vec<BootJob>,
    pub fault: Option<Fault>,
}

/// Why a command line does not parse: where (1-based, in chars of the whole line) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

fn err(column: usize, message: impl Into<String>) -> BootError {
    BootError {
        column,
        message: message.into(),
    }
}

const MS: Time = 1_000_000;

/// The policies by name, with what each takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fifo,
    Sjf,
    Stcf,
    Rr,
    Mlfq,
    Lottery,
    Stride,
    Cfs,
}

const POLICIES: [(&str, Kind); 8] = [
    ("fifo", Kind::Fifo),
    ("sjf", Kind::Sjf),
    ("stcf", Kind::Stcf),
    ("rr", Kind::Rr),
    ("mlfq", Kind::Mlfq),
    ("lottery", Kind::Lottery),
    ("stride", Kind::Stride),
    ("cfs", Kind::Cfs),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Policy,
    Quantum,
    Levels,
    Allotment,
    Factor,
    Boost,
    IoResets,
    Seed,
    TargetLatency,
    MinGranularity,
    Switch,
    Tick,
    Fault,
    Job,
}

const KEYS: [(&str, Key); 14] = [
    ("policy", Key::Policy),
    ("quantum", Key::Quantum),
    ("levels", Key::Levels),
    ("allotment", Key::Allotment),
    ("factor", Key::Factor),
    ("boost", Key::Boost),
    ("io_resets", Key::IoResets),
    ("seed", Key::Seed),
    ("target_latency", Key::TargetLatency),
    ("min_granularity", Key::MinGranularity),
    ("switch", Key::Switch),
    ("tick", Key::Tick),
    ("fault", Key::Fault),
    ("job", Key::Job),
];

impl Key {
    fn name(self) -> &'static str {
        KEYS.iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether `policy` takes this key (keys that are no policy parameter: always).
    fn taken_by(self, policy: Kind) -> bool {
        match self {
            Key::Quantum => matches!(policy, Kind::Rr | Kind::Mlfq | Kind::Lottery | Kind::Stride),
            Key::Levels | Key::Allotment | Key::Factor | Key::Boost | Key::IoResets => {
                policy == Kind::Mlfq
            }
            Key::Seed => policy == Kind::Lottery,
            Key::TargetLatency | Key::MinGranularity => policy == Kind::Cfs,
            Key::Policy | Key::Switch | Key::Tick | Key::Fault | Key::Job => true,
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    POLICIES
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("?", |(n, _)| n)
}

/// Why a number does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    /// Not a plain decimal number (or unit).
    Bad,
    Overflow,
}

/// A non-empty string of ASCII digits as a u64.
pub(crate) fn parse_u64(s: &str) -> Result<u64, NumError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumError::Bad);
    }
    s.bytes().try_fold(0u64, |v, b| {
        v.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(NumError::Overflow)
    })
}

/// A whole number with an optional unit `ns`, `us`, `ms` or `s` (none: ns), in ns.
fn parse_duration(s: &str) -> Result<Time, NumError> {
    let split = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    // Every byte before `split` is an ASCII digit, so `split` is a char boundary.
    let (Some(digits), Some(unit)) = (s.get(..split), s.get(split..)) else {
        return Err(NumError::Bad);
    };
    let scale = match unit {
        "" | "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return Err(NumError::Bad),
    };
    parse_u64(digits)?
        .checked_mul(scale)
        .ok_or(NumError::Overflow)
}

/// A duration value of `what` at `column`.
fn duration(column: usize, what: &str, s: &str) -> Result<Time, BootError> {
    match parse_duration(s) {
        Ok(v) if v > BootConfig::MAX_DURATION => Err(err(
            column,
            format!(
                "`{what}` of `{s}` is longer than 100 days: expected at most {} ns",
                BootConfig::MAX_DURATION
            ),
        )),
        Ok(v) => Ok(v),
        Err(NumError::Bad) => Err(err(
            column,
            format!(
                "`{what}` of `{s}`: expected a duration, a whole number with an optional unit \
                 ns, us, ms or s (such as 10ms)"
            ),
        )),
        Err(NumError::Overflow) => Err(err(
            column,
            format!("`{what}` of `{s}` overflows: expected at most 100 days"),
        )),
    }
}

/// A positive duration value of `what` at `column`.
fn positive(column: usize, what: &str, s: &str, why: &str) -> Result<Time, BootError> {
    match duration(column, what, s)? {
        0 => Err(err(column, format!("{why}: expected a positive duration"))),
        v => Ok(v),
    }
}

/// A whole number of `what` at `column`, at most `max`.
fn whole(column: usize, what: &str, s: &str, max: u64) -> Result<u64, BootError> {
    match parse_u64(s) {
        Ok(v) if v <= max => Ok(v),
        Ok(_) | Err(NumError::Overflow) => Err(err(
            column,
            format!("`{what}` of `{s}` is too large: expected at most {max}"),
        )),
        Err(NumError::Bad) => Err(err(
            column,
            format!("`{what}` of `{s}`: expected a whole number"),
        )),
    }
}

/// The 1-based column (in chars) of `s`'s byte `at`, `s` starting at `column`.
fn column_of(column: usize, s: &str, at: usize) -> usize {
    column + s.get(..at).map_or(0, |p| p.chars().count())
}

/// The line's tokens with their columns, and the column just past its last token.
fn tokens(line: &str) -> (Vec<(usize, &str)>, usize) {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut column = 0;
    let mut end = 1;
    for (at, c) in line.char_indices() {
        column += 1;
        if c.is_ascii_whitespace() {
            if let Some((from, col)) = start.take() {
                out.push((col, line.get(from..at).unwrap_or("")));
            }
        } else {
            end = column + 1;
            if start.is_none() {
                start = Some((at, column));
            }
        }
    }
    if let Some((from, col)) = start {
        out.push((col, line.get(from..).unwrap_or("")));
    }
    (out, end)
}

const JOB_FIELDS: &str = "arrival, cpu, io_every, io, tickets or nice";

/// A `job=` value starting at `column`.
fn parse_job(column: usize, value: &str) -> Result<BootJob, BootError> {
    let mut job = BootJob {
        arrival: 0,
        cpu: 0,
        io_every: None,
        io: 0,
        tickets: 100,
        nice: 0,
    };
    if value.is_empty() {
        return Err(err(
            column,
            "a job needs `cpu:`: expected such as job=cpu:50ms",
        ));
    }
    // Columns where each field was seen: arrival, cpu, io_every, io, tickets, nice.
    let mut seen: [Option<usize>; 6] = [None; 6];
    let mut at = column;
    for field in value.split(',') {
        let field_column = at;
        at += field.chars().count() + 1;
        let Some((name, v)) = field.split_once(':') else {
            return Err(err(
                field_column,
                format!(
                    "job field `{field}` is not NAME:VALUE: expected {JOB_FIELDS}, such as cpu:50ms"
                ),
            ));
        };
        let vc = field_column + name.chars().count() + 1;
        let index = match name {
            "arrival" => 0,
            "cpu" => 1,
            "io_every" => 2,
            "io" => 3,
            "tickets" => 4,
            "nice" => 5,
            _ => {
                return Err(err(
                    field_column,
                    format!("unknown job field `{name}`: expected {JOB_FIELDS}"),
                ));
            }
        };
        if let Some(Some(first)) = seen.get(index) {
            return Err(err(
                field_column,
                format!("job field `{name}` given twice (first at column {first})"),
            ));
        }
        if let Some(slot) = seen.get_mut(index) {
            *slot = Some(field_column);
        }
        match index {
            0 => job.arrival = duration(vc, "arrival", v)?,
            1 => job.cpu = positive(vc, "cpu", v, "a job needs some CPU time")?,
            2 => job.io_every = Some(duration(vc, "io_every", v)?),
            3 => job.io = duration(vc, "io", v)?,
            4 => job.tickets = whole(vc, "tickets", v, u64::from(u32::MAX))? as u32,
            _ => job.nice = parse_nice(vc, v)?,
        }
    }
    if seen[1].is_none() {
        return Err(err(
            column,
            "a job needs `cpu:`: expected such as job=cpu:50ms",
        ));
    }
    Ok(job)
}

fn parse_nice(column: usize, s: &str) -> Result<i8, BootError> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let bad = || {
        err(
            column,
            format!("`nice` of `{s}`: expected a whole number from -20 to 19"),
        )
    };
    let magnitude = match parse_u64(digits) {
        Ok(m) if m <= 20 => m as i8,
        _ => return Err(bad()),
    };
    let nice = if negative { -magnitude } else { magnitude };
    if nice > 19 {
        return Err(bad());
    }
    Ok(nice)
}

impl BootConfig {
    /// The timer tick when the line gives none: 1 ms.
    pub const DEFAULT_TICK: Time = 1_000_000;
    /// The most jobs a line may give.
    pub const MAX_JOBS: usize = 256;
    /// The longest duration a line may give: 100 days (the simulator's bound too), which keeps
    /// every sum of times far from overflow.
    pub const MAX_DURATION: Time = 100 * 86_400 * 1_000_000_000;
    /// The most CPU and I/O bursts all jobs together may have ([`BootJob::spec`] stores them,
    /// 16 bytes each, on a kernel heap of a few MiB).
    pub const MAX_BURSTS: u64 = 100_000;

    /// The command line: plain nanoseconds, only the parameters the policy has.
    pub fn to_cmdline(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write(&mut s);
        s
    }

    fn write(&self, s: &mut String) -> fmt::Result {
        write!(s, "policy={}", self.policy.name())?;
        match self.policy {
            PolicyConfig::Fifo | PolicyConfig::Sjf | PolicyConfig::Stcf => {}
            PolicyConfig::RoundRobin { quantum } | PolicyConfig::Stride { quantum } => {
                write!(s, " quantum={quantum}")?
            }
            PolicyConfig::Lottery { quantum, seed } => write!(s, " quantum={quantum} seed={seed}")?,
            PolicyConfig::Mlfq {
                levels,
                quantum,
                allotment,
                factor,
                boost,
                io_resets_allotment,
            } => {
                write!(
                    s,
                    " quantum={quantum} levels={levels} allotment={allotment} factor={factor}"
                )?;
                if let Some(b) = boost {
                    write!(s, " boost={b}")?;
                }
                write!(s, " io_resets={}", u8::from(io_resets_allotment))?;
            }
            PolicyConfig::Cfs {
                target_latency,
                min_granularity,
            } => write!(
                s,
                " target_latency={target_latency} min_granularity={min_granularity}"
            )?,
        }
        write!(s, " switch={} tick={}", self.context_switch, self.tick)?;
        if let Some(f) = self.fault {
            write!(s, " fault={}", f.name())?;
        }
        for j in &self.jobs {
            write!(s, " job=arrival:{},cpu:{}", j.arrival, j.cpu)?;
            if let Some(e) = j.io_every {
                write!(s, ",io_every:{e}")?;
            }
            if j.io_every.is_some() || j.io != 0 {
                write!(s, ",io:{}", j.io)?;
            }
            write!(s, ",tickets:{},nice:{}", j.tickets, j.nice)?;
        }
        Ok(())
    }

    /// Parses a command line (see the module docs). Never panics; every configuration it
    /// returns builds ([`PolicyConfig::build`]) and gives itself back through
    /// [`BootConfig::to_cmdline`].
    pub fn parse(line: &str) -> Result<BootConfig, BootError> {
        let (tokens, end) = tokens(line);
        // Where each key was first seen.
        let mut seen: [Option<usize>; KEYS.len()] = [None; KEYS.len()];
        let mut policy: Option<Kind> = None;
        let mut quantum = None;
        let mut levels = None;
        let mut allotment = None;
        let mut factor = None;
        let mut boost = None;
        let mut io_resets = false;
        let mut seed = None;
        let mut target_latency = None;
        let mut min_granularity = None;
        let mut switch = 0;
        let mut tick = Self::DEFAULT_TICK;
        let mut fault = None;
        let mut jobs: Vec<BootJob> = Vec::new();
        let mut bursts = 0u64;
        for &(column, token) in &tokens {
            let Some((name, value)) = token.split_once('=') else {
                return Err(err(
                    column,
                    format!("missing `=` in `{token}`: expected key=value, such as policy=rr"),
                ));
            };
            let Some(&(_, key)) = KEYS.iter().find(|(n, _)| *n == name) else {
                return Err(err(
                    column,
                    format!(
                        "unknown key `{name}`: expected policy, quantum, levels, allotment, \
                         factor, boost, io_resets, seed, target_latency, min_granularity, \
                         switch, tick, fault or job"
                    ),
                ));
            };
            if key != Key::Job {
                if let Some(first) = seen[key as usize] {
                    return Err(err(
                        column,
                        format!("`{name}` given twice (first at column {first})"),
                    ));
                }
            }
            if seen[key as usize].is_none() {
                seen[key as usize] = Some(column);
            }
            let vc = column_of(column, token, name.len() + 1);
            match key {
                Key::Policy => {
                    let Some(&(_, k)) = POLICIES.iter().find(|(n, _)| *n == value) else {
                        return Err(err(
                            vc,
                            format!(
                                "unknown policy `{value}`: expected fifo, sjf, stcf, rr, mlfq, \
                                 lottery, stride or cfs"
                            ),
                        ));
                    };
                    policy = Some(k);
                }
                Key::Quantum => {
                    quantum = Some(positive(
                        vc,
                        name,
                        value,
                        "a zero quantum would never let time advance",
                    )?)
                }
                Key::Levels => match parse_u64(value) {
                    Ok(n @ 1..=64) => levels = Some(n as u32),
                    _ => {
                        return Err(err(
                            vc,
                            format!("`levels` of `{value}`: MLFQ needs 1 to 64 levels"),
                        ));
                    }
                },
                Key::Allotment => {
                    allotment = Some(positive(
                        vc,
                        name,
                        value,
                        "an MLFQ allotment must be positive",
                    )?)
                }
                Key::Factor => factor = Some(whole(vc, name, value, u64::MAX)?),
                Key::Boost => {
                    boost = Some(positive(
                        vc,
                        name,
                        value,
                        "MLFQ's boost period must be positive (leave out `boost` for no boost)",
                    )?)
                }
                Key::IoResets => {
                    io_resets = match value {
                        "0" => false,
                        "1" => true,
                        _ => {
                            return Err(err(
                                vc,
                                format!("`io_resets` of `{value}`: expected 0 or 1"),
                            ));
                        }
                    }
                }
                Key::Seed => seed = Some(whole(vc, name, value, u64::MAX)?),
                Key::TargetLatency => target_latency = Some(duration(vc, name, value)?),
                Key::MinGranularity => min_granularity = Some(duration(vc, name, value)?),
                Key::Switch => switch = duration(vc, name, value)?,
                Key::Tick => {
                    tick = positive(vc, name, value, "a zero tick would never let time advance")?
                }
                Key::Fault => {
                    let Some(f) = Fault::ALL.iter().find(|f| f.name() == value) else {
                        return Err(err(
                            vc,
                            format!(
                                "unknown fault `{value}`: expected ud, pagefault, divide, panic \
                                 or hang"
                            ),
                        ));
                    };
                    fault = Some(*f);
                }
                Key::Job => {
                    if jobs.len() >= Self::MAX_JOBS {
                        return Err(err(column, format!("more than {} jobs", Self::MAX_JOBS)));
                    }
                    let job = parse_job(vc, value)?;
                    bursts = bursts.saturating_add(job.bursts());
                    if bursts > Self::MAX_BURSTS {
                        return Err(err(
                            column,
                            format!(
                                "the jobs add up to more than {} CPU and I/O bursts: expected a \
                                 longer io_every or less CPU time",
                                Self::MAX_BURSTS
                            ),
                        ));
                    }
                    jobs.push(job);
                }
            }
        }
        let Some(kind) = policy else {
            return Err(err(
                1,
                "missing `policy=`: expected fifo, sjf, stcf, rr, mlfq, lottery, stride or cfs",
            ));
        };
        // The leftmost parameter the policy does not take.
        if let Some((column, key)) = KEYS
            .iter()
            .filter_map(|&(_, k)| seen[k as usize].map(|c| (c, k)))
            .filter(|&(_, k)| !k.taken_by(kind))
            .min_by_key(|&(c, _)| c)
        {
            return Err(err(
                column,
                format!("{} takes no `{}`", kind_name(kind), key.name()),
            ));
        }
        if jobs.is_empty() {
            return Err(err(end, "no jobs: expected at least one job=cpu:T"));
        }
        let quantum_or_default = quantum.unwrap_or(10 * MS);
        let policy = match kind {
            Kind::Fifo => PolicyConfig::Fifo,
            Kind::Sjf => PolicyConfig::Sjf,
            Kind::Stcf => PolicyConfig::Stcf,
            Kind::Rr => PolicyConfig::RoundRobin {
                quantum: quantum_or_default,
            },
            Kind::Mlfq => {
                let allotment = match allotment {
                    Some(a) => a,
                    None => {
                        let a = quantum_or_default.saturating_mul(2);
                        if a > Self::MAX_DURATION {
                            return Err(err(
                                seen[Key::Quantum as usize].unwrap_or(1),
                                "the default allotment, 2 × quantum, is longer than 100 days: \
                                 expected a shorter quantum or an `allotment=`",
                            ));
                        }
                        a
                    }
                };
                PolicyConfig::Mlfq {
                    levels: levels.unwrap_or(3),
                    quantum: quantum_or_default,
                    allotment,
                    factor: factor.unwrap_or(2),
                    boost,
                    io_resets_allotment: io_resets,
                }
            }
            Kind::Lottery => PolicyConfig::Lottery {
                quantum: quantum_or_default,
                seed: seed.unwrap_or(0),
            },
            Kind::Stride => PolicyConfig::Stride {
                quantum: quantum_or_default,
            },
            Kind::Cfs => PolicyConfig::Cfs {
                target_latency: target_latency.unwrap_or(48 * MS),
                min_granularity: min_granularity.unwrap_or(6 * MS),
            },
        };
        Ok(BootConfig {
            policy,
            context_switch: switch,
            tick,
            jobs,
            fault,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Burst;
    use crate::rng::SplitMix64;
    use alloc::string::ToString;
    use alloc::vec;

    fn job(cpu: Time) -> BootJob {
        BootJob {
            arrival: 0,
            cpu,
            io_every: None,
            io: 0,
            tickets: 100,
            nice: 0,
        }
    }

    fn config(policy: PolicyConfig) -> BootConfig {
        BootConfig {
            policy,
            context_switch: 0,
            tick: BootConfig::DEFAULT_TICK,
            jobs: vec![job(50 * MS)],
            fault: None,
        }
    }

    fn every_policy() -> Vec<PolicyConfig> {
        vec![
            PolicyConfig::Fifo,
            PolicyConfig::Sjf,
            PolicyConfig::Stcf,
            PolicyConfig::RoundRobin { quantum: 10 * MS },
            PolicyConfig::Mlfq {
                levels: 3,
                quantum: 10 * MS,
                allotment: 20 * MS,
                factor: 2,
                boost: None,
                io_resets_allotment: false,
            },
            PolicyConfig::Mlfq {
                levels: 64,
                quantum: 1,
                allotment: 7,
                factor: 0,
                boost: Some(1_000),
                io_resets_allotment: true,
            },
            PolicyConfig::Lottery {
                quantum: 3,
                seed: u64::MAX,
            },
            PolicyConfig::Stride { quantum: 5 * MS },
            PolicyConfig::Cfs {
                target_latency: 0,
                min_granularity: 0,
            },
            PolicyConfig::Cfs {
                target_latency: 48 * MS,
                min_granularity: 6 * MS,
            },
        ]
    }

    fn parse_err(line: &str) -> (usize, String) {
        match BootConfig::parse(line) {
            Err(e) => (e.column, e.message),
            Ok(c) => panic!("`{line}` parsed as {c:?}"),
        }
    }

    #[test]
    fn writes_the_documented_line() {
        let c = config(PolicyConfig::RoundRobin { quantum: 10 * MS });
        assert_eq!(
            c.to_cmdline(),
            "policy=rr quantum=10000000 switch=0 tick=1000000 job=arrival:0,cpu:50000000,tickets:100,nice:0"
        );
        let mut c = config(PolicyConfig::Fifo);
        c.fault = Some(Fault::PageFault);
        c.jobs[0].io_every = Some(5);
        c.jobs[0].io = 2;
        assert_eq!(
            c.to_cmdline(),
            "policy=fifo switch=0 tick=1000000 fault=pagefault job=arrival:0,cpu:50000000,io_every:5,io:2,tickets:100,nice:0"
        );
    }

    #[test]
    fn every_policy_round_trips() {
        for p in every_policy() {
            let mut c = config(p);
            c.context_switch = 3_000;
            c.tick = 7;
            c.jobs.push(BootJob {
                arrival: BootConfig::MAX_DURATION,
                cpu: 1,
                io_every: Some(0),
                io: 0,
                tickets: u32::MAX,
                nice: -20,
            });
            c.jobs.push(BootJob {
                arrival: 5,
                cpu: 100,
                io_every: None,
                io: 9,
                tickets: 0,
                nice: 19,
            });
            c.jobs.push(BootJob {
                arrival: 5,
                cpu: 100,
                io_every: Some(30),
                io: 9,
                tickets: 1,
                nice: 0,
            });
            let line = c.to_cmdline();
            assert_eq!(BootConfig::parse(&line), Ok(c.clone()), "{line}");
            assert!(c.policy.build(0).is_ok());
            for fault in Fault::ALL {
                c.fault = Some(fault);
                assert_eq!(BootConfig::parse(&c.to_cmdline()), Ok(c.clone()));
            }
        }
    }

    #[test]
    fn every_fault_has_its_name() {
        let names: Vec<&str> = Fault::ALL.iter().map(Fault::name).collect();
        assert_eq!(
            names,
            [
                "ud",
                "pagefault",
                "divide",
                "panic",
                "hang",
                "triple",
                "fpu"
            ]
        );
        assert_eq!(Fault::from_name("hang"), Some(Fault::Hang));
        assert_eq!(Fault::from_name("Hang"), None);
        for f in Fault::ALL {
            assert_eq!(Fault::from_name(f.name()), Some(f));
            let line = alloc::format!("policy=fifo fault={} job=cpu:1", f.name());
            assert_eq!(BootConfig::parse(&line).map(|c| c.fault), Ok(Some(f)));
        }
    }

    #[test]
    fn defaults_match_the_scenario_language() {
        let policy = |line: &str| BootConfig::parse(line).map(|c| c.policy);
        assert_eq!(
            policy("policy=rr job=cpu:1"),
            Ok(PolicyConfig::RoundRobin { quantum: 10 * MS })
        );
        assert_eq!(
            policy("policy=mlfq job=cpu:1"),
            Ok(PolicyConfig::Mlfq {
                levels: 3,
                quantum: 10 * MS,
                allotment: 20 * MS,
                factor: 2,
                boost: None,
                io_resets_allotment: false,
            })
        );
        assert_eq!(
            policy("policy=mlfq quantum=4ms job=cpu:1"),
            Ok(PolicyConfig::Mlfq {
                levels: 3,
                quantum: 4 * MS,
                allotment: 8 * MS,
                factor: 2,
                boost: None,
                io_resets_allotment: false,
            })
        );
        assert_eq!(
            policy("policy=lottery job=cpu:1"),
            Ok(PolicyConfig::Lottery {
                quantum: 10 * MS,
                seed: 0
            })
        );
        assert_eq!(
            policy("policy=stride job=cpu:1"),
            Ok(PolicyConfig::Stride { quantum: 10 * MS })
        );
        assert_eq!(
            policy("policy=cfs job=cpu:1"),
            Ok(PolicyConfig::Cfs {
                target_latency: 48 * MS,
                min_granularity: 6 * MS,
            })
        );
        let c = BootConfig::parse("  policy=fifo \t job=cpu:1  ").expect("parses");
        assert_eq!(c.context_switch, 0);
        assert_eq!(c.tick, BootConfig::DEFAULT_TICK);
        assert_eq!(c.fault, None);
        assert_eq!(c.jobs, vec![job(1)]);
    }

    #[test]
    fn parses_durations_with_units() {
        let cpu = |t: &str| {
            BootConfig::parse(&alloc::format!("policy=fifo job=cpu:{t}")).map(|c| c.jobs[0].cpu)
        };
        assert_eq!(cpu("15"), Ok(15));
        assert_eq!(cpu("15ns"), Ok(15));
        assert_eq!(cpu("15us"), Ok(15_000));
        assert_eq!(cpu("15ms"), Ok(15_000_000));
        assert_eq!(cpu("15s"), Ok(15_000_000_000));
        assert_eq!(cpu("0015ms"), Ok(15_000_000));
        assert_eq!(cpu("8640000s"), Ok(BootConfig::MAX_DURATION));
        for bad in [
            "", "ms", "1.5ms", "-1", "+1", "1 ms", "1m", "1sec", "1MS", "１",
        ] {
            let line = alloc::format!("policy=fifo job=cpu:{bad}");
            assert!(BootConfig::parse(&line).is_err(), "{bad}");
        }
        let (column, message) = parse_err("policy=fifo job=cpu:1.5ms");
        assert_eq!(column, 21);
        assert!(message.contains("expected a duration"), "{message}");
        let (column, message) = parse_err("policy=fifo job=cpu:8640001s");
        assert_eq!(column, 21);
        assert!(message.contains("longer than 100 days"), "{message}");
        let (column, message) = parse_err("policy=fifo job=cpu:18446744073709551616");
        assert_eq!(column, 21);
        assert!(message.contains("overflows"), "{message}");
        let (column, message) = parse_err("policy=fifo job=cpu:18446744073710s");
        assert_eq!(column, 21);
        assert!(message.contains("overflows"), "{message}");
        let (column, _) = parse_err("policy=fifo switch=2h job=cpu:1");
        assert_eq!(column, 20);
    }

    #[test]
    fn each_error_has_its_column() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "policy=fifo colour=red job=cpu:1",
                13,
                "unknown key `colour`",
            ),
            ("policy=fifo job=cpu:1 verbose", 23, "missing `=`"),
            ("policy=fifo tick=fast job=cpu:1", 18, "expected a duration"),
            (
                "policy=round-robin job=cpu:1",
                8,
                "unknown policy `round-robin`",
            ),
            (
                "policy=fifo fault=oops job=cpu:1",
                19,
                "unknown fault `oops`",
            ),
            (
                "policy=fifo quantum=5ms job=cpu:1",
                13,
                "fifo takes no `quantum`",
            ),
            (
                "quantum=5ms policy=cfs job=cpu:1",
                1,
                "cfs takes no `quantum`",
            ),
            ("policy=rr seed=1 job=cpu:1", 11, "rr takes no `seed`"),
            (
                "policy=lottery levels=2 job=cpu:1",
                16,
                "lottery takes no `levels`",
            ),
            (
                "policy=mlfq target_latency=1 job=cpu:1",
                13,
                "mlfq takes no `target_latency`",
            ),
            (
                "policy=stride io_resets=1 job=cpu:1",
                15,
                "stride takes no `io_resets`",
            ),
            (
                "policy=rr tick=1 tick=2 job=cpu:1",
                18,
                "`tick` given twice (first at column 11)",
            ),
            ("policy=rr policy=rr job=cpu:1", 11, "`policy` given twice"),
            ("job=cpu:1", 1, "missing `policy=`"),
            ("", 1, "missing `policy=`"),
            ("policy=fifo", 12, "no jobs"),
            ("policy=fifo   ", 12, "no jobs"),
            ("policy=fifo job=arrival:5", 17, "a job needs `cpu:`"),
            ("policy=fifo job=", 17, "a job needs `cpu:`"),
            ("policy=fifo job=cpu:0", 21, "a job needs some CPU time"),
            (
                "policy=fifo job=cpu:1,colour:red",
                23,
                "unknown job field `colour`",
            ),
            ("policy=fifo job=cpu:1,", 23, "is not NAME:VALUE"),
            (
                "policy=fifo job=cpu:1,cpu:2",
                23,
                "job field `cpu` given twice",
            ),
            ("policy=fifo job=cpu:1,nice:20", 28, "from -20 to 19"),
            ("policy=fifo job=cpu:1,nice:-21", 28, "from -20 to 19"),
            ("policy=fifo job=cpu:1,tickets:4294967296", 31, "too large"),
            (
                "policy=fifo job=cpu:1,tickets:x",
                31,
                "expected a whole number",
            ),
            ("policy=fifo tick=0 job=cpu:1", 18, "a zero tick"),
            ("policy=rr quantum=0ms job=cpu:1", 19, "a zero quantum"),
            ("policy=mlfq levels=0 job=cpu:1", 20, "1 to 64 levels"),
            ("policy=mlfq levels=65 job=cpu:1", 20, "1 to 64 levels"),
            (
                "policy=mlfq allotment=0 job=cpu:1",
                23,
                "allotment must be positive",
            ),
            (
                "policy=mlfq boost=0 job=cpu:1",
                19,
                "boost period must be positive",
            ),
            ("policy=mlfq io_resets=yes job=cpu:1", 23, "expected 0 or 1"),
            (
                "policy=lottery seed=-1 job=cpu:1",
                21,
                "expected a whole number",
            ),
            (
                "policy=mlfq quantum=60d job=cpu:1",
                21,
                "expected a duration",
            ),
            (
                "policy=mlfq quantum=5000000s job=cpu:1",
                13,
                "the default allotment",
            ),
            (
                "policy=fifo job=cpu:3s,io_every:1us,io:1",
                13,
                "more than 100000 CPU and I/O bursts",
            ),
            // Columns count chars, not bytes.
            ("policy=fifo job=cpu:1 é=1", 23, "unknown key `é`"),
            ("ü policy=fifo job=cpu:1", 1, "missing `=` in `ü`"),
            ("policy=fifo fault=ü job=cpu:1 zz", 19, "unknown fault `ü`"),
            ("policy=fifo job=cpu:1,ü:1", 23, "unknown job field `ü`"),
            ("policy=fifo job=ééé:1", 17, "unknown job field `ééé`"),
            ("policy=fifo job=cpu:1,nice:ü", 28, "from -20 to 19"),
        ];
        for &(line, column, message) in cases {
            let (got_column, got) = parse_err(line);
            assert!(got.contains(message), "`{line}`: {got}");
            assert_eq!(got_column, column, "`{line}`: {got}");
        }
        let e = BootConfig::parse("policy=fifo quantum=5ms job=cpu:1").unwrap_err();
        assert_eq!(e.message, "fifo takes no `quantum`");
        assert_eq!(e.to_string(), "column 13: fifo takes no `quantum`");
    }

    #[test]
    fn at_most_max_jobs() {
        let mut line = String::from("policy=rr");
        for _ in 0..BootConfig::MAX_JOBS {
            line.push_str(" job=cpu:1ms");
        }
        let c = BootConfig::parse(&line).expect("256 jobs parse");
        assert_eq!(c.jobs.len(), BootConfig::MAX_JOBS);
        assert_eq!(BootConfig::parse(&c.to_cmdline()), Ok(c));
        let column = line.chars().count() + 2;
        line.push_str(" job=cpu:1ms");
        assert_eq!(
            BootConfig::parse(&line),
            Err(err(column, "more than 256 jobs"))
        );
    }

    #[test]
    fn jobs_keep_their_order_and_fields() {
        let c = BootConfig::parse(
            "job=cpu:5ms,arrival:1ms policy=stcf job=nice:-3,cpu:2,io_every:1,io:4us,tickets:7 \
             switch=5us tick=2ms",
        )
        .expect("parses");
        assert_eq!(c.policy, PolicyConfig::Stcf);
        assert_eq!(c.context_switch, 5_000);
        assert_eq!(c.tick, 2 * MS);
        assert_eq!(
            c.jobs,
            vec![
                BootJob {
                    arrival: MS,
                    cpu: 5 * MS,
                    io_every: None,
                    io: 0,
                    tickets: 100,
                    nice: 0
                },
                BootJob {
                    arrival: 0,
                    cpu: 2,
                    io_every: Some(1),
                    io: 4_000,
                    tickets: 7,
                    nice: -3
                },
            ]
        );
        assert_eq!(BootConfig::parse(&c.to_cmdline()), Ok(c.clone()));
        let specs: Vec<JobSpec> = c.jobs.iter().map(BootJob::spec).collect();
        assert_eq!(specs[0], JobSpec::cpu(MS, 5 * MS));
        assert_eq!(
            specs[1].bursts,
            vec![Burst::Cpu(1), Burst::Io(4_000), Burst::Cpu(1)]
        );
        assert_eq!(
            (
                specs[1].job.tickets,
                specs[1].job.nice,
                specs[1].job.affinity
            ),
            (7, -3, 0)
        );
        assert_eq!(c.jobs[1].bursts(), 3);
    }

    #[test]
    fn burst_count_matches_the_spec() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..500 {
            let j = BootJob {
                arrival: 0,
                cpu: 1 + rng.below(200),
                io_every: [None, Some(0), Some(1 + rng.below(50))][rng.below(3) as usize],
                io: rng.below(3),
                tickets: 100,
                nice: 0,
            };
            assert_eq!(j.bursts(), j.spec().bursts.len() as u64, "{j:?}");
        }
    }

    /// A random valid configuration.
    fn random_config(rng: &mut SplitMix64) -> BootConfig {
        let time = |rng: &mut SplitMix64| match rng.below(4) {
            0 => 0,
            1 => 1 + rng.below(1_000),
            2 => rng.below(10_000) * MS,
            _ => rng.below(BootConfig::MAX_DURATION + 1),
        };
        let positive = |t: Time| t.max(1);
        let policy = match rng.below(8) {
            0 => PolicyConfig::Fifo,
            1 => PolicyConfig::Sjf,
            2 => PolicyConfig::Stcf,
            3 => PolicyConfig::RoundRobin {
                quantum: positive(time(rng)),
            },
            4 => PolicyConfig::Mlfq {
                levels: 1 + rng.below(64) as u32,
                quantum: positive(time(rng)),
                allotment: positive(time(rng)),
                factor: rng.next_u64() >> rng.below(64),
                boost: if rng.below(2) == 0 {
                    None
                } else {
                    Some(positive(time(rng)))
                },
                io_resets_allotment: rng.below(2) == 0,
            },
            5 => PolicyConfig::Lottery {
                quantum: positive(time(rng)),
                seed: rng.next_u64(),
            },
            6 => PolicyConfig::Stride {
                quantum: positive(time(rng)),
            },
            _ => PolicyConfig::Cfs {
                target_latency: time(rng),
                min_granularity: time(rng),
            },
        };
        let jobs = (0..1 + rng.below(8))
            .map(|_| {
                let io_every = match rng.below(3) {
                    0 => None,
                    1 => Some(0),
                    _ => Some(BootConfig::MAX_DURATION / (1 + rng.below(100))),
                };
                BootJob {
                    arrival: time(rng),
                    cpu: positive(time(rng)),
                    io_every,
                    io: time(rng),
                    tickets: rng.next_u64() as u32,
                    nice: rng.below(40) as i8 - 20,
                }
            })
            .collect();
        BootConfig {
            policy,
            context_switch: time(rng),
            tick: positive(time(rng)),
            jobs,
            fault: [None, Some(Fault::Hang), Some(Fault::InvalidOpcode)][rng.below(3) as usize],
        }
    }

    #[test]
    fn random_valid_configurations_round_trip_and_build() {
        let mut rng = SplitMix64::new(1);
        for _ in 0..2_000 {
            let c = random_config(&mut rng);
            let line = c.to_cmdline();
            assert_eq!(BootConfig::parse(&line), Ok(c.clone()), "{line}");
            assert!(c.policy.build(1).is_ok(), "{c:?}");
        }
    }

    /// Whatever parses builds, round-trips, and its jobs make valid machine jobs.
    fn check_parsed(line: &str) {
        if let Ok(c) = BootConfig::parse(line) {
            assert_eq!(
                BootConfig::parse(&c.to_cmdline()),
                Ok(c.clone()),
                "`{line}`"
            );
            assert!(c.policy.build(0).is_ok(), "`{line}`");
            assert!(!c.jobs.is_empty() && c.jobs.len() <= BootConfig::MAX_JOBS);
        }
    }

    #[test]
    fn never_panics_on_random_bytes() {
        let mut rng = SplitMix64::new(0xb007);
        let alphabet: Vec<char> = "policy=rrfoslmqtey_kchbj:,0123456789 nsum\t=é∞\u{0}\u{10ffff}"
            .chars()
            .collect();
        for _ in 0..3_000 {
            let n = rng.below(80) as usize;
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            check_parsed(&String::from_utf8_lossy(&bytes));
            let s: String = (0..n)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            check_parsed(&s);
        }
    }

    #[test]
    fn never_panics_on_mutated_lines() {
        let mut rng = SplitMix64::new(0x5eed);
        let pieces = [
            "=",
            ":",
            ",",
            " ",
            "0",
            "9",
            "ms",
            "s",
            "us",
            "é",
            "∞",
            "policy=",
            "job=",
            "cpu:",
            "io_every:",
            "nice:-",
            "quantum=",
            "boost=",
            "levels=",
            "18446744073709551615",
            "\u{7f}",
            "\r",
            "\n",
        ];
        let mut accepted = 0;
        for _ in 0..4_000 {
            let mut line: Vec<char> = random_config(&mut rng).to_cmdline().chars().collect();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(line.len() as u64 + 1) as usize;
                match rng.below(3) {
                    0 if at < line.len() => {
                        line.remove(at);
                    }
                    1 if at < line.len() => {
                        let end = (at + 1 + rng.below(8) as usize).min(line.len());
                        line.drain(at..end);
                    }
                    _ => {
                        let piece = pieces[rng.below(pieces.len() as u64) as usize];
                        for (k, c) in piece.chars().enumerate() {
                            line.insert(at + k, c);
                        }
                    }
                }
            }
            let line: String = line.into_iter().collect();
            accepted += usize::from(BootConfig::parse(&line).is_ok());
            check_parsed(&line);
        }
        assert!(accepted > 100, "some mutations are still valid: {accepted}");
    }
}

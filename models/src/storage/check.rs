//! The crash-recovery checker, and a seeded sweep that drives the whole stack into crashes.
//!
//! **The model** ([`Model`]) records, per key, every write attempted in order and which were
//! acknowledged. After a crash and recovery, a key may hold the value of its last acknowledged
//! write or of any write attempted after it (those may or may not have reached the disk), and
//! nothing else; a key never acknowledged may also hold its value from before (absent at the
//! start). Anything else is a [`Violation`]: **lost** when the recovered value is older than
//! the last acknowledged one (durability), **invented** when it was never written to that key
//! at all (corruption, a torn record replayed, a key from nowhere).
//!
//! **The sweep** ([`run_seed`]): one seed builds a disk, a file system and an engine, runs a
//! random sequence of puts, deletes and gets against them with faults (a window of failing
//! writes, torn and surviving unflushed writes) and cuts the power at a random block request:
//! a crash at an arbitrary instant, mid-operation. An operation during which the power failed
//! is never acknowledged (its caller died with the machine). Then the stack recovers and the
//! model checks the engine's full contents. The planted [`Bugs`] are each caught within a
//! bounded number of seeds; the correct engine passes every seed (see the tests).

use std::collections::BTreeMap;
use std::fmt;

use simcore::RngStream;

use super::block::BlockDevice;
use super::fs::{Fs, FsConfig};
use super::kv::{Bugs, Kv, KvOptions};

/// What went wrong with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ViolationKind {
    /// An acknowledged write is missing: the key holds an older value.
    Lost,
    /// The key holds a value never written to it.
    Invented,
    /// The stack could not recover at all (the key is empty).
    Unrecoverable,
}

/// One failed check, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    pub key: Vec<u8>,
    pub expected: String,
    pub got: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ViolationKind::Lost => "an acknowledged write was lost",
            ViolationKind::Invented => "a value never written appeared",
            ViolationKind::Unrecoverable => "recovery failed",
        };
        write!(
            f,
            "key {}: {what}: expected {}, got {}",
            show(Some(&self.key)),
            self.expected,
            self.got
        )
    }
}

/// A value for a message: quoted text or hex, cut at 40 bytes; "nothing" for an absent key.
fn show(v: Option<&[u8]>) -> String {
    let Some(v) = v else {
        return "nothing".to_string();
    };
    let cut = &v[..v.len().min(40)];
    let text = match std::str::from_utf8(cut) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
        _ => cut.iter().map(|b| format!("{b:02x}")).collect(),
    };
    if v.len() > 40 {
        format!("{text}… ({} bytes)", v.len())
    } else {
        text
    }
}

/// A write attempted on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attempt {
    value: Option<Vec<u8>>,
    acked: bool,
}

/// Handle on an attempted write, to acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteId {
    key: Vec<u8>,
    index: usize,
}

/// Acknowledged and attempted writes, per key.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Per key: what it held when the model started (acknowledged by definition), then the
    /// writes attempted since, in order.
    keys: BTreeMap<Vec<u8>, Vec<Attempt>>,
}

impl Model {
    /// A model of an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A write (`None`: a delete) is about to be issued.
    pub fn attempt(&mut self, key: &[u8], value: Option<&[u8]>) -> WriteId {
        let writes = self.history(key);
        writes.push(Attempt {
            value: value.map(<[u8]>::to_vec),
            acked: false,
        });
        WriteId {
            key: key.to_vec(),
            index: writes.len() - 1,
        }
    }

    /// The write returned success.
    pub fn acknowledge(&mut self, id: &WriteId) {
        if let Some(a) = self.keys.get_mut(&id.key).and_then(|w| w.get_mut(id.index)) {
            a.acked = true;
        }
    }

    /// Writes acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.keys
            .values()
            .flat_map(|w| w.iter().skip(1))
            .filter(|a| a.acked)
            .count()
    }

    /// Checks a recovered store's full contents.
    pub fn check(&self, recovered: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<Violation> {
        let mut out = Vec::new();
        for (key, writes) in &self.keys {
            if let Some(v) = judge(key, writes, recovered.get(key).map(Vec::as_slice)) {
                out.push(v);
            }
        }
        for (key, value) in recovered {
            if !self.keys.contains_key(key) {
                out.push(Violation {
                    kind: ViolationKind::Invented,
                    key: key.clone(),
                    expected: "nothing (never written)".to_string(),
                    got: show(Some(value)),
                });
            }
        }
        out
    }

    /// After a recovery the recovered contents are what later writes build on.
    pub fn reset_to(&mut self, recovered: &BTreeMap<Vec<u8>, Vec<u8>>) {
        self.keys = recovered
            .iter()
            .map(|(k, v)| (k.clone(), vec![baseline(Some(v.clone()))]))
            .collect();
    }

    /// A key's writes, starting from its baseline (absent) on first use.
    fn history(&mut self, key: &[u8]) -> &mut Vec<Attempt> {
        self.keys
            .entry(key.to_vec())
            .or_insert_with(|| vec![baseline(None)])
    }
}

fn baseline(value: Option<Vec<u8>>) -> Attempt {
    Attempt { value, acked: true }
}

/// One key's recovered value against its writes: allowed are the last acknowledged write
/// (the baseline at worst) and every write after it.
fn judge(key: &[u8], writes: &[Attempt], got: Option<&[u8]>) -> Option<Violation> {
    let last_ack = writes.iter().rposition(|a| a.acked).unwrap_or(0);
    let allowed = &writes[last_ack..];
    if allowed.iter().any(|a| a.value.as_deref() == got) {
        return None;
    }
    let older = writes[..last_ack].iter().any(|a| a.value.as_deref() == got);
    let mut expected = show(allowed[0].value.as_deref());
    if allowed.len() > 1 {
        expected += &format!(" or one of {} later writes", allowed.len() - 1);
    }
    Some(Violation {
        kind: if older || got.is_none() {
            ViolationKind::Lost
        } else {
            ViolationKind::Invented
        },
        key: key.to_vec(),
        expected,
        got: show(got),
    })
}

/// One crash sweep's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    /// Operations before the crash (fewer when the power fails first).
    pub ops: usize,
    /// Distinct keys (fewer means more overwrites).
    pub keys: u64,
    /// Values are 12 to `max_value` bytes.
    pub max_value: usize,
    pub disk_sectors: u64,
    pub fs: FsConfig,
    pub kv: KvOptions,
    /// Half the seeds get a window of 1 to 10 operations during which writes fail.
    pub fail_fsync: bool,
    pub torn: bool,
    pub unflushed_survive: f64,
}

impl Default for SweepConfig {
    /// Small enough that a seed takes about a millisecond, busy enough that seeds flush,
    /// compact and write back under the dirty limit.
    fn default() -> Self {
        SweepConfig {
            ops: 80,
            keys: 12,
            max_value: 700,
            disk_sectors: 16 * 1024,
            fs: FsConfig {
                dirty_limit_pages: 4,
                cache_pages: 32,
                readahead_pages: 4,
                journal_sectors: 16,
            },
            kv: KvOptions {
                memtable_bytes: 4096,
                wal_bytes: 16 * 1024,
                max_runs: 3,
                bugs: Bugs::default(),
            },
            fail_fsync: true,
            torn: true,
            unflushed_survive: 0.5,
        }
    }
}

/// What one seed did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOutcome {
    pub violations: Vec<Violation>,
    pub attempted: usize,
    pub acknowledged: usize,
    /// Block requests issued, recovery included.
    pub requests: usize,
}

/// Runs one seed of the sweep (see the module docs).
pub fn run_seed(seed: u64, cfg: &SweepConfig) -> SeedOutcome {
    let mut wl = RngStream::derive(seed, "storage.workload");
    let mut dev = BlockDevice::new(cfg.disk_sectors, RngStream::derive(seed, "storage.disk"));
    dev.faults_mut().torn = cfg.torn;
    dev.faults_mut().unflushed_survive = cfg.unflushed_survive;
    let mut fs = Fs::format(dev, cfg.fs.clone());
    let mut io = Vec::new();
    let mut model = Model::new();
    let mut outcome = SeedOutcome {
        violations: Vec::new(),
        attempted: 0,
        acknowledged: 0,
        requests: 0,
    };
    let unrecoverable = |e: String| Violation {
        kind: ViolationKind::Unrecoverable,
        key: Vec::new(),
        expected: "a store to check".to_string(),
        got: e,
    };
    let mut kv = match Kv::open(&mut fs, cfg.kv, &mut io) {
        Ok(kv) => kv,
        Err(e) => {
            outcome.violations.push(unrecoverable(e.to_string()));
            return outcome;
        }
    };
    let window = if cfg.fail_fsync && wl.chance(0.5) {
        let start = wl.below(cfg.ops as u64) as usize;
        start..start + 1 + wl.below(10) as usize
    } else {
        0..0
    };
    let cut = wl.below(cfg.ops as u64 * 4);
    fs.device_mut().cut_power_after(cut);
    for i in 0..cfg.ops {
        fs.device_mut().faults_mut().fail_writes = window.contains(&i);
        let key = format!("key{}", wl.below(cfg.keys)).into_bytes();
        let roll = wl.below(10);
        if roll >= 8 {
            let _ = kv.get(&mut fs, &key, &mut io);
        } else {
            let value = (roll < 7).then(|| value(seed, i as u64, &mut wl, cfg.max_value));
            let id = model.attempt(&key, value.as_deref());
            outcome.attempted += 1;
            let done = match &value {
                Some(v) => kv.put(&mut fs, &key, v, &mut io),
                None => kv.delete(&mut fs, &key, &mut io),
            };
            // A reply from a machine that lost power mid-operation never left it.
            if done.is_ok() && fs.device().powered() {
                model.acknowledge(&id);
            }
        }
        if !fs.device().powered() || kv.poisoned() {
            break;
        }
    }
    outcome.acknowledged = model.acknowledged();
    fs.device_mut().faults_mut().fail_writes = false;
    fs.crash();
    let recovered = fs
        .recover(&mut io)
        .map_err(|e| e.to_string())
        .and_then(|()| Kv::open(&mut fs, cfg.kv, &mut io).map_err(|e| e.to_string()))
        .and_then(|mut kv| kv.scan(&mut fs, &mut io).map_err(|e| e.to_string()));
    match recovered {
        Ok(store) => outcome.violations = model.check(&store),
        Err(e) => outcome.violations.push(unrecoverable(e)),
    }
    outcome.requests = io.len();
    outcome
}

/// A value no other write has: `tag` (a seed, a host) and the operation's number, padded to 12
/// to `max` bytes (a random length from `rng`). The sweep's and the world's stores write these.
pub fn value(tag: u64, op: u64, rng: &mut RngStream, max: usize) -> Vec<u8> {
    let mut v = format!("{tag}/{op}/").into_bytes();
    let len = 12 + rng.below(max.saturating_sub(11).max(1) as u64) as usize;
    let fill = b"abcdefghijklmnopqrstuvwxyz";
    while v.len() < len {
        v.push(fill[(v.len() + op as usize) % fill.len()]);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(pairs: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn the_model_allows_the_last_acknowledged_write_and_later_attempts_only() {
        let mut m = Model::new();
        let a1 = m.attempt(b"a", Some(b"1"));
        m.acknowledge(&a1);
        let a2 = m.attempt(b"a", Some(b"2"));
        m.acknowledge(&a2);
        m.attempt(b"a", Some(b"3"));
        m.attempt(b"b", Some(b"x"));
        assert_eq!(m.acknowledged(), 2);
        assert!(m.check(&store(&[("a", "2")])).is_empty());
        assert!(m.check(&store(&[("a", "3"), ("b", "x")])).is_empty());
        let v = m.check(&store(&[("a", "1")]));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, ViolationKind::Lost);
        assert_eq!(
            v[0].to_string(),
            "key \"a\": an acknowledged write was lost: expected \"2\" or one of 1 later \
             writes, got \"1\""
        );
        let v = m.check(&store(&[("a", "2"), ("b", "y"), ("c", "z")]));
        let kinds: Vec<_> = v.iter().map(|v| (v.kind, v.key.clone())).collect();
        assert_eq!(
            kinds,
            vec![
                (ViolationKind::Invented, b"b".to_vec()),
                (ViolationKind::Invented, b"c".to_vec())
            ]
        );
        assert_eq!(m.check(&store(&[]))[0].got, "nothing");
    }

    #[test]
    fn an_acknowledged_delete_must_stay_deleted_and_reset_sets_a_baseline() {
        let mut m = Model::new();
        let p = m.attempt(b"a", Some(b"1"));
        m.acknowledge(&p);
        let d = m.attempt(b"a", None);
        m.acknowledge(&d);
        assert!(m.check(&store(&[])).is_empty());
        assert_eq!(m.check(&store(&[("a", "1")]))[0].kind, ViolationKind::Lost);
        m.reset_to(&store(&[("a", "9")]));
        m.attempt(b"a", Some(b"10"));
        assert!(m.check(&store(&[("a", "9")])).is_empty());
        assert!(m.check(&store(&[("a", "10")])).is_empty());
        assert_eq!(m.check(&store(&[]))[0].kind, ViolationKind::Lost);
    }

    /// Seeds swept for each bug, and how many of them the correct engine must pass.
    const BUG_SEEDS: u64 = 300;
    const CLEAN_SEEDS: u64 = 2000;

    fn with_bugs(bugs: Bugs) -> SweepConfig {
        let mut cfg = SweepConfig::default();
        cfg.kv.bugs = bugs;
        cfg
    }

    /// The first seed whose crash the checker flags, with what it found.
    fn first_caught(cfg: &SweepConfig) -> Option<(u64, Violation)> {
        let caught = (0..BUG_SEEDS)
            .find_map(|s| run_seed(s, cfg).violations.first().map(|v| (s, v.clone())));
        if let Some((seed, v)) = &caught {
            eprintln!("caught at seed {seed}: {v}");
        }
        caught
    }

    #[test]
    fn the_correct_engine_passes_every_seed() {
        let cfg = SweepConfig::default();
        let mut acked = 0;
        for seed in 0..CLEAN_SEEDS {
            let o = run_seed(seed, &cfg);
            assert!(o.violations.is_empty(), "seed {seed}: {}", o.violations[0]);
            acked += o.acknowledged;
        }
        assert!(
            acked > CLEAN_SEEDS as usize * 5,
            "the sweep acknowledges writes: {acked}"
        );
    }

    #[test]
    fn an_ignored_fsync_error_is_caught() {
        let cfg = with_bugs(Bugs {
            ignore_fsync_error: true,
            ..Bugs::default()
        });
        let (seed, v) = first_caught(&cfg).expect("caught");
        assert_eq!(v.kind, ViolationKind::Lost, "seed {seed}: {v}");
    }

    #[test]
    fn a_log_without_checksums_is_caught() {
        let cfg = with_bugs(Bugs {
            wal_without_checksum: true,
            ..Bugs::default()
        });
        let (seed, v) = first_caught(&cfg).expect("caught");
        assert_eq!(v.kind, ViolationKind::Invented, "seed {seed}: {v}");
    }

    #[test]
    fn a_rename_without_a_directory_fsync_is_caught() {
        let cfg = with_bugs(Bugs {
            rename_without_dir_fsync: true,
            ..Bugs::default()
        });
        let (seed, v) = first_caught(&cfg).expect("caught");
        assert_eq!(v.kind, ViolationKind::Lost, "seed {seed}: {v}");
    }

    #[test]
    fn a_seed_is_deterministic() {
        let cfg = SweepConfig::default();
        assert_eq!(run_seed(42, &cfg), run_seed(42, &cfg));
    }
}

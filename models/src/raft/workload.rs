//! The clients' operations: which key, which kind (by the load's mix) and which value, drawn the
//! same way by the simulated cluster and by the native runner, so both offer the same workload.

use std::collections::BTreeMap;

use simcore::RngStream;

use super::cluster::LoadConfig;
use super::kv::{Key, KvOp, Value};

/// Draws operations for a load: values written are unique (1, 2, 3, ...), so a read names the
/// write it saw; a cas expects the value last written to its key (0 before any).
#[derive(Debug, Clone)]
pub struct Workload {
    next_value: Value,
    last_written: BTreeMap<Key, Value>,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            next_value: 1,
            last_written: BTreeMap::new(),
        }
    }
}

impl Workload {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next operation: two draws from `rng` (the key, then the kind).
    pub fn next_op(&mut self, load: &LoadConfig, rng: &mut RngStream) -> KvOp {
        let key = load.keys.sample(rng).round().clamp(0.0, u32::MAX as f64) as Key;
        let total: f64 = load.mix.iter().sum();
        let x = rng.next_f64() * total;
        if x < load.mix[0] {
            KvOp::Get { key }
        } else if x < load.mix[0] + load.mix[1] {
            let value = self.fresh(key);
            KvOp::Put { key, value }
        } else {
            let expect = self.last_written.get(&key).copied().unwrap_or(0);
            let new = self.fresh(key);
            KvOp::Cas { key, expect, new }
        }
    }

    fn fresh(&mut self, key: Key) -> Value {
        let v = self.next_value;
        self.next_value += 1;
        self.last_written.insert(key, v);
        v
    }
}

/// The gap before a client's next call: each of `clients` clients calls at exponential
/// intervals of mean `clients / rate` seconds, so together they offer `rate` per second. One
/// draw from `rng`; `rate` must be positive.
pub fn next_gap_ns(clients: usize, rate: f64, rng: &mut RngStream) -> f64 {
    debug_assert!(rate > 0.0);
    let mean = clients as f64 / rate;
    let u = rng.next_f64_open0();
    -u.ln() * mean * 1e9
}

//! Belady's OPT (MIN): on a miss with the cache full, evict the object whose next request lies
//! furthest in the future (or never comes). For objects of equal size it misses least of any
//! policy (Belady, "A study of replacement algorithms for a virtual-storage computer", IBM
//! Systems Journal, 1966), so it is the floor online policies are measured from. With unequal
//! sizes furthest-next-use is a heuristic (optimal caching with sizes is NP-hard). Offline: it
//! reads the whole trace first. O(log n) per request.

use std::collections::{BTreeSet, HashMap};

use super::list::FixedState;

/// Hits of OPT over `trace` (keys and sizes) with `capacity` bytes, in order.
pub fn hits(trace: &[(u64, u64)], capacity: u64) -> Vec<bool> {
    // For each request, where its key is requested next (usize::MAX: never).
    let mut next = vec![usize::MAX; trace.len()];
    let mut seen: HashMap<u64, usize, FixedState> = HashMap::default();
    for (i, &(k, _)) in trace.iter().enumerate().rev() {
        if let Some(&j) = seen.get(&k) {
            next[i] = j;
        }
        seen.insert(k, i);
    }
    // Held objects by next use, furthest last; and per key its next use and size.
    let mut by_next: BTreeSet<(usize, u64)> = BTreeSet::new();
    let mut held: HashMap<u64, (usize, u64), FixedState> = HashMap::default();
    let mut bytes = 0u64;
    let mut out = Vec::with_capacity(trace.len());
    for (i, &(key, size)) in trace.iter().enumerate() {
        if let Some((n, _)) = held.get_mut(&key) {
            by_next.remove(&(*n, key));
            *n = next[i];
            by_next.insert((next[i], key));
            out.push(true);
            continue;
        }
        out.push(false);
        if size > capacity {
            continue;
        }
        while bytes + size > capacity {
            let Some(&(n, victim)) = by_next.iter().next_back() else {
                break;
            };
            // Demand paging: the requested object is always admitted, and the one needed
            // furthest ahead (never, first) makes room.
            by_next.remove(&(n, victim));
            if let Some((_, s)) = held.remove(&victim) {
                bytes -= s;
            }
        }
        held.insert(key, (next[i], size));
        by_next.insert((next[i], key));
        bytes += size;
    }
    out
}

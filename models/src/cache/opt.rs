//! Belady's OPT (MIN): on a miss with the cache full, evict the object whose next request lies
//! furthest in the future (or never comes). For objects of equal size it misses least of any
//! policy (Belady, "A study of replacement algorithms for a virtual-storage computer", IBM
//! Systems Journal, 1966), so it is the floor online policies are measured from. With unequal
//! sizes furthest-next-use is a heuristic (optimal caching with sizes is NP-hard). Offline: it
//! reads the whole trace first. O(log n) amortized per request.

use std::collections::{BinaryHeap, HashMap};

use super::list::FixedState;

/// Hits of OPT over `trace` (keys and sizes), in order.
///
/// The held objects are in a max-heap by (next request, key), so the victim (furthest next
/// request, the largest key among those never requested again) is its top. A hit pushes the
/// object's new entry and leaves its old one in place, stale, rather than searching for it: the
/// stale entry's next request is the hit itself, earlier than every held object's next request
/// at any later eviction, so a stale entry is never on top while an object is held. Stale
/// entries are swept out when they outnumber the held objects, so the heap stays within twice
/// the cache's objects (plus a constant) and each request costs O(log n) amortized.
pub fn hits(trace: &[(u64, u64)], capacity: u64) -> Vec<bool> {
    let next = next_requests(trace);
    let mut heap: BinaryHeap<(usize, u64)> = BinaryHeap::new();
    // Per held key: its entry's next request, and its size.
    let mut held: HashMap<u64, (usize, u64), FixedState> = HashMap::default();
    let mut bytes = 0u64;
    let mut out = Vec::with_capacity(trace.len());
    for (i, &(key, size)) in trace.iter().enumerate() {
        if let Some((n, _)) = held.get_mut(&key) {
            *n = next[i];
            heap.push((next[i], key));
            if heap.len() > 2 * held.len() + 64 {
                heap.retain(|&(n, k)| held.get(&k).is_some_and(|h| h.0 == n));
            }
            out.push(true);
            continue;
        }
        out.push(false);
        if size > capacity {
            continue;
        }
        // Demand paging: the requested object is always admitted, and the one needed
        // furthest ahead (never, first) makes room.
        while bytes + size > capacity {
            let Some((n, victim)) = heap.pop() else {
                break;
            };
            if held.get(&victim).is_some_and(|h| h.0 == n) {
                bytes -= held.remove(&victim).map_or(0, |h| h.1);
            }
        }
        held.insert(key, (next[i], size));
        heap.push((next[i], key));
        bytes += size;
    }
    out
}

/// For each request, where its key is requested next (`usize::MAX`: never).
fn next_requests(trace: &[(u64, u64)]) -> Vec<usize> {
    let mut next = vec![usize::MAX; trace.len()];
    let mut seen: HashMap<u64, usize, FixedState> = HashMap::default();
    for (i, &(k, _)) in trace.iter().enumerate().rev() {
        if let Some(j) = seen.insert(k, i) {
            next[i] = j;
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// OPT as first written: the held objects in an ordered set by (next request, key), a hit
    /// removing the object's old entry. The heap with stale entries must decide as this does.
    fn hits_ordered_set(trace: &[(u64, u64)], capacity: u64) -> Vec<bool> {
        let next = next_requests(trace);
        let mut by_next: BTreeSet<(usize, u64)> = BTreeSet::new();
        let mut held: HashMap<u64, (usize, u64), FixedState> = HashMap::default();
        let mut bytes = 0u64;
        let mut out = Vec::new();
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
                by_next.remove(&(n, victim));
                bytes -= held.remove(&victim).map_or(0, |h| h.1);
            }
            held.insert(key, (next[i], size));
            by_next.insert((next[i], key));
            bytes += size;
        }
        out
    }

    /// Skewed keys (so hits, stale entries and sweeps are many) with unit and mixed sizes, at
    /// capacities from tiny to roomy: the same hits, request for request.
    #[test]
    fn the_heap_decides_as_the_ordered_set() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for sized in [false, true] {
            let trace: Vec<(u64, u64)> = (0..20_000)
                .map(|_| {
                    let r = rand();
                    // A square of a uniform pick: low keys far more often than high ones.
                    let u = (r % 1000) as f64 / 1000.0;
                    let key = (u * u * 2000.0) as u64;
                    (key, if sized { 1 + key % 7 } else { 1 })
                })
                .collect();
            for capacity in [1, 3, 10, 50, 200, 1000] {
                let want = hits_ordered_set(&trace, capacity);
                assert!(want.iter().any(|&h| h) && want.iter().any(|&h| !h));
                assert_eq!(
                    hits(&trace, capacity),
                    want,
                    "sized {sized}, capacity {capacity}"
                );
            }
        }
    }
}

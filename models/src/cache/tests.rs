//! The policies on OSTEP's worked reference strings ("Beyond Physical Memory: Policies"), on
//! Belady's anomaly, and CLOCK and SIEVE against plain transcriptions of their definitions.

use simcore::RngStream;

use super::*;

/// Pages of size 1 through `frames` frames: the hits.
fn pages(policy: &mut dyn Policy, refs: &[u64]) -> usize {
    let trace: Vec<(u64, u64)> = refs.iter().map(|&k| (k, 1)).collect();
    replay(policy, &trace).iter().filter(|&&h| h).count()
}

/// OSTEP's reference string: 0 1 2 0 1 3 0 3 1 2 1 through 3 frames. The chapter's tables: the
/// optimal policy hits 6 times (54.5%), FIFO 4 (36.4%), LRU 6.
#[test]
fn ostep_reference_string() {
    let refs = [0, 1, 2, 0, 1, 3, 0, 3, 1, 2, 1];
    let trace: Vec<(u64, u64)> = refs.iter().map(|&k| (k, 1)).collect();
    let opt_hits = opt::hits(&trace, 3);
    assert_eq!(opt_hits.iter().filter(|&&h| h).count(), 6);
    assert_eq!(
        opt_hits,
        [
            false, false, false, true, true, false, true, true, true, false, true
        ],
        "OSTEP's Figure 22.1, request by request"
    );
    assert_eq!(pages(&mut Fifo::new(3), &refs), 4);
    assert_eq!(pages(&mut Lru::new(3), &refs), 6);
}

/// Belady's anomaly: FIFO misses more with more frames on 1 2 3 4 1 2 5 1 2 3 4 5 (9 misses
/// with 3 frames, 10 with 4); LRU, a stack algorithm, never does.
#[test]
fn fifo_shows_beladys_anomaly_and_lru_does_not() {
    let refs = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
    assert_eq!(refs.len() - pages(&mut Fifo::new(3), &refs), 9);
    assert_eq!(refs.len() - pages(&mut Fifo::new(4), &refs), 10);
    assert!(pages(&mut Lru::new(4), &refs) >= pages(&mut Lru::new(3), &refs));
}

/// CLOCK as the textbook describes it: frames in a circle, a use bit per frame, a hand that
/// clears set bits until it finds a clear one (new pages with the bit clear).
fn clock_reference(refs: &[u64], frames: usize) -> Vec<bool> {
    let mut slots: Vec<(u64, bool)> = Vec::new();
    let mut hand = 0;
    refs.iter()
        .map(|&k| {
            if let Some(s) = slots.iter_mut().find(|s| s.0 == k) {
                s.1 = true;
                return true;
            }
            if slots.len() < frames {
                slots.push((k, false));
                return false;
            }
            while slots[hand].1 {
                slots[hand].1 = false;
                hand = (hand + 1) % frames;
            }
            slots[hand] = (k, false);
            hand = (hand + 1) % frames;
            false
        })
        .collect()
}

/// SIEVE as the paper's pseudocode writes it: a queue from tail (old) to head (new) with a
/// visited bit, the hand walking from the tail towards the head and wrapping.
fn sieve_reference(refs: &[u64], frames: usize) -> Vec<bool> {
    // Index 0 is the tail (oldest).
    let mut q: Vec<(u64, bool)> = Vec::new();
    let mut hand: Option<usize> = None;
    refs.iter()
        .map(|&k| {
            if let Some(s) = q.iter_mut().find(|s| s.0 == k) {
                s.1 = true;
                return true;
            }
            if q.len() == frames {
                let mut at = hand.unwrap_or(0);
                while q[at].1 {
                    q[at].1 = false;
                    at = if at + 1 < q.len() { at + 1 } else { 0 };
                }
                q.remove(at);
                // The hand now points at what followed the victim (towards the head).
                hand = (at < q.len()).then_some(at);
            }
            q.push((k, false));
            false
        })
        .collect()
}

fn zipf_like(seed: u64, n: usize, keys: u64) -> Vec<u64> {
    let mut rng = RngStream::derive(seed, "cache.test");
    (0..n)
        .map(|_| {
            // Skewed: the minimum of two draws favours small keys.
            rng.below(keys).min(rng.below(keys))
        })
        .collect()
}

#[test]
fn clock_and_sieve_match_their_definitions() {
    for seed in 1..=20 {
        let refs = zipf_like(seed, 2_000, 60);
        for frames in [1, 3, 10, 25] {
            let trace: Vec<(u64, u64)> = refs.iter().map(|&k| (k, 1)).collect();
            assert_eq!(
                replay(&mut Clock::new(frames as u64), &trace),
                clock_reference(&refs, frames),
                "clock, seed {seed}, {frames} frames"
            );
            assert_eq!(
                replay(&mut Sieve::new(frames as u64), &trace),
                sieve_reference(&refs, frames),
                "sieve, seed {seed}, {frames} frames"
            );
        }
    }
}

/// OPT is the floor: no online policy hits more often on the same pages.
#[test]
fn opt_hits_at_least_as_often_as_every_policy() {
    for seed in 1..=10 {
        let refs = zipf_like(seed, 3_000, 100);
        let trace: Vec<(u64, u64)> = refs.iter().map(|&k| (k, 1)).collect();
        for frames in [5, 20, 50] {
            let opt = opt::hits(&trace, frames).iter().filter(|&&h| h).count();
            for name in Kind::NAMES {
                let mut p = Kind::from_name(name).unwrap().build(frames);
                let h = pages(p.as_mut(), &refs);
                assert!(opt >= h, "{name}: {h} hits > OPT's {opt} ({frames} frames)");
                assert!(p.len() as u64 <= frames);
            }
        }
    }
}

/// Sizes: a cache of bytes evicts until the new object fits and never admits one larger than
/// itself.
#[test]
fn objects_have_sizes() {
    let mut lru = Lru::new(100);
    assert!(!lru.access(1, 60));
    assert!(!lru.access(2, 30));
    assert_eq!(lru.bytes(), 90);
    assert!(lru.access(1, 60));
    assert!(!lru.access(3, 50), "evicts 2 (least recent), then 1");
    assert_eq!((lru.len(), lru.bytes()), (1, 50));
    assert!(!lru.access(4, 101), "too large: never admitted");
    assert!(!lru.access(4, 101));
    assert_eq!(lru.bytes(), 50);
}

/// An object removed (invalidated) is gone: the next request for it misses, bytes fall by its
/// size, and removing what is not held changes nothing. SIEVE's hand may rest on the removed
/// object; removals mixed into a long random trace must leave every policy consistent.
#[test]
fn remove_forgets_an_object() {
    for &name in Kind::NAMES {
        let kind = Kind::from_name(name).unwrap();
        // Room for all 5 (S3-FIFO admits only objects smaller than its 10% small queue).
        let mut c = kind.build(1000);
        for k in 0..5 {
            c.access(k, 2);
        }
        assert!(c.access(3, 2), "{name}: 3 is held");
        assert!(c.contains(3), "{name}");
        assert!(c.remove(3), "{name}");
        assert!(!c.contains(3), "{name}");
        assert!(!c.remove(3), "{name}: removed twice");
        assert_eq!((c.len(), c.bytes()), (4, 8), "{name}");
        assert!(!c.access(3, 2), "{name}: a removed object misses");
        let mut rng = RngStream::derive(3, name);
        let mut c = kind.build(20);
        for _ in 0..20_000 {
            let key = rng.below(40);
            if rng.below(5) == 0 {
                c.remove(key);
            } else {
                c.access(key, 1 + key % 3);
            }
            assert!(c.bytes() <= 20, "{name}: over capacity");
        }
    }
}

//! The pending-event set: a binary heap ordered by (time, insertion sequence), with a hard bound.
//!
//! **Tie-break rule.** Events due at the same instant fire in the order they were scheduled
//! (first scheduled, first fired). Every push takes the next value of a 64-bit sequence counter and
//! the heap orders by the pair `(time, seq)`, packed into one `u128` so a comparison is a single
//! integer compare. The order therefore depends only on what the model did, never on the heap's
//! internals or the platform.
//!
//! **Bound.** The queue refuses a push once it holds `capacity` entries (cancelled entries that are
//! still in the heap count too, so the bound is on memory, not on intent). The engine turns that
//! refusal into a clean [`crate::SimError::QueueFull`] rather than letting memory run out.
//!
//! **Cancellation** is lazy: a cancelled key goes into a tombstone set and is skipped when popped.
//! Because keys pop in increasing order, a key at or below the last popped one has already fired,
//! so cancelling it is reported as "not pending" without any bookkeeping per event.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::hash::BuildHasherDefault;

use crate::time::SimTime;

/// Identifies one scheduled event, for cancellation. Unique within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    time: SimTime,
    seq: u64,
}

impl EventKey {
    pub fn time(self) -> SimTime {
        self.time
    }
    pub fn seq(self) -> u64 {
        self.seq
    }
    #[inline]
    fn packed(self) -> u128 {
        ((self.time.as_nanos() as u128) << 64) | self.seq as u128
    }
}

struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, because `BinaryHeap` is a max-heap and the earliest key must come out first.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// A push was refused because the queue already holds `capacity` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event queue full: {capacity} pending events")]
pub struct QueueFull {
    pub capacity: usize,
}

/// A tiny deterministic hasher for the tombstone set (its iteration order is never observed).
#[derive(Default)]
struct SeqHasher(u64);
impl std::hash::Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Events waiting to fire, earliest first, ties in insertion order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    capacity: usize,
    /// One past the key of the last event popped: every key below it has left the queue.
    popped_below: u128,
    cancelled: HashSet<u64, BuildHasherDefault<SeqHasher>>,
}

impl<E> EventQueue<E> {
    /// An empty queue that holds at most `capacity` entries.
    pub fn with_capacity_limit(capacity: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(capacity.min(1 << 16)),
            next_seq: 0,
            capacity,
            popped_below: 0,
            cancelled: HashSet::default(),
        }
    }

    /// Schedules `event` at `time`. Returns its key, or [`QueueFull`] when at capacity.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) -> Result<EventKey, QueueFull> {
        if self.heap.len() >= self.capacity {
            return Err(QueueFull {
                capacity: self.capacity,
            });
        }
        let key = EventKey {
            time,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.heap.push(Entry {
            key: key.packed(),
            event,
        });
        Ok(key)
    }

    /// Removes and returns the earliest live event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime::MAX)
    }

    /// Removes and returns the earliest live event due at or before `limit`, if any.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        let limit_key = ((limit.as_nanos() as u128) << 64) | u64::MAX as u128;
        loop {
            if self.heap.peek()?.key > limit_key {
                return None;
            }
            let entry = self.heap.pop()?;
            debug_assert!(
                entry.key >= self.popped_below,
                "keys pop in increasing order"
            );
            self.popped_below = entry.key + 1;
            if !self.cancelled.is_empty() && self.cancelled.remove(&(entry.key as u64)) {
                continue;
            }
            return Some((SimTime::from_nanos((entry.key >> 64) as u64), entry.event));
        }
    }

    /// The time of the earliest entry (possibly a cancelled one, which fires as nothing).
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap
            .peek()
            .map(|e| SimTime::from_nanos((e.key >> 64) as u64))
    }

    /// Cancels a pending event. Returns false when it already fired or was already cancelled.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        if key.packed() < self.popped_below || key.seq >= self.next_seq {
            return false;
        }
        self.cancelled.insert(key.seq)
    }

    /// Entries in the heap, including cancelled ones not yet skipped.
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    /// Live (not cancelled) pending events.
    pub fn live(&self) -> usize {
        self.heap.len() - self.cancelled.len()
    }
    pub fn is_empty(&self) -> bool {
        self.live() == 0
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    #[test]
    fn pops_in_time_order_with_fifo_ties() {
        let mut q = EventQueue::with_capacity_limit(100);
        q.push(t(5), "late").unwrap();
        q.push(t(1), "first-at-1").unwrap();
        q.push(t(1), "second-at-1").unwrap();
        q.push(t(0), "zero").unwrap();
        q.push(t(1), "third-at-1").unwrap();
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(
            order,
            ["zero", "first-at-1", "second-at-1", "third-at-1", "late"]
        );
    }

    #[test]
    fn refuses_past_capacity() {
        let mut q = EventQueue::with_capacity_limit(2);
        q.push(t(1), ()).unwrap();
        q.push(t(2), ()).unwrap();
        assert_eq!(q.push(t(3), ()), Err(QueueFull { capacity: 2 }));
        q.pop();
        assert!(q.push(t(3), ()).is_ok());
    }

    #[test]
    fn cancel_skips_only_pending_events() {
        let mut q = EventQueue::with_capacity_limit(10);
        let a = q.push(t(0), 'a').unwrap();
        let b = q.push(t(2), 'b').unwrap();
        let c = q.push(t(3), 'c').unwrap();
        assert_eq!(q.pop(), Some((t(0), 'a')));
        assert!(!q.cancel(a), "a already fired");
        assert!(q.cancel(b));
        assert!(!q.cancel(b), "b already cancelled");
        assert_eq!(q.live(), 1);
        assert_eq!(q.pop(), Some((t(3), 'c')));
        assert!(!q.cancel(c));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn matches_a_sorted_reference_on_random_input() {
        let mut q = EventQueue::with_capacity_limit(10_000);
        let mut reference = Vec::new();
        let mut x: u64 = 12345;
        for i in 0..5_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let time = (x >> 33) % 50; // many ties
            q.push(t(time), i).unwrap();
            reference.push((time, i));
        }
        reference.sort();
        for (time, i) in reference {
            assert_eq!(q.pop(), Some((t(time), i)));
        }
    }
}

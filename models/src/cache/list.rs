//! Doubly linked queues of cached objects in one slab, with one index from key to slot: the
//! structure every policy keeps its queues in, so each request costs O(1). [`Queues`] holds
//! several queues (ARC's T1, T2, B1 and B2; 2Q's A1in, A1out and Am; ...) over one index, so a
//! request is one hash look-up whichever queue holds the key, and moving an object between
//! queues touches links only. [`List`] is the one-queue case FIFO, LRU, CLOCK and SIEVE use.
//! Slots freed by evictions are reused. The index is a `HashMap` with a fixed hasher: only looked
//! up, never iterated, so runs are deterministic.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The index's hasher: fixed (no per-process random state), so a run's performance does not
/// vary either, and fast, as every request looks its key up.
pub type FixedState = BuildHasherDefault<FoldHasher>;

/// A folded multiply: the 128-bit product of the input and an odd constant, its two halves
/// XORed (the mixing step of foldhash and wyhash). Every input bit reaches both the low bits
/// (the table's bucket) and the high bits (hashbrown's tag), so keys that differ only in their
/// high bits, or only in their low bits, still spread. SipHash, the standard library's
/// default, costs several times as much per `u64` key; this is not meant to resist an
/// adversary choosing keys, which a simulation's traces are not.
#[derive(Debug, Clone, Copy, Default)]
pub struct FoldHasher {
    state: u64,
}

const FOLD_SEED: u64 = 0x243f_6a88_85a3_08d3;
const FOLD_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

impl Hasher for FoldHasher {
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.state = fold(self.state ^ x ^ FOLD_SEED, FOLD_MUL);
    }

    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    /// Other types (not used by the cache's indexes, whose keys are `u64`) in 8-byte words.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w) ^ chunk.len() as u64);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.state
    }
}

const NIL: u32 = u32::MAX;
/// The queue number of a [`Queues::detach`]ed object.
const DETACHED: u32 = u32::MAX;

/// One cached (or ghost) object.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub key: u64,
    pub size: u64,
    /// A policy's bit: CLOCK's reference bit, SIEVE's visited bit, LIRS's LIR status.
    pub flag: bool,
    /// A policy's small counter: S3-FIFO's frequency.
    pub count: u8,
    /// The queue holding it.
    queue: u32,
    prev: u32,
    next: u32,
}

impl Node {
    /// The queue holding this object.
    pub fn queue(&self) -> usize {
        self.queue as usize
    }
}

/// One queue's ends and totals.
#[derive(Debug, Clone, Copy)]
struct Ends {
    head: u32,
    tail: u32,
    len: usize,
    bytes: u64,
}

const EMPTY: Ends = Ends {
    head: NIL,
    tail: NIL,
    len: 0,
    bytes: 0,
};

/// Several queues, each from its head (newest) to its tail (oldest), over one slab and index: a
/// key is in at most one queue.
#[derive(Debug, Clone, Default)]
pub struct Queues {
    nodes: Vec<Node>,
    free: Vec<u32>,
    ends: Vec<Ends>,
    index: HashMap<u64, u32, FixedState>,
}

impl Queues {
    /// `n` empty queues.
    pub fn new(n: usize) -> Self {
        Queues {
            ends: vec![EMPTY; n],
            ..Self::default()
        }
    }

    /// Adds an empty queue; returns its number.
    pub fn add_queue(&mut self) -> usize {
        self.ends.push(EMPTY);
        self.ends.len() - 1
    }

    /// The newest object's slot in queue `q`.
    pub fn head(&self, q: usize) -> Option<u32> {
        let h = self.ends[q].head;
        (h != NIL).then_some(h)
    }

    /// Objects in every queue.
    pub fn total_len(&self) -> usize {
        self.index.len()
    }

    /// Objects in queue `q`.
    pub fn len(&self, q: usize) -> usize {
        self.ends[q].len
    }

    /// Bytes of the objects in queue `q`.
    pub fn bytes(&self, q: usize) -> u64 {
        self.ends[q].bytes
    }

    /// The slot of `key`, if in any queue.
    pub fn find(&self, key: u64) -> Option<u32> {
        self.index.get(&key).copied()
    }

    pub fn node(&self, slot: u32) -> &Node {
        &self.nodes[slot as usize]
    }

    pub fn node_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.nodes[slot as usize]
    }

    /// The oldest object's slot in queue `q`.
    pub fn tail(&self, q: usize) -> Option<u32> {
        let t = self.ends[q].tail;
        (t != NIL).then_some(t)
    }

    /// The slot before `slot` (towards its queue's head), if any.
    pub fn prev(&self, slot: u32) -> Option<u32> {
        let p = self.nodes[slot as usize].prev;
        (p != NIL).then_some(p)
    }

    /// Adds `key` at the head of queue `q`; it must not be held.
    pub fn push_head(&mut self, q: usize, key: u64, size: u64) -> u32 {
        debug_assert!(!self.index.contains_key(&key), "{key} is held already");
        let node = Node {
            key,
            size,
            flag: false,
            count: 0,
            queue: q as u32,
            prev: NIL,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.link_head(q, slot);
        self.index.insert(key, slot);
        slot
    }

    /// Removes the object in `slot` from its queue and the index; returns its key and size.
    pub fn remove(&mut self, slot: u32) -> (u64, u64) {
        debug_assert_ne!(
            self.nodes[slot as usize].queue, DETACHED,
            "{slot} is detached"
        );
        self.unlink(slot);
        let Node { key, size, .. } = self.nodes[slot as usize];
        self.index.remove(&key);
        self.free.push(slot);
        (key, size)
    }

    /// Takes the object in `slot` out of its queue but keeps it in the index, so a policy can
    /// make room (evicting others) and then [`attach_head`](Self::attach_head) it to another
    /// queue: a ghost that becomes a cached object again, without the hash table's removal and
    /// insertion. Until it is attached again it is in no queue's length or bytes, but in
    /// [`total_len`](Self::total_len); it must be attached again before the policy's request
    /// returns (so detach only an object that will be admitted).
    pub fn detach(&mut self, slot: u32) {
        self.unlink(slot);
        self.nodes[slot as usize].queue = DETACHED;
    }

    /// Links the [`detach`](Self::detach)ed object in `slot` at the head of queue `q` as
    /// [`push_head`](Self::push_head) would a new one: with `size` bytes, its flag and counter
    /// clear.
    pub fn attach_head(&mut self, slot: u32, q: usize, size: u64) {
        let node = &mut self.nodes[slot as usize];
        debug_assert_eq!(node.queue, DETACHED, "{slot} is queued");
        node.size = size;
        node.flag = false;
        node.count = 0;
        self.link_head(q, slot);
    }

    /// Moves the object in `slot` to the head of queue `q` (its own or another), keeping its
    /// flag and counter.
    pub fn move_to_head(&mut self, slot: u32, q: usize) {
        if self.ends[q].head == slot {
            return;
        }
        self.unlink(slot);
        self.link_head(q, slot);
    }

    fn link_head(&mut self, q: usize, slot: u32) {
        let ends = &mut self.ends[q];
        let node = &mut self.nodes[slot as usize];
        node.queue = q as u32;
        node.prev = NIL;
        node.next = ends.head;
        ends.len += 1;
        ends.bytes += node.size;
        let old = ends.head;
        ends.head = slot;
        if old != NIL {
            self.nodes[old as usize].prev = slot;
        } else {
            ends.tail = slot;
        }
    }

    fn unlink(&mut self, slot: u32) {
        let Node {
            size,
            queue,
            prev,
            next,
            ..
        } = self.nodes[slot as usize];
        let ends = &mut self.ends[queue as usize];
        ends.len -= 1;
        ends.bytes -= size;
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            ends.head = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else {
            self.ends[queue as usize].tail = prev;
        }
    }
}

/// One queue: objects from the head (newest) to the tail (oldest).
#[derive(Debug, Clone)]
pub struct List(Queues);

impl Default for List {
    fn default() -> Self {
        Self::new()
    }
}

impl List {
    pub fn new() -> Self {
        List(Queues::new(1))
    }

    pub fn len(&self) -> usize {
        self.0.total_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the objects held.
    pub fn bytes(&self) -> u64 {
        self.0.bytes(0)
    }

    /// The slot of `key`, if held.
    pub fn find(&self, key: u64) -> Option<u32> {
        self.0.find(key)
    }

    pub fn node(&self, slot: u32) -> &Node {
        self.0.node(slot)
    }

    pub fn node_mut(&mut self, slot: u32) -> &mut Node {
        self.0.node_mut(slot)
    }

    /// The oldest object's slot.
    pub fn tail(&self) -> Option<u32> {
        self.0.tail(0)
    }

    /// The slot before `slot` (towards the head), if any.
    pub fn prev(&self, slot: u32) -> Option<u32> {
        self.0.prev(slot)
    }

    /// Adds `key` at the head; it must not be held.
    pub fn push_head(&mut self, key: u64, size: u64) -> u32 {
        self.0.push_head(0, key, size)
    }

    /// Removes the object in `slot`; returns its key and size.
    pub fn remove(&mut self, slot: u32) -> (u64, u64) {
        self.0.remove(slot)
    }

    /// Moves the object in `slot` to the head (most recent).
    pub fn to_head(&mut self, slot: u32) {
        self.0.move_to_head(slot, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of queue `q` from head to tail.
    fn keys(qs: &Queues, q: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut at = qs.tail(q);
        while let Some(s) = at {
            out.push(qs.node(s).key);
            at = qs.prev(s);
        }
        out.reverse();
        out
    }

    /// A detached object is found by its key but counted in no queue; attached again it is as
    /// `remove` then `push_head` would leave it (new size, flag and counter clear), in the same
    /// slot.
    #[test]
    fn detach_then_attach_is_remove_then_push() {
        let mut qs = Queues::new(2);
        for k in 1..=3 {
            qs.push_head(0, k, 10);
        }
        let s = qs.find(2).unwrap();
        qs.node_mut(s).flag = true;
        qs.node_mut(s).count = 3;
        qs.detach(s);
        assert_eq!(qs.find(2), Some(s));
        assert_eq!((qs.len(0), qs.bytes(0), qs.total_len()), (2, 20, 3));
        assert_eq!(keys(&qs, 0), [3, 1]);
        // Room made while it is out: the others move and go as usual.
        let t = qs.tail(0).unwrap();
        qs.remove(t);
        qs.attach_head(s, 1, 7);
        assert_eq!(keys(&qs, 1), [2]);
        assert_eq!((qs.len(1), qs.bytes(1), qs.total_len()), (1, 7, 2));
        let n = *qs.node(s);
        assert_eq!(
            (n.key, n.size, n.flag, n.count, n.queue()),
            (2, 7, false, 0, 1)
        );
        assert_eq!(qs.find(2), Some(s));
    }
}

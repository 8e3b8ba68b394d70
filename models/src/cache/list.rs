//! A doubly linked list of cached objects in a slab, with an index from key to slot: the one
//! structure FIFO, LRU, CLOCK and SIEVE keep their queue in, so each request costs O(1). Slots
//! freed by evictions are reused. The index is a `HashMap` with a fixed hasher: only looked up,
//! never iterated, so runs are deterministic.

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

/// One cached object.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub key: u64,
    pub size: u64,
    /// A policy's bit: CLOCK's reference bit, SIEVE's visited bit.
    pub flag: bool,
    prev: u32,
    next: u32,
}

/// Objects from the head (newest) to the tail (oldest).
#[derive(Debug, Clone, Default)]
pub struct List {
    nodes: Vec<Node>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    index: HashMap<u64, u32, FixedState>,
    bytes: u64,
}

impl List {
    pub fn new() -> Self {
        List {
            head: NIL,
            tail: NIL,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes of the objects held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The slot of `key`, if held.
    pub fn find(&self, key: u64) -> Option<u32> {
        self.index.get(&key).copied()
    }

    pub fn node(&self, slot: u32) -> &Node {
        &self.nodes[slot as usize]
    }

    pub fn node_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.nodes[slot as usize]
    }

    /// The oldest object's slot.
    pub fn tail(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// The slot before `slot` (towards the head), if any.
    pub fn prev(&self, slot: u32) -> Option<u32> {
        let p = self.nodes[slot as usize].prev;
        (p != NIL).then_some(p)
    }

    /// Adds `key` at the head; it must not be held.
    pub fn push_head(&mut self, key: u64, size: u64) -> u32 {
        debug_assert!(!self.index.contains_key(&key), "{key} is held already");
        let node = Node {
            key,
            size,
            flag: false,
            prev: NIL,
            next: self.head,
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
        if self.head != NIL {
            self.nodes[self.head as usize].prev = slot;
        } else {
            self.tail = slot;
        }
        self.head = slot;
        self.index.insert(key, slot);
        self.bytes += size;
        slot
    }

    /// Removes the object in `slot`; returns its key and size.
    pub fn remove(&mut self, slot: u32) -> (u64, u64) {
        let Node {
            key,
            size,
            prev,
            next,
            ..
        } = self.nodes[slot as usize];
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
        self.index.remove(&key);
        self.free.push(slot);
        self.bytes -= size;
        (key, size)
    }

    /// Moves the object in `slot` to the head (most recent).
    pub fn to_head(&mut self, slot: u32) {
        if self.head == slot {
            return;
        }
        let (key, size, flag) = {
            let n = &self.nodes[slot as usize];
            (n.key, n.size, n.flag)
        };
        self.remove(slot);
        let s = self.push_head(key, size);
        self.nodes[s as usize].flag = flag;
    }
}

//! A doubly linked list of cached objects in a slab, with an index from key to slot: the one
//! structure FIFO, LRU, CLOCK and SIEVE keep their queue in, so each request costs O(1). Slots
//! freed by evictions are reused. The index is a `HashMap` with a fixed hasher: only looked up,
//! never iterated, so runs are deterministic.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// The index's hasher: SipHash with fixed keys, so a run's performance does not vary either.
pub type FixedState = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

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

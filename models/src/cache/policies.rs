//! The online policies, each over one [`List`] (head: newest, tail: oldest).

use super::Policy;
use super::list::List;

/// Evicts from the tail until `size` more bytes fit in `capacity`, choosing each victim with
/// `victim` (which may also reorder the list, as CLOCK's second chance does).
fn make_room(list: &mut List, capacity: u64, size: u64, mut victim: impl FnMut(&mut List) -> u32) {
    while list.bytes() + size > capacity && !list.is_empty() {
        let slot = victim(list);
        list.remove(slot);
    }
}

/// `contains`, `bytes` and `len` of a policy over one `list`.
macro_rules! sizes {
    () => {
        fn contains(&self, key: u64) -> bool {
            self.list.find(key).is_some()
        }
        fn bytes(&self) -> u64 {
            self.list.bytes()
        }
        fn len(&self) -> usize {
            self.list.len()
        }
    };
}

/// [`sizes!`], and `remove` for a policy that keeps nothing about an object but its node.
macro_rules! common {
    () => {
        fn remove(&mut self, key: u64) -> bool {
            self.list
                .find(key)
                .map(|slot| self.list.remove(slot))
                .is_some()
        }
        sizes!();
    };
}

/// A queue policy that evicts from the tail: FIFO (a hit changes nothing) or LRU (a hit moves
/// the object to the head). One body for both, as they differ only there.
#[derive(Debug, Clone)]
pub struct Queue<const RECENCY: bool> {
    list: List,
    capacity: u64,
}

/// First in, first out.
pub type Fifo = Queue<false>;
/// Least recently used.
pub type Lru = Queue<true>;

impl<const RECENCY: bool> Queue<RECENCY> {
    pub fn new(capacity: u64) -> Self {
        Queue {
            list: List::new(),
            capacity,
        }
    }
}

impl<const RECENCY: bool> Policy for Queue<RECENCY> {
    fn access(&mut self, key: u64, size: u64) -> bool {
        if let Some(slot) = self.list.find(key) {
            if RECENCY {
                self.list.to_head(slot);
            }
            return true;
        }
        if size <= self.capacity {
            make_room(&mut self.list, self.capacity, size, |l| {
                l.tail().expect("a non-empty list has a tail")
            });
            self.list.push_head(key, size);
        }
        false
    }
    common!();
}

/// CLOCK, as FIFO with a second chance.
#[derive(Debug, Clone)]
pub struct Clock {
    list: List,
    capacity: u64,
}

impl Clock {
    pub fn new(capacity: u64) -> Self {
        Clock {
            list: List::new(),
            capacity,
        }
    }
}

impl Policy for Clock {
    fn access(&mut self, key: u64, size: u64) -> bool {
        if let Some(slot) = self.list.find(key) {
            self.list.node_mut(slot).flag = true;
            return true;
        }
        if size <= self.capacity {
            make_room(&mut self.list, self.capacity, size, |l| {
                loop {
                    let t = l.tail().expect("a non-empty list has a tail");
                    if !l.node(t).flag {
                        break t;
                    }
                    l.node_mut(t).flag = false;
                    l.to_head(t);
                }
            });
            self.list.push_head(key, size);
        }
        false
    }
    common!();
}

/// SIEVE: a FIFO queue, visited bits, and a hand that remembers where it stopped.
#[derive(Debug, Clone)]
pub struct Sieve {
    list: List,
    capacity: u64,
    /// The next object the hand looks at (`None`: start again from the tail).
    hand: Option<u32>,
}

impl Sieve {
    pub fn new(capacity: u64) -> Self {
        Sieve {
            list: List::new(),
            capacity,
            hand: None,
        }
    }
}

impl Policy for Sieve {
    fn access(&mut self, key: u64, size: u64) -> bool {
        if let Some(slot) = self.list.find(key) {
            self.list.node_mut(slot).flag = true;
            return true;
        }
        if size <= self.capacity {
            let hand = &mut self.hand;
            make_room(&mut self.list, self.capacity, size, |l| {
                let mut at = hand
                    .or_else(|| l.tail())
                    .expect("a non-empty list has a tail");
                while l.node(at).flag {
                    l.node_mut(at).flag = false;
                    at = l
                        .prev(at)
                        .or_else(|| l.tail())
                        .expect("a non-empty list has a tail");
                }
                // The hand moves on towards the head past the victim.
                *hand = l.prev(at);
                at
            });
            self.list.push_head(key, size);
        }
        false
    }
    fn remove(&mut self, key: u64) -> bool {
        let Some(slot) = self.list.find(key) else {
            return false;
        };
        if self.hand == Some(slot) {
            self.hand = self.list.prev(slot);
        }
        self.list.remove(slot);
        true
    }
    sizes!();
}

//! Denning's working-set policy ("The working set model for program behavior", CACM 1968) for
//! the page-replacement lesson: the working set W(t, τ) is the set of pages referenced in the
//! last τ references, (t − τ, t]; the resident set is exactly W(t, τ), so it grows and shrinks
//! with the program's locality instead of filling a fixed number of frames. A reference faults
//! when its page is not in W(t − 1, τ), that is, was not referenced in the τ references before
//! it. Not a [`super::Kind`]: it has no fixed capacity. O(1) per reference (a window of τ
//! references and a count per page in it).

use std::collections::{HashMap, VecDeque};

use super::list::FixedState;

#[derive(Debug, Clone)]
pub struct WorkingSet {
    tau: usize,
    /// The last τ references, oldest first.
    window: VecDeque<u64>,
    /// References to each page in the window.
    counts: HashMap<u64, u32, FixedState>,
}

impl WorkingSet {
    /// The policy with a window of `tau` references (at least 1).
    pub fn new(tau: usize) -> Self {
        WorkingSet {
            tau: tau.max(1),
            window: VecDeque::with_capacity(tau.max(1)),
            counts: HashMap::default(),
        }
    }

    /// A reference to `page`: whether it hit (the page is in the working set).
    pub fn access(&mut self, page: u64) -> bool {
        let hit = self.counts.contains_key(&page);
        if self.window.len() == self.tau {
            let old = self.window.pop_front().expect("a full window");
            if let Some(c) = self.counts.get_mut(&old) {
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(&old);
                }
            }
        }
        self.window.push_back(page);
        *self.counts.entry(page).or_insert(0) += 1;
        hit
    }

    /// The resident set's size: distinct pages in the last τ references.
    pub fn resident(&self) -> usize {
        self.counts.len()
    }

    /// Whether `page` is resident.
    pub fn contains(&self, page: u64) -> bool {
        self.counts.contains_key(&page)
    }
}

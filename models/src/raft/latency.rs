//! Commit latency as a leader sees it: from appending an entry to its log to knowing it
//! committed. Sans-IO: the driver passes its clock's time with each look, so the simulated
//! cluster and the native node measure it the same way (`native run --compare` sets one
//! against the other).

use std::collections::VecDeque;

use super::{Index, Role, Term};

/// The most entries awaiting commit that are remembered (a leader that cannot commit for a
/// long time forgets the oldest; they are not measured).
pub const PENDING_MAX: usize = 100_000;

/// One node's clock of its own appends, while it leads.
#[derive(Debug, Clone, Default)]
pub struct CommitClock {
    /// (index, time appended), in index order, for entries appended in the current term.
    pending: VecDeque<(Index, u64)>,
    /// The term of the current leadership, while leading.
    leading: Option<Term>,
    noted_upto: Index,
}

impl CommitClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at the node after it changed, at time `now_ns`: notes entries it appended as leader
    /// and returns, through `done`, the latency of each that is now committed.
    pub fn observe(
        &mut self,
        now_ns: u64,
        role: Role,
        term: Term,
        last_index: Index,
        commit_index: Index,
        mut done: impl FnMut(u64),
    ) {
        if role != Role::Leader {
            self.pending.clear();
            self.leading = None;
            return;
        }
        if self.leading != Some(term) {
            // A new leadership: what the log already holds was not appended by it.
            self.pending.clear();
            self.leading = Some(term);
            self.noted_upto = last_index.max(commit_index);
        }
        while self.noted_upto < last_index {
            self.noted_upto += 1;
            if self.pending.len() == PENDING_MAX {
                self.pending.pop_front();
            }
            self.pending.push_back((self.noted_upto, now_ns));
        }
        while self
            .pending
            .front()
            .is_some_and(|&(i, _)| i <= commit_index)
        {
            if let Some((_, at)) = self.pending.pop_front() {
                done(now_ns.saturating_sub(at));
            }
        }
        debug_assert!(self.pending.len() <= PENDING_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_from_append_to_commit_within_one_leadership() {
        let mut c = CommitClock::new();
        let mut got = Vec::new();
        // Becomes leader at term 2 with 3 entries already (not timed), appends 4 and 5.
        c.observe(100, Role::Leader, 2, 3, 3, |d| got.push(d));
        c.observe(110, Role::Leader, 2, 5, 3, |d| got.push(d));
        c.observe(150, Role::Leader, 2, 5, 4, |d| got.push(d));
        c.observe(170, Role::Leader, 2, 6, 6, |d| got.push(d));
        assert_eq!(got, [40, 60, 0]);
        // Deposed: what it had not committed is forgotten.
        c.observe(180, Role::Leader, 2, 7, 6, |d| got.push(d));
        c.observe(190, Role::Follower, 3, 7, 7, |d| got.push(d));
        assert_eq!(got.len(), 3);
        // A follower that becomes leader in the term it followed in times only its own appends.
        c.observe(200, Role::Follower, 4, 9, 8, |d| got.push(d));
        c.observe(210, Role::Leader, 4, 9, 8, |d| got.push(d));
        c.observe(220, Role::Leader, 4, 10, 8, |d| got.push(d));
        c.observe(230, Role::Leader, 4, 10, 10, |d| got.push(d));
        assert_eq!(got, [40, 60, 0, 10]);
    }
}

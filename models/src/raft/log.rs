//! A node's in-memory Raft log: the entries after its snapshot, indexed from 1.
//!
//! It also remembers the lowest index changed since the safety checker last looked
//! ([`Log::take_dirty_from`]), so the checker re-reads only what changed after each event.

use super::types::{Entry, Index, Term};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Log {
    /// The last index and term the snapshot covers (0, 0 without one).
    snapshot_index: Index,
    snapshot_term: Term,
    /// `entries[k]` is the entry at index `snapshot_index + 1 + k`.
    entries: Vec<Entry>,
    dirty_from: Option<Index>,
}

impl Log {
    /// A log that starts after a snapshot at (`index`, `term`) and holds `entries` after it.
    pub fn new(snapshot_index: Index, snapshot_term: Term, entries: Vec<Entry>) -> Self {
        Log {
            snapshot_index,
            snapshot_term,
            entries,
            dirty_from: Some(snapshot_index),
        }
    }

    pub fn snapshot_index(&self) -> Index {
        self.snapshot_index
    }

    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// The first index that holds an entry (may be past the last when the log is empty).
    pub fn first_index(&self) -> Index {
        self.snapshot_index + 1
    }

    pub fn last_index(&self) -> Index {
        self.snapshot_index + self.entries.len() as Index
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The term at `index`: known for the snapshot's last index and every entry, `None` before
    /// the snapshot or past the end. Index 0 has term 0.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.get(index).map(|e| e.term)
    }

    pub fn get(&self, index: Index) -> Option<&Entry> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index - self.snapshot_index - 1) as usize)
    }

    /// Up to `max` entries from `from` on (empty if `from` is compacted away or past the end).
    pub fn entries_from(&self, from: Index, max: usize) -> &[Entry] {
        if from <= self.snapshot_index || from > self.last_index() {
            return &[];
        }
        let start = (from - self.snapshot_index - 1) as usize;
        let end = start.saturating_add(max).min(self.entries.len());
        &self.entries[start..end]
    }

    fn touch(&mut self, index: Index) {
        self.dirty_from = Some(self.dirty_from.map_or(index, |d| d.min(index)));
    }

    pub fn append(&mut self, entry: Entry) -> Index {
        debug_assert!(
            entry.term >= self.last_term(),
            "terms in a log never decrease"
        );
        self.entries.push(entry);
        let i = self.last_index();
        self.touch(i);
        i
    }

    /// Drops every entry from `from` on. `from` must be after the snapshot.
    pub fn truncate_from(&mut self, from: Index) {
        debug_assert!(
            from > self.snapshot_index,
            "cannot truncate into the snapshot"
        );
        if from <= self.last_index() {
            self.entries
                .truncate((from - self.snapshot_index - 1) as usize);
            self.touch(from);
        }
    }

    /// Replaces the log up to (`index`, `term`) by a snapshot: keeps the entries after it if the
    /// log holds that entry, else drops them all (Raft §7, "If existing log entry has same index
    /// and term as snapshot's last included entry, retain log entries following it").
    pub fn compact_to(&mut self, index: Index, term: Term) {
        if index <= self.snapshot_index {
            return;
        }
        if self.term_at(index) == Some(term) {
            let drop = (index - self.snapshot_index) as usize;
            self.entries.drain(..drop);
        } else {
            self.entries.clear();
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.touch(index);
    }

    /// The first index holding term `term` at or before `upto`, scanning back from `upto`.
    pub fn first_index_of_term(&self, term: Term, upto: Index) -> Index {
        let mut i = upto.min(self.last_index());
        while i > self.snapshot_index && self.term_at(i - 1) == Some(term) {
            i -= 1;
        }
        i
    }

    /// The last index holding term `term`, if any entry does (searching back from the end).
    pub fn last_index_of_term(&self, term: Term) -> Option<Index> {
        let mut i = self.last_index();
        while i > self.snapshot_index {
            let t = self.term_at(i)?;
            if t == term {
                return Some(i);
            }
            if t < term {
                return None;
            }
            i -= 1;
        }
        (self.snapshot_term == term && term > 0).then_some(self.snapshot_index)
    }

    /// Whether a candidate whose log ends at (`last_index`, `last_term`) is at least as up to
    /// date as this log (Raft §5.4.1).
    pub fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// The lowest index changed since the last call (appended, truncated or compacted), if any.
    pub fn take_dirty_from(&mut self) -> Option<Index> {
        self.dirty_from.take()
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::Payload;
    use super::*;

    fn e(term: Term) -> Entry {
        Entry {
            term,
            payload: Payload::Noop,
        }
    }

    fn log(terms: &[Term]) -> Log {
        Log::new(0, 0, terms.iter().map(|&t| e(t)).collect())
    }

    #[test]
    fn indexes_and_terms() {
        let l = log(&[1, 1, 2, 3]);
        assert_eq!((l.first_index(), l.last_index(), l.last_term()), (1, 4, 3));
        assert_eq!(l.term_at(0), Some(0));
        assert_eq!(l.term_at(3), Some(2));
        assert_eq!(l.term_at(5), None);
        assert_eq!(l.entries_from(2, 2).len(), 2);
        assert_eq!(l.entries_from(4, 10).len(), 1);
        assert!(l.entries_from(5, 10).is_empty());
    }

    #[test]
    fn truncate_and_dirty_tracking() {
        let mut l = log(&[1, 1, 2, 3]);
        assert_eq!(l.take_dirty_from(), Some(0));
        assert_eq!(l.take_dirty_from(), None);
        l.truncate_from(3);
        l.append(e(4));
        assert_eq!(l.last_index(), 3);
        assert_eq!(l.take_dirty_from(), Some(3));
    }

    #[test]
    fn compaction_keeps_a_matching_suffix_and_drops_a_conflicting_log() {
        let mut l = log(&[1, 1, 2, 3]);
        l.compact_to(2, 1);
        assert_eq!((l.first_index(), l.last_index()), (3, 4));
        assert_eq!(l.term_at(2), Some(1));
        assert_eq!(l.get(2), None);
        assert_eq!(l.term_at(1), None);
        let mut l = log(&[1, 1, 2, 3]);
        l.compact_to(3, 5);
        assert_eq!((l.last_index(), l.last_term()), (3, 5));
        l.compact_to(2, 1);
        assert_eq!(l.snapshot_index(), 3, "an older snapshot changes nothing");
    }

    #[test]
    fn term_search_for_fast_backtracking() {
        let l = log(&[1, 1, 2, 2, 2, 4]);
        assert_eq!(l.first_index_of_term(2, 5), 3);
        assert_eq!(l.first_index_of_term(1, 2), 1);
        assert_eq!(l.last_index_of_term(2), Some(5));
        assert_eq!(l.last_index_of_term(3), None);
        assert_eq!(l.last_index_of_term(4), Some(6));
    }

    #[test]
    fn up_to_date_compares_last_term_then_length() {
        let l = log(&[1, 2, 2]);
        assert!(l.is_up_to_date(3, 2));
        assert!(l.is_up_to_date(1, 3));
        assert!(!l.is_up_to_date(5, 1));
        assert!(!l.is_up_to_date(2, 2));
    }
}

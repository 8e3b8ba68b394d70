//! A node's disk as the simulator sees it: writes land in a volatile cache and become durable
//! only when an fsync that was started after them completes; a crash keeps only what is
//! durable (the page-cache semantics of a real `write` + `fsync`).
//!
//! The driver applies a node's [`Write`]s with [`SimStorage::write`], starts an fsync with
//! [`SimStorage::begin_sync`] and, when the simulated disk finishes it, makes exactly the writes
//! made before that point durable with [`SimStorage::complete_sync`]. Writes after the fsync
//! started are not covered by it, as on a real disk.

use super::types::{Entry, Index, NodeId, Restored, Snapshot, Term, Write};

/// The durable image: what a restart recovers.
#[derive(Debug, Clone, Default, PartialEq)]
struct Image {
    term: Term,
    vote: Option<NodeId>,
    snapshot: Option<Snapshot>,
    /// Entries after the snapshot (or from index 1).
    entries: Vec<Entry>,
}

impl Image {
    fn first_index(&self) -> Index {
        self.snapshot.as_ref().map_or(0, |s| s.last_index) + 1
    }

    fn apply(&mut self, w: &Write) {
        match w {
            Write::HardState { term, vote } => {
                debug_assert!(*term >= self.term, "a node's term never goes back");
                self.term = *term;
                self.vote = *vote;
            }
            Write::Append { first, entries } => {
                let base = self.first_index();
                if *first < base {
                    // Entries already covered by the snapshot: skip them.
                    let skip = (base - first) as usize;
                    self.entries.clear();
                    self.entries.extend(entries.iter().skip(skip).cloned());
                    return;
                }
                let keep = ((first - base) as usize).min(self.entries.len());
                debug_assert!(
                    first - base <= self.entries.len() as u64,
                    "an append leaves no hole in the log"
                );
                self.entries.truncate(keep);
                self.entries.extend(entries.iter().cloned());
            }
            Write::Snapshot(s) => {
                let base = self.first_index();
                if s.last_index < base {
                    return;
                }
                let pos = (s.last_index - base) as usize;
                match self.entries.get(pos) {
                    Some(e) if e.term == s.last_term => {
                        self.entries.drain(..=pos);
                    }
                    _ => self.entries.clear(),
                }
                self.snapshot = Some(s.clone());
            }
        }
    }
}

/// One node's simulated disk.
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    durable: Image,
    /// Writes not yet durable, oldest first, each with the number of the write it was.
    pending: std::collections::VecDeque<(u64, Write)>,
    /// Writes made so far (numbers them).
    written: u64,
    /// For each fsync in flight, oldest first: the number of writes it covers.
    syncs: std::collections::VecDeque<u64>,
}

impl SimStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts a write into the volatile cache.
    pub fn write(&mut self, w: Write) {
        self.written += 1;
        self.pending.push_back((self.written, w));
    }

    /// Starts an fsync covering every write so far.
    pub fn begin_sync(&mut self) {
        self.syncs.push_back(self.written);
    }

    /// The oldest fsync in flight completed: what it covers becomes durable. False when no
    /// fsync was in flight.
    pub fn complete_sync(&mut self) -> bool {
        let Some(upto) = self.syncs.pop_front() else {
            return false;
        };
        while self.pending.front().is_some_and(|(n, _)| *n <= upto) {
            if let Some((_, w)) = self.pending.pop_front() {
                self.durable.apply(&w);
            }
        }
        true
    }

    /// Fsyncs in flight.
    pub fn syncs_in_flight(&self) -> usize {
        self.syncs.len()
    }

    /// The machine lost power: everything not durable is gone, and no fsync will complete.
    pub fn crash(&mut self) {
        self.pending.clear();
        self.syncs.clear();
    }

    /// What a node restarting now recovers. Only meaningful after [`SimStorage::crash`] (before
    /// it, unsynced writes would be missing from a running node's view).
    pub fn restore(&self) -> Restored {
        Restored {
            term: self.durable.term,
            vote: self.durable.vote,
            snapshot: self.durable.snapshot.clone(),
            entries: self.durable.entries.clone(),
        }
    }

    /// The durable log's last index.
    pub fn durable_last_index(&self) -> Index {
        self.durable.first_index() - 1 + self.durable.entries.len() as Index
    }
}

#[cfg(test)]
mod tests {
    use super::super::kv::KvState;
    use super::super::types::Payload;
    use super::*;

    fn entries(terms: &[Term]) -> Vec<Entry> {
        terms
            .iter()
            .map(|&term| Entry {
                term,
                payload: Payload::Noop,
            })
            .collect()
    }

    #[test]
    fn only_synced_writes_survive_a_crash() {
        let mut s = SimStorage::new();
        s.write(Write::HardState {
            term: 1,
            vote: Some(0),
        });
        s.write(Write::Append {
            first: 1,
            entries: entries(&[1, 1]),
        });
        s.begin_sync();
        s.write(Write::Append {
            first: 3,
            entries: entries(&[1]),
        });
        assert!(s.complete_sync());
        s.write(Write::HardState {
            term: 2,
            vote: None,
        });
        s.crash();
        let r = s.restore();
        assert_eq!((r.term, r.vote), (1, Some(0)));
        assert_eq!(
            r.entries.len(),
            2,
            "the append after the fsync began is lost"
        );
        assert!(!s.complete_sync(), "no fsync survives a crash");
    }

    #[test]
    fn appends_truncate_and_snapshots_compact() {
        let mut s = SimStorage::new();
        s.write(Write::Append {
            first: 1,
            entries: entries(&[1, 1, 2, 2]),
        });
        s.write(Write::Append {
            first: 3,
            entries: entries(&[3]),
        });
        s.write(Write::Snapshot(Snapshot {
            last_index: 2,
            last_term: 1,
            data: KvState::new(),
        }));
        s.begin_sync();
        s.complete_sync();
        let r = s.restore();
        assert_eq!(r.snapshot.as_ref().map(|x| x.last_index), Some(2));
        assert_eq!(r.entries, entries(&[3]));
        assert_eq!(s.durable_last_index(), 3);
        // A snapshot whose last entry conflicts with the log replaces the whole log.
        s.write(Write::Snapshot(Snapshot {
            last_index: 3,
            last_term: 9,
            data: KvState::new(),
        }));
        s.write(Write::Append {
            first: 2,
            entries: entries(&[9, 9, 9]),
        });
        s.begin_sync();
        s.complete_sync();
        let r = s.restore();
        assert_eq!(
            r.entries,
            entries(&[9]),
            "entries up to the snapshot are skipped"
        );
        assert_eq!(s.durable_last_index(), 4);
    }
}

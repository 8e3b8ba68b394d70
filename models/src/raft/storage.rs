//! A node's disk as the simulator sees it: writes land in a volatile cache and become durable
//! only when an fsync that was started after them completes; a crash keeps only what is
//! durable (the page-cache semantics of a real `write` + `fsync`).
//!
//! The driver applies a node's [`Write`]s with [`SimStorage::write`], starts an fsync with
//! [`SimStorage::begin_sync`] and, when the simulated disk finishes it, makes exactly the writes
//! made before that point durable with [`SimStorage::complete_sync`]. Writes after the fsync
//! started are not covered by it, as on a real disk.
//!
//! What the durable writes leave is a [`DurableImage`], public so that a real disk's log file can
//! be replayed by the same rules and recover what the simulator would.

use super::types::{Entry, Index, NodeId, Restored, Snapshot, Term, Write};

/// Why a [`Write`] cannot be applied to a [`DurableImage`]: it breaks an invariant that a
/// node's writes keep. A node never makes such a write; a log file replayed with
/// [`DurableImage::apply`] may hold one (written by a bug, or forged), and recovering from it
/// would hand the node a state it never had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// A hard state whose term is below the durable one: a node's term never goes back.
    #[error("the term goes back from {durable} to {term}")]
    TermBack { durable: Term, term: Term },
    /// An append starting past the end of the log, which would leave a hole in it.
    #[error("an append from index {first} leaves a hole after the last index {last}")]
    Hole { first: Index, last: Index },
    /// A snapshot or append whose last index leaves no index after it.
    #[error("index {last} leaves no room for a next index")]
    IndexOverflow { last: Index },
}

/// The durable image of a node's storage: what the writes made so far (and synced, for a crash
/// to keep them) leave, and so what a restart recovers. [`SimStorage`] keeps one for what is
/// durable; a node's log file on a real disk is replayed onto one, so that both recover the same
/// state from the same writes.
///
/// The rules: a hard state replaces term and vote; an append drops the log from `first` on and
/// appends its entries (skipping those a snapshot covers); a snapshot beyond the current one
/// drops the entries it covers if the log holds its last entry (same index and term), and the
/// whole log otherwise.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurableImage {
    term: Term,
    vote: Option<NodeId>,
    snapshot: Option<Snapshot>,
    /// Entries after the snapshot (or from index 1).
    entries: Vec<Entry>,
}

impl DurableImage {
    /// The image of an empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of the first entry kept after the snapshot (1 without one).
    pub fn first_index(&self) -> Index {
        // A snapshot's last index is below Index::MAX: `apply` refuses others.
        self.snapshot.as_ref().map_or(0, |s| s.last_index) + 1
    }

    /// The index of the last entry (the snapshot's last, or 0, when no entry follows it).
    /// Below Index::MAX, so the next index always exists: `apply` refuses writes that would
    /// leave none.
    pub fn last_index(&self) -> Index {
        self.first_index() - 1 + self.entries.len() as Index
    }

    /// Applies `w` by the rules above, or refuses it, changing nothing, when it breaks an
    /// invariant of a node's writes (see [`ImageError`]).
    pub fn apply(&mut self, w: &Write) -> Result<(), ImageError> {
        match w {
            Write::HardState { term, vote } => {
                if *term < self.term {
                    return Err(ImageError::TermBack {
                        durable: self.term,
                        term: *term,
                    });
                }
                self.term = *term;
                self.vote = *vote;
            }
            Write::Append { first, entries } => {
                let base = self.first_index();
                let last = self.last_index();
                if *first > last + 1 {
                    return Err(ImageError::Hole {
                        first: *first,
                        last,
                    });
                }
                // The index after the append's last entry must exist.
                if first.checked_add(entries.len() as Index).is_none() {
                    return Err(ImageError::IndexOverflow { last: Index::MAX });
                }
                if *first < base {
                    // Entries already covered by the snapshot: skip them.
                    let skip = usize::try_from(base - first).unwrap_or(usize::MAX);
                    self.entries.clear();
                    self.entries.extend(entries.iter().skip(skip).cloned());
                } else {
                    // No hole: `first - base` is at most the number of entries.
                    self.entries.truncate((first - base) as usize);
                    self.entries.extend(entries.iter().cloned());
                }
            }
            Write::Snapshot(s) => {
                if s.last_index == Index::MAX {
                    return Err(ImageError::IndexOverflow { last: s.last_index });
                }
                let base = self.first_index();
                if s.last_index < base {
                    return Ok(());
                }
                let pos = usize::try_from(s.last_index - base).unwrap_or(usize::MAX);
                match self.entries.get(pos) {
                    Some(e) if e.term == s.last_term => {
                        self.entries.drain(..=pos);
                    }
                    _ => self.entries.clear(),
                }
                self.snapshot = Some(s.clone());
            }
        }
        Ok(())
    }

    /// What a node restarting from this image recovers.
    pub fn restored(&self) -> Restored {
        Restored {
            term: self.term,
            vote: self.vote,
            snapshot: self.snapshot.clone(),
            entries: self.entries.clone(),
        }
    }

    /// The fewest writes that rebuild this image from an empty one: the hard state, the
    /// snapshot if any, and the entries after it (what compacting a log file writes).
    pub fn writes(&self) -> Vec<Write> {
        let mut ws = vec![Write::HardState {
            term: self.term,
            vote: self.vote,
        }];
        if let Some(s) = &self.snapshot {
            // A stored snapshot has last_index >= 1, so applied to an empty image it is stored;
            // the entries then follow it.
            ws.push(Write::Snapshot(s.clone()));
        }
        if !self.entries.is_empty() {
            ws.push(Write::Append {
                first: self.first_index(),
                entries: self.entries.clone(),
            });
        }
        ws
    }
}

/// One node's simulated disk.
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    durable: DurableImage,
    /// Writes not yet durable, oldest first, each with the number of the write it was.
    pending: std::collections::VecDeque<(u64, Write)>,
    /// Writes made so far (numbers them).
    written: u64,
    /// For each fsync in flight, oldest first: the number of writes it covers.
    syncs: std::collections::VecDeque<u64>,
    /// The writes the last crash found not durable, oldest first: a real disk may have kept a
    /// prefix of them (see [`SimStorage::admits`]).
    lost: Vec<Write>,
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
                let applied = self.durable.apply(&w);
                debug_assert!(
                    applied.is_ok(),
                    "a node's writes keep the invariants: {applied:?}"
                );
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
        self.lost = self.pending.drain(..).map(|(_, w)| w).collect();
        self.syncs.clear();
    }

    /// Whether a real disk's log may recover `image` after the last crash: the durable image,
    /// or it with a prefix of the writes the crash found not durable (the writes of an fsync
    /// that had reached the disk but not completed, or unsynced ones a torn write kept whole:
    /// a log replays its records in order and stops at the first one missing).
    pub fn admits(&self, image: &DurableImage) -> bool {
        if self.durable == *image {
            return true;
        }
        let mut candidate = self.durable.clone();
        for w in &self.lost {
            if candidate.apply(w).is_err() {
                return false;
            }
            if candidate == *image {
                return true;
            }
        }
        false
    }

    /// The durable image (what a restart now recovers, as an image).
    pub fn durable(&self) -> &DurableImage {
        &self.durable
    }

    /// A node restarted from `image` rather than from this storage's (its real log lost
    /// records to a damaged disk): from now on this storage follows the node's writes from
    /// there.
    pub fn reset_to(&mut self, image: DurableImage) {
        self.durable = image;
        self.pending.clear();
        self.syncs.clear();
        self.lost.clear();
    }

    /// What a node restarting now recovers. Only meaningful after [`SimStorage::crash`] (before
    /// it, unsynced writes would be missing from a running node's view).
    pub fn restore(&self) -> Restored {
        self.durable.restored()
    }

    /// The durable log's last index.
    pub fn durable_last_index(&self) -> Index {
        self.durable.last_index()
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

    #[test]
    fn writes_rebuild_the_image() {
        let snapshot = |last_index, last_term| {
            Write::Snapshot(Snapshot {
                last_index,
                last_term,
                data: KvState::new(),
            })
        };
        let steps = [
            Write::HardState {
                term: 3,
                vote: Some(2),
            },
            Write::Append {
                first: 1,
                entries: entries(&[1, 2, 2, 3]),
            },
            snapshot(2, 2),
            Write::Append {
                first: 4,
                entries: entries(&[3, 3]),
            },
            snapshot(9, 3),
        ];
        let mut image = DurableImage::new();
        assert_eq!(image.writes().len(), 1, "an empty image is its hard state");
        for w in &steps {
            image.apply(w).expect("a valid write");
            let mut again = DurableImage::new();
            for w in image.writes() {
                again.apply(&w).expect("a valid write");
            }
            assert_eq!(again, image, "after {w:?}");
            assert_eq!(again.restored(), image.restored());
        }
        assert_eq!(image.last_index(), 9);
        assert_eq!(image.first_index(), 10);
    }

    #[test]
    fn writes_no_node_makes_are_refused_and_change_nothing() {
        let mut image = DurableImage::new();
        let ok = [
            Write::HardState {
                term: 5,
                vote: None,
            },
            Write::Append {
                first: 1,
                entries: entries(&[1, 5]),
            },
        ];
        for w in &ok {
            image.apply(w).expect("a valid write");
        }
        let before = image.clone();
        let refused = [
            (
                Write::HardState {
                    term: 4,
                    vote: Some(1),
                },
                ImageError::TermBack {
                    durable: 5,
                    term: 4,
                },
            ),
            (
                Write::Append {
                    first: 4,
                    entries: entries(&[5]),
                },
                ImageError::Hole { first: 4, last: 2 },
            ),
            (
                Write::Append {
                    first: Index::MAX,
                    entries: entries(&[5]),
                },
                ImageError::Hole {
                    first: Index::MAX,
                    last: 2,
                },
            ),
            (
                Write::Snapshot(Snapshot {
                    last_index: Index::MAX,
                    last_term: 5,
                    data: KvState::new(),
                }),
                ImageError::IndexOverflow { last: Index::MAX },
            ),
        ];
        for (w, e) in refused {
            assert_eq!(image.apply(&w), Err(e), "{w:?}");
            assert_eq!(image, before, "{w:?} changed nothing");
        }
        // The largest snapshot index that leaves a next one, then an append that would need
        // an index past Index::MAX.
        let top = Write::Snapshot(Snapshot {
            last_index: Index::MAX - 1,
            last_term: 5,
            data: KvState::new(),
        });
        image.apply(&top).expect("a valid write");
        assert_eq!(image.last_index(), Index::MAX - 1);
        let full = image.clone();
        let over = Write::Append {
            first: Index::MAX,
            entries: entries(&[5]),
        };
        assert_eq!(
            image.apply(&over),
            Err(ImageError::IndexOverflow { last: Index::MAX })
        );
        assert_eq!(image, full);
        // An append from index 0 (inside any snapshot) is applied like any other.
        image
            .apply(&Write::Append {
                first: 0,
                entries: vec![],
            })
            .expect("a valid write");
        assert_eq!(image, full);
    }
}

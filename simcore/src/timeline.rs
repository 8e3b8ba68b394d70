//! What a run looked like over time, for people: spans and instants on named tracks (a host's
//! Raft role, a job on a CPU, a fault), kept only when the run asks for it
//! ([`crate::SimConfig::record`]).
//!
//! The timeline is an observation, not part of the run: it never enters the trace hash, and a
//! model must record the same things whether or not anyone looks (it only skips the work when
//! [`crate::Ctx::timeline`] is `None`). Charts (`sim report`) and the Chrome trace export
//! (`sim run --export-trace`) read it.
//!
//! Everything is bounded: at most [`MARKS_MAX`] marks in all and [`MARKS_PER_CATEGORY_MAX`] of
//! any one category (later ones are counted in [`Timeline::dropped`]), so a flood of one kind
//! (client operations) cannot crowd out the rare ones (faults, role changes); and at most
//! [`TRACKS_MAX`] tracks (later names all share one overflow track). Tracks are numbered in order
//! of first use, so the same run gives the same timeline, byte for byte.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::time::SimTime;

/// The most marks a timeline keeps; later ones are only counted.
pub const MARKS_MAX: usize = 1_000_000;
/// The most marks of one category a timeline keeps.
pub const MARKS_PER_CATEGORY_MAX: usize = 250_000;
/// The most tracks a timeline has; later names all land on one track named [`OVERFLOW_TRACK`].
pub const TRACKS_MAX: usize = 4096;
/// The group and name of the one track that names beyond [`TRACKS_MAX`] share.
pub const OVERFLOW_TRACK: &str = "(other)";

/// A track: a row of a chart, a thread in a Chrome trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TrackId(pub u32);

/// A named track in a group (`hosts`/`n1`, `cpus`/`cpu0`, `clients`/`c1`, `faults`/`faults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Track {
    pub group: String,
    pub name: String,
}

/// One mark: a span from `at` to `end`, or an instant at `at` when `end` is `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub track: TrackId,
    /// What kind of mark this is (`role`, `fault`, `run`, `op`): charts pick marks by it.
    pub category: &'static str,
    pub name: String,
    pub at: SimTime,
    pub end: Option<SimTime>,
}

impl Mark {
    /// How long a span lasts (zero for an instant).
    pub fn duration_ns(&self) -> u64 {
        self.end
            .map_or(0, |e| e.as_nanos().saturating_sub(self.at.as_nanos()))
    }
}

/// Spans and instants on tracks, in the order they were recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    tracks: Vec<Track>,
    by_name: BTreeMap<(String, String), TrackId>,
    marks: Vec<Mark>,
    per_category: BTreeMap<&'static str, usize>,
    dropped: u64,
}

impl Timeline {
    pub fn new() -> Self {
        Timeline::default()
    }

    /// The track `name` of `group`, made on first use.
    pub fn track(&mut self, group: &str, name: &str) -> TrackId {
        if let Some(&id) = self.by_name.get(&(group.to_string(), name.to_string())) {
            return id;
        }
        // The last free track is the overflow track, whatever the group.
        let key = if self.tracks.len() >= TRACKS_MAX - 1 {
            (OVERFLOW_TRACK.to_string(), OVERFLOW_TRACK.to_string())
        } else {
            (group.to_string(), name.to_string())
        };
        if let Some(&id) = self.by_name.get(&key) {
            return id;
        }
        let id = TrackId(self.tracks.len() as u32);
        self.tracks.push(Track {
            group: key.0.clone(),
            name: key.1.clone(),
        });
        self.by_name.insert(key, id);
        debug_assert!(self.tracks.len() <= TRACKS_MAX);
        id
    }

    /// Records a span on `track` from `start` to `end` (swapped if given backwards).
    pub fn span(
        &mut self,
        track: TrackId,
        category: &'static str,
        name: impl Into<String>,
        start: SimTime,
        end: SimTime,
    ) {
        let (at, end) = if end < start {
            (end, start)
        } else {
            (start, end)
        };
        self.push(Mark {
            track,
            category,
            name: name.into(),
            at,
            end: Some(end),
        });
    }

    /// Records an instant on `track` at `at`.
    pub fn instant(
        &mut self,
        track: TrackId,
        category: &'static str,
        name: impl Into<String>,
        at: SimTime,
    ) {
        self.push(Mark {
            track,
            category,
            name: name.into(),
            at,
            end: None,
        });
    }

    fn push(&mut self, mark: Mark) {
        debug_assert!((mark.track.0 as usize) < self.tracks.len(), "unknown track");
        let of_kind = self.per_category.entry(mark.category).or_insert(0);
        if self.marks.len() < MARKS_MAX && *of_kind < MARKS_PER_CATEGORY_MAX {
            *of_kind += 1;
            self.marks.push(mark);
        } else {
            self.dropped += 1;
        }
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    pub fn get_track(&self, id: TrackId) -> Option<&Track> {
        self.tracks.get(id.0 as usize)
    }

    /// Every kept mark, in the order recorded.
    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// Marks recorded beyond [`MARKS_MAX`] and not kept.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The kept marks of `category` on tracks of `group`, each with its track's name.
    pub fn in_group<'a>(
        &'a self,
        group: &'a str,
        category: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Mark)> + 'a {
        self.marks.iter().filter_map(move |m| {
            let t = &self.tracks[m.track.0 as usize];
            (t.group == group && m.category == category).then_some((t.name.as_str(), m))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    #[test]
    fn tracks_are_interned_in_order_of_first_use() {
        let mut tl = Timeline::new();
        let a = tl.track("hosts", "n2");
        let b = tl.track("hosts", "n1");
        assert_eq!(tl.track("hosts", "n2"), a);
        assert_ne!(a, b);
        assert_ne!(tl.track("cpus", "n2"), a, "the group is part of the name");
        assert_eq!(tl.tracks()[0].name, "n2");
        assert_eq!(tl.tracks()[1].name, "n1");
    }

    #[test]
    fn spans_and_instants_are_kept_in_order_and_filtered_by_group() {
        let mut tl = Timeline::new();
        let n1 = tl.track("hosts", "n1");
        let f = tl.track("faults", "faults");
        tl.span(n1, "role", "leader t2", t(50), t(10));
        tl.instant(f, "fault", "crash n1", t(50));
        assert_eq!(tl.marks()[0].at, t(10), "a backwards span is swapped");
        assert_eq!(tl.marks()[0].duration_ns(), 40);
        assert_eq!(tl.marks()[1].end, None);
        let roles: Vec<_> = tl.in_group("hosts", "role").collect();
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0].0, "n1");
        assert_eq!(tl.in_group("hosts", "fault").count(), 0);
    }

    #[test]
    fn marks_and_tracks_are_bounded() {
        let mut tl = Timeline::new();
        let mut last = TrackId(0);
        for i in 0..TRACKS_MAX + 10 {
            last = tl.track("g", &format!("t{i}"));
        }
        assert_eq!(tl.tracks().len(), TRACKS_MAX);
        assert_eq!(tl.tracks()[last.0 as usize].name, OVERFLOW_TRACK);
        // Past the limit every group shares the one overflow track.
        assert_eq!(tl.track("other group", "x"), last);
        assert_eq!(tl.tracks().len(), TRACKS_MAX);
        let tr = tl.track("g", "t0");
        // One category fills its share; the others still get theirs, up to the total.
        for i in 0..MARKS_PER_CATEGORY_MAX as u64 + 5 {
            tl.instant(tr, "op", "", t(i));
        }
        assert_eq!(tl.dropped(), 5);
        tl.instant(tr, "fault", "crash", t(1));
        assert_eq!(tl.marks().last().unwrap().category, "fault");
        for c in ["a", "b", "c", "d"] {
            for i in 0..MARKS_PER_CATEGORY_MAX as u64 {
                tl.instant(tr, c, "", t(i));
            }
        }
        assert_eq!(tl.marks().len(), MARKS_MAX);
    }
}

//! Liveness expectations (`expect EVENT within T [after VERB]`) as obligations: each opens at
//! the start of the run or when a step of its verb happens, is met when its event happens, and
//! is broken when its deadline passes first. The same book serves the simulated world and
//! `native run`; the caller schedules each deadline on its own clock and says what it sees.

use simcore::{SimDuration, SimTime};

/// What a liveness expectation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveEvent {
    /// A live, running node leads in the highest term any live node has.
    Leader,
    /// The committed index grows.
    Commit,
}

/// `expect EVENT within T [after ANCHOR]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Liveness {
    pub event: LiveEvent,
    pub within: SimDuration,
    /// A fault verb, or `None` for the start of the run.
    pub after: Option<String>,
    /// The line as written, for violations.
    pub text: String,
}

#[derive(Debug, Clone, Copy)]
struct Obligation {
    spec: usize,
    deadline: SimTime,
    baseline_commit: u64,
    met: bool,
}

/// The obligations of a run.
#[derive(Debug, Clone, Default)]
pub struct Obligations {
    specs: Vec<Liveness>,
    list: Vec<Obligation>,
    open: usize,
}

impl Obligations {
    pub fn new(specs: Vec<Liveness>) -> Self {
        Obligations {
            specs,
            list: Vec::new(),
            open: 0,
        }
    }

    /// Whether any obligation waits to be met (so the caller need not look otherwise).
    #[inline]
    pub fn any_open(&self) -> bool {
        self.open > 0
    }

    /// Opens the expectations anchored at `verb` (`None`: the start of the run) at `now`, with
    /// the cluster's committed index as the baseline a `commit` must pass; `schedule` is given
    /// each new obligation's number and deadline, in order. Then looks at what holds already.
    pub fn open(
        &mut self,
        verb: Option<&str>,
        now: SimTime,
        leader: bool,
        committed: u64,
        mut schedule: impl FnMut(u32, SimTime),
    ) {
        for (i, l) in self.specs.iter().enumerate() {
            if l.after.as_deref() != verb {
                continue;
            }
            let deadline = now.saturating_add(l.within);
            let index = self.list.len() as u32;
            self.list.push(Obligation {
                spec: i,
                deadline,
                baseline_commit: committed,
                met: false,
            });
            self.open += 1;
            schedule(index, deadline);
        }
        if self.open > 0 {
            self.evaluate(leader, committed);
        }
    }

    /// Marks as met every open obligation whose event holds: whether there is a leader, and
    /// the cluster's committed index.
    pub fn evaluate(&mut self, leader: bool, committed: u64) {
        for o in self.list.iter_mut().filter(|o| !o.met) {
            let met = match self.specs[o.spec].event {
                LiveEvent::Leader => leader,
                LiveEvent::Commit => committed > o.baseline_commit,
            };
            if met {
                o.met = true;
                self.open -= 1;
            }
        }
    }

    /// Obligation `index`'s deadline has come: the violation's detail if it was not met (it is
    /// then closed).
    pub fn deadline(&mut self, index: u32) -> Option<String> {
        let o = self.list.get_mut(index as usize)?;
        if o.met {
            return None;
        }
        o.met = true;
        self.open -= 1;
        let l = &self.specs[o.spec];
        Some(format!("`{}` did not happen by {}", l.text, o.deadline))
    }

    /// The run ended: a violation's detail for each obligation still open (its deadline lay
    /// past the end), which are then closed.
    pub fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for o in self.list.iter_mut().filter(|o| !o.met) {
            o.met = true;
            let l = &self.specs[o.spec];
            out.push(format!(
                "`{}` had not happened when the run ended, before its deadline {}; lengthen the run to give it time",
                l.text, o.deadline
            ));
        }
        self.open = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(event: LiveEvent, within_ms: u64, after: Option<&str>) -> Liveness {
        Liveness {
            event,
            within: SimDuration::from_millis(within_ms),
            after: after.map(str::to_string),
            text: format!("{event:?} within {within_ms}ms"),
        }
    }

    #[test]
    fn an_obligation_opens_at_its_verb_and_is_met_by_its_event() {
        let mut o = Obligations::new(vec![
            spec(LiveEvent::Leader, 100, Some("heal")),
            spec(LiveEvent::Commit, 50, None),
        ]);
        let mut deadlines = Vec::new();
        o.open(None, SimTime::ZERO, false, 7, |i, t| deadlines.push((i, t)));
        assert_eq!(deadlines, vec![(0, SimTime::from_nanos(50 * 1_000_000))]);
        o.evaluate(true, 7);
        assert!(o.any_open(), "a commit must pass the baseline of 7");
        o.evaluate(true, 8);
        assert!(!o.any_open());
        assert_eq!(o.deadline(0), None);
        o.open(
            Some("heal"),
            SimTime::from_nanos(10 * 1_000_000),
            false,
            8,
            |i, t| deadlines.push((i, t)),
        );
        assert_eq!(deadlines[1], (1, SimTime::from_nanos(110 * 1_000_000)));
        assert_eq!(
            o.deadline(1).as_deref(),
            Some("`Leader within 100ms` did not happen by 110ms")
        );
        assert!(!o.any_open());
    }

    #[test]
    fn what_is_still_open_at_the_end_is_reported_once() {
        let mut o = Obligations::new(vec![spec(LiveEvent::Leader, 100, None)]);
        o.open(None, SimTime::ZERO, false, 0, |_, _| {});
        let end = o.finish();
        assert_eq!(end.len(), 1);
        assert!(end[0].contains("lengthen the run"), "{}", end[0]);
        assert!(o.finish().is_empty());
    }
}

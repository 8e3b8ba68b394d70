//! The progress bar of work done in phases whose sizes are learnt as they start (`sim report`:
//! the scenarios to run, then the charts to draw).
//!
//! One bar per phase, made when the phase's total is known, rather than one bar whose length
//! and position are changed in turn: a bar draws on every change, so a bar made before any total
//! was known drew a full bar at "0/0" (a length of 0 counts as complete), and a new phase briefly
//! showed its total against the last phase's position. Here the first frame of every phase is
//! "0/total", and its ETA is its own.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How a phase's bar looks: `[=====>    ] 12/40 scenarios run, eta 3s`.
const TEMPLATE: &str = "[{wide_bar}] {pos}/{len} {msg}, eta {eta}";

/// Bars for phases of work, drawn one after another on the same target.
pub struct PhaseBar {
    /// Where each phase's bar draws: a fresh target per bar (a target belongs to one bar).
    target: Box<dyn Fn() -> ProgressDrawTarget + Send + Sync>,
    /// The current phase's bar and how many phases have started.
    current: Mutex<(Option<ProgressBar>, usize)>,
    /// The message of each phase, in order; phases past the list reuse its last message.
    names: Vec<&'static str>,
}

impl PhaseBar {
    /// Bars on stderr when `visible` (a terminal), else bars that draw nothing.
    pub fn stderr(visible: bool, names: &[&'static str]) -> Self {
        let target = move || {
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            }
        };
        PhaseBar::with_target(Box::new(target), names)
    }

    /// Bars drawn on the targets `target` makes (a test's recording terminal).
    pub fn with_target(
        target: Box<dyn Fn() -> ProgressDrawTarget + Send + Sync>,
        names: &[&'static str],
    ) -> Self {
        PhaseBar {
            target,
            current: Mutex::new((None, 0)),
            names: names.to_vec(),
        }
    }

    /// Ends the current phase (clearing its bar) and starts the next, of `total` steps, drawn at
    /// once at 0/`total`.
    pub fn start(&self, total: u64) {
        let mut cur = self.lock();
        if let Some(old) = cur.0.take() {
            old.finish_and_clear();
        }
        let name = self
            .names
            .get(cur.1)
            .or(self.names.last())
            .copied()
            .unwrap_or("");
        let style = ProgressStyle::with_template(TEMPLATE)
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        // Built whole before its first frame: length, style and message all set, position 0.
        let bar = ProgressBar::with_draw_target(Some(total), (self.target)())
            .with_style(style)
            .with_message(name);
        bar.tick();
        *cur = (Some(bar), cur.1 + 1);
    }

    /// One step of the current phase done (nothing before the first phase starts).
    pub fn inc(&self) {
        if let Some(bar) = &self.lock().0 {
            bar.inc(1);
        }
    }

    /// Clears the last phase's bar.
    pub fn finish(&self) {
        if let Some(bar) = self.lock().0.take() {
            bar.finish_and_clear();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<ProgressBar>, usize)> {
        // A panic while holding the lock leaves nothing half-done worth refusing to draw.
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal that keeps every line it is given.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            60
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            if !s.trim().is_empty() {
                self.0.lock().unwrap().push(s.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The first frame of each phase is its empty bar at 0/total: never a full bar at "0/0"
    /// before the total is known, nor a new total against the last phase's position.
    #[test]
    fn every_phase_starts_at_zero_of_its_total() {
        let rec = Recorder::default();
        let term = rec.clone();
        let target = move || ProgressDrawTarget::term_like(Box::new(term.clone()));
        let bar = PhaseBar::with_target(Box::new(target), &["scenarios run", "charts drawn"]);
        bar.inc(); // before any phase: nothing to move, nothing drawn
        bar.start(3);
        for _ in 0..3 {
            bar.inc();
        }
        bar.start(40);
        bar.inc();
        bar.finish();
        let frames = rec.0.lock().unwrap().clone();
        assert!(!frames.is_empty(), "the bar drew");
        assert!(
            frames[0].contains(" 0/3 scenarios run") && !frames[0].contains('='),
            "first frame: {:?}",
            frames[0]
        );
        assert!(
            frames.iter().all(|f| !f.contains("0/0")),
            "no frame before the total is known: {frames:?}"
        );
        let charts = frames
            .iter()
            .position(|f| f.contains("charts drawn"))
            .expect("the second phase drew");
        assert!(
            frames[charts].contains(" 0/40 charts drawn") && !frames[charts].contains('='),
            "second phase's first frame: {:?}",
            frames[charts]
        );
    }
}

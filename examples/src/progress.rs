//! A progress bar on stderr for long exports and verifies.
//!
//! Drawn only when both stdout and stderr are terminals and `--quiet` was not given (piped
//! output and logs stay clean), and only once the work has run for [`SHOW_AFTER`]: a short
//! export prints its result line and nothing else.

use camwire::export::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

/// Work shorter than this shows no bar.
const SHOW_AFTER: Duration = Duration::from_millis(400);

/// The bar of one export or verify; [`Bar::report`] is the callback core calls.
pub struct Bar {
    bar: ProgressBar,
    enabled: bool,
    shown: Cell<bool>,
    started: Instant,
}

impl Bar {
    /// A bar for `what` (`exporting`, `verifying`): drawn on a terminal unless `quiet`.
    pub fn new(what: &'static str, quiet: bool) -> Bar {
        let enabled = !quiet && std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(what);
        Bar {
            bar,
            enabled,
            shown: Cell::new(false),
            started: Instant::now(),
        }
    }

    /// Takes one report from core.
    pub fn report(&self, p: Progress) {
        if !self.enabled {
            return;
        }
        if !self.shown.get() && self.started.elapsed() >= SHOW_AFTER && p.done < p.total {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown.set(true);
        }
        self.bar.set_length(p.total);
        self.bar.set_position(p.done);
    }

    /// Removes the bar so the result lines print on a clean terminal.
    pub fn finish(&self) {
        if self.shown.get() {
            self.bar.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    /// On an error return too: the message must not land behind a half-drawn bar.
    fn drop(&mut self) {
        self.finish();
    }
}

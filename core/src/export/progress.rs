//! Progress of an export or a verify, for a caller that shows it (the CLI's progress bar).
//!
//! Both spend their time reading bytes (copying samples, hashing files), so progress is
//! counted in bytes read.

use std::cell::Cell;

/// How far an export or a verify is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read so far.
    pub done: u64,
    /// Bytes the whole operation reads: fixed when the reading starts, an upper bound where
    /// the exact count is only known at the end. `done` never exceeds it, and the last report
    /// of a successful run has `done == total`.
    pub total: u64,
}

/// Reports are at least this many bytes apart (and then one at the end).
const REPORT_EVERY: u64 = 1 << 20;

/// Counts bytes read and passes them on, now and then, to the caller's callback.
pub(crate) struct Meter<'a> {
    report: &'a dyn Fn(Progress),
    done: Cell<u64>,
    total: Cell<u64>,
    reported: Cell<u64>,
}

impl<'a> Meter<'a> {
    pub(crate) fn new(report: &'a dyn Fn(Progress)) -> Meter<'a> {
        Meter {
            report,
            done: Cell::new(0),
            total: Cell::new(0),
            reported: Cell::new(0),
        }
    }

    /// Starts counting towards `total` bytes.
    pub(crate) fn start(&self, total: u64) {
        self.total.set(total);
        self.done.set(0);
        self.reported.set(0);
        self.send();
    }

    /// `n` more bytes were read.
    pub(crate) fn add(&self, n: u64) {
        let done = self.done.get().saturating_add(n).min(self.total.get());
        self.done.set(done);
        if done - self.reported.get() >= REPORT_EVERY {
            self.send();
        }
    }

    /// The work is done: reports `done == total`.
    pub(crate) fn finish(&self) {
        self.done.set(self.total.get());
        self.send();
    }

    fn send(&self) {
        self.reported.set(self.done.get());
        (self.report)(Progress {
            done: self.done.get(),
            total: self.total.get(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn reports_are_monotonic_capped_and_end_at_the_total() {
        let seen = RefCell::new(Vec::new());
        let record = |p: Progress| seen.borrow_mut().push(p);
        let m = Meter::new(&record);
        m.start(5 * REPORT_EVERY);
        for _ in 0..40 {
            m.add(REPORT_EVERY / 4);
        }
        // More than the total was read: capped, not past it.
        m.finish();
        let seen = seen.into_inner();
        assert_eq!(seen.first().map(|p| p.done), Some(0));
        assert!(seen.windows(2).all(|w| w[0].done <= w[1].done), "{seen:?}");
        assert!(seen.iter().all(|p| p.done <= p.total), "{seen:?}");
        assert_eq!(
            seen.last(),
            Some(&Progress {
                done: 5 * REPORT_EVERY,
                total: 5 * REPORT_EVERY
            })
        );
        // One report per MiB (5), the start and the finish: not one per read.
        assert_eq!(seen.len(), 7, "{seen:?}");
    }
}

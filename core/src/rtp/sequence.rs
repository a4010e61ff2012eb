//! RTP sequence-number tracking: loss, late packets and restarts.
//!
//! Reordering and duplicates are handled before this tracker, in a bounded window
//! ([`super::reorder`]); what reaches it is in sequence order except for packets that came
//! too late for the window (or when the window is off). A packet older than the last one is
//! therefore late: it is dropped and counted, and the gap it left was already counted as loss. A forward gap counts its missing packets as
//! lost. A jump too large to be loss (a camera that restarted its sequence) is taken on
//! probation as in RFC 3550 A.1: the next packet must follow it, then the tracker resyncs to
//! the new numbering and the probation packet counts as one lost packet.
//! Covered by `sequence_gap_counts_lost_packets`, `late_and_duplicate_packets_are_late`,
//! `sequence_restart_resyncs_after_two_packets` and `sequence_wraps`.

/// Forward steps up to this many packets are loss; beyond, a restart on probation.
pub const DEFAULT_MAX_DROPOUT: u16 = 3000;
/// Packets up to this far behind the last one are late; further behind, a restart on probation.
pub const DEFAULT_MAX_MISORDER: u16 = 100;

/// What one sequence number means for the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceStatus {
    /// The next packet; `lost` packets are missing before it (0 when contiguous).
    InOrder {
        /// Packets skipped over.
        lost: u16,
    },
    /// Older than (or equal to) the last packet: drop it.
    Late,
    /// A jump too large to be loss; dropped unless the next packet follows it.
    Probation,
    /// The packet after a probation packet: the stream restarted its numbering here. The
    /// probation packet was dropped, so one packet counts as lost.
    Resync,
}

/// Tracks one RTP stream's sequence numbers.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    last: Option<u16>,
    probation: Option<u16>,
    max_dropout: u16,
    max_misorder: u16,
}

impl SequenceTracker {
    /// A tracker with explicit bounds (see [`DEFAULT_MAX_DROPOUT`], [`DEFAULT_MAX_MISORDER`]).
    pub fn new(max_dropout: u16, max_misorder: u16) -> Self {
        SequenceTracker {
            last: None,
            probation: None,
            max_dropout,
            max_misorder,
        }
    }

    /// Classifies `seq`; accepted packets ([`SequenceStatus::InOrder`],
    /// [`SequenceStatus::Resync`]) become the new reference.
    pub fn observe(&mut self, seq: u16) -> SequenceStatus {
        let Some(last) = self.last else {
            self.last = Some(seq);
            return SequenceStatus::InOrder { lost: 0 };
        };
        let delta = seq.wrapping_sub(last);
        if delta != 0 && delta <= self.max_dropout {
            self.last = Some(seq);
            self.probation = None;
            return SequenceStatus::InOrder { lost: delta - 1 };
        }
        if delta == 0 || delta >= 0u16.wrapping_sub(self.max_misorder) {
            return SequenceStatus::Late;
        }
        if self.probation.is_some_and(|p| p.wrapping_add(1) == seq) {
            self.last = Some(seq);
            self.probation = None;
            return SequenceStatus::Resync;
        }
        self.probation = Some(seq);
        SequenceStatus::Probation
    }
}

impl Default for SequenceTracker {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_DROPOUT, DEFAULT_MAX_MISORDER)
    }
}

#[cfg(test)]
mod tests {
    use super::SequenceStatus::*;
    use super::*;

    #[test]
    fn sequence_gap_counts_lost_packets() {
        let mut s = SequenceTracker::default();
        assert_eq!(s.observe(10), InOrder { lost: 0 });
        assert_eq!(s.observe(11), InOrder { lost: 0 });
        assert_eq!(s.observe(15), InOrder { lost: 3 });
        assert_eq!(s.observe(15 + 3000), InOrder { lost: 2999 });
    }

    #[test]
    fn sequence_wraps() {
        let mut s = SequenceTracker::default();
        s.observe(65534);
        assert_eq!(s.observe(65535), InOrder { lost: 0 });
        assert_eq!(s.observe(0), InOrder { lost: 0 });
        assert_eq!(s.observe(2), InOrder { lost: 1 });
        assert_eq!(s.observe(65535), Late);
    }

    #[test]
    fn late_and_duplicate_packets_are_late() {
        let mut s = SequenceTracker::default();
        s.observe(100);
        s.observe(102);
        assert_eq!(s.observe(101), Late);
        assert_eq!(s.observe(102), Late);
        assert_eq!(s.observe(2), Late);
        assert_eq!(s.observe(103), InOrder { lost: 0 });
    }

    #[test]
    fn sequence_restart_resyncs_after_two_packets() {
        let mut s = SequenceTracker::default();
        s.observe(100);
        assert_eq!(s.observe(40_000), Probation);
        // A lone stray packet does not move the reference.
        assert_eq!(s.observe(101), InOrder { lost: 0 });
        assert_eq!(s.observe(20_000), Probation);
        assert_eq!(s.observe(20_001), Resync);
        assert_eq!(s.observe(20_002), InOrder { lost: 0 });
    }
}

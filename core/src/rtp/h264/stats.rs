//! Counters a VMS shows per camera: how much arrived, what was lost, what was thrown away.

use super::error::ErrorCounts;

/// Running totals for one depacketizer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepacketizerStats {
    /// Packets given to `push`, including late and skipped ones.
    pub packets: u64,
    /// Packets missing from the sequence (gaps), plus one per sequence restart.
    pub lost_packets: u64,
    /// Packets older than (or duplicates of) the last accepted one, and strays far off the
    /// sequence; dropped.
    pub late_packets: u64,
    /// Copies of packets already received; dropped silently (see `rtp::reorder`).
    pub duplicate_packets: u64,
    /// Packets that arrived after a later one and were put back in sequence.
    pub reordered_packets: u64,
    /// The camera restarted its sequence numbering (see `rtp::sequence`).
    pub sequence_resyncs: u64,
    /// Access units handed out by `pull`/`flush`.
    pub access_units: u64,
    /// Access units thrown away: damaged (loss with no whole slice left, bad packets, over a
    /// limit) or undecodable while waiting for an IDR (at stream start, after an error, or
    /// after a loss under `LossPolicy::SkipToKeyframe`).
    pub dropped_access_units: u64,
    /// Access units handed out although packets of them were lost (`AccessUnit::damaged`,
    /// `LossPolicy::Keep`); included in `access_units`.
    pub damaged_access_units: u64,
    /// The sprop-parameter-sets given at construction could not be used; parameter sets come
    /// from the stream.
    pub sprop_rejected: bool,
    /// Errors by kind.
    pub errors: ErrorCounts,
}

//! RFC 6184 H.264 depacketizer (packetization modes 0 and 1), zero copy.
//!
//! Every [`AccessUnit::pieces`] entry is a slice of a packet payload; the one byte an FU-A
//! rebuilds (the NAL header) is a slice of a static table. The camera quirks of design.md §4
//! are handled here; each names the test that covers it:
//!
//! - Marker bit missing: a new RTP timestamp ends the access unit
//!   (`marker_bit_missing_ends_au_on_timestamp_change`).
//! - Marker bit on SPS/PPS/SEI/AUD: only a packet that completes a slice can end an access
//!   unit (`marker_on_sps_does_not_end_au`).
//! - Parameter sets/SEI framed apart from their picture (other timestamp, own marker) at
//!   stream start and GOP boundaries: they wait in the builder and join the next slice, whose
//!   timestamp the access unit takes (`sps_pps_with_own_timestamp_join_following_idr`);
//!   those sent after the last slice of a picture move to the next access unit
//!   (`sps_pps_after_last_slice_go_to_next_au`).
//! - Annex B start codes inside single-NAL payloads and STAP-A units are split into NAL units
//!   (`annexb_start_codes_inside_single_nal`, `annexb_start_codes_inside_stap_a`,
//!   `annexb_framed_payload_with_leading_start_code`).
//! - FU-A: start and end in one fragment (`fu_a_start_and_end_together`), empty fragments
//!   (`fu_a_empty_fragments_are_skipped`), reserved bit set (`fu_a_reserved_bit_is_ignored`),
//!   type changing between fragments (`fu_a_type_change_keeps_first_type`), continuation
//!   without start (`fu_a_without_start_is_dropped`), interrupted by another NAL unit
//!   (`fu_a_interrupted_by_new_nal_is_dropped`).
//! - Packet loss, by [`LossPolicy`] (see there for the decisions): `Keep` (default) keeps
//!   every access unit after a gap and keeps a damaged one, flagged
//!   [`AccessUnit::damaged`], when a whole slice of it is left
//!   (`loss_keeps_following_access_units`, `loss_inside_multi_slice_picture_keeps_whole_slices`,
//!   `loss_of_the_only_slice_drops_just_that_picture`); `SkipToKeyframe` drops the damaged
//!   access unit and everything up to the next IDR (`sequence_gap_drops_au_and_resumes_at_idr`,
//!   `gap_inside_idr_drops_it_even_if_rest_is_keyframe`). Either way the loss is counted on
//!   the next emitted access unit (`gap_before_clean_idr_start_keeps_idr`). The stream starts
//!   at its first intact IDR (`stream_starts_at_first_idr`).
//! - Reordered and duplicated packets are put back in sequence / dropped within a small window
//!   first ([`super::reorder`]; `reordered_and_duplicated_packets_give_the_source_access_units`);
//!   with the window off (`reorder_window: 0`) an overtaken packet is late
//!   (`late_packet_is_dropped_and_counted`).
//! - Oversized NAL unit or access unit: error, the access unit is dropped, the stream resumes
//!   at the next IDR (`oversized_nal_is_an_error_and_stream_continues`,
//!   `oversized_access_unit_is_an_error_and_stream_continues`).
//! - Parameter sets from sprop-parameter-sets or in band; a change is announced through
//!   [`AccessUnit::new_parameters`] (`parameter_change_sets_new_parameters`,
//!   `garbage_sprop_falls_back_to_in_band`). In-band SPS/PPS/SEI stay in the access unit.

mod builder;
mod error;
mod nal;
mod params;
pub(crate) mod sprop;
mod stats;

#[cfg(test)]
mod clip_tests;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use bytes::Bytes;

pub use error::{DepacketizeError, DepacketizeErrorKind, ErrorCounts};
pub use sprop::{SpropError, parse_sprop_parameter_sets};
pub use stats::DepacketizerStats;

use self::builder::{AuBuilder, FuState};
use self::params::ParamTracker;
use super::packet::RtpPacket;
use super::reorder::{Arrival, DEFAULT_REORDER_MAX_DELAY, DEFAULT_REORDER_WINDOW, ReorderBuffer};
use super::sequence::{SequenceStatus, SequenceTracker};
use super::timestamp::{DEFAULT_MAX_TIMESTAMP_JUMP, TimestampExtender};
use crate::frame::{AccessUnit, ParameterSets};
use crate::h264::annexb;

/// What the depacketizer does with pictures once RTP packets went missing (household Wi-Fi
/// loses 1–5 % of UDP packets; one lost packet must not cost a whole GOP of evidence).
///
/// Decisions (`Keep`):
/// - An access unit with missing packets is **kept, flagged** ([`AccessUnit::damaged`]) when at
///   least one whole slice NAL unit of it arrived: only the NAL units that arrived whole are
///   kept (a fragmented NAL unit missing a fragment is removed entirely, never stored cut
///   short), so every stored NAL unit is byte for byte what the camera sent and the decoder
///   conceals the missing slices. With one slice per picture (most cameras) a lost packet
///   leaves no whole slice, and that one access unit is dropped.
/// - Every access unit after the gap is kept; the first one carries the loss count
///   ([`AccessUnit::loss`]). The decoder conceals the damage until the next IDR; the recorder
///   writes both facts into the file, so listings and export manifests name the damaged
///   time ranges.
/// - A damaged IDR access unit stays a keyframe only if an IDR slice of it is left.
/// - Loss before the first IDR, and errors that are not loss (malformed packets, limits),
///   still wait for the next intact IDR: those are camera faults, not the network's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossPolicy {
    /// Keep everything that arrived (default).
    #[default]
    Keep,
    /// Drop the damaged access unit and everything up to the next intact IDR (camwire before
    /// 0.x; for consumers that must never see a concealed picture).
    SkipToKeyframe,
}

impl LossPolicy {
    /// `keep` or `skip-to-keyframe`: the names used by the CLI and the configuration.
    pub fn name(self) -> &'static str {
        match self {
            LossPolicy::Keep => "keep",
            LossPolicy::SkipToKeyframe => "skip-to-keyframe",
        }
    }
}

impl std::fmt::Display for LossPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A loss policy name that is neither `keep` nor `skip-to-keyframe`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown loss policy {0:?} (expected keep or skip-to-keyframe)")]
pub struct UnknownLossPolicy(pub String);

impl std::str::FromStr for LossPolicy {
    type Err = UnknownLossPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "keep" => Ok(LossPolicy::Keep),
            "skip-to-keyframe" => Ok(LossPolicy::SkipToKeyframe),
            other => Err(UnknownLossPolicy(other.chars().take(32).collect())),
        }
    }
}

/// Limits that keep a broken or hostile camera from making us hold unbounded memory (held
/// slices pin whole receive buffers), and what to do about loss and reordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepacketizerOptions {
    /// Largest NAL unit accepted, in bytes. Default 16 MiB.
    pub max_nal_bytes: usize,
    /// Largest access unit accepted (sum of its NAL units), in bytes. Default 16 MiB.
    pub max_access_unit_bytes: usize,
    /// Most NAL units in one access unit. Default 1024.
    pub max_nals_per_access_unit: usize,
    /// Most payload pieces in one access unit (each FU-A fragment is one). Default 65536,
    /// about 90 MB of 1400-byte fragments; it bounds the cost of tiny fragments.
    pub max_pieces_per_access_unit: usize,
    /// RTP timestamp steps larger than this (in ticks) are logged. Default 10 s at 90 kHz.
    pub max_timestamp_jump: u32,
    /// What to do after packets were lost. Default [`LossPolicy::Keep`].
    pub loss_policy: LossPolicy,
    /// Packets held to put reordered packets back in sequence (see [`super::reorder`]).
    /// Default 32; 0 turns reordering off (an overtaken packet is then late and its hole a
    /// loss). At most 1024.
    pub reorder_window: u16,
    /// A hole in the sequence is given up once a packet more than this many RTP ticks newer
    /// than the packet before the hole arrives. Default 18000 (200 ms at 90 kHz).
    pub reorder_max_delay: u32,
}

impl Default for DepacketizerOptions {
    fn default() -> Self {
        DepacketizerOptions {
            max_nal_bytes: 16 << 20,
            max_access_unit_bytes: 16 << 20,
            max_nals_per_access_unit: 1024,
            max_pieces_per_access_unit: 1 << 16,
            max_timestamp_jump: DEFAULT_MAX_TIMESTAMP_JUMP,
            loss_policy: LossPolicy::Keep,
            reorder_window: DEFAULT_REORDER_WINDOW,
            reorder_max_delay: DEFAULT_REORDER_MAX_DELAY,
        }
    }
}

/// Turns one stream's RTP packets into access units.
///
/// Call [`push`](Self::push) for every packet in arrival order, then [`pull`](Self::pull)
/// until it returns `None`; at end of stream call [`flush`](Self::flush) (repeatedly, or
/// `pull` after it) for the last access unit.
#[derive(Debug)]
pub struct H264Depacketizer {
    opts: DepacketizerOptions,
    stats: DepacketizerStats,
    reorder: ReorderBuffer,
    seq: SequenceTracker,
    ts: TimestampExtender,
    params: ParamTracker,
    builder: AuBuilder,
    ready: VecDeque<AccessUnit>,
    /// Drop access units until an intact IDR one: after damage, and at stream start.
    wait_for_idr: bool,
    /// Packets lost since the last emitted access unit.
    pending_loss: u32,
    /// The next payload must show whether it begins an access unit: after a gap, and when
    /// joining the stream (we may join in the middle of a picture).
    check_start: bool,
    /// The first error of the packet being pushed.
    error: Option<DepacketizeError>,
    warned_fu_type_change: bool,
}

impl H264Depacketizer {
    /// A depacketizer. `sprop_parameter_sets` is the SDP fmtp value, if any; when it is
    /// missing or unusable (see [`DepacketizerStats::sprop_rejected`]) parameter sets are
    /// taken from the stream.
    pub fn new(opts: DepacketizerOptions, sprop_parameter_sets: Option<&str>) -> Self {
        let mut stats = DepacketizerStats::default();
        let mut params = ParamTracker::default();
        if let Some(sprop) = sprop_parameter_sets {
            match parse_sprop_parameter_sets(sprop) {
                Ok(nals) => {
                    let sps = nals
                        .iter()
                        .find(|n| n.first().map(|&h| nal::nal_type(h)) == Some(nal::SPS));
                    let pps = nals
                        .iter()
                        .find(|n| n.first().map(|&h| nal::nal_type(h)) == Some(nal::PPS));
                    if sps.is_none() && pps.is_none() {
                        log::warn!(
                            "sprop-parameter-sets has no SPS or PPS; using in-band parameter sets"
                        );
                        stats.sprop_rejected = true;
                    }
                    if let Some(sps) = sps {
                        params.observe(true, std::slice::from_ref(sps));
                    }
                    if let Some(pps) = pps {
                        params.observe(false, std::slice::from_ref(pps));
                    }
                }
                Err(e) => {
                    log::warn!("ignoring sprop-parameter-sets ({e}); using in-band parameter sets");
                    stats.sprop_rejected = true;
                }
            }
        }
        H264Depacketizer {
            ts: TimestampExtender::new(opts.max_timestamp_jump),
            reorder: ReorderBuffer::new(opts.reorder_window, opts.reorder_max_delay),
            opts,
            stats,
            seq: SequenceTracker::default(),
            params,
            builder: AuBuilder::new(),
            ready: VecDeque::with_capacity(4),
            wait_for_idr: true,
            pending_loss: 0,
            check_start: true,
            error: None,
            warned_fu_type_change: false,
        }
    }

    /// Takes one packet. An error concerns this packet or the access unit being built (it is
    /// counted in [`stats`](Self::stats) too); the depacketizer stays usable either way.
    pub fn push(&mut self, pkt: RtpPacket) -> Result<(), DepacketizeError> {
        self.stats.packets += 1;
        match self.reorder.push(pkt) {
            Arrival::Accepted => {}
            Arrival::Reordered => self.stats.reordered_packets += 1,
            Arrival::Duplicate => {
                self.stats.duplicate_packets += 1;
                return Ok(());
            }
            Arrival::Late => {
                self.stats.late_packets += 1;
                return Ok(());
            }
        }
        while let Some(pkt) = self.reorder.pop() {
            self.process(pkt);
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// One packet in sequence order (errors go to `self.error`).
    fn process(&mut self, pkt: RtpPacket) {
        let lost = match self.seq.observe(pkt.sequence_number) {
            SequenceStatus::InOrder { lost } => u32::from(lost),
            SequenceStatus::Resync => {
                self.stats.sequence_resyncs += 1;
                1
            }
            SequenceStatus::Late | SequenceStatus::Probation => {
                self.stats.late_packets += 1;
                return;
            }
        };
        let ts = self.ts.extend(pkt.timestamp);
        if lost > 0 {
            self.note_loss(lost, ts);
        }
        if pkt.payload.is_empty() {
            // Padding-only packets (keepalives) carry nothing and frame nothing
            // (`empty_payload_is_ignored`).
            return;
        }
        // Marker bit missing: a new timestamp ends the picture being built.
        if self.builder.timestamp().is_some_and(|t| t != ts) {
            self.interrupt_fu(ts);
            self.finish_au();
        }
        // After a gap (or when joining the stream), the packet's own access unit is intact
        // only if the packet begins one (`gap_before_clean_idr_start_keeps_idr`,
        // `gap_inside_idr_drops_it_even_if_rest_is_keyframe`).
        if std::mem::take(&mut self.check_start)
            && self.builder.timestamp().is_none()
            && !nal::payload_begins_access_unit(&pkt.payload)
        {
            if self.keeps_loss() {
                self.builder.lose(ts);
            } else {
                self.builder.damage(ts);
            }
        }
        let completed_slice = self.depacketize(pkt.payload, ts);
        if pkt.marker && completed_slice && !matches!(self.builder.fu(), FuState::InProgress { .. })
        {
            self.finish_au();
        }
    }

    /// True when the current gap is handled by [`LossPolicy::Keep`]: a loss was counted since
    /// the last emitted access unit (joining the stream mid-picture is not a loss).
    fn keeps_loss(&self) -> bool {
        self.opts.loss_policy == LossPolicy::Keep && self.pending_loss > 0
    }

    /// The next complete access unit, if any.
    pub fn pull(&mut self) -> Option<AccessUnit> {
        self.ready.pop_front()
    }

    /// End of stream: completes the access unit being built (a fragmented NAL unit still
    /// open is dropped with it) and returns the next ready access unit. Parameter sets with
    /// no picture after them are discarded.
    pub fn flush(&mut self) -> Option<AccessUnit> {
        self.reorder.drain();
        while let Some(pkt) = self.reorder.pop() {
            self.process(pkt);
        }
        let ts = self.builder.timestamp().or(self.ts.last()).unwrap_or(0);
        self.interrupt_fu(ts);
        self.finish_au();
        self.builder.clear();
        self.error = None;
        self.pull()
    }

    /// Gives an access unit back once its payload has been written, so its two vectors are
    /// reused for later access units instead of allocating new ones (its payload slices are
    /// released here). Optional: without it each access unit costs two small allocations,
    /// 32 bytes per piece and 16 per NAL unit (`recycled_access_units_reuse_vectors`).
    pub fn recycle(&mut self, au: AccessUnit) {
        self.builder.recycle(au.pieces, au.nals);
    }

    /// Counters since construction.
    pub fn stats(&self) -> &DepacketizerStats {
        &self.stats
    }

    /// The latest SPS and PPS known (from sprop-parameter-sets or the stream).
    pub fn parameters(&self) -> Option<&ParameterSets> {
        self.params.current()
    }

    /// Dispatches on the payload header. Returns whether the packet completed a slice.
    fn depacketize(&mut self, payload: Bytes, ts: i64) -> bool {
        let Some(&first) = payload.first() else {
            // Empty (padding-only) packets carry nothing.
            return false;
        };
        match nal::nal_type(first) {
            1..=23 => {
                self.interrupt_fu(ts);
                self.push_single(payload, ts)
            }
            24 => {
                self.interrupt_fu(ts);
                self.push_stap_a(&payload, ts)
            }
            28 => self.push_fu_a(&payload, ts),
            nal_type @ (25 | 26 | 27 | 29) => {
                self.fail_packet(DepacketizeError::UnsupportedPacketType { nal_type });
                false
            }
            // An Annex B framed payload starts with the zeros of a start code.
            0 if annexb::has_start_code(&payload) => {
                self.interrupt_fu(ts);
                self.push_annexb(&payload, ts)
            }
            nal_type => {
                self.fail_packet(DepacketizeError::InvalidPacketType { nal_type });
                false
            }
        }
    }

    /// A single NAL unit packet, or several NAL units behind start codes (V380-style).
    fn push_single(&mut self, nal: Bytes, ts: i64) -> bool {
        if annexb::has_start_code(&nal) {
            self.push_annexb(&nal, ts)
        } else {
            self.push_nal(nal, ts)
        }
    }

    /// Splits Annex B framed data into NAL units, each a slice of `data`.
    fn push_annexb(&mut self, data: &Bytes, ts: i64) -> bool {
        let mut slice = false;
        for range in annexb::nal_ranges(data) {
            slice |= self.push_nal(data.slice(range), ts);
        }
        slice
    }

    fn push_nal(&mut self, nal: Bytes, ts: i64) -> bool {
        let slice = nal.first().is_some_and(|&h| nal::is_vcl(nal::nal_type(h)));
        if let Err(e) = self.builder.push_nal(nal, ts, &self.opts) {
            self.fail_au(e, ts);
        }
        slice
    }

    /// STAP-A: 16-bit size, NAL unit, repeated. Validated before anything is added, so a
    /// malformed packet adds nothing.
    fn push_stap_a(&mut self, payload: &Bytes, ts: i64) -> bool {
        let mut offset = 1;
        while offset < payload.len() {
            match stap_a_unit(payload, offset) {
                Some(unit) => offset = unit.end,
                None => {
                    self.fail_au(DepacketizeError::MalformedStapA, ts);
                    return false;
                }
            }
        }
        let mut slice = false;
        let mut offset = 1;
        while let Some(unit) = stap_a_unit(payload, offset) {
            offset = unit.end;
            if !unit.is_empty() {
                slice |= self.push_single(payload.slice(unit), ts);
            }
        }
        slice
    }

    /// FU-A: rebuilds the NAL header from the indicator's F/NRI bits and the FU header's
    /// type, and references each fragment's payload in place.
    fn push_fu_a(&mut self, payload: &Bytes, ts: i64) -> bool {
        let (Some(&indicator), Some(&fu_header)) = (payload.first(), payload.get(1)) else {
            self.interrupt_fu(ts);
            self.fail_au(DepacketizeError::TruncatedFuA, ts);
            return false;
        };
        let start = fu_header & 0x80 != 0;
        let end = fu_header & 0x40 != 0;
        // The reserved bit (0x20) is set by some cameras; it carries nothing, so it is ignored.
        let header = (indicator & 0xe0) | (fu_header & 0x1f);
        if start {
            self.interrupt_fu(ts);
            if let Err(e) = self.builder.fu_start(header, ts, &self.opts) {
                self.fail_au(e, ts);
            }
        } else {
            match self.builder.fu() {
                FuState::InProgress { header: first, .. } => {
                    if nal::nal_type(first) != nal::nal_type(header) && !self.warned_fu_type_change
                    {
                        log::warn!(
                            "FU-A fragments of one NAL unit disagree on its type ({} then {}); using the first",
                            nal::nal_type(first),
                            nal::nal_type(header)
                        );
                        self.warned_fu_type_change = true;
                    }
                }
                FuState::Skipping => {
                    if end {
                        self.builder.fu_abort();
                    }
                    return end && nal::is_vcl(nal::nal_type(header));
                }
                FuState::Idle => {
                    // The start fragment was lost (or never sent). After a counted loss the
                    // access unit is already damaged (or, kept, incomplete: the rest of this
                    // NAL unit is skipped); otherwise this is an error of its own.
                    if self.builder.is_damaged() {
                        self.builder.damage(ts);
                    } else if self.builder.is_incomplete() {
                        // Skipped below, up to its end fragment.
                    } else {
                        self.fail_au(DepacketizeError::FuAWithoutStart, ts);
                    }
                    if !end {
                        self.builder.fu_skip();
                    }
                    return end && nal::is_vcl(nal::nal_type(header));
                }
            }
        }
        if let Err(e) = self.builder.fu_fragment(payload.slice(2..), &self.opts) {
            self.fail_au(e, ts);
        }
        if end {
            return self
                .builder
                .fu_end()
                .is_some_and(|h| nal::is_vcl(nal::nal_type(h)));
        }
        false
    }

    /// A fragmented NAL unit must end before anything else arrives; if it did not, the
    /// partial NAL unit and its access unit are dropped.
    fn interrupt_fu(&mut self, ts: i64) {
        match self.builder.fu() {
            FuState::Idle => {}
            FuState::Skipping => self.builder.fu_abort(),
            FuState::InProgress { .. } => {
                self.builder.fu_abort();
                if self.builder.is_damaged() {
                    // Already dropped (a counted loss explains the cut).
                    return;
                }
                self.fail_au(DepacketizeError::FuAInterrupted, ts);
            }
        }
    }

    fn note_loss(&mut self, lost: u32, ts: i64) {
        self.stats.lost_packets += u64::from(lost);
        self.pending_loss = self.pending_loss.saturating_add(lost);
        self.check_start = true;
        match self.opts.loss_policy {
            LossPolicy::Keep => {
                if !self.builder.is_empty() {
                    self.builder.lose(ts);
                }
            }
            LossPolicy::SkipToKeyframe => {
                self.wait_for_idr = true;
                if !self.builder.is_empty() {
                    self.builder.damage(ts);
                }
            }
        }
    }

    /// Records an error that costs only this packet.
    fn fail_packet(&mut self, e: DepacketizeError) {
        self.stats.errors.count(e.kind());
        self.error.get_or_insert(e);
    }

    /// Records an error that damages the access unit being built.
    fn fail_au(&mut self, e: DepacketizeError, ts: i64) {
        self.fail_packet(e);
        self.builder.damage(ts);
        self.wait_for_idr = true;
    }

    /// Ends the access unit being built (if it has a slice) and queues it, unless it is
    /// damaged or undecodable (waiting for an IDR).
    fn finish_au(&mut self) {
        let Some(au) = self.builder.take() else {
            return;
        };
        if au.damaged {
            self.stats.dropped_access_units += 1;
            self.wait_for_idr = true;
            return;
        }
        for n in &au.nals {
            let t = n.nal_type();
            if t == nal::SPS || t == nal::PPS {
                let pieces = au
                    .pieces
                    .get(n.pieces.start as usize..n.pieces.end as usize)
                    .unwrap_or_default();
                self.params.observe(t == nal::SPS, pieces);
            }
        }
        if au.incomplete && !au.has_slice {
            // Nothing of the picture itself arrived whole; the loss goes on the next one.
            self.stats.dropped_access_units += 1;
            self.builder.recycle(au.pieces, au.nals);
            return;
        }
        if self.wait_for_idr && !au.keyframe {
            self.stats.dropped_access_units += 1;
            return;
        }
        self.wait_for_idr = false;
        self.stats.access_units += 1;
        if au.incomplete {
            self.stats.damaged_access_units += 1;
        }
        self.ready.push_back(AccessUnit {
            timestamp: au.timestamp,
            nals: au.nals,
            pieces: au.pieces,
            keyframe: au.keyframe,
            loss: std::mem::take(&mut self.pending_loss),
            damaged: au.incomplete,
            new_parameters: self.params.take_announcement(),
        });
    }
}

/// The byte range of the STAP-A unit whose size field is at `offset`, if it fits.
fn stap_a_unit(payload: &[u8], offset: usize) -> Option<std::ops::Range<usize>> {
    let size: [u8; 2] = payload.get(offset..offset + 2)?.try_into().ok()?;
    let start = offset + 2;
    let end = start + usize::from(u16::from_be_bytes(size));
    (end <= payload.len()).then_some(start..end)
}

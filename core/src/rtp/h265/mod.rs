//! RFC 7798 H.265 depacketizer, zero copy like [`super::h264`].
//!
//! Every [`AccessUnit::pieces`] entry is a slice of a packet payload; a fragmentation unit's
//! rebuilt NAL header is one byte from a static table plus the payload header's second byte
//! (a slice of the packet), so no payload byte is copied. Output is the shared
//! [`AccessUnit`] (length-prefixed NAL pieces for the fMP4 writer) inside an [`H265Frame`]
//! that also announces parameter-set changes (VPS + SPS + PPS, for a new `hvcC`).
//!
//! **H.265 [`NalRef::header`] holds the first of the two NAL header bytes**; read its type with
//! [`crate::h265::nal::nal_type`] (not [`NalRef::nal_type`], which is the H.264 reading).
//!
//! Packet types and quirks, each with its test:
//! - Single NAL unit packets (`single_nal_units_form_access_unit`), aggregation packets
//!   (`aggregation_packet_splits_units`, `malformed_aggregation_packet_is_an_error`),
//!   fragmentation units (`fragmentation_unit_reassembles_zero_copy`), a one-packet FU with
//!   both S and E set (`fu_with_start_and_end_in_one_packet`), empty FU fragments
//!   (`fu_empty_fragments_are_dropped`), an FU without its start (`fu_without_start_is_dropped`),
//!   an FU interrupted by another packet (`fu_interrupted_is_dropped`), the FU type changing
//!   between fragments (`fu_type_change_keeps_first_type`).
//! - PACI packets (type 50) are counted and refused (`paci_packets_are_refused`); streams
//!   with DONL fields (`sprop-max-don-diff` > 0, `sprop-depack-buf-nalus` > 0 or a `tx-mode`
//!   other than SRST) are refused, not reordered (`donl_stream_is_refused`).
//! - Parameter sets from `sprop-vps/sps/pps` ([`H265Fmtp`]) and in band; a change is
//!   announced on the next access unit (`sprop_parameters_announced_on_first_au`,
//!   `in_band_parameter_change_is_announced`). In-band parameter sets stay in the access unit
//!   (byte-exact evidence).
//! - Keyframes are IRAP pictures (16..=23: BLA, IDR, CRA): `cra_is_a_keyframe`; the stream
//!   starts at its first IRAP (`stream_starts_at_first_irap`).
//! - Access-unit boundaries (H.265 §7.4.2.4.4): the marker bit after a slice
//!   (`marker_ends_access_unit`), a new timestamp (`marker_missing_ends_au_on_timestamp_change`),
//!   AUD / prefix SEI / parameter sets / `first_slice_segment_in_pic_flag` after a slice
//!   (`first_slice_flag_and_aud_split_access_units`). A marker on a parameter-set or SEI
//!   packet never ends an access unit (`marker_on_parameter_sets_does_not_end_au`), and
//!   parameter sets sent with their own timestamp join the following picture
//!   (`parameter_sets_with_own_timestamp_join_next_picture`).
//! - A camera that announces H.265 and sends H.264: a typed error
//!   [`H265DepacketizeError::LooksLikeH264`] (`h264_payload_is_a_codec_mismatch`).
//! - Loss, by the H.264 depacketizer's [`LossPolicy`]: `Keep` (default) keeps every access
//!   unit after a gap and keeps a damaged one, flagged [`AccessUnit::damaged`], when a whole
//!   slice of it is left (`loss_keeps_following_access_units`,
//!   `loss_inside_multi_slice_picture_keeps_whole_slices`); `SkipToKeyframe` drops the
//!   damaged access unit and everything up to the next intact IRAP
//!   (`loss_drops_until_next_irap`). Either way the loss is counted on the next emitted
//!   access unit. The reorder window of `rtp::reorder` is not applied here yet.
//! - Limits: NAL unit, access unit, NAL and piece counts (`oversized_nal_is_an_error`).

mod sprop;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use bytes::Bytes;
use thiserror::Error;

pub use sprop::{H265Fmtp, fmtp_pairs};

use super::h264::LossPolicy;
use super::packet::RtpPacket;
use super::sequence::{SequenceStatus, SequenceTracker};
use super::timestamp::{DEFAULT_MAX_TIMESTAMP_JUMP, TimestampExtender};
use crate::frame::{AccessUnit, NalRef};
use crate::h265::nal;

/// Why a packet (or the access unit it belongs to) was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum H265DepacketizeError {
    /// The payload is shorter than its headers.
    #[error("H.265 RTP payload truncated")]
    Truncated,
    /// The payload header's forbidden bit is set or its `nuh_temporal_id_plus1` is 0.
    #[error("invalid H.265 payload header {0:#06x}")]
    InvalidHeader(u16),
    /// Payload types 51..=63 do not exist in RFC 7798.
    #[error("invalid H.265 RTP packet type {0}")]
    InvalidPacketType(u8),
    /// PACI packets (type 50) are not supported (counted, refused).
    #[error("H.265 PACI packets are not supported")]
    PaciUnsupported,
    /// The stream carries DONL fields (sprop-max-don-diff > 0 etc.): refused, not reordered.
    #[error("H.265 streams with DONL (interleaved decoding order) are not supported")]
    DonlUnsupported,
    /// An aggregation packet's sizes do not add up to the payload.
    #[error("malformed H.265 aggregation packet")]
    MalformedAggregation,
    /// A fragmentation unit continued or ended without its start fragment.
    #[error("H.265 fragmentation unit without start")]
    FuWithoutStart,
    /// A fragmentation unit did not end before the next NAL unit began.
    #[error("H.265 fragmentation unit interrupted")]
    FuInterrupted,
    /// A NAL unit above [`H265DepacketizerOptions::max_nal_bytes`].
    #[error("H.265 NAL unit too large: {len} bytes (max {max})")]
    NalTooLarge {
        /// Bytes so far.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// An access unit above one of the limits of [`H265DepacketizerOptions`].
    #[error("H.265 access unit over the {what} limit ({max})")]
    AccessUnitTooLarge {
        /// Which limit.
        what: &'static str,
        /// The bound.
        max: usize,
    },
    /// The SDP announced H.265 but the payload reads as H.264 (some cameras announce H265
    /// and send H.264, go2rtc #264).
    #[error("SDP announces H.265 but the payload looks like H.264 (NAL type {h264_nal_type})")]
    LooksLikeH264 {
        /// The payload's first byte read as an H.264 NAL header: its `nal_unit_type`.
        h264_nal_type: u8,
    },
}

/// Limits that keep a broken or hostile camera from making us hold unbounded memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H265DepacketizerOptions {
    /// Largest NAL unit accepted, in bytes. Default 16 MiB.
    pub max_nal_bytes: usize,
    /// Largest access unit (sum of its NAL units). Default 16 MiB.
    pub max_access_unit_bytes: usize,
    /// Most NAL units in one access unit. Default 1024.
    pub max_nals_per_access_unit: usize,
    /// Most payload pieces in one access unit. Default 65536.
    pub max_pieces_per_access_unit: usize,
    /// RTP timestamp steps larger than this are logged. Default 10 s at 90 kHz.
    pub max_timestamp_jump: u32,
    /// What to do after packets were lost; the same policy and decisions as the H.264
    /// depacketizer ([`LossPolicy`]). Default `Keep`.
    pub loss_policy: LossPolicy,
}

impl Default for H265DepacketizerOptions {
    fn default() -> Self {
        H265DepacketizerOptions {
            max_nal_bytes: 16 << 20,
            max_access_unit_bytes: 16 << 20,
            max_nals_per_access_unit: 1024,
            max_pieces_per_access_unit: 1 << 16,
            max_timestamp_jump: DEFAULT_MAX_TIMESTAMP_JUMP,
            loss_policy: LossPolicy::Keep,
        }
    }
}

/// Counters for one H.265 depacketizer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct H265DepacketizerStats {
    /// Packets given to `push`.
    pub packets: u64,
    /// Packets missing from the sequence, plus one per sequence restart.
    pub lost_packets: u64,
    /// Late or duplicate packets, dropped.
    pub late_packets: u64,
    /// Access units handed out.
    pub access_units: u64,
    /// Access units dropped (damaged, or before the first/next intact IRAP).
    pub dropped_access_units: u64,
    /// Access units handed out although packets of them were lost (`LossPolicy::Keep`,
    /// [`AccessUnit::damaged`]); included in `access_units`.
    pub damaged_access_units: u64,
    /// PACI packets refused.
    pub paci_packets: u64,
    /// Packets refused because the stream carries DONL fields.
    pub donl_packets: u64,
    /// Packets that looked like H.264.
    pub codec_mismatch_packets: u64,
    /// One-packet fragmentation units (S and E both set), accepted.
    pub single_packet_fus: u64,
    /// Empty fragmentation-unit fragments, dropped.
    pub empty_fu_fragments: u64,
    /// Other errors (malformed packets, FU misuse, limits).
    pub errors: u64,
    /// sprop entries that could not be used.
    pub sprop_rejected_entries: u32,
}

/// The VPS, SPS and PPS (NAL units, two-byte header included, no start code) that describe
/// the stream from an access unit on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H265ParameterSets {
    /// Video parameter set.
    pub vps: Bytes,
    /// Sequence parameter set.
    pub sps: Bytes,
    /// Picture parameter set.
    pub pps: Bytes,
}

/// One access unit and, when they changed before it (or it is the first), the parameter sets
/// a new `hvcC` (a new file) needs.
#[derive(Debug, Clone)]
pub struct H265Frame {
    /// The picture; `au.new_parameters` is always `None` (H.264's type has no VPS).
    pub au: AccessUnit,
    /// Set on the first access unit and whenever VPS, SPS or PPS changed.
    pub new_parameters: Option<H265ParameterSets>,
}

#[derive(Debug, Default)]
struct ParamTracker {
    vps: Option<Bytes>,
    sps: Option<Bytes>,
    pps: Option<Bytes>,
    changed: bool,
}

impl ParamTracker {
    fn observe(&mut self, nal_type: u8, nal: Bytes) {
        let slot = match nal_type {
            nal::VPS => &mut self.vps,
            nal::SPS => &mut self.sps,
            nal::PPS => &mut self.pps,
            _ => return,
        };
        if slot.as_ref() != Some(&nal) {
            *slot = Some(nal);
            self.changed = true;
        }
    }

    fn current(&self) -> Option<H265ParameterSets> {
        Some(H265ParameterSets {
            vps: self.vps.clone()?,
            sps: self.sps.clone()?,
            pps: self.pps.clone()?,
        })
    }

    fn take_announcement(&mut self) -> Option<H265ParameterSets> {
        if !self.changed {
            return None;
        }
        let c = self.current()?;
        self.changed = false;
        Some(c)
    }
}

/// Every possible first header byte, so a rebuilt FU header is a static slice.
static HEADER_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

fn static_byte(b: u8) -> Bytes {
    Bytes::from_static(std::slice::from_ref(&HEADER_BYTES[usize::from(b)]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fu {
    Idle,
    /// Reassembling: the NAL's first header byte, its first piece index, its length so far.
    InProgress {
        header: u8,
        first_piece: u32,
        len: usize,
    },
    /// Dropping the rest of a fragmented NAL unit.
    Skipping,
}

/// The access unit being built.
#[derive(Debug, Default)]
struct Building {
    timestamp: Option<i64>,
    nals: Vec<NalRef>,
    pieces: Vec<Bytes>,
    bytes: usize,
    has_vcl: bool,
    keyframe: bool,
    /// Dropped whole (bad packets, limits, or loss under `SkipToKeyframe`).
    damaged: bool,
    /// Packets of it were lost (`Keep`): only whole NAL units are kept; handed out flagged
    /// damaged if a whole slice is left.
    incomplete: bool,
}

/// Turns one H.265 stream's RTP packets into access units.
///
/// Call [`push`](Self::push) for every packet in arrival order, then [`pull`](Self::pull)
/// until it returns `None`; at end of stream call [`flush`](Self::flush).
#[derive(Debug)]
pub struct H265Depacketizer {
    opts: H265DepacketizerOptions,
    stats: H265DepacketizerStats,
    seq: SequenceTracker,
    ts: TimestampExtender,
    params: ParamTracker,
    cur: Building,
    fu: Fu,
    ready: VecDeque<H265Frame>,
    wait_for_irap: bool,
    pending_loss: u32,
    donl: bool,
    /// The next payload must show that it begins an access unit: after a gap, and when
    /// joining the stream (we may join in the middle of a picture).
    check_start: bool,
    error: Option<H265DepacketizeError>,
    warned_fu_type_change: bool,
    /// Emptied vectors of handed-back access units ([`H265Depacketizer::recycle`]), reused
    /// for the next ones.
    spare: Vec<(Vec<Bytes>, Vec<NalRef>)>,
}

/// Most spare vector pairs kept for reuse.
const MAX_SPARE: usize = 4;

impl H265Depacketizer {
    /// A depacketizer for a stream described by `fmtp` (see [`H265Fmtp::parse`]; pass the
    /// default when the SDP has none).
    pub fn new(opts: H265DepacketizerOptions, fmtp: &H265Fmtp) -> Self {
        let mut params = ParamTracker::default();
        for (t, list) in [
            (nal::VPS, &fmtp.vps),
            (nal::SPS, &fmtp.sps),
            (nal::PPS, &fmtp.pps),
        ] {
            if let Some(n) = list.first() {
                params.observe(t, n.clone());
            }
        }
        let stats = H265DepacketizerStats {
            sprop_rejected_entries: fmtp.rejected_entries,
            ..Default::default()
        };
        H265Depacketizer {
            ts: TimestampExtender::new(opts.max_timestamp_jump),
            opts,
            stats,
            seq: SequenceTracker::default(),
            params,
            cur: Building::default(),
            fu: Fu::Idle,
            ready: VecDeque::with_capacity(4),
            wait_for_irap: true,
            pending_loss: 0,
            donl: fmtp.has_donl(),
            check_start: true,
            error: None,
            warned_fu_type_change: false,
            spare: Vec::new(),
        }
    }

    /// Hands an access unit's emptied vectors back for the next access units (its payload
    /// slices are released here). Optional: without it each access unit costs two small
    /// allocations (`recycled_access_units_reuse_vectors`).
    pub fn recycle(&mut self, au: AccessUnit) {
        self.put_spare(au.pieces, au.nals);
    }

    fn put_spare(&mut self, mut pieces: Vec<Bytes>, mut nals: Vec<NalRef>) {
        if self.spare.len() < MAX_SPARE && (pieces.capacity() > 0 || nals.capacity() > 0) {
            pieces.clear();
            nals.clear();
            self.spare.push((pieces, nals));
        }
    }

    /// Counters since construction.
    pub fn stats(&self) -> &H265DepacketizerStats {
        &self.stats
    }

    /// The latest VPS, SPS and PPS known (from the SDP or the stream), once all three are.
    pub fn parameters(&self) -> Option<H265ParameterSets> {
        self.params.current()
    }

    /// The next complete access unit, if any.
    pub fn pull(&mut self) -> Option<H265Frame> {
        self.ready.pop_front()
    }

    /// Ends the stream: the access unit being built is finished (if it is complete) and
    /// returned with anything still queued.
    pub fn flush(&mut self) -> Option<H265Frame> {
        if self.fu != Fu::Idle {
            self.fu = Fu::Idle;
            self.cur.damaged = true;
        }
        self.finish_au();
        self.ready.pop_front()
    }

    /// Takes one packet. An error concerns this packet or its access unit (it is counted in
    /// [`stats`](Self::stats) too); the depacketizer stays usable either way.
    pub fn push(&mut self, pkt: RtpPacket) -> Result<(), H265DepacketizeError> {
        self.stats.packets += 1;
        if self.donl {
            self.stats.donl_packets += 1;
            return Err(H265DepacketizeError::DonlUnsupported);
        }
        let lost = match self.seq.observe(pkt.sequence_number) {
            SequenceStatus::InOrder { lost } => u32::from(lost),
            SequenceStatus::Resync => 1,
            SequenceStatus::Late | SequenceStatus::Probation => {
                self.stats.late_packets += 1;
                return Ok(());
            }
        };
        let ts = self.ts.extend(pkt.timestamp);
        if lost > 0 {
            self.note_loss(lost);
        }
        if pkt.payload.is_empty() {
            return Ok(());
        }
        // Until the first access unit is out, check that the camera sends what it announced.
        if self.stats.access_units == 0
            && let Some(h264_nal_type) = looks_like_h264(&pkt.payload)
        {
            self.stats.codec_mismatch_packets += 1;
            return Err(H265DepacketizeError::LooksLikeH264 { h264_nal_type });
        }
        // Marker bit missing: a new timestamp ends the picture being built. Parameter sets or
        // SEI waiting without a slice join the next picture and take its timestamp.
        if let Some(t) = self.cur.timestamp
            && t != ts
        {
            if self.cur.has_vcl || self.cur.damaged || self.cur.incomplete || self.fu != Fu::Idle {
                self.interrupt_fu();
                self.finish_au();
            } else {
                self.cur.timestamp = Some(ts);
            }
        }
        // After a gap (or when joining), the packet's access unit is intact only if the
        // packet begins one (`loss_drops_until_next_irap`, `joining_mid_picture_drops_it`).
        if std::mem::take(&mut self.check_start)
            && self.cur.timestamp.is_none()
            && !payload_begins_access_unit(&pkt.payload)
        {
            if self.opts.loss_policy == LossPolicy::Keep && self.pending_loss > 0 {
                self.cur.incomplete = true;
            } else {
                self.cur.damaged = true;
            }
            self.cur.timestamp = Some(ts);
        }
        self.depacketize(&pkt.payload, ts);
        if pkt.marker
            && (self.cur.has_vcl || self.cur.damaged || self.cur.incomplete)
            && self.fu == Fu::Idle
        {
            self.finish_au();
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn depacketize(&mut self, payload: &Bytes, ts: i64) {
        let (Some(&b0), Some(&b1)) = (payload.first(), payload.get(1)) else {
            self.fail_packet(H265DepacketizeError::Truncated);
            return;
        };
        if b0 & 0x80 != 0 || b1 & 0x07 == 0 {
            self.fail_packet(H265DepacketizeError::InvalidHeader(u16::from_be_bytes([
                b0, b1,
            ])));
            return;
        }
        match nal::nal_type(b0) {
            0..=47 => {
                self.interrupt_fu();
                self.push_nal(payload.clone(), ts);
            }
            nal::AP => {
                self.interrupt_fu();
                self.push_ap(payload, ts);
            }
            nal::FU => self.push_fu(payload, ts),
            nal::PACI => {
                self.stats.paci_packets += 1;
                self.interrupt_fu();
                self.fail_au(H265DepacketizeError::PaciUnsupported);
            }
            t => self.fail_packet(H265DepacketizeError::InvalidPacketType(t)),
        }
    }

    /// Aggregation packet: 16-bit size, NAL unit, repeated (no DONL/DOND: refused earlier).
    /// Validated before anything is added.
    fn push_ap(&mut self, payload: &Bytes, ts: i64) {
        let mut units = Vec::new();
        let mut offset = 2;
        while offset < payload.len() {
            let Some(size) = payload.get(offset..offset + 2) else {
                self.fail_au(H265DepacketizeError::MalformedAggregation);
                return;
            };
            let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
            let start = offset + 2;
            let end = start + size;
            if size < 2 || end > payload.len() {
                self.fail_au(H265DepacketizeError::MalformedAggregation);
                return;
            }
            units.push(start..end);
            offset = end;
        }
        if units.is_empty() {
            self.fail_au(H265DepacketizeError::MalformedAggregation);
            return;
        }
        for u in units {
            self.push_nal(payload.slice(u), ts);
        }
    }

    /// Fragmentation unit: PayloadHdr (2), FU header `S|E|FuType`, fragment.
    fn push_fu(&mut self, payload: &Bytes, ts: i64) {
        let Some(&fu_header) = payload.get(2) else {
            self.interrupt_fu();
            self.fail_au(H265DepacketizeError::Truncated);
            return;
        };
        let start = fu_header & 0x80 != 0;
        let end = fu_header & 0x40 != 0;
        let fu_type = fu_header & 0x3f;
        let header0 = (payload[0] & 0x81) | (fu_type << 1);
        let fragment = payload.slice(3..);
        if fragment.is_empty() {
            self.stats.empty_fu_fragments += 1;
        }
        if start {
            self.interrupt_fu();
            if end {
                self.stats.single_packet_fus += 1;
            }
            if fragment.is_empty() && end {
                // Nothing but a header: nothing to keep.
                return;
            }
            self.begin_nal(header0, fragment.first().copied(), ts);
            if self.cur.pieces.len() + 2 >= self.opts.max_pieces_per_access_unit {
                self.fu = if end { Fu::Idle } else { Fu::Skipping };
                self.fail_au(H265DepacketizeError::AccessUnitTooLarge {
                    what: "pieces",
                    max: self.opts.max_pieces_per_access_unit,
                });
                return;
            }
            let first_piece = self.cur.pieces.len() as u32;
            self.cur.pieces.push(static_byte(header0));
            self.cur.pieces.push(payload.slice(1..2));
            self.fu = Fu::InProgress {
                header: header0,
                first_piece,
                len: 2,
            };
        } else {
            match self.fu {
                Fu::InProgress { header, .. } => {
                    if nal::nal_type(header) != fu_type && !self.warned_fu_type_change {
                        log::warn!(
                            "H.265 FU fragments of one NAL unit disagree on its type ({} then {fu_type}); using the first",
                            nal::nal_type(header)
                        );
                        self.warned_fu_type_change = true;
                    }
                }
                Fu::Skipping => {
                    if end {
                        self.fu = Fu::Idle;
                    }
                    return;
                }
                Fu::Idle => {
                    if !self.cur.damaged && !self.cur.incomplete {
                        self.fail_au(H265DepacketizeError::FuWithoutStart);
                    }
                    self.cur.timestamp.get_or_insert(ts);
                    if !end {
                        self.fu = Fu::Skipping;
                    }
                    return;
                }
            }
        }
        if let Fu::InProgress {
            header,
            first_piece,
            len,
        } = self.fu
        {
            let len = len + fragment.len();
            if len > self.opts.max_nal_bytes {
                self.fu = if end { Fu::Idle } else { Fu::Skipping };
                self.cur.pieces.truncate(first_piece as usize);
                self.fail_au(H265DepacketizeError::NalTooLarge {
                    len,
                    max: self.opts.max_nal_bytes,
                });
                return;
            }
            if !fragment.is_empty() {
                if self.cur.pieces.len() >= self.opts.max_pieces_per_access_unit {
                    self.fu = if end { Fu::Idle } else { Fu::Skipping };
                    self.cur.pieces.truncate(first_piece as usize);
                    self.fail_au(H265DepacketizeError::AccessUnitTooLarge {
                        what: "pieces",
                        max: self.opts.max_pieces_per_access_unit,
                    });
                    return;
                }
                self.cur.pieces.push(fragment);
            }
            self.fu = Fu::InProgress {
                header,
                first_piece,
                len,
            };
            if end {
                self.fu = Fu::Idle;
                self.end_nal(header, first_piece, len);
            }
        }
    }

    /// Before a NAL unit with first header byte `header0` (and first slice-header byte, if
    /// known) joins the access unit: ends the current access unit if this one begins a new one.
    fn begin_nal(&mut self, header0: u8, first_slice_byte: Option<u8>, ts: i64) {
        let t = nal::nal_type(header0);
        if self.cur.has_vcl {
            let first_slice = nal::is_vcl(t) && first_slice_byte.is_some_and(|b| b & 0x80 != 0);
            if nal::begins_next_access_unit(t) || first_slice {
                self.finish_au();
            }
        }
        self.cur.timestamp.get_or_insert(ts);
    }

    /// A complete NAL unit from a single-NAL packet or an aggregation packet.
    fn push_nal(&mut self, nal_unit: Bytes, ts: i64) {
        let header0 = nal_unit[0];
        self.begin_nal(header0, nal_unit.get(2).copied(), ts);
        let len = nal_unit.len();
        if len > self.opts.max_nal_bytes {
            self.fail_au(H265DepacketizeError::NalTooLarge {
                len,
                max: self.opts.max_nal_bytes,
            });
            return;
        }
        if self.cur.pieces.len() >= self.opts.max_pieces_per_access_unit {
            self.fail_au(H265DepacketizeError::AccessUnitTooLarge {
                what: "pieces",
                max: self.opts.max_pieces_per_access_unit,
            });
            return;
        }
        let first_piece = self.cur.pieces.len() as u32;
        self.cur.pieces.push(nal_unit);
        self.end_nal(header0, first_piece, len);
    }

    /// Records the NAL unit whose pieces start at `first_piece`.
    fn end_nal(&mut self, header0: u8, first_piece: u32, len: usize) {
        if self.cur.damaged {
            self.cur.pieces.truncate(first_piece as usize);
            return;
        }
        if self.cur.nals.len() >= self.opts.max_nals_per_access_unit {
            self.cur.pieces.truncate(first_piece as usize);
            self.fail_au(H265DepacketizeError::AccessUnitTooLarge {
                what: "NAL units",
                max: self.opts.max_nals_per_access_unit,
            });
            return;
        }
        if self.cur.bytes + len > self.opts.max_access_unit_bytes {
            self.cur.pieces.truncate(first_piece as usize);
            self.fail_au(H265DepacketizeError::AccessUnitTooLarge {
                what: "bytes",
                max: self.opts.max_access_unit_bytes,
            });
            return;
        }
        let t = nal::nal_type(header0);
        self.cur.bytes += len;
        self.cur.has_vcl |= nal::is_vcl(t);
        self.cur.keyframe |= nal::is_irap(t);
        self.cur.nals.push(NalRef {
            header: header0,
            len: len as u32,
            pieces: first_piece..self.cur.pieces.len() as u32,
        });
    }

    fn interrupt_fu(&mut self) {
        match self.fu {
            Fu::Idle => {}
            Fu::Skipping => self.fu = Fu::Idle,
            Fu::InProgress { first_piece, .. } => {
                self.fu = Fu::Idle;
                self.cur.pieces.truncate(first_piece as usize);
                if !self.cur.damaged {
                    self.fail_au(H265DepacketizeError::FuInterrupted);
                }
            }
        }
    }

    fn note_loss(&mut self, lost: u32) {
        self.stats.lost_packets += u64::from(lost);
        self.pending_loss = self.pending_loss.saturating_add(lost);
        self.check_start = true;
        match self.opts.loss_policy {
            LossPolicy::SkipToKeyframe => {
                self.wait_for_irap = true;
                if self.fu != Fu::Idle {
                    self.fu = Fu::Skipping;
                }
                if self.cur.timestamp.is_some() {
                    self.cur.damaged = true;
                }
            }
            LossPolicy::Keep => {
                // A NAL unit being reassembled may have lost a fragment: it goes entirely,
                // never stored cut short. Whole NAL units already received stay.
                if let Fu::InProgress { first_piece, .. } = self.fu {
                    self.cur.pieces.truncate(first_piece as usize);
                    self.fu = Fu::Skipping;
                }
                if self.cur.timestamp.is_some() {
                    self.cur.incomplete = true;
                }
            }
        }
    }

    fn fail_packet(&mut self, e: H265DepacketizeError) {
        self.stats.errors += 1;
        self.error.get_or_insert(e);
    }

    fn fail_au(&mut self, e: H265DepacketizeError) {
        if !matches!(e, H265DepacketizeError::PaciUnsupported) {
            self.stats.errors += 1;
        }
        self.error.get_or_insert(e);
        self.cur.damaged = true;
        self.wait_for_irap = true;
    }

    /// Ends the access unit being built and queues it unless damaged or undecodable.
    fn finish_au(&mut self) {
        let b = std::mem::take(&mut self.cur);
        if let Some((pieces, nals)) = self.spare.pop() {
            self.cur.pieces = pieces;
            self.cur.nals = nals;
        }
        let Some(timestamp) = b.timestamp else {
            self.put_spare(b.pieces, b.nals);
            return;
        };
        if b.damaged {
            self.stats.dropped_access_units += 1;
            self.wait_for_irap = true;
            self.put_spare(b.pieces, b.nals);
            return;
        }
        if !b.has_vcl {
            // Only parameter sets/SEI and no whole slice (end of stream, or loss): nothing
            // to emit; a counted loss goes on the next access unit.
            if !b.nals.is_empty() || b.incomplete {
                self.stats.dropped_access_units += 1;
            }
            self.put_spare(b.pieces, b.nals);
            return;
        }
        for n in &b.nals {
            let t = nal::nal_type(n.header);
            if matches!(t, nal::VPS | nal::SPS | nal::PPS) {
                let pieces = &b.pieces[n.pieces.start as usize..n.pieces.end as usize];
                let whole = if pieces.len() == 1 {
                    pieces[0].clone()
                } else {
                    Bytes::from(pieces.concat())
                };
                self.params.observe(t, whole);
            }
        }
        if self.wait_for_irap && !b.keyframe {
            self.stats.dropped_access_units += 1;
            self.put_spare(b.pieces, b.nals);
            return;
        }
        self.wait_for_irap = false;
        self.stats.access_units += 1;
        if b.incomplete {
            self.stats.damaged_access_units += 1;
        }
        let au = AccessUnit {
            timestamp,
            nals: b.nals,
            pieces: b.pieces,
            keyframe: b.keyframe,
            loss: std::mem::take(&mut self.pending_loss),
            damaged: b.incomplete,
            ..Default::default()
        };
        self.ready.push_back(H265Frame {
            au,
            new_parameters: self.params.take_announcement(),
        });
    }
}

/// Whether an RTP payload starts at the beginning of an access unit: its first NAL unit is
/// one that begins an access unit (§7.4.2.4.4) or a slice with
/// `first_slice_segment_in_pic_flag` set. FU continuations never do.
fn payload_begins_access_unit(payload: &[u8]) -> bool {
    let begins = |h: u8, next: Option<u8>| {
        let t = nal::nal_type(h);
        nal::begins_next_access_unit(t) || (nal::is_vcl(t) && next.is_some_and(|b| b & 0x80 != 0))
    };
    let Some(&b0) = payload.first() else {
        return false;
    };
    match nal::nal_type(b0) {
        0..=47 => begins(b0, payload.get(2).copied()),
        nal::AP => payload
            .get(4)
            .is_some_and(|&h| begins(h, payload.get(6).copied())),
        nal::FU => payload
            .get(2)
            .is_some_and(|&fu| fu & 0x80 != 0 && begins((fu & 0x3f) << 1, payload.get(3).copied())),
        _ => false,
    }
}

/// When a payload cannot be H.265 but reads as an H.264 NAL unit, its H.264 `nal_unit_type`.
///
/// An H.265 payload header has `nuh_temporal_id_plus1 >= 1` and a type below 51. Typical
/// H.264 first bytes (SPS 0x67, PPS 0x68, IDR 0x65, STAP-A 0x78, FU-A 0x7c/0x5c, ...) read as
/// H.265 types 50..=63, or leave `tid_plus1` 0 in the second byte.
pub fn looks_like_h264(payload: &[u8]) -> Option<u8> {
    let (&b0, &b1) = (payload.first()?, payload.get(1)?);
    let h265_type = nal::nal_type(b0);
    let h265_invalid = b0 & 0x80 != 0 || b1 & 0x07 == 0 || h265_type >= 50;
    let h264_type = b0 & 0x1f;
    let h264_plausible = b0 & 0x80 == 0 && matches!(h264_type, 1..=9 | 24 | 28);
    (h265_invalid && h264_plausible).then_some(h264_type)
}

//! The unit of work between the depacketizer and the muxer.
//!
//! An [`AccessUnit`] is one coded picture as the camera sent it. It owns no payload memory of
//! its own: every piece is a [`Bytes`] slice into the buffer the packet was received in (or a
//! slice of a static table for the one rebuilt FU-A NAL header byte), so moving it to the
//! muxer copies no payload byte. Holding it pins those receive buffers, which is why the
//! recorder bounds how long a fragment may stay open.

use bytes::Bytes;
use std::ops::Range;

/// One NAL unit inside an [`AccessUnit`]: its header byte, its total length in bytes, and the
/// range of [`AccessUnit::pieces`] that hold it (header byte included), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NalRef {
    /// The NAL header byte (forbidden bit, nal_ref_idc, nal_unit_type).
    pub header: u8,
    /// Length of the NAL unit in bytes (sum of its pieces).
    pub len: u32,
    /// Indices into [`AccessUnit::pieces`].
    pub pieces: Range<u32>,
}

impl NalRef {
    /// `nal_unit_type` (5 bits).
    pub fn nal_type(&self) -> u8 {
        self.header & 0x1f
    }
}

/// The SPS and PPS that describe the stream from this access unit on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterSets {
    /// Sequence parameter set NAL unit (header byte included, no start code).
    pub sps: Bytes,
    /// Picture parameter set NAL unit (header byte included, no start code).
    pub pps: Bytes,
}

/// One coded picture, referenced in place.
#[derive(Clone, Debug, Default)]
pub struct AccessUnit {
    /// RTP timestamp extended to 64 bits (wraps removed), in the stream's clock rate
    /// (90 kHz for H.264). This is the presentation time of the picture.
    pub timestamp: i64,
    /// The NAL units of the picture, in decoding order.
    pub nals: Vec<NalRef>,
    /// The payload pieces; each NAL unit is a contiguous run of them.
    pub pieces: Vec<Bytes>,
    /// True when the picture is an IDR picture (decoding can start here).
    pub keyframe: bool,
    /// RTP packets known lost since the previous emitted access unit.
    pub loss: u32,
    /// Some of this picture's packets were lost and it was kept anyway
    /// ([`crate::rtp::LossPolicy::Keep`]): `nals` holds only the NAL units that arrived whole,
    /// at least one of them a slice; the decoder conceals the missing parts. The recorder
    /// writes this fact into the file (see `crate::fmp4`).
    pub damaged: bool,
    /// Set on the first access unit and whenever the SPS or PPS changed before this access
    /// unit: the muxer must start a new init segment (a new file) with these.
    pub new_parameters: Option<ParameterSets>,
}

impl AccessUnit {
    /// Sum of the NAL unit lengths (no prefixes or start codes).
    pub fn nal_bytes(&self) -> usize {
        self.nals.iter().map(|n| n.len as usize).sum()
    }

    /// Size of the sample in length-prefixed (AVC, 4-byte prefix) form, as stored in MP4.
    pub fn avc_len(&self) -> usize {
        self.nal_bytes() + 4 * self.nals.len()
    }

    /// The pieces of one NAL unit.
    pub fn nal_pieces(&self, nal: &NalRef) -> &[Bytes] {
        &self.pieces[nal.pieces.start as usize..nal.pieces.end as usize]
    }

    /// Copies the picture into `out` in AVC form (4-byte big-endian length before each NAL).
    /// For consumers that need one contiguous buffer (C and Python frame pulls); the
    /// recording path never calls this.
    pub fn write_avc(&self, out: &mut Vec<u8>) {
        out.reserve(self.avc_len());
        for nal in &self.nals {
            out.extend_from_slice(&nal.len.to_be_bytes());
            for p in self.nal_pieces(nal) {
                out.extend_from_slice(p);
            }
        }
    }

    /// Copies the picture into `out` in Annex B form (`00 00 00 01` before each NAL).
    pub fn write_annexb(&self, out: &mut Vec<u8>) {
        out.reserve(self.avc_len());
        for nal in &self.nals {
            out.extend_from_slice(&[0, 0, 0, 1]);
            for p in self.nal_pieces(nal) {
                out.extend_from_slice(p);
            }
        }
    }
}

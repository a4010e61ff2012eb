//! What can go wrong while depacketizing, and how often it did.
//!
//! Every error concerns one packet or the access unit being built; the depacketizer stays
//! usable after any of them, so callers log and count instead of tearing the stream down.

use thiserror::Error;

/// One packet (or the access unit it belongs to) could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DepacketizeError {
    /// STAP-B, MTAP16, MTAP24 or FU-B: packetization mode 2 (interleaved), which camwire does
    /// not support. The packet is skipped.
    #[error("unsupported H.264 RTP packet type {nal_type} (interleaved mode)")]
    UnsupportedPacketType {
        /// The payload header's type field.
        nal_type: u8,
    },
    /// Type 0, 30 or 31 (undefined by RFC 6184) without Annex B start codes. Skipped.
    #[error("invalid H.264 RTP packet type {nal_type}")]
    InvalidPacketType {
        /// The payload header's type field.
        nal_type: u8,
    },
    /// A STAP-A whose unit sizes run past the end of the packet. Skipped; the access unit is
    /// dropped.
    #[error("malformed STAP-A packet")]
    MalformedStapA,
    /// An FU-A packet shorter than its two header bytes. The access unit is dropped.
    #[error("truncated FU-A packet")]
    TruncatedFuA,
    /// An FU-A continuation or end fragment with no start fragment before it. Dropped with the
    /// access unit it belongs to.
    #[error("FU-A fragment without a start fragment")]
    FuAWithoutStart,
    /// A fragmented NAL unit was interrupted (new NAL unit, new timestamp or end of stream)
    /// before its end fragment. The partial NAL unit is dropped with its access unit.
    #[error("FU-A interrupted before its end fragment")]
    FuAInterrupted,
    /// A NAL unit larger than `DepacketizerOptions::max_nal_bytes`.
    #[error("NAL unit of {len} bytes exceeds the limit of {max}")]
    NalTooLarge {
        /// Bytes seen when the limit was crossed.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An access unit larger than `DepacketizerOptions::max_access_unit_bytes`.
    #[error("access unit of {len} bytes exceeds the limit of {max}")]
    AccessUnitTooLarge {
        /// Bytes seen when the limit was crossed.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More NAL units in one access unit than `max_nals_per_access_unit`.
    #[error("more than {max} NAL units in one access unit")]
    TooManyNals {
        /// The limit.
        max: usize,
    },
    /// More payload pieces (packets' worth of fragments) in one access unit than
    /// `max_pieces_per_access_unit`: tiny fragments would otherwise cost far more memory than
    /// their bytes.
    #[error("more than {max} payload pieces in one access unit")]
    TooManyPieces {
        /// The limit.
        max: usize,
    },
}

/// The kind of a [`DepacketizeError`], for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepacketizeErrorKind {
    /// [`DepacketizeError::UnsupportedPacketType`]
    UnsupportedPacketType,
    /// [`DepacketizeError::InvalidPacketType`]
    InvalidPacketType,
    /// [`DepacketizeError::MalformedStapA`]
    MalformedStapA,
    /// [`DepacketizeError::TruncatedFuA`]
    TruncatedFuA,
    /// [`DepacketizeError::FuAWithoutStart`]
    FuAWithoutStart,
    /// [`DepacketizeError::FuAInterrupted`]
    FuAInterrupted,
    /// [`DepacketizeError::NalTooLarge`]
    NalTooLarge,
    /// [`DepacketizeError::AccessUnitTooLarge`]
    AccessUnitTooLarge,
    /// [`DepacketizeError::TooManyNals`]
    TooManyNals,
    /// [`DepacketizeError::TooManyPieces`]
    TooManyPieces,
}

impl DepacketizeError {
    /// This error's kind.
    pub fn kind(&self) -> DepacketizeErrorKind {
        use DepacketizeErrorKind as K;
        match self {
            Self::UnsupportedPacketType { .. } => K::UnsupportedPacketType,
            Self::InvalidPacketType { .. } => K::InvalidPacketType,
            Self::MalformedStapA => K::MalformedStapA,
            Self::TruncatedFuA => K::TruncatedFuA,
            Self::FuAWithoutStart => K::FuAWithoutStart,
            Self::FuAInterrupted => K::FuAInterrupted,
            Self::NalTooLarge { .. } => K::NalTooLarge,
            Self::AccessUnitTooLarge { .. } => K::AccessUnitTooLarge,
            Self::TooManyNals { .. } => K::TooManyNals,
            Self::TooManyPieces { .. } => K::TooManyPieces,
        }
    }
}

/// Errors counted by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// STAP-B, MTAP16, MTAP24, FU-B packets.
    pub unsupported_packet_type: u64,
    /// Packet types 0, 30, 31.
    pub invalid_packet_type: u64,
    /// STAP-A packets with bad unit sizes.
    pub malformed_stap_a: u64,
    /// FU-A packets shorter than two bytes.
    pub truncated_fu_a: u64,
    /// FU-A fragments without a start fragment.
    pub fu_a_without_start: u64,
    /// Fragmented NAL units cut short.
    pub fu_a_interrupted: u64,
    /// NAL units over the size limit.
    pub nal_too_large: u64,
    /// Access units over the size limit.
    pub access_unit_too_large: u64,
    /// Access units over the NAL count limit.
    pub too_many_nals: u64,
    /// Access units over the piece count limit.
    pub too_many_pieces: u64,
}

impl ErrorCounts {
    /// The count for one kind.
    pub fn get(&self, kind: DepacketizeErrorKind) -> u64 {
        *self.slot(kind)
    }

    /// All errors.
    pub fn total(&self) -> u64 {
        self.unsupported_packet_type
            + self.invalid_packet_type
            + self.malformed_stap_a
            + self.truncated_fu_a
            + self.fu_a_without_start
            + self.fu_a_interrupted
            + self.nal_too_large
            + self.access_unit_too_large
            + self.too_many_nals
            + self.too_many_pieces
    }

    pub(super) fn count(&mut self, kind: DepacketizeErrorKind) {
        let slot = self.slot_mut(kind);
        *slot = slot.saturating_add(1);
    }

    fn slot(&self, kind: DepacketizeErrorKind) -> &u64 {
        use DepacketizeErrorKind as K;
        match kind {
            K::UnsupportedPacketType => &self.unsupported_packet_type,
            K::InvalidPacketType => &self.invalid_packet_type,
            K::MalformedStapA => &self.malformed_stap_a,
            K::TruncatedFuA => &self.truncated_fu_a,
            K::FuAWithoutStart => &self.fu_a_without_start,
            K::FuAInterrupted => &self.fu_a_interrupted,
            K::NalTooLarge => &self.nal_too_large,
            K::AccessUnitTooLarge => &self.access_unit_too_large,
            K::TooManyNals => &self.too_many_nals,
            K::TooManyPieces => &self.too_many_pieces,
        }
    }

    fn slot_mut(&mut self, kind: DepacketizeErrorKind) -> &mut u64 {
        use DepacketizeErrorKind as K;
        match kind {
            K::UnsupportedPacketType => &mut self.unsupported_packet_type,
            K::InvalidPacketType => &mut self.invalid_packet_type,
            K::MalformedStapA => &mut self.malformed_stap_a,
            K::TruncatedFuA => &mut self.truncated_fu_a,
            K::FuAWithoutStart => &mut self.fu_a_without_start,
            K::FuAInterrupted => &mut self.fu_a_interrupted,
            K::NalTooLarge => &mut self.nal_too_large,
            K::AccessUnitTooLarge => &mut self.access_unit_too_large,
            K::TooManyNals => &mut self.too_many_nals,
            K::TooManyPieces => &mut self.too_many_pieces,
        }
    }
}

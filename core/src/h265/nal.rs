//! H.265 NAL unit headers (ITU-T H.265 §7.3.1.2) and the type numbers the recorder cares about.
//!
//! The header is two bytes: `forbidden_zero_bit(1) nal_unit_type(6) nuh_layer_id(6)
//! nuh_temporal_id_plus1(3)`. Types 48..=50 never occur in a byte stream; RFC 7798 uses them
//! for aggregation packets, fragmentation units and PACI packets.

use super::H265Error;

/// Coded slice segment of a non-TSA, non-STSA trailing picture, non-reference.
pub const TRAIL_N: u8 = 0;
/// Coded slice segment of a trailing picture, reference.
pub const TRAIL_R: u8 = 1;
/// Random-access decodable leading picture, non-reference.
pub const RADL_N: u8 = 6;
/// Random-access skipped leading picture, non-reference.
pub const RASL_N: u8 = 8;
/// Broken link access picture, may have leading pictures.
pub const BLA_W_LP: u8 = 16;
/// Broken link access, RADL leading pictures only.
pub const BLA_W_RADL: u8 = 17;
/// Broken link access, no leading pictures.
pub const BLA_N_LP: u8 = 18;
/// IDR picture, may have RADL leading pictures.
pub const IDR_W_RADL: u8 = 19;
/// IDR picture without leading pictures.
pub const IDR_N_LP: u8 = 20;
/// Clean random access picture.
pub const CRA_NUT: u8 = 21;
/// Video parameter set.
pub const VPS: u8 = 32;
/// Sequence parameter set.
pub const SPS: u8 = 33;
/// Picture parameter set.
pub const PPS: u8 = 34;
/// Access unit delimiter.
pub const AUD: u8 = 35;
/// End of sequence.
pub const EOS: u8 = 36;
/// End of bitstream.
pub const EOB: u8 = 37;
/// Filler data.
pub const FD: u8 = 38;
/// Prefix SEI.
pub const PREFIX_SEI: u8 = 39;
/// Suffix SEI.
pub const SUFFIX_SEI: u8 = 40;
/// RFC 7798 aggregation packet.
pub const AP: u8 = 48;
/// RFC 7798 fragmentation unit.
pub const FU: u8 = 49;
/// RFC 7798 payload content information (PACI) packet.
pub const PACI: u8 = 50;

/// The two-byte NAL unit header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NalHeader {
    /// `nal_unit_type` (0..=63).
    pub nal_type: u8,
    /// `nuh_layer_id` (0 for the base layer).
    pub layer_id: u8,
    /// `TemporalId` = `nuh_temporal_id_plus1 - 1`.
    pub tid: u8,
}

impl NalHeader {
    /// Decodes the first two bytes of a NAL unit. A set forbidden bit or
    /// `nuh_temporal_id_plus1 == 0` is [`H265Error::InvalidNalHeader`].
    pub fn parse(nal: &[u8]) -> Result<NalHeader, H265Error> {
        let [a, b] = *nal.get(..2).ok_or(H265Error::Truncated)? else {
            return Err(H265Error::Truncated);
        };
        let raw = u16::from_be_bytes([a, b]);
        let tid_plus1 = b & 0x07;
        if a & 0x80 != 0 || tid_plus1 == 0 {
            return Err(H265Error::InvalidNalHeader(raw));
        }
        Ok(NalHeader {
            nal_type: nal_type(a),
            layer_id: ((a & 0x01) << 5) | (b >> 3),
            tid: tid_plus1 - 1,
        })
    }

    /// The header as its two bytes (forbidden bit clear).
    pub fn to_bytes(self) -> [u8; 2] {
        [
            ((self.nal_type & 0x3f) << 1) | ((self.layer_id >> 5) & 1),
            ((self.layer_id & 0x1f) << 3) | ((self.tid + 1) & 0x07),
        ]
    }
}

/// `nal_unit_type` from the first header byte.
pub fn nal_type(first_header_byte: u8) -> u8 {
    (first_header_byte >> 1) & 0x3f
}

/// Coded slice segments (VCL NAL units, types 0..=31; 22..=31 reserved).
pub fn is_vcl(nal_type: u8) -> bool {
    nal_type < 32
}

/// Intra random access point pictures (types 16..=23: BLA, IDR, CRA, reserved IRAP): decoding
/// can start here. CRA counts (retina#132 shows what goes wrong when it does not).
pub fn is_irap(nal_type: u8) -> bool {
    (16..=23).contains(&nal_type)
}

/// Non-VCL NAL unit types that, after the last VCL NAL unit of a picture, begin the next
/// access unit (H.265 §7.4.2.4.4): VPS, SPS, PPS, AUD, prefix SEI, reserved 41..=44 and
/// unspecified 48..=55. EOS, EOB, FD and suffix SEI stay with the picture before them.
pub fn begins_next_access_unit(nal_type: u8) -> bool {
    matches!(nal_type, VPS..=AUD | PREFIX_SEI | 41..=44 | 48..=55)
}

/// A human name for logs.
pub fn type_name(nal_type: u8) -> &'static str {
    match nal_type {
        0 => "TRAIL_N",
        1 => "TRAIL_R",
        2 => "TSA_N",
        3 => "TSA_R",
        4 => "STSA_N",
        5 => "STSA_R",
        6 => "RADL_N",
        7 => "RADL_R",
        8 => "RASL_N",
        9 => "RASL_R",
        16 => "BLA_W_LP",
        17 => "BLA_W_RADL",
        18 => "BLA_N_LP",
        19 => "IDR_W_RADL",
        20 => "IDR_N_LP",
        21 => "CRA_NUT",
        22 | 23 => "RSV_IRAP",
        32 => "VPS",
        33 => "SPS",
        34 => "PPS",
        35 => "AUD",
        36 => "EOS",
        37 => "EOB",
        38 => "FD",
        39 => "PREFIX_SEI",
        40 => "SUFFIX_SEI",
        48 => "AP",
        49 => "FU",
        50 => "PACI",
        _ if nal_type < 32 => "RSV_VCL",
        _ => "RSV/UNSPEC",
    }
}

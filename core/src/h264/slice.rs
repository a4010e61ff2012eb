//! The first fields of a slice header (H.264 section 7.3.3): enough to find the first slice of
//! a picture (`first_mb_in_slice == 0`) and to tell I, P and B pictures apart, without the SPS
//! and PPS that the rest of the header depends on.

use super::H264Error;
use super::bits::{finish, ue, ue_max};
use super::nal;

/// Bytes of the NAL payload converted to RBSP for the header: three Exp-Golomb codes of at
/// most 63 bits each fit in 24 bytes. Only this prefix is copied (to the stack), never the
/// slice data: this runs for every slice on the ingest path.
const HEADER_PREFIX_LEN: usize = 32;

/// `slice_type % 5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SliceType {
    /// 0: predicted.
    P = 0,
    /// 1: bi-predicted.
    B = 1,
    /// 2: intra.
    I = 2,
    /// 3: switching P.
    Sp = 3,
    /// 4: switching I.
    Si = 4,
}

impl SliceType {
    /// The type for a raw `slice_type` (0..=9; 5..=9 mean "every slice of the picture has this
    /// type").
    pub fn from_raw(raw: u8) -> Option<SliceType> {
        match raw % 5 {
            0 if raw < 10 => Some(SliceType::P),
            1 if raw < 10 => Some(SliceType::B),
            2 if raw < 10 => Some(SliceType::I),
            3 if raw < 10 => Some(SliceType::Sp),
            4 if raw < 10 => Some(SliceType::Si),
            _ => None,
        }
    }

    /// True for I and SI slices (no inter prediction).
    pub fn is_intra(self) -> bool {
        matches!(self, SliceType::I | SliceType::Si)
    }
}

/// The leading fields of a slice header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceHeader {
    /// `nal_unit_type` of the slice (1, 2 or 5).
    pub nal_type: u8,
    /// `nal_ref_idc` (0: the picture is not used for reference and may be dropped).
    pub nal_ref_idc: u8,
    /// True for an IDR picture (NAL type 5).
    pub is_idr: bool,
    /// `first_mb_in_slice`: 0 for the first slice of a picture (in a stream without ASO).
    pub first_mb_in_slice: u32,
    /// `slice_type` normalized to 0..=4.
    pub slice_type: SliceType,
    /// `slice_type` as coded (0..=9).
    pub slice_type_raw: u8,
    /// `pic_parameter_set_id`.
    pub pps_id: u8,
}

impl SliceHeader {
    /// Parses the start of a coded slice NAL unit (types 1, 2 and 5; header byte included).
    /// Only the first bytes are looked at, so this is cheap for large slices.
    pub fn parse(nal: &[u8]) -> Result<SliceHeader, H264Error> {
        let (&header, payload) = nal.split_first().ok_or(H264Error::Truncated)?;
        let nal_type = nal::nal_type(header);
        if !matches!(
            nal_type,
            nal::NON_IDR_SLICE | nal::PARTITION_A | nal::IDR_SLICE
        ) {
            return Err(H264Error::WrongNalType {
                expected: "coded slice",
                found: nal_type,
            });
        }
        let mut buf = [0u8; HEADER_PREFIX_LEN];
        let len = nal::rbsp_prefix(payload, &mut buf);
        let i = (buf.get(..len).unwrap_or(&buf[..]), 0);
        let (i, first_mb_in_slice) = finish(ue(i))?;
        let (i, slice_type_raw) = finish(ue_max(i, "slice_type", 9))?;
        let (_, pps_id) = finish(ue_max(i, "pic_parameter_set_id", 255))?;
        let slice_type_raw = slice_type_raw as u8; // <= 9
        let slice_type = SliceType::from_raw(slice_type_raw).ok_or(H264Error::OutOfRange {
            field: "slice_type",
            value: i64::from(slice_type_raw),
        })?;
        let is_idr = nal_type == nal::IDR_SLICE;
        Ok(SliceHeader {
            nal_type,
            nal_ref_idc: nal::nal_ref_idc(header),
            is_idr,
            first_mb_in_slice,
            slice_type,
            slice_type_raw,
            pps_id: pps_id as u8, // <= 255
        })
    }

    /// True when this slice starts a new picture (`first_mb_in_slice == 0`).
    pub fn is_first_slice(&self) -> bool {
        self.first_mb_in_slice == 0
    }
}

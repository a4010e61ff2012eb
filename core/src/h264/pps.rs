//! Picture parameter set (H.264 section 7.3.2.2): which SPS a picture uses and whether it is
//! CABAC-coded. Fields after `redundant_pic_cnt_present_flag` are optional in the syntax and
//! only the first two of them are read.

use super::H264Error;
use super::bits::{
    BitInput, BitResult, bits, fail, finish, flag, more_rbsp_data, se_range, ue, ue_max,
};
use super::nal;
use super::sps::check_parameter_set_header;

/// Largest `pic_size_in_map_units` accepted for slice group map type 6: MaxFS of level 6.2.
/// Bounds the `slice_group_id` loop independently of the input length.
const MAX_PIC_SIZE_IN_MAP_UNITS: u32 = 139_264;

/// A parsed picture parameter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pps {
    /// `pic_parameter_set_id` (0..=255).
    pub pps_id: u8,
    /// `seq_parameter_set_id` of the SPS this PPS refers to (0..=31).
    pub sps_id: u8,
    /// `entropy_coding_mode_flag`: true for CABAC, false for CAVLC.
    pub entropy_coding_mode: bool,
    /// `bottom_field_pic_order_in_frame_present_flag`.
    pub bottom_field_pic_order_in_frame_present: bool,
    /// `num_slice_groups_minus1 + 1` (FMO, Baseline/Extended only; 1 everywhere else).
    pub num_slice_groups: u8,
    /// `num_ref_idx_l0_default_active_minus1 + 1`.
    pub num_ref_idx_l0_default_active: u8,
    /// `num_ref_idx_l1_default_active_minus1 + 1`.
    pub num_ref_idx_l1_default_active: u8,
    /// `weighted_pred_flag`.
    pub weighted_pred: bool,
    /// `weighted_bipred_idc` (0..=2).
    pub weighted_bipred_idc: u8,
    /// `pic_init_qp_minus26`.
    pub pic_init_qp_minus26: i32,
    /// `pic_init_qs_minus26`.
    pub pic_init_qs_minus26: i32,
    /// `chroma_qp_index_offset`.
    pub chroma_qp_index_offset: i32,
    /// `deblocking_filter_control_present_flag`.
    pub deblocking_filter_control_present: bool,
    /// `constrained_intra_pred_flag`.
    pub constrained_intra_pred: bool,
    /// `redundant_pic_cnt_present_flag`.
    pub redundant_pic_cnt_present: bool,
    /// `transform_8x8_mode_flag` (High profiles; false when absent).
    pub transform_8x8_mode: bool,
    /// `pic_scaling_matrix_present_flag` (false when absent).
    pub pic_scaling_matrix_present: bool,
}

impl Pps {
    /// Parses a PPS NAL unit (header byte included, emulation-prevention bytes in place).
    /// Bytes after the fields read are ignored.
    pub fn parse(nal: &[u8]) -> Result<Pps, H264Error> {
        let (&header, payload) = nal.split_first().ok_or(H264Error::Truncated)?;
        check_parameter_set_header(header, nal.len(), nal::PPS, "PPS")?;
        let rbsp = nal::rbsp(payload);
        finish(parse_rbsp(&rbsp).map(|(_, pps)| pps))
    }
}

fn parse_rbsp(rbsp: &[u8]) -> BitResult<'_, Pps> {
    let i = (rbsp, 0);
    let (i, pps_id) = ue_max(i, "pic_parameter_set_id", 255)?;
    let (i, sps_id) = ue_max(i, "seq_parameter_set_id", 31)?;
    let (i, entropy_coding_mode) = flag(i)?;
    let (i, bottom_field_pic_order_in_frame_present) = flag(i)?;
    let (mut i, slice_groups_minus1) = ue_max(i, "num_slice_groups_minus1", 7)?;
    if slice_groups_minus1 > 0 {
        let (rest, ()) = skip_slice_group_map(i, slice_groups_minus1)?;
        i = rest;
    }
    let (i, l0) = ue_max(i, "num_ref_idx_l0_default_active_minus1", 31)?;
    let (i, l1) = ue_max(i, "num_ref_idx_l1_default_active_minus1", 31)?;
    let (i, weighted_pred) = flag(i)?;
    let (i, weighted_bipred_idc) = bits(i, 2)?;
    if weighted_bipred_idc > 2 {
        return fail(H264Error::OutOfRange {
            field: "weighted_bipred_idc",
            value: i64::from(weighted_bipred_idc),
        });
    }
    // -(26 + QpBdOffsetY) with a bit depth of up to 14 is -(26 + 36).
    let (i, pic_init_qp_minus26) = se_range(i, "pic_init_qp_minus26", -62, 25)?;
    let (i, pic_init_qs_minus26) = se_range(i, "pic_init_qs_minus26", -26, 25)?;
    let (i, chroma_qp_index_offset) = se_range(i, "chroma_qp_index_offset", -12, 12)?;
    let (i, deblocking_filter_control_present) = flag(i)?;
    let (i, constrained_intra_pred) = flag(i)?;
    let (i, redundant_pic_cnt_present) = flag(i)?;

    let mut pps = Pps {
        pps_id: pps_id as u8, // <= 255
        sps_id: sps_id as u8, // <= 31
        entropy_coding_mode,
        bottom_field_pic_order_in_frame_present,
        num_slice_groups: slice_groups_minus1 as u8 + 1, // <= 8
        num_ref_idx_l0_default_active: l0 as u8 + 1,     // <= 32
        num_ref_idx_l1_default_active: l1 as u8 + 1,
        weighted_pred,
        weighted_bipred_idc: weighted_bipred_idc as u8,
        pic_init_qp_minus26,
        pic_init_qs_minus26,
        chroma_qp_index_offset,
        deblocking_filter_control_present,
        constrained_intra_pred,
        redundant_pic_cnt_present,
        transform_8x8_mode: false,
        pic_scaling_matrix_present: false,
    };
    if more_rbsp_data(rbsp, i) {
        // The optional High-profile tail. The rest of it (scaling lists, whose count depends
        // on the SPS chroma format, and second_chroma_qp_index_offset) is not read.
        if let Ok((rest, t8x8)) = flag(i) {
            pps.transform_8x8_mode = t8x8;
            if let Ok((_, scaling)) = flag(rest) {
                pps.pic_scaling_matrix_present = scaling;
            }
        }
    }
    Ok((i, pps))
}

/// Reads past the slice group map description (7.3.2.2, FMO). Every loop is bounded: by the
/// number of slice groups (<= 8) or by [`MAX_PIC_SIZE_IN_MAP_UNITS`].
fn skip_slice_group_map(i: BitInput<'_>, slice_groups_minus1: u32) -> BitResult<'_, ()> {
    let (mut i, map_type) = ue_max(i, "slice_group_map_type", 6)?;
    match map_type {
        0 => {
            for _ in 0..=slice_groups_minus1 {
                let (rest, _run_length_minus1) = ue(i)?;
                i = rest;
            }
        }
        2 => {
            for _ in 0..slice_groups_minus1 {
                let (rest, _top_left) = ue(i)?;
                let (rest, _bottom_right) = ue(rest)?;
                i = rest;
            }
        }
        3..=5 => {
            let (rest, _change_direction) = flag(i)?;
            let (rest, _change_rate_minus1) = ue(rest)?;
            i = rest;
        }
        6 => {
            let (rest, size_minus1) = ue_max(
                i,
                "pic_size_in_map_units_minus1",
                MAX_PIC_SIZE_IN_MAP_UNITS - 1,
            )?;
            i = rest;
            // Ceil(Log2(num_slice_groups_minus1 + 1)) bits per id: 1..=3 for 2..=8 groups.
            let id_bits = (32 - slice_groups_minus1.leading_zeros()) as u8;
            for _ in 0..=size_minus1 {
                let (rest, _slice_group_id) = bits(i, id_bits)?;
                i = rest;
            }
        }
        _ => {}
    }
    Ok((i, ()))
}

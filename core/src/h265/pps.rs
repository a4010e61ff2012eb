//! Picture parameter set (H.265 §7.3.2.3.1), up to the tile and wavefront flags that decide
//! hvcC's `parallelismType`.

use super::H265Error;
use super::bits::{BitInput, BitResult, bits, flag, into_h265, se_range, ue, ue_max};
use super::nal::{self, NalHeader};
use super::sps::{MAX_PARAMETER_SET_LEN, rbsp_of};

/// A parsed picture parameter set (its first fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pps {
    /// `pps_pic_parameter_set_id` (0..=63).
    pub pps_id: u8,
    /// `pps_seq_parameter_set_id` (0..=15).
    pub sps_id: u8,
    /// `dependent_slice_segments_enabled_flag`.
    pub dependent_slice_segments_enabled: bool,
    /// `output_flag_present_flag`.
    pub output_flag_present: bool,
    /// `num_extra_slice_header_bits` (0..=7).
    pub num_extra_slice_header_bits: u8,
    /// `init_qp_minus26 + 26`, before the bit-depth offset.
    pub init_qp: i32,
    /// `tiles_enabled_flag`.
    pub tiles_enabled: bool,
    /// `entropy_coding_sync_enabled_flag` (wavefront parallel processing).
    pub entropy_coding_sync_enabled: bool,
    /// `(num_tile_columns, num_tile_rows)` when tiles are enabled.
    pub tiles: Option<(u32, u32)>,
}

impl Pps {
    /// Parses a PPS NAL unit (two-byte header included, no start code).
    pub fn parse(nal_unit: &[u8]) -> Result<Pps, H265Error> {
        let header = NalHeader::parse(nal_unit)?;
        if header.nal_type != nal::PPS {
            return Err(H265Error::WrongNalType {
                expected: "PPS",
                found: header.nal_type,
            });
        }
        if nal_unit.len() > MAX_PARAMETER_SET_LEN {
            return Err(H265Error::TooLarge {
                what: "PPS",
                len: nal_unit.len(),
                max: MAX_PARAMETER_SET_LEN,
            });
        }
        let rbsp = rbsp_of(nal_unit);
        pps(&rbsp).map(|(_, p)| p).map_err(into_h265)
    }

    /// hvcC `parallelismType` as FFmpeg derives it: 0 mixed (tiles and wavefront),
    /// 3 wavefront, 2 tiles, 1 slices.
    pub fn parallelism_type(&self) -> u8 {
        match (self.entropy_coding_sync_enabled, self.tiles_enabled) {
            (true, true) => 0,
            (true, false) => 3,
            (false, true) => 2,
            (false, false) => 1,
        }
    }
}

fn pps(data: &[u8]) -> BitResult<'_, Pps> {
    let i: BitInput<'_> = (data, 0);
    let (i, pps_id) = ue_max(i, "pps_pic_parameter_set_id", 63)?;
    let (i, sps_id) = ue_max(i, "pps_seq_parameter_set_id", 15)?;
    let (i, dependent_slice_segments_enabled) = flag(i)?;
    let (i, output_flag_present) = flag(i)?;
    let (i, num_extra_slice_header_bits) = bits(i, 3)?;
    // sign_data_hiding_enabled_flag, cabac_init_present_flag
    let (i, _) = bits(i, 2)?;
    let (i, _) = ue_max(i, "num_ref_idx_l0_default_active_minus1", 14)?;
    let (i, _) = ue_max(i, "num_ref_idx_l1_default_active_minus1", 14)?;
    let (i, init_qp_minus26) = se_range(i, "init_qp_minus26", -(26 + 48), 25)?;
    // constrained_intra_pred_flag, transform_skip_enabled_flag
    let (i, _) = bits(i, 2)?;
    let (i, cu_qp_delta_enabled) = flag(i)?;
    let (i, _) = if cu_qp_delta_enabled {
        ue_max(i, "diff_cu_qp_delta_depth", 6)?
    } else {
        (i, 0)
    };
    let (i, _) = se_range(i, "pps_cb_qp_offset", -12, 12)?;
    let (i, _) = se_range(i, "pps_cr_qp_offset", -12, 12)?;
    // pps_slice_chroma_qp_offsets_present_flag, weighted_pred_flag, weighted_bipred_flag,
    // transquant_bypass_enabled_flag
    let (i, _) = bits(i, 4)?;
    let (i, tiles_enabled) = flag(i)?;
    let (i, entropy_coding_sync_enabled) = flag(i)?;
    let (i, tiles) = if tiles_enabled {
        let (i, cols) = ue(i)?;
        let (i, rows) = ue(i)?;
        (i, Some((cols.saturating_add(1), rows.saturating_add(1))))
    } else {
        (i, None)
    };
    Ok((
        i,
        Pps {
            pps_id: pps_id as u8,
            sps_id: sps_id as u8,
            dependent_slice_segments_enabled,
            output_flag_present,
            num_extra_slice_header_bits: num_extra_slice_header_bits as u8,
            init_qp: init_qp_minus26 + 26,
            tiles_enabled,
            entropy_coding_sync_enabled,
            tiles,
        },
    ))
}

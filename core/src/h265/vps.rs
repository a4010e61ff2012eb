//! Video parameter set (H.265 §7.3.2.1): the fields hvcC and a recorder use.

use super::H265Error;
use super::bits::{BitInput, BitResult, bits, flag, into_h265, skip, ue_max};
use super::nal::{self, NalHeader};
use super::ptl::{ProfileTierLevel, profile_tier_level};
use super::sps::{MAX_PARAMETER_SET_LEN, rbsp_of};

/// A parsed video parameter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vps {
    /// `vps_video_parameter_set_id` (0..=15).
    pub vps_id: u8,
    /// `vps_max_layers_minus1 + 1`.
    pub max_layers: u8,
    /// `vps_max_sub_layers_minus1 + 1` (1..=7).
    pub max_sub_layers: u8,
    /// `vps_temporal_id_nesting_flag`.
    pub temporal_id_nesting: bool,
    /// The VPS's `profile_tier_level`.
    pub profile_tier_level: ProfileTierLevel,
    /// `vps_max_layer_id`.
    pub max_layer_id: u8,
    /// `vps_num_layer_sets_minus1 + 1`.
    pub num_layer_sets: u16,
    /// `(vps_num_units_in_tick, vps_time_scale)` when `vps_timing_info_present_flag` is set.
    pub timing: Option<(u32, u32)>,
}

impl Vps {
    /// Parses a VPS NAL unit (two-byte header included, no start code).
    pub fn parse(nal_unit: &[u8]) -> Result<Vps, H265Error> {
        let header = NalHeader::parse(nal_unit)?;
        if header.nal_type != nal::VPS {
            return Err(H265Error::WrongNalType {
                expected: "VPS",
                found: header.nal_type,
            });
        }
        if nal_unit.len() > MAX_PARAMETER_SET_LEN {
            return Err(H265Error::TooLarge {
                what: "VPS",
                len: nal_unit.len(),
                max: MAX_PARAMETER_SET_LEN,
            });
        }
        let rbsp = rbsp_of(nal_unit);
        vps(&rbsp).map(|(_, v)| v).map_err(into_h265)
    }
}

fn vps(data: &[u8]) -> BitResult<'_, Vps> {
    let i: BitInput<'_> = (data, 0);
    let (i, vps_id) = bits(i, 4)?;
    // vps_base_layer_internal_flag, vps_base_layer_available_flag
    let (i, _) = bits(i, 2)?;
    let (i, max_layers_minus1) = bits(i, 6)?;
    let (i, max_sub_layers_minus1) = bits(i, 3)?;
    let (i, temporal_id_nesting) = flag(i)?;
    // vps_reserved_0xffff_16bits
    let (i, _) = bits(i, 16)?;
    let (i, ptl) = profile_tier_level(i, max_sub_layers_minus1 as u8)?;
    let (mut i, ordering_present) = flag(i)?;
    let first = if ordering_present {
        0
    } else {
        max_sub_layers_minus1
    };
    for _ in first..=max_sub_layers_minus1 {
        i = ue_max(i, "vps_max_dec_pic_buffering_minus1", 15)?.0;
        i = ue_max(i, "vps_max_num_reorder_pics", 15)?.0;
        // vps_max_latency_increase_plus1
        i = super::bits::ue(i)?.0;
    }
    let (i, max_layer_id) = bits(i, 6)?;
    let (i, num_layer_sets_minus1) = ue_max(i, "vps_num_layer_sets_minus1", 1023)?;
    // layer_id_included_flag[1..=num_layer_sets_minus1][0..=vps_max_layer_id]
    let (i, ()) = skip(
        i,
        num_layer_sets_minus1 as usize * (max_layer_id as usize + 1),
    )?;
    let (i, timing_present) = flag(i)?;
    let (i, timing) = if timing_present {
        let (i, num_units_in_tick) = bits(i, 32)?;
        let (i, time_scale) = bits(i, 32)?;
        (i, Some((num_units_in_tick, time_scale)))
    } else {
        (i, None)
    };
    Ok((
        i,
        Vps {
            vps_id: vps_id as u8,
            max_layers: max_layers_minus1 as u8 + 1,
            max_sub_layers: max_sub_layers_minus1 as u8 + 1,
            temporal_id_nesting,
            profile_tier_level: ptl,
            max_layer_id: max_layer_id as u8,
            num_layer_sets: num_layer_sets_minus1 as u16 + 1,
            timing,
        },
    ))
}

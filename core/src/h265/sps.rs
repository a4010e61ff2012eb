//! Sequence parameter set (H.265 §7.3.2.2) and its VUI (Annex E): picture size after the
//! conformance window, chroma format, bit depths, reorder depth, frame timing, and the fields
//! hvcC needs.
//!
//! Everything up to `vui_parameters_present_flag` must parse; a VUI that does not (some
//! encoders write non-conforming VUI) leaves [`Sps::vui`] empty and sets
//! [`Sps::vui_error`] rather than refusing a stream whose pictures are fine.

use super::H265Error;
use super::bits::{BitInput, BitResult, bits, fail, flag, into_h265, se_range, skip, ue, ue_max};
use super::nal::{self, NalHeader};
use super::ptl::{ProfileTierLevel, profile_tier_level};

/// Largest parameter-set NAL unit accepted (header included): the 16-bit length field of an
/// hvcC array entry cannot describe a larger one.
pub const MAX_PARAMETER_SET_LEN: usize = 65_535;

/// Largest coded picture dimension accepted: sqrt(8 × MaxLumaPs) for level 6.2 (A.4.1).
pub const MAX_DIMENSION: u32 = 16_888;

/// The NAL unit's RBSP after its two-byte header (emulation-prevention bytes removed).
pub(crate) fn rbsp_of(nal_unit: &[u8]) -> Vec<u8> {
    crate::h264::nal::rbsp(nal_unit.get(2..).unwrap_or_default())
}

/// DPB sizing of one sub-layer (`sps_max_dec_pic_buffering_minus1 + 1`,
/// `sps_max_num_reorder_pics`, `sps_max_latency_increase_plus1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubLayerOrdering {
    /// `sps_max_dec_pic_buffering_minus1 + 1`.
    pub max_dec_pic_buffering: u8,
    /// `sps_max_num_reorder_pics`: pictures that may precede another in decoding order and
    /// follow it in output order (0 = no B-frame reordering).
    pub max_num_reorder_pics: u8,
    /// `sps_max_latency_increase_plus1`.
    pub max_latency_increase_plus1: u32,
}

/// Conformance cropping window, in luma samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cropping {
    /// Luma columns removed on the left.
    pub left: u32,
    /// Luma columns removed on the right.
    pub right: u32,
    /// Luma rows removed at the top.
    pub top: u32,
    /// Luma rows removed at the bottom.
    pub bottom: u32,
}

/// VUI timing (`vui_num_units_in_tick`, `vui_time_scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingInfo {
    /// `vui_num_units_in_tick`.
    pub num_units_in_tick: u32,
    /// `vui_time_scale`.
    pub time_scale: u32,
    /// `vui_num_ticks_poc_diff_one_minus1 + 1`, when `vui_poc_proportional_to_timing_flag`.
    pub num_ticks_poc_diff_one: Option<u64>,
}

impl TimingInfo {
    /// Frames per second as a fraction `(time_scale, num_units_in_tick)`, if both are non-zero.
    pub fn frame_rate(&self) -> Option<(u32, u32)> {
        (self.num_units_in_tick != 0 && self.time_scale != 0)
            .then_some((self.time_scale, self.num_units_in_tick))
    }
}

/// The VUI fields a recorder uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vui {
    /// `(sar_width, sar_height)` from `aspect_ratio_idc` (Table E.1) or explicit.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    /// `video_full_range_flag`, when the video signal type is present.
    pub full_range: Option<bool>,
    /// `(colour_primaries, transfer_characteristics, matrix_coeffs)`.
    pub colour_description: Option<(u8, u8, u8)>,
    /// `field_seq_flag`: pictures are fields.
    pub field_seq: bool,
    /// Timing, when `vui_timing_info_present_flag` is set.
    pub timing: Option<TimingInfo>,
    /// `vui_hrd_parameters_present_flag`.
    pub hrd_present: bool,
    /// `min_spatial_segmentation_idc` when `bitstream_restriction_flag` is set.
    pub min_spatial_segmentation_idc: Option<u16>,
}

/// A parsed sequence parameter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    /// `sps_video_parameter_set_id` (0..=15).
    pub vps_id: u8,
    /// `sps_max_sub_layers_minus1 + 1` (1..=7).
    pub max_sub_layers: u8,
    /// `sps_temporal_id_nesting_flag`.
    pub temporal_id_nesting: bool,
    /// The SPS's `profile_tier_level`.
    pub profile_tier_level: ProfileTierLevel,
    /// `sps_seq_parameter_set_id` (0..=15).
    pub sps_id: u8,
    /// `chroma_format_idc`: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u8,
    /// `separate_colour_plane_flag`.
    pub separate_colour_plane: bool,
    /// `pic_width_in_luma_samples` (coded, before cropping).
    pub coded_width: u32,
    /// `pic_height_in_luma_samples` (coded, before cropping).
    pub coded_height: u32,
    /// The conformance window, in luma samples (all zero when absent).
    pub cropping: Cropping,
    /// `bit_depth_luma_minus8 + 8`.
    pub bit_depth_luma: u8,
    /// `bit_depth_chroma_minus8 + 8`.
    pub bit_depth_chroma: u8,
    /// `log2_max_pic_order_cnt_lsb_minus4 + 4`.
    pub log2_max_pic_order_cnt_lsb: u8,
    /// DPB sizing per sub-layer (index = TemporalId); lower sub-layers copy the highest one
    /// when `sps_sub_layer_ordering_info_present_flag` is 0.
    pub sub_layer_ordering: Vec<SubLayerOrdering>,
    /// `num_short_term_ref_pic_sets`.
    pub num_short_term_ref_pic_sets: u8,
    /// `long_term_ref_pics_present_flag`.
    pub long_term_ref_pics_present: bool,
    /// `sps_temporal_mvp_enabled_flag`.
    pub temporal_mvp_enabled: bool,
    /// `strong_intra_smoothing_enabled_flag`.
    pub strong_intra_smoothing_enabled: bool,
    /// The VUI, when present and parseable.
    pub vui: Option<Vui>,
    /// Why a present VUI could not be parsed (the SPS is still usable).
    pub vui_error: Option<H265Error>,
}

impl Sps {
    /// Parses an SPS NAL unit (two-byte header included, no start code). Only base-layer SPSs
    /// (`nuh_layer_id` 0) are accepted.
    pub fn parse(nal_unit: &[u8]) -> Result<Sps, H265Error> {
        let header = NalHeader::parse(nal_unit)?;
        if header.nal_type != nal::SPS {
            return Err(H265Error::WrongNalType {
                expected: "SPS",
                found: header.nal_type,
            });
        }
        if header.layer_id != 0 {
            return Err(H265Error::OutOfRange {
                field: "nuh_layer_id",
                value: i64::from(header.layer_id),
            });
        }
        if nal_unit.len() > MAX_PARAMETER_SET_LEN {
            return Err(H265Error::TooLarge {
                what: "SPS",
                len: nal_unit.len(),
                max: MAX_PARAMETER_SET_LEN,
            });
        }
        let rbsp = rbsp_of(nal_unit);
        let (_, (i, mut sps)) = sps_fields(&rbsp).map_err(into_h265)?;
        if let Some(i) = i {
            match vui(i, sps.max_sub_layers - 1) {
                Ok((_, v)) => sps.vui = Some(v),
                Err(e) => {
                    let e = into_h265(e);
                    log::debug!("H.265 SPS: ignoring unparseable VUI ({e})");
                    sps.vui_error = Some(e);
                }
            }
        }
        Ok(sps)
    }

    /// `SubWidthC`, `SubHeightC` (Table 6-1).
    fn sub_wh(chroma_format_idc: u8, separate_colour_plane: bool) -> (u32, u32) {
        match (chroma_format_idc, separate_colour_plane) {
            (1, false) => (2, 2),
            (2, false) => (2, 1),
            _ => (1, 1),
        }
    }

    /// Displayed width: coded width minus the conformance window.
    pub fn width(&self) -> u32 {
        self.coded_width - self.cropping.left - self.cropping.right
    }

    /// Displayed height: coded height minus the conformance window.
    pub fn height(&self) -> u32 {
        self.coded_height - self.cropping.top - self.cropping.bottom
    }

    /// `sps_max_num_reorder_pics[HighestTid]`: the reorder depth of the whole stream.
    pub fn max_num_reorder_pics(&self) -> u8 {
        self.sub_layer_ordering
            .last()
            .map_or(0, |o| o.max_num_reorder_pics)
    }

    /// Frame rate from the VUI timing, as `(time_scale, num_units_in_tick)`.
    pub fn frame_rate(&self) -> Option<(u32, u32)> {
        self.vui.as_ref()?.timing?.frame_rate()
    }
}

/// The SPS up to `vui_parameters_present_flag`; returns the VUI's input when it is present.
#[allow(clippy::type_complexity)]
fn sps_fields(data: &[u8]) -> BitResult<'_, (Option<BitInput<'_>>, Sps)> {
    let i: BitInput<'_> = (data, 0);
    let (i, vps_id) = bits(i, 4)?;
    let (i, max_sub_layers_minus1) = bits(i, 3)?;
    if max_sub_layers_minus1 > 6 {
        return fail(H265Error::OutOfRange {
            field: "sps_max_sub_layers_minus1",
            value: i64::from(max_sub_layers_minus1),
        });
    }
    let (i, temporal_id_nesting) = flag(i)?;
    let (i, ptl) = profile_tier_level(i, max_sub_layers_minus1 as u8)?;
    let (i, sps_id) = ue_max(i, "sps_seq_parameter_set_id", 15)?;
    let (i, chroma_format_idc) = ue_max(i, "chroma_format_idc", 3)?;
    let (i, separate_colour_plane) = if chroma_format_idc == 3 {
        flag(i)?
    } else {
        (i, false)
    };
    let (i, coded_width) = ue_max(i, "pic_width_in_luma_samples", MAX_DIMENSION)?;
    let (i, coded_height) = ue_max(i, "pic_height_in_luma_samples", MAX_DIMENSION)?;
    if coded_width == 0 || coded_height == 0 {
        return fail(H265Error::OutOfRange {
            field: "pic_width/height_in_luma_samples",
            value: 0,
        });
    }
    let (mut i, conformance_window) = flag(i)?;
    let mut cropping = Cropping::default();
    if conformance_window {
        let (sw, sh) = Sps::sub_wh(chroma_format_idc as u8, separate_colour_plane);
        let mut offsets = [0u32; 4];
        for o in &mut offsets {
            let (r, v) = ue_max(i, "conf_win_offset", MAX_DIMENSION)?;
            *o = v;
            i = r;
        }
        cropping = Cropping {
            left: offsets[0] * sw,
            right: offsets[1] * sw,
            top: offsets[2] * sh,
            bottom: offsets[3] * sh,
        };
        if cropping.left + cropping.right >= coded_width
            || cropping.top + cropping.bottom >= coded_height
        {
            return fail(H265Error::OutOfRange {
                field: "conformance_window",
                value: i64::from(cropping.left + cropping.right + cropping.top + cropping.bottom),
            });
        }
    }
    let (i, bit_depth_luma_minus8) = ue_max(i, "bit_depth_luma_minus8", 8)?;
    let (i, bit_depth_chroma_minus8) = ue_max(i, "bit_depth_chroma_minus8", 8)?;
    let (i, log2_max_poc_lsb_minus4) = ue_max(i, "log2_max_pic_order_cnt_lsb_minus4", 12)?;
    let (mut i, ordering_present) = flag(i)?;
    let n = max_sub_layers_minus1 as usize + 1;
    let mut sub_layer_ordering = vec![SubLayerOrdering::default(); n];
    let first = if ordering_present { 0 } else { n - 1 };
    for o in sub_layer_ordering.iter_mut().skip(first) {
        let (r, dec) = ue_max(i, "sps_max_dec_pic_buffering_minus1", 15)?;
        let (r, reorder) = ue_max(r, "sps_max_num_reorder_pics", 15)?;
        let (r, latency) = ue(r)?;
        *o = SubLayerOrdering {
            max_dec_pic_buffering: dec as u8 + 1,
            max_num_reorder_pics: reorder as u8,
            max_latency_increase_plus1: latency,
        };
        i = r;
    }
    if !ordering_present {
        let top = sub_layer_ordering[n - 1];
        sub_layer_ordering.iter_mut().for_each(|o| *o = top);
    }
    let (i, _) = ue_max(i, "log2_min_luma_coding_block_size_minus3", 3)?;
    let (i, _) = ue_max(i, "log2_diff_max_min_luma_coding_block_size", 3)?;
    let (i, _) = ue_max(i, "log2_min_luma_transform_block_size_minus2", 3)?;
    let (i, _) = ue_max(i, "log2_diff_max_min_luma_transform_block_size", 3)?;
    let (i, _) = ue_max(i, "max_transform_hierarchy_depth_inter", 4)?;
    let (i, _) = ue_max(i, "max_transform_hierarchy_depth_intra", 4)?;
    let (mut i, scaling_list_enabled) = flag(i)?;
    if scaling_list_enabled {
        let (r, data_present) = flag(i)?;
        i = r;
        if data_present {
            i = scaling_list_data(i)?.0;
        }
    }
    // amp_enabled_flag, sample_adaptive_offset_enabled_flag
    let (i, _) = bits(i, 2)?;
    let (mut i, pcm_enabled) = flag(i)?;
    if pcm_enabled {
        // pcm_sample_bit_depth_luma_minus1 u(4), pcm_sample_bit_depth_chroma_minus1 u(4)
        i = bits(i, 8)?.0;
        i = ue_max(i, "log2_min_pcm_luma_coding_block_size_minus3", 2)?.0;
        i = ue_max(i, "log2_diff_max_min_pcm_luma_coding_block_size", 2)?.0;
        // pcm_loop_filter_disabled_flag
        i = flag(i)?.0;
    }
    let (mut i, num_st_rps) = ue_max(i, "num_short_term_ref_pic_sets", 64)?;
    let mut sets: Vec<StRps> = Vec::with_capacity(num_st_rps as usize);
    for idx in 0..num_st_rps as usize {
        let (r, set) = st_ref_pic_set(i, idx, &sets)?;
        sets.push(set);
        i = r;
    }
    let (mut i, long_term_present) = flag(i)?;
    if long_term_present {
        let (r, num) = ue_max(i, "num_long_term_ref_pics_sps", 32)?;
        // lt_ref_pic_poc_lsb_sps u(v), used_by_curr_pic_lt_sps_flag u(1)
        i = skip(r, num as usize * (log2_max_poc_lsb_minus4 as usize + 4 + 1))?.0;
    }
    let (i, temporal_mvp_enabled) = flag(i)?;
    let (i, strong_intra_smoothing_enabled) = flag(i)?;
    let (i, vui_present) = flag(i)?;
    let sps = Sps {
        vps_id: vps_id as u8,
        max_sub_layers: max_sub_layers_minus1 as u8 + 1,
        temporal_id_nesting,
        profile_tier_level: ptl,
        sps_id: sps_id as u8,
        chroma_format_idc: chroma_format_idc as u8,
        separate_colour_plane,
        coded_width,
        coded_height,
        cropping,
        bit_depth_luma: bit_depth_luma_minus8 as u8 + 8,
        bit_depth_chroma: bit_depth_chroma_minus8 as u8 + 8,
        log2_max_pic_order_cnt_lsb: log2_max_poc_lsb_minus4 as u8 + 4,
        sub_layer_ordering,
        num_short_term_ref_pic_sets: num_st_rps as u8,
        long_term_ref_pics_present: long_term_present,
        temporal_mvp_enabled,
        strong_intra_smoothing_enabled,
        vui: None,
        vui_error: None,
    };
    Ok((i, (vui_present.then_some(i), sps)))
}

/// `scaling_list_data()` (§7.3.4): read and discarded.
fn scaling_list_data(mut i: BitInput<'_>) -> BitResult<'_, ()> {
    for size_id in 0..4usize {
        let step = if size_id == 3 { 3 } else { 1 };
        for _matrix_id in (0..6).step_by(step) {
            let (r, pred_mode) = flag(i)?;
            i = r;
            if !pred_mode {
                i = ue_max(i, "scaling_list_pred_matrix_id_delta", 5)?.0;
            } else {
                let coef_num = 64.min(1usize << (4 + (size_id << 1)));
                if size_id > 1 {
                    i = se_range(i, "scaling_list_dc_coef_minus8", -7, 247)?.0;
                }
                for _ in 0..coef_num {
                    i = se_range(i, "scaling_list_delta_coef", -128, 127)?.0;
                }
            }
        }
    }
    Ok((i, ()))
}

/// One short-term reference picture set: the POC deltas of its negative and positive
/// pictures (only their number and values matter for parsing the sets after it).
#[derive(Debug, Clone, Default)]
struct StRps {
    s0: Vec<i32>,
    s1: Vec<i32>,
}

const MAX_DELTA_POCS: usize = 16;

/// `st_ref_pic_set(stRpsIdx)` as in an SPS (§7.3.7, derivation §7.4.8).
fn st_ref_pic_set<'a>(i: BitInput<'a>, idx: usize, prev: &[StRps]) -> BitResult<'a, StRps> {
    let (i, inter) = if idx != 0 { flag(i)? } else { (i, false) };
    if inter {
        // In an SPS delta_idx_minus1 is absent (stRpsIdx < num_short_term_ref_pic_sets).
        let Some(r) = prev.last() else {
            return fail(H265Error::OutOfRange {
                field: "inter_ref_pic_set_prediction_flag",
                value: 1,
            });
        };
        let (i, sign) = flag(i)?;
        let (mut i, abs_minus1) = ue_max(i, "abs_delta_rps_minus1", 32_767)?;
        let delta_rps = (1 - 2 * i32::from(sign)) * (abs_minus1 as i32 + 1);
        let num_delta = r.s0.len() + r.s1.len();
        let mut use_delta = [true; 2 * MAX_DELTA_POCS + 1];
        for u in use_delta.iter_mut().take(num_delta + 1) {
            let (rest, used_by_curr) = flag(i)?;
            i = rest;
            if !used_by_curr {
                let (rest, ud) = flag(i)?;
                i = rest;
                *u = ud;
            }
        }
        let neg = r.s0.len();
        let mut s0 = Vec::new();
        let mut s1 = Vec::new();
        for j in (0..r.s1.len()).rev() {
            let d = r.s1[j] + delta_rps;
            if d < 0 && use_delta[neg + j] {
                s0.push(d);
            }
        }
        if delta_rps < 0 && use_delta[num_delta] {
            s0.push(delta_rps);
        }
        for (j, &p) in r.s0.iter().enumerate() {
            let d = p + delta_rps;
            if d < 0 && use_delta[j] {
                s0.push(d);
            }
        }
        for j in (0..r.s0.len()).rev() {
            let d = r.s0[j] + delta_rps;
            if d > 0 && use_delta[j] {
                s1.push(d);
            }
        }
        if delta_rps > 0 && use_delta[num_delta] {
            s1.push(delta_rps);
        }
        for (j, &p) in r.s1.iter().enumerate() {
            let d = p + delta_rps;
            if d > 0 && use_delta[neg + j] {
                s1.push(d);
            }
        }
        if s0.len() > MAX_DELTA_POCS || s1.len() > MAX_DELTA_POCS {
            return fail(H265Error::OutOfRange {
                field: "NumDeltaPocs",
                value: (s0.len() + s1.len()) as i64,
            });
        }
        return Ok((i, StRps { s0, s1 }));
    }
    let (i, num_negative) = ue_max(i, "num_negative_pics", MAX_DELTA_POCS as u32)?;
    let (mut i, num_positive) = ue_max(i, "num_positive_pics", MAX_DELTA_POCS as u32)?;
    let mut s0 = Vec::with_capacity(num_negative as usize);
    let mut poc = 0i32;
    for _ in 0..num_negative {
        let (r, d) = ue_max(i, "delta_poc_s0_minus1", 32_767)?;
        let (r, _used) = flag(r)?;
        poc -= d as i32 + 1;
        s0.push(poc);
        i = r;
    }
    let mut s1 = Vec::with_capacity(num_positive as usize);
    poc = 0;
    for _ in 0..num_positive {
        let (r, d) = ue_max(i, "delta_poc_s1_minus1", 32_767)?;
        let (r, _used) = flag(r)?;
        poc += d as i32 + 1;
        s1.push(poc);
        i = r;
    }
    Ok((i, StRps { s0, s1 }))
}

/// `vui_parameters()` (E.2.1).
fn vui(i: BitInput<'_>, max_sub_layers_minus1: u8) -> BitResult<'_, Vui> {
    let mut v = Vui::default();
    let (mut i, aspect_present) = flag(i)?;
    if aspect_present {
        let (r, idc) = bits(i, 8)?;
        i = r;
        v.sample_aspect_ratio = if idc == 255 {
            let (r, w) = bits(i, 16)?;
            let (r, h) = bits(r, 16)?;
            i = r;
            Some((w as u16, h as u16))
        } else {
            sar_from_idc(idc as u8)
        };
    }
    let (mut i, overscan_present) = flag(i)?;
    if overscan_present {
        i = flag(i)?.0;
    }
    let (mut i, signal_present) = flag(i)?;
    if signal_present {
        let (r, _video_format) = bits(i, 3)?;
        let (r, full_range) = flag(r)?;
        let (r, colour_present) = flag(r)?;
        i = r;
        v.full_range = Some(full_range);
        if colour_present {
            let (r, p) = bits(i, 8)?;
            let (r, t) = bits(r, 8)?;
            let (r, m) = bits(r, 8)?;
            i = r;
            v.colour_description = Some((p as u8, t as u8, m as u8));
        }
    }
    let (mut i, chroma_loc_present) = flag(i)?;
    if chroma_loc_present {
        i = ue_max(i, "chroma_sample_loc_type_top_field", 5)?.0;
        i = ue_max(i, "chroma_sample_loc_type_bottom_field", 5)?.0;
    }
    // neutral_chroma_indication_flag
    let (i, _) = flag(i)?;
    let (i, field_seq) = flag(i)?;
    v.field_seq = field_seq;
    // frame_field_info_present_flag
    let (i, _) = flag(i)?;
    let (mut i, default_display_window) = flag(i)?;
    if default_display_window {
        for _ in 0..4 {
            i = ue(i)?.0;
        }
    }
    let (mut i, timing_present) = flag(i)?;
    if timing_present {
        let (r, num_units_in_tick) = bits(i, 32)?;
        let (r, time_scale) = bits(r, 32)?;
        let (r, poc_proportional) = flag(r)?;
        let (r, num_ticks) = if poc_proportional {
            let (r, n) = ue(r)?;
            (r, Some(u64::from(n) + 1))
        } else {
            (r, None)
        };
        v.timing = Some(TimingInfo {
            num_units_in_tick,
            time_scale,
            num_ticks_poc_diff_one: num_ticks,
        });
        let (r, hrd_present) = flag(r)?;
        i = r;
        v.hrd_present = hrd_present;
        if hrd_present {
            i = hrd_parameters(i, true, max_sub_layers_minus1)?.0;
        }
    }
    let (mut i, restriction) = flag(i)?;
    if restriction {
        // tiles_fixed_structure_flag, motion_vectors_over_pic_boundaries_flag,
        // restricted_ref_pic_lists_flag
        i = bits(i, 3)?.0;
        let (r, min_spatial) = ue_max(i, "min_spatial_segmentation_idc", 4095)?;
        v.min_spatial_segmentation_idc = Some(min_spatial as u16);
        i = r;
        i = ue_max(i, "max_bytes_per_pic_denom", 16)?.0;
        i = ue_max(i, "max_bits_per_min_cu_denom", 16)?.0;
        i = ue_max(i, "log2_max_mv_length_horizontal", 15)?.0;
        i = ue_max(i, "log2_max_mv_length_vertical", 15)?.0;
    }
    Ok((i, v))
}

/// `hrd_parameters(commonInfPresentFlag, maxNumSubLayersMinus1)` (E.2.2): read and discarded.
fn hrd_parameters(i: BitInput<'_>, common: bool, max_sub_layers_minus1: u8) -> BitResult<'_, ()> {
    let (mut nal_hrd, mut vcl_hrd, mut sub_pic) = (false, false, false);
    let mut i = i;
    if common {
        let (r, n) = flag(i)?;
        let (r, v) = flag(r)?;
        i = r;
        nal_hrd = n;
        vcl_hrd = v;
        if nal_hrd || vcl_hrd {
            let (r, s) = flag(i)?;
            i = r;
            sub_pic = s;
            if sub_pic {
                // tick_divisor_minus2 u(8), du_cpb_removal_delay_increment_length_minus1 u(5),
                // sub_pic_cpb_params_in_pic_timing_sei_flag u(1),
                // dpb_output_delay_du_length_minus1 u(5)
                i = bits(i, 19)?.0;
            }
            // bit_rate_scale u(4), cpb_size_scale u(4)
            i = bits(i, 8)?.0;
            if sub_pic {
                // cpb_size_du_scale
                i = bits(i, 4)?.0;
            }
            // initial_cpb_removal_delay_length_minus1, au_cpb_removal_delay_length_minus1,
            // dpb_output_delay_length_minus1: u(5) each
            i = bits(i, 15)?.0;
        }
    }
    for _ in 0..=max_sub_layers_minus1 {
        let (r, fixed_general) = flag(i)?;
        i = r;
        let fixed_within_cvs = if fixed_general {
            true
        } else {
            let (r, f) = flag(i)?;
            i = r;
            f
        };
        let mut low_delay = false;
        if fixed_within_cvs {
            i = ue_max(i, "elemental_duration_in_tc_minus1", 2047)?.0;
        } else {
            let (r, l) = flag(i)?;
            i = r;
            low_delay = l;
        }
        let mut cpb_cnt_minus1 = 0;
        if !low_delay {
            let (r, c) = ue_max(i, "cpb_cnt_minus1", 31)?;
            i = r;
            cpb_cnt_minus1 = c;
        }
        for present in [nal_hrd, vcl_hrd] {
            if present {
                for _ in 0..=cpb_cnt_minus1 {
                    // bit_rate_value_minus1, cpb_size_value_minus1
                    i = ue(i)?.0;
                    i = ue(i)?.0;
                    if sub_pic {
                        // cpb_size_du_value_minus1, bit_rate_du_value_minus1
                        i = ue(i)?.0;
                        i = ue(i)?.0;
                    }
                    // cbr_flag
                    i = flag(i)?.0;
                }
            }
        }
    }
    Ok((i, ()))
}

/// Table E.1.
fn sar_from_idc(idc: u8) -> Option<(u16, u16)> {
    const TABLE: [(u16, u16); 17] = [
        (0, 0),
        (1, 1),
        (12, 11),
        (10, 11),
        (16, 11),
        (40, 33),
        (24, 11),
        (20, 11),
        (32, 11),
        (80, 33),
        (18, 11),
        (15, 11),
        (64, 33),
        (160, 99),
        (4, 3),
        (3, 2),
        (2, 1),
    ];
    match idc {
        1..=16 => Some(TABLE[usize::from(idc)]),
        _ => None,
    }
}

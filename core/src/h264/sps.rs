//! Sequence parameter set (H.264 section 7.3.2.1.1): what a recorder needs to know about a
//! stream (size, frame rate, profile/level, reorder depth) without decoding it.

use super::H264Error;
use super::bits::{
    BitInput, BitResult, byte, fail, finish, flag, into_h264, se, se_range, ue, ue_max,
};
use super::nal;
use super::vui::{self, AspectRatio, Vui};

/// Largest parameter-set NAL unit accepted (header included): the 16-bit length field of an
/// avcC record cannot describe a larger one, and real ones are tens of bytes.
pub const MAX_PARAMETER_SET_LEN: usize = 65_535;

/// Largest picture dimension in macroblocks: sqrt(8 * MaxFS) for the largest level (6.2,
/// MaxFS = 139264), the bound of A.3.1 (f)/(g). It keeps width/height arithmetic small.
pub const MAX_MBS_PER_DIMENSION: u32 = 1055;

/// A parsed sequence parameter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    /// `profile_idc` (66 Baseline, 77 Main, 100 High, ...).
    pub profile_idc: u8,
    /// The byte holding `constraint_set0_flag` (bit 7) .. `constraint_set5_flag` (bit 2) and
    /// the two reserved bits: the "profile compatibility" byte of avcC and RFC 6381.
    pub constraint_flags: u8,
    /// `level_idc` (e.g. 30 for level 3.0; 9 is level 1b).
    pub level_idc: u8,
    /// `seq_parameter_set_id` (0..=31).
    pub sps_id: u8,
    /// `chroma_format_idc`: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 (1 when not coded).
    pub chroma_format_idc: u8,
    /// `separate_colour_plane_flag` (4:4:4 coded as three monochrome planes).
    pub separate_colour_plane: bool,
    /// Luma bit depth (8..=14).
    pub bit_depth_luma: u8,
    /// Chroma bit depth (8..=14).
    pub bit_depth_chroma: u8,
    /// `qpprime_y_zero_transform_bypass_flag`.
    pub qpprime_y_zero_transform_bypass: bool,
    /// `seq_scaling_matrix_present_flag` (the lists themselves are read and skipped).
    pub seq_scaling_matrix_present: bool,
    /// `log2_max_frame_num_minus4 + 4` (4..=16): the width of `frame_num` in slice headers.
    pub log2_max_frame_num: u8,
    /// Picture order count type and its fields.
    pub pic_order_cnt: PicOrderCnt,
    /// `max_num_ref_frames` (0..=16).
    pub max_num_ref_frames: u8,
    /// `gaps_in_frame_num_value_allowed_flag`.
    pub gaps_in_frame_num_allowed: bool,
    /// `pic_width_in_mbs_minus1 + 1`.
    pub pic_width_in_mbs: u32,
    /// `pic_height_in_map_units_minus1 + 1` (map units are field macroblock rows when
    /// `frame_mbs_only` is false).
    pub pic_height_in_map_units: u32,
    /// `frame_mbs_only_flag` (false: the stream may contain fields / interlaced frames).
    pub frame_mbs_only: bool,
    /// `mb_adaptive_frame_field_flag` (MBAFF; false when `frame_mbs_only`).
    pub mb_adaptive_frame_field: bool,
    /// `direct_8x8_inference_flag`.
    pub direct_8x8_inference: bool,
    /// Frame cropping offsets, in crop units (see [`Sps::width`]).
    pub cropping: Option<Cropping>,
    /// VUI parameters when `vui_parameters_present_flag` is set. Groups read before a
    /// [`Sps::vui_error`] are kept.
    pub vui: Option<Vui>,
    /// Why the VUI could not be read to its end, when it could not.
    ///
    /// Cameras send SPSs whose VUI is cut short or corrupt (missing `rbsp_trailing_bits`,
    /// a length that drops the last bytes). Everything before the VUI — size, profile,
    /// level — is still right, and players ignore the broken part, so [`Sps::parse`] returns
    /// `Ok` with what it read and records the problem here instead of refusing the stream.
    pub vui_error: Option<H264Error>,
}

/// `pic_order_cnt_type` and the fields that come with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PicOrderCnt {
    /// Type 0: `pic_order_cnt_lsb` is sent in every slice header.
    Type0 {
        /// `log2_max_pic_order_cnt_lsb_minus4 + 4` (4..=16).
        log2_max_pic_order_cnt_lsb: u8,
    },
    /// Type 1: order derived from `frame_num` and a cycle of offsets.
    Type1 {
        /// `delta_pic_order_always_zero_flag`.
        delta_pic_order_always_zero: bool,
        /// `offset_for_non_ref_pic`.
        offset_for_non_ref_pic: i32,
        /// `offset_for_top_to_bottom_field`.
        offset_for_top_to_bottom_field: i32,
        /// `offset_for_ref_frame[]` (at most 255 entries).
        offsets_for_ref_frame: Vec<i32>,
    },
    /// Type 2: output order equals decoding order (no B-frame reordering).
    Type2,
}

/// `frame_crop_*_offset` values, in crop units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cropping {
    /// `frame_crop_left_offset`.
    pub left: u32,
    /// `frame_crop_right_offset`.
    pub right: u32,
    /// `frame_crop_top_offset`.
    pub top: u32,
    /// `frame_crop_bottom_offset`.
    pub bottom: u32,
}

/// Profiles whose SPS carries `chroma_format_idc`, bit depths and scaling matrices
/// (the `if (profile_idc == 100 || ...)` of 7.3.2.1.1, plus the withdrawn 144).
fn has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135 | 144
    )
}

/// Profiles whose SPS syntax we know; any other `profile_idc` may carry fields we would misread.
fn is_known_profile(profile_idc: u8) -> bool {
    matches!(profile_idc, 66 | 77 | 88) || has_chroma_info(profile_idc)
}

impl Sps {
    /// Parses an SPS NAL unit (header byte included, no start code, emulation-prevention bytes
    /// still in place).
    ///
    /// Tolerated camera quirks: bytes after the last field (a stray trailing byte, trailing
    /// zeros, missing or garbage `rbsp_trailing_bits`) are ignored; a VUI that is cut short or
    /// corrupt keeps what was read and is reported in [`Sps::vui_error`].
    pub fn parse(nal: &[u8]) -> Result<Sps, H264Error> {
        let (&header, payload) = nal.split_first().ok_or(H264Error::Truncated)?;
        check_parameter_set_header(header, nal.len(), nal::SPS, "SPS")?;
        let rbsp = nal::rbsp(payload);
        finish(parse_rbsp((&rbsp, 0)).map(|(_, sps)| sps))
    }

    /// Width in pixels of the decoded frame after cropping.
    pub fn width(&self) -> u32 {
        let (crop_unit_x, _) = self.crop_units();
        let coded = self.pic_width_in_mbs.saturating_mul(16);
        let crop = self
            .cropping
            .map(|c| c.left.saturating_add(c.right).saturating_mul(crop_unit_x))
            .unwrap_or(0);
        coded.saturating_sub(crop)
    }

    /// Height in pixels of the decoded frame after cropping (a frame, i.e. both fields, when
    /// `frame_mbs_only` is false).
    pub fn height(&self) -> u32 {
        let (_, crop_unit_y) = self.crop_units();
        let coded = self.coded_height();
        let crop = self
            .cropping
            .map(|c| c.top.saturating_add(c.bottom).saturating_mul(crop_unit_y))
            .unwrap_or(0);
        coded.saturating_sub(crop)
    }

    /// Width in pixels before cropping (a multiple of 16).
    pub fn coded_width(&self) -> u32 {
        self.pic_width_in_mbs.saturating_mul(16)
    }

    /// Height in pixels before cropping.
    pub fn coded_height(&self) -> u32 {
        let field_factor = if self.frame_mbs_only { 1 } else { 2 };
        self.pic_height_in_map_units
            .saturating_mul(16)
            .saturating_mul(field_factor)
    }

    /// `ChromaArrayType`: the chroma format as the decoding process sees it (0 for monochrome
    /// and for separately coded colour planes).
    pub fn chroma_array_type(&self) -> u8 {
        if self.separate_colour_plane {
            0
        } else {
            self.chroma_format_idc
        }
    }

    /// `(CropUnitX, CropUnitY)` of equations 7-19..7-22.
    fn crop_units(&self) -> (u32, u32) {
        let field_factor = if self.frame_mbs_only { 1 } else { 2 };
        let (sub_width_c, sub_height_c) = match self.chroma_array_type() {
            0 => (1, 1),
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        (sub_width_c, sub_height_c * field_factor)
    }

    /// Frame rate from the VUI timing information: `time_scale / (2 * num_units_in_tick)`
    /// (a tick is a field period, so a frame is two ticks). `None` when the SPS has no timing
    /// information or it is zero.
    pub fn fps(&self) -> Option<f64> {
        let timing = self.vui.as_ref()?.timing?;
        if timing.num_units_in_tick == 0 || timing.time_scale == 0 {
            return None;
        }
        Some(f64::from(timing.time_scale) / (2.0 * f64::from(timing.num_units_in_tick)))
    }

    /// Sample aspect ratio (width:height) from the VUI, when stated.
    pub fn sample_aspect_ratio(&self) -> Option<(u16, u16)> {
        self.vui
            .as_ref()?
            .aspect_ratio
            .as_ref()
            .and_then(AspectRatio::ratio)
    }

    /// `max_num_reorder_frames` from the VUI bitstream restriction, when stated.
    pub fn max_num_reorder_frames(&self) -> Option<u32> {
        self.vui
            .as_ref()?
            .bitstream_restriction
            .map(|b| b.max_num_reorder_frames)
    }

    /// `constraint_set<n>_flag` for n in 0..=5.
    pub fn constraint_set(&self, n: u8) -> bool {
        n <= 5 && self.constraint_flags & (0x80 >> n) != 0
    }

    /// Human-readable profile name, as ffprobe prints it (e.g. `Constrained Baseline`,
    /// `Main`, `High`, `High 4:2:2`).
    pub fn profile_name(&self) -> &'static str {
        let c1 = self.constraint_set(1);
        let c3 = self.constraint_set(3);
        let c4 = self.constraint_set(4);
        let c5 = self.constraint_set(5);
        match self.profile_idc {
            66 if c1 => "Constrained Baseline",
            66 => "Baseline",
            77 => "Main",
            88 => "Extended",
            100 if c4 && c5 => "Constrained High",
            100 if c4 => "Progressive High",
            100 => "High",
            110 if c3 => "High 10 Intra",
            110 => "High 10",
            122 if c3 => "High 4:2:2 Intra",
            122 => "High 4:2:2",
            244 if c3 => "High 4:4:4 Intra",
            244 => "High 4:4:4 Predictive",
            44 => "CAVLC 4:4:4 Intra",
            83 => "Scalable Baseline",
            86 => "Scalable High",
            118 => "Multiview High",
            128 => "Stereo High",
            138 => "Multiview Depth High",
            139 => "Enhanced Multiview Depth High",
            134 => "MFC High",
            135 => "MFC Depth High",
            144 => "High 4:4:4",
            _ => "Unknown",
        }
    }
}

/// Checks what every parameter-set parser checks about the NAL header and size.
pub(crate) fn check_parameter_set_header(
    header: u8,
    len: usize,
    expected_type: u8,
    expected: &'static str,
) -> Result<(), H264Error> {
    if len > MAX_PARAMETER_SET_LEN {
        return Err(H264Error::TooLarge {
            what: expected,
            len,
            max: MAX_PARAMETER_SET_LEN,
        });
    }
    if header & 0x80 != 0 {
        return Err(H264Error::OutOfRange {
            field: "forbidden_zero_bit",
            value: 1,
        });
    }
    let found = nal::nal_type(header);
    if found != expected_type {
        return Err(H264Error::WrongNalType { expected, found });
    }
    Ok(())
}

fn parse_rbsp(i: BitInput<'_>) -> BitResult<'_, Sps> {
    let (i, profile_idc) = byte(i)?;
    let (i, constraint_flags) = byte(i)?;
    let (i, level_idc) = byte(i)?;
    if !is_known_profile(profile_idc) {
        return fail(H264Error::Unsupported(format!("profile_idc {profile_idc}")));
    }
    let (mut i, sps_id) = ue_max(i, "seq_parameter_set_id", 31)?;

    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    let mut bit_depth_luma = 8;
    let mut bit_depth_chroma = 8;
    let mut qpprime_y_zero_transform_bypass = false;
    let mut seq_scaling_matrix_present = false;
    if has_chroma_info(profile_idc) {
        let (rest, cf) = ue_max(i, "chroma_format_idc", 3)?;
        chroma_format_idc = cf as u8; // <= 3
        i = rest;
        if chroma_format_idc == 3 {
            let (rest, f) = flag(i)?;
            separate_colour_plane = f;
            i = rest;
        }
        let (rest, luma) = ue_max(i, "bit_depth_luma_minus8", 6)?;
        let (rest, chroma) = ue_max(rest, "bit_depth_chroma_minus8", 6)?;
        bit_depth_luma = 8 + luma as u8; // <= 14
        bit_depth_chroma = 8 + chroma as u8;
        let (rest, bypass) = flag(rest)?;
        qpprime_y_zero_transform_bypass = bypass;
        let (rest, scaling) = flag(rest)?;
        seq_scaling_matrix_present = scaling;
        i = rest;
        if scaling {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for n in 0..lists {
                let (rest, present) = flag(i)?;
                i = rest;
                if present {
                    let size = if n < 6 { 16 } else { 64 };
                    let (rest, ()) = skip_scaling_list(i, size)?;
                    i = rest;
                }
            }
        }
    }

    let (i, log2_max_frame_num_minus4) = ue_max(i, "log2_max_frame_num_minus4", 12)?;
    let (i, poc_type) = ue_max(i, "pic_order_cnt_type", 2)?;
    let (i, pic_order_cnt) = match poc_type {
        0 => {
            let (i, v) = ue_max(i, "log2_max_pic_order_cnt_lsb_minus4", 12)?;
            (
                i,
                PicOrderCnt::Type0 {
                    log2_max_pic_order_cnt_lsb: v as u8 + 4,
                },
            )
        }
        1 => {
            let (i, delta_pic_order_always_zero) = flag(i)?;
            let (i, offset_for_non_ref_pic) = se(i)?;
            let (i, offset_for_top_to_bottom_field) = se(i)?;
            let (mut i, count) = ue_max(i, "num_ref_frames_in_pic_order_cnt_cycle", 255)?;
            let mut offsets_for_ref_frame = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let (rest, offset) = se(i)?;
                offsets_for_ref_frame.push(offset);
                i = rest;
            }
            (
                i,
                PicOrderCnt::Type1 {
                    delta_pic_order_always_zero,
                    offset_for_non_ref_pic,
                    offset_for_top_to_bottom_field,
                    offsets_for_ref_frame,
                },
            )
        }
        _ => (i, PicOrderCnt::Type2),
    };

    let (i, max_num_ref_frames) = ue_max(i, "max_num_ref_frames", 16)?;
    let (i, gaps_in_frame_num_allowed) = flag(i)?;
    let (i, width_minus1) = ue_max(i, "pic_width_in_mbs_minus1", MAX_MBS_PER_DIMENSION - 1)?;
    let (i, height_minus1) = ue_max(
        i,
        "pic_height_in_map_units_minus1",
        MAX_MBS_PER_DIMENSION - 1,
    )?;
    let (i, frame_mbs_only) = flag(i)?;
    let (i, mb_adaptive_frame_field) = if frame_mbs_only { (i, false) } else { flag(i)? };
    let (i, direct_8x8_inference) = flag(i)?;
    let (mut i, cropping_flag) = flag(i)?;

    let mut sps = Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        sps_id: sps_id as u8, // <= 31
        chroma_format_idc,
        separate_colour_plane,
        bit_depth_luma,
        bit_depth_chroma,
        qpprime_y_zero_transform_bypass,
        seq_scaling_matrix_present,
        log2_max_frame_num: log2_max_frame_num_minus4 as u8 + 4, // <= 16
        pic_order_cnt,
        max_num_ref_frames: max_num_ref_frames as u8, // <= 16
        gaps_in_frame_num_allowed,
        pic_width_in_mbs: width_minus1 + 1,
        pic_height_in_map_units: height_minus1 + 1,
        frame_mbs_only,
        mb_adaptive_frame_field,
        direct_8x8_inference,
        cropping: None,
        vui: None,
        vui_error: None,
    };

    if cropping_flag {
        let (rest, left) = ue(i)?;
        let (rest, right) = ue(rest)?;
        let (rest, top) = ue(rest)?;
        let (rest, bottom) = ue(rest)?;
        i = rest;
        let crop = Cropping {
            left,
            right,
            top,
            bottom,
        };
        // The cropped frame must keep at least one pixel (7.4.2.1.1 bounds the offsets by the
        // coded size). Computed in u64: the offsets are arbitrary 32-bit values.
        let (unit_x, unit_y) = sps.crop_units();
        let crop_x = (u64::from(left) + u64::from(right)) * u64::from(unit_x);
        let crop_y = (u64::from(top) + u64::from(bottom)) * u64::from(unit_y);
        if crop_x >= u64::from(sps.coded_width()) {
            return fail(H264Error::OutOfRange {
                field: "frame_crop_left_offset + frame_crop_right_offset",
                value: i64::try_from(crop_x).unwrap_or(i64::MAX),
            });
        }
        if crop_y >= u64::from(sps.coded_height()) {
            return fail(H264Error::OutOfRange {
                field: "frame_crop_top_offset + frame_crop_bottom_offset",
                value: i64::try_from(crop_y).unwrap_or(i64::MAX),
            });
        }
        sps.cropping = Some(crop);
    }

    let (i, vui_present) = flag(i)?;
    if vui_present {
        let mut vui = Vui::default();
        let i = match vui::parse_into(i, &mut vui) {
            Ok((rest, ())) => rest,
            Err(e) => {
                sps.vui_error = Some(into_h264(e));
                i
            }
        };
        sps.vui = Some(vui);
        // Whatever follows (rbsp_trailing_bits, or the stray bytes some cameras append) is
        // not checked.
        return Ok((i, sps));
    }
    // Same here: a missing stop bit or extra bytes after `vui_parameters_present_flag = 0`
    // are ignored.
    Ok((i, sps))
}

/// Reads and discards one `scaling_list()` of `size` coefficients (7.3.2.1.1.1). The loop is
/// bounded by `size` (16 or 64); `delta_scale` is checked against its range -128..=127.
fn skip_scaling_list(mut i: BitInput<'_>, size: usize) -> BitResult<'_, ()> {
    let mut last_scale: i32 = 8;
    let mut next_scale: i32 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let (rest, delta) = se_range(i, "delta_scale", -128, 127)?;
            i = rest;
            next_scale = (last_scale + delta + 256).rem_euclid(256);
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok((i, ()))
}

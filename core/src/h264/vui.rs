//! VUI parameters (H.264 Annex E): aspect ratio, colour description, timing (frame rate), HRD
//! and the bitstream restriction (reorder depth).
//!
//! Parsing fills a [`Vui`] in place, group by group, so that when a camera's VUI is cut short the
//! groups read before the cut are kept (see `Sps::vui_error`).

use super::H264Error;
use super::bits::{BitInput, BitResult, bits, byte, fail, flag, ue, ue_max};

/// Video usability information. Groups that were absent (or cut off) are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vui {
    /// `aspect_ratio_idc` and, for 255 (Extended_SAR), `sar_width`/`sar_height`.
    pub aspect_ratio: Option<AspectRatio>,
    /// `overscan_appropriate_flag` when present.
    pub overscan_appropriate: Option<bool>,
    /// Video signal type when present.
    pub video_signal_type: Option<VideoSignalType>,
    /// `chroma_sample_loc_type_top_field` / `_bottom_field` when present.
    pub chroma_loc: Option<(u8, u8)>,
    /// Timing information when present.
    pub timing: Option<TimingInfo>,
    /// NAL HRD parameters when present.
    pub nal_hrd: Option<Hrd>,
    /// VCL HRD parameters when present.
    pub vcl_hrd: Option<Hrd>,
    /// `low_delay_hrd_flag` (present only with an HRD).
    pub low_delay_hrd: Option<bool>,
    /// `pic_struct_present_flag`.
    pub pic_struct_present: bool,
    /// Bitstream restriction when present.
    pub bitstream_restriction: Option<BitstreamRestriction>,
}

/// Sample aspect ratio as coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AspectRatio {
    /// `aspect_ratio_idc` (Table E-1; 255 = explicit).
    pub idc: u8,
    /// `sar_width` (only for idc 255, else 0).
    pub sar_width: u16,
    /// `sar_height` (only for idc 255, else 0).
    pub sar_height: u16,
}

impl AspectRatio {
    /// The sample aspect ratio as width:height, from Table E-1 or the explicit values.
    /// `None` for "unspecified" (0), reserved values and a zero explicit ratio.
    pub fn ratio(&self) -> Option<(u16, u16)> {
        const TABLE: [(u16, u16); 16] = [
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
        match self.idc {
            255 if self.sar_width != 0 && self.sar_height != 0 => {
                Some((self.sar_width, self.sar_height))
            }
            1..=16 => TABLE.get(usize::from(self.idc) - 1).copied(),
            _ => None,
        }
    }
}

/// `video_signal_type` group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSignalType {
    /// `video_format` (0 component, 1 PAL, 2 NTSC, 3 SECAM, 4 MAC, 5 unspecified).
    pub video_format: u8,
    /// `video_full_range_flag`.
    pub full_range: bool,
    /// `(colour_primaries, transfer_characteristics, matrix_coefficients)` when present.
    pub colour_description: Option<(u8, u8, u8)>,
}

/// `timing_info` group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingInfo {
    /// `num_units_in_tick`.
    pub num_units_in_tick: u32,
    /// `time_scale` (Hz).
    pub time_scale: u32,
    /// `fixed_frame_rate_flag`.
    pub fixed_frame_rate: bool,
}

/// Summary of `hrd_parameters()`: the first CPB specification and the field lengths that slice
/// SEI parsing would need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hrd {
    /// `cpb_cnt_minus1 + 1`.
    pub cpb_count: u8,
    /// Bit rate of the first CPB specification in bits/s.
    pub bit_rate: u64,
    /// Size of the first CPB in bits.
    pub cpb_size: u64,
    /// `cbr_flag` of the first CPB specification.
    pub cbr: bool,
    /// `initial_cpb_removal_delay_length_minus1 + 1`.
    pub initial_cpb_removal_delay_length: u8,
    /// `cpb_removal_delay_length_minus1 + 1`.
    pub cpb_removal_delay_length: u8,
    /// `dpb_output_delay_length_minus1 + 1`.
    pub dpb_output_delay_length: u8,
    /// `time_offset_length`.
    pub time_offset_length: u8,
}

/// `bitstream_restriction` group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitstreamRestriction {
    /// `motion_vectors_over_pic_boundaries_flag`.
    pub motion_vectors_over_pic_boundaries: bool,
    /// `max_bytes_per_pic_denom`.
    pub max_bytes_per_pic_denom: u32,
    /// `max_bits_per_mb_denom`.
    pub max_bits_per_mb_denom: u32,
    /// `log2_max_mv_length_horizontal`.
    pub log2_max_mv_length_horizontal: u32,
    /// `log2_max_mv_length_vertical`.
    pub log2_max_mv_length_vertical: u32,
    /// `max_num_reorder_frames`: how many frames may precede another in decoding order and
    /// follow it in output order (0 = no B-frame reordering).
    pub max_num_reorder_frames: u32,
    /// `max_dec_frame_buffering`.
    pub max_dec_frame_buffering: u32,
}

/// Parses `vui_parameters()` into `vui`, which keeps every group completed before an error.
pub(crate) fn parse_into<'a>(i: BitInput<'a>, vui: &mut Vui) -> BitResult<'a, ()> {
    let (mut i, present) = flag(i)?;
    if present {
        let (rest, idc) = byte(i)?;
        let (mut rest, mut sar_width, mut sar_height) = (rest, 0, 0);
        if idc == 255 {
            let (r, w) = bits(rest, 16)?;
            let (r, h) = bits(r, 16)?;
            rest = r;
            // 16-bit reads always fit.
            sar_width = u16::try_from(w).unwrap_or(u16::MAX);
            sar_height = u16::try_from(h).unwrap_or(u16::MAX);
        }
        vui.aspect_ratio = Some(AspectRatio {
            idc,
            sar_width,
            sar_height,
        });
        i = rest;
    }

    let (mut i, present) = flag(i)?;
    if present {
        let (rest, v) = flag(i)?;
        vui.overscan_appropriate = Some(v);
        i = rest;
    }

    let (mut i, present) = flag(i)?;
    if present {
        let (rest, video_format) = bits(i, 3)?;
        let (rest, full_range) = flag(rest)?;
        let (mut rest, colour) = flag(rest)?;
        let mut colour_description = None;
        if colour {
            let (r, primaries) = byte(rest)?;
            let (r, transfer) = byte(r)?;
            let (r, matrix) = byte(r)?;
            colour_description = Some((primaries, transfer, matrix));
            rest = r;
        }
        vui.video_signal_type = Some(VideoSignalType {
            video_format: video_format as u8, // 3 bits
            full_range,
            colour_description,
        });
        i = rest;
    }

    let (mut i, present) = flag(i)?;
    if present {
        let (rest, top) = ue_max(i, "chroma_sample_loc_type_top_field", 5)?;
        let (rest, bottom) = ue_max(rest, "chroma_sample_loc_type_bottom_field", 5)?;
        vui.chroma_loc = Some((top as u8, bottom as u8)); // both <= 5
        i = rest;
    }

    let (mut i, present) = flag(i)?;
    if present {
        let (rest, num_units_in_tick) = bits(i, 32)?;
        let (rest, time_scale) = bits(rest, 32)?;
        let (rest, fixed_frame_rate) = flag(rest)?;
        vui.timing = Some(TimingInfo {
            num_units_in_tick,
            time_scale,
            fixed_frame_rate,
        });
        i = rest;
    }

    let (mut i, nal_present) = flag(i)?;
    if nal_present {
        let (rest, hrd) = hrd_parameters(i)?;
        vui.nal_hrd = Some(hrd);
        i = rest;
    }
    let (mut i, vcl_present) = flag(i)?;
    if vcl_present {
        let (rest, hrd) = hrd_parameters(i)?;
        vui.vcl_hrd = Some(hrd);
        i = rest;
    }
    if nal_present || vcl_present {
        let (rest, low_delay) = flag(i)?;
        vui.low_delay_hrd = Some(low_delay);
        i = rest;
    }

    let (i, pic_struct_present) = flag(i)?;
    vui.pic_struct_present = pic_struct_present;

    let (mut i, present) = flag(i)?;
    if present {
        let (rest, motion_vectors_over_pic_boundaries) = flag(i)?;
        let (rest, max_bytes_per_pic_denom) = ue_max(rest, "max_bytes_per_pic_denom", 16)?;
        let (rest, max_bits_per_mb_denom) = ue_max(rest, "max_bits_per_mb_denom", 16)?;
        let (rest, log2_max_mv_length_horizontal) =
            ue_max(rest, "log2_max_mv_length_horizontal", 16)?;
        let (rest, log2_max_mv_length_vertical) = ue_max(rest, "log2_max_mv_length_vertical", 16)?;
        let (rest, max_num_reorder_frames) = ue(rest)?;
        let (rest, max_dec_frame_buffering) = ue(rest)?;
        // Both are bounded by MaxDpbFrames (at most 16); a larger value means the VUI is
        // corrupt and the reorder depth must not be trusted.
        if max_dec_frame_buffering > 16 {
            return fail(H264Error::OutOfRange {
                field: "max_dec_frame_buffering",
                value: i64::from(max_dec_frame_buffering),
            });
        }
        if max_num_reorder_frames > max_dec_frame_buffering {
            return fail(H264Error::OutOfRange {
                field: "max_num_reorder_frames",
                value: i64::from(max_num_reorder_frames),
            });
        }
        vui.bitstream_restriction = Some(BitstreamRestriction {
            motion_vectors_over_pic_boundaries,
            max_bytes_per_pic_denom,
            max_bits_per_mb_denom,
            log2_max_mv_length_horizontal,
            log2_max_mv_length_vertical,
            max_num_reorder_frames,
            max_dec_frame_buffering,
        });
        i = rest;
    }
    Ok((i, ()))
}

/// `hrd_parameters()` (E.1.2). Every CPB specification is read (so the bits after it line up)
/// and the first is kept; `cpb_cnt_minus1` is bounded at 31 by the specification, which also
/// bounds the loop.
fn hrd_parameters(i: BitInput<'_>) -> BitResult<'_, Hrd> {
    let (i, cpb_cnt_minus1) = ue_max(i, "cpb_cnt_minus1", 31)?;
    let (i, bit_rate_scale) = bits(i, 4)?;
    let (mut i, cpb_size_scale) = bits(i, 4)?;
    let mut first = None;
    for _ in 0..=cpb_cnt_minus1 {
        let (rest, bit_rate_value_minus1) = ue(i)?;
        let (rest, cpb_size_value_minus1) = ue(rest)?;
        let (rest, cbr) = flag(rest)?;
        i = rest;
        if first.is_none() {
            // value <= 2^32 - 1 and shift <= 15 + 6 (or + 4): at most 2^53, fits u64.
            let bit_rate = (u64::from(bit_rate_value_minus1) + 1) << (6 + bit_rate_scale);
            let cpb_size = (u64::from(cpb_size_value_minus1) + 1) << (4 + cpb_size_scale);
            first = Some((bit_rate, cpb_size, cbr));
        }
    }
    let (i, initial) = bits(i, 5)?;
    let (i, removal) = bits(i, 5)?;
    let (i, output) = bits(i, 5)?;
    let (i, time_offset_length) = bits(i, 5)?;
    let (bit_rate, cpb_size, cbr) = first.unwrap_or((0, 0, false));
    Ok((
        i,
        Hrd {
            cpb_count: (cpb_cnt_minus1 + 1) as u8, // <= 32
            bit_rate,
            cpb_size,
            cbr,
            initial_cpb_removal_delay_length: initial as u8 + 1, // 5 bits
            cpb_removal_delay_length: removal as u8 + 1,
            dpb_output_delay_length: output as u8 + 1,
            time_offset_length: time_offset_length as u8,
        },
    ))
}

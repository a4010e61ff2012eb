//! The MP4 `hvcC` record (HEVCDecoderConfigurationRecord, ISO/IEC 14496-15 §8.3.3.1) and the
//! RFC 6381 codec string (14496-15 Annex E.3).
//!
//! Built the way FFmpeg's `libavformat/hevc.c` builds it, so the record is byte-identical to
//! what `ffmpeg -tag:v hvc1` writes for the same parameter sets (tested against x265
//! encodings): the VPS and SPS profile_tier_level merged (highest tier, profile and level,
//! AND of the compatibility and constraint flags), `numTemporalLayers` the larger of the two,
//! `min_spatial_segmentation_idc` from the VUI, `parallelismType` from the PPS (0 when
//! min_spatial_segmentation_idc is 0), avgFrameRate and constantFrameRate 0, 4-byte lengths,
//! arrays VPS, SPS, PPS with `array_completeness = 1` (mandatory for `hvc1`), then optional
//! declarative prefix-SEI NAL units with completeness 0.

use super::H265Error;
use super::nal::{self, NalHeader};
use super::ptl::ProfileTierLevel;
use super::{Pps, Sps, Vps};

/// An HEVCDecoderConfigurationRecord built from one VPS, SPS and PPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcDecoderConfig {
    /// `general_profile_space`.
    pub profile_space: u8,
    /// `general_tier_flag`.
    pub tier: bool,
    /// `general_profile_idc`.
    pub profile_idc: u8,
    /// `general_profile_compatibility_flags`.
    pub compatibility_flags: u32,
    /// `general_constraint_indicator_flags` (48 bits).
    pub constraint_flags: u64,
    /// `general_level_idc`.
    pub level_idc: u8,
    /// `min_spatial_segmentation_idc` (12 bits).
    pub min_spatial_segmentation_idc: u16,
    /// `parallelismType` (2 bits).
    pub parallelism_type: u8,
    /// `chromaFormat` (= `chroma_format_idc`).
    pub chroma_format: u8,
    /// `bitDepthLumaMinus8`.
    pub bit_depth_luma_minus8: u8,
    /// `bitDepthChromaMinus8`.
    pub bit_depth_chroma_minus8: u8,
    /// `numTemporalLayers`.
    pub num_temporal_layers: u8,
    /// `temporalIdNested`.
    pub temporal_id_nested: bool,
    vps: Vec<u8>,
    sps: Vec<u8>,
    pps: Vec<u8>,
    sei: Vec<Vec<u8>>,
    sps_info: Sps,
}

impl HevcDecoderConfig {
    /// Builds the record from the three parameter-set NAL units (two-byte header included, no
    /// start code, emulation-prevention bytes kept as sent).
    pub fn from_parameter_sets(vps: &[u8], sps: &[u8], pps: &[u8]) -> Result<Self, H265Error> {
        let vps_info = Vps::parse(vps)?;
        let sps_info = Sps::parse(sps)?;
        let pps_info = Pps::parse(pps)?;
        let mut c = HevcDecoderConfig {
            profile_space: 0,
            tier: false,
            profile_idc: 0,
            compatibility_flags: u32::MAX,
            constraint_flags: (1 << 48) - 1,
            level_idc: 0,
            min_spatial_segmentation_idc: 0,
            parallelism_type: 0,
            chroma_format: sps_info.chroma_format_idc,
            bit_depth_luma_minus8: sps_info.bit_depth_luma - 8,
            bit_depth_chroma_minus8: sps_info.bit_depth_chroma - 8,
            num_temporal_layers: vps_info.max_sub_layers.max(sps_info.max_sub_layers),
            temporal_id_nested: sps_info.temporal_id_nesting,
            vps: vps.to_vec(),
            sps: sps.to_vec(),
            pps: pps.to_vec(),
            sei: Vec::new(),
            sps_info: sps_info.clone(),
        };
        c.merge_ptl(&vps_info.profile_tier_level);
        c.merge_ptl(&sps_info.profile_tier_level);
        let min_spatial = sps_info
            .vui
            .as_ref()
            .and_then(|v| v.min_spatial_segmentation_idc)
            .unwrap_or(0);
        c.min_spatial_segmentation_idc = min_spatial;
        if min_spatial != 0 {
            c.parallelism_type = pps_info.parallelism_type();
        }
        Ok(c)
    }

    /// Adds declarative prefix-SEI NAL units as a fourth array (completeness 0), as FFmpeg
    /// does with the SEI an encoder puts in its headers. Other NAL types are refused.
    pub fn with_prefix_sei(mut self, sei: &[&[u8]]) -> Result<Self, H265Error> {
        for s in sei {
            let h = NalHeader::parse(s)?;
            if h.nal_type != nal::PREFIX_SEI {
                return Err(H265Error::WrongNalType {
                    expected: "prefix SEI",
                    found: h.nal_type,
                });
            }
            check_len("SEI", s)?;
            self.sei.push(s.to_vec());
        }
        Ok(self)
    }

    /// FFmpeg's `hvcc_update_ptl`.
    fn merge_ptl(&mut self, ptl: &ProfileTierLevel) {
        let g = &ptl.general;
        self.profile_space = g.profile_space;
        if !self.tier && g.tier {
            self.level_idc = ptl.level_idc;
        } else {
            self.level_idc = self.level_idc.max(ptl.level_idc);
        }
        self.tier |= g.tier;
        self.profile_idc = self.profile_idc.max(g.profile_idc);
        self.compatibility_flags &= g.compatibility_flags;
        self.constraint_flags &= g.constraint_flags;
    }

    /// The parsed SPS the record was built from.
    pub fn sps_info(&self) -> &Sps {
        &self.sps_info
    }

    /// The VPS NAL unit.
    pub fn vps(&self) -> &[u8] {
        &self.vps
    }

    /// The SPS NAL unit.
    pub fn sps(&self) -> &[u8] {
        &self.sps
    }

    /// The PPS NAL unit.
    pub fn pps(&self) -> &[u8] {
        &self.pps
    }

    /// The serialized record (the body of the `hvcC` box).
    pub fn to_bytes(&self) -> Result<Vec<u8>, H265Error> {
        for (what, n) in [("VPS", &self.vps), ("SPS", &self.sps), ("PPS", &self.pps)] {
            check_len(what, n)?;
        }
        let mut out = Vec::with_capacity(
            23 + 15
                + self.vps.len()
                + self.sps.len()
                + self.pps.len()
                + self.sei.iter().map(|s| s.len() + 2).sum::<usize>()
                + 3,
        );
        out.push(1);
        out.push(
            (self.profile_space & 3) << 6 | u8::from(self.tier) << 5 | (self.profile_idc & 0x1f),
        );
        out.extend_from_slice(&self.compatibility_flags.to_be_bytes());
        out.extend_from_slice(&self.constraint_flags.to_be_bytes()[2..]);
        out.push(self.level_idc);
        out.extend_from_slice(
            &(0xf000 | (self.min_spatial_segmentation_idc & 0x0fff)).to_be_bytes(),
        );
        out.push(0xfc | (self.parallelism_type & 3));
        out.push(0xfc | (self.chroma_format & 3));
        out.push(0xf8 | (self.bit_depth_luma_minus8 & 7));
        out.push(0xf8 | (self.bit_depth_chroma_minus8 & 7));
        // avgFrameRate
        out.extend_from_slice(&[0, 0]);
        // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3
        out.push((self.num_temporal_layers & 7) << 3 | u8::from(self.temporal_id_nested) << 2 | 3);
        out.push(if self.sei.is_empty() { 3 } else { 4 });
        for (nal_type, unit) in [
            (nal::VPS, &self.vps),
            (nal::SPS, &self.sps),
            (nal::PPS, &self.pps),
        ] {
            out.push(0x80 | nal_type);
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&(unit.len() as u16).to_be_bytes());
            out.extend_from_slice(unit);
        }
        if !self.sei.is_empty() {
            out.push(nal::PREFIX_SEI);
            out.extend_from_slice(
                &(self.sei.len().min(usize::from(u16::MAX)) as u16).to_be_bytes(),
            );
            for s in self.sei.iter().take(usize::from(u16::MAX)) {
                out.extend_from_slice(&(s.len() as u16).to_be_bytes());
                out.extend_from_slice(s);
            }
        }
        Ok(out)
    }

    /// The RFC 6381 codec string with the sample-entry prefix `hvc1`, e.g. `hvc1.1.6.L93.B0`.
    pub fn codec_string(&self) -> String {
        codec_string("hvc1", &self.sps_info.profile_tier_level)
    }
}

fn check_len(what: &'static str, nal: &[u8]) -> Result<(), H265Error> {
    if nal.len() > usize::from(u16::MAX) {
        return Err(H265Error::TooLarge {
            what,
            len: nal.len(),
            max: usize::from(u16::MAX),
        });
    }
    Ok(())
}

/// RFC 6381 / ISO/IEC 14496-15 E.3 codec string for a general profile_tier_level:
/// `<prefix>.<space letter><profile_idc>.<compatibility flags bit-reversed, hex>.<L|H><level>`
/// then the six constraint bytes as two hex digits each (as GStreamer writes them),
/// dot-separated, trailing zero bytes omitted.
pub fn codec_string(prefix: &str, ptl: &ProfileTierLevel) -> String {
    use std::fmt::Write;
    let g = &ptl.general;
    let space = ["", "A", "B", "C"][usize::from(g.profile_space & 3)];
    let mut s = format!(
        "{prefix}.{space}{}.{:X}.{}{}",
        g.profile_idc,
        g.compatibility_flags.reverse_bits(),
        if g.tier { 'H' } else { 'L' },
        ptl.level_idc
    );
    let bytes = g.constraint_flags.to_be_bytes();
    let constraint = &bytes[2..];
    let used = constraint
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |p| p + 1);
    for b in &constraint[..used] {
        let _ = write!(s, ".{b:02X}");
    }
    s
}

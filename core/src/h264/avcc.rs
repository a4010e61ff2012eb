//! The AVCDecoderConfigurationRecord (`avcC` box payload, ISO/IEC 14496-15 section 5.3.3) that
//! an MP4 sample entry needs, built from an SPS and a PPS, read back from an MP4, and the
//! RFC 6381 codec string derived from it.

use super::H264Error;
use super::nal;
use super::sps::{MAX_PARAMETER_SET_LEN, Sps, check_parameter_set_header};

/// Decoder configuration for one H.264 track: one SPS, one PPS, the NAL length size, and the
/// parsed SPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcDecoderConfig {
    profile_indication: u8,
    profile_compatibility: u8,
    level_indication: u8,
    nal_length_size: u8,
    sps: Vec<u8>,
    pps: Vec<u8>,
    sps_info: Sps,
}

impl AvcDecoderConfig {
    /// Builds the configuration from one SPS and one PPS NAL unit (header byte included, no
    /// start code). The SPS is parsed; the PPS is only checked to be a PPS of acceptable size.
    /// Zero bytes after either NAL unit (Annex B `trailing_zero_8bits` left by a splitter or a
    /// camera) are dropped: a NAL unit never ends in a zero byte. NAL lengths in samples are
    /// 4 bytes.
    pub fn from_parameter_sets(sps: &[u8], pps: &[u8]) -> Result<Self, H264Error> {
        let sps = trim_trailing_zeros(sps);
        let pps = trim_trailing_zeros(pps);
        let sps_info = Sps::parse(sps)?;
        let (&pps_header, _) = pps.split_first().ok_or(H264Error::Truncated)?;
        check_parameter_set_header(pps_header, pps.len(), nal::PPS, "PPS")?;
        Ok(AvcDecoderConfig {
            profile_indication: sps_info.profile_idc,
            profile_compatibility: sps_info.constraint_flags,
            level_indication: sps_info.level_idc,
            nal_length_size: 4,
            sps: sps.to_vec(),
            pps: pps.to_vec(),
            sps_info,
        })
    }

    /// Reads an AVCDecoderConfigurationRecord (the payload of an `avcC` box, without the box
    /// header). The first SPS and the first PPS are kept, further ones are skipped; the
    /// High-profile extension is optional (many writers omit it); bytes after the record are
    /// ignored.
    pub fn parse(record: &[u8]) -> Result<Self, H264Error> {
        let mut r = Reader { data: record };
        let version = r.u8()?;
        if version != 1 {
            return Err(H264Error::Unsupported(format!(
                "avcC configurationVersion {version}"
            )));
        }
        let profile_indication = r.u8()?;
        let profile_compatibility = r.u8()?;
        let level_indication = r.u8()?;
        let length_size_minus1 = r.u8()? & 0x03;
        if length_size_minus1 == 2 {
            return Err(H264Error::InvalidAvcC("lengthSizeMinusOne is 2"));
        }
        let num_sps = r.u8()? & 0x1f;
        let mut sps = None;
        for _ in 0..num_sps {
            let unit = r.length_prefixed()?;
            sps.get_or_insert(unit);
        }
        let sps = sps.ok_or(H264Error::InvalidAvcC("no SPS"))?;
        let num_pps = r.u8()?;
        let mut pps = None;
        for _ in 0..num_pps {
            let unit = r.length_prefixed()?;
            pps.get_or_insert(unit);
        }
        let pps = pps.ok_or(H264Error::InvalidAvcC("no PPS"))?;
        // The extension (chroma format, bit depths, SPS extensions) repeats what the SPS says;
        // the parsed SPS is the source of truth, so it is not read.

        let mut cfg = Self::from_parameter_sets(sps, pps)?;
        cfg.profile_indication = profile_indication;
        cfg.profile_compatibility = profile_compatibility;
        cfg.level_indication = level_indication;
        cfg.nal_length_size = length_size_minus1 + 1;
        Ok(cfg)
    }

    /// Serializes the record: version 1, profile/compatibility/level, `lengthSizeMinusOne`, one
    /// SPS, one PPS, and for the profiles whose SPS carries chroma format and bit depth (High
    /// and above: 100, 110, 122, 144, 244, ...) the extension with `chroma_format`,
    /// `bit_depth_*_minus8` and zero SPS extensions. ffmpeg writes the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(11 + self.sps.len() + self.pps.len() + 4);
        out.push(1);
        out.push(self.profile_indication);
        out.push(self.profile_compatibility);
        out.push(self.level_indication);
        out.push(0xfc | (self.nal_length_size.saturating_sub(1) & 0x03));
        out.push(0xe0 | 1);
        push_length_prefixed(&mut out, &self.sps);
        out.push(1);
        push_length_prefixed(&mut out, &self.pps);
        if !matches!(self.profile_indication, 66 | 77 | 88) {
            let s = &self.sps_info;
            out.push(0xfc | (s.chroma_format_idc & 0x03));
            out.push(0xf8 | (s.bit_depth_luma.saturating_sub(8) & 0x07));
            out.push(0xf8 | (s.bit_depth_chroma.saturating_sub(8) & 0x07));
            out.push(0);
        }
        out
    }

    /// The SPS NAL unit as stored (header byte included, emulation prevention in place).
    pub fn sps(&self) -> &[u8] {
        &self.sps
    }

    /// The PPS NAL unit as stored.
    pub fn pps(&self) -> &[u8] {
        &self.pps
    }

    /// The parsed SPS.
    pub fn sps_info(&self) -> &Sps {
        &self.sps_info
    }

    /// Bytes of the length prefix before each NAL unit in samples (1, 2 or 4).
    pub fn nal_length_size(&self) -> u8 {
        self.nal_length_size
    }

    /// `AVCProfileIndication`.
    pub fn profile_indication(&self) -> u8 {
        self.profile_indication
    }

    /// `profile_compatibility` (the SPS constraint flags byte).
    pub fn profile_compatibility(&self) -> u8 {
        self.profile_compatibility
    }

    /// `AVCLevelIndication`.
    pub fn level_indication(&self) -> u8 {
        self.level_indication
    }

    /// RFC 6381 codec string `avc1.PPCCLL` (profile, compatibility, level; lowercase hex), as
    /// used in `codecs=` MIME parameters and HLS/DASH manifests.
    pub fn codec_string(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.profile_indication, self.profile_compatibility, self.level_indication
        )
    }
}

fn trim_trailing_zeros(mut nal: &[u8]) -> &[u8] {
    while let [rest @ .., 0] = nal {
        nal = rest;
    }
    nal
}

/// Writes a 16-bit big-endian length and the bytes. Parameter sets are at most
/// [`MAX_PARAMETER_SET_LEN`] (65535) bytes, which the constructors check.
fn push_length_prefixed(out: &mut Vec<u8>, unit: &[u8]) {
    let len = u16::try_from(unit.len().min(MAX_PARAMETER_SET_LEN)).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(unit.get(..usize::from(len)).unwrap_or(unit));
}

/// Cursor over the record bytes; every read is checked.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, H264Error> {
        let (&b, rest) = self.data.split_first().ok_or(H264Error::Truncated)?;
        self.data = rest;
        Ok(b)
    }

    fn length_prefixed(&mut self) -> Result<&'a [u8], H264Error> {
        let hi = self.u8()?;
        let lo = self.u8()?;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len == 0 {
            return Err(H264Error::InvalidAvcC("empty parameter set"));
        }
        if len > self.data.len() {
            return Err(H264Error::Truncated);
        }
        let (unit, rest) = self.data.split_at(len);
        self.data = rest;
        Ok(unit)
    }
}

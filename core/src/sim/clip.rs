//! The committed clips the simulated camera serves (H.264, and H.265 for
//! [`SimOptions::video_codec`](super::SimOptions::video_codec)), split once into access units.
//!
//! The clips are embedded with `include_bytes!` so the sim works from any working directory
//! (tests, the demo, the C and Python bindings). Both have the same shape, so the recording's
//! rule (frame `floor(t / 40 ms) mod 250`, keyframes every 50) holds for either:
//!
//! - `core/testdata/sim_clip.h264`: Annex B, 10 s of ffmpeg `testsrc2` at 640x360 25 fps,
//!   libx264 main profile without B-frames, GOP 50, ~300 kbit/s. The first NALs are SPS, PPS,
//!   SEI, then an IDR; every access unit ends at its one slice NAL (type 1 or 5), and each later
//!   IDR is preceded by its own SPS and PPS.
//! - `core/testdata/sim_clip.h265`: Annex B, the same picture as H.265 Main, made once with
//!   ffmpeg 5.1.9 / libx265 3.5 (single-threaded, so the bytes do not depend on thread timing):
//!
//!   ```text
//!   ffmpeg -f lavfi -i testsrc2=size=640x360:rate=25 -frames:v 250 -c:v libx265 \
//!     -preset medium -b:v 300k -x265-params keyint=50:min-keyint=50:open-gop=0:bframes=0:\
//!     scenecut=0:repeat-headers=1:info=0:pools=1:frame-threads=1:log-level=error \
//!     -pix_fmt yuv420p -f hevc sim_clip.h265
//!   ```
//!
//!   250 access units of one slice each; every 50th is VPS, SPS, PPS and an IDR (type 20,
//!   `IDR_N_LP`); no SEI (`info=0`), no B-frames, so decoding order is display order.
//!
//! Splitting "everything up to and including the next slice" is therefore exact for both clips,
//! and tests elsewhere use the same split to compare received frames with the source.

use std::ops::Range;
use std::sync::OnceLock;

use base64::Engine as _;

use crate::fmp4::VideoCodec;
use crate::h264::annexb::nal_ranges;

/// The raw Annex B bytes of the H.264 clip.
static CLIP: &[u8] = include_bytes!("../../testdata/sim_clip.h264");
/// The raw Annex B bytes of the H.265 clip.
static CLIP_H265: &[u8] = include_bytes!("../../testdata/sim_clip.h265");

/// Frame rate of the clip, in frames per second.
pub const FPS: u32 = 25;
/// RTP clock rate for H.264 video (RFC 6184).
pub const CLOCK_RATE: u32 = 90_000;
/// RTP timestamp increment per frame: 90 kHz / 25 fps.
pub const TICKS_PER_FRAME: u32 = CLOCK_RATE / FPS;

/// A clip, split and with the facts the SDP needs.
pub(crate) struct Clip {
    /// H.264 or H.265.
    pub(crate) codec: VideoCodec,
    /// The Annex B bytes.
    data: &'static [u8],
    /// NAL ranges (into `data`) per access unit, in decoding order.
    pub(crate) access_units: Vec<Vec<Range<usize>>>,
    /// The first VPS NAL (H.265 only; header included).
    vps: Range<usize>,
    /// The first SPS NAL (header included).
    pub(crate) sps: Range<usize>,
    /// The first PPS NAL (header included).
    pub(crate) pps: Range<usize>,
}

/// The embedded H.264 clip (Annex B, 640x360, 25 fps, 250 frames, GOP 50, main profile).
pub fn clip() -> &'static [u8] {
    CLIP
}

/// NAL unit byte ranges (start codes excluded) into [`clip`], grouped per access unit.
///
/// Access unit `i` is what the sim sends with RTP timestamp `base + i * 3600` (modulo the clip
/// length when looping), so a receiver can compare frame `i` with this list.
pub fn clip_access_units() -> Vec<Vec<Range<usize>>> {
    parsed().access_units.clone()
}

/// The embedded clip of `codec` (Annex B, 640x360, 25 fps, 250 frames, IDR every 50):
/// [`clip`] for H.264, `core/testdata/sim_clip.h265` for H.265 (how it was made: the
/// `clip` module docs, repeated in [`SimOptions::video_codec`](super::SimOptions::video_codec)).
pub fn clip_of(codec: VideoCodec) -> &'static [u8] {
    parsed_of(codec).data
}

/// [`clip_access_units`] for the clip of `codec` ([`clip_of`]).
pub fn clip_access_units_of(codec: VideoCodec) -> Vec<Vec<Range<usize>>> {
    parsed_of(codec).access_units.clone()
}

/// The H.264 NAL unit type (low five bits of the header byte).
pub(crate) fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// The H.265 NAL unit type (bits 1..=6 of the first header byte).
pub(crate) fn h265_nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| (b >> 1) & 0x3f)
}

/// The H.264 clip split once per process; the split is pure, so sharing it is safe.
pub(crate) fn parsed() -> &'static Clip {
    parsed_of(VideoCodec::H264)
}

/// The clip of `codec`, split once per process.
pub(crate) fn parsed_of(codec: VideoCodec) -> &'static Clip {
    static H264: OnceLock<Clip> = OnceLock::new();
    static H265: OnceLock<Clip> = OnceLock::new();
    match codec {
        VideoCodec::H264 => H264.get_or_init(|| split(CLIP, VideoCodec::H264)),
        VideoCodec::H265 => H265.get_or_init(|| split(CLIP_H265, VideoCodec::H265)),
    }
}

/// Splits an Annex B stream into access units ending at each slice NAL (H.264 types 1..=5,
/// H.265 VCL types 0..=31). Trailing non-slice NALs (none in the committed clips) form a
/// last access unit.
fn split(data: &'static [u8], codec: VideoCodec) -> Clip {
    let mut access_units = Vec::new();
    let mut current = Vec::new();
    let (mut vps, mut sps, mut pps) = (None, None, None);
    for r in nal_ranges(data) {
        let nal = &data[r.clone()];
        // (parameter set kind: 0 VPS, 1 SPS, 2 PPS; is a slice)
        let (param, slice) = match codec {
            VideoCodec::H264 => {
                let t = nal_type(nal);
                let param = match t {
                    7 => Some(1),
                    8 => Some(2),
                    _ => None,
                };
                (param, (1..=5).contains(&t))
            }
            VideoCodec::H265 => {
                let t = h265_nal_type(nal);
                let param = match t {
                    32 => Some(0),
                    33 => Some(1),
                    34 => Some(2),
                    _ => None,
                };
                (param, t < 32)
            }
        };
        match param {
            Some(0) if vps.is_none() => vps = Some(r.clone()),
            Some(1) if sps.is_none() => sps = Some(r.clone()),
            Some(2) if pps.is_none() => pps = Some(r.clone()),
            _ => {}
        }
        current.push(r);
        if slice {
            access_units.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        access_units.push(current);
    }
    Clip {
        codec,
        data,
        access_units,
        vps: vps.unwrap_or(0..0),
        sps: sps.unwrap_or(0..0),
        pps: pps.unwrap_or(0..0),
    }
}

impl Clip {
    /// The SDP `a=rtpmap` encoding and `a=fmtp` parameters of this clip: RFC 6184 section 8.1
    /// for H.264, RFC 7798 section 7.1 for H.265 (`sprop-vps/sps/pps`, so a receiver can set
    /// up its decoder before the first keyframe's in-band parameter sets).
    pub(crate) fn sdp_format(&self) -> (&'static str, String) {
        match self.codec {
            VideoCodec::H264 => (
                "H264/90000",
                format!(
                    "packetization-mode=1;profile-level-id={};sprop-parameter-sets={}",
                    self.profile_level_id(),
                    self.sprop_parameter_sets()
                ),
            ),
            VideoCodec::H265 => {
                let b64 = base64::engine::general_purpose::STANDARD;
                let enc = |r: &Range<usize>| b64.encode(&self.data[r.clone()]);
                (
                    "H265/90000",
                    format!(
                        "sprop-vps={};sprop-sps={};sprop-pps={}",
                        enc(&self.vps),
                        enc(&self.sps),
                        enc(&self.pps)
                    ),
                )
            }
        }
    }

    /// `profile-level-id` for the SDP: profile_idc, constraint flags and level_idc in hex
    /// (the three bytes after the SPS NAL header).
    pub(crate) fn profile_level_id(&self) -> String {
        let sps = &self.data[self.sps.clone()];
        match sps.get(1..4) {
            Some(b) => format!("{:02x}{:02x}{:02x}", b[0], b[1], b[2]),
            // Main profile, level 3.0: what the committed clip is, should its SPS go missing.
            None => "4d401e".to_owned(),
        }
    }

    /// `sprop-parameter-sets`: base64 SPS and PPS, comma-separated (RFC 6184 section 8.1).
    pub(crate) fn sprop_parameter_sets(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        format!(
            "{},{}",
            b64.encode(&self.data[self.sps.clone()]),
            b64.encode(&self.data[self.pps.clone()])
        )
    }

    /// The NALs of access unit `i` as slices of the clip.
    pub(crate) fn nals(&self, i: usize) -> impl Iterator<Item = &'static [u8]> + '_ {
        self.access_units
            .get(i)
            .into_iter()
            .flatten()
            .map(|r| &self.data[r.clone()])
    }

    pub(crate) fn len(&self) -> usize {
        self.access_units.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_has_250_access_units_each_ending_in_one_slice() {
        let c = parsed();
        assert_eq!(c.len(), 250);
        for (i, au) in c.access_units.iter().enumerate() {
            let types: Vec<u8> = au.iter().map(|r| nal_type(&CLIP[r.clone()])).collect();
            let slices = types.iter().filter(|t| (1..=5).contains(*t)).count();
            assert_eq!(slices, 1, "access unit {i}: {types:?}");
            assert!(matches!(types.last(), Some(1 | 5)));
            if i % 50 == 0 {
                assert_eq!(types.last(), Some(&5), "IDR every 50 frames");
                assert_eq!(&types[..2], &[7, 8], "SPS and PPS before every IDR");
            }
        }
        assert_eq!(nal_type(&CLIP[c.sps.clone()]), 7);
        assert_eq!(nal_type(&CLIP[c.pps.clone()]), 8);
    }

    #[test]
    fn h265_clip_has_the_same_shape() {
        let c = parsed_of(VideoCodec::H265);
        assert_eq!(c.len(), 250);
        for (i, au) in c.access_units.iter().enumerate() {
            let types: Vec<u8> = au
                .iter()
                .map(|r| h265_nal_type(&CLIP_H265[r.clone()]))
                .collect();
            assert_eq!(
                types.iter().filter(|t| **t < 32).count(),
                1,
                "{i}: {types:?}"
            );
            if i % 50 == 0 {
                assert_eq!(types, [32, 33, 34, 20], "VPS, SPS, PPS, IDR at {i}");
            } else {
                assert_eq!(types, [1], "one TRAIL_R slice at {i}");
            }
        }
        let (name, fmtp) = c.sdp_format();
        assert_eq!(name, "H265/90000");
        // Base64 of the NAL headers 0x40 0x01, 0x42 0x01, 0x44 0x01.
        assert!(fmtp.starts_with("sprop-vps=QAE"), "{fmtp}");
        assert!(fmtp.contains(";sprop-sps=QgE"), "{fmtp}");
        assert!(fmtp.contains(";sprop-pps=RAH"), "{fmtp}");
    }

    #[test]
    fn sdp_parameters_come_from_the_sps() {
        let c = parsed();
        assert_eq!(&c.profile_level_id()[..2], "4d", "main profile");
        assert!(c.sprop_parameter_sets().starts_with("Z"), "base64 of 0x67");
    }
}

//! The committed H.264 clip the simulated camera serves, split once into access units.
//!
//! The clip is embedded with `include_bytes!` so the sim works from any working directory
//! (tests, the demo, the C and Python bindings). It is Annex B with this shape: the first NALs
//! are SPS, PPS, SEI, then an IDR; every access unit ends at its one slice NAL (type 1 or 5), and
//! each later IDR is preceded by its own SPS and PPS. Splitting "everything up to and including
//! the next slice" is therefore exact for this clip, and tests elsewhere use the same split to
//! compare received frames with the source.

use std::ops::Range;
use std::sync::OnceLock;

use base64::Engine as _;

use crate::h264::annexb::nal_ranges;

/// The raw Annex B bytes of the clip.
static CLIP: &[u8] = include_bytes!("../../testdata/sim_clip.h264");

/// Frame rate of the clip, in frames per second.
pub const FPS: u32 = 25;
/// RTP clock rate for H.264 video (RFC 6184).
pub const CLOCK_RATE: u32 = 90_000;
/// RTP timestamp increment per frame: 90 kHz / 25 fps.
pub const TICKS_PER_FRAME: u32 = CLOCK_RATE / FPS;

/// The clip, split and with the facts the SDP needs.
pub(crate) struct Clip {
    /// NAL ranges (into [`clip`]) per access unit, in decoding order.
    pub(crate) access_units: Vec<Vec<Range<usize>>>,
    /// The first SPS NAL (header byte included).
    pub(crate) sps: Range<usize>,
    /// The first PPS NAL (header byte included).
    pub(crate) pps: Range<usize>,
}

/// The embedded clip (Annex B, 640x360, 25 fps, 250 frames, GOP 50, main profile).
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

/// The NAL unit type (low five bits of the header byte).
pub(crate) fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// The clip split once per process; the split is pure, so sharing it is safe.
pub(crate) fn parsed() -> &'static Clip {
    static PARSED: OnceLock<Clip> = OnceLock::new();
    PARSED.get_or_init(|| split(CLIP))
}

/// Splits an Annex B stream into access units ending at each slice NAL (types 1..=5).
/// Trailing non-slice NALs (none in the committed clip) form a last access unit.
fn split(data: &[u8]) -> Clip {
    let mut access_units = Vec::new();
    let mut current = Vec::new();
    let mut sps = None;
    let mut pps = None;
    for r in nal_ranges(data) {
        let t = nal_type(&data[r.clone()]);
        match t {
            7 if sps.is_none() => sps = Some(r.clone()),
            8 if pps.is_none() => pps = Some(r.clone()),
            _ => {}
        }
        current.push(r);
        if (1..=5).contains(&t) {
            access_units.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        access_units.push(current);
    }
    Clip {
        access_units,
        sps: sps.unwrap_or(0..0),
        pps: pps.unwrap_or(0..0),
    }
}

impl Clip {
    /// `profile-level-id` for the SDP: profile_idc, constraint flags and level_idc in hex
    /// (the three bytes after the SPS NAL header).
    pub(crate) fn profile_level_id(&self) -> String {
        let sps = &CLIP[self.sps.clone()];
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
            b64.encode(&CLIP[self.sps.clone()]),
            b64.encode(&CLIP[self.pps.clone()])
        )
    }

    /// The NALs of access unit `i` as slices of the clip.
    pub(crate) fn nals(&self, i: usize) -> impl Iterator<Item = &'static [u8]> + '_ {
        self.access_units
            .get(i)
            .into_iter()
            .flatten()
            .map(|r| &CLIP[r.clone()])
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
    fn sdp_parameters_come_from_the_sps() {
        let c = parsed();
        assert_eq!(&c.profile_level_id()[..2], "4d", "main profile");
        assert!(c.sprop_parameter_sets().starts_with("Z"), "base64 of 0x67");
    }
}

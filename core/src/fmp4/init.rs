//! The init segment: `ftyp` + `moov` describing one video track (H.264 `avc1`/`avcC` or H.265
//! `hvc1`/`hvcC`) with no samples of its own (they all live in fragments, announced by `mvex`).
//!
//! Every field that a fragmented recording cannot know up front (durations, creation times) is
//! zero; players take the duration from the fragments.

use super::boxes::{self, begin, begin_full, end, put_u32};

/// The one track ID camwire writes; fragments refer to it in `tfhd` and `prft`.
pub const TRACK_ID: u32 = 1;

/// The video codecs camwire records; bytes are stored as the camera sent them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264/AVC: `avc1` sample entry with `avcC`.
    #[default]
    H264,
    /// H.265/HEVC: `hvc1` sample entry with `hvcC` (VPS, SPS, PPS arrays, completeness 1;
    /// the parameter sets are also repeated in band, as the camera sent them).
    H265,
}

impl VideoCodec {
    /// The sample entry fourcc written (`avc1` or `hvc1`).
    pub fn sample_entry(self) -> &'static [u8; 4] {
        match self {
            VideoCodec::H264 => b"avc1",
            VideoCodec::H265 => b"hvc1",
        }
    }

    /// The decoder configuration box fourcc (`avcC` or `hvcC`).
    pub fn config_box(self) -> &'static [u8; 4] {
        match self {
            VideoCodec::H264 => b"avcC",
            VideoCodec::H265 => b"hvcC",
        }
    }

    /// `H.264` or `H.265`.
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "H.264",
            VideoCodec::H265 => "H.265",
        }
    }
}

impl std::fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the init segment says about the video track, for any codec: what the writers take and
/// the readers ([`super::read_init`], [`super::scan_fragments`]) return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoConfig {
    /// The codec (decides the sample entry).
    pub codec: VideoCodec,
    /// Display width in pixels (cropping applied).
    pub width: u32,
    /// Display height in pixels (cropping applied).
    pub height: u32,
    /// Media timescale in ticks per second: the RTP clock rate (90000 for video).
    pub timescale: u32,
    /// The decoder configuration record, the body of `avcC` (H.264) or `hvcC` (H.265), with
    /// the parameter sets.
    pub config: Vec<u8>,
}

impl VideoConfig {
    /// The RFC 6381 codec string (`avc1.4d401e`, `hvc1.1.6.L93.B0`), read from the record;
    /// `None` when the record is too short or malformed.
    pub fn codec_string(&self) -> Option<String> {
        match self.codec {
            VideoCodec::H264 => {
                let c = self.config.get(1..4)?;
                Some(format!("avc1.{:02x}{:02x}{:02x}", c[0], c[1], c[2]))
            }
            VideoCodec::H265 => {
                let c = self.config.get(..13)?;
                let g = crate::h265::Profile {
                    profile_space: c[1] >> 6,
                    tier: c[1] & 0x20 != 0,
                    profile_idc: c[1] & 0x1f,
                    compatibility_flags: u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                    constraint_flags: c[6..12].iter().fold(0u64, |a, &b| a << 8 | u64::from(b)),
                };
                let ptl = crate::h265::ProfileTierLevel {
                    general: g,
                    level_idc: c[12],
                    sub_layers: Vec::new(),
                };
                Some(crate::h265::codec_string("hvc1", &ptl))
            }
        }
    }
}

/// The audio codecs camwire records; frames are stored exactly as the camera sent them (no
/// transcoding: evidence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// AAC (RFC 3640 `mpeg4-generic`): `mp4a` sample entry with `esds` holding the
    /// AudioSpecificConfig; one sample per access unit.
    Aac,
    /// G.711 µ-law: `ulaw` sample entry; one sample per RTP packet's payload.
    Pcmu,
    /// G.711 A-law: `alaw` sample entry; one sample per RTP packet's payload.
    Pcma,
}

impl AudioCodec {
    /// The sample entry fourcc written (`mp4a`, `ulaw`, `alaw`).
    pub fn sample_entry(self) -> &'static [u8; 4] {
        match self {
            AudioCodec::Aac => b"mp4a",
            AudioCodec::Pcmu => b"ulaw",
            AudioCodec::Pcma => b"alaw",
        }
    }

    /// `AAC`, `PCMU` or `PCMA`.
    pub fn name(self) -> &'static str {
        match self {
            AudioCodec::Aac => "AAC",
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }
}

impl std::fmt::Display for AudioCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the init segment says about one audio track: what the writers take and the readers
/// return. Audio tracks follow the video track, with track IDs 2, 3, ... in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioConfig {
    /// The codec (decides the sample entry).
    pub codec: AudioCodec,
    /// Media timescale in ticks per second: the RTP clock rate (the sample rate; 8000 for
    /// G.711, the AudioSpecificConfig's rate for AAC).
    pub timescale: u32,
    /// Sample rate written in the sample entry.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// AAC: the AudioSpecificConfig as the SDP `config` gave it (the DecoderSpecificInfo of
    /// `esds`). Empty for G.711.
    pub config: Vec<u8>,
}

impl AudioConfig {
    /// The RFC 6381 codec string (`mp4a.40.2`, `ulaw`, `alaw`).
    pub fn codec_string(&self) -> String {
        match self.codec {
            AudioCodec::Aac => {
                // audioObjectType: 5 bits, 31 escapes to 32 + 6 more bits.
                let aot = match self.config.first() {
                    Some(&b) if b >> 3 == 31 => {
                        32 + (((b & 7) << 3) | self.config.get(1).map_or(0, |n| n >> 5))
                    }
                    Some(&b) => b >> 3,
                    None => 2,
                };
                format!("mp4a.40.{aot}")
            }
            AudioCodec::Pcmu => "ulaw".into(),
            AudioCodec::Pcma => "alaw".into(),
        }
    }
}

impl From<VideoTrack> for VideoConfig {
    fn from(t: VideoTrack) -> Self {
        VideoConfig {
            codec: VideoCodec::H264,
            width: t.width,
            height: t.height,
            timescale: t.timescale,
            config: t.avcc,
        }
    }
}

impl From<&VideoTrack> for VideoConfig {
    fn from(t: &VideoTrack) -> Self {
        t.clone().into()
    }
}

/// An H.264 video track (the original, H.264-only description; [`VideoConfig`] is the
/// general one and what the readers return). Kept for the callers that build H.264 tracks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoTrack {
    /// Display width in pixels (cropping applied).
    pub width: u32,
    /// Display height in pixels (cropping applied).
    pub height: u32,
    /// Media timescale in ticks per second: the RTP clock rate (90000 for H.264).
    pub timescale: u32,
    /// The AVCDecoderConfigurationRecord (the body of `avcC`), SPS and PPS included.
    pub avcc: Vec<u8>,
}

/// Brands: `iso6` as major (it covers `tfdt` v1, signed composition offsets in `trun` v1 and
/// `prft`), with `iso5` (fragmented, default-base-is-moof), `isom`, `avc1` and `mp41` so that
/// older readers also accept the file.
const MAJOR_BRAND: &[u8; 4] = b"iso6";
const COMPATIBLE_BRANDS: [&[u8; 4]; 5] = [b"iso6", b"iso5", b"isom", b"avc1", b"mp41"];

/// Appends the init segment (`ftyp` + `moov`) for an H.264 `track` to `out`.
pub fn write_init_segment(track: &VideoTrack, out: &mut Vec<u8>) {
    write_video_init(&track.into(), out)
}

/// Appends the init segment (`ftyp` + `moov`) for `track` (any codec) to `out`: a
/// video-only file, the same bytes as [`write_av_init`] with no audio.
pub fn write_video_init(track: &VideoConfig, out: &mut Vec<u8>) {
    write_av_init(track, &[], out)
}

/// The track ID of audio lane `lane` (0-based, in the order given to [`write_av_init`]):
/// `2 + lane`, after the video track ([`TRACK_ID`]). Fragments use it in their audio `traf`s.
/// Lanes past `u32::MAX - 2` (never used) saturate.
pub fn audio_track_id(lane: usize) -> u32 {
    u32::try_from(lane)
        .ok()
        .and_then(|l| l.checked_add(TRACK_ID + 1))
        .unwrap_or(u32::MAX)
}

/// Appends the init segment (`ftyp` + `moov`) for one video track (ID [`TRACK_ID`]) and one
/// audio track per entry of `audio` (IDs [`audio_track_id`]`(i)`) to `out`.
///
/// The video `trak` is written first and is byte for byte the one of a video-only file, so
/// readers that look for "the first track" keep finding the video. Each audio `trak` is
/// `tkhd` (volume 1.0) + `mdia { mdhd (timescale = the config's), hdlr soun, minf { smhd,
/// dinf, stbl { stsd, empty tables } } }`; `mvex` has one `trex` per track (all defaults 0:
/// every `traf` carries what it needs).
pub fn write_av_init(track: &VideoConfig, audio: &[AudioConfig], out: &mut Vec<u8>) {
    let ftyp = begin(out, b"ftyp");
    out.extend_from_slice(MAJOR_BRAND);
    put_u32(out, 0); // minor_version
    for brand in COMPATIBLE_BRANDS {
        out.extend_from_slice(brand);
    }
    end(out, ftyp);

    let moov = begin(out, b"moov");
    let next_track_id = audio_track_id(audio.len());
    boxes::mvhd(out, track.timescale, 0, next_track_id);
    write_trak(track, out);
    for (lane, a) in audio.iter().enumerate() {
        write_audio_trak(a, audio_track_id(lane), out);
    }
    let mvex = begin(out, b"mvex");
    write_trex(out, TRACK_ID);
    for lane in 0..audio.len() {
        write_trex(out, audio_track_id(lane));
    }
    end(out, mvex);
    end(out, moov);
}

fn write_trex(out: &mut Vec<u8>, track_id: u32) {
    let trex = begin_full(out, b"trex", 0, 0);
    put_u32(out, track_id);
    put_u32(out, 1); // default_sample_description_index
    put_u32(out, 0); // default_sample_duration (every trun carries its own)
    put_u32(out, 0); // default_sample_size
    put_u32(out, 0); // default_sample_flags
    end(out, trex);
}

fn write_audio_trak(track: &AudioConfig, track_id: u32, out: &mut Vec<u8>) {
    let trak = begin(out, b"trak");
    boxes::tkhd_audio(out, track_id, 0);
    let mdia = begin(out, b"mdia");
    boxes::mdhd(out, track.timescale, 0);
    boxes::hdlr(out, b"soun", b"camwire audio\0");
    let minf = begin(out, b"minf");
    boxes::smhd_dinf(out);
    let stbl = begin(out, b"stbl");
    boxes::stsd_audio(out, track, track_id);
    boxes::empty_sample_tables(out);
    end(out, stbl);
    end(out, minf);
    end(out, mdia);
    end(out, trak);
}

fn write_trak(track: &VideoConfig, out: &mut Vec<u8>) {
    let trak = begin(out, b"trak");
    // Durations are zero: unknown up front, the fragments carry them.
    boxes::tkhd(out, TRACK_ID, 0, track.width, track.height);
    let mdia = begin(out, b"mdia");
    boxes::mdhd(out, track.timescale, 0);
    boxes::hdlr_vide(out, b"camwire video\0");
    let minf = begin(out, b"minf");
    boxes::vmhd_dinf(out);
    let stbl = begin(out, b"stbl");
    boxes::stsd_video(out, track);
    boxes::empty_sample_tables(out);
    end(out, stbl);
    end(out, minf);
    end(out, mdia);
    end(out, trak);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmp4::reader::{BoxIter, find_path};

    fn track() -> VideoTrack {
        VideoTrack {
            width: 640,
            height: 360,
            timescale: 90_000,
            avcc: vec![
                1, 0x4d, 0, 0x1e, 0xff, 0xe1, 0, 2, 0x67, 0x4d, 1, 0, 1, 0x68,
            ],
        }
    }

    #[test]
    fn layout_and_sizes() {
        let mut out = Vec::new();
        write_init_segment(&track(), &mut out);
        let top: Vec<_> = BoxIter::new(&out, 0)
            .collect::<Result<_, _>>()
            .expect("walk");
        assert_eq!(top.len(), 2);
        assert_eq!(&top[0].fourcc, b"ftyp");
        assert_eq!(&top[1].fourcc, b"moov");
        assert_eq!(top[0].size + top[1].size, out.len() as u64);
        assert_eq!(&top[0].body[..4], b"iso6");

        let moov = top[1].body;
        let tkhd = find_path(moov, &[b"trak", b"tkhd"]).expect("tkhd");
        assert_eq!(&tkhd[0..4], &[0, 0, 0, 3], "enabled and in movie");
        assert_eq!(&tkhd[76..80], &(640u32 << 16).to_be_bytes());
        assert_eq!(&tkhd[80..84], &(360u32 << 16).to_be_bytes());
        let mdhd = find_path(moov, &[b"trak", b"mdia", b"mdhd"]).expect("mdhd");
        assert_eq!(&mdhd[12..16], &90_000u32.to_be_bytes());
        let hdlr = find_path(moov, &[b"trak", b"mdia", b"hdlr"]).expect("hdlr");
        assert_eq!(&hdlr[8..12], b"vide");
        let stbl = find_path(moov, &[b"trak", b"mdia", b"minf", b"stbl"]).expect("stbl");
        let names: Vec<[u8; 4]> = BoxIter::new(stbl, 0)
            .map(|b| b.expect("box").fourcc)
            .collect();
        assert_eq!(names, [*b"stsd", *b"stts", *b"stsc", *b"stsz", *b"stco"]);
        let stsd = find_path(stbl, &[b"stsd"]).expect("stsd");
        // stsd: version/flags, entry_count, then the avc1 sample entry (78-byte body before avcC).
        let avc1 = BoxIter::new(&stsd[8..], 0)
            .next()
            .expect("entry")
            .expect("avc1");
        assert_eq!(&avc1.fourcc, b"avc1");
        assert_eq!(&avc1.body[24..28], &[2, 128, 1, 104]); // 640, 360
        let avcc = BoxIter::new(&avc1.body[78..], 0)
            .next()
            .expect("avcC")
            .expect("avcC");
        assert_eq!(&avcc.fourcc, b"avcC");
        assert_eq!(avcc.body, &track().avcc[..]);
        let trex = find_path(moov, &[b"mvex", b"trex"]).expect("trex");
        assert_eq!(&trex[4..8], &TRACK_ID.to_be_bytes());
    }
}

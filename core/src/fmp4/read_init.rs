//! Reading the init segment back: the video track, the audio tracks and the `trex` sample
//! defaults.
//!
//! Used by crash recovery (to check a file before appending to or exporting it) and by the
//! exporter (to copy the avcC or hvcC, and the audio sample entries, into the clip it writes).
//! The video readers ([`read_init`], [`parse_moov`]) look only at the video `trak` and skip
//! every other one, so a file with audio reads exactly as a video-only file did;
//! [`parse_moov_audio`] reads the audio `trak`s.

use std::io::{Read, Seek};

use super::error::Fmp4Error;
use super::init::{AudioCodec, AudioConfig, VideoCodec, VideoConfig};
use super::reader::{BoxIter, Fields, FileBoxIter, find_child, find_path, read_body};

/// The largest `moov` the reader loads (a one-track init segment is under a kilobyte).
pub const MAX_MOOV_BYTES: u64 = 16 << 20;
/// The most audio tracks [`parse_moov_audio`] accepts: cameras send one or two; the bound
/// keeps a hostile `moov` from making the reader (and every fragment scan after it) track
/// thousands.
pub const MAX_AUDIO_TRACKS: usize = 16;

/// One audio track of the init segment: what [`parse_moov_audio`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioTrackInfo {
    /// Its track ID (what its fragments' `tfhd` names; camwire writes 2, 3, ...).
    pub track_id: u32,
    /// The sample entry, as [`super::write_av_init`] takes it.
    pub config: AudioConfig,
    /// Its `trex` defaults.
    pub defaults: TrackDefaults,
}

/// Per-sample defaults from `trex`, used when neither `tfhd` nor `trun` gives a value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackDefaults {
    /// The track these defaults belong to.
    pub track_id: u32,
    /// default_sample_duration.
    pub sample_duration: u32,
    /// default_sample_size.
    pub sample_size: u32,
    /// default_sample_flags.
    pub sample_flags: u32,
}

/// Reads the video track of the init segment at the start of `r`. Walks top-level box headers
/// up to `moov` and loads only that box.
pub fn read_init<R: Read + Seek + ?Sized>(r: &mut R) -> Result<VideoConfig, Fmp4Error> {
    Ok(read_init_with_defaults(r)?.0)
}

/// [`read_init`], also returning the `trex` defaults the fragments rely on.
pub fn read_init_with_defaults<R: Read + Seek + ?Sized>(
    r: &mut R,
) -> Result<(VideoConfig, TrackDefaults), Fmp4Error> {
    let mut it = FileBoxIter::new(r)?;
    while let Some(h) = it.next() {
        let h = h?;
        match &h.fourcc {
            b"moov" => {
                let mut body = Vec::new();
                read_body(it.source(), &h, MAX_MOOV_BYTES, &mut body)?;
                return parse_moov(&body, h.body_offset());
            }
            b"moof" | b"mdat" => break,
            _ => {}
        }
    }
    Err(Fmp4Error::Missing("moov"))
}

/// Parses a `moov` body (at file offset `base`): the first video track and its defaults.
pub fn parse_moov(moov: &[u8], base: u64) -> Result<(VideoConfig, TrackDefaults), Fmp4Error> {
    let mut found = None;
    for b in BoxIter::new(moov, base) {
        let b = b?;
        if &b.fourcc == b"trak"
            && find_path(b.body, &[b"mdia", b"hdlr"]).and_then(|h| h.get(8..12))
                == Some(&b"vide"[..])
        {
            found = Some(b);
            break;
        }
    }
    let trak = found.ok_or(Fmp4Error::Missing("video trak"))?;
    let trak_base = trak.offset + 8;

    let tkhd = find_child(trak.body, b"tkhd").ok_or(Fmp4Error::Missing("tkhd"))?;
    let mut f = Fields::new(tkhd, trak_base);
    let (version, _) = f.full_box()?;
    f.skip(if version == 1 { 16 } else { 8 })?; // creation and modification times
    let track_id = f.u32()?;
    f.skip(4)?; // reserved
    f.skip(if version == 1 { 8 } else { 4 })?; // duration
    f.skip(8 + 2 + 2 + 2 + 2 + 36)?; // reserved, layer, group, volume, reserved, matrix
    let mut width = f.u32()? >> 16;
    let mut height = f.u32()? >> 16;

    let mdhd = find_path(trak.body, &[b"mdia", b"mdhd"]).ok_or(Fmp4Error::Missing("mdhd"))?;
    let mut f = Fields::new(mdhd, trak_base);
    let (version, _) = f.full_box()?;
    f.skip(if version == 1 { 16 } else { 8 })?;
    let timescale = f.u32()?;
    if timescale == 0 {
        return Err(Fmp4Error::Invalid {
            offset: trak.offset,
            reason: "mdhd timescale is 0",
        });
    }

    let stsd = find_path(trak.body, &[b"mdia", b"minf", b"stbl", b"stsd"])
        .ok_or(Fmp4Error::Missing("stsd"))?;
    let entries = stsd.get(8..).ok_or(Fmp4Error::Missing("sample entry"))?;
    let entry = BoxIter::new(entries, trak_base)
        .next()
        .ok_or(Fmp4Error::Missing("sample entry"))??;
    let codec = match &entry.fourcc {
        b"avc1" | b"avc3" => VideoCodec::H264,
        b"hvc1" | b"hev1" => VideoCodec::H265,
        _ => {
            return Err(Fmp4Error::Unsupported(
                "video sample entry is neither H.264 nor H.265",
            ));
        }
    };
    // VisualSampleEntry: 78 bytes of fixed fields, then child boxes (avcC, pasp, ...).
    let mut f = Fields::new(entry.body, entry.offset + 8);
    f.skip(24)?;
    let entry_width = u32::from(f.u16()?);
    let entry_height = u32::from(f.u16()?);
    let children = entry.body.get(78..).ok_or(Fmp4Error::Invalid {
        offset: entry.offset,
        reason: "visual sample entry too short",
    })?;
    let config = match codec {
        VideoCodec::H264 => find_child(children, b"avcC").ok_or(Fmp4Error::Missing("avcC"))?,
        VideoCodec::H265 => find_child(children, b"hvcC").ok_or(Fmp4Error::Missing("hvcC"))?,
    };
    if width == 0 || height == 0 {
        (width, height) = (entry_width, entry_height);
    }

    let defaults = trex_defaults(moov, base, track_id)?;

    Ok((
        VideoConfig {
            codec,
            width,
            height,
            timescale,
            config: config.to_vec(),
        },
        defaults,
    ))
}

/// The `trex` defaults of `track_id` (all zero when `mvex` has none for it).
fn trex_defaults(moov: &[u8], base: u64, track_id: u32) -> Result<TrackDefaults, Fmp4Error> {
    let mut defaults = TrackDefaults {
        track_id,
        ..TrackDefaults::default()
    };
    if let Some(mvex) = find_child(moov, b"mvex") {
        for b in BoxIter::new(mvex, base).map_while(Result::ok) {
            if &b.fourcc != b"trex" {
                continue;
            }
            let mut f = Fields::new(b.body, b.offset + 8);
            f.full_box()?;
            if f.u32()? != track_id {
                continue;
            }
            f.skip(4)?; // default_sample_description_index
            defaults.sample_duration = f.u32()?;
            defaults.sample_size = f.u32()?;
            defaults.sample_flags = f.u32()?;
            break;
        }
    }
    Ok(defaults)
}

/// Parses the audio tracks (`trak`s whose handler is `soun`) of a `moov` body at file offset
/// `base`, in file order. Reads what [`super::write_av_init`] writes: `mp4a` with `esds`
/// (AAC; the AudioSpecificConfig comes back byte for byte), `ulaw` and `alaw`; the
/// QuickTime version 1 and 2 sound descriptions other writers use are understood too.
///
/// A file without audio gives an empty list. Any audio `trak` that cannot be read (a field
/// cut short, timescale 0, an `esds` whose descriptors overrun it, another codec, more than
/// [`MAX_AUDIO_TRACKS`]) is an error: the caller decides whether the video alone is worth
/// keeping ([`super::scan_fragments`] does, and logs it).
pub fn parse_moov_audio(moov: &[u8], base: u64) -> Result<Vec<AudioTrackInfo>, Fmp4Error> {
    let mut out = Vec::new();
    for b in BoxIter::new(moov, base) {
        let b = b?;
        if &b.fourcc != b"trak"
            || find_path(b.body, &[b"mdia", b"hdlr"]).and_then(|h| h.get(8..12))
                != Some(&b"soun"[..])
        {
            continue;
        }
        if out.len() == MAX_AUDIO_TRACKS {
            return Err(Fmp4Error::Unsupported("too many audio tracks"));
        }
        let (track_id, config) = parse_audio_trak(b.body, b.offset + 8, b.offset)?;
        out.push(AudioTrackInfo {
            track_id,
            config,
            defaults: trex_defaults(moov, base, track_id)?,
        });
    }
    Ok(out)
}

/// One audio `trak` body (at file offset `trak_base`; `trak_offset` is its header's).
fn parse_audio_trak(
    trak: &[u8],
    trak_base: u64,
    trak_offset: u64,
) -> Result<(u32, AudioConfig), Fmp4Error> {
    let invalid = |reason| Fmp4Error::Invalid {
        offset: trak_offset,
        reason,
    };
    let tkhd = find_child(trak, b"tkhd").ok_or(Fmp4Error::Missing("tkhd"))?;
    let mut f = Fields::new(tkhd, trak_base);
    let (version, _) = f.full_box()?;
    f.skip(if version == 1 { 16 } else { 8 })?;
    let track_id = f.u32()?;

    let mdhd = find_path(trak, &[b"mdia", b"mdhd"]).ok_or(Fmp4Error::Missing("mdhd"))?;
    let mut f = Fields::new(mdhd, trak_base);
    let (version, _) = f.full_box()?;
    f.skip(if version == 1 { 16 } else { 8 })?;
    let timescale = f.u32()?;
    if timescale == 0 {
        return Err(invalid("mdhd timescale is 0"));
    }

    let stsd =
        find_path(trak, &[b"mdia", b"minf", b"stbl", b"stsd"]).ok_or(Fmp4Error::Missing("stsd"))?;
    let entries = stsd.get(8..).ok_or(Fmp4Error::Missing("sample entry"))?;
    let entry = BoxIter::new(entries, trak_base)
        .next()
        .ok_or(Fmp4Error::Missing("sample entry"))??;
    let codec = match &entry.fourcc {
        b"mp4a" => AudioCodec::Aac,
        b"ulaw" => AudioCodec::Pcmu,
        b"alaw" => AudioCodec::Pcma,
        _ => {
            return Err(Fmp4Error::Unsupported(
                "audio sample entry is not mp4a, ulaw or alaw",
            ));
        }
    };
    // AudioSampleEntry / QuickTime sound description: 28 bytes of fixed fields (QT version 1
    // adds 16, version 2 adds 36), then child boxes.
    let mut f = Fields::new(entry.body, entry.offset + 8);
    f.skip(8)?; // reserved, data_reference_index
    let qt_version = f.u16()?;
    f.skip(6)?; // revision, vendor
    let channels = f.u16()?;
    f.skip(6)?; // samplesize, pre_defined, reserved
    let rate_16_16 = f.u32()?;
    let fixed = match qt_version {
        0 => 28,
        1 => 44,
        2 => 64,
        _ => return Err(invalid("unknown sound sample description version")),
    };
    let children = entry
        .body
        .get(fixed..)
        .ok_or_else(|| invalid("audio sample entry too short"))?;
    let (channels, sample_rate) = if qt_version == 2 {
        // Version 2 moves the real values into its extension (rate as a float64): take the
        // timescale, which camwire and ffmpeg set to the sample rate.
        let mut f = Fields::new(entry.body, entry.offset + 8);
        f.skip(28 + 4 + 8)?; // to numAudioChannels
        (u16::try_from(f.u32()?).unwrap_or(u16::MAX), timescale)
    } else {
        let rate = rate_16_16 >> 16;
        (channels, if rate == 0 { timescale } else { rate })
    };
    let config = match codec {
        AudioCodec::Aac => {
            let esds = find_child(children, b"esds").ok_or(Fmp4Error::Missing("esds"))?;
            decoder_specific_info(esds)
                .ok_or_else(|| invalid("esds has no readable DecoderSpecificInfo"))?
                .to_vec()
        }
        AudioCodec::Pcmu | AudioCodec::Pcma => Vec::new(),
    };
    Ok((
        track_id,
        AudioConfig {
            codec,
            timescale,
            sample_rate,
            channels,
            config,
        },
    ))
}

/// The DecoderSpecificInfo (the AudioSpecificConfig) of an `esds` body: ES_Descriptor (3) →
/// DecoderConfigDescriptor (4) → DecoderSpecificInfo (5). `None` when a descriptor is cut
/// short or missing; every length is checked against what contains it.
fn decoder_specific_info(esds: &[u8]) -> Option<&[u8]> {
    /// One descriptor at the start of `b`: (tag, body, rest after it).
    fn descriptor(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, mut rest) = b.split_first()?;
        let mut len = 0usize;
        for _ in 0..4 {
            let (&byte, r) = rest.split_first()?;
            rest = r;
            len = (len << 7) | usize::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                let body = rest.get(..len)?;
                return Some((tag, body, &rest[len..]));
            }
        }
        None
    }
    let (tag, es, _) = descriptor(esds.get(4..)?)?; // after version/flags
    if tag != 0x03 {
        return None;
    }
    let (&flags, after) = es.get(2..)?.split_first()?; // ES_ID, then flags
    let mut rest = after;
    if flags & 0x80 != 0 {
        rest = rest.get(2..)?; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        let (&n, r) = rest.split_first()?;
        rest = r.get(usize::from(n)..)?; // URL
    }
    if flags & 0x20 != 0 {
        rest = rest.get(2..)?; // OCR_ES_Id
    }
    let (tag, dcd, _) = descriptor(rest)?;
    if tag != 0x04 {
        return None;
    }
    // objectTypeIndication, streamType, bufferSizeDB (3), maxBitrate, avgBitrate.
    let mut rest = dcd.get(13..)?;
    while !rest.is_empty() {
        let (tag, body, r) = descriptor(rest)?;
        if tag == 0x05 {
            return Some(body);
        }
        rest = r;
    }
    None
}

//! Reading the init segment back: the video track and the `trex` sample defaults.
//!
//! Used by crash recovery (to check a file before appending to or exporting it) and by the
//! exporter (to copy the avcC or hvcC into the clip it writes).

use std::io::{Read, Seek};

use super::error::Fmp4Error;
use super::init::{VideoCodec, VideoConfig};
use super::reader::{BoxIter, Fields, FileBoxIter, find_child, find_path, read_body};

/// The largest `moov` the reader loads (a one-track init segment is under a kilobyte).
pub const MAX_MOOV_BYTES: u64 = 16 << 20;

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

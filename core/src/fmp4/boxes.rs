//! Writing ISO BMFF boxes into a `Vec<u8>`: the one place both MP4 layouts camwire writes
//! get their box code from (the recorder's init segment in [`super::init`], the exported
//! clip's `moov` in `export::mp4_writer`), so a box looks the same in both.
//!
//! A box is written by [`begin`] (a placeholder size and the type), its body, then [`end`],
//! which patches the size once the body length is known. Nothing here allocates beyond the
//! growth of the caller's vector, so a buffer reused across fragments stops allocating once it
//! has reached its working size.
//!
//! All sizes are 32-bit: the only box that can grow large is `mdat`, and the fragment writer
//! checks its size (and refuses fragments over 4 GiB) before any box is begun.

/// Starts a box of type `fourcc`; returns its start offset, to hand to [`end`].
pub(crate) fn begin(out: &mut Vec<u8>, fourcc: &[u8; 4]) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(fourcc);
    start
}

/// Starts a full box (a box with a version byte and 24 bits of flags).
pub(crate) fn begin_full(out: &mut Vec<u8>, fourcc: &[u8; 4], version: u8, flags: u32) -> usize {
    let start = begin(out, fourcc);
    put_u32(out, (u32::from(version) << 24) | (flags & 0x00ff_ffff));
    start
}

/// Finishes the box begun at `start` by writing its size. Returns that size.
///
/// Callers keep boxes under 4 GiB (the fragment writer checks before writing); a larger box
/// would be a bug, caught in debug builds and written with a saturated size in release.
pub(crate) fn end(out: &mut [u8], start: usize) -> u32 {
    let size = out.len().saturating_sub(start);
    debug_assert!(u32::try_from(size).is_ok(), "box over 4 GiB");
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    if let Some(field) = out.get_mut(start..start + 4) {
        field.copy_from_slice(&size.to_be_bytes());
    }
    size
}

/// Writes a box header with a known size (used for `mdat`, whose body is not in the buffer).
pub(crate) fn header(out: &mut Vec<u8>, fourcc: &[u8; 4], size: u32) {
    put_u32(out, size);
    out.extend_from_slice(fourcc);
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_zeros(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, 0);
}

/// The unity transformation matrix of `mvhd` and `tkhd` (16.16 and 2.30 fixed point).
pub(crate) fn put_unity_matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        put_u32(out, v);
    }
}

/// True when `v` fits a version-0 (32-bit) field; larger values need version 1.
pub(crate) fn fits32(v: u64) -> bool {
    u32::try_from(v).is_ok()
}

/// `v` as 16 bits, saturating (sample entry sizes; tkhd's integer part).
pub(crate) fn clamp_u16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// Creation/modification times (zero: unknown), then `timescale` and `duration`, as `mvhd`,
/// `mdhd` and (with the track ID between) `tkhd` lay them out; version 1 when `duration`
/// needs 64 bits. For `tkhd` the track ID stands where the timescale does, followed by
/// 4 reserved bytes.
fn put_times(
    out: &mut Vec<u8>,
    v1: bool,
    timescale_or_id: u32,
    reserved_after: bool,
    duration: u64,
) {
    if v1 {
        put_zeros(out, 16);
        put_u32(out, timescale_or_id);
        if reserved_after {
            put_zeros(out, 4);
        }
        put_u64(out, duration);
    } else {
        put_zeros(out, 8);
        put_u32(out, timescale_or_id);
        if reserved_after {
            put_zeros(out, 4);
        }
        put_u32(out, u32::try_from(duration).unwrap_or(u32::MAX));
    }
}

/// `mvhd`: movie `timescale` and `duration` (0 when fragments carry it), rate and volume 1.0.
pub(crate) fn mvhd(out: &mut Vec<u8>, timescale: u32, duration: u64, next_track_id: u32) {
    let v1 = !fits32(duration);
    let b = begin_full(out, b"mvhd", u8::from(v1), 0);
    put_times(out, v1, timescale, false, duration);
    put_u32(out, 0x0001_0000); // rate 1.0
    put_u16(out, 0x0100); // volume 1.0
    put_zeros(out, 2 + 8); // reserved
    put_unity_matrix(out);
    put_zeros(out, 6 * 4); // pre_defined
    put_u32(out, next_track_id);
    end(out, b);
}

/// `tkhd` of an enabled, in-movie video track (`width` x `height` pixels, 16.16 fixed point).
pub(crate) fn tkhd(out: &mut Vec<u8>, track_id: u32, duration: u64, width: u32, height: u32) {
    tkhd_any(out, track_id, duration, 0, width, height)
}

/// `tkhd` of an enabled, in-movie audio track: volume 1.0 (8.8 fixed point), no width or
/// height (ISO 14496-12 wants both 0 for non-visual tracks).
pub(crate) fn tkhd_audio(out: &mut Vec<u8>, track_id: u32, duration: u64) {
    tkhd_any(out, track_id, duration, 0x0100, 0, 0)
}

fn tkhd_any(out: &mut Vec<u8>, track_id: u32, duration: u64, volume: u16, width: u32, height: u32) {
    let v1 = !fits32(duration);
    let b = begin_full(out, b"tkhd", u8::from(v1), 0x3); // track_enabled | track_in_movie
    put_times(out, v1, track_id, true, duration);
    put_zeros(out, 8); // reserved
    put_zeros(out, 4); // layer, alternate_group
    put_u16(out, volume);
    put_zeros(out, 2); // reserved
    put_unity_matrix(out);
    put_u32(out, u32::from(clamp_u16(width)) << 16);
    put_u32(out, u32::from(clamp_u16(height)) << 16);
    end(out, b);
}

/// `mdhd`: media `timescale` and `duration`, language "und".
pub(crate) fn mdhd(out: &mut Vec<u8>, timescale: u32, duration: u64) {
    let v1 = !fits32(duration);
    let b = begin_full(out, b"mdhd", u8::from(v1), 0);
    put_times(out, v1, timescale, false, duration);
    put_u16(out, 0x55c4); // language "und" (ISO 639-2/T, 5 bits per letter)
    put_u16(out, 0); // pre_defined
    end(out, b);
}

/// `hdlr` for a video track; `name` is NUL-terminated by the caller (e.g. `b"camwire video\0"`).
pub(crate) fn hdlr_vide(out: &mut Vec<u8>, name: &[u8]) {
    hdlr(out, b"vide", name)
}

/// `hdlr` with handler type `handler` (`vide`, `soun`); `name` NUL-terminated by the caller.
pub(crate) fn hdlr(out: &mut Vec<u8>, handler: &[u8; 4], name: &[u8]) {
    let b = begin_full(out, b"hdlr", 0, 0);
    put_u32(out, 0); // pre_defined
    out.extend_from_slice(handler);
    put_zeros(out, 12); // reserved
    out.extend_from_slice(name);
    end(out, b);
}

/// `vmhd` then `dinf/dref/url ` (media data in this file): the fixed head of a video `minf`.
pub(crate) fn vmhd_dinf(out: &mut Vec<u8>) {
    let vmhd = begin_full(out, b"vmhd", 0, 1); // flags 1 is mandatory for vmhd
    put_u16(out, 0); // graphicsmode: copy
    put_zeros(out, 6); // opcolor
    end(out, vmhd);
    dinf(out);
}

/// `smhd` then `dinf/dref/url `: the fixed head of an audio `minf`.
pub(crate) fn smhd_dinf(out: &mut Vec<u8>) {
    let smhd = begin_full(out, b"smhd", 0, 0);
    put_u16(out, 0); // balance: centre
    put_u16(out, 0); // reserved
    end(out, smhd);
    dinf(out);
}

/// `dinf/dref/url `: the media data is in this file.
fn dinf(out: &mut Vec<u8>) {
    let dinf = begin(out, b"dinf");
    let dref = begin_full(out, b"dref", 0, 0);
    put_u32(out, 1); // entry_count
    let url = begin_full(out, b"url ", 0, 1); // flags 1: media data is in this file
    end(out, url);
    end(out, dref);
    end(out, dinf);
}

/// `stsd` with the track's one sample entry, `avc1`+`avcC` or `hvc1`+`hvcC`, carrying the
/// decoder configuration record byte for byte.
pub(crate) fn stsd_video(out: &mut Vec<u8>, track: &super::VideoConfig) {
    stsd_entry(
        out,
        track.codec.sample_entry(),
        track.codec.config_box(),
        track.width,
        track.height,
        &track.config,
    )
}

fn stsd_entry(
    out: &mut Vec<u8>,
    entry: &[u8; 4],
    config_box: &[u8; 4],
    width: u32,
    height: u32,
    config: &[u8],
) {
    let stsd = begin_full(out, b"stsd", 0, 0);
    put_u32(out, 1); // entry_count
    let avc1 = begin(out, entry);
    put_zeros(out, 6); // reserved
    put_u16(out, 1); // data_reference_index
    put_zeros(out, 16); // pre_defined, reserved, pre_defined
    put_u16(out, clamp_u16(width));
    put_u16(out, clamp_u16(height));
    put_u32(out, 0x0048_0000); // horizresolution 72 dpi
    put_u32(out, 0x0048_0000); // vertresolution 72 dpi
    put_u32(out, 0); // reserved
    put_u16(out, 1); // frame_count
    put_zeros(out, 32); // compressorname (empty Pascal string)
    put_u16(out, 0x0018); // depth: colour, no alpha
    put_u16(out, 0xffff); // pre_defined = -1
    let c = begin(out, config_box);
    out.extend_from_slice(config);
    end(out, c);
    end(out, avc1);
    end(out, stsd);
}

/// `stsd` with an audio track's one sample entry: `mp4a`+`esds` (AAC) or `ulaw`/`alaw`
/// (G.711), all as an ISO AudioSampleEntry, which is also a QuickTime version-0 sound
/// description (its first 8 reserved bytes are QT's version, revision and vendor, all 0).
///
/// `samplesize` is 16 for every codec, as ISO 14496-12 fixes it and as QuickTime writes for
/// µ-law and A-law (the decoded sample size); both ffmpeg (`mov.c`, which takes the coded
/// size from the codec for G.711) and GStreamer's qtdemux read 8-bit codes from it.
/// `samplerate` is 16.16 fixed point, so rates from 65536 Hz up do not fit and are written
/// as 0 (readers then use the `mdhd` timescale, which equals the sample rate here; for AAC
/// the AudioSpecificConfig in `esds` is what decoders trust).
pub(crate) fn stsd_audio(out: &mut Vec<u8>, track: &super::AudioConfig, track_id: u32) {
    let stsd = begin_full(out, b"stsd", 0, 0);
    put_u32(out, 1); // entry_count
    let entry = begin(out, track.codec.sample_entry());
    put_zeros(out, 6); // reserved
    put_u16(out, 1); // data_reference_index
    put_zeros(out, 8); // reserved (QT: version 0, revision, vendor)
    put_u16(out, track.channels);
    put_u16(out, 16); // samplesize
    put_zeros(out, 4); // pre_defined, reserved (QT: compression ID, packet size)
    put_u32(
        out,
        if track.sample_rate <= 0xffff {
            track.sample_rate << 16
        } else {
            0
        },
    );
    if track.codec == super::AudioCodec::Aac {
        let esds = begin(out, b"esds");
        esds_body(out, &track.config, u16::try_from(track_id).unwrap_or(0));
        end(out, esds);
    }
    end(out, entry);
    end(out, stsd);
}

/// The body of `esds` (version/flags included) carrying `asc`, the AudioSpecificConfig, byte
/// for byte: ES_Descriptor { ES_ID, DecoderConfigDescriptor { objectTypeIndication 0x40
/// (MPEG-4 audio), streamType 5 (audio), bufferSizeDB 0, bitrates 0 (unknown),
/// DecoderSpecificInfo { asc } }, SLConfigDescriptor { predefined 2 } }.
///
/// The same layout as `rtp::aac::esds_body`, but infallible over raw bytes and writing into
/// the caller's buffer: the init writer cannot fail, and the config it is given was already
/// parsed once by the depacketizer (a unit test checks both agree).
pub(crate) fn esds_body(out: &mut Vec<u8>, asc: &[u8], es_id: u16) {
    /// Descriptor tag and size (expandable: 7 bits a byte, high bit = more), minimal.
    fn tag(out: &mut Vec<u8>, tag: u8, len: usize) {
        out.push(tag);
        let len = u32::try_from(len).unwrap_or(u32::MAX) & 0x0fff_ffff;
        let mut started = false;
        for shift in [21u32, 14, 7] {
            let g = ((len >> shift) & 0x7f) as u8;
            if g != 0 || started {
                out.push(g | 0x80);
                started = true;
            }
        }
        out.push((len & 0x7f) as u8);
    }
    fn tag_len(len: usize) -> usize {
        1 + match len {
            0..=0x7f => 1,
            0x80..=0x3fff => 2,
            0x4000..=0x1f_ffff => 3,
            _ => 4,
        }
    }
    let dsi = tag_len(asc.len()) + asc.len();
    let dcd = 13 + dsi;
    let es = 3 + tag_len(dcd) + dcd + 3;
    put_u32(out, 0); // version 0, flags 0
    tag(out, 0x03, es);
    put_u16(out, es_id);
    out.push(0); // no stream dependence, URL or OCR stream; priority 0
    tag(out, 0x04, dcd);
    out.push(0x40); // objectTypeIndication: MPEG-4 audio
    out.push((0x05 << 2) | 1); // streamType audio, upStream 0, reserved 1
    put_zeros(out, 3); // bufferSizeDB: unknown
    put_u32(out, 0); // maxBitrate: unknown
    put_u32(out, 0); // avgBitrate: unknown
    tag(out, 0x05, asc.len());
    out.extend_from_slice(asc);
    tag(out, 0x06, 1);
    out.push(0x02); // SLConfigDescriptor predefined = 2 (MP4)
}

/// The empty `stts`, `stsc`, `stsz` and `stco` of a track whose samples all live in fragments.
pub(crate) fn empty_sample_tables(out: &mut Vec<u8>) {
    for (fourcc, zero_words) in [(b"stts", 1), (b"stsc", 1), (b"stsz", 2), (b"stco", 1)] {
        // stts/stsc/stco: entry_count 0; stsz: sample_size 0, sample_count 0.
        let b = begin_full(out, fourcc, 0, 0);
        put_zeros(out, 4 * zero_words);
        end(out, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_sizes_are_patched() {
        let mut out = Vec::new();
        let outer = begin(&mut out, b"moof");
        let inner = begin_full(&mut out, b"mfhd", 1, 0x00ab_cdef);
        put_u32(&mut out, 7);
        assert_eq!(end(&mut out, inner), 16);
        assert_eq!(end(&mut out, outer), 24);
        assert_eq!(&out[0..8], b"\0\0\0\x18moof");
        assert_eq!(&out[8..16], b"\0\0\0\x10mfhd");
        assert_eq!(&out[16..20], &[1, 0xab, 0xcd, 0xef]);
        assert_eq!(&out[20..24], &[0, 0, 0, 7]);
    }

    #[test]
    fn known_size_header() {
        let mut out = Vec::new();
        header(&mut out, b"mdat", 1234);
        assert_eq!(out, [0, 0, 0x04, 0xd2, b'm', b'd', b'a', b't']);
    }
}

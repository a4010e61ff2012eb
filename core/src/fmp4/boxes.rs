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
    let v1 = !fits32(duration);
    let b = begin_full(out, b"tkhd", u8::from(v1), 0x3); // track_enabled | track_in_movie
    put_times(out, v1, track_id, true, duration);
    put_zeros(out, 8); // reserved
    put_zeros(out, 8); // layer, alternate_group, volume (video: 0), reserved
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
    let b = begin_full(out, b"hdlr", 0, 0);
    put_u32(out, 0); // pre_defined
    out.extend_from_slice(b"vide");
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

//! The init segment: `ftyp` + `moov` describing one H.264 video track with no samples of its
//! own (they all live in fragments, announced by `mvex`).
//!
//! Every field that a fragmented recording cannot know up front (durations, creation times) is
//! zero; players take the duration from the fragments.

use super::boxes::{begin, begin_full, end, put_u16, put_u32, put_unity_matrix, put_zeros};

/// The one track ID camwire writes; fragments refer to it in `tfhd` and `prft`.
pub const TRACK_ID: u32 = 1;

/// What the init segment says about the video track.
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

/// Appends the init segment (`ftyp` + `moov`) for `track` to `out`.
pub fn write_init_segment(track: &VideoTrack, out: &mut Vec<u8>) {
    let ftyp = begin(out, b"ftyp");
    out.extend_from_slice(MAJOR_BRAND);
    put_u32(out, 0); // minor_version
    for brand in COMPATIBLE_BRANDS {
        out.extend_from_slice(brand);
    }
    end(out, ftyp);

    let moov = begin(out, b"moov");
    write_mvhd(track, out);
    write_trak(track, out);
    let mvex = begin(out, b"mvex");
    let trex = begin_full(out, b"trex", 0, 0);
    put_u32(out, TRACK_ID);
    put_u32(out, 1); // default_sample_description_index
    put_u32(out, 0); // default_sample_duration (every trun carries its own)
    put_u32(out, 0); // default_sample_size
    put_u32(out, 0); // default_sample_flags
    end(out, trex);
    end(out, mvex);
    end(out, moov);
}

fn write_mvhd(track: &VideoTrack, out: &mut Vec<u8>) {
    let b = begin_full(out, b"mvhd", 0, 0);
    put_u32(out, 0); // creation_time
    put_u32(out, 0); // modification_time
    put_u32(out, track.timescale);
    put_u32(out, 0); // duration: unknown, fragments carry it
    put_u32(out, 0x0001_0000); // rate 1.0
    put_u16(out, 0x0100); // volume 1.0
    put_zeros(out, 2 + 8); // reserved
    put_unity_matrix(out);
    put_zeros(out, 6 * 4); // pre_defined
    put_u32(out, TRACK_ID + 1); // next_track_ID
    end(out, b);
}

fn write_trak(track: &VideoTrack, out: &mut Vec<u8>) {
    let trak = begin(out, b"trak");

    // flags: track_enabled | track_in_movie
    let tkhd = begin_full(out, b"tkhd", 0, 0x3);
    put_u32(out, 0); // creation_time
    put_u32(out, 0); // modification_time
    put_u32(out, TRACK_ID);
    put_u32(out, 0); // reserved
    put_u32(out, 0); // duration
    put_zeros(out, 8); // reserved
    put_u16(out, 0); // layer
    put_u16(out, 0); // alternate_group
    put_u16(out, 0); // volume (video)
    put_u16(out, 0); // reserved
    put_unity_matrix(out);
    put_u32(out, fixed_16_16(track.width));
    put_u32(out, fixed_16_16(track.height));
    end(out, tkhd);

    let mdia = begin(out, b"mdia");
    let mdhd = begin_full(out, b"mdhd", 0, 0);
    put_u32(out, 0); // creation_time
    put_u32(out, 0); // modification_time
    put_u32(out, track.timescale);
    put_u32(out, 0); // duration
    put_u16(out, 0x55c4); // language "und" (ISO 639-2/T, 5 bits per letter)
    put_u16(out, 0); // pre_defined
    end(out, mdhd);

    let hdlr = begin_full(out, b"hdlr", 0, 0);
    put_u32(out, 0); // pre_defined
    out.extend_from_slice(b"vide");
    put_zeros(out, 12); // reserved
    out.extend_from_slice(b"camwire video\0");
    end(out, hdlr);

    let minf = begin(out, b"minf");
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

    let stbl = begin(out, b"stbl");
    write_stsd(track, out);
    for (fourcc, zero_words) in [(b"stts", 1), (b"stsc", 1), (b"stsz", 2), (b"stco", 1)] {
        // stts/stsc/stco: entry_count 0; stsz: sample_size 0, sample_count 0.
        let b = begin_full(out, fourcc, 0, 0);
        put_zeros(out, 4 * zero_words);
        end(out, b);
    }
    end(out, stbl);
    end(out, minf);
    end(out, mdia);
    end(out, trak);
}

fn write_stsd(track: &VideoTrack, out: &mut Vec<u8>) {
    let stsd = begin_full(out, b"stsd", 0, 0);
    put_u32(out, 1); // entry_count

    let avc1 = begin(out, b"avc1");
    put_zeros(out, 6); // reserved
    put_u16(out, 1); // data_reference_index
    put_u16(out, 0); // pre_defined
    put_u16(out, 0); // reserved
    put_zeros(out, 12); // pre_defined
    put_u16(out, clamp_u16(track.width));
    put_u16(out, clamp_u16(track.height));
    put_u32(out, 0x0048_0000); // horizresolution 72 dpi
    put_u32(out, 0x0048_0000); // vertresolution 72 dpi
    put_u32(out, 0); // reserved
    put_u16(out, 1); // frame_count
    put_zeros(out, 32); // compressorname (empty Pascal string)
    put_u16(out, 0x0018); // depth: colour, no alpha
    put_u16(out, 0xffff); // pre_defined = -1

    let avcc = begin(out, b"avcC");
    out.extend_from_slice(&track.avcc);
    end(out, avcc);
    end(out, avc1);
    end(out, stsd);
}

/// tkhd sizes are 16.16 fixed point; the integer part has 16 bits.
fn fixed_16_16(v: u32) -> u32 {
    u32::from(clamp_u16(v)) << 16
}

fn clamp_u16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
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

//! camwire's `hvcC` (HEVCDecoderConfigurationRecord, ISO/IEC 14496-15 §8.3.3.1) against the one
//! FFmpeg's MP4 muxer writes (`-tag:v hvc1`, `libavformat/hevc.c`), byte for byte, for x265
//! encodings made at test time: 8-bit and 10/12-bit Main, 4:2:2 and 4:0:0 range extensions,
//! sizes with conformance cropping (320x180: 180 is not a multiple of x265's 8-pixel minimum
//! coding block), 1280x720, high tier, B-pyramids with temporal sub-layers, open GOP and
//! in-band repeated headers, two slices with WPP and HRD, HDR SEI in the headers.
//!
//! Every encoding is checked along two independent FFmpeg paths:
//! - **remux**: libx265 writes a raw Annex B `.hevc` (parameter sets in band), then
//!   `ffmpeg -c copy -tag:v hvc1` muxes it into an MP4; FFmpeg's hvcC there is built by its
//!   own HEVC parser from the in-band VPS/SPS/PPS. camwire builds its record from the first
//!   VPS, SPS and PPS of the `.hevc` file.
//! - **direct**: libx265 encodes straight into an MP4 (global headers: the encoder's header
//!   NAL units, SEI included, become FFmpeg's extradata). camwire builds its record from the
//!   NAL units of FFmpeg's own hvcC arrays (VPS, SPS, PPS, then the declarative prefix SEI).
//!
//! Skipped (a `SKIPPED` line, no assertion) only when ffmpeg has no libx265.

use camwire::fmp4::{find_child, find_path};
use camwire::h264::annexb;
use camwire::h265::{HevcDecoderConfig, nal};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Encoding {
    name: &'static str,
    size: &'static str,
    pix_fmt: &'static str,
    frames: u32,
    x265_params: &'static str,
    /// (width, height, chroma_format_idc, bit depth, general_profile_idc) camwire must parse.
    expect: (u32, u32, u8, u8, u8),
}

const ENCODINGS: &[Encoding] = &[
    Encoding {
        name: "main_320x180_crop",
        size: "320x180",
        pix_fmt: "yuv420p",
        frames: 8,
        x265_params: "log-level=error",
        expect: (320, 180, 1, 8, 1),
    },
    Encoding {
        name: "main10_320x180_crop",
        size: "320x180",
        pix_fmt: "yuv420p10le",
        frames: 8,
        x265_params: "log-level=error",
        expect: (320, 180, 1, 10, 2),
    },
    Encoding {
        name: "main12_322x182_crop",
        size: "322x182",
        pix_fmt: "yuv420p12le",
        frames: 8,
        x265_params: "log-level=error",
        expect: (322, 182, 1, 12, 4),
    },
    Encoding {
        name: "main_1280x720",
        size: "1280x720",
        pix_fmt: "yuv420p",
        frames: 8,
        x265_params: "log-level=error",
        expect: (1280, 720, 1, 8, 1),
    },
    Encoding {
        name: "main_1280x720_high_tier_l51",
        size: "1280x720",
        pix_fmt: "yuv420p",
        frames: 8,
        x265_params: "log-level=error:level-idc=5.1:high-tier=1",
        expect: (1280, 720, 1, 8, 1),
    },
    Encoding {
        name: "rext_422_8_320x180",
        size: "320x180",
        pix_fmt: "yuv422p",
        frames: 8,
        x265_params: "log-level=error",
        expect: (320, 180, 2, 8, 4),
    },
    Encoding {
        name: "rext_400_gray10_320x180",
        size: "320x180",
        pix_fmt: "gray10le",
        frames: 8,
        x265_params: "log-level=error",
        expect: (320, 180, 0, 10, 4),
    },
    Encoding {
        // B-pyramid with temporal sub-layers (numTemporalLayers > 1), open GOP (CRA
        // keyframes with leading pictures), headers repeated before every keyframe.
        name: "bpyramid_temporal_opengop_repeat_headers",
        size: "320x180",
        pix_fmt: "yuv420p",
        frames: 16,
        x265_params: "log-level=error:bframes=4:b-pyramid=1:b-adapt=0:open-gop=1:keyint=8:\
                      min-keyint=8:temporal-layers=1:repeat-headers=1:aud=1",
        expect: (320, 180, 1, 8, 1),
    },
    Encoding {
        // Two slices per picture with wavefronts (the PPS flags parallelismType looks at), HRD
        // parameters in the VPS and the VUI.
        name: "slices2_wpp_hrd",
        size: "640x360",
        pix_fmt: "yuv420p",
        frames: 8,
        x265_params: "log-level=error:slices=2:hrd=1:vbv-bufsize=2000:vbv-maxrate=2000",
        expect: (640, 360, 1, 8, 1),
    },
    Encoding {
        // HDR10: mastering-display and content-light SEI among the encoder's headers, which
        // the direct path carries as a fourth (prefix SEI) array; full-range BT.2020 VUI.
        name: "main10_hdr10_sei",
        size: "320x180",
        pix_fmt: "yuv420p10le",
        frames: 8,
        x265_params: "log-level=error:hdr10=1:hdr10-opt=1:colorprim=bt2020:transfer=smpte2084:\
                      colormatrix=bt2020nc:range=full:\
                      master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):\
                      max-cll=1000,400",
        expect: (320, 180, 1, 10, 2),
    },
];

fn has_libx265() -> bool {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("libx265"))
        .unwrap_or(false)
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Encoded {
    /// libx265's raw Annex B output.
    hevc: Vec<u8>,
    /// That output remuxed by `ffmpeg -c copy -tag:v hvc1`.
    remuxed_mp4: Vec<u8>,
    /// libx265 encoding straight into an MP4 (`-tag:v hvc1`).
    direct_mp4: Vec<u8>,
}

fn encode(e: &Encoding, dir: &Path) -> Encoded {
    let src = format!("testsrc2=size={}:rate=25", e.size);
    let frames = e.frames.to_string();
    let path = |ext: &str| -> PathBuf { dir.join(format!("{}.{ext}", e.name)) };
    let (hevc, remuxed, direct) = (path("hevc"), path("remux.mp4"), path("direct.mp4"));
    let encode_to = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            &src,
            "-frames:v",
            &frames,
            "-pix_fmt",
            e.pix_fmt,
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            e.x265_params,
        ];
        args.extend_from_slice(extra);
        args.push(out.to_str().expect("utf-8 temp path"));
        ffmpeg(&args);
    };
    encode_to(&hevc, &["-f", "hevc"]);
    ffmpeg(&[
        "-f",
        "hevc",
        "-i",
        hevc.to_str().expect("utf-8 temp path"),
        "-c",
        "copy",
        "-tag:v",
        "hvc1",
        remuxed.to_str().expect("utf-8 temp path"),
    ]);
    encode_to(&direct, &["-tag:v", "hvc1"]);
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|err| panic!("{}: {err}", p.display()));
    Encoded {
        hevc: read(&hevc),
        remuxed_mp4: read(&remuxed),
        direct_mp4: read(&direct),
    }
}

/// The body of the `hvcC` box of the first track's `hvc1` sample entry.
fn hvcc_body(mp4: &[u8]) -> Vec<u8> {
    let stsd =
        find_path(mp4, &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]).expect("stsd");
    // stsd: version/flags (4), entry_count (4), then the entry: size (4), type (4), 78 bytes of
    // VisualSampleEntry fields, then its child boxes.
    assert_eq!(&stsd[12..16], b"hvc1", "sample entry type");
    let entry_len = u32::from_be_bytes(stsd[8..12].try_into().expect("4 bytes")) as usize;
    let children = &stsd[8 + 8 + 78..8 + entry_len];
    find_child(children, b"hvcC").expect("hvcC").to_vec()
}

/// The arrays of an hvcC record: (array_completeness, NAL_unit_type, NAL units).
fn hvcc_arrays(rec: &[u8]) -> Vec<(bool, u8, Vec<Vec<u8>>)> {
    let mut arrays = Vec::new();
    let mut pos = 23;
    for _ in 0..rec[22] {
        let (completeness, nal_type) = (rec[pos] & 0x80 != 0, rec[pos] & 0x3f);
        let n = u16::from_be_bytes([rec[pos + 1], rec[pos + 2]]);
        pos += 3;
        let mut units = Vec::new();
        for _ in 0..n {
            let len = usize::from(u16::from_be_bytes([rec[pos], rec[pos + 1]]));
            units.push(rec[pos + 2..pos + 2 + len].to_vec());
            pos += 2 + len;
        }
        arrays.push((completeness, nal_type, units));
    }
    assert_eq!(pos, rec.len(), "hvcC arrays end the record");
    arrays
}

/// The first VPS, SPS and PPS of an Annex B stream, and how many of each it holds.
fn first_parameter_sets(data: &[u8]) -> ([Vec<u8>; 3], [usize; 3]) {
    let mut first: [Option<Vec<u8>>; 3] = [None, None, None];
    let mut counts = [0; 3];
    for r in annexb::nal_ranges(data) {
        let unit = &data[r];
        let t = nal::nal_type(unit[0]);
        if (nal::VPS..=nal::PPS).contains(&t) {
            let i = usize::from(t - nal::VPS);
            counts[i] += 1;
            first[i].get_or_insert_with(|| unit.to_vec());
        }
    }
    let [v, s, p] = first;
    (
        [v.expect("a VPS"), s.expect("an SPS"), p.expect("a PPS")],
        counts,
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn hvcc_is_byte_identical_to_ffmpegs_for_x265_encodings() {
    if !has_libx265() {
        println!("SKIPPED: ffmpeg has no libx265 encoder (`ffmpeg -encoders`); nothing compared");
        return;
    }
    let dir = std::env::temp_dir().join(format!("camwire-hvcc-ffmpeg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut temporal_layers = Vec::new();
    for e in ENCODINGS {
        let enc = encode(e, &dir);

        // Remux path: camwire from the in-band parameter sets, FFmpeg from its HEVC parser.
        let ([vps, sps, pps], counts) = first_parameter_sets(&enc.hevc);
        let ours = HevcDecoderConfig::from_parameter_sets(&vps, &sps, &pps)
            .unwrap_or_else(|err| panic!("{}: {err}", e.name));
        let ours_bytes = ours.to_bytes().expect("record");
        let theirs = hvcc_body(&enc.remuxed_mp4);
        assert_eq!(
            hex(&ours_bytes),
            hex(&theirs),
            "{}: camwire's hvcC (left) differs from FFmpeg's remux (right)",
            e.name
        );
        // FFmpeg's arrays are the stream's own VPS, SPS, PPS, complete, in that order.
        let arrays = hvcc_arrays(&theirs);
        assert_eq!(
            arrays,
            vec![
                (true, nal::VPS, vec![vps.clone()]),
                (true, nal::SPS, vec![sps.clone()]),
                (true, nal::PPS, vec![pps.clone()]),
            ],
            "{}",
            e.name
        );

        // What camwire parsed is what was encoded.
        let info = ours.sps_info();
        let (w, h, chroma, depth, profile) = e.expect;
        assert_eq!(
            (
                info.width(),
                info.height(),
                ours.chroma_format,
                ours.bit_depth_luma_minus8 + 8,
                ours.profile_idc
            ),
            (w, h, chroma, depth, profile),
            "{}",
            e.name
        );
        if h % 8 != 0 || w % 8 != 0 {
            let c = &info.cropping;
            assert!(
                c.bottom > 0 || c.right > 0,
                "{}: conformance window expected",
                e.name
            );
        }
        temporal_layers.push((e.name, ours.num_temporal_layers, counts));

        // Direct path: camwire from the NAL units of FFmpeg's own arrays (SEI included).
        let theirs = hvcc_body(&enc.direct_mp4);
        let arrays = hvcc_arrays(&theirs);
        let types: Vec<u8> = arrays.iter().map(|a| a.1).collect();
        assert_eq!(&types[..3], &[nal::VPS, nal::SPS, nal::PPS], "{}", e.name);
        let unit = |i: usize| arrays[i].2[0].as_slice();
        let mut ours = HevcDecoderConfig::from_parameter_sets(unit(0), unit(1), unit(2))
            .unwrap_or_else(|err| panic!("{}: {err}", e.name));
        let mut sei_types = Vec::new();
        if let Some((complete, t, sei)) = arrays.get(3) {
            assert_eq!((*complete, *t), (false, nal::PREFIX_SEI), "{}", e.name);
            // The first SEI message's payloadType (one byte for the types x265 writes).
            sei_types = sei.iter().map(|s| s[2]).collect();
            let sei: Vec<&[u8]> = sei.iter().map(Vec::as_slice).collect();
            ours = ours.with_prefix_sei(&sei).expect("prefix SEI");
        }
        assert_eq!(
            hex(&ours.to_bytes().expect("record")),
            hex(&theirs),
            "{}: camwire's hvcC (left) differs from FFmpeg's direct encode (right)",
            e.name
        );
        if e.name == "main10_hdr10_sei" {
            // mastering_display_colour_volume (137) and content_light_level_info (144).
            assert!(
                sei_types.contains(&137) && sei_types.contains(&144),
                "{}: header SEI types {sei_types:?}",
                e.name
            );
        }
        println!(
            "{}: identical to FFmpeg's hvcC, remux {} bytes, direct {} bytes (prefix SEI types \
             {sei_types:?}), {}",
            e.name,
            ours_bytes.len(),
            theirs.len(),
            ours.codec_string()
        );
    }
    // The B-pyramid encoding has temporal sub-layers and repeats its headers in band; the
    // HDR encoding's headers carry SEI.
    let find = |n: &str| *temporal_layers.iter().find(|t| t.0 == n).expect("encoded");
    let bpyr = find("bpyramid_temporal_opengop_repeat_headers");
    assert!(bpyr.1 > 1, "numTemporalLayers {}", bpyr.1);
    assert!(
        bpyr.2.iter().all(|&n| n >= 2),
        "repeated headers {:?}",
        bpyr.2
    );
    assert_eq!(find("main_320x180_crop").1, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

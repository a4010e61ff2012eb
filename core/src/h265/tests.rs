//! H.265 parameter sets, hvcC and codec strings: hand-made and real camera vectors, and the
//! byte-for-byte comparison with FFmpeg's hvcC for x265 encodings.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::h264::annexb;

/// Dahua IPC (retina `dahua_describe_h265_pcma.txt`): sprop-vps/sps/pps decoded.
pub(crate) const DAHUA_VPS: &[u8] = b"\x40\x01\x0c\x01\xff\xff\x01\x60\x00\x00\x03\x00\xb0\x00\x00\x03\x00\x00\x03\x00\x5a\xac\x0c\x00\x00\x03\x00\x04\x00\x00\x03\x00\x32\xa8";
pub(crate) const DAHUA_SPS: &[u8] = b"\x42\x01\x01\x01\x60\x00\x00\x03\x00\xb0\x00\x00\x03\x00\x00\x03\x00\x5a\xa0\x05\x82\x01\xe1\x63\x6b\x92\x45\x2f\xcd\xc1\x41\x81\x41\x00\x00\x03\x00\x01\x00\x00\x03\x00\x0c\xa1";
pub(crate) const DAHUA_PPS: &[u8] = b"\x44\x01\xc0\xf2\xc6\x8d\x03\xb3\x40";

#[test]
fn nal_header_fields_and_round_trip() {
    // VPS, layer 0, tid 0.
    let h = NalHeader::parse(&[0x40, 0x01]).unwrap();
    assert_eq!((h.nal_type, h.layer_id, h.tid), (nal::VPS, 0, 0));
    // FU (49), layer id 33 (split over both bytes), tid 5.
    let h = NalHeader {
        nal_type: nal::FU,
        layer_id: 33,
        tid: 5,
    };
    let b = h.to_bytes();
    assert_eq!(b, [0x63, 0x0e]);
    assert_eq!(NalHeader::parse(&b).unwrap(), h);
    // Forbidden bit, tid_plus1 = 0, short input.
    assert_eq!(
        NalHeader::parse(&[0xc0, 0x01]),
        Err(H265Error::InvalidNalHeader(0xc001))
    );
    assert_eq!(
        NalHeader::parse(&[0x40, 0x00]),
        Err(H265Error::InvalidNalHeader(0x4000))
    );
    assert_eq!(NalHeader::parse(&[0x40]), Err(H265Error::Truncated));
}

#[test]
fn irap_and_access_unit_classes() {
    for t in 16..=23 {
        assert!(nal::is_irap(t), "{t}");
    }
    for t in [0, 1, 9, 15, 24, 32, 39] {
        assert!(!nal::is_irap(t), "{t}");
    }
    for t in [32, 33, 34, 35, 39, 41, 44, 48, 55] {
        assert!(nal::begins_next_access_unit(t), "{t}");
    }
    for t in [0, 19, 36, 37, 38, 40, 45, 56] {
        assert!(!nal::begins_next_access_unit(t), "{t}");
    }
}

#[test]
fn dahua_parameter_sets_parse() {
    let vps = Vps::parse(DAHUA_VPS).unwrap();
    assert_eq!((vps.vps_id, vps.max_sub_layers), (0, 1));
    assert_eq!(vps.profile_tier_level.general.profile_idc, 1);
    let sps = Sps::parse(DAHUA_SPS).unwrap();
    assert_eq!((sps.width(), sps.height()), (704, 480));
    assert_eq!(sps.chroma_format_idc, 1);
    assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (8, 8));
    assert_eq!(sps.max_num_reorder_pics(), 0);
    let timing = sps.vui.as_ref().unwrap().timing.unwrap();
    assert_eq!((timing.num_units_in_tick, timing.time_scale), (1, 12));
    assert_eq!(sps.frame_rate(), Some((12, 1)));
    let pps = Pps::parse(DAHUA_PPS).unwrap();
    assert_eq!((pps.pps_id, pps.sps_id), (0, 0));
    let c = HevcDecoderConfig::from_parameter_sets(DAHUA_VPS, DAHUA_SPS, DAHUA_PPS).unwrap();
    // retina's test of the same SPS.
    assert_eq!(c.codec_string(), "hvc1.1.6.L90.B0");
}

#[test]
fn sps_with_inter_ref_pic_set_prediction() {
    // Hacked Xiaomi Yi Pro 2K (retina nal.rs, moonfire #333): inter RPS prediction.
    let sps = Sps::parse(b"\x42\x01\x01\x01\x60\x00\x00\x03\x00\x00\x03\x00\x00\x03\x00\x00\x03\x00\xba\xa0\x01\x20\x20\x05\x11\xfe\x5a\xee\x44\x88\x8b\xf2\xdc\xd4\x04\x04\x04\x02").unwrap();
    assert_eq!((sps.width(), sps.height()), (2304, 1296));
    assert_eq!(sps.num_short_term_ref_pic_sets, 3);
    assert_eq!(sps.profile_tier_level.level_idc, 186);
}

#[test]
fn wrong_types_and_truncation_are_errors() {
    assert_eq!(
        Sps::parse(DAHUA_PPS),
        Err(H265Error::WrongNalType {
            expected: "SPS",
            found: 34
        })
    );
    assert!(matches!(
        Vps::parse(DAHUA_SPS),
        Err(H265Error::WrongNalType { .. })
    ));
    assert!(matches!(
        Pps::parse(DAHUA_VPS),
        Err(H265Error::WrongNalType { .. })
    ));
    // Every truncation of the SPS before its VUI is an error, never a panic.
    for n in 0..20 {
        assert!(Sps::parse(&DAHUA_SPS[..n]).is_err(), "len {n}");
    }
    for n in 0..DAHUA_VPS.len() - 6 {
        assert!(Vps::parse(&DAHUA_VPS[..n]).is_err(), "len {n}");
    }
    assert!(Pps::parse(&DAHUA_PPS[..3]).is_err());
    let big = [DAHUA_SPS, &vec![0x55u8; 70_000][..]].concat();
    assert!(matches!(Sps::parse(&big), Err(H265Error::TooLarge { .. })));
}

/// Fuzz finding (h265_params): an SPS with `pic_width_in_luma_samples` 0 parsed to a zero
/// width; it is out of range.
#[test]
fn zero_picture_size_is_refused() {
    let crash = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/h265_params/zero_width_sps"
    ))
    .unwrap();
    assert!(matches!(
        Sps::parse(&crash),
        Err(H265Error::OutOfRange { .. }) | Err(H265Error::Truncated)
    ));
}

#[test]
fn codec_string_formats() {
    let mut ptl = ProfileTierLevel::default();
    ptl.general.profile_idc = 1;
    ptl.general.compatibility_flags = 0x6000_0000;
    ptl.general.constraint_flags = 0xb000_0000_0000;
    ptl.level_idc = 93;
    assert_eq!(codec_string("hvc1", &ptl), "hvc1.1.6.L93.B0");
    // 14496-15 E.3 example: profile space 1 (A), profile 4, compatibility 0x41 reversed,
    // high tier, level 120, constraint bytes B0 and 23.
    ptl.general.profile_space = 1;
    ptl.general.profile_idc = 4;
    ptl.general.compatibility_flags = 0x41u32.reverse_bits();
    ptl.general.tier = true;
    ptl.level_idc = 120;
    ptl.general.constraint_flags = 0xb023_0000_0000;
    assert_eq!(codec_string("hev1", &ptl), "hev1.A4.41.H120.B0.23");
    // No constraint bits: nothing after the level.
    ptl.general.constraint_flags = 0;
    assert_eq!(codec_string("hvc1", &ptl), "hvc1.A4.41.H120");
}

/// One x265 encoding compared with FFmpeg's hvcC.
struct Encoding {
    name: &'static str,
    size: &'static str,
    pix_fmt: &'static str,
    x265_params: &'static str,
}

const ENCODINGS: &[Encoding] = &[
    // Default x265 headers include its "info" user-data SEI, which FFmpeg stores as a
    // declarative prefix-SEI array.
    Encoding {
        name: "main_320x240_info_sei",
        size: "320x240",
        pix_fmt: "yuv420p",
        x265_params: "log-level=error",
    },
    Encoding {
        name: "main10_640x360",
        size: "640x360",
        pix_fmt: "yuv420p10le",
        x265_params: "log-level=error:info=0",
    },
    Encoding {
        name: "main_1920x1080_crop",
        size: "1920x1080",
        pix_fmt: "yuv420p",
        x265_params: "log-level=error:info=0",
    },
    Encoding {
        name: "main_638x360_crop",
        size: "638x360",
        pix_fmt: "yuv420p",
        x265_params: "log-level=error:info=0",
    },
    Encoding {
        name: "main_high_tier_l51",
        size: "320x240",
        pix_fmt: "yuv420p",
        x265_params: "log-level=error:info=0:level-idc=51:high-tier=1",
    },
    Encoding {
        name: "main_temporal_layers",
        size: "320x240",
        pix_fmt: "yuv420p",
        x265_params: "log-level=error:info=0:temporal-layers=1",
    },
    Encoding {
        name: "main_hrd",
        size: "320x240",
        pix_fmt: "yuv420p",
        x265_params: "log-level=error:info=0:hrd=1:vbv-bufsize=1000:vbv-maxrate=1000",
    },
    Encoding {
        name: "rext_422_10_352x288",
        size: "352x288",
        pix_fmt: "yuv422p10le",
        x265_params: "log-level=error:info=0",
    },
    Encoding {
        name: "rext_444_176x144",
        size: "176x144",
        pix_fmt: "yuv444p",
        x265_params: "log-level=error:info=0",
    },
];

fn has_libx265() -> bool {
    let Ok(out) = Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
    else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout).contains("libx265")
}

fn cache_dir() -> PathBuf {
    let d = std::env::temp_dir().join("camwire-h265-hvcc-v1");
    std::fs::create_dir_all(&d).expect("cache dir");
    d
}

/// Encodes (once; cached in the temp dir) and returns (mp4 bytes, Annex B bytes).
fn encode(e: &Encoding) -> (Vec<u8>, Vec<u8>) {
    // Tests run in parallel threads of one process: one encode at a time.
    static ENCODE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ENCODE.lock().unwrap_or_else(|p| p.into_inner());
    let dir = cache_dir();
    let mp4 = dir.join(format!("{}.mp4", e.name));
    let hevc = dir.join(format!("{}.hevc", e.name));
    if !(mp4.exists() && hevc.exists()) {
        let pid = std::process::id();
        let tmp_mp4 = dir.join(format!("{}.{pid}.tmp.mp4", e.name));
        let tmp_hevc = dir.join(format!("{}.{pid}.tmp.hevc", e.name));
        let run = |args: &[&str]| {
            let out = Command::new("ffmpeg")
                .args(["-v", "error", "-y"])
                .args(args)
                .output()
                .expect("run ffmpeg");
            assert!(
                out.status.success(),
                "ffmpeg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let src = format!("testsrc2=size={}:rate=25", e.size);
        run(&[
            "-f",
            "lavfi",
            "-i",
            &src,
            "-frames:v",
            "2",
            "-pix_fmt",
            e.pix_fmt,
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            e.x265_params,
            "-tag:v",
            "hvc1",
            tmp_mp4.to_str().unwrap(),
        ]);
        run(&[
            "-i",
            tmp_mp4.to_str().unwrap(),
            "-c",
            "copy",
            "-bsf:v",
            "hevc_mp4toannexb",
            "-f",
            "hevc",
            tmp_hevc.to_str().unwrap(),
        ]);
        std::fs::rename(&tmp_mp4, &mp4).unwrap();
        std::fs::rename(&tmp_hevc, &hevc).unwrap();
    }
    (std::fs::read(&mp4).unwrap(), std::fs::read(&hevc).unwrap())
}

/// The body of the first `hvcC` box in an MP4 file (walks moov/trak/mdia/minf/stbl/stsd).
fn hvcc_body(mp4: &[u8]) -> Vec<u8> {
    use crate::fmp4::find_path;
    let stsd =
        find_path(mp4, &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]).expect("stsd");
    // stsd: version/flags 4, entry_count 4, then the hvc1 entry: size 4, type 4, 78 bytes of
    // VisualSampleEntry, then its child boxes.
    assert_eq!(&stsd[12..16], b"hvc1");
    let entry_len = u32::from_be_bytes(stsd[8..12].try_into().unwrap()) as usize;
    let children = &stsd[8 + 8 + 78..8 + entry_len];
    crate::fmp4::find_child(children, b"hvcC")
        .expect("hvcC")
        .to_vec()
}

/// First VPS, SPS, PPS and the declarative prefix SEIs before the first slice of an Annex B
/// stream: buffering-period (0) and picture-timing (1) SEIs belong to the first access unit,
/// not to the encoder's headers, so they are left out.
fn first_parameter_sets(annexb_data: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let (mut vps, mut sps, mut pps, mut sei) = (None, None, None, Vec::new());
    for r in annexb::nal_ranges(annexb_data) {
        let n = &annexb_data[r];
        let t = nal::nal_type(n[0]);
        match t {
            nal::VPS => vps = vps.or(Some(n.to_vec())),
            nal::SPS => sps = sps.or(Some(n.to_vec())),
            nal::PPS => pps = pps.or(Some(n.to_vec())),
            nal::PREFIX_SEI if !matches!(n.get(2), Some(0 | 1)) => sei.push(n.to_vec()),
            t if nal::is_vcl(t) => break,
            _ => {}
        }
    }
    (vps.unwrap(), sps.unwrap(), pps.unwrap(), sei)
}

fn built_hvcc(hevc: &[u8]) -> HevcDecoderConfig {
    let (vps, sps, pps, sei) = first_parameter_sets(hevc);
    let sei: Vec<&[u8]> = sei.iter().map(Vec::as_slice).collect();
    HevcDecoderConfig::from_parameter_sets(&vps, &sps, &pps)
        .unwrap()
        .with_prefix_sei(&sei)
        .unwrap()
}

#[test]
fn hvcc_is_byte_identical_to_ffmpeg_for_x265_encodings() {
    if !has_libx265() {
        eprintln!("SKIPPED: ffmpeg without libx265 (ffmpeg -encoders lists no libx265)");
        return;
    }
    let mut sizes = Vec::new();
    for e in ENCODINGS {
        let (mp4, hevc) = encode(e);
        let expected = hvcc_body(&mp4);
        let c = built_hvcc(&hevc);
        assert_eq!(
            c.to_bytes().unwrap(),
            expected,
            "{}: hvcC differs from FFmpeg's",
            e.name
        );
        let sps = c.sps_info();
        sizes.push((
            e.name,
            sps.width(),
            sps.height(),
            c.profile_idc,
            c.level_idc,
        ));
    }
    // The parsed sizes are the requested ones (cropping applied), and the profiles are right.
    let by_name = |n: &str| *sizes.iter().find(|s| s.0 == n).unwrap();
    let full_hd = by_name("main_1920x1080_crop");
    assert_eq!((full_hd.1, full_hd.2), (1920, 1080));
    let crop = by_name("main_638x360_crop");
    assert_eq!((crop.1, crop.2), (638, 360));
    assert_eq!(by_name("main10_640x360").3, 2);
    assert_eq!(by_name("rext_444_176x144").3, 4);
    assert_eq!(by_name("main_high_tier_l51").4, 153);
}

#[test]
fn x265_sps_fields() {
    if !has_libx265() {
        eprintln!("SKIPPED: ffmpeg without libx265");
        return;
    }
    let find = |n: &str| ENCODINGS.iter().find(|e| e.name == n).unwrap();
    let (_, hevc) = encode(find("main_1920x1080_crop"));
    let (_, sps, _, _) = first_parameter_sets(&hevc);
    let sps = Sps::parse(&sps).unwrap();
    assert_eq!((sps.coded_width, sps.coded_height), (1920, 1088));
    assert_eq!(sps.cropping.bottom, 8);
    assert_eq!(sps.frame_rate(), Some((25, 1)));
    assert!(sps.vui_error.is_none());
    let (_, hevc) = encode(find("main10_640x360"));
    let (_, sps, _, _) = first_parameter_sets(&hevc);
    let sps = Sps::parse(&sps).unwrap();
    assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (10, 10));
    let (_, hevc) = encode(find("main_temporal_layers"));
    let (vps, sps, _, _) = first_parameter_sets(&hevc);
    let sps = Sps::parse(&sps).unwrap();
    assert!(sps.max_sub_layers > 1, "{}", sps.max_sub_layers);
    assert_eq!(
        sps.profile_tier_level.sub_layers.len(),
        usize::from(sps.max_sub_layers) - 1
    );
    assert_eq!(Vps::parse(&vps).unwrap().max_sub_layers, sps.max_sub_layers);
    let (_, hevc) = encode(find("main_hrd"));
    let (_, sps, _, _) = first_parameter_sets(&hevc);
    let sps = Sps::parse(&sps).unwrap();
    let vui = sps.vui.as_ref().expect("vui");
    assert!(vui.hrd_present);
    assert!(sps.vui_error.is_none());
    let (_, hevc) = encode(find("rext_422_10_352x288"));
    let (_, sps, _, _) = first_parameter_sets(&hevc);
    assert_eq!(Sps::parse(&sps).unwrap().chroma_format_idc, 2);
}

/// GStreamer's `gst_codec_utils_caps_get_mime_codec` on the same hvcC records, through
/// Debian's python3-gi. Skipped when GStreamer's Python bindings are missing.
#[test]
fn codec_string_matches_gstreamer() {
    if !has_libx265() {
        eprintln!("SKIPPED: ffmpeg without libx265");
        return;
    }
    let python = Path::new("/usr/bin/python3");
    let probe = Command::new(python)
        .args(["-c", "import gi; gi.require_version('GstPbutils','1.0')"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: no GStreamer Python bindings (python3-gi, gir1.2-gst-plugins-base)");
        return;
    }
    let mut hexes = Vec::new();
    let mut ours = Vec::new();
    for e in ENCODINGS {
        let (_, hevc) = encode(e);
        let c = built_hvcc(&hevc);
        let rec = c.to_bytes().unwrap();
        hexes.push(rec.iter().map(|b| format!("{b:02x}")).collect::<String>());
        ours.push(c.codec_string());
    }
    let script = [
        "import sys, gi",
        "gi.require_version('Gst','1.0'); gi.require_version('GstPbutils','1.0')",
        "from gi.repository import Gst, GstPbutils",
        "Gst.init(None)",
        "for h in sys.argv[1:]:",
        "    caps = Gst.Caps.from_string('video/x-h265,stream-format=hvc1,alignment=au')",
        "    caps.set_value('codec_data', Gst.Buffer.new_wrapped(bytes.fromhex(h)))",
        "    print(GstPbutils.codec_utils_caps_get_mime_codec(caps))",
    ]
    .join("\n");
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(&hexes)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gst: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(gst.len(), ours.len());
    for ((e, g), o) in ENCODINGS.iter().zip(&gst).zip(&ours) {
        // GStreamer 1.22 writes `L` whatever general_tier_flag says; 14496-15 E.3 wants `H`
        // for the high tier (the record byte-identical to FFmpeg's has the tier bit set).
        let g = if e.name.contains("high_tier") {
            g.replacen(".L", ".H", 1)
        } else {
            g.clone()
        };
        assert!(
            g.eq_ignore_ascii_case(o),
            "{}: GStreamer {g}, ours {o}",
            e.name
        );
    }
}

//! Tests of the parsers against real parameter sets (libx264 and the committed simulator clip,
//! expected values from ffprobe), synthetic ones for syntax x264 never writes, camera quirks,
//! and malformed input.

use super::annexb::nal_ranges;
use super::testdata::{
    BitWriter, CLIPS, SLICE_B, SLICE_IDR, SLICE_P, SPS_SAR_7_5, XorShift, clip, hex,
};
use super::*;

fn fps_of(c: &testdata::Clip) -> f64 {
    f64::from(c.fps.0) / f64::from(c.fps.1)
}

// ---------------------------------------------------------------------------------------------
// Real streams

#[test]
fn real_sps_match_ffprobe() {
    for c in CLIPS {
        let sps = Sps::parse(&hex(c.sps)).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(sps.width(), c.width, "{}", c.name);
        assert_eq!(sps.height(), c.height, "{}", c.name);
        let fps = sps.fps().expect("timing info");
        assert!((fps - fps_of(c)).abs() < 1e-9, "{}: fps {fps}", c.name);
        assert_eq!(sps.profile_name(), c.profile, "{}", c.name);
        assert_eq!(sps.profile_idc, c.profile_idc, "{}", c.name);
        assert_eq!(sps.level_idc, c.level_idc, "{}", c.name);
        assert_eq!(sps.max_num_reorder_frames(), Some(c.reorder), "{}", c.name);
        assert_eq!(sps.vui_error, None, "{}", c.name);
        assert_eq!(sps.sps_id, 0);
    }
}

#[test]
fn real_pps_match_ffprobe() {
    for c in CLIPS {
        let pps = Pps::parse(&hex(c.pps)).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(pps.pps_id, 0, "{}", c.name);
        assert_eq!(pps.sps_id, 0, "{}", c.name);
        assert_eq!(pps.entropy_coding_mode, c.cabac, "{}", c.name);
        assert_eq!(pps.num_slice_groups, 1);
        // x264 writes transform_8x8_mode_flag = 1 for High profiles and no PPS tail otherwise.
        assert_eq!(pps.transform_8x8_mode, c.profile_idc >= 100, "{}", c.name);
    }
}

#[test]
fn sps_1080p_cropping_and_fields() {
    // trace_headers: 120x68 MBs, crop bottom 4 (8 luma rows), POC type 0, 4 refs.
    let sps = Sps::parse(&hex(clip("1920x1080").sps)).expect("sps");
    assert_eq!(sps.pic_width_in_mbs, 120);
    assert_eq!(sps.pic_height_in_map_units, 68);
    assert_eq!((sps.coded_width(), sps.coded_height()), (1920, 1088));
    assert_eq!(
        sps.cropping,
        Some(Cropping {
            left: 0,
            right: 0,
            top: 0,
            bottom: 4
        })
    );
    assert!(sps.frame_mbs_only && sps.direct_8x8_inference);
    assert_eq!(
        (
            sps.chroma_format_idc,
            sps.bit_depth_luma,
            sps.bit_depth_chroma
        ),
        (1, 8, 8)
    );
    assert_eq!(sps.log2_max_frame_num, 4);
    assert_eq!(
        sps.pic_order_cnt,
        PicOrderCnt::Type0 {
            log2_max_pic_order_cnt_lsb: 6
        }
    );
    assert_eq!(sps.max_num_ref_frames, 4);
    assert!(!sps.seq_scaling_matrix_present);
}

#[test]
fn sps_sim_clip_fields() {
    // trace_headers: POC type 2, 3 refs, 40x23 MBs, crop bottom 4, SAR 1:1, 50/1 ticks,
    // max_dec_frame_buffering 3.
    let sps = Sps::parse(&hex(clip("sim_clip").sps)).expect("sps");
    assert_eq!(sps.pic_order_cnt, PicOrderCnt::Type2);
    assert_eq!(sps.max_num_ref_frames, 3);
    assert!(sps.constraint_set(1) && !sps.constraint_set(0));
    assert_eq!(sps.sample_aspect_ratio(), Some((1, 1)));
    let vui = sps.vui.as_ref().expect("vui");
    let timing = vui.timing.expect("timing");
    assert_eq!((timing.num_units_in_tick, timing.time_scale), (1, 50));
    assert!(!timing.fixed_frame_rate);
    let br = vui.bitstream_restriction.expect("restriction");
    assert_eq!(
        (br.max_num_reorder_frames, br.max_dec_frame_buffering),
        (0, 3)
    );
    assert_eq!(br.log2_max_mv_length_horizontal, 10);
}

#[test]
fn sps_high_422_10bit() {
    let sps = Sps::parse(&hex(clip("1280x720 high 4:2:2").sps)).expect("sps");
    assert_eq!(sps.chroma_format_idc, 2);
    assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (10, 10));
    assert_eq!(sps.chroma_array_type(), 2);
}

#[test]
fn sps_high_444() {
    let sps = Sps::parse(&hex(clip("320x240").sps)).expect("sps");
    assert_eq!(sps.chroma_format_idc, 3);
    assert!(!sps.separate_colour_plane);
    assert_eq!(sps.bit_depth_luma, 8);
}

#[test]
fn sps_interlaced_frame_height_counts_both_fields() {
    // 576 lines = 18 field-MB rows x 2 fields x 16.
    let sps = Sps::parse(&hex(clip("720x576").sps)).expect("sps");
    assert!(!sps.frame_mbs_only);
    assert_eq!(sps.pic_height_in_map_units, 18);
    assert_eq!(sps.height(), 576);
    assert_eq!(sps.cropping, None);
}

#[test]
fn sps_hrd_parameters_are_read_and_skipped() {
    // trace_headers: bit_rate_scale 1, value_minus1 15624 -> 2 000 000 bit/s; cpb_size_scale 3
    // -> 2 000 000 bits; cbr; delay lengths 19/13/7, time_offset_length 0; then the bitstream
    // restriction after it must still line up: reorder 2, dec buffering 4.
    let sps = Sps::parse(&hex(clip("1280x720 high, nal-hrd").sps)).expect("sps");
    let vui = sps.vui.as_ref().expect("vui");
    let hrd = vui.nal_hrd.expect("nal hrd");
    assert_eq!(hrd.cpb_count, 1);
    assert_eq!(hrd.bit_rate, 2_000_000);
    assert_eq!(hrd.cpb_size, 2_000_000);
    assert!(hrd.cbr);
    assert_eq!(
        (
            hrd.initial_cpb_removal_delay_length,
            hrd.cpb_removal_delay_length,
            hrd.dpb_output_delay_length,
            hrd.time_offset_length
        ),
        (19, 13, 7, 0)
    );
    assert_eq!(vui.vcl_hrd, None);
    assert_eq!(vui.low_delay_hrd, Some(false));
    let br = vui.bitstream_restriction.expect("restriction");
    assert_eq!(
        (br.max_num_reorder_frames, br.max_dec_frame_buffering),
        (2, 4)
    );
    assert_eq!(br.log2_max_mv_length_vertical, 11);
}

#[test]
fn sps_video_signal_and_aspect_ratio() {
    // ffprobe: SAR 40:33, color_range pc, bt709 primaries/transfer/matrix, chroma loc "center"
    // (type 1).
    let sps = Sps::parse(&hex(clip("704x480").sps)).expect("sps");
    assert_eq!(sps.sample_aspect_ratio(), Some((40, 33)));
    let vui = sps.vui.as_ref().expect("vui");
    assert_eq!(vui.aspect_ratio.map(|a| a.idc), Some(5));
    let vst = vui.video_signal_type.expect("video signal type");
    assert!(vst.full_range);
    assert_eq!(vst.video_format, 5);
    assert_eq!(vst.colour_description, Some((1, 1, 1)));
    assert_eq!(vui.chroma_loc, Some((1, 1)));
    // Explicit SAR (idc 255).
    let sps = Sps::parse(&hex(SPS_SAR_7_5)).expect("sps");
    assert_eq!(
        sps.vui.as_ref().and_then(|v| v.aspect_ratio).map(|a| a.idc),
        Some(255)
    );
    assert_eq!(sps.sample_aspect_ratio(), Some((7, 5)));
    assert_eq!((sps.width(), sps.height()), (704, 480));
}

#[test]
fn slice_headers_of_real_slices() {
    let idr = SliceHeader::parse(&hex(SLICE_IDR)).expect("idr");
    assert!(idr.is_idr && idr.is_first_slice());
    assert_eq!(
        (idr.slice_type, idr.slice_type_raw, idr.pps_id),
        (SliceType::I, 7, 0)
    );
    assert_eq!(idr.nal_ref_idc, 3);
    let p = SliceHeader::parse(&hex(SLICE_P)).expect("p");
    assert!(!p.is_idr && p.is_first_slice());
    assert_eq!((p.slice_type, p.slice_type_raw), (SliceType::P, 5));
    let b = SliceHeader::parse(&hex(SLICE_B)).expect("b");
    assert_eq!(
        (b.slice_type, b.slice_type_raw, b.nal_ref_idc),
        (SliceType::B, 6, 0)
    );
    assert!(!b.slice_type.is_intra() && idr.slice_type.is_intra());
}

#[test]
fn slice_header_second_slice_and_wrong_type() {
    // first_mb_in_slice = 300, slice_type 0 (P), pps 1.
    let nal = BitWriter::new().ue(300).ue(0).ue(1).nal(0x41);
    let s = SliceHeader::parse(&nal).expect("slice");
    assert_eq!(
        (s.first_mb_in_slice, s.slice_type, s.pps_id),
        (300, SliceType::P, 1)
    );
    assert!(!s.is_first_slice());
    assert_eq!(
        SliceHeader::parse(&hex(clip("sim").sps)),
        Err(H264Error::WrongNalType {
            expected: "coded slice",
            found: 7
        })
    );
    let bad_type = BitWriter::new().ue(0).ue(10).ue(0).nal(0x41);
    assert!(matches!(
        SliceHeader::parse(&bad_type),
        Err(H264Error::OutOfRange {
            field: "slice_type",
            value: 10
        })
    ));
}

#[test]
fn sim_clip_file_end_to_end() {
    let data = include_bytes!("../../testdata/sim_clip.h264");
    let nals: Vec<&[u8]> = nal_ranges(data).into_iter().map(|r| &data[r]).collect();
    let sps = nals
        .iter()
        .find(|n| nal::nal_type(n[0]) == nal::SPS)
        .expect("sps");
    let pps = nals
        .iter()
        .find(|n| nal::nal_type(n[0]) == nal::PPS)
        .expect("pps");
    let cfg = AvcDecoderConfig::from_parameter_sets(sps, pps).expect("config");
    assert_eq!(
        (cfg.sps_info().width(), cfg.sps_info().height()),
        (640, 360)
    );
    assert_eq!(cfg.sps_info().fps(), Some(25.0));
    assert_eq!(cfg.sps_info().profile_name(), "Main");
    assert_eq!(cfg.codec_string(), "avc1.4d401e");
    assert_eq!(cfg.to_bytes(), hex(clip("sim").ffmpeg_avcc));

    // Every slice header parses; the first picture is an IDR I picture; pictures start with
    // first_mb_in_slice 0; the clip has no B slices (POC type 2) and repeats IDRs.
    let slices: Vec<SliceHeader> = nals
        .iter()
        .filter(|n| nal::is_vcl(nal::nal_type(n[0])))
        .map(|n| SliceHeader::parse(n).expect("slice header"))
        .collect();
    assert!(!slices.is_empty());
    assert!(slices[0].is_idr && slices[0].slice_type == SliceType::I);
    assert!(slices.iter().all(|s| s.pps_id == 0));
    assert!(slices.iter().all(|s| s.slice_type != SliceType::B));
    assert!(slices.iter().filter(|s| s.is_first_slice()).count() >= 2);
    assert!(slices.iter().all(|s| !s.is_idr || s.slice_type.is_intra()));
}

// ---------------------------------------------------------------------------------------------
// avcC

#[test]
fn avcc_bytes_equal_what_ffmpeg_writes() {
    for c in CLIPS {
        let cfg = AvcDecoderConfig::from_parameter_sets(&hex(c.sps), &hex(c.pps))
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(cfg.to_bytes(), hex(c.ffmpeg_avcc), "{}", c.name);
        assert_eq!(cfg.codec_string(), c.codec, "{}", c.name);
        assert_eq!(cfg.nal_length_size(), 4);
    }
}

#[test]
fn avcc_round_trip() {
    for c in CLIPS {
        let cfg = AvcDecoderConfig::from_parameter_sets(&hex(c.sps), &hex(c.pps)).expect("cfg");
        let parsed = AvcDecoderConfig::parse(&cfg.to_bytes()).expect("parse");
        assert_eq!(parsed, cfg, "{}", c.name);
        assert_eq!(parsed.sps(), &hex(c.sps)[..]);
        assert_eq!(parsed.pps(), &hex(c.pps)[..]);
        assert_eq!(parsed.sps_info().width(), c.width);
        // The record ffmpeg wrote reads back the same way.
        let from_ffmpeg = AvcDecoderConfig::parse(&hex(c.ffmpeg_avcc)).expect("ffmpeg avcC");
        assert_eq!(from_ffmpeg, cfg, "{}", c.name);
    }
}

#[test]
fn avcc_reader_edge_cases() {
    let c = clip("1920x1080");
    let good = hex(c.ffmpeg_avcc);
    // Without the High-profile extension (older writers): still fine.
    let without_ext = &good[..good.len() - 4];
    assert!(AvcDecoderConfig::parse(without_ext).is_ok());
    // Trailing bytes after the record are ignored.
    let mut longer = good.clone();
    longer.extend_from_slice(&[1, 2, 3]);
    assert!(AvcDecoderConfig::parse(&longer).is_ok());
    // Two-byte NAL lengths are kept and written back.
    let mut two = good.clone();
    two[4] = 0xfd;
    let cfg = AvcDecoderConfig::parse(&two).expect("2-byte lengths");
    assert_eq!(cfg.nal_length_size(), 2);
    assert_eq!(cfg.to_bytes(), two);
    // lengthSizeMinusOne = 2 is not allowed.
    let mut three = good.clone();
    three[4] = 0xfe;
    assert!(matches!(
        AvcDecoderConfig::parse(&three),
        Err(H264Error::InvalidAvcC(_))
    ));
    // Version 2.
    let mut v2 = good.clone();
    v2[0] = 2;
    assert!(matches!(
        AvcDecoderConfig::parse(&v2),
        Err(H264Error::Unsupported(_))
    ));
    // No SPS.
    assert_eq!(
        AvcDecoderConfig::parse(&[1, 0x64, 0, 0x28, 0xff, 0xe0, 0]),
        Err(H264Error::InvalidAvcC("no SPS"))
    );
    // Every truncation fails cleanly (up to the end of the PPS).
    for len in 0..good.len() - 4 {
        assert!(AvcDecoderConfig::parse(&good[..len]).is_err(), "len {len}");
    }
}

#[test]
fn from_parameter_sets_rejects_wrong_types() {
    let c = clip("sim");
    assert!(matches!(
        AvcDecoderConfig::from_parameter_sets(&hex(c.pps), &hex(c.pps)),
        Err(H264Error::WrongNalType {
            expected: "SPS",
            found: 8
        })
    ));
    assert!(matches!(
        AvcDecoderConfig::from_parameter_sets(&hex(c.sps), &hex(c.sps)),
        Err(H264Error::WrongNalType {
            expected: "PPS",
            found: 7
        })
    ));
    assert_eq!(
        AvcDecoderConfig::from_parameter_sets(&hex(c.sps), &[]),
        Err(H264Error::Truncated)
    );
}

// ---------------------------------------------------------------------------------------------
// Camera quirks

#[test]
fn quirk_one_trailing_byte_after_sps_rbsp() {
    for c in CLIPS {
        let good = Sps::parse(&hex(c.sps)).expect("sps");
        for extra in [0x00u8, 0x80, 0xff, 0x0a, 0x01] {
            let mut nal = hex(c.sps);
            nal.push(extra);
            assert_eq!(
                Sps::parse(&nal).as_ref(),
                Ok(&good),
                "{} + {extra:02x}",
                c.name
            );
        }
    }
}

#[test]
fn quirk_missing_rbsp_trailing_bits() {
    // The sim SPS ends in 0x48 = 0100_1000: the 1 at bit 4 is rbsp_stop_one_bit (trace_headers
    // bit 180). Clearing it leaves an SPS without trailing bits.
    let c = clip("sim");
    let good = Sps::parse(&hex(c.sps)).expect("sps");
    let mut nal = hex(c.sps);
    *nal.last_mut().expect("byte") = 0x40;
    assert_eq!(Sps::parse(&nal), Ok(good.clone()));
    // And an SPS whose VUI is present but whose stop bit byte is dropped entirely.
    let without_last = &hex(c.sps)[..c.sps.len() / 2 - 1];
    let sps = Sps::parse(without_last).expect("cut sps");
    assert_eq!((sps.width(), sps.height()), (640, 360));
}

#[test]
fn quirk_truncated_vui_keeps_size_and_what_was_read() {
    // Cut the sim SPS at every length inside the VUI. The VUI starts at bit 75 (byte 9 of the
    // NAL); timing info ends at RBSP bit 153, byte 21 of the NAL with its two
    // emulation-prevention bytes. Size and profile always survive; fps survives once the timing
    // group is complete; the problem is reported in vui_error.
    let c = clip("sim");
    let full = hex(c.sps);
    for len in 10..full.len() - 1 {
        let sps = Sps::parse(&full[..len]).unwrap_or_else(|e| panic!("len {len}: {e}"));
        assert_eq!((sps.width(), sps.height()), (640, 360), "len {len}");
        assert_eq!(sps.profile_idc, 77);
        let vui = sps.vui.as_ref().expect("vui present");
        if len >= 11 {
            // aspect_ratio_idc ends at bit 84.
            assert_eq!(vui.aspect_ratio.map(|a| a.idc), Some(1), "len {len}");
        }
        if len >= 22 {
            assert_eq!(sps.fps(), Some(25.0), "len {len}");
        }
        if len <= 13 {
            assert_eq!(sps.fps(), None, "len {len}");
        }
        if len < full.len() - 2 {
            assert!(sps.vui_error.is_some(), "len {len}");
            assert_eq!(vui.bitstream_restriction, None, "len {len}");
        }
    }
    // A cut before the VUI (inside the cropping offsets) is an error: no size without them.
    assert_eq!(Sps::parse(&full[..8]), Err(H264Error::Truncated));
}

#[test]
fn quirk_corrupt_vui_value_keeps_size() {
    // The hrd clip with max_dec_frame_buffering rewritten out of range still gives its size;
    // the error names the field. Built synthetically: a VUI with timing and a bitstream
    // restriction claiming 40 reorder frames.
    let mut w = BitWriter::new();
    w.u(8, 77).u(8, 0x40).u(8, 30).ue(0); // Main, level 3.0, sps 0
    w.ue(0).ue(2).ue(1).flag(false); // frame_num, POC type 2, 1 ref, no gaps
    w.ue(39).ue(22).flag(true).flag(true).flag(false); // 640x368, frame_mbs_only, direct8x8
    w.flag(true); // vui
    w.flag(false).flag(false).flag(false).flag(false); // no aspect/overscan/signal/chroma loc
    w.flag(true).u(32, 1001).u(32, 60000).flag(true); // timing 29.97
    w.flag(false).flag(false).flag(false); // no HRD, pic_struct
    w.flag(true)
        .flag(true)
        .ue(0)
        .ue(0)
        .ue(16)
        .ue(16)
        .ue(40)
        .ue(40);
    let sps = Sps::parse(&w.nal(0x67)).expect("sps");
    assert_eq!((sps.width(), sps.height()), (640, 368));
    assert!((sps.fps().expect("fps") - 29.97).abs() < 0.001);
    assert!(matches!(
        sps.vui_error,
        Some(H264Error::OutOfRange {
            field: "max_dec_frame_buffering",
            value: 40
        })
    ));
}

#[test]
fn quirk_trailing_zero_bytes() {
    for c in CLIPS {
        let good = Sps::parse(&hex(c.sps)).expect("sps");
        let mut nal = hex(c.sps);
        nal.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(Sps::parse(&nal).as_ref(), Ok(&good), "{}", c.name);
        let mut pps = hex(c.pps);
        pps.extend_from_slice(&[0, 0]);
        assert_eq!(Pps::parse(&pps), Pps::parse(&hex(c.pps)), "{}", c.name);
        // The avcC holds the NAL units without the zeros (what ffmpeg writes).
        let cfg = AvcDecoderConfig::from_parameter_sets(&nal, &pps).expect("cfg");
        assert_eq!(cfg.to_bytes(), hex(c.ffmpeg_avcc), "{}", c.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic SPSs for syntax libx264 does not produce

/// Writes profile/constraints/level/sps_id and, for high profiles, the chroma fields.
fn sps_start(w: &mut BitWriter, profile: u8, chroma: u32, separate: bool, depth_m8: u32) {
    w.u(8, u64::from(profile)).u(8, 0).u(8, 40).ue(3);
    if matches!(profile, 100 | 110 | 122 | 244) {
        w.ue(chroma);
        if chroma == 3 {
            w.flag(separate);
        }
        w.ue(depth_m8).ue(depth_m8).flag(false);
        w.flag(false); // no scaling matrix
    }
}

#[test]
fn scaling_lists_are_skipped_exactly() {
    let mut w = BitWriter::new();
    w.u(8, 100).u(8, 0).u(8, 41).ue(1); // High, level 4.1, sps 1
    w.ue(1).ue(0).ue(0).flag(false); // 4:2:0, 8-bit, no bypass
    w.flag(true); // seq_scaling_matrix_present_flag
    // list 0: full 4x4 list with varied deltas, including both range ends.
    w.flag(true);
    for j in 0..16 {
        w.se(match j {
            0 => 127,
            1 => -128,
            _ => (j % 7) - 3,
        });
    }
    // list 1: delta -8 makes nextScale 0 at once: no more deltas ("use default").
    w.flag(true).se(-8);
    // lists 2..5 absent
    for _ in 2..6 {
        w.flag(false);
    }
    // list 6 (8x8 intra Y): 64 deltas; list 7: stops halfway via nextScale 0.
    w.flag(true);
    for j in 0..64 {
        w.se((j % 5) - 2);
    }
    w.flag(true);
    let mut last = 8i32;
    for j in 0..32 {
        let d = if j == 31 { -last } else { 1 };
        w.se(d);
        last += d;
    }
    // Rest of the SPS: frame_num 8 bits, POC type 0 lsb 8 bits, 2 refs, 1280x720 (crop 0).
    w.ue(4).ue(0).ue(4).ue(2).flag(false);
    w.ue(79).ue(44).flag(true).flag(true).flag(false);
    w.flag(true); // VUI with timing 30 fps only
    w.flag(false).flag(false).flag(false).flag(false);
    w.flag(true).u(32, 1).u(32, 60).flag(true);
    w.flag(false).flag(false).flag(false).flag(false);
    let sps = Sps::parse(&w.nal(0x67)).expect("sps");
    assert!(sps.seq_scaling_matrix_present);
    assert_eq!(sps.sps_id, 1);
    assert_eq!(sps.log2_max_frame_num, 8);
    assert_eq!(
        sps.pic_order_cnt,
        PicOrderCnt::Type0 {
            log2_max_pic_order_cnt_lsb: 8
        }
    );
    assert_eq!(sps.max_num_ref_frames, 2);
    assert_eq!((sps.width(), sps.height()), (1280, 720));
    assert_eq!(sps.fps(), Some(30.0));
    assert_eq!(sps.vui_error, None);

    // A delta_scale outside -128..=127 is an error naming the field.
    let mut w = BitWriter::new();
    w.u(8, 100)
        .u(8, 0)
        .u(8, 41)
        .ue(0)
        .ue(1)
        .ue(0)
        .ue(0)
        .flag(false)
        .flag(true);
    w.flag(true).se(128);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange {
            field: "delta_scale",
            value: 128
        })
    ));
}

#[test]
fn scaling_lists_444_has_twelve() {
    // 4:4:4 has 12 lists: mark the last 6 (8x8) present with "use default" (delta -8).
    let mut w = BitWriter::new();
    w.u(8, 244)
        .u(8, 0)
        .u(8, 30)
        .ue(0)
        .ue(3)
        .flag(false)
        .ue(0)
        .ue(0)
        .flag(false);
    w.flag(true);
    for n in 0..12 {
        if n < 6 {
            w.flag(false);
        } else {
            w.flag(true).se(-8);
        }
    }
    w.ue(0)
        .ue(2)
        .ue(1)
        .flag(false)
        .ue(19)
        .ue(14)
        .flag(true)
        .flag(true)
        .flag(false)
        .flag(false);
    let sps = Sps::parse(&w.nal(0x67)).expect("sps");
    assert_eq!((sps.width(), sps.height()), (320, 240));
    assert_eq!(sps.pic_order_cnt, PicOrderCnt::Type2);
}

#[test]
fn poc_type_1_cycle() {
    let mut w = BitWriter::new();
    sps_start(&mut w, 77, 1, false, 0);
    w.ue(0)
        .ue(1)
        .flag(false)
        .se(-2)
        .se(5)
        .ue(3)
        .se(2)
        .se(-2)
        .se(0);
    w.ue(2)
        .flag(true)
        .ue(21)
        .ue(17)
        .flag(true)
        .flag(true)
        .flag(false)
        .flag(false);
    let sps = Sps::parse(&w.nal(0x67)).expect("sps");
    assert_eq!(
        sps.pic_order_cnt,
        PicOrderCnt::Type1 {
            delta_pic_order_always_zero: false,
            offset_for_non_ref_pic: -2,
            offset_for_top_to_bottom_field: 5,
            offsets_for_ref_frame: vec![2, -2, 0],
        }
    );
    assert!(sps.gaps_in_frame_num_allowed);
    assert_eq!((sps.width(), sps.height()), (352, 288));
    assert_eq!(sps.vui, None);
    assert_eq!(sps.fps(), None);

    // 256 offsets is over the bound: refused before anything is allocated.
    let mut w = BitWriter::new();
    sps_start(&mut w, 77, 1, false, 0);
    w.ue(0).ue(1).flag(false).se(0).se(0).ue(256);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange {
            field: "num_ref_frames_in_pic_order_cnt_cycle",
            value: 256
        })
    ));
}

#[test]
fn cropping_units_follow_chroma_format_and_field_coding() {
    // 4:2:2 interlaced (MBAFF): CropUnitX = 2, CropUnitY = SubHeightC(1) * 2 = 2.
    let mut w = BitWriter::new();
    sps_start(&mut w, 122, 2, false, 2);
    w.ue(0).ue(2).ue(1).flag(false).ue(119).ue(33); // 1920 x (34*2*16 = 1088)
    w.flag(false).flag(true).flag(true); // field coding, MBAFF, direct8x8
    w.flag(true).ue(1).ue(2).ue(0).ue(4); // crop 3*2 = 6 columns, 4*2 = 8 rows
    w.flag(false);
    let sps = Sps::parse(&w.nal(0x67)).expect("sps");
    assert!(!sps.frame_mbs_only && sps.mb_adaptive_frame_field);
    assert_eq!((sps.width(), sps.height()), (1914, 1080));
    assert_eq!(sps.bit_depth_luma, 10);
    assert_eq!(sps.profile_name(), "High 4:2:2");

    // 4:4:4 with separate colour planes: ChromaArrayType 0, crop units 1 x 1.
    let mut w = BitWriter::new();
    sps_start(&mut w, 244, 3, true, 0);
    w.ue(0)
        .ue(2)
        .ue(1)
        .flag(false)
        .ue(9)
        .ue(9)
        .flag(true)
        .flag(true);
    w.flag(true).ue(1).ue(2).ue(3).ue(4).flag(false);
    let sps = Sps::parse(&w.nal(0x67)).expect("sps");
    assert!(sps.separate_colour_plane);
    assert_eq!(sps.chroma_array_type(), 0);
    assert_eq!((sps.width(), sps.height()), (157, 153));

    // Monochrome (4:0:0 High): crop units 1 x 1.
    let mut w = BitWriter::new();
    sps_start(&mut w, 100, 0, false, 0);
    w.ue(0)
        .ue(2)
        .ue(1)
        .flag(false)
        .ue(9)
        .ue(9)
        .flag(true)
        .flag(true);
    w.flag(true).ue(0).ue(1).ue(0).ue(1).flag(false);
    let sps = Sps::parse(&w.nal(0x67)).expect("sps");
    assert_eq!((sps.width(), sps.height()), (159, 159));

    // 4:2:0 progressive: 2 x 2.
    let mut w = BitWriter::new();
    sps_start(&mut w, 66, 1, false, 0);
    w.ue(0)
        .ue(2)
        .ue(1)
        .flag(false)
        .ue(9)
        .ue(9)
        .flag(true)
        .flag(true);
    w.flag(true).ue(1).ue(1).ue(1).ue(1).flag(false);
    let sps = Sps::parse(&w.nal(0x67)).expect("sps");
    assert_eq!((sps.width(), sps.height()), (156, 156));
}

#[test]
fn out_of_range_values_are_named() {
    // Cropping that removes the whole picture.
    let mut w = BitWriter::new();
    sps_start(&mut w, 66, 1, false, 0);
    w.ue(0)
        .ue(2)
        .ue(1)
        .flag(false)
        .ue(9)
        .ue(9)
        .flag(true)
        .flag(true);
    w.flag(true).ue(40).ue(40).ue(0).ue(0).flag(false);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange {
            field: "frame_crop_left_offset + frame_crop_right_offset",
            ..
        })
    ));
    // Crop offsets of 2^32 - 2 must not overflow.
    let mut w = BitWriter::new();
    sps_start(&mut w, 66, 1, false, 0);
    w.ue(0)
        .ue(2)
        .ue(1)
        .flag(false)
        .ue(9)
        .ue(9)
        .flag(true)
        .flag(true);
    w.flag(true)
        .ue(u32::MAX - 1)
        .ue(u32::MAX - 1)
        .ue(u32::MAX - 1)
        .ue(u32::MAX - 1);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange { .. })
    ));
    // A picture wider than any level allows.
    let mut w = BitWriter::new();
    sps_start(&mut w, 66, 1, false, 0);
    w.ue(0)
        .ue(2)
        .ue(1)
        .flag(false)
        .ue(5000)
        .ue(9)
        .flag(true)
        .flag(true)
        .flag(false);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange {
            field: "pic_width_in_mbs_minus1",
            value: 5000
        })
    ));
    // chroma_format_idc 4, bit depth 16, sps id 32, 17 reference frames.
    let mut w = BitWriter::new();
    w.u(8, 100).u(8, 0).u(8, 40).ue(0).ue(4);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange {
            field: "chroma_format_idc",
            value: 4
        })
    ));
    let mut w = BitWriter::new();
    w.u(8, 100).u(8, 0).u(8, 40).ue(0).ue(1).ue(8);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange {
            field: "bit_depth_luma_minus8",
            value: 8
        })
    ));
    let mut w = BitWriter::new();
    w.u(8, 66).u(8, 0).u(8, 40).ue(32);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange {
            field: "seq_parameter_set_id",
            value: 32
        })
    ));
    let mut w = BitWriter::new();
    sps_start(&mut w, 66, 1, false, 0);
    w.ue(0).ue(2).ue(17);
    assert!(matches!(
        Sps::parse(&w.nal(0x67)),
        Err(H264Error::OutOfRange {
            field: "max_num_ref_frames",
            value: 17
        })
    ));
}

#[test]
fn not_an_sps_unknown_profile_and_size_limit() {
    let c = clip("sim");
    assert_eq!(
        Sps::parse(&hex(c.pps)),
        Err(H264Error::WrongNalType {
            expected: "SPS",
            found: 8
        })
    );
    assert_eq!(
        Pps::parse(&hex(c.sps)),
        Err(H264Error::WrongNalType {
            expected: "PPS",
            found: 7
        })
    );
    assert_eq!(Sps::parse(&[]), Err(H264Error::Truncated));
    assert_eq!(Sps::parse(&[0x67]), Err(H264Error::Truncated));
    let mut forbidden = hex(c.sps);
    forbidden[0] |= 0x80;
    assert!(matches!(
        Sps::parse(&forbidden),
        Err(H264Error::OutOfRange {
            field: "forbidden_zero_bit",
            ..
        })
    ));
    let mut unknown = hex(c.sps);
    unknown[1] = 99;
    assert!(matches!(
        Sps::parse(&unknown),
        Err(H264Error::Unsupported(_))
    ));
    let mut huge = hex(c.sps);
    huge.resize(70_000, 0x55);
    assert!(matches!(
        Sps::parse(&huge),
        Err(H264Error::TooLarge {
            len: 70_000,
            max: 65_535,
            ..
        })
    ));
    let mut huge_pps = hex(c.pps);
    huge_pps.resize(65_536, 0x55);
    assert!(matches!(
        Pps::parse(&huge_pps),
        Err(H264Error::TooLarge { .. })
    ));
}

#[test]
fn pps_with_slice_groups_is_skipped_correctly() {
    // Baseline FMO: 3 slice groups, map type 6 with 4 map units of 2-bit ids, then the rest.
    let mut w = BitWriter::new();
    w.ue(5).ue(2).flag(false).flag(true).ue(2).ue(6).ue(3);
    for id in [0u64, 1, 2, 1] {
        w.u(2, id);
    }
    w.ue(3)
        .ue(0)
        .flag(false)
        .u(2, 0)
        .se(-4)
        .se(0)
        .se(3)
        .flag(true)
        .flag(false)
        .flag(true);
    let pps = Pps::parse(&w.nal(0x68)).expect("pps");
    assert_eq!((pps.pps_id, pps.sps_id, pps.num_slice_groups), (5, 2, 3));
    assert!(!pps.entropy_coding_mode && pps.bottom_field_pic_order_in_frame_present);
    assert_eq!(pps.num_ref_idx_l0_default_active, 4);
    assert_eq!(
        (pps.pic_init_qp_minus26, pps.chroma_qp_index_offset),
        (-4, 3)
    );
    assert!(pps.deblocking_filter_control_present && pps.redundant_pic_cnt_present);
    assert!(!pps.transform_8x8_mode);
    // Map type 0 (run lengths per group) and 2 (rectangles for all but the last group).
    for map in [0u32, 2] {
        let mut w = BitWriter::new();
        w.ue(0).ue(0).flag(true).flag(false).ue(1).ue(map);
        w.ue(10).ue(20);
        w.ue(0).ue(0).flag(false).u(2, 0).se(0).se(0).se(-12);
        w.flag(false).flag(false).flag(false);
        let pps = Pps::parse(&w.nal(0x68)).expect("pps");
        assert_eq!(pps.chroma_qp_index_offset, -12, "map type {map}");
        assert_eq!(pps.num_slice_groups, 2);
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed input never panics

#[test]
fn every_truncation_of_real_parameter_sets_is_handled() {
    for c in CLIPS {
        let sps = hex(c.sps);
        for len in 0..=sps.len() {
            // Ok results must agree with the full parse on everything before the VUI.
            if let Ok(s) = Sps::parse(&sps[..len]) {
                assert_eq!(
                    (s.width(), s.height()),
                    (c.width, c.height),
                    "{} len {len}",
                    c.name
                );
                assert_eq!(s.level_idc, c.level_idc);
            }
        }
        assert!(Sps::parse(&sps[..4]).is_err());
        let pps = hex(c.pps);
        for len in 0..=pps.len() {
            if let Ok(p) = Pps::parse(&pps[..len]) {
                assert_eq!(p.entropy_coding_mode, c.cabac);
            }
        }
        let avcc = hex(c.ffmpeg_avcc);
        for len in 0..=avcc.len() {
            let _ = AvcDecoderConfig::parse(&avcc[..len]);
        }
    }
    for s in [SLICE_IDR, SLICE_P, SLICE_B] {
        let s = hex(s);
        for len in 0..=s.len() {
            let _ = SliceHeader::parse(&s[..len]);
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let headers = [0x67u8, 0x68, 0x65, 0x41, 0x01, 0x27, 0x28];
    for n in 0..5000 {
        let len = rng.below(80) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(first) = data.first_mut()
            && n % 4 != 0
        {
            *first = headers[rng.below(headers.len() as u64) as usize];
        }
        // Profiles the SPS parser knows, so random bytes get past the profile check.
        if data.len() > 1 && n % 2 == 0 {
            data[1] = [66u8, 77, 100, 110, 122, 244][rng.below(6) as usize];
        }
        let _ = Sps::parse(&data);
        let _ = Pps::parse(&data);
        let _ = SliceHeader::parse(&data);
        let _ = AvcDecoderConfig::parse(&data);
        let _ = AvcDecoderConfig::from_parameter_sets(&data, &data);
        let _ = nal::rbsp(&data);
        if let Ok(s) = Sps::parse(&data) {
            // Accessors stay total on whatever was accepted.
            let _ = (
                s.width(),
                s.height(),
                s.fps(),
                s.profile_name(),
                s.sample_aspect_ratio(),
            );
        }
    }
}

#[test]
fn mutated_real_parameter_sets_never_panic() {
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    for round in 0..3000 {
        let c = &CLIPS[round % CLIPS.len()];
        let mut sps = hex(c.sps);
        // Flip 1..4 random bits after the header, sometimes cut the end.
        for _ in 0..=rng.below(4) {
            let i = 1 + rng.below(sps.len() as u64 - 1) as usize;
            sps[i] ^= 1 << rng.below(8);
        }
        if rng.below(3) == 0 {
            let cut = rng.below(sps.len() as u64) as usize;
            sps.truncate(cut);
        }
        if let Ok(s) = Sps::parse(&sps) {
            assert!(s.width() > 0 && s.height() > 0);
            assert!(s.width() <= MAX_MBS_PER_DIMENSION * 16);
            let _ = s.fps();
            if let Ok(cfg) = AvcDecoderConfig::from_parameter_sets(&sps, &hex(c.pps)) {
                assert_eq!(AvcDecoderConfig::parse(&cfg.to_bytes()), Ok(cfg.clone()));
                let _ = cfg.codec_string();
            }
        }
        let mut pps = hex(c.pps);
        let i = rng.below(pps.len() as u64) as usize;
        pps[i] ^= 1 << rng.below(8);
        let _ = Pps::parse(&pps);
        let mut avcc = hex(c.ffmpeg_avcc);
        let i = rng.below(avcc.len() as u64) as usize;
        avcc[i] = rng.next() as u8;
        let _ = AvcDecoderConfig::parse(&avcc);
    }
}

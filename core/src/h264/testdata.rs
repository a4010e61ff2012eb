//! Real parameter sets for the tests, and a bit writer for synthetic ones.
//!
//! Generated with ffmpeg 5.1 / libx264 on testsrc2, e.g.
//! `ffmpeg -f lavfi -i testsrc2=size=1920x1080:rate=25 -frames:v 3 -c:v libx264 -profile:v high
//! -f h264 high1080.h264`; expected values are what `ffprobe -show_streams` and
//! `-bsf:v trace_headers` report for the same files. The avcC hex is what ffmpeg writes into an
//! MP4 (`-c copy out.mp4`) for the same stream.

/// One generated stream: parameter sets, the avcC ffmpeg wrote, and what ffprobe reports.
pub(crate) struct Clip {
    pub name: &'static str,
    pub sps: &'static str,
    pub pps: &'static str,
    pub ffmpeg_avcc: &'static str,
    pub width: u32,
    pub height: u32,
    /// `r_frame_rate` as a fraction.
    pub fps: (u32, u32),
    pub profile: &'static str,
    pub profile_idc: u8,
    pub level_idc: u8,
    pub codec: &'static str,
    /// ffprobe `has_b_frames` (the VUI `max_num_reorder_frames`).
    pub reorder: u32,
    pub cabac: bool,
}

pub(crate) const CLIPS: &[Clip] = &[
    // core/testdata/sim_clip.h264 (the committed simulator clip).
    Clip {
        name: "sim_clip 640x360 main",
        sps: "674d401ed900a02ff97011000003000100000300320f162e48",
        pps: "68ebccb2",
        ffmpeg_avcc: "014d401effe10019674d401ed900a02ff97011000003000100000300320f162e4801000468ebccb2",
        width: 640,
        height: 360,
        fps: (25, 1),
        profile: "Main",
        profile_idc: 77,
        level_idc: 30,
        codec: "avc1.4d401e",
        reorder: 0,
        cabac: true,
    },
    Clip {
        name: "1920x1080 high (1088 cropped)",
        sps: "67640028acd940780227e5c044000003000400000300c83c60c658",
        pps: "68ebe3cb22c0",
        ffmpeg_avcc: "01640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801000668ebe3cb22c0fdf8f800",
        width: 1920,
        height: 1080,
        fps: (25, 1),
        profile: "High",
        profile_idc: 100,
        level_idc: 40,
        codec: "avc1.640028",
        reorder: 2,
        cabac: true,
    },
    Clip {
        name: "352x288 baseline",
        sps: "6742c00dd9016096c044000003000400000300c83c50a920",
        pps: "68cb83cb20",
        ffmpeg_avcc: "0142c00dffe100186742c00dd9016096c044000003000400000300c83c50a92001000568cb83cb20",
        width: 352,
        height: 288,
        fps: (25, 1),
        profile: "Constrained Baseline",
        profile_idc: 66,
        level_idc: 13,
        codec: "avc1.42c00d",
        reorder: 0,
        cabac: false,
    },
    Clip {
        name: "640x480 main 30000/1001",
        sps: "674d401eeca0501ed808800001f480007530078b16cb",
        pps: "68ebe3cb20",
        ffmpeg_avcc: "014d401effe10016674d401eeca0501ed808800001f480007530078b16cb01000568ebe3cb20",
        width: 640,
        height: 480,
        fps: (30000, 1001),
        profile: "Main",
        profile_idc: 77,
        level_idc: 30,
        codec: "avc1.4d401e",
        reorder: 2,
        cabac: true,
    },
    Clip {
        name: "1280x720 high 4:2:2 10-bit",
        sps: "677a0020b6cd9405005bb011000003000100000300640f183196",
        pps: "68ebe3cb22c0",
        ffmpeg_avcc: "017a0020ffe1001a677a0020b6cd9405005bb011000003000100000300640f18319601000668ebe3cb22c0fefafa00",
        width: 1280,
        height: 720,
        fps: (50, 1),
        profile: "High 4:2:2",
        profile_idc: 122,
        level_idc: 32,
        codec: "avc1.7a0020",
        reorder: 2,
        cabac: true,
    },
    Clip {
        name: "320x240 high 4:4:4 predictive",
        sps: "67f4000d919b28283f6022000003000200000300641e28532c",
        pps: "68ebe3c44844",
        ffmpeg_avcc: "01f4000dffe1001967f4000d919b28283f6022000003000200000300641e28532c01000668ebe3c44844fff8f800",
        width: 320,
        height: 240,
        fps: (25, 1),
        profile: "High 4:4:4 Predictive",
        profile_idc: 244,
        level_idc: 13,
        codec: "avc1.f4000d",
        reorder: 2,
        cabac: true,
    },
    Clip {
        name: "720x576 high interlaced (tff)",
        sps: "6764001eacd940b424d8088000000300800000190f8a14cb",
        pps: "68fba3cb22c0",
        ffmpeg_avcc: "0164001effe100186764001eacd940b424d8088000000300800000190f8a14cb01000668fba3cb22c0fdf8f800",
        width: 720,
        height: 576,
        fps: (25, 1),
        profile: "High",
        profile_idc: 100,
        level_idc: 30,
        codec: "avc1.64001e",
        reorder: 2,
        cabac: true,
    },
    Clip {
        name: "800x600 high, cqm=jvt (scaling matrix in PPS)",
        sps: "6764001facd940c8137e5c0440000003004000000783c60c6580",
        pps: "68ebe3cb3002c0",
        ffmpeg_avcc: "0164001fffe1001a6764001facd940c8137e5c0440000003004000000783c60c658001000768ebe3cb3002c0fdf8f800",
        width: 800,
        height: 600,
        fps: (15, 1),
        profile: "High",
        profile_idc: 100,
        level_idc: 31,
        codec: "avc1.64001f",
        reorder: 2,
        cabac: true,
    },
    Clip {
        name: "1280x720 high, nal-hrd=cbr 2 Mbit/s",
        sps: "6764001facd9405005bb0110000003001000000303c626000f424001e84e4c30078c18cb",
        pps: "68ebecb22c",
        ffmpeg_avcc: "0164001fffe100246764001facd9405005bb0110000003001000000303c626000f424001e84e4c30078c18cb01000568ebecb22cfdf8f800",
        width: 1280,
        height: 720,
        fps: (30, 1),
        profile: "High",
        profile_idc: 100,
        level_idc: 31,
        codec: "avc1.64001f",
        reorder: 2,
        cabac: true,
    },
    Clip {
        name: "704x480 main, SAR 40:33, bt709 full range, chroma loc 1",
        sps: "674d4016eca0581ed82b7010101a5000000300100000030180f162d960",
        pps: "68ebe3cb20",
        ffmpeg_avcc: "014d4016ffe1001d674d4016eca0581ed82b7010101a5000000300100000030180f162d96001000568ebe3cb20",
        width: 704,
        height: 480,
        fps: (12, 1),
        profile: "Main",
        profile_idc: 77,
        level_idc: 22,
        codec: "avc1.4d4016",
        reorder: 2,
        cabac: true,
    },
];

/// SPS of a 704x480 stream with an explicit SAR of 7:5 (aspect_ratio_idc 255).
pub(crate) const SPS_SAR_7_5: &str = "674d4016eca0581edff80038002880000003008000000c078b16cb";

/// Starts of slices of the 1920x1080 clip: IDR (I), P, B (nal_ref_idc 0).
pub(crate) const SLICE_IDR: &str = "6588840021ffd3d6";
pub(crate) const SLICE_P: &str = "419a226c42dfd2e2";
pub(crate) const SLICE_B: &str = "019e41790b7ff0e5";

pub(crate) fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub(crate) fn clip(name_prefix: &str) -> &'static Clip {
    CLIPS
        .iter()
        .find(|c| c.name.starts_with(name_prefix))
        .expect("clip")
}

/// MSB-first bit writer for synthetic NAL units.
#[derive(Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    bit: u8,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn u(&mut self, n: u8, v: u64) -> &mut Self {
        for k in (0..n).rev() {
            self.flag((v >> k) & 1 == 1);
        }
        self
    }

    pub fn flag(&mut self, b: bool) -> &mut Self {
        if self.bit == 0 {
            self.bytes.push(0);
        }
        if b {
            let last = self.bytes.last_mut().expect("byte");
            *last |= 0x80 >> self.bit;
        }
        self.bit = (self.bit + 1) % 8;
        self
    }

    pub fn ue(&mut self, v: u32) -> &mut Self {
        let x = u64::from(v) + 1;
        let len = 64 - x.leading_zeros() as u8;
        self.u(len - 1, 0).u(len, x)
    }

    pub fn se(&mut self, v: i32) -> &mut Self {
        let k = if v > 0 {
            (2 * i64::from(v) - 1) as u32
        } else {
            (-2 * i64::from(v)) as u32
        };
        self.ue(k)
    }

    /// RBSP bytes with `rbsp_trailing_bits`.
    pub fn rbsp(&mut self) -> Vec<u8> {
        self.flag(true);
        while self.bit != 0 {
            self.flag(false);
        }
        self.bytes.clone()
    }

    /// A NAL unit: header byte, then the RBSP with emulation-prevention bytes inserted.
    pub fn nal(&mut self, header: u8) -> Vec<u8> {
        let rbsp = self.rbsp();
        let mut out = vec![header];
        let mut zeros = 0;
        for b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

/// A 320x240 Main SPS without VUI (so without a stated reorder depth), as hex.
pub(crate) fn sps_without_vui() -> String {
    BitWriter::new()
        .u(8, 77) // profile_idc Main
        .u(8, 0x40) // constraint_set1
        .u(8, 30) // level_idc
        .ue(0) // seq_parameter_set_id
        .ue(0) // log2_max_frame_num_minus4
        .ue(0) // pic_order_cnt_type
        .ue(2) // log2_max_pic_order_cnt_lsb_minus4
        .ue(3) // max_num_ref_frames
        .flag(false) // gaps_in_frame_num_value_allowed_flag
        .ue(19) // pic_width_in_mbs_minus1
        .ue(14) // pic_height_in_map_units_minus1
        .flag(true) // frame_mbs_only_flag
        .flag(true) // direct_8x8_inference_flag
        .flag(false) // frame_cropping_flag
        .flag(false) // vui_parameters_present_flag
        .nal(0x67)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic xorshift64 for the fuzz-style tests (no dependency).
pub(crate) struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

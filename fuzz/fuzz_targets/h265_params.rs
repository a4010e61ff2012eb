//! VPS, SPS, PPS parsers and the hvcC builder on arbitrary bytes.
//!
//! The input is split into three NAL units at the first two `0xff 0xfe` markers (or used
//! whole for each parser). When an SPS parses, the derived sizes must be consistent; when an
//! hvcC builds, its serialization must have the documented layout (23-byte header, three
//! arrays VPS/SPS/PPS with completeness 1 holding the given NAL units).
#![no_main]

use camwire::h265::{HevcDecoderConfig, Pps, Sps, Vps, nal};
use libfuzzer_sys::fuzz_target;

fn split3(data: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let pos = |d: &[u8]| d.windows(2).position(|w| w == [0xff, 0xfe]);
    let a = pos(data)?;
    let (vps, rest) = (&data[..a], &data[a + 2..]);
    let b = pos(rest)?;
    Some((vps, &rest[..b], &rest[b + 2..]))
}

fn check_sps(sps: &Sps) {
    assert!(sps.width() > 0 && sps.width() <= sps.coded_width);
    assert!(sps.height() > 0 && sps.height() <= sps.coded_height);
    assert_eq!(
        sps.sub_layer_ordering.len(),
        usize::from(sps.max_sub_layers)
    );
    let _ = (sps.max_num_reorder_pics(), sps.frame_rate());
}

fuzz_target!(|data: &[u8]| {
    let _ = Vps::parse(data);
    let _ = Pps::parse(data);
    if let Ok(sps) = Sps::parse(data) {
        check_sps(&sps);
    }
    let Some((vps, sps, pps)) = split3(data) else {
        return;
    };
    if let Ok(c) = HevcDecoderConfig::from_parameter_sets(vps, sps, pps) {
        check_sps(c.sps_info());
        let _ = c.codec_string();
        let rec = c.to_bytes().expect("parameter sets under 64 KiB");
        assert_eq!(rec[0], 1);
        assert_eq!(rec[21] & 3, 3, "lengthSizeMinusOne");
        assert_eq!(rec[22], 3, "three arrays");
        let mut at = 23;
        for (t, unit) in [(nal::VPS, vps), (nal::SPS, sps), (nal::PPS, pps)] {
            assert_eq!(rec[at], 0x80 | t);
            assert_eq!(&rec[at + 1..at + 3], &[0, 1]);
            let len = usize::from(u16::from_be_bytes([rec[at + 3], rec[at + 4]]));
            assert_eq!(&rec[at + 5..at + 5 + len], unit);
            at += 5 + len;
        }
        assert_eq!(at, rec.len());
    }
});

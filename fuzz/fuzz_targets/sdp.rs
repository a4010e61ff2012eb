//! SDP media sections and the sprop-parameter-sets fmtp value (then the depacketizer's
//! constructor, which consumes that value).
#![no_main]

use camwire::rtp::{DepacketizerOptions, H264Depacketizer, parse_sprop_parameter_sets};
use camwire::rtsp::sdp::media_sections;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sections) = media_sections(data) {
        for (i, m) in sections.iter().enumerate() {
            assert_eq!(m.index, i);
            let _ = m.is_h264();
            if let Some(sprop) = m.fmtp_param("sprop-parameter-sets") {
                let _ = parse_sprop_parameter_sets(sprop);
                let d = H264Depacketizer::new(DepacketizerOptions::default(), Some(sprop));
                let _ = d.parameters();
            }
        }
    }
    let _ = camwire::rtsp::sdp::h264_section(data);
    let text = String::from_utf8_lossy(data);
    if let Ok(nals) = parse_sprop_parameter_sets(&text) {
        assert!(!nals.is_empty());
        assert!(nals.iter().all(|n| !n.is_empty()));
    }
});

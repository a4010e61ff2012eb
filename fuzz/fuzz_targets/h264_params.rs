//! SPS, PPS, slice header and avcC parsers on arbitrary bytes. When an avcC record parses,
//! serializing and parsing it again must give the same configuration.
#![no_main]

use camwire::h264::{AvcDecoderConfig, Pps, SliceHeader, Sps};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sps) = Sps::parse(data) {
        // The derived values do arithmetic on parsed fields: exercise it.
        let _ = (
            sps.width(),
            sps.height(),
            sps.fps(),
            sps.sample_aspect_ratio(),
        );
        let _ = (
            sps.max_num_reorder_frames(),
            sps.profile_name(),
            sps.chroma_array_type(),
        );
    }
    let _ = Pps::parse(data);
    let _ = SliceHeader::parse(data);
    if let Ok(cfg) = AvcDecoderConfig::parse(data) {
        let _ = cfg.codec_string();
        let bytes = cfg.to_bytes();
        let again = AvcDecoderConfig::parse(&bytes).expect("serialized avcC must parse");
        assert_eq!(again, cfg, "avcC round trip changed the configuration");
    }
    // The same bytes as an SPS + PPS pair split at the first 0x68 after the start.
    if let Some(split) = data.iter().skip(1).position(|&b| b & 0x1f == 8) {
        let (sps, pps) = data.split_at(split + 1);
        if let Ok(cfg) = AvcDecoderConfig::from_parameter_sets(sps, pps) {
            let again = AvcDecoderConfig::parse(&cfg.to_bytes()).expect("built avcC must parse");
            assert_eq!(again, cfg);
        }
    }
});

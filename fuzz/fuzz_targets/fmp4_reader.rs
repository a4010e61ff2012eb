//! The fMP4 reader used by crash recovery and export: scan a file, read its init segment
//! (`avc1`/`avcC` or `hvc1`/`hvcC`, and the codec string from the record), every fragment's
//! sample table and (bounded) sample bytes, over an in-memory file. Seeds include an H.265
//! `hvc1` file (`corpus/fmp4_reader/h265_hvc1_ffmpeg.mp4`, ffmpeg `-movflags frag_keyframe`).
//! Audio tracks (`mp4a`/`esds`, `ulaw`, `alaw`; read by the scan through `parse_moov_audio`)
//! and their samples (`read_track_samples`) too; seed: `corpus/fmp4_reader/av_pcma_camwire.mp4`.
#![no_main]

use std::io::Cursor;

use camwire::fmp4::{
    read_fragment_samples, read_init, read_sample, read_track_samples, scan_fragments,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(track) = read_init(&mut Cursor::new(data)) {
        let _ = track.codec_string();
    }
    let mut file = Cursor::new(data);
    let Ok(scan) = scan_fragments(&mut file) else {
        return;
    };
    assert_eq!(scan.file_len, data.len() as u64);
    assert!(scan.valid_len <= scan.file_len, "valid_len past the end");
    let _ = (scan.is_torn(), scan.duration());
    let mut buf = Vec::new();
    for frag in &scan.fragments {
        assert!(frag.end <= scan.file_len, "fragment past the end");
        for a in &scan.audio {
            let _ = a.config.codec_string();
            let Ok(samples) = read_track_samples(&mut file, frag, a.track_id, &a.defaults) else {
                continue;
            };
            for s in samples.iter().take(64) {
                if read_sample(&mut file, s, &mut buf).is_ok() {
                    assert_eq!(buf.len(), s.size as usize);
                }
            }
        }
        let Ok(samples) = read_fragment_samples(&mut file, frag, &scan.defaults) else {
            continue;
        };
        for s in samples.iter().take(64) {
            let _ = s.presentation_time();
            if read_sample(&mut file, s, &mut buf).is_ok() {
                assert_eq!(buf.len(), s.size as usize);
            }
        }
    }
});

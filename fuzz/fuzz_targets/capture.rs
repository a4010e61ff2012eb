//! The interleaved capture reader behind `camwire replay`, RTP parsing of each frame, and
//! the RTCP walker (`rtcp_event`) for odd channels, as replay does.
#![no_main]

use bytes::Bytes;
use camwire::capture::Reader;
use camwire::rtp::RtpPacket;
use camwire::rtsp::rtcp_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut consumed = 0usize;
    let mut errors = 0;
    for frame in Reader::new(Bytes::copy_from_slice(data)) {
        match frame {
            Ok(f) => {
                consumed += 4 + f.data.len();
                assert!(consumed <= data.len());
                if f.channel % 2 == 1 {
                    let _ = rtcp_event(&f.data);
                    continue;
                }
                if let Ok(p) = RtpPacket::parse(f.data.clone()) {
                    assert!(p.payload.len() + 12 <= f.data.len());
                }
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors <= 1, "the reader stops after its first error");
});

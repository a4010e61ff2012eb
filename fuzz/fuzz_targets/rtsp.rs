//! camwire's RTSP client input: the response/request parser and the interleaved `$` framing
//! with resynchronisation, fed in chunks as a socket would, then every header value the
//! client reads (Session, Transport, RTP-Info, Public, DESCRIBE base and control URLs, the
//! SDP, Digest/Basic challenges) and the RTP/RTCP parsers on each frame.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    camwire::rtsp::client::fuzz_responses(data);
});

//! ONVIF replay's 0xABAC RTP header extension: a whole RTP packet through
//! `RtpPacket::parse_with_extension` and `ReplayExtension::from_header`, the raw extension
//! words through `ReplayExtension::parse`, NTP era placement with a reference taken from the
//! input, and the RTSP `clock=` times of PLAY answers; and Profile G's SOAP answers: the
//! input as a SOAP response through the Recording Search (GetMediaAttributes included) and
//! Replay parsers.
#![no_main]

use bytes::Bytes;
use camwire::replay::extension::{ReplayExtension, ntp_to_unix_nanos_near, unix_nanos_to_ntp};
use camwire::replay::fetch::{clock_range_start, parse_clock_time};
use camwire::onvif::XmlLimits;
use camwire::onvif::replay::parse_replay_uri;
use camwire::onvif::search::{
    parse_event_search_results, parse_media_attributes, parse_recording_information,
    parse_recording_search_results,
    parse_search_token, present_ranges,
};
use camwire::onvif::soap::parse_response;
use camwire::rtp::RtpPacket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, Some(ext))) = RtpPacket::parse_with_extension(Bytes::copy_from_slice(data)) {
        if let Ok(x) = ReplayExtension::from_header(&ext) {
            assert_eq!(ext.profile, 0xabac);
            assert!(ext.data.len() >= 12);
            assert_eq!(x.jpeg_extension, ext.data.len() > 12);
            assert_eq!(x.flags() & 0x0f, 0);
            assert!(x.reserved <= 0x0f);
        }
    }
    if let [a, b, rest @ ..] = data {
        let profile = u16::from_be_bytes([*a, *b]);
        if let Ok(x) = ReplayExtension::parse(profile, rest) {
            // The time, placed near a reference from the input, is within half an NTP era
            // (68 years) of it, unless it saturated.
            let reference = rest
                .get(12..20)
                .and_then(|r| <[u8; 8]>::try_from(r).ok())
                .map_or(0, i64::from_be_bytes)
                >> 2;
            if let Some(t) = x.unix_nanos_near(reference) {
                let half_era = (1i128 << 31) * 1_000_000_000 + 1_000_000_000;
                if t != i64::MIN && t != i64::MAX {
                    assert!((i128::from(t) - i128::from(reference)).abs() <= half_era);
                    // Writing it back gives the same seconds and fraction (rounded).
                    let back = unix_nanos_to_ntp(t);
                    assert_eq!(ntp_to_unix_nanos_near(back, reference), t);
                }
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_clock_time(s);
        let _ = clock_range_start(s);
    }
    if let Ok(el) = parse_response("http://fuzz/", 200, data, &XmlLimits::default()) {
        let (_, recs) = parse_recording_search_results(&el);
        for r in &recs {
            assert!(!r.token.is_empty());
        }
        let _ = parse_recording_information(&el);
        for m in parse_media_attributes(&el) {
            assert!(!m.recording.is_empty());
            for t in &m.tracks {
                assert!(!t.track.token.is_empty());
                if let Some(f) = t.video.as_ref().and_then(|v| v.framerate) {
                    assert!(f.is_finite() && f >= 0.0);
                }
            }
        }
        let (_, mut events) = parse_event_search_results(&el);
        events.sort_by_key(|e| e.time);
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            let (ranges, gaps) = present_ranges(&events, first.time, last.time);
            // Ranges are non-empty, in order and apart; gaps lie between them.
            assert!(ranges.iter().all(|r| r.0 < r.1));
            assert!(ranges.windows(2).all(|w| w[0].1 <= w[1].0));
            assert_eq!(gaps.len(), ranges.len().saturating_sub(1));
        }
        if let Some(t) = parse_search_token(&el) {
            assert!(!t.is_empty() && t == t.trim());
        }
        if let Some(u) = parse_replay_uri(&el) {
            assert!(!u.is_empty() && u == u.trim());
        }
    }
});

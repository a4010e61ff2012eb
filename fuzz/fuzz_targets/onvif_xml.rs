//! The ONVIF answer parsers: the bounded XML reader, SOAP response handling (faults, HTTP
//! status), the date/time answer, WS-Discovery ProbeMatches and Hello/Bye, and the URL helpers
//! applied to addresses that come out of those answers; plus the TLS policy inputs (a pinned
//! fingerprint, a CA file in PEM or DER).
#![no_main]

use std::net::SocketAddr;

use camwire::onvif::discovery::{parse_announcement, parse_probe_matches, percent_decode};
use camwire::onvif::error::redact_url;
use camwire::onvif::soap::{parse_response, parse_system_date_and_time};
use camwire::onvif::{XmlLimits, xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = XmlLimits {
        max_bytes: 64 * 1024,
        max_depth: 16,
        max_elements: 2000,
    };
    let source = SocketAddr::from(([192, 0, 2, 1], 3702));
    if let Ok(root) = xml::parse(data, &limits) {
        let mut out = String::new();
        xml::serialize(&root, &mut out);
        let _ = xml::parse(out.as_bytes(), &XmlLimits::default());
        let _ = parse_system_date_and_time(&root);
    }
    let status = data
        .first()
        .map_or(200, |&b| if b & 1 == 0 { 200 } else { 500 });
    if let Ok(resp) = parse_response("GetSystemDateAndTime", status, data, &limits) {
        let _ = parse_system_date_and_time(&resp);
    }
    let _ = parse_probe_matches(
        data,
        "urn:uuid:00000000-0000-0000-0000-000000000000",
        source,
    );
    let _ = parse_announcement(data, source);
    let text = String::from_utf8_lossy(data);
    let _ = percent_decode(&text);
    let _ = redact_url(&text);
    let _ = camwire::onvif::device::normalize_xaddr(&text);
    let _ = camwire::onvif::TlsVerify::pinned_hex(&text);
    if let Some(camwire::onvif::TlsVerify::CustomRoots(ders)) =
        camwire::onvif::TlsVerify::custom_roots(data)
    {
        assert!(!ders.is_empty());
    }
});

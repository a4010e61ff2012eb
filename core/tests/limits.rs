//! Every limit that bounds what a camera can make us hold or wait for is an option with a safe
//! default, and each is hit here once: depacketizer NAL / access unit / NAL count / piece
//! limits, the recorder's fragment size, the SDP size, the ONVIF SOAP response size and XML
//! depth / element count, and the RTSP and ONVIF timeouts.
//!
//! Run with `cargo nextest run -p camwire --all-features --test limits`.

use std::io::Cursor;
use std::time::{Duration, Instant};

use bytes::Bytes;
use camwire::capture::Reader;
use camwire::fmp4::{read_fragment_samples, scan_fragments};
use camwire::onvif::error::XmlError;
use camwire::onvif::{ClientOptions, Error as OnvifError, ErrorKind, OnvifDevice, XmlLimits, xml};
use camwire::record::{Ingest, Naming, SegmentOptions};
use camwire::rtp::{DepacketizeError, DepacketizerOptions, H264Depacketizer, RtpPacket};
use camwire::rtsp::sdp::{MAX_SDP_BYTES, SdpError, h264_section, media_sections};
use camwire::rtsp::{RtspError, Source, SourceOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const SPROP: &str = "Z0LAHtkAoEf+yA==,aM48gA==";

fn pkt(seq: u16, ts: u32, marker: bool, payload: Vec<u8>) -> RtpPacket {
    RtpPacket {
        sequence_number: seq,
        timestamp: ts,
        marker,
        ssrc: 7,
        payload_type: 96,
        payload: Bytes::from(payload),
    }
}

/// An IDR slice NAL unit of `len` bytes (first_mb_in_slice = 0).
fn idr(len: usize) -> Vec<u8> {
    let mut v = vec![0x65, 0x88];
    v.resize(len, 0x11);
    v
}

/// FU-A packets carrying `nal`, `chunk` bytes of it per packet.
fn fu_a(nal: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let body = &nal[1..];
    let n = body.len().div_ceil(chunk);
    body.chunks(chunk)
        .enumerate()
        .map(|(i, c)| {
            let mut p = vec![(nal[0] & 0xe0) | 28, nal[0] & 0x1f];
            if i == 0 {
                p[1] |= 0x80;
            }
            if i + 1 == n {
                p[1] |= 0x40;
            }
            p.extend_from_slice(c);
            p
        })
        .collect()
}

/// Pushes `payloads` as one access unit (the last packet has the marker) at timestamp `ts`;
/// returns the errors.
fn push_au(
    d: &mut H264Depacketizer,
    seq: &mut u16,
    ts: u32,
    payloads: Vec<Vec<u8>>,
) -> Vec<DepacketizeError> {
    let n = payloads.len();
    let mut errors = Vec::new();
    for (i, p) in payloads.into_iter().enumerate() {
        *seq = seq.wrapping_add(1);
        if let Err(e) = d.push(pkt(*seq, ts, i + 1 == n, p)) {
            errors.push(e);
        }
    }
    errors
}

fn small_limits() -> DepacketizerOptions {
    DepacketizerOptions {
        max_nal_bytes: 10_000,
        max_access_unit_bytes: 20_000,
        max_nals_per_access_unit: 8,
        max_pieces_per_access_unit: 32,
        ..DepacketizerOptions::default()
    }
}

#[test]
fn depacketizer_defaults_are_bounded() {
    let d = DepacketizerOptions::default();
    assert_eq!(d.max_nal_bytes, 16 << 20);
    assert_eq!(d.max_access_unit_bytes, 16 << 20);
    assert_eq!(d.max_nals_per_access_unit, 1024);
    assert_eq!(d.max_pieces_per_access_unit, 1 << 16);
}

#[test]
fn max_nal_bytes_is_hit_and_the_stream_recovers() {
    let mut d = H264Depacketizer::new(small_limits(), Some(SPROP));
    let mut seq = 0;
    assert!(push_au(&mut d, &mut seq, 0, fu_a(&idr(5_000), 1000)).is_empty());
    assert!(d.pull().is_some());
    let errors = push_au(&mut d, &mut seq, 3000, fu_a(&idr(10_001), 1000));
    assert!(
        matches!(
            errors.as_slice(),
            [DepacketizeError::NalTooLarge { max: 10_000, .. }]
        ),
        "{errors:?}"
    );
    assert!(d.pull().is_none(), "the oversized access unit is dropped");
    // As a single NAL unit packet too.
    let errors = push_au(&mut d, &mut seq, 6000, vec![idr(10_001)]);
    assert!(matches!(
        errors.as_slice(),
        [DepacketizeError::NalTooLarge { .. }]
    ));
    assert_eq!(d.stats().errors.nal_too_large, 2);
    // The next IDR goes through.
    assert!(push_au(&mut d, &mut seq, 9000, vec![idr(9_000)]).is_empty());
    assert_eq!(d.pull().map(|au| au.nal_bytes()), Some(9_000));
}

#[test]
fn max_access_unit_bytes_is_hit() {
    let mut d = H264Depacketizer::new(small_limits(), Some(SPROP));
    let mut seq = 0;
    // Three slices of 8,000 bytes: each under the NAL limit, 24,000 in all.
    let slices = vec![idr(8_000), idr(8_000), idr(8_000)];
    let errors = push_au(&mut d, &mut seq, 0, slices);
    assert!(
        matches!(
            errors.as_slice(),
            [DepacketizeError::AccessUnitTooLarge { max: 20_000, .. }]
        ),
        "{errors:?}"
    );
    assert!(d.pull().is_none());
    assert_eq!(d.stats().errors.access_unit_too_large, 1);
}

#[test]
fn max_nals_and_pieces_per_access_unit_are_hit() {
    let mut d = H264Depacketizer::new(small_limits(), Some(SPROP));
    let mut seq = 0;
    let errors = push_au(&mut d, &mut seq, 0, vec![idr(10); 9]);
    assert!(matches!(
        errors.as_slice(),
        [DepacketizeError::TooManyNals { max: 8 }]
    ));
    // 40 fragments of one NAL unit: over 32 pieces.
    let errors = push_au(&mut d, &mut seq, 3000, fu_a(&idr(4_001), 100));
    assert!(matches!(
        errors.as_slice(),
        [DepacketizeError::TooManyPieces { max: 32 }]
    ));
    assert!(d.pull().is_none());
}

#[test]
fn max_sdp_bytes_is_hit() {
    let capture_sdp = include_bytes!("../testdata/gst_1080p_capture.sdp");
    assert!(h264_section(capture_sdp).is_ok());
    let mut padded = capture_sdp.to_vec();
    while padded.len() <= MAX_SDP_BYTES {
        padded.extend_from_slice(b"a=x-padding:0123456789012345678901234567890123456789\r\n");
    }
    assert_eq!(
        media_sections(&padded),
        Err(SdpError::TooLarge(padded.len()))
    );
    assert!(matches!(h264_section(&padded), Err(SdpError::TooLarge(_))));
    padded.truncate(MAX_SDP_BYTES);
    assert!(
        media_sections(&padded).is_ok(),
        "the limit itself is accepted"
    );
}

/// Replays the committed 1080p capture through `Ingest` into a file; returns the size of
/// each fragment's media data and its sample count.
fn fragments_of_replay(segment: SegmentOptions) -> Vec<(u64, u32)> {
    let sdp = include_bytes!("../testdata/gst_1080p_capture.sdp");
    let rtp = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/gst_1080p_capture.rtp"
    ))
    .expect("capture");
    let dir = std::env::temp_dir().join(format!("camwire-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join(format!("frag-{}.mp4", segment.max_fragment_bytes));
    let video = h264_section(sdp).expect("sdp");
    let mut ingest = Ingest::new(
        &video,
        Naming::Fixed(out.clone()),
        segment,
        DepacketizerOptions::default(),
    );
    for frame in Reader::new(Bytes::from(rtp)) {
        let frame = frame.expect("frame");
        if frame.channel != 0 {
            continue;
        }
        let pkt = RtpPacket::parse(frame.data).expect("rtp");
        ingest.on_rtp(pkt, 0).expect("write");
    }
    ingest.finish(0).expect("finish");
    let data = std::fs::read(&out).expect("output");
    let _ = std::fs::remove_file(&out);
    let mut cur = Cursor::new(&data[..]);
    let scan = scan_fragments(&mut cur).expect("scan");
    assert!(!scan.is_torn());
    scan.fragments
        .iter()
        .map(|f| {
            let samples = read_fragment_samples(&mut cur, f, &scan.defaults).expect("samples");
            let bytes: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
            (bytes, f.sample_count)
        })
        .collect()
}

#[test]
fn max_fragment_bytes_is_hit() {
    assert_eq!(SegmentOptions::default().max_fragment_bytes, 16 << 20);
    let long_fragments = SegmentOptions {
        fragment_ms: 60_000,
        segment_secs: u32::MAX,
        ..SegmentOptions::default()
    };
    let unbounded = fragments_of_replay(long_fragments.clone());
    let limit = 256 * 1024;
    assert!(
        unbounded.iter().any(|f| f.0 > limit as u64),
        "without the limit fragments grow past it: {unbounded:?}"
    );
    let bounded = fragments_of_replay(SegmentOptions {
        max_fragment_bytes: limit,
        ..long_fragments
    });
    assert!(bounded.len() > unbounded.len() * 2, "{bounded:?}");
    for (bytes, samples) in &bounded {
        // A single access unit above the limit still makes a fragment of its own.
        assert!(
            *bytes <= limit as u64 || *samples == 1,
            "fragment of {bytes} bytes in {samples} samples over the {limit}-byte limit"
        );
    }
    let total = |v: &[(u64, u32)]| v.iter().map(|f| f.0).sum::<u64>();
    assert_eq!(
        total(&bounded),
        total(&unbounded),
        "nothing lost by splitting"
    );
}

#[test]
fn xml_depth_element_and_size_limits_are_hit() {
    let d = XmlLimits::default();
    assert_eq!(
        (d.max_bytes, d.max_depth, d.max_elements),
        (4 << 20, 64, 100_000)
    );
    let limits = XmlLimits {
        max_bytes: 10_000,
        max_depth: 16,
        max_elements: 100,
    };
    let deep = format!("{}{}", "<a>".repeat(17), "</a>".repeat(17));
    assert_eq!(
        xml::parse(deep.as_bytes(), &limits),
        Err(XmlError::TooDeep { limit: 16 })
    );
    let ok = format!("{}{}", "<a>".repeat(16), "</a>".repeat(16));
    assert!(xml::parse(ok.as_bytes(), &limits).is_ok());
    let wide = format!("<r>{}</r>", "<b/>".repeat(100));
    assert_eq!(
        xml::parse(wide.as_bytes(), &limits),
        Err(XmlError::TooManyElements { limit: 100 })
    );
    let big = format!("<r>{}</r>", "x".repeat(10_000));
    assert!(matches!(
        xml::parse(big.as_bytes(), &limits),
        Err(XmlError::TooLarge { limit: 10_000, .. })
    ));
}

/// A device that answers every HTTP request with `body` (or never answers when `None`).
async fn http_device(body: Option<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                match body {
                    Some(b) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(b.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    format!("http://{addr}/onvif/device_service")
}

fn envelope(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>{inner}</s:Body></s:Envelope>"#
    )
}

#[tokio::test]
async fn soap_response_size_limit_is_hit() {
    assert_eq!(ClientOptions::default().max_response_bytes, 4 << 20);
    let padding = format!("<x>{}</x>", "p".repeat(8 * 1024));
    let url = http_device(Some(envelope(&padding))).await;
    let opts = ClientOptions {
        max_response_bytes: 4 * 1024,
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    };
    let e = OnvifDevice::connect(&url, None, opts).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(
        e.to_string().contains("exceeds the limit of 4096 bytes"),
        "{e}"
    );
}

#[tokio::test]
async fn soap_xml_depth_limit_is_hit() {
    let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
    let url = http_device(Some(envelope(&deep))).await;
    let opts = ClientOptions {
        xml_limits: XmlLimits {
            max_depth: 32,
            ..XmlLimits::default()
        },
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    };
    let e = OnvifDevice::connect(&url, None, opts).await.unwrap_err();
    assert!(
        matches!(
            e,
            OnvifError::Xml {
                source: XmlError::TooDeep { limit: 32 },
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn onvif_timeout_is_hit() {
    assert_eq!(ClientOptions::default().timeout, Duration::from_secs(10));
    let url = http_device(None).await;
    let opts = ClientOptions {
        timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let started = Instant::now();
    let e = OnvifDevice::connect(&url, None, opts).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// An RTSP server that answers DESCRIBE (and OPTIONS) with a valid H.264 SDP and nothing
/// else; with `answer_describe` false it answers nothing at all.
async fn mute_rtsp(answer_describe: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let req = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        if !answer_describe {
                            continue;
                        }
                        let cseq = req
                            .lines()
                            .find_map(|l| l.strip_prefix("CSeq:"))
                            .map(str::trim)
                            .unwrap_or("1")
                            .to_owned();
                        let resp = if req.starts_with("DESCRIBE") {
                            let sdp = include_str!("../testdata/gst_1080p_capture.sdp");
                            format!(
                                "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Base: rtsp://{addr}/s/\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                                sdp.len()
                            )
                        } else if req.starts_with("OPTIONS") {
                            format!(
                                "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: DESCRIBE, SETUP, PLAY\r\n\r\n"
                            )
                        } else {
                            continue; // SETUP and PLAY: never answered
                        };
                        let _ = sock.write_all(resp.as_bytes()).await;
                    }
                }
            });
        }
    });
    format!("rtsp://{addr}/s")
}

fn short_timeouts() -> SourceOptions {
    SourceOptions {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(500),
        ..SourceOptions::default()
    }
}

#[tokio::test]
async fn rtsp_connect_timeout_is_hit() {
    let d = SourceOptions::default();
    assert_eq!(
        (d.connect_timeout, d.request_timeout, d.idle_timeout),
        (
            Duration::from_secs(10),
            Duration::from_secs(10),
            Duration::from_secs(10)
        )
    );
    let url = mute_rtsp(false).await;
    let started = Instant::now();
    let e = Source::connect(&url, short_timeouts()).await.unwrap_err();
    assert!(
        matches!(
            e,
            RtspError::Timeout {
                step: "connect/DESCRIBE",
                ..
            }
        ),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn rtsp_request_timeout_is_hit() {
    let url = mute_rtsp(true).await;
    let e = Source::connect(&url, short_timeouts()).await.unwrap_err();
    assert!(matches!(e, RtspError::Timeout { step: "SETUP", .. }), "{e}");
}

#[cfg(feature = "sim")]
#[tokio::test]
async fn rtsp_read_timeout_is_hit() {
    use camwire::sim::{CLEAN_FRAMES, HostileMode, SimCamera, SimOptions};
    let sim = SimCamera::start(SimOptions {
        hostile: Some(HostileMode::Stall),
        onvif: None,
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let mut source = Source::connect(&sim.rtsp_url(), short_timeouts())
        .await
        .expect("connect");
    let mut packets = 0u64;
    let mut last = Instant::now();
    let e = loop {
        match source.next().await {
            Ok(Some(_)) => {
                packets += 1;
                last = Instant::now();
            }
            Ok(None) => panic!("stream ended instead of timing out"),
            Err(e) => break e,
        }
    };
    assert!(matches!(e, RtspError::Timeout { step: "read", .. }), "{e}");
    assert!(packets >= CLEAN_FRAMES, "the clean start arrived first");
    // The timeout counts from the last packet (the timer is pushed forward, not restarted
    // per packet): not before 500 ms of silence, and not much after.
    let silent = last.elapsed();
    assert!(
        silent >= Duration::from_millis(490) && silent < Duration::from_millis(1500),
        "timed out after {silent:?} of silence"
    );
    sim.shutdown().await;
}

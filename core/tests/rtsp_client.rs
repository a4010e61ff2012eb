//! camwire's own RTSP client (`camwire::rtsp::client`) against scripted servers: each field
//! behaviour of issue 11 is a named test, plus auth, redirects, typed errors, PLAY options,
//! PAUSE/re-PLAY, keepalives and receiver reports. The sim camera serves real media over
//! TCP and UDP.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use camwire::credentials::Credentials;
use camwire::rtsp::client::{
    ClientError, ClientOptions, Packet, PlayOptions, Range, RtspClient, SetupTransport,
};
use camwire::rtsp::msg::{Frame, Framer, Message, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// What the scripted server saw: requests, and interleaved frames the client sent.
#[derive(Default)]
struct Seen {
    requests: Vec<Request>,
    frames: Vec<(u8, Vec<u8>)>,
    answers: Vec<Vec<u8>>,
}

type Script = Box<dyn FnMut(&Request, usize) -> Vec<u8> + Send>;

/// A one-connection server: each request (with its 0-based index) is answered by `script`
/// with the bytes it returns (responses, interleaved data, server requests). Bytes that are
/// neither requests nor frames (the client's answers to our requests) land in `answers`.
async fn serve(script: Script) -> (Url, Arc<Mutex<Seen>>) {
    serve_paced(script, Vec::new()).await
}

/// [`serve`], and after the PLAY answer, each of `paced` is written at its offset from then.
async fn serve_paced(script: Script, paced: Vec<(Duration, Vec<u8>)>) -> (Url, Arc<Mutex<Seen>>) {
    let paced = Arc::new(paced);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let script = Arc::new(Mutex::new(script));
    let seen_all = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (seen2, script, paced) = (seen_all.clone(), script.clone(), paced.clone());
            tokio::spawn(async move {
                let (mut sock, wr) = sock.into_split();
                let wr = Arc::new(tokio::sync::Mutex::new(wr));
                let mut buf = BytesMut::with_capacity(65536);
                let mut framer = Framer::new();
                let mut n = 0;
                loop {
                    loop {
                        match framer.next(&mut buf) {
                            Ok(Some(Frame::Message(Message::Request(r)))) => {
                                let out = (script.lock().unwrap())(&r, n);
                                n += 1;
                                let play = r.method == "PLAY";
                                seen2.lock().unwrap().requests.push(r);
                                if wr.lock().await.write_all(&out).await.is_err() {
                                    return;
                                }
                                if play && !paced.is_empty() {
                                    let (wr, paced) = (wr.clone(), paced.clone());
                                    tokio::spawn(async move {
                                        let t0 = tokio::time::Instant::now();
                                        for (at, bytes) in paced.iter() {
                                            tokio::time::sleep_until(t0 + *at).await;
                                            if wr.lock().await.write_all(bytes).await.is_err() {
                                                return;
                                            }
                                        }
                                    });
                                }
                            }
                            Ok(Some(Frame::Message(Message::Response(r)))) => {
                                let mut line = format!("{} CSeq={:?}", r.status, r.headers.cseq());
                                line.push('\n');
                                seen2.lock().unwrap().answers.push(line.into_bytes());
                            }
                            Ok(Some(Frame::Interleaved { channel, data })) => {
                                seen2.lock().unwrap().frames.push((channel, data.to_vec()));
                            }
                            Ok(None) => break,
                            Err(_) => return,
                        }
                    }
                    match sock.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (Url::parse(&format!("rtsp://{addr}/stream")).unwrap(), seen)
}

fn resp(cseq: &str, status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut s = format!("RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n");
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s.into_bytes()
}

fn cseq(r: &Request) -> String {
    r.headers.get("CSeq").unwrap_or("0").to_string()
}

const SDP_TWO: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n\
m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=control:trackID=2\r\n";

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    rtp_at(seq, 1, ssrc)
}

fn rtp_at(seq: u16, timestamp: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x65, 1, 2, 3]);
    p
}

fn interleaved(ch: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![b'$', ch];
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// A well-behaved camera; `play` builds the PLAY answer (bytes before it go first).
fn camera(
    session: &'static str,
    mut play: impl FnMut(&Request) -> Vec<u8> + Send + 'static,
) -> Script {
    Box::new(move |r, _| match r.method.as_str() {
        "OPTIONS" => resp(
            &cseq(r),
            "200 OK",
            &[(
                "Public",
                "DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER",
            )],
            "",
        ),
        "DESCRIBE" => resp(
            &cseq(r),
            "200 OK",
            &[
                ("Content-Type", "application/sdp"),
                ("Content-Base", "rtsp://127.0.0.1/stream/"),
            ],
            SDP_TWO,
        ),
        "SETUP" => {
            let t = r.headers.get("Transport").unwrap_or("").to_string();
            let t = if t.contains("TCP") {
                format!("{t};ssrc=0000ABCD")
            } else {
                format!("{t};server_port=9-10")
            };
            resp(
                &cseq(r),
                "200 OK",
                &[("Session", session), ("Transport", &t)],
                "",
            )
        }
        "PLAY" => play(r),
        _ => resp(&cseq(r), "200 OK", &[], ""),
    })
}

fn opts() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

async fn playing(url: Url, transport: SetupTransport) -> RtspClient {
    let mut c = RtspClient::connect(url, opts()).await.unwrap();
    c.describe().await.unwrap();
    c.setup(0, transport).await.unwrap();
    c.play(&PlayOptions::default()).await.unwrap();
    c
}

async fn next(c: &mut RtspClient) -> Packet {
    tokio::time::timeout(Duration::from_secs(5), c.next())
        .await
        .expect("a packet in time")
        .expect("no error")
        .expect("not closed")
}

#[tokio::test]
async fn data_arriving_before_the_play_response_is_kept() {
    let (url, _) = serve(camera("s1", |r| {
        let mut out = interleaved(0, &rtp(1, 0xabcd));
        out.extend(interleaved(
            1,
            &[
                0x80, 200, 0, 6, 0, 0, 0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0,
            ],
        ));
        out.extend(resp(&cseq(r), "200 OK", &[("Session", "s1")], ""));
        out.extend(interleaved(0, &rtp(2, 0xabcd)));
        out
    }))
    .await;
    let mut c = playing(url, SetupTransport::Tcp).await;
    match next(&mut c).await {
        Packet::Rtp { stream: 0, data } => assert_eq!(&data[2..4], &[0, 1]),
        o => panic!("{o:?}"),
    }
    assert!(matches!(next(&mut c).await, Packet::Rtcp { stream: 0, .. }));
    match next(&mut c).await {
        Packet::Rtp { data, .. } => assert_eq!(&data[2..4], &[0, 2]),
        o => panic!("{o:?}"),
    }
}

#[tokio::test]
async fn session_header_without_timeout_defaults_to_60_s() {
    let (url, _) = serve(camera("5657612475258969210", |r| {
        resp(&cseq(r), "200 OK", &[], "")
    }))
    .await;
    let c = playing(url, SetupTransport::Tcp).await;
    let s = c.session().unwrap();
    assert_eq!(s.id, "5657612475258969210");
    assert_eq!(s.timeout, None);
    assert_eq!(s.timeout_secs(), 60);
}

#[tokio::test]
async fn session_header_with_timeout_drives_keepalives_and_options_after_refusal() {
    // timeout=1: a keepalive every 500 ms. GET_PARAMETER is refused (501), so the next
    // keepalive is OPTIONS.
    let script: Script = {
        let mut base = camera("k1;timeout=1", |r| resp(&cseq(r), "200 OK", &[], ""));
        Box::new(move |r, i| {
            if r.method == "GET_PARAMETER" {
                resp(&cseq(r), "501 Not Implemented", &[], "")
            } else {
                base(r, i)
            }
        })
    };
    let (url, seen) = serve(script).await;
    let mut c = playing(url, SetupTransport::Tcp).await;
    assert_eq!(c.session().unwrap().timeout, Some(1));
    // Nothing to read; keepalives go out while we wait.
    let _ = tokio::time::timeout(Duration::from_millis(1800), c.next()).await;
    let methods: Vec<String> = seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .map(|r| r.method.clone())
        .collect();
    let after_play: Vec<&String> = methods
        .iter()
        .skip_while(|m| *m != "PLAY")
        .skip(1)
        .collect();
    assert_eq!(
        after_play.first().map(|s| s.as_str()),
        Some("GET_PARAMETER"),
        "{methods:?}"
    );
    assert!(after_play.iter().any(|m| *m == "OPTIONS"), "{methods:?}");
    assert_eq!(c.keepalive_method(), "OPTIONS");
    let ka = seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.method != "PLAY")
        .last()
        .unwrap()
        .headers
        .get("Session")
        .map(str::to_string);
    assert_eq!(
        ka.as_deref(),
        Some("k1"),
        "keepalive carries the session id without parameters"
    );
}

#[tokio::test]
async fn rtp_info_missing_seq_or_rtptime_is_accepted() {
    let (url, _) = serve(camera("s", |r| {
        resp(
            &cseq(r),
            "200 OK",
            &[("RTP-Info", "url=rtsp://127.0.0.1/stream/trackID=1;rtptime=1234,url=rtsp://127.0.0.1/stream/trackID=2;seq=7")],
            "",
        )
    }))
    .await;
    let mut c = RtspClient::connect(url, opts()).await.unwrap();
    c.describe().await.unwrap();
    c.setup(0, SetupTransport::Tcp).await.unwrap();
    let reply = c.play(&PlayOptions::default()).await.unwrap();
    assert_eq!(reply.rtp_info.len(), 2);
    assert_eq!(reply.rtp_info[0].seq, None);
    assert_eq!(reply.rtp_info[0].rtptime, Some(1234));
    assert_eq!(reply.rtp_info[1].seq, Some(7));
    assert_eq!(reply.rtp_info[1].rtptime, None);
}

#[tokio::test]
async fn stale_session_after_our_crash_is_a_session_limit_error() {
    // The camera allows one session and still holds the one our crashed process left: SETUP
    // is refused with 453. The error is typed (the Recorder retries after a pause), and a
    // second attempt after the stale session expired succeeds.
    let attempts = Arc::new(Mutex::new(0));
    let a2 = attempts.clone();
    let mut base = camera("fresh", |r| resp(&cseq(r), "200 OK", &[], ""));
    let (url, _) = serve(Box::new(move |r, i| {
        if r.method == "SETUP" {
            let mut n = a2.lock().unwrap();
            *n += 1;
            if *n == 1 {
                return resp(&cseq(r), "453 Not Enough Bandwidth", &[], "");
            }
        }
        base(r, i)
    }))
    .await;
    let mut c = RtspClient::connect(url.clone(), opts()).await.unwrap();
    c.describe().await.unwrap();
    let e = c.setup(0, SetupTransport::Tcp).await.unwrap_err();
    assert!(
        matches!(e, ClientError::SessionLimit { status: 453, .. }),
        "{e}"
    );
    assert_eq!(e.status(), Some(453));
    let c = playing(url, SetupTransport::Tcp).await;
    assert_eq!(c.session().unwrap().id, "fresh");
}

#[tokio::test]
async fn server_sent_requests_are_answered_and_never_stall() {
    let (url, seen) = serve(camera("s", |r| {
        let mut out = resp(&cseq(r), "200 OK", &[], "");
        out.extend_from_slice(b"GET_PARAMETER rtsp://127.0.0.1/stream RTSP/1.0\r\nCSeq: 100\r\n\r\n");
        out.extend_from_slice(b"ANNOUNCE rtsp://127.0.0.1/stream RTSP/1.0\r\nCSeq: 101\r\nContent-Length: 2\r\n\r\nxy");
        out.extend(interleaved(0, &rtp(9, 0xabcd)));
        out
    }))
    .await;
    let mut c = playing(url, SetupTransport::Tcp).await;
    match next(&mut c).await {
        Packet::Rtp { data, .. } => assert_eq!(&data[2..4], &[0, 9]),
        o => panic!("{o:?}"),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answers: Vec<String> = seen
        .lock()
        .unwrap()
        .answers
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(
        answers,
        vec!["200 CSeq=Some(100)\n", "501 CSeq=Some(101)\n"]
    );
}

/// `next_buffered` (the recorder's per-read loop) hands out what is already received in
/// order, stops at a request of the server, which the next `next` answers before going on.
#[tokio::test]
async fn buffered_packets_in_order_and_a_request_between_them_is_answered() {
    let (url, seen) = serve(camera("s", |r| {
        let mut out = resp(&cseq(r), "200 OK", &[], "");
        out.extend(interleaved(0, &rtp(1, 0xabcd)));
        out.extend(interleaved(0, &rtp(2, 0xabcd)));
        out.extend_from_slice(
            b"GET_PARAMETER rtsp://127.0.0.1/stream RTSP/1.0\r\nCSeq: 100\r\n\r\n",
        );
        out.extend(interleaved(0, &rtp(3, 0xabcd)));
        out.extend(interleaved(0, &rtp(4, 0xabcd)));
        out
    }))
    .await;
    let mut c = playing(url, SetupTransport::Tcp).await;
    let mut seqs = Vec::new();
    while seqs.len() < 4 {
        let p = match c.next_buffered().expect("no error") {
            Some(p) => p,
            None => next(&mut c).await,
        };
        match p {
            Packet::Rtp { data, .. } => seqs.push(u16::from_be_bytes([data[2], data[3]])),
            o => panic!("{o:?}"),
        }
    }
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert!(c.next_buffered().expect("no error").is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answers: Vec<String> = seen
        .lock()
        .unwrap()
        .answers
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(answers, vec!["200 CSeq=Some(100)\n"]);
}

#[tokio::test]
async fn missing_content_type_is_read_as_sdp() {
    let (url, _) = serve(Box::new(|r, _| match r.method.as_str() {
        "DESCRIBE" => resp(&cseq(r), "200 OK", &[], SDP_TWO),
        _ => resp(&cseq(r), "200 OK", &[], ""),
    }))
    .await;
    let mut c = RtspClient::connect(url, opts()).await.unwrap();
    let p = c.describe().await.unwrap();
    assert!(p.content_type_missing);
    assert_eq!(p.streams.len(), 2);
    assert_eq!(
        p.streams[0].control.as_str(),
        format!("{}/trackID=1", p.request_url)
    );
}

#[tokio::test]
async fn control_attribute_before_the_media_lines() {
    let sdp = "v=0\r\ns=x\r\na=control:rtsp://127.0.0.1/agg/\r\nt=0 0\r\n\
m=video 0 RTP/AVP 96\r\na=control:video\r\na=rtpmap:96 H264/90000\r\n";
    let (url, _) = serve(Box::new(move |r, _| match r.method.as_str() {
        "DESCRIBE" => resp(
            &cseq(r),
            "200 OK",
            &[
                ("Content-Type", "application/sdp"),
                ("Content-Base", "rtsp://127.0.0.1/base/"),
            ],
            sdp,
        ),
        _ => resp(&cseq(r), "200 OK", &[], ""),
    }))
    .await;
    let mut c = RtspClient::connect(url, opts()).await.unwrap();
    let p = c.describe().await.unwrap();
    assert_eq!(p.control.as_str(), "rtsp://127.0.0.1/agg/");
    assert_eq!(p.streams[0].control.as_str(), "rtsp://127.0.0.1/base/video");
    assert_eq!(p.streams[0].section.encoding, "H264");
}

#[tokio::test]
async fn multiple_streams_when_only_one_is_chosen() {
    // Only the video stream is set up; the PLAY answer still lists both in RTP-Info (Reolink)
    // and RTCP for the other stream's channels comes before the answer: dropped, not an error.
    let (url, seen) = serve(camera("s", |r| {
        let mut out = interleaved(3, &[0x80, 200, 0, 1, 0, 0, 0, 1]);
        out.extend(resp(
            &cseq(r),
            "200 OK",
            &[(
                "RTP-Info",
                "url=trackID=1;seq=1;rtptime=0,url=trackID=2;seq=5;rtptime=0",
            )],
            "",
        ));
        out.extend(interleaved(0, &rtp(1, 0xabcd)));
        out
    }))
    .await;
    let mut c = playing(url, SetupTransport::Tcp).await;
    assert!(matches!(next(&mut c).await, Packet::Rtp { stream: 0, .. }));
    let setups: Vec<String> = seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.method == "SETUP")
        .map(|r| r.uri.clone())
        .collect();
    assert_eq!(
        setups,
        vec!["rtsp://127.0.0.1/stream/trackID=1".to_string()]
    );
    let play = seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .find(|r| r.method == "PLAY")
        .map(|r| r.uri.clone());
    assert_eq!(
        play.as_deref(),
        Some("rtsp://127.0.0.1/stream/"),
        "aggregate control `*` is the base URL"
    );
}

#[tokio::test]
async fn play_options_pause_and_play_again() {
    let (url, seen) = serve(camera("s", |r| {
        resp(&cseq(r), "200 OK", &[("Range", "npt=5-")], "")
    }))
    .await;
    let mut c = RtspClient::connect(url, opts()).await.unwrap();
    c.describe().await.unwrap();
    c.setup(0, SetupTransport::Tcp).await.unwrap();
    let start = jiff::Timestamp::from_second(1_767_225_600).unwrap();
    let reply = c
        .play(&PlayOptions {
            range: Range::Clock { start, end: None },
            scale: Some(2.0),
            speed: Some(1.5),
            rate_control: Some(false),
            require: vec!["onvif-replay".into()],
            immediate: true,
            headers: vec![("X-Vendor".into(), "1".into())],
        })
        .await
        .unwrap();
    assert_eq!(reply.range.as_deref(), Some("npt=5-"));
    c.pause().await.unwrap();
    c.play(&PlayOptions {
        range: Range::None,
        ..Default::default()
    })
    .await
    .unwrap();
    c.play(&PlayOptions {
        range: Range::Npt {
            start: 5.0,
            end: None,
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let s = seen.lock().unwrap();
    let plays: Vec<&Request> = s.requests.iter().filter(|r| r.method == "PLAY").collect();
    let h = &plays[0].headers;
    assert_eq!(h.get("Range"), Some("clock=20260101T000000.000Z-"));
    assert_eq!(h.get("Scale"), Some("2"));
    assert_eq!(h.get("Speed"), Some("1.5"));
    assert_eq!(h.get("Rate-Control"), Some("no"));
    assert_eq!(h.get("Require"), Some("onvif-replay"));
    assert_eq!(h.get("Immediate"), Some("yes"));
    assert_eq!(h.get("X-Vendor"), Some("1"));
    assert!(
        s.requests
            .iter()
            .any(|r| r.method == "PAUSE" && r.headers.get("Session") == Some("s"))
    );
    assert_eq!(plays[1].headers.get("Range"), None);
    assert_eq!(plays[2].headers.get("Range"), Some("npt=5.000-"));
}

#[tokio::test]
async fn typed_errors_for_454_551_and_459() {
    for (status, expect) in [
        ("454 Session Not Found", "gone"),
        ("551 Option not supported", "unsupported"),
        ("459 Aggregate Operation Not Allowed", "unsupported"),
    ] {
        let (url, _) = serve(camera("s", move |r| {
            resp(&cseq(r), status, &[("Unsupported", "onvif-replay")], "")
        }))
        .await;
        let mut c = RtspClient::connect(url, opts()).await.unwrap();
        c.describe().await.unwrap();
        c.setup(0, SetupTransport::Tcp).await.unwrap();
        let e = c.play(&PlayOptions::default()).await.unwrap_err();
        match (expect, &e) {
            ("gone", ClientError::SessionGone { .. }) => {}
            ("unsupported", ClientError::Unsupported { unsupported, .. }) => {
                assert_eq!(unsupported.as_deref(), Some("onvif-replay"))
            }
            _ => panic!("{status}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn redirects_are_followed_at_most_three_times() {
    let (target, _) = serve(camera("s", |r| resp(&cseq(r), "200 OK", &[], ""))).await;
    let t = target.to_string();
    let (hop, _) = serve(Box::new(move |r, _| {
        resp(&cseq(r), "302 Found", &[("Location", &t)], "")
    }))
    .await;
    let mut c = RtspClient::connect(hop.clone(), opts()).await.unwrap();
    let p = c.describe().await.unwrap();
    assert_eq!(p.request_url, target);
    // A loop: always redirected to itself.
    let (lp, _) = serve(Box::new(|r, _| {
        resp(&cseq(r), "301 Moved", &[("Location", "/again")], "")
    }))
    .await;
    let mut c = RtspClient::connect(lp, opts()).await.unwrap();
    assert!(matches!(
        c.describe().await.unwrap_err(),
        ClientError::Redirect
    ));
}

/// A Digest server (SHA-256 or MD5, qop=auth) whose nonce goes stale once after `stale_at`
/// requests.
fn digest_server(algorithm: &'static str, stale_at: usize) -> Script {
    use sha2::Digest as _;
    let hash = move |s: String| -> String {
        if algorithm == "SHA-256" {
            format!("{:x}", sha2::Sha256::digest(s.as_bytes()))
        } else {
            format!("{:x}", md5::Md5::digest(s.as_bytes()))
        }
    };
    let mut nonce = "n1".to_string();
    let mut base = camera("s", |r| resp(&cseq(r), "200 OK", &[], ""));
    let mut stale_done = false;
    Box::new(move |r, i| {
        let challenge = |nonce: &str, stale: bool| {
            format!(
                "Digest realm=\"cam\", nonce=\"{nonce}\", algorithm={algorithm}, qop=\"auth\"{}",
                if stale { ", stale=true" } else { "" }
            )
        };
        let Some(auth) = r.headers.get("Authorization") else {
            return resp(
                &cseq(r),
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge(&nonce, false))],
                "",
            );
        };
        if i >= stale_at && !stale_done {
            stale_done = true;
            nonce = "n2".into();
            return resp(
                &cseq(r),
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge(&nonce, true))],
                "",
            );
        }
        let get = |k: &str| -> String {
            auth.split(',')
                .filter_map(|p| p.trim().trim_start_matches("Digest ").split_once('='))
                .find(|(kk, _)| kk.trim() == k)
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
                .unwrap_or_default()
        };
        let ha1 = hash("admin:cam:s3cret".to_string());
        let ha2 = hash(format!("{}:{}", r.method, get("uri")));
        let expect = hash(format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            get("nonce"),
            get("nc"),
            get("cnonce")
        ));
        if get("response") != expect || get("nonce") != nonce {
            return resp(
                &cseq(r),
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge(&nonce, false))],
                "",
            );
        }
        base(r, i)
    })
}

#[tokio::test]
async fn digest_sha256_md5_with_one_stale_retry_and_wrong_password() {
    for alg in ["SHA-256", "MD5"] {
        let (url, seen) = serve(digest_server(alg, 3)).await;
        let o = ClientOptions {
            credentials: Some(Credentials::new("admin", "s3cret")),
            ..opts()
        };
        let mut c = RtspClient::connect(url, o).await.unwrap();
        c.describe().await.unwrap();
        c.setup(0, SetupTransport::Tcp).await.unwrap();
        c.play(&PlayOptions::default()).await.unwrap();
        let n401 = seen
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.headers.get("Authorization").is_none())
            .count();
        assert_eq!(n401, 1, "{alg}: one unauthenticated request");
        let (url, _) = serve(digest_server(alg, 100)).await;
        let o = ClientOptions {
            credentials: Some(Credentials::new("admin", "wrong")),
            ..opts()
        };
        let mut c = RtspClient::connect(url, o).await.unwrap();
        let e = c.describe().await.unwrap_err();
        assert!(matches!(e, ClientError::Auth), "{alg}: {e:?}");
        assert!(!format!("{e:?}{e}").contains("wrong"));
    }
}

#[tokio::test]
async fn basic_auth() {
    let (url, _) = serve(Box::new(|r, _| match r.headers.get("Authorization") {
        Some("Basic YWRtaW46czNjcmV0") => resp(
            &cseq(r),
            "200 OK",
            &[("Content-Type", "application/sdp")],
            SDP_TWO,
        ),
        _ => resp(
            &cseq(r),
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"cam\"")],
            "",
        ),
    }))
    .await;
    let o = ClientOptions {
        credentials: Some(Credentials::new("admin", "s3cret")),
        ..opts()
    };
    let mut c = RtspClient::connect(url.clone(), o).await.unwrap();
    assert_eq!(c.describe().await.unwrap().streams.len(), 2);
    let mut c = RtspClient::connect(url, opts()).await.unwrap();
    assert!(matches!(c.describe().await.unwrap_err(), ClientError::Auth));
}

#[tokio::test]
async fn udp_setup_sends_client_ports_and_punches_nat() {
    // The server's ports are a UDP socket of ours: the dummy packets must arrive there.
    let server_udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sport = server_udp.local_addr().unwrap().port();
    let (url, seen) = serve(Box::new(move |r, _| match r.method.as_str() {
        "DESCRIBE" => resp(
            &cseq(r),
            "200 OK",
            &[("Content-Type", "application/sdp")],
            SDP_TWO,
        ),
        "SETUP" => {
            let t = format!(
                "{};server_port={sport}-{}",
                r.headers.get("Transport").unwrap(),
                sport + 1
            );
            resp(
                &cseq(r),
                "200 OK",
                &[("Session", "u"), ("Transport", &t)],
                "",
            )
        }
        _ => resp(&cseq(r), "200 OK", &[], ""),
    }))
    .await;
    let mut c = RtspClient::connect(url, opts()).await.unwrap();
    c.describe().await.unwrap();
    c.setup(0, SetupTransport::Udp).await.unwrap();
    let mut b = [0u8; 64];
    let (n, from) = tokio::time::timeout(Duration::from_secs(2), server_udp.recv_from(&mut b))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 12, "dummy RTP header");
    let t = seen.lock().unwrap().requests[1]
        .headers
        .get("Transport")
        .unwrap()
        .to_string();
    let ports = t.split("client_port=").nth(1).unwrap().to_string();
    let (a, bb) = ports.split_once('-').unwrap();
    let (a, bb): (u16, u16) = (a.parse().unwrap(), bb.parse().unwrap());
    assert_eq!(a % 2, 0);
    assert_eq!(bb, a + 1);
    assert_eq!(from.port(), a);
    c.play(&PlayOptions::default()).await.unwrap();
    // Media to the client's RTP port arrives as packets of stream 0.
    for seq in 0..20u16 {
        server_udp
            .send_to(&rtp(seq, 7), SocketAddr::from(([127, 0, 0, 1], a)))
            .await
            .unwrap();
    }
    for seq in 0..20u16 {
        match next(&mut c).await {
            Packet::Rtp { stream: 0, data } => {
                assert_eq!(u16::from_be_bytes([data[2], data[3]]), seq)
            }
            o => panic!("{o:?}"),
        }
    }
}

#[tokio::test]
async fn garbage_between_frames_is_skipped_and_lost_framing_is_an_error() {
    let (url, _) = serve(camera("s", |r| {
        let mut out = resp(&cseq(r), "200 OK", &[], "");
        out.extend_from_slice(b"\x00\x01garbage");
        out.extend(interleaved(0, &rtp(1, 5)));
        // Followed by garbage: taken for a frame with a lying length, dropped.
        out.extend(interleaved(0, &rtp(2, 5)));
        for _ in 0..40 {
            out.extend_from_slice(b"zzzz");
            out.extend(interleaved(0, &rtp(2, 5)));
        }
        out
    }))
    .await;
    let mut c = playing(url, SetupTransport::Tcp).await;
    assert!(matches!(next(&mut c).await, Packet::Rtp { .. }));
    let mut err = None;
    for _ in 0..50 {
        match tokio::time::timeout(Duration::from_secs(2), c.next())
            .await
            .unwrap()
        {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert!(
        matches!(err, Some(ClientError::FramingLost { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn receiver_reports_with_cname_are_sent_over_tcp() {
    let (url, seen) = serve(camera("s", |r| {
        let mut out = resp(&cseq(r), "200 OK", &[], "");
        out.extend(interleaved(0, &rtp(1, 0xabcd)));
        out
    }))
    .await;
    let mut c = playing(url, SetupTransport::Tcp).await;
    let _ = next(&mut c).await;
    let _ = tokio::time::timeout(Duration::from_millis(5600), c.next()).await;
    let frames = seen.lock().unwrap().frames.clone();
    let (ch, rr) = frames
        .first()
        .expect("a receiver report within ~5 s")
        .clone();
    assert_eq!(ch, 1, "RTCP channel of stream 0");
    assert_eq!(rr[1], 201);
    assert_eq!(
        u32::from_be_bytes(rr[8..12].try_into().unwrap()),
        0xabcd,
        "report block of the source"
    );
    assert!(rr.windows(7).any(|w| w == b"camwire"), "SDES CNAME");
}

#[tokio::test]
async fn receiver_reports_carry_the_interarrival_jitter() {
    // 25 fps on the 90 kHz clock (3600 units per frame), but sent 20 ms and 60 ms apart in
    // turn instead of every 40 ms: each transit time differs from the previous by 20 ms =
    // 1800 units, so RFC 3550's jitter estimate converges to ~1800 (the machine's timer and
    // scheduling noise adds to it, never takes it to 0).
    let mut paced = Vec::new();
    let mut at = Duration::ZERO;
    for i in 0..175u16 {
        paced.push((at, interleaved(0, &rtp_at(i, u32::from(i) * 3600, 0xabcd))));
        at += Duration::from_millis(if i % 2 == 0 { 20 } else { 60 });
    }
    let (url, seen) = serve_paced(camera("j", |r| resp(&cseq(r), "200 OK", &[], "")), paced).await;
    let mut c = playing(url, SetupTransport::Tcp).await;
    let end = tokio::time::Instant::now() + Duration::from_millis(5600);
    let mut n = 0;
    while let Ok(p) = tokio::time::timeout_at(end, c.next()).await {
        p.expect("no error").expect("not closed");
        n += 1;
    }
    assert!(n >= 100, "{n} packets in 5.6 s");
    let frames = seen.lock().unwrap().frames.clone();
    let (_, rr) = frames
        .first()
        .expect("a receiver report within ~5 s")
        .clone();
    assert_eq!(rr[1], 201);
    assert_eq!(u32::from_be_bytes(rr[8..12].try_into().unwrap()), 0xabcd);
    assert_eq!(rr[12], 0, "fraction lost");
    assert_eq!(&rr[13..16], &[0, 0, 0], "cumulative lost");
    let ext_max = u32::from_be_bytes(rr[16..20].try_into().unwrap());
    assert!(
        (100..175).contains(&ext_max),
        "extended highest seq {ext_max}"
    );
    let jitter = u32::from_be_bytes(rr[20..24].try_into().unwrap());
    eprintln!("jitter in the first report: {jitter} (90 kHz units)");
    assert!(
        (1200..=4500).contains(&jitter),
        "jitter {jitter} units of 90 kHz, expected ~1800 (20 ms)"
    );
}

/// A client playing over TCP from a camera that sends `n` RTP packets (sequence 0..n) `gap_ms`
/// apart after its PLAY answer, timestamps advancing at 90 kHz with the gap.
async fn playing_paced(n: u16, gap_ms: u64, options: ClientOptions) -> RtspClient {
    let paced: Vec<_> = (0..n)
        .map(|i| {
            let at = Duration::from_millis(gap_ms * u64::from(i));
            let ts = u32::from(i) * 90 * gap_ms as u32;
            (at, interleaved(0, &rtp_at(i, ts, 0xabcd)))
        })
        .collect();
    let (url, _) = serve_paced(camera("c", |r| resp(&cseq(r), "200 OK", &[], "")), paced).await;
    let mut c = RtspClient::connect(url, options).await.unwrap();
    c.describe().await.unwrap();
    c.setup(0, SetupTransport::Tcp).await.unwrap();
    c.play(&PlayOptions::default()).await.unwrap();
    c
}

#[tokio::test]
async fn coalesced_reads_deliver_a_slow_stream_and_requests_still_get_answers() {
    // Read coalescing sets SO_RCVLOWAT (64 KiB): 20 small packets, 50 ms apart (a few hundred
    // bytes in all), never reach it, so they must come through the coalescing delay (100 ms
    // here), every one and in order; and PAUSE must still see its small answer.
    let mut c = playing_paced(
        20,
        50,
        ClientOptions {
            coalesce: Duration::from_millis(100),
            coalesce_after_play: Duration::ZERO,
            ..opts()
        },
    )
    .await;
    let t0 = tokio::time::Instant::now();
    for want in 0..20u16 {
        match next(&mut c).await {
            Packet::Rtp { data, .. } => assert_eq!(&data[2..4], &want.to_be_bytes()),
            o => panic!("{o:?}"),
        }
    }
    // 950 ms of sending, plus at most one coalescing delay (and a loaded machine's slack).
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    tokio::time::timeout(Duration::from_secs(2), c.pause())
        .await
        .expect("PAUSE answered despite the low-water mark")
        .unwrap();
}

#[cfg(feature = "sim")]
mod sim {
    use super::*;
    use camwire::sim::{SimCamera, SimOptions};

    async fn count_packets(transport: SetupTransport) -> (usize, usize) {
        let cam = SimCamera::start(SimOptions {
            onvif: None,
            ..Default::default()
        })
        .await
        .unwrap();
        let url = Url::parse(&cam.rtsp_url()).unwrap();
        let mut c = RtspClient::connect(url, opts()).await.unwrap();
        let p = c.describe().await.unwrap();
        assert_eq!(p.streams[0].section.encoding, "H264");
        c.setup(0, transport).await.unwrap();
        c.play(&PlayOptions::default()).await.unwrap();
        let (mut rtp_n, mut rtcp_n) = (0, 0);
        let end = tokio::time::Instant::now() + Duration::from_millis(2500);
        while let Ok(p) = tokio::time::timeout_at(end, c.next()).await {
            match p.unwrap().unwrap() {
                Packet::Rtp { data, .. } => {
                    camwire::rtp::RtpPacket::parse(data).unwrap();
                    rtp_n += 1
                }
                Packet::Rtcp { .. } => rtcp_n += 1,
            }
        }
        c.teardown().await;
        cam.shutdown().await;
        (rtp_n, rtcp_n)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sim_camera_over_tcp_and_udp() {
        for t in [SetupTransport::Tcp, SetupTransport::Udp] {
            let (rtp_n, rtcp_n) = count_packets(t).await;
            assert!(rtp_n >= 50, "{t:?}: {rtp_n} RTP packets in 2.5 s (25 fps)");
            assert!(rtcp_n >= 1, "{t:?}: sender reports");
        }
    }
}

#[tokio::test]
async fn coalescing_waits_after_play_so_first_frames_arrive_on_time() {
    // The first frames' arrival anchors a camera's wall clock when it sends no sender
    // reports: with a 1 s coalescing delay (and the default start 3 s after PLAY) each of
    // five packets 100 ms apart is handed over as it arrives, not a second late in a batch.
    let mut c = playing_paced(
        5,
        100,
        ClientOptions {
            coalesce: Duration::from_secs(1),
            ..opts()
        },
    )
    .await;
    let t0 = tokio::time::Instant::now();
    for want in 0..5u16 {
        match next(&mut c).await {
            Packet::Rtp { data, .. } => assert_eq!(&data[2..4], &want.to_be_bytes()),
            o => panic!("{o:?}"),
        }
        // Sent at 100 ms * want after the PLAY answer; allow a loaded machine 150 ms.
        let late = t0
            .elapsed()
            .saturating_sub(Duration::from_millis(100 * u64::from(want)));
        assert!(
            late < Duration::from_millis(150),
            "packet {want}: {late:?} late"
        );
    }
}

#[tokio::test]
async fn coalescing_starts_once_the_caller_has_anchored_its_clocks() {
    // The recorder calls `start_coalescing` once every track's first frame is timed: from
    // then on packets are batched by the coalescing delay (500 ms here) although the 3 s
    // after PLAY are not over. Packet 0 comes at once; packets 1..4 (sent 100..400 ms after
    // PLAY) come together when the delay is due, ~500 ms after PLAY.
    let mut c = playing_paced(
        5,
        100,
        ClientOptions {
            coalesce: Duration::from_millis(500),
            ..opts()
        },
    )
    .await;
    let t0 = tokio::time::Instant::now();
    match next(&mut c).await {
        Packet::Rtp { data, .. } => assert_eq!(&data[2..4], &0u16.to_be_bytes()),
        o => panic!("{o:?}"),
    }
    assert!(
        t0.elapsed() < Duration::from_millis(150),
        "{:?}",
        t0.elapsed()
    );
    c.start_coalescing();
    let mut at = Vec::new();
    for want in 1..5u16 {
        match next(&mut c).await {
            Packet::Rtp { data, .. } => assert_eq!(&data[2..4], &want.to_be_bytes()),
            o => panic!("{o:?}"),
        }
        at.push(t0.elapsed());
    }
    // Packet 1 was sent at 100 ms: handed over with the batch, not as it arrived.
    assert!(
        at[0] >= Duration::from_millis(350),
        "packet 1 at {:?}",
        at[0]
    );
    assert!(
        at[3].saturating_sub(at[0]) < Duration::from_millis(100),
        "one batch: {at:?}"
    );
}

//! The fixture corpus: the real camera answers retina ships in `src/client/testdata/`
//! (Hikvision, Dahua, Reolink, Foscam, GW Security, Vstarcam, TP-Link, Ubiquiti, Geovision,
//! ...), read at test time from the retina source cargo already has (located with
//! `cargo metadata`).
//!
//! Every DESCRIBE answer is served to both camwire's client and retina (the oracle, through its
//! public `Session::describe`) by a one-shot server; both must give the same streams (media,
//! encoding, clock rate, control URL, channels). Every SETUP and PLAY answer must be accepted.
//! A response retina reads and camwire does not fails the test, naming the file.

use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use camwire::rtsp::client::{ClientOptions, RtspClient, parse_describe};
use camwire::rtsp::headers;
use camwire::rtsp::msg::{Frame, Framer, Message, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

fn testdata_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
            manifest,
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let retina = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "retina")
        .expect("retina is a (dev-)dependency");
    let manifest = PathBuf::from(retina["manifest_path"].as_str().unwrap());
    manifest.parent().unwrap().join("src/client/testdata")
}

/// The fixture with a fresh `CSeq` and a `Content-Length` that matches its body; bare SDP
/// files (`*_sdp.txt`) become a 200 answer with `Content-Type: application/sdp`.
fn as_answer(name: &str, raw: &[u8], cseq: u32) -> Vec<u8> {
    if name.ends_with("_sdp.txt") {
        let mut out = format!(
            "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
            raw.len()
        )
        .into_bytes();
        out.extend_from_slice(raw);
        return out;
    }
    let (head, body) = split_head(raw);
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(head).lines() {
        let l = line.to_ascii_lowercase();
        if l.starts_with("cseq:") || l.starts_with("content-length:") || line.trim().is_empty() {
            continue;
        }
        out.extend_from_slice(line.trim_end_matches('\r').as_bytes());
        out.extend_from_slice(b"\r\n");
        if l.starts_with("rtsp/") {
            out.extend_from_slice(format!("CSeq: {cseq}\r\n").as_bytes());
        }
    }
    if !body.is_empty() {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    for (i, w) in raw.windows(2).enumerate() {
        if w == b"\n\n" {
            return (&raw[..i + 1], &raw[i + 2..]);
        }
        if w == b"\n\r" && raw.get(i + 2) == Some(&b'\n') {
            return (&raw[..i + 1], &raw[i + 3..]);
        }
    }
    (raw, &[])
}

fn parse_answer(bytes: &[u8]) -> Response {
    let mut buf = BytesMut::from(bytes);
    match Framer::new().next(&mut buf) {
        Ok(Some(Frame::Message(Message::Response(r)))) => r,
        o => panic!("not a response: {o:?}"),
    }
}

/// Serves `answer` (with each request's CSeq) to every request on every connection.
async fn serve(name: String, raw: Vec<u8>) -> Url {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let (name, raw) = (name.clone(), raw.clone());
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                let mut f = Framer::new();
                loop {
                    while let Ok(Some(Frame::Message(Message::Request(r)))) = f.next(&mut buf) {
                        let c = r.headers.cseq().unwrap_or(1);
                        let out = if r.method == "OPTIONS" {
                            format!("RTSP/1.0 200 OK\r\nCSeq: {c}\r\nPublic: DESCRIBE, SETUP, PLAY\r\n\r\n").into_bytes()
                        } else {
                            as_answer(&name, &raw, c)
                        };
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                    match s.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    Url::parse(&format!("rtsp://{addr}/cam/stream")).unwrap()
}

#[derive(Debug, PartialEq)]
struct StreamFacts {
    media: String,
    encoding: String,
    clock_rate: u32,
    control: Option<String>,
    channels: Option<u16>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_corpus_matches_retina() {
    let dir = testdata_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 46,
        "retina ships 46 fixtures, found {}",
        names.len()
    );
    let mut failures = Vec::new();
    let (mut describes, mut setups, mut plays, mut others) = (0, 0, 0, 0);
    for name in &names {
        let raw = std::fs::read(dir.join(name)).unwrap();
        let answer = parse_answer(&as_answer(name, &raw, 1));
        if name.contains("describe") || name.ends_with("_sdp.txt") {
            describes += 1;
            let url = serve(name.clone(), raw.clone()).await;
            // camwire: the real client over TCP, and the pure parser.
            let mut c = RtspClient::connect(url.clone(), ClientOptions::default())
                .await
                .unwrap();
            let ours = match c.describe().await {
                Ok(p) => Some(p.clone()),
                Err(e) => {
                    failures.push(format!("{name}: camwire DESCRIBE failed: {e}"));
                    None
                }
            };
            assert_eq!(
                parse_describe(&url, &answer).ok().map(|p| p.streams.len()),
                ours.as_ref().map(|p| p.streams.len()),
                "{name}: parser and client agree"
            );
            let theirs = tokio::time::timeout(
                Duration::from_secs(10),
                retina::client::Session::describe(
                    url.clone(),
                    retina::client::SessionOptions::default(),
                ),
            )
            .await
            .expect("retina answers in time");
            match (theirs, ours) {
                (Ok(s), Some(p)) => {
                    for rs in s.streams() {
                        let want = StreamFacts {
                            media: rs.media().to_string(),
                            encoding: rs.encoding_name().to_ascii_uppercase(),
                            clock_rate: rs.clock_rate_hz(),
                            control: rs.control().map(|u| u.to_string()),
                            channels: rs.channels().map(|c| c.get()),
                        };
                        let found = p.streams.iter().any(|st| {
                            let got = StreamFacts {
                                media: st.section.media.clone(),
                                encoding: st.section.encoding.clone(),
                                clock_rate: st.section.clock_rate,
                                control: Some(st.control.to_string()),
                                channels: want.channels,
                            };
                            got == want
                                || (want.control.is_none()
                                    && got
                                        == StreamFacts {
                                            control: None,
                                            ..want_clone(&want)
                                        })
                        });
                        if !found {
                            failures.push(format!(
                                "{name}: retina stream {want:?} not among camwire's {:?}",
                                p.streams
                                    .iter()
                                    .map(|s| (
                                        &s.section.media,
                                        &s.section.encoding,
                                        s.section.clock_rate,
                                        s.control.as_str()
                                    ))
                                    .collect::<Vec<_>>()
                            ));
                        }
                        // fmtp: an H.264 stream retina got parameters from has sprop
                        // parameter sets camwire can decode too.
                        if want.encoding == "H264"
                            && rs.parameters().is_some()
                            && let Some(st) = p
                                .streams
                                .iter()
                                .find(|st| Some(st.control.to_string()) == want.control)
                            && let Some(sprop) = st.section.fmtp_param("sprop-parameter-sets")
                            && camwire::rtp::parse_sprop_parameter_sets(sprop).is_err()
                        {
                            failures.push(format!(
                                "{name}: sprop-parameter-sets retina reads, camwire does not"
                            ));
                        }
                    }
                }
                (Ok(_), None) => {} // already named above
                (Err(e), _) => eprintln!("{name}: retina itself refuses it ({e}); camwire: ok"),
            }
        } else if name.contains("setup") {
            setups += 1;
            let s = answer
                .headers
                .get("Session")
                .and_then(|s| headers::parse_session(s).ok());
            let t = answer
                .headers
                .get("Transport")
                .and_then(|t| headers::parse_transport(t).ok());
            match (s, t) {
                (Some(s), Some(t))
                    if !s.id.is_empty() && (t.interleaved.is_some() || t.server_port.is_some()) => {
                }
                (s, t) => failures.push(format!("{name}: SETUP answer not accepted: {s:?} {t:?}")),
            }
        } else if name.contains("play") {
            plays += 1;
            if answer.status != 200 {
                failures.push(format!("{name}: PLAY status {}", answer.status));
            }
            if let Some(i) = answer.headers.get("RTP-Info")
                && headers::parse_rtp_info(i).is_empty()
            {
                failures.push(format!("{name}: RTP-Info not read"));
            }
        } else {
            others += 1;
            assert!(answer.status >= 200, "{name}");
        }
    }
    eprintln!("fixtures: {describes} DESCRIBE, {setups} SETUP, {plays} PLAY, {others} other");
    assert!(
        failures.is_empty(),
        "{} failing fixtures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn want_clone(w: &StreamFacts) -> StreamFacts {
    StreamFacts {
        media: w.media.clone(),
        encoding: w.encoding.clone(),
        clock_rate: w.clock_rate,
        control: w.control.clone(),
        channels: w.channels,
    }
}

#[test]
fn setup_fixture_values() {
    let dir = testdata_dir();
    let read = |n: &str| parse_answer(&as_answer(n, &std::fs::read(dir.join(n)).unwrap(), 1));
    let t = |n: &str| headers::parse_transport(read(n).headers.get("Transport").unwrap()).unwrap();
    assert_eq!(t("hikvision_setup.txt").ssrc, Some(0x4cac_c3d1));
    assert_eq!(t("hikvision_setup_ssrc_space.txt").ssrc, Some(0x0d6d_6627));
    assert_eq!(
        t("rubetek_setup_ssrc_0x.txt").ssrc,
        None,
        "16-bit 0x value is advisory only"
    );
    assert_eq!(t("setup_ssrc_4_hex_digits.txt").ssrc, None);
    assert_eq!(t("hikvision_setup.txt").interleaved, Some((0, 1)));
    let s = headers::parse_session(read("hikvision_setup.txt").headers.get("Session").unwrap())
        .unwrap();
    assert_eq!((s.id.as_str(), s.timeout), ("708345999", Some(60)));
    let longse = read("longse_unauthorized.txt");
    assert_eq!(longse.status, 401);
    assert_eq!(longse.headers.cseq(), Some(1));
}

/// The tracks each real camera's SDP sets up (issue 12): the first video and, by default,
/// the first audio camwire records. Dahua's H.265 + PCMA and H.264 + AAC (ONVIF) answers
/// give exactly those two tracks; every other describe with an audio section either records
/// it or names why not; no fixture fails the plan.
#[test]
fn describe_fixtures_plan_their_tracks() {
    use camwire::rtsp::{AudioChoice, TrackKind, track_plan};
    let dir = testdata_dir();
    let sdp_of = |n: &str| as_answer_body(n, &std::fs::read(dir.join(n)).unwrap());
    let plan = |n: &str| track_plan(&sdp_of(n), AudioChoice::First).expect(n);
    let summary = |n: &str| {
        plan(n)
            .iter()
            .filter_map(|t| Some((t.track?, t.section.encoding.clone(), t.section.clock_rate)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        summary("dahua_describe_h265_pcma.txt"),
        [(0, "H265".into(), 90_000), (1, "PCMA".into(), 8000)]
    );
    assert_eq!(
        summary("dahua_describe_h264_aac_onvif.txt"),
        [
            (0, "H264".into(), 90_000),
            (1, "MPEG4-GENERIC".into(), 48_000)
        ]
    );
    let mut audio_fixtures = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if !(name.contains("describe") || name.ends_with("_sdp.txt")) {
            continue;
        }
        let sdp = sdp_of(&name);
        let Ok(tracks) = track_plan(&sdp, AudioChoice::All) else {
            continue; // no H.264/H.265 video: not a recording source
        };
        for t in tracks.iter().filter(|t| t.kind == Some(TrackKind::Audio)) {
            audio_fixtures += 1;
            assert!(
                t.track.is_some() != t.skipped.is_some(),
                "{name}: audio section {} is either recorded or says why: {t:?}",
                t.section.index
            );
        }
    }
    assert!(
        audio_fixtures >= 3,
        "{audio_fixtures} audio sections in the corpus"
    );
}

/// The SDP body of a fixture (a whole DESCRIBE answer, or a bare `*_sdp.txt`).
fn as_answer_body(name: &str, raw: &[u8]) -> Vec<u8> {
    parse_answer(&as_answer(name, raw, 1)).body.to_vec()
}

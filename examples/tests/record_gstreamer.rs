//! `camwire record`, `capture` and `replay` against a GStreamer RTSP server: the recording
//! must decode to exactly the source's frames, and every file must satisfy ffprobe and
//! GStreamer's qtdemux.

mod support;
use support::*;

/// Records the whole clip served by GStreamer (the server ends it with RTCP BYE) and checks
/// the recording frame for frame against the source.
fn record_whole_clip(transport: &str, secs: u32) {
    let src = clip(1920, 1080, secs, 4000);
    let server = GstServer::start(&src);
    let out = tmpdir(&format!("gst-{transport}"));
    let limit = (secs + 30).to_string();
    let r = camwire(&[
        "record",
        "--url",
        &server.url,
        "--transport",
        transport,
        "--out",
        out.to_str().unwrap(),
        "--camera-id",
        "gst",
        "--duration",
        &limit,
        "--segment-secs",
        "20",
        "--reconnect",
        "no",
    ]);
    assert_ok(&r, "camwire record");
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        stdout.contains("stream ended by camera"),
        "recording did not end on BYE: {stdout}"
    );
    let files = mp4_files(&out.join("gst"));
    assert!(
        files.len() >= secs as usize / 20,
        "expected rotated segments, got {files:?}"
    );
    for f in &files {
        assert_ffprobe_clean(f);
        assert_gst_reads(f);
        assert_decodes_cleanly(f);
    }
    let want = framemd5(std::slice::from_ref(&src));
    let got = framemd5(&files);
    assert_eq!(want.len(), secs as usize * 25);
    assert_eq!(got.len(), want.len(), "frame count differs");
    assert!(got == want, "decoded frames differ from the source");
}

#[test]
fn gstreamer_tcp_60s_1080p_recording_equals_source() {
    record_whole_clip("tcp", 60);
}

#[test]
fn gstreamer_udp_60s_1080p_recording_equals_source() {
    record_whole_clip("udp", 60);
}

#[test]
fn capture_then_replay_equals_live_recording() {
    let src = clip(1920, 1080, 10, 4000);
    let server = GstServer::start(&src);
    let dir = tmpdir("capture-replay");
    let prefix = dir.join("cap");
    let live = dir.join("live");
    let url = server.url.clone();
    let (p2, l2) = (prefix.clone(), live.clone());
    let cap = std::thread::spawn(move || {
        camwire(&[
            "capture",
            "--url",
            &url,
            "--out",
            p2.to_str().unwrap(),
            "--duration",
            "40",
        ])
    });
    let rec = camwire(&[
        "record",
        "--url",
        &server.url,
        "--out",
        l2.to_str().unwrap(),
        "--camera-id",
        "live",
        "--duration",
        "40",
        "--reconnect",
        "no",
    ]);
    assert_ok(&rec, "camwire record");
    let cap = cap.join().expect("capture thread");
    assert_ok(&cap, "camwire capture");
    assert!(
        String::from_utf8_lossy(&cap.stdout).contains("RTCP BYE"),
        "{cap:?}"
    );

    let replayed = dir.join("replayed.mp4");
    let rep = camwire(&[
        "replay",
        "--sdp",
        &format!("{}.sdp", prefix.display()),
        "--interleaved",
        &format!("{}.rtp", prefix.display()),
        "--out",
        replayed.to_str().unwrap(),
    ]);
    assert_ok(&rep, "camwire replay");
    assert_ffprobe_clean(&replayed);
    assert_decodes_cleanly(&replayed);
    let live_frames = framemd5(&mp4_files(&live));
    let replay_frames = framemd5(&[replayed]);
    let source = framemd5(&[src]);
    assert_eq!(source.len(), 250);
    assert!(
        replay_frames == live_frames,
        "replay differs from live ({} vs {} frames)",
        replay_frames.len(),
        live_frames.len()
    );
    assert!(
        live_frames == source,
        "live recording differs from the source"
    );

    // The same capture with 1 % of its RTP packets dropped (seeded), replayed under each
    // --loss-policy: `keep` records the frames after each loss, `skip-to-keyframe` does not.
    let rtp = std::fs::read(format!("{}.rtp", prefix.display())).expect("capture");
    let (lossy, dropped, _) = camwire::rtp::lossy::impair_capture(
        rtp.into(),
        0,
        camwire::rtp::lossy::ImpairmentOptions {
            seed: 7,
            drop: 0.01,
            ..Default::default()
        },
    );
    assert!(!dropped.is_empty(), "the impairment dropped packets");
    let lossy_path = dir.join("lossy.rtp");
    std::fs::write(&lossy_path, lossy).expect("write lossy capture");
    let frames_with = |policy: &str| -> u64 {
        let out = dir.join(format!("lossy-{policy}.mp4"));
        let rep = camwire(&[
            "replay",
            "--sdp",
            &format!("{}.sdp", prefix.display()),
            "--interleaved",
            lossy_path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--loss-policy",
            policy,
        ]);
        assert_ok(&rep, "camwire replay --loss-policy");
        assert_ffprobe_clean(&out);
        let text = String::from_utf8_lossy(&rep.stdout).into_owned();
        let n = text
            .split(": ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|t| t.parse().ok());
        n.unwrap_or_else(|| panic!("no frame count in {text:?}"))
    };
    let keep = frames_with("keep");
    let skip = frames_with("skip-to-keyframe");
    assert!(
        keep > skip && keep <= 250,
        "keep {keep} vs skip-to-keyframe {skip} frames, {} packets dropped",
        dropped.len()
    );
    let bad = camwire(&[
        "replay",
        "--sdp",
        "x",
        "--interleaved",
        "y",
        "--out",
        "z",
        "--loss-policy",
        "drop-all",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown policy is a usage error"
    );
}

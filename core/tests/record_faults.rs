//! Bad input and bad servers: a counted error, the recording goes on or ends cleanly, and
//! nothing already written is lost. The files are judged by ffmpeg, not by us.
#![cfg(feature = "sim")]

mod support;
use bytes::Bytes;
use camwire::capture::Reader;
use camwire::record::{CameraConfig, FsyncPolicy, Ingest, Naming, SegmentOptions, record_camera};
use camwire::rtp::RtpPacket;
use camwire::rtsp::{RtspError, SourceOptions, sdp};
use camwire::sim::{SimCamera, SimOptions};
use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

fn config(id: &str, url: String, opts: SourceOptions) -> CameraConfig {
    CameraConfig {
        id: id.into(),
        url,
        source: opts,
        segment: SegmentOptions {
            fsync: FsyncPolicy::Never,
            ..Default::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    }
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold connections, answer nothing.
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let opts = SourceOptions {
        connect_timeout: Duration::from_millis(800),
        ..Default::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let t = Instant::now();
    let r = record_camera(
        config("stall", format!("rtsp://{addr}/x"), opts),
        tmp("faults-stall"),
        rx,
    )
    .await;
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    match r {
        Err(camwire::record::RecordError::Rtsp(RtspError::Timeout { step, .. })) => {
            assert_eq!(step, "connect/DESCRIBE")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    hold.abort();
}

#[tokio::test]
async fn camera_vanishing_mid_stream_keeps_everything_written() {
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let root = tmp("faults-vanish");
    let opts = SourceOptions {
        idle_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(record_camera(
        config("cam", sim.rtsp_url(), opts),
        root.clone(),
        rx,
    ));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    sim.shutdown().await; // connections dropped mid-frame
    let r = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("recording ends")
        .unwrap();
    // Either a clean end (connection closed) or a reported error: both are fine, a hang or a
    // panic is not. What matters is the file.
    if let Err(e) = &r {
        println!("ended with error: {e}");
    }
    let files = mp4_files(&root);
    assert_eq!(files.len(), 1, "{files:?}");
    let frames = decoded_frames(&files[0]);
    assert!(
        (75..=95).contains(&frames),
        "{frames} frames for ~3.5 s at 25 fps"
    );
}

/// Replays the committed GStreamer capture with damage a flaky link or a broken camera
/// causes: truncated packets, packets with a bad RTP version, lost FU-A start fragments, and
/// garbage sprop-parameter-sets. Damaged pictures are dropped and counted, the depacketizer
/// resumes at the next IDR, and the file decodes without a single decoder complaint.
#[test]
fn damaged_packets_are_counted_and_the_file_stays_decodable() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let sdp_body = std::fs::read_to_string(dir.join("gst_1080p_capture.sdp")).unwrap();
    let sdp_body = sdp_body.replacen(
        "sprop-parameter-sets=",
        "sprop-parameter-sets=!!garbage!!,",
        1,
    );
    let data = Bytes::from(std::fs::read(dir.join("gst_1080p_capture.rtp")).unwrap());
    let video = sdp::h264_section(sdp_body.as_bytes()).unwrap();
    let out = tmp("faults-damage").join("out.mp4");
    let mut ingest = Ingest::new(
        &video,
        Naming::Fixed(out.clone()),
        SegmentOptions {
            segment_secs: u32::MAX,
            fsync: FsyncPolicy::Never,
            ..Default::default()
        },
        Default::default(),
    );
    let (mut bad_rtp, mut fu_starts_dropped) = (0, 0);
    for (i, f) in Reader::new(data)
        .map(Result::unwrap)
        .filter(|f| f.channel == 0)
        .enumerate()
    {
        let raw = f.data;
        if i == 700 || i == 2300 {
            // Truncated inside the RTP header.
            assert!(RtpPacket::parse(raw.slice(..7)).is_err());
            bad_rtp += 1;
            continue;
        }
        if i == 1500 {
            let mut v = raw.to_vec();
            v[0] = 0x40; // RTP version 1
            assert!(RtpPacket::parse(Bytes::from(v)).is_err());
            bad_rtp += 1;
            continue;
        }
        let pkt = RtpPacket::parse(raw).unwrap();
        let is_fu_start =
            pkt.payload.len() > 2 && pkt.payload[0] & 0x1f == 28 && pkt.payload[1] & 0x80 != 0;
        if is_fu_start && i > 3000 && fu_starts_dropped < 1 {
            fu_starts_dropped += 1;
            continue; // the start of a fragmented NAL lost on the way
        }
        ingest.on_rtp(pkt, 0).unwrap();
    }
    ingest.finish(0).unwrap();
    let d = ingest.depacketizer_stats();
    println!("{d:?}");
    assert!(
        d.lost_packets >= (bad_rtp + fu_starts_dropped) as u64,
        "losses counted: {d:?}"
    );
    assert!(d.dropped_access_units > 0);
    assert!(d.sprop_rejected, "garbage sprop is noticed");
    let written = ingest.segment_stats().frames;
    let frames = decoded_frames(&out);
    assert_eq!(frames as u64, written);
    assert!(
        (100..250).contains(&frames),
        "{frames} frames survive the damage"
    );
}

#![cfg(feature = "sim")]
//! The recorder's automatic back-fill (issue 13 item 4): a recorder loses its camera for
//! 30 s, the camera comes back, and the recorder fetches the missing stretch from the
//! camera's own recording (ONVIF Profile G on the sim: Recording Search finds the
//! recording, GetReplayUri its URI, replay `Rate-Control: no`).
//!
//! The sim runs with `live_on_recording_clock`, so its live stream and its recording show
//! the same clip frame at the same wall-clock time (`floor(t / 40 ms) mod 250`): the test
//! checks every frame of the camera's timeline, live and back-filled, against that rule.
//!
//! What must hold: the 30 s outage is filled, all of it: `ls` shows no gap (a hole of more
//! than 1.5 frame intervals would be one; the back-fill starts at the device's keyframe before the outage,
//! overlapping the live file by less than a GOP, and export takes the back-fill from there);
//! `gaps.jsonl` notes the span as `backfilled from device`; the export of the whole timeline
//! decodes cleanly and equals the clip's frames by the rule, none repeated or missing.

use std::time::{Duration, SystemTime};

mod export_support;

use camwire::export::{ExportOptions, export, ranges};
use camwire::onvif::Credentials;
use camwire::record::{
    BackfillOptions, BackfillSource, CameraConfig, Recorder, RecorderEventKind, RecorderOptions,
};
use camwire::rtsp::SourceOptions;
use camwire::sim::{SimCamera, SimOnvifOptions, SimOptions};
use export_support::{assert_decodes_cleanly, clip_frames, framemd5, tmpdir};

const USER: &str = "investigator";
const PASS: &str = "b4ckf1ll-pw";
const OUTAGE: Duration = Duration::from_secs(30);

fn sim_opts(rtsp: std::net::SocketAddr, http_port: u16) -> SimOptions {
    SimOptions {
        bind: rtsp,
        credentials: Some((USER.into(), PASS.into())),
        onvif: Some(SimOnvifOptions {
            http_port,
            multicast: None,
            ..Default::default()
        }),
        live_on_recording_clock: true,
        ..Default::default()
    }
}

fn nanos(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

/// The clip's frames at the times `[from, to)`, every 40 ms, by the sim's rule.
fn expected(frames: &[String], from: SystemTime, to: SystemTime) -> Vec<String> {
    let (a, b) = (nanos(from), nanos(to));
    (a.div_euclid(40_000_000)..(b + 39_999_999).div_euclid(40_000_000))
        .map(|i| frames[i.rem_euclid(250) as usize].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_back_filled_from_the_cameras_recording() {
    let dir = tmpdir("recorder-backfill");
    let root = dir.join("rec");
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = SimCamera::start(sim_opts(any, 0)).await.expect("sim");
    let rtsp_addr = std::net::SocketAddr::from(([127, 0, 0, 1], sim.port()));
    let xaddr = sim.xaddr().expect("xaddr");
    let http_port: u16 = xaddr
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("xaddr port");

    let mut opts = RecorderOptions::new(&root);
    opts.backoff.initial = Duration::from_millis(200);
    opts.backoff.max = Duration::from_secs(1);
    let rec = Recorder::start(opts).expect("recorder");
    let mut events = rec.events();
    let mut backfill = BackfillOptions::new(BackfillSource::Onvif {
        xaddr: xaddr.clone(),
        recording: None,
    });
    backfill.delay = Duration::from_millis(500);
    rec.add_camera(CameraConfig {
        id: "gate".into(),
        url: sim.rtsp_url(),
        source: SourceOptions {
            credentials: Some(Credentials::new(USER, PASS)),
            ..Default::default()
        },
        segment: Default::default(),
        depacketizer: Default::default(),
        backfill: Some(backfill),
    })
    .expect("add camera");

    tokio::time::sleep(Duration::from_secs(6)).await;
    // The camera drops off the network for 30 s, then comes back at the same address.
    sim.shutdown().await;
    tokio::time::sleep(OUTAGE).await;
    let sim = SimCamera::start(sim_opts(rtsp_addr, http_port))
        .await
        .expect("the camera back at the same address");

    // The gap closes when the camera records again; the back-fill follows it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut gap = None;
    let mut backfilled = Vec::new();
    while backfilled.is_empty() {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the gap and its back-fill within 60 s")
            .expect("events");
        match ev.kind {
            RecorderEventKind::Gap(g) => gap = Some(g),
            // After the gap's event, a file starting before the gap's end is the back-fill
            // (the live file before the outage closed when the camera dropped, the one after
            // it starts at the gap's end): it starts at the device's keyframe at or before
            // the gap's start, less than one 2 s GOP before it.
            RecorderEventKind::SegmentClosed { path, start, .. }
                if gap.as_ref().is_some_and(|g| start < g.end) =>
            {
                let g = gap.as_ref().expect("gap");
                assert!(
                    start <= g.start + Duration::from_millis(40)
                        && start + Duration::from_millis(2040) >= g.start,
                    "back-fill starts at {start:?}, the gap at {:?}",
                    g.start
                );
                backfilled.push(path)
            }
            RecorderEventKind::Error { message } if message.contains("back-fill") => {
                panic!("{message}")
            }
            _ => {}
        }
    }
    let gap = gap.expect("a gap");
    let outage = gap.end.duration_since(gap.start).expect("gap order");
    eprintln!(
        "gap {:?} .. {:?} ({outage:?}), back-filled into {backfilled:?}",
        gap.start, gap.end
    );
    // A live session starts at the keyframe before "now" (up to one 2 s GOP earlier).
    assert!(outage >= OUTAGE - Duration::from_secs(2), "{outage:?}");
    // Two more seconds of live recording after the back-fill, then stop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    rec.shutdown().await;
    sim.shutdown().await;

    let listing = ranges(&root, "gate", None, None).expect("ranges");
    eprintln!("{listing:?}");
    // ls counts a hole of more than 1.5 frame intervals as a gap: not even a sliver remains.
    assert!(listing.gaps.is_empty(), "ls shows a gap: {listing:?}");
    let log = std::fs::read_to_string(root.join("gate/gaps.jsonl")).expect("gaps.jsonl");
    assert!(log.contains("backfilled from device"), "{log}");

    let (t1, t2) = (
        listing.ranges.first().expect("a range").start,
        listing.ranges.last().expect("a range").end,
    );
    let out = dir.join("gate.mp4");
    let e = export(&root, "gate", t1, t2, &out, &ExportOptions::default()).expect("export");
    assert_decodes_cleanly(&out);
    let clip = clip_frames();
    let mut want = Vec::new();
    for r in &listing.ranges {
        want.extend(expected(&clip, r.start, r.end));
    }
    let got = framemd5(&out, &[]);
    assert_eq!(
        got.len(),
        want.len(),
        "{} frames, {} expected",
        got.len(),
        want.len()
    );
    assert!(
        got == want,
        "the timeline's frames differ from the camera's"
    );
    assert_eq!(e.manifest.gaps.len(), listing.gaps.len());
}

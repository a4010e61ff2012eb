#![cfg(feature = "sim")]
//! camwire's own Profile G client against the sim camera's Profile G face (issue 13 item 7).
//! Run with `cargo nextest run -p camwire --all-features --test sim_profile_g`.
//!
//! - Recording Search: GetServices lists Search, Replay and Recording; `recordings()` finds
//!   the sim's one recording (token, video track, earliest = the recording's start, status
//!   Recording); `data_presence()` over a window around the gap gives two ranges and the
//!   gap exactly where [`SimRecording::gap`] says; a window after the gap gives one range.
//!   Older firmware's way (GetCapabilities' Extension) names the same services.

use std::time::{Duration, SystemTime};

use camwire::onvif::search::present_ranges;
use camwire::onvif::{ClientOptions, Credentials, OnvifDevice};
use camwire::sim::{
    RECORDING_TOKEN, SimCamera, SimOnvifOptions, SimOptions, SimRecording, SimRecordingOptions,
    TRACK_TOKEN,
};

const USER: &str = "investigator";
const PASS: &str = "pr0file-G&<pw>";

/// A sim with credentials (the Profile G calls need WS-Security like the others), no
/// multicast, paced like a camera.
fn opts(recording: SimRecordingOptions) -> SimOptions {
    SimOptions {
        credentials: Some((USER.into(), PASS.into())),
        onvif: Some(SimOnvifOptions {
            multicast: None,
            ..Default::default()
        }),
        recording: Some(recording),
        ..Default::default()
    }
}

fn ts(t: SystemTime) -> jiff::Timestamp {
    jiff::Timestamp::try_from(t).expect("time")
}

async fn device(sim: &SimCamera) -> OnvifDevice {
    OnvifDevice::connect(
        &sim.xaddr().expect("xaddr"),
        Some(Credentials::new(USER, PASS)),
        ClientOptions::default(),
    )
    .await
    .expect("connect to the sim's device service")
}

#[tokio::test]
async fn recordings_and_data_presence_show_the_recording_and_its_gap() {
    let sim = SimCamera::start(opts(SimRecordingOptions::default()))
        .await
        .expect("sim");
    let rec: SimRecording = sim.recording().expect("a recording by default");
    let dev = device(&sim).await;
    let base = sim.xaddr().unwrap().replace("/onvif/device_service", "");
    for (svc, path) in [
        (dev.search_service(), "/onvif/search_service"),
        (dev.replay_service(), "/onvif/replay_service"),
    ] {
        assert_eq!(
            svc.map(|u| u.to_string()),
            Some(format!("{base}{path}")),
            "GetServices"
        );
    }

    let recs = dev.recordings().await.expect("recordings");
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r.token, RECORDING_TOKEN);
    assert_eq!(r.status, "Recording");
    assert!(!r.suspect_time);
    assert_eq!(r.earliest, Some(ts(rec.start)));
    let latest = r.latest.expect("latest");
    let now = jiff::Timestamp::now();
    assert!(
        latest <= now && now.duration_since(latest) < jiff::SignedDuration::from_secs(30),
        "latest {latest} now {now}"
    );
    // Two hours back, rounded down to the clip.
    let span = latest.duration_since(r.earliest.unwrap()).as_secs();
    assert!((7200..7230).contains(&span), "{span} s");
    assert_eq!(r.tracks.len(), 1);
    assert_eq!(r.tracks[0].token, TRACK_TOKEN);
    assert_eq!(r.tracks[0].kind, "Video");

    // A window across the gap: two ranges and the gap, exactly.
    let (gap_from, gap_to) = rec.gap.expect("a gap by default");
    assert_eq!(
        gap_from,
        rec.start + Duration::from_secs(3600),
        "an hour in, on a keyframe"
    );
    assert_eq!(gap_to, gap_from + Duration::from_secs(60));
    let w1 = ts(gap_from - Duration::from_secs(300));
    let w2 = ts(gap_to + Duration::from_secs(300));
    let ev = dev
        .data_presence(RECORDING_TOKEN, w1, w2)
        .await
        .expect("FindEvents");
    assert!(ev[0].start_state && ev[0].present, "{ev:?}");
    let (ranges, gaps) = present_ranges(&ev, w1, w2);
    assert_eq!(ranges, [(w1, ts(gap_from)), (ts(gap_to), w2)], "{ev:?}");
    assert_eq!(gaps, [(ts(gap_from), ts(gap_to))]);

    // Before the recording and over its start: data from the start only.
    let w0 = ts(rec.start - Duration::from_secs(600));
    let w1 = ts(rec.start + Duration::from_secs(600));
    let ev = dev
        .data_presence(RECORDING_TOKEN, w0, w1)
        .await
        .expect("FindEvents");
    assert!(ev[0].start_state && !ev[0].present, "{ev:?}");
    assert_eq!(present_ranges(&ev, w0, w1).0, [(ts(rec.start), w1)]);

    // Inside the gap: the start state says nothing is there until its end.
    let w0 = ts(gap_from + Duration::from_secs(10));
    let ev = dev
        .data_presence(RECORDING_TOKEN, w0, w2)
        .await
        .expect("FindEvents");
    assert_eq!(present_ranges(&ev, w0, w2).0, [(ts(gap_to), w2)]);

    // Another recording's events: none.
    let ev = dev
        .data_presence("NoSuchRecording", w0, w2)
        .await
        .expect("FindEvents of another token");
    assert!(ev.is_empty(), "{ev:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_recording_the_sim_lists_no_profile_g_service() {
    let sim = SimCamera::start(SimOptions {
        recording: None,
        ..opts(SimRecordingOptions::default())
    })
    .await
    .expect("sim");
    assert!(sim.recording().is_none() && sim.replay_url().is_none());
    let dev = device(&sim).await;
    assert!(dev.search_service().is_none() && dev.replay_service().is_none());
    let e = dev.recordings().await.expect_err("no Search service");
    assert!(e.to_string().contains("no Search service"), "{e}");
    sim.shutdown().await;
}

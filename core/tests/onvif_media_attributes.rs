#![cfg(feature = "sim")]
//! GetMediaAttributes (issue 13 item 1) against the sim camera's Profile G face: what the
//! recording's video track holds, as the camera's own stream is (640x360 H.264, 25 fps).
//! The parser's field shapes (H.265 + G.711, numbers that are not numbers, tokenless
//! entries) are named unit tests in `onvif::search`.

use camwire::onvif::{ClientOptions, Credentials, OnvifDevice};
use camwire::sim::{
    RECORDING_TOKEN, SimCamera, SimOnvifOptions, SimOptions, SimRecordingOptions, TRACK_TOKEN,
};

#[tokio::test]
async fn media_attributes_describe_the_recordings_video_track() {
    let opts = SimOptions {
        credentials: Some(("investigator".into(), "m3dia-attr".into())),
        onvif: Some(SimOnvifOptions {
            multicast: None,
            ..Default::default()
        }),
        recording: Some(SimRecordingOptions::default()),
        ..Default::default()
    };
    let sim = SimCamera::start(opts).await.expect("sim");
    let dev = OnvifDevice::connect(
        &sim.xaddr().expect("xaddr"),
        Some(Credentials::new("investigator", "m3dia-attr")),
        ClientOptions::default(),
    )
    .await
    .expect("connect");
    let rec = sim.recording().expect("recording");
    let at =
        jiff::Timestamp::try_from(rec.start).expect("time") + jiff::SignedDuration::from_secs(60);
    let list = dev
        .media_attributes(&[RECORDING_TOKEN], at)
        .await
        .expect("GetMediaAttributes");
    assert_eq!(list.len(), 1, "{list:?}");
    let m = &list[0];
    assert_eq!(m.recording, RECORDING_TOKEN);
    assert_eq!(m.tracks.len(), 1, "{m:?}");
    let t = &m.tracks[0];
    assert_eq!(
        (t.track.token.as_str(), t.track.kind.as_str()),
        (TRACK_TOKEN, "Video")
    );
    let v = t.video.as_ref().expect("video attributes");
    assert_eq!(
        (v.encoding.as_str(), v.width, v.height, v.framerate),
        ("H264", Some(640), Some(360), Some(25.0))
    );
    assert!(v.bitrate_kbps.is_some_and(|k| k > 0), "{v:?}");
    assert_eq!(
        m.from.map(|t| t.as_second()),
        Some(
            jiff::Timestamp::try_from(rec.start)
                .expect("time")
                .as_second()
        )
    );
    sim.shutdown().await;
}

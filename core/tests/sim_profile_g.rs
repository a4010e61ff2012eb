#![cfg(feature = "sim")]
//! camwire's own Profile G client against the sim camera's Profile G face (issue 13 item 7).
//! Run with `cargo nextest run -p camwire --all-features --test sim_profile_g`.
//!
//! - Recording Search: GetServices lists Search, Replay and Recording; `recordings()` finds
//!   the sim's one recording (token, video track, earliest = the recording's start, status
//!   Recording); `data_presence()` over a window around the gap gives two ranges and the
//!   gap exactly where [`SimRecording::gap`] says; a window after the gap gives one range.
//! - Replay: `replay::fetch_recording` of a window across the gap that starts between
//!   keyframes gives a manifest with that one gap and the frames shown are exactly the sim
//!   clip's frames for those times (ffmpeg framemd5 against the decoded clip, by the
//!   documented rule: the frame at time t is access unit `floor(t / 40 ms) mod 250`); the
//!   0xABAC flags say C per keyframe, D after PLAY and after the gap, E before it, T at the
//!   end; `verify` passes and one flipped media byte fails it.
//! - Back-fill (`replay::backfill`) of a window across the gap into a recording root: the
//!   root lists two ranges with the device's gap between them, and `export` of the whole
//!   window gives the sim clip's frames for those times.
//! - `Rate-Control: no` is faster than real time (a minute of media, wall time reported);
//!   `yes` is real time.
//! - At the RTSP level: the first packet after PLAY has D and C and the keyframe's time; a
//!   second PLAY with another Range during playback (Immediate) switches at once, its data
//!   told apart by the CSeq byte; PAUSE then PLAY without Range goes on where it stopped.
//! - `live_on_recording_clock`: the live stream shows what the recording holds: each live
//!   frame's wall clock (from the sender reports) names the clip access unit it carries by
//!   the same rule, starting at a keyframe.
//! - Refusals a device gives: `Require: onvif-replay` on the live URL (551, the client's
//!   "no Profile G"), a replay PLAY without it (551), ranges with nothing in them (457).

use std::time::{Duration, SystemTime};

mod export_support;

use camwire::onvif::search::present_ranges;
use camwire::onvif::{ClientOptions, Credentials, OnvifDevice};
use camwire::replay::ReplayExtension;
use camwire::replay::{FetchOptions, ReplayError, backfill, fetch, fetch_recording};
use camwire::rtp::RtpPacket;
use camwire::rtsp::client::{
    ClientError, ClientOptions as RtspOptions, Packet, PlayOptions, Range, RtspClient,
    SetupTransport,
};
use camwire::sim::{
    RECORDING_TOKEN, SimCamera, SimOnvifOptions, SimOptions, SimRecording, SimRecordingOptions,
    TRACK_TOKEN,
};
use export_support::{assert_decodes_cleanly, clip_frames, flip_byte, framemd5, tmpdir};

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

fn nanos(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

/// The sim clip's decoded frames at the times `[from, to)` (every 40 ms), by the documented
/// rule.
fn expected(frames: &[String], from: SystemTime, to: SystemTime) -> Vec<String> {
    let (a, b) = (nanos(from), nanos(to));
    (a / 40_000_000..(b + 39_999_999) / 40_000_000)
        .map(|i| frames[(i % 250) as usize].clone())
        .collect()
}

fn fetch_opts() -> FetchOptions {
    FetchOptions {
        credentials: Some(Credentials::new(USER, PASS)),
        ..Default::default()
    }
}

#[tokio::test]
async fn fetch_across_the_gap_is_frame_exact_and_verifies() {
    let sim = SimCamera::start(opts(SimRecordingOptions::default()))
        .await
        .expect("sim");
    let rec = sim.recording().expect("recording");
    let (g0, g1) = rec.gap.expect("gap");
    let dev = device(&sim).await;
    // 5.48 s before the gap (13 frames after a keyframe) .. 4 s after it.
    let t1 = g0 - Duration::from_millis(5480);
    let t2 = g1 + Duration::from_secs(4);
    let dir = tmpdir("sim-profile-g-gap");
    let out = dir.join("gap.mp4");
    let summary = fetch_recording(&dev, RECORDING_TOKEN, t1, t2, &out, &fetch_opts())
        .await
        .expect("fetch across the gap");
    let m = &summary.manifest;
    let o = &m.origin;
    eprintln!(
        "gap fetch: {} frames shown, {} stored; Rate-Control: {}; media {:.2} s in {:.3} s \
         ({:.1}x); PLAY Range {:?}; flags {:?}; ended by {}; gaps {:?}",
        m.export.frames,
        m.export.samples,
        o.rate_control,
        o.media_secs,
        o.download_wall_secs,
        o.speed,
        o.play_range,
        o.flags,
        o.ended_by,
        m.export.gaps
    );
    assert_decodes_cleanly(&out);
    let source = clip_frames();
    assert_eq!(source.len(), 250);
    let mut want = expected(&source, t1, g0);
    want.extend(expected(&source, g1, t2));
    let got = framemd5(&out, &[]);
    assert_eq!(got.len(), 137 + 100);
    assert!(
        got == want,
        "decoded frames differ from the sim clip's at those times"
    );
    assert_eq!(m.export.frames, 237);
    assert_eq!(
        m.export.samples, 250,
        "13 frames of pre-roll from the keyframe"
    );
    let show = |t: SystemTime| jiff::Timestamp::try_from(t).unwrap().to_string();
    assert_eq!(m.export.preroll_start, show(g0 - Duration::from_secs(6)));
    assert_eq!(m.export.actual.start, show(t1));
    assert_eq!(m.export.gaps.len(), 1, "{:?}", m.export.gaps);
    assert_eq!(
        (
            m.export.gaps[0].start.as_str(),
            m.export.gaps[0].end.as_str()
        ),
        (show(g0).as_str(), show(g1).as_str())
    );
    assert_eq!(o.rate_control, "no");
    assert_eq!(o.times_from, "0xabac");
    assert_eq!(o.frames_without_extension, 0);
    // Keyframes at g0-6, -4, -2 and g1, g1+2 (the one at g1+4 is T2, not sent).
    assert_eq!(o.flags.clean_points, 5);
    assert_eq!(o.flags.discontinuities, 2, "after PLAY and after the gap");
    assert_eq!(o.flags.ends_of_section, 1, "before the gap");
    assert_eq!(o.flags.terminal, 1);
    assert_eq!(o.ended_by, "terminal flag (T)");
    let d = o.device.as_ref().expect("device origin");
    assert_eq!(
        (d.manufacturer.as_str(), d.recording_token.as_str()),
        ("camwire", RECORDING_TOKEN)
    );
    assert_eq!(o.uri, sim.replay_url().unwrap());

    // verify: the output and media hashes; one flipped media byte fails both.
    let report = camwire::export::verify(&out).expect("verify");
    assert!(report.ok(), "{:?}", report.problems());
    let len = std::fs::metadata(&out).unwrap().len();
    flip_byte(&out, len - 1000);
    let report = camwire::export::verify(&out).expect("verify");
    assert!(!report.ok(), "a flipped media byte must fail verify");
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_control_no_is_faster_than_real_time_and_yes_is_real_time() {
    let sim = SimCamera::start(opts(SimRecordingOptions {
        gap: None,
        ..Default::default()
    }))
    .await
    .expect("sim");
    let rec = sim.recording().expect("recording");
    let url = sim.replay_url().unwrap();
    let dir = tmpdir("sim-profile-g-speed");
    // A minute from the middle, as fast as it goes.
    let t1 = rec.start + Duration::from_secs(1800);
    let t2 = t1 + Duration::from_secs(60);
    let out = dir.join("fast.mp4");
    let s = fetch(&url, t1, t2, &out, &fetch_opts())
        .await
        .expect("fast fetch");
    let o = &s.manifest.origin;
    eprintln!(
        "Rate-Control: no: {:.2} s of media in {:.3} s wall ({:.1}x real time)",
        o.media_secs, o.download_wall_secs, o.speed
    );
    assert_eq!(s.manifest.export.frames, 1500);
    assert!((o.media_secs - 60.0).abs() < 0.05, "{}", o.media_secs);
    assert!(
        o.download_wall_secs * 4.0 <= o.media_secs,
        "{:.3} s wall for {:.2} s media",
        o.download_wall_secs,
        o.media_secs
    );
    let got = framemd5(&out, &[]);
    assert!(got == expected(&clip_frames(), t1, t2));
    // Real time: 2 s of media take about 2 s.
    let out = dir.join("slow.mp4");
    let slow = FetchOptions {
        fast: false,
        ..fetch_opts()
    };
    let t2 = t1 + Duration::from_secs(2);
    let s = fetch(&url, t1, t2, &out, &slow)
        .await
        .expect("real-time fetch");
    let o = &s.manifest.origin;
    eprintln!(
        "Rate-Control: yes: {:.2} s of media in {:.3} s wall",
        o.media_secs, o.download_wall_secs
    );
    assert_eq!(o.rate_control, "yes");
    assert!(o.download_wall_secs >= 1.5, "{} s", o.download_wall_secs);
    sim.shutdown().await;
}

/// DESCRIBE and SETUP of the replay URL with camwire's RTSP client, then `play`.
async fn replay_session(url: &str) -> RtspClient {
    let mut c = RtspClient::connect(
        url.parse().expect("url"),
        RtspOptions {
            credentials: Some(Credentials::new(USER, PASS)),
            ..Default::default()
        },
    )
    .await
    .expect("connect");
    let p = c.describe().await.expect("DESCRIBE");
    assert_eq!(p.streams.len(), 1);
    c.setup(0, SetupTransport::Tcp).await.expect("SETUP");
    c
}

fn clock(start: SystemTime, end: Option<SystemTime>) -> PlayOptions {
    let ts = |t: SystemTime| jiff::Timestamp::try_from(t).unwrap();
    PlayOptions {
        range: Range::Clock {
            start: ts(start),
            end: end.map(ts),
        },
        rate_control: Some(false),
        require: vec!["onvif-replay".into()],
        immediate: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn refusals_are_the_status_codes_devices_give() {
    let sim = SimCamera::start(opts(SimRecordingOptions::default()))
        .await
        .expect("sim");
    let rec = sim.recording().expect("recording");
    let (g0, g1) = rec.gap.expect("gap");
    let url = sim.replay_url().unwrap();
    let dir = tmpdir("sim-profile-g-refusals");

    // The live URL is no replay: 551, which fetch reports as "no Profile G".
    let live = sim.rtsp_url();
    let out = dir.join("live.mp4");
    let e = fetch(&live, g1, g1 + Duration::from_secs(2), &out, &fetch_opts())
        .await
        .expect_err("live is no replay");
    assert!(
        matches!(e, ReplayError::NoProfileG { status: 551, .. }),
        "{e:?}"
    );
    assert!(!out.exists());

    // A replay PLAY without Require: onvif-replay.
    let mut c = replay_session(&url).await;
    let mut p = clock(g1, None);
    p.require.clear();
    let e = c.play(&p).await.expect_err("no Require");
    assert!(
        matches!(&e, ClientError::Unsupported { status: 551, unsupported: Some(u), .. } if u == "onvif-replay"),
        "{e:?}"
    );
    // Ranges with nothing in them: after now, before the start, inside the gap, reversed.
    let now = SystemTime::now();
    for (what, p) in [
        ("after now", clock(now + Duration::from_secs(5), None)),
        (
            "before the start",
            clock(rec.start - Duration::from_secs(60), Some(rec.start)),
        ),
        (
            "inside the gap",
            clock(
                g0 + Duration::from_secs(1),
                Some(g1 - Duration::from_secs(1)),
            ),
        ),
        ("reversed", clock(g1 + Duration::from_secs(9), Some(g1))),
    ] {
        let e = c.play(&p).await.expect_err(what);
        assert_eq!(e.status(), Some(457), "{what}: {e:?}");
    }
    // The same session still plays a good range: the answer's Range starts at the keyframe
    // at or before T1 and echoes Rate-Control.
    let r = c
        .play(&clock(
            g1 + Duration::from_millis(3100),
            Some(g1 + Duration::from_secs(4)),
        ))
        .await
        .expect("PLAY");
    let want = jiff::Timestamp::try_from(g1 + Duration::from_secs(2))
        .unwrap()
        .strftime("clock=%Y%m%dT%H%M%SZ-")
        .to_string();
    assert!(
        r.range.as_deref().is_some_and(|x| x.starts_with(&want)),
        "{:?} {want}",
        r.range
    );
    c.teardown().await;

    // fetch of a range after now fails typed, and leaves nothing behind.
    let out = dir.join("late.mp4");
    let e = fetch(
        &url,
        now + Duration::from_secs(60),
        now + Duration::from_secs(70),
        &out,
        &fetch_opts(),
    )
    .await
    .expect_err("nothing recorded then");
    eprintln!("fetch after now: {e}");
    assert!(e.to_string().contains("457"), "{e}");
    assert!(!out.exists());
    sim.shutdown().await;
}

#[tokio::test]
async fn backfill_across_the_gap_gives_ranges_and_frames_for_export() {
    let sim = SimCamera::start(opts(SimRecordingOptions::default()))
        .await
        .expect("sim");
    let rec = sim.recording().expect("recording");
    let (g0, g1) = rec.gap.expect("gap");
    let url = sim.replay_url().unwrap();
    let dir = tmpdir("sim-profile-g-backfill");
    let root = dir.join("rec");
    let (t1, t2) = (g0 - Duration::from_secs(10), g1 + Duration::from_secs(10));
    let b = backfill(&url, t1, t2, &root, "gate", &fetch_opts())
        .await
        .expect("backfill");
    eprintln!(
        "backfill: {} frames in {} files, ended by {}",
        b.frames,
        b.files.len(),
        b.ended_by
    );
    assert_eq!(b.frames, 500);
    assert_eq!((b.first, b.last), (t1, t2 - Duration::from_millis(40)));
    let listing = camwire::export::ranges(&root, "gate", None, None).expect("ranges");
    let spans: Vec<_> = listing.ranges.iter().map(|r| (r.start, r.end)).collect();
    assert_eq!(spans, [(t1, g0), (g1, t2)], "{listing:?}");
    assert_eq!(listing.gaps.len(), 1, "{listing:?}");
    assert_eq!((listing.gaps[0].start, listing.gaps[0].end), (g0, g1));
    let out = dir.join("gate.mp4");
    let e = camwire::export::export(
        &root,
        "gate",
        t1,
        t2,
        &out,
        &camwire::export::ExportOptions::default(),
    )
    .expect("export of the back-filled window");
    assert_eq!(e.manifest.gaps.len(), 1);
    assert_decodes_cleanly(&out);
    let source = clip_frames();
    let mut want = expected(&source, t1, g0);
    want.extend(expected(&source, g1, t2));
    assert!(
        framemd5(&out, &[]) == want,
        "exported frames differ from the sim clip's at those times"
    );
    sim.shutdown().await;
}

/// The next RTP packet's 0xABAC extension and its time (Unix nanoseconds).
async fn next_ext(c: &mut RtspClient, near: SystemTime) -> (ReplayExtension, i64) {
    loop {
        let p = tokio::time::timeout(Duration::from_secs(10), c.next())
            .await
            .expect("a packet within 10 s")
            .expect("no error")
            .expect("not closed");
        let Packet::Rtp { data, .. } = p else {
            continue;
        };
        let (_, ext) = RtpPacket::parse_with_extension(data).expect("RTP");
        let x =
            ReplayExtension::from_header(&ext.expect("every packet has 0xABAC")).expect("0xABAC");
        let t = x.unix_nanos_near(nanos(near)).expect("time");
        return (x, t);
    }
}

#[tokio::test]
async fn a_seek_during_playback_and_pause_then_resume() {
    let sim = SimCamera::start(opts(SimRecordingOptions::default()))
        .await
        .expect("sim");
    let rec = sim.recording().expect("recording");
    let (_, g1) = rec.gap.expect("gap");
    let url = sim.replay_url().unwrap();
    let mut c = replay_session(&url).await;
    let paced = |t: SystemTime| PlayOptions {
        rate_control: Some(true),
        ..clock(t, None)
    };
    c.play(&paced(g1 + Duration::from_millis(10_500)))
        .await
        .expect("PLAY");
    let (x, t) = next_ext(&mut c, g1).await;
    assert!(x.discontinuity && x.clean_point, "{x:?}");
    assert_eq!(
        t,
        nanos(g1 + Duration::from_secs(10)),
        "the keyframe before T1"
    );
    let first_cseq = x.cseq;

    // Seek: a new Range while playing.
    c.play(&paced(g1 + Duration::from_secs(30)))
        .await
        .expect("PLAY (seek)");
    let (x, t) = loop {
        let (x, t) = next_ext(&mut c, g1).await;
        if x.cseq != first_cseq {
            break (x, t);
        }
    };
    assert!(x.discontinuity && x.clean_point, "{x:?}");
    assert_eq!(t, nanos(g1 + Duration::from_secs(30)));
    // Frames follow 40 ms apart, without D (the packets of one frame share its flags).
    let mut last = t;
    for _ in 0..30 {
        let (y, ty) = next_ext(&mut c, g1).await;
        assert_eq!(y.cseq, x.cseq);
        assert!(!y.discontinuity || ty == t, "{y:?}");
        assert!(ty == last || ty == last + 40_000_000, "{ty} after {last}");
        last = ty;
    }

    // PAUSE, then PLAY without Range: on from where it stopped.
    c.pause().await.expect("PAUSE");
    let resume = PlayOptions {
        range: Range::None,
        ..paced(g1)
    };
    c.play(&resume).await.expect("PLAY (resume)");
    let (x2, t2) = loop {
        let (y, ty) = next_ext(&mut c, g1).await;
        if y.cseq != x.cseq {
            break (y, ty);
        }
        last = ty;
    };
    assert!(!x2.discontinuity);
    assert!(
        t2 > last && t2 <= last + 40_000_000,
        "resumed at {t2}, paused after {last}"
    );
    c.teardown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn live_on_the_recording_clock_carries_the_recordings_frames() {
    let sim = SimCamera::start(SimOptions {
        live_on_recording_clock: true,
        ..opts(SimRecordingOptions::default())
    })
    .await
    .expect("sim");
    let mut s = camwire::stream::LiveStream::open(
        &sim.rtsp_url(),
        camwire::rtsp::SourceOptions {
            credentials: Some(Credentials::new(USER, PASS)),
            ..Default::default()
        },
    )
    .await
    .expect("live stream");
    let clip = camwire::sim::clip();
    let aus = camwire::sim::clip_access_units();
    let mut checked = 0;
    for i in 0..60 {
        let f = tokio::time::timeout(Duration::from_secs(10), s.next_frame())
            .await
            .expect("a frame within 10 s")
            .expect("no error")
            .expect("not ended");
        if i == 0 {
            assert!(f.keyframe, "a live session starts at a keyframe");
        }
        // Frames before the first sender report are timed by arrival.
        if i < 5 {
            continue;
        }
        let t = nanos(f.wallclock);
        let index = ((t + 20_000_000).div_euclid(40_000_000) % 250) as usize;
        let slice = aus[index].last().expect("a slice").clone();
        let mut annexb = Vec::new();
        f.write_annexb(&mut annexb);
        assert!(
            annexb.ends_with(&clip[slice]),
            "frame {i} at {} is not access unit {index}",
            jiff::Timestamp::try_from(f.wallclock).unwrap()
        );
        assert_eq!(
            sim.recording()
                .unwrap()
                .clip_index_at(f.wallclock + Duration::from_millis(1)),
            Some(index)
        );
        checked += 1;
    }
    assert_eq!(checked, 55);
    drop(s);
    sim.shutdown().await;
}

/// GetServiceCapabilities goes by the service's path (every service has one), anonymous
/// here: a sim without credentials.
#[tokio::test]
async fn service_capabilities_answer_per_service_path() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = SimCamera::start(SimOptions {
        credentials: None,
        ..opts(SimRecordingOptions::default())
    })
    .await
    .expect("sim");
    let xaddr = sim.xaddr().unwrap();
    let host = xaddr
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let ask = |path: &'static str| {
        let host = host.clone();
        async move {
            let body = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetServiceCapabilities xmlns="http://www.onvif.org/ver10/replay/wsdl"/></s:Body></s:Envelope>"#;
            let mut c = tokio::net::TcpStream::connect(&host)
                .await
                .expect("connect");
            let req = format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            c.write_all(req.as_bytes()).await.expect("write");
            let mut out = String::new();
            c.read_to_string(&mut out).await.expect("read");
            out
        }
    };
    let replay = ask("/onvif/replay_service").await;
    assert!(replay.starts_with("HTTP/1.1 200"), "{replay}");
    assert!(replay.contains(r#"ReversePlayback="false""#), "{replay}");
    let search = ask("/onvif/search_service").await;
    assert!(search.contains(r#"GeneralStartEvents="true""#), "{search}");
    let recording = ask("/onvif/recording_service").await;
    assert!(recording.contains(r#"MaxRecordings="1""#), "{recording}");
    sim.shutdown().await;
}

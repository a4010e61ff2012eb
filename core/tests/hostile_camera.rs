#![cfg(feature = "sim")]
//! The recorder against every hostile sim camera mode (`camwire::sim::HostileMode`), each
//! recorded next to a well-mannered sim camera in the same tokio runtime.
//!
//! For every mode the test asserts:
//! - bounded memory: the process's resident set (VmRSS from /proc/self/status) grows by less
//!   than [`RSS_BOUND_MIB`] while both cameras record, with the default depacketizer limits
//!   (16 MiB NAL / access unit) and the hostile camera sending far more than that. nextest runs
//!   each test in its own process, so the measure is this test's alone;
//! - a clean outcome: an error value for what ends a session (retina's protocol errors,
//!   timeouts, the SDP limit) or counted depacketizer errors for what does not, never a panic
//!   or a hang (every recording is bounded by a stop signal);
//! - the other camera unaffected: its files hold every frame it was sent and decode with no
//!   error in ffmpeg;
//! - the hostile camera's files already written intact: the frames sent before the trouble
//!   started (`CLEAN_FRAMES`) are in files that decode cleanly.
//!
//! Run with `cargo nextest run -p camwire --features sim --test hostile_camera`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use camwire::fmp4::{read_fragment_samples, read_sample, scan_fragments};
use camwire::record::{
    CameraConfig, CameraReport, CameraState, RecordError, Recorder, RecorderOptions,
    SegmentOptions, record_camera,
};
use camwire::rtsp::{RtspError, SourceOptions};
use camwire::sim::{CLEAN_FRAMES, HostileMode, SimCamera, SimOptions, clip, clip_access_units};
use tokio::sync::watch;

/// Largest VmRSS growth accepted, in MiB: the 16 MiB default NAL/access-unit limit the hostile
/// camera can fill, plus 24 MiB for the receive buffers that limit pins, the good camera's open
/// fragment and the runtime; far below what the hostile camera sends (see [`HOSTILE_MEDIA`]).
/// Measured peaks: 19 MiB for the endless NAL, 1-2 MiB for every other mode.
const RSS_BOUND_MIB: u64 = 40;

/// Bound for [`recorder_survives_every_hostile_camera_at_once`]: ten hostile cameras, of which
/// only the endless NAL fills its 16 MiB limit.
const RECORDER_RSS_BOUND_MIB: u64 = 64;

/// Media the hostile camera sends, unpaced: 15,000 frames of the sim clip (about 25 MB, well
/// over the 16 MiB limits), in a couple of seconds.
const HOSTILE_MEDIA: Duration = Duration::from_secs(600);

/// Media the good camera sends, unpaced.
const GOOD_MEDIA: Duration = Duration::from_secs(8);

/// Frames in [`GOOD_MEDIA`].
const GOOD_FRAMES: u64 = 8 * 25;

/// Safety net: every recording is stopped after this long.
const DEADLINE: Duration = Duration::from_secs(60);

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("camwire-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn mp4_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(mp4_files(&p));
        } else if p.extension().is_some_and(|x| x == "mp4") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Decodes `file` with ffmpeg; returns the number of frames decoded, panicking on any error
/// message.
fn decode_cleanly(file: &Path) -> u64 {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{} does not decode cleanly: {stderr}",
        file.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count() as u64
}

/// Access unit `i` of the sim clip in MP4 sample form (4-byte lengths).
fn expected_sample(i: usize) -> Vec<u8> {
    let aus = clip_access_units();
    let mut out = Vec::new();
    for r in &aus[i % aus.len()] {
        out.extend_from_slice(&(r.len() as u32).to_be_bytes());
        out.extend_from_slice(&clip()[r.clone()]);
    }
    out
}

/// The first file of a hostile camera starts with the frames sent before the trouble, bit
/// for bit (read back with camwire's own fMP4 reader, the one crash recovery uses).
fn assert_clean_prefix(file: &Path) {
    let mut f = std::fs::File::open(file).expect("open");
    let scan = scan_fragments(&mut f).expect("scan");
    assert!(!scan.is_torn(), "{} is torn", file.display());
    let mut i = 0usize;
    let mut buf = Vec::new();
    'frags: for frag in &scan.fragments {
        for s in read_fragment_samples(&mut f, frag, &scan.defaults).expect("samples") {
            // The last clean frames may share a fragment with the first hostile ones.
            if i as u64 >= CLEAN_FRAMES - 1 {
                break 'frags;
            }
            read_sample(&mut f, &s, &mut buf).expect("sample");
            assert!(
                buf == expected_sample(i),
                "{}: frame {i} differs",
                file.display()
            );
            i += 1;
        }
    }
    assert_eq!(
        i as u64,
        CLEAN_FRAMES - 1,
        "clean frames kept in {}",
        file.display()
    );
}

async fn sim(hostile: Option<HostileMode>, media: Duration) -> SimCamera {
    // A stalled camera must stay silent and connected (no BYE) until the read timeout.
    let stall = hostile == Some(HostileMode::Stall);
    SimCamera::start(SimOptions {
        realtime: stall,
        loop_clip: true,
        max_duration: (!stall).then_some(media),
        onvif: None,
        hostile,
        ..SimOptions::default()
    })
    .await
    .expect("sim starts")
}

fn config(id: &str, url: String) -> CameraConfig {
    CameraConfig {
        id: id.into(),
        url,
        source: SourceOptions {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(3),
            ..SourceOptions::default()
        },
        segment: SegmentOptions {
            fragment_ms: 500,
            ..SegmentOptions::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    }
}

struct Outcome {
    hostile: Result<CameraReport, RecordError>,
    hostile_files: Vec<PathBuf>,
    rss_growth_mib: u64,
}

/// Records a hostile and a good camera side by side; checks the good one completely and the
/// memory bound, and returns what the hostile one did.
async fn record_pair(mode: HostileMode) -> Outcome {
    let name = format!("hostile-{mode:?}").to_lowercase();
    let root = scratch(&name);
    let good_sim = sim(None, GOOD_MEDIA).await;
    let bad_sim = sim(Some(mode), HOSTILE_MEDIA).await;
    let (stop_tx, stop) = watch::channel(false);
    let rss_before = vm_rss_kib();

    // Sample the resident set while both record.
    let (peak_tx, mut peak_rx) = watch::channel(rss_before);
    let sampler = tokio::spawn(async move {
        loop {
            let now = vm_rss_kib();
            peak_tx.send_if_modified(|p| {
                let grew = now > *p;
                *p = (*p).max(now);
                grew
            });
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    let good = tokio::spawn(record_camera(
        config("good", good_sim.rtsp_url()),
        root.clone(),
        stop.clone(),
    ));
    let bad = tokio::spawn(record_camera(
        config("bad", bad_sim.rtsp_url()),
        root.clone(),
        stop.clone(),
    ));
    let deadline = tokio::spawn(async move {
        tokio::time::sleep(DEADLINE).await;
        let _ = stop_tx.send(true);
    });
    let good = good.await.expect("good camera task");
    let hostile = bad.await.expect("hostile camera task");
    deadline.abort();
    sampler.abort();
    let peak = *peak_rx.borrow_and_update();
    let rss_growth_mib = peak.saturating_sub(rss_before) / 1024;
    good_sim.shutdown().await;
    bad_sim.shutdown().await;

    // The good camera: every frame it was sent, recorded and decodable.
    let good = good.unwrap_or_else(|e| panic!("good camera failed next to {mode:?}: {e}"));
    assert!(good.ended_by_camera, "good camera stream ended by its BYE");
    assert_eq!(good.depacketizer.lost_packets, 0);
    assert_eq!(good.rtp_errors, 0);
    let good_files = mp4_files(&root.join("good"));
    assert!(!good_files.is_empty());
    let decoded: u64 = good_files.iter().map(|f| decode_cleanly(f)).sum();
    assert_eq!(decoded, GOOD_FRAMES, "good camera frames next to {mode:?}");

    // Files the hostile camera had written: intact. Garbage that happens to be well-formed
    // NAL units is recorded as the camera sent it (the depacketizer frames, it does not
    // decode), so ffmpeg only checks modes that keep the payload bytes; the clean start is
    // compared bit for bit in every mode.
    let hostile_files = mp4_files(&root.join("bad"));
    if let Some(first) = hostile_files.first() {
        assert_clean_prefix(first);
    }
    if mode != HostileMode::GarbageRtp {
        for f in hostile_files.iter().take(4) {
            decode_cleanly(f);
        }
    }
    eprintln!(
        "{mode:?}: rss growth {rss_growth_mib} MiB, hostile result {:?}",
        hostile.as_ref().map(|r| (r.rtp_errors, &r.depacketizer))
    );
    assert!(
        rss_growth_mib < RSS_BOUND_MIB,
        "{mode:?}: resident set grew {rss_growth_mib} MiB (bound {RSS_BOUND_MIB} MiB)"
    );
    let _ = std::fs::remove_dir_all(&root);
    Outcome {
        hostile,
        hostile_files,
        rss_growth_mib,
    }
}

/// The frames sent before a media mode turned hostile are in files that decode.
fn assert_clean_start_kept(o: &Outcome) {
    assert!(
        !o.hostile_files.is_empty(),
        "the clean start of the hostile camera was not kept"
    );
}

fn frames_recorded(o: &Outcome) -> u64 {
    o.hostile.as_ref().map_or(0, |r| r.segments.frames)
}

fn expect_protocol_error(o: &Outcome, mode: HostileMode) {
    match &o.hostile {
        Err(RecordError::Rtsp(RtspError::Protocol { .. })) => {}
        other => panic!(
            "{mode:?}: expected an RTSP protocol error, got {:?}",
            other.as_ref().err()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_rtp_is_counted_and_dropped() {
    let o = record_pair(HostileMode::GarbageRtp).await;
    let r = o
        .hostile
        .as_ref()
        .expect("garbage payloads do not end the session");
    assert!(r.rtp_errors > 1000, "errors counted: {}", r.rtp_errors);
    assert!(r.depacketizer.dropped_access_units > 0);
    assert!(r.segments.frames >= CLEAN_FRAMES - 1);
    assert_clean_start_kept(&o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_interleaved_lengths_end_the_session_cleanly() {
    let o = record_pair(HostileMode::LyingLengths).await;
    expect_protocol_error(&o, HostileMode::LyingLengths);
    assert_clean_start_kept(&o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fu_a_storm_without_end_is_counted_and_bounded() {
    let o = record_pair(HostileMode::FuAStorm).await;
    let r = o
        .hostile
        .as_ref()
        .expect("an FU-A storm does not end the session");
    assert!(r.rtp_errors > 1000, "errors counted: {}", r.rtp_errors);
    assert!(
        frames_recorded(&o) < CLEAN_FRAMES + 2,
        "no storm frame recorded"
    );
    assert_clean_start_kept(&o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_nal_hits_the_nal_limit_and_memory_stays_bounded() {
    let o = record_pair(HostileMode::EndlessNal).await;
    let r = o
        .hostile
        .as_ref()
        .expect("an endless NAL does not end the session");
    // One NalTooLarge when the 16 MiB limit is crossed; later fragments are skipped.
    assert!(r.rtp_errors >= 1, "the NAL limit was hit");
    assert!(frames_recorded(&o) < CLEAN_FRAMES + 2);
    assert_clean_start_kept(&o);
    eprintln!("endless NAL peak growth {} MiB", o.rss_growth_mib);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_frame_ends_the_session_with_an_error() {
    let o = record_pair(HostileMode::ResetMidFrame).await;
    match &o.hostile {
        Err(RecordError::Rtsp(RtspError::Protocol { .. })) => {}
        // A reset may also read as the camera closing the stream.
        Ok(r) => assert!(r.ended_by_camera),
        Err(e) => panic!("unexpected error {e}"),
    }
    assert_clean_start_kept(&o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_jumps_start_new_files_and_keep_recording() {
    let o = record_pair(HostileMode::TimestampJumps).await;
    let r = o
        .hostile
        .as_ref()
        .expect("timestamp jumps do not end the session");
    assert!(r.segments.discontinuities > 0 || r.files.len() > 1);
    assert!(
        frames_recorded(&o) > CLEAN_FRAMES * 4,
        "frames keep being recorded"
    );
    assert_clean_start_kept(&o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrc_change_ends_the_session_with_an_error() {
    let o = record_pair(HostileMode::SsrcChanges).await;
    expect_protocol_error(&o, HostileMode::SsrcChanges);
    assert_clean_start_kept(&o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_sdp_is_refused() {
    let o = record_pair(HostileMode::HugeSdp).await;
    match &o.hostile {
        Err(RecordError::Rtsp(RtspError::Sdp { .. } | RtspError::Protocol { .. })) => {}
        other => panic!(
            "expected the SDP to be refused, got {:?}",
            other.as_ref().err()
        ),
    }
    assert!(o.hostile_files.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_answers_hit_the_connect_timeout() {
    let o = record_pair(HostileMode::Slowloris).await;
    match &o.hostile {
        Err(RecordError::Rtsp(RtspError::Timeout { step, after, .. })) => {
            assert_eq!(*step, "connect/DESCRIBE");
            assert_eq!(*after, Duration::from_secs(3));
        }
        other => panic!("expected a connect timeout, got {:?}", other.as_ref().err()),
    }
    assert!(o.hostile_files.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_camera_hits_the_read_timeout() {
    let o = record_pair(HostileMode::Stall).await;
    match &o.hostile {
        Err(RecordError::Rtsp(RtspError::Timeout { step, .. })) => assert_eq!(*step, "read"),
        other => panic!("expected a read timeout, got {:?}", other.as_ref().err()),
    }
    assert_clean_start_kept(&o);
}

/// All hostile modes at once, each as its own camera of one `Recorder` (no reconnects), next
/// to a good camera: the good one records every frame it is sent, every hostile one stops with
/// an error or ends, and the resident set stays under [`RECORDER_RSS_BOUND_MIB`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_survives_every_hostile_camera_at_once() {
    let root = scratch("hostile-recorder");
    let rss_before = vm_rss_kib();
    let good_sim = sim(None, GOOD_MEDIA).await;
    let mut sims = Vec::new();
    for mode in HostileMode::ALL {
        sims.push((mode, sim(Some(mode), HOSTILE_MEDIA).await));
    }
    let mut opts = RecorderOptions::new(&root);
    opts.reconnect = false;
    let recorder = Recorder::start(opts).expect("recorder");
    recorder
        .add_camera(config("good", good_sim.rtsp_url()))
        .expect("good camera");
    for (mode, s) in &sims {
        let id = format!("{mode:?}").to_lowercase();
        recorder
            .add_camera(config(&id, s.rtsp_url()))
            .expect("hostile camera");
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut peak = rss_before;
    while !recorder.all_stopped() && tokio::time::Instant::now() < deadline {
        peak = peak.max(vm_rss_kib());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    peak = peak.max(vm_rss_kib());
    let status = recorder.shutdown().await;
    good_sim.shutdown().await;
    for (_, s) in sims {
        s.shutdown().await;
    }
    let growth = peak.saturating_sub(rss_before) / 1024;
    eprintln!("recorder with every hostile camera: rss growth {growth} MiB");
    for s in &status {
        eprintln!(
            "{}: {:?} frames {} error {:?}",
            s.id, s.state, s.frames, s.last_error
        );
        assert_eq!(s.state, CameraState::Stopped, "{} stopped", s.id);
    }
    let good = status.iter().find(|s| s.id == "good").expect("good status");
    assert_eq!(good.frames, GOOD_FRAMES);
    let decoded: u64 = mp4_files(&root.join("good"))
        .iter()
        .map(|f| decode_cleanly(f))
        .sum();
    assert_eq!(decoded, GOOD_FRAMES);
    assert!(
        growth < RECORDER_RSS_BOUND_MIB,
        "resident set grew {growth} MiB (bound {RECORDER_RSS_BOUND_MIB} MiB)"
    );
    let _ = std::fs::remove_dir_all(&root);
}

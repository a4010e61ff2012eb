//! Issue 13's replay acceptance against GStreamer's ONVIF RTSP server (gst-rtsp-server 1.22:
//! `RTSPOnvifServer`, an `RTSPOnvifMediaFactory` with replay support, `rtponviftimestamp`;
//! `core/tests/support/gst_onvif_server.py`) serving a 120 s recording dated
//! 2026-11-25T10:00:00Z..10:02:00Z, one frame every 40 ms, a keyframe every second.
//!
//! - 60 s from the middle with `Rate-Control: no`: the clip's decoded frames are exactly the
//!   source's frames of that window (ffmpeg framemd5, edit list applied), its first shown
//!   frame is T1 within one frame, and it arrives far faster than real time.
//! - A device that plays on past T2 is cut at T2 by the client.
//! - The fragmented layout gives the same frames and passes `verify`.
//! - A 12 s hole in the recording, with the D flag after it or without: one gap in the
//!   manifest, the frame before it held, every frame still there.
//! - A start between keyframes: the pre-roll from the keyframe before it is stored and
//!   hidden by the edit list; the frames shown start at the frame showing at T1.
//! - `Rate-Control: yes`: real time; a device refusing `Rate-Control: no` (451) is asked
//!   again with `yes`, and the manifest records the refusal.
//! - A range after the recording's end: the typed "no recording between T1 and T2" error.
//! - A plain mount (no replay support) answers 551: the typed "no Profile G" error.
//! - Credentials given in the URL appear nowhere in the manifest.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

mod export_support;

use camwire::replay::{FetchOptions, ReplayError, ReplayManifest, fetch};
use export_support::{assert_decodes_cleanly, framemd5, tmpdir};

const FPS: u64 = 25;
/// Seconds of recording.
const CLIP_SECS: u64 = 120;
/// 2026-11-25T10:00:00Z: the recording's first frame.
const ARCHIVE_START: u64 = 1_795_600_800;

/// Archive time `secs` seconds after its start.
fn at(secs: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(ARCHIVE_START) + Duration::from_secs_f64(secs)
}

/// The recording: testsrc2 320x240 25 fps, keyframe every second, no B-frames (one x264
/// thread: bit-identical on every run), cached in the target dir. The server reads it too.
fn recording() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).unwrap();
    let mp4 = dir.join("testsrc2-320x240-120s-gop25-t1.mp4");
    if !mp4.exists() {
        let part = dir.join(format!("replay120.{}.part.mp4", std::process::id()));
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=320x240:rate=25")
            .args(["-t", &CLIP_SECS.to_string(), "-c:v", "libx264", "-threads"])
            .args(["1", "-preset", "veryfast", "-bf", "0", "-g", "25"])
            .args([
                "-keyint_min",
                "25",
                "-sc_threshold",
                "0",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(["-b:v", "300k"])
            .arg(&part)
            .output()
            .expect("run ffmpeg");
        assert!(out.status.success(), "ffmpeg encoding the clip: {out:?}");
        std::fs::rename(&part, &mp4).unwrap();
    }
    mp4
}

/// The recording's decoded frames (MD5 each).
fn source_frames() -> Vec<String> {
    let frames = framemd5(&recording(), &[]);
    assert_eq!(frames.len() as u64, CLIP_SECS * FPS);
    frames
}

/// The ONVIF server in a child process: its replay mount and its plain mount.
struct OnvifServer {
    child: Child,
    replay: String,
    plain: String,
}

impl OnvifServer {
    fn start(extra: &[&str]) -> OnvifServer {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gst_onvif_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(recording())
            .args(["--start", "2026-11-25T10:00:00Z", "--fps", "25"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect(
                "start the GStreamer ONVIF server (python3-gst-1.0, gir1.2-gst-rtsp-server-1.0)",
            );
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut parts = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("server did not start: {line:?}"))
            .split_whitespace();
        let replay = parts.next().unwrap().to_string();
        let plain = parts.next().unwrap().to_string();
        OnvifServer {
            child,
            replay,
            plain,
        }
    }
}

impl Drop for OnvifServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nanos(t: &str) -> i128 {
    t.parse::<jiff::Timestamp>().unwrap().as_nanosecond()
}

/// The manifest as written next to the clip.
fn manifest_on_disk(clip: &Path) -> (String, ReplayManifest) {
    let text = std::fs::read_to_string(camwire::export::manifest_path(clip)).unwrap();
    let m = serde_json::from_str(&text).unwrap();
    (text, m)
}

/// Fetches `[t1, t2)` (seconds into the archive) and checks the clip against the source:
/// the frames shown are exactly frames `first..last` of the recording (a `--gap` of the
/// server shifts the times of the frames after it, not their order).
async fn fetch_window(
    name: &str,
    t1: f64,
    t2: f64,
    first: usize,
    last: usize,
    opts: FetchOptions,
    server_args: &[&str],
) -> ReplayManifest {
    let source = source_frames();
    let server = OnvifServer::start(server_args);
    let dir = tmpdir(&format!("replay-gst-{name}"));
    let out = dir.join("clip.mp4");
    let url = server
        .replay
        .replace("rtsp://", "rtsp://investigator:pw-s3cret@");
    let summary = fetch(&url, at(t1), at(t2), &out, &opts)
        .await
        .unwrap_or_else(|e| panic!("fetch {name}: {e}"));
    assert_decodes_cleanly(&out);
    let got = framemd5(&out, &[]);
    let (text, m) = manifest_on_disk(&out);
    // (Floats may differ in the last bit after the JSON round trip.)
    assert_eq!(m.export, summary.manifest.export);
    assert_eq!(m.origin.flags, summary.manifest.origin.flags);
    let o = &m.origin;
    eprintln!(
        "{name}: {} frames shown, {} stored; Rate-Control: {}; media {:.2} s in {:.3} s wall \
         ({:.1}x real time); PLAY answered Range {:?}; times from {}; flags {:?}; ended by {}; \
         {} frames not stored; actual {}..{}",
        m.export.frames,
        m.export.samples,
        o.rate_control,
        o.media_secs,
        o.download_wall_secs,
        o.speed,
        o.play_range,
        o.times_from,
        o.flags,
        o.ended_by,
        o.frames_not_stored,
        m.export.actual.start,
        m.export.actual.end,
    );
    assert_eq!(got.len(), last - first, "frames shown");
    let diff = got
        .iter()
        .zip(&source[first..last])
        .position(|(a, b)| a != b);
    assert_eq!(diff, None, "decoded frames differ from the source's");
    assert_eq!(m.export.frames as usize, last - first);
    // The first shown frame's wall clock is T1 within one frame.
    let want = nanos(&jiff::Timestamp::try_from(at(t1)).unwrap().to_string());
    let shown = nanos(&m.export.actual.start);
    assert!(
        (shown - want).abs() < 40_000_000,
        "first shown frame at {} for T1 {}",
        m.export.actual.start,
        jiff::Timestamp::try_from(at(t1)).unwrap()
    );
    assert_eq!(o.times_from, "0xabac");
    assert_eq!(o.frames_without_extension, 0);
    assert_eq!(o.gaps, m.export.gaps);
    if !server_args.contains(&"--gap") {
        assert!(o.gaps.is_empty(), "{:?}", o.gaps);
    }
    // The first frame after the seek has D; keyframes have C.
    assert!(o.flags.discontinuities >= 1, "{:?}", o.flags);
    assert!(
        o.flags.clean_points >= m.export.samples / FPS,
        "{:?}",
        o.flags
    );
    // Credentials never reach the manifest.
    assert!(!text.contains("pw-s3cret") && !text.contains("investigator"));
    assert_eq!(o.uri, server.replay);
    assert!(m.export.sources.is_empty());
    m
}

#[tokio::test]
async fn fetch_60s_from_the_middle_is_frame_exact_and_faster_than_real_time() {
    // 10:00:30 .. 10:01:30: frames 750..2250.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let opts = FetchOptions {
        progress: Some(std::sync::Arc::new(move |p| log.lock().unwrap().push(p))),
        ..Default::default()
    };
    let m = fetch_window("60s", 30.0, 90.0, 750, 2250, opts, &[]).await;
    // Progress: media done never goes back, and the last report is the whole window.
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    assert!(
        seen.windows(2)
            .all(|w| w[0].media_done_secs <= w[1].media_done_secs)
    );
    let last = seen.last().unwrap();
    assert_eq!((last.frames, last.media_total_secs), (1500, 60.0));
    assert!((last.media_done_secs - 59.96).abs() < 1e-6, "{last:?}");
    let o = &m.origin;
    assert_eq!(o.rate_control, "no");
    assert_eq!(o.rate_control_refused, None);
    // T1 is a keyframe: no pre-roll.
    assert_eq!(m.export.samples, m.export.frames);
    assert!(
        o.download_wall_secs * 4.0 <= o.media_secs,
        "{:.3} s wall for {:.2} s media",
        o.download_wall_secs,
        o.media_secs
    );
    assert!((o.media_secs - 60.0).abs() < 0.05, "{}", o.media_secs);
}

#[tokio::test]
async fn a_start_between_keyframes_keeps_the_preroll_hidden() {
    // 10:00:30.52 (frame 763; the keyframe before it is 750) .. 10:00:40.52 (frame 1013).
    let m = fetch_window(
        "preroll",
        30.52,
        40.52,
        763,
        1013,
        FetchOptions::default(),
        &[],
    )
    .await;
    assert_eq!(
        m.export.samples,
        m.export.frames + 13,
        "pre-roll from frame 750"
    );
    assert_eq!(m.export.preroll_start, "2026-11-25T10:00:30Z");
}

/// A 12 s hole in the recording at 10:00:40 (frame 1000 is shown at 10:00:52), its first
/// frame after flagged D: 10:00:30..10:01:00 holds frames 750..1000 and 1000..1200, the
/// frame at 10:00:39.96 held over the hole, and the manifest lists 10:00:40..10:00:52.
async fn gap(server_gap: &str, d_flags: u64) {
    let m = fetch_window(
        &format!("gap-{}", server_gap.replace(':', "-")),
        30.0,
        60.0,
        750,
        1200,
        FetchOptions::default(),
        &["--gap", server_gap],
    )
    .await;
    let g = &m.export.gaps;
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(
        (g[0].start.as_str(), g[0].end.as_str()),
        ("2026-11-25T10:00:40Z", "2026-11-25T10:00:52Z")
    );
    assert!((g[0].duration_secs - 12.0).abs() < 1e-9);
    assert_eq!(m.export.actual.end, "2026-11-25T10:01:00Z");
    assert_eq!(m.export.last_frame, "2026-11-25T10:00:59.96Z");
    // D after PLAY, and after the hole when the server flags it.
    assert_eq!(m.origin.flags.discontinuities, d_flags);
}

#[tokio::test]
async fn a_gap_flagged_d_is_held_and_listed() {
    gap("40:12", 2).await;
}

/// Some cameras set no flag: a jump of 10 s or more is a gap all the same.
#[tokio::test]
async fn a_gap_without_d_is_found_by_the_time_jump() {
    gap("40:12:nod", 1).await;
}

/// The fragmented layout (one prft/moof/mdat per GOP): the same frames, and `verify` accepts
/// it by its output and media hashes.
#[tokio::test]
async fn fragmented_output_has_the_same_frames_and_verifies() {
    // 10:00:30 .. 10:00:40: frames 750..1000. (T1 on a keyframe: ffmpeg 5.1 does not apply
    // the edit list of a fragmented file, so a pre-roll would be shown; export's fragmented
    // test does the same.)
    let opts = FetchOptions {
        format: camwire::export::OutputFormat::Fragmented,
        ..Default::default()
    };
    let m = fetch_window("fragmented", 30.0, 40.0, 750, 1000, opts, &[]).await;
    assert_eq!(m.export.output.container, "fragmented");
    let dir = std::env::temp_dir().join(format!(
        "camwire-replay-gst-fragmented-{}",
        std::process::id()
    ));
    let report = camwire::export::verify(&dir.join("clip.mp4")).expect("verify");
    assert!(report.ok(), "{:?}", report.problems());
}

/// Cameras ignore the end of the Range (Hikvision): the fetch stops at T2 itself.
#[tokio::test]
async fn a_device_playing_past_the_end_is_cut_at_t2() {
    // 10:01:00 .. 10:01:05: frames 1500..1625.
    let m = fetch_window(
        "pastend",
        60.0,
        65.0,
        1500,
        1625,
        FetchOptions::default(),
        &["--ignore-end"],
    )
    .await;
    assert_eq!(m.origin.ended_by, "end time reached");
    assert_eq!(m.origin.flags.terminal, 0, "the device never said it ended");
    assert_eq!(m.export.actual.end, "2026-11-25T10:01:05Z");
}

/// A device that refuses `Rate-Control: no` (451): PLAY again with `yes`, in real time, and
/// the manifest says why.
#[tokio::test]
async fn a_refused_rate_control_no_falls_back_to_real_time_and_says_so() {
    // 10:01:10 .. 10:01:12: frames 1750..1800.
    let m = fetch_window(
        "refused",
        70.0,
        72.0,
        1750,
        1800,
        FetchOptions::default(),
        &["--refuse-rate-control-no"],
    )
    .await;
    let o = &m.origin;
    assert_eq!(o.rate_control, "yes");
    let why = o.rate_control_refused.as_deref().expect("the refusal");
    assert!(why.contains("451"), "{why}");
    assert!(o.download_wall_secs >= 1.5, "{} s", o.download_wall_secs);
}

#[tokio::test]
async fn rate_control_yes_plays_in_real_time() {
    // 10:01:00 .. 10:01:03: frames 1500..1575.
    let opts = FetchOptions {
        fast: false,
        ..Default::default()
    };
    let m = fetch_window("realtime", 60.0, 63.0, 1500, 1575, opts, &[]).await;
    assert_eq!(m.origin.rate_control, "yes");
    assert!(
        m.origin.download_wall_secs >= 2.5,
        "{} s",
        m.origin.download_wall_secs
    );
}

/// A range after the end of the recording: the device sends its last GOP (before T1) and
/// T; nothing to show, so no clip and the typed error.
#[tokio::test]
async fn a_range_after_the_recording_is_no_recording() {
    let server = OnvifServer::start(&[]);
    let dir = tmpdir("replay-gst-after");
    let out = dir.join("clip.mp4");
    let err = fetch(
        &server.replay,
        at(300.0),
        at(310.0),
        &out,
        &FetchOptions::default(),
    )
    .await
    .expect_err("nothing recorded then");
    eprintln!("after the end: {err}");
    assert!(matches!(err, ReplayError::NoRecording { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("no recording between 2026-11-25T10:05:00Z and 2026-11-25T10:05:10Z"),
        "{err}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing left behind"
    );
}

#[tokio::test]
async fn a_mount_without_replay_support_is_no_profile_g() {
    let server = OnvifServer::start(&[]);
    let dir = tmpdir("replay-gst-551");
    let out = dir.join("clip.mp4");
    let err = fetch(
        &server.plain,
        at(30.0),
        at(40.0),
        &out,
        &FetchOptions::default(),
    )
    .await
    .expect_err("a plain mount cannot replay");
    eprintln!("plain mount: {err}");
    assert!(
        matches!(err, ReplayError::NoProfileG { status: 551, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("device cannot replay (no Profile G)")
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing left behind"
    );
}

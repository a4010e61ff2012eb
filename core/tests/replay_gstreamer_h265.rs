//! H.265 footage off the device (issue 13) against GStreamer's ONVIF RTSP server
//! (gst-rtsp-server 1.22: `RTSPOnvifServer`, an `RTSPOnvifMediaFactory` with replay support,
//! `h265parse ! rtph265pay config-interval=-1 ! rtponviftimestamp`;
//! `core/tests/support/gst_onvif_server.py --codec h265`) serving an x265 recording dated
//! 2026-11-25T10:00:00Z..10:00:30Z: testsrc2 320x240, 25 fps, an IRAP keyframe every second
//! (an IDR, then CRAs: x265's open GOP), no B-frames.
//!
//! - 10 s from the middle, T1 between keyframes, `Rate-Control: no`, progressive: ffprobe
//!   prints nothing and reads `hevc` in an `hvc1` sample entry; the decoded frames (edit
//!   list applied) are exactly the source's frames of the window; the pre-roll from the
//!   keyframe before T1 is stored and hidden; the first shown frame is T1 within one frame;
//!   0xABAC times on every frame; `verify` passes.
//! - The same with the fragmented layout (T1 on a keyframe: ffmpeg 5.1 ignores the edit
//!   list of a fragmented file).
//! - Back-fill of 10:00:09.5..10:00:16 into a recording root: recorder segments in `hvc1`
//!   from the keyframe at 10:00:10, whose decoded frames are the source's frames 250..400;
//!   `ranges` sees exactly that span.
//!
//! - A recording whose parameter sets change (4 s at 320x240, then 4 s at 352x288, as Annex
//!   B with AUDs): a fetch across the change is the typed "parameter sets change at
//!   10:00:04" error and leaves nothing behind; a back-fill across it gives two `hvc1` files,
//!   one per size, each with its part's frames.
//!
//! The clips are encoded once (x265 without thread pools or frame threads: bit-identical on
//! every run) and cached in the target dir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

mod export_support;

use camwire::export::OutputFormat;
use camwire::replay::{FetchOptions, ReplayError, ReplayManifest, backfill, fetch};
use export_support::{assert_decodes_cleanly, framemd5, mp4_files, tmpdir};

const FPS: u64 = 25;
/// Seconds of recording.
const CLIP_SECS: u64 = 30;
/// 2026-11-25T10:00:00Z: the recording's first frame.
const ARCHIVE_START: u64 = 1_795_600_800;

/// Archive time `secs` seconds after its start.
fn at(secs: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(ARCHIVE_START) + Duration::from_secs_f64(secs)
}

/// The recording (H.265 in MP4; the server converts it to Annex B with AUDs).
fn recording() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).unwrap();
    let mp4 = dir.join(format!("x265-320x240-{CLIP_SECS}s-gop25-cra-t1.mp4"));
    if !mp4.exists() {
        let part = dir.join(format!("replay-h265.{}.part.mp4", std::process::id()));
        let params = "keyint=25:min-keyint=25:scenecut=0:bframes=0:open-gop=1:repeat-headers=1:\
                      pools=none:frame-threads=1:log-level=error";
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size=320x240:rate={FPS}"))
            .args(["-t", &CLIP_SECS.to_string(), "-c:v", "libx265"])
            .args(["-preset", "veryfast", "-x265-params", params])
            .args(["-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-b:v", "300k"])
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

/// The ONVIF server (H.265 mode) in a child process: its replay mount.
struct OnvifServer {
    child: Child,
    replay: String,
}

impl OnvifServer {
    fn start() -> OnvifServer {
        Self::serving(&recording())
    }

    fn serving(file: &Path) -> OnvifServer {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gst_onvif_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(file)
            .args(["--start", "2026-11-25T10:00:00Z", "--fps", "25"])
            .args(["--codec", "h265"])
            .stdout(Stdio::piped())
            .spawn()
            .expect(
                "start the GStreamer ONVIF server (python3-gst-1.0, gir1.2-gst-rtsp-server-1.0)",
            );
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let replay = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("server did not start: {line:?}"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        OnvifServer { child, replay }
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

/// `ffprobe -v error` prints nothing about `f`, and its video stream is `hevc` in `hvc1`.
fn assert_hvc1(f: &Path) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args([
            "stream=codec_name,codec_tag_string,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(f)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}: {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hevc,hvc1,320,240",
        "{}",
        f.display()
    );
}

/// Fetches `[t1, t2)` (seconds into the archive) and checks the clip against the source:
/// the frames shown are exactly frames `first..last` of the recording.
async fn fetch_window(
    name: &str,
    t1: f64,
    t2: f64,
    first: usize,
    last: usize,
    format: OutputFormat,
) -> ReplayManifest {
    let source = source_frames();
    let server = OnvifServer::start();
    let dir = tmpdir(&format!("replay-gst-h265-{name}"));
    let out = dir.join("clip.mp4");
    let opts = FetchOptions {
        format,
        ..Default::default()
    };
    let summary = fetch(&server.replay, at(t1), at(t2), &out, &opts)
        .await
        .unwrap_or_else(|e| panic!("fetch {name}: {e}"));
    let m = summary.manifest;
    let o = &m.origin;
    eprintln!(
        "{name}: {} frames shown, {} stored; Rate-Control: {}; media {:.2} s in {:.3} s wall \
         ({:.1}x real time); times from {}; flags {:?}; ended by {}; actual {}..{}",
        m.export.frames,
        m.export.samples,
        o.rate_control,
        o.media_secs,
        o.download_wall_secs,
        o.speed,
        o.times_from,
        o.flags,
        o.ended_by,
        m.export.actual.start,
        m.export.actual.end,
    );
    assert_hvc1(&out);
    assert_decodes_cleanly(&out);
    let got = framemd5(&out, &[]);
    assert_eq!(got.len(), last - first, "frames shown");
    let diff = got
        .iter()
        .zip(&source[first..last])
        .position(|(a, b)| a != b);
    assert_eq!(diff, None, "decoded frames differ from the source's");
    assert_eq!(m.export.frames as usize, last - first);
    let want = nanos(&jiff::Timestamp::try_from(at(t1)).unwrap().to_string());
    let shown = nanos(&m.export.actual.start);
    assert!(
        (shown - want).abs() < 40_000_000,
        "first shown frame at {} for T1 {t1}",
        m.export.actual.start
    );
    assert_eq!(o.rate_control, "no");
    assert_eq!(o.times_from, "0xabac");
    assert_eq!(o.frames_without_extension, 0);
    assert!(o.gaps.is_empty(), "{:?}", o.gaps);
    assert!(o.flags.discontinuities >= 1, "{:?}", o.flags);
    // Every keyframe (one a second) has C.
    assert!(
        o.flags.clean_points >= m.export.samples / FPS,
        "{:?}",
        o.flags
    );
    let report = camwire::export::verify(&out).expect("verify");
    assert!(report.ok(), "{:?}", report.problems());
    m
}

#[tokio::test]
async fn fetch_10s_of_h265_from_the_middle_is_frame_exact_hvc1() {
    // 10:00:10.52 (frame 263; the keyframe before it is 250) .. 10:00:20.52 (frame 513).
    let m = fetch_window(
        "progressive",
        10.52,
        20.52,
        263,
        513,
        OutputFormat::Progressive,
    )
    .await;
    assert_eq!(m.export.output.container, "progressive");
    assert_eq!(
        m.export.samples,
        m.export.frames + 13,
        "pre-roll from frame 250"
    );
    assert_eq!(m.export.preroll_start, "2026-11-25T10:00:10Z");
    assert_eq!(m.export.actual.end, "2026-11-25T10:00:20.52Z");
}

#[tokio::test]
async fn fetch_of_h265_fragmented_is_frame_exact_and_verifies() {
    // 10:00:10 .. 10:00:20: frames 250..500 (T1 on a keyframe: no pre-roll).
    let m = fetch_window("fragmented", 10.0, 20.0, 250, 500, OutputFormat::Fragmented).await;
    assert_eq!(m.export.output.container, "fragmented");
    assert_eq!(m.export.samples, m.export.frames);
}

#[tokio::test]
async fn backfill_of_h265_gives_hvc1_segments_with_the_source_frames() {
    let source = source_frames();
    let server = OnvifServer::start();
    let dir = tmpdir("replay-gst-h265-backfill");
    let root = dir.join("rec");
    // 10:00:09.5 .. 10:00:16: from the keyframe at or before T1, 10:00:09 (frame 225), to
    // frame 399 (a back-fill starts at T1's own keyframe so that it fills a gap whole).
    let b = backfill(
        &server.replay,
        at(9.5),
        at(16.0),
        &root,
        "gate",
        &FetchOptions::default(),
    )
    .await
    .expect("backfill");
    eprintln!(
        "backfill: {} frames in {} files, {:?}..{:?}, ended by {}, {:.3} s wall",
        b.frames,
        b.files.len(),
        b.first,
        b.last,
        b.ended_by,
        b.wall.as_secs_f64()
    );
    assert_eq!(b.frames, 175);
    assert_eq!((b.first, b.last), (at(9.0), at(15.96)));
    assert!(!b.rate_control, "Rate-Control: no was accepted");
    let files = mp4_files(&root);
    assert!(!files.is_empty());
    let mut got = Vec::new();
    for f in &files {
        assert_hvc1(f);
        assert_decodes_cleanly(f);
        got.extend(framemd5(f, &[]));
    }
    assert_eq!(got.len(), 175, "frames in {files:?}");
    assert!(
        got == source[225..400],
        "back-filled frames differ from the source's"
    );
    let listing = camwire::export::ranges(&root, "gate", None, None).expect("ranges");
    let spans: Vec<_> = listing.ranges.iter().map(|r| (r.start, r.end)).collect();
    assert_eq!(spans, [(at(9.0), at(16.0))], "{listing:?}");
}

/// x265 Annex B (AUD before every access unit) of `secs` s of testsrc2 at `size`.
fn encode_annexb(size: &str, secs: u64, out: &Path) {
    let params = "keyint=25:min-keyint=25:scenecut=0:bframes=0:open-gop=1:repeat-headers=1:\
                  pools=none:frame-threads=1:log-level=error";
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate={FPS}"))
        .args(["-t", &secs.to_string(), "-c:v", "libx265"])
        .args([
            "-preset",
            "veryfast",
            "-x265-params",
            params,
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-bsf:v", "hevc_metadata=aud=insert", "-f", "hevc"])
        .arg(out)
        .output()
        .expect("run ffmpeg");
    assert!(o.status.success(), "ffmpeg encoding {size}: {o:?}");
}

/// The two parts of the recording with a parameter-set change, and the whole (parts
/// concatenated): 10:00:00..04 at 320x240, 10:00:04..08 at 352x288.
fn switching_recording() -> (PathBuf, PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("x265-320x240-4s-gop25-aud-t1.h265");
    let b = dir.join("x265-352x288-4s-gop25-aud-t1.h265");
    let whole = dir.join("x265-switch-320x240-352x288-8s-t1.h265");
    for (p, size) in [(&a, "320x240"), (&b, "352x288")] {
        if !p.exists() {
            let part = dir.join(format!("switch-{size}.{}.part.h265", std::process::id()));
            encode_annexb(size, 4, &part);
            std::fs::rename(&part, p).unwrap();
        }
    }
    if !whole.exists() {
        let part = dir.join(format!("switch.{}.part.h265", std::process::id()));
        let mut bytes = std::fs::read(&a).unwrap();
        bytes.extend(std::fs::read(&b).unwrap());
        std::fs::write(&part, bytes).unwrap();
        std::fs::rename(&part, &whole).unwrap();
    }
    (a, b, whole)
}

#[tokio::test]
async fn h265_parameter_set_change_is_the_typed_error_and_backfill_splits_files() {
    let (a, b, whole) = switching_recording();
    let server = OnvifServer::serving(&whole);
    let dir = tmpdir("replay-gst-h265-switch");
    let out = dir.join("clip.mp4");
    let err = fetch(
        &server.replay,
        at(1.0),
        at(7.0),
        &out,
        &FetchOptions::default(),
    )
    .await
    .expect_err("one MP4 track cannot hold both sizes");
    eprintln!("fetch across the change: {err}");
    match &err {
        ReplayError::ParameterSetsChanged { at, start, end } => {
            assert_eq!(
                (at.as_str(), start.as_str(), end.as_str()),
                (
                    "2026-11-25T10:00:04Z",
                    "2026-11-25T10:00:01Z",
                    "2026-11-25T10:00:07Z"
                )
            );
        }
        e => panic!("want ParameterSetsChanged, got {e:?}"),
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing left behind"
    );

    // Back-fill writes recorder segments: the change starts a new file.
    let root = dir.join("rec");
    let bf = backfill(
        &server.replay,
        at(1.0),
        at(7.0),
        &root,
        "gate",
        &FetchOptions::default(),
    )
    .await
    .expect("backfill");
    eprintln!(
        "backfill across the change: {} frames in {} files",
        bf.frames,
        bf.files.len()
    );
    assert_eq!(bf.frames, 150);
    let files = mp4_files(&root);
    assert_eq!(files.len(), 2, "{files:?}");
    for (f, source, size, frames) in [
        (&files[0], &a, "320,240", 25..100),
        (&files[1], &b, "352,288", 0..75),
    ] {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
            .args(["stream=codec_tag_string,width,height", "-of", "csv=p=0"])
            .arg(f)
            .output()
            .expect("run ffprobe");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("hvc1,{size}"),
            "{}",
            f.display()
        );
        assert_decodes_cleanly(f);
        let want = framemd5(source, &[]);
        assert!(
            framemd5(f, &[]) == want[frames.clone()],
            "{}: frames differ from {} {frames:?}",
            f.display(),
            source.display()
        );
    }
}

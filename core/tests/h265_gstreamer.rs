//! H.265 end to end against a real peer (issue 12, first slice): a GStreamer RTSP server
//! (gst-rtsp-server 1.22, `h265parse ! rtph265pay config-interval=-1`,
//! `gst_rtsp_server.py --video h265`) serves an x265 clip; camwire's recorder
//! ([`camwire::record::record_camera`]) records it, export cuts 5 s out of it, verify checks
//! the manifest.
//!
//! Two clips, 12 s of testsrc2 at 25 fps, 320x240, a keyframe every second, no B-frames (so
//! decode time = presentation time):
//! - IDR-only keyframes (`open-gop=0`), recorded over TCP;
//! - CRA keyframes after the first IDR (x265's default open GOP), recorded over TCP and UDP.
//!   Keyframes must be IRAP pictures: with only IDR counted as keyframes (retina#132) this
//!   recording would never rotate files and export would find no keyframe to start at.
//!
//! Each recording is cut into 4 s files; measured on every one of them:
//! - `ffprobe -v error` prints nothing, and reads `hevc` in an `hvc1` sample entry;
//! - the decoded frames of the files, concatenated, equal the source's (framemd5), every frame
//!   present and in order;
//! - the `hvcC` is byte-identical to the one ffmpeg writes when it records the same RTSP
//!   stream itself (`ffmpeg -i rtsp://… -c copy -tag:v hvc1`), for the IDR clip;
//! - a 5 s export (progressive and fragmented) decodes with `ffmpeg -v error` without a
//!   message, holds consecutive source frames from the one 2.5 s in, as many as the manifest
//!   counts, lasts 5 s (plus the wall-clock steps between files), and passes verify.
//!
//! The clips are encoded once (x265 without thread pools or frame threads, so every encode is
//! bit-identical and parallel test processes may race to write them) and cached in the
//! target dir.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::gst::{GstPeer, assert_decodes_cleanly, video_md5s};
use support::{mp4_files, tmp};

/// A fresh scratch directory for this file's tests.
fn tmp_h265(name: &str) -> PathBuf {
    tmp(&format!("h265-{name}"))
}

use camwire::export::{ExportOptions, OutputFormat, export, ranges, verify};
use camwire::record::{CameraConfig, SegmentOptions, record_camera};
use camwire::rtsp::{SourceOptions, Transport};

/// Frames per second of the clips.
const FPS: usize = 25;
/// Seconds in a clip.
const CLIP_SECS: usize = 12;
/// Frames in a clip.
const CLIP_FRAMES: usize = CLIP_SECS * FPS;
/// Longest a recording may take (the clip plays in real time: 12 s).
const DEADLINE: Duration = Duration::from_secs(45);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gop {
    /// Every keyframe an IDR (`open-gop=0`).
    Idr,
    /// The first keyframe IDR, every later one CRA (open GOP).
    Cra,
}

/// The clip, encoded once and cached in the target dir.
fn clip(gop: Gop) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).unwrap();
    let (name, open_gop) = match gop {
        Gop::Idr => ("idr", 0),
        Gop::Cra => ("cra", 1),
    };
    let path = dir.join(format!("x265-320x240-{CLIP_SECS}s-gop25-{name}-t1.mp4"));
    if path.exists() {
        return path;
    }
    let part = dir.join(format!("x265-{name}.{}.part.mp4", std::process::id()));
    let params = format!(
        "keyint=25:min-keyint=25:scenecut=0:bframes=0:open-gop={open_gop}:repeat-headers=1:\
         pools=none:frame-threads=1:log-level=error"
    );
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=320x240:rate={FPS}"))
        .args(["-t", &CLIP_SECS.to_string(), "-c:v", "libx265"])
        .args(["-preset", "veryfast", "-x265-params", &params])
        .args(["-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-b:v", "300k"])
        .arg(&part)
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg encoding the clip: {out:?}");
    std::fs::rename(&part, &path).unwrap();
    path
}

/// `ffprobe -v error` prints no message and finds HEVC in an `hvc1` sample entry; returns the
/// video duration in seconds.
fn assert_ffprobe_clean(f: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args([
            "stream=codec_name,codec_tag_string,duration",
            "-of",
            "csv=p=0",
        ])
        .arg(f)
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}: {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: Vec<&str> = text.trim().split(',').collect();
    assert_eq!(&fields[..2], ["hevc", "hvc1"], "{}: {text}", f.display());
    fields[2].parse().unwrap_or(0.0)
}

/// IRAP pictures in the file (each is one slice here), read from its Annex B form
/// (`ffmpeg -bsf:v hevc_mp4toannexb`): (IDR count, CRA count).
fn irap_types(f: &Path) -> (usize, usize) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(f)
        .args([
            "-c",
            "copy",
            "-bsf:v",
            "hevc_mp4toannexb",
            "-f",
            "hevc",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "{out:?}");
    let d = &out.stdout;
    let (mut idr, mut cra) = (0, 0);
    let mut i = 0;
    while let Some(p) = d[i..].windows(3).position(|w| w == [0, 0, 1]) {
        let at = i + p + 3;
        if let Some(&h) = d.get(at) {
            match (h >> 1) & 0x3f {
                19 | 20 => idr += 1,
                21 => cra += 1,
                _ => {}
            }
        }
        i = at;
    }
    (idr, cra)
}

/// The body of the first `hvcC` box in the file.
fn hvcc_of(f: &Path) -> Vec<u8> {
    let data = std::fs::read(f).expect("read");
    let at = data
        .windows(4)
        .position(|w| w == b"hvcC")
        .unwrap_or_else(|| panic!("{}: no hvcC", f.display()));
    let size = u32::from_be_bytes(data[at - 4..at].try_into().unwrap()) as usize;
    data[at + 4..at - 4 + size].to_vec()
}

/// Records the whole clip from the server into `root/cam/...` in 4 s files.
fn record(url: &str, transport: Transport, root: &Path) -> camwire::record::CameraReport {
    let cfg = CameraConfig {
        id: "cam".into(),
        url: url.to_string(),
        source: SourceOptions {
            transport,
            ..SourceOptions::default()
        },
        segment: SegmentOptions {
            segment_secs: 4,
            ..SegmentOptions::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    rt.block_on(async {
        tokio::time::timeout(DEADLINE, record_camera(cfg, root.to_path_buf(), stop))
            .await
            .expect("the recording ends with the clip (RTCP BYE)")
            .expect("record")
    })
}

fn check_recording(gop: Gop, transport: Transport, name: &str) {
    let source = clip(gop);
    let want = video_md5s(&source);
    assert_eq!(want.len(), CLIP_FRAMES);
    let (idr, cra) = irap_types(&source);
    match gop {
        Gop::Idr => assert_eq!((idr, cra), (CLIP_SECS, 0), "source keyframes"),
        Gop::Cra => assert_eq!((idr, cra), (1, CLIP_SECS - 1), "source keyframes"),
    }

    let server = GstPeer::start(
        "gst_rtsp_server.py",
        [source.to_str().unwrap(), "--video", "h265"],
    );
    let root = tmp_h265(name);
    let report = record(server.url(), transport, &root);
    assert!(report.ended_by_camera, "{report:?}");
    assert_eq!(report.segments.skipped_frames, 0, "{report:?}");
    assert_eq!(report.depacketizer.lost_packets, 0, "{report:?}");

    // Files: 4 s each, cut at keyframes (IDR or CRA).
    let files = mp4_files(&root);
    assert!(files.len() >= 3, "files cut at keyframes: {files:?}");
    assert_eq!(files.len(), report.files.len());
    let mut got = Vec::new();
    for f in &files {
        let d = assert_ffprobe_clean(f);
        assert!(d > 0.0, "{}: duration {d}", f.display());
        got.extend(video_md5s(f));
    }
    assert_eq!(got.len(), CLIP_FRAMES, "every frame recorded");
    assert_eq!(got, want, "decoded frames equal the source's, in order");
    if gop == Gop::Cra {
        // Files after the first start at a CRA picture.
        let (idr, cra) = irap_types(&files[1]);
        assert_eq!(idr, 0, "{}", files[1].display());
        assert!(cra >= 1, "{}", files[1].display());
    }

    // A 5 s export from 2.5 s in, progressive and fragmented.
    let listing = ranges(&root, "cam", None, None).expect("ranges");
    assert_eq!(listing.ranges.len(), 1, "{listing:?}");
    let t1 = listing.ranges[0].start + Duration::from_millis(2500);
    let t2 = t1 + Duration::from_secs(5);
    let out = tmp_h265(&format!("{name}-export"));
    for format in [OutputFormat::Progressive, OutputFormat::Fragmented] {
        let clip_path = out.join(format!("{format:?}.mp4"));
        let opts = ExportOptions {
            format,
            ..ExportOptions::default()
        };
        let s = export(&root, "cam", t1, t2, &clip_path, &opts).expect("export");
        assert_decodes_cleanly(&clip_path);
        let d = assert_ffprobe_clean(&clip_path);
        let frames = video_md5s(&clip_path);
        // What decodes: the manifest's frames (from the one at T1); ffmpeg 5.1 does not apply
        // the edit list of a fragmented file, so there it also shows the pre-roll from the
        // keyframe before T1 (the manifest's samples).
        let (shown, first) = match format {
            OutputFormat::Progressive => (s.manifest.frames, 58..=66),
            OutputFormat::Fragmented => (s.manifest.samples, 50..=50),
        };
        assert_eq!(frames.len() as u64, shown, "{format:?}: {:?}", s.manifest);
        // T2 - T1 = 5 s, plus less than a frame, plus the steps of the wall clock between
        // files (the server's RTCP sender reports move the RTP -> wall-clock mapping by a
        // few tens of ms per file; export keeps every frame inside T1..T2 by each file's
        // own clock, see export::clip).
        // (A fragmented clip read by ffmpeg 5.1 lasts as long as its samples.)
        let want_d = match format {
            OutputFormat::Progressive => 4.96..=5.2,
            OutputFormat::Fragmented => {
                let all = shown as f64 / FPS as f64;
                all - 0.1..=all + 0.1
            }
        };
        assert!(
            want_d.contains(&d),
            "{format:?}: duration {d}, want {want_d:?}"
        );
        assert!(
            (124..=130).contains(&s.manifest.frames),
            "{format:?}: {:?}",
            s.manifest
        );
        let at = want
            .iter()
            .position(|h| *h == frames[0])
            .expect("first frame is a source frame");
        assert_eq!(
            frames[..],
            want[at..at + frames.len()],
            "{format:?}: consecutive source frames"
        );
        assert!(
            first.contains(&at),
            "{format:?}: first frame {at}, want {first:?} (2.5 s in, or its keyframe)"
        );
        let r = verify(&clip_path).expect("verify");
        assert!(r.ok(), "{format:?}: {r:?}");
    }
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn h265_idr_keyframes_recorded_over_tcp_exported_and_verified() {
    check_recording(Gop::Idr, Transport::Tcp, "idr-tcp");
}

#[test]
fn h265_cra_keyframes_recorded_over_tcp_exported_and_verified() {
    check_recording(Gop::Cra, Transport::Tcp, "cra-tcp");
}

#[test]
fn h265_cra_keyframes_recorded_over_udp_exported_and_verified() {
    check_recording(Gop::Cra, Transport::Udp, "cra-udp");
}

/// The recorded hvcC equals the one ffmpeg writes (`-tag:v hvc1`) when it records the same
/// RTSP stream itself, byte for byte.
#[test]
fn h265_hvcc_is_byte_identical_to_ffmpeg_recording_the_same_stream() {
    let source = clip(Gop::Idr);
    let server = GstPeer::start(
        "gst_rtsp_server.py",
        [source.to_str().unwrap(), "--video", "h265"],
    );
    let dir = tmp_h265("hvcc");
    let theirs = dir.join("ffmpeg.mp4");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-rtsp_transport", "tcp", "-i", server.url()])
        .args(["-c", "copy", "-tag:v", "hvc1", "-frames:v", "30"])
        .arg(&theirs)
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "{out:?}");
    drop(server);

    let server = GstPeer::start(
        "gst_rtsp_server.py",
        [source.to_str().unwrap(), "--video", "h265"],
    );
    let root = dir.join("rec");
    let report = record(server.url(), Transport::Tcp, &root);
    let files = mp4_files(&root);
    assert!(!files.is_empty(), "{report:?}");
    let theirs = hvcc_of(&theirs);
    for f in &files {
        assert_eq!(hvcc_of(f), theirs, "{}", f.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `probe` and [`camwire::stream::LiveStream`] on an H.265 camera: the `hvc1` codec string,
/// the size, and every picture of the CRA clip with its IRAP pictures (1 IDR + 11 CRA) as
/// keyframes.
#[test]
fn h265_live_stream_reports_hvc1_and_irap_keyframes() {
    use camwire::fmp4::VideoCodec;
    use camwire::stream::{LiveStream, probe};
    let source = clip(Gop::Cra);
    let server = GstPeer::start(
        "gst_rtsp_server.py",
        [source.to_str().unwrap(), "--video", "h265"],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let info = probe(
            server.url(),
            SourceOptions::default(),
            Duration::from_secs(10),
        )
        .await
        .expect("probe");
        assert_eq!(info.video_codec, VideoCodec::H265);
        assert!(info.codec.starts_with("hvc1.1.6.L"), "{info:?}");
        assert_eq!((info.width, info.height), (320, 240));
        assert_eq!(info.profile, "Main");
        assert_eq!(&info.avcc[..2], &[1, 1], "hvcC: version 1, Main profile");

        let mut live = LiveStream::open(server.url(), SourceOptions::default())
            .await
            .expect("open");
        let info = live
            .wait_info(Duration::from_secs(10))
            .await
            .expect("info")
            .clone();
        assert_eq!(info.video_codec, VideoCodec::H265);
        let (mut frames, mut keyframes) = (0, 0);
        let read_all = async {
            while let Some(f) = live.next_frame().await.expect("frame") {
                frames += 1;
                keyframes += usize::from(f.keyframe);
                live.recycle(f);
            }
        };
        tokio::time::timeout(DEADLINE, read_all)
            .await
            .expect("the stream ends with the clip");
        assert_eq!(frames, CLIP_FRAMES);
        assert_eq!(keyframes, CLIP_SECS, "IDR and CRA pictures are keyframes");
    });
}

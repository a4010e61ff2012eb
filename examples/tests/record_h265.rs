//! The `camwire` CLI on an H.265 camera (issue 12, first slice): a GStreamer RTSP server
//! (`gst_rtsp_server.py --video h265`: `h265parse ! rtph265pay`) serves a 12 s
//! x265 clip with CRA keyframes (open GOP, no B-frames).
//!
//! - `camwire probe --json` reports `hvc1.1.6.L…`, H.265, Main, 320x240;
//! - `camwire record` (the multi-camera recorder) records until the server's BYE, in 4 s
//!   files cut at the CRA keyframes; every file passes ffprobe (no message, `hevc`) and
//!   GStreamer's qtdemux (H.265); the decoded frames equal the source's, all 300;
//! - `camwire export` cuts 5 s and `camwire verify` says OK.

mod support;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// 12 s of testsrc2 320x240 at 25 fps, x265 with a CRA keyframe every second after the first
/// IDR, no B-frames; deterministic (no thread pools), cached in the target dir.
fn h265_clip() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x265-320x240-12s-gop25-cra-cli.mp4");
    if path.exists() {
        return path;
    }
    let part = dir.join(format!("x265-cra-cli.{}.part.mp4", std::process::id()));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x240:rate=25")
        .args(["-t", "12", "-c:v", "libx265", "-preset", "veryfast"])
        .args([
            "-x265-params",
            "keyint=25:min-keyint=25:scenecut=0:bframes=0:open-gop=1:repeat-headers=1:\
             pools=none:frame-threads=1:log-level=error",
        ])
        .args(["-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-b:v", "300k"])
        .arg(&part)
        .output()
        .expect("run ffmpeg");
    assert_ok(&out, "ffmpeg encoding the H.265 clip");
    std::fs::rename(&part, &path).unwrap();
    path
}

/// ffprobe prints nothing and finds HEVC in an `hvc1` sample entry; GStreamer reads H.265.
fn assert_h265_file(f: &Path) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,codec_tag_string",
        ])
        .args(["-of", "csv=p=0"])
        .arg(f)
        .output()
        .expect("run ffprobe");
    assert_ok(&out, "ffprobe");
    assert!(out.stderr.is_empty(), "{}: {out:?}", f.display());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hevc,hvc1",
        "{}",
        f.display()
    );
    let out = Command::new("gst-discoverer-1.0")
        .arg(f)
        .output()
        .expect("run gst-discoverer-1.0");
    assert_ok(&out, "gst-discoverer-1.0");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("H.265"), "{}: {text}", f.display());
    assert!(
        !text.to_lowercase().contains("error"),
        "{}: {text}",
        f.display()
    );
}

#[test]
fn probe_record_export_verify_an_h265_camera() {
    let src = h265_clip();
    let server = GstServer::start_with(&src, &["--video", "h265"]);

    let r = camwire(&["probe", "--url", &server.url, "--json"]);
    assert_ok(&r, "camwire probe");
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).expect("probe JSON");
    assert!(
        v["codec"].as_str().unwrap().starts_with("hvc1.1.6.L"),
        "{v}"
    );
    assert_eq!(v["video_codec"], "H.265", "{v}");
    assert_eq!(v["profile"], "Main", "{v}");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(240))
    );

    let out = tmpdir("h265-record");
    let r = camwire(&[
        "record",
        "--url",
        &server.url,
        "--transport",
        "tcp",
        "--out",
        out.to_str().unwrap(),
        "--camera-id",
        "h265",
        "--duration",
        "40",
        "--segment-secs",
        "4",
        "--reconnect",
        "no",
    ]);
    assert_ok(&r, "camwire record");
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        stdout.contains("stream ended by camera"),
        "recording did not end on BYE: {stdout}"
    );
    let files = mp4_files(&out.join("h265"));
    assert!(
        files.len() >= 3,
        "4 s files cut at CRA keyframes: {files:?}"
    );
    for f in &files {
        assert_h265_file(f);
    }
    let want = framemd5(std::slice::from_ref(&src));
    assert_eq!(want.len(), 300);
    let got = framemd5(&files);
    assert_eq!(got.len(), want.len(), "frame count differs");
    assert!(got == want, "decoded frames differ from the source");

    // 5 s from 3 s after the recording's start.
    let r = camwire(&["ls", "--root", out.to_str().unwrap(), "--json"]);
    assert_ok(&r, "camwire ls");
    let ls: serde_json::Value = serde_json::from_slice(&r.stdout).expect("ls JSON");
    let start: jiff::Timestamp = ls["cameras"][0]["ranges"][0]["start"]
        .as_str()
        .unwrap_or_else(|| panic!("{ls}"))
        .parse()
        .expect("RFC 3339 start");
    let t1 = start + jiff::SignedDuration::from_secs(3);
    let t2 = t1 + jiff::SignedDuration::from_secs(5);
    let clip = out.join("clip.mp4");
    let r = camwire(&[
        "export",
        "--root",
        out.to_str().unwrap(),
        "--camera",
        "h265",
        "--start",
        &t1.to_string(),
        "--end",
        &t2.to_string(),
        "--out",
        clip.to_str().unwrap(),
    ]);
    assert_ok(&r, "camwire export");
    assert_h265_file(&clip);
    assert_decodes_cleanly(&clip);
    let r = camwire(&["verify", clip.to_str().unwrap()]);
    assert_ok(&r, "camwire verify");
    assert!(String::from_utf8_lossy(&r.stdout).starts_with("OK "));
}

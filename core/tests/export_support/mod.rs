//! Shared pieces of the export tests: recordings made in-process from the sim clip at known
//! wall-clock times (so the frame at any instant is known exactly), and the validators
//! written by others (ffmpeg, ffprobe, GStreamer).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use camwire::frame::{AccessUnit, NalRef, ParameterSets};
use camwire::record::clock::system_time_to_ntp;
use camwire::record::{FsyncPolicy, Naming, SegmentOptions, SegmentWriter};
use camwire::sim::{TICKS_PER_FRAME, clip, clip_access_units};

/// Frames in the sim clip.
pub const CLIP_FRAMES: usize = 250;
/// 25 fps.
pub const FRAME: Duration = Duration::from_millis(40);

pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("camwire-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// 2025-11-23T12:00:00Z plus `secs`.
pub fn at(secs: f64) -> SystemTime {
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_899_200);
    if secs >= 0.0 {
        base + Duration::from_secs_f64(secs)
    } else {
        base - Duration::from_secs_f64(-secs)
    }
}

/// Access unit `i` of the clip (pieces are slices of the static clip: nothing copied).
fn access_unit(i: usize, ranges: &[Vec<std::ops::Range<usize>>]) -> AccessUnit {
    let data = Bytes::from_static(clip());
    let mut au = AccessUnit::default();
    for r in &ranges[i % ranges.len()] {
        let nal = data.slice(r.clone());
        let piece = au.pieces.len() as u32;
        au.nals.push(NalRef {
            header: nal[0],
            len: nal.len() as u32,
            pieces: piece..piece + 1,
        });
        if nal[0] & 0x1f == 5 {
            au.keyframe = true;
        }
        au.pieces.push(nal);
    }
    au
}

/// The clip's SPS and PPS.
fn parameter_sets(ranges: &[Vec<std::ops::Range<usize>>]) -> ParameterSets {
    let data = Bytes::from_static(clip());
    let (mut sps, mut pps) = (None, None);
    for r in ranges.iter().flatten() {
        match data[r.start] & 0x1f {
            7 => sps = sps.or(Some(data.slice(r.clone()))),
            8 => pps = pps.or(Some(data.slice(r.clone()))),
            _ => {}
        }
    }
    ParameterSets {
        sps: sps.expect("sps"),
        pps: pps.expect("pps"),
    }
}

/// Records `frames` frames of the looping clip (starting at clip frame 0) for `camera` under
/// `root`, frame `i` at wall-clock `start + i × 40 ms`, files rotated every `segment_secs`.
pub fn record(root: &Path, camera: &str, start: SystemTime, frames: usize, segment_secs: u32) {
    record_with_clock(root, camera, frames, segment_secs, |i| {
        start + FRAME * i as u32
    });
}

/// Like [`record`], with frame `i` arriving at wall-clock `wall(i)` (clock steps, jitter).
pub fn record_with_clock(
    root: &Path,
    camera: &str,
    frames: usize,
    segment_secs: u32,
    wall: impl Fn(usize) -> SystemTime,
) {
    let mut w = segment_writer(root, camera, segment_secs);
    for i in 0..frames {
        push_clip_frame(&mut w, i, wall(i));
    }
    w.finish().expect("finish");
}

/// The writer [`record`] uses: files under `root/camera/`, rotated every `segment_secs`,
/// 1-s fragments, no fsync. Frames go in with [`push_clip_frame`].
pub fn segment_writer(root: &Path, camera: &str, segment_secs: u32) -> SegmentWriter {
    SegmentWriter::new(
        Naming::CameraDir {
            root: root.to_path_buf(),
            camera_id: camera.to_string(),
        },
        SegmentOptions {
            segment_secs,
            fragment_ms: 1000,
            fsync: FsyncPolicy::Never,
            ..Default::default()
        },
        90_000,
    )
}

/// Pushes frame `i` of the looping clip (with the parameter sets on frame 0), shown at `wall`.
pub fn push_clip_frame(w: &mut SegmentWriter, i: usize, wall: SystemTime) {
    let ranges = clip_access_units();
    let mut au = access_unit(i, &ranges);
    au.timestamp = 1_000_000 + i as i64 * i64::from(TICKS_PER_FRAME);
    if i == 0 {
        au.new_parameters = Some(parameter_sets(&ranges));
    }
    w.push(&mut au, system_time_to_ntp(wall)).expect("write");
}

/// Every `.mp4` under `dir`, sorted (names are UTC start times).
pub fn mp4_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "mp4") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Per-frame MD5s of the decoded video (`ffmpeg -f framemd5`), in presentation order.
pub fn framemd5(input: &Path, extra: &[&str]) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(input)
        .args(extra)
        .args(["-map", "0:v:0", "-f", "framemd5", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_string()))
        .collect()
}

/// The decoded frames of the sim clip.
pub fn clip_frames() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sim_clip.h264");
    framemd5(&p, &[])
}

/// `ffmpeg -v error -i F -f null -` prints nothing.
pub fn assert_decodes_cleanly(f: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(f)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}: {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The video stream's duration as ffprobe reports it (edit list applied), in seconds.
pub fn ffprobe_duration(f: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(f)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("duration")
}

/// GStreamer's qtdemux reads it and finds H.264.
pub fn assert_gst_reads(f: &Path) {
    let out = Command::new("gst-discoverer-1.0")
        .arg(f)
        .output()
        .expect("gst-discoverer-1.0");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("H.264") && !text.to_lowercase().contains("error"),
        "{text}"
    );
}

/// Flips one bit of the byte at `offset`.
pub fn flip_byte(f: &Path, offset: u64) {
    let mut b = std::fs::read(f).expect("read");
    let i = usize::try_from(offset).expect("offset");
    b[i] ^= 0x01;
    std::fs::write(f, b).expect("write");
}

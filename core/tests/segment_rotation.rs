//! File boundaries of the segment writer, judged by ffprobe: rotation at the first keyframe
//! after `segment_secs`, fragments of `fragment_ms`, and a new file (new init segment) when
//! the parameter sets change mid-stream (a camera switching resolution).
#![cfg(feature = "sim")]

mod support;
use bytes::Bytes;
use camwire::frame::{AccessUnit, NalRef, ParameterSets};
use camwire::h264::annexb::nal_ranges;
use camwire::record::{FsyncPolicy, Naming, SegmentOptions, SegmentWriter};
use std::path::Path;
use std::process::Command;
use support::*;

/// Access units of an Annex B stream (each ends at its slice NAL), `new_parameters` on the
/// first, timestamps from `ts0` at 3600 per frame.
fn access_units(stream: Bytes, ts0: i64) -> Vec<AccessUnit> {
    let mut out = Vec::new();
    let mut cur = AccessUnit::default();
    let (mut sps, mut pps) = (None, None);
    for r in nal_ranges(&stream) {
        let nal = stream.slice(r);
        let t = nal[0] & 0x1f;
        match t {
            7 => sps = Some(nal.clone()),
            8 => pps = Some(nal.clone()),
            _ => {}
        }
        let i = cur.pieces.len() as u32;
        cur.nals.push(NalRef {
            header: nal[0],
            len: nal.len() as u32,
            pieces: i..i + 1,
        });
        cur.pieces.push(nal);
        if t == 1 || t == 5 {
            cur.keyframe = t == 5;
            cur.timestamp = ts0 + out.len() as i64 * 3600;
            if out.is_empty() {
                cur.new_parameters = Some(ParameterSets {
                    sps: sps.clone().unwrap(),
                    pps: pps.clone().unwrap(),
                });
            }
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

fn probe(f: &Path) -> (String, usize) {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=width,height,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(f)
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}: {o:?}",
        f.display()
    );
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let mut it = s.split(',');
    let wh = format!("{}x{}", it.next().unwrap(), it.next().unwrap());
    (wh, it.next().unwrap().parse().unwrap())
}

fn sim_clip() -> Bytes {
    Bytes::from_static(camwire::sim::clip())
}

#[test]
fn rotates_at_the_first_keyframe_after_segment_secs() {
    let root = tmp("seg-rotate");
    let naming = Naming::CameraDir {
        root: root.clone(),
        camera_id: "cam".into(),
    };
    let opts = SegmentOptions {
        segment_secs: 3,
        fragment_ms: 1000,
        fsync: FsyncPolicy::Never,
        ..Default::default()
    };
    let mut w = SegmentWriter::new(naming, opts, 90_000);
    let base_ntp = 3_900_000_000u64 << 32;
    let mut closed = Vec::new();
    for mut au in access_units(sim_clip(), 0) {
        let wall = base_ntp + ((au.timestamp as u64) << 32) / 90_000;
        closed.extend(w.push(&mut au, wall).unwrap());
    }
    closed.extend(w.finish().unwrap());
    // GOP = 2 s: keyframes at 0, 2, 4, 6, 8 s; 3 s segments cut at 4 and 8 s.
    let frames: Vec<u64> = closed.iter().map(|c| c.frames).collect();
    assert_eq!(frames, vec![100, 100, 50]);
    for c in &closed {
        let (wh, n) = probe(&c.path);
        assert_eq!(wh, "640x360");
        assert_eq!(n as u64, c.frames);
        // Named by UTC start under <root>/<camera>/<date>/.
        assert!(c.path.starts_with(root.join("cam")), "{}", c.path.display());
    }
    let names: Vec<String> = closed
        .iter()
        .map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    // 1 s fragments: 4 per 4-s file (keyframes every 2 s also close fragments).
    let mut f = std::fs::File::open(&closed[0].path).unwrap();
    assert_eq!(
        camwire::fmp4::scan_fragments(&mut f)
            .unwrap()
            .fragments
            .len(),
        4
    );
}

#[test]
fn parameter_change_starts_a_new_file() {
    let dir = tmp("seg-params");
    let small = dir.join("small.h264");
    let o = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-t",
            "2",
        ])
        .args(["-c:v", "libx264", "-bf", "0", "-g", "25", "-f", "h264"])
        .arg(&small)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let out = dir.join("out.mp4");
    let opts = SegmentOptions {
        segment_secs: u32::MAX,
        fsync: FsyncPolicy::Never,
        ..Default::default()
    };
    let mut w = SegmentWriter::new(Naming::Fixed(out.clone()), opts, 90_000);
    let first = access_units(sim_clip(), 0);
    let n1 = first.len() as i64;
    let mut closed = Vec::new();
    for mut au in first {
        closed.extend(w.push(&mut au, 0).unwrap());
    }
    for mut au in access_units(Bytes::from(std::fs::read(&small).unwrap()), n1 * 3600) {
        closed.extend(w.push(&mut au, 0).unwrap());
    }
    closed.extend(w.finish().unwrap());
    assert_eq!(closed.len(), 2);
    assert_eq!(closed[0].path, out);
    assert_eq!(closed[1].path, dir.join("out-2.mp4"));
    assert_eq!(probe(&closed[0].path), ("640x360".to_string(), 250));
    assert_eq!(probe(&closed[1].path), ("320x240".to_string(), 50));
}

//! Export end to end on recordings made in-process with `SegmentWriter` at known wall-clock
//! times: frame `i` of a recording is sim clip frame `i % 250`, shown from `start + i × 40 ms`,
//! so the frame that must be on screen at any T1 is known exactly. Checked with ffmpeg,
//! ffprobe and GStreamer.
#![cfg(feature = "sim")]

mod export_support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use camwire::export::{
    ExportError, ExportOptions, FileStatus, OutputFormat, export, ranges, verify,
};
use export_support::*;

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a).expect("ordered").as_secs_f64()
}

fn close(a: SystemTime, b: SystemTime) -> bool {
    let d = a.duration_since(b).unwrap_or_else(|e| e.duration());
    d < Duration::from_micros(1)
}

/// 16 s in 4-s files (the clip's GOP is 50 frames): files start at frames 0, 100, 200, 300.
fn three_segment_recording(name: &str) -> std::path::PathBuf {
    let root = tmpdir(name);
    record(&root, "cam", at(0.0), 400, 4);
    assert_eq!(mp4_files(&root).len(), 4);
    root
}

fn check_clip(clip: &Path, first_frame: usize, last_frame: usize, asked: f64) {
    assert_decodes_cleanly(clip);
    assert_gst_reads(clip);
    let got = framemd5(clip, &[]);
    let want: Vec<String> = {
        let c = clip_frames();
        (first_frame..=last_frame)
            .map(|i| c[i % c.len()].clone())
            .collect()
    };
    assert_eq!(got.len(), want.len(), "frames presented");
    assert_eq!(got[0], want[0], "first displayed frame is the one at T1");
    assert_eq!(got, want, "every frame equals the source frame");
    let d = ffprobe_duration(clip);
    assert!(
        (d - asked).abs() <= 0.040 + 1e-6,
        "duration {d} s, asked {asked} s"
    );
}

#[test]
fn export_across_three_segments_starts_at_t1_and_verifies() {
    let root = three_segment_recording("export3");
    let out_dir = tmpdir("export3-out");
    let clip = out_dir.join("clip.mp4");
    // T1 = 3.02 s: frame 75 is on screen (3.000..3.040); keyframe before it: 50.
    // T2 = 11.5 s: the last frame starting before it is 287 (11.48 s).
    let (t1, t2) = (at(3.02), at(11.5));
    let s = export(&root, "cam", t1, t2, &clip, &ExportOptions::default()).expect("export");
    check_clip(&clip, 75, 287, secs_between(t1, t2));

    let m = &s.manifest;
    assert_eq!(m.camera_id, "cam");
    assert_eq!(m.sources.len(), 3, "{:?}", m.sources);
    assert_eq!(m.actual.start, "2025-11-23T12:00:03Z");
    assert_eq!(m.actual.end, "2025-11-23T12:00:11.5Z");
    assert_eq!(m.preroll_start, "2025-11-23T12:00:02Z");
    assert_eq!(m.last_frame, "2025-11-23T12:00:11.48Z");
    assert_eq!((m.frames, m.samples), (213, 238));
    assert!(m.gaps.is_empty());
    assert_eq!(m.output.container, "progressive");
    assert_eq!(m.output.size, std::fs::metadata(&clip).expect("clip").len());
    // moov before mdat: plays before the whole file is there.
    let head = std::fs::read(&clip).expect("read");
    let moov = head.windows(4).position(|w| w == b"moov").expect("moov");
    let mdat = head.windows(4).position(|w| w == b"mdat").expect("mdat");
    assert!(moov < mdat);

    let r = verify(&clip).expect("verify");
    assert!(r.ok(), "{:?}", r.problems());
    assert!(r.problems().is_empty());

    // One byte of the middle source changed: verify names that file.
    let middle = root.join(&m.sources[1].path);
    let at_byte = (m.sources[1].bytes_used[0] + m.sources[1].bytes_used[1]) / 2;
    flip_byte(&middle, at_byte);
    let r = verify(&clip).expect("verify");
    assert!(!r.ok());
    let p = r.problems();
    assert!(
        p.iter()
            .any(|l| l.contains(&m.sources[1].path) && l.contains("SHA-256")),
        "{p:?}"
    );
    assert!(matches!(
        r.sources[1].status,
        FileStatus::HashMismatch { .. }
    ));
    assert!(r.sources[0].status.is_match() && r.sources[2].status.is_match());
    assert!(r.output.is_match());
    flip_byte(&middle, at_byte);
    assert!(verify(&clip).expect("verify").ok());

    // One byte of the clip changed: verify names the clip.
    let len = std::fs::metadata(&clip).expect("clip").len();
    flip_byte(&clip, len - 100);
    let r = verify(&clip).expect("verify");
    assert!(!r.ok());
    assert!(matches!(r.output, FileStatus::HashMismatch { .. }));
    let p = r.problems();
    assert!(
        p.iter()
            .any(|l| l.starts_with("clip ") && l.contains("clip.mp4")),
        "{p:?}"
    );
    assert!(r.sources.iter().all(|s| s.status.is_match()));
    flip_byte(&clip, len - 100);

    // A source removed (retention): reported as missing, the rest still verified.
    std::fs::remove_file(root.join(&m.sources[2].path)).expect("rm");
    let r = verify(&clip).expect("verify");
    assert!(r.ok(), "{:?}", r.problems());
    assert_eq!(r.missing_sources(), vec![m.sources[2].path.as_str()]);

    // Never overwrites.
    assert!(matches!(
        export(&root, "cam", t1, t2, &clip, &ExportOptions::default()),
        Err(ExportError::OutputExists(_))
    ));
}

/// The receive clock stepped 30 ms back when the second file started (frames 100 on are
/// stamped 30 ms early). T2 = 4.98 s: frame 125 is stamped 4.97 s, so it is the last one
/// stored, and it must also be presented: the manifest's count is what players decode.
#[test]
fn clock_step_between_files_keeps_frames_and_manifest_in_step() {
    let root = tmpdir("export-step");
    let step = Duration::from_millis(30);
    record_with_clock(&root, "cam", 200, 4, |i| {
        let t = at(0.0) + FRAME * i as u32;
        if i >= 100 { t - step } else { t }
    });
    assert_eq!(mp4_files(&root).len(), 2);
    let clip = tmpdir("export-step-out").join("clip.mp4");
    let (t1, t2) = (at(1.0), at(4.98));
    let s = export(&root, "cam", t1, t2, &clip, &ExportOptions::default()).expect("export");
    check_clip(&clip, 25, 125, secs_between(t1, t2));
    assert_eq!(s.manifest.frames, 101);
    assert_eq!(s.manifest.actual.end, "2025-11-23T12:00:04.98Z");
    assert!(verify(&clip).expect("verify").ok());
}

#[test]
fn fragmented_export_plays_and_verifies() {
    let root = three_segment_recording("exportfrag");
    let clip = tmpdir("exportfrag-out").join("clip.mp4");
    let (t1, t2) = (at(4.0), at(12.2));
    let opts = ExportOptions {
        format: OutputFormat::Fragmented,
        ..Default::default()
    };
    let s = export(&root, "cam", t1, t2, &clip, &opts).expect("export");
    assert_eq!(s.manifest.output.container, "fragmented");
    // 4.000 s is frame 100 exactly; 12.2 s: last frame 304 (12.16 s).
    check_clip(&clip, 100, 304, secs_between(t1, t2));
    let r = verify(&clip).expect("verify");
    assert!(r.ok(), "{:?}", r.problems());
}

#[test]
fn listing_and_export_across_a_gap() {
    let root = tmpdir("exportgap");
    record(&root, "cam", at(0.0), 250, 4); // 0..10 s
    record(&root, "cam", at(30.0), 200, 4); // 30..38 s
    let l = ranges(&root, "cam", None, None).expect("ranges");
    assert_eq!(l.ranges.len(), 2, "{l:?}");
    assert!(close(l.ranges[0].start, at(0.0)) && close(l.ranges[0].end, at(10.0)));
    assert!(close(l.ranges[1].start, at(30.0)) && close(l.ranges[1].end, at(38.0)));
    assert_eq!(l.gaps.len(), 1);
    assert!(close(l.gaps[0].start, at(10.0)) && close(l.gaps[0].end, at(30.0)));
    // The recorder's gap log names the reason (a torn last line is skipped).
    std::fs::write(
        root.join("cam/gaps.jsonl"),
        "{\"start\":\"2025-11-23T12:00:10.000Z\",\"end\":\"2025-11-23T12:00:30.000Z\",\
         \"reason\":\"stream ended by camera\",\"extra\":1}\n{\"start\":\"2025-",
    )
    .expect("gaps.jsonl");
    let l = ranges(&root, "cam", None, None).expect("ranges");
    assert_eq!(l.gaps[0].reason.as_deref(), Some("stream ended by camera"));
    let j = l.to_json();
    assert_eq!(j["gaps"][0]["start"], "2025-11-23T12:00:10Z");
    assert_eq!(j["gaps"][0]["end"], "2025-11-23T12:00:30Z");
    assert_eq!(j["ranges"][1]["duration_secs"], 8.0);

    // A window clips ranges and gaps.
    let l = ranges(&root, "cam", Some(at(5.0)), Some(at(20.0))).expect("ranges");
    assert_eq!(l.ranges.len(), 1);
    assert!(close(l.ranges[0].start, at(5.0)) && close(l.ranges[0].end, at(10.0)));
    assert!(close(l.gaps[0].start, at(10.0)) && close(l.gaps[0].end, at(20.0)));
    // Entirely inside the gap: nothing recorded.
    let l = ranges(&root, "cam", Some(at(12.0)), Some(at(20.0))).expect("ranges");
    assert!(l.ranges.is_empty());

    // Export across the gap: the last frame before it is held, time keeps wall-clock pace.
    let clip = tmpdir("exportgap-out").join("clip.mp4");
    let s = export(
        &root,
        "cam",
        at(8.0),
        at(32.0),
        &clip,
        &ExportOptions::default(),
    )
    .expect("export");
    assert_eq!(s.manifest.gaps.len(), 1);
    assert_eq!(s.manifest.gaps[0].start, "2025-11-23T12:00:10Z");
    assert_eq!(s.manifest.gaps[0].end, "2025-11-23T12:00:30Z");
    assert_eq!(s.manifest.sources.len(), 2);
    assert_decodes_cleanly(&clip);
    let d = ffprobe_duration(&clip);
    assert!((d - 24.0).abs() <= 0.04, "{d}");
    assert!(verify(&clip).expect("verify").ok());
    // Starting inside the gap starts at the first frame after it.
    let clip2 = clip.with_file_name("clip2.mp4");
    let s = export(
        &root,
        "cam",
        at(20.0),
        at(31.0),
        &clip2,
        &ExportOptions::default(),
    )
    .expect("export");
    assert_eq!(s.manifest.actual.start, "2025-11-23T12:00:30Z");
    assert_eq!(framemd5(&clip2, &[])[0], clip_frames()[0]);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let root = three_segment_recording("exportbad");
    let out = tmpdir("exportbad-out");
    let o = ExportOptions::default();
    let e = export(&root, "cam", at(5.0), at(4.0), &out.join("a.mp4"), &o);
    assert!(matches!(e, Err(ExportError::BadRange { .. })), "{e:?}");
    let e = export(&root, "cam", at(100.0), at(200.0), &out.join("a.mp4"), &o);
    assert!(matches!(e, Err(ExportError::NoRecording { .. })), "{e:?}");
    let e = export(&root, "cam", at(-100.0), at(-50.0), &out.join("a.mp4"), &o);
    assert!(matches!(e, Err(ExportError::NoRecording { .. })), "{e:?}");
    for id in ["..", "../cam", "/etc", "a/b", "", "x\u{7}"] {
        let e = export(&root, id, at(1.0), at(2.0), &out.join("a.mp4"), &o);
        assert!(
            matches!(e, Err(ExportError::InvalidCameraId { .. })),
            "{id:?}: {e:?}"
        );
        assert!(matches!(
            ranges(&root, id, None, None),
            Err(ExportError::InvalidCameraId { .. })
        ));
    }
    let e = export(&root, "nobody", at(1.0), at(2.0), &out.join("a.mp4"), &o);
    assert!(matches!(e, Err(ExportError::UnknownCamera { .. })), "{e:?}");
    assert!(!out.join("a.mp4").exists());

    // A middle file cut in the middle of a fragment: the range runs past the damage.
    let files = mp4_files(&root);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&files[1])
        .expect("open");
    let len = f.metadata().expect("meta").len();
    f.set_len(len / 2).expect("truncate");
    let e = export(&root, "cam", at(3.0), at(10.0), &out.join("b.mp4"), &o);
    match e {
        Err(ExportError::Source { path, .. }) => assert_eq!(path, files[1]),
        other => panic!("{other:?}"),
    }
    assert!(!out.join("b.mp4").exists());
    // Cut inside its init segment: unreadable, named.
    f.set_len(30).expect("truncate");
    let e = export(&root, "cam", at(3.0), at(10.0), &out.join("b.mp4"), &o);
    match e {
        Err(ExportError::Source { path, .. }) => assert_eq!(path, files[1]),
        other => panic!("{other:?}"),
    }
    // Listing still shows what is readable, with the hole as a gap.
    let l = ranges(&root, "cam", None, None).expect("ranges");
    assert_eq!(l.ranges.len(), 2, "{l:?}");
    // Exports before the damaged file still work.
    export(&root, "cam", at(0.5), at(3.5), &out.join("c.mp4"), &o).expect("export before damage");
}

/// `growing` means "still being written when hashed": true only for the file a recorder holds
/// open, false for every file once the recorder has closed them, even the newest.
#[test]
fn growing_marks_only_the_file_being_recorded() {
    let root = tmpdir("growing");
    let out = tmpdir("growing-out");
    let o = ExportOptions::default();
    let mut w = segment_writer(&root, "cam", 4);
    for i in 0..250 {
        push_clip_frame(&mut w, i, at(0.0) + FRAME * i as u32);
    }
    // Files at 0, 4 and 8 s; the third is open (its last fragment not yet written).
    let files = mp4_files(&root);
    assert_eq!(files.len(), 3, "{files:?}");
    let live = export(&root, "cam", at(1.0), at(9.0), &out.join("live.mp4"), &o).expect("live");
    let growing: Vec<(String, bool)> = live
        .manifest
        .sources
        .iter()
        .map(|s| (s.path.clone(), s.growing))
        .collect();
    assert_eq!(growing.len(), 3, "{growing:?}");
    assert!(!growing[0].1 && !growing[1].1, "closed files: {growing:?}");
    assert!(growing[2].1, "the open file is growing: {growing:?}");
    let open_src = &live.manifest.sources[2];
    assert!(open_src.hashed_bytes <= open_src.size);
    assert!(verify(&out.join("live.mp4")).expect("verify live").ok());

    w.finish().expect("finish");
    let done = export(&root, "cam", at(1.0), at(9.0), &out.join("done.mp4"), &o).expect("done");
    for s in &done.manifest.sources {
        assert!(!s.growing, "recorder closed every file: {s:?}");
        assert_eq!(
            s.hashed_bytes, s.size,
            "a closed file is hashed whole: {s:?}"
        );
    }
    assert!(verify(&out.join("done.mp4")).expect("verify done").ok());
}

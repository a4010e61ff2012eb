//! Disk full: one camera's directory is a 3 MB tmpfs nearly filled by a ballast file. It must
//! pause (error event, paused state) while the other camera goes on, resume once space
//! returns, report the pause as a gap, and leave only files that play. Needs root for
//! `mount -t tmpfs`; prints a note and passes when mounting is not possible.
#![cfg(feature = "sim")]

mod support;
use camwire::fmp4::scan_fragments;
use camwire::record::{
    CameraConfig, CameraState, Recorder, RecorderEventKind, RecorderOptions, SegmentOptions,
};
use camwire::sim::{SimCamera, SimOptions};
use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

fn plays_cleanly(f: &Path) {
    assert_ffprobe_silent(f);
    decoded_frames(f);
    let mut file = std::fs::File::open(f).unwrap();
    let scan = scan_fragments(&mut file).unwrap();
    assert!(!scan.is_torn(), "{}: torn", f.display());
    assert!(!scan.fragments.is_empty(), "{}: no fragment", f.display());
}

fn config(id: &str, url: String) -> CameraConfig {
    CameraConfig {
        id: id.into(),
        url,
        source: Default::default(),
        segment: SegmentOptions {
            segment_secs: 2,
            fragment_ms: 500,
            ..Default::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_pauses_one_camera_and_resumes_without_corruption() {
    let root = tmp("recorder-diskfull");
    let small = root.join("small");
    let Some(_mount) = Tmpfs::mount(&small, "3m") else {
        return;
    };
    // Leave ~250 kB free: about 7 s of the sim's stream.
    let ballast = small.join("ballast.bin");
    let free = 250_000u64;
    let ballast_len = 3 * 1024 * 1024 - free;
    std::fs::write(&ballast, vec![0x55u8; ballast_len as usize]).unwrap();

    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let mut opts = RecorderOptions::new(&root);
    opts.disk_retry = Duration::from_secs(1);
    let rec = Recorder::start(opts).unwrap();
    let mut events = rec.events();
    let collector = tokio::spawn(async move {
        let mut out = Vec::new();
        while let Ok(ev) = events.recv().await {
            out.push(ev);
        }
        out
    });
    rec.add_camera(config("small", sim.rtsp_url())).unwrap();
    rec.add_camera(config("big", sim.rtsp_url())).unwrap();

    let paused = wait_for(Duration::from_secs(30), || {
        rec.camera_status("small")
            .is_some_and(|s| s.state == CameraState::PausedDiskFull)
    })
    .await;
    assert!(paused, "{:?}", rec.camera_status("small"));
    let paused_at = Instant::now();
    // While paused (a few retries happen), the other camera goes on.
    let big_before = rec.camera_status("big").unwrap().frames;
    let small_before = rec.camera_status("small").unwrap().frames;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let big = rec.camera_status("big").unwrap();
    let small_st = rec.camera_status("small").unwrap();
    assert_eq!(big.state, CameraState::Recording);
    assert!(big.frames >= big_before + 50, "{big:?}");
    assert_eq!(small_st.state, CameraState::PausedDiskFull, "{small_st:?}");
    // Retries push up to one fragment that then fails (and is taken back from the count).
    assert!(
        small_st.frames <= small_before + 15,
        "frames written while paused: {small_st:?}"
    );
    assert!(
        small_st
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("disk full")
    );

    // Space returns: the camera resumes at the next retry and keyframe.
    std::fs::remove_file(&ballast).unwrap();
    let resumed = wait_for(Duration::from_secs(10), || {
        rec.camera_status("small")
            .is_some_and(|s| s.state == CameraState::Recording && s.frames > small_before + 25)
    })
    .await;
    assert!(resumed, "{:?}", rec.camera_status("small"));
    println!(
        "paused for {:.1} s, resumed; small: {:?}",
        paused_at.elapsed().as_secs_f64(),
        rec.camera_status("small")
            .map(|s| (s.frames, s.files, s.gaps))
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let statuses = rec.shutdown().await;
    let events = collector.await.unwrap();

    let errors: Vec<&String> = events
        .iter()
        .filter(|e| e.camera == "small")
        .filter_map(|e| match &e.kind {
            RecorderEventKind::Error { message } => Some(message),
            _ => None,
        })
        .collect();
    assert!(
        !errors.is_empty() && errors.iter().all(|m| m.contains("disk full")),
        "{errors:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e.camera == "small" || !matches!(e.kind, RecorderEventKind::Error { .. })),
        "the other camera had errors"
    );
    let gap = events
        .iter()
        .find_map(|e| match &e.kind {
            RecorderEventKind::Gap(g) if e.camera == "small" => Some(g.clone()),
            _ => None,
        })
        .expect("a gap for the pause");
    assert!(gap.reason.starts_with("disk full"), "{gap:?}");
    let len = gap.end.duration_since(gap.start).unwrap();
    assert!(len >= Duration::from_secs(3), "gap of {len:?}");
    println!(
        "{} disk-full error event(s); gap {:.1} s; statuses {:?}",
        errors.len(),
        len.as_secs_f64(),
        statuses
            .iter()
            .map(|s| (&s.id, s.frames, s.files))
            .collect::<Vec<_>>()
    );
    let small_files = mp4_files(&small);
    assert!(small_files.len() >= 2, "{small_files:?}");
    for f in small_files.iter().chain(&mp4_files(&root.join("big"))) {
        plays_cleanly(f);
    }
    sim.shutdown().await;
}

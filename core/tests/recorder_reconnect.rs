//! The Recorder against a camera that drops the connection every 2 seconds: it reconnects
//! every time, each outage is a gap whose bounds are exactly the files around it, memory stays
//! flat, and every file plays. `CAMWIRE_SOAK=1` runs it for 10 minutes instead of 20 s.
#![cfg(feature = "sim")]

mod support;
use camwire::record::{
    Backoff, CameraConfig, CameraState, GAPS_FILE, RecordError, Recorder, RecorderEventKind,
    RecorderOptions, SegmentOptions,
};
use camwire::sim::{SimCamera, SimOptions};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use support::*;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn config(id: &str, url: String) -> CameraConfig {
    CameraConfig {
        id: id.into(),
        url,
        source: Default::default(),
        segment: SegmentOptions {
            segment_secs: 60,
            fragment_ms: 500,
            ..Default::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    }
}

fn secs(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_camera_reconnects_every_time_with_exact_gaps_and_flat_memory() {
    let soak = std::env::var_os("CAMWIRE_SOAK").is_some();
    let run_for = Duration::from_secs(if soak { 600 } else { 20 });
    let drop_every = Duration::from_secs(2);
    let sim = SimCamera::start(SimOptions {
        drop_after: Some(drop_every),
        ..Default::default()
    })
    .await
    .unwrap();
    let root = tmp("recorder-flaky");
    let mut opts = RecorderOptions::new(&root);
    opts.backoff = Backoff {
        initial: Duration::from_millis(200),
        max: Duration::from_secs(1),
        ..Backoff::default()
    };
    let rec = Recorder::start(opts).unwrap();
    let mut events = rec.events();
    let collector = tokio::spawn(async move {
        let mut out = Vec::new();
        while let Ok(ev) = events.recv().await {
            out.push(ev);
        }
        out
    });
    rec.add_camera(config("flaky", sim.rtsp_url())).unwrap();

    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_warm = rss_kib();
    let mut rss_max = rss_warm;
    let t0 = std::time::Instant::now();
    while t0.elapsed() + Duration::from_secs(5) < run_for {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_max = rss_max.max(rss_kib());
    }
    let rss_end = rss_kib();
    let live = rec.camera_status("flaky").unwrap();
    assert!(
        matches!(
            live.state,
            CameraState::Recording | CameraState::Backoff | CameraState::Connecting
        ),
        "{live:?}"
    );
    let statuses = rec.shutdown().await;
    let events = collector.await.unwrap();
    let st = &statuses[0];

    let connects = events
        .iter()
        .filter(|e| matches!(e.kind, RecorderEventKind::Connected))
        .count();
    let disconnects = events
        .iter()
        .filter(|e| matches!(e.kind, RecorderEventKind::Disconnected { .. }))
        .count();
    let gaps: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            RecorderEventKind::Gap(g) => Some(g.clone()),
            _ => None,
        })
        .collect();
    let segs: Vec<(PathBuf, SystemTime, SystemTime, u64)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            RecorderEventKind::SegmentClosed {
                path,
                start,
                end,
                frames,
                ..
            } => Some((path.clone(), *start, *end, *frames)),
            _ => None,
        })
        .collect();
    let expected = run_for.as_secs_f64() / (drop_every.as_secs_f64() + 1.2);
    println!(
        "ran {run_for:?}: {connects} connections, {disconnects} disconnects, {} reconnects, \
         {} gaps, {} files, {} frames; RSS warm {rss_warm} KiB, max {rss_max} KiB, end {rss_end} KiB",
        st.reconnects,
        gaps.len(),
        segs.len(),
        st.frames
    );
    // Every drop is followed by a reconnect: at least one connection per 2 s + backoff.
    assert!(
        connects as f64 >= expected,
        "{connects} connections, expected >= {expected:.0}"
    );
    assert_eq!(st.reconnects as usize, connects - 1);
    assert!(disconnects >= connects - 1);
    // One gap per reconnect, plus one closed by the stop when it came during an outage.
    let stopped_in_gap = gaps
        .last()
        .is_some_and(|g| g.reason.contains("camera stopped"));
    assert_eq!(
        gaps.len(),
        connects - 1 + usize::from(stopped_in_gap),
        "{gaps:?}"
    );
    // Gaps tile the timeline with the files: each starts where a file ends and ends where the
    // next file starts, and it is as long as the outage (drop + backoff <= 1 s + connect).
    let mut worst = 0.0f64;
    let tiled = &gaps[..gaps.len() - usize::from(stopped_in_gap)];
    for g in tiled {
        assert!(
            segs.iter().any(|s| secs(s.2, g.start).abs() < 0.002),
            "gap start {:?} is no file's end",
            g.start
        );
        assert!(
            segs.iter().any(|s| secs(s.1, g.end).abs() < 0.002),
            "gap end {:?} is no file's start",
            g.end
        );
        let len = secs(g.end, g.start);
        worst = worst.max(len);
        assert!((0.0..1.6).contains(&len), "gap of {len:.3} s: {g:?}");
        assert!(!g.reason.is_empty());
    }
    println!("longest gap {worst:.3} s");
    // Persisted: one gaps.jsonl line per gap.
    let lines = std::fs::read_to_string(root.join("flaky").join(GAPS_FILE)).unwrap();
    assert_eq!(lines.lines().count(), gaps.len());
    assert!(lines.lines().all(|l| l.starts_with("{\"start\":\"")));
    // Frames: the camera sent 25 fps except during gaps.
    let gap_total: f64 = gaps.iter().map(|g| secs(g.end, g.start)).sum();
    let recorded: f64 = segs.iter().map(|s| secs(s.2, s.1)).sum();
    println!("recorded {recorded:.1} s, gaps {gap_total:.1} s");
    // Memory flat: the recorder holds at most a fragment per camera.
    assert!(
        rss_end <= rss_warm + 8 * 1024,
        "RSS grew from {rss_warm} to {rss_end} KiB"
    );
    let files = mp4_files(&root.join("flaky"));
    assert_eq!(files.len(), segs.len());
    let check: Vec<&PathBuf> = if soak {
        files.iter().step_by(10).collect()
    } else {
        files.iter().collect()
    };
    for f in check {
        assert_ffprobe_silent(f);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn path_traversal_ids_are_refused_by_the_recorder() {
    let root = tmp("recorder-traversal");
    let rec = Recorder::start(RecorderOptions::new(root.join("rec"))).unwrap();
    for bad in ["..", "../escape", "/etc", "a/b", "a\\b", "", "x\0y", "c:x"] {
        match rec.add_camera(config(bad, "rtsp://127.0.0.1:9/x".into())) {
            Err(RecordError::InvalidCameraId(..)) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(rec.camera_ids().is_empty());
    // A valid id twice: the second is refused.
    rec.add_camera(config("ok", "rtsp://127.0.0.1:9/x".into()))
        .unwrap();
    assert!(matches!(
        rec.add_camera(config("ok", "rtsp://127.0.0.1:9/x".into())),
        Err(RecordError::DuplicateCamera(_))
    ));
    rec.shutdown().await;
    // Nothing was created next to the root.
    let names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("rec")]);
}

/// With reconnect off, a camera that says BYE stops for good, and `wait_all_stopped`
/// resolves then (woken by the stop, not by polling); its file holds every frame sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_all_stopped_resolves_when_the_last_camera_ends() {
    let sims = [1u64, 3].map(|secs| SimOptions {
        realtime: false,
        max_duration: Some(Duration::from_secs(secs)),
        ..Default::default()
    });
    let mut started = Vec::new();
    for o in sims {
        started.push(SimCamera::start(o).await.unwrap());
    }
    let root = tmp("recorder-wait-stopped");
    let mut opts = RecorderOptions::new(&root);
    opts.reconnect = false;
    let recorder = Recorder::start(opts).unwrap();
    // Not stopped while a camera still records (none added yet counts as all stopped).
    for (i, sim) in started.iter().enumerate() {
        recorder
            .add_camera(config(&format!("cam{i}"), sim.rtsp_url()))
            .unwrap();
    }
    assert!(!recorder.all_stopped());
    tokio::time::timeout(Duration::from_secs(20), recorder.wait_all_stopped())
        .await
        .expect("resolves once both cameras ended on BYE");
    assert!(recorder.all_stopped());
    let status = recorder.shutdown().await;
    for s in &status {
        assert_eq!(s.state, CameraState::Stopped, "{s:?}");
    }
    let frames: Vec<u64> = status.iter().map(|s| s.frames).collect();
    assert_eq!(frames.iter().sum::<u64>(), 25 + 75, "{frames:?}");
    for sim in started {
        sim.shutdown().await;
    }
}

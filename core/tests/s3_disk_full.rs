//! The local disk fills while the store is down: recording pauses (nothing unshipped may be
//! deleted to make room), the store comes back, the backlog drains, confirmed local copies
//! are deleted (`local_retain` 0), space returns and recording resumes. Every segment ever
//! closed is in the bucket exactly once with the bytes the journal names, and every object
//! plays. The recording root is a 768 kB tmpfs; needs root for `mount -t tmpfs` (prints a note
//! and passes when mounting is not possible, like recorder_disk_full.rs).
#![cfg(all(feature = "s3", feature = "sim"))]

#[path = "support/s3.rs"]
mod s3_support;
mod support;

use camwire::record::upload::{JOURNAL_FILE, UploadOptions};
use camwire::record::{
    CameraConfig, CameraState, Recorder, RecorderEventKind, RecorderOptions, SegmentOptions,
};
use camwire::sim::{SimCamera, SimOptions};
use s3_support::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;
use support::*;

fn segments(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for day in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(day.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".mp4") {
                out.insert(format!("{}/{name}", day.file_name().to_string_lossy()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_during_a_backlog_pauses_then_drains_and_resumes_losing_nothing() {
    let base = tmp("s3-diskfull");
    let root = base.join("rec");
    let Some(_mount) = Tmpfs::mount(&root, "768k") else {
        return;
    };
    let mut server = Server::start(&base.join("s3"));
    server.kill(); // down from the start: everything closed is backlog
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();

    let mut up = UploadOptions::new(server.settings(&format!("s3://{BUCKET}/site")));
    up.local_retain = Some(Duration::ZERO);
    up.rescan_interval = Duration::from_secs(1);
    up.retry_initial = Duration::from_millis(200);
    up.retry_max = Duration::from_secs(1);
    let mut opts = RecorderOptions::new(&root);
    opts.disk_retry = Duration::from_secs(1);
    opts.upload = Some(up);
    let rec = Recorder::start(opts).unwrap();
    let mut events = rec.events();
    let collector = tokio::spawn(async move {
        let mut out = Vec::new();
        while let Ok(ev) = events.recv().await {
            out.push(ev);
        }
        out
    });
    rec.add_camera(CameraConfig {
        id: "cam".into(),
        url: sim.rtsp_url(),
        source: Default::default(),
        segment: SegmentOptions {
            segment_secs: 2,
            fragment_ms: 500,
            ..Default::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    })
    .unwrap();

    // 768 kB at the sim's ~300 kbit/s: full in about 20 s.
    let paused = wait_for(Duration::from_secs(90), || {
        rec.camera_status("cam")
            .is_some_and(|s| s.state == CameraState::PausedDiskFull)
    })
    .await;
    assert!(paused, "{:?}", rec.camera_status("cam"));
    let backlog = rec.upload_status().unwrap();
    let during = segments(&root.join("cam"));
    assert!(
        backlog.pending_files >= 2 && during.len() >= 3,
        "{backlog:?} {during:?}"
    );
    let frames_paused = rec.camera_status("cam").unwrap().frames;

    // The store returns: the backlog drains, the confirmed copies go, recording resumes.
    server.restart();
    let resumed = wait_for(Duration::from_secs(60), || {
        rec.camera_status("cam")
            .is_some_and(|s| s.state == CameraState::Recording && s.frames > frames_paused + 75)
    })
    .await;
    assert!(
        resumed,
        "{:?} {:?}",
        rec.camera_status("cam"),
        rec.upload_status()
    );
    let (_, left) = rec.shutdown_with_upload_status().await;
    let left = left.unwrap();
    assert_eq!(left.pending_files, 0, "{left:?}");
    let deleted = left.cameras["cam"].deleted_local;
    assert!(deleted >= 2, "{left:?}");
    let events = collector.await.unwrap();
    assert!(
        events.iter().any(|e| matches!(&e.kind,
            RecorderEventKind::Error { message } if message.contains("disk full"))),
        "no disk-full event"
    );

    // Exactly once: the journal names each segment once; the bucket holds exactly those,
    // with the journal's SHA-256; everything seen locally during the pause is among them.
    let journal = std::fs::read_to_string(root.join("cam").join(JOURNAL_FILE)).unwrap();
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    for line in journal.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = v["file"].as_str().unwrap().to_string();
        let sha = v["sha256"].as_str().unwrap().to_string();
        assert!(named.insert(file.clone(), sha).is_none(), "{file} twice");
    }
    let stored = segments(&server.data.join(BUCKET).join("site").join("cam"));
    assert_eq!(
        stored,
        named.keys().cloned().collect::<BTreeSet<_>>(),
        "bucket vs journal"
    );
    assert!(
        during.is_subset(&stored),
        "lost: {:?}",
        during.difference(&stored)
    );
    assert!(
        segments(&root.join("cam")).is_subset(&stored),
        "a local segment not shipped"
    );
    for (file, sha) in &named {
        let obj = server.object_file(&format!("site/cam/{file}"));
        let bytes = std::fs::read(&obj).unwrap();
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(&got, sha, "{file}");
        assert_ffprobe_silent(&obj);
    }
    println!(
        "{} segments shipped, {} local copies deleted, {} during the pause",
        named.len(),
        deleted,
        during.len()
    );
    sim.shutdown().await;
}

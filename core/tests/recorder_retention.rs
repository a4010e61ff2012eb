//! Retention: oldest first, by age and bytes, per camera and in total; never a held or fresh
//! file; empty old date directories go. Then the Recorder keeping a live camera within its
//! byte limit.
#![cfg(feature = "sim")]

mod support;
use camwire::filelock::FileHold;
use camwire::record::{
    CameraConfig, GAPS_FILE, Gap, Recorder, RecorderOptions, RetentionLimits, RetentionPolicy,
    SegmentOptions, apply_retention, gaps_log,
};
use camwire::sim::{SimCamera, SimOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use support::*;

const KB: u64 = 1000;
const DAY: Duration = Duration::from_secs(86_400);

/// A fake segment of `size` bytes named `<name>.mp4` in `<root>/<cam>/<day>/`, last written
/// `age` ago (retention reads names, sizes and mtimes only).
fn seg(root: &Path, cam: &str, day: &str, name: &str, size: u64, age: Duration) -> PathBuf {
    let dir = root.join(cam).join(day);
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.mp4"));
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(size).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
    p
}

fn bytes_of(dir: &Path) -> u64 {
    let mut sum = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p)
            } else if p.extension().is_some_and(|x| x == "mp4") {
                sum += e.metadata().map_or(0, |m| m.len());
            }
        }
    }
    sum
}

#[test]
fn bytes_per_camera_then_total_oldest_first() {
    let root = tmp("retention-bytes");
    // Camera a: six 100 kB files, an hour apart, in an old date directory.
    let a: Vec<PathBuf> = (0..6)
        .map(|i| {
            seg(
                &root,
                "a",
                "2024-01-01",
                &format!("20240101T0{i}0000.000Z"),
                100 * KB,
                Duration::from_secs(3600 * (10 - i)),
            )
        })
        .collect();
    // Camera b: two files older than all of a's.
    let b: Vec<PathBuf> = (0..2)
        .map(|i| {
            seg(
                &root,
                "b",
                "2023-12-31",
                &format!("20231231T0{i}0000.000Z"),
                100 * KB,
                Duration::from_secs(3600 * (20 - i)),
            )
        })
        .collect();
    let policy = RetentionPolicy {
        per_camera: RetentionLimits {
            max_age: None,
            max_bytes: Some(350 * KB),
        },
        total: RetentionLimits {
            max_age: None,
            max_bytes: Some(400 * KB),
        },
        ..Default::default()
    };
    // Gap logs: a's first gap ends before its oldest file left (03:00), its others do not;
    // b's one gap ends before its file left (01:00).
    let at = |s: &str| SystemTime::from(s.parse::<jiff::Timestamp>().unwrap());
    let gap = |cam: &str, start: &str, end: &str| {
        let g = Gap {
            start: at(start),
            end: at(end),
            reason: format!("{cam} {start}"),
        };
        gaps_log::append(&root.join(cam), &g).unwrap();
    };
    gap("a", "2024-01-01T00:30:00Z", "2024-01-01T00:31:00Z");
    gap("a", "2024-01-01T02:59:00Z", "2024-01-01T03:00:30Z");
    gap("a", "2024-01-01T04:10:00Z", "2024-01-01T04:11:00Z");
    gap("b", "2023-12-31T00:10:00Z", "2023-12-31T00:20:00Z");
    let r = apply_retention(&root, &policy, SystemTime::now()).unwrap();
    assert_eq!(r.gaps_trimmed, 2);
    let log = |cam: &str| std::fs::read_to_string(root.join(cam).join(GAPS_FILE)).unwrap();
    assert!(
        !log("a").contains("T00:30") && log("a").lines().count() == 2,
        "{}",
        log("a")
    );
    assert_eq!(log("b"), "");
    // Per camera: a keeps its 3 newest (300 kB <= 350 kB, and one more would exceed).
    // Total: 300 + 200 > 400, so b's oldest (the oldest overall) goes: 400 kB kept.
    let mut want: Vec<PathBuf> = a[..3].to_vec();
    want.push(b[0].clone());
    let mut got = r.deleted.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(r.remaining_bytes, 400 * KB);
    assert_eq!(bytes_of(&root), 400 * KB);
    assert!(a[3..].iter().chain(&b[1..]).all(|p| p.exists()));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn age_held_and_fresh_files_and_empty_dirs() {
    let root = tmp("retention-age");
    let old1 = seg(
        &root,
        "c",
        "2024-02-01",
        "20240201T000000.000Z",
        KB,
        10 * DAY,
    );
    let old2 = seg(
        &root,
        "c",
        "2024-02-02",
        "20240202T000000.000Z",
        KB,
        9 * DAY,
    );
    let young = seg(&root, "c", "2024-02-09", "20240209T000000.000Z", KB, DAY);
    // A held old file (an export reading it) and a file being written right now.
    let held = seg(
        &root,
        "d",
        "2024-02-01",
        "20240201T000000.000Z",
        KB,
        10 * DAY,
    );
    let hold = FileHold::shared(&held).unwrap();
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let fresh = seg(
        &root,
        "d",
        &today,
        "20990101T000000.000Z",
        50 * KB,
        Duration::ZERO,
    );
    std::fs::write(root.join("c").join("gaps.jsonl"), b"{}\n").unwrap();

    let policy = RetentionPolicy {
        total: RetentionLimits {
            max_age: Some(5 * DAY),
            max_bytes: Some(KB),
        },
        ..Default::default()
    };
    let r = apply_retention(&root, &policy, SystemTime::now()).unwrap();
    assert!(!old1.exists() && !old2.exists(), "{r:?}");
    // Over the total byte limit, the oldest left (young) goes, the held and the fresh stay.
    assert!(!young.exists());
    assert!(held.exists() && fresh.exists(), "{r:?}");
    assert!(
        r.skipped.contains(&held) && r.skipped.contains(&fresh),
        "{r:?}"
    );
    // Empty old date directories are gone, the camera dir and its gap log stay, and today's
    // directory stays.
    assert!(!root.join("c/2024-02-01").exists());
    assert!(!root.join("c/2024-02-09").exists());
    assert!(root.join("c/gaps.jsonl").exists());
    assert!(root.join("d").join(&today).exists());
    // Once released, the held file goes too.
    drop(hold);
    let r = apply_retention(&root, &policy, SystemTime::now()).unwrap();
    assert_eq!(r.deleted, vec![held]);
    assert!(fresh.exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_keeps_a_live_camera_within_its_byte_limit() {
    let sim = SimCamera::start(SimOptions::default()).await.unwrap();
    let root = tmp("retention-live");
    let limit = 120 * KB;
    let mut opts = RecorderOptions::new(&root);
    opts.retention.per_camera.max_bytes = Some(limit);
    opts.retention_interval = Duration::from_millis(500);
    let rec = Recorder::start(opts).unwrap();
    rec.add_camera(CameraConfig {
        id: "live".into(),
        url: sim.rtsp_url(),
        source: Default::default(),
        segment: SegmentOptions {
            // The sim's GOP is 2 s: one file per GOP, ~75 kB each.
            segment_secs: 1,
            fragment_ms: 500,
            ..Default::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    })
    .unwrap();
    let mut max_seen = 0;
    let mut biggest_file = 0;
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(14) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        max_seen = max_seen.max(bytes_of(&root));
    }
    // One explicit pass: what is left over the limit is only what it could not delete.
    let r = rec.run_retention().await.unwrap();
    rec.shutdown().await;
    for e in std::fs::read_dir(root.join("live")).unwrap().flatten() {
        for f in std::fs::read_dir(e.path()).unwrap().flatten() {
            biggest_file = biggest_file.max(f.metadata().unwrap().len());
        }
    }
    let skipped: u64 = r
        .skipped
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "limit {limit} B: after a pass {} B ({} B of it fresh or held), max seen {max_seen} B, \
         biggest file {biggest_file} B, deleted {} file(s) in the last pass",
        r.remaining_bytes,
        skipped,
        r.deleted.len()
    );
    assert!(r.remaining_bytes <= limit + skipped, "{r:?}");
    // Between passes: the limit plus the file being written and the one just closed.
    assert!(
        max_seen <= limit + 2 * biggest_file,
        "{max_seen} B seen with a {limit} B limit (files up to {biggest_file} B)"
    );
    // Something was deleted along the way, and recording went on.
    assert!(bytes_of(&root) > 0);
    sim.shutdown().await;
}

//! `ls`, `export` and `verify` straight from S3-compatible object storage, against a real S3
//! server (s3s-fs on loopback, see `support/s3.rs`). No mocks.
//!
//! Recordings are made in-process at known wall-clock times (`export_support::record`), then
//! shipped by the real [`Uploader`] (create-only PUTs with their SHA-256, the per-day
//! `gaps.jsonl`). Then, from `s3://camwire/site`:
//! - the listing equals the local one (ranges, gaps with the recorder's reason), and a window
//!   lists only the days it needs;
//! - an export of 20 s across two segments decodes to the same frames (framemd5) as the same
//!   export from the local root, byte for byte the same clip, with each source named by its
//!   object URL, size, SHA-256 and ETag, and far fewer bytes read than the camera's objects;
//! - `verify` re-reads the objects: it passes, a flipped byte in one object fails it naming
//!   that object's URL, an object deleted under an export is a typed error, and a deleted one
//!   is reported missing;
//! - wrong credentials and a missing bucket are typed errors that never show the secret.
#![cfg(all(feature = "s3", feature = "sim"))]

mod export_support;
#[path = "support/s3.rs"]
mod s3_support;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use camwire::export::{
    ExportError, ExportOptions, FileStatus, Storage, StoreErrorKind, cameras, export,
    export_with_progress, ranges, rfc3339, verify_with_storage,
};
use export_support::*;
use s3_support::*;

const URL: &str = "s3://camwire/site";

struct Fixture {
    base: PathBuf,
    local: PathBuf,
    server: Server,
    s3: Storage,
}

/// `at(secs)` as whole days from 2025-11-23T12:00:00Z.
fn day(d: f64) -> f64 {
    d * 86_400.0
}

/// Records `cam` (60 s from 12:00:00 with a 3 s hole at 36 s, 10-s segments, and a
/// `gaps.jsonl` line for the hole) and `night` (10 s on Nov 20, 40 s across midnight
/// Nov 23/24, 10 s on Nov 26), and ships them all with the uploader.
fn fixture(name: &str) -> Fixture {
    let base = tmpdir(name);
    let local = base.join("rec");
    record_with_clock(&local, "cam", 1500, 10, |i| {
        let hole = if i >= 900 {
            Duration::from_secs(3)
        } else {
            Duration::ZERO
        };
        at(0.0) + FRAME * i as u32 + hole
    });
    let gap = serde_json::json!({
        "start": rfc3339(at(36.0)),
        "end": rfc3339(at(39.0)),
        "reason": "test outage",
    });
    std::fs::write(local.join("cam/gaps.jsonl"), format!("{gap}\n")).unwrap();
    record(&local, "night", at(day(-3.0)), 250, 10);
    record(&local, "night", at(day(0.5) - 20.0), 1000, 10);
    record(&local, "night", at(day(3.0)), 250, 10);

    let server = Server::start(&base.join("s3"));
    let gaps = server.object_file("site/cam/2025-11-23/gaps.jsonl");
    let st = ship(&local, server.settings(URL), &["cam", "night"], &[gaps]);
    let files = mp4_files(&local).len() as u64;
    let shipped: u64 = st.cameras.values().map(|c| c.uploaded_files).sum();
    assert_eq!(shipped, files, "{st:?}");
    let s3 = Storage::s3(server.settings(URL)).unwrap();
    Fixture {
        base,
        local,
        server,
        s3,
    }
}

fn s3root(s: &Storage) -> &camwire::export::S3Root {
    match s {
        Storage::S3(r) => r,
        Storage::Local(_) => unreachable!("an S3 storage"),
    }
}

fn local_bytes(dir: &Path) -> u64 {
    mp4_files(dir)
        .iter()
        .map(|f| f.metadata().unwrap().len())
        .sum()
}

#[test]
fn ls_export_and_verify_from_s3_equal_the_local_root() {
    let fx = fixture("s3-export");
    let (local, s3) = (fx.local.as_path(), &fx.s3);

    // Listing: cameras, whole history and a window, gaps with the recorder's reason.
    assert_eq!(cameras(s3).unwrap(), ["cam", "night"]);
    assert_eq!(cameras(s3).unwrap(), cameras(local).unwrap());
    let l_local = ranges(local, "cam", None, None).unwrap();
    let l_s3 = ranges(s3, "cam", None, None).unwrap();
    assert_eq!(l_s3, l_local);
    assert_eq!(l_s3.ranges.len(), 2, "{l_s3:?}");
    assert_eq!(l_s3.gaps.len(), 1, "{l_s3:?}");
    assert_eq!(l_s3.gaps[0].reason.as_deref(), Some("test outage"));
    let w = (Some(at(5.0)), Some(at(50.0)));
    assert_eq!(
        ranges(s3, "cam", w.0, w.1).unwrap(),
        ranges(local, "cam", w.0, w.1).unwrap()
    );

    // A window across midnight lists only the days it needs (not Nov 20).
    let before = s3root(s3).stats();
    let (t1, t2) = (at(day(0.5) - 5.0), at(day(0.5) + 10.0));
    let night = ranges(s3, "night", Some(t1), Some(t2)).unwrap();
    let lists = s3root(s3).stats().lists - before.lists;
    assert_eq!(night, ranges(local, "night", Some(t1), Some(t2)).unwrap());
    assert_eq!(night.ranges.len(), 1, "{night:?}");
    // The days (1), Nov 23 and Nov 24, and Nov 26 for a file starting after the window.
    assert_eq!(lists, 4, "listing requests for one window");

    // Export 20 s across two segments from both roots.
    let out = fx.base.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = ExportOptions::default();
    let a = export(local, "cam", at(5.0), at(25.0), &out.join("local.mp4"), &o).unwrap();
    let before = s3root(s3).stats();
    let b = export(s3, "cam", at(5.0), at(25.0), &out.join("s3.mp4"), &o).unwrap();
    let read = s3root(s3).stats();
    let (gets, got) = (read.gets - before.gets, read.bytes - before.bytes);
    let fm_local = framemd5(&a.output, &[]);
    let fm_s3 = framemd5(&b.output, &[]);
    assert_eq!(fm_s3.len(), 500, "20 s at 25 fps");
    assert_eq!(
        fm_s3, fm_local,
        "framemd5 of the S3 export equals the local one"
    );
    assert_decodes_cleanly(&b.output);
    let (ma, mb) = (&a.manifest, &b.manifest);
    assert_eq!(
        mb.output.sha256, ma.output.sha256,
        "the same clip, byte for byte"
    );
    assert_eq!(mb.media_sha256, ma.media_sha256);
    assert_eq!(mb.root, URL);
    assert_eq!(mb.sources.len(), ma.sources.len());
    assert!(mb.sources.len() >= 2, "{:?}", mb.sources);
    for (sa, sb) in ma.sources.iter().zip(&mb.sources) {
        assert_eq!(
            (&sb.path, sb.size, &sb.sha256),
            (&sa.path, sa.size, &sa.sha256)
        );
        assert_eq!(
            sb.url.as_deref(),
            Some(format!("{URL}/{}", sa.path).as_str())
        );
        assert!(sb.etag.as_deref().is_some_and(|e| !e.is_empty()), "{sb:?}");
        assert_eq!(sb.sha256_from.as_deref(), Some("computed-on-read"));
        assert!(!sb.growing);
        assert_eq!((&sa.url, &sa.etag, &sa.sha256_from), (&None, &None, &None));
    }
    let json = std::fs::read_to_string(&a.manifest_path).unwrap();
    assert!(
        !json.contains("\"url\"") && !json.contains("etag"),
        "local manifest as before"
    );
    // Ranged reads only: the used objects hashed once and their samples copied once, plus
    // fragment headers; not the camera's 60 s of objects, let alone the bucket.
    let used: u64 = mb.sources.iter().map(|s| s.size).sum();
    let cam_bytes = local_bytes(&local.join("cam"));
    let bucket = local_bytes(local);
    eprintln!(
        "S3 export of 20 s: {gets} GETs, {got} bytes read; used objects {used} bytes, clip {} \
         bytes, camera's objects {cam_bytes} bytes, bucket {bucket} bytes",
        mb.output.size
    );
    // The used objects (hashed), the fragments in range twice (the plan reads their moofs
    // in large forward GETs, samples included; the copy reads the samples), fragment headers
    // of the candidates (4 KiB GETs), and at most one unneeded prefetched window per object.
    assert!(
        got <= used + 2 * mb.output.size + (1 << 20),
        "{got} bytes read"
    );
    assert!(got < bucket, "{got} of the bucket's {bucket} bytes");

    // Verify re-reads the objects; the S3 clip also verifies against the local copy.
    let r = verify_with_storage(&b.output, Some(s3), &|_| {}).unwrap();
    assert!(r.ok(), "{:?}", r.problems());
    assert!(r.sources.iter().all(|s| s.status == FileStatus::Match));
    assert!(
        r.sources
            .iter()
            .all(|s| s.location.as_deref().is_some_and(|l| l.starts_with(URL))),
        "{:?}",
        r.sources
    );
    let moved = Storage::Local(fx.local.clone());
    let r = verify_with_storage(&b.output, Some(&moved), &|_| {}).unwrap();
    assert!(r.ok(), "{:?}", r.problems());

    // Across midnight: Nov 23 23:59:50 .. Nov 24 00:00:10.
    let (t1, t2) = (at(day(0.5) - 10.0), at(day(0.5) + 10.0));
    let a = export(local, "night", t1, t2, &out.join("nl.mp4"), &o).unwrap();
    let b = export(s3, "night", t1, t2, &out.join("ns.mp4"), &o).unwrap();
    assert_eq!(framemd5(&b.output, &[]), framemd5(&a.output, &[]));
    assert_eq!(b.manifest.output.sha256, a.manifest.output.sha256);
    let days: Vec<&str> = b
        .manifest
        .sources
        .iter()
        .map(|s| s.path.split('/').nth(1).unwrap())
        .collect();
    assert!(
        days.contains(&"2025-11-23") && days.contains(&"2025-11-24"),
        "{days:?}"
    );
    drop(fx.server);
    let _ = std::fs::remove_dir_all(&fx.base);
}

#[test]
fn damaged_and_missing_objects_are_named() {
    let fx = fixture("s3-damage");
    let s3 = &fx.s3;
    let out = fx.base.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = ExportOptions::default();
    let clip = out.join("clip.mp4");
    let m = export(s3, "cam", at(5.0), at(25.0), &clip, &o)
        .unwrap()
        .manifest;
    let (first, second) = (&m.sources[0], &m.sources[1]);

    // An object deleted while the export reads it: a typed error naming it.
    let victim = fx.server.object_file(&format!("site/{}", second.path));
    assert!(
        victim.exists(),
        "s3s-fs keeps objects as files: {}",
        victim.display()
    );
    let saved = std::fs::read(&victim).unwrap();
    let deleted = Cell::new(false);
    let err = export_with_progress(
        s3,
        "cam",
        at(5.0),
        at(25.0),
        &out.join("x.mp4"),
        &o,
        &|_| {
            if !deleted.replace(true) {
                std::fs::remove_file(&victim).unwrap();
            }
        },
    )
    .unwrap_err();
    match &err {
        ExportError::Store(e) => {
            assert_eq!(e.kind, StoreErrorKind::ObjectNotFound, "{err}");
            assert_eq!(e.url, format!("{URL}/{}", second.path), "{err}");
        }
        other => panic!("not a store error: {other:?}"),
    }
    assert!(!out.join("x.mp4").exists(), "nothing left at the output");

    // Verify: the deleted object is reported missing, by name; the rest still checks out.
    let r = verify_with_storage(&clip, Some(s3), &|_| {}).unwrap();
    assert_eq!(r.missing_sources(), [second.path.as_str()]);
    assert!(r.ok(), "missing is not a mismatch: {:?}", r.problems());

    // Put it back, then flip one byte in the first object: verify fails naming it.
    std::fs::write(&victim, &saved).unwrap();
    let r = verify_with_storage(&clip, Some(s3), &|_| {}).unwrap();
    assert!(r.ok(), "{:?}", r.problems());
    let damaged = fx.server.object_file(&format!("site/{}", first.path));
    flip_byte(&damaged, first.size / 2);
    let r = verify_with_storage(&clip, Some(s3), &|_| {}).unwrap();
    assert!(!r.ok());
    let url = format!("{URL}/{}", first.path);
    assert!(
        matches!(r.sources[0].status, FileStatus::HashMismatch { .. }),
        "{:?}",
        r.sources[0]
    );
    assert_eq!(r.sources[1].status, FileStatus::Match);
    let problems = r.problems();
    eprintln!("verify after a flipped byte: {problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&url) && p.contains("SHA-256")),
        "{problems:?}"
    );
    // The local copy is intact: the same clip verifies against it.
    let r = verify_with_storage(&clip, Some(&Storage::Local(fx.local.clone())), &|_| {}).unwrap();
    assert!(r.ok(), "{:?}", r.problems());
    drop(fx.server);
    let _ = std::fs::remove_dir_all(&fx.base);
}

#[test]
fn wrong_credentials_and_missing_bucket_are_typed_and_redacted() {
    let base = tmpdir("s3-export-errors");
    let server = Server::start(&base.join("s3"));
    let mut bad = server.settings(URL);
    bad.secret_access_key = Some("not-the-secret/xyz".into());
    let s = Storage::s3(bad).unwrap();
    let dbg = format!("{s:?}");
    assert!(
        !dbg.contains("not-the-secret") && !dbg.contains(KEY),
        "{dbg}"
    );
    let e = ranges(&s, "cam", None, None).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(!text.contains("not-the-secret"), "{text}");
    assert!(
        matches!(&e, ExportError::Store(x) if x.kind == StoreErrorKind::CredentialsRefused),
        "{e:?}"
    );

    let s = Storage::s3(server.settings("s3://no-such-bucket/site")).unwrap();
    let e = cameras(&s).unwrap_err();
    assert!(
        matches!(&e, ExportError::Store(x) if x.kind == StoreErrorKind::BucketNotFound),
        "{e:?}"
    );
    assert!(!format!("{e}").contains(SECRET));

    let s = Storage::s3(server.settings(URL)).unwrap();
    assert!(matches!(
        ranges(&s, "nobody", None, None),
        Err(ExportError::UnknownCamera { .. })
    ));
    let e = export(
        &s,
        "../x",
        SystemTime::UNIX_EPOCH,
        at(0.0),
        &base.join("o.mp4"),
        &ExportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ExportError::InvalidCameraId { .. }), "{e:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&base);
}

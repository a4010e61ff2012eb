//! Export from S3 keeps the local export's memory bound (core/tests/export_memory.rs): peak
//! heap during an export of 9.5 minutes from `s3://` is measured against one of 20 seconds,
//! with a counting global allocator (which also counts the S3 client's threads).
//!
//! The S3 part of the bound: a reader holds at most two windows of 1 MiB (the one being read
//! and the one being prefetched, `camwire::export::s3::MAX_WINDOW`), whatever the object's
//! size, plus the HTTP client's own buffers; the rest is the local bound (copy and write
//! buffers, one `moof`, < 64 bytes per frame of sample table).
#![cfg(all(feature = "s3", feature = "sim"))]

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
mod export_support;
#[path = "support/s3.rs"]
mod s3_support;

use camwire::export::{ExportOptions, Storage, export};
use counting_alloc::peak_during;
use export_support::*;
use s3_support::*;

#[test]
fn s3_export_peak_heap_is_flat_in_clip_length() {
    let base = tmpdir("s3-exportmem");
    let root = base.join("rec");
    record(&root, "cam", at(0.0), 25 * 600, 60); // 10 minutes, ~22 MB
    let server = Server::start(&base.join("s3"));
    let url = "s3://camwire/mem";
    ship(&root, server.settings(url), &["cam"], &[]);
    let s3 = Storage::s3(server.settings(url)).unwrap();
    let out = base.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = ExportOptions::default();
    // Once first, so that the read runtime and the connection pool exist before measuring.
    export(&s3, "cam", at(100.0), at(101.0), &out.join("warm.mp4"), &o).expect("warm-up");
    let mut sizes = Vec::new();
    let short = peak_during(|| {
        let s = export(&s3, "cam", at(10.0), at(30.0), &out.join("short.mp4"), &o).expect("short");
        sizes.push(s.manifest.output.size);
    });
    let t0 = std::time::Instant::now();
    let long = peak_during(|| {
        let s = export(&s3, "cam", at(10.0), at(580.0), &out.join("long.mp4"), &o).expect("long");
        sizes.push(s.manifest.output.size);
    });
    let took = t0.elapsed();
    let t0 = std::time::Instant::now();
    export(
        &root,
        "cam",
        at(10.0),
        at(580.0),
        &out.join("local.mp4"),
        &o,
    )
    .expect("local");
    eprintln!(
        "9.5 min export: from s3 {took:?}, from the local root {:?}",
        t0.elapsed()
    );
    eprintln!(
        "from s3: short clip {} bytes: peak heap {short} B; long clip {} bytes: peak heap {long} B",
        sizes[0], sizes[1]
    );
    assert!(sizes[1] > 20 * sizes[0] / 2, "{sizes:?}");
    // As locally: 13 750 more frames may cost < 64 B each; nothing proportional to the
    // 20 MB more of sample bytes. The long export reads whole 1-MiB windows where the short
    // one's objects never grew that far: 2 windows more at most.
    let frames_more = 25 * 550;
    assert!(
        long <= short + 64 * frames_more + (2 << 20),
        "peak heap grew from {short} to {long} bytes"
    );
    assert!(long < 6 << 20, "peak heap {long} bytes");
    assert_decodes_cleanly(&out.join("long.mp4"));
    assert_eq!(
        framemd5(&out.join("long.mp4"), &[]).len(),
        25 * 570,
        "every frame of 9.5 minutes"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&base);
}

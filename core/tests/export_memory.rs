//! Export memory does not grow with the clip's bytes: peak heap during an export of 9.5
//! minutes is measured against one of 20 seconds with a counting global allocator.
//!
//! The bound: a fixed part (copy buffer 256 KiB + write buffer 256 KiB + one `moof`) plus
//! the sample table, 16 bytes per frame in the plan (up to twice while its vector grows)
//! and ~8 in the `moov` it becomes: under 64 bytes per frame, whatever the bitrate.
#![cfg(feature = "sim")]

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
mod export_support;

use camwire::export::{ExportOptions, export};
use counting_alloc::peak_during;
use export_support::*;

#[test]
fn export_peak_heap_is_flat_in_clip_length() {
    let root = tmpdir("exportmem");
    record(&root, "cam", at(0.0), 25 * 600, 60); // 10 minutes, ~22 MB
    let out = tmpdir("exportmem-out");
    let o = ExportOptions::default();
    let mut sizes = Vec::new();
    let short = peak_during(|| {
        let s =
            export(&root, "cam", at(10.0), at(30.0), &out.join("short.mp4"), &o).expect("short");
        sizes.push(s.manifest.output.size);
    });
    let long = peak_during(|| {
        let s = export(&root, "cam", at(10.0), at(580.0), &out.join("long.mp4"), &o).expect("long");
        sizes.push(s.manifest.output.size);
    });
    eprintln!(
        "short clip {} bytes: peak heap {short} B; long clip {} bytes: peak heap {long} B",
        sizes[0], sizes[1]
    );
    assert!(sizes[1] > 20 * sizes[0] / 2, "{sizes:?}");
    // 13 750 more frames may cost < 64 B each (the sample table); nothing proportional to
    // the 20 MB more of sample bytes.
    let frames_more = 25 * 550;
    assert!(
        long <= short + 64 * frames_more,
        "peak heap grew from {short} to {long} bytes"
    );
    assert!(long < 2 << 20, "peak heap {long} bytes");
    assert_decodes_cleanly(&out.join("long.mp4"));
}

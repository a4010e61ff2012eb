//! `export_with_progress` and `verify_with_progress`: the reports a progress bar draws from
//! (monotonic, never past the total, ending at it) and the same result as without them.
#![cfg(feature = "sim")]

mod export_support;

use std::cell::RefCell;

use camwire::export::{
    ExportOptions, Progress, export, export_with_progress, verify_with_progress, verify_with_root,
};
use export_support::*;

/// `dense`: every byte counted in the total was read (so reports come about once per MiB).
fn check_reports(seen: &[Progress], at_least: u64, dense: bool, what: &str) {
    let first = seen.first().expect("a report at the start");
    let last = seen.last().expect("a report at the end");
    assert_eq!(first.done, 0, "{what}: {seen:?}");
    assert!(
        seen.windows(2)
            .all(|w| w[0].done <= w[1].done && w[0].total == w[1].total),
        "{what}: not monotonic: {seen:?}"
    );
    assert!(
        seen.iter().all(|p| p.done <= p.total),
        "{what}: past the total: {seen:?}"
    );
    assert_eq!(last.done, last.total, "{what}: does not end at the total");
    assert!(
        last.total >= at_least,
        "{what}: total {} < {at_least}",
        last.total
    );
    // About one report per MiB read (reads are at most 256 KiB), besides the first and the
    // last: a bar moves during the work, not only at its ends.
    let between = seen.len() as u64 - 2;
    assert!(
        !dense || (between >= last.total / (5 << 18) && between >= 3),
        "{what}: {between} reports between start and end for {} bytes",
        last.total
    );
}

#[test]
fn export_and_verify_report_progress_up_to_their_totals() {
    let root = tmpdir("export-progress");
    // 80 s in 8-s files: several MiB of sources and samples.
    record(&root, "cam", at(0.0), 2000, 8);
    let out = tmpdir("export-progress-out");
    let (t1, t2) = (at(2.0), at(77.0));

    let seen = RefCell::new(Vec::new());
    let clip = out.join("clip.mp4");
    let s = export_with_progress(
        &root,
        "cam",
        t1,
        t2,
        &clip,
        &ExportOptions::default(),
        &|p| seen.borrow_mut().push(p),
    )
    .expect("export");
    let sources: u64 = s.manifest.sources.iter().map(|s| s.hashed_bytes).sum();
    // Every source hashed, then the samples copied (the clip less its boxes).
    let seen = seen.into_inner();
    check_reports(&seen, sources + s.manifest.output.size / 2, true, "export");

    // The same clip as without progress.
    let plain = out.join("plain.mp4");
    let p = export(&root, "cam", t1, t2, &plain, &ExportOptions::default()).expect("export");
    assert_eq!(p.manifest.output.sha256, s.manifest.output.sha256);
    assert_eq!(p.manifest.media_sha256, s.manifest.media_sha256);

    let seen = RefCell::new(Vec::new());
    let r = verify_with_progress(&clip, None, &|p| seen.borrow_mut().push(p)).expect("verify");
    assert!(r.ok(), "{:?}", r.problems());
    let seen = seen.into_inner();
    check_reports(&seen, sources + s.manifest.output.size, true, "verify");
    assert_eq!(
        verify_with_root(&clip, None).expect("verify").problems(),
        r.problems()
    );

    // A mismatch is still a report that ends, and the same finding as without progress. The
    // sources' samples are not re-hashed once the clip's differ: the total was a bound.
    let mut bytes = std::fs::read(&clip).expect("read clip");
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    std::fs::write(&clip, bytes).expect("write clip");
    let seen = RefCell::new(Vec::new());
    let r = verify_with_progress(&clip, None, &|p| seen.borrow_mut().push(p)).expect("verify");
    assert!(!r.ok());
    check_reports(
        &seen.into_inner(),
        sources,
        false,
        "verify of a changed clip",
    );
    assert_eq!(
        verify_with_root(&clip, None).expect("verify").problems(),
        r.problems()
    );
}

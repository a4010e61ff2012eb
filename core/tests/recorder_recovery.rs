//! Crash recovery on hand-made crash leftovers: a torn last fragment is cut back to the last
//! complete one, a newer file holding only an init segment is removed, older files are left
//! alone, and the result reads cleanly in ffprobe.

mod support;
use bytes::Bytes;
use camwire::fmp4::scan_fragments;
use camwire::record::recover_camera_dir;
use camwire::record::replay::replay;
use std::path::Path;
use support::*;

#[test]
fn torn_tail_is_cut_and_init_only_file_removed() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let sdp = std::fs::read(data.join("gst_1080p_capture.sdp")).unwrap();
    let rtp = Bytes::from(std::fs::read(data.join("gst_1080p_capture.rtp")).unwrap());
    let cam = tmp("recovery-torn").join("cam");
    let day = cam.join("2025-01-01");
    std::fs::create_dir_all(&day).unwrap();
    let older = day.join("20250101T000000.000Z.mp4");
    let torn = day.join("20250101T000100.000Z.mp4");
    let empty = day.join("20250101T000200.000Z.mp4");
    replay(&sdp, rtp, &torn).unwrap();
    std::fs::copy(&torn, &older).unwrap();

    let whole = std::fs::read(&torn).unwrap();
    let scan = scan_fragments(&mut std::fs::File::open(&torn).unwrap()).unwrap();
    assert!(scan.fragments.len() >= 3);
    let last = scan.fragments.last().unwrap().clone();
    let good_len = last.offset;
    // The crash: the last fragment only half written.
    let cut = usize::try_from(last.offset + (last.end - last.offset) / 2).unwrap();
    std::fs::write(&torn, &whole[..cut]).unwrap();
    // And a newer file killed right after its init segment (plus a few bytes of a fragment).
    let init_end = usize::try_from(scan.init_end.unwrap()).unwrap();
    let mut init_only = whole[..init_end].to_vec();
    init_only.extend_from_slice(&whole[init_end..init_end + 40]);
    std::fs::write(&empty, &init_only).unwrap();

    let report = recover_camera_dir(&cam).unwrap();
    assert_eq!(report.removed, vec![empty.clone()]);
    assert_eq!(report.truncated, vec![(torn.clone(), cut as u64, good_len)]);
    assert!(!empty.exists());
    assert_eq!(std::fs::metadata(&torn).unwrap().len(), good_len);
    assert_eq!(
        std::fs::read(&older).unwrap(),
        whole,
        "an older file was touched"
    );
    let end = report.last_end_ntp.expect("end of the recovered recording");
    let prev = scan.fragments[scan.fragments.len() - 2].ntp.unwrap();
    assert!(
        end > prev,
        "end {end:x} before the last kept fragment {prev:x}"
    );
    assert_ffprobe_silent(&torn);
    // Recovering again changes nothing.
    let again = recover_camera_dir(&cam).unwrap();
    assert!(again.truncated.is_empty() && again.removed.is_empty());
}

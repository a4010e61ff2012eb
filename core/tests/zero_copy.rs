//! The hot path copies no payload byte: with a counting global allocator, replaying a real
//! capture (1080p25 x264 at 4 Mbit/s from a GStreamer RTSP server, 10 s) through the
//! depacketizer and the fMP4 writer to a file allocates far less than 0.05 heap bytes per
//! payload byte. (retina's `demuxed()` path allocates at least 1: it copies every frame.)
//!
//! The capture is loaded into one buffer first, as retina's read buffer holds received data;
//! every packet and payload is then a `Bytes` slice of it, as on the live path.

use bytes::Bytes;
use camwire::capture::Reader;
use camwire::record::{FsyncPolicy, Ingest, Naming, SegmentOptions};
use camwire::rtp::RtpPacket;
use camwire::rtsp::sdp;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarding the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(
            new_size.saturating_sub(layout.size()) as u64,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as GlobalAlloc::realloc, forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn recording_a_1080p_capture_allocates_under_0_05_bytes_per_payload_byte() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let sdp_body = std::fs::read(dir.join("gst_1080p_capture.sdp")).unwrap();
    let data = Bytes::from(std::fs::read(dir.join("gst_1080p_capture.rtp")).unwrap());
    let video = sdp::h264_section(&sdp_body).unwrap();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("zero-copy-{}.mp4", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let mut ingest = Ingest::new(
        &video,
        Naming::Fixed(out.clone()),
        SegmentOptions {
            segment_secs: u32::MAX,
            fsync: FsyncPolicy::Never,
            ..Default::default()
        },
        Default::default(),
    );
    let frames: Vec<_> = Reader::new(data).collect::<Result<_, _>>().unwrap();

    let before = ALLOCATED.load(Ordering::Relaxed);
    let mut payload = 0u64;
    for f in frames.iter().filter(|f| f.channel == 0) {
        let pkt = RtpPacket::parse(f.data.clone()).unwrap();
        payload += pkt.payload.len() as u64;
        ingest.on_rtp(pkt, 0).unwrap();
    }
    ingest.finish(0).unwrap();
    let allocated = ALLOCATED.load(Ordering::Relaxed) - before;

    let frames_written = ingest.segment_stats().frames;
    assert_eq!(
        frames_written, 250,
        "every frame of the 10 s capture is recorded"
    );
    let ratio = allocated as f64 / payload as f64;
    println!("{allocated} heap bytes allocated for {payload} payload bytes: {ratio:.5} per byte");
    assert!(
        ratio < 0.05,
        "hot path allocates {ratio:.4} bytes per payload byte"
    );
    // And the file holds every payload byte once: RTP payload minus FU-A/STAP-A headers, plus
    // length prefixes and box headers, stays within 1 % of the payload.
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(
        size.abs_diff(payload) < payload / 100,
        "file {size} vs payload {payload}"
    );
    let _ = std::fs::remove_file(&out);
}

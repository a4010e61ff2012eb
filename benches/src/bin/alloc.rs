//! Allocation accounting: heap bytes allocated per RTP payload byte, counted by a global
//! allocator, for camwire's recording path and for retina's depacketizer on the same capture.
//!
//! `alloc [CAPTURE_PREFIX]...` (default: the committed 1080p capture, the sim capture and the
//! generated x265 1080p H.265 capture, `camwire_benches::h265_capture`):
//! - `camwire depacketize`: the depacketizer alone (H.264 or H.265), access units recycled
//!   as the recorder does, construction included;
//! - `camwire Ingest -> file`: depacketizer + wall clock + segment writer into an MP4 file,
//!   as `camwire record` runs them (setup allocations excluded, as in core's zero_copy test);
//! - `retina depacketize -> sink`: retina's depacketizer (the core of its `demuxed()`
//!   stream), frames written to `io::sink()`.
//!
//! `alloc --live URL --secs S`: the whole live path, `record_camera` against a running server
//! (camwire's own RTSP client included), everything the process allocates during the
//! recording per payload byte written; and the steady state: what it allocates after the
//! first 5 s (connection, first slabs and fragment buffers) per byte the file grew meanwhile.

use bytes::Bytes;
use camwire::record::{CameraConfig, FsyncPolicy, Ingest, Naming, SegmentOptions, record_camera};
use camwire::rtp::RtpPacket;
use camwire_benches::{Capture, camwire_depacketize, h265_capture, retina_depacketize, testdata};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Counting;
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
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
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as GlobalAlloc::realloc, forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counters() -> (u64, u64) {
    (
        ALLOCATED.load(Ordering::Relaxed),
        CALLS.load(Ordering::Relaxed),
    )
}

fn row(capture: &str, path: &str, payload: u64, frames: u64, before: (u64, u64)) {
    let (bytes, calls) = counters();
    let (bytes, calls) = (bytes - before.0, calls - before.1);
    println!(
        "| {capture} | {path} | {payload} | {bytes} | {:.4} | {:.1} |",
        bytes as f64 / payload.max(1) as f64,
        calls as f64 / frames.max(1) as f64
    );
}

fn offline(prefix: &Path, tmp: &Path) -> Result<(), String> {
    let cap = Capture::load(prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
    let before = counters();
    let frames = camwire_depacketize(&cap);
    let what = if cap.is_h265() {
        "camwire H265Depacketizer (recycled)"
    } else {
        "camwire H264Depacketizer (recycled)"
    };
    row(&cap.name, what, cap.payload_bytes, frames, before);

    let out = tmp.join(format!("alloc-{}-{}.mp4", cap.name, std::process::id()));
    let mut ingest = Ingest::new(
        &cap.video,
        Naming::Fixed(out.clone()),
        SegmentOptions {
            segment_secs: u32::MAX,
            fsync: FsyncPolicy::Never,
            ..Default::default()
        },
        Default::default(),
    );
    let packets: Vec<Bytes> = cap.packets.clone();
    let before = counters();
    for raw in packets {
        if let Ok(pkt) = RtpPacket::parse(raw) {
            ingest.on_rtp(pkt, 0).map_err(|e| e.to_string())?;
        }
    }
    ingest.finish(0).map_err(|e| e.to_string())?;
    let frames = ingest.segment_stats().frames;
    row(
        &cap.name,
        "camwire Ingest -> file",
        cap.payload_bytes,
        frames,
        before,
    );
    drop(ingest);
    let _ = std::fs::remove_file(&out);

    let before = counters();
    let mut sink = std::io::sink();
    let frames = retina_depacketize(&cap, |f| {
        let _ = std::io::Write::write_all(&mut sink, f.data());
    });
    row(
        &cap.name,
        "retina depacketize -> sink",
        cap.payload_bytes,
        frames,
        before,
    );
    Ok(())
}

fn live(url: &str, secs: f64, tmp: &Path) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let root = tmp.join(format!("alloc-live-{}", std::process::id()));
    let cfg = CameraConfig {
        id: "cam1".into(),
        url: url.to_string(),
        source: Default::default(),
        segment: SegmentOptions {
            segment_secs: u32::MAX,
            fsync: FsyncPolicy::Never,
            ..Default::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    };
    const WARM: f64 = 5.0;
    let before = counters();
    let (rep, warm) = rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(record_camera(cfg, root.clone(), stop_rx));
        let warm_for = WARM.min(secs / 2.0);
        tokio::time::sleep(Duration::from_secs_f64(warm_for)).await;
        let warm = (counters(), dir_bytes(&root));
        tokio::time::sleep(Duration::from_secs_f64(secs - warm_for)).await;
        let end = (counters(), dir_bytes(&root));
        let _ = stop_tx.send(true);
        (task.await, (warm, end))
    });
    let rep = rep.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    // Payload written: the file bytes less the fMP4 boxes and 4-byte prefixes (within 1 %).
    let payload = rep.segments.bytes;
    row(
        "live",
        "camwire record_camera, whole process",
        payload,
        rep.segments.frames,
        before,
    );
    let (((b0, c0), f0), ((b1, c1), f1)) = warm;
    let grown = f1.saturating_sub(f0);
    // Frames in the window, from the whole run's frame rate.
    let frames = (rep.segments.frames as f64 * (secs - WARM.min(secs / 2.0)) / secs) as u64;
    println!(
        "| live | same, steady state (after {:.0} s; per byte the file grew) | {grown} | {} | {:.4} | {:.1} |",
        WARM.min(secs / 2.0),
        b1 - b0,
        (b1 - b0) as f64 / grown.max(1) as f64,
        (c1 - c0) as f64 / frames.max(1) as f64
    );
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tmp = std::env::temp_dir();
    println!(
        "| capture | path | payload bytes | heap bytes allocated | per payload byte | allocations per frame |"
    );
    println!("|---|---|---|---|---|---|");
    if args.first().map(String::as_str) == Some("--live") {
        let url = args.get(1).ok_or("--live URL [--secs S]")?;
        let secs = match args.get(2).map(String::as_str) {
            Some("--secs") => args
                .get(3)
                .and_then(|s| s.parse().ok())
                .ok_or("--secs needs a number")?,
            _ => 20.0,
        };
        return live(url, secs, &tmp);
    }
    let prefixes: Vec<_> = if args.is_empty() {
        let mut p: Vec<_> = ["gst_1080p_capture", "sim_capture"]
            .iter()
            .map(|n| testdata(n))
            .filter(|p| p.with_extension("rtp").exists())
            .collect();
        match h265_capture() {
            Ok(h265) => p.push(h265),
            Err(e) => eprintln!("skipping the H.265 capture: {e}"),
        }
        p
    } else {
        args.iter().map(Into::into).collect()
    };
    for p in prefixes {
        offline(&p, &tmp)?;
    }
    Ok(())
}

//! The README's Rust quick start: record one camera until Ctrl-C.
//!
//! `cargo run -p camwire-cli --example record_camera -- rtsp://user:pass@192.0.2.10/stream /srv/rec`

use camwire::record::{CameraConfig, SegmentOptions, record_camera};
use camwire::rtsp::SourceOptions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: record_camera RTSP_URL [ROOT]")?;
    let root = args.next().unwrap_or_else(|| "recordings".into());

    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let cfg = CameraConfig {
        id: "gate".into(),
        url, // credentials inside the URL are taken out and never logged
        source: SourceOptions::default(),
        segment: SegmentOptions {
            segment_secs: 60,
            ..Default::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    };
    let task = tokio::spawn(record_camera(cfg, root.into(), stop_rx));
    tokio::signal::ctrl_c().await?;
    stop.send(true)?; // the open fragment is written, the file closed
    let report = task.await??;
    println!(
        "{} frames in {} files",
        report.segments.frames,
        report.files.len()
    );
    Ok(())
}

//! `camwire demo`: the built-in simulated camera, recorded for about 10 seconds, with every
//! step printed. Needs no camera and no system package.

use crate::args::Args;
use camwire::record::{CameraConfig, SegmentOptions, record_camera};
use camwire::sim::{SimCamera, SimOptions};
use std::path::PathBuf;
use std::time::Duration;

pub async fn run(args: &Args) -> Result<(), String> {
    args.only(&["out", "duration"])?;
    let root = PathBuf::from(args.opt("out").unwrap_or("camwire-demo"));
    let secs: f64 = args.num("duration")?.unwrap_or(10.0);
    let sim = SimCamera::start(SimOptions::default())
        .await
        .map_err(|e| format!("sim camera: {e}"))?;
    let url = sim.rtsp_url();
    println!("1. simulated camera serving H.264 at {url}");

    let info = camwire::stream::probe(&url, Default::default(), Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "2. probed: {} {} {}x{} @ {} fps over {}",
        info.codec,
        info.profile,
        info.width,
        info.height,
        info.fps.map_or("?".into(), |f| format!("{f:.0}")),
        info.transport
    );

    println!(
        "3. recording {secs:.0} s into {} (5 s segments, 1 s fragments) ...",
        root.display()
    );
    let cfg = CameraConfig {
        id: "sim-cam".into(),
        url,
        source: Default::default(),
        segment: SegmentOptions {
            segment_secs: 5,
            ..Default::default()
        },
        depacketizer: Default::default(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(record_camera(cfg, root.clone(), stop_rx));
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => {}
        _ = crate::shutdown_signal() => {}
    }
    let _ = stop_tx.send(true);
    let rep = task
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    println!(
        "4. recorded {} frames, {} bytes, {} lost packets, into {} file(s):",
        rep.segments.frames,
        rep.segments.bytes,
        rep.depacketizer.lost_packets,
        rep.files.len()
    );
    for f in &rep.files {
        let scan = std::fs::File::open(&f.path)
            .map_err(|e| e.to_string())
            .and_then(|mut file| {
                camwire::fmp4::scan_fragments(&mut file).map_err(|e| e.to_string())
            })
            .map_err(|e| format!("{}: {e}", f.path.display()))?;
        println!(
            "   {}  {:.2} s, {} frames, {} fragments",
            f.path.display(),
            f.duration_ticks as f64 / 90_000.0,
            f.frames,
            scan.fragments.len()
        );
    }
    if let Some(f) = rep.files.first() {
        println!(
            "5. play one: ffplay {}   (or check: ffmpeg -v error -i {} -f null -)",
            f.path.display(),
            f.path.display()
        );
    }
    sim.shutdown().await;
    if rep.segments.frames == 0 {
        return Err("the demo recorded nothing".into());
    }
    Ok(())
}

//! `camwire record`: every URL concurrently in one process, until the duration or a signal.

use crate::args::Args;
use camwire::record::{CameraConfig, SegmentOptions, record_camera};
use std::path::PathBuf;
use std::time::Duration;

pub async fn run(args: &Args) -> Result<(), String> {
    args.only(&[
        "url",
        "user",
        "password",
        "transport",
        "out",
        "camera-id",
        "duration",
        "segment-secs",
        "fragment-ms",
        "fsync",
    ])?;
    let urls = args.all("url");
    if urls.is_empty() {
        return Err("--url is required".into());
    }
    let ids = args.all("camera-id");
    if !ids.is_empty() && ids.len() != urls.len() {
        return Err(format!(
            "{} --camera-id for {} --url",
            ids.len(),
            urls.len()
        ));
    }
    let root = PathBuf::from(args.req("out")?);
    let source = crate::source_options(args)?;
    let mut segment = SegmentOptions::default();
    if let Some(n) = args.num("segment-secs")? {
        segment.segment_secs = n;
    }
    if let Some(n) = args.num("fragment-ms")? {
        segment.fragment_ms = n;
    }
    if let Some(f) = args.opt("fsync") {
        segment.fsync = f.parse()?;
    }
    let duration: Option<f64> = args.num("duration")?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let id = ids
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("cam{}", i + 1));
        camwire::record::validate_camera_id(&id).map_err(|e| e.to_string())?;
        let cfg = CameraConfig {
            id: id.clone(),
            url: url.clone(),
            source: source.clone(),
            segment: segment.clone(),
            depacketizer: Default::default(),
        };
        let task = tokio::spawn(record_camera(cfg, root.clone(), stop_rx.clone()));
        tasks.push((id, task));
    }
    let all_done = async {
        let mut out = Vec::new();
        for (id, t) in tasks {
            out.push((id, t.await));
        }
        out
    };
    tokio::pin!(all_done);
    let stopper = async {
        match duration {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(d.max(0.0))) => {}
                    _ = crate::shutdown_signal() => {}
                }
            }
            None => crate::shutdown_signal().await,
        }
    };
    let results = tokio::select! {
        r = &mut all_done => r,
        _ = stopper => {
            let _ = stop_tx.send(true);
            all_done.await
        }
    };
    let mut failed = 0;
    for (id, r) in results {
        match r {
            Ok(Ok(rep)) => {
                let s = &rep.segments;
                println!(
                    "{id}: {} frames, {} bytes in {} file(s), {} lost packets{}",
                    s.frames,
                    s.bytes,
                    s.files,
                    rep.depacketizer.lost_packets,
                    if rep.ended_by_camera {
                        ", stream ended by camera"
                    } else {
                        ""
                    }
                );
                for f in &rep.files {
                    println!("  {}", f.path.display());
                }
            }
            Ok(Err(e)) => {
                failed += 1;
                eprintln!("{id}: {e}");
            }
            Err(e) => {
                failed += 1;
                eprintln!("{id}: task failed: {e}");
            }
        }
    }
    if failed > 0 {
        Err(format!("{failed} camera(s) failed"))
    } else {
        Ok(())
    }
}

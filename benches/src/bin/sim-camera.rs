//! Starts camwire's simulated camera and prints `READY rtsp://...` (like the GStreamer server
//! script), then serves until stdin closes or the process is signalled.
//!
//! `sim-camera [--unpaced] [--secs N] [--port P]`: `--unpaced` sends as fast as the socket takes
//! (for making captures); `--secs N` ends every session with RTCP BYE after N seconds of media
//! (default: loop the clip forever).

use camwire::sim::{SimCamera, SimOptions};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

fn main() -> Result<(), String> {
    let mut opts = SimOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--unpaced" => opts.realtime = false,
            "--secs" => {
                let secs: f64 = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--secs needs a number")?;
                opts.max_duration = Some(Duration::from_secs_f64(secs));
                opts.loop_clip = false;
            }
            "--port" => {
                let port: u16 = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--port needs a number")?;
                opts.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let sim = SimCamera::start(opts).await.map_err(|e| e.to_string())?;
        println!("READY {}", sim.rtsp_url());
        // Serve until stdin reaches EOF (the harness closes it) or a signal ends the process.
        tokio::task::spawn_blocking(|| {
            let mut sink = [0u8; 64];
            while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        })
        .await
        .map_err(|e| e.to_string())?;
        sim.shutdown().await;
        Ok(())
    })
}

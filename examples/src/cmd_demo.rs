//! `camwire demo`: the built-in simulated camera, found the way a VMS finds real cameras
//! (WS-Discovery, then ONVIF GetProfiles/GetStreamUri), then recorded for about 10 seconds,
//! with every step printed. Needs no camera and no system package.

use crate::cli::DemoArgs;
use camwire::onvif::{self, ClientOptions, DiscoveredDevice, DiscoveryOptions, OnvifDevice};
use camwire::record::{CameraConfig, SegmentOptions, record_camera};
use camwire::sim::{SimCamera, SimOptions};
use std::path::PathBuf;
use std::time::Duration;

pub async fn run(args: &DemoArgs) -> Result<(), String> {
    let root: PathBuf = args.out.clone();
    let secs = args.duration;
    let sim = SimCamera::start(SimOptions::default())
        .await
        .map_err(|e| format!("sim camera: {e}"))?;
    let disc = sim
        .discovery_addr()
        .ok_or("the simulated camera has no ONVIF face")?;
    outln!(
        "1. simulated camera started: RTSP on port {}, ONVIF WS-Discovery on {disc}",
        sim.port()
    );

    let me = sim.endpoint_reference().unwrap_or_default().to_string();
    let (found, how) = find_sim(&me, &disc.to_string()).await?;
    let xaddr = found
        .xaddr
        .clone()
        .ok_or("the discovered camera gave no XAddr")?;
    outln!(
        "2. discovered by {how}: {} at {xaddr} ({})",
        crate::cmd_onvif::describe(&found),
        found.endpoint_reference
    );

    let dev = OnvifDevice::connect(&xaddr, None, ClientOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let dinfo = dev.device_information().await.map_err(|e| e.to_string())?;
    let profiles = dev.profiles().await.map_err(|e| e.to_string())?;
    let profile = profiles
        .iter()
        .find(|p| p.encoding.as_deref() == Some("H264") && p.stream_uri.is_some())
        .ok_or("the camera offers no H.264 profile with a stream URI")?;
    let url = profile
        .stream_uri
        .clone()
        .ok_or("the camera gave no stream URI")?;
    outln!(
        "3. ONVIF: {} {}, profile {} ({}); GetStreamUri -> {url}",
        dinfo.manufacturer,
        dinfo.model,
        profile.token,
        crate::cmd_onvif::profile_summary(profile)
    );

    let info = camwire::stream::probe(&url, Default::default(), Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    outln!(
        "4. probed: {} {} {}x{} @ {} fps over {}",
        info.codec,
        info.profile,
        info.width,
        info.height,
        info.fps.map_or("?".into(), |f| format!("{f:.0}")),
        info.transport
    );

    outln!(
        "5. recording {secs:.0} s into {} (5 s segments, 1 s fragments) ...",
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
        backfill: None,
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
    outln!(
        "6. recorded {} frames, {} bytes, {} lost packets, into {} file(s):",
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
        outln!(
            "   {}  {:.2} s, {} frames, {} fragments",
            f.path.display(),
            f.duration_ticks as f64 / 90_000.0,
            f.frames,
            scan.fragments.len()
        );
    }
    if let Some(f) = rep.files.first() {
        outln!(
            "7. play one: ffplay {}   (or check: ffmpeg -v error -i {} -f null -)",
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

/// Finds the sim as a VMS would: a short multicast probe first (works where the host routes
/// multicast, e.g. a LAN interface or a namespace with multicast on loopback), then a unicast
/// probe to its discovery port (loopback normally cannot multicast). Other cameras answering
/// the multicast probe are counted, not used.
async fn find_sim(me: &str, unicast: &str) -> Result<(DiscoveredDevice, String), String> {
    let multicast = onvif::discover(DiscoveryOptions {
        timeout: Duration::from_millis(800),
        repeats: 2,
        ..Default::default()
    })
    .await;
    match multicast {
        Ok(devs) => {
            let others = devs.iter().filter(|d| d.endpoint_reference != me).count();
            if others > 0 {
                outln!("   (multicast probe: {others} other ONVIF device(s) on this network)");
            }
            if let Some(d) = devs.into_iter().find(|d| d.endpoint_reference == me) {
                return Ok((d, "multicast probe to 239.255.255.250:3702".into()));
            }
        }
        Err(e) => log::debug!("multicast discovery unavailable: {e}"),
    }
    let devs = onvif::probe_unicast(unicast, Duration::from_secs(2))
        .await
        .map_err(|e| e.to_string())?;
    devs.into_iter()
        .find(|d| d.endpoint_reference == me)
        .map(|d| (d, format!("unicast probe to {unicast}")))
        .ok_or_else(|| "WS-Discovery: the simulated camera did not answer".to_string())
}

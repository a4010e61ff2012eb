//! `camwire capture` (SDP + interleaved packets as received) and `camwire replay` (a capture
//! back into MP4): how a camera's bug is brought home and reproduced.

use crate::cli::{CaptureArgs, ReplayArgs};
use bytes::Bytes;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub async fn run(args: &CaptureArgs) -> Result<(), String> {
    let url = &args.url;
    let prefix = &args.out;
    let duration = args.duration;
    let opts = crate::source_options(&args.login)?;
    let mut source = camwire::rtsp::Source::connect(url, opts)
        .await
        .map_err(|e| e.to_string())?;
    let sdp_path = PathBuf::from(format!("{prefix}.sdp"));
    let rtp_path = PathBuf::from(format!("{prefix}.rtp"));
    std::fs::write(&sdp_path, source.sdp()).map_err(|e| format!("{}: {e}", sdp_path.display()))?;
    let file =
        std::fs::File::create(&rtp_path).map_err(|e| format!("{}: {e}", rtp_path.display()))?;
    let mut out = BufWriter::new(file);
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(duration.max(0.0));
    let (mut packets, mut bytes, mut saw_bye) = (0u64, 0u64, false);
    let end = loop {
        let item = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break "duration reached",
            _ = crate::shutdown_signal() => break "interrupted",
            r = source.next_raw() => r.map_err(|e| e.to_string())?,
        };
        let Some((pkt, bye)) = item else {
            // After a BYE the source still hands over what the BYE overtook (UDP).
            break if saw_bye {
                "RTCP BYE"
            } else {
                "server closed the session"
            };
        };
        camwire::capture::write_frame(&mut out, pkt.channel, &pkt.data)
            .map_err(|e| format!("{}: {e}", rtp_path.display()))?;
        packets += 1;
        bytes += pkt.data.len() as u64;
        saw_bye |= bye;
    };
    out.flush()
        .map_err(|e| format!("{}: {e}", rtp_path.display()))?;
    outln!(
        "captured {packets} packets ({bytes} bytes) until {end}: {} {}",
        sdp_path.display(),
        rtp_path.display()
    );
    Ok(())
}

pub fn replay(args: &ReplayArgs) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let sdp = read(&args.sdp)?;
    let data = Bytes::from(read(&args.interleaved)?);
    let out = args.out.as_path();
    let depacketizer = camwire::rtp::DepacketizerOptions {
        loss_policy: args.loss_policy.unwrap_or_default(),
        ..Default::default()
    };
    let rep = camwire::record::replay::replay_with(&sdp, data, out, depacketizer)
        .map_err(|e| e.to_string())?;
    outln!(
        "replayed {} packets ({} bad, {} refused by the depacketizer): {} frames in {} file(s)",
        rep.video_packets,
        rep.bad_packets,
        rep.rtp_errors,
        rep.segments.frames,
        rep.files.len()
    );
    for f in &rep.files {
        outln!("  {}", f.display());
    }
    if let Some(e) = rep.capture_error {
        outln!("note: the capture ends with a torn frame ({e}); everything before it was replayed");
    }
    if rep.segments.frames == 0 {
        return Err("no frame could be replayed".into());
    }
    Ok(())
}

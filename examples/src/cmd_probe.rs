//! `camwire probe`: codec, profile, level, resolution and frame rate of a camera's stream.

use crate::cli::ProbeArgs;
use std::time::Duration;

pub async fn run(args: &ProbeArgs) -> Result<(), String> {
    let url = &args.url;
    let opts = crate::source_options(&args.login)?;
    let wait = Duration::try_from_secs_f64(args.timeout)
        .map_err(|_| "--timeout: a number of seconds".to_string())?;
    let info = camwire::stream::probe(url, opts, wait)
        .await
        .map_err(|e| e.to_string())?;
    if args.json {
        let v = serde_json::json!({
            "codec": info.codec,
            "profile": info.profile,
            "profile_idc": info.profile_idc,
            "level_idc": info.level_idc,
            "level": format!("{}.{}", info.level_idc / 10, info.level_idc % 10),
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "transport": info.transport.to_string(),
            "parameter_sets_from": if info.from_sdp { "sdp" } else { "stream" },
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    } else {
        outln!("codec:      {}", info.codec);
        outln!(
            "profile:    {} (level {}.{})",
            info.profile,
            info.level_idc / 10,
            info.level_idc % 10
        );
        outln!("resolution: {}x{}", info.width, info.height);
        match info.fps {
            Some(f) => outln!("frame rate: {f:.3}"),
            None => outln!("frame rate: not stated by the camera"),
        }
        outln!("transport:  {}", info.transport);
    }
    Ok(())
}

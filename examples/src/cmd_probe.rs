//! `camwire probe`: codec, profile, level, resolution and frame rate of a camera's stream.

use crate::args::Args;
use std::time::Duration;

pub async fn run(args: &Args) -> Result<(), String> {
    args.only(&["url", "user", "password", "transport", "json", "timeout"])?;
    let url = args.req("url")?;
    let opts = crate::source_options(args)?;
    let wait = Duration::from_secs_f64(args.num("timeout")?.unwrap_or(10.0));
    let info = camwire::stream::probe(url, opts, wait)
        .await
        .map_err(|e| e.to_string())?;
    if args.switch("json") {
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

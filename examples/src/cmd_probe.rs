//! `camwire probe`: codec (H.264 or H.265), profile, level, resolution and frame rate of a
//! camera's stream.

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
            "video_codec": info.video_codec.name(),
            "profile": info.profile,
            "profile_idc": info.profile_idc,
            "level_idc": info.level_idc,
            "level": level(&info),
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
        outln!("codec:      {} ({})", info.codec, info.video_codec);
        outln!("profile:    {} (level {})", info.profile, level(&info));
        outln!("resolution: {}x{}", info.width, info.height);
        match info.fps {
            Some(f) => outln!("frame rate: {f:.3}"),
            None => outln!("frame rate: not stated by the camera"),
        }
        outln!("transport:  {}", info.transport);
    }
    Ok(())
}

/// The level as `major.minor`: H.264 `level_idc` 31 and H.265 `general_level_idc` 93 are
/// both `3.1`.
fn level(info: &camwire::stream::StreamInfo) -> String {
    let per_major = match info.video_codec {
        camwire::fmp4::VideoCodec::H264 => 10,
        camwire::fmp4::VideoCodec::H265 => 30,
    };
    let minor_step = per_major / 10;
    format!(
        "{}.{}",
        info.level_idc / per_major,
        info.level_idc % per_major / minor_step
    )
}

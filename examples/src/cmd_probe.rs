//! `camwire probe`: codec (H.264 or H.265), profile, level, resolution and frame rate of a
//! camera's stream, and every track of its SDP: codec, clock rate, channels, and whether a
//! recording with the same `--audio` choice records it or skips it (and why).

use crate::cli::ProbeArgs;
use camwire::stream::TrackDescription;
use std::time::Duration;

pub async fn run(args: &ProbeArgs) -> Result<(), String> {
    let url = &args.url;
    // `--audio` (in the login flags) as `record` takes it.
    let opts = crate::source_options(&args.login)?;
    let wait = Duration::try_from_secs_f64(args.timeout)
        .map_err(|_| "--timeout: a number of seconds".to_string())?;
    let info = camwire::stream::probe(url, opts, wait)
        .await
        .map_err(|e| e.to_string())?;
    if args.json {
        let tracks: Vec<_> = info.tracks.iter().map(track_json).collect();
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
            "tracks": tracks,
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
        outln!("tracks:");
        for t in &info.tracks {
            outln!("  {}", track_line(t));
        }
    }
    Ok(())
}

/// One line per SDP section, e.g.
/// `track 1  audio  mp4a.40.2  16000 Hz  1 ch  recorded` or
/// `-        audio  G726-32    8000 Hz   1 ch  skipped: audio codec G726-32 is not recorded`.
fn track_line(t: &TrackDescription) -> String {
    let number = t
        .track
        .map_or_else(|| "-".to_string(), |n| format!("track {n}"));
    let kind = t.kind.map_or_else(|| t.media.clone(), |k| k.to_string());
    let channels = t.channels.map_or_else(String::new, |c| format!("  {c} ch"));
    let status = match &t.skipped {
        None => "recorded".to_string(),
        Some(why) => format!("skipped: {why}"),
    };
    format!(
        "{number:<8} {kind:<6} {:<18} {} Hz{channels}  {status}",
        t.codec, t.clock_rate
    )
}

fn track_json(t: &TrackDescription) -> serde_json::Value {
    serde_json::json!({
        "track": t.track,
        "kind": t.kind.map(|k| k.to_string()),
        "media": t.media,
        "encoding": t.encoding,
        "codec": t.codec,
        "clock_rate": t.clock_rate,
        "channels": t.channels,
        "config": hex(&t.config),
        "recorded": t.skipped.is_none(),
        "skipped": t.skipped,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
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

//! `camwire recordings`: the recordings an ONVIF Profile G device holds (Recording Search:
//! FindRecordings, paged GetRecordingSearchResults, EndSearch), with tracks and time spans.

use camwire::credentials::Credentials;
use camwire::onvif::OnvifDevice;
use camwire::onvif::search::{MediaAttributes, RecordingInformation, Span, present_ranges};
use clap::Args;
use serde_json::{Value, json};

/// Shown after `camwire recordings --help`.
pub const RECORDINGS_HELP: &str = "\
Examples:
  camwire recordings --xaddr 10.0.0.5 --user admin --password PW
  camwire recordings --xaddr http://10.0.0.5/onvif/device_service --json
  camwire recordings --xaddr 10.0.0.5 --start 2025-11-23T00:00:00Z --end 2025-11-24T00:00:00Z
      also lists, per recording, the ranges with data and the gaps between them
      (FindEvents on RecordingHistory/Track/State)

Lists every recording the device's Recording Search service returns (the device is asked
for all of them: some NVRs ignore search filters), each with its token (what
`camwire fetch --xaddr X --recording TOKEN` takes), earliest and latest times, status and
tracks, and what the tracks hold (GetMediaAttributes: codec, size, frame rate, bit rate; at
--start, else at each recording's latest time; left out when the device does not answer
it). A recording dated before 2000, or with times that have no UTC offset, is marked
'suspect time': the device clock was probably not set when it recorded.";

/// `camwire recordings` options.
#[derive(Debug, Args)]
pub struct RecordingsArgs {
    /// ONVIF device address (host, host:port or the device service URL)
    #[arg(long, value_name = "X")]
    pub xaddr: String,
    /// Device account
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The account's password (never printed)
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// With --end: also list the ranges with data and the gaps from T on (FindEvents)
    #[arg(long, value_name = "T", requires = "end")]
    pub start: Option<String>,
    /// End of the window for ranges and gaps
    #[arg(long, value_name = "T", requires = "start")]
    pub end: Option<String>,
    /// Print one JSON document (recordings[] with tracks[], and ranges[]/gaps[] with --start)
    #[arg(long)]
    pub json: bool,
}

fn time(t: Option<jiff::Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_string()))
}

fn recording_json(r: &RecordingInformation) -> Value {
    json!({
        "token": r.token,
        "source_id": r.source_id,
        "source_name": r.source_name,
        "location": r.location,
        "earliest": time(r.earliest),
        "latest": time(r.latest),
        "status": r.status,
        "suspect_time": r.suspect_time,
        "tracks": r.tracks.iter().map(|t| json!({
            "token": t.token,
            "type": t.kind,
            "data_from": time(t.data_from),
            "data_to": time(t.data_to),
        })).collect::<Vec<_>>(),
    })
}

fn media_json(m: &MediaAttributes) -> Value {
    Value::Array(
        m.tracks
            .iter()
            .map(|t| {
                let mut v = json!({"track": t.track.token, "type": t.track.kind});
                if let Some(a) = &t.video {
                    v["encoding"] = json!(a.encoding);
                    v["width"] = json!(a.width);
                    v["height"] = json!(a.height);
                    v["framerate"] = json!(a.framerate);
                    v["bitrate_kbps"] = json!(a.bitrate_kbps);
                }
                if let Some(a) = &t.audio {
                    v["encoding"] = json!(a.encoding);
                    v["sample_rate_khz"] = json!(a.sample_rate_khz);
                    v["bitrate_kbps"] = json!(a.bitrate_kbps);
                }
                v
            })
            .collect(),
    )
}

/// One line per track of `m`: `video H264 640x360 25 fps 1200 kbit/s`.
fn media_lines(m: &MediaAttributes) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    m.tracks
        .iter()
        .filter_map(|t| {
            if let Some(v) = &t.video {
                Some(format!(
                    "  media {} video {} {}x{} {} fps {} kbit/s",
                    t.track.token,
                    v.encoding,
                    opt(v.width.map(|x| x.to_string())),
                    opt(v.height.map(|x| x.to_string())),
                    opt(v.framerate.map(|x| x.to_string())),
                    opt(v.bitrate_kbps.map(|x| x.to_string()))
                ))
            } else {
                t.audio.as_ref().map(|a| {
                    format!(
                        "  media {} audio {} {} kHz {} kbit/s",
                        t.track.token,
                        a.encoding,
                        opt(a.sample_rate_khz.map(|x| x.to_string())),
                        opt(a.bitrate_kbps.map(|x| x.to_string()))
                    )
                })
            }
        })
        .collect()
}

/// GetMediaAttributes of `r` at `at` (else its latest time), best effort: the operation is
/// optional for devices, and a refusal must not hide the recordings.
async fn media_of(
    dev: &OnvifDevice,
    r: &RecordingInformation,
    at: Option<jiff::Timestamp>,
) -> Option<MediaAttributes> {
    let at = at.or(r.latest)?;
    match dev.media_attributes(&[r.token.as_str()], at).await {
        Ok(list) => list.into_iter().find(|m| m.recording == r.token),
        Err(e) => {
            log::debug!("GetMediaAttributes of {}: {e}", r.token);
            None
        }
    }
}

/// Runs `camwire recordings`.
pub async fn run(args: &RecordingsArgs) -> Result<(), String> {
    let credentials = match (&args.user, &args.password) {
        (None, None) => None,
        (u, p) => Some(Credentials::new(
            u.clone().unwrap_or_default(),
            p.clone().unwrap_or_default(),
        )),
    };
    let dev = OnvifDevice::connect(&args.xaddr, credentials, Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let recs = dev.recordings().await.map_err(|e| e.to_string())?;
    let window = match (&args.start, &args.end) {
        (Some(s), Some(e)) => {
            let t = |v: &str, n: &str| {
                v.parse::<jiff::Timestamp>()
                    .map_err(|e| format!("--{n}: not an RFC 3339 time {v:?}: {e}"))
            };
            let (start, end) = (t(s, "start")?, t(e, "end")?);
            if start >= end {
                return Err(format!("--start {start} is not before --end {end}"));
            }
            Some((start, end))
        }
        _ => None,
    };
    let mut media: Vec<Option<MediaAttributes>> = Vec::new();
    for r in &recs {
        media.push(media_of(&dev, r, window.map(|(s, _)| s)).await);
    }
    // Ranges with data and gaps per recording, inside the window (FindEvents).
    let mut spans: Vec<(Vec<Span>, Vec<Span>)> = Vec::new();
    if let Some((start, end)) = window {
        for r in &recs {
            let events = dev
                .data_presence(&r.token, start, end)
                .await
                .map_err(|e| e.to_string())?;
            spans.push(present_ranges(&events, start, end));
        }
    }
    let span_json = |v: &[Span]| -> Vec<Value> {
        v.iter()
            .map(|(a, b)| json!({"start": a.to_string(), "end": b.to_string()}))
            .collect()
    };
    if args.json {
        let list: Vec<Value> = recs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut v = recording_json(r);
                if let Some(Some(m)) = media.get(i) {
                    v["media"] = media_json(m);
                }
                if let Some((ranges, gaps)) = spans.get(i) {
                    v["ranges"] = Value::Array(span_json(ranges));
                    v["gaps"] = Value::Array(span_json(gaps));
                }
                v
            })
            .collect();
        let doc = json!({
            "device": dev.xaddr().as_str(),
            "recordings": list,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    outln!("{} recordings on {}", recs.len(), dev.xaddr());
    for (i, r) in recs.iter().enumerate() {
        let show = |t: Option<jiff::Timestamp>| t.map_or("?".to_string(), |t| t.to_string());
        outln!(
            "{}  {} .. {}  {}{}  source {} {:?}",
            r.token,
            show(r.earliest),
            show(r.latest),
            r.status,
            if r.suspect_time {
                " (suspect time)"
            } else {
                ""
            },
            r.source_id,
            r.source_name
        );
        for t in &r.tracks {
            outln!(
                "  track {} {}  {} .. {}",
                t.token,
                t.kind,
                show(t.data_from),
                show(t.data_to)
            );
        }
        if let Some(Some(m)) = media.get(i) {
            for line in media_lines(m) {
                outln!("{line}");
            }
        }
        if let Some((ranges, gaps)) = spans.get(i) {
            for (a, b) in ranges {
                outln!("  data {a} .. {b}");
            }
            for (a, b) in gaps {
                outln!("  gap  {a} .. {b}");
            }
        }
    }
    Ok(())
}

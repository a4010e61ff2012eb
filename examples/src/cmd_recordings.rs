//! `camwire recordings`: the recordings an ONVIF Profile G device holds (Recording Search:
//! FindRecordings, paged GetRecordingSearchResults, EndSearch), with tracks and time spans.

use camwire::credentials::Credentials;
use camwire::onvif::OnvifDevice;
use camwire::onvif::search::RecordingInformation;
use clap::Args;
use serde_json::{Value, json};

/// Shown after `camwire recordings --help`.
pub const RECORDINGS_HELP: &str = "\
Examples:
  camwire recordings --xaddr 10.0.0.5 --user admin --password PW
  camwire recordings --xaddr http://10.0.0.5/onvif/device_service --json

Lists every recording the device's Recording Search service returns (the device is asked
for all of them: some NVRs ignore search filters), each with its token (what
`camwire fetch --xaddr X --recording TOKEN` takes), earliest and latest times, status and
tracks. A recording dated before 2000, or with times that have no UTC offset, is marked
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
    /// Print one JSON document (recordings[] with tracks[])
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
    if args.json {
        let doc = json!({
            "device": dev.xaddr().as_str(),
            "recordings": recs.iter().map(recording_json).collect::<Vec<_>>(),
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    outln!("{} recordings on {}", recs.len(), dev.xaddr());
    for r in &recs {
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
    }
    Ok(())
}

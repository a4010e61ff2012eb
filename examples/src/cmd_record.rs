//! `camwire record`: every camera in one process on the [`Recorder`], which reconnects with
//! backoff, reports gaps, pauses a camera while its disk is full and applies retention. Runs
//! until `--duration`, Ctrl-C/SIGTERM, or (with `--reconnect no`) until every stream ended.
//!
//! Cameras come from `--url` flags and/or a TOML `--config` file:
//!
//! ```toml
//! # optional defaults for every camera (flags on the command line win)
//! out = "/srv/rec"
//! user = "admin"
//! password = "secret"
//! transport = "tcp"
//! audio = "first"         # no | first | all: audio tracks recorded beside the video
//! segment_secs = 60
//! fragment_ms = 1000
//! fsync = "fragment"      # fragment | Ns | never
//! retain_days = 30        # total, every camera
//! retain_gb = 500         # total, every camera
//! reconnect = true
//! upload = "s3://bucket/prefix"  # closed segments to S3 (keys etc. from AWS_* variables)
//! local_retain_hours = 24        # with upload: local copies kept this long once confirmed
//! loss_policy = "keep"           # keep | skip-to-keyframe (after a lost packet)
//! backfill = true                # after an outage, fetch the gap from the camera's own
//!                                # recording (ONVIF Profile G at the RTSP URL's host)
//!
//! [[camera]]
//! id = "gate"
//! url = "rtsp://10.0.0.5/stream1"
//! user = "viewer"          # optional: overrides the default
//! password = "pw"
//! transport = "udp"
//! audio = "no"             # optional: this camera's own
//! retain_days = 7          # optional: this camera's own limits
//! retain_gb = 50
//! loss_policy = "skip-to-keyframe"  # optional: this camera's own
//! backfill = true          # optional: this camera's own (default: the file's)
//! onvif = "10.0.0.5:8000"  # ONVIF device address for back-fill [default: the URL's host]
//! backfill_vendor = "dahua"  # or back-fill by the vendor's playback URL (hikvision, dahua,
//! channel = 1                # uniview), channel and, for dahua, the device's time zone
//! device_tz = "+07:00"
//! ```

use crate::cli::RecordArgs;
use camwire::Credentials;
use camwire::record::{
    BackfillOptions, BackfillSource, CameraConfig, CameraState, Recorder, RecorderEventKind,
    RecorderOptions, RetentionLimits, SegmentOptions,
};
use camwire::rtp::{DepacketizerOptions, LossPolicy};
use camwire::rtsp::SourceOptions;
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

const GB: f64 = 1e9;
/// Closed files remembered per camera for the summary: a 24/7 run must not grow without bound.
const FILES_IN_SUMMARY: usize = 100;
const DAY_SECS: f64 = 86_400.0;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    out: Option<PathBuf>,
    user: Option<String>,
    password: Option<String>,
    transport: Option<String>,
    audio: Option<String>,
    segment_secs: Option<u32>,
    fragment_ms: Option<u32>,
    fsync: Option<String>,
    retain_days: Option<f64>,
    retain_gb: Option<f64>,
    reconnect: Option<bool>,
    upload: Option<String>,
    local_retain_hours: Option<f64>,
    loss_policy: Option<String>,
    backfill: Option<bool>,
    #[serde(default)]
    camera: Vec<CameraEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraEntry {
    id: String,
    url: String,
    user: Option<String>,
    password: Option<String>,
    transport: Option<String>,
    audio: Option<String>,
    retain_days: Option<f64>,
    retain_gb: Option<f64>,
    loss_policy: Option<String>,
    backfill: Option<bool>,
    onvif: Option<String>,
    backfill_vendor: Option<String>,
    channel: Option<u32>,
    device_tz: Option<String>,
}

/// Back-fill of a camera at `url`: by the vendor's playback URL when `vendor` is given,
/// else from the ONVIF device at `onvif` (default: the URL's host, port 80).
fn backfill_options(
    url: &str,
    onvif: Option<&str>,
    vendor: Option<&str>,
    channel: Option<u32>,
    device_tz: Option<&str>,
) -> Result<BackfillOptions, String> {
    let source = match vendor {
        Some(v) => {
            let vendor: camwire::replay::Vendor = v.parse().map_err(|e| format!("{e}"))?;
            let device_tz = device_tz
                .map(|z| {
                    camwire::replay::vendor::parse_time_zone(z)
                        .ok_or_else(|| format!("device_tz {z:?}: not +HH:MM, UTC or an IANA zone"))
                })
                .transpose()?;
            if vendor.uses_local_time() && device_tz.is_none() {
                return Err(format!(
                    "backfill_vendor {v:?} needs device_tz (its URLs carry local time)"
                ));
            }
            BackfillSource::Vendor {
                url: url.to_string(),
                playback: camwire::replay::VendorPlayback {
                    vendor,
                    channel: channel.unwrap_or(1),
                    device_tz,
                },
            }
        }
        None => {
            let xaddr = match onvif {
                Some(x) => x.to_string(),
                None => camwire::rtsp::url::CameraUrl::parse(url)
                    .ok()
                    .and_then(|(u, _)| u.as_url().host_str().map(str::to_string))
                    .ok_or_else(|| {
                        format!(
                            "cannot take an ONVIF address from {}",
                            camwire::rtsp::url::redact(url)
                        )
                    })?,
            };
            BackfillSource::Onvif {
                xaddr,
                recording: None,
            }
        }
    };
    Ok(BackfillOptions::new(source))
}

fn days(v: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v * DAY_SECS)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{what}: must be a positive number of days"))
}

fn gigabytes(v: f64, what: &str) -> Result<u64, String> {
    if v.is_finite() && v > 0.0 {
        Ok((v * GB) as u64)
    } else {
        Err(format!("{what}: must be a positive number of GB"))
    }
}

pub async fn run(args: &RecordArgs) -> Result<(), String> {
    let file: ConfigFile = match &args.config {
        Some(path) => {
            let p = path.display();
            let text = std::fs::read_to_string(path).map_err(|e| format!("--config {p}: {e}"))?;
            // toml's messages quote the offending line; a password there is the user's own
            // file, shown only to them on their terminal.
            toml::from_str(&text).map_err(|e| format!("--config {p}: {e}"))?
        }
        None => ConfigFile::default(),
    };

    let urls = &args.url;
    if urls.is_empty() && file.camera.is_empty() {
        return Err("--url or --config with [[camera]] entries is required".into());
    }
    let ids = &args.camera_id;
    if !ids.is_empty() && ids.len() != urls.len() {
        return Err(format!(
            "{} --camera-id for {} --url",
            ids.len(),
            urls.len()
        ));
    }
    let root = match (&args.out, &file.out) {
        (Some(o), _) => o.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => return Err("--out is required (or `out` in the config)".into()),
    };

    // Defaults: flags, then the config's top level.
    let mut base = SourceOptions::default();
    let user = args.login.user.clone().or(file.user.clone());
    let password = args.login.password.clone().or(file.password.clone());
    match (&user, &password) {
        (Some(u), p) => base.credentials = Some(Credentials::new(u, p.as_deref().unwrap_or(""))),
        (None, Some(_)) => return Err("a password needs a user".into()),
        (None, None) => {}
    }
    if let Some(t) = args.login.transport {
        base.transport = t;
    } else if let Some(t) = &file.transport {
        base.transport = t.parse()?;
    }
    if let Some(a) = args.login.audio {
        base.audio = a;
    } else if let Some(a) = &file.audio {
        base.audio = a.parse()?;
    }
    let mut segment = SegmentOptions::default();
    if let Some(n) = args.segment_secs.or(file.segment_secs) {
        segment.segment_secs = n;
    }
    if let Some(n) = args.fragment_ms.or(file.fragment_ms) {
        segment.fragment_ms = n;
    }
    if let Some(f) = args.fsync {
        segment.fsync = f;
    } else if let Some(f) = &file.fsync {
        segment.fsync = f.parse()?;
    }
    let duration: Option<f64> = args.duration;

    let mut opts = RecorderOptions::new(&root);
    opts.reconnect = args.reconnect.or(file.reconnect).unwrap_or(true);
    if let Some(d) = args.retain_days.or(file.retain_days) {
        opts.retention.total.max_age = Some(days(d, "retain-days")?);
    }
    if let Some(g) = args.retain_gb.or(file.retain_gb) {
        opts.retention.total.max_bytes = Some(gigabytes(g, "retain-gb")?);
    }
    if let Some(url) = args.upload.as_ref().or(file.upload.as_ref()) {
        let s3 = camwire::record::upload::S3Settings::from_env(url).map_err(|e| e.to_string())?;
        let mut u = camwire::record::upload::UploadOptions::new(s3);
        if let Some(h) = args.local_retain_hours.or(file.local_retain_hours) {
            u.local_retain =
                Some(Duration::try_from_secs_f64(h * 3600.0).map_err(|_| {
                    "local-retain-hours: must be a number of hours from 0".to_string()
                })?);
        }
        opts.upload = Some(u);
    }

    let policy = |p: &Option<String>| -> Result<Option<LossPolicy>, String> {
        p.as_deref()
            .map(|s| s.parse::<LossPolicy>().map_err(|e| e.to_string()))
            .transpose()
    };
    let default_policy = match args.loss_policy {
        Some(p) => p,
        None => policy(&file.loss_policy)?.unwrap_or_default(),
    };
    let depacketizer = |p: LossPolicy| DepacketizerOptions {
        loss_policy: p,
        ..Default::default()
    };
    let default_backfill = args.backfill || file.backfill.unwrap_or(false);
    let mut cameras = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let id = ids
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("cam{}", i + 1));
        let backfill = if default_backfill {
            Some(backfill_options(url, None, None, None, None)?)
        } else {
            None
        };
        cameras.push(CameraConfig {
            id,
            url: url.clone(),
            source: base.clone(),
            segment: segment.clone(),
            depacketizer: depacketizer(default_policy),
            backfill,
        });
    }
    for c in &file.camera {
        let mut source = base.clone();
        match (&c.user, &c.password) {
            (Some(u), p) => {
                source.credentials = Some(Credentials::new(u, p.as_deref().unwrap_or("")))
            }
            (None, Some(_)) => return Err(format!("camera {:?}: a password needs a user", c.id)),
            (None, None) => {}
        }
        if let Some(t) = &c.transport {
            source.transport = t.parse()?;
        }
        if let Some(a) = &c.audio {
            source.audio = a.parse()?;
        }
        let mut limits = RetentionLimits::default();
        if let Some(d) = c.retain_days {
            limits.max_age = Some(days(d, &format!("camera {:?} retain_days", c.id))?);
        }
        if let Some(g) = c.retain_gb {
            limits.max_bytes = Some(gigabytes(g, &format!("camera {:?} retain_gb", c.id))?);
        }
        if !limits.is_unlimited() {
            opts.retention.cameras.insert(c.id.clone(), limits);
        }
        cameras.push(CameraConfig {
            id: c.id.clone(),
            url: c.url.clone(),
            source,
            segment: segment.clone(),
            depacketizer: depacketizer(
                policy(&c.loss_policy)
                    .map_err(|e| format!("camera {:?}: {e}", c.id))?
                    .unwrap_or(default_policy),
            ),
            backfill: if c.backfill.unwrap_or(default_backfill) {
                Some(
                    backfill_options(
                        &c.url,
                        c.onvif.as_deref(),
                        c.backfill_vendor.as_deref(),
                        c.channel,
                        c.device_tz.as_deref(),
                    )
                    .map_err(|e| format!("camera {:?}: {e}", c.id))?,
                )
            } else {
                None
            },
        });
    }
    let mut seen = std::collections::HashSet::new();
    for c in &cameras {
        camwire::record::validate_camera_id(&c.id).map_err(|e| e.to_string())?;
        if !seen.insert(c.id.clone()) {
            return Err(format!("camera id {:?} given twice", c.id));
        }
    }

    let recorder = Recorder::start(opts).map_err(|e| e.to_string())?;
    // Files and how each camera's last session ended, for the summary.
    let mut events = recorder.events();
    let collector = tokio::spawn(async move {
        let mut files: BTreeMap<String, VecDeque<PathBuf>> = BTreeMap::new();
        let mut last_end: BTreeMap<String, String> = BTreeMap::new();
        loop {
            match events.recv().await {
                Ok(ev) => match ev.kind {
                    RecorderEventKind::SegmentClosed { path, .. } => {
                        let list = files.entry(ev.camera).or_default();
                        if list.len() == FILES_IN_SUMMARY {
                            list.pop_front();
                        }
                        list.push_back(path);
                    }
                    RecorderEventKind::Disconnected { reason } => {
                        last_end.insert(ev.camera, reason);
                    }
                    _ => {}
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    log::warn!("summary missed {n} events");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
        (files, last_end)
    });
    for c in cameras {
        recorder.add_camera(c).map_err(|e| e.to_string())?;
    }

    let all_stopped = recorder.wait_all_stopped();
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
    tokio::select! {
        _ = all_stopped => {}
        _ = stopper => {}
    }
    // Shutdown closes the open segments, then gives the upload backlog (those included) up to
    // UploadOptions::shutdown_drain to ship before it stops the uploader.
    let (statuses, upload) = recorder.shutdown_with_upload_status().await;
    if let Some(u) = upload {
        outln!(
            "upload to {}: {} file(s) shipped this run, {} file(s), {} bytes still pending{}",
            u.target,
            u.cameras.values().map(|c| c.uploaded_files).sum::<u64>(),
            u.pending_files,
            u.pending_bytes,
            u.oldest_pending
                .as_ref()
                .map(|p| format!(" (oldest {}; shipped at the next start)", p.display()))
                .unwrap_or_default()
        );
    }
    // The recorder (and with it the event sender) is gone: the collector ends.
    let (files, last_end) = collector.await.unwrap_or_default();

    let mut failed = 0;
    for s in statuses {
        let ended = last_end
            .get(&s.id)
            .is_some_and(|r| r == "stream ended by camera");
        outln!(
            "{}: {} frames, {} bytes in {} file(s), {} lost packets, {} reconnect(s), {} gap(s){}",
            s.id,
            s.frames,
            s.bytes,
            s.files,
            s.lost_packets,
            s.reconnects,
            s.gaps.len(),
            if ended {
                ", stream ended by camera"
            } else {
                ""
            }
        );
        let listed = files.get(&s.id).map_or(0, VecDeque::len) as u64;
        if s.files > listed && listed == FILES_IN_SUMMARY as u64 {
            outln!("  ... earlier files not listed; the last {listed}:");
        }
        for f in files.get(&s.id).into_iter().flatten() {
            outln!("  {}", f.display());
        }
        for g in &s.gaps {
            outln!(
                "  gap {} .. {}: {}",
                camwire::record::recorder::rfc3339(g.start),
                camwire::record::recorder::rfc3339(g.end),
                g.reason
            );
        }
        if s.frames == 0 {
            failed += 1;
            eprintln!(
                "{}: recorded nothing: {}",
                s.id,
                s.last_error.as_deref().unwrap_or("no frame received")
            );
        } else if s.state != CameraState::Stopped {
            log::warn!("{}: ended in state {:?}", s.id, s.state);
        }
    }
    if failed > 0 {
        Err(format!("{failed} camera(s) recorded nothing"))
    } else {
        Ok(())
    }
}

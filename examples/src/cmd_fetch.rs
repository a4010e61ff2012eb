//! `camwire fetch`: footage off the device (ONVIF Profile G replay) into one MP4 with a
//! manifest, through [`camwire::replay::fetch`].

use camwire::credentials::Credentials;
use camwire::export;
use camwire::onvif::OnvifDevice;
use camwire::onvif::search::{Covering, covering};
use camwire::replay::{self, FetchOptions};
use clap::Args;
use std::path::PathBuf;
use std::time::SystemTime;

/// Shown after `camwire fetch --help`.
pub const FETCH_HELP: &str = "\
Examples:
  camwire fetch --url rtsp://10.0.0.5/onvif-media/record/play.amp?onvifreplayid=REC1 \\
                --user admin --password PW --start 2025-11-23T12:00:00Z \\
                --end 2025-11-23T12:05:00Z --out gate.mp4
      writes gate.mp4 and gate.mp4.manifest.json (with an origin block: the replay URI,
      requested and actual times, gaps, the rate-control mode, the download time)

  camwire fetch --url rtsp://10.0.0.5/replay/REC1 --start 2025-11-23T12:00:00Z \\
                --end 2025-11-23T12:05:00Z --into /srv/rec --camera gate
      back-fills the recorder's root: ordinary segments of camera gate that ls and export
      see, the span noted in gaps.jsonl as 'backfilled from device'

  camwire fetch --xaddr 10.0.0.5 --recording RecordingToken_1 --user admin --password PW \\
                --start 2025-11-23T12:00:00Z --end 2025-11-23T12:05:00Z --out gate.mp4
      asks the device's Replay service for the recording's URI (GetReplayUri) first; the
      manifest then also names the device, the recording and the device's clock offset

  camwire fetch --url rtsp://admin:PW@10.0.0.6 --vendor dahua --channel 2 \\
                --device-tz +07:00 --start 2025-11-23T12:00:00Z --end 2025-11-23T12:05:00Z \\
                --out gate.mp4
      a device without a working Profile G: its vendor's playback URL
      (/cam/playback?channel=2&subtype=0&starttime=2025_11_23_19_00_00&...; local time)

--url is the recording's replay URI (ONVIF GetReplayUri). The device is asked for
T1..T2 with Require: onvif-replay, Range: clock=T1-T2 and Rate-Control: no (as fast as
it can send; real time if it refuses, or with --real-time). Frame times come from the
ONVIF RTP header extension. The clip starts at the frame showing at T1 (the keyframe
before it is kept, hidden by an edit list) and ends at T2, whatever the device sends.
A device without Profile G (551 or 459) is an error, never live video instead.
--vendor hikvision|dahua|uniview plays the vendor's own playback URL instead (times in the
URL; a plain PLAY at the device's pace; frame times from RTP, the first at T1: the
manifest's origin says vendor-playback and times_from rtp).
The first AAC or G.711 audio track comes along (--audio no|first|all), cut to what the
video presents and timed by its own extension, else the PLAY answer's RTP-Info.
Times T are RFC 3339. An existing output is never overwritten.";

/// `camwire fetch` options.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The recording's RTSP replay URI (credentials in it are taken out, never printed)
    /// With --vendor: the device's RTSP address (rtsp://[user:pass@]host[:port]); its path is
    /// replaced by the vendor's playback path
    #[arg(long, value_name = "RTSP", required_unless_present = "xaddr")]
    pub url: Option<String>,
    /// ONVIF device address instead of --url: its Replay service gives the URI (GetReplayUri).
    /// With --url --vendor dahua: only read the device's time zone from it
    #[arg(long, value_name = "X")]
    pub xaddr: Option<String>,
    /// A vendor playback URL instead of ONVIF replay, for devices without a working Profile G:
    /// hikvision (hiwatch, hilook, ezviz), dahua (kbvision, imou, amcrest) or uniview
    #[arg(long, value_name = "NAME", requires = "url", value_parser = parse_vendor)]
    pub vendor: Option<replay::Vendor>,
    /// Channel for --vendor, from 1 (on hybrid DVRs IP channels follow the analogue ones)
    #[arg(long, value_name = "N", default_value_t = 1, requires = "vendor")]
    pub channel: u32,
    /// The device's time zone for --vendor dahua, whose URLs carry local time: +07:00, UTC
    /// or an IANA name (default: read from --xaddr's GetSystemDateAndTime)
    #[arg(long, value_name = "TZ", requires = "vendor", value_parser = parse_tz)]
    pub device_tz: Option<jiff::tz::TimeZone>,
    /// Recording token on the device (with --xaddr; may be left out when the device holds
    /// exactly one recording that covers the range)
    #[arg(long, value_name = "TOKEN", requires = "xaddr")]
    pub recording: Option<String>,
    /// First instant to fetch (T1): the clip shows the frame on screen at T1 first
    #[arg(long, value_name = "T")]
    pub start: String,
    /// End of what to fetch (T2), whatever the device goes on sending
    #[arg(long, value_name = "T")]
    pub end: String,
    /// The MP4 to write (never overwritten); its manifest goes to FILE.mp4.manifest.json
    #[arg(
        long,
        value_name = "FILE.mp4",
        required_unless_present = "into",
        conflicts_with = "into"
    )]
    pub out: Option<PathBuf>,
    /// Back-fill instead: write the footage as recorder segments under this recording root
    /// (with --camera), where ls and export see it; gaps.jsonl records it
    #[arg(long, value_name = "ROOT", requires = "camera")]
    pub into: Option<PathBuf>,
    /// Camera id to back-fill (with --into)
    #[arg(long, value_name = "ID", requires = "into")]
    pub camera: Option<String>,
    /// Device account (or in the URL: rtsp://user:pass@host/...)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The account's password (never printed, logged or written to the manifest)
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Ask for real-time playback (Rate-Control: yes) instead of as fast as possible
    #[arg(long)]
    pub real_time: bool,
    /// Fragmented MP4 (a moof per GOP, each with its wall clock) instead of progressive
    #[arg(long)]
    pub fragmented: bool,
    /// Audio tracks to fetch beside the video: none, the first one camwire can record
    /// (AAC, G.711; default), or all of them; cut to what the video presents
    #[arg(long, value_name = "no|first|all")]
    pub audio: Option<camwire::rtsp::AudioChoice>,
}

fn parse_vendor(s: &str) -> Result<replay::Vendor, String> {
    s.parse().map_err(|e: replay::UnknownVendor| e.to_string())
}

fn parse_tz(s: &str) -> Result<jiff::tz::TimeZone, String> {
    replay::vendor::parse_time_zone(s)
        .ok_or_else(|| format!("{s:?} is not +HH:MM, UTC or a known IANA time zone"))
}

/// The vendor playback URL for `--url --vendor`: the device's time zone from --device-tz,
/// else from --xaddr (GetSystemDateAndTime), when the vendor's URLs carry local time.
async fn vendor_url(
    args: &FetchArgs,
    vendor: replay::Vendor,
    opts: &FetchOptions,
    start: SystemTime,
    end: SystemTime,
) -> Result<String, String> {
    let url = args.url.as_deref().ok_or("--vendor needs --url")?;
    let mut device_tz = args.device_tz.clone();
    if let (None, true, Some(xaddr)) = (&device_tz, vendor.uses_local_time(), &args.xaddr) {
        let dev = OnvifDevice::connect(xaddr, opts.credentials.clone(), Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let offset = dev.local_offset().await.map_err(|e| e.to_string())?;
        let offset = offset.ok_or_else(|| {
            format!("{xaddr} gives no local time in GetSystemDateAndTime: give --device-tz")
        })?;
        device_tz = Some(jiff::tz::TimeZone::fixed(offset));
    }
    let p = replay::VendorPlayback {
        vendor,
        channel: args.channel,
        device_tz,
    };
    p.url(url, start, end).map_err(|e| e.to_string())
}

fn time(value: &str, name: &str) -> Result<SystemTime, String> {
    export::parse_rfc3339(value).map_err(|e| format!("--{name}: {e}"))
}

/// The device at `xaddr` and the recording to fetch: `--recording`, else the only one that
/// covers the range.
async fn device_recording(
    xaddr: &str,
    args: &FetchArgs,
    opts: &FetchOptions,
    start: SystemTime,
    end: SystemTime,
) -> Result<(OnvifDevice, String), String> {
    let dev = OnvifDevice::connect(xaddr, opts.credentials.clone(), Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let token = match &args.recording {
        Some(t) => t.clone(),
        None => only_recording(&dev, start, end).await?,
    };
    Ok((dev, token))
}

/// The one recording of `dev` (Recording Search) whose span overlaps `[start, end)`, when
/// there is exactly one; an error listing the candidates otherwise.
async fn only_recording(
    dev: &OnvifDevice,
    start: SystemTime,
    end: SystemTime,
) -> Result<String, String> {
    let recs = dev.recordings().await.map_err(|e| e.to_string())?;
    let (start, end) = (
        jiff::Timestamp::try_from(start).map_err(|e| e.to_string())?,
        jiff::Timestamp::try_from(end).map_err(|e| e.to_string())?,
    );
    match covering(&recs, start, end) {
        Covering::One(token) => Ok(token),
        Covering::NoneOf(listed) => Err(format!(
            "no recording on the device covers {start} .. {end} ({listed} recordings; see \
             camwire recordings)"
        )),
        Covering::Several(many) => Err(format!(
            "{} recordings cover {start} .. {end}: choose one with --recording ({})",
            many.len(),
            many.join(", ")
        )),
    }
}

/// `fetch --into ROOT --camera ID`: the replay URI (given, or from the device), then
/// [`replay::backfill`].
async fn backfill(
    args: &FetchArgs,
    vendor_uri: Option<String>,
    opts: &FetchOptions,
    start: SystemTime,
    end: SystemTime,
    root: &std::path::Path,
    camera: &str,
) -> Result<(), String> {
    let uri = match (vendor_uri, &args.url, &args.xaddr) {
        (Some(uri), _, _) => uri,
        (None, Some(url), _) => url.clone(),
        (None, None, Some(xaddr)) => {
            let (dev, token) = device_recording(xaddr, args, opts, start, end).await?;
            dev.replay_uri(&token).await.map_err(|e| e.to_string())?
        }
        _ => return Err("give --url RTSP, or --xaddr X [--recording TOKEN]".into()),
    };
    let b = replay::backfill(&uri, start, end, root, camera, opts)
        .await
        .map_err(|e| e.to_string())?;
    if opts.progress.is_some() {
        eprintln!();
    }
    outln!(
        "back-filled {} .. {} ({} frames) into {} files under {}",
        export::rfc3339(b.first),
        export::rfc3339(b.last),
        b.frames,
        b.files.len(),
        root.join(camera).display()
    );
    for f in &b.files {
        outln!("  {}", f.path.display());
    }
    outln!(
        "Rate-Control: {}; ended by {}; {:.2} s",
        if b.rate_control { "yes" } else { "no" },
        b.ended_by,
        b.wall.as_secs_f64()
    );
    Ok(())
}

/// Runs `camwire fetch`; on a terminal (and not `quiet`) a progress line on stderr shows
/// the media time done and the speed as a multiple of real time.
pub async fn run(args: &FetchArgs, quiet: bool) -> Result<(), String> {
    let start = time(&args.start, "start")?;
    let end = time(&args.end, "end")?;
    let credentials = match (&args.user, &args.password) {
        (None, None) => None,
        (user, password) => Some(Credentials::new(
            user.clone().unwrap_or_default(),
            password.clone().unwrap_or_default(),
        )),
    };
    let mut opts = FetchOptions {
        credentials,
        fast: !args.real_time,
        audio: args.audio.unwrap_or_default(),
        format: if args.fragmented {
            export::OutputFormat::Fragmented
        } else {
            export::OutputFormat::Progressive
        },
        progress: (!quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            std::sync::Arc::new(|p: replay::FetchProgress| {
                eprint!(
                    "\rfetching {:.1} / {:.1} s of media ({:.1}x real time)   ",
                    p.media_done_secs,
                    p.media_total_secs,
                    p.media_done_secs / p.wall_secs.max(1e-3)
                );
            }) as std::sync::Arc<dyn Fn(replay::FetchProgress) + Send + Sync>
        }),
        ..Default::default()
    };
    let vendor_uri = match args.vendor {
        Some(v) => {
            opts.vendor = Some(v);
            Some(vendor_url(args, v, &opts, start, end).await?)
        }
        None if args.url.is_some() && args.xaddr.is_some() => {
            return Err(
                "give --url RTSP or --xaddr X, not both (both only with --vendor, \
                        where --xaddr gives the device's time zone)"
                    .into(),
            );
        }
        None => None,
    };
    if let (Some(root), Some(camera)) = (&args.into, &args.camera) {
        return backfill(args, vendor_uri, &opts, start, end, root, camera).await;
    }
    let Some(out) = &args.out else {
        return Err("give --out FILE.mp4, or --into ROOT --camera ID".into());
    };
    let s = match (&vendor_uri, &args.url, &args.xaddr) {
        (Some(uri), _, _) => replay::fetch(uri, start, end, out, &opts).await,
        (None, Some(url), _) => replay::fetch(url, start, end, out, &opts).await,
        (None, None, Some(xaddr)) => {
            let (dev, token) = device_recording(xaddr, args, &opts, start, end).await?;
            replay::fetch_recording(&dev, &token, start, end, out, &opts).await
        }
        _ => return Err("give --url RTSP, or --xaddr X [--recording TOKEN]".into()),
    }
    .map_err(|e| e.to_string())?;
    if opts.progress.is_some() {
        eprintln!();
    }
    let m = &s.manifest.export;
    let o = &s.manifest.origin;
    outln!(
        "fetched {} .. {} ({} frames, {} bytes) to {}",
        m.actual.start,
        m.actual.end,
        m.frames,
        m.output.size,
        out.display()
    );
    outln!(
        "Rate-Control: {}{}; {:.1} s of media in {:.2} s ({:.1}x real time); times from {}; \
         ended by {}",
        o.rate_control,
        o.rate_control_refused
            .as_deref()
            .map(|r| format!(" (no was refused: {r})"))
            .unwrap_or_default(),
        o.media_secs,
        o.download_wall_secs,
        o.speed,
        o.times_from,
        o.ended_by
    );
    for g in &o.gaps {
        outln!("gap {} .. {} ({:.1} s)", g.start, g.end, g.duration_secs);
    }
    if let Some(d) = &o.device {
        outln!(
            "device: {} {} (firmware {}), recording {}, clock offset {:+.3} s",
            d.manufacturer,
            d.model,
            d.firmware_version,
            d.recording_token,
            d.clock_offset_secs
        );
        if let Some(w) = &d.clock_warning {
            outln!("warning: {w}");
        }
    }
    outln!("manifest: {}", s.manifest_path.display());
    Ok(())
}

//! The command line, declared with clap's derive: one struct per command, so that
//! `camwire export --help` shows export's options and examples and nothing else.
//!
//! clap checks the shape of the command line (known commands and flags, required options,
//! numbers that are numbers, values from a fixed list) and exits 2 when it is wrong. What
//! the values mean (times, paths, URLs, camera ids, certificate pins) is checked by the
//! command itself, which exits 1 when it fails.

use camwire::record::FsyncPolicy;
use camwire::rtp::LossPolicy;
use camwire::rtsp::{AudioChoice, Transport};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Shown after the top-level help.
const AFTER_HELP: &str = "\
Exit status:
  0  success
  1  failure: the command ran and did not succeed (for `verify`: a file does not match
     its manifest)
  2  usage error: unknown command or option, missing option, malformed value
  141  stdout was a pipe that closed early (`camwire ls | head`); files are finished first

Credentials may also be given inside a URL (rtsp://user:pass@host/...); they are taken out
of it and never printed. Logging: -v, or CAMWIRE_LOG=trace|debug|info|warn|error|off.
`camwire COMMAND --help` shows a command's options and examples.";

#[derive(Debug, Parser)]
#[command(
    name = "camwire",
    version,
    about = "Record IP cameras into crash-safe fragmented MP4, find them with ONVIF, export \
             verifiable clips",
    after_help = AFTER_HELP,
    subcommand_required = true,
    arg_required_else_help = true,
    args_override_self = true
)]
pub struct Cli {
    /// Log more (info level; CAMWIRE_LOG overrides)
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub verbose: bool,
    /// No progress bars (they are only drawn on a terminal anyway)
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record one or more cameras until --duration, Ctrl-C or SIGTERM
    #[command(after_help = RECORD_HELP)]
    Record(RecordArgs),
    /// Codec, profile, level, resolution and frame rate of a stream
    #[command(after_help = PROBE_HELP)]
    Probe(ProbeArgs),
    /// Save a stream's SDP and RTP packets as received (for bug reports)
    #[command(after_help = CAPTURE_HELP)]
    Capture(CaptureArgs),
    /// Depacketize and mux a capture into MP4, offline
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// Find the built-in simulated camera by ONVIF and record it (no camera needed)
    #[command(after_help = DEMO_HELP)]
    Demo(DemoArgs),
    /// Recorded ranges and the gaps between them
    #[command(after_help = LS_HELP)]
    Ls(LsArgs),
    /// One MP4 of T1..T2 with a SHA-256 manifest beside it
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),
    /// Check a clip and its sources against its manifest (exit 1 on a mismatch)
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Footage off the device (ONVIF Profile G replay) into one MP4 with a manifest
    #[command(after_help = crate::cmd_fetch::FETCH_HELP)]
    Fetch(crate::cmd_fetch::FetchArgs),
    /// Recordings on an ONVIF Profile G device (Recording Search), with tracks and times
    #[command(after_help = crate::cmd_recordings::RECORDINGS_HELP)]
    Recordings(crate::cmd_recordings::RecordingsArgs),
    /// Find ONVIF cameras by WS-Discovery (multicast, or unicast with --host)
    #[command(after_help = DISCOVER_HELP)]
    Discover(DiscoverArgs),
    /// ONVIF device information, media profiles and stream URIs
    #[command(after_help = ONVIF_HELP)]
    Onvif(OnvifArgs),
    /// Save one JPEG snapshot over ONVIF
    #[command(after_help = SNAPSHOT_HELP)]
    Snapshot(SnapshotArgs),
    /// Listen for ONVIF events (motion, tamper) through a PullPoint subscription
    #[command(after_help = EVENTS_HELP)]
    Events(EventsArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

/// Account and transport for an RTSP camera.
#[derive(Debug, Args)]
pub struct RtspLogin {
    /// User name (or put it in the URL: rtsp://user:pass@host/...)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Password (never printed)
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// RTP over the RTSP connection (tcp, default) or over UDP
    #[arg(long, value_name = "tcp|udp")]
    pub transport: Option<Transport>,
    /// Audio tracks to set up beside the video: none, the first one camwire can record
    /// (AAC, G.711; default), or all of them
    #[arg(long, value_name = "no|first|all")]
    pub audio: Option<AudioChoice>,
}

const RECORD_HELP: &str = "\
Examples:
  camwire record --url rtsp://10.0.0.5/stream1 --out /srv/rec --camera-id gate
  camwire record --url rtsp://admin:PW@cam1/s --url rtsp://cam2/s --camera-id a --camera-id b \\
                 --out /srv/rec --segment-secs 60 --retain-days 30 --duration 3600
  camwire record --config cameras.toml

Files land in DIR/<camera-id>/<YYYY-MM-DD>/<UTC start>.mp4. A camera that drops is
reconnected with backoff and the outage is logged as a gap. Exit status 0 when every
camera recorded something, 1 otherwise.";

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// RTSP URL of a camera; repeat for more cameras
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,
    #[command(flatten)]
    pub login: RtspLogin,
    /// Recording root (or `out` in the config)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Id of each --url camera, in order [default: cam1, cam2, ...]
    #[arg(long, value_name = "ID")]
    pub camera_id: Vec<String>,
    /// Stop after this many seconds [default: run until Ctrl-C/SIGTERM]
    #[arg(long, value_name = "SECS", value_parser = seconds, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Start a new file at the first keyframe after this many seconds [default: 60]
    #[arg(long, value_name = "N")]
    pub segment_secs: Option<u32>,
    /// Close a fragment after this many milliseconds of media [default: 1000]
    #[arg(long, value_name = "N")]
    pub fragment_ms: Option<u32>,
    /// When to fsync: after every fragment, at most every N seconds, or never
    #[arg(long, value_name = "fragment|Ns|never")]
    pub fsync: Option<FsyncPolicy>,
    /// Delete the oldest files older than this many days (all cameras)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub retain_days: Option<f64>,
    /// Delete the oldest files while all cameras hold more than N GB
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub retain_gb: Option<f64>,
    /// Reconnect a camera whose stream ended or dropped [default: yes]
    #[arg(long, value_name = "yes|no", value_parser = yes_no)]
    pub reconnect: Option<bool>,
    /// Cameras and defaults from a TOML file ([[camera]] id, url, ...); flags win
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ship each closed segment to s3://bucket/prefix (endpoint, region and keys from
    /// AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP)
    #[arg(long, value_name = "URL")]
    pub upload: Option<String>,
    /// With --upload: delete a local file this many hours after its recording ended, once
    /// the bucket has confirmed it [default: keep; retention applies]
    #[arg(long, value_name = "N")]
    pub local_retain_hours: Option<f64>,
    /// After a lost packet: keep every following frame (keep, default) or drop up to the
    /// next keyframe (skip-to-keyframe)
    #[arg(long, value_name = "keep|skip-to-keyframe")]
    pub loss_policy: Option<LossPolicy>,
    /// After an outage, once a camera is back, fetch the gap from its own recording (ONVIF
    /// Profile G at the URL's host; per camera in the config: onvif, backfill_vendor)
    #[arg(long)]
    pub backfill: bool,
}

/// Longest time any option takes (about 31 years): beyond it a `Duration` would overflow.
const MAX_SECS: f64 = 1e9;

/// A number of seconds: finite, not negative, at most [`MAX_SECS`].
fn seconds(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(s) if (0.0..=MAX_SECS).contains(&s) => Ok(s),
        _ => Err(format!(
            "a number of seconds from 0 to {MAX_SECS:e}, not {v:?}"
        )),
    }
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        o => Err(format!("yes or no, not {o:?}")),
    }
}

const PROBE_HELP: &str = "\
Examples:
  camwire probe --url rtsp://admin:PW@10.0.0.5/stream1
  camwire probe --url rtsp://10.0.0.5/stream1 --transport udp --json
  camwire probe --url rtsp://10.0.0.5/stream1 --audio all
      lists every track (codec, clock rate, channels) as recorded or skipped, and why";

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// RTSP URL of the stream
    #[arg(long, value_name = "URL")]
    pub url: String,
    #[command(flatten)]
    pub login: RtspLogin,
    /// Print one JSON object (codec, profile, profile_idc, level_idc, level, width, height,
    /// fps, transport, parameter_sets_from, tracks)
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for the stream's parameters
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value_t = 10.0)]
    pub timeout: f64,
}

const CAPTURE_HELP: &str = "\
Examples:
  camwire capture --url rtsp://10.0.0.5/stream1 --out bug --duration 30
      writes bug.sdp and bug.rtp (RTSP interleaved frames, as received);
      `camwire replay` turns them back into MP4";

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// RTSP URL of the stream
    #[arg(long, value_name = "URL")]
    pub url: String,
    #[command(flatten)]
    pub login: RtspLogin,
    /// Output prefix: PREFIX.sdp and PREFIX.rtp
    #[arg(long, value_name = "PREFIX")]
    pub out: String,
    /// Seconds to capture
    #[arg(long, value_name = "SECS", value_parser = seconds, allow_negative_numbers = true)]
    pub duration: f64,
}

const REPLAY_HELP: &str = "\
Examples:
  camwire replay --sdp bug.sdp --interleaved bug.rtp --out bug.mp4";

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The capture's SDP
    #[arg(long, value_name = "FILE")]
    pub sdp: PathBuf,
    /// The capture's interleaved packets
    #[arg(long, value_name = "FILE")]
    pub interleaved: PathBuf,
    /// Output MP4 (more files beside it if the resolution changes)
    #[arg(long, value_name = "FILE.mp4")]
    pub out: PathBuf,
    /// After a lost packet: keep every following frame (keep, default) or drop up to the
    /// next keyframe (skip-to-keyframe)
    #[arg(long, value_name = "keep|skip-to-keyframe")]
    pub loss_policy: Option<LossPolicy>,
}

const DEMO_HELP: &str = "\
Examples:
  camwire demo --out /tmp/demo --duration 5
  camwire demo          (into ./camwire-demo, about 10 s)";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Recording root
    #[arg(long, value_name = "DIR", default_value = "camwire-demo")]
    pub out: PathBuf,
    /// Seconds to record
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value_t = 10.0)]
    pub duration: f64,
}

const LS_HELP: &str = "\
Examples:
  camwire ls --root /srv/rec
  camwire ls --root /srv/rec --camera gate --start 2025-11-23T00:00:00Z \\
             --end 2025-11-24T00:00:00Z --json
  camwire ls --root s3://evidence/site-a --camera gate --start 2025-11-23T00:00:00Z

Times T are RFC 3339 (2025-11-23T12:00:00Z, ...+02:00).
With --root s3://BUCKET/PREFIX the store comes from the variables record --upload uses:
AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
and AWS_ALLOW_HTTP=true for an http:// endpoint.";

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Recording root: a directory, or s3://BUCKET/PREFIX (objects the recorder uploaded)
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Only this camera [default: every camera under the root]
    #[arg(long, value_name = "ID")]
    pub camera: Option<String>,
    /// Only what was recorded from T on
    #[arg(long, value_name = "T")]
    pub start: Option<String>,
    /// Only what was recorded before T
    #[arg(long, value_name = "T")]
    pub end: Option<String>,
    /// Print one JSON document (cameras[] with ranges[] and gaps[])
    #[arg(long)]
    pub json: bool,
}

const EXPORT_HELP: &str = "\
Examples:
  camwire export --root /srv/rec --camera gate --start 2025-11-23T12:00:00Z \\
                 --end 2025-11-23T12:05:00Z --out gate.mp4
      writes gate.mp4 and gate.mp4.manifest.json; check them with `camwire verify gate.mp4`

  camwire export --root s3://evidence/site-a --camera gate --start 2025-11-23T12:00:00Z \\
                 --end 2025-11-23T12:05:00Z --out gate.mp4

Times T are RFC 3339 (2025-11-23T12:00:00Z, ...+02:00). An existing output is never
overwritten. A progress bar is drawn on a terminal (not with --quiet or when piped).
With --root s3://BUCKET/PREFIX the store comes from the variables record --upload uses:
AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
and AWS_ALLOW_HTTP=true for an http:// endpoint.";

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Recording root: a directory, or s3://BUCKET/PREFIX (objects the recorder uploaded)
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Camera id
    #[arg(long, value_name = "ID")]
    pub camera: String,
    /// First instant of the clip (T1)
    #[arg(long, value_name = "T")]
    pub start: String,
    /// End of the clip (T2)
    #[arg(long, value_name = "T")]
    pub end: String,
    /// Output MP4; the manifest is FILE.mp4.manifest.json
    #[arg(long, value_name = "FILE.mp4")]
    pub out: PathBuf,
    /// Fragmented MP4 (moof per source fragment) instead of progressive (moov first)
    #[arg(long)]
    pub fragmented: bool,
}

const VERIFY_HELP: &str = "\
Examples:
  camwire verify gate.mp4
  camwire verify /evidence/gate.mp4 --root /evidence/rec
  camwire verify gate.mp4 --root s3://evidence/site-a

Exit status: 0 when the clip, its media and every source still present match the
manifest (sources deleted by retention are listed, not failed); 1 when something does
not match (one MISMATCH line per file) or the manifest cannot be read; 2 usage error.
A manifest whose root is s3://... is checked against the objects (ranged GETs).
With --root s3://BUCKET/PREFIX the store comes from the variables record --upload uses:
AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
and AWS_ALLOW_HTTP=true for an http:// endpoint.";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The exported clip (its manifest is CLIP.manifest.json)
    #[arg(value_name = "FILE.mp4")]
    pub clip: PathBuf,
    /// Look for the sources under DIR (or s3://BUCKET/PREFIX) instead of the manifest's root
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

const DISCOVER_HELP: &str = "\
Examples:
  camwire discover --timeout 5
  camwire discover --interface eth0 --json
  camwire discover --host 10.0.0.5 --host 10.0.0.6:3702     (networks without multicast)";

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Seconds to wait for answers (0 to 600)
    #[arg(
        long,
        value_name = "SECS",
        value_parser = seconds,
        default_value_t = 3.0,
        allow_negative_numbers = true
    )]
    pub timeout: f64,
    /// Probe from this interface (IPv4 address or name); repeat for more [default: every
    /// IPv4 interface]
    #[arg(long, value_name = "IP|NAME")]
    pub interface: Vec<String>,
    /// Send a unicast probe to this host (port 3702 unless given); repeat for more
    #[arg(long, value_name = "HOST[:PORT]")]
    pub host: Vec<String>,
    /// Print one JSON document (method, timeout_secs, devices[])
    #[arg(long)]
    pub json: bool,
}

/// The device and account of an ONVIF command.
#[derive(Debug, Args)]
pub struct OnvifLogin {
    /// Device service URL, host or host:port (/onvif/device_service is added); may hold
    /// user:password@
    #[arg(long, value_name = "URL")]
    pub xaddr: String,
    /// User name
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Password (never printed)
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// https: trust the certificate with this SHA-256 fingerprint (the camera's self-signed
    /// one, as `openssl x509 -fingerprint -sha256` prints it)
    #[arg(long, value_name = "SHA256")]
    pub tls_pin: Option<String>,
    /// https: trust certificates that chain to this CA (PEM or DER)
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// https: accept any certificate (explicit opt-in) [default: public roots only]
    #[arg(long)]
    pub tls_accept_any: bool,
}

const ONVIF_HELP: &str = "\
Examples:
  camwire onvif --xaddr http://10.0.0.5/onvif/device_service --user admin --password PW
  camwire onvif --xaddr 10.0.0.5:8080 --json
  camwire onvif --xaddr https://10.0.0.5/onvif/device_service --tls-pin AB:CD:...";

#[derive(Debug, Args)]
pub struct OnvifArgs {
    #[command(flatten)]
    pub login: OnvifLogin,
    /// Print one JSON document (xaddr, device, clock_offset_secs, media_service, services,
    /// profiles[])
    #[arg(long)]
    pub json: bool,
}

const SNAPSHOT_HELP: &str = "\
Examples:
  camwire snapshot --xaddr 10.0.0.5 --user admin --password PW --out cam1.jpg
  camwire snapshot --xaddr 10.0.0.5 --profile Profile_2 --out cam1-sub.jpg";

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub login: OnvifLogin,
    /// Media profile token [default: the first profile]
    #[arg(long, value_name = "TOKEN")]
    pub profile: Option<String>,
    /// Output JPEG
    #[arg(long, value_name = "FILE.jpg")]
    pub out: PathBuf,
}

const EVENTS_HELP: &str = "\
Examples:
  camwire events --xaddr 10.0.0.5 --user admin --password PW --duration 60
  camwire events --xaddr 10.0.0.5 --json";

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub login: OnvifLogin,
    /// Seconds to listen
    #[arg(
        long,
        value_name = "SECS",
        value_parser = seconds,
        default_value_t = 10.0,
        allow_negative_numbers = true
    )]
    pub duration: f64,
    /// Print one JSON document at the end (xaddr, duration_secs, events[])
    #[arg(long)]
    pub json: bool,
}

const COMPLETIONS_HELP: &str = "\
Examples:
  camwire completions bash > ~/.local/share/bash-completion/completions/camwire
  camwire completions zsh > ~/.zfunc/_camwire
  camwire completions fish > ~/.config/fish/completions/camwire.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn repeated_flags_keep_every_url_and_the_last_single_value() {
        let cli = Cli::try_parse_from([
            "camwire",
            "record",
            "--url",
            "rtsp://a/",
            "--url=rtsp://b/",
            "--out",
            "x",
            "--out",
            "y",
            "-v",
            "--reconnect",
            "no",
            "--transport",
            "UDP",
        ])
        .expect("parses");
        assert!(cli.verbose);
        let Command::Record(r) = cli.command else {
            panic!("not record: {:?}", cli.command);
        };
        assert_eq!(r.url, ["rtsp://a/", "rtsp://b/"]);
        assert_eq!(r.out, Some(PathBuf::from("y")));
        assert_eq!(r.reconnect, Some(false));
        assert_eq!(r.login.transport, Some(Transport::Udp));
    }

    #[test]
    fn malformed_values_are_usage_errors() {
        for argv in [
            &["camwire", "record", "--url", "u", "--segment-secs", "ten"][..],
            &["camwire", "record", "--url", "u", "--fsync", "sometimes"],
            &["camwire", "record", "--url", "u", "--reconnect", "maybe"],
            &["camwire", "probe", "--url", "u", "--transport", "sctp"],
            &["camwire", "export", "--root", "r", "--camera", "c"],
            &["camwire", "completions", "tcsh"],
        ] {
            let e = Cli::try_parse_from(argv).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{argv:?}: {e}");
        }
    }
}

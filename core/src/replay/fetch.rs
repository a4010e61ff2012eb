//! One replay download: T1..T2 of a recording, from its RTSP replay URI, into one MP4.
//!
//! The session: `DESCRIBE`, `SETUP` of the first H.264 or H.265 video stream (TCP
//! interleaved, as the Streaming spec tells replay clients) and of the audio streams
//! [`FetchOptions::audio`] asks for, then `PLAY` with `Require: onvif-replay`,
//! `Range: clock=T1-T2`, `Rate-Control: no` and `Immediate: yes`. `Frames` is never sent
//! (gst-rtsp-server answers 400 to `Frames: all`, and all frames is the default anyway).
//! - 551 or 459 to that PLAY: [`ReplayError::NoProfileG`]. Without `Require`, such a device
//!   would play live video or the recording's start: the wrong footage, silently.
//! - Any other refusal while `Rate-Control: no` was asked: PLAY again with
//!   `Rate-Control: yes` (real time), and the manifest says so.
//!
//! Times: each access unit's wall clock is the 0xABAC NTP time of its first packet that has
//! one (the era nearest T1, see [`super::extension`]); an access unit without one is timed
//! from RTP, relative to the last timed one (or to the PLAY answer's `Range: clock=` start,
//! else T1). Flags are OR-ed over the packets of an access unit (GStreamer up to 1.22.10
//! puts E and T on the first packet of the last access unit, later ones on the last).
//!
//! Cutting:
//! - Start: devices start at the clean point at or before T1; frames from the last keyframe
//!   at or before T1 are kept as pre-roll (hidden by the edit list), anything earlier is
//!   dropped. The clip presents from the frame showing at T1.
//! - End: the first access unit at or after T2 ends the download (devices may go on past
//!   the range); so do the T flag (after its access unit), RTCP BYE, the connection closing,
//!   and [`FetchOptions::idle_timeout`] of silence (servers stop sending at the end of the
//!   footage and send nothing else).
//! - Gaps: a D flag (after the first frame) or an E flag on the frame before, with a hole
//!   in time, or a jump of at least [`FetchOptions::gap_threshold`] in either direction
//!   (some cameras set no flag). The frame before a gap is held for its length, so clip time
//!   follows wall-clock time, as in export.
//!
//! Output: sample bytes are spooled to a temporary file beside the output as they arrive
//! (memory: the sample table, ~16 bytes a frame, plus the pre-roll GOP), then the
//! progressive MP4 (`moov` first) is written by [`crate::export::mp4_writer`] and linked
//! into place; an existing output is never overwritten. H.264 goes into an `avc1` sample
//! entry with `avcC`, H.265 into `hvc1` with `hvcC` (VPS, SPS, PPS; IRAP pictures are the
//! keyframes), built from the parameter sets in use when the clip starts; sample bytes are
//! the NAL units as the device sent them, in-band parameter sets included.
//!
//! Audio: each audio frame gets a wall clock (its stream's own 0xABAC time, else RTP-Info,
//! else arrival: `super::audio`), frames overlapping the presentation (first shown frame to
//! its end) are kept, bytes as sent, in their own `trak` with an edit list placing them
//! against the video, as export does. In the file each video chunk (fragment) is followed by
//! the audio that starts in its time, so the media hash (every sample in file order) is the
//! one `verify` recomputes. Without audio the clip is byte for byte the video-only one.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::audio::{AudioIn, AudioLane, AudioPlacer, Placed, rtptime_of};
use super::extension::ReplayExtension;
use super::manifest::{DeviceOrigin, FlagCounts, Origin, ReplayManifest};
use crate::credentials::Credentials;
use crate::export::index::show;
use crate::export::manifest::{
    MANIFEST_FORMAT, Manifest, ManifestGap, ManifestOutput, Span, hex, manifest_path,
};
use crate::export::manifest::{MANIFEST_FORMAT_AV, ManifestTrack};
use crate::export::mp4_writer::{
    AudioEdit, ChunkLayout, ClipAudio, ClipSample, Edit, TrafRun, fragment_header_tracks,
    fragmented_av_moov, ftyp, mdat_header, mdat_header_len, progressive_av_moov,
};
use crate::export::{
    ExportError, Nanos, OutputFormat, nanos_to_ntp, nanos_to_ticks, system_to_nanos, ticks_to_nanos,
};
use crate::fmp4::{AudioConfig, TRACK_ID, VideoCodec, VideoConfig, audio_track_id};
use crate::frame::{AccessUnit, ParameterSets};
use crate::h264::AvcDecoderConfig;
use crate::h265::HevcDecoderConfig;
use crate::record::ingest::{fmtp_line, h265_options, section_codec};
use crate::rtp::audio::AudioDepacketizer;
use crate::rtp::h265::{H265Depacketizer, H265Fmtp, H265ParameterSets};
use crate::rtp::{DepacketizerOptions, H264Depacketizer, RtpPacket};
use crate::rtsp::AudioChoice;
use crate::rtsp::client::{
    ClientError, ClientOptions, Packet, PlayOptions, PlayReply, Range, RtspClient, SetupTransport,
};
use crate::rtsp::rtcp::{RtcpEvent, parse_compound};
use crate::rtsp::url::{CameraUrl, UrlError};

/// Pre-roll bytes held in memory before T1 is reached; beyond this the held GOP is dropped
/// and the clip starts at the next keyframe.
const MAX_PREROLL_BYTES: usize = 64 << 20;
/// Most samples in one `mdat` chunk (a chunk also ends before every keyframe).
const CHUNK_SAMPLES: u32 = 250;

/// How to fetch.
#[derive(Clone)]
pub struct FetchOptions {
    /// Login for the device (credentials in the URL are used when this is `None`).
    pub credentials: Option<Credentials>,
    /// Ask `Rate-Control: no` first (default). False: real time from the start.
    pub fast: bool,
    /// Bound on each RTSP request's answer.
    pub request_timeout: Duration,
    /// Silence that ends the download once frames came (end of footage).
    pub idle_timeout: Duration,
    /// Silence after PLAY, before any frame, that means there is nothing to fetch.
    pub first_frame_timeout: Duration,
    /// A time jump at least this long is a gap even without a D or E flag.
    pub gap_threshold: Duration,
    /// `camera_id` of the manifest (default: the URI's host and port).
    pub camera_id: Option<String>,
    /// The device the URI came from, for the manifest's origin ([`super::fetch_recording`]
    /// fills it in).
    pub device: Option<DeviceOrigin>,
    /// Progressive (moov first, default) or fragmented (one `prft`/`moof`/`mdat` per GOP of
    /// at most 250 frames), as export writes them.
    pub format: OutputFormat,
    /// Called as frames are stored (at most every 200 ms, and once at the end), on the
    /// fetching task: keep it short.
    pub progress: Option<Arc<dyn Fn(FetchProgress) + Send + Sync>>,
    /// `Some`: the URL is a vendor playback URL ([`super::vendor`]) with the time window in
    /// it, played with a plain `PLAY` (no `Require`, `Range: clock=` or `Rate-Control`);
    /// frames without 0xABAC times are timed from RTP, the first at the requested start.
    pub vendor: Option<super::Vendor>,
    /// Audio tracks to fetch beside the video (default: the first one camwire records, AAC
    /// or G.711), cut to the window the video presents, bytes as the device sent them.
    /// [`AudioChoice::No`] gives exactly the video-only clip.
    pub audio: AudioChoice,
}

/// How far a fetch is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FetchProgress {
    /// Media stored past T1 (the last stored frame's wall clock minus T1), seconds.
    pub media_done_secs: f64,
    /// T2 − T1, seconds.
    pub media_total_secs: f64,
    /// Since the fetch started, seconds.
    pub wall_secs: f64,
    /// Frames stored (pre-roll included).
    pub frames: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            credentials: None,
            fast: true,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            first_frame_timeout: Duration::from_secs(15),
            gap_threshold: Duration::from_secs(10),
            camera_id: None,
            device: None,
            format: OutputFormat::Progressive,
            progress: None,
            vendor: None,
            audio: AudioChoice::First,
        }
    }
}

impl std::fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchOptions")
            .field("credentials", &self.credentials.as_ref().map(|_| "***"))
            .field("fast", &self.fast)
            .field("request_timeout", &self.request_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("first_frame_timeout", &self.first_frame_timeout)
            .field("gap_threshold", &self.gap_threshold)
            .field("camera_id", &self.camera_id)
            .field("device", &self.device)
            .field("format", &self.format)
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .field("vendor", &self.vendor)
            .field("audio", &self.audio)
            .finish()
    }
}

/// What a fetch wrote.
#[derive(Clone, Debug)]
pub struct FetchSummary {
    /// The clip.
    pub output: PathBuf,
    /// Its manifest (`output` + `.manifest.json`).
    pub manifest_path: PathBuf,
    /// The manifest's content.
    pub manifest: ReplayManifest,
}

/// Why a fetch failed. Never holds credentials.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The replay URI is not a usable `rtsp://` URL.
    #[error("replay URI: {0}")]
    Url(#[from] UrlError),
    /// T1 is not before T2.
    #[error("start {start} is not before end {end}")]
    BadRange {
        /// Requested start (RFC 3339).
        start: String,
        /// Requested end (RFC 3339).
        end: String,
    },
    /// The device refused `Require: onvif-replay` (551) or the aggregate PLAY (459).
    #[error(
        "device cannot replay (no Profile G): PLAY with Require: onvif-replay answered {status}{}",
        unsupported.as_deref().map(|u| format!(" (Unsupported: {u})")).unwrap_or_default()
    )]
    NoProfileG {
        /// 551 or 459.
        status: u16,
        /// The `Unsupported` header of the answer.
        unsupported: Option<String>,
    },
    /// Nothing to store between T1 and T2.
    #[error("no recording between {start} and {end}: {detail}")]
    NoRecording {
        /// Requested start (RFC 3339).
        start: String,
        /// Requested end (RFC 3339).
        end: String,
        /// What the device did.
        detail: String,
    },
    /// The presentation has no H.264 or H.265 video stream.
    #[error("the replay has no H.264 or H.265 video stream (streams: {0})")]
    NoH264(String),
    /// The parameter sets (H.264 SPS/PPS, H.265 VPS/SPS/PPS) changed inside the range: one
    /// MP4 track has one sample description.
    #[error(
        "the stream's parameter sets change at {at}: fetch {start}..{at} and {at}..{end} \
         separately"
    )]
    ParameterSetsChanged {
        /// Wall clock of the first frame with the new parameters (RFC 3339).
        at: String,
        /// Requested start (RFC 3339).
        start: String,
        /// Requested end (RFC 3339).
        end: String,
    },
    /// The stream's parameter sets (SPS/PPS, or VPS/SPS/PPS for H.265) are unusable.
    #[error("unusable parameter sets: {0}")]
    BadParameters(String),
    /// The RTSP session failed.
    #[error("replay: {0}")]
    Rtsp(#[from] ClientError),
    /// Writing the clip or its manifest failed (or the output exists).
    #[error(transparent)]
    Output(#[from] ExportError),
    /// A vendor whose playback URLs carry the device's local time, and no time zone given.
    #[error(
        "{0} playback URLs are in the device's local time: give the device's time zone \
         (e.g. +07:00 or Asia/Ho_Chi_Minh), or its ONVIF address to read it from"
    )]
    NeedDeviceTimeZone(super::Vendor),
    /// The ONVIF side (GetServices, GetReplayUri) failed.
    #[error("ONVIF: {0}")]
    Onvif(#[from] crate::onvif::Error),
}

/// Fetches `[start, end)` of the recording behind the replay URI `url` (`rtsp://`, with or
/// without `user:password@`) into `out` and `out.manifest.json`.
pub async fn fetch(
    url: &str,
    start: SystemTime,
    end: SystemTime,
    out: &Path,
    opts: &FetchOptions,
) -> Result<FetchSummary, ReplayError> {
    let began = Instant::now();
    if out.exists() {
        return Err(ExportError::OutputExists(out.to_path_buf()).into());
    }
    let (url, mut client, t1, t2) = connect(url, start, end, opts).await?;
    let played = play_into(&mut client, t1, t2, opts, |session| {
        let mut asm = Assembler::new(t1, t2, session, opts, out)?;
        asm.began = began;
        Ok(asm)
    })
    .await;
    client.teardown().await;
    let mut p = played?;
    p.sink.lost_packets = p.lost_packets;
    p.sink.finish(&Ended {
        url: &url,
        server: p.server.as_deref(),
        play_range: p.play_range,
        rate_control: p.rate_control,
        refused: p.refused,
        ended_by: p.ended_by,
        wall: began.elapsed(),
    })
}

/// Checks `[start, end)` (as Unix nanoseconds), takes credentials out of `url` and
/// connects to it: the clean URL, the client and the range.
pub(super) async fn connect(
    url: &str,
    start: SystemTime,
    end: SystemTime,
    opts: &FetchOptions,
) -> Result<(CameraUrl, RtspClient, Nanos, Nanos), ReplayError> {
    let (t1, t2) = (system_to_nanos(start), system_to_nanos(end));
    if t1 >= t2 {
        return Err(ReplayError::BadRange {
            start: show(t1),
            end: show(t2),
        });
    }
    let (url, url_creds) = CameraUrl::parse(url)?;
    let copts = ClientOptions {
        credentials: opts.credentials.clone().or(url_creds),
        request_timeout: opts.request_timeout,
        ..Default::default()
    };
    let client = RtspClient::connect(url.as_url().clone(), copts).await?;
    Ok((url, client, t1, t2))
}

/// Where the access units of a replay go: a clip ([`Assembler`]) or recorder segments
/// (`super::backfill`).
pub(super) trait Sink {
    /// Takes one access unit with its 0xABAC facts; `Some(reason)` ends the download.
    /// `params`: the parameter sets announced with it (set on the first access unit and on
    /// every change; for H.264 also in `au.new_parameters`) and the latest ones known.
    fn take(
        &mut self,
        au: &mut AccessUnit,
        info: AuInfo,
        params: FrameParams<'_>,
    ) -> Result<Option<String>, ReplayError>;
    /// True once it wants nothing more.
    fn done(&self) -> bool;
    /// Takes one audio frame of one of the session's audio lanes.
    fn take_audio(&mut self, a: AudioIn) -> Result<(), ReplayError>;
    /// True while, the video being over, some audio lane has not yet reached the end of
    /// what the video gave: the download goes on for it a little (the device interleaves
    /// the streams as it likes).
    fn audio_wanted(&self) -> bool;
}

/// What the sink is told once the session plays.
pub(super) struct Session<'a> {
    /// The video's RTP clock rate.
    pub(super) clock_rate: u32,
    /// The PLAY answer.
    pub(super) reply: &'a PlayReply,
    /// `RTP-Info` `rtptime` of the video stream.
    pub(super) video_rtptime: Option<u32>,
    /// The audio streams set up, in lane order.
    pub(super) audio: Vec<AudioLane>,
}

impl Sink for Assembler {
    fn take(
        &mut self,
        au: &mut AccessUnit,
        info: AuInfo,
        params: FrameParams<'_>,
    ) -> Result<Option<String>, ReplayError> {
        let r = self.push(au, info, params);
        self.drain_audio()?;
        r
    }

    fn done(&self) -> bool {
        self.done
    }

    fn take_audio(&mut self, a: AudioIn) -> Result<(), ReplayError> {
        self.placer.push(a);
        self.drain_audio()
    }

    fn audio_wanted(&self) -> bool {
        if self.spool.is_none() {
            return false;
        }
        let dur = self.samples.last().map_or(0, |s| i64::from(s.duration));
        let end = self
            .t2
            .min(self.last_wall + ticks_to_nanos(dur, self.clock_rate));
        self.audio.iter().any(|l| l.received && l.reached < end)
    }
}

/// The parameter sets of the stream being fetched, by codec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum StreamParams {
    /// H.264 SPS and PPS.
    H264(ParameterSets),
    /// H.265 VPS, SPS and PPS.
    H265(H265ParameterSets),
}

impl StreamParams {
    /// The MP4 sample description (`avc1`/`avcC` or `hvc1`/`hvcC`) these describe.
    fn video_config(&self, timescale: u32) -> Result<VideoConfig, ReplayError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            ReplayError::BadParameters(format!("{what}: {e}"))
        };
        Ok(match self {
            StreamParams::H264(ps) => {
                let cfg = AvcDecoderConfig::from_parameter_sets(&ps.sps, &ps.pps)
                    .map_err(|e| ReplayError::BadParameters(e.to_string()))?;
                let sps = cfg.sps_info();
                VideoConfig {
                    codec: VideoCodec::H264,
                    width: sps.width(),
                    height: sps.height(),
                    timescale,
                    config: cfg.to_bytes(),
                }
            }
            StreamParams::H265(ps) => {
                let cfg = HevcDecoderConfig::from_parameter_sets(&ps.vps, &ps.sps, &ps.pps)
                    .map_err(|e| bad("VPS/SPS/PPS", &e))?;
                let config = cfg.to_bytes().map_err(|e| bad("hvcC", &e))?;
                let sps = cfg.sps_info();
                VideoConfig {
                    codec: VideoCodec::H265,
                    width: sps.width(),
                    height: sps.height(),
                    timescale,
                    config,
                }
            }
        })
    }
}

/// The parameter sets that go with one access unit.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FrameParams<'a> {
    /// Announced with this access unit: on the first one and whenever they changed.
    pub(super) announced: Option<&'a StreamParams>,
    /// The latest known (from the SDP or the stream).
    pub(super) current: Option<&'a StreamParams>,
}

/// The depacketizer of the fetched stream.
// One per download, never moved on the hot path.
#[allow(clippy::large_enum_variant)]
enum Depack {
    H264(H264Depacketizer),
    H265(H265Depacketizer),
}

/// One access unit out of [`Depack`], with its parameter sets.
struct Pulled {
    au: AccessUnit,
    announced: Option<StreamParams>,
    current: Option<StreamParams>,
}

impl Depack {
    fn push(&mut self, pkt: RtpPacket) -> bool {
        match self {
            Depack::H264(d) => d.push(pkt).is_ok(),
            Depack::H265(d) => d.push(pkt).is_ok(),
        }
    }

    /// The next access unit; at the end of the stream (`flush`), also the one being built.
    fn next(&mut self, flush: bool) -> Option<Pulled> {
        match self {
            Depack::H264(d) => {
                let au = if flush { d.flush() } else { d.pull() }?;
                Some(Pulled {
                    announced: au.new_parameters.clone().map(StreamParams::H264),
                    current: d.parameters().cloned().map(StreamParams::H264),
                    au,
                })
            }
            Depack::H265(d) => {
                let f = if flush { d.flush() } else { d.pull() }?;
                Some(Pulled {
                    au: f.au,
                    announced: f.new_parameters.map(StreamParams::H265),
                    current: d.parameters().map(StreamParams::H265),
                })
            }
        }
    }

    fn recycle(&mut self, au: AccessUnit) {
        match self {
            Depack::H264(d) => d.recycle(au),
            Depack::H265(d) => d.recycle(au),
        }
    }

    fn lost_packets(&self) -> u64 {
        match self {
            Depack::H264(d) => d.stats().lost_packets,
            Depack::H265(d) => d.stats().lost_packets,
        }
    }
}

/// What a replay session did, with its sink.
pub(super) struct Played<S> {
    pub(super) sink: S,
    pub(super) server: Option<String>,
    pub(super) play_range: Option<String>,
    pub(super) rate_control: bool,
    pub(super) refused: Option<String>,
    pub(super) ended_by: String,
    pub(super) lost_packets: u64,
}

/// PLAY options of a replay.
fn replay_play(t1: Nanos, t2: Nanos, rate_control: bool) -> Result<PlayOptions, ReplayError> {
    let ts = |n: Nanos| {
        jiff::Timestamp::from_nanosecond(i128::from(n)).map_err(|_| ReplayError::BadRange {
            start: show(t1),
            end: show(t2),
        })
    };
    Ok(PlayOptions {
        range: Range::Clock {
            start: ts(t1)?,
            end: Some(ts(t2)?),
        },
        rate_control: Some(rate_control),
        require: vec!["onvif-replay".to_string()],
        immediate: true,
        ..Default::default()
    })
}

fn no_profile_g(e: ClientError) -> ReplayError {
    match e {
        ClientError::Unsupported {
            status: status @ (551 | 459),
            unsupported,
            ..
        } => ReplayError::NoProfileG {
            status,
            unsupported,
        },
        e => ReplayError::Rtsp(e),
    }
}

/// The ONVIF replay PLAY, falling back to `Rate-Control: yes` when `no` is refused.
async fn onvif_play(
    client: &mut RtspClient,
    t1: Nanos,
    t2: Nanos,
    rate_control: &mut bool,
    refused: &mut Option<String>,
) -> Result<PlayReply, ReplayError> {
    Ok(
        match client.play(&replay_play(t1, t2, *rate_control)?).await {
            Ok(r) => r,
            Err(
                e @ ClientError::Unsupported {
                    status: 551 | 459, ..
                },
            ) => return Err(no_profile_g(e)),
            // 457 Invalid Range: nothing recorded there; real time would not help.
            Err(e) if e.status() == Some(457) => {
                return Err(ReplayError::NoRecording {
                    start: show(t1),
                    end: show(t2),
                    detail: format!("the device answered {e}"),
                });
            }
            Err(e) if !*rate_control && e.status().is_some() => {
                log::warn!("the device refused Rate-Control: no ({e}); fetching in real time");
                *refused = Some(e.to_string());
                *rate_control = true;
                client
                    .play(&replay_play(t1, t2, true)?)
                    .await
                    .map_err(no_profile_g)?
            }
            Err(e) => return Err(e.into()),
        },
    )
}

/// The audio streams of a presentation to set up for `choice`: the sections camwire records
/// (AAC, G.711; others are skipped, named in the log), the first or all of them.
fn audio_streams(
    p: &crate::rtsp::client::Presentation,
    choice: AudioChoice,
) -> Vec<(usize, AudioDepacketizer)> {
    let mut out = Vec::new();
    if choice == AudioChoice::No {
        return out;
    }
    for (i, s) in p.streams.iter().enumerate() {
        if !s.section.media.eq_ignore_ascii_case("audio") {
            continue;
        }
        match AudioDepacketizer::from_section(&s.section) {
            Ok(d) => {
                out.push((i, d));
                if choice == AudioChoice::First {
                    break;
                }
            }
            Err(e) => log::info!("replay audio stream {i} not fetched: {e}"),
        }
    }
    out
}

/// One audio stream of the session: its stream index, depacketizer and the latest 0xABAC
/// time its packets carried (wall clock, RTP time of that packet).
struct AudioStream {
    index: usize,
    depack: AudioDepacketizer,
    timed: Option<(Nanos, u32)>,
    errors: u64,
    /// Its RTCP BYE came.
    ended: bool,
}

impl AudioStream {
    /// Takes one RTP packet; the frames it completes go to `sink`.
    fn on_packet<S: Sink>(
        &mut self,
        lane: usize,
        data: bytes::Bytes,
        reference: Nanos,
        sink: &mut S,
    ) -> Result<(), ReplayError> {
        let Ok((pkt, ext)) = RtpPacket::parse_with_extension(data) else {
            return Ok(());
        };
        if let Some(x) = ext.and_then(|e| ReplayExtension::from_header(&e).ok())
            && x.has_time()
        {
            let w = super::extension::ntp_to_unix_nanos_near(x.ntp, reference);
            self.timed = Some((w, pkt.timestamp));
        }
        if let Err(e) = self.depack.push(pkt) {
            // The packet is dropped: a hole in the audio, not a failed fetch.
            self.errors += 1;
            if self.errors <= 10 {
                log::warn!("replay audio stream {}: {e}", self.index);
            }
        }
        let rate = self.depack.clock_rate();
        while let Some(frame) = self.depack.pull() {
            let own_wall = self.timed.map(|(w, ts)| {
                let step = (frame.timestamp as u32).wrapping_sub(ts) as i32;
                w.saturating_add(ticks_to_nanos(i64::from(step), rate))
            });
            sink.take_audio(AudioIn {
                lane,
                frame,
                own_wall,
                arrival: Instant::now(),
            })?;
        }
        Ok(())
    }
}

/// Longest the download goes on for audio after the video is over ([`Sink::audio_wanted`]).
const AUDIO_DRAIN: Duration = Duration::from_secs(3);

/// DESCRIBE, SETUP of the video and the audio streams [`FetchOptions::audio`] asks for, the
/// replay PLAY (with the Rate-Control fallback), then every access unit and audio frame
/// into the sink `make` builds (from the [`Session`]) until it, the device or the
/// connection ends the download.
pub(super) async fn play_into<S: Sink>(
    client: &mut RtspClient,
    t1: Nanos,
    t2: Nanos,
    opts: &FetchOptions,
    make: impl FnOnce(&Session<'_>) -> Result<S, ReplayError>,
) -> Result<Played<S>, ReplayError> {
    let (index, clock_rate, codec, sprop, fmtp, video_control, audio_found, controls) = {
        let p = client.describe().await?;
        let Some(i) = p.streams.iter().position(|s| {
            let v = &s.section;
            v.is_h264()
                || (v.media.eq_ignore_ascii_case("video") && section_codec(v) == VideoCodec::H265)
        }) else {
            let names: Vec<_> = p
                .streams
                .iter()
                .map(|s| format!("{}/{}", s.section.media, s.section.encoding))
                .collect();
            return Err(ReplayError::NoH264(names.join(", ")));
        };
        let s = &p.streams[i].section;
        let controls: Vec<String> = p.streams.iter().map(|s| s.control.to_string()).collect();
        (
            i,
            s.clock_rate.max(1),
            section_codec(s),
            s.fmtp_param("sprop-parameter-sets").map(str::to_string),
            fmtp_line(s),
            p.streams[i].control.to_string(),
            audio_streams(p, opts.audio),
            controls,
        )
    };
    client.setup(index, SetupTransport::Tcp).await?;
    let mut audio: Vec<AudioStream> = Vec::new();
    for (i, depack) in audio_found {
        // An audio stream the device will not set up costs the audio, not the footage.
        match client.setup(i, SetupTransport::Tcp).await {
            Ok(_) => audio.push(AudioStream {
                index: i,
                depack,
                timed: None,
                errors: 0,
                ended: false,
            }),
            Err(e) if e.status().is_some() => {
                log::warn!("replay audio stream {i}: SETUP refused ({e}); video only");
            }
            Err(e) => return Err(e.into()),
        }
    }

    let mut refused = None;
    let mut rate_control = !opts.fast;
    let reply = if opts.vendor.is_some() {
        // The window is in the URL; the device plays at its own pace.
        rate_control = true;
        client.play(&PlayOptions::default()).await?
    } else {
        onvif_play(client, t1, t2, &mut rate_control, &mut refused).await?
    };

    let count = 1 + audio.len();
    let video_rtptime = if audio.is_empty() {
        reply.rtp_info.first().and_then(|i| i.rtptime)
    } else {
        rtptime_of(&reply.rtp_info, &video_control, 0, count)
    };
    let session = Session {
        clock_rate,
        reply: &reply,
        video_rtptime,
        audio: audio
            .iter()
            .enumerate()
            .map(|(n, a)| AudioLane {
                config: a.depack.config(),
                rtptime: controls
                    .get(a.index)
                    .and_then(|c| rtptime_of(&reply.rtp_info, c, n + 1, count)),
            })
            .collect(),
    };
    let mut asm = make(&session)?;
    // 0xABAC times of audio packets are placed in the era nearest this.
    let reference = reply
        .range
        .as_deref()
        .and_then(clock_range_start)
        .unwrap_or(t1);
    let depack_opts = DepacketizerOptions {
        // Replay comes over TCP: nothing to reorder.
        reorder_window: 0,
        ..Default::default()
    };
    let mut depack = match codec {
        VideoCodec::H264 => Depack::H264(H264Depacketizer::new(depack_opts, sprop.as_deref())),
        VideoCodec::H265 => Depack::H265(H265Depacketizer::new(
            h265_options(&depack_opts),
            &H265Fmtp::parse(&fmtp),
        )),
    };
    // 0xABAC facts of the access units being built, by RTP timestamp, in arrival order.
    let mut infos: std::collections::VecDeque<(u32, AuInfo)> = Default::default();
    let mut any_frame = false;
    let ended_by = 'recv: loop {
        let wait = if any_frame {
            opts.idle_timeout
        } else {
            opts.first_frame_timeout
        };
        let packet = match tokio::time::timeout(wait, client.next()).await {
            Err(_) => break format!("no data for {} s", wait.as_secs_f64()),
            Ok(r) => match r? {
                None => break "connection closed".to_string(),
                Some(p) => p,
            },
        };
        let data = match packet {
            Packet::Rtcp { stream, data } => {
                // An audio stream's BYE (its source may reach the end first) ends only it.
                if parse_compound(&data) == Some(RtcpEvent::Bye) {
                    if stream == index {
                        break "RTCP BYE".to_string();
                    }
                    if let Some(a) = audio.iter_mut().find(|a| a.index == stream) {
                        a.ended = true;
                    }
                }
                continue;
            }
            Packet::Rtp { stream, data } if stream == index => data,
            Packet::Rtp { stream, data } => {
                if let Some(lane) = audio.iter().position(|a| a.index == stream) {
                    audio[lane].on_packet(lane, data, reference, &mut asm)?;
                }
                continue;
            }
        };
        let arrival = Instant::now();
        let Ok((pkt, ext)) = RtpPacket::parse_with_extension(data) else {
            continue;
        };
        let x = ext.and_then(|e| ReplayExtension::from_header(&e).ok());
        match infos.back_mut() {
            Some((ts, info)) if *ts == pkt.timestamp => info.add(x),
            _ => {
                let mut info = AuInfo {
                    arrival: Some(arrival),
                    ..AuInfo::default()
                };
                info.add(x);
                infos.push_back((pkt.timestamp, info));
                // Bounded: entries of access units the depacketizer dropped are popped
                // below; a stream that never completes one must not grow this forever.
                if infos.len() > 1024 {
                    infos.pop_front();
                }
            }
        }
        if !depack.push(pkt) {
            // Counted in the depacketizer's stats; it resumes at the next keyframe.
        }
        while let Some(mut p) = depack.next(false) {
            any_frame = true;
            let info = take_info(&mut infos, p.au.timestamp);
            let params = FrameParams {
                announced: p.announced.as_ref(),
                current: p.current.as_ref(),
            };
            let stop = asm.take(&mut p.au, info, params)?;
            depack.recycle(p.au);
            if let Some(why) = stop {
                break 'recv why;
            }
        }
    };
    if !asm.done() {
        while let Some(mut p) = depack.next(true) {
            let info = take_info(&mut infos, p.au.timestamp);
            let params = FrameParams {
                announced: p.announced.as_ref(),
                current: p.current.as_ref(),
            };
            if asm.take(&mut p.au, info, params)?.is_some() {
                break;
            }
        }
    }
    // The video is over; audio the device sends behind it is still the window's.
    let drain_until = Instant::now() + AUDIO_DRAIN;
    while asm.audio_wanted() {
        let left = drain_until.saturating_duration_since(Instant::now());
        let Ok(Ok(Some(packet))) = tokio::time::timeout(left, client.next()).await else {
            break;
        };
        match packet {
            Packet::Rtp { stream, data } => {
                if let Some(lane) = audio.iter().position(|a| a.index == stream) {
                    audio[lane].on_packet(lane, data, reference, &mut asm)?;
                }
            }
            Packet::Rtcp { stream, data } => {
                if parse_compound(&data) == Some(RtcpEvent::Bye)
                    && let Some(a) = audio.iter_mut().find(|a| a.index == stream)
                {
                    a.ended = true;
                }
            }
        }
        if audio.iter().all(|a| a.ended) {
            break;
        }
    }
    Ok(Played {
        sink: asm,
        server: client.server().map(str::to_string),
        play_range: reply.range.clone(),
        rate_control,
        refused,
        ended_by,
        lost_packets: depack.lost_packets(),
    })
}

/// How the session went, for the manifest.
struct Ended<'a> {
    url: &'a CameraUrl,
    server: Option<&'a str>,
    play_range: Option<String>,
    rate_control: bool,
    refused: Option<String>,
    ended_by: String,
    wall: Duration,
}

/// The 0xABAC facts of one access unit (over all its packets).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AuInfo {
    /// The first time any of its packets carried.
    pub(super) ntp: Option<u64>,
    pub(super) flags: u8,
    reserved: bool,
    cseq: Option<u8>,
    /// When its first packet arrived (places audio by arrival, the last resort).
    pub(super) arrival: Option<Instant>,
}

impl AuInfo {
    fn add(&mut self, x: Option<ReplayExtension>) {
        if let Some(x) = x {
            if self.ntp.is_none() && x.has_time() {
                self.ntp = Some(x.ntp);
            }
            self.flags |= x.flags();
            self.reserved |= x.reserved != 0;
            self.cseq.get_or_insert(x.cseq);
        }
    }
}

/// The facts of the access unit with RTP timestamp `ts` (entries before it belonged to
/// access units that were dropped).
fn take_info(infos: &mut std::collections::VecDeque<(u32, AuInfo)>, ts: i64) -> AuInfo {
    let ts = ts as u32;
    while let Some((t, info)) = infos.pop_front() {
        if t == ts {
            return info;
        }
    }
    AuInfo::default()
}

/// One access unit in AVC form, held before T1.
struct Held {
    bytes: Vec<u8>,
    wall: Nanos,
    rtp: i64,
    sync: bool,
    gap_before: Option<(Nanos, Nanos)>,
}

/// One piece of the output file.
enum Piece {
    /// Bytes built here (ftyp, moov, fragment headers).
    Head(Vec<u8>),
    /// The next this many bytes of the spool.
    Spool(u64),
    /// The next this many bytes of the spool of audio lane `.0` of the clip.
    Audio(usize, u64),
}

/// Audio bytes held before the clip starts, beyond which the oldest are dropped.
const MAX_HELD_AUDIO_BYTES: usize = 16 << 20;

/// One audio frame stored in a lane's spool.
#[derive(Clone, Copy, Debug)]
struct AudioSample {
    wall: Nanos,
    ts: i64,
    size: u32,
    samples: u32,
}

/// One audio frame held before the clip starts.
struct HeldAudio {
    lane: usize,
    wall: Nanos,
    ts: i64,
    samples: u32,
    bytes: Vec<u8>,
}

/// One audio lane of the clip being assembled: its frames spooled to their own file.
struct AudioStore {
    config: AudioConfig,
    spool_path: PathBuf,
    spool: Option<BufWriter<File>>,
    samples: Vec<AudioSample>,
    /// Any frame came.
    received: bool,
    /// The end of the latest frame placed (stored or not).
    reached: Nanos,
}

/// One audio track as written: its samples, chunks (one per video chunk it has samples
/// in: (count, bytes) per video chunk), edit and presented range.
struct LaneOut {
    lane: usize,
    track_id: u32,
    samples: Vec<ClipSample>,
    per_chunk: Vec<ChunkLayout>,
    chunks: Vec<ChunkLayout>,
    edit: AudioEdit,
    start: Nanos,
    end: Nanos,
}

/// Turns timed access units into the spooled samples of the clip.
struct Assembler {
    progress: Option<Arc<dyn Fn(FetchProgress) + Send + Sync>>,
    began: Instant,
    reported: Instant,
    t1: Nanos,
    t2: Nanos,
    clock_rate: u32,
    gap_threshold: Nanos,
    camera_id: Option<String>,
    device: Option<DeviceOrigin>,
    vendor: Option<super::Vendor>,
    out: PathBuf,
    spool_path: PathBuf,
    spool: Option<BufWriter<File>>,
    timing: Timing,
    audio: Vec<AudioStore>,
    placer: AudioPlacer,
    held_audio: std::collections::VecDeque<HeldAudio>,
    held_audio_bytes: usize,
    /// The previous access unit kept (held or stored): wall, RTP, E flag.
    prev: Option<(Nanos, i64, bool)>,
    /// Nominal frame duration, nanoseconds (last plain step between frames).
    nominal: Nanos,
    held: Vec<Held>,
    held_bytes: usize,
    track: Option<(VideoConfig, StreamParams)>,
    samples: Vec<ClipSample>,
    chunks: Vec<ChunkLayout>,
    /// Wall clock of each chunk's first sample (the `prft` of a fragmented clip).
    chunk_walls: Vec<Nanos>,
    fragmented: bool,
    first_wall: Nanos,
    last_wall: Nanos,
    last_rtp: i64,
    display: Option<(usize, Nanos)>,
    gaps: Vec<(Nanos, Nanos)>,
    avc: Vec<u8>,
    received: u64,
    not_stored: u64,
    flags: FlagCounts,
    lost_packets: u64,
    done: bool,
}

impl Assembler {
    fn new(
        t1: Nanos,
        t2: Nanos,
        session: &Session<'_>,
        opts: &FetchOptions,
        out: &Path,
    ) -> Result<Assembler, ReplayError> {
        let clock_rate = session.clock_rate;
        let spool_path = sibling(out, "spool");
        Ok(Assembler {
            progress: opts.progress.clone(),
            began: Instant::now(),
            reported: Instant::now(),
            t1,
            t2,
            clock_rate,
            gap_threshold: i64::try_from(opts.gap_threshold.as_nanos()).unwrap_or(i64::MAX),
            camera_id: opts.camera_id.clone(),
            device: opts.device.clone(),
            vendor: opts.vendor,
            out: out.to_path_buf(),
            spool_path,
            spool: None,
            timing: Timing::new(t1, session),
            audio: session
                .audio
                .iter()
                .enumerate()
                .map(|(n, l)| AudioStore {
                    config: l.config.clone(),
                    spool_path: sibling(out, &format!("spool-a{n}")),
                    spool: None,
                    samples: Vec::new(),
                    received: false,
                    reached: Nanos::MIN,
                })
                .collect(),
            placer: AudioPlacer::new(&session.audio, clock_rate, session.video_rtptime),
            held_audio: Default::default(),
            held_audio_bytes: 0,
            prev: None,
            nominal: 40_000_000,
            held: Vec::new(),
            held_bytes: 0,
            track: None,
            samples: Vec::new(),
            chunks: Vec::new(),
            chunk_walls: Vec::new(),
            fragmented: opts.format == OutputFormat::Fragmented,
            first_wall: 0,
            last_wall: 0,
            last_rtp: 0,
            display: None,
            gaps: Vec::new(),
            avc: Vec::new(),
            received: 0,
            not_stored: 0,
            flags: FlagCounts::default(),
            lost_packets: 0,
            done: false,
        })
    }

    /// The wall clock of an access unit.
    fn wall_of(&mut self, au: &AccessUnit, info: &AuInfo) -> Nanos {
        self.timing.wall_of(au, info)
    }
}

/// Access units' wall clocks: 0xABAC when present, else RTP from the last anchor.
pub(super) struct Timing {
    t1: Nanos,
    clock_rate: u32,
    /// (wall, RTP) of the last timed access unit, or of the PLAY answer's clock range start.
    anchor: Option<(Nanos, Option<i64>)>,
    pub(super) with_ext: u64,
    pub(super) without_ext: u64,
}

impl Timing {
    pub(super) fn new(t1: Nanos, session: &Session<'_>) -> Timing {
        let clock_rate = session.clock_rate;
        let anchor = session
            .reply
            .range
            .as_deref()
            .and_then(clock_range_start)
            .map(|w| (w, session.video_rtptime.map(i64::from)));
        Timing {
            t1,
            clock_rate,
            anchor,
            with_ext: 0,
            without_ext: 0,
        }
    }

    /// The wall clock of `au`, Unix nanoseconds.
    pub(super) fn wall_of(&mut self, au: &AccessUnit, info: &AuInfo) -> Nanos {
        let reference = self.anchor.map_or(self.t1, |a| a.0);
        if let Some(ntp) = info.ntp {
            self.with_ext += 1;
            let w = super::extension::ntp_to_unix_nanos_near(ntp, reference);
            self.anchor = Some((w, Some(au.timestamp)));
            return w;
        }
        self.without_ext += 1;
        match self.anchor {
            Some((w, Some(rtp))) => {
                // Signed 32-bit RTP difference: the anchor may be RTP-Info's 32-bit value.
                let step = (au.timestamp as u32).wrapping_sub(rtp as u32) as i32;
                w + ticks_to_nanos(i64::from(step), self.clock_rate)
            }
            Some((w, None)) => {
                self.anchor = Some((w, Some(au.timestamp)));
                w
            }
            None => {
                self.anchor = Some((self.t1, Some(au.timestamp)));
                self.t1
            }
        }
    }
}

impl Assembler {
    /// Takes one access unit; `Some(reason)` when the download should stop.
    fn push(
        &mut self,
        au: &AccessUnit,
        info: AuInfo,
        params: FrameParams<'_>,
    ) -> Result<Option<String>, ReplayError> {
        if self.done {
            return Ok(Some("done".into()));
        }
        self.received += 1;
        let f = &mut self.flags;
        f.clean_points += u64::from(info.flags & super::extension::FLAG_C != 0);
        f.discontinuities += u64::from(info.flags & super::extension::FLAG_D != 0);
        f.ends_of_section += u64::from(info.flags & super::extension::FLAG_E != 0);
        f.terminal += u64::from(info.flags & super::extension::FLAG_T != 0);
        f.reserved_bits += u64::from(info.reserved);
        if let Some(c) = info.cseq
            && f.cseqs.last() != Some(&c)
            && f.cseqs.len() < 16
        {
            f.cseqs.push(c);
        }
        let wall = self.wall_of(au, &info);
        self.placer.on_video(wall, au.timestamp, info.arrival);
        let terminal = info.flags & super::extension::FLAG_T != 0;
        if wall >= self.t2 {
            self.not_stored += 1;
            self.done = true;
            return Ok(Some("end time reached".into()));
        }
        // A gap between the previous kept frame and this one?
        let mut gap_before = None;
        if let Some((pw, prtp, pe)) = self.prev {
            let step = wall - pw;
            let rtp_step = au.timestamp - prtp;
            let flagged = info.flags & super::extension::FLAG_D != 0 || pe;
            if (flagged && step > self.nominal + self.nominal / 2)
                || step.abs() >= self.gap_threshold
            {
                if step > 0 {
                    gap_before = Some((pw + self.nominal, wall));
                }
            } else if rtp_step > 0 {
                self.nominal = ticks_to_nanos(rtp_step, self.clock_rate);
            }
        }
        self.avc.clear();
        au.write_avc(&mut self.avc);
        let e = info.flags & super::extension::FLAG_E != 0;

        if self.spool.is_none() {
            // Before the clip starts: hold the GOP from the last keyframe at or before T1.
            if au.keyframe && (wall <= self.t1 || self.held.is_empty()) {
                self.not_stored += self.held.len() as u64;
                self.held.clear();
                self.held_bytes = 0;
                gap_before = None;
            }
            if self.held.is_empty() && !au.keyframe {
                self.not_stored += 1;
                self.prev = None;
                return Ok(terminal.then(|| "terminal flag (T)".into()));
            }
            self.held_bytes += self.avc.len();
            self.held.push(Held {
                bytes: std::mem::take(&mut self.avc),
                wall,
                rtp: au.timestamp,
                sync: au.keyframe,
                gap_before,
            });
            self.prev = Some((wall, au.timestamp, e));
            if self.held_bytes > MAX_PREROLL_BYTES {
                log::warn!("pre-roll above {MAX_PREROLL_BYTES} bytes: dropped");
                self.not_stored += self.held.len() as u64;
                self.held.clear();
                self.held_bytes = 0;
            }
            // Footage that ends (T) before T1 gives nothing to show: no recording.
            if wall > self.t1 || (terminal && wall + self.nominal > self.t1) {
                self.start(params.current, wall)?;
            }
            return Ok(terminal.then(|| "terminal flag (T)".into()));
        }
        if let (Some(ps), Some((_, have))) = (params.announced, &self.track)
            && ps != have
        {
            return Err(ReplayError::ParameterSetsChanged {
                at: show(wall),
                start: show(self.t1),
                end: show(self.t2),
            });
        }
        let bytes = std::mem::take(&mut self.avc);
        self.store(&bytes, wall, au.timestamp, au.keyframe, gap_before)?;
        self.avc = bytes;
        self.prev = Some((wall, au.timestamp, e));
        if terminal {
            self.done = true;
            return Ok(Some("terminal flag (T)".into()));
        }
        Ok(None)
    }

    /// Opens the spool and stores the held pre-roll.
    fn start(&mut self, params: Option<&StreamParams>, at: Nanos) -> Result<(), ReplayError> {
        let Some(ps) = params else {
            return Err(ReplayError::BadParameters(format!(
                "no SPS/PPS (VPS/SPS/PPS for H.265) before the frame at {}",
                show(at)
            )));
        };
        self.track = Some((ps.video_config(self.clock_rate)?, ps.clone()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&self.spool_path)
            .map_err(|e| ExportError::io(&self.spool_path, e))?;
        self.spool = Some(BufWriter::with_capacity(256 << 10, file));
        for h in std::mem::take(&mut self.held) {
            self.store(&h.bytes, h.wall, h.rtp, h.sync, h.gap_before)?;
        }
        self.held_bytes = 0;
        // The first shown frame is known now: the audio held for it can be cut to it.
        for h in std::mem::take(&mut self.held_audio) {
            self.store_audio(h.lane, h.wall, h.ts, h.samples, &h.bytes)?;
        }
        self.held_audio_bytes = 0;
        Ok(())
    }

    /// Stores every audio frame the placer can place now.
    fn drain_audio(&mut self) -> Result<(), ReplayError> {
        while let Some(Placed { lane, frame, wall }) = self.placer.pop() {
            let Some(st) = self.audio.get_mut(lane) else {
                continue;
            };
            let rate = st.config.timescale;
            st.received = true;
            st.reached = wall.saturating_add(ticks_to_nanos(i64::from(frame.samples), rate));
            if self.spool.is_none() {
                let bytes = frame.to_vec();
                self.held_audio_bytes += bytes.len();
                self.held_audio.push_back(HeldAudio {
                    lane,
                    wall,
                    ts: frame.timestamp,
                    samples: frame.samples,
                    bytes,
                });
                while self.held_audio_bytes > MAX_HELD_AUDIO_BYTES {
                    let Some(h) = self.held_audio.pop_front() else {
                        break;
                    };
                    self.held_audio_bytes -= h.bytes.len();
                }
                continue;
            }
            let bytes = frame.to_vec();
            self.store_audio(lane, wall, frame.timestamp, frame.samples, &bytes)?;
        }
        Ok(())
    }

    /// Spools one audio frame of `lane` if it overlaps what the clip presents: from the
    /// first shown frame on, starting before T2 (the end is cut to the video's in `write`).
    fn store_audio(
        &mut self,
        lane: usize,
        wall: Nanos,
        ts: i64,
        samples: u32,
        bytes: &[u8],
    ) -> Result<(), ReplayError> {
        let Some((_, display_wall)) = self.display else {
            return Ok(());
        };
        let Some(st) = self.audio.get_mut(lane) else {
            return Ok(());
        };
        let end = wall.saturating_add(ticks_to_nanos(i64::from(samples), st.config.timescale));
        if end <= display_wall || wall >= self.t2 || bytes.is_empty() {
            return Ok(());
        }
        if st.spool.is_none() {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .read(true)
                .create_new(true)
                .open(&st.spool_path)
                .map_err(|e| ExportError::io(&st.spool_path, e))?;
            st.spool = Some(BufWriter::with_capacity(64 << 10, file));
        }
        if let Some(spool) = st.spool.as_mut() {
            spool
                .write_all(bytes)
                .map_err(|e| ExportError::io(&st.spool_path, e))?;
        }
        let size = u32::try_from(bytes.len()).map_err(|_| ExportError::TooLarge("audio frame"))?;
        st.samples.push(AudioSample {
            wall,
            ts,
            size,
            samples,
        });
        Ok(())
    }

    fn store(
        &mut self,
        bytes: &[u8],
        wall: Nanos,
        rtp: i64,
        sync: bool,
        gap_before: Option<(Nanos, Nanos)>,
    ) -> Result<(), ReplayError> {
        let Some(spool) = self.spool.as_mut() else {
            return Ok(());
        };
        spool
            .write_all(bytes)
            .map_err(|e| ExportError::io(&self.spool_path, e))?;
        let size = u32::try_from(bytes.len()).map_err(|_| ExportError::TooLarge("frame"))?;
        if let Some(prev) = self.samples.last_mut() {
            let rtp_step = rtp - self.last_rtp;
            let wall_step = wall - self.last_wall;
            let ticks = if gap_before.is_some() || rtp_step <= 0 || rtp_step > i64::from(u32::MAX) {
                nanos_to_ticks(wall_step, self.clock_rate)
            } else {
                rtp_step
            };
            prev.duration = u32::try_from(ticks.max(1)).unwrap_or(u32::MAX);
        } else {
            self.first_wall = wall;
        }
        if let Some(g) = gap_before {
            self.gaps.push(g);
        }
        let n = self.samples.len();
        // The frame showing at T1: the last one starting at or before it, else the first.
        if wall <= self.t1 || self.display.is_none() {
            self.display = Some((n, wall));
        }
        self.samples.push(ClipSample {
            size,
            duration: u32::try_from(nanos_to_ticks(self.nominal, self.clock_rate).max(1))
                .unwrap_or(1),
            sync,
            cto: 0,
        });
        match self.chunks.last_mut() {
            Some(c) if !sync && c.count < CHUNK_SAMPLES => {
                c.count += 1;
                c.bytes += u64::from(size);
            }
            _ => {
                self.chunks.push(ChunkLayout {
                    count: 1,
                    bytes: u64::from(size),
                });
                self.chunk_walls.push(wall);
            }
        }
        self.last_wall = wall;
        self.last_rtp = rtp;
        if self.reported.elapsed() >= Duration::from_millis(200) {
            self.report();
        }
        Ok(())
    }

    fn report(&mut self) {
        self.reported = Instant::now();
        if let Some(p) = &self.progress {
            p(FetchProgress {
                media_done_secs: ((self.last_wall - self.t1).max(0)) as f64 / 1e9,
                media_total_secs: (self.t2 - self.t1) as f64 / 1e9,
                wall_secs: self.began.elapsed().as_secs_f64(),
                frames: self.samples.len() as u64,
            });
        }
    }

    fn finish(mut self, how: &Ended<'_>) -> Result<FetchSummary, ReplayError> {
        if !self.samples.is_empty() {
            self.report();
        }
        // Footage that ends before T1 still gives its last GOP (the frame showing at T1).
        if self.spool.is_none() && !self.held.is_empty() {
            let at = self.held.last().map_or(self.t1, |h| h.wall);
            return Err(ReplayError::NoRecording {
                start: show(self.t1),
                end: show(self.t2),
                detail: format!("the footage sent ends at {} (before the start)", show(at)),
            });
        }
        let (Some(spool), Some((track, _)), Some((display_index, display_wall))) =
            (self.spool.take(), self.track.take(), self.display)
        else {
            return Err(ReplayError::NoRecording {
                start: show(self.t1),
                end: show(self.t2),
                detail: format!(
                    "{} frames received, none to store ({})",
                    self.received, how.ended_by
                ),
            });
        };
        let spool_file = spool
            .into_inner()
            .map_err(|e| ExportError::io(&self.spool_path, e.into_error()));
        let mut audio_files = Vec::with_capacity(self.audio.len());
        let mut audio_err = None;
        for st in &mut self.audio {
            match st.spool.take().map(BufWriter::into_inner) {
                None => audio_files.push(None),
                Some(Ok(f)) => audio_files.push(Some(f)),
                Some(Err(e)) => {
                    audio_err.get_or_insert(ExportError::io(&st.spool_path, e.into_error()));
                    audio_files.push(None);
                }
            }
        }
        let result = match (spool_file, audio_err) {
            (Ok(f), None) => self.write(
                f,
                &mut audio_files,
                &track,
                display_index,
                display_wall,
                how,
            ),
            (Err(e), _) | (_, Some(e)) => Err(e.into()),
        };
        let _ = std::fs::remove_file(&self.spool_path);
        for st in &self.audio {
            let _ = std::fs::remove_file(&st.spool_path);
        }
        result
    }

    /// The audio tracks of the clip: each lane's frames that start before `end_wall`, with
    /// their durations (RTP steps, or the wall-clock step where RTP disagrees with it by
    /// more than half a second: a hole or a jump, which the sample before stretches over),
    /// its edit list from the first shown frame (`display_wall`) and its chunks along the
    /// video's chunks. A lane with nothing inside the presentation is left out.
    fn audio_out(&self, display_wall: Nanos, end_wall: Nanos) -> Vec<LaneOut> {
        let vts = self.clock_rate;
        let mut out: Vec<LaneOut> = Vec::new();
        for (lane, st) in self.audio.iter().enumerate() {
            let keep = st.samples.iter().take_while(|a| a.wall < end_wall).count();
            let kept = st.samples.get(..keep).unwrap_or_default();
            let Some(first) = kept.first() else {
                continue;
            };
            let rate = st.config.timescale.max(1);
            let samples: Vec<ClipSample> = kept
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let dur = match kept.get(i + 1) {
                        Some(n) => {
                            let rtp = n.ts - a.ts;
                            let wall = nanos_to_ticks(n.wall - a.wall, rate);
                            if rtp > 0 && (rtp - wall).abs() <= i64::from(rate) / 2 {
                                rtp
                            } else {
                                wall
                            }
                        }
                        None => i64::from(a.samples),
                    };
                    ClipSample {
                        size: a.size,
                        duration: u32::try_from(dur.max(1)).unwrap_or(u32::MAX),
                        sync: true,
                        cto: 0,
                    }
                })
                .collect();
            let out_time: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
            let fw = first.wall;
            let start = fw.max(display_wall);
            let end = fw
                .saturating_add(ticks_to_nanos(
                    i64::try_from(out_time).unwrap_or(i64::MAX),
                    rate,
                ))
                .min(end_wall);
            if end <= start {
                continue;
            }
            let edit = AudioEdit {
                empty: u64::try_from(nanos_to_ticks(fw.saturating_sub(display_wall), vts))
                    .unwrap_or(0),
                media_time: u64::try_from(nanos_to_ticks(display_wall.saturating_sub(fw), rate))
                    .unwrap_or(0)
                    .min(out_time.saturating_sub(1)),
                duration: u64::try_from(nanos_to_ticks(end - start, vts))
                    .unwrap_or(0)
                    .max(1),
            };
            // Along the video's chunks: an audio frame goes with the chunk it starts in.
            let mut per_chunk = vec![ChunkLayout { count: 0, bytes: 0 }; self.chunks.len()];
            let mut c = 0usize;
            for (a, cs) in kept.iter().zip(&samples) {
                while self.chunk_walls.get(c + 1).is_some_and(|&w| a.wall >= w) {
                    c += 1;
                }
                if let Some(pc) = per_chunk.get_mut(c) {
                    pc.count += 1;
                    pc.bytes += u64::from(cs.size);
                }
            }
            let chunks = per_chunk.iter().copied().filter(|c| c.count > 0).collect();
            out.push(LaneOut {
                lane,
                track_id: audio_track_id(out.len()),
                samples,
                per_chunk,
                chunks,
                edit,
                start,
                end,
            });
        }
        out
    }

    fn write(
        &mut self,
        mut spool: File,
        audio_files: &mut [Option<File>],
        track: &VideoConfig,
        display_index: usize,
        display_wall: Nanos,
        how: &Ended<'_>,
    ) -> Result<FetchSummary, ReplayError> {
        let ts = self.clock_rate;
        let last_dur = self.samples.last().map_or(0, |s| i64::from(s.duration));
        let end_wall = self.t2.min(self.last_wall + ticks_to_nanos(last_dur, ts));
        let media_time: u64 = self
            .samples
            .get(..display_index)
            .unwrap_or_default()
            .iter()
            .map(|s| u64::from(s.duration))
            .sum();
        let edit = Edit {
            media_time,
            duration: u64::try_from(nanos_to_ticks(end_wall - display_wall, ts).max(0))
                .unwrap_or(0),
        };
        let lanes = self.audio_out(display_wall, end_wall);
        let payload: u64 = self.chunks.iter().map(|c| c.bytes).sum::<u64>()
            + lanes
                .iter()
                .flat_map(|l| &l.chunks)
                .map(|c| c.bytes)
                .sum::<u64>();
        // The file as pieces in order: headers built here, runs of spooled sample bytes:
        // each video chunk, then the audio of its time, lane by lane (without audio, the
        // video chunks back to back: the layout the clip always had).
        let mut pieces: Vec<Piece> = Vec::new();
        let mut head = Vec::new();
        ftyp(&mut head, self.fragmented);
        if self.fragmented {
            let media_duration = self.samples.iter().map(|s| u64::from(s.duration)).sum();
            head.extend_from_slice(&fragmented_av_moov(
                track,
                edit,
                media_duration,
                &clip_audio(&lanes, &self.audio, &[]),
            ));
            pieces.push(Piece::Head(head));
            let (mut first, mut dts) = (0usize, 0u64);
            let mut a_first = vec![0usize; lanes.len()];
            let mut a_dts = vec![0u64; lanes.len()];
            for (n, (c, &wall)) in self.chunks.iter().zip(&self.chunk_walls).enumerate() {
                let samples = self
                    .samples
                    .get(first..first + c.count as usize)
                    .unwrap_or_default();
                let mut trafs = vec![TrafRun {
                    track_id: TRACK_ID,
                    base_dts: dts,
                    samples,
                }];
                let mut audio_pieces = Vec::new();
                for (k, l) in lanes.iter().enumerate() {
                    let pc = l
                        .per_chunk
                        .get(n)
                        .copied()
                        .unwrap_or(ChunkLayout { count: 0, bytes: 0 });
                    if pc.count == 0 {
                        continue;
                    }
                    let run = l
                        .samples
                        .get(a_first[k]..a_first[k] + pc.count as usize)
                        .unwrap_or_default();
                    trafs.push(TrafRun {
                        track_id: l.track_id,
                        base_dts: a_dts[k],
                        samples: run,
                    });
                    a_first[k] += pc.count as usize;
                    a_dts[k] += run.iter().map(|s| u64::from(s.duration)).sum::<u64>();
                    audio_pieces.push(Piece::Audio(k, pc.bytes));
                }
                let mut h = Vec::new();
                let seq = u32::try_from(n + 1).unwrap_or(u32::MAX);
                fragment_header_tracks(&mut h, seq, &trafs, Some(nanos_to_ntp(wall)));
                pieces.push(Piece::Head(h));
                pieces.push(Piece::Spool(c.bytes));
                pieces.extend(audio_pieces);
                first += c.count as usize;
                dts += samples.iter().map(|s| u64::from(s.duration)).sum::<u64>();
            }
        } else {
            // Chunk offsets of the video and of each audio lane, the payload from `start`.
            let layout = |start: u64| -> (Vec<u64>, Vec<Vec<u64>>) {
                let mut off = start;
                let mut video = Vec::with_capacity(self.chunks.len());
                let mut audio = vec![Vec::new(); lanes.len()];
                for (n, c) in self.chunks.iter().enumerate() {
                    video.push(off);
                    off = off.saturating_add(c.bytes);
                    for (k, l) in lanes.iter().enumerate() {
                        if let Some(pc) = l.per_chunk.get(n).filter(|pc| pc.count > 0) {
                            audio[k].push(off);
                            off = off.saturating_add(pc.bytes);
                        }
                    }
                }
                (video, audio)
            };
            let moov = |start: u64, co64: bool| {
                let (video, audio) = layout(start);
                progressive_av_moov(
                    track,
                    &self.samples,
                    &self.chunks,
                    &video,
                    edit,
                    &clip_audio(&lanes, &self.audio, &audio),
                    co64,
                )
            };
            let mdat_len = mdat_header_len(payload);
            let mut start = head.len() as u64 + moov(0, false).len() as u64 + mdat_len;
            let co64 = start.saturating_add(payload) > u64::from(u32::MAX);
            if co64 {
                start = head.len() as u64 + moov(0, true).len() as u64 + mdat_len;
            }
            head.extend_from_slice(&moov(start, co64));
            mdat_header(&mut head, payload);
            pieces.push(Piece::Head(head));
            for (n, c) in self.chunks.iter().enumerate() {
                pieces.push(Piece::Spool(c.bytes));
                for (k, l) in lanes.iter().enumerate() {
                    if let Some(pc) = l.per_chunk.get(n).filter(|pc| pc.count > 0) {
                        pieces.push(Piece::Audio(k, pc.bytes));
                    }
                }
            }
        }

        let tmp = sibling(&self.out, "part");
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| ExportError::io(&p, e)
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        // Sample bytes are stored in clip order (the `mdat` payloads front to back), so the
        // media hash is the hash of every non-header piece, in order: what `verify` reads
        // back through the sample tables of all tracks sorted by offset.
        let written = (|| -> Result<(u64, String, String), ExportError> {
            use std::io::Seek;
            let mut w = BufWriter::with_capacity(256 << 10, file);
            let mut hash = Sha256::new();
            let mut media = Sha256::new();
            let mut size = 0u64;
            spool
                .seek(std::io::SeekFrom::Start(0))
                .map_err(io(&self.spool_path))?;
            for l in &lanes {
                let path = &self.audio[l.lane].spool_path;
                if let Some(Some(f)) = audio_files.get_mut(l.lane) {
                    f.seek(std::io::SeekFrom::Start(0)).map_err(io(path))?;
                }
            }
            let mut buf = vec![0u8; 256 << 10];
            for piece in &pieces {
                let (src, path, mut left): (&mut File, &Path, u64) = match piece {
                    Piece::Head(h) => {
                        w.write_all(h).map_err(io(&tmp))?;
                        hash.update(h);
                        size += h.len() as u64;
                        continue;
                    }
                    &Piece::Spool(n) => (&mut spool, &self.spool_path, n),
                    &Piece::Audio(k, n) => {
                        let lane = lanes.get(k).map_or(usize::MAX, |l| l.lane);
                        let path = self
                            .audio
                            .get(lane)
                            .map_or(self.spool_path.as_path(), |a| a.spool_path.as_path());
                        let Some(Some(f)) = audio_files.get_mut(lane) else {
                            return Err(ExportError::io(
                                path,
                                std::io::Error::other("audio spool missing"),
                            ));
                        };
                        (f, path, n)
                    }
                };
                while left > 0 {
                    let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(0);
                    let b = buf.get_mut(..n).unwrap_or_default();
                    src.read_exact(b).map_err(io(path))?;
                    w.write_all(b).map_err(io(&tmp))?;
                    hash.update(&*b);
                    media.update(&*b);
                    size += n as u64;
                    left -= n as u64;
                }
            }
            let f = w
                .into_inner()
                .map_err(|e| ExportError::io(&tmp, e.into_error()))?;
            f.sync_all().map_err(io(&tmp))?;
            Ok((size, hex(&hash.finalize()), hex(&media.finalize())))
        })()
        .and_then(|r| {
            place(&tmp, &self.out)?;
            Ok(r)
        });
        let _ = std::fs::remove_file(&tmp);
        let (size, sha, media_sha) = written?;

        let gaps: Vec<ManifestGap> = self
            .gaps
            .iter()
            .map(|&(s, e)| ManifestGap {
                start: show(s),
                end: show(e),
                duration_secs: (e - s) as f64 / 1e9,
                reason: Some("no footage on the device".into()),
            })
            .collect();
        let requested = Span {
            start: show(self.t1),
            end: show(self.t2),
        };
        let actual = Span {
            start: show(display_wall),
            end: show(end_wall),
        };
        let media_secs =
            (self.last_wall + ticks_to_nanos(last_dur, ts) - self.first_wall) as f64 / 1e9;
        let wall_secs = how.wall.as_secs_f64();
        let camera_id = self
            .camera_id
            .clone()
            .unwrap_or_else(|| how.url.host_port());
        let times_from = match (self.timing.with_ext, self.timing.without_ext) {
            (_, 0) => "0xabac",
            (0, _) => "rtp",
            _ => "0xabac+rtp",
        };
        let mut tracks = vec![ManifestTrack {
            id: TRACK_ID,
            kind: "video".into(),
            codec: track.codec.name().into(),
            timescale: track.timescale,
            samples: self.samples.len() as u64,
            start: show(display_wall),
            end: show(end_wall),
            sample_rate: None,
            channels: None,
        }];
        tracks.extend(lanes.iter().map(|l| {
            let c = &self.audio[l.lane].config;
            ManifestTrack {
                id: l.track_id,
                kind: "audio".into(),
                codec: c.codec.name().into(),
                timescale: c.timescale,
                samples: l.samples.len() as u64,
                start: show(l.start),
                end: show(l.end),
                sample_rate: Some(c.sample_rate),
                channels: Some(c.channels),
            }
        }));
        let audio_times_from = (!lanes.is_empty()).then(|| self.placer.counts.describe());
        let manifest = ReplayManifest {
            export: Manifest {
                format: if lanes.is_empty() {
                    MANIFEST_FORMAT
                } else {
                    MANIFEST_FORMAT_AV
                }
                .to_string(),
                camwire_version: env!("CARGO_PKG_VERSION").to_string(),
                camera_id,
                created: jiff::Timestamp::now().to_string(),
                root: String::new(),
                requested: requested.clone(),
                actual: actual.clone(),
                preroll_start: show(self.first_wall),
                last_frame: show(self.last_wall),
                frames: (self.samples.len() - display_index) as u64,
                samples: self.samples.len() as u64,
                tracks,
                gaps: gaps.clone(),
                sources: Vec::new(),
                output: ManifestOutput {
                    file: self
                        .out
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    container: if self.fragmented {
                        "fragmented"
                    } else {
                        "progressive"
                    }
                    .into(),
                    size,
                    sha256: sha,
                },
                media_sha256: media_sha,
                lost_packets: self.lost_packets,
                damaged: Vec::new(),
            },
            origin: Origin {
                kind: match self.vendor {
                    None => "onvif-replay".into(),
                    Some(_) => "vendor-playback".into(),
                },
                vendor: self.vendor.map(|v| v.name().to_string()),
                uri: how.url.to_string(),
                server: how.server.map(str::to_string),
                requested,
                actual,
                play_range: how.play_range.clone(),
                gaps,
                rate_control: match (self.vendor, how.rate_control) {
                    (Some(_), _) => "not sent (vendor playback: the device's pace)",
                    (None, true) => "yes",
                    (None, false) => "no",
                }
                .into(),
                rate_control_refused: how.refused.clone(),
                times_from: times_from.into(),
                frames_with_extension: self.timing.with_ext,
                frames_without_extension: self.timing.without_ext,
                flags: std::mem::take(&mut self.flags),
                frames_not_stored: self.not_stored,
                ended_by: how.ended_by.clone(),
                download_wall_secs: wall_secs,
                media_secs,
                speed: if wall_secs > 0.0 {
                    media_secs / wall_secs
                } else {
                    0.0
                },
                device: self.device.clone(),
                audio_times_from,
            },
        };
        let mpath = manifest_path(&self.out);
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::Manifest {
            path: mpath.clone(),
            reason: e.to_string(),
        })?;
        // Beside the clip, replacing a stale manifest of an earlier clip by that name.
        let mtmp = sibling(&mpath, "part");
        let r = File::create(&mtmp)
            .and_then(|mut f| f.write_all(&json).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&mtmp, &mpath));
        if let Err(e) = r {
            let _ = std::fs::remove_file(&mtmp);
            return Err(ExportError::io(&mpath, e).into());
        }
        Ok(FetchSummary {
            output: self.out.clone(),
            manifest_path: mpath,
            manifest,
        })
    }
}

/// The writers' view of the clip's audio tracks; `offsets[n]` are the chunk offsets of
/// `lanes[n]` (empty for the fragmented `moov`).
fn clip_audio<'a>(
    lanes: &'a [LaneOut],
    stores: &'a [AudioStore],
    offsets: &'a [Vec<u64>],
) -> Vec<ClipAudio<'a>> {
    lanes
        .iter()
        .enumerate()
        .filter_map(|(n, l)| {
            Some(ClipAudio {
                track_id: l.track_id,
                config: &stores.get(l.lane)?.config,
                samples: &l.samples,
                chunks: &l.chunks,
                offsets: offsets.get(n).map(Vec::as_slice).unwrap_or_default(),
                edit: l.edit,
            })
        })
        .collect()
}

/// `.NAME.TAG-PID` beside `path`: a hidden temporary name in the same directory.
fn sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "clip.mp4".into());
    path.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Moves the finished `tmp` to `dest`, never replacing an existing `dest`: the name is
/// claimed with `create_new` first (so a file that appeared meanwhile is refused), then
/// `tmp` is renamed over the empty claim.
fn place(tmp: &Path, dest: &Path) -> Result<(), ExportError> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ExportError::OutputExists(dest.to_path_buf()));
        }
        Err(e) => return Err(ExportError::io(dest, e)),
        Ok(_) => {}
    }
    std::fs::rename(tmp, dest).map_err(|e| {
        let _ = std::fs::remove_file(dest);
        ExportError::io(dest, e)
    })
}

impl Drop for Assembler {
    fn drop(&mut self) {
        if self.spool.take().is_some() {
            let _ = std::fs::remove_file(&self.spool_path);
        }
    }
}

/// The start of a `clock=` range (`clock=20261125T100030Z-…`, fractions allowed), Unix
/// nanoseconds.
pub fn clock_range_start(range: &str) -> Option<Nanos> {
    let v = range.trim().strip_prefix("clock=")?;
    let start = v.split('-').next()?.trim();
    parse_clock_time(start)
}

/// `YYYYMMDDThhmmss[.fraction]Z` (the RTSP `utc-time`) as Unix nanoseconds.
pub fn parse_clock_time(s: &str) -> Option<Nanos> {
    let s = s.strip_suffix('Z')?;
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.len() != 15
        || whole.as_bytes().get(8) != Some(&b'T')
        || frac.len() > 9
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i16> {
        let t = whole.get(r)?;
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let dt = jiff::civil::DateTime::new(
        num(0..4)?,
        i8::try_from(num(4..6)?).ok()?,
        i8::try_from(num(6..8)?).ok()?,
        i8::try_from(num(9..11)?).ok()?,
        i8::try_from(num(11..13)?).ok()?,
        i8::try_from(num(13..15)?).ok()?,
        0,
    )
    .ok()?;
    let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    let mut ns: i64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        ns += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
    }
    i64::try_from(ts.as_nanosecond()).ok()?.checked_add(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_parse_and_bad_ones_do_not() {
        let t = parse_clock_time("20261125T100030Z").expect("t");
        assert_eq!(t, 1_795_600_830 * 1_000_000_000);
        assert_eq!(
            parse_clock_time("20261125T100030.25Z"),
            Some(t + 250_000_000)
        );
        assert_eq!(
            clock_range_start("clock=20261125T100030Z-20261125T100130Z"),
            Some(t)
        );
        for bad in [
            "",
            "Z",
            "20261125T100030",
            "20261325T100030Z",
            "2026112XT100030Z",
            "20261125T100030.1234567890Z",
            "20261125 100030Z",
            "20261125T10003Z",
        ] {
            assert_eq!(parse_clock_time(bad), None, "{bad:?}");
        }
        assert_eq!(clock_range_start("npt=0-"), None);
    }

    #[test]
    fn replay_play_sends_the_profile_g_headers_and_no_frames() {
        let t1 = 1_795_600_830 * 1_000_000_000;
        let p = replay_play(t1, t1 + 60_000_000_000, false).expect("play");
        assert_eq!(p.require, ["onvif-replay"]);
        assert_eq!(p.rate_control, Some(false));
        assert!(p.immediate);
        assert!(p.headers.is_empty(), "no Frames or other header");
        assert!(matches!(p.range, Range::Clock { end: Some(_), .. }));
    }

    #[test]
    fn refusals_551_and_459_mean_no_profile_g() {
        for status in [551, 459] {
            let e = no_profile_g(ClientError::Unsupported {
                method: "PLAY".into(),
                status,
                unsupported: Some("onvif-replay".into()),
            });
            assert!(matches!(e, ReplayError::NoProfileG { .. }), "{e}");
            assert!(
                e.to_string()
                    .contains("device cannot replay (no Profile G)")
            );
        }
        let e = no_profile_g(ClientError::Status {
            method: "PLAY".into(),
            status: 400,
            reason: "Bad Request".into(),
        });
        assert!(matches!(e, ReplayError::Rtsp(_)));
    }

    #[test]
    fn debug_of_options_hides_the_password() {
        let o = FetchOptions {
            credentials: Some(Credentials::new("admin", "s3cret-pw")),
            ..Default::default()
        };
        assert!(!format!("{o:?}").contains("s3cret-pw"));
    }
}

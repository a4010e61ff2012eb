//! One playing RTSP session of a camera, on camwire's own client ([`super::client`]): its
//! video track (H.264 or H.265) and, by [`AudioChoice`], its audio tracks.
//!
//! Tracks are numbered in the session: 0 is the video, 1.. the audio tracks set up, in SDP
//! order. [`Source::tracks`] lists every SDP media section with its track number or the
//! reason it is not recorded (an audio codec camwire does not record is skipped by name and
//! nothing fails). Video packets arrive as [`SourceEvent::Rtp`], audio as
//! [`SourceEvent::Audio`], each track with its own sender reports.

use super::client::{ClientError, ClientOptions, Packet, PlayOptions, RtspClient, SetupTransport};
use super::rtcp::{self, RtcpEvent};
use super::sdp::{self, MediaSection};
use super::url::{CameraUrl, UrlError};
use crate::credentials::Credentials;
use crate::rtp::RtpPacket;
use bytes::Bytes;
use std::pin::Pin;
use std::time::Duration;
use thiserror::Error;

/// How RTP travels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection (default: works through NAT and firewalls).
    #[default]
    Tcp,
    /// Separate UDP ports (LAN only: no reordering, loss is loss).
    Udp,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Transport::Tcp),
            "udp" => Ok(Transport::Udp),
            o => Err(format!("unknown transport {o:?} (tcp or udp)")),
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        })
    }
}

/// Options for [`Source::connect`].
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// Login; when `None`, credentials inside the URL are used.
    pub credentials: Option<Credentials>,
    /// RTP transport.
    pub transport: Transport,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Bound on TCP connect plus the DESCRIBE answer.
    pub connect_timeout: Duration,
    /// Bound on each of SETUP and PLAY.
    pub request_timeout: Duration,
    /// The session fails when no packet at all arrives for this long.
    pub idle_timeout: Duration,
    /// Read coalescing over TCP ([`ClientOptions::coalesce`]): `None` takes the default of
    /// the use, 0 for live streams, [`RECORDING_READ_COALESCE`] for recordings (see
    /// [`Self::for_recording`]), unless `CAMWIRE_RTSP_COALESCE_MS` says otherwise.
    pub read_coalesce: Option<Duration>,
    /// Which audio tracks to set up (default: the first one the camera offers).
    pub audio: AudioChoice,
}

/// Which audio tracks a session sets up (`--audio no|first|all`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AudioChoice {
    /// Video only.
    No,
    /// The first audio track camwire can record (default).
    #[default]
    First,
    /// Every audio track camwire can record.
    All,
}

impl std::str::FromStr for AudioChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "no" | "none" => Ok(AudioChoice::No),
            "first" => Ok(AudioChoice::First),
            "all" => Ok(AudioChoice::All),
            o => Err(format!("unknown audio choice {o:?} (no, first or all)")),
        }
    }
}

impl std::fmt::Display for AudioChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AudioChoice::No => "no",
            AudioChoice::First => "first",
            AudioChoice::All => "all",
        })
    }
}

/// Video or audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// A video track.
    Video,
    /// An audio track.
    Audio,
}

impl std::fmt::Display for TrackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
        })
    }
}

/// One SDP media section of the camera and what the session does with it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackInfo {
    /// The SDP media section (codec name, clock rate, channels, fmtp).
    pub section: MediaSection,
    /// Video or audio; `None` for other media (`application`, metadata).
    pub kind: Option<TrackKind>,
    /// The session's track number when set up (0 video, 1.. audio), else `None`.
    pub track: Option<usize>,
    /// Why it is not set up, when it is not (`None` when set up).
    pub skipped: Option<String>,
    /// RTP time of the start of the PLAY range from `RTP-Info`, when the camera sent it.
    pub rtptime: Option<u32>,
}

/// Read coalescing of recordings: one wakeup and read per 250 ms instead of one per camera
/// write burst (a frame). Recordings write a fragment per second, so nothing waits on it;
/// the kernel holds the 250 ms (125 KB at 4 Mbit/s). Measured in benches/README.md. It
/// starts once the recorder has timed every track's first frame ([`Source::start_coalescing`];
/// at most 3 s after PLAY), so that the arrival of the first frames (the wall-clock anchor of
/// a camera without sender reports) is not delayed by it.
pub const RECORDING_READ_COALESCE: Duration = Duration::from_millis(250);

impl SourceOptions {
    /// These options for a recording: an unset [`Self::read_coalesce`] becomes
    /// `CAMWIRE_RTSP_COALESCE_MS` if set, else [`RECORDING_READ_COALESCE`].
    pub fn for_recording(mut self) -> Self {
        self.read_coalesce = self
            .read_coalesce
            .or_else(super::client::coalesce_override)
            .or(Some(RECORDING_READ_COALESCE));
        self
    }
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            credentials: None,
            transport: Transport::Tcp,
            user_agent: concat!("camwire/", env!("CARGO_PKG_VERSION")).to_string(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            read_coalesce: None,
            audio: AudioChoice::First,
        }
    }
}

/// Why a session could not start or go on. Messages never contain credentials.
#[derive(Debug, Error)]
pub enum RtspError {
    /// The URL is unusable.
    #[error("bad camera URL: {0}")]
    Url(#[from] UrlError),
    /// The camera refused our credentials (401 after authenticating, or no credentials given).
    #[error("{url}: authentication failed")]
    Auth {
        /// The camera (no credentials in it).
        url: String,
    },
    /// A step did not finish in time.
    #[error("{url}: {step} timed out after {after:?}")]
    Timeout {
        /// The camera.
        url: String,
        /// `connect/DESCRIBE`, `SETUP`, `PLAY` or `read`.
        step: &'static str,
        /// The bound that was hit.
        after: Duration,
    },
    /// The SDP has no usable H.264 or H.265 track.
    #[error("{url}: {source}")]
    Sdp {
        /// The camera.
        url: String,
        /// What was wrong.
        source: sdp::SdpError,
    },
    /// Anything else the RTSP client reported (connection refused or reset, bad RTSP
    /// answers, lost framing, a changed SSRC, ...).
    #[error("{url}: {message}")]
    Protocol {
        /// The camera.
        url: String,
        /// The client's description.
        message: String,
        /// RTSP status code when the error came from an answer.
        status: Option<u16>,
    },
}

impl RtspError {
    /// True for errors worth retrying after a pause (network trouble), false for ones that
    /// will fail the same way again (bad URL, bad credentials, no H.264 track).
    pub fn is_transient(&self) -> bool {
        matches!(self, RtspError::Timeout { .. } | RtspError::Protocol { .. })
    }

    /// The error's family, for bindings. A protocol error without an RTSP status is the
    /// connection failing (refused, reset, closed); with a status it is the server's answer.
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind as K;
        match self {
            RtspError::Url(_) => K::InvalidInput,
            RtspError::Auth { .. } => K::Auth,
            RtspError::Timeout { .. } => K::Timeout,
            RtspError::Sdp { .. } => K::Protocol,
            RtspError::Protocol { status: None, .. } => K::Connection,
            RtspError::Protocol {
                status: Some(_), ..
            } => K::Protocol,
        }
    }
}

/// What a playing session yields.
#[derive(Debug)]
pub enum SourceEvent {
    /// An RTP packet of the video track; the payload is a slice of the receive buffer.
    Rtp(RtpPacket),
    /// An RTP packet of audio track `track` (1..; see [`Source::tracks`]).
    Audio {
        /// The session's track number.
        track: usize,
        /// The packet.
        pkt: RtpPacket,
    },
    /// An RTCP sender report of audio track `track`.
    AudioSenderReport {
        /// The session's track number.
        track: usize,
        /// 64-bit NTP timestamp.
        ntp: u64,
        /// RTP timestamp at that instant.
        rtp_timestamp: u32,
    },
    /// An RTCP sender report of the video track: NTP wall-clock and the matching RTP time.
    SenderReport {
        /// 64-bit NTP timestamp (seconds since 1900 in the upper 32 bits).
        ntp: u64,
        /// RTP timestamp at that instant.
        rtp_timestamp: u32,
    },
    /// The camera sent RTCP BYE: the stream is over (GStreamer servers keep the TCP
    /// connection open after it, so waiting for a close would hang).
    Bye,
}

/// A raw packet for `camwire capture`: interleaved channel convention (stream i → 2i/2i+1).
#[derive(Debug)]
pub struct RawPacket {
    /// Channel in the capture convention.
    pub channel: u8,
    /// The whole RTP or RTCP packet.
    pub data: Bytes,
}

/// A playing RTSP session of a camera: its video track (H.264 or H.265) and chosen audio.
pub struct Source {
    url: CameraUrl,
    /// `None` only while being dropped (TEARDOWN takes it).
    client: Option<RtspClient>,
    sdp: Bytes,
    video: MediaSection,
    video_stream: usize,
    tracks: Vec<TrackInfo>,
    /// Session track number of each SDP stream index (`None`: not set up).
    stream_track: Vec<Option<usize>>,
    idle_timeout: Duration,
    /// The idle-read timer: one armed timer per session, pushed forward only when it fires
    /// (a fresh `tokio::time::timeout` per packet put a timer into the wheel and took it out
    /// again for every RTP packet).
    idle: Pin<Box<tokio::time::Sleep>>,
    /// When the last packet arrived.
    last_rx: tokio::time::Instant,
    transport: Transport,
    tool: Option<String>,
    end: EndState,
    /// The video SSRC, learned from the first RTP packet (the one in SETUP's `Transport` is
    /// advisory); a later change ends the session with an error.
    ssrc: Option<u32>,
}

/// Over UDP, RTP and RTCP arrive on separate sockets and may be read RTCP first, so a
/// camera's BYE can overtake the last RTP packets of the stream (seen with GStreamer's
/// server: the final frame was lost). After a BYE over UDP the source keeps reading until
/// the sockets have been quiet for [`BYE_DRAIN_QUIET`] or [`BYE_DRAIN_MAX`] has passed. Over
/// TCP one connection carries both in order, so the end is immediate.
const BYE_DRAIN_QUIET: Duration = Duration::from_millis(200);
/// Upper bound of the drain after a UDP BYE, for a camera that keeps sending after it.
const BYE_DRAIN_MAX: Duration = Duration::from_secs(1);

/// Where the session is on its way to the end.
#[derive(Debug, Clone, Copy)]
enum EndState {
    Playing,
    /// BYE seen over UDP; reading what is still queued until the deadline.
    Draining(tokio::time::Instant),
    /// The drain is over; the BYE is still to be reported.
    ByePending,
    /// The end was reported: nothing more is read.
    Ended,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("url", &self.url)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

fn timeout_err(url: &CameraUrl, step: &'static str, after: Duration) -> RtspError {
    RtspError::Timeout {
        url: url.to_string(),
        step,
        after,
    }
}

fn client_err(url: &CameraUrl, e: ClientError) -> RtspError {
    match e {
        ClientError::Auth => RtspError::Auth {
            url: url.to_string(),
        },
        ClientError::Timeout { step, after } => timeout_err(url, step, after),
        e => RtspError::Protocol {
            url: url.to_string(),
            status: e.status(),
            message: e.to_string(),
        },
    }
}

impl Source {
    /// DESCRIBE, SETUP the first video track that is H.264 or H.265 (by its `a=rtpmap`
    /// encoding name) and the audio tracks [`SourceOptions::audio`] asks for, PLAY.
    ///
    /// An audio track whose codec camwire does not record is not set up (listed as skipped
    /// in [`tracks`](Self::tracks)); an audio SETUP the camera refuses is logged and skipped
    /// too: audio never costs the video.
    pub async fn connect(url: &str, opts: SourceOptions) -> Result<Source, RtspError> {
        let (url, url_creds) = CameraUrl::parse(url)?;
        let creds = opts.credentials.clone().or(url_creds);
        let copts = ClientOptions {
            credentials: creds,
            user_agent: opts.user_agent.clone(),
            // connect/DESCRIBE, SETUP and PLAY are bounded below with the step names the
            // callers know; the client's own bound is a looser safety net behind them.
            request_timeout: opts.request_timeout.max(opts.connect_timeout)
                + Duration::from_secs(1),
            ..ClientOptions::default()
        };
        let copts = ClientOptions {
            coalesce: opts.read_coalesce.unwrap_or(copts.coalesce),
            ..copts
        };
        let described = async {
            let mut client = RtspClient::connect(url.as_url().clone(), copts).await?;
            client.describe().await?;
            Ok::<_, ClientError>(client)
        };
        let mut client = tokio::time::timeout(opts.connect_timeout, described)
            .await
            .map_err(|_| timeout_err(&url, "connect/DESCRIBE", opts.connect_timeout))?
            .map_err(|e| client_err(&url, e))?;
        let sdp = client
            .presentation()
            .map(|p| p.sdp.clone())
            .unwrap_or_default();
        let video = video_section(&sdp).map_err(|source| RtspError::Sdp {
            url: url.to_string(),
            source,
        })?;
        let codec = crate::record::ingest::section_codec(&video);
        // The client's stream list is the SDP's m= sections in order, like ours.
        let video_stream = video.index;
        let transport = match opts.transport {
            Transport::Tcp => SetupTransport::Tcp,
            Transport::Udp => SetupTransport::Udp,
        };
        tokio::time::timeout(opts.request_timeout, client.setup(video_stream, transport))
            .await
            .map_err(|_| timeout_err(&url, "SETUP", opts.request_timeout))?
            .map_err(|e| client_err(&url, e))?;
        let mut tracks = plan_tracks(&sdp, video_stream, opts.audio);
        for t in tracks
            .iter_mut()
            .filter(|t| t.track.is_some() && t.kind == Some(TrackKind::Audio))
        {
            let setup = tokio::time::timeout(
                opts.request_timeout,
                client.setup(t.section.index, transport),
            )
            .await;
            let why = match setup {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => client_err(&url, e).to_string(),
                Err(_) => timeout_err(&url, "SETUP", opts.request_timeout).to_string(),
            };
            log::warn!("{url}: audio track {} not recorded: {why}", t.section.index);
            t.track = None;
            t.skipped = Some(format!("SETUP failed: {why}"));
        }
        number_tracks(&mut tracks);
        let tool = client.server().map(str::to_string);
        let reply =
            tokio::time::timeout(opts.request_timeout, client.play(&PlayOptions::default()))
                .await
                .map_err(|_| timeout_err(&url, "PLAY", opts.request_timeout))?
                .map_err(|e| client_err(&url, e))?;
        if let Some(p) = client.presentation() {
            apply_rtp_info(&mut tracks, p, &reply.rtp_info);
        }
        let audio = tracks
            .iter()
            .filter(|t| t.track.is_some() && t.kind == Some(TrackKind::Audio))
            .map(|t| t.section.encoding.as_str())
            .collect::<Vec<_>>();
        log::info!(
            "{url}: playing {codec} track {video_stream}{}{} over {}",
            if audio.is_empty() { "" } else { " with audio " },
            audio.join(", "),
            opts.transport
        );
        let mut stream_track = vec![None; tracks.len()];
        for t in &tracks {
            if let (Some(n), Some(slot)) = (t.track, stream_track.get_mut(t.section.index)) {
                *slot = Some(n);
            }
        }
        Ok(Source {
            url,
            client: Some(client),
            sdp,
            video,
            video_stream,
            tracks,
            stream_track,
            idle_timeout: opts.idle_timeout,
            idle: Box::pin(tokio::time::sleep(opts.idle_timeout)),
            last_rx: tokio::time::Instant::now(),
            transport: opts.transport,
            tool,
            end: EndState::Playing,
            ssrc: None,
        })
    }

    /// The camera URL (no credentials).
    pub fn url(&self) -> &CameraUrl {
        &self.url
    }

    /// The DESCRIBE answer's SDP body.
    pub fn sdp(&self) -> &Bytes {
        &self.sdp
    }

    /// Every media section of the SDP, in order, with its session track number or why it is
    /// not recorded.
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }

    /// The audio tracks set up, in track-number order (track 1, 2, ...).
    pub fn audio_tracks(&self) -> impl Iterator<Item = &TrackInfo> {
        let mut v: Vec<&TrackInfo> = self
            .tracks
            .iter()
            .filter(|t| t.kind == Some(TrackKind::Audio) && t.track.is_some())
            .collect();
        v.sort_by_key(|t| t.track);
        v.into_iter()
    }

    /// The video section of the SDP being played.
    pub fn video(&self) -> &MediaSection {
        &self.video
    }

    /// The codec of the video track, by the SDP's encoding name (a camera may still send
    /// something else: the H.265 depacketizer checks, see
    /// [`crate::rtp::h265::H265DepacketizeError::LooksLikeH264`]).
    pub fn video_codec(&self) -> crate::fmp4::VideoCodec {
        crate::record::ingest::section_codec(&self.video)
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The server's `Server` header, if any.
    pub fn tool(&self) -> Option<&str> {
        self.tool.as_deref()
    }

    /// The consumer's wall clocks no longer need exact arrival times (every track's first
    /// frame is timed): read coalescing, if set ([`SourceOptions::read_coalesce`]), starts
    /// now rather than a fixed time after PLAY. A recorder calls this; see
    /// [`super::client::RtspClient::start_coalescing`].
    pub fn start_coalescing(&mut self) {
        if let Some(client) = self.client.as_mut() {
            client.start_coalescing();
        }
    }

    /// The next packet of the session; `Ok(None)` at its end (server close, or the drain
    /// after a BYE is over).
    async fn next_item(&mut self) -> Result<Option<Packet>, RtspError> {
        match self.end {
            EndState::Ended | EndState::ByePending => Ok(None),
            EndState::Playing => loop {
                let Some(client) = self.client.as_mut() else {
                    return Ok(None);
                };
                tokio::select! {
                    biased;
                    item = client.next() => {
                        self.last_rx = tokio::time::Instant::now();
                        return item.map_err(|e| client_err(&self.url, e));
                    }
                    () = self.idle.as_mut() => {
                        let due = self.last_rx + self.idle_timeout;
                        if due <= tokio::time::Instant::now() {
                            return Err(timeout_err(&self.url, "read", self.idle_timeout));
                        }
                        self.idle.as_mut().reset(due);
                    }
                }
            },
            EndState::Draining(deadline) => {
                let quiet = deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .min(BYE_DRAIN_QUIET);
                let Some(client) = self.client.as_mut() else {
                    return Ok(None);
                };
                match tokio::time::timeout(quiet, client.next()).await {
                    Ok(Ok(Some(item))) => Ok(Some(item)),
                    // Quiet, closed or failing after the camera said goodbye: the end.
                    _ => {
                        self.end = EndState::ByePending;
                        Ok(None)
                    }
                }
            }
        }
    }

    /// Notes a BYE; true when the stream ends now, false when the UDP drain starts.
    fn on_bye(&mut self) -> bool {
        match (self.transport, self.end) {
            (Transport::Udp, EndState::Playing) => {
                self.end = EndState::Draining(tokio::time::Instant::now() + BYE_DRAIN_MAX);
                false
            }
            (_, EndState::Draining(_) | EndState::ByePending) => false,
            _ => {
                self.end = EndState::Ended;
                true
            }
        }
    }

    /// The next event of the session; `Ok(None)` when the server closed it. `Bye` (of the
    /// video track: an audio BYE is ignored, the video decides the end) is reported once,
    /// after the packets still queued behind it over UDP.
    pub async fn next(&mut self) -> Result<Option<SourceEvent>, RtspError> {
        loop {
            let Some(item) = self.next_item().await? else {
                let pending = matches!(self.end, EndState::ByePending);
                self.end = EndState::Ended;
                return Ok(pending.then_some(SourceEvent::Bye));
            };
            if let Some(ev) = self.on_item(item)? {
                return Ok(Some(ev));
            }
        }
    }

    /// The next event whose packet is already received (the rest of the last socket read),
    /// without waiting: `Ok(None)` when [`Self::next`] has to be awaited. The same events in
    /// the same order as [`Self::next`]; a recorder drains this after each `next` so that the
    /// packets of one read cost a loop, not an `await` (and a stop check) each. While the
    /// session drains after a UDP BYE, always `None`.
    pub fn next_buffered(&mut self) -> Result<Option<SourceEvent>, RtspError> {
        if !matches!(self.end, EndState::Playing) {
            return Ok(None);
        }
        loop {
            let Some(client) = self.client.as_mut() else {
                return Ok(None);
            };
            let Some(item) = client
                .next_buffered()
                .map_err(|e| client_err(&self.url, e))?
            else {
                return Ok(None);
            };
            if let Some(ev) = self.on_item(item)? {
                return Ok(Some(ev));
            }
        }
    }

    /// What a received packet means: an event, or `None` (skipped, or nothing to report).
    fn on_item(&mut self, item: Packet) -> Result<Option<SourceEvent>, RtspError> {
        match item {
            Packet::Rtp { stream, data } if stream == self.video_stream => {
                let pkt = match RtpPacket::parse(data) {
                    Ok(p) => p,
                    Err(e) => {
                        log::debug!("{}: skipping a malformed RTP packet: {e}", self.url);
                        return Ok(None);
                    }
                };
                match self.ssrc {
                    None => self.ssrc = Some(pkt.ssrc),
                    Some(s) if s != pkt.ssrc => {
                        return Err(RtspError::Protocol {
                            url: self.url.to_string(),
                            message: format!(
                                "SSRC changed from {s:08x} to {:08x} mid-session",
                                pkt.ssrc
                            ),
                            status: None,
                        });
                    }
                    Some(_) => {}
                }
                return Ok(Some(SourceEvent::Rtp(pkt)));
            }
            Packet::Rtcp { stream, data } if stream == self.video_stream => {
                match rtcp_event(&data) {
                    Some(SourceEvent::Bye) if self.on_bye() => {
                        return Ok(Some(SourceEvent::Bye));
                    }
                    Some(SourceEvent::Bye) => {}
                    Some(ev) => return Ok(Some(ev)),
                    None => {}
                }
            }
            Packet::Rtp { stream, data } => {
                let Some(track) = self.stream_track.get(stream).copied().flatten() else {
                    return Ok(None);
                };
                match RtpPacket::parse(data) {
                    Ok(pkt) => return Ok(Some(SourceEvent::Audio { track, pkt })),
                    Err(e) => {
                        log::debug!("{}: skipping a malformed audio packet: {e}", self.url);
                    }
                }
            }
            Packet::Rtcp { stream, data } => {
                let Some(track) = self.stream_track.get(stream).copied().flatten() else {
                    return Ok(None);
                };
                if let Some(SourceEvent::SenderReport { ntp, rtp_timestamp }) = rtcp_event(&data) {
                    return Ok(Some(SourceEvent::AudioSenderReport {
                        track,
                        ntp,
                        rtp_timestamp,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The next raw packet with its capture channel and whether it is a BYE; `Ok(None)` at
    /// the end. Reading goes on after a BYE until the end (over UDP, the packets it
    /// overtook are still to come).
    pub async fn next_raw(&mut self) -> Result<Option<(RawPacket, bool)>, RtspError> {
        let Some(item) = self.next_item().await? else {
            self.end = EndState::Ended;
            return Ok(None);
        };
        Ok(Some(match item {
            Packet::Rtp { stream, data } => (
                RawPacket {
                    channel: capture_channel(stream, false),
                    data,
                },
                false,
            ),
            Packet::Rtcp { stream, data } => {
                let bye = matches!(rtcp_event(&data), Some(SourceEvent::Bye));
                if bye {
                    self.on_bye();
                }
                (
                    RawPacket {
                        channel: capture_channel(stream, true),
                        data,
                    },
                    bye,
                )
            }
        }))
    }
}

impl Drop for Source {
    /// TEARDOWN in the background, bounded by the client's teardown timeout, so a camera
    /// that allows few sessions does not keep ours (no runtime: the connection just closes).
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(client.teardown());
        }
    }
}

/// The first `m=video` section whose payload is H.264 or H.265 (by `a=rtpmap` encoding name).
pub fn video_section(sdp: &[u8]) -> Result<MediaSection, sdp::SdpError> {
    sdp::media_sections(sdp)?
        .into_iter()
        .find(|m| {
            m.is_h264()
                || (m.media.eq_ignore_ascii_case("video")
                    && (m.encoding.eq_ignore_ascii_case("H265")
                        || m.encoding.eq_ignore_ascii_case("HEVC")))
        })
        .ok_or(sdp::SdpError::NoH264Video)
}

/// What a session would set up from this SDP with this audio choice: every media section with
/// its track number (0 the video, 1.. audio) or why it is not recorded. The same plan
/// [`Source::connect`] follows before any SETUP is refused; for SDP files (a capture's, a
/// camera's DESCRIBE answer) and tests.
pub fn track_plan(sdp: &[u8], audio: AudioChoice) -> Result<Vec<TrackInfo>, sdp::SdpError> {
    let video = video_section(sdp)?;
    let mut tracks = plan_tracks(sdp, video.index, audio);
    number_tracks(&mut tracks);
    Ok(tracks)
}

/// Every media section with its kind and whether it will be set up (track numbers are given
/// by [`number_tracks`] once the audio SETUPs are done).
fn plan_tracks(sdp: &[u8], video_stream: usize, audio: AudioChoice) -> Vec<TrackInfo> {
    let sections = sdp::media_sections(sdp).unwrap_or_default();
    let mut audio_taken = 0usize;
    sections
        .into_iter()
        .map(|section| {
            let (kind, track, skipped) = if section.index == video_stream {
                (Some(TrackKind::Video), Some(0), None)
            } else if section.media.eq_ignore_ascii_case("video") {
                (
                    Some(TrackKind::Video),
                    None,
                    Some("only one video track is recorded".to_string()),
                )
            } else if section.media.eq_ignore_ascii_case("audio") {
                match crate::rtp::audio::AudioDepacketizer::from_section(&section) {
                    Err(e) => (Some(TrackKind::Audio), None, Some(e.to_string())),
                    Ok(_) => {
                        let want = match audio {
                            AudioChoice::No => false,
                            AudioChoice::First => audio_taken == 0,
                            AudioChoice::All => true,
                        };
                        if want {
                            audio_taken += 1;
                            (Some(TrackKind::Audio), Some(audio_taken), None)
                        } else {
                            let why = match audio {
                                AudioChoice::No => "audio not requested (--audio no)",
                                _ => "not the first audio track (--audio all records it)",
                            };
                            (Some(TrackKind::Audio), None, Some(why.to_string()))
                        }
                    }
                }
            } else {
                (
                    None,
                    None,
                    Some(format!("{} media are not recorded", section.media)),
                )
            };
            TrackInfo {
                section,
                kind,
                track,
                skipped,
                rtptime: None,
            }
        })
        .collect()
}

/// Gives the audio tracks that were set up the numbers 1, 2, ... in SDP order.
fn number_tracks(tracks: &mut [TrackInfo]) {
    let mut n = 0;
    for t in tracks.iter_mut() {
        if t.kind == Some(TrackKind::Audio) && t.track.is_some() {
            n += 1;
            t.track = Some(n);
        }
    }
}

/// Puts each `RTP-Info` `rtptime` on its track: by `url=` (the stream's control URL, or a
/// suffix of it: cameras send relative ones), else by position when the counts match.
fn apply_rtp_info(
    tracks: &mut [TrackInfo],
    p: &super::client::Presentation,
    infos: &[super::headers::RtpInfo],
) {
    let set_up: Vec<usize> = {
        let mut v: Vec<&TrackInfo> = tracks.iter().filter(|t| t.track.is_some()).collect();
        v.sort_by_key(|t| t.track);
        v.iter().map(|t| t.section.index).collect()
    };
    for (pos, info) in infos.iter().enumerate() {
        let Some(rtptime) = info.rtptime else {
            continue;
        };
        let by_url = info.url.as_deref().and_then(|u| {
            let u = u.trim();
            set_up.iter().copied().find(|&i| {
                p.streams.get(i).is_some_and(|s| {
                    let c = s.control.as_str();
                    !u.is_empty() && (c == u || c.ends_with(u.trim_start_matches('/')))
                })
            })
        });
        let index = by_url.or_else(|| (infos.len() == set_up.len()).then(|| set_up[pos]));
        if let Some(t) = index.and_then(|i| tracks.iter_mut().find(|t| t.section.index == i)) {
            t.rtptime = Some(rtptime);
        }
    }
}

fn capture_channel(stream: usize, rtcp: bool) -> u8 {
    u8::try_from(stream * 2 + usize::from(rtcp)).unwrap_or(255)
}

/// Walks an RTCP compound packet: a BYE anywhere ends the stream; otherwise a sender report
/// gives the wall-clock mapping. Malformed packets are ignored.
pub fn rtcp_event(raw: &[u8]) -> Option<SourceEvent> {
    match rtcp::parse_compound(raw)? {
        RtcpEvent::Bye => Some(SourceEvent::Bye),
        RtcpEvent::SenderReport {
            ntp, rtp_timestamp, ..
        } => Some(SourceEvent::SenderReport { ntp, rtp_timestamp }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gst-rtsp-server with H.265, AAC (rtpmp4gpay), PCMU and G.726 (same PT as the video).
    const GST_AV: &str = "v=0\r\ns=x\r\nt=0 0\r\n\
        m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\na=control:stream=0\r\n\
        m=audio 0 RTP/AVP 96\r\na=rtpmap:96 G726-32/8000\r\na=control:stream=1\r\n\
        m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000/1\r\n\
        a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;config=140856e500;sizelength=13;indexlength=3;indexdeltalength=3\r\n\
        a=control:stream=2\r\n\
        m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:stream=3\r\n\
        m=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n";

    #[test]
    fn tracks_by_audio_choice() {
        let plan = |a| {
            let mut t = plan_tracks(GST_AV.as_bytes(), 0, a);
            number_tracks(&mut t);
            t.iter().map(|t| t.track).collect::<Vec<_>>()
        };
        assert_eq!(
            plan(AudioChoice::First),
            [Some(0), None, Some(1), None, None]
        );
        assert_eq!(
            plan(AudioChoice::All),
            [Some(0), None, Some(1), Some(2), None]
        );
        assert_eq!(plan(AudioChoice::No), [Some(0), None, None, None, None]);
        let t = plan_tracks(GST_AV.as_bytes(), 0, AudioChoice::First);
        assert_eq!(
            t[1].skipped.as_deref(),
            Some("audio codec G726-32 is not recorded")
        );
        assert_eq!(t[4].kind, None);
        assert!(t[3].skipped.as_deref().unwrap().contains("--audio all"));
    }

    /// `RTP-Info` by absolute URL, by relative URL, and by position when URLs name no stream.
    #[test]
    fn rtp_info_goes_to_its_track() {
        let url = url::Url::parse("rtsp://cam/live/").unwrap();
        let resp = crate::rtsp::msg::Response {
            status: 200,
            reason: "OK".into(),
            headers: {
                let mut h = crate::rtsp::msg::Headers::default();
                h.push("Content-Type", "application/sdp");
                h
            },
            body: Bytes::from_static(GST_AV.as_bytes()),
        };
        let p = crate::rtsp::client::parse_describe(&url, &resp).unwrap();
        let mut t = plan_tracks(GST_AV.as_bytes(), 0, AudioChoice::First);
        number_tracks(&mut t);
        let infos = crate::rtsp::headers::parse_rtp_info(
            "url=rtsp://cam/live/stream=0;seq=1;rtptime=1000,url=stream=2;seq=5;rtptime=2000",
        );
        apply_rtp_info(&mut t, &p, &infos);
        assert_eq!((t[0].rtptime, t[2].rtptime), (Some(1000), Some(2000)));
        let mut t = plan_tracks(GST_AV.as_bytes(), 0, AudioChoice::First);
        number_tracks(&mut t);
        // URLs that name no stream: by position, since there is one entry per track.
        let infos =
            crate::rtsp::headers::parse_rtp_info("url=trackID=1;rtptime=7,url=trackID=2;rtptime=8");
        apply_rtp_info(&mut t, &p, &infos);
        assert_eq!((t[0].rtptime, t[2].rtptime), (Some(7), Some(8)));
        let mut t = plan_tracks(GST_AV.as_bytes(), 0, AudioChoice::First);
        let infos = crate::rtsp::headers::parse_rtp_info("url=trackID=9;rtptime=7");
        apply_rtp_info(&mut t, &p, &infos);
        assert_eq!((t[0].rtptime, t[2].rtptime), (None, None));
    }

    #[test]
    fn first_video_section_is_h264_or_h265() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\n\
            m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
            m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n\
            a=fmtp:96 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwA/ugJA\r\n\
            m=video 0 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n";
        let v = video_section(sdp.as_bytes()).expect("video");
        assert_eq!(v.index, 1);
        assert_eq!(
            crate::record::ingest::section_codec(&v),
            crate::fmp4::VideoCodec::H265
        );
        let h264_first = sdp.replace("H265/90000", "H264/90000");
        let v = video_section(h264_first.as_bytes()).expect("video");
        assert_eq!(v.index, 1);
        assert_eq!(
            crate::record::ingest::section_codec(&v),
            crate::fmp4::VideoCodec::H264
        );
        let audio_only = "v=0\r\ns=x\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert!(video_section(audio_only.as_bytes()).is_err());
    }

    #[test]
    fn rtcp_sender_report_then_bye() {
        let mut sr = vec![0x80, 200, 0, 6, 1, 2, 3, 4];
        sr.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        sr.extend_from_slice(&90_000u32.to_be_bytes());
        sr.extend_from_slice(&[0; 8]);
        match rtcp_event(&sr) {
            Some(SourceEvent::SenderReport { ntp, rtp_timestamp }) => {
                assert_eq!(ntp, 0x1122_3344_5566_7788);
                assert_eq!(rtp_timestamp, 90_000);
            }
            o => panic!("unexpected {o:?}"),
        }
        let mut compound = sr.clone();
        compound.extend_from_slice(&[0x81, 203, 0, 1, 1, 2, 3, 4]);
        assert!(matches!(rtcp_event(&compound), Some(SourceEvent::Bye)));
        // Truncated: no panic, nothing.
        assert!(rtcp_event(&sr[..10]).is_none());
    }
}

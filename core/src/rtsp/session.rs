//! One playing RTSP session for the H.264 video track of a camera.

use super::sdp::{self, MediaSection};
use super::url::{CameraUrl, UrlError};
use crate::credentials::Credentials;
use crate::rtp::RtpPacket;
use bytes::Bytes;
use futures::StreamExt;
use retina::client::{PacketItem, Playing, Session, SessionOptions, SetupOptions};
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
    /// The SDP has no usable H.264 track.
    #[error("{url}: {source}")]
    Sdp {
        /// The camera.
        url: String,
        /// What was wrong.
        source: sdp::SdpError,
    },
    /// Anything retina reported (connection refused or reset, bad RTSP answers, ...).
    #[error("{url}: {message}")]
    Protocol {
        /// The camera.
        url: String,
        /// retina's description.
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

/// A playing RTSP session of a camera's H.264 video track.
pub struct Source {
    url: CameraUrl,
    session: Pin<Box<Session<Playing>>>,
    sdp: Bytes,
    video: MediaSection,
    video_stream: usize,
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
}

/// Over UDP, RTP and RTCP arrive on separate sockets and retina reads RTCP first, so a
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

fn retina_err(url: &CameraUrl, e: retina::Error) -> RtspError {
    let status = e.status_code();
    if status == Some(401) {
        return RtspError::Auth {
            url: url.to_string(),
        };
    }
    RtspError::Protocol {
        url: url.to_string(),
        message: e.to_string(),
        status,
    }
}

impl Source {
    /// DESCRIBE, SETUP the first H.264 video track, PLAY.
    pub async fn connect(url: &str, opts: SourceOptions) -> Result<Source, RtspError> {
        let (url, url_creds) = CameraUrl::parse(url)?;
        let creds = opts.credentials.clone().or(url_creds);
        let session_opts = SessionOptions::default()
            .creds(creds.map(|c| retina::client::Credentials {
                username: c.username,
                password: c.password,
            }))
            .user_agent(opts.user_agent.clone());
        let mut session = tokio::time::timeout(
            opts.connect_timeout,
            Session::describe(url.as_url().clone(), session_opts),
        )
        .await
        .map_err(|_| timeout_err(&url, "connect/DESCRIBE", opts.connect_timeout))?
        .map_err(|e| retina_err(&url, e))?;
        let sdp = Bytes::copy_from_slice(session.sdp());
        let video = sdp::h264_section(&sdp).map_err(|source| RtspError::Sdp {
            url: url.to_string(),
            source,
        })?;
        // retina's stream list is in SDP order, like ours.
        let video_stream = video.index;
        let transport = match opts.transport {
            Transport::Tcp => retina::client::Transport::Tcp(Default::default()),
            Transport::Udp => retina::client::Transport::Udp(Default::default()),
        };
        tokio::time::timeout(
            opts.request_timeout,
            session.setup(video_stream, SetupOptions::default().transport(transport)),
        )
        .await
        .map_err(|_| timeout_err(&url, "SETUP", opts.request_timeout))?
        .map_err(|e| retina_err(&url, e))?;
        let tool = session.tool().map(|t| format!("{t:?}"));
        let playing = tokio::time::timeout(
            opts.request_timeout,
            session.play(retina::client::PlayOptions::default()),
        )
        .await
        .map_err(|_| timeout_err(&url, "PLAY", opts.request_timeout))?
        .map_err(|e| retina_err(&url, e))?;
        log::info!(
            "{url}: playing H.264 track {video_stream} over {}",
            opts.transport
        );
        Ok(Source {
            url,
            session: Box::pin(playing),
            sdp,
            video,
            video_stream,
            idle_timeout: opts.idle_timeout,
            idle: Box::pin(tokio::time::sleep(opts.idle_timeout)),
            last_rx: tokio::time::Instant::now(),
            transport: opts.transport,
            tool,
            end: EndState::Playing,
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

    /// The H.264 video section of the SDP.
    pub fn video(&self) -> &MediaSection {
        &self.video
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The server's `Server` header, if any.
    pub fn tool(&self) -> Option<&str> {
        self.tool.as_deref()
    }

    /// The next packet of the session; `Ok(None)` at its end (server close, or the drain
    /// after a BYE is over).
    async fn next_item(&mut self) -> Result<Option<PacketItem>, RtspError> {
        match self.end {
            EndState::Ended | EndState::ByePending => Ok(None),
            EndState::Playing => loop {
                tokio::select! {
                    biased;
                    item = self.session.next() => {
                        self.last_rx = tokio::time::Instant::now();
                        return match item {
                            None => Ok(None),
                            Some(Err(e)) => Err(retina_err(&self.url, e)),
                            Some(Ok(item)) => Ok(Some(item)),
                        };
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
                match tokio::time::timeout(quiet, self.session.next()).await {
                    Ok(Some(Ok(item))) => Ok(Some(item)),
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

    /// The next event of the video track; `Ok(None)` when the server closed the session.
    /// Packets of other tracks (none are set up today) are skipped. `Bye` is reported
    /// once, after the packets still queued behind it over UDP.
    pub async fn next(&mut self) -> Result<Option<SourceEvent>, RtspError> {
        loop {
            let Some(item) = self.next_item().await? else {
                let pending = matches!(self.end, EndState::ByePending);
                self.end = EndState::Ended;
                return Ok(pending.then_some(SourceEvent::Bye));
            };
            match item {
                PacketItem::Rtp(pkt) if pkt.stream_id() == self.video_stream => {
                    let h = pkt.header();
                    let (sequence_number, timestamp, marker, ssrc, payload_type) = (
                        h.sequence_number(),
                        h.timestamp(),
                        h.mark(),
                        h.ssrc(),
                        h.payload_type(),
                    );
                    return Ok(Some(SourceEvent::Rtp(RtpPacket {
                        sequence_number,
                        timestamp,
                        marker,
                        ssrc,
                        payload_type,
                        payload: pkt.into_payload_bytes(),
                    })));
                }
                PacketItem::Rtcp(c) if c.stream_id() == self.video_stream => {
                    match rtcp_event(c.raw()) {
                        Some(SourceEvent::Bye) if self.on_bye() => {
                            return Ok(Some(SourceEvent::Bye));
                        }
                        Some(SourceEvent::Bye) => {}
                        Some(ev) => return Ok(Some(ev)),
                        None => {}
                    }
                }
                _ => {}
            }
        }
    }

    /// The next raw packet with its capture channel and whether it is a BYE; `Ok(None)` at
    /// the end. Reading goes on after a BYE until the end (over UDP, the packets it
    /// overtook are still to come).
    pub async fn next_raw(&mut self) -> Result<Option<(RawPacket, bool)>, RtspError> {
        loop {
            let Some(item) = self.next_item().await? else {
                self.end = EndState::Ended;
                return Ok(None);
            };
            return Ok(Some(match item {
                PacketItem::Rtp(pkt) => (
                    RawPacket {
                        channel: capture_channel(pkt.stream_id(), false),
                        data: Bytes::copy_from_slice(pkt.raw()),
                    },
                    false,
                ),
                PacketItem::Rtcp(c) => {
                    let bye = matches!(rtcp_event(c.raw()), Some(SourceEvent::Bye));
                    if bye {
                        self.on_bye();
                    }
                    (
                        RawPacket {
                            channel: capture_channel(c.stream_id(), true),
                            data: Bytes::copy_from_slice(c.raw()),
                        },
                        bye,
                    )
                }
                _ => continue,
            }));
        }
    }
}

fn capture_channel(stream: usize, rtcp: bool) -> u8 {
    u8::try_from(stream * 2 + usize::from(rtcp)).unwrap_or(255)
}

/// Walks an RTCP compound packet: a BYE anywhere ends the stream; otherwise a sender report
/// gives the wall-clock mapping. Malformed packets are ignored (retina validated framing).
pub fn rtcp_event(raw: &[u8]) -> Option<SourceEvent> {
    let mut rest = raw;
    let mut sr = None;
    while rest.len() >= 4 {
        let pt = rest[1];
        let words = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let len = (words + 1) * 4;
        let Some(pkt) = rest.get(..len) else { break };
        match pt {
            203 => return Some(SourceEvent::Bye),
            200 if pkt.len() >= 20 && sr.is_none() => {
                let ntp = u64::from_be_bytes([
                    pkt[8], pkt[9], pkt[10], pkt[11], pkt[12], pkt[13], pkt[14], pkt[15],
                ]);
                let rtp_timestamp = u32::from_be_bytes([pkt[16], pkt[17], pkt[18], pkt[19]]);
                sr = Some(SourceEvent::SenderReport { ntp, rtp_timestamp });
            }
            _ => {}
        }
        rest = &rest[len..];
    }
    sr
}

#[cfg(test)]
mod tests {
    use super::*;

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

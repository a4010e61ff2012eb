//! camwire's own RTSP/1.0 client (RFC 2326): control (OPTIONS, DESCRIBE, SETUP, PLAY,
//! PAUSE, GET_PARAMETER keepalives, TEARDOWN) and the data path (interleaved TCP or UDP).
//!
//! Data path: one receive buffer per connection (`RecvBuf`, slabs recycled once every
//! `Bytes` cut from them is dropped); each `$` frame leaves it by `split_to` + `freeze`, no
//! copy. Each wakeup reads everything the socket holds that fits; for UDP, every queued
//! datagram. Data that arrives while a response is awaited (live555 sends RTP before its PLAY
//! answer) is queued, not lost. Requests the server sends are answered at once.

use super::auth::{AuthStep, Authenticator};
use super::headers::{self, HeaderError, SessionHeader, TransportReply};
use super::msg::{Frame, Framer, Headers, Message, MessageError, Request, Response};
use super::rtcp::{self, ReceiverStats, RtcpEvent};
use super::sdp::{self, MediaSection, SdpError};
use crate::credentials::Credentials;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, Sleep};
use url::Url;

/// Most redirects followed for one DESCRIBE.
pub const MAX_REDIRECTS: usize = 3;
/// Size of one receive slab. A recording holds a fragment's worth (1 s) of received packets
/// until the fragment is written; 128 KiB slabs round that up by less than 256 KiB ones
/// (peak RSS per added stream 1.08 MB with 256 KiB, see benches/README.md).
const SLAB: usize = 128 * 1024;
/// With read coalescing, the kernel wakes us once this much is queued (`SO_RCVLOWAT`), or
/// when the coalescing delay is over, whichever comes first. 256 KiB is more than 250 ms of a
/// camera up to ~8 Mbit/s, so there the delay paces the wakeups (4 a second; with 64 KiB a
/// 4 Mbit/s stream woke ~8 times a second: benches/README.md, "N=1 a third time").
const COALESCE_LOWAT: usize = 256 * 1024;
/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 65_536;
/// Frames queued while a response is awaited before the connection is given up.
const MAX_QUEUED_FRAMES: usize = 8192;
/// Interval of receiver reports.
const RR_INTERVAL: Duration = Duration::from_secs(5);

/// Options of a client connection.
#[derive(Clone)]
pub struct ClientOptions {
    /// Login used when the server answers 401.
    pub credentials: Option<Credentials>,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Bound on each request's answer (and the TCP connect).
    pub request_timeout: Duration,
    /// Bound on the TEARDOWN answer at close.
    pub teardown_timeout: Duration,
    /// Read coalescing: once the socket is drained, wait this long before the next read so
    /// that many packets arrive per wakeup and syscall (0: read as soon as readable; TCP only).
    /// It pays only when longer than the camera's write bursts (one per frame, 40 ms at
    /// 25 fps): see benches/README.md.
    /// Arrival times (the jitter of our receiver reports) are taken per read, so they then
    /// include up to this delay.
    pub coalesce: Duration,
    /// Coalescing starts at most this long after each PLAY (default 3 s), sooner when the
    /// caller says its clocks are anchored ([`RtspClient::start_coalescing`]). The first
    /// frames' arrival times anchor the wall clock of a camera without (sane) sender reports;
    /// coalesced, they would be handed over up to [`Self::coalesce`] late, the recording's
    /// times that far off, stepping back at the first sender report.
    pub coalesce_after_play: Duration,
    /// CNAME in our RTCP reports.
    pub cname: String,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("credentials", &self.credentials.as_ref().map(|_| "***"))
            .field("user_agent", &self.user_agent)
            .field("request_timeout", &self.request_timeout)
            .field("teardown_timeout", &self.teardown_timeout)
            .field("coalesce", &self.coalesce)
            .field("coalesce_after_play", &self.coalesce_after_play)
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            credentials: None,
            user_agent: concat!("camwire/", env!("CARGO_PKG_VERSION")).to_string(),
            request_timeout: Duration::from_secs(10),
            teardown_timeout: Duration::from_secs(2),
            coalesce: coalesce_override().unwrap_or(Duration::ZERO),
            coalesce_after_play: Duration::from_secs(3),
            cname: "camwire".to_string(),
        }
    }
}

/// Environment override of the default read coalescing ([`ClientOptions::coalesce`], and
/// the recording default of [`super::SourceOptions::read_coalesce`]), in milliseconds, for
/// benchmarks and field tuning: `CAMWIRE_RTSP_COALESCE_MS=0 camwire record ...`. Values above
/// 1000 are capped at 1000; anything unparsable is ignored. Explicit options win over it.
pub const COALESCE_ENV: &str = "CAMWIRE_RTSP_COALESCE_MS";

/// The coalescing [`COALESCE_ENV`] asks for, if it is set.
pub fn coalesce_override() -> Option<Duration> {
    let ms: u64 = std::env::var(COALESCE_ENV).ok()?.trim().parse().ok()?;
    Some(Duration::from_millis(ms.min(1000)))
}

/// Why a request or the session failed. Never holds credentials.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Connect, read or write failed.
    #[error("{step}: {source}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// No answer in time.
    #[error("{step} timed out after {after:?}")]
    Timeout {
        /// The request.
        step: &'static str,
        /// The bound.
        after: Duration,
    },
    /// 401 with no usable credentials, or again after authenticating.
    #[error("authentication failed")]
    Auth,
    /// 454: the server no longer knows our session (reconnect).
    #[error("{method}: session not found (454)")]
    SessionGone {
        /// The request.
        method: String,
    },
    /// 551 (option not supported) or 459 (aggregate operation not allowed) or 501: the device
    /// cannot do what was asked (for replay: it cannot replay).
    #[error("{method}: not supported by the server ({status}{})", unsupported.as_deref().map(|u| format!(", Unsupported: {u}")).unwrap_or_default())]
    Unsupported {
        /// The request.
        method: String,
        /// The status.
        status: u16,
        /// The `Unsupported` header, naming the refused option tag.
        unsupported: Option<String>,
    },
    /// 453 or 503 at SETUP: the server has no session slot (cameras allow few, and may still
    /// hold a stale one of ours). Worth retrying after the stale session's timeout.
    #[error("{method}: server has no free session ({status})")]
    SessionLimit {
        /// The request.
        method: String,
        /// The status.
        status: u16,
    },
    /// Any other non-2xx answer.
    #[error("{method}: {status} {reason}")]
    Status {
        /// The request.
        method: String,
        /// The status.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// More than [`MAX_REDIRECTS`] redirects, or one without a usable `Location`.
    #[error("bad or too many redirects")]
    Redirect,
    /// The bytes on the connection are not RTSP.
    #[error("{0}")]
    Message(#[from] MessageError),
    /// A header the step needs is missing or malformed.
    #[error("{method}: {source}")]
    Header {
        /// The request.
        method: String,
        /// What was wrong.
        source: HeaderError,
    },
    /// The DESCRIBE body is not a usable SDP.
    #[error("DESCRIBE: {0}")]
    Sdp(#[from] SdpError),
    /// Interleaved framing is lost for good (too much garbage between frames).
    #[error("interleaved framing lost ({garbage_bytes} garbage bytes in {resyncs} places)")]
    FramingLost {
        /// Bytes skipped.
        garbage_bytes: u64,
        /// Resynchronisations.
        resyncs: u64,
    },
    /// Interleaved data on a channel no stream was set up on.
    #[error("interleaved data on unassigned channel {0}")]
    UnassignedChannel(u8),
    /// The server closed the connection while an answer was awaited.
    #[error("{0}: connection closed by the server")]
    Closed(&'static str),
    /// The request cannot be made in this state (e.g. PLAY before SETUP).
    #[error("{0}")]
    State(&'static str),
}

impl ClientError {
    /// The RTSP status code when the error is an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::SessionGone { .. } => Some(454),
            ClientError::Unsupported { status, .. }
            | ClientError::SessionLimit { status, .. }
            | ClientError::Status { status, .. } => Some(*status),
            ClientError::Auth => Some(401),
            _ => None,
        }
    }
}

/// One media stream of the presentation.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The SDP media section (camwire's own SDP reader).
    pub section: MediaSection,
    /// Its control URL (joined to the base URL; the base itself when the SDP has none).
    pub control: Url,
}

/// The DESCRIBE answer, understood.
#[derive(Debug, Clone)]
pub struct Presentation {
    /// The URL that was finally described (after redirects).
    pub request_url: Url,
    /// Content-Base, else Content-Location, else the request URL.
    pub base_url: Url,
    /// The aggregate control URL (session-level `a=control`, else the request URL).
    pub control: Url,
    /// Media streams in SDP order.
    pub streams: Vec<Stream>,
    /// The raw SDP.
    pub sdp: Bytes,
    /// `Content-Type` was missing (tolerated: the body is read as SDP).
    pub content_type_missing: bool,
}

/// Parses a DESCRIBE answer into a [`Presentation`].
pub fn parse_describe(request_url: &Url, resp: &Response) -> Result<Presentation, ClientError> {
    let content_type_missing = match resp.headers.get("Content-Type") {
        None => true,
        Some(v) if v.to_ascii_lowercase().starts_with("application/sdp") => false,
        Some(_) => {
            return Err(ClientError::Header {
                method: "DESCRIBE".into(),
                source: HeaderError::Bad("Content-Type"),
            });
        }
    };
    let sdp_body = resp.body.clone();
    let sections = sdp::media_sections(&sdp_body)?;
    let base_url = headers::base_url(request_url, &resp.headers);
    // Session-level a=control: before the first m= line.
    let text = String::from_utf8_lossy(&sdp_body);
    let mut control = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("m=") {
            break;
        }
        if let Some(c) = line.strip_prefix("a=control:") {
            control = headers::join_control(&base_url, c);
        }
    }
    let control = control.unwrap_or_else(|| request_url.clone());
    let streams = sections
        .into_iter()
        .map(|section| {
            let control = section
                .control
                .as_deref()
                .and_then(|c| headers::join_control(&base_url, c))
                .unwrap_or_else(|| base_url.clone());
            Stream { section, control }
        })
        .collect::<Vec<_>>();
    if streams.is_empty() {
        return Err(ClientError::Sdp(SdpError::NoH264Video));
    }
    Ok(Presentation {
        request_url: request_url.clone(),
        base_url,
        control,
        streams,
        sdp: sdp_body,
        content_type_missing,
    })
}

/// How a stream's RTP travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupTransport {
    /// Interleaved on the RTSP connection; channels are chosen by the client.
    Tcp,
    /// UDP to a pair of local ports.
    Udp,
}

/// The `Range` of a PLAY.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Range {
    /// No `Range` header (resume where paused, or the server's choice).
    None,
    /// `npt=start-[end]` in seconds.
    Npt {
        /// Start.
        start: f64,
        /// End.
        end: Option<f64>,
    },
    /// `npt=0.000-`, what most clients send for live streams.
    #[default]
    NptZero,
    /// `clock=start-[end]`, absolute times (ONVIF replay).
    Clock {
        /// Start.
        start: jiff::Timestamp,
        /// End.
        end: Option<jiff::Timestamp>,
    },
}

impl Range {
    fn header(&self) -> Option<String> {
        fn clock(t: &jiff::Timestamp) -> String {
            t.strftime("%Y%m%dT%H%M%S%.3fZ").to_string()
        }
        match self {
            Range::None => None,
            Range::NptZero => Some("npt=0.000-".into()),
            Range::Npt { start, end } => Some(match end {
                Some(e) => format!("npt={start:.3}-{e:.3}"),
                None => format!("npt={start:.3}-"),
            }),
            Range::Clock { start, end } => Some(format!(
                "clock={}-{}",
                clock(start),
                end.as_ref().map(clock).unwrap_or_default()
            )),
        }
    }
}

/// Options of a PLAY.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// `Range`.
    pub range: Range,
    /// `Scale`.
    pub scale: Option<f64>,
    /// `Speed`.
    pub speed: Option<f64>,
    /// `Rate-Control: yes|no` (ONVIF replay).
    pub rate_control: Option<bool>,
    /// `Require` option tags (e.g. `onvif-replay`).
    pub require: Vec<String>,
    /// `Immediate: yes` (ONVIF: flush and jump now).
    pub immediate: bool,
    /// Any further headers, sent as given.
    pub headers: Vec<(String, String)>,
}

/// What the PLAY answer said.
#[derive(Debug, Clone, Default)]
pub struct PlayReply {
    /// `RTP-Info` entries (seq/rtptime may be missing).
    pub rtp_info: Vec<headers::RtpInfo>,
    /// `Range` as answered.
    pub range: Option<String>,
}

/// An item of a playing session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// An RTP packet of stream `stream` (index into [`Presentation::streams`]).
    Rtp {
        /// Stream index.
        stream: usize,
        /// The whole packet, a slice of the receive buffer.
        data: Bytes,
    },
    /// An RTCP compound packet.
    Rtcp {
        /// Stream index.
        stream: usize,
        /// The whole packet.
        data: Bytes,
    },
}

/// One set-up stream.
#[derive(Debug)]
struct SetupStream {
    index: usize,
    reply: TransportReply,
    /// Interleaved channels (TCP).
    channels: Option<(u8, u8)>,
    udp: Option<UdpPair>,
    stats: ReceiverStats,
}

#[derive(Debug)]
struct UdpPair {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    /// Where the server's RTCP goes (for our reports).
    server_rtcp: Option<SocketAddr>,
}

/// The receive buffer: slabs recycled once no `Bytes` cut from them is alive.
#[derive(Debug)]
struct RecvBuf {
    cur: BytesMut,
    spare: Vec<BytesMut>,
    /// Slabs allocated so far (for tests and benches).
    allocated: usize,
}

impl RecvBuf {
    /// An empty buffer: the first slab is allocated by the first [`Self::make_room`] (a TCP
    /// session never allocates its unused UDP buffer).
    fn new() -> RecvBuf {
        RecvBuf {
            cur: BytesMut::new(),
            spare: Vec::new(),
            allocated: 0,
        }
    }

    /// Makes room for at least `want` more bytes, and for the rest of the interleaved frame
    /// the buffer ends with, moving that unparsed tail (less than one frame) to a recycled or
    /// new slab when the current one is full. (The framer never grows the buffer itself: a
    /// `BytesMut::reserve` on a slab that frames still share would allocate a fresh buffer
    /// and lose the slab to recycling.)
    fn make_room(&mut self, want: usize) {
        let want = want.max(partial_frame_rest(&self.cur));
        if self.cur.capacity() - self.cur.len() >= want {
            return;
        }
        let need = (self.cur.len() + want).max(SLAB);
        // The current slab, if nothing else holds it, can simply be compacted.
        if self.cur.try_reclaim(want) {
            return;
        }
        let mut next = None;
        for i in 0..self.spare.len() {
            if self.spare[i].try_reclaim(need) {
                next = Some(self.spare.swap_remove(i));
                break;
            }
        }
        let mut next = next.unwrap_or_else(|| {
            self.allocated += 1;
            BytesMut::with_capacity(need)
        });
        next.clear();
        next.extend_from_slice(&self.cur);
        let mut old = std::mem::replace(&mut self.cur, next);
        old.clear();
        if old.capacity() > 0 && self.spare.len() < 64 {
            self.spare.push(old);
        }
    }
}

/// Bytes still missing of the interleaved frame that `buf` starts with (0 when it does not
/// start with one's complete header).
fn partial_frame_rest(buf: &[u8]) -> usize {
    match buf {
        [b'$', _, hi, lo, ..] => {
            (4 + usize::from(u16::from_be_bytes([*hi, *lo]))).saturating_sub(buf.len())
        }
        _ => 0,
    }
}

/// A client connection with its session.
pub struct RtspClient {
    url: Url,
    opts: ClientOptions,
    tcp: TcpStream,
    peer: SocketAddr,
    buf: RecvBuf,
    framer: Framer,
    cseq: u32,
    auth: Authenticator,
    session: Option<SessionHeader>,
    server: Option<String>,
    public: Vec<String>,
    presentation: Option<Presentation>,
    setup: Vec<SetupStream>,
    queued: VecDeque<Packet>,
    /// A request of the server met by [`RtspClient::next_buffered`] (which cannot wait to
    /// answer it): answered before anything else is read.
    pending_request: Option<Request>,
    /// Keepalive: method and when it is due.
    keepalive_method: &'static str,
    keepalive: Pin<Box<Sleep>>,
    keepalive_cseq: Option<u32>,
    rr: Pin<Box<Sleep>>,
    our_ssrc: u32,
    playing: bool,
    closed: bool,
    udp_queue: VecDeque<Packet>,
    udp_buf: RecvBuf,
    /// When the last TCP read returned: the arrival time of every frame it completed (one
    /// clock read per syscall, not per packet), for the jitter of our receiver reports.
    read_at: std::time::Instant,
    /// `SO_RCVLOWAT` was set for read coalescing.
    lowat_set: bool,
    /// The last coalesced read filled the buffer: read again (after the frames it completed
    /// are handed out) before waiting, so that one wakeup takes everything queued.
    read_more: bool,
    /// When the last PLAY was answered (coalescing waits
    /// [`ClientOptions::coalesce_after_play`] after it).
    played_at: Option<Instant>,
    /// The caller's clocks are anchored since the last PLAY: coalescing may start before
    /// [`ClientOptions::coalesce_after_play`].
    anchored: bool,
    /// When a coalesced read is due even below the low-water mark.
    coalesce_due: Pin<Box<Sleep>>,
}

impl std::fmt::Debug for RtspClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtspClient")
            .field("url", &self.url.as_str())
            .field("session", &self.session.as_ref().map(|s| &s.id))
            .field("playing", &self.playing)
            .finish_non_exhaustive()
    }
}

fn io_err(step: &'static str) -> impl FnOnce(std::io::Error) -> ClientError {
    move |source| ClientError::Io { step, source }
}

fn method_step(method: &str) -> &'static str {
    match method {
        "OPTIONS" => "OPTIONS",
        "DESCRIBE" => "DESCRIBE",
        "SETUP" => "SETUP",
        "PLAY" => "PLAY",
        "PAUSE" => "PAUSE",
        "TEARDOWN" => "TEARDOWN",
        "GET_PARAMETER" => "GET_PARAMETER",
        _ => "request",
    }
}

async fn connect_tcp(url: &Url, timeout: Duration) -> Result<TcpStream, ClientError> {
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port().unwrap_or(554);
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| ClientError::Timeout {
            step: "connect",
            after: timeout,
        })?
        .map_err(io_err("connect"))?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Kernel receive buffer asked for on each RTP socket. The default (~208 KiB) holds a
/// fraction of a second of a 1080p stream, and a keyframe arrives as one burst: a reader
/// delayed by a busy machine overflows it and the kernel drops datagrams
/// (`UdpRcvbufErrors`), seen as 3–17 lost frames per minute in the GStreamer UDP test on a
/// loaded 2-core machine. 2 MiB is about 4 s at 4 Mbit/s, and costs memory only while the
/// reader is behind. The kernel caps it at `net.core.rmem_max`.
const RTP_UDP_RECV_BUFFER: usize = 2 * 1024 * 1024;

fn enlarge_recv_buffer(sock: &UdpSocket) {
    if let Err(e) = socket2::SockRef::from(sock).set_recv_buffer_size(RTP_UDP_RECV_BUFFER) {
        log::warn!("cannot enlarge the RTP UDP receive buffer: {e}");
    }
}

/// Binds an even/odd UDP port pair on `ip`.
async fn bind_pair(ip: IpAddr) -> Result<(UdpSocket, UdpSocket), ClientError> {
    for _ in 0..20 {
        let rtp = UdpSocket::bind((ip, 0)).await.map_err(io_err("UDP bind"))?;
        let port = rtp.local_addr().map_err(io_err("UDP bind"))?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((ip, port + 1)).await {
            enlarge_recv_buffer(&rtp);
            return Ok((rtp, rtcp));
        }
    }
    Err(ClientError::Io {
        step: "UDP bind",
        source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free even port pair"),
    })
}

impl RtspClient {
    /// Opens the TCP connection to `url` (which must hold no credentials).
    pub async fn connect(url: Url, opts: ClientOptions) -> Result<RtspClient, ClientError> {
        let tcp = connect_tcp(&url, opts.request_timeout).await?;
        let peer = tcp.peer_addr().map_err(io_err("connect"))?;
        let auth = Authenticator::new(opts.credentials.clone());
        Ok(RtspClient {
            url,
            tcp,
            peer,
            buf: RecvBuf::new(),
            framer: Framer::new(),
            cseq: 0,
            auth,
            session: None,
            server: None,
            public: Vec::new(),
            presentation: None,
            setup: Vec::new(),
            queued: VecDeque::new(),
            pending_request: None,
            keepalive_method: "GET_PARAMETER",
            keepalive: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            keepalive_cseq: None,
            rr: Box::pin(tokio::time::sleep(RR_INTERVAL)),
            our_ssrc: rand::random(),
            playing: false,
            played_at: None,
            anchored: false,
            closed: false,
            udp_queue: VecDeque::new(),
            udp_buf: RecvBuf::new(),
            read_at: std::time::Instant::now(),
            lowat_set: false,
            read_more: false,
            coalesce_due: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            opts,
        })
    }

    /// The URL in use (after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The `Server` header of the last answer that had one.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// The session, once SETUP answered.
    pub fn session(&self) -> Option<&SessionHeader> {
        self.session.as_ref()
    }

    /// The DESCRIBE result.
    pub fn presentation(&self) -> Option<&Presentation> {
        self.presentation.as_ref()
    }

    /// Bytes the framer skipped as garbage, and the number of places.
    pub fn garbage(&self) -> (u64, u64) {
        (self.framer.garbage_bytes, self.framer.resyncs)
    }

    /// Receive slabs allocated so far.
    pub fn slabs_allocated(&self) -> usize {
        self.buf.allocated
    }

    /// The keepalive method in use (GET_PARAMETER, or OPTIONS after a refusal).
    pub fn keepalive_method(&self) -> &'static str {
        self.keepalive_method
    }

    fn write_request(&mut self, method: &str, uri: &str, extra: &[(String, String)]) -> Vec<u8> {
        self.cseq += 1;
        let mut s = format!(
            "{method} {uri} RTSP/1.0\r\nCSeq: {}\r\nUser-Agent: {}\r\n",
            self.cseq, self.opts.user_agent
        );
        if let Some(sess) = &self.session {
            s.push_str(&format!("Session: {}\r\n", sess.id));
        }
        if let Some(a) = self.auth.authorization(method, uri) {
            s.push_str(&format!("Authorization: {a}\r\n"));
        }
        for (k, v) in extra {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.into_bytes()
    }

    /// Sends a request and waits for its answer (authenticating on 401). Non-2xx answers are
    /// returned, not errors: the caller maps them.
    pub async fn request_raw(
        &mut self,
        method: &str,
        uri: &str,
        extra: &[(String, String)],
    ) -> Result<Response, ClientError> {
        let step = method_step(method);
        let deadline = Instant::now() + self.opts.request_timeout;
        if self.lowat_set {
            // An answer is small: readable at its first byte again (next() re-arms).
            self.lowat_set = false;
            set_rcvlowat(&self.tcp, 1);
        }
        if let Some(req) = self.pending_request.take() {
            self.answer_server(&req).await?;
        }
        loop {
            let req = self.write_request(method, uri, extra);
            let cseq = self.cseq;
            tokio::time::timeout_at(deadline, self.tcp.write_all(&req))
                .await
                .map_err(|_| ClientError::Timeout {
                    step,
                    after: self.opts.request_timeout,
                })?
                .map_err(io_err(step))?;
            let resp = tokio::time::timeout_at(deadline, self.read_response(cseq, step))
                .await
                .map_err(|_| ClientError::Timeout {
                    step,
                    after: self.opts.request_timeout,
                })??;
            if let Some(s) = resp.headers.get("Server") {
                self.server = Some(s.to_string());
            }
            if resp.status == 401 {
                match self.auth.on_unauthorized(&resp) {
                    AuthStep::Retry => continue,
                    AuthStep::Fail => return Err(ClientError::Auth),
                }
            }
            self.auth.succeeded();
            return Ok(resp);
        }
    }

    /// Like [`Self::request_raw`], mapping non-2xx to typed errors.
    pub async fn request(
        &mut self,
        method: &str,
        uri: &str,
        extra: &[(String, String)],
    ) -> Result<Response, ClientError> {
        let resp = self.request_raw(method, uri, extra).await?;
        check_status(method, resp)
    }

    /// Reads until the answer with `cseq`; queues data, answers server requests.
    async fn read_response(
        &mut self,
        cseq: u32,
        step: &'static str,
    ) -> Result<Response, ClientError> {
        loop {
            while let Some(frame) = self.framer.next(&mut self.buf.cur)? {
                match frame {
                    Frame::Message(Message::Response(r)) => {
                        match r.headers.cseq() {
                            Some(c) if c == cseq => return Ok(r),
                            // A late keepalive answer, or a stray one.
                            Some(c) if Some(c) == self.keepalive_cseq => {
                                self.on_keepalive_answer(&r);
                            }
                            // No CSeq at all: some servers omit it; take it as ours.
                            None => return Ok(r),
                            Some(_) => log::debug!("ignoring answer with another CSeq"),
                        }
                    }
                    Frame::Message(Message::Request(req)) => self.answer_server(&req).await?,
                    Frame::Interleaved { channel, data } => {
                        if let Some(p) = self.classify(channel, data)? {
                            if self.queued.len() >= MAX_QUEUED_FRAMES {
                                return Err(ClientError::State("too much data before the answer"));
                            }
                            self.queued.push_back(p);
                        }
                    }
                }
            }
            self.check_framing()?;
            self.buf.make_room(16 * 1024);
            let n = self
                .tcp
                .read_buf(&mut self.buf.cur)
                .await
                .map_err(io_err(step))?;
            self.read_at = std::time::Instant::now();
            if n == 0 {
                return Err(ClientError::Closed(step));
            }
        }
    }

    fn check_framing(&self) -> Result<(), ClientError> {
        let (garbage_bytes, resyncs) = (self.framer.garbage_bytes, self.framer.resyncs);
        if garbage_bytes > 256 * 1024 || resyncs > 16 {
            return Err(ClientError::FramingLost {
                garbage_bytes,
                resyncs,
            });
        }
        Ok(())
    }

    /// Answers a request the server sent: 200 for OPTIONS/GET_PARAMETER/SET_PARAMETER (a
    /// keepalive from the server), 501 otherwise.
    async fn answer_server(&mut self, req: &Request) -> Result<(), ClientError> {
        let status = match req.method.as_str() {
            "OPTIONS" | "GET_PARAMETER" | "SET_PARAMETER" => "200 OK",
            _ => "501 Not Implemented",
        };
        let mut s = format!("RTSP/1.0 {status}\r\n");
        if let Some(c) = req.headers.get("CSeq") {
            s.push_str(&format!("CSeq: {}\r\n", c.trim()));
        }
        if let Some(sess) = &self.session {
            s.push_str(&format!("Session: {}\r\n", sess.id));
        }
        s.push_str("\r\n");
        self.tcp
            .write_all(s.as_bytes())
            .await
            .map_err(io_err("answer"))
    }

    /// Maps an interleaved frame to its stream; data on unknown channels is an error once
    /// playing, dropped before (servers may send RTCP of streams not yet set up).
    fn classify(&mut self, channel: u8, data: Bytes) -> Result<Option<Packet>, ClientError> {
        for s in &mut self.setup {
            if let Some((rtp, rtcp)) = s.channels {
                if channel == rtp {
                    note_rtp(&mut s.stats, &data, self.read_at);
                    return Ok(Some(Packet::Rtp {
                        stream: s.index,
                        data,
                    }));
                }
                if channel == rtcp {
                    note_rtcp(&mut s.stats, &data, self.read_at);
                    return Ok(Some(Packet::Rtcp {
                        stream: s.index,
                        data,
                    }));
                }
            }
        }
        if self.playing {
            return Err(ClientError::UnassignedChannel(channel));
        }
        Ok(None)
    }

    /// OPTIONS; remembers `Public`.
    pub async fn options(&mut self) -> Result<Vec<String>, ClientError> {
        let uri = self.url.to_string();
        let resp = self.request("OPTIONS", &uri, &[]).await?;
        self.public = headers::public_methods(&resp.headers);
        Ok(self.public.clone())
    }

    /// DESCRIBE, following up to [`MAX_REDIRECTS`] 3xx redirects (a redirect to another host
    /// opens a new connection).
    pub async fn describe(&mut self) -> Result<&Presentation, ClientError> {
        let accept = [("Accept".to_string(), "application/sdp".to_string())];
        let mut redirects = 0;
        loop {
            let uri = self.url.to_string();
            let resp = self.request_raw("DESCRIBE", &uri, &accept).await?;
            if (300..400).contains(&resp.status) {
                redirects += 1;
                let loc = resp.headers.get("Location").ok_or(ClientError::Redirect)?;
                let next = self
                    .url
                    .join(loc.trim())
                    .map_err(|_| ClientError::Redirect)?;
                if redirects > MAX_REDIRECTS || next.scheme() != "rtsp" {
                    return Err(ClientError::Redirect);
                }
                if next.host_str() != self.url.host_str() || next.port() != self.url.port() {
                    self.tcp = connect_tcp(&next, self.opts.request_timeout).await?;
                    self.peer = self.tcp.peer_addr().map_err(io_err("connect"))?;
                    self.buf = RecvBuf::new();
                    self.framer = Framer::new();
                }
                self.url = next;
                continue;
            }
            let resp = check_status("DESCRIBE", resp)?;
            let url = self.url.clone();
            return Ok(self.presentation.insert(parse_describe(&url, &resp)?));
        }
    }

    /// SETUP of stream `index` of the presentation.
    pub async fn setup(
        &mut self,
        index: usize,
        transport: SetupTransport,
    ) -> Result<&TransportReply, ClientError> {
        let (control, clock_rate) = self
            .presentation
            .as_ref()
            .and_then(|p| p.streams.get(index))
            .map(|s| (s.control.to_string(), s.section.clock_rate))
            .ok_or(ClientError::State(
                "SETUP of a stream that is not in the DESCRIBE",
            ))?;
        let (spec, udp) = match transport {
            SetupTransport::Tcp => {
                let ch = u8::try_from(self.setup.len() * 2)
                    .map_err(|_| ClientError::State("too many streams"))?;
                (
                    format!("RTP/AVP/TCP;unicast;interleaved={}-{}", ch, ch + 1),
                    None,
                )
            }
            SetupTransport::Udp => {
                let local = self.tcp.local_addr().map_err(io_err("SETUP"))?.ip();
                let bind_ip = if local.is_ipv4() {
                    IpAddr::from([0, 0, 0, 0])
                } else {
                    IpAddr::from([0u16; 8])
                };
                let (rtp, rtcp) = bind_pair(bind_ip).await?;
                let port = rtp.local_addr().map_err(io_err("SETUP"))?.port();
                (
                    format!("RTP/AVP;unicast;client_port={}-{}", port, port + 1),
                    Some((rtp, rtcp)),
                )
            }
        };
        let resp = self
            .request("SETUP", &control, &[("Transport".to_string(), spec)])
            .await?;
        let sess = resp.headers.get("Session").ok_or(ClientError::Header {
            method: "SETUP".into(),
            source: HeaderError::Missing("Session"),
        })?;
        let sess = headers::parse_session(sess).map_err(|source| ClientError::Header {
            method: "SETUP".into(),
            source,
        })?;
        if self.session.as_ref().is_none_or(|s| s.id != sess.id) {
            self.session = Some(sess);
        }
        let tr = resp.headers.get("Transport").ok_or(ClientError::Header {
            method: "SETUP".into(),
            source: HeaderError::Missing("Transport"),
        })?;
        let reply = headers::parse_transport(tr).map_err(|source| ClientError::Header {
            method: "SETUP".into(),
            source,
        })?;
        let mut st = SetupStream {
            index,
            channels: None,
            udp: None,
            stats: ReceiverStats::new(clock_rate),
            reply: reply.clone(),
        };
        match (transport, udp) {
            (SetupTransport::Tcp, _) => {
                let ours = u8::try_from(self.setup.len() * 2).unwrap_or(0);
                st.channels = Some(reply.interleaved.unwrap_or((ours, ours.wrapping_add(1))));
            }
            (SetupTransport::Udp, Some((rtp, rtcp))) => {
                let server_ip = reply.source.unwrap_or(self.peer.ip());
                let mut server_rtcp = None;
                if let Some((srtp, srtcp)) = reply.server_port {
                    // Open NAT bindings: one dummy packet to each server port.
                    let dummy_rtp = [0x80u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                    let _ = rtp.send_to(&dummy_rtp, (server_ip, srtp)).await;
                    let mut rr = Vec::with_capacity(8);
                    rr.extend_from_slice(&[0x80, 201, 0, 1]);
                    rr.extend_from_slice(&self.our_ssrc.to_be_bytes());
                    let _ = rtcp.send_to(&rr, (server_ip, srtcp)).await;
                    server_rtcp = Some(SocketAddr::new(server_ip, srtcp));
                }
                st.udp = Some(UdpPair {
                    rtp,
                    rtcp,
                    server_rtcp,
                });
            }
            (SetupTransport::Udp, None) => {}
        }
        self.setup.push(st);
        Ok(&self.setup.last().expect("just pushed").reply)
    }

    fn aggregate_uri(&self) -> String {
        self.presentation
            .as_ref()
            .map(|p| p.control.to_string())
            .unwrap_or_else(|| self.url.to_string())
    }

    /// PLAY (the first, or again after PAUSE).
    pub async fn play(&mut self, opts: &PlayOptions) -> Result<PlayReply, ClientError> {
        if self.session.is_none() {
            return Err(ClientError::State("PLAY before SETUP"));
        }
        let mut extra = Vec::new();
        if let Some(r) = opts.range.header() {
            extra.push(("Range".to_string(), r));
        }
        if let Some(s) = opts.scale {
            extra.push(("Scale".to_string(), format!("{s}")));
        }
        if let Some(s) = opts.speed {
            extra.push(("Speed".to_string(), format!("{s}")));
        }
        if let Some(rc) = opts.rate_control {
            extra.push((
                "Rate-Control".to_string(),
                if rc { "yes" } else { "no" }.to_string(),
            ));
        }
        if !opts.require.is_empty() {
            extra.push(("Require".to_string(), opts.require.join(", ")));
        }
        if opts.immediate {
            extra.push(("Immediate".to_string(), "yes".to_string()));
        }
        extra.extend(opts.headers.iter().cloned());
        let uri = self.aggregate_uri();
        // Data may arrive before the answer (live555 over TCP): it must be taken as ours.
        self.playing = false;
        let resp = self.request("PLAY", &uri, &extra).await?;
        self.playing = true;
        self.played_at = Some(Instant::now());
        self.anchored = false;
        self.arm_keepalive();
        self.rr.as_mut().reset(Instant::now() + RR_INTERVAL);
        Ok(PlayReply {
            rtp_info: resp
                .headers
                .get("RTP-Info")
                .map(headers::parse_rtp_info)
                .unwrap_or_default(),
            range: resp.headers.get("Range").map(str::to_string),
        })
    }

    /// PAUSE. Data already in flight is still delivered by [`Self::next`].
    pub async fn pause(&mut self) -> Result<(), ClientError> {
        let uri = self.aggregate_uri();
        self.request("PAUSE", &uri, &[]).await?;
        self.playing = false;
        Ok(())
    }

    fn arm_keepalive(&mut self) {
        let secs = self
            .session
            .as_ref()
            .map_or(60, SessionHeader::timeout_secs);
        let every = Duration::from_millis(u64::from(secs) * 500).max(Duration::from_millis(500));
        self.keepalive.as_mut().reset(Instant::now() + every);
    }

    fn on_keepalive_answer(&mut self, r: &Response) {
        self.keepalive_cseq = None;
        if matches!(r.status, 405 | 501 | 551) && self.keepalive_method == "GET_PARAMETER" {
            log::info!(
                "GET_PARAMETER refused ({}); keepalives use OPTIONS",
                r.status
            );
            self.keepalive_method = "OPTIONS";
        }
    }

    async fn send_keepalive(&mut self) -> Result<(), ClientError> {
        let method = self.keepalive_method;
        let uri = if method == "OPTIONS" {
            "*".to_string()
        } else {
            self.aggregate_uri()
        };
        let req = self.write_request(method, &uri, &[]);
        self.keepalive_cseq = Some(self.cseq);
        self.tcp
            .write_all(&req)
            .await
            .map_err(io_err("keepalive"))?;
        self.arm_keepalive();
        Ok(())
    }

    async fn send_reports(&mut self) -> Result<(), ClientError> {
        let now = std::time::Instant::now();
        let mut out = Vec::with_capacity(128);
        for i in 0..self.setup.len() {
            out.clear();
            let s = &mut self.setup[i];
            s.stats
                .write_report(self.our_ssrc, &self.opts.cname, now, &mut out);
            if let Some((_, rtcp_ch)) = s.channels {
                let mut framed = Vec::with_capacity(out.len() + 4);
                framed.extend_from_slice(&[b'$', rtcp_ch]);
                framed.extend_from_slice(&(out.len() as u16).to_be_bytes());
                framed.extend_from_slice(&out);
                self.tcp.write_all(&framed).await.map_err(io_err("RTCP"))?;
            } else if let Some(u) = &s.udp
                && let Some(to) = u.server_rtcp
            {
                let _ = u.rtcp.send_to(&out, to).await;
            }
        }
        self.rr.as_mut().reset(Instant::now() + RR_INTERVAL);
        Ok(())
    }

    /// The caller has anchored its wall clocks to the arrival of the first frames (or needs
    /// no arrival times): read coalescing, if configured, may start now instead of
    /// [`ClientOptions::coalesce_after_play`] after PLAY. Until the next PLAY.
    pub fn start_coalescing(&mut self) {
        self.anchored = true;
    }

    /// The next packet already received (queued, or whole in the receive buffer), without
    /// waiting and without a syscall; `Ok(None)` when [`Self::next`] has to wait (or the
    /// connection is closed). A consumer that drains this after each [`Self::next`] handles
    /// the packets of one socket read in a plain loop instead of one `await` each. A request
    /// of the server met here is answered by the next [`Self::next`] (or request) before it
    /// reads on.
    pub fn next_buffered(&mut self) -> Result<Option<Packet>, ClientError> {
        if let Some(p) = self.queued.pop_front() {
            return Ok(Some(p));
        }
        if self.closed || self.pending_request.is_some() {
            return Ok(None);
        }
        if let Some(p) = self.udp_queue.pop_front() {
            return Ok(Some(p));
        }
        while let Some(frame) = self.framer.next(&mut self.buf.cur)? {
            match frame {
                Frame::Interleaved { channel, data } => {
                    if let Some(p) = self.classify(channel, data)? {
                        return Ok(Some(p));
                    }
                }
                Frame::Message(Message::Response(r)) => {
                    if r.headers.cseq().is_some() && r.headers.cseq() == self.keepalive_cseq {
                        self.on_keepalive_answer(&r);
                    } else if r.status == 454 {
                        return Err(ClientError::SessionGone {
                            method: "keepalive".into(),
                        });
                    }
                }
                Frame::Message(Message::Request(req)) => {
                    self.pending_request = Some(req);
                    return Ok(None);
                }
            }
        }
        self.check_framing()?;
        Ok(None)
    }

    /// The next packet of the playing session; `Ok(None)` when the server closed the
    /// connection. Keepalives and receiver reports are sent from here.
    pub async fn next(&mut self) -> Result<Option<Packet>, ClientError> {
        let udp = self.setup.iter().any(|s| s.udp.is_some());
        loop {
            if let Some(req) = self.pending_request.take() {
                self.answer_server(&req).await?;
            }
            if let Some(p) = self.next_buffered()? {
                return Ok(Some(p));
            }
            if self.closed {
                return Ok(None);
            }
            if self.pending_request.is_some() {
                continue;
            }
            enum Wake {
                Tcp(usize),
                CoalesceDue,
                Udp,
                Keepalive,
                Report,
            }
            // Read coalescing (TCP): the socket becomes readable only once COALESCE_LOWAT
            // bytes are queued (the kernel does not wake us per packet), and the coalescing
            // delay bounds the wait for slower streams. Without SO_RCVLOWAT, a plain sleep
            // would still see epoll return on every camera write.
            let coalescing = !udp
                && !self.opts.coalesce.is_zero()
                && self
                    .played_at
                    .is_some_and(|t| self.anchored || t.elapsed() >= self.opts.coalesce_after_play);
            if coalescing && !self.lowat_set {
                self.lowat_set = true;
                if !set_rcvlowat(&self.tcp, COALESCE_LOWAT) {
                    log::debug!("SO_RCVLOWAT refused: coalescing by timer only");
                }
                self.coalesce_due
                    .as_mut()
                    .reset(Instant::now() + self.opts.coalesce);
            }
            // A read that fills this room leaves tokio's readiness set: the rest is read at
            // once, without waiting for the low-water mark again.
            self.buf.make_room(16 * 1024);
            if std::mem::take(&mut self.read_more) {
                // The rest of what a coalesced read left queued (tokio saw no readiness:
                // the low-water mark hides it), in this same wakeup.
                if !self.read_queued()? {
                    return Ok(None);
                }
                continue;
            }
            let wake = {
                let tcp = &mut self.tcp;
                let buf = &mut self.buf.cur;
                let setup = &mut self.setup;
                let udp_queue = &mut self.udp_queue;
                let udp_buf = &mut self.udp_buf;
                let keepalive = self.keepalive.as_mut();
                let rr = self.rr.as_mut();
                let due = self.coalesce_due.as_mut();
                tokio::select! {
                    biased;
                    r = tcp.read_buf(buf) => Wake::Tcp(r.map_err(io_err("read"))?),
                    () = due, if coalescing => Wake::CoalesceDue,
                    r = drain_udp(setup, udp_buf, udp_queue), if udp => { r?; Wake::Udp }
                    () = keepalive => Wake::Keepalive,
                    () = rr => Wake::Report,
                }
            };
            match wake {
                Wake::Tcp(0) => {
                    self.closed = true;
                    return Ok(None);
                }
                Wake::Tcp(_) => {
                    self.read_at = std::time::Instant::now();
                    if coalescing {
                        self.coalesce_due
                            .as_mut()
                            .reset(Instant::now() + self.opts.coalesce);
                    }
                }
                Wake::CoalesceDue => {
                    // Whatever is queued, below the low-water mark. (Not `try_read_buf`: it
                    // reads only when tokio saw readiness, which the low-water mark hides.)
                    if !self.read_queued()? {
                        return Ok(None);
                    }
                    self.coalesce_due
                        .as_mut()
                        .reset(Instant::now() + self.opts.coalesce);
                }
                Wake::Udp => {}
                Wake::Keepalive => self.send_keepalive().await?,
                Wake::Report => self.send_reports().await?,
            }
        }
    }

    /// One non-blocking read of whatever the socket holds (below the low-water mark too);
    /// false when the server closed the connection. A read that fills the buffer's room
    /// asks for another ([`Self::read_more`]).
    fn read_queued(&mut self) -> Result<bool, ClientError> {
        let room = self.buf.cur.capacity() - self.buf.cur.len();
        match recv_queued(&self.tcp, &mut self.buf.cur) {
            Ok(0) => {
                self.closed = true;
                Ok(false)
            }
            Ok(n) => {
                self.read_at = std::time::Instant::now();
                self.read_more = n == room;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(true),
            Err(e) => Err(io_err("read")(e)),
        }
    }

    /// TEARDOWN, waiting at most the teardown timeout for the answer. Errors are ignored:
    /// the session ends either way.
    pub async fn teardown(mut self) {
        if self.session.is_none() {
            return;
        }
        let uri = self.aggregate_uri();
        let bound = self.opts.teardown_timeout;
        let _ = tokio::time::timeout(bound, self.request_raw("TEARDOWN", &uri, &[])).await;
    }
}

/// Reads every queued datagram of every socket once one is readable.
async fn drain_udp(
    setup: &mut [SetupStream],
    buf: &mut RecvBuf,
    out: &mut VecDeque<Packet>,
) -> Result<(), ClientError> {
    std::future::poll_fn(|cx| {
        let mut any = false;
        // Arrival time of everything read in this wakeup: one clock read, at the first datagram.
        let mut now = None;
        for s in setup.iter_mut() {
            let Some(u) = &s.udp else { continue };
            for (sock, rtcp) in [(&u.rtp, false), (&u.rtcp, true)] {
                while sock.poll_recv_ready(cx).is_ready() {
                    buf.make_room(MAX_DATAGRAM);
                    match sock.try_recv_buf(&mut buf.cur) {
                        Ok(n) => {
                            any = true;
                            let data = buf.cur.split_to(n).freeze();
                            let at = *now.get_or_insert_with(std::time::Instant::now);
                            if rtcp {
                                note_rtcp(&mut s.stats, &data, at);
                            } else {
                                note_rtp(&mut s.stats, &data, at);
                            }
                            out.push_back(if rtcp {
                                Packet::Rtcp {
                                    stream: s.index,
                                    data,
                                }
                            } else {
                                Packet::Rtp {
                                    stream: s.index,
                                    data,
                                }
                            });
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        // ICMP port unreachable from the dummy packet and the like.
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                        Err(e) => return Poll::Ready(Err(io_err("UDP read")(e))),
                    }
                }
            }
        }
        if any {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Sets `SO_RCVLOWAT`: readiness (epoll) only once `bytes` are queued. Linux only; false
/// when refused or elsewhere.
fn set_rcvlowat(tcp: &TcpStream, bytes: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: a live socket descriptor, and a c_int option value of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                (&raw const v).cast::<libc::c_void>(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        rc == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (tcp, bytes);
        false
    }
}

/// One non-blocking `recv` into `buf`'s spare capacity, whatever tokio's readiness says.
fn recv_queued(tcp: &TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    let len = buf.len();
    let n = socket2::SockRef::from(tcp).recv(buf.spare_capacity_mut())?;
    // SAFETY: `recv` initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(len + n) };
    Ok(n)
}

/// Counts an RTP packet of a stream for its receiver reports (header fields read in place).
fn note_rtp(stats: &mut ReceiverStats, data: &[u8], arrival: std::time::Instant) {
    if data.len() >= 12 {
        let seq = u16::from_be_bytes([data[2], data[3]]);
        let ts = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
        let ssrc = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
        stats.on_rtp(ssrc, seq, ts, arrival);
    }
}

/// Notes a sender report of a stream (for the LSR/DLSR of our receiver reports).
fn note_rtcp(stats: &mut ReceiverStats, data: &[u8], arrival: std::time::Instant) {
    if let Some(RtcpEvent::SenderReport { ntp, .. }) = rtcp::parse_compound(data) {
        stats.on_sender_report(ntp, arrival);
    }
}

fn check_status(method: &str, resp: Response) -> Result<Response, ClientError> {
    let method = method.to_string();
    match resp.status {
        200..=299 => Ok(resp),
        454 => Err(ClientError::SessionGone { method }),
        551 | 459 | 501 => Err(ClientError::Unsupported {
            method,
            status: resp.status,
            unsupported: resp.headers.get("Unsupported").map(str::to_string),
        }),
        453 | 503 if method == "SETUP" => Err(ClientError::SessionLimit {
            method,
            status: resp.status,
        }),
        status => Err(ClientError::Status {
            method,
            status,
            reason: resp.reason,
        }),
    }
}

/// Exposed for the fuzz target: feeds `data` to a framer in chunks and parses every answer as
/// the client would (DESCRIBE, SETUP, PLAY headers). Never panics.
pub fn fuzz_responses(data: &[u8]) {
    let mut framer = Framer::new();
    let mut buf = BytesMut::new();
    let url = Url::parse("rtsp://127.0.0.1/stream").expect("static URL");
    for chunk in data.chunks(97) {
        buf.extend_from_slice(chunk);
        loop {
            match framer.next(&mut buf) {
                Ok(Some(Frame::Message(Message::Response(r)))) => {
                    let _ = parse_describe(&url, &r);
                    if let Some(s) = r.headers.get("Session") {
                        let _ = headers::parse_session(s);
                    }
                    if let Some(t) = r.headers.get("Transport") {
                        let _ = headers::parse_transport(t);
                    }
                    if let Some(i) = r.headers.get("RTP-Info") {
                        let _ = headers::parse_rtp_info(i);
                    }
                    let _ = headers::public_methods(&r.headers);
                    let mut a = Authenticator::new(Some(Credentials::new("u", "p")));
                    let _ = a.on_unauthorized(&r);
                    let _ = a.authorization("DESCRIBE", "rtsp://127.0.0.1/stream");
                }
                Ok(Some(Frame::Interleaved { data, .. })) => {
                    let _ = rtcp::parse_compound(&data);
                    let _ = crate::rtp::RtpPacket::parse(data);
                }
                Ok(Some(Frame::Message(Message::Request(_)))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if buf.len() > 2 * super::msg::MAX_HEAD_BYTES {
            buf.clear();
        }
    }
    let _: Headers = Headers::default();
}

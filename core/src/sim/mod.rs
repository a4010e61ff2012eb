//! An embedded simulated IP camera: an RTSP/1.0 server over tokio that streams a committed
//! H.264 clip as RTP (RFC 6184), or its H.265 twin (RFC 7798, [`SimOptions::video_codec`]),
//! optionally with a PCMU or AAC audio track ([`SimOptions::audio`]), for the demo, fast
//! tests and benchmarks.
//!
//! It behaves like a well-mannered camera so real clients (retina, ffmpeg, GStreamer) accept
//! it: OPTIONS/DESCRIBE/SETUP/PLAY/PAUSE/GET_PARAMETER/TEARDOWN, optional Digest auth, TCP
//! interleaved or UDP transport, RTCP sender reports and BYE. Every client gets its own session
//! that starts at the clip's first access unit with its own random SSRC, sequence number and
//! timestamp, so a test can compare received frame `i` with [`clip_access_units`]`()[i]`.
//!
//! With audio, the SDP has a second `m=audio` section (control `trackID=1`); each stream is
//! set up on its own (TCP interleaved channels as the client asks, or UDP ports), has its
//! own SSRC, sequence numbers and random RTP timestamp offset, and an aggregate PLAY starts
//! both on one schedule: video frame `n` and audio frame `k` are captured at
//! `anchor + n * 40 ms` and `anchor + k * frame_duration`, which is what both streams'
//! sender reports say. The audio bytes are a pure function of `k` ([`SimAudio::frame`]), so
//! tests can check every packet. Replay (Profile G) stays video only.
//!
//! Real-peer tests against a third-party server (GStreamer) live elsewhere; the sim is the fast
//! path and the one knob box (packetization, MTU, pacing, duration) for depacketizer tests.
//!
//! It also has a camera's SD card (ONVIF Profile G, [`SimOptions::recording`]): a recording
//! of the clip repeated over the last hours with one gap, listed by Recording Search
//! (GetRecordingSummary, FindRecordings, GetRecordingInformation, FindEvents with
//! `RecordingHistory/Track/State`), handed out by GetReplayUri and replayed over RTSP at
//! [`SimCamera::replay_url`] with `Require: onvif-replay`, `Range: clock=`, `Rate-Control`
//! and the 0xABAC header extension. Which frame is at which time is fixed
//! ([`SimRecording`]): the frame captured at wall-clock `t` is access unit
//! `floor(t_unix / 40 ms) mod 250` of the clip, so a test can check fetched footage frame by
//! frame.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use camwire::sim::{SimCamera, SimOptions};
//! let sim = SimCamera::start(SimOptions::default()).await?;
//! println!("serving {}", sim.rtsp_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod audio;
mod auth;
mod blocking;
mod clip;
mod connection;
mod hostile;
mod onvif;
mod packetizer;
mod recording;
mod replay;
mod request;
mod rtcp;
mod server;
mod stream;
mod transport;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use crate::fmp4::VideoCodec;
pub use audio::{
    SimAudio, aac_config_hex, aac_frames, linear_to_ulaw, pcmu_sample, ulaw_to_linear,
};
pub use blocking::BlockingSimCamera;
pub use clip::{
    CLOCK_RATE, FPS, TICKS_PER_FRAME, clip, clip_access_units, clip_access_units_of, clip_of,
};
pub use hostile::{CLEAN_FRAMES, HUGE_SDP_BYTES, HostileMode, SLOWLORIS_BYTE_INTERVAL};
pub use onvif::{PROFILE_TOKEN, SimOnvifOptions};
pub use recording::{
    RECORDING_TOKEN, REPLAY_PATH_PREFIX, SimGap, SimRecording, SimRecordingOptions, TRACK_TOKEN,
};

/// The RTP payload type the sim announces for H.264.
pub(crate) const PAYLOAD_TYPE: u8 = 96;
/// The path of the one stream the sim serves.
pub const STREAM_PATH: &str = "/stream";

/// How access units are cut into RTP packets (RFC 6184, packetization-mode 1 in the SDP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Packetization {
    /// What most cameras do: SPS+PPS in one STAP-A before every IDR, NALs that fit the MTU as
    /// single NAL unit packets, larger ones as FU-A.
    #[default]
    Mixed,
    /// Every NAL in its own packet regardless of the MTU (up to 65,000 bytes; larger NALs fall
    /// back to FU-A). Exercises receivers with large datagrams or interleaved frames.
    SingleNalOnly,
    /// Every NAL as FU-A, always in at least two fragments (NALs of two bytes or fewer, which
    /// cannot be split, go as single NAL units).
    FuAAlways,
}

/// What to serve and how. `Default` is a realtime, looping, unauthenticated camera on an
/// ephemeral loopback port.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Where to listen for RTSP (TCP). Port 0 picks a free port; see [`SimCamera::port`].
    pub bind: SocketAddr,
    /// `(username, password)`: when set, every request but OPTIONS needs Digest auth.
    pub credentials: Option<(String, String)>,
    /// `true`: send each access unit at its presentation time (25 fps). `false`: as fast as
    /// the socket takes (benchmarks, fast tests). Over UDP, unpaced sending can overrun the
    /// receiver's socket buffer and lose packets, as a real network would.
    pub realtime: bool,
    /// Packet shapes; see [`Packetization`].
    pub packetization: Packetization,
    /// Largest RTP packet (12-byte header included, interleaved or UDP/IP framing excluded).
    /// Values below 64 are treated as 64.
    pub mtu: usize,
    /// Send RTCP sender reports (once per second of media, after the access unit they time).
    pub rtcp_sender_reports: bool,
    /// Start over at the clip's end (timestamps and sequence numbers continue). When `false`,
    /// send RTCP BYE after the last access unit.
    pub loop_clip: bool,
    /// Send RTCP BYE and stop after this much media (counted in frames at 25 fps, so it is
    /// the same stream in realtime and unpaced mode). The connection stays open until the
    /// client tears down or disconnects, as cameras do.
    pub max_duration: Option<Duration>,
    /// The ONVIF face (device and media services, snapshot, events, WS-Discovery responder)
    /// pointing at the RTSP stream; `None` serves RTSP only. See [`SimOnvifOptions`].
    pub onvif: Option<SimOnvifOptions>,
    /// Misbehave like a broken or malicious camera (tests of the client's limits and error
    /// paths); `None` is a well-mannered camera. See [`HostileMode`].
    pub hostile: Option<HostileMode>,
    /// Close every connection this long after it was accepted, as a flaky link or a
    /// rebooting camera does (reconnect tests); `None` keeps connections up.
    pub drop_after: Option<Duration>,
    /// The Profile G face: a recording of the clip repeated over the last hours with one gap,
    /// listed by Recording Search, handed out by GetReplayUri and replayed over RTSP at
    /// [`SimCamera::replay_url`] (`Require: onvif-replay`, `Range: clock=`, `Rate-Control`,
    /// the 0xABAC header extension). Which frame is at which time:
    /// [`SimRecording::clip_index_at`]. `None`: a live-only camera (GetServices lists no
    /// Search, Replay or Recording service, and `/replay/` is 404).
    pub recording: Option<SimRecordingOptions>,
    /// Live sessions show what the recording holds for now: a session starts at the
    /// recording's keyframe at or before the current time (sending the up to 2 s since then
    /// at once, as cameras with a GOP cache do) and its sender reports give each frame its
    /// recording time, so the frame captured at wall-clock `t` is access unit
    /// `floor(t_unix / 40 ms) mod 250` live as well as in replay
    /// ([`SimRecording::clip_index_at`]): what a recorder records and what it back-fills
    /// from the sim are the same footage. Needs `recording` and `realtime`; `false`
    /// (default): every session starts at the clip's first access unit.
    pub live_on_recording_clock: bool,
    /// The video codec: H.264 (default, `core/testdata/sim_clip.h264`, RFC 6184) or H.265
    /// (`core/testdata/sim_clip.h265`, RFC 7798: single NAL unit packets, VPS+SPS+PPS in one
    /// aggregation packet, fragmentation units for large NALs; SDP `H265/90000` with
    /// `sprop-vps/sps/pps`). Both clips are 250 frames of the same picture with a keyframe
    /// every 50, so everything said about "the clip" (frame numbering, the recording's rule,
    /// replay) holds for either; [`clip_of`] and [`clip_access_units_of`] give its bytes.
    /// The ONVIF face still describes its encoder and recording track as H.264.
    pub video_codec: VideoCodec,
    /// A second stream, live only: `m=audio` with control `trackID=1` after the video, set
    /// up over TCP (the client's interleaved channels) or UDP with its own SSRC, sequence
    /// numbers and random RTP timestamp offset in its own clock. It is paced on the video's
    /// schedule and its sender reports are stamped from it, so audio frame `k` is captured at
    /// exactly `anchor + k * frame_duration` where video frame `n` is at `anchor + n * 40 ms`.
    /// An aggregate PLAY starts both and its `RTP-Info` lists both. What is sent is a
    /// function of the frame number: [`SimAudio::frame`]. Replay sessions stay video only.
    /// `None` (default): video only, as before.
    pub audio: Option<SimAudio>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            credentials: None,
            realtime: true,
            packetization: Packetization::Mixed,
            mtu: 1400,
            rtcp_sender_reports: true,
            loop_clip: true,
            max_duration: None,
            onvif: Some(SimOnvifOptions::default()),
            hostile: None,
            drop_after: None,
            recording: Some(SimRecordingOptions::default()),
            live_on_recording_clock: false,
            video_codec: VideoCodec::H264,
            audio: None,
        }
    }
}

/// Counters since the sim started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Sessions that started playing (a client counts once per session).
    pub clients_served: u64,
    /// Sessions set up and not yet torn down or disconnected.
    pub active_sessions: u64,
    /// RTP packets sent, over all sessions.
    pub rtp_packets_sent: u64,
    /// RTCP compound packets sent (sender reports and BYEs).
    pub rtcp_packets_sent: u64,
    /// RTP and RTCP bytes sent (interleaved framing and UDP/IP headers excluded).
    pub bytes_sent: u64,
}

/// A running simulated camera. Dropping it stops the server and every session; prefer
/// [`SimCamera::shutdown`] in async code to wait until they are gone.
pub struct SimCamera {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<()>>,
    onvif: Option<onvif::OnvifFace>,
}

impl SimCamera {
    /// Binds `opts.bind` and serves on the current tokio runtime.
    pub async fn start(opts: SimOptions) -> std::io::Result<SimCamera> {
        let listener = tokio::net::TcpListener::bind(opts.bind).await?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            // A URL needs an address a client can connect to; loopback always works here.
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        let shared = Arc::new(server::Shared::new(opts));
        let opts = &shared.opts;
        let onvif = match &opts.onvif {
            Some(o) => Some(
                onvif::OnvifFace::start(
                    opts.bind.ip(),
                    addr.port(),
                    opts.credentials.clone(),
                    o.clone(),
                    shared.recording,
                )
                .await?,
            ),
            None => None,
        };
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(server::run(listener, shared.clone(), stop_rx));
        Ok(SimCamera {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
            onvif,
        })
    }

    /// Starts a sim on its own runtime thread, for callers without tokio (C, Python).
    pub fn start_blocking(opts: SimOptions) -> std::io::Result<BlockingSimCamera> {
        BlockingSimCamera::start(opts)
    }

    /// `rtsp://IP:PORT/stream`, without credentials.
    pub fn rtsp_url(&self) -> String {
        rtsp_url(self.addr)
    }

    /// The TCP port RTSP listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address RTSP listens on (unspecified IPs reported as 127.0.0.1).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.shared.counters.snapshot()
    }

    /// Where the Profile G recording is (`None` when [`SimOptions::recording`] is `None`).
    pub fn recording(&self) -> Option<SimRecording> {
        self.shared.recording.map(|p| p.public())
    }

    /// `rtsp://IP:PORT/replay/<RECORDING_TOKEN>`: the RTSP replay URL GetReplayUri hands
    /// out (`None` without a recording).
    pub fn replay_url(&self) -> Option<String> {
        replay_url(self.addr, &self.shared)
    }

    /// Stops accepting, ends every session and waits until their tasks are gone.
    pub async fn shutdown(mut self) {
        if let Some(face) = self.onvif.take() {
            face.shutdown().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimCamera {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection task.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for SimCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCamera")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

pub(crate) fn replay_url(addr: SocketAddr, shared: &server::Shared) -> Option<String> {
    shared
        .recording
        .map(|_| format!("rtsp://{addr}{REPLAY_PATH_PREFIX}{RECORDING_TOKEN}"))
}

pub(crate) fn rtsp_url(addr: SocketAddr) -> String {
    format!("rtsp://{addr}{STREAM_PATH}")
}

//! RTSP sessions on `retina`: control and transport only.
//!
//! retina speaks RTSP to quirky cameras (stale live555 sessions, odd TEARDOWN answers, SSRC
//! oddities) and hands us raw RTP packets whose payload we take with
//! `ReceivedPacket::into_payload_bytes()`: a `Bytes` slice of its receive buffer, no copy.
//! We never use retina's `demuxed()` on the recording path (it copies every access unit).
//! retina has no timeouts of its own; [`SourceOptions`] adds connect/request/idle ones.

mod auth;
pub mod client;
pub mod headers;
pub mod msg;
pub mod rtcp;
pub mod sdp;
mod session;
pub mod url;

pub use session::{
    RawPacket, RtspError, Source, SourceEvent, SourceOptions, Transport, rtcp_event,
};

//! RTSP sessions on camwire's own RTSP/1.0 client ([`client`]): control and transport.
//!
//! The client speaks RTSP to quirky cameras (data before the PLAY answer, odd Session and
//! Transport headers, SSRC oddities, server-sent requests) and hands us whole RTP packets as
//! `Bytes` slices of its receive buffer, no copy; [`Source`] parses them in place
//! ([`crate::rtp::RtpPacket`]) and adds connect/request/idle timeouts ([`SourceOptions`]).
//! retina is a dev-dependency only: a peer in benches and an oracle in tests.

mod auth;
pub mod client;
pub mod headers;
pub mod msg;
pub mod rtcp;
pub mod sdp;
mod session;
pub mod url;

pub use session::{
    AudioChoice, RECORDING_READ_COALESCE, RawPacket, RtspError, Source, SourceEvent, SourceOptions,
    TrackInfo, TrackKind, Transport, rtcp_event, track_plan, video_section,
};

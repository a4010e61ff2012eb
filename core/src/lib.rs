//! camwire: the engine a video-management system embeds to find IP cameras, pull their
//! RTSP/RTP H.264 streams without copying payload bytes, and record them as crash-safe
//! fragmented MP4.
//!
//! Module map (one obvious place per concern):
//! - [`h264`]: NAL units, SPS/PPS parsing, avcC and the RFC 6381 codec string.
//! - [`rtp`]: RTP packet parsing and the zero-copy H.264 depacketizer (camera quirks live here).
//! - [`frame`]: the [`frame::AccessUnit`] handed from the depacketizer to the muxer.
//! - [`fmp4`]: fragmented MP4 init segments, fragment headers and vectored writes.
//! - [`rtsp`]: RTSP sessions on `retina` (control and transport only), with our timeouts.
//! - [`record`]: turning a stream of access units into rotated, self-contained MP4 segments.
//! - [`stream`]: live pictures with their times, for embedders that want frames, not files.
//! - [`capture`]: the interleaved capture format behind `camwire capture` / `camwire replay`.
//! - [`sim`]: an embedded simulated camera (feature `sim`) for the demo, tests and benches.

pub mod capture;
pub mod credentials;
mod error_kind;
pub mod export;
pub mod filelock;
pub mod fmp4;
pub mod frame;
pub mod h264;
pub mod onvif;
pub mod record;
pub mod rtp;
pub mod rtsp;
#[cfg(feature = "sim")]
pub mod sim;
pub mod stream;

pub use credentials::Credentials;
pub use error_kind::ErrorKind;
pub use frame::AccessUnit;

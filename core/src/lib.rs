//! camwire: the engine a video-management system embeds to find IP cameras, pull their
//! RTSP/RTP H.264 streams without copying payload bytes, and record them as crash-safe
//! fragmented MP4.
//!
//! # Quick start
//!
//! Record one camera until Ctrl-C, then cut the last minute out as an evidence clip and check
//! it (for many cameras, reconnects and retention use [`record::Recorder`]; for frames instead
//! of files, [`stream::LiveStream`]):
//!
//! ```no_run
//! use std::time::{Duration, SystemTime};
//! use camwire::export::{ExportOptions, export, verify};
//! use camwire::record::{CameraConfig, SegmentOptions, record_camera};
//! use camwire::rtsp::SourceOptions;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (stop, stop_rx) = tokio::sync::watch::channel(false);
//! let cfg = CameraConfig {
//!     id: "gate".into(),
//!     url: "rtsp://192.0.2.10/Streaming/Channels/101".into(),
//!     source: SourceOptions {
//!         credentials: Some(camwire::Credentials::new("admin", "secret")),
//!         ..Default::default()
//!     },
//!     segment: SegmentOptions { segment_secs: 60, ..Default::default() },
//!     depacketizer: Default::default(),
//!     backfill: None,
//! };
//! let task = tokio::spawn(record_camera(cfg, "/srv/rec".into(), stop_rx));
//! tokio::signal::ctrl_c().await?;
//! stop.send(true)?; // the open fragment is written, the file closed
//! let report = task.await??;
//! println!("{} frames in {} files", report.segments.frames, report.files.len());
//!
//! // Files are under /srv/rec/gate/<date>/<UTC start>.mp4; cut T1..T2 out of them.
//! let end = SystemTime::now();
//! let start = end - Duration::from_secs(60);
//! let root = std::path::Path::new("/srv/rec");
//! let clip = std::path::Path::new("/tmp/gate.mp4");
//! let summary = export(root, "gate", start, end, clip, &ExportOptions::default())?;
//! println!("{} frames, sha256 {}", summary.manifest.frames, summary.manifest.output.sha256);
//! assert!(verify(clip)?.ok()); // re-hashes the clip and its sources against the manifest
//! # Ok(())
//! # }
//! ```
//!
//! Module map (one obvious place per concern):
//! - [`h264`]: NAL units, SPS/PPS parsing, avcC and the RFC 6381 codec string.
//! - [`h265`]: HEVC NAL units, VPS/SPS/PPS parsing, hvcC and the codec string.
//! - [`rtp`]: RTP packet parsing, reordering, loss policy and the zero-copy depacketizers
//!   (camera quirks live here).
//! - [`frame`]: the [`frame::AccessUnit`] handed from the depacketizer to the muxer.
//! - [`fmp4`]: fragmented MP4 init segments, fragment headers and vectored writes.
//! - [`rtsp`]: our RTSP/1.0 client: control, auth, zero-copy interleaved and UDP transport, RTCP.
//! - [`record`]: turning a stream of access units into rotated, self-contained MP4 segments.
//! - [`export`]: evidence clips T1..T2 with a hash manifest, `verify`, and the recorded ranges.
//! - [`onvif`]: WS-Discovery and the device, media, events and PTZ services.
//! - [`filelock`]: the advisory locks that keep retention, exports and the recorder apart.
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
pub mod h265;
pub mod onvif;
pub mod record;
pub mod replay;
pub mod rtp;
pub mod rtsp;
#[cfg(feature = "sim")]
pub mod sim;
pub mod stream;

pub use credentials::Credentials;
pub use error_kind::ErrorKind;
pub use frame::AccessUnit;

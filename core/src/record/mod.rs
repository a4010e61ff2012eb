//! Recording: RTP packets to rotated, self-contained fragmented MP4 files.
//!
//! - [`clock`]: which wall clock a frame's time comes from (the rules in one place).
//! - [`segment`]: file and fragment boundaries, fsync, naming.
//! - [`ingest`]: depacketizer + clock + writer, shared by live recording and replay.
//! - [`camera`]: one live camera from connect to a clean stop.
//! - [`replay`]: a `camwire capture` back into MP4, offline.

pub mod camera;
pub mod clock;
pub mod ingest;
pub mod replay;
pub mod segment;

pub use camera::{CameraConfig, CameraReport, RecordError, record_camera, validate_camera_id};
pub use ingest::Ingest;
pub use segment::{
    ClosedSegment, FsyncPolicy, Naming, SegmentOptions, SegmentStats, SegmentWriter,
};

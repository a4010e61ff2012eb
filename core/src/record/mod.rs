//! Recording: RTP packets to rotated, self-contained fragmented MP4 files.
//!
//! - [`clock`]: which wall clock a frame's time comes from (the rules in one place).
//! - [`segment`]: file and fragment boundaries, fsync, naming.
//! - [`ingest`]: depacketizer + clock + writer, shared by live recording and replay.
//! - [`camera`]: one live camera from connect to a clean stop.
//! - [`recorder`]: many cameras, reconnects, gaps, status and events, disk-full pauses.
//! - [`backfill`]: after an outage, the missing stretch fetched from the device's storage.
//! - [`recovery`]: cutting torn tails after a crash.
//! - [`retention`]: deleting the oldest files by age and size.
//! - [`replay`]: a `camwire capture` back into MP4, offline.
//! - `upload` (feature `s3`): closed segments to S3-compatible object storage.

pub mod backfill;
pub mod camera;
pub mod clock;
pub mod gaps_log;
pub mod ingest;
pub mod recorder;
pub mod recovery;
pub mod replay;
pub mod retention;
pub mod segment;
#[cfg(feature = "s3")]
pub mod upload;
#[cfg(feature = "s3")]
mod upload_digest;

pub use backfill::{BackfillOptions, BackfillSource};
pub use camera::{CameraConfig, CameraReport, RecordError, record_camera, validate_camera_id};
pub use ingest::Ingest;
pub use recorder::{
    Backoff, CameraState, CameraStatus, GAPS_FILE, Gap, Recorder, RecorderEvent, RecorderEventKind,
    RecorderOptions,
};
pub use recovery::{RecoveryReport, recover_camera_dir};
pub use retention::{RetentionLimits, RetentionPolicy, RetentionReport, apply_retention};
pub use segment::{
    ClosedSegment, FsyncPolicy, Naming, SegmentOptions, SegmentStats, SegmentWriter,
};

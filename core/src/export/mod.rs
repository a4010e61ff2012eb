//! Getting evidence out of the recordings: what exists ([`ranges`]), one clip from T1 to T2
//! ([`export`]) with a manifest beside it, and re-checking that clip later ([`verify()`]).
//!
//! Everything here only reads the recordings, lazily: fragment headers for listing, sample
//! tables then sample bytes through a fixed buffer for export. Source files are held with a
//! shared [`crate::filelock::FileHold`] while an export reads them, so retention (which takes
//! an exclusive lock before deleting) leaves them alone, even from another process.
//!
//! Times: a fragment's wall-clock comes from its `prft` (the NTP time of its first sample,
//! see [`crate::record::clock`]); a sample's wall-clock is that plus its decode-time offset
//! in the track timescale. File names (the UTC start) are only used to pick candidate files.
//!
//! - [`index`]: finding files and their fragments' times; [`ranges`] and [`cameras`].
//! - [`clip`]: planning and writing an export ([`export`], [`ExportOptions`]).
//! - [`mp4_writer`]: the progressive and fragmented MP4 box layouts of a clip.
//! - [`manifest`]: `FILE.mp4.manifest.json`, its fields and their meaning.
//! - [`verify`](mod@verify): re-computing the manifest's hashes ([`verify()`], [`VerifyReport`]).
//! - [`progress`]: how far an export or verify is, for [`export_with_progress`] and
//!   [`verify_with_progress`].
//! - [`storage`]: where recordings are read from, a local root or (feature `s3`) an
//!   `s3://bucket/prefix` of uploaded segments ([`Storage`]); every function here takes
//!   either, and the rest of the module does not know which.
//! - `s3` (feature `s3`): listing by the uploader's key layout and ranged, ETag-pinned reads.

pub mod clip;
pub mod index;
pub mod manifest;
pub mod mp4_writer;
pub mod progress;
#[cfg(feature = "s3")]
pub mod s3;
pub mod storage;
pub mod verify;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fmp4::Fmp4Error;

pub use clip::{ExportOptions, ExportSummary, OutputFormat, export, export_with_progress};
pub use index::{Gap, ListOptions, Listing, TimeRange, cameras, ranges, ranges_with};
pub use manifest::{
    MANIFEST_FORMAT, MANIFEST_FORMAT_AV, Manifest, ManifestSourceTrack, ManifestTrack,
    manifest_path,
};
pub use progress::Progress;
#[cfg(feature = "s3")]
pub use s3::{ReadStats, S3Root};
pub use storage::{AsRoot, Storage};
pub use verify::{
    FileStatus, SourceCheck, VerifyReport, verify, verify_with_progress, verify_with_root,
    verify_with_storage,
};

/// Why listing, exporting or verifying failed. Nothing here panics on file contents: a
/// damaged file becomes [`ExportError::Source`] naming it.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The camera id could escape the root or is otherwise not a plain directory name.
    #[error("invalid camera id {id:?}: {reason}")]
    InvalidCameraId {
        /// The id as given (shortened).
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The requested range is empty or reversed.
    #[error("start {start} is not before end {end}")]
    BadRange {
        /// Requested start (RFC 3339).
        start: String,
        /// Requested end (RFC 3339).
        end: String,
    },
    /// The camera has no recording directory under the root.
    #[error("no recordings of camera {camera:?} under {root}")]
    UnknownCamera {
        /// Camera id.
        camera: String,
        /// Recording root.
        root: PathBuf,
    },
    /// Nothing was recorded in the requested range.
    #[error("camera {camera:?} has no recording between {start} and {end}")]
    NoRecording {
        /// Camera id.
        camera: String,
        /// Requested start (RFC 3339).
        start: String,
        /// Requested end (RFC 3339).
        end: String,
    },
    /// A source file could not be read as a camwire recording (damaged, truncated, foreign).
    #[error("source {path}: {error}")]
    Source {
        /// The file.
        path: PathBuf,
        /// What the reader found.
        error: Fmp4Error,
    },
    /// The SPS/PPS (resolution, profile...) differ between two source files of the range.
    /// One MP4 track has one sample description here, so the export is refused rather than
    /// silently producing a clip some players cannot decode; export the parts separately.
    #[error(
        "the stream's parameter sets change at {at} (in {path}): export {start}..{at} and \
         {at}..{end} separately"
    )]
    ParameterSetsChanged {
        /// Wall-clock time of the first frame with the new parameters (RFC 3339).
        at: String,
        /// The file where they change.
        path: PathBuf,
        /// Requested start (RFC 3339).
        start: String,
        /// Requested end (RFC 3339).
        end: String,
    },
    /// A source file no longer holds what the first pass read (rewritten during export).
    #[error("source {0} changed while it was being exported")]
    SourceChanged(PathBuf),
    /// The output file already exists; an export never overwrites evidence.
    #[error("output {0} already exists")]
    OutputExists(PathBuf),
    /// The clip does not fit the MP4 fields (e.g. more than 2^32 samples).
    #[error("clip too large: {0}")]
    TooLarge(&'static str),
    /// The manifest is missing or not a camwire export manifest.
    #[error("manifest {path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The object store refused or failed a request (feature `s3`): the object's or the
    /// root's URL, what kind of failure, and the store's (redacted) answer.
    #[error(transparent)]
    Store(StoreError),
    /// Reading or writing a file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

/// A failed request to an object store, naming the object (or root) by URL. Never carries
/// credentials: the store's answer is redacted with
/// `S3Settings::redact` (`crate::record::upload`, feature `s3`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{url}: {kind}: {detail}")]
pub struct StoreError {
    /// `s3://bucket/prefix/<camera>/<date>/<name>.mp4`, or the root's URL.
    pub url: String,
    /// What went wrong.
    pub kind: StoreErrorKind,
    /// The store's answer (redacted).
    pub detail: String,
}

/// The kinds of [`StoreError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The object is not there (deleted after it was listed or opened).
    ObjectNotFound,
    /// The bucket does not exist.
    BucketNotFound,
    /// Credentials missing, wrong or not allowed to read.
    CredentialsRefused,
    /// The object changed while it was being read (its ETag no longer matches).
    Changed,
    /// The store is unreachable or failing.
    Unavailable,
    /// The `s3://` URL or the client settings are not usable.
    Settings,
}

impl std::fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreErrorKind::ObjectNotFound => "object not found",
            StoreErrorKind::BucketNotFound => "bucket not found",
            StoreErrorKind::CredentialsRefused => {
                "credentials refused (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
            }
            StoreErrorKind::Changed => "object changed while being read",
            StoreErrorKind::Unavailable => "store unreachable or failing",
            StoreErrorKind::Settings => "bad S3 settings",
        })
    }
}

impl ExportError {
    /// An I/O error on `path`; one that carries a [`StoreError`] (a failed GET under a
    /// reader) becomes [`ExportError::Store`].
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        let error = match error.downcast::<StoreError>() {
            Ok(store) => return ExportError::Store(store),
            Err(e) => e,
        };
        ExportError::Io {
            path: path.into(),
            error,
        }
    }

    pub(crate) fn source(path: impl Into<PathBuf>, error: Fmp4Error) -> Self {
        match error {
            Fmp4Error::Io(e) => ExportError::io(path, e),
            error => ExportError::Source {
                path: path.into(),
                error,
            },
        }
    }
}

/// Checks a camera id with the recorder's rule ([`crate::record::validate_camera_id`]), so
/// listing and export can never be pointed outside the root either.
pub(crate) fn check_camera_id(id: &str) -> Result<(), ExportError> {
    crate::record::validate_camera_id(id).map_err(|e| ExportError::InvalidCameraId {
        id: id.chars().take(64).collect(),
        reason: e.to_string(),
    })
}

/// Nanoseconds since the Unix epoch: the one time unit of this module (signed, so that
/// differences and pre-roll before a range are plain arithmetic; fits until year 2262).
pub(crate) type Nanos = i64;

pub(crate) fn system_to_nanos(t: SystemTime) -> Nanos {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

pub(crate) fn nanos_to_system(n: Nanos) -> SystemTime {
    if n >= 0 {
        UNIX_EPOCH + Duration::from_nanos(n.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_nanos(n.unsigned_abs())
    }
}

/// 64-bit NTP (as in `prft`) to Unix nanoseconds.
pub(crate) fn ntp_to_nanos(ntp: u64) -> Nanos {
    let secs = i64::try_from(ntp >> 32).unwrap_or(0)
        - i64::try_from(crate::record::clock::NTP_UNIX_OFFSET_SECS).unwrap_or(0);
    let frac = ((ntp & 0xffff_ffff) * 1_000_000_000) >> 32;
    secs.saturating_mul(1_000_000_000)
        .saturating_add(i64::try_from(frac).unwrap_or(0))
}

/// Unix nanoseconds to 64-bit NTP (clamped to the NTP era).
pub(crate) fn nanos_to_ntp(n: Nanos) -> u64 {
    let offset = crate::record::clock::NTP_UNIX_OFFSET_SECS as i128 * 1_000_000_000;
    let total = (i128::from(n) + offset).max(0);
    let secs = total / 1_000_000_000;
    let frac = ((total % 1_000_000_000) << 32) / 1_000_000_000;
    u64::try_from((secs << 32) | frac).unwrap_or(u64::MAX)
}

/// Media ticks to nanoseconds (signed).
pub(crate) fn ticks_to_nanos(ticks: i64, timescale: u32) -> Nanos {
    let v = i128::from(ticks) * 1_000_000_000 / i128::from(timescale.max(1));
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Nanoseconds to media ticks, rounded to the nearest tick.
pub(crate) fn nanos_to_ticks(n: Nanos, timescale: u32) -> i64 {
    let v = i128::from(n) * i128::from(timescale.max(1));
    let q = (v + if v >= 0 { 500_000_000 } else { -500_000_000 }) / 1_000_000_000;
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

/// RFC 3339 (UTC, `Z`, fractional seconds only as needed): the time format of the CLI, the
/// JSON listing and the manifest.
pub fn rfc3339(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => ts.to_string(),
        Err(_) => format!("{:?}", t),
    }
}

pub(crate) fn rfc3339_nanos(n: Nanos) -> String {
    rfc3339(nanos_to_system(n))
}

/// Parses an RFC 3339 time (any offset; `Z` or `+02:00`).
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    s.parse::<jiff::Timestamp>()
        .map(SystemTime::from)
        .map_err(|e| format!("not an RFC 3339 time {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_conversions_round_trip() {
        let n: Nanos = 1_763_900_000_123_456_789;
        let back = ntp_to_nanos(nanos_to_ntp(n));
        assert!((back - n).abs() <= 1, "{back} vs {n}");
        assert_eq!(system_to_nanos(nanos_to_system(n)), n);
        assert_eq!(system_to_nanos(nanos_to_system(-5)), -5);
        assert_eq!(ticks_to_nanos(3600, 90_000), 40_000_000);
        assert_eq!(nanos_to_ticks(40_000_000, 90_000), 3600);
        assert_eq!(nanos_to_ticks(-40_000_000, 90_000), -3600);
        let t = parse_rfc3339("2025-11-23T12:00:01.5Z").expect("parse");
        assert_eq!(rfc3339(t), "2025-11-23T12:00:01.5Z");
        assert!(parse_rfc3339("yesterday").is_err());
        assert_eq!(
            parse_rfc3339("2025-11-23T14:00:00+02:00").ok(),
            parse_rfc3339("2025-11-23T12:00:00Z").ok()
        );
    }
}

//! Where recordings are read from: a local recording root, or (feature `s3`) the objects the
//! uploader shipped to an S3 bucket prefix (`crate::record::upload`).
//!
//! Listing, export and verify run the same code over both: a [`Storage`] finds the segment
//! files of a camera and opens one as a `Segment`, whose reader is `Read + Seek`. The fMP4
//! scanner, the export planner and copier and the verifier only ever see that reader.
//!
//! - Local: files under `<root>/<camera>/<date>/`, held with a shared lock while read (see
//!   [`crate::filelock`]), as before.
//! - S3 (`s3://bucket/prefix`): keys `<prefix>/<camera>/<date>/<UTC start>.mp4`. A camera's
//!   days are found with one delimiter listing; only the days a time range needs (plus the
//!   nearest day on each side, whose files may run into the range) are listed. Each object is
//!   read with ranged GETs pinned to the ETag its HEAD returned (`If-Match`), so an object
//!   replaced during an export is an error, never a mix of two versions. See
//!   `export::s3` for the read-ahead that bounds memory.
//!
//! A root given as a path whose text starts with `s3://` is an S3 root with settings from the
//! standard AWS variables (`S3Settings::from_env` in `crate::record::upload`); without feature
//! `s3` it is a local path, as it always was.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::filelock::FileHold;

use super::index::{SegmentFile, local_segment_files};
use super::{ExportError, Nanos};

/// A recording root: a local directory or an S3 bucket prefix.
#[derive(Clone, Debug)]
pub enum Storage {
    /// `<root>/<camera>/<date>/<UTC start>.mp4` on a local file system.
    Local(PathBuf),
    /// The same layout as objects under `s3://bucket/prefix` (feature `s3`).
    #[cfg(feature = "s3")]
    S3(super::s3::S3Root),
}

impl Storage {
    /// `path` as a root: `s3://bucket/prefix` (feature `s3`; settings from the AWS
    /// variables) or a local directory.
    pub fn open(path: &Path) -> Result<Storage, ExportError> {
        #[cfg(feature = "s3")]
        if let Some(url) = path.to_str().filter(|s| s.starts_with("s3://")) {
            let settings = crate::record::upload::S3Settings::from_env(url)
                .map_err(|e| super::s3::settings_error(url, &e))?;
            return Ok(Storage::S3(super::s3::S3Root::new(settings)?));
        }
        Ok(Storage::Local(path.to_path_buf()))
    }

    /// An S3 root with explicit settings (endpoint, credentials: from a config file, say).
    #[cfg(feature = "s3")]
    pub fn s3(settings: crate::record::upload::S3Settings) -> Result<Storage, ExportError> {
        Ok(Storage::S3(super::s3::S3Root::new(settings)?))
    }

    /// What a manifest records as `root`: the canonical local path, or `s3://bucket/prefix`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Storage::Local(root) => std::fs::canonicalize(root)
                .unwrap_or_else(|_| root.clone())
                .to_string_lossy()
                .into_owned(),
            #[cfg(feature = "s3")]
            Storage::S3(s) => s.url(),
        }
    }

    /// True for a local root: files may still be growing there (a recorder writing them).
    pub(crate) fn is_local(&self) -> bool {
        matches!(self, Storage::Local(_))
    }

    /// The camera ids under the root, sorted.
    pub(crate) fn cameras(&self) -> Result<Vec<String>, ExportError> {
        match self {
            Storage::Local(root) => super::index::local_cameras(root),
            #[cfg(feature = "s3")]
            Storage::S3(s) => s.cameras(),
        }
    }

    /// The segment files of `camera` that may matter for `[lo, hi)`, sorted by start time:
    /// every file of a local root; on S3 the files of the days the range needs and of the
    /// days before and after it up to the nearest file outside it.
    pub(crate) fn segment_files(
        &self,
        camera: &str,
        lo: Nanos,
        hi: Nanos,
    ) -> Result<Vec<SegmentFile>, ExportError> {
        match self {
            Storage::Local(root) => {
                let _ = (lo, hi);
                local_segment_files(root, camera)
            }
            #[cfg(feature = "s3")]
            Storage::S3(s) => s.segment_files(camera, (lo, hi)),
        }
    }

    /// The text of the recorder's gap records for `camera` (local `gaps.jsonl`; on S3 the
    /// per-day `gaps.jsonl` objects of the days `files` come from). Advisory: unreadable
    /// records are skipped.
    pub(crate) fn gaps_text(&self, camera: &str, files: &[SegmentFile]) -> String {
        match self {
            Storage::Local(root) => {
                let _ = files;
                std::fs::read_to_string(root.join(camera).join("gaps.jsonl")).unwrap_or_default()
            }
            #[cfg(feature = "s3")]
            Storage::S3(s) => s.gaps_text(camera, files),
        }
    }

    /// Opens a listed segment for reading; `None` when it is gone (retention or a bucket
    /// lifecycle rule won the race with the listing).
    pub(crate) fn open_segment(&self, f: &SegmentFile) -> Result<Option<Segment>, ExportError> {
        self.open_rel(&f.rel, &f.path)
    }

    /// Opens `rel` (`<camera>/<date>/<name>.mp4`, from a manifest); `None` when it is not
    /// there. A `rel` that could leave the root is refused.
    pub(crate) fn open_manifest_source(
        &self,
        rel: &str,
    ) -> Result<Option<Segment>, OpenSourceError> {
        let ok = Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !ok || rel.contains('\\') {
            return Err(OpenSourceError::LeavesRoot);
        }
        let path = match self {
            Storage::Local(root) => root.join(rel),
            #[cfg(feature = "s3")]
            Storage::S3(s) => PathBuf::from(s.object_url(rel)),
        };
        self.open_rel(rel, &path).map_err(OpenSourceError::Failed)
    }

    /// The URL of `rel` when the root is not local.
    pub(crate) fn source_url(&self, rel: &str) -> Option<String> {
        match self {
            Storage::Local(_) => {
                let _ = rel;
                None
            }
            #[cfg(feature = "s3")]
            Storage::S3(s) => Some(s.object_url(rel)),
        }
    }

    fn open_rel(&self, rel: &str, path: &Path) -> Result<Option<Segment>, ExportError> {
        match self {
            Storage::Local(_) => {
                let _ = rel;
                // Hold first, then read: retention cannot delete it under us from here on.
                let hold = match FileHold::shared(path) {
                    Ok(h) => h,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(ExportError::io(path, e)),
                };
                // Deleted between listing and locking (retention won the race): gone.
                if hold.file().metadata().is_ok_and(|m| m.nlink() == 0) {
                    return Ok(None);
                }
                Ok(Some(Segment::Local(hold)))
            }
            #[cfg(feature = "s3")]
            Storage::S3(s) => Ok(s.open(rel)?.map(Segment::S3)),
        }
    }
}

/// Why a manifest's source could not be opened.
#[derive(Debug)]
pub(crate) enum OpenSourceError {
    /// Absolute, `..`, or a backslash: a manifest is input too.
    LeavesRoot,
    /// The store or file system failed.
    Failed(ExportError),
}

/// Anything that names a recording root: a path (`&Path`, `PathBuf`; `s3://...` text is an
/// S3 root under feature `s3`) or a [`Storage`].
pub trait AsRoot {
    /// The root, opened.
    fn storage(&self) -> Result<Cow<'_, Storage>, ExportError>;
}

impl AsRoot for Path {
    fn storage(&self) -> Result<Cow<'_, Storage>, ExportError> {
        Storage::open(self).map(Cow::Owned)
    }
}

impl AsRoot for PathBuf {
    fn storage(&self) -> Result<Cow<'_, Storage>, ExportError> {
        self.as_path().storage()
    }
}

impl AsRoot for Storage {
    fn storage(&self) -> Result<Cow<'_, Storage>, ExportError> {
        Ok(Cow::Borrowed(self))
    }
}

impl<T: AsRoot + ?Sized> AsRoot for &T {
    fn storage(&self) -> Result<Cow<'_, Storage>, ExportError> {
        (**self).storage()
    }
}

/// One open segment: a held local file or an S3 object (size and ETag from its HEAD).
#[derive(Debug)]
pub(crate) enum Segment {
    Local(FileHold),
    #[cfg(feature = "s3")]
    S3(super::s3::Object),
}

impl Segment {
    /// A reader positioned at 0 (each one has its own position and read-ahead).
    pub(crate) fn reader(&self) -> SegmentReader<'_> {
        match self {
            Segment::Local(h) => SegmentReader::Local(h.file()),
            #[cfg(feature = "s3")]
            Segment::S3(o) => SegmentReader::S3(o.cursor()),
        }
    }

    /// A reader for a pass that walks forward through the file (the export's plan and copy):
    /// on object storage, forward skips of up to a window keep its read-ahead growing, so
    /// consecutive fragments come in large GETs rather than one per `moof`.
    pub(crate) fn streaming_reader(&self) -> SegmentReader<'_> {
        match self {
            Segment::Local(h) => SegmentReader::Local(h.file()),
            #[cfg(feature = "s3")]
            Segment::S3(o) => SegmentReader::S3(o.streaming_cursor()),
        }
    }

    /// Size now (a local file may grow; an object's size is the one its HEAD said).
    pub(crate) fn len(&self) -> io::Result<u64> {
        match self {
            Segment::Local(h) => h.file().metadata().map(|m| m.len()),
            #[cfg(feature = "s3")]
            Segment::S3(o) => Ok(o.size()),
        }
    }

    /// True when a recorder still writes it (never for an object).
    pub(crate) fn being_written(&self) -> io::Result<bool> {
        match self {
            Segment::Local(h) => crate::filelock::is_being_written(h.file()),
            #[cfg(feature = "s3")]
            Segment::S3(_) => Ok(false),
        }
    }

    /// For an object: its URL and ETag (the manifest names both).
    pub(crate) fn object(&self) -> Option<(String, Option<String>)> {
        match self {
            Segment::Local(_) => None,
            #[cfg(feature = "s3")]
            Segment::S3(o) => Some((o.url().to_string(), o.etag().map(str::to_string))),
        }
    }
}

/// `Read + Seek` over a [`Segment`].
pub(crate) enum SegmentReader<'a> {
    Local(&'a File),
    #[cfg(feature = "s3")]
    S3(super::s3::Cursor<'a>),
}

impl Read for SegmentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SegmentReader::Local(f) => f.read(buf),
            #[cfg(feature = "s3")]
            SegmentReader::S3(c) => c.read(buf),
        }
    }
}

impl Seek for SegmentReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            SegmentReader::Local(f) => f.seek(pos),
            #[cfg(feature = "s3")]
            SegmentReader::S3(c) => c.seek(pos),
        }
    }
}

//! Reading recordings back from S3-compatible object storage (feature `s3`): the listing by
//! the uploader's key layout and a `Read + Seek` cursor over ranged GETs.
//!
//! Memory: a cursor holds at most two windows of [`MAX_WINDOW`] bytes (the current one and
//! the one being prefetched), whatever the object's size. A read that jumps fetches what it
//! asks for, at least [`MIN_WINDOW`] (a box header while scanning brings the `prft` and
//! `moof` after it along; a run of samples is fetched exactly). A read that continues where
//! the previous window ended, or skips less than a window ahead (a `moof` between two runs of
//! samples), doubles the window (up to [`MAX_WINDOW`]) and starts fetching the next one in
//! the background, so a streaming pass (hashing an object, copying its samples) has one GET
//! in flight while the previous one is consumed. The export's plan and copy read with a
//! forward-pass cursor, where skips of up to [`MAX_WINDOW`] count as streaming too: the
//! `moof`s of consecutive fragments then come in a few large GETs (reading the samples
//! between them) instead of one round trip each. Listing keeps the plain cursor: it reads
//! fragment headers only.
//!
//! The blocking API of [`crate::export`] drives the async client on a small runtime of its
//! own (two threads, started on first use), from any thread, inside a tokio runtime or not.

use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use super::index::{SegmentFile, looks_like_day, parse_segment_name};
use super::{ExportError, Nanos, StoreError, StoreErrorKind, check_camera_id};
use crate::record::upload::{S3Settings, UploadError};

/// The smallest GET (a jump: box headers, a `moof`).
pub const MIN_WINDOW: u64 = 4 << 10;
/// The largest GET (sequential reads grow up to it).
pub const MAX_WINDOW: u64 = 1 << 20;
/// `gaps.jsonl` objects larger than this are ignored (they are advisory).
const MAX_GAPS_OBJECT: u64 = 16 << 20;
/// Request timeout of one GET or listing.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Requests and bytes a root has read so far (for tests and benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Ranged GETs (and whole GETs of `gaps.jsonl`).
    pub gets: u64,
    /// Bytes those returned.
    pub bytes: u64,
    /// HEAD requests (one per opened object).
    pub heads: u64,
    /// LIST requests (pages).
    pub lists: u64,
}

#[derive(Default, Debug)]
struct Counters {
    gets: AtomicU64,
    bytes: AtomicU64,
    heads: AtomicU64,
    lists: AtomicU64,
}

/// An S3 bucket prefix holding recordings in the uploader's layout. Cheap to clone (shared
/// client); `Debug` shows the URL and endpoint, never credentials.
#[derive(Clone)]
pub struct S3Root {
    settings: Arc<S3Settings>,
    store: Arc<dyn ObjectStore>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for S3Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Root")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

pub(crate) fn settings_error(url: &str, e: &UploadError) -> ExportError {
    ExportError::Store(StoreError {
        url: url.chars().take(200).collect(),
        kind: StoreErrorKind::Settings,
        detail: e.to_string(),
    })
}

fn runtime() -> io::Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("camwire-s3-read")
        .enable_all()
        .build()?;
    // A racing thread may have won: then ours is dropped here, outside any runtime.
    Ok(RT.get_or_init(|| rt))
}

/// Runs `f` to completion on the read runtime, from sync code (also from inside another
/// tokio runtime, where blocking on it directly is not allowed: then from a scoped thread).
fn block_on<F>(f: F) -> io::Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(rt.block_on(f));
    }
    std::thread::scope(|s| match s.spawn(|| rt.block_on(f)).join() {
        Ok(v) => Ok(v),
        Err(p) => std::panic::resume_unwind(p),
    })
}

impl S3Root {
    /// A root over `settings` (bucket, prefix, endpoint, credentials).
    pub fn new(settings: S3Settings) -> Result<S3Root, ExportError> {
        let url = settings.url();
        let store = settings
            .build(REQUEST_TIMEOUT)
            .map_err(|e| settings_error(&url, &e))?;
        Ok(S3Root {
            settings: Arc::new(settings),
            store: Arc::new(store),
            counters: Arc::default(),
        })
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        self.settings.url()
    }

    /// Requests and bytes read so far through this root (and its clones).
    pub fn stats(&self) -> ReadStats {
        let c = &self.counters;
        ReadStats {
            gets: c.gets.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            heads: c.heads.load(Ordering::Relaxed),
            lists: c.lists.load(Ordering::Relaxed),
        }
    }

    /// The key of `rel` (`<camera>/<date>/<name>`).
    fn key(&self, rel: &str) -> ObjPath {
        if self.settings.prefix.is_empty() {
            ObjPath::from(rel)
        } else {
            ObjPath::from(format!("{}/{rel}", self.settings.prefix))
        }
    }

    /// `s3://bucket/prefix/rel`.
    pub(crate) fn object_url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url())
    }

    fn error(&self, url: &str, e: &object_store::Error) -> StoreError {
        let detail = self.settings.redact(&e.to_string());
        let kind = match e {
            object_store::Error::NotFound { .. } if detail.contains("NoSuchBucket") => {
                StoreErrorKind::BucketNotFound
            }
            object_store::Error::NotFound { .. } => StoreErrorKind::ObjectNotFound,
            object_store::Error::Precondition { .. } => StoreErrorKind::Changed,
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => StoreErrorKind::CredentialsRefused,
            _ if detail.contains("NoSuchBucket") => StoreErrorKind::BucketNotFound,
            _ if detail.contains("InvalidAccessKeyId")
                || detail.contains("SignatureDoesNotMatch")
                || detail.contains("AccessDenied") =>
            {
                StoreErrorKind::CredentialsRefused
            }
            _ => StoreErrorKind::Unavailable,
        };
        StoreError {
            url: url.to_string(),
            kind,
            detail,
        }
    }

    /// Everything directly under `dir` (relative to the prefix): (sub-directory names,
    /// object names with sizes). One delimiter listing (all its pages).
    fn list_dir(&self, dir: &str) -> Result<DirListing, ExportError> {
        let path = self.key(dir);
        let prefix = (!path.as_ref().is_empty()).then_some(&path);
        let store = self.store.clone();
        let res = block_on(async move { store.list_with_delimiter(prefix).await })
            .map_err(|e| ExportError::io(self.url(), e))?;
        self.counters.lists.fetch_add(1, Ordering::Relaxed);
        let shown = if dir.is_empty() {
            self.url()
        } else {
            self.object_url(dir)
        };
        let res = res.map_err(|e| ExportError::Store(self.error(&shown, &e)))?;
        let dirs = res
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        let objects = res
            .objects
            .iter()
            .filter_map(|m| m.location.filename().map(|n| (n.to_string(), m.size)))
            .collect();
        Ok(DirListing { dirs, objects })
    }

    /// Camera ids: the prefix's "directories" that are valid camera ids.
    pub(crate) fn cameras(&self) -> Result<Vec<String>, ExportError> {
        let mut dirs = self.list_dir("")?.dirs;
        dirs.retain(|d| check_camera_id(d).is_ok());
        dirs.sort();
        Ok(dirs)
    }

    /// Days of `camera` (sorted), one delimiter listing.
    fn days(&self, camera: &str) -> Result<Vec<String>, ExportError> {
        let DirListing {
            dirs: mut days,
            objects,
        } = self.list_dir(camera)?;
        days.retain(|d| looks_like_day(d));
        if days.is_empty() && objects.is_empty() {
            return Err(ExportError::UnknownCamera {
                camera: camera.to_string(),
                root: std::path::PathBuf::from(self.url()),
            });
        }
        days.sort();
        Ok(days)
    }

    /// The segments of the days `[lo, hi)` touches (with the name slack), and of as many
    /// days before and after as it takes to find a file starting before that window and one
    /// starting after it (the neighbours that bound a gap over the window's edges, and a file
    /// that started on an earlier day and runs into the range). An open end lists every day.
    pub(crate) fn segment_files(
        &self,
        camera: &str,
        (lo, hi): (Nanos, Nanos),
    ) -> Result<Vec<SegmentFile>, ExportError> {
        check_camera_id(camera)?;
        let days = self.days(camera)?;
        let slack = super::index::NAME_SLACK;
        let (lo_s, hi_s) = (lo.saturating_sub(slack), hi.saturating_add(slack));
        let first = day_of(lo_s).unwrap_or_default();
        let last = day_of(hi_s).unwrap_or_else(|| "~".into());
        let mut a = days.partition_point(|d| *d < first);
        let mut b = days.partition_point(|d| *d <= last);
        let mut out = Vec::new();
        for day in days.get(a..b).unwrap_or_default() {
            self.list_day(camera, day, &mut out)?;
        }
        while a > 0 && !out.iter().any(|f| f.name_start <= lo_s) {
            a -= 1;
            if let Some(day) = days.get(a) {
                self.list_day(camera, day, &mut out)?;
            }
        }
        while b < days.len() && !out.iter().any(|f| f.name_start >= hi_s) {
            if let Some(day) = days.get(b) {
                self.list_day(camera, day, &mut out)?;
            }
            b += 1;
        }
        out.sort_by(|a, b| (a.name_start, &a.rel).cmp(&(b.name_start, &b.rel)));
        Ok(out)
    }

    /// Appends the segments of one day.
    fn list_day(
        &self,
        camera: &str,
        day: &str,
        out: &mut Vec<SegmentFile>,
    ) -> Result<(), ExportError> {
        for (name, _) in self.list_dir(&format!("{camera}/{day}"))?.objects {
            if let Some(start) = parse_segment_name(&name) {
                let rel = format!("{camera}/{day}/{name}");
                out.push(SegmentFile {
                    path: self.object_url(&rel).into(),
                    rel,
                    name_start: start,
                });
            }
        }
        Ok(())
    }

    /// The per-day `gaps.jsonl` objects of the days `files` come from, concatenated.
    pub(crate) fn gaps_text(&self, camera: &str, files: &[SegmentFile]) -> String {
        let mut days: Vec<&str> = files
            .iter()
            .filter_map(|f| f.rel.split('/').nth(1))
            .collect();
        days.dedup();
        let mut text = String::new();
        for day in days {
            let rel = format!("{camera}/{day}/gaps.jsonl");
            let key = self.key(&rel);
            let store = self.store.clone();
            let got = block_on(async move {
                let meta = store.head(&key).await?;
                if meta.size > MAX_GAPS_OBJECT {
                    return Ok(None);
                }
                store.get(&key).await?.bytes().await.map(Some)
            });
            match got {
                Ok(Ok(Some(b))) => {
                    self.counters.heads.fetch_add(1, Ordering::Relaxed);
                    self.counters.gets.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .bytes
                        .fetch_add(b.len() as u64, Ordering::Relaxed);
                    text.push_str(&String::from_utf8_lossy(&b));
                    text.push('\n');
                }
                Ok(Err(object_store::Error::NotFound { .. })) | Ok(Ok(None)) => {}
                Ok(Err(e)) => log::warn!("{}", self.error(&self.object_url(&rel), &e)),
                Err(e) => log::warn!("{}: {e}", self.object_url(&rel)),
            }
        }
        text
    }

    /// HEADs `rel`: `None` when there is no such object.
    pub(crate) fn open(&self, rel: &str) -> Result<Option<Object>, ExportError> {
        let key = self.key(rel);
        let url = self.object_url(rel);
        let store = self.store.clone();
        let k = key.clone();
        let meta =
            block_on(async move { store.head(&k).await }).map_err(|e| ExportError::io(&url, e))?;
        self.counters.heads.fetch_add(1, Ordering::Relaxed);
        match meta {
            Ok(m) => Ok(Some(Object {
                root: self.clone(),
                key,
                url,
                size: m.size,
                etag: m.e_tag,
            })),
            Err(e) => {
                let e = self.error(&url, &e);
                if e.kind == StoreErrorKind::ObjectNotFound {
                    Ok(None)
                } else {
                    Err(ExportError::Store(e))
                }
            }
        }
    }
}

/// One delimiter listing: sub-"directory" names and object names with sizes.
struct DirListing {
    dirs: Vec<String>,
    objects: Vec<(String, u64)>,
}

/// `YYYY-MM-DD` (UTC) of `n`, `None` outside what jiff represents.
fn day_of(n: Nanos) -> Option<String> {
    let ts = jiff::Timestamp::from_nanosecond(i128::from(n)).ok()?;
    Some(ts.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
}

/// One object, as its HEAD described it.
#[derive(Debug)]
pub(crate) struct Object {
    root: S3Root,
    key: ObjPath,
    url: String,
    size: u64,
    etag: Option<String>,
}

impl Object {
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    pub(crate) fn cursor(&self) -> Cursor<'_> {
        Cursor {
            obj: self,
            pos: 0,
            buf: Bytes::new(),
            buf_start: 0,
            window: MIN_WINDOW,
            prefetch: None,
            forward_pass: false,
        }
    }

    /// A cursor for a forward pass: any skip ahead of less than [`MAX_WINDOW`] counts as
    /// streaming (see the module docs).
    pub(crate) fn streaming_cursor(&self) -> Cursor<'_> {
        let mut c = self.cursor();
        c.forward_pass = true;
        c
    }

    /// The future of one ranged GET, pinned to the HEAD's ETag.
    fn fetch(&self, r: Range<u64>) -> impl Future<Output = Result<Bytes, io::Error>> + use<> {
        let store = self.root.store.clone();
        let key = self.key.clone();
        let root = self.root.clone();
        let url = self.url.clone();
        let opts = GetOptions {
            range: Some(GetRange::Bounded(r)),
            if_match: self.etag.clone(),
            ..GetOptions::default()
        };
        async move {
            let got = match store.get_opts(&key, opts).await {
                Ok(g) => g.bytes().await,
                Err(e) => Err(e),
            };
            match got {
                Ok(b) => {
                    root.counters.gets.fetch_add(1, Ordering::Relaxed);
                    root.counters
                        .bytes
                        .fetch_add(b.len() as u64, Ordering::Relaxed);
                    Ok(b)
                }
                Err(e) => Err(io::Error::other(root.error(&url, &e))),
            }
        }
    }
}

/// `Read + Seek` over one object; see the module docs for its windows.
pub(crate) struct Cursor<'a> {
    obj: &'a Object,
    pos: u64,
    buf: Bytes,
    buf_start: u64,
    window: u64,
    /// A window being fetched: start, length, the GET.
    prefetch: Option<(u64, u64, tokio::task::JoinHandle<io::Result<Bytes>>)>,
    /// A forward pass: skips up to [`MAX_WINDOW`] ahead still grow the window.
    forward_pass: bool,
}

impl Cursor<'_> {
    fn buf_end(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    /// Makes the window hold `self.pos`, for a read of `want` bytes.
    fn fill(&mut self, want: u64) -> io::Result<()> {
        let size = self.obj.size;
        // Streaming: this read starts where the last window ended, or skips less than a
        // window ahead (the next fragment's samples after its `moof`).
        let skip = if self.forward_pass {
            MAX_WINDOW
        } else {
            self.window
        };
        let sequential =
            !self.buf.is_empty() && self.pos >= self.buf_end() && self.pos - self.buf_end() <= skip;
        self.window = if sequential {
            (self.window * 2).max(want).min(MAX_WINDOW)
        } else {
            want.clamp(MIN_WINDOW, MAX_WINDOW)
        };
        let (start, data) = match self.prefetch.take() {
            // The prefetched window holds this position: take it.
            Some((start, len, h)) if start <= self.pos && self.pos < start + len => {
                (start, block_on(h)?.map_err(io::Error::other)??)
            }
            other => {
                if let Some((_, _, h)) = other {
                    h.abort();
                }
                let end = self.pos.saturating_add(self.window).min(size);
                (self.pos, block_on(self.obj.fetch(self.pos..end))??)
            }
        };
        if start + (data.len() as u64) <= self.pos {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: no bytes at {}", self.obj.url, self.pos),
            ));
        }
        self.buf_start = start;
        self.buf = data;
        let next = self.buf_end();
        if sequential && next < size {
            let end = next.saturating_add(self.window).min(size);
            let rt = runtime()?;
            self.prefetch = Some((next, end - next, rt.spawn(self.obj.fetch(next..end))));
        }
        Ok(())
    }
}

impl Read for Cursor<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.pos >= self.obj.size {
            return Ok(0);
        }
        if self.pos < self.buf_start || self.pos >= self.buf_end() {
            self.fill(out.len() as u64)?;
        }
        let off = usize::try_from(self.pos - self.buf_start).unwrap_or(usize::MAX);
        let avail = self.buf.get(off..).unwrap_or_default();
        let n = avail.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Cursor<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let base = |b: u64, d: i64| {
            b.checked_add_signed(d)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))
        };
        self.pos = match pos {
            SeekFrom::Start(n) => n,
            SeekFrom::End(d) => base(self.obj.size, d)?,
            SeekFrom::Current(d) => base(self.pos, d)?,
        };
        Ok(self.pos)
    }
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        if let Some((_, _, h)) = self.prefetch.take() {
            h.abort();
        }
    }
}

//! Shipping closed segments to S3-compatible object storage (feature `s3`).
//!
//! The recorder writes locally as always; the [`Uploader`] ships every closed segment as one
//! object and, once the store has confirmed it, may delete the local copy.
//!
//! # Objects
//! - Key: `<prefix>/<camera-id>/<YYYY-MM-DD>/<UTC start>.mp4`, the local path under the root.
//! - One `PUT` per segment, create-only (`If-None-Match: *`, [`PutMode::Create`]), carrying
//!   `x-amz-checksum-sha256`: the store recomputes the SHA-256 and refuses a mismatch, so the
//!   object's SHA-256 is the local file's (the one export manifests name). No multipart: a
//!   single PUT takes up to 5 GiB on AWS, and a segment is a few tens of MB; a file larger than
//!   [`UploadOptions::max_object_bytes`] is refused with an error event and kept locally.
//! - An object that already exists (a crash between the PUT and the journal line, or another
//!   node) is read back and hashed: the same SHA-256 counts as done; a different one is an
//!   error event, and the local file is kept.
//! - `gaps.jsonl` goes up as per-day objects, `<prefix>/<camera-id>/<YYYY-MM-DD>/gaps.jsonl`,
//!   holding the lines whose gap ends on that UTC day, overwritten whenever that set changes
//!   (the day's object is final once the day is over).
//!
//! # Crash safety
//! Each camera directory has a journal, `uploaded.jsonl`: one line per confirmed segment,
//! `{"file":"<date>/<name>.mp4","bytes":N,"sha256":"<hex>","etag":"..."}`, appended with one
//! write and `fdatasync`. A torn last line is skipped. When a camera starts (after recovery has
//! cut torn tails) its directory is scanned: every `.mp4` not in the journal and not being
//! written is queued. A crash after the PUT and before the journal line only costs one
//! read-back (the create-only PUT answers "exists").
//!
//! # Local copies
//! A queued file carries a shared advisory lock ([`crate::filelock`]) until it is confirmed,
//! so retention (age or disk limit) never deletes a segment that is not in the bucket yet.
//! After confirmation, [`UploadOptions::local_retain`] (if set) deletes the local copy once its
//! recording ended that long ago; otherwise the recorder's retention policy applies as usual.
//! Retention in the bucket is the bucket's own lifecycle rule: camwire never deletes objects.
//!
//! # Failures
//! Every failed PUT is retried with exponential backoff and equal jitter
//! ([`UploadOptions::retry_initial`] to [`UploadOptions::retry_max`]), forever: a store down for
//! ten minutes builds a backlog that drains afterwards. Refused credentials, a missing bucket
//! or a refused checksum send a [`RecorderEventKind::Error`] for the camera (once per distinct
//! message per minute); recording is not affected. Error texts never carry credentials.

use super::recorder::{RecorderEvent, RecorderEventKind};
use super::upload_digest::KnownDigests;
use crate::filelock::{self, FileHold};
use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder, Checksum};
use object_store::path::Path as ObjPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};

/// The S3 client crate, for callers that read back what was shipped.
pub use object_store;

/// The per-camera journal of confirmed uploads.
pub const JOURNAL_FILE: &str = "uploaded.jsonl";

/// A bad upload configuration.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The target is not `s3://bucket[/prefix]`.
    #[error("invalid upload target {0:?}: {1}")]
    InvalidTarget(String, &'static str),
    /// The S3 client could not be built (endpoint, region, ...). Redacted.
    #[error("S3 client: {0}")]
    Client(String),
    /// No tokio runtime.
    #[error("the uploader needs a tokio runtime")]
    NoRuntime,
}

/// Where and how to reach the store. Credentials never appear in `Debug` or errors.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// Endpoint URL (`http://127.0.0.1:8014`, `https://s3.example.org`); `None`: AWS.
    pub endpoint: Option<String>,
    /// Region (default `us-east-1`).
    pub region: Option<String>,
    /// Access key id; with no key the client's default chain (IMDS, ECS, web identity) runs.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token.
    pub session_token: Option<String>,
    /// Allow `http://` endpoints. Off unless asked for.
    pub allow_http: bool,
    /// Virtual-hosted-style requests (`bucket.host`); path style by default.
    pub virtual_hosted_style: bool,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |o: &Option<String>| if o.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &set(&self.access_key_id))
            .field("secret_access_key", &set(&self.secret_access_key))
            .field("session_token", &set(&self.session_token))
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .finish()
    }
}

impl S3Settings {
    /// Parses `s3://bucket[/prefix]`; nothing else set.
    pub fn from_url(url: &str) -> Result<S3Settings, UploadError> {
        let bad = |why| UploadError::InvalidTarget(url.chars().take(200).collect(), why);
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("expected s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty()
            || !bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        {
            return Err(bad("bad bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..")
            || prefix.contains("//")
            || prefix.chars().any(|c| c.is_control())
        {
            return Err(bad("bad prefix"));
        }
        Ok(S3Settings {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            ..S3Settings::default()
        })
    }

    /// [`from_url`](Self::from_url) plus the standard AWS variables: `AWS_ENDPOINT_URL`
    /// (or `AWS_ENDPOINT`), `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP` (`true`/`1`).
    pub fn from_env(url: &str) -> Result<S3Settings, UploadError> {
        Self::from_url(url).map(|s| s.with_vars(|k| std::env::var(k).ok()))
    }

    /// Like [`from_env`](Self::from_env) with variables from `get` (tests, config files).
    pub fn with_vars(mut self, get: impl Fn(&str) -> Option<String>) -> S3Settings {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        self.endpoint = get("AWS_ENDPOINT_URL").or_else(|| get("AWS_ENDPOINT"));
        self.region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
        self.access_key_id = get("AWS_ACCESS_KEY_ID");
        self.secret_access_key = get("AWS_SECRET_ACCESS_KEY");
        self.session_token = get("AWS_SESSION_TOKEN");
        self.allow_http =
            get("AWS_ALLOW_HTTP").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        self
    }

    /// The `s3://bucket/prefix` this names.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// Builds the client: SigV4 with SHA-256 payload checksums, conditional PUT, path style
    /// unless asked otherwise, the inner retries short (the uploader retries itself).
    pub fn build(&self, request_timeout: Duration) -> Result<AmazonS3, UploadError> {
        self.build_with(request_timeout, None)
    }

    /// [`Self::build`] with a crypto provider of our own (the uploader's
    /// [`KnownDigests`]).
    fn build_with(
        &self,
        request_timeout: Duration,
        crypto: Option<Arc<dyn object_store::client::CryptoProvider>>,
    ) -> Result<AmazonS3, UploadError> {
        // reqwest is built without a bundled rustls provider: ring, as for ONVIF TLS. Fails
        // harmlessly when a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(self.region.as_deref().unwrap_or("us-east-1"))
            .with_allow_http(self.allow_http)
            .with_virtual_hosted_style_request(self.virtual_hosted_style)
            .with_checksum_algorithm(Checksum::SHA256)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(200),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(request_timeout)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_allow_http(self.allow_http),
            );
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(k) = &self.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(k) = &self.secret_access_key {
            b = b.with_secret_access_key(k);
        }
        if let Some(t) = &self.session_token {
            b = b.with_token(t);
        }
        if let Some(c) = crypto {
            b = b.with_crypto_provider(c);
        }
        b.build()
            .map_err(|e| UploadError::Client(self.redact(&e.to_string())))
    }

    /// `text` with every credential replaced by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in [
            &self.secret_access_key,
            &self.session_token,
            &self.access_key_id,
        ]
        .into_iter()
        .flatten()
        {
            if !s.is_empty() {
                out = out.replace(s.as_str(), "<redacted>");
            }
        }
        out
    }
}

/// Upload settings.
#[derive(Clone, Debug)]
pub struct UploadOptions {
    /// The store.
    pub s3: S3Settings,
    /// PUTs in flight at once (default 4).
    pub concurrency: usize,
    /// Average upload bandwidth cap in bytes per second (`None`: unlimited). Paced per object.
    pub bandwidth_bytes_per_sec: Option<u64>,
    /// First retry delay after a failed PUT (default 1 s), doubled per failure...
    pub retry_initial: Duration,
    /// ...up to this (default 60 s). Equal jitter: half fixed, half random.
    pub retry_max: Duration,
    /// Delete the local copy of a confirmed segment once its recording ended this long ago
    /// (`local_retain_hours`); `None`: keep it (the recorder's retention applies).
    pub local_retain: Option<Duration>,
    /// Timeout of one request (default 300 s: a 100 MB segment at 3 Mbit/s).
    pub request_timeout: Duration,
    /// Larger files are not uploaded (single PUT limit; default 5 GiB).
    pub max_object_bytes: u64,
    /// How often every camera directory is rescanned for missed files and local retention
    /// and `gaps.jsonl` are checked (default 60 s).
    pub rescan_interval: Duration,
    /// How long [`Recorder::shutdown`](super::Recorder::shutdown) waits for the backlog
    /// (including the segments the shutdown itself closes) to drain before abandoning the
    /// uploads in flight (default 10 s; zero: no wait). Whatever is left is shipped at the
    /// next start, from the journal, so this only decides how current the store is at exit.
    pub shutdown_drain: Duration,
}

impl UploadOptions {
    /// Defaults for `s3`.
    pub fn new(s3: S3Settings) -> Self {
        UploadOptions {
            s3,
            concurrency: 4,
            bandwidth_bytes_per_sec: None,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            local_retain: None,
            request_timeout: Duration::from_secs(300),
            max_object_bytes: 5 << 30,
            rescan_interval: Duration::from_secs(60),
            shutdown_drain: Duration::from_secs(10),
        }
    }
}

/// Backlog of one camera.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CameraUploadStatus {
    /// Segments waiting (or in flight).
    pub pending_files: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// The oldest waiting segment (by name: its UTC start).
    pub oldest_pending: Option<PathBuf>,
    /// Segments confirmed since start.
    pub uploaded_files: u64,
    /// Their bytes.
    pub uploaded_bytes: u64,
    /// Confirmed because an identical object was there already.
    pub already_present: u64,
    /// Local copies deleted after confirmation.
    pub deleted_local: u64,
    /// The latest error (redacted), cleared by the next success.
    pub last_error: Option<String>,
}

/// Uploader status: totals and per camera.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadStatus {
    /// Target `s3://bucket/prefix`.
    pub target: String,
    /// Waiting segments over all cameras.
    pub pending_files: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// The oldest waiting segment over all cameras (by UTC start).
    pub oldest_pending: Option<PathBuf>,
    /// Per camera id.
    pub cameras: BTreeMap<String, CameraUploadStatus>,
}

struct Pending {
    camera: String,
    bytes: u64,
    /// Keeps retention off the file until it is confirmed.
    _hold: Option<FileHold>,
    failures: u32,
    next_try: Instant,
    in_flight: bool,
}

#[derive(Default)]
struct CamState {
    uploaded_files: u64,
    uploaded_bytes: u64,
    already_present: u64,
    deleted_local: u64,
    last_error: Option<String>,
    /// Last error event sent: its kind ([`error_kind`]) and when.
    last_event: Option<(String, Instant)>,
    /// Confirmed relative paths (from the journal and this run).
    confirmed: HashSet<String>,
    journal_loaded: bool,
    /// Journal lines of confirmed uploads not written yet (the disk was full, say): retried
    /// before each new line and at each housekeeping pass, in order.
    unjournaled: Vec<JournalLine>,
    /// Per-day gaps objects: day -> SHA-256 of what was uploaded.
    gaps_sent: HashMap<String, [u8; 32]>,
}

struct State {
    /// Keyed by path: sorted by camera, then day, then UTC start.
    pending: BTreeMap<PathBuf, Pending>,
    cams: HashMap<String, CamState>,
    /// Camera directories to scan (after recovery: no file is being written).
    scan: Vec<PathBuf>,
    /// Directories taken from `scan` whose walk has not finished queueing yet: not idle.
    scanning: usize,
    /// Known camera directories (rescanned periodically).
    known: HashSet<PathBuf>,
}

struct Inner {
    root: PathBuf,
    opts: UploadOptions,
    store: Arc<dyn ObjectStore>,
    /// The store's crypto provider: payload digests already computed ([`KnownDigests`]).
    digests: KnownDigests,
    state: Mutex<State>,
    wake: Notify,
    idle: Notify,
    events: Option<broadcast::Sender<RecorderEvent>>,
    /// Bandwidth pacing: the instant the next PUT may start.
    pace: tokio::sync::Mutex<Instant>,
    /// The bucket answered a listing once (some servers create a missing bucket on PUT).
    bucket_ok: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ships closed segments under a recording root; see the module docs.
pub struct Uploader {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Uploader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uploader")
            .field("root", &self.inner.root)
            .field("opts", &self.inner.opts)
            .finish()
    }
}

impl Uploader {
    /// Starts the uploader for `root` on the current tokio runtime. Error events go to
    /// `events` (the recorder's channel) when given. Scans nothing until told
    /// ([`scan_camera`](Self::scan_camera)) or until the first rescan.
    pub fn start(
        root: impl Into<PathBuf>,
        opts: UploadOptions,
        events: Option<broadcast::Sender<RecorderEvent>>,
    ) -> Result<Uploader, UploadError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| UploadError::NoRuntime)?;
        let digests = KnownDigests::default();
        let store = opts
            .s3
            .build_with(opts.request_timeout, Some(Arc::new(digests.clone())))?;
        Ok(Self::start_with_store(
            handle,
            root.into(),
            opts,
            Arc::new(store),
            digests,
            events,
        ))
    }

    fn start_with_store(
        handle: tokio::runtime::Handle,
        root: PathBuf,
        opts: UploadOptions,
        store: Arc<dyn ObjectStore>,
        digests: KnownDigests,
        events: Option<broadcast::Sender<RecorderEvent>>,
    ) -> Uploader {
        let inner = Arc::new(Inner {
            root,
            opts,
            store,
            digests,
            state: Mutex::new(State {
                pending: BTreeMap::new(),
                cams: HashMap::new(),
                scan: Vec::new(),
                scanning: 0,
                known: HashSet::new(),
            }),
            wake: Notify::new(),
            idle: Notify::new(),
            events,
            pace: tokio::sync::Mutex::new(Instant::now()),
            bucket_ok: std::sync::atomic::AtomicBool::new(false),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = handle.spawn(run(inner.clone(), stop_rx));
        Uploader {
            inner,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    /// Queues a closed segment (the recorder calls this as each file closes).
    pub fn enqueue(&self, path: &Path) {
        let Some(cam_dir) = path.parent().and_then(Path::parent) else {
            return;
        };
        lock(&self.inner.state).known.insert(cam_dir.to_path_buf());
        self.inner.queue_file(path, None);
        self.inner.wake.notify_one();
    }

    /// Scans a camera directory now: every closed segment not confirmed in its journal is
    /// queued. The recorder calls this once per camera start, after recovery.
    pub fn scan_camera(&self, camera_dir: &Path) {
        {
            let mut st = lock(&self.inner.state);
            st.known.insert(camera_dir.to_path_buf());
            st.scan.push(camera_dir.to_path_buf());
        }
        self.inner.wake.notify_one();
    }

    /// Backlog and counters.
    pub fn status(&self) -> UploadStatus {
        self.inner.status()
    }

    /// Resolves once nothing is pending (or after `timeout`); true when drained.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let idle = self.inner.idle.notified();
            {
                let st = lock(&self.inner.state);
                if st.pending.is_empty() && st.scan.is_empty() && st.scanning == 0 {
                    return true;
                }
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return false;
            }
        }
    }

    /// Stops the uploader; PUTs in flight are abandoned (the files stay queued on disk: the
    /// next start picks them up).
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = lock(&self.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
    }
}

/// `<date>/<name>.mp4` of a segment path, and its camera id.
fn rel_of(path: &Path) -> Option<(String, String)> {
    let name = path.file_name()?.to_str()?;
    let day_dir = path.parent()?;
    let day = day_dir.file_name()?.to_str()?;
    let camera = day_dir.parent()?.file_name()?.to_str()?;
    Some((camera.to_string(), format!("{day}/{name}")))
}

fn hex(d: &[u8]) -> String {
    ::hex::encode(d)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct JournalLine {
    file: String,
    bytes: u64,
    sha256: String,
    #[serde(default)]
    etag: Option<String>,
}

fn read_journal(cam_dir: &Path) -> HashSet<String> {
    let mut out = HashSet::new();
    let Ok(text) = std::fs::read_to_string(cam_dir.join(JOURNAL_FILE)) else {
        return out;
    };
    for line in text.lines() {
        // A torn last line (crash) does not parse: skipped.
        if let Ok(j) = serde_json::from_str::<JournalLine>(line) {
            out.insert(j.file);
        }
    }
    out
}

/// Appends `lines` with one write and `fdatasync`. When the journal does not end with a
/// newline (a write torn by a crash or a full disk), a newline goes first, so that the torn
/// line stays alone (and is skipped when read) instead of spoiling the first new one.
fn append_journal(cam_dir: &Path, lines: &[JournalLine]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(cam_dir.join(JOURNAL_FILE))?;
    let len = f.metadata()?.len();
    let mut last = [b'\n'];
    if len > 0 {
        f.read_exact_at(&mut last, len - 1)?;
    }
    let mut text = String::new();
    if last[0] != b'\n' {
        text.push('\n');
    }
    for line in lines {
        text.push_str(&serde_json::to_string(line).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

/// Outcome of one upload attempt.
enum Outcome {
    Uploaded { sha: [u8; 32], etag: Option<String> },
    AlreadyThere { sha: [u8; 32] },
    Gone,
}

impl Inner {
    fn key(&self, camera: &str, rel: &str) -> ObjPath {
        let p = &self.opts.s3.prefix;
        if p.is_empty() {
            ObjPath::from(format!("{camera}/{rel}"))
        } else {
            ObjPath::from(format!("{p}/{camera}/{rel}"))
        }
    }

    fn emit(&self, camera: &str, message: String) {
        if let Some(tx) = &self.events {
            let _ = tx.send(RecorderEvent {
                camera: camera.to_string(),
                kind: RecorderEventKind::Error { message },
            });
        }
    }

    /// Records an error for a camera; an event when its kind is new or the last event of
    /// that kind is a minute old. The kind leaves out the object and the request details,
    /// so a store outage with a backlog of 100 files is one event a minute, not 100.
    fn camera_error(&self, camera: &str, message: String) {
        let kind = error_kind(&message).to_string();
        let send = {
            let mut st = lock(&self.state);
            let c = st.cams.entry(camera.to_string()).or_default();
            c.last_error = Some(message.clone());
            let due = match &c.last_event {
                Some((k, at)) => *k != kind || at.elapsed() >= Duration::from_secs(60),
                None => true,
            };
            if due {
                c.last_event = Some((kind, Instant::now()));
            }
            due
        };
        if send {
            log::warn!("{camera}: {message}");
            self.emit(camera, message);
        }
    }

    fn ensure_journal(&self, camera: &str, cam_dir: &Path) {
        let loaded = lock(&self.state)
            .cams
            .get(camera)
            .is_some_and(|c| c.journal_loaded);
        if !loaded {
            let set = read_journal(cam_dir);
            let mut st = lock(&self.state);
            let c = st.cams.entry(camera.to_string()).or_default();
            if !c.journal_loaded {
                c.confirmed.extend(set);
                c.journal_loaded = true;
            }
        }
    }

    /// Queues `path` unless confirmed, queued, or (in a scan: `Some(periodic)`) still being
    /// written.
    fn queue_file(&self, path: &Path, scanning: Option<bool>) {
        let Some((camera, rel)) = rel_of(path) else {
            return;
        };
        let Some(cam_dir) = path.parent().and_then(Path::parent) else {
            return;
        };
        self.ensure_journal(&camera, cam_dir);
        {
            let st = lock(&self.state);
            if st.pending.contains_key(path)
                || st
                    .cams
                    .get(&camera)
                    .is_some_and(|c| c.confirmed.contains(&rel))
            {
                return;
            }
        }
        let Ok(file) = std::fs::File::open(path) else {
            return;
        };
        if let Some(periodic) = scanning {
            if filelock::is_being_written(&file).unwrap_or(false) {
                return;
            }
            // A file created an instant ago may not carry the writer mark yet.
            let recent = file
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_none_or(|age| age < Duration::from_secs(5));
            if periodic && recent {
                return;
            }
        }
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        drop(file);
        let hold = FileHold::shared(path).ok();
        let mut st = lock(&self.state);
        st.pending.entry(path.to_path_buf()).or_insert(Pending {
            camera,
            bytes,
            _hold: hold,
            failures: 0,
            next_try: Instant::now(),
            in_flight: false,
        });
    }

    /// Queues the closed segments of a camera directory; `periodic`: while the recorder may
    /// be creating a file in it.
    fn scan_dir(&self, cam_dir: &Path, periodic: bool) {
        match super::recovery::segment_files(cam_dir) {
            Ok(files) => {
                for f in files {
                    self.queue_file(&f, Some(periodic));
                }
            }
            Err(e) => log::warn!("upload: cannot scan {}: {e}", cam_dir.display()),
        }
    }

    fn status(&self) -> UploadStatus {
        let st = lock(&self.state);
        let mut out = UploadStatus {
            target: self.opts.s3.url(),
            ..UploadStatus::default()
        };
        for (id, c) in &st.cams {
            out.cameras.insert(
                id.clone(),
                CameraUploadStatus {
                    uploaded_files: c.uploaded_files,
                    uploaded_bytes: c.uploaded_bytes,
                    already_present: c.already_present,
                    deleted_local: c.deleted_local,
                    last_error: c.last_error.clone(),
                    ..CameraUploadStatus::default()
                },
            );
        }
        let mut oldest: Option<(&str, &PathBuf)> = None;
        for (path, p) in &st.pending {
            let c = out.cameras.entry(p.camera.clone()).or_default();
            c.pending_files += 1;
            c.pending_bytes += p.bytes;
            if c.oldest_pending.is_none() {
                // BTreeMap order: the first of a camera is its oldest.
                c.oldest_pending = Some(path.clone());
            }
            out.pending_files += 1;
            out.pending_bytes += p.bytes;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if oldest.is_none_or(|(n, _)| name < n) {
                oldest = Some((name, path));
            }
        }
        out.oldest_pending = oldest.map(|(_, p)| p.clone());
        out
    }

    /// Waits for the bandwidth budget of `bytes`.
    async fn pace(&self, bytes: u64) {
        let Some(rate) = self.opts.bandwidth_bytes_per_sec.filter(|r| *r > 0) else {
            return;
        };
        let start = {
            let mut next = self.pace.lock().await;
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + Duration::from_secs_f64(bytes as f64 / rate as f64);
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }

    async fn upload_one(&self, path: &Path, camera: &str, rel: &str) -> Result<Outcome, String> {
        let redact = |e: &dyn fmt::Display| self.opts.s3.redact(&e.to_string());
        let data = match tokio::fs::read(path).await {
            Ok(d) => Bytes::from(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::Gone),
            Err(e) => return Err(format!("upload: reading {}: {e}", path.display())),
        };
        if data.len() as u64 > self.opts.max_object_bytes {
            return Err(format!(
                "upload: {} is {} bytes, over the single-PUT limit of {}",
                path.display(),
                data.len(),
                self.opts.max_object_bytes
            ));
        }
        let sha: [u8; 32] = {
            let d = data.clone();
            tokio::task::spawn_blocking(move || Sha256::digest(&d).into())
                .await
                .map_err(|e| format!("upload: hashing: {e}"))?
        };
        let key = self.key(camera, rel);
        self.check_bucket(&key).await?;
        self.pace(data.len() as u64).await;
        // object_store takes the digest just computed instead of hashing the bytes again.
        let _known = self.digests.register(&data, sha);
        let put = self
            .store
            .put_opts(
                &key,
                PutPayload::from(data),
                PutOptions {
                    mode: PutMode::Create,
                    ..PutOptions::default()
                },
            )
            .await;
        match put {
            Ok(r) => Ok(Outcome::Uploaded { sha, etag: r.e_tag }),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                // Read it back: the same bytes count as done.
                let got = self
                    .store
                    .get(&key)
                    .await
                    .map_err(|e| format!("upload: reading back {key}: {}", redact(&e)))?
                    .bytes()
                    .await
                    .map_err(|e| format!("upload: reading back {key}: {}", redact(&e)))?;
                let theirs: [u8; 32] = Sha256::digest(&got).into();
                if theirs == sha {
                    Ok(Outcome::AlreadyThere { sha })
                } else {
                    Err(format!(
                        "upload: {key} exists in the bucket with other content (sha256 {} there, {} here); local file kept",
                        hex(&theirs),
                        hex(&sha)
                    ))
                }
            }
            Err(e) => Err(describe(&key, &self.opts.s3, &e)),
        }
    }

    /// Lists the prefix once: a missing bucket is an error before any PUT (s3s-fs, for one,
    /// creates a missing bucket on PUT; AWS answers NoSuchBucket either way).
    async fn check_bucket(&self, key: &ObjPath) -> Result<(), String> {
        use std::sync::atomic::Ordering;
        if self.bucket_ok.load(Ordering::Relaxed) {
            return Ok(());
        }
        let p = &self.opts.s3.prefix;
        let prefix = (!p.is_empty()).then(|| ObjPath::from(p.as_str()));
        match self.store.list_with_delimiter(prefix.as_ref()).await {
            Ok(_) => {
                self.bucket_ok.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(describe(key, &self.opts.s3, &e)),
        }
    }

    /// After a confirmed upload: journal, counters, maybe delete locally.
    fn confirmed(&self, path: &Path, camera: &str, rel: &str, bytes: u64, out: &Outcome) {
        let (sha, etag, present) = match out {
            Outcome::Uploaded { sha, etag } => (sha, etag.clone(), false),
            Outcome::AlreadyThere { sha } => (sha, None, true),
            Outcome::Gone => {
                lock(&self.state).pending.remove(path);
                return;
            }
        };
        let cam_dir = path.parent().and_then(Path::parent).unwrap_or(&self.root);
        {
            let mut st = lock(&self.state);
            st.pending.remove(path); // drops the hold
            let c = st.cams.entry(camera.to_string()).or_default();
            c.confirmed.insert(rel.to_string());
            c.uploaded_files += 1;
            c.uploaded_bytes += bytes;
            if present {
                c.already_present += 1;
            }
            c.last_error = None;
            c.last_event = None;
            c.unjournaled.push(JournalLine {
                file: rel.to_string(),
                bytes,
                sha256: hex(sha),
                etag,
            });
        }
        // Local retention first: on a full disk the deletion is what makes room for the
        // journal line. A crash in between loses nothing: the object is in the bucket and
        // the file is no longer here to be shipped again.
        self.retain_local(path, camera);
        self.flush_journal(cam_dir, camera);
    }

    /// Writes the camera's pending journal lines; on failure they stay pending (the object
    /// is in the bucket either way: were we to crash now, the next start would read it back
    /// instead of uploading it again).
    fn flush_journal(&self, cam_dir: &Path, camera: &str) {
        let lines = match lock(&self.state).cams.get_mut(camera) {
            Some(c) if !c.unjournaled.is_empty() => std::mem::take(&mut c.unjournaled),
            _ => return,
        };
        if let Err(e) = append_journal(cam_dir, &lines) {
            log::warn!(
                "{camera}: upload journal ({} line(s) kept to retry): {e}",
                lines.len()
            );
            let mut st = lock(&self.state);
            let c = st.cams.entry(camera.to_string()).or_default();
            let newer = std::mem::replace(&mut c.unjournaled, lines);
            c.unjournaled.extend(newer);
        }
    }

    /// Deletes a confirmed local copy when `local_retain` says so.
    fn retain_local(&self, path: &Path, camera: &str) {
        let Some(keep) = self.opts.local_retain else {
            return;
        };
        let old = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= keep);
        if !old {
            return;
        }
        // Not while an export (or anyone) holds it.
        if let Ok(Some(_x)) = filelock::try_exclusive(path)
            && std::fs::remove_file(path).is_ok()
        {
            let mut st = lock(&self.state);
            st.cams.entry(camera.to_string()).or_default().deleted_local += 1;
        }
    }

    /// Local retention of confirmed files and the per-day gaps objects of one camera.
    async fn housekeeping(&self, cam_dir: &Path) {
        let Some(camera) = cam_dir.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        self.ensure_journal(camera, cam_dir);
        if self.opts.local_retain.is_some() {
            let files = super::recovery::segment_files(cam_dir).unwrap_or_default();
            for f in files {
                let Some((_, rel)) = rel_of(&f) else { continue };
                let done = lock(&self.state)
                    .cams
                    .get(camera)
                    .is_some_and(|c| c.confirmed.contains(&rel));
                if done {
                    self.retain_local(&f, camera);
                }
            }
        }
        self.flush_journal(cam_dir, camera);
        self.upload_gaps(cam_dir, camera).await;
    }

    /// `gaps.jsonl` as per-day objects (overwritten when a day's lines change).
    async fn upload_gaps(&self, cam_dir: &Path, camera: &str) {
        let Ok(text) = tokio::fs::read_to_string(cam_dir.join(super::GAPS_FILE)).await else {
            return;
        };
        let mut days: BTreeMap<String, String> = BTreeMap::new();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(day) = v
                .get("end")
                .and_then(|e| e.as_str())
                .and_then(|e| e.get(..10))
            else {
                continue;
            };
            let d = days.entry(day.to_string()).or_default();
            d.push_str(line);
            d.push('\n');
        }
        for (day, body) in days {
            let sha: [u8; 32] = Sha256::digest(body.as_bytes()).into();
            let sent = lock(&self.state)
                .cams
                .get(camera)
                .and_then(|c| c.gaps_sent.get(&day).copied());
            if sent == Some(sha) {
                continue;
            }
            let key = self.key(camera, &format!("{day}/{}", super::GAPS_FILE));
            match self
                .store
                .put_opts(
                    &key,
                    PutPayload::from(Bytes::from(body)),
                    PutOptions {
                        mode: PutMode::Overwrite,
                        ..PutOptions::default()
                    },
                )
                .await
            {
                Ok(_) => {
                    lock(&self.state)
                        .cams
                        .entry(camera.to_string())
                        .or_default()
                        .gaps_sent
                        .insert(day, sha);
                }
                Err(e) => {
                    self.camera_error(camera, describe(&key, &self.opts.s3, &e));
                    return;
                }
            }
        }
    }

    fn retry_delay(&self, failures: u32) -> Duration {
        let base = self
            .opts
            .retry_initial
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
            .min(self.opts.retry_max);
        let half = base / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// What [`describe`]'s text says went wrong (`credentials refused (...)`, `bucket not found`,
/// `store unreachable or failing`, ...), without the object and the details; other texts
/// are their own kind.
fn error_kind(message: &str) -> &str {
    message
        .strip_prefix("upload to s3://")
        .and_then(|m| m.split_once(": "))
        .map_or(message, |(_, rest)| {
            rest.split_once(": ").map_or(rest, |(k, _)| k)
        })
}

/// A clear, redacted text for a failed request.
fn describe(key: &ObjPath, s3: &S3Settings, e: &object_store::Error) -> String {
    let detail = s3.redact(&e.to_string());
    let what = match e {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            "credentials refused (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
        }
        object_store::Error::NotFound { .. } => "bucket not found",
        _ if detail.contains("NoSuchBucket") => "bucket not found",
        _ if detail.contains("InvalidAccessKeyId")
            || detail.contains("SignatureDoesNotMatch")
            || detail.contains("AccessDenied") =>
        {
            "credentials refused (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
        }
        _ if detail.contains("BadDigest") || detail.to_ascii_lowercase().contains("checksum") => {
            "checksum refused"
        }
        _ => "store unreachable or failing",
    };
    format!(
        "upload to s3://{}/{key}: {what}: {detail}; local file kept, retrying",
        s3.bucket
    )
}

async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut next_rescan = Instant::now() + inner.opts.rescan_interval;
    loop {
        if *stop.borrow() {
            break;
        }
        // Scans asked for (off the runtime threads: directory walks and locks).
        let scans: Vec<PathBuf> = {
            let mut st = lock(&inner.state);
            st.scanning += st.scan.len();
            std::mem::take(&mut st.scan)
        };
        if !scans.is_empty() {
            let n = scans.len();
            let i = inner.clone();
            let _ = tokio::task::spawn_blocking(move || {
                for d in scans {
                    i.scan_dir(&d, false);
                }
            })
            .await;
            lock(&inner.state).scanning -= n;
        }
        if Instant::now() >= next_rescan {
            next_rescan = Instant::now() + inner.opts.rescan_interval;
            let known: Vec<PathBuf> = lock(&inner.state).known.iter().cloned().collect();
            let i = inner.clone();
            let dirs = known.clone();
            let _ = tokio::task::spawn_blocking(move || {
                for d in dirs {
                    i.scan_dir(&d, true);
                }
            })
            .await;
            for d in known {
                inner.housekeeping(&d).await;
            }
        }
        // Start what is due, oldest first, up to the concurrency.
        let now = Instant::now();
        let mut soonest: Option<Instant> = None;
        {
            let mut st = lock(&inner.state);
            let limit = inner.opts.concurrency.max(1);
            let mut in_flight = st.pending.values().filter(|p| p.in_flight).count();
            for (path, p) in st.pending.iter_mut() {
                if p.in_flight {
                    continue;
                }
                if p.next_try > now {
                    soonest = Some(soonest.map_or(p.next_try, |s| s.min(p.next_try)));
                    continue;
                }
                if in_flight >= limit {
                    break;
                }
                p.in_flight = true;
                in_flight += 1;
                let (i, path, camera, bytes) =
                    (inner.clone(), path.clone(), p.camera.clone(), p.bytes);
                tasks.spawn(async move {
                    let Some((_, rel)) = rel_of(&path) else {
                        lock(&i.state).pending.remove(&path);
                        return;
                    };
                    match i.upload_one(&path, &camera, &rel).await {
                        Ok(out) => {
                            let cam_dir =
                                path.parent().and_then(Path::parent).map(Path::to_path_buf);
                            i.confirmed(&path, &camera, &rel, bytes, &out);
                            if let Some(d) = cam_dir {
                                i.upload_gaps(&d, &camera).await;
                            }
                        }
                        Err(msg) => {
                            {
                                let mut st = lock(&i.state);
                                let delay = st.pending.get(&path).map(|p| p.failures + 1);
                                if let Some(f) = delay {
                                    let d = i.retry_delay(f);
                                    if let Some(p) = st.pending.get_mut(&path) {
                                        p.failures = f;
                                        p.next_try = Instant::now() + d;
                                        p.in_flight = false;
                                    }
                                }
                            }
                            i.camera_error(&camera, msg);
                        }
                    }
                    i.wake.notify_one();
                });
            }
            if st.pending.is_empty() && st.scan.is_empty() && st.scanning == 0 {
                inner.idle.notify_waiters();
            }
        }
        let wait_until = soonest
            .unwrap_or(next_rescan)
            .min(next_rescan)
            .max(Instant::now() + Duration::from_millis(5));
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = inner.wake.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tokio::time::sleep_until(wait_until.into()) => {}
        }
    }
    tasks.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls() {
        let s = S3Settings::from_url("s3://bucket/a/b/").expect("ok");
        assert_eq!((s.bucket.as_str(), s.prefix.as_str()), ("bucket", "a/b"));
        assert_eq!(s.url(), "s3://bucket/a/b");
        assert_eq!(S3Settings::from_url("s3://b").expect("ok").prefix, "");
        for bad in [
            "http://b/x",
            "s3://",
            "s3:///x",
            "s3://b/../x",
            "s3://b/a//c",
            "s3://b c/x",
        ] {
            assert!(
                matches!(
                    S3Settings::from_url(bad),
                    Err(UploadError::InvalidTarget(..))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn env_vars_and_allow_http_only_when_asked() {
        let vars = |allow: Option<&'static str>| {
            move |k: &str| -> Option<String> {
                match k {
                    "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9".into()),
                    "AWS_REGION" => Some("eu-west-3".into()),
                    "AWS_ACCESS_KEY_ID" => Some("AKIDSECRETID".into()),
                    "AWS_SECRET_ACCESS_KEY" => Some("very/secret+key".into()),
                    "AWS_ALLOW_HTTP" => allow.map(String::from),
                    _ => None,
                }
            }
        };
        let base = S3Settings::from_url("s3://b/p").expect("ok");
        let s = base.clone().with_vars(vars(None));
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(s.region.as_deref(), Some("eu-west-3"));
        assert!(!s.allow_http);
        assert!(base.clone().with_vars(vars(Some("true"))).allow_http);
        assert!(!base.with_vars(vars(Some("no"))).allow_http);
    }

    #[test]
    fn credentials_never_in_debug_or_errors() {
        let mut s = S3Settings::from_url("s3://b/p").expect("ok");
        s.access_key_id = Some("AKIDSECRETID".into());
        s.secret_access_key = Some("very/secret+key".into());
        s.session_token = Some("tok-en-123456".into());
        let opts = UploadOptions::new(s.clone());
        for text in [format!("{s:?}"), format!("{opts:?}")] {
            for secret in ["AKIDSECRETID", "very/secret+key", "tok-en-123456"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(text.contains("<set>"), "{text}");
        }
        let red = s.redact("key AKIDSECRETID sig very/secret+key");
        assert_eq!(red, "key <redacted> sig <redacted>");
        // A plain-HTTP endpoint without allow_http is refused at the first request, and
        // nothing of the error names a credential.
        let e = describe(
            &ObjPath::from("p/cam/x.mp4"),
            &s,
            &object_store::Error::Generic {
                store: "S3",
                source: "InvalidAccessKeyId AKIDSECRETID very/secret+key".into(),
            },
        );
        assert!(e.contains("credentials refused"), "{e}");
        assert!(
            !e.contains("AKIDSECRETID") && !e.contains("very/secret+key"),
            "{e}"
        );
    }

    #[test]
    fn retry_delays_grow_with_jitter_and_cap() {
        let mut o = UploadOptions::new(S3Settings::from_url("s3://b").expect("ok"));
        o.retry_initial = Duration::from_secs(1);
        o.retry_max = Duration::from_secs(8);
        let inner = Inner {
            root: PathBuf::from("/nonexistent"),
            store: Arc::new(o.s3.build(Duration::from_secs(1)).expect("client")),
            digests: KnownDigests::default(),
            opts: o,
            state: Mutex::new(State {
                pending: BTreeMap::new(),
                cams: HashMap::new(),
                scan: Vec::new(),
                scanning: 0,
                known: HashSet::new(),
            }),
            wake: Notify::new(),
            idle: Notify::new(),
            events: None,
            pace: tokio::sync::Mutex::new(Instant::now()),
            bucket_ok: std::sync::atomic::AtomicBool::new(false),
        };
        for (f, lo, hi) in [(1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (10, 4.0, 8.0)] {
            let d = inner.retry_delay(f).as_secs_f64();
            assert!(d >= lo && d <= hi, "failure {f}: {d}");
        }
    }

    #[test]
    fn error_events_are_kept_apart_by_kind_not_by_object() {
        let a = "upload to s3://b/p/cam/2026-01-01/a.mp4: store unreachable or failing: \
                 error sending request in 1.2ms; local file kept, retrying";
        let b = "upload to s3://b/p/cam/2026-01-01/b.mp4: store unreachable or failing: \
                 error sending request in 3.4ms; local file kept, retrying";
        let c = "upload to s3://b/p/cam/2026-01-01/b.mp4: bucket not found: NoSuchBucket";
        assert_eq!(error_kind(a), "store unreachable or failing");
        assert_eq!(error_kind(a), error_kind(b));
        assert_eq!(error_kind(c), "bucket not found");
        assert_eq!(error_kind("something else"), "something else");
    }

    fn line(file: &str) -> JournalLine {
        JournalLine {
            file: file.into(),
            bytes: 3,
            sha256: "00".into(),
            etag: None,
        }
    }

    #[test]
    fn journal_skips_torn_lines_and_never_glues_a_new_line_onto_one() {
        let dir = std::env::temp_dir().join(format!("camwire-upj-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let _ = std::fs::remove_file(dir.join(JOURNAL_FILE));
        append_journal(&dir, &[line("2026-01-01/20260101T000000.000Z.mp4")]).expect("append");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL_FILE))
            .expect("open");
        // A write torn by a crash or a full disk.
        f.write_all(b"{\"file\":\"2026-01-01/torn").expect("torn");
        let set = read_journal(&dir);
        assert_eq!(set.len(), 1);
        assert!(set.contains("2026-01-01/20260101T000000.000Z.mp4"));
        // The lines written after it (two at once: a retried one and a new one) are whole.
        append_journal(
            &dir,
            &[
                line("2026-01-01/20260101T000002.000Z.mp4"),
                line("2026-01-01/20260101T000004.000Z.mp4"),
            ],
        )
        .expect("append");
        let set = read_journal(&dir);
        assert_eq!(set.len(), 3, "{set:?}");
        assert!(set.contains("2026-01-01/20260101T000002.000Z.mp4"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

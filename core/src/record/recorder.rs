//! The multi-camera recorder: many cameras in one process, on the caller's tokio runtime,
//! recording 24/7 through flaky links, crashes and full disks.
//!
//! Per camera one task runs this loop:
//! 1. recovery of the camera directory ([`super::recovery`]) before anything is written;
//! 2. connect; on success record (the same [`Ingest`] pipeline as [`super::record_camera`])
//!    until the stream ends, fails, or the camera is removed;
//! 3. on any end or failure wait and reconnect: exponential backoff with jitter (equal
//!    jitter: half the delay fixed, half random, so many cameras behind one failed router do
//!    not reconnect in lockstep), reset after a connection that stayed up for
//!    [`Backoff::stable_after`]. Authentication failures use their own, slower schedule and at
//!    most [`Backoff::auth_attempts`] attempts per [`Backoff::auth_window`]: cameras lock the
//!    account after a few failures. A bad URL stops the camera (it cannot fix itself).
//!
//! With [`RecorderOptions::reconnect`] off, a camera stops instead of reconnecting (the CLI's
//! `--reconnect no`: record one stream to its end).
//!
//! # Gaps
//! A gap is a stretch of wall-clock time without recording while the recorder meant to record.
//! It starts at the end of the last complete fragment written (not at the moment the loss was
//! noticed) and ends at the first frame of the next file, so gaps and files tile the timeline
//! exactly. Causes: a disconnect (reason: the error, or "stream ended by camera"), a full disk
//! ("disk full: ..."), and the recorder not running (after a crash or a stop: "recorder not
//! running", from the end of the newest recovered file). A gap still open when the camera is
//! stopped is closed at the stop time.
//!
//! Each gap is reported three ways: [`RecorderEventKind::Gap`], the last
//! [`MAX_GAPS_IN_STATUS`] in [`CameraStatus::gaps`], and one line appended to
//! `<root>/<camera-id>/gaps.jsonl` ([`GAPS_FILE`]), which listings and exports read:
//!
//! ```text
//! {"start":"2025-11-23T12:00:01.240Z","end":"2025-11-23T12:00:04.020Z","reason":"stream ended by camera"}
//! ```
//!
//! One JSON object per line, UTF-8, keys `start` and `end` (RFC 3339, UTC, millisecond
//! precision, `end >= start`) and `reason` (free text; never credentials: errors are redacted
//! at the source). Lines are appended in the order gaps end, with one `write` each. A reader
//! must skip a line it cannot parse (a crash can tear the last line) and must tolerate
//! unknown keys (more may be added).
//!
//! # Disk full
//! A failed write (ENOSPC, EDQUOT, or any other I/O error) never corrupts a file: the writer
//! cuts the file back to its last complete fragment (see [`SegmentWriter`]). The camera then
//! goes to [`CameraState::PausedDiskFull`] (or [`CameraState::PausedWriteError`]), sends an
//! [`RecorderEventKind::Error`], wakes the retention task, and keeps its connection: packets
//! are still read and depacketized (so the camera does not time us out and resuming counts no
//! false losses) but frames are dropped. Every [`RecorderOptions::disk_retry`] it tries again
//! at the next keyframe; other cameras are not affected.
//!
//! # Files held open
//! The file being written carries a shared advisory lock ([`crate::filelock`]), so retention
//! (here or in another process) never deletes it.
//!
//! [`SegmentWriter`]: super::segment::SegmentWriter

use super::camera::{CameraConfig, RecordError, validate_camera_id};
use super::clock::{ntp_to_system_time, system_time_to_ntp};
use super::ingest::Ingest;
use super::recovery::recover_camera_dir;
use super::retention::{RetentionPolicy, RetentionReport, apply_retention};
use super::segment::{ClosedSegment, Naming};
use crate::rtsp::{RtspError, Source, SourceEvent};
use rand::Rng as _;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

/// Name of the per-camera gap log, `<root>/<camera-id>/gaps.jsonl` (format in the module docs).
pub const GAPS_FILE: &str = "gaps.jsonl";
/// How many recent gaps [`CameraStatus::gaps`] keeps.
pub const MAX_GAPS_IN_STATUS: usize = 64;
/// How often the shared status of a recording camera is refreshed.
const STATUS_EVERY: Duration = Duration::from_millis(250);

/// Reconnect schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// First delay after a failure (default 1 s).
    pub initial: Duration,
    /// Largest delay (default 30 s).
    pub max: Duration,
    /// A connection that recorded this long resets the delay to `initial` (default 30 s).
    pub stable_after: Duration,
    /// First delay after an authentication failure (default 30 s), doubling up to `auth_max`.
    pub auth_initial: Duration,
    /// Largest delay after authentication failures (default 10 min).
    pub auth_max: Duration,
    /// At most this many authentication attempts per `auth_window` (default 3 per 15 min).
    pub auth_attempts: u32,
    /// See `auth_attempts`.
    pub auth_window: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            stable_after: Duration::from_secs(30),
            auth_initial: Duration::from_secs(30),
            auth_max: Duration::from_secs(600),
            auth_attempts: 3,
            auth_window: Duration::from_secs(900),
        }
    }
}

/// Recorder-wide options.
#[derive(Clone, Debug)]
pub struct RecorderOptions {
    /// Recording root: files go to `<root>/<camera-id>/<YYYY-MM-DD>/<UTC start>.mp4`.
    pub root: PathBuf,
    /// Reconnect schedule.
    pub backoff: Backoff,
    /// `false`: a camera whose stream ends or fails stops instead of reconnecting.
    pub reconnect: bool,
    /// What to keep; unlimited by default.
    pub retention: RetentionPolicy,
    /// How often retention runs (default 60 s; also right after a disk-full error).
    pub retention_interval: Duration,
    /// How long a camera pauses after a failed write before trying again (default 10 s).
    pub disk_retry: Duration,
    /// Events buffered per subscriber; a slower subscriber loses the oldest (default 1024).
    pub event_capacity: usize,
    /// Ship closed segments to S3-compatible storage ([`super::upload`]); off by default.
    #[cfg(feature = "s3")]
    pub upload: Option<super::upload::UploadOptions>,
}

impl RecorderOptions {
    /// Defaults for `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RecorderOptions {
            root: root.into(),
            backoff: Backoff::default(),
            reconnect: true,
            retention: RetentionPolicy::default(),
            retention_interval: Duration::from_secs(60),
            disk_retry: Duration::from_secs(10),
            event_capacity: 1024,
            #[cfg(feature = "s3")]
            upload: None,
        }
    }
}

/// What a camera is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CameraState {
    /// Connecting (DESCRIBE, SETUP, PLAY).
    Connecting,
    /// Connected and writing (or waiting for the first keyframe).
    Recording,
    /// Waiting before the next connection attempt.
    Backoff,
    /// Connected, dropping frames: the disk is full. Retries every `disk_retry`.
    PausedDiskFull,
    /// Connected, dropping frames after another write error. Retries every `disk_retry`.
    PausedWriteError,
    /// Not recording and not going to (removed, shut down, bad URL, or ended without
    /// reconnect).
    Stopped,
}

/// A stretch of time without recording; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// End of the last complete fragment before the gap.
    pub start: SystemTime,
    /// First frame of the file after it (or the stop time).
    pub end: SystemTime,
    /// Why (redacted error text, "stream ended by camera", "disk full: ...", ...).
    pub reason: String,
}

impl Gap {
    /// The gap as one `gaps.jsonl` line (with the trailing newline).
    pub fn to_json_line(&self) -> String {
        format!(
            "{{\"start\":\"{}\",\"end\":\"{}\",\"reason\":\"{}\"}}\n",
            rfc3339(self.start),
            rfc3339(self.end),
            json_escape(&self.reason)
        )
    }
}

/// Status of one camera.
#[derive(Clone, Debug)]
pub struct CameraStatus {
    /// Camera id.
    pub id: String,
    /// What it is doing.
    pub state: CameraState,
    /// Since when (wall clock).
    pub since: SystemTime,
    /// Frames written, over all connections.
    pub frames: u64,
    /// Bytes written, over all connections.
    pub bytes: u64,
    /// Files opened.
    pub files: u64,
    /// Bytes per second written, over the last second or so (0 when not recording).
    pub bitrate_bps: f64,
    /// Frames per second written, over the last second or so.
    pub frame_rate: f64,
    /// RTP packets lost (sequence gaps), over all connections.
    pub lost_packets: u64,
    /// Access units dropped (damaged, or before the first keyframe), over all connections.
    pub dropped_frames: u64,
    /// Successful connections after the first one.
    pub reconnects: u64,
    /// The latest error (connect, stream or disk), redacted.
    pub last_error: Option<String>,
    /// The file being written.
    pub current_file: Option<PathBuf>,
    /// The most recent gaps, oldest first.
    pub gaps: Vec<Gap>,
}

impl CameraStatus {
    fn new(id: &str) -> Self {
        CameraStatus {
            id: id.to_string(),
            state: CameraState::Connecting,
            since: SystemTime::now(),
            frames: 0,
            bytes: 0,
            files: 0,
            bitrate_bps: 0.0,
            frame_rate: 0.0,
            lost_packets: 0,
            dropped_frames: 0,
            reconnects: 0,
            last_error: None,
            current_file: None,
            gaps: Vec::new(),
        }
    }
}

/// Something that happened to a camera.
#[derive(Clone, Debug)]
pub struct RecorderEvent {
    /// Camera id.
    pub camera: String,
    /// What.
    pub kind: RecorderEventKind,
}

/// The kinds of [`RecorderEvent`].
#[derive(Clone, Debug)]
pub enum RecorderEventKind {
    /// A session is playing.
    Connected,
    /// The session ended (the camera ended it, or an error).
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A gap closed (also appended to `gaps.jsonl`).
    Gap(Gap),
    /// A file was closed.
    SegmentClosed {
        /// Its path.
        path: PathBuf,
        /// Wall-clock time of its first frame.
        start: SystemTime,
        /// Wall-clock time just past its last frame.
        end: SystemTime,
        /// Frames in it.
        frames: u64,
        /// Its size.
        bytes: u64,
    },
    /// A connect, stream or disk error (redacted).
    Error {
        /// What went wrong.
        message: String,
    },
    /// The camera stopped for good (removed, shut down, bad URL, or ended without reconnect).
    Stopped,
}

struct CameraEntry {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    status: Arc<Mutex<CameraStatus>>,
}

struct Shared {
    opts: RecorderOptions,
    events: broadcast::Sender<RecorderEvent>,
    retention_kick: Notify,
    /// Signalled each time a camera stops for good ([`Recorder::wait_all_stopped`]).
    camera_stopped: Notify,
    #[cfg(feature = "s3")]
    uploader: Option<super::upload::Uploader>,
}

/// Many cameras recorded by one process; see the module docs. Dropping it without
/// [`shutdown`](Self::shutdown) aborts the tasks: files keep every complete fragment (as after
/// a crash) and the next start recovers them.
pub struct Recorder {
    shared: Arc<Shared>,
    cameras: Mutex<HashMap<String, CameraEntry>>,
    retention_stop: watch::Sender<bool>,
    retention_task: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking holder cannot leave these plain-data structs half-updated in a way that
    // matters more than losing the status: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recorder {
    /// Starts a recorder with no camera, on the current tokio runtime (fails outside one).
    /// Creates the root and starts the periodic retention task.
    pub fn start(opts: RecorderOptions) -> Result<Recorder, RecordError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| {
            RecordError::Io(std::io::Error::other(format!(
                "Recorder needs a tokio runtime: {e}"
            )))
        })?;
        std::fs::create_dir_all(&opts.root)?;
        let (events, _) = broadcast::channel(opts.event_capacity.max(1));
        #[cfg(feature = "s3")]
        let uploader = match &opts.upload {
            Some(u) => Some(
                super::upload::Uploader::start(&opts.root, u.clone(), Some(events.clone()))
                    .map_err(|e| {
                        RecordError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
                    })?,
            ),
            None => None,
        };
        let shared = Arc::new(Shared {
            opts,
            events,
            retention_kick: Notify::new(),
            camera_stopped: Notify::new(),
            #[cfg(feature = "s3")]
            uploader,
        });
        let (retention_stop, stop_rx) = watch::channel(false);
        let task = handle.spawn(retention_loop(shared.clone(), stop_rx));
        Ok(Recorder {
            shared,
            cameras: Mutex::new(HashMap::new()),
            retention_stop,
            retention_task: Mutex::new(Some(task)),
        })
    }

    /// The options in force.
    pub fn options(&self) -> &RecorderOptions {
        &self.shared.opts
    }

    /// Upload backlog and counters, when uploading ([`RecorderOptions::upload`]).
    #[cfg(feature = "s3")]
    pub fn upload_status(&self) -> Option<super::upload::UploadStatus> {
        self.shared.uploader.as_ref().map(|u| u.status())
    }

    /// The uploader, when uploading (to wait for the backlog to drain).
    #[cfg(feature = "s3")]
    pub fn uploader(&self) -> Option<&super::upload::Uploader> {
        self.shared.uploader.as_ref()
    }

    /// Subscribes to events from now on.
    pub fn events(&self) -> broadcast::Receiver<RecorderEvent> {
        self.shared.events.subscribe()
    }

    /// Starts recording a camera: recovery of its directory, then connect and record. Fails
    /// for an invalid id or one already recording.
    pub fn add_camera(&self, cfg: CameraConfig) -> Result<(), RecordError> {
        validate_camera_id(&cfg.id)?;
        let handle = tokio::runtime::Handle::try_current().map_err(|e| {
            RecordError::Io(std::io::Error::other(format!(
                "Recorder needs a tokio runtime: {e}"
            )))
        })?;
        let mut cams = lock(&self.cameras);
        if let Some(old) = cams.get(&cfg.id)
            && !old.task.is_finished()
        {
            return Err(RecordError::DuplicateCamera(cfg.id));
        }
        let status = Arc::new(Mutex::new(CameraStatus::new(&cfg.id)));
        let (stop, stop_rx) = watch::channel(false);
        let id = cfg.id.clone();
        let task = handle.spawn(camera_task(
            self.shared.clone(),
            status.clone(),
            cfg,
            stop_rx,
        ));
        cams.insert(id, CameraEntry { stop, task, status });
        Ok(())
    }

    /// Stops a camera, writing its open fragment and closing its file; returns its final
    /// status, or `None` for an unknown id.
    pub async fn remove_camera(&self, id: &str) -> Option<CameraStatus> {
        let entry = lock(&self.cameras).remove(id)?;
        let _ = entry.stop.send(true);
        if let Err(e) = entry.task.await {
            log::error!("{id}: camera task failed: {e}");
        }
        let s = lock(&entry.status).clone();
        Some(s)
    }

    /// Ids of the cameras added and not removed.
    pub fn camera_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.cameras).keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The status of every camera, by id.
    pub fn status(&self) -> Vec<CameraStatus> {
        let cams = lock(&self.cameras);
        let mut out: Vec<CameraStatus> = cams.values().map(|c| lock(&c.status).clone()).collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The status of one camera.
    pub fn camera_status(&self, id: &str) -> Option<CameraStatus> {
        lock(&self.cameras).get(id).map(|c| lock(&c.status).clone())
    }

    /// True when every camera has stopped for good (only possible with `reconnect` off, a bad
    /// URL, or none added).
    pub fn all_stopped(&self) -> bool {
        lock(&self.cameras)
            .values()
            .all(|c| c.task.is_finished() || lock(&c.status).state == CameraState::Stopped)
    }

    /// Resolves once [`all_stopped`](Self::all_stopped) holds: woken by each camera that
    /// stops, no polling (a 200 ms poll woke a parked thread 5 times a second for nothing).
    pub async fn wait_all_stopped(&self) {
        loop {
            let stopped = self.shared.camera_stopped.notified();
            tokio::pin!(stopped);
            // Registered before the check, so a camera stopping in between is not missed.
            stopped.as_mut().enable();
            if self.all_stopped() {
                return;
            }
            stopped.await;
        }
    }

    /// Runs one retention pass now (on a blocking thread) with the recorder's policy.
    pub async fn run_retention(&self) -> std::io::Result<RetentionReport> {
        run_retention_once(&self.shared).await
    }

    /// Stops every camera (open fragments written, files closed) and the retention task.
    /// With uploads on, waits up to [`UploadOptions::shutdown_drain`](super::upload::UploadOptions::shutdown_drain)
    /// for the backlog to drain first; see [`shutdown_with_upload_status`](Self::shutdown_with_upload_status)
    /// for what was left.
    pub async fn shutdown(self) -> Vec<CameraStatus> {
        self.stop_everything().await.0
    }

    /// [`shutdown`](Self::shutdown), also returning the upload backlog as it stood when the
    /// uploader stopped (`None` without uploads): files still pending there are shipped at
    /// the next start.
    #[cfg(feature = "s3")]
    pub async fn shutdown_with_upload_status(
        self,
    ) -> (Vec<CameraStatus>, Option<super::upload::UploadStatus>) {
        self.stop_everything().await
    }

    async fn stop_everything(self) -> (Vec<CameraStatus>, FinalUpload) {
        let entries: Vec<(String, CameraEntry)> = lock(&self.cameras).drain().collect();
        for (_, e) in &entries {
            let _ = e.stop.send(true);
        }
        let mut out = Vec::new();
        for (id, e) in entries {
            if let Err(err) = e.task.await {
                log::error!("{id}: camera task failed: {err}");
            }
            out.push(lock(&e.status).clone());
        }
        let _ = self.retention_stop.send(true);
        let task = lock(&self.retention_task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
        // The segments just closed are queued: give the backlog its drain time, then abandon
        // what is in flight (the files stay queued on disk for the next start).
        #[cfg(not(feature = "s3"))]
        let upload = ();
        #[cfg(feature = "s3")]
        let mut upload = None;
        #[cfg(feature = "s3")]
        if let Some(u) = &self.shared.uploader {
            let drain = self
                .shared
                .opts
                .upload
                .as_ref()
                .map_or(Duration::ZERO, |o| o.shutdown_drain);
            if !drain.is_zero() && !u.wait_idle(drain).await {
                log::warn!("upload backlog not drained in {drain:?}: shipped at the next start");
            }
            u.shutdown().await;
            upload = Some(u.status());
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        (out, upload)
    }
}

/// What [`Recorder::shutdown`] learns of the uploads: the backlog left (feature `s3`).
#[cfg(feature = "s3")]
type FinalUpload = Option<super::upload::UploadStatus>;
#[cfg(not(feature = "s3"))]
type FinalUpload = ();

impl Drop for Recorder {
    fn drop(&mut self) {
        for e in lock(&self.cameras).values() {
            e.task.abort();
        }
        if let Some(t) = lock(&self.retention_task).take() {
            t.abort();
        }
    }
}

async fn run_retention_once(shared: &Arc<Shared>) -> std::io::Result<RetentionReport> {
    let root = shared.opts.root.clone();
    let policy = shared.opts.retention.clone();
    tokio::task::spawn_blocking(move || apply_retention(&root, &policy, SystemTime::now()))
        .await
        .map_err(std::io::Error::other)?
}

async fn retention_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    if shared.opts.retention.is_unlimited() {
        return;
    }
    loop {
        match run_retention_once(&shared).await {
            Ok(r) if !r.deleted.is_empty() || !r.errors.is_empty() => log::info!(
                "retention: deleted {} file(s), {} bytes; {} bytes kept; {} error(s)",
                r.deleted.len(),
                r.deleted_bytes,
                r.remaining_bytes,
                r.errors.len()
            ),
            Ok(_) => {}
            Err(e) => log::error!("retention: {e}"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(shared.opts.retention_interval) => {}
            _ = shared.retention_kick.notified() => {}
        }
    }
}

/// Delay schedule of one camera.
struct BackoffState {
    cfg: Backoff,
    next: Duration,
    auth_next: Duration,
    auth_failures: VecDeque<Instant>,
}

impl BackoffState {
    fn new(cfg: Backoff) -> Self {
        BackoffState {
            next: cfg.initial,
            auth_next: cfg.auth_initial,
            auth_failures: VecDeque::new(),
            cfg,
        }
    }

    fn reset(&mut self) {
        self.next = self.cfg.initial;
        self.auth_next = self.cfg.auth_initial;
    }

    /// Equal jitter: half the delay fixed, half random.
    fn jitter(d: Duration) -> Duration {
        let half = d / 2;
        let extra = rand::thread_rng().gen_range(0.0..=1.0);
        half + half.mul_f64(extra)
    }

    fn failure(&mut self) -> Duration {
        let d = Self::jitter(self.next);
        self.next = (self.next * 2).min(self.cfg.max.max(self.cfg.initial));
        d
    }

    fn auth_failure(&mut self) -> Duration {
        let now = Instant::now();
        self.auth_failures.push_back(now);
        while self
            .auth_failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.cfg.auth_window)
        {
            self.auth_failures.pop_front();
        }
        let mut d = Self::jitter(self.auth_next);
        self.auth_next = (self.auth_next * 2).min(self.cfg.auth_max.max(self.cfg.auth_initial));
        // Bounded attempts per window: wait until the oldest attempt leaves the window.
        if self.auth_failures.len() >= self.cfg.auth_attempts.max(1) as usize
            && let Some(oldest) = self.auth_failures.front()
        {
            let until = self
                .cfg
                .auth_window
                .saturating_sub(now.duration_since(*oldest));
            d = d.max(until);
        }
        d
    }
}

/// Counters of finished sessions, added to the live session's.
#[derive(Default)]
struct Totals {
    frames: u64,
    bytes: u64,
    files: u64,
    lost_packets: u64,
    dropped_frames: u64,
}

/// One camera's task state.
struct Cam {
    shared: Arc<Shared>,
    status: Arc<Mutex<CameraStatus>>,
    cfg: CameraConfig,
    dir: PathBuf,
    totals: Totals,
    /// End (wall NTP) of the last complete fragment written, if known.
    last_end_ntp: Option<u64>,
    /// An open gap: its start and reason.
    pending_gap: Option<(u64, String)>,
    /// Paused after a write error until then, in this state.
    paused_until: Option<Instant>,
    paused_state: CameraState,
    /// Retrying the disk: the fragment count at the retry; the pause ends for good (state
    /// back to recording) only once a fragment more has been written.
    retry_fragments: Option<u64>,
    /// For the rates: when and at which totals the last sample was taken.
    rate_sample: (Instant, u64, u64),
    last_publish: Instant,
    connected_once: bool,
    /// Back-fills running for closed gaps ([`super::backfill`]); aborted when the camera
    /// stops (what they wrote so far stays, as after a crash).
    backfills: Vec<JoinHandle<()>>,
}

enum SessionEnd {
    /// The camera was told to stop.
    Stopped,
    /// The stream ended or failed.
    Lost(String),
}

fn now_ntp() -> u64 {
    system_time_to_ntp(SystemTime::now())
}

fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
}

impl Cam {
    fn emit(&self, kind: RecorderEventKind) {
        // No subscriber is fine.
        let _ = self.shared.events.send(RecorderEvent {
            camera: self.cfg.id.clone(),
            kind,
        });
    }

    fn set_state(&self, state: CameraState) {
        let mut s = lock(&self.status);
        if s.state != state {
            s.state = state;
            s.since = SystemTime::now();
        }
        if state != CameraState::Recording {
            s.bitrate_bps = 0.0;
            s.frame_rate = 0.0;
        }
    }

    fn error(&self, message: String) {
        log::warn!("{}: {message}", self.cfg.id);
        lock(&self.status).last_error = Some(message.clone());
        self.emit(RecorderEventKind::Error { message });
    }

    /// Opens a gap at the end of the last fragment written, unless one is open already.
    fn open_gap(&mut self, reason: &str) {
        if self.pending_gap.is_none() {
            let start = self.last_end_ntp.unwrap_or_else(now_ntp);
            self.pending_gap = Some((start, reason.to_string()));
        }
    }

    /// Closes the open gap at `end_ntp`: status, event, `gaps.jsonl`.
    fn close_gap(&mut self, end_ntp: u64) {
        let Some((start, reason)) = self.pending_gap.take() else {
            return;
        };
        let gap = Gap {
            start: ntp_to_system_time(start.min(end_ntp)),
            end: ntp_to_system_time(end_ntp),
            reason,
        };
        log::info!(
            "{}: gap {} .. {} ({})",
            self.cfg.id,
            rfc3339(gap.start),
            rfc3339(gap.end),
            gap.reason
        );
        if let Err(e) = super::gaps_log::append(&self.dir, &gap) {
            log::error!("{}: cannot append to {GAPS_FILE}: {e}", self.cfg.id);
        }
        {
            let mut s = lock(&self.status);
            if s.gaps.len() >= MAX_GAPS_IN_STATUS {
                s.gaps.remove(0);
            }
            s.gaps.push(gap.clone());
        }
        self.emit(RecorderEventKind::Gap(gap.clone()));
        self.start_backfill(&gap);
    }

    /// Fetches a closed gap from the device, when the camera back-fills
    /// ([`super::backfill`]).
    fn start_backfill(&mut self, gap: &Gap) {
        let Some(opts) = self.cfg.backfill.clone() else {
            return;
        };
        let Some((start, end)) = opts.span(gap.start, gap.end) else {
            return;
        };
        self.backfills.retain(|h| !h.is_finished());
        let shared = self.shared.clone();
        let camera = self.cfg.id.clone();
        let creds = self.cfg.source.credentials.clone().or_else(|| {
            crate::rtsp::url::CameraUrl::parse(&self.cfg.url)
                .ok()
                .and_then(|(_, c)| c)
        });
        let root = shared.opts.root.clone();
        self.backfills.push(tokio::spawn(async move {
            tokio::time::sleep(opts.delay).await;
            let emit = |kind| {
                let _ = shared.events.send(RecorderEvent {
                    camera: camera.clone(),
                    kind,
                });
            };
            log::info!(
                "{camera}: back-filling {} .. {} from the device",
                rfc3339(start),
                rfc3339(end)
            );
            match super::backfill::fill(&opts, creds, root, &camera, start, end).await {
                Ok(b) => {
                    log::info!(
                        "{camera}: back-filled {} frames ({} .. {}) in {} file(s)",
                        b.frames,
                        rfc3339(b.first),
                        rfc3339(b.last),
                        b.files.len()
                    );
                    for c in b.files {
                        ship_closed(&shared, &camera, c);
                    }
                }
                Err(e) => {
                    let message = format!(
                        "back-fill of the gap {} .. {} failed: {e}",
                        rfc3339(start),
                        rfc3339(end)
                    );
                    log::warn!("{camera}: {message}");
                    emit(RecorderEventKind::Error { message });
                }
            }
        }));
    }

    fn on_closed(&mut self, closed: Vec<ClosedSegment>) {
        for c in closed {
            if c.frames > 0 {
                // By the last fragment's own clock: where listings see the file end, so the
                // gap that follows starts there too.
                self.last_end_ntp = Some(c.end_ntp.max(c.start_ntp));
            }
            ship_closed(&self.shared, &self.cfg.id, c);
        }
    }

    /// After packets: close a gap once a new file is open, report closed files, refresh the
    /// status now and then (`force`: now; else when due, looked at once per socket read,
    /// `read`, not on every packet).
    fn after_packet(&mut self, ingest: &mut Ingest, force: bool, read: bool) {
        if let Some(n) = self.retry_fragments
            && self.paused_until.is_none()
            && ingest.segment_stats().fragments > n
        {
            log::info!("{}: the disk takes data again: recording", self.cfg.id);
            self.retry_fragments = None;
            self.set_state(CameraState::Recording);
        }
        if self.pending_gap.is_some()
            && let Some(start) = ingest.writer().durable_start_ntp()
        {
            self.close_gap(start);
        }
        let closed = ingest.take_closed();
        if !closed.is_empty() {
            self.on_closed(closed);
        }
        if force || (read && self.last_publish.elapsed() >= STATUS_EVERY) {
            self.publish(Some(ingest));
        }
    }

    fn publish(&mut self, ingest: Option<&Ingest>) {
        let now = Instant::now();
        self.last_publish = now;
        let (seg, dep) = match ingest {
            Some(i) => (
                Some(i.segment_stats().clone()),
                Some(i.depacketizer_stats().clone()),
            ),
            None => (None, None),
        };
        let frames = self.totals.frames + seg.as_ref().map_or(0, |s| s.frames);
        let bytes = self.totals.bytes + seg.as_ref().map_or(0, |s| s.bytes);
        let mut s = lock(&self.status);
        s.frames = frames;
        s.bytes = bytes;
        s.files = self.totals.files + seg.as_ref().map_or(0, |s| s.files);
        s.lost_packets = self.totals.lost_packets + dep.as_ref().map_or(0, |d| d.lost_packets);
        s.dropped_frames = self.totals.dropped_frames
            + dep.as_ref().map_or(0, |d| d.dropped_access_units)
            + seg
                .as_ref()
                .map_or(0, |s| s.dropped_frames + s.skipped_frames);
        s.current_file = ingest.and_then(|i| i.writer().current_path().map(Path::to_path_buf));
        let (t0, f0, b0) = self.rate_sample;
        let dt = now.duration_since(t0).as_secs_f64();
        if dt >= 1.0 {
            if s.state == CameraState::Recording {
                s.frame_rate = frames.saturating_sub(f0) as f64 / dt;
                s.bitrate_bps = bytes.saturating_sub(b0) as f64 * 8.0 / dt;
            }
            self.rate_sample = (now, frames, bytes);
        }
    }

    fn end_session(&mut self, ingest: &Ingest) {
        let seg = ingest.segment_stats();
        let dep = ingest.depacketizer_stats();
        self.totals.frames += seg.frames;
        self.totals.bytes += seg.bytes;
        self.totals.files += seg.files;
        self.totals.lost_packets += dep.lost_packets;
        self.totals.dropped_frames +=
            dep.dropped_access_units + seg.dropped_frames + seg.skipped_frames;
    }

    /// Records one playing session until it ends or the camera is stopped.
    async fn session(
        &mut self,
        mut source: Source,
        stop: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let mut ingest = Ingest::for_source(
            &source,
            Naming::CameraDir {
                root: self.shared.opts.root.clone(),
                camera_id: self.cfg.id.clone(),
            },
            self.cfg.segment.clone(),
            self.cfg.depacketizer.clone(),
        );
        if self.paused_until.is_some() {
            ingest.set_paused(true);
        }
        if self.retry_fragments.is_some() {
            // Counted per session: a new session starts at 0 fragments.
            self.retry_fragments = Some(0);
        }
        // One stop watcher for the whole session, not a new one per packet.
        let stopped = stop.wait_for(|s| *s);
        tokio::pin!(stopped);
        let mut arrival = now_ntp();
        // A read happened since the status was last looked at.
        let mut new_read = false;
        // Read coalescing may start (every track's clock is anchored by arrival).
        let mut coalescing = false;
        let end = loop {
            // The rest of the last socket read first, in a plain loop; the stop and the
            // source are awaited once that is drained (once per read, not per packet).
            let (ev, read) = match source.next_buffered() {
                Ok(None) => (
                    tokio::select! {
                        biased;
                        _ = &mut stopped => break SessionEnd::Stopped,
                        ev = source.next() => ev,
                    },
                    true,
                ),
                ev => (ev, false),
            };
            // Packets of one read arrived together: one wall-clock reading per read.
            if read {
                arrival = now_ntp();
                new_read = true;
                if !coalescing && ingest.clocks_anchored() {
                    coalescing = true;
                    source.start_coalescing();
                }
            }
            match ev {
                Ok(Some(SourceEvent::Rtp(pkt))) => {
                    if let Some(until) = self.paused_until
                        && Instant::now() >= until
                    {
                        log::info!("{}: trying the disk again", self.cfg.id);
                        self.paused_until = None;
                        self.retry_fragments = Some(ingest.segment_stats().fragments);
                        ingest.set_paused(false);
                    }
                    if let Err(e) = ingest.on_rtp(pkt, arrival) {
                        self.write_failed(&mut ingest, &e);
                    }
                    // SDP says H.265, packets are H.264: nothing can be recorded.
                    if let Some(e) = ingest.codec_error() {
                        break SessionEnd::Lost(e.to_string());
                    }
                    self.after_packet(&mut ingest, false, std::mem::take(&mut new_read));
                }
                Ok(Some(SourceEvent::SenderReport { ntp, rtp_timestamp })) => {
                    ingest.on_sender_report(ntp, rtp_timestamp, arrival);
                }
                Ok(Some(SourceEvent::Audio { track, pkt })) => {
                    ingest.on_audio(track, pkt, arrival);
                }
                Ok(Some(SourceEvent::AudioSenderReport {
                    track,
                    ntp,
                    rtp_timestamp,
                })) => ingest.on_audio_sender_report(track, ntp, rtp_timestamp, arrival),
                Ok(Some(SourceEvent::Bye)) | Ok(None) => {
                    break SessionEnd::Lost("stream ended by camera".into());
                }
                Err(e) => break SessionEnd::Lost(e.to_string()),
            }
        };
        if let Err(e) = ingest.finish(now_ntp()) {
            self.write_failed(&mut ingest, &e);
        }
        self.after_packet(&mut ingest, true, true);
        self.end_session(&ingest);
        self.publish(None);
        end
    }

    fn write_failed(&mut self, ingest: &mut Ingest, e: &std::io::Error) {
        let full = is_disk_full(e);
        let retry = self.shared.opts.disk_retry;
        // The writer already cut the file back to its last complete fragment.
        let closed = ingest.take_closed();
        self.on_closed(closed);
        let what = if full { "disk full" } else { "write error" };
        self.error(format!(
            "{what}: {e}; pausing this camera, retrying in {retry:?}"
        ));
        self.open_gap(&format!("{what}: {e}"));
        ingest.set_paused(true);
        self.paused_until = Some(Instant::now() + retry);
        self.paused_state = if full {
            CameraState::PausedDiskFull
        } else {
            CameraState::PausedWriteError
        };
        self.set_state(self.paused_state);
        self.shared.retention_kick.notify_one();
    }
}

/// A closed file of `camera`: queued for upload (when on) and announced as
/// [`RecorderEventKind::SegmentClosed`], its end by its last fragment's own clock.
fn ship_closed(shared: &Shared, camera: &str, c: ClosedSegment) {
    #[cfg(feature = "s3")]
    if let Some(u) = &shared.uploader {
        u.enqueue(&c.path);
    }
    let _ = shared.events.send(RecorderEvent {
        camera: camera.to_string(),
        kind: RecorderEventKind::SegmentClosed {
            path: c.path,
            start: ntp_to_system_time(c.start_ntp),
            end: ntp_to_system_time(c.end_ntp.max(c.start_ntp)),
            frames: c.frames,
            bytes: c.bytes,
        },
    });
}

async fn camera_task(
    shared: Arc<Shared>,
    status: Arc<Mutex<CameraStatus>>,
    cfg: CameraConfig,
    mut stop: watch::Receiver<bool>,
) {
    let dir = shared.opts.root.join(&cfg.id);
    let backoff_cfg = shared.opts.backoff.clone();
    let now = Instant::now();
    let mut cam = Cam {
        shared,
        status,
        dir,
        cfg,
        totals: Totals::default(),
        last_end_ntp: None,
        pending_gap: None,
        paused_until: None,
        paused_state: CameraState::PausedDiskFull,
        retry_fragments: None,
        rate_sample: (now, 0, 0),
        last_publish: now,
        connected_once: false,
        backfills: Vec::new(),
    };
    let mut backoff = BackoffState::new(backoff_cfg);

    let dir = cam.dir.clone();
    match tokio::task::spawn_blocking(move || recover_camera_dir(&dir)).await {
        Ok(Ok(r)) => {
            if !r.truncated.is_empty() || !r.removed.is_empty() {
                log::warn!(
                    "{}: recovered {} torn file(s), removed {} empty one(s)",
                    cam.cfg.id,
                    r.truncated.len(),
                    r.removed.len()
                );
            }
            if let Some(end) = r.last_end_ntp {
                cam.last_end_ntp = Some(end);
                cam.open_gap("recorder not running");
            }
        }
        Ok(Err(e)) => cam.error(format!("recovery of {}: {e}", cam.dir.display())),
        Err(e) => cam.error(format!("recovery task: {e}")),
    }
    // After recovery: queue every closed segment not yet confirmed in the bucket.
    #[cfg(feature = "s3")]
    if let Some(u) = &cam.shared.uploader {
        u.scan_camera(&cam.dir);
    }

    loop {
        if *stop.borrow() {
            break;
        }
        cam.set_state(CameraState::Connecting);
        let connect = Source::connect(&cam.cfg.url, cam.cfg.source.clone().for_recording());
        let result = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            r = connect => r,
        };
        let delay = match result {
            Ok(source) => {
                if cam.connected_once {
                    lock(&cam.status).reconnects += 1;
                }
                cam.connected_once = true;
                let connected_at = Instant::now();
                cam.set_state(
                    if cam.paused_until.is_some() || cam.retry_fragments.is_some() {
                        cam.paused_state
                    } else {
                        CameraState::Recording
                    },
                );
                cam.emit(RecorderEventKind::Connected);
                match cam.session(source, &mut stop).await {
                    SessionEnd::Stopped => break,
                    SessionEnd::Lost(reason) => {
                        log::warn!("{}: disconnected: {reason}", cam.cfg.id);
                        lock(&cam.status).last_error = Some(reason.clone());
                        cam.open_gap(&reason);
                        cam.emit(RecorderEventKind::Disconnected { reason });
                    }
                }
                if !cam.shared.opts.reconnect {
                    break;
                }
                if connected_at.elapsed() >= backoff.cfg.stable_after {
                    backoff.reset();
                }
                backoff.failure()
            }
            Err(e) => {
                cam.error(e.to_string());
                let permanent = matches!(e, RtspError::Url(_));
                if permanent || !cam.shared.opts.reconnect {
                    break;
                }
                if matches!(e, RtspError::Auth { .. }) {
                    backoff.auth_failure()
                } else {
                    backoff.failure()
                }
            }
        };
        cam.set_state(CameraState::Backoff);
        log::info!("{}: reconnecting in {delay:.1?}", cam.cfg.id);
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    // A gap still open ends here: the recorder stops recording this camera now.
    if cam.pending_gap.is_some() {
        let (start, reason) = cam.pending_gap.take().unwrap_or_default();
        cam.pending_gap = Some((start, format!("{reason}; camera stopped before recovering")));
        cam.close_gap(now_ntp());
    }
    for h in cam.backfills.drain(..) {
        // What a back-fill wrote so far stays (complete fragments, as after a crash).
        h.abort();
    }
    cam.set_state(CameraState::Stopped);
    cam.emit(RecorderEventKind::Stopped);
    cam.shared.camera_stopped.notify_waiters();
}

/// RFC 3339 UTC with milliseconds, e.g. `2025-11-23T12:00:01.240Z`.
pub fn rfc3339(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_line_is_escaped_json() {
        let g = Gap {
            start: SystemTime::UNIX_EPOCH + Duration::from_millis(1_763_899_201_240),
            end: SystemTime::UNIX_EPOCH + Duration::from_millis(1_763_899_204_020),
            reason: "say \"bye\"\n\\".into(),
        };
        assert_eq!(
            g.to_json_line(),
            "{\"start\":\"2025-11-23T12:00:01.240Z\",\"end\":\"2025-11-23T12:00:04.020Z\",\
             \"reason\":\"say \\\"bye\\\"\\n\\\\\"}\n"
        );
    }

    #[test]
    fn backoff_grows_to_its_cap_and_auth_is_bounded() {
        let mut b = BackoffState::new(Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(400),
            auth_initial: Duration::from_secs(1),
            auth_max: Duration::from_secs(2),
            auth_attempts: 2,
            auth_window: Duration::from_secs(60),
            ..Backoff::default()
        });
        let ds: Vec<Duration> = (0..5).map(|_| b.failure()).collect();
        assert!(ds[0] >= Duration::from_millis(50) && ds[0] <= Duration::from_millis(100));
        assert!(ds[4] >= Duration::from_millis(200) && ds[4] <= Duration::from_millis(400));
        b.reset();
        assert!(b.failure() <= Duration::from_millis(100));
        assert!(b.auth_failure() <= Duration::from_secs(1));
        // Second failure in the window reaches the attempt bound: wait out the window.
        assert!(b.auth_failure() >= Duration::from_secs(59));
    }
}

//! The multi-camera recorder (`camwire::record::Recorder`) behind `camwire_recorder`, its
//! status list and its event-callback thread.

use crate::context::*;
use crate::error::*;
use crate::stream::{camwire_free_user_data, camwire_stream_options, source_options};
#[cfg(feature = "s3")]
use camwire_core::record::upload::{S3Settings, UploadOptions};
use camwire_core::record::{
    CameraConfig, CameraState, CameraStatus, FsyncPolicy, Recorder, RecorderEvent,
    RecorderEventKind, RecorderOptions, RetentionLimits, RetentionPolicy, SegmentOptions,
};
use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// When recordings are forced to disk (`CAMWIRE_FSYNC_*`).
pub type camwire_fsync = u32;
/// fsync after every fragment (default).
pub const CAMWIRE_FSYNC_FRAGMENT: camwire_fsync = 0;
/// fsync at most once per `fsync_interval_ms`.
pub const CAMWIRE_FSYNC_INTERVAL: camwire_fsync = 1;
/// Never fsync (the OS writes back when it likes).
pub const CAMWIRE_FSYNC_NEVER: camwire_fsync = 2;

/// Options for `camwire_recorder_new2`. Fill with `camwire_recorder_options_init` first.
/// The segment and fsync settings apply to every camera added.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_recorder_options {
    /// `sizeof(camwire_recorder_options)` as the caller compiled it (set by
    /// `camwire_recorder_options_init`).
    pub struct_size: usize,
    /// A new file starts at the first keyframe after this many seconds (default 60).
    pub segment_secs: u32,
    /// A fragment (the most a crash can lose) closes after this many ms (default 1000).
    pub fragment_ms: u32,
    /// `CAMWIRE_FSYNC_*` (default FRAGMENT).
    pub fsync: camwire_fsync,
    /// With CAMWIRE_FSYNC_INTERVAL: the interval, ms (> 0).
    pub fsync_interval_ms: u32,
    /// True (default): a camera whose stream ends or fails reconnects with backoff.
    pub reconnect: bool,
    /// Retention, each camera: delete files that ended longer ago than this, s (0 = keep).
    pub retention_max_age_secs: u64,
    /// Retention, each camera: delete the oldest files beyond this many bytes (0 = no limit).
    pub retention_max_bytes_per_camera: u64,
    /// Retention, all cameras together: bytes (0 = no limit).
    pub retention_max_bytes_total: u64,
    /// How often retention runs, ms (default 60000).
    pub retention_interval_ms: u32,
    // --- appended after the first growable layout: uploads (NULL/0 = not set) ---
    /// Ship each closed segment to `s3://bucket/prefix` (NULL: no upload). The S3 settings
    /// below override the standard AWS_* environment variables; NULL takes the variable.
    pub upload_url: *const c_char,
    /// S3 endpoint, e.g. `https://s3.example.net` (AWS_ENDPOINT_URL).
    pub s3_endpoint: *const c_char,
    /// Region (AWS_REGION; default us-east-1).
    pub s3_region: *const c_char,
    /// Access key id (AWS_ACCESS_KEY_ID). Never logged.
    pub s3_access_key_id: *const c_char,
    /// Secret key (AWS_SECRET_ACCESS_KEY). Never logged.
    pub s3_secret_access_key: *const c_char,
    /// Session token (AWS_SESSION_TOKEN). Never logged.
    pub s3_session_token: *const c_char,
    /// Plain http to the endpoint (a test server); otherwise AWS_ALLOW_HTTP decides.
    pub s3_allow_http: bool,
    /// Delete a local copy this many seconds after its recording ended, once the store
    /// confirmed it (0: keep; retention applies).
    pub local_retain_secs: u64,
}

crate::abi::growable!(
    camwire_recorder_options,
    retention_interval_ms: u32,
    camwire_recorder_options::default()
);

impl Default for camwire_recorder_options {
    fn default() -> Self {
        let s = SegmentOptions::default();
        camwire_recorder_options {
            struct_size: std::mem::size_of::<camwire_recorder_options>(),
            segment_secs: s.segment_secs,
            fragment_ms: s.fragment_ms,
            fsync: CAMWIRE_FSYNC_FRAGMENT,
            fsync_interval_ms: 0,
            reconnect: true,
            retention_max_age_secs: 0,
            retention_max_bytes_per_camera: 0,
            retention_max_bytes_total: 0,
            retention_interval_ms: 60_000,
            upload_url: std::ptr::null(),
            s3_endpoint: std::ptr::null(),
            s3_region: std::ptr::null(),
            s3_access_key_id: std::ptr::null(),
            s3_secret_access_key: std::ptr::null(),
            s3_session_token: std::ptr::null(),
            s3_allow_http: false,
            local_retain_secs: 0,
        }
    }
}

/// What a recorded camera is doing (`CAMWIRE_CAMERA_*`).
pub type camwire_camera_state = u32;
/// Connecting (DESCRIBE, SETUP, PLAY).
pub const CAMWIRE_CAMERA_CONNECTING: camwire_camera_state = 0;
/// Connected and writing.
pub const CAMWIRE_CAMERA_RECORDING: camwire_camera_state = 1;
/// Waiting before reconnecting.
pub const CAMWIRE_CAMERA_BACKOFF: camwire_camera_state = 2;
/// Connected, dropping frames: the disk is full.
pub const CAMWIRE_CAMERA_PAUSED_DISK_FULL: camwire_camera_state = 3;
/// Connected, dropping frames after another write error.
pub const CAMWIRE_CAMERA_PAUSED_WRITE_ERROR: camwire_camera_state = 4;
/// Stopped for good (removed, recorder stopped, bad URL, or ended without reconnect).
pub const CAMWIRE_CAMERA_STOPPED: camwire_camera_state = 5;

/// Recorder event kinds (`CAMWIRE_EVENT_*`).
pub type camwire_event_kind = u32;
/// A session is playing.
pub const CAMWIRE_EVENT_CONNECTED: camwire_event_kind = 0;
/// The session ended; `message` says why.
pub const CAMWIRE_EVENT_DISCONNECTED: camwire_event_kind = 1;
/// A gap in the recording closed: `start_us`..`end_us`, `message` the reason.
pub const CAMWIRE_EVENT_GAP: camwire_event_kind = 2;
/// A file was closed: `message` its path, `start_us`..`end_us`, `frames`, `bytes`.
pub const CAMWIRE_EVENT_SEGMENT_CLOSED: camwire_event_kind = 3;
/// A connect, stream or disk error; `message` says what.
pub const CAMWIRE_EVENT_ERROR: camwire_event_kind = 4;
/// The camera stopped for good.
pub const CAMWIRE_EVENT_STOPPED: camwire_event_kind = 5;
/// Events were lost because the callback was too slow; `frames` holds how many.
pub const CAMWIRE_EVENT_LAGGED: camwire_event_kind = 6;

/// A recorder event, borrowed for the duration of the callback.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_recorder_event {
    /// camwire's `sizeof(camwire_recorder_event)`: a field is there when `struct_size`
    /// reaches its end (fields are only ever appended).
    pub struct_size: usize,
    /// Camera id ("" for CAMWIRE_EVENT_LAGGED).
    pub camera: *const c_char,
    /// `CAMWIRE_EVENT_*`.
    pub kind: camwire_event_kind,
    /// Reason, error text or file path (see the kinds); NULL when none.
    pub message: *const c_char,
    /// Gap or file start, Unix us (0 when not applicable).
    pub start_us: i64,
    /// Gap or file end, Unix us (0 when not applicable).
    pub end_us: i64,
    /// Frames in the closed file (or events lost, for LAGGED).
    pub frames: u64,
    /// Bytes of the closed file.
    pub bytes: u64,
}

/// Called with each recorder event on the recorder's event thread (`camwire-rec-events`),
/// never concurrently, never after `camwire_recorder_stop` returns (events of the stop
/// itself, like the last files closed, are delivered before it returns). Must not call
/// blocking camwire functions (CAMWIRE_E_WRONG_THREAD).
pub type camwire_recorder_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const camwire_recorder_event)>;

/// One camera's status, borrowed from its list (valid until the list is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_camera_status {
    /// Set by the caller before `camwire_status_list_get2` (`camwire_struct_init`); on return
    /// the bytes camwire filled.
    pub struct_size: usize,
    /// Camera id.
    pub id: *const c_char,
    /// `CAMWIRE_CAMERA_*`.
    pub state: camwire_camera_state,
    /// Since when, Unix us.
    pub since_us: i64,
    /// Frames written, over all connections.
    pub frames: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Files opened.
    pub files: u64,
    /// Bytes per second over the last second or so.
    pub bitrate_bps: f64,
    /// Frames per second over the last second or so.
    pub frame_rate: f64,
    /// RTP packets lost.
    pub lost_packets: u64,
    /// Access units dropped (damaged, or before the first keyframe).
    pub dropped_frames: u64,
    /// Successful connections after the first.
    pub reconnects: u64,
    /// The latest error, or NULL.
    pub last_error: *const c_char,
    /// The file being written, or NULL.
    pub current_file: *const c_char,
    /// Gaps in the recent-gaps list.
    pub gap_count: usize,
}

crate::abi::growable!(
    camwire_camera_status,
    gap_count: usize,
    camwire_camera_status {
        struct_size: std::mem::size_of::<camwire_camera_status>(),
        id: std::ptr::null(),
        state: 0,
        since_us: 0,
        frames: 0,
        bytes: 0,
        files: 0,
        bitrate_bps: 0.0,
        frame_rate: 0.0,
        lost_packets: 0,
        dropped_frames: 0,
        reconnects: 0,
        last_error: std::ptr::null(),
        current_file: std::ptr::null(),
        gap_count: 0,
    }
);
crate::abi::growable!(
    camwire_recorder_event,
    bytes: u64,
    camwire_recorder_event {
        struct_size: std::mem::size_of::<camwire_recorder_event>(),
        camera: std::ptr::null(),
        kind: CAMWIRE_EVENT_ERROR,
        message: std::ptr::null(),
        start_us: 0,
        end_us: 0,
        frames: 0,
        bytes: 0,
    }
);

struct StatusStrings {
    status: CameraStatus,
    id: CString,
    last_error: Option<CString>,
    current_file: Option<CString>,
}

/// A snapshot of the recorder's cameras; free with `camwire_status_list_free`.
pub struct camwire_status_list {
    items: Vec<StatusStrings>,
}

struct EventThread {
    thread: Option<std::thread::JoinHandle<()>>,
    thread_id: std::thread::ThreadId,
    stop: watch::Sender<bool>,
}

struct RecorderShared {
    ctx: Arc<ContextInner>,
    recorder: Mutex<Option<Recorder>>,
    segment: SegmentOptions,
    events: Mutex<Option<EventThread>>,
    stopped: AtomicBool,
}

/// A multi-camera recorder writing under one root directory.
pub struct camwire_recorder {
    shared: Arc<RecorderShared>,
}

impl RecorderShared {
    fn check_open(&self) -> Result<()> {
        if self.stopped.load(Ordering::Acquire) || self.ctx.is_closed() {
            return Err(Error::closed("recorder"));
        }
        Ok(())
    }

    /// Stops every camera (fragments written, files closed), delivers the remaining events
    /// and joins the event thread. Idempotent.
    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let rec = self
            .recorder
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(rec) = rec {
            let done = self.ctx.block_on_internal(async move {
                // Bounded: a camera stuck in a write is given up on after this (its complete
                // fragments are on disk either way).
                let _ = tokio::time::timeout(Duration::from_secs(30), rec.shutdown()).await;
            });
            if done.is_none() {
                log::warn!("recorder stopped after its context: files kept as after a crash");
            }
        }
        let ev = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut ev) = ev {
            // The recorder is gone, so its event channel closes once drained; the stop flag
            // ends a thread still blocked (context closing).
            if ev.thread_id == std::thread::current().id() {
                let _ = ev.stop.send(true);
                drop(ev.thread.take());
            } else if let Some(t) = ev.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Child for RecorderShared {
    fn close(&self) {
        self.stop();
    }
}

/// Fills `options` (`struct_size` bytes: pass `sizeof *options`) with the defaults: 60 s
/// files, 1 s fragments, fsync per fragment, reconnect, no retention limits; sets
/// `options->struct_size`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_options_init(
    options: *mut camwire_recorder_options,
    struct_size: usize,
) -> camwire_result {
    // SAFETY: NULL or `struct_size` writable bytes per the caller.
    guard(|| unsafe { crate::abi::init(options, struct_size) })
}

fn opt_nonzero<T: PartialEq + Default>(v: T) -> Option<T> {
    if v == T::default() { None } else { Some(v) }
}

/// Starts a recorder writing `<root>/<camera-id>/<YYYY-MM-DD>/<UTC start>.mp4` (the root is
/// created), with no camera yet. `options` may be NULL for defaults. Stop it with
/// `camwire_recorder_stop` (or free the context) so open files are finalized.
///
/// With `upload_url` set, each closed segment is also shipped to S3-compatible storage
/// (create-only PUT carrying its SHA-256; a journal per camera so that a restart ships what
/// was missed); upload trouble shows as CAMWIRE_EVENT_ERROR events while recording goes on,
/// and `camwire_recorder_stop` waits up to 10 s for the backlog.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (incl. `struct_size`, an
/// `upload_url` that is not `s3://bucket[/prefix]`), CAMWIRE_E_UNSUPPORTED (options this
/// library does not know are set; `upload_url` without feature `s3`), CAMWIRE_E_IO,
/// CAMWIRE_E_CLOSED.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_new2(
    context: *const camwire_context,
    root: *const c_char,
    options: *const camwire_recorder_options,
    out_recorder: *mut *mut camwire_recorder,
) -> camwire_result {
    // SAFETY: NULL or a valid options struct per the C contract.
    guard(|| unsafe { recorder_new(context, root, crate::abi::read(options)?, out_recorder) })
}

/// `camwire_recorder_new2` with read options (also behind the 0.1 entry point).
///
/// # Safety
/// Pointers NULL or live per the C contract.
pub(crate) unsafe fn recorder_new(
    context: *const camwire_context,
    root: *const c_char,
    options: Option<camwire_recorder_options>,
    out_recorder: *mut *mut camwire_recorder,
) -> Result<()> {
    // SAFETY: NULL or live pointers per the C contract.
    let ctx = unsafe { arg(context, "context") }?;
    let root = unsafe { cpath(root, "root") }?;
    let out_recorder = out(out_recorder, "out_recorder")?;
    let o = options.unwrap_or_default();
    if ctx.inner.is_closed() {
        return Err(Error::closed("context"));
    }
    let fsync = match o.fsync {
        CAMWIRE_FSYNC_FRAGMENT => FsyncPolicy::Fragment,
        CAMWIRE_FSYNC_NEVER => FsyncPolicy::Never,
        CAMWIRE_FSYNC_INTERVAL if o.fsync_interval_ms > 0 => {
            FsyncPolicy::Interval(timeout_of(o.fsync_interval_ms))
        }
        CAMWIRE_FSYNC_INTERVAL => {
            return Err(Error::invalid("fsync_interval_ms must be > 0"));
        }
        f => return Err(Error::invalid(format!("unknown fsync policy {f}"))),
    };
    if o.segment_secs == 0 || o.fragment_ms == 0 || o.retention_interval_ms == 0 {
        return Err(Error::invalid(
            "segment_secs, fragment_ms and retention_interval_ms must be > 0",
        ));
    }
    let segment = SegmentOptions {
        segment_secs: o.segment_secs,
        fragment_ms: o.fragment_ms,
        fsync,
        ..SegmentOptions::default()
    };
    let mut ropts = RecorderOptions::new(root);
    ropts.reconnect = o.reconnect;
    ropts.retention_interval = timeout_of(o.retention_interval_ms);
    ropts.retention = RetentionPolicy {
        total: RetentionLimits {
            max_age: None,
            max_bytes: opt_nonzero(o.retention_max_bytes_total),
        },
        per_camera: RetentionLimits {
            max_age: opt_nonzero(o.retention_max_age_secs).map(Duration::from_secs),
            max_bytes: opt_nonzero(o.retention_max_bytes_per_camera),
        },
        ..RetentionPolicy::default()
    };
    #[cfg(feature = "s3")]
    {
        // SAFETY: NULL or NUL-terminated strings per the C contract.
        ropts.upload = unsafe { upload_options(&o) }?;
    }
    #[cfg(not(feature = "s3"))]
    if !o.upload_url.is_null() {
        return Err(Error::new(
            CAMWIRE_E_UNSUPPORTED,
            "upload_url: camwire was built without feature s3",
        ));
    }
    let rec = ctx.inner.enter(|| Recorder::start(ropts))?;
    let shared = Arc::new(RecorderShared {
        ctx: ctx.inner.clone(),
        recorder: Mutex::new(Some(rec)),
        segment,
        events: Mutex::new(None),
        stopped: AtomicBool::new(false),
    });
    let weak: std::sync::Weak<dyn Child> = Arc::downgrade(&shared) as _;
    ctx.inner.register(weak);
    // SAFETY: checked non-NULL.
    unsafe { out_recorder.write(Box::into_raw(Box::new(camwire_recorder { shared }))) };
    Ok(())
}

/// The upload settings of `o`: the URL's bucket and prefix, the AWS_* variables, the
/// options' own S3 fields over them.
///
/// # Safety
/// The string fields are NULL or NUL-terminated.
#[cfg(feature = "s3")]
unsafe fn upload_options(o: &camwire_recorder_options) -> Result<Option<UploadOptions>> {
    // SAFETY: per this function's contract.
    let Some(url) = (unsafe { opt_cstr(o.upload_url, "upload_url") })? else {
        return Ok(None);
    };
    let given = [
        ("AWS_ENDPOINT_URL", o.s3_endpoint, "s3_endpoint"),
        ("AWS_REGION", o.s3_region, "s3_region"),
        ("AWS_ACCESS_KEY_ID", o.s3_access_key_id, "s3_access_key_id"),
        (
            "AWS_SECRET_ACCESS_KEY",
            o.s3_secret_access_key,
            "s3_secret_access_key",
        ),
        ("AWS_SESSION_TOKEN", o.s3_session_token, "s3_session_token"),
    ]
    .into_iter()
    .map(|(var, p, what)| {
        // SAFETY: per this function's contract.
        Ok((var, unsafe { opt_cstr(p, what) }?.map(str::to_string)))
    })
    .collect::<Result<Vec<_>>>()?;
    let s3 = S3Settings::from_url(url)
        .map_err(|e| Error::invalid(e.to_string()))?
        .with_vars(|var| {
            given
                .iter()
                .find(|(v, _)| *v == var)
                .and_then(|(_, value)| value.clone())
                .or_else(|| std::env::var(var).ok())
        });
    let mut u = UploadOptions::new(S3Settings {
        allow_http: s3.allow_http || o.s3_allow_http,
        ..s3
    });
    u.local_retain = opt_nonzero(o.local_retain_secs).map(Duration::from_secs);
    Ok(Some(u))
}

/// Starts recording camera `id` (a directory name: no '/', '\\', ':', "." or "..", at most
/// 128 bytes) from the `rtsp://` `url` with `options` (credentials, transport, timeouts;
/// NULL = defaults). Returns at once; connecting and reconnecting happen in the background
/// (see the status and events).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (id, transport,
/// `struct_size`), CAMWIRE_E_UNSUPPORTED (options this library does not know are set),
/// CAMWIRE_E_ALREADY_EXISTS (id recording), CAMWIRE_E_CLOSED.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_add_camera2(
    recorder: *const camwire_recorder,
    id: *const c_char,
    url: *const c_char,
    options: *const camwire_stream_options,
) -> camwire_result {
    // SAFETY: NULL or a valid options struct per the C contract.
    guard(|| unsafe { add_camera(recorder, id, url, crate::abi::read(options)?) })
}

/// `camwire_recorder_add_camera2` with read options (also behind the 0.1 entry point).
///
/// # Safety
/// Pointers NULL or live per the C contract.
pub(crate) unsafe fn add_camera(
    recorder: *const camwire_recorder,
    id: *const c_char,
    url: *const c_char,
    options: Option<camwire_stream_options>,
) -> Result<()> {
    // SAFETY: NULL or live pointers per the C contract.
    let r = unsafe { arg(recorder, "recorder") }?;
    let id = unsafe { cstr(id, "id") }?;
    let url = unsafe { cstr(url, "url") }?;
    let source = unsafe { source_options(options) }?;
    let sh = &r.shared;
    sh.check_open()?;
    let cfg = CameraConfig {
        id: id.to_string(),
        url: url.to_string(),
        source,
        segment: sh.segment.clone(),
        depacketizer: Default::default(),
        backfill: None,
    };
    let g = sh.recorder.lock().unwrap_or_else(PoisonError::into_inner);
    let rec = g.as_ref().ok_or_else(|| Error::closed("recorder"))?;
    sh.ctx.enter(|| rec.add_camera(cfg))?;
    Ok(())
}

/// Stops recording camera `id`: its open fragment is written and its file closed before
/// this returns. Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_NOT_FOUND, CAMWIRE_E_CLOSED,
/// CAMWIRE_E_WRONG_THREAD.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_remove_camera(
    recorder: *const camwire_recorder,
    id: *const c_char,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live pointers per the C contract.
        let r = unsafe { arg(recorder, "recorder") }?;
        let id = unsafe { cstr(id, "id") }?;
        let sh = &r.shared;
        sh.check_open()?;
        check_thread()?;
        let g = sh.recorder.lock().unwrap_or_else(PoisonError::into_inner);
        let rec = g.as_ref().ok_or_else(|| Error::closed("recorder"))?;
        sh.ctx
            .block_on(async { Ok(rec.remove_camera(id).await) })?
            .ok_or_else(|| Error::new(CAMWIRE_E_NOT_FOUND, format!("no camera {id:?}")))?;
        Ok(())
    })
}

fn state_code(s: CameraState) -> camwire_camera_state {
    match s {
        CameraState::Connecting => CAMWIRE_CAMERA_CONNECTING,
        CameraState::Recording => CAMWIRE_CAMERA_RECORDING,
        CameraState::Backoff => CAMWIRE_CAMERA_BACKOFF,
        CameraState::PausedDiskFull => CAMWIRE_CAMERA_PAUSED_DISK_FULL,
        CameraState::PausedWriteError => CAMWIRE_CAMERA_PAUSED_WRITE_ERROR,
        #[allow(unreachable_patterns)]
        _ => CAMWIRE_CAMERA_STOPPED,
    }
}

/// The status of every camera (sorted by id). Does not block on the cameras.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_CLOSED.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_get_status(
    recorder: *const camwire_recorder,
    out_list: *mut *mut camwire_status_list,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let r = unsafe { arg(recorder, "recorder") }?;
        let out_list = out(out_list, "out_list")?;
        let g = r
            .shared
            .recorder
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let rec = g.as_ref().ok_or_else(|| Error::closed("recorder"))?;
        let items = rec
            .status()
            .into_iter()
            .map(|s| StatusStrings {
                id: to_cstring(&s.id),
                last_error: s.last_error.as_deref().map(to_cstring),
                current_file: s.current_file.as_deref().map(path_cstring),
                status: s,
            })
            .collect();
        // SAFETY: checked non-NULL.
        unsafe { out_list.write(Box::into_raw(Box::new(camwire_status_list { items }))) };
        Ok(())
    })
}

/// Number of cameras in a status list (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_status_list_len(list: *const camwire_status_list) -> usize {
    // SAFETY: NULL or a live list.
    guard_value(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// The status at `index`, into `out_status` (its `struct_size` set by the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_status_list_get2(
    list: *const camwire_status_list,
    index: usize,
    out_status: *mut camwire_camera_status,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live list; the struct_size set by the caller.
        let v = unsafe { status_at(list, index) }?;
        unsafe { crate::abi::write(out_status, v) }
    })
}

/// The status at `index` (also behind the 0.1 entry point).
///
/// # Safety
/// `list` is NULL or live.
pub(crate) unsafe fn status_at(
    list: *const camwire_status_list,
    index: usize,
) -> Result<camwire_camera_status> {
    // SAFETY: NULL or a live list.
    let l = unsafe { arg(list, "list") }?;
    let i = l.items.get(index).ok_or_else(|| {
        Error::new(
            CAMWIRE_E_OUT_OF_RANGE,
            format!("index {index} of {}", l.items.len()),
        )
    })?;
    let s = &i.status;
    let v = camwire_camera_status {
        struct_size: std::mem::size_of::<camwire_camera_status>(),
        id: i.id.as_ptr(),
        state: state_code(s.state),
        since_us: unix_us(s.since),
        frames: s.frames,
        bytes: s.bytes,
        files: s.files,
        bitrate_bps: s.bitrate_bps,
        frame_rate: s.frame_rate,
        lost_packets: s.lost_packets,
        dropped_frames: s.dropped_frames,
        reconnects: s.reconnects,
        last_error: opt_ptr(&i.last_error),
        current_file: opt_ptr(&i.current_file),
        gap_count: s.gaps.len(),
    };
    Ok(v)
}

/// Frees a status list (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_status_list_free(list: *mut camwire_status_list) {
    guard_value((), || {
        if !list.is_null() {
            // SAFETY: made by camwire_recorder_get_status, not freed yet.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// Where events go: a callback of this ABI, or one registered through the 0.1 entry point
/// (which gets the 0.1 layout of the event).
#[derive(Clone, Copy)]
pub(crate) enum EventSink {
    Current(unsafe extern "C" fn(*mut c_void, *const camwire_recorder_event)),
    V0_1(crate::abi_v0_1::EventCallbackV0_1),
}

impl EventSink {
    fn call(self, user_data: *mut c_void, e: &camwire_recorder_event) {
        match self {
            // SAFETY: the registered callback, with an event valid for the call.
            EventSink::Current(cb) => unsafe { cb(user_data, e) },
            EventSink::V0_1(cb) => crate::abi_v0_1::deliver_event(cb, user_data, e),
        }
    }
}

fn deliver(cb: EventSink, user_data: *mut c_void, ev: &RecorderEvent) {
    let camera = to_cstring(&ev.camera);
    let mut e = camwire_recorder_event {
        struct_size: std::mem::size_of::<camwire_recorder_event>(),
        camera: camera.as_ptr(),
        kind: CAMWIRE_EVENT_ERROR,
        message: std::ptr::null(),
        start_us: 0,
        end_us: 0,
        frames: 0,
        bytes: 0,
    };
    let message: Option<CString> = match &ev.kind {
        RecorderEventKind::Connected => {
            e.kind = CAMWIRE_EVENT_CONNECTED;
            None
        }
        RecorderEventKind::Disconnected { reason } => {
            e.kind = CAMWIRE_EVENT_DISCONNECTED;
            Some(to_cstring(reason))
        }
        RecorderEventKind::Gap(g) => {
            e.kind = CAMWIRE_EVENT_GAP;
            e.start_us = unix_us(g.start);
            e.end_us = unix_us(g.end);
            Some(to_cstring(&g.reason))
        }
        RecorderEventKind::SegmentClosed {
            path,
            start,
            end,
            frames,
            bytes,
        } => {
            e.kind = CAMWIRE_EVENT_SEGMENT_CLOSED;
            e.start_us = unix_us(*start);
            e.end_us = unix_us(*end);
            e.frames = *frames;
            e.bytes = *bytes;
            Some(path_cstring(path))
        }
        RecorderEventKind::Error { message } => {
            e.kind = CAMWIRE_EVENT_ERROR;
            Some(to_cstring(message))
        }
        RecorderEventKind::Stopped => {
            e.kind = CAMWIRE_EVENT_STOPPED;
            None
        }
        #[allow(unreachable_patterns)]
        _ => return,
    };
    e.message = opt_ptr(&message);
    cb.call(user_data, &e);
}

/// Registers `callback` for recorder events from now on (connected, disconnected, gap,
/// segment closed, error, stopped), on a new thread named `camwire-rec-events`. Register it
/// before adding cameras to see every event. `free_user_data` (may be NULL) is called once
/// after the last call: also when this fails.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_BUSY (one is registered), CAMWIRE_E_CLOSED,
/// CAMWIRE_E_RUNTIME.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_set_event_callback2(
    recorder: *const camwire_recorder,
    callback: camwire_recorder_event_callback,
    user_data: *mut c_void,
    free_user_data: camwire_free_user_data,
) -> camwire_result {
    let ud = crate::context::UserData(user_data, free_user_data);
    // SAFETY: NULL or a live handle.
    guard(move || unsafe { set_event_callback(recorder, callback.map(EventSink::Current), ud) })
}

/// Registers an event sink (also behind the 0.1 entry point); `ud` is finalized on failure.
///
/// # Safety
/// `recorder` is NULL or live.
pub(crate) unsafe fn set_event_callback(
    recorder: *const camwire_recorder,
    sink: Option<EventSink>,
    ud: crate::context::UserData,
) -> Result<()> {
    // SAFETY: NULL or a live handle.
    let r = unsafe { arg(recorder, "recorder") }?;
    let cb = sink.ok_or_else(|| Error::null("callback"))?;
    let sh = &r.shared;
    sh.check_open()?;
    let mut slot = sh.events.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.is_some() {
        return Err(Error::new(
            CAMWIRE_E_BUSY,
            "an event callback is already registered",
        ));
    }
    let mut rx: broadcast::Receiver<RecorderEvent> = {
        let g = sh.recorder.lock().unwrap_or_else(PoisonError::into_inner);
        g.as_ref()
            .ok_or_else(|| Error::closed("recorder"))?
            .events()
    };
    let ctx = sh.ctx.clone();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("camwire-rec-events".to_string())
        .spawn(move || {
            let ud = ud;
            mark_callback_thread(ctx.id);
            loop {
                let next = ctx.block_on_internal(async {
                    tokio::select! {
                        r = rx.recv() => Some(r),
                        _ = stop_rx.wait_for(|s| *s) => None,
                    }
                });
                match next.flatten() {
                    Some(Ok(ev)) => deliver(cb, ud.0, &ev),
                    Some(Err(broadcast::error::RecvError::Lagged(n))) => {
                        let empty = CString::default();
                        let e = camwire_recorder_event {
                            struct_size: std::mem::size_of::<camwire_recorder_event>(),
                            camera: empty.as_ptr(),
                            kind: CAMWIRE_EVENT_LAGGED,
                            message: std::ptr::null(),
                            start_us: 0,
                            end_us: 0,
                            frames: n,
                            bytes: 0,
                        };
                        cb.call(ud.0, &e);
                    }
                    Some(Err(broadcast::error::RecvError::Closed)) | None => break,
                }
            }
            drop(ud);
        })
        .map_err(|e| Error::new(CAMWIRE_E_RUNTIME, format!("starting the event thread: {e}")))?;
    *slot = Some(EventThread {
        thread_id: thread.thread().id(),
        thread: Some(thread),
        stop: stop_tx,
    });
    Ok(())
}

/// Stops every camera (open fragments written, files closed), delivers the last events and
/// ends the event thread, then returns. Idempotent. Blocks (bounded by ~30 s for a camera
/// stuck in a write).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_WRONG_THREAD (from a camwire callback thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_stop(
    recorder: *const camwire_recorder,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let r = unsafe { arg(recorder, "recorder") }?;
        check_thread()?;
        r.shared.stop();
        Ok(())
    })
}

/// Stops (if needed) and frees a recorder (NULL-safe). From a camwire callback thread the
/// stop cannot wait: the recorder's tasks are aborted instead (files keep every complete
/// fragment, as after a crash): call `camwire_recorder_stop` first from your own thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_free(recorder: *mut camwire_recorder) {
    guard_value((), || {
        if recorder.is_null() {
            return;
        }
        // SAFETY: made by camwire_recorder_new, not freed yet.
        let r = unsafe { Box::from_raw(recorder) };
        if check_thread().is_ok() {
            r.shared.stop();
        } else {
            r.shared.stopped.store(true, Ordering::Release);
            let rec = r
                .shared
                .recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            drop(rec);
        }
    })
}

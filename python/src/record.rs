//! `camwire.Recorder`: many cameras recorded to crash-safe fragmented MP4 by the core's
//! multi-camera recorder, on the module's runtime.

use crate::errors::{self, Family};
use crate::records::{self, Fields};
use crate::runtime::{runtime, seconds, wait};
use camwire::record::recorder::{
    CameraState, CameraStatus, Gap, Recorder, RecorderEvent, RecorderEventKind, RecorderOptions,
};
use camwire::record::upload::{UploadOptions, UploadStatus};
use camwire::record::{CameraConfig, FsyncPolicy, RecordError, SegmentOptions};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecorder>()?;
    m.add_class::<RecorderEvents>()?;
    m.add_class::<PyRecorderEvent>()?;
    Ok(())
}

const GB: f64 = 1e9;
const DAY_SECS: f64 = 86_400.0;

pub(crate) fn from_record(e: RecordError) -> PyErr {
    match e {
        RecordError::Rtsp(e) => errors::from_rtsp(e),
        RecordError::Io(e) => errors::from_io("recording", e),
        e @ (RecordError::InvalidCameraId(..) | RecordError::DuplicateCamera(_)) => {
            errors::invalid_input(e.to_string())
        }
        #[allow(unreachable_patterns)]
        e => errors::error(Family::Other, e.to_string()),
    }
}

fn state_name(s: CameraState) -> &'static str {
    match s {
        CameraState::Connecting => "connecting",
        CameraState::Recording => "recording",
        CameraState::Backoff => "backoff",
        CameraState::PausedDiskFull => "paused_disk_full",
        CameraState::PausedWriteError => "paused_write_error",
        CameraState::Stopped => "stopped",
    }
}

pub(crate) fn gap_dict<'py>(py: Python<'py>, g: &Gap) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("start", crate::time::system_time(py, g.start)?)?;
    d.set_item("end", crate::time::system_time(py, g.end)?)?;
    d.set_item("reason", &g.reason)?;
    Ok(d)
}

fn status_dict<'py>(py: Python<'py>, s: &CameraStatus) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &s.id)?;
    d.set_item("state", state_name(s.state))?;
    d.set_item("since", crate::time::system_time(py, s.since)?)?;
    d.set_item("frames", s.frames)?;
    d.set_item("bytes", s.bytes)?;
    d.set_item("files", s.files)?;
    d.set_item("bitrate_bps", s.bitrate_bps)?;
    d.set_item("frame_rate", s.frame_rate)?;
    d.set_item("lost_packets", s.lost_packets)?;
    d.set_item("dropped_frames", s.dropped_frames)?;
    d.set_item("reconnects", s.reconnects)?;
    d.set_item("last_error", &s.last_error)?;
    d.set_item(
        "current_file",
        s.current_file
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
    )?;
    let gaps = PyList::empty(py);
    for g in &s.gaps {
        gaps.append(gap_dict(py, g)?)?;
    }
    d.set_item("gaps", gaps)?;
    Ok(d)
}

fn upload_dict<'py>(py: Python<'py>, u: &UploadStatus) -> PyResult<Bound<'py, PyDict>> {
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    let d = PyDict::new(py);
    d.set_item("target", &u.target)?;
    d.set_item("pending_files", u.pending_files)?;
    d.set_item("pending_bytes", u.pending_bytes)?;
    d.set_item("oldest_pending", path(&u.oldest_pending))?;
    let cams = PyDict::new(py);
    for (id, c) in &u.cameras {
        let cd = PyDict::new(py);
        cd.set_item("pending_files", c.pending_files)?;
        cd.set_item("pending_bytes", c.pending_bytes)?;
        cd.set_item("oldest_pending", path(&c.oldest_pending))?;
        cd.set_item("uploaded_files", c.uploaded_files)?;
        cd.set_item("uploaded_bytes", c.uploaded_bytes)?;
        cd.set_item("already_present", c.already_present)?;
        cd.set_item("deleted_local", c.deleted_local)?;
        cd.set_item("last_error", &c.last_error)?;
        cams.set_item(id, cd)?;
    }
    d.set_item("cameras", cams)?;
    Ok(d)
}

/// Records many cameras under `root` (`<root>/<camera-id>/<YYYY-MM-DD>/<UTC start>.mp4`),
/// reconnecting with backoff, logging gaps, applying retention. Use it as a context manager:
/// leaving the block writes every open fragment and closes every file.
///
/// With `upload="s3://bucket/prefix"` each closed segment is shipped to S3-compatible
/// storage (create-only PUT with its SHA-256, crash-safe journal); endpoint, region and keys
/// come from the AWS_* environment variables, overridden by `storage={"endpoint": ...,
/// "region": ..., "access_key_id": ..., "secret_access_key": ..., "allow_http": True}`.
/// `local_retain_hours` deletes a local copy that long after its recording ended, once the
/// store confirmed it. Closing waits up to 10 s for the backlog; the rest ships at the next
/// start.
#[pyclass(frozen, name = "Recorder", module = "camwire._camwire")]
pub struct PyRecorder {
    recorder: Mutex<Option<Arc<Recorder>>>,
    segment: SegmentOptions,
    root: PathBuf,
}

impl PyRecorder {
    fn get(&self) -> PyResult<Arc<Recorder>> {
        self.recorder
            .lock()
            .map_err(|_| errors::error(Family::Other, "recorder state poisoned"))?
            .clone()
            .ok_or_else(|| errors::error(Family::Other, "the recorder is closed"))
    }
}

/// Stops every camera and waits until their files are closed.
async fn shutdown(mut rec: Arc<Recorder>) -> Vec<CameraStatus> {
    // A call still in flight (remove_camera) holds a clone for a moment.
    loop {
        match Arc::try_unwrap(rec) {
            Ok(r) => return r.shutdown().await,
            Err(again) => {
                rec = again;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[pymethods]
impl PyRecorder {
    #[new]
    #[pyo3(signature = (root, segment_secs=60, fragment_ms=1000, fsync="fragment", retain_days=None, retain_gb=None, *, reconnect=true, upload=None, storage=None, local_retain_hours=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        root: PathBuf,
        segment_secs: u32,
        fragment_ms: u32,
        fsync: &str,
        retain_days: Option<f64>,
        retain_gb: Option<f64>,
        reconnect: bool,
        upload: Option<String>,
        storage: Option<&Bound<'_, PyDict>>,
        local_retain_hours: Option<f64>,
    ) -> PyResult<Self> {
        if segment_secs == 0 || fragment_ms == 0 {
            return Err(errors::invalid_input(
                "segment_secs and fragment_ms must be positive",
            ));
        }
        let fsync: FsyncPolicy = fsync.parse().map_err(errors::invalid_input)?;
        let mut opts = RecorderOptions::new(root.clone());
        opts.reconnect = reconnect;
        if let Some(d) = retain_days {
            opts.retention.total.max_age = Some(
                Duration::try_from_secs_f64(d * DAY_SECS)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| errors::invalid_input("retain_days must be positive"))?,
            );
        }
        if let Some(g) = retain_gb {
            if !(g.is_finite() && g > 0.0) {
                return Err(errors::invalid_input("retain_gb must be positive"));
            }
            opts.retention.total.max_bytes = Some((g * GB) as u64);
        }
        match upload {
            Some(url) => {
                let mut u = UploadOptions::new(crate::storage::s3_settings(&url, storage)?);
                if let Some(h) = local_retain_hours {
                    u.local_retain =
                        Some(Duration::try_from_secs_f64(h * 3600.0).map_err(|_| {
                            errors::invalid_input("local_retain_hours must be from 0")
                        })?);
                }
                opts.upload = Some(u);
            }
            None if storage.is_some() || local_retain_hours.is_some() => {
                return Err(errors::invalid_input(
                    "storage and local_retain_hours go with upload=\"s3://bucket/prefix\"",
                ));
            }
            None => {}
        }
        let rec = {
            let _rt = runtime().enter();
            Recorder::start(opts).map_err(from_record)?
        };
        Ok(PyRecorder {
            recorder: Mutex::new(Some(Arc::new(rec))),
            segment: SegmentOptions {
                segment_secs,
                fragment_ms,
                fsync,
                ..SegmentOptions::default()
            },
            root,
        })
    }

    /// The recording root.
    #[getter]
    fn root(&self) -> PathBuf {
        self.root.clone()
    }

    /// Starts recording a camera under `<root>/<id>/`. Returns at once; connection trouble
    /// shows in `status()` and `events()` (the recorder keeps retrying).
    #[pyo3(signature = (id, url, user=None, password=None, *, transport="tcp", timeout=10.0))]
    #[allow(clippy::too_many_arguments)]
    fn add_camera(
        &self,
        id: String,
        url: String,
        user: Option<String>,
        password: Option<String>,
        transport: &str,
        timeout: f64,
    ) -> PyResult<()> {
        let cfg = CameraConfig {
            id,
            url,
            source: crate::stream::source_options(user, password, transport, timeout)?,
            segment: self.segment.clone(),
            depacketizer: Default::default(),
            backfill: None,
        };
        let rec = self.get()?;
        let _rt = runtime().enter();
        rec.add_camera(cfg).map_err(from_record)
    }

    /// Stops a camera (its open fragment written, its file closed) and returns its final
    /// status, or `None` for an unknown id.
    fn remove_camera<'py>(
        &self,
        py: Python<'py>,
        id: String,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let rec = self.get()?;
        let status = wait(py, async move { rec.remove_camera(&id).await })?;
        status.map(|s| status_dict(py, &s)).transpose()
    }

    /// Ids of the cameras being recorded.
    fn cameras(&self) -> PyResult<Vec<String>> {
        Ok(self.get()?.camera_ids())
    }

    /// `{camera_id: {...}}`: state (`connecting`, `recording`, `backoff`,
    /// `paused_disk_full`, `paused_write_error`, `stopped`), since, frames, bytes, files,
    /// bitrate_bps, frame_rate, lost_packets, dropped_frames, reconnects, last_error,
    /// current_file, gaps (list of `{start, end, reason}`).
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let all = self.get()?.status();
        let d = PyDict::new(py);
        for s in &all {
            d.set_item(&s.id, status_dict(py, s)?)?;
        }
        Ok(d)
    }

    /// The upload backlog and counters, or `None` without `upload=`: `{target,
    /// pending_files, pending_bytes, oldest_pending, cameras: {id: {pending_files,
    /// pending_bytes, oldest_pending, uploaded_files, uploaded_bytes, already_present,
    /// deleted_local, last_error}}}`.
    fn upload_status<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.get()?
            .upload_status()
            .map(|u| upload_dict(py, &u))
            .transpose()
    }

    /// Events from now on: connected, disconnected, gap, segment_closed, error, stopped.
    /// The iterator ends when the recorder is closed; with `timeout`, it also ends after that
    /// many seconds without an event.
    #[pyo3(signature = (timeout=None))]
    fn events(&self, timeout: Option<f64>) -> PyResult<RecorderEvents> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        Ok(RecorderEvents {
            rx: Arc::new(tokio::sync::Mutex::new(self.get()?.events())),
            timeout,
        })
    }

    /// Stops every camera, writing open fragments and closing files, and returns their final
    /// status. Idempotent (a second call returns `{}`).
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rec = self
            .recorder
            .lock()
            .map_err(|_| errors::error(Family::Other, "recorder state poisoned"))?
            .take();
        let d = PyDict::new(py);
        if let Some(rec) = rec {
            for s in wait(py, shutdown(rec))? {
                d.set_item(&s.id, status_dict(py, &s)?)?;
            }
        }
        Ok(d)
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("<camwire.Recorder {}>", self.root.display())
    }
}

impl Drop for PyRecorder {
    fn drop(&mut self) {
        // Not closed: still finish the files rather than leave them to crash recovery.
        let rec = self.recorder.get_mut().ok().and_then(|r| r.take());
        if let Some(rec) = rec {
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime().spawn(shutdown(rec));
            } else {
                runtime().block_on(shutdown(rec));
            }
        }
    }
}

/// Iterator over recorder events; see `Recorder.events`.
#[pyclass(frozen, module = "camwire._camwire")]
pub struct RecorderEvents {
    rx: Arc<tokio::sync::Mutex<broadcast::Receiver<RecorderEvent>>>,
    timeout: Option<Duration>,
}

#[pymethods]
impl RecorderEvents {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyRecorderEvent>> {
        let rx = self.rx.clone();
        let timeout = self.timeout;
        let ev = wait(py, async move {
            let mut rx = rx.lock().await;
            loop {
                let r = match timeout {
                    Some(t) => match tokio::time::timeout(t, rx.recv()).await {
                        Ok(r) => r,
                        Err(_) => return None,
                    },
                    None => rx.recv().await,
                };
                match r {
                    Ok(ev) => return Some(ev),
                    // A slow reader lost the oldest events; go on with the newest.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })?;
        ev.map(|e| PyRecorderEvent::new(py, e)).transpose()
    }
}

/// Something that happened to a recorded camera. `kind` is one of `connected`,
/// `disconnected` (`reason`), `gap` (`start`, `end`, `reason`), `segment_closed` (`path`,
/// `start`, `end`, `frames`, `bytes`), `error` (`message`), `stopped`; the other attributes
/// are `None`.
#[pyclass(frozen, get_all, name = "RecorderEvent", module = "camwire._camwire")]
pub struct PyRecorderEvent {
    camera: String,
    kind: &'static str,
    reason: Option<String>,
    message: Option<String>,
    path: Option<PathBuf>,
    start: Option<Py<PyAny>>,
    end: Option<Py<PyAny>>,
    frames: Option<u64>,
    bytes: Option<u64>,
}

impl PyRecorderEvent {
    fn new(py: Python<'_>, e: RecorderEvent) -> PyResult<Self> {
        let mut ev = PyRecorderEvent {
            camera: e.camera,
            kind: "",
            reason: None,
            message: None,
            path: None,
            start: None,
            end: None,
            frames: None,
            bytes: None,
        };
        let t = |t| crate::time::system_time(py, t).map(Bound::unbind);
        match e.kind {
            RecorderEventKind::Connected => ev.kind = "connected",
            RecorderEventKind::Disconnected { reason } => {
                ev.kind = "disconnected";
                ev.reason = Some(reason);
            }
            RecorderEventKind::Gap(g) => {
                ev.kind = "gap";
                ev.start = Some(t(g.start)?);
                ev.end = Some(t(g.end)?);
                ev.reason = Some(g.reason);
            }
            RecorderEventKind::SegmentClosed {
                path,
                start,
                end,
                frames,
                bytes,
            } => {
                ev.kind = "segment_closed";
                ev.path = Some(path);
                ev.start = Some(t(start)?);
                ev.end = Some(t(end)?);
                ev.frames = Some(frames);
                ev.bytes = Some(bytes);
            }
            RecorderEventKind::Error { message } => {
                ev.kind = "error";
                ev.message = Some(message);
            }
            RecorderEventKind::Stopped => ev.kind = "stopped",
            #[allow(unreachable_patterns)]
            _ => ev.kind = "other",
        }
        Ok(ev)
    }
}

const RECORDER_EVENT_FIELDS: Fields = Fields::all(&[
    "camera", "kind", "reason", "message", "path", "start", "end", "frames", "bytes",
]);

#[pymethods]
impl PyRecorderEvent {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &RECORDER_EVENT_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &RECORDER_EVENT_FIELDS)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        records::hash(slf.as_any(), &RECORDER_EVENT_FIELDS)
    }
}

//! `camwire.Stream`: live frames from a camera, iterated or async-iterated.
//!
//! Each frame is assembled once, without the GIL, from the core's receive-buffer slices into
//! one Rust `Vec` in AVC or Annex B form; the receive buffers go back to the depacketizer at
//! once (`LiveStream::recycle`). Python sees that `Vec` through the buffer protocol
//! ([`FrameBuffer`]): `frame.data` is a read-only `memoryview` of it, no second copy.
//!
//! Tracks: `Stream(url)` plays video only (`audio="no"`, the default), so code written when
//! every frame was a picture keeps working on cameras with a microphone; `audio="first"` or
//! `"all"` also yields audio frames (`frame.kind == "audio"`, track 1, 2, ...). `info.tracks`
//! lists every track of the camera's SDP, set up or skipped.

use crate::errors::{self, Family};
use crate::records::{self, Fields};
use crate::runtime::{drop_in_runtime, runtime, seconds, wait};
use camwire::Credentials;
use camwire::onvif::error::redact_url;
use camwire::rtsp::{AudioChoice, SourceOptions, TrackKind, Transport};
use camwire::stream::{Codec, LiveStream, StreamError, StreamInfo, TrackDescription};
use pyo3::exceptions::{PyBufferError, PyStopAsyncIteration};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyMemoryView};
use std::os::raw::c_int;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Stream>()?;
    m.add_class::<Frame>()?;
    m.add_class::<FrameBuffer>()?;
    m.add_class::<PyStreamInfo>()?;
    m.add_class::<StreamTrack>()?;
    Ok(())
}

/// Payload layout handed to Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// 4-byte big-endian length before each NAL unit (MP4 samples; decoders take `info.avcc`).
    Avc,
    /// `00 00 00 01` before each NAL unit (raw `.h264` files, most decoders without extradata).
    AnnexB,
}

impl Format {
    fn parse(s: &str) -> PyResult<Format> {
        match s.to_ascii_lowercase().as_str() {
            "avc" | "avcc" => Ok(Format::Avc),
            "annexb" | "annex-b" | "annex_b" => Ok(Format::AnnexB),
            o => Err(errors::invalid_input(format!(
                "unknown frame format {o:?} (\"avc\" or \"annexb\")"
            ))),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Format::Avc => "avc",
            Format::AnnexB => "annexb",
        }
    }
}

/// The core stream (which keeps the picture read ahead while waiting for the stream
/// description and hands it out first, see `LiveStream::wait_info`).
struct State {
    live: Option<LiveStream>,
    ended: bool,
}

impl Drop for State {
    fn drop(&mut self) {
        // The RTSP session sends TEARDOWN from a task it spawns when dropped.
        drop_in_runtime(self.live.take());
    }
}

struct Inner {
    state: tokio::sync::Mutex<State>,
    info: Mutex<Option<StreamInfo>>,
    format: Format,
}

/// A frame's payload and times, made without the GIL.
struct RawFrame {
    track: usize,
    kind: TrackKind,
    codec: Codec,
    clock_rate: u32,
    samples: u32,
    data: Vec<u8>,
    pts: i64,
    dts: i64,
    wallclock: SystemTime,
    keyframe: bool,
    loss: u32,
}

enum NextError {
    Closed,
    Stream(StreamError),
}

impl NextError {
    fn into_pyerr(self) -> PyErr {
        match self {
            NextError::Closed => errors::error(Family::Other, "the stream is closed"),
            NextError::Stream(e) => errors::from_stream(e),
        }
    }
}

async fn next_raw(inner: Arc<Inner>) -> Result<Option<RawFrame>, NextError> {
    let mut st = inner.state.lock().await;
    if st.ended {
        return Ok(None);
    }
    let live = st.live.as_mut().ok_or(NextError::Closed)?;
    let frame = match live.next_frame().await {
        Ok(Some(f)) => f,
        Ok(None) => {
            st.ended = true;
            return Ok(None);
        }
        Err(e) => return Err(NextError::Stream(e)),
    };
    let mut data = Vec::new();
    match inner.format {
        Format::Avc => frame.write_avc(&mut data),
        Format::AnnexB => frame.write_annexb(&mut data),
    }
    let raw = RawFrame {
        track: frame.track,
        kind: frame.kind,
        codec: frame.codec,
        clock_rate: frame.clock_rate,
        samples: frame.samples(),
        data,
        pts: frame.pts,
        dts: frame.dts,
        wallclock: frame.wallclock,
        keyframe: frame.keyframe,
        loss: frame.loss,
    };
    let new_parameters = frame.access_unit.new_parameters.is_some();
    if let Some(live) = st.live.as_mut() {
        live.recycle(frame);
        if new_parameters && let Ok(mut info) = inner.info.lock() {
            *info = live.info().cloned();
        }
    }
    Ok(Some(raw))
}

fn make_frame(py: Python<'_>, raw: RawFrame, format: Format) -> PyResult<Frame> {
    Ok(Frame {
        track: raw.track,
        kind: kind_name(raw.kind),
        codec: codec_name(raw.codec),
        clock_rate: raw.clock_rate,
        samples: raw.samples,
        pts: raw.pts,
        dts: raw.dts,
        keyframe: raw.keyframe,
        loss: raw.loss,
        wall: raw.wallclock,
        format,
        size: raw.data.len(),
        buffer: Py::new(py, FrameBuffer { data: raw.data })?,
        view: PyOnceLock::new(),
    })
}

fn kind_name(k: TrackKind) -> &'static str {
    match k {
        TrackKind::Video => "video",
        TrackKind::Audio => "audio",
    }
}

fn codec_name(c: Codec) -> &'static str {
    match c {
        Codec::H264 => "h264",
        Codec::H265 => "h265",
        Codec::Aac => "aac",
        Codec::Pcmu => "pcmu",
        Codec::Pcma => "pcma",
    }
}

pub(crate) fn credentials(
    user: Option<String>,
    password: Option<String>,
) -> PyResult<Option<Credentials>> {
    match (user, password) {
        (Some(u), p) => Ok(Some(Credentials::new(u, p.unwrap_or_default()))),
        (None, Some(_)) => Err(errors::invalid_input("a password was given without a user")),
        (None, None) => Ok(None),
    }
}

/// Live H.264 or H.265 frames from an RTSP camera, and its audio frames when asked
/// (`audio="first"` or `"all"`; the default `"no"` yields pictures only).
///
/// Opening connects, plays and waits (at most `timeout`) until the stream description (SPS/PPS)
/// is known, so `info` is always set. Iterate with `for frame in stream` or
/// `async for frame in stream`; the iteration ends when the camera ends the stream. Closing
/// (or leaving the `with` block, or dropping the object) tears the RTSP session down.
#[pyclass(frozen, module = "camwire._camwire")]
pub struct Stream {
    inner: Arc<Inner>,
    url: String,
}

#[pymethods]
impl Stream {
    #[new]
    // The Python signature: keyword arguments with defaults, as `Stream(...)` documents.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (url, user=None, password=None, transport="tcp", timeout=10.0, format="avc", audio="no"))]
    fn new(
        py: Python<'_>,
        url: String,
        user: Option<String>,
        password: Option<String>,
        transport: &str,
        timeout: f64,
        format: &str,
        audio: &str,
    ) -> PyResult<Self> {
        let o = Opening::new(url, user, password, transport, timeout, format, audio)?;
        let (format, shown) = (o.format, redact_url(&o.url));
        let live = wait(py, o.open())?.map_err(errors::from_stream)?;
        Ok(Stream::opened(live, format, shown))
    }

    /// `stream = await camwire.Stream.connect(url, ...)`: the same as the constructor, but the
    /// connection is made on camwire's runtime, so the event loop goes on meanwhile
    /// (cancelling the await abandons the attempt).
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (url, user=None, password=None, transport="tcp", timeout=10.0, format="avc", audio="no"))]
    fn connect<'py>(
        py: Python<'py>,
        url: String,
        user: Option<String>,
        password: Option<String>,
        transport: &str,
        timeout: f64,
        format: &str,
        audio: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let o = Opening::new(url, user, password, transport, timeout, format, audio)?;
        let (format, shown) = (o.format, redact_url(&o.url));
        spawn_for_asyncio(py, async move {
            let r = o.open().await;
            Python::attach(|py| match r {
                Ok(live) => Ok(Py::new(py, Stream::opened(live, format, shown))?.into_any()),
                Err(e) => Err(errors::from_stream(e)),
            })
        })
    }

    /// `async with`: the stream is already open; entering hands it back.
    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let fut = py
            .import("asyncio")?
            .call_method0("get_running_loop")?
            .call_method0("create_future")?;
        fut.call_method1("set_result", (slf,))?;
        Ok(fut)
    }

    /// Leaving `async with` tears the session down on the runtime, without blocking the loop.
    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _args: &Bound<'py, pyo3::types::PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        spawn_for_asyncio(py, async move {
            let taken = {
                let mut st = inner.state.lock().await;
                st.live.take()
            };
            drop(taken);
            Python::attach(|py| Ok(false.into_pyobject(py)?.to_owned().into_any().unbind()))
        })
    }

    /// The stream description (codec, size, frame rate, avcC), updated when the camera
    /// changes its SPS/PPS.
    #[getter]
    fn info(&self, py: Python<'_>) -> PyResult<PyStreamInfo> {
        let info = self
            .inner
            .info
            .lock()
            .map_err(|_| errors::error(Family::Other, "stream state poisoned"))?
            .clone();
        let info = info.ok_or_else(|| errors::error(Family::Protocol, "no stream description"))?;
        PyStreamInfo::new(py, info)
    }

    /// The camera URL (credentials removed).
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// `"avc"` or `"annexb"`: the layout of `frame.data`.
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.format.name()
    }

    /// Depacketizer counters: packets, lost_packets, late_packets, access_units,
    /// dropped_access_units.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = self.inner.clone();
        let s = wait(py, async move {
            let st = inner.state.lock().await;
            st.live.as_ref().map(|l| l.stats().clone())
        })?
        .ok_or_else(|| NextError::Closed.into_pyerr())?;
        let d = PyDict::new(py);
        d.set_item("packets", s.packets)?;
        d.set_item("lost_packets", s.lost_packets)?;
        d.set_item("late_packets", s.late_packets)?;
        d.set_item("sequence_resyncs", s.sequence_resyncs)?;
        d.set_item("access_units", s.access_units)?;
        d.set_item("dropped_access_units", s.dropped_access_units)?;
        Ok(d)
    }

    /// The next frame, waiting at most the idle timeout; `None` once the stream ended.
    fn read(&self, py: Python<'_>) -> PyResult<Option<Frame>> {
        let inner = self.inner.clone();
        match wait(py, next_raw(inner))? {
            Ok(Some(raw)) => Ok(Some(make_frame(py, raw, self.inner.format)?)),
            Ok(None) => Ok(None),
            Err(e) => Err(e.into_pyerr()),
        }
    }

    /// Benchmark helper: reads up to `n` frames entirely in Rust (assembled as for `read`,
    /// but no Python object made) and returns how many were read.
    fn _drain(&self, py: Python<'_>, n: usize) -> PyResult<usize> {
        let inner = self.inner.clone();
        wait(py, async move {
            let mut read = 0;
            while read < n {
                match next_raw(inner.clone()).await? {
                    Some(_) => read += 1,
                    None => break,
                }
            }
            Ok(read)
        })?
        .map_err(NextError::into_pyerr)
    }

    /// Tears the RTSP session down. Idempotent; iterating afterwards raises `CamwireError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        let taken = wait(py, async move {
            let mut st = inner.state.lock().await;
            st.live.take()
        })?;
        drop_in_runtime(taken);
        Ok(())
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        match self.inner.state.try_lock() {
            Ok(st) => st.live.is_none(),
            Err(_) => false,
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Frame>> {
        self.read(py)
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// An asyncio future resolved from the runtime thread; cancelling it cancels the read.
    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        let format = self.inner.format;
        spawn_for_asyncio(py, async move {
            let r = next_raw(inner).await;
            Python::attach(|py| match r {
                Ok(Some(raw)) => Ok(Py::new(py, make_frame(py, raw, format)?)?.into_any()),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(e) => Err(e.into_pyerr()),
            })
        })
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<camwire.Stream {} format={}>",
            self.url,
            self.inner.format.name()
        )
    }
}

/// RTSP options from the keywords `Stream` and `Recorder.add_camera` share: one `timeout`
/// for connecting, each request and each idle read.
pub(crate) fn source_options(
    user: Option<String>,
    password: Option<String>,
    transport: &str,
    timeout: f64,
) -> PyResult<SourceOptions> {
    let t = seconds("timeout", timeout)?;
    Ok(SourceOptions {
        credentials: credentials(user, password)?,
        transport: transport
            .parse::<Transport>()
            .map_err(errors::invalid_input)?,
        connect_timeout: t,
        request_timeout: t,
        idle_timeout: t,
        ..SourceOptions::default()
    })
}

/// The arguments of `Stream(...)` / `Stream.connect(...)`, checked, ready to open.
struct Opening {
    url: String,
    opts: SourceOptions,
    timeout: std::time::Duration,
    format: Format,
    /// `audio="no"`: video only (`LiveStream::open`), else the tracks `opts.audio` chooses.
    audio: bool,
}

impl Opening {
    fn new(
        url: String,
        user: Option<String>,
        password: Option<String>,
        transport: &str,
        timeout: f64,
        format: &str,
        audio: &str,
    ) -> PyResult<Opening> {
        let format = Format::parse(format)?;
        let mut opts = source_options(user, password, transport, timeout)?;
        opts.audio = audio
            .parse::<AudioChoice>()
            .map_err(errors::invalid_input)?;
        Ok(Opening {
            url,
            timeout: opts.idle_timeout,
            audio: opts.audio != AudioChoice::No,
            opts,
            format,
        })
    }

    /// Connects and waits for the stream description (see `LiveStream::wait_info`).
    async fn open(self) -> Result<LiveStream, StreamError> {
        let mut live = if self.audio {
            LiveStream::open_with_audio(&self.url, self.opts).await?
        } else {
            LiveStream::open(&self.url, self.opts).await?
        };
        live.wait_info(self.timeout).await?;
        Ok(live)
    }
}

impl Stream {
    fn opened(live: LiveStream, format: Format, url: String) -> Stream {
        let info = live.info().cloned();
        Stream {
            inner: Arc::new(Inner {
                state: tokio::sync::Mutex::new(State {
                    live: Some(live),
                    ended: false,
                }),
                info: Mutex::new(info),
                format,
            }),
            url,
        }
    }
}

/// Runs `work` on camwire's runtime and returns an asyncio future (of the running loop) that
/// it resolves; cancelling the future aborts the work.
pub(crate) fn spawn_for_asyncio<'py, F>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    F: std::future::Future<Output = PyResult<Py<PyAny>>> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let fut = event_loop.call_method0("create_future")?;
    let fut_ref = fut.clone().unbind();
    let loop_ref = event_loop.unbind();
    let task = runtime().spawn(async move {
        let outcome = work.await;
        Python::attach(|py| resolve(py, &loop_ref, fut_ref, outcome));
    });
    fut.call_method1(
        "add_done_callback",
        (Canceller {
            abort: task.abort_handle(),
        },),
    )?;
    Ok(fut)
}

/// Hands `outcome` to the asyncio future on its loop's thread (a no-op if the loop closed).
pub(crate) fn resolve(
    py: Python<'_>,
    event_loop: &Py<PyAny>,
    fut: Py<PyAny>,
    outcome: PyResult<Py<PyAny>>,
) {
    let resolver = Resolver {
        fut,
        outcome: Mutex::new(Some(outcome)),
    };
    let sent = Py::new(py, resolver)
        .and_then(|r| event_loop.call_method1(py, "call_soon_threadsafe", (r,)));
    if let Err(e) = sent {
        log_unraisable(py, e);
    }
}

fn log_unraisable(py: Python<'_>, e: PyErr) {
    // A closed loop is the normal case (the program ended its loop while a read was out).
    if !e.is_instance_of::<pyo3::exceptions::PyRuntimeError>(py) {
        e.write_unraisable(py, None);
    }
}

/// Called on the event loop: completes the future unless it was cancelled meanwhile.
#[pyclass(frozen, module = "camwire._camwire")]
struct Resolver {
    fut: Py<PyAny>,
    outcome: Mutex<Option<PyResult<Py<PyAny>>>>,
}

#[pymethods]
impl Resolver {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let fut = self.fut.bind(py);
        let outcome = self.outcome.lock().ok().and_then(|mut o| o.take());
        if fut.call_method0("done")?.is_truthy()? {
            return Ok(());
        }
        match outcome {
            Some(Ok(v)) => fut.call_method1("set_result", (v,))?,
            Some(Err(e)) => fut.call_method1("set_exception", (e.into_value(py),))?,
            None => return Ok(()),
        };
        Ok(())
    }
}

/// Done-callback of the asyncio future: a cancelled future aborts the runtime task.
#[pyclass(frozen, module = "camwire._camwire")]
pub(crate) struct Canceller {
    pub(crate) abort: tokio::task::AbortHandle,
}

#[pymethods]
impl Canceller {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut.call_method0("cancelled")?.is_truthy()? {
            self.abort.abort();
        }
        Ok(())
    }
}

/// One picture or audio frame. `data` is a read-only `memoryview` over the Rust buffer the
/// frame was assembled in (a picture in AVC or Annex B form, see `Stream(format=...)`; an
/// audio frame's bytes as the camera sent them: one raw AAC access unit, or G.711 samples);
/// it stays valid as long as any reference to it or to the frame lives.
#[pyclass(frozen, module = "camwire._camwire")]
pub struct Frame {
    /// The session's track number: 0 for video, 1.. for audio (`StreamTrack.track`).
    #[pyo3(get)]
    track: usize,
    /// `"video"` or `"audio"`.
    #[pyo3(get)]
    kind: &'static str,
    /// `"h264"`, `"h265"`, `"aac"`, `"pcmu"` or `"pcma"`.
    #[pyo3(get)]
    codec: &'static str,
    /// Ticks per second of `pts` and `dts` (90000 for video, usually the sample rate for
    /// audio).
    #[pyo3(get)]
    clock_rate: u32,
    /// Samples per channel of an audio frame (its duration in `clock_rate` ticks); 0 for
    /// video.
    #[pyo3(get)]
    samples: u32,
    /// Presentation time in `clock_rate` ticks (RTP timestamp extended to 64 bits).
    #[pyo3(get)]
    pts: i64,
    /// Decode time (equal to `pts`: live pictures arrive in decoding order).
    #[pyo3(get)]
    dts: i64,
    /// A random access point (IDR/IRAP picture); always true for audio.
    #[pyo3(get)]
    keyframe: bool,
    /// RTP packets of this track lost just before this frame.
    #[pyo3(get)]
    loss: u32,
    /// Payload size in bytes.
    #[pyo3(get)]
    size: usize,
    wall: SystemTime,
    format: Format,
    buffer: Py<FrameBuffer>,
    view: PyOnceLock<Py<PyMemoryView>>,
}

#[pymethods]
impl Frame {
    /// The payload as a read-only memoryview over the Rust buffer (the same object on every
    /// access).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyMemoryView>> {
        let v = self.view.get_or_try_init(py, || {
            Ok::<_, PyErr>(PyMemoryView::from(self.buffer.bind(py).as_any())?.unbind())
        })?;
        Ok(v.bind(py).clone())
    }

    /// Wall-clock time of the picture (timezone-aware UTC `datetime`): the camera's clock
    /// from RTCP sender reports when it sends them, else this machine's arrival time.
    #[getter]
    fn wallclock<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::time::system_time(py, self.wall)
    }

    /// The wall-clock time as seconds since the Unix epoch.
    #[getter]
    fn timestamp(&self) -> f64 {
        match self.wall.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        }
    }

    /// `"avc"` or `"annexb"`.
    #[getter]
    fn format(&self) -> &'static str {
        self.format.name()
    }

    fn __len__(&self) -> usize {
        self.size
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.buffer.get().data)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &FRAME_FIELDS)
    }

    /// Same times, flags, format and payload bytes.
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &FRAME_FIELDS)
    }
}

const FRAME_FIELDS: Fields = Fields {
    eq: &[
        "track",
        "kind",
        "codec",
        "clock_rate",
        "samples",
        "pts",
        "dts",
        "keyframe",
        "loss",
        "size",
        "wallclock",
        "format",
        "data",
    ],
    // The payload is shown by its size.
    repr: &[
        "track",
        "kind",
        "codec",
        "pts",
        "dts",
        "keyframe",
        "loss",
        "size",
        "wallclock",
        "format",
    ],
};

/// The Rust-owned bytes behind `Frame.data` (buffer protocol, read-only).
#[pyclass(frozen, module = "camwire._camwire")]
pub struct FrameBuffer {
    data: Vec<u8>,
}

#[pymethods]
impl FrameBuffer {
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("no Py_buffer to fill"));
        }
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err("frame data is read-only"));
        }
        let data = &slf.get().data;
        let len = ffi::Py_ssize_t::try_from(data.len())
            .map_err(|_| PyBufferError::new_err("frame too large"))?;
        // SAFETY: `view` is the caller's Py_buffer; the pointer stays valid while `slf` lives,
        // and PyBuffer_FillInfo takes a strong reference to `slf` into `view.obj`. The data is
        // never mutated (frozen class, read-only export).
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                data.as_ptr() as *mut std::ffi::c_void,
                len,
                1,
                flags,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(PyErr::fetch(slf.py()))
        }
    }

    fn __len__(&self) -> usize {
        self.data.len()
    }
}

/// What a camera's video stream is, read from its SPS/PPS.
#[pyclass(frozen, name = "StreamInfo", module = "camwire._camwire")]
pub struct PyStreamInfo {
    /// RFC 6381 codec string, e.g. `avc1.4d401e` or `hvc1.1.6.L93.B0`.
    #[pyo3(get)]
    codec: String,
    /// Profile name (`Baseline`, `Main`, `High`, ...).
    #[pyo3(get)]
    profile: String,
    #[pyo3(get)]
    profile_idc: u8,
    #[pyo3(get)]
    level_idc: u8,
    #[pyo3(get)]
    width: u32,
    #[pyo3(get)]
    height: u32,
    /// Frames per second from the SPS timing or the SDP, if either says.
    #[pyo3(get)]
    fps: Option<f64>,
    /// `"tcp"` or `"udp"`.
    #[pyo3(get)]
    transport: String,
    /// True when SPS/PPS came from the SDP, false when from the stream.
    #[pyo3(get)]
    from_sdp: bool,
    avcc: Vec<u8>,
    tracks: Vec<Py<StreamTrack>>,
}

impl PyStreamInfo {
    fn new(py: Python<'_>, i: StreamInfo) -> PyResult<Self> {
        let tracks = i
            .tracks
            .iter()
            .map(|t| Py::new(py, StreamTrack::from(t)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyStreamInfo {
            codec: i.codec,
            profile: i.profile,
            profile_idc: i.profile_idc,
            level_idc: i.level_idc,
            width: i.width,
            height: i.height,
            fps: i.fps,
            transport: i.transport.to_string(),
            from_sdp: i.from_sdp,
            avcc: i.avcc,
            tracks,
        })
    }
}

#[pymethods]
impl PyStreamInfo {
    /// The decoder configuration record (decoder extradata for `format="avc"` frames): avcC
    /// for H.264, hvcC for H.265 (`codec` starting with `hvc1`).
    #[getter]
    fn avcc<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.avcc)
    }

    /// Every track of the camera's SDP, in SDP order: set up (video track 0, audio 1, ...)
    /// with its decoder configuration, or skipped with the reason.
    #[getter]
    fn tracks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        pyo3::types::PyTuple::new(py, self.tracks.iter().map(|t| t.clone_ref(py)))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &STREAM_INFO_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &STREAM_INFO_FIELDS)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        records::hash(slf.as_any(), &STREAM_INFO_FIELDS)
    }
}

const STREAM_INFO_FIELDS: Fields = Fields {
    eq: &[
        "codec",
        "profile",
        "profile_idc",
        "level_idc",
        "width",
        "height",
        "fps",
        "transport",
        "from_sdp",
        "avcc",
        "tracks",
    ],
    // The tracks repeat the video's codec and avcC: `repr` leaves them out, as
    // `dataclasses.field(repr=False)` does.
    repr: &[
        "codec",
        "profile",
        "profile_idc",
        "level_idc",
        "width",
        "height",
        "fps",
        "transport",
        "from_sdp",
        "avcc",
    ],
};

/// One track of a camera's SDP as a stream sees it (`StreamInfo.tracks`).
#[pyclass(frozen, module = "camwire._camwire")]
pub struct StreamTrack {
    /// The session's track number (0 video, 1.. audio: `Frame.track`), `None` when skipped.
    #[pyo3(get)]
    track: Option<usize>,
    /// `"video"`, `"audio"`, or `None` for other media.
    #[pyo3(get)]
    kind: Option<&'static str>,
    /// The SDP media type (`"video"`, `"audio"`, `"application"`, ...).
    #[pyo3(get)]
    media: String,
    /// The SDP encoding name, upper-cased (`"H264"`, `"MPEG4-GENERIC"`, `"PCMU"`, ...).
    #[pyo3(get)]
    encoding: String,
    /// RFC 6381 codec string (`"avc1.4d401e"`, `"mp4a.40.2"`) or sample entry (`"ulaw"`,
    /// `"alaw"`) for codecs camwire handles, else the SDP encoding name (`"G726-32"`).
    #[pyo3(get)]
    codec: String,
    /// Ticks per second of the track's timestamps.
    #[pyo3(get)]
    clock_rate: u32,
    /// Audio channels, when stated.
    #[pyo3(get)]
    channels: Option<u16>,
    /// Why the track is not set up, `None` when it is.
    #[pyo3(get)]
    skipped: Option<String>,
    config: Vec<u8>,
}

impl From<&TrackDescription> for StreamTrack {
    fn from(t: &TrackDescription) -> Self {
        StreamTrack {
            track: t.track,
            kind: t.kind.map(kind_name),
            media: t.media.clone(),
            encoding: t.encoding.clone(),
            codec: t.codec.clone(),
            clock_rate: t.clock_rate,
            channels: t.channels,
            skipped: t.skipped.clone(),
            config: t.config.clone(),
        }
    }
}

#[pymethods]
impl StreamTrack {
    /// The decoder configuration: avcC or hvcC (video), AudioSpecificConfig (AAC); empty
    /// for G.711 and codecs camwire does not handle.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.config)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &STREAM_TRACK_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &STREAM_TRACK_FIELDS)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        records::hash(slf.as_any(), &STREAM_TRACK_FIELDS)
    }
}

const STREAM_TRACK_FIELDS: Fields = Fields::all(&[
    "track",
    "kind",
    "media",
    "encoding",
    "codec",
    "clock_rate",
    "channels",
    "skipped",
    "config",
]);

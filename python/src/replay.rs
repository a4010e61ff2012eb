//! Footage off the device (ONVIF Profile G): `OnvifDevice.recordings` (Recording Search),
//! `OnvifDevice.fetch` and `camwire.fetch` (replay into one MP4 with a manifest, or back-fill
//! into a recording root), and their asyncio twins. Everything is a core call
//! (`camwire::onvif::search`, `camwire::replay`); this file marshals.

use crate::errors::{self, Family};
use crate::export::{ExportResult, RecordingGap, export_result, from_export};
use crate::records::{self, Fields};
use crate::runtime::wait;
use crate::stream::spawn_for_asyncio;
use crate::time::{system_time, timestamp, to_system_time};
use camwire::Credentials;
use camwire::export::OutputFormat;
use camwire::onvif::search::{
    Covering, RecordingInformation, Span, Track, covering, present_ranges,
};
use camwire::onvif::{self, OnvifDevice};
use camwire::replay::{
    self, BackfillSummary, FetchOptions, FetchProgress, FetchSummary, ReplayError,
};
use camwire::replay::{Vendor, VendorPlayback};
use camwire::rtsp::AudioChoice;
use camwire::rtsp::client::ClientError;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fetch, m)?)?;
    m.add_function(wrap_pyfunction!(fetch_async, m)?)?;
    m.add_class::<RecordingTrack>()?;
    m.add_class::<DeviceRecording>()?;
    m.add_class::<BackfillResult>()?;
    Ok(())
}

// ---- errors ----------------------------------------------------------------------------------

/// Why a recordings listing or a fetch failed, before it becomes a Python exception (made
/// with the GIL, after the work).
pub(crate) enum Fail {
    Onvif(onvif::Error),
    Replay(ReplayError),
    /// No recording, or several, cover the range and none was named.
    Choose(String),
}

fn client_family(e: &ClientError) -> Family {
    match e {
        ClientError::Io { .. } | ClientError::Closed(_) => Family::Connection,
        ClientError::Timeout { .. } => Family::Timeout,
        ClientError::Auth => Family::Auth,
        _ => Family::Protocol,
    }
}

impl Fail {
    pub(crate) fn into_pyerr(self) -> PyErr {
        match self {
            Fail::Onvif(e) => errors::from_onvif(e),
            Fail::Choose(msg) => errors::invalid_input(msg),
            Fail::Replay(ReplayError::Onvif(o)) => errors::from_onvif(o),
            Fail::Replay(ReplayError::Output(x)) => from_export(x),
            Fail::Replay(e) => {
                let family = match &e {
                    ReplayError::Url(_)
                    | ReplayError::BadRange { .. }
                    | ReplayError::NeedDeviceTimeZone(_)
                    | ReplayError::NoRecording { .. } => Family::InvalidInput,
                    ReplayError::NoProfileG { .. }
                    | ReplayError::NoH264(_)
                    | ReplayError::BadParameters(_) => Family::Protocol,
                    ReplayError::ParameterSetsChanged { .. } => Family::Other,
                    ReplayError::Rtsp(c) => client_family(c),
                    _ => Family::Other,
                };
                errors::error(family, e.to_string())
            }
        }
    }
}

impl From<onvif::Error> for Fail {
    fn from(e: onvif::Error) -> Self {
        Fail::Onvif(e)
    }
}

impl From<ReplayError> for Fail {
    fn from(e: ReplayError) -> Self {
        Fail::Replay(e)
    }
}

fn ts(t: SystemTime) -> PyResult<jiff::Timestamp> {
    jiff::Timestamp::try_from(t)
        .map_err(|e| errors::invalid_input(format!("time out of range: {e}")))
}

// ---- recordings ------------------------------------------------------------------------------

/// One track of a device recording.
#[pyclass(frozen, get_all, module = "camwire._camwire")]
pub struct RecordingTrack {
    /// Track token.
    token: String,
    /// `Video`, `Audio`, `Metadata` or `Extended`.
    kind: String,
    description: String,
    /// First data of the track (aware UTC datetime), if the device said.
    data_from: Option<Py<PyAny>>,
    /// Last data of the track.
    data_to: Option<Py<PyAny>>,
}

const TRACK_FIELDS: Fields = Fields::all(&["token", "kind", "description", "data_from", "data_to"]);

#[pymethods]
impl RecordingTrack {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &TRACK_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &TRACK_FIELDS)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        records::hash(slf.as_any(), &TRACK_FIELDS)
    }
}

/// A recording held by a device (ONVIF Recording Search), with, when `recordings` was given
/// a window, the ranges that hold data in it and the gaps between them (FindEvents on
/// `RecordingHistory/Track/State`).
#[pyclass(frozen, get_all, module = "camwire._camwire")]
pub struct DeviceRecording {
    /// Recording token: what `OnvifDevice.fetch(recording=...)` takes.
    token: String,
    source_id: String,
    source_name: String,
    location: String,
    description: String,
    /// Earliest recorded time (aware UTC datetime), if the device said.
    earliest: Option<Py<PyAny>>,
    /// Latest recorded time.
    latest: Option<Py<PyAny>>,
    content: String,
    /// `Initiated`, `Recording`, `Stopped`, `Removing`, `Removed` or `Unknown`.
    status: String,
    /// A time before 2000 or without a UTC offset: the device clock was probably not set.
    suspect_time: bool,
    tracks: Vec<Py<RecordingTrack>>,
    /// With a window: `Range(start, end)` of footage inside it; else `None`.
    ranges: Option<Vec<Py<PyAny>>>,
    /// With a window: the gaps between the ranges; else `None`.
    gaps: Option<Vec<Py<RecordingGap>>>,
}

const RECORDING_FIELDS: Fields = Fields::all(&[
    "token",
    "source_id",
    "source_name",
    "location",
    "description",
    "earliest",
    "latest",
    "content",
    "status",
    "suspect_time",
    "tracks",
    "ranges",
    "gaps",
]);

#[pymethods]
impl DeviceRecording {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &RECORDING_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &RECORDING_FIELDS)
    }
}

fn opt_ts(py: Python<'_>, t: Option<jiff::Timestamp>) -> PyResult<Option<Py<PyAny>>> {
    t.map(|t| timestamp(py, t).map(Bound::unbind)).transpose()
}

fn track(py: Python<'_>, t: Track) -> PyResult<Py<RecordingTrack>> {
    Py::new(
        py,
        RecordingTrack {
            data_from: opt_ts(py, t.data_from)?,
            data_to: opt_ts(py, t.data_to)?,
            token: t.token,
            kind: t.kind,
            description: t.description,
        },
    )
}

fn span_secs((a, b): &Span) -> f64 {
    b.duration_since(*a).as_secs_f64()
}

fn recording(
    py: Python<'_>,
    r: RecordingInformation,
    spans: Option<(Vec<Span>, Vec<Span>)>,
) -> PyResult<Py<DeviceRecording>> {
    let (ranges, gaps) = match spans {
        Some((ranges, gaps)) => {
            let rs = ranges
                .iter()
                .map(|(a, b)| {
                    Ok(records::range(py, timestamp(py, *a)?, timestamp(py, *b)?)?.unbind())
                })
                .collect::<PyResult<Vec<_>>>()?;
            let gs = gaps
                .iter()
                .map(|g| {
                    Py::new(
                        py,
                        RecordingGap::new(
                            timestamp(py, g.0)?.unbind(),
                            timestamp(py, g.1)?.unbind(),
                            span_secs(g),
                            Some("no data on the device".into()),
                        ),
                    )
                })
                .collect::<PyResult<Vec<_>>>()?;
            (Some(rs), Some(gs))
        }
        None => (None, None),
    };
    Py::new(
        py,
        DeviceRecording {
            earliest: opt_ts(py, r.earliest)?,
            latest: opt_ts(py, r.latest)?,
            tracks: r
                .tracks
                .into_iter()
                .map(|t| track(py, t))
                .collect::<PyResult<_>>()?,
            token: r.token,
            source_id: r.source_id,
            source_name: r.source_name,
            location: r.location,
            description: r.description,
            content: r.content,
            status: r.status,
            suspect_time: r.suspect_time,
            ranges,
            gaps,
        },
    )
}

type Listed = Vec<(RecordingInformation, Option<(Vec<Span>, Vec<Span>)>)>;

/// The window of `recordings(start, end)`: both or neither.
pub(crate) fn window(
    start: Option<&Bound<'_, PyAny>>,
    end: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<(jiff::Timestamp, jiff::Timestamp)>> {
    let start = start.filter(|t| !t.is_none());
    let end = end.filter(|t| !t.is_none());
    match (start, end) {
        (None, None) => Ok(None),
        (Some(s), Some(e)) => {
            let (s, e) = (ts(to_system_time(s)?)?, ts(to_system_time(e)?)?);
            if s >= e {
                return Err(errors::invalid_input(format!(
                    "start {s} is not before end {e}"
                )));
            }
            Ok(Some((s, e)))
        }
        _ => Err(errors::invalid_input(
            "give both start and end (the window for ranges and gaps), or neither",
        )),
    }
}

async fn list(
    dev: OnvifDevice,
    window: Option<(jiff::Timestamp, jiff::Timestamp)>,
) -> Result<Listed, Fail> {
    let recs = dev.recordings().await?;
    let mut out = Vec::with_capacity(recs.len());
    for r in recs {
        let spans = match window {
            Some((start, end)) => {
                let events = dev.data_presence(&r.token, start, end).await?;
                Some(present_ranges(&events, start, end))
            }
            None => None,
        };
        out.push((r, spans));
    }
    Ok(out)
}

fn listed(py: Python<'_>, l: Listed) -> PyResult<Vec<Py<DeviceRecording>>> {
    l.into_iter().map(|(r, s)| recording(py, r, s)).collect()
}

/// `OnvifDevice.recordings`.
pub(crate) fn recordings(
    py: Python<'_>,
    dev: &OnvifDevice,
    window: Option<(jiff::Timestamp, jiff::Timestamp)>,
) -> PyResult<Vec<Py<DeviceRecording>>> {
    let dev = dev.clone();
    let l = wait(py, list(dev, window))?.map_err(Fail::into_pyerr)?;
    listed(py, l)
}

/// `OnvifDevice.recordings_async`.
pub(crate) fn recordings_async<'py>(
    py: Python<'py>,
    dev: &OnvifDevice,
    window: Option<(jiff::Timestamp, jiff::Timestamp)>,
) -> PyResult<Bound<'py, PyAny>> {
    let dev = dev.clone();
    spawn_for_asyncio(py, async move {
        let r = list(dev, window).await;
        Python::attach(|py| match r {
            Ok(l) => Ok(listed(py, l)?.into_pyobject(py)?.into_any().unbind()),
            Err(e) => Err(e.into_pyerr()),
        })
    })
}

// ---- fetch -----------------------------------------------------------------------------------

/// What a back-fill (`fetch(..., into=ROOT, camera=ID)`) wrote: ordinary recorder segments
/// of `camera` under `root`, seen by `ranges` and `export`; `gaps.jsonl` notes the span as
/// `backfilled from device`.
#[pyclass(frozen, get_all, module = "camwire._camwire")]
pub struct BackfillResult {
    root: PathBuf,
    camera: String,
    /// The segment files written, in order.
    files: Vec<PathBuf>,
    /// Frames written.
    frames: u64,
    /// Wall clock of the first frame written (aware UTC datetime).
    start: Py<PyAny>,
    /// Wall clock of the last frame written.
    end: Py<PyAny>,
    /// `"no"` (as fast as the device sends) or `"yes"` (real time).
    rate_control: &'static str,
    /// The device's answer when it refused `Rate-Control: no`.
    rate_control_refused: Option<String>,
    /// Why the download stopped.
    ended_by: String,
    /// Download wall time, seconds.
    wall_secs: f64,
}

const BACKFILL_FIELDS: Fields = Fields::all(&[
    "root",
    "camera",
    "files",
    "frames",
    "start",
    "end",
    "rate_control",
    "rate_control_refused",
    "ended_by",
    "wall_secs",
]);

#[pymethods]
impl BackfillResult {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &BACKFILL_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &BACKFILL_FIELDS)
    }
}

/// Where the footage comes from.
pub(crate) enum Source {
    /// An ONVIF device: GetReplayUri of `recording` (or the one recording covering the range).
    Device {
        dev: Box<OnvifDevice>,
        recording: Option<String>,
    },
    /// A replay URI.
    Url(String),
}

/// Where it goes.
enum Target {
    Clip(PathBuf),
    Backfill { root: PathBuf, camera: String },
}

/// One prepared fetch: arguments checked, ready to run without the GIL.
pub(crate) struct Job {
    source: Source,
    target: Target,
    start: SystemTime,
    end: SystemTime,
    opts: FetchOptions,
}

enum Done {
    Clip(Box<FetchSummary>),
    Backfill(BackfillSummary, PathBuf, String),
}

impl Job {
    /// Checks the arguments shared by every fetch entry point.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        source: Source,
        credentials: Option<Credentials>,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        out: Option<PathBuf>,
        into: Option<PathBuf>,
        camera: Option<String>,
        fragmented: bool,
        real_time: bool,
        progress: Option<Py<PyAny>>,
        audio: &str,
    ) -> PyResult<Job> {
        let audio = audio
            .parse::<AudioChoice>()
            .map_err(errors::invalid_input)?;
        let (start, end) = (to_system_time(start)?, to_system_time(end)?);
        if start >= end {
            return Err(errors::invalid_input(format!(
                "start {} is not before end {}",
                ts(start)?,
                ts(end)?
            )));
        }
        let target = match (out, into, camera.clone()) {
            (Some(out), None, _) => Target::Clip(out),
            (None, Some(root), Some(camera)) => {
                if fragmented {
                    return Err(errors::invalid_input(
                        "fragmented applies to out=; a back-fill writes recorder segments",
                    ));
                }
                Target::Backfill { root, camera }
            }
            (None, Some(_), None) => {
                return Err(errors::invalid_input(
                    "into= needs camera= (the camera id to fill)",
                ));
            }
            (Some(_), Some(_), _) => {
                return Err(errors::invalid_input(
                    "give out= (one MP4) or into= (back-fill), not both",
                ));
            }
            (None, None, _) => {
                return Err(errors::invalid_input(
                    "give out= (the MP4 to write) or into= and camera= (back-fill a recording root)",
                ));
            }
        };
        let opts = FetchOptions {
            credentials,
            fast: !real_time,
            camera_id: match target {
                Target::Clip(_) => camera,
                Target::Backfill { .. } => None,
            },
            format: if fragmented {
                OutputFormat::Fragmented
            } else {
                OutputFormat::Progressive
            },
            progress: progress.map(progress_callback),
            audio,
            ..FetchOptions::default()
        };
        Ok(Job {
            source,
            target,
            start,
            end,
            opts,
        })
    }

    /// For `camwire.fetch(..., vendor=...)`: the URL (a device's `rtsp://[user:pass@]host`)
    /// becomes the vendor's playback URL for the window, played as vendor playback.
    fn with_vendor(
        mut self,
        vendor: Option<String>,
        channel: u32,
        device_tz: Option<String>,
    ) -> PyResult<Job> {
        let Some(name) = vendor else {
            if device_tz.is_some() || channel != 1 {
                return Err(errors::invalid_input(
                    "channel and device_tz apply with vendor=",
                ));
            }
            return Ok(self);
        };
        let vendor: Vendor = name
            .parse()
            .map_err(|e: replay::UnknownVendor| errors::invalid_input(e.to_string()))?;
        let device_tz = device_tz
            .map(|z| {
                replay::vendor::parse_time_zone(&z).ok_or_else(|| {
                    errors::invalid_input(format!(
                        "device_tz {z:?}: not a UTC offset (+07:00) or a zone name"
                    ))
                })
            })
            .transpose()?;
        let playback = VendorPlayback {
            vendor,
            channel,
            device_tz,
        };
        let Source::Url(base) = &self.source else {
            return Err(errors::invalid_input("vendor= applies to a device URL"));
        };
        let url = playback
            .url(base, self.start, self.end)
            .map_err(|e| Fail::Replay(e).into_pyerr())?;
        self.source = Source::Url(url);
        self.opts.vendor = Some(vendor);
        Ok(self)
    }

    async fn run(self) -> Result<Done, Fail> {
        let Job {
            source,
            target,
            start,
            end,
            opts,
        } = self;
        match source {
            Source::Url(url) => match target {
                Target::Clip(out) => Ok(Done::Clip(Box::new(
                    replay::fetch(&url, start, end, &out, &opts).await?,
                ))),
                Target::Backfill { root, camera } => {
                    let b = replay::backfill(&url, start, end, &root, &camera, &opts).await?;
                    Ok(Done::Backfill(b, root, camera))
                }
            },
            Source::Device { dev, recording } => {
                let token = match recording {
                    Some(t) => t,
                    None => only_recording(&dev, start, end).await?,
                };
                match target {
                    Target::Clip(out) => Ok(Done::Clip(Box::new(
                        replay::fetch_recording(&dev, &token, start, end, &out, &opts).await?,
                    ))),
                    Target::Backfill { root, camera } => {
                        let uri = dev.replay_uri(&token).await?;
                        let b = replay::backfill(&uri, start, end, &root, &camera, &opts).await?;
                        Ok(Done::Backfill(b, root, camera))
                    }
                }
            }
        }
    }
}

/// `progress(media_done_secs, media_total_secs, wall_secs, frames)`, called from the
/// fetching task with the GIL taken (at most every 200 ms, and once at the end); an exception
/// it raises is reported as unraisable and the download goes on.
fn progress_callback(cb: Py<PyAny>) -> Arc<dyn Fn(FetchProgress) + Send + Sync> {
    Arc::new(move |p: FetchProgress| {
        Python::attach(|py| {
            let args = (p.media_done_secs, p.media_total_secs, p.wall_secs, p.frames);
            if let Err(e) = cb.call1(py, args) {
                e.write_unraisable(py, Some(cb.bind(py)));
            }
        })
    })
}

/// The one recording of `dev` whose span overlaps `[start, end)`.
async fn only_recording(
    dev: &OnvifDevice,
    start: SystemTime,
    end: SystemTime,
) -> Result<String, Fail> {
    let recs = dev.recordings().await?;
    let (Ok(s), Ok(e)) = (
        jiff::Timestamp::try_from(start),
        jiff::Timestamp::try_from(end),
    ) else {
        return Err(Fail::Choose("time out of range".into()));
    };
    match covering(&recs, s, e) {
        Covering::One(token) => Ok(token),
        Covering::NoneOf(listed) => Err(Fail::Choose(format!(
            "no recording on the device covers {s} .. {e} ({listed} recordings; see \
             OnvifDevice.recordings())"
        ))),
        Covering::Several(many) => Err(Fail::Choose(format!(
            "{} recordings cover {s} .. {e}: choose one with recording= ({})",
            many.len(),
            many.join(", ")
        ))),
    }
}

fn done(py: Python<'_>, d: Done) -> PyResult<Py<PyAny>> {
    match d {
        Done::Clip(s) => {
            let r: ExportResult = export_result(py, &s.manifest.export, s.output, s.manifest_path)?;
            Ok(Py::new(py, r)?.into_any())
        }
        Done::Backfill(b, root, camera) => Ok(Py::new(
            py,
            BackfillResult {
                root,
                camera,
                files: b.files.iter().map(|f| f.path.clone()).collect(),
                frames: b.frames,
                start: system_time(py, b.first)?.unbind(),
                end: system_time(py, b.last)?.unbind(),
                rate_control: if b.rate_control { "yes" } else { "no" },
                rate_control_refused: b.rate_control_refused,
                ended_by: b.ended_by,
                wall_secs: b.wall.as_secs_f64(),
            },
        )?
        .into_any()),
    }
}

/// Runs `job` on this thread (GIL released, Ctrl-C honoured).
pub(crate) fn run_blocking(py: Python<'_>, job: Job) -> PyResult<Py<PyAny>> {
    let d = wait(py, job.run())?.map_err(Fail::into_pyerr)?;
    done(py, d)
}

/// Runs `job` on camwire's runtime; an asyncio future of its result.
pub(crate) fn run_async(py: Python<'_>, job: Job) -> PyResult<Bound<'_, PyAny>> {
    spawn_for_asyncio(py, async move {
        let r = job.run().await;
        Python::attach(|py| match r {
            Ok(d) => done(py, d),
            Err(e) => Err(e.into_pyerr()),
        })
    })
}

/// Fetches `[start, end)` of the recording behind the ONVIF replay URI `url` (`rtsp://`;
/// `user`/`password` or credentials in the URL) into `out` (a new MP4, with
/// `out.manifest.json` and its `origin` block), returning an `ExportResult`; or, with
/// `into=ROOT, camera=ID`, writes it as recorder segments under `ROOT` (back-fill),
/// returning a `BackfillResult`. The device is asked for `Rate-Control: no` (as fast as it
/// sends; `real_time=True` asks for real time); a device without Profile G replay raises
/// `ProtocolError` ("device cannot replay"), never live video instead. `progress`, if
/// given, is called as `progress(media_done_secs, media_total_secs, wall_secs, frames)` at
/// most every 200 ms and once at the end.
///
/// For a device without a working Profile G, `vendor="hikvision"|"dahua"|"uniview"` (or an
/// OEM name: hiwatch, kbvision, imou, unv, ...) plays that vendor's own playback URL on the
/// device at `url` (`rtsp://[user:pass@]host[:port]`; its path is replaced) for `channel`;
/// Dahua's URLs carry local time, so `device_tz` (`"+07:00"`, `"Asia/Ho_Chi_Minh"`) is then
/// needed. Frame times come from RTP from the requested start; the manifest says so.
///
/// `audio`: which of the device's audio tracks go into the clip with the video: `"first"`
/// (the default, as in recordings), `"all"` or `"no"`.
#[pyfunction]
#[pyo3(signature = (url, start, end, out=None, *, into=None, camera=None, user=None, password=None, fragmented=false, real_time=false, progress=None, vendor=None, channel=1, device_tz=None, audio="first"))]
#[allow(clippy::too_many_arguments)]
fn fetch(
    py: Python<'_>,
    url: String,
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    out: Option<PathBuf>,
    into: Option<PathBuf>,
    camera: Option<String>,
    user: Option<String>,
    password: Option<String>,
    fragmented: bool,
    real_time: bool,
    progress: Option<Py<PyAny>>,
    vendor: Option<String>,
    channel: u32,
    device_tz: Option<String>,
    audio: &str,
) -> PyResult<Py<PyAny>> {
    let creds = crate::stream::credentials(user, password)?;
    let job = Job::new(
        Source::Url(url),
        creds,
        start,
        end,
        out,
        into,
        camera,
        fragmented,
        real_time,
        progress,
        audio,
    )?
    .with_vendor(vendor, channel, device_tz)?;
    run_blocking(py, job)
}

/// `await camwire.fetch_async(...)`: `fetch` on camwire's runtime, the event loop going on
/// meanwhile (cancelling the await abandons the download).
#[pyfunction]
#[pyo3(signature = (url, start, end, out=None, *, into=None, camera=None, user=None, password=None, fragmented=false, real_time=false, progress=None, vendor=None, channel=1, device_tz=None, audio="first"))]
#[allow(clippy::too_many_arguments)]
fn fetch_async<'py>(
    py: Python<'py>,
    url: String,
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    out: Option<PathBuf>,
    into: Option<PathBuf>,
    camera: Option<String>,
    user: Option<String>,
    password: Option<String>,
    fragmented: bool,
    real_time: bool,
    progress: Option<Py<PyAny>>,
    vendor: Option<String>,
    channel: u32,
    device_tz: Option<String>,
    audio: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let creds = crate::stream::credentials(user, password)?;
    let job = Job::new(
        Source::Url(url),
        creds,
        start,
        end,
        out,
        into,
        camera,
        fragmented,
        real_time,
        progress,
        audio,
    )?
    .with_vendor(vendor, channel, device_tz)?;
    run_async(py, job)
}

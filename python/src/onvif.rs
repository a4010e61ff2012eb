//! ONVIF: `camwire.discover`, `camwire.OnvifDevice` and what they return.

use crate::errors::{self, Family};
use crate::records::{self, Fields};
use crate::replay;
use crate::runtime::{drop_in_runtime, runtime, seconds, wait};
use crate::stream::credentials;
use camwire::onvif::{
    self, ClientOptions, DiscoveryOptions, EventKind, OnvifEvent, Profile, PullPoint,
    PullPointOptions,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::time::Instant;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(discover, m)?)?;
    m.add_class::<DiscoveredDevice>()?;
    m.add_class::<Device>()?;
    m.add_class::<DeviceInfo>()?;
    m.add_class::<PyProfile>()?;
    m.add_class::<Events>()?;
    m.add_class::<Event>()?;
    Ok(())
}

/// A device that answered a WS-Discovery Probe.
#[pyclass(frozen, get_all, module = "camwire._camwire")]
pub struct DiscoveredDevice {
    /// Endpoint reference (`urn:uuid:...`): the device's stable identity.
    endpoint: String,
    /// The XAddr to use (the one on the address the reply came from), if any.
    xaddr: Option<String>,
    /// Every XAddr the device listed.
    xaddrs: Vec<String>,
    /// `onvif://www.onvif.org/name/...` scope, decoded.
    name: Option<String>,
    /// `onvif://www.onvif.org/hardware/...` scope, decoded.
    hardware: Option<String>,
    /// `onvif://www.onvif.org/location/...` scope, decoded.
    location: Option<String>,
    /// Raw scopes.
    scopes: Vec<String>,
    /// Types, e.g. `dn:NetworkVideoTransmitter`.
    types: Vec<String>,
    /// ONVIF profiles the device claims (`Streaming`, `T`, ...).
    profiles: Vec<String>,
    /// `ip:port` the reply came from.
    source: String,
}

const DISCOVERED_FIELDS: Fields = Fields::all(&[
    "endpoint", "xaddr", "xaddrs", "name", "hardware", "location", "scopes", "types", "profiles",
    "source",
]);

#[pymethods]
impl DiscoveredDevice {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &DISCOVERED_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &DISCOVERED_FIELDS)
    }
}

impl From<onvif::DiscoveredDevice> for DiscoveredDevice {
    fn from(d: onvif::DiscoveredDevice) -> Self {
        DiscoveredDevice {
            endpoint: d.endpoint_reference,
            xaddr: d.xaddr,
            xaddrs: d.xaddrs,
            name: d.name,
            hardware: d.hardware,
            location: d.location,
            scopes: d.scopes,
            types: d.types,
            profiles: d.profiles,
            source: d.source.to_string(),
        }
    }
}

/// Finds ONVIF cameras: a WS-Discovery multicast Probe on every (or the named) IPv4
/// interface, replies collected for `timeout` seconds. With `host`, a unicast Probe to that
/// one address instead (`"10.0.0.5"`, `"cam.local:3702"`): for networks without multicast.
#[pyfunction]
#[pyo3(signature = (timeout=3.0, interfaces=None, *, host=None))]
fn discover(
    py: Python<'_>,
    timeout: f64,
    interfaces: Option<Vec<String>>,
    host: Option<String>,
) -> PyResult<Vec<DiscoveredDevice>> {
    let timeout = seconds("timeout", timeout)?;
    let found = match host {
        Some(h) => wait(py, async move { onvif::probe_unicast(&h, timeout).await })?,
        None => {
            let opts = DiscoveryOptions {
                timeout,
                interfaces: interfaces.unwrap_or_default(),
                ..DiscoveryOptions::default()
            };
            wait(py, onvif::discover(opts))?
        }
    }
    .map_err(errors::from_onvif)?;
    Ok(found.into_iter().map(DiscoveredDevice::from).collect())
}

/// What `GetDeviceInformation` says.
#[pyclass(frozen, get_all, module = "camwire._camwire")]
pub struct DeviceInfo {
    manufacturer: String,
    model: String,
    firmware_version: String,
    serial_number: String,
    hardware_id: String,
}

const DEVICE_INFO_FIELDS: Fields = Fields::all(&[
    "manufacturer",
    "model",
    "firmware_version",
    "serial_number",
    "hardware_id",
]);

#[pymethods]
impl DeviceInfo {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &DEVICE_INFO_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &DEVICE_INFO_FIELDS)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        records::hash(slf.as_any(), &DEVICE_INFO_FIELDS)
    }
}

/// A media profile: one stream configuration of the camera.
#[pyclass(frozen, name = "Profile", module = "camwire._camwire")]
pub struct PyProfile {
    inner: Profile,
}

#[pymethods]
impl PyProfile {
    #[getter]
    fn token(&self) -> &str {
        &self.inner.token
    }
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    /// `H264`, `H265`, `JPEG`, ... as the camera says.
    #[getter]
    fn encoding(&self) -> Option<&str> {
        self.inner.encoding.as_deref()
    }
    #[getter]
    fn width(&self) -> Option<u32> {
        self.inner.width
    }
    #[getter]
    fn height(&self) -> Option<u32> {
        self.inner.height
    }
    #[getter]
    fn fps(&self) -> Option<f32> {
        self.inner.fps
    }
    #[getter]
    fn bitrate_kbps(&self) -> Option<u32> {
        self.inner.bitrate_kbps
    }
    /// RTSP URI (host-rewritten to the address the device was reached at), if the device
    /// gave one.
    #[getter]
    fn stream_uri(&self) -> Option<&str> {
        self.inner.stream_uri.as_deref()
    }
    #[getter]
    fn snapshot_uri(&self) -> Option<&str> {
        self.inner.snapshot_uri.as_deref()
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &PROFILE_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &PROFILE_FIELDS)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        records::hash(slf.as_any(), &PROFILE_FIELDS)
    }
}

const PROFILE_FIELDS: Fields = Fields::all(&[
    "token",
    "name",
    "encoding",
    "width",
    "height",
    "fps",
    "bitrate_kbps",
    "stream_uri",
    "snapshot_uri",
]);

/// A connected ONVIF device. Connecting measures the camera clock (for WS-Security) and
/// learns its services; credentials are optional for anonymous operations. An https://
/// XAddr is verified against public roots unless one of `tls_pin` (SHA-256 fingerprint of
/// the camera's self-signed certificate), `tls_ca` (a site CA file) or `tls_accept_any=True`
/// (explicit opt-in) is given.
#[pyclass(frozen, name = "OnvifDevice", module = "camwire._camwire")]
pub struct Device {
    dev: onvif::OnvifDevice,
    /// The login, also used for the device's RTSP replay (fetch).
    creds: Option<camwire::Credentials>,
}

impl Device {
    fn profile_arg(&self, py: Python<'_>, profile: Option<&Bound<'_, PyAny>>) -> PyResult<Profile> {
        if let Some(p) = profile {
            if let Ok(p) = p.cast::<PyProfile>() {
                return Ok(p.get().inner.clone());
            }
            let token: String = p.extract().map_err(|_| {
                errors::invalid_input("profile must be a camwire.Profile or a profile token")
            })?;
            let dev = self.dev.clone();
            let all = wait(py, async move { dev.profiles().await })?.map_err(errors::from_onvif)?;
            return all.into_iter().find(|p| p.token == token).ok_or_else(|| {
                errors::invalid_input(format!("the device has no profile {token:?}"))
            });
        }
        let dev = self.dev.clone();
        let all = wait(py, async move { dev.profiles().await })?.map_err(errors::from_onvif)?;
        all.into_iter()
            .next()
            .ok_or_else(|| errors::error(Family::Protocol, "the device lists no media profile"))
    }
}

#[pymethods]
impl Device {
    #[new]
    #[pyo3(signature = (xaddr, user=None, password=None, timeout=10.0, *, tls_pin=None, tls_ca=None, tls_accept_any=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        xaddr: String,
        user: Option<String>,
        password: Option<String>,
        timeout: f64,
        tls_pin: Option<String>,
        tls_ca: Option<std::path::PathBuf>,
        tls_accept_any: bool,
    ) -> PyResult<Self> {
        let creds = credentials(user, password)?;
        let login = creds.clone();
        let ca =
            match &tls_ca {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    errors::invalid_input(format!("tls_ca {}: {e}", path.display()))
                })?),
                None => None,
            };
        let tls = onvif::TlsVerify::from_choice(tls_pin.as_deref(), ca.as_deref(), tls_accept_any)
            .map_err(errors::from_onvif)?;
        let opts = ClientOptions {
            timeout: seconds("timeout", timeout)?,
            tls,
            ..ClientOptions::default()
        };
        let dev = wait(py, async move {
            onvif::OnvifDevice::connect(&xaddr, creds, opts).await
        })?
        .map_err(errors::from_onvif)?;
        Ok(Device { dev, creds: login })
    }

    /// The device service URL in use.
    #[getter]
    fn xaddr(&self) -> String {
        self.dev.xaddr().to_string()
    }

    /// Manufacturer, model, firmware, serial number, hardware id.
    fn info(&self, py: Python<'_>) -> PyResult<DeviceInfo> {
        let dev = self.dev.clone();
        let i =
            wait(py, async move { dev.device_information().await })?.map_err(errors::from_onvif)?;
        Ok(DeviceInfo {
            manufacturer: i.manufacturer,
            model: i.model,
            firmware_version: i.firmware_version,
            serial_number: i.serial_number,
            hardware_id: i.hardware_id,
        })
    }

    /// Every media profile with encoding, size, frame rate and stream/snapshot URIs.
    fn profiles(&self, py: Python<'_>) -> PyResult<Vec<PyProfile>> {
        let dev = self.dev.clone();
        let all = wait(py, async move { dev.profiles().await })?.map_err(errors::from_onvif)?;
        Ok(all.into_iter().map(|inner| PyProfile { inner }).collect())
    }

    /// The RTSP URI of `profile` (a `Profile` or its token; default: the first profile).
    #[pyo3(signature = (profile=None))]
    fn stream_uri(&self, py: Python<'_>, profile: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let p = self.profile_arg(py, profile)?;
        if let Some(u) = p.stream_uri {
            return Ok(u);
        }
        let dev = self.dev.clone();
        wait(py, async move { dev.stream_uri(&p.token).await })?.map_err(errors::from_onvif)
    }

    /// A JPEG snapshot of `profile` (a `Profile` or its token; default: the first profile).
    #[pyo3(signature = (profile=None))]
    fn snapshot<'py>(
        &self,
        py: Python<'py>,
        profile: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let p = self.profile_arg(py, profile)?;
        let dev = self.dev.clone();
        let jpeg = wait(py, async move { dev.snapshot(&p).await })?.map_err(errors::from_onvif)?;
        Ok(PyBytes::new(py, &jpeg))
    }

    /// Subscribes to the device's events (PullPoint) and iterates them for `duration`
    /// seconds (forever when `None`). Closing the iterator (or the end of a `with` block)
    /// unsubscribes.
    #[pyo3(signature = (duration=None))]
    fn events(&self, py: Python<'_>, duration: Option<f64>) -> PyResult<Events> {
        let deadline = duration
            .map(|d| seconds("duration", d))
            .transpose()?
            .map(|d| Instant::now() + d);
        let dev = self.dev.clone();
        let pp = wait(py, async move {
            dev.pull_point(PullPointOptions::default()).await
        })?
        .map_err(errors::from_onvif)?;
        Ok(Events {
            state: Arc::new(tokio::sync::Mutex::new(EventsState {
                pull_point: Some(pp),
                queue: VecDeque::new(),
            })),
            deadline,
        })
    }

    /// The recordings the device holds (ONVIF Recording Search: every recording, paged to
    /// the end), each with its token, source, earliest and latest times and tracks. With
    /// `start` and `end` (both), each also gets the ranges holding data in that window and
    /// the gaps between them (FindEvents on `RecordingHistory/Track/State`); without them
    /// `ranges` and `gaps` are `None`.
    #[pyo3(signature = (start=None, end=None))]
    fn recordings(
        &self,
        py: Python<'_>,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Py<replay::DeviceRecording>>> {
        let w = replay::window(start, end)?;
        replay::recordings(py, &self.dev, w)
    }

    /// `await device.recordings_async(...)`: `recordings` on camwire's runtime, the event
    /// loop going on meanwhile.
    #[pyo3(signature = (start=None, end=None))]
    fn recordings_async<'py>(
        &self,
        py: Python<'py>,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let w = replay::window(start, end)?;
        replay::recordings_async(py, &self.dev, w)
    }

    /// Fetches `[start, end)` of a recording off the device (ONVIF Profile G: GetReplayUri,
    /// then RTSP PLAY with `Range: clock=`, `Rate-Control: no`) into `out`, a new MP4
    /// (progressive, or `fragmented=True`) with `out.manifest.json`, in export's format plus
    /// an `origin` block (the device, the recording, the replay URI without credentials, its
    /// clock offset, the rate-control mode, the download time). Returns an `ExportResult`;
    /// `camwire.verify` checks the clip. With `into=ROOT, camera=ID` instead, the footage is
    /// written as recorder segments under ROOT (back-fill) and a `BackfillResult` returned.
    /// `recording` is a token from `recordings()`; without it, the one recording covering
    /// the range is used (none or several is `InvalidInput`). The device's login is used for
    /// RTSP too. With `out`, `camera` names the manifest's camera id. `progress`, if given,
    /// is called as `progress(media_done_secs, media_total_secs, wall_secs, frames)` at most
    /// every 200 ms and once at the end. `audio`: the device's first audio track goes with the
    /// video (`"first"`, the default, as in recordings), or `"all"` of them, or `"no"`.
    #[pyo3(signature = (start, end, out=None, *, into=None, camera=None, recording=None, fragmented=false, real_time=false, progress=None, audio="first"))]
    #[allow(clippy::too_many_arguments)]
    fn fetch(
        &self,
        py: Python<'_>,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        out: Option<std::path::PathBuf>,
        into: Option<std::path::PathBuf>,
        camera: Option<String>,
        recording: Option<String>,
        fragmented: bool,
        real_time: bool,
        progress: Option<Py<PyAny>>,
        audio: &str,
    ) -> PyResult<Py<PyAny>> {
        let job = replay::Job::new(
            replay::Source::Device {
                dev: Box::new(self.dev.clone()),
                recording,
            },
            self.creds.clone(),
            start,
            end,
            out,
            into,
            camera,
            fragmented,
            real_time,
            progress,
            audio,
        )?;
        replay::run_blocking(py, job)
    }

    /// `await device.fetch_async(...)`: `fetch` on camwire's runtime, the event loop going
    /// on meanwhile (cancelling the await abandons the download).
    #[pyo3(signature = (start, end, out=None, *, into=None, camera=None, recording=None, fragmented=false, real_time=false, progress=None, audio="first"))]
    #[allow(clippy::too_many_arguments)]
    fn fetch_async<'py>(
        &self,
        py: Python<'py>,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        out: Option<std::path::PathBuf>,
        into: Option<std::path::PathBuf>,
        camera: Option<String>,
        recording: Option<String>,
        fragmented: bool,
        real_time: bool,
        progress: Option<Py<PyAny>>,
        audio: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let job = replay::Job::new(
            replay::Source::Device {
                dev: Box::new(self.dev.clone()),
                recording,
            },
            self.creds.clone(),
            start,
            end,
            out,
            into,
            camera,
            fragmented,
            real_time,
            progress,
            audio,
        )?;
        replay::run_async(py, job)
    }

    fn __repr__(&self) -> String {
        format!("<camwire.OnvifDevice {}>", self.dev.xaddr())
    }
}

struct EventsState {
    pull_point: Option<PullPoint>,
    queue: VecDeque<OnvifEvent>,
}

impl Drop for EventsState {
    fn drop(&mut self) {
        if let Some(pp) = self.pull_point.take() {
            // Tell the device now rather than let the subscription linger until it expires.
            drop_in_runtime(runtime().spawn(async move {
                let _ = pp.unsubscribe().await;
            }));
        }
    }
}

/// Iterator over a device's events; see `OnvifDevice.events`.
#[pyclass(frozen, module = "camwire._camwire")]
pub struct Events {
    state: Arc<tokio::sync::Mutex<EventsState>>,
    deadline: Option<Instant>,
}

#[pymethods]
impl Events {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Event>> {
        let state = self.state.clone();
        let deadline = self.deadline;
        let next = wait(py, async move {
            let mut st = state.lock().await;
            loop {
                if let Some(ev) = st.queue.pop_front() {
                    return Ok(Some(ev));
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
                let Some(pp) = st.pull_point.as_mut() else {
                    return Ok(None);
                };
                let pulled = match deadline {
                    Some(d) => match tokio::time::timeout_at(d, pp.pull()).await {
                        Ok(r) => r,
                        Err(_) => return Ok(None),
                    },
                    None => pp.pull().await,
                };
                st.queue.extend(pulled?);
            }
        })?
        .map_err(errors::from_onvif)?;
        next.map(|e| Event::new(py, e)).transpose()
    }

    /// Unsubscribes. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let state = self.state.clone();
        let pp = wait(py, async move { state.lock().await.pull_point.take() })?;
        if let Some(pp) = pp {
            // Devices often refuse Unsubscribe on an expired subscription; nothing to do.
            let _ = wait(py, pp.unsubscribe())?;
        }
        Ok(())
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

/// One ONVIF notification.
#[pyclass(frozen, get_all, module = "camwire._camwire")]
pub struct Event {
    /// Topic as sent, e.g. `tns1:RuleEngine/CellMotionDetector/Motion`.
    topic: String,
    /// Topic without namespace prefixes.
    topic_path: String,
    /// `UtcTime` of the message (camera clock), if given.
    time: Option<Py<PyAny>>,
    /// `Initialized`, `Changed` or `Deleted`, when given.
    property_operation: Option<String>,
    source: Py<PyDict>,
    key: Py<PyDict>,
    data: Py<PyDict>,
    /// `"motion"`, `"tamper"` or `"other"`.
    kind: &'static str,
    /// For motion and tamper: whether it started (`True`) or stopped (`False`).
    active: Option<bool>,
}

impl Event {
    fn new(py: Python<'_>, e: OnvifEvent) -> PyResult<Event> {
        let dict = |items: Vec<(String, String)>| -> PyResult<Py<PyDict>> {
            let d = PyDict::new(py);
            for (k, v) in items {
                d.set_item(k, v)?;
            }
            Ok(d.unbind())
        };
        let (kind, active) = match e.kind {
            EventKind::Motion(a) => ("motion", Some(a)),
            EventKind::Tamper(a) => ("tamper", Some(a)),
            EventKind::Other => ("other", None),
        };
        Ok(Event {
            topic: e.topic,
            topic_path: e.topic_path,
            time: e
                .time
                .map(|t| crate::time::timestamp(py, t).map(Bound::unbind))
                .transpose()?,
            property_operation: e.property_operation,
            source: dict(e.source)?,
            key: dict(e.key)?,
            data: dict(e.data)?,
            kind,
            active,
        })
    }
}

const EVENT_FIELDS: Fields = Fields::all(&[
    "topic",
    "topic_path",
    "time",
    "property_operation",
    "source",
    "key",
    "data",
    "kind",
    "active",
]);

#[pymethods]
impl Event {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &EVENT_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &EVENT_FIELDS)
    }
}

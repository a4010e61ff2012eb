//! `camwire.sim.SimCamera`: the core's simulated camera (RTSP and ONVIF faces) served on the
//! module's runtime, for tests and demos.

use crate::errors::{self, Family};
use crate::runtime::{drop_in_runtime, seconds, wait};
use camwire::sim::{SimCamera, SimOptions};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySimCamera>()?;
    Ok(())
}

/// A simulated H.264 IP camera (RTSP server over a committed clip, 25 fps) running in this
/// process until `close()` or the end of the `with` block.
#[pyclass(frozen, name = "SimCamera", module = "camwire.sim")]
pub struct PySimCamera {
    sim: Mutex<Option<SimCamera>>,
    rtsp_url: String,
    port: u16,
    user: Option<String>,
    xaddr: Option<String>,
    discovery_addr: Option<String>,
    endpoint: Option<String>,
}

impl PySimCamera {
    fn with<T>(&self, f: impl FnOnce(&SimCamera) -> T) -> PyResult<T> {
        let g = self
            .sim
            .lock()
            .map_err(|_| errors::error(Family::Other, "sim state poisoned"))?;
        g.as_ref()
            .map(f)
            .ok_or_else(|| errors::error(Family::Other, "the simulated camera is closed"))
    }
}

#[pymethods]
impl PySimCamera {
    /// `port=0` picks a free port. With `user`, every RTSP request but OPTIONS needs Digest
    /// auth. `realtime=False` sends frames as fast as the socket takes them (benchmarks).
    /// `loop=False` ends the stream (RTCP BYE) after the clip; `max_duration` (seconds) ends
    /// it after that much media.
    #[new]
    #[pyo3(signature = (port=0, user=None, password=None, *, host="127.0.0.1", realtime=true, r#loop=true, max_duration=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        port: u16,
        user: Option<String>,
        password: Option<String>,
        host: &str,
        realtime: bool,
        r#loop: bool,
        max_duration: Option<f64>,
    ) -> PyResult<Self> {
        let ip: IpAddr = host
            .parse()
            .map_err(|_| errors::invalid_input(format!("host must be an IP address: {host:?}")))?;
        let credentials = match (user.clone(), password) {
            (Some(u), p) => Some((u, p.unwrap_or_default())),
            (None, Some(_)) => {
                return Err(errors::invalid_input("a password was given without a user"));
            }
            (None, None) => None,
        };
        let opts = SimOptions {
            bind: SocketAddr::new(ip, port),
            credentials,
            realtime,
            loop_clip: r#loop,
            max_duration: max_duration
                .map(|d| seconds("max_duration", d))
                .transpose()?,
            ..SimOptions::default()
        };
        let sim = wait(py, SimCamera::start(opts))?
            .map_err(|e| errors::from_io("starting the simulated camera", e))?;
        Ok(PySimCamera {
            rtsp_url: sim.rtsp_url(),
            port: sim.port(),
            xaddr: sim.xaddr(),
            discovery_addr: sim.discovery_addr().map(|a| a.to_string()),
            endpoint: sim.endpoint_reference().map(str::to_string),
            sim: Mutex::new(Some(sim)),
            user,
        })
    }

    /// `rtsp://127.0.0.1:PORT/stream` (no credentials in it).
    #[getter]
    fn rtsp_url(&self) -> &str {
        &self.rtsp_url
    }

    /// The RTSP port.
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// The ONVIF device service, `http://127.0.0.1:PORT/onvif/device_service`.
    #[getter]
    fn xaddr(&self) -> PyResult<&str> {
        self.xaddr
            .as_deref()
            .ok_or_else(|| errors::error(Family::Other, "the simulated camera has no ONVIF face"))
    }

    /// `IP:PORT` where the sim answers unicast WS-Discovery probes:
    /// `camwire.discover(host=cam.discovery_addr)` finds it.
    #[getter]
    fn discovery_addr(&self) -> Option<&str> {
        self.discovery_addr.as_deref()
    }

    /// The sim's WS-Discovery endpoint reference (`urn:uuid:...`).
    #[getter]
    fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The user name the sim asks for, if any.
    #[getter]
    fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// When the sim's Profile G recording starts (aware UTC datetime; it runs to now), as
    /// `OnvifDevice.recordings()` lists it.
    #[getter]
    fn recording_start<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.with(|sim| sim.recording())?
            .map(|r| crate::time::system_time(py, r.start))
            .transpose()
    }

    /// The one gap in the recording: `Range(start, end)`, or `None`.
    #[getter]
    fn recording_gap<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let gap = self.with(|sim| sim.recording())?.and_then(|r| r.gap);
        gap.map(|(a, b)| {
            crate::records::range(
                py,
                crate::time::system_time(py, a)?,
                crate::time::system_time(py, b)?,
            )
        })
        .transpose()
    }

    /// The recording's RTSP replay URL (what GetReplayUri answers), or `None`.
    #[getter]
    fn replay_url(&self) -> PyResult<Option<String>> {
        self.with(|sim| sim.replay_url())
    }

    /// Counters: connections, clients_served, active_sessions, rtp_packets_sent,
    /// rtcp_packets_sent, bytes_sent.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.with(|sim| sim.stats())?;
        let d = PyDict::new(py);
        d.set_item("connections", s.connections)?;
        d.set_item("clients_served", s.clients_served)?;
        d.set_item("active_sessions", s.active_sessions)?;
        d.set_item("rtp_packets_sent", s.rtp_packets_sent)?;
        d.set_item("rtcp_packets_sent", s.rtcp_packets_sent)?;
        d.set_item("bytes_sent", s.bytes_sent)?;
        Ok(d)
    }

    /// Stops the server and every session. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let sim = self
            .sim
            .lock()
            .map_err(|_| errors::error(Family::Other, "sim state poisoned"))?
            .take();
        if let Some(sim) = sim {
            wait(py, sim.shutdown())?;
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

    fn __repr__(&self) -> String {
        format!("<camwire.sim.SimCamera {}>", self.rtsp_url)
    }
}

impl Drop for PySimCamera {
    fn drop(&mut self) {
        // Dropping the sim aborts its tasks, which needs the runtime's context.
        if let Ok(sim) = self.sim.get_mut() {
            drop_in_runtime(sim.take());
        }
    }
}

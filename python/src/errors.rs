//! `camwire.CamwireError` and its families, and the mapping from core errors.
//!
//! The classes are made at import with `type()` so that each family can also be the matching
//! builtin (`camwire.TimeoutError` is a `TimeoutError`, `camwire.ConnectionError` a
//! `ConnectionError`, `camwire.InvalidInput` a `ValueError`), which `create_exception!`
//! cannot do (one base only).

use camwire::onvif::{self, ErrorKind};
use camwire::rtsp::RtspError;
use camwire::stream::StreamError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The error families (the ONVIF client's [`ErrorKind`] plus a catch-all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// Anything else (files, a closed object, ...): the base class itself.
    Other,
    Connection,
    Auth,
    Timeout,
    Protocol,
    InvalidInput,
}

impl From<ErrorKind> for Family {
    fn from(k: ErrorKind) -> Self {
        match k {
            ErrorKind::Connection => Family::Connection,
            ErrorKind::Auth => Family::Auth,
            ErrorKind::Timeout => Family::Timeout,
            ErrorKind::Protocol => Family::Protocol,
            ErrorKind::InvalidInput => Family::InvalidInput,
        }
    }
}

struct Classes {
    base: Py<PyType>,
    connection: Py<PyType>,
    auth: Py<PyType>,
    timeout: Py<PyType>,
    protocol: Py<PyType>,
    invalid_input: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn make_class<'py>(
    py: Python<'py>,
    name: &str,
    doc: &str,
    bases: Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "camwire")?;
    ns.set_item("__doc__", doc)?;
    let bases = PyTuple::new(py, bases)?;
    let ty = py.get_type::<PyType>().call1((name, bases, ns))?;
    Ok(ty.cast_into::<PyType>()?)
}

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let builtins = py.import("builtins")?;
        let base = make_class(
            py,
            "CamwireError",
            "Base class of every error camwire raises.",
            vec![builtins.getattr("Exception")?],
        )?;
        let sub = |name: &str, doc: &str, builtin: Option<&str>| -> PyResult<Py<PyType>> {
            let mut bases = vec![base.clone().into_any()];
            if let Some(b) = builtin {
                bases.push(builtins.getattr(b)?);
            }
            Ok(make_class(py, name, doc, bases)?.unbind())
        };
        Ok(Classes {
            connection: sub(
                "ConnectionError",
                "The camera or device could not be reached (refused, reset, no route). Also a builtin ConnectionError.",
                Some("ConnectionError"),
            )?,
            auth: sub(
                "AuthError",
                "The camera refused the credentials, or needs credentials that were not given.",
                None,
            )?,
            timeout: sub(
                "TimeoutError",
                "The camera or device did not answer in time. Also a builtin TimeoutError.",
                Some("TimeoutError"),
            )?,
            protocol: sub(
                "ProtocolError",
                "The device answered in a way camwire does not understand (bad RTSP, SDP, SOAP fault, ...).",
                None,
            )?,
            invalid_input: sub(
                "InvalidInput",
                "An argument is unusable (bad URL, unknown profile, bad camera id, ...). Also a ValueError.",
                Some("ValueError"),
            )?,
            base: base.unbind(),
        })
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    m.add("CamwireError", c.base.bind(py))?;
    m.add("ConnectionError", c.connection.bind(py))?;
    m.add("AuthError", c.auth.bind(py))?;
    m.add("TimeoutError", c.timeout.bind(py))?;
    m.add("ProtocolError", c.protocol.bind(py))?;
    m.add("InvalidInput", c.invalid_input.bind(py))?;
    Ok(())
}

/// An exception of `family` with `msg`.
pub(crate) fn error(family: Family, msg: impl Into<String>) -> PyErr {
    let msg = msg.into();
    Python::attach(|py| match classes(py) {
        Ok(c) => {
            let ty = match family {
                Family::Other => &c.base,
                Family::Connection => &c.connection,
                Family::Auth => &c.auth,
                Family::Timeout => &c.timeout,
                Family::Protocol => &c.protocol,
                Family::InvalidInput => &c.invalid_input,
            };
            PyErr::from_type(ty.bind(py).clone(), (msg,))
        }
        Err(e) => e,
    })
}

pub(crate) fn invalid_input(msg: impl Into<String>) -> PyErr {
    error(Family::InvalidInput, msg)
}

/// The family of an RTSP error. retina reports refused/reset connections as errors without
/// an RTSP status; those are connection trouble, answers with a status are protocol errors.
pub(crate) fn rtsp_family(e: &RtspError) -> Family {
    match e {
        RtspError::Url(_) => Family::InvalidInput,
        RtspError::Auth { .. } => Family::Auth,
        RtspError::Timeout { .. } => Family::Timeout,
        RtspError::Sdp { .. } => Family::Protocol,
        RtspError::Protocol {
            status: Some(_), ..
        } => Family::Protocol,
        RtspError::Protocol { status: None, .. } => Family::Connection,
    }
}

pub(crate) fn from_rtsp(e: RtspError) -> PyErr {
    error(rtsp_family(&e), e.to_string())
}

pub(crate) fn from_stream(e: StreamError) -> PyErr {
    match e {
        StreamError::Rtsp(e) => from_rtsp(e),
        e @ StreamError::NoParameters(_) => error(Family::Timeout, e.to_string()),
        e @ StreamError::BadParameters(_) => error(Family::Protocol, e.to_string()),
    }
}

pub(crate) fn from_onvif(e: onvif::Error) -> PyErr {
    error(e.kind().into(), e.to_string())
}

pub(crate) fn from_io(what: &str, e: std::io::Error) -> PyErr {
    let family = match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => Family::InvalidInput,
        std::io::ErrorKind::TimedOut => Family::Timeout,
        std::io::ErrorKind::ConnectionRefused
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::AddrInUse
        | std::io::ErrorKind::AddrNotAvailable => Family::Connection,
        _ => Family::Other,
    };
    error(family, format!("{what}: {e}"))
}

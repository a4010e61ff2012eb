//! Times to and from `datetime.datetime` (always timezone-aware UTC on the way out).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct Datetime {
    /// `datetime(1970, 1, 1, tzinfo=timezone.utc)`
    epoch: Py<PyAny>,
    /// `datetime.timedelta`
    timedelta: Py<PyAny>,
    /// `datetime.datetime`
    datetime: Py<PyAny>,
    /// `datetime.timezone.utc`
    utc: Py<PyAny>,
}

static DATETIME: PyOnceLock<Datetime> = PyOnceLock::new();

fn dt(py: Python<'_>) -> PyResult<&Datetime> {
    DATETIME.get_or_try_init(py, || {
        let m = py.import("datetime")?;
        let utc = m.getattr("timezone")?.getattr("utc")?;
        let datetime = m.getattr("datetime")?;
        let kw = PyDict::new(py);
        kw.set_item("tzinfo", &utc)?;
        let epoch = datetime.call((1970, 1, 1), Some(&kw))?;
        Ok(Datetime {
            epoch: epoch.unbind(),
            timedelta: m.getattr("timedelta")?.unbind(),
            datetime: datetime.unbind(),
            utc: utc.unbind(),
        })
    })
}

fn from_unix(py: Python<'_>, secs: i64, micros: u32) -> PyResult<Bound<'_, PyAny>> {
    let d = dt(py)?;
    let delta = d.timedelta.bind(py).call1((0, secs, micros))?;
    d.epoch.bind(py).add(delta)
}

/// A `SystemTime` as an aware UTC `datetime` (microsecond precision).
pub(crate) fn system_time<'py>(py: Python<'py>, t: SystemTime) -> PyResult<Bound<'py, PyAny>> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => from_unix(py, d.as_secs() as i64, d.subsec_micros()),
        Err(e) => {
            let total = -(e.duration().as_micros() as i64);
            from_unix(
                py,
                total.div_euclid(1_000_000),
                total.rem_euclid(1_000_000) as u32,
            )
        }
    }
}

/// A `jiff::Timestamp` as an aware UTC `datetime`.
pub(crate) fn timestamp(py: Python<'_>, t: jiff::Timestamp) -> PyResult<Bound<'_, PyAny>> {
    let secs = t.as_second();
    let nanos = t.subsec_nanosecond();
    if nanos >= 0 {
        from_unix(py, secs, (nanos / 1000) as u32)
    } else {
        from_unix(py, secs - 1, ((1_000_000_000 + nanos) / 1000) as u32)
    }
}

/// A `datetime` (aware: any zone; naive: taken as UTC), a `float`/`int` Unix time, or an
/// ISO 8601 string, as a `SystemTime`.
pub(crate) fn to_system_time(obj: &Bound<'_, PyAny>) -> PyResult<SystemTime> {
    let py = obj.py();
    let d = dt(py)?;
    let datetime = d.datetime.bind(py);
    let value = if let Ok(s) = obj.extract::<String>() {
        // RFC 3339 with an offset first (the core's format); else Python's ISO 8601 reader,
        // whose naive results are taken as UTC below.
        if let Ok(t) = camwire::export::parse_rfc3339(&s) {
            return Ok(t);
        }
        datetime
            .call_method1("fromisoformat", (&s,))
            .map_err(|e| crate::errors::invalid_input(format!("bad time {s:?}: {e}")))?
    } else {
        obj.clone()
    };
    if value.is_instance(datetime)? {
        let aware = if value.getattr("tzinfo")?.is_none() {
            let kw = PyDict::new(py);
            kw.set_item("tzinfo", d.utc.bind(py))?;
            value.call_method("replace", (), Some(&kw))?
        } else {
            value
        };
        let delta = aware.sub(d.epoch.bind(py))?;
        let days: i64 = delta.getattr("days")?.extract()?;
        let secs: i64 = delta.getattr("seconds")?.extract()?;
        let micros: i64 = delta.getattr("microseconds")?.extract()?;
        let total = (days * 86_400 + secs) * 1_000_000 + micros;
        return Ok(if total >= 0 {
            UNIX_EPOCH + Duration::from_micros(total as u64)
        } else {
            UNIX_EPOCH - Duration::from_micros(total.unsigned_abs())
        });
    }
    if let Ok(f) = value.extract::<f64>()
        && f.is_finite()
    {
        return Ok(if f >= 0.0 {
            UNIX_EPOCH + Duration::from_secs_f64(f)
        } else {
            UNIX_EPOCH - Duration::from_secs_f64(-f)
        });
    }
    Err(crate::errors::invalid_input(
        "a time must be a datetime, a Unix timestamp or an ISO 8601 string",
    ))
}

//! `camwire.ranges`, `camwire.cameras`, `camwire.export`, `camwire.verify`: evidence out of
//! a recording root, by the core's `export` module.

use crate::errors::{self, Family};
use crate::records::{self, Fields};
use crate::time::{system_time, to_system_time};
use camwire::export::{self, ExportError, ExportOptions, Manifest, OutputFormat};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySlice, PyTuple};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ranges, m)?)?;
    m.add_function(wrap_pyfunction!(cameras, m)?)?;
    m.add_function(wrap_pyfunction!(export_clip, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_class::<Listing>()?;
    records::register_sequence(m.py().get_type::<Listing>().as_any())?;
    m.add_class::<RecordingGap>()?;
    m.add_class::<ExportResult>()?;
    m.add_class::<VerifyResult>()?;
    Ok(())
}

pub(crate) fn from_export(e: ExportError) -> PyErr {
    let family = match &e {
        ExportError::InvalidCameraId { .. }
        | ExportError::BadRange { .. }
        | ExportError::OutputExists(_)
        | ExportError::UnknownCamera { .. }
        | ExportError::NoRecording { .. } => Family::InvalidInput,
        _ => Family::Other,
    };
    errors::error(family, e.to_string())
}

fn opt_time(t: Option<&Bound<'_, PyAny>>) -> PyResult<Option<SystemTime>> {
    t.filter(|t| !t.is_none()).map(to_system_time).transpose()
}

fn rfc(py: Python<'_>, s: &str) -> PyResult<Py<PyAny>> {
    let t = export::parse_rfc3339(s).map_err(|e| errors::error(Family::Protocol, e))?;
    Ok(system_time(py, t)?.unbind())
}

/// A hole in the recording.
#[pyclass(frozen, get_all, name = "Gap", module = "camwire._camwire")]
pub struct RecordingGap {
    /// End of the recording before it (aware UTC datetime).
    start: Py<PyAny>,
    /// Start of the recording after it.
    end: Py<PyAny>,
    /// Length in seconds.
    duration: f64,
    /// Why, when the recorder wrote it down.
    reason: Option<String>,
}

impl RecordingGap {
    pub(crate) fn new(
        start: Py<PyAny>,
        end: Py<PyAny>,
        duration: f64,
        reason: Option<String>,
    ) -> Self {
        RecordingGap {
            start,
            end,
            duration,
            reason,
        }
    }
}

const GAP_FIELDS: Fields = Fields::all(&["start", "end", "duration", "reason"]);

#[pymethods]
impl RecordingGap {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &GAP_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &GAP_FIELDS)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        records::hash(slf.as_any(), &GAP_FIELDS)
    }
}

fn secs(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// What one camera has recorded in a window: a read-only sequence of `Range(start, end)`
/// (aware UTC datetimes) of continuous recording, oldest first, with the `gaps` between them.
/// It is a `collections.abc.Sequence`: `listing[0]`, `listing[-1]`, `listing[1:]` (a list),
/// `len`, `in`, `reversed`, `index`, `count`; `.ranges` is the same ranges as a new list.
#[pyclass(frozen, sequence, module = "camwire._camwire")]
pub struct Listing {
    /// The camera id.
    #[pyo3(get)]
    camera: String,
    ranges: Py<PyTuple>,
    gaps: Py<PyTuple>,
}

const LISTING_FIELDS: Fields = Fields::all(&["camera", "ranges", "gaps"]);

#[pymethods]
impl Listing {
    /// The recorded ranges, a new list of `Range(start, end)` each time.
    #[getter]
    fn ranges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.ranges.bind(py).iter())
    }

    /// The gaps between the ranges, a new list of `Gap` each time.
    #[getter]
    fn gaps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.gaps.bind(py).iter())
    }

    /// `listing[i]` is a `Range` (negative `i` counts from the end); `listing[a:b:c]` is a
    /// list of them.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let all = self.ranges.bind(py);
        if index.is_instance_of::<PySlice>() {
            // Slicing the tuple gives a tuple; a slice of a sequence is handed out as a list.
            return Ok(PyList::new(
                py,
                all.as_any()
                    .get_item(index)?
                    .try_iter()?
                    .collect::<PyResult<Vec<_>>>()?,
            )?
            .into_any());
        }
        all.as_any().get_item(index).map_err(|e| {
            if e.is_instance_of::<pyo3::exceptions::PyIndexError>(py) {
                pyo3::exceptions::PyIndexError::new_err("Listing index out of range")
            } else {
                e
            }
        })
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.ranges.bind(py).len()
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.ranges.bind(py).try_iter()?.into_any().unbind())
    }

    fn __reversed__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("builtins")?
            .getattr("reversed")?
            .call1((self.ranges.bind(py),))
    }

    fn __contains__(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ranges.bind(py).contains(value)
    }

    /// The position of the first range equal to `value` (`ValueError` if none).
    #[pyo3(signature = (value, start=0, stop=isize::MAX))]
    fn index(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: isize,
    ) -> PyResult<usize> {
        self.ranges
            .bind(py)
            .call_method1("index", (value, start, stop))?
            .extract()
    }

    /// How many ranges equal `value`.
    fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.ranges
            .bind(py)
            .call_method1("count", (value,))?
            .extract()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &LISTING_FIELDS)
    }

    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &LISTING_FIELDS)
    }
}

/// The recorded ranges of `camera` under `root` between `start` and `end` (either open;
/// datetimes, naive ones taken as UTC, Unix timestamps or ISO 8601 strings), merged across
/// files, with the gaps between them.
///
/// `root` may be `s3://bucket/prefix` (segments the recorder uploaded); its settings come from
/// the AWS_* variables, each overridable by `storage` (see `StorageOptions`).
#[pyfunction]
#[pyo3(signature = (root, camera, start=None, end=None, *, storage=None))]
fn ranges(
    py: Python<'_>,
    root: PathBuf,
    camera: String,
    start: Option<&Bound<'_, PyAny>>,
    end: Option<&Bound<'_, PyAny>>,
    storage: Option<&Bound<'_, PyDict>>,
) -> PyResult<Listing> {
    let (start, end) = (opt_time(start)?, opt_time(end)?);
    let root = crate::storage::root(&root, storage)?;
    let listing = py
        .detach(|| export::ranges(&root?, &camera, start, end))
        .map_err(from_export)?;
    let rs = listing
        .ranges
        .iter()
        .map(|r| records::range(py, system_time(py, r.start)?, system_time(py, r.end)?))
        .collect::<PyResult<Vec<_>>>()?;
    let gs = listing
        .gaps
        .iter()
        .map(|g| {
            Bound::new(
                py,
                RecordingGap {
                    start: system_time(py, g.start)?.unbind(),
                    end: system_time(py, g.end)?.unbind(),
                    duration: secs(g.start, g.end),
                    reason: g.reason.clone(),
                },
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Listing {
        camera: listing.camera,
        ranges: PyTuple::new(py, rs)?.unbind(),
        gaps: PyTuple::new(py, gs)?.unbind(),
    })
}

/// The camera ids that have recordings under `root` (a directory or `s3://bucket/prefix`).
#[pyfunction]
#[pyo3(signature = (root, *, storage=None))]
fn cameras(
    py: Python<'_>,
    root: PathBuf,
    storage: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<String>> {
    let root = crate::storage::root(&root, storage)?;
    py.detach(|| export::cameras(&root?)).map_err(from_export)
}

/// What `export` wrote.
#[pyclass(frozen, get_all, module = "camwire._camwire")]
pub struct ExportResult {
    /// The clip.
    path: PathBuf,
    /// `path` + `.manifest.json`.
    manifest_path: PathBuf,
    /// First presented instant of the clip (aware UTC datetime).
    start: Py<PyAny>,
    /// End of the presentation.
    end: Py<PyAny>,
    /// Frames presented.
    frames: u64,
    /// Holes inside the clip.
    gaps: Vec<Py<RecordingGap>>,
    /// SHA-256 of the clip file (hex).
    sha256: String,
    /// SHA-256 of the samples in clip order (hex).
    media_sha256: String,
    /// Clip size in bytes.
    size: u64,
    /// `progressive` or `fragmented`.
    container: String,
    /// Source files, relative to the root.
    sources: Vec<String>,
    /// The manifest as a dict (the JSON file's content).
    manifest: Py<PyAny>,
}

const EXPORT_FIELDS: Fields = Fields {
    eq: &[
        "path",
        "manifest_path",
        "start",
        "end",
        "frames",
        "gaps",
        "sha256",
        "media_sha256",
        "size",
        "container",
        "sources",
        "manifest",
    ],
    // The manifest dict repeats everything and is long: `result.manifest` shows it.
    repr: &[
        "path",
        "manifest_path",
        "start",
        "end",
        "frames",
        "gaps",
        "sha256",
        "media_sha256",
        "size",
        "container",
        "sources",
    ],
};

#[pymethods]
impl ExportResult {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &EXPORT_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &EXPORT_FIELDS)
    }
}

fn load_json(py: Python<'_>, path: &std::path::Path) -> PyResult<Py<PyAny>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| errors::from_io(&path.display().to_string(), e))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

fn gaps_of(py: Python<'_>, m: &Manifest) -> PyResult<Vec<Py<RecordingGap>>> {
    m.gaps
        .iter()
        .map(|g| {
            Py::new(
                py,
                RecordingGap {
                    start: rfc(py, &g.start)?,
                    end: rfc(py, &g.end)?,
                    duration: g.duration_secs,
                    reason: g.reason.clone(),
                },
            )
        })
        .collect()
}

/// Exports `[start, end)` of `camera` into `out` (a new file; never overwritten) with
/// `out.manifest.json` beside it: progressive MP4 by default, fragmented MP4 (each fragment
/// with its wall-clock) with `fragmented=True`.
/// `root` may be `s3://bucket/prefix`: the clip is read with ranged GETs, and the manifest's
/// sources name each object's URL, ETag and SHA-256.
#[pyfunction(name = "export")]
#[pyo3(signature = (root, camera, start, end, out, fragmented=false, *, storage=None))]
#[allow(clippy::too_many_arguments)]
fn export_clip(
    py: Python<'_>,
    root: PathBuf,
    camera: String,
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    out: PathBuf,
    fragmented: bool,
    storage: Option<&Bound<'_, PyDict>>,
) -> PyResult<ExportResult> {
    let root = crate::storage::root(&root, storage)?;
    let (start, end) = (to_system_time(start)?, to_system_time(end)?);
    let opts = ExportOptions {
        format: if fragmented {
            OutputFormat::Fragmented
        } else {
            OutputFormat::Progressive
        },
        ..ExportOptions::default()
    };
    let s = py
        .detach(|| export::export(&root?, &camera, start, end, &out, &opts))
        .map_err(from_export)?;
    export_result(py, &s.manifest, s.output, s.manifest_path)
}

/// The `ExportResult` of a clip written with manifest `m` (export, or a device fetch: its
/// manifest has the same fields plus `origin`, which `manifest` holds as read from the file).
pub(crate) fn export_result(
    py: Python<'_>,
    m: &Manifest,
    path: PathBuf,
    manifest_path: PathBuf,
) -> PyResult<ExportResult> {
    Ok(ExportResult {
        start: rfc(py, &m.actual.start)?,
        end: rfc(py, &m.actual.end)?,
        frames: m.frames,
        gaps: gaps_of(py, m)?,
        sha256: m.output.sha256.clone(),
        media_sha256: m.media_sha256.clone(),
        size: m.output.size,
        container: m.output.container.clone(),
        sources: m.sources.iter().map(|s| s.path.clone()).collect(),
        manifest: load_json(py, &manifest_path)?,
        path,
        manifest_path,
    })
}

/// What `verify` found. `ok` is true when the clip, every source still present and the media
/// hash match the manifest (sources removed by retention are listed in `missing_sources`
/// and do not make it false); `problems` has one line per mismatch, naming the file.
#[pyclass(frozen, get_all, module = "camwire._camwire")]
pub struct VerifyResult {
    ok: bool,
    problems: Vec<String>,
    missing_sources: Vec<String>,
    path: PathBuf,
    manifest_path: PathBuf,
}

const VERIFY_FIELDS: Fields =
    Fields::all(&["ok", "problems", "missing_sources", "path", "manifest_path"]);

#[pymethods]
impl VerifyResult {
    fn __bool__(&self) -> bool {
        self.ok
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        records::repr(slf.as_any(), &VERIFY_FIELDS)
    }
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<bool> {
        records::eq(slf.as_any(), other.as_any(), &VERIFY_FIELDS)
    }
}

/// Re-checks an exported clip against its manifest (`path` + `.manifest.json`): the clip's
/// hash, each source's hash and the media hash. With `root`, sources are looked for there
/// instead of the manifest's root (evidence moved elsewhere). Sources in S3 are re-read and
/// re-hashed (their ETag checked too); `storage` gives the S3 settings, for `root` or, without
/// it, for the manifest's own `s3://` root.
#[pyfunction]
#[pyo3(signature = (path, root=None, *, storage=None))]
fn verify(
    py: Python<'_>,
    path: PathBuf,
    root: Option<PathBuf>,
    storage: Option<&Bound<'_, PyDict>>,
) -> PyResult<VerifyResult> {
    let root = match (root, storage) {
        (Some(r), _) => Some(crate::storage::root(&r, storage)?),
        (None, Some(_)) => {
            let m = manifest_root(&path)?;
            Some(crate::storage::root(Path::new(&m), storage)?)
        }
        (None, None) => None,
    };
    let r = py
        .detach(|| {
            let root = root.transpose()?;
            export::verify_with_storage(&path, root.as_ref(), &|_| {})
        })
        .map_err(from_export)?;
    Ok(VerifyResult {
        ok: r.ok(),
        problems: r.problems(),
        missing_sources: r.missing_sources().into_iter().map(String::from).collect(),
        path: r.clip,
        manifest_path: r.manifest_path,
    })
}

/// The `root` a clip's manifest names.
fn manifest_root(clip: &Path) -> PyResult<String> {
    let mpath = export::manifest_path(clip);
    let text = std::fs::read(&mpath).map_err(|e| errors::from_io("reading the manifest", e))?;
    let m: Manifest = serde_json::from_slice(&text)
        .map_err(|e| errors::invalid_input(format!("{}: {e}", mpath.display())))?;
    Ok(m.root)
}

//! What makes the result classes behave like Python dataclasses: a `Name(field=value, ...)`
//! `__repr__`, value `__eq__` over the same fields, and (for the records whose fields are
//! all hashable) a `__hash__` of those fields. Each class lists its fields once, in a
//! [`Fields`] constant, and its `#[pymethods]` forward to the helpers here.
//!
//! The fields are read back through the class's own Python attributes, so what `repr` shows
//! and what `==` compares is exactly what a user reads.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The fields of a record, in order.
pub(crate) struct Fields {
    /// Compared by `==` and hashed, in this order.
    pub eq: &'static [&'static str],
    /// Shown by `repr` (a subset of `eq`: bulky fields such as a manifest dict are left out,
    /// as `dataclasses.field(repr=False)` does).
    pub repr: &'static [&'static str],
}

impl Fields {
    /// The same fields for `repr` and `==`.
    pub(crate) const fn all(fields: &'static [&'static str]) -> Fields {
        Fields {
            eq: fields,
            repr: fields,
        }
    }
}

fn values<'py>(slf: &Bound<'py, PyAny>, names: &[&str]) -> PyResult<Bound<'py, PyTuple>> {
    let vals = names
        .iter()
        .map(|n| slf.getattr(*n))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(slf.py(), vals)
}

/// `Name(a=repr(a), b=repr(b))`, like a dataclass.
pub(crate) fn repr(slf: &Bound<'_, PyAny>, fields: &Fields) -> PyResult<String> {
    let name = slf.get_type().name()?;
    let mut out = format!("{name}(");
    for (i, f) in fields.repr.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(f);
        out.push('=');
        out.push_str(&slf.getattr(*f)?.repr()?.to_cow()?);
    }
    out.push(')');
    Ok(out)
}

/// Field-by-field equality (the caller's signature already restricts `other` to the same
/// class; anything else gets `NotImplemented` from PyO3).
pub(crate) fn eq(
    slf: &Bound<'_, PyAny>,
    other: &Bound<'_, PyAny>,
    fields: &Fields,
) -> PyResult<bool> {
    if slf.is(other) {
        return Ok(true);
    }
    values(slf, fields.eq)?.eq(values(other, fields.eq)?)
}

/// `hash(tuple(fields))`, like a frozen dataclass.
pub(crate) fn hash(slf: &Bound<'_, PyAny>, fields: &Fields) -> PyResult<isize> {
    values(slf, fields.eq)?.hash()
}

/// `camwire._types.Range(start, end)`: a recorded range, a `NamedTuple` (so it unpacks and
/// compares like the `(start, end)` tuple it always was).
pub(crate) fn range<'py>(
    py: Python<'py>,
    start: Bound<'py, PyAny>,
    end: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    static RANGE: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let cls = RANGE.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("camwire._types")?.getattr("Range")?.unbind())
    })?;
    cls.bind(py).call1((start, end))
}

/// Registers `cls` as a virtual subclass of `collections.abc.Sequence`.
pub(crate) fn register_sequence(cls: &Bound<'_, PyAny>) -> PyResult<()> {
    cls.py()
        .import("collections.abc")?
        .getattr("Sequence")?
        .call_method1("register", (cls,))?;
    Ok(())
}

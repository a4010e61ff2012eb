//! `camwire._camwire`: the native half of the `camwire` Python package.
//!
//! Thin bindings over the `camwire` crate: every operation is a core call. The conventions
//! (see design.md section 9):
//! - one module-level tokio runtime runs the core's async calls;
//! - the GIL is released around every blocking call, which waits in short slices so Ctrl-C
//!   (`KeyboardInterrupt`) interrupts it promptly ([`runtime::wait`]);
//! - frame payloads are exported through the buffer protocol from a Rust-owned buffer, so
//!   `memoryview(frame.data)` is the Rust memory, not a copy;
//! - errors are `camwire.CamwireError` subclasses ([`errors`]).

use pyo3::prelude::*;

mod errors;
mod export;
mod onvif;
mod record;
mod records;
mod replay;
mod runtime;
mod sim;
mod storage;
mod stream;
mod time;

/// The native module. `camwire/__init__.py` re-exports its contents.
#[pymodule]
fn _camwire(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    stream::register(m)?;
    onvif::register(m)?;
    export::register(m)?;
    replay::register(m)?;
    record::register(m)?;
    sim::register(m)?;
    Ok(())
}

//! The C ABI of camwire (`libcamwire.so` / `libcamwire.a`, header `include/camwire.h`).
//!
//! Thin by rule: every function marshals arguments, calls the core crate and marshals the
//! answer back; there is no camera logic here. Conventions (design.md section 8):
//!
//! - opaque handles; `_new`/`_open` create, `_close` stops (idempotent), `_free` releases
//!   (NULL-safe);
//! - every fallible call returns `camwire_result` (0 ok, negative `CAMWIRE_E_*`, never
//!   reused); out-params come last and are written only on success (one documented
//!   exception: `CAMWIRE_E_BUFFER_TOO_SMALL` writes the needed size to the size in/out
//!   param); `camwire_last_error_message()` is the thread-local detail;
//! - every entry point catches panics (`CAMWIRE_E_PANIC`) and NULL-checks every pointer;
//! - one tokio runtime per `camwire_context`; blocking calls take `timeout_ms` and refuse to
//!   run on camwire's own threads (`CAMWIRE_E_WRONG_THREAD`);
//! - callbacks get `user_data` first, run on a named thread, never concurrently for one
//!   stream, and never after the `_close` that stops them returns.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

mod abi;
/// cbindgen:ignore
mod abi_v0_1;
mod context;
mod device;
mod error;
mod events;
mod export;
mod log_bridge;
mod ptz;
mod recorder;
mod replay;
mod sim;
mod stream;

pub use abi::camwire_struct_init;
pub use context::*;
pub use device::*;
pub use error::{
    CAMWIRE_E_ALREADY_EXISTS, CAMWIRE_E_AUTH, CAMWIRE_E_BUFFER_TOO_SMALL, CAMWIRE_E_BUSY,
    CAMWIRE_E_CANCELLED, CAMWIRE_E_CLOSED, CAMWIRE_E_CONNECTION, CAMWIRE_E_END_OF_STREAM,
    CAMWIRE_E_INVALID_ARGUMENT, CAMWIRE_E_IO, CAMWIRE_E_NO_REPLAY, CAMWIRE_E_NO_STREAM_INFO,
    CAMWIRE_E_NOT_FOUND, CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_PANIC,
    CAMWIRE_E_PROTOCOL, CAMWIRE_E_RUNTIME, CAMWIRE_E_TIMEOUT, CAMWIRE_E_UNSUPPORTED,
    CAMWIRE_E_VERIFY_FAILED, CAMWIRE_E_WRONG_THREAD, CAMWIRE_OK, camwire_result,
};
pub use events::*;
pub use export::*;
pub use ptz::*;
pub use recorder::*;
pub use replay::*;
pub use sim::*;
pub use stream::*;

use std::ffi::c_char;

/// Major version of the library this header belongs to.
pub const CAMWIRE_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const CAMWIRE_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const CAMWIRE_VERSION_PATCH: u32 = 0;

static VERSION: &std::ffi::CStr = {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    match std::ffi::CStr::from_bytes_with_nul(V.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("version contains a NUL"),
    }
};

// The header's macros are literals (cbindgen cannot evaluate env!()); keep them in step.
const _: () = {
    const fn parse(s: &str) -> u32 {
        let b = s.as_bytes();
        let mut i = 0;
        let mut n = 0;
        while i < b.len() {
            n = n * 10 + (b[i] - b'0') as u32;
            i += 1;
        }
        n
    }
    assert!(parse(env!("CARGO_PKG_VERSION_MAJOR")) == CAMWIRE_VERSION_MAJOR);
    assert!(parse(env!("CARGO_PKG_VERSION_MINOR")) == CAMWIRE_VERSION_MINOR);
    assert!(parse(env!("CARGO_PKG_VERSION_PATCH")) == CAMWIRE_VERSION_PATCH);
};

/// The library's version as "MAJOR.MINOR.PATCH" (static storage). Compare with the
/// `CAMWIRE_VERSION_*` macros to detect a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C" fn camwire_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The name of a result code (e.g. "CAMWIRE_E_TIMEOUT"), static storage; unknown codes give
/// "CAMWIRE_E_UNKNOWN".
#[unsafe(no_mangle)]
pub extern "C" fn camwire_result_str(result: camwire_result) -> *const c_char {
    error::ALL_CODES
        .iter()
        .find(|(c, _)| *c == result)
        .map_or(c"CAMWIRE_E_UNKNOWN".as_ptr(), |(_, s)| s.as_ptr())
}

/// Detail of the last error returned on the calling thread ("" if none yet). The string
/// stays valid until the next failing camwire call on this thread; successful calls leave it
/// unchanged. Never contains passwords.
#[unsafe(no_mangle)]
pub extern "C" fn camwire_last_error_message() -> *const c_char {
    error::last_error_ptr()
}

/// Test hook (not in the header): panics inside Rust so a C test can check the panic is
/// caught at the boundary and reported as CAMWIRE_E_PANIC.
#[doc(hidden)]
#[unsafe(no_mangle)]
pub extern "C" fn camwire_debug_panic() -> camwire_result {
    error::guard(|| panic!("camwire_debug_panic: deliberate panic for tests"))
}

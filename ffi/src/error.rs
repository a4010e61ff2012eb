//! Result codes, the thread-local error message, panic catching and pointer checks: the
//! plumbing every entry point goes through.
#![allow(clippy::unnecessary_cast)]

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a fallible camwire call returned: `CAMWIRE_OK` (0) or a negative `CAMWIRE_E_*` code.
/// Codes are never reused for another meaning; `camwire_result_str` names them and
/// `camwire_last_error_message` gives the detail of the last failure on the calling thread.
pub type camwire_result = i32;

/// Success.
pub const CAMWIRE_OK: camwire_result = 0;
/// A required pointer argument was NULL.
pub const CAMWIRE_E_NULL_POINTER: camwire_result = (-1) as camwire_result;
/// An argument is unusable (not UTF-8, out of range, unknown enum value, bad URL, ...).
pub const CAMWIRE_E_INVALID_ARGUMENT: camwire_result = (-2) as camwire_result;
/// Rust code panicked; the panic was caught at the ABI boundary. The handle involved may be
/// in an unspecified (but memory-safe) state: close and free it.
pub const CAMWIRE_E_PANIC: camwire_result = (-3) as camwire_result;
/// The operation did not finish within its timeout (or, with a zero timeout, nothing was
/// ready).
pub const CAMWIRE_E_TIMEOUT: camwire_result = (-4) as camwire_result;
/// The handle (or its context) is closed.
pub const CAMWIRE_E_CLOSED: camwire_result = (-5) as camwire_result;
/// The caller's buffer is too small; the needed size was written to the size in/out param.
pub const CAMWIRE_E_BUFFER_TOO_SMALL: camwire_result = (-6) as camwire_result;
/// A blocking call (or `camwire_context_free`) was made from a camwire callback or runtime
/// thread, where it could deadlock. Call it from one of your own threads.
pub const CAMWIRE_E_WRONG_THREAD: camwire_result = (-7) as camwire_result;
/// The handle is in a state that forbids the call (e.g. pulling frames from a stream that
/// has a frame callback, registering a second callback).
pub const CAMWIRE_E_BUSY: camwire_result = (-8) as camwire_result;
/// The camera ended the stream (RTCP BYE or connection closed); no more frames.
pub const CAMWIRE_E_END_OF_STREAM: camwire_result = (-9) as camwire_result;
/// The peer could not be reached or the connection broke.
pub const CAMWIRE_E_CONNECTION: camwire_result = (-10) as camwire_result;
/// The peer refused the credentials (or needs some).
pub const CAMWIRE_E_AUTH: camwire_result = (-11) as camwire_result;
/// The peer answered in a way camwire does not understand or accept.
pub const CAMWIRE_E_PROTOCOL: camwire_result = (-12) as camwire_result;
/// A file-system error.
pub const CAMWIRE_E_IO: camwire_result = (-13) as camwire_result;
/// The named thing (profile token, camera id, ...) does not exist.
pub const CAMWIRE_E_NOT_FOUND: camwire_result = (-14) as camwire_result;
/// An index past the end of a list.
pub const CAMWIRE_E_OUT_OF_RANGE: camwire_result = (-15) as camwire_result;
/// Not available in this build (e.g. the `sim` feature is off) or not implemented yet.
pub const CAMWIRE_E_UNSUPPORTED: camwire_result = (-16) as camwire_result;
/// Starting a thread or the async runtime failed.
pub const CAMWIRE_E_RUNTIME: camwire_result = (-17) as camwire_result;
/// The stream's SPS/PPS (and so its description) are not known yet.
pub const CAMWIRE_E_NO_STREAM_INFO: camwire_result = (-18) as camwire_result;
/// The thing already exists (e.g. adding a camera id twice).
pub const CAMWIRE_E_ALREADY_EXISTS: camwire_result = (-19) as camwire_result;
/// A file failed verification (hash, structure or manifest mismatch).
pub const CAMWIRE_E_VERIFY_FAILED: camwire_result = (-20) as camwire_result;
/// The device cannot replay recordings: its RTSP server refused `Require: onvif-replay`
/// (551 or 459), so it has no ONVIF Profile G replay (camwire never takes live video
/// instead).
pub const CAMWIRE_E_NO_REPLAY: camwire_result = (-21) as camwire_result;
/// The caller cancelled the operation (a fetch's progress callback returned non-zero);
/// nothing was left behind.
pub const CAMWIRE_E_CANCELLED: camwire_result = (-22) as camwire_result;

// The casts make the header's macros typed, parenthesized-safe expressions.

pub(crate) const ALL_CODES: &[(camwire_result, &CStr)] = &[
    (CAMWIRE_OK, c"CAMWIRE_OK"),
    (CAMWIRE_E_NULL_POINTER, c"CAMWIRE_E_NULL_POINTER"),
    (CAMWIRE_E_INVALID_ARGUMENT, c"CAMWIRE_E_INVALID_ARGUMENT"),
    (CAMWIRE_E_PANIC, c"CAMWIRE_E_PANIC"),
    (CAMWIRE_E_TIMEOUT, c"CAMWIRE_E_TIMEOUT"),
    (CAMWIRE_E_CLOSED, c"CAMWIRE_E_CLOSED"),
    (CAMWIRE_E_BUFFER_TOO_SMALL, c"CAMWIRE_E_BUFFER_TOO_SMALL"),
    (CAMWIRE_E_WRONG_THREAD, c"CAMWIRE_E_WRONG_THREAD"),
    (CAMWIRE_E_BUSY, c"CAMWIRE_E_BUSY"),
    (CAMWIRE_E_END_OF_STREAM, c"CAMWIRE_E_END_OF_STREAM"),
    (CAMWIRE_E_CONNECTION, c"CAMWIRE_E_CONNECTION"),
    (CAMWIRE_E_AUTH, c"CAMWIRE_E_AUTH"),
    (CAMWIRE_E_PROTOCOL, c"CAMWIRE_E_PROTOCOL"),
    (CAMWIRE_E_IO, c"CAMWIRE_E_IO"),
    (CAMWIRE_E_NOT_FOUND, c"CAMWIRE_E_NOT_FOUND"),
    (CAMWIRE_E_OUT_OF_RANGE, c"CAMWIRE_E_OUT_OF_RANGE"),
    (CAMWIRE_E_UNSUPPORTED, c"CAMWIRE_E_UNSUPPORTED"),
    (CAMWIRE_E_RUNTIME, c"CAMWIRE_E_RUNTIME"),
    (CAMWIRE_E_NO_STREAM_INFO, c"CAMWIRE_E_NO_STREAM_INFO"),
    (CAMWIRE_E_ALREADY_EXISTS, c"CAMWIRE_E_ALREADY_EXISTS"),
    (CAMWIRE_E_VERIFY_FAILED, c"CAMWIRE_E_VERIFY_FAILED"),
    (CAMWIRE_E_NO_REPLAY, c"CAMWIRE_E_NO_REPLAY"),
    (CAMWIRE_E_CANCELLED, c"CAMWIRE_E_CANCELLED"),
];

/// A failure on its way to C: a code and a message (never containing credentials: the core
/// never formats them, and the bindings format nothing but core errors and their own text).
#[derive(Debug)]
pub(crate) struct Error {
    pub code: camwire_result,
    pub message: String,
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: camwire_result, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }
    pub fn null(what: &str) -> Self {
        Error::new(CAMWIRE_E_NULL_POINTER, format!("{what} is NULL"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(CAMWIRE_E_INVALID_ARGUMENT, message)
    }
    pub fn closed(what: &str) -> Self {
        Error::new(CAMWIRE_E_CLOSED, format!("{what} is closed"))
    }
}

impl From<camwire_core::onvif::Error> for Error {
    fn from(e: camwire_core::onvif::Error) -> Self {
        use camwire_core::onvif::ErrorKind;
        let code = match e.kind() {
            ErrorKind::Connection => CAMWIRE_E_CONNECTION,
            ErrorKind::Auth => CAMWIRE_E_AUTH,
            ErrorKind::Timeout => CAMWIRE_E_TIMEOUT,
            ErrorKind::Protocol => CAMWIRE_E_PROTOCOL,
            ErrorKind::InvalidInput => CAMWIRE_E_INVALID_ARGUMENT,
        };
        Error::new(code, e.to_string())
    }
}

impl From<camwire_core::rtsp::RtspError> for Error {
    fn from(e: camwire_core::rtsp::RtspError) -> Self {
        use camwire_core::rtsp::RtspError;
        let code = match &e {
            RtspError::Url(_) => CAMWIRE_E_INVALID_ARGUMENT,
            RtspError::Auth { .. } => CAMWIRE_E_AUTH,
            RtspError::Timeout { .. } => CAMWIRE_E_TIMEOUT,
            RtspError::Sdp { .. } => CAMWIRE_E_PROTOCOL,
            RtspError::Protocol { .. } => CAMWIRE_E_CONNECTION,
        };
        Error::new(code, e.to_string())
    }
}

impl From<camwire_core::stream::StreamError> for Error {
    fn from(e: camwire_core::stream::StreamError) -> Self {
        use camwire_core::stream::StreamError;
        match e {
            StreamError::Rtsp(r) => r.into(),
            e @ StreamError::NoParameters(_) => Error::new(CAMWIRE_E_NO_STREAM_INFO, e.to_string()),
            e @ StreamError::BadParameters(_) => Error::new(CAMWIRE_E_PROTOCOL, e.to_string()),
        }
    }
}

impl From<camwire_core::record::RecordError> for Error {
    fn from(e: camwire_core::record::RecordError) -> Self {
        use camwire_core::record::RecordError;
        match e {
            RecordError::Rtsp(r) => r.into(),
            RecordError::Io(io) => io.into(),
            e @ RecordError::InvalidCameraId(..) => Error::invalid(e.to_string()),
            e @ RecordError::DuplicateCamera(_) => {
                Error::new(CAMWIRE_E_ALREADY_EXISTS, e.to_string())
            }
            #[allow(unreachable_patterns)]
            e => Error::new(CAMWIRE_E_IO, e.to_string()),
        }
    }
}

impl From<camwire_core::export::ExportError> for Error {
    fn from(e: camwire_core::export::ExportError) -> Self {
        use camwire_core::export::ExportError as E;
        let code = match &e {
            E::InvalidCameraId { .. } | E::BadRange { .. } => CAMWIRE_E_INVALID_ARGUMENT,
            E::UnknownCamera { .. } | E::NoRecording { .. } => CAMWIRE_E_NOT_FOUND,
            E::OutputExists(_) => CAMWIRE_E_ALREADY_EXISTS,
            E::Manifest { .. } => CAMWIRE_E_VERIFY_FAILED,
            E::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound => {
                CAMWIRE_E_NOT_FOUND
            }
            E::ParameterSetsChanged { .. } | E::TooLarge(_) => CAMWIRE_E_UNSUPPORTED,
            _ => CAMWIRE_E_IO,
        };
        Error::new(code, e.to_string())
    }
}

impl From<camwire_core::replay::ReplayError> for Error {
    fn from(e: camwire_core::replay::ReplayError) -> Self {
        use camwire_core::replay::ReplayError as R;
        use camwire_core::rtsp::client::ClientError as C;
        let code = match e {
            R::Onvif(o) => return o.into(),
            R::Output(x) => return x.into(),
            R::Url(_) | R::BadRange { .. } => CAMWIRE_E_INVALID_ARGUMENT,
            R::NoProfileG { .. } => CAMWIRE_E_NO_REPLAY,
            R::NoRecording { .. } => CAMWIRE_E_NOT_FOUND,
            R::ParameterSetsChanged { .. } => CAMWIRE_E_UNSUPPORTED,
            R::Rtsp(C::Io { .. } | C::Closed(_)) => CAMWIRE_E_CONNECTION,
            R::Rtsp(C::Timeout { .. }) => CAMWIRE_E_TIMEOUT,
            R::Rtsp(C::Auth) => CAMWIRE_E_AUTH,
            _ => CAMWIRE_E_PROTOCOL,
        };
        Error::new(code, e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let code = match e.kind() {
            std::io::ErrorKind::NotFound => CAMWIRE_E_NOT_FOUND,
            _ => CAMWIRE_E_IO,
        };
        Error::new(code, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
}

pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs an entry point's body: catches panics (CAMWIRE_E_PANIC), turns errors into codes and
/// records their message for `camwire_last_error_message`.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> camwire_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CAMWIRE_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.code
        }
        Err(p) => {
            set_last_error(&format!("panic in camwire: {}", panic_message(&*p)));
            CAMWIRE_E_PANIC
        }
    }
}

/// For entry points that return a value rather than a code (accessors, `_free`): a panic
/// yields `fallback`.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            set_last_error(&format!("panic in camwire: {}", panic_message(&*p)));
            fallback
        }
    }
}

/// `&T` from a handle pointer, or CAMWIRE_E_NULL_POINTER.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn arg<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: the caller promises `p` is NULL or valid.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null(what))
}

/// Checks an out-pointer for NULL.
pub(crate) fn out<T>(p: *mut T, what: &str) -> Result<*mut T> {
    if p.is_null() {
        Err(Error::null(what))
    } else {
        Ok(p)
    }
}

/// A required UTF-8 C string.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn cstr<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::invalid(format!("{what} is not UTF-8")))
}

/// An optional UTF-8 C string (NULL or "" = none).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn opt_cstr<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: as for `cstr`.
    let s = unsafe { cstr(p, what) }?;
    Ok(if s.is_empty() { None } else { Some(s) })
}

/// A required path (any bytes on Unix; UTF-8 elsewhere).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn cpath(p: *const c_char, what: &str) -> Result<std::path::PathBuf> {
    if p.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid(format!("{what} is empty")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(std::ffi::OsStr::from_bytes(bytes).into())
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(Into::into)
            .map_err(|_| Error::invalid(format!("{what} is not UTF-8")))
    }
}

/// A path as an owned C string.
pub(crate) fn path_cstring(p: &std::path::Path) -> CString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        CString::new(p.as_os_str().as_bytes().to_vec()).unwrap_or_default()
    }
    #[cfg(not(unix))]
    {
        to_cstring(&p.to_string_lossy())
    }
}

/// Unix microseconds of a wall-clock time (negative before 1970).
pub(crate) fn unix_us(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// The wall-clock time of Unix microseconds.
pub(crate) fn from_unix_us(us: i64) -> std::time::SystemTime {
    let d = std::time::Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        std::time::UNIX_EPOCH + d
    } else {
        std::time::UNIX_EPOCH - d
    }
}

/// A Rust string as an owned C string (interior NULs, which no camera should send, become
/// spaces).
pub(crate) fn to_cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Pointer to an optional C string, NULL for none.
pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

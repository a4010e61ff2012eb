//! Forwards the Rust `log` records of camwire to each context's C log callback.
//!
//! `log` has one process-wide logger; the bridge is installed the first time a context asks
//! for a callback. A record goes to the context whose work produced it (known on camwire's
//! threads and inside blocking calls); records from elsewhere go to every registered
//! callback. If the process already installed another `log` logger (another Rust library),
//! the bridge cannot be installed and callbacks receive nothing.
//!
//! Core never formats credentials, so no record carries a password.

use crate::context::{as_callback_thread, camwire_log_level, current_context};
use crate::error::to_cstring;
use std::ffi::c_void;
use std::sync::{Once, PoisonError, RwLock};

struct Sink {
    context: u64,
    callback: unsafe extern "C" fn(
        *mut c_void,
        camwire_log_level,
        *const std::ffi::c_char,
        *const std::ffi::c_char,
    ),
    user_data: *mut c_void,
    level: camwire_log_level,
}

// SAFETY: the C contract says the callback and its user_data are usable from any thread.
unsafe impl Send for Sink {}
// SAFETY: as above.
unsafe impl Sync for Sink {}

static SINKS: RwLock<Vec<Sink>> = RwLock::new(Vec::new());
static INSTALL: Once = Once::new();

struct Bridge;

fn level_of(l: log::Level) -> camwire_log_level {
    match l {
        log::Level::Error => 1,
        log::Level::Warn => 2,
        log::Level::Info => 3,
        log::Level::Debug => 4,
        log::Level::Trace => 5,
    }
}

fn filter_of(level: camwire_log_level) -> log::LevelFilter {
    match level {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        let l = level_of(metadata.level());
        SINKS
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|s| l <= s.level)
    }

    fn log(&self, record: &log::Record) {
        let l = level_of(record.level());
        let sinks = SINKS.read().unwrap_or_else(PoisonError::into_inner);
        let ctx = current_context();
        let known = ctx != 0 && sinks.iter().any(|s| s.context == ctx);
        let mut text = None;
        for s in sinks.iter() {
            if l > s.level || (known && s.context != ctx) {
                continue;
            }
            let (target, message) = text.get_or_insert_with(|| {
                (
                    to_cstring(record.target()),
                    to_cstring(&record.args().to_string()),
                )
            });
            // SAFETY: the registered C callback, with NUL-terminated strings that live for
            // the call. A panic cannot come out of C.
            as_callback_thread(|| unsafe {
                (s.callback)(s.user_data, l, target.as_ptr(), message.as_ptr())
            });
        }
    }

    fn flush(&self) {}
}

fn update_max_level(sinks: &[Sink]) {
    let max = sinks.iter().map(|s| s.level).max().unwrap_or(0);
    log::set_max_level(filter_of(max));
}

pub(crate) fn register(
    context: u64,
    callback: unsafe extern "C" fn(
        *mut c_void,
        camwire_log_level,
        *const std::ffi::c_char,
        *const std::ffi::c_char,
    ),
    user_data: *mut c_void,
    level: camwire_log_level,
) {
    INSTALL.call_once(|| {
        static BRIDGE: Bridge = Bridge;
        if log::set_logger(&BRIDGE).is_err() {
            // Someone else's logger: leave it; our callbacks stay silent.
        }
    });
    let mut sinks = SINKS.write().unwrap_or_else(PoisonError::into_inner);
    sinks.push(Sink {
        context,
        callback,
        user_data,
        level,
    });
    update_max_level(&sinks);
}

pub(crate) fn unregister(context: u64) {
    let mut sinks = SINKS.write().unwrap_or_else(PoisonError::into_inner);
    if sinks.iter().any(|s| s.context == context) {
        sinks.retain(|s| s.context != context);
        update_max_level(&sinks);
    }
}

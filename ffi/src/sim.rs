//! The built-in simulated camera (`camwire::sim`), for the quick start, tests and benchmarks:
//! an RTSP server on 127.0.0.1 streaming a committed H.264 clip, on its own thread.

use crate::error::*;
use std::ffi::{CString, c_char};

/// Options for `camwire_sim_start`. Fill with `camwire_sim_options_default` first.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_sim_options {
    /// TCP port on 127.0.0.1 (0 = any free port; read it back with `camwire_sim_url`).
    pub port: u16,
    /// True: 25 frames per second as a camera would; false: as fast as the client reads.
    pub realtime: bool,
    /// True: loop the clip for ever; false: RTCP BYE at the clip's end.
    pub loop_clip: bool,
    /// Stop (RTCP BYE) after this many ms of media; 0 = no limit.
    pub max_duration_ms: u32,
    /// When not NULL, every request needs Digest auth with these credentials.
    pub username: *const c_char,
    /// Password for `username`.
    pub password: *const c_char,
}

impl Default for camwire_sim_options {
    fn default() -> Self {
        camwire_sim_options {
            port: 0,
            realtime: true,
            loop_clip: true,
            max_duration_ms: 0,
            username: std::ptr::null(),
            password: std::ptr::null(),
        }
    }
}

/// A running simulated camera; stop and free with `camwire_sim_free`.
pub struct camwire_sim {
    #[cfg(feature = "sim")]
    _sim: camwire_core::sim::BlockingSimCamera,
    url: CString,
}

/// Fills `options` with the defaults: any port, realtime, looping, no auth.
#[unsafe(no_mangle)]
pub extern "C" fn camwire_sim_options_default(options: *mut camwire_sim_options) -> camwire_result {
    guard(|| {
        let o = out(options, "options")?;
        // SAFETY: non-NULL writable storage per the caller.
        unsafe { o.write(camwire_sim_options::default()) };
        Ok(())
    })
}

/// Starts a simulated camera (`options` may be NULL). Its URL is `camwire_sim_url`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT, CAMWIRE_E_IO (port in use),
/// CAMWIRE_E_UNSUPPORTED (library built without the `sim` feature).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_sim_start(
    options: *const camwire_sim_options,
    out_sim: *mut *mut camwire_sim,
) -> camwire_result {
    guard(|| {
        let out_sim = out(out_sim, "out_sim")?;
        // SAFETY: NULL or a valid struct.
        let o = unsafe { options.as_ref() }.copied().unwrap_or_default();
        // SAFETY: NULL or NUL-terminated strings.
        let user = unsafe { opt_cstr(o.username, "options.username") }?;
        let pass = unsafe { opt_cstr(o.password, "options.password") }?;
        #[cfg(feature = "sim")]
        {
            use camwire_core::sim::{SimCamera, SimOptions};
            let opts = SimOptions {
                bind: std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, o.port)),
                credentials: user.map(|u| (u.to_string(), pass.unwrap_or("").to_string())),
                realtime: o.realtime,
                loop_clip: o.loop_clip,
                max_duration: (o.max_duration_ms > 0)
                    .then(|| std::time::Duration::from_millis(u64::from(o.max_duration_ms))),
                ..SimOptions::default()
            };
            let sim = SimCamera::start_blocking(opts)?;
            let url = to_cstring(&sim.rtsp_url());
            // SAFETY: checked non-NULL.
            unsafe { out_sim.write(Box::into_raw(Box::new(camwire_sim { _sim: sim, url }))) };
            Ok(())
        }
        #[cfg(not(feature = "sim"))]
        {
            let _ = (out_sim, o, user, pass);
            Err(Error::new(
                CAMWIRE_E_UNSUPPORTED,
                "built without the sim feature",
            ))
        }
    })
}

/// The sim's `rtsp://127.0.0.1:PORT/stream` URL (NULL for NULL); valid until it is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_sim_url(sim: *const camwire_sim) -> *const c_char {
    // SAFETY: NULL or a live sim.
    guard_value(std::ptr::null(), || {
        unsafe { sim.as_ref() }.map_or(std::ptr::null(), |s| s.url.as_ptr())
    })
}

/// Stops the sim (ending its sessions) and frees it (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_sim_free(sim: *mut camwire_sim) {
    guard_value((), || {
        if !sim.is_null() {
            // SAFETY: made by camwire_sim_start, not freed yet.
            drop(unsafe { Box::from_raw(sim) });
        }
    })
}

//! The built-in simulated camera (`camwire::sim`), for the quick start, tests and benchmarks:
//! an RTSP server on 127.0.0.1 streaming a committed H.264 clip, on its own thread.

use crate::error::*;
use std::ffi::{CString, c_char};

/// Options for `camwire_sim_start2`. Fill with `camwire_sim_options_init` first.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_sim_options {
    /// `sizeof(camwire_sim_options)` as the caller compiled it (set by
    /// `camwire_sim_options_init`).
    pub struct_size: usize,
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

crate::abi::growable!(
    camwire_sim_options,
    password: *const c_char,
    camwire_sim_options::default()
);

impl Default for camwire_sim_options {
    fn default() -> Self {
        camwire_sim_options {
            struct_size: std::mem::size_of::<camwire_sim_options>(),
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
    xaddr: Option<CString>,
}

/// Fills `options` (`struct_size` bytes: pass `sizeof *options`) with the defaults: any
/// port, realtime, looping, no auth; sets `options->struct_size`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_sim_options_init(
    options: *mut camwire_sim_options,
    struct_size: usize,
) -> camwire_result {
    // SAFETY: NULL or `struct_size` writable bytes per the caller.
    guard(|| unsafe { crate::abi::init(options, struct_size) })
}

/// Starts a simulated camera (`options` may be NULL): RTSP (`camwire_sim_url`) and an ONVIF
/// device on 127.0.0.1 (`camwire_sim_xaddr`: device, media and PullPoint events with a
/// simulated motion detector that changes state every 2 s).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`),
/// CAMWIRE_E_UNSUPPORTED (unknown options set, or a library built without the `sim`
/// feature), CAMWIRE_E_IO (port in use).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_sim_start2(
    options: *const camwire_sim_options,
    out_sim: *mut *mut camwire_sim,
) -> camwire_result {
    // SAFETY: NULL or a valid options struct per the C contract.
    guard(|| unsafe { sim_start(crate::abi::read(options)?, out_sim) })
}

/// `camwire_sim_start2` with read options (also behind the 0.1 entry point).
///
/// # Safety
/// The strings in the options are NULL or NUL-terminated.
pub(crate) unsafe fn sim_start(
    o: Option<camwire_sim_options>,
    out_sim: *mut *mut camwire_sim,
) -> Result<()> {
    let out_sim = out(out_sim, "out_sim")?;
    let o = o.unwrap_or_default();
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
        let xaddr = sim.xaddr().as_deref().map(to_cstring);
        let boxed = Box::new(camwire_sim {
            _sim: sim,
            url,
            xaddr,
        });
        // SAFETY: checked non-NULL.
        unsafe { out_sim.write(Box::into_raw(boxed)) };
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
}

/// The sim's `rtsp://127.0.0.1:PORT/stream` URL (NULL for NULL); valid until it is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_sim_url(sim: *const camwire_sim) -> *const c_char {
    // SAFETY: NULL or a live sim.
    guard_value(std::ptr::null(), || {
        unsafe { sim.as_ref() }.map_or(std::ptr::null(), |s| s.url.as_ptr())
    })
}

/// The sim's ONVIF device-service address (`http://127.0.0.1:PORT/onvif/device_service`, for
/// `camwire_device_open`), or NULL for NULL; valid until the sim is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_sim_xaddr(sim: *const camwire_sim) -> *const c_char {
    // SAFETY: NULL or a live sim.
    guard_value(std::ptr::null(), || {
        unsafe { sim.as_ref() }.map_or(std::ptr::null(), |s| opt_ptr(&s.xaddr))
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

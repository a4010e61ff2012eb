//! The camwire 0.1.0 ABI, kept for binaries built against the 0.1.0 header (a copy is
//! `ffi/tests/compat/camwire_v0_1_0.h`). Its structs had no `struct_size`, so the library
//! cannot tell their size from their contents: these entry points keep their 0.1.0 names and
//! layouts for ever (within SONAME libcamwire.so.0), while the growable successors have new
//! names (`camwire_*_options_init`, `camwire_context_new2`, `camwire_frame_get_info2`, ...).
//! Each one here converts between the two layouts and calls the same code as its successor.
//! Not in the header (cbindgen ignores this module).

use crate::context::{camwire_context, camwire_context_options, camwire_log_callback};
use crate::device::*;
use crate::error::*;
use crate::export::*;
use crate::recorder::*;
use crate::sim::*;
use crate::stream::*;
use std::ffi::{c_char, c_void};

/// A 0.1.0 struct: the same fields as its successor without `struct_size`.
macro_rules! v0_1_struct {
    ($old:ident, $new:ident, { $($f:ident: $t:ty),* $(,)? }) => {
        #[repr(C)]
        #[derive(Clone, Copy)]
        pub struct $old {
            $(pub $f: $t,)*
        }
        impl From<$new> for $old {
            fn from(n: $new) -> Self {
                $old { $($f: n.$f,)* }
            }
        }
        impl From<$old> for $new {
            fn from(o: $old) -> Self {
                // Fields appended since 0.1.0 keep their defaults.
                #[allow(clippy::needless_update)]
                $new {
                    struct_size: std::mem::size_of::<$new>(),
                    $($f: o.$f,)*
                    ..<$new as crate::abi::Growable>::initial()
                }
            }
        }
    };
}

v0_1_struct!(camwire_context_options_v0_1, camwire_context_options, {
    worker_threads: u32,
    log_callback: camwire_log_callback,
    log_user_data: *mut c_void,
    log_level: u32,
});
v0_1_struct!(camwire_discovered_device_v0_1, camwire_discovered_device, {
    endpoint_reference: *const c_char,
    xaddr: *const c_char,
    xaddrs: *const c_char,
    name: *const c_char,
    hardware: *const c_char,
    location: *const c_char,
    scopes: *const c_char,
});
v0_1_struct!(camwire_device_info_view_v0_1, camwire_device_info_view, {
    manufacturer: *const c_char,
    model: *const c_char,
    firmware_version: *const c_char,
    serial_number: *const c_char,
    hardware_id: *const c_char,
});
v0_1_struct!(camwire_profile_v0_1, camwire_profile, {
    token: *const c_char,
    name: *const c_char,
    encoding: *const c_char,
    width: u32,
    height: u32,
    fps: f64,
    stream_uri: *const c_char,
    snapshot_uri: *const c_char,
});
v0_1_struct!(camwire_time_range_v0_1, camwire_time_range, {
    start_us: i64,
    end_us: i64,
});
v0_1_struct!(camwire_gap_v0_1, camwire_gap, {
    start_us: i64,
    end_us: i64,
    reason: *const c_char,
});
v0_1_struct!(camwire_export_view_v0_1, camwire_export_view, {
    output: *const c_char,
    manifest_path: *const c_char,
    manifest_json: *const c_char,
    frames: u64,
    actual_start_us: i64,
    actual_end_us: i64,
    gap_count: usize,
});
v0_1_struct!(camwire_verify_view_v0_1, camwire_verify_view, {
    ok: bool,
    output_matches: bool,
    sources: usize,
    missing_sources: usize,
    problems: *const c_char,
});
v0_1_struct!(camwire_recorder_options_v0_1, camwire_recorder_options, {
    segment_secs: u32,
    fragment_ms: u32,
    fsync: u32,
    fsync_interval_ms: u32,
    reconnect: bool,
    retention_max_age_secs: u64,
    retention_max_bytes_per_camera: u64,
    retention_max_bytes_total: u64,
    retention_interval_ms: u32,
});
v0_1_struct!(camwire_stream_options_v0_1, camwire_stream_options, {
    username: *const c_char,
    password: *const c_char,
    transport: u32,
    connect_timeout_ms: u32,
    request_timeout_ms: u32,
    idle_timeout_ms: u32,
});
v0_1_struct!(camwire_camera_status_v0_1, camwire_camera_status, {
    id: *const c_char,
    state: u32,
    since_us: i64,
    frames: u64,
    bytes: u64,
    files: u64,
    bitrate_bps: f64,
    frame_rate: f64,
    lost_packets: u64,
    dropped_frames: u64,
    reconnects: u64,
    last_error: *const c_char,
    current_file: *const c_char,
    gap_count: usize,
});
v0_1_struct!(camwire_recorder_event_v0_1, camwire_recorder_event, {
    camera: *const c_char,
    kind: u32,
    message: *const c_char,
    start_us: i64,
    end_us: i64,
    frames: u64,
    bytes: u64,
});
v0_1_struct!(camwire_sim_options_v0_1, camwire_sim_options, {
    port: u16,
    realtime: bool,
    loop_clip: bool,
    max_duration_ms: u32,
    username: *const c_char,
    password: *const c_char,
});
v0_1_struct!(camwire_stream_info_view_v0_1, camwire_stream_info_view, {
    codec: *const c_char,
    profile: *const c_char,
    profile_idc: u8,
    level_idc: u8,
    width: u32,
    height: u32,
    fps: f64,
    transport: u32,
    from_sdp: bool,
    avcc: *const u8,
    avcc_len: usize,
});
v0_1_struct!(camwire_frame_info_v0_1, camwire_frame_info, {
    pts: i64,
    dts: i64,
    wallclock_us: i64,
    keyframe: bool,
    loss: u32,
    payload_size: usize,
    nal_count: u32,
});

/// A recorder event callback registered through the 0.1.0 entry point.
pub(crate) type EventCallbackV0_1 =
    unsafe extern "C" fn(user_data: *mut c_void, event: *const camwire_recorder_event_v0_1);

/// Hands `e` to a 0.1.0 callback in the 0.1.0 layout.
pub(crate) fn deliver_event(
    cb: EventCallbackV0_1,
    user_data: *mut c_void,
    e: &camwire_recorder_event,
) {
    let old = camwire_recorder_event_v0_1::from(*e);
    // SAFETY: the registered callback, with an event valid for the call.
    unsafe { cb(user_data, &old) };
}

/// Writes a 0.1.0 out-struct (whose size is fixed: the type's).
fn put<T>(p: *mut T, what: &str, v: T) -> Result<()> {
    let p = out(p, what)?;
    // SAFETY: non-NULL; the caller gives storage for the 0.1.0 struct.
    unsafe { p.write(v) };
    Ok(())
}

/// Reads a 0.1.0 options struct (NULL = defaults).
///
/// # Safety
/// `p` is NULL or a valid 0.1.0 struct.
unsafe fn take<O: Copy + Into<N>, N>(p: *const O) -> Option<N> {
    // SAFETY: per the function contract.
    unsafe { p.as_ref() }.map(|o| (*o).into())
}

// ---- options ----

#[unsafe(no_mangle)]
pub extern "C" fn camwire_context_options_default(
    options: *mut camwire_context_options_v0_1,
) -> camwire_result {
    guard(|| {
        put(
            options,
            "options",
            camwire_context_options::default().into(),
        )
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_context_new(
    options: *const camwire_context_options_v0_1,
    out_context: *mut *mut camwire_context,
) -> camwire_result {
    guard(|| {
        let out_context = out(out_context, "out_context")?;
        // SAFETY: NULL or a valid 0.1.0 struct.
        let o = unsafe { take(options) }.unwrap_or_default();
        crate::context::context_new(o, out_context)
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn camwire_stream_options_default(
    options: *mut camwire_stream_options_v0_1,
) -> camwire_result {
    guard(|| put(options, "options", camwire_stream_options::default().into()))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_open(
    context: *const camwire_context,
    url: *const c_char,
    options: *const camwire_stream_options_v0_1,
    out_stream: *mut *mut camwire_stream,
) -> camwire_result {
    // SAFETY: the 0.1.0 contract.
    guard(|| unsafe { stream_open(context, url, take(options), out_stream) })
}

#[unsafe(no_mangle)]
pub extern "C" fn camwire_recorder_options_default(
    options: *mut camwire_recorder_options_v0_1,
) -> camwire_result {
    guard(|| {
        put(
            options,
            "options",
            camwire_recorder_options::default().into(),
        )
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_new(
    context: *const camwire_context,
    root: *const c_char,
    options: *const camwire_recorder_options_v0_1,
    out_recorder: *mut *mut camwire_recorder,
) -> camwire_result {
    // SAFETY: the 0.1.0 contract.
    guard(|| unsafe { recorder_new(context, root, take(options), out_recorder) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_add_camera(
    recorder: *const camwire_recorder,
    id: *const c_char,
    url: *const c_char,
    options: *const camwire_stream_options_v0_1,
) -> camwire_result {
    // SAFETY: the 0.1.0 contract.
    guard(|| unsafe { add_camera(recorder, id, url, take(options)) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recorder_set_event_callback(
    recorder: *const camwire_recorder,
    callback: Option<EventCallbackV0_1>,
    user_data: *mut c_void,
    free_user_data: camwire_free_user_data,
) -> camwire_result {
    let ud = crate::context::UserData(user_data, free_user_data);
    // SAFETY: the 0.1.0 contract.
    guard(move || unsafe { set_event_callback(recorder, callback.map(EventSink::V0_1), ud) })
}

#[unsafe(no_mangle)]
pub extern "C" fn camwire_sim_options_default(
    options: *mut camwire_sim_options_v0_1,
) -> camwire_result {
    guard(|| put(options, "options", camwire_sim_options::default().into()))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_sim_start(
    options: *const camwire_sim_options_v0_1,
    out_sim: *mut *mut camwire_sim,
) -> camwire_result {
    // SAFETY: the 0.1.0 contract.
    guard(|| unsafe { sim_start(take(options), out_sim) })
}

// ---- out-structs ----

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_list_get(
    list: *const camwire_device_list,
    index: usize,
    out_device: *mut camwire_discovered_device_v0_1,
) -> camwire_result {
    guard(|| {
        let out_device = out(out_device, "out_device")?;
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { camwire_device_list_get_value(list, index) }?;
        put(out_device, "out_device", v.into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_info_get(
    info: *const camwire_device_info,
    out_view: *mut camwire_device_info_view_v0_1,
) -> camwire_result {
    guard(|| {
        let out_view = out(out_view, "out_view")?;
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { camwire_device_info_get_value(info) }?;
        put(out_view, "out_view", v.into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_profile_list_get(
    list: *const camwire_profile_list,
    index: usize,
    out_profile: *mut camwire_profile_v0_1,
) -> camwire_result {
    guard(|| {
        let out_profile = out(out_profile, "out_profile")?;
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { camwire_profile_list_get_value(list, index) }?;
        put(out_profile, "out_profile", v.into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_range_list_get(
    list: *const camwire_range_list,
    index: usize,
    out_range: *mut camwire_time_range_v0_1,
) -> camwire_result {
    guard(|| {
        let out_range = out(out_range, "out_range")?;
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { camwire_range_list_get_value(list, index) }?;
        put(out_range, "out_range", v.into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_range_list_gap(
    list: *const camwire_range_list,
    index: usize,
    out_gap: *mut camwire_gap_v0_1,
) -> camwire_result {
    guard(|| {
        let out_gap = out(out_gap, "out_gap")?;
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { camwire_range_list_gap_value(list, index) }?;
        put(out_gap, "out_gap", v.into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_export_result_get(
    result: *const camwire_export_result,
    out_view: *mut camwire_export_view_v0_1,
) -> camwire_result {
    guard(|| {
        let out_view = out(out_view, "out_view")?;
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { camwire_export_result_get_value(result) }?;
        put(out_view, "out_view", v.into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_verify_report_get(
    report: *const camwire_verify_report,
    out_view: *mut camwire_verify_view_v0_1,
) -> camwire_result {
    guard(|| {
        let out_view = out(out_view, "out_view")?;
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { camwire_verify_report_get_value(report) }?;
        put(out_view, "out_view", v.into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_status_list_get(
    list: *const camwire_status_list,
    index: usize,
    out_status: *mut camwire_camera_status_v0_1,
) -> camwire_result {
    guard(|| {
        let out_status = out(out_status, "out_status")?;
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { status_at(list, index) }?;
        put(out_status, "out_status", v.into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_info_get(
    info: *const camwire_stream_info,
    out_view: *mut camwire_stream_info_view_v0_1,
) -> camwire_result {
    guard(|| {
        // SAFETY: the 0.1.0 contract.
        let i = unsafe { arg(info, "info") }?;
        let out_view = out(out_view, "out_view")?;
        put(out_view, "out_view", stream_info_view(i).into())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_get_info(
    frame: *const camwire_frame,
    out_info: *mut camwire_frame_info_v0_1,
) -> camwire_result {
    guard(|| {
        // SAFETY: the 0.1.0 contract.
        let v = unsafe { frame_info(frame) }?;
        put(out_info, "out_info", v.into())
    })
}

// The 0.1.0 layouts as a 64-bit C compiler laid out the 0.1.0 header (checked at build time;
// ffi/tests/compat.rs runs a program built against that header).
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::size_of;
    assert!(size_of::<camwire_context_options_v0_1>() == 32);
    assert!(size_of::<camwire_stream_options_v0_1>() == 32);
    assert!(size_of::<camwire_recorder_options_v0_1>() == 56);
    assert!(size_of::<camwire_sim_options_v0_1>() == 24);
    assert!(size_of::<camwire_frame_info_v0_1>() == 48);
    assert!(size_of::<camwire_recorder_event_v0_1>() == 56);
    assert!(size_of::<camwire_camera_status_v0_1>() == 112);
};

//! Footage off the device (ONVIF Profile G): the recordings a device holds
//! (`camwire::onvif::search`: Recording Search, and FindEvents for the ranges with data and
//! the gaps) and fetching a time range of one into an MP4 with its manifest
//! (`camwire::replay::fetch_recording` / `fetch`).

use crate::context::*;
use crate::device::camwire_device;
use crate::error::*;
use crate::export::{
    CAMWIRE_EXPORT_FRAGMENTED, CAMWIRE_EXPORT_PROGRESSIVE, CAMWIRE_TIME_MAX, CAMWIRE_TIME_MIN,
    camwire_export_format, camwire_export_result, camwire_time_range,
};
use camwire_core::export::OutputFormat;
use camwire_core::onvif::search::{Covering, RecordingInformation, Span, covering, present_ranges};
use camwire_core::onvif::{Credentials, OnvifDevice};
use camwire_core::replay::{
    self, FetchOptions, FetchProgress, FetchSummary, ReplayError, Vendor, VendorPlayback,
};
use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

// ---- recordings ------------------------------------------------------------------------------

struct TrackStrings {
    token: CString,
    kind: CString,
    description: CString,
    data_from_us: i64,
    data_to_us: i64,
}

struct RecordingStrings {
    token: CString,
    source_id: CString,
    source_name: CString,
    location: CString,
    description: CString,
    content: CString,
    status: CString,
    earliest_us: i64,
    latest_us: i64,
    suspect_time: bool,
    tracks: Vec<TrackStrings>,
    ranges: Vec<(i64, i64)>,
    gaps: Vec<(i64, i64)>,
}

/// The recordings of a device (`camwire_device_recordings`); free with
/// `camwire_recording_list_free`.
pub struct camwire_recording_list {
    items: Vec<RecordingStrings>,
}

/// One recording of a device, borrowed from its list (pointers valid until it is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_device_recording {
    /// Set by the caller before `camwire_recording_list_get` (`camwire_struct_init`); on
    /// return the bytes camwire filled.
    pub struct_size: usize,
    /// Recording token: what `camwire_fetch_options.recording_token` takes.
    pub token: *const c_char,
    /// `Source/SourceId`.
    pub source_id: *const c_char,
    /// `Source/Name`.
    pub source_name: *const c_char,
    /// `Source/Location`.
    pub location: *const c_char,
    /// `Source/Description`.
    pub description: *const c_char,
    /// `Content`.
    pub content: *const c_char,
    /// `Initiated`, `Recording`, `Stopped`, `Removing`, `Removed` or `Unknown`.
    pub status: *const c_char,
    /// Earliest recorded time, Unix us; CAMWIRE_TIME_MIN when the device did not say.
    pub earliest_us: i64,
    /// Latest recorded time, Unix us; CAMWIRE_TIME_MAX when the device did not say.
    pub latest_us: i64,
    /// A time before 2000 or without a UTC offset: the device clock was probably not set.
    pub suspect_time: bool,
    /// Tracks (`camwire_recording_list_track`).
    pub track_count: usize,
    /// Ranges with data inside the window asked for (`camwire_recording_list_range`); 0
    /// without a window.
    pub range_count: usize,
    /// Gaps between those ranges (`camwire_recording_list_gap`).
    pub gap_count: usize,
}

crate::abi::growable!(camwire_device_recording, gap_count: usize, unsafe { crate::abi::zeroed() });

/// One track of a device recording, borrowed from its list.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_recording_track {
    /// Set by the caller before `camwire_recording_list_track` (`camwire_struct_init`); on
    /// return the bytes camwire filled.
    pub struct_size: usize,
    /// Track token.
    pub token: *const c_char,
    /// `Video`, `Audio`, `Metadata` or `Extended`.
    pub kind: *const c_char,
    /// Description.
    pub description: *const c_char,
    /// First data of the track, Unix us; CAMWIRE_TIME_MIN when unknown.
    pub data_from_us: i64,
    /// Last data of the track, Unix us; CAMWIRE_TIME_MAX when unknown.
    pub data_to_us: i64,
}

crate::abi::growable!(camwire_recording_track, data_to_us: i64, unsafe { crate::abi::zeroed() });

fn ts_us(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

fn opt_us(t: Option<jiff::Timestamp>, unknown: i64) -> i64 {
    t.map_or(unknown, ts_us)
}

fn us_ts(us: i64, what: &str) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_microsecond(us)
        .map_err(|_| Error::invalid(format!("{what} {us} us is out of range")))
}

fn strings(r: RecordingInformation, spans: Option<(Vec<Span>, Vec<Span>)>) -> RecordingStrings {
    let pairs = |v: &[Span]| v.iter().map(|(a, b)| (ts_us(*a), ts_us(*b))).collect();
    let (ranges, gaps) = spans
        .map(|(r, g)| (pairs(&r), pairs(&g)))
        .unwrap_or_default();
    RecordingStrings {
        token: to_cstring(&r.token),
        source_id: to_cstring(&r.source_id),
        source_name: to_cstring(&r.source_name),
        location: to_cstring(&r.location),
        description: to_cstring(&r.description),
        content: to_cstring(&r.content),
        status: to_cstring(&r.status),
        earliest_us: opt_us(r.earliest, CAMWIRE_TIME_MIN),
        latest_us: opt_us(r.latest, CAMWIRE_TIME_MAX),
        suspect_time: r.suspect_time,
        tracks: r
            .tracks
            .iter()
            .map(|t| TrackStrings {
                token: to_cstring(&t.token),
                kind: to_cstring(&t.kind),
                description: to_cstring(&t.description),
                data_from_us: opt_us(t.data_from, CAMWIRE_TIME_MIN),
                data_to_us: opt_us(t.data_to, CAMWIRE_TIME_MAX),
            })
            .collect(),
        ranges,
        gaps,
    }
}

/// Lists the recordings `device` holds (ONVIF Recording Search: every recording, paged to
/// the end, the search session always ended), each with its token, source, earliest and
/// latest times and tracks. With a window (`start_us` < `end_us`, Unix us), each recording
/// also gets the ranges holding data inside it and the gaps between them (FindEvents on
/// `RecordingHistory/Track/State`); `start_us` = CAMWIRE_TIME_MIN and `end_us` =
/// CAMWIRE_TIME_MAX ask for no window. Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (one open end, start >= end),
/// CAMWIRE_E_CLOSED, CAMWIRE_E_WRONG_THREAD, ONVIF errors (a device without a Search
/// service: CAMWIRE_E_PROTOCOL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_recordings(
    device: *const camwire_device,
    start_us: i64,
    end_us: i64,
    out_list: *mut *mut camwire_recording_list,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let d = unsafe { crate::error::arg(device, "device") }?.open()?;
        let out_list = out(out_list, "out_list")?;
        let window = match (start_us == CAMWIRE_TIME_MIN, end_us == CAMWIRE_TIME_MAX) {
            (true, true) => None,
            (false, false) => {
                if start_us >= end_us {
                    return Err(Error::invalid(format!(
                        "start_us {start_us} is not before end_us {end_us}"
                    )));
                }
                Some((us_ts(start_us, "start_us")?, us_ts(end_us, "end_us")?))
            }
            _ => {
                return Err(Error::invalid(
                    "give both start_us and end_us (a window for ranges and gaps), or \
                     CAMWIRE_TIME_MIN and CAMWIRE_TIME_MAX for none",
                ));
            }
        };
        let dev = &d.dev;
        let items = d.ctx.block_on(async {
            let recs = dev.recordings().await?;
            let mut items = Vec::with_capacity(recs.len());
            for r in recs {
                let spans = match window {
                    Some((start, end)) => {
                        let events = dev.data_presence(&r.token, start, end).await?;
                        Some(present_ranges(&events, start, end))
                    }
                    None => None,
                };
                items.push(strings(r, spans));
            }
            Ok(items)
        })?;
        let l = Box::new(camwire_recording_list { items });
        // SAFETY: checked non-NULL.
        unsafe { out_list.write(Box::into_raw(l)) };
        Ok(())
    })
}

/// Number of recordings in the list (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recording_list_len(list: *const camwire_recording_list) -> usize {
    // SAFETY: NULL or a live list.
    guard_value(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// # Safety
/// `list` NULL or live.
unsafe fn item<'a>(
    list: *const camwire_recording_list,
    index: usize,
) -> Result<&'a RecordingStrings> {
    // SAFETY: NULL or a live list.
    let l = unsafe { crate::error::arg(list, "list") }?;
    l.items.get(index).ok_or_else(|| {
        Error::new(
            CAMWIRE_E_OUT_OF_RANGE,
            format!("recording index {index} of {}", l.items.len()),
        )
    })
}

/// The recording at `index`, as borrowed pointers into the list, into `out_recording` (its
/// `struct_size` set by the caller, e.g. with `camwire_struct_init`).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recording_list_get(
    list: *const camwire_recording_list,
    index: usize,
    out_recording: *mut camwire_device_recording,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live list.
        let r = unsafe { item(list, index) }?;
        let v = camwire_device_recording {
            struct_size: std::mem::size_of::<camwire_device_recording>(),
            token: r.token.as_ptr(),
            source_id: r.source_id.as_ptr(),
            source_name: r.source_name.as_ptr(),
            location: r.location.as_ptr(),
            description: r.description.as_ptr(),
            content: r.content.as_ptr(),
            status: r.status.as_ptr(),
            earliest_us: r.earliest_us,
            latest_us: r.latest_us,
            suspect_time: r.suspect_time,
            track_count: r.tracks.len(),
            range_count: r.ranges.len(),
            gap_count: r.gaps.len(),
        };
        // SAFETY: NULL or `struct_size` writable bytes per the caller.
        unsafe { crate::abi::write(out_recording, v) }
    })
}

/// Track `track_index` of recording `index`, into `out_track` (its `struct_size` set by
/// the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recording_list_track(
    list: *const camwire_recording_list,
    index: usize,
    track_index: usize,
    out_track: *mut camwire_recording_track,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live list.
        let r = unsafe { item(list, index) }?;
        let t = r.tracks.get(track_index).ok_or_else(|| {
            Error::new(
                CAMWIRE_E_OUT_OF_RANGE,
                format!("track index {track_index} of {}", r.tracks.len()),
            )
        })?;
        let v = camwire_recording_track {
            struct_size: std::mem::size_of::<camwire_recording_track>(),
            token: t.token.as_ptr(),
            kind: t.kind.as_ptr(),
            description: t.description.as_ptr(),
            data_from_us: t.data_from_us,
            data_to_us: t.data_to_us,
        };
        // SAFETY: NULL or `struct_size` writable bytes per the caller.
        unsafe { crate::abi::write(out_track, v) }
    })
}

fn span_at(spans: &[(i64, i64)], i: usize, what: &str) -> Result<camwire_time_range> {
    let (start_us, end_us) = *spans.get(i).ok_or_else(|| {
        Error::new(
            CAMWIRE_E_OUT_OF_RANGE,
            format!("{what} index {i} of {}", spans.len()),
        )
    })?;
    Ok(camwire_time_range {
        struct_size: std::mem::size_of::<camwire_time_range>(),
        start_us,
        end_us,
    })
}

/// Range `range_index` with data (inside the window given to `camwire_device_recordings`)
/// of recording `index`, into `out_range` (its `struct_size` set by the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recording_list_range(
    list: *const camwire_recording_list,
    index: usize,
    range_index: usize,
    out_range: *mut camwire_time_range,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live list.
        let r = unsafe { item(list, index) }?;
        let v = span_at(&r.ranges, range_index, "range")?;
        // SAFETY: NULL or `struct_size` writable bytes per the caller.
        unsafe { crate::abi::write(out_range, v) }
    })
}

/// Gap `gap_index` (no data on the device between two ranges) of recording `index`, into
/// `out_gap` (its `struct_size` set by the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recording_list_gap(
    list: *const camwire_recording_list,
    index: usize,
    gap_index: usize,
    out_gap: *mut camwire_time_range,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live list.
        let r = unsafe { item(list, index) }?;
        let v = span_at(&r.gaps, gap_index, "gap")?;
        // SAFETY: NULL or `struct_size` writable bytes per the caller.
        unsafe { crate::abi::write(out_gap, v) }
    })
}

/// Frees a recording list (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_recording_list_free(list: *mut camwire_recording_list) {
    guard_value((), || {
        if !list.is_null() {
            // SAFETY: made by camwire_device_recordings, not freed yet.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

// ---- fetch -----------------------------------------------------------------------------------

/// Options for `camwire_device_fetch` and `camwire_fetch_url`. Fill with
/// `camwire_fetch_options_init` first.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_fetch_options {
    /// `sizeof(camwire_fetch_options)` as the caller compiled it (set by
    /// `camwire_fetch_options_init`).
    pub struct_size: usize,
    /// `camwire_device_fetch`: the recording to fetch (a token from
    /// `camwire_device_recordings`); NULL: the device's one recording that covers the range
    /// (none is CAMWIRE_E_NOT_FOUND, several CAMWIRE_E_INVALID_ARGUMENT).
    pub recording_token: *const c_char,
    /// `CAMWIRE_EXPORT_PROGRESSIVE` (default) or `CAMWIRE_EXPORT_FRAGMENTED`.
    pub format: camwire_export_format,
    /// Ask for real-time playback (`Rate-Control: yes`) instead of as fast as the device
    /// sends (default false).
    pub real_time: bool,
    /// The manifest's `camera_id` (NULL: the replay URI's host and port).
    pub camera_id: *const c_char,
    /// Bound on each RTSP request's answer, ms (0 = 10 s).
    pub request_timeout_ms: u32,
    // Fields below were appended in 0.1.x (issue 13): a caller built against an older header
    // passes a smaller `struct_size` and gets their defaults.
    /// `camwire_fetch_url` only: play a vendor's own playback URL instead of an ONVIF replay
    /// URI, for devices without a working Profile G. `"hikvision"` (also `hiwatch`,
    /// `hilook`, `ezviz`): `/Streaming/tracks/<channel>01?starttime=…Z&endtime=…Z` in UTC;
    /// `"dahua"` (also `kbvision`, `imou`, `amcrest`, `cpplus`):
    /// `/cam/playback?channel=<n>&subtype=0&starttime=Y_M_D_h_m_s&endtime=…` in the device's
    /// local time (`device_tz` needed); `"uniview"` (also `unv`):
    /// `/c<n>/b<unix>/e<unix>/replay/`. Any case. The URL given is then the device's
    /// `rtsp://[user:pass@]host[:port]` (its path and query are replaced). Such a session
    /// has no `Require: onvif-replay`, `Range: clock=` or `Rate-Control` (the device sends
    /// at its own pace, usually real time) and no 0xABAC times: frames are timed from RTP,
    /// the first at `start_us`, and the manifest's origin says `vendor-playback` and
    /// `times_from: rtp`. An unknown name is CAMWIRE_E_INVALID_ARGUMENT (the message lists
    /// the names). NULL or "" (default): `url` is a replay URI.
    pub vendor: *const c_char,
    /// With `vendor`: the device's time zone, for vendors whose URLs carry local time
    /// (Dahua): `"+07:00"`, `"-0330"`, `"UTC"`, or a zone name (`"Asia/Ho_Chi_Minh"`).
    /// NULL (default): none (a Dahua fetch is then CAMWIRE_E_INVALID_ARGUMENT).
    pub device_tz: *const c_char,
    /// Called with the fetch's progress (`camwire_fetch_progress_callback`); NULL (default):
    /// none.
    pub progress: camwire_fetch_progress_callback,
    /// Passed as the first argument of every `progress` call; camwire never dereferences or
    /// frees it.
    pub progress_user_data: *mut c_void,
    /// With `vendor`: the channel, from 1 (0, the default, means 1; on hybrid DVRs the IP
    /// channels often follow the analogue ones).
    pub channel: u32,
    /// The device's audio tracks to fetch with the video (`CAMWIRE_AUDIO_*`):
    /// `CAMWIRE_AUDIO_DEFAULT` (0) is the first one, as in recordings; `CAMWIRE_AUDIO_NO`
    /// gives the video alone, `CAMWIRE_AUDIO_ALL` every recordable track.
    pub audio: crate::stream::camwire_audio_choice,
}

/// How far a fetch is: handed to a `camwire_fetch_progress_callback`, borrowed for the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct camwire_fetch_progress {
    /// camwire's `sizeof(camwire_fetch_progress)`: a field is there when `struct_size`
    /// reaches its end (fields are only ever appended).
    pub struct_size: usize,
    /// Media stored past `start_us` (the last stored frame's wall clock minus `start_us`),
    /// seconds; never decreases from one call to the next.
    pub media_done_secs: f64,
    /// `end_us - start_us`, seconds.
    pub media_total_secs: f64,
    /// Seconds since the fetch started.
    pub wall_secs: f64,
    /// Frames stored so far (the pre-roll from the keyframe before `start_us` included).
    pub frames: u64,
}

/// Progress of `camwire_device_fetch` and `camwire_fetch_url` (`camwire_fetch_options.progress`):
/// called on the thread that called the fetch, from inside the call (never after it
/// returns, never concurrently), at most every 200 ms while frames are stored and once more
/// when all are, so not at all when no frame is stored. Keep it short: the download waits
/// for it. It must not call blocking camwire functions (they return
/// CAMWIRE_E_WRONG_THREAD). Return 0 to go on; any other value cancels the fetch: no more
/// calls, the download stops, nothing is left behind and the fetch returns
/// CAMWIRE_E_CANCELLED (unless the value came with the last call, after the clip was
/// complete: the fetch then finishes normally).
pub type camwire_fetch_progress_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, progress: *const camwire_fetch_progress) -> c_int,
>;

crate::abi::growable!(
    camwire_fetch_options,
    request_timeout_ms: u32,
    camwire_fetch_options::default()
);

impl Default for camwire_fetch_options {
    fn default() -> Self {
        camwire_fetch_options {
            struct_size: std::mem::size_of::<camwire_fetch_options>(),
            recording_token: std::ptr::null(),
            format: CAMWIRE_EXPORT_PROGRESSIVE,
            real_time: false,
            camera_id: std::ptr::null(),
            request_timeout_ms: 0,
            vendor: std::ptr::null(),
            device_tz: std::ptr::null(),
            progress: None,
            progress_user_data: std::ptr::null_mut(),
            channel: 0,
            audio: crate::stream::CAMWIRE_AUDIO_DEFAULT,
        }
    }
}

/// Fills `options` (`struct_size` bytes: pass `sizeof *options`) with the defaults: the one
/// recording covering the range, progressive MP4, as fast as the device sends; sets
/// `options->struct_size`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_fetch_options_init(
    options: *mut camwire_fetch_options,
    struct_size: usize,
) -> camwire_result {
    // SAFETY: NULL or `struct_size` writable bytes per the caller.
    guard(|| unsafe { crate::abi::init(options, struct_size) })
}

/// The checked arguments of a fetch.
struct Fetch {
    start: SystemTime,
    end: SystemTime,
    output: std::path::PathBuf,
    recording: Option<String>,
    opts: FetchOptions,
    /// `options.vendor` with its channel and time zone.
    vendor: Option<VendorPlayback>,
    /// `options.device_tz` or a channel was given (they need `vendor`).
    vendor_extras: bool,
    /// The caller's progress callback, wired into `opts.progress`.
    progress: Option<Arc<CProgress>>,
}

impl Fetch {
    /// Refuses the vendor fields for an entry point that has no URL to build from.
    fn no_vendor(&self, entry: &str) -> Result<()> {
        if self.vendor.is_some() || self.vendor_extras {
            return Err(Error::invalid(format!(
                "vendor, device_tz and channel apply to camwire_fetch_url, not to {entry}"
            )));
        }
        Ok(())
    }

    /// Runs the download `fut` on `ctx`'s runtime. A progress callback that returns non-zero
    /// drops it there (the download stops, its spool file is removed, no output is placed):
    /// CAMWIRE_E_CANCELLED. The callback is switched off before this returns.
    fn run<T>(
        &self,
        ctx: &ContextInner,
        fut: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(p) = &self.progress else {
            return ctx.block_on(fut);
        };
        let _off = ProgressOff(p);
        ctx.block_on(async {
            tokio::select! {
                biased;
                () = p.cancelled() => Err(Error::new(
                    CAMWIRE_E_CANCELLED,
                    "the fetch was cancelled by its progress callback",
                )),
                r = fut => r,
            }
        })
    }
}

/// A C progress callback behind `FetchOptions::progress`. It is called only on the thread
/// that made the fetch call (the core reports from the fetching future, which that thread
/// polls inside `block_on`), only until that call returns, and not after it asked to cancel.
struct CProgress {
    callback: unsafe extern "C" fn(*mut c_void, *const camwire_fetch_progress) -> c_int,
    user_data: *mut c_void,
    thread: std::thread::ThreadId,
    live: AtomicBool,
    cancelled: AtomicBool,
    wake: tokio::sync::Notify,
}

// SAFETY: `user_data` is never dereferenced by camwire; it goes back to the callback only on
// the thread the caller made the fetch call on (checked in `report`).
unsafe impl Send for CProgress {}
// SAFETY: as above; the other fields are Sync.
unsafe impl Sync for CProgress {}

impl CProgress {
    fn report(&self, p: FetchProgress) {
        if !self.live.load(Ordering::Acquire)
            || self.cancelled.load(Ordering::Acquire)
            || std::thread::current().id() != self.thread
        {
            return;
        }
        let v = camwire_fetch_progress {
            struct_size: std::mem::size_of::<camwire_fetch_progress>(),
            media_done_secs: p.media_done_secs,
            media_total_secs: p.media_total_secs,
            wall_secs: p.wall_secs,
            frames: p.frames,
        };
        // SAFETY: the caller's callback with its own user_data and a struct that lives for
        // the call; the thread is marked so that blocking camwire calls from it are refused.
        let r = as_callback_thread(|| unsafe { (self.callback)(self.user_data, &v) });
        if r != 0 {
            self.cancelled.store(true, Ordering::Release);
            self.wake.notify_one();
        }
    }

    async fn cancelled(&self) {
        while !self.cancelled.load(Ordering::Acquire) {
            self.wake.notified().await;
        }
    }
}

/// Switches a progress callback off when the fetch call is over.
struct ProgressOff<'a>(&'a CProgress);

impl Drop for ProgressOff<'_> {
    fn drop(&mut self) {
        self.0.live.store(false, Ordering::Release);
    }
}

/// # Safety
/// Pointers NULL or valid per the C contract.
unsafe fn fetch_args(
    start_us: i64,
    end_us: i64,
    output: *const c_char,
    output_name: &str,
    options: *const camwire_fetch_options,
    credentials: Option<Credentials>,
) -> Result<Fetch> {
    // SAFETY: per the function contract.
    let output = unsafe { cpath(output, output_name) }?;
    let o = unsafe { crate::abi::read(options) }?.unwrap_or_default();
    if start_us >= end_us {
        return Err(Error::invalid(format!(
            "start_us {start_us} is not before end_us {end_us}"
        )));
    }
    us_ts(start_us, "start_us")?;
    us_ts(end_us, "end_us")?;
    // SAFETY: NULL or NUL-terminated strings per the caller.
    let recording = unsafe { opt_cstr(o.recording_token, "recording_token") }?.map(String::from);
    let camera_id = unsafe { opt_cstr(o.camera_id, "camera_id") }?.map(String::from);
    let format = match o.format {
        CAMWIRE_EXPORT_PROGRESSIVE => OutputFormat::Progressive,
        CAMWIRE_EXPORT_FRAGMENTED => OutputFormat::Fragmented,
        f => return Err(Error::invalid(format!("unknown export format {f}"))),
    };
    // SAFETY: NULL or NUL-terminated strings per the caller.
    let vendor_name = unsafe { opt_cstr(o.vendor, "vendor") }?;
    let device_tz = unsafe { opt_cstr(o.device_tz, "device_tz") }?;
    let vendor_extras = device_tz.is_some() || o.channel != 0;
    let vendor = match vendor_name {
        Some(name) => {
            let vendor: Vendor = name.parse().map_err(|e: replay::UnknownVendor| {
                Error::invalid(format!("options.vendor: {e}"))
            })?;
            let device_tz = device_tz
                .map(|z| {
                    replay::vendor::parse_time_zone(z).ok_or_else(|| {
                        Error::invalid(format!(
                            "options.device_tz {z:?}: not a UTC offset (+07:00), UTC or a \
                             zone name (Asia/Ho_Chi_Minh)"
                        ))
                    })
                })
                .transpose()?;
            Some(VendorPlayback {
                vendor,
                channel: o.channel.max(1),
                device_tz,
            })
        }
        None if vendor_extras => {
            return Err(Error::invalid(
                "options.device_tz and options.channel apply with options.vendor",
            ));
        }
        None => None,
    };
    let progress = o.progress.map(|callback| {
        Arc::new(CProgress {
            callback,
            user_data: o.progress_user_data,
            thread: std::thread::current().id(),
            live: AtomicBool::new(true),
            cancelled: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
        })
    });
    let mut opts = FetchOptions {
        credentials,
        audio: crate::stream::audio_choice(o.audio, FetchOptions::default().audio)?,
        fast: !o.real_time,
        camera_id,
        format,
        vendor: vendor.as_ref().map(|v| v.vendor),
        progress: progress.clone().map(|p| {
            let f: Arc<dyn Fn(FetchProgress) + Send + Sync> = Arc::new(move |v| p.report(v));
            f
        }),
        ..FetchOptions::default()
    };
    if o.request_timeout_ms > 0 {
        opts.request_timeout = timeout_of(o.request_timeout_ms);
    }
    Ok(Fetch {
        start: from_unix_us(start_us),
        end: from_unix_us(end_us),
        output,
        recording,
        opts,
        vendor,
        vendor_extras,
        progress,
    })
}

/// The one recording of `dev` whose span overlaps `[start, end)`.
async fn only_recording(dev: &OnvifDevice, start: SystemTime, end: SystemTime) -> Result<String> {
    let recs = dev.recordings().await?;
    let (Ok(s), Ok(e)) = (
        jiff::Timestamp::try_from(start),
        jiff::Timestamp::try_from(end),
    ) else {
        return Err(Error::invalid("time out of range"));
    };
    match covering(&recs, s, e) {
        Covering::One(token) => Ok(token),
        Covering::NoneOf(listed) => Err(Error::new(
            CAMWIRE_E_NOT_FOUND,
            format!(
                "no recording on the device covers {s} .. {e} ({listed} recordings; see \
                 camwire_device_recordings)"
            ),
        )),
        Covering::Several(many) => Err(Error::invalid(format!(
            "{} recordings cover {s} .. {e}: choose one with recording_token ({})",
            many.len(),
            many.join(", ")
        ))),
    }
}

fn result_of(s: &FetchSummary) -> camwire_export_result {
    camwire_export_result::new(&s.output, &s.manifest_path, &s.manifest.export)
}

/// Fetches `[start_us, end_us)` (Unix us) of a recording off `device` (ONVIF Profile G:
/// GetReplayUri, then RTSP PLAY with `Require: onvif-replay`, `Range: clock=`,
/// `Rate-Control: no`) into the new file `output` (never overwritten), with
/// `output.manifest.json` beside it: export's manifest plus an `origin` block (the device,
/// the recording, the replay URI without credentials, the device's clock offset, requested
/// and actual times, gaps, the rate-control mode, the download time). The clip starts at
/// the frame showing at `start_us` and ends at `end_us`, whatever the device sends;
/// `camwire_verify` checks it. The device's login is used for RTSP too. `options` may be
/// NULL for defaults. Blocks for the download; `options->progress` (if set) is called on
/// the calling thread meanwhile and can cancel it (`camwire_fetch_progress_callback`).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (start >= end, format, several
/// recordings cover the range), CAMWIRE_E_NOT_FOUND (no recording covers the range, or none
/// holds footage in it), CAMWIRE_E_NO_REPLAY (the device refused replay),
/// CAMWIRE_E_ALREADY_EXISTS (output), CAMWIRE_E_UNSUPPORTED (parameter change inside the
/// range, struct fields this library does not know), CAMWIRE_E_CANCELLED (the progress
/// callback returned non-zero; no file written), CAMWIRE_E_CLOSED, CAMWIRE_E_WRONG_THREAD,
/// ONVIF, RTSP and file errors. `options->vendor`, `device_tz` and `channel` apply to
/// `camwire_fetch_url` only (CAMWIRE_E_INVALID_ARGUMENT here).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_fetch(
    device: *const camwire_device,
    start_us: i64,
    end_us: i64,
    output: *const c_char,
    options: *const camwire_fetch_options,
    out_result: *mut *mut camwire_export_result,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live pointers per the C contract.
        let d = unsafe { crate::error::arg(device, "device") }?.open()?;
        let f =
            unsafe { fetch_args(start_us, end_us, output, "output", options, d.creds.clone()) }?;
        f.no_vendor("camwire_device_fetch")?;
        let out_result = out(out_result, "out_result")?;
        let dev = &d.dev;
        let s = f.run(&d.ctx, async {
            let token = match &f.recording {
                Some(t) => t.clone(),
                None => only_recording(dev, f.start, f.end).await?,
            };
            Ok(replay::fetch_recording(dev, &token, f.start, f.end, &f.output, &f.opts).await?)
        })?;
        // SAFETY: checked non-NULL.
        unsafe { out_result.write(Box::into_raw(Box::new(result_of(&s)))) };
        Ok(())
    })
}

/// As `camwire_device_fetch`, from a replay URI (`rtsp://`, e.g. from the device's
/// GetReplayUri or a vendor's documentation) instead of an ONVIF device: `username` /
/// `password` (NULL: none, or the ones in the URL). `options->recording_token` must be
/// NULL. The manifest's origin names no device.
///
/// Vendor playback, for devices without a working Profile G: with `options->vendor` set
/// (`"hikvision"`, `"dahua"`, `"uniview"` or an OEM name; `channel`, and `device_tz` for
/// Dahua), `url` is the device's `rtsp://[user:pass@]host[:port]` and camwire plays that
/// vendor's playback URL for `[start_us, end_us)` on it, at the device's pace (usually
/// real time), timing frames from RTP from `start_us`, and stops at `end_us` itself.
///
/// Errors: as `camwire_device_fetch`; CAMWIRE_E_INVALID_ARGUMENT for a URL that is not
/// `rtsp://`, a recording token, an unknown `vendor` (the message lists the known names), a
/// `device_tz` that is not a zone, a Dahua `vendor` without `device_tz`, or `device_tz` /
/// `channel` without `vendor`; CAMWIRE_E_CANCELLED when the progress callback cancelled.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn camwire_fetch_url(
    context: *const camwire_context,
    url: *const c_char,
    username: *const c_char,
    password: *const c_char,
    start_us: i64,
    end_us: i64,
    output: *const c_char,
    options: *const camwire_fetch_options,
    out_result: *mut *mut camwire_export_result,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live pointers per the C contract.
        let ctx = unsafe { crate::error::arg(context, "context") }?;
        let url = unsafe { cstr(url, "url") }?;
        let user = unsafe { opt_cstr(username, "username") }?;
        let pass = unsafe { opt_cstr(password, "password") }?;
        let creds = user.map(|u| Credentials::new(u, pass.unwrap_or("")));
        let f = unsafe { fetch_args(start_us, end_us, output, "output", options, creds) }?;
        if f.recording.is_some() {
            return Err(Error::invalid(
                "recording_token applies to camwire_device_fetch, not to a URL",
            ));
        }
        let out_result = out(out_result, "out_result")?;
        let url = match &f.vendor {
            Some(v) => v.url(url, f.start, f.end).map_err(|e| match e {
                e @ ReplayError::NeedDeviceTimeZone(_) => {
                    Error::invalid(format!("{e} (options.device_tz)"))
                }
                e => Error::from(e),
            })?,
            None => url.to_string(),
        };
        let s = f.run(&ctx.inner, async {
            Ok(replay::fetch(&url, f.start, f.end, &f.output, &f.opts).await?)
        })?;
        // SAFETY: checked non-NULL.
        unsafe { out_result.write(Box::into_raw(Box::new(result_of(&s)))) };
        Ok(())
    })
}

// ---- back-fill -------------------------------------------------------------------------------

/// What `camwire_device_backfill` wrote; free with `camwire_backfill_result_free`.
pub struct camwire_backfill_result {
    files: Vec<CString>,
    frames: u64,
    first_us: i64,
    last_us: i64,
    rate_control: bool,
    ended_by: CString,
}

/// Borrowed view of a `camwire_backfill_result` (valid until it is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_backfill_view {
    /// Set by the caller before `camwire_backfill_result_get` (`camwire_struct_init`); on
    /// return the bytes camwire filled.
    pub struct_size: usize,
    /// Frames written.
    pub frames: u64,
    /// Wall clock of the first frame written (the first keyframe at or after the start),
    /// Unix us.
    pub first_us: i64,
    /// Wall clock of the last frame written, Unix us.
    pub last_us: i64,
    /// Segment files written (`camwire_backfill_result_file`).
    pub file_count: usize,
    /// `Rate-Control: yes` was in effect (real time), false: as fast as the device sent.
    pub rate_control: bool,
    /// Why the download stopped (`end time reached`, `terminal flag (T)`, ...).
    pub ended_by: *const c_char,
}

crate::abi::growable!(camwire_backfill_view, ended_by: *const c_char, unsafe { crate::abi::zeroed() });

/// Back-fill: fetches `[start_us, end_us)` of a recording off `device` as
/// `camwire_device_fetch` does, but writes it as ordinary recorder segments of camera
/// `camera` under the recording root `root` (`<root>/<camera>/<date>/<UTC start>.mp4`), so
/// that `camwire_list_ranges` and `camwire_export` see it; the span is noted in the camera's
/// `gaps.jsonl` as `backfilled from device`. Frames start at the first keyframe at or after
/// `start_us`. `options` (NULL for defaults): `recording_token`, `real_time` and
/// `request_timeout_ms` apply; `format`, `camera_id`, `progress` (a back-fill reports no
/// progress) and the vendor fields must stay at their defaults. Blocks.
///
/// Errors: as `camwire_device_fetch`; CAMWIRE_E_INVALID_ARGUMENT for a camera id that is not
/// a plain name, or `format`/`camera_id`/`progress`/`vendor`/`device_tz`/`channel` set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_backfill(
    device: *const camwire_device,
    start_us: i64,
    end_us: i64,
    root: *const c_char,
    camera: *const c_char,
    options: *const camwire_fetch_options,
    out_result: *mut *mut camwire_backfill_result,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live pointers per the C contract.
        let d = unsafe { crate::error::arg(device, "device") }?.open()?;
        let camera = unsafe { cstr(camera, "camera") }?;
        // The root takes the place of the output path in the shared checks.
        let f = unsafe { fetch_args(start_us, end_us, root, "root", options, d.creds.clone()) }?;
        if f.opts.camera_id.is_some()
            || !matches!(f.opts.format, OutputFormat::Progressive)
            || f.progress.is_some()
        {
            return Err(Error::invalid(
                "format, camera_id and progress apply to camwire_device_fetch; a back-fill \
                 writes recorder segments of `camera` and reports no progress",
            ));
        }
        f.no_vendor("camwire_device_backfill")?;
        let out_result = out(out_result, "out_result")?;
        let dev = &d.dev;
        let b = d.ctx.block_on(async {
            let token = match &f.recording {
                Some(t) => t.clone(),
                None => only_recording(dev, f.start, f.end).await?,
            };
            let uri = dev.replay_uri(&token).await?;
            Ok(replay::backfill(&uri, f.start, f.end, &f.output, camera, &f.opts).await?)
        })?;
        let r = camwire_backfill_result {
            files: b.files.iter().map(|s| path_cstring(&s.path)).collect(),
            frames: b.frames,
            first_us: unix_us(b.first),
            last_us: unix_us(b.last),
            rate_control: b.rate_control,
            ended_by: to_cstring(&b.ended_by),
        };
        // SAFETY: checked non-NULL.
        unsafe { out_result.write(Box::into_raw(Box::new(r))) };
        Ok(())
    })
}

/// Fills `out_view` (its `struct_size` set by the caller) from `result`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_backfill_result_get(
    result: *const camwire_backfill_result,
    out_view: *mut camwire_backfill_view,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let r = unsafe { crate::error::arg(result, "result") }?;
        let v = camwire_backfill_view {
            struct_size: std::mem::size_of::<camwire_backfill_view>(),
            frames: r.frames,
            first_us: r.first_us,
            last_us: r.last_us,
            file_count: r.files.len(),
            rate_control: r.rate_control,
            ended_by: r.ended_by.as_ptr(),
        };
        // SAFETY: NULL or `struct_size` writable bytes per the caller.
        unsafe { crate::abi::write(out_view, v) }
    })
}

/// The path of segment file `index` written by the back-fill, into `*out_path` (borrowed
/// from `result`, valid until it is freed).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_backfill_result_file(
    result: *const camwire_backfill_result,
    index: usize,
    out_path: *mut *const c_char,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let r = unsafe { crate::error::arg(result, "result") }?;
        let out_path = out(out_path, "out_path")?;
        let p = r.files.get(index).ok_or_else(|| {
            Error::new(
                CAMWIRE_E_OUT_OF_RANGE,
                format!("file index {index} of {}", r.files.len()),
            )
        })?;
        // SAFETY: checked non-NULL.
        unsafe { out_path.write(p.as_ptr()) };
        Ok(())
    })
}

/// Frees a back-fill result (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_backfill_result_free(result: *mut camwire_backfill_result) {
    guard_value((), || {
        if !result.is_null() {
            // SAFETY: made by camwire_device_backfill, not freed yet.
            drop(unsafe { Box::from_raw(result) });
        }
    })
}

//! Live streams: `camwire::stream::LiveStream` behind `camwire_stream`, frames behind
//! `camwire_frame`, and the frame-callback thread.
//!
//! Tracks: a stream opened with `camwire_stream_options.audio` left at its zero value
//! (`CAMWIRE_AUDIO_DEFAULT`) plays video only, so C programs written when every frame was a
//! picture keep working on cameras with a microphone. With `CAMWIRE_AUDIO_FIRST` or
//! `CAMWIRE_AUDIO_ALL` the same pulls and callbacks also deliver audio frames; each frame
//! tells its track (`camwire_frame_track`), kind and codec. The stream info lists every
//! track of the camera's SDP (`camwire_stream_info_track`).

use crate::context::*;
use crate::error::*;
use camwire_core::Credentials;
use camwire_core::rtsp::{AudioChoice, SourceOptions, TrackKind, Transport};
use camwire_core::stream::{Codec, Frame, LiveStream, StreamInfo};
use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::watch;

/// RTP transport (`CAMWIRE_TRANSPORT_*`).
pub type camwire_transport = u32;
/// RTP interleaved in the RTSP TCP connection (default; works through NAT).
pub const CAMWIRE_TRANSPORT_TCP: camwire_transport = 0;
/// RTP over separate UDP ports (LAN only).
pub const CAMWIRE_TRANSPORT_UDP: camwire_transport = 1;

/// How a frame's payload is laid out (`CAMWIRE_PAYLOAD_*`). Both forms have the same size.
pub type camwire_payload_format = u32;
/// Each NAL unit preceded by its 4-byte big-endian length (as in MP4 / avcC streams).
pub const CAMWIRE_PAYLOAD_AVC: camwire_payload_format = 0;
/// Each NAL unit preceded by the start code 00 00 00 01 (H.264 Annex B byte stream).
pub const CAMWIRE_PAYLOAD_ANNEXB: camwire_payload_format = 1;

/// Which audio tracks a session sets up (`CAMWIRE_AUDIO_*`).
pub type camwire_audio_choice = u32;
/// The default of the call: no audio for `camwire_stream_open2` (frames stay pictures only),
/// the first audio track for `camwire_recorder_add_camera2`.
pub const CAMWIRE_AUDIO_DEFAULT: camwire_audio_choice = 0;
/// Video only.
pub const CAMWIRE_AUDIO_NO: camwire_audio_choice = 1;
/// The first audio track camwire can record (AAC, G.711).
pub const CAMWIRE_AUDIO_FIRST: camwire_audio_choice = 2;
/// Every audio track camwire can record.
pub const CAMWIRE_AUDIO_ALL: camwire_audio_choice = 3;

/// What a track carries (`CAMWIRE_TRACK_*`).
pub type camwire_track_kind = u32;
/// Neither video nor audio (an `application` or metadata section of the SDP).
pub const CAMWIRE_TRACK_OTHER: camwire_track_kind = 0;
/// Video.
pub const CAMWIRE_TRACK_VIDEO: camwire_track_kind = 1;
/// Audio.
pub const CAMWIRE_TRACK_AUDIO: camwire_track_kind = 2;

/// A frame's or track's codec (`CAMWIRE_CODEC_*`).
pub type camwire_codec = u32;
/// A codec camwire does not handle (a skipped track; see its codec string).
pub const CAMWIRE_CODEC_UNKNOWN: camwire_codec = 0;
/// H.264: payload in AVC or Annex B form; decoder configuration avcC.
pub const CAMWIRE_CODEC_H264: camwire_codec = 1;
/// H.265: payload in AVC-style (4-byte lengths) or Annex B form; decoder configuration hvcC.
pub const CAMWIRE_CODEC_H265: camwire_codec = 2;
/// AAC: each frame one raw access unit (no ADTS header); decoder configuration the
/// AudioSpecificConfig.
pub const CAMWIRE_CODEC_AAC: camwire_codec = 3;
/// G.711 mu-law: each frame one RTP packet's samples, one byte per sample and channel.
pub const CAMWIRE_CODEC_PCMU: camwire_codec = 4;
/// G.711 A-law: as CAMWIRE_CODEC_PCMU.
pub const CAMWIRE_CODEC_PCMA: camwire_codec = 5;

fn codec_code(c: Codec) -> camwire_codec {
    match c {
        Codec::H264 => CAMWIRE_CODEC_H264,
        Codec::H265 => CAMWIRE_CODEC_H265,
        Codec::Aac => CAMWIRE_CODEC_AAC,
        Codec::Pcmu => CAMWIRE_CODEC_PCMU,
        Codec::Pcma => CAMWIRE_CODEC_PCMA,
    }
}

fn kind_code(k: Option<TrackKind>) -> camwire_track_kind {
    match k {
        Some(TrackKind::Video) => CAMWIRE_TRACK_VIDEO,
        Some(TrackKind::Audio) => CAMWIRE_TRACK_AUDIO,
        None => CAMWIRE_TRACK_OTHER,
    }
}

/// Options for `camwire_stream_open2` and `camwire_recorder_add_camera2`. Fill with
/// `camwire_stream_options_init` first.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_stream_options {
    /// `sizeof(camwire_stream_options)` as the caller compiled it (set by
    /// `camwire_stream_options_init`).
    pub struct_size: usize,
    /// User name, or NULL to use credentials inside the URL (or none).
    pub username: *const c_char,
    /// Password (with `username`). Never logged nor put in error messages.
    pub password: *const c_char,
    /// `CAMWIRE_TRANSPORT_TCP` (default) or `CAMWIRE_TRANSPORT_UDP`.
    pub transport: camwire_transport,
    /// Bound on TCP connect + DESCRIBE, ms (default 10000; 0 = default).
    pub connect_timeout_ms: u32,
    /// Bound on each of SETUP and PLAY, ms (default 10000; 0 = default).
    pub request_timeout_ms: u32,
    /// The stream fails when no packet arrives for this long, ms (default 10000; 0 =
    /// default).
    pub idle_timeout_ms: u32,
    /// Audio tracks to set up (`CAMWIRE_AUDIO_*`): `CAMWIRE_AUDIO_DEFAULT` (0) is no audio
    /// for `camwire_stream_open2` and the first audio track for
    /// `camwire_recorder_add_camera2`.
    pub audio: camwire_audio_choice,
}

crate::abi::growable!(
    camwire_stream_options,
    idle_timeout_ms: u32,
    camwire_stream_options::default()
);

impl Default for camwire_stream_options {
    fn default() -> Self {
        let d = SourceOptions::default();
        camwire_stream_options {
            struct_size: std::mem::size_of::<camwire_stream_options>(),
            username: std::ptr::null(),
            password: std::ptr::null(),
            transport: CAMWIRE_TRANSPORT_TCP,
            connect_timeout_ms: d.connect_timeout.as_millis() as u32,
            request_timeout_ms: d.request_timeout.as_millis() as u32,
            idle_timeout_ms: d.idle_timeout.as_millis() as u32,
            audio: CAMWIRE_AUDIO_DEFAULT,
        }
    }
}

/// A stream description (see `camwire_stream_info_get`); free with `camwire_stream_info_free`.
pub struct camwire_stream_info {
    info: StreamInfo,
    codec: CString,
    profile: CString,
    /// Per track: codec string, encoding, media, skip reason (the view's strings).
    tracks: Vec<TrackStrings>,
}

struct TrackStrings {
    codec: CString,
    encoding: CString,
    media: CString,
    skipped: Option<CString>,
}

impl camwire_stream_info {
    fn new(info: StreamInfo) -> camwire_stream_info {
        camwire_stream_info {
            codec: to_cstring(&info.codec),
            profile: to_cstring(&info.profile),
            tracks: info
                .tracks
                .iter()
                .map(|t| TrackStrings {
                    codec: to_cstring(&t.codec),
                    encoding: to_cstring(&t.encoding),
                    media: to_cstring(&t.media),
                    skipped: t.skipped.as_deref().map(to_cstring),
                })
                .collect(),
            info,
        }
    }
}

/// One track of a stream description (see `camwire_stream_info_track`): pointers valid until
/// the info is freed.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_track_view {
    /// Set by the caller before the call (`camwire_struct_init`); on return the bytes
    /// camwire filled.
    pub struct_size: usize,
    /// The session's track number (0 video, 1.. audio: `camwire_frame_track` of its
    /// frames), or -1 when the track is not set up (see `skipped`).
    pub track: i32,
    /// `CAMWIRE_TRACK_VIDEO`, `CAMWIRE_TRACK_AUDIO` or `CAMWIRE_TRACK_OTHER`.
    pub kind: camwire_track_kind,
    /// `CAMWIRE_CODEC_*`; `CAMWIRE_CODEC_UNKNOWN` for a codec camwire does not handle.
    pub codec: camwire_codec,
    /// The clock rate of the track's timestamps (ticks per second).
    pub clock_rate: u32,
    /// Audio channels; 0 when not stated (and for video).
    pub channels: u32,
    /// The codec string: RFC 6381 ("avc1.4d401e", "hvc1.1.6.L93.B0", "mp4a.40.2") or the
    /// sample entry ("ulaw", "alaw") for a codec camwire handles, else the SDP encoding name
    /// ("G726-32").
    pub codec_string: *const c_char,
    /// The SDP encoding name, upper-cased ("H264", "MPEG4-GENERIC", "PCMU"); "" if none.
    pub encoding: *const c_char,
    /// The SDP media type ("video", "audio", "application", ...).
    pub media: *const c_char,
    /// The decoder configuration: avcC or hvcC (video), AudioSpecificConfig (AAC); NULL
    /// with `config_len` 0 when there is none (G.711, skipped codecs).
    pub config: *const u8,
    /// Its length in bytes.
    pub config_len: usize,
    /// Why the track is not set up ("audio codec G726-32 is not recorded", "audio not
    /// requested (--audio no)", ...); NULL when it is.
    pub skipped: *const c_char,
}

crate::abi::growable!(
    camwire_track_view,
    skipped: *const c_char,
    camwire_track_view {
        struct_size: std::mem::size_of::<camwire_track_view>(),
        track: -1,
        kind: CAMWIRE_TRACK_OTHER,
        codec: CAMWIRE_CODEC_UNKNOWN,
        clock_rate: 0,
        channels: 0,
        codec_string: std::ptr::null(),
        encoding: std::ptr::null(),
        media: std::ptr::null(),
        config: std::ptr::null(),
        config_len: 0,
        skipped: std::ptr::null(),
    }
);

/// A borrowed view of a `camwire_stream_info`: pointers valid until it is freed.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_stream_info_view {
    /// Set by the caller before `camwire_stream_info_get2` (`camwire_struct_init`); on return
    /// the bytes camwire filled.
    pub struct_size: usize,
    /// RFC 6381 codec string, e.g. "avc1.4d401e".
    pub codec: *const c_char,
    /// H.264 profile name, e.g. "Main".
    pub profile: *const c_char,
    /// profile_idc from the SPS.
    pub profile_idc: u8,
    /// level_idc from the SPS (30 = level 3.0).
    pub level_idc: u8,
    /// Width in pixels (after cropping).
    pub width: u32,
    /// Height in pixels (after cropping).
    pub height: u32,
    /// Frames per second from the SPS timing or the SDP; 0 when neither says.
    pub fps: f64,
    /// Transport in use (`CAMWIRE_TRANSPORT_*`).
    pub transport: camwire_transport,
    /// True when SPS/PPS came from the SDP, false when from the stream.
    pub from_sdp: bool,
    /// The AVCDecoderConfigurationRecord (avcC box payload).
    pub avcc: *const u8,
    /// Its length in bytes.
    pub avcc_len: usize,
}

/// Timing and flags of a frame (see `camwire_frame_get_info2`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct camwire_frame_info {
    /// Set by the caller before `camwire_frame_get_info2` (`camwire_struct_init`); on return
    /// the bytes camwire filled.
    pub struct_size: usize,
    /// Presentation time, the RTP timestamp extended to 64 bits: 90 kHz for video, the
    /// track's clock rate for audio (`camwire_frame_clock_rate`).
    pub pts: i64,
    /// Decode time, in the same clock (equal to pts: live pictures arrive in decoding
    /// order).
    pub dts: i64,
    /// Wall-clock time of the picture (or of an audio frame's first sample), microseconds
    /// since 1970-01-01 UTC (from the track's RTCP sender reports when the camera sends them,
    /// else from arrival).
    pub wallclock_us: i64,
    /// True for an IDR/IRAP picture (decoding can start here); always true for audio.
    pub keyframe: bool,
    /// RTP packets of the frame's track lost just before this frame.
    pub loss: u32,
    /// Payload size in bytes (the same for both payload formats).
    pub payload_size: usize,
    /// Number of NAL units (0 for audio).
    pub nal_count: u32,
}

crate::abi::growable!(camwire_frame_info, nal_count: u32, camwire_frame_info::default());
crate::abi::growable!(
    camwire_stream_info_view,
    avcc_len: usize,
    camwire_stream_info_view {
        struct_size: std::mem::size_of::<camwire_stream_info_view>(),
        codec: std::ptr::null(),
        profile: std::ptr::null(),
        profile_idc: 0,
        level_idc: 0,
        width: 0,
        height: 0,
        fps: 0.0,
        transport: 0,
        from_sdp: false,
        avcc: std::ptr::null(),
        avcc_len: 0,
    }
);

/// Frames pulled, returned to the stream on `camwire_frame_free` so their buffers are reused.
struct Pool {
    frames: Vec<Frame>,
    buffers: Vec<Vec<u8>>,
}

const POOL_MAX: usize = 16;

/// One picture. Owned when pulled (free with `camwire_frame_free`), borrowed in callbacks.
pub struct camwire_frame {
    frame: Option<Frame>,
    /// The caller-visible contiguous payload, filled on demand by `camwire_frame_payload`.
    buf: Vec<u8>,
    buf_format: Option<camwire_payload_format>,
    borrowed: bool,
    pool: Option<Arc<Mutex<Pool>>>,
}

impl camwire_frame {
    fn frame(&self) -> Result<&Frame> {
        self.frame
            .as_ref()
            .ok_or_else(|| Error::invalid("frame is empty"))
    }
}

/// Called with each frame (borrowed: valid only during the call; do not free it) on the
/// stream's callback thread (named `camwire-stream`). After the stream ends or fails, called
/// once more with `frame` NULL and `status` the reason (CAMWIRE_E_END_OF_STREAM or an
/// error), then never again. `status` is CAMWIRE_OK when `frame` is not NULL.
pub type camwire_frame_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, frame: *mut camwire_frame, status: camwire_result),
>;

/// Releases callback `user_data`; called exactly once, on the callback thread, after its
/// last callback (or on the registering thread if registration fails).
pub type camwire_free_user_data = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

struct CallbackThread {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    thread_id: std::thread::ThreadId,
}

pub(crate) struct StreamShared {
    ctx: Arc<ContextInner>,
    live: Mutex<Option<LiveStream>>,
    pool: Arc<Mutex<Pool>>,
    /// Turns true on close: in-flight pulls return CAMWIRE_E_CLOSED.
    closed_tx: watch::Sender<bool>,
    closed: AtomicBool,
    callback: Mutex<Option<CallbackThread>>,
    has_callback: AtomicBool,
    /// The latest stream description, readable while a callback thread holds `live`.
    info: Mutex<Option<StreamInfo>>,
}

/// A playing RTSP stream.
pub struct camwire_stream {
    shared: Arc<StreamShared>,
}

static NEXT_STREAM: AtomicU64 = AtomicU64::new(1);

impl StreamShared {
    fn close(&self) {
        // Not short-circuited when already closed: a second close still joins a callback
        // thread a concurrent first close may not have reached yet.
        self.closed.store(true, Ordering::Release);
        let _ = self.closed_tx.send(true);
        let cb = self
            .callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut cb) = cb {
            let _ = cb.stop.send(true);
            if cb.thread_id == std::thread::current().id() {
                // Closed from inside its own callback: the thread sees the stop flag after
                // the callback returns, frees user_data and exits on its own.
                drop(cb.thread.take());
            } else if let Some(t) = cb.thread.take() {
                let _ = t.join();
            }
        }
        let live = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(live) = live {
            // retina sends TEARDOWN from a task when dropped inside a runtime.
            self.ctx.enter(|| drop(live));
        }
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        pool.frames.clear();
        pool.buffers.clear();
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) || self.ctx.is_closed() {
            return Err(Error::closed("stream"));
        }
        Ok(())
    }

    /// Pulls the next frame (caller holds no lock). `None` timeout = wait for ever.
    fn next_frame(
        &self,
        timeout: Option<Duration>,
        stop: Option<watch::Receiver<bool>>,
        internal: bool,
    ) -> Result<Frame> {
        let mut guard = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let live = guard.as_mut().ok_or_else(|| Error::closed("stream"))?;
        {
            let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
            for f in pool.frames.drain(..) {
                live.recycle(f);
            }
        }
        let mut closed = self.closed_tx.subscribe();
        let mut ctx_closing = self.ctx.closing();
        let stream = &mut *live;
        let fut = async move {
            let live = stream;
            let next = async {
                match timeout {
                    Some(t) => tokio::time::timeout(t, live.next_frame())
                        .await
                        .map_err(|_| {
                            Error::new(CAMWIRE_E_TIMEOUT, "no frame within the timeout")
                        })?,
                    None => live.next_frame().await,
                }
                .map_err(Error::from)?
                .ok_or_else(|| Error::new(CAMWIRE_E_END_OF_STREAM, "the camera ended the stream"))
            };
            let stopped = async move {
                match stop {
                    Some(mut s) => {
                        let _ = s.wait_for(|v| *v).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                r = next => r,
                _ = closed.wait_for(|c| *c) => Err(Error::closed("stream")),
                _ = ctx_closing.wait_for(|c| *c) => Err(Error::closed("context")),
                _ = stopped => Err(Error::closed("stream")),
            }
        };
        let r = if internal {
            self.ctx
                .block_on_internal(fut)
                .unwrap_or_else(|| Err(Error::closed("context")))
        } else {
            self.ctx.block_on(fut)
        };
        if let Ok(f) = &r
            && f.access_unit.new_parameters.is_some()
        {
            *self.info.lock().unwrap_or_else(PoisonError::into_inner) = live.info().cloned();
        }
        r
    }

    fn new_frame(&self, frame: Frame, borrowed: bool) -> camwire_frame {
        let buf = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buffers
            .pop()
            .unwrap_or_default();
        camwire_frame {
            frame: Some(frame),
            buf,
            buf_format: None,
            borrowed,
            pool: Some(self.pool.clone()),
        }
    }
}

impl Child for StreamShared {
    fn close(&self) {
        StreamShared::close(self)
    }
}

fn recycle(mut f: camwire_frame) {
    if let Some(pool) = f.pool.take() {
        let mut p = pool.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(frame) = f.frame.take()
            && p.frames.len() < POOL_MAX
        {
            p.frames.push(frame);
        }
        if p.buffers.len() < POOL_MAX {
            let mut b = std::mem::take(&mut f.buf);
            b.clear();
            p.buffers.push(b);
        }
    }
}

/// Fills `options` (`struct_size` bytes: pass `sizeof *options`) with the defaults: no
/// credentials, TCP, 10 s timeouts; sets `options->struct_size`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_options_init(
    options: *mut camwire_stream_options,
    struct_size: usize,
) -> camwire_result {
    // SAFETY: NULL or `struct_size` writable bytes per the caller.
    guard(|| unsafe { crate::abi::init(options, struct_size) })
}

/// `SourceOptions` from read options (None = defaults).
///
/// # Safety
/// The strings in `o` are NULL or NUL-terminated.
pub(crate) unsafe fn source_options(o: Option<camwire_stream_options>) -> Result<SourceOptions> {
    let o = o.unwrap_or_default();
    let user = unsafe { opt_cstr(o.username, "options.username") }?;
    let pass = unsafe { opt_cstr(o.password, "options.password") }?;
    let defaults = SourceOptions::default();
    Ok(SourceOptions {
        credentials: user.map(|u| Credentials::new(u, pass.unwrap_or(""))),
        transport: match o.transport {
            CAMWIRE_TRANSPORT_TCP => Transport::Tcp,
            CAMWIRE_TRANSPORT_UDP => Transport::Udp,
            t => return Err(Error::invalid(format!("unknown transport {t}"))),
        },
        connect_timeout: ms_or(o.connect_timeout_ms, defaults.connect_timeout),
        request_timeout: ms_or(o.request_timeout_ms, defaults.request_timeout),
        idle_timeout: ms_or(o.idle_timeout_ms, defaults.idle_timeout),
        audio: audio_choice(o.audio, defaults.audio)?,
        ..defaults
    })
}

/// A `CAMWIRE_AUDIO_*` value; `CAMWIRE_AUDIO_DEFAULT` is the call's `default`.
pub(crate) fn audio_choice(a: camwire_audio_choice, default: AudioChoice) -> Result<AudioChoice> {
    Ok(match a {
        CAMWIRE_AUDIO_DEFAULT => default,
        CAMWIRE_AUDIO_NO => AudioChoice::No,
        CAMWIRE_AUDIO_FIRST => AudioChoice::First,
        CAMWIRE_AUDIO_ALL => AudioChoice::All,
        a => return Err(Error::invalid(format!("unknown audio choice {a}"))),
    })
}

fn ms_or(ms: u32, default: Duration) -> Duration {
    if ms == 0 { default } else { timeout_of(ms) }
}

/// Connects to an `rtsp://` URL (DESCRIBE, SETUP of the H.264 or H.265 track and of the
/// audio tracks `options->audio` asks for, PLAY), blocking for at most about connect_timeout
/// + 2 x request_timeout per track. `options` may be NULL for defaults (video only).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (URL, transport,
/// `struct_size`), CAMWIRE_E_UNSUPPORTED (options this library does not know are set),
/// CAMWIRE_E_TIMEOUT, CAMWIRE_E_AUTH, CAMWIRE_E_CONNECTION, CAMWIRE_E_PROTOCOL (no H.264
/// track), CAMWIRE_E_CLOSED (context), CAMWIRE_E_WRONG_THREAD.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_open2(
    context: *const camwire_context,
    url: *const c_char,
    options: *const camwire_stream_options,
    out_stream: *mut *mut camwire_stream,
) -> camwire_result {
    // SAFETY: NULL or a valid options struct per the C contract.
    guard(|| unsafe { stream_open(context, url, crate::abi::read(options)?, out_stream) })
}

/// `camwire_stream_open2` with read options (also behind the 0.1 entry point).
///
/// # Safety
/// Pointers NULL or live per the C contract.
pub(crate) unsafe fn stream_open(
    context: *const camwire_context,
    url: *const c_char,
    options: Option<camwire_stream_options>,
    out_stream: *mut *mut camwire_stream,
) -> Result<()> {
    // SAFETY: NULL or live handles / strings per the C contract.
    let ctx = unsafe { arg(context, "context") }?;
    let url = unsafe { cstr(url, "url") }?;
    let out_stream = out(out_stream, "out_stream")?;
    // SAFETY: the strings in the options are NULL or NUL-terminated.
    let audio = options.map_or(CAMWIRE_AUDIO_DEFAULT, |o| o.audio);
    let source = unsafe { source_options(options) }?;
    let inner = ctx.inner.clone();
    // Frames stay pictures unless audio was asked for (see the module docs).
    let live = inner.block_on(async {
        Ok(if audio == CAMWIRE_AUDIO_DEFAULT {
            LiveStream::open(url, source).await?
        } else {
            LiveStream::open_with_audio(url, source).await?
        })
    })?;
    let info = live.info().cloned();
    let shared = Arc::new(StreamShared {
        info: Mutex::new(info),
        ctx: inner.clone(),
        live: Mutex::new(Some(live)),
        pool: Arc::new(Mutex::new(Pool {
            frames: Vec::new(),
            buffers: Vec::new(),
        })),
        closed_tx: watch::channel(false).0,
        closed: AtomicBool::new(false),
        callback: Mutex::new(None),
        has_callback: AtomicBool::new(false),
    });
    let weak: std::sync::Weak<dyn Child> = Arc::downgrade(&shared) as _;
    inner.register(weak);
    // SAFETY: checked non-NULL.
    unsafe { out_stream.write(Box::into_raw(Box::new(camwire_stream { shared }))) };
    Ok(())
}

/// The stream description, waiting up to `timeout_ms` for SPS/PPS when the SDP had none
/// (frames read meanwhile are dropped). With `timeout_ms` 0 it only answers what is known.
/// Free the result with `camwire_stream_info_free`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_NO_STREAM_INFO (not known in time),
/// CAMWIRE_E_BUSY (a frame callback is registered and the info is not known yet),
/// CAMWIRE_E_CLOSED, CAMWIRE_E_WRONG_THREAD, stream errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_get_info(
    stream: *const camwire_stream,
    timeout_ms: u32,
    out_info: *mut *mut camwire_stream_info,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let s = unsafe { arg(stream, "stream") }?;
        let out_info = out(out_info, "out_info")?;
        let sh = &s.shared;
        sh.check_open()?;
        let info = if sh.has_callback.load(Ordering::Acquire) {
            // The callback thread holds the stream; do not wait on it.
            sh.info
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .ok_or_else(|| {
                    Error::new(
                        CAMWIRE_E_BUSY,
                        "stream info not known yet and a frame callback owns the stream",
                    )
                })?
        } else {
            let mut g = sh.live.lock().unwrap_or_else(PoisonError::into_inner);
            let live = g.as_mut().ok_or_else(|| Error::closed("stream"))?;
            match live.info() {
                Some(i) => i.clone(),
                None if timeout_ms == 0 => {
                    return Err(Error::new(
                        CAMWIRE_E_NO_STREAM_INFO,
                        "SPS/PPS not known yet (timeout_ms was 0)",
                    ));
                }
                None => {
                    let mut closed = sh.closed_tx.subscribe();
                    sh.ctx.block_on(async {
                        tokio::select! {
                            r = live.wait_info(timeout_of(timeout_ms)) => Ok(r?.clone()),
                            _ = closed.wait_for(|c| *c) => Err(Error::closed("stream")),
                        }
                    })?
                }
            }
        };
        let boxed = Box::new(camwire_stream_info::new(info));
        // SAFETY: checked non-NULL.
        unsafe { out_info.write(Box::into_raw(boxed)) };
        Ok(())
    })
}

/// Fills `out_view` (its `struct_size` set by the caller) with borrowed pointers into `info`
/// (valid until it is freed).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_info_get2(
    info: *const camwire_stream_info,
    out_view: *mut camwire_stream_info_view,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle; the view's struct_size set by the caller.
        let v = stream_info_view(unsafe { arg(info, "info") }?);
        unsafe { crate::abi::write(out_view, v) }
    })
}

pub(crate) fn stream_info_view(i: &camwire_stream_info) -> camwire_stream_info_view {
    camwire_stream_info_view {
        struct_size: std::mem::size_of::<camwire_stream_info_view>(),
        codec: i.codec.as_ptr(),
        profile: i.profile.as_ptr(),
        profile_idc: i.info.profile_idc,
        level_idc: i.info.level_idc,
        width: i.info.width,
        height: i.info.height,
        fps: i.info.fps.unwrap_or(0.0),
        transport: match i.info.transport {
            Transport::Tcp => CAMWIRE_TRANSPORT_TCP,
            Transport::Udp => CAMWIRE_TRANSPORT_UDP,
        },
        from_sdp: i.info.from_sdp,
        avcc: i.info.avcc.as_ptr(),
        avcc_len: i.info.avcc.len(),
    }
}

/// Frees a stream info (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_info_free(info: *mut camwire_stream_info) {
    guard_value((), || {
        if !info.is_null() {
            // SAFETY: made by camwire_stream_get_info, not freed yet.
            drop(unsafe { Box::from_raw(info) });
        }
    })
}

/// The number of tracks in a stream description: every media section of the camera's SDP,
/// set up or skipped (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_info_tracks_len(info: *const camwire_stream_info) -> usize {
    guard_value(0, || {
        // SAFETY: NULL or a live handle.
        unsafe { info.as_ref() }.map_or(0, |i| i.info.tracks.len())
    })
}

/// Track `index` (0 .. `camwire_stream_info_tracks_len` - 1, in SDP order; not the track
/// number) of a stream description, into `out_track` (its `struct_size` set by the caller):
/// borrowed pointers valid until the info is freed.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE (index), CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_info_track(
    info: *const camwire_stream_info,
    index: usize,
    out_track: *mut camwire_track_view,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let i = unsafe { arg(info, "info") }?;
        let (Some(t), Some(strings)) = (i.info.tracks.get(index), i.tracks.get(index)) else {
            return Err(Error::new(
                CAMWIRE_E_OUT_OF_RANGE,
                format!("track index {index}, the info has {}", i.info.tracks.len()),
            ));
        };
        let v = camwire_track_view {
            struct_size: std::mem::size_of::<camwire_track_view>(),
            track: t.track.and_then(|n| i32::try_from(n).ok()).unwrap_or(-1),
            kind: kind_code(t.kind),
            codec: track_codec(&t.codec),
            clock_rate: t.clock_rate,
            channels: t.channels.map_or(0, u32::from),
            codec_string: strings.codec.as_ptr(),
            encoding: strings.encoding.as_ptr(),
            media: strings.media.as_ptr(),
            config: if t.config.is_empty() {
                std::ptr::null()
            } else {
                t.config.as_ptr()
            },
            config_len: t.config.len(),
            skipped: strings
                .skipped
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr()),
        };
        // SAFETY: NULL or the caller's struct with its struct_size set.
        unsafe { crate::abi::write(out_track, v) }
    })
}

/// `CAMWIRE_CODEC_*` of a track by its codec string (the core names codecs by string in
/// track descriptions).
fn track_codec(s: &str) -> camwire_codec {
    if s.starts_with("avc1") {
        CAMWIRE_CODEC_H264
    } else if s.starts_with("hvc1") || s.starts_with("hev1") {
        CAMWIRE_CODEC_H265
    } else if s.starts_with("mp4a") {
        CAMWIRE_CODEC_AAC
    } else if s == "ulaw" {
        CAMWIRE_CODEC_PCMU
    } else if s == "alaw" {
        CAMWIRE_CODEC_PCMA
    } else {
        CAMWIRE_CODEC_UNKNOWN
    }
}

/// The name of a codec: "H264", "H265", "AAC", "PCMU", "PCMA"; "UNKNOWN" for any other
/// value (static storage).
#[unsafe(no_mangle)]
pub extern "C" fn camwire_codec_name(codec: camwire_codec) -> *const c_char {
    match codec {
        CAMWIRE_CODEC_H264 => c"H264",
        CAMWIRE_CODEC_H265 => c"H265",
        CAMWIRE_CODEC_AAC => c"AAC",
        CAMWIRE_CODEC_PCMU => c"PCMU",
        CAMWIRE_CODEC_PCMA => c"PCMA",
        _ => c"UNKNOWN",
    }
    .as_ptr()
}

/// Waits up to `timeout_ms` for the next picture (or audio frame, on a stream opened with
/// audio) and hands it over (free it with
/// `camwire_frame_free`; its payload stays in the receive buffers until you ask for it).
/// `timeout_ms` 0 returns a frame only if one is already complete.
///
/// Errors: CAMWIRE_E_TIMEOUT (none yet; call again), CAMWIRE_E_END_OF_STREAM, CAMWIRE_E_BUSY
/// (a frame callback is registered), CAMWIRE_E_CLOSED, CAMWIRE_E_WRONG_THREAD, connection
/// errors (CAMWIRE_E_TIMEOUT with an idle message, CAMWIRE_E_CONNECTION, ...).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_next_frame(
    stream: *const camwire_stream,
    timeout_ms: u32,
    out_frame: *mut *mut camwire_frame,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let s = unsafe { arg(stream, "stream") }?;
        let out_frame = out(out_frame, "out_frame")?;
        let sh = &s.shared;
        sh.check_open()?;
        check_thread()?;
        if sh.has_callback.load(Ordering::Acquire) {
            return Err(Error::new(
                CAMWIRE_E_BUSY,
                "a frame callback is registered on this stream",
            ));
        }
        let frame = sh.next_frame(Some(timeout_of(timeout_ms)), None, false)?;
        let f = Box::new(sh.new_frame(frame, false));
        // SAFETY: checked non-NULL.
        unsafe { out_frame.write(Box::into_raw(f)) };
        Ok(())
    })
}

/// Registers `callback` for every frame from now on, on a new thread named
/// `camwire-stream`. Calls are never concurrent and never happen after `camwire_stream_close`
/// (or `camwire_context_free`) returns; closing from inside the callback is allowed (no more
/// calls follow). `free_user_data` (may be NULL) is called once with `user_data` after the
/// last call: also when this function fails. While registered, `camwire_stream_next_frame`
/// returns CAMWIRE_E_BUSY.
///
/// Errors: CAMWIRE_E_NULL_POINTER (stream, callback), CAMWIRE_E_BUSY (one is registered),
/// CAMWIRE_E_CLOSED, CAMWIRE_E_RUNTIME (thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_set_frame_callback(
    stream: *const camwire_stream,
    callback: camwire_frame_callback,
    user_data: *mut c_void,
    free_user_data: camwire_free_user_data,
) -> camwire_result {
    let ud = crate::context::UserData(user_data, free_user_data);
    guard(move || {
        // SAFETY: NULL or a live handle.
        let s = unsafe { arg(stream, "stream") }?;
        let cb = callback.ok_or_else(|| Error::null("callback"))?;
        let sh = s.shared.clone();
        sh.check_open()?;
        let mut slot = sh.callback.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() || sh.has_callback.load(Ordering::Acquire) {
            return Err(Error::new(
                CAMWIRE_E_BUSY,
                "a frame callback is already registered",
            ));
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = sh.clone();
        let ctx_id = sh.ctx.id;
        let n = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
        let thread = std::thread::Builder::new()
            .name(format!("camwire-stream-{n}"))
            .spawn(move || {
                let ud = ud;
                mark_callback_thread(ctx_id);
                loop {
                    if *stop_rx.borrow() {
                        break;
                    }
                    match worker.next_frame(None, Some(stop_rx.clone()), true) {
                        Ok(frame) => {
                            let mut f = worker.new_frame(frame, true);
                            if *stop_rx.borrow() {
                                recycle(f);
                                break;
                            }
                            // SAFETY: the registered callback with a frame valid for the call.
                            unsafe { cb(ud.0, &mut f, CAMWIRE_OK) };
                            f.borrowed = false;
                            recycle(f);
                        }
                        Err(e) => {
                            if !*stop_rx.borrow() && e.code != CAMWIRE_E_CLOSED {
                                // SAFETY: as above; the final call with the reason.
                                unsafe { cb(ud.0, std::ptr::null_mut(), e.code) };
                            }
                            break;
                        }
                    }
                }
                drop(ud);
            })
            .map_err(|e| {
                Error::new(
                    CAMWIRE_E_RUNTIME,
                    format!("starting the callback thread: {e}"),
                )
            })?;
        let thread_id = thread.thread().id();
        *slot = Some(CallbackThread {
            stop: stop_tx,
            thread: Some(thread),
            thread_id,
        });
        sh.has_callback.store(true, Ordering::Release);
        Ok(())
    })
}

/// Stops the stream: an in-flight pull returns CAMWIRE_E_CLOSED, the callback thread (if
/// any) finishes its current call and is joined, the RTSP session is torn down. Idempotent;
/// NULL returns CAMWIRE_E_NULL_POINTER. Frames already pulled stay valid until freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_close(stream: *const camwire_stream) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let s = unsafe { arg(stream, "stream") }?;
        s.shared.close();
        Ok(())
    })
}

/// Closes (if needed) and frees a stream (NULL-safe). Must not be called from the stream's
/// own frame callback (use `camwire_stream_close` there, free later).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_stream_free(stream: *mut camwire_stream) {
    guard_value((), || {
        if !stream.is_null() {
            // SAFETY: made by camwire_stream_open, not freed yet.
            let s = unsafe { Box::from_raw(stream) };
            s.shared.close();
        }
    })
}

/// Timing and flags of a frame, into `out_info` (its `struct_size` set by the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_get_info2(
    frame: *const camwire_frame,
    out_info: *mut camwire_frame_info,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live frame; the struct_size set by the caller.
        let info = unsafe { frame_info(frame) }?;
        unsafe { crate::abi::write(out_info, info) }
    })
}

/// The info of a frame (NULL: CAMWIRE_E_NULL_POINTER).
///
/// # Safety
/// `frame` is NULL or live.
pub(crate) unsafe fn frame_info(frame: *const camwire_frame) -> Result<camwire_frame_info> {
    // SAFETY: NULL or a live frame.
    let f = unsafe { arg(frame, "frame") }?.frame()?;
    let wall = match f.wallclock.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    };
    let info = camwire_frame_info {
        struct_size: std::mem::size_of::<camwire_frame_info>(),
        pts: f.pts,
        dts: f.dts,
        wallclock_us: wall,
        keyframe: f.keyframe,
        loss: f.loss,
        payload_size: f.payload_len(),
        nal_count: u32::try_from(f.access_unit.nals.len()).unwrap_or(u32::MAX),
    };
    Ok(info)
}

/// Reads one value of a frame into `out`.
///
/// # Safety
/// `frame` is NULL or live; `out` NULL or writable.
unsafe fn frame_value<T>(
    frame: *const camwire_frame,
    out_value: *mut T,
    value: impl FnOnce(&Frame) -> T,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live frame.
        let f = unsafe { arg(frame, "frame") }?.frame()?;
        let o = out(out_value, "out")?;
        // SAFETY: checked non-NULL.
        unsafe { o.write(value(f)) };
        Ok(())
    })
}

/// The session's track number of a frame: 0 for video, 1.. for audio (the `track` of its
/// `camwire_track_view`).
///
/// Errors: CAMWIRE_E_NULL_POINTER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_track(
    frame: *const camwire_frame,
    out_track: *mut u32,
) -> camwire_result {
    // SAFETY: per the C contract.
    unsafe {
        frame_value(frame, out_track, |f| {
            u32::try_from(f.track).unwrap_or(u32::MAX)
        })
    }
}

/// `CAMWIRE_TRACK_VIDEO` or `CAMWIRE_TRACK_AUDIO`.
///
/// Errors: CAMWIRE_E_NULL_POINTER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_kind(
    frame: *const camwire_frame,
    out_kind: *mut camwire_track_kind,
) -> camwire_result {
    // SAFETY: per the C contract.
    unsafe { frame_value(frame, out_kind, |f| kind_code(Some(f.kind))) }
}

/// The frame's codec (`CAMWIRE_CODEC_*`, never UNKNOWN).
///
/// Errors: CAMWIRE_E_NULL_POINTER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_codec(
    frame: *const camwire_frame,
    out_codec: *mut camwire_codec,
) -> camwire_result {
    // SAFETY: per the C contract.
    unsafe { frame_value(frame, out_codec, |f| codec_code(f.codec)) }
}

/// The clock rate of the frame's pts and dts in ticks per second (90000 for video, usually
/// the sample rate for audio).
///
/// Errors: CAMWIRE_E_NULL_POINTER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_clock_rate(
    frame: *const camwire_frame,
    out_clock_rate: *mut u32,
) -> camwire_result {
    // SAFETY: per the C contract.
    unsafe { frame_value(frame, out_clock_rate, |f| f.clock_rate) }
}

/// Samples per channel of an audio frame (its duration in clock ticks when the clock rate is
/// the sample rate: 1024 for AAC, the payload size for mono G.711); 0 for video.
///
/// Errors: CAMWIRE_E_NULL_POINTER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_samples(
    frame: *const camwire_frame,
    out_samples: *mut u32,
) -> camwire_result {
    // SAFETY: per the C contract.
    unsafe { frame_value(frame, out_samples, Frame::samples) }
}

fn check_format(format: camwire_payload_format) -> Result<()> {
    match format {
        CAMWIRE_PAYLOAD_AVC | CAMWIRE_PAYLOAD_ANNEXB => Ok(()),
        f => Err(Error::invalid(format!("unknown payload format {f}"))),
    }
}

/// Copies the frame's payload into the caller's buffer: the one copy of the payload. For an
/// audio frame both formats give its bytes as the camera sent them.
/// `*size` is the buffer's capacity on entry and the bytes written on success. When the
/// buffer is too small (or `buffer` is NULL with `*size` 0, to ask) the needed size is
/// written to `*size` and CAMWIRE_E_BUFFER_TOO_SMALL returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_copy_payload(
    frame: *const camwire_frame,
    format: camwire_payload_format,
    buffer: *mut u8,
    size: *mut usize,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live frame.
        let f = unsafe { arg(frame, "frame") }?.frame()?;
        check_format(format)?;
        let size = out(size, "size")?;
        // SAFETY: non-NULL.
        let cap = unsafe { size.read() };
        let au = &f.access_unit;
        let need = f.payload_len();
        if cap < need {
            // SAFETY: non-NULL (documented exception: the needed size).
            unsafe { size.write(need) };
            return Err(Error::new(
                CAMWIRE_E_BUFFER_TOO_SMALL,
                format!("payload needs {need} bytes, buffer has {cap}"),
            ));
        }
        if buffer.is_null() {
            return Err(Error::null("buffer"));
        }
        // SAFETY: the caller gives `cap` >= `need` writable bytes at `buffer`.
        let dst = unsafe { std::slice::from_raw_parts_mut(buffer, need) };
        let mut at = 0;
        // Audio: the bytes as sent, whatever the format (it concerns NAL framing).
        for p in f.audio.iter().flat_map(|a| &a.pieces) {
            dst[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        for nal in &au.nals {
            let prefix = if format == CAMWIRE_PAYLOAD_AVC {
                nal.len.to_be_bytes()
            } else {
                [0, 0, 0, 1]
            };
            dst[at..at + 4].copy_from_slice(&prefix);
            at += 4;
            for p in au.nal_pieces(nal) {
                dst[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
        }
        // SAFETY: non-NULL.
        unsafe { size.write(at) };
        Ok(())
    })
}

/// The payload as one contiguous buffer owned by the frame (copied once, on the first call
/// for each format; the buffer is reused across frames). `*data` stays valid until the frame
/// is freed (or, for a borrowed frame, until the callback returns) or this is called again
/// with the other format.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_payload(
    frame: *mut camwire_frame,
    format: camwire_payload_format,
    out_data: *mut *const u8,
    out_size: *mut usize,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live frame, used by one thread at a time.
        let f = unsafe { frame.as_mut() }.ok_or_else(|| Error::null("frame"))?;
        check_format(format)?;
        let out_data = out(out_data, "out_data")?;
        let out_size = out(out_size, "out_size")?;
        if f.buf_format != Some(format) {
            let fr = f
                .frame
                .as_ref()
                .ok_or_else(|| Error::invalid("frame is empty"))?;
            f.buf.clear();
            if format == CAMWIRE_PAYLOAD_AVC {
                fr.write_avc(&mut f.buf);
            } else {
                fr.write_annexb(&mut f.buf);
            }
            f.buf_format = Some(format);
        }
        // SAFETY: both checked non-NULL.
        unsafe {
            out_data.write(f.buf.as_ptr());
            out_size.write(f.buf.len());
        }
        Ok(())
    })
}

/// Frees a pulled frame and returns its buffers to the stream for reuse (NULL-safe; frames
/// outlive their stream and context). Borrowed frames (in callbacks) are not yours to free:
/// freeing one does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_frame_free(frame: *mut camwire_frame) {
    guard_value((), || {
        if frame.is_null() {
            return;
        }
        // SAFETY: a live frame; `borrowed` is only read here.
        if unsafe { (*frame).borrowed } {
            log::warn!("camwire_frame_free on a borrowed (callback) frame ignored");
            return;
        }
        // SAFETY: made by camwire_stream_next_frame, not freed yet.
        let f = unsafe { Box::from_raw(frame) };
        recycle(*f);
    })
}

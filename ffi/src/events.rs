//! ONVIF events through a PullPoint subscription (`camwire::onvif::PullPoint`): subscribe,
//! pull one event at a time with a timeout, typed motion and tamper events.

use crate::context::*;
use crate::device::camwire_device;
use crate::error::*;
use camwire_core::onvif::{EventKind, OnvifEvent, PullPoint, PullPointOptions};
use std::collections::VecDeque;
use std::ffi::{CString, c_char};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Options for `camwire_device_subscribe_events`. Fill with `camwire_pullpoint_options_init`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_pullpoint_options {
    /// `sizeof(camwire_pullpoint_options)` as the caller compiled it (set by
    /// `camwire_pullpoint_options_init`).
    pub struct_size: usize,
    /// Requested subscription lifetime, s (renewed automatically; default 60; 0 = default).
    pub termination_secs: u32,
    /// Most messages per PullMessages exchange (default 100; 0 = default).
    pub message_limit: u32,
}

impl Default for camwire_pullpoint_options {
    fn default() -> Self {
        let d = PullPointOptions::default();
        camwire_pullpoint_options {
            struct_size: std::mem::size_of::<camwire_pullpoint_options>(),
            termination_secs: d.termination.as_secs() as u32,
            message_limit: d.message_limit,
        }
    }
}

crate::abi::growable!(
    camwire_pullpoint_options,
    message_limit: u32,
    camwire_pullpoint_options::default()
);

/// What an ONVIF event means (`CAMWIRE_ONVIF_EVENT_*`).
pub type camwire_onvif_event_kind = u32;
/// Anything else: read the topic and the items.
pub const CAMWIRE_ONVIF_EVENT_OTHER: camwire_onvif_event_kind = 0;
/// Motion started (`active` true) or stopped.
pub const CAMWIRE_ONVIF_EVENT_MOTION: camwire_onvif_event_kind = 1;
/// Tampering (cover, defocus, scene change) started (`active` true) or stopped.
pub const CAMWIRE_ONVIF_EVENT_TAMPER: camwire_onvif_event_kind = 2;

/// Which simple items of an event (`CAMWIRE_ONVIF_ITEMS_*`).
pub type camwire_onvif_items = u32;
/// Source items (e.g. `VideoSourceConfigurationToken`).
pub const CAMWIRE_ONVIF_ITEMS_SOURCE: camwire_onvif_items = 0;
/// Key items.
pub const CAMWIRE_ONVIF_ITEMS_KEY: camwire_onvif_items = 1;
/// Data items (e.g. `IsMotion`).
pub const CAMWIRE_ONVIF_ITEMS_DATA: camwire_onvif_items = 2;

/// One ONVIF notification; free with `camwire_onvif_event_free`.
pub struct camwire_onvif_event {
    topic: CString,
    topic_path: CString,
    kind: camwire_onvif_event_kind,
    active: bool,
    time_us: Option<i64>,
    property_operation: Option<CString>,
    items: [Vec<(CString, CString)>; 3],
}

/// Borrowed view of a `camwire_onvif_event` (valid until it is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_onvif_event_view {
    /// Set by the caller before `camwire_onvif_event_get` (`camwire_struct_init`); on return
    /// the bytes camwire filled.
    pub struct_size: usize,
    /// Topic as sent, e.g. "tns1:RuleEngine/CellMotionDetector/Motion".
    pub topic: *const c_char,
    /// The topic without namespace prefixes, e.g. "RuleEngine/CellMotionDetector/Motion".
    pub topic_path: *const c_char,
    /// `CAMWIRE_ONVIF_EVENT_*`.
    pub kind: camwire_onvif_event_kind,
    /// For MOTION and TAMPER: true when it started, false when it stopped.
    pub active: bool,
    /// True when the message carried a readable `UtcTime`.
    pub has_time: bool,
    /// `UtcTime` of the message (the camera's clock), Unix us; 0 without `has_time`.
    pub time_us: i64,
    /// "Initialized", "Changed" or "Deleted", or NULL.
    pub property_operation: *const c_char,
    /// Number of source items (`camwire_onvif_event_item`).
    pub source_count: usize,
    /// Number of key items.
    pub key_count: usize,
    /// Number of data items.
    pub data_count: usize,
}

crate::abi::growable!(
    camwire_onvif_event_view,
    data_count: usize,
    unsafe { crate::abi::zeroed() }
);

impl camwire_onvif_event {
    fn new(e: OnvifEvent) -> Self {
        let (kind, active) = match e.kind {
            EventKind::Motion(a) => (CAMWIRE_ONVIF_EVENT_MOTION, a),
            EventKind::Tamper(a) => (CAMWIRE_ONVIF_EVENT_TAMPER, a),
            EventKind::Other => (CAMWIRE_ONVIF_EVENT_OTHER, false),
        };
        let items = |v: Vec<(String, String)>| {
            v.into_iter()
                .map(|(k, v)| (to_cstring(&k), to_cstring(&v)))
                .collect()
        };
        camwire_onvif_event {
            topic: to_cstring(&e.topic),
            topic_path: to_cstring(&e.topic_path),
            kind,
            active,
            time_us: e.time.map(|t| t.as_microsecond()),
            property_operation: e.property_operation.as_deref().map(to_cstring),
            items: [items(e.source), items(e.key), items(e.data)],
        }
    }
}

struct PullState {
    pp: Option<PullPoint>,
    queue: VecDeque<OnvifEvent>,
}

struct PullShared {
    ctx: Arc<ContextInner>,
    /// The device's bound on one HTTP exchange: a PullMessages must answer within it.
    http_timeout: Duration,
    state: Mutex<PullState>,
    closed_tx: watch::Sender<bool>,
    closed: AtomicBool,
}

/// A PullPoint subscription to a device's events.
pub struct camwire_pullpoint {
    shared: Arc<PullShared>,
}

impl PullShared {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) || self.ctx.is_closed() {
            return Err(Error::closed("pullpoint"));
        }
        Ok(())
    }

    /// Ends an in-flight pull, then unsubscribes (best effort, bounded by 2 s). Idempotent.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _ = self.closed_tx.send(true);
        let pp = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pp
            .take();
        let Some(pp) = pp else { return };
        let unsubscribe = async move {
            // Devices often refuse Unsubscribe of an expired subscription; nothing to do then.
            let _ = tokio::time::timeout(Duration::from_secs(2), pp.unsubscribe()).await;
        };
        if check_thread().is_ok() {
            let _ = self.ctx.block_on_internal(unsubscribe);
        } else {
            // On a camwire thread waiting could deadlock: let the runtime do it.
            self.ctx.enter(|| drop(tokio::spawn(unsubscribe)));
        }
    }
}

impl Child for PullShared {
    fn close(&self) {
        PullShared::close(self)
    }
}

/// Fills `options` (`struct_size` bytes: pass `sizeof *options`) with the defaults: a 60 s
/// subscription renewed as needed, at most 100 messages per exchange.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_pullpoint_options_init(
    options: *mut camwire_pullpoint_options,
    struct_size: usize,
) -> camwire_result {
    // SAFETY: NULL or `struct_size` writable bytes per the caller.
    guard(|| unsafe { crate::abi::init(options, struct_size) })
}

/// Subscribes to the device's events (CreatePullPointSubscription); `options` may be NULL.
/// Read them with `camwire_pullpoint_next_event`; the subscription is renewed (or made
/// again, after a camera reboot) by the pulls. Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`),
/// CAMWIRE_E_UNSUPPORTED (the device has no event service, or unknown options are set),
/// CAMWIRE_E_CLOSED, CAMWIRE_E_WRONG_THREAD, ONVIF errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_subscribe_events(
    device: *const camwire_device,
    options: *const camwire_pullpoint_options,
    out_pullpoint: *mut *mut camwire_pullpoint,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live pointers per the C contract.
        let d = unsafe { arg(device, "device") }?.open()?;
        let o = unsafe { crate::abi::read(options) }?.unwrap_or_default();
        let out_pullpoint = out(out_pullpoint, "out_pullpoint")?;
        if d.dev.services().events.is_none() {
            return Err(Error::new(
                CAMWIRE_E_UNSUPPORTED,
                "the device lists no event service",
            ));
        }
        let defaults = PullPointOptions::default();
        let opts = PullPointOptions {
            termination: if o.termination_secs == 0 {
                defaults.termination
            } else {
                Duration::from_secs(u64::from(o.termination_secs))
            },
            message_limit: if o.message_limit == 0 {
                defaults.message_limit
            } else {
                o.message_limit
            },
            ..defaults
        };
        let pp = d
            .ctx
            .block_on(async { Ok(d.dev.pull_point(opts).await?) })?;
        let shared = Arc::new(PullShared {
            ctx: d.ctx.clone(),
            http_timeout: d.dev.options().timeout,
            state: Mutex::new(PullState {
                pp: Some(pp),
                queue: VecDeque::new(),
            }),
            closed_tx: watch::channel(false).0,
            closed: AtomicBool::new(false),
        });
        let weak: std::sync::Weak<dyn Child> = Arc::downgrade(&shared) as _;
        d.ctx.register(weak);
        // SAFETY: checked non-NULL.
        unsafe { out_pullpoint.write(Box::into_raw(Box::new(camwire_pullpoint { shared }))) };
        Ok(())
    })
}

/// Hands over the next event, waiting up to `timeout_ms` for one (free it with
/// `camwire_onvif_event_free`). Events the device sent together are queued and handed over
/// one per call without waiting. The device counts its waits in whole seconds, so a wait is
/// rounded up to one; a device that answers at once with nothing is asked again every
/// 250 ms. `timeout_ms` 0 returns a queued event only.
///
/// Errors: CAMWIRE_E_TIMEOUT (no event in time; call again), CAMWIRE_E_NULL_POINTER,
/// CAMWIRE_E_CLOSED (the subscription or its context), CAMWIRE_E_WRONG_THREAD, ONVIF errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_pullpoint_next_event(
    pullpoint: *const camwire_pullpoint,
    timeout_ms: u32,
    out_event: *mut *mut camwire_onvif_event,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let sh = &unsafe { arg(pullpoint, "pullpoint") }?.shared;
        let out_event = out(out_event, "out_event")?;
        sh.check_open()?;
        check_thread()?;
        let deadline = Instant::now() + timeout_of(timeout_ms);
        let mut st = sh.state.lock().unwrap_or_else(PoisonError::into_inner);
        let longest = sh
            .http_timeout
            .saturating_sub(Duration::from_secs(2))
            .as_secs()
            .max(1);
        let ev = loop {
            if let Some(ev) = st.queue.pop_front() {
                break ev;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::new(CAMWIRE_E_TIMEOUT, "no event within the timeout"));
            }
            let wait = remaining
                .as_millis()
                .div_ceil(1000)
                .clamp(1, u128::from(longest)) as u64;
            let pp = st.pp.as_mut().ok_or_else(|| Error::closed("pullpoint"))?;
            pp.set_pull_timeout(Duration::from_secs(wait));
            let mut closed = sh.closed_tx.subscribe();
            let started = Instant::now();
            let events = sh.ctx.block_on(async {
                tokio::select! {
                    r = pp.pull() => Ok(r?),
                    _ = closed.wait_for(|c| *c) => Err(Error::closed("pullpoint")),
                }
            })?;
            let quick = started.elapsed() < Duration::from_millis(250);
            st.queue.extend(events);
            if st.queue.is_empty() && quick {
                let pause = Duration::from_millis(250)
                    .min(deadline.saturating_duration_since(Instant::now()));
                let mut closed = sh.closed_tx.subscribe();
                sh.ctx.block_on(async {
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => Ok(()),
                        _ = closed.wait_for(|c| *c) => Err(Error::closed("pullpoint")),
                    }
                })?;
            }
        };
        let boxed = Box::new(camwire_onvif_event::new(ev));
        // SAFETY: checked non-NULL.
        unsafe { out_event.write(Box::into_raw(boxed)) };
        Ok(())
    })
}

/// Ends the subscription: a pull in progress on another thread returns CAMWIRE_E_CLOSED,
/// then the device is told (Unsubscribe, at most 2 s). Idempotent. Queued events are
/// dropped.
///
/// Errors: CAMWIRE_E_NULL_POINTER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_pullpoint_close(
    pullpoint: *const camwire_pullpoint,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        unsafe { arg(pullpoint, "pullpoint") }?.shared.close();
        Ok(())
    })
}

/// Closes (if needed) and frees a subscription (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_pullpoint_free(pullpoint: *mut camwire_pullpoint) {
    guard_value((), || {
        if !pullpoint.is_null() {
            // SAFETY: made by camwire_device_subscribe_events, not freed yet.
            let p = unsafe { Box::from_raw(pullpoint) };
            p.shared.close();
        }
    })
}

/// Fills `out_view` (its `struct_size` set by the caller) with borrowed pointers into
/// `event`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_onvif_event_get(
    event: *const camwire_onvif_event,
    out_view: *mut camwire_onvif_event_view,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live event.
        let e = unsafe { arg(event, "event") }?;
        let v = camwire_onvif_event_view {
            struct_size: std::mem::size_of::<camwire_onvif_event_view>(),
            topic: e.topic.as_ptr(),
            topic_path: e.topic_path.as_ptr(),
            kind: e.kind,
            active: e.active,
            has_time: e.time_us.is_some(),
            time_us: e.time_us.unwrap_or(0),
            property_operation: opt_ptr(&e.property_operation),
            source_count: e.items[0].len(),
            key_count: e.items[1].len(),
            data_count: e.items[2].len(),
        };
        // SAFETY: the struct_size set by the caller.
        unsafe { crate::abi::write(out_view, v) }
    })
}

/// The simple item `index` of the `items` set (`CAMWIRE_ONVIF_ITEMS_*`): its name and value,
/// borrowed from the event (e.g. data item "IsMotion" = "true").
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`items`),
/// CAMWIRE_E_OUT_OF_RANGE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_onvif_event_item(
    event: *const camwire_onvif_event,
    items: camwire_onvif_items,
    index: usize,
    out_name: *mut *const c_char,
    out_value: *mut *const c_char,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live event.
        let e = unsafe { arg(event, "event") }?;
        let out_name = out(out_name, "out_name")?;
        let out_value = out(out_value, "out_value")?;
        let set = e
            .items
            .get(items as usize)
            .ok_or_else(|| Error::invalid(format!("unknown item set {items}")))?;
        let (k, v) = set.get(index).ok_or_else(|| {
            Error::new(
                CAMWIRE_E_OUT_OF_RANGE,
                format!("item {index} of {}", set.len()),
            )
        })?;
        // SAFETY: both checked non-NULL.
        unsafe {
            out_name.write(k.as_ptr());
            out_value.write(v.as_ptr());
        }
        Ok(())
    })
}

/// Frees an event (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_onvif_event_free(event: *mut camwire_onvif_event) {
    guard_value((), || {
        if !event.is_null() {
            // SAFETY: made by camwire_pullpoint_next_event, not freed yet.
            drop(unsafe { Box::from_raw(event) });
        }
    })
}

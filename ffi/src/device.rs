//! ONVIF: discovery (`camwire::onvif::discover` / `probe_unicast`) and devices
//! (`camwire::onvif::OnvifDevice`).

use crate::context::*;
use crate::error::*;
use bytes::Bytes;
use camwire_core::onvif::{
    self, ClientOptions, Credentials, DeviceInformation, DiscoveredDevice, DiscoveryOptions,
    OnvifDevice, Profile, TlsVerify,
};
use std::ffi::{CString, c_char};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Devices found by discovery; free with `camwire_device_list_free`.
pub struct camwire_device_list {
    items: Vec<DiscoveredStrings>,
}

struct DiscoveredStrings {
    endpoint_reference: CString,
    xaddr: Option<CString>,
    xaddrs: CString,
    name: Option<CString>,
    hardware: Option<CString>,
    location: Option<CString>,
    scopes: CString,
}

/// One discovered device, borrowed from its list (pointers valid until the list is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_discovered_device {
    /// Set by the caller before `camwire_device_list_get2` (`camwire_struct_init`); on return the bytes
    /// camwire filled.
    pub struct_size: usize,
    /// WS-Addressing endpoint reference (stable device id, e.g. "urn:uuid:...").
    pub endpoint_reference: *const c_char,
    /// The first usable device-service address (give it to `camwire_device_open`), or NULL.
    pub xaddr: *const c_char,
    /// Every advertised address, space-separated (as in WS-Discovery XAddrs).
    pub xaddrs: *const c_char,
    /// Name from the `onvif://www.onvif.org/name/` scope, or NULL.
    pub name: *const c_char,
    /// Hardware from the `.../hardware/` scope, or NULL.
    pub hardware: *const c_char,
    /// Location from the `.../location/` scope, or NULL.
    pub location: *const c_char,
    /// Every scope, space-separated.
    pub scopes: *const c_char,
}

crate::abi::growable!(camwire_discovered_device, scopes: *const c_char, unsafe { crate::abi::zeroed() });

fn list_of(found: Vec<DiscoveredDevice>) -> camwire_device_list {
    let o = |s: &Option<String>| s.as_deref().map(to_cstring);
    camwire_device_list {
        items: found
            .into_iter()
            .map(|d| DiscoveredStrings {
                endpoint_reference: to_cstring(&d.endpoint_reference),
                xaddr: o(&d.xaddr),
                xaddrs: to_cstring(&d.xaddrs.join(" ")),
                name: o(&d.name),
                hardware: o(&d.hardware),
                location: o(&d.location),
                scopes: to_cstring(&d.scopes.join(" ")),
            })
            .collect(),
    }
}

/// WS-Discovery: multicasts a Probe on every up IPv4 interface (or only `interface`, an
/// address or name like "eth0", when not NULL) and collects answers for `timeout_ms`.
/// Blocks for `timeout_ms`. An empty result is a success.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (timeout 0, bad interface),
/// CAMWIRE_E_CONNECTION (no usable interface/socket), CAMWIRE_E_CLOSED,
/// CAMWIRE_E_WRONG_THREAD.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_discover(
    context: *const camwire_context,
    timeout_ms: u32,
    interface: *const c_char,
    out_list: *mut *mut camwire_device_list,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live pointers per the C contract.
        let ctx = unsafe { arg(context, "context") }?;
        let iface = unsafe { opt_cstr(interface, "interface") }?;
        let out_list = out(out_list, "out_list")?;
        if timeout_ms == 0 {
            return Err(Error::invalid("timeout_ms must be > 0"));
        }
        let opts = DiscoveryOptions {
            timeout: timeout_of(timeout_ms),
            interfaces: iface.map(|i| vec![i.to_string()]).unwrap_or_default(),
            ..DiscoveryOptions::default()
        };
        let found = ctx
            .inner
            .block_on(async { Ok(onvif::discover(opts).await?) })?;
        // SAFETY: checked non-NULL.
        unsafe { out_list.write(Box::into_raw(Box::new(list_of(found)))) };
        Ok(())
    })
}

/// WS-Discovery by unicast: sends a Probe to `target` ("host", "host:port"; port 3702 by
/// default) and collects answers for `timeout_ms` (for cameras on other subnets).
///
/// Errors: as `camwire_discover`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_discover_unicast(
    context: *const camwire_context,
    target: *const c_char,
    timeout_ms: u32,
    out_list: *mut *mut camwire_device_list,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live pointers per the C contract.
        let ctx = unsafe { arg(context, "context") }?;
        let target = unsafe { cstr(target, "target") }?;
        let out_list = out(out_list, "out_list")?;
        if timeout_ms == 0 {
            return Err(Error::invalid("timeout_ms must be > 0"));
        }
        let found = ctx
            .inner
            .block_on(async { Ok(onvif::probe_unicast(target, timeout_of(timeout_ms)).await?) })?;
        // SAFETY: checked non-NULL.
        unsafe { out_list.write(Box::into_raw(Box::new(list_of(found)))) };
        Ok(())
    })
}

/// Number of devices in the list (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_list_len(list: *const camwire_device_list) -> usize {
    // SAFETY: NULL or a live list.
    guard_value(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// The device at `index`, as borrowed pointers into the list, into `out_device` (its
/// `struct_size` set by the caller, e.g. with `camwire_struct_init`).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_list_get2(
    list: *const camwire_device_list,
    index: usize,
    out_device: *mut camwire_discovered_device,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live handles; the struct_size set by the caller.
        let v = unsafe { camwire_device_list_get_value(list, index) }?;
        unsafe { crate::abi::write(out_device, v) }
    })
}

/// What `camwire_device_list_get2` writes (also behind the 0.1 entry point).
///
/// # Safety
/// Handles NULL or live.
pub(crate) unsafe fn camwire_device_list_get_value(
    list: *const camwire_device_list,
    index: usize,
) -> Result<camwire_discovered_device> {
    // SAFETY: NULL or a live list.
    let l = unsafe { arg(list, "list") }?;
    let d = l.items.get(index).ok_or_else(|| {
        Error::new(
            CAMWIRE_E_OUT_OF_RANGE,
            format!("index {index} of {}", l.items.len()),
        )
    })?;
    let v = camwire_discovered_device {
        struct_size: std::mem::size_of::<camwire_discovered_device>(),
        endpoint_reference: d.endpoint_reference.as_ptr(),
        xaddr: opt_ptr(&d.xaddr),
        xaddrs: d.xaddrs.as_ptr(),
        name: opt_ptr(&d.name),
        hardware: opt_ptr(&d.hardware),
        location: opt_ptr(&d.location),
        scopes: d.scopes.as_ptr(),
    };
    Ok(v)
}

/// Frees a device list (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_list_free(list: *mut camwire_device_list) {
    guard_value((), || {
        if !list.is_null() {
            // SAFETY: made by camwire_discover*, not freed yet.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

pub(crate) struct DeviceShared {
    pub(crate) ctx: Arc<ContextInner>,
    pub(crate) dev: OnvifDevice,
    /// The login, also used for the device's RTSP replay (`camwire_device_fetch`).
    pub(crate) creds: Option<Credentials>,
    closed: AtomicBool,
}

impl Child for DeviceShared {
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// A connected ONVIF device.
pub struct camwire_device {
    pub(crate) shared: Arc<DeviceShared>,
}

impl camwire_device {
    pub(crate) fn open(&self) -> Result<&DeviceShared> {
        if self.shared.closed.load(Ordering::Acquire) || self.shared.ctx.is_closed() {
            return Err(Error::closed("device"));
        }
        Ok(&self.shared)
    }
}

/// Connects to an ONVIF device: `xaddr` is its device-service URL or "host[:port]";
/// `username`/`password` may be NULL for anonymous access. `timeout_ms` bounds each HTTP
/// exchange (0 = 10 s); opening makes a few (clock, services). Blocks. An https:// XAddr is
/// verified against public roots; see camwire_device_open_tls for self-signed cameras.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT, CAMWIRE_E_CONNECTION,
/// CAMWIRE_E_AUTH, CAMWIRE_E_TIMEOUT, CAMWIRE_E_PROTOCOL, CAMWIRE_E_CLOSED,
/// CAMWIRE_E_WRONG_THREAD.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_open(
    context: *const camwire_context,
    xaddr: *const c_char,
    username: *const c_char,
    password: *const c_char,
    timeout_ms: u32,
    out_device: *mut *mut camwire_device,
) -> camwire_result {
    // SAFETY: the same contract; no TLS policy given.
    unsafe {
        camwire_device_open_tls(
            context,
            xaddr,
            username,
            password,
            timeout_ms,
            std::ptr::null(),
            std::ptr::null(),
            false,
            out_device,
        )
    }
}

/// camwire_device_open for an https:// XAddr whose certificate public roots do not vouch
/// for, with one explicit policy: `tls_pin` the SHA-256 fingerprint of the camera's own
/// (self-signed) certificate in hex, ':' allowed (as `openssl x509 -fingerprint -sha256`
/// prints it); or `tls_ca_file` a site CA (PEM or DER) that signed it; or `tls_accept_any`
/// true (encrypted, but open to a man in the middle). At most one; none of them is
/// camwire_device_open.
///
/// Errors: as camwire_device_open; CAMWIRE_E_INVALID_ARGUMENT for more than one policy, a
/// malformed pin, or a CA file without a certificate; CAMWIRE_E_IO when the CA file cannot
/// be read.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn camwire_device_open_tls(
    context: *const camwire_context,
    xaddr: *const c_char,
    username: *const c_char,
    password: *const c_char,
    timeout_ms: u32,
    tls_pin: *const c_char,
    tls_ca_file: *const c_char,
    tls_accept_any: bool,
    out_device: *mut *mut camwire_device,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live pointers per the C contract.
        let ctx = unsafe { arg(context, "context") }?;
        let xaddr = unsafe { cstr(xaddr, "xaddr") }?;
        let user = unsafe { opt_cstr(username, "username") }?;
        let pass = unsafe { opt_cstr(password, "password") }?;
        let pin = unsafe { opt_cstr(tls_pin, "tls_pin") }?;
        let ca_path = unsafe { opt_cstr(tls_ca_file, "tls_ca_file") }?;
        let out_device = out(out_device, "out_device")?;
        let ca = match ca_path {
            Some(p) => {
                Some(std::fs::read(p).map_err(|e| Error::new(CAMWIRE_E_IO, format!("{p}: {e}")))?)
            }
            None => None,
        };
        let tls = TlsVerify::from_choice(pin, ca.as_deref(), tls_accept_any)?;
        open_device(ctx, xaddr, user, pass, timeout_ms, tls, out_device)
    })
}

fn open_device(
    ctx: &camwire_context,
    xaddr: &str,
    user: Option<&str>,
    pass: Option<&str>,
    timeout_ms: u32,
    tls: TlsVerify,
    out_device: *mut *mut camwire_device,
) -> Result<()> {
    let mut opts = ClientOptions {
        tls,
        ..ClientOptions::default()
    };
    if timeout_ms > 0 {
        opts.timeout = timeout_of(timeout_ms);
    }
    let creds = user.map(|u| Credentials::new(u, pass.unwrap_or("")));
    let login = creds.clone();
    let dev = ctx
        .inner
        .block_on(async { Ok(OnvifDevice::connect(xaddr, creds, opts).await?) })?;
    let shared = Arc::new(DeviceShared {
        ctx: ctx.inner.clone(),
        dev,
        creds: login,
        closed: AtomicBool::new(false),
    });
    let weak: std::sync::Weak<dyn Child> = Arc::downgrade(&shared) as _;
    ctx.inner.register(weak);
    // SAFETY: checked non-NULL.
    unsafe { out_device.write(Box::into_raw(Box::new(camwire_device { shared }))) };
    Ok(())
}

/// Marks the device closed: later calls return CAMWIRE_E_CLOSED (ONVIF holds no connection
/// between calls). Idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_close(device: *const camwire_device) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let d = unsafe { arg(device, "device") }?;
        d.shared.closed.store(true, Ordering::Release);
        Ok(())
    })
}

/// Frees a device (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_free(device: *mut camwire_device) {
    guard_value((), || {
        if !device.is_null() {
            // SAFETY: made by camwire_device_open, not freed yet.
            drop(unsafe { Box::from_raw(device) });
        }
    })
}

/// Device information (GetDeviceInformation); free with `camwire_device_info_free`.
pub struct camwire_device_info {
    manufacturer: CString,
    model: CString,
    firmware_version: CString,
    serial_number: CString,
    hardware_id: CString,
}

/// Borrowed view of a `camwire_device_info` (valid until it is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_device_info_view {
    /// Set by the caller before `camwire_device_info_get2` (`camwire_struct_init`); on return the bytes
    /// camwire filled.
    pub struct_size: usize,
    /// Manufacturer.
    pub manufacturer: *const c_char,
    /// Model.
    pub model: *const c_char,
    /// Firmware version.
    pub firmware_version: *const c_char,
    /// Serial number.
    pub serial_number: *const c_char,
    /// Hardware id.
    pub hardware_id: *const c_char,
}

crate::abi::growable!(camwire_device_info_view, hardware_id: *const c_char, unsafe { crate::abi::zeroed() });

/// Asks the device for its information. Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_CLOSED, CAMWIRE_E_WRONG_THREAD, ONVIF errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_get_information(
    device: *const camwire_device,
    out_info: *mut *mut camwire_device_info,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let d = unsafe { arg(device, "device") }?.open()?;
        let out_info = out(out_info, "out_info")?;
        let i: DeviceInformation = d
            .ctx
            .block_on(async { Ok(d.dev.device_information().await?) })?;
        let boxed = Box::new(camwire_device_info {
            manufacturer: to_cstring(&i.manufacturer),
            model: to_cstring(&i.model),
            firmware_version: to_cstring(&i.firmware_version),
            serial_number: to_cstring(&i.serial_number),
            hardware_id: to_cstring(&i.hardware_id),
        });
        // SAFETY: checked non-NULL.
        unsafe { out_info.write(Box::into_raw(boxed)) };
        Ok(())
    })
}

/// Fills `out_view` (its `struct_size` set by the caller) with borrowed pointers into `info`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_info_get2(
    info: *const camwire_device_info,
    out_view: *mut camwire_device_info_view,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live handles; the struct_size set by the caller.
        let v = unsafe { camwire_device_info_get_value(info) }?;
        unsafe { crate::abi::write(out_view, v) }
    })
}

/// What `camwire_device_info_get2` writes (also behind the 0.1 entry point).
///
/// # Safety
/// Handles NULL or live.
pub(crate) unsafe fn camwire_device_info_get_value(
    info: *const camwire_device_info,
) -> Result<camwire_device_info_view> {
    // SAFETY: NULL or a live handle.
    let i = unsafe { arg(info, "info") }?;
    let v = camwire_device_info_view {
        struct_size: std::mem::size_of::<camwire_device_info_view>(),
        manufacturer: i.manufacturer.as_ptr(),
        model: i.model.as_ptr(),
        firmware_version: i.firmware_version.as_ptr(),
        serial_number: i.serial_number.as_ptr(),
        hardware_id: i.hardware_id.as_ptr(),
    };
    Ok(v)
}

/// Frees device information (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_info_free(info: *mut camwire_device_info) {
    guard_value((), || {
        if !info.is_null() {
            // SAFETY: made by camwire_device_get_information, not freed yet.
            drop(unsafe { Box::from_raw(info) });
        }
    })
}

struct ProfileStrings {
    token: CString,
    name: CString,
    encoding: Option<CString>,
    width: u32,
    height: u32,
    fps: f64,
    stream_uri: Option<CString>,
    snapshot_uri: Option<CString>,
}

/// Media profiles of a device; free with `camwire_profile_list_free`.
pub struct camwire_profile_list {
    items: Vec<ProfileStrings>,
}

/// One media profile, borrowed from its list (valid until the list is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_profile {
    /// Set by the caller before `camwire_profile_list_get2` (`camwire_struct_init`); on return the bytes
    /// camwire filled.
    pub struct_size: usize,
    /// Profile token (pass to `camwire_device_snapshot`).
    pub token: *const c_char,
    /// Profile name.
    pub name: *const c_char,
    /// Video encoding ("H264", "H265", "JPEG", ...), or NULL if the profile has no encoder.
    pub encoding: *const c_char,
    /// Width in pixels, 0 if unknown.
    pub width: u32,
    /// Height in pixels, 0 if unknown.
    pub height: u32,
    /// Frame-rate limit, 0 if unknown.
    pub fps: f64,
    /// RTSP stream URI (credentials not included), or NULL if the device gave none.
    pub stream_uri: *const c_char,
    /// HTTP snapshot URI, or NULL.
    pub snapshot_uri: *const c_char,
}

crate::abi::growable!(camwire_profile, snapshot_uri: *const c_char, unsafe { crate::abi::zeroed() });

/// The device's media profiles with their stream and snapshot URIs. Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_CLOSED, CAMWIRE_E_WRONG_THREAD, ONVIF errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_get_profiles(
    device: *const camwire_device,
    out_list: *mut *mut camwire_profile_list,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let d = unsafe { arg(device, "device") }?.open()?;
        let out_list = out(out_list, "out_list")?;
        let profiles: Vec<Profile> = d.ctx.block_on(async { Ok(d.dev.profiles().await?) })?;
        let o = |s: &Option<String>| s.as_deref().map(to_cstring);
        let items = profiles
            .iter()
            .map(|p| ProfileStrings {
                token: to_cstring(&p.token),
                name: to_cstring(&p.name),
                encoding: o(&p.encoding),
                width: p.width.unwrap_or(0),
                height: p.height.unwrap_or(0),
                fps: p.fps.map_or(0.0, f64::from),
                stream_uri: o(&p.stream_uri),
                snapshot_uri: o(&p.snapshot_uri),
            })
            .collect();
        // SAFETY: checked non-NULL.
        unsafe { out_list.write(Box::into_raw(Box::new(camwire_profile_list { items }))) };
        Ok(())
    })
}

/// Number of profiles (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_profile_list_len(list: *const camwire_profile_list) -> usize {
    // SAFETY: NULL or a live list.
    guard_value(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// The profile at `index`, into `out_profile` (its `struct_size` set by the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_profile_list_get2(
    list: *const camwire_profile_list,
    index: usize,
    out_profile: *mut camwire_profile,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live handles; the struct_size set by the caller.
        let v = unsafe { camwire_profile_list_get_value(list, index) }?;
        unsafe { crate::abi::write(out_profile, v) }
    })
}

/// What `camwire_profile_list_get2` writes (also behind the 0.1 entry point).
///
/// # Safety
/// Handles NULL or live.
pub(crate) unsafe fn camwire_profile_list_get_value(
    list: *const camwire_profile_list,
    index: usize,
) -> Result<camwire_profile> {
    // SAFETY: NULL or a live list.
    let l = unsafe { arg(list, "list") }?;
    let p = l.items.get(index).ok_or_else(|| {
        Error::new(
            CAMWIRE_E_OUT_OF_RANGE,
            format!("index {index} of {}", l.items.len()),
        )
    })?;
    let v = camwire_profile {
        struct_size: std::mem::size_of::<camwire_profile>(),
        token: p.token.as_ptr(),
        name: p.name.as_ptr(),
        encoding: opt_ptr(&p.encoding),
        width: p.width,
        height: p.height,
        fps: p.fps,
        stream_uri: opt_ptr(&p.stream_uri),
        snapshot_uri: opt_ptr(&p.snapshot_uri),
    };
    Ok(v)
}

/// Frees a profile list (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_profile_list_free(list: *mut camwire_profile_list) {
    guard_value((), || {
        if !list.is_null() {
            // SAFETY: made by camwire_device_get_profiles, not freed yet.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

fn fetch_snapshot(device: *const camwire_device, token: *const c_char) -> Result<Bytes> {
    // SAFETY: NULL or live pointers per the C contract.
    let d = unsafe { arg(device, "device") }?.open()?;
    let token = unsafe { cstr(token, "profile_token") }?;
    d.ctx.block_on(async {
        let uri = d.dev.snapshot_uri(token).await?;
        Ok(d.dev.snapshot_from_uri(&uri).await?)
    })
}

/// Fetches a JPEG snapshot of the profile `profile_token` into the caller's buffer.
/// `*size` is the capacity on entry and the bytes written on success. If the image does not
/// fit, its size is written to `*size` and CAMWIRE_E_BUFFER_TOO_SMALL returned (the image is
/// discarded: call again with a larger buffer, or use `camwire_device_snapshot_alloc`).
/// Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_BUFFER_TOO_SMALL, CAMWIRE_E_CLOSED,
/// CAMWIRE_E_WRONG_THREAD, ONVIF errors (CAMWIRE_E_PROTOCOL for a non-image answer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_snapshot(
    device: *const camwire_device,
    profile_token: *const c_char,
    buffer: *mut u8,
    size: *mut usize,
) -> camwire_result {
    guard(|| {
        let size = out(size, "size")?;
        let img = fetch_snapshot(device, profile_token)?;
        // SAFETY: non-NULL.
        let cap = unsafe { size.read() };
        if cap < img.len() || buffer.is_null() {
            // SAFETY: non-NULL (documented exception: the needed size).
            unsafe { size.write(img.len()) };
            return Err(Error::new(
                CAMWIRE_E_BUFFER_TOO_SMALL,
                format!("snapshot needs {} bytes, buffer has {cap}", img.len()),
            ));
        }
        // SAFETY: the caller gives `cap` >= len writable bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(img.as_ptr(), buffer, img.len());
            size.write(img.len());
        }
        Ok(())
    })
}

/// A byte buffer owned by camwire; free with `camwire_buffer_free`.
pub struct camwire_buffer {
    data: Bytes,
}

/// Fetches a JPEG snapshot into a buffer camwire allocates. Blocks.
///
/// Errors: as `camwire_device_snapshot` (never CAMWIRE_E_BUFFER_TOO_SMALL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_snapshot_alloc(
    device: *const camwire_device,
    profile_token: *const c_char,
    out_buffer: *mut *mut camwire_buffer,
) -> camwire_result {
    guard(|| {
        let out_buffer = out(out_buffer, "out_buffer")?;
        let data = fetch_snapshot(device, profile_token)?;
        // SAFETY: checked non-NULL.
        unsafe { out_buffer.write(Box::into_raw(Box::new(camwire_buffer { data }))) };
        Ok(())
    })
}

/// The buffer's bytes (NULL for a NULL buffer); valid until it is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_buffer_data(buffer: *const camwire_buffer) -> *const u8 {
    // SAFETY: NULL or a live buffer.
    guard_value(std::ptr::null(), || {
        unsafe { buffer.as_ref() }.map_or(std::ptr::null(), |b| b.data.as_ptr())
    })
}

/// The buffer's length (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_buffer_len(buffer: *const camwire_buffer) -> usize {
    // SAFETY: NULL or a live buffer.
    guard_value(0, || unsafe { buffer.as_ref() }.map_or(0, |b| b.data.len()))
}

/// Frees a buffer (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_buffer_free(buffer: *mut camwire_buffer) {
    guard_value((), || {
        if !buffer.is_null() {
            // SAFETY: made by camwire, not freed yet.
            drop(unsafe { Box::from_raw(buffer) });
        }
    })
}

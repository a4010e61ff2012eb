//! ONVIF PTZ (`camwire::onvif::Ptz`): presets, go to a preset, continuous move, stop.

use crate::device::{DeviceShared, camwire_device};
use crate::error::*;
use camwire_core::onvif::{Ptz, PtzVelocity};
use std::ffi::{CString, c_char};

/// PTZ presets of a profile; free with `camwire_ptz_preset_list_free`.
pub struct camwire_ptz_preset_list {
    items: Vec<(CString, CString)>,
}

/// One preset, borrowed from its list (valid until the list is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_ptz_preset {
    /// Set by the caller before `camwire_ptz_preset_list_get` (`camwire_struct_init`); on
    /// return the bytes camwire filled.
    pub struct_size: usize,
    /// Preset token (for `camwire_device_ptz_goto_preset`).
    pub token: *const c_char,
    /// Preset name ("" when the device gave none).
    pub name: *const c_char,
}

crate::abi::growable!(camwire_ptz_preset, name: *const c_char, unsafe {
    crate::abi::zeroed()
});

/// The device's PTZ service (CAMWIRE_E_UNSUPPORTED when it has none) and its profile token.
///
/// # Safety
/// Pointers NULL or live per the C contract.
unsafe fn ptz<'a>(
    device: *const camwire_device,
    profile_token: *const c_char,
) -> Result<(&'a DeviceShared, Ptz, &'a str)> {
    // SAFETY: per the function contract.
    let d = unsafe { arg(device, "device") }?.open()?;
    let token = unsafe { cstr(profile_token, "profile_token") }?;
    let ptz = d
        .dev
        .ptz()
        .map_err(|_| Error::new(CAMWIRE_E_UNSUPPORTED, "the device lists no PTZ service"))?;
    Ok((d, ptz, token))
}

/// The PTZ presets of profile `profile_token` (GetPresets). Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_UNSUPPORTED (no PTZ service), CAMWIRE_E_CLOSED,
/// CAMWIRE_E_WRONG_THREAD, ONVIF errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_ptz_get_presets(
    device: *const camwire_device,
    profile_token: *const c_char,
    out_list: *mut *mut camwire_ptz_preset_list,
) -> camwire_result {
    guard(|| {
        // SAFETY: per the C contract.
        let (d, ptz, token) = unsafe { ptz(device, profile_token) }?;
        let out_list = out(out_list, "out_list")?;
        let presets = d.ctx.block_on(async { Ok(ptz.presets(token).await?) })?;
        let items = presets
            .iter()
            .map(|p| (to_cstring(&p.token), to_cstring(&p.name)))
            .collect();
        let boxed = Box::new(camwire_ptz_preset_list { items });
        // SAFETY: checked non-NULL.
        unsafe { out_list.write(Box::into_raw(boxed)) };
        Ok(())
    })
}

/// Number of presets (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_ptz_preset_list_len(
    list: *const camwire_ptz_preset_list,
) -> usize {
    // SAFETY: NULL or a live list.
    guard_value(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// The preset at `index`, into `out_preset` (its `struct_size` set by the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_ptz_preset_list_get(
    list: *const camwire_ptz_preset_list,
    index: usize,
    out_preset: *mut camwire_ptz_preset,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or a live list.
        let l = unsafe { arg(list, "list") }?;
        let (token, name) = l.items.get(index).ok_or_else(|| {
            Error::new(
                CAMWIRE_E_OUT_OF_RANGE,
                format!("index {index} of {}", l.items.len()),
            )
        })?;
        let v = camwire_ptz_preset {
            struct_size: std::mem::size_of::<camwire_ptz_preset>(),
            token: token.as_ptr(),
            name: name.as_ptr(),
        };
        // SAFETY: the struct_size set by the caller.
        unsafe { crate::abi::write(out_preset, v) }
    })
}

/// Frees a preset list (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_ptz_preset_list_free(list: *mut camwire_ptz_preset_list) {
    guard_value((), || {
        if !list.is_null() {
            // SAFETY: made by camwire_device_ptz_get_presets, not freed yet.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// Moves profile `profile_token`'s head to preset `preset_token` (GotoPreset, the device's
/// default speed). Returns when the device accepted it, not when the head arrives. Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_UNSUPPORTED (no PTZ service), CAMWIRE_E_CLOSED,
/// CAMWIRE_E_WRONG_THREAD, ONVIF errors (CAMWIRE_E_PROTOCOL for a fault, e.g. no such
/// preset).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_ptz_goto_preset(
    device: *const camwire_device,
    profile_token: *const c_char,
    preset_token: *const c_char,
) -> camwire_result {
    guard(|| {
        // SAFETY: per the C contract.
        let (d, ptz, token) = unsafe { ptz(device, profile_token) }?;
        let preset = unsafe { cstr(preset_token, "preset_token") }?;
        d.ctx
            .block_on(async { Ok(ptz.goto_preset(token, preset).await?) })
    })
}

/// Starts a continuous move (ContinuousMove) at `pan`, `tilt`, `zoom` speeds in -1..1
/// (clamped; positive = right, up, in). The device stops by itself after `timeout_ms` (0 =
/// when told: `camwire_device_ptz_stop`). Blocks until the device accepted it.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (a speed not finite),
/// CAMWIRE_E_UNSUPPORTED (no PTZ service), CAMWIRE_E_CLOSED, CAMWIRE_E_WRONG_THREAD, ONVIF
/// errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_ptz_continuous_move(
    device: *const camwire_device,
    profile_token: *const c_char,
    pan: f32,
    tilt: f32,
    zoom: f32,
    timeout_ms: u32,
) -> camwire_result {
    guard(|| {
        // SAFETY: per the C contract.
        let (d, ptz, token) = unsafe { ptz(device, profile_token) }?;
        if !(pan.is_finite() && tilt.is_finite() && zoom.is_finite()) {
            return Err(Error::invalid("PTZ speeds must be finite"));
        }
        let v = PtzVelocity { pan, tilt, zoom };
        let t = (timeout_ms > 0).then(|| crate::context::timeout_of(timeout_ms));
        d.ctx
            .block_on(async { Ok(ptz.continuous_move(token, v, t).await?) })
    })
}

/// Stops pan/tilt (`pan_tilt`) and/or zoom (`zoom`) of profile `profile_token` (Stop).
/// Blocks.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_UNSUPPORTED (no PTZ service), CAMWIRE_E_CLOSED,
/// CAMWIRE_E_WRONG_THREAD, ONVIF errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_device_ptz_stop(
    device: *const camwire_device,
    profile_token: *const c_char,
    pan_tilt: bool,
    zoom: bool,
) -> camwire_result {
    guard(|| {
        // SAFETY: per the C contract.
        let (d, ptz, token) = unsafe { ptz(device, profile_token) }?;
        d.ctx
            .block_on(async { Ok(ptz.stop(token, pan_tilt, zoom).await?) })
    })
}

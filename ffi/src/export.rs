//! Evidence export (`camwire::export`): recorded ranges and gaps, export of a time range to
//! a clip with its manifest, and verification of a clip against its manifest. These read and
//! write files on the calling thread; they need no context.

use crate::error::*;
use camwire_core::export::{
    self, ExportOptions, Listing, OutputFormat, VerifyReport, parse_rfc3339,
};
use std::ffi::{CString, c_char};

/// Clip container (`CAMWIRE_EXPORT_*`).
pub type camwire_export_format = u32;
/// `moov` first, then one `mdat`: plays everywhere (default).
pub const CAMWIRE_EXPORT_PROGRESSIVE: camwire_export_format = 0;
/// One `moof`/`mdat` per source fragment, each with its wall-clock (`prft`).
pub const CAMWIRE_EXPORT_FRAGMENTED: camwire_export_format = 1;

/// "No bound" for the start of `camwire_list_ranges`.
pub const CAMWIRE_TIME_MIN: i64 = i64::MIN;
/// "No bound" for the end of `camwire_list_ranges`.
pub const CAMWIRE_TIME_MAX: i64 = i64::MAX;

/// Recorded ranges and gaps of one camera; free with `camwire_range_list_free`.
pub struct camwire_range_list {
    listing: Listing,
    reasons: Vec<Option<CString>>,
}

/// A span of continuous recording (Unix us).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_time_range {
    /// Set by the caller before `camwire_range_list_get2` (`camwire_struct_init`); on return the bytes
    /// camwire filled.
    pub struct_size: usize,
    /// First frame's wall-clock time.
    pub start_us: i64,
    /// End of the last frame.
    pub end_us: i64,
}

crate::abi::growable!(camwire_time_range, end_us: i64, unsafe { crate::abi::zeroed() });

/// A span without recording between two recorded ones, borrowed from its list.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_gap {
    /// Set by the caller before `camwire_range_list_gap2` (`camwire_struct_init`); on return the bytes
    /// camwire filled.
    pub struct_size: usize,
    /// End of the recording before it, Unix us.
    pub start_us: i64,
    /// Start of the recording after it, Unix us.
    pub end_us: i64,
    /// Why, when the recorder wrote it down; else NULL.
    pub reason: *const c_char,
}

crate::abi::growable!(camwire_gap, reason: *const c_char, unsafe { crate::abi::zeroed() });

/// Lists what camera `camera` has recorded under `root` between `start_us` and `end_us`
/// (Unix us; CAMWIRE_TIME_MIN / CAMWIRE_TIME_MAX for open ends): continuous ranges and the
/// gaps between them. Reads fragment headers only. `root` may be `s3://bucket/prefix`
/// (segments a recorder uploaded; endpoint and keys from the AWS_* environment variables,
/// feature `s3`): only the days the range needs are listed, fragment headers are read with
/// ranged GETs.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (camera id, start >= end),
/// CAMWIRE_E_NOT_FOUND (no such camera), CAMWIRE_E_IO.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_list_ranges(
    root: *const c_char,
    camera: *const c_char,
    start_us: i64,
    end_us: i64,
    out_list: *mut *mut camwire_range_list,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or NUL-terminated strings.
        let root = unsafe { cpath(root, "root") }?;
        let camera = unsafe { cstr(camera, "camera") }?;
        let out_list = out(out_list, "out_list")?;
        let start = (start_us != CAMWIRE_TIME_MIN).then(|| from_unix_us(start_us));
        let end = (end_us != CAMWIRE_TIME_MAX).then(|| from_unix_us(end_us));
        let listing = export::ranges(&root, camera, start, end)?;
        let reasons = listing
            .gaps
            .iter()
            .map(|g| g.reason.as_deref().map(to_cstring))
            .collect();
        let l = Box::new(camwire_range_list { listing, reasons });
        // SAFETY: checked non-NULL.
        unsafe { out_list.write(Box::into_raw(l)) };
        Ok(())
    })
}

/// Number of recorded ranges (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_range_list_len(list: *const camwire_range_list) -> usize {
    // SAFETY: NULL or a live list.
    guard_value(0, || {
        unsafe { list.as_ref() }.map_or(0, |l| l.listing.ranges.len())
    })
}

/// The range at `index`, into `out_range` (its `struct_size` set by the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_range_list_get2(
    list: *const camwire_range_list,
    index: usize,
    out_range: *mut camwire_time_range,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live handles; the struct_size set by the caller.
        let v = unsafe { camwire_range_list_get_value(list, index) }?;
        unsafe { crate::abi::write(out_range, v) }
    })
}

/// What `camwire_range_list_get2` writes (also behind the 0.1 entry point).
///
/// # Safety
/// Handles NULL or live.
pub(crate) unsafe fn camwire_range_list_get_value(
    list: *const camwire_range_list,
    index: usize,
) -> Result<camwire_time_range> {
    // SAFETY: NULL or a live list.
    let l = unsafe { arg(list, "list") }?;
    let r = l
        .listing
        .ranges
        .get(index)
        .ok_or_else(|| Error::new(CAMWIRE_E_OUT_OF_RANGE, format!("range index {index}")))?;
    let v = camwire_time_range {
        struct_size: std::mem::size_of::<camwire_time_range>(),
        start_us: unix_us(r.start),
        end_us: unix_us(r.end),
    };
    Ok(v)
}

/// Number of gaps (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_range_list_gap_count(list: *const camwire_range_list) -> usize {
    // SAFETY: NULL or a live list.
    guard_value(0, || {
        unsafe { list.as_ref() }.map_or(0, |l| l.listing.gaps.len())
    })
}

/// The gap at `index` (its reason is borrowed from the list), into `out_gap` (its
/// `struct_size` set by the caller).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_OUT_OF_RANGE, CAMWIRE_E_INVALID_ARGUMENT
/// (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_range_list_gap2(
    list: *const camwire_range_list,
    index: usize,
    out_gap: *mut camwire_gap,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live handles; the struct_size set by the caller.
        let v = unsafe { camwire_range_list_gap_value(list, index) }?;
        unsafe { crate::abi::write(out_gap, v) }
    })
}

/// What `camwire_range_list_gap2` writes (also behind the 0.1 entry point).
///
/// # Safety
/// Handles NULL or live.
pub(crate) unsafe fn camwire_range_list_gap_value(
    list: *const camwire_range_list,
    index: usize,
) -> Result<camwire_gap> {
    // SAFETY: NULL or a live list.
    let l = unsafe { arg(list, "list") }?;
    let g = l
        .listing
        .gaps
        .get(index)
        .ok_or_else(|| Error::new(CAMWIRE_E_OUT_OF_RANGE, format!("gap index {index}")))?;
    let v = camwire_gap {
        struct_size: std::mem::size_of::<camwire_gap>(),
        start_us: unix_us(g.start),
        end_us: unix_us(g.end),
        reason: opt_ptr(&l.reasons[index]),
    };
    Ok(v)
}

/// Frees a range list (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_range_list_free(list: *mut camwire_range_list) {
    guard_value((), || {
        if !list.is_null() {
            // SAFETY: made by camwire_list_ranges, not freed yet.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// What an export wrote; free with `camwire_export_result_free`.
pub struct camwire_export_result {
    output: CString,
    manifest_path: CString,
    manifest_json: CString,
    frames: u64,
    actual_start_us: i64,
    actual_end_us: i64,
    gap_count: usize,
}

/// Borrowed view of a `camwire_export_result` (valid until it is freed).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_export_view {
    /// Set by the caller before `camwire_export_result_get2` (`camwire_struct_init`); on return the bytes
    /// camwire filled.
    pub struct_size: usize,
    /// The clip.
    pub output: *const c_char,
    /// Its manifest (`output` + ".manifest.json").
    pub manifest_path: *const c_char,
    /// The manifest's JSON text (fields documented in the README).
    pub manifest_json: *const c_char,
    /// Frames presented.
    pub frames: u64,
    /// What the clip presents, Unix us.
    pub actual_start_us: i64,
    /// End of the presentation, Unix us.
    pub actual_end_us: i64,
    /// Holes in the recording inside the clip.
    pub gap_count: usize,
}

crate::abi::growable!(camwire_export_view, gap_count: usize, unsafe { crate::abi::zeroed() });

fn rfc_us(s: &str) -> i64 {
    parse_rfc3339(s).map(unix_us).unwrap_or(0)
}

/// Exports camera `camera`'s recording under `root` from `start_us` to `end_us` (Unix us)
/// into the new file `output` (never overwritten) with `output.manifest.json` beside it
/// (hashes of the clip, its sources and its samples). Blocks on file I/O on this thread.
/// From an `s3://bucket/prefix` root the samples are read with ranged GETs pinned to each
/// object's ETag, and the manifest names each object's URL, ETag and SHA-256.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (id, start >= end, format),
/// CAMWIRE_E_NOT_FOUND (camera or recording in the range), CAMWIRE_E_ALREADY_EXISTS
/// (output), CAMWIRE_E_UNSUPPORTED (resolution change inside the range), CAMWIRE_E_IO.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_export(
    root: *const c_char,
    camera: *const c_char,
    start_us: i64,
    end_us: i64,
    output: *const c_char,
    format: camwire_export_format,
    out_result: *mut *mut camwire_export_result,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or NUL-terminated strings.
        let root = unsafe { cpath(root, "root") }?;
        let camera = unsafe { cstr(camera, "camera") }?;
        let output = unsafe { cpath(output, "output") }?;
        let out_result = out(out_result, "out_result")?;
        let opts = ExportOptions {
            format: match format {
                CAMWIRE_EXPORT_PROGRESSIVE => OutputFormat::Progressive,
                CAMWIRE_EXPORT_FRAGMENTED => OutputFormat::Fragmented,
                f => return Err(Error::invalid(format!("unknown export format {f}"))),
            },
            ..ExportOptions::default()
        };
        let s = export::export(
            &root,
            camera,
            from_unix_us(start_us),
            from_unix_us(end_us),
            &output,
            &opts,
        )?;
        let r = Box::new(camwire_export_result::new(
            &s.output,
            &s.manifest_path,
            &s.manifest,
        ));
        // SAFETY: checked non-NULL.
        unsafe { out_result.write(Box::into_raw(r)) };
        Ok(())
    })
}

impl camwire_export_result {
    /// The result of a clip written with manifest `m` (an export, or a device fetch whose
    /// manifest file also holds its `origin` block).
    pub(crate) fn new(
        output: &std::path::Path,
        manifest_path: &std::path::Path,
        m: &export::Manifest,
    ) -> camwire_export_result {
        let json = std::fs::read_to_string(manifest_path).unwrap_or_default();
        camwire_export_result {
            output: path_cstring(output),
            manifest_path: path_cstring(manifest_path),
            manifest_json: to_cstring(&json),
            frames: m.frames,
            actual_start_us: rfc_us(&m.actual.start),
            actual_end_us: rfc_us(&m.actual.end),
            gap_count: m.gaps.len(),
        }
    }
}

/// Fills `out_view` (its `struct_size` set by the caller) with borrowed pointers into
/// `result`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_export_result_get2(
    result: *const camwire_export_result,
    out_view: *mut camwire_export_view,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live handles; the struct_size set by the caller.
        let v = unsafe { camwire_export_result_get_value(result) }?;
        unsafe { crate::abi::write(out_view, v) }
    })
}

/// What `camwire_export_result_get2` writes (also behind the 0.1 entry point).
///
/// # Safety
/// Handles NULL or live.
pub(crate) unsafe fn camwire_export_result_get_value(
    result: *const camwire_export_result,
) -> Result<camwire_export_view> {
    // SAFETY: NULL or a live handle.
    let r = unsafe { arg(result, "result") }?;
    let v = camwire_export_view {
        struct_size: std::mem::size_of::<camwire_export_view>(),
        output: r.output.as_ptr(),
        manifest_path: r.manifest_path.as_ptr(),
        manifest_json: r.manifest_json.as_ptr(),
        frames: r.frames,
        actual_start_us: r.actual_start_us,
        actual_end_us: r.actual_end_us,
        gap_count: r.gap_count,
    };
    Ok(v)
}

/// Frees an export result (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_export_result_free(result: *mut camwire_export_result) {
    guard_value((), || {
        if !result.is_null() {
            // SAFETY: made by camwire_export, not freed yet.
            drop(unsafe { Box::from_raw(result) });
        }
    })
}

/// A verification's outcome; free with `camwire_verify_report_free`.
pub struct camwire_verify_report {
    ok: bool,
    output_matches: bool,
    sources: usize,
    missing_sources: usize,
    problems: CString,
}

/// Borrowed view of a `camwire_verify_report`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct camwire_verify_view {
    /// Set by the caller before `camwire_verify_report_get2` (`camwire_struct_init`); on return the bytes
    /// camwire filled.
    pub struct_size: usize,
    /// True when nothing that could be checked differs (missing sources, e.g. deleted by
    /// retention, do not make it false).
    pub ok: bool,
    /// The clip's size and SHA-256 match the manifest.
    pub output_matches: bool,
    /// Source files named by the manifest.
    pub sources: usize,
    /// Of those, how many are gone.
    pub missing_sources: usize,
    /// One line per mismatch ("" when ok).
    pub problems: *const c_char,
}

crate::abi::growable!(camwire_verify_view, problems: *const c_char, unsafe { crate::abi::zeroed() });

/// Verifies the clip `clip` against `clip.manifest.json`: the clip's hash, each source
/// still present under `root` (NULL = the root recorded in the manifest) and the media hash.
/// CAMWIRE_OK means the check ran: read `ok` in the report. Blocks on file I/O. Sources in
/// S3 are re-read and re-hashed (settings from the AWS_* variables).
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_VERIFY_FAILED (manifest missing or not a camwire
/// manifest), CAMWIRE_E_IO.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_verify(
    clip: *const c_char,
    root: *const c_char,
    out_report: *mut *mut camwire_verify_report,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or NUL-terminated strings.
        let clip = unsafe { cpath(clip, "clip") }?;
        let root = if root.is_null() {
            None
        } else {
            Some(unsafe { cpath(root, "root") }?)
        };
        let out_report = out(out_report, "out_report")?;
        let r: VerifyReport = export::verify_with_root(&clip, root.as_deref())?;
        let v = Box::new(camwire_verify_report {
            ok: r.ok(),
            output_matches: r.output.is_match(),
            sources: r.sources.len(),
            missing_sources: r.missing_sources().len(),
            problems: to_cstring(&r.problems().join("\n")),
        });
        // SAFETY: checked non-NULL.
        unsafe { out_report.write(Box::into_raw(v)) };
        Ok(())
    })
}

/// Fills `out_view` (its `struct_size` set by the caller) from `report`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_verify_report_get2(
    report: *const camwire_verify_report,
    out_view: *mut camwire_verify_view,
) -> camwire_result {
    guard(|| {
        // SAFETY: NULL or live handles; the struct_size set by the caller.
        let v = unsafe { camwire_verify_report_get_value(report) }?;
        unsafe { crate::abi::write(out_view, v) }
    })
}

/// What `camwire_verify_report_get2` writes (also behind the 0.1 entry point).
///
/// # Safety
/// Handles NULL or live.
pub(crate) unsafe fn camwire_verify_report_get_value(
    report: *const camwire_verify_report,
) -> Result<camwire_verify_view> {
    // SAFETY: NULL or a live handle.
    let r = unsafe { arg(report, "report") }?;
    let v = camwire_verify_view {
        struct_size: std::mem::size_of::<camwire_verify_view>(),
        ok: r.ok,
        output_matches: r.output_matches,
        sources: r.sources,
        missing_sources: r.missing_sources,
        problems: r.problems.as_ptr(),
    };
    Ok(v)
}

/// Frees a verify report (NULL-safe).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_verify_report_free(report: *mut camwire_verify_report) {
    guard_value((), || {
        if !report.is_null() {
            // SAFETY: made by camwire_verify, not freed yet.
            drop(unsafe { Box::from_raw(report) });
        }
    })
}

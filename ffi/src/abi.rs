//! Growable structs: every struct of the C ABI starts with `size_t struct_size`, the size of
//! the struct as the caller compiled it. camwire reads only the fields that size covers (the
//! rest keep their defaults) and writes only that many bytes, so fields can be appended in
//! later versions without breaking binaries built against an older header.
//!
//! - Options (caller to camwire): `camwire_X_options_init(&o, sizeof o)` writes the defaults
//!   and `struct_size`. When the caller's struct is larger than camwire's (a newer header
//!   than the library), the bytes camwire does not know must be zero (fields left at their
//!   defaults), else the call fails with CAMWIRE_E_UNSUPPORTED: a setting is never silently
//!   ignored.
//! - Out-structs (camwire to caller): the caller sets `struct_size` (`camwire_struct_init`);
//!   camwire writes `min(struct_size, its own size)` bytes, zeroes the rest of the caller's
//!   struct and leaves in `struct_size` how many bytes it filled.
//! - Structs camwire hands to callbacks carry camwire's own size in `struct_size`.
//!
//! Rules for maintainers: fields are only appended; a field's zero value means "default" /
//! "not set"; a new field starts at or after the previous version's `sizeof` (add explicit
//! padding if it would land in the old tail padding); `MIN_SIZE` never changes.

use crate::error::*;
use std::ffi::c_void;
use std::mem::size_of;

/// Largest `struct_size` accepted: a bound on how far camwire reads or writes on the
/// caller's word, so that an uninitialized size is an error rather than a wild access.
pub(crate) const MAX_STRUCT_SIZE: usize = 4096;

/// A `#[repr(C)]` struct whose first field is `struct_size: usize`.
///
/// # Safety
/// Implementors are `#[repr(C)]`, start with a `usize` field and are valid for any bytes a
/// C caller of the documented type can store (pointers, integers, floats, C `bool`s).
pub(crate) unsafe trait Growable: Copy {
    /// The C type name, for messages.
    const NAME: &'static str;
    /// The size of the first growable layout (camwire 0.1.1): the smallest accepted.
    const MIN_SIZE: usize;
    /// Defaults (options) or zeroes (out-structs), with `struct_size` = own size.
    fn initial() -> Self;
}

/// Implements [`Growable`]; `$last: $lt` is the last field of the first growable layout.
macro_rules! growable {
    ($t:ident, $last:ident: $lt:ty, $initial:expr) => {
        // SAFETY: every such struct is #[repr(C)] with `struct_size: usize` first.
        unsafe impl crate::abi::Growable for $t {
            const NAME: &'static str = stringify!($t);
            const MIN_SIZE: usize = std::mem::offset_of!($t, $last) + std::mem::size_of::<$lt>();
            fn initial() -> Self {
                $initial
            }
        }
    };
}
pub(crate) use growable;

fn check_size<T: Growable>(size: usize) -> Result<()> {
    if size < T::MIN_SIZE || size > MAX_STRUCT_SIZE {
        return Err(Error::invalid(format!(
            "{}.struct_size is {size}: set it to sizeof the struct (the _init functions do)",
            T::NAME
        )));
    }
    Ok(())
}

fn set_size<T: Growable>(v: &mut T, size: usize) {
    // SAFETY: `struct_size: usize` is the first field of a #[repr(C)] struct.
    unsafe { (v as *mut T).cast::<usize>().write(size) };
}

/// Fills an options struct of `size` bytes with the defaults (zero beyond camwire's own
/// fields) and sets its `struct_size` to `size`.
///
/// # Safety
/// `p` is NULL or points to `size` writable bytes, aligned for `T`.
pub(crate) unsafe fn init<T: Growable>(p: *mut T, size: usize) -> Result<()> {
    let p = out(p, T::NAME)?;
    check_size::<T>(size)?;
    let v = T::initial();
    let n = size.min(size_of::<T>());
    let dst = p.cast::<u8>();
    // SAFETY: the caller gives `size` writable bytes; `n <= size_of::<T>()`.
    unsafe {
        std::ptr::copy_nonoverlapping((&v as *const T).cast::<u8>(), dst, n);
        std::ptr::write_bytes(dst.add(n), 0, size - n);
        p.cast::<usize>().write(size);
    }
    Ok(())
}

/// Reads a caller's struct: the fields its `struct_size` covers, defaults for the others.
/// NULL gives `None`. Bytes beyond camwire's own fields must be zero (CAMWIRE_E_UNSUPPORTED).
///
/// # Safety
/// `p` is NULL or points to `struct_size` readable bytes, aligned for `T`.
pub(crate) unsafe fn read<T: Growable>(p: *const T) -> Result<Option<T>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; the first field is a usize.
    let size = unsafe { p.cast::<usize>().read() };
    check_size::<T>(size)?;
    let own = size_of::<T>();
    let mut v = T::initial();
    let n = size.min(own);
    // SAFETY: the caller's struct has `size` >= `n` readable bytes.
    unsafe { std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&mut v as *mut T).cast::<u8>(), n) };
    if size > own {
        // SAFETY: as above, bytes own..size are the caller's.
        let tail = unsafe { std::slice::from_raw_parts(p.cast::<u8>().add(own), size - own) };
        if tail.iter().any(|&b| b != 0) {
            return Err(Error::new(
                CAMWIRE_E_UNSUPPORTED,
                format!(
                    "{} sets fields this camwire {} does not know (struct_size {size}, known {own})",
                    T::NAME,
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
    }
    set_size(&mut v, own);
    Ok(Some(v))
}

/// Writes `v` into the caller's out-struct: `min(struct_size, own size)` bytes, zeroes the
/// rest of the caller's struct and sets its `struct_size` to the bytes filled.
///
/// # Safety
/// `p` is NULL or points to `struct_size` writable bytes, aligned for `T`.
pub(crate) unsafe fn write<T: Growable>(p: *mut T, v: T) -> Result<()> {
    let p = out(p, T::NAME)?;
    // SAFETY: non-NULL; the caller set the first field.
    let size = unsafe { p.cast::<usize>().read() };
    check_size::<T>(size)?;
    let own = size_of::<T>();
    let n = size.min(own);
    let mut v = v;
    set_size(&mut v, n);
    let dst = p.cast::<u8>();
    // SAFETY: the caller gives `size` writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping((&v as *const T).cast::<u8>(), dst, n);
        std::ptr::write_bytes(dst.add(n), 0, size - n);
    }
    Ok(())
}

/// Prepares any camwire out-struct (e.g. `camwire_frame_info`, `camwire_profile`) before it
/// is passed to the function that fills it: zeroes `struct_size` bytes at `s` and sets its
/// `struct_size` to `struct_size`. Call it as `camwire_struct_init(&s, sizeof s)`.
///
/// Errors: CAMWIRE_E_NULL_POINTER, CAMWIRE_E_INVALID_ARGUMENT (`struct_size` smaller than a
/// `size_t` or above 4096).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camwire_struct_init(s: *mut c_void, struct_size: usize) -> camwire_result {
    guard(|| {
        let s = out(s, "s")?;
        if !(size_of::<usize>()..=MAX_STRUCT_SIZE).contains(&struct_size) {
            return Err(Error::invalid(format!(
                "struct_size {struct_size} is not the size of a camwire struct"
            )));
        }
        if s.align_offset(std::mem::align_of::<usize>()) != 0 {
            return Err(Error::invalid("s is not aligned like a camwire struct"));
        }
        // SAFETY: the caller gives `struct_size` writable bytes; aligned for a usize.
        unsafe {
            std::ptr::write_bytes(s.cast::<u8>(), 0, struct_size);
            s.cast::<usize>().write(struct_size);
        }
        Ok(())
    })
}

/// An all-zero `T` (NULL pointers, zero numbers, false) with `struct_size` set: the initial
/// value of out-structs.
///
/// # Safety
/// All-zero bytes are a valid `T`.
pub(crate) unsafe fn zeroed<T: Growable>() -> T {
    // SAFETY: per the function contract.
    let mut v: T = unsafe { std::mem::zeroed() };
    set_size(&mut v, size_of::<T>());
    v
}

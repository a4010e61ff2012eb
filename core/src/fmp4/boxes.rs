//! Writing ISO BMFF boxes into a `Vec<u8>`.
//!
//! A box is written by [`begin`] (a placeholder size and the type), its body, then [`end`],
//! which patches the size once the body length is known. Nothing here allocates beyond the
//! growth of the caller's vector, so a buffer reused across fragments stops allocating once it
//! has reached its working size.
//!
//! All sizes are 32-bit: the only box that can grow large is `mdat`, and the fragment writer
//! checks its size (and refuses fragments over 4 GiB) before any box is begun.

/// Starts a box of type `fourcc`; returns its start offset, to hand to [`end`].
pub(crate) fn begin(out: &mut Vec<u8>, fourcc: &[u8; 4]) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(fourcc);
    start
}

/// Starts a full box (a box with a version byte and 24 bits of flags).
pub(crate) fn begin_full(out: &mut Vec<u8>, fourcc: &[u8; 4], version: u8, flags: u32) -> usize {
    let start = begin(out, fourcc);
    put_u32(out, (u32::from(version) << 24) | (flags & 0x00ff_ffff));
    start
}

/// Finishes the box begun at `start` by writing its size. Returns that size.
///
/// Callers keep boxes under 4 GiB (the fragment writer checks before writing); a larger box
/// would be a bug, caught in debug builds and written with a saturated size in release.
pub(crate) fn end(out: &mut [u8], start: usize) -> u32 {
    let size = out.len().saturating_sub(start);
    debug_assert!(u32::try_from(size).is_ok(), "box over 4 GiB");
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    if let Some(field) = out.get_mut(start..start + 4) {
        field.copy_from_slice(&size.to_be_bytes());
    }
    size
}

/// Writes a box header with a known size (used for `mdat`, whose body is not in the buffer).
pub(crate) fn header(out: &mut Vec<u8>, fourcc: &[u8; 4], size: u32) {
    put_u32(out, size);
    out.extend_from_slice(fourcc);
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_zeros(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, 0);
}

/// The unity transformation matrix of `mvhd` and `tkhd` (16.16 and 2.30 fixed point).
pub(crate) fn put_unity_matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        put_u32(out, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_sizes_are_patched() {
        let mut out = Vec::new();
        let outer = begin(&mut out, b"moof");
        let inner = begin_full(&mut out, b"mfhd", 1, 0x00ab_cdef);
        put_u32(&mut out, 7);
        assert_eq!(end(&mut out, inner), 16);
        assert_eq!(end(&mut out, outer), 24);
        assert_eq!(&out[0..8], b"\0\0\0\x18moof");
        assert_eq!(&out[8..16], b"\0\0\0\x10mfhd");
        assert_eq!(&out[16..20], &[1, 0xab, 0xcd, 0xef]);
        assert_eq!(&out[20..24], &[0, 0, 0, 7]);
    }

    #[test]
    fn known_size_header() {
        let mut out = Vec::new();
        header(&mut out, b"mdat", 1234);
        assert_eq!(out, [0, 0, 0x04, 0xd2, b'm', b'd', b'a', b't']);
    }
}

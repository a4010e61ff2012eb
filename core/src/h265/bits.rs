//! Bit-level readers on top of `nom::bits` for the H.265 parameter sets: fixed-width fields,
//! flags and Exp-Golomb codes. Same shape as `crate::h264`'s readers, carrying [`H265Error`].
//!
//! Running out of bits maps to [`H265Error::Truncated`]; range checks use `nom::Err::Failure`.

use nom::IResult;
use nom::error::{ErrorKind, ParseError};

use super::H265Error;

/// Remaining input: bytes, and bits already consumed from the first of them (0..8).
pub(crate) type BitInput<'a> = (&'a [u8], usize);

/// nom error wrapper carrying our error type through the combinators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BitError(pub H265Error);

impl<'a> ParseError<BitInput<'a>> for BitError {
    fn from_error_kind(_input: BitInput<'a>, _kind: ErrorKind) -> Self {
        // Only `bits::complete::{take, bool}` are used: their one failure is running out.
        BitError(H265Error::Truncated)
    }

    fn append(_input: BitInput<'a>, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result of a bit-level parser.
pub(crate) type BitResult<'a, T> = IResult<BitInput<'a>, T, BitError>;

/// Returns `e` as a non-recoverable parser error.
pub(crate) fn fail<'a, T>(e: H265Error) -> BitResult<'a, T> {
    Err(nom::Err::Failure(BitError(e)))
}

/// Extracts the [`H265Error`] from a nom error.
pub(crate) fn into_h265(e: nom::Err<BitError>) -> H265Error {
    match e {
        nom::Err::Error(BitError(e)) | nom::Err::Failure(BitError(e)) => e,
        nom::Err::Incomplete(_) => H265Error::Truncated,
    }
}

/// One bit as a flag (`u(1)`).
pub(crate) fn flag(i: BitInput<'_>) -> BitResult<'_, bool> {
    nom::bits::complete::bool(i)
}

/// `n` bits (at most 32) as an unsigned value (`u(n)`).
pub(crate) fn bits(i: BitInput<'_>, n: u8) -> BitResult<'_, u32> {
    let n = usize::from(n.min(32));
    nom::bits::complete::take::<_, u32, _, _>(n)(i)
}

/// `n` bits (at most 64) as an unsigned value.
pub(crate) fn bits64(i: BitInput<'_>, n: u8) -> BitResult<'_, u64> {
    let n = usize::from(n.min(64));
    nom::bits::complete::take::<_, u64, _, _>(n)(i)
}

/// Skips `n` bits.
pub(crate) fn skip(mut i: BitInput<'_>, mut n: usize) -> BitResult<'_, ()> {
    while n > 0 {
        let step = n.min(32);
        i = bits(i, step as u8)?.0;
        n -= step;
    }
    Ok((i, ()))
}

/// Unsigned Exp-Golomb code `ue(v)`; more than 31 leading zeros is
/// [`H265Error::InvalidExpGolomb`].
pub(crate) fn ue(mut i: BitInput<'_>) -> BitResult<'_, u32> {
    let mut leading_zeros: u8 = 0;
    loop {
        let (rest, one) = flag(i)?;
        i = rest;
        if one {
            break;
        }
        leading_zeros += 1;
        if leading_zeros > 31 {
            return fail(H265Error::InvalidExpGolomb);
        }
    }
    let (i, suffix) = bits(i, leading_zeros)?;
    let value = (1u64 << leading_zeros) - 1 + u64::from(suffix);
    match u32::try_from(value) {
        Ok(v) => Ok((i, v)),
        Err(_) => fail(H265Error::InvalidExpGolomb),
    }
}

/// Signed Exp-Golomb code `se(v)`: 0, 1, -1, 2, -2, ...
pub(crate) fn se(i: BitInput<'_>) -> BitResult<'_, i32> {
    let (i, k) = ue(i)?;
    let k = i64::from(k);
    let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
    match i32::try_from(v) {
        Ok(v) => Ok((i, v)),
        Err(_) => fail(H265Error::InvalidExpGolomb),
    }
}

/// `ue(v)` that must be at most `max`, else [`H265Error::OutOfRange`] naming `field`.
pub(crate) fn ue_max<'a>(i: BitInput<'a>, field: &'static str, max: u32) -> BitResult<'a, u32> {
    let (i, v) = ue(i)?;
    if v > max {
        return fail(H265Error::OutOfRange {
            field,
            value: i64::from(v),
        });
    }
    Ok((i, v))
}

/// `se(v)` that must lie in `min..=max`, else [`H265Error::OutOfRange`] naming `field`.
pub(crate) fn se_range<'a>(
    i: BitInput<'a>,
    field: &'static str,
    min: i32,
    max: i32,
) -> BitResult<'a, i32> {
    let (i, v) = se(i)?;
    if v < min || v > max {
        return fail(H265Error::OutOfRange {
            field,
            value: i64::from(v),
        });
    }
    Ok((i, v))
}

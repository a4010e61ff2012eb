//! Bit-level readers on top of `nom::bits`: fixed-width fields, flags and the Exp-Golomb codes
//! (`ue(v)`, `se(v)`) that H.264 uses for most header fields.
//!
//! Parsers take and return a [`BitInput`] (remaining bytes, bit offset in the first byte) so the
//! SPS/PPS/slice parsers read like the syntax tables of ITU-T H.264 section 7.3. Errors carry an
//! [`H264Error`]: running out of bits maps to [`H264Error::Truncated`]; range checks use
//! `nom::Err::Failure` so nothing upstream mistakes them for "try something else".

use nom::IResult;
use nom::error::{ErrorKind, ParseError};

use super::H264Error;

/// Remaining input of a bit-level parser: bytes, and the number of bits already consumed from
/// the first of them (0..8).
pub(crate) type BitInput<'a> = (&'a [u8], usize);

/// nom error wrapper carrying our error type through the combinators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BitError(pub H264Error);

impl<'a> ParseError<BitInput<'a>> for BitError {
    fn from_error_kind(_input: BitInput<'a>, _kind: ErrorKind) -> Self {
        // The only nom parsers used here are `bits::complete::{take, bool}`, whose only failure
        // is running out of input.
        BitError(H264Error::Truncated)
    }

    fn append(_input: BitInput<'a>, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result of a bit-level parser.
pub(crate) type BitResult<'a, T> = IResult<BitInput<'a>, T, BitError>;

/// Returns `e` as a non-recoverable parser error.
pub(crate) fn fail<'a, T>(e: H264Error) -> BitResult<'a, T> {
    Err(nom::Err::Failure(BitError(e)))
}

/// Converts the outcome of a bit-level parse into the public error type.
pub(crate) fn finish<T>(r: Result<T, nom::Err<BitError>>) -> Result<T, H264Error> {
    r.map_err(into_h264)
}

/// Extracts the [`H264Error`] from a nom error.
pub(crate) fn into_h264(e: nom::Err<BitError>) -> H264Error {
    match e {
        nom::Err::Error(BitError(e)) | nom::Err::Failure(BitError(e)) => e,
        nom::Err::Incomplete(_) => H264Error::Truncated,
    }
}

/// One bit as a flag (`u(1)`).
pub(crate) fn flag(i: BitInput<'_>) -> BitResult<'_, bool> {
    nom::bits::complete::bool(i)
}

/// `n` bits (at most 32) as an unsigned value (`u(n)`).
pub(crate) fn bits(i: BitInput<'_>, n: u8) -> BitResult<'_, u32> {
    // `take` shifts its accumulator by up to `n` bits: keep `n` within the type's width.
    let n = usize::from(n.min(32));
    nom::bits::complete::take::<_, u32, _, _>(n)(i)
}

/// Eight bits (`u(8)`).
pub(crate) fn byte(i: BitInput<'_>) -> BitResult<'_, u8> {
    nom::bits::complete::take::<_, u8, _, _>(8usize)(i)
}

/// Unsigned Exp-Golomb code `ue(v)` (H.264 section 9.1). Codes with more than 31 leading zeros
/// cannot encode a 32-bit value and are refused as [`H264Error::InvalidExpGolomb`]; this also
/// stops a run of zero padding from being read as a huge number.
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
            return fail(H264Error::InvalidExpGolomb);
        }
    }
    let (i, suffix) = bits(i, leading_zeros)?;
    // 2^lz - 1 + suffix <= 2^32 - 2 for lz <= 31: fits u32, computed in u64 to be obviously safe.
    let value = (1u64 << leading_zeros) - 1 + u64::from(suffix);
    match u32::try_from(value) {
        Ok(v) => Ok((i, v)),
        Err(_) => fail(H264Error::InvalidExpGolomb),
    }
}

/// Signed Exp-Golomb code `se(v)`: 0, 1, -1, 2, -2, ...
pub(crate) fn se(i: BitInput<'_>) -> BitResult<'_, i32> {
    let (i, k) = ue(i)?;
    let k = i64::from(k);
    let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
    // |v| <= 2^31 - 1 because k <= 2^32 - 2.
    match i32::try_from(v) {
        Ok(v) => Ok((i, v)),
        Err(_) => fail(H264Error::InvalidExpGolomb),
    }
}

/// `ue(v)` that must be at most `max`, else [`H264Error::OutOfRange`] naming `field`.
pub(crate) fn ue_max<'a>(i: BitInput<'a>, field: &'static str, max: u32) -> BitResult<'a, u32> {
    let (i, v) = ue(i)?;
    if v > max {
        return fail(H264Error::OutOfRange {
            field,
            value: i64::from(v),
        });
    }
    Ok((i, v))
}

/// `se(v)` that must lie in `min..=max`, else [`H264Error::OutOfRange`] naming `field`.
pub(crate) fn se_range<'a>(
    i: BitInput<'a>,
    field: &'static str,
    min: i32,
    max: i32,
) -> BitResult<'a, i32> {
    let (i, v) = se(i)?;
    if v < min || v > max {
        return fail(H264Error::OutOfRange {
            field,
            value: i64::from(v),
        });
    }
    Ok((i, v))
}

/// Bits consumed so far, given the whole buffer the parse started on.
pub(crate) fn bit_position(start: &[u8], i: BitInput<'_>) -> usize {
    start.len().saturating_sub(i.0.len()) * 8 + i.1
}

/// `more_rbsp_data()` (H.264 section 7.2): true while there are bits before the RBSP stop bit
/// (the last 1 bit of the buffer). Trailing zero bytes are therefore ignored.
pub(crate) fn more_rbsp_data(start: &[u8], i: BitInput<'_>) -> bool {
    let Some(last_byte) = start.iter().rposition(|&b| b != 0) else {
        return false;
    };
    // `start[last_byte] != 0`, so trailing_zeros() < 8.
    let stop_bit = last_byte * 8 + 7 - start[last_byte].trailing_zeros() as usize;
    bit_position(start, i) < stop_bit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ue_all(data: &[u8], count: usize) -> Vec<u32> {
        let mut i = (data, 0);
        let mut out = Vec::new();
        for _ in 0..count {
            let (rest, v) = ue(i).expect("ue");
            out.push(v);
            i = rest;
        }
        out
    }

    #[test]
    fn ue_decodes_table_9_2_codes() {
        // 1 | 010 | 011 | 00100 | 00101 | 00110 | 00111 | 0001000 -> 0..=7
        // bits: 1010 0110 0100 0010 1001 1000 1110 0010 00(pad 1s)
        let data = [
            0b1010_0110,
            0b0100_0010,
            0b1001_1000,
            0b1110_0010,
            0b0011_1111,
        ];
        assert_eq!(ue_all(&data, 8), vec![0, 1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn se_maps_codes_to_alternating_signs() {
        // ue 0,1,2,3,4 -> se 0,1,-1,2,-2
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut i = (&data[..], 0);
        let mut out = Vec::new();
        for _ in 0..5 {
            let (rest, v) = se(i).expect("se");
            out.push(v);
            i = rest;
        }
        assert_eq!(out, vec![0, 1, -1, 2, -2]);
    }

    #[test]
    fn ue_largest_value_and_too_many_zeros() {
        // 31 zeros, a one, 31 ones: 2^32 - 2.
        let mut data = [0u8; 8];
        // bit 31 is the marker; bits 32..63 are the suffix.
        data[3] = 0x01;
        data[4..8].copy_from_slice(&[0xff, 0xff, 0xff, 0xfe]);
        let (_, v) = ue((&data, 0)).expect("max ue");
        assert_eq!(v, u32::MAX - 1);
        // 32 zeros: refused, not a panic or a wrap.
        let data = [0, 0, 0, 0, 0x80, 0, 0, 0, 0];
        assert_eq!(finish(ue((&data, 0))), Err(H264Error::InvalidExpGolomb));
        // All zeros, short: refused or truncated, never a huge value.
        assert!(ue((&[0u8, 0][..], 0)).is_err());
    }

    #[test]
    fn truncation_and_range_errors() {
        assert_eq!(
            finish(ue((&[0b0000_0001][..], 0))),
            Err(H264Error::Truncated)
        );
        assert_eq!(finish(bits((&[0xff][..], 4), 5)), Err(H264Error::Truncated));
        // ue = 3 with max 2
        let r = finish(ue_max((&[0b0010_0000][..], 0), "x", 2));
        assert_eq!(
            r,
            Err(H264Error::OutOfRange {
                field: "x",
                value: 3
            })
        );
        // se = -2 with min -1
        let r = finish(se_range((&[0b0010_1000][..], 0), "y", -1, 5));
        assert_eq!(
            r,
            Err(H264Error::OutOfRange {
                field: "y",
                value: -2
            })
        );
    }

    #[test]
    fn more_rbsp_data_stops_at_the_stop_bit() {
        let data = [0b1010_0000, 0];
        assert!(more_rbsp_data(&data, (&data, 0)));
        assert!(more_rbsp_data(&data, (&data, 1)));
        assert!(!more_rbsp_data(&data, (&data, 2)));
        assert!(!more_rbsp_data(&[0, 0], (&[0, 0][..], 0)));
    }
}

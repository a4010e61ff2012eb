//! The one error type of the H.265 module.
//!
//! Parameter sets come from cameras we do not control, so every way the bytes can be wrong has
//! a variant that callers can log and count instead of a panic.

use thiserror::Error;

/// Why an H.265 NAL unit, parameter set or hvcC record could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum H265Error {
    /// The data ended before a required field.
    #[error("H.265 data truncated")]
    Truncated,
    /// An Exp-Golomb code had more than 31 leading zero bits (its value would not fit 32 bits).
    #[error("invalid Exp-Golomb code")]
    InvalidExpGolomb,
    /// A field holds a value the specification does not allow (or above the bound we accept).
    #[error("H.265 field {field} out of range: {value}")]
    OutOfRange {
        /// Syntax element name as in ITU-T H.265.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// The NAL unit is not of the type the parser expects (e.g. an SPS parser given a PPS).
    #[error("expected {expected} NAL unit, found NAL type {found}")]
    WrongNalType {
        /// What the parser wanted, e.g. `"SPS"`.
        expected: &'static str,
        /// The `nal_unit_type` found.
        found: u8,
    },
    /// The NAL header's `forbidden_zero_bit` is set or `nuh_temporal_id_plus1` is 0.
    #[error("invalid H.265 NAL unit header {0:#06x}")]
    InvalidNalHeader(u16),
    /// Input larger than the bound we accept (parameter sets are refused above 64 KiB - 1, the
    /// largest size an hvcC record can hold).
    #[error("H.265 {what} too large: {len} bytes (max {max})")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
}

//! The one error type of the H.264 module.
//!
//! Parameter sets come from cameras we do not control, so every way the bytes can be wrong has
//! a variant that callers can log and count instead of a panic.

use thiserror::Error;

/// Why an H.264 NAL unit, parameter set or avcC record could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum H264Error {
    /// The data ended before a required field.
    #[error("H.264 data truncated")]
    Truncated,
    /// An Exp-Golomb code had more than 31 leading zero bits (its value would not fit 32 bits).
    #[error("invalid Exp-Golomb code")]
    InvalidExpGolomb,
    /// A field holds a value the specification does not allow.
    #[error("H.264 field {field} out of range: {value}")]
    OutOfRange {
        /// Syntax element name as in ITU-T H.264.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// Valid syntax we do not handle (an unknown profile, an avcC version other than 1, ...).
    #[error("unsupported H.264 feature: {0}")]
    Unsupported(String),
    /// The NAL unit is not of the type the parser expects (e.g. an SPS parser given a PPS).
    #[error("expected {expected} NAL unit, found NAL type {found}")]
    WrongNalType {
        /// What the parser wanted, e.g. `"SPS"`.
        expected: &'static str,
        /// The `nal_unit_type` found.
        found: u8,
    },
    /// Input larger than the bound we accept (parameter sets are refused above 64 KiB - 1, the
    /// largest size an avcC record can hold).
    #[error("H.264 {what} too large: {len} bytes (max {max})")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// An AVCDecoderConfigurationRecord is structurally wrong.
    #[error("invalid avcC record: {0}")]
    InvalidAvcC(&'static str),
}

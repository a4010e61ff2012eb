//! H.265/HEVC bitstream knowledge: NAL headers, parameter sets, hvcC, codec strings.
//!
//! Mirrors [`crate::h264`]: everything parses bytes that come from cameras, so nothing panics
//! on malformed input; reads are checked, loops and allocations bounded by specification
//! limits, parameter sets above [`MAX_PARAMETER_SET_LEN`] refused. The bit-level parsers are
//! built on `nom::bits` (see `bits.rs`).
//!
//! - [`nal`]: NAL types and the two-byte header.
//! - [`Vps`], [`Sps`], [`Pps`]: the parameter sets (SPS with `profile_tier_level` incl.
//!   sub-layers, conformance window, VUI timing and `sps_max_num_reorder_pics`).
//! - [`HevcDecoderConfig`]: the MP4 `hvcC` record and the RFC 6381 codec string.

mod bits;
mod error;
mod hvcc;
pub mod nal;
mod pps;
mod ptl;
mod sps;
mod vps;

#[cfg(test)]
pub(crate) mod tests;

pub use error::H265Error;
pub use hvcc::{HevcDecoderConfig, codec_string};
pub use nal::NalHeader;
pub use pps::Pps;
pub use ptl::{Profile, ProfileTierLevel, SubLayer};
pub use sps::{
    Cropping, MAX_DIMENSION, MAX_PARAMETER_SET_LEN, Sps, SubLayerOrdering, TimingInfo, Vui,
};
pub use vps::Vps;

//! H.264 bitstream knowledge: NAL units, parameter sets, avcC, codec strings.
//!
//! Everything here parses bytes that come from cameras, so nothing panics on malformed input:
//! every read is checked, loops and allocations are bounded by specification limits, and
//! parameter sets above [`MAX_PARAMETER_SET_LEN`] are refused. The bit-level parsers are built
//! on `nom::bits` (see `bits.rs`).
//!
//! - [`nal`]: NAL types, header fields, emulation-prevention removal.
//! - [`Sps`], [`Pps`], [`SliceHeader`]: the parameter sets and the start of a slice header.
//! - [`AvcDecoderConfig`]: the MP4 `avcC` record and the RFC 6381 codec string.

pub mod annexb;
mod avcc;
mod bits;
mod error;
pub mod nal;
mod pps;
mod slice;
mod sps;
mod vui;

#[cfg(test)]
pub(crate) mod testdata;
#[cfg(test)]
mod tests;

pub use avcc::AvcDecoderConfig;
pub use error::H264Error;
pub use pps::Pps;
pub use slice::{SliceHeader, SliceType};
pub use sps::{Cropping, MAX_MBS_PER_DIMENSION, MAX_PARAMETER_SET_LEN, PicOrderCnt, Sps};
pub use vui::{AspectRatio, BitstreamRestriction, Hrd, TimingInfo, VideoSignalType, Vui};

//! H.264 bitstream knowledge: NAL units, parameter sets, avcC, codec strings.

pub mod annexb;

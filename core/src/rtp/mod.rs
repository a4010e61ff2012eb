//! RTP: packets, sequence and timestamp bookkeeping, and the zero-copy depacketizers (H.264,
//! H.265, AAC, G.711).
//!
//! The hot path (design.md §3): our RTSP client ([`crate::rtsp`]) hands us each packet as a
//! `Bytes` slice of its receive buffer, without a copy; [`RtpPacket::parse`] (for raw datagrams) slices, never copies; the
//! [`h264::H264Depacketizer`] keeps slices of the payloads as the pieces of an
//! [`crate::frame::AccessUnit`]. No payload byte is copied between the socket and the muxer.
//!
//! - [`packet`]: RTP header parsing.
//! - [`lossy`]: a seeded lossy path (drop, reorder, duplicate) for tests and benches.
//! - [`reorder`]: putting reordered packets back in sequence, dropping duplicates.
//! - [`sequence`]: loss, late packets, sequence restarts.
//! - [`timestamp`]: 32 → 64-bit timestamp extension.
//! - [`h264`]: RFC 6184 depacketization and every camera quirk we know of.
//! - [`h265`]: RFC 7798 depacketization (recorder, live stream, fetch and back-fill).
//! - [`aac`], [`g711`], [`audio`]: RFC 3640 AAC and G.711 audio frames, bytes as sent.

pub mod aac;
pub mod audio;
pub mod g711;
pub mod h264;
pub mod h265;
pub mod lossy;
pub mod packet;
pub mod reorder;
pub mod sequence;
pub mod timestamp;

#[cfg(test)]
pub(crate) mod test_packets;

pub use h264::{
    DepacketizeError, DepacketizerOptions, DepacketizerStats, H264Depacketizer, LossPolicy,
    UnknownLossPolicy, parse_sprop_parameter_sets,
};
pub use packet::{RtpError, RtpPacket};
pub use reorder::{Arrival, ReorderBuffer};
pub use sequence::{SequenceStatus, SequenceTracker};
pub use timestamp::TimestampExtender;

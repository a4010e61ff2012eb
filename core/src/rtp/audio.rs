//! The unit of work between an audio depacketizer and the muxer: one audio frame (an AAC
//! access unit, or one RTP packet of G.711 samples), kept as the camera sent it.
//!
//! Like [`crate::frame::AccessUnit`] it owns no payload memory: each piece is a slice of a
//! received packet (several only for an AAC access unit fragmented over packets), so no audio
//! byte is copied or transcoded between the socket and the file (evidence).

use bytes::Bytes;

/// One audio frame, referenced in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AudioFrame {
    /// RTP timestamp of the frame's first sample, extended to 64 bits, in the stream's clock
    /// rate.
    pub timestamp: i64,
    /// Samples per channel in the frame (its duration in clock ticks when the clock rate is
    /// the sample rate): 1024 (or 960) for AAC, the payload length for mono G.711.
    pub samples: u32,
    /// The frame's bytes as sent, in order (usually one piece).
    pub pieces: Vec<Bytes>,
    /// RTP packets known lost since the previous frame.
    pub loss: u32,
}

impl AudioFrame {
    /// Total bytes of the frame.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    /// True when the frame holds no byte.
    pub fn is_empty(&self) -> bool {
        self.pieces.iter().all(Bytes::is_empty)
    }

    /// The frame as one contiguous buffer (a copy; for consumers that need one).
    pub fn to_vec(&self) -> Vec<u8> {
        self.pieces.concat()
    }
}

//! The capture format behind `camwire capture` and `camwire replay`.
//!
//! A capture is two files: `PREFIX.sdp`, the DESCRIBE answer's body, and `PREFIX.rtp`, the
//! packets exactly as RTSP interleaves them (RFC 2326 §10.12): `$`, a channel byte, a 16-bit
//! big-endian length, the RTP or RTCP packet. The i-th `m=` section of the SDP owns channels
//! 2i (RTP) and 2i+1 (RTCP), whatever channels the server used, so a capture describes itself.
//! This is how a camera's bug is reproduced offline, and the benchmarks' input.

use bytes::Bytes;
use std::io::{self, Write};
use thiserror::Error;

/// A framing problem in a `.rtp` capture file.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CaptureError {
    /// A frame did not start with `$`.
    #[error("capture offset {offset}: expected '$', found 0x{found:02x}")]
    BadMagic {
        /// Byte offset of the bad frame.
        offset: usize,
        /// The byte found.
        found: u8,
    },
    /// The file ends inside a frame (a capture cut short: the frames before it are usable).
    #[error("capture offset {offset}: truncated frame ({needed} bytes needed, {available} left)")]
    Truncated {
        /// Byte offset of the torn frame.
        offset: usize,
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes left in the file.
        available: usize,
    },
}

/// One interleaved frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Channel (2i: RTP of stream i, 2i+1: its RTCP).
    pub channel: u8,
    /// The packet, a slice of the capture buffer.
    pub data: Bytes,
}

/// Iterates the frames of a capture held in memory, without copying them. After the first
/// error it yields nothing more.
pub struct Reader {
    buf: Bytes,
    pos: usize,
    failed: bool,
}

impl Reader {
    /// Reads frames from `buf`.
    pub fn new(buf: Bytes) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Frame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.pos;
        let rest = self.buf.get(offset..).unwrap_or_default();
        let res = match rest {
            [b'$', channel, hi, lo, ..] => {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                if rest.len() < 4 + len {
                    Err(CaptureError::Truncated {
                        offset,
                        needed: 4 + len,
                        available: rest.len(),
                    })
                } else {
                    self.pos = offset + 4 + len;
                    Ok(Frame {
                        channel: *channel,
                        data: self.buf.slice(offset + 4..offset + 4 + len),
                    })
                }
            }
            [b'$', ..] => Err(CaptureError::Truncated {
                offset,
                needed: 4,
                available: rest.len(),
            }),
            [found, ..] => Err(CaptureError::BadMagic {
                offset,
                found: *found,
            }),
            [] => return None,
        };
        self.failed = res.is_err();
        Some(res)
    }
}

/// Writes one interleaved frame. Packets over 65535 bytes cannot be framed and are refused.
pub fn write_frame<W: Write>(w: &mut W, channel: u8, data: &[u8]) -> io::Result<()> {
    let len = u16::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet over 65535 bytes"))?;
    let [hi, lo] = len.to_be_bytes();
    w.write_all(&[b'$', channel, hi, lo])?;
    w.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, 0, &[1, 2, 3]).unwrap();
        write_frame(&mut buf, 1, &[]).unwrap();
        write_frame(&mut buf, 2, &[9; 300]).unwrap();
        let frames: Vec<_> = Reader::new(Bytes::from(buf))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].data.as_ref(), &[1, 2, 3]);
        assert_eq!(frames[1].channel, 1);
        assert_eq!(frames[2].data.len(), 300);
    }

    #[test]
    fn torn_tail_and_garbage() {
        let mut buf = Vec::new();
        write_frame(&mut buf, 0, &[1, 2, 3]).unwrap();
        let full = buf.clone();
        buf.extend_from_slice(&[b'$', 0, 0, 9, 1]);
        let r: Vec<_> = Reader::new(Bytes::from(buf)).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[1],
            Err(CaptureError::Truncated {
                offset: 7,
                needed: 13,
                available: 5
            })
        );
        let mut g = full.clone();
        g.push(0x47);
        let r: Vec<_> = Reader::new(Bytes::from(g)).collect();
        assert_eq!(
            r[1],
            Err(CaptureError::BadMagic {
                offset: 7,
                found: 0x47
            })
        );
        assert!(write_frame(&mut Vec::new(), 0, &vec![0; 70_000]).is_err());
    }
}

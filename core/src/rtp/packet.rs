//! RTP fixed header parsing (RFC 3550 §5.1).
//!
//! The payload stays a slice of the received buffer: parsing copies no payload byte, so the
//! depacketizer can hand the camera's bytes to the muxer in place.

use bytes::Bytes;
use thiserror::Error;

/// Size of the fixed RTP header.
const FIXED_HEADER_LEN: usize = 12;

/// Why a datagram (or interleaved frame) is not a usable RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("RTP packet too short: {len} bytes")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {version}, expected 2")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The CSRC list (CC field) runs past the end of the packet.
    #[error("RTP CSRC list ({count} entries) runs past the packet end")]
    TruncatedCsrc {
        /// The CC field.
        count: u8,
    },
    /// The header extension runs past the end of the packet.
    #[error("RTP header extension runs past the packet end")]
    TruncatedExtension,
    /// The padding count is zero or larger than what follows the header.
    #[error("RTP padding of {padding} bytes is invalid ({available} bytes after the header)")]
    BadPadding {
        /// The last byte of the packet (the padding count).
        padding: u8,
        /// Bytes after the header, padding included.
        available: usize,
    },
}

/// One RTP packet; `payload` is a zero-copy slice of the buffer given to [`RtpPacket::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// Sequence number (wraps at 2^16).
    pub sequence_number: u16,
    /// Media timestamp (wraps at 2^32), in the payload format's clock rate.
    pub timestamp: u32,
    /// Marker bit; for H.264 it marks the last packet of an access unit (cameras get it wrong).
    pub marker: bool,
    /// Synchronization source.
    pub ssrc: u32,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// The payload, header, CSRCs, extension and padding removed.
    pub payload: Bytes,
}

impl RtpPacket {
    /// Parses `raw`. CSRCs and the header extension are skipped (camwire uses neither);
    /// padding is validated and removed. The payload may be empty (some cameras send
    /// padding-only packets as keepalives).
    pub fn parse(raw: Bytes) -> Result<RtpPacket, RtpError> {
        let header: &[u8; FIXED_HEADER_LEN] = raw
            .get(..FIXED_HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(RtpError::TooShort { len: raw.len() })?;
        let version = header[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion { version });
        }
        let has_padding = header[0] & 0x20 != 0;
        let has_extension = header[0] & 0x10 != 0;
        let csrc_count = header[0] & 0x0f;
        let marker = header[1] & 0x80 != 0;
        let payload_type = header[1] & 0x7f;
        let sequence_number = u16::from_be_bytes([header[2], header[3]]);
        let timestamp = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let ssrc = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);

        let mut start = FIXED_HEADER_LEN + 4 * usize::from(csrc_count);
        if start > raw.len() {
            return Err(RtpError::TruncatedCsrc { count: csrc_count });
        }
        if has_extension {
            let words = raw
                .get(start + 2..start + 4)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map(|b| usize::from(u16::from_be_bytes(b)))
                .ok_or(RtpError::TruncatedExtension)?;
            start += 4 + 4 * words;
            if start > raw.len() {
                return Err(RtpError::TruncatedExtension);
            }
        }
        let mut end = raw.len();
        if has_padding {
            let available = end - start;
            let padding = raw.last().copied().unwrap_or(0);
            if padding == 0 || usize::from(padding) > available {
                return Err(RtpError::BadPadding { padding, available });
            }
            end -= usize::from(padding);
        }
        Ok(RtpPacket {
            sequence_number,
            timestamp,
            marker,
            ssrc,
            payload_type,
            payload: raw.slice(start..end),
        })
    }
}

/// An RTP header extension (RFC 3550 §5.3.1): the 16-bit profile-defined field and the
/// extension words, a zero-copy slice of the packet. ONVIF replay's 0xABAC extension (NTP
/// time, C/E/D flags, CSeq) is read from here; RFC 8285 elements through
/// [`HeaderExtension::elements`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderExtension {
    /// The profile-defined 16 bits (0xBEDE: RFC 8285 one-byte form; 0x100x: two-byte form;
    /// 0xABAC: ONVIF replay).
    pub profile: u16,
    /// The extension words (length field × 4 bytes).
    pub data: Bytes,
}

impl HeaderExtension {
    /// RFC 8285 elements as (id, value) for the one-byte and two-byte forms; empty for any
    /// other profile. Malformed element lists end early, never panic.
    pub fn elements(&self) -> Vec<(u8, Bytes)> {
        let mut out = Vec::new();
        let d = &self.data;
        let mut i = 0;
        if self.profile == 0xBEDE {
            while i < d.len() {
                let b = d[i];
                if b == 0 {
                    i += 1; // padding
                    continue;
                }
                let id = b >> 4;
                if id == 15 {
                    break;
                }
                let len = usize::from(b & 0x0f) + 1;
                let Some(v) = d.get(i + 1..i + 1 + len) else {
                    break;
                };
                out.push((id, d.slice_ref(v)));
                i += 1 + len;
            }
        } else if self.profile & 0xfff0 == 0x1000 {
            while i + 1 < d.len() {
                let id = d[i];
                if id == 0 {
                    i += 1;
                    continue;
                }
                let len = usize::from(d[i + 1]);
                let Some(v) = d.get(i + 2..i + 2 + len) else {
                    break;
                };
                out.push((id, d.slice_ref(v)));
                i += 2 + len;
            }
        }
        out
    }
}

impl RtpPacket {
    /// [`RtpPacket::parse`], also returning the header extension when the X bit is set (a
    /// slice of `raw`, no copy).
    pub fn parse_with_extension(
        raw: Bytes,
    ) -> Result<(RtpPacket, Option<HeaderExtension>), RtpError> {
        let pkt = RtpPacket::parse(raw.clone())?;
        if raw[0] & 0x10 == 0 {
            return Ok((pkt, None));
        }
        // parse() validated that the CSRCs and the extension fit.
        let start = FIXED_HEADER_LEN + 4 * usize::from(raw[0] & 0x0f);
        let profile = u16::from_be_bytes([raw[start], raw[start + 1]]);
        let words = usize::from(u16::from_be_bytes([raw[start + 2], raw[start + 3]]));
        let data = raw.slice(start + 4..start + 4 + 4 * words);
        Ok((pkt, Some(HeaderExtension { profile, data })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::test_packets::raw_rtp;

    #[test]
    fn parses_fixed_header_and_slices_payload_in_place() {
        let raw = raw_rtp(
            0x80,
            0x80 | 96,
            0xfffe,
            0x1234_5678,
            0xdead_beef,
            &[],
            &[1, 2, 3],
        );
        let pkt = RtpPacket::parse(raw.clone()).unwrap();
        assert_eq!(pkt.sequence_number, 0xfffe);
        assert_eq!(pkt.timestamp, 0x1234_5678);
        assert_eq!(pkt.ssrc, 0xdead_beef);
        assert!(pkt.marker);
        assert_eq!(pkt.payload_type, 96);
        assert_eq!(&pkt.payload[..], &[1, 2, 3]);
        assert_eq!(
            pkt.payload.as_ptr(),
            raw[12..].as_ptr(),
            "payload must not be copied"
        );
    }

    #[test]
    fn csrc_list_and_header_extension_are_skipped() {
        // CC=2, X=1: two CSRCs, then a 1-word extension.
        let ext = [0u8, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 9, 9, 9, 9];
        let raw = raw_rtp(0x92, 96, 1, 2, 3, &ext, &[0x41, 7]);
        let pkt = RtpPacket::parse(raw).unwrap();
        assert_eq!(&pkt.payload[..], &[0x41, 7]);
    }

    #[test]
    fn padding_is_removed_and_validated() {
        let raw = raw_rtp(0xa0, 96, 1, 2, 3, &[], &[0x41, 7, 0, 0, 3]);
        assert_eq!(&RtpPacket::parse(raw).unwrap().payload[..], &[0x41, 7]);
        let zero = raw_rtp(0xa0, 96, 1, 2, 3, &[], &[0x41, 0]);
        assert!(matches!(
            RtpPacket::parse(zero),
            Err(RtpError::BadPadding { padding: 0, .. })
        ));
        let big = raw_rtp(0xa0, 96, 1, 2, 3, &[], &[0x41, 9]);
        assert!(matches!(
            RtpPacket::parse(big),
            Err(RtpError::BadPadding { padding: 9, .. })
        ));
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert_eq!(
            RtpPacket::parse(Bytes::from_static(&[0x80, 96, 0])),
            Err(RtpError::TooShort { len: 3 })
        );
        let v1 = raw_rtp(0x40, 96, 1, 2, 3, &[], &[1]);
        assert_eq!(
            RtpPacket::parse(v1),
            Err(RtpError::BadVersion { version: 1 })
        );
        let csrc = raw_rtp(0x8f, 96, 1, 2, 3, &[], &[1, 2, 3, 4]);
        assert_eq!(
            RtpPacket::parse(csrc),
            Err(RtpError::TruncatedCsrc { count: 15 })
        );
        let ext = raw_rtp(0x90, 96, 1, 2, 3, &[], &[0xbe, 0xde, 0, 2, 1, 2, 3, 4]);
        assert_eq!(RtpPacket::parse(ext), Err(RtpError::TruncatedExtension));
        let ext_short = raw_rtp(0x90, 96, 1, 2, 3, &[], &[0xbe]);
        assert_eq!(
            RtpPacket::parse(ext_short),
            Err(RtpError::TruncatedExtension)
        );
    }

    #[test]
    fn header_extension_is_reachable_without_copy() {
        // CC=1, X=1: one CSRC, then a 3-word RFC 8285 one-byte extension: id 1 (2 bytes),
        // padding, id 2 (1 byte), padding.
        let ext = [
            0, 0, 0, 9, 0xbe, 0xde, 0, 2, 0x11, 0xaa, 0xbb, 0, 0x20, 0xcc, 0, 0,
        ];
        let raw = raw_rtp(0x91, 96, 1, 2, 3, &ext, &[0x41, 7]);
        let (pkt, e) = RtpPacket::parse_with_extension(raw.clone()).unwrap();
        assert_eq!(&pkt.payload[..], &[0x41, 7]);
        let e = e.unwrap();
        assert_eq!(e.profile, 0xbede);
        assert_eq!(e.data.len(), 8);
        assert_eq!(e.data.as_ptr(), raw[20..].as_ptr(), "no copy");
        let el = e.elements();
        assert_eq!(el.len(), 2);
        assert_eq!((el[0].0, &el[0].1[..]), (1, &[0xaa, 0xbb][..]));
        assert_eq!((el[1].0, &el[1].1[..]), (2, &[0xcc][..]));
        // ONVIF replay: profile 0xABAC, three words (NTP time, flags + CSeq).
        let onvif = [0xab, 0xac, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0, 0, 5];
        let raw = raw_rtp(0x90, 96, 1, 2, 3, &onvif, &[1]);
        let (_, e) = RtpPacket::parse_with_extension(raw).unwrap();
        let e = e.unwrap();
        assert_eq!(e.profile, 0xabac);
        assert_eq!(&e.data[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(e.elements().is_empty());
        // No X bit: none; malformed: the same error as parse().
        let plain = raw_rtp(0x80, 96, 1, 2, 3, &[], &[1]);
        assert_eq!(RtpPacket::parse_with_extension(plain).unwrap().1, None);
        let bad = raw_rtp(0x90, 96, 1, 2, 3, &[], &[0xbe, 0xde, 0, 2, 1, 2, 3, 4]);
        assert_eq!(
            RtpPacket::parse_with_extension(bad),
            Err(RtpError::TruncatedExtension)
        );
    }
}

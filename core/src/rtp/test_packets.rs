//! Hand-made RTP packets for the tests of this module: the one place that packetizes.
//!
//! Packets are built as whole datagrams and parsed with [`RtpPacket::parse`], so each payload
//! is a slice of its own receive buffer, as on the wire; zero-copy checks compare piece
//! pointers with those buffers.

use bytes::{BufMut, Bytes, BytesMut};

use super::h264::H264Depacketizer;
use super::packet::RtpPacket;
use crate::frame::AccessUnit;

/// A raw RTP datagram: first two header bytes as given, then `header_tail` (CSRCs and
/// extension) and `payload`.
pub(crate) fn raw_rtp(
    b0: u8,
    b1: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    header_tail: &[u8],
    payload: &[u8],
) -> Bytes {
    let mut b = BytesMut::with_capacity(12 + header_tail.len() + payload.len());
    b.put_u8(b0);
    b.put_u8(b1);
    b.put_u16(seq);
    b.put_u32(ts);
    b.put_u32(ssrc);
    b.put_slice(header_tail);
    b.put_slice(payload);
    b.freeze()
}

/// A sequence parameter set (Baseline, as in many cameras); content is opaque to the depacketizer.
pub(crate) const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8];
/// A second SPS (other resolution) for parameter-change tests.
pub(crate) const SPS2: &[u8] = &[0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5];
/// A picture parameter set.
pub(crate) const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
/// An SEI.
pub(crate) const SEI: &[u8] = &[0x06, 0x05, 0x01, 0xaa, 0x80];

/// A slice NAL unit: `header` byte, then a slice header whose first bit says
/// `first_mb_in_slice == 0` when `first`, then `len - 2` filler bytes without zeros (no
/// accidental start codes). `seed` varies the content.
pub(crate) fn slice(header: u8, first: bool, len: usize, seed: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.push(header);
    v.push(if first { 0x88 } else { 0x1c });
    let mut x = seed;
    while v.len() < len {
        x = x.wrapping_mul(31).wrapping_add(17);
        v.push(x | 1);
    }
    v.truncate(len.max(2));
    v
}

/// An IDR slice (nal_ref_idc 3) beginning a picture.
pub(crate) fn idr(len: usize, seed: u8) -> Vec<u8> {
    slice(0x65, true, len, seed)
}

/// A non-IDR slice (nal_ref_idc 2) beginning a picture.
pub(crate) fn p_slice(len: usize, seed: u8) -> Vec<u8> {
    slice(0x41, true, len, seed)
}

/// Numbers packets and builds every RTP payload format the depacketizer accepts.
pub(crate) struct Packetizer {
    /// Sequence number of the next packet.
    pub seq: u16,
    /// Largest payload of a single-NAL packet; larger NAL units go out as FU-A.
    pub mtu: usize,
}

impl Packetizer {
    pub(crate) fn new(seq: u16) -> Self {
        Packetizer { seq, mtu: 1400 }
    }

    /// Skips `n` sequence numbers: packets lost on the way.
    pub(crate) fn lose(&mut self, n: u16) {
        self.seq = self.seq.wrapping_add(n);
    }

    /// Any payload, as a parsed packet whose payload is a slice of its datagram.
    pub(crate) fn packet(&mut self, ts: u32, marker: bool, payload: &[u8]) -> RtpPacket {
        let b1 = if marker { 0x80 | 96 } else { 96 };
        let raw = raw_rtp(0x80, b1, self.seq, ts, 0x1234_5678, &[], payload);
        self.seq = self.seq.wrapping_add(1);
        RtpPacket::parse(raw).expect("test packet parses")
    }

    /// A single NAL unit packet.
    pub(crate) fn single(&mut self, ts: u32, marker: bool, nal: &[u8]) -> RtpPacket {
        self.packet(ts, marker, nal)
    }

    /// A STAP-A of `nals` (F/NRI of the STAP header: the highest NRI among them).
    pub(crate) fn stap_a(&mut self, ts: u32, marker: bool, nals: &[&[u8]]) -> RtpPacket {
        let nri = nals
            .iter()
            .filter_map(|n| n.first())
            .map(|h| h & 0x60)
            .max()
            .unwrap_or(0);
        let mut p = vec![nri | 24];
        for n in nals {
            p.extend_from_slice(&(n.len() as u16).to_be_bytes());
            p.extend_from_slice(n);
        }
        self.packet(ts, marker, &p)
    }

    /// One FU-A packet: indicator from `nal_header`'s F/NRI bits, FU header from the flags
    /// and `nal_header`'s type (`reserved` sets the R bit).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fu_a_fragment(
        &mut self,
        ts: u32,
        marker: bool,
        nal_header: u8,
        start: bool,
        end: bool,
        reserved: bool,
        data: &[u8],
    ) -> RtpPacket {
        let mut fu = nal_header & 0x1f;
        if start {
            fu |= 0x80;
        }
        if end {
            fu |= 0x40;
        }
        if reserved {
            fu |= 0x20;
        }
        let mut p = vec![(nal_header & 0xe0) | 28, fu];
        p.extend_from_slice(data);
        self.packet(ts, marker, &p)
    }

    /// `nal` as FU-A packets carrying at most `frag` payload bytes each; `marker` goes on
    /// the last.
    pub(crate) fn fu_a(
        &mut self,
        ts: u32,
        marker: bool,
        nal: &[u8],
        frag: usize,
    ) -> Vec<RtpPacket> {
        let Some((&header, body)) = nal.split_first() else {
            return Vec::new();
        };
        let chunks: Vec<&[u8]> = body.chunks(frag.max(1)).collect();
        let n = chunks.len();
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let last = i + 1 == n;
                self.fu_a_fragment(ts, marker && last, header, i == 0, last, false, c)
            })
            .collect()
    }

    /// One access unit the way a well-behaved camera sends it: leading SPS/PPS together in
    /// a STAP-A, NAL units up to the MTU as single packets, larger ones as FU-A; marker on
    /// the last packet.
    pub(crate) fn access_unit(&mut self, ts: u32, nals: &[&[u8]]) -> Vec<RtpPacket> {
        let params = nals
            .iter()
            .take_while(|n| n.first().is_some_and(|h| matches!(h & 0x1f, 7 | 8)))
            .count();
        let mut out = Vec::new();
        let mut rest = nals;
        if params >= 2 {
            out.push(self.stap_a(ts, false, &nals[..params]));
            rest = &nals[params..];
        }
        for (i, nal) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            if nal.len() <= self.mtu {
                out.push(self.single(ts, last, nal));
            } else {
                out.extend(self.fu_a(ts, last, nal, self.mtu - 2));
            }
        }
        out
    }
}

/// Pushes `packets` (errors ignored) and pulls every ready access unit.
pub(crate) fn depacketize(d: &mut H264Depacketizer, packets: Vec<RtpPacket>) -> Vec<AccessUnit> {
    let mut out = Vec::new();
    for p in packets {
        let _ = d.push(p);
        while let Some(au) = d.pull() {
            out.push(au);
        }
    }
    out
}

/// The NAL units of `au`, each reassembled from its pieces.
pub(crate) fn nal_bytes(au: &AccessUnit) -> Vec<Vec<u8>> {
    au.nals.iter().map(|n| au.nal_pieces(n).concat()).collect()
}

/// Asserts that every piece of `au` points into one of `packets`' payloads or is a one-byte
/// slice of static memory (a rebuilt FU-A header), and that each NAL unit's length matches
/// its pieces.
pub(crate) fn assert_zero_copy(au: &AccessUnit, packets: &[RtpPacket]) {
    for (i, piece) in au.pieces.iter().enumerate() {
        let start = piece.as_ptr() as usize;
        let end = start + piece.len();
        let inside = packets.iter().any(|p| {
            let ps = p.payload.as_ptr() as usize;
            start >= ps && end <= ps + p.payload.len()
        });
        assert!(
            inside || piece.len() == 1,
            "piece {i} ({} bytes) is not a slice of any packet payload",
            piece.len()
        );
    }
    for n in &au.nals {
        let pieces = au.nal_pieces(n);
        assert_eq!(n.len as usize, pieces.iter().map(Bytes::len).sum::<usize>());
        assert_eq!(pieces.first().and_then(|p| p.first()), Some(&n.header));
    }
}

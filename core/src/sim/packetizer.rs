//! RFC 6184 (packetization-mode 1) H.264 packetizer: single NAL unit packets, STAP-A for the
//! parameter sets and FU-A for large NALs, in the three shapes [`Packetization`] offers.
//!
//! Packets are handed to a callback as a few borrowed pieces (a two-byte FU header plus a slice
//! of the clip, say) so the streamer can write the RTP header and the pieces straight into its
//! send buffer without building each packet separately.

use super::Packetization;

/// RTP fixed header size (no CSRCs, no extension).
pub(crate) const RTP_HEADER_LEN: usize = 12;
/// Smallest MTU the sim accepts: room for the RTP header, a FU header and some payload.
pub(crate) const MIN_MTU: usize = 64;
/// Largest single packet in [`Packetization::SingleNalOnly`]: an interleaved frame's length is
/// 16 bits, and a UDP datagram's payload is below 65,508 bytes.
const MAX_SINGLE_PACKET: usize = 65_000;

const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Packetizes one access unit's NALs, calling `emit(pieces, marker)` once per RTP payload.
/// `mtu` bounds the whole RTP packet (header included), except that
/// [`Packetization::SingleNalOnly`] sends every NAL whole up to 65,000 bytes.
pub(crate) fn packetize(
    nals: &[&[u8]],
    mode: Packetization,
    mtu: usize,
    mut emit: impl FnMut(&[&[u8]], bool),
) {
    let max_payload = mtu.max(MIN_MTU) - RTP_HEADER_LEN;
    let mut i = 0;
    while i < nals.len() {
        let nal = nals[i];
        let last_nal = i + 1 == nals.len();
        if nal.is_empty() {
            i += 1;
            continue;
        }
        match mode {
            Packetization::Mixed => {
                let nal_type = nal[0] & 0x1f;
                if nal_type == 7
                    && let Some(&pps) = nals.get(i + 1)
                    && pps.first().is_some_and(|h| h & 0x1f == 8)
                    && 1 + 2 + nal.len() + 2 + pps.len() <= max_payload
                {
                    // Both lengths are below max_payload, hence below 65536.
                    let hdr = [(nal[0] & 0x80) | (nal[0] & 0x60).max(pps[0] & 0x60) | STAP_A];
                    let sps_len = (nal.len() as u16).to_be_bytes();
                    let pps_len = (pps.len() as u16).to_be_bytes();
                    emit(&[&hdr, &sps_len, nal, &pps_len, pps], i + 2 == nals.len());
                    i += 2;
                    continue;
                }
                if nal.len() <= max_payload {
                    emit(&[nal], last_nal);
                } else {
                    fu_a(nal, max_payload - 2, last_nal, &mut emit);
                }
            }
            Packetization::SingleNalOnly => {
                if nal.len() <= MAX_SINGLE_PACKET {
                    emit(&[nal], last_nal);
                } else {
                    fu_a(nal, max_payload - 2, last_nal, &mut emit);
                }
            }
            Packetization::FuAAlways => {
                let body = nal.len() - 1;
                if body < 2 {
                    // A FU-A must not carry a whole NAL in one fragment (RFC 6184 5.8), and a
                    // one-byte body cannot be split: send it as a single NAL unit.
                    emit(&[nal], last_nal);
                } else {
                    // At least two fragments, even for small NALs.
                    let frag = (max_payload - 2).min(body.div_ceil(2));
                    fu_a(nal, frag, last_nal, &mut emit);
                }
            }
        }
        i += 1;
    }
}

/// Splits `nal` into FU-A fragments carrying at most `frag` bytes of NAL body each.
fn fu_a(nal: &[u8], frag: usize, last_nal: bool, emit: &mut impl FnMut(&[&[u8]], bool)) {
    let indicator = (nal[0] & 0xe0) | FU_A;
    let nal_type = nal[0] & 0x1f;
    let body = &nal[1..];
    let mut chunks = body.chunks(frag.max(1)).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let end = chunks.peek().is_none();
        let header = (u8::from(first) << 7) | (u8::from(end) << 6) | nal_type;
        emit(&[&[indicator, header], chunk], end && last_nal);
        first = false;
    }
}

/// Writes the 12-byte RTP fixed header (version 2, payload type 96).
pub(crate) fn rtp_header(marker: bool, seq: u16, timestamp: u32, ssrc: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = 0x80;
    h[1] = (u8::from(marker) << 7) | super::PAYLOAD_TYPE;
    h[2..4].copy_from_slice(&seq.to_be_bytes());
    h[4..8].copy_from_slice(&timestamp.to_be_bytes());
    h[8..12].copy_from_slice(&ssrc.to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::super::clip::{clip, parsed};
    use super::*;

    /// Packetizes `nals` and returns the payloads with their marker bits.
    fn packets(nals: &[&[u8]], mode: Packetization, mtu: usize) -> Vec<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        packetize(nals, mode, mtu, |pieces, marker| {
            out.push((pieces.concat(), marker));
        });
        out
    }

    /// A minimal RFC 6184 depacketizer, independent of the packetizer, for round trips.
    fn depacketize(pkts: &[(Vec<u8>, bool)]) -> Vec<Vec<u8>> {
        let mut nals = Vec::new();
        let mut frag: Option<Vec<u8>> = None;
        for (p, _) in pkts {
            match p[0] & 0x1f {
                24 => {
                    let mut rest = &p[1..];
                    while rest.len() >= 2 {
                        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                        nals.push(rest[2..2 + len].to_vec());
                        rest = &rest[2 + len..];
                    }
                    assert!(rest.is_empty());
                }
                28 => {
                    let (s, e) = (p[1] & 0x80 != 0, p[1] & 0x40 != 0);
                    assert!(!(s && e), "S and E together");
                    if s {
                        assert!(frag.is_none());
                        frag = Some(vec![(p[0] & 0xe0) | (p[1] & 0x1f)]);
                    }
                    let f = frag.as_mut().expect("fragment without start");
                    f.extend_from_slice(&p[2..]);
                    if e {
                        nals.push(frag.take().unwrap());
                    }
                }
                _ => nals.push(p.clone()),
            }
        }
        assert!(frag.is_none());
        nals
    }

    #[test]
    fn every_mode_round_trips_the_whole_clip() {
        let c = parsed();
        for mode in [
            Packetization::Mixed,
            Packetization::SingleNalOnly,
            Packetization::FuAAlways,
        ] {
            for mtu in [MIN_MTU, 500, 1400] {
                for i in 0..c.len() {
                    let nals: Vec<&[u8]> = c.nals(i).collect();
                    let pkts = packets(&nals, mode, mtu);
                    let markers: Vec<bool> = pkts.iter().map(|p| p.1).collect();
                    assert_eq!(markers.iter().filter(|m| **m).count(), 1);
                    assert_eq!(markers.last(), Some(&true), "marker on the last packet");
                    if mode != Packetization::SingleNalOnly {
                        for (p, _) in &pkts {
                            assert!(p.len() + RTP_HEADER_LEN <= mtu, "{mode:?} mtu {mtu}");
                        }
                    }
                    let back = depacketize(&pkts);
                    let want: Vec<Vec<u8>> = nals.iter().map(|n| n.to_vec()).collect();
                    assert_eq!(back, want, "{mode:?} mtu {mtu} access unit {i}");
                }
            }
        }
        assert!(!clip().is_empty());
    }

    #[test]
    fn mixed_puts_parameter_sets_in_one_stap_a_before_the_idr() {
        let c = parsed();
        let nals: Vec<&[u8]> = c.nals(50).collect();
        let pkts = packets(&nals, Packetization::Mixed, 1400);
        assert_eq!(pkts[0].0[0] & 0x1f, 24);
        assert_eq!(pkts[0].0[0] & 0x60, 0x60, "NRI is the highest of the parts");
        assert_eq!(pkts[1].0[0] & 0x1f, 28, "the IDR is larger than the MTU");
        let single = packets(&nals, Packetization::SingleNalOnly, 1400);
        assert_eq!(single.len(), 3);
    }

    #[test]
    fn fu_a_always_splits_even_small_nals() {
        let nal: &[u8] = &[0x41, 1, 2, 3];
        let pkts = packets(&[nal], Packetization::FuAAlways, 1400);
        assert_eq!(pkts.len(), 2);
        assert_eq!(pkts[0].0, vec![0x5c, 0x81, 1, 2]);
        assert_eq!(pkts[1].0, vec![0x5c, 0x41, 3]);
        let tiny: &[u8] = &[0x09, 0xf0];
        assert_eq!(packets(&[tiny], Packetization::FuAAlways, 1400).len(), 1);
    }

    #[test]
    fn header_layout() {
        let h = rtp_header(true, 0x1234, 0xdeadbeef, 0x01020304);
        assert_eq!(
            h,
            [0x80, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]
        );
    }
}

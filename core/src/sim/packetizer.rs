//! RFC 6184 (packetization-mode 1) H.264 packetizer: single NAL unit packets, STAP-A for the
//! parameter sets and FU-A for large NALs, in the three shapes [`Packetization`] offers; and
//! its RFC 7798 twin for H.265: single NAL unit packets, an aggregation packet (AP, type 48)
//! for VPS+SPS+PPS and fragmentation units (FU, type 49) for large NALs, in the same shapes.
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
/// RFC 7798 aggregation packet and fragmentation unit types.
const H265_AP: u8 = 48;
const H265_FU: u8 = 49;

/// Packetizes one access unit of `codec`: [`packetize`] for H.264, [`packetize_h265`] for
/// H.265.
pub(crate) fn packetize_codec(
    codec: crate::fmp4::VideoCodec,
    nals: &[&[u8]],
    mode: Packetization,
    mtu: usize,
    emit: impl FnMut(&[&[u8]], bool),
) {
    match codec {
        crate::fmp4::VideoCodec::H264 => packetize(nals, mode, mtu, emit),
        crate::fmp4::VideoCodec::H265 => packetize_h265(nals, mode, mtu, emit),
    }
}

/// RFC 7798 packetizer (no DONL: `sprop-max-don-diff` is 0), calling `emit(pieces, marker)`
/// once per RTP payload. [`Packetization::Mixed`] sends a run of VPS, SPS and PPS as one AP
/// (as `rtph265pay` and most cameras do), other NALs whole when they fit and as FUs when not;
/// the other modes are those of H.264. NALs shorter than their two-byte header are skipped.
pub(crate) fn packetize_h265(
    nals: &[&[u8]],
    mode: Packetization,
    mtu: usize,
    mut emit: impl FnMut(&[&[u8]], bool),
) {
    let max_payload = mtu.max(MIN_MTU) - RTP_HEADER_LEN;
    let is_param = |n: &[u8]| {
        n.first()
            .is_some_and(|b| (32..=34).contains(&((b >> 1) & 0x3f)))
    };
    let mut i = 0;
    while i < nals.len() {
        let nal = nals[i];
        if nal.len() < 2 {
            i += 1;
            continue;
        }
        if mode == Packetization::Mixed && is_param(nal) {
            // The longest run of parameter sets that fits one AP (two or more NALs).
            let mut end = i;
            let mut size = 2;
            while end < nals.len()
                && is_param(nals[end])
                && nals[end].len() >= 2
                && size + 2 + nals[end].len() <= max_payload
            {
                size += 2 + nals[end].len();
                end += 1;
            }
            if end - i >= 2 {
                let parts = &nals[i..end];
                // F is the OR of the parts' F bits, LayerId and TID the lowest (RFC 7798 4.4.2).
                let f = parts.iter().fold(0u8, |a, n| a | (n[0] & 0x80));
                let layer = parts
                    .iter()
                    .map(|n| (u16::from(n[0] & 1) << 5) | u16::from(n[1] >> 3))
                    .min()
                    .unwrap_or(0);
                let tid = parts.iter().map(|n| n[1] & 7).min().unwrap_or(1);
                let hdr = [
                    f | (H265_AP << 1) | (layer >> 5) as u8,
                    (((layer & 0x1f) as u8) << 3) | tid,
                ];
                // Each length is below max_payload, hence below 65536.
                let lens: Vec<[u8; 2]> = parts
                    .iter()
                    .map(|n| (n.len() as u16).to_be_bytes())
                    .collect();
                let mut pieces: Vec<&[u8]> = Vec::with_capacity(1 + 2 * parts.len());
                pieces.push(&hdr);
                for (n, l) in parts.iter().zip(&lens) {
                    pieces.push(l);
                    pieces.push(n);
                }
                emit(&pieces, end == nals.len());
                i = end;
                continue;
            }
        }
        let last_nal = i + 1 == nals.len();
        match mode {
            Packetization::Mixed if nal.len() <= max_payload => emit(&[nal], last_nal),
            Packetization::SingleNalOnly if nal.len() <= MAX_SINGLE_PACKET => {
                emit(&[nal], last_nal)
            }
            Packetization::Mixed | Packetization::SingleNalOnly => {
                h265_fu(nal, max_payload - 3, last_nal, &mut emit)
            }
            Packetization::FuAAlways => {
                let body = nal.len() - 2;
                if body < 2 {
                    // A FU must not carry a whole NAL (RFC 7798 4.4.3).
                    emit(&[nal], last_nal);
                } else {
                    let frag = (max_payload - 3).min(body.div_ceil(2));
                    h265_fu(nal, frag, last_nal, &mut emit);
                }
            }
        }
        i += 1;
    }
}

/// Splits an H.265 `nal` (at least two bytes) into FUs carrying at most `frag` bytes of NAL
/// body each: payload header (type 49, the NAL's F, LayerId and TID), FU header (S, E, type).
fn h265_fu(nal: &[u8], frag: usize, last_nal: bool, emit: &mut impl FnMut(&[&[u8]], bool)) {
    let payload_hdr = [(nal[0] & 0x81) | (H265_FU << 1), nal[1]];
    let nal_type = (nal[0] >> 1) & 0x3f;
    let mut chunks = nal[2..].chunks(frag.max(1)).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let end = chunks.peek().is_none();
        let fu = [(u8::from(first) << 7) | (u8::from(end) << 6) | nal_type];
        emit(&[&payload_hdr, &fu, chunk], end && last_nal);
        first = false;
    }
}

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
    rtp_header_pt(super::PAYLOAD_TYPE, marker, seq, timestamp, ssrc)
}

/// Writes the 12-byte RTP fixed header (version 2) with payload type `pt`.
pub(crate) fn rtp_header_pt(pt: u8, marker: bool, seq: u16, timestamp: u32, ssrc: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = 0x80;
    h[1] = (u8::from(marker) << 7) | (pt & 0x7f);
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

    /// A minimal RFC 7798 depacketizer (no DONL), independent of the packetizer.
    fn depacketize_h265(pkts: &[(Vec<u8>, bool)]) -> Vec<Vec<u8>> {
        let mut nals = Vec::new();
        let mut frag: Option<Vec<u8>> = None;
        for (p, _) in pkts {
            match (p[0] >> 1) & 0x3f {
                48 => {
                    let mut rest = &p[2..];
                    while rest.len() >= 2 {
                        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                        nals.push(rest[2..2 + len].to_vec());
                        rest = &rest[2 + len..];
                    }
                    assert!(rest.is_empty());
                }
                49 => {
                    let (s, e) = (p[2] & 0x80 != 0, p[2] & 0x40 != 0);
                    assert!(!(s && e), "S and E together");
                    if s {
                        assert!(frag.is_none());
                        frag = Some(vec![(p[0] & 0x81) | ((p[2] & 0x3f) << 1), p[1]]);
                    }
                    let f = frag.as_mut().expect("fragment without start");
                    f.extend_from_slice(&p[3..]);
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
    fn h265_every_mode_round_trips_the_whole_clip() {
        let c = super::super::clip::parsed_of(crate::fmp4::VideoCodec::H265);
        for mode in [
            Packetization::Mixed,
            Packetization::SingleNalOnly,
            Packetization::FuAAlways,
        ] {
            for mtu in [MIN_MTU, 500, 1400] {
                for i in 0..c.len() {
                    let nals: Vec<&[u8]> = c.nals(i).collect();
                    let mut pkts = Vec::new();
                    packetize_h265(&nals, mode, mtu, |pieces, marker| {
                        pkts.push((pieces.concat(), marker));
                    });
                    let markers: Vec<bool> = pkts.iter().map(|p| p.1).collect();
                    assert_eq!(markers.iter().filter(|m| **m).count(), 1);
                    assert_eq!(markers.last(), Some(&true), "marker on the last packet");
                    if mode != Packetization::SingleNalOnly {
                        for (p, _) in &pkts {
                            assert!(p.len() + RTP_HEADER_LEN <= mtu, "{mode:?} mtu {mtu}");
                        }
                    }
                    if mode == Packetization::Mixed && i % 50 == 0 && mtu >= 500 {
                        assert_eq!((pkts[0].0[0] >> 1) & 0x3f, 48, "VPS+SPS+PPS in one AP");
                        assert_eq!(pkts[0].0[1], 1, "LayerId 0, TID 1");
                    }
                    let back = depacketize_h265(&pkts);
                    let want: Vec<Vec<u8>> = nals.iter().map(|n| n.to_vec()).collect();
                    assert_eq!(back, want, "{mode:?} mtu {mtu} access unit {i}");
                }
            }
        }
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

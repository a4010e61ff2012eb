//! The real test clip through our own packetizer and back, and a no-panic loop over
//! pseudo-random and truncated packets.

use bytes::Bytes;

use super::*;
use crate::frame::AccessUnit;
use crate::h264::annexb;
use crate::rtp::test_packets::{Packetizer, assert_zero_copy, nal_bytes};

const CLIP: &[u8] = include_bytes!("../../../testdata/sim_clip.h264");

/// The clip's access units as NAL units: for this clip each access unit ends with its one
/// slice (type 1 or 5).
fn clip_access_units() -> Vec<Vec<&'static [u8]>> {
    let mut aus = Vec::new();
    let mut cur = Vec::new();
    for r in annexb::nal_ranges(CLIP) {
        let nal = &CLIP[r];
        cur.push(nal);
        if matches!(nal[0] & 0x1f, 1 | 5) {
            aus.push(std::mem::take(&mut cur));
        }
    }
    assert!(cur.is_empty());
    aus
}

/// Packetizes the clip (STAP-A for SPS+PPS, single NAL units up to 1400 bytes, FU-A above),
/// starting just before both the sequence number and the timestamp wrap.
fn clip_packets() -> (Vec<Vec<&'static [u8]>>, Vec<RtpPacket>, u32) {
    let aus = clip_access_units();
    let mut p = Packetizer::new(65000);
    let ts0 = u32::MAX - 100 * 3000;
    let mut pkts = Vec::new();
    for (i, au) in aus.iter().enumerate() {
        pkts.extend(p.access_unit(ts0.wrapping_add(3000 * i as u32), au));
    }
    (aus, pkts, ts0)
}

fn check_clip_output(aus: &[Vec<&[u8]>], out: &[AccessUnit], pkts: &[RtpPacket], ts0: u32) {
    assert_eq!(out.len(), 250);
    assert_eq!(aus.len(), 250);
    for (i, (src, got)) in aus.iter().zip(out).enumerate() {
        let want: Vec<Vec<u8>> = src.iter().map(|n| n.to_vec()).collect();
        assert_eq!(nal_bytes(got), want, "access unit {i}");
        assert_eq!(got.timestamp, i64::from(ts0) + 3000 * i as i64);
        assert_eq!(got.keyframe, src.iter().any(|n| n[0] & 0x1f == 5));
        assert_eq!(got.loss, 0);
        assert_eq!(
            got.new_parameters.is_some(),
            i == 0,
            "clip parameter sets never change"
        );
        assert_zero_copy(got, pkts);
    }
}

#[test]
fn sim_clip_round_trips_byte_for_byte() {
    let (aus, pkts, ts0) = clip_packets();
    assert!(
        pkts.iter().any(|p| p.payload.first() == Some(&(0x60 | 28))),
        "FU-A used"
    );
    assert!(
        pkts.iter()
            .any(|p| p.payload.first().is_some_and(|b| b & 0x1f == 24)),
        "STAP-A used"
    );
    let mut d = H264Depacketizer::new(DepacketizerOptions::default(), None);
    let mut out = Vec::new();
    for p in pkts.iter().cloned() {
        d.push(p).expect("clean packets");
        out.extend(std::iter::from_fn(|| d.pull()));
    }
    assert!(d.flush().is_none());
    check_clip_output(&aus, &out, &pkts, ts0);
    let s = d.stats();
    assert_eq!(
        (s.access_units, s.dropped_access_units, s.lost_packets),
        (250, 0, 0)
    );
    assert_eq!(s.packets, pkts.len() as u64);
}

#[test]
fn sim_clip_without_marker_bits_round_trips() {
    let (aus, mut pkts, ts0) = clip_packets();
    for p in &mut pkts {
        p.marker = false;
    }
    let mut d = H264Depacketizer::new(DepacketizerOptions::default(), None);
    let mut out = Vec::new();
    for p in pkts.iter().cloned() {
        d.push(p).expect("clean packets");
        out.extend(std::iter::from_fn(|| d.pull()));
    }
    out.extend(d.flush());
    check_clip_output(&aus, &out, &pkts, ts0);
}

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn check_structure(au: &AccessUnit) {
    let mut next_piece = 0;
    for n in &au.nals {
        assert_eq!(
            n.pieces.start, next_piece,
            "NAL units are contiguous runs of pieces"
        );
        next_piece = n.pieces.end;
        let pieces = au.nal_pieces(n);
        assert_eq!(n.len as usize, pieces.iter().map(Bytes::len).sum::<usize>());
        assert_eq!(pieces.first().and_then(|p| p.first()), Some(&n.header));
    }
    assert_eq!(next_piece as usize, au.pieces.len());
    assert!(au.nals.iter().any(|n| (1..=5).contains(&n.nal_type())));
}

#[test]
fn random_and_truncated_packets_never_panic() {
    let (_, clip, _) = clip_packets();
    let clip: Vec<RtpPacket> = clip.into_iter().take(600).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let small = DepacketizerOptions {
        max_nal_bytes: 3000,
        max_access_unit_bytes: 5000,
        max_nals_per_access_unit: 8,
        max_pieces_per_access_unit: 6,
        max_timestamp_jump: 1000,
        reorder_window: 4,
        ..DepacketizerOptions::default()
    };
    for round in 0..6 {
        let mut opts = if round % 2 == 0 {
            DepacketizerOptions::default()
        } else {
            small.clone()
        };
        if round % 3 == 2 {
            opts.loss_policy = crate::rtp::LossPolicy::SkipToKeyframe;
        }
        let sprop = ["Z0LAHtkAoEf+yA==,aM48gA==", "!!", "AAAAAWdCwB4=,,"][round % 3];
        let mut d = H264Depacketizer::new(opts, Some(sprop));
        let mut seq = rng.next() as u16;
        let mut ts = rng.next() as u32;
        for _ in 0..1500 {
            let base = &clip[rng.below(clip.len() as u64) as usize];
            let mut payload = match rng.below(4) {
                // A real payload, maybe truncated.
                0 | 1 => {
                    let cut = rng.below(base.payload.len() as u64 + 1) as usize;
                    base.payload.slice(..cut).to_vec()
                }
                // Random bytes.
                2 => (0..rng.below(40)).map(|_| rng.next() as u8).collect(),
                // A real payload with a random payload header.
                _ => {
                    let mut v = base.payload.to_vec();
                    if let Some(b) = v.first_mut() {
                        *b = rng.next() as u8;
                    }
                    v
                }
            };
            if rng.below(8) == 0 && payload.len() > 1 {
                // Flip FU-A / STAP-A size bits.
                payload[1] ^= rng.next() as u8;
            }
            seq = match rng.below(20) {
                0 => rng.next() as u16,
                1 => seq.wrapping_sub(rng.below(5) as u16),
                2 => seq.wrapping_add(rng.below(5) as u16),
                _ => seq.wrapping_add(1),
            };
            ts = match rng.below(10) {
                0 => rng.next() as u32,
                1..=3 => ts.wrapping_add(3000),
                _ => ts,
            };
            let pkt = RtpPacket {
                sequence_number: seq,
                timestamp: ts,
                marker: rng.below(3) == 0,
                ssrc: 1,
                payload_type: 96,
                payload: Bytes::from(payload),
            };
            let _ = d.push(pkt);
            while let Some(au) = d.pull() {
                check_structure(&au);
            }
            if rng.below(200) == 0 {
                while let Some(au) = d.flush() {
                    check_structure(&au);
                }
            }
        }
        while let Some(au) = d.flush() {
            check_structure(&au);
        }
        let s = d.stats();
        assert_eq!(s.packets, 1500);
        assert!(s.errors.total() > 0);
    }
    // Raw datagrams through the header parser, too.
    for _ in 0..5000 {
        let len = rng.below(64) as usize;
        let mut raw: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(b) = raw.first_mut() {
            *b = (*b & 0x3f) | 0x80;
        }
        if let Ok(p) = RtpPacket::parse(Bytes::from(raw)) {
            assert!(p.payload.len() <= len);
        }
    }
}

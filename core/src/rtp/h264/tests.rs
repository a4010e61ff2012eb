//! One test per camera behaviour (design.md §4), from hand-made packets.

use super::*;
use crate::rtp::test_packets::*;

fn depacketizer() -> H264Depacketizer {
    H264Depacketizer::new(DepacketizerOptions::default(), None)
}

/// Pushes `packets`, then ends the stream: every access unit, including those behind a hole
/// the reorder window was still waiting on.
fn depacketize_all(d: &mut H264Depacketizer, packets: Vec<RtpPacket>) -> Vec<AccessUnit> {
    let mut aus = depacketize(d, packets);
    while let Some(au) = d.flush() {
        aus.push(au);
    }
    aus
}

/// Today's behaviour before `LossPolicy::Keep`: a loss costs the rest of the GOP.
fn skip_to_keyframe() -> H264Depacketizer {
    H264Depacketizer::new(
        DepacketizerOptions {
            loss_policy: LossPolicy::SkipToKeyframe,
            ..DepacketizerOptions::default()
        },
        None,
    )
}

/// A keyframe access unit (SPS, PPS, IDR) at `ts`, as a well-behaved camera sends it.
fn keyframe(p: &mut Packetizer, ts: u32, idr_len: usize) -> (Vec<Vec<u8>>, Vec<RtpPacket>) {
    let idr = idr(idr_len, ts as u8);
    let nals = vec![SPS.to_vec(), PPS.to_vec(), idr];
    let refs: Vec<&[u8]> = nals.iter().map(Vec::as_slice).collect();
    let pkts = p.access_unit(ts, &refs);
    (nals, pkts)
}

#[test]
fn single_nal_and_stap_a_packets_make_one_au() {
    let mut p = Packetizer::new(100);
    let (nals, pkts) = keyframe(&mut p, 3000, 500);
    assert_eq!(pkts.len(), 2, "STAP-A(SPS, PPS) + single IDR");
    let mut d = depacketizer();
    let aus = depacketize(&mut d, pkts.clone());
    assert_eq!(aus.len(), 1);
    let au = &aus[0];
    assert_eq!(nal_bytes(au), nals);
    assert_eq!(au.timestamp, 3000);
    assert!(au.keyframe);
    assert_eq!(au.loss, 0);
    let params = au
        .new_parameters
        .as_ref()
        .expect("first AU announces parameters");
    assert_eq!((&params.sps[..], &params.pps[..]), (SPS, PPS));
    assert_eq!(d.parameters(), Some(params));
    assert_zero_copy(au, &pkts);
    assert_eq!(d.stats().access_units, 1);
    assert_eq!(d.stats().packets, 2);
    assert_eq!(d.stats().errors.total(), 0);
}

#[test]
fn marker_bit_missing_ends_au_on_timestamp_change() {
    let mut p = Packetizer::new(0);
    let idr = idr(300, 1);
    let p1 = p_slice(200, 2);
    let pkts = vec![
        p.single(0, false, SPS),
        p.single(0, false, PPS),
        p.single(0, false, &idr),
        p.single(3600, false, &p1),
    ];
    let mut d = depacketizer();
    let aus = depacketize(&mut d, pkts);
    assert_eq!(aus.len(), 1, "the IDR ends when the next timestamp arrives");
    assert_eq!(nal_bytes(&aus[0]), vec![SPS.to_vec(), PPS.to_vec(), idr]);
    assert_eq!(aus[0].timestamp, 0);
    let last = d.flush().expect("the P picture ends at end of stream");
    assert_eq!(nal_bytes(&last), vec![p1]);
    assert_eq!(last.timestamp, 3600);
    assert!(!last.keyframe);
    assert!(last.new_parameters.is_none());
    assert!(d.flush().is_none());
}

#[test]
fn marker_on_sps_does_not_end_au() {
    let mut p = Packetizer::new(0);
    let idr = idr(300, 1);
    // DVR firmware: marker on every packet, parameter sets and SEI included.
    let pkts = vec![
        p.single(0, true, SPS),
        p.single(0, true, PPS),
        p.single(0, true, SEI),
        p.single(0, true, &idr),
    ];
    let aus = depacketize(&mut depacketizer(), pkts);
    assert_eq!(aus.len(), 1);
    assert_eq!(
        nal_bytes(&aus[0]),
        vec![SPS.to_vec(), PPS.to_vec(), SEI.to_vec(), idr]
    );
}

#[test]
fn sps_pps_with_own_timestamp_join_following_idr() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let p1 = p_slice(200, 2);
    let idr2 = idr(300, 3);
    let pkts = vec![
        // Stream start: parameter sets with a timestamp of their own and the marker set.
        p.single(1000, true, SPS),
        p.single(1000, true, PPS),
        p.single(4600, true, &idr0),
        p.single(8200, true, &p1),
        // GOP boundary: parameter sets carry the previous picture's timestamp.
        p.single(8200, true, SPS),
        p.single(8200, true, PPS),
        p.single(11800, true, &idr2),
    ];
    let aus = depacketize(&mut depacketizer(), pkts);
    let got: Vec<(i64, Vec<Vec<u8>>)> = aus.iter().map(|a| (a.timestamp, nal_bytes(a))).collect();
    assert_eq!(
        got,
        vec![
            (4600, vec![SPS.to_vec(), PPS.to_vec(), idr0]),
            (8200, vec![p1]),
            (11800, vec![SPS.to_vec(), PPS.to_vec(), idr2]),
        ]
    );
    assert!(aus[2].keyframe && aus[2].new_parameters.is_none());
}

#[test]
fn sps_pps_after_last_slice_go_to_next_au() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let idr1 = idr(300, 2);
    // No marker bits at all; parameter sets share the previous picture's timestamp.
    let pkts = vec![
        p.single(0, false, &idr0),
        p.single(0, false, SEI),
        p.single(0, false, SPS),
        p.single(0, false, PPS),
        p.single(3600, false, &idr1),
    ];
    let mut d = depacketizer();
    let aus = depacketize_all(&mut d, pkts);
    assert_eq!(aus.len(), 2);
    assert_eq!(nal_bytes(&aus[0]), vec![idr0]);
    assert_eq!(aus[0].timestamp, 0);
    assert_eq!(
        nal_bytes(&aus[1]),
        vec![SEI.to_vec(), SPS.to_vec(), PPS.to_vec(), idr1]
    );
    assert_eq!(aus[1].timestamp, 3600);
    // The parameter sets were first seen in the second AU.
    assert!(aus[0].new_parameters.is_none());
    assert!(aus[1].new_parameters.is_some());
}

#[test]
fn multi_slice_picture_ends_on_marker() {
    let mut p = Packetizer::new(0);
    let s1 = idr(200, 1);
    let s2 = slice(0x65, false, 200, 2);
    let pkts = vec![p.single(0, false, &s1), p.single(0, true, &s2)];
    let aus = depacketize(&mut depacketizer(), pkts.clone());
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), vec![s1, s2]);
    assert_zero_copy(&aus[0], &pkts);
}

#[test]
fn annexb_start_codes_inside_single_nal() {
    let mut p = Packetizer::new(0);
    let idr = idr(100, 1);
    // V380-style: SPS, PPS and the slice in one "single NAL" packet, start codes between.
    let payload = [SPS, &[0, 0, 0, 1], PPS, &[0, 0, 1], &idr].concat();
    let pkts = vec![p.single(0, true, &payload)];
    let aus = depacketize(&mut depacketizer(), pkts.clone());
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), vec![SPS.to_vec(), PPS.to_vec(), idr]);
    assert_eq!(aus[0].pieces.len(), 3);
    assert_zero_copy(&aus[0], &pkts);
}

#[test]
fn annexb_framed_payload_with_leading_start_code() {
    let mut p = Packetizer::new(0);
    let idr = idr(100, 1);
    let payload = [&[0, 0, 0, 1], SPS, &[0, 0, 0, 1], PPS, &[0, 0, 0, 1], &idr].concat();
    let pkts = vec![p.single(0, true, &payload)];
    let aus = depacketize(&mut depacketizer(), pkts.clone());
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), vec![SPS.to_vec(), PPS.to_vec(), idr]);
    assert_zero_copy(&aus[0], &pkts);
}

#[test]
fn annexb_start_codes_inside_stap_a() {
    let mut p = Packetizer::new(0);
    let idr = idr(100, 1);
    let both = [SPS, &[0, 0, 0, 1], PPS].concat();
    let pkts = vec![p.stap_a(0, false, &[&both]), p.single(0, true, &idr)];
    let aus = depacketize(&mut depacketizer(), pkts.clone());
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), vec![SPS.to_vec(), PPS.to_vec(), idr]);
    assert_zero_copy(&aus[0], &pkts);
}

#[test]
fn fu_a_reassembles_in_place() {
    let mut p = Packetizer::new(0);
    let idr = idr(5000, 7);
    let mut pkts = vec![p.stap_a(0, false, &[SPS, PPS])];
    pkts.extend(p.fu_a(0, true, &idr, 1398));
    assert_eq!(pkts.len(), 5);
    let aus = depacketize(&mut depacketizer(), pkts.clone());
    assert_eq!(aus.len(), 1);
    let au = &aus[0];
    assert_eq!(nal_bytes(au), vec![SPS.to_vec(), PPS.to_vec(), idr.clone()]);
    assert_zero_copy(au, &pkts);
    // SPS, PPS, rebuilt header, 4 fragments.
    assert_eq!(au.pieces.len(), 7);
    let header = &au.pieces[2];
    assert_eq!(&header[..], &[idr[0]]);
    let header_ptr = header.as_ptr() as usize;
    assert!(
        pkts.iter().all(|p| {
            let s = p.payload.as_ptr() as usize;
            header_ptr < s || header_ptr >= s + p.payload.len()
        }),
        "the rebuilt header is static, not a packet byte"
    );
    // Each fragment piece is exactly the payload after the two FU bytes of its packet.
    for (piece, pkt) in au.pieces[3..].iter().zip(&pkts[1..]) {
        assert_eq!(piece.as_ptr(), pkt.payload[2..].as_ptr());
        assert_eq!(piece.len(), pkt.payload.len() - 2);
    }
}

#[test]
fn fu_a_start_and_end_together() {
    let mut p = Packetizer::new(0);
    let idr = idr(50, 1);
    let pkts = vec![p.fu_a_fragment(0, true, idr[0], true, true, false, &idr[1..])];
    let aus = depacketize(&mut depacketizer(), pkts.clone());
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), vec![idr]);
    assert_eq!(aus[0].pieces.len(), 2);
    assert_zero_copy(&aus[0], &pkts);
}

#[test]
fn fu_a_empty_fragments_are_skipped() {
    let mut p = Packetizer::new(0);
    let idr = idr(50, 1);
    let h = idr[0];
    let pkts = vec![
        p.single(0, false, SPS),
        p.fu_a_fragment(0, false, h, true, false, false, &[]),
        p.fu_a_fragment(0, false, h, false, false, false, &idr[1..20]),
        p.fu_a_fragment(0, false, h, false, false, false, &[]),
        p.fu_a_fragment(0, true, h, false, true, false, &idr[20..]),
    ];
    let aus = depacketize(&mut depacketizer(), pkts.clone());
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), vec![SPS.to_vec(), idr]);
    assert_eq!(
        aus[0].pieces.len(),
        4,
        "SPS, header, two non-empty fragments"
    );
    assert!(aus[0].pieces.iter().all(|p| !p.is_empty()));
    // An empty end fragment closes the NAL unit too.
    let p1 = p_slice(40, 3);
    let pkts = vec![
        p.fu_a_fragment(3600, false, p1[0], true, false, false, &p1[1..]),
        p.fu_a_fragment(3600, true, p1[0], false, true, false, &[]),
    ];
    let mut d = depacketizer();
    d.wait_for_idr = false;
    let aus = depacketize(&mut d, pkts);
    assert_eq!(nal_bytes(&aus[0]), vec![p1]);
}

#[test]
fn fu_a_reserved_bit_is_ignored() {
    let mut p = Packetizer::new(0);
    let idr = idr(50, 1);
    let pkts = vec![
        p.fu_a_fragment(0, false, idr[0], true, false, true, &idr[1..25]),
        p.fu_a_fragment(0, true, idr[0], false, true, true, &idr[25..]),
    ];
    let mut d = depacketizer();
    let aus = depacketize(&mut d, pkts);
    assert_eq!(nal_bytes(&aus[0]), vec![idr]);
    assert_eq!(d.stats().errors.total(), 0);
}

#[test]
fn fu_a_type_change_keeps_first_type() {
    let mut p = Packetizer::new(0);
    let idr = idr(60, 1);
    let pkts = vec![
        p.fu_a_fragment(0, false, idr[0], true, false, false, &idr[1..20]),
        // Later fragments claim type 1.
        p.fu_a_fragment(0, false, 0x61, false, false, false, &idr[20..40]),
        p.fu_a_fragment(0, true, 0x61, false, true, false, &idr[40..]),
    ];
    let mut d = depacketizer();
    let aus = depacketize(&mut d, pkts);
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), vec![idr]);
    assert_eq!(aus[0].nals[0].nal_type(), 5);
    assert!(aus[0].keyframe);
    assert!(d.warned_fu_type_change);
}

#[test]
fn fu_a_without_start_is_dropped() {
    let mut p = Packetizer::new(0);
    let (_, mut pkts) = keyframe(&mut p, 0, 300);
    let p1 = p_slice(300, 2);
    // A picture whose start fragment the camera never sent (no sequence gap).
    pkts.push(p.fu_a_fragment(3600, false, p1[0], false, false, false, &p1[1..100]));
    pkts.push(p.fu_a_fragment(3600, false, p1[0], false, false, false, &p1[100..200]));
    pkts.push(p.fu_a_fragment(3600, true, p1[0], false, true, false, &p1[200..]));
    let (idr_nals, idr_pkts) = keyframe(&mut p, 7200, 300);
    pkts.extend(idr_pkts);
    let mut d = depacketizer();
    let mut errors = Vec::new();
    let mut aus = Vec::new();
    for pkt in pkts {
        if let Err(e) = d.push(pkt) {
            errors.push(e);
        }
        aus.extend(std::iter::from_fn(|| d.pull()));
    }
    assert_eq!(
        errors,
        vec![DepacketizeError::FuAWithoutStart],
        "one error per broken NAL unit"
    );
    assert_eq!(aus.len(), 2);
    assert_eq!(aus[0].timestamp, 0);
    assert_eq!(aus[1].timestamp, 7200);
    assert_eq!(nal_bytes(&aus[1]), idr_nals);
    assert_eq!(d.stats().errors.fu_a_without_start, 1);
    assert_eq!(d.stats().dropped_access_units, 1);
    assert_eq!(d.stats().lost_packets, 0);
}

#[test]
fn fu_a_interrupted_by_new_nal_is_dropped() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let idr1 = idr(300, 2);
    let pkts = vec![
        p.fu_a_fragment(0, false, idr0[0], true, false, false, &idr0[1..100]),
        // No end fragment: a new NAL unit arrives.
        p.single(0, true, SEI),
        p.single(3600, true, &idr1),
    ];
    let mut d = depacketizer();
    let mut results = Vec::new();
    let mut aus = Vec::new();
    for pkt in pkts {
        results.push(d.push(pkt));
        aus.extend(std::iter::from_fn(|| d.pull()));
    }
    assert_eq!(results[1], Err(DepacketizeError::FuAInterrupted));
    assert_eq!(d.stats().errors.fu_a_interrupted, 1);
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), vec![idr1]);
    assert_eq!(d.stats().dropped_access_units, 1);
}

#[test]
fn fu_a_interrupted_by_timestamp_change_is_dropped() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let idr1 = idr(300, 2);
    let pkts = vec![
        p.fu_a_fragment(0, false, idr0[0], true, false, false, &idr0[1..100]),
        p.single(3600, true, &idr1),
    ];
    let mut d = depacketizer();
    let aus = depacketize(&mut d, pkts);
    assert_eq!(aus.len(), 1);
    assert_eq!(aus[0].timestamp, 3600);
    assert_eq!(nal_bytes(&aus[0]), vec![idr1]);
    assert_eq!(d.stats().errors.fu_a_interrupted, 1);
    assert_eq!(d.stats().dropped_access_units, 1);
}

#[test]
fn truncated_fu_a_is_an_error() {
    let mut p = Packetizer::new(0);
    let mut d = depacketizer();
    assert_eq!(
        d.push(p.packet(0, true, &[0x7c])),
        Err(DepacketizeError::TruncatedFuA)
    );
    assert_eq!(d.stats().errors.truncated_fu_a, 1);
}

#[test]
fn sequence_gap_drops_au_and_resumes_at_idr() {
    let mut p = Packetizer::new(65530);
    let (_, k0) = keyframe(&mut p, 0, 3000);
    let p1 = p_slice(3000, 1);
    let p2 = p_slice(300, 2);
    let mut pkts = k0;
    let mut p1_pkts = p.access_unit(3600, &[&p1]);
    p1_pkts.remove(1); // 3 FU-A packets; the middle one is lost
    pkts.extend(p1_pkts);
    pkts.extend(p.access_unit(7200, &[&p2])); // intact, but not decodable without p1
    let (k3_nals, k3) = keyframe(&mut p, 10800, 300);
    pkts.extend(k3);
    let mut d = skip_to_keyframe();
    let aus = depacketize_all(&mut d, pkts);
    let got: Vec<(i64, bool, u32)> = aus
        .iter()
        .map(|a| (a.timestamp, a.keyframe, a.loss))
        .collect();
    assert_eq!(got, vec![(0, true, 0), (10800, true, 1)]);
    assert_eq!(nal_bytes(&aus[1]), k3_nals);
    let s = d.stats();
    assert_eq!(
        (s.lost_packets, s.dropped_access_units, s.access_units),
        (1, 2, 2)
    );
    assert_eq!(
        s.errors.total(),
        0,
        "a loss is not counted again as FU-A errors"
    );
}

#[test]
fn gap_before_clean_idr_start_keeps_idr() {
    let mut p = Packetizer::new(0);
    let (_, k0) = keyframe(&mut p, 0, 300);
    let mut pkts = k0;
    // A whole P picture is lost; the next packet starts a keyframe cleanly.
    p.lose(2);
    let idr1 = idr(300, 9);
    pkts.push(p.single(7200, true, &idr1));
    let mut d = depacketizer();
    let aus = depacketize_all(&mut d, pkts);
    assert_eq!(aus.len(), 2);
    assert_eq!(nal_bytes(&aus[1]), vec![idr1]);
    assert_eq!(aus[1].loss, 2);
    assert_eq!(d.stats().dropped_access_units, 0);
}

#[test]
fn gap_inside_idr_drops_it_even_if_rest_is_keyframe() {
    let mut p = Packetizer::new(0);
    let s1 = idr(300, 1);
    let s2 = slice(0x65, false, 300, 2);
    let s3 = slice(0x65, false, 300, 3);
    let mut pkts = vec![p.single(0, false, &s1)];
    p.lose(1); // s2 lost
    pkts.push(p.single(0, true, &s3));
    let _ = s2;
    let mut d = skip_to_keyframe();
    assert!(depacketize(&mut d, pkts).is_empty());
    assert!(d.flush().is_none());
    assert_eq!(d.stats().dropped_access_units, 1);
    // A gap right before a non-first slice damages that (new) picture too.
    let mut p = Packetizer::new(0);
    p.lose(1);
    let pkts = vec![p.single(0, true, &s3)];
    let mut d = skip_to_keyframe();
    assert!(depacketize(&mut d, pkts).is_empty());
    assert_eq!(d.stats().dropped_access_units, 1);
}

#[test]
fn late_packet_is_dropped_and_counted() {
    let mut p = Packetizer::new(10);
    let (_, mut pkts) = keyframe(&mut p, 0, 300);
    let p1 = p_slice(300, 1);
    let p2 = p_slice(300, 2);
    let p1_pkt = p.single(3600, true, &p1);
    let p2_pkt = p.single(7200, true, &p2);
    // p2 overtakes p1, p1 arrives late, and a duplicate of p2 follows.
    pkts.push(p2_pkt.clone());
    pkts.push(p1_pkt);
    pkts.push(p2_pkt);
    let (k_nals, k) = keyframe(&mut p, 10800, 300);
    pkts.extend(k);
    // Reordering off: an overtaken packet is late and its place a loss.
    let mut d = H264Depacketizer::new(
        DepacketizerOptions {
            reorder_window: 0,
            loss_policy: LossPolicy::SkipToKeyframe,
            ..DepacketizerOptions::default()
        },
        None,
    );
    let aus = depacketize(&mut d, pkts);
    let ts: Vec<i64> = aus.iter().map(|a| a.timestamp).collect();
    assert_eq!(ts, vec![0, 10800]);
    assert_eq!(nal_bytes(&aus[1]), k_nals);
    assert_eq!(aus[1].loss, 1);
    let s = d.stats();
    assert_eq!((s.late_packets, s.lost_packets), (2, 1));
}

#[test]
fn sequence_restart_resyncs() {
    let mut p = Packetizer::new(100);
    let (_, mut pkts) = keyframe(&mut p, 0, 300);
    p.seq = 40_000; // camera restarted its numbering
    let (k_nals, k) = keyframe(&mut p, 3600, 300);
    let (k2_nals, k2) = keyframe(&mut p, 7200, 300);
    pkts.extend(k);
    pkts.extend(k2);
    let mut d = depacketizer();
    let aus = depacketize_all(&mut d, pkts);
    // The first packet after the restart (STAP-A with SPS and PPS) waits on probation and
    // is lost; the IDR slice after it begins its picture cleanly, so it is kept.
    assert_eq!(aus.len(), 3);
    assert_eq!(nal_bytes(&aus[1]), vec![k_nals[2].clone()]);
    assert_eq!((aus[1].timestamp, aus[1].loss), (3600, 1));
    assert_eq!(nal_bytes(&aus[2]), k2_nals);
    assert_eq!(d.stats().sequence_resyncs, 1);
    assert_eq!(d.stats().late_packets, 1);
}

#[test]
fn stream_starts_at_first_idr() {
    let mut p = Packetizer::new(0);
    let p0 = p_slice(300, 1);
    let mut pkts = p.access_unit(0, &[&p0]);
    let (k_nals, k) = keyframe(&mut p, 3600, 300);
    pkts.extend(k);
    let mut d = depacketizer();
    let aus = depacketize(&mut d, pkts);
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), k_nals);
    assert_eq!(aus[0].loss, 0);
    assert_eq!(d.stats().dropped_access_units, 1);
}

#[test]
fn access_unit_timestamps_wrap_to_64_bits() {
    let mut p = Packetizer::new(0);
    let start = u32::MAX - 3599;
    let (_, mut pkts) = keyframe(&mut p, start, 300);
    for i in 1..4u32 {
        pkts.extend(p.access_unit(start.wrapping_add(3600 * i), &[&p_slice(200, i as u8)]));
    }
    let aus = depacketize(&mut depacketizer(), pkts);
    let ts: Vec<i64> = aus.iter().map(|a| a.timestamp).collect();
    let base = i64::from(start);
    assert_eq!(ts, vec![base, base + 3600, base + 7200, base + 10800]);
    assert!(ts[3] > i64::from(u32::MAX));
}

#[test]
fn parameter_change_sets_new_parameters() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let idr1 = idr(300, 2);
    let idr2 = idr(300, 3);
    let mut pkts = p.access_unit(0, &[SPS, PPS, &idr0]);
    // Same parameter sets again: no new init segment.
    pkts.extend(p.access_unit(3600, &[SPS, PPS, &idr1]));
    // Resolution change.
    pkts.extend(p.access_unit(7200, &[SPS2, PPS, &idr2]));
    let mut d = depacketizer();
    let aus = depacketize(&mut d, pkts);
    assert_eq!(aus.len(), 3);
    let firsts: Vec<Option<&[u8]>> = aus
        .iter()
        .map(|a| a.new_parameters.as_ref().map(|ps| &ps.sps[..]))
        .collect();
    assert_eq!(firsts, vec![Some(SPS), None, Some(SPS2)]);
    assert_eq!(&aus[2].new_parameters.as_ref().unwrap().pps[..], PPS);
    // The in-band parameter sets stay in the access units.
    assert_eq!(nal_bytes(&aus[2]), vec![SPS2.to_vec(), PPS.to_vec(), idr2]);
    assert_eq!(&d.parameters().unwrap().sps[..], SPS2);
}

#[test]
fn fragmented_sps_is_learned() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let mut pkts = p.fu_a(0, false, SPS, 4);
    pkts.push(p.single(0, false, PPS));
    pkts.push(p.single(0, true, &idr0));
    let mut d = depacketizer();
    let aus = depacketize(&mut d, pkts);
    assert_eq!(&aus[0].new_parameters.as_ref().unwrap().sps[..], SPS);
}

fn sprop(nals: &[&[u8]]) -> String {
    use base64::Engine as _;
    let e = base64::engine::general_purpose::STANDARD;
    nals.iter()
        .map(|n| e.encode(n))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn sprop_parameters_announced_on_first_au() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let d_sprop = sprop(&[SPS, PPS]);
    let mut d = H264Depacketizer::new(DepacketizerOptions::default(), Some(&d_sprop));
    assert_eq!(&d.parameters().unwrap().sps[..], SPS);
    assert!(!d.stats().sprop_rejected);
    // The camera sends no parameter sets in band.
    let aus = depacketize(&mut d, vec![p.single(0, true, &idr0)]);
    let ps = aus[0].new_parameters.as_ref().unwrap();
    assert_eq!((&ps.sps[..], &ps.pps[..]), (SPS, PPS));
    assert_eq!(nal_bytes(&aus[0]), vec![idr0]);
}

#[test]
fn garbage_sprop_falls_back_to_in_band() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let mut d = H264Depacketizer::new(DepacketizerOptions::default(), Some("%%garbage%%,Zm9v!"));
    assert!(d.stats().sprop_rejected);
    assert!(d.parameters().is_none());
    let aus = depacketize(&mut d, p.access_unit(0, &[SPS, PPS, &idr0]));
    let ps = aus[0].new_parameters.as_ref().unwrap();
    assert_eq!((&ps.sps[..], &ps.pps[..]), (SPS, PPS));
}

#[test]
fn oversized_nal_is_an_error_and_stream_continues() {
    let opts = DepacketizerOptions {
        max_nal_bytes: 1000,
        ..Default::default()
    };
    let mut d = H264Depacketizer::new(opts, None);
    let mut p = Packetizer::new(0);
    let (_, mut pkts) = keyframe(&mut p, 0, 300);
    let big = p_slice(5000, 1);
    let big_pkts = p.fu_a(3600, true, &big, 600);
    let n_big = big_pkts.len();
    pkts.extend(big_pkts);
    pkts.extend(p.access_unit(7200, &[&p_slice(300, 2)]));
    let (k_nals, k) = keyframe(&mut p, 10800, 300);
    pkts.extend(k);
    let mut errors = Vec::new();
    let mut aus = Vec::new();
    for pkt in pkts {
        if let Err(e) = d.push(pkt) {
            errors.push(e);
        }
        aus.extend(std::iter::from_fn(|| d.pull()));
    }
    assert_eq!(
        errors,
        vec![DepacketizeError::NalTooLarge {
            len: 1201,
            max: 1000
        }]
    );
    assert!(n_big > 2);
    let ts: Vec<i64> = aus.iter().map(|a| a.timestamp).collect();
    assert_eq!(ts, vec![0, 10800]);
    assert_eq!(nal_bytes(&aus[1]), k_nals);
    assert_eq!(aus[1].loss, 0);
    assert_eq!(d.stats().errors.nal_too_large, 1);
    assert_eq!(d.stats().dropped_access_units, 2);
    // A single-NAL packet over the limit too.
    let mut p = Packetizer::new(0);
    let mut d = H264Depacketizer::new(
        DepacketizerOptions {
            max_nal_bytes: 100,
            ..Default::default()
        },
        None,
    );
    assert_eq!(
        d.push(p.single(0, true, &idr(101, 1))),
        Err(DepacketizeError::NalTooLarge { len: 101, max: 100 })
    );
}

#[test]
fn oversized_access_unit_is_an_error_and_stream_continues() {
    let opts = DepacketizerOptions {
        max_access_unit_bytes: 1000,
        ..Default::default()
    };
    let mut d = H264Depacketizer::new(opts, None);
    let mut p = Packetizer::new(0);
    let s1 = idr(600, 1);
    let s2 = slice(0x65, false, 600, 2);
    let mut pkts = vec![p.single(0, false, &s1), p.single(0, true, &s2)];
    let (k_nals, k) = keyframe(&mut p, 3600, 300);
    pkts.extend(k);
    let mut errors = Vec::new();
    let mut aus = Vec::new();
    for pkt in pkts {
        if let Err(e) = d.push(pkt) {
            errors.push(e);
        }
        aus.extend(std::iter::from_fn(|| d.pull()));
    }
    assert_eq!(
        errors,
        vec![DepacketizeError::AccessUnitTooLarge {
            len: 1200,
            max: 1000
        }]
    );
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), k_nals);
    assert_eq!(d.stats().errors.access_unit_too_large, 1);
}

#[test]
fn too_many_nals_is_an_error() {
    let opts = DepacketizerOptions {
        max_nals_per_access_unit: 3,
        ..Default::default()
    };
    let mut d = H264Depacketizer::new(opts, None);
    let mut p = Packetizer::new(0);
    let pkts = vec![p.stap_a(0, true, &[SEI, SEI, SEI, &idr(50, 1)])];
    let mut errs = Vec::new();
    for pkt in pkts {
        errs.push(d.push(pkt));
    }
    assert_eq!(errs, vec![Err(DepacketizeError::TooManyNals { max: 3 })]);
    assert!(d.pull().is_none());
    assert_eq!(d.stats().dropped_access_units, 1);
}

#[test]
fn too_many_pieces_is_an_error() {
    let opts = DepacketizerOptions {
        max_pieces_per_access_unit: 4,
        ..Default::default()
    };
    let mut d = H264Depacketizer::new(opts, None);
    let mut p = Packetizer::new(0);
    let pkts = p.fu_a(0, true, &idr(50, 1), 5);
    let errs: Vec<_> = pkts
        .into_iter()
        .filter_map(|pkt| d.push(pkt).err())
        .collect();
    assert_eq!(errs, vec![DepacketizeError::TooManyPieces { max: 4 }]);
    assert!(d.pull().is_none());
}

#[test]
fn interleaved_packet_types_are_counted_and_skipped() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let mut d = depacketizer();
    assert_eq!(d.push(p.single(0, false, SPS)), Ok(()));
    for t in [25u8, 26, 27, 29] {
        assert_eq!(
            d.push(p.packet(0, false, &[0x60 | t, 0, 0, 0])),
            Err(DepacketizeError::UnsupportedPacketType { nal_type: t })
        );
    }
    for t in [0u8, 30, 31] {
        assert_eq!(
            d.push(p.packet(0, false, &[t, 1, 2])),
            Err(DepacketizeError::InvalidPacketType { nal_type: t })
        );
    }
    assert_eq!(d.push(p.single(0, false, PPS)), Ok(()));
    assert_eq!(d.push(p.single(0, true, &idr0)), Ok(()));
    let au = d.pull().unwrap();
    assert_eq!(nal_bytes(&au), vec![SPS.to_vec(), PPS.to_vec(), idr0]);
    let e = &d.stats().errors;
    assert_eq!((e.unsupported_packet_type, e.invalid_packet_type), (4, 3));
    assert_eq!(e.get(DepacketizeErrorKind::UnsupportedPacketType), 4);
}

#[test]
fn malformed_stap_a_drops_au() {
    let mut p = Packetizer::new(0);
    let mut d = depacketizer();
    // Second unit claims 100 bytes, 2 are there.
    let bad = [&[24u8, 0, 4][..], PPS, &[0, 100, 0x65, 0x88]].concat();
    assert_eq!(d.push(p.single(0, false, SPS)), Ok(()));
    assert_eq!(
        d.push(p.packet(0, true, &bad)),
        Err(DepacketizeError::MalformedStapA)
    );
    let (k_nals, k) = keyframe(&mut p, 3600, 300);
    let aus = depacketize(&mut d, k);
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), k_nals);
    assert_eq!(d.stats().dropped_access_units, 1);
}

#[test]
fn empty_payload_is_ignored() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let mut d = depacketizer();
    // Keepalives with stray timestamps and markers, before and inside a picture.
    let pkts = vec![
        p.packet(99_999, true, &[]),
        p.single(0, false, &idr0),
        p.packet(12_345, true, &[]),
    ];
    assert!(
        depacketize(&mut d, pkts).is_empty(),
        "an empty packet ends nothing"
    );
    assert_eq!(nal_bytes(&d.flush().unwrap()), vec![idr0]);
    assert_eq!(d.stats().errors.total(), 0);
    assert_eq!(d.stats().dropped_access_units, 0);
}

#[test]
fn flush_drops_open_fu_a_and_lone_parameter_sets() {
    let mut p = Packetizer::new(0);
    let idr0 = idr(300, 1);
    let mut d = depacketizer();
    let pkts = vec![p.fu_a_fragment(0, false, idr0[0], true, false, false, &idr0[1..])];
    assert!(depacketize(&mut d, pkts).is_empty());
    assert!(d.flush().is_none());
    assert_eq!(d.stats().errors.fu_a_interrupted, 1);
    assert_eq!(d.stats().dropped_access_units, 1);
    let _ = depacketize(&mut d, vec![p.single(3600, true, SPS)]);
    assert!(d.flush().is_none());
}

#[test]
fn recycled_access_units_reuse_vectors() {
    let mut p = Packetizer::new(0);
    let mut d = depacketizer();
    let (_, k) = keyframe(&mut p, 0, 3000);
    let first = depacketize(&mut d, k).pop().unwrap();
    assert_eq!(first.pieces.len(), 6, "SPS, PPS, FU-A header + 3 fragments");
    let (pieces_ptr, nals_ptr) = (first.pieces.as_ptr(), first.nals.as_ptr());
    d.recycle(first);
    let p1 = p_slice(300, 1);
    let second = depacketize(&mut d, p.access_unit(3600, &[&p1]))
        .pop()
        .unwrap();
    assert_eq!(nal_bytes(&second), vec![p1]);
    assert_eq!(second.pieces.as_ptr(), pieces_ptr);
    assert_eq!(second.nals.as_ptr(), nals_ptr);
}

#[test]
fn loss_keeps_following_access_units() {
    // The `sequence_gap_drops_au_and_resumes_at_idr` stream under the default policy.
    let mut p = Packetizer::new(65530);
    let (_, k0) = keyframe(&mut p, 0, 3000);
    let p1 = p_slice(3000, 1);
    let p2 = p_slice(300, 2);
    let mut pkts = k0;
    let mut p1_pkts = p.access_unit(3600, &[&p1]);
    p1_pkts.remove(1); // its only slice loses a fragment: nothing whole is left of p1
    pkts.extend(p1_pkts);
    pkts.extend(p.access_unit(7200, &[&p2]));
    let (k3_nals, k3) = keyframe(&mut p, 10800, 300);
    pkts.extend(k3);
    let all = pkts.clone();
    let mut d = depacketizer();
    let aus = depacketize_all(&mut d, pkts);
    let got: Vec<(i64, bool, u32, bool)> = aus
        .iter()
        .map(|a| (a.timestamp, a.keyframe, a.loss, a.damaged))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, true, 0, false),
            (7200, false, 1, false),
            (10800, true, 0, false)
        ]
    );
    assert_eq!(nal_bytes(&aus[1]), vec![p2]);
    assert_eq!(nal_bytes(&aus[2]), k3_nals);
    for au in &aus {
        assert_zero_copy(au, &all);
    }
    let s = d.stats();
    assert_eq!(
        (s.lost_packets, s.dropped_access_units, s.access_units),
        (1, 1, 3)
    );
    assert_eq!(s.errors.total(), 0);
}

#[test]
fn loss_of_the_only_slice_drops_just_that_picture() {
    // The IDR's first fragment is lost: its SPS/PPS arrived whole, its slice did not.
    let mut p = Packetizer::new(0);
    let (_, k0) = keyframe(&mut p, 0, 300);
    let mut pkts = k0;
    let mut k1 = keyframe(&mut p, 3600, 4000).1;
    assert_eq!(k1.len(), 4, "STAP-A + 3 FU-A");
    k1.remove(1);
    pkts.extend(k1);
    let p2 = p_slice(300, 2);
    pkts.extend(p.access_unit(7200, &[&p2]));
    let mut d = depacketizer();
    let aus = depacketize_all(&mut d, pkts);
    let got: Vec<(i64, bool, u32, bool)> = aus
        .iter()
        .map(|a| (a.timestamp, a.keyframe, a.loss, a.damaged))
        .collect();
    assert_eq!(got, vec![(0, true, 0, false), (7200, false, 1, false)]);
    assert_eq!(nal_bytes(&aus[1]), vec![p2]);
    assert_eq!(d.stats().dropped_access_units, 1);
}

#[test]
fn loss_inside_multi_slice_picture_keeps_whole_slices() {
    let mut p = Packetizer::new(100);
    let s1 = idr(300, 1);
    let s2 = slice(0x65, false, 3000, 2);
    let s3 = slice(0x65, false, 300, 3);
    let mut pkts = vec![p.stap_a(0, false, &[SPS, PPS]), p.single(0, false, &s1)];
    // s2 goes out as three FU-A packets; the middle one is lost.
    let mut s2_pkts = p.fu_a(0, false, &s2, 1200);
    assert_eq!(s2_pkts.len(), 3);
    s2_pkts.remove(1);
    pkts.extend(s2_pkts);
    pkts.push(p.single(0, true, &s3));
    // The next picture loses a whole single-NAL slice packet (its second slice).
    let q1 = p_slice(300, 4);
    let q2 = slice(0x41, false, 300, 5);
    let q3 = slice(0x41, false, 300, 6);
    pkts.push(p.single(3600, false, &q1));
    p.lose(1);
    let _ = q2;
    pkts.push(p.single(3600, true, &q3));
    let all = pkts.clone();
    let mut d = depacketizer();
    let aus = depacketize_all(&mut d, pkts);
    assert_eq!(aus.len(), 2);
    assert!(aus[0].keyframe && aus[0].damaged);
    assert_eq!(aus[0].loss, 1);
    assert_eq!(
        nal_bytes(&aus[0]),
        vec![SPS.to_vec(), PPS.to_vec(), s1, s3],
        "only whole NAL units are kept"
    );
    assert!(!aus[1].keyframe && aus[1].damaged);
    assert_eq!(aus[1].loss, 1);
    assert_eq!(nal_bytes(&aus[1]), vec![q1, q3]);
    for au in &aus {
        assert_zero_copy(au, &all);
    }
    let s = d.stats();
    assert_eq!(
        (s.damaged_access_units, s.access_units, s.lost_packets),
        (2, 2, 2)
    );
    assert_eq!(s.errors.total(), 0);
}

#[test]
fn loss_before_the_first_idr_still_waits_for_it() {
    let mut p = Packetizer::new(0);
    let p0 = p_slice(300, 1);
    let mut pkts = p.access_unit(0, &[&p0]);
    p.lose(3);
    let p1 = p_slice(300, 2);
    pkts.extend(p.access_unit(3600, &[&p1]));
    let (k_nals, k) = keyframe(&mut p, 7200, 300);
    pkts.extend(k);
    let mut d = depacketizer();
    let aus = depacketize_all(&mut d, pkts);
    assert_eq!(aus.len(), 1);
    assert_eq!(nal_bytes(&aus[0]), k_nals);
    assert_eq!(aus[0].loss, 3);
}

#[test]
fn reordered_and_duplicated_packets_give_the_source_access_units() {
    let mut p = Packetizer::new(65000); // wraps on the way
    let mut want = Vec::new();
    let mut pkts = Vec::new();
    for i in 0..40u32 {
        let ts = i * 3600;
        let nals = if i % 10 == 0 {
            vec![SPS.to_vec(), PPS.to_vec(), idr(5000, i as u8)]
        } else {
            // 3 or 4 packets per picture: ten packets span under 200 ms of RTP time.
            vec![p_slice(3000 + (i as usize * 97) % 2000, i as u8)]
        };
        let refs: Vec<&[u8]> = nals.iter().map(Vec::as_slice).collect();
        pkts.extend(p.access_unit(ts, &refs));
        want.push(nals);
    }
    let sent = pkts.clone();
    // Deterministic mess: every 7th packet is held back by up to 10 packets, every 23rd sent
    // twice (once right away, once a few packets later).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut messy: Vec<RtpPacket> = Vec::new();
    let mut delayed: Vec<(usize, RtpPacket)> = Vec::new();
    for (i, pkt) in pkts.into_iter().enumerate() {
        if i % 7 == 3 {
            delayed.push((i + 1 + rnd(10) as usize, pkt));
            continue;
        }
        if i % 23 == 5 {
            delayed.push((i + 1 + rnd(5) as usize, pkt.clone()));
        }
        messy.push(pkt);
        let (due, keep): (Vec<_>, Vec<_>) = delayed.drain(..).partition(|(at, _)| *at <= i);
        delayed = keep;
        messy.extend(due.into_iter().map(|(_, p)| p));
    }
    messy.extend(delayed.into_iter().map(|(_, p)| p));
    assert!(messy.len() > sent.len());
    let mut d = depacketizer();
    let aus = depacketize_all(&mut d, messy);
    let got: Vec<Vec<Vec<u8>>> = aus.iter().map(nal_bytes).collect();
    assert_eq!(got.len(), want.len(), "{:?}", d.stats());
    assert!(got == want, "every access unit as sent");
    assert!(
        aus.iter().all(|a| a.loss == 0 && !a.damaged),
        "{:?}",
        d.stats()
    );
    for au in &aus {
        assert_zero_copy(au, &sent);
    }
    let s = d.stats();
    assert_eq!(s.lost_packets, 0);
    assert_eq!(s.late_packets, 0);
    assert!(s.reordered_packets > 10, "{s:?}");
    assert!(s.duplicate_packets > 5, "{s:?}");
}

//! RFC 7798 packet types and camera quirks, from hand-made packets.

use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::rtp::packet::RtpPacket;

const VPS: &[u8] = &[0x40, 0x01, 0x0c, 0x01, 0xff, 0xff];
const SPS: &[u8] = &[0x42, 0x01, 0x01, 0x01, 0x60];
const SPS2: &[u8] = &[0x42, 0x01, 0x01, 0x02, 0x70];
const PPS: &[u8] = &[0x44, 0x01, 0xc0, 0x73];
const AUD: &[u8] = &[0x46, 0x01, 0x50];
const PREFIX_SEI: &[u8] = &[0x4e, 0x01, 0x05, 0x01, 0xaa, 0x80];
const SUFFIX_SEI: &[u8] = &[0x50, 0x01, 0x84, 0x01, 0x80];

/// A slice NAL unit of `nal_type` (first_slice_segment_in_pic_flag as given), `len` bytes.
fn slice(nal_type: u8, first: bool, len: usize, fill: u8) -> Vec<u8> {
    let mut v = vec![nal_type << 1, 0x01, if first { 0x80 | 0x2f } else { 0x2f }];
    v.resize(len.max(3), fill);
    v
}

fn idr(len: usize) -> Vec<u8> {
    slice(nal::IDR_W_RADL, true, len, 0x11)
}

fn trail(len: usize) -> Vec<u8> {
    slice(nal::TRAIL_R, true, len, 0x22)
}

fn pkt(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> RtpPacket {
    let mut b = BytesMut::with_capacity(12 + payload.len());
    b.put_u8(0x80);
    b.put_u8(if marker { 0x80 | 96 } else { 96 });
    b.put_u16(seq);
    b.put_u32(ts);
    b.put_u32(0x1234_5678);
    b.put_slice(payload);
    RtpPacket::parse(b.freeze()).expect("valid RTP")
}

fn ap(units: &[&[u8]]) -> Vec<u8> {
    let mut v = vec![nal::AP << 1, 0x01];
    for u in units {
        v.extend_from_slice(&(u.len() as u16).to_be_bytes());
        v.extend_from_slice(u);
    }
    v
}

/// FU packets for `nal_unit`, `chunk` payload bytes each.
fn fus(nal_unit: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let t = nal::nal_type(nal_unit[0]);
    let body = &nal_unit[2..];
    let parts: Vec<&[u8]> = body.chunks(chunk).collect();
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut fu_header = t;
            if i == 0 {
                fu_header |= 0x80;
            }
            if i + 1 == parts.len() {
                fu_header |= 0x40;
            }
            let mut v = vec![
                (nal_unit[0] & 0x81) | (nal::FU << 1),
                nal_unit[1],
                fu_header,
            ];
            v.extend_from_slice(p);
            v
        })
        .collect()
}

fn new_depack() -> H265Depacketizer {
    H265Depacketizer::new(H265DepacketizerOptions::default(), &H265Fmtp::default())
}

/// Feeds `(ts, marker, payload)` packets with consecutive sequence numbers from `seq0`;
/// returns the access units and the errors.
fn run(
    d: &mut H265Depacketizer,
    seq0: u16,
    pkts: &[(u32, bool, Vec<u8>)],
) -> (Vec<H265Frame>, Vec<H265DepacketizeError>) {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, (ts, m, p)) in pkts.iter().enumerate() {
        if let Err(e) = d.push(pkt(seq0.wrapping_add(i as u16), *ts, *m, p)) {
            errs.push(e);
        }
        while let Some(f) = d.pull() {
            out.push(f);
        }
    }
    (out, errs)
}

/// The NAL units of an access unit, each reassembled.
fn nals(au: &AccessUnit) -> Vec<Vec<u8>> {
    au.nals.iter().map(|n| au.nal_pieces(n).concat()).collect()
}

fn keyframe_packets(ts: u32) -> Vec<(u32, bool, Vec<u8>)> {
    vec![
        (ts, false, VPS.to_vec()),
        (ts, false, SPS.to_vec()),
        (ts, false, PPS.to_vec()),
        (ts, true, idr(40)),
    ]
}

#[test]
fn single_nal_units_form_access_unit() {
    let mut d = new_depack();
    let mut p = keyframe_packets(1000);
    p.push((4600, true, trail(30)));
    let (out, errs) = run(&mut d, 10, &p);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(out.len(), 2);
    assert_eq!(
        nals(&out[0].au),
        vec![VPS.to_vec(), SPS.to_vec(), PPS.to_vec(), idr(40)]
    );
    assert!(out[0].au.keyframe);
    assert_eq!(out[0].au.timestamp, 1000);
    // H.265 NalRef::header is the first header byte.
    assert_eq!(nal::nal_type(out[0].au.nals[3].header), nal::IDR_W_RADL);
    assert!(!out[1].au.keyframe);
    assert_eq!(out[1].au.timestamp, 4600);
    // Length-prefixed form for the fMP4 writer.
    let mut avc = Vec::new();
    out[1].au.write_avc(&mut avc);
    assert_eq!(&avc[..4], &30u32.to_be_bytes());
    assert_eq!(&avc[4..], &trail(30)[..]);
    assert_eq!(d.stats().access_units, 2);
}

#[test]
fn aggregation_packet_splits_units() {
    let mut d = new_depack();
    let p = vec![(3000, false, ap(&[VPS, SPS, PPS])), (3000, true, idr(50))];
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(out.len(), 1);
    assert_eq!(
        nals(&out[0].au),
        vec![VPS.to_vec(), SPS.to_vec(), PPS.to_vec(), idr(50)]
    );
    let params = out[0].new_parameters.as_ref().expect("announced");
    assert_eq!(&params.vps[..], VPS);
    assert_eq!(&params.sps[..], SPS);
    assert_eq!(&params.pps[..], PPS);
}

#[test]
fn malformed_aggregation_packet_is_an_error() {
    let mut d = new_depack();
    // Second size runs past the end.
    let mut bad = ap(&[VPS]);
    bad.extend_from_slice(&[0x00, 0x40, 0x42, 0x01]);
    let mut p = vec![(1, true, bad)];
    // Size 1 (shorter than a NAL header), and an AP with no unit at all.
    p.push((2, true, vec![0x60, 0x01, 0x00, 0x01, 0x42]));
    p.push((3, true, vec![0x60, 0x01]));
    let (out, errs) = run(&mut d, 0, &p);
    assert!(out.is_empty());
    assert_eq!(errs, vec![H265DepacketizeError::MalformedAggregation; 3]);
    // The stream recovers at the next IRAP.
    let (out, errs) = run(&mut d, 3, &keyframe_packets(9000));
    assert!(errs.is_empty());
    assert_eq!(out.len(), 1);
}

#[test]
fn fragmentation_unit_reassembles_zero_copy() {
    let mut d = new_depack();
    let big = idr(3000);
    let mut p = vec![(0, false, ap(&[VPS, SPS, PPS]))];
    let frags = fus(&big, 1000);
    assert_eq!(frags.len(), 3);
    let n = frags.len();
    for (i, f) in frags.into_iter().enumerate() {
        p.push((0, i + 1 == n, f));
    }
    // Keep the packets to compare pointers.
    let packets: Vec<RtpPacket> = p
        .iter()
        .enumerate()
        .map(|(i, (ts, m, pl))| pkt(i as u16, *ts, *m, pl))
        .collect();
    let payload_ranges: Vec<(usize, usize)> = packets
        .iter()
        .map(|p| (p.payload.as_ptr() as usize, p.payload.len()))
        .collect();
    for p in packets {
        d.push(p).unwrap();
    }
    let f = d.pull().expect("access unit");
    assert_eq!(nals(&f.au)[3], big);
    // Every piece but the rebuilt first header byte points into a packet payload.
    let idr_ref = &f.au.nals[3];
    let pieces = f.au.nal_pieces(idr_ref);
    assert_eq!(pieces.len(), 2 + 3);
    for piece in &pieces[1..] {
        let ptr = piece.as_ptr() as usize;
        assert!(
            payload_ranges
                .iter()
                .any(|&(s, l)| ptr >= s && ptr + piece.len() <= s + l),
            "piece not in a payload"
        );
    }
    assert_eq!(idr_ref.len as usize, big.len());
}

#[test]
fn fu_with_start_and_end_in_one_packet() {
    let mut d = new_depack();
    let small = idr(20);
    let mut one = fus(&small, 100);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0][2] & 0xc0, 0xc0, "S and E both set");
    let p = vec![(0, false, ap(&[VPS, SPS, PPS])), (0, true, one.remove(0))];
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(nals(&out[0].au)[3], small);
    assert_eq!(d.stats().single_packet_fus, 1);
}

#[test]
fn fu_empty_fragments_are_dropped() {
    let mut d = new_depack();
    let big = idr(200);
    let mut frags = fus(&big, 100);
    // An empty middle fragment, and an empty S+E FU (nothing but headers).
    let empty_middle = vec![frags[0][0], frags[0][1], nal::IDR_W_RADL];
    let empty_whole = vec![frags[0][0], frags[0][1], 0xc0 | nal::IDR_W_RADL];
    let last = frags.pop().unwrap();
    let first = frags.pop().unwrap();
    let p = vec![
        (0, false, ap(&[VPS, SPS, PPS])),
        (0, false, empty_whole),
        (0, false, first),
        (0, false, empty_middle),
        (0, true, last),
    ];
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(out.len(), 1);
    assert_eq!(
        nals(&out[0].au),
        vec![VPS.to_vec(), SPS.to_vec(), PPS.to_vec(), big]
    );
    assert_eq!(d.stats().empty_fu_fragments, 2);
    // No empty piece is stored.
    assert!(out[0].au.pieces.iter().all(|p| !p.is_empty()));
}

#[test]
fn fu_without_start_is_dropped() {
    let mut d = new_depack();
    let (out, _) = run(&mut d, 0, &keyframe_packets(0));
    assert_eq!(out.len(), 1);
    let frags = fus(&trail(300), 100);
    // Middle and end fragments of a picture whose start was never sent (no sequence gap).
    let p = vec![
        (3600, false, frags[1].clone()),
        (3600, true, frags[2].clone()),
        (7200, true, trail(10)),
    ];
    let (out, errs) = run(&mut d, 4, &p);
    assert_eq!(errs, vec![H265DepacketizeError::FuWithoutStart]);
    // The damaged picture is dropped and so is the next one (waiting for an IRAP).
    assert!(out.is_empty());
    assert!(d.stats().dropped_access_units >= 1);
}

#[test]
fn fu_interrupted_is_dropped() {
    let mut d = new_depack();
    let frags = fus(&idr(300), 100);
    let p = vec![
        (0, false, ap(&[VPS, SPS, PPS])),
        (0, false, frags[0].clone()),
        (0, false, frags[1].clone()),
        // The end fragment never comes; a single NAL unit arrives instead.
        (0, true, SUFFIX_SEI.to_vec()),
    ];
    let (out, errs) = run(&mut d, 0, &p);
    assert_eq!(errs, vec![H265DepacketizeError::FuInterrupted]);
    assert!(out.is_empty());
    // A clean IRAP afterwards is emitted.
    let (out, errs) = run(&mut d, 4, &keyframe_packets(3600));
    assert!(errs.is_empty());
    assert_eq!(out.len(), 1);
}

#[test]
fn fu_type_change_keeps_first_type() {
    let mut d = new_depack();
    let big = idr(200);
    let mut frags = fus(&big, 100);
    // Tiandy-style: the end fragment names another type.
    frags[1][2] = 0x40 | nal::TRAIL_R;
    let p = vec![
        (0, false, ap(&[VPS, SPS, PPS])),
        (0, false, frags[0].clone()),
        (0, true, frags[1].clone()),
    ];
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(nals(&out[0].au)[3], big);
    assert!(out[0].au.keyframe);
}

#[test]
fn paci_packets_are_refused() {
    let mut d = new_depack();
    let mut p = keyframe_packets(0);
    // PACI: PayloadHdr type 50, then its fields and a payload.
    p.push((
        3600,
        true,
        vec![nal::PACI << 1, 0x01, 0x00, 0x00, 0x02, 0x01, 0x80],
    ));
    p.push((7200, true, trail(20)));
    let (out, errs) = run(&mut d, 0, &p);
    assert_eq!(errs, vec![H265DepacketizeError::PaciUnsupported]);
    assert_eq!(d.stats().paci_packets, 1);
    // Only the IRAP: the PACI picture is dropped, then the wait for the next IRAP.
    assert_eq!(out.len(), 1);
}

#[test]
fn donl_stream_is_refused() {
    for fmtp in [
        "sprop-max-don-diff=2",
        "sprop-depack-buf-nalus=1",
        "tx-mode=MRST",
    ] {
        let f = H265Fmtp::parse(fmtp);
        assert!(f.has_donl(), "{fmtp}");
        let mut d = H265Depacketizer::new(H265DepacketizerOptions::default(), &f);
        let (out, errs) = run(&mut d, 0, &keyframe_packets(0));
        assert!(out.is_empty());
        assert_eq!(errs, vec![H265DepacketizeError::DonlUnsupported; 4]);
        assert_eq!(d.stats().donl_packets, 4);
    }
    assert!(!H265Fmtp::parse("sprop-max-don-diff=0;tx-mode=SRST").has_donl());
}

#[test]
fn sprop_parameters_announced_on_first_au() {
    use base64::Engine as _;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let fmtp = format!(
        "profile-id=1;sprop-vps={};sprop-sps={};sprop-pps={}",
        b64(VPS),
        b64(SPS),
        b64(PPS)
    );
    let f = H265Fmtp::parse(&fmtp);
    let mut d = H265Depacketizer::new(H265DepacketizerOptions::default(), &f);
    assert_eq!(d.parameters().unwrap().sps, Bytes::from_static(SPS));
    // IDR without in-band parameter sets.
    let (out, errs) = run(&mut d, 0, &[(0, true, idr(30)), (3600, true, trail(10))]);
    assert!(errs.is_empty());
    assert_eq!(out.len(), 2);
    let p = out[0].new_parameters.as_ref().expect("first AU announces");
    assert_eq!((&p.vps[..], &p.sps[..], &p.pps[..]), (VPS, SPS, PPS));
    assert!(out[1].new_parameters.is_none());
}

#[test]
fn in_band_parameter_change_is_announced() {
    let mut d = new_depack();
    let mut p = keyframe_packets(0);
    p.push((3600, true, trail(10)));
    // Same parameter sets again: no announcement.
    p.extend(keyframe_packets(7200));
    // New SPS (resolution change).
    p.push((10800, false, ap(&[VPS, SPS2, PPS])));
    p.push((10800, true, idr(40)));
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty());
    assert_eq!(out.len(), 4);
    assert!(out[0].new_parameters.is_some());
    assert!(out[1].new_parameters.is_none());
    assert!(out[2].new_parameters.is_none());
    assert_eq!(
        &out[3].new_parameters.as_ref().unwrap().sps[..],
        SPS2,
        "changed SPS announced"
    );
    // In-band parameter sets stay in the access unit.
    assert_eq!(nals(&out[3].au)[1], SPS2);
}

#[test]
fn cra_is_a_keyframe() {
    for t in [
        nal::BLA_W_LP,
        nal::BLA_W_RADL,
        nal::BLA_N_LP,
        nal::IDR_W_RADL,
        nal::IDR_N_LP,
        nal::CRA_NUT,
        22,
        23,
    ] {
        let mut d = new_depack();
        let p = vec![
            (0, false, ap(&[VPS, SPS, PPS])),
            (0, true, slice(t, true, 20, 0x33)),
        ];
        let (out, errs) = run(&mut d, 0, &p);
        assert!(errs.is_empty());
        assert_eq!(out.len(), 1, "type {t}");
        assert!(out[0].au.keyframe, "type {t} is IRAP");
    }
}

#[test]
fn stream_starts_at_first_irap() {
    let mut d = new_depack();
    let mut p = vec![(0, true, trail(10)), (3600, true, trail(10))];
    p.extend(keyframe_packets(7200));
    let (out, _) = run(&mut d, 0, &p);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].au.timestamp, 7200);
    assert_eq!(d.stats().dropped_access_units, 2);
}

#[test]
fn marker_ends_access_unit() {
    let mut d = new_depack();
    let (out, _) = run(&mut d, 0, &keyframe_packets(0));
    // Emitted as soon as the marked packet arrives, not at the next timestamp.
    assert_eq!(out.len(), 1);
}

#[test]
fn marker_missing_ends_au_on_timestamp_change() {
    let mut d = new_depack();
    let p = vec![
        (0, false, ap(&[VPS, SPS, PPS])),
        (0, false, idr(40)),
        (3600, false, trail(20)),
        (7200, false, trail(20)),
    ];
    let (out, _) = run(&mut d, 0, &p);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].au.timestamp, 0);
    assert_eq!(out[1].au.timestamp, 3600);
    let last = d.flush().expect("flushed");
    assert_eq!(last.au.timestamp, 7200);
}

#[test]
fn first_slice_flag_and_aud_split_access_units() {
    let mut d = new_depack();
    // No marker bits, same timestamps (a broken camera): the bitstream rules decide.
    let p = vec![
        (0, false, AUD.to_vec()),
        (0, false, ap(&[VPS, SPS, PPS])),
        (0, false, idr(40)),
        // Second slice segment of the same picture (first_slice_segment_in_pic_flag 0).
        (0, false, slice(nal::IDR_W_RADL, false, 30, 0x44)),
        (0, false, SUFFIX_SEI.to_vec()),
        // Next picture: its first slice.
        (0, false, trail(20)),
        // Next picture begins with an AUD, then a prefix SEI.
        (0, false, AUD.to_vec()),
        (0, false, PREFIX_SEI.to_vec()),
        (0, false, trail(20)),
        // A prefix SEI alone also begins the next picture.
        (0, false, PREFIX_SEI.to_vec()),
        (0, true, trail(20)),
    ];
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty());
    assert_eq!(out.len(), 4);
    assert_eq!(
        out[0].au.nals.len(),
        7,
        "AUD VPS SPS PPS slice slice suffix-SEI"
    );
    assert_eq!(nals(&out[1].au), vec![trail(20)]);
    assert_eq!(
        nals(&out[2].au),
        vec![AUD.to_vec(), PREFIX_SEI.to_vec(), trail(20)]
    );
    assert_eq!(nals(&out[3].au), vec![PREFIX_SEI.to_vec(), trail(20)]);
}

#[test]
fn marker_on_parameter_sets_does_not_end_au() {
    let mut d = new_depack();
    let p = vec![
        (0, true, VPS.to_vec()),
        (0, true, SPS.to_vec()),
        (0, true, PPS.to_vec()),
        (0, true, PREFIX_SEI.to_vec()),
        (0, true, idr(40)),
    ];
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].au.nals.len(), 5);
}

#[test]
fn parameter_sets_with_own_timestamp_join_next_picture() {
    let mut d = new_depack();
    let p = vec![(100, true, ap(&[VPS, SPS, PPS])), (3700, true, idr(40))];
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].au.timestamp, 3700);
    assert_eq!(out[0].au.nals.len(), 4);
}

#[test]
fn h264_payload_is_a_codec_mismatch() {
    let mut d = new_depack();
    // H.264 SPS, PPS, IDR, STAP-A, FU-A as an "H265/90000" camera sends them.
    let h264: [&[u8]; 5] = [
        &[0x67, 0x42, 0xc0, 0x1e],
        &[0x68, 0xce, 0x3c, 0x80],
        &[0x65, 0x88, 0x84, 0x00],
        &[0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1e],
        &[0x7c, 0x85, 0x88, 0x84],
    ];
    let p: Vec<_> = h264.iter().map(|b| (0, true, b.to_vec())).collect();
    let (out, errs) = run(&mut d, 0, &p);
    assert!(out.is_empty());
    assert_eq!(
        errs,
        vec![
            H265DepacketizeError::LooksLikeH264 { h264_nal_type: 7 },
            H265DepacketizeError::LooksLikeH264 { h264_nal_type: 8 },
            H265DepacketizeError::LooksLikeH264 { h264_nal_type: 5 },
            H265DepacketizeError::LooksLikeH264 { h264_nal_type: 24 },
            H265DepacketizeError::LooksLikeH264 { h264_nal_type: 28 },
        ]
    );
    assert_eq!(d.stats().codec_mismatch_packets, 5);
    // Real H.265 headers never read as H.264 here.
    for h in [
        VPS,
        SPS,
        PPS,
        AUD,
        PREFIX_SEI,
        SUFFIX_SEI,
        &idr(4),
        &trail(4),
    ] {
        assert_eq!(looks_like_h264(h), None, "{h:02x?}");
    }
}

fn skip_to_keyframe() -> H265Depacketizer {
    let opts = H265DepacketizerOptions {
        loss_policy: LossPolicy::SkipToKeyframe,
        ..Default::default()
    };
    H265Depacketizer::new(opts, &H265Fmtp::default())
}

/// Feeds `p` with consecutive sequence numbers, skipping the indices in `lose`.
fn run_losing(
    d: &mut H265Depacketizer,
    p: &[(u32, bool, Vec<u8>)],
    lose: &[usize],
) -> Vec<H265Frame> {
    let mut out = Vec::new();
    for (i, (ts, m, pl)) in p.iter().enumerate() {
        if lose.contains(&i) {
            continue;
        }
        let _ = d.push(pkt(i as u16, *ts, *m, pl));
        while let Some(f) = d.pull() {
            out.push(f);
        }
    }
    out
}

#[test]
fn loss_keeps_following_access_units() {
    let mut d = new_depack();
    let frags = fus(&trail(300), 100);
    let mut p = keyframe_packets(0);
    p.push((3600, false, frags[0].clone()));
    p.push((3600, false, frags[1].clone()));
    p.push((3600, true, frags[2].clone()));
    p.push((7200, true, trail(20)));
    // Lose the middle fragment: the single-slice picture has no whole slice left and goes;
    // the next picture is kept (the decoder conceals), carrying the loss.
    let out = run_losing(&mut d, &p, &[5]);
    let ts: Vec<i64> = out.iter().map(|f| f.au.timestamp).collect();
    assert_eq!(ts, vec![0, 7200]);
    assert_eq!(out[1].au.loss, 1);
    assert!(!out[1].au.damaged, "the picture after the gap is whole");
    assert_eq!(d.stats().dropped_access_units, 1);
}

#[test]
fn loss_inside_multi_slice_picture_keeps_whole_slices() {
    let mut d = new_depack();
    let second = slice(nal::IDR_W_RADL, false, 300, 0x66);
    let frags = fus(&second, 100);
    let mut p = vec![(0, false, ap(&[VPS, SPS, PPS])), (0, false, idr(40))];
    p.push((0, false, frags[0].clone()));
    p.push((0, false, frags[1].clone()));
    p.push((0, true, frags[2].clone()));
    p.push((3600, true, trail(20)));
    let out = run_losing(&mut d, &p, &[3]);
    assert_eq!(out.len(), 2);
    assert!(out[0].au.damaged);
    assert!(out[0].au.keyframe, "an IRAP slice is left");
    assert_eq!(
        nals(&out[0].au),
        vec![VPS.to_vec(), SPS.to_vec(), PPS.to_vec(), idr(40)],
        "the cut NAL unit is removed entirely"
    );
    assert_eq!(out[0].au.loss, 1);
    assert_eq!(d.stats().damaged_access_units, 1);
    assert!(!out[1].au.damaged);
}

#[test]
fn loss_drops_until_next_irap() {
    let mut d = skip_to_keyframe();
    let frags = fus(&trail(300), 100);
    let mut p = keyframe_packets(0);
    p.push((3600, false, frags[0].clone()));
    p.push((3600, false, frags[1].clone()));
    p.push((3600, true, frags[2].clone()));
    p.push((7200, true, trail(20)));
    p.extend(keyframe_packets(10800));
    // Drop the middle fragment (sequence number 5).
    let mut out = Vec::new();
    for (i, (ts, m, pl)) in p.iter().enumerate() {
        if i == 5 {
            continue;
        }
        let _ = d.push(pkt(i as u16, *ts, *m, pl));
        while let Some(f) = d.pull() {
            out.push(f);
        }
    }
    let ts: Vec<i64> = out.iter().map(|f| f.au.timestamp).collect();
    assert_eq!(
        ts,
        vec![0, 10800],
        "damaged picture and its dependents dropped"
    );
    assert_eq!(out[1].au.loss, 1, "loss counted on the next access unit");
    assert_eq!(d.stats().lost_packets, 1);
    assert_eq!(d.stats().dropped_access_units, 2);
}

#[test]
fn loss_of_marker_packet_keeps_clean_irap_after_it() {
    let mut p = keyframe_packets(0);
    p.push((3600, false, trail(20)));
    p.push((3600, true, slice(nal::TRAIL_R, false, 20, 0x55)));
    p.extend(keyframe_packets(7200));
    // Lose the last (marked) packet of the P picture.
    let out = run_losing(&mut skip_to_keyframe(), &p, &[5]);
    let ts: Vec<i64> = out.iter().map(|f| f.au.timestamp).collect();
    assert_eq!(ts, vec![0, 7200]);
    assert_eq!(out[1].au.loss, 1);
    // Keep: the P picture's first slice is kept, flagged.
    let out = run_losing(&mut new_depack(), &p, &[5]);
    let ts: Vec<i64> = out.iter().map(|f| f.au.timestamp).collect();
    assert_eq!(ts, vec![0, 3600, 7200]);
    assert!(out[1].au.damaged);
    assert!(!out[2].au.damaged);
}

#[test]
fn joining_mid_picture_drops_it() {
    let mut d = new_depack();
    let frags = fus(&idr(300), 100);
    // We join at the second fragment of an IRAP: it must not come out cut short.
    let mut p = vec![(0, false, frags[1].clone()), (0, true, frags[2].clone())];
    p.extend(keyframe_packets(3600));
    let (out, errs) = run(&mut d, 0, &p);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].au.timestamp, 3600);
}

#[test]
fn oversized_nal_is_an_error() {
    let opts = H265DepacketizerOptions {
        max_nal_bytes: 150,
        ..Default::default()
    };
    let mut d = H265Depacketizer::new(opts, &H265Fmtp::default());
    let frags = fus(&idr(400), 100);
    let mut p = vec![(0, false, ap(&[VPS, SPS, PPS]))];
    let n = frags.len();
    for (i, f) in frags.into_iter().enumerate() {
        p.push((0, i + 1 == n, f));
    }
    p.push((3600, true, idr(200)));
    let (out, errs) = run(&mut d, 0, &p);
    assert!(out.is_empty());
    assert_eq!(
        errs,
        vec![
            H265DepacketizeError::NalTooLarge { len: 202, max: 150 },
            H265DepacketizeError::NalTooLarge { len: 200, max: 150 }
        ]
    );
    let (out, _) = run(&mut d, 10, &keyframe_packets(7200));
    assert_eq!(out.len(), 1, "the stream continues");
}

#[test]
fn invalid_packet_headers_are_errors() {
    let mut d = new_depack();
    // Once the stream has proven to be H.265, bad headers are plain errors (before that,
    // some of these would read as H.264: `h264_payload_is_a_codec_mismatch`).
    let (out, _) = run(&mut d, 0, &keyframe_packets(0));
    assert_eq!(out.len(), 1);
    let (_, errs) = run(
        &mut d,
        4,
        &[
            (0, true, vec![0x42]),
            (0, true, vec![0xc2, 0x01, 0x00]),
            (0, true, vec![0x42, 0x00, 0x00]),
            (0, true, vec![51 << 1, 0x01, 0x00]),
            (0, true, vec![nal::FU << 1, 0x01]),
        ],
    );
    assert_eq!(
        errs,
        vec![
            H265DepacketizeError::Truncated,
            H265DepacketizeError::InvalidHeader(0xc201),
            H265DepacketizeError::InvalidHeader(0x4200),
            H265DepacketizeError::InvalidPacketType(51),
            H265DepacketizeError::Truncated,
        ]
    );
}

#[test]
fn sprop_lists_are_comma_split_and_start_codes_stripped() {
    use base64::Engine as _;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let with_start = [&[0, 0, 0, 1][..], SPS].concat();
    let short_start = [&[0, 0, 1][..], SPS2].concat();
    let fmtp = format!(
        " Sprop-VPS = {} ; sprop-sps={},{};;sprop-pps={}",
        b64(VPS).trim_end_matches('='),
        b64(&with_start),
        b64(&short_start),
        b64(PPS)
    );
    let f = H265Fmtp::parse(&fmtp);
    assert_eq!(f.vps, vec![Bytes::from_static(VPS)]);
    assert_eq!(
        f.sps,
        vec![Bytes::from_static(SPS), Bytes::from_static(SPS2)]
    );
    assert_eq!(f.pps, vec![Bytes::from_static(PPS)]);
    assert_eq!(f.rejected_entries, 0);
}

#[test]
fn sprop_garbage_entries_are_skipped() {
    use base64::Engine as _;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    // Not base64; a PPS under sprop-sps; an H.264 SPS.
    let fmtp = format!(
        "sprop-sps=!!!,{},{},{}",
        b64(PPS),
        b64(&[0x67, 0x42, 0xc0, 0x1e]),
        b64(SPS)
    );
    let f = H265Fmtp::parse(&fmtp);
    assert_eq!(f.sps, vec![Bytes::from_static(SPS)]);
    assert_eq!(f.rejected_entries, 3);
    let d = H265Depacketizer::new(H265DepacketizerOptions::default(), &f);
    assert_eq!(d.stats().sprop_rejected_entries, 3);
    // Without VPS and PPS nothing is complete yet.
    assert!(d.parameters().is_none());
}

/// retina's real Dahua DESCRIBE responses (located through `cargo metadata`): the H.265
/// fmtp gives the VPS/SPS/PPS that `crate::h265` parses to 704x480 and
/// `hvc1.1.6.L90.B0`; the AAC fmtp gives 48 kHz mono AAC-LC with 13/3/3 AU headers.
#[test]
fn dahua_sdp_fixtures() {
    let Some(dir) = retina_testdata() else {
        eprintln!("SKIPPED: retina's source not found through cargo metadata");
        return;
    };
    let h265_sdp = std::fs::read_to_string(dir.join("dahua_describe_h265_pcma.txt")).unwrap();
    let fmtp = fmtp_of(&h265_sdp, "98");
    let f = H265Fmtp::parse(&fmtp);
    assert_eq!((f.vps.len(), f.sps.len(), f.pps.len()), (1, 1, 1));
    assert_eq!(f.rejected_entries, 0);
    assert!(!f.has_donl());
    assert_eq!(&f.vps[0][..], crate::h265::tests::DAHUA_VPS);
    let c = crate::h265::HevcDecoderConfig::from_parameter_sets(&f.vps[0], &f.sps[0], &f.pps[0])
        .unwrap();
    assert_eq!((c.sps_info().width(), c.sps_info().height()), (704, 480));
    assert_eq!(c.codec_string(), "hvc1.1.6.L90.B0");
    // The audio m-line is static PT 8 (PCMA) with no fmtp.
    assert!(h265_sdp.contains("m=audio 0 RTP/AVP 8"));
    assert_eq!(
        crate::rtp::g711::G711Codec::from_payload_type(8),
        Some(crate::rtp::g711::G711Codec::Pcma)
    );

    let aac_sdp = std::fs::read_to_string(dir.join("dahua_describe_h264_aac_onvif.txt")).unwrap();
    let fmtp = fmtp_of(&aac_sdp, "97");
    let p = crate::rtp::aac::AacFmtp::parse(&fmtp).unwrap();
    assert_eq!(
        (p.size_length, p.index_length, p.index_delta_length),
        (13, 3, 3)
    );
    assert_eq!(p.config.sample_rate, 48_000);
    assert_eq!(p.config.channels, 1);
    assert_eq!(p.config.object_type, 2, "AAC LC (config=1188)");
    assert_eq!(p.config.bytes(), &[0x11, 0x88]);
}

fn fmtp_of(sdp: &str, pt: &str) -> String {
    let prefix = format!("a=fmtp:{pt} ");
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no fmtp for PT {pt}"))
}

fn retina_testdata() -> Option<std::path::PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let manifest = v["packages"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "retina")?["manifest_path"]
        .as_str()?
        .to_owned();
    let dir = std::path::Path::new(&manifest)
        .parent()?
        .join("src/client/testdata");
    dir.is_dir().then_some(dir)
}

/// Handed-back access units give their vectors to the next ones: once warm, access units
/// arrive in recycled allocations instead of new ones.
#[test]
fn recycled_access_units_reuse_vectors() {
    let mut d = new_depack();
    let mut seq = 0u16;
    let mut push = |d: &mut H265Depacketizer, ts: u32, marker: bool, payload: &[u8]| {
        d.push(pkt(seq, ts, marker, payload)).expect("push");
        seq = seq.wrapping_add(1);
    };
    for p in [VPS, SPS, PPS] {
        push(&mut d, 0, false, p);
    }
    push(&mut d, 0, true, &idr(50));
    let first = d.pull().expect("IDR");
    assert!(first.au.keyframe);
    d.recycle(first.au);
    for i in 1..10u32 {
        for part in fus(&trail(300), 100) {
            let last = part[2] & 0x40 != 0;
            push(&mut d, i * 3600, last, &part);
        }
        let f = d.pull().expect("picture");
        assert_eq!(f.au.nals.len(), 1);
        assert_eq!(f.au.pieces.len(), 5, "two header bytes + 3 fragments");
        // The picture being built next already sits in a recycled (warm) allocation.
        if i > 2 {
            assert!(d.cur.pieces.capacity() >= 5, "picture {i}");
            assert!(d.cur.nals.capacity() >= 1, "picture {i}");
        }
        d.recycle(f.au);
    }
    assert!(d.spare.len() <= MAX_SPARE);
}

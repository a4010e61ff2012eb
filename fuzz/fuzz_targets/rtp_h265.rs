//! RTP packets → `H265Depacketizer` (RFC 7798) with small limits.
//!
//! Input: one mode byte, then packets `len:u8 ctl:u8 ts:u8` and `len` payload bytes with a
//! synthesized RTP header: ctl bit 0 = marker, bits 1-2 = sequence step (0 = repeat, 2-3 =
//! gap), bit 3 = jump the timestamp backwards; `ts` × 1500 ticks is the step. Mode bit 0
//! seeds the depacketizer with the Dahua camera's sprop-vps/sps/pps; mode bit 1 with a
//! `sprop-max-don-diff` (every packet refused); the mode byte also goes to `H265Fmtp::parse`
//! as the start of an fmtp string built from the rest of the input.
//!
//! Invariants on every emitted access unit: each NAL's pieces are in range, tile `pieces` in
//! order, add up to its declared length and start with its first header byte; a NAL unit is
//! at least its 2-byte header; limits hold; keyframe ⇔ an IRAP NAL unit is present;
//! announced parameter sets are a VPS, SPS and PPS.
#![no_main]

use bytes::{BufMut, Bytes, BytesMut};
use camwire::h265::nal;
use camwire::rtp::RtpPacket;
use camwire::rtp::h265::{H265Depacketizer, H265DepacketizerOptions, H265Fmtp, H265Frame};
use libfuzzer_sys::fuzz_target;

const DAHUA: &str = "profile-id=1;sprop-sps=QgEBAWAAAAMAsAAAAwAAAwBaoAWCAeFja5JFL83BQYFBAAADAAEAAAMADKE=;sprop-pps=RAHA8saNA7NA;sprop-vps=QAEMAf//AWAAAAMAsAAAAwAAAwBarAwAAAMABAAAAwAyqA==";

fn opts() -> H265DepacketizerOptions {
    H265DepacketizerOptions {
        max_nal_bytes: 2048,
        max_access_unit_bytes: 4096,
        max_nals_per_access_unit: 8,
        max_pieces_per_access_unit: 32,
        ..H265DepacketizerOptions::default()
    }
}

fn check(f: &H265Frame, o: &H265DepacketizerOptions) {
    let au = &f.au;
    assert!(au.nals.len() <= o.max_nals_per_access_unit, "too many NALs");
    assert!(
        au.pieces.len() <= o.max_pieces_per_access_unit,
        "too many pieces"
    );
    assert!(!au.nals.is_empty(), "empty access unit");
    let mut next = 0u32;
    let mut total = 0usize;
    let mut irap = false;
    for n in &au.nals {
        assert_eq!(n.pieces.start, next, "NAL piece ranges must tile");
        assert!(
            n.pieces.end as usize <= au.pieces.len(),
            "pieces out of range"
        );
        let pieces = au.nal_pieces(n);
        let sum: usize = pieces.iter().map(Bytes::len).sum();
        assert_eq!(sum, n.len as usize, "pieces do not add up");
        assert!(sum >= 2, "NAL shorter than its header");
        assert_eq!(
            pieces[0].first(),
            Some(&n.header),
            "first byte is not the header"
        );
        assert!(sum <= o.max_nal_bytes, "NAL over the limit");
        irap |= nal::is_irap(nal::nal_type(n.header));
        total += sum;
        next = n.pieces.end;
    }
    assert_eq!(next as usize, au.pieces.len(), "stray pieces");
    assert!(total <= o.max_access_unit_bytes, "AU over the limit");
    assert_eq!(au.keyframe, irap, "keyframe flag");
    if let Some(p) = &f.new_parameters {
        assert_eq!(nal::nal_type(p.vps[0]), nal::VPS);
        assert_eq!(nal::nal_type(p.sps[0]), nal::SPS);
        assert_eq!(nal::nal_type(p.pps[0]), nal::PPS);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let mut fmtp_text = String::new();
    if mode & 1 != 0 {
        fmtp_text.push_str(DAHUA);
    }
    if mode & 2 != 0 {
        fmtp_text.push_str(";sprop-max-don-diff=1");
    }
    if mode & 4 != 0 {
        fmtp_text.push(';');
        fmtp_text.push_str(&String::from_utf8_lossy(rest));
    }
    let fmtp = H265Fmtp::parse(&fmtp_text);
    let o = opts();
    let mut d = H265Depacketizer::new(o.clone(), &fmtp);
    let mut seq: u16 = 0;
    let mut ts: u32 = 0;
    while rest.len() >= 3 {
        let (len, ctl, step) = (usize::from(rest[0]), rest[1], u32::from(rest[2]));
        rest = &rest[3..];
        let len = len.min(rest.len());
        let (payload, tail) = rest.split_at(len);
        rest = tail;
        seq = seq.wrapping_add(u16::from((ctl >> 1) & 3));
        ts = if ctl & 8 != 0 {
            ts.wrapping_sub(step * 1500)
        } else {
            ts.wrapping_add(step * 1500)
        };
        let mut b = BytesMut::with_capacity(12 + payload.len());
        b.put_u8(0x80);
        b.put_u8(if ctl & 1 != 0 { 0x80 | 96 } else { 96 });
        b.put_u16(seq);
        b.put_u32(ts);
        b.put_u32(1);
        b.put_slice(payload);
        let Ok(pkt) = RtpPacket::parse(b.freeze()) else {
            continue;
        };
        let _ = d.push(pkt);
        while let Some(f) = d.pull() {
            check(&f, &o);
        }
    }
    while let Some(f) = d.flush() {
        check(&f, &o);
    }
});

//! RTP packets → `RtpPacket::parse` → `H264Depacketizer` with small limits.
//!
//! Input: one mode byte, then packets. Mode bit 0 set: each packet is a 2-byte big-endian
//! length and that many raw bytes, parsed with `RtpPacket::parse` (covers the header parser).
//! Mode bit 0 clear: each packet is `len:u8 ctl:u8 ts:u8` and `len` payload bytes with a
//! synthesized header (the fuzzer reaches deep depacketizer states faster when it does not
//! have to invent valid headers): ctl bit 0 = marker, bits 1-2 = sequence step (0 = repeat,
//! 2-3 = gap), bit 3 = jump the timestamp backwards; `ts` × 1500 ticks is the step.
//! Mode bit 1 seeds the depacketizer with the sim clip's sprop-parameter-sets.
//!
//! Invariants on every emitted access unit: each NAL's pieces are in range, add up to its
//! declared length and start with its header byte; the piece ranges tile `pieces` in order;
//! the limits hold; `avc_len()` and `write_avc` agree.
#![no_main]

use bytes::Bytes;
use camwire::AccessUnit;
use camwire::rtp::{DepacketizerOptions, H264Depacketizer, RtpPacket};
use libfuzzer_sys::fuzz_target;

const SPROP: &str = "Z0LAHtkAoEf+yA==,aM48gA==";

fn opts() -> DepacketizerOptions {
    DepacketizerOptions {
        max_nal_bytes: 2048,
        max_access_unit_bytes: 4096,
        max_nals_per_access_unit: 8,
        max_pieces_per_access_unit: 32,
        ..DepacketizerOptions::default()
    }
}

fn check(au: &AccessUnit, o: &DepacketizerOptions) {
    assert!(au.nals.len() <= o.max_nals_per_access_unit, "too many NALs");
    assert!(
        au.pieces.len() <= o.max_pieces_per_access_unit,
        "too many pieces"
    );
    let mut next_piece = 0u32;
    let mut total = 0usize;
    for nal in &au.nals {
        assert_eq!(nal.pieces.start, next_piece, "NAL piece ranges must tile");
        assert!(nal.pieces.start < nal.pieces.end, "empty NAL");
        assert!(
            nal.pieces.end as usize <= au.pieces.len(),
            "NAL pieces out of range"
        );
        let pieces = au.nal_pieces(nal);
        let sum: usize = pieces.iter().map(Bytes::len).sum();
        assert_eq!(
            sum, nal.len as usize,
            "pieces do not add up to the NAL length"
        );
        assert_eq!(
            pieces[0].first(),
            Some(&nal.header),
            "first byte is not the header"
        );
        assert!(nal.len as usize <= o.max_nal_bytes, "NAL over the limit");
        total += sum;
        next_piece = nal.pieces.end;
    }
    assert_eq!(
        next_piece as usize,
        au.pieces.len(),
        "pieces outside any NAL"
    );
    assert!(
        total <= o.max_access_unit_bytes,
        "access unit over the limit"
    );
    assert_eq!(total, au.nal_bytes());
    assert_eq!(au.avc_len(), total + 4 * au.nals.len());
    let mut avc = Vec::new();
    au.write_avc(&mut avc);
    assert_eq!(avc.len(), au.avc_len());
}

fn drain(d: &mut H264Depacketizer, o: &DepacketizerOptions) {
    while let Some(au) = d.pull() {
        check(&au, o);
        d.recycle(au);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let o = opts();
    let sprop = (mode & 2 != 0).then_some(SPROP);
    let mut d = H264Depacketizer::new(o.clone(), sprop);
    let (mut seq, mut ts) = (0u16, 0u32);
    let mut packets = 0;
    while !rest.is_empty() && packets < 4096 {
        packets += 1;
        let pkt = if mode & 1 != 0 {
            let Some((len, body)) = rest.split_first_chunk::<2>() else {
                break;
            };
            let len = usize::from(u16::from_be_bytes(*len)).min(body.len());
            let (raw, tail) = body.split_at(len);
            rest = tail;
            match RtpPacket::parse(Bytes::copy_from_slice(raw)) {
                Ok(p) => p,
                Err(_) => continue,
            }
        } else {
            let Some(([len, ctl, step], body)) = rest.split_first_chunk::<3>() else {
                break;
            };
            let len = usize::from(*len).min(body.len());
            let (payload, tail) = body.split_at(len);
            rest = tail;
            seq = seq.wrapping_add(u16::from((ctl >> 1) & 3));
            let delta = u32::from(*step) * 1500;
            ts = if ctl & 8 != 0 {
                ts.wrapping_sub(delta)
            } else {
                ts.wrapping_add(delta)
            };
            RtpPacket {
                sequence_number: seq,
                timestamp: ts,
                marker: ctl & 1 != 0,
                ssrc: 1,
                payload_type: 96,
                payload: Bytes::copy_from_slice(payload),
            }
        };
        let _ = d.push(pkt);
        drain(&mut d, &o);
    }
    while let Some(au) = d.flush() {
        check(&au, &o);
    }
    drain(&mut d, &o);
});

//! RFC 3640 AU headers, the AAC depacketizer, AudioSpecificConfig and the fmtp parser.
//!
//! Input: 4 bytes choose sizelength (1..=16), indexlength/indexdeltalength (0..=3 each) and
//! the CTS/DTS/RAP/stream-state options, the next byte the config (AAC LC at 48/16/8 kHz),
//! then packets `len:u8 ctl:u8` + payload (ctl bit 0 marker, bits 1-2 sequence step, bits
//! 3-5 timestamp step in AUs). The whole input also goes to `AudioSpecificConfig::parse`
//! and, as text, to `AacFmtp::parse`.
//!
//! Invariants: parsed AU headers are at least one and end inside the payload; every frame is
//! non-empty, at most `MAX_AU_BYTES`, and made of slices of the input packets.
#![no_main]

use bytes::{BufMut, BytesMut};
use camwire::rtp::RtpPacket;
use camwire::rtp::aac::{
    AacDepacketizer, AacFmtp, AudioSpecificConfig, MAX_AU_BYTES, esds_body, parse_au_headers,
};
use libfuzzer_sys::fuzz_target;

const CONFIGS: [&str; 3] = ["1188", "1408", "1588"];

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = AudioSpecificConfig::parse(data) {
        let _ = (c.codec_string(), esds_body(&c, 1, 0));
    }
    let _ = AacFmtp::parse(&String::from_utf8_lossy(data));
    if data.len() < 5 {
        return;
    }
    let (opts, mut rest) = data.split_at(5);
    let mut fmtp = format!(
        "mode=AAC-hbr;sizelength={};indexlength={};indexdeltalength={};config={}",
        1 + opts[0] % 16,
        opts[1] % 4,
        (opts[1] >> 2) % 4,
        CONFIGS[usize::from(opts[4]) % 3]
    );
    if opts[2] & 1 != 0 {
        fmtp.push_str(&format!(";ctsdeltalength={}", opts[2] >> 4));
    }
    if opts[2] & 2 != 0 {
        fmtp.push_str(&format!(";dtsdeltalength={}", opts[3] >> 4));
    }
    if opts[2] & 4 != 0 {
        fmtp.push_str(";randomaccessindication=1");
    }
    if opts[2] & 8 != 0 {
        fmtp.push_str(&format!(";streamstateindication={}", opts[3] & 7));
    }
    let fmtp = AacFmtp::parse(&fmtp).expect("generated fmtp is valid");
    if let Ok((headers, start)) = parse_au_headers(&fmtp, rest) {
        assert!(!headers.is_empty());
        assert!(start <= rest.len());
    }
    let clock = fmtp.config.sample_rate;
    let mut d = AacDepacketizer::new(fmtp, clock).expect("depacketizer");
    let (mut seq, mut ts) = (0u16, 0u32);
    while rest.len() >= 2 {
        let (len, ctl) = (usize::from(rest[0]), rest[1]);
        rest = &rest[2..];
        let (payload, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        seq = seq.wrapping_add(u16::from((ctl >> 1) & 3));
        ts = ts.wrapping_add(u32::from((ctl >> 3) & 7) * 1024);
        let mut b = BytesMut::new();
        b.put_u8(0x80);
        b.put_u8(if ctl & 1 != 0 { 0x80 | 97 } else { 97 });
        b.put_u16(seq);
        b.put_u32(ts);
        b.put_u32(1);
        b.put_slice(payload);
        let raw = b.freeze();
        let (lo, hi) = (raw.as_ptr() as usize, raw.as_ptr() as usize + raw.len());
        let Ok(pkt) = RtpPacket::parse(raw.clone()) else {
            continue;
        };
        let _ = d.push(pkt);
        while let Some(f) = d.pull() {
            assert!(!f.is_empty(), "empty AU");
            assert!(f.len() <= MAX_AU_BYTES);
            // Single-piece frames are slices of the packet just pushed.
            if f.pieces.len() == 1 {
                let p = f.pieces[0].as_ptr() as usize;
                assert!(
                    p >= lo && p + f.pieces[0].len() <= hi,
                    "AU not a slice of its packet"
                );
            }
        }
    }
});

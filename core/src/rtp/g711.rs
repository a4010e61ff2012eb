//! G.711 PCMU/PCMA over RTP (RFC 3551 §4.5.14): static payload types 0 (PCMU) and 8 (PCMA),
//! 8 kHz, one byte per sample. A frame is one packet's payload, byte for byte (zero copy);
//! stored as `ulaw`/`alaw` sample entries (readable by ffprobe and GStreamer; browsers need a
//! converted copy).
//!
//! Tests: `pcmu_and_pcma_static_payload_types`, `frames_are_payload_slices`,
//! `loss_leaves_a_hole_and_is_counted`, `stereo_counts_samples_per_channel`,
//! `late_and_empty_packets_are_skipped`.

use std::collections::VecDeque;

use thiserror::Error;

use super::audio::AudioFrame;
use super::packet::RtpPacket;
use super::sequence::{SequenceStatus, SequenceTracker};
use super::timestamp::TimestampExtender;

/// Which G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711Codec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl G711Codec {
    /// The codec of a static payload type (0 PCMU, 8 PCMA), for m-lines without `a=rtpmap`
    /// (Foscam, D-Link).
    pub fn from_payload_type(pt: u8) -> Option<G711Codec> {
        match pt {
            0 => Some(G711Codec::Pcmu),
            8 => Some(G711Codec::Pcma),
            _ => None,
        }
    }

    /// The codec of an `a=rtpmap` encoding name (case-insensitive).
    pub fn from_encoding_name(name: &str) -> Option<G711Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(G711Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(G711Codec::Pcma)
        } else {
            None
        }
    }

    /// The RTP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            G711Codec::Pcmu => "PCMU",
            G711Codec::Pcma => "PCMA",
        }
    }

    /// The ISO-BMFF (QuickTime) sample entry type: `ulaw` or `alaw`.
    pub fn sample_entry_fourcc(self) -> [u8; 4] {
        match self {
            G711Codec::Pcmu => *b"ulaw",
            G711Codec::Pcma => *b"alaw",
        }
    }
}

/// Why a G.711 depacketizer cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum G711Error {
    /// Zero channels or a zero clock rate.
    #[error("invalid G.711 stream: {0}")]
    Invalid(&'static str),
}

/// Counters for one G.711 stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct G711Stats {
    /// Packets given to `push`.
    pub packets: u64,
    /// Packets missing from the sequence.
    pub lost_packets: u64,
    /// Late or duplicate packets, dropped.
    pub late_packets: u64,
    /// Frames handed out.
    pub frames: u64,
    /// Payload bytes handed out.
    pub bytes: u64,
}

/// Turns G.711 RTP packets into [`AudioFrame`]s (one per packet).
#[derive(Debug)]
pub struct G711Depacketizer {
    codec: G711Codec,
    clock_rate: u32,
    channels: u8,
    seq: SequenceTracker,
    ts: TimestampExtender,
    pending_loss: u32,
    ready: VecDeque<AudioFrame>,
    stats: G711Stats,
}

impl G711Depacketizer {
    /// A depacketizer for `codec` at `clock_rate` (8000 for the static payload types; some
    /// DVRs announce `PCMA/48000/1`) with `channels` interleaved channels.
    pub fn new(codec: G711Codec, clock_rate: u32, channels: u8) -> Result<Self, G711Error> {
        if clock_rate == 0 {
            return Err(G711Error::Invalid("clock rate 0"));
        }
        if channels == 0 {
            return Err(G711Error::Invalid("0 channels"));
        }
        Ok(G711Depacketizer {
            codec,
            clock_rate,
            channels,
            seq: SequenceTracker::default(),
            // Audio: log jumps above 10 s of samples.
            ts: TimestampExtender::new(clock_rate.saturating_mul(10)),
            pending_loss: 0,
            ready: VecDeque::new(),
            stats: G711Stats::default(),
        })
    }

    /// The codec.
    pub fn codec(&self) -> G711Codec {
        self.codec
    }

    /// Interleaved channels.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// The clock (= sample) rate.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Counters since construction.
    pub fn stats(&self) -> &G711Stats {
        &self.stats
    }

    /// Takes one packet; its payload becomes one frame. Never fails: loss is a hole in the
    /// timestamps (and counted), late packets are dropped.
    pub fn push(&mut self, pkt: RtpPacket) {
        self.stats.packets += 1;
        match self.seq.observe(pkt.sequence_number) {
            SequenceStatus::InOrder { lost } => {
                self.pending_loss = self.pending_loss.saturating_add(u32::from(lost));
                self.stats.lost_packets += u64::from(lost);
            }
            SequenceStatus::Resync => {
                self.pending_loss = self.pending_loss.saturating_add(1);
                self.stats.lost_packets += 1;
            }
            SequenceStatus::Late | SequenceStatus::Probation => {
                self.stats.late_packets += 1;
                return;
            }
        }
        let timestamp = self.ts.extend(pkt.timestamp);
        if pkt.payload.is_empty() {
            return;
        }
        let samples = (pkt.payload.len() / usize::from(self.channels)) as u32;
        self.stats.frames += 1;
        self.stats.bytes += pkt.payload.len() as u64;
        self.ready.push_back(AudioFrame {
            timestamp,
            samples,
            pieces: vec![pkt.payload],
            loss: std::mem::take(&mut self.pending_loss),
        });
    }

    /// The next frame, if any.
    pub fn pull(&mut self) -> Option<AudioFrame> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;

    fn pkt(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> RtpPacket {
        let mut b = BytesMut::new();
        b.put_u8(0x80);
        b.put_u8(pt);
        b.put_u16(seq);
        b.put_u32(ts);
        b.put_u32(7);
        b.put_slice(payload);
        RtpPacket::parse(b.freeze()).unwrap()
    }

    #[test]
    fn pcmu_and_pcma_static_payload_types() {
        assert_eq!(G711Codec::from_payload_type(0), Some(G711Codec::Pcmu));
        assert_eq!(G711Codec::from_payload_type(8), Some(G711Codec::Pcma));
        assert_eq!(G711Codec::from_payload_type(96), None);
        assert_eq!(G711Codec::from_encoding_name("pcma"), Some(G711Codec::Pcma));
        assert_eq!(G711Codec::from_encoding_name("PCMU"), Some(G711Codec::Pcmu));
        assert_eq!(G711Codec::from_encoding_name("G726-32"), None);
        assert_eq!(&G711Codec::Pcmu.sample_entry_fourcc(), b"ulaw");
        assert_eq!(&G711Codec::Pcma.sample_entry_fourcc(), b"alaw");
        assert!(G711Depacketizer::new(G711Codec::Pcma, 0, 1).is_err());
        assert!(G711Depacketizer::new(G711Codec::Pcma, 8000, 0).is_err());
    }

    #[test]
    fn frames_are_payload_slices() {
        let mut d = G711Depacketizer::new(G711Codec::Pcma, 8000, 1).unwrap();
        let payload: Vec<u8> = (0..160).map(|i| (i * 7) as u8).collect();
        let p = pkt(8, 100, 4_000_000_000, &payload);
        let ptr = p.payload.as_ptr();
        d.push(p);
        d.push(pkt(8, 101, 4_000_000_160, &payload[..80]));
        let f = d.pull().unwrap();
        assert_eq!(f.to_vec(), payload, "bytes exactly as sent");
        assert_eq!(f.pieces[0].as_ptr(), ptr, "zero copy");
        assert_eq!((f.timestamp, f.samples, f.loss), (4_000_000_000, 160, 0));
        let f = d.pull().unwrap();
        assert_eq!((f.timestamp, f.samples), (4_000_000_160, 80));
        assert!(d.pull().is_none());
        assert_eq!(d.stats().bytes, 240);
    }

    #[test]
    fn loss_leaves_a_hole_and_is_counted() {
        let mut d = G711Depacketizer::new(G711Codec::Pcmu, 8000, 1).unwrap();
        d.push(pkt(0, 65534, 0, &[1; 160]));
        // 65535 and 0 lost (wrap).
        d.push(pkt(0, 1, 480, &[2; 160]));
        let a = d.pull().unwrap();
        let b = d.pull().unwrap();
        assert_eq!(
            b.timestamp - a.timestamp,
            480,
            "a 40 ms hole in the timestamps"
        );
        assert_eq!(b.loss, 2);
        assert_eq!(d.stats().lost_packets, 2);
    }

    #[test]
    fn stereo_counts_samples_per_channel() {
        let mut d = G711Depacketizer::new(G711Codec::Pcma, 8000, 2).unwrap();
        d.push(pkt(8, 0, 0, &[0; 320]));
        assert_eq!(d.pull().unwrap().samples, 160);
    }

    #[test]
    fn late_and_empty_packets_are_skipped() {
        let mut d = G711Depacketizer::new(G711Codec::Pcma, 8000, 1).unwrap();
        d.push(pkt(8, 10, 1600, &[1; 160]));
        d.push(pkt(8, 9, 1440, &[1; 160]));
        d.push(pkt(8, 11, 1760, &[]));
        assert!(d.pull().is_some());
        assert!(d.pull().is_none());
        assert_eq!(d.stats().late_packets, 1);
        assert_eq!(d.stats().frames, 1);
    }
}

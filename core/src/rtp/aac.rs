//! AAC over RTP, RFC 3640 `mpeg4-generic` (mode `AAC-hbr`, and the general AU-header syntax):
//! fmtp parsing, the AudioSpecificConfig from `config`, AU headers, several AUs per packet,
//! an AU fragmented over packets, and the `esds` box body for the `mp4a` sample entry.
//!
//! Access units keep the camera's bytes exactly: each is a slice of its packet (or the
//! slices of its fragments), never copied or transcoded.
//!
//! Tests: `fmtp_hbr_parses_case_insensitively`, `fmtp_missing_config_or_sizelength_is_an_error`,
//! `audio_specific_config_fields`, `audio_specific_config_sbr_and_escape`,
//! `one_au_per_packet`, `several_aus_per_packet`, `au_fragmented_across_packets`,
//! `fragment_interrupted_by_loss_is_dropped`, `malformed_au_headers_are_errors`,
//! `interleaving_is_refused`, `esds_body_layout`.

use std::collections::VecDeque;

use bytes::Bytes;
use thiserror::Error;

use super::audio::AudioFrame;
use super::h265::fmtp_pairs;
use super::packet::RtpPacket;
use super::sequence::{SequenceStatus, SequenceTracker};
use super::timestamp::TimestampExtender;

/// What is wrong with an AAC stream description or packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AacError {
    /// A required fmtp parameter is missing (`config`, `sizelength`).
    #[error("mpeg4-generic fmtp lacks {0}")]
    MissingParameter(&'static str),
    /// An fmtp parameter has a value we cannot use.
    #[error("mpeg4-generic fmtp parameter {0} is invalid")]
    InvalidParameter(&'static str),
    /// The `config` AudioSpecificConfig is malformed.
    #[error("invalid AudioSpecificConfig: {0}")]
    InvalidConfig(&'static str),
    /// The AU-header section is shorter than announced or inconsistent with the payload.
    #[error("malformed AU headers")]
    MalformedHeaders,
    /// AU-Index / AU-Index-delta say the AUs are interleaved (not supported).
    #[error("interleaved AAC access units are not supported")]
    Interleaved,
    /// A packet continues a fragmented AU that was not started (or does not match it).
    #[error("AAC fragment without its start")]
    FragmentWithoutStart,
    /// An AU above [`MAX_AU_BYTES`].
    #[error("AAC access unit too large: {0} bytes")]
    TooLarge(usize),
}

/// Largest AU accepted (an AU-size field of 13 bits allows 8191; 16 bits 65535).
pub const MAX_AU_BYTES: usize = 1 << 16;

const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// A parsed AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), with its bytes as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// `audioObjectType` (2 AAC LC, 5 SBR, 29 PS, ...): the `mp4a.40.<n>` of the codec string.
    pub object_type: u8,
    /// Sampling rate of the core coder (the rate of the AUs' 1024/960-sample frames).
    pub sample_rate: u32,
    /// Output sampling rate after SBR (`extensionSamplingFrequency`), for AOT 5/29.
    pub extension_sample_rate: Option<u32>,
    /// `channelConfiguration` (0 = defined in a program config element).
    pub channels: u8,
    /// Samples per frame: 1024, or 960 when `frameLengthFlag` is set.
    pub frame_length: u32,
    bytes: Bytes,
}

/// A tiny MSB-first bit reader over a byte slice.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            let bit = (byte >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | u32::from(bit);
            self.pos += 1;
        }
        Some(v)
    }
}

impl AudioSpecificConfig {
    /// Parses an AudioSpecificConfig; trailing bits (SBR sync extensions etc.) are kept in
    /// [`bytes`](Self::bytes) and otherwise ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, AacError> {
        let mut r = Bits {
            data: bytes,
            pos: 0,
        };
        let short = AacError::InvalidConfig("truncated");
        let object_type = |r: &mut Bits<'_>| -> Option<u8> {
            let t = r.read(5)?;
            Some(if t == 31 { 32 + r.read(6)? } else { t } as u8)
        };
        let rate = |r: &mut Bits<'_>| -> Result<u32, AacError> {
            let idx = r.read(4).ok_or(AacError::InvalidConfig("truncated"))?;
            match idx {
                15 => r.read(24).ok_or(AacError::InvalidConfig("truncated")),
                i => SAMPLE_RATES
                    .get(i as usize)
                    .copied()
                    .ok_or(AacError::InvalidConfig("reserved samplingFrequencyIndex")),
            }
        };
        let aot = object_type(&mut r).ok_or(short.clone())?;
        if aot == 0 {
            return Err(AacError::InvalidConfig("audioObjectType 0"));
        }
        let sample_rate = rate(&mut r)?;
        if sample_rate == 0 {
            return Err(AacError::InvalidConfig("sampling frequency 0"));
        }
        let channels = r.read(4).ok_or(short.clone())? as u8;
        let mut core_aot = aot;
        let mut extension_sample_rate = None;
        if aot == 5 || aot == 29 {
            extension_sample_rate = Some(rate(&mut r)?);
            core_aot = object_type(&mut r).ok_or(short.clone())?;
            if core_aot == 22 {
                r.read(4).ok_or(short.clone())?;
            }
        }
        let mut frame_length = 1024;
        if matches!(core_aot, 1..=4 | 6 | 7 | 17 | 19..=23) && r.read(1).ok_or(short)? == 1 {
            frame_length = 960;
        }
        Ok(AudioSpecificConfig {
            object_type: aot,
            sample_rate,
            extension_sample_rate,
            channels,
            frame_length,
            bytes: Bytes::copy_from_slice(bytes),
        })
    }

    /// The config bytes as given (the DecoderSpecificInfo of `esds`).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// RFC 6381 codec string, `mp4a.40.<audioObjectType>`.
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }
}

/// The `a=fmtp` parameters of an `mpeg4-generic` audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacFmtp {
    /// `mode` (e.g. `AAC-hbr`), as given.
    pub mode: String,
    /// `sizelength`: bits of AU-size.
    pub size_length: u8,
    /// `indexlength`: bits of AU-Index.
    pub index_length: u8,
    /// `indexdeltalength`: bits of AU-Index-delta.
    pub index_delta_length: u8,
    /// `ctsdeltalength`.
    pub cts_delta_length: u8,
    /// `dtsdeltalength`.
    pub dts_delta_length: u8,
    /// `randomaccessindication`.
    pub random_access_indication: bool,
    /// `streamstateindication` (bits).
    pub stream_state_indication: u8,
    /// `auxiliarydatasizelength` (bits).
    pub auxiliary_data_size_length: u8,
    /// The `config` AudioSpecificConfig.
    pub config: AudioSpecificConfig,
}

impl AacFmtp {
    /// Parses an `a=fmtp` value. Keys are case-insensitive, spaces and empty entries are
    /// tolerated (Ubiquiti, Reolink). `config` and `sizelength` are required; `AAC-lbr`
    /// defaults (6/2/2) are not assumed.
    pub fn parse(fmtp: &str) -> Result<AacFmtp, AacError> {
        let mut mode = String::new();
        let mut lengths = [None::<u8>; 6];
        let mut rai = false;
        let mut config = None;
        for (k, v) in fmtp_pairs(fmtp) {
            let k = k.to_ascii_lowercase();
            let num = |name: &'static str, max: u8| -> Result<u8, AacError> {
                v.parse::<u8>()
                    .ok()
                    .filter(|&n| n <= max)
                    .ok_or(AacError::InvalidParameter(name))
            };
            match k.as_str() {
                "mode" => mode = v.to_owned(),
                "sizelength" => lengths[0] = Some(num("sizelength", 16)?),
                "indexlength" => lengths[1] = Some(num("indexlength", 16)?),
                "indexdeltalength" => lengths[2] = Some(num("indexdeltalength", 16)?),
                "ctsdeltalength" => lengths[3] = Some(num("ctsdeltalength", 32)?),
                "dtsdeltalength" => lengths[4] = Some(num("dtsdeltalength", 32)?),
                "streamstateindication" => lengths[5] = Some(num("streamstateindication", 32)?),
                "auxiliarydatasizelength" => {
                    // Kept apart: see below.
                    let n = num("auxiliarydatasizelength", 32)?;
                    if n > 0 {
                        return Err(AacError::InvalidParameter("auxiliarydatasizelength"));
                    }
                }
                "randomaccessindication" => rai = v == "1",
                "config" => {
                    let bytes = hex(v).ok_or(AacError::InvalidParameter("config"))?;
                    config = Some(AudioSpecificConfig::parse(&bytes)?);
                }
                _ => {}
            }
        }
        let config = config.ok_or(AacError::MissingParameter("config"))?;
        let size_length = lengths[0].ok_or(AacError::MissingParameter("sizelength"))?;
        if size_length == 0 {
            return Err(AacError::InvalidParameter("sizelength"));
        }
        Ok(AacFmtp {
            mode,
            size_length,
            index_length: lengths[1].unwrap_or(0),
            index_delta_length: lengths[2].unwrap_or(0),
            cts_delta_length: lengths[3].unwrap_or(0),
            dts_delta_length: lengths[4].unwrap_or(0),
            random_access_indication: rai,
            stream_state_indication: lengths[5].unwrap_or(0),
            auxiliary_data_size_length: 0,
            config,
        })
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() || s.len() & 1 == 1 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One AU header: its size, and whether it is the first of the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuHeader {
    /// AU-size in bytes.
    pub size: usize,
    /// AU-Index (first header) or AU-Index-delta (later ones).
    pub index: u32,
}

/// Parses the AU-header section of a payload: returns the headers and the offset of the
/// first AU byte. Exposed for the fuzz target.
pub fn parse_au_headers(
    fmtp: &AacFmtp,
    payload: &[u8],
) -> Result<(Vec<AuHeader>, usize), AacError> {
    let [hi, lo] = *payload.get(..2).ok_or(AacError::MalformedHeaders)? else {
        return Err(AacError::MalformedHeaders);
    };
    let header_bits = usize::from(u16::from_be_bytes([hi, lo]));
    let header_bytes = header_bits.div_ceil(8);
    let data_start = 2 + header_bytes;
    let section = payload
        .get(2..data_start)
        .ok_or(AacError::MalformedHeaders)?;
    let mut r = Bits {
        data: section,
        pos: 0,
    };
    let mut headers = Vec::new();
    while r.pos < header_bits {
        let first = headers.is_empty();
        let size = r
            .read(usize::from(fmtp.size_length))
            .ok_or(AacError::MalformedHeaders)?;
        let idx_len = if first {
            fmtp.index_length
        } else {
            fmtp.index_delta_length
        };
        let index = r
            .read(usize::from(idx_len))
            .ok_or(AacError::MalformedHeaders)?;
        if fmtp.cts_delta_length > 0 {
            // CTS-flag (absent for the first AU), then CTS-delta.
            if !first && r.read(1).ok_or(AacError::MalformedHeaders)? == 1 {
                r.read(usize::from(fmtp.cts_delta_length))
                    .ok_or(AacError::MalformedHeaders)?;
            }
        }
        if fmtp.dts_delta_length > 0 && r.read(1).ok_or(AacError::MalformedHeaders)? == 1 {
            r.read(usize::from(fmtp.dts_delta_length))
                .ok_or(AacError::MalformedHeaders)?;
        }
        if fmtp.random_access_indication {
            r.read(1).ok_or(AacError::MalformedHeaders)?;
        }
        if fmtp.stream_state_indication > 0 {
            r.read(usize::from(fmtp.stream_state_indication))
                .ok_or(AacError::MalformedHeaders)?;
        }
        if r.pos > header_bits {
            return Err(AacError::MalformedHeaders);
        }
        headers.push(AuHeader {
            size: size as usize,
            index,
        });
        if headers.len() > 512 {
            return Err(AacError::MalformedHeaders);
        }
    }
    if headers.is_empty() {
        return Err(AacError::MalformedHeaders);
    }
    Ok((headers, data_start))
}

/// Counters for one AAC stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AacStats {
    /// Packets given to `push`.
    pub packets: u64,
    /// Packets missing from the sequence.
    pub lost_packets: u64,
    /// Late or duplicate packets, dropped.
    pub late_packets: u64,
    /// AUs handed out.
    pub frames: u64,
    /// Fragmented AUs given up (a fragment lost, or a new AU began).
    pub dropped_fragments: u64,
    /// Packets refused (malformed, interleaved, too large).
    pub errors: u64,
}

#[derive(Debug)]
struct Fragment {
    timestamp: i64,
    size: usize,
    got: usize,
    pieces: Vec<Bytes>,
}

/// Turns RFC 3640 packets into AAC access units ([`AudioFrame`]s, `samples` = frame length).
#[derive(Debug)]
pub struct AacDepacketizer {
    fmtp: AacFmtp,
    clock_rate: u32,
    /// RTP ticks per AU.
    au_ticks: i64,
    seq: SequenceTracker,
    ts: TimestampExtender,
    frag: Option<Fragment>,
    pending_loss: u32,
    ready: VecDeque<AudioFrame>,
    stats: AacStats,
}

impl AacDepacketizer {
    /// A depacketizer for a stream with these fmtp parameters and RTP `clock_rate` (normally
    /// the config's sample rate; AU timestamps step by the frame length in that clock).
    pub fn new(fmtp: AacFmtp, clock_rate: u32) -> Result<Self, AacError> {
        if clock_rate == 0 {
            return Err(AacError::InvalidParameter("clock rate"));
        }
        let au_ticks = i64::from(fmtp.config.frame_length) * i64::from(clock_rate)
            / i64::from(fmtp.config.sample_rate);
        Ok(AacDepacketizer {
            fmtp,
            clock_rate,
            au_ticks,
            seq: SequenceTracker::default(),
            ts: TimestampExtender::new(clock_rate.saturating_mul(10)),
            frag: None,
            pending_loss: 0,
            ready: VecDeque::new(),
            stats: AacStats::default(),
        })
    }

    /// The RTP clock rate.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// The stream's parameters.
    pub fn fmtp(&self) -> &AacFmtp {
        &self.fmtp
    }

    /// Counters since construction.
    pub fn stats(&self) -> &AacStats {
        &self.stats
    }

    /// The next AU, if any.
    pub fn pull(&mut self) -> Option<AudioFrame> {
        self.ready.pop_front()
    }

    /// Takes one packet. An error concerns this packet only (counted in
    /// [`stats`](Self::stats) too).
    pub fn push(&mut self, pkt: RtpPacket) -> Result<(), AacError> {
        self.stats.packets += 1;
        match self.seq.observe(pkt.sequence_number) {
            SequenceStatus::InOrder { lost } => self.note_loss(u32::from(lost)),
            SequenceStatus::Resync => self.note_loss(1),
            SequenceStatus::Late | SequenceStatus::Probation => {
                self.stats.late_packets += 1;
                return Ok(());
            }
        }
        let ts = self.ts.extend(pkt.timestamp);
        if pkt.payload.is_empty() {
            return Ok(());
        }
        let r = self.depacketize(&pkt.payload, ts, pkt.marker);
        if r.is_err() {
            self.stats.errors += 1;
        }
        r
    }

    fn note_loss(&mut self, lost: u32) {
        if lost == 0 {
            return;
        }
        self.stats.lost_packets += u64::from(lost);
        self.pending_loss = self.pending_loss.saturating_add(lost);
        if self.frag.take().is_some() {
            self.stats.dropped_fragments += 1;
        }
    }

    fn depacketize(&mut self, payload: &Bytes, ts: i64, marker: bool) -> Result<(), AacError> {
        let (headers, mut offset) = parse_au_headers(&self.fmtp, payload)?;
        if headers[0].index != 0 || headers[1..].iter().any(|h| h.index != 0) {
            return Err(AacError::Interleaved);
        }
        let data_len = payload.len() - offset;
        // A fragment: one AU header whose AU is larger than this packet's data.
        if headers.len() == 1 && headers[0].size > data_len {
            let size = headers[0].size;
            if size > MAX_AU_BYTES {
                return Err(AacError::TooLarge(size));
            }
            let piece = payload.slice(offset..);
            match &mut self.frag {
                Some(f) if f.timestamp == ts && f.size == size => {
                    f.got += piece.len();
                    if !piece.is_empty() {
                        f.pieces.push(piece);
                    }
                }
                Some(_) => {
                    self.frag = None;
                    self.stats.dropped_fragments += 1;
                    return Err(AacError::FragmentWithoutStart);
                }
                None => {
                    if !self.fragment_may_start(ts) {
                        return Err(AacError::FragmentWithoutStart);
                    }
                    self.frag = Some(Fragment {
                        timestamp: ts,
                        size,
                        got: piece.len(),
                        pieces: if piece.is_empty() {
                            Vec::new()
                        } else {
                            vec![piece]
                        },
                    });
                }
            }
            let done = self.frag.as_ref().is_some_and(|f| f.got >= f.size);
            if done || marker {
                let f = self.frag.take().expect("fragment");
                if f.got != f.size {
                    self.stats.dropped_fragments += 1;
                    return Err(AacError::MalformedHeaders);
                }
                self.emit(f.timestamp, f.pieces);
            }
            return Ok(());
        }
        // The last fragment of an AU: same header, the remaining bytes.
        if let Some(f) = &mut self.frag {
            if headers.len() == 1 && f.timestamp == ts && f.size == headers[0].size {
                let remaining = f.size - f.got;
                if data_len < remaining {
                    return Err(AacError::MalformedHeaders);
                }
                let piece = payload.slice(offset..offset + remaining);
                let mut f = self.frag.take().expect("fragment");
                f.pieces.push(piece);
                self.emit(f.timestamp, f.pieces);
                return Ok(());
            }
            self.frag = None;
            self.stats.dropped_fragments += 1;
        }
        // Whole AUs: check the sizes before emitting anything.
        let total: usize = headers.iter().map(|h| h.size).sum();
        if total > data_len {
            return Err(AacError::MalformedHeaders);
        }
        for (k, h) in headers.iter().enumerate() {
            if h.size == 0 {
                // An empty AU carries nothing to store; its slot in time stays a hole.
                continue;
            }
            let piece = payload.slice(offset..offset + h.size);
            offset += h.size;
            self.emit(ts + k as i64 * self.au_ticks, vec![piece]);
        }
        Ok(())
    }

    /// A new fragmented AU may start unless the packet before it was lost (then this may be
    /// a middle fragment). Joining the stream counts as a clean start only for the first
    /// packet ever.
    fn fragment_may_start(&self, _ts: i64) -> bool {
        self.pending_loss == 0 || self.stats.frames == 0
    }

    fn emit(&mut self, timestamp: i64, pieces: Vec<Bytes>) {
        self.stats.frames += 1;
        self.ready.push_back(AudioFrame {
            timestamp,
            samples: self.fmtp.config.frame_length,
            pieces,
            loss: std::mem::take(&mut self.pending_loss),
        });
    }
}

/// The body of an `esds` box (version/flags included, box header not) for an `mp4a` sample
/// entry: ES_Descriptor { ES_ID, DecoderConfigDescriptor { objectTypeIndication 0x40
/// (MPEG-4 audio), streamType 5 (audio), bufferSizeDB, bitrates, DecoderSpecificInfo { the
/// AudioSpecificConfig } }, SLConfigDescriptor { predefined 2 } }.
pub fn esds_body(config: &AudioSpecificConfig, es_id: u16, avg_bitrate: u32) -> Vec<u8> {
    fn descriptor(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
        out.push(tag);
        // Expandable size, 7 bits per byte, minimal.
        let len = body.len() as u32;
        let mut groups = Vec::with_capacity(4);
        let mut l = len;
        loop {
            groups.push((l & 0x7f) as u8);
            l >>= 7;
            if l == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().enumerate().rev() {
            out.push(if i > 0 { g | 0x80 } else { *g });
        }
        out.extend_from_slice(body);
    }
    let mut dsi = Vec::new();
    descriptor(&mut dsi, 0x05, config.bytes());
    let mut dcd = vec![0x40, (0x05 << 2) | 1];
    // bufferSizeDB (24 bits): 0 = unknown.
    dcd.extend_from_slice(&[0, 0, 0]);
    dcd.extend_from_slice(&avg_bitrate.to_be_bytes()); // maxBitrate
    dcd.extend_from_slice(&avg_bitrate.to_be_bytes()); // avgBitrate
    dcd.extend_from_slice(&dsi);
    let mut es = Vec::new();
    es.extend_from_slice(&es_id.to_be_bytes());
    es.push(0); // no stream dependence, URL or OCR stream; priority 0
    descriptor(&mut es, 0x04, &dcd);
    descriptor(&mut es, 0x06, &[0x02]);
    let mut out = vec![0, 0, 0, 0];
    descriptor(&mut out, 0x03, &es);
    out
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;

    /// GStreamer rtpmp4gpay's fmtp (avenc_aac, 16 kHz mono, 5-byte ASC with SBR sync ext).
    const GST_FMTP: &str = "streamtype=5;profile-level-id=2;mode=AAC-hbr;config=140856e500;sizelength=13;indexlength=3;indexdeltalength=3";

    fn pkt(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> RtpPacket {
        let mut b = BytesMut::new();
        b.put_u8(0x80);
        b.put_u8(if marker { 0x80 | 97 } else { 97 });
        b.put_u16(seq);
        b.put_u32(ts);
        b.put_u32(9);
        b.put_slice(payload);
        RtpPacket::parse(b.freeze()).unwrap()
    }

    /// An AAC-hbr payload: 13/3 AU headers for `sizes` (index 0), then `data`.
    fn hbr(sizes: &[usize], data: &[u8]) -> Vec<u8> {
        let bits = sizes.len() * 16;
        let mut v = (bits as u16).to_be_bytes().to_vec();
        for &s in sizes {
            v.extend_from_slice(&((s as u16) << 3).to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn depack(fmtp: &str, clock: u32) -> AacDepacketizer {
        AacDepacketizer::new(AacFmtp::parse(fmtp).unwrap(), clock).unwrap()
    }

    fn au(len: usize, fill: u8) -> Vec<u8> {
        (0..len).map(|i| fill.wrapping_add(i as u8)).collect()
    }

    #[test]
    fn fmtp_hbr_parses_case_insensitively() {
        let f = AacFmtp::parse(GST_FMTP).unwrap();
        assert_eq!(
            (f.size_length, f.index_length, f.index_delta_length),
            (13, 3, 3)
        );
        assert_eq!(f.mode, "AAC-hbr");
        assert_eq!(f.config.sample_rate, 16000);
        assert_eq!(f.config.channels, 1);
        assert_eq!(f.config.object_type, 2);
        assert_eq!(f.config.bytes(), &[0x14, 0x08, 0x56, 0xe5, 0x00]);
        // Ubiquiti-style: mixed case, spaces; Reolink: trailing empty entries.
        let f = AacFmtp::parse(
            "profile-level-id=1; mode=AAC-hbr; SizeLength=13; IndexLength=3; IndexDeltaLength=3; config=1408; ; profile=1;",
        )
        .unwrap();
        assert_eq!(f.size_length, 13);
        assert_eq!(f.config.sample_rate, 16000);
        assert_eq!(f.config.codec_string(), "mp4a.40.2");
    }

    #[test]
    fn fmtp_missing_config_or_sizelength_is_an_error() {
        assert_eq!(
            AacFmtp::parse("mode=AAC-hbr;sizelength=13"),
            Err(AacError::MissingParameter("config"))
        );
        assert_eq!(
            AacFmtp::parse("mode=AAC-hbr;config=1408"),
            Err(AacError::MissingParameter("sizelength"))
        );
        assert_eq!(
            AacFmtp::parse("sizelength=13;config=14g8"),
            Err(AacError::InvalidParameter("config"))
        );
        assert_eq!(
            AacFmtp::parse("sizelength=99;config=1408"),
            Err(AacError::InvalidParameter("sizelength"))
        );
    }

    #[test]
    fn audio_specific_config_fields() {
        // 1188: AAC LC, 48 kHz, mono (Dahua).
        let c = AudioSpecificConfig::parse(&[0x11, 0x88]).unwrap();
        assert_eq!(
            (c.object_type, c.sample_rate, c.channels, c.frame_length),
            (2, 48000, 1, 1024)
        );
        // 1210: AAC LC, 44.1 kHz, stereo.
        let c = AudioSpecificConfig::parse(&[0x12, 0x10]).unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 44100, 2));
        // frameLengthFlag: 960-sample frames (1594: LC, 8 kHz? idx 11, 2 ch, flag set).
        let c = AudioSpecificConfig::parse(&[0x15, 0x94]).unwrap();
        assert_eq!((c.sample_rate, c.channels, c.frame_length), (8000, 2, 960));
        assert!(AudioSpecificConfig::parse(&[]).is_err());
        assert!(AudioSpecificConfig::parse(&[0x00, 0x00]).is_err());
        // Reserved sampling frequency index 13.
        assert!(AudioSpecificConfig::parse(&[0x16, 0x88]).is_err());
    }

    #[test]
    fn audio_specific_config_sbr_and_escape() {
        // HE-AAC (AOT 5): core 24 kHz (idx 6), mono, extension 48 kHz (idx 3), core AOT 2.
        // 00101 0110 0001 0011 00010 0 -> 0x2b 0x09 0x88 0x00
        let c = AudioSpecificConfig::parse(&[0x2b, 0x09, 0x88, 0x00]).unwrap();
        assert_eq!(c.object_type, 5);
        assert_eq!(
            (c.sample_rate, c.extension_sample_rate),
            (24000, Some(48000))
        );
        assert_eq!(c.codec_string(), "mp4a.40.5");
        // Explicit 24-bit frequency (index 15): 00010 1111 <24 bits 0x001f40 = 8000> 0001 0
        let c = AudioSpecificConfig::parse(&[0x17, 0x80, 0x0f, 0xa0, 0x08]).unwrap();
        assert_eq!((c.sample_rate, c.channels), (8000, 1));
    }

    #[test]
    fn one_au_per_packet() {
        let mut d = depack(GST_FMTP, 16000);
        let a = au(200, 1);
        let p = pkt(1, 5000, true, &hbr(&[200], &a));
        let base = p.payload.as_ptr();
        d.push(p).unwrap();
        d.push(pkt(2, 6024, true, &hbr(&[100], &au(100, 2))))
            .unwrap();
        let f = d.pull().unwrap();
        assert_eq!(f.to_vec(), a);
        assert_eq!(f.pieces[0].as_ptr(), base.wrapping_add(4), "zero copy");
        assert_eq!((f.timestamp, f.samples), (5000, 1024));
        assert_eq!(d.pull().unwrap().timestamp, 6024);
    }

    #[test]
    fn several_aus_per_packet() {
        let mut d = depack(GST_FMTP, 16000);
        let (a, b, c) = (au(50, 1), au(70, 2), au(30, 3));
        let data = [a.clone(), b.clone(), c.clone()].concat();
        d.push(pkt(1, 1000, true, &hbr(&[50, 70, 30], &data)))
            .unwrap();
        let frames: Vec<AudioFrame> = std::iter::from_fn(|| d.pull()).collect();
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames.iter().map(AudioFrame::to_vec).collect::<Vec<_>>(),
            vec![a, b, c]
        );
        assert_eq!(
            frames.iter().map(|f| f.timestamp).collect::<Vec<_>>(),
            vec![1000, 2024, 3048]
        );
    }

    #[test]
    fn au_fragmented_across_packets() {
        let mut d = depack(GST_FMTP, 16000);
        let big = au(3000, 9);
        // Each packet repeats the AU header with the full size; M on the last.
        d.push(pkt(1, 7000, false, &hbr(&[3000], &big[..1200])))
            .unwrap();
        assert!(d.pull().is_none());
        d.push(pkt(2, 7000, false, &hbr(&[3000], &big[1200..2400])))
            .unwrap();
        assert!(d.pull().is_none());
        d.push(pkt(3, 7000, true, &hbr(&[3000], &big[2400..])))
            .unwrap();
        let f = d.pull().unwrap();
        assert_eq!(f.pieces.len(), 3);
        assert_eq!(f.to_vec(), big);
        assert_eq!(f.timestamp, 7000);
    }

    #[test]
    fn fragment_interrupted_by_loss_is_dropped() {
        let mut d = depack(GST_FMTP, 16000);
        let big = au(3000, 9);
        d.push(pkt(1, 1000, true, &hbr(&[10], &au(10, 0)))).unwrap();
        d.push(pkt(2, 2024, false, &hbr(&[3000], &big[..1200])))
            .unwrap();
        // Packet 3 lost; packet 4 is the last fragment.
        let r = d.push(pkt(4, 2024, true, &hbr(&[3000], &big[2400..])));
        assert_eq!(r, Err(AacError::FragmentWithoutStart));
        d.push(pkt(5, 3048, true, &hbr(&[20], &au(20, 1)))).unwrap();
        let frames: Vec<AudioFrame> = std::iter::from_fn(|| d.pull()).collect();
        assert_eq!(
            frames.iter().map(|f| f.timestamp).collect::<Vec<_>>(),
            vec![1000, 3048]
        );
        assert_eq!(frames[1].loss, 1, "a hole in the audio, counted");
        assert_eq!(d.stats().dropped_fragments, 1);
    }

    #[test]
    fn malformed_au_headers_are_errors() {
        let mut d = depack(GST_FMTP, 16000);
        // Header section longer than the payload.
        assert_eq!(
            d.push(pkt(1, 0, true, &[0x00, 0x40, 0x00])),
            Err(AacError::MalformedHeaders)
        );
        // Zero header bits.
        assert_eq!(
            d.push(pkt(2, 0, true, &[0x00, 0x00, 0x11])),
            Err(AacError::MalformedHeaders)
        );
        // Two AUs whose sizes exceed the data.
        assert_eq!(
            d.push(pkt(3, 0, true, &hbr(&[10, 10], &[0; 15]))),
            Err(AacError::MalformedHeaders)
        );
        // A header length that is not a whole number of AU headers.
        assert_eq!(
            d.push(pkt(4, 0, true, &[0x00, 0x0c, 0x00, 0x10, 0xaa, 0xbb])),
            Err(AacError::MalformedHeaders)
        );
        assert!(d.pull().is_none());
        assert_eq!(d.stats().errors, 4);
    }

    #[test]
    fn interleaving_is_refused() {
        let mut d = depack(GST_FMTP, 16000);
        // AU-Index 1 in the first header.
        let mut p = hbr(&[4], &[1, 2, 3, 4]);
        p[3] |= 0x01;
        assert_eq!(d.push(pkt(1, 0, true, &p)), Err(AacError::Interleaved));
    }

    #[test]
    fn esds_body_layout() {
        let c = AudioSpecificConfig::parse(&[0x11, 0x88]).unwrap();
        let e = esds_body(&c, 2, 64000);
        let expected: Vec<u8> = [
            &[0, 0, 0, 0][..],
            &[0x03, 25, 0x00, 0x02, 0x00],
            &[0x04, 17, 0x40, 0x15, 0, 0, 0],
            &64000u32.to_be_bytes(),
            &64000u32.to_be_bytes(),
            &[0x05, 2, 0x11, 0x88],
            &[0x06, 1, 0x02],
        ]
        .concat();
        assert_eq!(e, expected);
    }
}

//! The unit of work between an audio depacketizer and the muxer: one audio frame (an AAC
//! access unit, or one RTP packet of G.711 samples), kept as the camera sent it.
//!
//! Like [`crate::frame::AccessUnit`] it owns no payload memory: each piece is a slice of a
//! received packet (several only for an AAC access unit fragmented over packets), so no audio
//! byte is copied or transcoded between the socket and the file (evidence).

use bytes::Bytes;

/// One audio frame, referenced in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AudioFrame {
    /// RTP timestamp of the frame's first sample, extended to 64 bits, in the stream's clock
    /// rate.
    pub timestamp: i64,
    /// Samples per channel in the frame (its duration in clock ticks when the clock rate is
    /// the sample rate): 1024 (or 960) for AAC, the payload length for mono G.711.
    pub samples: u32,
    /// The frame's bytes as sent, in order (usually one piece).
    pub pieces: Vec<Bytes>,
    /// RTP packets known lost since the previous frame.
    pub loss: u32,
}

impl AudioFrame {
    /// Total bytes of the frame.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    /// True when the frame holds no byte.
    pub fn is_empty(&self) -> bool {
        self.pieces.iter().all(Bytes::is_empty)
    }

    /// The frame as one contiguous buffer (a copy; for consumers that need one).
    pub fn to_vec(&self) -> Vec<u8> {
        self.pieces.concat()
    }
}

/// Why an audio stream is not recorded: its codec is named, and nothing fails (the video
/// goes on). The stream is listed as skipped by `probe` and in stream info.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioSkip {
    /// A codec camwire does not record (MP4A-LATM, G.726, L16, ...).
    #[error("audio codec {0} is not recorded")]
    Unsupported(String),
    /// A supported codec whose description is unusable (e.g. AAC without `config`).
    #[error("{codec} audio cannot be recorded: {reason}")]
    Invalid {
        /// The codec named in the SDP.
        codec: String,
        /// What is wrong.
        reason: String,
    },
}

/// Any audio packet a depacketizer refused (the packet is dropped; the stream goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// An AAC packet was malformed.
    #[error(transparent)]
    Aac(#[from] super::aac::AacError),
}

/// One audio stream's depacketizer, whichever codec: what the recorder, the live stream and
/// fetch run per audio track. Built from the SDP media section
/// ([`AudioDepacketizer::from_section`]); it knows the fMP4 sample entry to write
/// ([`AudioDepacketizer::config`]).
#[derive(Debug)]
pub enum AudioDepacketizer {
    /// RFC 3640 AAC.
    Aac(super::aac::AacDepacketizer),
    /// G.711 µ-law or A-law.
    G711(super::g711::G711Depacketizer),
}

impl AudioDepacketizer {
    /// The depacketizer for an `m=audio` section, or why the stream is skipped.
    pub fn from_section(section: &crate::rtsp::sdp::MediaSection) -> Result<Self, AudioSkip> {
        use super::aac::{AacDepacketizer, AacFmtp};
        use super::g711::{G711Codec, G711Depacketizer};
        let name = if section.encoding.is_empty() {
            format!("payload type {}", section.payload_type)
        } else {
            section.encoding.clone()
        };
        let invalid = |reason: String| AudioSkip::Invalid {
            codec: name.clone(),
            reason,
        };
        let channels = section.channels.unwrap_or(1);
        // A section without `a=rtpmap` has its encoding filled from the static payload type
        // by the SDP parser (0 PCMU, 8 PCMA: Foscam, D-Link).
        if let Some(codec) = G711Codec::from_encoding_name(&section.encoding) {
            let rate = if section.clock_rate == 0 {
                8000
            } else {
                section.clock_rate
            };
            let ch = u8::try_from(channels).map_err(|_| invalid("too many channels".into()))?;
            return G711Depacketizer::new(codec, rate, ch)
                .map(AudioDepacketizer::G711)
                .map_err(|e| invalid(e.to_string()));
        }
        if section.encoding.eq_ignore_ascii_case("MPEG4-GENERIC") {
            let fmtp = section
                .fmtp
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";");
            let fmtp = AacFmtp::parse(&fmtp).map_err(|e| invalid(e.to_string()))?;
            let rate = if section.clock_rate == 0 {
                fmtp.config.sample_rate
            } else {
                section.clock_rate
            };
            return AacDepacketizer::new(fmtp, rate)
                .map(AudioDepacketizer::Aac)
                .map_err(|e| invalid(e.to_string()));
        }
        Err(AudioSkip::Unsupported(name))
    }

    /// Takes one RTP packet of the stream. An error concerns this packet only.
    pub fn push(&mut self, pkt: super::RtpPacket) -> Result<(), AudioError> {
        match self {
            AudioDepacketizer::Aac(d) => Ok(d.push(pkt)?),
            AudioDepacketizer::G711(d) => {
                d.push(pkt);
                Ok(())
            }
        }
    }

    /// The next complete frame, if any.
    pub fn pull(&mut self) -> Option<AudioFrame> {
        match self {
            AudioDepacketizer::Aac(d) => d.pull(),
            AudioDepacketizer::G711(d) => d.pull(),
        }
    }

    /// The RTP clock rate (the track's timescale).
    pub fn clock_rate(&self) -> u32 {
        match self {
            AudioDepacketizer::Aac(d) => d.clock_rate(),
            AudioDepacketizer::G711(d) => d.clock_rate(),
        }
    }

    /// The track description for the fMP4 sample entry.
    pub fn config(&self) -> crate::fmp4::AudioConfig {
        use crate::fmp4::{AudioCodec, AudioConfig};
        match self {
            AudioDepacketizer::Aac(d) => {
                let c = &d.fmtp().config;
                AudioConfig {
                    codec: AudioCodec::Aac,
                    timescale: d.clock_rate(),
                    sample_rate: c.extension_sample_rate.unwrap_or(c.sample_rate),
                    channels: u16::from(c.channels.max(1)),
                    config: c.bytes().to_vec(),
                }
            }
            AudioDepacketizer::G711(d) => AudioConfig {
                codec: match d.codec() {
                    super::g711::G711Codec::Pcmu => AudioCodec::Pcmu,
                    super::g711::G711Codec::Pcma => AudioCodec::Pcma,
                },
                timescale: d.clock_rate(),
                sample_rate: d.clock_rate(),
                channels: u16::from(d.channels()),
                config: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmp4::AudioCodec;
    use crate::rtsp::sdp::media_sections;

    fn section(sdp: &str) -> crate::rtsp::sdp::MediaSection {
        media_sections(sdp.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn g711_sections_with_and_without_rtpmap() {
        let d = AudioDepacketizer::from_section(&section("m=audio 0 RTP/AVP 8\n")).unwrap();
        let c = d.config();
        assert_eq!(
            (c.codec, c.timescale, c.channels),
            (AudioCodec::Pcma, 8000, 1)
        );
        let d = AudioDepacketizer::from_section(&section(
            "m=audio 0 RTP/AVP 97\na=rtpmap:97 PCMU/16000/2\n",
        ))
        .unwrap();
        let c = d.config();
        assert_eq!(
            (c.codec, c.timescale, c.channels),
            (AudioCodec::Pcmu, 16000, 2)
        );
        assert_eq!(c.codec_string(), "ulaw");
    }

    /// GStreamer rtpmp4gpay (avenc_aac, 16 kHz mono, a 5-byte config with an SBR sync
    /// extension) and Dahua's `config=1188` (48 kHz mono).
    #[test]
    fn aac_sections() {
        let d = AudioDepacketizer::from_section(&section(
            "m=audio 0 RTP/AVP 97\na=rtpmap:97 MPEG4-GENERIC/16000/1\n\
             a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;config=140856e500;\
             sizelength=13;indexlength=3;indexdeltalength=3\n",
        ))
        .unwrap();
        let c = d.config();
        assert_eq!(
            (c.codec, c.timescale, c.channels),
            (AudioCodec::Aac, 16000, 1)
        );
        assert_eq!(c.config, [0x14, 0x08, 0x56, 0xe5, 0x00]);
        assert_eq!(c.codec_string(), "mp4a.40.2");
        let d = AudioDepacketizer::from_section(&section(
            "m=audio 0 RTP/AVP 97\na=rtpmap:97 mpeg4-generic/48000\n\
             a=fmtp:97 streamtype=5; profile-level-id=15; mode=AAC-hbr; config=1188; \
             SizeLength=13; IndexLength=3; IndexDeltaLength=3\n",
        ))
        .unwrap();
        assert_eq!((d.clock_rate(), d.config().sample_rate), (48000, 48000));
    }

    /// MP4A-LATM, G.726 and an AAC stream without `config` are skipped, named; nothing fails.
    #[test]
    fn unsupported_and_invalid_are_skipped_by_name() {
        let e = AudioDepacketizer::from_section(&section(
            "m=audio 0 RTP/AVP 96\na=rtpmap:96 G726-32/8000\n",
        ))
        .unwrap_err();
        assert_eq!(e, AudioSkip::Unsupported("G726-32".into()));
        let e = AudioDepacketizer::from_section(&section(
            "m=audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/16000\n",
        ))
        .unwrap_err();
        assert_eq!(e, AudioSkip::Unsupported("MP4A-LATM".into()));
        let e = AudioDepacketizer::from_section(&section(
            "m=audio 0 RTP/AVP 96\na=rtpmap:96 MPEG4-GENERIC/16000\na=fmtp:96 sizelength=13\n",
        ))
        .unwrap_err();
        assert!(matches!(e, AudioSkip::Invalid { ref codec, .. } if codec == "MPEG4-GENERIC"));
    }
}

//! Live frames from a camera, for embedders that want pictures rather than files (the C and
//! Python frame APIs, analytics, `camwire probe`).

use crate::fmp4::VideoCodec;
use crate::frame::{AccessUnit, ParameterSets};
use crate::h264::{AvcDecoderConfig, H264Error};
use crate::h265::{H265Error, HevcDecoderConfig};
use crate::record::clock::{WallClock, ntp_to_system_time, system_time_to_ntp};
use crate::record::ingest::{fmtp_line, h265_options, mirror_h265_stats};
use crate::rtp::h265::{H265Depacketizer, H265Fmtp, H265Frame, H265ParameterSets};
use crate::rtp::{DepacketizerOptions, DepacketizerStats, H264Depacketizer};
use crate::rtsp::{RtspError, Source, SourceEvent, SourceOptions, Transport};
use std::time::{Duration, SystemTime};

/// What a camera's video stream is, read from its parameter sets.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInfo {
    /// RFC 6381 codec string, e.g. `avc1.4d401e` or `hvc1.1.6.L93.B0`.
    pub codec: String,
    /// H.264 or H.265.
    pub video_codec: VideoCodec,
    /// Profile name from the SPS (e.g. `Main`, `Main 10`).
    pub profile: String,
    /// `profile_idc` (H.264) or `general_profile_idc` (H.265).
    pub profile_idc: u8,
    /// `level_idc` (H.264: 10 × level, e.g. 30 for level 3.0; H.265: `general_level_idc`,
    /// 30 × level, e.g. 93 for level 3.1; see [`StreamInfo::level`]).
    pub level_idc: u8,
    /// Width after cropping.
    pub width: u32,
    /// Height after cropping.
    pub height: u32,
    /// Frame rate from the SPS VUI timing, else the SDP `a=framerate`, if either says.
    pub fps: Option<f64>,
    /// Transport in use.
    pub transport: Transport,
    /// True when the parameter sets came from the SDP, false when from the stream.
    pub from_sdp: bool,
    /// The decoder configuration record for decoders and muxers: avcC
    /// (AVCDecoderConfigurationRecord) for H.264, hvcC (HEVCDecoderConfigurationRecord) for
    /// H.265; see [`StreamInfo::video_codec`].
    pub avcc: Vec<u8>,
}

/// Name of an H.265 `general_profile_idc`.
fn h265_profile_name(idc: u8) -> &'static str {
    match idc {
        1 => "Main",
        2 => "Main 10",
        3 => "Main Still Picture",
        4 => "Range Extensions",
        5 => "High Throughput",
        9 => "Screen Content Coding",
        _ => "unknown",
    }
}

impl StreamInfo {
    /// The level as a number, e.g. `3.1` (H.264 `level_idc` / 10, H.265 / 30).
    pub fn level(&self) -> f64 {
        match self.video_codec {
            VideoCodec::H264 => f64::from(self.level_idc) / 10.0,
            VideoCodec::H265 => f64::from(self.level_idc) / 30.0,
        }
    }

    fn from_h265_parameters(
        ps: &H265ParameterSets,
        sdp_fps: Option<f64>,
        transport: Transport,
        from_sdp: bool,
    ) -> Result<StreamInfo, H265Error> {
        let cfg = HevcDecoderConfig::from_parameter_sets(&ps.vps, &ps.sps, &ps.pps)?;
        let sps = cfg.sps_info();
        let fps = sps
            .frame_rate()
            .map(|(ts, units)| f64::from(ts) / f64::from(units));
        Ok(StreamInfo {
            codec: cfg.codec_string(),
            video_codec: VideoCodec::H265,
            profile: h265_profile_name(cfg.profile_idc).to_string(),
            profile_idc: cfg.profile_idc,
            level_idc: cfg.level_idc,
            width: sps.width(),
            height: sps.height(),
            fps: fps.or(sdp_fps),
            transport,
            from_sdp,
            avcc: cfg.to_bytes()?,
        })
    }

    fn from_parameters(
        ps: &ParameterSets,
        sdp_fps: Option<f64>,
        transport: Transport,
        from_sdp: bool,
    ) -> Result<StreamInfo, H264Error> {
        let cfg = AvcDecoderConfig::from_parameter_sets(&ps.sps, &ps.pps)?;
        let sps = cfg.sps_info();
        Ok(StreamInfo {
            codec: cfg.codec_string(),
            video_codec: VideoCodec::H264,
            profile: sps.profile_name().to_string(),
            profile_idc: sps.profile_idc,
            level_idc: sps.level_idc,
            width: sps.width(),
            height: sps.height(),
            fps: sps.fps().or(sdp_fps),
            transport,
            from_sdp,
            avcc: cfg.to_bytes(),
        })
    }
}

/// One picture with its times. The payload stays in the receive buffers (see
/// [`AccessUnit`]); [`Frame::write_avc`] / [`Frame::write_annexb`] copy it out when a
/// contiguous buffer is needed.
#[derive(Debug)]
pub struct Frame {
    /// Presentation time: the RTP timestamp extended to 64 bits, 90 kHz.
    pub pts: i64,
    /// Decode time (equal to `pts`: cameras send no B-frames).
    pub dts: i64,
    /// Wall-clock time of the picture (see `record::clock` for which clock).
    pub wallclock: SystemTime,
    /// A random access point: an IDR picture (H.264), an IRAP picture (H.265: IDR, CRA,
    /// BLA).
    pub keyframe: bool,
    /// RTP packets lost just before this picture.
    pub loss: u32,
    /// The picture's NAL units, in place.
    pub access_unit: AccessUnit,
}

impl Frame {
    /// Appends the picture in AVC form (4-byte lengths).
    pub fn write_avc(&self, out: &mut Vec<u8>) {
        self.access_unit.write_avc(out)
    }
    /// Appends the picture in Annex B form (start codes).
    pub fn write_annexb(&self, out: &mut Vec<u8>) {
        self.access_unit.write_annexb(out)
    }
}

/// Why a live stream could not go on.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Connecting or reading.
    #[error(transparent)]
    Rtsp(#[from] RtspError),
    /// No SPS/PPS in the SDP nor in the stream before the deadline.
    #[error("no usable SPS/PPS within {0:?}")]
    NoParameters(Duration),
    /// The parameter sets do not parse.
    #[error("bad parameter sets: {0}")]
    BadParameters(#[from] H264Error),
}

/// The depacketizer of a live stream, by codec.
// Held once per session and never moved on the hot path: the size difference costs
// nothing, and boxing the H.264 depacketizer would add an indirection per packet.
#[allow(clippy::large_enum_variant)]
enum Depacketizer {
    H264(H264Depacketizer),
    /// With its counters in the H.264 shape ([`LiveStream::stats`]).
    H265(H265Depacketizer, DepacketizerStats),
}

impl StreamError {
    /// The error's family, for bindings.
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            StreamError::Rtsp(e) => e.kind(),
            StreamError::NoParameters(_) => crate::ErrorKind::Timeout,
            StreamError::BadParameters(_) => crate::ErrorKind::Protocol,
        }
    }
}

/// A playing camera yielding whole pictures.
pub struct LiveStream {
    source: Source,
    depacketizer: Depacketizer,
    clock: WallClock,
    info: Option<StreamInfo>,
    ended: bool,
    /// The picture [`LiveStream::wait_info`] found the parameter sets in: handed out first.
    pending: Option<Frame>,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl LiveStream {
    /// Connects and starts playing.
    pub async fn open(url: &str, opts: SourceOptions) -> Result<LiveStream, StreamError> {
        let source = Source::connect(url, opts).await?;
        let video = source.video().clone();
        let (depacketizer, info) = match source.video_codec() {
            VideoCodec::H264 => {
                let d = H264Depacketizer::new(
                    DepacketizerOptions::default(),
                    video.fmtp_param("sprop-parameter-sets"),
                );
                let info = d.parameters().and_then(|ps| {
                    StreamInfo::from_parameters(ps, video.framerate, source.transport(), true).ok()
                });
                (Depacketizer::H264(d), info)
            }
            VideoCodec::H265 => {
                let d = H265Depacketizer::new(
                    h265_options(&DepacketizerOptions::default()),
                    &H265Fmtp::parse(&fmtp_line(&video)),
                );
                let info = d.parameters().and_then(|ps| {
                    StreamInfo::from_h265_parameters(&ps, video.framerate, source.transport(), true)
                        .ok()
                });
                (Depacketizer::H265(d, DepacketizerStats::default()), info)
            }
        };
        Ok(LiveStream {
            clock: WallClock::new(if video.clock_rate == 0 {
                90_000
            } else {
                video.clock_rate
            }),
            source,
            depacketizer,
            info,
            ended: false,
            pending: None,
        })
    }

    /// The stream description, once SPS/PPS are known (from the SDP at once, else from the
    /// first picture that carries them).
    pub fn info(&self) -> Option<&StreamInfo> {
        self.info.as_ref()
    }

    /// Depacketizer counters (loss, errors; for H.265 the H.264-shaped subset).
    pub fn stats(&self) -> &DepacketizerStats {
        match &self.depacketizer {
            Depacketizer::H264(d) => d.stats(),
            Depacketizer::H265(_, s) => s,
        }
    }

    fn pull(&mut self) -> Option<Frame> {
        match &mut self.depacketizer {
            Depacketizer::H264(d) => d.pull().map(|au| self.frame(au)),
            Depacketizer::H265(d, s) => {
                let f = d.pull();
                mirror_h265_stats(d.stats(), s);
                f.map(|f| self.h265_frame(f))
            }
        }
    }

    fn flush(&mut self) -> Option<Frame> {
        match &mut self.depacketizer {
            Depacketizer::H264(d) => d.flush().map(|au| self.frame(au)),
            Depacketizer::H265(d, s) => {
                let f = d.flush().or_else(|| d.pull());
                mirror_h265_stats(d.stats(), s);
                f.map(|f| self.h265_frame(f))
            }
        }
    }

    /// The next picture; `Ok(None)` once the camera ended the stream.
    pub async fn next_frame(&mut self) -> Result<Option<Frame>, StreamError> {
        if let Some(f) = self.pending.take() {
            return Ok(Some(f));
        }
        loop {
            if let Some(f) = self.pull() {
                return Ok(Some(f));
            }
            if self.ended {
                return Ok(self.flush());
            }
            match self.source.next().await? {
                Some(SourceEvent::Rtp(p)) => {
                    let err = match &mut self.depacketizer {
                        Depacketizer::H264(d) => d.push(p).err().map(|e| e.to_string()),
                        Depacketizer::H265(d, _) => match d.push(p) {
                            Ok(()) => None,
                            // A camera announcing H.265 and sending H.264: nothing will
                            // ever decode, so the stream ends with this error.
                            Err(
                                e @ crate::rtp::h265::H265DepacketizeError::LooksLikeH264 { .. },
                            ) => {
                                return Err(StreamError::Rtsp(RtspError::Protocol {
                                    url: self.source.url().to_string(),
                                    message: e.to_string(),
                                    status: None,
                                }));
                            }
                            Err(e) => Some(e.to_string()),
                        },
                    };
                    if let Some(e) = err {
                        log::debug!("{}: {e}", self.source.url());
                    }
                }
                Some(SourceEvent::SenderReport { ntp, rtp_timestamp }) => self
                    .clock
                    .on_sender_report(ntp, rtp_timestamp, system_time_to_ntp(SystemTime::now())),
                // Audio frames reach live streams in a later step (issue 12).
                Some(SourceEvent::Audio { .. } | SourceEvent::AudioSenderReport { .. }) => {}
                Some(SourceEvent::Bye) | None => self.ended = true,
            }
        }
    }

    /// Waits until the stream description is known, reading for at most `wait`. Pictures
    /// before the one carrying the parameter sets cannot be decoded and are dropped; that one
    /// is kept and returned by the next [`LiveStream::next_frame`].
    pub async fn wait_info(&mut self, wait: Duration) -> Result<&StreamInfo, StreamError> {
        let deadline = tokio::time::Instant::now() + wait;
        while self.info.is_none() {
            match tokio::time::timeout_at(deadline, self.next_frame()).await {
                Err(_) | Ok(Ok(None)) => return Err(StreamError::NoParameters(wait)),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(Some(f))) => {
                    if self.info.is_some() {
                        self.pending = Some(f);
                    } else {
                        self.recycle(f);
                    }
                }
            }
        }
        self.info.as_ref().ok_or(StreamError::NoParameters(wait))
    }

    /// Hands a frame's buffers back so the next frames allocate nothing.
    pub fn recycle(&mut self, frame: Frame) {
        match &mut self.depacketizer {
            Depacketizer::H264(d) => d.recycle(frame.access_unit),
            Depacketizer::H265(d, _) => d.recycle(frame.access_unit),
        }
    }

    fn h265_frame(&mut self, f: H265Frame) -> Frame {
        if let Some(ps) = &f.new_parameters {
            match StreamInfo::from_h265_parameters(
                ps,
                self.source.video().framerate,
                self.source.transport(),
                false,
            ) {
                Ok(i) => {
                    if self.info.as_ref().is_none_or(|old| old.avcc != i.avcc) {
                        self.info = Some(i);
                    }
                }
                Err(e) => log::warn!("{}: unusable VPS/SPS/PPS: {e}", self.source.url()),
            }
        }
        self.frame(f.au)
    }

    fn frame(&mut self, au: AccessUnit) -> Frame {
        if let Some(ps) = &au.new_parameters {
            match StreamInfo::from_parameters(
                ps,
                self.source.video().framerate,
                self.source.transport(),
                false,
            ) {
                Ok(i) => {
                    if self.info.as_ref().is_none_or(|old| old.avcc != i.avcc) {
                        self.info = Some(i);
                    }
                }
                Err(e) => log::warn!("{}: unusable SPS/PPS: {e}", self.source.url()),
            }
        }
        let now = system_time_to_ntp(SystemTime::now());
        let wall = self.clock.wall(au.timestamp, now);
        Frame {
            pts: au.timestamp,
            dts: au.timestamp,
            wallclock: ntp_to_system_time(wall),
            keyframe: au.keyframe,
            loss: au.loss,
            access_unit: au,
        }
    }
}

/// Connects and describes the stream: SDP parameter sets first, else the stream's, waiting
/// at most `wait` for them.
pub async fn probe(
    url: &str,
    opts: SourceOptions,
    wait: Duration,
) -> Result<StreamInfo, StreamError> {
    let mut s = LiveStream::open(url, opts).await?;
    Ok(s.wait_info(wait).await?.clone())
}

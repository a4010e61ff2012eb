//! Live frames from a camera, for embedders that want pictures rather than files (the C and
//! Python frame APIs, analytics, `camwire probe`).

use crate::frame::{AccessUnit, ParameterSets};
use crate::h264::{AvcDecoderConfig, H264Error};
use crate::record::clock::{WallClock, ntp_to_system_time, system_time_to_ntp};
use crate::rtp::{DepacketizerOptions, DepacketizerStats, H264Depacketizer};
use crate::rtsp::{RtspError, Source, SourceEvent, SourceOptions, Transport};
use std::time::{Duration, SystemTime};

/// What a camera's video stream is, read from its SPS/PPS.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInfo {
    /// RFC 6381 codec string, e.g. `avc1.4d401e`.
    pub codec: String,
    /// Profile name from the SPS (e.g. `Main`).
    pub profile: String,
    /// `profile_idc`.
    pub profile_idc: u8,
    /// `level_idc` (e.g. 30 for level 3.0).
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
    /// The avcC record (AVCDecoderConfigurationRecord), for decoders and muxers.
    pub avcc: Vec<u8>,
}

impl StreamInfo {
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
    /// An IDR picture.
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
    depacketizer: H264Depacketizer,
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
        let depacketizer = H264Depacketizer::new(
            DepacketizerOptions::default(),
            video.fmtp_param("sprop-parameter-sets"),
        );
        let info = depacketizer.parameters().and_then(|ps| {
            StreamInfo::from_parameters(ps, video.framerate, source.transport(), true).ok()
        });
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

    /// Depacketizer counters (loss, errors).
    pub fn stats(&self) -> &DepacketizerStats {
        self.depacketizer.stats()
    }

    /// The next picture; `Ok(None)` once the camera ended the stream.
    pub async fn next_frame(&mut self) -> Result<Option<Frame>, StreamError> {
        if let Some(f) = self.pending.take() {
            return Ok(Some(f));
        }
        loop {
            if let Some(au) = self.depacketizer.pull() {
                return Ok(Some(self.frame(au)));
            }
            if self.ended {
                return Ok(self.depacketizer.flush().map(|au| self.frame(au)));
            }
            match self.source.next().await? {
                Some(SourceEvent::Rtp(p)) => {
                    if let Err(e) = self.depacketizer.push(p) {
                        log::debug!("{}: {e}", self.source.url());
                    }
                }
                Some(SourceEvent::SenderReport { ntp, rtp_timestamp }) => self
                    .clock
                    .on_sender_report(ntp, rtp_timestamp, system_time_to_ntp(SystemTime::now())),
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
        self.depacketizer.recycle(frame.access_unit);
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

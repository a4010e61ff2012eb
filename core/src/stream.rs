//! Live frames from a camera, for embedders that want pictures (and sound) rather than files
//! (the C and Python frame APIs, analytics, `camwire probe`).
//!
//! # Tracks
//!
//! A session plays one video track (track 0) and, when asked, audio tracks (1, 2, ...; see
//! [`AudioChoice`]). Every [`Frame`] says which track it belongs to ([`Frame::track`]), its
//! kind and its codec; [`StreamInfo::tracks`] lists every media section of the camera's SDP,
//! set up or skipped (with the reason), with the decoder configuration of each track set up.
//!
//! Audio is opt-in for frame consumers: [`LiveStream::open`] plays video only (whatever
//! [`SourceOptions::audio`] says), so code written when every frame was a picture keeps
//! working on cameras with a microphone; [`LiveStream::open_with_audio`] sets up the audio
//! tracks `SourceOptions::audio` chooses (default: the first) and hands their frames out by
//! the same [`LiveStream::next_frame`]. [`probe`] describes what a recording with the same
//! options would record, so it sets up audio as `SourceOptions::audio` says.

use crate::fmp4::{AudioCodec, AudioConfig, VideoCodec};
use crate::frame::{AccessUnit, ParameterSets};
use crate::h264::{AvcDecoderConfig, H264Error};
use crate::h265::{H265Error, HevcDecoderConfig};
use crate::record::clock::{WallClock, ntp_to_system_time, system_time_to_ntp};
use crate::record::ingest::{fmtp_line, h265_options, mirror_h265_stats};
use crate::rtp::audio::{AudioDepacketizer, AudioFrame};
use crate::rtp::h265::{H265Depacketizer, H265Fmtp, H265Frame, H265ParameterSets};
use crate::rtp::{DepacketizerOptions, DepacketizerStats, H264Depacketizer};
use crate::rtsp::{
    AudioChoice, RtspError, Source, SourceEvent, SourceOptions, TrackInfo, TrackKind, Transport,
};
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
    /// Every media section of the camera's SDP, in SDP order: the tracks set up (video is
    /// track 0, audio 1, 2, ...) with their decoder configuration, and the others with why
    /// they are skipped.
    pub tracks: Vec<TrackDescription>,
}

/// A codec whose frames a [`LiveStream`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 (video).
    H264,
    /// H.265 (video).
    H265,
    /// AAC (RFC 3640 `mpeg4-generic`): each frame is one raw access unit (no ADTS header);
    /// decoders take the AudioSpecificConfig from [`TrackDescription::config`].
    Aac,
    /// G.711 µ-law: each frame is one RTP packet's samples, one byte per sample.
    Pcmu,
    /// G.711 A-law: as [`Codec::Pcmu`].
    Pcma,
}

impl Codec {
    /// `H264`, `H265`, `AAC`, `PCMU` or `PCMA`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::H265 => "H265",
            Codec::Aac => "AAC",
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Video or audio.
    pub fn kind(self) -> TrackKind {
        match self {
            Codec::H264 | Codec::H265 => TrackKind::Video,
            Codec::Aac | Codec::Pcmu | Codec::Pcma => TrackKind::Audio,
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<VideoCodec> for Codec {
    fn from(c: VideoCodec) -> Self {
        match c {
            VideoCodec::H264 => Codec::H264,
            VideoCodec::H265 => Codec::H265,
        }
    }
}

impl From<AudioCodec> for Codec {
    fn from(c: AudioCodec) -> Self {
        match c {
            AudioCodec::Aac => Codec::Aac,
            AudioCodec::Pcmu => Codec::Pcmu,
            AudioCodec::Pcma => Codec::Pcma,
        }
    }
}

/// One media section of the camera's SDP as a stream or `probe` sees it: a track set up
/// (with what a decoder or muxer needs) or a section skipped (with why).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackDescription {
    /// The session's track number when set up (0 video, 1.. audio: the [`Frame::track`] of
    /// its frames), `None` when skipped.
    pub track: Option<usize>,
    /// Video or audio; `None` for other media (`application`, metadata).
    pub kind: Option<TrackKind>,
    /// The SDP media type (`video`, `audio`, `application`, ...).
    pub media: String,
    /// The SDP encoding name as the camera wrote it, upper-cased (`H264`, `MPEG4-GENERIC`,
    /// `PCMU`, `G726-32`, ...); empty when the SDP names none.
    pub encoding: String,
    /// The codec: the RFC 6381 string (`avc1.4d401e`, `hvc1.1.6.L93.B0`, `mp4a.40.2`) or
    /// the sample entry (`ulaw`, `alaw`) for a track camwire handles, else the SDP encoding
    /// name (`G726-32`; `payload type N` when the SDP names none), so a skipped track is
    /// still named.
    pub codec: String,
    /// The RTP clock rate (ticks per second of this track's [`Frame::pts`]).
    pub clock_rate: u32,
    /// Audio channels: from the AudioSpecificConfig for AAC, else from the SDP; `None` when
    /// neither says (and for video).
    pub channels: Option<u16>,
    /// The decoder configuration: avcC (H.264) or hvcC (H.265) for the video track, the
    /// AudioSpecificConfig for AAC (also when the track is not chosen); empty for G.711
    /// (which needs none) and for sections camwire cannot handle.
    pub config: Vec<u8>,
    /// Why the section is not set up (unsupported codec named, not chosen, SETUP refused);
    /// `None` when it is.
    pub skipped: Option<String>,
}

impl TrackDescription {
    fn from_track_info(t: &TrackInfo, audio: Option<&AudioConfig>) -> TrackDescription {
        let s = &t.section;
        let named = if s.encoding.is_empty() {
            format!("payload type {}", s.payload_type)
        } else {
            s.encoding.clone()
        };
        let (codec, channels, config) = match audio {
            Some(a) => (a.codec_string(), Some(a.channels), a.config.clone()),
            None => (named, s.channels, Vec::new()),
        };
        TrackDescription {
            track: t.track,
            kind: t.kind,
            media: s.media.clone(),
            encoding: s.encoding.clone(),
            codec,
            clock_rate: s.clock_rate,
            channels,
            config,
            skipped: t.skipped.clone(),
        }
    }
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
            tracks: Vec::new(),
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
            tracks: Vec::new(),
        })
    }
}

/// One picture, or one audio frame, with its times. The payload stays in the receive buffers
/// (see [`AccessUnit`] and [`AudioFrame`]); [`Frame::write_avc`] / [`Frame::write_annexb`]
/// copy it out when a contiguous buffer is needed.
///
/// Video frames (track 0) carry their picture in [`Frame::access_unit`] and have
/// [`Frame::audio`] `None`. Audio frames (tracks 1, 2, ...; only from a stream opened with
/// [`LiveStream::open_with_audio`]) carry their bytes, exactly as the camera sent them, in
/// [`Frame::audio`], and an empty `access_unit`.
#[derive(Debug)]
pub struct Frame {
    /// The session's track number: 0 for video, 1.. for audio (see
    /// [`StreamInfo::tracks`]).
    pub track: usize,
    /// Video or audio.
    pub kind: TrackKind,
    /// The track's codec.
    pub codec: Codec,
    /// The RTP clock rate of the track: ticks per second of `pts` and `dts` (90000 for
    /// video, usually the sample rate for audio).
    pub clock_rate: u32,
    /// Presentation time: the RTP timestamp extended to 64 bits, in `clock_rate` ticks.
    pub pts: i64,
    /// Decode time (equal to `pts`: live pictures come in decoding order, and audio has no
    /// reordering).
    pub dts: i64,
    /// Wall-clock time of the picture or of the audio frame's first sample: each track maps
    /// its own RTP clock by its own RTCP sender reports, and by the arrival time of its first
    /// frame until the first report (see `record::clock`).
    pub wallclock: SystemTime,
    /// A random access point: an IDR picture (H.264), an IRAP picture (H.265: IDR, CRA,
    /// BLA); always true for audio (every AAC or G.711 frame decodes on its own).
    pub keyframe: bool,
    /// RTP packets of this track lost just before this frame.
    pub loss: u32,
    /// The picture's NAL units, in place (empty for audio).
    pub access_unit: AccessUnit,
    /// The audio frame, in place (`None` for video): an AAC access unit or one packet of
    /// G.711 samples, with its sample count.
    pub audio: Option<AudioFrame>,
}

impl Frame {
    /// Appends the picture in AVC form (4-byte lengths); an audio frame's bytes as sent.
    pub fn write_avc(&self, out: &mut Vec<u8>) {
        match &self.audio {
            Some(a) => write_audio(a, out),
            None => self.access_unit.write_avc(out),
        }
    }
    /// Appends the picture in Annex B form (start codes); an audio frame's bytes as sent.
    pub fn write_annexb(&self, out: &mut Vec<u8>) {
        match &self.audio {
            Some(a) => write_audio(a, out),
            None => self.access_unit.write_annexb(out),
        }
    }
    /// The bytes [`Frame::write_avc`] (or [`Frame::write_annexb`], the same size) appends.
    pub fn payload_len(&self) -> usize {
        match &self.audio {
            Some(a) => a.len(),
            None => self.access_unit.avc_len(),
        }
    }
    /// Samples per channel of an audio frame (its duration in `clock_rate` ticks when the
    /// clock rate is the sample rate); 0 for video.
    pub fn samples(&self) -> u32 {
        self.audio.as_ref().map_or(0, |a| a.samples)
    }
}

fn write_audio(a: &AudioFrame, out: &mut Vec<u8>) {
    out.reserve(a.len());
    for p in &a.pieces {
        out.extend_from_slice(p);
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

/// One audio track of a live stream: its depacketizer and its own RTP to wall-clock mapping.
struct AudioTrack {
    track: usize,
    codec: Codec,
    depacketizer: AudioDepacketizer,
    clock: WallClock,
}

/// A playing camera yielding whole pictures and, when opened with
/// [`LiveStream::open_with_audio`], audio frames.
pub struct LiveStream {
    source: Source,
    depacketizer: Depacketizer,
    clock: WallClock,
    /// The video track's RTP clock rate (90000 unless the SDP says otherwise).
    clock_rate: u32,
    info: Option<StreamInfo>,
    ended: bool,
    /// The picture [`LiveStream::wait_info`] found the parameter sets in: handed out first.
    pending: Option<Frame>,
    /// The audio tracks set up, by track number - 1.
    audio: Vec<AudioTrack>,
    /// Every SDP section, described once at open (the video entry gets its codec string and
    /// decoder configuration from each new [`StreamInfo`]).
    tracks: Vec<TrackDescription>,
    /// The audio track to look at first on the next pull, so that one busy track does not
    /// starve another.
    next_audio: usize,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream")
            .field("source", &self.source)
            .field("audio_tracks", &self.audio.len())
            .finish_non_exhaustive()
    }
}

impl LiveStream {
    /// Connects and starts playing the video track only: `opts.audio` is taken as
    /// [`AudioChoice::No`], so every frame is a picture, as before streams had audio (the
    /// camera's audio sections are listed in [`StreamInfo::tracks`] as not requested). Use
    /// [`LiveStream::open_with_audio`] for audio frames.
    pub async fn open(url: &str, opts: SourceOptions) -> Result<LiveStream, StreamError> {
        LiveStream::open_with_audio(
            url,
            SourceOptions {
                audio: AudioChoice::No,
                ..opts
            },
        )
        .await
    }

    /// Connects and starts playing the video track and the audio tracks `opts.audio` chooses
    /// (default [`AudioChoice::First`]); [`LiveStream::next_frame`] then hands out audio
    /// frames (track 1, 2, ...) between the pictures, in arrival order. Audio frames that
    /// arrive before the stream description is known are dropped with the undecodable
    /// pictures (see [`LiveStream::wait_info`]).
    pub async fn open_with_audio(
        url: &str,
        opts: SourceOptions,
    ) -> Result<LiveStream, StreamError> {
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
        let mut audio = Vec::new();
        let mut tracks = Vec::new();
        for t in source.tracks() {
            let mut config = None;
            if t.kind == Some(TrackKind::Audio) {
                // Also for audio sections not chosen: they are described by codec string.
                match AudioDepacketizer::from_section(&t.section) {
                    Ok(d) => {
                        let c = d.config();
                        if let Some(n) = t.track {
                            audio.push(AudioTrack {
                                track: n,
                                codec: c.codec.into(),
                                clock: WallClock::new(d.clock_rate().max(1)),
                                depacketizer: d,
                            });
                        }
                        config = Some(c);
                    }
                    // The source sets up only tracks that have a depacketizer; were one set
                    // up anyway, its packets would be dropped (see `next_frame`).
                    Err(e) => {
                        if let Some(n) = t.track {
                            log::warn!("{}: audio track {n}: {e}", source.url());
                        }
                    }
                }
            }
            tracks.push(TrackDescription::from_track_info(t, config.as_ref()));
        }
        audio.sort_by_key(|a| a.track);
        let clock_rate = if video.clock_rate == 0 {
            90_000
        } else {
            video.clock_rate
        };
        let mut s = LiveStream {
            clock: WallClock::new(clock_rate),
            clock_rate,
            source,
            depacketizer,
            info: None,
            ended: false,
            pending: None,
            audio,
            tracks,
            next_audio: 0,
        };
        s.info = info.map(|i| s.described(i));
        Ok(s)
    }

    /// `info` with [`StreamInfo::tracks`] filled, the video entry from `info` itself.
    fn described(&self, mut info: StreamInfo) -> StreamInfo {
        let mut tracks = self.tracks.clone();
        for t in &mut tracks {
            if t.track == Some(0) {
                t.codec = info.codec.clone();
                t.config = info.avcc.clone();
            }
        }
        info.tracks = tracks;
        info
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

    /// The next audio frame any audio track has ready, taking the tracks in turn.
    fn pull_audio(&mut self) -> Option<Frame> {
        let n = self.audio.len();
        for i in 0..n {
            let at = (self.next_audio + i) % n;
            let a = &mut self.audio[at];
            if let Some(f) = a.depacketizer.pull() {
                self.next_audio = (at + 1) % n;
                let now = system_time_to_ntp(SystemTime::now());
                let wall = a.clock.wall(f.timestamp, now);
                return Some(Frame {
                    track: a.track,
                    kind: TrackKind::Audio,
                    codec: a.codec,
                    clock_rate: a.depacketizer.clock_rate(),
                    pts: f.timestamp,
                    dts: f.timestamp,
                    wallclock: ntp_to_system_time(wall),
                    keyframe: true,
                    loss: f.loss,
                    access_unit: AccessUnit::default(),
                    audio: Some(f),
                });
            }
        }
        None
    }

    fn pull(&mut self) -> Option<Frame> {
        if let Some(f) = self.pull_audio() {
            return Some(f);
        }
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

    /// The next picture or audio frame (audio only from [`LiveStream::open_with_audio`]);
    /// `Ok(None)` once the camera ended the stream (the video track's RTCP BYE or the end
    /// of the connection: video decides the end).
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
                Some(SourceEvent::Audio { track, pkt }) => {
                    // Track numbers are 1.. in order; a track without a depacketizer (none:
                    // the source sets up only tracks that have one) drops its packets.
                    if let Some(a) = self.audio.iter_mut().find(|a| a.track == track)
                        && let Err(e) = a.depacketizer.push(pkt)
                    {
                        log::debug!("{}: audio track {track}: {e}", self.source.url());
                    }
                }
                Some(SourceEvent::AudioSenderReport {
                    track,
                    ntp,
                    rtp_timestamp,
                }) => {
                    if let Some(a) = self.audio.iter_mut().find(|a| a.track == track) {
                        a.clock.on_sender_report(
                            ntp,
                            rtp_timestamp,
                            system_time_to_ntp(SystemTime::now()),
                        );
                    }
                }
                Some(SourceEvent::Bye) | None => self.ended = true,
            }
        }
    }

    /// Waits until the stream description is known, reading for at most `wait`. Pictures
    /// before the one carrying the parameter sets cannot be decoded and are dropped, and so
    /// are the audio frames read meanwhile (a consumer starts both at the first decodable
    /// picture); that picture is kept and returned by the next [`LiveStream::next_frame`].
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
        if frame.audio.is_some() {
            // Audio depacketizers keep no buffers to reuse: dropping releases the slices.
            return;
        }
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
                        self.info = Some(self.described(i));
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
                        self.info = Some(self.described(i));
                    }
                }
                Err(e) => log::warn!("{}: unusable SPS/PPS: {e}", self.source.url()),
            }
        }
        let now = system_time_to_ntp(SystemTime::now());
        let wall = self.clock.wall(au.timestamp, now);
        Frame {
            track: 0,
            kind: TrackKind::Video,
            codec: match self.depacketizer {
                Depacketizer::H264(_) => Codec::H264,
                Depacketizer::H265(..) => Codec::H265,
            },
            clock_rate: self.clock_rate,
            pts: au.timestamp,
            dts: au.timestamp,
            wallclock: ntp_to_system_time(wall),
            keyframe: au.keyframe,
            loss: au.loss,
            access_unit: au,
            audio: None,
        }
    }
}

/// Connects and describes the stream: SDP parameter sets first, else the stream's, waiting
/// at most `wait` for them. The audio tracks are set up as `opts.audio` says (default: the
/// first), so [`StreamInfo::tracks`] tells which tracks a recording with the same options
/// records and which it skips, and why.
pub async fn probe(
    url: &str,
    opts: SourceOptions,
    wait: Duration,
) -> Result<StreamInfo, StreamError> {
    let mut s = LiveStream::open_with_audio(url, opts).await?;
    Ok(s.wait_info(wait).await?.clone())
}

//! What a camera's stream is, read from its parameter sets: the answer to "what is this
//! camera sending?" before recording it.

use super::session::{RtspError, Source, SourceEvent, SourceOptions, Transport};
use crate::h264::AvcDecoderConfig;
use crate::rtp::{DepacketizerOptions, H264Depacketizer};
use std::time::Duration;

/// The video stream of a camera.
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
    /// Coded width after cropping.
    pub width: u32,
    /// Coded height after cropping.
    pub height: u32,
    /// Frame rate from the SPS VUI timing, if the camera states one.
    pub fps: Option<f64>,
    /// Frame rate from the SDP `a=framerate`, if any.
    pub sdp_fps: Option<f64>,
    /// Transport used.
    pub transport: Transport,
    /// True when the parameter sets came from the SDP, false when from the stream.
    pub from_sdp: bool,
    /// The avcC record (AVCDecoderConfigurationRecord).
    pub avcc: Vec<u8>,
}

/// Why probing failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Connecting or reading.
    #[error(transparent)]
    Rtsp(#[from] RtspError),
    /// No SPS/PPS seen in the SDP nor in the stream before the deadline.
    #[error("no usable SPS/PPS within {0:?}")]
    NoParameters(Duration),
    /// The parameter sets do not parse.
    #[error("bad parameter sets: {0}")]
    BadParameters(#[from] crate::h264::H264Error),
}

/// Connects, reads the parameter sets (SDP first, then the stream for up to `wait`), and
/// describes the stream.
pub async fn probe(url: &str, opts: SourceOptions, wait: Duration) -> Result<StreamInfo, ProbeError> {
    let mut source = Source::connect(url, opts).await?;
    let video = source.video().clone();
    let mut depkt = H264Depacketizer::new(
        DepacketizerOptions::default(),
        video.fmtp_param("sprop-parameter-sets"),
    );
    let mut from_sdp = true;
    let from_sdp_params = depkt
        .parameters()
        .cloned()
        .filter(|p| AvcDecoderConfig::from_parameter_sets(&p.sps, &p.pps).is_ok());
    let params = match from_sdp_params {
        Some(p) => p,
        None => {
            from_sdp = false;
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                let ev = tokio::time::timeout_at(deadline, source.next())
                    .await
                    .map_err(|_| ProbeError::NoParameters(wait))??;
                match ev {
                    Some(SourceEvent::Rtp(p)) => {
                        let _ = depkt.push(p);
                        let mut found = None;
                        while let Some(au) = depkt.pull() {
                            if let Some(ps) = au.new_parameters {
                                found = Some(ps);
                            }
                        }
                        if let Some(ps) = found {
                            break ps;
                        }
                    }
                    Some(_) => {}
                    None => return Err(ProbeError::NoParameters(wait)),
                }
            }
        }
    };
    let cfg = AvcDecoderConfig::from_parameter_sets(&params.sps, &params.pps)?;
    let sps = cfg.sps_info();
    Ok(StreamInfo {
        codec: cfg.codec_string(),
        profile: sps.profile_name().to_string(),
        profile_idc: sps.profile_idc,
        level_idc: sps.level_idc,
        width: sps.width(),
        height: sps.height(),
        fps: sps.fps(),
        sdp_fps: video.framerate,
        transport: source.transport(),
        from_sdp,
        avcc: cfg.to_bytes(),
    })
}

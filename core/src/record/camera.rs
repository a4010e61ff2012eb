//! One live camera: connect, record until told to stop or the stream ends, close cleanly.
//! (Reconnecting with backoff belongs to the multi-camera recorder built on this.)

use super::clock::system_time_to_ntp;
use super::ingest::Ingest;
use super::segment::{ClosedSegment, Naming, SegmentOptions, SegmentStats};
use crate::rtp::{DepacketizerOptions, DepacketizerStats};
use crate::rtsp::{RtspError, Source, SourceEvent, SourceOptions};
use std::path::PathBuf;
use std::time::SystemTime;
use tokio::sync::watch;

/// Why recording a camera stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The RTSP side (connect, auth, timeout, protocol).
    #[error(transparent)]
    Rtsp(#[from] RtspError),
    /// Writing files.
    #[error("writing recording: {0}")]
    Io(#[from] std::io::Error),
    /// A camera id that is not a safe single path component.
    #[error("invalid camera id {0:?}: {1}")]
    InvalidCameraId(String, &'static str),
    /// A camera with this id is already being recorded.
    #[error("camera {0:?} is already being recorded")]
    DuplicateCamera(String),
}

/// Checks that `id` can name a directory under the recording root and nothing else:
/// no separators, no `.`/`..`, no control characters, not empty, at most 128 bytes.
pub fn validate_camera_id(id: &str) -> Result<(), RecordError> {
    let bad = |why| {
        Err(RecordError::InvalidCameraId(
            id.chars().take(64).collect(),
            why,
        ))
    };
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > 128 {
        return bad("longer than 128 bytes");
    }
    if id == "." || id == ".." {
        return bad("a relative path component");
    }
    if id.contains(['/', '\\']) {
        return bad("contains a path separator");
    }
    if id.chars().any(|c| c.is_control()) {
        return bad("contains a control character");
    }
    if id.contains(':') {
        return bad("contains ':' (a drive or stream name on some systems)");
    }
    Ok(())
}

/// What to record.
#[derive(Clone)]
pub struct CameraConfig {
    /// Directory name under the root (validated with [`validate_camera_id`]).
    pub id: String,
    /// `rtsp://` URL; credentials inside it are taken out and never logged.
    pub url: String,
    /// Connection options (credentials, transport, timeouts).
    pub source: SourceOptions,
    /// File and fragment boundaries.
    pub segment: SegmentOptions,
    /// Depacketizer limits.
    pub depacketizer: DepacketizerOptions,
    /// Fetch each gap from the device's own storage once the camera is back
    /// ([`super::backfill`]); `None` (default): gaps stay gaps. Only the multi-camera
    /// [`super::Recorder`] back-fills.
    pub backfill: Option<super::backfill::BackfillOptions>,
}

/// Shows the URL with any password masked (`rtsp://user:***@host/...`): configs get logged.
impl std::fmt::Debug for CameraConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraConfig")
            .field("id", &self.id)
            .field("url", &crate::rtsp::url::redact(&self.url))
            .field("source", &self.source)
            .field("segment", &self.segment)
            .field("depacketizer", &self.depacketizer)
            .field("backfill", &self.backfill)
            .finish()
    }
}

/// What a recording run did.
#[derive(Clone, Debug)]
pub struct CameraReport {
    /// Camera id.
    pub id: String,
    /// True when the camera ended the stream (RTCP BYE or connection closed).
    pub ended_by_camera: bool,
    /// Writer counters.
    pub segments: SegmentStats,
    /// Depacketizer counters.
    pub depacketizer: DepacketizerStats,
    /// Packets the depacketizer refused.
    pub rtp_errors: u64,
    /// Files closed, in order.
    pub files: Vec<ClosedSegment>,
}

fn now_ntp() -> u64 {
    system_time_to_ntp(SystemTime::now())
}

/// Records `cfg` under `root` until `stop` turns true or the camera ends the stream. On any
/// end the open fragment is written and the file closed; an error after connecting is
/// returned only after that, so nothing received is lost.
pub async fn record_camera(
    cfg: CameraConfig,
    root: PathBuf,
    mut stop: watch::Receiver<bool>,
) -> Result<CameraReport, RecordError> {
    validate_camera_id(&cfg.id)?;
    let connect = Source::connect(&cfg.url, cfg.source.clone().for_recording());
    let mut source = tokio::select! {
        s = connect => s?,
        _ = stop.wait_for(|s| *s) => return Ok(CameraReport {
            id: cfg.id, ended_by_camera: false, segments: SegmentStats::default(),
            depacketizer: DepacketizerStats::default(), rtp_errors: 0, files: Vec::new(),
        }),
    };
    let mut ingest = Ingest::for_source(
        &source,
        Naming::CameraDir {
            root,
            camera_id: cfg.id.clone(),
        },
        cfg.segment.clone(),
        cfg.depacketizer.clone(),
    );
    let mut ended_by_camera = false;
    let result: Result<(), RecordError> = loop {
        let ev = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break Ok(()),
            ev = source.next() => ev,
        };
        match ev {
            Ok(Some(SourceEvent::Rtp(pkt))) => {
                if let Err(e) = ingest.on_rtp(pkt, now_ntp()) {
                    break Err(e.into());
                }
            }
            Ok(Some(SourceEvent::SenderReport { ntp, rtp_timestamp })) => {
                ingest.on_sender_report(ntp, rtp_timestamp, now_ntp())
            }
            Ok(Some(SourceEvent::Audio { track, pkt })) => ingest.on_audio(track, pkt, now_ntp()),
            Ok(Some(SourceEvent::AudioSenderReport {
                track,
                ntp,
                rtp_timestamp,
            })) => ingest.on_audio_sender_report(track, ntp, rtp_timestamp, now_ntp()),
            Ok(Some(SourceEvent::Bye)) | Ok(None) => {
                log::info!("{}: stream ended by the camera", source.url());
                ended_by_camera = true;
                break Ok(());
            }
            Err(e) => break Err(e.into()),
        }
    };
    let finished = ingest.finish(now_ntp());
    result?;
    finished?;
    Ok(CameraReport {
        id: cfg.id,
        ended_by_camera,
        segments: ingest.segment_stats().clone(),
        depacketizer: ingest.depacketizer_stats().clone(),
        rtp_errors: ingest.rtp_errors(),
        files: ingest.take_closed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_ids_cannot_escape_the_root() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", "/etc", "a\0b", "a\nb", "c:x",
        ] {
            assert!(validate_camera_id(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["cam-01", "Street 5 (north)", "камера", "x.y"] {
            assert!(validate_camera_id(good).is_ok(), "{good:?} refused");
        }
    }
}

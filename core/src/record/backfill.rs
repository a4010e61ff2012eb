//! Automatic back-fill: after an outage, once the camera is back, the recorder fetches the
//! missing stretch from the device's own storage (SD card, NVR disk) and writes it as
//! ordinary segments, so the gap closes.
//!
//! Opt-in per camera ([`super::CameraConfig::backfill`]): the recorder needs to know where
//! the device's footage is ([`BackfillSource`]): an ONVIF device (Recording Search finds the
//! recording covering the gap, the Replay service gives its URI), a fixed replay URI, or a
//! vendor playback URL ([`crate::replay::vendor`]).
//!
//! When a gap closes (the camera is recording again), one task per gap waits
//! [`BackfillOptions::delay`] (devices finish writing their own files first), then runs
//! [`crate::replay::backfill()`] over the gap: segments of the camera's directory, a
//! `backfilled from device` line in `gaps.jsonl`, a `SegmentClosed` event per file (and
//! the upload queue, when one is on). A failure is an `Error` event naming the gap; nothing
//! recorded is touched.
//!
//! The whole gap closes: segments start at a keyframe, so the back-fill starts at the
//! device's keyframe at or before the gap's start and overlaps the live file before the gap
//! by less than a GOP (the frames after the gap's start depend on that keyframe). `ls` sees
//! one continuous range, and export takes the back-fill from its first frame on, so a clip
//! neither repeats nor misses that stretch (`crate::replay::backfill`).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::credentials::Credentials;
use crate::onvif::OnvifDevice;
use crate::onvif::search::{Covering, covering};
use crate::replay::{BackfillSummary, FetchOptions, ReplayError, VendorPlayback};

/// Where a camera's own recordings can be fetched from.
#[derive(Clone)]
pub enum BackfillSource {
    /// An ONVIF device with Profile G: `xaddr` (host, host:port or the device service URL),
    /// and the recording token, or `None` for the recording that covers the gap.
    Onvif {
        /// The device service address.
        xaddr: String,
        /// The recording to fetch from (`None`: the one covering the gap).
        recording: Option<String>,
    },
    /// A fixed RTSP replay URI (ONVIF GetReplayUri's answer, or a device's own).
    ReplayUri(String),
    /// A vendor playback URL built for each gap from the device's RTSP address.
    Vendor {
        /// `rtsp://[user:pass@]host[:port]`.
        url: String,
        /// The vendor's scheme, channel and time zone.
        playback: VendorPlayback,
    },
}

impl std::fmt::Debug for BackfillSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = crate::rtsp::url::redact;
        match self {
            BackfillSource::Onvif { xaddr, recording } => f
                .debug_struct("Onvif")
                .field("xaddr", &redact(xaddr))
                .field("recording", recording)
                .finish(),
            BackfillSource::ReplayUri(u) => f.debug_tuple("ReplayUri").field(&redact(u)).finish(),
            BackfillSource::Vendor { url, playback } => f
                .debug_struct("Vendor")
                .field("url", &redact(url))
                .field("playback", playback)
                .finish(),
        }
    }
}

/// How a camera back-fills its gaps.
#[derive(Clone, Debug)]
pub struct BackfillOptions {
    /// Where the device's footage is.
    pub source: BackfillSource,
    /// The device login (ONVIF and RTSP); `None`: the camera's RTSP credentials.
    pub credentials: Option<Credentials>,
    /// Wait after the camera is back before fetching (default 10 s).
    pub delay: Duration,
    /// Gaps shorter than this are left alone (default 2 s: a reconnect's hiccup).
    pub min_gap: Duration,
    /// At most this much of a gap is fetched: its end (default 1 h). A longer outage keeps
    /// the older part as a gap.
    pub max_span: Duration,
}

impl BackfillOptions {
    /// Defaults for `source`.
    pub fn new(source: BackfillSource) -> Self {
        BackfillOptions {
            source,
            credentials: None,
            delay: Duration::from_secs(10),
            min_gap: Duration::from_secs(2),
            max_span: Duration::from_secs(3600),
        }
    }

    /// The span of `[start, end)` to fetch, or `None` when the gap is too short.
    pub fn span(&self, start: SystemTime, end: SystemTime) -> Option<(SystemTime, SystemTime)> {
        let len = end.duration_since(start).ok()?;
        if len < self.min_gap {
            return None;
        }
        let from = if len > self.max_span {
            end.checked_sub(self.max_span).unwrap_or(start)
        } else {
            start
        };
        Some((from, end))
    }
}

/// Fetches `[start, end)` of camera `camera` from its device into `root`, as segments.
pub(crate) async fn fill(
    opts: &BackfillOptions,
    camera_credentials: Option<Credentials>,
    root: PathBuf,
    camera: &str,
    start: SystemTime,
    end: SystemTime,
) -> Result<BackfillSummary, ReplayError> {
    let credentials = opts.credentials.clone().or(camera_credentials);
    let fetch = FetchOptions {
        credentials: credentials.clone(),
        camera_id: Some(camera.to_string()),
        vendor: match &opts.source {
            BackfillSource::Vendor { playback, .. } => Some(playback.vendor),
            _ => None,
        },
        ..Default::default()
    };
    let uri = match &opts.source {
        BackfillSource::ReplayUri(u) => u.clone(),
        BackfillSource::Vendor { url, playback } => playback.url(url, start, end)?,
        BackfillSource::Onvif { xaddr, recording } => {
            let dev = OnvifDevice::connect(xaddr, credentials, Default::default()).await?;
            let token = match recording {
                Some(t) => t.clone(),
                None => covering_recording(&dev, start, end).await?,
            };
            dev.replay_uri(&token).await?
        }
    };
    crate::replay::backfill(&uri, start, end, &root, camera, &fetch).await
}

/// The recording of `dev` whose span overlaps `[start, end)` (the first listed when
/// several do).
async fn covering_recording(
    dev: &OnvifDevice,
    start: SystemTime,
    end: SystemTime,
) -> Result<String, ReplayError> {
    let no_recording = |detail: String| ReplayError::NoRecording {
        start: crate::export::rfc3339(start),
        end: crate::export::rfc3339(end),
        detail,
    };
    let (s, e) = (
        jiff::Timestamp::try_from(start).map_err(|e| no_recording(e.to_string()))?,
        jiff::Timestamp::try_from(end).map_err(|e| no_recording(e.to_string()))?,
    );
    match covering(&dev.recordings().await?, s, e) {
        Covering::One(token) => Ok(token),
        Covering::Several(tokens) => Ok(tokens.into_iter().next().unwrap_or_default()),
        Covering::NoneOf(listed) => Err(no_recording(format!(
            "none of the device's {listed} recordings covers the gap"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn short_gaps_are_left_and_long_ones_fetched_from_their_end() {
        let o = BackfillOptions::new(BackfillSource::ReplayUri("rtsp://d/r".into()));
        assert_eq!(o.span(at(100), at(101)), None, "a 1 s hiccup");
        assert_eq!(o.span(at(100), at(130)), Some((at(100), at(130))));
        assert_eq!(
            o.span(at(100), at(100 + 7200)),
            Some((at(100 + 3600), at(100 + 7200)))
        );
        assert_eq!(o.span(at(130), at(100)), None, "an inverted gap");
    }

    #[test]
    fn debug_hides_passwords_in_sources() {
        let o = BackfillOptions::new(BackfillSource::ReplayUri(
            "rtsp://admin:s3cret@10.0.0.5/replay".into(),
        ));
        let text = format!("{o:?}");
        assert!(!text.contains("s3cret"), "{text}");
    }
}

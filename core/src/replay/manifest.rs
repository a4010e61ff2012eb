//! The manifest of a fetched clip: `FILE.mp4.manifest.json` in the export format
//! ([`crate::export::Manifest`], flattened, so the same readers work) plus an `origin` block.
//!
//! A fetched clip has no source files: `sources` is empty and `root` is empty; the device
//! and the download are described by `origin`. The replay URI never carries credentials.

use serde::{Deserialize, Serialize};

use crate::export::Manifest;
use crate::export::manifest::{ManifestGap, Span};

/// The export manifest plus where the footage came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayManifest {
    /// The export manifest's fields (format, times, gaps, output and media hashes).
    #[serde(flatten)]
    pub export: Manifest,
    /// The device side of the clip.
    pub origin: Origin,
}

/// How and from where the footage was fetched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// `onvif-replay`, or `vendor-playback` (a vendor's playback URL, [`Origin::vendor`]).
    pub kind: String,
    /// The vendor URL scheme (`hikvision`, `dahua`, `uniview`) of a `vendor-playback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// The replay URI, credentials removed.
    pub uri: String,
    /// The RTSP `Server` header, when the device sent one.
    pub server: Option<String>,
    /// The range asked for (`Range: clock=` of the PLAY).
    pub requested: Span,
    /// What the clip presents (first shown frame to the end of the presentation).
    pub actual: Span,
    /// The `Range` the device answered the PLAY with.
    pub play_range: Option<String>,
    /// Holes in the footage inside the clip (D or E flags, or a time jump of at least
    /// [`crate::replay::FetchOptions::gap_threshold`]).
    pub gaps: Vec<ManifestGap>,
    /// `no` (as fast as the transport allows) or `yes` (real time); for vendor playback,
    /// `not sent (…)`.
    pub rate_control: String,
    /// Why `Rate-Control: no` was not used: the device's answer to it.
    pub rate_control_refused: Option<String>,
    /// Where frame times came from: `0xabac` (every stored frame had the extension),
    /// `0xabac+rtp` (some frames were timed from RTP relative to the last timed one),
    /// `rtp` (none had it: RTP time anchored at the PLAY answer's Range or the requested
    /// start).
    pub times_from: String,
    /// Frames (stored or not) whose first packet carried a 0xABAC time.
    pub frames_with_extension: u64,
    /// Frames without one.
    pub frames_without_extension: u64,
    /// 0xABAC flags seen, over all frames received.
    pub flags: FlagCounts,
    /// Frames received before the keyframe the clip starts at, or after T2, not stored.
    pub frames_not_stored: u64,
    /// Why the download stopped: `end time reached`, `terminal flag (T)`, `RTCP BYE`,
    /// `connection closed`, or `no data for N s`.
    pub ended_by: String,
    /// Wall time of the download, connect to last frame, seconds.
    pub download_wall_secs: f64,
    /// Media time stored (first stored frame to the end of the last), seconds.
    pub media_secs: f64,
    /// `media_secs / download_wall_secs`.
    pub speed: f64,
    /// The ONVIF device the replay URI came from (absent when fetched from a bare URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceOrigin>,
    /// Where the audio frames' times came from (absent without audio): `0xabac` (each
    /// frame's own stream carried the extension), `rtp` (RTP from a frame so timed),
    /// `rtp-info` (the PLAY answer's RTP-Info ties the audio's RTP clock to the video's),
    /// `arrival` (the first audio packet's arrival against the first video frame's: only
    /// right in real time), or such a list joined by `+`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_times_from: Option<String>,
}

/// The ONVIF device side of a fetch: who made the footage and how its clock stood.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceOrigin {
    /// The device service address, credentials removed.
    pub xaddr: String,
    /// GetDeviceInformation (empty strings when the device refused it).
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Serial number.
    pub serial_number: String,
    /// The recording the footage was fetched from.
    pub recording_token: String,
    /// The device clock minus ours when the download started (GetSystemDateAndTime),
    /// seconds: a device whose "UTC" is off shows here.
    pub clock_offset_secs: f64,
    /// Set when the offset is a whole number of hours (±2 min) of at least one hour: the
    /// device's "UTC" is probably its local time, and so may be the footage's times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_warning: Option<String>,
}

/// The warning of [`DeviceOrigin::clock_warning`] for a device clock `offset_secs` ahead of
/// ours (negative: behind).
pub fn clock_warning(offset_secs: f64) -> Option<String> {
    let hours = (offset_secs / 3600.0).round();
    if hours.abs() < 1.0 || (offset_secs - hours * 3600.0).abs() > 120.0 || !hours.is_finite() {
        return None;
    }
    Some(format!(
        "the device clock is {offset_secs:+.0} s ({hours:+.0} h) off UTC: its UTC is probably \
         local time, and so may be the recording's times"
    ))
}

/// Counts of the 0xABAC flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagCounts {
    /// Frames with C (clean point).
    pub clean_points: u64,
    /// Frames with D (discontinuity; the first frame after PLAY has it by design).
    pub discontinuities: u64,
    /// Frames with E (end of a contiguous section).
    pub ends_of_section: u64,
    /// Frames with T (terminal).
    pub terminal: u64,
    /// Frames with must-be-zero bits set.
    pub reserved_bits: u64,
    /// CSeq bytes seen (the low byte of the PLAY's CSeq), distinct, in order.
    pub cseqs: Vec<u8>,
}

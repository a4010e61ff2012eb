//! `FILE.mp4.manifest.json`: what an export contains and where it came from, so that anyone
//! can later check the clip against the recordings ([`super::verify()`]).
//!
//! The field names are a stable interface (documented in the README); times are RFC 3339
//! UTC; hashes are lowercase hex SHA-256; source paths are relative to the recording root,
//! `/`-separated.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The value of [`Manifest::format`] for a clip without audio (and every clip from before
/// audio was recorded); `verify` reads it and [`MANIFEST_FORMAT_AV`].
pub const MANIFEST_FORMAT: &str = "camwire-export-manifest/1";

/// The value of [`Manifest::format`] for a clip with audio tracks. Its `media_sha256` covers
/// the audio samples too, which a verifier that knows only [`MANIFEST_FORMAT`] would
/// recompute over the video alone and call a mismatch; the new name makes such a verifier
/// refuse the manifest as unknown instead of calling sound evidence tampered.
pub const MANIFEST_FORMAT_AV: &str = "camwire-export-manifest/2";

/// The manifest of one exported clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`], or [`MANIFEST_FORMAT_AV`] when the clip has audio tracks.
    pub format: String,
    /// Version of camwire that made the clip.
    pub camwire_version: String,
    /// Camera id (the directory under the root).
    pub camera_id: String,
    /// When the export finished.
    pub created: String,
    /// The recording root at export time (absolute when it could be resolved); `verify`
    /// looks for the sources under it unless told another root.
    pub root: String,
    /// The range that was asked for.
    pub requested: Span,
    /// What the clip presents: from the first displayed frame (the frame showing at the
    /// requested start, or the first one after it) to the end of the presentation (the
    /// requested end, or the end of the last frame when the recording stops earlier).
    pub actual: Span,
    /// Wall-clock of the keyframe the clip's data starts at (hidden by the edit list).
    pub preroll_start: String,
    /// Wall-clock of the last frame's start.
    pub last_frame: String,
    /// Frames presented (after the edit list).
    pub frames: u64,
    /// Video samples stored, pre-roll included (the audio's are in `tracks`).
    pub samples: u64,
    /// Every track of the clip, in track ID order: the video (ID 1) first, then the audio
    /// tracks (2, 3, ...), each with its sample count and presented wall-clock range. Empty
    /// in manifests from before tracks were listed (video only: `samples` is its count).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracks: Vec<ManifestTrack>,
    /// Holes in the recording inside the clip. In the clip, the frame before a gap stays on
    /// screen for the length of the gap, so clip time keeps following wall-clock time.
    pub gaps: Vec<ManifestGap>,
    /// Every source file samples were taken from, in order.
    pub sources: Vec<ManifestSource>,
    /// The clip file itself.
    pub output: ManifestOutput,
    /// SHA-256 of every sample's bytes, of every track, in clip order: identical in the clip
    /// and in the sources' used byte ranges, because samples are copied verbatim.
    ///
    /// Clip order is by source file (manifest order), then source fragment (file order),
    /// then track (the video, then the audio tracks in clip track ID order), then sample
    /// (decode order). It is also the order in which the samples are stored in the clip
    /// (its `mdat` payload, or its fragments' `mdat`s, read front to back), so it can be
    /// recomputed from the clip alone by reading every track's samples sorted by file offset.
    /// For a clip without audio it is the video samples in decode order, as it always was.
    pub media_sha256: String,
    /// RTP packets lost before or inside the clip's frames, as the recorder wrote them into
    /// the sources (0 in manifests from before loss was recorded).
    #[serde(default)]
    pub lost_packets: u64,
    /// Stretches of the clip whose pictures a decoder shows with concealed damage from packet
    /// loss: from the first picture after a loss to the next intact keyframe (see
    /// `crate::fmp4::DamageSpan`). Empty when nothing was lost.
    #[serde(default)]
    pub damaged: Vec<ManifestDamage>,
}

/// One track of the clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestTrack {
    /// Track ID in the clip (1: video; 2, 3, ...: audio).
    pub id: u32,
    /// `video` or `audio`.
    pub kind: String,
    /// `H.264`, `H.265`, `AAC`, `PCMU` or `PCMA`.
    pub codec: String,
    /// Media timescale (ticks per second).
    pub timescale: u32,
    /// Samples stored: frames (pre-roll included) or audio frames (AAC access units, G.711
    /// packets).
    pub samples: u64,
    /// Wall-clock range the track presents (after its edit list; RFC 3339).
    pub start: String,
    /// End of that range.
    pub end: String,
    /// Audio sample rate (audio tracks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// Audio channels (audio tracks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u16>,
}

/// What one audio track of the clip took from one source file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSourceTrack {
    /// The track's ID in the clip (see [`Manifest::tracks`]).
    pub id: u32,
    /// Its track ID in the source file.
    pub source_track_id: u32,
    /// Byte range its samples were read from, `[start, end)`: the samples of that source
    /// track in it are exactly the ones taken.
    pub bytes_used: [u64; 2],
    /// Wall-clock range of the samples used (first sample start, last sample end).
    pub time_used: Span,
    /// Samples taken.
    pub samples: u64,
}

/// An audio track of a source file left out of the clip ([`ManifestSource::audio_dropped`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDroppedAudio {
    /// The track's ID in the source file.
    pub source_track_id: u32,
    /// Its codec (`AAC`, `PCMU`, `PCMA`).
    pub codec: String,
    /// Its sample rate.
    pub sample_rate: u32,
    /// Its channels.
    pub channels: u16,
    /// Wall-clock range of its fragments that overlap what the clip presents (clipped to it).
    pub time: Span,
    /// Why: `configuration-changed` (the clip's track `clip_track_id` has another codec or
    /// configuration) or `not-in-first-file` (the file the clip starts in has no audio track
    /// at that place).
    pub reason: String,
    /// The clip's track it would have joined (`configuration-changed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_track_id: Option<u32>,
}

/// A damaged stretch inside the clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestDamage {
    /// Wall-clock start (RFC 3339): the first picture after the loss.
    pub start: String,
    /// Wall-clock end (RFC 3339): the next intact keyframe, or the end of the clip.
    pub end: String,
    /// Length in seconds.
    pub duration_secs: f64,
    /// RTP packets lost in it.
    pub lost_packets: u64,
    /// Frames in it that lost some of their own NAL units (stored with what arrived whole).
    pub damaged_frames: u64,
    /// Frames in it (shown with concealment).
    pub frames: u64,
}

/// A time range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
}

/// A gap inside the clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestGap {
    /// End of the recording before the hole (RFC 3339).
    pub start: String,
    /// Start of the recording after it (RFC 3339).
    pub end: String,
    /// Length in seconds.
    pub duration_secs: f64,
    /// The recorder's reason (from `gaps.jsonl`), when known.
    pub reason: Option<String>,
}

/// One source segment file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSource {
    /// Path relative to the root, `/`-separated (`<camera>/<date>/<start>.mp4`).
    pub path: String,
    /// File size at export time.
    pub size: u64,
    /// Bytes `0..hashed_bytes` are covered by `sha256`: the whole file, or for a file that
    /// was still being recorded, everything up to its last complete fragment.
    pub hashed_bytes: u64,
    /// SHA-256 of bytes `0..hashed_bytes`.
    pub sha256: String,
    /// True when the file was still being written when it was hashed: a recorder held its
    /// writer mark, or its tail was torn. Only the hashed prefix is checked then. A file
    /// whose recorder closed it cleanly is never growing.
    pub growing: bool,
    /// Byte range the clip's video samples were read from: `[start, end)`.
    pub bytes_used: [u64; 2],
    /// Wall-clock range of the video samples used (first sample start, last sample end).
    pub time_used: Span,
    /// Video samples taken from this file.
    pub samples: u64,
    /// What each audio track took from this file, in clip track order (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio: Vec<ManifestSourceTrack>,
    /// Audio tracks of this file recorded inside what the clip presents that the clip does
    /// not carry: a track whose codec or configuration differs from the clip's track of the
    /// same place (one track, one sample description), or one that the file the clip starts
    /// in does not have (the clip's audio tracks are that file's). Absent when nothing was
    /// left out, so that a silent stretch of a clip is never mistaken for a quiet scene.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_dropped: Vec<ManifestDroppedAudio>,
    /// For a source read from object storage: its URL, `s3://bucket/prefix/` + `path`.
    /// Absent for a local file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For an object: its ETag as the store returned it (quotes included), from the HEAD
    /// every ranged GET of the export was pinned to (`If-Match`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// For an object: where `sha256` comes from. `computed-on-read`: camwire hashed the
    /// object's bytes as the store returned them (the uploader had the store check the same
    /// SHA-256 on PUT, `x-amz-checksum-sha256`, but the client reads no stored checksum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_from: Option<String>,
}

/// The clip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestOutput {
    /// File name of the clip (the manifest sits beside it).
    pub file: String,
    /// `progressive` or `fragmented`.
    pub container: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: String,
}

/// The manifest path of a clip: `FILE.mp4` → `FILE.mp4.manifest.json`.
pub fn manifest_path(clip: &Path) -> PathBuf {
    let mut s = clip.as_os_str().to_os_string();
    s.push(".manifest.json");
    PathBuf::from(s)
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_hex() {
        assert_eq!(
            manifest_path(Path::new("/x/clip.mp4")),
            PathBuf::from("/x/clip.mp4.manifest.json")
        );
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}

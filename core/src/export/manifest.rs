//! `FILE.mp4.manifest.json`: what an export contains and where it came from, so that anyone
//! can later check the clip against the recordings ([`super::verify()`]).
//!
//! The field names are a stable interface (documented in the README); times are RFC 3339
//! UTC; hashes are lowercase hex SHA-256; source paths are relative to the recording root,
//! `/`-separated.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The value of [`Manifest::format`] this version writes and reads.
pub const MANIFEST_FORMAT: &str = "camwire-export-manifest/1";

/// The manifest of one exported clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
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
    /// Samples stored, pre-roll included.
    pub samples: u64,
    /// Holes in the recording inside the clip. In the clip, the frame before a gap stays on
    /// screen for the length of the gap, so clip time keeps following wall-clock time.
    pub gaps: Vec<ManifestGap>,
    /// Every source file samples were taken from, in order.
    pub sources: Vec<ManifestSource>,
    /// The clip file itself.
    pub output: ManifestOutput,
    /// SHA-256 of every sample's bytes, in clip order: identical in the clip and in the
    /// sources' used byte ranges, because samples are copied verbatim.
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
    /// Byte range the clip's samples were read from: `[start, end)`.
    pub bytes_used: [u64; 2],
    /// Wall-clock range of the samples used (first sample start, last sample end).
    pub time_used: Span,
    /// Samples taken from this file.
    pub samples: u64,
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

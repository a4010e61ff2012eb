//! Re-checking an exported clip against its manifest and the recordings.
//!
//! What is re-computed:
//! - the clip's size and SHA-256 (`output`);
//! - each source still present: its size and the SHA-256 of the bytes the manifest hashed
//!   (`sources`); a source that is gone (retention) is reported as missing, separately;
//! - for a source read from object storage (manifest `url`/`etag`), the object is HEADed and
//!   re-read with ranged GETs: size and SHA-256 as above, then its ETag;
//! - the media hash (`media`): the SHA-256 of the clip's samples, read back through the
//!   clip's own sample tables, and of the source samples in the manifest's byte ranges, must
//!   both equal `media_sha256`. This ties the clip's pictures to the recordings, even if
//!   someone replaced the clip and rewrote its hash in the manifest. Every track counts: the
//!   clip's samples of all its tracks are hashed in file-offset order (the manifest's clip
//!   order), the sources' per track in their own used byte ranges (`audio[]` of each
//!   source), fragment by fragment, video first.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::fmp4::{
    BoxIter, FileBoxIter, MAX_MOOV_BYTES, find_path, read_body, read_fragment_samples,
    read_init_with_defaults, read_track_samples, scan_fragments,
};

use super::ExportError;
use super::clip::{COPY_BUFFER, hash_prefix};
use super::manifest::{MANIFEST_FORMAT, MANIFEST_FORMAT_AV, Manifest, hex, manifest_path};
use super::progress::{Meter, Progress};
use super::storage::{OpenSourceError, Segment, Storage};

/// How one file compares with the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Size and hash as recorded.
    Match,
    /// The file is not there (a source removed by retention, or a moved clip).
    Missing,
    /// Its size differs from the manifest's.
    SizeMismatch {
        /// Manifest size.
        expected: u64,
        /// Size now.
        actual: u64,
    },
    /// Its SHA-256 differs.
    HashMismatch {
        /// Manifest hash.
        expected: String,
        /// Hash now.
        actual: String,
    },
    /// Size and SHA-256 match, but the object's ETag is not the one the manifest names
    /// (the object was written again, e.g. copied or re-uploaded in parts).
    ETagMismatch {
        /// Manifest ETag.
        expected: String,
        /// ETag now.
        actual: String,
    },
    /// It could not be read (permissions, I/O error, a store error, a path escaping the
    /// root).
    Unreadable(String),
}

impl FileStatus {
    /// True for [`FileStatus::Match`].
    pub fn is_match(&self) -> bool {
        *self == FileStatus::Match
    }

    fn describe(&self) -> String {
        match self {
            FileStatus::Match => "matches".into(),
            FileStatus::Missing => "missing".into(),
            FileStatus::SizeMismatch { expected, actual } => {
                format!("size is {actual} bytes, manifest says {expected}")
            }
            FileStatus::HashMismatch { expected, actual } => {
                format!("SHA-256 is {actual}, manifest says {expected}")
            }
            FileStatus::ETagMismatch { expected, actual } => {
                format!("ETag is {actual}, manifest says {expected} (bytes match)")
            }
            FileStatus::Unreadable(why) => format!("unreadable: {why}"),
        }
    }
}

/// One source file's check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceCheck {
    /// Path relative to the root, as in the manifest.
    pub path: String,
    /// Where it was looked for when that is not a local path: the object's URL
    /// (`s3://bucket/prefix/<path>`).
    pub location: Option<String>,
    /// Result.
    pub status: FileStatus,
}

/// The media-hash check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaStatus {
    /// The clip's samples and the sources' used samples both hash to `media_sha256`.
    Match,
    /// The clip's samples hash to `media_sha256`; some sources are missing, so the source
    /// side could not be checked.
    ClipOnly,
    /// Something hashes differently: `which` is "clip" or "sources".
    Mismatch {
        /// "clip" or "sources".
        which: &'static str,
        /// Manifest value.
        expected: String,
        /// Re-computed value.
        actual: String,
    },
    /// Could not be computed (the clip or a source does not parse).
    NotChecked(String),
}

/// Everything `verify` found.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// The clip checked.
    pub clip: PathBuf,
    /// Its manifest.
    pub manifest_path: PathBuf,
    /// The manifest as read.
    pub manifest: Manifest,
    /// The clip against `output`.
    pub output: FileStatus,
    /// Each source, in manifest order.
    pub sources: Vec<SourceCheck>,
    /// The media hash.
    pub media: MediaStatus,
}

impl VerifyReport {
    /// True when nothing that could be checked differs: the clip matches, every present
    /// source matches, and the media hash agrees. Missing sources do not make this false
    /// (retention removes old recordings; see [`Self::missing_sources`]).
    pub fn ok(&self) -> bool {
        self.output.is_match()
            && self
                .sources
                .iter()
                .all(|s| matches!(s.status, FileStatus::Match | FileStatus::Missing))
            && matches!(self.media, MediaStatus::Match | MediaStatus::ClipOnly)
    }

    /// Sources no longer present.
    pub fn missing_sources(&self) -> Vec<&str> {
        self.sources
            .iter()
            .filter(|s| s.status == FileStatus::Missing)
            .map(|s| s.path.as_str())
            .collect()
    }

    /// One line per thing that does not match, naming the file.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.output.is_match() {
            out.push(format!(
                "clip {}: {}",
                self.clip.display(),
                self.output.describe()
            ));
        }
        for s in &self.sources {
            if !matches!(s.status, FileStatus::Match | FileStatus::Missing) {
                let name = s.location.as_deref().unwrap_or(&s.path);
                out.push(format!("source {name}: {}", s.status.describe()));
            }
        }
        match &self.media {
            MediaStatus::Mismatch {
                which,
                expected,
                actual,
            } => out.push(format!(
                "media of the {which}: SHA-256 of the samples is {actual}, manifest says {expected}"
            )),
            MediaStatus::NotChecked(why) => out.push(format!("media not checked: {why}")),
            MediaStatus::Match | MediaStatus::ClipOnly => {}
        }
        out
    }
}

/// Verifies `clip` against `clip.manifest.json`, finding sources under the manifest's root.
pub fn verify(clip: &Path) -> Result<VerifyReport, ExportError> {
    verify_with_root(clip, None)
}

/// [`verify`], looking for the sources under `root` instead (evidence moved elsewhere; an
/// `s3://bucket/prefix` path under feature `s3`). Errors only when the manifest cannot be
/// read or the root cannot be opened; every file problem is in the report.
pub fn verify_with_root(clip: &Path, root: Option<&Path>) -> Result<VerifyReport, ExportError> {
    verify_with_progress(clip, root, &|_| {})
}

/// [`verify_with_root`], calling `progress` as it re-hashes the clip, the sources and the
/// samples (on this thread, about once per MiB read).
pub fn verify_with_progress(
    clip: &Path,
    root: Option<&Path>,
    progress: &dyn Fn(Progress),
) -> Result<VerifyReport, ExportError> {
    let storage = match root {
        Some(r) => Some(Storage::open(r)?),
        None => None,
    };
    verify_with_storage(clip, storage.as_ref(), progress)
}

/// [`verify_with_progress`] with the sources' root given as a [`Storage`] (an S3 root with
/// explicit settings, say); `None`: the manifest's `root` (an `s3://` root then takes its
/// settings from the AWS variables).
pub fn verify_with_storage(
    clip: &Path,
    root: Option<&Storage>,
    progress: &dyn Fn(Progress),
) -> Result<VerifyReport, ExportError> {
    let meter = Meter::new(progress);
    let mpath = manifest_path(clip);
    let bad = |reason: String| ExportError::Manifest {
        path: mpath.clone(),
        reason,
    };
    let text = std::fs::read(&mpath).map_err(|e| bad(e.to_string()))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    if manifest.format != MANIFEST_FORMAT && manifest.format != MANIFEST_FORMAT_AV {
        return Err(bad(format!("unknown format {:?}", manifest.format)));
    }
    let opened;
    let root = match root {
        Some(r) => r,
        None => {
            opened = Storage::open(Path::new(&manifest.root))?;
            &opened
        }
    };
    // At most: the clip twice (whole, then its samples), each source's hashed prefix, and
    // each source's used byte ranges.
    meter.start(
        manifest
            .sources
            .iter()
            .fold(manifest.output.size.saturating_mul(2), |n, s| {
                s.audio.iter().fold(
                    n.saturating_add(s.hashed_bytes)
                        .saturating_add(s.bytes_used[1].saturating_sub(s.bytes_used[0])),
                    |n, a| n.saturating_add(a.bytes_used[1].saturating_sub(a.bytes_used[0])),
                )
            }),
    );

    let output = check_whole(clip, manifest.output.size, &manifest.output.sha256, &meter);

    let mut sources = Vec::new();
    let mut holds = Vec::new();
    for s in &manifest.sources {
        let location = root.source_url(&s.path);
        let status = match root.open_manifest_source(&s.path) {
            Err(OpenSourceError::LeavesRoot) => {
                FileStatus::Unreadable("path leaves the root".into())
            }
            Err(OpenSourceError::Failed(e)) => FileStatus::Unreadable(e.to_string()),
            Ok(None) => FileStatus::Missing,
            Ok(Some(seg)) => {
                let st = check_source(&seg, s, &meter);
                let name = location.clone().unwrap_or_else(|| s.path.clone());
                holds.push((name, seg));
                st
            }
        };
        sources.push(SourceCheck {
            path: s.path.clone(),
            location,
            status,
        });
    }

    let media = match media_of_clip(clip, &manifest.output.container, &meter) {
        Err(e) => MediaStatus::NotChecked(format!("clip: {e}")),
        Ok(h) if h != manifest.media_sha256 => MediaStatus::Mismatch {
            which: "clip",
            expected: manifest.media_sha256.clone(),
            actual: h,
        },
        Ok(_) if holds.len() < manifest.sources.len() => MediaStatus::ClipOnly,
        // A clip fetched from a device (`crate::replay`) has no source files: its media hash
        // is checked against the clip alone.
        Ok(_) if manifest.sources.is_empty() => MediaStatus::ClipOnly,
        Ok(_) => match media_of_sources(&holds, &manifest, &meter) {
            Err(e) => MediaStatus::NotChecked(format!("sources: {e}")),
            Ok(h) if h != manifest.media_sha256 => MediaStatus::Mismatch {
                which: "sources",
                expected: manifest.media_sha256.clone(),
                actual: h,
            },
            Ok(_) => MediaStatus::Match,
        },
    };
    meter.finish();
    Ok(VerifyReport {
        clip: clip.to_path_buf(),
        manifest_path: mpath,
        manifest,
        output,
        sources,
        media,
    })
}

fn check_whole(path: &Path, size: u64, sha: &str, meter: &Meter) -> FileStatus {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return FileStatus::Missing,
        Err(e) => return FileStatus::Unreadable(e.to_string()),
    };
    let len = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => return FileStatus::Unreadable(e.to_string()),
    };
    if len != size {
        return FileStatus::SizeMismatch {
            expected: size,
            actual: len,
        };
    }
    compare_hash(&mut &file, size, sha, meter)
}

fn compare_hash<R: Read + Seek + ?Sized>(
    r: &mut R,
    len: u64,
    sha: &str,
    meter: &Meter,
) -> FileStatus {
    match hash_prefix(r, len, meter) {
        Ok(h) if h == sha => FileStatus::Match,
        Ok(h) => FileStatus::HashMismatch {
            expected: sha.to_string(),
            actual: h,
        },
        Err(e) => FileStatus::Unreadable(e.to_string()),
    }
}

fn check_source(seg: &Segment, s: &super::manifest::ManifestSource, meter: &Meter) -> FileStatus {
    let len = match seg.len() {
        Ok(n) => n,
        Err(e) => return FileStatus::Unreadable(e.to_string()),
    };
    // A file being recorded at export time may have grown since; only its hashed prefix is
    // evidence. Any other file must be exactly as it was.
    let size_ok = if s.growing {
        len >= s.hashed_bytes
    } else {
        len == s.size
    };
    if !size_ok {
        return FileStatus::SizeMismatch {
            expected: if s.growing { s.hashed_bytes } else { s.size },
            actual: len,
        };
    }
    let status = compare_hash(&mut seg.reader(), s.hashed_bytes, &s.sha256, meter);
    if !status.is_match() {
        return status;
    }
    let etag_now = seg.object().and_then(|(_, e)| e);
    match (&s.etag, etag_now) {
        (Some(expected), Some(actual)) if *expected != actual => FileStatus::ETagMismatch {
            expected: expected.clone(),
            actual,
        },
        _ => status,
    }
}

/// Streams `len` bytes at `offset` of `f` into `h`, counted on `meter`.
fn hash_range<R: Read + Seek + ?Sized>(
    f: &mut R,
    offset: u64,
    len: u64,
    h: &mut Sha256,
    buf: &mut [u8],
    meter: &Meter,
) -> io::Result<()> {
    f.seek(SeekFrom::Start(offset))?;
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let b = buf.get_mut(..n).unwrap_or_default();
        f.read_exact(b)?;
        h.update(&*b);
        meter.add(n as u64);
        left -= n as u64;
    }
    Ok(())
}

/// SHA-256 of the clip's samples of every track, in the order they are stored in the file
/// (the manifest's clip order), through the clip's own sample tables.
fn media_of_clip(clip: &Path, container: &str, meter: &Meter) -> Result<String, String> {
    let file = File::open(clip).map_err(|e| e.to_string())?;
    let mut f: &File = &file;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut hash_sorted = |f: &mut &File, mut samples: Vec<(u64, u32)>| -> Result<(), String> {
        samples.sort_by_key(|s| s.0);
        for (offset, size) in samples {
            hash_range(f, offset, u64::from(size), &mut h, &mut buf, meter)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    if container == "fragmented" {
        let (_, defaults) = read_init_with_defaults(&mut f).map_err(|e| e.to_string())?;
        let scan = scan_fragments(&mut f).map_err(|e| e.to_string())?;
        if let Some(e) = scan.tail_error {
            return Err(e.to_string());
        }
        for fr in &scan.fragments {
            let mut samples: Vec<(u64, u32)> = read_fragment_samples(&mut f, fr, &defaults)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|s| (s.offset, s.size))
                .collect();
            for a in &scan.audio {
                let more = read_track_samples(&mut f, fr, a.track_id, &a.defaults)
                    .map_err(|e| e.to_string())?;
                samples.extend(more.iter().map(|s| (s.offset, s.size)));
            }
            hash_sorted(&mut f, samples)?;
        }
        return Ok(hex(&h.finalize()));
    }
    let mut moov = Vec::new();
    {
        let mut it = FileBoxIter::new(&mut f).map_err(|e| e.to_string())?;
        while let Some(b) = it.next() {
            let b = b.map_err(|e| e.to_string())?;
            if &b.fourcc == b"moov" {
                read_body(it.source(), &b, MAX_MOOV_BYTES, &mut moov).map_err(|e| e.to_string())?;
                break;
            }
        }
    }
    // Every track's samples (the sample tables of a moov of at most MAX_MOOV_BYTES bound
    // how many), then all of them in file order.
    let mut samples = Vec::new();
    let mut traks = 0;
    for b in BoxIter::new(&moov, 0) {
        let b = b.map_err(|e| e.to_string())?;
        if &b.fourcc != b"trak" {
            continue;
        }
        traks += 1;
        let stbl = find_path(b.body, &[b"mdia", b"minf", b"stbl"]).ok_or("no stbl")?;
        trak_samples(stbl, &mut samples)?;
    }
    if traks == 0 {
        return Err("no stbl".into());
    }
    hash_sorted(&mut f, samples)?;
    Ok(hex(&h.finalize()))
}

/// Appends (file offset, size) of every sample of one track's `stbl` to `out`.
fn trak_samples(stbl: &[u8], out: &mut Vec<(u64, u32)>) -> Result<(), String> {
    let stsz = find_path(stbl, &[b"stsz"]).ok_or("no stsz")?;
    let stsc = find_path(stbl, &[b"stsc"]).ok_or("no stsc")?;
    let (offsets, wide) = match find_path(stbl, &[b"stco"]) {
        Some(b) => (b, false),
        None => (find_path(stbl, &[b"co64"]).ok_or("no stco/co64")?, true),
    };
    let be32 = |b: &[u8], at: usize| -> Result<u32, String> {
        b.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| "sample table shorter than its count".to_string())
    };
    let fixed = be32(stsz, 4)?;
    let count = be32(stsz, 8)? as usize;
    let chunks = be32(offsets, 4)? as usize;
    let runs = be32(stsc, 4)? as usize;
    let mut sample = 0usize;
    for c in 0..chunks {
        let off = if wide {
            let hi = u64::from(be32(offsets, 8 + c * 8)?);
            (hi << 32) | u64::from(be32(offsets, 12 + c * 8)?)
        } else {
            u64::from(be32(offsets, 8 + c * 4)?)
        };
        // samples_per_chunk of the last stsc run starting at or before this chunk.
        let mut per = 0usize;
        for r in 0..runs {
            if be32(stsc, 8 + r * 12)? as usize <= c + 1 {
                per = be32(stsc, 12 + r * 12)? as usize;
            }
        }
        let mut pos = off;
        for _ in 0..per {
            if sample >= count {
                return Err("stsc lists more samples than stsz".into());
            }
            let size = if fixed != 0 {
                fixed
            } else {
                be32(stsz, 12 + sample * 4)?
            };
            out.push((pos, size));
            pos += u64::from(size);
            sample += 1;
        }
    }
    if sample != count {
        return Err("stsc lists fewer samples than stsz".into());
    }
    Ok(())
}

/// SHA-256 of the samples inside each source's used byte ranges, sources in manifest order,
/// then fragments in file order, then tracks (the video's `bytes_used`, then each of
/// `audio[]` in order), then samples: the manifest's clip order.
fn media_of_sources(
    holds: &[(String, Segment)],
    m: &Manifest,
    meter: &Meter,
) -> Result<String, String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; COPY_BUFFER];
    for ((name, seg), s) in holds.iter().zip(&m.sources) {
        let what = |e: &dyn std::fmt::Display| format!("{name}: {e}");
        let mut f = seg.reader();
        let (_, defaults) = read_init_with_defaults(&mut f).map_err(|e| what(&e))?;
        let scan = scan_fragments(&mut f).map_err(|e| what(&e))?;
        let mut audio = Vec::with_capacity(s.audio.len());
        for t in &s.audio {
            let info = scan
                .audio
                .iter()
                .find(|a| a.track_id == t.source_track_id)
                .ok_or_else(|| what(&format!("no audio track {}", t.source_track_id)))?;
            audio.push((t, info));
        }
        let ranges: Vec<[u64; 2]> = std::iter::once(s.bytes_used)
            .chain(s.audio.iter().map(|t| t.bytes_used))
            .collect();
        let mut counts = vec![0u64; ranges.len()];
        for fr in scan.fragments.iter().filter(|fr| {
            ranges
                .iter()
                .any(|r| fr.end > r[0] && fr.moof_offset < r[1])
        }) {
            let mut hash_in = |samples: &[crate::fmp4::SampleInfo],
                               [lo, hi]: [u64; 2],
                               n: &mut u64,
                               f: &mut super::storage::SegmentReader<'_>|
             -> Result<(), String> {
                for smp in samples.iter().filter(|x| x.offset >= lo && x.offset < hi) {
                    hash_range(f, smp.offset, u64::from(smp.size), &mut h, &mut buf, meter)
                        .map_err(|e| what(&e))?;
                    *n += 1;
                }
                Ok(())
            };
            let video = read_fragment_samples(&mut f, fr, &defaults).map_err(|e| what(&e))?;
            if let Some(n) = counts.get_mut(0) {
                hash_in(&video, s.bytes_used, n, &mut f)?;
            }
            for (i, (t, info)) in audio.iter().enumerate() {
                let samples = read_track_samples(&mut f, fr, info.track_id, &info.defaults)
                    .map_err(|e| what(&e))?;
                if let Some(n) = counts.get_mut(i + 1) {
                    hash_in(&samples, t.bytes_used, n, &mut f)?;
                }
            }
        }
        let expected = std::iter::once(s.samples).chain(s.audio.iter().map(|t| t.samples));
        for ((n, want), i) in counts.iter().zip(expected).zip(0usize..) {
            if *n != want {
                let track = match s.audio.get(i.wrapping_sub(1)) {
                    Some(t) if i > 0 => format!("audio track {}", t.id),
                    _ => "video".to_string(),
                };
                return Err(what(&format!(
                    "{n} {track} samples in the used range, manifest says {want}"
                )));
            }
        }
    }
    Ok(hex(&h.finalize()))
}

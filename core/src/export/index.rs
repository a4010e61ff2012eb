//! What was recorded: the segment files of a camera, the wall-clock span of each fragment,
//! and the merged time ranges with the gaps between them.
//!
//! File names (`<UTC start>.mp4`) only pick candidate files; the truth is each fragment's
//! `prft` wall-clock plus its duration. Only `moov`, `prft` and `moof` boxes are read.
//!
//! A gap is a hole between one fragment's end and the next one's start (in the same file or
//! the next) larger than the tolerance: `max(1.5 × the frame interval before it,
//! ListOptions::gap_tolerance)`. Holes no larger than that, and overlaps (a clock stepping
//! back), are treated as continuous recording. When the recorder wrote
//! `<root>/<camera>/gaps.jsonl`, a computed gap that overlaps a recorded one carries its
//! `reason`.
//!
//! Packet loss the recorder wrote into the files (the fragments' loss tables, see
//! `crate::fmp4`) is listed too: the packets lost and the damaged ranges, the seconds whose
//! pictures a decoder shows with concealment (from the first picture after a loss to the next
//! intact keyframe; [`crate::fmp4::DamageSpan`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fmp4::{
    AudioTrackInfo, DamageSpan, Fmp4Error, FragmentInfo, TrackDefaults, VideoConfig,
    read_init_with_defaults, scan_fragments,
};

use super::storage::{AsRoot, Segment, Storage};
use super::{
    ExportError, Nanos, check_camera_id, nanos_to_system, ntp_to_nanos, rfc3339, rfc3339_nanos,
    system_to_nanos, ticks_to_nanos,
};

/// How holes are told from continuous recording.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Holes up to this long are not gaps, even when longer than 1.5 frame intervals
    /// (default 0: only the frame-interval rule applies).
    pub gap_tolerance: Duration,
}

/// A span of continuous recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Wall-clock time of the first frame (clipped to the asked window).
    pub start: SystemTime,
    /// Wall-clock end of the last frame (clipped to the asked window).
    pub end: SystemTime,
}

/// A span with no recording between two recorded ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// End of the recording before it.
    pub start: SystemTime,
    /// Start of the recording after it.
    pub end: SystemTime,
    /// Why, when the recorder wrote it down in `gaps.jsonl`.
    pub reason: Option<String>,
}

/// A stretch whose pictures carry concealed damage from packet loss.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedRange {
    /// Wall-clock start (the first picture after the loss).
    pub start: SystemTime,
    /// Wall-clock end (the next intact keyframe).
    pub end: SystemTime,
    /// RTP packets lost in it.
    pub lost_packets: u64,
    /// Pictures in it that lost some of their own NAL units (kept with what arrived whole).
    pub damaged_frames: u64,
}

/// The recorded ranges of one camera in a window, and the gaps between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Camera id.
    pub camera: String,
    /// Continuous ranges, in time order.
    pub ranges: Vec<TimeRange>,
    /// Gaps between ranges (clipped to the window), in time order.
    pub gaps: Vec<Gap>,
    /// RTP packets lost inside the listed ranges (from the recordings' loss tables).
    pub lost_packets: u64,
    /// Damaged ranges overlapping the window (clipped to it), in time order.
    pub damaged: Vec<DamagedRange>,
}

impl Listing {
    /// The stable JSON form (documented in the README): `camera`, `ranges[]` and `gaps[]`
    /// with `start`/`end` (RFC 3339) and `duration_secs`; gaps also `reason` (or null);
    /// `lost_packets` and `damaged[]` (`start`, `end`, `duration_secs`, `lost_packets`,
    /// `damaged_frames`).
    pub fn to_json(&self) -> serde_json::Value {
        let secs = |a: SystemTime, b: SystemTime| {
            b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0)
        };
        serde_json::json!({
            "camera": self.camera,
            "ranges": self.ranges.iter().map(|r| serde_json::json!({
                "start": rfc3339(r.start),
                "end": rfc3339(r.end),
                "duration_secs": secs(r.start, r.end),
            })).collect::<Vec<_>>(),
            "gaps": self.gaps.iter().map(|g| serde_json::json!({
                "start": rfc3339(g.start),
                "end": rfc3339(g.end),
                "duration_secs": secs(g.start, g.end),
                "reason": g.reason,
            })).collect::<Vec<_>>(),
            "lost_packets": self.lost_packets,
            "damaged": self.damaged.iter().map(|d| serde_json::json!({
                "start": rfc3339(d.start),
                "end": rfc3339(d.end),
                "duration_secs": secs(d.start, d.end),
                "lost_packets": d.lost_packets,
                "damaged_frames": d.damaged_frames,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The camera ids under `root` (directories whose names are valid camera ids; on S3 the
/// prefix's "directories"), sorted.
pub fn cameras<R: AsRoot + ?Sized>(root: &R) -> Result<Vec<String>, ExportError> {
    root.storage()?.cameras()
}

/// [`cameras`] of a local root.
pub(crate) fn local_cameras(root: &Path) -> Result<Vec<String>, ExportError> {
    let rd = std::fs::read_dir(root).map_err(|e| ExportError::io(root, e))?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if e.file_type().is_ok_and(|t| t.is_dir()) && check_camera_id(&name).is_ok() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// [`ranges_with`] with default options.
pub fn ranges<R: AsRoot + ?Sized>(
    root: &R,
    camera: &str,
    start: Option<SystemTime>,
    end: Option<SystemTime>,
) -> Result<Listing, ExportError> {
    ranges_with(root, camera, start, end, &ListOptions::default())
}

/// The recorded ranges of `camera` between `start` and `end` (either open), merged across
/// contiguous files, with the gaps between them. Damaged files contribute their complete
/// fragments (a warning is logged); unreadable ones are skipped with a warning, because a
/// listing should show what can still be found.
pub fn ranges_with<R: AsRoot + ?Sized>(
    root: &R,
    camera: &str,
    start: Option<SystemTime>,
    end: Option<SystemTime>,
    opts: &ListOptions,
) -> Result<Listing, ExportError> {
    let lo = start.map_or(i64::MIN, system_to_nanos);
    let hi = end.map_or(i64::MAX, system_to_nanos);
    if lo >= hi {
        return Err(ExportError::BadRange {
            start: start.map_or_else(|| "-".into(), rfc3339),
            end: end.map_or_else(|| "-".into(), rfc3339),
        });
    }
    let storage = root.storage()?;
    let files = storage.segment_files(camera, lo, hi)?;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut damage: Vec<(Nanos, Nanos, u64, u64)> = Vec::new();
    let mut lost_packets = 0u64;
    // One more file on each side, so that a gap crossing the window's edges has both ends.
    let cands = candidates(&files, lo, hi);
    let first = cands
        .first()
        .and_then(|c| files.iter().position(|f| f.path == c.path));
    let last = cands
        .last()
        .and_then(|c| files.iter().position(|f| f.path == c.path));
    let span = match (first, last) {
        (Some(a), Some(b)) => files
            .get(a.saturating_sub(1)..=b.saturating_add(1).min(files.len().saturating_sub(1)))
            .unwrap_or_default(),
        _ => {
            // No file by name: the neighbours of the window still bound a gap over it.
            let after = files.partition_point(|f| f.name_start < hi);
            files
                .get(after.saturating_sub(1)..after.saturating_add(1).min(files.len()))
                .unwrap_or_default()
        }
    };
    let span_refs: Vec<&SegmentFile> = span.iter().collect();
    for (f, opened) in span.iter().zip(open_and_scan(&storage, &span_refs)) {
        let scanned = match opened.and_then(|o| o.map(|(_, s)| s).transpose()) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => {
                log::warn!("listing skips {}: {e}", f.path.display());
                continue;
            }
        };
        if let Some(e) = &scanned.tail_error {
            log::warn!(
                "{}: damaged or still being written after byte {} ({e})",
                f.path.display(),
                scanned.valid_len
            );
        }
        for fr in &scanned.frags {
            pieces.push(Piece {
                start: fr.start,
                end: fr.end,
                frame: fr.frame_interval(scanned.track.timescale),
            });
            if fr.end > lo && fr.start < hi {
                lost_packets += fr.info.lost_packets;
            }
        }
        damage.extend(scanned.damage.iter().map(|d| {
            let (s, e) = scanned.wall_span(d);
            (s, e, d.lost_packets, d.damaged_samples)
        }));
    }
    let (all_ranges, all_gaps) = merge(&pieces, opts);
    let recorded = parse_gaps(&storage.gaps_text(camera, span));

    let ranges = all_ranges
        .into_iter()
        .filter(|r| r.1 > lo && r.0 < hi)
        .map(|(s, e)| TimeRange {
            start: nanos_to_system(s.max(lo)),
            end: nanos_to_system(e.min(hi)),
        })
        .collect();
    let gaps = all_gaps
        .into_iter()
        .filter(|g| g.1 > lo && g.0 < hi)
        .map(|(s, e)| Gap {
            start: nanos_to_system(s.max(lo)),
            end: nanos_to_system(e.min(hi)),
            reason: reason_for(&recorded, s, e),
        })
        .collect();
    damage.sort_by_key(|d| d.0);
    let damaged = damage
        .into_iter()
        .filter(|d| d.1 >= lo && d.0 < hi)
        .map(|(s, e, lost, frames)| DamagedRange {
            start: nanos_to_system(s.max(lo)),
            end: nanos_to_system(e.min(hi)),
            lost_packets: lost,
            damaged_frames: frames,
        })
        .collect();
    Ok(Listing {
        camera: camera.to_string(),
        ranges,
        gaps,
        lost_packets,
        damaged,
    })
}

/// One fragment's span, for merging.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Piece {
    pub start: Nanos,
    pub end: Nanos,
    /// Typical frame interval in the piece (0 when unknown).
    pub frame: Nanos,
}

/// The largest hole between `prev` and the next piece that still counts as continuous.
pub(crate) fn tolerance(prev_frame: Nanos, opts: &ListOptions) -> Nanos {
    let by_frames = prev_frame.saturating_mul(3) / 2;
    let fixed = i64::try_from(opts.gap_tolerance.as_nanos()).unwrap_or(i64::MAX);
    by_frames.max(fixed)
}

/// A `(start, end)` span.
pub(crate) type Span = (Nanos, Nanos);

/// Merges pieces (in recording order) into ranges and gaps.
pub(crate) fn merge(pieces: &[Piece], opts: &ListOptions) -> (Vec<Span>, Vec<Span>) {
    let mut sorted: Vec<Piece> = pieces.to_vec();
    sorted.sort_by_key(|p| p.start);
    let mut ranges: Vec<(Nanos, Nanos)> = Vec::new();
    let mut gaps = Vec::new();
    let mut last_frame = 0;
    for p in sorted {
        match ranges.last_mut() {
            Some(cur) if p.start.saturating_sub(cur.1) <= tolerance(last_frame, opts) => {
                cur.1 = cur.1.max(p.end);
            }
            Some(cur) => {
                gaps.push((cur.1, p.start));
                ranges.push((p.start, p.end));
            }
            None => ranges.push((p.start, p.end)),
        }
        last_frame = p.frame;
    }
    (ranges, gaps)
}

/// A recording file found by its name.
#[derive(Clone, Debug)]
pub(crate) struct SegmentFile {
    pub path: PathBuf,
    /// Path relative to the root, `/`-separated (as written into manifests).
    pub rel: String,
    /// The UTC start its name says.
    pub name_start: Nanos,
}

/// The segment files of a camera under a local root, sorted by start time (then name).
pub(crate) fn local_segment_files(
    root: &Path,
    camera: &str,
) -> Result<Vec<SegmentFile>, ExportError> {
    check_camera_id(camera)?;
    let cam_dir = root.join(camera);
    let days = match std::fs::read_dir(&cam_dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ExportError::UnknownCamera {
                camera: camera.to_string(),
                root: root.to_path_buf(),
            });
        }
        Err(e) => return Err(ExportError::io(&cam_dir, e)),
    };
    let mut out = Vec::new();
    for day in days.flatten() {
        let Ok(day_name) = day.file_name().into_string() else {
            continue;
        };
        if !day.file_type().is_ok_and(|t| t.is_dir()) || !looks_like_day(&day_name) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for f in files.flatten() {
            let Ok(name) = f.file_name().into_string() else {
                continue;
            };
            if !f.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            if let Some(start) = parse_segment_name(&name) {
                out.push(SegmentFile {
                    path: f.path(),
                    rel: format!("{camera}/{day_name}/{name}"),
                    name_start: start,
                });
            }
        }
    }
    out.sort_by(|a, b| (a.name_start, &a.rel).cmp(&(b.name_start, &b.rel)));
    Ok(out)
}

pub(crate) fn looks_like_day(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// `YYYYMMDDTHHMMSS.mmmZ.mp4`, optionally `...Z-N.mp4`, to its UTC start.
pub(crate) fn parse_segment_name(name: &str) -> Option<Nanos> {
    let stem = name.strip_suffix(".mp4")?;
    let stem = match stem.split_once("Z-") {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        Some(_) => return None,
        None => stem.strip_suffix('Z')?,
    };
    // stem: YYYYMMDDTHHMMSS.mmm
    let b = stem.as_bytes();
    if b.len() != 19 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'.') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let s = stem.get(r)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let dt = jiff::civil::DateTime::new(
        i16::try_from(num(0..4)?).ok()?,
        i8::try_from(num(4..6)?).ok()?,
        i8::try_from(num(6..8)?).ok()?,
        i8::try_from(num(9..11)?).ok()?,
        i8::try_from(num(11..13)?).ok()?,
        i8::try_from(num(13..15)?).ok()?,
        num(16..19)?.checked_mul(1_000_000)?,
    )
    .ok()?;
    let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(system_to_nanos(SystemTime::from(ts)))
}

/// How far before the window a file may start and still hold part of it, when its successor's
/// name time is not a bound (clock steps); generous, since scanning an extra file is cheap.
pub(crate) const NAME_SLACK: Nanos = 5_000_000_000;

/// The files that may hold frames in `[lo, hi)`: a file covers at most from its name time to
/// its successor's.
pub(crate) fn candidates(files: &[SegmentFile], lo: Nanos, hi: Nanos) -> Vec<&SegmentFile> {
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if f.name_start.saturating_sub(NAME_SLACK) >= hi {
            break;
        }
        let next = files.get(i + 1).map_or(i64::MAX, |n| n.name_start);
        if next.saturating_add(NAME_SLACK) > lo {
            out.push(f);
        }
    }
    out
}

/// One fragment with its wall-clock span.
#[derive(Clone, Debug)]
pub(crate) struct Frag {
    pub info: FragmentInfo,
    /// Wall-clock of media time `anchor_media` (from this fragment's `prft`, or the last one
    /// before it in the file, or the file name for a file without any).
    pub anchor: Nanos,
    pub anchor_media: u64,
    pub start: Nanos,
    pub end: Nanos,
}

impl Frag {
    /// Wall-clock of decode time `t` of this file.
    pub fn wall(&self, t: u64, timescale: u32) -> Nanos {
        let d = i128::from(t) - i128::from(self.anchor_media);
        let d = i64::try_from(d).unwrap_or(0);
        self.anchor.saturating_add(ticks_to_nanos(d, timescale))
    }

    /// Wall-clock of decode time `t` of a track with timescale `timescale` of this file,
    /// whose video track has timescale `video_timescale`. Every track of a camwire file
    /// shares one decode-time zero (the recorder places each track's `tfdt` on the file's
    /// timeline), so the video's `prft` anchor places the audio too.
    pub fn wall_of_track(&self, t: u64, timescale: u32, video_timescale: u32) -> Nanos {
        let t = ticks_to_nanos(i64::try_from(t).unwrap_or(i64::MAX), timescale);
        let anchor = ticks_to_nanos(
            i64::try_from(self.anchor_media).unwrap_or(i64::MAX),
            video_timescale,
        );
        self.anchor.saturating_add(t.saturating_sub(anchor))
    }

    fn frame_interval(&self, timescale: u32) -> Nanos {
        if self.info.sample_count == 0 {
            return 0;
        }
        let per = self.info.duration / u64::from(self.info.sample_count);
        ticks_to_nanos(i64::try_from(per).unwrap_or(0), timescale)
    }
}

/// A scanned segment file.
#[derive(Debug)]
pub(crate) struct ScannedFile {
    pub file: SegmentFile,
    pub track: VideoConfig,
    pub defaults: TrackDefaults,
    /// The audio tracks of its init segment (empty for a video-only file).
    pub audio: Vec<AudioTrackInfo>,
    pub file_len: u64,
    /// Bytes up to the end of the last complete fragment.
    pub valid_len: u64,
    /// Why the scan stopped early (a torn or damaged tail), if it did.
    pub tail_error: Option<Fmp4Error>,
    pub frags: Vec<Frag>,
    /// Damaged ranges in the file's decode time (see [`DamageSpan`]).
    pub damage: Vec<DamageSpan>,
}

impl ScannedFile {
    /// Wall-clock span of a damaged range: each end through the fragment that holds it.
    pub(crate) fn wall_span(&self, d: &DamageSpan) -> (Nanos, Nanos) {
        let ts = self.track.timescale;
        let wall = |t: i64| {
            let t = u64::try_from(t).unwrap_or(0);
            let fr = self
                .frags
                .iter()
                .rev()
                .find(|f| f.info.base_decode_time <= t)
                .or(self.frags.first());
            fr.map_or(self.file.name_start, |f| f.wall(t, ts))
        };
        (wall(d.start), wall(d.end))
    }
}

/// What [`open_and_scan`] found for one file: `None` when it is gone; the scan's own result.
pub(crate) type Opened = Option<(Segment, Result<ScannedFile, ExportError>)>;

/// Opens and scans `files`, results in their order. On object storage, where each file costs
/// a few round trips, up to [`PARALLEL_SCANS`] at once; locally one after the other.
pub(crate) fn open_and_scan(
    storage: &Storage,
    files: &[&SegmentFile],
) -> Vec<Result<Opened, ExportError>> {
    let one = |f: &SegmentFile| -> Result<Opened, ExportError> {
        Ok(storage.open_segment(f)?.map(|seg| {
            let scanned = scan_file(f, &mut seg.reader());
            (seg, scanned)
        }))
    };
    let workers = PARALLEL_SCANS.min(files.len());
    if storage.is_local() || workers <= 1 {
        return files.iter().map(|f| one(f)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<Opened, ExportError>>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|sc| {
        for _ in 0..workers {
            sc.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let (Some(f), Some(slot)) = (files.get(i), slots.get(i)) else {
                        break;
                    };
                    let r = one(f);
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or(Ok(None))
        })
        .collect()
}

/// Files scanned at once from object storage.
pub(crate) const PARALLEL_SCANS: usize = 8;

/// Reads the init segment and the fragment headers of one file.
pub(crate) fn scan_file<R: std::io::Read + std::io::Seek + ?Sized>(
    f: &SegmentFile,
    r: &mut R,
) -> Result<ScannedFile, ExportError> {
    let scan = scan_fragments(r).map_err(|e| ExportError::source(&f.path, e))?;
    let (track, defaults) = match (scan.track, scan.init_end) {
        (Some(t), Some(_)) => (t, scan.defaults),
        // scan_fragments logs and skips an unreadable moov; ask again for the typed reason.
        _ => match read_init_with_defaults(r) {
            Ok(v) => v,
            Err(e) => {
                let e = scan.tail_error.unwrap_or(e);
                return Err(ExportError::source(&f.path, e));
            }
        },
    };
    let ts = track.timescale;
    let damage = scan.damage;
    let audio = scan.audio;
    let mut frags = Vec::with_capacity(scan.fragments.len());
    let mut anchor: Option<(Nanos, u64)> = None;
    for info in scan.fragments {
        if let (Some(ntp), Some(mt)) = (info.ntp, info.ntp_media_time) {
            anchor = Some((ntp_to_nanos(ntp), mt));
        }
        let (a, am) = anchor.unwrap_or((f.name_start, 0));
        let mut fr = Frag {
            info,
            anchor: a,
            anchor_media: am,
            start: 0,
            end: 0,
        };
        fr.start = fr.wall(fr.info.base_decode_time, ts);
        fr.end = fr.wall(
            fr.info.base_decode_time.saturating_add(fr.info.duration),
            ts,
        );
        frags.push(fr);
    }
    Ok(ScannedFile {
        file: f.clone(),
        track,
        defaults,
        audio,
        file_len: scan.file_len,
        valid_len: scan.valid_len,
        tail_error: scan.tail_error,
        frags,
        damage,
    })
}

/// Gaps the recorder wrote down (`gaps.jsonl`): one JSON object per line with `start` and
/// `end` (RFC 3339) and `reason`. Lines that do not parse are ignored: the file is advisory,
/// the recordings themselves are the truth.
pub(crate) fn parse_gaps(text: &str) -> Vec<(Nanos, Nanos, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let time = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .and_then(|s| super::parse_rfc3339(s).ok())
                .map(system_to_nanos)
        };
        if let (Some(s), Some(e)) = (time("start"), time("end")) {
            let reason = v
                .get("reason")
                .map(|r| r.as_str().map_or_else(|| r.to_string(), str::to_string))
                .unwrap_or_default();
            out.push((s, e, reason));
        }
    }
    out
}

/// The reason of the first recorded gap overlapping `[s, e]`.
pub(crate) fn reason_for(
    recorded: &[(Nanos, Nanos, String)],
    s: Nanos,
    e: Nanos,
) -> Option<String> {
    recorded
        .iter()
        .find(|g| g.0 <= e && g.1 >= s)
        .map(|g| g.2.clone())
}

/// For messages: a time as RFC 3339.
pub(crate) fn show(n: Nanos) -> String {
    rfc3339_nanos(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names() {
        let a = parse_segment_name("20251123T120001.250Z.mp4").expect("plain");
        assert_eq!(show(a), "2025-11-23T12:00:01.25Z");
        assert_eq!(parse_segment_name("20251123T120001.250Z-2.mp4"), Some(a));
        for bad in [
            "20251123T120001.250Z.mp4.part",
            "20251123T120001.250Z-x.mp4",
            "20251323T120001.250Z.mp4",
            "2025112T120001.250Z.mp4",
            "notes.mp4",
            "20251123T1200+1.250Z.mp4",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
        assert!(looks_like_day("2025-11-23"));
        assert!(!looks_like_day("2025-11-2x"));
    }

    #[test]
    fn merging_finds_gaps_beyond_the_tolerance() {
        let ms = 1_000_000;
        let p = |s: i64, e: i64| Piece {
            start: s * ms,
            end: e * ms,
            frame: 40 * ms,
        };
        let opts = ListOptions::default();
        // 50 ms hole (< 60 ms): continuous; 500 ms hole: a gap; overlap: continuous.
        let (r, g) = merge(
            &[p(0, 1000), p(1050, 2000), p(2500, 3000), p(2990, 4000)],
            &opts,
        );
        assert_eq!(r, vec![(0, 2000 * ms), (2500 * ms, 4000 * ms)]);
        assert_eq!(g, vec![(2000 * ms, 2500 * ms)]);
        let wide = ListOptions {
            gap_tolerance: Duration::from_secs(1),
        };
        let (r, g) = merge(&[p(0, 1000), p(1500, 2000)], &wide);
        assert_eq!((r.len(), g.len()), (1, 0));
    }

    #[test]
    fn candidates_by_name() {
        let s = 1_000_000_000i64;
        let f = |t: i64| SegmentFile {
            path: PathBuf::new(),
            rel: String::new(),
            name_start: t * s,
        };
        let files = [f(0), f(60), f(120), f(180)];
        let c = candidates(&files, 70 * s, 80 * s);
        assert_eq!(c.iter().map(|f| f.name_start / s).collect::<Vec<_>>(), [60]);
        let c = candidates(&files, 1000 * s, 2000 * s);
        assert_eq!(c.len(), 1, "the last file may run on");
    }
}

//! Exporting T1..T2 of one camera into one MP4, across segment files.
//!
//! Two passes, so memory does not depend on how many bytes the clip has:
//! 1. Plan: scan the candidate files' fragment headers, read the sample tables of the
//!    fragments in range (one `moof` at a time), and keep a 12-byte entry per sample (size,
//!    duration, sync flag, composition offset) plus one entry per source fragment. From these
//!    the whole `moov` (and so where the `mdat` payload starts) is computed up front.
//! 2. Copy: per source fragment, re-read its sample table, check it still says what the plan
//!    read, and stream the sample bytes through one fixed [`COPY_BUFFER`] into the output,
//!    hashing as they go. No NAL unit is parsed or rewritten: SEI (signing SEI included),
//!    parameter sets in band, everything the camera sent stays byte for byte.
//!
//! Peak memory is therefore about `COPY_BUFFER` + the output's write buffer + one `moof` +
//! the clip's sample table, which the `moov` has to contain anyway: 16 bytes per frame in the
//! plan (up to twice that while its vector grows) plus ~8 in the `moov` being written, so
//! under 64 bytes per frame (< 6 MB per hour at 25 fps), independent of bitrate.
//! `core/tests/export_memory.rs` measures it.
//!
//! Decisions where a clip could be built several ways:
//! - Start: the keyframe at or before T1 (within the same file); the edit list starts
//!   presentation at the frame showing at T1 (snapped down to that frame's start, so that
//!   every player shows that whole frame first). If T1 falls in a gap or before the first
//!   recording, presentation starts at the first frame after it. "Showing" is by
//!   presentation time: with B-frames a sample's decode time runs up to the reorder delay
//!   ahead of it, and the frame decoded at T1 is not the one on screen.
//! - End: the last frame starting before T2 (by wall clock) is the last one stored, and it
//!   is presented: the edit ends T2 − (that frame's wall clock) into it, or at its end when
//!   the recording stops earlier. So the presented duration is T2 − T1 plus less than one
//!   frame, and every stored frame from the one at T1 on is shown, even where the camera's
//!   clock stepped a little between fragments (the manifest's `frames` is what decodes).
//! - Gaps inside the range: the frame before a gap is held (its duration covers the gap), so
//!   clip time keeps following wall-clock time; each gap is listed in the manifest.
//! - Packet loss inside the range (the sources' loss tables): the frames are copied as
//!   recorded, and the manifest lists the lost packets and the damaged ranges (from the first
//!   frame after a loss to the next intact keyframe, clipped to what the clip presents).
//! - Audio tracks (those of the file the clip starts in, in its order): each is cut to the
//!   range the video presents (the manifest's `actual`, which is T1..T2 snapped to the frames
//!   showing there), by wall clock: the audio samples overlapping it, from the first to the
//!   last one in each source file (everything between is copied, so each source's samples
//!   are one run). A sample's wall clock comes from its own `tfdt` on the file's timeline,
//!   placed by the video fragment's `prft` (all tracks of a file share one decode-time zero),
//!   so files are joined by their own clocks and the audio keeps its place relative to the
//!   video. Within the clip, audio samples are laid end to end as recorded; a hole longer than
//!   1.5 sample durations (a gap between files, lost packets the recorder did not stretch
//!   over) stretches the sample before it, as for video. Each audio track gets its own edit
//!   list: an empty edit when it starts after the video's first presented frame, or a media
//!   time skipping the part of its first sample before it. A file whose track of that lane
//!   has another codec or configuration contributes no audio to it (one track, one sample
//!   description), and neither does a track at a place the first file has none: each such
//!   track is named in its source's `audio_dropped` in the manifest with the wall-clock
//!   span it covered, so that the silence in the clip is explained where the evidence is
//!   read, not only in a log. An audio track left with no sample is not written.
//! - SPS/PPS changing between files inside the range: refused with
//!   [`ExportError::ParameterSetsChanged`] naming the time to split at (one track, one sample
//!   description, plays everywhere).
//! - A source file with a damaged tail that the range runs past is refused
//!   ([`ExportError::Source`]), unless it is the camera's newest file (still being written):
//!   its complete fragments are used.
//! - The output is written to a temporary name and linked into place at the end; an existing
//!   output is never overwritten ([`ExportError::OutputExists`]).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::fmp4::{
    AudioConfig, DamageSpan, DamageTracker, SampleInfo, TRACK_ID, VideoConfig, audio_track_id,
    read_fragment_samples, read_track_samples,
};

use super::index::{
    ListOptions, ScannedFile, candidates, open_and_scan, parse_gaps, reason_for, show, tolerance,
};
use super::manifest::{
    MANIFEST_FORMAT, MANIFEST_FORMAT_AV, Manifest, ManifestDamage, ManifestDroppedAudio,
    ManifestGap, ManifestOutput, ManifestSource, ManifestSourceTrack, ManifestTrack, Span, hex,
    manifest_path,
};
use super::mp4_writer::{
    AudioEdit, ChunkLayout, ClipAudio, ClipSample, Edit, TrafRun, fragment_header_tracks,
    fragmented_av_moov, ftyp, mdat_header, mdat_header_len, progressive_av_moov,
};
use super::progress::{Meter, Progress};
use super::storage::{AsRoot, Segment, SegmentReader};
use super::{
    ExportError, Nanos, nanos_to_ntp, nanos_to_ticks, rfc3339, system_to_nanos, ticks_to_nanos,
};

/// Bytes copied per read while streaming samples (and hashing sources).
pub const COPY_BUFFER: usize = 256 << 10;

/// Container of the clip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// `moov` first, then one `mdat`: plays everywhere (default).
    #[default]
    Progressive,
    /// `moov` + one `moof`/`mdat` per source fragment, each with its `prft` wall-clock.
    Fragmented,
}

impl OutputFormat {
    fn name(self) -> &'static str {
        match self {
            OutputFormat::Progressive => "progressive",
            OutputFormat::Fragmented => "fragmented",
        }
    }
}

/// How to export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Container of the clip.
    pub format: OutputFormat,
    /// What counts as a gap.
    pub list: ListOptions,
}

/// What an export wrote.
#[derive(Clone, Debug)]
pub struct ExportSummary {
    /// The clip.
    pub output: PathBuf,
    /// Its manifest (`output` + `.manifest.json`).
    pub manifest_path: PathBuf,
    /// The manifest's content.
    pub manifest: Manifest,
}

struct Source {
    scanned: ScannedFile,
    seg: Segment,
    newest: bool,
    /// What the plan takes from it (a `Cell`: the plan reads through the sources while it
    /// records this).
    used: std::cell::Cell<Option<Used>>,
}

#[derive(Clone, Copy)]
struct Used {
    byte_start: u64,
    byte_end: u64,
    t_start: Nanos,
    t_end: Nanos,
    samples: u64,
}

/// One run of samples of one track from one source fragment.
struct Chunk {
    src: usize,
    frag: usize,
    /// 0: the video; `1 + i`: audio track `i` of [`Plan::audio`].
    track: usize,
    /// The source's track ID of an audio chunk (0 for video).
    src_track: u32,
    /// Index of its first sample within the source fragment.
    first: usize,
    /// Index of its first sample in the clip.
    out_first: usize,
    layout: ChunkLayout,
    out_dts: u64,
    wall: Nanos,
}

/// An audio track of a source left out of the clip (see [`ManifestDroppedAudio`]).
struct Dropped {
    src: usize,
    track_id: u32,
    config: AudioConfig,
    span: (Nanos, Nanos),
    /// The clip's track ID it would have joined; `None`: the first file has no such track.
    clip_track: Option<u32>,
}

/// One audio track of the clip.
struct AudioPlan {
    /// Its track ID in the clip.
    track_id: u32,
    config: AudioConfig,
    samples: Vec<ClipSample>,
    chunks: Vec<ChunkLayout>,
    edit: AudioEdit,
    /// Wall-clock range it presents.
    start_wall: Nanos,
    end_wall: Nanos,
    /// What it took from each source: (source index, source track ID, what).
    used: Vec<(usize, u32, Used)>,
}

struct Plan {
    track: VideoConfig,
    samples: Vec<ClipSample>,
    /// Every track's chunks in storage order: by source, fragment, then track.
    chunks: Vec<Chunk>,
    audio: Vec<AudioPlan>,
    display_index: usize,
    /// Frames the edit list presents (from `display_index` on, in presentation order).
    shown_frames: u64,
    display_wall: Nanos,
    preroll_wall: Nanos,
    last_wall: Nanos,
    /// Wall-clock end of what is presented: T2, or the last frame's end when earlier.
    end_wall: Nanos,
    gaps: Vec<(Nanos, Nanos)>,
    /// The source whose audio tracks the clip carries (the one it starts in).
    audio_from: usize,
    /// Audio tracks of used sources left out: (source, track ID, codec config, wall span,
    /// the clip track it would have joined).
    audio_dropped: Vec<Dropped>,
    edit: Edit,
    media_duration: u64,
    /// RTP packets lost before or inside the stored frames.
    lost_packets: u64,
    /// Damaged ranges of the stored frames, in wall-clock nanoseconds.
    damage: Vec<DamageSpan>,
}

/// Exports `[start, end)` of `camera` into `out` (and `out.manifest.json`).
///
/// `root` is a local recording root or (feature `s3`) an `s3://bucket/prefix` path or
/// [`Storage`](super::Storage): objects are read with ranged GETs, and each manifest source
/// also names the object's URL and ETag.
///
/// Errors are typed and name the file (or object) at fault; nothing is left at `out` on error.
pub fn export<R: AsRoot + ?Sized>(
    root: &R,
    camera: &str,
    start: SystemTime,
    end: SystemTime,
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, ExportError> {
    export_with_progress(root, camera, start, end, out, opts, &|_| {})
}

/// [`export`], calling `progress` as it hashes the sources and copies the samples (on this
/// thread, about once per MiB read).
pub fn export_with_progress<R: AsRoot + ?Sized>(
    root: &R,
    camera: &str,
    start: SystemTime,
    end: SystemTime,
    out: &Path,
    opts: &ExportOptions,
    progress: &dyn Fn(Progress),
) -> Result<ExportSummary, ExportError> {
    let meter = Meter::new(progress);
    let (t1, t2) = (system_to_nanos(start), system_to_nanos(end));
    if t1 >= t2 {
        return Err(ExportError::BadRange {
            start: rfc3339(start),
            end: rfc3339(end),
        });
    }
    if out.exists() {
        return Err(ExportError::OutputExists(out.to_path_buf()));
    }
    let storage = root.storage()?;
    let files = storage.segment_files(camera, t1, t2)?;
    // Only a local file can still be growing (an object is a closed segment).
    let newest = files
        .last()
        .filter(|_| storage.is_local())
        .map(|f| f.path.clone());
    let mut sources = Vec::new();
    let cands = candidates(&files, t1, t2);
    // Opened (a local file held) first, then read: retention cannot delete it under us from
    // here on. Gone since the listing: not a source.
    for (f, opened) in cands.iter().zip(open_and_scan(&storage, &cands)) {
        let Some((seg, scanned)) = opened? else {
            continue;
        };
        let scanned = match scanned {
            Ok(s) => s,
            Err(e) => {
                // Unreadable: fatal when its name says it covers part of the range, else
                // it was only a neighbour taken in by the name slack.
                let next = files
                    .iter()
                    .find(|n| n.name_start > f.name_start)
                    .map_or(i64::MAX, |n| n.name_start);
                if f.name_start < t2 && next > t1 {
                    return Err(e);
                }
                log::warn!("export skips {}: {e}", f.path.display());
                continue;
            }
        };
        sources.push(Source {
            newest: newest.as_ref() == Some(&f.path),
            scanned,
            seg,
            used: std::cell::Cell::new(None),
        });
    }
    let no_recording = || ExportError::NoRecording {
        camera: camera.to_string(),
        start: rfc3339(start),
        end: rfc3339(end),
    };
    let cand_files: Vec<_> = cands.into_iter().cloned().collect();
    let recorded_gaps = parse_gaps(&storage.gaps_text(camera, &cand_files));
    let until = superseded_from(&sources, &recorded_gaps);
    let mut plan = plan(&sources, &until, t1, t2, opts)?.ok_or_else(no_recording)?;
    plan_audio(&mut plan, &sources, &until, opts)?;

    // A damaged file the range runs past would silently cut the clip: refuse, naming it.
    for s in &mut sources {
        let last_end = s.scanned.frags.last().map_or(i64::MIN, |f| f.end);
        if s.used.get().is_some()
            && !s.newest
            && t2 > last_end
            && let Some(e) = s.scanned.tail_error.take()
        {
            return Err(ExportError::source(&s.scanned.file.path, e));
        }
    }

    // Reading from here on: every used source hashed (at most its length), then the samples.
    meter.start(
        sources
            .iter()
            .filter(|s| s.used.get().is_some())
            .map(|s| s.scanned.file_len)
            .chain(plan.chunks.iter().map(|c| c.layout.bytes))
            .sum(),
    );
    let mut manifest_sources = Vec::new();
    for (si, s) in sources.iter().enumerate() {
        let Some(u) = s.used.get() else { continue };
        let path = &s.scanned.file.path;
        // Growing: a recorder still holds the file's writer mark, or its tail is torn (a
        // crash, or a fragment being written). Such a file is hashed up to its last complete
        // fragment (that prefix never changes); a cleanly closed file as a whole.
        let growing = s
            .seg
            .being_written()
            .map_err(|e| ExportError::io(path, e))?
            || s.scanned.valid_len < s.scanned.file_len;
        let hashed = if growing {
            s.scanned.valid_len
        } else {
            s.scanned.file_len
        };
        let sha = hash_prefix(&mut s.seg.reader(), hashed, &meter)
            .map_err(|e| ExportError::io(path, e))?;
        let (url, etag) = s.seg.object().unzip();
        manifest_sources.push(ManifestSource {
            path: s.scanned.file.rel.clone(),
            size: s.scanned.file_len,
            hashed_bytes: hashed,
            sha256: sha,
            growing,
            bytes_used: [u.byte_start, u.byte_end],
            time_used: Span {
                start: show(u.t_start),
                end: show(u.t_end),
            },
            samples: u.samples,
            audio: plan
                .audio
                .iter()
                .flat_map(|a| {
                    a.used.iter().filter(|(src, _, _)| *src == si).map(
                        |&(_, source_track_id, u)| ManifestSourceTrack {
                            id: a.track_id,
                            source_track_id,
                            bytes_used: [u.byte_start, u.byte_end],
                            time_used: Span {
                                start: show(u.t_start),
                                end: show(u.t_end),
                            },
                            samples: u.samples,
                        },
                    )
                })
                .collect(),
            audio_dropped: plan
                .audio_dropped
                .iter()
                .filter(|d| d.src == si)
                .map(|d| ManifestDroppedAudio {
                    source_track_id: d.track_id,
                    codec: d.config.codec.name().into(),
                    sample_rate: d.config.sample_rate,
                    channels: d.config.channels,
                    time: Span {
                        start: show(d.span.0),
                        end: show(d.span.1),
                    },
                    reason: if d.clip_track.is_some() {
                        "configuration-changed"
                    } else {
                        "not-in-first-file"
                    }
                    .into(),
                    clip_track_id: d.clip_track,
                })
                .collect(),
            sha256_from: url.as_ref().map(|_| "computed-on-read".to_string()),
            url,
            etag: etag.flatten(),
        });
    }

    let (size, sha, media_sha) = write_clip(&plan, &sources, out, opts.format, &meter)?;

    let mut tracks = vec![ManifestTrack {
        id: TRACK_ID,
        kind: "video".into(),
        codec: plan.track.codec.name().into(),
        timescale: plan.track.timescale,
        samples: plan.samples.len() as u64,
        start: show(plan.display_wall),
        end: show(plan.end_wall),
        sample_rate: None,
        channels: None,
    }];
    tracks.extend(plan.audio.iter().map(|a| ManifestTrack {
        id: a.track_id,
        kind: "audio".into(),
        codec: a.config.codec.name().into(),
        timescale: a.config.timescale,
        samples: a.samples.len() as u64,
        start: show(a.start_wall),
        end: show(a.end_wall),
        sample_rate: Some(a.config.sample_rate),
        channels: Some(a.config.channels),
    }));
    let manifest = Manifest {
        format: if plan.audio.is_empty() {
            MANIFEST_FORMAT
        } else {
            MANIFEST_FORMAT_AV
        }
        .to_string(),
        camwire_version: env!("CARGO_PKG_VERSION").to_string(),
        camera_id: camera.to_string(),
        created: jiff::Timestamp::now().to_string(),
        root: storage.describe(),
        requested: Span {
            start: rfc3339(start),
            end: rfc3339(end),
        },
        actual: Span {
            start: show(plan.display_wall),
            end: show(plan.end_wall),
        },
        preroll_start: show(plan.preroll_wall),
        last_frame: show(plan.last_wall),
        frames: plan.shown_frames,
        samples: plan.samples.len() as u64,
        tracks,
        gaps: plan
            .gaps
            .iter()
            .map(|&(s, e)| ManifestGap {
                start: show(s),
                end: show(e),
                duration_secs: (e - s) as f64 / 1e9,
                reason: reason_for(&recorded_gaps, s, e),
            })
            .collect(),
        sources: manifest_sources,
        output: ManifestOutput {
            file: out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            container: opts.format.name().to_string(),
            size,
            sha256: sha,
        },
        media_sha256: media_sha,
        lost_packets: plan.lost_packets,
        damaged: plan
            .damage
            .iter()
            .map(|d| ManifestDamage {
                start: show(d.start),
                end: show(d.end),
                duration_secs: (d.end - d.start) as f64 / 1e9,
                lost_packets: d.lost_packets,
                damaged_frames: d.damaged_samples,
                frames: d.samples,
            })
            .collect(),
    };
    let mpath = manifest_path(out);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::Manifest {
        path: mpath.clone(),
        reason: e.to_string(),
    })?;
    write_atomically(&mpath, &json).map_err(|e| ExportError::io(&mpath, e))?;
    meter.finish();
    Ok(ExportSummary {
        output: out.to_path_buf(),
        manifest_path: mpath,
        manifest,
    })
}

fn read_samples(src: &Source, frag: usize) -> Result<Vec<SampleInfo>, ExportError> {
    read_samples_with(src, frag, &mut src.seg.reader())
}

/// [`read_samples`] through `r` (a reader of `src` kept across fragments: from object
/// storage, its read-ahead then covers the next fragment's `moof` and samples).
fn read_samples_with(
    src: &Source,
    frag: usize,
    r: &mut SegmentReader<'_>,
) -> Result<Vec<SampleInfo>, ExportError> {
    let Some(fr) = src.scanned.frags.get(frag) else {
        return Err(ExportError::SourceChanged(src.scanned.file.path.clone()));
    };
    read_fragment_samples(r, &fr.info, &src.scanned.defaults)
        .map_err(|e| ExportError::source(&src.scanned.file.path, e))
}

/// The samples of audio track `track_id` (the source's ID) in fragment `frag` of `src`.
fn read_audio_with(
    src: &Source,
    frag: usize,
    track_id: u32,
    r: &mut SegmentReader<'_>,
) -> Result<Vec<SampleInfo>, ExportError> {
    let changed = || ExportError::SourceChanged(src.scanned.file.path.clone());
    let fr = src.scanned.frags.get(frag).ok_or_else(changed)?;
    let info = src
        .scanned
        .audio
        .iter()
        .find(|a| a.track_id == track_id)
        .ok_or_else(changed)?;
    read_track_samples(r, &fr.info, track_id, &info.defaults)
        .map_err(|e| ExportError::source(&src.scanned.file.path, e))
}

/// Where each source stops being used: where a back-filled file starts inside it, else never
/// (`Nanos::MAX`).
///
/// A back-fill (gaps.jsonl reason [`crate::replay::BACKFILL_REASON`], its span starting where
/// its file starts) begins at the device's keyframe before the recorder's gap, so it overlaps
/// the end of the live file before the gap by less than a GOP: those frames depend on that
/// keyframe, and the live file has them too. From its first frame on the back-fill is what the
/// device recorded and the clip takes it, so the clip neither repeats that stretch nor leaves
/// the sliver before the gap's first keyframe empty. Only back-fills supersede: live files that
/// overlap by a clock step keep every frame, as before.
fn superseded_from(sources: &[Source], recorded_gaps: &[(Nanos, Nanos, String)]) -> Vec<Nanos> {
    const SAME_START: Nanos = 1_000_000; // 1 ms: the log and the prft round differently
    let span = |s: &Source| {
        let f = s.scanned.frags.first().map_or(Nanos::MAX, |f| f.start);
        let l = s.scanned.frags.last().map_or(Nanos::MIN, |f| f.end);
        (f, l)
    };
    let backfill_start = |s: &Source| {
        let (start, _) = span(s);
        recorded_gaps
            .iter()
            .any(|g| g.2 == crate::replay::BACKFILL_REASON && (g.0 - start).abs() <= SAME_START)
            .then_some(start)
    };
    let backfills: Vec<Nanos> = sources.iter().filter_map(backfill_start).collect();
    sources
        .iter()
        .map(|a| {
            let (a_start, a_end) = span(a);
            backfills
                .iter()
                .copied()
                .filter(|&b| b > a_start && b < a_end)
                .min()
                .unwrap_or(Nanos::MAX)
        })
        .collect()
}

/// First pass: which samples go into the clip. `None` when nothing was recorded in range.
/// `until[i]`: source `i` is used before that wall clock only ([`superseded_from`]).
fn plan(
    sources: &[Source],
    until: &[Nanos],
    t1: Nanos,
    t2: Nanos,
    opts: &ExportOptions,
) -> Result<Option<Plan>, ExportError> {
    let order: Vec<(usize, usize)> = sources
        .iter()
        .enumerate()
        .flat_map(|(si, s)| (0..s.scanned.frags.len()).map(move |fi| (si, fi)))
        .collect();
    let frag = |g: usize| {
        order
            .get(g)
            .and_then(|&(si, fi)| sources.get(si)?.scanned.frags.get(fi))
    };
    let until_of = |g: usize| {
        order
            .get(g)
            .and_then(|&(si, _)| until.get(si).copied())
            .unwrap_or(Nanos::MAX)
    };
    // The fragment showing at T1, or the first one after it (by decode time: refined below);
    // not a stretch a back-fill supersedes.
    let Some(mut k) = (0..order.len())
        .find(|&g| frag(g).is_some_and(|f| f.end.min(until_of(g)) > t1 && f.start < until_of(g)))
    else {
        return Ok(None);
    };
    if frag(k).is_none_or(|f| f.start >= t2) {
        return Ok(None);
    }
    let (mut ksrc, mut kfrag) = order.get(k).copied().unwrap_or_default();
    let Some(ks) = sources.get(ksrc) else {
        return Ok(None);
    };
    let ts = ks.scanned.track.timescale;
    let track = ks.scanned.track.clone();
    let mut k_samples = read_samples(ks, kfrag)?;
    let Some(kf) = ks.scanned.frags.get(kfrag) else {
        return Ok(None);
    };
    // The frame showing at T1 is picked by presentation time: the last one presented at or
    // before T1, else (T1 before the fragment, in a gap or before the recording) the first
    // one presented. A recording's timeline is presentation time (its `prft` pairs the wall
    // clock with a sample's presentation time), so with B-frames a sample's decode time
    // reads up to the reorder delay (80 ms for two B-frames at 25 fps) early; picking by it
    // started the clip that much before T1. Without reordering both are the same.
    let mut display_at = showing_at(&k_samples, kf, ts, t1);
    if display_at.is_none() && k > 0 {
        // T1 may fall in the last reorder delay of the fragment before: its fragment span
        // (decode times) ends before T1, but its last frames are still on screen.
        if let Some(&(psrc, pfrag)) = order.get(k - 1)
            && let Some(ps) = sources.get(psrc)
            && let Some(pf) = ps.scanned.frags.get(pfrag)
        {
            let p_samples = read_samples(ps, pfrag)?;
            let on_screen_end = p_samples
                .iter()
                .map(|s| presented_wall(pf, s, ts).saturating_add(duration(s, ts)))
                .max()
                .unwrap_or(i64::MIN);
            let p_at = showing_at(&p_samples, pf, ts, t1);
            if t1 < on_screen_end && p_at.is_some() && ps.scanned.track.timescale == ts {
                (k, ksrc, kfrag, k_samples, display_at) = (k - 1, psrc, pfrag, p_samples, p_at);
            }
        }
    }
    let Some(ks) = sources.get(ksrc) else {
        return Ok(None);
    };
    let Some(kf) = ks.scanned.frags.get(kfrag) else {
        return Ok(None);
    };
    let display_at = display_at.unwrap_or_else(|| {
        // The first one presented.
        k_samples
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| presented_wall(kf, s, ts))
            .map_or(0, |(i, _)| i)
    });

    // The keyframe at or before it: in this fragment, or earlier ones of the same file.
    let mut start: Option<(usize, usize)> = k_samples
        .get(..=display_at)
        .and_then(|s| s.iter().rposition(SampleInfo::is_keyframe))
        .map(|i| (k, i));
    let mut g = k;
    while start.is_none() && g > 0 {
        g -= 1;
        let Some(&(si, fi)) = order.get(g) else { break };
        if si != ksrc {
            break;
        }
        let Some(s) = sources.get(si) else { break };
        if let Some(i) = read_samples(s, fi)?
            .iter()
            .rposition(SampleInfo::is_keyframe)
        {
            start = Some((g, i));
        }
    }
    // No keyframe before T1 in its file: start at the first keyframe after it.
    let (start_g, start_i, mut waiting_for_sync) = match start {
        Some((g, i)) => (g, i, false),
        None => (k, display_at, true),
    };

    let mut p = Plan {
        track,
        samples: Vec::new(),
        chunks: Vec::new(),
        audio: Vec::new(),
        audio_from: ksrc,
        audio_dropped: Vec::new(),
        display_index: usize::MAX,
        shown_frames: 0,
        display_wall: 0,
        preroll_wall: 0,
        last_wall: 0,
        end_wall: 0,
        gaps: Vec::new(),
        edit: Edit {
            media_time: 0,
            duration: 0,
        },
        media_duration: 0,
        lost_packets: 0,
        damage: Vec::new(),
    };
    let mut damage = DamageTracker::new();
    let mut out_time: u64 = 0;
    let mut prev_end: Option<(Nanos, Nanos)> = None; // (wall end, frame interval)
    // One streaming reader, for the source being read (sources follow each other).
    let mut reader: Option<(usize, SegmentReader<'_>)> = None;
    'frags: for g in start_g..order.len() {
        let Some(&(si, fi)) = order.get(g) else { break };
        let Some(src) = sources.get(si) else { break };
        let Some(fr) = src.scanned.frags.get(fi).cloned() else {
            break;
        };
        if fr.start >= t2 {
            break;
        }
        let src_until = until.get(si).copied().unwrap_or(Nanos::MAX);
        if fr.start >= src_until {
            continue 'frags;
        }
        let samples = if g == k {
            k_samples.clone()
        } else {
            // From object storage the fragments in range then come in a few large GETs
            // instead of one per `moof`.
            let r = match &mut reader {
                Some((i, r)) if *i == si => r,
                slot => &mut slot.insert((si, src.seg.streaming_reader())).1,
            };
            read_samples_with(src, fi, r)?
        };
        let first = if g == start_g { start_i } else { 0 };
        let same_params = src.scanned.track.codec == p.track.codec
            && src.scanned.track.config == p.track.config
            && src.scanned.track.timescale == p.track.timescale;
        let mut chunk = Chunk {
            src: si,
            frag: fi,
            track: 0,
            src_track: 0,
            first,
            out_first: p.samples.len(),
            layout: ChunkLayout { count: 0, bytes: 0 },
            out_dts: out_time,
            wall: 0,
        };
        let mut used = src.used.get();
        for (i, s) in samples.iter().enumerate().skip(first) {
            let w = fr.wall(s.decode_time, ts);
            if w >= t2 {
                finish_chunk(&mut p, chunk);
                src.used.set(used);
                break 'frags;
            }
            if w >= src_until {
                // A back-fill takes over from here (its first frame is a keyframe).
                break;
            }
            if waiting_for_sync {
                if !s.is_keyframe() {
                    continue;
                }
                waiting_for_sync = false;
            }
            if !same_params {
                return Err(ExportError::ParameterSetsChanged {
                    at: show(w),
                    path: src.scanned.file.path.clone(),
                    start: show(t1),
                    end: show(t2),
                });
            }
            if chunk.layout.count == 0 {
                chunk.first = i;
                chunk.out_first = p.samples.len();
                chunk.out_dts = out_time;
                chunk.wall = w;
            }
            if let Some((pe, frame)) = prev_end {
                let hole = w.saturating_sub(pe);
                if hole > tolerance(frame, &opts.list) {
                    p.gaps.push((pe, w));
                    let ext = u64::try_from(nanos_to_ticks(hole, ts)).unwrap_or(0);
                    if let Some(last) = p.samples.last_mut() {
                        let d = u64::from(last.duration).saturating_add(ext);
                        let d = u32::try_from(d).unwrap_or(u32::MAX);
                        out_time = out_time
                            .saturating_sub(u64::from(last.duration))
                            .saturating_add(u64::from(d));
                        last.duration = d;
                    }
                }
            }
            if p.samples.is_empty() {
                p.preroll_wall = w;
            }
            if p.display_index == usize::MAX && (g > k || (g == k && i >= display_at)) {
                p.display_index = p.samples.len();
                p.display_wall = presented_wall(&fr, s, ts);
            }
            damage.sample(w, s.is_keyframe(), s.lost_packets, s.damaged);
            p.lost_packets += u64::from(s.lost_packets);
            let cto = i32::try_from(s.composition_offset).unwrap_or(0);
            p.samples.push(ClipSample {
                size: s.size,
                duration: s.duration,
                sync: s.is_keyframe(),
                cto,
            });
            p.last_wall = w;
            out_time = out_time.saturating_add(u64::from(s.duration));
            let dur = ticks_to_nanos(i64::from(s.duration), ts);
            p.end_wall = w.saturating_add(dur).min(t2);
            prev_end = Some((w.saturating_add(dur), dur));
            chunk.layout.count += 1;
            chunk.layout.bytes += u64::from(s.size);
            let end = s.offset.saturating_add(u64::from(s.size));
            let u = used.get_or_insert(Used {
                byte_start: s.offset,
                byte_end: end,
                t_start: w,
                t_end: w,
                samples: 0,
            });
            u.byte_start = u.byte_start.min(s.offset);
            u.byte_end = u.byte_end.max(end);
            u.t_end = w.saturating_add(dur);
            u.samples += 1;
        }
        finish_chunk(&mut p, chunk);
        src.used.set(used);
    }
    if p.samples.is_empty() || p.display_index == usize::MAX {
        return Ok(None);
    }
    if u32::try_from(p.samples.len()).is_err() {
        return Err(ExportError::TooLarge("more than 2^32 frames"));
    }
    p.media_duration = out_time;
    p.damage = damage
        .finish(p.end_wall)
        .into_iter()
        .filter(|d| d.end >= p.display_wall && d.start <= p.end_wall)
        .map(|d| DamageSpan {
            start: d.start.max(p.display_wall),
            end: d.end.min(p.end_wall),
            ..d
        })
        .collect();
    // Presentation end: inside the last stored frame, at T2 by that frame's own wall clock,
    // or at its end. Measuring from the last frame (not from T2 − T1) keeps every stored
    // frame on screen even when the camera's clock stepped a little between fragments, so
    // the manifest's frame count is exactly what players decode.
    let last_dur = p.samples.last().map_or(0, |s| u64::from(s.duration));
    let to_t2 = u64::try_from(nanos_to_ticks(t2.saturating_sub(p.last_wall), ts)).unwrap_or(0);
    let last_dur = last_dur.min(to_t2).max(1);
    // With B-frames (composition offsets) presentation order differs from decode order. The
    // edit starts at the display sample's presentation time: the frame showing at T1, picked
    // by presentation time (frames decoded after it but presented before it stay hidden). It
    // ends where the last stored frame's decode interval ends: every frame presented before
    // that is stored (a frame decoded later is presented no earlier than its own decode
    // time), while a reference frame presented later may be missing the B-frames shown
    // before it. Without reordering these are the display sample's decode time and the end
    // of the last sample, as they always were.
    let (mut start, mut latest) = (i64::MAX, i64::MIN);
    let mut dts = 0i64;
    for (j, s) in p.samples.iter().enumerate() {
        let pts = dts.saturating_add(i64::from(s.cto));
        if j == p.display_index {
            start = pts;
        }
        latest = latest.max(pts);
        dts = dts.saturating_add(i64::from(s.duration));
    }
    let start = u64::try_from(start).unwrap_or(0);
    let latest = u64::try_from(latest).unwrap_or(0).max(start);
    let last_dts = out_time.saturating_sub(p.samples.last().map_or(0, |s| u64::from(s.duration)));
    let end = latest.min(last_dts).saturating_add(last_dur).max(start + 1);
    p.shown_frames = if p.samples.iter().all(|s| s.cto == 0) {
        (p.samples.len() - p.display_index) as u64
    } else {
        let mut dts = 0i64;
        let mut shown = 0u64;
        for s in &p.samples {
            let pts = dts.saturating_add(i64::from(s.cto));
            if u64::try_from(pts).is_ok_and(|t| t >= start && t < end) {
                shown += 1;
            }
            dts = dts.saturating_add(i64::from(s.duration));
        }
        shown
    };
    p.edit = Edit {
        media_time: start,
        duration: end - start,
    };
    Ok(Some(p))
}

/// Wall clock at which sample `s` of fragment `fr` is presented: its presentation time
/// (decode time + composition offset) on the file's timeline.
fn presented_wall(fr: &super::index::Frag, s: &SampleInfo, timescale: u32) -> Nanos {
    fr.wall(
        s.decode_time.saturating_add_signed(s.composition_offset),
        timescale,
    )
}

/// A sample's decode duration in nanoseconds.
fn duration(s: &SampleInfo, timescale: u32) -> Nanos {
    ticks_to_nanos(i64::from(s.duration), timescale)
}

/// Index of the sample of `samples` (fragment `fr`) showing at `t`: the last one presented
/// at or before it. `None` when every sample is presented after `t`.
fn showing_at(
    samples: &[SampleInfo],
    fr: &super::index::Frag,
    timescale: u32,
    t: Nanos,
) -> Option<usize> {
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| (presented_wall(fr, s, timescale), i))
        .filter(|&(w, _)| w <= t)
        .max()
        .map(|(_, i)| i)
}

/// Adds the audio tracks to a video plan: see the module doc for the rules. Their chunks are
/// merged into `p.chunks` in storage order (source, fragment, then track).
fn plan_audio(
    p: &mut Plan,
    sources: &[Source],
    until: &[Nanos],
    opts: &ExportOptions,
) -> Result<(), ExportError> {
    let Some(reference) = sources.get(p.audio_from) else {
        return Ok(());
    };
    let vts = p.track.timescale;
    let (lo, hi) = (p.display_wall, p.end_wall);
    // Tracks at places the first file does not have: nothing to join, listed as dropped.
    let lanes = reference.scanned.audio.len();
    for (si, src) in sources.iter().enumerate() {
        if src.used.get().is_some() {
            for sinfo in src.scanned.audio.iter().skip(lanes) {
                note_dropped(p, si, src, sinfo, None);
            }
        }
    }
    for (lane, info) in reference.scanned.audio.iter().enumerate() {
        let ts = info.config.timescale;
        let track = p.audio.len() + 1;
        let mut a = AudioPlan {
            track_id: audio_track_id(p.audio.len()),
            config: info.config.clone(),
            samples: Vec::new(),
            chunks: Vec::new(),
            edit: AudioEdit::default(),
            start_wall: 0,
            end_wall: 0,
            used: Vec::new(),
        };
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut out_time = 0u64;
        let mut first_wall: Option<Nanos> = None;
        let mut prev_end: Option<(Nanos, Nanos)> = None; // (wall end, sample duration)
        for (si, src) in sources.iter().enumerate() {
            if src.used.get().is_none() {
                continue;
            }
            let Some(sinfo) = src.scanned.audio.get(lane) else {
                continue;
            };
            if sinfo.config != info.config {
                log::warn!(
                    "export: {} has another audio track {} ({}), left out of the clip",
                    src.scanned.file.path.display(),
                    lane + 1,
                    sinfo.config.codec
                );
                note_dropped(p, si, src, sinfo, Some(a.track_id));
                continue;
            }
            let tid = sinfo.track_id;
            // A back-fill that starts inside this file takes over there, audio too.
            let hi = hi.min(until.get(si).copied().unwrap_or(Nanos::MAX));
            // The source fragments whose trafs of this track overlap the range: the first
            // and the last bound the run taken from this file.
            let overlaps = |fr: &super::index::Frag| {
                fr.info.audio.iter().any(|t| {
                    t.track_id == tid && {
                        let s = fr.wall_of_track(t.base_decode_time, ts, vts);
                        let e = fr.wall_of_track(
                            t.base_decode_time.saturating_add(t.duration),
                            ts,
                            vts,
                        );
                        e > lo && s < hi
                    }
                })
            };
            let frags = &src.scanned.frags;
            let (Some(fa), Some(fb)) = (
                frags.iter().position(overlaps),
                frags.iter().rposition(overlaps),
            ) else {
                continue;
            };
            let mut reader = src.seg.streaming_reader();
            let mut used: Option<Used> = None;
            let mut started = false;
            for (fi, fr) in frags.iter().enumerate().take(fb + 1).skip(fa) {
                let samples = read_track_samples(&mut reader, &fr.info, tid, &sinfo.defaults)
                    .map_err(|e| ExportError::source(&src.scanned.file.path, e))?;
                let wall = |s: &SampleInfo| fr.wall_of_track(s.decode_time, ts, vts);
                let dur = |s: &SampleInfo| ticks_to_nanos(i64::from(s.duration), ts);
                let hit = |s: &SampleInfo| {
                    let w = wall(s);
                    w.saturating_add(dur(s)) > lo && w < hi
                };
                let last = if fi == fb {
                    match samples.iter().rposition(hit) {
                        Some(i) => i,
                        None => continue,
                    }
                } else {
                    samples.len().saturating_sub(1)
                };
                let mut chunk: Option<Chunk> = None;
                for (i, s) in samples.iter().enumerate().take(last + 1) {
                    if !started {
                        if !hit(s) {
                            continue;
                        }
                        started = true;
                    }
                    let w = wall(s);
                    let d = dur(s);
                    if let Some((pe, pd)) = prev_end {
                        let hole = w.saturating_sub(pe);
                        if hole > tolerance(pd, &opts.list) {
                            let ext = u64::try_from(nanos_to_ticks(hole, ts)).unwrap_or(0);
                            if let Some(last) = a.samples.last_mut() {
                                let nd = u64::from(last.duration).saturating_add(ext);
                                let nd = u32::try_from(nd).unwrap_or(u32::MAX);
                                out_time = out_time
                                    .saturating_sub(u64::from(last.duration))
                                    .saturating_add(u64::from(nd));
                                last.duration = nd;
                            }
                        }
                    }
                    first_wall.get_or_insert(w);
                    let c = chunk.get_or_insert(Chunk {
                        src: si,
                        frag: fi,
                        track,
                        src_track: tid,
                        first: i,
                        out_first: a.samples.len(),
                        layout: ChunkLayout { count: 0, bytes: 0 },
                        out_dts: out_time,
                        wall: w,
                    });
                    c.layout.count += 1;
                    c.layout.bytes += u64::from(s.size);
                    a.samples.push(ClipSample {
                        size: s.size,
                        duration: s.duration,
                        sync: true,
                        cto: 0,
                    });
                    out_time = out_time.saturating_add(u64::from(s.duration));
                    prev_end = Some((w.saturating_add(d), d));
                    let end = s.offset.saturating_add(u64::from(s.size));
                    let u = used.get_or_insert(Used {
                        byte_start: s.offset,
                        byte_end: end,
                        t_start: w,
                        t_end: w,
                        samples: 0,
                    });
                    u.byte_start = u.byte_start.min(s.offset);
                    u.byte_end = u.byte_end.max(end);
                    u.t_end = w.saturating_add(d);
                    u.samples += 1;
                }
                if let Some(c) = chunk {
                    a.chunks.push(c.layout);
                    chunks.push(c);
                }
            }
            if let Some(u) = used {
                a.used.push((si, tid, u));
            }
        }
        let Some(fw) = first_wall else { continue };
        if u32::try_from(a.samples.len()).is_err() {
            return Err(ExportError::TooLarge("more than 2^32 audio frames"));
        }
        // The edit: from the video's first presented frame (movie time 0) to the end of
        // what the video presents, or the audio's end when earlier.
        let start = fw.max(lo);
        let end = fw
            .saturating_add(ticks_to_nanos(
                i64::try_from(out_time).unwrap_or(i64::MAX),
                ts,
            ))
            .min(hi);
        if end <= start {
            continue;
        }
        a.edit = AudioEdit {
            empty: u64::try_from(nanos_to_ticks(fw.saturating_sub(lo), vts)).unwrap_or(0),
            media_time: u64::try_from(nanos_to_ticks(lo.saturating_sub(fw), ts))
                .unwrap_or(0)
                .min(out_time.saturating_sub(1)),
            duration: u64::try_from(nanos_to_ticks(end - start, vts))
                .unwrap_or(0)
                .max(1),
        };
        (a.start_wall, a.end_wall) = (start, end);
        p.chunks.append(&mut chunks);
        p.audio.push(a);
    }
    p.chunks.sort_by_key(|c| (c.src, c.frag, c.track));
    Ok(())
}

/// Records audio track `sinfo` of source `si` as left out of the clip when its fragments
/// overlap what the clip presents.
fn note_dropped(
    p: &mut Plan,
    si: usize,
    src: &Source,
    sinfo: &crate::fmp4::AudioTrackInfo,
    clip_track: Option<u32>,
) {
    let (ts, vts) = (sinfo.config.timescale, p.track.timescale);
    let (lo, hi) = (p.display_wall, p.end_wall);
    let mut span: Option<(Nanos, Nanos)> = None;
    for fr in &src.scanned.frags {
        for t in fr
            .info
            .audio
            .iter()
            .filter(|t| t.track_id == sinfo.track_id)
        {
            let s = fr.wall_of_track(t.base_decode_time, ts, vts);
            let e = fr.wall_of_track(t.base_decode_time.saturating_add(t.duration), ts, vts);
            if e > lo && s < hi {
                let (s, e) = (s.max(lo), e.min(hi));
                span = Some(span.map_or((s, e), |(a, b)| (a.min(s), b.max(e))));
            }
        }
    }
    if let Some(span) = span {
        p.audio_dropped.push(Dropped {
            src: si,
            track_id: sinfo.track_id,
            config: sinfo.config.clone(),
            span,
            clip_track,
        });
    }
}

fn finish_chunk(p: &mut Plan, chunk: Chunk) {
    if chunk.layout.count > 0 {
        p.chunks.push(chunk);
    }
}

/// SHA-256 of the first `len` bytes of `f` (fails if it is shorter), counted on `meter`.
pub(crate) fn hash_prefix<R: Read + Seek + ?Sized>(
    f: &mut R,
    len: u64,
    meter: &Meter,
) -> io::Result<String> {
    f.seek(SeekFrom::Start(0))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
        let b = buf.get_mut(..n).unwrap_or_default();
        f.read_exact(b)?;
        h.update(&*b);
        meter.add(n as u64);
        left -= n as u64;
    }
    Ok(hex(&h.finalize()))
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    written: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or_default();
        self.hash.update(done);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Second pass: writes the clip to a temporary file and links it into place. Returns its
/// size, SHA-256 and the media (samples only) SHA-256.
fn write_clip(
    p: &Plan,
    sources: &[Source],
    out: &Path,
    format: OutputFormat,
    meter: &Meter,
) -> Result<(u64, String, String), ExportError> {
    let tmp = temp_name(out);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| ExportError::io(&tmp, e))?;
    let result = write_body(p, sources, file, format, &tmp, meter).and_then(|r| {
        link_into_place(&tmp, out)?;
        Ok(r)
    });
    let _ = std::fs::remove_file(&tmp);
    result
}

fn write_body(
    p: &Plan,
    sources: &[Source],
    file: File,
    format: OutputFormat,
    tmp: &Path,
    meter: &Meter,
) -> Result<(u64, String, String), ExportError> {
    let io_err = |e| ExportError::io(tmp, e);
    let mut w = Hashing {
        inner: BufWriter::with_capacity(COPY_BUFFER, file),
        hash: Sha256::new(),
        written: 0,
    };
    let mut media = Sha256::new();
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut head = Vec::new();
    let fragmented = format == OutputFormat::Fragmented;
    ftyp(&mut head, fragmented);
    let payload: u64 = p.chunks.iter().map(|c| c.layout.bytes).sum();
    let video_layouts: Vec<ChunkLayout> = p
        .chunks
        .iter()
        .filter(|c| c.track == 0)
        .map(|c| c.layout)
        .collect();
    // Chunk offsets per track (0: video), for the progressive `moov`; all 0 for a probe.
    let offsets = |start: Option<u64>| {
        let mut per: Vec<Vec<u64>> = vec![Vec::new(); p.audio.len() + 1];
        let mut at = start.unwrap_or(0);
        for c in &p.chunks {
            if let Some(v) = per.get_mut(c.track) {
                v.push(if start.is_some() { at } else { 0 });
            }
            at = at.saturating_add(c.layout.bytes);
        }
        per
    };
    if fragmented {
        let none: Vec<Vec<u64>> = Vec::new();
        head.extend_from_slice(&fragmented_av_moov(
            &p.track,
            p.edit,
            p.media_duration,
            &clip_audio(p, &none),
        ));
    } else {
        let mdat_len = mdat_header_len(payload);
        let moov_of = |start: Option<u64>, co64: bool| {
            let offs = offsets(start);
            let video = offs.first().map_or(&[][..], |v| &v[..]);
            progressive_av_moov(
                &p.track,
                &p.samples,
                &video_layouts,
                video,
                p.edit,
                &clip_audio(p, &offs),
                co64,
            )
        };
        let mut co64 = false;
        let probe = moov_of(None, false);
        let mut start = head.len() as u64 + probe.len() as u64 + mdat_len;
        if start.saturating_add(payload) > u64::from(u32::MAX) {
            co64 = true;
            let probe = moov_of(None, true);
            start = head.len() as u64 + probe.len() as u64 + mdat_len;
        }
        // Written straight out rather than appended to `head`: one copy of the tables.
        w.write_all(&head).map_err(io_err)?;
        head.clear();
        let moov = moov_of(Some(start), co64);
        w.write_all(&moov).map_err(io_err)?;
        drop(moov);
        mdat_header(&mut head, payload);
    }
    w.write_all(&head).map_err(io_err)?;
    // One reader per source, kept while its chunks follow each other.
    let mut reader: Option<(usize, SegmentReader<'_>)> = None;
    let mut sequence = 0u32;
    // Decode time after the last video chunk written (the base of an empty video traf).
    let mut video_next = 0u64;
    for (n, c) in p.chunks.iter().enumerate() {
        let samples_of = |c: &Chunk| -> &[ClipSample] {
            let all = match c.track {
                0 => &p.samples,
                t => match p.audio.get(t - 1) {
                    Some(a) => &a.samples,
                    None => return &[],
                },
            };
            all.get(c.out_first..c.out_first + c.layout.count as usize)
                .unwrap_or_default()
        };
        let planned = samples_of(c);
        let new_group = n == 0
            || p.chunks
                .get(n - 1)
                .is_none_or(|b| (b.src, b.frag) != (c.src, c.frag));
        if fragmented && new_group {
            // One output fragment per source fragment: its video traf first (empty when the
            // fragment gave only audio), then its audio trafs in track order.
            let group: Vec<&Chunk> = p
                .chunks
                .get(n..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| (b.src, b.frag) == (c.src, c.frag))
                .collect();
            let mut trafs = Vec::with_capacity(group.len() + 1);
            if c.track != 0 {
                trafs.push(TrafRun {
                    track_id: TRACK_ID,
                    base_dts: video_next,
                    samples: &[],
                });
            }
            for b in &group {
                let track_id = match b.track {
                    0 => TRACK_ID,
                    t => p.audio.get(t - 1).map_or(0, |a| a.track_id),
                };
                trafs.push(TrafRun {
                    track_id,
                    base_dts: b.out_dts,
                    samples: samples_of(b),
                });
            }
            let wall = (c.track == 0).then(|| nanos_to_ntp(c.wall));
            sequence = sequence.saturating_add(1);
            head.clear();
            fragment_header_tracks(&mut head, sequence, &trafs, wall);
            w.write_all(&head).map_err(io_err)?;
        }
        if c.track == 0 {
            video_next = c
                .out_dts
                .saturating_add(planned.iter().map(|s| u64::from(s.duration)).sum());
        }
        let Some(src) = sources.get(c.src) else {
            return Err(ExportError::TooLarge("internal: chunk without source"));
        };
        let path = &src.scanned.file.path;
        let changed = || ExportError::SourceChanged(path.clone());
        let f = match &mut reader {
            Some((i, r)) if *i == c.src => r,
            slot => &mut slot.insert((c.src, src.seg.streaming_reader())).1,
        };
        let fresh = if c.track == 0 {
            read_samples_with(src, c.frag, f)?
        } else {
            read_audio_with(src, c.frag, c.src_track, f)?
        };
        let fresh = fresh
            .get(c.first..c.first + c.layout.count as usize)
            .ok_or_else(changed)?;
        if fresh.len() != planned.len() || fresh.iter().zip(planned).any(|(a, b)| a.size != b.size)
        {
            return Err(changed());
        }
        // Copy runs of back-to-back samples with one seek each.
        let mut i = 0;
        while let Some(first) = fresh.get(i) {
            let mut len = u64::from(first.size);
            let mut j = i + 1;
            while let Some(s) = fresh.get(j) {
                if s.offset != first.offset.saturating_add(len) {
                    break;
                }
                len += u64::from(s.size);
                j += 1;
            }
            f.seek(SeekFrom::Start(first.offset))
                .map_err(|e| ExportError::io(path, e))?;
            let mut left = len;
            while left > 0 {
                let n = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
                let b = buf.get_mut(..n).unwrap_or_default();
                f.read_exact(b).map_err(|e| match e.kind() {
                    io::ErrorKind::UnexpectedEof => changed(),
                    _ => ExportError::io(path, e),
                })?;
                media.update(&*b);
                w.write_all(b).map_err(io_err)?;
                meter.add(n as u64);
                left -= n as u64;
            }
            i = j;
        }
    }
    w.flush().map_err(io_err)?;
    let written = w.written;
    let sha = hex(&w.hash.finalize());
    let file = w
        .inner
        .into_inner()
        .map_err(|e| ExportError::io(tmp, e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    Ok((written, sha, hex(&media.finalize())))
}

/// The writers' view of the plan's audio tracks; `offsets[1 + i]` are track `i`'s chunk
/// offsets (none for the fragmented `moov`).
fn clip_audio<'a>(p: &'a Plan, offsets: &'a [Vec<u64>]) -> Vec<ClipAudio<'a>> {
    p.audio
        .iter()
        .enumerate()
        .map(|(i, a)| ClipAudio {
            track_id: a.track_id,
            config: &a.config,
            samples: &a.samples,
            chunks: &a.chunks,
            offsets: offsets.get(i + 1).map_or(&[][..], |v| &v[..]),
            edit: a.edit,
        })
        .collect()
}

fn temp_name(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "clip.mp4".into());
    out.with_file_name(format!(".{name}.part-{}", std::process::id()))
}

/// Moves `tmp` to `out` without ever replacing an existing `out` (hard link, then unlink).
fn link_into_place(tmp: &Path, out: &Path) -> Result<(), ExportError> {
    match std::fs::hard_link(tmp, out) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(ExportError::OutputExists(out.to_path_buf()))
        }
        Err(_) if !out.exists() => std::fs::rename(tmp, out).map_err(|e| ExportError::io(out, e)),
        Err(e) => Err(ExportError::io(out, e)),
    }
}

/// Writes `bytes` to `path` via a temporary file and a rename, fsynced.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_name(path);
    let mut f = File::create(&tmp)?;
    let r = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

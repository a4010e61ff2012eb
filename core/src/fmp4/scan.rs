//! Finding the complete fragments of a recording, and their sample tables.
//!
//! Crash recovery calls [`scan_fragments`] on a file that may end in a torn write and
//! truncates it to [`ScanResult::valid_len`]; the exporter uses the fragment list to find the
//! keyframe before a start time, then [`read_fragment_samples`] and [`read_sample`] to copy
//! only the bytes it needs. The scan reads box headers, `prft` and `moof` bodies, never an
//! `mdat`.
//!
//! Files with audio: every fragment-level field ([`FragmentInfo::base_decode_time`],
//! [`FragmentInfo::sample_count`], ...) describes the video `traf` (the one of the video
//! track ID from the init segment; the first `traf` when there is no readable init), exactly
//! as for a video-only file; the audio `traf`s are summarized in [`FragmentInfo::audio`] and
//! their samples read with [`read_track_samples`]. The torn-tail rule covers them too: a
//! fragment counts only when its `mdat` is whole and holds the samples of every `traf`.

use std::io::{Read, Seek, SeekFrom};

use super::error::Fmp4Error;
use super::fragment::{LOSS_BOX_UUID, LOSS_FLAG_DAMAGED, NON_SYNC_BIT};
use super::init::VideoConfig;
use super::read_init::{
    AudioTrackInfo, MAX_AUDIO_TRACKS, MAX_MOOV_BYTES, TrackDefaults, parse_moov, parse_moov_audio,
};
use super::reader::{BoxHeader, BoxIter, Fields, FileBoxIter, read_body};

/// The largest `moof` the reader loads (camwire writes ~100 bytes + 16 per sample).
pub const MAX_MOOF_BYTES: u64 = 64 << 20;
/// Largest number of samples accepted, per `moof`, from `trun`s whose samples take no bytes in
/// the box (all values from defaults), where the box size cannot bound the count.
const MAX_IMPLICIT_SAMPLES: u32 = 1 << 20;
/// Most `traf`s accepted in one `moof`: one per track, and a file has at most one video and
/// [`MAX_AUDIO_TRACKS`] audio tracks (a few spare for writers that split a track's run).
const MAX_TRAFS: usize = 4 * (1 + MAX_AUDIO_TRACKS);

/// One audio `traf` of a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioTrafInfo {
    /// The audio track it belongs to ([`AudioTrackInfo::track_id`]).
    pub track_id: u32,
    /// `tfdt` base media decode time, in that track's timescale.
    pub base_decode_time: u64,
    /// Samples (audio frames) in it.
    pub sample_count: u32,
    /// Sum of their durations, in that track's timescale.
    pub duration: u64,
}

/// One complete fragment: an optional `prft`, a `moof` and its whole `mdat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentInfo {
    /// Offset where the fragment starts (its `prft`, else its `moof`).
    pub offset: u64,
    /// Offset of the `moof` box.
    pub moof_offset: u64,
    /// Size of the `moof` box.
    pub moof_size: u64,
    /// Offset of the `mdat` box.
    pub mdat_offset: u64,
    /// Offset just past the `mdat`: the file is complete up to here.
    pub end: u64,
    /// `mfhd` sequence number.
    pub sequence_number: u32,
    /// `tfdt` base media decode time, in the track timescale.
    pub base_decode_time: u64,
    /// Samples in the fragment.
    pub sample_count: u32,
    /// Sum of the sample durations, in the track timescale.
    pub duration: u64,
    /// True when the first sample is a sync sample (the fragment can start playback).
    pub first_is_keyframe: bool,
    /// 64-bit NTP wall-clock time from the `prft`, if the fragment has one.
    pub ntp: Option<u64>,
    /// The media time (track timescale) that `ntp` refers to.
    pub ntp_media_time: Option<u64>,
    /// RTP packets lost before its samples (from its loss table; 0 without one).
    pub lost_packets: u64,
    /// Samples that lost some of their own NAL units.
    pub damaged_samples: u32,
    /// The fragment's audio `traf`s (tracks of [`ScanResult::audio`]), in file order; empty
    /// for a video-only file or a fragment without audio.
    pub audio: Vec<AudioTrafInfo>,
}

/// What a scan found.
#[derive(Debug)]
pub struct ScanResult {
    /// Length of the file scanned.
    pub file_len: u64,
    /// Offset just past the `moov`, if the file starts with an init segment.
    pub init_end: Option<u64>,
    /// The video track described by the init segment, if it could be read.
    pub track: Option<VideoConfig>,
    /// The `trex` defaults (all zero without an init segment).
    pub defaults: TrackDefaults,
    /// The audio tracks of the init segment (empty without audio, or when they could not be
    /// read: the video is still recovered).
    pub audio: Vec<AudioTrackInfo>,
    /// Complete fragments, in file order.
    pub fragments: Vec<FragmentInfo>,
    /// Bytes from the start up to the end of the last complete unit (the init segment, a
    /// complete fragment, or a standalone box such as `free`). Everything after it is a torn
    /// or damaged tail; crash recovery truncates the file to this length.
    pub valid_len: u64,
    /// Why the scan stopped early, when the tail is damaged rather than merely incomplete.
    pub tail_error: Option<Fmp4Error>,
    /// Stretches of the complete fragments whose pictures carry concealed damage from packet
    /// loss (see [`DamageTracker`]), in the file's decode time; empty for a clean recording.
    pub damage: Vec<DamageSpan>,
}

impl ScanResult {
    /// True when the file has bytes past [`valid_len`](Self::valid_len).
    pub fn is_torn(&self) -> bool {
        self.valid_len < self.file_len
    }

    /// Total decode duration of the complete fragments, in the track timescale.
    pub fn duration(&self) -> u64 {
        self.fragments.iter().map(|f| f.duration).sum()
    }
}

/// One sample of a fragment, located in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleInfo {
    /// File offset of the sample's first byte (in the `mdat`).
    pub offset: u64,
    /// Size in bytes (4-byte length-prefixed NAL units).
    pub size: u32,
    /// Decode duration in the track timescale.
    pub duration: u32,
    /// ISO `sample_flags`.
    pub flags: u32,
    /// Presentation time minus decode time.
    pub composition_offset: i64,
    /// Decode time on the file's timeline.
    pub decode_time: u64,
    /// RTP packets lost just before this sample (the recorder's loss table; 0 without one).
    pub lost_packets: u32,
    /// The sample lost some of its own NAL units; what it holds arrived whole.
    pub damaged: bool,
}

impl SampleInfo {
    /// True for a sync sample (sample_is_non_sync_sample clear).
    pub fn is_keyframe(&self) -> bool {
        self.flags & NON_SYNC_BIT == 0
    }

    /// Presentation time on the file's timeline.
    pub fn presentation_time(&self) -> i64 {
        i64::try_from(self.decode_time)
            .unwrap_or(i64::MAX)
            .saturating_add(self.composition_offset)
    }
}

/// What parsing a `moof` yields besides the samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MoofSummary {
    pub sequence_number: u32,
    pub base_decode_time: u64,
    pub sample_count: u32,
    pub duration: u64,
    pub first_is_keyframe: bool,
    /// Byte range the samples occupy in the file (empty when there are no sample bytes).
    pub data_start: u64,
    pub data_end: u64,
    pub lost_packets: u64,
    pub damaged_samples: u32,
}

/// A stretch of pictures a decoder shows with concealed damage after packet loss.
///
/// It starts at the first sample after the loss (a picture that lost NAL units itself, or the
/// first whole picture after lost ones, which refers to what was lost) and ends at the next
/// intact keyframe, where decoding is clean again. When the loss took only whole pictures
/// right before an intact keyframe, the span is the preceding sample's display time (the
/// frames that are missing there). Times are in whatever unit the samples were given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DamageSpan {
    /// Start (inclusive).
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// RTP packets lost inside it.
    pub lost_packets: u64,
    /// Samples in it that lost some of their own NAL units.
    pub damaged_samples: u64,
    /// Samples in it (pictures shown with concealment).
    pub samples: u64,
}

/// Turns samples in decode order into [`DamageSpan`]s (the rule is on [`DamageSpan`]).
#[derive(Clone, Debug, Default)]
pub struct DamageTracker {
    open: Option<DamageSpan>,
    prev_start: Option<i64>,
    spans: Vec<DamageSpan>,
}

impl DamageTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next sample: its start time, whether it is a keyframe, packets lost just before
    /// it, whether it lost NAL units itself.
    pub fn sample(&mut self, start: i64, keyframe: bool, lost_packets: u32, damaged: bool) {
        let lost = u64::from(lost_packets);
        let clean_key = keyframe && !damaged;
        if clean_key {
            if let Some(mut span) = self.open.take() {
                span.end = start;
                span.lost_packets += lost;
                self.spans.push(span);
            } else if lost > 0 {
                self.spans.push(DamageSpan {
                    start: self.prev_start.unwrap_or(start),
                    end: start,
                    lost_packets: lost,
                    damaged_samples: 0,
                    samples: 0,
                });
            }
        } else if lost > 0 || damaged || self.open.is_some() {
            let span = self.open.get_or_insert(DamageSpan {
                start,
                end: start,
                lost_packets: 0,
                damaged_samples: 0,
                samples: 0,
            });
            span.lost_packets += lost;
            span.damaged_samples += u64::from(damaged);
            span.samples += 1;
        }
        self.prev_start = Some(start);
    }

    /// The spans so far, the open one ending at `end` (the end of the last sample).
    pub fn finish(mut self, end: i64) -> Vec<DamageSpan> {
        if let Some(mut span) = self.open.take() {
            span.end = end.max(span.start);
            self.spans.push(span);
        }
        self.spans
    }
}

/// Walks `r` and lists its complete fragments. Only I/O errors fail the scan; damage ends it,
/// and is reported in [`ScanResult::tail_error`] with the good part still listed.
pub fn scan_fragments<R: Read + Seek + ?Sized>(r: &mut R) -> Result<ScanResult, Fmp4Error> {
    let mut damage = (DamageTracker::new(), 0i64);
    let mut res = scan_boxes(r, &mut damage)?;
    let (tracker, end) = damage;
    res.damage.extend(tracker.finish(end));
    Ok(res)
}

/// The walk of [`scan_fragments`]; `damage` is the tracker fed by the accepted fragments and
/// the end of the last one.
fn scan_boxes<R: Read + Seek + ?Sized>(
    r: &mut R,
    damage: &mut (DamageTracker, i64),
) -> Result<ScanResult, Fmp4Error> {
    let mut it = FileBoxIter::new(r)?;
    let mut res = ScanResult {
        file_len: it.source_len(),
        init_end: None,
        track: None,
        defaults: TrackDefaults::default(),
        audio: Vec::new(),
        fragments: Vec::new(),
        valid_len: 0,
        tail_error: None,
        damage: Vec::new(),
    };
    // The tracker after the fragment waiting for its mdat.
    let mut pending_damage: Option<DamageTracker> = None;
    let mut body = Vec::new();
    let mut prft: Option<(u64, u64, u64)> = None; // (offset, ntp, media_time)
    // (fragment start, header, video summary, audio trafs)
    let mut moof: Option<(u64, BoxHeader, MoofSummary, Vec<AudioTrafInfo>)> = None;

    while let Some(h) = it.next() {
        let h = match h {
            Ok(h) => h,
            Err(e) => return tail(res, e),
        };
        let pending = prft.is_some() || moof.is_some();
        match &h.fourcc {
            b"ftyp" | b"moov" if pending => {
                return tail(res, invalid(h.offset, "init box inside a fragment"));
            }
            b"moov" => {
                if let Err(e) = read_body(it.source(), &h, MAX_MOOV_BYTES, &mut body) {
                    return tail(res, e);
                }
                match parse_moov(&body, h.body_offset()) {
                    Ok((track, defaults)) => {
                        res.track = Some(track);
                        res.defaults = defaults;
                    }
                    Err(e) => log::warn!("unreadable moov at {}: {e}", h.offset),
                }
                match parse_moov_audio(&body, h.body_offset()) {
                    Ok(audio) => res.audio = audio,
                    Err(e) => log::warn!("unreadable audio track at {}: {e}", h.offset),
                }
                res.init_end = Some(h.end());
                res.valid_len = h.end();
            }
            b"prft" => {
                if moof.is_some() {
                    return tail(res, invalid(h.offset, "moof without its mdat"));
                }
                if let Err(e) = read_body(it.source(), &h, 64, &mut body) {
                    return tail(res, e);
                }
                match parse_prft(&body, h.body_offset()) {
                    Ok((ntp, media_time)) => prft = Some((h.offset, ntp, media_time)),
                    Err(e) => return tail(res, e),
                }
            }
            b"moof" => {
                if moof.is_some() {
                    return tail(res, invalid(h.offset, "moof without its mdat"));
                }
                if let Err(e) = read_body(it.source(), &h, MAX_MOOF_BYTES, &mut body) {
                    return tail(res, e);
                }
                // The tracker's state (not its finished spans) is cloned, so a fragment
                // without its mdat adds nothing.
                let mut trial = DamageTracker {
                    open: damage.0.open,
                    prev_start: damage.0.prev_start,
                    spans: Vec::new(),
                };
                let mut audio = Vec::new();
                let tracks = Tracks {
                    video: &res.defaults,
                    audio: &res.audio,
                };
                let parsed = parse_moof_tracks(
                    &body,
                    &h,
                    &tracks,
                    None,
                    |s| {
                        let t = i64::try_from(s.decode_time).unwrap_or(i64::MAX);
                        trial.sample(t, s.is_keyframe(), s.lost_packets, s.damaged);
                    },
                    Some(&mut audio),
                );
                match parsed {
                    Ok(summary) => {
                        let start = prft.map_or(h.offset, |p| p.0);
                        moof = Some((start, h, summary, audio));
                        pending_damage = Some(trial);
                    }
                    Err(e) => return tail(res, e),
                }
            }
            b"mdat" => {
                let Some((start, moof_h, summary, audio)) = moof.take() else {
                    // Media data no fragment refers to: harmless, but not a fragment end.
                    prft = None;
                    continue;
                };
                let sample_bytes = summary.data_end > summary.data_start;
                if sample_bytes
                    && (summary.data_start < h.body_offset() || summary.data_end > h.end())
                {
                    return tail(res, invalid(moof_h.offset, "samples outside the mdat"));
                }
                let p = prft.take();
                res.fragments.push(FragmentInfo {
                    offset: start,
                    moof_offset: moof_h.offset,
                    moof_size: moof_h.size,
                    mdat_offset: h.offset,
                    end: h.end(),
                    sequence_number: summary.sequence_number,
                    base_decode_time: summary.base_decode_time,
                    sample_count: summary.sample_count,
                    duration: summary.duration,
                    first_is_keyframe: summary.first_is_keyframe,
                    ntp: p.map(|p| p.1),
                    ntp_media_time: p.map(|p| p.2),
                    lost_packets: summary.lost_packets,
                    damaged_samples: summary.damaged_samples,
                    audio,
                });
                if let Some(mut d) = pending_damage.take() {
                    res.damage.append(&mut d.spans);
                    damage.0 = d;
                }
                damage.1 = i64::try_from(summary.base_decode_time.saturating_add(summary.duration))
                    .unwrap_or(i64::MAX);
                res.valid_len = h.end();
            }
            _ => {
                if !pending {
                    res.valid_len = h.end();
                }
            }
        }
    }
    Ok(res)
}

/// Records why the scan stopped; I/O errors still fail it.
fn tail(mut res: ScanResult, e: Fmp4Error) -> Result<ScanResult, Fmp4Error> {
    if let Fmp4Error::Io(_) = e {
        return Err(e);
    }
    res.tail_error = Some(e);
    Ok(res)
}

fn invalid(offset: u64, reason: &'static str) -> Fmp4Error {
    Fmp4Error::Invalid { offset, reason }
}

/// `prft` body: (NTP timestamp, media time).
fn parse_prft(body: &[u8], base: u64) -> Result<(u64, u64), Fmp4Error> {
    let mut f = Fields::new(body, base);
    let (version, _) = f.full_box()?;
    f.skip(4)?; // reference_track_ID
    let ntp = f.u64()?;
    let media_time = if version == 1 {
        f.u64()?
    } else {
        u64::from(f.u32()?)
    };
    Ok((ntp, media_time))
}

/// Reads the video sample table of one fragment (its `moof` only): the samples of the `traf`
/// of `defaults.track_id` ([`ScanResult::defaults`]), or of the first `traf` when that is 0.
pub fn read_fragment_samples<R: Read + Seek + ?Sized>(
    r: &mut R,
    frag: &FragmentInfo,
    defaults: &TrackDefaults,
) -> Result<Vec<SampleInfo>, Fmp4Error> {
    read_samples_of(r, frag, defaults, None)
}

/// Reads the sample table of track `track_id` in one fragment (its `moof` only): any track,
/// video or audio; `defaults` are that track's `trex` defaults
/// ([`AudioTrackInfo::defaults`], [`ScanResult::defaults`]). A fragment without a `traf` of
/// that track (audio that had no frame in it) gives an empty list.
///
/// Audio samples are frames exactly as the camera sent them (an AAC access unit without
/// ADTS header, or one RTP packet of G.711 codes); [`read_sample`] returns their bytes.
pub fn read_track_samples<R: Read + Seek + ?Sized>(
    r: &mut R,
    frag: &FragmentInfo,
    track_id: u32,
    defaults: &TrackDefaults,
) -> Result<Vec<SampleInfo>, Fmp4Error> {
    read_samples_of(r, frag, defaults, Some(track_id))
}

fn read_samples_of<R: Read + Seek + ?Sized>(
    r: &mut R,
    frag: &FragmentInfo,
    defaults: &TrackDefaults,
    target: Option<u32>,
) -> Result<Vec<SampleInfo>, Fmp4Error> {
    let len = r.seek(SeekFrom::End(0))?;
    let h = super::reader::read_header_at(r, frag.moof_offset, len)?;
    if &h.fourcc != b"moof" {
        return Err(Fmp4Error::Missing("moof"));
    }
    let mut body = Vec::new();
    read_body(r, &h, MAX_MOOF_BYTES, &mut body)?;
    // The count was checked against the trun's size while parsing, so this is bounded by the
    // moof we just read.
    let mut samples = Vec::new();
    let video = match target {
        Some(_) => TrackDefaults::default(),
        None => *defaults,
    };
    let tracks = Tracks {
        video: &video,
        audio: &[],
    };
    let own = target.map(|id| (id, defaults));
    match parse_moof_target(&body, &h, &tracks, own, |s| samples.push(s), None) {
        Ok(_) => Ok(samples),
        Err(Fmp4Error::Missing("traf")) if target.is_some() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Reads one sample's bytes into `out`, replacing its contents: 4-byte length-prefixed NAL
/// units for video, the raw frame for audio (the bytes are copied as stored; this function
/// does not look at them). The sample must come from [`read_fragment_samples`] or
/// [`read_track_samples`] on the same file.
pub fn read_sample<R: Read + Seek + ?Sized>(
    r: &mut R,
    sample: &SampleInfo,
    out: &mut Vec<u8>,
) -> Result<(), Fmp4Error> {
    let len = r.seek(SeekFrom::End(0))?;
    if sample.offset.saturating_add(u64::from(sample.size)) > len {
        return Err(Fmp4Error::Truncated {
            offset: sample.offset,
        });
    }
    out.clear();
    out.resize(sample.size as usize, 0);
    r.seek(SeekFrom::Start(sample.offset))?;
    r.read_exact(out)?;
    Ok(())
}

/// The tracks a `moof` is read against: the video track's defaults (`track_id` 0 = unknown:
/// the first `traf` is the video) and the audio tracks.
pub(crate) struct Tracks<'a> {
    pub video: &'a TrackDefaults,
    pub audio: &'a [AudioTrackInfo],
}

/// [`parse_moof_target`] for the video `traf` or track `target`, with that track's defaults
/// looked up in `tracks`.
pub(crate) fn parse_moof_tracks(
    body: &[u8],
    h: &BoxHeader,
    tracks: &Tracks<'_>,
    target: Option<u32>,
    visit: impl FnMut(SampleInfo),
    audio_out: Option<&mut Vec<AudioTrafInfo>>,
) -> Result<MoofSummary, Fmp4Error> {
    let own = target.map(|id| {
        let d = tracks
            .audio
            .iter()
            .find(|a| a.track_id == id)
            .map_or(tracks.video, |a| &a.defaults);
        (id, d)
    });
    parse_moof_target(body, h, tracks, own, visit, audio_out)
}

/// Parses a `moof` body: `mfhd`, then every `traf` in order. `visit` gets the samples of the
/// target `traf` (`target` = (track ID, its defaults), or the video `traf` when `None`), whose
/// summary is returned; `audio_out` collects a summary of each `traf` of a track in
/// `tracks.audio`. The returned byte range covers the samples of every `traf`, so the caller
/// can check them all against the `mdat`. A missing target `traf` is `Missing("traf")`.
pub(crate) fn parse_moof_target(
    body: &[u8],
    h: &BoxHeader,
    tracks: &Tracks<'_>,
    target: Option<(u32, &TrackDefaults)>,
    mut visit: impl FnMut(SampleInfo),
    mut audio_out: Option<&mut Vec<AudioTrafInfo>>,
) -> Result<MoofSummary, Fmp4Error> {
    let base = h.body_offset();
    let mut sequence_number = None;
    for b in BoxIter::new(body, base) {
        let b = b?;
        if &b.fourcc == b"mfhd" {
            let mut f = Fields::new(b.body, b.offset + 8);
            f.full_box()?;
            sequence_number = Some(f.u32()?);
            break;
        }
    }
    let sequence_number = sequence_number.ok_or(Fmp4Error::Missing("mfhd"))?;

    let video_id = tracks.video.track_id;
    let mut found: Option<MoofSummary> = None;
    let mut data = (u64::MAX, 0u64); // byte range of every traf's samples
    let mut implicit = 0u32;
    let mut next_base = h.offset; // base of a traf without one of its own (first: the moof)
    let mut trafs = 0usize;
    let mut video_seen = false;
    for b in BoxIter::new(body, base) {
        let b = b?;
        if &b.fourcc != b"traf" {
            continue;
        }
        trafs += 1;
        if trafs > MAX_TRAFS {
            return Err(invalid(b.offset, "too many trafs in one moof"));
        }
        let id = traf_track_id(&b)?;
        // The video traf: the video track's, or the first when the video ID is unknown.
        let is_video = !video_seen && (id == video_id || (video_id == 0 && trafs == 1));
        video_seen |= is_video;
        let audio = tracks.audio.iter().find(|a| a.track_id == id);
        let is_target = match target {
            Some((t, _)) => found.is_none() && t == id,
            None => is_video,
        };
        let defaults = match (target, audio) {
            (Some((_, d)), _) if is_target => d,
            _ if is_video => tracks.video,
            (_, Some(a)) => &a.defaults,
            _ => &TrackDefaults::default(),
        };
        let sum = if is_target {
            parse_traf(&b, h, next_base, defaults, &mut implicit, &mut visit)?
        } else {
            parse_traf(&b, h, next_base, defaults, &mut implicit, &mut |_| {})?
        };
        if sum.data_end > 0 {
            data = (data.0.min(sum.data_start), data.1.max(sum.data_end));
            next_base = sum.data_end;
        }
        if let (Some(out), Some(a), false) = (audio_out.as_deref_mut(), audio, is_video) {
            out.push(AudioTrafInfo {
                track_id: a.track_id,
                base_decode_time: sum.base_decode_time,
                sample_count: sum.sample_count,
                duration: sum.duration,
            });
        }
        if is_target {
            found = Some(sum);
        }
    }
    let mut sum = found.ok_or(Fmp4Error::Missing("traf"))?;
    sum.sequence_number = sequence_number;
    (sum.data_start, sum.data_end) = if data.1 == 0 { (0, 0) } else { data };
    Ok(sum)
}

/// The track ID in a `traf`'s `tfhd`.
fn traf_track_id(traf: &super::reader::BoxRef<'_>) -> Result<u32, Fmp4Error> {
    let tfhd = BoxIter::new(traf.body, traf.offset + 8)
        .map_while(Result::ok)
        .find(|b| &b.fourcc == b"tfhd")
        .ok_or(Fmp4Error::Missing("tfhd"))?;
    let mut f = Fields::new(tfhd.body, tfhd.offset + 8);
    f.full_box()?;
    f.u32()
}

/// Parses one `traf` of the `moof` `h`, calling `visit` for each sample. `implicit_base` is
/// where its data starts when `tfhd` gives neither a base offset nor default-base-is-moof;
/// `implicit` counts, across the `moof`, samples whose records take no bytes.
fn parse_traf(
    traf: &super::reader::BoxRef<'_>,
    h: &BoxHeader,
    implicit_base: u64,
    defaults: &TrackDefaults,
    implicit: &mut u32,
    visit: &mut dyn FnMut(SampleInfo),
) -> Result<MoofSummary, Fmp4Error> {
    let mut sum = MoofSummary {
        data_start: u64::MAX,
        ..MoofSummary::default()
    };
    // tfhd first: it sets the defaults and the data base for every trun.
    let mut tfhd = None;
    let mut tfdt = None;
    let mut loss = LossTable::default();
    for b in BoxIter::new(traf.body, traf.offset + 8) {
        let b = b?;
        match &b.fourcc {
            b"tfhd" if tfhd.is_none() => tfhd = Some(b),
            b"tfdt" if tfdt.is_none() => tfdt = Some(b),
            b"uuid" if b.body.get(..16) == Some(&LOSS_BOX_UUID[..]) => {
                loss = LossTable::parse(b.body, b.offset + 8)?;
            }
            _ => {}
        }
    }
    let tfhd = tfhd.ok_or(Fmp4Error::Missing("tfhd"))?;
    let mut f = Fields::new(tfhd.body, tfhd.offset + 8);
    let (_, tf_flags) = f.full_box()?;
    f.skip(4)?; // track_ID
    let mut data_base = if tf_flags & 0x02_0000 != 0 {
        h.offset // default-base-is-moof
    } else {
        implicit_base
    };
    if tf_flags & 0x01 != 0 {
        data_base = f.u64()?;
    }
    if tf_flags & 0x02 != 0 {
        f.skip(4)?; // sample_description_index
    }
    let default_duration = if tf_flags & 0x08 != 0 {
        f.u32()?
    } else {
        defaults.sample_duration
    };
    let default_size = if tf_flags & 0x10 != 0 {
        f.u32()?
    } else {
        defaults.sample_size
    };
    let default_flags = if tf_flags & 0x20 != 0 {
        f.u32()?
    } else {
        defaults.sample_flags
    };

    let tfdt = tfdt.ok_or(Fmp4Error::Missing("tfdt"))?;
    let mut f = Fields::new(tfdt.body, tfdt.offset + 8);
    let (version, _) = f.full_box()?;
    sum.base_decode_time = if version == 1 {
        f.u64()?
    } else {
        u64::from(f.u32()?)
    };

    let mut decode_time = sum.base_decode_time;
    let mut next_data = data_base;
    let mut first = true;
    let mut index = 0u32;
    for b in BoxIter::new(traf.body, traf.offset + 8) {
        let b = b?;
        if &b.fourcc != b"trun" {
            continue;
        }
        let mut f = Fields::new(b.body, b.offset + 8);
        let (version, flags) = f.full_box()?;
        let count = f.u32()?;
        let mut pos = next_data;
        if flags & 0x001 != 0 {
            let off = f.u32()? as i32;
            pos = data_base
                .checked_add_signed(i64::from(off))
                .ok_or_else(|| invalid(b.offset, "trun data offset out of range"))?;
        }
        let first_flags = if flags & 0x004 != 0 {
            Some(f.u32()?)
        } else {
            None
        };
        let record = 4 * [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|&&bit| flags & bit != 0)
            .count();
        let fits = if record == 0 {
            *implicit = implicit.saturating_add(count);
            *implicit <= MAX_IMPLICIT_SAMPLES
        } else {
            (count as usize)
                .checked_mul(record)
                .is_some_and(|n| n <= f.remaining())
        };
        if !fits {
            return Err(invalid(b.offset, "trun sample count exceeds its box"));
        }
        for i in 0..count {
            let duration = if flags & 0x100 != 0 {
                f.u32()?
            } else {
                default_duration
            };
            let size = if flags & 0x200 != 0 {
                f.u32()?
            } else {
                default_size
            };
            let mut sample_flags = if flags & 0x400 != 0 {
                f.u32()?
            } else {
                default_flags
            };
            if i == 0
                && let Some(ff) = first_flags
            {
                sample_flags = ff;
            }
            let composition_offset = if flags & 0x800 != 0 {
                let v = f.u32()?;
                if version == 0 {
                    i64::from(v)
                } else {
                    i64::from(v as i32)
                }
            } else {
                0
            };
            let (lost_packets, damaged) = loss.take(index)?;
            index = index.saturating_add(1);
            sum.lost_packets = sum.lost_packets.saturating_add(u64::from(lost_packets));
            sum.damaged_samples = sum.damaged_samples.saturating_add(u32::from(damaged));
            let s = SampleInfo {
                offset: pos,
                size,
                duration,
                flags: sample_flags,
                composition_offset,
                decode_time,
                lost_packets,
                damaged,
            };
            if first {
                sum.first_is_keyframe = s.is_keyframe();
                first = false;
            }
            if size > 0 {
                sum.data_start = sum.data_start.min(pos);
                sum.data_end = sum.data_end.max(pos.saturating_add(u64::from(size)));
            }
            pos = pos.saturating_add(u64::from(size));
            decode_time = decode_time.saturating_add(u64::from(duration));
            sum.duration = sum.duration.saturating_add(u64::from(duration));
            sum.sample_count = sum.sample_count.saturating_add(1);
            visit(s);
        }
        next_data = pos;
    }
    if sum.data_end == 0 {
        sum.data_start = 0;
    }
    Ok(sum)
}

/// The loss table of one `traf` (see `fragment.rs`), read entry by entry as samples go by.
#[derive(Default)]
struct LossTable<'a> {
    entries: Fields<'a>,
    left: u32,
    /// The next entry, read ahead: (sample index, lost packets, flags).
    next: Option<(u32, u32, u32)>,
}

impl<'a> LossTable<'a> {
    /// `body` is the `uuid` box body (usertype first), at file offset `base`.
    fn parse(body: &'a [u8], base: u64) -> Result<Self, Fmp4Error> {
        let mut f = Fields::new(body, base);
        f.skip(16)?;
        let (version, _) = f.full_box()?;
        if version != 0 {
            // A later layout: ignored rather than misread.
            return Ok(LossTable::default());
        }
        let count = f.u32()?;
        if (count as usize)
            .checked_mul(12)
            .is_none_or(|n| n > f.remaining())
        {
            return Err(invalid(base, "loss table entry count exceeds its box"));
        }
        let mut t = LossTable {
            entries: f,
            left: count,
            next: None,
        };
        t.advance()?;
        Ok(t)
    }

    fn advance(&mut self) -> Result<(), Fmp4Error> {
        self.next = if self.left > 0 {
            self.left -= 1;
            Some((
                self.entries.u32()?,
                self.entries.u32()?,
                self.entries.u32()?,
            ))
        } else {
            None
        };
        Ok(())
    }

    /// The entry of sample `index` (samples come in order): (lost packets, damaged).
    fn take(&mut self, index: u32) -> Result<(u32, bool), Fmp4Error> {
        // Entries for earlier indices (out of order, duplicated) are skipped.
        while self.next.is_some_and(|(i, _, _)| i < index) {
            self.advance()?;
        }
        match self.next {
            Some((i, lost, flags)) if i == index => {
                self.advance()?;
                Ok((lost, flags & LOSS_FLAG_DAMAGED != 0))
            }
            _ => Ok((0, false)),
        }
    }
}

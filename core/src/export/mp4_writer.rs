//! The box layouts of an exported clip: a progressive MP4 (`ftyp` + `moov` with complete
//! sample tables + one `mdat`, moov first so players and browsers can start without seeking
//! to the end) or a fragmented one (`ftyp` + `moov`/`mvex` + `prft`/`moof`/`mdat` per source
//! fragment).
//!
//! Only headers are built here, in memory; sample bytes are streamed by the caller. The
//! progressive `moov` is a pure function of the sample table and the byte offset where the
//! `mdat` payload starts, so its size is known before a single sample byte is written.
//!
//! Both layouts carry one edit (`edts/elst`) that starts presentation at the first frame the
//! user asked for, hiding the pre-roll from the keyframe before it.
//!
//! Audio tracks ([`ClipAudio`]) follow the video track (IDs 2, 3, ...), each with its own
//! edit list ([`AudioEdit`]) placing its first presented sample at its wall-clock place
//! relative to the video's first presented frame. A clip without audio is byte for byte what
//! it was before audio existed: the video `trak`, `mvhd` and fragments are written by the same
//! code either way.

use crate::fmp4::boxes::{
    self, begin, begin_full, end, fits32, put_u16, put_u32, put_u64, put_zeros,
};
use crate::fmp4::{
    AudioConfig, KEYFRAME_SAMPLE_FLAGS, TRACK_ID, VideoConfig, VideoTrack, sample_flags,
};

/// One sample of the clip, as the sample tables need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClipSample {
    /// Bytes (4-byte length-prefixed NAL units, copied verbatim from the source).
    pub size: u32,
    /// Decode duration in the track timescale.
    pub duration: u32,
    /// Sync sample (IDR).
    pub sync: bool,
    /// Composition (presentation) minus decode time.
    pub cto: i32,
}

/// A run of samples stored back to back: one chunk of the progressive file, one fragment of
/// the fragmented one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkLayout {
    /// Samples in the chunk.
    pub count: u32,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// The single edit: present `duration` ticks of media starting at media time `media_time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edit {
    /// Media (composition) time of the first presented frame, track timescale.
    pub media_time: u64,
    /// Presented duration, track timescale (also the movie timescale).
    pub duration: u64,
}

/// The edit list of an audio track: `empty` ticks of nothing (movie timescale: the audio
/// starts after the video's first presented frame), then `duration` ticks (movie timescale)
/// of the track's media from `media_time` (the track's own timescale; the part of its first
/// sample before the video's first presented frame is skipped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AudioEdit {
    /// Lead-in before the audio starts, movie timescale (0: no empty edit).
    pub empty: u64,
    /// Media time of the first presented audio, in the audio track's timescale.
    pub media_time: u64,
    /// Presented duration, movie timescale.
    pub duration: u64,
}

/// One audio track of a clip, as the writers need it.
#[derive(Clone, Copy, Debug)]
pub struct ClipAudio<'a> {
    /// Its track ID in the clip (2, 3, ...).
    pub track_id: u32,
    /// The sample entry, copied from the recording.
    pub config: &'a AudioConfig,
    /// Its samples, in decode order (all sync; `cto` 0).
    pub samples: &'a [ClipSample],
    /// Its chunks (progressive) in its own order.
    pub chunks: &'a [ChunkLayout],
    /// File offset of each chunk (progressive; empty for the fragmented `moov`).
    pub offsets: &'a [u64],
    /// Its edit list.
    pub edit: AudioEdit,
}

/// One `traf` of an output fragment: `samples` of track `track_id` from decode time
/// `base_dts`, stored in the `mdat` after those of the `traf`s before it.
#[derive(Clone, Copy, Debug)]
pub struct TrafRun<'a> {
    /// Track ID ([`TRACK_ID`] for the video).
    pub track_id: u32,
    /// Decode time of the first sample, in the track's timescale.
    pub base_dts: u64,
    /// The samples.
    pub samples: &'a [ClipSample],
}

/// `ftyp`: `isom` major with `iso2` (edit lists), `avc1` and `mp41`; the fragmented clip adds
/// `iso6` (tfdt v1, prft).
pub fn ftyp(out: &mut Vec<u8>, fragmented: bool) {
    let b = begin(out, b"ftyp");
    out.extend_from_slice(b"isom");
    put_u32(out, 0x200);
    let brands: &[&[u8; 4]] = if fragmented {
        &[b"isom", b"iso2", b"iso6", b"avc1", b"mp41"]
    } else {
        &[b"isom", b"iso2", b"avc1", b"mp41"]
    };
    for brand in brands {
        out.extend_from_slice(*brand);
    }
    end(out, b);
}

/// The `mdat` header for `payload` bytes (16 bytes with a 64-bit size when needed).
pub fn mdat_header(out: &mut Vec<u8>, payload: u64) {
    let total = payload.saturating_add(8);
    if fits32(total) {
        put_u32(out, u32::try_from(total).unwrap_or(u32::MAX));
        out.extend_from_slice(b"mdat");
    } else {
        put_u32(out, 1);
        out.extend_from_slice(b"mdat");
        put_u64(out, payload.saturating_add(16));
    }
}

/// Length of [`mdat_header`] for `payload` bytes.
pub fn mdat_header_len(payload: u64) -> u64 {
    if fits32(payload.saturating_add(8)) {
        8
    } else {
        16
    }
}

/// [`progressive_video_moov`] for an H.264 track.
pub fn progressive_moov(
    track: &VideoTrack,
    samples: &[ClipSample],
    chunks: &[ChunkLayout],
    edit: Edit,
    payload_start: u64,
    co64: bool,
) -> Vec<u8> {
    progressive_video_moov(&track.into(), samples, chunks, edit, payload_start, co64)
}

/// The complete `moov` of a progressive clip whose `mdat` payload starts at file offset
/// `payload_start`, chunks laid out in order. `co64` selects 64-bit chunk offsets.
pub fn progressive_video_moov(
    track: &VideoConfig,
    samples: &[ClipSample],
    chunks: &[ChunkLayout],
    edit: Edit,
    payload_start: u64,
    co64: bool,
) -> Vec<u8> {
    let offsets = contiguous_offsets(chunks, payload_start);
    progressive_av_moov(track, samples, chunks, &offsets, edit, &[], co64)
}

/// File offsets of `chunks` stored back to back from `start`.
pub fn contiguous_offsets(chunks: &[ChunkLayout], start: u64) -> Vec<u64> {
    let mut off = start;
    chunks
        .iter()
        .map(|c| {
            let at = off;
            off = off.saturating_add(c.bytes);
            at
        })
        .collect()
}

/// The complete `moov` of a progressive clip with audio: the video track (its chunks at
/// `offsets`, one per chunk) then each of `audio` (its chunks at its own offsets). With no
/// audio this is exactly [`progressive_video_moov`]. `co64` selects 64-bit chunk offsets.
pub fn progressive_av_moov(
    track: &VideoConfig,
    samples: &[ClipSample],
    chunks: &[ChunkLayout],
    offsets: &[u64],
    edit: Edit,
    audio: &[ClipAudio<'_>],
    co64: bool,
) -> Vec<u8> {
    let media_duration: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
    let audio_samples: usize = audio.iter().map(|a| a.samples.len()).sum();
    let mut out = Vec::with_capacity(
        1024 + (samples.len() + audio_samples) * 4 + chunks.len() * 8 + audio.len() * 1024,
    );
    let moov = begin(&mut out, b"moov");
    boxes::mvhd(
        &mut out,
        track.timescale,
        movie_duration(edit, audio),
        next_track_id(audio),
    );
    let trak = begin(&mut out, b"trak");
    boxes::tkhd(&mut out, TRACK_ID, edit.duration, track.width, track.height);
    edts(&mut out, edit);
    let mdia = begin(&mut out, b"mdia");
    boxes::mdhd(&mut out, track.timescale, media_duration);
    boxes::hdlr_vide(&mut out, b"camwire export\0");
    let minf = begin(&mut out, b"minf");
    boxes::vmhd_dinf(&mut out);
    let stbl = begin(&mut out, b"stbl");
    boxes::stsd_video(&mut out, track);
    stts(&mut out, samples);
    if samples.iter().any(|s| s.cto != 0) {
        ctts(&mut out, samples);
    }
    if !samples.iter().all(|s| s.sync) {
        let b = begin_full(&mut out, b"stss", 0, 0);
        let n = samples.iter().filter(|s| s.sync).count();
        put_u32(&mut out, u32::try_from(n).unwrap_or(u32::MAX));
        for (i, _) in samples.iter().enumerate().filter(|(_, s)| s.sync) {
            put_u32(&mut out, u32::try_from(i + 1).unwrap_or(u32::MAX));
        }
        end(&mut out, b);
    }
    sizes_and_chunks(&mut out, samples, chunks, offsets, co64);
    end(&mut out, stbl);
    end(&mut out, minf);
    end(&mut out, mdia);
    end(&mut out, trak);
    for a in audio {
        audio_trak(&mut out, a, true, co64);
    }
    end(&mut out, moov);
    out
}

/// The movie's duration (movie = video timescale): the longest track's presentation.
fn movie_duration(edit: Edit, audio: &[ClipAudio<'_>]) -> u64 {
    audio.iter().fold(edit.duration, |d, a| {
        d.max(a.edit.empty.saturating_add(a.edit.duration))
    })
}

/// `mvhd` next_track_ID: one past the largest track ID.
fn next_track_id(audio: &[ClipAudio<'_>]) -> u32 {
    audio
        .iter()
        .map(|a| a.track_id)
        .fold(TRACK_ID, u32::max)
        .saturating_add(1)
}

/// `stsz` (one size per sample), `stsc` (runs of chunks with the same sample count) and
/// `stco`/`co64` (`offsets`, one per chunk).
fn sizes_and_chunks(
    out: &mut Vec<u8>,
    samples: &[ClipSample],
    chunks: &[ChunkLayout],
    offsets: &[u64],
    co64: bool,
) {
    // stsz: one size per sample (sample_size 0 = sizes follow).
    let b = begin_full(out, b"stsz", 0, 0);
    put_u32(out, 0);
    put_u32(out, u32::try_from(samples.len()).unwrap_or(u32::MAX));
    for s in samples {
        put_u32(out, s.size);
    }
    end(out, b);
    // stsc: runs of chunks with the same sample count.
    let mut runs: Vec<(u32, u32)> = Vec::new(); // (first_chunk 1-based, samples_per_chunk)
    for (i, c) in chunks.iter().enumerate() {
        if runs.last().is_none_or(|r| r.1 != c.count) {
            runs.push((u32::try_from(i + 1).unwrap_or(u32::MAX), c.count));
        }
    }
    let b = begin_full(out, b"stsc", 0, 0);
    put_u32(out, u32::try_from(runs.len()).unwrap_or(u32::MAX));
    for (first, per) in runs {
        put_u32(out, first);
        put_u32(out, per);
        put_u32(out, 1); // sample_description_index
    }
    end(out, b);
    let b = begin_full(out, if co64 { b"co64" } else { b"stco" }, 0, 0);
    put_u32(out, u32::try_from(chunks.len()).unwrap_or(u32::MAX));
    for i in 0..chunks.len() {
        let off = offsets.get(i).copied().unwrap_or(0);
        if co64 {
            put_u64(out, off);
        } else {
            put_u32(out, u32::try_from(off).unwrap_or(u32::MAX));
        }
    }
    end(out, b);
}

/// One audio `trak`: `tkhd` (volume 1.0), its edit list, `mdia` with the recording's sample
/// entry; with complete sample tables (`progressive`) or empty ones (fragmented).
fn audio_trak(out: &mut Vec<u8>, a: &ClipAudio<'_>, progressive: bool, co64: bool) {
    let presented = a.edit.empty.saturating_add(a.edit.duration);
    let media_duration: u64 = if progressive {
        a.samples.iter().map(|s| u64::from(s.duration)).sum()
    } else {
        0
    };
    let trak = begin(out, b"trak");
    boxes::tkhd_audio(out, a.track_id, presented);
    audio_edts(out, a.edit);
    let mdia = begin(out, b"mdia");
    boxes::mdhd(out, a.config.timescale, media_duration);
    boxes::hdlr(out, b"soun", b"camwire export\0");
    let minf = begin(out, b"minf");
    boxes::smhd_dinf(out);
    let stbl = begin(out, b"stbl");
    boxes::stsd_audio(out, a.config, a.track_id);
    if progressive {
        stts(out, a.samples);
        sizes_and_chunks(out, a.samples, a.chunks, a.offsets, co64);
    } else {
        boxes::empty_sample_tables(out);
    }
    end(out, stbl);
    end(out, minf);
    end(out, mdia);
    end(out, trak);
}

/// `edts/elst` of an audio track: an empty edit for the lead-in when there is one, then the
/// media edit. Version 1 only when a value needs 64 bits.
fn audio_edts(out: &mut Vec<u8>, edit: AudioEdit) {
    let e = begin(out, b"edts");
    let v1 =
        !fits32(edit.duration) || !fits32(edit.empty) || i32::try_from(edit.media_time).is_err();
    let b = begin_full(out, b"elst", u8::from(v1), 0);
    let entries: &[(u64, Option<u64>)] =
        &[(edit.empty, None), (edit.duration, Some(edit.media_time))];
    let entries = if edit.empty > 0 {
        entries
    } else {
        &entries[1..]
    };
    put_u32(out, u32::try_from(entries.len()).unwrap_or(u32::MAX));
    for &(duration, media_time) in entries {
        if v1 {
            put_u64(out, duration);
            put_u64(out, media_time.unwrap_or(u64::MAX)); // -1: empty edit
        } else {
            put_u32(out, u32::try_from(duration).unwrap_or(u32::MAX));
            put_u32(
                out,
                media_time.map_or(u32::MAX, |t| u32::try_from(t).unwrap_or(u32::MAX)),
            );
        }
        put_u16(out, 1); // media_rate_integer
        put_u16(out, 0); // media_rate_fraction
    }
    end(out, b);
    end(out, e);
}

/// [`fragmented_video_moov`] for an H.264 track.
pub fn fragmented_moov(track: &VideoTrack, edit: Edit, media_duration: u64) -> Vec<u8> {
    fragmented_video_moov(&track.into(), edit, media_duration)
}

/// The `moov` of a fragmented clip: empty sample tables, the edit, and `mvex` with the total
/// duration (`mehd`) so players know it up front.
pub fn fragmented_video_moov(track: &VideoConfig, edit: Edit, media_duration: u64) -> Vec<u8> {
    fragmented_av_moov(track, edit, media_duration, &[])
}

/// [`fragmented_video_moov`] with audio tracks (their `samples`, `chunks` and `offsets` are
/// not used: the fragments carry them): a `trak` with its edit list and a `trex` each. With
/// no audio this is exactly [`fragmented_video_moov`].
pub fn fragmented_av_moov(
    track: &VideoConfig,
    edit: Edit,
    media_duration: u64,
    audio: &[ClipAudio<'_>],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + audio.len() * 1024);
    let moov = begin(&mut out, b"moov");
    boxes::mvhd(
        &mut out,
        track.timescale,
        movie_duration(edit, audio),
        next_track_id(audio),
    );
    let trak = begin(&mut out, b"trak");
    boxes::tkhd(&mut out, TRACK_ID, edit.duration, track.width, track.height);
    edts(&mut out, edit);
    let mdia = begin(&mut out, b"mdia");
    boxes::mdhd(&mut out, track.timescale, 0);
    boxes::hdlr_vide(&mut out, b"camwire export\0");
    let minf = begin(&mut out, b"minf");
    boxes::vmhd_dinf(&mut out);
    let stbl = begin(&mut out, b"stbl");
    boxes::stsd_video(&mut out, track);
    boxes::empty_sample_tables(&mut out);
    end(&mut out, stbl);
    end(&mut out, minf);
    end(&mut out, mdia);
    end(&mut out, trak);
    for a in audio {
        audio_trak(&mut out, a, false, false);
    }
    let mvex = begin(&mut out, b"mvex");
    let b = begin_full(&mut out, b"mehd", 1, 0);
    put_u64(&mut out, media_duration);
    end(&mut out, b);
    for id in std::iter::once(TRACK_ID).chain(audio.iter().map(|a| a.track_id)) {
        let b = begin_full(&mut out, b"trex", 0, 0);
        put_u32(&mut out, id);
        put_u32(&mut out, 1);
        put_zeros(&mut out, 12);
        end(&mut out, b);
    }
    end(&mut out, mvex);
    end(&mut out, moov);
    out
}

/// `prft` (when the wall-clock is known) + `moof` + `mdat` header of one output fragment
/// whose first sample has decode time `base_dts`.
pub fn fragment_header(
    out: &mut Vec<u8>,
    sequence: u32,
    base_dts: u64,
    samples: &[ClipSample],
    wallclock_ntp: Option<u64>,
) {
    let video = TrafRun {
        track_id: TRACK_ID,
        base_dts,
        samples,
    };
    fragment_header_tracks(out, sequence, &[video], wallclock_ntp)
}

/// [`fragment_header`] with several `traf`s, one per run of `trafs` in that order, their
/// samples stored in the `mdat` in the same order. The first must be the video's (the
/// scanners of camwire and others take the first `traf` of a fragment for its video; it may
/// have no samples); `prft` gives the wall clock of its `base_dts`. Video `traf`s are written
/// as [`fragment_header`] writes them; audio ones as the recorder does (`tfhd` default
/// sample flags = sync, `trun` with durations and sizes only).
pub fn fragment_header_tracks(
    out: &mut Vec<u8>,
    sequence: u32,
    trafs: &[TrafRun<'_>],
    wallclock_ntp: Option<u64>,
) {
    if let (Some(ntp), Some(first)) = (wallclock_ntp, trafs.first()) {
        let b = begin_full(out, b"prft", 1, 0);
        put_u32(out, first.track_id);
        put_u64(out, ntp);
        put_u64(out, first.base_dts);
        end(out, b);
    }
    let payload: u64 = trafs
        .iter()
        .flat_map(|t| t.samples)
        .map(|s| u64::from(s.size))
        .sum();
    let moof_start = out.len();
    let moof = begin(out, b"moof");
    let b = begin_full(out, b"mfhd", 0, 0);
    put_u32(out, sequence);
    end(out, b);
    // (where the trun's data offset goes, bytes before this traf's samples in the mdat)
    let mut offsets = Vec::with_capacity(trafs.len());
    let mut before = 0u64;
    for t in trafs {
        let traf = begin(out, b"traf");
        let video = t.track_id == TRACK_ID;
        if video {
            let b = begin_full(out, b"tfhd", 0, 0x02_0000); // default-base-is-moof
            put_u32(out, t.track_id);
            end(out, b);
        } else {
            // default-base-is-moof, default_sample_flags present
            let b = begin_full(out, b"tfhd", 0, 0x02_0020);
            put_u32(out, t.track_id);
            put_u32(out, KEYFRAME_SAMPLE_FLAGS);
            end(out, b);
        }
        let b = begin_full(out, b"tfdt", 1, 0);
        put_u64(out, t.base_dts);
        end(out, b);
        if video {
            // data offset, per-sample duration, size, flags, composition offset.
            let trun = begin_full(out, b"trun", 1, 0x001 | 0x100 | 0x200 | 0x400 | 0x800);
            put_u32(out, u32::try_from(t.samples.len()).unwrap_or(u32::MAX));
            offsets.push((out.len(), before));
            put_u32(out, 0);
            for s in t.samples {
                put_u32(out, s.duration);
                put_u32(out, s.size);
                put_u32(out, sample_flags(s.sync));
                out.extend_from_slice(&s.cto.to_be_bytes());
            }
            end(out, trun);
        } else {
            // data offset, per-sample duration, size.
            let trun = begin_full(out, b"trun", 0, 0x001 | 0x100 | 0x200);
            put_u32(out, u32::try_from(t.samples.len()).unwrap_or(u32::MAX));
            offsets.push((out.len(), before));
            put_u32(out, 0);
            for s in t.samples {
                put_u32(out, s.duration);
                put_u32(out, s.size);
            }
            end(out, trun);
        }
        end(out, traf);
        before = before.saturating_add(t.samples.iter().map(|s| u64::from(s.size)).sum());
    }
    end(out, moof);
    let moof_len = out.len().saturating_sub(moof_start) as u64;
    let data_start = moof_len.saturating_add(mdat_header_len(payload));
    for (at, before) in offsets {
        if let Some(f) = out.get_mut(at..at + 4) {
            let v = i32::try_from(data_start.saturating_add(before)).unwrap_or(i32::MAX);
            f.copy_from_slice(&v.to_be_bytes());
        }
    }
    mdat_header(out, payload);
}

fn edts(out: &mut Vec<u8>, edit: Edit) {
    let e = begin(out, b"edts");
    let v1 = !fits32(edit.duration) || i32::try_from(edit.media_time).is_err();
    let b = begin_full(out, b"elst", u8::from(v1), 0);
    put_u32(out, 1);
    if v1 {
        put_u64(out, edit.duration);
        put_u64(out, edit.media_time);
    } else {
        put_u32(out, u32::try_from(edit.duration).unwrap_or(u32::MAX));
        put_u32(out, u32::try_from(edit.media_time).unwrap_or(u32::MAX));
    }
    put_u16(out, 1); // media_rate_integer
    put_u16(out, 0); // media_rate_fraction
    end(out, b);
    end(out, e);
}

/// `(count, value)` runs of equal consecutive values: the shape of `stts` and `ctts`.
fn run_lengths<T: PartialEq>(values: impl Iterator<Item = T>) -> Vec<(u32, T)> {
    let mut runs: Vec<(u32, T)> = Vec::new();
    for v in values {
        match runs.last_mut() {
            Some(r) if r.1 == v => r.0 = r.0.saturating_add(1),
            _ => runs.push((1, v)),
        }
    }
    runs
}

/// Run-length `stts`.
fn stts(out: &mut Vec<u8>, samples: &[ClipSample]) {
    let runs = run_lengths(samples.iter().map(|s| s.duration));
    let b = begin_full(out, b"stts", 0, 0);
    put_u32(out, u32::try_from(runs.len()).unwrap_or(u32::MAX));
    for (n, d) in runs {
        put_u32(out, n);
        put_u32(out, d);
    }
    end(out, b);
}

/// Run-length `ctts`: version 0 (unsigned offsets, what every player reads) when no offset
/// is negative, else version 1 (signed).
fn ctts(out: &mut Vec<u8>, samples: &[ClipSample]) {
    let runs = run_lengths(samples.iter().map(|s| s.cto));
    let version = u8::from(samples.iter().any(|s| s.cto < 0));
    let b = begin_full(out, b"ctts", version, 0);
    put_u32(out, u32::try_from(runs.len()).unwrap_or(u32::MAX));
    for (n, o) in runs {
        put_u32(out, n);
        out.extend_from_slice(&o.to_be_bytes());
    }
    end(out, b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmp4::{BoxIter, find_path};

    fn track() -> VideoTrack {
        VideoTrack {
            width: 640,
            height: 360,
            timescale: 90_000,
            avcc: vec![
                1, 0x4d, 0, 0x1e, 0xff, 0xe1, 0, 2, 0x67, 0x4d, 1, 0, 1, 0x68,
            ],
        }
    }

    #[test]
    fn progressive_tables_and_offsets() {
        let s = |size, sync| ClipSample {
            size,
            duration: 3600,
            sync,
            cto: 0,
        };
        let samples = [s(100, true), s(10, false), s(20, false), s(30, true)];
        let chunks = [
            ChunkLayout {
                count: 3,
                bytes: 130,
            },
            ChunkLayout {
                count: 1,
                bytes: 30,
            },
        ];
        let edit = Edit {
            media_time: 3600,
            duration: 10_800,
        };
        let moov = progressive_moov(&track(), &samples, &chunks, edit, 1000, false);
        let top: Vec<_> = BoxIter::new(&moov, 0)
            .collect::<Result<_, _>>()
            .expect("walk");
        assert_eq!((top.len(), &top[0].fourcc), (1, b"moov"));
        let body = top[0].body;
        let elst = find_path(body, &[b"trak", b"edts", b"elst"]).expect("elst");
        assert_eq!(
            &elst[4..16],
            &[0, 0, 0, 1, 0, 0, 0x2a, 0x30, 0, 0, 0x0e, 0x10]
        );
        let stbl = find_path(body, &[b"trak", b"mdia", b"minf", b"stbl"]).expect("stbl");
        let stss = find_path(stbl, &[b"stss"]).expect("stss");
        assert_eq!(&stss[4..], &[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4]);
        let stco = find_path(stbl, &[b"stco"]).expect("stco");
        assert_eq!(
            &stco[4..],
            &[0, 0, 0, 2, 0, 0, 0x03, 0xe8, 0, 0, 0x04, 0x6a]
        );
        let stts = find_path(stbl, &[b"stts"]).expect("stts");
        assert_eq!(&stts[4..], &[0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0x0e, 0x10]);
        assert!(find_path(stbl, &[b"ctts"]).is_none());
        // Same size with 64-bit offsets plus 4 bytes per chunk.
        let wide = progressive_moov(&track(), &samples, &chunks, edit, 1 << 33, true);
        assert_eq!(wide.len(), moov.len() + 8);
    }

    /// Composition offsets: `ctts` version 0 when none is negative, version 1 (signed) when
    /// one is; run-length coded either way.
    #[test]
    fn ctts_version_follows_the_sign_of_the_offsets() {
        let s = |cto| ClipSample {
            size: 10,
            duration: 3600,
            sync: false,
            cto,
        };
        let chunks = [ChunkLayout {
            count: 4,
            bytes: 40,
        }];
        let edit = Edit {
            media_time: 7200,
            duration: 14_400,
        };
        for (ctos, version) in [
            ([7200, 14_400, 3600, 3600], 0u8),
            ([0, 7200, -3600, -3600], 1),
        ] {
            let samples = ctos.map(s);
            let moov = progressive_moov(&track(), &samples, &chunks, edit, 1000, false);
            let top: Vec<_> = BoxIter::new(&moov, 0)
                .collect::<Result<_, _>>()
                .expect("walk");
            let stbl = find_path(top[0].body, &[b"trak", b"mdia", b"minf", b"stbl"]).expect("stbl");
            let ctts = find_path(stbl, &[b"ctts"]).expect("ctts");
            assert_eq!(ctts[0], version, "{ctos:?}");
            let mut want = vec![0, 0, 0, 3];
            for (n, o) in [(1u32, ctos[0]), (1, ctos[1]), (2, ctos[2])] {
                want.extend_from_slice(&n.to_be_bytes());
                want.extend_from_slice(&o.to_be_bytes());
            }
            assert_eq!(&ctts[4..], &want[..], "{ctos:?}");
        }
    }

    /// An audio track after the video: its own `trak` (ID 2, `soun`, the recording's sample
    /// entry), an empty edit for a late start, a media-time edit for an early one; `mvhd`
    /// lasts as long as the longest track; in a fragment the audio `traf`'s data follows the
    /// video's.
    #[test]
    fn audio_tracks_get_their_own_trak_edit_and_traf() {
        let cfg = AudioConfig {
            codec: crate::fmp4::AudioCodec::Pcmu,
            timescale: 8000,
            sample_rate: 8000,
            channels: 1,
            config: Vec::new(),
        };
        let v = |size| ClipSample {
            size,
            duration: 3600,
            sync: true,
            cto: 0,
        };
        let a = ClipSample {
            size: 160,
            duration: 160,
            sync: true,
            cto: 0,
        };
        let video = [v(100), v(50)];
        let vchunks = [ChunkLayout {
            count: 2,
            bytes: 150,
        }];
        let audio = [a, a, a];
        let achunks = [ChunkLayout {
            count: 3,
            bytes: 480,
        }];
        let edit = Edit {
            media_time: 0,
            duration: 7200,
        };
        for (aedit, want_elst) in [
            (
                AudioEdit {
                    empty: 900,
                    media_time: 0,
                    duration: 4500,
                },
                vec![(900u32, u32::MAX), (4500, 0)],
            ),
            (
                AudioEdit {
                    empty: 0,
                    media_time: 80,
                    duration: 9000,
                },
                vec![(9000, 80)],
            ),
        ] {
            let clip_audio = [ClipAudio {
                track_id: 2,
                config: &cfg,
                samples: &audio,
                chunks: &achunks,
                offsets: &[2000],
                edit: aedit,
            }];
            let moov = progressive_av_moov(
                &track().into(),
                &video,
                &vchunks,
                &[1000],
                edit,
                &clip_audio,
                false,
            );
            let top: Vec<_> = BoxIter::new(&moov, 0)
                .collect::<Result<_, _>>()
                .expect("walk");
            let traks: Vec<_> = BoxIter::new(top[0].body, 8)
                .filter_map(Result::ok)
                .filter(|b| &b.fourcc == b"trak")
                .collect();
            assert_eq!(traks.len(), 2);
            let t = traks[1].body;
            let hdlr = find_path(t, &[b"mdia", b"hdlr"]).expect("hdlr");
            assert_eq!(&hdlr[8..12], b"soun");
            let stbl = find_path(t, &[b"mdia", b"minf", b"stbl"]).expect("stbl");
            let stsd = find_path(stbl, &[b"stsd"]).expect("stsd");
            assert_eq!(&stsd[12..16], b"ulaw");
            let stco = find_path(stbl, &[b"stco"]).expect("stco");
            assert_eq!(&stco[4..], &[0, 0, 0, 1, 0, 0, 0x07, 0xd0]);
            let elst = find_path(t, &[b"edts", b"elst"]).expect("elst");
            let n = u32::from_be_bytes(elst[4..8].try_into().unwrap()) as usize;
            let got: Vec<(u32, u32)> = (0..n)
                .map(|i| {
                    let e = &elst[8 + i * 12..];
                    (
                        u32::from_be_bytes(e[..4].try_into().unwrap()),
                        u32::from_be_bytes(e[4..8].try_into().unwrap()),
                    )
                })
                .collect();
            assert_eq!(got, want_elst);
            let mvhd = find_path(top[0].body, &[b"mvhd"]).expect("mvhd");
            let duration = u32::from_be_bytes(mvhd[16..20].try_into().unwrap());
            assert_eq!(
                u64::from(duration),
                edit.duration.max(aedit.empty + aedit.duration)
            );
            assert_eq!(&mvhd[96..100], &[0, 0, 0, 3], "next track ID");
        }
        let mut out = Vec::new();
        let trafs = [
            TrafRun {
                track_id: TRACK_ID,
                base_dts: 0,
                samples: &video,
            },
            TrafRun {
                track_id: 2,
                base_dts: 40,
                samples: &audio,
            },
        ];
        fragment_header_tracks(&mut out, 1, &trafs, None);
        // moof, then the mdat header (its payload is streamed by the caller).
        let moof = BoxIter::new(&out, 0).next().expect("moof").expect("walk");
        assert_eq!(moof.fourcc, *b"moof");
        let moof_len = out.len() as u32 - 8;
        assert_eq!(&out[out.len() - 4..], b"mdat");
        let offsets: Vec<u32> = BoxIter::new(moof.body, 8)
            .filter_map(Result::ok)
            .filter(|b| &b.fourcc == b"traf")
            .map(|t| {
                let trun = find_path(t.body, &[b"trun"]).expect("trun");
                u32::from_be_bytes(trun[8..12].try_into().unwrap())
            })
            .collect();
        assert_eq!(offsets, [moof_len + 8, moof_len + 8 + 150]);
    }

    #[test]
    fn mdat_headers() {
        let mut v = Vec::new();
        mdat_header(&mut v, 10);
        assert_eq!(v, [0, 0, 0, 18, b'm', b'd', b'a', b't']);
        let mut v = Vec::new();
        mdat_header(&mut v, 1 << 32);
        assert_eq!(v.len() as u64, mdat_header_len(1 << 32));
        assert_eq!(&v[..8], &[0, 0, 0, 1, b'm', b'd', b'a', b't']);
    }
}

//! Movie fragments: `prft` + `moof` + `mdat`, written with one vectored write.
//!
//! The hot path of the recorder ends here. Access units arrive as lists of [`Bytes`] pieces
//! that point into the receive buffers; [`FragmentBuilder::push`] moves those handles (never
//! the bytes) into the builder, and [`FragmentBuilder::write_to`] encodes only the small
//! header (prft, moof, mdat header) and the 4-byte NAL length prefixes, then hands
//! `[header, prefix, pieces…, prefix, pieces…]` to `write_vectored`: one `writev` per fragment
//! in the usual case. Every buffer the builder owns is reused, so once warm a fragment costs
//! no heap allocation at all.
//!
//! Timeline: the first decode timestamp pushed into a builder is decode time 0 of the file
//! (`tfdt` and the `prft` media time are relative to it). Create one builder per file; its
//! `mfhd` sequence numbers start at 1.
//!
//! Packet loss is a fact of the recording, written next to the samples it concerns: a
//! fragment with a sample that follows lost RTP packets ([`AccessUnit::loss`]) or lost some of
//! its own NAL units ([`AccessUnit::damaged`]) carries a loss table in its `traf`, after the
//! `trun`:
//!
//! ```text
//! uuid (usertype LOSS_BOX_UUID f9158b39-dec2-4f66-a239-0ebe550a4ad4) {
//!   u8 version = 0, u24 flags = 0, u32 entry_count,
//!   entry_count × { u32 sample_index (in the traf, from 0), u32 lost_packets,
//!                   u32 flags (bit 0: damaged, the sample holds only the NAL units that
//!                   arrived whole) } }
//! ```
//!
//! `uuid` is ISO BMFF's box for private extensions: players skip it (ffmpeg's mov demuxer and
//! GStreamer's qtdemux only act on the PIFF usertypes they know), so a file with loss plays
//! like any other. Fragments without loss carry no such box, so a clean recording is byte for
//! byte what it was before. [`super::read_fragment_samples`] reads it back into
//! [`super::SampleInfo::lost_packets`] / [`super::SampleInfo::damaged`].
//!
//! Audio ([`FragmentBuilder::set_audio_tracks`], [`FragmentBuilder::push_audio`]): a file may
//! have audio tracks after its video track (IDs [`super::audio_track_id`]). Each fragment is
//! still one `moof` + one `mdat`, written in one vectored write, so a fragment is atomic with
//! its audio (a crash loses at most the fragment being built, audio included):
//!
//! ```text
//! moof { mfhd, traf video (as above),
//!        traf per audio lane with samples { tfhd (default-base-is-moof, default_sample_flags
//!          = sync), tfdt v1 (the lane's first decode time), trun v0 (data offset; per sample
//!          duration, size), [loss table] } }
//! mdat { video samples, then lane 0's audio bytes, lane 1's, ... }
//! ```
//!
//! Video decides when a fragment is cut: with no video sample waiting nothing is written and
//! the audio keeps waiting for the next fragment. Audio frames are stored exactly as they came
//! (an AAC access unit or one RTP packet of G.711 codes: one sample each, raw bytes, no length
//! prefix). Audio loss entries have flags 0 (an audio frame is never partly kept).

use std::io::{self, IoSlice, Write};

use bytes::Bytes;

use super::boxes::{begin, begin_full, end, header, put_i32, put_u32, put_u64};
use super::init::{TRACK_ID, audio_track_id};
use crate::frame::AccessUnit;
use crate::rtp::audio::AudioFrame;

/// The usertype of the per-fragment loss table (see the module docs).
pub const LOSS_BOX_UUID: [u8; 16] = [
    0xf9, 0x15, 0x8b, 0x39, 0xde, 0xc2, 0x4f, 0x66, 0xa2, 0x39, 0x0e, 0xbe, 0x55, 0x0a, 0x4a, 0xd4,
];
/// Loss table entry flag: the sample lost some of its NAL units.
pub const LOSS_FLAG_DAMAGED: u32 = 1;
/// Bytes of one loss table entry.
const LOSS_ENTRY_BYTES: u64 = 12;
/// Bytes of a loss table box without entries: header 8, usertype 16, version/flags 4, count 4.
const LOSS_BOX_BASE: u64 = 32;

/// `sample_flags` of a sync sample (IDR): sample_depends_on = 2 (depends on no other sample),
/// sample_is_non_sync_sample = 0.
pub const KEYFRAME_SAMPLE_FLAGS: u32 = 2 << 24;
/// `sample_flags` of any other sample: sample_depends_on = 1, sample_is_non_sync_sample = 1.
pub const NON_KEYFRAME_SAMPLE_FLAGS: u32 = (1 << 24) | NON_SYNC_BIT;
/// The sample_is_non_sync_sample bit of `sample_flags`.
pub const NON_SYNC_BIT: u32 = 1 << 16;

/// `tfhd` flag: offsets in `trun` count from the start of the `moof` box.
pub(crate) const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: data offset, and per-sample duration, size, flags and composition offset.
pub(crate) const TRUN_FLAGS: u32 = 0x0001 | 0x0100 | 0x0200 | 0x0400 | 0x0800;
/// Bytes of a `trun` sample record with [`TRUN_FLAGS`].
const TRUN_SAMPLE_BYTES: usize = 16;
/// `prft` flags value 0: the NTP time is when the picture entered the encoder, which for a
/// camera is its capture instant (what the RTCP sender report maps RTP timestamps to).
const PRFT_FLAGS: u32 = 0;

/// The `sample_flags` camwire writes for a keyframe or a non-keyframe.
pub fn sample_flags(keyframe: bool) -> u32 {
    if keyframe {
        KEYFRAME_SAMPLE_FLAGS
    } else {
        NON_KEYFRAME_SAMPLE_FLAGS
    }
}

/// Decode time of `dts` on the file's timeline, which starts at `first_dts`. Timestamps before
/// the start (which a well-behaved caller never passes) clamp to 0.
pub fn base_decode_time(dts: i64, first_dts: i64) -> u64 {
    u64::try_from(dts.saturating_sub(first_dts)).unwrap_or(0)
}

/// One sample waiting in the builder.
#[derive(Clone, Copy, Debug)]
struct PendingSample {
    dts: i64,
    pts: i64,
    /// Bytes in the mdat: NAL units plus their 4-byte prefixes.
    size: u64,
    keyframe: bool,
    /// RTP packets lost just before this sample.
    loss: u32,
    /// Some of the sample's NAL units were lost.
    damaged: bool,
}

/// One NAL unit waiting in the builder: how many pieces follow its prefix, and whether it has
/// one (empty NAL units get neither prefix nor bytes).
#[derive(Clone, Copy, Debug)]
struct PendingNal {
    pieces: u32,
    prefixed: bool,
}

/// One audio sample waiting in the builder.
#[derive(Clone, Copy, Debug)]
struct PendingAudio {
    /// Decode time on the file's timeline, in the track's timescale.
    decode_time: u64,
    /// The frame's own duration (samples per channel).
    samples: u32,
    /// Bytes in the mdat.
    size: u64,
    /// RTP packets lost just before this frame.
    loss: u32,
}

/// The waiting samples of one audio track; its buffers are reused across fragments.
#[derive(Debug, Default)]
struct AudioLane {
    samples: Vec<PendingAudio>,
    /// Payload handles of all waiting samples, in order.
    pieces: Vec<Bytes>,
    bytes: u64,
    lossy_samples: usize,
}

impl AudioLane {
    fn clear(&mut self) {
        self.samples.clear();
        self.pieces.clear();
        self.bytes = 0;
        self.lossy_samples = 0;
    }

    /// Bytes of this lane's `traf` (0 when it has no samples): traf header 8, tfhd 20,
    /// tfdt 20, trun 20 + 8 per sample, loss table.
    fn traf_size(&self) -> u64 {
        if self.samples.is_empty() {
            return 0;
        }
        68 + AUDIO_TRUN_SAMPLE_BYTES * self.samples.len() as u64 + loss_box_size(self.lossy_samples)
    }
}

/// `trun` flags of an audio traf: data offset, per-sample duration and size (flags come from
/// `tfhd`, there is no composition offset).
const AUDIO_TRUN_FLAGS: u32 = 0x0001 | 0x0100 | 0x0200;
/// Bytes of an audio `trun` sample record.
const AUDIO_TRUN_SAMPLE_BYTES: u64 = 8;
/// `tfhd` flag: default_sample_flags present.
const TFHD_DEFAULT_SAMPLE_FLAGS: u32 = 0x00_0020;

fn loss_box_size(entries: usize) -> u64 {
    if entries > 0 {
        LOSS_BOX_BASE + LOSS_ENTRY_BYTES * entries as u64
    } else {
        0
    }
}

/// Collects the samples of one fragment and writes them out; reused for every fragment of a
/// file.
#[derive(Debug)]
pub struct FragmentBuilder {
    samples: Vec<PendingSample>,
    nals: Vec<PendingNal>,
    /// Payload handles, in write order; pushing moves them here, writing drops them.
    pieces: Vec<Bytes>,
    /// The 4-byte big-endian length of each non-empty NAL unit, in order.
    prefixes: Vec<u8>,
    payload_bytes: u64,
    /// prft + moof + mdat header of the fragment being written.
    header: Vec<u8>,
    /// Empty between writes; keeps the `IoSlice` array's allocation for the next fragment.
    slices: Vec<IoSlice<'static>>,
    /// `mfhd` sequence number of the next fragment.
    sequence: u32,
    /// First dts ever pushed: decode time 0 of the file.
    origin_dts: Option<i64>,
    /// Waiting samples with a loss or damage to record.
    lossy_samples: usize,
    /// One per audio track of the file ([`Self::set_audio_tracks`]).
    lanes: Vec<AudioLane>,
    /// Where each audio traf's data offset sits in `header` (reused across fragments).
    audio_offset_at: Vec<usize>,
}

impl Default for FragmentBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl FragmentBuilder {
    /// A builder for a new file: sequence numbers from 1, decode time 0 at the first push.
    pub fn new() -> Self {
        Self {
            samples: Vec::new(),
            nals: Vec::new(),
            pieces: Vec::new(),
            prefixes: Vec::new(),
            payload_bytes: 0,
            header: Vec::new(),
            slices: Vec::new(),
            sequence: 1,
            origin_dts: None,
            lossy_samples: 0,
            lanes: Vec::new(),
            audio_offset_at: Vec::new(),
        }
    }

    /// Declares the file's audio tracks: `n` lanes, lane `i` written as track
    /// [`audio_track_id`]`(i)`, matching the `audio` list given to
    /// [`write_av_init`](super::write_av_init). Call once after [`new`](Self::new); a
    /// smaller `n` later drops the removed lanes' waiting samples.
    pub fn set_audio_tracks(&mut self, n: usize) {
        self.lanes.resize_with(n, AudioLane::default);
    }

    /// Number of audio lanes ([`set_audio_tracks`](Self::set_audio_tracks)).
    pub fn audio_tracks(&self) -> usize {
        self.lanes.len()
    }

    /// Adds one audio frame to lane `lane` as its next sample, at `decode_time` on the file's
    /// timeline in that track's timescale (the caller maps RTP time to it; it must not
    /// decrease within a lane). The frame's pieces are moved in, not copied; `frame` is left
    /// empty (pieces cleared, capacity kept) for reuse.
    ///
    /// A sample lasts `frame.samples` ticks, except that a hole before the next sample of the
    /// same fragment (lost packets, a camera that skipped) stretches it to that sample's
    /// decode time: players lay audio end to end, so without the stretch everything after a
    /// loss would play early and drift from the video. Overlaps are not shortened (a duration
    /// is never less than the frame's own); the next fragment's `tfdt` puts the lane back on
    /// its timeline. A frame with `loss > 0` gets an entry in the lane's loss table.
    ///
    /// A `lane` with no track (not below [`audio_tracks`](Self::audio_tracks)) has nowhere to
    /// go in the file: the frame is dropped (emptied the same way), never a panic.
    pub fn push_audio(&mut self, lane: usize, frame: &mut AudioFrame, decode_time: u64) {
        let Some(l) = self.lanes.get_mut(lane) else {
            frame.pieces.clear();
            return;
        };
        let size: u64 = frame.pieces.iter().map(|p| p.len() as u64).sum();
        l.samples.push(PendingAudio {
            decode_time,
            samples: frame.samples,
            size,
            loss: frame.loss,
        });
        if frame.loss > 0 {
            l.lossy_samples += 1;
        }
        l.bytes += size;
        l.pieces.append(&mut frame.pieces);
    }

    /// Number of audio samples waiting in lane `lane` (0 for a lane that does not exist).
    pub fn audio_len(&self, lane: usize) -> usize {
        self.lanes.get(lane).map_or(0, |l| l.samples.len())
    }

    /// Bytes the waiting audio samples of all lanes take in the mdat (what they pin in
    /// receive buffers, besides [`payload_bytes`](Self::payload_bytes)).
    pub fn audio_payload_bytes(&self) -> usize {
        let n: u64 = self.lanes.iter().map(|l| l.bytes).sum();
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Adds one access unit as the next sample, decoded at `dts` and presented at `pts` (both
    /// in the track timescale; dts must not decrease). Its payload pieces are moved in, not
    /// copied. NAL lengths are taken from the pieces themselves, so the mdat always matches
    /// its table; pieces that no NAL unit refers to are dropped. `au` is left empty with its
    /// vectors' capacity intact, so the caller can hand it back to the depacketizer
    /// (`H264Depacketizer::recycle`) and the hot path stops allocating once warm.
    pub fn push(&mut self, au: &mut AccessUnit, dts: i64, pts: i64) {
        let keyframe = au.keyframe;
        let (loss, damaged) = (au.loss, au.damaged);
        let nals = &au.nals;
        let pieces = &mut au.pieces;
        self.origin_dts.get_or_insert(dts);
        let mut size = 0u64;

        // The depacketizer's normal output: NAL units cover the pieces in order, exactly once.
        let mut next = 0u32;
        let in_order = nals.iter().all(|n| {
            let ok = n.pieces.start == next && n.pieces.end >= n.pieces.start;
            next = n.pieces.end;
            ok
        }) && usize::try_from(next).is_ok_and(|n| n == pieces.len());

        if in_order {
            for nal in nals {
                let run = pieces
                    .get(nal.pieces.start as usize..nal.pieces.end as usize)
                    .unwrap_or_default();
                size += self.add_nal(run.iter().map(|p| p.len() as u64).sum(), run.len());
            }
            self.pieces.append(pieces);
        } else {
            // Anything else: follow the ranges (clamped), cloning handles (a reference count
            // each, still no payload copy).
            for nal in nals {
                let end = (nal.pieces.end as usize).min(pieces.len());
                let start = (nal.pieces.start as usize).min(end);
                let run = pieces.get(start..end).unwrap_or_default();
                size += self.add_nal(run.iter().map(|p| p.len() as u64).sum(), run.len());
                self.pieces.extend(run.iter().cloned());
            }
        }

        pieces.clear();
        au.nals.clear();
        self.payload_bytes += size;
        self.samples.push(PendingSample {
            dts,
            pts,
            size,
            keyframe,
            loss,
            damaged,
        });
        if loss > 0 || damaged {
            self.lossy_samples += 1;
        }
    }

    /// Records one NAL unit of `len` bytes in `pieces` pieces; returns its size in the mdat.
    fn add_nal(&mut self, len: u64, pieces: usize) -> u64 {
        let prefixed = len > 0;
        if prefixed {
            // Over 4 GiB cannot be written; write_to rejects the fragment before that matters.
            let len32 = u32::try_from(len).unwrap_or(u32::MAX);
            self.prefixes.extend_from_slice(&len32.to_be_bytes());
        }
        self.nals.push(PendingNal {
            pieces: u32::try_from(pieces).unwrap_or(u32::MAX),
            prefixed,
        });
        if prefixed { len + 4 } else { 0 }
    }

    /// Number of samples waiting.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when no sample is waiting.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Bytes the waiting samples take in the mdat (NAL units plus 4-byte length prefixes, the
    /// same measure as [`AccessUnit::avc_len`]).
    pub fn payload_bytes(&self) -> usize {
        usize::try_from(self.payload_bytes).unwrap_or(usize::MAX)
    }

    /// Decode timestamp of the first waiting sample.
    pub fn first_dts(&self) -> Option<i64> {
        self.samples.first().map(|s| s.dts)
    }

    /// Decode time from the first to the last waiting sample (the last one's own duration is
    /// not known until the next sample arrives).
    pub fn duration_so_far(&self) -> i64 {
        match (self.samples.first(), self.samples.last()) {
            (Some(a), Some(b)) => b.dts.saturating_sub(a.dts),
            _ => 0,
        }
    }

    /// The `mfhd` sequence number the next fragment will carry.
    pub fn sequence_number(&self) -> u32 {
        self.sequence
    }

    /// The dts that is decode time 0 of the file (the first dts pushed), if any.
    pub fn origin_dts(&self) -> Option<i64> {
        self.origin_dts
    }

    /// Drops the waiting samples, video and audio (and the receive buffers they pin),
    /// without writing them. The sequence number, timeline and audio lanes are kept.
    pub fn clear(&mut self) {
        self.samples.clear();
        self.nals.clear();
        self.pieces.clear();
        self.prefixes.clear();
        self.payload_bytes = 0;
        self.lossy_samples = 0;
        for l in &mut self.lanes {
            l.clear();
        }
    }

    /// Writes the waiting samples as one fragment and clears the builder. Returns the bytes
    /// written (0, writing nothing, when no video sample is waiting: audio alone never makes
    /// a fragment, it waits for the next video).
    ///
    /// Every waiting audio sample goes into this fragment, one `traf` per lane that has any
    /// (see the module docs); `next_dts` concerns the video only.
    ///
    /// `next_dts` is the decode time of the sample that will follow (it gives the last
    /// sample its duration; without it the last sample repeats the previous duration, or 0
    /// for a single sample). `wallclock_ntp` is the 64-bit NTP wall-clock time of the first
    /// sample; when given, a `prft` box pairs it with that sample's presentation time.
    ///
    /// Errors: `InvalidInput` (nothing written) when the fragment would not fit 32-bit box
    /// sizes; any error of `out`. On error the samples stay in the builder (call
    /// [`clear`](Self::clear) to drop them) and the sequence number is not used up; after a
    /// failed write the file may end in a torn fragment, which the reader's
    /// [`scan_fragments`](super::scan_fragments) detects.
    pub fn write_to<W: Write + ?Sized>(
        &mut self,
        out: &mut W,
        next_dts: Option<i64>,
        wallclock_ntp: Option<u64>,
    ) -> io::Result<u64> {
        if self.samples.is_empty() {
            return Ok(0);
        }
        let audio_bytes: u64 = self.lanes.iter().map(|l| l.bytes).sum();
        let payload = self.payload_bytes + audio_bytes;
        let mdat_size =
            u32::try_from(8 + payload).map_err(|_| invalid("fragment payload exceeds 4 GiB"))?;
        self.encode_header(next_dts, wallclock_ntp, mdat_size)?;
        let total = self.header.len() as u64 + payload;

        let mut slices = recycle(std::mem::take(&mut self.slices));
        slices.push(IoSlice::new(&self.header));
        let mut prefixes = self.prefixes.chunks_exact(4);
        let mut pieces = self.pieces.iter();
        for nal in &self.nals {
            if nal.prefixed
                && let Some(prefix) = prefixes.next()
            {
                slices.push(IoSlice::new(prefix));
            }
            for piece in pieces.by_ref().take(nal.pieces as usize) {
                if !piece.is_empty() {
                    slices.push(IoSlice::new(piece));
                }
            }
        }
        for lane in &self.lanes {
            for piece in &lane.pieces {
                if !piece.is_empty() {
                    slices.push(IoSlice::new(piece));
                }
            }
        }
        let result = write_all_vectored(out, &mut slices);
        self.slices = recycle(slices);
        result?;

        self.clear();
        self.sequence = self.sequence.checked_add(1).unwrap_or(1);
        Ok(total)
    }

    /// Encodes prft + moof + the mdat header into `self.header`.
    fn encode_header(
        &mut self,
        next_dts: Option<i64>,
        wallclock_ntp: Option<u64>,
        mdat_size: u32,
    ) -> io::Result<()> {
        let origin = self.origin_dts.unwrap_or(0);
        let Some(first) = self.samples.first() else {
            return Ok(());
        };
        let count = self.samples.len();
        // moof = 8 + mfhd 16 + traf (8 + tfhd 16 + tfdt 20 + trun 20 + 16 per sample); the
        // data offset (moof size + 8) must fit the signed 32-bit field.
        let loss_box = loss_box_size(self.lossy_samples);
        let audio_trafs: u64 = self.lanes.iter().map(AudioLane::traf_size).sum();
        let moof_size = 88 + TRUN_SAMPLE_BYTES as u64 * count as u64 + loss_box + audio_trafs;
        let sample_count =
            u32::try_from(count).map_err(|_| invalid("too many samples in one fragment"))?;
        if moof_size + 8 > i32::MAX as u64 {
            return Err(invalid("too many samples in one fragment"));
        }
        // The last audio traf's data starts after the moof, the video and the other lanes;
        // its offset must fit trun's signed 32-bit field too.
        let last_audio = self.lanes.iter().rev().find(|l| !l.samples.is_empty());
        let audio_before_last: u64 =
            self.lanes.iter().map(|l| l.bytes).sum::<u64>() - last_audio.map_or(0, |l| l.bytes);
        if last_audio.is_some()
            && moof_size + 8 + self.payload_bytes + audio_before_last > i32::MAX as u64
        {
            return Err(invalid("audio data offset exceeds 2 GiB"));
        }

        let out = &mut self.header;
        out.clear();
        if let Some(ntp) = wallclock_ntp {
            let prft = begin_full(out, b"prft", 1, PRFT_FLAGS);
            put_u32(out, TRACK_ID);
            put_u64(out, ntp);
            put_u64(out, base_decode_time(first.pts, origin));
            end(out, prft);
        }

        let moof_start = begin(out, b"moof");
        let mfhd = begin_full(out, b"mfhd", 0, 0);
        put_u32(out, self.sequence);
        end(out, mfhd);
        let traf = begin(out, b"traf");
        let tfhd = begin_full(out, b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
        put_u32(out, TRACK_ID);
        end(out, tfhd);
        let tfdt = begin_full(out, b"tfdt", 1, 0);
        put_u64(out, base_decode_time(first.dts, origin));
        end(out, tfdt);
        let trun = begin_full(out, b"trun", 1, TRUN_FLAGS);
        put_u32(out, sample_count);
        let data_offset_at = out.len();
        put_i32(out, 0); // data_offset, patched below
        let mut prev_duration = 0u32;
        for (i, s) in self.samples.iter().enumerate() {
            let next = match self.samples.get(i + 1) {
                Some(n) => Some(n.dts),
                None => next_dts,
            };
            let duration = match next {
                Some(n) => clamp_u32(n.saturating_sub(s.dts)),
                None => prev_duration,
            };
            prev_duration = duration;
            put_u32(out, duration);
            put_u32(out, u32::try_from(s.size).unwrap_or(u32::MAX));
            put_u32(out, sample_flags(s.keyframe));
            put_i32(out, clamp_i32(s.pts.saturating_sub(s.dts)));
        }
        end(out, trun);
        if self.lossy_samples > 0 {
            let uuid = begin(out, b"uuid");
            out.extend_from_slice(&LOSS_BOX_UUID);
            put_u32(out, 0); // version 0, flags 0
            put_u32(out, u32::try_from(self.lossy_samples).unwrap_or(u32::MAX));
            for (i, s) in self.samples.iter().enumerate() {
                if s.loss > 0 || s.damaged {
                    put_u32(out, u32::try_from(i).unwrap_or(u32::MAX));
                    put_u32(out, s.loss);
                    put_u32(out, if s.damaged { LOSS_FLAG_DAMAGED } else { 0 });
                }
            }
            end(out, uuid);
        }
        end(out, traf);
        self.audio_offset_at.clear();
        for (lane, l) in self.lanes.iter().enumerate() {
            if l.samples.is_empty() {
                continue;
            }
            self.audio_offset_at.push(write_audio_traf(out, lane, l));
        }
        let moof_len = end(out, moof_start);
        debug_assert_eq!(u64::from(moof_len), moof_size);
        // default-base-is-moof: the first sample follows the moof and the 8-byte mdat header.
        let data_offset = i32::try_from(moof_len + 8).unwrap_or(i32::MAX);
        if let Some(field) = out.get_mut(data_offset_at..data_offset_at + 4) {
            field.copy_from_slice(&data_offset.to_be_bytes());
        }
        // Audio data follows the video data, lane after lane (checked above to fit i32).
        let mut next = u64::from(moof_len) + 8 + self.payload_bytes;
        let with_samples = self.lanes.iter().filter(|l| !l.samples.is_empty());
        for (l, &at) in with_samples.zip(&self.audio_offset_at) {
            let offset = i32::try_from(next).unwrap_or(i32::MAX);
            if let Some(field) = out.get_mut(at..at + 4) {
                field.copy_from_slice(&offset.to_be_bytes());
            }
            next += l.bytes;
        }
        header(out, b"mdat", mdat_size);
        Ok(())
    }
}

/// Writes the `traf` of audio lane `lane` (which has samples) into `out`; returns where its
/// `trun` data offset field is, for the caller to patch once the `moof` size is known.
fn write_audio_traf(out: &mut Vec<u8>, lane: usize, l: &AudioLane) -> usize {
    let traf = begin(out, b"traf");
    let tfhd = begin_full(
        out,
        b"tfhd",
        0,
        TFHD_DEFAULT_BASE_IS_MOOF | TFHD_DEFAULT_SAMPLE_FLAGS,
    );
    put_u32(out, audio_track_id(lane));
    // Every audio frame decodes on its own: sample_depends_on = 2, a sync sample.
    put_u32(out, KEYFRAME_SAMPLE_FLAGS);
    end(out, tfhd);
    let tfdt = begin_full(out, b"tfdt", 1, 0);
    put_u64(out, l.samples.first().map_or(0, |s| s.decode_time));
    end(out, tfdt);
    let trun = begin_full(out, b"trun", 0, AUDIO_TRUN_FLAGS);
    put_u32(out, u32::try_from(l.samples.len()).unwrap_or(u32::MAX));
    let offset_at = out.len();
    put_i32(out, 0); // data_offset, patched by the caller
    for (i, s) in l.samples.iter().enumerate() {
        let own = u64::from(s.samples);
        let duration = match l.samples.get(i + 1) {
            // A hole before the next frame: stretch over it (see push_audio).
            Some(n) if n.decode_time > s.decode_time.saturating_add(own) => {
                n.decode_time - s.decode_time
            }
            _ => own,
        };
        put_u32(out, u32::try_from(duration).unwrap_or(u32::MAX));
        put_u32(out, u32::try_from(s.size).unwrap_or(u32::MAX));
    }
    end(out, trun);
    if l.lossy_samples > 0 {
        let uuid = begin(out, b"uuid");
        out.extend_from_slice(&LOSS_BOX_UUID);
        put_u32(out, 0); // version 0, flags 0
        put_u32(out, u32::try_from(l.lossy_samples).unwrap_or(u32::MAX));
        for (i, s) in l.samples.iter().enumerate() {
            if s.loss > 0 {
                put_u32(out, u32::try_from(i).unwrap_or(u32::MAX));
                put_u32(out, s.loss);
                put_u32(out, 0);
            }
        }
        end(out, uuid);
    }
    end(out, traf);
    offset_at
}

#[cfg(test)]
impl FragmentBuilder {
    /// Addresses of the payload bytes held, in write order (zero-copy checks).
    pub(super) fn piece_ptrs(&self) -> Vec<*const u8> {
        self.pieces.iter().map(|p| p.as_ptr()).collect()
    }

    /// Addresses of every reusable buffer (allocation-reuse checks).
    pub(super) fn buffer_ptrs(&self) -> [usize; 6] {
        [
            self.header.as_ptr() as usize,
            self.prefixes.as_ptr() as usize,
            self.slices.as_ptr() as usize,
            self.samples.as_ptr() as usize,
            self.pieces.as_ptr() as usize,
            self.nals.as_ptr() as usize,
        ]
    }

    /// Addresses of the audio lanes' reusable buffers (allocation-reuse checks).
    pub(super) fn audio_buffer_ptrs(&self) -> Vec<usize> {
        let mut v = vec![self.audio_offset_at.as_ptr() as usize];
        for l in &self.lanes {
            v.push(l.samples.as_ptr() as usize);
            v.push(l.pieces.as_ptr() as usize);
        }
        v
    }

    /// Capacity of the kept IoSlice array, and whether it is empty.
    pub(super) fn slices_state(&self) -> (usize, bool) {
        (self.slices.capacity(), self.slices.is_empty())
    }
}

/// Writes every slice, coping with partial writes and interrupts.
fn write_all_vectored<W: Write + ?Sized>(
    out: &mut W,
    mut bufs: &mut [IoSlice<'_>],
) -> io::Result<()> {
    while !bufs.is_empty() {
        match out.write_vectored(bufs) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the whole fragment",
                ));
            }
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Empties `v` and gives its allocation back with a different lifetime parameter. The
/// in-place `collect` reuses the buffer (same element size and alignment), so the IoSlice
/// array of a warm builder allocates nothing.
#[allow(clippy::unnecessary_filter_map)] // `filter` cannot change the lifetime
fn recycle<'b>(mut v: Vec<IoSlice<'_>>) -> Vec<IoSlice<'b>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn clamp_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

//! Turns access units into self-contained fragmented MP4 files: where a file starts and ends,
//! where a fragment closes, and when bytes reach the disk.
//!
//! - A file starts at a keyframe (frames before the first keyframe are counted and skipped:
//!   nothing can decode them), with its own init segment.
//! - A fragment closes at each keyframe, after `fragment_ms`, or when it holds
//!   `max_fragment_bytes`: this bounds both the loss on a crash (one fragment) and how long
//!   we pin receive buffers.
//! - A new file starts at the first keyframe after `segment_secs`, when the parameter sets or
//!   the codec change (e.g. a resolution change: a new init segment), and after a timestamp
//!   discontinuity. H.264 tracks get an `avc1`/`avcC` sample entry, H.265 tracks `hvc1`/`hvcC`
//!   ([`push`](SegmentWriter::push), [`push_h265`](SegmentWriter::push_h265)).
//! - Sample times come from RTP timestamps, relative to the file's first frame (tfdt starts
//!   at 0 in every file); each fragment's `prft` carries the wall-clock of its first frame.
//!   RTP timestamps are presentation times. Decode times come from them as FFmpeg derives
//!   them: the reorder depth `d` of the stream (the H.264 VUI `max_num_reorder_frames`, the
//!   H.265 `sps_max_num_reorder_pics`) sizes a window of presentation times, and each sample's
//!   decode time is the smallest one in the window once its own is added, so the decode times
//!   are the sorted presentation times delayed by `d` frames (the first `d` extrapolated one
//!   frame interval apart). `trun` then carries signed composition offsets (pts − dts). A
//!   stream with `d = 0` keeps dts = pts, byte for byte what it was before. An H.264 SPS that
//!   does not state its depth starts at 0; the first reordered picture (a small step back)
//!   then ends the file, the depth becomes 2 (or more if needed) and the next keyframe starts a
//!   new file with reordered decode times. A step back to or behind the last decode time is a
//!   discontinuity, as is a step forward past `max_timestamp_jump` from the latest
//!   presentation time.
//! - Audio tracks ([`SegmentWriter::set_audio_tracks`]) ride along: each file has one `trak`
//!   per audio track after the video's, and each fragment one `traf` per track. The video
//!   decides where fragments and files are cut. An audio frame is placed by its time on the
//!   video's RTP clock ([`SegmentWriter::push_audio`]; the ingest maps each track's clock onto
//!   the video's): the first frame of a track in a file fixes that track's offset, and later
//!   frames follow their own RTP timestamps, so a lost packet leaves a hole and never shifts
//!   the audio after it. Audio from before the file's first frame cannot be placed (tfdt
//!   cannot be negative) and is dropped and counted: at a file cut that is the audio still
//!   in flight, tens of milliseconds.
//! - A failed write (disk full, I/O error) never leaves a torn fragment behind: the file is cut
//!   back to the end of its last complete fragment and closed (removed when it holds none),
//!   and the writer waits for the next keyframe to start a new file. [`SegmentWriter::set_paused`]
//!   lets the recorder drop frames while the disk is full without losing the stream state.
//! - The file being written carries a shared advisory lock ([`crate::filelock`]) for as long
//!   as it is open, so retention (`try_exclusive`) never deletes it, from any process, and the
//!   writer mark that tells an export the file is still growing.

use crate::filelock::FileHold;
use crate::fmp4::{AudioConfig, FragmentBuilder, VideoCodec, VideoConfig, write_av_init};
use crate::frame::{AccessUnit, ParameterSets};
use crate::h264::{AvcDecoderConfig, PicOrderCnt};
use crate::h265::HevcDecoderConfig;
use crate::rtp::audio::AudioFrame;
use crate::rtp::h265::H265ParameterSets;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::clock::ntp_to_system_time;

/// When data is forced to stable storage. A `kill -9` loses nothing that was written either
/// way (the page cache survives the process); fsync is about power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every fragment.
    Fragment,
    /// At most once per interval.
    Interval(Duration),
    /// Never (the OS writes back when it likes).
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    /// `fragment`, `never`, or `Ns` (e.g. `5s`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fragment" => Ok(FsyncPolicy::Fragment),
            "never" => Ok(FsyncPolicy::Never),
            _ => s
                .strip_suffix('s')
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(|n| FsyncPolicy::Interval(Duration::from_secs(n)))
                .ok_or_else(|| format!("bad fsync policy {s:?}: fragment, never or Ns")),
        }
    }
}

/// File and fragment boundaries.
#[derive(Clone, Debug)]
pub struct SegmentOptions {
    /// A new file starts at the first keyframe after this many seconds (default 60).
    pub segment_secs: u32,
    /// A fragment closes after this many milliseconds of media (default 1000).
    pub fragment_ms: u32,
    /// A fragment closes early when it holds this many payload bytes (default 16 MiB).
    pub max_fragment_bytes: usize,
    /// When to fsync.
    pub fsync: FsyncPolicy,
    /// A timestamp step larger than this (forward) or any step backward ends the file
    /// (default 10 s).
    pub max_timestamp_jump: Duration,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self {
            segment_secs: 60,
            fragment_ms: 1000,
            max_fragment_bytes: 16 << 20,
            fsync: FsyncPolicy::Fragment,
            max_timestamp_jump: Duration::from_secs(10),
        }
    }
}

/// Where files go.
#[derive(Clone, Debug)]
pub enum Naming {
    /// `<root>/<camera-id>/<YYYY-MM-DD>/<UTC start>.mp4` (the recorder's layout).
    CameraDir {
        /// Recording root.
        root: PathBuf,
        /// Camera id, already validated as a safe path component.
        camera_id: String,
    },
    /// One given path; a later file (parameter change) gets `-2`, `-3`, ... before `.mp4`.
    Fixed(PathBuf),
}

/// A file that was closed.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedSegment {
    /// Its path.
    pub path: PathBuf,
    /// Wall-clock NTP of its first frame.
    pub start_ntp: u64,
    /// Media duration in the stream's clock.
    pub duration_ticks: i64,
    /// Wall-clock NTP just past its last complete fragment, by that fragment's own time
    /// (its `prft`, what listings read). It can differ from `start_ntp` plus the duration
    /// when a sender report moved the clock inside the file (the first frames of a session
    /// are timed by arrival until the camera's first report).
    pub end_ntp: u64,
    /// Frames written.
    pub frames: u64,
    /// File size.
    pub bytes: u64,
}

/// Counters of a [`SegmentWriter`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentStats {
    /// Frames written to files.
    pub frames: u64,
    /// Bytes written to files (init segments included).
    pub bytes: u64,
    /// Fragments written.
    pub fragments: u64,
    /// Files opened.
    pub files: u64,
    /// Frames skipped while waiting for a keyframe.
    pub skipped_frames: u64,
    /// Parameter sets that could not be parsed.
    pub bad_parameter_sets: u64,
    /// Timestamp discontinuities that ended a file.
    pub discontinuities: u64,
    /// Writes that failed (each cut its file back to the last complete fragment).
    pub write_errors: u64,
    /// Frames dropped while paused ([`SegmentWriter::set_paused`]) or lost in a failed write.
    pub dropped_frames: u64,
    /// Audio frames written (all audio tracks).
    pub audio_frames: u64,
    /// Audio frames that could not be placed: no file open (before the first keyframe, while
    /// paused), from before the file's start, or repeating time already written.
    pub audio_dropped: u64,
}

/// Where one audio track stands in the open file.
#[derive(Clone, Copy, Debug, Default)]
struct AudioLane {
    /// RTP time (the track's clock) and file decode time of the track's first frame in the
    /// file: later frames are placed by their RTP time from here.
    base: Option<(i64, u64)>,
    /// Decode time just past the last frame placed.
    next: u64,
}

/// An audio track whose RTP time strays further than this from where the video clock puts
/// it (a camera that restarts its audio clock) is placed anew by the video clock.
const AUDIO_RESYNC_SECS: i64 = 1;

/// Frame interval in ticks from a frame rate `(num, den)` (frames per second = num / den),
/// else 25 fps.
fn frame_ticks(rate: Option<(u32, u32)>, clock_rate: u32) -> i64 {
    rate.filter(|&(n, d)| n > 0 && d > 0)
        .map(|(n, d)| i64::from(clock_rate) * i64::from(d) / i64::from(n))
        .filter(|&t| t > 0)
        .unwrap_or(i64::from(clock_rate) / 25)
        .max(1)
}

/// Decode times from presentation times (see the module docs).
#[derive(Debug, Default)]
struct DtsWindow {
    /// Reorder depth in frames (0: dts = pts).
    depth: usize,
    /// The depth came from the parameter sets (else it may grow when reordering shows up).
    stated: bool,
    /// Frame interval guess from the parameter sets (ticks), for the extrapolated start.
    frame_ticks: i64,
    /// Presentation times not yet used as a decode time, ascending (at most `depth`).
    pending: Vec<i64>,
    /// Last decode time handed out and the latest presentation time seen.
    last_dts: Option<i64>,
    max_pts: Option<i64>,
    /// Presentation time of the previous sample, and the smallest positive step seen between
    /// two consecutive ones (the frame interval; kept across files).
    prev_pts: Option<i64>,
    min_step: Option<i64>,
}

/// Largest reorder depth honoured (H.264 and H.265 both stop at 16 frames in the DPB).
const MAX_REORDER_DEPTH: usize = 16;

impl DtsWindow {
    fn reset(&mut self) {
        self.pending.clear();
        self.last_dts = None;
        self.max_pts = None;
        self.prev_pts = None;
    }

    /// Notes the presentation time of every frame that arrives, written or skipped.
    fn observe(&mut self, pts: i64) {
        if let Some(prev) = self.prev_pts
            && pts > prev
        {
            let step = pts - prev;
            self.min_step = Some(self.min_step.map_or(step, |m| m.min(step)));
        }
        self.prev_pts = Some(pts);
    }

    /// The decode time of the next sample in decode order, presented at `pts`.
    fn next(&mut self, pts: i64) -> i64 {
        let dts = if self.depth == 0 {
            pts
        } else {
            if self.last_dts.is_none() {
                let step = self.min_step.unwrap_or(self.frame_ticks).max(1);
                self.pending.clear();
                for k in (1..=self.depth as i64).rev() {
                    self.pending
                        .push(pts.saturating_sub(k.saturating_mul(step)));
                }
            }
            let at = self.pending.partition_point(|&p| p <= pts);
            self.pending.insert(at, pts);
            self.pending.remove(0)
        };
        // Decode times never go back or repeat, even if the stream reorders deeper than it
        // said (the composition offset then goes negative, which trun v1 carries).
        let dts = match self.last_dts {
            Some(last) if dts <= last => last + 1,
            _ => dts,
        };
        self.last_dts = Some(dts);
        self.max_pts = Some(self.max_pts.map_or(pts, |m| m.max(pts)));
        dts
    }
}

struct OpenFile {
    path: PathBuf,
    file: File,
    first_ts: i64,
    /// Decode time of the file's first frame (first_ts minus the reorder delay).
    first_dts: i64,
    start_ntp: u64,
    /// Frames pushed into this file (written or waiting in the builder).
    frames: u64,
    /// File length up to the end of the last complete fragment (or the init segment): what a
    /// failed write is cut back to.
    bytes: u64,
    /// Frames in complete fragments, and the RTP time just past them.
    durable_frames: u64,
    durable_end: i64,
    /// Wall-clock NTP just past the last complete fragment ([`ClosedSegment::end_ntp`]).
    durable_end_ntp: u64,
    last_fsync: Instant,
    /// Shared advisory lock held while the file is open: retention skips it.
    _hold: Option<FileHold>,
}

/// Writes access units into rotated fMP4 files.
pub struct SegmentWriter {
    naming: Naming,
    opts: SegmentOptions,
    clock_rate: u32,
    track: Option<VideoConfig>,
    params: Option<ParameterSets>,
    h265_params: Option<H265ParameterSets>,
    open: Option<OpenFile>,
    builder: FragmentBuilder,
    builder_first_ntp: u64,
    /// RTP time of the first frame in the builder.
    builder_first_ts: i64,
    /// Decode time of the last frame written to the open file.
    last_ts: Option<i64>,
    dts: DtsWindow,
    last_duration: i64,
    fixed_count: u32,
    stats: SegmentStats,
    init_buf: Vec<u8>,
    paused: bool,
    /// Reorder depth, whether stated, and frame interval of parameter sets just parsed,
    /// applied when they become the track's.
    next_reorder: Option<(usize, bool, i64)>,
    /// Files closed by a failed push (the error wins the return value; they are kept here).
    closed_on_error: Vec<ClosedSegment>,
    /// The audio tracks of the session (lane i has track ID 2 + i), and of the open file.
    audio: Vec<AudioConfig>,
    lanes: Vec<AudioLane>,
    /// Audio that came while no file was open (before the first keyframe of a session or
    /// after a cut): placed when the next file opens, if it falls inside it. Bounded by
    /// `MAX_PENDING_AUDIO`.
    pending_audio: std::collections::VecDeque<(usize, AudioFrame, i64)>,
}

/// Audio frames kept while no file is open: about 5 s of 20 ms G.711 packets or 6 s of 16 kHz
/// AAC; older ones are dropped (and counted) first.
const MAX_PENDING_AUDIO: usize = 256;

impl SegmentWriter {
    /// A writer for a stream with this RTP clock rate (90000 for H.264).
    pub fn new(naming: Naming, opts: SegmentOptions, clock_rate: u32) -> Self {
        Self {
            naming,
            opts,
            clock_rate: clock_rate.max(1),
            track: None,
            params: None,
            h265_params: None,
            open: None,
            builder: FragmentBuilder::new(),
            builder_first_ntp: 0,
            builder_first_ts: 0,
            last_ts: None,
            dts: DtsWindow::default(),
            last_duration: 0,
            fixed_count: 0,
            stats: SegmentStats::default(),
            init_buf: Vec::new(),
            paused: false,
            next_reorder: None,
            closed_on_error: Vec::new(),
            audio: Vec::new(),
            lanes: Vec::new(),
            pending_audio: std::collections::VecDeque::new(),
        }
    }

    /// The audio tracks to record beside the video, in lane order (lane i is the session's
    /// audio track i + 1, track ID 2 + i in the file). A change ends the open file (its
    /// moov no longer describes the tracks); the next keyframe starts a file with them.
    pub fn set_audio_tracks(&mut self, tracks: Vec<AudioConfig>) -> io::Result<Vec<ClosedSegment>> {
        if tracks == self.audio {
            return Ok(Vec::new());
        }
        let closed = self.finish()?;
        self.audio = tracks;
        self.stats.audio_dropped += self.pending_audio.len() as u64;
        self.pending_audio.clear();
        Ok(closed)
    }

    /// The audio tracks recorded (see [`set_audio_tracks`](Self::set_audio_tracks)).
    pub fn audio_tracks(&self) -> &[AudioConfig] {
        &self.audio
    }

    /// Adds one audio frame of lane `lane`. `video_ts` is the time of its first sample on the
    /// video's RTP clock (extended, like access unit timestamps): it places the track's first
    /// frame in each file; later frames follow their own RTP timestamps. The frame's pieces
    /// are moved into the fragment being built (no copy) and `frame` is left empty for reuse.
    /// Frames that cannot be placed (and those with no `video_ts`: no video clock yet) are
    /// dropped and counted in [`SegmentStats::audio_dropped`].
    pub fn push_audio(&mut self, lane: usize, frame: &mut AudioFrame, video_ts: Option<i64>) {
        if let Some(v) = video_ts
            && self.open.is_none()
            && !self.paused
            && lane < self.audio.len()
        {
            // The file this belongs in may open with the next keyframe.
            if self.pending_audio.len() >= MAX_PENDING_AUDIO {
                self.pending_audio.pop_front();
                self.stats.audio_dropped += 1;
            }
            self.pending_audio
                .push_back((lane, std::mem::take(frame), v));
            return;
        }
        let placed = video_ts.and_then(|v| self.place_audio(lane, frame, v));
        match placed {
            Some(t) => {
                self.builder.push_audio(lane, frame, t);
                self.stats.audio_frames += 1;
            }
            None => {
                frame.pieces.clear();
                self.stats.audio_dropped += 1;
            }
        }
    }

    /// The decode time of an audio frame in the open file, or `None` when it has no place.
    fn place_audio(&mut self, lane: usize, frame: &AudioFrame, video_ts: i64) -> Option<u64> {
        let open = self.open.as_ref().filter(|_| !self.paused)?;
        let rate = i64::from(self.audio.get(lane)?.timescale.max(1));
        let state = self.lanes.get_mut(lane)?;
        // Where the video clock puts it, in the track's ticks from the file's decode zero.
        let by_video = i128::from(video_ts.checked_sub(open.first_dts)?) * i128::from(rate)
            / i128::from(self.clock_rate);
        let by_video = i64::try_from(by_video).ok()?;
        let at = match state.base {
            Some((ts, t)) => {
                let by_rtp = i64::try_from(t).ok()?.checked_add(frame.timestamp - ts)?;
                if (by_rtp - by_video).abs() > AUDIO_RESYNC_SECS * rate {
                    log::warn!(
                        "audio track {} is {} ms off the video clock: placing it anew",
                        lane + 1,
                        (by_rtp - by_video) * 1000 / rate
                    );
                    // Never back over audio already written: that would drop every frame
                    // from here on.
                    by_video.max(i64::try_from(state.next).ok()?)
                } else {
                    by_rtp
                }
            }
            None => by_video,
        };
        let at = u64::try_from(at).ok()?;
        if state.base.is_some() && at < state.next {
            return None;
        }
        if state.base.is_none_or(|(ts, t)| {
            i64::try_from(t)
                .ok()
                .and_then(|t| t.checked_add(frame.timestamp - ts))
                != i64::try_from(at).ok()
        }) {
            state.base = Some((frame.timestamp, at));
        }
        state.next = at + u64::from(frame.samples);
        Some(at)
    }

    /// While paused, pushed frames are dropped (counted in `dropped_frames`); call
    /// [`finish`](Self::finish) first if a file is open. After resuming, the next keyframe
    /// starts a new file.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        if paused {
            self.stats.audio_dropped += self.pending_audio.len() as u64;
            self.pending_audio.clear();
        }
    }

    /// True while frames are being dropped.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Wall-clock NTP of the first frame of the file being written, if any.
    pub fn current_start_ntp(&self) -> Option<u64> {
        self.open.as_ref().map(|o| o.start_ntp)
    }

    /// Like [`current_start_ntp`](Self::current_start_ntp), but only once the file holds a
    /// complete fragment: a file that a failed write would remove again does not count.
    pub fn durable_start_ntp(&self) -> Option<u64> {
        self.open
            .as_ref()
            .filter(|o| o.durable_frames > 0)
            .map(|o| o.start_ntp)
    }

    /// Files that a failed [`push`](Self::push) or [`finish`](Self::finish) closed (cut back
    /// to their last complete fragment) since the last call.
    pub fn take_closed_on_error(&mut self) -> Vec<ClosedSegment> {
        std::mem::take(&mut self.closed_on_error)
    }

    /// Counters so far.
    pub fn stats(&self) -> &SegmentStats {
        &self.stats
    }

    /// The file being written, if any.
    pub fn current_path(&self) -> Option<&Path> {
        self.open.as_ref().map(|o| o.path.as_path())
    }

    /// The video track description in use (from the latest parameter sets).
    pub fn track(&self) -> Option<&VideoConfig> {
        self.track.as_ref()
    }

    /// Adds one access unit whose first byte arrived at wall-clock `wall_ntp`. Returns the
    /// files this closed. A written `au` is left empty (vectors kept) for recycling.
    ///
    /// On an I/O error the open file is cut back to its last complete fragment and closed
    /// (see [`take_closed_on_error`](Self::take_closed_on_error)), the waiting frames are
    /// dropped, and the next keyframe starts a new file: the writer is usable again at once.
    pub fn push(&mut self, au: &mut AccessUnit, wall_ntp: u64) -> io::Result<Vec<ClosedSegment>> {
        self.push_any(au, None, wall_ntp)
    }

    /// [`push`](Self::push) for an H.265 access unit: `params` are the VPS/SPS/PPS announced
    /// with it ([`crate::rtp::h265::H265Frame::new_parameters`]); a change starts a new file
    /// with a new `hvcC`.
    pub fn push_h265(
        &mut self,
        au: &mut AccessUnit,
        params: Option<&H265ParameterSets>,
        wall_ntp: u64,
    ) -> io::Result<Vec<ClosedSegment>> {
        if let Some(ps) = params
            && self.h265_params.as_ref() != Some(ps)
        {
            self.h265_params = Some(ps.clone());
            match HevcDecoderConfig::from_parameter_sets(&ps.vps, &ps.sps, &ps.pps)
                .and_then(|cfg| Ok((cfg.to_bytes()?, cfg)))
            {
                Ok((config, cfg)) => {
                    let sps = cfg.sps_info();
                    self.next_reorder = Some((
                        usize::from(sps.max_num_reorder_pics()),
                        true,
                        frame_ticks(sps.frame_rate(), self.clock_rate),
                    ));
                    let track = VideoConfig {
                        codec: VideoCodec::H265,
                        width: sps.width(),
                        height: sps.height(),
                        timescale: self.clock_rate,
                        config,
                    };
                    return self.push_any(au, Some(track), wall_ntp);
                }
                Err(e) => {
                    self.stats.bad_parameter_sets += 1;
                    log::warn!("unusable VPS/SPS/PPS, keeping the previous ones: {e}");
                }
            }
        }
        self.push_any(au, None, wall_ntp)
    }

    fn push_any(
        &mut self,
        au: &mut AccessUnit,
        new_track: Option<VideoConfig>,
        wall_ntp: u64,
    ) -> io::Result<Vec<ClosedSegment>> {
        let mut closed = Vec::new();
        if self.paused {
            self.stats.dropped_frames += 1;
            return Ok(closed);
        }
        match self.push_inner(au, new_track, wall_ntp, &mut closed) {
            Ok(()) => Ok(closed),
            Err(e) => {
                self.closed_on_error.append(&mut closed);
                self.abandon_file();
                Err(e)
            }
        }
    }

    fn push_inner(
        &mut self,
        au: &mut AccessUnit,
        mut new_track: Option<VideoConfig>,
        wall_ntp: u64,
        closed: &mut Vec<ClosedSegment>,
    ) -> io::Result<()> {
        if let Some(ps) = &au.new_parameters
            && self.params.as_ref() != Some(ps)
        {
            match AvcDecoderConfig::from_parameter_sets(&ps.sps, &ps.pps) {
                Ok(cfg) => {
                    let sps = cfg.sps_info();
                    let stated = sps.max_num_reorder_frames();
                    let no_reorder =
                        matches!(sps.pic_order_cnt, PicOrderCnt::Type2) || sps.profile_idc == 66;
                    self.next_reorder = Some((
                        stated.map_or(0, |d| d as usize),
                        stated.is_some() || no_reorder,
                        frame_ticks(
                            sps.vui
                                .as_ref()
                                .and_then(|v| v.timing)
                                .map(|t| (t.time_scale, t.num_units_in_tick.saturating_mul(2))),
                            self.clock_rate,
                        ),
                    ));
                    new_track = Some(VideoConfig {
                        codec: VideoCodec::H264,
                        width: sps.width(),
                        height: sps.height(),
                        timescale: self.clock_rate,
                        config: cfg.to_bytes(),
                    });
                    self.params = Some(ps.clone());
                }
                Err(e) => {
                    self.stats.bad_parameter_sets += 1;
                    log::warn!("unusable SPS/PPS, keeping the previous ones: {e}");
                }
            }
        }
        if let Some(track) = new_track
            && self
                .track
                .as_ref()
                .is_none_or(|t| t.codec != track.codec || t.config != track.config)
        {
            if self.track.is_some() {
                log::info!(
                    "parameter sets changed ({} {}x{}): starting a new file",
                    track.codec,
                    track.width,
                    track.height
                );
            }
            // The old file's last frame lasts until this one (in decode time when nothing
            // is reordered; a reordered stream repeats its last interval instead).
            let end = (self.dts.depth == 0).then_some(au.timestamp);
            closed.extend(self.close_file(end)?);
            self.track = Some(track);
            if let Some((depth, stated, frame)) = self.next_reorder.take() {
                self.dts.depth = depth.min(MAX_REORDER_DEPTH);
                self.dts.stated = stated;
                self.dts.frame_ticks = frame;
            }
            self.dts.reset();
        }
        self.next_reorder = None;

        // Timestamp discontinuity: end the file; the next keyframe starts a new one. Going
        // back is measured against the last decode time (a reordered picture is presented
        // before pictures decoded earlier, never before what was already decoded), going
        // forward against the latest presentation time; without reordering both are the last
        // timestamp.
        if let (Some(last), Some(_)) = (self.last_ts, &self.open) {
            let max =
                (self.opts.max_timestamp_jump.as_secs_f64() * f64::from(self.clock_rate)) as i64;
            let latest = self.dts.max_pts.unwrap_or(last).max(last);
            let back = au.timestamp <= last;
            let forward = au.timestamp - latest;
            if back || forward > max {
                let interval = if self.last_duration > 0 {
                    self.last_duration
                } else {
                    self.dts.frame_ticks.max(1)
                };
                // A small step back behind a frame not yet presented is a B-frame in a stream
                // whose SPS did not state its reorder depth: reorder from the next keyframe.
                // (A repeated timestamp is no B-frame.)
                let reordered = au.timestamp < last
                    && !self.dts.stated
                    && au.timestamp > last - interval * MAX_REORDER_DEPTH as i64;
                if reordered {
                    let need = self.dts.depth.max(1) * 2;
                    self.dts.depth = need.clamp(2, MAX_REORDER_DEPTH);
                    self.dts.stated = self.dts.depth >= MAX_REORDER_DEPTH;
                    log::warn!(
                        "pictures are reordered (B-frames) and the SPS does not say how deep: \
                         assuming {} frames from the next keyframe, ending the file",
                        self.dts.depth
                    );
                } else {
                    log::warn!(
                        "RTP timestamp jumped by {} ticks: ending the file",
                        if back { au.timestamp - last } else { forward }
                    );
                    self.stats.discontinuities += 1;
                }
                closed.extend(self.close_file(None)?);
            }
        }

        self.dts.observe(au.timestamp);
        if self.open.is_none() && (!au.keyframe || self.track.is_none()) {
            self.stats.skipped_frames += 1;
            return Ok(());
        }
        let dts = self.dts.next(au.timestamp);

        if let Some(open) = &self.open
            && au.keyframe
        {
            let elapsed = au.timestamp - open.first_ts;
            if elapsed >= i64::from(self.opts.segment_secs) * i64::from(self.clock_rate) {
                // The decode-time window runs on into the next file.
                let window = std::mem::take(&mut self.dts);
                let r = self.close_file(Some(dts));
                self.dts = window;
                closed.extend(r?);
            }
        }

        if self.open.is_none() {
            self.open_file(au.timestamp, dts, wall_ntp)?;
        }

        let file_first_ts = self.open.as_ref().map_or(au.timestamp, |o| o.first_ts);
        let fragment_age = self
            .builder
            .first_dts()
            .map_or(0, |first| dts - file_first_ts - first);
        let closes_fragment = !self.builder.is_empty()
            && (au.keyframe
                || fragment_age
                    >= i64::from(self.opts.fragment_ms) * i64::from(self.clock_rate) / 1000
                || self.builder.payload_bytes() + au.avc_len() > self.opts.max_fragment_bytes);
        if closes_fragment {
            self.flush_fragment(Some(dts))?;
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        if self.builder.is_empty() {
            self.builder_first_ntp = wall_ntp;
            self.builder_first_ts = au.timestamp;
        }
        if let Some(last) = self.last_ts {
            self.last_duration = dts - last;
        }
        self.last_ts = Some(dts);
        open.frames += 1;
        self.stats.frames += 1;
        self.builder
            .push(au, dts - open.first_ts, au.timestamp - open.first_ts);
        Ok(())
    }

    /// Writes the open fragment and closes the file (end of stream or shutdown). On error the
    /// file is cut back to its last complete fragment, as in [`push`](Self::push).
    pub fn finish(&mut self) -> io::Result<Vec<ClosedSegment>> {
        match self.close_file(None) {
            Ok(c) => Ok(c),
            Err(e) => {
                self.abandon_file();
                Err(e)
            }
        }
    }

    /// After a failed write: drop the waiting frames, cut the file back to the end of its last
    /// complete fragment (a partial `writev` may have left part of a fragment), and close it;
    /// a file without a complete fragment is removed. Nothing here may fail the caller again:
    /// problems are logged (the reader's torn-tail detection is the last line of defence).
    fn abandon_file(&mut self) {
        self.stats.write_errors += 1;
        // Frames count once written: the waiting ones never were.
        let lost = self.builder.len() as u64;
        self.stats.dropped_frames += lost;
        self.stats.frames = self.stats.frames.saturating_sub(lost);
        self.builder.clear();
        self.last_ts = None;
        self.dts.reset();
        let Some(open) = self.open.take() else {
            return;
        };
        let cut = open.file.set_len(open.bytes).and_then(|()| {
            if self.opts.fsync == FsyncPolicy::Never {
                Ok(())
            } else {
                open.file.sync_all()
            }
        });
        if let Err(e) = cut {
            log::error!(
                "cutting {} back to its last fragment after a failed write: {e}",
                open.path.display()
            );
        }
        if open.durable_frames == 0 {
            drop(open.file);
            if let Err(e) = std::fs::remove_file(&open.path) {
                log::error!(
                    "removing {} (no complete fragment): {e}",
                    open.path.display()
                );
            }
            return;
        }
        log::warn!(
            "closed {} after a failed write ({} frames kept)",
            open.path.display(),
            open.durable_frames
        );
        self.closed_on_error.push(ClosedSegment {
            duration_ticks: open.durable_end - open.first_dts,
            end_ntp: open.durable_end_ntp,
            path: open.path,
            start_ntp: open.start_ntp,
            frames: open.durable_frames,
            bytes: open.bytes,
        });
    }

    /// RTP time of the first frame of the fragment being built, if any.
    pub fn fragment_first_ts(&self) -> Option<i64> {
        (!self.builder.is_empty()).then_some(self.builder_first_ts)
    }

    /// Gives the fragment being built the wall clock `ntp` for its first frame (the camera's
    /// first sender report came after it was timed by arrival); a file with no complete
    /// fragment yet starts there too. Its name stays as it was created.
    pub fn retime_fragment(&mut self, ntp: u64) {
        if self.builder.is_empty() {
            return;
        }
        self.builder_first_ntp = ntp;
        if let Some(open) = self.open.as_mut()
            && open.durable_frames == 0
        {
            open.start_ntp = ntp;
            open.durable_end_ntp = ntp;
        }
    }

    fn flush_fragment(&mut self, next_ts: Option<i64>) -> io::Result<()> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        if self.builder.is_empty() {
            return Ok(());
        }
        let next_dts = next_ts
            .or_else(|| self.last_ts.map(|t| t + self.last_duration))
            .map(|t| t - open.first_ts);
        let n = self
            .builder
            .write_to(&mut open.file, next_dts, Some(self.builder_first_ntp))?;
        let sync = match self.opts.fsync {
            FsyncPolicy::Fragment => true,
            FsyncPolicy::Interval(d) => open.last_fsync.elapsed() >= d,
            FsyncPolicy::Never => false,
        };
        if sync {
            // A failed fsync (ENOSPC on delayed allocation) counts as a failed write: the
            // caller cuts the file back to before this fragment.
            open.file.sync_data()?;
            open.last_fsync = Instant::now();
        }
        // Only now is the fragment complete on disk as far as we can tell.
        open.bytes += n;
        open.durable_frames = open.frames;
        if let Some(d) = next_dts {
            open.durable_end = d + open.first_ts;
            // Presentation runs the reorder delay behind decode.
            let delay = open.first_ts - open.first_dts;
            let ticks =
                u64::try_from(open.durable_end + delay - self.builder_first_ts).unwrap_or(0);
            open.durable_end_ntp = self
                .builder_first_ntp
                .saturating_add(super::recovery::ticks_to_ntp(ticks, self.clock_rate));
        }
        self.stats.bytes += n;
        self.stats.fragments += 1;
        Ok(())
    }

    fn close_file(&mut self, next_ts: Option<i64>) -> io::Result<Vec<ClosedSegment>> {
        self.flush_fragment(next_ts)?;
        let Some(open) = self.open.take() else {
            return Ok(Vec::new());
        };
        let end = next_ts.or_else(|| self.last_ts.map(|t| t + self.last_duration));
        self.last_ts = None;
        self.dts.reset();
        if self.opts.fsync != FsyncPolicy::Never
            && let Err(e) = open.file.sync_all()
        {
            // Every fragment was written; report the file with the error.
            self.closed_on_error.push(ClosedSegment {
                duration_ticks: end.map_or(0, |e| e - open.first_dts),
                end_ntp: open.durable_end_ntp,
                path: open.path,
                start_ntp: open.start_ntp,
                frames: open.frames,
                bytes: open.bytes,
            });
            return Err(e);
        }
        let seg = ClosedSegment {
            duration_ticks: end.map_or(0, |e| e - open.first_dts),
            end_ntp: open.durable_end_ntp,
            path: open.path,
            start_ntp: open.start_ntp,
            frames: open.frames,
            bytes: open.bytes,
        };
        log::info!(
            "closed {} ({} frames, {} bytes)",
            seg.path.display(),
            seg.frames,
            seg.bytes
        );
        Ok(vec![seg])
    }

    fn open_file(&mut self, first_ts: i64, first_dts: i64, start_ntp: u64) -> io::Result<()> {
        if self.track.is_none() {
            return Ok(());
        }
        let path = self.next_path(start_ntp)?;
        let dir = path.parent().map(Path::to_path_buf);
        if let Some(d) = &dir {
            std::fs::create_dir_all(d)?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Taken before the first byte: retention never sees this file unlocked for long.
        let hold = match FileHold::writer(&path) {
            Ok(h) => Some(h),
            Err(e) => {
                log::warn!("cannot lock {}: {e}", path.display());
                None
            }
        };
        self.init_buf.clear();
        if let Some(track) = &self.track {
            write_av_init(track, &self.audio, &mut self.init_buf);
        }
        let written = file.write_all(&self.init_buf).and_then(|()| {
            if self.opts.fsync != FsyncPolicy::Never {
                file.sync_all()?;
                // The new directory entry must survive a power cut too.
                if let Some(d) = &dir {
                    File::open(d)?.sync_all()?;
                }
            }
            Ok(())
        });
        if let Err(e) = written {
            // A half-written init segment is no file at all.
            drop(file);
            drop(hold);
            if let Err(rm) = std::fs::remove_file(&path) {
                log::error!("removing {} after a failed create: {rm}", path.display());
            }
            return Err(e);
        }
        let bytes = self.init_buf.len() as u64;
        self.stats.bytes += bytes;
        self.stats.files += 1;
        // last_duration is kept: it is the frame interval, the best guess for a file's
        // last frame when no next frame comes.
        self.builder = FragmentBuilder::new();
        self.builder.set_audio_tracks(self.audio.len());
        self.lanes = vec![AudioLane::default(); self.audio.len()];
        log::info!("recording to {}", path.display());
        self.open = Some(OpenFile {
            path,
            file,
            first_ts,
            first_dts,
            start_ntp,
            frames: 0,
            bytes,
            durable_frames: 0,
            durable_end: first_dts,
            durable_end_ntp: start_ntp,
            last_fsync: Instant::now(),
            _hold: hold,
        });
        // Audio that came before this file's first frame arrived: what falls inside the file
        // is placed (sorted per track by arrival, which is their RTP order), the rest dropped.
        let pending = std::mem::take(&mut self.pending_audio);
        for (lane, mut frame, video_ts) in pending {
            self.push_audio(lane, &mut frame, Some(video_ts));
        }
        Ok(())
    }

    fn next_path(&mut self, start_ntp: u64) -> io::Result<PathBuf> {
        match &self.naming {
            Naming::Fixed(p) => {
                self.fixed_count += 1;
                if self.fixed_count == 1 {
                    return Ok(p.clone());
                }
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
                Ok(p.with_file_name(format!("{stem}-{}.mp4", self.fixed_count)))
            }
            Naming::CameraDir { root, camera_id } => {
                let t = jiff::Timestamp::try_from(ntp_to_system_time(start_ntp))
                    .map_err(|e| io::Error::other(e.to_string()))?;
                let day = t.strftime("%Y-%m-%d").to_string();
                let base = t.strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
                let dir = root.join(camera_id).join(day);
                // Two files in the same millisecond (parameter change right at a keyframe).
                let mut path = dir.join(format!("{base}.mp4"));
                let mut n = 1;
                while path.exists() {
                    n += 1;
                    path = dir.join(format!("{base}-{n}.mp4"));
                }
                Ok(path)
            }
        }
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        if self.open.is_some()
            && let Err(e) = self.finish()
        {
            log::error!("closing recording on drop: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::NalRef;
    use crate::h265::tests::{DAHUA_PPS, DAHUA_SPS, DAHUA_VPS};
    use bytes::Bytes;

    /// The sim clip's SPS and PPS (640x360 Main).
    const SPS264: &str = "674d401ed900a02ff97011000003000100000300320f162e48";
    const PPS264: &str = "68ebccb2";

    fn hex(s: &str) -> Bytes {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect::<Vec<u8>>()
            .into()
    }

    fn keyframe(ts: i64, slice: &[u8]) -> AccessUnit {
        AccessUnit {
            timestamp: ts,
            nals: vec![NalRef {
                header: slice[0],
                len: slice.len() as u32,
                pieces: 0..1,
            }],
            pieces: vec![Bytes::copy_from_slice(slice)],
            keyframe: true,
            ..AccessUnit::default()
        }
    }

    /// A codec change (H.264 to H.265) and an H.265 parameter-set change each start a new
    /// file with its own sample entry; the same parameter sets announced again do not.
    #[test]
    fn codec_and_parameter_changes_start_new_files() {
        let dir = std::env::temp_dir().join(format!("camwire-seg-codec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut w = SegmentWriter::new(
            Naming::Fixed(dir.join("rec.mp4")),
            SegmentOptions {
                fsync: FsyncPolicy::Never,
                ..SegmentOptions::default()
            },
            90_000,
        );
        let ntp = 3_900_000_000u64 << 32;
        let mut closed = Vec::new();
        let mut au = keyframe(0, b"\x65\x88\x84");
        au.new_parameters = Some(ParameterSets {
            sps: hex(SPS264),
            pps: hex(PPS264),
        });
        closed.extend(w.push(&mut au, ntp).expect("push"));
        assert_eq!(w.track().map(|t| t.codec), Some(VideoCodec::H264));

        let hevc = H265ParameterSets {
            vps: Bytes::from_static(DAHUA_VPS),
            sps: Bytes::from_static(DAHUA_SPS),
            pps: Bytes::from_static(DAHUA_PPS),
        };
        let idr = [19 << 1, 1, 0x80, 0x11];
        for i in 1..4 {
            let mut au = keyframe(i * 3600, &idr);
            closed.extend(w.push_h265(&mut au, Some(&hevc), ntp).expect("push"));
        }
        assert_eq!(closed.len(), 1, "the codec change closed the H.264 file");
        assert_eq!(w.track().map(|t| t.codec), Some(VideoCodec::H265));

        // A changed PPS (another init_qp): a new hvcC, a new file.
        let mut pps = DAHUA_PPS.to_vec();
        pps[3] ^= 0x01;
        let changed = H265ParameterSets {
            pps: Bytes::from(pps),
            ..hevc.clone()
        };
        let mut au = keyframe(4 * 3600, &idr);
        closed.extend(w.push_h265(&mut au, Some(&changed), ntp).expect("push"));
        closed.extend(w.finish().expect("finish"));
        assert_eq!(closed.len(), 3, "{closed:?}");
        assert_eq!(
            closed.iter().map(|c| c.frames).collect::<Vec<_>>(),
            [1, 3, 1]
        );
        let codecs: Vec<VideoConfig> = closed
            .iter()
            .map(|c| crate::fmp4::read_init(&mut File::open(&c.path).expect("open")).expect("init"))
            .collect();
        assert_eq!(codecs[0].codec, VideoCodec::H264);
        assert_eq!(codecs[1].codec, VideoCodec::H265);
        assert_eq!(codecs[2].codec, VideoCodec::H265);
        assert_ne!(codecs[1].config, codecs[2].config);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Decode order I P B B P B B ... (x264 `-bf 2` without pyramid) in presentation ticks.
    fn reordered_pts(gops: i64, gop: i64) -> Vec<(i64, bool)> {
        let mut out = Vec::new();
        for g in 0..gops {
            let base = g * gop;
            out.push((base, true));
            let mut anchor = 0;
            while anchor + 3 < gop {
                out.push((base + anchor + 3, false));
                out.push((base + anchor + 1, false));
                out.push((base + anchor + 2, false));
                anchor += 3;
            }
            for f in anchor + 1..gop {
                out.push((base + f, false));
            }
        }
        out.into_iter().map(|(f, k)| (f * 3600, k)).collect()
    }

    /// Closed files, each file's samples as (decode time, composition offset), and counters.
    type Recorded = (Vec<ClosedSegment>, Vec<Vec<(u64, i64)>>, SegmentStats);

    /// Records `frames` (pts, keyframe) with the given SPS; returns the closed files and every
    /// sample read back (decode time, composition offset) per file.
    fn record(name: &str, sps: &str, frames: &[(i64, bool)]) -> Recorded {
        let dir = std::env::temp_dir().join(format!("camwire-seg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut w = SegmentWriter::new(
            Naming::Fixed(dir.join("rec.mp4")),
            SegmentOptions {
                fsync: FsyncPolicy::Never,
                ..SegmentOptions::default()
            },
            90_000,
        );
        let ntp = 3_900_000_000u64 << 32;
        let mut closed = Vec::new();
        for (i, &(pts, key)) in frames.iter().enumerate() {
            let mut au = keyframe(
                pts,
                if key {
                    b"\x65\x88\x84"
                } else {
                    b"\x41\x9a\x02"
                },
            );
            au.keyframe = key;
            if i == 0 {
                au.new_parameters = Some(ParameterSets {
                    sps: hex(sps),
                    pps: hex(PPS264),
                });
            }
            closed.extend(w.push(&mut au, ntp).expect("push"));
        }
        closed.extend(w.finish().expect("finish"));
        let stats = w.stats().clone();
        let samples = closed
            .iter()
            .map(|c| {
                let mut f = File::open(&c.path).expect("open");
                let scan = crate::fmp4::scan_fragments(&mut f).expect("scan");
                let mut v = Vec::new();
                for frag in &scan.fragments {
                    for s in crate::fmp4::read_fragment_samples(&mut f, frag, &scan.defaults)
                        .expect("samples")
                    {
                        v.push((s.decode_time, s.composition_offset));
                    }
                }
                v
            })
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        (closed, samples, stats)
    }

    /// x264 High 1080p SPS stating max_num_reorder_frames = 2.
    const SPS_HIGH_REORDER2: &str = "67640028acd940780227e5c044000003000400000300c83c60c658";

    /// A reordered stream (the SPS states 2 frames) is one file: decode times go up by one
    /// frame interval from 0, each presentation time is decode time plus a non-negative
    /// offset, and the presentation times are exactly the source's (shifted by the delay).
    #[test]
    fn reordered_stream_gets_monotonic_dts_and_offsets() {
        let frames = reordered_pts(3, 25);
        let (closed, samples, stats) = record("bframes", SPS_HIGH_REORDER2, &frames);
        assert_eq!(closed.len(), 1, "{closed:?}");
        assert_eq!(stats.discontinuities, 0);
        assert_eq!(closed[0].frames, 75);
        let s = &samples[0];
        assert_eq!(s.len(), 75);
        for (i, &(dts, _)) in s.iter().enumerate() {
            assert_eq!(dts, i as u64 * 3600, "sample {i}");
        }
        // Delay of two frames: pts on the file timeline = source pts + 7200.
        for (i, (&(dts, cto), &(pts, _))) in s.iter().zip(&frames).enumerate() {
            assert!(cto >= 0, "sample {i}: {cto}");
            assert_eq!(dts as i64 + cto, pts + 7200, "sample {i}");
        }
        assert_eq!(
            s[0].1, 7200,
            "the keyframe shows two frames after it is decoded"
        );
        assert_eq!(s[1].1, 3 * 3600 + 7200 - 3600, "P three frames ahead");
        assert_eq!(closed[0].duration_ticks, 75 * 3600);
    }

    /// Without reordering, decode time is presentation time and every offset is 0, as before.
    #[test]
    fn in_order_stream_keeps_dts_equal_pts() {
        let frames: Vec<(i64, bool)> = (0..50).map(|i| (i * 3600, i % 25 == 0)).collect();
        let (closed, samples, _) = record("inorder", SPS264, &frames);
        assert_eq!(closed.len(), 1);
        for (i, &(dts, cto)) in samples[0].iter().enumerate() {
            assert_eq!((dts, cto), (i as u64 * 3600, 0));
        }
    }

    /// A real backward jump still ends the file in a reordered stream.
    #[test]
    fn reordered_stream_still_detects_a_jump_back() {
        let mut frames = reordered_pts(1, 25);
        frames.extend(
            reordered_pts(1, 25)
                .into_iter()
                .map(|(t, k)| (t - 900_000, k)),
        );
        let (closed, samples, stats) = record("bframes-jump", SPS_HIGH_REORDER2, &frames);
        assert_eq!(stats.discontinuities, 1);
        assert_eq!(closed.len(), 2);
        assert_eq!(samples.iter().map(Vec::len).collect::<Vec<_>>(), [25, 25]);
    }

    /// An SPS that does not state its reorder depth (Main, no bitstream restriction): the
    /// first B-frame ends the file; from the next keyframe decode times are reordered.
    #[test]
    fn unstated_depth_learns_reordering_at_the_next_keyframe() {
        let sps = crate::h264::testdata::sps_without_vui();
        let frames = reordered_pts(3, 25);
        let (closed, samples, stats) = record("bframes-unstated", &sps, &frames);
        assert_eq!(stats.discontinuities, 0);
        assert_eq!(closed.len(), 2, "{closed:?}");
        // The first file ends before the first B-frame (I and P only).
        assert_eq!(samples[0].len(), 2);
        assert_eq!(samples[1].len(), 50);
        for (i, &(dts, cto)) in samples[1].iter().enumerate() {
            assert_eq!(dts, i as u64 * 3600, "sample {i}");
            assert!(cto >= 0);
        }
    }
}

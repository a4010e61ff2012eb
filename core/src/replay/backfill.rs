//! Back-fill: T1..T2 of a device's recording written as ordinary recorder segments under a
//! recording root (`<root>/<camera>/<date>/<UTC start>.mp4`, by the recorder's own
//! [`SegmentWriter`]), so that `ls`, `export` and `verify` see it like recorded footage.
//!
//! H.264 and H.265 alike (the first such video stream of the replay; H.265 files are `hvc1`
//! with `hvcC`, as the recorder writes them); a parameter-set change starts a new file, as
//! in recording.
//!
//! Audio: the tracks [`FetchOptions::audio`] asks for go into the segments beside the
//! video, as the recorder writes them; each frame is placed on the video's RTP clock by its
//! wall clock (see `super::audio` for where that comes from) and cut to T1..T2.
//!
//! Frames start at the last keyframe at or before T1 that the device sends (at most
//! [`MAX_BACKFILL_PREROLL`] before it; frames from it are held until T1 is reached, and a
//! later keyframe still before T1 replaces them), and stop before T2; each is stamped with its 0xABAC
//! wall clock as the fragment's `prft`. Starting at T1's own keyframe, not the first one
//! after T1, is what fills the whole gap: the frames between the gap's start and the next
//! keyframe depend on the one before it. The back-fill then overlaps the end of the file
//! before the gap by less than a GOP, and export takes the back-fill from its first frame on
//! (see `export::clip`, `superseded_from`), so a clip neither repeats nor misses that stretch. The span written is appended to the
//! camera's `gaps.jsonl` with reason `backfilled from device`, as the record of what filled
//! the hole.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::audio::{AudioIn, AudioPlacer, Placed};
use super::extension::FLAG_T;
use super::fetch::{
    AuInfo, FetchOptions, FrameParams, ReplayError, Sink, StreamParams, Timing, connect, play_into,
};
use crate::export::{ExportError, Nanos, nanos_to_ntp, nanos_to_system, nanos_to_ticks};
use crate::frame::AccessUnit;
use crate::record::segment::{Naming, SegmentOptions, SegmentWriter};
use crate::record::{ClosedSegment, Gap, gaps_log};

/// Longest stretch before T1 a back-fill starts at: the keyframe the device starts from when
/// it is no older than this, else the first keyframe after that (a device that starts its
/// replay far too early).
pub const MAX_BACKFILL_PREROLL: Duration = Duration::from_secs(10);

/// The `gaps.jsonl` reason of a back-filled span.
pub const BACKFILL_REASON: &str = "backfilled from device";

/// What a back-fill wrote.
#[derive(Clone, Debug)]
pub struct BackfillSummary {
    /// The segment files written, in order.
    pub files: Vec<ClosedSegment>,
    /// Frames written.
    pub frames: u64,
    /// Audio frames written (all audio tracks).
    pub audio_frames: u64,
    /// Wall clock of the first frame written.
    pub first: SystemTime,
    /// Wall clock of the last frame written.
    pub last: SystemTime,
    /// `Rate-Control` in effect (false: as fast as possible).
    pub rate_control: bool,
    /// The device's answer when it refused `Rate-Control: no`.
    pub rate_control_refused: Option<String>,
    /// Why the download stopped.
    pub ended_by: String,
    /// Wall time of the download.
    pub wall: Duration,
}

/// Fetches `[start, end)` of the recording behind the replay URI `url` and writes it as
/// recorder segments of `camera` under `root`.
pub async fn backfill(
    url: &str,
    start: SystemTime,
    end: SystemTime,
    root: &Path,
    camera: &str,
    opts: &FetchOptions,
) -> Result<BackfillSummary, ReplayError> {
    let began = Instant::now();
    crate::export::check_camera_id(camera)?;
    let (_, mut client, t1, t2) = connect(url, start, end, opts).await?;
    let cam_dir = root.join(camera);
    let played = play_into(&mut client, t1, t2, opts, |session| {
        let clock_rate = session.clock_rate;
        let mut writer = SegmentWriter::new(
            Naming::CameraDir {
                root: root.to_path_buf(),
                camera_id: camera.to_string(),
            },
            SegmentOptions::default(),
            clock_rate,
        );
        let configs: Vec<_> = session.audio.iter().map(|a| a.config.clone()).collect();
        // No file is open yet: nothing is closed.
        writer
            .set_audio_tracks(configs)
            .map_err(|e| ReplayError::Output(ExportError::io(&cam_dir, e)))?;
        Ok(Backfill {
            t1,
            t2,
            clock_rate,
            timing: Timing::new(t1, session),
            placer: AudioPlacer::new(&session.audio, clock_rate, session.video_rtptime),
            audio_reached: vec![None; session.audio.len()],
            video_ref: None,
            writer,
            dir: cam_dir.clone(),
            started: false,
            held: Vec::new(),
            held_bytes: 0,
            done: false,
            frames: 0,
            first: 0,
            last: 0,
            closed: Vec::new(),
        })
    })
    .await;
    client.teardown().await;
    let mut p = played?;
    let io = |e| ReplayError::Output(ExportError::io(&cam_dir, e));
    let more = p.sink.writer.finish().map_err(io)?;
    p.sink.closed.extend(more);
    let audio_frames = p.sink.writer.stats().audio_frames;
    let b = p.sink;
    if b.frames == 0 {
        return Err(ReplayError::NoRecording {
            start: crate::export::rfc3339(start),
            end: crate::export::rfc3339(end),
            detail: format!("no keyframe between them ({})", p.ended_by),
        });
    }
    gaps_log::append(
        &b.dir,
        &Gap {
            start: nanos_to_system(b.first),
            end: nanos_to_system(b.last),
            reason: BACKFILL_REASON.to_string(),
        },
    )
    .map_err(io)?;
    Ok(BackfillSummary {
        files: b.closed,
        frames: b.frames,
        audio_frames,
        first: nanos_to_system(b.first),
        last: nanos_to_system(b.last),
        rate_control: p.rate_control,
        rate_control_refused: p.refused,
        ended_by: p.ended_by,
        wall: began.elapsed(),
    })
}

/// Most bytes of pre-roll held before T1 (a GOP); beyond it the back-fill starts at the
/// first keyframe after T1, as it did before pre-roll.
const MAX_HELD_BYTES: usize = 64 << 20;

/// An access unit held before T1 with the parameter sets it came with.
struct Held {
    au: AccessUnit,
    wall: Nanos,
    announced: Option<StreamParams>,
    current: Option<StreamParams>,
}

/// Access units into recorder segments.
struct Backfill {
    t1: Nanos,
    t2: Nanos,
    clock_rate: u32,
    timing: Timing,
    placer: AudioPlacer,
    /// Per audio lane: the end of its latest frame, once one came.
    audio_reached: Vec<Option<Nanos>>,
    /// Wall clock and RTP time of the latest video frame: audio goes onto the video's RTP
    /// clock through it.
    video_ref: Option<(Nanos, i64)>,
    writer: SegmentWriter,
    dir: PathBuf,
    started: bool,
    /// Frames from the latest keyframe at or before T1, until T1 is reached.
    held: Vec<Held>,
    held_bytes: usize,
    done: bool,
    frames: u64,
    first: Nanos,
    last: Nanos,
    closed: Vec<ClosedSegment>,
}

impl Backfill {
    /// Hands every audio frame that can be placed now to the writer, on the video's clock.
    fn drain_audio(&mut self) {
        while let Some(Placed {
            lane,
            mut frame,
            wall,
        }) = self.placer.pop()
        {
            let rate = self
                .writer
                .audio_tracks()
                .get(lane)
                .map_or(1, |c| c.timescale);
            if let Some(r) = self.audio_reached.get_mut(lane) {
                *r = Some(wall.saturating_add(crate::export::ticks_to_nanos(
                    i64::from(frame.samples),
                    rate,
                )));
            }
            if wall >= self.t2 {
                continue;
            }
            let video_ts = self
                .video_ref
                .map(|(vw, vts)| vts + nanos_to_ticks(wall - vw, self.clock_rate));
            // Frames before the first file's start are dropped by the writer.
            self.writer.push_audio(lane, &mut frame, video_ts);
        }
    }

    fn take_video(
        &mut self,
        au: &mut AccessUnit,
        info: AuInfo,
        params: FrameParams<'_>,
    ) -> Result<Option<String>, ReplayError> {
        if self.done {
            return Ok(Some("done".into()));
        }
        let wall = self.timing.wall_of(au, &info);
        self.placer.on_video(wall, au.timestamp, info.arrival);
        self.video_ref = Some((wall, au.timestamp));
        if wall >= self.t2 {
            self.done = true;
            return Ok(Some("end time reached".into()));
        }
        let terminal = info.flags & FLAG_T != 0;
        let ended = |t: bool| Ok(t.then(|| "terminal flag (T)".to_string()));
        if !self.started {
            let preroll = i64::try_from(MAX_BACKFILL_PREROLL.as_nanos()).unwrap_or(i64::MAX);
            let fresh_keyframe = au.keyframe && wall >= self.t1.saturating_sub(preroll);
            if wall <= self.t1 {
                // Before T1: hold from the latest keyframe (a later one replaces the GOP).
                if fresh_keyframe {
                    self.held.clear();
                    self.held_bytes = 0;
                }
                if !self.held.is_empty() || fresh_keyframe {
                    self.held_bytes += au.avc_len();
                    if self.held_bytes > MAX_HELD_BYTES {
                        self.held.clear();
                        self.held_bytes = 0;
                    } else {
                        self.held.push(Held {
                            au: std::mem::take(au),
                            wall,
                            announced: params.announced.cloned(),
                            current: params.current.cloned(),
                        });
                    }
                }
                return ended(terminal);
            }
            if self.held.is_empty() && !au.keyframe {
                return ended(terminal);
            }
            self.started = true;
            let held = std::mem::take(&mut self.held);
            self.held_bytes = 0;
            self.first = held.first().map_or(wall, |h| h.wall);
            let mut first = true;
            for mut h in held {
                self.write(
                    &mut h.au,
                    h.wall,
                    h.announced.as_ref(),
                    h.current.as_ref(),
                    first,
                )?;
                first = false;
            }
            self.write(au, wall, params.announced, params.current, first)?;
        } else {
            self.write(au, wall, params.announced, params.current, false)?;
        }
        if terminal {
            self.done = true;
            return Ok(Some("terminal flag (T)".into()));
        }
        Ok(None)
    }

    /// Writes one access unit; the first of the back-fill opens the writer's first file with
    /// the parameter sets in use (the depacketizer may have announced them with a frame
    /// before the held keyframe).
    fn write<'a>(
        &mut self,
        au: &mut AccessUnit,
        wall: Nanos,
        mut announced: Option<&'a StreamParams>,
        current: Option<&'a StreamParams>,
        first: bool,
    ) -> Result<(), ReplayError> {
        if first {
            match current {
                Some(StreamParams::H264(ps)) if au.new_parameters.is_none() => {
                    au.new_parameters = Some(ps.clone());
                }
                Some(c @ StreamParams::H265(_)) if announced.is_none() => {
                    announced = Some(c);
                }
                _ => {}
            }
        }
        let ntp = nanos_to_ntp(wall);
        let closed = match (announced, current) {
            (Some(StreamParams::H265(ps)), _) => self.writer.push_h265(au, Some(ps), ntp),
            (_, Some(StreamParams::H265(_))) => self.writer.push_h265(au, None, ntp),
            // H.264: the writer reads the parameter sets from `au.new_parameters`.
            _ => self.writer.push(au, ntp),
        }
        .map_err(|e| ReplayError::Output(ExportError::io(&self.dir, e)))?;
        self.closed.extend(closed);
        self.frames += 1;
        self.last = wall;
        Ok(())
    }
}

impl Sink for Backfill {
    fn take(
        &mut self,
        au: &mut AccessUnit,
        info: AuInfo,
        params: FrameParams<'_>,
    ) -> Result<Option<String>, ReplayError> {
        let r = self.take_video(au, info, params);
        self.drain_audio();
        r
    }

    fn done(&self) -> bool {
        self.done
    }

    fn take_audio(&mut self, a: AudioIn) -> Result<(), ReplayError> {
        self.placer.push(a);
        self.drain_audio();
        Ok(())
    }

    fn audio_wanted(&self) -> bool {
        self.frames > 0
            && self
                .audio_reached
                .iter()
                .any(|r| r.is_some_and(|end| end < self.last.min(self.t2)))
    }
}
